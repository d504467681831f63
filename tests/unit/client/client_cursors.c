/*
 * Unit tests for clients/lib/cursors.c: the cursor table, its text format
 * and the atomic save into the state directory.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "hc_int.h"
#include "tmpdir.h"

TEST(table_get_set_grow)
{
  struct hc_cursors cur;
  bool known;

  hc_cursors_init(&cur);
  CHECK_UINT(hc_cursors_get(&cur, 5, &known), ==, 0);
  CHECK(!known);
  CHECK(!cur.dirty);
  for (uint64_t i = 1; i <= 5000; i++)
    CHECK_INT(hc_cursors_set(&cur, i * 7919, i), ==, 0);
  CHECK_UINT(cur.n, ==, 5000);
  CHECK(cur.dirty);
  for (uint64_t i = 1; i <= 5000; i++) {
    CHECK_UINT(hc_cursors_get(&cur, i * 7919, &known), ==, i);
    CHECK(known);
  }
  CHECK_UINT(hc_cursors_get(&cur, 3, &known), ==, 0);
  CHECK(!known);
  /* Setting the same value is not a change. */
  cur.dirty = false;
  CHECK_INT(hc_cursors_set(&cur, 7919, 1), ==, 0);
  CHECK(!cur.dirty);
  CHECK_INT(hc_cursors_set(&cur, 7919, 2), ==, 0);
  CHECK(cur.dirty);
  CHECK_INT(hc_cursors_set(&cur, 0, 1), ==, -EINVAL);
  hc_cursors_cleanup(&cur);
}

TEST(list_is_sorted_and_bounded)
{
  struct hc_cursors cur;
  struct proto_cursor out[3];

  hc_cursors_init(&cur);
  CHECK_UINT(hc_cursors_list(&cur, NULL, 0), ==, 0);
  hc_cursors_set(&cur, 30, 3);
  hc_cursors_set(&cur, 10, 1);
  hc_cursors_set(&cur, 20, 2);
  hc_cursors_set(&cur, 40, 4);
  CHECK_UINT(hc_cursors_list(&cur, out, 3), ==, 4);
  for (int i = 0; i < 2; i++)
    CHECK_UINT(out[i].conv, <, out[i + 1].conv);
  CHECK_UINT(hc_cursors_list(&cur, NULL, 0), ==, 4);
  hc_cursors_cleanup(&cur);
}

TEST(format_parse_roundtrip)
{
  struct hc_cursors a, b;
  char *text;
  size_t len;

  hc_cursors_init(&a);
  hc_cursors_init(&b);
  hc_cursors_set(&a, 9, 100);
  hc_cursors_set(&a, 7, 42);
  hc_cursors_set(&a, PROTO_ID_MAX, PROTO_ID_MAX);
  hc_cursors_set_feed(&a, 12);
  CHECK_INT(hc_cursors_format(&a, &text, &len), ==, 0);
  CHECK_UINT(strlen(text), ==, len);
  CHECK(strncmp(text, "herald-cursors 1\nfeed 12\n7 42\n9 100\n", 36) == 0);
  CHECK_INT(hc_cursors_parse(&b, text, len), ==, 0);
  CHECK(!b.dirty);
  CHECK_UINT(b.feed, ==, 12);
  CHECK_UINT(b.n, ==, 3);
  CHECK_UINT(hc_cursors_get(&b, 7, NULL), ==, 42);
  CHECK_UINT(hc_cursors_get(&b, 9, NULL), ==, 100);
  CHECK_UINT(hc_cursors_get(&b, PROTO_ID_MAX, NULL), ==, PROTO_ID_MAX);
  free(text);
  hc_cursors_cleanup(&a);
  hc_cursors_cleanup(&b);
}

TEST(parse_refuses_damage)
{
  static const char *const bad[] = {
    "",
    "herald-cursors 2\nfeed 0\n",
    "herald-cursors 1\n",
    "herald-cursors 1\nfeed x\n",
    "herald-cursors 1\nfeed 1\n7 42",              /* no newline: cut short */
    "herald-cursors 1\nfeed 1\n7\n",
    "herald-cursors 1\nfeed 1\n0 5\n",             /* conversation 0 */
    "herald-cursors 1\nfeed 1\n7 -1\n",
    "herald-cursors 1\nfeed 1\n7 99999999999999999999\n",
    "herald-cursors 1\nfeed 1\n7 9223372036854775808\n",  /* above 2^63-1 */
  };

  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    struct hc_cursors cur;

    hc_cursors_init(&cur);
    if (hc_cursors_parse(&cur, bad[i], strlen(bad[i])) != -EBADMSG)
      CHECK_FAIL("accepted bad cursor file #%zu: \"%s\"", i, bad[i]);
    hc_cursors_cleanup(&cur);
  }
}

TEST(save_load_atomic)
{
  struct hc_statedir sd;
  struct hc_cursors a, b;
  char path[600];
  struct stat st;

  snprintf(path, sizeof path, "%s/cur", test_tmpdir());
  CHECK_INT(hc_statedir_open(&sd, path), ==, 0);
  hc_cursors_init(&a);
  hc_cursors_init(&b);
  /* No file yet: an empty table. */
  CHECK_INT(hc_cursors_load(&b, &sd), ==, 0);
  CHECK_UINT(b.n, ==, 0);
  hc_cursors_set(&a, 3, 33);
  hc_cursors_set_feed(&a, 5);
  CHECK_INT(hc_cursors_save(&a, &sd), ==, 0);
  CHECK(!a.dirty);
  hc_cursors_set(&a, 3, 34);
  CHECK_INT(hc_cursors_save(&a, &sd), ==, 0);
  CHECK_INT(hc_cursors_load(&b, &sd), ==, 0);
  CHECK_UINT(hc_cursors_get(&b, 3, NULL), ==, 34);
  CHECK_UINT(b.feed, ==, 5);
  snprintf(path, sizeof path, "%s/cur/cursors", test_tmpdir());
  CHECK_INT(stat(path, &st), ==, 0);
  CHECK_UINT(st.st_mode & 0777, ==, 0600);
  snprintf(path, sizeof path, "%s/cur/cursors.tmp", test_tmpdir());
  CHECK_INT(access(path, F_OK), ==, -1);          /* no leftover */
  hc_cursors_cleanup(&a);
  hc_cursors_cleanup(&b);
  hc_statedir_close(&sd);
}

TEST_MAIN()
