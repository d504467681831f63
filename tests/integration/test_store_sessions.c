/*
 * test_store_sessions.c — password-login lookups, session tokens and bot
 * tokens against a real PostgreSQL.
 */
#include <string.h>
#include <time.h>

#include "check.h"
#include "pgtest.h"
#include "store.h"

static char conninfo[1024];

/* A syntactically valid argon2id PHC string (the schema checks the prefix;
 * nothing here verifies passwords). */
#define HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

static struct store_conn *db(void)
{
  struct store_conn *c = NULL;

  pgtest_db_new(conninfo, sizeof conninfo);
  if (store_connect(conninfo, &c) != STORE_OK)
    CHECK_FAIL("store_connect: %s", store_errmsg(c));
  CHECK_INT(store_migrate(c, NULL), ==, STORE_OK);
  return c;
}

static int64_t user(struct store_conn *c, const char *login, const char *name,
                    const char *hash)
{
  struct store_user_new u = {.login = login, .display_name = name,
                             .password_hash = hash, .time_zone = "Asia/Hong_Kong",
                             .role = STORE_ROLE_MANAGER};
  int64_t id = 0;

  CHECK_INT(store_user_add(c, &u, &id), ==, STORE_OK);
  return id;
}

/* The first column of the first row of a query, as an integer. */
static long long query_i64(const char *sql)
{
  return pgtest_query_int(conninfo, sql);
}

static int64_t now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void token(uint8_t out[STORE_TOKEN_HASH_LEN], uint8_t fill)
{
  memset(out, fill, STORE_TOKEN_HASH_LEN);
  out[0] = 0; /* a NUL inside proves the hash travels as binary */
}

TEST(login_lookup)
{
  struct store_conn *c = db();
  int64_t alice = user(c, "alice", "Alice", HASH);
  int64_t bob = user(c, "bob", "Bob", NULL);
  struct store_login_info info;

  CHECK_INT(store_login_lookup(c, "ALICE", &info), ==, STORE_OK);
  CHECK_INT(info.user_id, ==, alice);
  CHECK(info.active);
  CHECK_STR(info.password_hash, HASH);

  CHECK_INT(store_login_lookup(c, "bob", &info), ==, STORE_OK);
  CHECK_INT(info.user_id, ==, bob);
  CHECK_STR(info.password_hash, "");

  memset(&info, 0x5a, sizeof info);
  CHECK_INT(store_login_lookup(c, "nobody", &info), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown user \"nobody\"");
  CHECK_INT(info.user_id, ==, 0x5a5a5a5a5a5a5a5a); /* untouched on failure */

  CHECK_INT(store_user_deactivate(c, "alice"), ==, STORE_OK);
  CHECK_INT(store_login_lookup(c, "alice", &info), ==, STORE_OK);
  CHECK(!info.active);
  store_close(c);
}

TEST(session_create_lookup_revoke)
{
  struct store_conn *c = db();
  int64_t alice = user(c, "alice", "Alice Wong", HASH);
  uint8_t tok[STORE_TOKEN_HASH_LEN], other[STORE_TOKEN_HASH_LEN];
  struct store_principal p, q;
  int64_t t0 = now_ms();

  token(tok, 0x11);
  token(other, 0x22);
  CHECK_INT(store_session_create(c, alice, "laptop", tok, 3600, &p), ==, STORE_OK);
  CHECK_INT(p.kind, ==, STORE_PRINCIPAL_USER);
  CHECK_INT(p.id, ==, alice);
  CHECK_STR(p.login, "alice");
  CHECK_STR(p.display_name, "Alice Wong");
  CHECK_STR(p.time_zone, "Asia/Hong_Kong");
  CHECK_INT(p.role, ==, STORE_ROLE_MANAGER);
  CHECK_INT(p.device_id, >, 0);
  CHECK_INT(p.expires_at_ms, >=, t0 + 3600 * 1000 - 5000);
  CHECK_INT(p.expires_at_ms, <=, now_ms() + 3600 * 1000 + 5000);

  CHECK_INT(query_i64("SELECT count(*) FROM sessions WHERE last_used_at IS NULL"),
            ==, 1);
  CHECK_INT(store_session_lookup(c, tok, &q), ==, STORE_OK);
  CHECK_INT(q.kind, ==, STORE_PRINCIPAL_USER);
  CHECK_INT(q.id, ==, alice);
  CHECK_STR(q.login, "alice");
  CHECK_STR(q.display_name, "Alice Wong");
  CHECK_INT(q.device_id, ==, p.device_id);
  CHECK_INT(q.expires_at_ms, ==, p.expires_at_ms);
  /* The lookup touched last_used_at. */
  CHECK_INT(query_i64("SELECT count(*) FROM sessions WHERE last_used_at IS NULL"),
            ==, 0);

  CHECK_INT(store_session_lookup(c, other, &q), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown token");

  CHECK_INT(store_session_revoke(c, tok), ==, STORE_OK);
  CHECK_INT(store_session_lookup(c, tok, &q), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "token expired or revoked");
  CHECK_INT(store_session_revoke(c, tok), ==, STORE_OK); /* twice is fine */
  CHECK_INT(store_session_revoke(c, other), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown session token");

  /* The same hash cannot be used twice; bad arguments are refused. */
  CHECK_INT(store_session_create(c, alice, "", tok, 60, NULL), ==, STORE_EEXISTS);
  CHECK_INT(store_session_create(c, alice, "", other, 0, NULL), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "session lifetime must be positive");
  CHECK_INT(store_session_create(c, 4242, "", other, 60, NULL), ==,
            STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown user id 4242");
  /* ... and nothing of them was kept. */
  CHECK_INT(query_i64("SELECT count(*) FROM sessions"), ==, 1);
  CHECK_INT(query_i64("SELECT count(*) FROM devices"), ==, 1);
  store_close(c);
}

TEST(session_devices)
{
  struct store_conn *c = db();
  int64_t alice = user(c, "alice", "Alice", HASH);
  int64_t bob = user(c, "bob", "Bob", HASH);
  uint8_t t[6][STORE_TOKEN_HASH_LEN];
  struct store_principal p[6];
  char long_name[102];

  for (int i = 0; i < 6; i++)
    token(t[i], (uint8_t)(0x30 + i));
  CHECK_INT(store_session_create(c, alice, "dev-1", t[0], 60, &p[0]), ==, STORE_OK);
  CHECK_INT(store_session_create(c, alice, "dev-1", t[1], 60, &p[1]), ==, STORE_OK);
  CHECK_INT(store_session_create(c, bob, "dev-1", t[2], 60, &p[2]), ==, STORE_OK);
  CHECK_INT(store_session_create(c, alice, "", t[3], 60, &p[3]), ==, STORE_OK);
  CHECK_INT(store_session_create(c, alice, NULL, t[4], 60, &p[4]), ==, STORE_OK);
  /* One installation keeps its device row; another user's or an unnamed
   * one does not share it. */
  CHECK_INT(p[0].device_id, ==, p[1].device_id);
  CHECK_INT(p[2].device_id, !=, p[0].device_id);
  CHECK_INT(p[3].device_id, !=, p[0].device_id);
  CHECK_INT(p[4].device_id, !=, p[3].device_id);

  memset(long_name, 'x', 101);
  long_name[101] = '\0';
  CHECK_INT(store_session_create(c, alice, long_name, t[5], 60, NULL), ==,
            STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "device name must be at most 100 characters");
  long_name[100] = '\0';
  CHECK_INT(store_session_create(c, alice, long_name, t[5], 60, NULL), ==,
            STORE_OK);
  store_close(c);
}

TEST(session_expired_or_deactivated)
{
  struct store_conn *c = db();
  int64_t alice = user(c, "alice", "Alice", HASH);
  int64_t bob = user(c, "bob", "Bob", HASH);
  uint8_t ta[STORE_TOKEN_HASH_LEN], tb[STORE_TOKEN_HASH_LEN], tc[STORE_TOKEN_HASH_LEN];
  struct store_principal p;

  token(ta, 0x41);
  token(tb, 0x42);
  token(tc, 0x43);
  CHECK_INT(store_session_create(c, alice, "", ta, 3600, NULL), ==, STORE_OK);
  CHECK_INT(store_session_create(c, bob, "", tb, 3600, NULL), ==, STORE_OK);
  CHECK_INT(store_session_lookup(c, ta, &p), ==, STORE_OK);

  /* Expired an hour ago. */
  pgtest_exec(conninfo,
              "UPDATE sessions SET created_at = now() - interval '2 hours',"
              " expires_at = now() - interval '1 hour'"
              " WHERE user_id = (SELECT id FROM users WHERE login = 'alice')");
  CHECK_INT(store_session_lookup(c, ta, &p), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "token expired or revoked");

  /* A deactivated account stops working even if a session escaped
   * revocation (here the flag is flipped behind storage's back). */
  CHECK_INT(store_session_lookup(c, tb, &p), ==, STORE_OK);
  pgtest_exec(conninfo, "UPDATE users SET active = false, deactivated_at = now()"
                        " WHERE login = 'bob'");
  CHECK_INT(store_session_lookup(c, tb, &p), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "token expired or revoked");
  CHECK_INT(store_session_create(c, bob, "", tc, 60, NULL), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "user \"bob\" is deactivated");
  store_close(c);
}

/* A very short session really does run out. */
TEST(session_ttl_runs_out)
{
  struct store_conn *c = db();
  int64_t alice = user(c, "alice", "Alice", HASH);
  uint8_t t[STORE_TOKEN_HASH_LEN];
  struct store_principal p;
  struct timespec pause = {1, 200 * 1000 * 1000};

  token(t, 0x51);
  CHECK_INT(store_session_create(c, alice, "", t, 1, NULL), ==, STORE_OK);
  CHECK_INT(store_session_lookup(c, t, &p), ==, STORE_OK);
  nanosleep(&pause, NULL);
  CHECK_INT(store_session_lookup(c, t, &p), ==, STORE_EINVAL);
  store_close(c);
}

TEST(bot_tokens)
{
  struct store_conn *c = db();
  int64_t alice = user(c, "alice", "Alice", HASH), bot = 0;
  uint8_t t[STORE_TOKEN_HASH_LEN];
  struct store_principal p;

  token(t, 0x61);
  CHECK_INT(store_bot_create(c, "deploy", alice, t, NULL, 0, &bot), ==, STORE_OK);
  CHECK_INT(store_session_lookup(c, t, &p), ==, STORE_OK);
  CHECK_INT(p.kind, ==, STORE_PRINCIPAL_BOT);
  CHECK_INT(p.id, ==, bot);
  CHECK_STR(p.login, "deploy");
  CHECK_STR(p.display_name, "deploy");
  CHECK_STR(p.time_zone, "UTC");
  CHECK_INT(p.device_id, ==, 0);
  CHECK_INT(p.expires_at_ms, ==, 0);
  /* A bot has no session to end. */
  CHECK_INT(store_session_revoke(c, t), ==, STORE_ENOTFOUND);

  CHECK_INT(store_bot_revoke(c, bot), ==, STORE_OK);
  CHECK_INT(store_session_lookup(c, t, &p), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "token expired or revoked");
  store_close(c);
}

TEST_MAIN()
