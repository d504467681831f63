/* Unit tests for cards/interview.c and signature.c: OKR pre-fill with the
 * "behind" mark, co-editing (different fields both survive, the same field
 * is a CONFLICT), submit, two signatures that lock and spawn tasks,
 * forged/stale/unknown-key signatures, amendments and the 48-hour reminder
 * of missing signatures. */
#include "cards_fixture.h"
#include "hcrypto.h"

#define EMP 5
#define MGR 3

static struct tcard record(const json_t *okrs)
{
  return tc_create("{\"type\":\"interview\",\"employee\":5,\"manager\":3,"
                   "\"period\":\"2026-Q3\",\"sections\":{\"action_items\":["
                   "{\"text\":\"Write the design doc\",\"owner\":5,"
                   "\"due\":\"2026-10-15T18:00:00+08:00\"},"
                   "{\"text\":\"Book the training\",\"owner\":3}]}}",
                   user(MGR), T0, okrs);
}

struct signer {
  uint8_t pub[HCR_SIGN_PUB_LEN], sk[HCR_SIGN_SECRET_LEN];
};

static struct signer signer(void)
{
  struct signer s;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_sign_keypair(s.pub, s.sk);
  return s;
}

/* Signs the record's current version as a client would: hash the content,
 * sign the 62-byte message. `tamper`: 1 wrong hash, 2 forged (other key),
 * 3 stale version. Returns card_sign's code; applies the change. */
static int sign_as(struct tcard *c, int64_t who, const struct signer *k,
                   const uint8_t *pub, int tamper, int64_t now,
                   struct card_change *keep, struct proto_error *err)
{
  uint8_t h[CARD_HASH_LEN], m[CARD_SIGN_MSG_LEN], sig[CARD_SIG_LEN];
  struct card_change ch = {0};
  struct card_actor a = user(who);
  struct card_ctx x = ctx_of(c, now);
  int64_t ver = tamper == 3 ? c->ver - 1 : c->ver;
  int rc;

  CHECK_INT(card_content_hash(c->type, c->state, h), ==, 0);
  if (tamper == 1)
    h[5] ^= 0x20;
  card_sign_message(c->id, ver, h, m);
  if (tamper == 2) {
    struct signer other = signer();
    hcr_sign(other.sk, m, sizeof(m), sig);
  } else {
    hcr_sign(k->sk, m, sizeof(m), sig);
  }
  rc = card_sign(c->type, c->state, ver, h, sig, "laptop", pub, &a, &x, &ch,
                 err);
  if (rc == 0)
    tc_apply(c, &ch);
  else
    CHECK(ch.state == NULL);
  if (keep)
    *keep = ch;
  else
    card_change_clear(&ch);
  return rc;
}

static const char *status(const struct tcard *c)
{
  return tc_str(c, "status");
}

static int64_t amendment(const struct tcard *c)
{
  return json_integer_value(json_object_get(c->state, "amendment"));
}

TEST(prefill_marks_key_results_behind)
{
  /* 2026-Q3 runs 92 days from 2026-07-01; at T0 (2026-09-21T14:13:20Z)
   * 82.593 days have passed: expected progress 0.8977. Behind means more
   * than 15 points below it, i.e. below 0.7477. */
  json_t *okrs = json_pack(
      "[{s:i,s:{s:s,s:s,s:i,s:s,s:[{s:s,s:i,s:i,s:i,s:s,s:f},"
      "{s:s,s:i,s:i,s:i,s:s,s:f}],s:{s:f,s:[f,f]}}},{s:i,s:{s:s}}]",
      "card", 41, "state", "type", "okr", "objective", "Grow", "owner", 5,
      "period", "2026-Q3", "key_results", "title", "Users", "start", 0,
      "target", 100, "current", 74, "unit", "", "confidence", 0.5, "title",
      "Revenue", "start", 0, "target", 100, "current", 76, "unit", "k",
      "confidence", 0.5, "progress", "overall", 0.75, "krs", 0.74, 0.76,
      "card", 42, "state", "type", "task");
  struct tcard c;
  json_t *op, *e, *krs;

  CHECK(okrs != NULL);
  c = record(okrs);
  op = json_object_get(json_object_get(c.state, "sections"), "okr_progress");
  CHECK_UINT(json_array_size(op), ==, 1);   /* the task is skipped */
  e = json_array_get(op, 0);
  CHECK_INT(json_integer_value(json_object_get(e, "card")), ==, 41);
  CHECK_STR(json_string_value(json_object_get(e, "objective")), "Grow");
  CHECK(json_real_value(json_object_get(e, "expected")) == 0.8977);
  CHECK(json_real_value(json_object_get(e, "progress")) == 0.75);
  krs = json_object_get(e, "key_results");
  CHECK(json_is_true(json_object_get(json_array_get(krs, 0), "behind")));
  CHECK(json_is_false(json_object_get(json_array_get(krs, 1), "behind")));
  CHECK(json_real_value(json_object_get(json_array_get(krs, 0), "progress")) ==
        0.74);
  /* The pre-filled OKR progress is signed content; only its comments are
   * edited. */
  {
    struct proto_error err;
    CHECK_INT(tc_edit(&c, "/sections/okr_progress/0/comment",
                      "\"Users lag: hiring\"", 1, user(EMP), T0, &err), ==, 0);
    CHECK_REFUSED(tc_edit(&c, "/sections/okr_progress/0/progress", "1", 2,
                          user(EMP), T0, &err),
                  PROTO_E_INVALID_CARD, "/sections/okr_progress/0/progress");
  }
  json_decref(okrs);
  tc_free(&c);
}

TEST(co_editing_different_fields_and_conflicts)
{
  struct tcard c = record(NULL);
  struct proto_error err;
  json_t *sec;

  /* Both parties start from version 1. */
  CHECK_INT(tc_edit(&c, "/sections/notes", "\"Good quarter\"", 1, user(MGR),
                    T0, &err), ==, 0);
  CHECK_INT(tc_edit(&c, "/sections/development_plan", "\"Lead a project\"", 1,
                    user(EMP), T0, &err), ==, 0);
  sec = json_object_get(c.state, "sections");
  CHECK_STR(json_string_value(json_object_get(sec, "notes")), "Good quarter");
  CHECK_STR(json_string_value(json_object_get(sec, "development_plan")),
            "Lead a project");
  /* The same field changed since the base: CONFLICT to the later writer. */
  CHECK_REFUSED(tc_edit(&c, "/sections/notes", "\"Fine quarter\"", 1,
                        user(EMP), T0, &err),
                PROTO_E_CONFLICT, "/sections/notes");
  CHECK_CONTAINS(err.msg, "version 2");
  /* Based on the newest version it goes through. */
  CHECK_INT(tc_edit(&c, "/sections/notes", "\"Fine quarter\"", 3, user(EMP),
                    T0, &err), ==, 0);
  /* Items of one array: different items both survive; the array as a whole
   * conflicts with an item edited since. */
  CHECK_INT(tc_edit(&c, "/sections/action_items/0/text", "\"Write it\"", 4,
                    user(EMP), T0, &err), ==, 0);
  CHECK_INT(tc_edit(&c, "/sections/action_items/1/owner", "5", 4, user(MGR),
                    T0, &err), ==, 0);
  CHECK_REFUSED(tc_edit(&c, "/sections/action_items", "[]", 4, user(MGR), T0,
                        &err),
                PROTO_E_CONFLICT, "/sections/action_items");
  /* Appends from the same base both land. */
  CHECK_INT(tc_edit(&c, "/sections/action_items/-",
                    "{\"text\":\"Mentor\",\"owner\":5}", 6, user(EMP), T0,
                    &err), ==, 0);
  CHECK_INT(tc_edit(&c, "/sections/action_items/-",
                    "{\"text\":\"Review\",\"owner\":3}", 6, user(MGR), T0,
                    &err), ==, 0);
  CHECK_UINT(json_array_size(json_object_get(
                 json_object_get(c.state, "sections"), "action_items")),
             ==, 4);
  /* Removing an item shifts the others: later edits of any item based on
   * an older version conflict. */
  CHECK_INT(tc_edit(&c, "/sections/action_items/3", "null", 8, user(MGR), T0,
                    &err), ==, 0);
  CHECK_REFUSED(tc_edit(&c, "/sections/action_items/2/text", "\"x\"", 8,
                        user(EMP), T0, &err),
                PROTO_E_CONFLICT, "/sections/action_items/2/text");
  /* Schema still applies to edits. */
  CHECK_REFUSED(tc_edit(&c, "/sections/action_items/0/owner", "\"me\"", c.ver,
                        user(EMP), T0, &err),
                PROTO_E_INVALID_CARD, "/sections/action_items/0/owner");
  CHECK_REFUSED(tc_edit(&c, "/sections/action_items/9", "{}", c.ver,
                        user(EMP), T0, &err),
                PROTO_E_INVALID_CARD, "/sections/action_items/9");
  CHECK_REFUSED(tc_edit(&c, "/sections/action_items/01/text", "\"x\"", c.ver,
                        user(EMP), T0, &err),
                PROTO_E_INVALID_CARD, "/sections/action_items/01");
  CHECK_REFUSED(tc_edit(&c, "/employee", "7", c.ver, user(MGR), T0, &err),
                PROTO_E_INVALID_CARD, "/employee");
  CHECK_REFUSED(tc_edit(&c, "/sections/mood", "\"ok\"", c.ver, user(MGR), T0,
                        &err),
                PROTO_E_INVALID_CARD, "/sections/mood");
  tc_free(&c);
}

TEST(only_the_two_parties)
{
  struct tcard c = record(NULL);
  struct proto_error err;
  struct card_actor admin = {.id = 1, .admin = true};
  struct card_actor skip = with(user(2), false, true);
  struct card_actor bot = {.id = 9, .bot = true, .creator = true};

  CHECK_REFUSED(tc_edit(&c, "/sections/notes", "\"x\"", 1, admin, T0, &err),
                PROTO_E_FORBIDDEN, "/sections/notes");
  CHECK_REFUSED(tc_edit(&c, "/sections/notes", "\"x\"", 1, skip, T0, &err),
                PROTO_E_FORBIDDEN, "/sections/notes");
  CHECK_REFUSED(tc_edit(&c, "/sections/notes", "\"x\"", 1, bot, T0, &err),
                PROTO_E_FORBIDDEN, "/sections/notes");
  CHECK_REFUSED(tc_action(&c, "submit", NULL, user(7), T0, &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_REFUSED(tc_action(&c, "submit", NULL, bot, T0, &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_REFUSED(tc_action(&c, "comment", "{\"text\":\"x\"}", user(EMP), T0,
                          &err, NULL),
                PROTO_E_INVALID_ACTION, "");
  /* Created by a party, a manager above, or an admin; never a bot. */
  CHECK_INT(card_may_create(c.type, c.state, &skip, &err), ==, 0);
  CHECK_INT(card_may_create(c.type, c.state, &admin, &err), ==, 0);
  CHECK_INT(card_may_create(c.type, c.state, &(struct card_actor){.id = 5},
                            &err), ==, 0);
  CHECK_INT(card_may_create(c.type, c.state, &(struct card_actor){.id = 7},
                            &err), ==, PROTO_E_FORBIDDEN);
  CHECK_INT(c.ver, ==, 1);
  tc_free(&c);
}

TEST(submit_sign_lock_and_spawn)
{
  struct tcard c = record(NULL);
  struct proto_error err;
  struct signer e = signer(), m = signer();
  struct card_change last = {0};
  json_t *sigs, *t0, *t1;

  /* Not signable as a draft. */
  CHECK_REFUSED(sign_as(&c, EMP, &e, e.pub, 0, T0, NULL, &err),
                PROTO_E_INVALID_ACTION, "/status");
  CHECK_INT(tc_action(&c, "submit", NULL, user(EMP), T0, &err, "submitted"),
            ==, 0);
  CHECK_STR(status(&c), "submitted");
  CHECK_REFUSED(tc_action(&c, "submit", NULL, user(MGR), T0, &err, NULL),
                PROTO_E_INVALID_ACTION, "/status");
  /* Refusals: wrong hash, forged, stale version, no key, not a party. */
  CHECK_REFUSED(sign_as(&c, EMP, &e, e.pub, 1, T0, NULL, &err),
                PROTO_E_BAD_SIGNATURE, "hash");
  CHECK_REFUSED(sign_as(&c, EMP, &e, e.pub, 2, T0, NULL, &err),
                PROTO_E_BAD_SIGNATURE, "sig");
  CHECK_REFUSED(sign_as(&c, EMP, &e, m.pub, 0, T0, NULL, &err),
                PROTO_E_BAD_SIGNATURE, "sig");
  CHECK_REFUSED(sign_as(&c, EMP, &e, e.pub, 3, T0, NULL, &err),
                PROTO_E_STALE_VERSION, "ver");
  CHECK_REFUSED(sign_as(&c, EMP, &e, NULL, 0, T0, NULL, &err),
                PROTO_E_BAD_SIGNATURE, "dev");
  CHECK_REFUSED(sign_as(&c, 7, &e, e.pub, 0, T0, NULL, &err),
                PROTO_E_FORBIDDEN, "");
  CHECK_INT(c.ver, ==, 2);
  /* The employee signs. */
  CHECK_INT(sign_as(&c, EMP, &e, e.pub, 0, T0 + 1000, &last, &err), ==, 0);
  CHECK_STR(last.ev, "signed");
  CHECK(last.spawn == NULL);
  CHECK_UINT(strlen(json_string_value(json_object_get(last.payload, "sig"))),
             ==, 128);
  card_change_clear(&last);
  CHECK_STR(status(&c), "submitted");
  sigs = json_object_get(c.state, "signatures");
  CHECK_UINT(json_array_size(sigs), ==, 1);
  CHECK_INT(json_integer_value(json_object_get(json_array_get(sigs, 0), "ver")),
            ==, 2);
  CHECK_STR(json_string_value(json_object_get(json_array_get(sigs, 0), "dev")),
            "laptop");
  /* Same party twice. */
  CHECK_REFUSED(sign_as(&c, EMP, &e, e.pub, 0, T0, NULL, &err),
                PROTO_E_INVALID_ACTION, "");
  /* The manager signs the next version (the content hash is the same). */
  CHECK_INT(sign_as(&c, MGR, &m, m.pub, 0, T0 + 2000, &last, &err), ==, 0);
  CHECK_STR(last.ev, "locked");
  CHECK_STR(status(&c), "locked");
  CHECK_UINT(json_array_size(json_object_get(c.state, "signatures")), ==, 2);
  /* One task per action item, for its owner, created by the system. */
  CHECK_UINT(json_array_size(last.spawn), ==, 2);
  t0 = json_array_get(last.spawn, 0);
  t1 = json_array_get(last.spawn, 1);
  CHECK_STR(json_string_value(json_object_get(t0, "title")),
            "Write the design doc");
  CHECK_INT(json_integer_value(json_array_get(json_object_get(t0, "assignees"),
                                              0)), ==, 5);
  CHECK_STR(json_string_value(json_object_get(t0, "due")),
            "2026-10-15T18:00:00+08:00");
  CHECK(json_object_get(t1, "due") == NULL);
  CHECK_INT(json_integer_value(json_object_get(json_object_get(t0, "source"),
                                               "card")), ==, 100);
  for (size_t i = 0; i < 2; i++) {
    char *body = json_dumps(json_array_get(last.spawn, i), JSON_COMPACT);
    struct card_actor sys = {0};
    struct tcard t = tc_create(body, sys, T0, NULL);
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(t.state, "source"), "kind")), "interview");
    free(body);
    tc_free(&t);
  }
  card_change_clear(&last);
  /* Locked: no edits, no more signatures. */
  CHECK_REFUSED(tc_edit(&c, "/sections/notes", "\"x\"", c.ver, user(EMP), T0,
                        &err),
                PROTO_E_INVALID_ACTION, "/sections/notes");
  CHECK_REFUSED(sign_as(&c, EMP, &e, e.pub, 0, T0, NULL, &err),
                PROTO_E_INVALID_ACTION, "/status");
  tc_free(&c);
}

TEST(amendments_need_both_signatures_again)
{
  struct tcard c = record(NULL);
  struct proto_error err;
  struct signer e = signer(), m = signer();
  struct card_change last = {0};

  CHECK_INT(tc_action(&c, "submit", NULL, user(MGR), T0, &err, NULL), ==, 0);
  /* An edit while submitted and unsigned: back to draft, no amendment. */
  CHECK_INT(tc_edit(&c, "/sections/notes", "\"more\"", c.ver, user(EMP), T0,
                    &err), ==, 0);
  CHECK_STR(status(&c), "draft");
  CHECK_INT(amendment(&c), ==, 0);
  CHECK_INT(tc_action(&c, "submit", NULL, user(MGR), T0, &err, NULL), ==, 0);
  CHECK_INT(sign_as(&c, EMP, &e, e.pub, 0, T0, NULL, &err), ==, 0);
  /* An edit after a signature: an amendment. */
  {
    struct card_change ch = {0};
    struct card_ctx x = ctx_of(&c, T0);
    struct card_actor a = user(MGR);
    CHECK_INT(card_edit(c.type, c.state, "/sections/behaviour",
                        "\"Helps others\"", c.ver, &a, &x, &ch, &err), ==, 0);
    CHECK_STR(ch.ev, "amended");
    CHECK_UINT(json_array_size(json_object_get(ch.payload,
                                               "previous_signatures")), ==, 1);
    tc_apply(&c, &ch);
    card_change_clear(&ch);
  }
  CHECK_STR(status(&c), "draft");
  CHECK_INT(amendment(&c), ==, 1);
  CHECK_UINT(json_array_size(json_object_get(c.state, "signatures")), ==, 0);
  /* Both sign again; the employee's earlier signature does not count. */
  CHECK_INT(tc_action(&c, "submit", NULL, user(EMP), T0, &err, NULL), ==, 0);
  CHECK_INT(sign_as(&c, MGR, &m, m.pub, 0, T0, &last, &err), ==, 0);
  CHECK_STR(last.ev, "signed");
  card_change_clear(&last);
  CHECK_INT(sign_as(&c, EMP, &e, e.pub, 0, T0, &last, &err), ==, 0);
  CHECK_STR(last.ev, "locked");
  CHECK_UINT(json_array_size(last.spawn), ==, 2);
  card_change_clear(&last);

  /* Amending a locked record: the amend action (draft, amendment 2). */
  CHECK_REFUSED(tc_action(&c, "amend", "{\"why\":1}", user(EMP), T0, &err,
                          NULL),
                PROTO_E_INVALID_CARD, "/why");
  CHECK_REFUSED(tc_action(&c, "amend", NULL, user(7), T0, &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_INT(tc_action(&c, "amend", NULL, user(EMP), T0, &err, "amended"), ==,
            0);
  CHECK_STR(status(&c), "draft");
  CHECK_INT(amendment(&c), ==, 2);
  CHECK_REFUSED(tc_action(&c, "amend", NULL, user(EMP), T0, &err, NULL),
                PROTO_E_INVALID_ACTION, "/status");
  /* A new item; on the next lock only it becomes a task. */
  CHECK_INT(tc_edit(&c, "/sections/action_items/-",
                    "{\"text\":\"Present at all-hands\",\"owner\":5}", c.ver,
                    user(MGR), T0, &err), ==, 0);
  CHECK_INT(tc_action(&c, "submit", NULL, user(EMP), T0, &err, NULL), ==, 0);
  CHECK_INT(sign_as(&c, MGR, &m, m.pub, 0, T0, NULL, &err), ==, 0);
  CHECK_INT(sign_as(&c, EMP, &e, e.pub, 0, T0, &last, &err), ==, 0);
  CHECK_STR(last.ev, "locked");
  CHECK_UINT(json_array_size(last.spawn), ==, 1);
  CHECK_STR(json_string_value(json_object_get(json_array_get(last.spawn, 0),
                                              "title")),
            "Present at all-hands");
  card_change_clear(&last);
  tc_free(&c);
}

TEST(missing_signatures_reminded_after_48_hours)
{
  struct tcard c = record(NULL);
  struct proto_error err;
  struct signer m = signer();
  struct card_actor sys = {0};
  int64_t who[4], sub = T0 + HOUR;
  size_t n;

  CHECK_INT(card_next_reminder(c.type, c.state, who, 4, &n), ==, 0);
  CHECK_INT(tc_action(&c, "submit", NULL, user(EMP), sub, &err, NULL), ==, 0);
  CHECK_INT(card_next_reminder(c.type, c.state, who, 4, &n), ==, sub + 48 * HOUR);
  CHECK_UINT(n, ==, 2);
  CHECK_INT(sign_as(&c, MGR, &m, m.pub, 0, sub + HOUR, NULL, &err), ==, 0);
  CHECK_INT(card_next_reminder(c.type, c.state, who, 4, &n), ==, sub + 48 * HOUR);
  CHECK_UINT(n, ==, 1);
  CHECK_INT(who[0], ==, EMP);
  CHECK_REFUSED(tc_action(&c, "remind", NULL, sys, sub + 47 * HOUR, &err,
                          NULL),
                PROTO_E_INVALID_ACTION, "");
  CHECK_INT(tc_action(&c, "remind", NULL, sys, sub + 48 * HOUR, &err,
                      "reminder"), ==, 0);
  CHECK_INT(card_next_reminder(c.type, c.state, who, 4, &n), ==, sub + 96 * HOUR);
  /* A reminder bumps the version: a signature of the old one is stale. */
  tc_free(&c);
}

TEST_MAIN()
