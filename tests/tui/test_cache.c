/*
 * test_cache.c — herald's offline cache: the model written and read back
 * (messages with any UTF-8 and newlines, receipts, DING boards, pending
 * DING banners, the conversation on screen), a private file mode, and
 * damaged files refused rather than half-read as good.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "herald_int.h"

static void msg(struct hconv *c, uint64_t seq, uint64_t from, const char *body)
{
  struct proto_msg pm;

  memset(&pm, 0, sizeof pm);
  pm.conv = c->id;
  pm.seq = seq;
  pm.from = from;
  pm.ts = 1700000000000ull + seq;
  pm.kind = PROTO_KIND_TEXT;
  pm.body = (struct proto_str){body, strlen(body)};
  pm.tracked = true;
  CHECK(model_msg_add(c, &pm, 0) != NULL);
}

static void fill(struct model *m)
{
  struct hconv *c;
  struct hmsg *x;
  struct hbanner b = {.conv = 7, .seq = 3, .from = 2, .urg = PROTO_URG_URGENT};

  model_init(m);
  m->me = 1;
  m->my_login = strdup("ann");
  m->my_name = strdup("Ann");
  m->role = PROTO_ROLE_MANAGER;
  CHECK_INT(model_user_set(m, 2, "ben", 3, "Ben 本", strlen("Ben 本")), ==, 0);
  c = model_conv_add(m, 7);
  c->type = PROTO_CONV_GROUP;
  c->title = strdup("Launch 发布");
  c->members = 3;
  c->read_upto = 2;
  msg(c, 2, 1, "two\nlines");
  msg(c, 1, 2, "你好 😀");
  msg(c, 3, 2, "12:3 looks like a length");
  x = model_msg(c, 2);
  x->rd = 1;
  x->total = 2;
  x->kind = PROTO_KIND_DING;
  x->urg = PROTO_URG_CRITICAL;
  x->ding_n = 2;
  CHECK(model_ding_row(x, 2, true));
  CHECK(model_ding_row(x, 3, false));
  CHECK_INT(model_banner_add(m, &b), ==, 0);
  m->shown = 7;
}

TEST(round_trip)
{
  struct model a, b;
  char *text, *text2;
  size_t len, len2;
  struct hconv *c;
  struct hmsg *x;

  fill(&a);
  CHECK_INT(cache_format(&a, &text, &len), ==, 0);
  model_init(&b);
  CHECK_INT(cache_parse(&b, text, len), ==, 0);
  CHECK_UINT(b.me, ==, 1);
  CHECK_STR(b.my_name, "Ann");
  CHECK_UINT(b.role, ==, PROTO_ROLE_MANAGER);
  CHECK_STR(model_user(&b, 2)->name, "Ben 本");
  c = model_conv(&b, 7);
  CHECK(c != NULL);
  CHECK_STR(c->title, "Launch 发布");
  CHECK_UINT(c->n, ==, 3);
  CHECK_UINT(c->read_upto, ==, 2);
  CHECK_UINT(c->last, ==, 3);
  CHECK_STR(c->msgs[0].body, "你好 😀");
  CHECK_STR(c->msgs[1].body, "two\nlines");
  x = model_msg(c, 2);
  CHECK_UINT(x->rd, ==, 1);
  CHECK_UINT(x->total, ==, 2);
  CHECK_UINT(x->urg, ==, PROTO_URG_CRITICAL);
  CHECK_UINT(model_ding_acked(x), ==, 1);
  CHECK_UINT(model_ding_total(c, x), ==, 2);
  CHECK_UINT(b.nbanners, ==, 1);
  CHECK_UINT(b.banners[0].seq, ==, 3);
  CHECK_UINT(b.shown, ==, 7);
  CHECK_UINT(model_unread(&b, c), ==, 1);
  /* Formatting the parsed model gives the same text. */
  CHECK_INT(cache_format(&b, &text2, &len2), ==, 0);
  CHECK_UINT(len2, ==, len);
  CHECK_MEM(text, text2, len);
  free(text);
  free(text2);
  model_cleanup(&a);
  model_cleanup(&b);
}

TEST(damaged_files_are_refused)
{
  struct model a, b;
  char *text;
  size_t len;

  fill(&a);
  CHECK_INT(cache_format(&a, &text, &len), ==, 0);
  /* Not a cache. */
  model_init(&b);
  CHECK_INT(cache_parse(&b, "hello\n", 6), ==, -EBADMSG);
  model_cleanup(&b);
  /* Cut in the middle of a message body: every prefix parses or is
   * refused, never crashes or reads past the end. */
  for (size_t cut = 0; cut < len; cut++) {
    model_init(&b);
    (void)cache_parse(&b, text, cut);
    model_cleanup(&b);
  }
  /* A length that runs past the end. */
  {
    const char bad[] = "herald-cache 1\nconv 7 1 0 0 0 0 99:short\n";

    model_init(&b);
    CHECK_INT(cache_parse(&b, bad, sizeof bad - 1), ==, -EBADMSG);
    model_cleanup(&b);
  }
  free(text);
  model_cleanup(&a);
}

TEST(file_is_private_and_replaced)
{
  char dir[] = "/tmp/herald-cache-XXXXXX", path[256];
  struct model a, b;
  struct stat st;

  CHECK(mkdtemp(dir) != NULL);
  fill(&a);
  CHECK_INT(cache_save(&a, dir), ==, 0);
  CHECK_INT(cache_save(&a, dir), ==, 0);
  snprintf(path, sizeof path, "%s/herald-cache", dir);
  CHECK_INT(stat(path, &st), ==, 0);
  CHECK_UINT(st.st_mode & 0777, ==, 0600);
  snprintf(path, sizeof path, "%s/herald-cache.tmp", dir);
  CHECK(access(path, F_OK) != 0);
  model_init(&b);
  CHECK_INT(cache_load(&b, dir), ==, 0);
  CHECK_UINT(model_conv(&b, 7)->n, ==, 3);
  CHECK(!cache_flag_get(dir, "flag"));
  CHECK_INT(cache_flag_set(dir, "flag"), ==, 0);
  CHECK(cache_flag_get(dir, "flag"));
  model_cleanup(&a);
  model_cleanup(&b);
  snprintf(path, sizeof path, "%s/herald-cache", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/flag", dir);
  unlink(path);
  rmdir(dir);
}

TEST(missing_file_loads_nothing)
{
  struct model m;

  model_init(&m);
  CHECK_INT(cache_load(&m, "/nonexistent-herald-dir"), ==, 0);
  CHECK_UINT(m.nconvs, ==, 0);
  model_cleanup(&m);
}

TEST(keep_bounds_the_messages)
{
  struct model m;
  struct hconv *c;

  model_init(&m);
  c = model_conv_add(&m, 1);
  for (uint64_t s = 1; s <= 10; s++) {
    struct proto_msg pm;

    memset(&pm, 0, sizeof pm);
    pm.conv = 1;
    pm.seq = s;
    pm.from = 2;
    pm.kind = PROTO_KIND_TEXT;
    pm.body = (struct proto_str){"x", 1};
    model_msg_add(c, &pm, 4);
  }
  CHECK_UINT(c->n, ==, 4);
  CHECK_UINT(c->msgs[0].seq, ==, 7);
  /* A duplicate is ignored. */
  {
    struct proto_msg pm;

    memset(&pm, 0, sizeof pm);
    pm.conv = 1;
    pm.seq = 9;
    pm.body = (struct proto_str){"y", 1};
    CHECK(model_msg_add(c, &pm, 4) == NULL);
  }
  model_cleanup(&m);
}

TEST_MAIN()
