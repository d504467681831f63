/*
 * keys.c — per-user data keys (stored wrapped by the master key) and the
 * master key check values (SPEC §5).
 *
 * Storage never sees a plain key: crypto/ wraps and unwraps on the
 * server's database threads, and this file keeps the opaque blobs, always
 * as binary bytea parameters. A key row names the master key id that wraps
 * it, so a rotation can re-wrap row by row while the server runs (compare
 * and swap on that id), and erasure wipes the blob but keeps the row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define AUDIT_ACTOR "admin"

/* Columns in the order key_from_row() reads them. */
#define KEY_COLUMNS \
  "k.user_id, k.key_version, coalesce(k.master_id, -1), k.wrapped IS NULL," \
  " k.wrapped"

/* Copies a bytea result field (text format: hex) into buf; *len gets its
 * length, 0 for NULL or anything that does not fit (the schema's CHECKs
 * keep stored blobs within STORE_BLOB_MAX). */
static void blob_field(const PGresult *res, int r, int col, uint8_t *buf,
                       size_t *len)
{
  unsigned char *raw;
  size_t n = 0;

  *len = 0;
  if (PQgetisnull(res, r, col))
    return;
  raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, r, col), &n);
  if (raw && n <= STORE_BLOB_MAX) {
    memcpy(buf, raw, n);
    *len = n;
  }
  PQfreemem(raw);
}

static void key_from_row(const PGresult *res, int r, void *elem)
{
  struct store_user_key *k = elem;

  memset(k, 0, sizeof *k);
  k->user_id = store_field_i64(res, r, 0);
  k->key_version = (uint32_t)store_field_i64(res, r, 1);
  k->master_id = store_field_i64(res, r, 2);
  k->destroyed = store_field_bool(res, r, 3);
  blob_field(res, r, 4, k->wrapped, &k->wrapped_len);
}

static int check_blob(struct store_conn *c, const char *what,
                      const uint8_t *b, size_t len)
{
  if (!b || len < 1 || len > STORE_BLOB_MAX)
    return store_fail(c, STORE_EINVAL, "%s must be 1-%d bytes", what,
                      STORE_BLOB_MAX);
  return STORE_OK;
}

/* The current key of user `ub` in the caller's transaction (or alone). */
static int current_key(struct store_conn *c, const char *ub,
                       struct store_user_key *out)
{
  PGresult *res = NULL;
  const char *p[1] = {ub};
  int rc;

  rc = store_exec(c, &res,
                  "SELECT " KEY_COLUMNS " FROM user_keys k"
                  " WHERE k.user_id = $1::bigint"
                  " ORDER BY k.key_version DESC LIMIT 1", 1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "user id %s has no data key", ub);
    goto out;
  }
  key_from_row(res, 0, out);
out:
  PQclear(res);
  return rc;
}

int store_user_key_get(struct store_conn *c, int64_t user_id,
                       struct store_user_key *out)
{
  char ub[STORE_I64_BUF];

  store_clear(c);
  return current_key(c, store_i64(ub, user_id), out);
}

/* Does user `ub` exist (active or not)? STORE_ENOTFOUND when not. */
static int user_exists(struct store_conn *c, const char *ub)
{
  PGresult *res = NULL;
  const char *p[1] = {ub};
  int rc;

  rc = store_exec(c, &res, "SELECT 1 FROM users WHERE id = $1::bigint", 1, p);
  if (rc == STORE_OK && PQntuples(res) == 0)
    rc = store_fail(c, STORE_ENOTFOUND, "unknown user id %s", ub);
  PQclear(res);
  return rc;
}

/* In the caller's transaction: refuses a master key that a rotation has
 * retired, and holds its check row (FOR SHARE) until the transaction ends,
 * so store_master_check_retire — which locks that row FOR UPDATE before it
 * counts the keys under the master — either sees the key this transaction
 * makes or makes it fail here. A master without a check row is accepted
 * (nothing can retire it). */
static int master_usable(struct store_conn *c, const char *mb)
{
  PGresult *res = NULL;
  const char *p[1] = {mb};
  int rc;

  rc = store_exec(c, &res,
                  "SELECT retired_at IS NOT NULL FROM master_key_checks"
                  " WHERE master_id = $1::bigint FOR SHARE", 1, p);
  if (rc == STORE_OK && PQntuples(res) > 0 && store_field_bool(res, 0, 0))
    rc = store_fail(c, STORE_EFORBIDDEN, "master key id %s is retired", mb);
  PQclear(res);
  return rc;
}

int store_user_key_create(struct store_conn *c, int64_t user_id,
                          int64_t master_id, const uint8_t *wrapped,
                          size_t len, struct store_user_key *out,
                          bool *created)
{
  PGresult *res = NULL;
  char ub[STORE_I64_BUF], mb[STORE_I64_BUF], vb[STORE_I64_BUF];
  struct store_user_key k;
  bool won = false;
  int rc;

  store_clear(c);
  rc = check_blob(c, "a wrapped key", wrapped, len);
  if (rc == STORE_OK && master_id < 0)
    rc = store_fail(c, STORE_EINVAL, "invalid master key id %lld",
                    (long long)master_id);
  if (rc != STORE_OK)
    return rc;
  store_i64(ub, user_id);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = user_exists(c, ub);
  if (rc == STORE_OK)
    rc = master_usable(c, store_i64(mb, master_id));
  if (rc != STORE_OK)
    goto out;
  {
    const char *p[4] = {ub, store_i64(vb, STORE_KEY_FIRST_VERSION), mb,
                        (const char *)wrapped};
    const int lens[4] = {0, 0, 0, (int)len};
    const int fmts[4] = {0, 0, 0, 1};

    /* A racing creator holds the same primary key: ON CONFLICT waits for
     * it and then does nothing; the SELECT below, a new statement with a
     * new snapshot, sees the winner's committed row. A user with any key
     * row (also a destroyed one) gets no new key. */
    rc = store_exec_bin(c, &res,
                        "INSERT INTO user_keys (user_id, key_version,"
                        " master_id, wrapped)"
                        " SELECT $1::bigint, $2::integer, $3::bigint, $4::bytea"
                        " WHERE NOT EXISTS (SELECT 1 FROM user_keys"
                        "  WHERE user_id = $1::bigint)"
                        " ON CONFLICT (user_id, key_version) DO NOTHING"
                        " RETURNING 1", 4, p, lens, fmts);
  }
  if (rc != STORE_OK)
    goto out;
  won = PQntuples(res) > 0;
  rc = current_key(c, ub, &k);
  if (rc == STORE_OK)
    rc = store_commit(c);
out:
  PQclear(res);
  if (rc != STORE_OK) {
    store_rollback(c);
    return rc;
  }
  *out = k;
  if (created)
    *created = won;
  return STORE_OK;
}

int store_user_key_destroy(struct store_conn *c, int64_t user_id)
{
  char ub[STORE_I64_BUF], vb[STORE_I64_BUF];
  const char *p[2] = {store_i64(ub, user_id),
                      store_i64(vb, STORE_KEY_FIRST_VERSION)};
  int rc;

  store_clear(c);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = user_exists(c, ub);
  /* Wipe every version; a user without any key gets a destroyed first
   * version, which store_user_key_create then returns instead of making a
   * key. */
  if (rc == STORE_OK)
    rc = store_exec(c, NULL,
                    "UPDATE user_keys SET wrapped = NULL,"
                    " destroyed_at = coalesce(destroyed_at, herald_now())"
                    " WHERE user_id = $1::bigint", 1, p);
  if (rc == STORE_OK)
    rc = store_exec(c, NULL,
                    "INSERT INTO user_keys (user_id, key_version, wrapped,"
                    " destroyed_at)"
                    " SELECT $1::bigint, $2::integer, NULL, herald_now()"
                    " WHERE NOT EXISTS (SELECT 1 FROM user_keys"
                    "  WHERE user_id = $1::bigint)"
                    " ON CONFLICT (user_id, key_version) DO UPDATE"
                    " SET wrapped = NULL,"
                    " destroyed_at = coalesce(user_keys.destroyed_at, herald_now())",
                    2, p);
  if (rc == STORE_OK)
    rc = store_audit(c, AUDIT_ACTOR, "user.key_destroy", "user_id", ub, NULL,
                     NULL);
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    store_rollback(c);
  return rc;
}

int store_user_keys_page(struct store_conn *c, int64_t after_user,
                         uint32_t after_version, int64_t skip_master,
                         size_t limit, struct store_user_key **out,
                         size_t *n)
{
  PGresult *res = NULL;
  char ub[STORE_I64_BUF], vb[STORE_I64_BUF], sb[STORE_I64_BUF],
       lb[STORE_I64_BUF];
  const char *p[4] = {store_i64(ub, after_user), store_i64(vb, after_version),
                      skip_master >= 0 ? store_i64(sb, skip_master) : NULL,
                      store_i64(lb, (int64_t)limit)};
  int rc;

  store_clear(c);
  if (limit < 1 || limit > 100000)
    return store_fail(c, STORE_EINVAL, "limit must be 1-100000");
  rc = store_exec(c, &res,
                  "SELECT " KEY_COLUMNS " FROM user_keys k"
                  " WHERE (k.user_id, k.key_version)"
                  "  > ($1::bigint, $2::integer)"
                  " AND k.wrapped IS NOT NULL"
                  " AND ($3::bigint IS NULL OR k.master_id <> $3::bigint)"
                  " ORDER BY k.user_id, k.key_version LIMIT $4::bigint",
                  4, p);
  if (rc == STORE_OK)
    rc = store_rows(c, res, sizeof(struct store_user_key), key_from_row,
                    (void **)out, n);
  PQclear(res);
  return rc;
}

int store_user_key_rewrap(struct store_conn *c, int64_t user_id,
                          uint32_t key_version, int64_t old_master,
                          int64_t new_master, const uint8_t *wrapped,
                          size_t len)
{
  PGresult *res = NULL;
  char ub[STORE_I64_BUF], vb[STORE_I64_BUF], ob[STORE_I64_BUF],
       nb[STORE_I64_BUF];
  const char *p[5] = {store_i64(ub, user_id), store_i64(vb, key_version),
                      store_i64(ob, old_master), store_i64(nb, new_master),
                      (const char *)wrapped};
  const int lens[5] = {0, 0, 0, 0, (int)len};
  const int fmts[5] = {0, 0, 0, 0, 1};
  int rc;

  store_clear(c);
  rc = check_blob(c, "a wrapped key", wrapped, len);
  if (rc == STORE_OK && new_master < 0)
    rc = store_fail(c, STORE_EINVAL, "invalid master key id %lld",
                    (long long)new_master);
  if (rc != STORE_OK)
    return rc;
  /* One statement: the swap, and if it did not happen, why (the row as it
   * is now). */
  rc = store_exec_bin(c, &res,
                      "WITH u AS (UPDATE user_keys SET wrapped = $5::bytea,"
                      "  master_id = $4::bigint"
                      "  WHERE user_id = $1::bigint"
                      "  AND key_version = $2::integer"
                      "  AND master_id = $3::bigint AND wrapped IS NOT NULL"
                      "  RETURNING 1)"
                      " SELECT (SELECT count(*) FROM u),"
                      " (SELECT wrapped IS NOT NULL FROM user_keys"
                      "  WHERE user_id = $1::bigint"
                      "  AND key_version = $2::integer)",
                      5, p, lens, fmts);
  if (rc != STORE_OK)
    goto out;
  if (store_field_i64(res, 0, 0) == 1)
    goto out;
  if (!store_field_bool(res, 0, 1))
    rc = store_fail(c, STORE_ENOTFOUND,
                    "user id %s has no live data key version %s", ub, vb);
  else
    rc = store_fail(c, STORE_EEXISTS,
                    "the data key of user id %s is no longer wrapped under "
                    "master key id %s", ub, ob);
out:
  PQclear(res);
  return rc;
}

int store_master_check_put(struct store_conn *c, int64_t master_id,
                           const uint8_t *value, size_t len)
{
  PGresult *res = NULL;
  char mb[STORE_I64_BUF];
  const char *p[2] = {store_i64(mb, master_id), (const char *)value};
  const int lens[2] = {0, (int)len};
  const int fmts[2] = {0, 1};
  int rc;

  store_clear(c);
  rc = check_blob(c, "a check value", value, len);
  if (rc == STORE_OK && master_id < 0)
    rc = store_fail(c, STORE_EINVAL, "invalid master key id %lld",
                    (long long)master_id);
  if (rc != STORE_OK)
    return rc;
  /* The no-op DO UPDATE makes RETURNING give the stored value either way
   * (and waits for a racing insert of the same id). */
  rc = store_exec_bin(c, &res,
                      "INSERT INTO master_key_checks (master_id, check_value)"
                      " VALUES ($1::bigint, $2::bytea)"
                      " ON CONFLICT (master_id) DO UPDATE"
                      " SET master_id = EXCLUDED.master_id"
                      " RETURNING check_value = $2::bytea",
                      2, p, lens, fmts);
  if (rc == STORE_OK && !store_field_bool(res, 0, 0))
    rc = store_fail(c, STORE_EEXISTS,
                    "master key id %s already has a different check value", mb);
  PQclear(res);
  return rc;
}

static void check_from_row(const PGresult *res, int r, void *elem)
{
  struct store_master_check *m = elem;

  memset(m, 0, sizeof *m);
  m->master_id = store_field_i64(res, r, 0);
  m->retired = store_field_bool(res, r, 1);
  m->created_at_ms = store_field_i64(res, r, 2);
  blob_field(res, r, 3, m->value, &m->len);
}

int store_master_checks(struct store_conn *c, struct store_master_check **out,
                        size_t *n)
{
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  rc = store_exec(c, &res,
                  "SELECT master_id, retired_at IS NOT NULL,"
                  " floor(extract(epoch FROM created_at) * 1000)::bigint,"
                  " check_value FROM master_key_checks"
                  " ORDER BY created_at DESC, master_id", 0, NULL);
  if (rc == STORE_OK)
    rc = store_rows(c, res, sizeof(struct store_master_check), check_from_row,
                    (void **)out, n);
  PQclear(res);
  return rc;
}

int store_master_check_retire(struct store_conn *c, int64_t master_id)
{
  PGresult *res = NULL;
  char mb[STORE_I64_BUF];
  const char *p[1] = {store_i64(mb, master_id)};
  long long live = 0;
  int rc;

  store_clear(c);
  rc = store_begin(c);
  /* Lock the check row first: key creators under this master hold it FOR
   * SHARE until they commit (master_usable), so once we have it, the count
   * below — a new statement, a new snapshot — sees every key they made,
   * and creators after us find the master retired. */
  if (rc == STORE_OK)
    rc = store_exec(c, &res,
                    "SELECT 1 FROM master_key_checks"
                    " WHERE master_id = $1::bigint FOR UPDATE", 1, p);
  if (rc == STORE_OK && PQntuples(res) == 0)
    rc = store_fail(c, STORE_ENOTFOUND, "unknown master key id %s", mb);
  PQclear(res);
  res = NULL;
  if (rc == STORE_OK)
    rc = store_exec(c, &res,
                    "SELECT count(*) FROM user_keys"
                    " WHERE master_id = $1::bigint AND wrapped IS NOT NULL",
                    1, p);
  if (rc == STORE_OK && (live = store_field_i64(res, 0, 0)) > 0)
    rc = store_fail(c, STORE_EEXISTS,
                    "master key id %s still wraps %lld data key%s", mb, live,
                    live == 1 ? "" : "s");
  if (rc == STORE_OK)
    rc = store_exec(c, NULL,
                    "UPDATE master_key_checks"
                    " SET retired_at = coalesce(retired_at, herald_now())"
                    " WHERE master_id = $1::bigint", 1, p);
  if (rc == STORE_OK)
    rc = store_audit(c, AUDIT_ACTOR, "keys.retire", "master_id", mb, NULL,
                     NULL);
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    store_rollback(c);
  PQclear(res);
  return rc;
}

/* Any fixed number: the key of the session-level advisory lock that keeps
 * two rotations apart. */
#define ROTATION_LOCK_KEY "7243016583104871"

int store_keys_rotation_lock(struct store_conn *c)
{
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  rc = store_exec(c, &res,
                  "SELECT pg_try_advisory_lock(" ROTATION_LOCK_KEY ")", 0,
                  NULL);
  if (rc == STORE_OK && !store_field_bool(res, 0, 0))
    rc = store_fail(c, STORE_EEXISTS, "another key rotation is running");
  PQclear(res);
  return rc;
}
