/*
 * test_privacy.c — read times as personal data, end to end (SPEC §5):
 * a dump of the database holds no read time in any form; a sealed time
 * moved to another row, or altered, does not open (who_read shows the row
 * as read without a time and the server logs the failure, not the data);
 * erasing a user (heraldctl user erase) makes their read times
 * unrecoverable at once and changes nothing else.
 *
 * Read times here are replayed with an explicit `at` two days back, so that
 * they differ from every time the server itself records (sent_at is
 * backdated three days, recorded_at and the rest are now): finding one of
 * them in the dump could only mean the read time leaked.
 */
#include "check.h"
#include "e2e.h"
#include "peer.h"
#include "pgtest.h"
#include "stored.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_MS 60000
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

static uint64_t wall_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void backdate_messages(struct e2e_server *srv, const char *interval)
{
  char sql[200];

  snprintf(sql, sizeof(sql), "UPDATE messages SET sent_at = now() - "
           "interval '%s'", interval);
  pgtest_exec(srv->db, sql);
}

/* who_read of conv:seq by p must show `uid` as read at the minute of
 * at_ms (0: read without a time). */
static void expect_read(struct peer *p, int64_t conv, uint64_t seq,
                        int64_t uid, uint64_t at_ms)
{
  struct proto_frame w;
  const struct proto_who_row *r;

  CHECK_INT(peer_who_read(p, (uint64_t)conv, seq, &w), ==, 0);
  r = peer_who_row(&w, (uint64_t)uid);
  if (!r)
    CHECK_FAIL("%s: who_read %lld:%llu has no row for user %lld", p->name,
               (long long)conv, (unsigned long long)seq, (long long)uid);
  CHECK(r->read);
  CHECK_UINT(r->at, ==, at_ms - at_ms % MIN_MS);
  proto_frame_cleanup(&w);
}

static void expect_stored(struct e2e_server *srv, int64_t conv, int64_t seq,
                          int64_t reader, uint64_t at_ms)
{
  int64_t ms = 0;

  CHECK_INT(stored_read_time(srv, conv, seq, reader, &ms), ==,
            STORED_TIME_OK);
  CHECK_INT(ms, ==, (int64_t)at_ms);
}

/* ------------------------------------------------------------------------ */

TEST(dump_holds_no_read_time)
{
  struct e2e_server srv;
  int64_t alice, bob, carol, g, g2, ids[2];
  struct peer *pa, *pb, *pc;
  uint64_t now, t[4], sent;
  char *dump, *log, first[64];

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  carol = e2e_user(&srv, "carol");
  ids[0] = bob;
  ids[1] = carol;
  g = e2e_group(&srv, "Privacy", alice, ids, 2);
  g2 = e2e_group(&srv, "Second", alice, &bob, 1);
  /* Read times are recorded only outside quiet hours (test_quiet.c). */
  pgtest_exec(srv.db, "DELETE FROM quiet_windows");
  e2e_server_start(&srv, NULL);
  pa = peer_new(srv.url, "alice", NULL, true);
  pb = peer_new(srv.url, "bob", NULL, true);
  pc = peer_new(srv.url, "carol", NULL, true);
  for (int i = 0; i < 3; i++)
    peer_say(pa, (uint64_t)g, "tracked");
  peer_say(pa, (uint64_t)g2, "tracked too");
  backdate_messages(&srv, "3 days");

  /* Offline reads replayed with odd seconds and milliseconds, minutes
   * apart: bob 1 and 2..3, carol 1..3, bob in the second group. */
  now = wall_ms();
  t[0] = now - 2 * DAY_MS - HOUR_MS + 17123;
  t[1] = now - 2 * DAY_MS - 20 * MIN_MS + 41456;
  t[2] = now - 2 * DAY_MS + 25 * MIN_MS + 5789;
  t[3] = now - 2 * DAY_MS + HOUR_MS + 33012;
  CHECK_INT(peer_read_at(pb, (uint64_t)g, 1, t[0]), ==, 0);
  CHECK_INT(peer_read_at(pb, (uint64_t)g, 3, t[1]), ==, 0);
  CHECK_INT(peer_read_at(pc, (uint64_t)g, 3, t[2]), ==, 0);
  CHECK_INT(peer_read_at(pb, (uint64_t)g2, 1, t[3]), ==, 0);

  /* They were recorded, to the millisecond (sealed), and the sender sees
   * them to the minute. */
  expect_stored(&srv, g, 1, bob, t[0]);
  expect_stored(&srv, g, 2, bob, t[1]);
  expect_stored(&srv, g, 3, bob, t[1]);
  expect_stored(&srv, g, 1, carol, t[2]);
  expect_stored(&srv, g2, 1, bob, t[3]);
  expect_read(pa, g, 1, bob, t[0]);
  expect_read(pa, g, 3, bob, t[1]);
  expect_read(pa, g, 3, carol, t[2]);
  expect_read(pa, g2, 1, bob, t[3]);

  /* The dump holds none of them, in any form; the search does find the
   * (plaintext, not personal) send time, so it would find a read time. */
  dump = stored_dump(&srv);
  sent = (uint64_t)e2e_query_int(&srv, "SELECT floor(extract(epoch FROM "
                                       "min(sent_at)) * 1000) FROM messages");
  CHECK_INT(stored_time_hits(dump, (int64_t)sent, first, sizeof(first)), >,
            0);
  for (size_t i = 0; i < 4; i++)
    if (stored_time_hits(dump, (int64_t)t[i], first, sizeof(first)) != 0)
      CHECK_FAIL("the dump holds read time %zu as \"%s\"", i, first);
  /* recorded_at is the server's record time (for retention), not the
   * read time: now, two days after these reads. */
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM read_ranges WHERE "
                                "recorded_at > now() - interval '1 hour'"),
            ==, 4);
  free(dump);

  /* Nor does the server's log. */
  log = stored_file(srv.log);
  for (size_t i = 0; i < 4; i++)
    if (stored_time_hits(log, (int64_t)t[i], first, sizeof(first)) != 0)
      CHECK_FAIL("the server log holds read time %zu as \"%s\"", i, first);
  free(log);

  peer_free(pa);
  peer_free(pb);
  peer_free(pc);
  e2e_server_stop(&srv);
}

/* ------------------------------------------------------------------------ */

struct sealed_row {
  int64_t conv, reader, from;
  char hex[2 * 128 + 1];      /* the original blob */
};

static void save_row(struct e2e_server *srv, struct sealed_row *r)
{
  char sql[300];

  snprintf(sql, sizeof(sql), "SELECT encode(read_time_sealed, 'hex') FROM "
           "read_ranges WHERE conversation_id = %lld AND reader_id = %lld AND "
           "from_seq = %lld", (long long)r->conv, (long long)r->reader,
           (long long)r->from);
  pgtest_query_text(srv->db, sql, r->hex, sizeof(r->hex));
  CHECK_UINT(strlen(r->hex), ==, 96);
}

/* Writes `hex` into row r (the blob of another row, or r's own again). */
static void put_blob(struct e2e_server *srv, const struct sealed_row *r,
                     const char *hex)
{
  char sql[500];

  snprintf(sql, sizeof(sql), "UPDATE read_ranges SET read_time_sealed = "
           "decode('%s', 'hex') WHERE conversation_id = %lld AND reader_id = "
           "%lld AND from_seq = %lld", hex, (long long)r->conv,
           (long long)r->reader, (long long)r->from);
  pgtest_exec(srv->db, sql);
}

TEST(moved_read_time_does_not_open)
{
  static const char fail[] = "failed authentication";
  struct e2e_server srv;
  int64_t alice, bob, carol, g, g2, ids[2];
  struct peer *pa, *pb;
  uint64_t now, tb1, tb2, tc, tb3;
  struct sealed_row b1, b2, c12, b3;   /* bob G 1..1, 2..2; carol G 1..2;
                                          bob G2 1..1 */
  int64_t ms;
  int want;
  char *log, first[64], flipped[sizeof(c12.hex)];

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  carol = e2e_user(&srv, "carol");
  ids[0] = bob;
  ids[1] = carol;
  g = e2e_group(&srv, "Moved", alice, ids, 2);
  g2 = e2e_group(&srv, "Elsewhere", alice, &bob, 1);
  /* Read times are recorded only outside quiet hours (test_quiet.c). */
  pgtest_exec(srv.db, "DELETE FROM quiet_windows");
  e2e_server_start(&srv, NULL);
  pa = peer_new(srv.url, "alice", NULL, true);
  pb = peer_new(srv.url, "bob", NULL, true);
  {
    struct peer *pc = peer_new(srv.url, "carol", NULL, true);

    peer_say(pa, (uint64_t)g, "one");
    peer_say(pa, (uint64_t)g, "two");
    peer_say(pa, (uint64_t)g2, "three");
    backdate_messages(&srv, "3 days");
    now = wall_ms();
    tb1 = now - 2 * DAY_MS - 3 * HOUR_MS;
    tb2 = now - 2 * DAY_MS - 2 * HOUR_MS;
    tc = now - 2 * DAY_MS - HOUR_MS;
    tb3 = now - 2 * DAY_MS;
    CHECK_INT(peer_read_at(pb, (uint64_t)g, 1, tb1), ==, 0);
    CHECK_INT(peer_read_at(pb, (uint64_t)g, 2, tb2), ==, 0);
    CHECK_INT(peer_read_at(pc, (uint64_t)g, 2, tc), ==, 0);
    CHECK_INT(peer_read_at(pb, (uint64_t)g2, 1, tb3), ==, 0);
    peer_free(pc);
  }
  b1 = (struct sealed_row){g, bob, 1, ""};
  b2 = (struct sealed_row){g, bob, 2, ""};
  c12 = (struct sealed_row){g, carol, 1, ""};
  b3 = (struct sealed_row){g2, bob, 1, ""};
  save_row(&srv, &b1);
  save_row(&srv, &b2);
  save_row(&srv, &c12);
  save_row(&srv, &b3);
  expect_read(pa, g, 1, bob, tb1);
  expect_read(pa, g, 2, bob, tb2);
  expect_read(pa, g, 1, carol, tc);
  expect_read(pa, g2, 1, bob, tb3);
  CHECK_INT(e2e_log_count(&srv, fail), ==, 0);

  /* Every who_read below that meets a moved or altered blob opens it,
   * fails, and logs one line: `want` counts them. */
  /* 1. Same reader, two conversations: swapped (the AD's conversation). */
  put_blob(&srv, &b1, b3.hex);
  put_blob(&srv, &b3, b1.hex);
  expect_read(pa, g, 1, bob, 0);
  expect_read(pa, g2, 1, bob, 0);
  expect_read(pb, g, 1, bob, 0);          /* the reader's own view too */
  expect_read(pa, g, 1, carol, tc);       /* the other rows are intact */
  expect_read(pa, g, 2, bob, tb2);
  want = 4;
  CHECK_INT(e2e_log_count(&srv, fail), ==, want);
  CHECK_INT(stored_read_time(&srv, g, 1, bob, &ms), ==, STORED_TIME_BAD);
  CHECK_INT(stored_read_time(&srv, g2, 1, bob, &ms), ==, STORED_TIME_BAD);
  /* Put back, they open again: nothing but the move broke them. */
  put_blob(&srv, &b1, b1.hex);
  put_blob(&srv, &b3, b3.hex);
  expect_read(pa, g, 1, bob, tb1);
  expect_read(pa, g2, 1, bob, tb3);

  /* 2. Same reader, same conversation, two ranges (the AD's range). */
  put_blob(&srv, &b1, b2.hex);
  put_blob(&srv, &b2, b1.hex);
  expect_read(pa, g, 1, bob, 0);
  expect_read(pa, g, 2, bob, 0);
  want += 2;
  CHECK_INT(e2e_log_count(&srv, fail), ==, want);
  put_blob(&srv, &b1, b1.hex);
  put_blob(&srv, &b2, b2.hex);

  /* 3. Two readers of one message: bob's time copied over carol's (the
   * AD's reader, and another key). */
  put_blob(&srv, &c12, b2.hex);
  expect_read(pa, g, 2, carol, 0);
  expect_read(pa, g, 2, bob, tb2);        /* carol's row fails again */
  want += 2;
  CHECK_INT(e2e_log_count(&srv, fail), ==, want);
  CHECK_INT(stored_read_time(&srv, g, 2, carol, &ms), ==, STORED_TIME_BAD);
  put_blob(&srv, &c12, c12.hex);
  expect_read(pa, g, 2, carol, tc);

  /* 4. One flipped bit in carol's ciphertext. */
  snprintf(flipped, sizeof(flipped), "%s", c12.hex);
  flipped[60] = flipped[60] == '0' ? '1' : '0';
  put_blob(&srv, &c12, flipped);
  expect_read(pa, g, 1, carol, 0);
  expect_read(pa, g, 1, bob, tb1);
  want += 2;
  CHECK_INT(e2e_log_count(&srv, fail), ==, want);

  /* The log names the row, never the blob or a time. */
  log = stored_file(srv.log);
  CHECK_CONTAINS(log, "seqs 1-2");
  {
    const struct sealed_row *all[4] = {&b1, &b2, &c12, &b3};
    const uint64_t times[4] = {tb1, tb2, tc, tb3};
    char head[17];

    for (size_t i = 0; i < 4; i++) {
      snprintf(head, sizeof(head), "%.16s", all[i]->hex);
      if (strstr(log, head))
        CHECK_FAIL("the log holds a sealed time (%s)", head);
      if (stored_time_hits(log, (int64_t)times[i], first, sizeof(first)))
        CHECK_FAIL("the log holds a read time as \"%s\"", first);
    }
  }
  free(log);
  peer_free(pa);
  peer_free(pb);
  e2e_server_stop(&srv);                  /* and it exits cleanly */
}

/* ------------------------------------------------------------------------ */

static bool report_has(const struct proto_frame *r, int64_t uid, int64_t conv,
                       uint64_t seq)
{
  for (size_t i = 0; i < r->u.report_result.nrows; i++) {
    const struct proto_report_row *w = &r->u.report_result.rows[i];

    if (w->uid == (uint64_t)uid && w->conv == (uint64_t)conv && w->seq == seq)
      return true;
  }
  return false;
}

static int report(struct peer *p, struct proto_frame *reply)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_REPORT_UNREAD);
  f.u.report_unread.older = 2 * 3600;
  return peer_request(p, &f, reply);
}

TEST(erase_shreds_read_times_only)
{
  struct e2e_server srv;
  int64_t alice, bob, carol, g, ids[2], ms;
  struct peer *pa, *pb, *pc;
  struct proto_frame r;
  uint64_t now, tb, tc;
  char cmd[1024], sql[300], out[512];
  const char *ctl = getenv("HERALDCTL");
  FILE *p;
  size_t n;

  CHECK(ctl != NULL);
  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  carol = e2e_user(&srv, "carol");
  ids[0] = bob;
  ids[1] = carol;
  g = e2e_group(&srv, "Erase", alice, ids, 2);
  /* Read times are recorded only outside quiet hours (test_quiet.c). */
  pgtest_exec(srv.db, "DELETE FROM quiet_windows");
  e2e_server_start(&srv, NULL);
  pa = peer_new(srv.url, "alice", NULL, true);
  pb = peer_new(srv.url, "bob", NULL, true);
  pc = peer_new(srv.url, "carol", NULL, true);
  peer_say(pa, (uint64_t)g, "one");
  peer_say(pa, (uint64_t)g, "two");
  backdate_messages(&srv, "3 hours");
  now = wall_ms();
  tb = now - 150 * MIN_MS;
  tc = now - 100 * MIN_MS;
  CHECK_INT(peer_read_at(pb, (uint64_t)g, 1, tb), ==, 0);
  CHECK_INT(peer_read_at(pc, (uint64_t)g, 2, tc), ==, 0);
  /* Opened once, so the running server holds bob's key in its cache. */
  expect_read(pa, g, 1, bob, tb);
  expect_stored(&srv, g, 1, bob, tb);

  /* The CLI, against the database of the running server. */
  snprintf(cmd, sizeof(cmd), "'%s' --db '%s' user erase bob", ctl, srv.db);
  CHECK((p = popen(cmd, "r")) != NULL);
  n = fread(out, 1, sizeof(out) - 1, p);
  out[n] = '\0';
  CHECK_INT(pclose(p), ==, 0);
  CHECK_CONTAINS(out, "unrecoverable");

  /* Unrecoverable at once: the data key row is destroyed, and who_read
   * shows bob as read without a time, to the sender and to bob. */
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM user_keys WHERE user_id = "
           "%lld AND wrapped IS NULL AND destroyed_at IS NOT NULL",
           (long long)bob);
  CHECK_INT(e2e_query_int(&srv, sql), ==, 1);
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM user_keys WHERE user_id = "
           "%lld AND wrapped IS NOT NULL", (long long)bob);
  CHECK_INT(e2e_query_int(&srv, sql), ==, 0);
  CHECK_INT(stored_read_time(&srv, g, 1, bob, &ms), ==, STORED_TIME_NO_KEY);
  expect_read(pa, g, 1, bob, 0);
  expect_read(pb, g, 1, bob, 0);
  expect_read(pa, g, 2, carol, tc);        /* others keep theirs */
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM audit_log WHERE "
                                "action = 'user.key_destroy'"), ==, 1);

  /* Nothing else changed: the sealed row is still there (not rewritten),
   * bob's marker, account and membership stay, he can still write. */
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM read_ranges WHERE "
           "reader_id = %lld AND octet_length(read_time_sealed) = 48",
           (long long)bob);
  CHECK_INT(e2e_query_int(&srv, sql), ==, 1);
  snprintf(sql, sizeof(sql), "SELECT read_seq FROM members WHERE user_id = "
           "%lld AND conversation_id = %lld", (long long)bob, (long long)g);
  CHECK_INT(e2e_query_int(&srv, sql), ==, 1);
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE id = %lld AND "
           "active AND login = 'bob'", (long long)bob);
  CHECK_INT(e2e_query_int(&srv, sql), ==, 1);
  peer_say(pb, (uint64_t)g, "still here");
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM messages WHERE seq = 3"),
            ==, 1);

  /* Reports still run and list bob's unread message 2. */
  CHECK_INT(report(pa, &r), ==, 0);
  CHECK(report_has(&r, bob, g, 2));
  CHECK(!report_has(&r, carol, g, 2));
  proto_frame_cleanup(&r);

  /* A new read of bob counts, without a time, and makes no new key. */
  CHECK_INT(peer_read_at(pb, (uint64_t)g, 2, 0), ==, 0);
  expect_read(pa, g, 2, bob, 0);
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM read_ranges WHERE "
           "reader_id = %lld AND from_seq = 2 AND read_time_sealed IS NULL",
           (long long)bob);
  CHECK_INT(e2e_query_int(&srv, sql), ==, 1);
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM user_keys WHERE user_id = "
           "%lld", (long long)bob);
  CHECK_INT(e2e_query_int(&srv, sql), ==, 1);
  CHECK_INT(report(pa, &r), ==, 0);
  CHECK(!report_has(&r, bob, g, 2));
  proto_frame_cleanup(&r);

  peer_free(pa);
  peer_free(pb);
  peer_free(pc);
  e2e_server_stop(&srv);
}

TEST_MAIN()
