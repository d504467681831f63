/*
 * protocol_errors.c — the one error-code list and the error helpers.
 *
 * Codes are unique, positive on the wire and negative in C, grouped by
 * class, and every lookup (name, message, reverse, retry, close code)
 * agrees with the X-macro. proto_err_set() builds the field path and the
 * message that names it.
 */
#include "check.h"
#include "proto_int.h"

static const struct {
  int value;
  int code;
  const char *name;
  const char *msg;
} all[] = {
#define ENTRY_(name, code, msg) {PROTO_E_##name, code, #name, msg},
  PROTO_ERRNO_MAP(ENTRY_)
#undef ENTRY_
};
#define NALL (sizeof all / sizeof all[0])

TEST(lookups_agree)
{
  for (size_t i = 0; i < NALL; i++) {
    CHECK_INT(all[i].value, ==, -all[i].code);
    CHECK_STR(proto_err_name(all[i].value), all[i].name);
    CHECK_STR(proto_err_name(all[i].code), all[i].name);
    CHECK_STR(proto_strerror(all[i].value), all[i].msg);
    CHECK_STR(proto_strerror(all[i].code), all[i].msg);
    CHECK_INT(proto_err_from_name(all[i].name), ==, all[i].value);
  }
  CHECK_STR(proto_err_name(0), "UNKNOWN");
  CHECK_STR(proto_err_name(-999), "UNKNOWN");
  CHECK_STR(proto_strerror(7777), "unknown error");
  CHECK_INT(proto_err_from_name("NOPE"), ==, 0);
  CHECK_INT(proto_err_from_name(NULL), ==, 0);
  CHECK_INT(PROTO_E_NOT_FOUND, ==, -3001);
  CHECK_INT(PROTO_E_MALFORMED, ==, -1001);
}

TEST(codes_unique_and_classed)
{
  for (size_t i = 0; i < NALL; i++) {
    int cls = all[i].code / 1000;

    CHECK_INT(cls, >=, 1);
    CHECK_INT(cls, <=, 5);
    CHECK_INT(all[i].code % 1000, >=, 1);
    CHECK(all[i].msg[0] != 0);
    for (size_t j = i + 1; j < NALL; j++) {
      CHECK_INT(all[i].code, !=, all[j].code);
      CHECK(strcmp(all[i].name, all[j].name) != 0);
    }
    /* Within a class, codes are listed in increasing order. */
    if (i + 1 < NALL && all[i + 1].code / 1000 == cls)
      CHECK_INT(all[i + 1].code, >, all[i].code);
  }
}

TEST(retry_and_close)
{
  CHECK(proto_err_retryable(PROTO_E_DB_UNAVAILABLE));
  CHECK(proto_err_retryable(5002));
  CHECK(proto_err_retryable(PROTO_E_TOO_MANY_REQUESTS));
  CHECK(proto_err_retryable(PROTO_E_SHUTTING_DOWN));
  CHECK(!proto_err_retryable(PROTO_E_NOT_FOUND));
  CHECK(!proto_err_retryable(PROTO_E_MALFORMED));
  CHECK(!proto_err_retryable(0));
  CHECK_INT(proto_err_close_code(PROTO_E_TOO_LARGE), ==, 1009);
  CHECK_INT(proto_err_close_code(PROTO_E_BAD_UTF8), ==, 1007);
  CHECK_INT(proto_err_close_code(PROTO_E_MALFORMED), ==, 1002);
  CHECK_INT(proto_err_close_code(PROTO_E_TOO_DEEP), ==, 1002);
  CHECK_INT(proto_err_close_code(PROTO_E_UNAUTHENTICATED), ==, 1008);
  CHECK_INT(proto_err_close_code(PROTO_E_SHUTTING_DOWN), ==, 1001);
  CHECK_INT(proto_err_close_code(PROTO_E_NOMEM), ==, 1011);
  CHECK_INT(proto_err_close_code(PROTO_E_MISSING), ==, 0);
  CHECK_INT(proto_err_close_code(PROTO_E_DB_UNAVAILABLE), ==, 0);
  CHECK_INT(proto_err_close_code(0), ==, 0);
}

TEST(err_set_names_the_field)
{
  struct proto_error e;
  char path[PROTO_ERR_FIELD_MAX] = "";

  CHECK_INT(proto_err_set(&e, PROTO_E_RANGE, "cur[2]", "after",
                          "value %d out of range", 5), ==, PROTO_E_RANGE);
  CHECK_INT(e.code, ==, PROTO_E_RANGE);
  CHECK_STR(e.field, "cur[2].after");
  CHECK_STR(e.msg, "field `cur[2].after`: value 5 out of range");

  proto_err_set(&e, PROTO_E_MALFORMED, NULL, NULL, "truncated");
  CHECK_STR(e.field, "");
  CHECK_STR(e.msg, "truncated");
  proto_err_set(&e, PROTO_E_MISSING, "", "t", "missing");
  CHECK_STR(e.field, "t");
  CHECK_INT(proto_err_set(NULL, PROTO_E_NOMEM, NULL, NULL, "x"), ==,
            PROTO_E_NOMEM);

  /* Paths are built and cut back; overlong ones are truncated, not
   * overflowed. */
  CHECK_UINT(proto_path_push(path, "msgs"), ==, 0);
  CHECK_UINT(proto_path_push_index(path, 12), ==, 4);
  CHECK_UINT(proto_path_push(path, "to"), ==, 8);
  CHECK_STR(path, "msgs[12].to");
  path[4] = 0;
  CHECK_STR(path, "msgs");
  for (int i = 0; i < 40; i++)
    proto_path_push(path, "abcdef");
  CHECK_UINT(strlen(path), ==, PROTO_ERR_FIELD_MAX - 1);
  proto_err_set(&e, PROTO_E_RANGE, path, "x", "%s", path);
  CHECK_UINT(strlen(e.msg), <, PROTO_ERR_MSG_MAX);
}

TEST_MAIN()
