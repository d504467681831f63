/*
 * migrate.c — applies the SQL migrations compiled into the binary.
 *
 * storage/sql/NNNN_name.sql are embedded at build time (cmake
 * herald_embed_files) as a table sorted by file name. Each migration runs in
 * its own transaction holding a transaction-scoped advisory lock, so two
 * processes starting at once serialise and the second finds the work done.
 * schema_migrations records version, name and the SHA-256 of the file's
 * text (computed by PostgreSQL, so storage needs no hash code of its own);
 * a released migration must never change, and a database that has
 * migrations this binary does not know is refused rather than guessed at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* The generated table (cmake/embed_run.cmake), ended by {NULL, NULL}. */
struct herald_embedded { const char *name; const char *text; };
extern const struct herald_embedded store_migrations[];

/* pg_advisory_xact_lock key: "herald" + "mig" in ASCII, any constant that
 * other applications on a shared server are unlikely to pick. */
#define MIGRATE_LOCK_KEY "7522537451345275239"

#define CHECKSUM_LEN 64

static int version_of(const char *name)
{
  return atoi(name);
}

int store_schema_version(void)
{
  int v = 0;

  for (const struct herald_embedded *m = store_migrations; m->name; m++)
    if (version_of(m->name) > v)
      v = version_of(m->name);
  return v;
}

static size_t migration_count(void)
{
  size_t n = 0;

  while (store_migrations[n].name)
    n++;
  return n;
}

/* SHA-256 of a migration's text, as lower-case hex, by PostgreSQL. */
static int checksum(struct store_conn *c, const char *text,
                    char out[CHECKSUM_LEN + 1])
{
  PGresult *res = NULL;
  const char *p[1] = {text};
  int len[1] = {(int)strlen(text)};
  int fmt[1] = {1};
  int rc;

  rc = store_exec_bin(c, &res, "SELECT encode(sha256($1::bytea), 'hex')", 1,
                      p, len, fmt);
  if (rc != STORE_OK)
    goto out;
  store_field(res, 0, 0, out, CHECKSUM_LEN + 1);
out:
  PQclear(res);
  return rc;
}

/* Compares schema_migrations with the embedded list. Sets done[i] for each
 * embedded migration already applied. Refuses a changed checksum or an
 * unknown (newer) version. With table_missing non-NULL, a missing table is
 * reported there instead of as an error. */
static int verify(struct store_conn *c, bool *done, bool *table_missing)
{
  PGresult *res = NULL;
  size_t n = migration_count();
  char sum[CHECKSUM_LEN + 1], have[CHECKSUM_LEN + 1];
  int rc, rows;

  memset(done, 0, n * sizeof *done);
  if (table_missing) {
    rc = store_exec(c, &res, "SELECT to_regclass('schema_migrations') IS NULL",
                    0, NULL);
    if (rc != STORE_OK)
      goto out;
    *table_missing = store_field_bool(res, 0, 0);
    PQclear(res);
    res = NULL;
    if (*table_missing)
      goto out;
  }
  rc = store_exec(c, &res,
                  "SELECT version, name, checksum FROM schema_migrations "
                  "ORDER BY version", 0, NULL);
  if (rc != STORE_OK)
    goto out;
  rows = PQntuples(res);
  for (int r = 0; r < rows; r++) {
    int v = (int)store_field_i64(res, r, 0);
    size_t i;

    for (i = 0; i < n; i++)
      if (version_of(store_migrations[i].name) == v)
        break;
    if (i == n) {
      char name[128];

      store_field(res, r, 1, name, sizeof name);
      rc = store_fail(c, STORE_EINVAL,
                      "the database schema is newer than this program: "
                      "migration %04d (%s) is applied but unknown here "
                      "(this program knows up to %04d); upgrade Herald",
                      v, name, store_schema_version());
      goto out;
    }
    rc = checksum(c, store_migrations[i].text, sum);
    if (rc != STORE_OK)
      goto out;
    store_field(res, r, 2, have, sizeof have);
    if (strcmp(sum, have) != 0) {
      rc = store_fail(c, STORE_EINVAL,
                      "migration %s was changed after it was applied "
                      "(checksum %.12s... in the database, %.12s... here); "
                      "released migrations must not be edited",
                      store_migrations[i].name, have, sum);
      goto out;
    }
    done[i] = true;
  }
  rc = STORE_OK;
out:
  PQclear(res);
  return rc;
}

/* Starts a migration transaction: BEGIN, the lock, the bookkeeping table. */
static int begin_locked(struct store_conn *c)
{
  const char *key[1] = {MIGRATE_LOCK_KEY};
  int rc;

  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = store_exec(c, NULL, "SELECT pg_advisory_xact_lock($1::bigint)", 1, key);
  if (rc == STORE_OK)
    rc = store_exec(c, NULL,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY,"
                    " name text NOT NULL,"
                    " checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())",
                    0, NULL);
  return rc;
}

/* Runs one migration's SQL. The text holds several statements, which only
 * the simple query protocol accepts: it is our own compiled-in SQL and
 * carries no values, so no parameters are needed. */
static int run_sql(struct store_conn *c, const struct herald_embedded *m)
{
  PGresult *res;
  int rc = STORE_OK;

  res = PQexec(c->pg, m->text);
  if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
    rc = store_translate(c, res);
    if (rc != STORE_EUNAVAIL) {
      char msg[sizeof c->errmsg];

      snprintf(msg, sizeof msg, "%s", c->errmsg);
      rc = store_fail(c, STORE_EINTERNAL, "migration %s failed: %s", m->name,
                      msg);
    }
  }
  PQclear(res);
  return rc;
}

int store_migrate(struct store_conn *c, int *applied)
{
  size_t n = migration_count();
  bool *done = NULL;
  int count = 0, rc;

  store_clear(c);
  done = calloc(n ? n : 1, sizeof *done);
  if (!done)
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const struct herald_embedded *m = &store_migrations[i];
    char v[STORE_I64_BUF];

    /* Verify inside every transaction: another process may have applied
     * migrations since the last one. */
    rc = begin_locked(c);
    if (rc == STORE_OK)
      rc = verify(c, done, NULL);
    if (rc != STORE_OK)
      goto out;
    if (done[i]) {
      rc = store_commit(c);
      if (rc != STORE_OK)
        goto out;
      continue;
    }
    rc = run_sql(c, m);
    if (rc == STORE_OK) {
      const char *p[3] = {store_i64(v, version_of(m->name)), m->name, m->text};
      int len[3] = {0, 0, (int)strlen(m->text)};
      int fmt[3] = {0, 0, 1};

      rc = store_exec_bin(c, NULL,
                          "INSERT INTO schema_migrations (version, name, checksum)"
                          " VALUES ($1::integer, $2, encode(sha256($3::bytea), 'hex'))",
                          3, p, len, fmt);
    }
    if (rc == STORE_OK)
      rc = store_commit(c);
    if (rc != STORE_OK)
      goto out;
    count++;
  }
  if (n == 0) {
    /* Nothing embedded: still refuse a database that has migrations. */
    rc = begin_locked(c);
    if (rc == STORE_OK)
      rc = verify(c, done, NULL);
    if (rc == STORE_OK)
      rc = store_commit(c);
    if (rc != STORE_OK)
      goto out;
  }
  if (applied)
    *applied = count;
  rc = STORE_OK;
out:
  if (rc != STORE_OK)
    store_rollback(c);
  free(done);
  return rc;
}

int store_schema_current(struct store_conn *c)
{
  size_t n = migration_count(), pending = 0;
  bool *done = NULL, missing = false;
  int rc;

  store_clear(c);
  done = calloc(n ? n : 1, sizeof *done);
  if (!done)
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  rc = verify(c, done, &missing);
  if (rc != STORE_OK)
    goto out;
  for (size_t i = 0; i < n; i++)
    pending += !done[i] || missing;
  if (pending)
    rc = store_fail(c, STORE_ENOTFOUND,
                    "%zu of %zu schema migrations are not applied yet",
                    pending, n);
out:
  free(done);
  return rc;
}
