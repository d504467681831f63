/*
 * server_int.h — the heraldd instance: its event loop (libuv, shared with
 * libwebsockets as a "foreign" loop), its libwebsockets context, its
 * configuration, and the database it was given.
 *
 * Everything in struct srv_server is touched only on the loop thread unless
 * a field says otherwise.
 */
#ifndef HERALD_SRV_SERVER_INT_H
#define HERALD_SRV_SERVER_INT_H

#include <libwebsockets.h>
#include <uv.h>

#include "config_int.h"

struct srv_server {
  const struct srv_config *cfg;  /* borrowed; outlives the server */
  const char *conninfo;          /* borrowed: the database to use */
  uv_loop_t loop;
  uv_signal_t sig_term, sig_int;
  struct lws_context *lws;
  int stopping;                  /* SIGTERM/SIGINT seen */
  int bound_port;                /* the port actually listened on */
  int loop_open;                 /* uv_loop_init succeeded, not closed */
};

/* Creates the loop and the lws context and binds the listener. Returns 0, or
 * -1 after logging why (e.g. the port is in use). */
int srv_server_init(struct srv_server *srv, const struct srv_config *cfg,
                    const char *conninfo);

/* Runs the loop until a clean shutdown has finished. */
void srv_server_run(struct srv_server *srv);

/* Frees what init made. Only after srv_server_run returned (or init failed
 * half-way). */
void srv_server_cleanup(struct srv_server *srv);

/* The HTTP side (http.c): protocols[0]'s callback. */
int srv_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len);

#endif
