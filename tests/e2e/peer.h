/*
 * peer.h — a test client: one herald_client connection that records what
 * it receives (messages per conversation, outbox completions, errors), so
 * end-to-end tests can wait for and compare histories.
 *
 * Single-threaded test code; everything runs on the context's loop.
 */
#ifndef HERALD_E2E_PEER_H
#define HERALD_E2E_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hc.h"

struct peer_msg {
  uint64_t conv, seq, from, ts;
  char cmid[HC_CMID_SIZE];
  char *body;
  enum proto_kind kind;
  enum proto_urgency urg;      /* DINGs */
  size_t nto;                  /* DING recipients named (0 with all) */
  bool all, silent, replay;
};

struct peer_card {             /* a card_event, live or replayed */
  uint64_t card, ver, actor, conv, seq, ts, fs;
  char ev[33];
  char *payload;               /* JSON text */
};

struct peer {
  struct hc_conn *c;
  char name[64];
  struct peer_msg *msgs;       /* every message received, in arrival order */
  size_t nmsgs, capmsgs;
  size_t acked;                /* outbox sends answered (OUTBOX_DONE) */
  size_t failed;               /* outbox entries refused */
  int last_failed_err;
  size_t synced;               /* HC_EV_SYNCED count */
  struct proto_remind *reminds; /* every unread reminder, in order */
  size_t nreminds, capreminds;
  size_t welcomes;
  size_t receipts;             /* receipt events (live or replayed) */
  size_t offline;              /* went OFFLINE */
  enum hc_state state;
  /* DINGs: every ding_alert, and every ding_update (live or replayed),
   * in arrival order. */
  struct proto_ding_alert *alerts;
  size_t nalerts, capalerts;
  struct proto_ding_update *dupd;
  size_t ndupd, capdupd;
  /* Cards: every card_event (live or replayed), in arrival order; and the
   * card id of every card message, by index in msgs. */
  struct peer_card *cards;
  size_t ncards, capcards;
};

/* The shared client context of the test process (created on first use). */
struct hc_ctx *peer_ctx(void);

/* Connects `login` (password "pw-<login>") to `url`; `state_dir` may be
 * NULL (in-memory). Waits until synced unless `wait` is false. */
struct peer *peer_new(const char *url, const char *login,
                      const char *state_dir, bool wait);
/* Same with several servers of one deployment, tried in turn
 * (hc_conn_config.more_urls). */
struct peer *peer_new_urls(const char *const *urls, size_t nurls,
                           const char *login, const char *state_dir,
                           bool wait);
void peer_free(struct peer *p);

/* Messages of one conversation received by `p`, in order. */
size_t peer_count(const struct peer *p, uint64_t conv);

/* Fails the test unless `p` received conversation `conv` as seq 1..n in
 * order, each once. */
void peer_check_history(const struct peer *p, uint64_t conv, uint64_t n);

/* Runs the loop until fn(arg) or the timeout; fails the test with `what`
 * on timeout. */
void peer_wait(bool (*fn)(void *), void *arg, int64_t timeout_ms,
               const char *what);

/* A synchronous request: returns the error code (0 on success) and copies
 * the reply frame into *reply when non-NULL (release with
 * proto_frame_cleanup). */
int peer_request(struct peer *p, const struct proto_frame *req,
                 struct proto_frame *reply);

/* `read` of conv up to seq at `at_ms` (0: absent, i.e. now) as a direct
 * request, and `who_read` of conv:seq: the error code or 0, as
 * peer_request. */
int peer_read_at(struct peer *p, uint64_t conv, uint64_t seq, uint64_t at_ms);
int peer_who_read(struct peer *p, uint64_t conv, uint64_t seq,
                  struct proto_frame *reply);

/* The row of user `uid` in a who_read_result, or NULL. */
const struct proto_who_row *peer_who_row(const struct proto_frame *r,
                                         uint64_t uid);

/* Sends a text through the outbox and waits until the server stored it. */
void peer_say(struct peer *p, uint64_t conv, const char *text);

/* Creates a conversation through the server; returns its id. */
uint64_t peer_conv_create(struct peer *p, bool direct, const char *title,
                          const uint64_t *members, size_t n);

#endif
