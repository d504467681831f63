/*
 * test_store_conversations.c — groups, membership, direct pairs and bots
 * against a real PostgreSQL.
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

TEST(groups_and_members)
{
  struct store_conn *c = db();
  int64_t alice = user(c, "alice"), bob = user(c, "bob"), carol = user(c, "carol");
  int64_t members[] = {bob, alice, bob};
  struct store_group g, *list = NULL;
  struct store_member *m = NULL;
  int64_t id = 0;
  size_t n = 0;

  CHECK_INT(store_group_create(c, "Ops", alice, STORE_TRACK_FLAGGED, members, 3,
                               &id), ==, STORE_OK);
  CHECK_INT(store_group_get(c, "ops", &g), ==, STORE_OK);
  CHECK_INT(g.id, ==, id);
  CHECK_STR(g.title, "Ops");
  CHECK_INT(g.member_count, ==, 2);
  CHECK_INT(g.tracking, ==, STORE_TRACK_FLAGGED);
  CHECK_STR(g.owner_login, "alice");

  CHECK_INT(store_group_create(c, "OPS", bob, STORE_TRACK_ALL, NULL, 0, NULL), ==,
            STORE_EEXISTS);
  CHECK_STR(store_errmsg(c), "group \"OPS\" already exists");
  CHECK_INT(store_group_create(c, "", bob, STORE_TRACK_ALL, NULL, 0, NULL), ==,
            STORE_EINVAL);
  CHECK_INT(store_group_create(c, "X", 999, STORE_TRACK_ALL, NULL, 0, NULL), ==,
            STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown user id 999");

  /* Messages before a member joins are not theirs to read. */
  pgtest_exec(conninfo, "UPDATE conversations SET last_seq = 41 WHERE title = 'Ops'");
  CHECK_INT(store_group_add_member(c, id, carol, STORE_MEMBER), ==, STORE_OK);
  CHECK_INT(store_group_add_member(c, id, carol, STORE_MEMBER), ==, STORE_EEXISTS);
  CHECK_STR(store_errmsg(c), "\"carol\" is already a member of \"Ops\"");
  CHECK_INT(store_group_add_member(c, 12345, carol, STORE_MEMBER), ==,
            STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown conversation id 12345");

  CHECK_INT(store_conversation_members(c, id, &m, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 3);
  CHECK_STR(m[0].login, "alice");
  CHECK_INT(m[0].role, ==, STORE_OWNER);
  CHECK_INT(m[0].joined_seq, ==, 0);
  CHECK_STR(m[2].login, "carol");
  CHECK_INT(m[2].role, ==, STORE_MEMBER);
  CHECK_INT(m[2].joined_seq, ==, 41);
  CHECK_INT(m[2].read_seq, ==, 41);
  CHECK_INT(m[2].delivered_seq, ==, 41);
  free(m);

  /* Deactivated users cannot be added. */
  {
    int64_t dave = user(c, "dave");

    CHECK_INT(store_user_deactivate(c, "dave"), ==, STORE_OK);
    CHECK_INT(store_group_add_member(c, id, dave, STORE_MEMBER), ==, STORE_EINVAL);
    CHECK_STR(store_errmsg(c), "user \"dave\" is deactivated");
  }

  CHECK_INT(store_group_create(c, "Alpha", bob, STORE_TRACK_OFF, NULL, 0, NULL), ==,
            STORE_OK);
  CHECK_INT(store_group_list(c, &list, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 2);
  CHECK_STR(list[0].title, "Alpha");
  CHECK_INT(list[0].member_count, ==, 1);
  CHECK_STR(list[1].title, "Ops");
  CHECK_INT(list[1].member_count, ==, 3);
  free(list);
  CHECK_INT(store_group_get(c, "nope", &g), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown group \"nope\"");
  store_close(c);
}

TEST(direct_pair_exists_once)
{
  struct store_conn *c = db();
  int64_t a = user(c, "a"), b = user(c, "b"), id1 = 0, id2 = 0, id3 = 0;
  struct store_member *m = NULL;
  bool created = false;
  size_t n;

  CHECK_INT(store_direct_get_or_create(c, a, b, &id1, &created), ==, STORE_OK);
  CHECK(created);
  CHECK_INT(store_direct_get_or_create(c, b, a, &id2, &created), ==, STORE_OK);
  CHECK(!created);
  CHECK_INT(id1, ==, id2);
  CHECK_INT(store_conversation_members(c, id1, &m, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 2);
  free(m);
  /* A note-to-self conversation has one member. */
  CHECK_INT(store_direct_get_or_create(c, a, a, &id3, &created), ==, STORE_OK);
  CHECK(created);
  CHECK_INT(id3, !=, id1);
  CHECK_INT(store_conversation_members(c, id3, &m, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 1);
  free(m);
  /* Groups and direct conversations do not mix. */
  CHECK_INT(store_group_add_member(c, id1, a, STORE_MEMBER), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "cannot add members to a direct conversation");
  CHECK_INT(store_direct_get_or_create(c, a, 999, &id3, NULL), ==, STORE_ENOTFOUND);
  store_close(c);
}

/* Two processes racing to open the same 1:1 conversation get one. */
TEST(direct_pair_race)
{
  struct store_conn *c = db();
  int64_t a = user(c, "a"), b = user(c, "b");
  int fds[2], out[2];
  pid_t pid[2];
  int64_t got[2];

  CHECK_INT(pipe(fds), ==, 0);
  CHECK_INT(pipe(out), ==, 0);
  for (int i = 0; i < 2; i++) {
    pid[i] = fork();
    CHECK(pid[i] >= 0);
    if (pid[i] == 0) {
      struct store_conn *k = NULL;
      int64_t id = -1;
      char ch;

      close(fds[1]);
      if (read(fds[0], &ch, 1) < 0)
        _exit(2);
      if (store_connect(conninfo, &k) != STORE_OK ||
          store_direct_get_or_create(k, i ? a : b, i ? b : a, &id, NULL) != STORE_OK)
        _exit(1);
      if (write(out[1], &id, sizeof id) != sizeof id)
        _exit(3);
      store_close(k);
      _exit(0);
    }
  }
  close(fds[0]);
  close(fds[1]);
  for (int i = 0; i < 2; i++) {
    int st;

    CHECK_INT(waitpid(pid[i], &st, 0), ==, pid[i]);
    CHECK(WIFEXITED(st));
    CHECK_INT(WEXITSTATUS(st), ==, 0);
    CHECK_INT(read(out[0], &got[i], sizeof got[i]), ==, (long long)sizeof got[i]);
  }
  CHECK_INT(got[0], ==, got[1]);
  store_close(c);
}

TEST(bots_create_list_revoke)
{
  struct store_conn *c = db();
  int64_t alice = user(c, "alice"), group = 0, bot = 0, bot2 = 0;
  uint8_t hash[STORE_TOKEN_HASH_LEN], hash2[STORE_TOKEN_HASH_LEN];
  struct store_bot b, *list = NULL;
  size_t n = 0;

  memset(hash, 0xab, sizeof hash);
  memset(hash2, 0xcd, sizeof hash2);
  CHECK_INT(store_group_create(c, "Ops", alice, STORE_TRACK_ALL, NULL, 0, &group),
            ==, STORE_OK);
  CHECK_INT(store_bot_create(c, "deploy", alice, hash, &group, 1, &bot), ==, STORE_OK);
  CHECK_INT(store_bot_create(c, "Deploy", alice, hash2, NULL, 0, NULL), ==,
            STORE_EEXISTS);
  CHECK_STR(store_errmsg(c), "bot \"Deploy\" already exists");
  CHECK_INT(store_bot_create(c, "bad name", alice, hash2, NULL, 0, NULL), ==,
            STORE_EINVAL);
  CHECK_CONTAINS(store_errmsg(c), "invalid bot name \"bad name\"");
  {
    int64_t nowhere = 777;

    CHECK_INT(store_bot_create(c, "ghostly", alice, hash2, &nowhere, 1, NULL), ==,
              STORE_ENOTFOUND);
    CHECK_STR(store_errmsg(c), "unknown conversation id 777");
    /* ... and the refused bot does not exist. */
    CHECK_INT(store_bot_get(c, "ghostly", &b), ==, STORE_ENOTFOUND);
  }
  CHECK_INT(store_bot_get(c, "DEPLOY", &b), ==, STORE_OK);
  CHECK_INT(b.id, ==, bot);
  CHECK_STR(b.owner_login, "alice");
  CHECK_INT(b.conversation_count, ==, 1);
  CHECK_INT(b.rate_limit_per_minute, ==, 20);
  CHECK(!b.revoked);

  CHECK_INT(store_bot_create(c, "other", alice, hash2, NULL, 0, &bot2), ==, STORE_OK);
  CHECK_INT(store_bot_allow(c, bot2, group), ==, STORE_OK);
  CHECK_INT(store_bot_allow(c, bot2, group), ==, STORE_OK); /* idempotent */
  CHECK_INT(store_bot_revoke(c, bot2), ==, STORE_OK);
  CHECK_INT(store_bot_revoke(c, bot2), ==, STORE_OK);
  CHECK_INT(store_bot_allow(c, bot2, group), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "bot \"other\" is revoked");
  CHECK_INT(store_bot_revoke(c, 4242), ==, STORE_ENOTFOUND);

  CHECK_INT(store_bot_list(c, &list, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 2);
  CHECK_STR(list[0].name, "deploy");
  CHECK(!list[0].revoked);
  CHECK_STR(list[1].name, "other");
  CHECK(list[1].revoked);
  CHECK_INT(list[1].conversation_count, ==, 1);
  free(list);

  /* A deactivated owner cannot get new bots. */
  CHECK_INT(store_user_deactivate(c, "alice"), ==, STORE_OK);
  CHECK_INT(store_bot_create(c, "late", alice, hash2, NULL, 0, NULL), ==, STORE_EINVAL);
  store_close(c);
}

TEST_MAIN()
