/*
 * h_sync.c — sync (replay after reconnect) and history (older messages on
 * demand).
 *
 * sync asks the database for the principal's conversations, then
 * subscribes the session to each with the client's cursor (or, for a
 * conversation the client did not list, from where the user joined); the
 * delivery module replays what is missing page by page and sends `synced`
 * when every conversation has caught up (delivery.c).
 */
#include "dbpool_int.h"
#include "delivery_int.h"
#include "dispatch_int.h"
#include "log_int.h"
#include "server_int.h"
#include "session_int.h"

#include "store.h"

#include <stdlib.h>
#include <string.h>

struct sync_job {
  struct srv_dbjob job;
  struct srv_session *s;
  uint64_t req;
  struct proto_cursor *cur;    /* owned copy of the client's cursors */
  size_t ncur;
  struct store_conv_summary *convs;
  size_t nconvs;
  int64_t feed;                /* the client's feed cursor */
};

static enum store_principal_kind kind_of(const struct srv_session *s)
{
  return s->bot_id ? STORE_PRINCIPAL_BOT : STORE_PRINCIPAL_USER;
}

static int64_t id_of(const struct srv_session *s)
{
  return s->bot_id ? s->bot_id : s->uid;
}

static void sync_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct sync_job *sj = (struct sync_job *)job;

  job->rc = conn ? store_principal_conversations(conn, kind_of(sj->s),
                                                 id_of(sj->s), &sj->convs,
                                                 &sj->nconvs)
                 : STORE_EUNAVAIL;
}

static int cmp_cursor(const void *a, const void *b)
{
  const struct proto_cursor *x = a, *y = b;
  return x->conv < y->conv ? -1 : x->conv > y->conv;
}

static void sync_done(struct srv_dbjob *job)
{
  struct sync_job *sj = (struct sync_job *)job;
  struct srv_session *s = sj->s;

  s->inflight--;
  if (!srv_session_open(s))
    goto out;
  if (job->rc != STORE_OK) {
    s->syncing = 0;
    srv_reply_error(s, sj->req, srv_code_from_store(job->rc), NULL, NULL);
    goto out;
  }
  if (sj->ncur)
    qsort(sj->cur, sj->ncur, sizeof(*sj->cur), cmp_cursor);
  /* One part for the feed (users) or a placeholder (bots), released
   * below, so that `synced` cannot go out before every part started. */
  s->sync_pending = 1;
  for (size_t i = 0; i < sj->nconvs; i++) {
    const struct store_conv_summary *c = &sj->convs[i];
    struct proto_cursor key = {.conv = (uint64_t)c->id};
    const struct proto_cursor *cur =
        sj->ncur ? bsearch(&key, sj->cur, sj->ncur, sizeof(*sj->cur),
                           cmp_cursor)
                 : NULL;
    int64_t after = cur ? (int64_t)cur->after : c->joined_seq;

    if (srv_delivery_subscribe(s->srv, s, c->id, after, c->last_seq, sj->req,
                               1) != 0) {
      srv_session_kill(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
                       "out of memory");
      goto out;
    }
  }
  if (s->uid)
    srv_feed_replay(s, sj->feed);
  else
    srv_sync_part_done(s);
out:
  srv_session_unref(s);
  free(sj->cur);
  free(sj->convs);
  free(sj);
}

int srv_h_sync(struct srv_session *s, const struct proto_frame *f)
{
  const struct proto_sync *in = &f->u.sync;
  struct sync_job *sj;

  if (s->syncing)
    return PROTO_E_UNEXPECTED;
  if (!(sj = calloc(1, sizeof(*sj))))
    return PROTO_E_NOMEM;
  if (in->ncur &&
      !(sj->cur = malloc(in->ncur * sizeof(*sj->cur)))) {
    free(sj);
    return PROTO_E_NOMEM;
  }
  if (in->ncur)
    memcpy(sj->cur, in->cur, in->ncur * sizeof(*sj->cur));
  sj->ncur = in->ncur;
  sj->feed = (int64_t)in->feed;
  sj->job.run = sync_run;
  sj->job.done = sync_done;
  sj->s = srv_session_ref(s);
  sj->req = f->id;
  s->syncing = 1;
  s->live = 1;
  s->sync_id = f->id;
  s->feed_cursor = in->feed;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &sj->job);
  return 0;
}

struct history_job {
  struct srv_dbjob job;
  struct srv_session *s;
  uint64_t req;
  int64_t conv, before;
  size_t limit;
  struct store_message *msgs;
  size_t n;
};

static void history_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct history_job *hj = (struct history_job *)job;

  /* One extra row tells whether older messages exist. */
  job->rc = conn ? store_messages_before(conn, kind_of(hj->s), id_of(hj->s),
                                         hj->conv, hj->before, hj->limit + 1,
                                         &hj->msgs, &hj->n)
                 : STORE_EUNAVAIL;
}

static void history_done(struct srv_dbjob *job)
{
  struct history_job *hj = (struct history_job *)job;
  struct srv_session *s = hj->s;
  struct proto_msg *items = NULL;
  size_t skip = hj->n > hj->limit ? hj->n - hj->limit : 0;
  struct proto_frame f;

  s->inflight--;
  if (!srv_session_open(s))
    goto out;
  if (job->rc != STORE_OK) {
    srv_reply_error(s, hj->req, srv_code_from_store(job->rc), "conv", NULL);
    goto out;
  }
  if (hj->n > skip && !(items = calloc(hj->n - skip, sizeof(*items)))) {
    srv_reply_error(s, hj->req, PROTO_E_NOMEM, NULL, NULL);
    goto out;
  }
  for (size_t i = skip; i < hj->n; i++)
    srv_msg_from_store(&items[i - skip], &hj->msgs[i]);
  proto_frame_init(&f, PROTO_T_PAGE);
  f.id = hj->req;
  f.u.page.conv = (uint64_t)hj->conv;
  f.u.page.msgs = items;
  f.u.page.nmsgs = hj->n - skip;
  f.u.page.more = skip > 0;
  f.u.page.hist = true;
  srv_session_send(s, &f);
out:
  free(items);
  store_messages_free(hj->msgs, hj->n);
  srv_session_unref(s);
  free(hj);
}

int srv_h_history(struct srv_session *s, const struct proto_frame *f)
{
  const struct proto_history *in = &f->u.history;
  struct history_job *hj = calloc(1, sizeof(*hj));

  if (!hj)
    return PROTO_E_NOMEM;
  hj->job.run = history_run;
  hj->job.done = history_done;
  hj->s = srv_session_ref(s);
  hj->req = f->id;
  hj->conv = (int64_t)in->conv;
  hj->before = (int64_t)in->before;
  hj->limit = in->limit ? (size_t)in->limit : (size_t)s->srv->cfg->page_size;
  if (hj->limit > (size_t)s->srv->cfg->page_size)
    hj->limit = (size_t)s->srv->cfg->page_size;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &hj->job);
  return 0;
}
