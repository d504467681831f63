/*
 * h_ding.c — ding_ack (a recipient acknowledges: their schedule stops,
 * their followers hear it) and ding_board (the sender's view of every
 * recipient). Both run on a reader thread.
 */
#include "dbpool_int.h"
#include "ding_int.h"
#include "dispatch_int.h"
#include "server_int.h"
#include "session_int.h"

#include "store.h"

#include <stdlib.h>
#include <string.h>

struct ack_job {
  struct srv_dbjob job;
  struct srv_session *s;
  uint64_t req;
  int64_t conv, seq, at_ms;
  bool changed;
  struct store_ding_note *notes;
  size_t nnotes;
};

static void ack_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct ack_job *aj = (struct ack_job *)job;

  job->rc = conn ? store_ding_ack(conn, aj->s->uid, aj->conv, aj->seq,
                                  aj->at_ms, &aj->changed, NULL, &aj->notes,
                                  &aj->nnotes)
                 : STORE_EUNAVAIL;
}

static void ack_done(struct srv_dbjob *job)
{
  struct ack_job *aj = (struct ack_job *)job;
  struct srv_session *s = aj->s;
  struct proto_frame f;

  s->inflight--;
  if (job->rc != STORE_OK) {
    srv_reply_error(s, aj->req, srv_code_from_store(job->rc),
                    job->rc == STORE_ENOTFOUND ? "seq" : NULL,
                    job->rc == STORE_ENOTFOUND
                        ? "no such DING, or you are not one of its recipients"
                        : NULL);
  } else {
    proto_frame_init(&f, PROTO_T_RESULT);
    f.id = aj->req;
    f.u.result.conv = (uint64_t)aj->conv;
    f.u.result.dup = !aj->changed;
    srv_session_send(s, &f);
    srv_ding_push_notes(s->srv, aj->notes, aj->nnotes);
  }
  free(aj->notes);
  srv_session_unref(s);
  free(aj);
}

int srv_h_ding_ack(struct srv_session *s, const struct proto_frame *f)
{
  struct ack_job *aj = calloc(1, sizeof(*aj));

  if (!aj)
    return PROTO_E_NOMEM;
  aj->job.run = ack_run;
  aj->job.done = ack_done;
  aj->s = srv_session_ref(s);
  aj->req = f->id;
  aj->conv = (int64_t)f->u.ding_ack.conv;
  aj->seq = (int64_t)f->u.ding_ack.seq;
  aj->at_ms = (int64_t)f->u.ding_ack.at;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &aj->job);
  return 0;
}

struct board_job {
  struct srv_dbjob job;
  struct srv_session *s;
  uint64_t req;
  int64_t conv, seq;
  struct store_ding_board b;
  const char *why;
};

static void board_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct board_job *bj = (struct board_job *)job;
  struct srv_session *s = bj->s;

  job->rc = conn ? store_ding_board(conn,
                                    s->bot_id ? STORE_PRINCIPAL_BOT
                                              : STORE_PRINCIPAL_USER,
                                    s->bot_id ? s->bot_id : s->uid, bj->conv,
                                    bj->seq, &bj->b)
                 : STORE_EUNAVAIL;
  if (job->rc == STORE_EFORBIDDEN)
    bj->why = "only the sender of a DING sees its board";
  else if (job->rc == STORE_ENOTFOUND)
    bj->why = "no such DING";
}

static void board_done(struct srv_dbjob *job)
{
  struct board_job *bj = (struct board_job *)job;
  struct srv_session *s = bj->s;
  struct proto_ding_row *rows = NULL;
  struct proto_frame f;

  s->inflight--;
  if (job->rc != STORE_OK) {
    srv_reply_error(s, bj->req, srv_code_from_store(job->rc),
                    job->rc == STORE_ENOTFOUND ? "seq" : NULL, bj->why);
    goto out;
  }
  if (bj->b.n_rows && !(rows = calloc(bj->b.n_rows, sizeof(*rows)))) {
    srv_reply_error(s, bj->req, PROTO_E_NOMEM, NULL, NULL);
    goto out;
  }
  for (size_t i = 0; i < bj->b.n_rows; i++) {
    struct store_ding_note n = {.row = bj->b.rows[i]};
    struct proto_ding_update u;

    srv_ding_note_to_proto(&n, &u);
    rows[i] = u.row;
  }
  proto_frame_init(&f, PROTO_T_DING_BOARD_RESULT);
  f.id = bj->req;
  f.u.ding_board_result.conv = (uint64_t)bj->conv;
  f.u.ding_board_result.seq = (uint64_t)bj->seq;
  f.u.ding_board_result.urg =
      bj->b.urgency == STORE_URG_CRITICAL ? PROTO_URG_CRITICAL
      : bj->b.urgency == STORE_URG_URGENT ? PROTO_URG_URGENT
                                          : PROTO_URG_NORMAL;
  f.u.ding_board_result.rows = rows;
  f.u.ding_board_result.nrows = bj->b.n_rows;
  srv_session_send(s, &f);
out:
  free(rows);
  free(bj->b.rows);
  srv_session_unref(s);
  free(bj);
}

int srv_h_ding_board(struct srv_session *s, const struct proto_frame *f)
{
  struct board_job *bj = calloc(1, sizeof(*bj));

  if (!bj)
    return PROTO_E_NOMEM;
  bj->job.run = board_run;
  bj->job.done = board_done;
  bj->s = srv_session_ref(s);
  bj->req = f->id;
  bj->conv = (int64_t)f->u.ding_board.conv;
  bj->seq = (int64_t)f->u.ding_board.seq;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &bj->job);
  return 0;
}
