/*
 * test_store_ding.c — DINGs against a real PostgreSQL: stored with their
 * message (recipients checked, faults per message), the schedule's
 * arithmetic step by step on a moved database clock, a due step claimed
 * once across connections and threads, an ack that stops only its own
 * recipient, resuming after a gap without a burst, quiet hours (deferred,
 * or overridden by a critical DING and audited), escalation to the
 * manager and the webhook's claim / record / retry / lost claim, the
 * state notes (delivered, read, ack), the board, and the org policy.
 *
 * The database clock is moved per connection with store_clock_set_offset
 * (herald_now() = now() + offset), so "an hour later" takes no time.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pgtest.h"
#include "store.h"

static char conninfo[1024];

struct cast {
  struct store_conn *c;
  int64_t boss, alice, bob, carol, dave, erin;
  int64_t group;       /* alice (owner), bob, carol, erin */
  int64_t solo;        /* alice alone */
};

/* Runs a query formatted with arguments; its first value. */
__attribute__((format(printf, 1, 2)))
static long long q(const char *fmt, ...)
{
  char sql[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  return pgtest_query_int(conninfo, sql);
}

static int64_t real_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t ms_of(const char *ts)
{
  return q("SELECT floor(extract(epoch FROM timestamptz '%s') * 1000)", ts);
}

/* Moves connection c's clock so that its herald_now() is at_ms. */
static void set_now(struct store_conn *c, int64_t at_ms)
{
  CHECK_INT(store_clock_set_offset(c, at_ms - real_ms()), ==, STORE_OK);
}

/* When the (last) message was sent, rounded UP to the ms: firing at
 * sent + N then never falls a fraction of a ms short of a due time. */
static int64_t sent_ms(void)
{
  return q("SELECT ceil(extract(epoch FROM max(sent_at)) * 1000)"
           " FROM messages");
}

static int64_t user(struct store_conn *c, const char *login,
                    const char *manager)
{
  struct store_user_new u = {.login = login, .display_name = login,
                             .manager_login = manager,
                             .role = STORE_ROLE_STAFF};
  int64_t id = 0;

  CHECK_INT(store_user_add(c, &u, &id), ==, STORE_OK);
  return id;
}

/* A Wednesday, 10:00 UTC: outside the default quiet hours. */
#define WED_10 "2026-03-11 10:00:00+00"

static struct cast setup(void)
{
  struct store_user_new admin = {.login = "boss", .display_name = "Boss",
                                 .role = STORE_ROLE_MANAGER};
  struct cast k;
  int64_t m[3];

  memset(&k, 0, sizeof k);
  pgtest_db_new(conninfo, sizeof conninfo);
  if (store_connect(conninfo, &k.c) != STORE_OK)
    CHECK_FAIL("store_connect: %s", store_errmsg(k.c));
  CHECK_INT(store_migrate(k.c, NULL), ==, STORE_OK);
  CHECK_INT(store_org_init(k.c, "Org", &admin, &k.boss), ==, STORE_OK);
  k.alice = user(k.c, "alice", "boss");
  k.bob = user(k.c, "bob", "boss");
  k.carol = user(k.c, "carol", "boss");
  k.dave = user(k.c, "dave", NULL);
  k.erin = user(k.c, "erin", NULL);
  m[0] = k.bob;
  m[1] = k.carol;
  m[2] = k.erin;
  CHECK_INT(store_group_create(k.c, "Ops", k.alice, STORE_TRACK_ALL, m, 3,
                               &k.group), ==, STORE_OK);
  CHECK_INT(store_group_create(k.c, "Solo", k.alice, STORE_TRACK_ALL, NULL, 0,
                               &k.solo), ==, STORE_OK);
  set_now(k.c, ms_of(WED_10));
  return k;
}

static struct store_send ding_msg(int64_t sender, const char *cmid,
                                  int64_t conv, const struct store_ding *d)
{
  struct store_send m = {.sender_kind = STORE_PRINCIPAL_USER,
                         .sender_id = sender, .cmid = cmid,
                         .conversation_id = conv, .kind = STORE_MSG_DING,
                         .body = "server down", .body_len = 11, .ding = d};

  return m;
}

/* Sends a DING from alice to `to` (n users; 0: all) with the schedule
 * `esc` (n_esc offsets; 0: the org's); returns its seq. */
static int64_t ding(struct cast *k, const char *cmid, const int64_t *to,
                    size_t n, const int64_t *esc, size_t n_esc,
                    enum store_urgency urg)
{
  struct store_ding d = {.urgency = urg, .all = n == 0, .to = to,
                         .n_to = n, .esc_s = esc, .n_esc = n_esc};
  struct store_send m = ding_msg(k->alice, cmid, k->group, &d);
  struct store_send_result r;
  int64_t seq;

  CHECK_INT(store_send_batch(k->c, &m, 1, &r), ==, STORE_OK);
  if (r.rc != STORE_OK)
    CHECK_FAIL("ding refused: rc %d fault %d at %d: %s", r.rc, r.ding_fault,
               r.ding_fault_at, store_errmsg(k->c));
  seq = r.seq;
  store_send_results_cleanup(&r, 1);
  return seq;
}

/* Fires what is due at at_ms on connection c; returns the events (free)
 * and their count in *n. Notes are checked for being about the events. */
static struct store_ding_event *fire(struct store_conn *c, int64_t at_ms,
                                     size_t *n)
{
  struct store_ding_event *ev = NULL;
  struct store_ding_note *notes = NULL;
  size_t nn = 0;

  set_now(c, at_ms);
  CHECK_INT(store_ding_fire(c, "test", 100, &ev, n, &notes, &nn), ==,
            STORE_OK);
  free(notes);
  return ev;
}

TEST(send_stores_rows_feed_and_replays)
{
  struct cast k = setup();
  int64_t to[3] = {k.carol, k.bob, k.carol};
  struct store_ding d = {.urgency = STORE_URG_URGENT, .to = to, .n_to = 3};
  struct store_send m[2];
  struct store_send_result r[2];
  struct store_message *msgs = NULL;
  struct store_feed_entry *fe = NULL;
  struct store_ding_note *notes = NULL;
  size_t nm = 0, nf = 0, nn = 0;
  int64_t t0 = ms_of(WED_10);

  m[0] = ding_msg(k.alice, "d1", k.group, &d);
  m[1] = ding_msg(k.alice, "d1", k.group, &d);   /* a repeat in the batch */
  CHECK_INT(store_send_batch(k.c, m, 2, r), ==, STORE_OK);
  CHECK_INT(r[0].rc, ==, STORE_OK);
  CHECK(!r[0].dup);
  CHECK(r[0].tracked);
  CHECK(r[1].dup);
  CHECK_INT(r[1].n_ding_rcpt, ==, 0);
  CHECK_INT(r[0].n_ding_rcpt, ==, 2);            /* carol once */
  CHECK_INT(r[0].ding_rcpt[0], ==, k.bob);
  CHECK_INT(r[0].ding_rcpt[1], ==, k.carol);
  CHECK_INT(r[0].ding_fs[0], ==, 1);             /* each one's first entry */
  CHECK_INT(r[0].ding_fs[1], ==, 1);
  /* The org's default first slot: 5 minutes. */
  CHECK_INT(r[0].ding_due_ms - r[0].sent_at_ms, ==, 5 * 60 * 1000);
  CHECK_INT(r[0].sent_at_ms - t0, >=, 0);
  CHECK_INT(r[0].sent_at_ms - t0, <, 60000);
  store_send_results_cleanup(r, 2);
  CHECK_INT(q("SELECT max_alerts FROM dings"), ==, 6);
  CHECK_INT(q("SELECT count(*) FROM ding_recipients"), ==, 2);
  CHECK_INT(q("SELECT count(*) FROM ding_steps WHERE step = 0"), ==, 2);
  CHECK_INT(q("SELECT count(*) FROM feed WHERE kind = 'ding'"), ==, 2);
  CHECK_INT(q("SELECT count(*) FROM feed WHERE user_id = %lld",
              (long long)k.alice), ==, 0);

  /* A re-send later is the original (dup), nothing more is stored. */
  CHECK_INT(store_send_batch(k.c, m, 1, r), ==, STORE_OK);
  CHECK(r[0].dup);
  CHECK_INT(r[0].n_ding_rcpt, ==, 0);
  CHECK_INT(q("SELECT count(*) FROM ding_recipients"), ==, 2);

  /* Replay carries the DING's urgency and recipients. */
  CHECK_INT(store_messages_after(k.c, STORE_PRINCIPAL_USER, k.bob, k.group, 0,
                                 0, 10, 0, &msgs, &nm), ==, STORE_OK);
  CHECK_INT(nm, ==, 1);
  CHECK_INT(msgs[0].kind, ==, STORE_MSG_DING);
  CHECK_INT(msgs[0].urgency, ==, STORE_URG_URGENT);
  CHECK(!msgs[0].ding_all);
  CHECK_INT(msgs[0].n_ding_to, ==, 2);
  CHECK_INT(msgs[0].ding_to[1], ==, k.carol);
  store_messages_free(msgs, nm);

  /* Bob's feed holds his own pending row. */
  CHECK_INT(store_feed_after(k.c, k.bob, 0, 10, &fe, &nf), ==, STORE_OK);
  CHECK_INT(nf, ==, 1);
  CHECK_INT(fe[0].kind, ==, STORE_FEED_DING);
  CHECK_INT(fe[0].ding_user_id, ==, k.bob);
  CHECK_INT(store_ding_notes(k.c, fe, nf, &notes, &nn), ==, STORE_OK);
  CHECK_INT(nn, ==, 1);
  CHECK_INT(notes[0].row.user_id, ==, k.bob);
  CHECK(!notes[0].row.acked && !notes[0].row.delivered && !notes[0].row.read);
  CHECK_INT(notes[0].sender_id, ==, k.alice);
  CHECK_INT(notes[0].urgency, ==, STORE_URG_URGENT);
  free(notes);
  free(fe);
  store_close(k.c);
}

TEST(send_faults_are_per_message)
{
  struct cast k = setup();
  int64_t outsider[2] = {k.bob, k.dave}, self[1] = {k.alice};
  int64_t ok_to[1] = {k.bob}, bad_esc[2] = {60, 60};
  struct store_ding d_out = {.urgency = STORE_URG_NORMAL, .to = outsider,
                             .n_to = 2};
  struct store_ding d_self = {.urgency = STORE_URG_NORMAL, .to = self,
                              .n_to = 1};
  struct store_ding d_ok = {.urgency = STORE_URG_NORMAL, .to = ok_to,
                            .n_to = 1};
  struct store_ding d_all = {.urgency = STORE_URG_CRITICAL, .all = true};
  struct store_ding d_esc = {.urgency = STORE_URG_NORMAL, .to = ok_to,
                             .n_to = 1, .esc_s = bad_esc, .n_esc = 2};
  struct store_send m[6];
  struct store_send_result r[6];

  m[0] = ding_msg(k.alice, "a", k.group, &d_out);
  m[1] = ding_msg(k.alice, "b", k.group, &d_self);
  m[2] = ding_msg(k.alice, "c", k.solo, &d_all);
  m[3] = ding_msg(k.alice, "d", k.group, &d_ok);
  m[4] = ding_msg(k.alice, "e", k.group, &d_esc);
  m[5] = ding_msg(k.dave, "f", k.group, &d_ok);    /* not a member */
  CHECK_INT(store_send_batch(k.c, m, 6, r), ==, STORE_OK);
  CHECK_INT(r[0].rc, ==, STORE_EINVAL);
  CHECK_INT(r[0].ding_fault, ==, STORE_DING_NOT_MEMBER);
  CHECK_INT(r[0].ding_fault_at, ==, 1);
  CHECK_INT(r[1].rc, ==, STORE_EINVAL);
  CHECK_INT(r[1].ding_fault, ==, STORE_DING_SENDER);
  CHECK_INT(r[1].ding_fault_at, ==, 0);
  CHECK_INT(r[2].rc, ==, STORE_EINVAL);
  CHECK_INT(r[2].ding_fault, ==, STORE_DING_NO_RECIPIENTS);
  CHECK_INT(r[3].rc, ==, STORE_OK);                 /* the others stand */
  CHECK_INT(r[3].seq, ==, 1);                       /* no gap for refusals */
  CHECK_INT(r[4].rc, ==, STORE_EINVAL);             /* checked before SQL */
  CHECK_INT(r[4].ding_fault, ==, 0);
  CHECK_INT(r[5].rc, ==, STORE_ENOTFOUND);          /* not NOT_MEMBER */
  CHECK_INT(r[5].ding_fault, ==, 0);
  store_send_results_cleanup(r, 6);
  CHECK_INT(q("SELECT count(*) FROM messages"), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM dings"), ==, 1);

  /* `all` takes every current member but the sender. */
  ding(&k, "g", NULL, 0, NULL, 0, STORE_URG_NORMAL);
  CHECK_INT(q("SELECT count(*) FROM ding_recipients WHERE seq = 2"), ==, 3);
  CHECK_INT(q("SELECT count(*) FROM dings WHERE seq = 2 AND all_members"), ==,
            1);
  store_close(k.c);
}

TEST(schedule_steps_then_escalation)
{
  struct cast k = setup();
  int64_t to[1] = {k.bob}, esc[3] = {60, 120, 300};
  int64_t t0 = ms_of(WED_10), sent;
  struct store_ding_event *ev;
  size_t n;

  ding(&k, "d", to, 1, esc, 3, STORE_URG_NORMAL);
  sent = sent_ms();
  /* The offsets in SQL: the schedule, then one last gap per slot. */
  CHECK_INT(q("SELECT extract(epoch FROM herald_ding_offset("
              "'{00:01:00,00:02:00,00:05:00}', '00:03:00', 4))"), ==, 480);
  CHECK_INT(q("SELECT extract(epoch FROM herald_ding_offset('{}',"
              " '01:00:00', 2))"), ==, 7200);
  CHECK_INT(q("SELECT extract(epoch FROM herald_ding_offset("
              "'{00:05:00}', '01:00:00', 3))"), ==, 300 + 7200);
  CHECK_INT(q("SELECT extract(epoch FROM repeat_every) FROM dings"), ==, 180);
  CHECK_INT(q("SELECT max_alerts FROM dings"), ==, 3);

  ev = fire(k.c, sent + 59000, &n);
  CHECK_INT(n, ==, 0);
  free(ev);
  ev = fire(k.c, sent + 60000, &n);
  CHECK_INT(n, ==, 1);
  CHECK_INT(ev[0].what, ==, STORE_DING_REALERT);
  CHECK_INT(ev[0].step, ==, 1);
  CHECK_INT(ev[0].sender_id, ==, k.alice);
  CHECK_INT(ev[0].urgency, ==, STORE_URG_NORMAL);
  free(ev);
  /* Firing again at the same time does nothing. */
  ev = fire(k.c, sent + 60500, &n);
  CHECK_INT(n, ==, 0);
  free(ev);
  CHECK_INT(q("SELECT ceil(extract(epoch FROM next_due_at) * 1000)"
              " FROM ding_recipients") - sent, ==, 120000);
  ev = fire(k.c, sent + 120000, &n);
  CHECK_INT(n, ==, 1);
  CHECK_INT(ev[0].step, ==, 2);
  free(ev);
  ev = fire(k.c, sent + 300000, &n);
  CHECK_INT(n, ==, 1);
  CHECK_INT(ev[0].step, ==, 3);
  free(ev);
  ev = fire(k.c, sent + 479000, &n);
  CHECK_INT(n, ==, 0);
  free(ev);
  ev = fire(k.c, sent + 480000, &n);
  CHECK_INT(n, ==, 1);
  CHECK_INT(ev[0].what, ==, STORE_DING_ESCALATED);
  CHECK_INT(ev[0].step, ==, 4);
  CHECK_INT(ev[0].manager_id, ==, k.boss);
  CHECK(!ev[0].webhook);                           /* no webhook set */
  free(ev);
  ev = fire(k.c, sent + 10000000, &n);
  CHECK_INT(n, ==, 0);
  free(ev);
  CHECK_INT(q("SELECT count(*) FROM ding_steps"), ==, 5);
  CHECK_INT(q("SELECT count(*) FROM escalation_attempts WHERE kind ="
              " 'manager' AND outcome = 'ok' AND attempt = 1"), ==, 1);
  CHECK_INT(q("SELECT escalated_to FROM ding_recipients"), ==, k.boss);
  CHECK_INT(q("SELECT count(*) FROM audit_log WHERE action ="
              " 'ding.escalate'"), ==, 1);
  /* The manager now follows the row: the escalation is in their feed. */
  CHECK_INT(q("SELECT count(*) FROM feed WHERE user_id = %lld AND kind ="
              " 'ding' AND ding_user_id = %lld", (long long)k.boss,
              (long long)k.bob), ==, 1);
  (void)t0;
  store_close(k.c);
}

TEST(resume_after_a_gap_fires_once_then_keeps_pace)
{
  struct cast k = setup();
  int64_t to[1] = {k.bob}, esc[3] = {60, 120, 300};
  struct store_conn *c2 = NULL;
  struct store_ding_event *ev;
  int64_t sent;
  size_t n;

  ding(&k, "d", to, 1, esc, 3, STORE_URG_NORMAL);
  sent = sent_ms();
  ev = fire(k.c, sent + 60000, &n);
  CHECK_INT(n, ==, 1);
  free(ev);
  store_close(k.c);
  /* "Down" until after slots 2 and 3 were due; a fresh connection (a
   * restarted server) fires step 2 once, not 2 and 3 as a burst. */
  CHECK_INT(store_connect(conninfo, &c2), ==, STORE_OK);
  ev = fire(c2, sent + 400000, &n);
  CHECK_INT(n, ==, 1);
  CHECK_INT(ev[0].step, ==, 2);
  free(ev);
  ev = fire(c2, sent + 400000, &n);
  CHECK_INT(n, ==, 0);
  free(ev);
  /* The next slot keeps the schedule's gap (2 -> 3: 180 s) from now. */
  ev = fire(c2, sent + 579000, &n);
  CHECK_INT(n, ==, 0);
  free(ev);
  ev = fire(c2, sent + 581000, &n);
  CHECK_INT(n, ==, 1);
  CHECK_INT(ev[0].step, ==, 3);
  free(ev);
  CHECK_INT(q("SELECT count(*) FROM ding_steps WHERE step = 2"), ==, 1);
  store_close(c2);
}

struct racer {
  int64_t at_ms;
  size_t fired;
  int rc;
};

static void *race(void *arg)
{
  struct racer *r = arg;
  struct store_conn *c = NULL;

  if (store_connect(conninfo, &c) != STORE_OK) {
    r->rc = -1;
    store_close(c);
    return NULL;
  }
  r->rc = store_clock_set_offset(c, r->at_ms - real_ms());
  for (;;) {
    struct store_ding_event *ev = NULL;
    struct store_ding_note *notes = NULL;
    size_t n = 0, nn = 0;
    int rc = store_ding_fire(c, "racer", 7, &ev, &n, &notes, &nn);

    free(ev);
    free(notes);
    if (rc == STORE_EUNAVAIL)
      continue;                /* a deadlock or serialization retry */
    if (rc != STORE_OK) {
      r->rc = rc;
      break;
    }
    r->fired += n;
    if (n == 0)
      break;
  }
  store_close(c);
  return NULL;
}

TEST(a_due_step_is_claimed_once)
{
  struct cast k = setup();
  int64_t to[3], esc[1] = {60};
  struct racer rs[4];
  pthread_t th[4];
  size_t total = 0;
  int64_t sent;
  char sql[256], state[6];
  struct store_ding_event *ev;
  size_t n;

  to[0] = k.bob;
  to[1] = k.carol;
  to[2] = k.erin;
  for (int i = 0; i < 70; i++) {
    char cmid[16];

    snprintf(cmid, sizeof cmid, "d%d", i);
    ding(&k, cmid, to, 3, esc, 1, STORE_URG_URGENT);
  }
  sent = q("SELECT ceil(extract(epoch FROM max(sent_at)) * 1000)"
           " FROM messages");
  /* A row held by another transaction is skipped, not waited for. */
  snprintf(sql, sizeof sql,
           "SELECT pg_sleep(3) FROM ding_recipients WHERE seq = 1 AND"
           " user_id = %lld FOR UPDATE", (long long)k.bob);
  {
    pid_t pid = fork();

    CHECK(pid >= 0);
    if (pid == 0) {
      pgtest_try(conninfo, sql, state);
      _exit(0);
    }
    /* Give the holder time to take the lock. */
    for (int i = 0; i < 100 && q("SELECT count(*) FROM pg_locks l JOIN"
                                  " pg_class c ON c.oid = l.relation WHERE"
                                  " c.relname = 'ding_recipients' AND"
                                  " l.mode = 'RowShareLock'") == 0; i++)
      usleep(20000);
    ev = fire(k.c, sent + 60000, &n);
    CHECK_INT(n, ==, 100);             /* the limit */
    free(ev);
    while (waitpid(pid, NULL, 0) != pid)
      ;
  }
  /* Four servers race for the rest: each row fires exactly once. */
  for (int i = 0; i < 4; i++) {
    rs[i] = (struct racer){.at_ms = sent + 60000};
    CHECK_INT(pthread_create(&th[i], NULL, race, &rs[i]), ==, 0);
  }
  for (int i = 0; i < 4; i++) {
    CHECK_INT(pthread_join(th[i], NULL), ==, 0);
    CHECK_INT(rs[i].rc, ==, STORE_OK);
    total += rs[i].fired;
  }
  CHECK_INT(total, ==, 210 - 100);
  CHECK_INT(q("SELECT count(*) FROM ding_steps WHERE step = 1"), ==, 210);
  CHECK_INT(q("SELECT count(*) FROM ding_recipients WHERE step = 1"), ==,
            210);
  store_close(k.c);
}

TEST(ack_stops_only_that_recipient)
{
  struct cast k = setup();
  int64_t to[2] = {k.bob, k.carol}, esc[2] = {60, 120};
  struct store_ding_note *notes = NULL;
  struct store_ding_event *ev;
  bool changed = false;
  int64_t sent, acked = 0, seq;
  size_t n, nn = 0;

  seq = ding(&k, "d", to, 2, esc, 2, STORE_URG_NORMAL);
  sent = sent_ms();
  set_now(k.c, sent + 10000);
  /* An ack dated before the DING is clamped to the DING's time. */
  CHECK_INT(store_ding_ack(k.c, k.bob, k.group, seq, sent - 5000, &changed,
                           &acked, &notes, &nn), ==, STORE_OK);
  CHECK(changed);
  CHECK_INT(acked, ==, q("SELECT floor(extract(epoch FROM sent_at) * 1000)"
                         " FROM messages"));
  /* Notes: bob's own row and alice's copy. */
  CHECK_INT(nn, ==, 2);
  for (size_t i = 0; i < nn; i++) {
    CHECK(notes[i].to_user == k.alice || notes[i].to_user == k.bob);
    CHECK_INT(notes[i].row.user_id, ==, k.bob);
    CHECK(notes[i].row.acked);
    CHECK_INT(notes[i].row.acked_at_ms, ==, acked);
  }
  free(notes);
  /* Twice: a no-op. */
  CHECK_INT(store_ding_ack(k.c, k.bob, k.group, seq, 0, &changed, &acked,
                           &notes, &nn), ==, STORE_OK);
  CHECK(!changed);
  CHECK_INT(nn, ==, 0);
  CHECK_INT(acked, ==, q("SELECT floor(extract(epoch FROM sent_at) * 1000)"
                         " FROM messages"));
  /* Not a recipient, or no such DING. */
  CHECK_INT(store_ding_ack(k.c, k.erin, k.group, seq, 0, &changed, NULL,
                           &notes, &nn), ==, STORE_ENOTFOUND);
  CHECK_CONTAINS(store_errmsg(k.c), "no DING");
  CHECK_INT(store_ding_ack(k.c, k.bob, k.group, seq + 1, 0, &changed, NULL,
                           &notes, &nn), ==, STORE_ENOTFOUND);
  /* Only carol is re-alerted. */
  ev = fire(k.c, sent + 60000, &n);
  CHECK_INT(n, ==, 1);
  CHECK_INT(ev[0].user_id, ==, k.carol);
  free(ev);
  /* A time in the future is clamped to now. */
  set_now(k.c, sent + 70000);
  CHECK_INT(store_ding_ack(k.c, k.carol, k.group, seq, sent + 999999,
                           &changed, &acked, &notes, &nn), ==, STORE_OK);
  free(notes);
  CHECK_INT(acked, >=, sent + 70000);
  CHECK_INT(acked, <, sent + 80000);
  ev = fire(k.c, sent + 1000000, &n);
  CHECK_INT(n, ==, 0);
  free(ev);
  CHECK_INT(q("SELECT count(*) FROM ding_recipients WHERE next_due_at IS"
              " NOT NULL"), ==, 0);
  store_close(k.c);
}

TEST(delivered_read_notes_and_board)
{
  struct cast k = setup();
  int64_t to[2] = {k.bob, k.carol};
  struct store_ding_note *notes = NULL;
  struct store_ding_board b;
  struct store_read_result rr;
  size_t nn = 0;
  int64_t seq, seqs[2];

  seq = ding(&k, "d", to, 2, NULL, 0, STORE_URG_URGENT);
  seqs[0] = seq;
  seqs[1] = seq + 7;                   /* not a DING: ignored */
  CHECK_INT(store_ding_delivered(k.c, k.bob, k.group, seqs, 2, &notes, &nn),
            ==, STORE_OK);
  CHECK_INT(nn, ==, 2);
  CHECK(notes[0].row.delivered);
  free(notes);
  CHECK_INT(store_ding_delivered(k.c, k.bob, k.group, seqs, 1, &notes, &nn),
            ==, STORE_OK);
  CHECK_INT(nn, ==, 0);
  /* erin is no recipient: nothing. */
  CHECK_INT(store_ding_delivered(k.c, k.erin, k.group, seqs, 1, &notes, &nn),
            ==, STORE_OK);
  CHECK_INT(nn, ==, 0);

  CHECK_INT(store_read_record(k.c, k.carol, k.group, 0, seq, 0, NULL, 0, &rr),
            ==, STORE_OK);
  CHECK(rr.moved);
  free(rr.feed);
  CHECK_INT(store_ding_read(k.c, k.carol, k.group, rr.old_seq, rr.read_seq,
                            &notes, &nn), ==, STORE_OK);
  CHECK_INT(nn, ==, 2);
  CHECK(notes[0].row.read);
  CHECK(!notes[0].row.acked);
  free(notes);

  CHECK_INT(store_ding_board(k.c, STORE_PRINCIPAL_USER, k.alice, k.group, seq,
                             &b), ==, STORE_OK);
  CHECK_INT(b.urgency, ==, STORE_URG_URGENT);
  CHECK_INT(b.n_rows, ==, 2);
  CHECK_INT(b.rows[0].user_id, ==, k.bob);
  CHECK(b.rows[0].delivered && !b.rows[0].read);
  CHECK(!b.rows[1].delivered && b.rows[1].read);
  free(b.rows);
  CHECK_INT(store_ding_board(k.c, STORE_PRINCIPAL_USER, k.bob, k.group, seq,
                             &b), ==, STORE_EFORBIDDEN);
  CHECK_INT(store_ding_board(k.c, STORE_PRINCIPAL_USER, k.dave, k.group, seq,
                             &b), ==, STORE_ENOTFOUND);
  CHECK_INT(store_ding_board(k.c, STORE_PRINCIPAL_USER, k.alice, k.group,
                             seq + 1, &b), ==, STORE_ENOTFOUND);
  /* Feed counts: bob 1 (sent) + 1 (delivered); alice 3: delivered, the
   * read's receipt (a DING is tracked) and the read. */
  CHECK_INT(q("SELECT last_fs FROM feed_heads WHERE user_id = %lld",
              (long long)k.bob), ==, 2);
  CHECK_INT(q("SELECT last_fs FROM feed_heads WHERE user_id = %lld",
              (long long)k.alice), ==, 3);
  store_close(k.c);
}

TEST(quiet_hours_defer_or_are_overridden)
{
  struct cast k = setup();
  int64_t to[1] = {k.bob}, esc[1] = {60};
  int64_t wed21 = ms_of("2026-03-11 21:00:00+00");
  int64_t thu08 = ms_of("2026-03-12 08:00:00+00");
  struct store_ding_event *ev;
  size_t n;

  set_now(k.c, wed21);
  ding(&k, "quiet", to, 1, esc, 1, STORE_URG_URGENT);
  ding(&k, "loud", to, 1, esc, 1, STORE_URG_CRITICAL);
  /* Step 0 of the critical one went through quiet hours: marked, audited. */
  CHECK_INT(q("SELECT count(*) FROM ding_steps WHERE step = 0 AND"
              " overrode_quiet"), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM audit_log WHERE action ="
              " 'ding.quiet_override'"), ==, 1);
  ev = fire(k.c, wed21 + 61000, &n);
  CHECK_INT(n, ==, 2);
  for (size_t i = 0; i < n; i++) {
    if (ev[i].urgency == STORE_URG_CRITICAL) {
      CHECK_INT(ev[i].what, ==, STORE_DING_REALERT);
      CHECK(ev[i].overrode_quiet);
    } else {
      CHECK_INT(ev[i].what, ==, STORE_DING_DEFERRED);
    }
  }
  free(ev);
  CHECK_INT(q("SELECT floor(extract(epoch FROM next_due_at) * 1000)"
              " FROM ding_recipients WHERE seq = 1"), ==, thu08);
  CHECK_INT(q("SELECT count(*) FROM audit_log WHERE action ="
              " 'ding.quiet_override'"), ==, 2);
  /* Nothing until the quiet stretch ends; then the step fires. */
  ev = fire(k.c, thu08 - 1000, &n);
  CHECK_INT(n, ==, 1);                /* the critical one escalates */
  CHECK_INT(ev[0].what, ==, STORE_DING_ESCALATED);
  free(ev);
  ev = fire(k.c, thu08, &n);
  CHECK_INT(n, ==, 1);
  CHECK_INT(ev[0].what, ==, STORE_DING_REALERT);
  CHECK_INT(ev[0].step, ==, 1);
  CHECK(!ev[0].overrode_quiet);
  free(ev);
  store_close(k.c);
}

TEST(webhook_claim_record_retry_and_lost_claim)
{
  struct cast k = setup();
  struct store_ding_policy p;
  struct store_ding_webhook w, w2;
  struct store_ding_event *ev;
  struct store_conn *c2 = NULL;
  int64_t to[1] = {k.bob}, esc[1] = {60}, sent, next = 0;
  int backoff[2] = {10, 60};
  bool found = false, rec = false;
  size_t n;

  CHECK_INT(store_ding_policy_get(k.c, &p), ==, STORE_OK);
  snprintf(p.webhook_url, sizeof p.webhook_url, "http://127.0.0.1:9/hook");
  CHECK_INT(store_ding_policy_set(k.c, &p), ==, STORE_OK);
  ding(&k, "d", to, 1, esc, 1, STORE_URG_URGENT);
  sent = sent_ms();
  ev = fire(k.c, sent + 60000, &n);
  free(ev);
  ev = fire(k.c, sent + 120000, &n);
  CHECK_INT(n, ==, 1);
  CHECK_INT(ev[0].what, ==, STORE_DING_ESCALATED);
  CHECK(ev[0].webhook);
  free(ev);

  CHECK_INT(store_ding_webhook_claim(k.c, "n1", 30, &w, &found), ==,
            STORE_OK);
  CHECK(found);
  CHECK_INT(w.attempt, ==, 1);
  CHECK_STR(w.url, "http://127.0.0.1:9/hook");
  CHECK_CONTAINS(w.payload, "\"event\": \"ding.escalation\"");
  CHECK_CONTAINS(w.payload, "\"login\": \"bob\"");
  CHECK_CONTAINS(w.payload, "\"urgency\": \"urgent\"");
  CHECK_CONTAINS(w.payload, "\"body\": \"server down\"");
  /* Claimed: nobody else gets it. */
  CHECK_INT(store_connect(conninfo, &c2), ==, STORE_OK);
  set_now(c2, sent + 121000);
  CHECK_INT(store_ding_webhook_claim(c2, "n2", 30, &w2, &found), ==,
            STORE_OK);
  CHECK(!found);
  CHECK_INT(store_ding_webhook_record(k.c, &w, "n1", "failed", 500,
                                      "HTTP 500", backoff, 2, &rec, &next),
            ==, STORE_OK);
  CHECK(rec);
  CHECK_INT(next - (sent + 120000), >=, 10000);
  CHECK_INT(next - (sent + 120000), <, 12000);
  free(w.payload);
  /* Not yet due again; then attempt 2. */
  CHECK_INT(store_ding_webhook_claim(c2, "n2", 30, &w2, &found), ==,
            STORE_OK);
  CHECK(!found);
  set_now(c2, next + 1);
  CHECK_INT(store_ding_webhook_claim(c2, "n2", 30, &w2, &found), ==,
            STORE_OK);
  CHECK(found);
  CHECK_INT(w2.attempt, ==, 2);
  /* n2 dies; its lease runs out and n1 makes attempt 2 again. */
  set_now(k.c, next + 31000);
  CHECK_INT(store_ding_webhook_claim(k.c, "n1", 30, &w, &found), ==,
            STORE_OK);
  CHECK(found);
  CHECK_INT(w.attempt, ==, 2);
  CHECK_INT(store_ding_webhook_record(c2, &w2, "n2", "ok", 200, "HTTP 200",
                                      backoff, 2, &rec, NULL), ==, STORE_OK);
  CHECK(!rec);                         /* n2's claim was lost */
  CHECK_INT(store_ding_webhook_record(k.c, &w, "n1", "ok", 200, "HTTP 200",
                                      backoff, 2, &rec, &next), ==, STORE_OK);
  CHECK(rec);
  CHECK_INT(next, ==, 0);
  free(w.payload);
  free(w2.payload);
  CHECK_INT(q("SELECT count(*) FROM escalation_attempts WHERE kind ="
              " 'webhook'"), ==, 2);
  CHECK_INT(q("SELECT http_status FROM escalation_attempts WHERE kind ="
              " 'webhook' AND attempt = 1 AND outcome = 'failed'"), ==, 500);
  CHECK_INT(q("SELECT count(*) FROM escalation_attempts WHERE kind ="
              " 'webhook' AND attempt = 2 AND outcome = 'ok'"), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM ding_recipients WHERE webhook_due_at IS"
              " NOT NULL"), ==, 0);
  store_close(c2);
  store_close(k.c);
}

TEST(next_due_follows_the_rows)
{
  struct cast k = setup();
  int64_t to[1] = {k.bob}, esc[1] = {90}, due = -1, seq;
  struct store_ding_note *notes = NULL;
  bool changed;
  size_t nn;

  CHECK_INT(store_ding_next_due(k.c, &due), ==, STORE_OK);
  CHECK_INT(due, ==, 0);
  seq = ding(&k, "d", to, 1, esc, 1, STORE_URG_NORMAL);
  CHECK_INT(store_ding_next_due(k.c, &due), ==, STORE_OK);
  CHECK_INT(due, ==, q("SELECT floor(extract(epoch FROM sent_at) * 1000)"
                       " FROM messages") + 90000);
  CHECK_INT(store_ding_ack(k.c, k.bob, k.group, seq, 0, &changed, NULL,
                           &notes, &nn), ==, STORE_OK);
  free(notes);
  CHECK_INT(store_ding_next_due(k.c, &due), ==, STORE_OK);
  CHECK_INT(due, ==, 0);
  store_close(k.c);
}

TEST(policy_get_set_and_checks)
{
  struct cast k = setup();
  struct store_ding_policy p, back;
  int64_t to[1] = {k.bob};

  CHECK_INT(store_ding_policy_get(k.c, &p), ==, STORE_OK);
  CHECK_INT(p.n_steps, ==, 3);
  CHECK_INT(p.steps_s[0], ==, 300);
  CHECK_INT(p.steps_s[2], ==, 1800);
  CHECK_INT(p.repeat_s, ==, 3600);
  CHECK_INT(p.max_alerts, ==, 6);
  CHECK(p.manager);
  CHECK_STR(p.webhook_url, "");

  p.n_steps = 2;
  p.steps_s[0] = 120;
  p.steps_s[1] = 240;
  p.repeat_s = 600;
  p.max_alerts = 4;
  p.manager = false;
  snprintf(p.webhook_url, sizeof p.webhook_url, "https://sms.example/x");
  CHECK_INT(store_ding_policy_set(k.c, &p), ==, STORE_OK);
  CHECK_INT(store_ding_policy_get(k.c, &back), ==, STORE_OK);
  CHECK_INT(back.n_steps, ==, 2);
  CHECK_INT(back.steps_s[1], ==, 240);
  CHECK_INT(back.repeat_s, ==, 600);
  CHECK_INT(back.max_alerts, ==, 4);
  CHECK(!back.manager);
  CHECK_STR(back.webhook_url, "https://sms.example/x");
  CHECK_INT(q("SELECT count(*) FROM audit_log WHERE action = 'ding.policy'"),
            ==, 1);
  /* New DINGs copy it. */
  ding(&k, "d", to, 1, NULL, 0, STORE_URG_NORMAL);
  CHECK_INT(q("SELECT max_alerts FROM dings"), ==, 4);
  CHECK_INT(q("SELECT extract(epoch FROM schedule[2]) FROM dings"), ==, 240);

  back = p;
  back.steps_s[1] = 120;
  CHECK_INT(store_ding_policy_set(k.c, &back), ==, STORE_EINVAL);
  CHECK_CONTAINS(store_errmsg(k.c), "step 2: the steps must increase");
  back = p;
  back.repeat_s = 0;
  CHECK_INT(store_ding_policy_set(k.c, &back), ==, STORE_EINVAL);
  CHECK_CONTAINS(store_errmsg(k.c), "repeat");
  back = p;
  back.max_alerts = 1001;
  CHECK_INT(store_ding_policy_set(k.c, &back), ==, STORE_EINVAL);
  back = p;
  snprintf(back.webhook_url, sizeof back.webhook_url, "ftp://x");
  CHECK_INT(store_ding_policy_set(k.c, &back), ==, STORE_EINVAL);
  CHECK_CONTAINS(store_errmsg(k.c), "http:// or https://");
  back = p;
  back.webhook_url[0] = 0;
  CHECK_INT(store_ding_policy_set(k.c, &back), ==, STORE_OK);
  CHECK_INT(q("SELECT count(*) FROM org WHERE escalation_webhook_url IS"
              " NULL"), ==, 1);
  store_close(k.c);
}

TEST_MAIN()
