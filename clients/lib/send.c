/*
 * send.c — the application's side of the outbox: hc_outbox_add() and its
 * shorthands for sends, reads and DING acks, and a walk over the entries
 * (a client shows its unsent messages at start-up from it).
 *
 * The outbox itself (outbox.c) knows nothing of connections; this file
 * applies the connection's bounds, fills in cmids and read times, and
 * wakes the writer.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "hc_int.h"

static uint64_t wall_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int hc_outbox_add(struct hc_conn *c, const struct proto_frame *req,
                  uint64_t *oid, char cmid_out[HC_CMID_SIZE])
{
  struct hc_obx_entry *e;
  struct proto_frame g;
  char cmid[HC_CMID_SIZE];
  int rc;

  if (!c || !req || c->free_pending)
    return -EINVAL;
  if (req->type != PROTO_T_SEND && req->type != PROTO_T_READ &&
      req->type != PROTO_T_DING_ACK && req->type != PROTO_T_CARD_ACTION)
    return PROTO_E_UNEXPECTED;
  if (c->ob.n >= c->max_outbox || c->ob.bytes >= c->max_outbox_bytes)
    return PROTO_E_QUEUE_FULL;
  g = *req;                    /* shallow: only read by the encoder */
  g.arena_ = NULL;
  if (g.type == PROTO_T_SEND && !g.u.send.cmid.p) {
    hc_cmid_new(cmid);
    g.u.send.cmid = (struct proto_str){cmid, HC_CMID_LEN};
  } else if (g.type == PROTO_T_CARD_ACTION && !g.u.card_action.cmid.p) {
    hc_cmid_new(cmid);
    g.u.card_action.cmid = (struct proto_str){cmid, HC_CMID_LEN};
  }
  rc = hc_outbox_append(&c->ob, &g, hc_conn_max_frame(c), &e);
  if (rc != 0)
    return rc;
  if (oid)
    *oid = e->oid;
  if (cmid_out)
    memcpy(cmid_out, e->cmid, HC_CMID_SIZE);
  hc_transport_kick(c);
  return 0;
}

int hc_send_text(struct hc_conn *c, uint64_t conv, const char *text,
                 size_t len, uint64_t *oid, char cmid_out[HC_CMID_SIZE])
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_SEND);
  f.u.send.conv = conv;
  f.u.send.kind = PROTO_KIND_TEXT;
  f.u.send.body = (struct proto_str){text, len};
  return hc_outbox_add(c, &f, oid, cmid_out);
}

int hc_send_ding(struct hc_conn *c, uint64_t conv, const char *text,
                 size_t len, enum proto_urgency urg, const uint64_t *to,
                 size_t nto, const uint64_t *esc, size_t nesc, uint64_t *oid,
                 char cmid_out[HC_CMID_SIZE])
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_SEND);
  f.u.send.conv = conv;
  f.u.send.kind = PROTO_KIND_DING;
  f.u.send.body = (struct proto_str){text, len};
  f.u.send.urg = urg;
  f.u.send.to = to;
  f.u.send.nto = nto;
  f.u.send.all = nto == 0;
  f.u.send.esc = esc;
  f.u.send.nesc = nesc;
  return hc_outbox_add(c, &f, oid, cmid_out);
}

static int mark(struct hc_conn *c, enum proto_type t, uint64_t conv,
                uint64_t seq, uint64_t at_ms, uint64_t *oid)
{
  struct proto_frame f;

  proto_frame_init(&f, t);
  /* The time it happened travels with it: replayed a day later, the read
   * still counts when it was made (the server clamps it). */
  f.u.read.conv = conv;
  f.u.read.seq = seq;
  f.u.read.at = at_ms ? at_ms : wall_ms();   /* ding_ack: the same struct */
  return hc_outbox_add(c, &f, oid, NULL);
}

int hc_mark_read(struct hc_conn *c, uint64_t conv, uint64_t seq,
                 uint64_t at_ms, uint64_t *oid)
{
  return mark(c, PROTO_T_READ, conv, seq, at_ms, oid);
}

int hc_ding_ack(struct hc_conn *c, uint64_t conv, uint64_t seq,
                uint64_t at_ms, uint64_t *oid)
{
  return mark(c, PROTO_T_DING_ACK, conv, seq, at_ms, oid);
}

size_t hc_outbox_count(const struct hc_conn *c)
{
  return c ? c->ob.n : 0;
}

void hc_outbox_foreach(struct hc_conn *c, hc_outbox_fn fn, void *arg)
{
  struct proto_limits lim = {.max_frame = 64u << 20,
                             .max_depth = PROTO_DEPTH_CAP,
                             .max_body = 64u << 20,
                             .accept = PROTO_FROM_CLIENT};

  if (!c || !fn)
    return;
  for (size_t i = 0; i < c->ob.n; i++) {
    struct hc_obx_entry *e = c->ob.v[i];
    struct proto_frame f;
    int stop = 0;

    if (proto_decode(hc_obx_frame(&c->ob, e), e->len, &lim, &f, NULL) == 0)
      stop = fn(e->oid, &f, arg);
    proto_frame_cleanup(&f);
    if (stop)
      break;
  }
}
