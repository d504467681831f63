/*
 * unread_seed.c — seeds the database of `herald-bench unread`: schema and
 * organisation through storage/, then the steps of unread_seed.sql (users,
 * groups, messages, reads, feed, DINGs) in one session, then VACUUM
 * ANALYZE, logging the time of each.
 */
#include "bench.h"
#include "store.h"
#include "unread.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct herald_embedded { const char *name; const char *text; };
extern const struct herald_embedded bench_unread_sql[];

/* A step starts at a line that begins with this. */
#define STEP_MARK "\n-- step: "

void unread_shape(uint64_t users, uint64_t *vps, uint64_t *mgrs)
{
  *vps = users / 250 ? users / 250 : 1;
  *mgrs = (uint64_t)llround((double)(users - 1 - *vps) / 51.0);
  if (*mgrs < 1)
    *mgrs = 1;
}

int unread_conninfo_set(const char *base, const char *key, const char *val,
                        char *out, size_t cap)
{
  PQconninfoOption *opts, *o;
  char *err = NULL;
  size_t n = 0;
  bool found = false;

  if (!(opts = PQconninfoParse(base, &err))) {
    bench_log("not a valid conninfo: %s", err ? err : "?");
    PQfreemem(err);
    return -1;
  }
  out[0] = '\0';
  for (o = opts; ; o++) {
    const char *k = o->keyword ? o->keyword : key;
    const char *v = o->keyword ? o->val : val;

    if (!o->keyword && found)
      break;
    if (o->keyword && strcmp(o->keyword, key) == 0) {
      v = val;
      found = true;
    }
    if (v) {
      n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s='",
                            n ? " " : "", k);
      for (const char *p = v; *p && n + 3 < cap; p++) {
        if (*p == '\'' || *p == '\\')
          out[n++] = '\\';
        out[n++] = *p;
      }
      if (n + 2 > cap)
        break;
      out[n++] = '\'';
      out[n] = '\0';
    }
    if (!o->keyword)
      break;
  }
  PQconninfoFree(opts);
  if (n + 2 > cap) {
    bench_log("conninfo too long");
    return -1;
  }
  return 0;
}

static PGconn *connect_db(const char *conninfo)
{
  PGconn *c = PQconnectdb(conninfo);

  if (PQstatus(c) != CONNECTION_OK) {
    bench_log("cannot connect: %s", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  return c;
}

static int exec(PGconn *c, const char *sql)
{
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);

  PQclear(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    bench_log("SQL failed: %s", PQerrorMessage(c));
    return -1;
  }
  return 0;
}

int unread_create_db(const char *admin_conninfo, const char *name, char *out,
                     size_t cap)
{
  PGconn *c;
  char sql[160];
  int rc = -1;

  if (!*name || strlen(name) > 63 ||
      strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name)) {
    bench_log("--create: \"%s\" is not a plain database name (a-z 0-9 _)",
              name);
    return -1;
  }
  if (!(c = connect_db(admin_conninfo)))
    return -1;
  /* The name was checked above: an identifier cannot be a parameter. */
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
  if (exec(c, sql) == 0) {
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (exec(c, sql) == 0)
      rc = unread_conninfo_set(admin_conninfo, "dbname", name, out, cap);
  }
  PQfinish(c);
  return rc;
}

int64_t unread_query_i64(const char *conninfo, const char *sql)
{
  PGconn *c = connect_db(conninfo);
  PGresult *r;
  int64_t v = -1;

  if (!c)
    return -1;
  r = PQexec(c, sql);
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
    v = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  else
    bench_log("query failed: %s", PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
  return v;
}

int unread_offset_ms(const char *conninfo, const char *at,
                     int64_t *offset_ms, double *after_s)
{
  PGconn *c = connect_db(conninfo);
  const char *p[1] = {at};
  PGresult *r;
  int rc = -1;

  if (!c)
    return -1;
  r = PQexecParams(c,
                   "SELECT round(extract(epoch FROM $1::timestamptz - now())"
                   " * 1000)::bigint, extract(epoch FROM $1::timestamptz -"
                   " (SELECT max(sent_at) FROM messages))::float8",
                   1, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
    *offset_ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    *after_s = PQgetisnull(r, 0, 1) ? 0 : strtod(PQgetvalue(r, 0, 1), NULL);
    rc = 0;
  } else {
    bench_log("--at \"%s\": %s", at, PQerrorMessage(c));
  }
  PQclear(r);
  PQfinish(c);
  return rc;
}

/* The organisation and its admin, through storage (migrations included). */
static int org_init(const char *conninfo)
{
  struct store_user_new admin = {.login = "root",
                                 .display_name = "Administrator"};
  struct store_conn *sc = NULL;
  int rc;

  rc = store_connect(conninfo, &sc);
  if (rc == STORE_OK)
    rc = store_migrate(sc, NULL);
  if (rc == STORE_OK)
    rc = store_org_init(sc, "Report Bench Co", &admin, NULL);
  if (rc != STORE_OK)
    bench_log("schema/organisation: %s", store_errmsg(sc));
  store_close(sc);
  return rc == STORE_OK ? 0 : -1;
}

/* Runs the steps of unread_seed.sql in order, timing each. */
static int run_steps(PGconn *c)
{
  const char *sql = bench_unread_sql[0].text;
  const char *p = strstr(sql, STEP_MARK);

  while (p) {
    const char *name = p + strlen(STEP_MARK);
    const char *next = strstr(name, STEP_MARK);
    size_t len = next ? (size_t)(next - p) : strlen(p);
    char *step = malloc(len + 1);
    uint64_t t0 = bench_mono_ns();
    int rc;

    if (!step)
      return -1;
    memcpy(step, p, len);
    step[len] = '\0';
    rc = exec(c, step);
    bench_log("seed: %-9.*s %6.1f s", (int)strcspn(name, "\n"), name,
              (double)(bench_mono_ns() - t0) / 1e9);
    free(step);
    if (rc != 0)
      return -1;
    p = next;
  }
  return 0;
}

int unread_seed(const char *conninfo, const struct unread_sizes *z,
                double *seed_s)
{
  uint64_t t0 = bench_mono_ns(), vps, mgrs;
  char u[24], g[24], m[24], d[24], v[24], k[24];
  const char *p[7] = {u, g, m, d, v, k, z->end};
  PGconn *c = NULL;
  PGresult *r;
  int rc = -1;

  if (unread_query_i64(conninfo, "SELECT count(*) FROM pg_tables WHERE "
                                 "schemaname = 'public'") != 0) {
    bench_log("the database is not empty: seed a new one (--create NAME), "
              "or measure it as it is (--skip-seed)");
    return -1;
  }
  if (org_init(conninfo) != 0 || !(c = connect_db(conninfo)))
    goto out;
  unread_shape(z->users, &vps, &mgrs);
  snprintf(u, sizeof u, "%llu", (unsigned long long)z->users);
  snprintf(g, sizeof g, "%llu", (unsigned long long)z->groups);
  snprintf(m, sizeof m, "%llu", (unsigned long long)z->messages);
  snprintf(d, sizeof d, "%llu", (unsigned long long)z->days);
  snprintf(v, sizeof v, "%llu", (unsigned long long)vps);
  snprintf(k, sizeof k, "%llu", (unsigned long long)mgrs);
  /* Triggers off for this session when allowed (superuser): see the top
   * of unread_seed.sql. Without it seeding is slower, not different. */
  r = PQexec(c, "SET session_replication_role = replica");
  if (PQresultStatus(r) != PGRES_COMMAND_OK)
    bench_log("seed: triggers stay on (not a superuser): slower");
  PQclear(r);
  if (exec(c, "SET work_mem = '256MB'") != 0 ||
      exec(c, "SET maintenance_work_mem = '512MB'") != 0 ||
      exec(c, "SELECT setseed(0.4242)") != 0)
    goto out;
  r = PQexecParams(c,
                   "CREATE TEMP TABLE seed_cfg AS SELECT $1::int AS users,"
                   " $2::int AS groups, $3::bigint AS msgs, $4::int AS days,"
                   " coalesce($7::timestamptz, now()) AS t_end,"
                   " $5::int AS vps, $6::int AS mgrs",
                   7, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    bench_log("seed_cfg: %s", PQerrorMessage(c));
    PQclear(r);
    goto out;
  }
  PQclear(r);
  if (run_steps(c) != 0 || exec(c, "RESET session_replication_role") != 0)
    goto out;
  {
    uint64_t t1 = bench_mono_ns();

    if (exec(c, "VACUUM ANALYZE") != 0)
      goto out;
    bench_log("seed: %-9s %6.1f s", "vacuum",
              (double)(bench_mono_ns() - t1) / 1e9);
  }
  rc = 0;
out:
  PQfinish(c);
  *seed_s = (double)(bench_mono_ns() - t0) / 1e9;
  return rc;
}
