/*
 * okr.c — the OKR card (SPEC §8, CARDS.md "okr"): objective, owner, period,
 * parent objective, key results; check-ins by the owner (or a manager);
 * progress computed per key result and overall; a reminder to an owner who
 * has not checked in for 7 days.
 */
#include "cards_int.h"

#include <math.h>
#include <string.h>

#define CHECKIN_EVERY_MS (7 * DAY_MS)

static const char *const kept[] = {"progress", "created_at", "last_checkin",
                                   "reminded", "fv", NULL};
static const char *const fields[] = {"type", "objective", "owner", "period",
                                     "parent", "key_results", NULL};
static const char *const kr_fields[] = {"title", "start", "target",
                                        "current", "unit", "confidence",
                                        NULL};

static int check(const json_t *st, bool body, const struct card_actor *actor,
                 struct proto_error *err)
{
  const json_t *krs = NULL;
  char path[CK_PATH_MAX], f[CK_PATH_MAX];
  int rc;

  (void)actor;
  if ((rc = ck_known(st, "", fields, body ? NULL : kept, err)) < 0 ||
      (rc = ck_string(st, "objective", "", true, 1, CK_TITLE_MAX, NULL,
                      err)) < 0 ||
      (rc = ck_id(st, "owner", "", true, "user", NULL, err)) < 0 ||
      (rc = ck_period(st, "period", "", true, NULL, NULL, err)) < 0 ||
      (rc = ck_id(st, "parent", "", false, "card", NULL, err)) < 0 ||
      (rc = ck_array(st, "key_results", "", true, 1, CK_KRS_MAX, &krs,
                     err)) < 0)
    return rc;
  for (size_t i = 0; i < json_array_size(krs); i++) {
    const json_t *kr = json_array_get(krs, i);
    double start = 0, target = 0;
    ck_joini(path, "/key_results", i);
    if ((rc = ck_object(kr, path, err)) < 0 ||
        (rc = ck_known(kr, path, kr_fields, NULL, err)) < 0 ||
        (rc = ck_string(kr, "title", path, true, 1, CK_TITLE_MAX, NULL,
                        err)) < 0 ||
        (rc = ck_number(kr, "start", path, true, -CK_NUM_MAX, CK_NUM_MAX,
                        &start, err)) < 0 ||
        (rc = ck_number(kr, "target", path, true, -CK_NUM_MAX, CK_NUM_MAX,
                        &target, err)) < 0 ||
        (rc = ck_number(kr, "current", path, false, -CK_NUM_MAX, CK_NUM_MAX,
                        NULL, err)) < 0 ||
        (rc = ck_string(kr, "unit", path, false, 0, CK_UNIT_MAX, NULL,
                        err)) < 0 ||
        (rc = ck_number(kr, "confidence", path, false, 0, 1, NULL, err)) < 0)
      return rc;
    if (target == start) {
      ck_join(f, path, "target");
      return ck_fail(err, PROTO_E_INVALID_CARD, f,
                     "%s: target equals start, so progress cannot be "
                     "measured", f);
    }
  }
  return 0;
}

static double round4(double v)
{
  return round(v * 1e4) / 1e4;
}

/* progress = {"overall": mean, "krs": [per KR]}, each clamped to 0..1 and
 * rounded to 4 decimals. */
static int compute_progress(json_t *st, struct proto_error *err)
{
  const json_t *krs = json_object_get(st, "key_results");
  json_t *list = json_array(), *p;
  double sum = 0;
  size_t n = json_array_size(krs);

  if (!list)
    return ck_nomem(err);
  for (size_t i = 0; i < n; i++) {
    const json_t *kr = json_array_get(krs, i);
    double start = json_number_value(json_object_get(kr, "start"));
    double target = json_number_value(json_object_get(kr, "target"));
    const json_t *c = json_object_get(kr, "current");
    double cur = c ? json_number_value(c) : start;
    double x = target != start ? (cur - start) / (target - start) : 0;
    x = round4(x < 0 ? 0 : x > 1 ? 1 : x);
    sum += x;
    if (json_array_append_new(list, json_real(x))) {
      json_decref(list);
      return ck_nomem(err);
    }
  }
  p = json_pack("{s:f,s:o}", "overall", n ? round4(sum / (double)n) : 0.0,
                "krs", list);
  return st_set(st, "progress", p, err);
}

static int init(json_t *st, const struct card_actor *actor,
                const struct card_ctx *ctx, struct card_change *out,
                struct proto_error *err)
{
  json_t *krs = json_object_get(st, "key_results");

  (void)actor;
  for (size_t i = 0; i < json_array_size(krs); i++) {
    json_t *kr = json_array_get(krs, i);
    if (!json_object_get(kr, "current") &&
        st_set(kr, "current", json_deep_copy(json_object_get(kr, "start")),
               err) < 0)
      return PROTO_E_NOMEM;
    if (!json_object_get(kr, "unit") &&
        st_set(kr, "unit", json_string(""), err) < 0)
      return PROTO_E_NOMEM;
    if (!json_object_get(kr, "confidence") &&
        st_set(kr, "confidence", json_real(0.5), err) < 0)
      return PROTO_E_NOMEM;
  }
  out->parent = st_int(st, "parent", 0);
  if (st_set(st, "created_at", json_integer(ctx->now_ms), err) < 0)
    return PROTO_E_NOMEM;
  return compute_progress(st, err);
}

static bool is_owner(const json_t *st, const struct card_actor *actor)
{
  return !actor->bot && actor->id > 0 && st_int(st, "owner", 0) == actor->id;
}

static int may_create(const json_t *st, const struct card_actor *actor,
                      struct proto_error *err)
{
  if (is_owner(st, actor) || actor->manager || actor->admin)
    return 0;
  return ck_fail(err, PROTO_E_FORBIDDEN, "/owner",
                 "an OKR is created by its owner or one of the owner's "
                 "managers");
}

static int checkin(json_t *st, const json_t *args,
                   const struct card_actor *actor, const struct card_ctx *ctx,
                   struct card_change *out, struct proto_error *err)
{
  static const char *const a_fields[] = {"kr", "current", "confidence",
                                         "note", NULL};
  json_t *krs = json_object_get(st, "key_results"), *kr, *kv;
  const char *note = "";
  double cur, conf = 0;
  bool has_conf;
  char path[CK_PATH_MAX];
  int rc;
  json_int_t i;

  if ((rc = ck_known(args, "", a_fields, NULL, err)) < 0)
    return rc;
  kv = json_object_get(args, "kr");
  if (!kv)
    return ck_fail(err, PROTO_E_INVALID_CARD, "/kr", "/kr is required");
  if (!json_is_integer(kv) || json_integer_value(kv) < 0 ||
      (size_t)json_integer_value(kv) >= json_array_size(krs))
    return ck_fail(err, PROTO_E_INVALID_CARD, "/kr",
                   "/kr must be the index of a key result (0..%zu)",
                   json_array_size(krs) - 1);
  i = json_integer_value(kv);
  if ((rc = ck_number(args, "current", "", true, -CK_NUM_MAX, CK_NUM_MAX,
                      &cur, err)) < 0 ||
      (rc = ck_number(args, "confidence", "", false, 0, 1, &conf, err)) < 0 ||
      (rc = ck_string(args, "note", "", false, 0, CK_NOTE_MAX, &note,
                      err)) < 0)
    return rc;
  if (!is_owner(st, actor) && !actor->manager && !actor->admin)
    return ck_fail(err, PROTO_E_FORBIDDEN, "",
                   "only the owner or a manager may check in");
  has_conf = json_object_get(args, "confidence") != NULL;
  kr = json_array_get(krs, (size_t)i);
  out->payload = json_pack("{s:I,s:O,s:O,s:s}", "kr", i, "from",
                           json_object_get(kr, "current"), "current",
                           json_object_get(args, "current"), "note", note);
  if (!out->payload)
    return ck_nomem(err);
  if (has_conf &&
      st_set(out->payload, "confidence", json_real(conf), err) < 0)
    return PROTO_E_NOMEM;
  if (st_set(kr, "current",
             json_deep_copy(json_object_get(args, "current")), err) < 0)
    return PROTO_E_NOMEM;
  snprintf(path, sizeof(path), "/key_results/%lld/current", (long long)i);
  if ((rc = fv_record(st, path, ctx->ver + 1, err)) < 0)
    return rc;
  if (has_conf) {
    if (st_set(kr, "confidence",
               json_deep_copy(json_object_get(args, "confidence")), err) < 0)
      return PROTO_E_NOMEM;
    snprintf(path, sizeof(path), "/key_results/%lld/confidence", (long long)i);
    if ((rc = fv_record(st, path, ctx->ver + 1, err)) < 0)
      return rc;
  }
  if (st_set(st, "last_checkin", json_integer(ctx->now_ms), err) < 0 ||
      compute_progress(st, err) < 0)
    return err->code;
  out->ev = "checkin";
  out->parent = st_int(st, "parent", 0);
  return st_set(out->payload, "progress",
                json_deep_copy(json_object_get(st, "progress")), err);
}

static int action(json_t *st, const char *name, const json_t *args,
                  const struct card_actor *actor, const struct card_ctx *ctx,
                  struct card_change *out, struct proto_error *err)
{
  static const char *const a_text[] = {"text", NULL};
  const char *s = NULL;
  int rc;

  out->parent = st_int(st, "parent", 0);
  if (strcmp(name, "checkin") == 0)
    return checkin(st, args, actor, ctx, out, err);
  if (strcmp(name, "comment") == 0) {
    if ((rc = ck_known(args, "", a_text, NULL, err)) < 0 ||
        (rc = ck_string(args, "text", "", true, 1, CK_NOTE_MAX, &s, err)) < 0)
      return rc;
    out->ev = "comment";
    out->payload = json_pack("{s:s}", "text", s);
    return out->payload ? 0 : ck_nomem(err);
  }
  return ck_fail(err, PROTO_E_INVALID_ACTION, "",
                 "unknown okr action \"%.40s\" (checkin, comment)", name);
}

static int may_edit(const json_t *st, const char *path,
                    const struct card_actor *actor, struct proto_error *err)
{
  static const char *const editable[] = {"objective", "period", "parent",
                                         "key_results", NULL};
  char head[CK_PATH_MAX];

  if (!is_owner(st, actor) && !actor->manager && !actor->admin)
    return ck_fail(err, PROTO_E_FORBIDDEN, path,
                   "only the owner or a manager may edit the OKR");
  ptr_head(path, head, sizeof(head));
  for (const char *const *p = editable; *p; p++)
    if (strcmp(*p, head) == 0)
      return 0;
  return ck_fail(err, PROTO_E_INVALID_CARD, path,
                 "%s cannot be edited (objective, period, parent, "
                 "key_results)", path);
}

static int edited(json_t *st, const struct card_actor *actor,
                  const struct card_ctx *ctx, struct card_change *out,
                  struct proto_error *err)
{
  (void)actor;
  out->parent = st_int(st, "parent", 0);
  if (out->parent && out->parent == ctx->card_id)
    return ck_fail(err, PROTO_E_INVALID_CARD, "/parent",
                   "/parent: an objective cannot be its own parent");
  return compute_progress(st, err);
}

static size_t people(const json_t *st, int64_t *ids, size_t max)
{
  return st_add_id(ids, max, 0, st_int(st, "owner", 0));
}

/* Due 7 days after the later of creation and the last check-in, then every
 * 7 days after the last reminder; none once the period is over. */
static int64_t reminder(const json_t *st, int64_t *who, size_t max,
                        size_t *n)
{
  int64_t base = st_int(st, "created_at", 0), last, sent, due, ps, pe;

  last = st_int(st, "last_checkin", 0);
  if (last > base)
    base = last;
  due = base + CHECKIN_EVERY_MS;
  sent = st_int(st, "reminded", 0);
  if (sent >= due)
    due = sent + CHECKIN_EVERY_MS;
  if (ck_parse_period(st_str(st, "period", ""), &ps, &pe) < 0 || due >= pe)
    return 0;
  *n = people(st, who, max);
  return due;
}

const struct card_kind card_kind_okr = {
    .type = CARD_OKR,
    .name = "okr",
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
