/*
 * proto_expect.c — decode-and-expect helpers of the hostile-input tests.
 */
#include "check.h"
#include "proto_expect.h"
#include "proto_samples.h"

struct proto_error err;

int dec_lim(const struct mp *m, const struct proto_limits *lim,
                   struct proto_frame *f)
{
  return proto_decode(m->b, m->n, lim, f, &err);
}

/* Decodes `m`; expects `code` at `field` ("" = the frame as a whole) and a
 * message that names the field and contains `text` (if not NULL). */
void expect_lim(const struct mp *m, const struct proto_limits *lim,
                       int code, const char *field, const char *text)
{
  struct proto_frame f;
  int rc = dec_lim(m, lim, &f);

  if (rc != code)
    CHECK_FAIL("expected %s, got %s (%s: %s)", proto_err_name(code),
               proto_err_name(rc), err.field, err.msg);
  CHECK_INT(err.code, ==, code);
  CHECK_STR(err.field, field);
  if (*field) {
    char quoted[80];

    snprintf(quoted, sizeof quoted, "`%s`", field);
    CHECK_CONTAINS(err.msg, quoted);
  }
  if (text)
    CHECK_CONTAINS(err.msg, text);
  CHECK(err.msg[0] != 0);
  CHECK_UINT(proto_arena_used(&f), ==, 0); /* freed on failure */
  proto_frame_cleanup(&f);
}

void ok_lim(const struct mp *m, const struct proto_limits *lim)
{
  struct proto_frame f;
  int rc = dec_lim(m, lim, &f);

  if (rc)
    CHECK_FAIL("expected success, got %s (%s)", proto_err_name(rc), err.msg);
  proto_frame_cleanup(&f);
}

void expect(const struct mp *m, int code, const char *field,
                   const char *text)
{
  expect_lim(m, NULL, code, field, text);
}

void expect_ok(const struct mp *m)
{
  ok_lim(m, NULL);
}

/* The sample of type `t` with `key` set to the raw value `v` (or removed
 * when v is NULL), then decoded: expects `code` at `field`. */
void patch_expect(enum proto_type t, const char *key,
                         const struct mp *v, int code, const char *field,
                         const char *text)
{
  struct mp m = {0};

  mp_sample_patch(&m, t, key, v, 0);
  expect(&m, code, field, text);
  mp_free(&m);
}

static struct mp val;

const struct mp *vstr(const char *s)
{
  mp_free(&val);
  mp_str(&val, s);
  return &val;
}

const struct mp *vuint(uint64_t u)
{
  mp_free(&val);
  mp_uint(&val, u);
  return &val;
}

void encode_sample(enum proto_type t, struct mp *m)
{
  struct proto_frame f;
  struct proto_buf b;

  sample_frame(t, &f);
  proto_buf_init(&b);
  CHECK_INT(proto_encode(&f, 0, &b), ==, 0);
  mp_raw(m, b.data, b.len);
  proto_buf_cleanup(&b);
}
void expect_done(void)
{
  mp_free(&val);
}
