/*
 * hc.h — herald_client, the client library that `herald`, `heraldctl`, the
 * tests and the benchmark client share.
 *
 * It speaks the wire protocol of protocol/PROTOCOL.md over a WebSocket
 * (libwebsockets client on a libuv loop) and keeps what a device must keep
 * to get exactly-once, in-order delivery across disconnects:
 *
 *   - a connection per (server, user) that logs in (`login` or `hello` with
 *     a token), reconnects by itself with exponential backoff and full
 *     jitter, and reports its state (connecting, online, offline);
 *   - a generic request API: send any client frame, get one callback with
 *     its terminal reply or its error (request ids are correlated here);
 *   - a persistent outbox: sends (and reads, DING acks, card actions) are
 *     written to an ordered log in the state directory and fsync'd before
 *     the call returns, go on the wire in order, and are re-sent unchanged
 *     (same cmid) after every reconnect until their ack or result arrives;
 *   - cursors: messages reach the application in per-conversation seq order
 *     with duplicates dropped and gaps re-synced; `last[conv]` and the feed
 *     cursor are persisted (atomically, at most once a second, and on
 *     `synced`), and each (re)connect replays the outbox, then `sync`s;
 *   - hc_run_until(): run the loop until a condition holds or a timeout.
 *
 * Without a state directory everything is in memory (benchmarks, one-shot
 * tools). With one, the directory (mode 0700, files 0600) belongs to one
 * user on one server and is locked while a connection uses it:
 *     outbox   the outbox log          cursors  conversation and feed cursors
 *     token    the session token       device   this installation's device id
 *     lock     held with flock() while a connection has the directory
 *
 * Error codes: functions return 0 or a negative code. Codes at or below
 * -1000 are the protocol's list (protocol/proto_errors.h, PROTO_E_*: the
 * server's error frames and the local checks that mirror them); codes
 * above -1000 are negated errno values for local failures (-ENOTCONN,
 * -ECONNRESET, -ETIMEDOUT, -ENOMEM, I/O errors on the state directory...).
 * hc_strerror() names both.
 *
 * Threads: everything runs on the loop thread. No function may be called
 * from another thread; callbacks run on the loop thread, from inside
 * uv_run(). A callback may call any function of this API, including
 * hc_conn_free() on its own connection (the free is then finished once the
 * callback returns).
 *
 * Memory: an idle connection holds its configuration, a small cursor table,
 * its outbox entries and one libuv timer; receive buffers exist only while
 * a fragmented message is being reassembled.
 */
#ifndef HERALD_HC_H
#define HERALD_HC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto.h"

struct hc_ctx;
struct hc_conn;

/* ------------------------------------------------------------------ */
/* Context: one per loop                                               */

struct hc_ctx_config {
  /* The loop to run on, owned by the application (it may add its own
   * handles, e.g. stdin). NULL: the context creates and owns a loop. */
  uv_loop_t *loop;
  /* Client-side keep-alive: ping a connection that was silent this many
   * seconds, drop it (and reconnect) after twice as long without an
   * answer. 0 = 30 s. */
  unsigned keepalive_s;
  /* libwebsockets log levels (LLL_* bits). 0 = errors only. This setting
   * is process-wide (libwebsockets has one logger). */
  int lws_log_levels;
  /* Where those log lines go (process-wide too): NULL = stderr. A
   * full-screen client passes its own so that a line such as a refused
   * certificate is not written over the screen. Called on the loop
   * thread with one NUL-terminated line. */
  void (*lws_log_emit)(int level, const char *line);
};

/* Creates a context: a libwebsockets client context joined to the loop (as
 * libwebsockets' "foreign" libuv loop). `cfg` may be NULL for defaults and
 * is not kept. On success *out owns the context; free it with
 * hc_ctx_free(). Returns 0, -ENOMEM, or -EIO when libwebsockets cannot
 * start (is libwebsockets-evlib-uv installed?). */
int hc_ctx_new(const struct hc_ctx_config *cfg, struct hc_ctx **out);

/* The loop of `ctx` (the application's, or the one the context owns). */
uv_loop_t *hc_ctx_loop(struct hc_ctx *ctx);

/* Frees every connection of `ctx` (as hc_conn_free()), destroys the
 * libwebsockets context and runs the loop without blocking until the
 * handles of this library are closed; a loop the context owns is closed
 * too. A loop of the application stays usable. NULL is ignored. Must not
 * be called from a callback of this library or from inside uv_run().
 * Known leftover: libwebsockets 4.1.6 leaves the (inactive) uv_poll
 * handle of a connection attempt that timed out unclosed (upstream
 * warmcat/libwebsockets#2434); on its own loop the context closes such
 * handles, on the application's loop uv_loop_close() may report UV_EBUSY
 * until the application closes leftover handles (uv_walk + uv_close). */
void hc_ctx_free(struct hc_ctx *ctx);

/* A condition for hc_run_until(); `arg` is the caller's. */
typedef bool (*hc_pred_fn)(void *arg);

/* Runs the loop until pred(arg) is true (checked before and after every
 * loop iteration) or `timeout_ms` passed (< 0: no timeout). pred may be
 * NULL: run for timeout_ms. Returns 0 when pred became true, -ETIMEDOUT,
 * or -EBUSY when called from inside the loop (a callback). For tests,
 * tools and a TUI's main loop alike. */
int hc_run_until(struct hc_ctx *ctx, hc_pred_fn pred, void *arg,
                 int64_t timeout_ms);

/* ------------------------------------------------------------------ */
/* Connection                                                          */

enum hc_state {
  HC_STATE_IDLE,        /* created, hc_conn_start() not called yet */
  HC_STATE_CONNECTING,  /* WebSocket handshake or login in progress */
  HC_STATE_ONLINE,      /* authenticated (welcome received) */
  HC_STATE_OFFLINE,     /* disconnected; a reconnect is scheduled */
  HC_STATE_STOPPED,     /* disconnected for good: credentials refused,
                           logout, or a fatal local error; see hc_conn_err */
};

/* Static name of a state ("online"). */
const char *hc_state_name(enum hc_state s);

enum hc_event_type {
  /* The connection state changed: `state`; for OFFLINE and STOPPED `err`
   * says why: 0 for an orderly close; -ECONNREFUSED, -ETIMEDOUT,
   * -EHOSTUNREACH (the name did not resolve), -EPROTO (a server that
   * refused the WebSocket handshake or broke the protocol), -ECONNRESET
   * (dropped); or the PROTO_E_* code the server gave (SHUTTING_DOWN,
   * BAD_CREDENTIALS, TOKEN_EXPIRED, RATE_LIMITED, QUEUE_FULL, or the
   * decode error of a frame it sent). For OFFLINE `retry_ms` says when the
   * next attempt starts. */
  HC_EV_STATE,
  /* Authenticated: `frame` is the welcome (hc_conn_info() keeps a copy).
   * The outbox replay and the sync start right after. */
  HC_EV_WELCOME,
  /* A message of a conversation, in seq order, no duplicate: `msg`;
   * `replay` when it came in a sync page rather than live. The cursor of
   * its conversation moves to msg->seq when the callback returns. */
  HC_EV_MSG,
  /* The sync after a (re)connect completed: the view is current. */
  HC_EV_SYNCED,
  /* Feed changes, live or from sync's feed pages, in fs order: `receipt`,
   * `ding_update`, `card_event` (fs 0: not from the feed) or `remind`
   * (tracked messages of a conversation unread past its remind_after;
   * each reminder reaches a device once). */
  HC_EV_RECEIPT,
  HC_EV_DING_UPDATE,
  HC_EV_CARD_EVENT,
  HC_EV_REMIND,
  /* Another frame the server sent on its own (no request id): e.g.
   * quiet_state. `frame`. */
  HC_EV_FRAME,
  /* An outbox entry completed: `oid`, `otype`, `cmid` (empty for read and
   * ding_ack) and `frame`, its ack (send) or result; `dup` when the server
   * had it already (an earlier attempt got through). */
  HC_EV_OUTBOX_DONE,
  /* An outbox entry was refused for good and removed: `oid`, `otype`,
   * `cmid`, `err` (PROTO_E_*), `frame` the error frame or NULL when the
   * refusal is local (e.g. PROTO_E_TOO_LARGE against welcome.lim.frame). */
  HC_EV_OUTBOX_FAILED,
  /* Something the application should know but need not act on: an error
   * frame without request id (a connection-level fault, sent just before
   * the server closes; `err`, `frame`), a sync the server refused for
   * good (`err`, `frame`), or a failure to save the cursors (`err` a
   * -errno, `frame` NULL; retried with the next change). */
  HC_EV_ERROR,
  /* A DING alert (live only): `ding_alert` and `frame`. Step 0 on
   * delivery, n for the n-th re-alert until acknowledged (hc_ding_ack);
   * ring unless `silent`. With `about` set it is an escalation notice to
   * a manager: their report `about` did not acknowledge. */
  HC_EV_DING_ALERT,
};

/* One event. Every pointer borrows from the library and is valid only
 * during the callback; copy what you keep (proto_frame_copy()). Fields that
 * do not belong to the event type are zero. */
struct hc_event {
  enum hc_event_type type;
  enum hc_state state;                     /* STATE */
  int err;                                 /* STATE, OUTBOX_FAILED, ERROR */
  unsigned retry_ms;                       /* STATE (OFFLINE) */
  const struct proto_frame *frame;         /* WELCOME, FRAME, OUTBOX_*, ERROR */
  const struct proto_msg *msg;             /* MSG */
  bool replay;                             /* MSG */
  const struct proto_receipt *receipt;     /* RECEIPT */
  const struct proto_ding_update *ding_update; /* DING_UPDATE */
  const struct proto_card_event *card_event;   /* CARD_EVENT */
  const struct proto_remind *remind;       /* REMIND */
  const struct proto_ding_alert *ding_alert;   /* DING_ALERT */
  uint64_t oid;                            /* OUTBOX_* */
  enum proto_type otype;                   /* OUTBOX_* */
  const char *cmid;                        /* OUTBOX_*, NUL-terminated */
  bool dup;                                /* OUTBOX_DONE */
};

typedef void (*hc_event_cb)(struct hc_conn *c, const struct hc_event *ev,
                            void *arg);

/* TLS for wss:// URLs. The server's certificate must chain to a trusted
 * CA and name the URL's host (DNS name or IP address); TLS 1.2 or later.
 * Not for wss:// to an IPv6 literal ([::1]): the name check would fail. */
struct hc_tls_options {
  /* PEM file of the CAs to trust instead of the system's (e.g. a private
   * CA). NULL: $HERALD_CA_FILE if set, else the system's CAs. */
  const char *ca_file;
  bool allow_self_signed;     /* tests only */
};

#define HC_DEFAULT_QUEUE 1024u        /* requests waiting or in flight */
#define HC_DEFAULT_OUTBOX 100000u     /* outbox entries */
#define HC_DEFAULT_OUTBOX_BYTES (64u << 20)
#define HC_DEFAULT_WINDOW 256u        /* outbox entries in flight */

struct hc_conn_config {
  /* "ws://host:port/" or "wss://host:port/" (path optional, default
   * "/"; wss: see hc_tls_options). Required. */
  const char *url;
  /* Other servers of the same deployment (several heraldd nodes on one
   * database), optional: after a lost connection or a failed attempt the
   * next attempt goes to the next URL of url, more_urls[0], ... in turn.
   * Each is checked like `url`. */
  const char *const *more_urls;
  size_t n_more_urls;
  /* Credentials: `token` (hello) and/or `login` + `password` (login). When
   * both are given the token is tried first and the password is the
   * fallback for an expired token. With a state directory and no token,
   * the stored token is used. The password is wiped from memory once a
   * login succeeded (the token is used from then on). */
  const char *login;
  const char *password;
  const char *token;
  /* Device id (1..PROTO_DEV_MAX bytes). NULL: the state directory's,
   * created on first use; without a state directory a random one per
   * connection. */
  const char *device;
  /* Client name and version sent in hello/login; NULL = "herald_client". */
  const char *client_name;
  const char *client_version;
  /* The state directory; NULL = everything in memory. Created (0700) if
   * missing. */
  const char *state_dir;
  /* How much of a conversation to replay the first time the client sees
   * it (no cursor yet). false (default): everything, as the protocol does
   * for unlisted conversations. true: at most `backlog` newest messages
   * (0 = none, only what arrives from now on); before each sync the
   * library then asks `conv_list` and seeds a cursor at last - backlog for
   * every conversation it does not know. Older messages: `history`. */
  bool limit_backlog;
  uint64_t backlog;
  /* Reconnect delay: full jitter over [0, min(max, min * 2^attempt)].
   * 0 = 250 ms and 30000 ms. */
  unsigned reconnect_min_ms;
  unsigned reconnect_max_ms;
  /* Bounds; 0 = the HC_DEFAULT_* above. max_queue counts requests
   * (hc_request) waiting or awaiting their reply; max_outbox and
   * max_outbox_bytes the outbox; window the outbox entries sent but not
   * yet answered. */
  size_t max_queue;
  size_t max_outbox;
  size_t max_outbox_bytes;
  unsigned window;
  /* Replay page size asked in sync (1..1000); 0 = the server's default. */
  unsigned page_limit;
  struct hc_tls_options tls;
  /* Events; may be NULL. Runs on the loop thread. */
  hc_event_cb on_event;
  void *arg;
};

/* Creates a connection (not yet connecting: call hc_conn_start()). The
 * strings of `cfg` are copied; `cfg` is not kept. With a state directory
 * it is created if needed, locked, and the outbox, cursors, token and
 * device id are loaded (a torn last outbox record, from a crash during a
 * write, is discarded: its call never returned success).
 * Returns 0 with *out set, or:
 *   -EINVAL      no url or no credentials, or a malformed url;
 *   -ENOENT, -EACCES  the CA file (hc_tls_options) cannot be read;
 *   -EBUSY       the state directory is in use by another connection;
 *   -EBADMSG     a state file is corrupt (not a torn write);
 *   -ENOMEM, or another -errno from the state directory. */
int hc_conn_new(struct hc_ctx *ctx, const struct hc_conn_config *cfg,
                struct hc_conn **out);

/* Starts connecting; from then on the connection reconnects by itself
 * until it is STOPPED or freed. Also restarts a STOPPED connection (e.g.
 * after hc_conn_set_password()). Returns 0, or -EINVAL when freed. */
int hc_conn_start(struct hc_conn *c);

/* Closes the connection and frees it: flushes the cursors, closes the
 * state directory (the outbox stays on disk for the next run). Callbacks
 * of requests still pending are dropped without being called; no event
 * is delivered after this returns. NULL is ignored. */
void hc_conn_free(struct hc_conn *c);

enum hc_state hc_conn_state(const struct hc_conn *c);
/* True between `synced` and the next disconnect. */
bool hc_conn_synced(const struct hc_conn *c);
/* Why the connection last went OFFLINE or STOPPED (0 = orderly close;
 * -EKEYREJECTED: the TLS handshake failed or the server's certificate was
 * refused). */
int hc_conn_err(const struct hc_conn *c);

/* Who this connection is, from the last welcome (zero before the first).
 * Strings are NUL-terminated copies owned by the connection, valid until
 * the next welcome or hc_conn_free(). */
struct hc_info {
  uint64_t uid;
  char login[129];
  char name[201];
  enum proto_role role;
  struct proto_limits_info lim;
  int64_t clock_skew_ms;       /* server time - local time at welcome */
};
const struct hc_info *hc_conn_info(const struct hc_conn *c);

/* The session token in use (from the config, the state directory or the
 * last login), or NULL. Owned by the connection; valid until the next
 * login or hc_conn_free(). Store it (mode 0600) to skip the password next
 * time; with a state directory the library does that itself. */
const char *hc_conn_token(const struct hc_conn *c);

/* This connection's device id (the config's, the state directory's, or a
 * random one): what hello/login send as `dev`, and the `dev` of
 * device_key and card_sign. Owned by the connection; NULL for NULL. */
const char *hc_conn_device(const struct hc_conn *c);

/* Replaces the credentials, e.g. after STOPPED with PROTO_E_TOKEN_EXPIRED.
 * The strings are copied (NULL clears). Takes effect at the next attempt;
 * call hc_conn_start() to restart a STOPPED connection. 0 or -ENOMEM. */
int hc_conn_set_password(struct hc_conn *c, const char *login,
                         const char *password);
int hc_conn_set_token(struct hc_conn *c, const char *token);

/* ------------------------------------------------------------------ */
/* Requests                                                            */

/* The terminal reply of a request, or its failure. err == 0: `reply` is
 * the terminal frame (PROTOCOL.md 3.2: welcome, ack, synced, page, result,
 * pong, ...). err < 0: `reply` is the error frame when the server refused
 * (err == -reply->u.error.code), or NULL for a local failure: -ECONNRESET
 * (the connection dropped before the reply; the request may or may not
 * have been done). `reply` borrows; valid during the call only. Called
 * exactly once per accepted request, unless forgotten or the connection
 * is freed first. */
typedef void (*hc_reply_cb)(struct hc_conn *c, int err,
                            const struct proto_frame *reply, void *arg);

/* Sends `req` (any client frame except hello/login/sync, whose life the
 * library manages; its `id` is ignored: the library assigns one) and calls
 * `cb` with the terminal reply. The frame is encoded at once; `req` and
 * what it points to are not kept. Requests made while CONNECTING wait for
 * the welcome; they go after the outbox replay. Not persisted: use the
 * outbox for what must survive a disconnect. `cb` may be NULL. *id_out
 * (may be NULL) receives the request id, for hc_request_forget().
 * Returns 0, -ENOTCONN (OFFLINE, STOPPED or IDLE), PROTO_E_QUEUE_FULL (more
 * than max_queue requests outstanding), PROTO_E_TOO_LARGE (above
 * welcome.lim.frame), a validation code (PROTO_E_MISSING...), PROTO_E_
 * UNEXPECTED (hello, login, sync, or a server frame), or -ENOMEM. */
int hc_request(struct hc_conn *c, const struct proto_frame *req,
               hc_reply_cb cb, void *arg, uint64_t *id_out);

/* Drops the callback of request `id` (e.g. because `arg` is going away);
 * the reply is then ignored. Unknown ids are ignored. */
void hc_request_forget(struct hc_conn *c, uint64_t id);

/* ------------------------------------------------------------------ */
/* Outbox                                                              */

/* Client message ids: 26 characters of Crockford base32 (48-bit
 * millisecond time, 80 random bits), sortable by creation time. */
#define HC_CMID_LEN 26
#define HC_CMID_SIZE (PROTO_CMID_MAX + 1)

/* Writes a fresh cmid and a NUL into `out`. */
void hc_cmid_new(char out[HC_CMID_SIZE]);

/* Adds a request to the outbox: `send`, `read`, `ding_ack` or
 * `card_action`. A send or card_action without cmid gets a fresh one;
 * its `id` is ignored. With a state directory the entry is on disk
 * (fsync'd) when this returns 0. It then goes on the wire when online, in
 * outbox order, and again after every reconnect until answered;
 * completion and refusal come as HC_EV_OUTBOX_DONE / _FAILED. Works in
 * every state but a freed connection, also offline: that is its point.
 * *oid (may be NULL) receives the entry's id, unique in this state
 * directory; cmid_out (may be NULL) the cmid.
 * Returns 0, PROTO_E_QUEUE_FULL (max_outbox or max_outbox_bytes),
 * PROTO_E_TOO_LARGE (above welcome.lim.frame, or the default 64 KiB
 * before the first welcome), PROTO_E_UNEXPECTED (another frame type), a
 * validation code, -ENOMEM, or -errno of the write (then nothing was
 * added). */
int hc_outbox_add(struct hc_conn *c, const struct proto_frame *req,
                  uint64_t *oid, char cmid_out[HC_CMID_SIZE]);

/* Shorthands for hc_outbox_add(). hc_send_text sends `len` bytes of UTF-8
 * text; hc_mark_read and hc_ding_ack take the time the read or ack
 * happened (ms since the epoch, 0 = now). */
int hc_send_text(struct hc_conn *c, uint64_t conv, const char *text,
                 size_t len, uint64_t *oid, char cmid_out[HC_CMID_SIZE]);
int hc_mark_read(struct hc_conn *c, uint64_t conv, uint64_t seq,
                 uint64_t at_ms, uint64_t *oid);
int hc_ding_ack(struct hc_conn *c, uint64_t conv, uint64_t seq,
                uint64_t at_ms, uint64_t *oid);

/* A DING through the outbox: `len` bytes of text to `to[0..nto-1]` (user
 * ids; nto 0: every member), with an urgency and optionally its own
 * re-alert times (`esc`, seconds after sending, increasing; nesc 0: the
 * organisation's schedule). Returns as hc_outbox_add. */
int hc_send_ding(struct hc_conn *c, uint64_t conv, const char *text,
                 size_t len, enum proto_urgency urg, const uint64_t *to,
                 size_t nto, const uint64_t *esc, size_t nesc, uint64_t *oid,
                 char cmid_out[HC_CMID_SIZE]);

/* Entries not yet answered. */
size_t hc_outbox_count(const struct hc_conn *c);

/* Calls fn for each outbox entry in order, e.g. to show pending sends at
 * start-up. `f` is the decoded frame (borrowed, valid during the call);
 * return non-zero from fn to stop. Do not add to the outbox from fn. */
typedef int (*hc_outbox_fn)(uint64_t oid, const struct proto_frame *f,
                            void *arg);
void hc_outbox_foreach(struct hc_conn *c, hc_outbox_fn fn, void *arg);

/* ------------------------------------------------------------------ */
/* Cursors                                                             */

/* The last seq delivered for `conv` (0 = none or unknown). */
uint64_t hc_cursor_get(const struct hc_conn *c, uint64_t conv);
/* The feed cursor. */
uint64_t hc_feed_cursor(const struct hc_conn *c);
/* Sets a conversation's cursor, e.g. to start following a conversation
 * from its newest message. Messages up to `seq` are then treated as
 * delivered. Takes effect at the next message and the next sync.
 * 0 or -ENOMEM. */
int hc_cursor_set(struct hc_conn *c, uint64_t conv, uint64_t seq);
/* Writes the cursors to the state directory now (no-op without one).
 * 0 or -errno. */
int hc_flush(struct hc_conn *c);

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/* A human message for a code of this library: a PROTO_E_* code (wire or
 * negative), a negative errno, or 0 ("ok"). Static or thread-local
 * string; any thread. */
const char *hc_strerror(int code);

#endif
