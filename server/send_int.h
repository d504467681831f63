/*
 * send_int.h — the send path (h_send.c) for senders that are not a
 * WebSocket session: the HTTP bot API and the robot webhook. Their
 * messages go through the same group commit, publish and exactly-once
 * rule as a `send` frame; only the acknowledgement differs (a callback
 * instead of an ack frame).
 *
 * Loop thread only.
 */
#ifndef HERALD_SRV_SEND_INT_H
#define HERALD_SRV_SEND_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct srv_server;

struct srv_send_outcome {
  int code;                /* 0 or a negative proto code */
  bool not_member;         /* refused: no such conversation, or the bot
                              was not added to it */
  char field[32], why[128];/* the refusal's field and reason, or "" */
  int64_t conv, seq, ts;   /* stored (or the original, when dup) */
  bool dup, tracked;
};

/* Runs on the loop once the message is committed (before it is
 * published) or refused. */
typedef void (*srv_send_cb)(void *arg, const struct srv_send_outcome *o);

/* A bot's message: a text or a DING. Strings are copied. */
struct srv_send_args {
  int64_t bot_id;
  int rate_per_minute;     /* the bot's limit (botrate_int.h) */
  const char *cmid;        /* 1..64 bytes, unique per bot forever */
  int64_t conv;
  const char *body;        /* UTF-8 without NUL, checked by the caller */
  size_t len;
  bool flagged;
  /* A DING (urgency: enum store_urgency; 0: a plain text) to every other
   * member (all) or to to[0..nto-1] (user ids, 1..STORE_DING_TO_MAX,
   * copied); the organisation's re-alert schedule applies. */
  int urgency;
  bool all;
  const int64_t *to;
  size_t nto;
};

/* Counts the send against the bot's rate limit and queues it. Returns 0
 * (cb will be called exactly once), or a negative proto code and cb is
 * not called: TOO_MANY_REQUESTS with *wait_ms > 0 (rate limit; *wait_ms
 * until the next send is allowed) or 0 (the writer's queue is full),
 * BODY_TOO_LARGE, BAD_VALUE (cmid), NOMEM. */
int srv_send_bot(struct srv_server *srv, const struct srv_send_args *a,
                 srv_send_cb cb, void *arg, int64_t *wait_ms);

#endif
