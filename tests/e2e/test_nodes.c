/*
 * test_nodes.c — several heraldd nodes on one database (SPEC §12): what
 * one node commits reaches the clients of another live, in order, with no
 * gap; a client of a node that dies fails over to another and loses
 * nothing; a node whose LISTEN connection drops catches up by cursor.
 */
#include "check.h"
#include "e2e.h"
#include "peer.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static struct e2e_server n1, n2;

/* Two nodes on one fresh database and one master key; alice and bob in
 * one group. Returns the group id. */
static int64_t two_nodes(int64_t *alice, int64_t *bob)
{
  int64_t ids[1];

  e2e_server_init(&n1);
  *alice = e2e_org(&n1, "alice");
  *bob = e2e_user(&n1, "bob");
  ids[0] = *bob;
  e2e_server_init_db(&n2, n1.db);
  snprintf(n2.dir, sizeof(n2.dir), "%s", n1.dir);
  e2e_server_start(&n1, NULL);
  e2e_server_start(&n2, NULL);
  return e2e_group(&n1, "Ops", *alice, ids, 1);
}

struct want {
  struct peer *p;
  uint64_t conv;
  size_t n;
};

static bool has_n(void *arg)
{
  struct want *w = arg;
  return peer_count(w->p, w->conv) >= w->n;
}

static void wait_msgs(struct peer *p, uint64_t conv, size_t n)
{
  struct want w = {p, conv, n};
  char what[96];

  snprintf(what, sizeof(what), "%s has %zu messages", p->name, n);
  peer_wait(has_n, &w, 60000, what);
}

static void say_n(struct peer *p, uint64_t conv, const char *tag, int n)
{
  char b[64];

  for (int i = 0; i < n; i++) {
    snprintf(b, sizeof(b), "%s %d", tag, i);
    CHECK_INT(hc_send_text(p->c, conv, b, strlen(b), NULL, NULL), ==, 0);
  }
}

/* Both nodes have LISTEN in force (logged once connected). */
static bool both_listening(void *arg)
{
  (void)arg;
  return e2e_log_count(&n1, "listening for other nodes") >= 1 &&
         e2e_log_count(&n2, "listening for other nodes") >= 1;
}

static bool size_at_least(void *arg)
{
  const size_t *v = ((const size_t *const *)arg)[0];
  const size_t *min = ((const size_t *const *)arg)[1];
  return *v >= *min;
}

static void wait_count(const size_t *v, size_t min, const char *what)
{
  const size_t *args[2] = {v, &min};
  peer_wait(size_at_least, (void *)args, 30000, what);
}

TEST(messages_both_ways_in_order)
{
  int64_t alice, bob, g = two_nodes(&alice, &bob);
  struct peer *pa = peer_new(n1.url, "alice", NULL, true);
  struct peer *pb = peer_new(n2.url, "bob", NULL, true);

  peer_wait(both_listening, NULL, 30000, "both nodes listening");
  /* 200 from each side at once: both clients see 1..400 exactly once and
   * in order, whichever node took each send. */
  say_n(pa, (uint64_t)g, "a", 200);
  say_n(pb, (uint64_t)g, "b", 200);
  wait_msgs(pa, (uint64_t)g, 400);
  wait_msgs(pb, (uint64_t)g, 400);
  peer_check_history(pa, (uint64_t)g, 400);
  peer_check_history(pb, (uint64_t)g, 400);
  /* Live, not by a later sync. */
  CHECK_UINT(pa->synced, ==, 1);
  CHECK_UINT(pb->synced, ==, 1);
  peer_free(pa);
  peer_free(pb);
  e2e_server_stop(&n2);
  e2e_server_stop(&n1);
}

TEST(receipts_and_ding_updates_cross_nodes)
{
  int64_t alice, bob, g = two_nodes(&alice, &bob);
  struct peer *pa = peer_new(n1.url, "alice", NULL, true);
  struct peer *pb = peer_new(n2.url, "bob", NULL, true);
  uint64_t to[1] = {(uint64_t)bob};
  size_t before;

  peer_wait(both_listening, NULL, 30000, "both nodes listening");
  peer_say(pa, (uint64_t)g, "tracked");
  wait_msgs(pb, (uint64_t)g, 1);
  /* bob reads on node 2: alice, on node 1, hears it live. */
  before = pa->receipts;
  CHECK_INT(hc_mark_read(pb->c, (uint64_t)g, 1, 0, NULL), ==, 0);
  wait_count(&pa->receipts, before + 1, "alice gets bob's receipt");
  /* A DING to bob through node 1 reaches him on node 2 live; his ack
   * there reaches alice's ding_update on node 1. */
  CHECK_INT(hc_send_ding(pa->c, (uint64_t)g, "db down", 7, PROTO_URG_URGENT,
                         to, 1, NULL, 0, NULL, NULL), ==, 0);
  wait_msgs(pb, (uint64_t)g, 2);
  CHECK_INT(pb->msgs[pb->nmsgs - 1].kind, ==, PROTO_KIND_DING);
  /* His own row (the send's feed entry) comes as a ding_update. The
   * step-0 ding_alert stays with the sending node's sessions (left for
   * later; the row and the message carry the same news). */
  wait_count(&pb->ndupd, 1, "bob's own DING row on node 2");
  CHECK_UINT(pb->dupd[0].row.uid, ==, (uint64_t)bob);
  before = pa->ndupd;
  CHECK_INT(hc_ding_ack(pb->c, (uint64_t)g, 2, 0, NULL), ==, 0);
  wait_count(&pa->ndupd, before + 1, "alice hears bob's ack");
  CHECK_UINT(pa->dupd[pa->ndupd - 1].row.uid, ==, (uint64_t)bob);
  CHECK_UINT(pa->synced, ==, 1);
  peer_free(pa);
  peer_free(pb);
  e2e_server_stop(&n2);
  e2e_server_stop(&n1);
}

TEST(node_killed_mid_burst_client_fails_over)
{
  int64_t alice, bob, g = two_nodes(&alice, &bob);
  const char *urls[2] = {n1.url, n2.url};
  struct peer *pa = peer_new_urls(urls, 2, "alice", NULL, true);
  struct peer *pb = peer_new(n2.url, "bob", NULL, true);

  peer_wait(both_listening, NULL, 30000, "both nodes listening");
  say_n(pa, (uint64_t)g, "a", 300);
  say_n(pb, (uint64_t)g, "b", 100);
  /* Node 1 dies in the middle of alice's burst. */
  wait_msgs(pb, (uint64_t)g, 60);
  e2e_server_signal(&n1, SIGKILL);
  /* alice reconnects to node 2 and replays her outbox: every send is
   * stored once (the server answers a resend with its original ack). */
  wait_msgs(pa, (uint64_t)g, 400);
  wait_msgs(pb, (uint64_t)g, 400);
  peer_check_history(pa, (uint64_t)g, 400);
  peer_check_history(pb, (uint64_t)g, 400);
  CHECK_INT(e2e_query_int(&n2, "SELECT count(*) FROM messages"), ==, 400);
  /* Every send answered once (the acks of the last ones may follow their
   * messages). */
  wait_count(&pa->acked, 300, "alice's sends all acknowledged");
  CHECK_UINT(pa->acked, ==, 300);
  CHECK_UINT(pa->failed, ==, 0);
  CHECK_UINT(hc_outbox_count(pa->c), ==, 0);
  CHECK_UINT(pa->offline, >=, 1);
  peer_free(pa);
  peer_free(pb);
  e2e_server_stop(&n2);
}

TEST(listener_dropped_catches_up)
{
  int64_t alice, bob, g = two_nodes(&alice, &bob);
  struct peer *pa = peer_new(n1.url, "alice", NULL, true);
  struct peer *pb = peer_new(n2.url, "bob", NULL, true);

  peer_wait(both_listening, NULL, 30000, "both nodes listening");
  say_n(pa, (uint64_t)g, "before", 10);
  wait_msgs(pb, (uint64_t)g, 10);
  /* Both listeners go (an operator, a restarted pooler): what commits
   * until they are back arrives by cursor once they are. */
  CHECK_INT(e2e_query_int(&n1, "SELECT count(pg_terminate_backend(pid))"
                               " FROM pg_stat_activity WHERE"
                               " application_name = 'herald-listen' AND"
                               " datname = current_database()"), ==, 2);
  say_n(pa, (uint64_t)g, "deaf", 50);
  wait_msgs(pb, (uint64_t)g, 60);
  peer_check_history(pb, (uint64_t)g, 60);
  CHECK_INT(e2e_log_count(&n2, "LISTEN connection lost"), >=, 1);
  CHECK_INT(e2e_log_count(&n2, "listening for other nodes"), >=, 2);
  CHECK_UINT(pb->synced, ==, 1);
  peer_free(pa);
  peer_free(pb);
  e2e_server_stop(&n2);
  e2e_server_stop(&n1);
}

/* Unread reminders with two nodes sweeping every second: made once (one
 * feed entry), and both of bob's devices, one per node, get it live. */
TEST(reminders_made_once_with_two_nodes)
{
  static const char *const fast_sweeps[] = {"--sweep-interval", "1", NULL};
  struct proto_frame f, r;
  int64_t alice, bob, ids[1];
  uint64_t members[1], g;
  struct peer *pa, *pb1, *pb2;
  char sql[256];

  e2e_server_init(&n1);
  alice = e2e_org(&n1, "alice");
  bob = e2e_user(&n1, "bob");
  (void)alice;
  ids[0] = bob;
  e2e_server_init_db(&n2, n1.db);
  snprintf(n2.dir, sizeof(n2.dir), "%s", n1.dir);
  e2e_server_start(&n1, fast_sweeps);
  e2e_server_start(&n2, fast_sweeps);
  pa = peer_new(n1.url, "alice", NULL, true);
  members[0] = (uint64_t)ids[0];
  proto_frame_init(&f, PROTO_T_CONV_CREATE);
  f.u.conv_create.type = PROTO_CONV_GROUP;
  f.u.conv_create.title = (struct proto_str){"Standup", 7};
  f.u.conv_create.members = members;
  f.u.conv_create.nmembers = 1;
  f.u.conv_create.remind_after = 3600;
  f.u.conv_create.task_after = 4 * 3600;
  CHECK_INT(peer_request(pa, &f, &r), ==, 0);
  g = r.u.result.conv;
  proto_frame_cleanup(&r);
  pb1 = peer_new(n1.url, "bob", NULL, true);
  pb2 = peer_new(n2.url, "bob", NULL, true);
  peer_wait(both_listening, NULL, 30000, "both nodes listening");
  peer_say(pa, g, "agenda?");
  wait_msgs(pb2, g, 1);
  snprintf(sql, sizeof(sql),
           "WITH u AS (UPDATE messages SET sent_at = sent_at - interval "
           "'2 hours' WHERE conversation_id = %llu RETURNING 1)"
           " SELECT count(*) FROM u", (unsigned long long)g);
  CHECK_INT(e2e_query_int(&n1, sql), ==, 1);
  wait_count(&pb1->nreminds, 1, "bob's reminder on node 1");
  wait_count(&pb2->nreminds, 1, "bob's reminder on node 2");
  /* Several more sweeps on both nodes: nothing more. */
  hc_run_until(peer_ctx(), NULL, NULL, 3000);
  CHECK_UINT(pb1->nreminds, ==, 1);
  CHECK_UINT(pb2->nreminds, ==, 1);
  CHECK_UINT(pb1->reminds[0].fs, ==, pb2->reminds[0].fs);
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM feed WHERE kind ="
           " 'remind' AND user_id = %lld", (long long)bob);
  CHECK_INT(e2e_query_int(&n1, sql), ==, 1);
  CHECK_INT(e2e_log_count(&n1, "1 reminder made") +
            e2e_log_count(&n2, "1 reminder made"), ==, 1);
  peer_free(pa);
  peer_free(pb1);
  peer_free(pb2);
  e2e_server_stop(&n2);
  e2e_server_stop(&n1);
}

/* Quiet hours edited behind the servers' backs (heraldctl, SQL): every
 * node hears it at once ("q"), not at its next periodic refresh (10 min):
 * bob's messages on node 2 turn silent within seconds. */
TEST(quiet_hours_edit_reaches_every_node)
{
  int64_t alice, bob, g = two_nodes(&alice, &bob);
  struct peer *pa = peer_new(n1.url, "alice", NULL, true);
  struct peer *pb = peer_new(n2.url, "bob", NULL, true);
  bool silent = false;
  size_t n = 0;

  peer_wait(both_listening, NULL, 30000, "both nodes listening");
  peer_say(pa, (uint64_t)g, "loud");
  wait_msgs(pb, (uint64_t)g, ++n);
  CHECK(!pb->msgs[pb->nmsgs - 1].silent);
  /* The whole week quiet for the organisation. */
  CHECK_INT(e2e_query_int(&n1, "WITH i AS (INSERT INTO quiet_windows"
                               " (user_id, day_of_week, start_minute,"
                               " end_minute) SELECT NULL, d, 0, 1440 FROM"
                               " generate_series(0, 6) d RETURNING 1)"
                               " SELECT count(*) FROM i"), ==, 7);
  for (int i = 0; i < 50 && !silent; i++) {
    hc_run_until(peer_ctx(), NULL, NULL, 100);
    peer_say(pa, (uint64_t)g, "quiet?");
    wait_msgs(pb, (uint64_t)g, ++n);
    silent = pb->msgs[pb->nmsgs - 1].silent;
  }
  CHECK(silent);
  peer_free(pa);
  peer_free(pb);
  e2e_server_stop(&n2);
  e2e_server_stop(&n1);
}

TEST_MAIN()
