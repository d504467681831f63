/*
 * cardbox.c — a card drawn as a box in the message pane:
 *
 *   ┌ task #c12 · in_progress ───────────────┐
 *   │ Write the design doc                   │
 *   │ assignees: Bob · due 2026-12-15 · high │
 *   │ you can: /task done c12 · /task comm…  │
 *   └────────────────────────────────────────┘
 *
 * Lines are built as text, wrapped by display width (text.c, so CJK and
 * emoji take their two columns) and padded so that every line is exactly
 * `width` columns: the right border stays straight.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald_int.h"
#include "text.h"

struct blines {
  char **v;
  size_t n, cap;
  bool oom;
};

static void bl_push(struct blines *L, char *s)
{
  if (!s) {
    L->oom = true;
    return;
  }
  if (L->n == L->cap) {
    size_t cap = L->cap ? L->cap * 2 : 16;
    char **v = realloc(L->v, cap * sizeof *v);

    if (!v) {
      free(s);
      L->oom = true;
      return;
    }
    L->v = v;
    L->cap = cap;
  }
  L->v[L->n++] = s;
}

static void bl_add(struct blines *L, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

static void bl_add(struct blines *L, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;

  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0)
    s = NULL;
  va_end(ap);
  bl_push(L, s);
}

static const char *str(const json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));

  return s ? s : "";
}

static uint64_t uid_of(const json_t *v)
{
  return json_is_integer(v) && json_integer_value(v) > 0
             ? (uint64_t)json_integer_value(v)
             : 0;
}

static const char *name(const struct model *m, const json_t *v, char *buf,
                        size_t len)
{
  return model_name(m, uid_of(v), buf, len);
}

static bool is_me(const struct model *m, const json_t *v)
{
  return m->me && uid_of(v) == m->me;
}

/* "2026-12-15T17:00:00Z" -> "2026-12-15" */
static const char *day(const char *rfc, char out[11])
{
  snprintf(out, 11, "%s", rfc);
  return out;
}

static int pct(double f)
{
  if (f < 0)
    f = 0;
  if (f > 1)
    f = 1;
  return (int)(f * 100 + 0.5);
}

/* [######----] */
static void bar(double f, char out[13])
{
  int k = pct(f) / 10;

  out[0] = '[';
  for (int i = 0; i < 10; i++)
    out[1 + i] = i < k ? '#' : '-';
  out[11] = ']';
  out[12] = '\0';
}

static void num(const json_t *v, char *out, size_t len)
{
  double d = json_number_value(v);

  if (json_is_integer(v) || d == (double)(long long)d)
    snprintf(out, len, "%lld", (long long)d);
  else
    snprintf(out, len, "%g", d);
}

/* ---- per type ---- */

static void task_lines(const struct model *m, const struct hcard *k,
                       struct blines *L)
{
  const json_t *s = k->state, *as = json_object_get(s, "assignees"), *v;
  char who[512] = "", nb[64], d[11];
  const char *st = str(s, "status");
  bool mine = false;
  size_t i;

  bl_add(L, "%s", str(s, "title"));
  json_array_foreach(as, i, v) {
    size_t l = strlen(who);

    snprintf(who + l, sizeof who - l, "%s%s", i ? ", " : "",
             name(m, v, nb, sizeof nb));
    mine |= is_me(m, v);
  }
  bl_add(L, "assignees: %s", who);
  if (*str(s, "due"))
    bl_add(L, "due %s · priority %s", day(str(s, "due"), d),
           *str(s, "priority") ? str(s, "priority") : "normal");
  else
    bl_add(L, "priority %s", *str(s, "priority") ? str(s, "priority")
                                                   : "normal");
  if (*str(s, "description"))
    bl_add(L, "%s", str(s, "description"));
  if (mine && strcmp(st, "open") == 0)
    bl_add(L, "you can: /task accept c%" PRIu64 " · /task done c%" PRIu64,
           k->id, k->id);
  else if (mine && strcmp(st, "in_progress") == 0)
    bl_add(L, "you can: /task done c%" PRIu64 " · /task status c%" PRIu64
              " S", k->id, k->id);
  else
    bl_add(L, "you can: /task comment c%" PRIu64 " TEXT", k->id);
}

static void okr_lines(const struct model *m, const struct hcard *k,
                      struct blines *L)
{
  const json_t *s = k->state, *krs = json_object_get(s, "key_results"), *v;
  const json_t *pk = json_object_get(json_object_get(s, "progress"), "krs");
  char nb[64], b[13], cur[32], tgt[32];
  size_t i;

  bl_add(L, "%s", str(s, "objective"));
  bl_add(L, "owner: %s · period %s", name(m, json_object_get(s, "owner"), nb,
                                          sizeof nb), str(s, "period"));
  json_array_foreach(krs, i, v) {
    double p = json_number_value(json_array_get(pk, i));

    bar(p, b);
    num(json_object_get(v, "current"), cur, sizeof cur);
    num(json_object_get(v, "target"), tgt, sizeof tgt);
    if (!json_object_get(v, "current"))
      num(json_object_get(v, "start"), cur, sizeof cur);
    bl_add(L, "KR%zu %s %3d%% %s/%s%s%s %s", i + 1, b, pct(p), cur, tgt,
           *str(v, "unit") ? " " : "", str(v, "unit"), str(v, "title"));
  }
  if (is_me(m, json_object_get(s, "owner")))
    bl_add(L, "you can: /okr checkin c%" PRIu64 " KR VALUE", k->id);
}

static const json_t *signature_of(const json_t *s, const json_t *who)
{
  const json_t *sigs = json_object_get(s, "signatures"), *v;
  size_t i;

  json_array_foreach(sigs, i, v)
    if (uid_of(json_object_get(v, "user")) == uid_of(who) && uid_of(who))
      return v;
  return NULL;
}

static void section(struct blines *L, const json_t *secs, const char *key,
                    const char *label)
{
  const char *t = str(secs, key);

  bl_add(L, "%s: %s", label, *t ? t : "—");
}

static void interview_lines(const struct model *m, const struct hcard *k,
                            struct blines *L)
{
  const json_t *s = k->state, *secs = json_object_get(s, "sections"), *v;
  const json_t *emp = json_object_get(s, "employee");
  const json_t *mgr = json_object_get(s, "manager");
  const char *st = str(s, "status");
  char nb[64], nb2[64], d[11];
  bool party = is_me(m, emp) || is_me(m, mgr);
  size_t i;

  bl_add(L, "employee %s · manager %s · period %s",
         name(m, emp, nb, sizeof nb), name(m, mgr, nb2, sizeof nb2),
         str(s, "period"));
  json_array_foreach(json_object_get(secs, "okr_progress"), i, v)
    bl_add(L, "OKR %s: %d%%%s", str(v, "objective"),
           pct(json_number_value(json_object_get(v, "progress"))),
           json_number_value(json_object_get(v, "expected")) - 0.15 >
                   json_number_value(json_object_get(v, "progress"))
               ? " (behind)"
               : "");
  section(L, secs, "development_plan", "development plan");
  section(L, secs, "behaviour", "behaviour");
  section(L, secs, "notes", "notes");
  json_array_foreach(json_object_get(secs, "action_items"), i, v) {
    if (*str(v, "due"))
      bl_add(L, "action item: %s → %s, due %s", str(v, "text"),
             name(m, json_object_get(v, "owner"), nb, sizeof nb),
             day(str(v, "due"), d));
    else
      bl_add(L, "action item: %s → %s", str(v, "text"),
             name(m, json_object_get(v, "owner"), nb, sizeof nb));
  }
  bl_add(L, "signatures: %s %s · %s %s", name(m, emp, nb, sizeof nb),
         signature_of(s, emp) ? "signed" : "missing",
         name(m, mgr, nb2, sizeof nb2),
         signature_of(s, mgr) ? "signed" : "missing");
  if (strcmp(st, "locked") == 0)
    bl_add(L, "locked: signed by both%s",
           party ? " (/interview amend to reopen)" : "");
  if (!party)
    return;
  if (strcmp(st, "draft") == 0)
    bl_add(L, "you can: /interview edit|item|submit c%" PRIu64, k->id);
  else if (strcmp(st, "submitted") == 0 &&
           !signature_of(s, is_me(m, emp) ? emp : mgr))
    bl_add(L, "you can: /sign c%" PRIu64 " (or edit: back to draft)", k->id);
  else if (strcmp(st, "submitted") == 0)
    bl_add(L, "you signed; waiting for the other signature");
}

/* ---- the frame ---- */

/* `n` columns of `s` (a box-drawing character). */
static void rep(char *out, size_t cap, const char *s, int n)
{
  size_t l = strlen(out), sl = strlen(s);

  for (int i = 0; i < n && l + sl < cap; i++, l += sl)
    memcpy(out + l, s, sl);
  out[l] = '\0';
}

static char *fit_utf8(const char *s, int width, int *used)
{
  wchar_t *w = calloc((size_t)width + 1, sizeof *w);
  char *out = NULL;

  if (!w)
    return NULL;
  *used = tx_fit(s, strlen(s), width, w, (size_t)width + 1);
  if (tx_encode(w, wcslen(w), &out) == (size_t)-1)
    out = NULL;
  free(w);
  return out;
}

static void framed(struct blines *F, const char *text, int inner)
{
  wchar_t *w;
  size_t n = tx_decode(text, strlen(text), &w), k;
  struct tx_line *ln;

  if (n == (size_t)-1) {
    F->oom = true;
    return;
  }
  k = tx_wrap(w, n, inner, NULL, 0);
  if (k > 6)
    k = 6;                               /* long sections: the start */
  if (!(ln = calloc(k, sizeof *ln))) {
    free(w);
    F->oom = true;
    return;
  }
  tx_wrap(w, n, inner, ln, k);
  for (size_t i = 0; i < k; i++) {
    char *u = NULL, *line;
    size_t len = ln[i].end - ln[i].start;
    int cols = tx_width(w + ln[i].start, len), pad;

    if (tx_encode(w + ln[i].start, len, &u) == (size_t)-1) {
      F->oom = true;
      break;
    }
    /* tx_wrap keeps control characters; draw them as the pane does. */
    for (char *p = u; *p; p++)
      if ((unsigned char)*p < 0x20)
        *p = '?';
    pad = inner - cols > 0 ? inner - cols : 0;
    if (asprintf(&line, "│ %s%*s │", u, pad, "") < 0)
      line = NULL;
    free(u);
    bl_push(F, line);
  }
  free(ln);
  free(w);
}

size_t card_box(const struct model *m, const struct hcard *k, int width,
                char ***out)
{
  struct blines L = {0}, F = {0};
  char title[256], top[2048], bottom[1024];
  const char *status = "";
  char *t;
  int used, inner;

  *out = NULL;
  if (width < 20)
    width = 20;
  if (width > 200)
    width = 200;                         /* the frame buffers' bound */
  inner = width - 4;
  if (k->type == CARD_TASK)
    task_lines(m, k, &L);
  else if (k->type == CARD_OKR)
    okr_lines(m, k, &L);
  else if (k->type == CARD_INTERVIEW)
    interview_lines(m, k, &L);
  if (k->type == CARD_OKR) {
    const json_t *p = json_object_get(k->state, "progress");

    snprintf(title, sizeof title, "okr #c%" PRIu64 " · %d%%", k->id,
             pct(json_number_value(json_object_get(p, "overall"))));
  } else {
    status = str(k->state, "status");
    snprintf(title, sizeof title, "%s #c%" PRIu64 "%s%s",
             card_type_name(k->type) ? card_type_name(k->type) : "card",
             k->id, *status ? " · " : "", status);
  }
  /* ┌ title ───┐ : the title takes at most width - 4 columns. */
  if (!(t = fit_utf8(title, width - 4, &used))) {
    L.oom = true;
  } else {
    snprintf(top, sizeof top, "┌ %s ", t);
    rep(top, sizeof top, "─", width - 4 - used);
    snprintf(top + strlen(top), sizeof top - strlen(top), "┐");
    bl_push(&F, strdup(top));
    free(t);
  }
  for (size_t i = 0; i < L.n && !F.oom; i++)
    framed(&F, L.v[i], inner);
  bottom[0] = '\0';
  snprintf(bottom, sizeof bottom, "└");
  rep(bottom, sizeof bottom, "─", width - 2);
  snprintf(bottom + strlen(bottom), sizeof bottom - strlen(bottom), "┘");
  bl_push(&F, strdup(bottom));
  card_box_free(L.v, L.n);
  if (L.oom || F.oom) {
    card_box_free(F.v, F.n);
    return 0;
  }
  *out = F.v;
  return F.n;
}

void card_box_free(char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}
