/*
 * test_authz.c — who may ask who_read and report_unread over WebSocket,
 * with the exact error codes of PROTOCOL.md: the sender, a reader who is
 * not the sender, a member who is neither, non-members (staff, a manager,
 * an admin), a bot; managers of one team and of another, an admin, staff;
 * report rows exactly the caller's scope, following the org tree as it
 * changes (heraldctl user set-manager); an audit row for every report run,
 * refused ones included.
 *
 * The cast (role, manager, department):
 *   ada   admin
 *   mei   manager  -    -     owns "Mei's" (bo)
 *   max   manager  -    -     owns "Owned" (dan)
 *   alex  staff    mei  Eng   owns "Chat" (bo, cy, mei) and "Quiet" (bo)
 *   bo    staff    mei  Eng
 *   cy    staff    max  Ops
 *   dan   staff    -    Ops
 *   eve   staff    -    -     joins "Chat" after its message
 *   relay a bot allowed in "Chat"
 * "Floor" (owned by ada): alex, bo, cy, dan, mei, max. Floor's and Owned's
 * messages are three hours old and unread; Chat's is tracked, Quiet's not.
 */
#include "check.h"
#include "e2e.h"
#include "peer.h"
#include "pgtest.h"
#include "rawws.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ADA, MEI, MAX, ALEX, BO, CY, DAN, EVE, NCAST };

static const char *const logins[NCAST] = {"ada", "mei", "max", "alex",
                                          "bo",  "cy",  "dan", "eve"};
static struct e2e_server srv;
static int64_t uid[NCAST];
static struct peer *pe[NCAST];
static int64_t chat, quiet, floor_c, owned, meis;
static char bot_token[44];
static uint64_t t_read;

static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql(const char *fmt, ...)
{
  char q[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(q, sizeof(q), fmt, ap);
  va_end(ap);
  pgtest_exec(srv.db, q);
}

static long long count(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static long long count(const char *fmt, ...)
{
  char q[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(q, sizeof(q), fmt, ap);
  va_end(ap);
  return e2e_query_int(&srv, q);
}

static void setup(void)
{
  struct timespec ts;
  int64_t m[6];

  e2e_server_init(&srv);
  uid[ADA] = e2e_org(&srv, "ada");
  for (int i = MEI; i < NCAST; i++)
    uid[i] = e2e_user(&srv, logins[i]);
  sql("INSERT INTO departments (name) VALUES ('Eng'), ('Ops')");
  sql("UPDATE users SET role = 'manager' WHERE login IN ('mei', 'max')");
  sql("UPDATE users SET manager_id = %lld WHERE login IN ('alex', 'bo')",
      (long long)uid[MEI]);
  sql("UPDATE users SET manager_id = %lld WHERE login = 'cy'",
      (long long)uid[MAX]);
  sql("UPDATE users SET department_id = (SELECT id FROM departments WHERE "
      "name = 'Eng') WHERE login IN ('alex', 'bo')");
  sql("UPDATE users SET department_id = (SELECT id FROM departments WHERE "
      "name = 'Ops') WHERE login IN ('cy', 'dan')");
  m[0] = uid[BO];
  m[1] = uid[CY];
  m[2] = uid[MEI];
  chat = e2e_group(&srv, "Chat", uid[ALEX], m, 3);
  quiet = e2e_group(&srv, "Quiet", uid[ALEX], &uid[BO], 1);
  sql("UPDATE conversations SET tracking = 'off' WHERE id = %lld",
      (long long)quiet);
  owned = e2e_group(&srv, "Owned", uid[MAX], &uid[DAN], 1);
  meis = e2e_group(&srv, "Mei's", uid[MEI], &uid[BO], 1);
  m[0] = uid[ALEX];
  m[1] = uid[BO];
  m[2] = uid[CY];
  m[3] = uid[DAN];
  m[4] = uid[MEI];
  m[5] = uid[MAX];
  floor_c = e2e_group(&srv, "Floor", uid[ADA], m, 6);
  e2e_bot(&srv, "relay", uid[ALEX], &chat, 1, bot_token);
  /* Read times are recorded only outside quiet hours (test_quiet.c). */
  pgtest_exec(srv.db, "DELETE FROM quiet_windows");
  e2e_server_start(&srv, NULL);
  for (int i = 0; i < NCAST; i++)
    pe[i] = peer_new(srv.url, logins[i], NULL, true);

  peer_say(pe[ALEX], (uint64_t)chat, "tracked");
  peer_say(pe[ALEX], (uint64_t)quiet, "not tracked");
  peer_say(pe[ADA], (uint64_t)floor_c, "status?");
  peer_say(pe[MAX], (uint64_t)owned, "status?");
  /* Floor's and Owned's messages are overdue; Chat's is an hour old, so
   * no report lists it. */
  sql("UPDATE messages SET sent_at = now() - CASE WHEN conversation_id IN "
      "(%lld, %lld) THEN interval '3 hours' ELSE interval '1 hour' END",
      (long long)floor_c, (long long)owned);
  /* bo read Chat's message half an hour ago. */
  clock_gettime(CLOCK_REALTIME, &ts);
  t_read = (uint64_t)ts.tv_sec * 1000 - 30 * 60000;
  CHECK_INT(peer_read_at(pe[BO], (uint64_t)chat, 1, t_read), ==, 0);
}

static void teardown(void)
{
  for (int i = 0; i < NCAST; i++)
    peer_free(pe[i]);
  e2e_server_stop(&srv);
}

/* A bot connection: hello with the token, then one request; returns the
 * error code of the reply (0 for a non-error reply). */
static int bot_request(struct proto_frame *f)
{
  struct rawws *r = rawws_connect(srv.port);
  struct proto_frame h, reply;
  int rc;

  CHECK(r != NULL);
  proto_frame_init(&h, PROTO_T_HELLO);
  h.id = 1;
  h.u.hello.token = (struct proto_str){bot_token, strlen(bot_token)};
  h.u.hello.dev = (struct proto_str){"bot", 3};
  rawws_send_frame(r, &h);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_WELCOME, 10000, &reply), ==, 0);
  CHECK_INT(reply.u.welcome.role, ==, PROTO_ROLE_BOT);
  proto_frame_cleanup(&reply);
  f->id = 2;
  rawws_send_frame(r, f);
  for (;;) {
    CHECK_INT(rawws_wait_frame(r, PROTO_T_NONE, 10000, &reply), ==, 0);
    if (reply.id == 2)
      break;
    proto_frame_cleanup(&reply);       /* something pushed: not ours */
  }
  rc = reply.type == PROTO_T_ERROR ? -(int)reply.u.error.code : 0;
  proto_frame_cleanup(&reply);
  rawws_free(r);
  return rc;
}

/* ------------------------------------------------------------------------ */

static int who(int caller, int64_t conv, uint64_t seq, struct proto_frame *w)
{
  int rc = peer_who_read(pe[caller], (uint64_t)conv, seq, w);

  if (rc != 0)
    proto_frame_cleanup(w);            /* the error frame */
  return rc;
}

/* Who gets what from who_read of Chat's message (sender alex). */
TEST(who_read_matrix)
{
  struct proto_frame w, f;
  const struct proto_who_row *r;

  setup();
  /* The sender: every recipient, bo's time to the minute. */
  CHECK_INT(who(ALEX, chat, 1, &w), ==, 0);
  CHECK_UINT(w.u.who_read_result.nrows, ==, 3);
  CHECK((r = peer_who_row(&w, (uint64_t)uid[BO])) != NULL);
  CHECK(r->read);
  CHECK_UINT(r->at, ==, t_read - t_read % 60000);
  CHECK((r = peer_who_row(&w, (uint64_t)uid[CY])) != NULL);
  CHECK(!r->read && r->at == 0);
  CHECK((r = peer_who_row(&w, (uint64_t)uid[MEI])) != NULL);
  CHECK(!r->read);
  proto_frame_cleanup(&w);

  /* A reader who is not the sender: their own row, with its time. */
  CHECK_INT(who(BO, chat, 1, &w), ==, 0);
  CHECK_UINT(w.u.who_read_result.nrows, ==, 1);
  CHECK_UINT(w.u.who_read_result.rows[0].uid, ==, (uint64_t)uid[BO]);
  CHECK_UINT(w.u.who_read_result.rows[0].at, ==, t_read - t_read % 60000);
  proto_frame_cleanup(&w);
  /* A recipient who has not read it: their own row. */
  CHECK_INT(who(CY, chat, 1, &w), ==, 0);
  CHECK_UINT(w.u.who_read_result.nrows, ==, 1);
  CHECK_UINT(w.u.who_read_result.rows[0].uid, ==, (uint64_t)uid[CY]);
  CHECK(!w.u.who_read_result.rows[0].read);
  proto_frame_cleanup(&w);
  /* The manager of sender and reader, a member: still only her own row,
   * never bo's time. */
  CHECK_INT(who(MEI, chat, 1, &w), ==, 0);
  CHECK_UINT(w.u.who_read_result.nrows, ==, 1);
  CHECK_UINT(w.u.who_read_result.rows[0].uid, ==, (uint64_t)uid[MEI]);
  proto_frame_cleanup(&w);

  /* Non-members learn nothing, whatever their role. */
  CHECK_INT(who(MAX, chat, 1, &w), ==, PROTO_E_NOT_FOUND);
  CHECK_INT(who(ADA, chat, 1, &w), ==, PROTO_E_NOT_FOUND);
  CHECK_INT(who(DAN, chat, 1, &w), ==, PROTO_E_NOT_FOUND);
  /* No such message; a message without receipts. */
  CHECK_INT(who(ALEX, chat, 99, &w), ==, PROTO_E_NOT_FOUND);
  CHECK_INT(who(ALEX, quiet, 1, &w), ==, PROTO_E_BAD_VALUE);
  CHECK_INT(who(BO, quiet, 1, &w), ==, PROTO_E_BAD_VALUE);

  /* A member who joined after the message: neither sender nor recipient. */
  proto_frame_init(&f, PROTO_T_CONV_ADD_MEMBER);
  f.u.conv_add_member.conv = (uint64_t)chat;
  f.u.conv_add_member.uid = (uint64_t)uid[EVE];
  CHECK_INT(peer_request(pe[ALEX], &f, &w), ==, 0);
  proto_frame_cleanup(&w);
  CHECK_INT(who(EVE, chat, 1, &w), ==, PROTO_E_FORBIDDEN);

  /* A bot, even one allowed in the conversation. */
  proto_frame_init(&f, PROTO_T_WHO_READ);
  f.u.who_read.conv = (uint64_t)chat;
  f.u.who_read.seq = 1;
  CHECK_INT(bot_request(&f), ==, PROTO_E_BOT_AS_USER);
  proto_frame_init(&f, PROTO_T_READ);
  f.u.read.conv = (uint64_t)chat;
  f.u.read.seq = 1;
  CHECK_INT(bot_request(&f), ==, PROTO_E_BOT_AS_USER);
  teardown();
}

/* ------------------------------------------------------------------------ */

struct want {
  int who;
  int64_t conv;
};

static int runs, refused, not_found;

static int report_q(int caller, enum proto_scope scope, int64_t conv,
                    const char *dept, struct proto_frame *r)
{
  struct proto_frame f;
  int rc;

  proto_frame_init(&f, PROTO_T_REPORT_UNREAD);
  f.u.report_unread.older = 2 * 3600;
  f.u.report_unread.scope = scope;
  f.u.report_unread.conv = (uint64_t)conv;
  if (dept)
    f.u.report_unread.dept = (struct proto_str){dept, strlen(dept)};
  rc = peer_request(pe[caller], &f, r);
  if (rc != 0)
    proto_frame_cleanup(r);            /* the error frame */
  runs++;
  refused += rc == PROTO_E_FORBIDDEN;
  not_found += rc == PROTO_E_NOT_FOUND;
  return rc;
}

/* The report of `caller` must hold exactly the rows in `w` (one unread
 * message per conversation here, so (recipient, conversation) names a
 * row), and the per-recipient totals must agree. */
static void expect_rows(int caller, enum proto_scope scope, int64_t conv,
                        const char *dept, const struct want *w, size_t n)
{
  struct proto_frame r;

  CHECK_INT(report_q(caller, scope, conv, dept, &r), ==, 0);
  if (r.u.report_result.nrows != n) {
    for (size_t i = 0; i < r.u.report_result.nrows; i++)
      fprintf(stderr, "  row: user %llu conv %llu\n",
              (unsigned long long)r.u.report_result.rows[i].uid,
              (unsigned long long)r.u.report_result.rows[i].conv);
    CHECK_FAIL("%s's report (scope %d, conv %lld, dept %s): %zu rows, "
               "expected %zu", logins[caller], (int)scope, (long long)conv,
               dept ? dept : "-", r.u.report_result.nrows, n);
  }
  for (size_t k = 0; k < n; k++) {
    bool found = false;

    for (size_t i = 0; i < r.u.report_result.nrows; i++)
      found |= r.u.report_result.rows[i].uid == (uint64_t)uid[w[k].who] &&
               r.u.report_result.rows[i].conv == (uint64_t)w[k].conv &&
               r.u.report_result.rows[i].seq == 1;
    if (!found)
      CHECK_FAIL("%s's report lacks %s in conversation %lld", logins[caller],
                 logins[w[k].who], (long long)w[k].conv);
  }
  for (size_t i = 0; i < r.u.report_result.nusers; i++) {
    size_t rows = 0;

    for (size_t k = 0; k < n; k++)
      rows += r.u.report_result.users[i].uid == (uint64_t)uid[w[k].who];
    CHECK_UINT(r.u.report_result.users[i].unread, ==, rows);
  }
  proto_frame_cleanup(&r);
}

TEST(report_unread_matrix)
{
  struct proto_frame r, f;
  char cmd[1024];
  const char *ctl = getenv("HERALDCTL");

  setup();
  {
    /* The admin: everyone, Floor's six recipients and dan in Owned. */
    const struct want all[] = {{ALEX, floor_c}, {BO, floor_c}, {CY, floor_c},
                               {DAN, floor_c},  {MEI, floor_c}, {MAX, floor_c},
                               {DAN, owned}};
    /* mei: her team (alex, bo); her own group has nothing unread. */
    const struct want mei[] = {{ALEX, floor_c}, {BO, floor_c}};
    /* max: his team (cy) and the members of the group he owns (dan). */
    const struct want max[] = {{CY, floor_c}, {DAN, owned}};

    expect_rows(ADA, PROTO_SCOPE_NONE, 0, NULL, all, 7);
    expect_rows(ADA, PROTO_SCOPE_ORG, 0, NULL, all, 7);
    expect_rows(ADA, PROTO_SCOPE_NONE, owned, NULL, &all[6], 1);
    expect_rows(MEI, PROTO_SCOPE_NONE, 0, NULL, mei, 2);
    expect_rows(MEI, PROTO_SCOPE_NONE, 0, "Eng", mei, 2);
    expect_rows(MEI, PROTO_SCOPE_NONE, meis, NULL, NULL, 0);
    expect_rows(MAX, PROTO_SCOPE_NONE, 0, NULL, max, 2);
    expect_rows(MAX, PROTO_SCOPE_TEAM, 0, NULL, max, 1);
    expect_rows(MAX, PROTO_SCOPE_OWNED, 0, NULL, &max[1], 1);
    expect_rows(MAX, PROTO_SCOPE_NONE, floor_c, NULL, max, 1);
    expect_rows(MAX, PROTO_SCOPE_NONE, 0, "ops", max, 2);
  }
  /* Outside the caller's reach: the organisation, another manager's
   * group, a department with nobody of theirs in it. */
  CHECK_INT(report_q(MAX, PROTO_SCOPE_ORG, 0, NULL, &r), ==,
            PROTO_E_FORBIDDEN);
  CHECK_INT(report_q(MAX, PROTO_SCOPE_NONE, meis, NULL, &r), ==,
            PROTO_E_FORBIDDEN);
  CHECK_INT(report_q(MAX, PROTO_SCOPE_NONE, 0, "Eng", &r), ==,
            PROTO_E_FORBIDDEN);
  CHECK_INT(report_q(MEI, PROTO_SCOPE_OWNED, owned, NULL, &r), ==,
            PROTO_E_FORBIDDEN);
  /* Unknown filters. */
  CHECK_INT(report_q(MAX, PROTO_SCOPE_NONE, 987654, NULL, &r), ==,
            PROTO_E_NOT_FOUND);
  CHECK_INT(report_q(ADA, PROTO_SCOPE_NONE, 0, "Nowhere", &r), ==,
            PROTO_E_NOT_FOUND);
  /* Staff: the sender, a reader, one who owns groups, one in nothing's
   * scope. */
  CHECK_INT(report_q(ALEX, PROTO_SCOPE_NONE, 0, NULL, &r), ==,
            PROTO_E_FORBIDDEN);
  CHECK_INT(report_q(BO, PROTO_SCOPE_NONE, 0, NULL, &r), ==,
            PROTO_E_FORBIDDEN);
  CHECK_INT(report_q(DAN, PROTO_SCOPE_NONE, floor_c, NULL, &r), ==,
            PROTO_E_FORBIDDEN);
  CHECK_INT(report_q(EVE, PROTO_SCOPE_TEAM, 0, NULL, &r), ==,
            PROTO_E_FORBIDDEN);
  /* A bot. */
  proto_frame_init(&f, PROTO_T_REPORT_UNREAD);
  CHECK_INT(bot_request(&f), ==, PROTO_E_FORBIDDEN);
  runs++;
  refused++;

  /* bo moves to max's team (the CLI, on the running server's database):
   * the next reports follow. */
  CHECK(ctl != NULL);
  snprintf(cmd, sizeof(cmd), "'%s' --db '%s' user set-manager bo --manager "
           "max >/dev/null", ctl, srv.db);
  CHECK_INT(system(cmd), ==, 0);
  {
    const struct want mei[] = {{ALEX, floor_c}};
    const struct want max[] = {{BO, floor_c}, {CY, floor_c}, {DAN, owned}};

    expect_rows(MEI, PROTO_SCOPE_NONE, 0, NULL, mei, 1);
    expect_rows(MAX, PROTO_SCOPE_NONE, 0, NULL, max, 3);
  }
  /* Reading removes a row from every report that had it. */
  CHECK_INT(peer_read_at(pe[CY], (uint64_t)floor_c, 1, 0), ==, 0);
  {
    const struct want max[] = {{BO, floor_c}, {DAN, owned}};

    expect_rows(MAX, PROTO_SCOPE_NONE, 0, NULL, max, 2);
  }

  /* Every run left exactly one audit row, with its outcome. */
  CHECK_INT(count("SELECT count(*) FROM audit_log WHERE action = "
                  "'report.unread'"), ==, runs);
  CHECK_INT(count("SELECT count(*) FROM audit_log WHERE action = "
                  "'report.unread' AND detail->>'outcome' = 'refused'"), ==,
            refused);
  CHECK_INT(count("SELECT count(*) FROM audit_log WHERE action = "
                  "'report.unread' AND detail->>'outcome' = 'not_found'"), ==,
            not_found);
  CHECK_INT(count("SELECT count(*) FROM audit_log WHERE action = "
                  "'report.unread' AND actor = 'bot:relay' AND actor_user_id "
                  "IS NULL AND detail->>'outcome' = 'refused'"), ==, 1);
  CHECK_INT(count("SELECT count(*) FROM audit_log WHERE action = "
                  "'report.unread' AND actor = 'max' AND actor_user_id = %lld",
                  (long long)uid[MAX]), >=, 10);
  CHECK_INT(refused, ==, 9);
  CHECK_INT(not_found, ==, 2);
  teardown();
}

TEST_MAIN()
