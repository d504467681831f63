/*
 * task.c — the task card (SPEC §8, CARDS.md "task"): schema, who may do
 * what (assignees, the creator, managers of an assignee, admins; a bot on
 * the tasks it posted), the status transitions and the overdue reminder.
 */
#include "cards_int.h"

#include <string.h>

static const char *const kept[] = {"status", "reminded", "fv", NULL};
static const char *const fields[] = {"type", "title", "description",
                                     "assignees", "due", "priority",
                                     "source", NULL};
static const char *const body_extra[] = {"status", NULL};
static const char *const priorities[] = {"low", "normal", "high", "urgent",
                                         NULL};
static const char *const statuses[] = {"open", "in_progress", "done",
                                       "cancelled", NULL};
static const char *const new_statuses[] = {"open", "in_progress", NULL};
static const char *const source_kinds[] = {"user", "bot", "interview",
                                           "automation", NULL};
static const char *const source_fields[] = {"kind", "user", "bot", "card",
                                            "conv", "seq", NULL};

static int check_source(const json_t *st, struct proto_error *err)
{
  const json_t *s = json_object_get(st, "source");
  static const char *const ids[] = {"user", "bot", "card", "conv", "seq",
                                    NULL};
  int rc;

  if (!s)
    return 0;
  if ((rc = ck_object(s, "/source", err)) < 0 ||
      (rc = ck_known(s, "/source", source_fields, NULL, err)) < 0 ||
      (rc = ck_enum(s, "kind", "/source", true, source_kinds, NULL, err)) < 0)
    return rc;
  for (const char *const *p = ids; *p; p++)
    if ((rc = ck_id(s, *p, "/source", false, "source", NULL, err)) < 0)
      return rc;
  return 0;
}

static int check(const json_t *st, bool body, const struct card_actor *actor,
                 struct proto_error *err)
{
  int rc;

  if ((rc = ck_known(st, "", fields, body ? body_extra : kept, err)) < 0 ||
      (rc = ck_string(st, "title", "", true, 1, CK_TITLE_MAX, NULL, err)) < 0 ||
      (rc = ck_string(st, "description", "", false, 0, CK_TEXT_MAX, NULL,
                      err)) < 0 ||
      (rc = ck_user_list(st, "assignees", "", true, CK_ASSIGNEES_MAX,
                         err)) < 0 ||
      (rc = ck_time(st, "due", "", false, NULL, err)) < 0 ||
      (rc = ck_enum(st, "priority", "", false, priorities, NULL, err)) < 0)
    return rc;
  if (body) {
    /* A new task may start open or in progress; status is an enum first,
     * so that "unknown status" and "not for a new task" read differently. */
    if ((rc = ck_enum(st, "status", "", false, statuses, NULL, err)) < 0 ||
        (rc = ck_enum(st, "status", "", false, new_statuses, NULL, err)) < 0)
      return rc;
    if (json_object_get(st, "source") && !(actor->id == 0 && !actor->bot))
      return ck_fail(err, PROTO_E_INVALID_CARD, "/source",
                     "/source is set by the server");
  }
  return check_source(st, err);
}

static int init(json_t *st, const struct card_actor *actor,
                const struct card_ctx *ctx, struct card_change *out,
                struct proto_error *err)
{
  json_t *src;

  (void)ctx;
  (void)out;
  if (!json_object_get(st, "status") &&
      st_set(st, "status", json_string("open"), err) < 0)
    return PROTO_E_NOMEM;
  if (!json_object_get(st, "priority") &&
      st_set(st, "priority", json_string("normal"), err) < 0)
    return PROTO_E_NOMEM;
  if (!json_object_get(st, "source")) {
    src = actor->bot ? json_pack("{s:s,s:I}", "kind", "bot", "bot",
                                 (json_int_t)actor->id)
                     : json_pack("{s:s,s:I}", "kind", "user", "user",
                                 (json_int_t)actor->id);
    if (st_set(st, "source", src, err) < 0)
      return PROTO_E_NOMEM;
  }
  return 0;
}

static int may_create(const json_t *st, const struct card_actor *actor,
                      struct proto_error *err)
{
  (void)st;
  (void)actor;
  (void)err;
  return 0;   /* any member of the conversation, people and bots */
}

static bool is_assignee(const json_t *st, const struct card_actor *actor)
{
  return !actor->bot && actor->id > 0 &&
         st_has_id(json_object_get(st, "assignees"), actor->id);
}

static bool is_boss(const struct card_actor *actor)
{
  return actor->creator || actor->manager || actor->admin;
}

/* open <-> in_progress, either -> done or cancelled, done or cancelled ->
 * open (reopened). */
static bool transition_ok(const char *from, const char *to)
{
  bool live = strcmp(from, "open") == 0 || strcmp(from, "in_progress") == 0;

  if (strcmp(from, to) == 0)
    return false;
  return live || strcmp(to, "open") == 0;
}

static int set_status(json_t *st, const char *to, const char *action,
                      struct card_change *out, struct proto_error *err)
{
  const char *from = st_str(st, "status", "open");

  if (!transition_ok(from, to))
    return ck_fail(err, PROTO_E_INVALID_ACTION, "/status",
                   "the task is %s: it cannot become %s", from, to);
  out->payload = json_pack("{s:s,s:s,s:s}", "action", action, "from", from,
                           "to", to);
  if (!out->payload)
    return ck_nomem(err);
  out->ev = "action";
  return st_set(st, "status", json_string(to), err);
}

static int action(json_t *st, const char *name, const json_t *args,
                  const struct card_actor *actor, const struct card_ctx *ctx,
                  struct card_change *out, struct proto_error *err)
{
  static const char *const a_status[] = {"status", NULL};
  static const char *const a_text[] = {"text", NULL};
  static const char *const a_assignees[] = {"assignees", NULL};
  const char *s = NULL;
  int rc;

  if (strcmp(name, "accept") == 0) {
    if ((rc = ck_known(args, "", NULL, NULL, err)) < 0)
      return rc;
    if (!is_assignee(st, actor))
      return ck_fail(err, PROTO_E_FORBIDDEN, "",
                     "only an assignee may accept the task");
    if (strcmp(st_str(st, "status", ""), "open") != 0)
      return ck_fail(err, PROTO_E_INVALID_ACTION, "/status",
                     "only an open task can be accepted (it is %s)",
                     st_str(st, "status", "?"));
    return set_status(st, "in_progress", "accept", out, err);
  }
  if (strcmp(name, "set_status") == 0) {
    if ((rc = ck_known(args, "", a_status, NULL, err)) < 0 ||
        (rc = ck_enum(args, "status", "", true, statuses, &s, err)) < 0)
      return rc;
    if (!is_assignee(st, actor) && !is_boss(actor))
      return ck_fail(err, PROTO_E_FORBIDDEN, "",
                     "only assignees, the creator or a manager may change "
                     "the status");
    return set_status(st, s, "set_status", out, err);
  }
  if (strcmp(name, "comment") == 0) {
    if ((rc = ck_known(args, "", a_text, NULL, err)) < 0 ||
        (rc = ck_string(args, "text", "", true, 1, CK_NOTE_MAX, &s, err)) < 0)
      return rc;
    out->ev = "comment";
    out->payload = json_pack("{s:s}", "text", s);
    return out->payload ? 0 : ck_nomem(err);
  }
  if (strcmp(name, "reassign") == 0) {
    json_t *from = json_object_get(st, "assignees"), *to;
    if ((rc = ck_known(args, "", a_assignees, NULL, err)) < 0 ||
        (rc = ck_user_list(args, "assignees", "", true, CK_ASSIGNEES_MAX,
                           err)) < 0)
      return rc;
    if (!is_boss(actor))
      return ck_fail(err, PROTO_E_FORBIDDEN, "",
                     "only the creator or a manager may reassign the task");
    to = json_object_get(args, "assignees");
    out->ev = "action";
    out->payload = json_pack("{s:s,s:O,s:O}", "action", "reassign", "from",
                             from, "to", to);
    if (!out->payload)
      return ck_nomem(err);
    /* New assignees of an overdue task get its reminder too. */
    json_object_del(st, "reminded");
    if ((rc = st_set(st, "assignees", json_deep_copy(to), err)) < 0)
      return rc;
    return fv_record(st, "/assignees", ctx->ver + 1, err);
  }
  return ck_fail(err, PROTO_E_INVALID_ACTION, "",
                 "unknown task action \"%.40s\" (accept, set_status, "
                 "comment, reassign)", name);
}

static int may_edit(const json_t *st, const char *path,
                    const struct card_actor *actor, struct proto_error *err)
{
  static const char *const editable[] = {"title", "description", "due",
                                         "priority", NULL};
  char head[CK_PATH_MAX];

  (void)st;
  if (!is_boss(actor))
    return ck_fail(err, PROTO_E_FORBIDDEN, path,
                   "only the creator or a manager may edit the task");
  ptr_head(path, head, sizeof(head));
  for (const char *const *p = editable; *p; p++)
    if (strcmp(*p, head) == 0)
      return 0;
  return ck_fail(err, PROTO_E_INVALID_CARD, path,
                 "%s cannot be edited (title, description, due, priority; "
                 "assignees through reassign, status through set_status)",
                 path);
}

static int edited(json_t *st, const struct card_actor *actor,
                  const struct card_ctx *ctx, struct card_change *out,
                  struct proto_error *err)
{
  (void)st;
  (void)actor;
  (void)ctx;
  (void)out;
  (void)err;
  return 0;
}

static size_t people(const json_t *st, int64_t *ids, size_t max)
{
  const json_t *a = json_object_get(st, "assignees");
  size_t n = 0;

  for (size_t i = 0; i < json_array_size(a); i++)
    n = st_add_id(ids, max, n, json_integer_value(json_array_get(a, i)));
  return n;
}

static int64_t reminder(const json_t *st, int64_t *who, size_t max,
                        size_t *n)
{
  const char *status = st_str(st, "status", "");
  const char *due = st_str(st, "due", NULL);
  int64_t at;

  if (!due || (strcmp(status, "open") != 0 &&
               strcmp(status, "in_progress") != 0))
    return 0;
  at = ck_parse_time(due);
  if (at <= 0 || st_int(st, "reminded", 0) == at)
    return 0;
  *n = people(st, who, max);
  return at;
}

const struct card_kind card_kind_task = {
    .type = CARD_TASK,
    .name = "task",
    .kept = kept,
    .check = check,
    .init = init,
    .may_create = may_create,
    .action = action,
    .may_edit = may_edit,
    .edited = edited,
    .people = people,
    .subjects = people,
    .reminder = reminder,
};
