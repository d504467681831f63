/*
 * bots.c — bots: created by admins with a token (only its hash is kept),
 * an owner, and the conversations each bot may post to (SPEC §9).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define AUDIT_ACTOR "admin"

/* The bots.name rule: 1-64 ASCII letters, digits, '.', '_', '-', starting
 * with a letter or digit. */
static bool valid_bot_name(const char *s)
{
  size_t n = s ? strlen(s) : 0;

  if (n == 0 || n > STORE_LOGIN_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9');

    if (!alnum && (i == 0 || !strchr("._-", ch)))
      return false;
  }
  return true;
}

static int conversation_exists(struct store_conn *c, int64_t id)
{
  PGresult *res = NULL;
  char buf[STORE_I64_BUF];
  const char *p[1] = {store_i64(buf, id)};
  int rc;

  rc = store_exec(c, &res, "SELECT 1 FROM conversations WHERE id = $1::bigint",
                  1, p);
  if (rc == STORE_OK && PQntuples(res) == 0)
    rc = store_fail(c, STORE_ENOTFOUND, "unknown conversation id %s", p[0]);
  PQclear(res);
  return rc;
}

static int allow_tx(struct store_conn *c, int64_t bot, int64_t conv)
{
  char bb[STORE_I64_BUF], cb[STORE_I64_BUF];
  const char *p[2] = {store_i64(bb, bot), store_i64(cb, conv)};
  int rc;

  rc = conversation_exists(c, conv);
  if (rc == STORE_OK)
    rc = store_exec(c, NULL,
                    "INSERT INTO bot_conversations (bot_id, conversation_id)"
                    " VALUES ($1::bigint, $2::bigint) ON CONFLICT DO NOTHING",
                    2, p);
  return rc;
}

int store_bot_create(struct store_conn *c, const char *name, int64_t owner_id,
                     const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
                     const int64_t *conversation_ids, size_t n_conversations,
                     int64_t *id)
{
  PGresult *res = NULL;
  char owner[STORE_LOGIN_MAX + 1], ob[STORE_I64_BUF];
  int64_t bot = 0;
  int rc;

  store_clear(c);
  if (!valid_bot_name(name))
    return store_fail(c, STORE_EINVAL,
                      "invalid bot name \"%s\": use 1-64 letters, digits, '.',"
                      " '_' or '-', starting with a letter or digit",
                      name ? name : "");
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = store_user_check(c, owner_id, owner);
  if (rc != STORE_OK)
    goto out;
  {
    const char *p[3] = {name, store_i64(ob, owner_id),
                        (const char *)token_hash};
    int len[3] = {0, 0, STORE_TOKEN_HASH_LEN};
    int fmt[3] = {0, 0, 1};

    rc = store_exec_bin(c, &res,
                        "INSERT INTO bots (name, owner_id, token_hash)"
                        " VALUES ($1, $2::bigint, $3::bytea) RETURNING id",
                        3, p, len, fmt);
  }
  if (rc == STORE_EEXISTS)
    rc = store_fail(c, STORE_EEXISTS, "bot \"%s\" already exists", name);
  if (rc != STORE_OK)
    goto out;
  bot = store_field_i64(res, 0, 0);
  for (size_t i = 0; rc == STORE_OK && i < n_conversations; i++)
    rc = allow_tx(c, bot, conversation_ids[i]);
  if (rc == STORE_OK)
    rc = store_audit(c, AUDIT_ACTOR, "bot.create", "name", name, "owner", owner);
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc == STORE_OK && id)
    *id = bot;
out:
  if (rc != STORE_OK)
    store_rollback(c);
  PQclear(res);
  return rc;
}

static const char BOT_COLUMNS[] =
  "SELECT b.id, b.name, u.login, b.revoked_at IS NOT NULL,"
  " b.rate_limit_per_minute,"
  " (SELECT count(*) FROM bot_conversations bc WHERE bc.bot_id = b.id),"
  " extract(epoch FROM b.created_at)::bigint"
  " FROM bots b JOIN users u ON u.id = b.owner_id ";

static void bot_from_row(const PGresult *res, int r, struct store_bot *b)
{
  memset(b, 0, sizeof *b);
  b->id = store_field_i64(res, r, 0);
  store_field(res, r, 1, b->name, sizeof b->name);
  store_field(res, r, 2, b->owner_login, sizeof b->owner_login);
  b->revoked = store_field_bool(res, r, 3);
  b->rate_limit_per_minute = (int)store_field_i64(res, r, 4);
  b->conversation_count = store_field_i64(res, r, 5);
  b->created_at = store_field_i64(res, r, 6);
}

static void bot_row(const PGresult *res, int r, void *elem)
{
  bot_from_row(res, r, elem);
}

int store_bot_get(struct store_conn *c, const char *name,
                  struct store_bot *out)
{
  PGresult *res = NULL;
  const char *p[1] = {name};
  char sql[sizeof BOT_COLUMNS + 64];
  int rc;

  store_clear(c);
  snprintf(sql, sizeof sql, "%sWHERE lower(b.name) = lower($1)", BOT_COLUMNS);
  rc = store_exec(c, &res, sql, 1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown bot \"%s\"", name);
    goto out;
  }
  bot_from_row(res, 0, out);
out:
  PQclear(res);
  return rc;
}

int store_bot_list(struct store_conn *c, struct store_bot **out, size_t *n)
{
  PGresult *res = NULL;
  char sql[sizeof BOT_COLUMNS + 64];
  int rc;

  store_clear(c);
  snprintf(sql, sizeof sql, "%sORDER BY lower(b.name)", BOT_COLUMNS);
  rc = store_exec(c, &res, sql, 0, NULL);
  if (rc != STORE_OK)
    goto out;
  rc = store_rows(c, res, sizeof(struct store_bot), bot_row,
                  (void **)out, n);
out:
  PQclear(res);
  return rc;
}

/* Reads a bot's name and revoked flag in the caller's transaction. */
static int bot_state(struct store_conn *c, int64_t bot_id,
                     char name[STORE_LOGIN_MAX + 1], bool *revoked)
{
  PGresult *res = NULL;
  char buf[STORE_I64_BUF];
  const char *p[1] = {store_i64(buf, bot_id)};
  int rc;

  rc = store_exec(c, &res,
                  "SELECT name, revoked_at IS NOT NULL FROM bots"
                  " WHERE id = $1::bigint FOR UPDATE", 1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown bot id %s", p[0]);
    goto out;
  }
  store_field(res, 0, 0, name, STORE_LOGIN_MAX + 1);
  *revoked = store_field_bool(res, 0, 1);
out:
  PQclear(res);
  return rc;
}

int store_bot_revoke(struct store_conn *c, int64_t bot_id)
{
  char name[STORE_LOGIN_MAX + 1], buf[STORE_I64_BUF];
  const char *p[1] = {store_i64(buf, bot_id)};
  bool revoked;
  int rc;

  store_clear(c);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = bot_state(c, bot_id, name, &revoked);
  if (rc == STORE_OK && !revoked) {
    rc = store_exec(c, NULL,
                    "UPDATE bots SET revoked_at = herald_now() WHERE id = $1::bigint",
                    1, p);
    if (rc == STORE_OK)
      rc = store_audit(c, AUDIT_ACTOR, "bot.revoke", "name", name, NULL, NULL);
  }
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    store_rollback(c);
  return rc;
}

int store_bot_allow(struct store_conn *c, int64_t bot_id,
                    int64_t conversation_id)
{
  char name[STORE_LOGIN_MAX + 1];
  bool revoked;
  int rc;

  store_clear(c);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = bot_state(c, bot_id, name, &revoked);
  if (rc == STORE_OK && revoked)
    rc = store_fail(c, STORE_EINVAL, "bot \"%s\" is revoked", name);
  if (rc == STORE_OK)
    rc = allow_tx(c, bot_id, conversation_id);
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    store_rollback(c);
  return rc;
}

int store_bot_set_rate(struct store_conn *c, int64_t bot_id, int per_minute)
{
  char name[STORE_LOGIN_MAX + 1], bb[STORE_I64_BUF], rb[STORE_I64_BUF];
  const char *p[2] = {store_i64(bb, bot_id), store_i64(rb, per_minute)};
  bool revoked;
  int rc;

  store_clear(c);
  if (per_minute < 1 || per_minute > STORE_BOT_RATE_MAX)
    return store_fail(c, STORE_EINVAL,
                      "rate limit must be 1 to %d messages a minute, got %d",
                      STORE_BOT_RATE_MAX, per_minute);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = bot_state(c, bot_id, name, &revoked);
  if (rc == STORE_OK)
    rc = store_exec(c, NULL,
                    "UPDATE bots SET rate_limit_per_minute = $2::integer"
                    " WHERE id = $1::bigint", 2, p);
  if (rc == STORE_OK)
    rc = store_audit(c, AUDIT_ACTOR, "bot.rate", "name", name, "per_minute",
                     p[1]);
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    store_rollback(c);
  return rc;
}

int store_bot_robot_set(struct store_conn *c, int64_t bot_id,
                        int64_t conversation_id,
                        const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
                        const uint8_t *sealed, size_t sealed_len)
{
  char name[STORE_LOGIN_MAX + 1], bb[STORE_I64_BUF], cb[STORE_I64_BUF];
  bool revoked;
  int rc;

  store_clear(c);
  if (sealed && (sealed_len < 1 || sealed_len > STORE_ROBOT_SEALED_MAX))
    return store_fail(c, STORE_EINVAL, "a sealed robot secret must be 1 to"
                      " %d bytes", STORE_ROBOT_SEALED_MAX);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = bot_state(c, bot_id, name, &revoked);
  if (rc == STORE_OK && revoked)
    rc = store_fail(c, STORE_EINVAL, "bot \"%s\" is revoked", name);
  if (rc == STORE_OK)
    rc = allow_tx(c, bot_id, conversation_id);
  if (rc == STORE_OK) {
    const char *p[4] = {store_i64(bb, bot_id), store_i64(cb, conversation_id),
                        (const char *)token_hash, (const char *)sealed};
    int len[4] = {0, 0, STORE_TOKEN_HASH_LEN, (int)sealed_len};
    int fmt[4] = {0, 0, 1, 1};

    rc = store_exec_bin(c, NULL,
                        "UPDATE bots SET robot_conversation_id = $2::bigint,"
                        " robot_token_hash = $3::bytea,"
                        " robot_secret_sealed = $4::bytea"
                        " WHERE id = $1::bigint", 4, p, len, fmt);
  }
  if (rc == STORE_OK)
    rc = store_audit(c, AUDIT_ACTOR, "bot.robot", "name", name,
                     "signed", sealed ? "true" : "false");
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    store_rollback(c);
  return rc;
}

int store_bot_robot_lookup(struct store_conn *c,
                           const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
                           struct store_bot_robot *out)
{
  PGresult *res = NULL;
  const char *p[1] = {(const char *)token_hash};
  int len[1] = {STORE_TOKEN_HASH_LEN};
  int fmt[1] = {1};
  unsigned char *raw = NULL;
  size_t n = 0;
  int rc;

  store_clear(c);
  memset(out, 0, sizeof *out);
  rc = store_exec_bin(c, &res,
                      "SELECT id, name, revoked_at IS NOT NULL,"
                      " rate_limit_per_minute,"
                      " coalesce(robot_conversation_id, 0), robot_secret_sealed"
                      " FROM bots WHERE robot_token_hash = $1::bytea",
                      1, p, len, fmt);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown robot token");
    goto out;
  }
  out->bot_id = store_field_i64(res, 0, 0);
  store_field(res, 0, 1, out->name, sizeof out->name);
  out->rate_limit_per_minute = (int)store_field_i64(res, 0, 3);
  out->conversation_id = store_field_i64(res, 0, 4);
  if (store_field_bool(res, 0, 2)) {
    rc = store_fail(c, STORE_EINVAL, "bot \"%s\" is revoked", out->name);
    goto out;
  }
  if (out->conversation_id == 0) {
    rc = store_fail(c, STORE_EINVAL, "the robot's conversation was deleted");
    goto out;
  }
  if (!PQgetisnull(res, 0, 5)) {
    raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 5), &n);
    if (!raw || n < 1 || n > STORE_ROBOT_SEALED_MAX) {
      rc = store_fail(c, STORE_EINTERNAL, "bad sealed robot secret");
      goto out;
    }
    memcpy(out->sealed, raw, n);
    out->sealed_len = n;
  }
out:
  PQfreemem(raw);
  PQclear(res);
  return rc;
}

static void rcpt_row(const PGresult *res, int r, void *elem)
{
  struct store_bot_rcpt *x = elem;

  memset(x, 0, sizeof *x);
  x->user_id = store_field_i64(res, r, 0);
  store_field(res, r, 1, x->login, sizeof x->login);
  x->delivered = store_field_bool(res, r, 2);
  x->read = store_field_bool(res, r, 3);
  x->acked = store_field_bool(res, r, 4);
  x->acked_at_ms = store_field_i64(res, r, 5);
}

int store_bot_message_summary(struct store_conn *c, int64_t bot_id,
                              int64_t conversation_id, int64_t seq,
                              struct store_bot_summary *out)
{
  PGresult *res = NULL;
  char bb[STORE_I64_BUF], cb[STORE_I64_BUF], sb[STORE_I64_BUF];
  const char *p[3] = {store_i64(bb, bot_id), store_i64(cb, conversation_id),
                      store_i64(sb, seq)};
  char kind[8];
  int rc;

  store_clear(c);
  memset(out, 0, sizeof *out);
  /* The message and whether the bot may see it, in one round trip. */
  rc = store_exec(c, &res,
                  "SELECT EXISTS (SELECT 1 FROM bot_conversations bc"
                  "  JOIN bots b ON b.id = bc.bot_id AND b.revoked_at IS NULL"
                  "  WHERE bc.bot_id = $1::bigint"
                  "  AND bc.conversation_id = $2::bigint),"
                  " m.sender_bot_id IS NOT DISTINCT FROM $1::bigint, m.kind,"
                  " m.tracked,"
                  " floor(extract(epoch FROM m.sent_at) * 1000)::bigint"
                  " FROM (SELECT 1) one LEFT JOIN messages m"
                  "  ON m.conversation_id = $2::bigint AND m.seq = $3::bigint",
                  3, p);
  if (rc != STORE_OK)
    goto out;
  if (!store_field_bool(res, 0, 0)) {
    rc = store_fail(c, STORE_EFORBIDDEN,
                    "bot may not post to conversation %s", p[1]);
    goto out;
  }
  if (PQgetisnull(res, 0, 2)) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown message %s:%s", p[1], p[2]);
    goto out;
  }
  if (!store_field_bool(res, 0, 1)) {
    rc = store_fail(c, STORE_EFORBIDDEN,
                    "message %s:%s was not posted by this bot", p[1], p[2]);
    goto out;
  }
  store_field(res, 0, 2, kind, sizeof kind);
  out->kind = strcmp(kind, "ding") == 0   ? STORE_MSG_DING
              : strcmp(kind, "card") == 0 ? STORE_MSG_CARD
                                          : STORE_MSG_TEXT;
  out->tracked = store_field_bool(res, 0, 3);
  out->sent_at_ms = store_field_i64(res, 0, 4);
  PQclear(res);
  res = NULL;
  if (out->kind == STORE_MSG_DING)
    rc = store_exec(c, &res,
                    "SELECT r.user_id, u.login,"
                    " r.delivered_at IS NOT NULL OR m.read_seq >= r.seq,"
                    " coalesce(m.read_seq >= r.seq, false),"
                    " r.acked_at IS NOT NULL,"
                    " coalesce(floor(extract(epoch FROM r.acked_at) * 1000),"
                    "  0)::bigint"
                    " FROM ding_recipients r JOIN users u ON u.id = r.user_id"
                    " LEFT JOIN members m ON m.conversation_id ="
                    "  r.conversation_id AND m.user_id = r.user_id"
                    " WHERE r.conversation_id = $2::bigint"
                    " AND r.seq = $3::bigint AND $1::bigint > 0"
                    " ORDER BY r.user_id", 3, p);
  else
    rc = store_exec(c, &res,
                    "SELECT m.user_id, u.login, m.delivered_seq >= $3::bigint,"
                    " m.read_seq >= $3::bigint, false, 0::bigint"
                    " FROM members m JOIN users u ON u.id = m.user_id"
                    " WHERE m.conversation_id = $2::bigint"
                    " AND m.joined_seq < $3::bigint"
                    " AND (m.left_seq IS NULL OR m.left_seq >= $3::bigint)"
                    " AND $1::bigint > 0"
                    " ORDER BY m.user_id", 3, p);
  if (rc == STORE_OK)
    rc = store_rows(c, res, sizeof(struct store_bot_rcpt), rcpt_row,
                    (void **)&out->rcpt, &out->n);
out:
  PQclear(res);
  return rc;
}

void store_bot_summary_cleanup(struct store_bot_summary *s)
{
  if (!s)
    return;
  free(s->rcpt);
  s->rcpt = NULL;
  s->n = 0;
}

static void secret_row(const PGresult *res, int r, void *elem)
{
  struct store_robot_secret *x = elem;
  unsigned char *raw;
  size_t n = 0;

  memset(x, 0, sizeof *x);
  x->bot_id = store_field_i64(res, r, 0);
  raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, r, 1), &n);
  if (raw && n <= STORE_ROBOT_SEALED_MAX) {
    memcpy(x->sealed, raw, n);
    x->sealed_len = n;
  }
  PQfreemem(raw);
}

int store_bot_robot_secrets(struct store_conn *c,
                            struct store_robot_secret **out, size_t *n)
{
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  rc = store_exec(c, &res,
                  "SELECT id, robot_secret_sealed FROM bots"
                  " WHERE robot_secret_sealed IS NOT NULL ORDER BY id",
                  0, NULL);
  if (rc == STORE_OK)
    rc = store_rows(c, res, sizeof(struct store_robot_secret), secret_row,
                    (void **)out, n);
  PQclear(res);
  return rc;
}

int store_bot_robot_reseal(struct store_conn *c, int64_t bot_id,
                           const uint8_t *old, size_t old_len,
                           const uint8_t *sealed, size_t sealed_len)
{
  PGresult *res = NULL;
  char bb[STORE_I64_BUF];
  const char *p[3] = {store_i64(bb, bot_id), (const char *)old,
                      (const char *)sealed};
  int len[3] = {0, (int)old_len, (int)sealed_len};
  int fmt[3] = {0, 1, 1};
  int rc;

  store_clear(c);
  if (old_len < 1 || old_len > STORE_ROBOT_SEALED_MAX || sealed_len < 1 ||
      sealed_len > STORE_ROBOT_SEALED_MAX)
    return store_fail(c, STORE_EINVAL, "a sealed robot secret must be 1 to"
                      " %d bytes", STORE_ROBOT_SEALED_MAX);
  rc = store_exec_bin(c, &res,
                      "UPDATE bots SET robot_secret_sealed = $3::bytea"
                      " WHERE id = $1::bigint"
                      " AND robot_secret_sealed = $2::bytea RETURNING 1",
                      3, p, len, fmt);
  if (rc == STORE_OK && PQntuples(res) == 0)
    rc = store_fail(c, STORE_EEXISTS, "the robot secret of bot id %s changed"
                    " meanwhile", p[0]);
  PQclear(res);
  return rc;
}
