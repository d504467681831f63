/*
 * transport.c — the WebSocket under a connection: the one file of the
 * client library that talks to libwebsockets about sockets.
 *
 * The lws protocol "herald.v1" (the subprotocol offered in the handshake)
 * has one callback for every connection of the context; the connection is
 * found through the wsi's opaque user data. libwebsockets' rules are kept:
 * one lws_write per CLIENT_WRITEABLE, LWS_PRE bytes of headroom in front
 * of every frame, and a message is handed on only once complete
 * (reassembled under welcome.lim.sframe). lws masks a client's payload in
 * place, so requests (written once) go out from their own buffer and
 * outbox entries (written again after every reconnect) from a copy.
 *
 * Detaching: when the library drops a connection (a protocol error, a
 * refused login, hc_conn_free) the wsi gets a marker as its opaque data
 * instead of the connection, so that nothing that lws reports later about
 * it reaches the connection; the wsi is closed from its own callback
 * (returning -1) — at once if that callback is running, else at its next
 * callback, which lws_callback_on_writable() brings.
 *
 * With the libuv event loop, libwebsockets arms its timers (connect and
 * handshake timeouts among them) only from inside its own callbacks; a
 * connect started from one of our timers is followed by
 * lws_cancel_service(), whose wake-up runs lws's idle processing and arms
 * them.
 */
#include <errno.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "hc_int.h"

/* Chunks of a received message are at most this big; larger messages are
 * reassembled (reassembly buffers exist only while one is in progress). */
#define RX_CHUNK 1024
#define RX_KEEP 4096             /* a buffer above this is not kept */
/* A failed attempt that took this long ran into a timeout. */
#define CONNECT_SLOW_MS 5000

static char detached_marker;

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason,
                 void *user, void *in, size_t len);

static const struct lws_protocols protocols[] = {
  {PROTO_SUBPROTOCOL, ws_cb, 0, RX_CHUNK, 0, NULL, 0},
  {NULL, NULL, 0, 0, 0, NULL, 0}
};

const void *hc_transport_protocols(void)
{
  return protocols;
}

size_t hc_transport_headroom(void)
{
  return LWS_PRE;
}

int hc_transport_connect(struct hc_conn *c)
{
  struct lws_client_connect_info i;

  memset(&i, 0, sizeof i);
  i.context = c->ctx->lws;
  i.address = c->host;
  i.port = c->port;
  i.path = c->path;
  i.host = c->hosthdr;
  i.origin = NULL;            /* a native client sends no Origin */
  i.protocol = PROTO_SUBPROTOCOL;
  if (c->tls) {
    /* The certificate is verified against the vhost's CAs, and its name
     * against the URL's host (lws takes it from i.host, port cut off). */
    i.ssl_connection = LCCSCF_USE_SSL |
                       (c->tls_self_signed ? LCCSCF_ALLOW_SELFSIGNED : 0);
    i.vhost = c->tls_vhost;
    /* HTTP/1.1 only: the WebSocket upgrade is an HTTP/1.1 thing. */
    i.alpn = "http/1.1";
  }
  i.opaque_user_data = c;
  i.retry_and_idle_policy = c->ctx->keepalive;
  i.pwsi = &c->wsi;
  c->wsi = NULL;
  c->peer_close = 0;
  c->connect_started = hc_conn_now(c);
  if (!lws_client_connect_via_info(&i)) {
    /* Failed inside the call (lws reports that by the return value, not
     * by CLIENT_CONNECTION_ERROR), typically a name that does not
     * resolve; *pwsi may point at a freed wsi. */
    c->wsi = NULL;
    return -EHOSTUNREACH;
  }
  lws_cancel_service(c->ctx->lws);
  return 0;
}

void hc_transport_kick(struct hc_conn *c)
{
  if (c->wsi && c->ws_up && hc_req_want_write(c))
    lws_callback_on_writable(c->wsi);
}

void hc_transport_close(struct hc_conn *c, int status)
{
  struct lws *wsi = c->wsi;

  if (!wsi)
    return;
  c->wsi = NULL;
  lws_set_opaque_user_data(wsi, &detached_marker);
  c->ctx->close_status = status;
  if (wsi != c->cb_wsi)
    lws_callback_on_writable(wsi);
  /* else: ws_cb sees the wsi detached and returns -1 after this callback */
}

/* Appends a fragment to the reassembly buffer; -1 above `max`. */
static int rx_append(struct hc_conn *c, const void *in, size_t len,
                     size_t remaining, size_t max)
{
  size_t need = c->rx_len + len;

  if (need > max || remaining > max - need)
    return -1;
  if (need > c->rx_cap) {
    size_t cap = c->rx_cap ? c->rx_cap : RX_CHUNK;
    uint8_t *p;

    while (cap < need + remaining)
      cap *= 2;
    if (cap > max)
      cap = max;
    if (!(p = realloc(c->rx, cap)))
      return -1;
    c->rx = p;
    c->rx_cap = cap;
  }
  memcpy(c->rx + c->rx_len, in, len);
  c->rx_len += len;
  return 0;
}

static void on_rx(struct hc_conn *c, struct lws *wsi, const void *in,
                  size_t len)
{
  size_t remaining = lws_remaining_packet_payload(wsi);
  bool final = lws_is_final_fragment(wsi) && remaining == 0;
  size_t max = hc_conn_max_sframe(c);

  if (lws_is_first_fragment(wsi) && c->rx_len == 0 &&
      !lws_frame_is_binary(wsi)) {
    hc_conn_drop(c, -EPROTO, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE);
    return;
  }
  if (final && c->rx_len == 0) {
    if (len > max)
      goto too_big;
    hc_conn_on_message(c, in, len);          /* the common case: no copy */
    return;
  }
  if (rx_append(c, in, len, remaining, max) != 0)
    goto too_big;
  if (final) {
    /* Take the buffer: the dispatch may drop the connection, which frees
     * c->rx, while the decoded frame still borrows from it. */
    uint8_t *buf = c->rx;
    size_t n = c->rx_len, cap = c->rx_cap;

    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
    hc_conn_on_message(c, buf, n);
    if (!c->rx && cap <= RX_KEEP && c->wsi == wsi) {
      c->rx = buf;
      c->rx_cap = cap;
    } else {
      free(buf);
    }
  }
  return;
too_big:
  hc_conn_drop(c, PROTO_E_TOO_LARGE, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
}

/* The context's scratch buffer, `len` bytes after LWS_PRE headroom. One
 * loop thread writes one frame at a time, and lws copies what the kernel
 * did not take, so one buffer serves every connection. */
static uint8_t *scratch(struct hc_ctx *ctx, size_t len)
{
  if (LWS_PRE + len > ctx->scratch_cap) {
    size_t cap = ctx->scratch_cap ? ctx->scratch_cap : 4096;
    uint8_t *p;

    while (cap < LWS_PRE + len)
      cap *= 2;
    if (!(p = realloc(ctx->scratch, cap)))
      return NULL;
    ctx->scratch = p;
    ctx->scratch_cap = cap;
  }
  return ctx->scratch + LWS_PRE;
}

static int on_writeable(struct hc_conn *c, struct lws *wsi)
{
  struct hc_wr w;
  int n;

  if (!hc_req_next_write(c, &w))
    return 0;
  if (w.entry) {
    /* A client masks what it sends (RFC 6455 5.3) and lws does so in
     * place. An outbox entry must stay intact for its re-sends, so it goes
     * out from a copy in the context's scratch buffer. */
    uint8_t *p = scratch(c->ctx, w.len);

    if (!p)
      return -1;
    memcpy(p, w.frame, w.len);
    w.frame = p;
  }
  n = lws_write(wsi, w.frame, w.len, LWS_WRITE_BINARY);
  if (n < 0 || (size_t)n < w.len)
    return -1;                   /* lws closes; CLIENT_CLOSED follows */
  hc_req_written(c, &w);
  if (c->wsi == wsi && hc_req_want_write(c))
    lws_callback_on_writable(wsi);
  return 0;
}

/* Why a connection attempt failed, from lws's message and how long it
 * took (lws says "closed before established" both for a refused connect
 * and for one its timeout ended). */
static int connect_error(const struct hc_conn *c, const char *msg)
{
  if (msg && (strstr(msg, "HS:") || strstr(msg, "upgrade") ||
              strstr(msg, "protocol")))
    return -EPROTO;              /* reached a server that refused us */
  /* wss://: the handshake failed, or the server's certificate was not
   * trusted or does not name the host ("connect SSL err", "server's cert
   * didn't look good"). */
  if (msg && (strstr(msg, "SSL") || strstr(msg, "cert")))
    return -EKEYREJECTED;
  if ((msg && strstr(msg, "timed out")) ||
      hc_conn_now(c) - c->connect_started >= CONNECT_SLOW_MS)
    return -ETIMEDOUT;
  return -ECONNREFUSED;
}

/* What a close by the server means for hc_conn_err(). */
static int close_error(int status)
{
  switch (status) {
  case LWS_CLOSE_STATUS_NORMAL:
    return 0;
  case LWS_CLOSE_STATUS_GOINGAWAY:
    return PROTO_E_SHUTTING_DOWN;
  case LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE:
    return PROTO_E_TOO_LARGE;
  case LWS_CLOSE_STATUS_PROTOCOL_ERR:
  case LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE:
  case LWS_CLOSE_STATUS_INVALID_PAYLOAD:
    return -EPROTO;
  default:
    return -ECONNRESET;
  }
}

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason,
                 void *user, void *in, size_t len)
{
  void *op = lws_get_opaque_user_data(wsi);
  struct hc_conn *c;
  bool detached;
  int rc = 0;

  (void)user;
  if (op == &detached_marker) {
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
    case LWS_CALLBACK_CLIENT_RECEIVE:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
      return -1;
    default:
      return 0;
    }
  }
  c = op;
  if (!c || c->wsi != wsi)
    return 0;                    /* not a connection of ours (any more) */

  hc_conn_enter(c);
  c->cb_wsi = wsi;
  switch (reason) {
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    c->wsi = NULL;
    lws_set_opaque_user_data(wsi, NULL);
    hc_conn_down(c, connect_error(c, in));
    break;
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    hc_conn_ws_up(c);
    break;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    on_rx(c, wsi, in, len);
    break;
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    rc = on_writeable(c, wsi);
    break;
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    if (len >= 2)
      c->peer_close = ((const uint8_t *)in)[0] << 8 |
                      ((const uint8_t *)in)[1];
    break;
  case LWS_CALLBACK_CLIENT_CLOSED:
    c->wsi = NULL;
    lws_set_opaque_user_data(wsi, NULL);
    hc_conn_down(c, c->peer_close ? close_error(c->peer_close)
                                  : -ECONNRESET);
    break;
  default:
    break;
  }
  c->cb_wsi = NULL;
  detached = c->wsi != wsi;
  /* May finish a deferred hc_conn_free(); the struct itself lives until
   * its timer handle is closed, later in the loop. */
  hc_conn_leave(c);
  if (rc == 0 && detached &&
      (reason == LWS_CALLBACK_CLIENT_ESTABLISHED ||
       reason == LWS_CALLBACK_CLIENT_RECEIVE ||
       reason == LWS_CALLBACK_CLIENT_WRITEABLE)) {
    lws_close_reason(wsi, (enum lws_close_status)c->ctx->close_status,
                     NULL, 0);
    rc = -1;
  }
  return rc;
}
