/*
 * card_impl_int.h — what the server's card sources share (card.c,
 * card_sweep.c): posting a card on a database thread, and an event's
 * payload text. Everyone else goes through card_int.h.
 */
#ifndef HERALD_SRV_CARD_IMPL_INT_H
#define HERALD_SRV_CARD_IMPL_INT_H

#include "card_int.h"
#include "cards.h"

#include <jansson.h>

/* What a post needs in the database thread and brings back. */
struct srv_card_post_ctx {
  struct srv_card_principal p;
  int64_t conv;
  const char *cmid;
  const char *body;
  size_t len;
  bool system;                 /* automation: created by the system */
  size_t max_body;             /* payloads above are BODY_TOO_LARGE; 0 none */
  int64_t task_user, task_conv, task_marker, task_upto;
  struct srv_card_result r;
  struct store_card_posted posted;
};

/* Posts pc's card on the calling database thread (conn NULL: the database
 * is unreachable): the facts, the rules, the storage call. The outcome is
 * in pc->r (code 1: a task_after card made elsewhere) and pc->posted. */
void srv_card_post_compute(struct store_conn *conn,
                           struct srv_card_post_ctx *pc);

/* The event payload members receive and the chain hashes: the change's
 * details with "state" = the new state. malloc'd text, or NULL. */
char *srv_card_payload_text(const struct card_change *c);

/* People one card may name, as far as the facts are checked; and how
 * often a change computed from a version that moved is computed again. */
#define SRV_CARD_PEOPLE_MAX 256
#define SRV_CARD_RACE_ROUNDS 8

#endif
