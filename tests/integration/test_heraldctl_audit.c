/*
 * test_heraldctl_audit.c — `heraldctl audit verify` and `audit export`,
 * the real binary, on card chains built directly in SQL with the cards
 * library hashing them (as the server stores them: one event per version,
 * the payload carrying the resulting state, `at` in whole milliseconds):
 * an intact database passes; one event's payload edited, one event
 * deleted, two events swapped and the newest event deleted (the
 * append-only trigger disabled for it) are each caught and named by card
 * and event; the export of an employee's interview records verifies with
 * libsodium and the public keys alone.
 *
 * The binary's path is compiled in (HERALDCTL_PATH) and may be overridden
 * with env HERALDCTL.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cards.h"
#include "chat_fixture.h"
#include "check.h"
#include "hcrypto.h"
#include "pgtest.h"

#ifndef HERALDCTL_PATH
#define HERALDCTL_PATH "heraldctl"
#endif

#define T0 1790000000000LL

struct run {
  int status;
  char out[16384], err[8192];
};

static char tmpdir[64];

static void slurp(const char *path, char *buf, size_t len)
{
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, len - 1, f) : 0;

  buf[n] = '\0';
  if (f)
    fclose(f);
}

static void cleanup(void)
{
  char p[128];
  const char *names[] = {"stdout", "stderr", "export.json"};

  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
    unlink(p);
  }
  rmdir(tmpdir);
}

static void ctl(struct run *r, const char *const *args)
{
  const char *bin = getenv("HERALDCTL") ? getenv("HERALDCTL") : HERALDCTL_PATH;
  const char *argv[16];
  char out[128], err[128];
  int n = 0, st;
  pid_t pid;

  snprintf(out, sizeof out, "%s/stdout", tmpdir);
  snprintf(err, sizeof err, "%s/stderr", tmpdir);
  argv[n++] = bin;
  argv[n++] = "--db";
  argv[n++] = conninfo;
  for (; *args && n < 15; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (!freopen("/dev/null", "r", stdin) || !freopen(out, "w", stdout) ||
        !freopen(err, "w", stderr))
      _exit(126);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  CHECK_INT(waitpid(pid, &st, 0), ==, pid);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  slurp(out, r->out, sizeof r->out);
  slurp(err, r->err, sizeof r->err);
}

#define CTL(r, ...)                                                          \
  do {                                                                       \
    const char *args_[] = {__VA_ARGS__, NULL};                               \
    ctl((r), args_);                                                         \
  } while (0)

static void hex(const uint8_t *b, size_t n, char *out)
{
  for (size_t i = 0; i < n; i++)
    sprintf(out + 2 * i, "%02x", b[i]);
}

/* A card being stored the way the server stores it. */
struct scard {
  enum card_type type;
  json_t *state;
  int64_t id, ver;
  uint8_t head[CARD_HASH_LEN];
  int64_t at;
};

/* Appends the change as event ver+1 (payload = the change's payload plus
 * "state") and moves the card to it. */
static void store_change(struct scard *c, struct card_change *ch,
                         int64_t actor_user)
{
  json_t *payload = json_deep_copy(ch->payload);
  uint8_t h[CARD_HASH_LEN];
  char prev[80], hh[80], actor[24] = "NULL", *sql, *text, *state;
  int64_t seq = c->ver + 1;
  size_t len;

  CHECK(payload != NULL && ch->state != NULL);
  json_object_set(payload, "state", ch->state);
  c->at += 1000;
  CHECK_INT(card_event_hash(seq > 1 ? c->head : NULL, c->id, seq, ch->ev,
                            actor_user, 0, c->at, payload, h), ==, 0);
  text = json_dumps(payload, JSON_COMPACT);
  state = json_dumps(ch->state, JSON_COMPACT);
  CHECK(text && state && !strstr(text, "$j$"));
  if (seq > 1) {
    strcpy(prev, "'\\x");
    hex(c->head, CARD_HASH_LEN, prev + 3);
    strcat(prev, "'");
  } else {
    strcpy(prev, "NULL");
  }
  hex(h, CARD_HASH_LEN, hh);
  if (actor_user)
    snprintf(actor, sizeof actor, "%lld", (long long)actor_user);
  len = strlen(text) + strlen(state) + 1024;
  sql = malloc(len);
  CHECK(sql != NULL);
  snprintf(sql, len,
           "INSERT INTO card_events (card_id, event_seq, actor_user_id, kind,"
           " payload, at, prev_hash, hash) VALUES (%lld, %lld, %s, '%s',"
           " $j$%s$j$, timestamptz 'epoch' + %lld * interval '1 millisecond',"
           " %s, '\\x%s');"
           "UPDATE cards SET state = $j$%s$j$, version = %lld,"
           " head_hash = '\\x%s' WHERE id = %lld",
           (long long)c->id, (long long)seq,
           actor,
           ch->ev, text, (long long)c->at, prev, hh, state, (long long)seq, hh,
           (long long)c->id);
  pgtest_exec(conninfo, sql);
  free(sql);
  free(text);
  free(state);
  json_decref(payload);
  memcpy(c->head, h, CARD_HASH_LEN);
  json_decref(c->state);
  c->state = json_incref(ch->state);
  c->ver = seq;
  card_change_clear(ch);
}

/* Posts the card's message and row, then stores its creation. */
static struct scard create(struct fixture *f, int64_t creator,
                           const char *body, const char *cmid)
{
  struct store_send m = chat_msg(creator, cmid, f->all, body);
  struct store_send_result res;
  struct card_actor a = {.id = creator};
  struct card_ctx x = {.now_ms = T0};
  struct card_change ch = {0};
  struct proto_error err = {0};
  struct scard c = {.at = T0};
  char sql[512];

  m.kind = STORE_MSG_CARD;
  CHECK_INT(store_send_batch(f->c, &m, 1, &res), ==, STORE_OK);
  CHECK_INT(res.rc, ==, STORE_OK);
  if (card_create(body, strlen(body), &a, &x, &c.type, &ch, &err) != 0)
    CHECK_FAIL("card_create: %s %s", err.field, err.msg);
  snprintf(sql, sizeof sql,
           "INSERT INTO cards (type, conversation_id, seq, created_by_user,"
           " state) VALUES ('%s', %lld, %lld, %lld, '{}')",
           card_type_name(c.type), (long long)f->all, (long long)res.seq,
           (long long)creator);
  pgtest_exec(conninfo, sql);
  snprintf(sql, sizeof sql,
           "SELECT id FROM cards WHERE conversation_id = %lld AND seq = %lld",
           (long long)f->all, (long long)res.seq);
  c.id = pgtest_query_int(conninfo, sql);
  store_change(&c, &ch, creator);
  return c;
}

static void act(struct scard *c, int64_t who, const char *action,
                const char *args)
{
  struct card_actor a = {.id = who, .creator = true};
  struct card_ctx x = {.now_ms = c->at, .card_id = c->id, .ver = c->ver};
  struct card_change ch = {0};
  struct proto_error err = {0};

  if (card_action(c->type, c->state, action, args, &a, &x, &ch, &err) != 0)
    CHECK_FAIL("%s: %s %s", action, err.field, err.msg);
  store_change(c, &ch, who);
}

static void edit(struct scard *c, int64_t who, const char *path,
                 const char *value)
{
  struct card_actor a = {.id = who};
  struct card_ctx x = {.now_ms = c->at, .card_id = c->id, .ver = c->ver};
  struct card_change ch = {0};
  struct proto_error err = {0};

  if (card_edit(c->type, c->state, path, value, c->ver, &a, &x, &ch, &err))
    CHECK_FAIL("edit %s: %s %s", path, err.field, err.msg);
  store_change(c, &ch, who);
}

/* A device with a fresh Ed25519 key, registered for `user`. */
struct dev {
  int64_t id;
  uint8_t pub[32], sk[64];
};

static struct dev device(int64_t user, const char *name)
{
  struct dev d;
  char sql[512], ph[65];

  hcr_sign_keypair(d.pub, d.sk);
  hex(d.pub, 32, ph);
  snprintf(sql, sizeof sql,
           "INSERT INTO devices (user_id, name, sign_public_key)"
           " VALUES (%lld, '%s', '\\x%s')",
           (long long)user, name, ph);
  pgtest_exec(conninfo, sql);
  snprintf(sql, sizeof sql, "SELECT id FROM devices WHERE name = '%s'", name);
  d.id = pgtest_query_int(conninfo, sql);
  return d;
}

/* Signs the current version as the client does and stores it as the
 * server does (the event, and the card_signatures row). */
static void sign(struct scard *c, int64_t who, const struct dev *d,
                 const char *dev_name)
{
  uint8_t h[CARD_HASH_LEN], m[CARD_SIGN_MSG_LEN], sig[CARD_SIG_LEN];
  struct card_actor a = {.id = who};
  struct card_ctx x = {.now_ms = c->at, .card_id = c->id, .ver = c->ver};
  struct card_change ch = {0};
  struct proto_error err = {0};
  char sql[1024], hh[65], sh[129];
  int64_t ver = c->ver;

  CHECK_INT(card_content_hash(c->type, c->state, h), ==, 0);
  card_sign_message(c->id, ver, h, m);
  hcr_sign(d->sk, m, sizeof m, sig);
  if (card_sign(c->type, c->state, ver, h, sig, dev_name, d->pub, &a, &x, &ch,
                &err) != 0)
    CHECK_FAIL("sign: %s %s", err.field, err.msg);
  store_change(c, &ch, who);
  hex(h, 32, hh);
  hex(sig, 64, sh);
  snprintf(sql, sizeof sql,
           "INSERT INTO card_signatures (card_id, version, signer_id,"
           " device_id, content_hash, signature) VALUES (%lld, %lld, %lld,"
           " %lld, '\\x%s', '\\x%s')",
           (long long)c->id, (long long)ver, (long long)who, (long long)d->id,
           hh, sh);
  pgtest_exec(conninfo, sql);
}

/* The cast: alice's interview record with bob as manager, signed by both
 * (5 events... 8 with edits), and a task (4 events). */
struct world {
  struct fixture f;
  struct scard iv, task, okr;
  struct dev da, db;
};

static void world(struct world *w)
{
  char body[512];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/heraldctl-audit-XXXXXX");
  CHECK(mkdtemp(tmpdir) != NULL);
  atexit(cleanup);
  unsetenv("HERALD_DB");
  w->f = chat_fixture_setup();
  w->da = device(w->f.alice, "alice-laptop");
  w->db = device(w->f.bob, "bob-phone");
  snprintf(body, sizeof body,
           "{\"type\":\"interview\",\"employee\":%lld,\"manager\":%lld,"
           "\"period\":\"2026-Q3\",\"sections\":{\"action_items\":[{\"text\":"
           "\"Write the design doc\",\"owner\":%lld}]}}",
           (long long)w->f.alice, (long long)w->f.bob, (long long)w->f.alice);
  w->iv = create(&w->f, w->f.bob, body, "iv-1");
  edit(&w->iv, w->f.bob, "/sections/notes", "\"A strong quarter, 1.50x\"");
  edit(&w->iv, w->f.alice, "/sections/development_plan", "\"Lead a team\"");
  act(&w->iv, w->f.alice, "submit", NULL);
  sign(&w->iv, w->f.alice, &w->da, "alice-laptop");
  sign(&w->iv, w->f.bob, &w->db, "bob-phone");
  CHECK_STR(json_string_value(json_object_get(w->iv.state, "status")),
            "locked");

  snprintf(body, sizeof body,
           "{\"type\":\"task\",\"title\":\"Ship\",\"assignees\":[%lld]}",
           (long long)w->f.bob);
  w->task = create(&w->f, w->f.alice, body, "task-1");
  act(&w->task, w->f.bob, "accept", NULL);
  act(&w->task, w->f.bob, "comment", "{\"text\":\"half done\"}");
  act(&w->task, w->f.bob, "set_status", "{\"status\":\"done\"}");
  CHECK_INT(w->task.ver, ==, 4);

  /* Reals in the payloads and states: the chain must survive jsonb. */
  snprintf(body, sizeof body,
           "{\"type\":\"okr\",\"objective\":\"Faster\",\"owner\":%lld,"
           "\"period\":\"2026-Q4\",\"key_results\":[{\"title\":\"p99\","
           "\"start\":1.50,\"target\":0.1,\"current\":1.2,\"unit\":\"s\"}]}",
           (long long)w->f.alice);
  w->okr = create(&w->f, w->f.alice, body, "okr-1");
  act(&w->okr, w->f.alice, "checkin",
      "{\"kr\":0,\"current\":0.75,\"confidence\":0.35,\"note\":\"cache\"}");
  act(&w->okr, w->f.alice, "checkin", "{\"kr\":0,\"current\":0.333333}");
}

static void world_free(struct world *w)
{
  json_decref(w->iv.state);
  json_decref(w->task.state);
  json_decref(w->okr.state);
  store_close(w->f.c);
  pgtest_db_drop();
}

static void tamper(const char *sql)
{
  pgtest_exec(conninfo, "ALTER TABLE card_events DISABLE TRIGGER "
                        "card_events_no_change");
  pgtest_exec(conninfo, sql);
  pgtest_exec(conninfo, "ALTER TABLE card_events ENABLE TRIGGER "
                        "card_events_no_change");
}

static void expect_broken(struct world *w, const struct scard *bad,
                          const char *what)
{
  struct run r;
  char line[96];

  CTL(&r, "audit", "verify");
  if (r.status != 1)
    CHECK_FAIL("audit verify exited %d: %s%s", r.status, r.out, r.err);
  snprintf(line, sizeof line, "card %lld (%s): ", (long long)bad->id,
           card_type_name(bad->type));
  CHECK_CONTAINS(r.out, line);
  CHECK_CONTAINS(r.out, what);
  CHECK_CONTAINS(r.out, "1 card with a broken chain");
  /* The other cards are not reported. */
  {
    const struct scard *all[] = {&w->iv, &w->task, &w->okr};
    for (size_t i = 0; i < 3; i++) {
      if (all[i] == bad)
        continue;
      snprintf(line, sizeof line, "card %lld (", (long long)all[i]->id);
      CHECK(strstr(r.out, line) == NULL);
    }
  }
}

TEST(intact_chains_verify)
{
  struct world w;
  struct run r;

  world(&w);
  CTL(&r, "audit", "verify");
  if (r.status != 0)
    CHECK_FAIL("audit verify exited %d: %s%s", r.status, r.out, r.err);
  CHECK_CONTAINS(r.out, "3 cards, 13 events checked: every chain is intact");
  /* Nothing to tamper with is allowed by default: the trigger refuses. */
  {
    char state[6];
    CHECK_INT(pgtest_try(conninfo, "DELETE FROM card_events WHERE event_seq = 2",
                         state), ==, -1);
  }
  world_free(&w);
}

TEST(edited_event_is_named)
{
  struct world w;
  char sql[256];

  world(&w);
  snprintf(sql, sizeof sql,
           "UPDATE card_events SET payload = jsonb_set(payload,"
           " '{value}', '\"A weak quarter\"') WHERE card_id = %lld"
           " AND event_seq = 2", (long long)w.iv.id);
  tamper(sql);
  expect_broken(&w, &w.iv, "event 2: hash mismatch");
  world_free(&w);
}

TEST(edited_time_is_named)
{
  struct world w;
  char sql[256];

  world(&w);
  snprintf(sql, sizeof sql,
           "UPDATE card_events SET at = at + interval '1 millisecond'"
           " WHERE card_id = %lld AND event_seq = 3", (long long)w.task.id);
  tamper(sql);
  expect_broken(&w, &w.task, "event 3: hash mismatch");
  world_free(&w);
}

TEST(edited_number_is_named)
{
  struct world w;
  char sql[256];

  world(&w);
  /* 0.75 -> 0.750001 in the check-in's payload. */
  snprintf(sql, sizeof sql,
           "UPDATE card_events SET payload = jsonb_set(payload,"
           " '{current}', '0.750001') WHERE card_id = %lld"
           " AND event_seq = 2", (long long)w.okr.id);
  tamper(sql);
  expect_broken(&w, &w.okr, "event 2: hash mismatch");
  world_free(&w);
}

TEST(edited_card_row_is_named)
{
  struct world w;
  char sql[256];

  world(&w);
  /* The row alone: the chain is intact, the row is not its last state. */
  snprintf(sql, sizeof sql,
           "UPDATE cards SET state = jsonb_set(state, '{title}', '\"Skip\"')"
           " WHERE id = %lld", (long long)w.task.id);
  pgtest_exec(conninfo, sql);
  expect_broken(&w, &w.task, "event 4: the card's state is not the state "
                             "of its newest event 4");
  world_free(&w);
}

TEST(removed_event_is_named)
{
  struct world w;
  char sql[256];

  world(&w);
  snprintf(sql, sizeof sql,
           "DELETE FROM card_events WHERE card_id = %lld AND event_seq = 2",
           (long long)w.task.id);
  tamper(sql);
  expect_broken(&w, &w.task, "event 3: seq 2 is missing: event 2 was removed");
  world_free(&w);
}

TEST(reordered_events_are_named)
{
  struct world w;
  char sql[512];

  world(&w);
  snprintf(sql, sizeof sql,
           "UPDATE card_events SET event_seq = 100 WHERE card_id = %lld AND"
           " event_seq = 3;"
           "UPDATE card_events SET event_seq = 3 WHERE card_id = %lld AND"
           " event_seq = 4;"
           "UPDATE card_events SET event_seq = 4 WHERE card_id = %lld AND"
           " event_seq = 100",
           (long long)w.iv.id, (long long)w.iv.id, (long long)w.iv.id);
  tamper(sql);
  expect_broken(&w, &w.iv, "event 3: prev_hash is not the hash of event 2");
  world_free(&w);
}

TEST(removed_newest_event_is_named)
{
  struct world w;
  char sql[256];

  world(&w);
  snprintf(sql, sizeof sql,
           "DELETE FROM card_events WHERE card_id = %lld AND event_seq = 4",
           (long long)w.task.id);
  tamper(sql);
  expect_broken(&w, &w.task, "event 4: head_hash is not the hash of the "
                             "newest event 3");
  world_free(&w);
}

/* The export, checked as a third party would: libsodium directly for the
 * signatures, the documented hashes for the chain and the content. */
TEST(export_verifies_with_the_public_keys)
{
  struct world w;
  struct run r;
  char path[128];
  json_t *doc, *rec, *sigs, *evs, *vers;
  json_error_t je;
  uint8_t prev[32], h[32];

  world(&w);
  snprintf(path, sizeof path, "%s/export.json", tmpdir);
  CTL(&r, "audit", "export", "--user", "alice", "--out", path);
  if (r.status != 0)
    CHECK_FAIL("audit export exited %d: %s", r.status, r.err);
  CHECK_CONTAINS(r.err, "1 interview record of alice exported");
  doc = json_load_file(path, 0, &je);
  if (!doc)
    CHECK_FAIL("export is not JSON: %s", je.text);
  CHECK_STR(json_string_value(json_object_get(doc, "format")),
            "herald.audit.export.v1");
  CHECK_UINT(json_array_size(json_object_get(doc, "records")), ==, 1);
  rec = json_array_get(json_object_get(doc, "records"), 0);
  CHECK_INT(json_integer_value(json_object_get(rec, "card")), ==, w.iv.id);
  CHECK(json_is_true(json_object_get(json_object_get(rec, "chain"),
                                     "intact")));

  /* The chain, link by link, from the exported fields only. */
  evs = json_object_get(rec, "events");
  CHECK_UINT(json_array_size(evs), ==, 6);
  for (size_t i = 0; i < json_array_size(evs); i++) {
    json_t *e = json_array_get(evs, i);
    char hh[65];
    CHECK_INT(card_event_hash(
                  i ? prev : NULL, w.iv.id,
                  json_integer_value(json_object_get(e, "seq")),
                  json_string_value(json_object_get(e, "kind")),
                  json_integer_value(json_object_get(e, "actor_user")),
                  json_integer_value(json_object_get(e, "actor_bot")),
                  json_integer_value(json_object_get(e, "at")),
                  json_object_get(e, "payload"), h), ==, 0);
    hex(h, 32, hh);
    CHECK_STR(json_string_value(json_object_get(e, "hash")), hh);
    memcpy(prev, h, 32);
  }
  hex(prev, 32, path);
  CHECK_STR(json_string_value(json_object_get(rec, "head_hash")), path);

  /* Each signature: Ed25519 over the documented message with the exported
   * public key, and its hash = SHA-256 of the canonical content of the
   * exported state of that version. */
  sigs = json_object_get(rec, "signatures");
  vers = json_object_get(rec, "versions");
  CHECK_UINT(json_array_size(sigs), ==, 2);
  CHECK_UINT(json_array_size(vers), ==, 6);
  for (size_t i = 0; i < 2; i++) {
    json_t *s = json_array_get(sigs, i), *st = NULL;
    int64_t ver = json_integer_value(json_object_get(s, "ver"));
    uint8_t pub[32], sig[64], hash[32], msg[62], mine[32];
    size_t n;
    CHECK_INT(sodium_hex2bin(pub, 32, json_string_value(json_object_get(
                                          s, "public_key")), 64, NULL, &n,
                             NULL), ==, 0);
    CHECK_INT(sodium_hex2bin(sig, 64, json_string_value(json_object_get(
                                          s, "sig")), 128, NULL, &n, NULL),
              ==, 0);
    CHECK_INT(sodium_hex2bin(hash, 32, json_string_value(json_object_get(
                                           s, "hash")), 64, NULL, &n, NULL),
              ==, 0);
    CHECK_MEM(pub, i == 0 ? w.da.pub : w.db.pub, 32);
    memcpy(msg, "herald.card.v1", 14);
    for (int k = 0; k < 8; k++) {
      msg[14 + k] = (uint8_t)((uint64_t)w.iv.id >> (56 - 8 * k));
      msg[22 + k] = (uint8_t)((uint64_t)ver >> (56 - 8 * k));
    }
    memcpy(msg + 30, hash, 32);
    CHECK_INT(crypto_sign_verify_detached(sig, msg, sizeof msg, pub), ==, 0);
    msg[61] ^= 1;
    CHECK_INT(crypto_sign_verify_detached(sig, msg, sizeof msg, pub), ==, -1);
    for (size_t k = 0; k < json_array_size(vers); k++)
      if (json_integer_value(json_object_get(json_array_get(vers, k), "ver")) ==
          ver)
        st = json_object_get(json_array_get(vers, k), "state");
    CHECK(st != NULL);
    CHECK_INT(card_content_hash(CARD_INTERVIEW, st, mine), ==, 0);
    CHECK_MEM(mine, hash, 32);
    CHECK(json_is_true(json_object_get(s, "signature_valid")));
    CHECK(json_is_true(json_object_get(s, "hash_matches_version")));
  }
  json_decref(doc);

  /* bob has no interview record as the employee; nobody is unknown. */
  CTL(&r, "audit", "export", "--user", "bob");
  CHECK_INT(r.status, ==, 0);
  CHECK_CONTAINS(r.out, "\"records\": []");
  CTL(&r, "audit", "export", "--user", "nobody");
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "unknown user \"nobody\"");
  CTL(&r, "audit", "export");
  CHECK_INT(r.status, ==, 2);
  world_free(&w);
}

/* Many cards, so that the walk crosses its pages (200 cards, 500 events per
 * read): 450 cards of 3 synthetic events and one of 1,200. A removed event
 * in the second page of cards and an edited one late in the long chain
 * are both found, and nothing else. Prints the time verify takes. */
TEST(verify_pages_through_many_cards)
{
  enum { N = 451, LONG = 1200 };
  struct fixture f;
  struct store_send *m = calloc(N, sizeof(*m));
  struct store_send_result *res = calloc(N, sizeof(*res));
  char (*cmid)[16] = calloc(N, 16);
  json_t *payload = json_pack("{s:s}", "text", "n");
  size_t cap = 4 << 20, len = 0;
  char *sql = malloc(cap);
  int64_t first;
  struct run r;
  struct timespec t0, t1;
  char want[128];

  CHECK(m && res && cmid && payload && sql);
  CHECK_INT(hcr_init(), ==, HCR_OK);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/heraldctl-audit-XXXXXX");
  CHECK(mkdtemp(tmpdir) != NULL);
  atexit(cleanup);
  unsetenv("HERALD_DB");
  f = chat_fixture_setup();
  for (int i = 0; i < N; i++) {
    snprintf(cmid[i], 16, "m%d", i);
    m[i] = chat_msg(f.alice, cmid[i], f.all, "{}");
    m[i].kind = STORE_MSG_CARD;
  }
  CHECK_INT(store_send_batch(f.c, m, N, res), ==, STORE_OK);
  len = (size_t)snprintf(sql, cap,
                         "INSERT INTO cards (type, conversation_id, seq,"
                         " created_by_user, state) SELECT 'task', %lld, seq,"
                         " %lld, '{}' FROM messages WHERE conversation_id ="
                         " %lld AND kind = 'card' ORDER BY seq",
                         (long long)f.all, (long long)f.alice,
                         (long long)f.all);
  pgtest_exec(conninfo, sql);
  first = pgtest_query_int(conninfo, "SELECT min(id) FROM cards");
  for (int i = 0; i < N; i++) {
    int64_t card = first + i, n = i == 100 ? LONG : 3;
    uint8_t prev[32], h[32];
    char hh[65], ph[65];
    len = (size_t)snprintf(sql, cap,
                           "INSERT INTO card_events (card_id, event_seq,"
                           " actor_user_id, kind, payload, at, prev_hash,"
                           " hash) VALUES ");
    for (int64_t seq = 1; seq <= n; seq++) {
      int64_t at = T0 + seq;
      CHECK_INT(card_event_hash(seq > 1 ? prev : NULL, card, seq, "comment",
                                f.alice, 0, at, payload, h), ==, 0);
      hex(h, 32, hh);
      hex(prev, 32, ph);
      len += (size_t)snprintf(
          sql + len, cap - len,
          "%s(%lld, %lld, %lld, 'comment', '{\"text\":\"n\"}',"
          " timestamptz 'epoch' + %lld * interval '1 millisecond', %s%s%s,"
          " '\\x%s')",
          seq > 1 ? "," : "", (long long)card, (long long)seq,
          (long long)f.alice, (long long)at, seq > 1 ? "'\\x" : "NULL",
          seq > 1 ? ph : "", seq > 1 ? "'" : "", hh);
      memcpy(prev, h, 32);
    }
    len += (size_t)snprintf(sql + len, cap - len,
                            "; UPDATE cards SET version = %lld, head_hash ="
                            " '\\x%s' WHERE id = %lld", (long long)n, hh,
                            (long long)card);
    CHECK(len < cap);
    pgtest_exec(conninfo, sql);
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CTL(&r, "audit", "verify");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (r.status != 0)
    CHECK_FAIL("audit verify exited %d: %s%s", r.status, r.out, r.err);
  snprintf(want, sizeof want, "%d cards, %d events checked", N,
           (N - 1) * 3 + LONG);
  CHECK_CONTAINS(r.out, want);
  fprintf(stderr, "audit verify: %d cards, %d events in %.0f ms\n", N,
          (N - 1) * 3 + LONG,
          (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
              (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);

  snprintf(sql, cap,
           "DELETE FROM card_events WHERE card_id = %lld AND event_seq = 2;"
           "UPDATE card_events SET kind = 'edited' WHERE card_id = %lld AND"
           " event_seq = 1111",
           (long long)(first + 300), (long long)(first + 100));
  tamper(sql);
  CTL(&r, "audit", "verify");
  CHECK_INT(r.status, ==, 1);
  snprintf(want, sizeof want,
           "card %lld (task): event 3: seq 2 is missing",
           (long long)(first + 300));
  CHECK_CONTAINS(r.out, want);
  snprintf(want, sizeof want, "card %lld (task): event 1111: hash mismatch",
           (long long)(first + 100));
  CHECK_CONTAINS(r.out, want);
  CHECK_CONTAINS(r.out, "2 cards with a broken chain");

  json_decref(payload);
  free(sql);
  free(cmid);
  free(res);
  free(m);
  store_close(f.c);
  pgtest_db_drop();
}

TEST_MAIN()
