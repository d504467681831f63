/*
 * test_cards.c — cards end to end on the real heraldd with real clients
 * (SPEC §8, PROTOCOL.md §3.8):
 *   - the interview workflow between a manager and an employee on two
 *     clients: created for a period it pre-fills the employee's OKR
 *     (whose check-in updated its progress); co-edits of different fields
 *     based on one version both survive, the same field is CONFLICT for
 *     the later writer; submit; each party registers an Ed25519 device key
 *     and signs the content hash of the current version; a forged
 *     signature and a stale version are refused; the second signature
 *     locks the record and turns its action items into task cards for
 *     their owners; an edit of the locked record is refused, an amendment
 *     reopens it and needs both signatures again; every member receives
 *     each event live, and a device that connects later gets them all in
 *     its feed replay;
 *   - card_action exactly once (a replayed cmid answers dup with the
 *     original version) and a stale base;
 *   - schema errors name the field over the wire;
 *   - an overdue task's reminder comes after the test clock passes its
 *     due time, not during the assignee's quiet hours but when they end,
 *     once;
 *   - task_after: a message left unread past the threshold becomes one
 *     task card for the member, live, in their own conversation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cards.h"
#include "check.h"
#include "e2e.h"
#include "hcrypto.h"
#include "peer.h"
#include "pgtest.h"

static struct e2e_server srv;

__attribute__((format(printf, 1, 2)))
static long long q(const char *fmt, ...)
{
  char sql[2048];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(sql, sizeof(sql), fmt, ap);
  va_end(ap);
  return e2e_query_int(&srv, sql);
}

__attribute__((format(printf, 1, 2)))
static void sql(const char *fmt, ...)
{
  char buf[2048];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  pgtest_exec(srv.db, buf);
}

/* A failed request's error, kept for checks on its field. */
static struct proto_frame last;

static int request(struct peer *p, struct proto_frame *f)
{
  proto_frame_cleanup(&last);
  proto_frame_init(&last, PROTO_T_PING);
  return peer_request(p, f, &last);
}

static int post(struct peer *p, uint64_t conv, const char *body,
                uint64_t *card)
{
  static int n;
  char cmid[32];
  struct proto_frame f;
  int rc;

  snprintf(cmid, sizeof(cmid), "card-%d", ++n);
  proto_frame_init(&f, PROTO_T_SEND);
  f.u.send.cmid = (struct proto_str){cmid, strlen(cmid)};
  f.u.send.conv = conv;
  f.u.send.kind = PROTO_KIND_CARD;
  f.u.send.body = (struct proto_str){body, strlen(body)};
  rc = request(p, &f);
  if (rc == 0 && card) {
    CHECK_INT(last.type, ==, PROTO_T_ACK);
    CHECK(last.u.ack.card > 0);
    *card = last.u.ack.card;
  }
  return rc;
}

static const char *err_field(void)
{
  static char buf[PROTO_ERR_FIELD_MAX];

  snprintf(buf, sizeof(buf), "%.*s", (int)last.u.error.field.len,
           last.u.error.field.p ? last.u.error.field.p : "");
  return buf;
}

static int action(struct peer *p, uint64_t card, const char *name,
                  const char *args, const char *cmid, uint64_t base,
                  uint64_t *ver)
{
  struct proto_frame f;
  int rc;

  proto_frame_init(&f, PROTO_T_CARD_ACTION);
  f.u.card_action.card = card;
  f.u.card_action.action = (struct proto_str){name, strlen(name)};
  if (args)
    f.u.card_action.args = (struct proto_str){args, strlen(args)};
  f.u.card_action.cmid = (struct proto_str){cmid, strlen(cmid)};
  f.u.card_action.base = base;
  rc = request(p, &f);
  if (rc == 0 && ver)
    *ver = last.u.result.ver;
  return rc;
}

static int edit(struct peer *p, uint64_t card, const char *path,
                const char *value, uint64_t base, uint64_t *ver)
{
  struct proto_frame f;
  int rc;

  proto_frame_init(&f, PROTO_T_CARD_EDIT);
  f.u.card_edit.card = card;
  f.u.card_edit.path = (struct proto_str){path, strlen(path)};
  f.u.card_edit.value = (struct proto_str){value, strlen(value)};
  f.u.card_edit.base = base;
  rc = request(p, &f);
  if (rc == 0 && ver)
    *ver = last.u.result.ver;
  return rc;
}

static int device_key(struct peer *p, const char *dev, const uint8_t *pub)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_DEVICE_KEY);
  f.u.device_key.dev = (struct proto_str){dev, strlen(dev)};
  f.u.device_key.pub = (struct proto_str){(const char *)pub, CARD_PUB_LEN};
  return request(p, &f);
}

static int sign(struct peer *p, uint64_t card, uint64_t ver,
                const uint8_t *hash, const uint8_t *sig, const char *dev)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_CARD_SIGN);
  f.u.card_sign.card = card;
  f.u.card_sign.ver = ver;
  f.u.card_sign.hash = (struct proto_str){(const char *)hash, CARD_HASH_LEN};
  f.u.card_sign.sig = (struct proto_str){(const char *)sig, CARD_SIG_LEN};
  f.u.card_sign.dev = (struct proto_str){dev, strlen(dev)};
  return request(p, &f);
}

/* ---- what the peers received ---- */

struct want {
  struct peer *p;
  uint64_t card, ver;
};

static const struct peer_card *event_of(const struct peer *p, uint64_t card,
                                        uint64_t ver)
{
  for (size_t i = 0; i < p->ncards; i++)
    if (p->cards[i].card == card && p->cards[i].ver == ver)
      return &p->cards[i];
  return NULL;
}

static bool has_event(void *arg)
{
  struct want *w = arg;
  return event_of(w->p, w->card, w->ver) != NULL;
}

/* Waits for event `ver` of `card` at `p` and returns it. */
static const struct peer_card *wait_event(struct peer *p, uint64_t card,
                                          uint64_t ver)
{
  struct want w = {p, card, ver};

  peer_wait(has_event, &w, 20000, "a card_event");
  return event_of(p, card, ver);
}

/* The state carried by an event's payload (new reference). */
static json_t *state_of(const struct peer_card *e)
{
  json_t *pl = json_loads(e->payload, 0, NULL), *st;

  CHECK(pl != NULL);
  st = json_incref(json_object_get(pl, "state"));
  json_decref(pl);
  CHECK(st != NULL);
  return st;
}

/* Signs version `ver` of interview `card` as the state in the event the
 * signer's client received. */
static void signature(struct peer *p, uint64_t card, uint64_t ver,
                      const uint8_t *sk, uint8_t hash[CARD_HASH_LEN],
                      uint8_t sig[CARD_SIG_LEN])
{
  const struct peer_card *e = wait_event(p, card, ver);
  json_t *st = state_of(e);
  uint8_t msg[CARD_SIGN_MSG_LEN];

  CHECK_INT(card_content_hash(CARD_INTERVIEW, st, hash), ==, 0);
  card_sign_message((int64_t)card, (int64_t)ver, hash, msg);
  hcr_sign(sk, msg, sizeof(msg), sig);
  json_decref(st);
}

/* ---- the interview ---- */

/* The org, manager "boss" of "bob", and their group "One on one" (the
 * server not started yet). */
static uint64_t one_on_one(int64_t *boss, int64_t *bob)
{
  int64_t ids[2];

  e2e_org(&srv, "admin");
  ids[0] = *boss = e2e_user(&srv, "boss");
  ids[1] = *bob = e2e_user(&srv, "bob");
  sql("UPDATE users SET manager_id = %lld WHERE id = %lld", (long long)*boss,
      (long long)*bob);
  return (uint64_t)e2e_group(&srv, "One on one", *boss, ids, 2);
}

TEST(interview_workflow)
{
  int64_t boss, bob;
  uint64_t conv, okr, iv, ver, v1, va, vb, task_ver;
  struct peer *pm, *pb, *late;
  uint8_t mpub[32], msk[64], bpub[32], bsk[64], other[32], osk[64];
  uint8_t hash[32], sig[64], forged[64];
  char body[1024];
  json_t *st;

  e2e_server_init(&srv);
  conv = one_on_one(&boss, &bob);
  e2e_server_start(&srv, NULL);
  pm = peer_new(srv.url, "boss", NULL, true);
  pb = peer_new(srv.url, "bob", NULL, true);

  /* Bob's OKR for the quarter, and a check-in that moves its progress. */
  snprintf(body, sizeof(body),
           "{\"type\":\"okr\",\"objective\":\"Ship cards\",\"owner\":%lld,"
           "\"period\":\"2026-Q4\",\"key_results\":[{\"title\":\"Features\","
           "\"start\":0,\"target\":10}]}", (long long)bob);
  CHECK_INT(post(pb, conv, body, &okr), ==, 0);
  CHECK_INT(action(pb, okr, "checkin", "{\"kr\":0,\"current\":5,"
                   "\"note\":\"half way\"}", "okr-ci-1", 1, &ver), ==, 0);
  CHECK_INT(ver, ==, 2);
  CHECK_INT(q("SELECT (state->'progress'->>'overall')::float * 100 FROM cards"
              " WHERE id = %llu", (unsigned long long)okr), ==, 50);
  wait_event(pm, okr, 2);

  /* The interview: created for the period, it carries the OKR. */
  snprintf(body, sizeof(body),
           "{\"type\":\"interview\",\"employee\":%lld,\"manager\":%lld,"
           "\"period\":\"2026-Q4\"}", (long long)bob, (long long)boss);
  CHECK_INT(post(pm, conv, body, &iv), ==, 0);
  CHECK_INT(q("SELECT (state->'sections'->'okr_progress'->0->>'card')::bigint"
              " FROM cards WHERE id = %llu", (unsigned long long)iv), ==,
            (long long)okr);
  CHECK_INT(q("SELECT (state->'sections'->'okr_progress'->0->>'progress')"
              "::float * 100 FROM cards WHERE id = %llu",
              (unsigned long long)iv), ==, 50);
  wait_event(pb, iv, 1);

  /* Co-editing: two fields based on version 1 both land. */
  CHECK_INT(edit(pm, iv, "/sections/notes", "\"good quarter\"", 1, &va), ==, 0);
  CHECK_INT(edit(pb, iv, "/sections/development_plan", "\"learn Rust\"", 1,
                 &vb), ==, 0);
  CHECK_INT(va, ==, 2);
  CHECK_INT(vb, ==, 3);
  CHECK_INT(q("SELECT count(*) FROM cards WHERE id = %llu AND"
              " state->'sections'->>'notes' = 'good quarter' AND"
              " state->'sections'->>'development_plan' = 'learn Rust'",
              (unsigned long long)iv), ==, 1);
  /* The same field: the later writer, based on the older version, loses. */
  CHECK_INT(edit(pb, iv, "/sections/behaviour", "\"calm\"", 3, &ver), ==, 0);
  CHECK_INT(edit(pm, iv, "/sections/behaviour", "\"steady\"", 3, NULL), ==,
            PROTO_E_CONFLICT);
  CHECK_INT(q("SELECT count(*) FROM cards WHERE id = %llu AND"
              " state->'sections'->>'behaviour' = 'calm'",
              (unsigned long long)iv), ==, 1);
  snprintf(body, sizeof(body), "[{\"text\":\"Write the design doc\","
           "\"owner\":%lld,\"due\":\"2026-12-15T17:00:00Z\"}]",
           (long long)bob);
  CHECK_INT(edit(pm, iv, "/sections/action_items", body, ver, &ver), ==, 0);
  CHECK_INT(action(pm, iv, "submit", NULL, "iv-submit-1", ver, &ver), ==, 0);
  CHECK_INT(q("SELECT count(*) FROM cards WHERE id = %llu AND"
              " state->>'status' = 'submitted'", (unsigned long long)iv), ==,
            1);

  /* Keys: one per device; a device's key is not replaced silently. */
  hcr_sign_keypair(mpub, msk);
  hcr_sign_keypair(bpub, bsk);
  hcr_sign_keypair(other, osk);
  CHECK_INT(device_key(pm, "boss-laptop", mpub), ==, 0);
  CHECK_INT(device_key(pm, "boss-laptop", mpub), ==, 0);
  CHECK_INT(device_key(pm, "boss-laptop", other), ==, PROTO_E_DUPLICATE);
  CHECK_INT(device_key(pb, "bob-phone", bpub), ==, 0);

  /* A forged signature (another key) and a stale version are refused. */
  signature(pb, iv, ver, osk, hash, forged);
  CHECK_INT(sign(pb, iv, ver, hash, forged, "bob-phone"), ==,
            PROTO_E_BAD_SIGNATURE);
  signature(pb, iv, ver, bsk, hash, sig);
  CHECK_INT(sign(pb, iv, ver - 1, hash, sig, "bob-phone"), ==,
            PROTO_E_STALE_VERSION);
  CHECK_INT(sign(pb, iv, ver, hash, sig, "bob-phone"), ==, 0);
  ver = last.u.result.ver;
  CHECK_INT(q("SELECT count(*) FROM card_signatures WHERE card_id = %llu",
              (unsigned long long)iv), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM cards WHERE type = 'task'"), ==, 0);
  /* The second signature locks the record and spawns the action item. */
  signature(pm, iv, ver, msk, hash, sig);
  CHECK_INT(sign(pm, iv, ver, hash, sig, "boss-laptop"), ==, 0);
  ver = last.u.result.ver;
  CHECK_INT(q("SELECT count(*) FROM cards WHERE id = %llu AND"
              " state->>'status' = 'locked'", (unsigned long long)iv), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM cards WHERE type = 'task' AND"
              " conversation_id = %llu AND state->'assignees' @> '[%lld]'",
              (unsigned long long)conv, (long long)bob), ==, 1);
  task_ver = (uint64_t)q("SELECT id FROM cards WHERE type = 'task'");
  wait_event(pb, task_ver, 1);       /* the task's created event, live */
  CHECK_INT(edit(pb, iv, "/sections/notes", "\"changed\"", ver, NULL), ==,
            PROTO_E_INVALID_ACTION);

  /* An amendment needs both signatures again. */
  CHECK_INT(action(pb, iv, "amend", NULL, "iv-amend-1", ver, &ver), ==, 0);
  CHECK_INT(edit(pb, iv, "/sections/notes", "\"good quarter, amended\"", ver,
                 &ver), ==, 0);
  CHECK_INT(action(pb, iv, "submit", NULL, "iv-submit-2", ver, &ver), ==, 0);
  signature(pb, iv, ver, bsk, hash, sig);
  CHECK_INT(sign(pb, iv, ver, hash, sig, "bob-phone"), ==, 0);
  ver = last.u.result.ver;
  CHECK_INT(q("SELECT count(*) FROM cards WHERE id = %llu AND"
              " state->>'status' = 'locked'", (unsigned long long)iv), ==, 0);
  signature(pm, iv, ver, msk, hash, sig);
  CHECK_INT(sign(pm, iv, ver, hash, sig, "boss-laptop"), ==, 0);
  ver = last.u.result.ver;
  CHECK_INT(q("SELECT count(*) FROM cards WHERE id = %llu AND"
              " state->>'status' = 'locked'", (unsigned long long)iv), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM card_signatures WHERE card_id = %llu",
              (unsigned long long)iv), ==, 4);

  /* Live: both parties got every version, in order, once. */
  for (uint64_t v = 1; v <= ver; v++) {
    CHECK(wait_event(pm, iv, v) != NULL);
    CHECK(wait_event(pb, iv, v) != NULL);
  }
  /* The chain is gapless and each link names the previous one. */
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE card_id = %llu",
              (unsigned long long)iv), ==, (long long)ver);
  CHECK_INT(q("SELECT count(*) FROM card_events e JOIN card_events p"
              " ON p.card_id = e.card_id AND p.event_seq = e.event_seq - 1"
              " WHERE e.card_id = %llu AND e.prev_hash = p.hash",
              (unsigned long long)iv), ==, (long long)ver - 1);
  CHECK_INT(q("SELECT count(*) FROM cards k JOIN card_events e ON"
              " e.card_id = k.id AND e.event_seq = k.version"
              " WHERE k.id = %llu AND k.head_hash = e.hash",
              (unsigned long long)iv), ==, 1);

  /* The auditor's tool verifies every chain the server wrote (the OKR's
   * progress is a real number, stored as jsonb). */
  {
    char cmd[1200];
    const char *ctl = getenv("HERALDCTL");
    CHECK(ctl != NULL);
    snprintf(cmd, sizeof(cmd), "'%s' --db '%s' audit verify >/dev/null", ctl,
             srv.db);
    CHECK_INT(system(cmd), ==, 0);
  }

  /* Replay: a new device of bob's gets every event from the feed, with
   * the state of each version. */
  late = peer_new(srv.url, "bob", NULL, true);
  for (uint64_t v = 1; v <= ver; v++)
    CHECK(event_of(late, iv, v) != NULL);
  v1 = 0;
  for (size_t i = 0; i < late->ncards; i++)
    v1 += late->cards[i].card == iv;
  CHECK_INT(v1, ==, ver);
  st = state_of(event_of(late, iv, ver));
  CHECK_STR(json_string_value(json_object_get(st, "status")), "locked");
  json_decref(st);
  CHECK(event_of(late, task_ver, 1) != NULL);
  /* The task card's message too. */
  CHECK_INT(q("SELECT count(*) FROM messages WHERE conversation_id = %llu"
              " AND kind = 'card'", (unsigned long long)conv), ==, 3);

  peer_free(late);
  peer_free(pm);
  peer_free(pb);
  proto_frame_cleanup(&last);
  e2e_server_stop(&srv);
}

/* ---- exactly once, stale base, schema errors ---- */

TEST(actions_and_errors)
{
  int64_t alice, bob, ids[2];
  uint64_t conv, task, ver, ver2;
  struct peer *pa, *pb;
  char body[512];

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  ids[0] = alice;
  ids[1] = bob;
  conv = (uint64_t)e2e_group(&srv, "Team", alice, ids, 2);
  e2e_server_start(&srv, NULL);
  pa = peer_new(srv.url, "alice", NULL, true);
  pb = peer_new(srv.url, "bob", NULL, true);

  snprintf(body, sizeof(body), "{\"type\":\"task\",\"title\":\"Fix it\","
           "\"assignees\":[%lld]}", (long long)bob);
  CHECK_INT(post(pa, conv, body, &task), ==, 0);
  CHECK_INT(action(pb, task, "accept", NULL, "acc-1", 1, &ver), ==, 0);
  CHECK_INT(ver, ==, 2);
  CHECK(!last.u.result.dup);
  /* The same cmid again: the original result, nothing new stored. */
  CHECK_INT(action(pb, task, "accept", NULL, "acc-1", 1, &ver2), ==, 0);
  CHECK_INT(ver2, ==, 2);
  CHECK(last.u.result.dup);
  CHECK_INT(q("SELECT version FROM cards WHERE id = %llu",
              (unsigned long long)task), ==, 2);
  /* A stale base. */
  CHECK_INT(action(pb, task, "set_status", "{\"status\":\"done\"}", "st-1", 1,
                   NULL), ==, PROTO_E_STALE_VERSION);
  CHECK_INT(action(pb, task, "set_status", "{\"status\":\"done\"}", "st-2", 2,
                   &ver), ==, 0);
  CHECK_INT(q("SELECT count(*) FROM cards WHERE id = %llu AND"
              " state->>'status' = 'done'", (unsigned long long)task), ==, 1);
  /* Not a member: as if the card did not exist. */
  {
    struct peer *pc;
    e2e_user(&srv, "carol");
    pc = peer_new(srv.url, "carol", NULL, true);
    CHECK_INT(action(pc, task, "comment", "{\"text\":\"hi\"}", "c-1", 0, NULL),
              ==, PROTO_E_NOT_FOUND);
    peer_free(pc);
  }

  /* Bob's device goes offline; what happens meanwhile comes in its
   * replay, once, and nothing it had comes again. */
  {
    char dir[] = "/tmp/herald-e2e-cards-XXXXXX", cmd[64];
    struct peer *pb2;
    size_t before;

    CHECK(mkdtemp(dir) != NULL);
    pb2 = peer_new(srv.url, "bob", dir, true);
    wait_event(pb2, task, 3);
    peer_free(pb2);
    CHECK_INT(action(pa, task, "comment", "{\"text\":\"thanks\"}", "cm-1", 0,
                     &ver), ==, 0);
    CHECK_INT(ver, ==, 4);
    pb2 = peer_new(srv.url, "bob", dir, true);
    wait_event(pb2, task, 4);
    before = pb2->ncards;
    CHECK_INT(before, ==, 1);         /* only the event it missed */
    CHECK_STR(pb2->cards[0].ev, "comment");
    CHECK(pb2->cards[0].fs > 0);      /* from the feed */
    peer_free(pb2);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), ==, 0);
  }

  /* Schema errors name the field. */
  CHECK_INT(post(pa, conv, "{\"type\":\"task\",\"title\":7,\"assignees\":[1]}",
                 NULL), ==, PROTO_E_INVALID_CARD);
  CHECK_STR(err_field(), "/title");
  CHECK_INT(post(pa, conv, "{\"type\":\"task\",\"assignees\":[1]}", NULL), ==,
            PROTO_E_INVALID_CARD);
  CHECK_STR(err_field(), "/title");
  snprintf(body, sizeof(body), "{\"type\":\"task\",\"title\":\"x\","
           "\"assignees\":[%lld],\"status\":\"sleeping\"}", (long long)bob);
  CHECK_INT(post(pa, conv, body, NULL), ==, PROTO_E_INVALID_CARD);
  CHECK_STR(err_field(), "/status");
  snprintf(body, sizeof(body),
           "{\"type\":\"okr\",\"objective\":\"o\",\"owner\":%lld,"
           "\"period\":\"2026-Q4\",\"key_results\":[{\"title\":\"a\","
           "\"start\":0,\"target\":5},{\"title\":\"b\",\"start\":3,"
           "\"target\":3}]}", (long long)bob);
  CHECK_INT(post(pa, conv, body, NULL), ==, PROTO_E_INVALID_CARD);
  CHECK_STR(err_field(), "/key_results/1/target");
  /* Someone who is not in the conversation cannot be assigned. */
  CHECK_INT(post(pa, conv, "{\"type\":\"task\",\"title\":\"x\","
                 "\"assignees\":[999999]}", NULL), ==, PROTO_E_INVALID_CARD);
  CHECK_STR(err_field(), "/assignees/0");
  CHECK_INT(q("SELECT count(*) FROM cards"), ==, 1);

  peer_free(pa);
  peer_free(pb);
  proto_frame_cleanup(&last);
  e2e_server_stop(&srv);
}

/* ---- reminders ---- */

static bool has_reminder(void *arg)
{
  struct peer *p = arg;

  for (size_t i = 0; i < p->ncards; i++)
    if (strcmp(p->cards[i].ev, "reminder") == 0)
      return true;
  return false;
}

static size_t reminders(const struct peer *p)
{
  size_t n = 0;

  for (size_t i = 0; i < p->ncards; i++)
    n += strcmp(p->cards[i].ev, "reminder") == 0;
  return n;
}

TEST(overdue_task_reminded_after_quiet_hours)
{
  static const char *const extra[] = {"--sweep-interval", "1", NULL};
  int64_t alice, bob, ids[2], t0;
  uint64_t conv, task;
  struct peer *pb;
  char body[512];

  e2e_server_init(&srv);
  /* Monday 2026-11-30 10:00 UTC; the org's default quiet hours (weekdays
   * 20:00-08:00) in UTC. */
  t0 = e2e_ms(&srv, "2026-11-30 10:00:00+00");
  e2e_clock_use(&srv, t0);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user_tz(&srv, "bob", "UTC");
  e2e_quiet_org_default(&srv);
  ids[0] = alice;
  ids[1] = bob;
  conv = (uint64_t)e2e_group(&srv, "Team", alice, ids, 2);
  e2e_server_start(&srv, extra);
  pb = peer_new(srv.url, "bob", NULL, true);

  snprintf(body, sizeof(body), "{\"type\":\"task\",\"title\":\"Report\","
           "\"assignees\":[%lld],\"due\":\"2026-11-30T19:30:00Z\"}",
           (long long)bob);
  CHECK_INT(post(pb, conv, body, &task), ==, 0);
  /* Before the due time: nothing. */
  e2e_clock_set(&srv, e2e_ms(&srv, "2026-11-30 19:00:00+00"));
  usleep(2500 * 1000);
  CHECK_INT(reminders(pb), ==, 0);
  /* Overdue, but 21:00 is in bob's quiet hours: still nothing. */
  e2e_clock_set(&srv, e2e_ms(&srv, "2026-11-30 21:00:00+00"));
  usleep(2500 * 1000);
  CHECK_INT(reminders(pb), ==, 0);
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE card_id = %llu AND"
              " kind = 'reminder'", (unsigned long long)task), ==, 0);
  /* After 08:00 it comes, once. */
  e2e_clock_set(&srv, e2e_ms(&srv, "2026-12-01 08:05:00+00"));
  peer_wait(has_reminder, pb, 20000, "the overdue reminder");
  usleep(2500 * 1000);
  CHECK_INT(reminders(pb), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE card_id = %llu AND"
              " kind = 'reminder'", (unsigned long long)task), ==, 1);

  peer_free(pb);
  proto_frame_cleanup(&last);
  e2e_server_stop(&srv);
}

/* OKR owners who have not checked in for 7 days, and interview parties
 * who have not signed 48 hours after the submission, are reminded once
 * each; nobody else is. (The org has no quiet hours here.) */
TEST(okr_and_interview_reminders)
{
  static const char *const extra[] = {"--sweep-interval", "1", NULL};
  int64_t boss, bob, t0;
  uint64_t conv, okr, iv, ver;
  struct peer *pm, *pb;
  char body[512];

  e2e_server_init(&srv);
  t0 = e2e_ms(&srv, "2026-11-02 10:00:00+00");
  e2e_clock_use(&srv, t0);
  conv = one_on_one(&boss, &bob);
  e2e_server_start(&srv, extra);
  pm = peer_new(srv.url, "boss", NULL, true);
  pb = peer_new(srv.url, "bob", NULL, true);

  snprintf(body, sizeof(body),
           "{\"type\":\"okr\",\"objective\":\"Ship cards\",\"owner\":%lld,"
           "\"period\":\"2026-Q4\",\"key_results\":[{\"title\":\"Features\","
           "\"start\":0,\"target\":10}]}", (long long)bob);
  CHECK_INT(post(pb, conv, body, &okr), ==, 0);
  snprintf(body, sizeof(body),
           "{\"type\":\"interview\",\"employee\":%lld,\"manager\":%lld,"
           "\"period\":\"2026-Q4\"}", (long long)bob, (long long)boss);
  CHECK_INT(post(pm, conv, body, &iv), ==, 0);
  CHECK_INT(action(pm, iv, "submit", NULL, "iv-submit", 0, &ver), ==, 0);

  /* Two days less a minute: nothing yet. */
  e2e_clock_set(&srv, t0 + (48 * 3600 - 60) * 1000LL);
  usleep(2500 * 1000);
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE kind = 'reminder'"), ==,
            0);
  /* 48 hours after the submission: both parties, about the interview. */
  e2e_clock_set(&srv, t0 + (48 * 3600 + 60) * 1000LL);
  peer_wait(has_reminder, pm, 20000, "the signature reminder (manager)");
  peer_wait(has_reminder, pb, 20000, "the signature reminder (employee)");
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE kind = 'reminder'"
              " AND card_id = %llu", (unsigned long long)iv), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE kind = 'reminder'"
              " AND card_id = %llu AND payload->'to' @> '[%lld, %lld]'",
              (unsigned long long)iv, (long long)boss, (long long)bob), ==, 1);
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE kind = 'reminder'"
              " AND card_id = %llu", (unsigned long long)okr), ==, 0);
  /* Seven days without a check-in: the owner, about the OKR, once. */
  e2e_clock_set(&srv, t0 + (7 * 86400 + 60) * 1000LL);
  for (int i = 0; i < 200 && q("SELECT count(*) FROM card_events WHERE"
                               " kind = 'reminder' AND card_id = %llu",
                               (unsigned long long)okr) == 0; i++)
    usleep(100 * 1000);
  usleep(2500 * 1000);
  CHECK_INT(q("SELECT count(*) FROM card_events WHERE kind = 'reminder'"
              " AND card_id = %llu AND payload->'to' = '[%lld]'",
              (unsigned long long)okr, (long long)bob), ==, 1);

  peer_free(pm);
  peer_free(pb);
  proto_frame_cleanup(&last);
  e2e_server_stop(&srv);
}

/* ---- task_after ---- */

static bool has_created_task(void *arg)
{
  struct peer *p = arg;

  for (size_t i = 0; i < p->ncards; i++)
    if (strcmp(p->cards[i].ev, "created") == 0 && p->cards[i].actor == 0 &&
        strstr(p->cards[i].payload, "automation"))
      return true;
  return false;
}

TEST(task_after_makes_a_private_task)
{
  static const char *const extra[] = {"--sweep-interval", "1", NULL};
  int64_t alice, bob;
  uint64_t ids[1], conv;
  struct peer *pa, *pb;
  struct proto_frame f, r;

  e2e_server_init(&srv);
  e2e_clock_use(&srv, e2e_ms(&srv, "2026-11-30 10:00:00+00"));
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  e2e_server_start(&srv, extra);
  pa = peer_new(srv.url, "alice", NULL, true);
  pb = peer_new(srv.url, "bob", NULL, true);
  ids[0] = (uint64_t)bob;
  proto_frame_init(&f, PROTO_T_CONV_CREATE);
  f.u.conv_create.type = PROTO_CONV_GROUP;
  f.u.conv_create.title = (struct proto_str){"Ops", 3};
  f.u.conv_create.members = ids;
  f.u.conv_create.nmembers = 1;
  f.u.conv_create.task_after = 600;
  CHECK_INT(peer_request(pa, &f, &r), ==, 0);
  conv = r.u.result.conv;
  proto_frame_cleanup(&r);
  peer_say(pa, conv, "please renew the certificate");

  /* Ten minutes unread: one task card for bob, in his own conversation,
   * delivered live; alice (the sender, in the group) sees nothing. */
  e2e_clock_advance(&srv, 11 * 60);
  peer_wait(has_created_task, pb, 20000, "bob's task card");
  CHECK_INT(q("SELECT count(*) FROM cards k JOIN conversations c ON"
              " c.id = k.conversation_id WHERE c.kind = 'direct' AND"
              " k.state->'assignees' = '[%lld]' AND"
              " k.state->'source'->>'seq' = '1' AND"
              " k.state->>'title' LIKE '%%renew the certificate%%'",
              (long long)bob), ==, 1);
  usleep(2500 * 1000);
  CHECK_INT(q("SELECT count(*) FROM cards"), ==, 1);
  CHECK(!has_created_task(pa));
  (void)alice;

  peer_free(pa);
  peer_free(pb);
  proto_frame_cleanup(&last);
  e2e_server_stop(&srv);
}

TEST_MAIN()
