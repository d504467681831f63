/*
 * conn.c — connections and the query helpers every storage file uses.
 *
 * All SQL goes through store_exec*, which uses PQexecParams: values are
 * always parameters, never formatted into SQL text. Failures of libpq are
 * translated here, once, into STORE_E* codes, and libpq's message is kept on
 * the connection for store_errmsg().
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

const char *store_strerror(int code)
{
  switch (code) {
#define STORE_MSG_(name, num, msg) case num: return msg;
    STORE_ERRNO_MAP(STORE_MSG_)
#undef STORE_MSG_
  }
  return "unknown storage error";
}

const char *store_errname(int code)
{
  switch (code) {
#define STORE_NAME_(name, num, msg) case num: return #name;
    STORE_ERRNO_MAP(STORE_NAME_)
#undef STORE_NAME_
  }
  return "EUNKNOWN";
}

int store_fail(struct store_conn *c, int code, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
  va_end(ap);
  return code;
}

void store_clear(struct store_conn *c)
{
  c->errmsg[0] = '\0';
}

const char *store_errmsg(const struct store_conn *c)
{
  return c ? c->errmsg : "out of memory";
}

/* libpq messages end with a newline and may span lines; keep the first
 * line, which is the primary message. */
static void copy_pq_message(struct store_conn *c, const char *msg)
{
  size_t n;

  snprintf(c->errmsg, sizeof c->errmsg, "%s", msg && *msg ? msg : "unknown error");
  n = strcspn(c->errmsg, "\n");
  c->errmsg[n] = '\0';
}

const char *store_sqlstate(const PGresult *res)
{
  const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

  return s ? s : "";
}

int store_translate(struct store_conn *c, const PGresult *res)
{
  const char *state = store_sqlstate(res);
  const char *prim = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

  copy_pq_message(c, prim ? prim : PQerrorMessage(c->pg));
  if (PQstatus(c->pg) == CONNECTION_BAD)
    return STORE_EUNAVAIL;
  if (state[0] == '\0')
    return STORE_EINTERNAL;
  if (strncmp(state, "08", 2) == 0 ||  /* connection exception */
      strncmp(state, "57P", 3) == 0 || /* shutdown, cannot connect now */
      strcmp(state, "40001") == 0 ||   /* serialization failure */
      strcmp(state, "40P01") == 0 ||   /* deadlock detected */
      strcmp(state, "53300") == 0)     /* too many connections */
    return STORE_EUNAVAIL;
  if (strcmp(state, "23505") == 0)
    return STORE_EEXISTS;
  if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)
    return STORE_EINVAL;
  return STORE_EINTERNAL;
}

/* Server NOTICEs (e.g. "relation already exists, skipping") are not
 * errors and must not reach the caller's stderr. */
static void ignore_notice(void *arg, const char *message)
{
  (void)arg;
  (void)message;
}

int store_connect(const char *conninfo, struct store_conn **out)
{
  /* Fixed keywords first, then the caller's conninfo through expand_dbname;
   * later keywords win, so the caller's string may be a URI and cannot
   * change these two. */
  const char *keys[] = {"dbname", "application_name", "client_encoding", NULL};
  const char *vals[] = {conninfo, "herald", "UTF8", NULL};
  struct store_conn *c;

  *out = c = calloc(1, sizeof *c);
  if (!c)
    return STORE_EINTERNAL;
  c->pg = PQconnectdbParams(keys, vals, 1);
  if (!c->pg)
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  if (PQstatus(c->pg) != CONNECTION_OK) {
    store_fail(c, STORE_EUNAVAIL, "cannot connect to PostgreSQL: %s",
               PQerrorMessage(c->pg));
    c->errmsg[strcspn(c->errmsg, "\n")] = '\0';
    return STORE_EUNAVAIL;
  }
  PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
  return STORE_OK;
}

void store_close(struct store_conn *c)
{
  if (!c)
    return;
  if (c->pg)
    PQfinish(c->pg);
  free(c);
}

/* Sets herald.clock_offset_ms on the session (a reset session has none).
 * A plain PQexec: store_exec would recurse into store_ensure. */
static int apply_clock(struct store_conn *c)
{
  char sql[96];
  PGresult *r;
  int rc = STORE_OK;

  if (c->clock_offset_ms == 0) {
    r = PQexec(c->pg, "RESET herald.clock_offset_ms");
  } else {
    snprintf(sql, sizeof sql, "SET herald.clock_offset_ms = '%" PRId64 "'",
             c->clock_offset_ms);
    r = PQexec(c->pg, sql);
  }
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
    rc = store_translate(c, r);
  PQclear(r);
  return rc;
}

int store_ensure(struct store_conn *c)
{
  if (!c->pg)
    return store_fail(c, STORE_EUNAVAIL, "not connected");
  if (PQstatus(c->pg) == CONNECTION_OK)
    return STORE_OK;
  if (c->in_tx)
    return store_fail(c, STORE_EUNAVAIL,
                      "the connection to PostgreSQL was lost in a transaction");
  PQreset(c->pg);
  if (PQstatus(c->pg) == CONNECTION_OK)
    return c->clock_offset_ms ? apply_clock(c) : STORE_OK;
  copy_pq_message(c, PQerrorMessage(c->pg));
  return STORE_EUNAVAIL;
}

int store_clock_set_offset(struct store_conn *c, int64_t offset_ms)
{
  int64_t was = c->clock_offset_ms;
  int rc;

  store_clear(c);
  if (offset_ms == was)
    return STORE_OK;
  c->clock_offset_ms = offset_ms;
  if ((rc = store_ensure(c)) == STORE_OK)
    rc = apply_clock(c);
  if (rc != STORE_OK)
    c->clock_offset_ms = was;
  return rc;
}

int store_exec_bin(struct store_conn *c, PGresult **res, const char *sql,
                   int n, const char *const *params, const int *lengths,
                   const int *formats)
{
  PGresult *r;
  ExecStatusType st;
  int rc;

  if (res)
    *res = NULL;
  rc = store_ensure(c);
  if (rc != STORE_OK)
    return rc;
  r = PQexecParams(c->pg, sql, n, NULL, params, lengths, formats, 0);
  st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    rc = store_translate(c, r);
    PQclear(r);
    return rc;
  }
  if (res)
    *res = r;
  else
    PQclear(r);
  return STORE_OK;
}

int store_exec(struct store_conn *c, PGresult **res, const char *sql, int n,
               const char *const *params)
{
  return store_exec_bin(c, res, sql, n, params, NULL, NULL);
}

int store_begin(struct store_conn *c)
{
  int rc = store_exec(c, NULL, "BEGIN", 0, NULL);

  c->in_tx = rc == STORE_OK;
  return rc;
}

int store_commit(struct store_conn *c)
{
  PGresult *res = NULL;
  int rc;

  /* COMMIT of a failed transaction "succeeds" as a ROLLBACK; the command
   * tag tells which. */
  rc = store_exec(c, &res, "COMMIT", 0, NULL);
  if (rc == STORE_OK && strcmp(PQcmdStatus(res), "COMMIT") != 0)
    rc = store_fail(c, STORE_EINTERNAL, "the transaction was rolled back");
  PQclear(res);
  c->in_tx = false;
  return rc;
}

void store_rollback(struct store_conn *c)
{
  PGresult *r;

  c->in_tx = false;
  if (!c->pg || PQstatus(c->pg) != CONNECTION_OK ||
      PQtransactionStatus(c->pg) == PQTRANS_IDLE)
    return;
  r = PQexec(c->pg, "ROLLBACK");
  PQclear(r);
}

int store_ping(struct store_conn *c)
{
  int rc;

  store_clear(c);
  rc = store_exec(c, NULL, "SELECT 1", 0, NULL);
  return rc == STORE_OK ? STORE_OK : STORE_EUNAVAIL;
}

void store_field(const PGresult *res, int row, int col, char *buf, size_t len)
{
  const char *v = PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col);

  snprintf(buf, len, "%s", v);
}

int64_t store_field_i64(const PGresult *res, int row, int col)
{
  if (PQgetisnull(res, row, col))
    return 0;
  return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

bool store_field_bool(const PGresult *res, int row, int col)
{
  return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

const char *store_i64(char buf[STORE_I64_BUF], int64_t v)
{
  snprintf(buf, STORE_I64_BUF, "%" PRId64, v);
  return buf;
}

int store_audit(struct store_conn *c, const char *actor, const char *action,
                const char *k1, const char *v1, const char *k2,
                const char *v2)
{
  const char *p[6] = {actor, action, k1 ? k1 : "", v1, k2 ? k2 : "", v2};

  /* Empty keys are dropped (jsonb_strip_nulls cannot drop keys, so build
   * the object and remove the "" key). */
  return store_exec(c, NULL,
                    "INSERT INTO audit_log (actor, action, detail) VALUES "
                    "($1, $2, jsonb_build_object($3::text, $4::text, "
                    "$5::text, $6::text) - '')",
                    6, p);
}

int store_rows(struct store_conn *c, const PGresult *res, size_t size,
               store_row_fn from_row, void **out, size_t *n)
{
  int rows = PQntuples(res);
  char *list = NULL;

  if (rows > 0 && !(list = calloc((size_t)rows, size)))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  for (int r = 0; r < rows; r++)
    from_row(res, r, list + (size_t)r * size);
  *out = list;
  *n = (size_t)rows;
  return STORE_OK;
}
