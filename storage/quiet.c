/*
 * quiet.c — quiet hours (SPEC §7): reading and replacing the org's and a
 * user's weekly windows, and the quiet state and business time the SQL
 * engine computes (sql/0007_quiet_hours.sql).
 *
 * The one place where the wire's days (1..7, Monday first) become the
 * schema's (extract(dow): 0 = Sunday), and where a window that crosses
 * midnight becomes the two rows quiet_windows keeps (each row lies within
 * one day). Reading merges such pairs back into one window. The engine's
 * profiles follow every change through triggers, so nothing here computes
 * quiet time itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static int cmp_window(const void *a, const void *b);

/* One stored row: Monday-first day 1..7, minutes within that day. */
struct qrow {
  int day, start, end;
  bool org, used;
};

static int dow_of(int day)
{
  return day % 7;              /* 7 (Sunday) -> 0 */
}

static int day_of(int dow)
{
  return dow == 0 ? 7 : dow;
}

/* The wire's window w as rows; returns how many (1 or 2). */
static int split(const struct store_quiet_window *w, struct qrow r[2])
{
  if (w->end > w->start) {
    r[0] = (struct qrow){.day = w->day, .start = w->start, .end = w->end};
    return 1;
  }
  r[0] = (struct qrow){.day = w->day, .start = w->start, .end = 1440};
  if (w->end == 0)
    return 1;
  r[1] = (struct qrow){.day = w->day % 7 + 1, .start = 0, .end = w->end};
  return 2;
}

int store_quiet_windows_check(struct store_conn *c,
                              const struct store_quiet_window *w, size_t n)
{
  char msg[160] = "";
  int rc = STORE_OK;

  if (c)
    store_clear(c);
  if (n > STORE_QUIET_WINDOWS_MAX) {
    snprintf(msg, sizeof msg, "at most %d quiet windows, got %zu",
             STORE_QUIET_WINDOWS_MAX, n);
    rc = STORE_EINVAL;
  }
  for (size_t i = 0; rc == STORE_OK && i < n; i++) {
    if (w[i].day < 1 || w[i].day > 7)
      snprintf(msg, sizeof msg,
               "window %zu: day must be 1 (Monday) to 7 (Sunday), got %d",
               i + 1, w[i].day);
    else if (w[i].start < 0 || w[i].start > 1439)
      snprintf(msg, sizeof msg,
               "window %zu: start must be 0 to 1439 minutes, got %d", i + 1,
               w[i].start);
    else if (w[i].end < 0 || w[i].end > 1440)
      snprintf(msg, sizeof msg,
               "window %zu: end must be 0 to 1440 minutes, got %d", i + 1,
               w[i].end);
    else if (w[i].start == w[i].end)
      snprintf(msg, sizeof msg,
               "window %zu: start and end are the same minute (%d)", i + 1,
               w[i].start);
    else
      continue;
    rc = STORE_EINVAL;
  }
  if (rc != STORE_OK && c)
    store_fail(c, rc, "%s", msg);
  return rc;
}

/* Rows (ordered by day, start) back into windows: first, a row ending at
 * 24:00 and an unused one starting at 00:00 the next day that ends before
 * the first starts become one window crossing midnight; then the rest
 * stay as they are. Out in (day, start) order. */
static size_t merge(struct qrow *r, size_t n, bool org,
                    struct store_quiet_window *out)
{
  size_t k = 0;

  for (size_t i = 0; i < n && k < STORE_QUIET_WINDOWS_MAX; i++) {
    if (r[i].org != org || r[i].used || r[i].end != 1440 || r[i].start == 0)
      continue;
    for (size_t j = 0; j < n; j++) {
      if (r[j].org == org && !r[j].used && j != i &&
          r[j].day == r[i].day % 7 + 1 && r[j].start == 0 &&
          r[j].end < r[i].start) {
        r[i].used = r[j].used = true;
        out[k++] = (struct store_quiet_window){r[i].day, r[i].start,
                                               r[j].end};
        break;
      }
    }
  }
  for (size_t i = 0; i < n && k < STORE_QUIET_WINDOWS_MAX; i++) {
    if (r[i].org != org || r[i].used)
      continue;
    r[i].used = true;
    out[k++] = (struct store_quiet_window){r[i].day, r[i].start, r[i].end};
  }
  qsort(out, k, sizeof *out, cmp_window);
  return k;
}

static int cmp_window(const void *a, const void *b)
{
  const struct store_quiet_window *x = a, *y = b;

  if (x->day != y->day)
    return x->day - y->day;
  if (x->start != y->start)
    return x->start - y->start;
  return x->end - y->end;
}

static int cmp_row(const void *a, const void *b)
{
  const struct qrow *x = a, *y = b;

  if (x->day != y->day)
    return x->day - y->day;
  if (x->start != y->start)
    return x->start - y->start;
  return x->end - y->end;
}

/* Reads the org's windows and, when user_id > 0, the user's. */
static int read_windows(struct store_conn *c, int64_t user_id,
                        struct store_quiet_window *org, size_t *n_org,
                        struct store_quiet_window *own, size_t *n_own)
{
  PGresult *res = NULL;
  char ub[STORE_I64_BUF];
  const char *p[1] = {store_i64(ub, user_id)};
  struct qrow *rows = NULL;
  int n, rc;

  rc = store_exec(c, &res,
                  "SELECT user_id IS NULL, day_of_week, start_minute,"
                  " end_minute FROM quiet_windows"
                  " WHERE user_id IS NULL OR user_id = $1::bigint", 1, p);
  if (rc != STORE_OK)
    return rc;
  n = PQntuples(res);
  if (n > 0 && !(rows = calloc((size_t)n, sizeof *rows))) {
    PQclear(res);
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  }
  for (int i = 0; i < n; i++) {
    rows[i].org = store_field_bool(res, i, 0);
    rows[i].day = day_of((int)store_field_i64(res, i, 1));
    rows[i].start = (int)store_field_i64(res, i, 2);
    rows[i].end = (int)store_field_i64(res, i, 3);
  }
  PQclear(res);
  if (n > 0)
    qsort(rows, (size_t)n, sizeof *rows, cmp_row);
  *n_org = merge(rows, (size_t)n, true, org);
  if (own)
    *n_own = merge(rows, (size_t)n, false, own);
  free(rows);
  return STORE_OK;
}

/* Replaces the windows of user_id (0: the org's) inside the caller's
 * transaction. */
static int write_windows(struct store_conn *c, int64_t user_id,
                         const struct store_quiet_window *w, size_t n)
{
  char ub[STORE_I64_BUF];
  char days[3 * 2 * STORE_QUIET_WINDOWS_MAX + 3],
       starts[5 * 2 * STORE_QUIET_WINDOWS_MAX + 3],
       ends[5 * 2 * STORE_QUIET_WINDOWS_MAX + 3];
  size_t nd = 0, ns = 0, ne = 0;
  const char *p[4] = {user_id ? store_i64(ub, user_id) : NULL, days, starts,
                      ends};
  int rc;

  rc = store_exec(c, NULL,
                  user_id
                    ? "DELETE FROM quiet_windows WHERE user_id = $1::bigint"
                    : "DELETE FROM quiet_windows WHERE user_id IS NULL",
                  user_id ? 1 : 0, p);
  if (rc != STORE_OK || n == 0)
    return rc;
  /* Three parallel int arrays as text, e.g. {1,2}: at most 128 rows of a
   * few digits each, so the buffers above cannot overflow. */
  days[nd++] = starts[ns++] = ends[ne++] = '{';
  for (size_t i = 0; i < n; i++) {
    struct qrow r[2];
    int k = split(&w[i], r);

    for (int j = 0; j < k; j++) {
      const char *sep = nd > 1 ? "," : "";

      nd += (size_t)snprintf(days + nd, sizeof days - nd, "%s%d", sep,
                             dow_of(r[j].day));
      ns += (size_t)snprintf(starts + ns, sizeof starts - ns, "%s%d", sep,
                             r[j].start);
      ne += (size_t)snprintf(ends + ne, sizeof ends - ne, "%s%d", sep,
                             r[j].end);
    }
  }
  snprintf(days + nd, sizeof days - nd, "}");
  snprintf(starts + ns, sizeof starts - ns, "}");
  snprintf(ends + ne, sizeof ends - ne, "}");
  return store_exec(c, NULL,
                    "INSERT INTO quiet_windows (user_id, day_of_week,"
                    " start_minute, end_minute)"
                    " SELECT $1::bigint, d, s, e FROM unnest($2::smallint[],"
                    " $3::smallint[], $4::smallint[]) AS u(d, s, e)", 4, p);
}

/* $1 user, $2 instant in ms or NULL for herald_now(). */
static const char STATE_SQL[] =
  "SELECT u.time_zone, coalesce(s.r_in_quiet, false),"
  " floor(extract(epoch FROM s.r_until) * 1000)::bigint,"
  " floor(extract(epoch FROM s.r_next) * 1000)::bigint,"
  " floor(extract(epoch FROM a.t) * 1000)::bigint"
  " FROM users u"
  " CROSS JOIN (SELECT coalesce(to_timestamp($2::bigint / 1000.0),"
  "  herald_now()) AS t) a"
  " LEFT JOIN LATERAL herald_quiet_state(u.id, a.t) s ON true"
  " WHERE u.id = $1::bigint";

int store_quiet_get(struct store_conn *c, int64_t user_id, int64_t at_ms,
                    struct store_quiet_state *out)
{
  PGresult *res = NULL;
  char ub[STORE_I64_BUF], ab[STORE_I64_BUF];
  const char *p[2] = {store_i64(ub, user_id),
                      at_ms ? store_i64(ab, at_ms) : NULL};
  struct store_quiet_state *st;
  int rc;

  store_clear(c);
  if (!(st = calloc(1, sizeof *st)))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  rc = store_exec(c, &res, STATE_SQL, 2, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown user id %s", ub);
    goto out;
  }
  store_field(res, 0, 0, st->time_zone, sizeof st->time_zone);
  st->in_quiet = store_field_bool(res, 0, 1);
  st->until_ms = store_field_i64(res, 0, 2);
  st->next_ms = store_field_i64(res, 0, 3);
  st->at_ms = store_field_i64(res, 0, 4);
  rc = read_windows(c, user_id, st->org, &st->n_org, st->own, &st->n_own);
  if (rc == STORE_OK)
    *out = *st;
out:
  PQclear(res);
  free(st);
  return rc;
}

int store_quiet_states(struct store_conn *c, const int64_t *user_ids,
                       size_t n, int64_t at_ms,
                       struct store_quiet_brief *out)
{
  PGresult *res = NULL;
  char ab[STORE_I64_BUF], *ids = NULL;
  const char *p[2];
  size_t len = 0, cap = 3 + n * (STORE_I64_BUF + 1);
  int rc;

  store_clear(c);
  if (n == 0)
    return STORE_OK;
  if (!(ids = malloc(cap)))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  ids[len++] = '{';
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(ids + len, cap - len, "%s%lld", i ? "," : "",
                            (long long)user_ids[i]);
  snprintf(ids + len, cap - len, "}");
  p[0] = ids;
  p[1] = at_ms ? store_i64(ab, at_ms) : NULL;
  rc = store_exec(c, &res,
                  "SELECT u.id IS NOT NULL, u.time_zone,"
                  " coalesce(s.r_in_quiet, false),"
                  " floor(extract(epoch FROM s.r_until) * 1000)::bigint,"
                  " floor(extract(epoch FROM s.r_next) * 1000)::bigint,"
                  " floor(extract(epoch FROM a.t) * 1000)::bigint"
                  " FROM unnest($1::bigint[]) WITH ORDINALITY AS x(id, i)"
                  " CROSS JOIN (SELECT coalesce(to_timestamp($2::bigint"
                  "  / 1000.0), herald_now()) AS t) a"
                  " LEFT JOIN users u ON u.id = x.id"
                  " LEFT JOIN LATERAL herald_quiet_state(u.id, a.t) s ON true"
                  " ORDER BY x.i", 2, p);
  if (rc == STORE_OK && (size_t)PQntuples(res) != n)
    rc = store_fail(c, STORE_EINTERNAL, "quiet states: %d rows for %zu users",
                    PQntuples(res), n);
  for (size_t i = 0; rc == STORE_OK && i < n; i++) {
    struct store_quiet_brief *b = &out[i];

    memset(b, 0, sizeof *b);
    b->user_id = user_ids[i];
    b->known = store_field_bool(res, (int)i, 0);
    store_field(res, (int)i, 1, b->time_zone, sizeof b->time_zone);
    b->in_quiet = store_field_bool(res, (int)i, 2);
    b->until_ms = store_field_i64(res, (int)i, 3);
    b->next_ms = store_field_i64(res, (int)i, 4);
    b->at_ms = store_field_i64(res, (int)i, 5);
  }
  PQclear(res);
  free(ids);
  return rc;
}

int store_quiet_set(struct store_conn *c, int64_t user_id,
                    const struct store_quiet_window *w, size_t n,
                    const char *time_zone)
{
  PGresult *res = NULL;
  char ub[STORE_I64_BUF], nb[STORE_I64_BUF], login[STORE_LOGIN_MAX + 1];
  const char *p[2] = {store_i64(ub, user_id), time_zone};
  int rc;

  if ((rc = store_quiet_windows_check(c, w, n)) != STORE_OK)
    return rc;
  if ((rc = store_begin(c)) != STORE_OK)
    return rc;
  /* Locks the user row: concurrent replacements of one user's windows
   * queue here instead of interleaving their DELETE and INSERT. */
  rc = store_exec(c, &res, "SELECT login FROM users WHERE id = $1::bigint"
                           " FOR NO KEY UPDATE", 1, p);
  if (rc == STORE_OK && PQntuples(res) == 0)
    rc = store_fail(c, STORE_ENOTFOUND, "unknown user id %s", ub);
  if (rc == STORE_OK)
    store_field(res, 0, 0, login, sizeof login);
  if (rc == STORE_OK && time_zone) {
    rc = store_time_zone_check(c, time_zone);
    if (rc == STORE_OK)
      rc = store_exec(c, NULL, "UPDATE users SET time_zone = $2"
                               " WHERE id = $1::bigint", 2, p);
  }
  if (rc == STORE_OK)
    rc = write_windows(c, user_id, w, n);
  if (rc == STORE_OK)
    rc = store_audit(c, login, "quiet.set", "windows",
                     store_i64(nb, (int64_t)n), time_zone ? "tz" : NULL,
                     time_zone);
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    store_rollback(c);
  PQclear(res);
  return rc;
}

int store_quiet_org_get(struct store_conn *c, struct store_quiet_window *out,
                        size_t *n)
{
  struct store_quiet_window *w = calloc(STORE_QUIET_WINDOWS_MAX, sizeof *w);
  size_t k = 0;
  int rc;

  store_clear(c);
  if (!w)
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  rc = read_windows(c, 0, w, &k, NULL, NULL);
  if (rc == STORE_OK) {
    memcpy(out, w, k * sizeof *w);
    *n = k;
  }
  free(w);
  return rc;
}

int store_quiet_org_set(struct store_conn *c,
                        const struct store_quiet_window *w, size_t n)
{
  char nb[STORE_I64_BUF];
  int rc;

  if ((rc = store_quiet_windows_check(c, w, n)) != STORE_OK)
    return rc;
  if ((rc = store_begin(c)) != STORE_OK)
    return rc;
  /* Serialises org changes (the org row exists once initialised; before
   * that the lock takes nothing, and windows may still be set). */
  rc = store_exec(c, NULL, "SELECT 1 FROM org FOR UPDATE", 0, NULL);
  if (rc == STORE_OK)
    rc = write_windows(c, 0, w, n);
  if (rc == STORE_OK)
    rc = store_audit(c, "heraldctl", "quiet.org_set", "windows",
                     store_i64(nb, (int64_t)n), NULL, NULL);
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    store_rollback(c);
  return rc;
}

int store_quiet_until(struct store_conn *c, int64_t user_id, int64_t at_ms,
                      bool *in_quiet, int64_t *until_ms)
{
  PGresult *res = NULL;
  char ub[STORE_I64_BUF], ab[STORE_I64_BUF];
  const char *p[2] = {store_i64(ub, user_id),
                      at_ms ? store_i64(ab, at_ms) : NULL};
  int rc;

  store_clear(c);
  rc = store_exec(c, &res,
                  "SELECT q.u > a.t, CASE WHEN q.u = 'infinity' THEN NULL"
                  "  ELSE floor(extract(epoch FROM q.u) * 1000)::bigint END"
                  " FROM users x"
                  " CROSS JOIN (SELECT coalesce(to_timestamp($2::bigint"
                  "  / 1000.0), herald_now()) AS t) a"
                  " CROSS JOIN LATERAL (SELECT coalesce("
                  "  herald_quiet_until(x.id, a.t), a.t) AS u) q"
                  " WHERE x.id = $1::bigint", 2, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown user id %s", ub);
    goto out;
  }
  if (in_quiet)
    *in_quiet = store_field_bool(res, 0, 0);
  if (until_ms)
    *until_ms = PQgetisnull(res, 0, 1) ? INT64_MAX
                                       : store_field_i64(res, 0, 1);
out:
  PQclear(res);
  return rc;
}

int store_quiet_business_seconds(struct store_conn *c, int64_t user_id,
                                 int64_t from_ms, int64_t to_ms,
                                 int64_t *seconds)
{
  PGresult *res = NULL;
  char ub[STORE_I64_BUF], fb[STORE_I64_BUF], tb[STORE_I64_BUF];
  const char *p[3] = {store_i64(ub, user_id), store_i64(fb, from_ms),
                      store_i64(tb, to_ms)};
  int rc;

  store_clear(c);
  rc = store_exec(c, &res,
                  "SELECT herald_business_seconds(id,"
                  " to_timestamp($2::bigint / 1000.0),"
                  " to_timestamp($3::bigint / 1000.0))"
                  " FROM users WHERE id = $1::bigint", 3, p);
  if (rc == STORE_OK && PQntuples(res) == 0)
    rc = store_fail(c, STORE_ENOTFOUND, "unknown user id %s", ub);
  if (rc == STORE_OK)
    *seconds = store_field_i64(res, 0, 0);
  PQclear(res);
  return rc;
}

int store_quiet_zones_refresh(struct store_conn *c, int *zones)
{
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  rc = store_exec(c, &res, "SELECT herald_quiet_zones_refresh()", 0, NULL);
  if (rc == STORE_OK && zones)
    *zones = (int)store_field_i64(res, 0, 0);
  PQclear(res);
  return rc;
}
