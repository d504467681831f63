/*
 * pgtest.c — one fresh database per integration test on the throwaway
 * cluster named by HERALD_TEST_PG (see pgtest.h).
 */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pgtest.h"

#define MAX_DBS 16

static char created[MAX_DBS][64];
static int n_created;
static bool registered;

static bool in_ci(void)
{
  const char *ci = getenv("CI");

  return ci && strcmp(ci, "true") == 0;
}

static void unavailable(const char *why)
{
  if (in_ci())
    CHECK_FAIL("PostgreSQL for integration tests is unavailable under "
               "CI=true: %s (the test command must start it and set "
               "HERALD_TEST_PG)", why);
  CHECK_SKIP("PostgreSQL for integration tests is unavailable: %s "
             "(set HERALD_TEST_PG to an admin conninfo)", why);
}

/* Rebuilds conninfo `base` with dbname replaced; works for key=value
 * strings and URIs alike. */
static void with_dbname(const char *base, const char *db, char *out,
                        size_t len)
{
  PQconninfoOption *opts, *o;
  char *err = NULL;
  size_t n = 0;

  opts = PQconninfoParse(base, &err);
  if (!opts)
    CHECK_FAIL("HERALD_TEST_PG is not a valid conninfo: %s",
               err ? err : "?");
  out[0] = '\0';
  for (o = opts; o->keyword; o++) {
    const char *v = strcmp(o->keyword, "dbname") == 0 ? db : o->val;

    if (!v || (strcmp(o->keyword, "dbname") != 0 && !o->val))
      continue;
    n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s='", n ? " " : "",
                          o->keyword);
    for (const char *p = v; *p && n + 3 < len; p++) {
      if (*p == '\'' || *p == '\\')
        out[n++] = '\\';
      out[n++] = *p;
    }
    if (n + 2 <= len) {
      out[n++] = '\'';
      out[n] = '\0';
    }
  }
  if (n + 1 >= len)
    CHECK_FAIL("conninfo buffer too small");
  PQconninfoFree(opts);
}

static PGconn *admin_connect(void)
{
  const char *base = getenv("HERALD_TEST_PG");
  PGconn *c;

  if (!base || !*base)
    unavailable("HERALD_TEST_PG is not set");
  c = PQconnectdb(base);
  if (PQstatus(c) != CONNECTION_OK) {
    static char why[512];

    snprintf(why, sizeof why, "cannot connect with HERALD_TEST_PG: %s",
             PQerrorMessage(c));
    why[strcspn(why, "\n")] = '\0';
    PQfinish(c);
    unavailable(why);
  }
  return c;
}

static void drop_at_exit(void)
{
  pgtest_db_drop();
}

int pgtest_db_new(char *conninfo, size_t len)
{
  PGconn *c = admin_connect();
  PGresult *r;
  char name[64], sql[128];

  if (n_created == MAX_DBS)
    CHECK_FAIL("pgtest: more than %d databases in one test", MAX_DBS);
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  snprintf(name, sizeof name, "herald_test_%ld_%d_%d", (long)getpid(),
           n_created, rand() % 100000);
  /* Identifiers cannot be parameters; this one is generated above from
   * digits and letters only. */
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
  r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK)
    CHECK_FAIL("pgtest: %s failed: %s", sql, PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
  snprintf(created[n_created++], sizeof created[0], "%s", name);
  if (!registered) {
    atexit(drop_at_exit);
    registered = true;
  }
  with_dbname(getenv("HERALD_TEST_PG"), name, conninfo, len);
  return 0;
}

void pgtest_db_drop(void)
{
  PGconn *c;
  char sql[128];

  if (n_created == 0)
    return;
  c = PQconnectdb(getenv("HERALD_TEST_PG"));
  for (int i = 0; i < n_created && PQstatus(c) == CONNECTION_OK; i++) {
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
             created[i]);
    PQclear(PQexec(c, sql));
  }
  PQfinish(c);
  n_created = 0;
}

int pgtest_try(const char *conninfo, const char *sql, char state[6])
{
  PGconn *c = PQconnectdb(conninfo);
  PGresult *r;
  int rc = 0;

  if (PQstatus(c) != CONNECTION_OK)
    CHECK_FAIL("pgtest: cannot connect: %s", PQerrorMessage(c));
  r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK &&
      PQresultStatus(r) != PGRES_TUPLES_OK) {
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    if (state)
      snprintf(state, 6, "%.5s", s ? s : "");
    rc = -1;
  }
  PQclear(r);
  PQfinish(c);
  return rc;
}

void pgtest_exec(const char *conninfo, const char *sql)
{
  PGconn *c = PQconnectdb(conninfo);
  PGresult *r;

  if (PQstatus(c) != CONNECTION_OK)
    CHECK_FAIL("pgtest: cannot connect: %s", PQerrorMessage(c));
  r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK &&
      PQresultStatus(r) != PGRES_TUPLES_OK)
    CHECK_FAIL("pgtest: %s: %s", sql, PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
}

long long pgtest_query_int(const char *conninfo, const char *sql)
{
  PGconn *c = PQconnectdb(conninfo);
  PGresult *r;
  long long v;

  if (PQstatus(c) != CONNECTION_OK)
    CHECK_FAIL("pgtest: cannot connect: %s", PQerrorMessage(c));
  r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
    CHECK_FAIL("pgtest: %s: %s", sql, PQerrorMessage(c));
  v = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  PQfinish(c);
  return v;
}

void pgtest_query_text(const char *conninfo, const char *sql, char *out,
                       size_t len)
{
  PGconn *c = PQconnectdb(conninfo);
  PGresult *r;

  if (PQstatus(c) != CONNECTION_OK)
    CHECK_FAIL("pgtest: cannot connect: %s", PQerrorMessage(c));
  r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
    CHECK_FAIL("pgtest: %s: %s", sql, PQerrorMessage(c));
  if ((size_t)PQgetlength(r, 0, 0) >= len)
    CHECK_FAIL("pgtest: %s: the value does not fit %zu bytes", sql, len);
  snprintf(out, len, "%s", PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
}
