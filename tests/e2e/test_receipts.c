/*
 * test_receipts.c — read receipts end to end: reads reported by members
 * reach the sender live as "read k of n", the who-read list shows who read
 * and when (to the minute, to the sender only), offline reads keep their
 * past time and future times are clamped, and read times are stored only
 * sealed.
 */
#include "check.h"
#include "e2e.h"
#include "peer.h"
#include "pgtest.h"
#include "stored.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct rcpt_log {
  uint64_t seq, read, total;
};

static struct rcpt_log rlog[64];
static size_t nrlog;

static void on_receipt(struct hc_conn *c, const struct hc_event *ev, void *arg)
{
  (void)c;
  (void)arg;
  if (ev->type == HC_EV_RECEIPT && nrlog < 64)
    rlog[nrlog++] = (struct rcpt_log){ev->receipt->seq, ev->receipt->read,
                                      ev->receipt->total};
}

static bool has_receipt(void *arg)
{
  const struct rcpt_log *want = arg;
  for (size_t i = 0; i < nrlog; i++)
    if (rlog[i].seq == want->seq && rlog[i].read == want->read &&
        rlog[i].total == want->total)
      return true;
  return false;
}

static bool outbox_empty(void *arg)
{
  return hc_outbox_count(((struct peer *)arg)->c) == 0;
}

static int who_read(struct peer *p, uint64_t conv, uint64_t seq,
                    struct proto_frame *reply)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_WHO_READ);
  f.u.who_read.conv = conv;
  f.u.who_read.seq = seq;
  return peer_request(p, &f, reply);
}

TEST(receipts_live_and_who_read)
{
  struct e2e_server srv;
  int64_t alice, bob, carol, group, ids[2];
  struct peer *pa, *pb, *pc, *pd;
  struct hc_conn_config cfg = {0};
  struct proto_frame w;
  struct rcpt_log want;
  uint64_t seq, t_bob, now;
  char pw[] = "pw-alice";

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  carol = e2e_user(&srv, "carol");
  e2e_user(&srv, "dave");
  ids[0] = bob;
  ids[1] = carol;
  group = e2e_group(&srv, "Readers", alice, ids, 2);
  /* Read times are recorded only outside quiet hours: none here, so the
   * test does not depend on the hour it runs at (test_quiet.c covers
   * reads in quiet hours). */
  pgtest_exec(srv.db, "DELETE FROM quiet_windows");
  e2e_server_start(&srv, NULL);

  /* Alice listens for receipts with her own event callback. */
  cfg.url = srv.url;
  cfg.login = "alice";
  cfg.password = pw;
  cfg.on_event = on_receipt;
  pa = calloc(1, sizeof(*pa));
  snprintf(pa->name, sizeof(pa->name), "alice");
  CHECK_INT(hc_conn_new(peer_ctx(), &cfg, &pa->c), ==, 0);
  CHECK_INT(hc_conn_start(pa->c), ==, 0);
  pb = peer_new(srv.url, "bob", NULL, true);
  pc = peer_new(srv.url, "carol", NULL, true);
  pd = peer_new(srv.url, "dave", NULL, true);
  hc_run_until(peer_ctx(), NULL, NULL, 300);

  CHECK_INT(hc_send_text(pa->c, (uint64_t)group, "please read", 11, NULL,
                         NULL), ==, 0);
  peer_wait(outbox_empty, pa, 10000, "alice's message stored");
  seq = 1;

  /* Bob read it ten minutes ago, offline; the server keeps that time but
   * not before the message existed: it is clamped to the send time. */
  now = (uint64_t)time(NULL) * 1000;
  t_bob = now - 10 * 60 * 1000;
  CHECK_INT(hc_mark_read(pb->c, (uint64_t)group, seq, t_bob, NULL), ==, 0);
  peer_wait(outbox_empty, pb, 10000, "bob's read");
  want = (struct rcpt_log){seq, 1, 2};
  peer_wait(has_receipt, &want, 10000, "read 1/2 on alice's device");

  /* Carol reports a read in the future: clamped to now. */
  CHECK_INT(hc_mark_read(pc->c, (uint64_t)group, seq, now + 3600 * 1000,
                         NULL), ==, 0);
  peer_wait(outbox_empty, pc, 10000, "carol's read");
  want = (struct rcpt_log){seq, 2, 2};
  peer_wait(has_receipt, &want, 10000, "read 2/2 on alice's device");

  /* The sender sees both, with times to the minute. */
  CHECK_INT(who_read(pb, (uint64_t)group, seq, &w), ==, 0);
  CHECK_UINT(w.u.who_read_result.nrows, ==, 1);          /* bob: own row */
  CHECK_UINT(w.u.who_read_result.rows[0].uid, ==, (uint64_t)bob);
  proto_frame_cleanup(&w);
  CHECK_INT(who_read(pa, (uint64_t)group, seq, &w), ==, 0);
  CHECK_UINT(w.u.who_read_result.nrows, ==, 2);
  for (size_t i = 0; i < 2; i++) {
    const struct proto_who_row *r = &w.u.who_read_result.rows[i];
    CHECK(r->read);
    CHECK_UINT(r->at % 60000, ==, 0);
    /* Both clamps put the times between sending and now. */
    CHECK(r->at + 60000 >= now - 60000 && r->at <= now + 60000);
  }
  proto_frame_cleanup(&w);

  /* Erasure: test_privacy.c (erase_shreds_read_times_only). */

  /* A non-member learns nothing. */
  CHECK_INT(who_read(pd, (uint64_t)group, seq, &w), ==, PROTO_E_NOT_FOUND);
  proto_frame_cleanup(&w);

  /* The database holds read times only sealed: two ranges, 48-byte blobs,
   * and no plaintext time column. */
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM read_ranges WHERE "
                                "octet_length(read_time_sealed) = 48"), ==, 2);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM information_schema."
                                "columns WHERE table_name = 'read_ranges' AND "
                                "data_type LIKE 'timestamp%' AND column_name "
                                "LIKE '%read_at%'"), ==, 0);

  hc_conn_free(pa->c);
  free(pa);
  peer_free(pb);
  peer_free(pc);
  peer_free(pd);
  e2e_server_stop(&srv);
}

/* Receipts that changed while the sender was away arrive with the replay
 * after reconnect (the feed), once. */
TEST(receipts_replayed_after_reconnect)
{
  struct e2e_server srv;
  int64_t alice, bob, group;
  struct peer *pb;
  struct hc_conn_config cfg = {0};
  struct hc_conn *ca;
  struct rcpt_log want;
  char dir[] = "/tmp/herald-e2e-rcpt-XXXXXX", pw[] = "pw-alice", cmd[64];
  struct peer holder = {0};

  CHECK(mkdtemp(dir) != NULL);
  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  group = e2e_group(&srv, "Away", alice, &bob, 1);
  /* Read times are recorded only outside quiet hours (test_quiet.c). */
  pgtest_exec(srv.db, "DELETE FROM quiet_windows");
  e2e_server_start(&srv, NULL);

  cfg.url = srv.url;
  cfg.login = "alice";
  cfg.password = pw;
  cfg.state_dir = dir;
  cfg.on_event = on_receipt;
  CHECK_INT(hc_conn_new(peer_ctx(), &cfg, &ca), ==, 0);
  CHECK_INT(hc_conn_start(ca), ==, 0);
  holder.c = ca;
  CHECK_INT(hc_send_text(ca, (uint64_t)group, "one", 3, NULL, NULL), ==, 0);
  CHECK_INT(hc_send_text(ca, (uint64_t)group, "two", 3, NULL, NULL), ==, 0);
  peer_wait(outbox_empty, &holder, 10000, "alice's messages stored");
  hc_run_until(peer_ctx(), NULL, NULL, 300);
  hc_conn_free(ca);                       /* alice goes away */

  pb = peer_new(srv.url, "bob", NULL, true);
  CHECK_INT(hc_mark_read(pb->c, (uint64_t)group, 2, 0, NULL), ==, 0);
  peer_wait(outbox_empty, pb, 10000, "bob's read");

  nrlog = 0;
  CHECK_INT(hc_conn_new(peer_ctx(), &cfg, &ca), ==, 0);
  CHECK_INT(hc_conn_start(ca), ==, 0);
  want = (struct rcpt_log){1, 1, 1};
  peer_wait(has_receipt, &want, 10000, "receipt of message 1 after reconnect");
  want = (struct rcpt_log){2, 1, 1};
  peer_wait(has_receipt, &want, 10000, "receipt of message 2 after reconnect");
  CHECK_UINT(hc_feed_cursor(ca), ==, 1);  /* one change: bob's read */
  hc_conn_free(ca);

  /* Once seen, not again. */
  nrlog = 0;
  CHECK_INT(hc_conn_new(peer_ctx(), &cfg, &ca), ==, 0);
  CHECK_INT(hc_conn_start(ca), ==, 0);
  hc_run_until(peer_ctx(), NULL, NULL, 1500);
  CHECK_UINT(nrlog, ==, 0);
  hc_conn_free(ca);
  peer_free(pb);
  e2e_server_stop(&srv);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  CHECK_INT(system(cmd), ==, 0);
}

static uint64_t wall_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t who_at(struct peer *p, int64_t conv, uint64_t seq,
                       int64_t reader)
{
  struct proto_frame w;
  const struct proto_who_row *r;
  uint64_t at;

  CHECK_INT(peer_who_read(p, (uint64_t)conv, seq, &w), ==, 0);
  CHECK((r = peer_who_row(&w, (uint64_t)reader)) != NULL);
  CHECK(r->read);
  at = r->at;
  proto_frame_cleanup(&w);
  return at;
}

static int64_t stored_at(struct e2e_server *srv, int64_t conv, int64_t seq,
                         int64_t reader)
{
  int64_t ms = 0;

  CHECK_INT(stored_read_time(srv, conv, seq, reader, &ms), ==,
            STORED_TIME_OK);
  return ms;
}

#define MINUTE(ms) ((ms) - (ms) % 60000)

/* `at` is kept when it lies between the message's time and now, exactly
 * (sealed to the ms, shown to the minute); earlier is clamped to the time
 * of the last message the read covers, later to now. */
TEST(read_times_kept_or_clamped)
{
  struct e2e_server srv;
  int64_t alice, ids[4], g, sent1, sent2, got;
  struct peer *pa, *p[4];
  const char *names[4] = {"bob", "carol", "dave", "erin"};
  uint64_t now, t_bob, before, after;
  char sql[200];

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  for (int i = 0; i < 4; i++)
    ids[i] = e2e_user(&srv, names[i]);
  g = e2e_group(&srv, "Times", alice, ids, 4);
  /* Read times are recorded only outside quiet hours (test_quiet.c). */
  pgtest_exec(srv.db, "DELETE FROM quiet_windows");
  e2e_server_start(&srv, NULL);
  pa = peer_new(srv.url, "alice", NULL, true);
  for (int i = 0; i < 4; i++)
    p[i] = peer_new(srv.url, names[i], NULL, true);
  peer_say(pa, (uint64_t)g, "one");
  peer_say(pa, (uint64_t)g, "two");
  pgtest_exec(srv.db, "UPDATE messages SET sent_at = now() - CASE seq WHEN 1 "
                      "THEN interval '3 hours' ELSE interval '1 hour' END");
  snprintf(sql, sizeof(sql), "SELECT floor(extract(epoch FROM sent_at) * "
           "1000) FROM messages WHERE conversation_id = %lld AND seq = 1",
           (long long)g);
  sent1 = e2e_query_int(&srv, sql);
  sql[strlen(sql) - 1] = '2';
  sent2 = e2e_query_int(&srv, sql);

  /* In the past, after the message: kept. */
  now = wall_ms();
  t_bob = now - 150 * 60000 + 12345;
  CHECK_INT(peer_read_at(p[0], (uint64_t)g, 1, t_bob), ==, 0);
  CHECK_INT(stored_at(&srv, g, 1, ids[0]), ==, (int64_t)t_bob);
  CHECK_UINT(who_at(pa, g, 1, ids[0]), ==, MINUTE(t_bob));
  /* Before the message existed: its send time. */
  CHECK_INT(peer_read_at(p[1], (uint64_t)g, 1, now - 5 * 3600 * 1000), ==, 0);
  CHECK_INT(stored_at(&srv, g, 1, ids[1]), ==, sent1);
  CHECK_UINT(who_at(pa, g, 1, ids[1]), ==, (uint64_t)MINUTE(sent1));
  /* In the future: now. */
  before = wall_ms();
  CHECK_INT(peer_read_at(p[2], (uint64_t)g, 1, now + 3600 * 1000), ==, 0);
  after = wall_ms();
  got = stored_at(&srv, g, 1, ids[2]);
  CHECK_INT(got, >=, (int64_t)before - 1000);
  CHECK_INT(got, <=, (int64_t)after + 1000);
  CHECK_UINT(who_at(pa, g, 1, ids[2]), ==, MINUTE((uint64_t)got));
  /* A read of 1..2 two hours ago: message 2 is one hour old, so that. */
  CHECK_INT(peer_read_at(p[3], (uint64_t)g, 2, now - 2 * 3600 * 1000), ==, 0);
  CHECK_INT(stored_at(&srv, g, 1, ids[3]), ==, sent2);
  CHECK_UINT(who_at(pa, g, 2, ids[3]), ==, (uint64_t)MINUTE(sent2));
  peer_free(pa);
  for (int i = 0; i < 4; i++)
    peer_free(p[i]);
  e2e_server_stop(&srv);
}

struct queued {
  size_t n;
  uint64_t at[4];
};

static int note_read(uint64_t oid, const struct proto_frame *f, void *arg)
{
  struct queued *q = arg;

  (void)oid;
  CHECK_INT(f->type, ==, PROTO_T_READ);
  if (q->n < 4)
    q->at[q->n] = f->u.read.at;
  q->n++;
  return 0;
}

static bool went_offline(void *arg)
{
  return ((struct peer *)arg)->offline > 0;
}

/* The real offline path: bob reads while the server is down; his client
 * queues each read (on disk) with the time it happened and quits. After
 * the restart a new client replays the queue, and the server records the
 * queued times, not the replay's. */
TEST(offline_read_replayed_with_its_time)
{
  struct e2e_server srv;
  int64_t alice, bob, g, g2;
  struct peer *pa, *pb;
  struct queued q = {0};
  uint64_t t_old, before, after, replay;
  int64_t got;
  char dir[] = "/tmp/herald-e2e-offline-XXXXXX", cmd[80];

  CHECK(mkdtemp(dir) != NULL);
  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  g = e2e_group(&srv, "Away", alice, &bob, 1);
  g2 = e2e_group(&srv, "Also away", alice, &bob, 1);
  /* Read times are recorded only outside quiet hours (test_quiet.c). */
  pgtest_exec(srv.db, "DELETE FROM quiet_windows");
  e2e_server_start(&srv, NULL);
  pa = peer_new(srv.url, "alice", NULL, true);
  pb = peer_new(srv.url, "bob", dir, true);
  peer_say(pa, (uint64_t)g, "read me");
  peer_say(pa, (uint64_t)g2, "and me");
  pgtest_exec(srv.db, "UPDATE messages SET sent_at = now() - "
                      "interval '2 hours'");
  peer_free(pa);
  e2e_server_stop(&srv);
  peer_wait(went_offline, pb, 10000, "bob's client offline");

  /* Offline: one read with the time the application says it happened, one
   * with "now" (0), which the library fills in at once. */
  t_old = wall_ms() - 30 * 60000;
  before = wall_ms();
  CHECK_INT(hc_mark_read(pb->c, (uint64_t)g, 1, t_old, NULL), ==, 0);
  CHECK_INT(hc_mark_read(pb->c, (uint64_t)g2, 1, 0, NULL), ==, 0);
  after = wall_ms();
  hc_outbox_foreach(pb->c, note_read, &q);
  CHECK_UINT(q.n, ==, 2);
  CHECK_UINT(q.at[0], ==, t_old);
  CHECK_UINT(q.at[1], >=, before);
  CHECK_UINT(q.at[1], <=, after);
  peer_free(pb);                          /* the client quits, queue on disk */
  usleep(1500 * 1000);

  replay = wall_ms();
  e2e_server_start(&srv, NULL);
  pb = peer_new(srv.url, "bob", dir, true);
  peer_wait(outbox_empty, pb, 10000, "bob's queued reads replayed");
  pa = peer_new(srv.url, "alice", NULL, true);
  CHECK_INT(stored_at(&srv, g, 1, bob), ==, (int64_t)t_old);
  CHECK_UINT(who_at(pa, g, 1, bob), ==, MINUTE(t_old));
  CHECK(MINUTE(t_old) != MINUTE(replay));
  got = stored_at(&srv, g2, 1, bob);
  CHECK_INT(got, ==, (int64_t)q.at[1]);   /* when it was read ... */
  CHECK_INT(got, <, (int64_t)replay - 1000); /* ... not when it arrived */
  peer_free(pa);
  peer_free(pb);
  e2e_server_stop(&srv);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  CHECK_INT(system(cmd), ==, 0);
}

TEST_MAIN()
