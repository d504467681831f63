/*
 * test_store_cards.c — cards in PostgreSQL (storage/cards.c, 0009):
 *   - a card posted with its message (seq, exactly once per cmid), its
 *     created event and one feed entry per member; appended events chain
 *     by hash (recomputed here from the stored rows), a stale base is
 *     `raced`, a replayed action cmid is `dup`;
 *   - appends racing on threads keep one gapless chain;
 *   - spawned cards are created in the signing event's transaction: when
 *     that transaction fails, none of them exists;
 *   - reminders: a due card is claimed by one connection only; on the
 *     database clock, an overdue task is deferred through the assignee's
 *     quiet hours and sent once after (server/card.c's sweep step);
 *   - task_after: an unread message past the threshold becomes one task
 *     card for the member, once.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "card_int.h"
#include "cards.h"
#include "check.h"
#include "pgtest.h"
#include "store.h"

static char conninfo[1024];

struct cast {
  struct store_conn *c;
  int64_t alice, bob, carol;
  int64_t group;               /* alice (owner) and bob */
};

static int64_t user(struct store_conn *c, const char *login)
{
  struct store_user_new u = {.login = login, .display_name = login,
                             .time_zone = "UTC", .role = STORE_ROLE_STAFF};
  int64_t id = 0;

  CHECK_INT(store_user_add(c, &u, &id), ==, STORE_OK);
  return id;
}

static struct cast setup(int64_t task_after)
{
  struct store_automation a = {0, task_after};
  struct cast k;
  int64_t members[1];

  memset(&k, 0, sizeof k);
  pgtest_db_new(conninfo, sizeof conninfo);
  if (store_connect(conninfo, &k.c) != STORE_OK)
    CHECK_FAIL("store_connect: %s", store_errmsg(k.c));
  CHECK_INT(store_migrate(k.c, NULL), ==, STORE_OK);
  /* Quiet hours only where a test sets them. */
  pgtest_exec(conninfo, "DELETE FROM quiet_windows");
  k.alice = user(k.c, "alice");
  k.bob = user(k.c, "bob");
  k.carol = user(k.c, "carol");
  members[0] = k.bob;
  CHECK_INT(store_group_create_automated(k.c, "Team", k.alice,
                                         STORE_TRACK_ALL, members, 1,
                                         task_after ? &a : NULL, &k.group),
            ==, STORE_OK);
  return k;
}

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

static int64_t post(struct cast *k, int64_t sender, const char *cmid,
                    const char *state, struct store_card_posted *out)
{
  struct store_card_post in = {
    .sender_kind = STORE_PRINCIPAL_USER, .sender_id = sender, .cmid = cmid,
    .conversation_id = k->group, .body = state,
    .card = {.type = "task", .state = state, .payload = "{\"n\":0}"}};

  CHECK_INT(store_card_post(k->c, &in, out), ==, STORE_OK);
  return out->card_id;
}

/* Appends one event computed from version `base`; *raced tells a lost
 * race. Returns the storage code. */
static int append(struct store_conn *c, int64_t card, int64_t base,
                  int64_t actor, const char *cmid, int n,
                  struct store_card_appended *out)
{
  char payload[64], state[64];
  struct store_card_append in = {
    .card_id = card, .base_version = base,
    .actor_kind = STORE_PRINCIPAL_USER, .actor_id = actor, .cmid = cmid,
    .kind = "comment", .state = state, .payload = payload};

  snprintf(payload, sizeof payload, "{\"n\":%d}", n);
  snprintf(state, sizeof state, "{\"type\":\"task\",\"n\":%d}", n);
  return store_card_append(c, &in, out);
}

/* Recomputes every link of the card's chain from the stored rows. */
static void check_chain(struct store_conn *c, int64_t card, int64_t n)
{
  struct store_card_event *ev = NULL;
  size_t nev = 0;
  uint8_t h[CARD_HASH_LEN];

  CHECK_INT(store_card_events(c, card, 0, 100000, &ev, &nev), ==, STORE_OK);
  CHECK_INT(nev, ==, n);
  for (size_t i = 0; i < nev; i++) {
    json_t *p = json_loads(ev[i].payload, 0, NULL);

    CHECK(p != NULL);
    CHECK_INT(ev[i].version, ==, (int64_t)i + 1);
    CHECK_INT(card_event_hash(i ? ev[i - 1].hash : NULL, card,
                              ev[i].version, ev[i].kind,
                              ev[i].actor_kind == STORE_PRINCIPAL_USER
                                  ? ev[i].actor_id : 0,
                              ev[i].actor_kind == STORE_PRINCIPAL_BOT
                                  ? ev[i].actor_id : 0,
                              ev[i].at_ms, p, h), ==, 0);
    CHECK_MEM(h, ev[i].hash, CARD_HASH_LEN);
    json_decref(p);
  }
  CHECK_INT(q("SELECT count(*) FROM cards k JOIN card_events e"
              " ON e.card_id = k.id AND e.event_seq = k.version"
              " WHERE k.id = %lld AND k.head_hash = e.hash",
              (long long)card), ==, 1);
  for (size_t i = 0; i < nev; i++)
    store_card_event_clear(&ev[i]);
  free(ev);
}

TEST(post_append_chain_feed)
{
  struct cast k = setup(0);
  struct store_card_posted p, d;
  struct store_card_appended a;
  struct store_feed_entry *fe = NULL;
  struct store_card_event *fev = NULL;
  size_t nfe = 0, nfev = 0;
  int64_t card;
  int rc;

  card = post(&k, k.alice, "c1", "{\"type\":\"task\",\"n\":0}", &p);
  CHECK(card > 0);
  CHECK(!p.dup);
  CHECK_INT(p.seq, ==, 1);
  CHECK_INT(p.ev.version, ==, 1);
  CHECK_STR(p.ev.kind, "created");
  CHECK_INT(p.ev.n, ==, 2);                  /* alice and bob */
  CHECK_INT(q("SELECT count(*) FROM messages WHERE kind = 'card'"), ==, 1);
  /* The same cmid: the original card, nothing new. */
  post(&k, k.alice, "c1", "{\"type\":\"task\",\"n\":9}", &d);
  CHECK(d.dup);
  CHECK_INT(d.card_id, ==, card);
  CHECK_INT(q("SELECT count(*) FROM cards"), ==, 1);
  /* Not a member: refused like an unknown conversation. */
  {
    struct store_card_posted x;
    struct store_card_post in = {
      .sender_kind = STORE_PRINCIPAL_USER, .sender_id = k.carol,
      .cmid = "c2", .conversation_id = k.group, .body = "{}",
      .card = {.type = "task", .state = "{}", .payload = "{}"}};
    CHECK_INT(store_card_post(k.c, &in, &x), ==, STORE_ENOTFOUND);
  }

  /* Two events, then a stale base and a replayed cmid. */
  memset(&a, 0, sizeof a);
  CHECK_INT(append(k.c, card, 1, k.bob, "act-1", 1, &a), ==, STORE_OK);
  CHECK(!a.raced && !a.dup);
  CHECK_INT(a.version, ==, 2);
  store_card_appended_clear(&a);
  CHECK_INT(append(k.c, card, 2, k.alice, NULL, 2, &a), ==, STORE_OK);
  CHECK_INT(a.version, ==, 3);
  store_card_appended_clear(&a);
  CHECK_INT(append(k.c, card, 2, k.alice, NULL, 3, &a), ==, STORE_OK);
  CHECK(a.raced);
  store_card_appended_clear(&a);
  CHECK_INT(append(k.c, card, 3, k.bob, "act-1", 4, &a), ==, STORE_OK);
  CHECK(a.dup);
  CHECK_INT(a.version, ==, 2);
  store_card_appended_clear(&a);
  rc = append(k.c, card, 3, k.bob, NULL, 5, &a);
  CHECK_INT(rc, ==, STORE_OK);
  store_card_appended_clear(&a);
  check_chain(k.c, card, 4);
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE card_id = %lld AND"
              " at = date_trunc('milliseconds', at)", (long long)card), ==, 4);

  /* Bob's feed: one card entry per event, each naming its version. */
  CHECK_INT(store_feed_after(k.c, k.bob, 0, 100, &fe, &nfe), ==, STORE_OK);
  CHECK_INT(nfe, ==, 4);
  for (size_t i = 0; i < nfe; i++) {
    CHECK_INT(fe[i].kind, ==, STORE_FEED_CARD);
    CHECK_INT(fe[i].card_id, ==, card);
    CHECK_INT(fe[i].card_ver, ==, (int64_t)i + 1);
    CHECK_INT(fe[i].from_seq, ==, 1);
  }
  CHECK_INT(store_card_feed_events(k.c, fe, nfe, &fev, &nfev), ==, STORE_OK);
  CHECK_INT(nfev, ==, 4);
  CHECK_STR(fev[3].payload, "{\"n\": 5}");
  for (size_t i = 0; i < nfev; i++)
    store_card_event_clear(&fev[i]);
  free(fev);
  free(fe);
  /* The message reads back with its card. */
  {
    struct store_message *m = NULL;
    size_t n = 0;
    CHECK_INT(store_messages_after(k.c, STORE_PRINCIPAL_USER, k.bob, k.group,
                                   0, 0, 10, 0, &m, &n), ==, STORE_OK);
    CHECK_INT(n, ==, 1);
    CHECK_INT(m[0].kind, ==, STORE_MSG_CARD);
    CHECK_INT(m[0].card_id, ==, card);
    store_messages_free(m, n);
  }
  /* History cannot be changed. */
  {
    char state[6];
    CHECK_INT(pgtest_try(conninfo, "UPDATE card_events SET kind = 'x'", state),
              ==, -1);
  }
  store_card_posted_clear(&p);
  store_card_posted_clear(&d);
  store_close(k.c);
}

/* A feed page of big card events is cut so the frame stays bounded, and
 * the rest follows on the next page. */
TEST(feed_page_cut_by_payload_size)
{
  struct cast k = setup(0);
  struct store_card_posted p;
  int64_t card = post(&k, k.alice, "c1", "{\"type\":\"task\"}", &p);
  char *big = malloc(20000), *state = malloc(20100);
  struct store_feed_entry *fe = NULL;
  struct store_card_event *cev = NULL;
  struct proto_card_event *items = NULL;
  size_t nfe = 0, nitems = 0, kept;

  CHECK(big && state);
  memset(big, 'x', 19999);
  big[19999] = '\0';
  snprintf(state, 20100, "{\"type\":\"task\",\"note\":\"%s\"}", big);
  for (int i = 0; i < 40; i++) {
    struct store_card_appended a;
    struct store_card_append in = {
      .card_id = card, .base_version = 1 + i,
      .actor_kind = STORE_PRINCIPAL_USER, .actor_id = k.alice,
      .kind = "edited", .state = state, .payload = state};
    memset(&a, 0, sizeof a);
    CHECK_INT(store_card_append(k.c, &in, &a), ==, STORE_OK);
    store_card_appended_clear(&a);
  }
  CHECK_INT(store_feed_after(k.c, k.bob, 0, 64, &fe, &nfe), ==, STORE_OK);
  CHECK_INT(nfe, ==, 41);
  kept = nfe;
  CHECK_INT(srv_card_feed_page(k.c, fe, &kept, &cev, &items, &nitems), ==, 1);
  printf("# a page keeps %zu of 41 events of ~20 KB\n", kept);
  CHECK(kept > 1 && kept < 20);
  CHECK_INT(nitems, ==, kept);
  CHECK_INT(items[0].ver, ==, 1);
  CHECK_INT(items[kept - 1].ver, ==, (int64_t)kept);
  CHECK_INT(items[kept - 1].fs, ==, fe[kept - 1].fs);
  srv_card_feed_free(cev, items, nitems);
  free(fe);
  free(big);
  free(state);
  store_card_posted_clear(&p);
  store_close(k.c);
}

/* ---- races ---- */

#define THREADS 4
#define PER_THREAD 25

struct racer {
  int64_t card, actor;
  int done, lost;
};

static void *race(void *arg)
{
  struct racer *r = arg;
  struct store_conn *c = NULL;

  if (store_connect(conninfo, &c) != STORE_OK)
    return NULL;
  while (r->done < PER_THREAD) {
    struct store_card card;
    struct store_card_appended a;

    memset(&a, 0, sizeof a);
    if (store_card_get(c, 0, 0, r->card, &card) != STORE_OK)
      break;
    if (append(c, r->card, card.version, r->actor, NULL, r->done, &a) !=
        STORE_OK) {
      store_card_free(&card);
      break;
    }
    if (a.raced)
      r->lost++;
    else
      r->done++;
    store_card_appended_clear(&a);
    store_card_free(&card);
  }
  store_close(c);
  return NULL;
}

TEST(concurrent_appends_keep_one_chain)
{
  struct cast k = setup(0);
  struct store_card_posted p;
  pthread_t t[THREADS];
  struct racer r[THREADS];
  int64_t card = post(&k, k.alice, "c1", "{\"type\":\"task\"}", &p);
  int lost = 0;

  for (int i = 0; i < THREADS; i++) {
    r[i] = (struct racer){card, i % 2 ? k.alice : k.bob, 0, 0};
    CHECK_INT(pthread_create(&t[i], NULL, race, &r[i]), ==, 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    CHECK_INT(r[i].done, ==, PER_THREAD);
    lost += r[i].lost;
  }
  printf("# %d appends on threads, %d lost races retried\n",
         THREADS * PER_THREAD, lost);
  check_chain(k.c, card, 1 + THREADS * PER_THREAD);
  /* Every member has one feed entry per event, numbered without a gap. */
  CHECK_INT(q("SELECT count(*) FROM feed WHERE user_id = %lld AND"
              " kind = 'card'", (long long)k.bob), ==,
            1 + THREADS * PER_THREAD);
  CHECK_INT(q("SELECT max(fs) FROM feed WHERE user_id = %lld",
              (long long)k.bob), ==, 1 + THREADS * PER_THREAD);
  store_card_posted_clear(&p);
  store_close(k.c);
}

/* ---- spawn ---- */

TEST(spawn_in_the_same_transaction)
{
  struct cast k = setup(0);
  struct store_card_posted p;
  struct store_card_appended a;
  int64_t card = post(&k, k.alice, "c1", "{\"type\":\"interview\"}", &p);
  uint8_t pub[32] = {1}, hash[32] = {2}, sig[64] = {3};
  struct store_card_new spawn[2] = {
    {.type = "task", .state = "{\"type\":\"task\",\"title\":\"a\"}",
     .payload = "{}"},
    {.type = "task", .state = "{\"type\":\"task\",\"title\":\"b\"}",
     .payload = "{}"}};
  struct store_card_sig s = {k.bob, "phone", 1, hash, sig};
  struct store_card_append in = {
    .card_id = card, .base_version = 1, .actor_kind = STORE_PRINCIPAL_USER,
    .actor_id = k.bob, .kind = "locked", .state = "{\"type\":\"interview\"}",
    .payload = "{}", .sig = &s, .spawn = spawn, .n_spawn = 2,
    .spawn_sender = k.bob};

  /* No such device: the whole change fails, nothing is spawned. */
  memset(&a, 0, sizeof a);
  CHECK_INT(store_card_append(k.c, &in, &a), ==, STORE_EINVAL);
  CHECK_INT(q("SELECT count(*) FROM cards"), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM messages"), ==, 1);
  CHECK_INT(q("SELECT version FROM cards WHERE id = %lld", (long long)card),
            ==, 1);
  /* With the device's key the event, the signature and both cards land. */
  CHECK_INT(store_device_key_set(k.c, k.bob, "phone", pub), ==, STORE_OK);
  CHECK_INT(store_device_key_set(k.c, k.bob, "phone", pub), ==, STORE_OK);
  pub[0] = 9;
  CHECK_INT(store_device_key_set(k.c, k.bob, "phone", pub), ==,
            STORE_EEXISTS);
  CHECK_INT(store_card_append(k.c, &in, &a), ==, STORE_OK);
  CHECK_INT(a.version, ==, 2);
  CHECK_INT(a.n_spawned, ==, 2);
  CHECK_INT(a.spawned[0].ev.version, ==, 1);
  CHECK_INT(a.spawned[0].ev.actor_id, ==, 0);          /* the system */
  CHECK_INT(a.spawned[1].seq, ==, 3);
  CHECK_INT(q("SELECT count(*) FROM cards WHERE id <> %lld",
              (long long)card), ==, 2);
  CHECK_INT(q("SELECT count(*) FROM messages WHERE kind = 'card'"), ==, 3);
  CHECK_INT(q("SELECT count(*) FROM card_signatures"), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE actor_user_id IS NULL"
              " AND actor_bot_id IS NULL AND kind = 'created'"), ==, 2);
  check_chain(k.c, a.spawned[1].card_id, 1);
  store_card_appended_clear(&a);
  store_card_posted_clear(&p);
  store_close(k.c);
}

/* ---- reminders ---- */

static int64_t real_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Moves both connections' database clock to `at` (ms). */
static void clock_at(struct store_conn *a, struct store_conn *b, int64_t at)
{
  int64_t off = at - real_ms();

  CHECK_INT(store_clock_set_offset(a, off), ==, STORE_OK);
  if (b)
    CHECK_INT(store_clock_set_offset(b, off), ==, STORE_OK);
}

static int64_t ms_of(const char *ts)
{
  char sql[128];

  snprintf(sql, sizeof sql, "SELECT floor(extract(epoch FROM"
           " timestamptz '%s') * 1000)::bigint", ts);
  return pgtest_query_int(conninfo, sql);
}

TEST(reminders_claimed_once_and_deferred_through_quiet_hours)
{
  struct cast k = setup(0);
  struct store_conn *c2 = NULL;
  struct store_card_event *ev = NULL;
  size_t n = 0, nids = 0;
  int64_t *ids = NULL, card, due;
  struct card_actor alice = {.id = k.alice, .creator = true};
  struct card_ctx ctx;
  struct card_change ch = {0};
  struct proto_error err;
  enum card_type t;
  char body[256], *state, *payload;
  int64_t who[4];
  size_t nw;
  struct store_quiet_window w[] = {{1, 20 * 60, 8 * 60}};   /* Mon 20-08 */
  struct store_card_posted p;

  CHECK_INT(store_connect(conninfo, &c2), ==, STORE_OK);
  clock_at(k.c, c2, ms_of("2026-11-30 10:00:00+00"));        /* a Monday */
  CHECK_INT(store_quiet_set(k.c, k.bob, w, 1, "UTC"), ==, STORE_OK);

  /* A task due at 19:30, made by the rules library as the server would. */
  snprintf(body, sizeof body, "{\"type\":\"task\",\"title\":\"Report\","
           "\"assignees\":[%lld],\"due\":\"2026-11-30T19:30:00Z\"}",
           (long long)k.bob);
  ctx = (struct card_ctx){.now_ms = ms_of("2026-11-30 10:00:00+00")};
  CHECK_INT(card_create(body, strlen(body), &alice, &ctx, &t, &ch, &err), ==,
            0);
  due = card_next_reminder(t, ch.state, who, 4, &nw);
  CHECK_INT(due, ==, ms_of("2026-11-30 19:30:00+00"));
  state = json_dumps(ch.state, JSON_COMPACT);
  payload = strdup("{}");
  {
    struct store_card_post in = {
      .sender_kind = STORE_PRINCIPAL_USER, .sender_id = k.alice,
      .cmid = "t1", .conversation_id = k.group, .body = body,
      .card = {.type = "task", .state = state, .payload = payload,
               .next_reminder_ms = due}};
    CHECK_INT(store_card_post(k.c, &in, &p), ==, STORE_OK);
    card = p.card_id;
    store_card_posted_clear(&p);
  }
  free(state);
  free(payload);
  card_change_clear(&ch);

  /* Not due yet. */
  clock_at(k.c, c2, ms_of("2026-11-30 19:00:00+00"));
  CHECK_INT(store_card_reminders_claim(k.c, "a", 60, 10, &ids, &nids), ==,
            STORE_OK);
  CHECK_INT(nids, ==, 0);
  /* Due: one connection claims it, the other finds nothing. */
  clock_at(k.c, c2, ms_of("2026-11-30 21:00:00+00"));
  CHECK_INT(store_card_reminders_claim(k.c, "a", 60, 10, &ids, &nids), ==,
            STORE_OK);
  CHECK_INT(nids, ==, 1);
  CHECK_INT(ids[0], ==, card);
  free(ids);
  CHECK_INT(store_card_reminders_claim(c2, "b", 60, 10, &ids, &nids), ==,
            STORE_OK);
  CHECK_INT(nids, ==, 0);
  CHECK_INT(store_card_reminder_defer(k.c, card, due), ==, STORE_OK);

  /* 21:00 is in bob's quiet hours: deferred to their end, not sent. */
  CHECK_INT(srv_card_reminders_run(c2, "b", &ev, &n), ==, STORE_OK);
  CHECK_INT(n, ==, 0);
  free(ev);
  CHECK_INT(q("SELECT floor(extract(epoch FROM next_reminder_at) * 1000)"
              "::bigint FROM cards WHERE id = %lld", (long long)card), ==,
            ms_of("2026-12-01 08:00:00+00"));
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE kind = 'reminder'"), ==,
            0);
  /* After 08:00: sent once, to bob, recorded on the card. */
  clock_at(k.c, c2, ms_of("2026-12-01 08:01:00+00"));
  CHECK_INT(srv_card_reminders_run(c2, "b", &ev, &n), ==, STORE_OK);
  CHECK_INT(n, ==, 1);
  CHECK_STR(ev[0].kind, "reminder");
  CHECK_INT(ev[0].actor_id, ==, 0);
  CHECK_INT(ev[0].n, ==, 2);                 /* both members' feeds */
  store_card_event_clear(&ev[0]);
  free(ev);
  CHECK_INT(srv_card_reminders_run(k.c, "a", &ev, &n), ==, STORE_OK);
  CHECK_INT(n, ==, 0);
  free(ev);
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE kind = 'reminder'"), ==,
            1);
  check_chain(k.c, card, 2);
  store_close(c2);
  store_close(k.c);
}

/* ---- task_after ---- */

TEST(task_after_makes_one_task_card)
{
  struct cast k = setup(60);
  struct store_send m = {.sender_kind = STORE_PRINCIPAL_USER,
                         .sender_id = k.alice, .cmid = "m1",
                         .conversation_id = 0, .kind = STORE_MSG_TEXT,
                         .body = "please review", .body_len = 13};
  struct store_send_result r;
  struct srv_card_msg *made = NULL;
  size_t n = 0;

  m.conversation_id = k.group;
  CHECK_INT(store_send_batch(k.c, &m, 1, &r), ==, STORE_OK);
  CHECK_INT(r.rc, ==, STORE_OK);
  store_send_results_cleanup(&r, 1);
  /* Not yet past the threshold. */
  CHECK_INT(srv_card_tasks_run(k.c, &made, &n), ==, STORE_OK);
  CHECK_INT(n, ==, 0);
  free(made);
  /* Two minutes later: one task for bob (not for alice, who sent it). */
  CHECK_INT(store_clock_set_offset(k.c, 120 * 1000), ==, STORE_OK);
  CHECK_INT(srv_card_tasks_run(k.c, &made, &n), ==, STORE_OK);
  CHECK_INT(n, ==, 1);
  CHECK_INT(made[0].sender, ==, k.bob);
  CHECK_INT(made[0].p.ev.actor_id, ==, 0);
  CHECK_CONTAINS(made[0].body, "please review");
  srv_card_msg_clear(&made[0]);
  free(made);
  CHECK_INT(q("SELECT count(*) FROM cards WHERE type = 'task' AND"
              " state->'assignees' = '[%lld]' AND"
              " state->'source'->>'kind' = 'automation'", (long long)k.bob),
            ==, 1);
  CHECK_INT(q("SELECT tasked_seq FROM members WHERE user_id = %lld AND"
              " conversation_id = %lld", (long long)k.bob, (long long)k.group),
            ==, 1);
  /* In bob's note-to-self conversation, not in the group. */
  CHECK_INT(q("SELECT count(*) FROM cards k JOIN conversations c ON"
              " c.id = k.conversation_id WHERE c.kind = 'direct' AND"
              " k.conversation_id <> %lld", (long long)k.group), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM feed WHERE user_id = %lld AND"
              " kind = 'card'", (long long)k.alice), ==, 0);
  /* Once. */
  CHECK_INT(srv_card_tasks_run(k.c, &made, &n), ==, STORE_OK);
  CHECK_INT(n, ==, 0);
  free(made);
  CHECK_INT(q("SELECT count(*) FROM cards"), ==, 1);
  store_close(k.c);
}

TEST_MAIN()
