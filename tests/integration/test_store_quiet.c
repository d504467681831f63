/*
 * test_store_quiet.c — the quiet-hours engine against a real PostgreSQL:
 * quiet state and business time across the America/New_York changes of
 * March and November 2026, in Asia/Hong_Kong (no DST), windows crossing
 * midnight, weekends, a user's windows added to the org's, boundaries in a
 * skipped or repeated hour; windows stored and read back; validation;
 * the database clock offset; a read in quiet hours recorded without a
 * time; "unread for" in reports counted in business time; and a timing
 * printout over 100,000 rows.
 *
 * Times are written as local times of a named zone and converted by
 * PostgreSQL, so nothing depends on the machine's zone or the date the
 * test runs: "now" is moved with store_clock_set_offset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "pgtest.h"
#include "store.h"

static char conninfo[1024];

#define NY "America/New_York"
#define HK "Asia/Hong_Kong"

struct cast {
  struct store_conn *c;
  int64_t root, ny, hk, utc;
};

static int64_t user(struct store_conn *c, const char *login, const char *tz)
{
  struct store_user_new u = {.login = login, .display_name = login,
                             .time_zone = tz};
  int64_t id = 0;

  CHECK_INT(store_user_add(c, &u, &id), ==, STORE_OK);
  return id;
}

static struct cast setup(void)
{
  struct store_user_new admin = {.login = "root", .display_name = "Root",
                                 .role = STORE_ROLE_ADMIN};
  struct cast k;

  memset(&k, 0, sizeof k);
  pgtest_db_new(conninfo, sizeof conninfo);
  if (store_connect(conninfo, &k.c) != STORE_OK)
    CHECK_FAIL("store_connect: %s", store_errmsg(k.c));
  CHECK_INT(store_migrate(k.c, NULL), ==, STORE_OK);
  CHECK_INT(store_org_init(k.c, "Acme", &admin, &k.root), ==, STORE_OK);
  k.ny = user(k.c, "ny", NY);
  k.hk = user(k.c, "hk", HK);
  k.utc = user(k.c, "utc", "UTC");
  return k;
}

/* Milliseconds since the epoch of a timestamptz literal, e.g.
 * "2026-03-11 19:00 America/New_York". */
static int64_t ms(const char *ts)
{
  char sql[200];

  snprintf(sql, sizeof sql,
           "SELECT floor(extract(epoch FROM timestamptz '%s') * 1000)", ts);
  return pgtest_query_int(conninfo, sql);
}

static int64_t real_now_ms(void)
{
  struct timespec t;

  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Moves the connection's "now" to the instant ts. */
static void set_now(struct store_conn *c, const char *ts)
{
  CHECK_INT(store_clock_set_offset(c, ms(ts) - real_now_ms()), ==, STORE_OK);
}

static struct store_quiet_state state(struct store_conn *c, int64_t uid,
                                      const char *at)
{
  struct store_quiet_state *s = calloc(1, sizeof *s), r;

  CHECK(s != NULL);
  CHECK_INT(store_quiet_get(c, uid, ms(at), s), ==, STORE_OK);
  r = *s;
  free(s);
  return r;
}

static int64_t business(struct store_conn *c, int64_t uid, const char *from,
                        const char *to)
{
  int64_t s = -1;

  CHECK_INT(store_quiet_business_seconds(c, uid, ms(from), ms(to), &s), ==,
            STORE_OK);
  return s;
}

/* The org's windows become weekday nights only (Mon-Fri 20:00 to 08:00
 * the next morning), so that a Sunday's DST change falls in business
 * time. */
static void org_weekday_nights(struct store_conn *c)
{
  struct store_quiet_window w[5];

  for (int d = 0; d < 5; d++)
    w[d] = (struct store_quiet_window){d + 1, 1200, 480};
  CHECK_INT(store_quiet_org_set(c, w, 5), ==, STORE_OK);
}

TEST(quiet_state_org_default)
{
  struct cast k = setup();
  struct store_quiet_state s;

  /* Wednesday 21:00 in New York: quiet until Thursday 08:00, then the
   * next stretch starts Thursday 20:00. */
  s = state(k.c, k.ny, "2026-03-11 21:00 " NY);
  CHECK(s.in_quiet);
  CHECK_INT(s.until_ms, ==, ms("2026-03-12 08:00 " NY));
  CHECK_INT(s.next_ms, ==, ms("2026-03-12 20:00 " NY));
  CHECK_STR(s.time_zone, NY);
  /* Wednesday 10:00: not quiet; quiet from 20:00. */
  s = state(k.c, k.ny, "2026-03-11 10:00 " NY);
  CHECK(!s.in_quiet);
  CHECK_INT(s.until_ms, ==, 0);
  CHECK_INT(s.next_ms, ==, ms("2026-03-11 20:00 " NY));
  /* The weekend of the March change is one stretch, Friday 20:00 EST to
   * Monday 08:00 EDT. */
  s = state(k.c, k.ny, "2026-03-07 12:00 " NY);
  CHECK(s.in_quiet);
  CHECK_INT(s.until_ms, ==, ms("2026-03-09 08:00 " NY));
  CHECK_INT(ms("2026-03-09 08:00 " NY) - ms("2026-03-06 20:00 " NY), ==,
            (60 - 1) * 3600 * 1000LL);   /* 59 real hours: one skipped */
  s = state(k.c, k.ny, "2026-03-06 19:59 " NY);
  CHECK(!s.in_quiet);
  CHECK_INT(s.next_ms, ==, ms("2026-03-06 20:00 " NY));
  /* November: Friday 20:00 EDT to Monday 08:00 EST, 61 real hours. */
  s = state(k.c, k.ny, "2026-11-01 01:30 " NY);
  CHECK(s.in_quiet);
  CHECK_INT(s.until_ms, ==, ms("2026-11-02 08:00 " NY));
  /* Hong Kong has no DST: Saturday is quiet until Monday 08:00 HKT. */
  s = state(k.c, k.hk, "2026-03-07 12:00 " HK);
  CHECK(s.in_quiet);
  CHECK_INT(s.until_ms, ==, ms("2026-03-09 08:00 " HK));
  CHECK_INT(s.next_ms, ==, ms("2026-03-09 20:00 " HK));
  /* The org default as windows: weekday evenings crossing midnight (the
   * Friday one runs into Saturday, which is quiet all day), Monday's
   * early hours, and the two weekend days. */
  CHECK_UINT(s.n_org, ==, 8);
  CHECK_UINT(s.n_own, ==, 0);
  CHECK_INT(s.org[0].day, ==, 1);
  CHECK_INT(s.org[0].start, ==, 0);
  CHECK_INT(s.org[0].end, ==, 480);
  CHECK_INT(s.org[1].day, ==, 1);
  CHECK_INT(s.org[1].start, ==, 1200);
  CHECK_INT(s.org[1].end, ==, 480);
  CHECK_INT(s.org[5].day, ==, 5);
  CHECK_INT(s.org[5].end, ==, 1440);
  CHECK_INT(s.org[7].day, ==, 7);
  store_close(k.c);
}

TEST(quiet_own_windows_added)
{
  struct cast k = setup();
  struct store_quiet_window lunch = {3, 720, 780};       /* Wed 12:00-13:00 */
  struct store_quiet_window late[2] = {{2, 1080, 1140},  /* Tue 18:00-19:00 */
                                       {7, 1380, 60}};   /* Sun 23:00-01:00 */
  struct store_quiet_state s;

  CHECK_INT(store_quiet_set(k.c, k.hk, &lunch, 1, NULL), ==, STORE_OK);
  s = state(k.c, k.hk, "2026-03-11 12:30 " HK);
  CHECK(s.in_quiet);
  CHECK_INT(s.until_ms, ==, ms("2026-03-11 13:00 " HK));
  CHECK_UINT(s.n_own, ==, 1);
  CHECK_UINT(s.n_org, ==, 8);
  /* Only hk's: ny is not quiet at that time. */
  CHECK(!state(k.c, k.ny, "2026-03-11 12:30 " NY).in_quiet);
  /* A business day for hk is an hour shorter on Wednesday. */
  CHECK_INT(business(k.c, k.hk, "2026-03-11 08:00 " HK,
                     "2026-03-11 20:00 " HK), ==, 11 * 3600);
  /* Replacing: the lunch window goes, two others come; the Sunday one
   * crosses into Monday and joins Monday's quiet morning (one stretch
   * from Friday 20:00 to Monday 08:00 anyway). The Tuesday 18:00-19:00
   * window is its own stretch. */
  CHECK_INT(store_quiet_set(k.c, k.hk, late, 2, "Europe/Berlin"), ==,
            STORE_OK);
  s = state(k.c, k.hk, "2026-03-10 18:30 Europe/Berlin");
  CHECK(s.in_quiet);
  CHECK_STR(s.time_zone, "Europe/Berlin");
  CHECK_INT(s.until_ms, ==, ms("2026-03-10 19:00 Europe/Berlin"));
  CHECK_INT(s.next_ms, ==, ms("2026-03-10 20:00 Europe/Berlin"));
  CHECK(!state(k.c, k.hk, "2026-03-11 12:30 Europe/Berlin").in_quiet);
  /* Read back as given, the midnight-crossing one included. */
  CHECK_UINT(s.n_own, ==, 2);
  CHECK_INT(s.own[0].day, ==, 2);
  CHECK_INT(s.own[1].day, ==, 7);
  CHECK_INT(s.own[1].start, ==, 1380);
  CHECK_INT(s.own[1].end, ==, 60);
  CHECK_INT(pgtest_query_int(conninfo, "SELECT count(*) FROM quiet_windows"
                             " WHERE user_id IS NOT NULL"), ==, 3);
  /* Clearing leaves the org's. */
  CHECK_INT(store_quiet_set(k.c, k.hk, NULL, 0, NULL), ==, STORE_OK);
  s = state(k.c, k.hk, "2026-03-10 18:30 Europe/Berlin");
  CHECK(!s.in_quiet);
  CHECK_UINT(s.n_own, ==, 0);
  CHECK_INT(pgtest_query_int(conninfo, "SELECT count(*) FROM audit_log"
                             " WHERE action = 'quiet.set'"), ==, 3);
  store_close(k.c);
}

TEST(quiet_windows_validation)
{
  struct cast k = setup();
  struct store_quiet_window bad_day = {9, 0, 60}, same = {1, 300, 300},
                            bad_end = {1, 0, 1441}, ok = {1, 0, 60};
  struct store_quiet_window many[STORE_QUIET_WINDOWS_MAX + 1];

  CHECK_INT(store_quiet_set(k.c, k.ny, &bad_day, 1, NULL), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(k.c),
            "window 1: day must be 1 (Monday) to 7 (Sunday), got 9");
  CHECK_INT(store_quiet_set(k.c, k.ny, &same, 1, NULL), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(k.c),
            "window 1: start and end are the same minute (300)");
  CHECK_INT(store_quiet_org_set(k.c, &bad_end, 1), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(k.c),
            "window 1: end must be 0 to 1440 minutes, got 1441");
  for (size_t i = 0; i < STORE_QUIET_WINDOWS_MAX + 1; i++)
    many[i] = ok;
  CHECK_INT(store_quiet_set(k.c, k.ny, many, STORE_QUIET_WINDOWS_MAX + 1,
                            NULL), ==, STORE_EINVAL);
  CHECK_INT(store_quiet_set(k.c, k.ny, &ok, 1, "Mars/Olympus"), ==,
            STORE_EINVAL);
  CHECK_CONTAINS(store_errmsg(k.c), "unknown time zone \"Mars/Olympus\"");
  /* Nothing of the refused change stayed. */
  CHECK_INT(pgtest_query_int(conninfo, "SELECT count(*) FROM quiet_windows"
                             " WHERE user_id IS NOT NULL"), ==, 0);
  CHECK_INT(store_quiet_set(k.c, 99999, &ok, 1, NULL), ==, STORE_ENOTFOUND);
  store_close(k.c);
}

TEST(business_time)
{
  struct cast k = setup();

  /* A weekday evening message read at 09:30: 19:00-20:00 and
   * 08:00-09:30 count, the night does not. */
  CHECK_INT(business(k.c, k.ny, "2026-03-11 19:00 " NY,
                     "2026-03-12 09:30 " NY), ==, 9000);
  CHECK_INT(business(k.c, k.hk, "2026-03-11 19:00 " HK,
                     "2026-03-12 09:30 " HK), ==, 9000);
  /* Over the March weekend (a 23-hour Sunday, all quiet). */
  CHECK_INT(business(k.c, k.ny, "2026-03-06 19:00 " NY,
                     "2026-03-09 09:30 " NY), ==, 9000);
  /* Whole weeks: 5 x 12 business hours each, across either change. */
  CHECK_INT(business(k.c, k.ny, "2026-03-02 09:00 " NY,
                     "2026-03-16 09:00 " NY), ==, 2 * 60 * 3600);
  CHECK_INT(business(k.c, k.ny, "2026-10-26 09:00 " NY,
                     "2026-11-09 09:00 " NY), ==, 2 * 60 * 3600);
  /* A year: 52 weeks and a day (Thursday), 3120 + 12 hours. */
  CHECK_INT(business(k.c, k.ny, "2026-01-01 12:00 " NY,
                     "2027-01-01 12:00 " NY), ==, (52 * 60 + 12) * 3600LL);
  /* Inside quiet hours: nothing; backwards: nothing. */
  CHECK_INT(business(k.c, k.ny, "2026-03-11 21:00 " NY,
                     "2026-03-12 07:00 " NY), ==, 0);
  CHECK_INT(business(k.c, k.ny, "2026-03-12 10:00 " NY,
                     "2026-03-12 09:00 " NY), ==, 0);
  /* Hong Kong, a week from Wednesday noon. */
  CHECK_INT(business(k.c, k.hk, "2026-03-11 12:00 " HK,
                     "2026-03-18 12:00 " HK), ==, 60 * 3600);
  store_close(k.c);
}

TEST(business_time_dst_in_business_hours)
{
  struct cast k = setup();
  struct store_quiet_window w;
  struct store_quiet_state s;

  /* With weekday nights only, Sunday is business time: the Sunday of
   * the March change has 23 hours, the November one 25. */
  org_weekday_nights(k.c);
  CHECK_INT(business(k.c, k.ny, "2026-03-07 12:00 " NY,
                     "2026-03-08 12:00 " NY), ==, 23 * 3600);
  CHECK_INT(business(k.c, k.ny, "2026-10-31 12:00 " NY,
                     "2026-11-01 12:00 " NY), ==, 25 * 3600);
  /* Whole weeks around them: 168 - 60 quiet hours, minus or plus the
   * hour. */
  CHECK_INT(business(k.c, k.ny, "2026-03-04 12:00 " NY,
                     "2026-03-11 12:00 " NY), ==, (108 - 1) * 3600);
  CHECK_INT(business(k.c, k.ny, "2026-10-28 12:00 " NY,
                     "2026-11-04 12:00 " NY), ==, (108 + 1) * 3600);
  CHECK_INT(business(k.c, k.hk, "2026-03-04 12:00 " HK,
                     "2026-03-11 12:00 " HK), ==, 108 * 3600);
  /* A window starting or ending in the skipped hour (02:00-03:00 on
   * March 8): Sunday 02:30-04:00 starts at the jump, 03:00 EDT. */
  w = (struct store_quiet_window){7, 150, 240};
  CHECK_INT(store_quiet_set(k.c, k.ny, &w, 1, NULL), ==, STORE_OK);
  s = state(k.c, k.ny, "2026-03-08 01:59 " NY);
  CHECK(!s.in_quiet);
  CHECK_INT(s.next_ms, ==, ms("2026-03-08 03:00 " NY));
  s = state(k.c, k.ny, "2026-03-08 03:00 " NY);
  CHECK(s.in_quiet);
  CHECK_INT(s.until_ms, ==, ms("2026-03-08 04:00 " NY));
  /* 00:00 EST to 05:00 EDT is 4 real hours, one of them quiet. */
  CHECK_INT(business(k.c, k.ny, "2026-03-08 00:00 " NY,
                     "2026-03-08 05:00 " NY), ==, 3 * 3600);
  /* Sunday 01:00-01:30 on November 1 happens twice: quiet both times. */
  w = (struct store_quiet_window){7, 60, 90};
  CHECK_INT(store_quiet_set(k.c, k.ny, &w, 1, NULL), ==, STORE_OK);
  s = state(k.c, k.ny, "2026-11-01 05:10Z");        /* 01:10 EDT */
  CHECK(s.in_quiet);
  CHECK_INT(s.until_ms, ==, ms("2026-11-01 05:30Z")); /* 01:30 EDT */
  CHECK_INT(s.next_ms, ==, ms("2026-11-01 06:00Z"));  /* 01:00 EST */
  CHECK(state(k.c, k.ny, "2026-11-01 06:10Z").in_quiet);
  CHECK(!state(k.c, k.ny, "2026-11-01 06:40Z").in_quiet);
  /* 00:00 EDT to 03:00 EST is 4 real hours, one of them quiet. */
  CHECK_INT(business(k.c, k.ny, "2026-11-01 04:00Z",
                     "2026-11-01 08:00Z"), ==, 3 * 3600);
  /* A window crossing midnight, the user's own: Wed 23:00 - Thu 01:00
   * on top of the org's weekday nights changes nothing (already quiet);
   * Sat 22:00 - Sun 02:00 adds four quiet hours to Saturday night. */
  w = (struct store_quiet_window){6, 1320, 120};
  CHECK_INT(store_quiet_set(k.c, k.hk, &w, 1, NULL), ==, STORE_OK);
  s = state(k.c, k.hk, "2026-03-07 23:00 " HK);
  CHECK(s.in_quiet);
  CHECK_INT(s.until_ms, ==, ms("2026-03-08 02:00 " HK));
  CHECK_INT(business(k.c, k.hk, "2026-03-07 12:00 " HK,
                     "2026-03-08 12:00 " HK), ==, 20 * 3600);
  store_close(k.c);
}

TEST(quiet_until_for_deferral)
{
  struct cast k = setup();
  bool q = false;
  int64_t until = 0;

  CHECK_INT(store_quiet_until(k.c, k.ny, ms("2026-03-11 21:00 " NY), &q,
                              &until), ==, STORE_OK);
  CHECK(q);
  CHECK_INT(until, ==, ms("2026-03-12 08:00 " NY));
  CHECK_INT(store_quiet_until(k.c, k.ny, ms("2026-03-11 11:00 " NY), &q,
                              &until), ==, STORE_OK);
  CHECK(!q);
  CHECK_INT(until, ==, ms("2026-03-11 11:00 " NY));
  /* Every hour quiet: it never ends. */
  {
    struct store_quiet_window all[7];

    for (int d = 0; d < 7; d++)
      all[d] = (struct store_quiet_window){d + 1, 0, 1440};
    CHECK_INT(store_quiet_org_set(k.c, all, 7), ==, STORE_OK);
  }
  CHECK_INT(store_quiet_until(k.c, k.ny, ms("2026-03-11 11:00 " NY), &q,
                              &until), ==, STORE_OK);
  CHECK(q);
  CHECK_INT(until, ==, INT64_MAX);
  CHECK_INT(store_quiet_until(k.c, 4242, 0, &q, &until), ==, STORE_ENOTFOUND);
  store_close(k.c);
}

TEST(org_windows_and_zone_changes)
{
  struct cast k = setup();
  struct store_quiet_window w[STORE_QUIET_WINDOWS_MAX], none;
  size_t n = 0;

  CHECK_INT(store_quiet_org_get(k.c, w, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 8);
  /* No org quiet hours at all: business time is elapsed time. */
  CHECK_INT(store_quiet_org_set(k.c, &none, 0), ==, STORE_OK);
  CHECK_INT(business(k.c, k.ny, "2026-03-07 12:00 " NY,
                     "2026-03-08 12:00 " NY), ==, 23 * 3600);
  CHECK(!state(k.c, k.ny, "2026-03-07 12:00 " NY).in_quiet);
  CHECK_INT(state(k.c, k.ny, "2026-03-07 12:00 " NY).next_ms, ==, 0);
  /* Back to weekday nights; a user moved to a new zone gets its profile
   * (computed on the spot). */
  org_weekday_nights(k.c);
  pgtest_exec(conninfo, "UPDATE users SET time_zone = 'Australia/Sydney'"
                        " WHERE login = 'utc'");
  CHECK(state(k.c, k.utc, "2026-04-01 21:00 Australia/Sydney").in_quiet);
  /* Sydney leaves DST on Sunday 2026-04-05 03:00 -> 02:00: 25 hours. */
  CHECK_INT(business(k.c, k.utc, "2026-04-04 12:00 Australia/Sydney",
                     "2026-04-05 12:00 Australia/Sydney"), ==, 25 * 3600);
  CHECK_INT(store_quiet_org_get(k.c, w, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 5);
  CHECK_INT(w[4].day, ==, 5);
  CHECK_INT(w[4].start, ==, 1200);
  CHECK_INT(w[4].end, ==, 480);
  {
    int zones = 0;

    CHECK_INT(store_quiet_zones_refresh(k.c, &zones), ==, STORE_OK);
    CHECK_INT(zones, >=, 4);
  }
  CHECK_INT(business(k.c, k.utc, "2026-04-04 12:00 Australia/Sydney",
                     "2026-04-05 12:00 Australia/Sydney"), ==, 25 * 3600);
  store_close(k.c);
}

TEST(clock_offset)
{
  struct cast k = setup();
  struct store_conn *other = NULL;
  struct store_group g;
  struct store_send m = {.sender_kind = STORE_PRINCIPAL_USER, .cmid = "c1",
                         .kind = STORE_MSG_TEXT, .body = "hi", .body_len = 2};
  struct store_send_result r;
  int64_t conv = 0, ids[1] = {0};

  ids[0] = k.hk;
  CHECK_INT(store_group_create(k.c, "G", k.ny, STORE_TRACK_ALL, ids, 1, &conv),
            ==, STORE_OK);
  CHECK_INT(store_group_get(k.c, "G", &g), ==, STORE_OK);
  /* Ten days ahead: message times follow the connection's clock. */
  CHECK_INT(store_clock_set_offset(k.c, 10LL * 86400 * 1000), ==, STORE_OK);
  m.sender_id = k.ny;
  m.conversation_id = conv;
  CHECK_INT(store_send_batch(k.c, &m, 1, &r), ==, STORE_OK);
  CHECK_INT(r.rc, ==, STORE_OK);
  CHECK_INT(r.sent_at_ms - real_now_ms(), >, 10LL * 86400 * 1000 - 60000);
  CHECK_INT(r.sent_at_ms - real_now_ms(), <, 10LL * 86400 * 1000 + 60000);
  /* Other connections keep real time. */
  CHECK_INT(store_connect(conninfo, &other), ==, STORE_OK);
  {
    bool q;
    int64_t until;

    CHECK_INT(store_quiet_until(other, k.utc, 0, &q, &until), ==, STORE_OK);
    if (!q)
      CHECK_INT(until - real_now_ms(), <, 60000);
  }
  store_close(other);
  /* Back to real time. */
  CHECK_INT(store_clock_set_offset(k.c, 0), ==, STORE_OK);
  m.cmid = "c2";
  CHECK_INT(store_send_batch(k.c, &m, 1, &r), ==, STORE_OK);
  CHECK_INT(r.sent_at_ms - real_now_ms(), <, 60000);
  store_close(k.c);
}

TEST(read_in_quiet_hours_has_no_time)
{
  struct cast k = setup();
  struct store_send m = {.sender_kind = STORE_PRINCIPAL_USER, .cmid = "r1",
                         .kind = STORE_MSG_TEXT, .body = "hi", .body_len = 2};
  struct store_send_result r;
  struct store_read_plan p;
  int64_t conv = 0, ids[1];

  ids[0] = k.hk;
  CHECK_INT(store_group_create(k.c, "G", k.ny, STORE_TRACK_ALL, ids, 1, &conv),
            ==, STORE_OK);
  m.sender_id = k.ny;
  m.conversation_id = conv;
  set_now(k.c, "2026-03-11 22:00 " HK);
  CHECK_INT(store_send_batch(k.c, &m, 1, &r), ==, STORE_OK);
  /* hk reads at 23:00 Hong Kong time: the plan says quiet. */
  set_now(k.c, "2026-03-11 23:00 " HK);
  CHECK_INT(store_read_plan(k.c, k.hk, conv, r.seq, &p), ==, STORE_OK);
  CHECK(p.reader_quiet);
  CHECK_INT(p.now_ms - ms("2026-03-11 23:00 " HK), <, 60000);
  /* ... and ny, for whom it is 11:00 the same day, is not. */
  CHECK_INT(store_read_plan(k.c, k.ny, conv, r.seq, &p), ==, STORE_OK);
  CHECK(!p.reader_quiet);
  set_now(k.c, "2026-03-12 10:00 " HK);
  CHECK_INT(store_read_plan(k.c, k.hk, conv, r.seq, &p), ==, STORE_OK);
  CHECK(!p.reader_quiet);
  store_close(k.c);
}

TEST(report_counts_business_time)
{
  struct cast k = setup();
  struct store_report_query q = {.older_than_s = 7200};
  struct store_report rep;
  struct store_send m = {.sender_kind = STORE_PRINCIPAL_USER, .cmid = "e1",
                         .kind = STORE_MSG_TEXT, .body = "hi", .body_len = 2};
  struct store_send_result r;
  int64_t conv = 0, ids[1];

  ids[0] = k.ny;
  CHECK_INT(store_group_create(k.c, "G", k.root, STORE_TRACK_ALL, ids, 1,
                               &conv), ==, STORE_OK);
  m.sender_id = k.root;
  m.conversation_id = conv;
  /* Sent Wednesday 19:00 New York time; the report runs at 09:30 the next
   * morning: 2h30 of business time, not 14h30. */
  set_now(k.c, "2026-03-11 19:00 " NY);
  CHECK_INT(store_send_batch(k.c, &m, 1, &r), ==, STORE_OK);
  set_now(k.c, "2026-03-12 09:30 " NY);
  CHECK_INT(store_report_unread(k.c, k.root, &q, &rep), ==, STORE_OK);
  CHECK_UINT(rep.n_rows, ==, 1);
  CHECK_INT(rep.rows[0].user_id, ==, k.ny);
  /* (The two set_now calls each land a few ms after their mark.) */
  CHECK_INT(rep.rows[0].unread_s, >=, 9000 - 60);
  CHECK_INT(rep.rows[0].unread_s, <=, 9000 + 60);
  CHECK_INT(rep.now_ms - ms("2026-03-12 09:30 " NY), <, 60000);
  store_report_cleanup(&rep);
  /* At 09:00 it is 2h of business time: under a 2h30 threshold. */
  set_now(k.c, "2026-03-12 09:00 " NY);
  q.older_than_s = 9000;
  CHECK_INT(store_report_unread(k.c, k.root, &q, &rep), ==, STORE_OK);
  CHECK_UINT(rep.n_rows, ==, 0);
  store_report_cleanup(&rep);
  store_close(k.c);
}

static double ms_since(const struct timespec *t0)
{
  struct timespec t1;

  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* What business time costs per row, over 100,000 rows sent at random
 * instants over the past year, in both forms. Prints figures; checks
 * only that both forms agree. */
TEST(business_time_timing_printout)
{
  struct cast k = setup();
  struct timespec t0;
  char sql[1024];
  long long a, b;

  snprintf(sql, sizeof sql,
           "CREATE TABLE bt AS SELECT (ARRAY[%lld, %lld, %lld])"
           "[1 + i %% 3]::bigint AS u, timestamptz '2026-03-12 09:30Z'"
           " - (random() * 365 * 86400) * interval '1 second' AS sent"
           " FROM generate_series(1, 100000) i", (long long)k.ny,
           (long long)k.hk, (long long)k.utc);
  pgtest_exec(conninfo, sql);
  snprintf(sql, sizeof sql,
           "SELECT sum(herald_unread_seconds(u, sent,"
           " timestamptz '2026-03-12 09:30Z')) FROM bt");
  clock_gettime(CLOCK_MONOTONIC, &t0);
  a = pgtest_query_int(conninfo, sql);
  printf("herald_unread_seconds, one lookup per row: 100,000 rows in"
         " %.0f ms\n", ms_since(&t0));
  snprintf(sql, sizeof sql,
           "WITH p AS MATERIALIZED (SELECT r.u, p.*,"
           " herald_business_position(p.b, p.q, p.c, p.wq, p.t_at, p.t_cc,"
           " p.zone, timestamptz '2026-03-12 09:30Z') AS pos_now"
           " FROM (SELECT DISTINCT u FROM bt) r"
           " CROSS JOIN LATERAL herald_quiet_profile_of(r.u) p)"
           " SELECT sum(greatest(0::float8, floor(p.pos_now"
           " - herald_business_position(p.b, p.q, p.c, p.wq, p.t_at, p.t_cc,"
           " p.zone, bt.sent)))::bigint) FROM bt JOIN p ON p.u = bt.u");
  clock_gettime(CLOCK_MONOTONIC, &t0);
  b = pgtest_query_int(conninfo, sql);
  printf("business clock at now per user, at sent per row (as the report"
         " does):"
         " 100,000 rows in %.0f ms\n", ms_since(&t0));
  CHECK_INT(a, ==, b);
  CHECK_INT(a, >, 0);
  store_close(k.c);
}

TEST_MAIN()
