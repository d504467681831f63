/*
 * errors.c — the error list turned into functions, and error reporting.
 *
 * Owns the lookups over PROTO_ERRNO_MAP (name, message, retry and close
 * policy) and the helpers that fill struct proto_error with a field path
 * and a sentence naming the field, which every validation step of the
 * module uses so that messages read the same everywhere.
 */
#include <stdio.h>
#include <string.h>

#include "proto_int.h"

static int positive(int code)
{
  return code < 0 ? -code : code;
}

const char *proto_err_name(int code)
{
  switch (positive(code)) {
#define NAME_CASE_(name, num, msg) case num: return #name;
    PROTO_ERRNO_MAP(NAME_CASE_)
#undef NAME_CASE_
  default: return "UNKNOWN";
  }
}

const char *proto_strerror(int code)
{
  switch (positive(code)) {
#define MSG_CASE_(name, num, msg) case num: return msg;
    PROTO_ERRNO_MAP(MSG_CASE_)
#undef MSG_CASE_
  default: return "unknown error";
  }
}

int proto_err_from_name(const char *name)
{
  if (!name)
    return 0;
#define FROM_NAME_(n, num, msg) if (strcmp(name, #n) == 0) return -(num);
  PROTO_ERRNO_MAP(FROM_NAME_)
#undef FROM_NAME_
  return 0;
}

bool proto_err_retryable(int code)
{
  switch (-positive(code)) {
  case PROTO_E_RATE_LIMITED:
  case PROTO_E_TOO_MANY_REQUESTS:
  case PROTO_E_QUEUE_FULL:
  case PROTO_E_DB_UNAVAILABLE:
  case PROTO_E_SHUTTING_DOWN:
    return true;
  default:
    return false;
  }
}

int proto_err_close_code(int code)
{
  switch (-positive(code)) {
  case PROTO_E_TOO_LARGE:
    return 1009; /* message too big */
  case PROTO_E_BAD_UTF8:
    return 1007; /* invalid frame payload data */
  case PROTO_E_MALFORMED:
  case PROTO_E_TOO_DEEP:
  case PROTO_E_TRAILING:
  case PROTO_E_NOT_MAP:
    return 1002; /* protocol error */
  case PROTO_E_UNAUTHENTICATED:
  case PROTO_E_BAD_CREDENTIALS:
  case PROTO_E_RATE_LIMITED:
  case PROTO_E_TOKEN_EXPIRED:
  case PROTO_E_QUEUE_FULL:
    return 1008; /* policy violation */
  case PROTO_E_SHUTTING_DOWN:
    return 1001; /* going away */
  case PROTO_E_NOMEM:
    return 1011; /* internal error */
  default:
    return 0;
  }
}

size_t proto_path_push(char *path, const char *name)
{
  size_t old = strlen(path);

  if (!name || !*name)
    return old;
  snprintf(path + old, PROTO_ERR_FIELD_MAX - old, "%s%s", old ? "." : "",
           name);
  return old;
}

size_t proto_path_push_index(char *path, size_t i)
{
  size_t old = strlen(path);

  snprintf(path + old, PROTO_ERR_FIELD_MAX - old, "[%zu]", i);
  return old;
}

int proto_err_set(struct proto_error *err, int code, const char *path,
                  const char *name, const char *fmt, ...)
{
  va_list ap;
  size_t n = 0;

  if (!err)
    return code;
  err->code = code;
  err->field[0] = 0;
  if (path)
    snprintf(err->field, sizeof err->field, "%s", path);
  proto_path_push(err->field, name);
  if (err->field[0])
    n = (size_t)snprintf(err->msg, sizeof err->msg, "field `%s`: ",
                         err->field);
  if (n >= sizeof err->msg)
    n = sizeof err->msg - 1;
  va_start(ap, fmt);
  vsnprintf(err->msg + n, sizeof err->msg - n, fmt, ap);
  va_end(ap);
  return code;
}
