/*
 * sync.c — replay bookkeeping: the device's view of every conversation
 * moves forward one seq at a time, whether messages come live or in sync
 * pages (PROTOCOL.md 3.4-3.6).
 *
 * A message is delivered when seq == last + 1 and dropped when seq <= last
 * (a duplicate). A conversation without a cursor (or with cursor 0)
 * accepts its first message at any seq: the server starts an unlisted
 * conversation where the user joined. A seq > last + 1 "cannot happen in
 * a correct server"; if it does, the message is not delivered and the
 * library syncs again from `last`, which brings it back in order. The
 * feed works the same way on `fs`.
 *
 * After each welcome: the outbox replay starts (request.c writes it
 * first), then — with limit_backlog — a conv_list seeds cursors for
 * conversations not seen before, then `sync` with every cursor and the
 * feed cursor. One sync runs at a time; a gap found meanwhile queues
 * another for when it ends.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hc_int.h"

/* PROTOCOL.md section 8: at most this many cursors in one sync. */
#define SYNC_MAX_CURSORS 4096

static void start(struct hc_conn *c);

static void schedule_retry(struct hc_conn *c)
{
  c->resync_at = hc_conn_now(c) + 1 +
                 hc_backoff_next(&c->sync_bo, hc_ctx_rand(c->ctx));
  hc_conn_arm(c);
}

static void sync_done_cb(struct hc_conn *c, int err,
                         const struct proto_frame *reply, void *arg)
{
  struct hc_event ev = {.type = HC_EV_SYNCED};

  (void)arg;
  c->sync_id = 0;
  if (err == -ECONNRESET || err == -ECANCELED)
    return;                 /* the next welcome syncs again */
  if (err) {
    if (proto_err_retryable(err)) {
      schedule_retry(c);
    } else {
      /* Not worth repeating (e.g. UNEXPECTED): tell the application. */
      struct hc_event e = {.type = HC_EV_ERROR, .err = err, .frame = reply};
      hc_emit(c, &e);
    }
    return;
  }
  if (reply->u.synced.feed > c->cur.feed)
    hc_cursors_set_feed(&c->cur, reply->u.synced.feed);
  c->synced = true;
  hc_emit(c, &ev);
  if (c->free_pending)
    return;
  hc_conn_flush(c);
  if (c->resync) {
    /* A gap showed up during this sync. Sync again, but after a backoff:
     * a server that keeps producing the same gap must not make this a
     * busy loop. */
    c->resync = false;
    schedule_retry(c);
  } else {
    hc_backoff_reset(&c->sync_bo);
  }
}

static void send_sync(struct hc_conn *c)
{
  size_t n = hc_cursors_list(&c->cur, NULL, 0);
  struct proto_cursor *cur = NULL;
  struct proto_frame f;
  int rc;

  if (n > SYNC_MAX_CURSORS) {
    /* TODO: a client in more than 4096 conversations needs the protocol
     * to allow a sync in parts; until then the rest replay from where the
     * user joined (deduplicated here by seq, so nothing is shown twice). */
    n = SYNC_MAX_CURSORS;
  }
  if (n && !(cur = malloc(n * sizeof *cur))) {
    schedule_retry(c);
    return;
  }
  hc_cursors_list(&c->cur, cur, n);
  proto_frame_init(&f, PROTO_T_SYNC);
  f.u.sync.cur = cur;
  f.u.sync.ncur = n;
  f.u.sync.feed = c->cur.feed;
  f.u.sync.limit = c->page_limit;
  rc = hc_req_queue(c, &f, sync_done_cb, NULL, true, false, &c->sync_id);
  free(cur);
  if (rc != 0) {
    c->sync_id = 0;
    schedule_retry(c);
  }
}

static void conv_list_cb(struct hc_conn *c, int err,
                         const struct proto_frame *reply, void *arg)
{
  (void)arg;
  c->conv_list_id = 0;
  if (err == -ECONNRESET || err == -ECANCELED)
    return;
  if (err && proto_err_retryable(err)) {
    schedule_retry(c);
    return;
  }
  if (!err) {
    const struct proto_conv_list_result *r = &reply->u.conv_list_result;

    for (size_t i = 0; i < r->nconvs; i++) {
      const struct proto_conv_info *ci = &r->convs[i];
      bool known;

      hc_cursors_get(&c->cur, ci->conv, &known);
      if (!known &&
          hc_cursors_set(&c->cur, ci->conv,
                         ci->last > c->backlog ? ci->last - c->backlog : 0) != 0)
        break;
    }
    hc_conn_cursors_changed(c);
  }
  /* Without the list (a refusal that will not change) sync anyway: the
   * unknown conversations then replay in full, which is correct, only
   * longer. */
  send_sync(c);
}

static void start(struct hc_conn *c)
{
  struct proto_frame f;

  if (!c->authed)
    return;
  if (c->sync_id || c->conv_list_id) {
    c->resync = true;
    return;
  }
  if (c->limit_backlog) {
    proto_frame_init(&f, PROTO_T_CONV_LIST);
    if (hc_req_queue(c, &f, conv_list_cb, NULL, true, false,
                     &c->conv_list_id) != 0) {
      c->conv_list_id = 0;
      schedule_retry(c);
    }
    return;
  }
  send_sync(c);
}

void hc_sync_start(struct hc_conn *c)
{
  c->synced = false;
  c->resync = false;
  hc_transport_kick(c);       /* the outbox goes first */
  start(c);
}

void hc_sync_request(struct hc_conn *c)
{
  start(c);
}

void hc_sync_timer(struct hc_conn *c)
{
  start(c);
}

void hc_sync_reset(struct hc_conn *c)
{
  /* The requests themselves fail with the connection (request.c). */
  c->synced = false;
  c->resync = false;
  c->resync_at = 0;
}

/* ---- messages ---- */

static void apply_msg(struct hc_conn *c, const struct proto_msg *m,
                      bool replay)
{
  struct hc_event ev = {.type = HC_EV_MSG, .msg = m, .replay = replay};
  uint64_t last = hc_cursors_get(&c->cur, m->conv, NULL);

  if (last && m->seq <= last)
    return;                         /* seen already */
  if (last && m->seq != last + 1) {
    hc_sync_request(c);             /* a gap: fetch it in order */
    return;
  }
  hc_emit(c, &ev);
  if (hc_cursors_set(&c->cur, m->conv, m->seq) != 0) {
    /* Out of memory for a new conversation: the message was shown; the
     * next sync may show it again. */
    return;
  }
  hc_conn_cursors_changed(c);
}

void hc_sync_live_msg(struct hc_conn *c, const struct proto_msg *m)
{
  apply_msg(c, m, false);
}

/* ---- the feed ---- */

/* The fs of a feed item of the given event type. */
static uint64_t feed_fs(enum hc_event_type t, const void *item)
{
  switch (t) {
  case HC_EV_RECEIPT:
    return ((const struct proto_receipt *)item)->fs;
  case HC_EV_DING_UPDATE:
    return ((const struct proto_ding_update *)item)->fs;
  case HC_EV_REMIND:
    return ((const struct proto_remind *)item)->fs;
  default:
    return ((const struct proto_card_event *)item)->fs;
  }
}

static void emit_feed(struct hc_conn *c, enum hc_event_type t, const void *item)
{
  struct hc_event ev = {.type = t};

  if (t == HC_EV_RECEIPT)
    ev.receipt = item;
  else if (t == HC_EV_DING_UPDATE)
    ev.ding_update = item;
  else if (t == HC_EV_REMIND)
    ev.remind = item;
  else
    ev.card_event = item;
  hc_emit(c, &ev);
}

void hc_sync_live_feed(struct hc_conn *c, const struct proto_frame *f)
{
  enum hc_event_type t;
  const void *item;
  uint64_t fs;

  switch (f->type) {
  case PROTO_T_RECEIPT:
    t = HC_EV_RECEIPT, item = &f->u.receipt, fs = f->u.receipt.fs;
    break;
  case PROTO_T_DING_UPDATE:
    t = HC_EV_DING_UPDATE, item = &f->u.ding_update, fs = f->u.ding_update.fs;
    break;
  case PROTO_T_REMIND:
    t = HC_EV_REMIND, item = &f->u.remind, fs = f->u.remind.fs;
    break;
  default:
    t = HC_EV_CARD_EVENT, item = &f->u.card_event, fs = f->u.card_event.fs;
    break;
  }
  if (fs && c->cur.feed) {
    if (fs <= c->cur.feed)
      return;
    if (fs != c->cur.feed + 1) {
      hc_sync_request(c);
      return;
    }
  }
  emit_feed(c, t, item);
  if (fs) {
    hc_cursors_set_feed(&c->cur, fs);
    hc_conn_cursors_changed(c);
  }
}

/* A feed page: its arrays merged in fs order; what the device has already
 * seen (fs <= cursor) is skipped. */
static void apply_feed(struct hc_conn *c, const struct proto_feed *fd)
{
  /* One cursor per array: items, count, size of an item, event type. */
  struct lane {
    const char *items;
    size_t n, size, at;
    enum hc_event_type type;
  } lanes[] = {
    {(const char *)fd->rcpt, fd->nrcpt, sizeof(*fd->rcpt), 0, HC_EV_RECEIPT},
    {(const char *)fd->ding, fd->nding, sizeof(*fd->ding), 0,
     HC_EV_DING_UPDATE},
    {(const char *)fd->cards, fd->ncards, sizeof(*fd->cards), 0,
     HC_EV_CARD_EVENT},
    {(const char *)fd->remind, fd->nremind, sizeof(*fd->remind), 0,
     HC_EV_REMIND},
  };
  const size_t nlanes = sizeof(lanes) / sizeof(lanes[0]);

  while (!c->free_pending) {
    struct lane *best = NULL;
    uint64_t best_fs = UINT64_MAX;
    const void *item;

    for (size_t l = 0; l < nlanes; l++) {
      uint64_t fs;

      if (lanes[l].at == lanes[l].n)
        continue;
      item = lanes[l].items + lanes[l].at * lanes[l].size;
      fs = feed_fs(lanes[l].type, item);
      if (!best || fs < best_fs) {
        best = &lanes[l];
        best_fs = fs;
      }
    }
    if (!best)
      break;
    item = best->items + best->at * best->size;
    best->at++;
    if (best_fs > c->cur.feed || best_fs == 0)
      emit_feed(c, best->type, item);
    if (best_fs > c->cur.feed)
      hc_cursors_set_feed(&c->cur, best_fs);
  }
  if (fd->next > c->cur.feed)
    hc_cursors_set_feed(&c->cur, fd->next);
  hc_conn_cursors_changed(c);
}

void hc_sync_frame(struct hc_conn *c, const struct proto_frame *f, int err)
{
  switch (f->type) {
  case PROTO_T_PAGE:
    for (size_t i = 0; i < f->u.page.nmsgs && !c->free_pending; i++)
      apply_msg(c, &f->u.page.msgs[i], true);
    break;
  case PROTO_T_FEED:
    apply_feed(c, &f->u.feed);
    break;
  default:                          /* synced or error: terminal */
    hc_req_reply(c, f, err);
    break;
  }
}

/* ---- public cursor functions ---- */

uint64_t hc_cursor_get(const struct hc_conn *c, uint64_t conv)
{
  return c ? hc_cursors_get(&c->cur, conv, NULL) : 0;
}

uint64_t hc_feed_cursor(const struct hc_conn *c)
{
  return c ? c->cur.feed : 0;
}

int hc_cursor_set(struct hc_conn *c, uint64_t conv, uint64_t seq)
{
  int rc;

  if (!c || conv == 0 || conv > PROTO_ID_MAX || seq > PROTO_ID_MAX)
    return -EINVAL;
  if ((rc = hc_cursors_set(&c->cur, conv, seq)) == 0)
    hc_conn_cursors_changed(c);
  return rc;
}

int hc_flush(struct hc_conn *c)
{
  return c ? hc_conn_flush(c) : -EINVAL;
}
