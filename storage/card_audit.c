/*
 * card_audit.c — read-only walks over cards, their hash-chained events and
 * their signatures, for `heraldctl audit verify` and `audit export`
 * (SPEC §8). Nothing here hashes: the rows go to a visitor, and heraldctl
 * recomputes the chain with cards/.
 *
 * Memory stays constant: cards are read a page at a time, and each page's
 * events a page at a time by (card_id, event_seq) ranges over the primary
 * key. The whole walk is one REPEATABLE READ READ ONLY transaction, so a
 * card and its events come from the same snapshot even while servers
 * append to them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define CARD_PAGE 200
#define EVENT_PAGE 500

/* Hex text (encode(x, 'hex')) into n bytes; false unless exactly 2n hex
 * digits. */
static bool unhex(const char *s, uint8_t *out, size_t n)
{
  if (strlen(s) != 2 * n)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned v = 0;
    for (int k = 0; k < 2; k++) {
      char ch = s[2 * i + (size_t)k];
      v <<= 4;
      if (ch >= '0' && ch <= '9')
        v |= (unsigned)(ch - '0');
      else if (ch >= 'a' && ch <= 'f')
        v |= (unsigned)(ch - 'a' + 10);
      else
        return false;
    }
    out[i] = (uint8_t)v;
  }
  return true;
}

static bool hex_field(const PGresult *res, int r, int col, uint8_t *out,
                      size_t n)
{
  return !PQgetisnull(res, r, col) && unhex(PQgetvalue(res, r, col), out, n);
}

static void card_of(const PGresult *res, int r, struct store_audit_card *k)
{
  memset(k, 0, sizeof(*k));
  k->id = store_field_i64(res, r, 0);
  store_field(res, r, 1, k->type, sizeof(k->type));
  k->version = store_field_i64(res, r, 2);
  k->has_head = hex_field(res, r, 3, k->head, sizeof(k->head));
  k->created_by_user = store_field_i64(res, r, 4);
  k->state = PQgetvalue(res, r, 5);
}

/* The events of cards lo..hi, in (card, seq) order, to v->event. */
static int walk_events(struct store_conn *c, int64_t lo, int64_t hi,
                       const struct store_audit_visitor *v)
{
  static const char *const sql =
      "SELECT card_id, event_seq, coalesce(actor_user_id, 0),"
      " coalesce(actor_bot_id, 0),"
      " floor(extract(epoch FROM at) * 1000)::bigint, kind, payload::text,"
      " encode(prev_hash, 'hex'), encode(hash, 'hex')"
      " FROM card_events"
      " WHERE card_id BETWEEN $1 AND $2 AND (card_id, event_seq) > ($3, $4)"
      " ORDER BY card_id, event_seq LIMIT 500";
  _Static_assert(EVENT_PAGE == 500, "the LIMIT above");
  char b1[STORE_I64_BUF], b2[STORE_I64_BUF], b3[STORE_I64_BUF],
      b4[STORE_I64_BUF];
  int64_t after_card = lo, after_seq = 0;
  int rows, rc = STORE_OK;

  do {
    PGresult *res = NULL;
    const char *p[4] = {store_i64(b1, lo), store_i64(b2, hi),
                        store_i64(b3, after_card), store_i64(b4, after_seq)};
    rc = store_exec(c, &res, sql, 4, p);
    if (rc != STORE_OK)
      return rc;
    rows = PQntuples(res);
    for (int r = 0; r < rows && rc == 0; r++) {
      struct store_audit_event e;
      memset(&e, 0, sizeof(e));
      e.card = store_field_i64(res, r, 0);
      e.seq = store_field_i64(res, r, 1);
      e.actor_user = store_field_i64(res, r, 2);
      e.actor_bot = store_field_i64(res, r, 3);
      e.at_ms = store_field_i64(res, r, 4);
      store_field(res, r, 5, e.kind, sizeof(e.kind));
      e.payload = PQgetvalue(res, r, 6);
      e.has_prev = hex_field(res, r, 7, e.prev, sizeof(e.prev));
      hex_field(res, r, 8, e.hash, sizeof(e.hash));
      after_card = e.card;
      after_seq = e.seq;
      if (v->event)
        rc = v->event(v->arg, &e);
    }
    PQclear(res);
  } while (rc == 0 && rows == EVENT_PAGE);
  return rc;
}

static int walk_signatures(struct store_conn *c, int64_t card,
                           const struct store_audit_visitor *v)
{
  static const char *const sql =
      "SELECT s.card_id, s.version, s.signer_id, u.login, s.device_id,"
      " d.name, encode(d.sign_public_key, 'hex'),"
      " encode(s.content_hash, 'hex'), encode(s.signature, 'hex'),"
      " floor(extract(epoch FROM s.signed_at) * 1000)::bigint"
      " FROM card_signatures s JOIN users u ON u.id = s.signer_id"
      " JOIN devices d ON d.id = s.device_id"
      " WHERE s.card_id = $1 ORDER BY s.version, s.signer_id";
  char b1[STORE_I64_BUF];
  const char *p[1] = {store_i64(b1, card)};
  PGresult *res = NULL;
  int rc = store_exec(c, &res, sql, 1, p);

  if (rc != STORE_OK)
    return rc;
  for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
    struct store_audit_signature s;
    memset(&s, 0, sizeof(s));
    s.card = store_field_i64(res, r, 0);
    s.version = store_field_i64(res, r, 1);
    s.signer = store_field_i64(res, r, 2);
    store_field(res, r, 3, s.signer_login, sizeof(s.signer_login));
    s.device_id = store_field_i64(res, r, 4);
    store_field(res, r, 5, s.device, sizeof(s.device));
    s.has_pub = hex_field(res, r, 6, s.pub, sizeof(s.pub));
    hex_field(res, r, 7, s.hash, sizeof(s.hash));
    hex_field(res, r, 8, s.sig, sizeof(s.sig));
    s.at_ms = store_field_i64(res, r, 9);
    if (v->signature)
      rc = v->signature(v->arg, &s);
  }
  PQclear(res);
  return rc;
}

/* Brackets the events of a page of cards (arriving in card order) with
 * each card's `card` and `card_end` callbacks; cards without events get
 * both too. */
struct merge {
  const struct store_audit_visitor *v;
  const struct store_audit_card *cards;
  int n, at;
  bool open;
};

/* Closes every card before `id` (opening it first when it had no events)
 * and opens the card `id` when it is the next one. */
static int merge_to(struct merge *m, int64_t id, bool all)
{
  const struct store_audit_visitor *v = m->v;
  int rc = 0;

  while (rc == 0 && m->at < m->n && (all || m->cards[m->at].id < id)) {
    if (!m->open && v->card)
      rc = v->card(v->arg, &m->cards[m->at]);
    if (rc == 0 && v->card_end)
      rc = v->card_end(v->arg, &m->cards[m->at]);
    m->at++;
    m->open = false;
  }
  if (rc == 0 && !all && m->at < m->n && m->cards[m->at].id == id &&
      !m->open) {
    m->open = true;
    if (v->card)
      rc = v->card(v->arg, &m->cards[m->at]);
  }
  return rc;
}

static int merge_event(void *arg, const struct store_audit_event *e)
{
  struct merge *m = arg;
  int rc = merge_to(m, e->card, false);

  if (rc != 0 || m->at >= m->n || m->cards[m->at].id != e->card)
    return rc;   /* an event of a card this walk did not select */
  return m->v->event ? m->v->event(m->v->arg, e) : 0;
}

/* Pages through the cards `where` selects ($1 = the id to start after, $2
 * the optional filter value). `per_card` (a sparse selection, such as one
 * employee's records): each card's state, events and signatures are read
 * card by card. Otherwise the events of each page's id range are read in
 * (card_id, event_seq) order and merged with the page. */
static int walk(struct store_conn *c, const char *where, const char *arg2,
                bool per_card, const struct store_audit_visitor *v)
{
  char sql[768], b1[STORE_I64_BUF];
  int64_t after = 0;
  int rows = 0, rc;

  snprintf(sql, sizeof(sql),
           "SELECT id, type, version, encode(head_hash, 'hex'),"
           " coalesce(created_by_user, 0), state::text FROM cards"
           " WHERE id > $1 %s ORDER BY id LIMIT %d",
           where, CARD_PAGE);
  rc = store_exec(c, NULL,
                  "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
  if (rc != STORE_OK)
    return rc;
  c->in_tx = true;
  do {
    PGresult *res = NULL;
    const char *p[2] = {store_i64(b1, after), arg2};
    struct store_audit_card *cards;

    rc = store_exec(c, &res, sql, arg2 ? 2 : 1, p);
    if (rc != STORE_OK)
      break;
    rows = PQntuples(res);
    cards = calloc(rows ? (size_t)rows : 1, sizeof(*cards));
    if (!cards) {
      PQclear(res);
      rc = store_fail(c, STORE_EINTERNAL, "out of memory");
      break;
    }
    for (int r = 0; r < rows; r++)
      card_of(res, r, &cards[r]);
    if (per_card) {
      for (int r = 0; r < rows && rc == 0; r++) {
        if (v->card)
          rc = v->card(v->arg, &cards[r]);
        if (rc == 0)
          rc = walk_events(c, cards[r].id, cards[r].id, v);
        if (rc == 0)
          rc = walk_signatures(c, cards[r].id, v);
        if (rc == 0 && v->card_end)
          rc = v->card_end(v->arg, &cards[r]);
      }
    } else if (rows) {
      struct merge m = {.v = v, .cards = cards, .n = rows};
      struct store_audit_visitor mv = {.event = merge_event, .arg = &m};
      rc = walk_events(c, cards[0].id, cards[rows - 1].id, &mv);
      if (rc == 0)
        rc = merge_to(&m, 0, true);
    }
    if (rows)
      after = cards[rows - 1].id;
    free(cards);
    PQclear(res);
  } while (rc == 0 && rows == CARD_PAGE);
  if (rc == 0)
    rc = store_commit(c);
  else
    store_rollback(c);
  return rc;
}

int store_card_audit_walk(struct store_conn *c,
                          const struct store_audit_visitor *v)
{
  store_clear(c);
  return walk(c, "", NULL, false, v);
}

int store_card_audit_interviews(struct store_conn *c, const char *login,
                                int64_t *user_id,
                                const struct store_audit_visitor *v)
{
  char b1[STORE_I64_BUF];
  const char *p[1] = {login};
  PGresult *res = NULL;
  int64_t uid;
  int rc;

  store_clear(c);
  rc = store_exec(c, &res, "SELECT id FROM users WHERE login = $1", 1, p);
  if (rc != STORE_OK)
    return rc;
  if (PQntuples(res) != 1) {
    PQclear(res);
    return store_fail(c, STORE_ENOTFOUND, "unknown user \"%s\"", login);
  }
  uid = store_field_i64(res, 0, 0);
  PQclear(res);
  *user_id = uid;
  return walk(c,
              "AND type = 'interview' AND state ->> 'employee' = $2::text",
              store_i64(b1, uid), true, v);
}
