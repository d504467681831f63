/*
 * test_cards.c — herald's curses-free card code: the model's card states
 * (newest version wins, replays ignored, the message linked), the cache
 * round trip, the box layout (every line exactly as wide as asked, CJK
 * and emoji included, the actions offered to me), and the parsing of the
 * card commands into bodies and arguments.
 */
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "herald_int.h"
#include "text.h"

static void utf8(void)
{
  if (!setlocale(LC_ALL, "C.UTF-8"))
    CHECK_FAIL("no C.UTF-8 locale");
}

static void people(struct model *m)
{
  model_init(m);
  m->me = 1;
  m->my_login = strdup("ann");
  m->my_name = strdup("Ann");
  CHECK_INT(model_user_set(m, 1, "ann", 3, "Ann", 3), ==, 0);
  CHECK_INT(model_user_set(m, 2, "ben", 3, "Ben 本", strlen("Ben 本")), ==, 0);
}

static char *payload(const char *state)
{
  char *p = NULL;

  CHECK(asprintf(&p, "{\"action\":\"x\",\"state\":%s}", state) > 0);
  return p;
}

static void apply(struct model *m, uint64_t id, uint64_t ver,
                  const char *state, int want)
{
  char *p = payload(state);

  CHECK_INT(model_card_apply(m, id, ver, 7, 3, p, strlen(p)), ==, want);
  free(p);
}

/* Every line of the box is `width` columns; returns the text joined. */
static char *box(struct model *m, uint64_t id, int width)
{
  char **v, *all = calloc(1, 1);
  size_t n = card_box(m, model_card(m, id), width, &v), len = 0;

  CHECK(n >= 3);
  for (size_t i = 0; i < n; i++) {
    CHECK_INT(tx_width_utf8(v[i], strlen(v[i])), ==, width);
    all = realloc(all, len + strlen(v[i]) + 2);
    memcpy(all + len, v[i], strlen(v[i]));
    len += strlen(v[i]);
    all[len++] = '\n';
    all[len] = '\0';
  }
  CHECK(strncmp(v[0], "┌", strlen("┌")) == 0);
  CHECK(strstr(v[0], "┐") != NULL);
  CHECK(strncmp(v[n - 1], "└", strlen("└")) == 0);
  card_box_free(v, n);
  return all;
}

static const char TASK[] =
  "{\"type\":\"task\",\"title\":\"写设计文档 and ship 🚀 it with a title "
  "long enough to wrap over the box\",\"assignees\":[1,2],\"due\":"
  "\"2026-12-15T23:59:59Z\",\"priority\":\"high\",\"status\":\"open\"}";

TEST(newest_version_wins)
{
  struct model m;
  struct hconv *c;
  struct proto_msg pm = {.conv = 7, .seq = 3, .kind = PROTO_KIND_CARD};
  struct hcard *k;

  people(&m);
  c = model_conv_add(&m, 7);
  pm.body = (struct proto_str){TASK, strlen(TASK)};
  CHECK(model_msg_add(c, &pm, 0) != NULL);
  /* The posted body stands in (ver 0) until the first event. */
  CHECK_INT(model_card_set(&m, 5, 7, 3, 0, TASK, strlen(TASK)), ==, 1);
  CHECK_UINT(model_msg(c, 3)->card, ==, 5);
  apply(&m, 5, 2, "{\"type\":\"task\",\"title\":\"t\",\"status\":\"done\"}", 1);
  apply(&m, 5, 1, "{\"type\":\"task\",\"title\":\"t\",\"status\":\"open\"}", 0);
  apply(&m, 5, 2, "{\"type\":\"task\",\"title\":\"t\",\"status\":\"open\"}", 0);
  CHECK_INT(model_card_set(&m, 5, 7, 3, 0, TASK, strlen(TASK)), ==, 0);
  k = model_card(&m, 5);
  CHECK_UINT(k->ver, ==, 2);
  CHECK_STR(json_string_value(json_object_get(k->state, "status")), "done");
  CHECK(model_card_at(&m, 7, 3) == k);
  /* Junk is refused, not half-applied. */
  CHECK_INT(model_card_apply(&m, 5, 9, 7, 3, "{", 1), ==, -EBADMSG);
  apply(&m, 5, 9, "{\"type\":\"poster\"}", -EBADMSG);
  CHECK_INT(model_card_apply(&m, 5, 9, 7, 3, "{}", 2), ==, 0);
  CHECK_UINT(k->ver, ==, 2);
  model_cleanup(&m);
}

TEST(cards_survive_the_cache)
{
  struct model m, back;
  char *text;
  size_t len;
  struct hcard *k;

  people(&m);
  model_conv_add(&m, 7);
  apply(&m, 5, 4, TASK, 1);
  CHECK_INT(cache_format(&m, &text, &len), ==, 0);
  model_init(&back);
  CHECK_INT(cache_parse(&back, text, len), ==, 0);
  CHECK((k = model_card(&back, 5)) != NULL);
  CHECK_UINT(k->ver, ==, 4);
  CHECK_UINT(k->conv, ==, 7);
  CHECK_UINT(k->seq, ==, 3);
  CHECK_INT(k->type, ==, CARD_TASK);
  CHECK(json_equal(k->state, model_card(&m, 5)->state));
  free(text);
  model_cleanup(&m);
  model_cleanup(&back);
}

TEST(task_box_with_cjk)
{
  struct model m;
  char *b;

  utf8();
  people(&m);
  apply(&m, 5, 1, TASK, 1);
  for (int w = 20; w <= 80; w += 7) {
    b = box(&m, 5, w);
    free(b);
  }
  b = box(&m, 5, 60);
  CHECK(strstr(b, "task #c5 · open") != NULL);
  CHECK(strstr(b, "写设计文档") != NULL);
  CHECK(strstr(b, "assignees: Ann, Ben 本") != NULL);
  CHECK(strstr(b, "due 2026-12-15 · priority high") != NULL);
  CHECK(strstr(b, "/task accept c5") != NULL);  /* I am an assignee */
  free(b);
  model_cleanup(&m);
}

TEST(okr_box_progress)
{
  struct model m;
  char *b;

  utf8();
  people(&m);
  apply(&m, 6, 2,
        "{\"type\":\"okr\",\"objective\":\"增长 users\",\"owner\":1,"
        "\"period\":\"2026-Q4\",\"key_results\":[{\"title\":\"Users\","
        "\"start\":0,\"target\":10,\"current\":5,\"unit\":\"k\"},"
        "{\"title\":\"Uptime\",\"start\":99,\"target\":99.9,\"current\":99}],"
        "\"progress\":{\"overall\":0.25,\"krs\":[0.5,0]}}", 1);
  b = box(&m, 6, 50);
  CHECK(strstr(b, "okr #c6 · 25%") != NULL);
  CHECK(strstr(b, "KR1 [#####-----]  50% 5/10 k Users") != NULL);
  CHECK(strstr(b, "KR2 [----------]   0% 99/99.9 Uptime") != NULL);
  CHECK(strstr(b, "/okr checkin c6") != NULL);
  free(b);
  model_cleanup(&m);
}

TEST(interview_box_signatures)
{
  struct model m;
  char *b;

  utf8();
  people(&m);
  apply(&m, 9, 6,
        "{\"type\":\"interview\",\"employee\":2,\"manager\":1,\"period\":"
        "\"2026-Q4\",\"status\":\"submitted\",\"sections\":{\"notes\":"
        "\"好的季度\",\"development_plan\":\"learn Rust\",\"behaviour\":\"\","
        "\"action_items\":[{\"text\":\"Write the doc\",\"owner\":2,\"due\":"
        "\"2026-12-15T17:00:00Z\"}],\"okr_progress\":[]},\"signatures\":"
        "[{\"user\":2,\"ver\":5}]}", 1);
  b = box(&m, 9, 64);
  CHECK(strstr(b, "interview #c9 · submitted") != NULL);
  CHECK(strstr(b, "notes: 好的季度") != NULL);
  CHECK(strstr(b, "behaviour: —") != NULL);
  CHECK(strstr(b, "action item: Write the doc → Ben 本, due 2026-12-15"));
  CHECK(strstr(b, "signatures: Ben 本 signed · Ann missing") != NULL);
  CHECK(strstr(b, "/sign c9") != NULL);
  free(b);
  model_cleanup(&m);
}

static char *run(int (*fn)(struct model *, char **, size_t, char **, char *,
                           size_t),
                 struct model *m, const char *line, char *err)
{
  char *buf = strdup(line), *w[32], *json = NULL;
  size_t n = cc_split(buf, w, 32);

  err[0] = '\0';
  if (fn(m, w, n, &json, err, 256) != 0)
    json = NULL;
  free(buf);
  return json;
}

static int checkin(struct model *m, char **w, size_t n, char **json,
                   char *err, size_t len)
{
  (void)m;
  return cc_checkin_args(w, n, json, err, len);
}

TEST(command_parsing)
{
  struct model m;
  char err[256], *j, buf[64], *w[8];
  bool is_card;
  uint64_t n;

  people(&m);
  strcpy(buf, "a \"b c\"  d");
  CHECK_UINT(cc_split(buf, w, 8), ==, 3);
  CHECK_STR(w[1], "b c");
  CHECK(cc_ref("#c12", &is_card, &n) && is_card && n == 12);
  CHECK(cc_ref("7", &is_card, &n) && !is_card && n == 7);
  CHECK(!cc_ref("#c", &is_card, &n) && !cc_ref("x1", &is_card, &n) &&
        !cc_ref("#0", &is_card, &n));
  {
    char d[21];

    CHECK(cc_date("2026-12-15", d));
    CHECK_STR(d, "2026-12-15T23:59:59Z");
    CHECK(!cc_date("2026-13-01", d) && !cc_date("2026-1-015", d) &&
          !cc_date("26-12-15", d) && !cc_date("2026-12-00", d));
  }

  j = run(cc_task_body, &m, "Write 设计 @ben due 2026-12-15 !urgent", err);
  CHECK_STR(j, "{\"type\":\"task\",\"title\":\"Write 设计\",\"assignees\":[2],"
               "\"due\":\"2026-12-15T23:59:59Z\",\"priority\":\"urgent\"}");
  free(j);
  j = run(cc_task_body, &m, "Just me", err);        /* default: me */
  CHECK(strstr(j, "\"assignees\":[1]") != NULL);
  free(j);
  CHECK(run(cc_task_body, &m, "x !soon", err) == NULL);
  CHECK(strstr(err, "!soon") != NULL);
  CHECK(run(cc_task_body, &m, "x @zed", err) == NULL);
  CHECK(strstr(err, "@zed") != NULL);
  CHECK(run(cc_task_body, &m, "@ben", err) == NULL);
  CHECK(strstr(err, "usage") != NULL);

  j = run(cc_okr_body, &m, "Grow the 用户 @ben period 2026-Q4 kr \"Active "
          "users\" 0 100 k kr Uptime 99 99.9", err);
  CHECK_STR(j, "{\"type\":\"okr\",\"objective\":\"Grow the 用户\",\"owner\":2,"
               "\"period\":\"2026-Q4\",\"key_results\":[{\"title\":\"Active "
               "users\",\"start\":0,\"target\":100,\"unit\":\"k\"},{\"title\":"
               "\"Uptime\",\"start\":99,\"target\":99.9}]}");
  free(j);
  CHECK(run(cc_okr_body, &m, "Grow period 2026 kr Users zero 10", err) == NULL);
  CHECK(strstr(err, "must be numbers") != NULL);
  CHECK(run(cc_okr_body, &m, "Grow period 2026", err) == NULL);
  CHECK(strstr(err, "at least one key result") != NULL);

  j = run(cc_interview_body, &m, "@ben period 2026-Q4", err);
  CHECK_STR(j, "{\"type\":\"interview\",\"employee\":2,\"manager\":1,"
               "\"period\":\"2026-Q4\"}");
  free(j);
  CHECK(run(cc_interview_body, &m, "ben period 2026-Q4", err) == NULL);

  j = run(checkin, &m, "2 7.5 0.8 half way there", err);
  CHECK_STR(j, "{\"kr\":1,\"current\":7.5,\"confidence\":0.8,"
               "\"note\":\"half way there\"}");
  free(j);
  j = run(checkin, &m, "1 5 great", err);
  CHECK_STR(j, "{\"kr\":0,\"current\":5,\"note\":\"great\"}");
  free(j);
  CHECK(run(checkin, &m, "0 5", err) == NULL);
  CHECK(run(checkin, &m, "1", err) == NULL);
  model_cleanup(&m);
}

TEST_MAIN()
