/*
 * wsc.h — a small raw WebSocket client on libwebsockets and a libuv loop,
 * for what herald_client does not do: MQTT over WebSockets (Mosquitto),
 * and send-only Herald devices (the durable-send benchmark; see m_sends.c
 * for why those do not use herald_client).
 *
 * Two receive modes:
 *   message  each complete WebSocket message is handed on once
 *            (reassembled from lws's chunks); each wsc_send() is one message;
 *   stream   received bytes are handed on as they come (MQTT is a byte
 *            stream over WebSocket frames), and everything queued by
 *            wsc_send() goes out together in one frame per writeable
 *            callback (MQTT 3.1.1 section 6 allows packets to share and
 *            span frames), which keeps a subscriber's PUBACKs cheap.
 *
 * Loop thread only. A connection is freed by wsc_free(), which may be
 * called from its own callbacks.
 */
#ifndef HERALD_BENCH_WSC_H
#define HERALD_BENCH_WSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct wsc_ctx;
struct wsc;

struct wsc_handler {
  void (*open)(struct wsc *w);
  /* A whole message (message mode) or the next bytes (stream mode). */
  void (*data)(struct wsc *w, const uint8_t *p, size_t len);
  /* The connection failed or closed; `why` is a short text. No callback
   * follows. */
  void (*closed)(struct wsc *w, const char *why);
};

struct wsc_config {
  const char *host;
  int port;
  const char *path;            /* "/" if NULL */
  const char *subprotocol;     /* e.g. "mqtt", "herald.v1" */
  bool stream;
  size_t max_message;          /* message mode: reassembly bound */
};

int wsc_ctx_new(uv_loop_t *loop, struct wsc_ctx **out);
/* Frees the context; every connection must have been freed. Runs the loop
 * until libwebsockets' handles are closed. Not from inside the loop. */
void wsc_ctx_free(struct wsc_ctx *ctx);

/* Starts a connection. Returns it, or NULL when libwebsockets refused at
 * once. `cfg` strings must stay valid while connecting. */
struct wsc *wsc_connect(struct wsc_ctx *ctx, const struct wsc_config *cfg,
                        const struct wsc_handler *h, void *user);
void *wsc_user(const struct wsc *w);
bool wsc_is_open(const struct wsc *w);
/* Queues bytes (a copy): one message in message mode, appended to the
 * stream in stream mode. 0, or -1 when not open or out of memory. */
int wsc_send(struct wsc *w, const void *p, size_t len);
/* Bytes or messages queued and not yet handed to libwebsockets. */
size_t wsc_queued(const struct wsc *w);
/* Closes (if open) and frees; no callback follows. */
void wsc_free(struct wsc *w);

#endif
