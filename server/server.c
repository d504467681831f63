/*
 * server.c — the heraldd instance: one libuv loop that libwebsockets joins
 * as a foreign loop, so that our own timers, signals and cross-thread
 * wake-ups (uv_async from the database pools) share the loop with the
 * sockets, and the loop is epoll based and stays flat with tens of
 * thousands of connections.
 *
 * Graceful shutdown (SIGTERM/SIGINT): refuse new connections and new
 * requests (SHUTTING_DOWN), wait up to shutdown-grace for pending commits
 * so that their acks go out, close every client with 1001, then destroy the
 * lws context and the pools; uv_run() returns when nothing is left.
 */
#include "botrate_int.h"
#include "clock_int.h"
#include "dbpool_int.h"
#include "ding_int.h"
#include "dispatch_int.h"
#include "log_int.h"
#include "notify_int.h"
#include "quiet_int.h"
#include "server_int.h"
#include "session_int.h"
#include "sweeper_int.h"
#include "tls_int.h"

#include "hcrypto.h"

#include <string.h>
#include <time.h>

/* herald.v1: lws allocates rx_buffer_size bytes per connection (the
 * default, 4 KiB, is most of an idle connection's memory); ws.c reassembles
 * larger messages itself. tx_packet_size keeps lws from splitting our
 * frames at that small size. */
#define WS_RX_BUFFER 1024
#define WS_TX_PACKET (1024 * 1024)

static const struct lws_protocols protocols[] = {
  {"http", srv_http_cb, sizeof(void *) * 2, 0, 0, NULL, 0},
  {PROTO_SUBPROTOCOL, srv_ws_cb, sizeof(void *), WS_RX_BUFFER, 0, NULL,
   WS_TX_PACKET},
  {NULL, NULL, 0, 0, 0, NULL, 0}
};

uint64_t srv_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void close_handle(uv_handle_t *h)
{
  if (h->loop && !uv_is_closing(h))
    uv_close(h, NULL);
}

/* Last step of a shutdown: everything that keeps the loop alive goes. */
static void finish_stop(struct srv_server *srv)
{
  if (srv->lws && !srv->lws_destroying)
    srv_info("server", "closing");
  /* First the sweeper: a sweep still running finishes its batch while the
   * sessions it might deliver to are all still there. */
  srv_sweeper_stop(srv);
  /* With a foreign loop, the first destroy closes every connection and
   * lws's loop handles; the context itself is freed by a second call once
   * the loop has run their close callbacks (srv_server_cleanup). */
  if (srv->lws && !srv->lws_destroying) {
    srv->lws_destroying = 1;
    lws_context_destroy(srv->lws);
  }
  /* The scheduler first: its last round may still push to sessions. */
  srv_ding_sched_close(srv);
  srv_notify_stop(srv);
  srv_dbpool_free(srv->writer);
  srv_dbpool_free(srv->reader);
  srv_dbpool_free(srv->auth);
  srv->writer = srv->reader = srv->auth = NULL;
  srv_quiet_close(srv);
  srv_clock_close(srv);
  srv_tls_close(srv);
  close_handle((uv_handle_t *)&srv->drain_timer);
  close_handle((uv_handle_t *)&srv->sig_term);
  close_handle((uv_handle_t *)&srv->sig_int);
}

static void close_all_sessions(struct srv_server *srv)
{
  struct srv_intmap *maps[] = {&srv->users, &srv->bots};

  for (size_t m = 0; m < 2; m++)
    for (size_t i = 0; i < maps[m]->cap; i++)
      for (struct srv_session *s = maps[m]->slots[i].val;
           maps[m]->slots[i].key && s; s = s->user_next)
        srv_session_close(s, LWS_CLOSE_STATUS_GOINGAWAY,
                          "server shutting down");
}

/* Runs every 50 ms during a shutdown: first until the writer has no
 * pending commits (or the grace period ran out), then lets queued frames
 * and close frames go out for a moment before the context is destroyed. */
static void drain_cb(uv_timer_t *t)
{
  struct srv_server *srv = t->data;
  uint64_t now = srv_now_ms();

  if (srv->stopping == 1) {
    if (srv_dbpool_pending(srv->writer) > 0 && now < srv->stop_deadline_ms)
      return;
    srv->stopping = 2;
    close_all_sessions(srv);
    srv->stop_deadline_ms = now + 500;
    return;
  }
  if (now < srv->stop_deadline_ms && srv->nsessions > 0)
    return;
  uv_timer_stop(t);
  finish_stop(srv);
}

static void on_signal(uv_signal_t *h, int signum)
{
  struct srv_server *srv = h->data;

  if (srv->stopping)
    return;
  srv->stopping = 1;
  srv->stop_deadline_ms = srv_now_ms() + (uint64_t)srv->cfg->shutdown_grace * 1000;
  srv_info("server", "signal %d: shutting down (%d commits pending)", signum,
           srv_dbpool_pending(srv->writer));
  uv_signal_stop(&srv->sig_term);
  uv_signal_stop(&srv->sig_int);
  uv_timer_start(&srv->drain_timer, drain_cb, 0, 50);
}

int srv_server_init(struct srv_server *srv, const struct srv_config *cfg,
                    const char *conninfo, struct srv_keyring *keyring)
{
  struct lws_context_creation_info info;
  static lws_retry_bo_t keepalive;
  void *foreign_loops[1];
  struct lws_vhost *vh;

  memset(srv, 0, sizeof(*srv));
  srv->cfg = cfg;
  srv->conninfo = conninfo;
  srv->keyring = keyring;
  /* Data keys of the users reading at the moment; evicted keys are wiped. */
  if (hcr_keycache_new(4096, &srv->keys) != HCR_OK) {
    srv_err("server", "cannot create the key cache");
    return -1;
  }
  if (uv_loop_init(&srv->loop) != 0) {
    srv_err("server", "cannot create the event loop");
    return -1;
  }
  srv->loop_open = 1;
  uv_signal_init(&srv->loop, &srv->sig_term);
  uv_signal_init(&srv->loop, &srv->sig_int);
  uv_timer_init(&srv->loop, &srv->drain_timer);
  srv->sig_term.data = srv->sig_int.data = srv->drain_timer.data = srv;
  uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
  uv_signal_start(&srv->sig_int, on_signal, SIGINT);

  if (srv_quiet_init(srv) != 0 || srv_clock_init(srv) != 0 ||
      srv_tls_init(srv) != 0)
    return -1;
  if (srv_ratelimit_init(&srv->login_by_account, 16384, 10, 30000) != 0 ||
      srv_ratelimit_init(&srv->login_by_peer, 16384, 30, 1000) != 0)
    return -1;

  /* Before the first connection: every session carries the node id. */
  if (srv_notify_set_node() != 0)
    return -1;
  srv->writer = srv_dbpool_new(&srv->loop, "writer", conninfo, 1,
                               cfg->commit_batch, srv_send_batch);
  srv->reader = srv_dbpool_new(&srv->loop, "reader", conninfo,
                               cfg->db_readers, 1, NULL);
  srv->auth = srv_dbpool_new(&srv->loop, "auth", conninfo, cfg->login_workers,
                             1, NULL);
  if (!srv->writer || !srv->reader || !srv->auth)
    return -1;
  if (srv_ding_sched_init(srv) != 0 || srv_notify_start(srv) != 0)
    return -1;

  memset(&info, 0, sizeof(info));
  foreign_loops[0] = &srv->loop;
  info.foreign_loops = foreign_loops;
  info.options = LWS_SERVER_OPTION_LIBUV |
                 LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE |
                 LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.user = srv;
  /* Stalled handshakes and silent HTTP clients are dropped after this. */
  info.timeout_secs = 10;
  srv_tls_info(cfg, &info, 1);
  srv->lws = lws_create_context(&info);
  if (!srv->lws) {
    srv_err("server", "cannot create the libwebsockets context (is "
                      "libwebsockets-evlib-uv installed?)");
    return -1;
  }

  /* Keep-alive: ping a connection silent for ping-interval, drop it when
   * no pong came within another interval. */
  keepalive.secs_since_valid_ping = (uint16_t)cfg->ping_interval;
  keepalive.secs_since_valid_hangup = (uint16_t)(cfg->ping_interval * 2);

  memset(&info, 0, sizeof(info));
  info.port = cfg->listen_port;
  info.iface = cfg->listen_host;
  info.protocols = protocols;
  info.vhost_name = "herald";
  info.user = srv;
  info.retry_and_idle_policy = &keepalive;
  info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
  srv_tls_info(cfg, &info, 0);
  vh = lws_create_vhost(srv->lws, &info);
  if (!vh) {
    srv_err("server", "cannot listen on %s (address in use, not an "
                      "address of this host, or the TLS files failed?)",
            cfg->listen);
    return -1;
  }
  srv->bound_port = lws_get_vhost_port(vh);
  if (cfg->tls_cert[0]) {
    if (srv_tls_log_serving(srv) != 0) {
      srv_err("tls", "libwebsockets did not set up TLS on %s", cfg->listen);
      return -1;
    }
  } else if (!srv_config_is_loopback(cfg->listen_host)) {
    /* Only with allow-plaintext (config.c refuses it otherwise). */
    srv_warn("server", "serving plain text on %s, which is not a loopback "
             "address (allow-plaintext): passwords and tokens cross the "
             "network unencrypted unless a TLS proxy is in front",
             cfg->listen_host);
  }
  srv_info("server", "listening on %s:%d (%s)", cfg->listen_host,
           srv->bound_port, cfg->tls_cert[0] ? "TLS" : "plain text");
  return srv_sweeper_start(srv);
}

void srv_server_run(struct srv_server *srv)
{
  uv_run(&srv->loop, UV_RUN_DEFAULT);
}

void srv_server_cleanup(struct srv_server *srv)
{
  if (srv->loop_open) {
    finish_stop(srv);
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    if (srv->lws) {
      lws_context_destroy(srv->lws);
      srv->lws = NULL;
      uv_run(&srv->loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&srv->loop);
    srv->loop_open = 0;
  }
  hcr_keycache_free(srv->keys);
  srv->keys = NULL;
  srv_quiet_cleanup(srv);
  srv_ding_sched_cleanup(srv);
  srv_notify_cleanup(srv);
  srv_ratelimit_cleanup(&srv->login_by_account);
  srv_ratelimit_cleanup(&srv->login_by_peer);
  srv_intmap_cleanup(&srv->users);
  srv_intmap_cleanup(&srv->bots);
  srv_intmap_cleanup(&srv->subs);
  srv_intmap_cleanup(&srv->conv_last);
  srv_botrate_cleanup(srv);
  srv_tls_cleanup(srv);
}
