/*
 * cards.c — the public entry points of cards.h: type names, dispatch to the
 * per-type table (task.c, okr.c, interview.c), and what every type shares:
 * parsing a body or the arguments of an action, who may act at all (bots
 * on their own cards, the system only for reminders), applying an edit with
 * its conflict check, and the "remind" action.
 */
#include "cards_int.h"

#include <math.h>
#include <string.h>

static const char *const type_names[] = {NULL, "task", "okr", "interview"};

const char *card_type_name(enum card_type t)
{
  return t >= CARD_TASK && t <= CARD_INTERVIEW ? type_names[t] : NULL;
}

int card_type_parse(const char *name, enum card_type *out)
{
  for (int t = CARD_TASK; t <= CARD_INTERVIEW; t++)
    if (name && strcmp(name, type_names[t]) == 0) {
      *out = (enum card_type)t;
      return 0;
    }
  return -1;
}

const struct card_kind *card_kind_of(enum card_type t)
{
  switch (t) {
  case CARD_TASK: return &card_kind_task;
  case CARD_OKR: return &card_kind_okr;
  case CARD_INTERVIEW: return &card_kind_interview;
  }
  return NULL;
}

bool card_kept(const struct card_kind *k, const char *key)
{
  for (const char *const *p = k->kept; *p; p++)
    if (strcmp(*p, key) == 0)
      return true;
  return false;
}

void card_change_clear(struct card_change *c)
{
  if (!c)
    return;
  json_decref(c->state);
  json_decref(c->payload);
  json_decref(c->spawn);
  memset(c, 0, sizeof(*c));
}

/* ---- state helpers ---- */

int64_t st_int(const json_t *st, const char *key, int64_t dflt)
{
  json_t *v = json_object_get(st, key);

  return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

const char *st_str(const json_t *st, const char *key, const char *dflt)
{
  json_t *v = json_object_get(st, key);

  return json_is_string(v) ? json_string_value(v) : dflt;
}

int st_set(json_t *obj, const char *key, json_t *v, struct proto_error *err)
{
  if (!v || json_object_set_new(obj, key, v) != 0)
    return ck_nomem(err);
  return 0;
}

bool st_has_id(const json_t *ids, int64_t id)
{
  for (size_t i = 0; i < json_array_size(ids); i++)
    if (json_integer_value(json_array_get(ids, i)) == id)
      return true;
  return false;
}

size_t st_add_id(int64_t *ids, size_t max, size_t n, int64_t id)
{
  if (id <= 0)
    return n;
  for (size_t i = 0; i < n && i < max; i++)
    if (ids[i] == id)
      return n;
  if (n < max)
    ids[n] = id;
  return n + 1;
}

double st_round6(double v)
{
  return (double)llround(v * 1e6) / 1e6;
}

/* An OKR's parent objective goes with every change (reminders and
 * comments included), so that the caller can write it unconditionally. */
static void set_parent(enum card_type t, struct card_change *out)
{
  out->parent = t == CARD_OKR ? st_int(out->state, "parent", 0) : 0;
}

/* ---- create ---- */

int card_create(const char *body, size_t len, const struct card_actor *actor,
                const struct card_ctx *ctx, enum card_type *type,
                struct card_change *out, struct proto_error *err)
{
  const struct card_kind *k;
  json_t *st = NULL;
  const char *name = NULL;
  int rc;

  memset(out, 0, sizeof(*out));
  if (!body)
    return ck_fail(err, PROTO_E_INVALID_CARD, "", "the card has no body");
  rc = ck_parse_object(body, len, "card", &st, err);
  if (rc < 0)
    return rc;
  rc = ck_string(st, "type", "", true, 1, 32, &name, err);
  if (rc < 0)
    goto out;
  if (card_type_parse(name, type) < 0) {
    rc = ck_fail(err, PROTO_E_INVALID_CARD, "/type",
                 "/type: unknown card type \"%.40s\" (task, okr or interview)",
                 name);
    goto out;
  }
  k = card_kind_of(*type);
  if (actor->bot && *type != CARD_TASK) {
    rc = ck_fail(err, PROTO_E_FORBIDDEN, "/type",
                 "/type: a bot may post task cards only, not %s cards",
                 k->name);
    goto out;
  }
  /* Server-kept members are the server's (a task may start in_progress). */
  for (const char *const *p = k->kept; *p; p++)
    if (json_object_get(st, *p) &&
        !(*type == CARD_TASK && strcmp(*p, "status") == 0)) {
      char f[CK_PATH_MAX];
      ck_join(f, "", *p);
      rc = ck_fail(err, PROTO_E_INVALID_CARD, f, "%s is set by the server",
                   f);
      goto out;
    }
  rc = k->check(st, true, actor, err);
  if (rc < 0)
    goto out;
  rc = k->init(st, actor, ctx, out, err);
  if (rc < 0)
    goto out;
  out->ev = "created";
  if (!out->payload)
    out->payload = json_object();
  if (!out->payload) {
    rc = ck_nomem(err);
    goto out;
  }
  out->state = st;
  st = NULL;
  set_parent(*type, out);
out:
  json_decref(st);
  if (rc < 0)
    card_change_clear(out);
  return rc;
}

int card_may_create(enum card_type t, const json_t *state,
                    const struct card_actor *actor, struct proto_error *err)
{
  const struct card_kind *k = card_kind_of(t);

  if (!k)
    return ck_fail(err, PROTO_E_INVALID_CARD, "/type", "unknown card type");
  return k->may_create(state, actor, err);
}

size_t card_people(enum card_type t, const json_t *state, int64_t *ids,
                   size_t max)
{
  const struct card_kind *k = card_kind_of(t);

  return k ? k->people(state, ids, max) : 0;
}

size_t card_subjects(enum card_type t, const json_t *state, int64_t *ids,
                     size_t max)
{
  const struct card_kind *k = card_kind_of(t);

  return k ? k->subjects(state, ids, max) : 0;
}

int64_t card_next_reminder(enum card_type t, const json_t *state,
                           int64_t *who, size_t max, size_t *n)
{
  const struct card_kind *k = card_kind_of(t);

  *n = 0;
  return k ? k->reminder(state, who, max, n) : 0;
}

/* ---- actions ---- */

/* Bots act only on cards they created; the system only sends reminders. */
static int may_act(const char *action, const struct card_actor *actor,
                   struct proto_error *err)
{
  bool remind = strcmp(action, "remind") == 0;

  if (actor->id == 0 && !actor->bot)
    return remind ? 0
                  : ck_fail(err, PROTO_E_FORBIDDEN, "",
                            "the system only records reminders");
  if (remind)
    return ck_fail(err, PROTO_E_FORBIDDEN, "",
                   "remind is recorded by the server only");
  if (actor->bot && !actor->creator)
    return ck_fail(err, PROTO_E_FORBIDDEN, "",
                   "a bot may act only on cards it created");
  return 0;
}

static int remind(const struct card_kind *k, json_t *st,
                  const struct card_ctx *ctx, struct card_change *out,
                  struct proto_error *err)
{
  int64_t who[64];
  size_t n = 0;
  int64_t due = k->reminder(st, who, 64, &n);
  json_t *to;

  if (due <= 0 || due > ctx->now_ms)
    return ck_fail(err, PROTO_E_INVALID_ACTION, "",
                   "no reminder is due on this card");
  to = json_array();
  out->payload = json_object();
  if (!to || !out->payload) {
    json_decref(to);
    return ck_nomem(err);
  }
  for (size_t i = 0; i < n && i < 64; i++)
    if (json_array_append_new(to, json_integer(who[i])))
      return ck_nomem(err);
  if (st_set(out->payload, "to", to, err) < 0 ||
      st_set(out->payload, "due", json_integer(due), err) < 0 ||
      st_set(st, "reminded", json_integer(due), err) < 0)
    return PROTO_E_NOMEM;
  out->ev = "reminder";
  return 0;
}

int card_action(enum card_type t, const json_t *state, const char *action,
                const char *args, const struct card_actor *actor,
                const struct card_ctx *ctx, struct card_change *out,
                struct proto_error *err)
{
  const struct card_kind *k = card_kind_of(t);
  json_t *a = NULL, *st = NULL;
  int rc;

  memset(out, 0, sizeof(*out));
  if (!k || !json_is_object(state))
    return ck_fail(err, PROTO_E_INVALID_CARD, "", "not a card state");
  if (!action || !*action)
    return ck_fail(err, PROTO_E_INVALID_ACTION, "", "no action named");
  rc = ck_parse_object(args, args ? strlen(args) : 0, "args", &a, err);
  if (rc < 0)
    return rc;
  rc = may_act(action, actor, err);
  if (rc < 0)
    goto out;
  st = json_deep_copy(state);
  if (!st) {
    rc = ck_nomem(err);
    goto out;
  }
  if (strcmp(action, "remind") == 0) {
    rc = json_object_size(a) ? ck_known(a, "", NULL, NULL, err) : 0;
    if (rc == 0)
      rc = remind(k, st, ctx, out, err);
  } else {
    rc = k->action(st, action, a, actor, ctx, out, err);
  }
  if (rc < 0)
    goto out;
  if (!out->payload && !(out->payload = json_object())) {
    rc = ck_nomem(err);
    goto out;
  }
  out->state = st;
  st = NULL;
  set_parent(t, out);
out:
  json_decref(a);
  json_decref(st);
  if (rc < 0)
    card_change_clear(out);
  return rc;
}

/* ---- edits ---- */

int card_edit(enum card_type t, const json_t *state, const char *path,
              const char *value, int64_t base,
              const struct card_actor *actor, const struct card_ctx *ctx,
              struct card_change *out, struct proto_error *err)
{
  const struct card_kind *k = card_kind_of(t);
  json_t *v = NULL, *st = NULL, *pv;
  json_error_t je;
  char head[CK_PATH_MAX], norm[CK_PATH_MAX];
  int rc;

  memset(out, 0, sizeof(*out));
  if (!k || !json_is_object(state))
    return ck_fail(err, PROTO_E_INVALID_CARD, "", "not a card state");
  if (!path || (rc = ptr_check(path, err)) < 0)
    return path ? rc
                : ck_fail(err, PROTO_E_INVALID_CARD, "", "no path given");
  if (actor->id == 0 && !actor->bot)
    return ck_fail(err, PROTO_E_FORBIDDEN, path, "the system does not edit");
  if (actor->bot && !actor->creator)
    return ck_fail(err, PROTO_E_FORBIDDEN, path,
                   "a bot may edit only cards it created");
  ptr_head(path, head, sizeof(head));
  if (strcmp(head, "type") == 0 || card_kept(k, head))
    return ck_fail(err, PROTO_E_INVALID_CARD, path,
                   "%s is kept by the server and cannot be edited", path);
  if (base < 1 || base > ctx->ver)
    return ck_fail(err, PROTO_E_STALE_VERSION, "",
                   "base version %lld is not a version of this card "
                   "(now %lld)", (long long)base, (long long)ctx->ver);
  rc = k->may_edit(state, path, actor, err);
  if (rc < 0)
    return rc;
  rc = fv_check(state, path, base, ctx->ver, err);
  if (rc < 0)
    return rc;
  if (!value)
    return ck_fail(err, PROTO_E_INVALID_CARD, path, "%s: no value", path);
  v = json_loads(value, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
  if (!v)
    return ck_fail(err, PROTO_E_INVALID_CARD, path,
                   "the value for %s is not valid JSON (%s)", path, je.text);
  st = json_deep_copy(state);
  pv = json_deep_copy(v);
  if (!st || !pv) {
    json_decref(pv);
    rc = ck_nomem(err);
    goto out;
  }
  /* null removes an optional member or an array item. */
  rc = ptr_set(st, path, json_is_null(pv) ? (json_decref(pv), NULL) : pv,
               norm, err);
  if (rc < 0)
    goto out;
  rc = k->check(st, false, actor, err);
  if (rc < 0)
    goto out;
  rc = fv_record(st, norm, ctx->ver + 1, err);
  if (rc < 0)
    goto out;
  out->ev = "edited";
  rc = k->edited(st, actor, ctx, out, err);
  if (rc < 0)
    goto out;
  if (!out->payload && !(out->payload = json_object())) {
    rc = ck_nomem(err);
    goto out;
  }
  if (st_set(out->payload, "path", json_string(norm), err) < 0 ||
      st_set(out->payload, "value", json_incref(v), err) < 0 ||
      st_set(out->payload, "base", json_integer(base), err) < 0) {
    rc = PROTO_E_NOMEM;
    goto out;
  }
  out->state = st;
  st = NULL;
  set_parent(t, out);
out:
  json_decref(v);
  json_decref(st);
  if (rc < 0)
    card_change_clear(out);
  return rc;
}
