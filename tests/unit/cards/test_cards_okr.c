/* Unit tests for cards/okr.c: check-ins (who, arguments), computed
 * progress, edits and the 7-day check-in reminder. */
#include "cards_fixture.h"

/* Owner 5; KR 0: 0 -> 100, KR 1: 10 -> 0 (a decrease), in 2026-Q4. */
static struct tcard okr(int64_t now)
{
  return tc_create("{\"type\":\"okr\",\"objective\":\"Grow\",\"owner\":5,"
                   "\"period\":\"2026-Q4\",\"key_results\":["
                   "{\"title\":\"Users\",\"start\":0,\"target\":100},"
                   "{\"title\":\"Bugs\",\"start\":10,\"target\":0,"
                   "\"unit\":\"open bugs\"}]}",
                   user(5), now, NULL);
}

static double prog(const struct tcard *c, int kr)
{
  json_t *p = json_object_get(c->state, "progress");

  if (kr < 0)
    return json_number_value(json_object_get(p, "overall"));
  return json_number_value(json_array_get(json_object_get(p, "krs"),
                                          (size_t)kr));
}

TEST(checkin_updates_progress)
{
  struct tcard c = okr(T0);
  struct proto_error err;
  json_t *kr;

  CHECK(prog(&c, -1) == 0);
  CHECK_INT(tc_action(&c, "checkin",
                      "{\"kr\":0,\"current\":25,\"note\":\"launch week\"}",
                      user(5), T0 + HOUR, &err, "checkin"), ==, 0);
  CHECK(prog(&c, 0) == 0.25);
  CHECK(prog(&c, -1) == 0.125);
  CHECK_INT(tc_action(&c, "checkin",
                      "{\"kr\":1,\"current\":4,\"confidence\":0.9}",
                      with(user(3), false, true), T0 + 2 * HOUR, &err, NULL),
            ==, 0);
  CHECK(prog(&c, 1) == 0.6);
  CHECK(prog(&c, -1) == 0.425);
  kr = json_array_get(json_object_get(c.state, "key_results"), 1);
  CHECK(json_number_value(json_object_get(kr, "confidence")) == 0.9);
  CHECK_INT(json_integer_value(json_object_get(c.state, "last_checkin")), ==,
            T0 + 2 * HOUR);
  /* Clamped to 0..1. */
  CHECK_INT(tc_action(&c, "checkin", "{\"kr\":0,\"current\":250}", user(5),
                      T0, &err, NULL), ==, 0);
  CHECK(prog(&c, 0) == 1);
  CHECK_INT(tc_action(&c, "checkin", "{\"kr\":1,\"current\":12.5}", user(5),
                      T0, &err, NULL), ==, 0);
  CHECK(prog(&c, 1) == 0);
  CHECK(prog(&c, -1) == 0.5);
  tc_free(&c);
}

TEST(checkin_refusals)
{
  struct tcard c = okr(T0);
  struct proto_error err;
  struct card_actor bot = {.id = 9, .bot = true, .creator = true};

  CHECK_REFUSED(tc_action(&c, "checkin", "{\"kr\":0,\"current\":1}", user(7),
                          T0, &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_REFUSED(tc_action(&c, "checkin", "{\"kr\":2,\"current\":1}", user(5),
                          T0, &err, NULL),
                PROTO_E_INVALID_CARD, "/kr");
  CHECK_REFUSED(tc_action(&c, "checkin", "{\"kr\":\"0\",\"current\":1}",
                          user(5), T0, &err, NULL),
                PROTO_E_INVALID_CARD, "/kr");
  CHECK_REFUSED(tc_action(&c, "checkin", "{\"current\":1}", user(5), T0, &err,
                          NULL),
                PROTO_E_INVALID_CARD, "/kr");
  CHECK_REFUSED(tc_action(&c, "checkin", "{\"kr\":0}", user(5), T0, &err,
                          NULL),
                PROTO_E_INVALID_CARD, "/current");
  CHECK_REFUSED(tc_action(&c, "checkin", "{\"kr\":0,\"current\":1,"
                          "\"confidence\":2}", user(5), T0, &err, NULL),
                PROTO_E_INVALID_CARD, "/confidence");
  CHECK_REFUSED(tc_action(&c, "checkin", "{\"kr\":0,\"current\":1,"
                          "\"mood\":\"ok\"}", user(5), T0, &err, NULL),
                PROTO_E_INVALID_CARD, "/mood");
  CHECK_REFUSED(tc_action(&c, "checkin", "{\"kr\":0,\"current\":1}", bot, T0,
                          &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_REFUSED(tc_action(&c, "accept", NULL, user(5), T0, &err, NULL),
                PROTO_E_INVALID_ACTION, "");
  CHECK_INT(c.ver, ==, 1);
  tc_free(&c);
}

TEST(create_permission_and_edits)
{
  struct tcard c = okr(T0);
  struct proto_error err;
  struct card_change ch = {0};
  struct card_actor other = user(7);
  struct card_ctx x = ctx_of(&c, T0);

  CHECK_INT(card_may_create(c.type, c.state, &(struct card_actor){.id = 5},
                            &err), ==, 0);
  CHECK_INT(card_may_create(c.type, c.state, &other, &err), ==,
            PROTO_E_FORBIDDEN);
  other.manager = true;
  CHECK_INT(card_may_create(c.type, c.state, &other, &err), ==, 0);

  CHECK_INT(tc_edit(&c, "/key_results/0/target", "200", 1, user(5), T0, &err),
            ==, 0);
  CHECK_INT(tc_action(&c, "checkin", "{\"kr\":0,\"current\":50}", user(5), T0,
                      &err, NULL), ==, 0);
  CHECK(prog(&c, 0) == 0.25);
  CHECK_REFUSED(tc_edit(&c, "/key_results/0/target", "0", c.ver, user(5), T0,
                        &err),
                PROTO_E_INVALID_CARD, "/key_results/0/target");
  CHECK_REFUSED(tc_edit(&c, "/owner", "7", c.ver, user(5), T0, &err),
                PROTO_E_INVALID_CARD, "/owner");
  CHECK_REFUSED(tc_edit(&c, "/objective", "\"x\"", c.ver, user(7), T0, &err),
                PROTO_E_FORBIDDEN, "/objective");
  CHECK_REFUSED(tc_edit(&c, "/progress", "{}", c.ver, user(5), T0, &err),
                PROTO_E_INVALID_CARD, "/progress");
  /* A new key result appended; the parent set (out->parent follows). */
  CHECK_INT(tc_edit(&c, "/key_results/-",
                    "{\"title\":\"NPS\",\"start\":20,\"target\":40,"
                    "\"current\":30,\"unit\":\"\",\"confidence\":0.5}",
                    c.ver, user(5), T0, &err), ==, 0);
  CHECK(prog(&c, 2) == 0.5);
  x = ctx_of(&c, T0);
  CHECK_INT(card_edit(c.type, c.state, "/parent", "77", c.ver,
                      &(struct card_actor){.id = 5}, &x, &ch, &err), ==, 0);
  CHECK_INT(ch.parent, ==, 77);
  card_change_clear(&ch);
  x.card_id = 77;
  CHECK_INT(card_edit(c.type, c.state, "/parent", "77", c.ver,
                      &(struct card_actor){.id = 5}, &x, &ch, &err), ==,
            PROTO_E_INVALID_CARD);
  tc_free(&c);
}

TEST(reminder_after_seven_days_without_checkin)
{
  struct tcard c = okr(T0);   /* created 2026-09-21, period 2026-Q4 */
  struct proto_error err;
  struct card_actor sys = {0};
  int64_t who[2];
  size_t n;

  CHECK_INT(card_next_reminder(c.type, c.state, who, 2, &n), ==, T0 + 7 * DAY);
  CHECK_UINT(n, ==, 1);
  CHECK_INT(who[0], ==, 5);
  /* A check-in on day 3 moves it to day 10. */
  CHECK_INT(tc_action(&c, "checkin", "{\"kr\":0,\"current\":5}", user(5),
                      T0 + 3 * DAY, &err, NULL), ==, 0);
  CHECK_INT(card_next_reminder(c.type, c.state, who, 2, &n), ==,
            T0 + 10 * DAY);
  CHECK_REFUSED(tc_action(&c, "remind", NULL, sys, T0 + 9 * DAY, &err, NULL),
                PROTO_E_INVALID_ACTION, "");
  CHECK_INT(tc_action(&c, "remind", NULL, sys, T0 + 10 * DAY + 60000, &err,
                      "reminder"), ==, 0);
  /* Still silent: again a week later. */
  CHECK_INT(card_next_reminder(c.type, c.state, who, 2, &n), ==,
            T0 + 17 * DAY);
  CHECK_INT(tc_action(&c, "checkin", "{\"kr\":0,\"current\":6}", user(5),
                      T0 + 12 * DAY, &err, NULL), ==, 0);
  CHECK_INT(card_next_reminder(c.type, c.state, who, 2, &n), ==,
            T0 + 19 * DAY);
  tc_free(&c);

  /* None once the period is over: 2026-Q3 ends 2026-10-01T00:00Z. */
  c = tc_create("{\"type\":\"okr\",\"objective\":\"Old\",\"owner\":5,"
                "\"period\":\"2026-Q3\",\"key_results\":[{\"title\":\"a\","
                "\"start\":0,\"target\":1}]}", user(5), T0 + 5 * DAY, NULL);
  CHECK_INT(card_next_reminder(c.type, c.state, who, 2, &n), ==, 0);
  tc_free(&c);
}

TEST(parent_goes_with_every_change)
{
  struct tcard c = tc_create(
      "{\"type\":\"okr\",\"objective\":\"Team\",\"owner\":5,"
      "\"period\":\"2026-Q4\",\"parent\":12,\"key_results\":[{\"title\":"
      "\"a\",\"start\":0,\"target\":1}]}", user(5), T0, NULL);
  struct card_change ch = {0};
  struct proto_error err = {0};
  struct card_actor sys = {0}, owner = user(5);
  struct card_ctx x = ctx_of(&c, T0 + 8 * DAY);

  CHECK_INT(card_action(c.type, c.state, "remind", NULL, &sys, &x, &ch, &err),
            ==, 0);
  CHECK_INT(ch.parent, ==, 12);
  card_change_clear(&ch);
  CHECK_INT(card_action(c.type, c.state, "comment", "{\"text\":\"hi\"}",
                        &owner, &x, &ch, &err), ==, 0);
  CHECK_INT(ch.parent, ==, 12);
  card_change_clear(&ch);
  CHECK_INT(card_edit(c.type, c.state, "/parent", "null", 1, &owner, &x, &ch,
                      &err), ==, 0);
  CHECK_INT(ch.parent, ==, 0);
  card_change_clear(&ch);
  tc_free(&c);
}

TEST_MAIN()
