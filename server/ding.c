/*
 * ding.c — what follows a DING's send and its deliveries: step-0 alerts,
 * recipients' own rows, first deliveries recorded, and state notes pushed
 * as ding_update frames (see ding_int.h for who gets what).
 */
#include "clock_int.h"
#include "dbpool_int.h"
#include "ding_int.h"
#include "log_int.h"
#include "quiet_int.h"
#include "server_int.h"
#include "session_int.h"

#include "store.h"

#include <stdlib.h>
#include <string.h>

static enum proto_urgency urg_to_proto(enum store_urgency u)
{
  switch (u) {
  case STORE_URG_CRITICAL: return PROTO_URG_CRITICAL;
  case STORE_URG_URGENT: return PROTO_URG_URGENT;
  default: return PROTO_URG_NORMAL;
  }
}

void srv_ding_alert(struct srv_server *srv, int64_t uid,
                    const struct proto_ding_alert *a)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_DING_ALERT);
  f.u.ding_alert = *a;
  for (struct srv_session *s = srv_sessions_of_user(srv, uid); s;
       s = s->user_next)
    if (s->live && srv_session_open(s))
      srv_session_send(s, &f);
}

void srv_ding_note_to_proto(const struct store_ding_note *n,
                            struct proto_ding_update *out)
{
  memset(out, 0, sizeof(*out));
  out->conv = (uint64_t)n->conversation_id;
  out->seq = (uint64_t)n->seq;
  out->fs = (uint64_t)n->fs;
  out->row.uid = (uint64_t)n->row.user_id;
  out->row.delivered = n->row.delivered;
  out->row.read = n->row.read;
  out->row.acked = n->row.acked;
  out->row.acked_at = n->row.acked ? (uint64_t)n->row.acked_at_ms : 0;
  out->row.step = (uint64_t)(n->row.step > 1000 ? 1000 : n->row.step);
  out->row.escalated = n->row.escalated;
  out->from = (uint64_t)n->sender_id;
  out->urg = urg_to_proto(n->urgency);
}

void srv_ding_push_notes(struct srv_server *srv,
                         const struct store_ding_note *notes, size_t n)
{
  struct proto_frame f;

  for (size_t i = 0; i < n; i++) {
    proto_frame_init(&f, PROTO_T_DING_UPDATE);
    srv_ding_note_to_proto(&notes[i], &f.u.ding_update);
    for (struct srv_session *s = srv_sessions_of_user(srv, notes[i].to_user);
         s; s = s->user_next)
      if (s->live && srv_session_open(s))
        srv_session_send(s, &f);
  }
}

void srv_ding_sent(struct srv_server *srv, const struct store_send *in,
                   const struct store_send_result *out)
{
  const struct store_ding *d = in->ding;
  uint64_t now = srv_clock_now_ms();
  struct proto_ding_alert a;
  struct store_ding_note note;

  if (!d || out->rc != STORE_OK || out->dup)
    return;
  memset(&a, 0, sizeof(a));
  a.conv = (uint64_t)out->conversation_id;
  a.seq = (uint64_t)out->seq;
  a.from = (uint64_t)in->sender_id;
  a.urg = urg_to_proto(d->urgency);
  memset(&note, 0, sizeof(note));
  note.conversation_id = out->conversation_id;
  note.seq = out->seq;
  note.sender_kind = in->sender_kind;
  note.sender_id = in->sender_id;
  note.urgency = d->urgency;
  for (size_t i = 0; i < out->n_ding_rcpt; i++) {
    int64_t uid = out->ding_rcpt[i];
    bool quiet = srv_quiet_silent(srv, uid, now);

    /* The database marked (and audited) a critical DING to someone in
     * quiet hours the same way, from its own clock. */
    a.silent = quiet && d->urgency != STORE_URG_CRITICAL;
    a.overrode_quiet = quiet && d->urgency == STORE_URG_CRITICAL;
    srv_ding_alert(srv, uid, &a);
    /* Their own row, as the send's feed entry left it. */
    note.to_user = uid;
    note.fs = out->ding_fs[i];
    note.row.user_id = uid;
    srv_ding_push_notes(srv, &note, 1);
  }
  srv_ding_sched_due(srv, out->ding_due_ms);
}

/* ---- first deliveries ---- */

struct seen_job {
  struct srv_dbjob job;
  struct srv_server *srv;
  int64_t uid, conv;
  int64_t *seqs;
  size_t n;
  struct store_ding_note *notes;
  size_t nnotes;
};

static void seen_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct seen_job *sj = (struct seen_job *)job;

  job->rc = conn ? store_ding_delivered(conn, sj->uid, sj->conv, sj->seqs,
                                        sj->n, &sj->notes, &sj->nnotes)
                 : STORE_EUNAVAIL;
  if (job->rc != STORE_OK)
    srv_warn("ding", "recording the delivery of %zu DING(s) of "
             "conversation %lld to user %lld failed: %s", sj->n,
             (long long)sj->conv, (long long)sj->uid,
             conn ? store_errmsg(conn) : "no database");
}

static void seen_done(struct srv_dbjob *job)
{
  struct seen_job *sj = (struct seen_job *)job;

  if (job->rc == STORE_OK)
    srv_ding_push_notes(sj->srv, sj->notes, sj->nnotes);
  free(sj->notes);
  free(sj->seqs);
  free(sj);
}

/* Whether user `uid` is a recipient of DING `m` as the message says. */
static bool addressed_to(const struct proto_msg *m, int64_t uid)
{
  if (m->all)
    return m->from_kind == PROTO_ACTOR_BOT || (int64_t)m->from != uid;
  for (size_t i = 0; i < m->nto; i++)
    if ((int64_t)m->to[i] == uid)
      return true;
  return false;
}

void srv_ding_seen(struct srv_server *srv, struct srv_session *s,
                   const struct proto_msg *m, size_t n)
{
  struct seen_job *sj = NULL;

  if (!s->uid || srv->stopping)
    return;
  for (size_t i = 0; i < n; i++) {
    if (m[i].kind != PROTO_KIND_DING || !addressed_to(&m[i], s->uid))
      continue;
    if (!sj) {
      if (!(sj = calloc(1, sizeof(*sj))) ||
          !(sj->seqs = calloc(n - i, sizeof(*sj->seqs)))) {
        /* The delivery is not recorded; the board says "not delivered"
         * until the next one. */
        free(sj);
        return;
      }
      sj->conv = (int64_t)m[i].conv;
    }
    sj->seqs[sj->n++] = (int64_t)m[i].seq;
  }
  if (!sj)
    return;
  sj->job.run = seen_run;
  sj->job.done = seen_done;
  sj->srv = srv;
  sj->uid = s->uid;
  srv_dbpool_submit(srv->reader, &sj->job);
}
