/*
 * cardparse.c — the words of /task, /okr and /interview turned into card
 * bodies and action arguments (JSON text, CARDS.md). No network: cmd_card.c
 * sends what comes out; unit-tested in tests/tui/test_cards.c. The server
 * checks everything again; what is checked here is only what a person
 * can get wrong while typing, so the answer comes at once and names it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald_int.h"

size_t cc_split(char *s, char **w, size_t max)
{
  size_t n = 0;

  while (*s && n < max) {
    while (*s == ' ')
      s++;
    if (!*s)
      break;
    if (*s == '"') {
      w[n++] = ++s;
      while (*s && *s != '"')
        s++;
    } else {
      w[n++] = s;
      while (*s && *s != ' ')
        s++;
    }
    if (*s)
      *s++ = '\0';
  }
  return n;
}

bool cc_ref(const char *s, bool *is_card, uint64_t *n)
{
  char *end;
  unsigned long long v;

  if (!s)
    return false;
  if (*s == '#')
    s++;
  *is_card = *s == 'c' || *s == 'C';
  if (*is_card)
    s++;
  if (*s < '0' || *s > '9')
    return false;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || *end || v == 0 || v > INT64_MAX)
    return false;
  *n = v;
  return true;
}

bool cc_date(const char *s, char out[21])
{
  int y, mo, d;

  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
    return false;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
      return false;
  y = atoi(s);
  mo = atoi(s + 5);
  d = atoi(s + 8);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31)
    return false;
  memcpy(out, s, 10);
  memcpy(out + 10, "T23:59:59Z", 11);
  return true;
}

static int fail(char *err, size_t len, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t len, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
  return -1;
}

static int user_ref(struct model *m, const char *w, json_int_t *uid,
                    char *err, size_t len)
{
  const struct huser *u;

  if (w[0] != '@' || !w[1])
    return fail(err, len, "expected @login, got \"%s\"", w);
  if (m->my_login && strcmp(w + 1, m->my_login) == 0 && m->me) {
    *uid = (json_int_t)m->me;
    return 0;
  }
  if (!(u = model_user_by_login(m, w + 1)))
    return fail(err, len, "unknown user %s (not a member of a conversation "
                "you have opened)", w);
  *uid = (json_int_t)u->uid;
  return 0;
}

static bool number(const char *w, double *out)
{
  char *end;

  if (!w || !*w)
    return false;
  errno = 0;
  *out = strtod(w, &end);
  return !errno && !*end && isfinite(*out);
}

/* An integral value as a JSON integer, so that "5" stays 5 on the wire. */
static json_t *jnum(double d)
{
  if (d == floor(d) && fabs(d) < 1e15)
    return json_integer((json_int_t)d);
  return json_real(d);
}

/* Appends w to a space-separated buffer. */
static void join(char *buf, size_t cap, const char *w)
{
  size_t l = strlen(buf);

  snprintf(buf + l, cap - l, "%s%s", l ? " " : "", w);
}

static int finish(json_t *o, char **json, char *err, size_t len)
{
  *json = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
  json_decref(o);
  return *json ? 0 : fail(err, len, "out of memory");
}

int cc_task_body(struct model *m, char **w, size_t n, char **json,
                 char *err, size_t errlen)
{
  char title[1024] = "", due[21] = "";
  const char *prio = NULL;
  json_t *o, *as = json_array();
  json_int_t uid;

  for (size_t i = 0; i < n; i++) {
    if (w[i][0] == '@') {
      if (user_ref(m, w[i], &uid, err, errlen) != 0) {
        json_decref(as);
        return -1;
      }
      json_array_append_new(as, json_integer(uid));
    } else if (strcmp(w[i], "due") == 0 && i + 1 < n && cc_date(w[i + 1], due)) {
      i++;
    } else if (w[i][0] == '!' && w[i][1]) {
      prio = w[i] + 1;
      if (strcmp(prio, "low") && strcmp(prio, "normal") &&
          strcmp(prio, "high") && strcmp(prio, "urgent")) {
        json_decref(as);
        return fail(err, errlen, "priority %s: use !low, !normal, !high or "
                    "!urgent", w[i]);
      }
    } else {
      join(title, sizeof title, w[i]);
    }
  }
  if (!*title) {
    json_decref(as);
    return fail(err, errlen, "usage: /task TITLE [@assignee...] "
                "[due YYYY-MM-DD] [!priority]");
  }
  if (json_array_size(as) == 0 && m->me)
    json_array_append_new(as, json_integer((json_int_t)m->me));
  o = json_pack("{s:s, s:s, s:o}", "type", "task", "title", title,
                "assignees", as);
  if (o && *due)
    json_object_set_new(o, "due", json_string(due));
  if (o && prio)
    json_object_set_new(o, "priority", json_string(prio));
  return finish(o, json, err, errlen);
}

int cc_okr_body(struct model *m, char **w, size_t n, char **json, char *err,
                size_t errlen)
{
  char obj[1024] = "";
  const char *period = NULL;
  json_int_t owner = (json_int_t)m->me;
  json_t *krs = json_array(), *o;
  size_t i = 0;

  for (; i < n && strcmp(w[i], "period") != 0; i++) {
    if (w[i][0] == '@') {
      if (user_ref(m, w[i], &owner, err, errlen) != 0)
        goto bad;
    } else {
      join(obj, sizeof obj, w[i]);
    }
  }
  if (!*obj || i + 1 >= n) {
    fail(err, errlen, "usage: /okr new OBJECTIVE [@owner] period P kr "
         "\"TITLE\" START TARGET [UNIT]...");
    goto bad;
  }
  period = w[i + 1];
  for (i += 2; i < n;) {
    double start, target;
    json_t *kr;

    if (strcmp(w[i], "kr") != 0 || i + 3 >= n) {
      fail(err, errlen, "expected kr \"TITLE\" START TARGET [UNIT] at \"%s\"",
           w[i]);
      goto bad;
    }
    if (!number(w[i + 2], &start) || !number(w[i + 3], &target)) {
      fail(err, errlen, "kr \"%s\": START and TARGET must be numbers",
           w[i + 1]);
      goto bad;
    }
    kr = json_pack("{s:s, s:o, s:o}", "title", w[i + 1], "start",
                   jnum(start), "target", jnum(target));
    i += 4;
    if (i < n && strcmp(w[i], "kr") != 0)
      json_object_set_new(kr, "unit", json_string(w[i++]));
    json_array_append_new(krs, kr);
  }
  if (json_array_size(krs) == 0) {
    fail(err, errlen, "an OKR needs at least one key result: kr \"TITLE\" "
         "START TARGET [UNIT]");
    goto bad;
  }
  o = json_pack("{s:s, s:s, s:I, s:s, s:o}", "type", "okr", "objective", obj,
                "owner", owner, "period", period, "key_results", krs);
  return finish(o, json, err, errlen);
bad:
  json_decref(krs);
  return -1;
}

int cc_interview_body(struct model *m, char **w, size_t n, char **json,
                      char *err, size_t errlen)
{
  json_int_t emp;

  if (n != 3 || strcmp(w[1], "period") != 0)
    return fail(err, errlen, "usage: /interview new @employee period P");
  if (user_ref(m, w[0], &emp, err, errlen) != 0)
    return -1;
  return finish(json_pack("{s:s, s:I, s:I, s:s}", "type", "interview",
                          "employee", emp, "manager", (json_int_t)m->me,
                          "period", w[2]),
                json, err, errlen);
}

int cc_checkin_args(char **w, size_t n, char **json, char *err,
                    size_t errlen)
{
  double kr, value, conf = -1;
  char note[2048] = "";
  size_t i = 2;
  json_t *o;

  if (n < 2 || !number(w[0], &kr) || !number(w[1], &value))
    return fail(err, errlen, "usage: /okr checkin CARD KR# VALUE "
                "[CONFIDENCE] [NOTE...]");
  if (kr < 1 || kr != floor(kr) || kr > 20)
    return fail(err, errlen, "KR# %s: the key result's number as shown (KR1, "
                "KR2...)", w[0]);
  if (i < n && number(w[i], &conf) && conf >= 0 && conf <= 1)
    i++;
  else
    conf = -1;
  for (; i < n; i++)
    join(note, sizeof note, w[i]);
  o = json_pack("{s:I, s:o}", "kr", (json_int_t)kr - 1, "current",
                jnum(value));
  if (o && conf >= 0)
    json_object_set_new(o, "confidence", json_real(conf));
  if (o && *note)
    json_object_set_new(o, "note", json_string(note));
  return finish(o, json, err, errlen);
}
