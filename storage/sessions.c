/*
 * sessions.c — who is calling: password-login lookups, session tokens, and
 * the resolution of a bearer token (a session's or a bot's) to a principal.
 *
 * Tokens are made and hashed by crypto/; only the 32-byte hashes reach the
 * database, always as binary (bytea) parameters. A token lookup runs on
 * every connect, so it is one statement: the lookup, the bot fallback and
 * the "last used" touch together, and the touch writes at most once a
 * minute per session (a connect storm does not become a write storm).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* How stale sessions.last_used_at may get before a lookup rewrites it. */
#define TOUCH_INTERVAL "1 minute"

/* users.role as the enum; its CHECK allows nothing else, so the fallback
 * is never taken. */
static enum store_role role_of(const char *s)
{
  enum store_role r;

  return store_role_parse(s, &r) == STORE_OK ? r : STORE_ROLE_STAFF;
}

int store_login_lookup(struct store_conn *c, const char *login,
                       struct store_login_info *out)
{
  PGresult *res = NULL;
  const char *p[1] = {login};
  struct store_login_info info;
  int rc;

  store_clear(c);
  if (!login)
    return store_fail(c, STORE_ENOTFOUND, "unknown user \"\"");
  rc = store_exec(c, &res,
                  "SELECT id, active, coalesce(password_hash, '')"
                  " FROM users WHERE lower(login) = lower($1)", 1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown user \"%s\"", login);
    goto out;
  }
  memset(&info, 0, sizeof info);
  info.user_id = store_field_i64(res, 0, 0);
  info.active = store_field_bool(res, 0, 1);
  /* A truncated hash would never verify; say so instead. */
  if ((size_t)PQgetlength(res, 0, 2) >= sizeof info.password_hash) {
    rc = store_fail(c, STORE_EINTERNAL,
                    "the password hash of \"%s\" is longer than %zu bytes",
                    login, sizeof info.password_hash - 1);
    goto out;
  }
  store_field(res, 0, 2, info.password_hash, sizeof info.password_hash);
  *out = info;
out:
  PQclear(res);
  return rc;
}

int store_session_create(struct store_conn *c, int64_t user_id,
                         const char *device_name,
                         const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
                         int64_t ttl_s, struct store_principal *out)
{
  PGresult *res = NULL;
  const char *name = device_name ? device_name : "";
  char ub[STORE_I64_BUF], tb[STORE_I64_BUF], role[16];
  struct store_principal who;
  int rc;

  store_clear(c);
  if (store_utf8_chars(name) > 100)
    return store_fail(c, STORE_EINVAL,
                      "device name must be at most 100 characters");
  if (ttl_s <= 0)
    return store_fail(c, STORE_EINVAL, "session lifetime must be positive");
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = store_user_check(c, user_id, NULL);
  if (rc != STORE_OK)
    goto out;
  {
    const char *p[4] = {store_i64(ub, user_id), name, (const char *)token_hash,
                        store_i64(tb, ttl_s)};
    int len[4] = {0, 0, STORE_TOKEN_HASH_LEN, 0};
    int fmt[4] = {0, 0, 1, 0};

    /* A named device is found or created (see devices_user_name_key in
     * sql/0002_chat_core.sql); '' never conflicts and always inserts. */
    rc = store_exec_bin(c, &res,
                        "WITH d AS ("
                        " INSERT INTO devices (user_id, name, last_seen_at)"
                        " VALUES ($1::bigint, $2, herald_now())"
                        " ON CONFLICT (user_id, name)"
                        "  WHERE name <> '' AND revoked_at IS NULL"
                        " DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at"
                        " RETURNING id),"
                        " s AS ("
                        " INSERT INTO sessions (token_hash, user_id, device_id,"
                        "  expires_at)"
                        " SELECT $3::bytea, $1::bigint, d.id,"
                        "  herald_now() + $4::bigint * interval '1 second' FROM d"
                        " RETURNING device_id, expires_at)"
                        " SELECT u.login, u.display_name, u.time_zone, u.role,"
                        "  s.device_id,"
                        "  floor(extract(epoch FROM s.expires_at) * 1000)::bigint"
                        " FROM s JOIN users u ON u.id = $1::bigint",
                        4, p, len, fmt);
  }
  if (rc == STORE_EEXISTS)
    rc = store_fail(c, STORE_EEXISTS, "session token already in use");
  else if (rc == STORE_EINVAL)
    rc = store_fail(c, STORE_EINVAL, "session lifetime of %lld s is too long",
                    (long long)ttl_s);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) != 1) {
    rc = store_fail(c, STORE_EINTERNAL, "session insert returned %d rows",
                    PQntuples(res));
    goto out;
  }
  memset(&who, 0, sizeof who);
  who.kind = STORE_PRINCIPAL_USER;
  who.id = user_id;
  store_field(res, 0, 0, who.login, sizeof who.login);
  store_field(res, 0, 1, who.display_name, sizeof who.display_name);
  store_field(res, 0, 2, who.time_zone, sizeof who.time_zone);
  store_field(res, 0, 3, role, sizeof role);
  who.role = role_of(role);
  who.device_id = store_field_i64(res, 0, 4);
  who.expires_at_ms = store_field_i64(res, 0, 5);
  rc = store_commit(c);
  if (rc == STORE_OK && out)
    *out = who;
out:
  if (rc != STORE_OK)
    store_rollback(c);
  PQclear(res);
  return rc;
}

int store_session_lookup(struct store_conn *c,
                         const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
                         struct store_principal *out)
{
  PGresult *res = NULL;
  const char *p[1] = {(const char *)token_hash};
  int len[1] = {STORE_TOKEN_HASH_LEN};
  int fmt[1] = {1};
  struct store_principal who;
  char role[16];
  int rc;

  store_clear(c);
  /* One statement, so one implicit transaction and one round trip. The
   * touch is a data-modifying WITH that runs even though nothing reads it;
   * when it changes no row the transaction writes nothing at all. Session
   * and bot token hashes are both random 32 bytes, so at most one side
   * matches; sessions win the ORDER BY regardless. */
  rc = store_exec_bin(c, &res,
                      "WITH s AS ("
                      " SELECT s.id, s.user_id, s.device_id, s.expires_at,"
                      "  s.last_used_at, u.login, u.display_name, u.time_zone,"
                      "  u.role, s.revoked_at IS NULL AND s.expires_at > herald_now()"
                      "  AND u.active AS valid"
                      " FROM sessions s JOIN users u ON u.id = s.user_id"
                      " WHERE s.token_hash = $1::bytea),"
                      " touch AS ("
                      " UPDATE sessions t SET last_used_at = herald_now() FROM s"
                      " WHERE t.id = s.id AND s.valid AND (s.last_used_at IS NULL"
                      "  OR s.last_used_at < herald_now() - interval '" TOUCH_INTERVAL "'))"
                      " SELECT 1 AS k, s.user_id, s.login, s.display_name,"
                      "  s.time_zone, s.role, coalesce(s.device_id, 0),"
                      "  floor(extract(epoch FROM s.expires_at) * 1000)::bigint,"
                      "  s.valid, 0 FROM s"
                      " UNION ALL"
                      " SELECT 2, b.id, b.name, b.name, 'UTC', 'staff', 0, 0,"
                      "  b.revoked_at IS NULL, b.rate_limit_per_minute FROM bots b"
                      " WHERE b.token_hash = $1::bytea"
                      " ORDER BY k LIMIT 1",
                      1, p, len, fmt);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown token");
    goto out;
  }
  if (!store_field_bool(res, 0, 8)) {
    rc = store_fail(c, STORE_EINVAL, "token expired or revoked");
    goto out;
  }
  memset(&who, 0, sizeof who);
  who.kind = store_field_i64(res, 0, 0) == 2 ? STORE_PRINCIPAL_BOT
                                             : STORE_PRINCIPAL_USER;
  who.id = store_field_i64(res, 0, 1);
  store_field(res, 0, 2, who.login, sizeof who.login);
  store_field(res, 0, 3, who.display_name, sizeof who.display_name);
  store_field(res, 0, 4, who.time_zone, sizeof who.time_zone);
  store_field(res, 0, 5, role, sizeof role);
  who.role = role_of(role);
  who.device_id = store_field_i64(res, 0, 6);
  who.expires_at_ms = store_field_i64(res, 0, 7);
  who.rate_limit_per_minute = (int)store_field_i64(res, 0, 9);
  *out = who;
out:
  PQclear(res);
  return rc;
}

int store_session_revoke(struct store_conn *c,
                         const uint8_t token_hash[STORE_TOKEN_HASH_LEN])
{
  PGresult *res = NULL;
  const char *p[1] = {(const char *)token_hash};
  int len[1] = {STORE_TOKEN_HASH_LEN};
  int fmt[1] = {1};
  int rc;

  store_clear(c);
  /* coalesce keeps the first revocation time when revoked twice. */
  rc = store_exec_bin(c, &res,
                      "UPDATE sessions SET revoked_at = coalesce(revoked_at, herald_now())"
                      " WHERE token_hash = $1::bytea RETURNING id",
                      1, p, len, fmt);
  if (rc == STORE_OK && PQntuples(res) == 0)
    rc = store_fail(c, STORE_ENOTFOUND, "unknown session token");
  PQclear(res);
  return rc;
}
