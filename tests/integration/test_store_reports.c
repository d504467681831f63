/*
 * test_store_reports.c — "unread over N" against a real PostgreSQL: scope
 * (admin, manager's subtree, owned conversations, staff refused), the org
 * tree changing, thresholds, totals per recipient and department, DINGs,
 * the audit row of every run, and a timing printout over 200,000 messages.
 *
 * The cast (role, manager, department):
 *   root  admin
 *   boss  manager, -,    -
 *   m1    manager, boss, Eng
 *   a, b  staff,   m1,   Eng
 *   x     staff,   boss, Ops
 *   o     manager, -,    Sales — owns group "Owned" with x
 * Group "Team" (owned by a): a, b, x, m1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "pgtest.h"
#include "store.h"

static char conninfo[1024];

struct cast {
  struct store_conn *c;
  int64_t root, boss, m1, a, b, x, o;
  int64_t team, owned;
};

static int64_t user(struct store_conn *c, const char *login,
                    enum store_role role, const char *manager,
                    const char *dept)
{
  struct store_user_new u = {.login = login, .display_name = login,
                             .role = role, .manager_login = manager,
                             .department = dept};
  int64_t id = 0;

  CHECK_INT(store_user_add(c, &u, &id), ==, STORE_OK);
  return id;
}

static int64_t say(struct store_conn *c, int64_t sender, int64_t conv,
                   enum store_msg_kind kind)
{
  static int counter;
  char cmid[32];
  struct store_send m = {.sender_kind = STORE_PRINCIPAL_USER,
                         .sender_id = sender, .cmid = cmid,
                         .conversation_id = conv, .kind = kind,
                         .body = "hi", .body_len = 2};
  struct store_send_result r;

  snprintf(cmid, sizeof cmid, "r%d", ++counter);
  CHECK_INT(store_send_batch(c, &m, 1, &r), ==, STORE_OK);
  CHECK_INT(r.rc, ==, STORE_OK);
  return r.seq;
}

static struct cast setup(void)
{
  struct store_user_new admin = {.login = "root", .display_name = "Root"};
  struct cast k;
  int64_t mem[3];

  memset(&k, 0, sizeof k);
  pgtest_db_new(conninfo, sizeof conninfo);
  if (store_connect(conninfo, &k.c) != STORE_OK)
    CHECK_FAIL("store_connect: %s", store_errmsg(k.c));
  CHECK_INT(store_migrate(k.c, NULL), ==, STORE_OK);
  CHECK_INT(store_org_init(k.c, "Acme", &admin, &k.root), ==, STORE_OK);
  k.boss = user(k.c, "boss", STORE_ROLE_MANAGER, NULL, NULL);
  k.m1 = user(k.c, "m1", STORE_ROLE_MANAGER, "boss", "Eng");
  k.a = user(k.c, "a", STORE_ROLE_STAFF, "m1", "Eng");
  k.b = user(k.c, "b", STORE_ROLE_STAFF, "m1", "Eng");
  k.x = user(k.c, "x", STORE_ROLE_STAFF, "boss", "Ops");
  k.o = user(k.c, "o", STORE_ROLE_MANAGER, NULL, "Sales");
  mem[0] = k.b;
  mem[1] = k.x;
  mem[2] = k.m1;
  CHECK_INT(store_group_create(k.c, "Team", k.a, STORE_TRACK_ALL, mem, 3,
                               &k.team), ==, STORE_OK);
  mem[0] = k.x;
  CHECK_INT(store_group_create(k.c, "Owned", k.o, STORE_TRACK_ALL, mem, 1,
                               &k.owned), ==, STORE_OK);
  say(k.c, k.a, k.team, STORE_MSG_TEXT); /* 1 */
  say(k.c, k.a, k.team, STORE_MSG_TEXT); /* 2 */
  say(k.c, k.b, k.team, STORE_MSG_TEXT); /* 3 */
  say(k.c, k.o, k.owned, STORE_MSG_TEXT); /* Owned 1 */
  pgtest_exec(conninfo, "UPDATE messages SET sent_at = now()"
                        " - interval '3 hours'");
  /* These tests are about scope and totals: without quiet hours "unread
   * for" is elapsed time whatever the hour they run at (business time is
   * tested in test_store_quiet.c). */
  pgtest_exec(conninfo, "DELETE FROM quiet_windows");
  return k;
}

static struct store_report run(struct cast *k, int64_t caller,
                               enum store_report_scope scope, int64_t older,
                               int want_rc)
{
  struct store_report_query q = {.older_than_s = older, .scope = scope};
  struct store_report r;

  memset(&r, 0, sizeof r);
  CHECK_INT(store_report_unread(k->c, caller, &q, &r), ==, want_rc);
  return r;
}

/* Rows of recipient uid in r. */
static int rows_of(const struct store_report *r, int64_t uid)
{
  int n = 0;

  for (size_t i = 0; i < r->n_rows; i++)
    n += r->rows[i].user_id == uid;
  return n;
}

TEST(report_scopes)
{
  struct cast k = setup();
  struct store_report r;

  /* Admin: everyone. a:3 / b:1,2 / x:1,2,3 + Owned 1 / m1:1,2,3. */
  r = run(&k, k.root, STORE_REPORT_ALL, 7200, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 10);
  CHECK_INT(r.total_rows, ==, 10);
  CHECK(!r.truncated);
  CHECK_INT(rows_of(&r, k.a), ==, 1);
  CHECK_INT(rows_of(&r, k.b), ==, 2);
  CHECK_INT(rows_of(&r, k.x), ==, 4);
  CHECK_INT(rows_of(&r, k.m1), ==, 3);
  CHECK_INT(rows_of(&r, k.o), ==, 0);
  CHECK_INT(r.rows[0].unread_s, >=, 3 * 3600 - 5);
  CHECK_INT(r.rows[0].sender_kind, ==, STORE_PRINCIPAL_USER);
  CHECK_INT(r.now_ms, >, r.rows[0].sent_at_ms);
  /* Sorted by recipient, then oldest first. */
  for (size_t i = 1; i < r.n_rows; i++)
    CHECK(r.rows[i - 1].user_id < r.rows[i].user_id ||
          (r.rows[i - 1].user_id == r.rows[i].user_id &&
           r.rows[i - 1].sent_at_ms <= r.rows[i].sent_at_ms));
  /* Totals per recipient and department. */
  CHECK_UINT(r.n_users, ==, 4);
  for (size_t i = 0; i < r.n_users; i++) {
    CHECK_INT(r.users[i].unread, ==, rows_of(&r, r.users[i].user_id));
    if (r.users[i].user_id == k.x) {
      CHECK_STR(r.users[i].department, "Ops");
      CHECK_STR(r.users[i].display_name, "x");
    }
  }
  CHECK_UINT(r.n_depts, ==, 2);
  CHECK_STR(r.depts[0].department, "Eng");
  CHECK_INT(r.depts[0].unread, ==, 6);
  CHECK_STR(r.depts[1].department, "Ops");
  CHECK_INT(r.depts[1].unread, ==, 4);
  store_report_cleanup(&r);

  /* m1: the subtree a, b (not m1 themselves); owns nothing. */
  r = run(&k, k.m1, STORE_REPORT_ALL, 7200, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 3);
  CHECK_INT(rows_of(&r, k.a), ==, 1);
  CHECK_INT(rows_of(&r, k.b), ==, 2);
  store_report_cleanup(&r);

  /* boss: the whole subtree m1, a, b, x — x's rows in Owned too. */
  r = run(&k, k.boss, STORE_REPORT_ALL, 7200, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 10);
  store_report_cleanup(&r);

  /* o: no team, owns "Owned": x's one row there. */
  r = run(&k, k.o, STORE_REPORT_ALL, 7200, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 1);
  CHECK_INT(r.rows[0].user_id, ==, k.x);
  CHECK_INT(r.rows[0].conversation_id, ==, k.owned);
  CHECK_INT(r.rows[0].sender_id, ==, k.o);
  store_report_cleanup(&r);
  r = run(&k, k.o, STORE_REPORT_TEAM, 7200, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 0);
  store_report_cleanup(&r);

  /* Refused: staff (even owning a group), a manager asking for the org. */
  r = run(&k, k.a, STORE_REPORT_ALL, 7200, STORE_EFORBIDDEN);
  CHECK_STR(store_errmsg(k.c), "user \"a\" may not run reports");
  r = run(&k, k.m1, STORE_REPORT_ORG, 7200, STORE_EFORBIDDEN);
  r = run(&k, 424242, STORE_REPORT_ALL, 7200, STORE_ENOTFOUND);

  /* Threshold respected: nothing is 4 hours old. */
  r = run(&k, k.root, STORE_REPORT_ORG, 4 * 3600, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 0);
  CHECK_UINT(r.n_users, ==, 0);
  CHECK_INT(r.total_rows, ==, 0);
  store_report_cleanup(&r);

  /* Every run audited, the refused ones too (not the unknown caller). */
  CHECK_INT(pgtest_query_int(conninfo, "SELECT count(*) FROM audit_log"
                             " WHERE action = 'report.unread'"), ==, 8);
  CHECK_INT(pgtest_query_int(conninfo, "SELECT count(*) FROM audit_log"
                             " WHERE action = 'report.unread'"
                             " AND detail->>'outcome' = 'refused'"), ==, 2);
  CHECK_INT(pgtest_query_int(conninfo, "SELECT (detail->>'rows')::int"
                             " FROM audit_log WHERE action = 'report.unread'"
                             " ORDER BY id LIMIT 1"), ==, 10);
  store_close(k.c);
}

TEST(report_filters_and_limit)
{
  struct cast k = setup();
  struct store_report_query q = {.older_than_s = 7200};
  struct store_report r;

  q.limit = 3;
  CHECK_INT(store_report_unread(k.c, k.root, &q, &r), ==, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 3);
  CHECK_INT(r.total_rows, ==, 10);
  CHECK(r.truncated);
  CHECK_UINT(r.n_users, ==, 4); /* totals stay complete */
  store_report_cleanup(&r);
  q.limit = 0;
  q.department = "ops";
  CHECK_INT(store_report_unread(k.c, k.root, &q, &r), ==, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 4);
  store_report_cleanup(&r);
  q.department = NULL;
  q.conversation_id = k.owned;
  CHECK_INT(store_report_unread(k.c, k.root, &q, &r), ==, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 1);
  store_report_cleanup(&r);
  q.conversation_id = 99999;
  CHECK_INT(store_report_unread(k.c, k.root, &q, &r), ==, STORE_ENOTFOUND);
  q.conversation_id = 0;
  q.department = "Nowhere";
  CHECK_INT(store_report_unread(k.c, k.root, &q, &r), ==, STORE_ENOTFOUND);
  q.department = NULL;
  q.older_than_s = -1;
  CHECK_INT(store_report_unread(k.c, k.root, &q, &r), ==, STORE_EINVAL);
  store_close(k.c);
}

TEST(report_follows_reads_and_the_tree)
{
  struct cast k = setup();
  struct store_read_result rr;
  struct store_report r;

  /* x reads Team: boss loses x's three Team rows. */
  CHECK_INT(store_read_record(k.c, k.x, k.team, 0, 3, 0, NULL, 0, &rr), ==,
            STORE_OK);
  free(rr.feed);
  r = run(&k, k.boss, STORE_REPORT_ALL, 7200, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 7);
  store_report_cleanup(&r);

  /* x moves under m1: m1 sees x (Owned row) from now on. */
  r = run(&k, k.m1, STORE_REPORT_ALL, 7200, STORE_OK);
  CHECK_INT(rows_of(&r, k.x), ==, 0);
  store_report_cleanup(&r);
  CHECK_INT(store_user_set_manager(k.c, "x", "m1"), ==, STORE_OK);
  r = run(&k, k.m1, STORE_REPORT_ALL, 7200, STORE_OK);
  CHECK_INT(rows_of(&r, k.x), ==, 1);
  store_report_cleanup(&r);
  /* ... and b moves to o: m1 loses b, o gains b. */
  CHECK_INT(store_user_set_manager(k.c, "b", "o"), ==, STORE_OK);
  r = run(&k, k.m1, STORE_REPORT_ALL, 7200, STORE_OK);
  CHECK_INT(rows_of(&r, k.b), ==, 0);
  store_report_cleanup(&r);
  r = run(&k, k.o, STORE_REPORT_ALL, 7200, STORE_OK);
  CHECK_INT(rows_of(&r, k.b), ==, 2);
  store_report_cleanup(&r);
  store_close(k.c);
}

/* A manager's filters must stay in their scope; bots are refused; refused
 * runs and runs naming unknown filters are audited with their outcome. */
TEST(report_reach_and_bots)
{
  struct cast k = setup();
  struct store_report_query q = {.older_than_s = 7200};
  struct store_report r;
  uint8_t hash[STORE_TOKEN_HASH_LEN] = {1};
  int64_t bot = 0;

  /* m1's team is a and b (Eng), in Team; x (Ops, boss's) is not. */
  q.conversation_id = k.owned;
  CHECK_INT(store_report_unread(k.c, k.m1, &q, &r), ==, STORE_EFORBIDDEN);
  CHECK_CONTAINS(store_errmsg(k.c), "outside your reports' scope");
  q.conversation_id = k.team;
  CHECK_INT(store_report_unread(k.c, k.m1, &q, &r), ==, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 3);
  store_report_cleanup(&r);
  q.conversation_id = 0;
  q.department = "Ops";
  CHECK_INT(store_report_unread(k.c, k.m1, &q, &r), ==, STORE_EFORBIDDEN);
  CHECK_STR(store_errmsg(k.c),
            "department \"Ops\" is outside your reports' scope");
  q.department = "eng";
  CHECK_INT(store_report_unread(k.c, k.m1, &q, &r), ==, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 3);
  store_report_cleanup(&r);
  /* o reaches Owned through ownership, not through a team. */
  q.department = NULL;
  q.conversation_id = k.owned;
  CHECK_INT(store_report_unread(k.c, k.o, &q, &r), ==, STORE_OK);
  CHECK_UINT(r.n_rows, ==, 1);
  store_report_cleanup(&r);
  q.scope = STORE_REPORT_TEAM;
  CHECK_INT(store_report_unread(k.c, k.o, &q, &r), ==, STORE_EFORBIDDEN);
  /* The admin reaches everything. */
  q.scope = STORE_REPORT_ALL;
  q.department = "Ops";
  CHECK_INT(store_report_unread(k.c, k.root, &q, &r), ==, STORE_OK);
  store_report_cleanup(&r);
  /* Unknown filters. */
  q.department = "Nowhere";
  q.conversation_id = 0;
  CHECK_INT(store_report_unread(k.c, k.m1, &q, &r), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(k.c), "unknown department \"Nowhere\"");
  /* A bot. */
  q.department = NULL;
  CHECK_INT(store_bot_create(k.c, "relay", k.root, hash, &k.team, 1, &bot),
            ==, STORE_OK);
  CHECK_INT(store_report_unread_bot(k.c, bot, &q), ==, STORE_EFORBIDDEN);
  CHECK_STR(store_errmsg(k.c), "bot \"relay\" may not run reports");
  CHECK_INT(store_report_unread_bot(k.c, 424242, &q), ==, STORE_ENOTFOUND);

  /* Nine runs (not the unknown bot's): four ok, four refused, one naming
   * an unknown filter. */

  CHECK_INT(pgtest_query_int(conninfo, "SELECT count(*) FROM audit_log"
                             " WHERE action = 'report.unread'"), ==, 9);
  CHECK_INT(pgtest_query_int(conninfo, "SELECT count(*) FROM audit_log"
                             " WHERE action = 'report.unread'"
                             " AND detail->>'outcome' = 'refused'"), ==, 4);
  CHECK_INT(pgtest_query_int(conninfo, "SELECT count(*) FROM audit_log"
                             " WHERE action = 'report.unread'"
                             " AND detail->>'outcome' = 'not_found'"), ==, 1);
  CHECK_INT(pgtest_query_int(conninfo, "SELECT count(*) FROM audit_log"
                             " WHERE action = 'report.unread' AND actor ="
                             " 'bot:relay' AND actor_user_id IS NULL"), ==, 1);
  store_close(k.c);
}

TEST(report_dings)
{
  struct cast k = setup();
  int64_t to[2];
  struct store_ding d = {.urgency = STORE_URG_URGENT, .to = to, .n_to = 2};
  struct store_send m = {.sender_kind = STORE_PRINCIPAL_USER,
                         .sender_id = 0, .cmid = "ding-1",
                         .conversation_id = 0, .kind = STORE_MSG_DING,
                         .body = "hi", .body_len = 2, .ding = &d};
  struct store_send_result sr;
  struct store_ding_note *notes = NULL;
  struct store_read_result rr;
  struct store_report r;
  size_t nn = 0;
  bool changed = false;
  int64_t seq;

  /* a DINGs b and x in Team (m1, also a member, is not a recipient); x
   * acknowledges. */
  to[0] = k.b;
  to[1] = k.x;
  m.sender_id = k.a;
  m.conversation_id = k.team;
  CHECK_INT(store_send_batch(k.c, &m, 1, &sr), ==, STORE_OK);
  CHECK_INT(sr.rc, ==, STORE_OK);
  seq = sr.seq;
  store_send_results_cleanup(&sr, 1);
  CHECK_INT(store_ding_ack(k.c, k.x, k.team, seq, 0, &changed, NULL, &notes,
                           &nn), ==, STORE_OK);
  free(notes);
  pgtest_exec(conninfo, "UPDATE messages SET sent_at = now()"
                        " - interval '3 hours' WHERE kind = 'ding'");
  /* b reads everything: still listed, for the unacknowledged DING. */
  CHECK_INT(store_read_record(k.c, k.b, k.team, 0, seq, 0, NULL, 0, &rr), ==,
            STORE_OK);
  free(rr.feed);
  r = run(&k, k.m1, STORE_REPORT_TEAM, 7200, STORE_OK);
  CHECK_INT(rows_of(&r, k.b), ==, 1);
  for (size_t i = 0; i < r.n_rows; i++)
    if (r.rows[i].user_id == k.b) {
      CHECK(r.rows[i].ding);
      CHECK(!r.rows[i].acked);
      CHECK_INT(r.rows[i].seq, ==, seq);
    }
  for (size_t i = 0; i < r.n_users; i++)
    if (r.users[i].user_id == k.b)
      CHECK_INT(r.users[i].dings, ==, 1);
  store_report_cleanup(&r);
  /* x has not read it but acknowledged it: a row, acked. m1 has not read
   * it either, but it was not addressed to them: an ordinary unread row,
   * not an unacknowledged DING. */
  r = run(&k, k.boss, STORE_REPORT_TEAM, 7200, STORE_OK);
  for (size_t i = 0; i < r.n_rows; i++) {
    if (r.rows[i].user_id == k.x && r.rows[i].seq == seq)
      CHECK(r.rows[i].ding && r.rows[i].acked);
    if (r.rows[i].user_id == k.m1 && r.rows[i].seq == seq)
      CHECK(!r.rows[i].ding && !r.rows[i].acked);
  }
  for (size_t i = 0; i < r.n_users; i++)
    if (r.users[i].user_id == k.m1 || r.users[i].user_id == k.x)
      CHECK_INT(r.users[i].dings, ==, 0);
  CHECK_INT(rows_of(&r, k.x), ==, 5);
  CHECK_INT(rows_of(&r, k.m1), ==, 4);
  store_report_cleanup(&r);
  store_close(k.c);
}

static double ms_since(const struct timespec *t0)
{
  struct timespec t1;

  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

/* Median and max of `n` runs of one report. */
static void time_report(struct store_conn *c, const char *label,
                        int64_t caller, enum store_report_scope scope)
{
  struct store_report_query q = {.older_than_s = 7200, .scope = scope,
                                 .limit = 100000};
  double t[7];
  int64_t rows = 0;

  for (int i = 0; i < 7; i++) {
    struct store_report r;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(store_report_unread(c, caller, &q, &r), ==, STORE_OK);
    t[i] = ms_since(&t0);
    rows = r.total_rows;
    store_report_cleanup(&r);
  }
  qsort(t, 7, sizeof t[0], cmp_double);
  printf("report %-28s %7lld rows: median %7.2f ms, max %7.2f ms\n", label,
         (long long)rows, t[3], t[6]);
}

/* 200 users (1 admin, a 3-level tree: boss, 9 managers of ~21 staff), 40
 * groups of 25, 200,000 tracked messages over 30 days; most members read
 * almost everything, some lag by days. */
TEST(report_timing_printout)
{
  struct store_user_new admin = {.login = "root", .display_name = "Root"};
  struct store_conn *c = NULL;
  int64_t root = 0, boss, mgr[9], conv;
  char login[32], dept[32];
  struct timespec t0;

  pgtest_db_new(conninfo, sizeof conninfo);
  CHECK_INT(store_connect(conninfo, &c), ==, STORE_OK);
  CHECK_INT(store_migrate(c, NULL), ==, STORE_OK);
  CHECK_INT(store_org_init(c, "Acme", &admin, &root), ==, STORE_OK);
  boss = user(c, "boss", STORE_ROLE_MANAGER, NULL, NULL);
  for (int i = 0; i < 9; i++) {
    snprintf(login, sizeof login, "mgr%d", i);
    snprintf(dept, sizeof dept, "Dept%d", i);
    mgr[i] = user(c, login, STORE_ROLE_MANAGER, "boss", dept);
  }
  for (int i = 0; i < 189; i++) {
    char m[32];

    snprintf(login, sizeof login, "s%d", i);
    snprintf(m, sizeof m, "mgr%d", i % 9);
    snprintf(dept, sizeof dept, "Dept%d", i % 9);
    user(c, login, STORE_ROLE_STAFF, m, dept);
  }
  /* Groups of 25 consecutive staff; the owner is the first of them. */
  for (int g = 0; g < 40; g++) {
    int64_t ids[24];
    struct store_user u;

    for (int i = 0; i < 24; i++) {
      snprintf(login, sizeof login, "s%d", (g * 5 + i + 1) % 189);
      CHECK_INT(store_user_get(c, login, &u), ==, STORE_OK);
      ids[i] = u.id;
    }
    snprintf(login, sizeof login, "s%d", (g * 5) % 189);
    CHECK_INT(store_user_get(c, login, &u), ==, STORE_OK);
    snprintf(dept, sizeof dept, "G%d", g);
    CHECK_INT(store_group_create(c, dept, u.id, STORE_TRACK_ALL, ids, 24,
                                 &conv), ==, STORE_OK);
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  /* 5,000 messages per group, one every ~8.6 minutes over 30 days, from
   * a member chosen by seq. */
  pgtest_exec(conninfo,
              "INSERT INTO messages (conversation_id, seq, sender_user_id,"
              " client_msg_id, kind, body, tracked, sent_at)"
              " SELECT c.id, s, (c.mem)[1 + s % array_length(c.mem, 1)],"
              " 'seed-' || c.id || '-' || s, 'text', 'seed message', true,"
              " now() - interval '30 days' + s * interval '518 seconds'"
              " FROM (SELECT cv.id, array_agg(m.user_id ORDER BY m.user_id)"
              "  AS mem FROM conversations cv JOIN members m"
              "  ON m.conversation_id = cv.id GROUP BY cv.id) c,"
              " generate_series(1, 5000) s");
  pgtest_exec(conninfo, "UPDATE conversations SET last_seq = 5000");
  /* Read patterns: 80% read up to the last hour or so, 15% lag by up to
   * 300 messages (two days), 5% by up to 1,000 (six days). */
  pgtest_exec(conninfo,
              "UPDATE members SET read_seq = CASE"
              " WHEN (user_id * 7 + conversation_id) % 20 = 0"
              "  THEN 4000 + (user_id % 1000)"
              " WHEN (user_id * 7 + conversation_id) % 20 < 4"
              "  THEN 5000 - ((user_id * 13 + conversation_id * 17) % 300)"
              " ELSE 5000 - (user_id % 8) END");
  pgtest_exec(conninfo, "VACUUM ANALYZE");
  printf("seeded 200,000 tracked messages in %.0f ms\n", ms_since(&t0));
  printf("message read state: %lld bytes of members rows for %lld"
         " memberships\n",
         pgtest_query_int(conninfo, "SELECT pg_total_relation_size('members')"),
         pgtest_query_int(conninfo, "SELECT count(*) FROM members"));

  time_report(c, "manager of 21 (mgr0)", mgr[0], STORE_REPORT_ALL);
  time_report(c, "manager of 198 (boss)", boss, STORE_REPORT_ALL);
  time_report(c, "admin (whole org)", root, STORE_REPORT_ORG);
  store_close(c);
}

TEST_MAIN()
