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

#include <stdlib.h>
#include <string.h>
#include <time.h>

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

  /* Erasing bob (crypto-shredding) makes his read time unrecoverable at
   * once, on the running server; carol's stays, and bob still counts as a
   * reader. */
  {
    char cmd[1024];
    const char *ctl = getenv("HERALDCTL");

    CHECK(ctl != NULL);
    snprintf(cmd, sizeof(cmd), "'%s' --db '%s' user erase bob >/dev/null",
             ctl, srv.db);
    CHECK_INT(system(cmd), ==, 0);
  }
  CHECK_INT(who_read(pa, (uint64_t)group, seq, &w), ==, 0);
  CHECK_UINT(w.u.who_read_result.nrows, ==, 2);
  for (size_t i = 0; i < 2; i++) {
    const struct proto_who_row *r = &w.u.who_read_result.rows[i];
    CHECK(r->read);
    if (r->uid == (uint64_t)bob)
      CHECK_UINT(r->at, ==, 0);
    else
      CHECK(r->at != 0);
  }
  proto_frame_cleanup(&w);

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

TEST_MAIN()
