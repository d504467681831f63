/*
 * h_report.c — report_unread: "unread over N" for a manager's team and the
 * conversations they own, or the whole organisation for an admin. Storage
 * decides the scope, counts the time through herald_unread_seconds() (the
 * one place the quiet-hours work replaces with business time) and writes
 * the audit row of every run, refused ones included.
 */
#include "dbpool_int.h"
#include "dispatch_int.h"
#include "server_int.h"
#include "session_int.h"

#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows sent when the request names no limit; totals are always complete. */
#define REPORT_ROWS_DEFAULT 1000

struct report_job {
  struct srv_dbjob job;
  struct srv_session *s;
  uint64_t req;
  struct store_report_query q;
  char dept[129];
  struct store_report rep;
  char why[160];                 /* storage's message for a refusal */
};

static void report_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct report_job *rj = (struct report_job *)job;

  if (!conn) {
    job->rc = STORE_EUNAVAIL;
    return;
  }
  /* Bots are refused by storage rather than by the dispatcher, so that
   * their attempts are audited like every other refused run. */
  job->rc = rj->s->bot_id
                ? store_report_unread_bot(conn, rj->s->bot_id, &rj->q)
                : store_report_unread(conn, rj->s->uid, &rj->q, &rj->rep);
  if (job->rc == STORE_EFORBIDDEN || job->rc == STORE_ENOTFOUND)
    snprintf(rj->why, sizeof(rj->why), "%s", store_errmsg(conn));
}

static void reply(struct srv_session *s, struct report_job *rj)
{
  const struct store_report *r = &rj->rep;
  struct proto_report_row *rows = calloc(r->n_rows + 1, sizeof(*rows));
  struct proto_report_user *users = calloc(r->n_users + 1, sizeof(*users));
  struct proto_report_dept *depts = calloc(r->n_depts + 1, sizeof(*depts));
  struct proto_frame f;

  if (!rows || !users || !depts) {
    srv_reply_error(s, rj->req, PROTO_E_NOMEM, NULL, NULL);
    goto out;
  }
  for (size_t i = 0; i < r->n_rows; i++)
    rows[i] = (struct proto_report_row){
      (uint64_t)r->rows[i].user_id, (uint64_t)r->rows[i].conversation_id,
      (uint64_t)r->rows[i].seq, (uint64_t)r->rows[i].sender_id,
      (uint64_t)r->rows[i].sent_at_ms, (uint64_t)r->rows[i].unread_s,
      r->rows[i].ding, r->rows[i].acked};
  for (size_t i = 0; i < r->n_users; i++) {
    const struct store_report_user *u = &r->users[i];
    users[i] = (struct proto_report_user){
      (uint64_t)u->user_id, {u->display_name, strlen(u->display_name)},
      {u->department, strlen(u->department)}, (uint64_t)u->unread,
      (uint64_t)u->dings};
  }
  for (size_t i = 0; i < r->n_depts; i++)
    depts[i] = (struct proto_report_dept){
      {r->depts[i].department, strlen(r->depts[i].department)},
      (uint64_t)r->depts[i].unread, (uint64_t)r->depts[i].dings};
  proto_frame_init(&f, PROTO_T_REPORT_RESULT);
  f.id = rj->req;
  f.u.report_result.older = (uint64_t)r->older_than_s;
  f.u.report_result.now = (uint64_t)r->now_ms;
  f.u.report_result.rows = rows;
  f.u.report_result.nrows = r->n_rows;
  f.u.report_result.users = users;
  f.u.report_result.nusers = r->n_users;
  f.u.report_result.depts = depts;
  f.u.report_result.ndepts = r->n_depts;
  f.u.report_result.truncated = r->truncated;
  srv_session_send(s, &f);
out:
  free(rows);
  free(users);
  free(depts);
}

static void report_done(struct srv_dbjob *job)
{
  struct report_job *rj = (struct report_job *)job;
  struct srv_session *s = rj->s;

  s->inflight--;
  if (job->rc != STORE_OK)
    srv_reply_error(s, rj->req, srv_code_from_store(job->rc), NULL, rj->why);
  else if (srv_session_open(s))
    reply(s, rj);
  if (job->rc == STORE_OK)
    store_report_cleanup(&rj->rep);
  srv_session_unref(s);
  free(rj);
}

int srv_h_report_unread(struct srv_session *s, const struct proto_frame *f)
{
  const struct proto_report_unread *in = &f->u.report_unread;
  struct report_job *rj = calloc(1, sizeof(*rj));

  if (!rj)
    return PROTO_E_NOMEM;
  rj->job.run = report_run;
  rj->job.done = report_done;
  rj->s = srv_session_ref(s);
  rj->req = f->id;
  rj->q.older_than_s = in->older ? (int64_t)in->older : 7200;
  rj->q.scope = in->scope == PROTO_SCOPE_TEAM    ? STORE_REPORT_TEAM
                : in->scope == PROTO_SCOPE_OWNED ? STORE_REPORT_OWNED
                : in->scope == PROTO_SCOPE_ORG   ? STORE_REPORT_ORG
                                                 : STORE_REPORT_ALL;
  rj->q.conversation_id = (int64_t)in->conv;
  if (in->dept.p) {
    size_t n = in->dept.len < sizeof(rj->dept) - 1 ? in->dept.len
                                                   : sizeof(rj->dept) - 1;
    memcpy(rj->dept, in->dept.p, n);
    rj->q.department = rj->dept;
  }
  rj->q.limit = in->limit ? (size_t)in->limit : REPORT_ROWS_DEFAULT;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &rj->job);
  return 0;
}
