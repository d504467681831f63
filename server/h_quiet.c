/*
 * h_quiet.c — quiet_get and quiet_set: "am I in quiet hours, until when",
 * and replacing the user's own quiet windows (and time zone). Both answer
 * with quiet_state; after a quiet_set the user's other devices get the
 * new state pushed, and the delivery cache (quiet.c) takes it at once.
 */
#include "dbpool_int.h"
#include "dispatch_int.h"
#include "log_int.h"
#include "quiet_int.h"
#include "server_int.h"
#include "session_int.h"

#include "store.h"

#include <stdlib.h>
#include <string.h>

struct quiet_job {
  struct srv_dbjob job;
  struct srv_session *s;       /* holds a reference */
  uint64_t req;
  bool set;
  bool has_tz;
  char tz[STORE_TZ_MAX + 1];
  struct store_quiet_window win[STORE_QUIET_WINDOWS_MAX];
  size_t nwin;
  const char *field;           /* the field at fault, for errors */
  char why[256];
  struct store_quiet_state st;
};

static void quiet_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct quiet_job *qj = (struct quiet_job *)job;
  int64_t uid = qj->s->uid;
  int rc;

  if (!conn) {
    job->rc = STORE_EUNAVAIL;
    return;
  }
  if (qj->set) {
    if (qj->has_tz && (rc = store_time_zone_check(conn, qj->tz)) != STORE_OK) {
      qj->field = "tz";
      goto fail;
    }
    if ((rc = store_quiet_set(conn, uid, qj->win, qj->nwin,
                              qj->has_tz ? qj->tz : NULL)) != STORE_OK) {
      qj->field = rc == STORE_EINVAL ? "win" : NULL;
      goto fail;
    }
  }
  if ((rc = store_quiet_get(conn, uid, 0, &qj->st)) != STORE_OK)
    goto fail;
  job->rc = STORE_OK;
  return;
fail:
  snprintf(qj->why, sizeof(qj->why), "%s", store_errmsg(conn));
  job->rc = rc;
}

static void quiet_done(struct srv_dbjob *job)
{
  struct quiet_job *qj = (struct quiet_job *)job;
  struct srv_session *s = qj->s;
  struct proto_window org[STORE_QUIET_WINDOWS_MAX],
                      own[STORE_QUIET_WINDOWS_MAX];
  struct proto_frame f;

  s->inflight--;
  if (job->rc != STORE_OK) {
    srv_reply_error(s, qj->req, srv_code_from_store(job->rc), qj->field,
                    qj->field ? qj->why : NULL);
    goto out;
  }
  if (qj->set)
    srv_quiet_user_changed(s->srv, s->uid, &qj->st, s);
  else
    srv_quiet_user_seen(s->srv, s->uid, &qj->st);
  if (srv_session_open(s)) {
    proto_frame_init(&f, PROTO_T_QUIET_STATE);
    f.id = qj->req;
    srv_quiet_to_proto(&qj->st, &f.u.quiet_state, org, own);
    srv_session_send(s, &f);
  }
out:
  srv_session_unref(s);
  free(qj);
}

static struct quiet_job *job_new(struct srv_session *s,
                                 const struct proto_frame *f)
{
  struct quiet_job *qj = calloc(1, sizeof(*qj));

  if (!qj)
    return NULL;
  qj->job.run = quiet_run;
  qj->job.done = quiet_done;
  qj->s = srv_session_ref(s);
  qj->req = f->id;
  return qj;
}

int srv_h_quiet_get(struct srv_session *s, const struct proto_frame *f)
{
  struct quiet_job *qj = job_new(s, f);

  if (!qj)
    return PROTO_E_NOMEM;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &qj->job);
  return 0;
}

int srv_h_quiet_set(struct srv_session *s, const struct proto_frame *f)
{
  const struct proto_quiet_set *in = &f->u.quiet_set;
  struct quiet_job *qj;

  /* The decoder checked each window (day, minutes, not empty) and the
   * count (at most 64, as storage allows). */
  if (in->nwin > STORE_QUIET_WINDOWS_MAX)
    return PROTO_E_TOO_MANY;
  if (in->tz.len > STORE_TZ_MAX) {
    srv_reply_error(s, f->id, PROTO_E_BAD_VALUE, "tz",
                    "time zone names are at most 64 bytes");
    return 0;
  }
  if (!(qj = job_new(s, f)))
    return PROTO_E_NOMEM;
  qj->set = true;
  qj->has_tz = in->tz.len > 0;
  if (qj->has_tz) /* an absent tz has a NULL pointer: no memcpy from it */
    memcpy(qj->tz, in->tz.p, in->tz.len);
  qj->tz[in->tz.len] = '\0';
  for (size_t i = 0; i < in->nwin; i++) {
    qj->win[i].day = (int)in->win[i].day;
    qj->win[i].start = (int)in->win[i].start;
    qj->win[i].end = (int)in->win[i].end;
  }
  qj->nwin = in->nwin;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &qj->job);
  return 0;
}
