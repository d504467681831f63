/*
 * test_quiet.c — quiet hours end to end, with the real heraldd on the test
 * clock (test-clock-file): the welcome's state, quiet_get and quiet_set
 * (a bad zone is BAD_VALUE naming `tz`), the live quiet_state push when
 * the clock passes 20:00 by itself and when it jumps past 08:00, silent
 * delivery at 21:00 and not at 10:00, a read at 23:00 recorded as read
 * without a time, and an unread report at 09:30 counting 2h30 of business
 * time for a message sent at 19:00.
 *
 * nina and sam live in America/New_York; the clock starts on Wednesday
 * 2026-03-11 at 19:00 there and only moves forward.
 */
#include "check.h"
#include "e2e.h"
#include "pgtest.h"
#include "rawws.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NY "America/New_York"

static struct e2e_server srv;
static int64_t group;

static struct proto_str str(const char *s)
{
  return (struct proto_str){s, strlen(s)};
}

/* Logs in over a raw connection and syncs; *welcome gets the welcome. */
static struct rawws *connect_as(const char *login, struct proto_frame *welcome)
{
  struct rawws *r = rawws_connect(srv.port);
  struct proto_frame f, reply;
  char pw[64];

  CHECK(r != NULL);
  snprintf(pw, sizeof(pw), "pw-%s", login);
  proto_frame_init(&f, PROTO_T_LOGIN);
  f.id = 1;
  f.u.login.login = str(login);
  f.u.login.pass = str(pw);
  f.u.login.dev = str("e2e-quiet");
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_WELCOME, 15000, welcome), ==, 0);
  proto_frame_init(&f, PROTO_T_SYNC);
  f.id = 2;
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_SYNCED, 15000, &reply), ==, 0);
  proto_frame_cleanup(&reply);
  return r;
}

/* Sends `f` and waits for a frame of type `t` (or an error) answering it. */
static void request(struct rawws *r, struct proto_frame *f, enum proto_type t,
                    struct proto_frame *reply)
{
  static uint64_t next_id = 100;

  f->id = ++next_id;
  rawws_send_frame(r, f);
  for (;;) {
    CHECK_INT(rawws_wait_frame(r, PROTO_T_NONE, 15000, reply), ==, 0);
    if (reply->id == f->id && (reply->type == t ||
                               reply->type == PROTO_T_ERROR))
      return;
    proto_frame_cleanup(reply);
  }
}

/* ada posts `body` in the group; returns its seq. */
static uint64_t post(struct rawws *ada, const char *cmid, const char *body)
{
  struct proto_frame f, ack;
  uint64_t seq;

  proto_frame_init(&f, PROTO_T_SEND);
  f.u.send.cmid = str(cmid);
  f.u.send.conv = (uint64_t)group;
  f.u.send.kind = PROTO_KIND_TEXT;
  f.u.send.body = str(body);
  request(ada, &f, PROTO_T_ACK, &ack);
  CHECK_INT(ack.type, ==, PROTO_T_ACK);
  seq = ack.u.ack.seq;
  proto_frame_cleanup(&ack);
  return seq;
}

/* The next msg of the group on `r`, which must be `seq`; returns its
 * silent flag. */
static bool next_msg(struct rawws *r, uint64_t seq)
{
  struct proto_frame m;
  bool silent;

  CHECK_INT(rawws_wait_frame(r, PROTO_T_MSG, 15000, &m), ==, 0);
  CHECK_UINT(m.u.msg.seq, ==, seq);
  silent = m.u.msg.silent;
  proto_frame_cleanup(&m);
  return silent;
}

TEST(quiet_hours_end_to_end)
{
  int64_t ada, nina, sam, ids[2];
  struct rawws *ra, *rn, *rs;
  struct proto_frame w, f, r;
  struct proto_window win[1];
  uint64_t s1, s2, s3;

  e2e_server_init(&srv);
  ada = e2e_org(&srv, "ada");
  e2e_quiet_org_default(&srv);
  nina = e2e_user_tz(&srv, "nina", NY);
  sam = e2e_user_tz(&srv, "sam", NY);
  ids[0] = nina;
  ids[1] = sam;
  group = e2e_group(&srv, "Evening", ada, ids, 2);
  e2e_clock_use(&srv, e2e_ms(&srv, "2026-03-11 19:00 " NY));
  e2e_server_start(&srv, NULL);
  CHECK_INT(e2e_log_count(&srv, "never use it in production"), ==, 1);

  /* Wednesday 19:00 in New York: not quiet; quiet from 20:00. */
  rn = connect_as("nina", &w);
  CHECK(!w.u.welcome.quiet.in_quiet);
  CHECK_UINT(w.u.welcome.quiet.next, ==,
             (uint64_t)e2e_ms(&srv, "2026-03-11 20:00 " NY));
  CHECK_UINT(w.u.welcome.quiet.tz.len, ==, strlen(NY));
  CHECK_UINT(w.u.welcome.quiet.norg, ==, 8);
  CHECK_INT((int64_t)w.u.welcome.now - e2e_ms(&srv, "2026-03-11 19:00 " NY),
            <, 60000);
  proto_frame_cleanup(&w);
  rs = connect_as("sam", &w);
  proto_frame_cleanup(&w);
  ra = connect_as("ada", &w);
  CHECK(w.u.welcome.quiet.in_quiet);    /* UTC: 23:00 there */
  proto_frame_cleanup(&w);

  /* quiet_get; quiet_set with a zone that does not exist; then a real
   * change (an hour on Saturdays, already quiet: changes nothing). */
  proto_frame_init(&f, PROTO_T_QUIET_GET);
  request(rn, &f, PROTO_T_QUIET_STATE, &r);
  CHECK_INT(r.type, ==, PROTO_T_QUIET_STATE);
  CHECK(!r.u.quiet_state.in_quiet);
  CHECK_UINT(r.u.quiet_state.nown, ==, 0);
  proto_frame_cleanup(&r);
  win[0] = (struct proto_window){6, 600, 660};
  proto_frame_init(&f, PROTO_T_QUIET_SET);
  f.u.quiet_set.win = win;
  f.u.quiet_set.nwin = 1;
  f.u.quiet_set.tz = str("Mars/Olympus_Mons");
  request(rn, &f, PROTO_T_QUIET_STATE, &r);
  CHECK_INT(r.type, ==, PROTO_T_ERROR);
  CHECK_INT(-(int)r.u.error.code, ==, PROTO_E_BAD_VALUE);
  CHECK_UINT(r.u.error.field.len, ==, 2);
  CHECK(memcmp(r.u.error.field.p, "tz", 2) == 0);
  proto_frame_cleanup(&r);
  f.u.quiet_set.tz = str(NY);
  request(rn, &f, PROTO_T_QUIET_STATE, &r);
  CHECK_INT(r.type, ==, PROTO_T_QUIET_STATE);
  CHECK_UINT(r.u.quiet_state.nown, ==, 1);
  CHECK_UINT(r.u.quiet_state.own[0].day, ==, 6);
  CHECK_UINT(r.u.quiet_state.own[0].start, ==, 600);
  proto_frame_cleanup(&r);
  /* Without tz the zone stays (the field is optional: no zone bytes). */
  f.u.quiet_set.tz = (struct proto_str){0};
  request(rn, &f, PROTO_T_QUIET_STATE, &r);
  CHECK_INT(r.type, ==, PROTO_T_QUIET_STATE);
  CHECK_UINT(r.u.quiet_state.nown, ==, 1);
  CHECK_UINT(r.u.quiet_state.tz.len, ==, strlen(NY));
  proto_frame_cleanup(&r);

  /* 19:00: delivered with the alert. */
  s1 = post(ra, "q-1", "status at seven?");
  CHECK(!next_msg(rn, s1));
  CHECK(!next_msg(rs, s1));

  /* The clock reaches 20:00 by itself: nina is told, without asking. */
  e2e_clock_set(&srv, e2e_ms(&srv, "2026-03-11 19:59:58 " NY));
  CHECK_INT(rawws_wait_frame(rn, PROTO_T_QUIET_STATE, 15000, &r), ==, 0);
  CHECK_UINT(r.id, ==, 0);
  CHECK(r.u.quiet_state.in_quiet);
  CHECK_UINT(r.u.quiet_state.until, ==,
             (uint64_t)e2e_ms(&srv, "2026-03-12 08:00 " NY));
  proto_frame_cleanup(&r);

  /* 21:00: silent. */
  e2e_clock_set(&srv, e2e_ms(&srv, "2026-03-11 21:00 " NY));
  s2 = post(ra, "q-2", "one more thing");
  CHECK(next_msg(rn, s2));
  CHECK(next_msg(rs, s2));

  /* 23:00: nina reads; read, but no time recorded. */
  e2e_clock_set(&srv, e2e_ms(&srv, "2026-03-11 23:00 " NY));
  proto_frame_init(&f, PROTO_T_READ);
  f.u.read.conv = (uint64_t)group;
  f.u.read.seq = s2;
  request(rn, &f, PROTO_T_RESULT, &r);
  CHECK_INT(r.type, ==, PROTO_T_RESULT);
  proto_frame_cleanup(&r);
  proto_frame_init(&f, PROTO_T_WHO_READ);
  f.u.who_read.conv = (uint64_t)group;
  f.u.who_read.seq = s2;
  request(ra, &f, PROTO_T_WHO_READ_RESULT, &r);
  CHECK_INT(r.type, ==, PROTO_T_WHO_READ_RESULT);
  for (size_t i = 0; i < r.u.who_read_result.nrows; i++) {
    const struct proto_who_row *row = &r.u.who_read_result.rows[i];

    if (row->uid == (uint64_t)nina) {
      CHECK(row->read);
      CHECK_UINT(row->at, ==, 0);
    } else {
      CHECK_UINT(row->uid, ==, (uint64_t)sam);
      CHECK(!row->read);
    }
  }
  CHECK_UINT(r.u.who_read_result.nrows, ==, 2);
  proto_frame_cleanup(&r);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM read_ranges WHERE "
                                "read_time_sealed IS NULL"), ==, 1);

  /* Thursday 09:30: the jump past 08:00 is pushed; sam's message from
   * 19:00 has been unread for 2h30 of business time (19:00-20:00 and
   * 08:00-09:30), not 14h30. */
  e2e_clock_set(&srv, e2e_ms(&srv, "2026-03-12 09:30 " NY));
  CHECK_INT(rawws_wait_frame(rn, PROTO_T_QUIET_STATE, 15000, &r), ==, 0);
  CHECK(!r.u.quiet_state.in_quiet);
  CHECK_UINT(r.u.quiet_state.next, ==,
             (uint64_t)e2e_ms(&srv, "2026-03-12 20:00 " NY));
  proto_frame_cleanup(&r);
  proto_frame_init(&f, PROTO_T_REPORT_UNREAD);
  f.u.report_unread.older = 7200;
  request(ra, &f, PROTO_T_REPORT_RESULT, &r);
  CHECK_INT(r.type, ==, PROTO_T_REPORT_RESULT);
  CHECK_UINT(r.u.report_result.nrows, ==, 1);   /* s2: 1h30, under 2h */
  CHECK_UINT(r.u.report_result.rows[0].uid, ==, (uint64_t)sam);
  CHECK_UINT(r.u.report_result.rows[0].seq, ==, s1);
  CHECK_INT((int64_t)r.u.report_result.rows[0].unread_s, >=, 9000 - 60);
  CHECK_INT((int64_t)r.u.report_result.rows[0].unread_s, <=, 9000 + 60);
  proto_frame_cleanup(&r);

  /* 10:00: delivered with the alert again. */
  e2e_clock_set(&srv, e2e_ms(&srv, "2026-03-12 10:00 " NY));
  s3 = post(ra, "q-3", "good morning");
  CHECK(!next_msg(rn, s3));
  CHECK(!next_msg(rs, s3));

  rawws_free(rn);
  rawws_free(rs);
  rawws_free(ra);
  e2e_server_stop(&srv);
}

/* The test clock refuses what it cannot use, and frames carry its time. */
TEST(test_clock_input)
{
  struct proto_frame w, f, r;
  struct rawws *ra;
  FILE *fp;
  int64_t at;

  e2e_server_init(&srv);
  e2e_org(&srv, "ada");
  e2e_quiet_org_default(&srv);
  at = e2e_ms(&srv, "2031-06-02 12:00Z");
  e2e_clock_use(&srv, at);
  e2e_server_start(&srv, NULL);
  ra = connect_as("ada", &w);
  CHECK_INT((int64_t)w.u.welcome.now - at, <, 60000);
  CHECK_INT((int64_t)w.u.welcome.now - at, >=, 0);
  proto_frame_cleanup(&w);
  /* Not an integer: refused, the clock stays. */
  CHECK((fp = fopen(srv.clock_file, "w")) != NULL);
  fputs("tomorrow\n", fp);
  fclose(fp);
  kill(srv.pid, SIGUSR2);
  for (int i = 0; i < 500 && !e2e_log_count(&srv, "offset unchanged"); i++)
    usleep(10000);
  CHECK_INT(e2e_log_count(&srv, "must hold one integer"), ==, 1);
  /* Backwards: refused. */
  CHECK((fp = fopen(srv.clock_file, "w")) != NULL);
  fprintf(fp, "%lld\n", (long long)(srv.clock_offset_ms - 3600000));
  fclose(fp);
  kill(srv.pid, SIGUSR2);
  for (int i = 0; i < 500 && !e2e_log_count(&srv, "only moves forward");
       i++)
    usleep(10000);
  CHECK_INT(e2e_log_count(&srv, "only moves forward"), ==, 1);
  /* A day forward: pong's server time follows. */
  e2e_clock_advance(&srv, 86400);
  proto_frame_init(&f, PROTO_T_PING);
  request(ra, &f, PROTO_T_PONG, &r);
  CHECK_INT(r.type, ==, PROTO_T_PONG);
  CHECK_INT((int64_t)r.u.pong.now - (at + 86400000), <, 60000);
  CHECK_INT((int64_t)r.u.pong.now - (at + 86400000), >=, 0);
  proto_frame_cleanup(&r);
  rawws_free(ra);
  e2e_server_stop(&srv);
  /* A restarted server reads the same offset: its clock continues. */
  e2e_server_start(&srv, NULL);
  ra = connect_as("ada", &w);
  CHECK_INT((int64_t)w.u.welcome.now - (at + 86400000), <, 60000);
  proto_frame_cleanup(&w);
  rawws_free(ra);
  e2e_server_stop(&srv);
}

TEST_MAIN()
