/*
 * test_faults.c — the durability promises under faults: heraldd killed
 * with SIGKILL in the middle of bursts, and PostgreSQL stopped under load.
 * Afterwards every acknowledged message is stored exactly once, seqs have
 * no gap, and every receiver holds the same ordered history.
 */
#include "check.h"
#include "e2e.h"
#include "peer.h"

#include "store.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPEERS 3

struct burst {
  struct peer *p[NPEERS];
  size_t want;               /* acks each peer must reach */
};

static bool all_acked(void *arg)
{
  struct burst *b = arg;
  for (int i = 0; i < NPEERS; i++)
    if (b->p[i]->acked + b->p[i]->failed < b->want)
      return false;
  return true;
}

static size_t total_acks(struct burst *b)
{
  size_t n = 0;
  for (int i = 0; i < NPEERS; i++)
    n += b->p[i]->acked;
  return n;
}

struct acks_arg {
  struct burst *b;
  size_t n;
};

static bool acks_reach(void *arg)
{
  struct acks_arg *a = arg;
  return total_acks(a->b) >= a->n;
}

struct hist_arg {
  struct burst *b;
  uint64_t conv;
  size_t n;
};

static bool all_received(void *arg)
{
  struct hist_arg *a = arg;
  for (int i = 0; i < NPEERS; i++)
    if (peer_count(a->b->p[i], a->conv) < a->n)
      return false;
  return true;
}

/* Every peer received the same history 1..n; the database holds exactly n
 * messages of the conversation, n distinct cmids, seqs 1..n. */
static void check_outcome(struct e2e_server *srv, struct burst *b,
                          uint64_t conv, size_t n)
{
  struct hist_arg h = {b, conv, n};
  char sql[256];

  peer_wait(all_received, &h, 120000, "every peer to hold the history");
  for (int i = 0; i < NPEERS; i++) {
    CHECK_UINT(b->p[i]->failed, ==, 0);
    peer_check_history(b->p[i], conv, n);
    for (size_t k = 0; k < b->p[i]->nmsgs; k++)
      CHECK_STR(b->p[i]->msgs[k].cmid, b->p[0]->msgs[k].cmid);
  }
  snprintf(sql, sizeof(sql),
           "SELECT count(*) FROM messages WHERE conversation_id = %llu",
           (unsigned long long)conv);
  CHECK_INT(e2e_query_int(srv, sql), ==, (long long)n);
  snprintf(sql, sizeof(sql),
           "SELECT count(DISTINCT client_msg_id) FROM messages "
           "WHERE conversation_id = %llu", (unsigned long long)conv);
  CHECK_INT(e2e_query_int(srv, sql), ==, (long long)n);
  snprintf(sql, sizeof(sql),
           "SELECT max(seq) FROM messages WHERE conversation_id = %llu",
           (unsigned long long)conv);
  CHECK_INT(e2e_query_int(srv, sql), ==, (long long)n);
}

static void queue_burst(struct burst *b, uint64_t conv, int per_peer,
                        int round)
{
  char text[128];

  for (int k = 0; k < per_peer; k++) {
    for (int i = 0; i < NPEERS; i++) {
      snprintf(text, sizeof(text), "%s r%d #%d", b->p[i]->name, round, k);
      CHECK_INT(hc_send_text(b->p[i]->c, conv, text, strlen(text), NULL,
                             NULL), ==, 0);
    }
  }
}

static char *state_dir(const char *login)
{
  char *d = malloc(64);
  snprintf(d, 64, "/tmp/herald-e2e-%s-XXXXXX", login);
  CHECK(mkdtemp(d) != NULL);
  return d;
}

static void rm_dir(char *d)
{
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
  CHECK_INT(system(cmd), ==, 0);
  free(d);
}

TEST(kill9_during_bursts)
{
  static const char *logins[NPEERS] = {"alice", "bob", "carol"};
  const int per_peer = 300;
  struct e2e_server srv;
  struct burst b = {{0}, 0};
  int64_t ids[NPEERS], group;
  char *dirs[NPEERS];
  /* Kill points, in acknowledged messages across all peers: early, in the
   * middle, and late in the burst. */
  const size_t kills[] = {50, 400, 800};

  e2e_server_init(&srv);
  ids[0] = e2e_org(&srv, logins[0]);
  for (int i = 1; i < NPEERS; i++)
    ids[i] = e2e_user(&srv, logins[i]);
  group = e2e_group(&srv, "Burst", ids[0], ids + 1, NPEERS - 1);
  e2e_server_start(&srv, NULL);
  for (int i = 0; i < NPEERS; i++) {
    dirs[i] = state_dir(logins[i]);
    b.p[i] = peer_new(srv.url, logins[i], dirs[i], true);
  }

  queue_burst(&b, (uint64_t)group, per_peer, 0);
  b.want = (size_t)per_peer;
  for (size_t k = 0; k < sizeof(kills) / sizeof(kills[0]); k++) {
    struct acks_arg a = {&b, kills[k]};
    peer_wait(acks_reach, &a, 120000, "acks before a kill");
    if (k == 0)   /* the first kill lands in the middle of the burst */
      CHECK_UINT(total_acks(&b), <, (size_t)(per_peer * NPEERS));
    e2e_server_signal(&srv, SIGKILL);
    hc_run_until(peer_ctx(), NULL, NULL, 200);   /* clients notice */
    e2e_server_start(&srv, NULL);
  }
  peer_wait(all_acked, &b, 120000, "every send acknowledged");
  check_outcome(&srv, &b, (uint64_t)group, (size_t)(per_peer * NPEERS));

  /* The clients also survive their own restart: a fresh process state from
   * the same directories has nothing left to send. */
  for (int i = 0; i < NPEERS; i++) {
    CHECK_UINT(hc_outbox_count(b.p[i]->c), ==, 0);
    peer_free(b.p[i]);
    rm_dir(dirs[i]);
  }
  e2e_server_stop(&srv);
}

TEST(postgres_stopped_under_load)
{
  static const char *logins[NPEERS] = {"alice", "bob", "carol"};
  const int per_peer = 200;
  struct e2e_server srv;
  struct store_embedded *pg = NULL;
  struct burst b = {{0}, 0};
  int64_t ids[NPEERS], group;
  char dir[] = "/tmp/herald-e2e-pg-XXXXXX", err[512];
  size_t offline_before[NPEERS];

  /* A cluster of its own: stopping the shared one would break the other
   * tests that run in parallel. */
  CHECK(mkdtemp(dir) != NULL);
  CHECK_INT(chmod(dir, 0755), ==, 0);
  if (store_embedded_start(dir, &pg, err, sizeof(err)) != STORE_OK)
    CHECK_FAIL("embedded PostgreSQL: %s", err);
  e2e_server_init_db(&srv, store_embedded_conninfo(pg));
  ids[0] = e2e_org(&srv, logins[0]);
  for (int i = 1; i < NPEERS; i++)
    ids[i] = e2e_user(&srv, logins[i]);
  group = e2e_group(&srv, "Outage", ids[0], ids + 1, NPEERS - 1);
  e2e_server_start(&srv, NULL);
  for (int i = 0; i < NPEERS; i++)
    b.p[i] = peer_new(srv.url, logins[i], NULL, true);

  queue_burst(&b, (uint64_t)group, per_peer / 2, 0);
  {
    struct acks_arg a = {&b, 100};
    peer_wait(acks_reach, &a, 60000, "acks before the outage");
  }
  for (int i = 0; i < NPEERS; i++)
    offline_before[i] = b.p[i]->offline;

  /* PostgreSQL goes away while clients keep sending. */
  CHECK_INT(store_embedded_stop(pg), ==, STORE_OK);
  pg = NULL;
  queue_burst(&b, (uint64_t)group, per_peer / 2, 1);
  hc_run_until(peer_ctx(), NULL, NULL, 2000);
  /* The server still answers (a retryable error) and keeps clients. */
  {
    struct proto_frame f;
    proto_frame_init(&f, PROTO_T_PING);
    CHECK_INT(peer_request(b.p[0], &f, NULL), ==, 0);
  }
  /* The outage was real: the server noticed it. */
  CHECK_INT(e2e_log_count(&srv, "connection lost") +
            e2e_log_count(&srv, "cannot connect"), >, 0);
  if (store_embedded_start(dir, &pg, err, sizeof(err)) != STORE_OK)
    CHECK_FAIL("embedded PostgreSQL restart: %s", err);

  b.want = (size_t)per_peer;
  peer_wait(all_acked, &b, 120000, "every send acknowledged after recovery");
  check_outcome(&srv, &b, (uint64_t)group, (size_t)(per_peer * NPEERS));
  for (int i = 0; i < NPEERS; i++) {
    CHECK_UINT(b.p[i]->offline, ==, offline_before[i]);  /* stayed online */
    peer_free(b.p[i]);
  }
  e2e_server_stop(&srv);   /* no restart was needed; a clean exit */
  store_embedded_stop(pg);
  {
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), ==, 0);
  }
}

TEST_MAIN()
