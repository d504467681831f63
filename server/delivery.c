/*
 * delivery.c — ordered, gapless delivery of conversation messages to
 * sessions, live and replayed (see delivery_int.h for the model).
 */
#include "clock_int.h"
#include "delivery_int.h"
#include "dbpool_int.h"
#include "ding_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "quiet_int.h"
#include "server_int.h"
#include "session_int.h"

#include "store.h"

#include <stdlib.h>
#include <string.h>

/* The sessions subscribed to one conversation. */
struct srv_subs {
  struct srv_session **v;
  unsigned n, cap;
  /* Messages another node committed (srv_delivery_remote): the highest
   * seq announced, and whether a fetch is running. */
  int64_t rtarget;
  bool rfetching;
};

/* Bodies in one replay page stay under this, so a page frame stays well
 * below the frame size clients must accept (welcome.lim.sframe). */
#define PAGE_BODY_BYTES (512 * 1024)

struct fill_job {
  struct srv_dbjob job;
  struct srv_session *s;       /* holds a reference */
  int64_t conv;
  int64_t after;
  size_t limit;
  struct store_message *msgs;
  size_t n;
};

static void fill_start(struct srv_server *srv, struct srv_session *s,
                       struct srv_conv_pos *pos);

int64_t srv_delivery_last(struct srv_server *srv, int64_t conv)
{
  return (int64_t)(intptr_t)srv_intmap_get(&srv->conv_last, conv);
}

static void note_last(struct srv_server *srv, int64_t conv, int64_t seq)
{
  if (seq > srv_delivery_last(srv, conv))
    srv_intmap_put(&srv->conv_last, conv, (void *)(intptr_t)seq);
}

void srv_msg_from_store(struct proto_msg *out, const struct store_message *m)
{
  memset(out, 0, sizeof(*out));
  out->conv = (uint64_t)m->conversation_id;
  out->seq = (uint64_t)m->seq;
  out->from = (uint64_t)m->sender_id;
  out->from_kind = m->sender_kind == STORE_PRINCIPAL_BOT ? PROTO_ACTOR_BOT
                                                         : PROTO_ACTOR_USER;
  out->cmid = (struct proto_str){m->cmid, strlen(m->cmid)};
  out->kind = m->kind == STORE_MSG_DING   ? PROTO_KIND_DING
              : m->kind == STORE_MSG_CARD ? PROTO_KIND_CARD
                                          : PROTO_KIND_TEXT;
  out->body = (struct proto_str){m->body, m->body_len};
  out->ts = (uint64_t)m->sent_at_ms;
  out->tracked = m->tracked;
  if (m->kind == STORE_MSG_DING) {
    out->urg = m->urgency == STORE_URG_CRITICAL ? PROTO_URG_CRITICAL
               : m->urgency == STORE_URG_URGENT ? PROTO_URG_URGENT
                                                : PROTO_URG_NORMAL;
    out->all = m->ding_all;
    /* Ids are positive: the same bits as uint64_t. */
    out->to = (const uint64_t *)m->ding_to;
    out->nto = m->n_ding_to;
  }
}

void srv_sync_part_done(struct srv_session *s)
{
  struct proto_frame f;

  if (!s->syncing || --s->sync_pending > 0)
    return;
  s->syncing = 0;
  proto_frame_init(&f, PROTO_T_SYNCED);
  f.id = s->sync_id;
  f.u.synced.feed = s->feed_cursor;
  srv_session_send(s, &f);
}

static void sync_conv_done(struct srv_session *s, struct srv_conv_pos *pos)
{
  if (!pos->in_sync)
    return;
  pos->in_sync = 0;
  pos->req = 0;
  srv_sync_part_done(s);
}

/* A sync failed (the database went away): tell the client once and stop
 * counting; live delivery and later fills continue. */
static void sync_abort(struct srv_session *s, int code)
{
  if (!s->syncing)
    return;
  s->syncing = 0;
  s->sync_pending = 0;
  for (size_t i = 0; i < s->pos.cap; i++) {
    struct srv_conv_pos *p = s->pos.slots[i].val;
    if (s->pos.slots[i].key && p) {
      p->in_sync = 0;
      p->req = 0;
    }
  }
  srv_session_send_error(s, s->sync_id, code, NULL, NULL);
}

static void fill_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct fill_job *fj = (struct fill_job *)job;
  struct srv_session *s = fj->s;

  if (!conn) {
    job->rc = STORE_EUNAVAIL;
    return;
  }
  job->rc = store_messages_after(conn,
                                 s->bot_id ? STORE_PRINCIPAL_BOT
                                           : STORE_PRINCIPAL_USER,
                                 s->bot_id ? s->bot_id : s->uid, fj->conv,
                                 fj->after, 0, fj->limit, PAGE_BODY_BYTES,
                                 &fj->msgs, &fj->n);
}

static void fill_done(struct srv_dbjob *job)
{
  struct fill_job *fj = (struct fill_job *)job;
  struct srv_session *s = fj->s;
  struct srv_server *srv = s->srv;
  struct srv_conv_pos *pos = srv_session_open(s)
                                 ? srv_session_pos(s, fj->conv, 0) : NULL;
  struct proto_msg *items = NULL;
  struct proto_frame f;
  size_t k = 0;

  s->inflight--;
  if (!pos)
    goto out;
  pos->filling = 0;
  if (job->rc == STORE_ENOTFOUND) {
    /* No longer a member: stop delivering this conversation. */
    sync_conv_done(s, pos);
    goto out;
  }
  if (job->rc != STORE_OK) {
    srv_warn("delivery", "fill of conversation %lld failed: %s",
             (long long)fj->conv, store_strerror(job->rc));
    sync_abort(s, PROTO_E_DB_UNAVAILABLE);
    goto out;
  }
  if (fj->n > 0 && (items = calloc(fj->n, sizeof(*items)))) {
    /* Pages, too, are delivered silently in the user's quiet hours. */
    bool silent = srv_quiet_silent(srv, s->uid, srv_clock_now_ms());

    for (size_t i = 0; i < fj->n; i++) {
      if (fj->msgs[i].seq != pos->sent + (int64_t)k + 1)
        continue;   /* already sent live meanwhile */
      srv_msg_from_store(&items[k], &fj->msgs[i]);
      items[k++].silent = silent;
    }
  }
  if (k > 0) {
    int64_t sent = (int64_t)items[k - 1].seq;

    note_last(srv, fj->conv, sent);
    if (sent > pos->target)
      pos->target = sent;
    if (pos->req) {
      proto_frame_init(&f, PROTO_T_PAGE);
      f.id = pos->req;
      f.u.page.conv = (uint64_t)fj->conv;
      f.u.page.msgs = items;
      f.u.page.nmsgs = k;
      f.u.page.more = fj->n == fj->limit || pos->target > sent;
      if (srv_session_send(s, &f) != 0)
        goto out;
      srv_metric_inc(SRV_M_REPLAY_PAGES);
    } else {
      /* Outside a sync (a commit of another node, a re-send): the gap is
       * filled with live `msg` frames, which clients apply in seq order
       * like any other (PROTOCOL.md 3.4); a page belongs to a request. */
      for (size_t i = 0; i < k; i++) {
        proto_frame_init(&f, PROTO_T_MSG);
        f.u.msg = items[i];
        if (srv_session_send(s, &f) != 0)
          goto out;
      }
    }
    pos->sent = sent;
    srv_ding_seen(srv, s, items, k);
  }
  if (fj->n == fj->limit || pos->target > pos->sent)
    fill_start(srv, s, pos);
  else
    sync_conv_done(s, pos);
out:
  free(items);
  store_messages_free(fj->msgs, fj->n);
  srv_session_unref(s);
  free(fj);
}

static void fill_start(struct srv_server *srv, struct srv_session *s,
                       struct srv_conv_pos *pos)
{
  struct fill_job *fj;

  if (pos->filling || !srv_session_open(s))
    return;
  if (!(fj = calloc(1, sizeof(*fj)))) {
    srv_session_kill(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
    return;
  }
  fj->job.run = fill_run;
  fj->job.done = fill_done;
  fj->s = srv_session_ref(s);
  fj->conv = pos->conv;
  fj->after = pos->sent;
  fj->limit = (size_t)srv->cfg->page_size;
  pos->filling = 1;
  s->inflight++;
  srv_dbpool_submit(srv->reader, &fj->job);
}

int srv_delivery_subscribe(struct srv_server *srv, struct srv_session *s,
                           int64_t conv, int64_t after, int64_t known_last,
                           uint64_t req, int in_sync)
{
  struct srv_conv_pos *pos = srv_session_pos(s, conv, 0);
  struct srv_subs *sub;
  int64_t last = known_last;

  if (!pos) {
    if (!(pos = srv_session_pos(s, conv, 1)))
      return -1;
    if (!(sub = srv_intmap_get(&srv->subs, conv))) {
      if (!(sub = calloc(1, sizeof(*sub))) ||
          srv_intmap_put(&srv->subs, conv, sub) != 0) {
        free(sub);
        return -1;
      }
    }
    if (sub->n == sub->cap) {
      unsigned cap = sub->cap ? sub->cap * 2 : 4;
      struct srv_session **v = realloc(sub->v, cap * sizeof(*v));
      if (!v)
        return -1;
      sub->v = v;
      sub->cap = cap;
    }
    sub->v[sub->n++] = s;
    pos->sent = after;
  } else if (after > pos->sent && !pos->filling) {
    pos->sent = after;
  }
  /* A commit published between the database's answer and now is already
   * in conv_last: include it, or it would wait for the next message. */
  if (srv_delivery_last(srv, conv) > last)
    last = srv_delivery_last(srv, conv);
  if (last > pos->target)
    pos->target = last;
  if (pos->target > pos->sent) {
    if (in_sync && !pos->in_sync) {
      pos->in_sync = 1;
      pos->req = req;
      s->sync_pending++;
    }
    fill_start(srv, s, pos);
  }
  return 0;
}

void srv_delivery_unsubscribe_all(struct srv_server *srv,
                                  struct srv_session *s)
{
  for (size_t i = 0; i < s->pos.cap; i++) {
    struct srv_subs *sub;
    int64_t conv = s->pos.slots[i].key;

    if (!conv || !(sub = srv_intmap_get(&srv->subs, conv)))
      continue;
    for (unsigned j = 0; j < sub->n; j++) {
      if (sub->v[j] == s) {
        sub->v[j] = sub->v[--sub->n];
        break;
      }
    }
    if (sub->n == 0) {
      srv_intmap_del(&srv->subs, conv);
      free(sub->v);
      free(sub);
    }
  }
}

/* The one delivery step: for each session subscribed to `conv` that is
 * behind `seq`, queue `frame` when it is exactly the next message and no
 * fill is running; otherwise (or without a frame) raise the fill target.
 * When `src` (the message the frame encodes) is given, a recipient in
 * quiet hours gets it with `silent` set instead: that variant is encoded
 * once, on first need. */
static void deliver(struct srv_server *srv, int64_t conv, int64_t seq,
                    struct proto_shared *frame, const struct proto_frame *src)
{
  struct srv_subs *sub = srv_intmap_get(&srv->subs, conv);
  struct proto_shared *quiet_frame = NULL;
  uint64_t now = srv_clock_now_ms();

  note_last(srv, conv, seq);
  if (!sub)
    return;
  /* Iterate backwards: a session killed for a full queue is removed from
   * this array only when lws closes it later, so indexes stay valid. */
  for (unsigned i = sub->n; i-- > 0;) {
    struct srv_session *s = sub->v[i];
    struct srv_conv_pos *pos = srv_session_pos(s, conv, 0);

    if (!pos || !srv_session_open(s) || seq <= pos->sent)
      continue;
    if (frame && seq == pos->sent + 1 && !pos->filling) {
      struct proto_shared *f = frame;

      if (src && srv_quiet_silent(srv, s->uid, now)) {
        if (!quiet_frame) {
          struct proto_frame q = *src;

          q.u.msg.silent = true;
          if (proto_encode_shared(&q, LWS_PRE, &quiet_frame) != 0)
            quiet_frame = NULL;
        }
        if (quiet_frame)
          f = quiet_frame;
      }
      if (srv_session_queue(s, f) == 0) {
        pos->sent = seq;
        if (src && src->u.msg.kind == PROTO_KIND_DING)
          srv_ding_seen(srv, s, &src->u.msg, 1);
      }
      continue;
    }
    if (seq > pos->target)
      pos->target = seq;
    fill_start(srv, s, pos);
  }
  if (quiet_frame)
    proto_shared_unref(quiet_frame);
}

void srv_delivery_publish(struct srv_server *srv, int64_t conv, int64_t seq,
                          struct proto_shared *frame)
{
  deliver(srv, conv, seq, frame, NULL);
}

void srv_delivery_publish_msg(struct srv_server *srv,
                              const struct proto_frame *f)
{
  int64_t conv = (int64_t)f->u.msg.conv, seq = (int64_t)f->u.msg.seq;
  struct proto_shared *sh;

  if (proto_encode_shared(f, LWS_PRE, &sh) != 0) {
    /* Cannot happen for a validated send; sessions fill from the store. */
    srv_err("delivery", "cannot encode message %lld/%lld", (long long)conv,
            (long long)seq);
    deliver(srv, conv, seq, NULL, NULL);
    return;
  }
  deliver(srv, conv, seq, sh, f);
  proto_shared_unref(sh);
}

void srv_delivery_hint(struct srv_server *srv, int64_t conv, int64_t seq)
{
  deliver(srv, conv, seq, NULL, NULL);
}

/* ---- messages committed by another node (notify_int.h) ---- */

struct remote_job {
  struct srv_dbjob job;
  struct srv_server *srv;
  int64_t conv, after;
  enum store_principal_kind kind;
  int64_t reader;
  size_t limit;
  struct store_message *msgs;
  size_t n;
};

static void remote_start(struct srv_server *srv, int64_t conv,
                         struct srv_subs *sub);

static void remote_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct remote_job *rj = (struct remote_job *)job;

  job->rc = conn ? store_messages_after(conn, rj->kind, rj->reader, rj->conv,
                                        rj->after, 0, rj->limit,
                                        PAGE_BODY_BYTES, &rj->msgs, &rj->n)
                 : STORE_EUNAVAIL;
}

static void remote_done(struct srv_dbjob *job)
{
  struct remote_job *rj = (struct remote_job *)job;
  struct srv_server *srv = rj->srv;
  struct srv_subs *sub;
  bool progressed = false;

  if (job->rc == STORE_OK) {
    for (size_t i = 0; i < rj->n; i++) {
      struct proto_frame f;

      if (rj->msgs[i].seq <= srv_delivery_last(srv, rj->conv))
        continue;            /* published here meanwhile */
      proto_frame_init(&f, PROTO_T_MSG);
      srv_msg_from_store(&f.u.msg, &rj->msgs[i]);
      srv_delivery_publish_msg(srv, &f);
      progressed = true;
    }
  }
  sub = srv_intmap_get(&srv->subs, rj->conv);
  if (sub) {
    sub->rfetching = false;
    if (job->rc != STORE_OK || (!progressed && rj->n < rj->limit &&
                                sub->rtarget > srv_delivery_last(srv,
                                                                 rj->conv))) {
      /* The reader cannot see them (it left meanwhile) or the database
       * failed: every session fills by itself, as for a hint. */
      srv_delivery_hint(srv, rj->conv, sub->rtarget);
    } else if (!srv->stopping) {
      remote_start(srv, rj->conv, sub);
    }
  }
  store_messages_free(rj->msgs, rj->n);
  free(rj);
}

static void remote_start(struct srv_server *srv, int64_t conv,
                         struct srv_subs *sub)
{
  struct srv_session *s;
  struct remote_job *rj;

  if (sub->rfetching || sub->n == 0 ||
      sub->rtarget <= srv_delivery_last(srv, conv))
    return;
  if (!(rj = calloc(1, sizeof(*rj)))) {
    srv_delivery_hint(srv, conv, sub->rtarget);
    return;
  }
  s = sub->v[0];
  rj->job.run = remote_run;
  rj->job.done = remote_done;
  rj->srv = srv;
  rj->conv = conv;
  rj->after = srv_delivery_last(srv, conv);
  rj->kind = s->bot_id ? STORE_PRINCIPAL_BOT : STORE_PRINCIPAL_USER;
  rj->reader = s->bot_id ? s->bot_id : s->uid;
  rj->limit = (size_t)srv->cfg->page_size;
  sub->rfetching = true;
  srv_dbpool_submit(srv->reader, &rj->job);
}

void srv_delivery_remote(struct srv_server *srv, int64_t conv, int64_t seq)
{
  struct srv_subs *sub = srv_intmap_get(&srv->subs, conv);

  if (!sub || sub->n == 0) {
    note_last(srv, conv, seq);
    return;
  }
  if (seq > sub->rtarget)
    sub->rtarget = seq;
  remote_start(srv, conv, sub);
}
