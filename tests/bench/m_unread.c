/*
 * m_unread.c — `herald-bench unread`: the issue-4 report benchmark.
 *
 * Seeds a database (unread_seed.c: by default 1,000 users in a four-level
 * org tree, 200 groups, 1,000,000 tracked messages over 30 days, and the
 * read state a month of realistic reading leaves), then times
 * store_report_unread — what heraldd runs for a report_unread frame, with
 * its defaults: older than 2 h, at most 1,000 rows, totals complete — for:
 *
 *   manager  several managers of ~50 (scope all: subtree + owned groups),
 *            round-robin, --runs runs in all
 *   vp       the vice-presidents (~250 each), --org-runs runs
 *   ceo      the CEO, manager of everyone (scope all), --org-runs runs
 *   org      the admin, whole organisation (scope org), --org-runs runs
 *
 * "Unread for" is business time (outside quiet hours), so the figures
 * depend on the instant: --at moves the measuring connection's database
 * clock (herald_now(), as heraldd's test clock does) to a given instant,
 * and --end pins the instant the seeded month ends, so that a weekend and
 * a working-hours instant are both measurable on any day.
 *
 * Each case gets a warm-up run per caller first (not counted, but its
 * slowest is printed: on a fresh database the first report over a
 * conversation also summarises its blocks, see storage/reports.c): the
 * figures are for a database in service, whose working set is in memory
 * and whose reports ran before. Besides
 * wall-clock p50/p99/max, each case reports the CPU time PostgreSQL spent
 * per report (its backend's /proc figures, when it runs on this machine):
 * on a shared machine that is the cost of the report itself. Prints
 * one RESULT line per case ("mode":"unread") and one for the size of the
 * read state ("mode":"unread_state"): members + read_ranges + feed +
 * feed_heads, per message and per message per member, against one row per
 * message per member; and the same without the receipt feed.
 */
#include "bench.h"
#include "store.h"
#include "unread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unread_case {
  const char *name, *label;
  enum store_report_scope scope;
  int64_t callers[16];
  int n_callers;
  uint64_t runs;
  double team;                 /* mean people under the callers (their
                                  whole subtree) */
};

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

/* Nearest-rank quantile of sorted values. */
static double quantile(const double *v, size_t n, double q)
{
  size_t k = (size_t)(q * (double)n + 0.999999);

  return v[k ? k - 1 : 0];
}

static int user_id(struct store_conn *c, const char *login, int64_t *id)
{
  struct store_user u;

  if (store_user_get(c, login, &u) != STORE_OK) {
    bench_log("user %s: %s (was the database seeded by this command?)",
              login, store_errmsg(c));
    return -1;
  }
  *id = u.id;
  return 0;
}

/* Times one case and emits its RESULT. 0 or -1. backend: the pid of the
 * PostgreSQL backend serving c (0 if unknown): its CPU time per report is
 * what the report costs whatever else runs on the machine (wall times on
 * a shared machine also hold the waits for a core). */
static int run_case(struct store_conn *c, const struct unread_case *k,
                    const struct unread_sizes *z, long backend,
                    const char *at)
{
  struct store_report_query q = {.older_than_s = 7200, .scope = k->scope,
                                 .limit = 1000};
  double *ms = calloc(k->runs ? k->runs : 1, sizeof *ms);
  double rows = 0, users = 0, srv0 = 0, self0 = 0, srv_ms = -1, self_ms;
  double first_ms = 0;
  json_t *r;

  if (!ms)
    return -1;
  for (uint64_t i = 0; i < k->runs + (uint64_t)k->n_callers; i++) {
    struct store_report rep;
    int64_t who = k->callers[i % (uint64_t)k->n_callers];
    uint64_t t0;

    if (i == (uint64_t)k->n_callers) {   /* warmed up: start counting */
      srv0 = backend ? bench_proc_cpu_s(backend) : -1;
      self0 = bench_cpu_s();
    }
    t0 = bench_mono_ns();
    if (store_report_unread(c, who, &q, &rep) != STORE_OK) {
      bench_log("report for user id %lld: %s", (long long)who,
                store_errmsg(c));
      free(ms);
      return -1;
    }
    if (i < (uint64_t)k->n_callers) {    /* the first round warms up */
      double t = (double)(bench_mono_ns() - t0) / 1e6;

      first_ms = t > first_ms ? t : first_ms;
    } else {
      ms[i - (uint64_t)k->n_callers] = (double)(bench_mono_ns() - t0) / 1e6;
      rows += (double)rep.total_rows;
      users += (double)rep.n_users;
    }
    store_report_cleanup(&rep);
  }
  if (srv0 >= 0 && bench_proc_cpu_s(backend) >= 0)
    srv_ms = (bench_proc_cpu_s(backend) - srv0) * 1e3 / (double)k->runs;
  self_ms = (bench_cpu_s() - self0) * 1e3 / (double)k->runs;
  qsort(ms, k->runs, sizeof *ms, cmp_double);
  rows /= (double)k->runs;
  users /= (double)k->runs;
  bench_log("report %-34s %9.0f unread rows, %5.0f users: p50 %7.1f ms, "
            "p99 %7.1f ms, max %7.1f ms (%llu runs); CPU per report: "
            "PostgreSQL %.1f ms, client %.1f ms; warm-up %.1f ms",
            k->label, rows, users, quantile(ms, k->runs, 0.5),
            quantile(ms, k->runs, 0.99), ms[k->runs - 1],
            (unsigned long long)k->runs, srv_ms, self_ms, first_ms);
  r = bench_result_new("unread");
  json_object_set_new(r, "impl", json_string("herald"));
  json_object_set_new(r, "case", json_string(k->name));
  json_object_set_new(r, "at", json_string(at ? at : "now"));
  json_object_set_new(r, "callers", json_integer(k->n_callers));
  bench_result_num(r, "team", k->team, 1);
  json_object_set_new(r, "runs", json_integer((json_int_t)k->runs));
  bench_result_num(r, "p50_ms", quantile(ms, k->runs, 0.5), 3);
  bench_result_num(r, "p99_ms", quantile(ms, k->runs, 0.99), 3);
  bench_result_num(r, "max_ms", ms[k->runs - 1], 3);
  if (srv_ms >= 0)
    bench_result_num(r, "server_cpu_ms", srv_ms, 2);
  bench_result_num(r, "client_cpu_ms", self_ms, 2);
  /* The slowest warm-up run: on a fresh database the first report of a
   * conversation also summarises its blocks (report_blocks). */
  bench_result_num(r, "warmup_ms", first_ms, 1);
  bench_result_num(r, "unread_rows", rows, 0);
  bench_result_num(r, "report_users", users, 0);
  json_object_set_new(r, "users", json_integer((json_int_t)z->users));
  json_object_set_new(r, "groups", json_integer((json_int_t)z->groups));
  json_object_set_new(r, "messages", json_integer((json_int_t)z->messages));
  bench_result_emit(r);
  free(ms);
  return 0;
}

/* The read state's size, per message and per message per member. */
static int state_result(const char *db, const struct unread_sizes *z,
                        double seed_s)
{
  static const char *const tables[] = {"members", "read_ranges", "feed",
                                       "feed_heads"};
  int64_t bytes[4], nrows[4], msgs, deliveries, total = 0, total_rows = 0;
  char sql[160];
  json_t *r;

  for (int i = 0; i < 4; i++) {
    snprintf(sql, sizeof sql, "SELECT pg_total_relation_size('%s')",
             tables[i]);
    bytes[i] = unread_query_i64(db, sql);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
    nrows[i] = unread_query_i64(db, sql);
    if (bytes[i] < 0 || nrows[i] < 0)
      return -1;
    total += bytes[i];
    total_rows += nrows[i];
  }
  msgs = unread_query_i64(db, "SELECT count(*) FROM messages WHERE tracked");
  /* One row per message per member would be one per (message, member
   * other than its sender). */
  deliveries = unread_query_i64(db,
                                "SELECT sum(c.last_seq * (m.n - 1))::bigint"
                                " FROM conversations c JOIN (SELECT"
                                " conversation_id, count(*) AS n FROM members"
                                " GROUP BY 1) m ON m.conversation_id = c.id");
  if (msgs <= 0 || deliveries <= 0)
    return -1;
  bench_log("read state: members %lld rows %.1f MB, read_ranges %lld rows "
            "%.1f MB, feed %lld rows %.1f MB, feed_heads %lld rows",
            (long long)nrows[0], (double)bytes[0] / 1048576.0,
            (long long)nrows[1], (double)bytes[1] / 1048576.0,
            (long long)nrows[2], (double)bytes[2] / 1048576.0,
            (long long)nrows[3]);
  bench_log("read state: %.1f bytes per message, %.3f bytes and %.4f rows "
            "per message per member (%lld messages, %lld message-member "
            "pairs); without the feed %.1f bytes per message, %.4f rows per "
            "message per member",
            (double)total / (double)msgs, (double)total / (double)deliveries,
            (double)total_rows / (double)deliveries, (long long)msgs,
            (long long)deliveries, (double)(bytes[0] + bytes[1]) / (double)msgs,
            (double)(nrows[0] + nrows[1]) / (double)deliveries);
  r = bench_result_new("unread_state");
  json_object_set_new(r, "messages", json_integer((json_int_t)msgs));
  json_object_set_new(r, "pairs", json_integer((json_int_t)deliveries));
  for (int i = 0; i < 4; i++) {
    snprintf(sql, sizeof sql, "%s_rows", tables[i]);
    json_object_set_new(r, sql, json_integer((json_int_t)nrows[i]));
    snprintf(sql, sizeof sql, "%s_bytes", tables[i]);
    json_object_set_new(r, sql, json_integer((json_int_t)bytes[i]));
  }
  bench_result_num(r, "bytes_per_msg", (double)total / (double)msgs, 1);
  bench_result_num(r, "bytes_per_msg_member",
                   (double)total / (double)deliveries, 3);
  bench_result_num(r, "rows_per_msg_member",
                   (double)total_rows / (double)deliveries, 4);
  /* Without the receipt feed: the markers and the read ranges, which is
   * what says who read what and when. */
  bench_result_num(r, "state_bytes_per_msg",
                   (double)(bytes[0] + bytes[1]) / (double)msgs, 1);
  bench_result_num(r, "state_rows_per_msg_member",
                   (double)(nrows[0] + nrows[1]) / (double)deliveries, 4);
  json_object_set_new(r, "users", json_integer((json_int_t)z->users));
  json_object_set_new(r, "groups", json_integer((json_int_t)z->groups));
  if (seed_s > 0)
    bench_result_num(r, "seed_s", seed_s, 1);
  bench_result_emit(r);
  return 0;
}

/* Fills the four cases' callers from the seeded logins. */
static int find_callers(struct store_conn *c, const char *db,
                        uint64_t n_mgr_callers, struct unread_case k[4])
{
  int64_t vps = unread_query_i64(db, "SELECT count(*) FROM users WHERE"
                                     " login ~ '^vp[0-9]+$'");
  int64_t mgrs = unread_query_i64(db, "SELECT count(*) FROM users WHERE"
                                      " login ~ '^mgr[0-9]+$'");
  char login[32], sql[256];

  if (vps < 1 || mgrs < 1) {
    bench_log("no vp1 or mgr001: was the database seeded by this command?");
    return -1;
  }
  if (n_mgr_callers > (uint64_t)mgrs)
    n_mgr_callers = (uint64_t)mgrs;
  if (n_mgr_callers > 16)
    n_mgr_callers = 16;
  /* Managers spread over the list and over the divisions (manager k is in
   * division (k - 1) % vps). */
  for (uint64_t i = 0; i < n_mgr_callers; i++) {
    snprintf(login, sizeof login, "mgr%03llu",
             (unsigned long long)(1 + (i * (uint64_t)mgrs / n_mgr_callers +
                                       i % (uint64_t)vps) % (uint64_t)mgrs));
    if (user_id(c, login, &k[0].callers[k[0].n_callers++]) != 0)
      return -1;
  }
  for (int64_t i = 1; i <= vps && i <= 16; i++) {
    snprintf(login, sizeof login, "vp%lld", (long long)i);
    if (user_id(c, login, &k[1].callers[k[1].n_callers++]) != 0)
      return -1;
  }
  if (user_id(c, "ceo", &k[2].callers[k[2].n_callers++]) != 0 ||
      user_id(c, "root", &k[3].callers[k[3].n_callers++]) != 0)
    return -1;
  for (int j = 0; j < 3; j++) {
    int64_t sum = 0;

    for (int i = 0; i < k[j].n_callers; i++) {
      snprintf(sql, sizeof sql,
               "WITH RECURSIVE t(id) AS (SELECT id FROM users WHERE"
               " manager_id = %lld UNION SELECT u.id FROM users u JOIN t"
               " ON u.manager_id = t.id) SELECT count(*) FROM t",
               (long long)k[j].callers[i]);
      sum += unread_query_i64(db, sql);
    }
    k[j].team = (double)sum / k[j].n_callers;
  }
  return 0;
}

int bench_cmd_unread(int argc, char **argv)
{
  const char *db_opt = NULL, *create = NULL, *at = NULL, *end = NULL;
  uint64_t users = 1000, groups = 200, messages = 1000000, days = 30;
  uint64_t runs = 200, org_runs = 20, n_mgr = 5, vps, mgrs;
  bool skip_seed = false;
  const struct bench_opt opts[] = {
    {"db", OPT_STR, &db_opt, "PostgreSQL conninfo (required): the database "
                             "to seed, or the admin one with --create"},
    {"create", OPT_STR, &create, "(re)create database NAME through --db and "
                                 "use it"},
    {"skip-seed", OPT_FLAG, &skip_seed, "measure the database as it is "
                                        "(seeded earlier by this command)"},
    {"users", OPT_U64, &users, "people in the org tree (1000)"},
    {"groups", OPT_U64, &groups, "groups (200)"},
    {"messages", OPT_U64, &messages, "tracked messages (1000000)"},
    {"days", OPT_U64, &days, "days the messages span (30)"},
    {"runs", OPT_U64, &runs, "manager reports timed, over all (200)"},
    {"org-runs", OPT_U64, &org_runs, "VP, CEO and admin reports timed, each "
                                     "(20)"},
    {"managers", OPT_U64, &n_mgr, "managers measured, round-robin (5)"},
    {"end", OPT_STR, &end, "seeding: the instant the month of messages ends"
                           " (a PostgreSQL timestamptz; now)"},
    {"at", OPT_STR, &at, "measure as if it were this instant (a PostgreSQL"
                         " timestamptz, e.g. \"2026-11-25 10:00 UTC\"; at"
                         " or after the data set's end): the database clock"
                         " herald_now() of the measuring connection is"
                         " moved there (now)"},
    {NULL, OPT_FLAG, NULL, NULL},
  };
  struct unread_sizes z;
  struct unread_case k[4] = {
    {.name = "manager", .scope = STORE_REPORT_ALL},
    {.name = "vp", .scope = STORE_REPORT_ALL},
    {.name = "ceo", .scope = STORE_REPORT_ALL},
    {.name = "org", .scope = STORE_REPORT_ORG},
  };
  char db[1024], labels[4][64];
  long backend;
  struct store_conn *c = NULL;
  double seed_s = 0;
  int rc = 1;

  if (bench_parse("unread", argc, argv, opts) != 0)
    return 2;
  unread_shape(users, &vps, &mgrs);
  if (!db_opt || users < 10 || users > 100000 || days < 1 || days > 365 ||
      runs < 1 || org_runs < 1 || n_mgr < 1 ||
      groups < 1 + vps + mgrs + 1 || groups > 100000 ||
      messages < groups || messages > 100000000) {
    bench_log("need --db; --users 10..100000, --groups from %llu (all hands,"
              " divisions, teams, leadership) to 100000, --messages at least"
              " --groups, --days 1..365, runs >= 1",
              (unsigned long long)(1 + vps + mgrs + 1));
    bench_usage_opts("unread", opts);
    return 2;
  }
  z = (struct unread_sizes){users, groups, messages, days, end};
  if (create) {
    if (skip_seed) {
      bench_log("--create and --skip-seed contradict each other");
      return 2;
    }
    if (unread_create_db(db_opt, create, db, sizeof db) != 0)
      return 1;
  } else {
    snprintf(db, sizeof db, "%s", db_opt);
  }
  if (!skip_seed) {
    bench_log("seeding %llu users, %llu groups, %llu messages over %llu days",
              (unsigned long long)users, (unsigned long long)groups,
              (unsigned long long)messages, (unsigned long long)days);
    if (unread_seed(db, &z, &seed_s) != 0)
      return 1;
    bench_log("seeded in %.1f s", seed_s);
  } else {
    /* Measure what is there: its sizes, not the options'. */
    z.users = (uint64_t)unread_query_i64(db, "SELECT count(*) FROM users"
                                             " WHERE login <> 'root'");
    z.groups = (uint64_t)unread_query_i64(db, "SELECT count(*) FROM"
                                              " conversations");
    z.messages = (uint64_t)unread_query_i64(db, "SELECT count(*) FROM"
                                                " messages");
  }
  if (store_connect(db, &c) != STORE_OK) {
    bench_log("connect: %s", store_errmsg(c));
    goto out;
  }
  /* A database seeded by an earlier build gets this build's schema (the
   * report's SQL functions live in migrations). */
  if (skip_seed && store_migrate(c, NULL) != STORE_OK) {
    bench_log("migrate: %s", store_errmsg(c));
    goto out;
  }
  if (at) {
    int64_t off;
    double after;

    if (unread_offset_ms(db, at, &off, &after) != 0)
      goto out;
    if (store_clock_set_offset(c, off) != STORE_OK) {
      bench_log("clock offset: %s", store_errmsg(c));
      goto out;
    }
    bench_log("measuring at %s: database clock offset %+.1f h, %.1f h after "
              "the newest message%s", at, (double)off / 3.6e6, after / 3600.0,
              after < 0 ? " (BEFORE it: the data set looks like the future)"
                        : "");
  }
  /* The measuring connection's backend: storage names its connections
   * "herald", and nothing else uses this database. */
  backend = (long)unread_query_i64(
      db, "SELECT CASE WHEN count(*) = 1 THEN min(pid) ELSE 0 END"
          " FROM pg_stat_activity WHERE datname = current_database()"
          " AND application_name = 'herald'");
  if (backend <= 0 || bench_proc_cpu_s(backend) < 0) {
    bench_log("no CPU figures: PostgreSQL's backend is not a process of "
              "this machine, or other clients use the database");
    backend = 0;
  }
  if (find_callers(c, db, n_mgr, k) != 0)
    goto out;
  k[0].runs = runs;
  k[1].runs = k[2].runs = k[3].runs = org_runs;
  snprintf(labels[0], sizeof labels[0], "manager of %.0f (%d managers)",
           k[0].team, k[0].n_callers);
  snprintf(labels[1], sizeof labels[1], "VP, manager of %.0f (%d VPs)",
           k[1].team, k[1].n_callers);
  snprintf(labels[2], sizeof labels[2], "CEO, manager of all %.0f",
           k[2].team);
  snprintf(labels[3], sizeof labels[3], "admin, whole org (scope org)");
  for (int i = 0; i < 4; i++) {
    k[i].label = labels[i];
    if (run_case(c, &k[i], &z, backend, at) != 0)
      goto out;
  }
  if (state_result(db, &z, seed_s) != 0)
    goto out;
  rc = 0;
out:
  store_close(c);
  return rc;
}
