/*
 * check.c — the field validators every card schema is written with. Each
 * failure is INVALID_CARD with `field` = the JSON pointer of the member and
 * a message naming it and the reason, so that a client can point at the
 * offending input.
 */
#include "cards_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int ck_fail(struct proto_error *err, int code, const char *field,
            const char *fmt, ...)
{
  va_list ap;

  if (err) {
    err->code = code;
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
  }
  return code;
}

int ck_nomem(struct proto_error *err)
{
  return ck_fail(err, PROTO_E_NOMEM, "", "out of memory");
}

void ck_join(char *out, const char *path, const char *key)
{
  size_t n = (size_t)snprintf(out, CK_PATH_MAX, "%s/", path);

  for (const char *k = key; *k && n + 3 < CK_PATH_MAX; k++) {
    if (*k == '~' || *k == '/') {
      out[n++] = '~';
      out[n++] = *k == '~' ? '0' : '1';
    } else {
      out[n++] = *k;
    }
  }
  out[n < CK_PATH_MAX ? n : CK_PATH_MAX - 1] = '\0';
}

void ck_joini(char *out, const char *path, size_t i)
{
  /* Truncation is fine (error fields are truncated anyway); the result is
   * checked so that compilers know it is meant. */
  if (snprintf(out, CK_PATH_MAX, "%s/%zu", path, i) >= CK_PATH_MAX)
    out[CK_PATH_MAX - 1] = '\0';
}

static const char *jtype(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE: case JSON_FALSE: return "a boolean";
  case JSON_NULL: return "null";
  }
  return "?";
}

/* Looks up `key`; 1 = present (*v set), 0 = absent and fine, <0 = error. */
static int member(const json_t *obj, const char *key, const char *path,
                  bool required, const json_t **v, char *field,
                  struct proto_error *err)
{
  ck_join(field, path, key);
  *v = json_object_get(obj, key);
  if (*v)
    return 1;
  if (required)
    return ck_fail(err, PROTO_E_INVALID_CARD, field, "%s is required",
                   field);
  return 0;
}

int ck_object(const json_t *v, const char *path, struct proto_error *err)
{
  if (json_is_object(v))
    return 0;
  return ck_fail(err, PROTO_E_INVALID_CARD, path, "%s must be an object, not %s",
                 *path ? path : "the card", jtype(v));
}

static bool listed(const char *const *list, const char *key)
{
  for (; list && *list; list++)
    if (strcmp(*list, key) == 0)
      return true;
  return false;
}

int ck_known(const json_t *obj, const char *path, const char *const *allowed,
             const char *const *also, struct proto_error *err)
{
  const char *key;
  json_t *v;
  char field[CK_PATH_MAX];

  json_object_foreach((json_t *)obj, key, v) {
    if (listed(allowed, key) || listed(also, key))
      continue;
    ck_join(field, path, key);
    return ck_fail(err, PROTO_E_INVALID_CARD, field, "%s: unknown field",
                   field);
  }
  return 0;
}

size_t ck_chars(const char *s)
{
  size_t n = 0;

  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80)
      n++;
  return n;
}

int ck_string(const json_t *obj, const char *key, const char *path,
              bool required, size_t min_chars, size_t max_chars,
              const char **out, struct proto_error *err)
{
  const json_t *v;
  char field[CK_PATH_MAX];
  int rc = member(obj, key, path, required, &v, field, err);
  size_t n;

  if (rc <= 0)
    return rc;
  if (!json_is_string(v))
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s must be a string, not %s", field, jtype(v));
  n = ck_chars(json_string_value(v));
  if (n < min_chars)
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   min_chars == 1 ? "%s must not be empty"
                                  : "%s is too short", field);
  if (n > max_chars)
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s is too long (%zu characters, at most %zu)", field, n,
                   max_chars);
  if (out)
    *out = json_string_value(v);
  return 0;
}

static int id_value(const json_t *v, const char *field, const char *what,
                    int64_t *out, struct proto_error *err)
{
  if (!json_is_integer(v))
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s must be a %s id (an integer), not %s", field, what,
                   jtype(v));
  if (json_integer_value(v) < 1)
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s must be a %s id of 1 or more", field, what);
  if (out)
    *out = (int64_t)json_integer_value(v);
  return 0;
}

int ck_id(const json_t *obj, const char *key, const char *path,
          bool required, const char *what, int64_t *out,
          struct proto_error *err)
{
  const json_t *v;
  char field[CK_PATH_MAX];
  int rc = member(obj, key, path, required, &v, field, err);

  if (rc <= 0)
    return rc;
  return id_value(v, field, what, out, err);
}

int ck_enum(const json_t *obj, const char *key, const char *path,
            bool required, const char *const *values, const char **out,
            struct proto_error *err)
{
  const json_t *v;
  char field[CK_PATH_MAX], list[160];
  int rc = member(obj, key, path, required, &v, field, err);
  size_t n = 0;

  if (rc <= 0)
    return rc;
  if (!json_is_string(v))
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s must be a string, not %s", field, jtype(v));
  if (listed(values, json_string_value(v))) {
    if (out)
      *out = json_string_value(v);
    return 0;
  }
  list[0] = '\0';
  for (const char *const *p = values; *p && n < sizeof(list); p++)
    n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
                          p == values ? "" : ", ", *p);
  return ck_fail(err, PROTO_E_INVALID_CARD, field,
                 "%s: unknown value \"%.40s\" (one of %s)", field,
                 json_string_value(v), list);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int mdays(int y, int m)
{
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

  return m == 2 && leap ? 29 : d[m - 1];
}

/* Reads exactly `n` digits. */
static bool digits(const char **s, int n, int *out)
{
  int v = 0;

  for (int i = 0; i < n; i++) {
    char c = (*s)[i];
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + (c - '0');
  }
  *s += n;
  *out = v;
  return true;
}

int64_t ck_parse_time(const char *s)
{
  int y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0, sign = 0;
  int64_t t;

  if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) ||
      *s++ != '-' || !digits(&s, 2, &d) || *s++ != 'T' ||
      !digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) ||
      *s++ != ':' || !digits(&s, 2, &sec))
    return -1;
  if (*s == '.') {
    int n = 0;
    s++;
    while (*s >= '0' && *s <= '9') {
      if (n < 3)
        ms = ms * 10 + (*s - '0');
      n++;
      s++;
    }
    if (n == 0 || n > 9)
      return -1;
    for (; n < 3; n++)
      ms *= 10;
  }
  if (*s == 'Z') {
    s++;
  } else if (*s == '+' || *s == '-') {
    sign = *s++ == '+' ? 1 : -1;
    if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) ||
        oh > 23 || om > 59)
      return -1;
  } else {
    return -1;
  }
  if (*s || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays(y, mo) ||
      h > 23 || mi > 59 || sec > 59)
    return -1;
  t = days_from_civil(y, mo, d) * DAY_MS + h * 3600000LL + mi * 60000LL +
      sec * 1000LL + ms;
  t -= sign * (oh * 3600000LL + om * 60000LL);
  return t < 0 ? -1 : t;
}

int ck_parse_period(const char *s, int64_t *start_ms, int64_t *end_ms)
{
  int y, n;
  int from = 1, to = 13;   /* months [from, to) */

  if (!digits(&s, 4, &y) || y < 1970)
    return -1;
  if (*s == '-') {
    s++;
    if (*s == 'Q' && s[1] >= '1' && s[1] <= '4' && !s[2]) {
      n = s[1] - '0';
      from = 3 * (n - 1) + 1;
      to = from + 3;
    } else if (*s == 'H' && (s[1] == '1' || s[1] == '2') && !s[2]) {
      n = s[1] - '0';
      from = 6 * (n - 1) + 1;
      to = from + 6;
    } else {
      return -1;
    }
  } else if (*s) {
    return -1;
  }
  *start_ms = days_from_civil(y, from, 1) * DAY_MS;
  *end_ms = (to == 13 ? days_from_civil(y + 1, 1, 1)
                      : days_from_civil(y, to, 1)) * DAY_MS;
  return 0;
}

int ck_time(const json_t *obj, const char *key, const char *path,
            bool required, int64_t *ms, struct proto_error *err)
{
  const char *s = NULL;
  char field[CK_PATH_MAX];
  int rc = ck_string(obj, key, path, required, 1, 64, &s, err);
  int64_t t;

  if (rc < 0 || !s)
    return rc;
  t = ck_parse_time(s);
  if (t < 0) {
    ck_join(field, path, key);
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s must be an RFC 3339 date-time such as "
                   "2026-11-30T17:00:00+08:00", field);
  }
  if (ms)
    *ms = t;
  return 0;
}

int ck_period(const json_t *obj, const char *key, const char *path,
              bool required, int64_t *start_ms, int64_t *end_ms,
              struct proto_error *err)
{
  const char *s = NULL;
  char field[CK_PATH_MAX];
  int64_t a, b;
  int rc = ck_string(obj, key, path, required, 1, 16, &s, err);

  if (rc < 0 || !s)
    return rc;
  if (ck_parse_period(s, &a, &b) < 0) {
    ck_join(field, path, key);
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s must be a year, half or quarter such as 2026, "
                   "2026-H1 or 2026-Q4", field);
  }
  if (start_ms)
    *start_ms = a;
  if (end_ms)
    *end_ms = b;
  return 0;
}

int ck_number(const json_t *obj, const char *key, const char *path,
              bool required, double lo, double hi, double *out,
              struct proto_error *err)
{
  const json_t *v;
  char field[CK_PATH_MAX];
  int rc = member(obj, key, path, required, &v, field, err);
  double x;

  if (rc <= 0)
    return rc;
  if (!json_is_number(v))
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s must be a number, not %s", field, jtype(v));
  x = json_number_value(v);
  if (!(x >= lo && x <= hi))
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s must be between %g and %g", field, lo, hi);
  /* At most 6 decimals, so that the canonical form (which writes 6) loses
   * nothing: the value must be the double nearest to a 6-decimal number. */
  if (json_is_real(v) && st_round6(x) != x)
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s has more than 6 decimals", field);
  if (out)
    *out = x;
  return 0;
}

int ck_array(const json_t *obj, const char *key, const char *path,
             bool required, size_t min, size_t max, const json_t **out,
             struct proto_error *err)
{
  const json_t *v;
  char field[CK_PATH_MAX];
  int rc = member(obj, key, path, required, &v, field, err);
  size_t n;

  if (rc <= 0)
    return rc;
  if (!json_is_array(v))
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s must be an array, not %s", field, jtype(v));
  n = json_array_size(v);
  if (n < min)
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   min == 1 ? "%s must not be empty"
                            : "%s needs more items", field);
  if (n > max)
    return ck_fail(err, PROTO_E_INVALID_CARD, field,
                   "%s has too many items (%zu, at most %zu)", field, n, max);
  if (out)
    *out = v;
  return 0;
}

int ck_user_list(const json_t *obj, const char *key, const char *path,
                 bool required, size_t max, struct proto_error *err)
{
  const json_t *arr = NULL;
  char field[CK_PATH_MAX], item[CK_PATH_MAX];
  int rc = ck_array(obj, key, path, required, 1, max, &arr, err);

  if (rc < 0 || !arr)
    return rc;
  ck_join(field, path, key);
  for (size_t i = 0; i < json_array_size(arr); i++) {
    ck_joini(item, field, i);
    rc = id_value(json_array_get(arr, i), item, "user", NULL, err);
    if (rc < 0)
      return rc;
    for (size_t j = 0; j < i; j++)
      if (json_integer_value(json_array_get(arr, j)) ==
          json_integer_value(json_array_get(arr, i)))
        return ck_fail(err, PROTO_E_INVALID_CARD, item,
                       "%s: user %lld is listed twice", item,
                       (long long)json_integer_value(json_array_get(arr, i)));
  }
  return 0;
}

int ck_parse_object(const char *text, size_t len, const char *what,
                    json_t **out, struct proto_error *err)
{
  json_error_t je;
  json_t *v;

  *out = NULL;
  if (!text) {
    *out = json_object();
    return *out ? 0 : ck_nomem(err);
  }
  v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!v)
    return ck_fail(err, PROTO_E_INVALID_CARD, "",
                   "the %s is not valid JSON (%s, at character %d)", what,
                   je.text, je.position);
  if (!json_is_object(v)) {
    json_decref(v);
    return ck_fail(err, PROTO_E_INVALID_CARD, "",
                   "the %s must be a JSON object", what);
  }
  *out = v;
  return 0;
}
