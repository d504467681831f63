/*
 * test_store_messages.c — reading messages back (replay pages, older
 * history, what non-members get) and conversation summaries, against a
 * real PostgreSQL. The send path has its own file, test_store_send.c.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "pgtest.h"
#include "store.h"
#include "chat_fixture.h"


/* Ten messages with 10-byte bodies into "All". */
static void ten_messages(struct fixture *f)
{
  struct store_send in[10];
  struct store_send_result out[10];
  char cmids[10][8];

  for (int i = 0; i < 10; i++) {
    snprintf(cmids[i], sizeof cmids[i], "m%d", i + 1);
    in[i] = chat_msg(f->alice, cmids[i], f->all, "0123456789");
  }
  CHECK_INT(store_send_batch(f->c, in, 10, out), ==, STORE_OK);
}

/* Reads a page after `after` and checks its seqs are first..last. */
static void check_after(struct fixture *f, int64_t after, int64_t upto,
                        size_t limit, size_t max_bytes, int64_t first,
                        int64_t last)
{
  struct store_message *m = NULL;
  size_t n = 99;

  CHECK_INT(store_messages_after(f->c, STORE_PRINCIPAL_USER, f->bob, f->all, after,
                                 upto, limit, max_bytes, &m, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, last >= first ? last - first + 1 : 0);
  for (size_t i = 0; i < n; i++)
    CHECK_INT(m[i].seq, ==, first + (int64_t)i);
  if (n == 0)
    CHECK(m == NULL);
  store_messages_free(m, n);
}

TEST(messages_after_pages)
{
  struct fixture f = chat_fixture_setup();

  ten_messages(&f);
  check_after(&f, 0, 0, 3, 0, 1, 3);
  check_after(&f, 3, 0, 3, 0, 4, 6);
  check_after(&f, 0, 0, 100, 0, 1, 10);
  /* Byte bound: 10 bytes each, so 25 bytes hold two; one always comes. */
  check_after(&f, 3, 0, 100, 25, 4, 5);
  check_after(&f, 3, 0, 100, 30, 4, 6);
  check_after(&f, 3, 0, 100, 5, 4, 4);
  check_after(&f, 3, 0, 1, 1000, 4, 4);
  /* upto caps the range. */
  check_after(&f, 5, 7, 100, 0, 6, 7);
  check_after(&f, 7, 7, 100, 0, 1, 0);
  /* Past the end: empty, not an error. */
  check_after(&f, 10, 0, 100, 0, 1, 0);
  check_after(&f, 50, 0, 100, 0, 1, 0);
  {
    struct store_message *m = NULL;
    size_t n = 0;

    CHECK_INT(store_messages_after(f.c, STORE_PRINCIPAL_USER, f.bob, f.all, 0, 0,
                                   0, 0, &m, &n), ==, STORE_EINVAL);
    CHECK_STR(store_errmsg(f.c), "page limit must be at least 1");
  }
  store_close(f.c);
}

static void check_before(struct fixture *f, int64_t before, size_t limit,
                         int64_t first, int64_t last)
{
  struct store_message *m = NULL;
  size_t n = 99;

  CHECK_INT(store_messages_before(f->c, STORE_PRINCIPAL_USER, f->alice, f->all,
                                  before, limit, &m, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, last >= first ? last - first + 1 : 0);
  for (size_t i = 0; i < n; i++)
    CHECK_INT(m[i].seq, ==, first + (int64_t)i);
  store_messages_free(m, n);
}

TEST(messages_before_ascending)
{
  struct fixture f = chat_fixture_setup();

  ten_messages(&f);
  check_before(&f, 0, 3, 8, 10);
  check_before(&f, 8, 3, 5, 7);
  check_before(&f, 2, 5, 1, 1);
  check_before(&f, 1, 5, 1, 0);
  check_before(&f, 0, 100, 1, 10);
  store_close(f.c);
}

/* A non-member learns nothing: the same code and wording as for a
 * conversation that does not exist. */
TEST(messages_not_found_for_non_members)
{
  struct fixture f = chat_fixture_setup();
  struct store_message *m = NULL;
  struct store_conv_summary s;
  char want[64], sql[160];
  size_t n = 0;

  ten_messages(&f);
  CHECK_INT(store_messages_after(f.c, STORE_PRINCIPAL_USER, f.carol, f.all, 0, 0,
                                 10, 0, &m, &n), ==, STORE_ENOTFOUND);
  snprintf(want, sizeof want, "unknown conversation id %lld", (long long)f.all);
  CHECK_STR(store_errmsg(f.c), want);
  CHECK_INT(store_messages_before(f.c, STORE_PRINCIPAL_USER, f.carol, f.all, 0, 10,
                                  &m, &n), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(f.c), want);
  CHECK_INT(store_conversation_get(f.c, STORE_PRINCIPAL_USER, f.carol, f.all, &s),
            ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(f.c), want);

  CHECK_INT(store_messages_after(f.c, STORE_PRINCIPAL_USER, f.alice, 424242, 0, 0,
                                 10, 0, &m, &n), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(f.c), "unknown conversation id 424242");
  CHECK_INT(store_messages_before(f.c, STORE_PRINCIPAL_USER, f.alice, 424242, 0, 10,
                                  &m, &n), ==, STORE_ENOTFOUND);
  CHECK_INT(store_conversation_get(f.c, STORE_PRINCIPAL_USER, f.alice, 424242, &s),
            ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(f.c), "unknown conversation id 424242");

  /* A member who left reads no more. */
  snprintf(sql, sizeof sql,
           "UPDATE members SET left_seq = 10 WHERE user_id = %lld"
           " AND conversation_id = %lld", (long long)f.bob, (long long)f.all);
  pgtest_exec(conninfo, sql);
  CHECK_INT(store_messages_after(f.c, STORE_PRINCIPAL_USER, f.bob, f.all, 0, 0, 10,
                                 0, &m, &n), ==, STORE_ENOTFOUND);
  store_close(f.c);
}

TEST(principal_conversations)
{
  struct fixture f = chat_fixture_setup();
  struct store_conv_summary *list = NULL, s;
  uint8_t h[STORE_TOKEN_HASH_LEN];
  int64_t dm = 0, self = 0, bot = 0;
  size_t n = 0;

  CHECK_INT(store_direct_get_or_create(f.c, f.bob, f.alice, &dm, NULL), ==, STORE_OK);
  CHECK_INT(store_direct_get_or_create(f.c, f.alice, f.alice, &self, NULL), ==,
            STORE_OK);
  ten_messages(&f);

  CHECK_INT(store_principal_conversations(f.c, STORE_PRINCIPAL_USER, f.alice, &list,
                                          &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 5);
  CHECK_INT(list[0].id, ==, f.all);
  CHECK_STR(list[0].title, "All");
  CHECK(!list[0].direct);
  CHECK_INT(list[0].role, ==, STORE_OWNER);
  CHECK_INT(list[0].tracking, ==, STORE_TRACK_ALL);
  CHECK_INT(list[0].last_seq, ==, 10);
  CHECK_INT(list[0].member_count, ==, 2);
  CHECK_INT(list[1].tracking, ==, STORE_TRACK_FLAGGED);
  CHECK_INT(list[2].tracking, ==, STORE_TRACK_OFF);
  CHECK_INT(list[3].id, ==, dm);
  CHECK(list[3].direct);
  CHECK_STR(list[3].title, "Bob");
  CHECK_INT(list[3].member_count, ==, 2);
  CHECK_INT(list[4].id, ==, self);
  CHECK_STR(list[4].title, "Alice");
  CHECK_INT(list[4].member_count, ==, 1);
  free(list);

  CHECK_INT(store_conversation_get(f.c, STORE_PRINCIPAL_USER, f.bob, dm, &s), ==,
            STORE_OK);
  CHECK_STR(s.title, "Alice");
  CHECK_INT(s.role, ==, STORE_OWNER);
  CHECK_INT(store_conversation_get(f.c, STORE_PRINCIPAL_USER, f.bob, f.all, &s), ==,
            STORE_OK);
  CHECK_INT(s.role, ==, STORE_MEMBER);
  CHECK_INT(s.read_seq, ==, 0);
  CHECK_INT(s.joined_seq, ==, 0);
  CHECK_INT(store_conversation_get(f.c, STORE_PRINCIPAL_USER, f.carol, dm, &s), ==,
            STORE_ENOTFOUND);

  CHECK_INT(store_principal_conversations(f.c, STORE_PRINCIPAL_USER, f.carol, &list,
                                          &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 0);
  CHECK(list == NULL);

  /* A bot sees where it may post. */
  memset(h, 7, sizeof h);
  CHECK_INT(store_bot_create(f.c, "deploy", f.alice, h, &f.off, 1, &bot), ==,
            STORE_OK);
  CHECK_INT(store_bot_allow(f.c, bot, dm), ==, STORE_OK);
  CHECK_INT(store_principal_conversations(f.c, STORE_PRINCIPAL_BOT, bot, &list, &n),
            ==, STORE_OK);
  CHECK_UINT(n, ==, 2);
  CHECK_STR(list[0].title, "Off");
  CHECK_INT(list[0].role, ==, STORE_MEMBER);
  CHECK_STR(list[1].title, "Alice, Bob");
  free(list);
  CHECK_INT(store_conversation_get(f.c, STORE_PRINCIPAL_BOT, bot, f.all, &s), ==,
            STORE_ENOTFOUND);
  CHECK_INT(store_bot_revoke(f.c, bot), ==, STORE_OK);
  CHECK_INT(store_principal_conversations(f.c, STORE_PRINCIPAL_BOT, bot, &list, &n),
            ==, STORE_OK);
  CHECK_UINT(n, ==, 0);
  store_close(f.c);
}

TEST_MAIN()
