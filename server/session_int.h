/*
 * session_int.h — one WebSocket connection of heraldd: who it is, what it
 * has received so far, and the bounded queue of frames waiting to be
 * written to it.
 *
 * Sessions are heap objects with a reference count so that database jobs
 * started for a session may finish after the connection closed: the job
 * holds a reference and finds `wsi == NULL` (the session is gone) when it
 * completes. libwebsockets' per-session data holds only a pointer.
 *
 * Writes happen only in the connection's SERVER_WRITEABLE callback, one
 * frame per callback (libwebsockets' rule). A session whose queue reaches
 * its bound is killed — a client that stops reading must not grow the
 * server's memory; it loses nothing, because it replays on reconnect.
 *
 * Loop thread only.
 */
#ifndef HERALD_SRV_SESSION_INT_H
#define HERALD_SRV_SESSION_INT_H

#include <stddef.h>
#include <stdint.h>

#include "intmap_int.h"
#include "proto.h"

struct lws;
struct srv_server;

enum srv_session_state {
  SRV_SESS_NEW,        /* connected, no hello/login yet */
  SRV_SESS_AUTHING,    /* a hello/login is being checked */
  SRV_SESS_READY,      /* authenticated */
  SRV_SESS_CLOSING,    /* a close was decided; flushing, then closing */
  SRV_SESS_GONE,       /* the connection is closed; wsi is NULL */
};

/* Per-conversation delivery position: the highest seq written to this
 * connection. Live messages are sent only when they are the next seq, so a
 * device never sees a gap or a duplicate (see fanout.c). */
struct srv_conv_pos {
  int64_t conv;
  int64_t sent;        /* highest seq queued to this session */
  int64_t target;      /* highest seq known to exist (for gap fill) */
  uint64_t req;        /* sync request id its pages carry, 0 = live */
  unsigned filling:1;  /* a replay/gap-fill query is running */
  unsigned in_sync:1;  /* counted in the session's sync_pending */
};

struct srv_session {
  unsigned refs;
  struct lws *wsi;                 /* NULL once closed */
  struct srv_server *srv;
  enum srv_session_state state;
  uint64_t serial;                 /* unique per process, for logs */
  char peer[48];                   /* remote address, for rate limits */

  /* Identity, valid in READY. A session is a user or a bot, never both. */
  int64_t uid;                     /* user id, 0 for a bot */
  int64_t bot_id;                  /* bot id, 0 for a user */
  int bot_rate;                    /* the bot's messages a minute */
  int role;                        /* enum store_role (users) */
  uint8_t token_hash[32];          /* for logout */
  struct srv_session *user_next;   /* registry: next session of this user */

  /* Reassembly of a message that arrives in several fragments. */
  uint8_t *rx;
  size_t rx_len, rx_cap;

  /* Outbound queue: a ring of shared encoded frames. */
  struct proto_shared **q;
  unsigned q_head, q_len, q_cap;
  size_t q_bytes;

  /* Delivery positions: conversation id -> struct srv_conv_pos (owned). */
  struct srv_intmap pos;

  unsigned inflight;               /* requests waiting on the database */
  uint64_t sync_id;                /* the running sync's request id */
  unsigned sync_pending;           /* conversations it still replays */
  int syncing;                     /* a sync is running */
  uint64_t feed_cursor;            /* feed position the sync ends at */
  int live;                        /* has synced: new conversations are
                                      delivered to it as they appear */
  uint16_t close_code;             /* set with state CLOSING */
  char close_reason[64];
};

/* Creates a session for `wsi` with one reference (the connection's). */
struct srv_session *srv_session_new(struct srv_server *srv, struct lws *wsi);

/* Reference counting: a job that outlives a callback holds a reference. */
struct srv_session *srv_session_ref(struct srv_session *s);
void srv_session_unref(struct srv_session *s);

/* True while frames can still be queued (not closing or gone). */
int srv_session_open(const struct srv_session *s);

/* Queues a shared frame (takes a new reference on it) and asks for a
 * WRITEABLE callback. When the queue is full the session is killed (close
 * 1008 "send queue full") and -1 is returned; the frame is not queued. */
int srv_session_queue(struct srv_session *s, struct proto_shared *f);

/* Encodes `f` and queues it. Returns 0, -1 (queue full, session killed) or
 * a negative proto code when `f` does not encode (a server bug, logged). */
int srv_session_send(struct srv_session *s, const struct proto_frame *f);

/* Queues an error frame for request `id` (0: none) with the code's wire
 * name and message; `field` and `detail` may be NULL. */
void srv_session_send_error(struct srv_session *s, uint64_t id, int code,
                            const char *field, const char *detail);

/* Decides to close with `code` and `reason` after the frames already queued
 * are written (close frame last). Idempotent: the first decision wins. */
void srv_session_close(struct srv_session *s, uint16_t code,
                       const char *reason);

/* Closes at once without flushing, from any callback (kills another
 * connection through lws' timeout machinery). */
void srv_session_kill(struct srv_session *s, uint16_t code,
                      const char *reason);

/* Called from SERVER_WRITEABLE: writes one frame, or the close. Returns
 * what the lws callback must return (0, or -1 to close). */
int srv_session_writeable(struct srv_session *s);

/* Called from CLOSED: drops queued frames and the connection's reference. */
void srv_session_closed(struct srv_session *s);

/* Delivery positions (fanout.c). Returns the slot for `conv`, creating it
 * when `create` (NULL when absent and !create, or out of memory). */
struct srv_conv_pos *srv_session_pos(struct srv_session *s, int64_t conv,
                                     int create);

#endif
