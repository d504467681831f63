/*
 * cards.c — cards in PostgreSQL (store.h, "Cards"; sql/0009_cards.sql):
 * posting a card with its message, reading it, appending an event (the
 * hash chain, the new state, the members' feed entries, spawned cards) in
 * one transaction, with a signature when there is one. The facts the
 * rules need, device keys, the reminder claim and the task_after probe
 * are card_facts.c.
 *
 * The event hash is computed here, in C, with cards/cards.h's
 * card_event_hash() over the payload as stored and the event time read
 * from the database clock (herald_now(), truncated to ms) under the card
 * row's lock: the same inputs `heraldctl audit verify` reads back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cards.h"
#include "store_int.h"

/* The time of an event: the database clock in whole milliseconds. */
#define NOW_MS "floor(extract(epoch FROM herald_now()) * 1000)::bigint"

void store_hex(const uint8_t *b, size_t n, char *out)
{
  static const char d[] = "0123456789abcdef";

  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[b[i] >> 4];
    out[2 * i + 1] = d[b[i] & 15];
  }
  out[2 * n] = '\0';
}

static int nib(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* A bytea field in text form ("\x..."): 0, or -1 when NULL or not n bytes. */
int store_bytea_field(const PGresult *res, int r, int col, uint8_t *out,
                      size_t n)
{
  const char *v;

  if (PQgetisnull(res, r, col))
    return -1;
  v = PQgetvalue(res, r, col);
  if (strlen(v) != 2 + 2 * n || v[0] != '\\' || v[1] != 'x')
    return -1;
  for (size_t i = 0; i < n; i++) {
    int hi = nib(v[2 + 2 * i]), lo = nib(v[3 + 2 * i]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

char *store_field_dup(const PGresult *res, int r, int col)
{
  size_t len = (size_t)PQgetlength(res, r, col);
  char *s = malloc(len + 1);

  if (s) {
    memcpy(s, PQgetvalue(res, r, col), len);
    s[len] = '\0';
  }
  return s;
}

void store_card_free(struct store_card *c)
{
  if (!c)
    return;
  free(c->state);
  c->state = NULL;
}

void store_card_event_clear(struct store_card_event *e)
{
  if (!e)
    return;
  free(e->payload);
  free(e->users);
  free(e->fs);
  memset(e, 0, sizeof(*e));
}

void store_card_posted_clear(struct store_card_posted *p)
{
  if (p)
    store_card_event_clear(&p->ev);
}

void store_card_appended_clear(struct store_card_appended *a)
{
  if (!a)
    return;
  store_card_event_clear(&a->ev);
  for (size_t i = 0; i < a->n_spawned; i++)
    store_card_posted_clear(&a->spawned[i]);
  free(a->spawned);
  a->spawned = NULL;
  a->n_spawned = 0;
}

/* ---- the chain ---- */

/* Inserts event `ver` of card `card` after `prev` (NULL for the first) in
 * the caller's transaction, then the members' feed entries; fills ev. */
static int event_insert(struct store_conn *c, int64_t card, int64_t ver,
                        const uint8_t *prev, enum store_principal_kind ak,
                        int64_t actor, const char *cmid, const char *kind,
                        const char *payload, int64_t at_ms, int64_t conv,
                        int64_t seq, struct store_card_event *ev)
{
  json_error_t jerr;
  json_t *pj = json_loads(payload, 0, &jerr);
  int64_t au = ak == STORE_PRINCIPAL_USER ? actor : 0;
  int64_t ab = ak == STORE_PRINCIPAL_BOT ? actor : 0;
  char hx[65], px[65], cb[STORE_I64_BUF], vb[STORE_I64_BUF],
       ub[STORE_I64_BUF], bb[STORE_I64_BUF], tb[STORE_I64_BUF];
  PGresult *res = NULL;
  int rc;

  if (!pj || !json_is_object(pj)) {
    json_decref(pj);
    return store_fail(c, STORE_EINVAL, "card event payload is not a JSON "
                      "object");
  }
  memset(ev, 0, sizeof(*ev));
  rc = card_event_hash(prev, card, ver, kind, au, ab, at_ms, pj, ev->hash);
  json_decref(pj);
  if (rc != 0)
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  store_hex(ev->hash, 32, hx);
  if (prev)
    store_hex(prev, 32, px);
  {
    const char *p[10] = {store_i64(cb, card), store_i64(vb, ver),
                         au ? store_i64(ub, au) : NULL,
                         ab ? store_i64(bb, ab) : NULL, kind, payload,
                         store_i64(tb, at_ms), prev ? px : NULL, hx, cmid};
    /* A unique violation here is a cmid replayed concurrently (the
     * caller looks it up again and answers dup). */
    rc = store_exec(c, NULL,
                    "INSERT INTO card_events (card_id, event_seq,"
                    " actor_user_id, actor_bot_id, kind, payload, at,"
                    " prev_hash, hash, client_action_id)"
                    " VALUES ($1::bigint, $2::integer, $3::bigint, $4::bigint,"
                    " $5, $6::jsonb, herald_ms_time($7::bigint),"
                    " decode($8, 'hex'), decode($9, 'hex'), $10)", 10, p);
  }
  if (rc != STORE_OK)
    return rc;
  ev->card_id = card;
  ev->version = ver;
  snprintf(ev->kind, sizeof(ev->kind), "%s", kind);
  ev->actor_kind = actor ? ak : 0;
  ev->actor_id = actor;
  ev->conversation_id = conv;
  ev->seq = seq;
  ev->at_ms = at_ms;
  if (!(ev->payload = strdup(payload)))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  {
    const char *p[2] = {store_i64(cb, card), store_i64(vb, ver)};
    rc = store_exec(c, &res, "SELECT r_user, r_fs FROM"
                    " herald_card_feed($1::bigint, $2::integer)", 2, p);
  }
  if (rc != STORE_OK)
    return rc;
  ev->n = (size_t)PQntuples(res);
  if (ev->n && (!(ev->users = calloc(ev->n, sizeof(int64_t))) ||
                !(ev->fs = calloc(ev->n, sizeof(int64_t))))) {
    PQclear(res);
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  }
  for (size_t i = 0; i < ev->n; i++) {
    ev->users[i] = store_field_i64(res, (int)i, 0);
    ev->fs[i] = store_field_i64(res, (int)i, 1);
  }
  PQclear(res);
  return STORE_OK;
}

/* ---- posting ---- */

/* Stores the message and the card in the caller's transaction. */
static int post_tx(struct store_conn *c, const struct store_card_post *in,
                   struct store_card_posted *out)
{
  char sb[STORE_I64_BUF], cb[STORE_I64_BUF], pb[STORE_I64_BUF],
       rb[STORE_I64_BUF], kb[STORE_I64_BUF], ib[STORE_I64_BUF];
  PGresult *res = NULL;
  const bool bot = in->sender_kind == STORE_PRINCIPAL_BOT;
  int64_t card, at_ms;
  int rc;

  memset(out, 0, sizeof(*out));
  if (in->task_user) {
    char ub[STORE_I64_BUF], mb[STORE_I64_BUF], tb[STORE_I64_BUF];
    const char *p[4] = {store_i64(cb, in->task_conv ? in->task_conv
                                                    : in->conversation_id),
                        store_i64(ub, in->task_user),
                        store_i64(mb, in->task_marker),
                        store_i64(tb, in->task_upto)};
    rc = store_exec(c, &res,
                    "UPDATE members SET tasked_seq = $4::bigint"
                    " WHERE conversation_id = $1::bigint"
                    " AND user_id = $2::bigint AND tasked_seq = $3::bigint"
                    " AND left_seq IS NULL", 4, p);
    if (rc != STORE_OK)
      return rc;
    rc = atoi(PQcmdTuples(res));
    PQclear(res);
    if (rc != 1)
      return store_fail(c, STORE_EEXISTS, "the task was made elsewhere");
  }
  {
    const char *p[5] = {bot ? "{t}" : "{f}", store_i64(sb, in->sender_id),
                        in->cmid, store_i64(cb, in->conversation_id),
                        in->body};
    /* The message goes through the send path's own function (one row):
     * the same membership rule, seq assignment and cmid check. The body
     * is quoted as an array element by PostgreSQL (array[$5]). */
    rc = store_exec(c, &res,
                    "SELECT r_rc, r_conv, r_seq, r_sent_ms, r_tracked, r_dup"
                    " FROM herald_send_batch($1::boolean[],"
                    " ARRAY[$2::bigint], ARRAY[$3::text],"
                    " ARRAY[$4::bigint], ARRAY['card'], ARRAY[$5::text],"
                    " ARRAY[false])", 5, p);
  }
  if (rc != STORE_OK)
    return rc;
  if (PQntuples(res) != 1 || store_field_i64(res, 0, 0) != 0) {
    PQclear(res);
    return store_fail(c, STORE_ENOTFOUND, "unknown conversation id %lld",
                      (long long)in->conversation_id);
  }
  out->conversation_id = store_field_i64(res, 0, 1);
  out->seq = store_field_i64(res, 0, 2);
  out->sent_at_ms = store_field_i64(res, 0, 3);
  out->tracked = store_field_bool(res, 0, 4);
  out->dup = store_field_bool(res, 0, 5);
  PQclear(res);
  if (out->dup) {
    const char *p[2] = {store_i64(cb, out->conversation_id),
                        store_i64(sb, out->seq)};
    rc = store_exec(c, &res, "SELECT id FROM cards WHERE"
                    " conversation_id = $1::bigint AND seq = $2::bigint",
                    2, p);
    if (rc != STORE_OK)
      return rc;
    if (PQntuples(res) != 1) {
      PQclear(res);
      return store_fail(c, STORE_ENOTFOUND, "cmid \"%s\" names a message "
                        "that is not a card", in->cmid);
    }
    out->card_id = store_field_i64(res, 0, 0);
    PQclear(res);
    return STORE_OK;
  }
  {
    const char *p[9] = {
      in->card.type, store_i64(cb, out->conversation_id),
      store_i64(sb, out->seq),
      bot ? NULL : store_i64(kb, in->sender_id),
      bot ? store_i64(ib, in->sender_id) : NULL,
      in->card.parent_card_id ? store_i64(pb, in->card.parent_card_id) : NULL,
      in->card.state,
      in->card.next_reminder_ms ? store_i64(rb, in->card.next_reminder_ms)
                                : NULL,
      NULL};
    rc = store_exec(c, &res,
                    "INSERT INTO cards (type, conversation_id, seq,"
                    " created_by_user, created_by_bot, parent_card_id, state,"
                    " next_reminder_at, created_at, updated_at)"
                    " VALUES ($1, $2::bigint, $3::bigint, $4::bigint,"
                    " $5::bigint, $6::bigint, $7::jsonb,"
                    " herald_ms_time($8::bigint), herald_now(),"
                    " herald_now())"
                    " RETURNING id, " NOW_MS, 8, p);
  }
  if (rc != STORE_OK)
    return rc;
  card = store_field_i64(res, 0, 0);
  at_ms = store_field_i64(res, 0, 1);
  PQclear(res);
  out->card_id = card;
  rc = event_insert(c, card, 1, NULL, in->system ? 0 : in->sender_kind,
                    in->system ? 0 : in->sender_id, NULL, "created",
                    in->card.payload, at_ms, out->conversation_id, out->seq,
                    &out->ev);
  if (rc != STORE_OK)
    return rc;
  {
    char hx[65];
    const char *p[2] = {store_i64(cb, card), hx};
    store_hex(out->ev.hash, 32, hx);
    rc = store_exec(c, NULL, "UPDATE cards SET head_hash = decode($2, 'hex')"
                    " WHERE id = $1::bigint", 2, p);
  }
  return rc;
}

int store_card_post(struct store_conn *c, const struct store_card_post *in,
                    struct store_card_posted *out)
{
  struct store_card_posted tmp;
  int rc;

  store_clear(c);
  if (!in || !in->cmid || !in->body || !in->card.type || !in->card.state ||
      !in->card.payload)
    return store_fail(c, STORE_EINVAL, "incomplete card post");
  if ((rc = store_begin(c)) != STORE_OK)
    return rc;
  rc = post_tx(c, in, &tmp);
  if (rc == STORE_OK)
    rc = store_commit(c);
  else
    store_rollback(c);
  if (rc != STORE_OK) {
    store_card_posted_clear(&tmp);
    return rc;
  }
  *out = tmp;
  return STORE_OK;
}

/* ---- reading ---- */

#define CARD_COLUMNS                                                        \
  "k.id, k.type, k.conversation_id, k.seq, k.created_by_user,"              \
  " k.created_by_bot, coalesce(k.parent_card_id, 0), k.version, k.state,"    \
  " coalesce(floor(extract(epoch FROM k.next_reminder_at) * 1000), 0)"      \
  "::bigint, " NOW_MS

static void card_from_row(const PGresult *res, int r, struct store_card *o)
{
  memset(o, 0, sizeof(*o));
  o->id = store_field_i64(res, r, 0);
  store_field(res, r, 1, o->type, sizeof(o->type));
  o->conversation_id = store_field_i64(res, r, 2);
  o->seq = store_field_i64(res, r, 3);
  if (PQgetisnull(res, r, 4)) {
    o->creator_kind = STORE_PRINCIPAL_BOT;
    o->creator_id = store_field_i64(res, r, 5);
  } else {
    o->creator_kind = STORE_PRINCIPAL_USER;
    o->creator_id = store_field_i64(res, r, 4);
  }
  o->parent_card_id = store_field_i64(res, r, 6);
  o->version = store_field_i64(res, r, 7);
  o->next_reminder_ms = store_field_i64(res, r, 9);
  o->now_ms = store_field_i64(res, r, 10);
}

int store_card_get(struct store_conn *c, enum store_principal_kind kind,
                   int64_t reader_id, int64_t card_id, struct store_card *out)
{
  char kb[STORE_I64_BUF], rb[STORE_I64_BUF], cb[STORE_I64_BUF];
  const char *p[3] = {store_i64(kb, (int64_t)kind), store_i64(rb, reader_id),
                      store_i64(cb, card_id)};
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  rc = store_exec(c, &res,
                  "SELECT " CARD_COLUMNS " FROM cards k"
                  " WHERE k.id = $3::bigint AND ($2::bigint = 0"
                  " OR ($1::integer = 1 AND EXISTS (SELECT 1 FROM members m"
                  "  JOIN users u ON u.id = m.user_id"
                  "  WHERE m.conversation_id = k.conversation_id"
                  "  AND m.user_id = $2::bigint AND m.left_seq IS NULL"
                  "  AND u.active))"
                  " OR ($1::integer = 2 AND EXISTS (SELECT 1"
                  "  FROM bot_conversations bc JOIN bots b ON b.id = bc.bot_id"
                  "  WHERE bc.bot_id = $2::bigint"
                  "  AND bc.conversation_id = k.conversation_id"
                  "  AND b.revoked_at IS NULL)))", 3, p);
  if (rc != STORE_OK)
    return rc;
  if (PQntuples(res) != 1) {
    PQclear(res);
    return store_fail(c, STORE_ENOTFOUND, "unknown card id %lld",
                      (long long)card_id);
  }
  card_from_row(res, 0, out);
  out->state = store_field_dup(res, 0, 8);
  PQclear(res);
  if (!out->state)
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  return STORE_OK;
}

/* ---- appending ---- */

static int sig_insert(struct store_conn *c, int64_t card,
                      const struct store_card_sig *s)
{
  char cb[STORE_I64_BUF], vb[STORE_I64_BUF], ub[STORE_I64_BUF], hx[65],
       sx[129];
  PGresult *res = NULL;
  int rc;

  store_hex(s->hash, 32, hx);
  store_hex(s->sig, 64, sx);
  {
    const char *p[6] = {store_i64(cb, card), store_i64(vb, s->version),
                        store_i64(ub, s->signer_id), s->dev, hx, sx};
    rc = store_exec(c, &res,
                    "INSERT INTO card_signatures (card_id, version, signer_id,"
                    " device_id, content_hash, signature, signed_at)"
                    " SELECT $1::bigint, $2::integer, $3::bigint, d.id,"
                    " decode($5, 'hex'), decode($6, 'hex'), herald_now()"
                    " FROM devices d WHERE d.user_id = $3::bigint"
                    " AND d.name = $4 AND d.name <> '' AND d.revoked_at IS NULL"
                    " AND d.sign_public_key IS NOT NULL", 6, p);
  }
  if (rc != STORE_OK)
    return rc;
  rc = atoi(PQcmdTuples(res));
  PQclear(res);
  if (rc != 1)
    return store_fail(c, STORE_EINVAL, "unknown device \"%s\"", s->dev);
  return STORE_OK;
}

static int append_tx(struct store_conn *c, const struct store_card_append *in,
                     struct store_card_appended *out)
{
  char cb[STORE_I64_BUF], vb[STORE_I64_BUF], pb[STORE_I64_BUF],
       rb[STORE_I64_BUF], hx[65];
  PGresult *res = NULL;
  uint8_t prev[32];
  int64_t ver, at_ms, conv, seq;
  int rc;

  {
    const char *p[1] = {store_i64(cb, in->card_id)};
    rc = store_exec(c, &res,
                    "SELECT version, head_hash, conversation_id, seq, " NOW_MS
                    " FROM cards WHERE id = $1::bigint FOR UPDATE", 1, p);
  }
  if (rc != STORE_OK)
    return rc;
  if (PQntuples(res) != 1) {
    PQclear(res);
    return store_fail(c, STORE_ENOTFOUND, "unknown card id %lld",
                      (long long)in->card_id);
  }
  ver = store_field_i64(res, 0, 0);
  if (store_bytea_field(res, 0, 1, prev, 32) != 0) {
    PQclear(res);
    return store_fail(c, STORE_EINTERNAL, "card %lld has no head hash",
                      (long long)in->card_id);
  }
  conv = store_field_i64(res, 0, 2);
  seq = store_field_i64(res, 0, 3);
  at_ms = store_field_i64(res, 0, 4);
  PQclear(res);
  if (in->cmid) {
    bool found = false;
    int64_t fc = 0, fv = 0;

    rc = store_card_action_find(c, in->actor_kind, in->actor_id, in->cmid,
                                &fc, &fv, &found);
    if (rc != STORE_OK)
      return rc;
    if (found) {
      out->dup = true;
      out->version = fv;
      return STORE_OK;
    }
  }
  if (ver != in->base_version) {
    out->raced = true;
    out->version = ver;
    return STORE_OK;
  }
  /* Spawned cards first: their messages lock the conversation row before
   * any feed head is touched, the order every post takes, so that a post
   * in the same conversation cannot deadlock with this change. */
  if (in->n_spawn) {
    if (!(out->spawned = calloc(in->n_spawn, sizeof(*out->spawned))))
      return store_fail(c, STORE_EINTERNAL, "out of memory");
    for (size_t i = 0; i < in->n_spawn; i++) {
      char cmid[64];
      struct store_card_post sp = {
        .sender_kind = STORE_PRINCIPAL_USER, .sender_id = in->spawn_sender,
        .system = true, .cmid = cmid, .conversation_id = conv,
        .body = in->spawn[i].state, .card = in->spawn[i]};

      snprintf(cmid, sizeof(cmid), "card-%lld-v%lld-%zu",
               (long long)in->card_id, (long long)ver + 1, i + 1);
      rc = post_tx(c, &sp, &out->spawned[i]);
      out->n_spawned = i + 1;
      if (rc != STORE_OK)
        return rc;
    }
  }
  ver++;
  rc = event_insert(c, in->card_id, ver, prev, in->actor_kind, in->actor_id,
                    in->cmid, in->kind, in->payload, at_ms, conv, seq,
                    &out->ev);
  if (rc != STORE_OK)
    return rc;
  store_hex(out->ev.hash, 32, hx);
  {
    const char *p[6] = {
      store_i64(cb, in->card_id), store_i64(vb, ver), in->state, hx,
      in->parent_card_id ? store_i64(pb, in->parent_card_id) : NULL,
      in->next_reminder_ms ? store_i64(rb, in->next_reminder_ms) : NULL};
    rc = store_exec(c, NULL,
                    "UPDATE cards SET version = $2::integer,"
                    " state = $3::jsonb, head_hash = decode($4, 'hex'),"
                    " parent_card_id = $5::bigint,"
                    " next_reminder_at = herald_ms_time($6::bigint),"
                    " claimed_by = NULL, claim_expires_at = NULL,"
                    " updated_at = herald_now() WHERE id = $1::bigint", 6, p);
  }
  if (rc == STORE_OK && in->sig)
    rc = sig_insert(c, in->card_id, in->sig);
  if (rc != STORE_OK)
    return rc;
  out->version = ver;
  return STORE_OK;
}

int store_card_append(struct store_conn *c, const struct store_card_append *in,
                      struct store_card_appended *out)
{
  struct store_card_appended tmp;
  int rc;

  store_clear(c);
  memset(&tmp, 0, sizeof(tmp));
  if (!in || !in->kind || !in->state || !in->payload)
    return store_fail(c, STORE_EINVAL, "incomplete card change");
  if ((rc = store_begin(c)) != STORE_OK)
    return rc;
  rc = append_tx(c, in, &tmp);
  if (rc == STORE_EEXISTS && in->cmid) {
    /* The same (actor, cmid) committed meanwhile: answer as a replay. */
    bool found = false;
    int64_t fc = 0;

    store_rollback(c);
    store_card_appended_clear(&tmp);
    rc = store_card_action_find(c, in->actor_kind, in->actor_id, in->cmid,
                                &fc, &tmp.version, &found);
    if (rc == STORE_OK && !found)
      rc = store_fail(c, STORE_EUNAVAIL, "card change lost a race; retry");
    if (rc != STORE_OK)
      return rc;
    tmp.dup = true;
    *out = tmp;
    return STORE_OK;
  }
  if (rc == STORE_OK && (tmp.raced || tmp.dup)) {
    store_rollback(c);
  } else if (rc == STORE_OK) {
    rc = store_commit(c);
  } else {
    store_rollback(c);
  }
  if (rc != STORE_OK) {
    store_card_appended_clear(&tmp);
    return rc;
  }
  *out = tmp;
  return STORE_OK;
}

int store_card_action_find(struct store_conn *c,
                           enum store_principal_kind kind, int64_t actor_id,
                           const char *cmid, int64_t *card_id,
                           int64_t *version, bool *found)
{
  char ub[STORE_I64_BUF], bb[STORE_I64_BUF];
  const char *p[3] = {
    store_i64(ub, kind == STORE_PRINCIPAL_USER ? actor_id : 0),
    store_i64(bb, kind == STORE_PRINCIPAL_BOT ? actor_id : 0), cmid};
  PGresult *res = NULL;
  int rc;

  rc = store_exec(c, &res,
                  "SELECT card_id, event_seq FROM card_events"
                  " WHERE coalesce(actor_user_id, 0) = $1::bigint"
                  " AND coalesce(actor_bot_id, 0) = $2::bigint"
                  " AND client_action_id = $3", 3, p);
  if (rc != STORE_OK)
    return rc;
  *found = PQntuples(res) == 1;
  if (*found) {
    *card_id = store_field_i64(res, 0, 0);
    *version = store_field_i64(res, 0, 1);
  }
  PQclear(res);
  return STORE_OK;
}

/* ---- events back ---- */

#define EVENT_COLUMNS                                                       \
  "e.card_id, e.event_seq, e.kind, e.actor_user_id, e.actor_bot_id,"        \
  " k.conversation_id, k.seq,"                                              \
  " floor(extract(epoch FROM e.at) * 1000)::bigint, e.payload::text, e.hash"

static int events_of(struct store_conn *c, const PGresult *res,
                     struct store_card_event **out, size_t *n)
{
  int rows = PQntuples(res);
  struct store_card_event *v = NULL;

  if (rows > 0 && !(v = calloc((size_t)rows, sizeof(*v))))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  for (int r = 0; r < rows; r++) {
    struct store_card_event *e = &v[r];

    e->card_id = store_field_i64(res, r, 0);
    e->version = store_field_i64(res, r, 1);
    store_field(res, r, 2, e->kind, sizeof(e->kind));
    if (!PQgetisnull(res, r, 3)) {
      e->actor_kind = STORE_PRINCIPAL_USER;
      e->actor_id = store_field_i64(res, r, 3);
    } else if (!PQgetisnull(res, r, 4)) {
      e->actor_kind = STORE_PRINCIPAL_BOT;
      e->actor_id = store_field_i64(res, r, 4);
    }
    e->conversation_id = store_field_i64(res, r, 5);
    e->seq = store_field_i64(res, r, 6);
    e->at_ms = store_field_i64(res, r, 7);
    (void)store_bytea_field(res, r, 9, e->hash, 32);
    if (!(e->payload = store_field_dup(res, r, 8))) {
      for (int k = 0; k < r; k++)
        store_card_event_clear(&v[k]);
      free(v);
      return store_fail(c, STORE_EINTERNAL, "out of memory");
    }
  }
  *out = v;
  *n = (size_t)rows;
  return STORE_OK;
}

int store_card_events(struct store_conn *c, int64_t card_id, int64_t after,
                      size_t limit, struct store_card_event **out, size_t *n)
{
  char cb[STORE_I64_BUF], ab[STORE_I64_BUF], lb[STORE_I64_BUF];
  const char *p[3] = {store_i64(cb, card_id), store_i64(ab, after),
                      store_i64(lb, (int64_t)limit)};
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  if (limit < 1)
    return store_fail(c, STORE_EINVAL, "limit must be at least 1");
  rc = store_exec(c, &res,
                  "SELECT " EVENT_COLUMNS " FROM card_events e"
                  " JOIN cards k ON k.id = e.card_id"
                  " WHERE e.card_id = $1::bigint AND e.event_seq > $2::integer"
                  " ORDER BY e.event_seq LIMIT $3::bigint", 3, p);
  if (rc == STORE_OK)
    rc = events_of(c, res, out, n);
  PQclear(res);
  return rc;
}

int store_card_feed_events(struct store_conn *c,
                           const struct store_feed_entry *e, size_t n,
                           struct store_card_event **out, size_t *n_out)
{
  int64_t *ids = NULL, *vers = NULL;
  size_t k = 0;
  char *ia = NULL, *va = NULL;
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  *out = NULL;
  *n_out = 0;
  for (size_t i = 0; i < n; i++)
    k += e[i].kind == STORE_FEED_CARD;
  if (!k)
    return STORE_OK;
  if (!(ids = calloc(k, sizeof(*ids))) || !(vers = calloc(k, sizeof(*vers)))) {
    free(ids);
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  }
  k = 0;
  for (size_t i = 0; i < n; i++)
    if (e[i].kind == STORE_FEED_CARD) {
      ids[k] = e[i].card_id;
      vers[k++] = e[i].card_ver;
    }
  ia = store_i64_array_text(ids, k);
  va = store_i64_array_text(vers, k);
  free(ids);
  free(vers);
  if (!ia || !va) {
    free(ia);
    free(va);
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  }
  {
    const char *p[2] = {ia, va};
    rc = store_exec(c, &res,
                    "SELECT " EVENT_COLUMNS
                    " FROM unnest($1::bigint[], $2::integer[])"
                    "  WITH ORDINALITY AS x(card, ver, o)"
                    " JOIN card_events e ON e.card_id = x.card"
                    "  AND e.event_seq = x.ver"
                    " JOIN cards k ON k.id = e.card_id ORDER BY x.o", 2, p);
  }
  free(ia);
  free(va);
  if (rc == STORE_OK)
    rc = events_of(c, res, out, n_out);
  PQclear(res);
  return rc;
}

