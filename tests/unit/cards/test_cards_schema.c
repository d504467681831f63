/* Unit tests for cards/: each type's schema — every refusal names the
 * failing member with a JSON pointer — and hostile bodies. */
#include "cards_fixture.h"

#define TASK_OK "{\"type\":\"task\",\"title\":\"Ship it\",\"assignees\":[7]"

TEST(task_defaults_and_source)
{
  struct tcard c = tc_create(TASK_OK ",\"due\":\"2026-10-01T09:00:00+08:00\"}",
                             user(5), T0, NULL);
  json_t *src = json_object_get(c.state, "source");

  CHECK_INT(c.type, ==, CARD_TASK);
  CHECK_STR(tc_str(&c, "status"), "open");
  CHECK_STR(tc_str(&c, "priority"), "normal");
  CHECK_STR(json_string_value(json_object_get(src, "kind")), "user");
  CHECK_INT(json_integer_value(json_object_get(src, "user")), ==, 5);
  tc_free(&c);

  {
    struct card_actor bot = {.id = 9, .bot = true};
    c = tc_create(TASK_OK ",\"status\":\"in_progress\"}", bot, T0, NULL);
    src = json_object_get(c.state, "source");
    CHECK_STR(json_string_value(json_object_get(src, "kind")), "bot");
    CHECK_INT(json_integer_value(json_object_get(src, "bot")), ==, 9);
    CHECK_STR(tc_str(&c, "status"), "in_progress");
    tc_free(&c);
  }
}

TEST(task_schema_errors_name_the_field)
{
  struct card_actor u = user(5);

  tc_create_fails("{\"type\":\"task\",\"assignees\":[7]}", u,
                  PROTO_E_INVALID_CARD, "/title");
  tc_create_fails("{\"type\":\"task\",\"title\":\"\",\"assignees\":[7]}", u,
                  PROTO_E_INVALID_CARD, "/title");
  tc_create_fails("{\"type\":\"task\",\"title\":42,\"assignees\":[7]}", u,
                  PROTO_E_INVALID_CARD, "/title");
  tc_create_fails("{\"type\":\"task\",\"title\":\"x\"}", u,
                  PROTO_E_INVALID_CARD, "/assignees");
  tc_create_fails("{\"type\":\"task\",\"title\":\"x\",\"assignees\":[]}", u,
                  PROTO_E_INVALID_CARD, "/assignees");
  tc_create_fails("{\"type\":\"task\",\"title\":\"x\",\"assignees\":[7,\"8\"]}",
                  u, PROTO_E_INVALID_CARD, "/assignees/1");
  tc_create_fails("{\"type\":\"task\",\"title\":\"x\",\"assignees\":[7,0]}",
                  u, PROTO_E_INVALID_CARD, "/assignees/1");
  tc_create_fails("{\"type\":\"task\",\"title\":\"x\",\"assignees\":[7,7]}",
                  u, PROTO_E_INVALID_CARD, "/assignees/1");
  tc_create_fails(TASK_OK ",\"status\":\"finished\"}", u,
                  PROTO_E_INVALID_CARD, "/status");
  tc_create_fails(TASK_OK ",\"status\":\"done\"}", u, PROTO_E_INVALID_CARD,
                  "/status");
  tc_create_fails(TASK_OK ",\"priority\":\"asap\"}", u, PROTO_E_INVALID_CARD,
                  "/priority");
  tc_create_fails(TASK_OK ",\"due\":\"tomorrow\"}", u, PROTO_E_INVALID_CARD,
                  "/due");
  tc_create_fails(TASK_OK ",\"due\":\"2026-02-30T10:00:00Z\"}", u,
                  PROTO_E_INVALID_CARD, "/due");
  tc_create_fails(TASK_OK ",\"due\":\"2026-02-03T10:00:00\"}", u,
                  PROTO_E_INVALID_CARD, "/due");
  tc_create_fails(TASK_OK ",\"colour\":\"red\"}", u, PROTO_E_INVALID_CARD,
                  "/colour");
  tc_create_fails(TASK_OK ",\"source\":{\"kind\":\"user\"}}", u,
                  PROTO_E_INVALID_CARD, "/source");
  tc_create_fails(TASK_OK ",\"reminded\":1}", u, PROTO_E_INVALID_CARD,
                  "/reminded");
}

TEST(task_bounds)
{
  char body[8192];
  size_t n;
  struct card_actor u = user(5);

  /* 200 characters (multi-byte) are fine, 201 are not. */
  n = (size_t)snprintf(body, sizeof(body),
                       "{\"type\":\"task\",\"assignees\":[7],\"title\":\"");
  for (int i = 0; i < 200; i++)
    n += (size_t)snprintf(body + n, sizeof(body) - n, "\xe4\xbb\xbb");
  snprintf(body + n, sizeof(body) - n, "\"}");
  {
    struct tcard c = tc_create(body, u, T0, NULL);
    tc_free(&c);
  }
  body[n] = '\0';
  snprintf(body + n, sizeof(body) - n, "x\"}");
  tc_create_fails(body, u, PROTO_E_INVALID_CARD, "/title");

  /* 50 assignees are fine, 51 are not. */
  n = (size_t)snprintf(body, sizeof(body),
                       "{\"type\":\"task\",\"title\":\"t\",\"assignees\":[1");
  for (int i = 2; i <= 51; i++)
    n += (size_t)snprintf(body + n, sizeof(body) - n, ",%d", i);
  snprintf(body + n, sizeof(body) - n, "]}");
  tc_create_fails(body, u, PROTO_E_INVALID_CARD, "/assignees");
}

TEST(hostile_bodies)
{
  struct card_actor u = user(5);
  char deep[4096];
  size_t n = 0;

  tc_create_fails("[1,2]", u, PROTO_E_INVALID_CARD, "");
  tc_create_fails("\"task\"", u, PROTO_E_INVALID_CARD, "");
  tc_create_fails("{\"type\":\"task\"", u, PROTO_E_INVALID_CARD, "");
  tc_create_fails("{\"type\":\"task\",\"type\":\"okr\"}", u,
                  PROTO_E_INVALID_CARD, "");
  tc_create_fails("{\"type\":\"task\",\"title\":\"\xff\xfe\",\"assignees\":[1]}",
                  u, PROTO_E_INVALID_CARD, "");
  tc_create_fails("{\"type\":\"task\",\"title\":\"a\\u0000b\",\"assignees\":[1]}",
                  u, PROTO_E_INVALID_CARD, "");
  tc_create_fails("{}", u, PROTO_E_INVALID_CARD, "/type");
  tc_create_fails("{\"type\":7}", u, PROTO_E_INVALID_CARD, "/type");
  tc_create_fails("{\"type\":\"poll\"}", u, PROTO_E_INVALID_CARD, "/type");
  tc_create_fails(TASK_OK ",\"x\":99999999999999999999999}", u,
                  PROTO_E_INVALID_CARD, "");
  /* Deep nesting in an unknown member is refused by name, not recursed. */
  n += (size_t)snprintf(deep + n, sizeof(deep) - n, TASK_OK ",\"d\":");
  for (int i = 0; i < 1000; i++)
    deep[n++] = '[';
  for (int i = 0; i < 1000; i++)
    deep[n++] = ']';
  snprintf(deep + n, sizeof(deep) - n, "}");
  tc_create_fails(deep, u, PROTO_E_INVALID_CARD, "/d");
  /* A bot posts tasks only. */
  {
    struct card_actor bot = {.id = 9, .bot = true};
    tc_create_fails("{\"type\":\"okr\"}", bot, PROTO_E_FORBIDDEN, "/type");
  }
  {
    struct card_change ch = {0};
    struct proto_error err = {0};
    struct card_ctx x = {.now_ms = T0};
    enum card_type t;
    CHECK_INT(card_create(NULL, 0, &u, &x, &t, &ch, &err), ==,
              PROTO_E_INVALID_CARD);
  }
}

#define OKR_OK                                                              \
  "{\"type\":\"okr\",\"objective\":\"Grow\",\"owner\":5,\"period\":"       \
  "\"2026-Q3\",\"key_results\":[{\"title\":\"Users\",\"start\":0,"        \
  "\"target\":100}"

TEST(okr_schema_errors_name_the_field)
{
  struct card_actor u = user(5);

  tc_create_fails(OKR_OK ",{\"title\":\"b\",\"start\":3,\"target\":3}]}", u,
                  PROTO_E_INVALID_CARD, "/key_results/1/target");
  tc_create_fails(OKR_OK ",{\"title\":\"b\",\"start\":3,\"target\":3.0}]}", u,
                  PROTO_E_INVALID_CARD, "/key_results/1/target");
  tc_create_fails(OKR_OK ",{\"title\":\"b\",\"start\":1,\"target\":\"9\"}]}",
                  u, PROTO_E_INVALID_CARD, "/key_results/1/target");
  tc_create_fails(OKR_OK ",{\"start\":1,\"target\":9}]}", u,
                  PROTO_E_INVALID_CARD, "/key_results/1/title");
  tc_create_fails(OKR_OK ",{\"title\":\"b\",\"start\":1,\"target\":9,"
                         "\"confidence\":1.5}]}",
                  u, PROTO_E_INVALID_CARD, "/key_results/1/confidence");
  tc_create_fails(OKR_OK ",{\"title\":\"b\",\"start\":1,\"target\":9.1234567}]}",
                  u, PROTO_E_INVALID_CARD, "/key_results/1/target");
  tc_create_fails(OKR_OK ",{\"title\":\"b\",\"start\":1,\"target\":1e12}]}",
                  u, PROTO_E_INVALID_CARD, "/key_results/1/target");
  tc_create_fails(OKR_OK ",{\"title\":\"b\",\"start\":1,\"target\":2,"
                         "\"owner\":3}]}",
                  u, PROTO_E_INVALID_CARD, "/key_results/1/owner");
  tc_create_fails(OKR_OK ",7]}", u, PROTO_E_INVALID_CARD, "/key_results/1");
  tc_create_fails(OKR_OK "],\"period\":\"2026-Q5\"}", u, PROTO_E_INVALID_CARD,
                  "");
  tc_create_fails("{\"type\":\"okr\",\"objective\":\"G\",\"owner\":5,"
                  "\"period\":\"Q3 2026\",\"key_results\":[{\"title\":\"a\","
                  "\"start\":0,\"target\":1}]}",
                  u, PROTO_E_INVALID_CARD, "/period");
  tc_create_fails("{\"type\":\"okr\",\"objective\":\"G\",\"owner\":5,"
                  "\"period\":\"2026\",\"key_results\":[]}",
                  u, PROTO_E_INVALID_CARD, "/key_results");
  tc_create_fails("{\"type\":\"okr\",\"objective\":\"G\",\"owner\":-5,"
                  "\"period\":\"2026\",\"key_results\":[]}",
                  u, PROTO_E_INVALID_CARD, "/owner");
  tc_create_fails(OKR_OK "],\"progress\":{}}", u, PROTO_E_INVALID_CARD,
                  "/progress");
  tc_create_fails(OKR_OK "],\"parent\":\"12\"}", u, PROTO_E_INVALID_CARD,
                  "/parent");
}

TEST(okr_defaults_parent_and_bounds)
{
  struct card_change ch = {0};
  struct proto_error err = {0};
  struct card_actor u = user(5);
  struct card_ctx x = {.now_ms = T0};
  enum card_type t;
  const char *body = OKR_OK ",{\"title\":\"b\",\"start\":10,\"target\":0,"
                            "\"current\":7.5,\"unit\":\"%\"}],\"parent\":12}";
  json_t *kr0;
  char many[4096];
  size_t n;

  CHECK_INT(card_create(body, strlen(body), &u, &x, &t, &ch, &err), ==, 0);
  CHECK_INT(ch.parent, ==, 12);
  kr0 = json_array_get(json_object_get(ch.state, "key_results"), 0);
  CHECK_INT(json_integer_value(json_object_get(kr0, "current")), ==, 0);
  CHECK_STR(json_string_value(json_object_get(kr0, "unit")), "");
  CHECK(json_real_value(json_object_get(kr0, "confidence")) == 0.5);
  CHECK_INT(json_integer_value(json_object_get(ch.state, "created_at")), ==,
            T0);
  card_change_clear(&ch);
  CHECK(ch.state == NULL);

  n = (size_t)snprintf(many, sizeof(many),
                       "{\"type\":\"okr\",\"objective\":\"G\",\"owner\":5,"
                       "\"period\":\"2026\",\"key_results\":[");
  for (int i = 0; i < 21; i++)
    n += (size_t)snprintf(many + n, sizeof(many) - n,
                          "%s{\"title\":\"k\",\"start\":0,\"target\":1}",
                          i ? "," : "");
  snprintf(many + n, sizeof(many) - n, "]}");
  tc_create_fails(many, u, PROTO_E_INVALID_CARD, "/key_results");
}

#define IV_OK "{\"type\":\"interview\",\"employee\":5,\"manager\":3," \
              "\"period\":\"2026-Q3\""

TEST(interview_schema_errors_name_the_field)
{
  struct card_actor m = user(3);

  tc_create_fails(IV_OK ",\"sections\":{\"notes\":1}}", m,
                  PROTO_E_INVALID_CARD, "/sections/notes");
  tc_create_fails(IV_OK ",\"sections\":{\"mood\":\"\"}}", m,
                  PROTO_E_INVALID_CARD, "/sections/mood");
  tc_create_fails(IV_OK ",\"sections\":{\"okr_progress\":[]}}", m,
                  PROTO_E_INVALID_CARD, "/sections/okr_progress");
  tc_create_fails(IV_OK ",\"sections\":{\"action_items\":[{\"text\":\"a\","
                        "\"owner\":5},{\"text\":\"b\"}]}}",
                  m, PROTO_E_INVALID_CARD, "/sections/action_items/1/owner");
  tc_create_fails(IV_OK ",\"sections\":{\"action_items\":[{\"text\":\"a\","
                        "\"owner\":5,\"due\":\"soon\"}]}}",
                  m, PROTO_E_INVALID_CARD, "/sections/action_items/0/due");
  tc_create_fails("{\"type\":\"interview\",\"employee\":5,\"manager\":5,"
                  "\"period\":\"2026\"}",
                  m, PROTO_E_INVALID_CARD, "/manager");
  tc_create_fails("{\"type\":\"interview\",\"manager\":3,\"period\":\"2026\"}",
                  m, PROTO_E_INVALID_CARD, "/employee");
  tc_create_fails(IV_OK ",\"status\":\"locked\"}", m, PROTO_E_INVALID_CARD,
                  "/status");
  tc_create_fails(IV_OK ",\"signatures\":[]}", m, PROTO_E_INVALID_CARD,
                  "/signatures");
}

TEST(interview_defaults)
{
  struct tcard c = tc_create(IV_OK "}", user(3), T0, NULL);
  json_t *sec = json_object_get(c.state, "sections");

  CHECK_STR(tc_str(&c, "status"), "draft");
  CHECK_INT(json_integer_value(json_object_get(c.state, "amendment")), ==, 0);
  CHECK_UINT(json_array_size(json_object_get(c.state, "signatures")), ==, 0);
  CHECK_STR(json_string_value(json_object_get(sec, "notes")), "");
  CHECK_UINT(json_array_size(json_object_get(sec, "action_items")), ==, 0);
  CHECK_UINT(json_array_size(json_object_get(sec, "okr_progress")), ==, 0);
  tc_free(&c);
}

TEST(type_names_and_people)
{
  enum card_type t;
  int64_t ids[8];
  struct tcard c;

  CHECK_STR(card_type_name(CARD_OKR), "okr");
  CHECK(card_type_name((enum card_type)9) == NULL);
  CHECK_INT(card_type_parse("interview", &t), ==, 0);
  CHECK_INT(t, ==, CARD_INTERVIEW);
  CHECK_INT(card_type_parse("Task", &t), ==, -1);

  c = tc_create(IV_OK ",\"sections\":{\"action_items\":[{\"text\":\"a\","
                      "\"owner\":5},{\"text\":\"b\",\"owner\":8}]}}",
                user(3), T0, NULL);
  CHECK_UINT(card_people(c.type, c.state, ids, 8), ==, 3);
  CHECK_INT(ids[0], ==, 5);
  CHECK_INT(ids[1], ==, 3);
  CHECK_INT(ids[2], ==, 8);
  CHECK_UINT(card_people(c.type, c.state, ids, 1), ==, 3);
  CHECK_UINT(card_subjects(c.type, c.state, ids, 8), ==, 1);
  CHECK_INT(ids[0], ==, 5);
  tc_free(&c);

  c = tc_create(TASK_OK "}", user(5), T0, NULL);
  CHECK_UINT(card_subjects(c.type, c.state, ids, 8), ==, 1);
  CHECK_INT(ids[0], ==, 7);
  tc_free(&c);
}

/* Every prefix of valid bodies, and each with one byte changed to each of
 * a few troublesome bytes: refused with a code and a message, or accepted;
 * never a crash or a leak (the sanitizers watch). */
TEST(truncated_and_mangled_bodies)
{
  static const char *const bodies[] = {
      TASK_OK ",\"due\":\"2026-10-01T09:00:00.5+08:00\",\"priority\":"
              "\"high\",\"description\":\"\\u4efb\\n\"}",
      OKR_OK ",{\"title\":\"b\",\"start\":1.5,\"target\":-2,"
             "\"confidence\":0.25}],\"parent\":3}",
      IV_OK ",\"sections\":{\"notes\":\"n\",\"action_items\":[{\"text\":"
            "\"a\",\"owner\":5,\"due\":\"2026-10-15T18:00:00Z\"}]}}"};
  static const char bad[] = {'\0', '"', '\\', '{', ']', '9', '-', '\xff',
                             '\xc3', ' '};
  struct card_actor u = user(3);
  struct card_ctx x = {.now_ms = T0};
  long accepted = 0, refused = 0;

  for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
    size_t len = strlen(bodies[b]);
    char *m = malloc(len + 1);
    CHECK(m != NULL);
    for (size_t n = 0; n <= len; n++) {
      for (size_t k = 0; k <= sizeof bad; k++) {
        struct card_change ch = {0};
        struct proto_error err = {0};
        enum card_type t;
        size_t mlen = n;
        int rc;
        memcpy(m, bodies[b], len + 1);
        if (k < sizeof bad) {   /* whole body, byte n replaced */
          if (n == len)
            continue;
          m[n] = bad[k];
          mlen = len;
        }
        rc = card_create(m, mlen, &u, &x, &t, &ch, &err);
        if (rc == 0) {
          accepted++;
          CHECK(ch.state != NULL);
        } else {
          refused++;
          CHECK(rc == PROTO_E_INVALID_CARD || rc == PROTO_E_FORBIDDEN);
          CHECK(err.msg[0] != '\0' && ch.state == NULL);
        }
        card_change_clear(&ch);
      }
    }
    free(m);
  }
  CHECK(accepted > 3);
  CHECK(refused > 1000);
}

TEST_MAIN()
