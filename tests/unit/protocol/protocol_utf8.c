/*
 * protocol_utf8.c — the strict UTF-8 check, case by case and exhaustively.
 *
 * Boundaries of every sequence length, each class of malformation with the
 * offset reported, the eight-byte ASCII fast path, and every one-, two- and
 * three-byte sequence (plus a sweep of four-byte ones) against a plain
 * reference decoder written from the definition.
 */
#include "check.h"
#include "proto_int.h"

static long chk(const char *s)
{
  return proto_utf8_check(s, strlen(s));
}

/* Offset of the first bad byte, or -1 when valid. */
static long bad_at(const char *s, size_t n)
{
  long r = proto_utf8_check(s, n);

  return r == 0 ? -1 : -(r + 1);
}

TEST(valid_boundaries)
{
  CHECK_INT(proto_utf8_check("", 0), ==, 0);
  CHECK_INT(proto_utf8_check(NULL, 0), ==, 0);
  CHECK_INT(chk("plain ascii, longer than eight bytes"), ==, 0);
  CHECK_INT(chk("\x7f"), ==, 0);                 /* U+007F */
  CHECK_INT(chk("\xc2\x80"), ==, 0);             /* U+0080 */
  CHECK_INT(chk("\xdf\xbf"), ==, 0);             /* U+07FF */
  CHECK_INT(chk("\xe0\xa0\x80"), ==, 0);         /* U+0800 */
  CHECK_INT(chk("\xed\x9f\xbf"), ==, 0);         /* U+D7FF */
  CHECK_INT(chk("\xee\x80\x80"), ==, 0);         /* U+E000 */
  CHECK_INT(chk("\xef\xbf\xbf"), ==, 0);         /* U+FFFF */
  CHECK_INT(chk("\xf0\x90\x80\x80"), ==, 0);     /* U+10000 */
  CHECK_INT(chk("\xf4\x8f\xbf\xbf"), ==, 0);     /* U+10FFFF */
  CHECK_INT(chk("中文 日本語 한국어 🎉👩‍💻"), ==, 0);
}

TEST(invalid_offsets)
{
  CHECK_INT(bad_at("a\xc0\xaf", 3), ==, 1);         /* overlong lead */
  CHECK_INT(bad_at("ab\xe0\x80\xaf", 5), ==, 3);    /* overlong 3 */
  CHECK_INT(bad_at("\xf0\x8f\xbf\xbf", 4), ==, 1);  /* overlong 4 */
  CHECK_INT(bad_at("\xed\xa0\x80", 3), ==, 1);      /* surrogate */
  CHECK_INT(bad_at("\xf4\x90\x80\x80", 4), ==, 1);  /* > U+10FFFF */
  CHECK_INT(bad_at("\xf5\x80\x80\x80", 4), ==, 0);  /* bad lead */
  CHECK_INT(bad_at("abc\x80", 4), ==, 3);           /* stray */
  CHECK_INT(bad_at("\xe4\xb8", 2), ==, 0);          /* truncated */
  CHECK_INT(bad_at("\xe4\xb8\x41", 3), ==, 2);      /* bad third */
  CHECK_INT(bad_at("ab\0c", 4), ==, 2);             /* U+0000 */
}

TEST(fast_path)
{
  char buf[64];

  /* NUL or a high byte anywhere inside an eight-byte block is found. */
  for (size_t pos = 0; pos < 24; pos++) {
    memset(buf, 'a', sizeof buf);
    buf[pos] = 0;
    CHECK_INT(bad_at(buf, 24), ==, (long)pos);
    buf[pos] = (char)0x80;
    CHECK_INT(bad_at(buf, 24), ==, (long)pos);
    buf[pos] = 0x7f;
    CHECK_INT(bad_at(buf, 24), ==, -1);
  }
  /* ASCII after a multi-byte character, unaligned. */
  memcpy(buf, "\xc3\xa9" "abcdefghijklmnop", 18);
  CHECK_INT(bad_at(buf, 18), ==, -1);
}

/* The definition: one code point, shortest form, not a surrogate, not
 * above U+10FFFF, not U+0000, using exactly n bytes. */
static bool ref_valid(const unsigned char *s, size_t n)
{
  unsigned need, cp;
  static const unsigned min[] = {0, 0x80, 0x800, 0x10000};

  if (s[0] < 0x80) {
    need = 0;
    cp = s[0];
  } else if ((s[0] & 0xe0) == 0xc0) {
    need = 1;
    cp = s[0] & 0x1f;
  } else if ((s[0] & 0xf0) == 0xe0) {
    need = 2;
    cp = s[0] & 0x0f;
  } else if ((s[0] & 0xf8) == 0xf0) {
    need = 3;
    cp = s[0] & 0x07;
  } else {
    return false;
  }
  if (n != need + 1)
    return false;
  for (unsigned i = 1; i <= need; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return false;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if (need && cp < min[need])
    return false;
  return cp != 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
}

TEST(exhaustive_short)
{
  unsigned char s[4];

  for (unsigned a = 0; a < 256; a++) {
    s[0] = (unsigned char)a;
    CHECK_INT(proto_utf8_check((char *)s, 1) == 0, ==, ref_valid(s, 1));
    for (unsigned b = 0; b < 256; b++) {
      s[1] = (unsigned char)b;
      /* Two single characters are valid iff both are. */
      if (a < 0xc0 || a >= 0xf8) {
        bool both = ref_valid(s, 1) && ref_valid(s + 1, 1);
        CHECK_INT(proto_utf8_check((char *)s, 2) == 0, ==, both);
      } else {
        CHECK_INT(proto_utf8_check((char *)s, 2) == 0, ==, ref_valid(s, 2));
      }
      if (a < 0xe0 || a > 0xf4)
        continue;
      for (unsigned c = 0; c < 256; c++) {
        s[2] = (unsigned char)c;
        if (a < 0xf0) {
          if ((proto_utf8_check((char *)s, 3) == 0) != ref_valid(s, 3))
            CHECK_FAIL("%02x %02x %02x disagrees", a, b, c);
        } else {
          s[3] = 0x80 | (unsigned char)(c & 0x3f);
          if ((proto_utf8_check((char *)s, 4) == 0) != ref_valid(s, 4))
            CHECK_FAIL("%02x %02x %02x %02x disagrees", a, b, s[2], s[3]);
        }
      }
    }
  }
}

TEST_MAIN()
