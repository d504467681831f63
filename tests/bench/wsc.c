/*
 * wsc.c — the raw WebSocket client (see wsc.h).
 *
 * libwebsockets joins the application's libuv loop as a foreign loop (as
 * heraldd and herald_client do). A wsc is found from its wsi through the
 * wsi's opaque user data; wsc_free() of a live connection detaches it
 * (opaque data NULL) and asks for a writeable callback, in which the wsi
 * closes itself by returning -1 — libwebsockets allows a close only from
 * the wsi's own callbacks.
 */
#include "wsc.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#define RX_CHUNK 16384

struct wsc_ctx {
  uv_loop_t *loop;
  struct lws_context *lws;
  struct lws_context *alive;   /* NULLed by lws when fully destroyed */
};

struct wsc_msg {
  struct wsc_msg *next;
  size_t len;
  uint8_t data[];              /* LWS_PRE headroom, then the message */
};

struct wsc {
  struct wsc_ctx *ctx;
  struct lws *wsi;
  const struct wsc_handler *h;
  void *user;
  bool stream, open, in_cb, free_pending;
  size_t max_message;
  /* Message mode: a queue of messages. */
  struct wsc_msg *qh, *qt;
  size_t qn;
  /* Stream mode: one buffer, LWS_PRE headroom then the bytes. */
  uint8_t *sb;
  size_t slen, scap;
  /* Message reassembly. */
  uint8_t *rx;
  size_t rx_len, rx_cap;
};

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason,
                 void *user, void *in, size_t len);

static const struct lws_protocols protocols[] = {
  {"wsc", ws_cb, 0, RX_CHUNK, 0, NULL, 0},
  {NULL, NULL, 0, 0, 0, NULL, 0}
};

int wsc_ctx_new(uv_loop_t *loop, struct wsc_ctx **out)
{
  struct lws_context_creation_info info;
  struct wsc_ctx *ctx = calloc(1, sizeof *ctx);
  void *loops[1] = {loop};

  *out = NULL;
  if (!ctx)
    return -1;
  ctx->loop = loop;
  lws_set_log_level(LLL_ERR, NULL);
  memset(&info, 0, sizeof info);
  info.foreign_loops = loops;
  info.options = LWS_SERVER_OPTION_LIBUV;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.pcontext = &ctx->alive;
  info.gid = (gid_t)-1;
  info.uid = (uid_t)-1;
  info.timeout_secs = 20;
  if (!(ctx->lws = lws_create_context(&info))) {
    free(ctx);
    return -1;
  }
  ctx->alive = ctx->lws;
  *out = ctx;
  return 0;
}

void wsc_ctx_free(struct wsc_ctx *ctx)
{
  if (!ctx)
    return;
  lws_context_destroy(ctx->lws);
  for (int i = 0; i < 10000 && ctx->alive; i++)
    uv_run(ctx->loop, UV_RUN_NOWAIT);
  if (ctx->alive)
    lws_context_destroy(ctx->alive);
  free(ctx);
}

struct wsc *wsc_connect(struct wsc_ctx *ctx, const struct wsc_config *cfg,
                        const struct wsc_handler *h, void *user)
{
  struct lws_client_connect_info i;
  struct wsc *w = calloc(1, sizeof *w);
  char host[300];

  if (!w)
    return NULL;
  w->ctx = ctx;
  w->h = h;
  w->user = user;
  w->stream = cfg->stream;
  w->max_message = cfg->max_message ? cfg->max_message : (4u << 20);
  snprintf(host, sizeof host, "%s:%d", cfg->host, cfg->port);
  memset(&i, 0, sizeof i);
  i.context = ctx->lws;
  i.address = cfg->host;
  i.port = cfg->port;
  i.path = cfg->path ? cfg->path : "/";
  i.host = host;
  i.origin = NULL;
  i.protocol = cfg->subprotocol;
  i.local_protocol_name = "wsc";
  i.opaque_user_data = w;
  i.pwsi = &w->wsi;
  if (!lws_client_connect_via_info(&i)) {
    free(w);
    return NULL;
  }
  /* From outside an lws callback (a timer), lws arms its own timers only
   * after a wake-up of its loop integration. */
  lws_cancel_service(ctx->lws);
  return w;
}

void *wsc_user(const struct wsc *w)
{
  return w->user;
}

bool wsc_is_open(const struct wsc *w)
{
  return w && w->open && !w->free_pending;
}

size_t wsc_queued(const struct wsc *w)
{
  return w->stream ? w->slen : w->qn;
}

int wsc_send(struct wsc *w, const void *p, size_t len)
{
  if (!wsc_is_open(w))
    return -1;
  if (w->stream) {
    if (LWS_PRE + w->slen + len > w->scap) {
      size_t cap = w->scap ? w->scap : 4096;
      uint8_t *b;

      while (cap < LWS_PRE + w->slen + len)
        cap *= 2;
      if (!(b = realloc(w->sb, cap)))
        return -1;
      w->sb = b;
      w->scap = cap;
    }
    memcpy(w->sb + LWS_PRE + w->slen, p, len);
    w->slen += len;
  } else {
    struct wsc_msg *m = malloc(sizeof *m + LWS_PRE + len);

    if (!m)
      return -1;
    m->next = NULL;
    m->len = len;
    memcpy(m->data + LWS_PRE, p, len);
    if (w->qt)
      w->qt->next = m;
    else
      w->qh = m;
    w->qt = m;
    w->qn++;
  }
  lws_callback_on_writable(w->wsi);
  return 0;
}

static void drop_queues(struct wsc *w)
{
  while (w->qh) {
    struct wsc_msg *m = w->qh;
    w->qh = m->next;
    free(m);
  }
  w->qt = NULL;
  w->qn = 0;
  free(w->sb);
  w->sb = NULL;
  w->slen = w->scap = 0;
}

/* The reassembly buffer may be what a running data callback reads, so it
 * goes only with the struct. */
static void destroy(struct wsc *w)
{
  free(w->rx);
  free(w);
}

void wsc_free(struct wsc *w)
{
  if (!w || w->free_pending)
    return;
  w->free_pending = true;
  drop_queues(w);
  if (w->wsi) {
    lws_set_opaque_user_data(w->wsi, NULL);
    if (!w->in_cb)
      lws_callback_on_writable(w->wsi);
    /* else ws_cb closes it on return */
  }
  if (!w->in_cb)
    destroy(w);
}

static int on_writeable(struct wsc *w, struct lws *wsi)
{
  int n;

  if (w->stream) {
    if (!w->slen)
      return 0;
    n = lws_write(wsi, w->sb + LWS_PRE, w->slen, LWS_WRITE_BINARY);
    if (n < (int)w->slen)
      return -1;
    w->slen = 0;
    return 0;
  }
  if (w->qh) {
    struct wsc_msg *m = w->qh;

    n = lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_BINARY);
    w->qh = m->next;
    if (!w->qh)
      w->qt = NULL;
    w->qn--;
    if (n < (int)m->len) {
      free(m);
      return -1;
    }
    free(m);
    if (w->qh)
      lws_callback_on_writable(wsi);
  }
  return 0;
}

static int on_receive(struct wsc *w, struct lws *wsi, const uint8_t *in,
                      size_t len)
{
  size_t remaining;
  bool final;

  if (w->stream) {
    w->h->data(w, in, len);
    return 0;
  }
  remaining = lws_remaining_packet_payload(wsi);
  final = lws_is_final_fragment(wsi) && remaining == 0;
  if (final && w->rx_len == 0) {
    w->h->data(w, in, len);
    return 0;
  }
  if (w->rx_len + len + remaining > w->max_message)
    return -1;
  if (w->rx_len + len > w->rx_cap) {
    size_t cap = w->rx_cap ? w->rx_cap : RX_CHUNK;
    uint8_t *b;

    while (cap < w->rx_len + len + remaining)
      cap *= 2;
    if (!(b = realloc(w->rx, cap)))
      return -1;
    w->rx = b;
    w->rx_cap = cap;
  }
  memcpy(w->rx + w->rx_len, in, len);
  w->rx_len += len;
  if (final) {
    size_t n = w->rx_len;

    w->rx_len = 0;
    w->h->data(w, w->rx, n);
  }
  return 0;
}

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason,
                 void *user, void *in, size_t len)
{
  struct wsc *w = lws_get_opaque_user_data(wsi);
  int rc = 0;

  (void)user;
  if (!w) {
    /* Detached by wsc_free(): close at the first chance. */
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
    case LWS_CALLBACK_CLIENT_RECEIVE:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      return -1;
    default:
      return 0;
    }
  }
  w->in_cb = true;
  switch (reason) {
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    w->wsi = NULL;
    lws_set_opaque_user_data(wsi, NULL);
    w->open = false;
    if (!w->free_pending && w->h->closed)
      w->h->closed(w, in ? (const char *)in : "connection error");
    break;
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    w->open = true;
    if (w->h->open)
      w->h->open(w);
    break;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    rc = on_receive(w, wsi, in, len);
    break;
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    if (!w->free_pending)
      rc = on_writeable(w, wsi);
    break;
  case LWS_CALLBACK_CLIENT_CLOSED:
    w->wsi = NULL;
    lws_set_opaque_user_data(wsi, NULL);
    w->open = false;
    if (!w->free_pending && w->h->closed)
      w->h->closed(w, "closed");
    break;
  default:
    break;
  }
  w->in_cb = false;
  if (w->free_pending) {
    bool live = w->wsi == wsi;

    destroy(w);
    if (live &&
        (reason == LWS_CALLBACK_CLIENT_ESTABLISHED ||
         reason == LWS_CALLBACK_CLIENT_RECEIVE ||
         reason == LWS_CALLBACK_CLIENT_WRITEABLE))
      return -1;
    if (live)
      lws_callback_on_writable(wsi);
    return 0;
  }
  return rc;
}
