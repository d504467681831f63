/*
 * h_report.c — report_unread: "unread over N" for a manager's team and the
 * conversations they own, or the whole organisation for an admin. Storage
 * decides the scope, counts the time through herald_unread_seconds() (the
 * one place the quiet-hours work replaces with business time) and writes
 * the audit row of every run, refused ones included.
 */
#include "dbpool_int.h"
#include "dispatch_int.h"
#include "report_int.h"
#include "server_int.h"
#include "session_int.h"

#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct report_job {
  struct srv_dbjob job;
  struct srv_session *s;
  uint64_t req;
  struct store_report_query q;
  char dept[SRV_REPORT_DEPT_MAX + 1];
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
  struct srv_report_view v;
  struct proto_frame f;

  if (srv_report_view_init(&v, &rj->rep) != 0) {
    srv_reply_error(s, rj->req, PROTO_E_NOMEM, NULL, NULL);
    return;
  }
  proto_frame_init(&f, PROTO_T_REPORT_RESULT);
  f.id = rj->req;
  f.u.report_result = v.res;
  srv_session_send(s, &f);
  srv_report_view_cleanup(&v);
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
  if (in->dept.p) {
    size_t n = in->dept.len < sizeof(rj->dept) - 1 ? in->dept.len
                                                   : sizeof(rj->dept) - 1;
    memcpy(rj->dept, in->dept.p, n);
  }
  srv_report_query(&rj->q, in->older, in->scope, in->conv,
                   in->dept.p ? rj->dept : NULL, in->limit);
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &rj->job);
  return 0;
}
