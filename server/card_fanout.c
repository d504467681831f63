/*
 * card_fanout.c — what members receive of committed card changes: the
 * card's message and `card_event` frames live (each member's own fs), and
 * the events of a feed page on replay (card_int.h).
 */
#include "card_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "server_int.h"
#include "session_int.h"
#include "delivery_int.h"

#include "cards.h"
#include "store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fan-out ---- */

void srv_card_event_to_proto(const struct store_card_event *ev, int64_t fs,
                             struct proto_card_event *out)
{
  memset(out, 0, sizeof(*out));
  out->card = (uint64_t)ev->card_id;
  out->ver = (uint64_t)ev->version;
  out->ev = (struct proto_str){ev->kind, strlen(ev->kind)};
  out->actor = (uint64_t)ev->actor_id;
  out->actor_kind = !ev->actor_id ? PROTO_ACTOR_NONE
                    : ev->actor_kind == STORE_PRINCIPAL_BOT ? PROTO_ACTOR_BOT
                                                            : PROTO_ACTOR_USER;
  out->conv = (uint64_t)ev->conversation_id;
  out->seq = (uint64_t)ev->seq;
  out->ts = (uint64_t)ev->at_ms;
  if (ev->payload)
    out->payload = (struct proto_str){ev->payload, strlen(ev->payload)};
  out->fs = (uint64_t)fs;
}

void srv_card_publish_event(struct srv_server *srv,
                            const struct store_card_event *ev)
{
  struct proto_frame f;

  srv_metric_inc(SRV_M_CARD_EVENTS);
  /* One frame per member: each carries that member's fs. Devices that
   * are not synced yet find the event in their feed replay. */
  for (size_t i = 0; i < ev->n; i++) {
    proto_frame_init(&f, PROTO_T_CARD_EVENT);
    srv_card_event_to_proto(ev, ev->fs[i], &f.u.card_event);
    for (struct srv_session *s = srv_sessions_of_user(srv, ev->users[i]); s;
         s = s->user_next)
      if (s->live && srv_session_open(s))
        srv_session_send(s, &f);
  }
}

void srv_card_publish_post(struct srv_server *srv,
                           const struct store_card_posted *p, bool bot,
                           int64_t sender, const char *cmid, const char *body)
{
  struct proto_frame f;
  struct proto_msg *m = &f.u.msg;

  proto_frame_init(&f, PROTO_T_MSG);
  m->conv = (uint64_t)p->conversation_id;
  m->seq = (uint64_t)p->seq;
  m->from = (uint64_t)sender;
  m->from_kind = bot ? PROTO_ACTOR_BOT : PROTO_ACTOR_USER;
  m->cmid = (struct proto_str){cmid, strlen(cmid)};
  m->kind = PROTO_KIND_CARD;
  m->body = (struct proto_str){body, strlen(body)};
  m->ts = (uint64_t)p->sent_at_ms;
  m->tracked = p->tracked;
  m->card = (uint64_t)p->card_id;
  srv_delivery_publish_msg(srv, &f);
  srv_card_publish_event(srv, &p->ev);
}

/* ---- feed replay (reader thread) ---- */

/* Card payloads per feed page: with the rest of a page (receipts, DING
 * rows) the frame stays well under welcome.lim.sframe. */
#define FEED_CARD_BYTES (256 * 1024)

int srv_card_feed_page(struct store_conn *conn,
                       const struct store_feed_entry *e, size_t *n,
                       struct store_card_event **cev,
                       struct proto_card_event **items, size_t *nitems)
{
  size_t nev = 0, k = 0, bytes = 0, keep = *n;
  int rc;

  *cev = NULL;
  *items = NULL;
  *nitems = 0;
  rc = store_card_feed_events(conn, e, *n, cev, &nev);
  if (rc != STORE_OK)
    return rc;                 /* negative */
  for (size_t i = 0; i < *n; i++) {
    if (e[i].kind != STORE_FEED_CARD)
      continue;
    if (k >= nev || (*cev)[k].card_id != e[i].card_id ||
        (*cev)[k].version != e[i].card_ver) {
      /* An entry whose event is gone cannot be: the chain is
       * append-only. Stop the page before it rather than skip it. */
      srv_warn("card", "feed entry %lld of user %lld names a missing event",
               (long long)e[i].fs, (long long)e[i].user_id);
      keep = i;
      break;
    }
    bytes += strlen((*cev)[k].payload);
    if (bytes > FEED_CARD_BYTES && i > 0) {
      keep = i;
      break;
    }
    k++;
  }
  *nitems = nev;
  if (nev && !(*items = calloc(nev, sizeof(**items))))
    return STORE_EINTERNAL;    /* negative */
  for (size_t j = 0; j < k; j++) {
    size_t at = 0;
    /* Each card event carries the fs of its entry. */
    for (size_t i = 0, seen = 0; i < *n; i++)
      if (e[i].kind == STORE_FEED_CARD && seen++ == j) {
        at = i;
        break;
      }
    srv_card_event_to_proto(&(*cev)[j], e[at].fs, &(*items)[j]);
  }
  *nitems = k;
  for (size_t j = k; j < nev; j++)
    store_card_event_clear(&(*cev)[j]);
  if (keep < *n) {
    *n = keep;
    return 1;
  }
  return 0;
}

void srv_card_feed_free(struct store_card_event *cev,
                        struct proto_card_event *items, size_t n)
{
  for (size_t i = 0; cev && i < n; i++)
    store_card_event_clear(&cev[i]);
  free(cev);
  free(items);
}
