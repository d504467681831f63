/*
 * hc_int.h — what the files of the client library share: the context and
 * connection structs and the functions one concept offers the others.
 *
 *   ctx.c        the context: lws client context on the libuv loop,
 *                hc_run_until()
 *   transport.c  the WebSocket: connect, the lws callback, reassembly,
 *                one write per CLIENT_WRITEABLE, close
 *   conn.c       the connection: configuration, state machine, the
 *                timer, events, login/hello/welcome, reconnect
 *   request.c    request ids, the queue of requests, reply correlation,
 *                the choice of the next frame to write
 *   sync.c       replay bookkeeping: sync, pages, feed, live messages,
 *                cursors moved in seq order, gaps re-synced
 *   outbox.c     the persistent outbox log (no network, unit-tested)
 *   cursors.c    the cursor table and its file (unit-tested)
 *   statedir.c   the state directory: lock, small files, atomic writes
 *   backoff.c    exponential backoff with full jitter, the PRNG
 *   url.c        ws:// URL parsing
 *   cmid.c       client message ids
 *   errors.c     hc_strerror
 *
 * Loop thread only, like the public API.
 */
#ifndef HERALD_HC_INT_H
#define HERALD_HC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "hc.h"
#include "proto.h"

struct lws;
struct lws_context;
struct lws_vhost;

/* ------------------------------------------------------------------ */
/* backoff.c                                                           */

struct hc_backoff {
  unsigned min_ms, max_ms;
  unsigned attempt;
};

/* The next delay: uniform in [0, min(max, min * 2^attempt)] ("full
 * jitter"), then attempt++. `rnd` is a random 64-bit value. */
unsigned hc_backoff_next(struct hc_backoff *b, uint64_t rnd);
void hc_backoff_reset(struct hc_backoff *b);

/* splitmix64: a fast non-cryptographic generator for jitter. */
uint64_t hc_rand64(uint64_t *state);
/* A seed from getrandom(), falling back to time and address bits. */
uint64_t hc_rand_seed(void);

/* ------------------------------------------------------------------ */
/* url.c                                                               */

struct hc_url {
  bool tls;          /* wss:// */
  char host[256];    /* name or address; IPv6 without brackets */
  int port;
  char path[256];    /* starts with '/' */
};

/* Parses "ws://host[:port][/path]" or "wss://...". The default port is 80
 * (ws) or 443 (wss). Returns 0 or -EINVAL. */
int hc_url_parse(const char *s, struct hc_url *out);

/* ------------------------------------------------------------------ */
/* statedir.c                                                          */

struct hc_statedir {
  int dirfd;         /* -1: none (memory only) */
  int lockfd;
};

/* Opens (creating it with mode 0700 if missing, parents included) and
 * locks the state directory. A directory readable by others is narrowed
 * to 0700. Returns 0, -EBUSY (locked by another connection or process),
 * -ENOTDIR, or another -errno. */
int hc_statedir_open(struct hc_statedir *sd, const char *path);
void hc_statedir_close(struct hc_statedir *sd);

/* Reads the whole small file `name` into buf (at most cap - 1 bytes, NUL
 * added). Returns the length, -ENOENT, -EFBIG (larger than cap - 1) or
 * another -errno. */
ssize_t hc_statedir_read(struct hc_statedir *sd, const char *name, char *buf,
                         size_t cap);

/* Replaces `name` atomically: writes name.tmp (mode 0600), fsyncs it,
 * renames it over `name` and fsyncs the directory. 0 or -errno. */
int hc_statedir_write(struct hc_statedir *sd, const char *name,
                      const void *data, size_t len);

/* Removes `name`; a missing file is not an error. 0 or -errno. */
int hc_statedir_remove(struct hc_statedir *sd, const char *name);

/* fsync of the directory itself (after a rename). 0 or -errno. */
int hc_statedir_sync(struct hc_statedir *sd);

/* ------------------------------------------------------------------ */
/* cursors.c                                                           */

/* conv -> last seq delivered, and the feed cursor. Open addressing on the
 * conversation id; nothing is allocated until the first conversation. */
struct hc_cursors {
  uint64_t *conv;    /* 0 = empty slot */
  uint64_t *last;
  size_t cap, n;
  uint64_t feed;
  bool dirty;        /* changed since the last save */
};

void hc_cursors_init(struct hc_cursors *cur);
void hc_cursors_cleanup(struct hc_cursors *cur);
/* The cursor of `conv`; *known (may be NULL) tells whether the
 * conversation is in the table at all. */
uint64_t hc_cursors_get(const struct hc_cursors *cur, uint64_t conv,
                        bool *known);
/* Sets (adds) the cursor of `conv`. 0 or -ENOMEM. */
int hc_cursors_set(struct hc_cursors *cur, uint64_t conv, uint64_t last);
void hc_cursors_set_feed(struct hc_cursors *cur, uint64_t feed);
/* Fills `out` (up to `max`) with the cursors as sync wants them, in
 * ascending conversation order; returns how many there are in all. */
size_t hc_cursors_list(const struct hc_cursors *cur, struct proto_cursor *out,
                       size_t max);

/* The file format (text, one record per line):
 *     herald-cursors 1
 *     feed <feed>
 *     <conv> <last>          (one line per conversation, ascending)
 * Formats into a malloc'd buffer (*out, *len); 0 or -ENOMEM. */
int hc_cursors_format(const struct hc_cursors *cur, char **out, size_t *len);
/* Parses the format above into an empty table. 0, -EBADMSG or -ENOMEM. */
int hc_cursors_parse(struct hc_cursors *cur, const char *text, size_t len);
/* Loads from / saves to `sd` (file "cursors"). A missing file loads as an
 * empty table. Saving clears `dirty`. 0 or a negative code as above. */
int hc_cursors_load(struct hc_cursors *cur, struct hc_statedir *sd);
int hc_cursors_save(struct hc_cursors *cur, struct hc_statedir *sd);

/* ------------------------------------------------------------------ */
/* outbox.c                                                            */

/* Outbox entries use request ids with this bit set: id = HC_OID_BIT | oid,
 * the same on every attempt. Other requests count from 1 per connection. */
#define HC_OID_BIT (1ull << 62)

enum hc_obx_state {
  HC_OBX_PENDING,    /* to be written on this connection */
  HC_OBX_INFLIGHT,   /* written, waiting for its ack/result */
};

struct hc_obx_entry {
  uint64_t oid;
  uint32_t len;      /* bytes of the encoded frame */
  uint8_t type;      /* enum proto_type */
  uint8_t state;     /* enum hc_obx_state */
  char cmid[PROTO_CMID_MAX + 1]; /* NUL-terminated; empty for read/ding_ack */
  uint8_t data[];    /* `headroom` bytes, then the frame */
};

struct hc_outbox {
  int fd;            /* the log, -1 in memory */
  struct hc_statedir *sd;
  size_t headroom;
  /* Live entries in oid order: v[0..n). Completed entries are removed;
   * the array is short in practice (the window bounds what is in flight,
   * and an outbox drains when online). */
  struct hc_obx_entry **v;
  size_t n, cap;
  size_t bytes;      /* sum of entry frame sizes */
  size_t inflight;
  size_t scan;       /* v[0..scan) hold no PENDING entry */
  uint64_t next_oid;
  uint64_t file_size;
  uint64_t dead;     /* bytes of the log no live entry needs */
};

/* Opens the outbox: in memory when `sd` is NULL, else the log "outbox" in
 * the state directory (created if missing; a torn last record is cut off).
 * `headroom` bytes are reserved in front of every frame for the transport
 * (LWS_PRE). Returns 0, -EBADMSG (not an outbox log, or a bad record
 * followed by good ones), -ENOMEM or -errno. */
int hc_outbox_open(struct hc_outbox *ob, struct hc_statedir *sd,
                   size_t headroom);
void hc_outbox_close(struct hc_outbox *ob);

/* Appends `f` (send/read/ding_ack/card_action, cmid already set): gives
 * it the next oid (and id HC_OID_BIT | oid), encodes it, appends it to the
 * log and fdatasyncs before returning. `max_frame` bounds the encoded size
 * (PROTO_E_TOO_LARGE). Returns 0 with *out (borrowed; valid until the
 * entry completes), a validation code, -ENOMEM or -errno. */
int hc_outbox_append(struct hc_outbox *ob, const struct proto_frame *f,
                     size_t max_frame, struct hc_obx_entry **out);

/* The live entry `oid`, or NULL. */
struct hc_obx_entry *hc_outbox_find(struct hc_outbox *ob, uint64_t oid);

/* Removes entry `oid` (answered or refused for good) and logs that; the
 * log is compacted when most of it is dead. Returns 0, -ENOENT, or -errno
 * of the log write (the entry is removed from memory either way: a lost
 * completion only means one harmless re-send after a restart). */
int hc_outbox_complete(struct hc_outbox *ob, uint64_t oid);

/* The first PENDING entry, or NULL. */
struct hc_obx_entry *hc_outbox_next(struct hc_outbox *ob);
/* Marks `e` written (INFLIGHT) / back to PENDING. */
void hc_outbox_sent(struct hc_outbox *ob, struct hc_obx_entry *e);
void hc_outbox_unsend(struct hc_outbox *ob, struct hc_obx_entry *e);
/* Every INFLIGHT entry back to PENDING (after a disconnect). */
void hc_outbox_rewind(struct hc_outbox *ob);

/* Rewrites the log with only the live entries (temp file, fsync, rename).
 * 0 or -errno. Called by hc_outbox_complete() when worthwhile. */
int hc_outbox_compact(struct hc_outbox *ob);

/* The encoded frame of an entry. */
static inline const uint8_t *hc_obx_frame(const struct hc_outbox *ob,
                                          const struct hc_obx_entry *e)
{
  return e->data + ob->headroom;
}

/* ------------------------------------------------------------------ */
/* cmid.c — hc_cmid_new() is public.                                   */

/* Base32 (Crockford) of the 16 bytes: 48-bit time then 80 random bits. */
void hc_cmid_format(uint64_t ms, const uint8_t rnd[10], char out[HC_CMID_LEN + 1]);

/* ------------------------------------------------------------------ */
/* The context and the connection                                      */

struct hc_ctx {
  uv_loop_t *loop;
  uv_loop_t own_loop;
  bool owns_loop;
  struct lws_context *lws;
  struct lws_context *lws_alive;   /* set to NULL by lws when destroyed */
  void *keepalive;                 /* lws_retry_bo_t, allocated in ctx.c */
  struct hc_conn *conns;           /* doubly linked */
  unsigned closing;                /* conn timers being closed */
  uv_timer_t run_timer;
  bool run_timer_open;
  int depth;                       /* callbacks of ours on the stack */
  uint64_t rng;
  int close_status;                /* for a callback that returns -1 */
  uint8_t *scratch;                /* transport.c: outbox frames are sent
                                      from a copy (lws masks in place) */
  size_t scratch_cap;
  struct hc_tls_vhost *tls_vhosts; /* ctx.c: one client vhost per CA file */
};

/* A client vhost that trusts one CA file (wss://); they live as long as
 * the lws context. The default vhost trusts the system's CAs. */
struct hc_tls_vhost {
  struct hc_tls_vhost *next;
  struct lws_vhost *vh;
  char ca_file[];
};

/* The vhost whose TLS client context trusts `ca_file` (NULL: the system's
 * CAs, the default vhost, *out = NULL); created on first use. 0, -errno
 * when the file cannot be read, or -EIO. */
int hc_ctx_tls_vhost(struct hc_ctx *ctx, const char *ca_file,
                     struct lws_vhost **out);

/* A request waiting to be written or answered. */
struct hc_req {
  struct hc_req *next;
  uint64_t id;
  uint8_t type;                    /* enum proto_type of the request */
  bool internal;                   /* made by the library (auth, sync) */
  bool preauth;                    /* may go before the welcome */
  hc_reply_cb cb;
  void *arg;
  size_t len;                      /* frame bytes */
  uint8_t *buf;                    /* headroom + frame; NULL once written */
};

struct hc_conn {
  struct hc_ctx *ctx;
  struct hc_conn *prev, *next;

  /* Configuration (owned copies; strings are exact-size allocations, as
   * a benchmark keeps thousands of connections). */
  char *host, *path, *hosthdr;      /* the server of the next attempt */
  int port;
  bool tls;                        /* wss:// */
  bool tls_self_signed;            /* hc_tls_options.allow_self_signed */
  struct lws_vhost *tls_vhost;     /* its CA file's, or NULL (system) */
  char **urls;                      /* url, then the fallbacks */
  size_t nurls, url_at;             /* url_at: the one host/port are of */
  char *login, *password, *token, *device, *client_name, *client_version;
  bool limit_backlog;
  uint64_t backlog;
  size_t max_queue, max_outbox, max_outbox_bytes;
  unsigned window, page_limit;
  hc_event_cb on_event;
  void *arg;

  /* Transport. */
  struct lws *wsi;                 /* NULL when not connected */
  struct lws *cb_wsi;              /* the wsi whose callback runs now */
  enum hc_state state;
  bool ws_up;                      /* WebSocket established */
  bool authed;                     /* welcome received */
  int err;                         /* why the last disconnect */
  int pending_err;                 /* from an error frame before a close */
  bool stop;                       /* do not reconnect after this drop */
  bool reconnect_now;              /* next attempt without delay */
  bool logged_out;
  int peer_close;                  /* close code the server sent */
  uint64_t connect_started;        /* loop ms of the current attempt */
  uint8_t *rx;                     /* reassembly of a fragmented message */
  size_t rx_len, rx_cap;
  struct hc_info info;
  bool have_info;

  /* Timers: one uv timer serves all deadlines (loop ms, 0 = none). */
  uv_timer_t timer;
  uint64_t reconnect_at, hold_until, resync_at, flush_at;
  struct hc_backoff bo;            /* reconnects */
  struct hc_backoff hold_bo;       /* retryable refusals of the outbox */
  struct hc_backoff sync_bo;       /* syncs repeated because of gaps */
  uint64_t online_since;

  /* Requests. */
  struct hc_req *txq, *txq_tail;   /* not yet written */
  struct hc_req *pend, *pend_tail; /* written, awaiting the reply */
  size_t nreq;                     /* application requests outstanding */
  uint64_t next_id;
  uint64_t auth_id;
  bool auth_by_token;
  uint64_t logout_id;

  /* Sync. */
  uint64_t sync_id;                /* the running sync, 0 = none */
  uint64_t conv_list_id;           /* the conv_list before a sync */
  bool synced;
  bool resync;                     /* sync again once the running one ends */

  /* Persistent state. */
  struct hc_statedir sd;
  bool have_sd;
  struct hc_outbox ob;
  struct hc_cursors cur;

  /* Lifecycle: free is deferred while our code is on the stack. */
  int busy;
  bool free_pending;
  bool freed;                      /* finish_free ran; memory goes with the
                                      timer's close callback */
};

/* ctx.c */
void hc_ctx_link(struct hc_ctx *ctx, struct hc_conn *c);
void hc_ctx_unlink(struct hc_ctx *ctx, struct hc_conn *c);
uint64_t hc_ctx_rand(struct hc_ctx *ctx);

/* conn.c */
/* Brackets every entry into a connection from the loop (lws callback,
 * timer); leaving the outermost finishes a deferred hc_conn_free(). */
void hc_conn_enter(struct hc_conn *c);
void hc_conn_leave(struct hc_conn *c);
/* Delivers an event to the application. */
void hc_emit(struct hc_conn *c, struct hc_event *ev);
/* The WebSocket is up: send hello or login. */
void hc_conn_ws_up(struct hc_conn *c);
/* The WebSocket is gone (or never came up): fail what waited on it,
 * rewind the outbox, schedule the reconnect or stop. */
void hc_conn_down(struct hc_conn *c, int err);
/* Closes the WebSocket with close code `status` and handles the drop as
 * hc_conn_down(c, err). */
void hc_conn_drop(struct hc_conn *c, int err, int status);
/* A complete message arrived: decode and dispatch it. */
void hc_conn_on_message(struct hc_conn *c, const uint8_t *buf, size_t len);
/* Arms the timer for the earliest deadline. */
void hc_conn_arm(struct hc_conn *c);
/* Loop time in ms. */
uint64_t hc_conn_now(const struct hc_conn *c);
/* Marks the cursors dirty and schedules their save. */
void hc_conn_cursors_changed(struct hc_conn *c);
/* Writes the cursors now if dirty (state directory only). */
int hc_conn_flush(struct hc_conn *c);
/* Largest frame the server accepts / sends (welcome.lim, or defaults). */
size_t hc_conn_max_frame(const struct hc_conn *c);
size_t hc_conn_max_sframe(const struct hc_conn *c);

/* transport.c */
/* The lws protocol table of the context (one entry: "herald.v1"). */
const void *hc_transport_protocols(void);
/* Starts a connection attempt to c->url. 0, or a negative code when the
 * attempt failed at once (the caller treats it as a drop). */
int hc_transport_connect(struct hc_conn *c);
/* Asks for a CLIENT_WRITEABLE callback when there is something to write. */
void hc_transport_kick(struct hc_conn *c);
/* Closes the WebSocket with `status` (a close code) and detaches it from
 * the connection at once; lws finishes the close later. */
void hc_transport_close(struct hc_conn *c, int status);
/* The headroom every frame needs (LWS_PRE). */
size_t hc_transport_headroom(void);

/* request.c */
/* Encodes `f` with a fresh id and queues it. internal: made by the
 * library (not counted against max_queue); front: goes before the queue
 * (hello/login). Returns 0 with *id_out, or a negative code. */
int hc_req_queue(struct hc_conn *c, const struct proto_frame *f,
                 hc_reply_cb cb, void *arg, bool internal, bool front,
                 uint64_t *id_out);
/* A reply frame `f` with f->id: finds its request and calls back.
 * Returns true when it was consumed. */
bool hc_req_reply(struct hc_conn *c, const struct proto_frame *f, int err);
/* Fails every queued and pending request with `err` (disconnect). */
void hc_req_fail_all(struct hc_conn *c, int err);
/* Frees every request without calling back (hc_conn_free). */
void hc_req_drop_all(struct hc_conn *c);
/* The next frame to write, or NULL: frame bytes at *frame (headroom
 * writable in front), *len. *token identifies it for hc_req_written(). */
struct hc_wr {
  uint8_t *frame;
  size_t len;
  struct hc_req *req;              /* or */
  struct hc_obx_entry *entry;
};
bool hc_req_next_write(struct hc_conn *c, struct hc_wr *w);
/* Whether hc_req_next_write() would find something (no side effects). */
bool hc_req_want_write(struct hc_conn *c);
void hc_req_written(struct hc_conn *c, struct hc_wr *w);
/* Outbox replies (id with HC_OID_BIT). */
void hc_req_outbox_reply(struct hc_conn *c, const struct proto_frame *f,
                         int err);

/* sync.c */
/* After the welcome: the outbox replay starts, then the sync. */
void hc_sync_start(struct hc_conn *c);
/* A frame carrying the running sync's id (page, feed, synced, error). */
void hc_sync_frame(struct hc_conn *c, const struct proto_frame *f, int err);
/* A live msg / feed frame (receipt, remind, ding_update, card_event). */
void hc_sync_live_msg(struct hc_conn *c, const struct proto_msg *m);
void hc_sync_live_feed(struct hc_conn *c, const struct proto_frame *f);
/* Sync again as soon as possible (gap, or a retryable failure). */
void hc_sync_request(struct hc_conn *c);
/* The timer reached resync_at. */
void hc_sync_timer(struct hc_conn *c);
/* Disconnect: forget the running sync. */
void hc_sync_reset(struct hc_conn *c);

#endif
