/*
 * chat_fixture.c — the shared cast of the chat-core storage tests (see
 * chat_fixture.h).
 */
#include "chat_fixture.h"

#include <string.h>

#include "check.h"
#include "pgtest.h"

char conninfo[1024];


static int64_t user(struct store_conn *c, const char *login, const char *name)
{
  struct store_user_new u = {.login = login, .display_name = name,
                             .role = STORE_ROLE_STAFF};
  int64_t id = 0;

  CHECK_INT(store_user_add(c, &u, &id), ==, STORE_OK);
  return id;
}

struct fixture chat_fixture_setup(void)
{
  struct fixture f;
  int64_t members[1];

  memset(&f, 0, sizeof f);
  pgtest_db_new(conninfo, sizeof conninfo);
  if (store_connect(conninfo, &f.c) != STORE_OK)
    CHECK_FAIL("store_connect: %s", store_errmsg(f.c));
  CHECK_INT(store_migrate(f.c, NULL), ==, STORE_OK);
  f.alice = user(f.c, "alice", "Alice");
  f.bob = user(f.c, "bob", "Bob");
  f.carol = user(f.c, "carol", "Carol");
  members[0] = f.bob;
  CHECK_INT(store_group_create(f.c, "All", f.alice, STORE_TRACK_ALL, members, 1,
                               &f.all), ==, STORE_OK);
  CHECK_INT(store_group_create(f.c, "Flagged", f.alice, STORE_TRACK_FLAGGED,
                               members, 1, &f.flagged), ==, STORE_OK);
  CHECK_INT(store_group_create(f.c, "Off", f.alice, STORE_TRACK_OFF, members, 1,
                               &f.off), ==, STORE_OK);
  return f;
}

struct store_send chat_msg(int64_t sender, const char *cmid, int64_t conv,
                           const char *body)
{
  struct store_send m = {.sender_kind = STORE_PRINCIPAL_USER,
                         .sender_id = sender, .cmid = cmid,
                         .conversation_id = conv, .kind = STORE_MSG_TEXT,
                         .body = body, .body_len = strlen(body)};

  return m;
}
