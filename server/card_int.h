/*
 * card_int.h — cards in the server (SPEC §8, PROTOCOL.md §3.8): posting a
 * card, running an action, an edit or a signature on it, and telling the
 * members.
 *
 * Each operation is one job on the reader pool (the loop never waits for
 * PostgreSQL). The job gathers the facts the rules need (card.c: the card,
 * who the actor is to it, the people it names, the OKRs an interview
 * pre-fills from, device keys), applies cards/cards.h, and stores the
 * result with one storage call (store_card_post / store_card_append: one
 * transaction with the event, the state and the members' feed entries).
 * A change computed from a version that moved meanwhile is computed again
 * from the new one (storage refuses it as `raced`). Only after the commit
 * does the callback run, on the loop: the caller answers its client, and
 * card.c sends the card's message (for a new card) and `card_event` to
 * every connected member; the feed carries the events to everyone else.
 *
 * srv_card_post and srv_card_act are the entry points for every way in:
 * the WebSocket handlers (h_card.c, h_send.c) and the bots' HTTP API call
 * the same functions with the principal (a user or a bot) they
 * authenticated.
 *
 * Loop thread only, except the *_run functions (database threads).
 */
#ifndef HERALD_SRV_CARD_INT_H
#define HERALD_SRV_CARD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "store.h"

struct srv_server;

/* Who acts. */
struct srv_card_principal {
  bool bot;                    /* a bot (id = bots.id), else a user */
  int64_t id;
  bool admin;                  /* a user with role admin */
};

/* The outcome, passed to the callback (borrowed for the call). */
struct srv_card_result {
  int code;                    /* 0, or a negative PROTO_E_* code */
  struct proto_error err;      /* field/msg when code != 0 (may be empty) */
  int64_t card, ver;
  bool dup;                    /* a replayed cmid: the original outcome */
  /* srv_card_post: the card's message. */
  int64_t conv, seq, ts;
};

typedef void (*srv_card_cb)(void *arg, const struct srv_card_result *r);

/* Posts a card (`body`: the card JSON, `len` bytes, copied) into
 * conversation `conv` as principal `p`, exactly once per (principal,
 * cmid) as a `send`. `cb(arg, result)` runs on the loop after the commit
 * (or the refusal); the message and the created event are then published.
 * Errors: NOT_FOUND (conversation), INVALID_CARD (field = JSON pointer),
 * FORBIDDEN, BODY_TOO_LARGE, DB_UNAVAILABLE, NOMEM. Returns 0 when the
 * job was queued (cb will run), or a negative code (cb will not run). */
int srv_card_post(struct srv_server *srv, const struct srv_card_principal *p,
                  int64_t conv, const char *cmid, const char *body, size_t len,
                  srv_card_cb cb, void *arg);

/* What to do to a card. Strings are copied. */
enum srv_card_op { SRV_CARD_ACTION = 1, SRV_CARD_EDIT, SRV_CARD_SIGN };
struct srv_card_req {
  enum srv_card_op op;
  int64_t card;
  const char *action;          /* ACTION: name; args JSON or NULL */
  const char *args;
  const char *cmid;            /* ACTION: exactly-once key (may be NULL) */
  int64_t base;                /* ACTION: 0 none; EDIT: required */
  const char *path, *value;    /* EDIT */
  int64_t ver;                 /* SIGN */
  const uint8_t *hash, *sig;   /* SIGN: 32 and 64 bytes */
  const char *dev;             /* SIGN */
};

/* Runs an action, an edit or a signature as `p`, like srv_card_post.
 * Errors: NOT_FOUND, FORBIDDEN, INVALID_ACTION, INVALID_CARD, CONFLICT,
 * STALE_VERSION, BAD_SIGNATURE, DB_UNAVAILABLE, NOMEM. */
int srv_card_act(struct srv_server *srv, const struct srv_card_principal *p,
                 const struct srv_card_req *req, srv_card_cb cb, void *arg);

/* Sends event `ev` (with its feed entries) to the members' synced
 * sessions, each with their own fs. */
void srv_card_publish_event(struct srv_server *srv,
                            const struct store_card_event *ev);

/* A posted card (not a duplicate): its message to the subscribed sessions
 * and its created event to the members. `body` is the message body. */
void srv_card_publish_post(struct srv_server *srv,
                           const struct store_card_posted *p,
                           bool bot, int64_t sender, const char *cmid,
                           const char *body);

/* A stored event as a card_event body (strings borrowed from ev). */
void srv_card_event_to_proto(const struct store_card_event *ev, int64_t fs,
                             struct proto_card_event *out);

/* ---- on a database thread ---- */

/* Feed replay (h_read.c): the events named by the STORE_FEED_CARD entries
 * among e[0..*n-1], as card_event items in entry order. Cuts *n so that
 * the page's payloads stay under a budget (at least one entry stays).
 * Returns 0, 1 (cut: more entries follow), or a (negative) STORE_* code.
 * *cev and *items are malloc'd (items borrow from cev): release both with
 * srv_card_feed_free, also after a failure. */
int srv_card_feed_page(struct store_conn *conn,
                       const struct store_feed_entry *e, size_t *n,
                       struct store_card_event **cev,
                       struct proto_card_event **items, size_t *nitems);
void srv_card_feed_free(struct store_card_event *cev,
                        struct proto_card_event *items, size_t n);

/* The sweeper: */

/* Sends the due card reminders (quiet hours defer them): claims, records
 * the "remind" action, and returns the stored events in *evs (malloc'd;
 * store_card_event_clear each, then free) for srv_card_publish_event.
 * `node` names this server. Returns a STORE_* code. */
int srv_card_reminders_run(struct store_conn *conn, const char *node,
                           struct store_card_event **evs, size_t *n);

/* A card message made on a database thread, to publish on the loop. */
struct srv_card_msg {
  struct store_card_posted p;
  int64_t sender;              /* a user */
  char cmid[PROTO_CMID_MAX + 1];
  char *body;                  /* malloc'd */
};
/* Frees what m holds (not m). */
void srv_card_msg_clear(struct srv_card_msg *m);

/* The task_after automation: one task card per (member, conversation)
 * with messages unread past task_after, once. *made (malloc'd; clear each
 * with srv_card_msg_clear, then free) lists the cards posted, for
 * srv_card_publish_post. Returns a STORE_* code. */
int srv_card_tasks_run(struct store_conn *conn, struct srv_card_msg **made,
                       size_t *n);

#endif
