/*
 * test_chat.c — the chat core end to end: the real heraldd, real clients
 * (herald_client) over real sockets, a real PostgreSQL.
 */
#include "check.h"
#include "e2e.h"
#include "peer.h"
#include "pgtest.h"

#include <stdlib.h>
#include <string.h>

struct count_arg {
  struct peer *p;
  uint64_t conv;
  size_t n;
};

static bool has_count(void *arg)
{
  struct count_arg *a = arg;
  return peer_count(a->p, a->conv) >= a->n;
}

static void wait_count(struct peer *p, uint64_t conv, size_t n)
{
  struct count_arg a = {p, conv, n};
  char what[128];

  snprintf(what, sizeof(what), "%s to receive %zu messages of %llu", p->name,
           n, (unsigned long long)conv);
  peer_wait(has_count, &a, 60000, what);
}

struct acked_arg {
  struct peer *p;
  size_t n;
};

static bool has_acks(void *arg)
{
  struct acked_arg *a = arg;
  return a->p->acked + a->p->failed >= a->n;
}

static void wait_acks(struct peer *p, size_t n)
{
  struct acked_arg a = {p, n};
  peer_wait(has_acks, &a, 60000, "acks");
  CHECK_UINT(p->failed, ==, 0);
}

static void send_text(struct peer *p, uint64_t conv, const char *text)
{
  CHECK_INT(hc_send_text(p->c, conv, text, strlen(text), NULL, NULL), ==, 0);
}

static int expect_error(struct peer *p, const struct proto_frame *req)
{
  struct proto_frame reply;
  int rc = peer_request(p, req, &reply);

  proto_frame_cleanup(&reply);
  return rc;
}

TEST(group_direct_and_outsider)
{
  struct e2e_server srv;
  int64_t alice, bob, carol, group;
  struct peer *pa, *pb, *pc;
  struct proto_frame f, reply;
  uint64_t direct, members[1];

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  carol = e2e_user(&srv, "carol");
  group = e2e_group(&srv, "Launch", alice, &bob, 1);
  e2e_server_start(&srv, NULL);

  pa = peer_new(srv.url, "alice", NULL, true);
  pb = peer_new(srv.url, "bob", NULL, true);
  pc = peer_new(srv.url, "carol", NULL, true);

  /* Group chat both ways. */
  send_text(pa, (uint64_t)group, "hello bob");
  send_text(pb, (uint64_t)group, "hi alice");
  wait_acks(pa, 1);
  wait_acks(pb, 1);
  wait_count(pa, (uint64_t)group, 2);
  wait_count(pb, (uint64_t)group, 2);
  peer_check_history(pa, (uint64_t)group, 2);
  peer_check_history(pb, (uint64_t)group, 2);
  CHECK_STR(pa->msgs[0].body, pb->msgs[0].body);

  /* 1:1: created by alice, bob receives without reconnecting. */
  members[0] = (uint64_t)bob;
  direct = peer_conv_create(pa, true, NULL, members, 1);
  CHECK_UINT(peer_conv_create(pb, true, NULL, (uint64_t[]){(uint64_t)alice},
                              1), ==, direct);   /* the same conversation */
  send_text(pa, direct, "just us");
  wait_count(pb, direct, 1);
  peer_check_history(pb, direct, 1);

  /* Carol is no member: nothing arrived, and the group does not exist for
   * her — the same answer as for a conversation that does not exist. */
  CHECK_UINT(peer_count(pc, (uint64_t)group), ==, 0);
  CHECK_UINT(peer_count(pc, direct), ==, 0);

  proto_frame_init(&f, PROTO_T_SEND);
  f.u.send.cmid = (struct proto_str){"carol-1", 7};
  f.u.send.conv = (uint64_t)group;
  f.u.send.kind = PROTO_KIND_TEXT;
  f.u.send.body = (struct proto_str){"let me in", 9};
  CHECK_INT(expect_error(pc, &f), ==, PROTO_E_NOT_FOUND);
  f.u.send.conv = 999999;
  f.u.send.cmid = (struct proto_str){"carol-2", 7};
  CHECK_INT(expect_error(pc, &f), ==, PROTO_E_NOT_FOUND);

  proto_frame_init(&f, PROTO_T_HISTORY);
  f.u.history.conv = (uint64_t)group;
  CHECK_INT(expect_error(pc, &f), ==, PROTO_E_NOT_FOUND);
  proto_frame_init(&f, PROTO_T_CONV_MEMBERS);
  f.u.conv_members.conv = (uint64_t)group;
  CHECK_INT(expect_error(pc, &f), ==, PROTO_E_NOT_FOUND);
  proto_frame_init(&f, PROTO_T_CONV_ADD_MEMBER);
  f.u.conv_add_member.conv = (uint64_t)group;
  f.u.conv_add_member.uid = (uint64_t)carol;
  CHECK_INT(expect_error(pc, &f), ==, PROTO_E_NOT_FOUND);

  proto_frame_init(&f, PROTO_T_CONV_LIST);
  CHECK_INT(peer_request(pc, &f, &reply), ==, 0);
  CHECK_UINT(reply.u.conv_list_result.nconvs, ==, 0);
  proto_frame_cleanup(&reply);
  CHECK_INT(peer_request(pa, &f, &reply), ==, 0);
  CHECK_UINT(reply.u.conv_list_result.nconvs, ==, 2);
  proto_frame_cleanup(&reply);

  /* Members see each other. */
  proto_frame_init(&f, PROTO_T_CONV_MEMBERS);
  f.u.conv_members.conv = (uint64_t)group;
  CHECK_INT(peer_request(pb, &f, &reply), ==, 0);
  CHECK_UINT(reply.u.conv_members_result.nmembers, ==, 2);
  proto_frame_cleanup(&reply);

  /* Carol is added by the owner and then receives new messages live. */
  proto_frame_init(&f, PROTO_T_CONV_ADD_MEMBER);
  f.u.conv_add_member.conv = (uint64_t)group;
  f.u.conv_add_member.uid = (uint64_t)carol;
  CHECK_INT(expect_error(pb, &f), ==, PROTO_E_FORBIDDEN);  /* not owner */
  CHECK_INT(expect_error(pa, &f), ==, 0);
  send_text(pa, (uint64_t)group, "welcome carol");
  wait_count(pc, (uint64_t)group, 1);
  CHECK_UINT(pc->msgs[pc->nmsgs - 1].seq, ==, 3);

  peer_free(pa);
  peer_free(pb);
  peer_free(pc);
  e2e_server_stop(&srv);
}

TEST(resend_gets_original_ack)
{
  struct e2e_server srv;
  int64_t alice, group;
  struct peer *pa;
  struct proto_frame f, a1, a2;

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  group = e2e_group(&srv, "Solo", alice, NULL, 0);
  e2e_server_start(&srv, NULL);
  pa = peer_new(srv.url, "alice", NULL, true);

  proto_frame_init(&f, PROTO_T_SEND);
  f.u.send.cmid = (struct proto_str){"fixed-cmid-1", 12};
  f.u.send.conv = (uint64_t)group;
  f.u.send.kind = PROTO_KIND_TEXT;
  f.u.send.body = (struct proto_str){"once", 4};
  CHECK_INT(peer_request(pa, &f, &a1), ==, 0);
  CHECK(!a1.u.ack.dup);
  CHECK_UINT(a1.u.ack.seq, ==, 1);

  /* Days later is the same as now: a restarted server, a new connection. */
  peer_free(pa);
  e2e_server_stop(&srv);
  e2e_server_start(&srv, NULL);
  pa = peer_new(srv.url, "alice", NULL, true);
  CHECK_INT(peer_request(pa, &f, &a2), ==, 0);
  CHECK(a2.u.ack.dup);
  CHECK_UINT(a2.u.ack.seq, ==, a1.u.ack.seq);
  CHECK_UINT(a2.u.ack.ts, ==, a1.u.ack.ts);
  CHECK_UINT(a2.u.ack.conv, ==, a1.u.ack.conv);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM messages"), ==, 1);
  /* The message arrived once (in the first sync after restart). */
  peer_check_history(pa, (uint64_t)group, 1);
  proto_frame_cleanup(&a1);
  proto_frame_cleanup(&a2);
  peer_free(pa);
  e2e_server_stop(&srv);
}

/* The hand-over from replay to live traffic: bob comes back after 3,000
 * missed messages while alice keeps sending; he must end with every seq
 * once, in order. */
TEST(replay_interleaved_with_live)
{
  struct e2e_server srv;
  int64_t alice, bob, group;
  struct peer *pa, *pb;
  char dir[] = "/tmp/herald-e2e-bob-XXXXXX", text[64];
  const int missed = 3000, live = 1000;

  CHECK(mkdtemp(dir) != NULL);
  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  group = e2e_group(&srv, "Busy", alice, &bob, 1);
  e2e_server_start(&srv, NULL);

  pa = peer_new(srv.url, "alice", NULL, true);
  pb = peer_new(srv.url, "bob", dir, true);
  send_text(pa, (uint64_t)group, "before");
  wait_count(pb, (uint64_t)group, 1);
  peer_free(pb);      /* bob goes offline with cursor 1 */

  for (int i = 0; i < missed; i++) {
    snprintf(text, sizeof(text), "missed %d", i);
    send_text(pa, (uint64_t)group, text);
  }
  wait_acks(pa, (size_t)missed + 1);

  /* Bob reconnects; alice sends while his replay runs. */
  pb = peer_new(srv.url, "bob", dir, false);
  for (int i = 0; i < live; i++) {
    snprintf(text, sizeof(text), "live %d", i);
    send_text(pa, (uint64_t)group, text);
    if (i % 50 == 0)
      hc_run_until(peer_ctx(), NULL, NULL, 1);
  }
  wait_acks(pa, (size_t)(missed + live) + 1);
  wait_count(pb, (uint64_t)group, (size_t)(missed + live));
  /* Bob's second connection received 2..N exactly once, in order. */
  for (size_t i = 0; i < pb->nmsgs; i++)
    CHECK_UINT(pb->msgs[i].seq, ==, i + 2);
  CHECK_UINT(pb->nmsgs, ==, (size_t)(missed + live));
  wait_count(pa, (uint64_t)group, (size_t)(missed + live) + 1);
  peer_check_history(pa, (uint64_t)group, (uint64_t)(missed + live) + 1);
  peer_free(pa);
  peer_free(pb);
  e2e_server_stop(&srv);
  snprintf(text, sizeof(text), "rm -rf %s", dir);
  CHECK_INT(system(text), ==, 0);
}

/* A week offline with 100,000 messages missed: the reconnect replays all
 * of them, in pages, in order, once. */
TEST(replay_after_a_week_offline)
{
  struct e2e_server srv;
  int64_t alice, bob, group;
  struct peer *pb;
  char dir[] = "/tmp/herald-e2e-week-XXXXXX", sql[512];
  const long missed = 100000;
  uint64_t t0, t1;

  CHECK(mkdtemp(dir) != NULL);
  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  group = e2e_group(&srv, "Archive", alice, &bob, 1);
  e2e_server_start(&srv, NULL);
  pb = peer_new(srv.url, "bob", dir, true);
  peer_free(pb);

  /* Written straight into the database, dated over the past week. */
  snprintf(sql, sizeof(sql),
           "INSERT INTO messages (conversation_id, seq, sender_user_id, "
           "client_msg_id, kind, body, tracked, sent_at) "
           "SELECT %lld, g, %lld, 'week-' || g, 'text', 'missed ' || g, true, "
           "now() - interval '7 days' + g * interval '6 seconds' "
           "FROM generate_series(1, %ld) g",
           (long long)group, (long long)alice, missed);
  pgtest_exec(srv.db, sql);
  snprintf(sql, sizeof(sql),
           "UPDATE conversations SET last_seq = %ld WHERE id = %lld", missed,
           (long long)group);
  pgtest_exec(srv.db, sql);

  t0 = e2e_now_ms();
  pb = peer_new(srv.url, "bob", dir, true);
  t1 = e2e_now_ms();
  fprintf(stderr, "replayed %ld messages in %llu ms (sanitizer build)\n",
          missed, (unsigned long long)(t1 - t0));
  peer_check_history(pb, (uint64_t)group, (uint64_t)missed);
  CHECK_STR(pb->msgs[missed - 1].body, "missed 100000");
  peer_free(pb);
  e2e_server_stop(&srv);
  snprintf(sql, sizeof(sql), "rm -rf %s", dir);
  CHECK_INT(system(sql), ==, 0);
}

TEST_MAIN()
