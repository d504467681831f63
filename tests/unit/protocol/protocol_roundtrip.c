/*
 * protocol_roundtrip.c — every frame type survives encode -> decode.
 *
 * One test per frame type: the complete sample (every field set) is
 * encoded with transport headroom, decoded, compared member by member with
 * the hand-written comparator, and encoded again to the same bytes. Then
 * the same with only the required fields, and the encoder-side checks, the
 * deep copy and the shared broadcast buffer.
 */
#include "check.h"
#include "proto_int.h"
#include "proto_samples.h"

#define HEADROOM 16 /* LWS_PRE on this platform */

static void roundtrip_frame(const struct proto_frame *f)
{
  struct proto_buf b, b2;
  struct proto_frame d;
  struct proto_error err;
  char why[256];
  int rc;

  proto_buf_init(&b);
  proto_buf_init(&b2);
  rc = proto_encode(f, HEADROOM, &b);
  CHECK_INT(rc, ==, 0);
  CHECK_UINT(b.headroom, ==, HEADROOM);
  for (size_t i = 0; i < HEADROOM; i++)
    CHECK_UINT(b.data[i], ==, 0);
  CHECK(proto_buf_size(&b) > 0);

  rc = proto_decode(proto_buf_frame(&b), proto_buf_size(&b), NULL, &d, &err);
  if (rc)
    CHECK_FAIL("decode of %s failed: %s (%s)", proto_type_name(f->type),
               proto_err_name(rc), err.msg);
  if (!sample_equal(f, &d, why, sizeof why))
    CHECK_FAIL("%s differs after a round trip: %s", proto_type_name(f->type),
               why);

  /* Canonical: a decoded frame encodes to the very same bytes. */
  CHECK_INT(proto_encode(&d, 0, &b2), ==, 0);
  CHECK_UINT(proto_buf_size(&b2), ==, proto_buf_size(&b));
  CHECK_MEM(proto_buf_frame(&b2), proto_buf_frame(&b), proto_buf_size(&b));

  proto_frame_cleanup(&d);
  proto_buf_cleanup(&b);
  proto_buf_cleanup(&b2);
}

static void roundtrip(enum proto_type t)
{
  struct proto_frame f;

  sample_frame(t, &f);
  CHECK_INT(f.type, ==, t);
  roundtrip_frame(&f);
  f.id = 0; /* frames without a request id omit `id` */
  roundtrip_frame(&f);
}

TEST(rt_hello) { roundtrip(PROTO_T_HELLO); }
TEST(rt_login) { roundtrip(PROTO_T_LOGIN); }
TEST(rt_logout) { roundtrip(PROTO_T_LOGOUT); }
TEST(rt_send) { roundtrip(PROTO_T_SEND); }
TEST(rt_sync) { roundtrip(PROTO_T_SYNC); }
TEST(rt_history) { roundtrip(PROTO_T_HISTORY); }
TEST(rt_read) { roundtrip(PROTO_T_READ); }
TEST(rt_who_read) { roundtrip(PROTO_T_WHO_READ); }
TEST(rt_ding_ack) { roundtrip(PROTO_T_DING_ACK); }
TEST(rt_ding_board) { roundtrip(PROTO_T_DING_BOARD); }
TEST(rt_card_action) { roundtrip(PROTO_T_CARD_ACTION); }
TEST(rt_card_edit) { roundtrip(PROTO_T_CARD_EDIT); }
TEST(rt_card_sign) { roundtrip(PROTO_T_CARD_SIGN); }
TEST(rt_device_key) { roundtrip(PROTO_T_DEVICE_KEY); }
TEST(rt_quiet_get) { roundtrip(PROTO_T_QUIET_GET); }
TEST(rt_quiet_set) { roundtrip(PROTO_T_QUIET_SET); }
TEST(rt_report_unread) { roundtrip(PROTO_T_REPORT_UNREAD); }
TEST(rt_conv_list) { roundtrip(PROTO_T_CONV_LIST); }
TEST(rt_conv_create) { roundtrip(PROTO_T_CONV_CREATE); }
TEST(rt_conv_members) { roundtrip(PROTO_T_CONV_MEMBERS); }
TEST(rt_conv_add_member) { roundtrip(PROTO_T_CONV_ADD_MEMBER); }
TEST(rt_ping) { roundtrip(PROTO_T_PING); }
TEST(rt_welcome) { roundtrip(PROTO_T_WELCOME); }
TEST(rt_ack) { roundtrip(PROTO_T_ACK); }
TEST(rt_msg) { roundtrip(PROTO_T_MSG); }
TEST(rt_page) { roundtrip(PROTO_T_PAGE); }
TEST(rt_feed) { roundtrip(PROTO_T_FEED); }
TEST(rt_synced) { roundtrip(PROTO_T_SYNCED); }
TEST(rt_receipt) { roundtrip(PROTO_T_RECEIPT); }
TEST(rt_remind) { roundtrip(PROTO_T_REMIND); }
TEST(rt_who_read_result) { roundtrip(PROTO_T_WHO_READ_RESULT); }
TEST(rt_ding_alert) { roundtrip(PROTO_T_DING_ALERT); }
TEST(rt_ding_update) { roundtrip(PROTO_T_DING_UPDATE); }
TEST(rt_ding_board_result) { roundtrip(PROTO_T_DING_BOARD_RESULT); }
TEST(rt_card_event) { roundtrip(PROTO_T_CARD_EVENT); }
TEST(rt_quiet_state) { roundtrip(PROTO_T_QUIET_STATE); }
TEST(rt_report_result) { roundtrip(PROTO_T_REPORT_RESULT); }
TEST(rt_conv_list_result) { roundtrip(PROTO_T_CONV_LIST_RESULT); }
TEST(rt_conv_members_result) { roundtrip(PROTO_T_CONV_MEMBERS_RESULT); }
TEST(rt_result) { roundtrip(PROTO_T_RESULT); }
TEST(rt_pong) { roundtrip(PROTO_T_PONG); }
TEST(rt_error) { roundtrip(PROTO_T_ERROR); }

/* Zeroes the optional fields of the top-level struct. */
static void strip_optional(struct proto_frame *f)
{
  const struct proto_schema *s = proto_types[f->type].schema;
  char *base = (char *)&f->u;

  for (size_t j = 0; j < s->nfields; j++) {
    const struct proto_field *fd = &s->fields[j];

    if (fd->flags & PF_REQ)
      continue;
    switch (fd->kind) {
    case PF_UINT: memset(base + fd->off, 0, sizeof(uint64_t)); break;
    case PF_BOOL: memset(base + fd->off, 0, sizeof(bool)); break;
    case PF_STR:
    case PF_BIN: memset(base + fd->off, 0, sizeof(struct proto_str)); break;
    case PF_ENUM: memset(base + fd->off, 0, sizeof(int)); break;
    case PF_UINTS:
    case PF_LIST:
      memset(base + fd->off, 0, sizeof(void *));
      memset(base + fd->off_n, 0, sizeof(size_t));
      break;
    default: break;
    }
  }
}

TEST(minimal_frames)
{
  for (int t = 1; t < PROTO_T_COUNT_; t++) {
    struct proto_frame f;

    sample_frame((enum proto_type)t, &f);
    if (t == PROTO_T_SEND)
      f.u.send.kind = PROTO_KIND_TEXT; /* a DING needs optional fields */
    if (t == PROTO_T_MSG)
      f.u.msg.kind = PROTO_KIND_TEXT;
    strip_optional(&f);
    f.id = 0;
    roundtrip_frame(&f);
  }
}

/* Counts the keys of the top-level map at `p` (a fixmap or map16). */
static size_t map_count(const uint8_t *p)
{
  if (p[0] >= 0x80 && p[0] <= 0x8f)
    return p[0] & 0x0f;
  CHECK_UINT(p[0], ==, 0xde);
  return (size_t)p[1] << 8 | p[2];
}

TEST(samples_complete)
{
  /* Every schema field appears in the sample, so the round trips above
   * exercise all of them. The one exception: send.all, which a DING with
   * `to` may not carry (see send_ding_all). */
  for (int t = 1; t < PROTO_T_COUNT_; t++) {
    struct proto_frame f;
    struct proto_buf b;
    size_t want = proto_types[t].schema->nfields + 2; /* + t, id */

    sample_frame((enum proto_type)t, &f);
    if (t == PROTO_T_SEND)
      want--;
    proto_buf_init(&b);
    CHECK_INT(proto_encode(&f, 0, &b), ==, 0);
    if (map_count(b.data) != want)
      CHECK_FAIL("sample %s has %zu keys, schema wants %zu",
                 proto_type_name((enum proto_type)t), map_count(b.data),
                 want);
    proto_buf_cleanup(&b);
  }
}

TEST(send_ding_all)
{
  struct proto_frame f;

  sample_frame(PROTO_T_SEND, &f);
  f.u.send.to = NULL;
  f.u.send.nto = 0;
  f.u.send.all = true;
  roundtrip_frame(&f);
}

TEST(type_names)
{
  for (int t = 1; t < PROTO_T_COUNT_; t++) {
    const char *n = proto_type_name((enum proto_type)t);

    CHECK(n != NULL);
    CHECK_INT(proto_type_from_name(n, strlen(n)), ==, t);
    CHECK(proto_type_sender((enum proto_type)t) == PROTO_FROM_CLIENT ||
          proto_type_sender((enum proto_type)t) == PROTO_FROM_SERVER);
  }
  CHECK(proto_type_name(PROTO_T_NONE) == NULL);
  CHECK(proto_type_name(PROTO_T_COUNT_) == NULL);
  CHECK_INT(proto_type_from_name("sen", 3), ==, PROTO_T_NONE);
  CHECK_INT(proto_type_from_name("send", 3), ==, PROTO_T_NONE);
  CHECK_INT(proto_type_from_name("sendx", 5), ==, PROTO_T_NONE);
  CHECK_INT(proto_type_from_name("send", 4), ==, PROTO_T_SEND);
  CHECK_UINT(proto_type_sender(PROTO_T_SEND), ==, PROTO_FROM_CLIENT);
  CHECK_UINT(proto_type_sender(PROTO_T_MSG), ==, PROTO_FROM_SERVER);
  CHECK(proto_type_preauth(PROTO_T_HELLO));
  CHECK(proto_type_preauth(PROTO_T_LOGIN));
  CHECK(proto_type_preauth(PROTO_T_PING));
  CHECK(!proto_type_preauth(PROTO_T_SEND));
  CHECK(!proto_type_preauth(PROTO_T_NONE));
}

TEST(schema_sane)
{
  /* Seen-bits in decode.c: at most 62 fields, and `t`/`id` are reserved. */
  for (int t = 1; t < PROTO_T_COUNT_; t++) {
    const struct proto_schema *s = proto_types[t].schema;

    CHECK(s != NULL);
    CHECK_UINT(s->nfields, <=, 62);
    for (size_t i = 0; i < s->nfields; i++) {
      CHECK(strcmp(s->fields[i].name, "t") != 0);
      CHECK(strcmp(s->fields[i].name, "id") != 0);
      for (size_t j = i + 1; j < s->nfields; j++)
        CHECK(strcmp(s->fields[i].name, s->fields[j].name) != 0);
    }
  }
}

TEST(headroom_sizes)
{
  size_t rooms[] = {0, 1, 16, 64, 65, 200};
  struct proto_frame f;
  struct proto_buf b;

  sample_frame(PROTO_T_MSG, &f);
  proto_buf_init(&b);
  for (size_t i = 0; i < sizeof rooms / sizeof rooms[0]; i++) {
    struct proto_frame d;

    if (b.data)
      memset(b.data, 0xee, b.cap); /* headroom must be zeroed again */
    CHECK_INT(proto_encode(&f, rooms[i], &b), ==, 0);
    CHECK_UINT(b.headroom, ==, rooms[i]);
    for (size_t k = 0; k < rooms[i]; k++)
      CHECK_UINT(b.data[k], ==, 0);
    CHECK_INT(proto_decode(proto_buf_frame(&b), proto_buf_size(&b), NULL, &d,
                           NULL), ==, 0);
    proto_frame_cleanup(&d);
  }
  proto_buf_cleanup(&b);
}

TEST(copy_owns_memory)
{
  struct proto_frame f, d, c;
  struct proto_buf b;
  char why[256];

  sample_frame(PROTO_T_PAGE, &f);
  proto_buf_init(&b);
  CHECK_INT(proto_encode(&f, 0, &b), ==, 0);
  CHECK_INT(proto_decode(b.data, b.len, NULL, &d, NULL), ==, 0);
  CHECK_INT(proto_frame_copy(&c, &d), ==, 0);
  /* The copy must not borrow from the decoded frame's buffer. */
  proto_frame_cleanup(&d);
  memset(b.data, 0xa5, b.len);
  proto_buf_cleanup(&b);
  if (!sample_equal(&f, &c, why, sizeof why))
    CHECK_FAIL("copy differs: %s", why);
  proto_frame_cleanup(&c);
  CHECK_INT(c.type, ==, PROTO_T_NONE);
  proto_frame_cleanup(&c); /* twice is fine */
}

TEST(shared_buffer)
{
  struct proto_frame f;
  struct proto_buf b;
  struct proto_shared *s, *s2;
  uint8_t *p;
  size_t len;

  sample_frame(PROTO_T_MSG, &f);
  f.id = 0;
  proto_buf_init(&b);
  CHECK_INT(proto_encode(&f, HEADROOM, &b), ==, 0);
  CHECK_INT(proto_encode_shared(&f, HEADROOM, &s), ==, 0);
  p = proto_shared_frame(s, &len);
  CHECK_UINT(len, ==, proto_buf_size(&b));
  CHECK_MEM(p, proto_buf_frame(&b), len);
  for (size_t i = 1; i <= HEADROOM; i++)
    CHECK_UINT(p[-(ptrdiff_t)i], ==, 0);
  s2 = proto_shared_ref(s);
  CHECK(s2 == s);
  proto_shared_unref(s);
  p = proto_shared_frame(s2, &len); /* still alive */
  CHECK_UINT(len, ==, proto_buf_size(&b));
  proto_shared_unref(s2);
  proto_shared_unref(NULL);
  proto_buf_cleanup(&b);

  f.u.msg.conv = 0; /* invalid: nothing is allocated or returned */
  s = (struct proto_shared *)&f;
  CHECK_INT(proto_encode_shared(&f, HEADROOM, &s), ==, PROTO_E_RANGE);
  CHECK(s == NULL);
}

TEST(buf_reuse)
{
  struct proto_frame f1, f2;
  struct proto_buf b;
  struct proto_frame d;

  sample_frame(PROTO_T_REPORT_RESULT, &f1);
  sample_frame(PROTO_T_PING, &f2);
  proto_buf_init(&b);
  CHECK_INT(proto_encode(&f1, 8, &b), ==, 0);
  CHECK_INT(proto_encode(&f2, 4, &b), ==, 0);
  CHECK_UINT(b.headroom, ==, 4);
  CHECK_INT(proto_decode(proto_buf_frame(&b), proto_buf_size(&b), NULL, &d,
                         NULL), ==, 0);
  CHECK_INT(d.type, ==, PROTO_T_PING);
  proto_frame_cleanup(&d);
  proto_buf_cleanup(&b);
  proto_buf_cleanup(&b);
}

static void expect_invalid(struct proto_frame *f, int code, const char *field)
{
  struct proto_error err;
  struct proto_buf b;

  proto_buf_init(&b);
  CHECK_INT(proto_validate(f, &err), ==, code);
  CHECK_STR(err.field, field);
  CHECK_CONTAINS(err.msg, field);
  CHECK_INT(proto_encode(f, 16, &b), ==, code);
  CHECK_UINT(b.len, ==, 0);
  CHECK_UINT(b.headroom, ==, 0);
  proto_buf_cleanup(&b);
}

TEST(encode_rejects_invalid)
{
  struct proto_frame f;
  static const uint64_t zero_id[] = {5, 0};
  static const struct proto_window bad_win[] = {{1, 60, 60}};

  sample_frame(PROTO_T_SEND, &f);
  f.u.send.cmid.p = NULL;
  f.u.send.cmid.len = 0;
  expect_invalid(&f, PROTO_E_MISSING, "cmid");

  sample_frame(PROTO_T_SEND, &f);
  f.u.send.conv = PROTO_ID_MAX + 1;
  expect_invalid(&f, PROTO_E_RANGE, "conv");

  sample_frame(PROTO_T_SEND, &f);
  f.u.send.body.p = "bad \xc0\xaf";
  f.u.send.body.len = 6;
  expect_invalid(&f, PROTO_E_BAD_UTF8, "body");

  sample_frame(PROTO_T_SEND, &f);
  f.u.send.kind = (enum proto_kind)9;
  expect_invalid(&f, PROTO_E_BAD_VALUE, "kind");

  sample_frame(PROTO_T_SEND, &f);
  f.u.send.urg = PROTO_URG_NONE;
  expect_invalid(&f, PROTO_E_MISSING, "urg");

  sample_frame(PROTO_T_SEND, &f);
  f.u.send.to = NULL;
  expect_invalid(&f, PROTO_E_BAD_VALUE, "to");

  sample_frame(PROTO_T_SEND, &f);
  f.u.send.to = zero_id;
  f.u.send.nto = 2;
  expect_invalid(&f, PROTO_E_RANGE, "to[1]");

  sample_frame(PROTO_T_SEND, &f);
  f.u.send.nto = 4097;
  expect_invalid(&f, PROTO_E_TOO_MANY, "to");

  sample_frame(PROTO_T_SEND, &f);
  f.u.send.cmid.len = 65;
  f.u.send.cmid.p = "0123456789012345678901234567890123456789012345678901234"
                    "5678901234";
  expect_invalid(&f, PROTO_E_TOO_LONG, "cmid");

  sample_frame(PROTO_T_QUIET_SET, &f);
  f.u.quiet_set.win = bad_win;
  f.u.quiet_set.nwin = 1;
  expect_invalid(&f, PROTO_E_BAD_VALUE, "win[0].end");

  sample_frame(PROTO_T_WELCOME, &f);
  f.u.welcome.quiet.tz.p = NULL;
  f.u.welcome.quiet.tz.len = 0;
  expect_invalid(&f, PROTO_E_MISSING, "quiet.tz");

  sample_frame(PROTO_T_CARD_SIGN, &f);
  f.u.card_sign.sig.len = 63;
  expect_invalid(&f, PROTO_E_RANGE, "sig");

  proto_frame_init(&f, PROTO_T_NONE);
  expect_invalid(&f, PROTO_E_UNKNOWN_TYPE, "t");
  proto_frame_init(&f, PROTO_T_COUNT_);
  expect_invalid(&f, PROTO_E_UNKNOWN_TYPE, "t");
}

TEST_MAIN()
