/*
 * utf8.c — the strict UTF-8 check every string on the wire passes.
 *
 * Well-formed UTF-8 as RFC 3629 and Unicode table 3-7 define it: no
 * overlong forms, no UTF-16 surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF, no stray or missing continuation bytes. Herald also refuses
 * U+0000, because PostgreSQL text cannot hold it and C code downstream
 * would cut the string there. Message bodies go through this function on
 * every send, so ASCII runs are checked eight bytes at a time.
 */
#include <string.h>

#include "proto_int.h"

static long bad_at(size_t i)
{
  return -(long)i - 1;
}

long proto_utf8_check(const char *str, size_t len)
{
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;

  while (i < len) {
    unsigned c = s[i];

    /* Fast path: eight ASCII bytes with no NUL among them. */
    if (c < 0x80 && len - i >= 8) {
      uint64_t w;

      memcpy(&w, s + i, 8);
      if (!(w & 0x8080808080808080ull) &&
          !((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull)) {
        i += 8;
        continue;
      }
    }
    if (c == 0)
      return bad_at(i);
    if (c < 0x80) {
      i++;
      continue;
    }
    /* Lead byte: the number of continuation bytes and the allowed range of
     * the first one, which is where overlongs, surrogates and values past
     * U+10FFFF are caught (Unicode table 3-7). */
    unsigned need, lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c == 0xe0)
        lo = 0xa0; /* overlong below U+0800 */
      else if (c == 0xed)
        hi = 0x9f; /* surrogates U+D800..U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c == 0xf0)
        lo = 0x90; /* overlong below U+10000 */
      else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    } else {
      return bad_at(i); /* continuation byte, C0/C1 overlong, F5..FF */
    }
    if (len - i <= need)
      return bad_at(i); /* truncated sequence */
    if (s[i + 1] < lo || s[i + 1] > hi)
      return bad_at(i + 1);
    for (unsigned k = 2; k <= need; k++)
      if ((s[i + k] & 0xc0) != 0x80)
        return bad_at(i + k);
    i += need + 1;
  }
  return 0;
}

bool proto_utf8_valid(const char *s, size_t len)
{
  return proto_utf8_check(s, len) == 0;
}
