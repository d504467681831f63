/*
 * protocol_bytes.c — the decoder against hostile bytes.
 *
 * Truncation at every offset of every frame type, oversized frames and
 * bodies, nesting beyond the limit (and beyond msgpack-c's own 32), lying
 * lengths and counts, trailing bytes, invalid markers, a top level that is
 * not a map, and invalid UTF-8 in values, keys, types and ignored fields.
 * Lying lengths are shown to be refused by the pre-scan before msgpack-c
 * allocates anything: an allocation counter (ASan's malloc hooks, or a
 * malloc wrapper without ASan) must read zero.
 */
#include "check.h"
#include "proto_expect.h"
#include "proto_samples.h"

/* ---- allocation counter ------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

static volatile int counting;
static size_t alloc_count, alloc_bytes, alloc_max;

static void note_alloc(size_t n)
{
  if (!counting)
    return;
  alloc_count++;
  alloc_bytes += n;
  if (n > alloc_max)
    alloc_max = n;
}

#ifdef HAVE_ASAN
int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void *, size_t),
    void (*free_hook)(const volatile void *));

static void on_malloc(const volatile void *p, size_t n)
{
  (void)p;
  note_alloc(n);
}

static void on_free(const volatile void *p)
{
  (void)p;
}

static void count_start(void)
{
  static int installed;

  if (!installed)
    installed = __sanitizer_install_malloc_and_free_hooks(on_malloc,
                                                          on_free) != 0;
  CHECK(installed);
  alloc_count = alloc_bytes = alloc_max = 0;
  counting = 1;
}
#else
/* Without ASan, interpose the allocator: the executable's definitions win
 * over glibc's for every library, msgpack-c included. */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t a, size_t b);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

void *malloc(size_t n)
{
  note_alloc(n);
  return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
  note_alloc(a * b);
  return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
  note_alloc(n);
  return __libc_realloc(p, n);
}

void free(void *p)
{
  __libc_free(p);
}

static void count_start(void)
{
  alloc_count = alloc_bytes = alloc_max = 0;
  counting = 1;
}
#endif

static void count_stop(void)
{
  counting = 0;
}

/* ---- truncation, size, depth ------------------------------------------- */

TEST(truncated_every_offset)
{
  for (int t = 1; t < PROTO_T_COUNT_; t++) {
    struct mp m = {0};

    encode_sample((enum proto_type)t, &m);
    for (size_t cut = 0; cut < m.n; cut++) {
      struct proto_frame f;
      int rc = proto_decode(m.b, cut, NULL, &f, &err);

      if (rc != PROTO_E_MALFORMED)
        CHECK_FAIL("%s cut at %zu of %zu: %s (%s)",
                   proto_type_name((enum proto_type)t), cut, m.n,
                   proto_err_name(rc), err.msg);
      CHECK_INT(f.type, ==, PROTO_T_NONE);
      CHECK_STR(err.field, "");
      proto_frame_cleanup(&f);
    }
    mp_free(&m);
  }
}

TEST(oversized_frame)
{
  struct mp m = {0};
  struct proto_limits lim = {0};
  size_t big = PROTO_DEFAULT_MAX_FRAME + 100;
  char *body = malloc(big);

  memset(body, 'x', big);
  mp_map(&m, 2);
  mp_str(&m, "t");
  mp_str(&m, "ping");
  mp_str(&m, "pad");
  mp_strn(&m, body, big);
  expect(&m, PROTO_E_TOO_LARGE, "", "65536");
  CHECK_INT(proto_err_close_code(PROTO_E_TOO_LARGE), ==, 1009);
  free(body);

  /* At the limit passes; one byte over does not. */
  lim.max_frame = m.n;
  ok_lim(&m, &lim);
  lim.max_frame = m.n - 1;
  expect_lim(&m, &lim, PROTO_E_TOO_LARGE, "", NULL);
  mp_free(&m);
}

TEST(body_over_limit)
{
  struct mp v = {0}, m = {0};
  struct proto_limits lim = {0};

  mp_str(&v, "0123456789A");
  mp_sample_patch(&m, PROTO_T_SEND, "body", &v, 0);
  lim.max_body = 10;
  expect_lim(&m, &lim, PROTO_E_TOO_LONG, "body", "at most 10");
  lim.max_body = 11;
  ok_lim(&m, &lim);
  mp_free(&v);
  mp_free(&m);
}

/* A ping whose ignored field `x` nests arrays so that the deepest
 * container sits at `depth` (the frame map is depth 1). */
static void nested(struct mp *m, unsigned depth, bool maps)
{
  mp_map(m, 2);
  mp_str(m, "t");
  mp_str(m, "ping");
  mp_str(m, "x");
  for (unsigned d = 2; d <= depth; d++) {
    if (maps) {
      mp_map(m, 1);
      mp_str(m, "k");
    } else {
      mp_arr(m, 1);
    }
  }
  mp_nil(m);
}

TEST(too_deep)
{
  struct proto_limits lim = {0};

  for (int maps = 0; maps < 2; maps++) {
    struct mp ok = {0}, deep = {0}, deeper = {0};

    nested(&ok, PROTO_DEFAULT_MAX_DEPTH, maps);
    expect_ok(&ok);
    nested(&deep, PROTO_DEFAULT_MAX_DEPTH + 1, maps);
    expect(&deep, PROTO_E_TOO_DEEP, "", "8 levels");
    /* Deeper than msgpack-c's own fixed stack of 32. */
    nested(&deeper, 40, maps);
    expect(&deeper, PROTO_E_TOO_DEEP, "", NULL);
    mp_free(&ok);
    mp_free(&deep);
    mp_free(&deeper);
  }

  /* A configured limit above the cap is capped. */
  {
    struct mp m = {0};

    lim.max_depth = 100;
    nested(&m, PROTO_DEPTH_CAP, false);
    ok_lim(&m, &lim);
    mp_free(&m);
    nested(&m, PROTO_DEPTH_CAP + 1, false);
    expect_lim(&m, &lim, PROTO_E_TOO_DEEP, "", NULL);
    mp_free(&m);
  }

  /* An empty container counts as a level too. */
  {
    struct mp m = {0};

    nested(&m, PROTO_DEFAULT_MAX_DEPTH, false);
    m.n--;               /* drop the nil ... */
    m.b[m.n - 1] = 0x90; /* ... and make the last array empty */
    expect_ok(&m);
    mp_free(&m);
  }
}

/* ---- lying lengths ---------------------------------------------------- */

static void expect_lie(const struct mp *m)
{
  struct proto_limits lim;
  struct proto_frame f;
  int rc;

  /* Refused by the pre-scan itself ... */
  proto_limits_resolve(NULL, &lim);
  CHECK_INT(proto_prescan(m->b, m->n, &lim, &err), ==, PROTO_E_MALFORMED);
  /* ... so decoding allocates nothing at all. */
  count_start();
  rc = proto_decode(m->b, m->n, NULL, &f, &err);
  count_stop();
  CHECK_INT(rc, ==, PROTO_E_MALFORMED);
  CHECK_UINT(alloc_count, ==, 0);
  proto_frame_cleanup(&f);
}

/* A send frame whose last entry `to` has the raw value `raw`. */
static void send_with_raw_to(struct mp *m, const uint8_t *raw, size_t n)
{
  mp_sample_patch(m, PROTO_T_SEND, "to", NULL, 1);
  mp_str(m, "to");
  mp_raw(m, raw, n);
}

TEST(lying_lengths)
{
  static const uint8_t arr32[] = {0xdd, 0x0f, 0xff, 0xff, 0xff};
  static const uint8_t arr32max[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t map32[] = {0xdf, 0x0f, 0xff, 0xff, 0xff};
  static const uint8_t str32[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'};
  static const uint8_t bin32[] = {0xc6, 0x00, 0x01, 0x00, 0x00, 0x00};
  static const uint8_t ext32[] = {0xc9, 0x00, 0x00, 0x10, 0x00, 0x01};
  static const uint8_t str8[] = {0xd9, 0x20, 'a', 'b'};
  static const uint8_t arr16[] = {0xdc, 0x00, 0x03, 0x01, 0x02};
  static const uint8_t fixext16[] = {0xd8, 0x01, 0x00};
  const struct { const uint8_t *p; size_t n; } lies[] = {
    {arr32, sizeof arr32}, {arr32max, sizeof arr32max},
    {map32, sizeof map32}, {str32, sizeof str32}, {bin32, sizeof bin32},
    {ext32, sizeof ext32}, {str8, sizeof str8}, {arr16, sizeof arr16},
    {fixext16, sizeof fixext16}};

  for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
    struct mp alone = {0}, inside = {0};

    /* The lie as the whole frame (e.g. the 5-byte array32 header) ... */
    mp_raw(&alone, lies[i].p, lies[i].n);
    expect_lie(&alone);
    expect(&alone, PROTO_E_MALFORMED, "", NULL);
    /* ... and as the last value of an otherwise valid frame. */
    send_with_raw_to(&inside, lies[i].p, lies[i].n);
    expect_lie(&inside);
    expect(&inside, PROTO_E_MALFORMED, "", "byte");
    mp_free(&alone);
    mp_free(&inside);
  }

  /* A top-level map that claims more entries than there are bytes. */
  {
    struct mp m = {0};

    mp_byte(&m, 0xde);
    mp_byte(&m, 0x03);
    mp_byte(&m, 0xe8); /* 1000 entries */
    mp_str(&m, "t");
    mp_str(&m, "ping");
    expect_lie(&m);
    expect(&m, PROTO_E_MALFORMED, "", "1000 entries");
    mp_free(&m);
  }
}

TEST(bounded_allocation)
{
  /* The largest legal frame of tiny elements: msgpack-c's tree for it is
   * linear in the frame size (a 24-byte msgpack_object per one-byte
   * element, in zone chunks that double), and so is everything decode
   * allocates: about 2 MiB for 64 KiB of nils, never gigabytes. */
  struct mp m = {0};
  struct proto_frame f;
  uint32_t n = PROTO_DEFAULT_MAX_FRAME - 32;
  int rc;

  mp_map(&m, 2);
  mp_str(&m, "t");
  mp_str(&m, "ping");
  mp_str(&m, "x");
  mp_arr(&m, n);
  for (uint32_t i = 0; i < n; i++)
    mp_nil(&m);
  CHECK_UINT(m.n, <=, PROTO_DEFAULT_MAX_FRAME);
  count_start();
  rc = proto_decode(m.b, m.n, NULL, &f, &err);
  count_stop();
  CHECK_INT(rc, ==, 0);
  CHECK_UINT(alloc_count, >, 0); /* the counter works */
  CHECK_UINT(alloc_bytes, <=, 48 * (size_t)m.n);
  proto_frame_cleanup(&f);
  mp_free(&m);
}

TEST(arena_limit)
{
  struct mp m = {0};
  struct proto_limits lim = {0};

  encode_sample(PROTO_T_PAGE, &m);
  lim.max_arena = 64; /* less than two struct proto_msg */
  expect_lim(&m, &lim, PROTO_E_TOO_LARGE, "msgs", "memory limit");
  mp_free(&m);
}

/* ---- trailing bytes, markers, top level -------------------------------- */

TEST(trailing_bytes)
{
  struct mp m = {0}, two = {0};

  encode_sample(PROTO_T_PING, &m);
  mp_append(&two, &m);
  mp_append(&two, &m);
  mp_nil(&m);
  expect(&m, PROTO_E_TRAILING, "", "1 trailing");
  expect(&two, PROTO_E_TRAILING, "", NULL);
  CHECK_INT(proto_err_close_code(PROTO_E_TRAILING), ==, 1002);
  mp_free(&m);
  mp_free(&two);
}

TEST(invalid_marker_and_empty)
{
  struct mp m = {0};
  static const uint8_t c1[] = {0xc1};

  expect(&m, PROTO_E_MALFORMED, "", "empty");
  send_with_raw_to(&m, c1, 1);
  expect(&m, PROTO_E_MALFORMED, "", "0xc1");
  mp_free(&m);
}

TEST(top_level_not_map)
{
  struct mp m = {0};

  mp_arr(&m, 2);
  mp_str(&m, "t");
  mp_str(&m, "ping");
  expect(&m, PROTO_E_NOT_MAP, "", NULL);
  mp_free(&m);
  mp_str(&m, "ping");
  expect(&m, PROTO_E_NOT_MAP, "", NULL);
  mp_free(&m);
  mp_uint(&m, 7);
  expect(&m, PROTO_E_NOT_MAP, "", NULL);
  mp_free(&m);
  mp_nil(&m);
  expect(&m, PROTO_E_NOT_MAP, "", NULL);
  mp_free(&m);
  mp_map(&m, 0); /* a map, but no type */
  expect(&m, PROTO_E_MISSING, "t", NULL);
  mp_free(&m);
}

/* ---- UTF-8 -------------------------------------------------------------- */

static const struct {
  const char *s;
  const char *what;
} bad_utf8[] = {
  {"a\xc0\xaf", "overlong 2-byte /"},
  {"a\xc1\xbf", "overlong 2-byte"},
  {"a\xe0\x80\xaf", "overlong 3-byte"},
  {"a\xf0\x80\x80\xaf", "overlong 4-byte"},
  {"a\xed\xa0\x80", "surrogate U+D800"},
  {"a\xed\xbf\xbf", "surrogate U+DFFF"},
  {"a\xe4\xb8", "truncated 3-byte"},
  {"\xf0\x9f\x8e", "truncated 4-byte"},
  {"a\xc3", "truncated 2-byte"},
  {"\xf4\x90\x80\x80", "above U+10FFFF"},
  {"\xf5\x80\x80\x80", "lead F5"},
  {"\xff", "byte FF"},
  {"\x80", "stray continuation"},
  {"ab\xe4\x41\x41", "bad continuation"},
};

TEST(bad_utf8_values)
{
  for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
    struct mp v = {0}, m = {0};

    mp_str(&v, bad_utf8[i].s);
    mp_sample_patch(&m, PROTO_T_SEND, "body", &v, 0);
    {
      struct proto_frame f;
      int rc = dec_lim(&m, NULL, &f);

      if (rc != PROTO_E_BAD_UTF8)
        CHECK_FAIL("%s: got %s", bad_utf8[i].what, proto_err_name(rc));
      CHECK_STR(err.field, "body");
      CHECK_CONTAINS(err.msg, "`body`");
      proto_frame_cleanup(&f);
    }
    mp_free(&v);
    mp_free(&m);
  }
  CHECK_INT(proto_err_close_code(PROTO_E_BAD_UTF8), ==, 1007);
}

TEST(nul_in_string)
{
  struct mp v = {0}, m = {0};

  mp_strn(&v, "ab\0cd", 5);
  mp_sample_patch(&m, PROTO_T_SEND, "cmid", &v, 0);
  expect(&m, PROTO_E_BAD_UTF8, "cmid", "U+0000");
  mp_free(&v);
  mp_free(&m);
}

TEST(bad_utf8_keys)
{
  for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
    struct mp m = {0};

    mp_sample_patch(&m, PROTO_T_SEND, "zz", NULL, 1);
    mp_str(&m, bad_utf8[i].s);
    mp_uint(&m, 1);
    expect(&m, PROTO_E_BAD_UTF8, "", "map key");
    mp_free(&m);
  }

  /* A bad key inside an item names the item. */
  {
    struct mp m = {0};

    mp_map(&m, 2);
    mp_str(&m, "t");
    mp_str(&m, "sync");
    mp_str(&m, "cur");
    mp_arr(&m, 1);
    mp_map(&m, 3);
    mp_str(&m, "conv");
    mp_uint(&m, 1);
    mp_str(&m, "after");
    mp_uint(&m, 1);
    mp_str(&m, "\xed\xa0\x80");
    mp_uint(&m, 1);
    expect(&m, PROTO_E_BAD_UTF8, "cur[0]", "map key 2");
    mp_free(&m);
  }
}

TEST(bad_utf8_elsewhere)
{
  struct mp m = {0}, v = {0};

  /* The type string. */
  patch_expect(PROTO_T_PING, "t", vstr("pi\xc0\xafng"), PROTO_E_BAD_UTF8,
               "t", NULL);
  /* An enum value. */
  patch_expect(PROTO_T_SEND, "kind", vstr("te\xedxt"), PROTO_E_BAD_UTF8,
               "kind", NULL);
  /* A string inside an item of a list. */
  mp_arr(&v, 1);
  mp_map(&v, 7);
  mp_str(&v, "conv"); mp_uint(&v, 7);
  mp_str(&v, "seq"); mp_uint(&v, 1);
  mp_str(&v, "from"); mp_uint(&v, 2);
  mp_str(&v, "from_kind"); mp_str(&v, "user");
  mp_str(&v, "kind"); mp_str(&v, "text");
  mp_str(&v, "body"); mp_str(&v, "ok \xf4\x90\x80\x80");
  mp_str(&v, "ts"); mp_uint(&v, 5);
  patch_expect(PROTO_T_PAGE, "msgs", &v, PROTO_E_BAD_UTF8, "msgs[0].body",
               NULL);
  mp_free(&v);
  /* Inside an ignored field, even nested: named by that field. */
  mp_sample_patch(&m, PROTO_T_SEND, "future", NULL, 1);
  mp_str(&m, "future");
  mp_map(&m, 1);
  mp_str(&m, "a");
  mp_arr(&m, 2);
  mp_uint(&m, 1);
  mp_str(&m, "\xe0\x80\xaf");
  expect(&m, PROTO_E_BAD_UTF8, "future", NULL);
  mp_free(&m);
}

TEST_MAIN()
