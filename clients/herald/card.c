/*
 * card.c — the cards the model knows: one state per card, the newest
 * version seen. card_event payloads carry the whole resulting state
 * (PROTOCOL.md §3.8), so applying the newest one is enough; an event
 * older than what is known (a feed replay of events already seen live)
 * is ignored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "herald_int.h"

struct hcard *model_card(struct model *m, uint64_t id)
{
  for (size_t i = 0; i < m->ncards; i++)
    if (m->cards[i].id == id)
      return &m->cards[i];
  return NULL;
}

struct hcard *model_card_at(struct model *m, uint64_t conv, uint64_t seq)
{
  for (size_t i = 0; i < m->ncards; i++)
    if (m->cards[i].conv == conv && m->cards[i].seq == seq)
      return &m->cards[i];
  return NULL;
}

static struct hcard *card_add(struct model *m, uint64_t id)
{
  struct hcard *k = model_card(m, id), *v;

  if (k)
    return k;
  if (!(v = realloc(m->cards, (m->ncards + 1) * sizeof *v)))
    return NULL;
  m->cards = v;
  k = &v[m->ncards++];
  memset(k, 0, sizeof *k);
  k->id = id;
  return k;
}

/* Takes `state` (a new reference). */
static int card_take(struct model *m, uint64_t id, uint64_t conv,
                     uint64_t seq, uint64_t ver, json_t *state)
{
  struct hcard *k = model_card(m, id);
  enum card_type t;
  const char *tn = json_string_value(json_object_get(state, "type"));

  if (!json_is_object(state) || !tn || card_type_parse(tn, &t) != 0) {
    json_decref(state);
    return -EBADMSG;
  }
  if (k && k->state && ver <= k->ver) {
    json_decref(state);
    return 0;
  }
  if (!(k = card_add(m, id))) {
    json_decref(state);
    return -ENOMEM;
  }
  json_decref(k->state);
  k->state = state;
  k->type = t;
  k->ver = ver;
  if (conv)
    k->conv = conv;
  if (seq)
    k->seq = seq;
  if (k->conv && k->seq) {
    struct hconv *c = model_conv(m, k->conv);
    struct hmsg *x = c ? model_msg(c, k->seq) : NULL;

    if (x)
      x->card = id;
  }
  return 1;
}

int model_card_apply(struct model *m, uint64_t id, uint64_t ver,
                     uint64_t conv, uint64_t seq, const char *payload,
                     size_t len)
{
  json_t *pl = json_loadb(payload ? payload : "", len, 0, NULL), *st;

  if (!pl)
    return -EBADMSG;
  st = json_incref(json_object_get(pl, "state"));
  json_decref(pl);
  if (!st)
    return 0;
  return card_take(m, id, conv, seq, ver, st);
}

int model_card_set(struct model *m, uint64_t id, uint64_t conv,
                   uint64_t seq, uint64_t ver, const char *state,
                   size_t len)
{
  json_t *st = json_loadb(state ? state : "", len, 0, NULL);

  if (!st)
    return -EBADMSG;
  return card_take(m, id, conv, seq, ver, st);
}
