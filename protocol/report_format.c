/*
 * report_format.c — JSON and CSV of an unread report (report_format.h).
 *
 * Strings are escaped by jansson (SPEC: JSON goes through one JSON
 * library), one row at a time: a report of 100000 rows never becomes one
 * tree of a million JSON values, only a flat text buffer.
 */
#include "report_format.h"

#include "proto.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A growing output buffer; `err` sticks at the first failure. */
struct out {
  char *p;
  size_t len, cap;
  int err;
};

static void put(struct out *o, const char *s, size_t n)
{
  if (o->err)
    return;
  if (o->len + n + 1 > o->cap) {
    size_t cap = o->cap ? o->cap : 4096;
    char *p;

    while (cap < o->len + n + 1)
      cap *= 2;
    if (!(p = realloc(o->p, cap))) {
      o->err = PROTO_E_NOMEM;
      return;
    }
    o->p = p;
    o->cap = cap;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
  o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
  put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
  char buf[256];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(buf)) {   /* only numbers come here */
    o->err = PROTO_E_INTERNAL;
    return;
  }
  put(o, buf, (size_t)n);
}

static int finish(struct out *o, char **out, size_t *len)
{
  if (!o->err && !o->p)
    put(o, "", 0);
  if (o->err) {
    free(o->p);
    *out = NULL;
    *len = 0;
    return o->err;
  }
  *out = o->p;
  *len = o->len;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Names: recipient ids to display names, through an index sorted by id. */

struct name_ix {
  uint64_t uid;
  size_t i;                 /* position in users */
};

struct names {
  const struct proto_report_user *users;
  struct name_ix *ix;       /* sorted by uid */
  size_t n;
};

static int by_uid(const void *a, const void *b)
{
  uint64_t x = ((const struct name_ix *)a)->uid;
  uint64_t y = ((const struct name_ix *)b)->uid;

  return x < y ? -1 : x > y;
}

static int names_init(struct names *nm, const struct proto_report_result *r)
{
  nm->users = r->users;
  nm->n = r->nusers;
  nm->ix = NULL;
  if (nm->n == 0)
    return 0;
  if (!(nm->ix = malloc(nm->n * sizeof(*nm->ix))))
    return PROTO_E_NOMEM;
  for (size_t i = 0; i < nm->n; i++)
    nm->ix[i] = (struct name_ix){r->users[i].uid, i};
  qsort(nm->ix, nm->n, sizeof(*nm->ix), by_uid);
  return 0;
}

/* The display name of `uid` (pointer and length), or "#<uid>" in buf. */
static struct proto_str name_of(const struct names *nm, uint64_t uid,
                                char *buf, size_t cap)
{
  size_t lo = 0, hi = nm->n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const struct name_ix *x = &nm->ix[mid];

    if (x->uid == uid) {
      const struct proto_report_user *u = &nm->users[x->i];
      return u->name.p ? u->name : (struct proto_str){"", 0};
    }
    if (x->uid < uid)
      lo = mid + 1;
    else
      hi = mid;
  }
  snprintf(buf, cap, "#%" PRIu64, uid);
  return (struct proto_str){buf, strlen(buf)};
}

static struct proto_str str_or_empty(struct proto_str s)
{
  return s.p ? s : (struct proto_str){"", 0};
}

/* ------------------------------------------------------------------ */
/* JSON */

static int dump_cb(const char *buf, size_t size, void *data)
{
  struct out *o = data;

  put(o, buf, size);
  return o->err ? -1 : 0;
}

/* Appends `v` on one line (", " and ": " separators) and releases it. A
 * NULL `v` means json_pack refused a string: not UTF-8, or no memory. */
static void put_json(struct out *o, json_t *v, const struct proto_str *strs,
                     size_t nstrs)
{
  if (!v) {
    if (!o->err) {
      o->err = PROTO_E_NOMEM;
      for (size_t i = 0; i < nstrs; i++)
        if (!proto_utf8_valid(strs[i].p, strs[i].len))
          o->err = PROTO_E_BAD_UTF8;
    }
    return;
  }
  if (json_dump_callback(v, dump_cb, o, 0) != 0 && !o->err)
    o->err = PROTO_E_NOMEM;
  json_decref(v);
}

int proto_report_json(const struct proto_report_result *r, char **out,
                      size_t *len)
{
  struct out o = {0};
  struct names nm;
  char buf[32];

  if ((o.err = names_init(&nm, r)) != 0)
    return finish(&o, out, len);
  putf(&o, "{\n  \"older_than_s\": %" PRIu64 ",\n  \"now_ms\": %" PRIu64
       ",\n  \"truncated\": %s,\n  \"rows\": [", r->older, r->now,
       r->truncated ? "true" : "false");
  for (size_t i = 0; i < r->nrows && !o.err; i++) {
    const struct proto_report_row *w = &r->rows[i];
    struct proto_str name = name_of(&nm, w->uid, buf, sizeof(buf));

    puts_(&o, i ? ",\n    " : "\n    ");
    put_json(&o, json_pack("{s:I, s:s%, s:I, s:I, s:I, s:I, s:I, s:b, s:b}",
                           "recipient", (json_int_t)w->uid,
                           "name", name.p, name.len,
                           "conv", (json_int_t)w->conv,
                           "seq", (json_int_t)w->seq,
                           "sender", (json_int_t)w->from,
                           "sent_at_ms", (json_int_t)w->ts,
                           "unread_s", (json_int_t)w->unread_s,
                           "ding", w->ding, "acked", w->acked),
             &name, 1);
  }
  puts_(&o, r->nrows ? "\n  ],\n  \"users\": [" : "],\n  \"users\": [");
  for (size_t i = 0; i < r->nusers && !o.err; i++) {
    const struct proto_report_user *u = &r->users[i];
    struct proto_str s[2] = {str_or_empty(u->name), str_or_empty(u->dept)};

    puts_(&o, i ? ",\n    " : "\n    ");
    put_json(&o, json_pack("{s:I, s:s%, s:s%, s:I, s:I}",
                           "user", (json_int_t)u->uid,
                           "name", s[0].p, s[0].len,
                           "department", s[1].p, s[1].len,
                           "unread", (json_int_t)u->unread,
                           "dings", (json_int_t)u->dings),
             s, 2);
  }
  puts_(&o, r->nusers ? "\n  ],\n  \"departments\": ["
                      : "],\n  \"departments\": [");
  for (size_t i = 0; i < r->ndepts && !o.err; i++) {
    const struct proto_report_dept *d = &r->depts[i];
    struct proto_str s = str_or_empty(d->dept);

    puts_(&o, i ? ",\n    " : "\n    ");
    put_json(&o, json_pack("{s:s%, s:I, s:I}", "department", s.p, s.len,
                           "unread", (json_int_t)d->unread,
                           "dings", (json_int_t)d->dings),
             &s, 1);
  }
  puts_(&o, r->ndepts ? "\n  ]\n}\n" : "]\n}\n");
  free(nm.ix);
  return finish(&o, out, len);
}

/* ------------------------------------------------------------------ */
/* CSV */

/* One field: quoted when it holds a comma, quote or line break; a leading
 * formula character is defused with ' (report_format.h). */
static void csv_field(struct out *o, struct proto_str s)
{
  int formula = s.len > 0 && strchr("=+-@\t\r", s.p[0]) != NULL;
  int quote = formula;

  if (!proto_utf8_valid(s.p, s.len)) {
    if (!o->err)
      o->err = PROTO_E_BAD_UTF8;
    return;
  }
  for (size_t i = 0; i < s.len && !quote; i++)
    quote = s.p[i] == ',' || s.p[i] == '"' || s.p[i] == '\n' ||
            s.p[i] == '\r';
  if (!quote) {
    put(o, s.p, s.len);
    return;
  }
  put(o, formula ? "\"'" : "\"", formula ? 2 : 1);
  for (size_t i = 0, start = 0; i <= s.len; i++) {
    if (i == s.len || s.p[i] == '"') {
      put(o, s.p + start, i - start);
      if (i < s.len)
        put(o, "\"\"", 2);
      start = i + 1;
    }
  }
  put(o, "\"", 1);
}

int proto_report_csv(const struct proto_report_result *r, char **out,
                     size_t *len)
{
  struct out o = {0};
  struct names nm;
  char who[32], from[32], sent[32];

  if ((o.err = names_init(&nm, r)) != 0)
    return finish(&o, out, len);
  puts_(&o, PROTO_REPORT_CSV_HEADER "\n");
  for (size_t i = 0; i < r->nrows && !o.err; i++) {
    const struct proto_report_row *w = &r->rows[i];
    time_t t = (time_t)(w->ts / 1000);
    struct tm tm;

    if (!gmtime_r(&t, &tm) ||
        strftime(sent, sizeof(sent), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
      snprintf(sent, sizeof(sent), "%" PRIu64, w->ts);
    csv_field(&o, name_of(&nm, w->uid, who, sizeof(who)));
    putf(&o, ",%" PRIu64 ",%" PRIu64 ",", w->conv, w->seq);
    csv_field(&o, name_of(&nm, w->from, from, sizeof(from)));
    putf(&o, ",%s,%" PRIu64 ",%s,%s\n", sent, w->unread_s,
         w->ding ? "yes" : "no", w->acked ? "yes" : "no");
  }
  free(nm.ix);
  return finish(&o, out, len);
}
