/*
 * test_store_send.c — the send path's group commit against a real
 * PostgreSQL: seqs, exactly-once, permissions, tracking, concurrent
 * writers, the one-by-one fallback, and a timing printout.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "pgtest.h"
#include "store.h"
#include "chat_fixture.h"


/* The first column of the first row of a query, as an integer. */
static long long query_i64(const char *sql)
{
  return pgtest_query_int(conninfo, sql);
}

static long long count_messages(int64_t conv)
{
  char sql[128];

  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM messages WHERE conversation_id = %lld",
           (long long)conv);
  return query_i64(sql);
}

static int64_t last_seq(struct store_conn *c, int64_t user_id, int64_t conv)
{
  struct store_conv_summary s;

  CHECK_INT(store_conversation_get(c, STORE_PRINCIPAL_USER, user_id, conv, &s),
            ==, STORE_OK);
  return s.last_seq;
}

static double ms_since(const struct timespec *t0)
{
  struct timespec t1;

  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Checks that conv holds exactly seqs 1..n. */
static void check_gapless(struct fixture *f, int64_t conv, int64_t n)
{
  struct store_message *m = NULL;
  size_t got = 0;

  CHECK_INT(store_messages_after(f->c, STORE_PRINCIPAL_USER, f->alice, conv, 0,
                                 0, (size_t)n + 10, 0, &m, &got), ==, STORE_OK);
  CHECK_UINT(got, ==, n);
  for (size_t i = 0; i < got; i++)
    CHECK_INT(m[i].seq, ==, (int64_t)i + 1);
  store_messages_free(m, got);
  CHECK_INT(last_seq(f->c, f->alice, conv), ==, n);
}

TEST(send_seqs_interleaved)
{
  struct fixture f = chat_fixture_setup();
  struct store_send in[10];
  struct store_send_result out[10];
  char cmids[10][16], bodies[10][16];
  struct store_message *m = NULL;
  size_t n = 0;

  for (int i = 0; i < 10; i++) {
    snprintf(cmids[i], sizeof cmids[i], "c%d", i);
    snprintf(bodies[i], sizeof bodies[i], "body %d", i);
    in[i] = chat_msg(i % 3 ? f.alice : f.bob, cmids[i], i % 2 ? f.flagged : f.all,
                bodies[i]);
  }
  CHECK_INT(store_send_batch(f.c, in, 10, out), ==, STORE_OK);
  for (int i = 0; i < 10; i++) {
    CHECK_INT(out[i].rc, ==, STORE_OK);
    CHECK_INT(out[i].conversation_id, ==, in[i].conversation_id);
    CHECK_INT(out[i].seq, ==, i / 2 + 1);
    CHECK(!out[i].dup);
    CHECK_INT(out[i].sent_at_ms, ==, out[0].sent_at_ms); /* one per batch */
  }
  CHECK_INT(out[0].sent_at_ms, >, 1600000000000LL);
  check_gapless(&f, f.all, 5);
  check_gapless(&f, f.flagged, 5);

  /* Read back exactly as sent. */
  CHECK_INT(store_messages_after(f.c, STORE_PRINCIPAL_USER, f.bob, f.flagged, 0, 0,
                                 100, 0, &m, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 5);
  for (size_t i = 0; i < n; i++) {
    const struct store_send *s = &in[2 * i + 1];

    CHECK_INT(m[i].conversation_id, ==, f.flagged);
    CHECK_INT(m[i].sender_kind, ==, STORE_PRINCIPAL_USER);
    CHECK_INT(m[i].sender_id, ==, s->sender_id);
    CHECK_STR(m[i].cmid, s->cmid);
    CHECK_INT(m[i].kind, ==, STORE_MSG_TEXT);
    CHECK_STR(m[i].body, s->body);
    CHECK_UINT(m[i].body_len, ==, s->body_len);
    CHECK_INT(m[i].sent_at_ms, ==, out[2 * i + 1].sent_at_ms);
  }
  store_messages_free(m, n);

  /* A second batch continues each conversation's seqs. */
  in[0] = chat_msg(f.alice, "next-1", f.flagged, "x");
  in[1] = chat_msg(f.alice, "next-2", f.all, "y");
  {
    int64_t before = out[0].sent_at_ms;

    CHECK_INT(store_send_batch(f.c, in, 2, out), ==, STORE_OK);
    CHECK_INT(out[1].sent_at_ms, >=, before);
  }
  CHECK_INT(out[0].seq, ==, 6);
  CHECK_INT(out[1].seq, ==, 6);
  CHECK_INT(store_send_batch(f.c, in, 0, out), ==, STORE_OK); /* empty batch */
  store_close(f.c);
}

TEST(send_duplicate_in_later_batch)
{
  struct fixture f = chat_fixture_setup();
  struct store_send in[2];
  struct store_send_result first, out[2];

  in[0] = chat_msg(f.alice, "once", f.all, "original");
  CHECK_INT(store_send_batch(f.c, in, 1, &first), ==, STORE_OK);
  CHECK(!first.dup);
  CHECK_INT(first.seq, ==, 1);

  /* The re-send (body and even conversation differ: not compared) gets the
   * original ack; a fresh message in the same batch still gets seq 2. */
  in[0] = chat_msg(f.alice, "once", f.flagged, "changed");
  in[1] = chat_msg(f.alice, "fresh", f.all, "new");
  CHECK_INT(store_send_batch(f.c, in, 2, out), ==, STORE_OK);
  CHECK_INT(out[0].rc, ==, STORE_OK);
  CHECK(out[0].dup);
  CHECK_INT(out[0].conversation_id, ==, f.all);
  CHECK_INT(out[0].seq, ==, 1);
  CHECK_INT(out[0].sent_at_ms, ==, first.sent_at_ms);
  CHECK(out[0].tracked == first.tracked);
  CHECK_INT(out[1].seq, ==, 2);
  CHECK(!out[1].dup);
  CHECK_INT(count_messages(f.all), ==, 2);
  CHECK_INT(count_messages(f.flagged), ==, 0);
  check_gapless(&f, f.all, 2);
  CHECK_INT(last_seq(f.c, f.alice, f.flagged), ==, 0);
  /* Another sender's cmid is another message. */
  in[0] = chat_msg(f.bob, "once", f.all, "bob's");
  CHECK_INT(store_send_batch(f.c, in, 1, out), ==, STORE_OK);
  CHECK(!out[0].dup);
  CHECK_INT(out[0].seq, ==, 3);
  store_close(f.c);
}

TEST(send_duplicate_within_batch)
{
  struct fixture f = chat_fixture_setup();
  struct store_send in[5];
  struct store_send_result out[5];

  in[0] = chat_msg(f.alice, "x", f.all, "1");
  in[1] = chat_msg(f.alice, "y", f.all, "2");
  in[2] = chat_msg(f.alice, "x", f.all, "1 again");
  /* The same cmid into another conversation in one batch is the same
   * message too: stored once, where it was first sent. */
  in[3] = chat_msg(f.alice, "y", f.flagged, "2 elsewhere");
  in[4] = chat_msg(f.alice, "z", f.all, "3");
  CHECK_INT(store_send_batch(f.c, in, 5, out), ==, STORE_OK);
  CHECK_INT(out[0].seq, ==, 1);
  CHECK(!out[0].dup);
  CHECK_INT(out[1].seq, ==, 2);
  CHECK(out[2].dup);
  CHECK_INT(out[2].seq, ==, 1);
  CHECK_INT(out[2].conversation_id, ==, f.all);
  CHECK_INT(out[2].sent_at_ms, ==, out[0].sent_at_ms);
  CHECK(out[3].dup);
  CHECK_INT(out[3].conversation_id, ==, f.all);
  CHECK_INT(out[3].seq, ==, 2);
  CHECK_INT(out[4].seq, ==, 3);
  CHECK(!out[4].dup);
  check_gapless(&f, f.all, 3);
  CHECK_INT(count_messages(f.flagged), ==, 0);

  /* A repeat of a refused message is refused as well. */
  in[0] = chat_msg(f.carol, "c", f.all, "no");
  in[1] = chat_msg(f.carol, "c", f.all, "no");
  CHECK_INT(store_send_batch(f.c, in, 2, out), ==, STORE_OK);
  CHECK_INT(out[0].rc, ==, STORE_ENOTFOUND);
  CHECK_INT(out[1].rc, ==, STORE_ENOTFOUND);
  CHECK(!out[1].dup);
  store_close(f.c);
}

TEST(send_refused_sender_leaves_no_gap)
{
  struct fixture f = chat_fixture_setup();
  struct store_send in[6];
  struct store_send_result out[6];
  char sql[160];

  in[0] = chat_msg(f.alice, "a1", f.all, "1");
  in[1] = chat_msg(f.carol, "c1", f.all, "not a member");
  in[2] = chat_msg(f.alice, "a2", f.all, "2");
  in[3] = chat_msg(f.alice, "a3", 987654, "no such conversation");
  in[4] = chat_msg(f.bob, "b1", f.all, "3");
  in[5] = chat_msg(f.carol, "c2", f.off, "not a member either");
  CHECK_INT(store_send_batch(f.c, in, 6, out), ==, STORE_OK);
  CHECK_INT(out[0].rc, ==, STORE_OK);
  CHECK_INT(out[0].seq, ==, 1);
  CHECK_INT(out[1].rc, ==, STORE_ENOTFOUND);
  CHECK_INT(out[2].seq, ==, 2);
  CHECK_INT(out[3].rc, ==, STORE_ENOTFOUND);
  CHECK_INT(out[4].seq, ==, 3);
  CHECK_INT(out[5].rc, ==, STORE_ENOTFOUND);
  check_gapless(&f, f.all, 3);
  CHECK_INT(last_seq(f.c, f.alice, f.off), ==, 0);

  /* A member who left may not post; a deactivated user neither. */
  snprintf(sql, sizeof sql,
           "UPDATE members SET left_seq = 3 WHERE user_id = %lld"
           " AND conversation_id = %lld", (long long)f.bob, (long long)f.all);
  pgtest_exec(conninfo, sql);
  in[0] = chat_msg(f.bob, "b2", f.all, "gone");
  in[1] = chat_msg(f.alice, "a4", f.all, "4");
  CHECK_INT(store_send_batch(f.c, in, 2, out), ==, STORE_OK);
  CHECK_INT(out[0].rc, ==, STORE_ENOTFOUND);
  CHECK_INT(out[1].seq, ==, 4);
  pgtest_exec(conninfo, "UPDATE users SET active = false, deactivated_at = now()"
                        " WHERE login = 'alice'");
  in[0] = chat_msg(f.alice, "a5", f.all, "deactivated");
  CHECK_INT(store_send_batch(f.c, in, 1, out), ==, STORE_OK);
  CHECK_INT(out[0].rc, ==, STORE_ENOTFOUND);
  CHECK_INT(count_messages(f.all), ==, 4);
  store_close(f.c);
}

TEST(send_bots)
{
  struct fixture f = chat_fixture_setup();
  uint8_t h1[STORE_TOKEN_HASH_LEN], h2[STORE_TOKEN_HASH_LEN];
  struct store_send in[4];
  struct store_send_result out[4];
  struct store_message *m = NULL;
  int64_t bot = 0, other = 0;
  size_t n = 0;

  memset(h1, 1, sizeof h1);
  memset(h2, 2, sizeof h2);
  CHECK_INT(store_bot_create(f.c, "deploy", f.alice, h1, &f.all, 1, &bot), ==,
            STORE_OK);
  CHECK_INT(store_bot_create(f.c, "other", f.alice, h2, &f.all, 1, &other), ==,
            STORE_OK);
  for (int i = 0; i < 4; i++)
    in[i] = chat_msg(bot, "same", f.all, "from the bot");
  in[0].sender_kind = STORE_PRINCIPAL_BOT;
  in[1].sender_kind = STORE_PRINCIPAL_BOT;
  in[1].cmid = "elsewhere";
  in[1].conversation_id = f.flagged;
  /* A user whose id equals the bot's, with the same cmid, is another
   * sender (the key is sender kind, id and cmid). */
  in[2] = chat_msg(bot, "same", f.all, "from a user");
  in[2].sender_id = f.alice;
  in[3].sender_kind = STORE_PRINCIPAL_BOT;
  in[3].sender_id = other;
  CHECK_INT(store_send_batch(f.c, in, 4, out), ==, STORE_OK);
  CHECK_INT(out[0].rc, ==, STORE_OK);
  CHECK_INT(out[0].seq, ==, 1);
  CHECK_INT(out[1].rc, ==, STORE_ENOTFOUND); /* not allowed there */
  CHECK_INT(out[2].rc, ==, STORE_OK);
  CHECK_INT(out[2].seq, ==, 2);
  CHECK(!out[2].dup);
  CHECK_INT(out[3].seq, ==, 3);
  CHECK(!out[3].dup);

  CHECK_INT(store_messages_after(f.c, STORE_PRINCIPAL_BOT, bot, f.all, 0, 0, 10, 0,
                                 &m, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 3);
  CHECK_INT(m[0].sender_kind, ==, STORE_PRINCIPAL_BOT);
  CHECK_INT(m[0].sender_id, ==, bot);
  CHECK_INT(m[1].sender_kind, ==, STORE_PRINCIPAL_USER);
  store_messages_free(m, n);
  CHECK_INT(store_messages_after(f.c, STORE_PRINCIPAL_BOT, bot, f.flagged, 0, 0,
                                 10, 0, &m, &n), ==, STORE_ENOTFOUND);

  /* A re-send by the bot is a duplicate; once revoked it can post nothing
   * new (and reads nothing), but its old acks still answer. */
  in[0].cmid = "same";
  CHECK_INT(store_bot_revoke(f.c, bot), ==, STORE_OK);
  in[1] = in[0];
  in[1].cmid = "after-revoke";
  CHECK_INT(store_send_batch(f.c, in, 2, out), ==, STORE_OK);
  CHECK_INT(out[0].rc, ==, STORE_OK);
  CHECK(out[0].dup);
  CHECK_INT(out[0].seq, ==, 1);
  CHECK_INT(out[1].rc, ==, STORE_ENOTFOUND);
  CHECK_INT(store_messages_after(f.c, STORE_PRINCIPAL_BOT, bot, f.all, 0, 0, 10, 0,
                                 &m, &n), ==, STORE_ENOTFOUND);
  check_gapless(&f, f.all, 3);
  store_close(f.c);
}

TEST(send_tracking_policies)
{
  struct fixture f = chat_fixture_setup();
  struct store_send in[9];
  struct store_send_result out[9];
  struct store_message *m = NULL;
  size_t n = 0;
  /* conversation, kind, flagged -> tracked */
  struct { int64_t conv; enum store_msg_kind kind; bool flagged, tracked; } t[9] = {
    {f.all, STORE_MSG_TEXT, false, true},
    {f.all, STORE_MSG_TEXT, true, true},
    {f.all, STORE_MSG_CARD, false, true},
    {f.flagged, STORE_MSG_TEXT, false, false},
    {f.flagged, STORE_MSG_TEXT, true, true},
    {f.flagged, STORE_MSG_DING, false, true},
    {f.off, STORE_MSG_TEXT, false, false},
    {f.off, STORE_MSG_TEXT, true, false},
    {f.off, STORE_MSG_DING, false, true},
  };
  char cmids[9][8];
  /* A DING needs recipients (sql/0008_ding.sql): bob. */
  struct store_ding d = {.urgency = STORE_URG_NORMAL, .to = &f.bob,
                         .n_to = 1};

  for (int i = 0; i < 9; i++) {
    snprintf(cmids[i], sizeof cmids[i], "t%d", i);
    in[i] = chat_msg(f.alice, cmids[i], t[i].conv, "{}");
    in[i].kind = t[i].kind;
    in[i].flagged = t[i].flagged;
    if (t[i].kind == STORE_MSG_DING)
      in[i].ding = &d;
  }
  CHECK_INT(store_send_batch(f.c, in, 9, out), ==, STORE_OK);
  store_send_results_cleanup(out, 9);
  for (int i = 0; i < 9; i++) {
    if (out[i].tracked != t[i].tracked)
      CHECK_FAIL("message %d: tracked %d, expected %d", i, out[i].tracked,
                 t[i].tracked);
  }
  CHECK_INT(store_messages_after(f.c, STORE_PRINCIPAL_USER, f.alice, f.flagged, 0,
                                 0, 10, 0, &m, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 3);
  CHECK(!m[0].tracked);
  CHECK(m[1].tracked);
  CHECK(m[2].tracked);
  CHECK_INT(m[2].kind, ==, STORE_MSG_DING);
  store_messages_free(m, n);
  store_close(f.c);
}

/* Values the database refuses fail alone: the ones caught in C cost no
 * round trip, the one only PostgreSQL notices (invalid UTF-8) makes the
 * batch fall back to one transaction per message. */
TEST(send_bad_values_fail_alone)
{
  struct fixture f = chat_fixture_setup();
  struct store_send in[7];
  struct store_send_result out[7];
  char long_cmid[66];

  memset(long_cmid, 'k', 65);
  long_cmid[65] = '\0';
  in[0] = chat_msg(f.alice, "ok1", f.all, "1");
  in[1] = chat_msg(f.alice, "", f.all, "empty cmid");
  in[2] = chat_msg(f.alice, long_cmid, f.all, "long cmid");
  in[3] = chat_msg(f.alice, "nul", f.all, "a");
  in[3].body = "a\0b";
  in[3].body_len = 3;
  in[4] = chat_msg(f.alice, "kind", f.all, "bad kind");
  in[4].kind = (enum store_msg_kind)9;
  in[5] = chat_msg(f.alice, "ok2", f.all, "2");
  in[6] = chat_msg(f.alice, "ok3", f.flagged, "3");
  CHECK_INT(store_send_batch(f.c, in, 7, out), ==, STORE_OK);
  CHECK_INT(out[0].seq, ==, 1);
  CHECK_INT(out[1].rc, ==, STORE_EINVAL);
  CHECK_INT(out[2].rc, ==, STORE_EINVAL);
  CHECK_INT(out[3].rc, ==, STORE_EINVAL);
  CHECK_INT(out[4].rc, ==, STORE_EINVAL);
  CHECK_INT(out[5].seq, ==, 2);
  CHECK_INT(out[6].seq, ==, 1);
  CHECK_CONTAINS(store_errmsg(f.c), "invalid message kind 9");

  in[0] = chat_msg(f.alice, "ok4", f.all, "4");
  in[1] = chat_msg(f.alice, "utf8", f.all, "bad \xff byte");
  in[2] = chat_msg(f.bob, "ok5", f.all, "5");
  in[3] = chat_msg(f.carol, "no", f.all, "refused as usual");
  in[4] = chat_msg(f.alice, "ok6", f.flagged, "6");
  CHECK_INT(store_send_batch(f.c, in, 5, out), ==, STORE_OK);
  CHECK_INT(out[0].rc, ==, STORE_OK);
  CHECK_INT(out[0].seq, ==, 3);
  CHECK_INT(out[1].rc, ==, STORE_EINVAL);
  CHECK_CONTAINS(store_errmsg(f.c), "utf8");
  CHECK_INT(out[2].seq, ==, 4);
  CHECK_INT(out[3].rc, ==, STORE_ENOTFOUND);
  CHECK_INT(out[4].seq, ==, 2);
  check_gapless(&f, f.all, 4);
  check_gapless(&f, f.flagged, 2);
  store_close(f.c);
}

/* A connection lost under a batch: EUNAVAIL, out untouched, and the next
 * call reconnects and stores (a re-send of the same cmids is safe). */
TEST(send_connection_lost)
{
  struct fixture f = chat_fixture_setup();
  struct store_send in[2];
  struct store_send_result out[2];

  in[0] = chat_msg(f.alice, "l1", f.all, "1");
  in[1] = chat_msg(f.bob, "l2", f.all, "2");
  pgtest_exec(conninfo, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid()");
  memset(out, 0x5a, sizeof out);
  CHECK_INT(store_send_batch(f.c, in, 2, out), ==, STORE_EUNAVAIL);
  CHECK_INT(out[0].seq, ==, 0x5a5a5a5a5a5a5a5a);
  CHECK_INT(store_send_batch(f.c, in, 2, out), ==, STORE_OK);
  CHECK_INT(out[0].seq, ==, 1);
  CHECK_INT(out[1].seq, ==, 2);
  CHECK(!out[0].dup);
  check_gapless(&f, f.all, 2);
  store_close(f.c);
}

/* Two writers (as two heraldd nodes would be) into one conversation. */
struct writer {
  const struct fixture *f;
  int id;
  int64_t sender;
  int64_t seqs[2000];
  int failures;
};

#define WRITER_MSGS 2000
#define WRITER_BATCH 50

static void *writer_main(void *arg)
{
  struct writer *w = arg;
  struct store_conn *c = NULL;
  struct store_send in[WRITER_BATCH];
  struct store_send_result out[WRITER_BATCH];
  char cmids[WRITER_BATCH][24];

  if (store_connect(conninfo, &c) != STORE_OK) {
    w->failures++;
    store_close(c);
    return NULL;
  }
  for (int b = 0; b < WRITER_MSGS / WRITER_BATCH; b++) {
    for (int i = 0; i < WRITER_BATCH; i++) {
      snprintf(cmids[i], sizeof cmids[i], "w%d-%d", w->id, b * WRITER_BATCH + i);
      in[i] = chat_msg(w->sender, cmids[i], w->f->all, "concurrent");
    }
    if (store_send_batch(c, in, WRITER_BATCH, out) != STORE_OK) {
      w->failures++;
      continue;
    }
    for (int i = 0; i < WRITER_BATCH; i++) {
      if (out[i].rc != STORE_OK || out[i].dup)
        w->failures++;
      w->seqs[b * WRITER_BATCH + i] = out[i].seq;
    }
  }
  store_close(c);
  return NULL;
}

TEST(send_concurrent_writers_gapless)
{
  struct fixture f = chat_fixture_setup();
  static struct writer w[2];
  pthread_t th[2];
  struct store_message *m = NULL;
  size_t n = 0;

  for (int i = 0; i < 2; i++) {
    w[i].f = &f;
    w[i].id = i;
    w[i].sender = i ? f.bob : f.alice;
    CHECK_INT(pthread_create(&th[i], NULL, writer_main, &w[i]), ==, 0);
  }
  for (int i = 0; i < 2; i++) {
    CHECK_INT(pthread_join(th[i], NULL), ==, 0);
    CHECK_INT(w[i].failures, ==, 0);
    /* Each writer's messages got increasing seqs in its own order. */
    for (int j = 1; j < WRITER_MSGS; j++)
      CHECK_INT(w[i].seqs[j], >, w[i].seqs[j - 1]);
  }
  check_gapless(&f, f.all, 2 * WRITER_MSGS);
  CHECK_INT(query_i64("SELECT count(DISTINCT (sender_user_id, client_msg_id))"
                      " FROM messages"), ==, 2 * WRITER_MSGS);
  /* sent_at never decreases along the seqs. */
  CHECK_INT(store_messages_after(f.c, STORE_PRINCIPAL_USER, f.alice, f.all, 0, 0,
                                 2 * WRITER_MSGS, 0, &m, &n), ==, STORE_OK);
  for (size_t i = 1; i < n; i++)
    CHECK_INT(m[i].sent_at_ms, >=, m[i - 1].sent_at_ms);
  store_messages_free(m, n);
  store_close(f.c);
}

/* The same (sender, cmid) racing into two DIFFERENT conversations: the
 * conversation locks do not serialise them, the unique key does. Here a
 * plain transaction holds the competing row while the batch runs into it;
 * when it commits, the batch's INSERT fails with a unique violation, the
 * batch falls back to one transaction per message, and the culprit comes
 * out as a duplicate of the committed row while the rest is stored. */
struct racer {
  const struct fixture *f;
  struct store_send_result out[3];
  int rc;
};

static void *racer_main(void *arg)
{
  struct racer *r = arg;
  struct store_conn *c = NULL;
  struct store_send in[3];

  r->rc = store_connect(conninfo, &c);
  if (r->rc == STORE_OK) {
    in[0] = chat_msg(r->f->alice, "before", r->f->all, "1");
    in[1] = chat_msg(r->f->alice, "race", r->f->all, "the loser");
    in[2] = chat_msg(r->f->bob, "after", r->f->all, "2");
    r->rc = store_send_batch(c, in, 3, r->out);
  }
  store_close(c);
  return NULL;
}

static void exec_ok(PGconn *pg, const char *sql)
{
  PGresult *r = PQexec(pg, sql);

  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
    CHECK_FAIL("%s: %s", sql, PQerrorMessage(pg));
  PQclear(r);
}

TEST(send_cmid_race_across_conversations)
{
  struct fixture f = chat_fixture_setup();
  struct racer r = {.f = &f};
  PGconn *pg = PQconnectdb(conninfo);
  char sql[512];
  pthread_t th;
  struct timespec pause = {0, 100 * 1000 * 1000};

  CHECK_INT(PQstatus(pg), ==, CONNECTION_OK);
  exec_ok(pg, "BEGIN");
  snprintf(sql, sizeof sql,
           "UPDATE conversations SET last_seq = 1 WHERE id = %lld",
           (long long)f.flagged);
  exec_ok(pg, sql);
  snprintf(sql, sizeof sql,
           "INSERT INTO messages (conversation_id, seq, sender_user_id,"
           " client_msg_id, kind, body, tracked)"
           " VALUES (%lld, 1, %lld, 'race', 'text', 'the winner', false)",
           (long long)f.flagged, (long long)f.alice);
  exec_ok(pg, sql);
  CHECK_INT(pthread_create(&th, NULL, racer_main, &r), ==, 0);
  /* Wait until the batch waits on the unique key. */
  for (int i = 0; query_i64("SELECT count(*) FROM pg_locks WHERE NOT granted") == 0;
       i++) {
    if (i == 100)
      CHECK_FAIL("the batch never ran into the competing row");
    nanosleep(&pause, NULL);
  }
  exec_ok(pg, "COMMIT");
  PQfinish(pg);
  CHECK_INT(pthread_join(th, NULL), ==, 0);

  CHECK_INT(r.rc, ==, STORE_OK);
  CHECK_INT(r.out[0].rc, ==, STORE_OK);
  CHECK_INT(r.out[0].seq, ==, 1);
  CHECK(!r.out[0].dup);
  CHECK_INT(r.out[1].rc, ==, STORE_OK);
  CHECK(r.out[1].dup);
  CHECK_INT(r.out[1].conversation_id, ==, f.flagged);
  CHECK_INT(r.out[1].seq, ==, 1);
  CHECK_INT(r.out[2].rc, ==, STORE_OK);
  CHECK_INT(r.out[2].seq, ==, 2);
  check_gapless(&f, f.all, 2);
  CHECK_INT(query_i64("SELECT count(*) FROM messages WHERE client_msg_id = 'race'"),
            ==, 1);
  store_close(f.c);
}

/* The same race, many times, between two real batches. */
struct twin {
  const struct fixture *f;
  int64_t conv;
  struct store_send_result out[40][WRITER_BATCH];
  int rc;
};

static void *twin_main(void *arg)
{
  struct twin *t = arg;
  struct store_conn *c = NULL;
  struct store_send in[WRITER_BATCH];
  char cmids[WRITER_BATCH][24];

  t->rc = store_connect(conninfo, &c);
  for (int b = 0; t->rc == STORE_OK && b < 40; b++) {
    for (int i = 0; i < WRITER_BATCH; i++) {
      /* Half the cmids are shared with the twin, half are our own. */
      if (i % 2)
        snprintf(cmids[i], sizeof cmids[i], "own-%lld-%d-%d", (long long)t->conv,
                 b, i);
      else
        snprintf(cmids[i], sizeof cmids[i], "shared-%d-%d", b, i);
      in[i] = chat_msg(t->f->alice, cmids[i], t->conv, "twin");
    }
    t->rc = store_send_batch(c, in, WRITER_BATCH, t->out[b]);
  }
  store_close(c);
  return NULL;
}

TEST(send_cmid_race_stress)
{
  struct fixture f = chat_fixture_setup();
  static struct twin t[2];
  pthread_t th[2];

  t[0].f = t[1].f = &f;
  t[0].conv = f.all;
  t[1].conv = f.flagged;
  for (int i = 0; i < 2; i++)
    CHECK_INT(pthread_create(&th[i], NULL, twin_main, &t[i]), ==, 0);
  for (int i = 0; i < 2; i++) {
    CHECK_INT(pthread_join(th[i], NULL), ==, 0);
    CHECK_INT(t[i].rc, ==, STORE_OK);
  }
  for (int b = 0; b < 40; b++)
    for (int i = 0; i < WRITER_BATCH; i++) {
      const struct store_send_result *x = &t[0].out[b][i], *y = &t[1].out[b][i];

      CHECK_INT(x->rc, ==, STORE_OK);
      CHECK_INT(y->rc, ==, STORE_OK);
      if (i % 2 == 0) {
        /* One stored it, the other got its ack. */
        CHECK_INT(x->dup + y->dup, ==, 1);
        CHECK_INT(x->conversation_id, ==, y->conversation_id);
        CHECK_INT(x->seq, ==, y->seq);
        CHECK_INT(x->sent_at_ms, ==, y->sent_at_ms);
      } else {
        CHECK(!x->dup && !y->dup);
      }
    }
  CHECK_INT(query_i64("SELECT count(*) FROM messages"), ==, 40 * WRITER_BATCH * 3 / 2);
  check_gapless(&f, f.all, count_messages(f.all));
  check_gapless(&f, f.flagged, count_messages(f.flagged));
  store_close(f.c);
}

/* Not an assertion: prints what batches of several sizes and a long
 * replay cost here. */
TEST(timing_printout)
{
  struct fixture f = chat_fixture_setup();
  enum { GROUPS = 20, MAXB = 500, REPLAY = 10000, PAGE = 1000 };
  static const int sizes[] = {1, 16, 64, 128, 500};
  static struct store_send in[MAXB];
  static struct store_send_result out[MAXB];
  static char cmids[MAXB][32];
  int64_t groups[GROUPS], members[1] = {f.bob};
  struct timespec t0;
  size_t got = 0;
  int serial = 0;

  for (int g = 0; g < GROUPS; g++) {
    char title[16];

    snprintf(title, sizeof title, "G%d", g);
    CHECK_INT(store_group_create(f.c, title, f.alice, STORE_TRACK_ALL, members, 1,
                                 &groups[g]), ==, STORE_OK);
  }
  /* Spread over the groups, then all into one hot group. */
  for (int hot = 0; hot < 2; hot++)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      int size = sizes[s], rounds = size < 64 ? 50 : 12;
      double total = 0, best = 1e9;

      for (int b = 0; b < rounds; b++) {
        double ms;

        for (int i = 0; i < size; i++) {
          snprintf(cmids[i], sizeof cmids[i], "t-%d", serial++);
          in[i] = chat_msg(i % 2 ? f.alice : f.bob, cmids[i],
                      hot ? f.all : groups[i % GROUPS],
                      "a message of about sixty bytes, like a short chat line....");
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK_INT(store_send_batch(f.c, in, (size_t)size, out), ==, STORE_OK);
        ms = ms_since(&t0);
        total += ms;
        best = ms < best ? ms : best;
      }
      printf("send batch of %3d %s: mean %6.2f ms, best %6.2f ms,"
             " %6.0f msg/s\n", size, hot ? "into one group  " : "over 20 groups  ",
             total / rounds, best, size * rounds / total * 1e3);
    }
  /* Top the hot group up to REPLAY messages (untimed), then replay it. */
  while (last_seq(f.c, f.alice, f.all) < REPLAY) {
    for (int i = 0; i < MAXB; i++) {
      snprintf(cmids[i], sizeof cmids[i], "t-%d", serial++);
      in[i] = chat_msg(f.alice, cmids[i], f.all, "filler");
    }
    CHECK_INT(store_send_batch(f.c, in, MAXB, out), ==, STORE_OK);
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int64_t after = 0;;) {
    struct store_message *m = NULL;
    size_t n = 0;

    CHECK_INT(store_messages_after(f.c, STORE_PRINCIPAL_USER, f.bob, f.all, after,
                                   0, PAGE, 1 << 20, &m, &n), ==, STORE_OK);
    if (n == 0)
      break;
    after = m[n - 1].seq;
    got += n;
    store_messages_free(m, n);
    if (got >= REPLAY)
      break;
  }
  printf("replay of %zu messages in pages of %d: %.1f ms\n", got, PAGE,
         ms_since(&t0));
  store_close(f.c);
}

TEST_MAIN()
