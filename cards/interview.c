/*
 * interview.c — the performance-interview record (SPEC §8, CARDS.md
 * "interview"): schema, the OKR progress pre-filled at creation, the
 * workflow draft -> submitted -> locked with amendments, who may edit, and
 * the 48-hour reminder of missing signatures. Signing itself is sign.c.
 */
#include "cards_int.h"

#include <math.h>
#include <string.h>

#define SIGN_REMIND_MS (48 * 3600 * 1000LL)
#define BEHIND_BY 0.15

static const char *const kept[] = {"status", "amendment", "signatures",
                                   "submitted_at", "locked_at", "spawned",
                                   "reminded", "fv", NULL};
static const char *const fields[] = {"type", "employee", "manager", "period",
                                     "sections", NULL};
static const char *const section_fields[] = {"okr_progress",
                                             "development_plan", "behaviour",
                                             "action_items", "notes", NULL};
static const char *const item_fields[] = {"text", "owner", "due", NULL};

static int check_item(const json_t *it, const char *path,
                      struct proto_error *err)
{
  int rc;

  if ((rc = ck_object(it, path, err)) < 0 ||
      (rc = ck_known(it, path, item_fields, NULL, err)) < 0 ||
      (rc = ck_string(it, "text", path, true, 1, CK_TITLE_MAX, NULL, err)) < 0 ||
      (rc = ck_id(it, "owner", path, true, "user", NULL, err)) < 0 ||
      (rc = ck_time(it, "due", path, false, NULL, err)) < 0)
    return rc;
  return 0;
}

/* okr_progress is built by the server; only each entry's "comment" is
 * written by the parties, so only that is checked in depth. */
static int check_okr_progress(const json_t *sec, struct proto_error *err)
{
  static const char *const p = "/sections/okr_progress";
  const json_t *list = NULL;
  char path[CK_PATH_MAX];
  int rc;

  if ((rc = ck_array(sec, "okr_progress", "/sections", false, 0, CK_OKRS_MAX,
                     &list, err)) < 0)
    return rc;
  for (size_t i = 0; i < json_array_size(list); i++) {
    ck_joini(path, p, i);
    if ((rc = ck_object(json_array_get(list, i), path, err)) < 0 ||
        (rc = ck_string(json_array_get(list, i), "comment", path, false, 0,
                        CK_NOTE_MAX, NULL, err)) < 0)
      return rc;
  }
  return 0;
}

static int check(const json_t *st, bool body, const struct card_actor *actor,
                 struct proto_error *err)
{
  const json_t *sec, *items = NULL;
  char path[CK_PATH_MAX];
  int64_t emp = 0, mgr = 0;
  int rc;

  (void)actor;
  if ((rc = ck_known(st, "", fields, body ? NULL : kept, err)) < 0 ||
      (rc = ck_id(st, "employee", "", true, "user", &emp, err)) < 0 ||
      (rc = ck_id(st, "manager", "", true, "user", &mgr, err)) < 0 ||
      (rc = ck_period(st, "period", "", true, NULL, NULL, err)) < 0)
    return rc;
  if (emp == mgr)
    return ck_fail(err, PROTO_E_INVALID_CARD, "/manager",
                   "/manager must be someone other than the employee");
  sec = json_object_get(st, "sections");
  if (!sec)
    return body ? 0
                : ck_fail(err, PROTO_E_INVALID_CARD, "/sections",
                          "/sections is required");
  if ((rc = ck_object(sec, "/sections", err)) < 0 ||
      (rc = ck_known(sec, "/sections", section_fields, NULL, err)) < 0 ||
      (rc = ck_string(sec, "development_plan", "/sections", false, 0,
                      CK_TEXT_MAX, NULL, err)) < 0 ||
      (rc = ck_string(sec, "behaviour", "/sections", false, 0, CK_TEXT_MAX,
                      NULL, err)) < 0 ||
      (rc = ck_string(sec, "notes", "/sections", false, 0, CK_TEXT_MAX, NULL,
                      err)) < 0 ||
      (rc = ck_array(sec, "action_items", "/sections", false, 0, CK_ITEMS_MAX,
                     &items, err)) < 0)
    return rc;
  if (body && json_object_get(sec, "okr_progress"))
    return ck_fail(err, PROTO_E_INVALID_CARD, "/sections/okr_progress",
                   "/sections/okr_progress is filled by the server from the "
                   "employee's OKR cards");
  if (!body && (rc = check_okr_progress(sec, err)) < 0)
    return rc;
  for (size_t i = 0; i < json_array_size(items); i++) {
    ck_joini(path, "/sections/action_items", i);
    if ((rc = check_item(json_array_get(items, i), path, err)) < 0)
      return rc;
  }
  return 0;
}

static double round4(double v)
{
  return round(v * 1e4) / 1e4;
}

/* One okr_progress entry from an OKR card's state. expected = the elapsed
 * share of the OKR's period at `now` (0..1); a KR is behind when its
 * progress is more than 15 percentage points below expected. */
static json_t *okr_entry(int64_t card, const json_t *okr, int64_t now)
{
  const json_t *krs = json_object_get(okr, "key_results");
  const json_t *prog = json_object_get(json_object_get(okr, "progress"), "krs");
  json_t *e, *list = json_array();
  int64_t ps, pe;
  double expected = 0;

  if (!list)
    return NULL;
  if (ck_parse_period(st_str(okr, "period", ""), &ps, &pe) == 0 && pe > ps) {
    expected = (double)(now - ps) / (double)(pe - ps);
    expected = round4(expected < 0 ? 0 : expected > 1 ? 1 : expected);
  }
  for (size_t i = 0; i < json_array_size(krs) && i < CK_KRS_MAX; i++) {
    const json_t *kr = json_array_get(krs, i);
    double p = round4(json_number_value(json_array_get(prog, i)));
    json_t *k = json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?,s:f,s:b}",
                          "title", json_object_get(kr, "title"),
                          "unit", json_object_get(kr, "unit"),
                          "start", json_object_get(kr, "start"),
                          "target", json_object_get(kr, "target"),
                          "current", json_object_get(kr, "current"),
                          "progress", p,
                          "behind", p < expected - BEHIND_BY - 1e-9);
    if (!k || json_array_append_new(list, k)) {
      json_decref(list);
      return NULL;
    }
  }
  e = json_pack("{s:I,s:O?,s:f,s:f,s:o,s:s}", "card", (json_int_t)card,
                "objective", json_object_get(okr, "objective"), "progress",
                round4(json_number_value(json_object_get(
                    json_object_get(okr, "progress"), "overall"))),
                "expected", expected, "key_results", list, "comment", "");
  return e;
}

static int prefill(json_t *sec, const struct card_ctx *ctx,
                   struct proto_error *err)
{
  json_t *list = json_array();

  if (!list)
    return ck_nomem(err);
  for (size_t i = 0; i < json_array_size(ctx->okrs) && i < CK_OKRS_MAX; i++) {
    const json_t *o = json_array_get(ctx->okrs, i);
    const json_t *okr = json_object_get(o, "state");
    json_t *e;
    /* The caller's facts; skip anything that is not a usable OKR. */
    if (!json_is_object(okr) || !json_is_integer(json_object_get(o, "card")) ||
        strcmp(st_str(okr, "type", ""), "okr") != 0 ||
        !json_is_string(json_object_get(okr, "objective")))
      continue;
    e = okr_entry(json_integer_value(json_object_get(o, "card")), okr,
                  ctx->now_ms);
    if (!e || json_array_append_new(list, e)) {
      json_decref(list);
      return ck_nomem(err);
    }
  }
  return st_set(sec, "okr_progress", list, err);
}

static int init(json_t *st, const struct card_actor *actor,
                const struct card_ctx *ctx, struct card_change *out,
                struct proto_error *err)
{
  json_t *sec = json_object_get(st, "sections");
  static const char *const texts[] = {"development_plan", "behaviour",
                                      "notes", NULL};

  (void)actor;
  (void)out;
  if (!sec) {
    sec = json_object();
    if (st_set(st, "sections", sec, err) < 0)
      return PROTO_E_NOMEM;
  }
  for (const char *const *p = texts; *p; p++)
    if (!json_object_get(sec, *p) && st_set(sec, *p, json_string(""), err) < 0)
      return PROTO_E_NOMEM;
  if (!json_object_get(sec, "action_items") &&
      st_set(sec, "action_items", json_array(), err) < 0)
    return PROTO_E_NOMEM;
  if (prefill(sec, ctx, err) < 0 ||
      st_set(st, "status", json_string("draft"), err) < 0 ||
      st_set(st, "amendment", json_integer(0), err) < 0 ||
      st_set(st, "signatures", json_array(), err) < 0)
    return PROTO_E_NOMEM;
  return 0;
}

bool interview_party(const json_t *st, const struct card_actor *actor)
{
  return !actor->bot && actor->id > 0 &&
         (st_int(st, "employee", 0) == actor->id ||
          st_int(st, "manager", 0) == actor->id);
}

static int may_create(const json_t *st, const struct card_actor *actor,
                      struct proto_error *err)
{
  if (!actor->bot &&
      (interview_party(st, actor) || actor->manager || actor->admin))
    return 0;
  return ck_fail(err, PROTO_E_FORBIDDEN, "",
                 "an interview record is created by the employee, their "
                 "manager or an admin");
}

/* Back to draft; with `bump`, a new amendment whose signatures start over.
 * The signatures that stop counting go into the event's payload. */
static int to_draft(json_t *st, bool bump, struct card_change *out,
                    struct proto_error *err)
{
  json_t *sigs = json_object_get(st, "signatures");

  if (bump) {
    if (!out->payload && !(out->payload = json_object()))
      return ck_nomem(err);
    if (st_set(out->payload, "previous_signatures",
               sigs ? json_incref(sigs) : json_array(), err) < 0 ||
        st_set(out->payload, "amendment",
               json_integer(st_int(st, "amendment", 0) + 1), err) < 0 ||
        st_set(st, "amendment", json_integer(st_int(st, "amendment", 0) + 1),
               err) < 0 ||
        st_set(st, "signatures", json_array(), err) < 0)
      return PROTO_E_NOMEM;
    out->ev = "amended";
  }
  json_object_del(st, "submitted_at");
  json_object_del(st, "locked_at");
  json_object_del(st, "reminded");
  return st_set(st, "status", json_string("draft"), err);
}

static int action(json_t *st, const char *name, const json_t *args,
                  const struct card_actor *actor, const struct card_ctx *ctx,
                  struct card_change *out, struct proto_error *err)
{
  const char *status = st_str(st, "status", "");
  int rc;

  if (strcmp(name, "submit") != 0 && strcmp(name, "amend") != 0)
    return ck_fail(err, PROTO_E_INVALID_ACTION, "",
                   "unknown interview action \"%.40s\" (submit, amend; sign "
                   "with card_sign)", name);
  if ((rc = ck_known(args, "", NULL, NULL, err)) < 0)
    return rc;
  if (!interview_party(st, actor))
    return ck_fail(err, PROTO_E_FORBIDDEN, "",
                   "only the employee and the manager act on the record");
  if (strcmp(name, "submit") == 0) {
    if (strcmp(status, "draft") != 0)
      return ck_fail(err, PROTO_E_INVALID_ACTION, "/status",
                     "only a draft can be submitted (the record is %s)",
                     status);
    out->ev = "submitted";
    out->payload = json_pack("{s:I}", "amendment",
                             (json_int_t)st_int(st, "amendment", 0));
    if (!out->payload ||
        st_set(st, "submitted_at", json_integer(ctx->now_ms), err) < 0)
      return ck_nomem(err);
    return st_set(st, "status", json_string("submitted"), err);
  }
  if (strcmp(status, "draft") == 0)
    return ck_fail(err, PROTO_E_INVALID_ACTION, "/status",
                   "the record is a draft already: edit it");
  return to_draft(st, true, out, err);
}

static int may_edit(const json_t *st, const char *path,
                    const struct card_actor *actor, struct proto_error *err)
{
  static const char *const editable[] = {
      "/sections/development_plan", "/sections/behaviour", "/sections/notes",
      "/sections/action_items", NULL};
  size_t n;

  if (!interview_party(st, actor))
    return ck_fail(err, PROTO_E_FORBIDDEN, path,
                   "only the employee and the manager edit the record");
  if (strcmp(st_str(st, "status", ""), "locked") == 0)
    return ck_fail(err, PROTO_E_INVALID_ACTION, path,
                   "the record is signed and locked: start an amendment "
                   "with the amend action");
  for (const char *const *p = editable; *p; p++) {
    n = strlen(*p);
    if (strncmp(path, *p, n) == 0 && (path[n] == '\0' || path[n] == '/'))
      return 0;
  }
  /* /sections/okr_progress/<i>/comment */
  if (strncmp(path, "/sections/okr_progress/", 23) == 0) {
    const char *s = path + 23;
    while (*s >= '0' && *s <= '9')
      s++;
    if (s > path + 23 && strcmp(s, "/comment") == 0)
      return 0;
  }
  return ck_fail(err, PROTO_E_INVALID_CARD, path,
                 "%s cannot be edited (development_plan, behaviour, notes, "
                 "action_items and each okr_progress comment under "
                 "/sections)", path);
}

/* An edit of a submitted record sends it back to draft; once someone has
 * signed, that is an amendment. */
static int edited(json_t *st, const struct card_actor *actor,
                  const struct card_ctx *ctx, struct card_change *out,
                  struct proto_error *err)
{
  (void)actor;
  (void)ctx;
  if (strcmp(st_str(st, "status", ""), "submitted") != 0)
    return 0;
  return to_draft(st, json_array_size(json_object_get(st, "signatures")) > 0,
                  out, err);
}

static size_t people(const json_t *st, int64_t *ids, size_t max)
{
  const json_t *items =
      json_object_get(json_object_get(st, "sections"), "action_items");
  size_t n = 0;

  n = st_add_id(ids, max, n, st_int(st, "employee", 0));
  n = st_add_id(ids, max, n, st_int(st, "manager", 0));
  for (size_t i = 0; i < json_array_size(items); i++)
    n = st_add_id(ids, max, n, st_int(json_array_get(items, i), "owner", 0));
  return n;
}

static size_t subjects(const json_t *st, int64_t *ids, size_t max)
{
  return st_add_id(ids, max, 0, st_int(st, "employee", 0));
}

bool interview_signed_by(const json_t *st, int64_t user)
{
  const json_t *sigs = json_object_get(st, "signatures");

  for (size_t i = 0; i < json_array_size(sigs); i++)
    if (st_int(json_array_get(sigs, i), "user", 0) == user)
      return true;
  return false;
}

/* 48 hours after submission, then every 48 hours, to the parties who have
 * not signed. */
static int64_t reminder(const json_t *st, int64_t *who, size_t max,
                        size_t *n)
{
  int64_t due, sent, emp = st_int(st, "employee", 0),
                     mgr = st_int(st, "manager", 0);

  if (strcmp(st_str(st, "status", ""), "submitted") != 0)
    return 0;
  due = st_int(st, "submitted_at", 0) + SIGN_REMIND_MS;
  sent = st_int(st, "reminded", 0);
  if (sent >= due)
    due = sent + SIGN_REMIND_MS;
  if (!interview_signed_by(st, emp))
    *n = st_add_id(who, max, *n, emp);
  if (!interview_signed_by(st, mgr))
    *n = st_add_id(who, max, *n, mgr);
  return *n ? due : 0;
}

const struct card_kind card_kind_interview = {
    .type = CARD_INTERVIEW,
    .name = "interview",
    .kept = kept,
    .check = check,
    .init = init,
    .may_create = may_create,
    .action = action,
    .may_edit = may_edit,
    .edited = edited,
    .people = people,
    .subjects = subjects,
    .reminder = reminder,
};

static bool spawned_before(const json_t *spawned, const json_t *item)
{
  for (size_t i = 0; i < json_array_size(spawned); i++)
    if (json_equal(json_array_get(spawned, i), (json_t *)item))
      return true;
  return false;
}

/* The task body an action item becomes: created by the system, assigned to
 * the item's owner, due when the item is. */
static json_t *task_of(const json_t *item, int64_t card)
{
  json_t *t = json_pack("{s:s,s:O,s:s,s:[I],s:s,s:{s:s,s:I}}", "type", "task",
                        "title", json_object_get(item, "text"), "description",
                        "Action item of an interview record",
                        "assignees", (json_int_t)st_int(item, "owner", 0),
                        "priority", "normal", "source", "kind", "interview",
                        "card", (json_int_t)card);

  if (t && json_object_get(item, "due") &&
      json_object_set(t, "due", json_object_get(item, "due")) != 0) {
    json_decref(t);
    return NULL;
  }
  return t;
}

int interview_lock(json_t *st, const struct card_ctx *ctx,
                   struct card_change *out, struct proto_error *err)
{
  const json_t *items =
      json_object_get(json_object_get(st, "sections"), "action_items");
  json_t *spawned = json_object_get(st, "spawned");

  if (!spawned) {
    spawned = json_array();
    if (st_set(st, "spawned", spawned, err) < 0)
      return PROTO_E_NOMEM;
  }
  out->spawn = json_array();
  if (!out->spawn)
    return ck_nomem(err);
  /* After an amendment only the new or changed items become tasks: the
   * others were spawned when the record was locked before. */
  for (size_t i = 0; i < json_array_size(items); i++) {
    const json_t *it = json_array_get(items, i);
    if (spawned_before(spawned, it))
      continue;
    if (json_array_append_new(out->spawn, task_of(it, ctx->card_id)) ||
        json_array_append_new(spawned, json_deep_copy(it)))
      return ck_nomem(err);
  }
  if (json_array_size(out->spawn) == 0) {
    json_decref(out->spawn);
    out->spawn = NULL;
  }
  out->ev = "locked";
  json_object_del(st, "reminded");
  if (st_set(st, "locked_at", json_integer(ctx->now_ms), err) < 0 ||
      st_set(out->payload, "tasks",
             json_integer(out->spawn ? (json_int_t)json_array_size(out->spawn)
                                     : 0), err) < 0)
    return PROTO_E_NOMEM;
  return st_set(st, "status", json_string("locked"), err);
}
