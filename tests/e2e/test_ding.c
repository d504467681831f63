/*
 * test_ding.c — DINGs end to end on the real heraldd, its test clock and
 * real clients:
 *   - three recipients: one acknowledges at once, one after the second
 *     re-alert, one never; each gets exactly the alerts of the schedule;
 *     the third escalates to their manager and to the webhook (a local
 *     receiver that fails twice: three attempts recorded with their
 *     outcomes); the sender's live updates and board agree, also for a
 *     device of the sender that connects afterwards;
 *   - a server killed between two steps and restarted after the next fell
 *     due sends that step once: not twice, not lost;
 *   - two servers on one database fire every step once;
 *   - quiet hours: a DING at 21:00 is delivered silently and re-alerted
 *     only after 08:00; a critical one goes through at once, audited;
 *   - hostile requests: a recipient who is not a member, the sender as a
 *     recipient, `to` and `all` together, a bad urgency, an ack by a
 *     non-recipient, an ack twice, the board for others.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "e2e.h"
#include "hookrx.h"
#include "peer.h"
#include "pgtest.h"
#include "rawws.h"

static struct e2e_server srv;

#define MINUTE 60

__attribute__((format(printf, 2, 3)))
static long long q(struct e2e_server *s, const char *fmt, ...)
{
  char sql[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(sql, sizeof(sql), fmt, ap);
  va_end(ap);
  return e2e_query_int(s, sql);
}

__attribute__((format(printf, 2, 3)))
static void sql(struct e2e_server *s, const char *fmt, ...)
{
  char buf[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  pgtest_exec(s->db, buf);
}

/* A ping round trip: every frame the server queued to `p` before it has
 * arrived when this returns. */
static void flush(struct peer *p)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_PING);
  CHECK_INT(peer_request(p, &f, NULL), ==, 0);
}

struct counted {
  struct peer *p;
  size_t n;
};

static bool has_acked(void *arg)
{
  struct counted *c = arg;
  return c->p->acked + c->p->failed >= c->n;
}

static bool has_alerts(void *arg)
{
  struct counted *c = arg;
  return c->p->nalerts >= c->n;
}

static bool has_msgs(void *arg)
{
  struct counted *c = arg;
  return c->p->nmsgs >= c->n;
}

static void wait_acked(struct peer *p, size_t n)
{
  struct counted c = {p, n};

  peer_wait(has_acked, &c, 30000, "outbox answers");
  CHECK_INT(p->failed, ==, 0);
}

/* Sends a DING through the outbox and returns its seq. */
static uint64_t ding(struct peer *p, int64_t conv, const uint64_t *to,
                     size_t nto, enum proto_urgency urg, const uint64_t *esc,
                     size_t nesc)
{
  size_t before = p->acked;

  CHECK_INT(hc_send_ding(p->c, (uint64_t)conv, "db is down", 10, urg, to,
                         nto, esc, nesc, NULL, NULL), ==, 0);
  wait_acked(p, before + 1);
  return (uint64_t)q(&srv, "SELECT max(seq) FROM messages WHERE"
                           " conversation_id = %lld", (long long)conv);
}

/* The steps of the alerts `p` got for DING conv:seq, in order, as a
 * string like "0,1,2" (about: only escalation notices about that user,
 * 0: only the user's own alerts). */
static const char *steps_of(const struct peer *p, int64_t conv, uint64_t seq,
                            uint64_t about, char *buf, size_t len)
{
  size_t k = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < p->nalerts; i++) {
    const struct proto_ding_alert *a = &p->alerts[i];

    if (a->conv != (uint64_t)conv || a->seq != seq || a->about != about)
      continue;
    k += (size_t)snprintf(buf + k, len - k, "%s%llu", k ? "," : "",
                          (unsigned long long)a->step);
  }
  return buf;
}

/* The latest ding_update `p` holds about recipient uid of conv:seq. */
static const struct proto_ding_update *row_of(const struct peer *p,
                                              int64_t conv, uint64_t seq,
                                              int64_t uid)
{
  const struct proto_ding_update *u = NULL;

  for (size_t i = 0; i < p->ndupd; i++)
    if (p->dupd[i].conv == (uint64_t)conv && p->dupd[i].seq == seq &&
        p->dupd[i].row.uid == (uint64_t)uid)
      u = &p->dupd[i];
  return u;
}

/* The fs of p's ding_updates must increase (live and replay alike). */
static void check_fs_order(const struct peer *p)
{
  for (size_t i = 1; i < p->ndupd; i++)
    if (p->dupd[i].fs <= p->dupd[i - 1].fs)
      CHECK_FAIL("%s: ding_update fs %llu after %llu", p->name,
                 (unsigned long long)p->dupd[i].fs,
                 (unsigned long long)p->dupd[i - 1].fs);
}

static int64_t sent_ms(int64_t conv, uint64_t seq)
{
  return q(&srv, "SELECT ceil(extract(epoch FROM sent_at) * 1000) FROM"
                 " messages WHERE conversation_id = %lld AND seq = %llu",
           (long long)conv, (unsigned long long)seq);
}

static bool same_row(const struct proto_ding_row *a,
                     const struct proto_ding_row *b)
{
  return a->uid == b->uid && a->delivered == b->delivered &&
         a->read == b->read && a->acked == b->acked &&
         a->acked_at == b->acked_at && a->step == b->step &&
         a->escalated == b->escalated;
}

static bool synced_again(void *arg)
{
  struct counted *c = arg;
  return c->p->synced >= c->n;
}

static void flush_all(struct peer **ps, size_t n)
{
  for (size_t i = 0; i < n; i++)
    flush(ps[i]);
}

TEST(three_recipients_schedule_manager_webhook)
{
  int64_t alice, bob, carol, dave, boss, group, ids[3], t;
  struct peer *pa, *pb, *pc, *pd, *pm, *pa2, *all[5];
  struct hookrx *hook = hookrx_start(2);
  static const char *const extra[] = {"--webhook-retries", "10,60", NULL};
  uint64_t to[3], seq;
  const struct proto_ding_update *u;
  struct proto_frame f, r;
  struct counted c;
  char buf[256];

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  carol = e2e_user(&srv, "carol");
  dave = e2e_user(&srv, "dave");
  boss = e2e_user(&srv, "boss");
  sql(&srv, "UPDATE users SET manager_id = %lld WHERE id = %lld",
      (long long)boss, (long long)dave);
  ids[0] = bob;
  ids[1] = carol;
  ids[2] = dave;
  group = e2e_group(&srv, "Ops", alice, ids, 3);
  /* The schedule: 5, 15, 30 minutes, then hourly, 4 re-alerts; then the
   * manager and the webhook. No quiet hours here (e2e_org). */
  sql(&srv, "UPDATE org SET ding_schedule = '{00:05:00,00:15:00,00:30:00}',"
            " ding_repeat_every = '1 hour', ding_max_alerts = 4,"
            " escalation_webhook_url = '%s'", hookrx_url(hook));
  e2e_clock_use(&srv, e2e_ms(&srv, "2026-03-11 10:00 UTC"));
  e2e_server_start(&srv, extra);
  all[0] = pa = peer_new(srv.url, "alice", NULL, true);
  all[1] = pb = peer_new(srv.url, "bob", NULL, true);
  all[2] = pc = peer_new(srv.url, "carol", NULL, true);
  all[3] = pd = peer_new(srv.url, "dave", NULL, true);
  all[4] = pm = peer_new(srv.url, "boss", NULL, true);

  to[0] = (uint64_t)bob;
  to[1] = (uint64_t)carol;
  to[2] = (uint64_t)dave;
  seq = ding(pa, group, to, 3, PROTO_URG_URGENT, NULL, 0);
  t = sent_ms(group, seq);
  /* Each recipient: the message, marked a DING, and alert step 0. */
  for (int i = 1; i <= 3; i++) {
    c = (struct counted){all[i], 1};
    peer_wait(has_alerts, &c, 15000, "step 0");
    peer_wait(has_msgs, &c, 15000, "the DING");
    CHECK_INT(all[i]->msgs[0].kind, ==, PROTO_KIND_DING);
    CHECK_INT(all[i]->msgs[0].urg, ==, PROTO_URG_URGENT);
    CHECK_UINT(all[i]->msgs[0].nto, ==, 3);
    CHECK(!all[i]->alerts[0].silent);
    CHECK_UINT(all[i]->alerts[0].from, ==, (uint64_t)alice);
  }
  /* bob acknowledges at once. */
  CHECK_INT(hc_ding_ack(pb->c, (uint64_t)group, seq, 0, NULL), ==, 0);
  wait_acked(pb, 1);

  /* +5 min: carol and dave; +15 min: again, and carol acknowledges. */
  e2e_clock_set(&srv, t + 5 * MINUTE * 1000);
  flush_all(all, 5);
  CHECK_STR(steps_of(pb, group, seq, 0, buf, sizeof(buf)), "0");
  CHECK_STR(steps_of(pc, group, seq, 0, buf, sizeof(buf)), "0,1");
  CHECK_STR(steps_of(pd, group, seq, 0, buf, sizeof(buf)), "0,1");
  e2e_clock_set(&srv, t + 15 * MINUTE * 1000);
  flush_all(all, 5);
  CHECK_STR(steps_of(pc, group, seq, 0, buf, sizeof(buf)), "0,1,2");
  CHECK_INT(hc_ding_ack(pc->c, (uint64_t)group, seq, 0, NULL), ==, 0);
  wait_acked(pc, 1);
  /* +30 min, +1 h 30, then (+2 h 30) the escalation. */
  e2e_clock_set(&srv, t + 30 * MINUTE * 1000);
  e2e_clock_set(&srv, t + 90 * MINUTE * 1000);
  flush_all(all, 5);
  CHECK_STR(steps_of(pb, group, seq, 0, buf, sizeof(buf)), "0");
  CHECK_STR(steps_of(pc, group, seq, 0, buf, sizeof(buf)), "0,1,2");
  CHECK_STR(steps_of(pd, group, seq, 0, buf, sizeof(buf)), "0,1,2,3,4");
  CHECK_INT(pm->nalerts, ==, 0);
  CHECK_UINT(hookrx_count(hook), ==, 0);
  e2e_clock_set(&srv, t + 150 * MINUTE * 1000);
  flush_all(all, 5);
  CHECK_STR(steps_of(pd, group, seq, 0, buf, sizeof(buf)), "0,1,2,3,4");
  CHECK_INT(pm->nalerts, ==, 1);
  CHECK_STR(steps_of(pm, group, seq, (uint64_t)dave, buf, sizeof(buf)), "5");
  CHECK_UINT(pm->alerts[0].from, ==, (uint64_t)alice);
  CHECK_INT(pm->alerts[0].urg, ==, PROTO_URG_URGENT);
  /* The webhook: attempt 1 failed (500); 10 s later attempt 2 failed;
   * 60 s after that attempt 3 went through. */
  CHECK_UINT(hookrx_count(hook), ==, 1);
  e2e_clock_advance(&srv, 9);
  CHECK_UINT(hookrx_count(hook), ==, 1);
  e2e_clock_advance(&srv, 2);
  CHECK_UINT(hookrx_count(hook), ==, 2);
  e2e_clock_advance(&srv, 61);
  CHECK_UINT(hookrx_count(hook), ==, 3);
  e2e_clock_advance(&srv, 3600);
  CHECK_UINT(hookrx_count(hook), ==, 3);
  CHECK_INT(hookrx_body(hook, 0, buf, sizeof(buf)), ==, 500);
  CHECK_INT(hookrx_body(hook, 1, buf, sizeof(buf)), ==, 500);
  CHECK_INT(hookrx_body(hook, 2, buf, sizeof(buf)), ==, 200);
  {
    char body[8192];

    hookrx_body(hook, 2, body, sizeof(body));
    CHECK_CONTAINS(body, "\"event\": \"ding.escalation\"");
    CHECK_CONTAINS(body, "\"attempt\": 3");
    CHECK_CONTAINS(body, "\"login\": \"dave\"");
    CHECK_CONTAINS(body, "\"login\": \"boss\"");
    CHECK_CONTAINS(body, "\"body\": \"db is down\"");
  }
  CHECK_INT(q(&srv, "SELECT count(*) FROM escalation_attempts WHERE"
                    " user_id = %lld", (long long)dave), ==, 4);
  CHECK_INT(q(&srv, "SELECT count(*) FROM escalation_attempts WHERE"
                    " kind = 'manager' AND outcome = 'ok'"), ==, 1);
  CHECK_INT(q(&srv, "SELECT count(*) FROM escalation_attempts WHERE"
                    " kind = 'webhook' AND outcome = 'failed' AND"
                    " http_status = 500 AND next_retry_at IS NOT NULL"), ==,
            2);
  CHECK_INT(q(&srv, "SELECT count(*) FROM escalation_attempts WHERE"
                    " kind = 'webhook' AND outcome = 'ok' AND http_status ="
                    " 200 AND attempt = 3"), ==, 1);
  CHECK_INT(q(&srv, "SELECT count(*) FROM escalation_attempts WHERE"
                    " user_id <> %lld", (long long)dave), ==, 0);
  CHECK_INT(q(&srv, "SELECT count(*) FROM ding_steps"), ==, 1 + 3 + 6);

  /* The sender's live updates: every recipient delivered, bob and carol
   * acknowledged, dave escalated after 4 re-alerts. */
  flush(pa);
  check_fs_order(pa);
  CHECK((u = row_of(pa, group, seq, bob)) && u->row.acked &&
        u->row.delivered && u->row.step == 0);
  CHECK((u = row_of(pa, group, seq, carol)) && u->row.acked &&
        u->row.step == 2 && u->row.acked_at > 0);
  CHECK((u = row_of(pa, group, seq, dave)) && !u->row.acked &&
        u->row.escalated && u->row.step == 4 && u->row.delivered);
  CHECK_UINT(u->from, ==, (uint64_t)alice);
  /* Each recipient sees their own row; the manager dave's. */
  CHECK((u = row_of(pb, group, seq, bob)) && u->row.acked);
  CHECK(!row_of(pb, group, seq, carol));
  CHECK((u = row_of(pm, group, seq, dave)) && u->row.escalated);
  check_fs_order(pd);

  /* The board agrees. */
  proto_frame_init(&f, PROTO_T_DING_BOARD);
  f.u.ding_board.conv = (uint64_t)group;
  f.u.ding_board.seq = seq;
  CHECK_INT(peer_request(pa, &f, &r), ==, 0);
  CHECK_INT(r.type, ==, PROTO_T_DING_BOARD_RESULT);
  CHECK_INT(r.u.ding_board_result.urg, ==, PROTO_URG_URGENT);
  CHECK_UINT(r.u.ding_board_result.nrows, ==, 3);
  for (size_t i = 0; i < 3; i++) {
    const struct proto_ding_row *b = &r.u.ding_board_result.rows[i];

    u = row_of(pa, group, seq, (int64_t)b->uid);
    CHECK(u != NULL);
    CHECK(same_row(&u->row, b));
  }
  proto_frame_cleanup(&r);

  /* A new device of alice replays the same rows from the feed. */
  pa2 = peer_new(srv.url, "alice", NULL, true);
  check_fs_order(pa2);
  for (int i = 0; i < 3; i++) {
    const struct proto_ding_update *live = row_of(pa, group, seq, ids[i]);

    u = row_of(pa2, group, seq, ids[i]);
    CHECK(u != NULL && live != NULL);
    CHECK(same_row(&u->row, &live->row));
  }
  CHECK_INT(pa2->nalerts, ==, 0);        /* alerts are live only */
  peer_free(pa2);
  for (int i = 0; i < 5; i++)
    peer_free(all[i]);
  e2e_server_stop(&srv);
  hookrx_stop(hook);
}

TEST(killed_between_steps_sends_the_step_once)
{
  int64_t alice, bob, group, ids[1], t;
  struct peer *pa, *pb;
  uint64_t to[1], esc[3] = {60, 120, 180}, seq;
  const struct proto_ding_update *u;
  char buf[128], first[128], want[140];
  struct counted c;

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  ids[0] = bob;
  group = e2e_group(&srv, "Ops", alice, ids, 1);
  e2e_clock_use(&srv, e2e_ms(&srv, "2026-03-11 10:00 UTC"));
  e2e_server_start(&srv, NULL);
  pa = peer_new(srv.url, "alice", NULL, true);
  pb = peer_new(srv.url, "bob", NULL, true);
  to[0] = (uint64_t)bob;
  seq = ding(pa, group, to, 1, PROTO_URG_NORMAL, esc, 3);
  t = sent_ms(group, seq);
  e2e_clock_set(&srv, t + 60000);
  flush(pb);
  CHECK_STR(steps_of(pb, group, seq, 0, buf, sizeof(buf)), "0,1");

  /* Killed; down while step 2 falls due (at +120 s). */
  c = (struct counted){pb, pb->synced + 1};
  e2e_server_signal(&srv, SIGKILL);
  e2e_clock_set(&srv, t + 130000);
  e2e_server_start(&srv, NULL);
  /* The start-up round fires step 2, once: usually before bob is back
   * (then it is in his feed), or just after (then live as well). */
  peer_wait(synced_again, &c, 30000, "bob back");
  flush(pb);
  CHECK_INT(q(&srv, "SELECT count(*) FROM ding_steps WHERE step = 2"), ==, 1);
  CHECK((u = row_of(pb, group, seq, bob)) && u->row.step == 2);
  steps_of(pb, group, seq, 0, buf, sizeof(buf));
  if (strcmp(buf, "0,1") != 0 && strcmp(buf, "0,1,2") != 0)
    CHECK_FAIL("after the restart bob has alerts \"%s\"", buf);
  snprintf(first, sizeof(first), "%s", buf);
  /* A round after that fires nothing more; step 3 comes live, once. */
  e2e_clock_set(&srv, t + 131000);
  flush(pb);
  CHECK_STR(steps_of(pb, group, seq, 0, buf, sizeof(buf)), first);
  e2e_clock_set(&srv, t + 130000 + 60000 + 1000);
  flush(pb);
  snprintf(want, sizeof(want), "%s,3", first);
  CHECK_STR(steps_of(pb, group, seq, 0, buf, sizeof(buf)), want);
  CHECK_INT(q(&srv, "SELECT count(*) FROM ding_steps WHERE user_id = %lld",
              (long long)bob), ==, 4);
  CHECK_INT(q(&srv, "SELECT count(*) FROM ding_steps GROUP BY step"
                    " ORDER BY count(*) DESC LIMIT 1"), ==, 1);
  peer_free(pa);
  peer_free(pb);
  e2e_server_stop(&srv);
}

TEST(two_servers_fire_each_step_once)
{
  static const char *const extra[] = {"--ding-poll", "1", NULL};
  struct e2e_server s2;
  int64_t alice, bob, carol, boss, group, ids[2];
  struct peer *pa, *pa2, *pb1, *pb2, *pc1, *pm1, *pm2;
  uint64_t to[2], esc[1] = {2}, seqs[20];
  size_t alerts = 0, about = 0;

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  carol = e2e_user(&srv, "carol");
  boss = e2e_user(&srv, "boss");
  sql(&srv, "UPDATE users SET manager_id = %lld WHERE id IN (%lld, %lld)",
      (long long)boss, (long long)bob, (long long)carol);
  ids[0] = bob;
  ids[1] = carol;
  group = e2e_group(&srv, "Ops", alice, ids, 2);
  e2e_server_init_db(&s2, srv.db);
  /* One master key for both: the same data directory. */
  snprintf(s2.dir, sizeof(s2.dir), "%s", srv.dir);
  e2e_server_start(&srv, extra);
  e2e_server_start(&s2, extra);
  /* bob and the manager on both servers, carol on one; alice sends half
   * the DINGs through each, so both servers time them. */
  pa = peer_new(srv.url, "alice", NULL, true);
  pa2 = peer_new(s2.url, "alice", NULL, true);
  pb1 = peer_new(srv.url, "bob", NULL, true);
  pb2 = peer_new(s2.url, "bob", NULL, true);
  pc1 = peer_new(s2.url, "carol", NULL, true);
  pm1 = peer_new(srv.url, "boss", NULL, true);
  pm2 = peer_new(s2.url, "boss", NULL, true);
  to[0] = (uint64_t)bob;
  to[1] = (uint64_t)carol;
  for (int i = 0; i < 20; i++)
    seqs[i] = ding(i % 2 ? pa2 : pa, group, to, 2, PROTO_URG_NORMAL, esc, 1);
  /* Step 1 at +2 s, the escalation at +4 s: wait until every row has
   * escalated, then count. */
  for (int i = 0; i < 200 && q(&srv, "SELECT count(*) FROM ding_recipients"
                                     " WHERE escalated_at IS NOT NULL") < 40;
       i++)
    hc_run_until(peer_ctx(), NULL, NULL, 100);
  CHECK_INT(q(&srv, "SELECT count(*) FROM ding_recipients WHERE"
                    " escalated_at IS NOT NULL"), ==, 40);
  flush(pb1);
  flush(pb2);
  flush(pc1);
  flush(pm1);
  flush(pm2);
  /* bob is on both servers: each step reached him through exactly one. */
  for (int i = 0; i < 20; i++) {
    char s1[64], s2b[64], all[160];

    steps_of(pb1, group, seqs[i], 0, s1, sizeof(s1));
    steps_of(pb2, group, seqs[i], 0, s2b, sizeof(s2b));
    snprintf(all, sizeof(all), "%s%s%s", s1, *s1 && *s2b ? "," : "", s2b);
    alerts += strlen(all) ? 1 + (size_t)(strchr(all, ',') != NULL) : 0;
    /* step 0 from the server that took the send, step 1 from one. */
    if (strcmp(all, "0,1") != 0 && strcmp(all, "1,0") != 0)
      CHECK_FAIL("DING %llu: bob got steps \"%s\" + \"%s\"",
                 (unsigned long long)seqs[i], s1, s2b);
  }
  CHECK_UINT(alerts, ==, 40);
  for (size_t i = 0; i < pm1->nalerts; i++)
    about += pm1->alerts[i].about != 0;
  for (size_t i = 0; i < pm2->nalerts; i++)
    about += pm2->alerts[i].about != 0;
  CHECK_UINT(about, ==, 40);
  CHECK_INT(q(&srv, "SELECT count(*) FROM ding_steps"), ==, 40 * 3);
  CHECK_INT(q(&srv, "SELECT count(DISTINCT node) FROM ding_steps WHERE"
                    " step > 0"), >=, 1);
  CHECK_INT(q(&srv, "SELECT count(*) FROM escalation_attempts WHERE kind ="
                    " 'manager'"), ==, 40);
  peer_free(pa);
  peer_free(pa2);
  peer_free(pb1);
  peer_free(pb2);
  peer_free(pc1);
  peer_free(pm1);
  peer_free(pm2);
  e2e_server_stop(&s2);
  e2e_server_stop(&srv);
}

TEST(quiet_hours_silent_deferred_critical_overrides)
{
  int64_t alice, bob, group, ids[1];
  struct peer *pa, *pb;
  uint64_t to[1], esc[1] = {300}, quiet, loud;
  int64_t thu08;
  char buf[128];
  struct counted c;

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  e2e_quiet_org_default(&srv);
  bob = e2e_user(&srv, "bob");           /* UTC, the default windows */
  ids[0] = bob;
  group = e2e_group(&srv, "Ops", alice, ids, 1);
  thu08 = e2e_ms(&srv, "2026-03-12 08:00 UTC");
  e2e_clock_use(&srv, e2e_ms(&srv, "2026-03-11 21:00 UTC"));
  e2e_server_start(&srv, NULL);
  pa = peer_new(srv.url, "alice", NULL, true);
  pb = peer_new(srv.url, "bob", NULL, true);
  to[0] = (uint64_t)bob;
  quiet = ding(pa, group, to, 1, PROTO_URG_URGENT, esc, 1);
  loud = ding(pa, group, to, 1, PROTO_URG_CRITICAL, esc, 1);
  c = (struct counted){pb, 2};
  peer_wait(has_alerts, &c, 15000, "the step-0 alerts");
  peer_wait(has_msgs, &c, 15000, "the DINGs");
  /* 21:00 is quiet for bob: delivered silently; the critical one rings
   * and says it overrode quiet hours. */
  CHECK(pb->msgs[0].silent && pb->msgs[1].silent);
  CHECK(pb->alerts[0].seq == quiet && pb->alerts[0].silent &&
        !pb->alerts[0].overrode_quiet);
  CHECK(pb->alerts[1].seq == loud && !pb->alerts[1].silent &&
        pb->alerts[1].overrode_quiet);
  CHECK_INT(q(&srv, "SELECT count(*) FROM audit_log WHERE action ="
                    " 'ding.quiet_override'"), ==, 1);
  /* 21:06: the critical one re-alerts through quiet hours (audited); the
   * other waits. */
  e2e_clock_set(&srv, e2e_ms(&srv, "2026-03-11 21:06 UTC"));
  flush(pb);
  CHECK_STR(steps_of(pb, group, quiet, 0, buf, sizeof(buf)), "0");
  CHECK_STR(steps_of(pb, group, loud, 0, buf, sizeof(buf)), "0,1");
  CHECK(pb->alerts[2].overrode_quiet);
  CHECK_INT(q(&srv, "SELECT count(*) FROM audit_log WHERE action ="
                    " 'ding.quiet_override'"), ==, 2);
  /* Not before 08:00; then at once. */
  e2e_clock_set(&srv, thu08 - 60000);
  flush(pb);
  CHECK_STR(steps_of(pb, group, quiet, 0, buf, sizeof(buf)), "0");
  e2e_clock_set(&srv, thu08 + 1000);
  flush(pb);
  CHECK_STR(steps_of(pb, group, quiet, 0, buf, sizeof(buf)), "0,1");
  CHECK(!pb->alerts[pb->nalerts - 1].silent);
  CHECK(!pb->alerts[pb->nalerts - 1].overrode_quiet);
  CHECK_INT(q(&srv, "SELECT count(*) FROM ding_steps WHERE seq = %llu AND"
                    " step = 1 AND fired_at >= timestamptz"
                    " '2026-03-12 08:00 UTC'", (unsigned long long)quiet),
            ==, 1);
  peer_free(pa);
  peer_free(pb);
  e2e_server_stop(&srv);
}

/* A gateway that accepts connections and never answers, and one that is
 * not there: each attempt ends at webhook-timeout and is recorded as
 * failed, without an HTTP status, with curl's reason; the loop goes on
 * serving meanwhile. */
TEST(webhook_timeouts_and_refusals_are_recorded)
{
  static const char *const extra[] = {"--webhook-timeout", "1",
                                      "--webhook-retries", "5", NULL};
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  int mute = socket(AF_INET, SOCK_STREAM, 0);
  int64_t alice, bob, group, ids[1], t;
  struct peer *pa;
  uint64_t to[1], esc[1] = {60}, seq;
  char url[64];
  uint64_t t0;

  CHECK(mute >= 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_INT(bind(mute, (struct sockaddr *)&a, sizeof(a)), ==, 0);
  CHECK_INT(listen(mute, 8), ==, 0);      /* never accept()ed */
  CHECK_INT(getsockname(mute, (struct sockaddr *)&a, &al), ==, 0);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", ntohs(a.sin_port));

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  ids[0] = bob;
  group = e2e_group(&srv, "Ops", alice, ids, 1);
  sql(&srv, "UPDATE org SET escalation_webhook_url = '%s'", url);
  e2e_clock_use(&srv, e2e_ms(&srv, "2026-03-11 10:00 UTC"));
  e2e_server_start(&srv, extra);
  pa = peer_new(srv.url, "alice", NULL, true);
  to[0] = (uint64_t)bob;
  seq = ding(pa, group, to, 1, PROTO_URG_URGENT, esc, 1);
  t = sent_ms(group, seq);
  /* Step 1 at +60 s, the escalation at +120 s: attempt 1 times out. */
  e2e_clock_set(&srv, t + 60000);
  t0 = e2e_now_ms();
  e2e_clock_set(&srv, t + 120000);
  CHECK_UINT(e2e_now_ms() - t0, >=, 900);
  flush(pa);                              /* the loop kept serving */
  CHECK_INT(q(&srv, "SELECT count(*) FROM escalation_attempts WHERE kind ="
                    " 'webhook' AND attempt = 1 AND outcome = 'failed' AND"
                    " http_status IS NULL AND detail ILIKE '%%time%%'"), ==, 1);
  /* Nobody listens any more: attempt 2 is refused at once. */
  close(mute);
  e2e_clock_advance(&srv, 6);
  CHECK_INT(q(&srv, "SELECT count(*) FROM escalation_attempts WHERE kind ="
                    " 'webhook' AND attempt = 2 AND outcome = 'failed' AND"
                    " http_status IS NULL AND next_retry_at IS NULL"), ==, 1);
  /* webhook-retries had one retry: nothing is pending. */
  CHECK_INT(q(&srv, "SELECT count(*) FROM ding_recipients WHERE"
                    " webhook_due_at IS NOT NULL"), ==, 0);
  CHECK_INT(e2e_log_count(&srv, "no retry left"), ==, 1);
  peer_free(pa);
  e2e_server_stop(&srv);
}

/* Sends f on the raw connection and returns the reply with its id. */
static void raw_request(struct rawws *r, struct proto_frame *f,
                        struct proto_frame *reply)
{
  static uint64_t next_id = 500;

  f->id = ++next_id;
  rawws_send_frame(r, f);
  for (;;) {
    CHECK_INT(rawws_wait_frame(r, PROTO_T_NONE, 15000, reply), ==, 0);
    if (reply->id == f->id)
      return;
    proto_frame_cleanup(reply);
  }
}

static void expect_error(struct proto_frame *r, int code, const char *field)
{
  char got[160];

  CHECK_INT(r->type, ==, PROTO_T_ERROR);
  CHECK_INT(-(int)r->u.error.code, ==, code);
  snprintf(got, sizeof(got), "%.*s", (int)r->u.error.field.len,
           r->u.error.field.p ? r->u.error.field.p : "");
  CHECK_STR(got, field);
  proto_frame_cleanup(r);
}

static struct rawws *raw_login(const char *login)
{
  struct rawws *r = rawws_connect(srv.port);
  struct proto_frame f, w;
  char pw[64];

  CHECK(r != NULL);
  snprintf(pw, sizeof(pw), "pw-%s", login);
  proto_frame_init(&f, PROTO_T_LOGIN);
  f.u.login.login = (struct proto_str){login, strlen(login)};
  f.u.login.pass = (struct proto_str){pw, strlen(pw)};
  f.u.login.dev = (struct proto_str){"raw", 3};
  raw_request(r, &f, &w);
  CHECK_INT(w.type, ==, PROTO_T_WELCOME);
  proto_frame_cleanup(&w);
  return r;
}

static void raw_ding(struct proto_frame *f, int64_t conv, const char *cmid,
                     const uint64_t *to, size_t nto, bool all)
{
  proto_frame_init(f, PROTO_T_SEND);
  f->u.send.cmid = (struct proto_str){cmid, strlen(cmid)};
  f->u.send.conv = (uint64_t)conv;
  f->u.send.kind = PROTO_KIND_DING;
  f->u.send.body = (struct proto_str){"hey", 3};
  f->u.send.urg = PROTO_URG_URGENT;
  f->u.send.to = to;
  f->u.send.nto = nto;
  f->u.send.all = all;
}

TEST(hostile_ding_requests)
{
  int64_t alice, bob, eve, group, ids[1];
  struct rawws *ra, *rb, *re;
  struct proto_frame f, r;
  uint64_t to[2], esc[2] = {120, 60}, seq;
  /* A send whose urg is "panic": a msgpack map written by hand. */
  static const uint8_t bad_urg[] = {
    0x87, 0xa1, 't', 0xa4, 's', 'e', 'n', 'd', 0xa2, 'i', 'd', 0x09,
    0xa4, 'c', 'm', 'i', 'd', 0xa2, 'x', '1',
    0xa4, 'c', 'o', 'n', 'v', 0x01,
    0xa4, 'k', 'i', 'n', 'd', 0xa4, 'd', 'i', 'n', 'g',
    0xa4, 'b', 'o', 'd', 'y', 0xa1, '!',
    0xa3, 'u', 'r', 'g', 0xa5, 'p', 'a', 'n', 'i', 'c'};
  /* A DING to [2] and to all: no client library would encode it. */
  static const uint8_t both[] = {
    0x89, 0xa1, 't', 0xa4, 's', 'e', 'n', 'd', 0xa2, 'i', 'd', 0x0a,
    0xa4, 'c', 'm', 'i', 'd', 0xa2, 'x', '2',
    0xa4, 'c', 'o', 'n', 'v', 0x01,
    0xa4, 'k', 'i', 'n', 'd', 0xa4, 'd', 'i', 'n', 'g',
    0xa4, 'b', 'o', 'd', 'y', 0xa1, '!',
    0xa3, 'u', 'r', 'g', 0xa6, 'u', 'r', 'g', 'e', 'n', 't',
    0xa2, 't', 'o', 0x91, 0x02,
    0xa3, 'a', 'l', 'l', 0xc3};

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  eve = e2e_user(&srv, "eve");
  ids[0] = bob;
  group = e2e_group(&srv, "Ops", alice, ids, 1);
  CHECK_INT(group, ==, 1);                /* bad_urg names conv 1 */
  e2e_server_start(&srv, NULL);
  ra = raw_login("alice");
  rb = raw_login("bob");
  re = raw_login("eve");

  /* A recipient who is not a member; the sender as a recipient. */
  to[0] = (uint64_t)bob;
  to[1] = (uint64_t)eve;
  raw_ding(&f, group, "h1", to, 2, false);
  raw_request(ra, &f, &r);
  expect_error(&r, PROTO_E_BAD_VALUE, "to[1]");
  to[1] = (uint64_t)alice;
  raw_ding(&f, group, "h2", to, 2, false);
  raw_request(ra, &f, &r);
  expect_error(&r, PROTO_E_BAD_VALUE, "to[1]");
  /* Both `to` and `all`; re-alert times that do not increase. */
  CHECK_INT(bob, ==, 2);                   /* `both` names user 2 */
  rawws_send(ra, both, sizeof(both), false);
  for (;;) {
    CHECK_INT(rawws_wait_frame(ra, PROTO_T_NONE, 15000, &r), ==, 0);
    if (r.id == 10)
      break;
    proto_frame_cleanup(&r);
  }
  expect_error(&r, PROTO_E_BAD_VALUE, "all");
  raw_ding(&f, group, "h4", to, 1, false);
  f.u.send.esc = esc;
  f.u.send.nesc = 2;
  raw_request(ra, &f, &r);
  expect_error(&r, PROTO_E_BAD_VALUE, "esc[1]");
  /* A bad urgency. */
  rawws_send(ra, bad_urg, sizeof(bad_urg), false);
  for (;;) {
    CHECK_INT(rawws_wait_frame(ra, PROTO_T_NONE, 15000, &r), ==, 0);
    if (r.id == 9)
      break;
    proto_frame_cleanup(&r);
  }
  expect_error(&r, PROTO_E_BAD_VALUE, "urg");
  /* Not a member of the conversation at all: NOT_FOUND, as for any send. */
  raw_ding(&f, group, "h5", to, 1, false);
  raw_request(re, &f, &r);
  expect_error(&r, PROTO_E_NOT_FOUND, "conv");
  CHECK_INT(q(&srv, "SELECT count(*) FROM messages"), ==, 0);
  CHECK_INT(q(&srv, "SELECT count(*) FROM dings"), ==, 0);

  /* A good one, then acks. */
  raw_ding(&f, group, "ok", to, 1, false);
  raw_request(ra, &f, &r);
  CHECK_INT(r.type, ==, PROTO_T_ACK);
  seq = r.u.ack.seq;
  proto_frame_cleanup(&r);
  proto_frame_init(&f, PROTO_T_DING_ACK);
  f.u.ding_ack.conv = (uint64_t)group;
  f.u.ding_ack.seq = seq;
  raw_request(re, &f, &r);                 /* not a recipient */
  expect_error(&r, PROTO_E_NOT_FOUND, "seq");
  raw_request(ra, &f, &r);                 /* the sender is not one */
  expect_error(&r, PROTO_E_NOT_FOUND, "seq");
  raw_request(rb, &f, &r);
  CHECK_INT(r.type, ==, PROTO_T_RESULT);
  CHECK(!r.u.result.dup);
  proto_frame_cleanup(&r);
  raw_request(rb, &f, &r);                 /* twice: a no-op */
  CHECK_INT(r.type, ==, PROTO_T_RESULT);
  CHECK(r.u.result.dup);
  proto_frame_cleanup(&r);
  CHECK_INT(q(&srv, "SELECT count(*) FROM ding_recipients WHERE acked_at IS"
                    " NOT NULL"), ==, 1);
  /* The board: the sender only; others refused, non-members told
   * nothing exists. */
  proto_frame_init(&f, PROTO_T_DING_BOARD);
  f.u.ding_board.conv = (uint64_t)group;
  f.u.ding_board.seq = seq;
  raw_request(rb, &f, &r);
  expect_error(&r, PROTO_E_FORBIDDEN, "");
  raw_request(re, &f, &r);
  expect_error(&r, PROTO_E_NOT_FOUND, "seq");
  raw_request(ra, &f, &r);
  CHECK_INT(r.type, ==, PROTO_T_DING_BOARD_RESULT);
  CHECK_UINT(r.u.ding_board_result.nrows, ==, 1);
  CHECK(r.u.ding_board_result.rows[0].acked);
  proto_frame_cleanup(&r);
  rawws_free(ra);
  rawws_free(rb);
  rawws_free(re);
  e2e_server_stop(&srv);
}

TEST_MAIN()
