/*
 * server.c — the heraldd instance: one libuv loop that libwebsockets joins
 * as a foreign loop, so that our own timers, signals and cross-thread
 * wake-ups (uv_async) share the loop with the sockets, and the loop is epoll
 * based and stays flat with tens of thousands of connections.
 *
 * Shutdown: SIGTERM/SIGINT → lws_context_destroy() from inside the loop
 * (closing every connection), then our own handles are closed and uv_run()
 * returns once nothing is left.
 */
#include "server_int.h"
#include "log_int.h"

#include <string.h>

static const struct lws_protocols protocols[] = {
  {"http", srv_http_cb, sizeof(void *) * 2, 0, 0, NULL, 0},
  {NULL, NULL, 0, 0, 0, NULL, 0}
};

static void close_handles(struct srv_server *srv)
{
  if (!uv_is_closing((uv_handle_t *)&srv->sig_term))
    uv_close((uv_handle_t *)&srv->sig_term, NULL);
  if (!uv_is_closing((uv_handle_t *)&srv->sig_int))
    uv_close((uv_handle_t *)&srv->sig_int, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
  struct srv_server *srv = h->data;

  if (srv->stopping)
    return;
  srv->stopping = 1;
  srv_info("server", "signal %d: shutting down", signum);
  uv_signal_stop(&srv->sig_term);
  uv_signal_stop(&srv->sig_int);
  lws_context_destroy(srv->lws);
  srv->lws = NULL;
  close_handles(srv);
}

int srv_server_init(struct srv_server *srv, const struct srv_config *cfg,
                    const char *conninfo)
{
  struct lws_context_creation_info info;
  void *foreign_loops[1];
  struct lws_vhost *vh;

  memset(srv, 0, sizeof(*srv));
  srv->cfg = cfg;
  srv->conninfo = conninfo;
  if (uv_loop_init(&srv->loop) != 0) {
    srv_err("server", "cannot create the event loop");
    return -1;
  }
  srv->loop_open = 1;
  uv_signal_init(&srv->loop, &srv->sig_term);
  uv_signal_init(&srv->loop, &srv->sig_int);
  srv->sig_term.data = srv->sig_int.data = srv;
  uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
  uv_signal_start(&srv->sig_int, on_signal, SIGINT);

  memset(&info, 0, sizeof(info));
  foreign_loops[0] = &srv->loop;
  info.foreign_loops = foreign_loops;
  info.options = LWS_SERVER_OPTION_LIBUV |
                 LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE |
                 LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.user = srv;
  srv->lws = lws_create_context(&info);
  if (!srv->lws) {
    srv_err("server", "cannot create the libwebsockets context (is "
                      "libwebsockets-evlib-uv installed?)");
    return -1;
  }

  memset(&info, 0, sizeof(info));
  info.port = cfg->listen_port;
  info.iface = cfg->listen_host;
  info.protocols = protocols;
  info.vhost_name = "herald";
  info.user = srv;
  info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
  vh = lws_create_vhost(srv->lws, &info);
  if (!vh) {
    srv_err("server", "cannot listen on %s (address in use, or not an "
                      "address of this host?)", cfg->listen);
    return -1;
  }
  srv->bound_port = lws_get_vhost_port(vh);
  srv_info("server", "listening on %s:%d", cfg->listen_host, srv->bound_port);
  return 0;
}

void srv_server_run(struct srv_server *srv)
{
  uv_run(&srv->loop, UV_RUN_DEFAULT);
}

void srv_server_cleanup(struct srv_server *srv)
{
  if (srv->lws) {
    lws_context_destroy(srv->lws);
    srv->lws = NULL;
  }
  if (srv->loop_open) {
    close_handles(srv);
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    uv_loop_close(&srv->loop);
    srv->loop_open = 0;
  }
}
