/*
 * test_store_receipts.c — reads, receipts and the feed against a real
 * PostgreSQL: the two-step read (plan, record), markers that only move
 * forward, range rows with their sealed times, receipt feed entries per
 * distinct sender, read counts, who-read, feed paging, the retention
 * purge, and a printout of the bytes a read costs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pgtest.h"
#include "store.h"
#include "chat_fixture.h"

/* Sends one message from sender into conv; returns its seq. */
static int64_t say(struct fixture *f, int64_t sender, int64_t conv,
                   bool flagged)
{
  static int counter;
  char cmid[32];
  struct store_send m;
  struct store_send_result r;

  snprintf(cmid, sizeof cmid, "m%d", ++counter);
  m = chat_msg(sender, cmid, conv, "hello");
  m.flagged = flagged;
  CHECK_INT(store_send_batch(f->c, &m, 1, &r), ==, STORE_OK);
  CHECK_INT(r.rc, ==, STORE_OK);
  return r.seq;
}

/* A fake sealed time: 48 bytes derived from the range. */
static void sealed_for(uint8_t out[48], int64_t from, int64_t to)
{
  for (int i = 0; i < 48; i++)
    out[i] = (uint8_t)(from * 31 + to * 7 + i);
}

/* The plan-seal-record sequence the server runs, with a fake seal. */
static void read_sealed(struct fixture *f, int64_t reader, int64_t conv,
                        int64_t seq, struct store_read_result *r)
{
  struct store_read_plan p;
  uint8_t s[48];

  CHECK_INT(store_read_plan(f->c, reader, conv, seq, &p), ==, STORE_OK);
  CHECK_INT(p.upto, >, p.read_seq);
  sealed_for(s, p.read_seq + 1, p.upto);
  CHECK_INT(store_read_record(f->c, reader, conv, p.read_seq + 1, p.upto, 1, s,
                              sizeof s, r), ==, STORE_OK);
}

/* Runs a query formatted with integer arguments; its first value. */
__attribute__((format(printf, 1, 2)))
static long long q(const char *fmt, ...)
{
  char sql[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  return pgtest_query_int(conninfo, sql);
}

TEST(read_forward_and_clamped)
{
  struct fixture f = chat_fixture_setup();
  struct store_read_plan p;
  struct store_read_result r;
  int64_t s3;

  say(&f, f.alice, f.all, false);
  say(&f, f.alice, f.all, false);
  s3 = say(&f, f.alice, f.all, false);
  CHECK_INT(s3, ==, 3);

  /* N beyond the last message is clamped; the bounds for the time. */
  CHECK_INT(store_read_plan(f.c, f.bob, f.all, 10, &p), ==, STORE_OK);
  CHECK_INT(p.read_seq, ==, 0);
  CHECK_INT(p.upto, ==, 3);
  CHECK_INT(p.upto_sent_at_ms, >, 1600000000000LL);
  CHECK_INT(p.now_ms, >=, p.upto_sent_at_ms);
  CHECK(!p.user_opt_out);
  CHECK(!p.org_allows_opt_out);

  read_sealed(&f, f.bob, f.all, 10, &r);
  CHECK(r.moved);
  CHECK_INT(r.old_seq, ==, 0);
  CHECK_INT(r.read_seq, ==, 3);
  CHECK_UINT(r.n_feed, ==, 1);
  CHECK_INT(r.feed[0].user_id, ==, f.alice);
  CHECK_INT(r.feed[0].fs, ==, 1);
  CHECK_INT(r.feed[0].conversation_id, ==, f.all);
  CHECK_INT(r.feed[0].from_seq, ==, 1);
  CHECK_INT(r.feed[0].to_seq, ==, 3);
  free(r.feed);

  /* The range row: 1..3, sealed, version 1. */
  CHECK_INT(q("SELECT count(*) FROM read_ranges WHERE reader_id = %lld"
              " AND conversation_id = %lld AND from_seq = 1 AND to_seq = 3"
              " AND key_version = 1 AND octet_length(read_time_sealed) = 48"
              " AND sealed_from_seq IS NULL",
              (long long)f.bob, (long long)f.all), ==, 1);
  CHECK_INT(q("SELECT read_seq + delivered_seq FROM members"
              " WHERE user_id = %lld AND conversation_id = %lld",
              (long long)f.bob, (long long)f.all), ==, 6);

  /* Backwards or equal: a no-op that says where the marker is. */
  CHECK_INT(store_read_record(f.c, f.bob, f.all, 0, 2, 0, NULL, 0, &r), ==,
            STORE_OK);
  CHECK(!r.moved);
  CHECK_INT(r.read_seq, ==, 3);
  CHECK_UINT(r.n_feed, ==, 0);
  CHECK_INT(store_read_record(f.c, f.bob, f.all, 0, 3, 0, NULL, 0, &r), ==,
            STORE_OK);
  CHECK(!r.moved);
  CHECK_INT(q("SELECT count(*) FROM read_ranges WHERE reader_id = %lld"
              " AND conversation_id = %lld",
              (long long)f.bob, (long long)f.all), ==, 1);
  CHECK_INT(store_read_plan(f.c, f.bob, f.all, 2, &p), ==, STORE_OK);
  CHECK_INT(p.read_seq, ==, 3);
  CHECK_INT(p.upto, ==, 2);

  /* Non-members, unknown conversations, bad values. */
  CHECK_INT(store_read_plan(f.c, f.carol, f.all, 1, &p), ==, STORE_ENOTFOUND);
  CHECK_INT(store_read_record(f.c, f.carol, f.all, 0, 1, 0, NULL, 0, &r), ==,
            STORE_ENOTFOUND);
  CHECK_INT(store_read_plan(f.c, f.bob, 987654, 1, &p), ==, STORE_ENOTFOUND);
  CHECK_INT(store_read_plan(f.c, f.bob, f.all, 0, &p), ==, STORE_EINVAL);
  store_close(f.c);
}

TEST(read_sealed_range_checked)
{
  struct fixture f = chat_fixture_setup();
  struct store_read_result r;
  uint8_t s[48];

  say(&f, f.alice, f.all, false);
  say(&f, f.alice, f.all, false);
  sealed_for(s, 1, 3);
  /* A sealed range must end at or before the last message ... */
  CHECK_INT(store_read_record(f.c, f.bob, f.all, 1, 3, 1, s, sizeof s, &r), ==,
            STORE_EINVAL);
  /* ... and start at or below the marker + 1. */
  CHECK_INT(store_read_record(f.c, f.bob, f.all, 2, 2, 1, s, sizeof s, &r), ==,
            STORE_EINVAL);
  CHECK_INT(store_read_record(f.c, f.bob, f.all, 2, 1, 1, s, sizeof s, &r), ==,
            STORE_EINVAL);
  CHECK_INT(q("SELECT count(*) FROM read_ranges WHERE reader_id = %lld",
              (long long)f.bob), ==, 0);
  store_close(f.c);
}

TEST(read_marker_moved_between_plan_and_record)
{
  struct fixture f = chat_fixture_setup();
  struct store_read_plan p;
  struct store_read_result r;
  struct store_who_read_msg msg;
  struct store_who_row *rows = NULL;
  size_t n = 0;
  uint8_t s[48];

  for (int i = 0; i < 3; i++)
    say(&f, f.alice, f.all, false);
  CHECK_INT(store_read_plan(f.c, f.bob, f.all, 3, &p), ==, STORE_OK);
  sealed_for(s, p.read_seq + 1, p.upto);
  /* Another device of bob reads up to 2 (no time) in between. */
  CHECK_INT(store_read_record(f.c, f.bob, f.all, 0, 2, 0, NULL, 0, &r), ==,
            STORE_OK);
  CHECK(r.moved);
  free(r.feed);
  CHECK_INT(store_read_record(f.c, f.bob, f.all, p.read_seq + 1, p.upto, 1, s,
                              sizeof s, &r), ==, STORE_OK);
  CHECK(r.moved);
  CHECK_INT(r.old_seq, ==, 2);
  CHECK_INT(r.read_seq, ==, 3);
  CHECK_UINT(r.n_feed, ==, 1);
  CHECK_INT(r.feed[0].from_seq, ==, 3);
  free(r.feed);
  /* Only 3..3 was recorded; the AD inputs are still those sealed. */
  CHECK_INT(store_who_read(f.c, f.all, 3, &msg, &rows, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 1);
  CHECK(rows[0].read && rows[0].has_time);
  CHECK_INT(rows[0].ad_from_seq, ==, 1);
  CHECK_INT(rows[0].ad_to_seq, ==, 3);
  CHECK_MEM(rows[0].sealed, s, sizeof s);
  free(rows);
  /* Seq 1 was covered by the time-less read. */
  CHECK_INT(store_who_read(f.c, f.all, 1, &msg, &rows, &n), ==, STORE_OK);
  CHECK(rows[0].read && !rows[0].has_time);
  free(rows);
  store_close(f.c);
}

TEST(read_feed_per_distinct_sender)
{
  struct fixture f = chat_fixture_setup();
  struct store_read_result r;
  int64_t head = -1;

  CHECK_INT(store_group_add_member(f.c, f.all, f.carol, STORE_MEMBER), ==,
            STORE_OK);
  say(&f, f.alice, f.all, false); /* 1 */
  say(&f, f.bob, f.all, false);   /* 2 */
  say(&f, f.alice, f.all, false); /* 3 */
  say(&f, f.bob, f.all, false);   /* 4 */
  say(&f, f.carol, f.all, false); /* 5 */

  /* carol's read: one entry per distinct sender, none for herself. */
  read_sealed(&f, f.carol, f.all, 5, &r);
  CHECK_UINT(r.n_feed, ==, 2);
  CHECK_INT(r.feed[0].user_id, ==, f.alice);
  CHECK_INT(r.feed[0].from_seq, ==, 1);
  CHECK_INT(r.feed[0].to_seq, ==, 3);
  CHECK_INT(r.feed[0].fs, ==, 1);
  CHECK_INT(r.feed[1].user_id, ==, f.bob);
  CHECK_INT(r.feed[1].from_seq, ==, 2);
  CHECK_INT(r.feed[1].to_seq, ==, 4);
  CHECK_INT(r.feed[1].fs, ==, 1);
  free(r.feed);

  /* bob's read: alice and carol, not bob; alice's fs continues gaplessly. */
  read_sealed(&f, f.bob, f.all, 5, &r);
  CHECK_UINT(r.n_feed, ==, 2);
  CHECK_INT(r.feed[0].user_id, ==, f.alice);
  CHECK_INT(r.feed[0].fs, ==, 2);
  CHECK_INT(r.feed[1].user_id, ==, f.carol);
  CHECK_INT(r.feed[1].fs, ==, 1);
  free(r.feed);

  /* Untracked messages produce nothing: 'flagged' without the flag, 'off'. */
  say(&f, f.alice, f.flagged, false);
  say(&f, f.alice, f.off, true);
  CHECK_INT(store_read_record(f.c, f.bob, f.flagged, 0, 1, 0, NULL, 0, &r), ==,
            STORE_OK);
  CHECK(r.moved);
  CHECK_UINT(r.n_feed, ==, 0);
  CHECK_INT(store_read_record(f.c, f.bob, f.off, 0, 1, 0, NULL, 0, &r), ==,
            STORE_OK);
  CHECK_UINT(r.n_feed, ==, 0);
  /* A flagged one does. */
  say(&f, f.alice, f.flagged, true);
  CHECK_INT(store_read_record(f.c, f.bob, f.flagged, 0, 2, 0, NULL, 0, &r), ==,
            STORE_OK);
  CHECK_UINT(r.n_feed, ==, 1);
  CHECK_INT(r.feed[0].fs, ==, 3);
  CHECK_INT(r.feed[0].from_seq, ==, 2);
  free(r.feed);

  CHECK_INT(store_feed_head(f.c, f.alice, &head), ==, STORE_OK);
  CHECK_INT(head, ==, 3);
  CHECK_INT(store_feed_head(f.c, f.bob, &head), ==, STORE_OK);
  CHECK_INT(head, ==, 1);
  /* Gapless per user: fs = 1..count for everyone. */
  CHECK_INT(pgtest_query_int(conninfo,
                             "SELECT count(*) FROM (SELECT user_id,"
                             " max(fs) = count(*) AS ok FROM feed"
                             " GROUP BY user_id) x WHERE NOT ok"), ==, 0);
  store_close(f.c);
}

TEST(read_opt_out_records_no_time)
{
  struct fixture f = chat_fixture_setup();
  struct store_read_plan p;
  struct store_read_result r;

  say(&f, f.alice, f.all, false);
  pgtest_exec(conninfo, "INSERT INTO org (name, read_time_opt_out_allowed)"
                        " VALUES ('Acme', true)");
  pgtest_exec(conninfo, "UPDATE users SET read_time_opt_out = true"
                        " WHERE login = 'bob'");
  CHECK_INT(store_read_plan(f.c, f.bob, f.all, 1, &p), ==, STORE_OK);
  CHECK(p.user_opt_out && p.org_allows_opt_out);
  CHECK_INT(store_read_record(f.c, f.bob, f.all, 0, 1, 0, NULL, 0, &r), ==,
            STORE_OK);
  CHECK(r.moved);
  CHECK_UINT(r.n_feed, ==, 1);
  free(r.feed);
  CHECK_INT(q("SELECT count(*) FROM read_ranges WHERE reader_id = %lld"
              " AND conversation_id = %lld AND read_time_sealed IS NULL"
              " AND key_version IS NULL AND from_seq = 1 AND to_seq = 1",
              (long long)f.bob, (long long)f.all), ==, 1);
  store_close(f.c);
}

TEST(receipt_counts)
{
  struct fixture f = chat_fixture_setup();
  struct store_user_new un = {.login = "dave", .display_name = "Dave",
                              .role = STORE_ROLE_STAFF};
  struct store_receipt_count *k = NULL;
  struct store_read_result r;
  int64_t dave = 0;
  size_t n = 0;

  CHECK_INT(store_user_add(f.c, &un, &dave), ==, STORE_OK);
  CHECK_INT(store_group_add_member(f.c, f.all, dave, STORE_MEMBER), ==,
            STORE_OK);
  say(&f, f.alice, f.all, false); /* 1: bob, dave */
  say(&f, f.alice, f.all, false); /* 2: bob, dave (leaves at 2) */
  /* dave leaves after seq 2 (no leave call exists yet: as it will). */
  {
    char sql[200];

    snprintf(sql, sizeof sql, "UPDATE members SET left_seq = 2"
             " WHERE user_id = %lld", (long long)dave);
    pgtest_exec(conninfo, sql);
  }
  CHECK_INT(store_group_add_member(f.c, f.all, f.carol, STORE_MEMBER), ==,
            STORE_OK);                /* joined_seq 2 */
  say(&f, f.alice, f.all, false);     /* 3: bob, carol */
  say(&f, f.alice, f.all, false);     /* 4: bob, carol */
  say(&f, f.bob, f.all, false);       /* 5: bob's own, not alice's */
  CHECK_INT(store_read_record(f.c, f.bob, f.all, 0, 3, 0, NULL, 0, &r), ==,
            STORE_OK);
  free(r.feed);
  CHECK_INT(store_read_record(f.c, f.carol, f.all, 0, 4, 0, NULL, 0, &r), ==,
            STORE_OK);
  free(r.feed);

  CHECK_INT(store_receipt_counts(f.c, f.alice, f.all, 1, 5, &k, &n), ==,
            STORE_OK);
  CHECK_UINT(n, ==, 4);
  {
    const int64_t want[4][3] = {{1, 1, 2}, {2, 1, 2}, {3, 2, 2}, {4, 1, 2}};

    for (size_t i = 0; i < 4; i++) {
      CHECK_INT(k[i].seq, ==, want[i][0]);
      CHECK_INT(k[i].read, ==, want[i][1]);
      CHECK_INT(k[i].total, ==, want[i][2]);
    }
  }
  free(k);
  /* bob's message 5: alice and carol are its recipients; nobody read it. */
  CHECK_INT(store_receipt_counts(f.c, f.bob, f.all, 5, 5, &k, &n), ==,
            STORE_OK);
  CHECK_UINT(n, ==, 1);
  CHECK_INT(k[0].read, ==, 0);
  CHECK_INT(k[0].total, ==, 2);
  free(k);
  CHECK_INT(store_receipt_counts(f.c, f.alice, f.all, 3, 3, &k, &n), ==,
            STORE_OK);
  CHECK_UINT(n, ==, 1);
  CHECK_INT(k[0].read, ==, 2);
  free(k);
  CHECK_INT(store_receipt_counts(f.c, f.alice, f.all, 4, 1, &k, &n), ==,
            STORE_EINVAL);
  store_close(f.c);
}

TEST(feed_paging)
{
  struct fixture f = chat_fixture_setup();
  struct store_feed_entry *e = NULL;
  struct store_read_result r;
  size_t n = 0;
  int64_t cursor = 0, seen = 0;

  for (int i = 0; i < 5; i++) {
    int64_t s = say(&f, f.alice, f.all, false);

    CHECK_INT(store_read_record(f.c, f.bob, f.all, 0, s, 0, NULL, 0, &r), ==,
              STORE_OK);
    free(r.feed);
  }
  for (;;) {
    CHECK_INT(store_feed_after(f.c, f.alice, cursor, 2, &e, &n), ==, STORE_OK);
    if (n == 0)
      break;
    CHECK_UINT(n, <=, 2);
    for (size_t i = 0; i < n; i++) {
      CHECK_INT(e[i].fs, ==, cursor + 1);
      CHECK_INT(e[i].kind, ==, STORE_FEED_RECEIPT);
      CHECK_INT(e[i].from_seq, ==, e[i].fs);
      CHECK_INT(e[i].to_seq, ==, e[i].fs);
      cursor = e[i].fs;
      seen++;
    }
    free(e);
  }
  CHECK_INT(seen, ==, 5);
  CHECK_INT(store_feed_after(f.c, f.bob, 0, 10, &e, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 0);
  CHECK_INT(store_feed_after(f.c, f.alice, 0, 0, &e, &n), ==, STORE_EINVAL);
  store_close(f.c);
}

TEST(who_read_and_purge)
{
  struct fixture f = chat_fixture_setup();
  struct store_who_read_msg msg;
  struct store_who_row *rows = NULL;
  struct store_read_result r;
  size_t n = 0;
  int64_t purged = -1;
  uint8_t s[48];

  CHECK_INT(store_group_add_member(f.c, f.all, f.carol, STORE_MEMBER), ==,
            STORE_OK);
  say(&f, f.alice, f.all, false);
  say(&f, f.alice, f.all, false);
  read_sealed(&f, f.bob, f.all, 2, &r);
  free(r.feed);
  sealed_for(s, 1, 2);

  CHECK_INT(store_who_read(f.c, f.all, 1, &msg, &rows, &n), ==, STORE_OK);
  CHECK_INT(msg.sender_kind, ==, STORE_PRINCIPAL_USER);
  CHECK_INT(msg.sender_id, ==, f.alice);
  CHECK(msg.tracked);
  CHECK_INT(msg.kind, ==, STORE_MSG_TEXT);
  CHECK_UINT(n, ==, 2); /* bob and carol, not alice */
  CHECK_INT(rows[0].user_id, ==, f.bob);
  CHECK(rows[0].read && rows[0].has_time);
  CHECK_INT(rows[0].ad_from_seq, ==, 1);
  CHECK_INT(rows[0].ad_to_seq, ==, 2);
  CHECK_UINT(rows[0].key_version, ==, 1);
  CHECK_UINT(rows[0].sealed_len, ==, 48);
  CHECK_MEM(rows[0].sealed, s, sizeof s);
  CHECK_INT(rows[1].user_id, ==, f.carol);
  CHECK(!rows[1].read && !rows[1].has_time);
  free(rows);
  CHECK_INT(store_who_read(f.c, f.all, 9, &msg, &rows, &n), ==,
            STORE_ENOTFOUND);

  /* Nothing is old enough yet; backdate and purge: read, time unknown. */
  CHECK_INT(store_read_times_purge(f.c, 0, &purged), ==, STORE_OK);
  CHECK_INT(purged, ==, 0);
  pgtest_exec(conninfo, "UPDATE read_ranges SET recorded_at = now()"
                        " - interval '91 days'");
  CHECK_INT(store_read_times_purge(f.c, 10, &purged), ==, STORE_OK);
  CHECK_INT(purged, ==, 1);
  CHECK_INT(store_who_read(f.c, f.all, 2, &msg, &rows, &n), ==, STORE_OK);
  CHECK(rows[0].read && !rows[0].has_time);
  free(rows);
  CHECK_INT(pgtest_query_int(conninfo, "SELECT read_seq FROM members m"
                             " JOIN users u ON u.id = m.user_id"
                             " WHERE u.login = 'bob' AND conversation_id ="
                             " (SELECT id FROM conversations"
                             "  WHERE title = 'All')"), ==, 2);
  CHECK_INT(pgtest_query_int(conninfo, "SELECT count(*) FROM audit_log"
                             " WHERE action = 'read_times.purge'"), ==, 1);
  store_close(f.c);
}

/* Storage per read: many reads of alternating senders, then the size of
 * everything a read writes, divided by the reads. */
TEST(read_storage_size_printout)
{
  struct fixture f = chat_fixture_setup();
  struct store_read_result r;
  const int reads = 2000;
  long long before, after, ranges, feed;

  CHECK_INT(store_group_add_member(f.c, f.all, f.carol, STORE_MEMBER), ==,
            STORE_OK);
  pgtest_exec(conninfo, "VACUUM read_ranges");
  before = pgtest_query_int(conninfo,
                            "SELECT pg_total_relation_size('read_ranges')"
                            " + pg_total_relation_size('feed')"
                            " + pg_total_relation_size('feed_heads')");
  for (int i = 0; i < reads; i++) {
    int64_t s = say(&f, i % 2 ? f.alice : f.carol, f.all, false);

    read_sealed(&f, f.bob, f.all, s, &r);
    free(r.feed);
  }
  pgtest_exec(conninfo, "VACUUM read_ranges");
  pgtest_exec(conninfo, "VACUUM feed");
  pgtest_exec(conninfo, "VACUUM feed_heads");
  after = pgtest_query_int(conninfo,
                           "SELECT pg_total_relation_size('read_ranges')"
                           " + pg_total_relation_size('feed')"
                           " + pg_total_relation_size('feed_heads')");
  ranges = pgtest_query_int(conninfo,
                            "SELECT pg_total_relation_size('read_ranges')");
  feed = pgtest_query_int(conninfo, "SELECT pg_total_relation_size('feed')");
  printf("read storage: %d reads (sealed time, 1 sender each): %.0f bytes"
         " per read in total; read_ranges %.0f, feed %.0f bytes per read"
         " (heap + indexes)\n", reads, (double)(after - before) / reads,
         (double)ranges / reads, (double)feed / reads);
  store_close(f.c);
}

TEST_MAIN()
