/*
 * protocol_fields.c — the decoder against frames that break the schema.
 *
 * Well-formed msgpack with the wrong content: wrong wire types for each
 * kind of field, missing required fields (every one of every frame type),
 * unknown and misdirected frame types, duplicate keys, out-of-range and
 * overlong values, unknown enum words, broken cross-field rules. Each case
 * asserts the exact code, the field path and that the message names it;
 * also that unknown fields are ignored and the request id survives a
 * failure.
 */
#include "check.h"
#include "proto_expect.h"
#include "proto_samples.h"

/* ---- types ----------------------------------------------------------------- */

TEST(wrong_types)
{
  struct mp v = {0};

  /* uint field */
  patch_expect(PROTO_T_SEND, "conv", vstr("seven"), PROTO_E_WRONG_TYPE,
               "conv", "expected uint, got str");
  mp_f64(&v, 7.0);
  patch_expect(PROTO_T_SEND, "conv", &v, PROTO_E_WRONG_TYPE, "conv",
               "got float");
  mp_free(&v);
  mp_bool(&v, 1);
  patch_expect(PROTO_T_SEND, "conv", &v, PROTO_E_WRONG_TYPE, "conv",
               "got bool");
  mp_free(&v);
  mp_nil(&v);
  patch_expect(PROTO_T_SEND, "conv", &v, PROTO_E_WRONG_TYPE, "conv",
               "got nil");
  mp_free(&v);
  mp_arr(&v, 0);
  patch_expect(PROTO_T_SEND, "conv", &v, PROTO_E_WRONG_TYPE, "conv",
               "got array");
  mp_free(&v);
  /* bool field */
  patch_expect(PROTO_T_SEND, "tracked", vuint(1), PROTO_E_WRONG_TYPE,
               "tracked", "expected bool, got uint");
  /* str field, and bin where str is wanted */
  patch_expect(PROTO_T_SEND, "body", vuint(5), PROTO_E_WRONG_TYPE, "body",
               "expected str, got uint");
  mp_bin(&v, "abc", 3);
  patch_expect(PROTO_T_SEND, "body", &v, PROTO_E_WRONG_TYPE, "body",
               "got bin");
  mp_free(&v);
  /* bin field given a str of the right length */
  patch_expect(PROTO_T_CARD_SIGN, "hash",
               vstr("0123456789abcdef0123456789abcdef"), PROTO_E_WRONG_TYPE,
               "hash", "expected bin, got str");
  /* enum field */
  patch_expect(PROTO_T_SEND, "kind", vuint(1), PROTO_E_WRONG_TYPE, "kind",
               "expected str");
  /* array of uint */
  mp_map(&v, 0);
  patch_expect(PROTO_T_SEND, "to", &v, PROTO_E_WRONG_TYPE, "to",
               "expected array, got map");
  mp_free(&v);
  mp_arr(&v, 2);
  mp_uint(&v, 5);
  mp_str(&v, "6");
  patch_expect(PROTO_T_SEND, "to", &v, PROTO_E_WRONG_TYPE, "to[1]",
               "expected uint, got str");
  mp_free(&v);
  /* array of maps */
  patch_expect(PROTO_T_SYNC, "cur", vuint(3), PROTO_E_WRONG_TYPE, "cur",
               "expected array");
  mp_arr(&v, 1);
  mp_uint(&v, 3);
  patch_expect(PROTO_T_SYNC, "cur", &v, PROTO_E_WRONG_TYPE, "cur[0]",
               "expected map, got uint");
  mp_free(&v);
  mp_arr(&v, 1);
  mp_map(&v, 2);
  mp_str(&v, "conv");
  mp_uint(&v, 3);
  mp_str(&v, "after");
  mp_str(&v, "x");
  patch_expect(PROTO_T_SYNC, "cur", &v, PROTO_E_WRONG_TYPE, "cur[0].after",
               "expected uint");
  mp_free(&v);
  /* embedded map */
  mp_arr(&v, 0);
  patch_expect(PROTO_T_WELCOME, "lim", &v, PROTO_E_WRONG_TYPE, "lim",
               "expected map, got array");
  mp_free(&v);
  /* envelope */
  patch_expect(PROTO_T_PING, "t", vuint(3), PROTO_E_WRONG_TYPE, "t",
               "expected str");
  patch_expect(PROTO_T_PING, "id", vstr("42"), PROTO_E_WRONG_TYPE, "id",
               "expected uint");
  /* a key that is not a string */
  {
    struct mp m = {0};

    mp_sample_patch(&m, PROTO_T_PING, "x", NULL, 1);
    mp_uint(&m, 5);
    mp_uint(&m, 5);
    expect(&m, PROTO_E_WRONG_TYPE, "", "expected str, got uint");
    mp_free(&m);
  }
}

TEST(signed_encodings_accepted)
{
  /* Some msgpack libraries write small non-negative ints as int8/int16. */
  static const uint8_t i8[] = {0xd0, 0x07}, i64[] = {0xd3, 0, 0, 0, 0, 0,
                                                      0, 0, 0x09};
  struct mp v = {0}, m = {0};
  struct proto_frame f;

  mp_raw(&v, i8, sizeof i8);
  mp_sample_patch(&m, PROTO_T_SEND, "conv", &v, 0);
  CHECK_INT(dec_lim(&m, NULL, &f), ==, 0);
  CHECK_UINT(f.u.send.conv, ==, 7);
  proto_frame_cleanup(&f);
  mp_free(&v);
  mp_free(&m);
  mp_raw(&v, i64, sizeof i64);
  mp_sample_patch(&m, PROTO_T_SEND, "conv", &v, 0);
  CHECK_INT(dec_lim(&m, NULL, &f), ==, 0);
  CHECK_UINT(f.u.send.conv, ==, 9);
  proto_frame_cleanup(&f);
  mp_free(&v);
  mp_free(&m);
}

/* ---- fields ---------------------------------------------------------------- */

TEST(missing_required_every_type)
{
  /* Every required field of every frame type, removed in turn. */
  for (int t = 1; t < PROTO_T_COUNT_; t++) {
    const struct proto_schema *s = proto_types[t].schema;

    for (size_t j = 0; j < s->nfields; j++) {
      struct mp m = {0};
      struct proto_frame f;
      int rc;

      if (!(s->fields[j].flags & PF_REQ))
        continue;
      mp_sample_patch(&m, (enum proto_type)t, s->fields[j].name, NULL, 0);
      rc = dec_lim(&m, NULL, &f);
      if (rc != PROTO_E_MISSING || strcmp(err.field, s->fields[j].name))
        CHECK_FAIL("%s without %s: %s at `%s` (%s)",
                   proto_type_name((enum proto_type)t), s->fields[j].name,
                   proto_err_name(rc), err.field, err.msg);
      CHECK_CONTAINS(err.msg, s->fields[j].name);
      CHECK_INT(f.type, ==, t); /* the type is known to the caller */
      proto_frame_cleanup(&f);
      mp_free(&m);
    }
  }
}

TEST(missing_nested_and_envelope)
{
  struct mp v = {0}, m = {0};

  patch_expect(PROTO_T_PING, "t", NULL, PROTO_E_MISSING, "t", NULL);
  mp_arr(&v, 2);
  mp_map(&v, 2);
  mp_str(&v, "conv"); mp_uint(&v, 1);
  mp_str(&v, "after"); mp_uint(&v, 0);
  mp_map(&v, 1);
  mp_str(&v, "conv"); mp_uint(&v, 2);
  patch_expect(PROTO_T_SYNC, "cur", &v, PROTO_E_MISSING, "cur[1].after",
               "required");
  mp_free(&v);
  mp_map(&v, 4);
  mp_str(&v, "frame"); mp_uint(&v, 1);
  mp_str(&v, "sframe"); mp_uint(&v, 1);
  mp_str(&v, "body"); mp_uint(&v, 1);
  mp_str(&v, "depth"); mp_uint(&v, 1);
  patch_expect(PROTO_T_WELCOME, "lim", &v, PROTO_E_MISSING, "lim.page",
               NULL);
  mp_free(&v);
  mp_free(&m);
}

TEST(unknown_type)
{
  struct proto_frame f;
  struct mp m = {0};

  mp_map(&m, 2);
  mp_str(&m, "id");
  mp_uint(&m, 77);
  mp_str(&m, "t");
  mp_str(&m, "teleport");
  CHECK_INT(dec_lim(&m, NULL, &f), ==, PROTO_E_UNKNOWN_TYPE);
  CHECK_STR(err.field, "t");
  CHECK_CONTAINS(err.msg, "teleport");
  CHECK_UINT(f.id, ==, 77); /* so the error frame can echo it */
  CHECK_INT(proto_err_close_code(PROTO_E_UNKNOWN_TYPE), ==, 0);
  proto_frame_cleanup(&f);
  patch_expect(PROTO_T_PING, "t", vstr(""), PROTO_E_UNKNOWN_TYPE, "t",
               NULL);
  /* Hostile type strings are not echoed raw. */
  patch_expect(PROTO_T_PING, "t", vstr("a\nb`c"), PROTO_E_UNKNOWN_TYPE, "t",
               "a?b?c");
  mp_free(&m);
}

TEST(unexpected_direction)
{
  struct mp m = {0};
  struct proto_limits lim = {0};

  encode_sample(PROTO_T_WELCOME, &m);
  lim.accept = PROTO_FROM_CLIENT;
  expect_lim(&m, &lim, PROTO_E_UNEXPECTED, "t", "server");
  mp_free(&m);
  encode_sample(PROTO_T_SEND, &m);
  lim.accept = PROTO_FROM_SERVER;
  expect_lim(&m, &lim, PROTO_E_UNEXPECTED, "t", "clients");
  lim.accept = PROTO_FROM_CLIENT;
  ok_lim(&m, &lim);
  mp_free(&m);
}

TEST(duplicate_keys)
{
  struct mp m = {0};

  /* a known field */
  mp_sample_patch(&m, PROTO_T_SEND, "zz", NULL, 1);
  mp_str(&m, "conv");
  mp_uint(&m, 8);
  expect(&m, PROTO_E_DUP_KEY, "conv", "twice");
  mp_free(&m);
  /* the envelope */
  mp_sample_patch(&m, PROTO_T_SEND, "zz", NULL, 1);
  mp_str(&m, "t");
  mp_str(&m, "send");
  expect(&m, PROTO_E_DUP_KEY, "t", NULL);
  mp_free(&m);
  mp_sample_patch(&m, PROTO_T_SEND, "zz", NULL, 1);
  mp_str(&m, "id");
  mp_uint(&m, 1);
  expect(&m, PROTO_E_DUP_KEY, "id", NULL);
  mp_free(&m);
  /* an unknown field */
  mp_sample_patch(&m, PROTO_T_SEND, "zz", NULL, 2);
  mp_str(&m, "zz");
  mp_uint(&m, 1);
  mp_str(&m, "zz");
  mp_uint(&m, 2);
  expect(&m, PROTO_E_DUP_KEY, "", "\"zz\"");
  mp_free(&m);
  /* inside an item */
  mp_sample_patch(&m, PROTO_T_SYNC, "cur", NULL, 1);
  mp_str(&m, "cur");
  mp_arr(&m, 1);
  mp_map(&m, 3);
  mp_str(&m, "conv"); mp_uint(&m, 1);
  mp_str(&m, "after"); mp_uint(&m, 1);
  mp_str(&m, "conv"); mp_uint(&m, 1);
  expect(&m, PROTO_E_DUP_KEY, "cur[0].conv", NULL);
  mp_free(&m);
}

TEST(many_unknown_keys)
{
  /* Thousands of unknown keys: accepted when distinct (checked by sorting,
   * not pairwise), refused when one repeats. */
  for (int dup = 0; dup < 2; dup++) {
    struct mp m = {0};
    unsigned n = 3000;

    mp_sample_patch(&m, PROTO_T_PING, "zz", NULL, n);
    for (unsigned i = 0; i < n; i++) {
      char k[16];

      snprintf(k, sizeof k, "k%u", dup && i == n - 1 ? 17u : i);
      mp_str(&m, k);
      mp_nil(&m);
    }
    if (dup)
      expect(&m, PROTO_E_DUP_KEY, "", "k17");
    else
      expect_ok(&m);
    mp_free(&m);
  }
}

TEST(unknown_fields_ignored)
{
  struct mp m = {0};
  struct proto_frame f, s;
  char why[256];

  mp_sample_patch(&m, PROTO_T_SEND, "zz", NULL, 3);
  mp_str(&m, "future");
  mp_map(&m, 1);
  mp_str(&m, "a");
  mp_arr(&m, 3);
  mp_uint(&m, 1);
  mp_f64(&m, 2.5);
  mp_bin(&m, "\xff", 1);
  mp_str(&m, "x-neg");
  mp_int(&m, -5);
  mp_str(&m, "x-nil");
  mp_nil(&m);
  CHECK_INT(dec_lim(&m, NULL, &f), ==, 0);
  sample_frame(PROTO_T_SEND, &s);
  if (!sample_equal(&s, &f, why, sizeof why))
    CHECK_FAIL("differs: %s", why);
  proto_frame_cleanup(&f);
  mp_free(&m);
}

TEST(nil_means_absent)
{
  struct mp v = {0}, m = {0};
  struct proto_frame f;

  mp_nil(&v);
  mp_sample_patch(&m, PROTO_T_SEND, "tracked", &v, 0);
  CHECK_INT(dec_lim(&m, NULL, &f), ==, 0);
  CHECK(!f.u.send.tracked);
  proto_frame_cleanup(&f);
  mp_free(&m);
  mp_sample_patch(&m, PROTO_T_HELLO, "client", &v, 0);
  CHECK_INT(dec_lim(&m, NULL, &f), ==, 0);
  CHECK(f.u.hello.client.p == NULL);
  proto_frame_cleanup(&f);
  mp_free(&m);
  mp_free(&v);
}

/* ---- values ---------------------------------------------------------------- */

TEST(out_of_range)
{
  struct mp v = {0};

  patch_expect(PROTO_T_SEND, "conv", vuint(0), PROTO_E_RANGE, "conv",
               "value 0 out of range 1..");
  patch_expect(PROTO_T_SEND, "conv", vuint(PROTO_ID_MAX + 1), PROTO_E_RANGE,
               "conv", "9223372036854775808");
  mp_int(&v, -1);
  patch_expect(PROTO_T_SEND, "conv", &v, PROTO_E_RANGE, "conv", "-1");
  patch_expect(PROTO_T_PING, "id", &v, PROTO_E_RANGE, "id", "-1");
  mp_free(&v);
  patch_expect(PROTO_T_SYNC, "limit", vuint(PROTO_PAGE_MAX + 1),
               PROTO_E_RANGE, "limit", "1..1000");
  patch_expect(PROTO_T_ERROR, "code", vuint(42), PROTO_E_RANGE, "code",
               NULL);
  /* automation thresholds: a minute to a year */
  patch_expect(PROTO_T_CONV_CREATE, "remind_after", vuint(59), PROTO_E_RANGE,
               "remind_after", "60..31536000");
  patch_expect(PROTO_T_CONV_CREATE, "task_after", vuint(31536001),
               PROTO_E_RANGE, "task_after", "60..31536000");
  mp_arr(&v, 1);
  mp_uint(&v, 0);
  patch_expect(PROTO_T_SEND, "esc", &v, PROTO_E_RANGE, "esc[0]", NULL);
  mp_free(&v);
  mp_arr(&v, 1);
  mp_map(&v, 3);
  mp_str(&v, "day"); mp_uint(&v, 8);
  mp_str(&v, "start"); mp_uint(&v, 0);
  mp_str(&v, "end"); mp_uint(&v, 60);
  patch_expect(PROTO_T_QUIET_SET, "win", &v, PROTO_E_RANGE, "win[0].day",
               "1..7");
  mp_free(&v);
  /* an optional uint may be 0 (= absent) even when its range starts at 1 */
  {
    struct mp m = {0};
    struct proto_frame f;

    mp_sample_patch(&m, PROTO_T_HISTORY, "before", vuint(0), 0);
    CHECK_INT(dec_lim(&m, NULL, &f), ==, 0);
    CHECK_UINT(f.u.history.before, ==, 0);
    proto_frame_cleanup(&f);
    mp_free(&m);
  }
}

TEST(lengths_and_counts)
{
  struct mp v = {0};
  char long_cmid[66];

  memset(long_cmid, 'c', 65);
  long_cmid[65] = 0;
  patch_expect(PROTO_T_SEND, "cmid", vstr(long_cmid), PROTO_E_TOO_LONG,
               "cmid", "at most 64");
  patch_expect(PROTO_T_SEND, "cmid", vstr(""), PROTO_E_RANGE, "cmid",
               "empty");
  mp_bin(&v, "0123456789012345678901234567890", 31);
  patch_expect(PROTO_T_CARD_SIGN, "hash", &v, PROTO_E_RANGE, "hash",
               "exactly 32");
  mp_free(&v);
  mp_bin(&v, "012345678901234567890123456789012", 33);
  patch_expect(PROTO_T_DEVICE_KEY, "pub", &v, PROTO_E_TOO_LONG, "pub",
               "exactly 32");
  mp_free(&v);
  mp_arr(&v, 4097);
  for (int i = 0; i < 4097; i++)
    mp_uint(&v, 5);
  patch_expect(PROTO_T_SEND, "to", &v, PROTO_E_TOO_MANY, "to",
               "at most 4096");
  mp_free(&v);
}

TEST(bad_enum_value)
{
  patch_expect(PROTO_T_SEND, "kind", vstr("video"), PROTO_E_BAD_VALUE,
               "kind", "text, ding, card");
  patch_expect(PROTO_T_SEND, "urg", vstr("Urgent"), PROTO_E_BAD_VALUE, "urg",
               "\"Urgent\"");
}

TEST(cross_field_rules)
{
  struct mp m = {0}, v = {0};

  /* DING without urgency, without recipients, with both */
  patch_expect(PROTO_T_SEND, "urg", NULL, PROTO_E_MISSING, "urg", "ding");
  patch_expect(PROTO_T_SEND, "to", NULL, PROTO_E_MISSING, "to", "`all`");
  mp_sample_patch(&m, PROTO_T_SEND, "all", NULL, 1);
  mp_str(&m, "all");
  mp_bool(&m, 1);
  expect(&m, PROTO_E_BAD_VALUE, "all", "not both");
  mp_free(&m);
  /* recipients on a text message */
  mp_sample_patch(&m, PROTO_T_SEND, "kind", vstr("text"), 0);
  expect(&m, PROTO_E_BAD_VALUE, "to", "only allowed when kind is ding");
  mp_free(&m);
  /* a direct conversation has one other member */
  mp_sample_patch(&m, PROTO_T_CONV_CREATE, "type", vstr("direct"), 0);
  expect(&m, PROTO_E_BAD_VALUE, "members", "exactly one");
  mp_free(&m);
  /* automation on a direct conversation (built, then validated) */
  {
    static const uint64_t one[] = {5};
    struct proto_frame f;
    struct proto_error e;

    proto_frame_init(&f, PROTO_T_CONV_CREATE);
    f.u.conv_create.type = PROTO_CONV_DIRECT;
    f.u.conv_create.members = one;
    f.u.conv_create.nmembers = 1;
    CHECK_INT(proto_validate(&f, &e), ==, 0);
    f.u.conv_create.task_after = 3600;
    CHECK_INT(proto_validate(&f, &e), ==, PROTO_E_BAD_VALUE);
    CHECK_STR(e.field, "task_after");
    CHECK_CONTAINS(e.msg, "groups only");
  }
  /* read > total */
  patch_expect(PROTO_T_RECEIPT, "read", vuint(6), PROTO_E_BAD_VALUE, "read",
               NULL);
  /* a reminder whose range is upside down, or holds fewer messages than
   * it counts (the sample covers 95..99) */
  patch_expect(PROTO_T_REMIND, "upto", vuint(94), PROTO_E_BAD_VALUE, "upto",
               "below seq");
  patch_expect(PROTO_T_REMIND, "n", vuint(6), PROTO_E_BAD_VALUE, "n",
               "do not fit");
  /* an empty quiet window */
  mp_arr(&v, 1);
  mp_map(&v, 3);
  mp_str(&v, "day"); mp_uint(&v, 2);
  mp_str(&v, "start"); mp_uint(&v, 60);
  mp_str(&v, "end"); mp_uint(&v, 60);
  patch_expect(PROTO_T_QUIET_SET, "win", &v, PROTO_E_BAD_VALUE, "win[0].end",
               NULL);
  mp_free(&v);
}

TEST(id_echoed_on_error)
{
  struct mp m = {0};
  struct proto_frame f;

  mp_sample_patch(&m, PROTO_T_SEND, "conv", vstr("x"), 0);
  CHECK_INT(dec_lim(&m, NULL, &f), ==, PROTO_E_WRONG_TYPE);
  CHECK_INT(f.type, ==, PROTO_T_SEND);
  CHECK_UINT(f.id, ==, 1000 + PROTO_T_SEND);
  CHECK_UINT(f.u.send.conv, ==, 0); /* fields are zeroed */
  CHECK(f.u.send.cmid.p == NULL);
  proto_frame_cleanup(&f);
  mp_free(&m);
}

TEST(null_err_is_fine)
{
  struct mp m = {0};
  struct proto_frame f;

  mp_sample_patch(&m, PROTO_T_SEND, "conv", vstr("x"), 0);
  CHECK_INT(proto_decode(m.b, m.n, NULL, &f, NULL), ==, PROTO_E_WRONG_TYPE);
  proto_frame_cleanup(&f);
  mp_free(&m);
  expect_done();
}

TEST_MAIN()
