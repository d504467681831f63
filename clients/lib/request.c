/*
 * request.c — requests and their replies.
 *
 * Every client frame is a request answered by exactly one terminal frame
 * with the request's `id` (PROTOCOL.md 3.2). Requests get ids from a
 * counter per connection; outbox entries use HC_OID_BIT | oid instead, so a
 * reply tells at once which list to look in. A request is encoded when it
 * is made (with LWS_PRE headroom, so the transport writes it in place),
 * waits in `txq`, moves to `pend` once written, and leaves with its reply.
 * A disconnect fails every request of the connection with -ECONNRESET
 * (outbox entries, in contrast, are simply sent again).
 *
 * What to write next, in this order: before the welcome only the hello or
 * login; then the outbox (in order, at most `window` entries unanswered,
 * not during a hold after a retryable refusal), then the other requests.
 * So after a reconnect the outbox is replayed before the sync and before
 * anything the application asked meanwhile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hc_int.h"

/* A login frame carries the password: wipe it before the memory goes. */
static void wipe_buf(struct hc_req *r)
{
  if (r->buf && r->type == PROTO_T_LOGIN)
    explicit_bzero(r->buf, hc_transport_headroom() + r->len);
}

static void req_free(struct hc_req *r)
{
  wipe_buf(r);
  free(r->buf);
  free(r);
}

static void drop_buf(struct proto_buf *pb, enum proto_type t)
{
  if (t == PROTO_T_LOGIN && pb->data)
    explicit_bzero(pb->data, pb->len);
  proto_buf_cleanup(pb);
}

int hc_req_queue(struct hc_conn *c, const struct proto_frame *f,
                 hc_reply_cb cb, void *arg, bool internal, bool front,
                 uint64_t *id_out)
{
  struct proto_frame g;
  struct proto_buf pb;
  struct hc_req *r;
  size_t headroom = hc_transport_headroom();
  int rc;

  if (!(r = calloc(1, sizeof *r)))
    return -ENOMEM;
  /* Ids below HC_OID_BIT; 2^62 requests do not happen. */
  r->id = ++c->next_id;
  r->type = (uint8_t)f->type;
  r->internal = internal;
  r->cb = cb;
  r->arg = arg;
  g = *f;                 /* shallow: the encoder only reads */
  g.id = r->id;
  g.arena_ = NULL;
  proto_buf_init(&pb);
  if ((rc = proto_encode(&g, headroom, &pb)) != 0) {
    proto_buf_cleanup(&pb);
    free(r);
    return rc;
  }
  if (proto_buf_size(&pb) > hc_conn_max_frame(c)) {
    drop_buf(&pb, f->type);
    free(r);
    return PROTO_E_TOO_LARGE;
  }
  /* Keep only the bytes: headroom + frame. */
  r->len = proto_buf_size(&pb);
  r->buf = malloc(headroom + r->len);
  if (!r->buf) {
    drop_buf(&pb, f->type);
    free(r);
    return -ENOMEM;
  }
  memset(r->buf, 0, headroom);
  memcpy(r->buf + headroom, proto_buf_frame(&pb), r->len);
  drop_buf(&pb, f->type);

  if (front) {
    r->next = c->txq;
    c->txq = r;
    if (!c->txq_tail)
      c->txq_tail = r;
  } else {
    if (c->txq_tail)
      c->txq_tail->next = r;
    else
      c->txq = r;
    c->txq_tail = r;
  }
  if (!internal)
    c->nreq++;
  if (id_out)
    *id_out = r->id;
  hc_transport_kick(c);
  return 0;
}

int hc_request(struct hc_conn *c, const struct proto_frame *req,
               hc_reply_cb cb, void *arg, uint64_t *id_out)
{
  uint64_t id;
  int rc;

  if (!c || !req || c->free_pending)
    return -EINVAL;
  if (proto_type_sender(req->type) != PROTO_FROM_CLIENT ||
      req->type == PROTO_T_HELLO || req->type == PROTO_T_LOGIN ||
      req->type == PROTO_T_SYNC)
    return PROTO_E_UNEXPECTED;
  if (c->state != HC_STATE_CONNECTING && c->state != HC_STATE_ONLINE)
    return -ENOTCONN;
  if (c->nreq >= c->max_queue)
    return PROTO_E_QUEUE_FULL;
  rc = hc_req_queue(c, req, cb, arg, false, false, &id);
  if (rc != 0)
    return rc;
  if (req->type == PROTO_T_LOGOUT)
    c->logout_id = id;
  if (id_out)
    *id_out = id;
  return 0;
}

static struct hc_req *find(struct hc_req *list, uint64_t id)
{
  for (; list; list = list->next)
    if (list->id == id)
      return list;
  return NULL;
}

void hc_request_forget(struct hc_conn *c, uint64_t id)
{
  struct hc_req *r;

  if (!c)
    return;
  if ((r = find(c->pend, id)) || (r = find(c->txq, id))) {
    if (!r->internal) {
      r->cb = NULL;
      r->arg = NULL;
    }
  }
}

/* Unlinks and returns the pending request `id`, or NULL. */
static struct hc_req *take_pending(struct hc_conn *c, uint64_t id)
{
  struct hc_req *prev = NULL;

  for (struct hc_req *r = c->pend; r; prev = r, r = r->next) {
    if (r->id != id)
      continue;
    if (prev)
      prev->next = r->next;
    else
      c->pend = r->next;
    if (c->pend_tail == r)
      c->pend_tail = prev;
    r->next = NULL;
    return r;
  }
  return NULL;
}

bool hc_req_reply(struct hc_conn *c, const struct proto_frame *f, int err)
{
  struct hc_req *r = take_pending(c, f->id);

  if (!r)
    return false;
  if (!r->internal)
    c->nreq--;
  if (r->id == c->logout_id) {
    c->logout_id = 0;
    if (err == 0) {
      /* The token is revoked; the server closes with 1000 next, and this
       * connection must not log in again by itself. */
      c->logged_out = true;
    }
  }
  if (r->cb)
    r->cb(c, err, err ? (f->type == PROTO_T_ERROR ? f : NULL) : f, r->arg);
  req_free(r);
  return true;
}

static void fail_list(struct hc_conn *c, struct hc_req *list, int err)
{
  while (list) {
    struct hc_req *r = list;

    list = r->next;
    if (!r->internal)
      c->nreq--;
    if (r->cb && !c->free_pending)
      r->cb(c, err, NULL, r->arg);
    req_free(r);
  }
}

void hc_req_fail_all(struct hc_conn *c, int err)
{
  /* Detach both lists first: callbacks may queue new requests. */
  struct hc_req *pend = c->pend, *txq = c->txq;

  c->pend = c->pend_tail = NULL;
  c->txq = c->txq_tail = NULL;
  c->logout_id = 0;
  fail_list(c, pend, err);
  fail_list(c, txq, err);
}

void hc_req_drop_all(struct hc_conn *c)
{
  struct hc_req *lists[2] = {c->pend, c->txq};

  for (int i = 0; i < 2; i++) {
    while (lists[i]) {
      struct hc_req *r = lists[i];

      lists[i] = r->next;
      req_free(r);
    }
  }
  c->pend = c->pend_tail = c->txq = c->txq_tail = NULL;
  c->nreq = 0;
}

/* Refuses an outbox entry for good: removed, then reported. */
static void outbox_fail(struct hc_conn *c, struct hc_obx_entry *e, int err,
                        const struct proto_frame *f)
{
  struct hc_event ev = {.type = HC_EV_OUTBOX_FAILED, .err = err, .frame = f};
  char cmid[PROTO_CMID_MAX + 1];

  memcpy(cmid, e->cmid, sizeof cmid);
  ev.oid = e->oid;
  ev.otype = (enum proto_type)e->type;
  ev.cmid = cmid;
  hc_outbox_complete(&c->ob, e->oid);
  hc_emit(c, &ev);
}

static bool outbox_may_send(const struct hc_conn *c)
{
  return !c->hold_until && c->ob.inflight < c->window;
}

bool hc_req_want_write(struct hc_conn *c)
{
  if (!c->authed)
    return c->txq && c->txq->id == c->auth_id;
  if (outbox_may_send(c) && hc_outbox_next(&c->ob))
    return true;
  return c->txq != NULL;
}

bool hc_req_next_write(struct hc_conn *c, struct hc_wr *w)
{
  size_t headroom = hc_transport_headroom();
  struct hc_obx_entry *e;

  memset(w, 0, sizeof *w);
  if (!c->authed) {
    /* Only the hello/login goes before the welcome. */
    if (!c->txq || c->txq->id != c->auth_id)
      return false;
    w->req = c->txq;
  } else {
    while (outbox_may_send(c) && (e = hc_outbox_next(&c->ob))) {
      if (e->len > hc_conn_max_frame(c)) {
        /* welcome.lim.frame shrank since the entry was made: the server
         * would close the connection on it, every time. */
        outbox_fail(c, e, PROTO_E_TOO_LARGE, NULL);
        continue;
      }
      w->entry = e;
      w->frame = e->data + c->ob.headroom;
      w->len = e->len;
      return true;
    }
    if (!c->txq)
      return false;
    w->req = c->txq;
  }
  w->frame = w->req->buf + headroom;
  w->len = w->req->len;
  return true;
}

void hc_req_written(struct hc_conn *c, struct hc_wr *w)
{
  struct hc_req *r = w->req;

  if (w->entry) {
    hc_outbox_sent(&c->ob, w->entry);
    return;
  }
  /* r is the head of txq (nothing changes the queue between the choice
   * and the write: both happen in one WRITEABLE callback). */
  c->txq = r->next;
  if (!c->txq)
    c->txq_tail = NULL;
  r->next = NULL;
  wipe_buf(r);
  free(r->buf);
  r->buf = NULL;
  if (c->pend_tail)
    c->pend_tail->next = r;
  else
    c->pend = r;
  c->pend_tail = r;
}

void hc_req_outbox_reply(struct hc_conn *c, const struct proto_frame *f,
                         int err)
{
  struct hc_obx_entry *e = hc_outbox_find(&c->ob, f->id & ~HC_OID_BIT);
  struct hc_event ev = {.frame = f};
  char cmid[PROTO_CMID_MAX + 1];

  /* A reply to an attempt from an earlier connection, or a second reply:
   * the entry is gone or not in flight. */
  if (!e || e->state != HC_OBX_INFLIGHT)
    return;
  if (err && proto_err_retryable(err)) {
    /* DB_UNAVAILABLE, TOO_MANY_REQUESTS...: keep it, pause the outbox,
     * send it again after a backoff starting at one second. */
    hc_outbox_unsend(&c->ob, e);
    c->hold_until = hc_conn_now(c) + 1 +
                    hc_backoff_next(&c->hold_bo, hc_ctx_rand(c->ctx));
    hc_conn_arm(c);
    return;
  }
  if (err) {
    outbox_fail(c, e, err, f);
  } else {
    memcpy(cmid, e->cmid, sizeof cmid);
    ev.type = HC_EV_OUTBOX_DONE;
    ev.oid = e->oid;
    ev.otype = (enum proto_type)e->type;
    ev.cmid = cmid;
    ev.dup = f->type == PROTO_T_ACK ? f->u.ack.dup
             : f->type == PROTO_T_RESULT ? f->u.result.dup : false;
    hc_backoff_reset(&c->hold_bo);
    hc_outbox_complete(&c->ob, e->oid);
    hc_emit(c, &ev);
  }
  hc_transport_kick(c);
}
