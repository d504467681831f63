/* Unit tests for cards/task.c: accept, set_status, comment, reassign, edits,
 * who may do each, the status transitions and the overdue reminder. */
#include "cards_fixture.h"

/* Created by user 5, assigned to 7 and 8. */
static struct tcard task(void)
{
  return tc_create("{\"type\":\"task\",\"title\":\"Report\",\"assignees\":"
                   "[7,8],\"due\":\"2026-09-25T10:00:00Z\"}",
                   user(5), T0, NULL);
}

TEST(accept_by_assignee_only)
{
  struct tcard c = task();
  struct proto_error err;

  CHECK_REFUSED(tc_action(&c, "accept", NULL, user(5), T0, &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_REFUSED(tc_action(&c, "accept", NULL, with(user(4), false, true), T0,
                          &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_REFUSED(tc_action(&c, "accept", "{\"now\":1}", user(7), T0, &err,
                          NULL),
                PROTO_E_INVALID_CARD, "/now");
  CHECK_INT(tc_action(&c, "accept", NULL, user(7), T0, &err, "action"), ==, 0);
  CHECK_STR(tc_str(&c, "status"), "in_progress");
  CHECK_INT(c.ver, ==, 2);
  /* Only an open task can be accepted. */
  CHECK_REFUSED(tc_action(&c, "accept", "{}", user(8), T0, &err, NULL),
                PROTO_E_INVALID_ACTION, "/status");
  tc_free(&c);
}

TEST(set_status_transitions_and_permissions)
{
  struct tcard c = task();
  struct proto_error err;

  CHECK_REFUSED(tc_action(&c, "set_status", "{\"status\":\"done\"}", user(6),
                          T0, &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_REFUSED(tc_action(&c, "set_status", "{\"status\":\"finished\"}",
                          user(7), T0, &err, NULL),
                PROTO_E_INVALID_CARD, "/status");
  CHECK_REFUSED(tc_action(&c, "set_status", "{}", user(7), T0, &err, NULL),
                PROTO_E_INVALID_CARD, "/status");
  CHECK_REFUSED(tc_action(&c, "set_status", "{\"status\":\"open\"}", user(7),
                          T0, &err, NULL),
                PROTO_E_INVALID_ACTION, "/status");
  /* assignee, creator, manager, admin */
  CHECK_INT(tc_action(&c, "set_status", "{\"status\":\"done\"}", user(8), T0,
                      &err, "action"), ==, 0);
  CHECK_STR(tc_str(&c, "status"), "done");
  /* done -> cancelled is not a transition; done -> open (reopen) is. */
  CHECK_REFUSED(tc_action(&c, "set_status", "{\"status\":\"cancelled\"}",
                          with(user(5), true, false), T0, &err, NULL),
                PROTO_E_INVALID_ACTION, "/status");
  CHECK_INT(tc_action(&c, "set_status", "{\"status\":\"open\"}",
                      with(user(5), true, false), T0, &err, NULL), ==, 0);
  CHECK_INT(tc_action(&c, "set_status", "{\"status\":\"cancelled\"}",
                      with(user(4), false, true), T0, &err, NULL), ==, 0);
  {
    struct card_actor admin = {.id = 1, .admin = true};
    CHECK_INT(tc_action(&c, "set_status", "{\"status\":\"open\"}", admin, T0,
                        &err, NULL), ==, 0);
  }
  CHECK_STR(tc_str(&c, "status"), "open");
  CHECK_INT(c.ver, ==, 5);
  tc_free(&c);
}

TEST(comment_by_anyone_but_foreign_bots)
{
  struct tcard c = task();
  struct proto_error err;
  struct card_actor bot = {.id = 9, .bot = true};
  struct card_change ch = {0};
  struct card_ctx x = ctx_of(&c, T0);

  CHECK_INT(tc_action(&c, "comment", "{\"text\":\"on it\"}", user(6), T0, &err,
                      "comment"), ==, 0);
  CHECK_REFUSED(tc_action(&c, "comment", "{\"text\":\"\"}", user(6), T0, &err,
                          NULL),
                PROTO_E_INVALID_CARD, "/text");
  CHECK_REFUSED(tc_action(&c, "comment", "{\"text\":\"x\"}", bot, T0, &err,
                          NULL),
                PROTO_E_FORBIDDEN, "");
  bot.creator = true;
  CHECK_INT(card_action(c.type, c.state, "comment", "{\"text\":\"ping\"}",
                        &bot, &x, &ch, &err), ==, 0);
  CHECK_STR(json_string_value(json_object_get(ch.payload, "text")), "ping");
  card_change_clear(&ch);
  /* Unknown actions and bad args. */
  CHECK_REFUSED(tc_action(&c, "explode", NULL, user(7), T0, &err, NULL),
                PROTO_E_INVALID_ACTION, "");
  CHECK_REFUSED(tc_action(&c, "comment", "[1]", user(7), T0, &err, NULL),
                PROTO_E_INVALID_CARD, "");
  CHECK_REFUSED(tc_action(&c, "comment", "{\"text\":\"a\"", user(7), T0, &err,
                          NULL),
                PROTO_E_INVALID_CARD, "");
  CHECK_REFUSED(tc_action(&c, "", NULL, user(7), T0, &err, NULL),
                PROTO_E_INVALID_ACTION, "");
  tc_free(&c);
}

TEST(reassign_by_creator_or_manager)
{
  struct tcard c = task();
  struct proto_error err;
  int64_t who[4];
  size_t n;

  CHECK_REFUSED(tc_action(&c, "reassign", "{\"assignees\":[9]}", user(7), T0,
                          &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_REFUSED(tc_action(&c, "reassign", "{\"assignees\":[]}",
                          with(user(5), true, false), T0, &err, NULL),
                PROTO_E_INVALID_CARD, "/assignees");
  CHECK_INT(tc_action(&c, "reassign", "{\"assignees\":[9]}",
                      with(user(5), true, false), T0, &err, "action"), ==, 0);
  CHECK_INT(card_people(c.type, c.state, who, 4), ==, 1);
  CHECK_INT(who[0], ==, 9);
  CHECK_INT(tc_action(&c, "reassign", "{\"assignees\":[9,10]}",
                      with(user(4), false, true), T0, &err, NULL), ==, 0);
  n = card_people(c.type, c.state, who, 4);
  CHECK_UINT(n, ==, 2);
  /* The old assignee may no longer accept; the new one may. */
  CHECK_REFUSED(tc_action(&c, "accept", NULL, user(7), T0, &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_INT(tc_action(&c, "accept", NULL, user(10), T0, &err, NULL), ==, 0);
  tc_free(&c);
}

TEST(bot_acts_on_its_own_tasks)
{
  struct card_actor bot = {.id = 9, .bot = true};
  struct tcard c = tc_create("{\"type\":\"task\",\"title\":\"Deploy\","
                             "\"assignees\":[7]}", bot, T0, NULL);
  struct proto_error err;

  bot.creator = true;
  CHECK_INT(tc_action(&c, "set_status", "{\"status\":\"cancelled\"}", bot, T0,
                      &err, NULL), ==, 0);
  CHECK_INT(tc_action(&c, "reassign", "{\"assignees\":[8]}", bot, T0, &err,
                      NULL), ==, 0);
  /* A bot is never an assignee. */
  CHECK_REFUSED(tc_action(&c, "accept", NULL, bot, T0, &err, NULL),
                PROTO_E_FORBIDDEN, "");
  bot.creator = false;
  CHECK_REFUSED(tc_action(&c, "set_status", "{\"status\":\"open\"}", bot, T0,
                          &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_REFUSED(tc_edit(&c, "/title", "\"x\"", c.ver, bot, T0, &err),
                PROTO_E_FORBIDDEN, "/title");
  tc_free(&c);
}

TEST(edit_fields)
{
  struct tcard c = task();
  struct proto_error err;
  struct card_actor creator = with(user(5), true, false);

  CHECK_INT(tc_edit(&c, "/title", "\"Quarterly report\"", 1, creator, T0,
                    &err), ==, 0);
  CHECK_STR(tc_str(&c, "title"), "Quarterly report");
  CHECK_INT(tc_edit(&c, "/description", "\"With figures\"", 2, creator, T0,
                    &err), ==, 0);
  CHECK_INT(tc_edit(&c, "/description", "null", 3, creator, T0, &err), ==, 0);
  CHECK(json_object_get(c.state, "description") == NULL);
  CHECK_REFUSED(tc_edit(&c, "/title", "null", 4, creator, T0, &err),
                PROTO_E_INVALID_CARD, "/title");
  CHECK_REFUSED(tc_edit(&c, "/title", "\"x\"", 4, user(7), T0, &err),
                PROTO_E_FORBIDDEN, "/title");
  CHECK_REFUSED(tc_edit(&c, "/status", "\"done\"", 4, creator, T0, &err),
                PROTO_E_INVALID_CARD, "/status");
  CHECK_REFUSED(tc_edit(&c, "/assignees/0", "3", 4, creator, T0, &err),
                PROTO_E_INVALID_CARD, "/assignees/0");
  CHECK_REFUSED(tc_edit(&c, "/type", "\"okr\"", 4, creator, T0, &err),
                PROTO_E_INVALID_CARD, "/type");
  CHECK_REFUSED(tc_edit(&c, "/priority", "\"meh\"", 4, creator, T0, &err),
                PROTO_E_INVALID_CARD, "/priority");
  CHECK_REFUSED(tc_edit(&c, "/title", "\"x", 4, creator, T0, &err),
                PROTO_E_INVALID_CARD, "/title");
  CHECK_REFUSED(tc_edit(&c, "title", "\"x\"", 4, creator, T0, &err),
                PROTO_E_INVALID_CARD, "");
  CHECK_REFUSED(tc_edit(&c, "/title", "\"x\"", 9, creator, T0, &err),
                PROTO_E_STALE_VERSION, "");
  CHECK_REFUSED(tc_edit(&c, "/title/x", "\"x\"", 4, creator, T0, &err),
                PROTO_E_INVALID_CARD, "/title");
  CHECK_INT(c.ver, ==, 4);
  tc_free(&c);
}

TEST(overdue_reminder_once_per_due_date)
{
  struct tcard c = task();
  struct proto_error err;
  int64_t who[4], due = 1790330400000LL;   /* 2026-09-25T10:00:00Z */
  size_t n;
  struct card_actor sys = {0};

  CHECK_INT(card_next_reminder(c.type, c.state, who, 4, &n), ==, due);
  CHECK_UINT(n, ==, 2);
  CHECK_INT(who[0], ==, 7);
  CHECK_INT(who[1], ==, 8);
  /* Not before it is due, and only by the system. */
  CHECK_REFUSED(tc_action(&c, "remind", NULL, sys, due - 1, &err, NULL),
                PROTO_E_INVALID_ACTION, "");
  CHECK_REFUSED(tc_action(&c, "remind", NULL, user(7), due, &err, NULL),
                PROTO_E_FORBIDDEN, "");
  CHECK_INT(tc_action(&c, "remind", NULL, sys, due + 5, &err, "reminder"), ==,
            0);
  CHECK_INT(card_next_reminder(c.type, c.state, who, 4, &n), ==, 0);
  CHECK_UINT(n, ==, 0);
  CHECK_REFUSED(tc_action(&c, "remind", NULL, sys, due + 10, &err, NULL),
                PROTO_E_INVALID_ACTION, "");
  /* A new due date is reminded again; a closed task is not. */
  CHECK_INT(tc_edit(&c, "/due", "\"2026-09-26T10:00:00Z\"", c.ver,
                    with(user(5), true, false), T0, &err), ==, 0);
  CHECK_INT(card_next_reminder(c.type, c.state, who, 4, &n), ==, due + DAY);
  CHECK_INT(tc_action(&c, "set_status", "{\"status\":\"done\"}", user(7), T0,
                      &err, NULL), ==, 0);
  CHECK_INT(card_next_reminder(c.type, c.state, who, 4, &n), ==, 0);
  tc_free(&c);

  c = tc_create("{\"type\":\"task\",\"title\":\"No due\",\"assignees\":[7]}",
                user(5), T0, NULL);
  CHECK_INT(card_next_reminder(c.type, c.state, who, 4, &n), ==, 0);
  tc_free(&c);
}

TEST_MAIN()
