/*
 * test_store_bots.c — storage for bots beyond create/list/revoke: rate
 * limits, the robot webhook (token, conversation, sealed secret, re-seal
 * on key rotation) and the summary of what a bot posted.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pgtest.h"
#include "store.h"

static char conninfo[1024];

static int64_t user(struct store_conn *c, const char *login)
{
  struct store_user_new u = {.login = login, .display_name = login,
                             .role = STORE_ROLE_STAFF};
  int64_t id = 0;

  CHECK_INT(store_user_add(c, &u, &id), ==, STORE_OK);
  return id;
}

static struct store_conn *db(void)
{
  struct store_conn *c = NULL;

  pgtest_db_new(conninfo, sizeof conninfo);
  if (store_connect(conninfo, &c) != STORE_OK)
    CHECK_FAIL("store_connect: %s", store_errmsg(c));
  CHECK_INT(store_migrate(c, NULL), ==, STORE_OK);
  return c;
}

TEST(rate_limits)
{
  struct store_conn *c = db();
  int64_t alice = user(c, "alice"), bot = 0;
  uint8_t hash[STORE_TOKEN_HASH_LEN];
  struct store_principal who;
  struct store_bot b;

  memset(hash, 0x11, sizeof hash);
  CHECK_INT(store_bot_create(c, "feeder", alice, hash, NULL, 0, &bot), ==,
            STORE_OK);
  CHECK_INT(store_session_lookup(c, hash, &who), ==, STORE_OK);
  CHECK_INT(who.rate_limit_per_minute, ==, 20);   /* DingTalk's default */
  CHECK_INT(store_bot_set_rate(c, bot, 0), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "rate limit must be 1 to 6000 messages a minute,"
                             " got 0");
  CHECK_INT(store_bot_set_rate(c, bot, STORE_BOT_RATE_MAX + 1), ==,
            STORE_EINVAL);
  CHECK_INT(store_bot_set_rate(c, 999, 5), ==, STORE_ENOTFOUND);
  CHECK_INT(store_bot_set_rate(c, bot, 5), ==, STORE_OK);
  CHECK_INT(store_bot_get(c, "feeder", &b), ==, STORE_OK);
  CHECK_INT(b.rate_limit_per_minute, ==, 5);
  CHECK_INT(store_session_lookup(c, hash, &who), ==, STORE_OK);
  CHECK_INT(who.rate_limit_per_minute, ==, 5);
  store_close(c);
}

TEST(robot_webhook_token_conversation_and_secret)
{
  struct store_conn *c = db();
  int64_t alice = user(c, "alice"), bot = 0, ops = 0, other = 0;
  uint8_t hash[STORE_TOKEN_HASH_LEN], r1[STORE_TOKEN_HASH_LEN],
          r2[STORE_TOKEN_HASH_LEN], sealed[40], resealed[50];
  struct store_robot_secret *list = NULL;
  struct store_bot_robot r;
  struct store_bot b;
  size_t n = 0;

  memset(hash, 0x21, sizeof hash);
  memset(r1, 0x22, sizeof r1);
  memset(r2, 0x23, sizeof r2);
  memset(sealed, 0x5a, sizeof sealed);
  memset(resealed, 0x6b, sizeof resealed);
  CHECK_INT(store_group_create(c, "Ops", alice, STORE_TRACK_ALL, NULL, 0,
                               &ops), ==, STORE_OK);
  CHECK_INT(store_group_create(c, "Other", alice, STORE_TRACK_ALL, NULL, 0,
                               &other), ==, STORE_OK);
  CHECK_INT(store_bot_create(c, "alerts", alice, hash, NULL, 0, &bot), ==,
            STORE_OK);

  /* Unsigned, into Ops: the bot is allowed there too. */
  CHECK_INT(store_bot_robot_set(c, bot, ops, r1, NULL, 0), ==, STORE_OK);
  CHECK_INT(store_bot_get(c, "alerts", &b), ==, STORE_OK);
  CHECK_INT(b.conversation_count, ==, 1);
  CHECK_INT(store_bot_robot_lookup(c, r1, &r), ==, STORE_OK);
  CHECK_INT(r.bot_id, ==, bot);
  CHECK_INT(r.conversation_id, ==, ops);
  CHECK_UINT(r.sealed_len, ==, 0);
  CHECK_INT(r.rate_limit_per_minute, ==, 20);
  CHECK_STR(r.name, "alerts");

  /* Replaced: signed, into Other; the old token is gone. */
  CHECK_INT(store_bot_robot_set(c, bot, other, r2, sealed, sizeof sealed), ==,
            STORE_OK);
  CHECK_INT(store_bot_robot_lookup(c, r1, &r), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown robot token");
  CHECK_INT(store_bot_robot_lookup(c, r2, &r), ==, STORE_OK);
  CHECK_INT(r.conversation_id, ==, other);
  CHECK_UINT(r.sealed_len, ==, sizeof sealed);
  CHECK_MEM(r.sealed, sealed, sizeof sealed);
  CHECK_INT(store_bot_robot_set(c, bot, ops, r2, sealed,
                                STORE_ROBOT_SEALED_MAX + 1), ==, STORE_EINVAL);
  CHECK_INT(store_bot_robot_set(c, bot, 4242, r1, NULL, 0), ==,
            STORE_ENOTFOUND);

  /* Key rotation: compare and swap on the sealed blob. */
  CHECK_INT(store_bot_robot_secrets(c, &list, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 1);
  CHECK_INT(list[0].bot_id, ==, bot);
  CHECK_MEM(list[0].sealed, sealed, sizeof sealed);
  free(list);
  CHECK_INT(store_bot_robot_reseal(c, bot, resealed, sizeof resealed, sealed,
                                   sizeof sealed), ==, STORE_EEXISTS);
  CHECK_INT(store_bot_robot_reseal(c, bot, sealed, sizeof sealed, resealed,
                                   sizeof resealed), ==, STORE_OK);
  CHECK_INT(store_bot_robot_lookup(c, r2, &r), ==, STORE_OK);
  CHECK_MEM(r.sealed, resealed, sizeof resealed);

  /* Revoked: the webhook stops; a revoked bot gets no new webhook. */
  CHECK_INT(store_bot_revoke(c, bot), ==, STORE_OK);
  CHECK_INT(store_bot_robot_lookup(c, r2, &r), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "bot \"alerts\" is revoked");
  CHECK_INT(store_bot_robot_set(c, bot, ops, r1, NULL, 0), ==, STORE_EINVAL);
  store_close(c);
}

static int64_t send1(struct store_conn *c, enum store_principal_kind kind,
                     int64_t sender, int64_t conv, const char *cmid)
{
  struct store_send in = {.sender_kind = kind, .sender_id = sender,
                          .cmid = cmid, .conversation_id = conv,
                          .kind = STORE_MSG_TEXT, .body = "hi", .body_len = 2};
  struct store_send_result out;

  CHECK_INT(store_send_batch(c, &in, 1, &out), ==, STORE_OK);
  CHECK_INT(out.rc, ==, STORE_OK);
  store_send_results_cleanup(&out, 1);
  return out.seq;
}

TEST(summary_of_what_a_bot_posted)
{
  struct store_conn *c = db();
  int64_t alice = user(c, "alice"), bob = user(c, "bob"), ops = 0, bot = 0,
          bot2 = 0, s1, s2;
  uint8_t h1[STORE_TOKEN_HASH_LEN], h2[STORE_TOKEN_HASH_LEN];
  struct store_bot_summary s;
  struct store_read_result rr;

  memset(h1, 0x31, sizeof h1);
  memset(h2, 0x32, sizeof h2);
  CHECK_INT(store_group_create(c, "Ops", alice, STORE_TRACK_ALL, &bob, 1,
                               &ops), ==, STORE_OK);
  CHECK_INT(store_bot_create(c, "feeder", alice, h1, &ops, 1, &bot), ==,
            STORE_OK);
  CHECK_INT(store_bot_create(c, "nosy", alice, h2, NULL, 0, &bot2), ==,
            STORE_OK);
  s1 = send1(c, STORE_PRINCIPAL_BOT, bot, ops, "b1");
  s2 = send1(c, STORE_PRINCIPAL_USER, alice, ops, "a1");

  CHECK_INT(store_bot_message_summary(c, bot, ops, s1, &s), ==, STORE_OK);
  CHECK_INT(s.kind, ==, STORE_MSG_TEXT);
  CHECK(s.tracked);
  CHECK_UINT(s.n, ==, 2);                    /* alice and bob */
  CHECK_INT(s.rcpt[0].user_id, ==, alice);
  CHECK_STR(s.rcpt[1].login, "bob");
  CHECK(!s.rcpt[1].read && !s.rcpt[1].delivered);
  store_bot_summary_cleanup(&s);

  /* bob reads (no time recorded): read and delivered. */
  CHECK_INT(store_read_record(c, bob, ops, 0, s1, 0, NULL, 0, &rr), ==,
            STORE_OK);
  free(rr.feed);
  CHECK_INT(store_bot_message_summary(c, bot, ops, s1, &s), ==, STORE_OK);
  CHECK(s.rcpt[1].read && s.rcpt[1].delivered);
  CHECK(!s.rcpt[0].read);
  store_bot_summary_cleanup(&s);

  CHECK_INT(store_bot_message_summary(c, bot, ops, s2, &s), ==,
            STORE_EFORBIDDEN);
  CHECK_CONTAINS(store_errmsg(c), "was not posted by this bot");
  CHECK_INT(store_bot_message_summary(c, bot, ops, 99, &s), ==,
            STORE_ENOTFOUND);
  CHECK_INT(store_bot_message_summary(c, bot2, ops, s1, &s), ==,
            STORE_EFORBIDDEN);
  CHECK_CONTAINS(store_errmsg(c), "bot may not post to conversation");
  /* Revoked: nothing. */
  CHECK_INT(store_bot_revoke(c, bot), ==, STORE_OK);
  CHECK_INT(store_bot_message_summary(c, bot, ops, s1, &s), ==,
            STORE_EFORBIDDEN);
  store_close(c);
}

TEST_MAIN()
