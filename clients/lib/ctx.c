/*
 * ctx.c — the client context: one libwebsockets client context on one
 * libuv loop, shared by every connection made from it (a benchmark makes
 * thousands), and the helper that runs that loop until something happens.
 *
 * libwebsockets joins the loop as a "foreign" loop (LWS_SERVER_OPTION_LIBUV
 * with info.foreign_loops), as heraldd does: the loop belongs to the
 * application, which may add its own handles (the terminal client reads
 * stdin on it), and epoll keeps the cost flat with many connections.
 * Destroying the lws context on a foreign loop completes through the loop
 * (its handles close asynchronously); info.pcontext tells when it is done.
 */
#include <errno.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hc_int.h"

/* hc_ctx_free() gives libwebsockets' and our handles this many
 * non-blocking loop turns to close. Each turn closes what was closing. */
#define FREE_TURNS 10000

void hc_ctx_link(struct hc_ctx *ctx, struct hc_conn *c)
{
  c->prev = NULL;
  c->next = ctx->conns;
  if (ctx->conns)
    ctx->conns->prev = c;
  ctx->conns = c;
}

void hc_ctx_unlink(struct hc_ctx *ctx, struct hc_conn *c)
{
  if (c->prev)
    c->prev->next = c->next;
  else if (ctx->conns == c)
    ctx->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

uint64_t hc_ctx_rand(struct hc_ctx *ctx)
{
  return hc_rand64(&ctx->rng);
}

uv_loop_t *hc_ctx_loop(struct hc_ctx *ctx)
{
  return ctx->loop;
}

int hc_ctx_new(const struct hc_ctx_config *cfg, struct hc_ctx **out)
{
  static const struct hc_ctx_config defaults;
  struct lws_context_creation_info info;
  lws_retry_bo_t *ka;
  struct hc_ctx *ctx;
  void *loops[1];
  unsigned ka_s;

  *out = NULL;
  if (!cfg)
    cfg = &defaults;
  if (!(ctx = calloc(1, sizeof *ctx)))
    return -ENOMEM;
  if (!(ka = calloc(1, sizeof *ka))) {
    free(ctx);
    return -ENOMEM;
  }
  ctx->keepalive = ka;
  ctx->rng = hc_rand_seed();
  if (cfg->loop) {
    ctx->loop = cfg->loop;
  } else {
    if (uv_loop_init(&ctx->own_loop) != 0) {
      free(ka);
      free(ctx);
      return -ENOMEM;
    }
    ctx->loop = &ctx->own_loop;
    ctx->owns_loop = true;
  }
  lws_set_log_level(cfg->lws_log_levels ? cfg->lws_log_levels : LLL_ERR,
                    cfg->lws_log_emit);

  /* Ping a connection silent for ka_s, drop it after 2 * ka_s without a
   * pong: a server that vanished without closing is noticed, and the
   * connection reconnects. */
  ka_s = cfg->keepalive_s ? cfg->keepalive_s : 30;
  if (ka_s > 30000)
    ka_s = 30000;
  ka->secs_since_valid_ping = (uint16_t)ka_s;
  ka->secs_since_valid_hangup = (uint16_t)(ka_s * 2);

  memset(&info, 0, sizeof info);
  loops[0] = ctx->loop;
  info.foreign_loops = loops;
  /* TLS for wss:// (the default vhost trusts the system's CAs). */
  info.options = LWS_SERVER_OPTION_LIBUV |
                 LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = hc_transport_protocols();
  info.user = ctx;
  info.pcontext = &ctx->lws_alive;
  info.gid = (gid_t)-1;
  info.uid = (uid_t)-1;
  /* A handshake that has not completed in this many seconds fails. */
  info.timeout_secs = 10;
  ctx->lws = lws_create_context(&info);
  if (!ctx->lws) {
    if (ctx->owns_loop)
      uv_loop_close(ctx->loop);
    free(ka);
    free(ctx);
    return -EIO;
  }
  ctx->lws_alive = ctx->lws;
  uv_timer_init(ctx->loop, &ctx->run_timer);
  ctx->run_timer_open = true;
  *out = ctx;
  return 0;
}

/* libwebsockets 4.1.6 leaves the uv_poll handle of a client connection
 * that timed out before it was established open (inactive), and the wsi
 * that owned it is gone (upstream issue/PR warmcat/libwebsockets#2434).
 * On a loop the context owns, every handle left once lws is destroyed is
 * such a leftover: close it, and free it — lws allocated it with its
 * default allocator, realloc(). On the application's loop we cannot tell
 * its handles from these, so they stay (uv_loop_close() then reports
 * UV_EBUSY; closing leftover poll handles before it is safe). */
static void stray_closed(uv_handle_t *h)
{
  free(h);
}

static void close_stray(uv_handle_t *h, void *arg)
{
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, h->type == UV_POLL ? stray_closed : NULL);
}

static void run_timer_closed(uv_handle_t *h)
{
  struct hc_ctx *ctx = h->data;

  ctx->closing--;
}

void hc_ctx_free(struct hc_ctx *ctx)
{
  if (!ctx)
    return;
  while (ctx->conns)
    hc_conn_free(ctx->conns);
  if (ctx->lws)
    lws_context_destroy(ctx->lws);
  if (ctx->run_timer_open) {
    ctx->run_timer.data = ctx;
    ctx->closing++;
    uv_close((uv_handle_t *)&ctx->run_timer, run_timer_closed);
    ctx->run_timer_open = false;
  }
  for (int i = 0; i < FREE_TURNS && (ctx->lws_alive || ctx->closing); i++)
    uv_run(ctx->loop, UV_RUN_NOWAIT);
  if (ctx->lws_alive)
    lws_context_destroy(ctx->lws_alive);    /* the final step, if pending */
  if (ctx->owns_loop) {
    uv_run(ctx->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(ctx->loop) == UV_EBUSY) {
      uv_walk(ctx->loop, close_stray, NULL);
      uv_run(ctx->loop, UV_RUN_DEFAULT);
      uv_loop_close(ctx->loop);
    }
  }
  while (ctx->tls_vhosts) {
    struct hc_tls_vhost *v = ctx->tls_vhosts;

    ctx->tls_vhosts = v->next;
    free(v);                 /* the vhost went with the lws context */
  }
  free(ctx->keepalive);
  free(ctx->scratch);
  free(ctx);
}

int hc_ctx_tls_vhost(struct hc_ctx *ctx, const char *ca_file,
                     struct lws_vhost **out)
{
  struct lws_context_creation_info info;
  struct hc_tls_vhost *v;
  char name[32];
  size_t n;
  FILE *f;

  *out = NULL;
  if (!ca_file)
    return 0;
  for (v = ctx->tls_vhosts; v; v = v->next)
    if (strcmp(v->ca_file, ca_file) == 0) {
      *out = v->vh;
      return 0;
    }
  /* lws only logs a CA file it cannot load, and every handshake would
   * then fail verification: say so here instead. */
  if (!(f = fopen(ca_file, "r")))
    return -errno;
  fclose(f);
  n = strlen(ca_file);
  if (!(v = calloc(1, sizeof *v + n + 1)))
    return -ENOMEM;
  memcpy(v->ca_file, ca_file, n + 1);
  snprintf(name, sizeof name, "hc-ca-%p", (void *)v);
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.vhost_name = name;
  info.protocols = hc_transport_protocols();
  info.client_ssl_ca_filepath = v->ca_file;
  info.user = ctx;
  if (!(v->vh = lws_create_vhost(ctx->lws, &info))) {
    free(v);
    return -EIO;
  }
  v->next = ctx->tls_vhosts;
  ctx->tls_vhosts = v;
  *out = v->vh;
  return 0;
}

static void run_timer_cb(uv_timer_t *t)
{
  (void)t;                     /* only wakes uv_run up */
}

int hc_run_until(struct hc_ctx *ctx, hc_pred_fn pred, void *arg,
                 int64_t timeout_ms)
{
  uint64_t deadline = 0;
  int rc;

  if (ctx->depth > 0)
    return -EBUSY;
  if (pred && pred(arg))
    return 0;
  uv_update_time(ctx->loop);
  if (timeout_ms >= 0) {
    deadline = uv_now(ctx->loop) + (uint64_t)timeout_ms;
    uv_timer_start(&ctx->run_timer, run_timer_cb, (uint64_t)timeout_ms, 0);
  }
  for (;;) {
    int alive = uv_run(ctx->loop, UV_RUN_ONCE);

    if (pred && pred(arg)) {
      rc = 0;
      break;
    }
    if (timeout_ms >= 0 && uv_now(ctx->loop) >= deadline) {
      rc = -ETIMEDOUT;
      break;
    }
    if (!alive && timeout_ms < 0) {
      rc = -ETIMEDOUT;           /* nothing left that could change pred */
      break;
    }
  }
  uv_timer_stop(&ctx->run_timer);
  return rc;
}
