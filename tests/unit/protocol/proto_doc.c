/*
 * proto_doc.c — renders schema tables and the error list as Markdown.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto_doc.h"

const struct proto_schema *const doc_items[] = {
  &proto_schema_cursor, &proto_schema_window, &proto_schema_limits_info,
  &proto_schema_ding_row, &proto_schema_who_row, &proto_schema_report_row,
  &proto_schema_report_user, &proto_schema_report_dept,
  &proto_schema_conv_info, &proto_schema_member, NULL};

static void put(struct doc *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct doc *d, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(d->buf + d->n, sizeof d->buf - d->n, fmt, ap);
  va_end(ap);
  if (n > 0)
    d->n += (size_t)n < sizeof d->buf - d->n ? (size_t)n
                                             : sizeof d->buf - d->n - 1;
}

static const char *num(uint64_t v, char *b, size_t n)
{
  if (v == PROTO_ID_MAX)
    snprintf(b, n, "2^63-1");
  else
    snprintf(b, n, "%llu", (unsigned long long)v);
  return b;
}

static void range(struct doc *d, uint64_t lo, uint64_t hi)
{
  char a[32], b[32];

  put(d, "%s..%s", num(lo, a, sizeof a), num(hi, b, sizeof b));
}

static void type_of(struct doc *d, const struct proto_field *fd)
{
  switch ((enum pf_kind)fd->kind) {
  case PF_UINT:
    put(d, "uint ");
    range(d, fd->min, fd->max);
    break;
  case PF_BOOL:
    put(d, "bool");
    break;
  case PF_STR:
    if (fd->flags & PF_BODY)
      put(d, "str, %llu..`lim.body` bytes", (unsigned long long)fd->min);
    else
      put(d, "str, %llu..%llu bytes", (unsigned long long)fd->min,
          (unsigned long long)fd->max);
    break;
  case PF_BIN:
    if (fd->min == fd->max)
      put(d, "bin, %llu bytes", (unsigned long long)fd->min);
    else
      put(d, "bin, %llu..%llu bytes", (unsigned long long)fd->min,
          (unsigned long long)fd->max);
    break;
  case PF_ENUM: {
    const char *const *names = fd->ref;

    put(d, "str:");
    for (int i = 1; names[i]; i++)
      put(d, "%s `%s`", i > 1 ? " \\|" : "", names[i]);
    break;
  }
  case PF_UINTS:
    put(d, "array of uint ");
    range(d, fd->min, fd->max);
    put(d, ", at most %u", fd->max_n);
    break;
  case PF_LIST:
    put(d, "array of `%s`, at most %u",
        ((const struct proto_schema *)fd->ref)->name, fd->max_n);
    break;
  case PF_OBJ:
    put(d, "map `%s`", ((const struct proto_schema *)fd->ref)->name);
    break;
  }
}

void doc_table(struct doc *d, const struct proto_schema *s)
{
  if (!s->nfields) {
    put(d, "No fields besides `t` and `id`.\n");
    return;
  }
  put(d, "| field | type | required | meaning |\n");
  put(d, "|---|---|---|---|\n");
  for (size_t j = 0; j < s->nfields; j++) {
    const struct proto_field *fd = &s->fields[j];

    put(d, "| `%s` | ", fd->name);
    type_of(d, fd);
    put(d, " | %s | %s |\n", (fd->flags & PF_REQ) ? "yes" : "no", fd->doc);
  }
}

static void error_row(struct doc *d, int code, const char *name,
                      const char *msg)
{
  char close[16] = "-";

  if (proto_err_close_code(code))
    snprintf(close, sizeof close, "%d", proto_err_close_code(code));
  put(d, "| %d | `%s` | %s | %s | %s |\n", code, name, msg, close,
      proto_err_retryable(code) ? "yes" : "no");
}

void doc_errors(struct doc *d)
{
  put(d, "| code | name | message | close | retry |\n");
  put(d, "|---|---|---|---|---|\n");
#define ROW_(name, code, msg) error_row(d, code, #name, msg);
  PROTO_ERRNO_MAP(ROW_)
#undef ROW_
}
