/*
 * test_store_automation.c — automation at the unread threshold against a
 * real PostgreSQL: the settings and their checks, the reminder sweep
 * (threshold respected, once only, the sender, DINGs, left and deactivated
 * members excluded, a read in time prevents it, later messages make a new
 * reminder, switching on later covers only new messages, a raised
 * threshold), exactly-once with concurrent sweeps (a staged race and
 * threads), batching, the retention purge in batches, and a printout of
 * the sweep's plans and timings on a seeded database.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
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
  int64_t alice, bob, carol, dave;
  int64_t group;               /* "Auto": alice owns, bob and carol */
};

static int64_t user(struct store_conn *c, const char *login)
{
  struct store_user_new u = {.login = login, .display_name = login,
                             .role = STORE_ROLE_STAFF};
  int64_t id = 0;

  CHECK_INT(store_user_add(c, &u, &id), ==, STORE_OK);
  return id;
}

static struct cast setup(int64_t remind_after)
{
  struct store_automation a = {remind_after, 0};
  struct cast k;
  int64_t members[2];

  memset(&k, 0, sizeof k);
  pgtest_db_new(conninfo, sizeof conninfo);
  if (store_connect(conninfo, &k.c) != STORE_OK)
    CHECK_FAIL("store_connect: %s", store_errmsg(k.c));
  CHECK_INT(store_migrate(k.c, NULL), ==, STORE_OK);
  /* "Unread for" is business time; without quiet hours it is elapsed time
   * whatever the hour these tests run at (business time itself is tested
   * in test_store_quiet.c). */
  pgtest_exec(conninfo, "DELETE FROM quiet_windows");
  k.alice = user(k.c, "alice");
  k.bob = user(k.c, "bob");
  k.carol = user(k.c, "carol");
  k.dave = user(k.c, "dave");
  members[0] = k.bob;
  members[1] = k.carol;
  CHECK_INT(store_group_create_automated(k.c, "Auto", k.alice,
                                         STORE_TRACK_ALL, members, 2, &a,
                                         &k.group), ==, STORE_OK);
  return k;
}

/* Stores one message; returns its seq. */
static int64_t say_kind(struct cast *k, int64_t sender, int64_t conv,
                        enum store_msg_kind kind)
{
  static int counter;
  char cmid[32];
  /* A DING goes to every other member. */
  struct store_ding ding = {.urgency = STORE_URG_NORMAL, .all = true};
  struct store_send m = {.sender_kind = STORE_PRINCIPAL_USER,
                         .sender_id = sender, .cmid = cmid,
                         .conversation_id = conv, .kind = kind,
                         .body = "hello", .body_len = 5,
                         .ding = kind == STORE_MSG_DING ? &ding : NULL};
  struct store_send_result r;

  snprintf(cmid, sizeof cmid, "a%d", ++counter);
  CHECK_INT(store_send_batch(k->c, &m, 1, &r), ==, STORE_OK);
  CHECK_INT(r.rc, ==, STORE_OK);
  store_send_results_cleanup(&r, 1);
  return r.seq;
}

static int64_t say(struct cast *k, int64_t sender, int64_t conv)
{
  return say_kind(k, sender, conv, STORE_MSG_TEXT);
}

__attribute__((format(printf, 1, 2)))
static long long q(const char *fmt, ...)
{
  char sql[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  return pgtest_query_int(conninfo, sql);
}

__attribute__((format(printf, 1, 2)))
static void x(const char *fmt, ...)
{
  char sql[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  pgtest_exec(conninfo, sql);
}

/* Moves every message of conv `minutes` into the past. */
static void backdate(int64_t conv, int minutes)
{
  x("UPDATE messages SET sent_at = sent_at - make_interval(mins => %d)"
    " WHERE conversation_id = %lld", minutes, (long long)conv);
}

/* One complete pass of the sweep on c: every entry, in order. */
static struct store_feed_entry *sweep_all(struct store_conn *c, size_t limit,
                                          size_t *n)
{
  struct store_feed_entry *all = NULL, *e;
  int64_t after = 0;
  size_t total = 0, got;
  bool more = true;
  int guard = 0;

  while (more) {
    CHECK_INT(store_remind_sweep(c, &after, limit, &e, &got, &more), ==,
              STORE_OK);
    if (got) {
      all = realloc(all, (total + got) * sizeof *all);
      CHECK(all != NULL);
      memcpy(all + total, e, got * sizeof *e);
      total += got;
    }
    free(e);
    CHECK_INT(++guard, <, 10000);
  }
  *n = total;
  return all;
}

/* A complete pass that must remind nobody. */
static void sweep_none(struct store_conn *c, size_t limit)
{
  size_t n;
  struct store_feed_entry *e = sweep_all(c, limit, &n);

  free(e);
  CHECK_UINT(n, ==, 0);
}

static const struct store_feed_entry *find(const struct store_feed_entry *e,
                                           size_t n, int64_t user,
                                           int64_t conv)
{
  for (size_t i = 0; i < n; i++)
    if (e[i].user_id == user && e[i].conversation_id == conv)
      return &e[i];
  return NULL;
}

TEST(settings_checked_stored_audited)
{
  struct cast k = setup(7200);
  struct store_automation a = {0, 0};
  struct store_group g;
  int64_t other;

  CHECK_INT(store_group_get(k.c, "auto", &g), ==, STORE_OK);
  CHECK_INT(g.remind_after_s, ==, 7200);
  CHECK_INT(g.task_after_s, ==, 0);
  CHECK_INT(q("SELECT from_seq + cut_seq FROM remind_progress"
              " WHERE conversation_id = %lld", (long long)k.group), ==, 0);

  /* Bounds: a minute to a year, each named. */
  a.remind_after_s = 59;
  CHECK_INT(store_conversation_set_automation(k.c, k.group, &a), ==,
            STORE_EINVAL);
  CHECK_CONTAINS(store_errmsg(k.c), "remind_after must be 60-31536000");
  a.remind_after_s = 0;
  a.task_after_s = 31536001;
  CHECK_INT(store_conversation_set_automation(k.c, k.group, &a), ==,
            STORE_EINVAL);
  CHECK_CONTAINS(store_errmsg(k.c), "task_after must be 60-31536000");
  a.task_after_s = -5;
  CHECK_INT(store_group_create_automated(k.c, "Other", k.alice,
                                         STORE_TRACK_ALL, NULL, 0, &a,
                                         &other), ==, STORE_EINVAL);
  CHECK_INT(q("SELECT count(*) FROM conversations WHERE title = 'Other'"), ==,
            0);
  a.task_after_s = 0;
  CHECK_INT(store_conversation_set_automation(k.c, 999999, &a), ==,
            STORE_ENOTFOUND);
  CHECK_CONTAINS(store_errmsg(k.c), "unknown conversation id 999999");

  /* Off: the progress row goes; the task setting alone is stored. */
  a.task_after_s = 14400;
  CHECK_INT(store_conversation_set_automation(k.c, k.group, &a), ==,
            STORE_OK);
  CHECK_INT(store_group_get(k.c, "Auto", &g), ==, STORE_OK);
  CHECK_INT(g.remind_after_s, ==, 0);
  CHECK_INT(g.task_after_s, ==, 14400);
  CHECK_INT(q("SELECT count(*) FROM remind_progress"), ==, 0);
  CHECK_INT(q("SELECT count(*) FROM audit_log WHERE action ="
              " 'conversation.automate' AND detail->>'automation' ="
              " 'remind_after=off task_after=14400'"), ==, 1);

  /* A plain group has none. */
  CHECK_INT(store_group_create(k.c, "Plain", k.alice, STORE_TRACK_ALL, NULL,
                               0, &other), ==, STORE_OK);
  CHECK_INT(store_group_get(k.c, "Plain", &g), ==, STORE_OK);
  CHECK_INT(g.remind_after_s + g.task_after_s, ==, 0);
  store_close(k.c);
}

TEST(threshold_once_sender_excluded)
{
  struct cast k = setup(3600);
  struct store_feed_entry *e, *fe = NULL;
  const struct store_feed_entry *b, *cr;
  long long sent_ms;
  size_t n, nf = 0;

  say(&k, k.alice, k.group);
  say(&k, k.alice, k.group);
  sweep_none(k.c, 100);

  /* 59 minutes unread: not yet. */
  backdate(k.group, 59);
  sweep_none(k.c, 100);

  /* Past the hour: one reminder each for bob and carol, none for alice,
   * who sent both. */
  backdate(k.group, 2);
  sent_ms = q("SELECT floor(extract(epoch FROM sent_at) * 1000)::bigint"
              " FROM messages WHERE conversation_id = %lld AND seq = 1",
              (long long)k.group);
  e = sweep_all(k.c, 100, &n);
  CHECK_UINT(n, ==, 2);
  b = find(e, n, k.bob, k.group);
  cr = find(e, n, k.carol, k.group);
  CHECK(b != NULL && cr != NULL);
  CHECK(find(e, n, k.alice, k.group) == NULL);
  CHECK_INT(b->kind, ==, STORE_FEED_REMIND);
  CHECK_INT(b->from_seq, ==, 1);
  CHECK_INT(b->to_seq, ==, 2);
  CHECK_INT(b->count, ==, 2);
  CHECK_INT(b->since_ms, ==, sent_ms);
  CHECK_INT(b->fs, ==, 1);
  CHECK_INT(cr->fs, ==, 1);
  free(e);

  /* The feed holds it as the server replays it. */
  CHECK_INT(store_feed_after(k.c, k.bob, 0, 10, &fe, &nf), ==, STORE_OK);
  CHECK_UINT(nf, ==, 1);
  CHECK_INT(fe[0].kind, ==, STORE_FEED_REMIND);
  CHECK_INT(fe[0].from_seq, ==, 1);
  CHECK_INT(fe[0].to_seq, ==, 2);
  CHECK_INT(fe[0].count, ==, 2);
  CHECK_INT(fe[0].since_ms, ==, sent_ms);
  free(fe);

  /* Once only, however often it runs. */
  for (int i = 0; i < 3; i++) {
    sweep_none(k.c, 100);
  }
  CHECK_INT(q("SELECT count(*) FROM feed WHERE kind = 'remind'"), ==, 2);
  /* Alice's marker moved over her own messages, so they are not looked
   * at again. */
  CHECK_INT(q("SELECT reminded_seq FROM members WHERE user_id = %lld",
              (long long)k.alice), ==, 2);
  store_close(k.c);
}

/* SPEC §7.2: a reminder that falls due while the member is in quiet hours
 * waits for the end of the window. Bob and carol (UTC) on the org's default
 * windows; the database's clock is moved with the test-clock offset. */
TEST(deferred_during_quiet_hours)
{
  struct cast k = setup(3600);
  struct store_feed_entry *e;
  size_t n;

  /* The default org windows back (setup removes them): weekdays
   * 00:00-08:00 and 20:00-24:00, weekends whole. */
  x("INSERT INTO quiet_windows (user_id, day_of_week, start_minute,"
    " end_minute) SELECT NULL, d, w.s, w.e FROM generate_series(1, 5) d,"
    " (VALUES (0, 480), (1200, 1440)) w(s, e)"
    " UNION ALL VALUES (NULL::bigint, 0, 0, 1440), (NULL, 6, 0, 1440)");
  say(&k, k.alice, k.group);
  /* Sent Wednesday 2026-11-25 at 10:00 UTC. */
  x("UPDATE messages SET sent_at = '2026-11-25 10:00Z'"
    " WHERE conversation_id = %lld", (long long)k.group);
  /* Wednesday 21:00: ten business hours unread, but quiet now. */
  CHECK_INT(q("SELECT herald_unread_seconds(%lld, '2026-11-25 10:00Z',"
              " '2026-11-25 21:00Z')", (long long)k.bob), ==, 36000);
  CHECK_INT(q("SELECT herald_in_quiet(%lld, '2026-11-25 21:00Z')::int",
              (long long)k.bob), ==, 1);
  CHECK_INT(store_clock_set_offset(k.c, q("SELECT (extract(epoch FROM"
            " timestamptz '2026-11-25 21:00Z' - now()) * 1000)::bigint")),
            ==, STORE_OK);
  sweep_none(k.c, 100);
  /* Thursday 07:59: still quiet. */
  CHECK_INT(store_clock_set_offset(k.c, q("SELECT (extract(epoch FROM"
            " timestamptz '2026-11-26 07:59Z' - now()) * 1000)::bigint")),
            ==, STORE_OK);
  sweep_none(k.c, 100);
  /* Thursday 08:01: the window is over; both are reminded, once. */
  CHECK_INT(store_clock_set_offset(k.c, q("SELECT (extract(epoch FROM"
            " timestamptz '2026-11-26 08:01Z' - now()) * 1000)::bigint")),
            ==, STORE_OK);
  e = sweep_all(k.c, 100, &n);
  CHECK_UINT(n, ==, 2);
  CHECK(find(e, n, k.bob, k.group) != NULL);
  CHECK(find(e, n, k.carol, k.group) != NULL);
  free(e);
  sweep_none(k.c, 100);
  store_close(k.c);
}

TEST(read_in_time_prevents_it)
{
  struct cast k = setup(3600);
  struct store_read_result r;
  struct store_feed_entry *e;
  size_t n;

  say(&k, k.alice, k.group);
  say(&k, k.alice, k.group);
  CHECK_INT(store_read_record(k.c, k.bob, k.group, 0, 1, 0, NULL, 0, &r), ==,
            STORE_OK);
  free(r.feed);
  backdate(k.group, 120);
  e = sweep_all(k.c, 100, &n);
  /* Bob read message 1: his reminder is about message 2 alone. */
  CHECK_UINT(n, ==, 2);
  CHECK_INT(find(e, n, k.bob, k.group)->from_seq, ==, 2);
  CHECK_INT(find(e, n, k.bob, k.group)->count, ==, 1);
  CHECK_INT(find(e, n, k.carol, k.group)->count, ==, 2);
  free(e);

  /* A read of everything before the next one is due: nothing. */
  say(&k, k.alice, k.group);
  CHECK_INT(store_read_record(k.c, k.bob, k.group, 0, 3, 0, NULL, 0, &r), ==,
            STORE_OK);
  free(r.feed);
  backdate(k.group, 120);
  e = sweep_all(k.c, 100, &n);
  CHECK_UINT(n, ==, 1);
  CHECK_INT(e[0].user_id, ==, k.carol);
  CHECK_INT(e[0].from_seq, ==, 3);
  free(e);
  store_close(k.c);
}

TEST(later_messages_make_a_new_reminder)
{
  struct cast k = setup(3600);
  struct store_feed_entry *e;
  size_t n;

  say(&k, k.alice, k.group);
  backdate(k.group, 61);
  e = sweep_all(k.c, 100, &n);
  CHECK_UINT(n, ==, 2);
  free(e);

  /* Two more: the first passes the hour, the second not yet. */
  say(&k, k.alice, k.group);
  backdate(k.group, 61);
  say(&k, k.alice, k.group);
  backdate(k.group, 30);
  e = sweep_all(k.c, 100, &n);
  CHECK_UINT(n, ==, 2);
  CHECK_INT(find(e, n, k.bob, k.group)->from_seq, ==, 2);
  CHECK_INT(find(e, n, k.bob, k.group)->to_seq, ==, 2);
  CHECK_INT(find(e, n, k.bob, k.group)->fs, ==, 2);
  free(e);
  backdate(k.group, 31);
  e = sweep_all(k.c, 100, &n);
  CHECK_UINT(n, ==, 2);
  CHECK_INT(find(e, n, k.bob, k.group)->from_seq, ==, 3);
  CHECK_INT(find(e, n, k.bob, k.group)->fs, ==, 3);
  free(e);
  CHECK_INT(q("SELECT count(*) FROM feed WHERE user_id = %lld"
              " AND kind = 'remind'", (long long)k.bob), ==, 3);
  store_close(k.c);
}

TEST(own_dings_left_and_deactivated_excluded)
{
  struct cast k = setup(3600);
  struct store_feed_entry *e;
  size_t n;

  CHECK_INT(store_group_add_member(k.c, k.group, k.dave, STORE_MEMBER), ==,
            STORE_OK);
  say(&k, k.alice, k.group);                   /* 1 */
  say(&k, k.bob, k.group);                     /* 2: bob's own */
  say_kind(&k, k.alice, k.group, STORE_MSG_DING); /* 3: re-alerts itself */
  say(&k, k.alice, k.group);                   /* 4 */
  CHECK_INT(store_user_deactivate(k.c, "carol"), ==, STORE_OK);
  x("UPDATE members SET left_seq = 4 WHERE user_id = %lld",
    (long long)k.dave);
  backdate(k.group, 120);
  e = sweep_all(k.c, 100, &n);
  /* bob: 1 and 4 (not his own 2, not the DING 3); alice: bob's 2. */
  CHECK_UINT(n, ==, 2);
  CHECK_INT(find(e, n, k.bob, k.group)->from_seq, ==, 1);
  CHECK_INT(find(e, n, k.bob, k.group)->to_seq, ==, 4);
  CHECK_INT(find(e, n, k.bob, k.group)->count, ==, 2);
  CHECK_INT(find(e, n, k.alice, k.group)->from_seq, ==, 2);
  CHECK_INT(find(e, n, k.alice, k.group)->count, ==, 1);
  free(e);

  /* A group with only DINGs due reminds nobody, and moves the markers. */
  say_kind(&k, k.alice, k.group, STORE_MSG_DING);
  backdate(k.group, 120);
  sweep_none(k.c, 100);
  CHECK_INT(q("SELECT reminded_seq FROM members WHERE user_id = %lld",
              (long long)k.bob), ==, 5);
  store_close(k.c);
}

TEST(untracked_and_other_conversations_ignored)
{
  struct cast k = setup(3600);
  struct store_automation a = {3600, 0};
  int64_t quiet, plain, members[1] = {0};

  members[0] = k.bob;
  CHECK_INT(store_group_create_automated(k.c, "Untracked", k.alice,
                                         STORE_TRACK_OFF, members, 1, &a,
                                         &quiet), ==, STORE_OK);
  CHECK_INT(store_group_create(k.c, "Plain", k.alice, STORE_TRACK_ALL,
                               members, 1, &plain), ==, STORE_OK);
  say(&k, k.alice, quiet);
  say(&k, k.alice, plain);
  backdate(quiet, 120);
  backdate(plain, 120);
  sweep_none(k.c, 100);
  store_close(k.c);
}

TEST(switched_on_later_and_raised)
{
  struct cast k = setup(0);
  struct store_automation a = {3600, 0};
  struct store_feed_entry *e;
  size_t n;

  /* History from before the automation is never reminded. */
  say(&k, k.alice, k.group);
  say(&k, k.alice, k.group);
  backdate(k.group, 600);
  CHECK_INT(store_conversation_set_automation(k.c, k.group, &a), ==,
            STORE_OK);
  CHECK_INT(q("SELECT from_seq FROM remind_progress"), ==, 2);
  sweep_none(k.c, 100);
  say(&k, k.alice, k.group);
  backdate(k.group, 61);
  e = sweep_all(k.c, 100, &n);
  CHECK_UINT(n, ==, 2);
  CHECK_INT(e[0].from_seq, ==, 3);
  CHECK_INT(e[0].count, ==, 1);
  free(e);

  /* Message 4 is 90 minutes old; the cut passes it at one hour... */
  say(&k, k.alice, k.group);
  backdate(k.group, 90);
  a.remind_after_s = 7200;
  /* ...but a raised threshold starts over: 90 minutes is not enough. */
  CHECK_INT(store_conversation_set_automation(k.c, k.group, &a), ==,
            STORE_OK);
  sweep_none(k.c, 100);
  backdate(k.group, 31);
  e = sweep_all(k.c, 100, &n);
  CHECK_UINT(n, ==, 2);
  CHECK_INT(e[0].from_seq, ==, 4);
  free(e);

  /* Off, then on again: only what comes after. */
  a.remind_after_s = 0;
  CHECK_INT(store_conversation_set_automation(k.c, k.group, &a), ==,
            STORE_OK);
  say(&k, k.alice, k.group);
  backdate(k.group, 600);
  sweep_none(k.c, 100);
  a.remind_after_s = 60;
  CHECK_INT(store_conversation_set_automation(k.c, k.group, &a), ==,
            STORE_OK);
  sweep_none(k.c, 100);
  store_close(k.c);
}

/* Many groups, each with one sender and `members` recipients, all due. */
static void seed_due_groups(struct cast *k, int groups, int members)
{
  x("INSERT INTO users (login, display_name)"
    " SELECT 'u' || i, 'U' || i FROM generate_series(1, %d) i", members);
  x("WITH c AS (INSERT INTO conversations (kind, title, last_seq,"
    " remind_after) SELECT 'group', 'G' || g, 3, 3600"
    " FROM generate_series(1, %d) g RETURNING id),"
    " p AS (INSERT INTO remind_progress SELECT id, 0, 0 FROM c),"
    " m AS (INSERT INTO members (conversation_id, user_id, role)"
    "  SELECT c.id, u.id, CASE WHEN u.id = %lld THEN 'owner' ELSE 'member'"
    "  END FROM c, users u WHERE u.login LIKE 'u%%' OR u.id = %lld)"
    " INSERT INTO messages (conversation_id, seq, sender_user_id,"
    " client_msg_id, kind, body, tracked, sent_at)"
    " SELECT c.id, s, %lld, c.id || '-' || s, 'text', 'x', true,"
    " now() - interval '2 hours' FROM c, generate_series(1, 3) s",
    groups, (long long)k->alice, (long long)k->alice, (long long)k->alice);
}

TEST(batches_cover_every_group_once)
{
  struct cast k = setup(3600);
  struct store_feed_entry *e;
  int64_t after = 0;
  size_t n, total = 0;
  bool more = true;
  int calls = 0;

  seed_due_groups(&k, 12, 5);
  /* Limit 7: a batch ends after the group that reaches 7 members, so
   * each call covers two groups of five (the last call: what is left). */
  while (more) {
    CHECK_INT(store_remind_sweep(k.c, &after, 7, &e, &n, &more), ==,
              STORE_OK);
    CHECK_UINT(n, <=, 10);
    total += n;
    free(e);
    calls++;
  }
  CHECK_UINT(total, ==, 60);
  CHECK_INT(calls, >=, 6);
  CHECK_INT(q("SELECT count(*) FROM (SELECT user_id, conversation_id"
              " FROM feed WHERE kind = 'remind' GROUP BY 1, 2"
              " HAVING count(*) > 1) d"), ==, 0);
  /* Each user's entries are numbered without a gap. */
  CHECK_INT(q("SELECT count(*) FROM feed_heads h WHERE h.last_fs <>"
              " (SELECT count(*) FROM feed f WHERE f.user_id = h.user_id)"),
            ==, 0);
  CHECK_INT(store_remind_sweep(k.c, &after, 0, &e, &n, &more), ==,
            STORE_EINVAL);
  store_close(k.c);
}

/* A second server's sweep holds its locks (uncommitted) while this one
 * sweeps: this one skips those members instead of waiting or reminding
 * them twice. */
TEST(concurrent_sweep_staged)
{
  struct cast k = setup(3600);
  struct store_feed_entry *e;
  PGconn *other = PQconnectdb(conninfo);
  PGresult *res;
  size_t n;

  CHECK_INT(PQstatus(other), ==, CONNECTION_OK);
  say(&k, k.alice, k.group);
  backdate(k.group, 61);
  res = PQexec(other, "BEGIN");
  PQclear(res);
  res = PQexec(other, "SELECT count(r_user) FROM herald_remind_sweep(0, 100)");
  CHECK_INT(PQresultStatus(res), ==, PGRES_TUPLES_OK);
  CHECK_STR(PQgetvalue(res, 0, 0), "2");
  PQclear(res);

  sweep_none(k.c, 100);
  res = PQexec(other, "COMMIT");
  CHECK_INT(PQresultStatus(res), ==, PGRES_COMMAND_OK);
  PQclear(res);
  sweep_none(k.c, 100);
  CHECK_INT(q("SELECT count(*) FROM feed WHERE kind = 'remind'"), ==, 2);

  /* And the other way round: when the other sweep rolls back, the next
   * sweep here does the work. */
  say(&k, k.alice, k.group);
  backdate(k.group, 61);
  res = PQexec(other, "BEGIN");
  PQclear(res);
  res = PQexec(other, "SELECT count(r_user) FROM herald_remind_sweep(0, 100)");
  CHECK_STR(PQgetvalue(res, 0, 0), "2");
  PQclear(res);
  sweep_none(k.c, 100);
  res = PQexec(other, "ROLLBACK");
  PQclear(res);
  e = sweep_all(k.c, 100, &n);
  CHECK_UINT(n, ==, 2);
  CHECK_INT(e[0].from_seq, ==, 2);
  free(e);
  PQfinish(other);
  store_close(k.c);
}

struct racer {
  struct store_conn *c;
  size_t entries;
  int rounds;
};

static void *race(void *arg)
{
  struct racer *r = arg;

  for (int i = 0; i < r->rounds; i++) {
    struct store_feed_entry *e;
    int64_t after = 0;
    bool more = true;
    size_t n;

    while (more) {
      if (store_remind_sweep(r->c, &after, 3, &e, &n, &more) != STORE_OK)
        return NULL;
      r->entries += n;
      free(e);
    }
  }
  return r;
}

/* Two connections sweeping the same due groups at once, in small
 * batches and repeatedly: every member is reminded exactly once. */
TEST(concurrent_sweeps_threads)
{
  struct cast k = setup(3600);
  struct racer r[2];
  pthread_t t[2];
  void *ok[2];

  seed_due_groups(&k, 40, 6);
  for (int i = 0; i < 2; i++) {
    memset(&r[i], 0, sizeof r[i]);
    r[i].rounds = 3;
    CHECK_INT(store_connect(conninfo, &r[i].c), ==, STORE_OK);
  }
  for (int i = 0; i < 2; i++)
    CHECK_INT(pthread_create(&t[i], NULL, race, &r[i]), ==, 0);
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], &ok[i]);
    if (!ok[i])
      CHECK_FAIL("sweep failed: %s", store_errmsg(r[i].c));
  }
  printf("entries: %zu + %zu\n", r[0].entries, r[1].entries);
  CHECK_UINT(r[0].entries + r[1].entries, ==, 40 * 6);
  CHECK_INT(q("SELECT count(*) FROM feed WHERE kind = 'remind'"), ==, 240);
  CHECK_INT(q("SELECT count(DISTINCT (user_id, conversation_id)) FROM feed"
              " WHERE kind = 'remind'"), ==, 240);
  for (int i = 0; i < 2; i++)
    store_close(r[i].c);
  store_close(k.c);
}

TEST(purge_in_batches_keeps_state)
{
  struct cast k = setup(3600);
  struct store_read_result r;
  uint8_t sealed[48] = {1};
  int64_t purged = -1, total = 0;

  for (int i = 0; i < 5; i++) {
    int64_t s = say(&k, k.alice, k.group);

    CHECK_INT(store_read_record(k.c, k.bob, k.group, s, s, 1, sealed,
                                sizeof sealed, &r), ==, STORE_OK);
    free(r.feed);
  }
  x("UPDATE read_ranges SET recorded_at = now() - interval '91 days'"
    " WHERE to_seq <= 4");
  do {
    CHECK_INT(store_read_times_purge(k.c, 2, &purged), ==, STORE_OK);
    CHECK_INT(purged, <=, 2);
    total += purged;
  } while (purged == 2);
  CHECK_INT(total, ==, 4);
  CHECK_INT(q("SELECT count(*) FROM read_ranges"
              " WHERE read_time_sealed IS NOT NULL"), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM read_ranges"), ==, 5);
  CHECK_INT(q("SELECT read_seq FROM members WHERE user_id = %lld",
              (long long)k.bob), ==, 5);
  store_close(k.c);
}

/* ---- plans and timings on a seeded database ---- */

struct notices {
  char *buf;
  size_t len, cap;
};

static void notice_cb(void *arg, const char *msg)
{
  struct notices *nb = arg;
  size_t add = strlen(msg);

  if (nb->len + add + 1 > nb->cap) {
    size_t cap = (nb->len + add + 1) * 2;
    char *p = realloc(nb->buf, cap);

    if (!p)
      return;
    nb->buf = p;
    nb->cap = cap;
  }
  memcpy(nb->buf + nb->len, msg, add + 1);
  nb->len += add;
}

static double now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs one full pass through libpq with auto_explain logging every nested
 * statement's plan to this client, in a transaction that is rolled back
 * (the timed passes run without the instrumentation); returns the plans. */
static char *explain_pass(PGconn *pg)
{
  struct notices nb = {0};
  PGresult *res;

  PQsetNoticeProcessor(pg, notice_cb, &nb);
  res = PQexec(pg, "LOAD 'auto_explain';"
                   " SET auto_explain.log_min_duration = 0;"
                   " SET auto_explain.log_nested_statements = on;"
                   " SET auto_explain.log_analyze = on;"
                   " SET auto_explain.log_buffers = on;"
                   " SET client_min_messages = log; BEGIN");
  CHECK_INT(PQresultStatus(res), ==, PGRES_COMMAND_OK);
  PQclear(res);
  res = PQexec(pg, "SELECT count(r_user) FROM herald_remind_sweep(0, 100000)");
  CHECK_INT(PQresultStatus(res), ==, PGRES_TUPLES_OK);
  PQclear(res);
  res = PQexec(pg, "ROLLBACK; SET client_min_messages = notice;"
                   " SET auto_explain.log_min_duration = -1");
  PQclear(res);
  PQsetNoticeProcessor(pg, NULL, NULL);
  return nb.buf;
}

/* Prints the plan of the first logged statement whose text contains
 * `needle`. */
static void print_plan(const char *plans, const char *needle)
{
  const char *at = strstr(plans, needle), *start, *end;

  if (!at)
    return;
  start = at;
  while (start > plans && strncmp(start, "LOG:", 4) != 0)
    start--;
  end = strstr(at, "LOG:");
  printf("%.*s\n", (int)(end ? end - start : (long)strlen(start)), start);
}

/* 100 automated groups of 50 members with 2,000 messages each (200,000
 * messages, 5,000 memberships), all read: a sweep that finds nothing must
 * not read the messages; then 50 new messages per group become due and
 * every member but the sender is reminded. Prints the timings and the
 * plans; checks that the plans use the indexes. */
TEST(sweep_plans_printout)
{
  struct cast k = setup(3600);
  PGconn *pg = PQconnectdb(conninfo);
  double t0;
  char *plans;

  CHECK_INT(PQstatus(pg), ==, CONNECTION_OK);
  x("INSERT INTO users (login, display_name)"
    " SELECT 'm' || i, 'M' || i FROM generate_series(1, 49) i");
  x("WITH c AS (INSERT INTO conversations (kind, title, last_seq,"
    " remind_after) SELECT 'group', 'S' || g, 2000, 3600"
    " FROM generate_series(1, 100) g RETURNING id),"
    " p AS (INSERT INTO remind_progress SELECT id, 0, 0 FROM c),"
    " m AS (INSERT INTO members (conversation_id, user_id, role, read_seq,"
    "  delivered_seq) SELECT c.id, u.id, 'member', 2000, 2000 FROM c, users u"
    "  WHERE u.login LIKE 'm%%' OR u.id = %lld)"
    " INSERT INTO messages (conversation_id, seq, sender_user_id,"
    " client_msg_id, kind, body, tracked, sent_at)"
    " SELECT c.id, s, %lld, c.id || '/' || s, 'text', 'x', true,"
    " now() - interval '3 days' + s * interval '1 second'"
    " FROM c, generate_series(1, 2000) s",
    (long long)k.alice, (long long)k.alice);
  x("ANALYZE");

  /* The first pass walks the cuts forward over the old messages once. */
  t0 = now_ms();
  sweep_none(k.c, 1000);
  printf("first pass (cuts move over 200,000 messages): %.1f ms\n",
         now_ms() - t0);
  t0 = now_ms();
  sweep_none(k.c, 1000);
  printf("steady pass, nothing due: %.1f ms\n", now_ms() - t0);
  plans = explain_pass(pg);
  CHECK(plans != NULL);
  printf("---- plans of the steady pass: the cut, the members ----\n");
  print_plan(plans, "ORDER BY x.seq");
  print_plan(plans, "WITH cand AS");
  /* The cut walk and the members probe use their indexes, and no plan
   * reads the messages table itself. */
  CHECK_CONTAINS(plans, "members_remind_idx");
  CHECK_CONTAINS(plans, "messages_tracked_cover_idx");
  CHECK(strstr(plans, "Seq Scan on messages") == NULL);
  CHECK(strstr(plans, "Seq Scan on members") == NULL);
  free(plans);

  /* 50 new messages per group, all due: 49 reminders per group. */
  x("INSERT INTO messages (conversation_id, seq, sender_user_id,"
    " client_msg_id, kind, body, tracked, sent_at)"
    " SELECT c.id, 2000 + s, %lld, c.id || '+' || s, 'text', 'x', true,"
    " now() - interval '2 hours' FROM conversations c,"
    " generate_series(1, 50) s WHERE c.title LIKE 'S%%'",
    (long long)k.alice);
  x("UPDATE conversations SET last_seq = 2050 WHERE title LIKE 'S%%'");
  plans = explain_pass(pg);
  CHECK(plans != NULL);
  printf("---- plan of the members and their due messages (all due) ----\n");
  print_plan(plans, "WITH cand AS");
  CHECK_CONTAINS(plans, "members_remind_idx");
  CHECK(strstr(plans, "Seq Scan on messages") == NULL);
  free(plans);
  t0 = now_ms();
  {
    size_t n;
    struct store_feed_entry *e = sweep_all(k.c, 1000, &n);

    free(e);
    CHECK_UINT(n, ==, 4900);
  }
  printf("pass with 4,900 reminders (50 messages each): %.1f ms\n",
         now_ms() - t0);
  CHECK_INT(q("SELECT count(*) FROM feed WHERE kind = 'remind'"), ==, 4900);
  t0 = now_ms();
  sweep_none(k.c, 1000);
  printf("steady pass after it: %.1f ms\n", now_ms() - t0);
  PQfinish(pg);
  store_close(k.c);
}

TEST_MAIN()
