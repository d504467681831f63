/*
 * server_int.h — the heraldd instance: its event loop (libuv, shared with
 * libwebsockets as a "foreign" loop), its libwebsockets context, its
 * database pools, and the registries of who is connected.
 *
 * Everything in struct srv_server is touched only on the loop thread.
 */
#ifndef HERALD_SRV_SERVER_INT_H
#define HERALD_SRV_SERVER_INT_H

#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

#include "config_int.h"
#include "intmap_int.h"
#include "ratelimit_int.h"

struct hcr_keycache;
struct srv_ding_sched;
struct srv_dbpool;
struct srv_keyring;
struct srv_notify;
struct srv_quiet;
struct srv_session;
struct srv_sweeper;
struct srv_tls;

struct srv_server {
  const struct srv_config *cfg;  /* borrowed; outlives the server */
  const char *conninfo;          /* borrowed: the database to use */
  struct srv_keyring *keyring;   /* borrowed: the master keys that wrap
                                    users' data keys (thread-safe) */
  struct hcr_keycache *keys;     /* unwrapped data keys (thread-safe) */
  uv_loop_t loop;
  int loop_open;                 /* uv_loop_init succeeded, not closed */
  uv_signal_t sig_term, sig_int;
  uv_timer_t drain_timer;        /* shutdown: waits for pending commits */
  struct lws_context *lws;
  int lws_destroying;            /* first lws_context_destroy() done */
  int bound_port;                /* the port actually listened on */

  /* Database access, all off the loop (dbpool_int.h). */
  struct srv_dbpool *writer;     /* one thread: group commit of sends */
  struct srv_dbpool *reader;     /* replay, history, lists, token checks */
  struct srv_dbpool *auth;       /* password hashing: bounded at once */
  struct srv_sweeper *sweeper;   /* reminders and retention (sweeper.c) */

  /* Who is connected. */
  struct srv_intmap users;       /* user id -> first session (user_next) */
  struct srv_intmap bots;        /* bot id -> first session (user_next) */
  struct srv_intmap subs;        /* conversation id -> struct srv_subs * */
  struct srv_intmap conv_last;   /* conversation id -> last committed seq
                                    seen by this process (as intptr_t) */
  unsigned nsessions;

  struct srv_ratelimit login_by_account, login_by_peer;

  unsigned http_reports;         /* HTTP report requests holding a job or
                                    a body (http_report.c bounds them) */
  /* Per-bot send windows: bot id -> window (botrate_int.h). */
  struct srv_intmap botrate;
  /* The test clock (clock_int.h): SIGUSR2 re-reads test-clock-file. */
  uv_signal_t sig_clock;
  int clock_on;                  /* sig_clock is initialised */
  /* Connected users' quiet-hours states (quiet_int.h). */
  struct srv_quiet *quiet;
  /* The DING scheduler (ding_int.h). */
  struct srv_ding_sched *ding;
  /* The LISTEN connection to the other nodes (notify_int.h). */
  struct srv_notify *notify;

  /* TLS on the listen port and its reload on SIGHUP (tls_int.h). */
  struct srv_tls *tls;

  int stopping;                  /* SIGTERM/SIGINT seen */
  uint64_t stop_deadline_ms;
};

/* Creates the loop, the pools and the lws context and binds the listener.
 * Returns 0, or -1 after logging why (e.g. the port is in use). */
int srv_server_init(struct srv_server *srv, const struct srv_config *cfg,
                    const char *conninfo, struct srv_keyring *keyring);

/* Runs the loop until a clean shutdown has finished. */
void srv_server_run(struct srv_server *srv);

/* Frees what init made. Only after srv_server_run returned (or init failed
 * half-way). */
void srv_server_cleanup(struct srv_server *srv);

/* The largest frame this server sends (welcome.lim.sframe): a replay page
 * holds at most 512 KiB of bodies but always at least one message. */
static inline uint64_t srv_max_server_frame(const struct srv_config *cfg)
{
  return 1024u * 1024u + 2u * (uint64_t)cfg->max_body;
}

/* Milliseconds since the epoch (real wall clock) for rate limits and the
 * shutdown timer. Times shown to users (frames, quiet hours) come from
 * srv_clock_now_ms() (clock_int.h), which a test may move. */
uint64_t srv_now_ms(void);

/* The lws protocol callbacks: HTTP (http.c) and herald.v1 (ws.c). */
int srv_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len);
int srv_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len);

/* Registry (registry.c). */
void srv_sessions_opened(struct srv_server *srv, struct srv_session *s);
void srv_sessions_closed(struct srv_server *srv, struct srv_session *s);
/* Files an authenticated session under its user or bot id. */
void srv_sessions_authed(struct srv_server *srv, struct srv_session *s);
/* The first session of a user (chain through user_next), or NULL. */
struct srv_session *srv_sessions_of_user(struct srv_server *srv, int64_t uid);

#endif
