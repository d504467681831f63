/*
 * prescan.c — the defensive walk over raw msgpack bytes.
 *
 * msgpack-c trusts what a frame declares: a five-byte array32 header that
 * claims 0x0FFFFFFF elements makes it reserve gigabytes, and its depth limit
 * is a fixed 32 (LIBRARIES.md §3). So before msgpack_unpack_next() sees a
 * frame, this file walks every byte of it once, allocating nothing, and
 * refuses: a frame above the size limit; a marker msgpack does not define;
 * any str/bin/ext length or array/map count that the remaining bytes cannot
 * hold (every element takes at least one byte, every map entry two);
 * nesting deeper than the limit; bytes after the first object; a top level
 * that is not a map. What passes can be unpacked with memory linear in its
 * size. Cost: one pass, no allocation, a stack of PROTO_DEPTH_CAP counters.
 */
#include <string.h>

#include "proto_int.h"

void proto_limits_resolve(const struct proto_limits *lim,
                          struct proto_limits *out)
{
  if (lim)
    *out = *lim;
  else
    memset(out, 0, sizeof *out);
  if (!out->max_frame)
    out->max_frame = PROTO_DEFAULT_MAX_FRAME;
  if (!out->max_depth)
    out->max_depth = PROTO_DEFAULT_MAX_DEPTH;
  if (out->max_depth > PROTO_DEPTH_CAP)
    out->max_depth = PROTO_DEPTH_CAP;
  if (!out->max_body)
    out->max_body = PROTO_DEFAULT_MAX_BODY;
  if (!out->max_arena)
    out->max_arena = out->max_frame <= SIZE_MAX / 32 ? 32 * out->max_frame
                                                     : SIZE_MAX;
  if (!out->accept)
    out->accept = PROTO_FROM_CLIENT | PROTO_FROM_SERVER;
}

static uint64_t be(const uint8_t *p, unsigned n)
{
  uint64_t v = 0;

  for (unsigned i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

static int truncated(struct proto_error *err, size_t at)
{
  return proto_err_set(err, PROTO_E_MALFORMED, NULL, NULL,
                       "truncated msgpack at byte %zu", at);
}

int proto_prescan(const uint8_t *buf, size_t len,
                  const struct proto_limits *lim, struct proto_error *err)
{
  uint64_t left[PROTO_DEPTH_CAP]; /* elements still due per open container */
  unsigned depth = 0;
  size_t pos = 0;

  if (len > lim->max_frame)
    return proto_err_set(err, PROTO_E_TOO_LARGE, NULL, NULL,
                         "frame of %zu bytes exceeds the limit of %zu", len,
                         lim->max_frame);
  if (len == 0)
    return proto_err_set(err, PROTO_E_MALFORMED, NULL, NULL, "empty frame");

  for (;;) {
    size_t at = pos, avail;
    unsigned c, lenbytes = 0;
    uint64_t skip = 0, items = 0;
    bool container = false, is_map = false;

    if (pos >= len)
      return truncated(err, pos);
    c = buf[pos++];
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
      skip = 0; /* fixint, nil, bool */
    } else if (c <= 0x8f) {
      container = is_map = true;
      items = c & 0x0f;
    } else if (c <= 0x9f) {
      container = true;
      items = c & 0x0f;
    } else if (c <= 0xbf) {
      skip = c & 0x1f; /* fixstr */
    } else {
      switch (c) {
      case 0xc4: case 0xd9: lenbytes = 1; break; /* bin8, str8 */
      case 0xc5: case 0xda: lenbytes = 2; break; /* bin16, str16 */
      case 0xc6: case 0xdb: lenbytes = 4; break; /* bin32, str32 */
      case 0xc7: lenbytes = 1; skip = 1; break;  /* ext8: + type byte */
      case 0xc8: lenbytes = 2; skip = 1; break;
      case 0xc9: lenbytes = 4; skip = 1; break;
      case 0xcc: case 0xd0: skip = 1; break;
      case 0xcd: case 0xd1: skip = 2; break;
      case 0xca: case 0xce: case 0xd2: skip = 4; break;
      case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
      case 0xd4: skip = 2; break; /* fixext1: type + data */
      case 0xd5: skip = 3; break;
      case 0xd6: skip = 5; break;
      case 0xd7: skip = 9; break;
      case 0xd8: skip = 17; break;
      case 0xdc: container = true; lenbytes = 2; break;
      case 0xdd: container = true; lenbytes = 4; break;
      case 0xde: container = is_map = true; lenbytes = 2; break;
      case 0xdf: container = is_map = true; lenbytes = 4; break;
      default: /* 0xc1 is never used */
        return proto_err_set(err, PROTO_E_MALFORMED, NULL, NULL,
                             "invalid msgpack marker 0x%02x at byte %zu", c,
                             at);
      }
      if (lenbytes) {
        uint64_t n;

        if (len - pos < lenbytes)
          return truncated(err, at);
        n = be(buf + pos, lenbytes);
        pos += lenbytes;
        if (container)
          items = n;
        else
          skip += n;
      }
    }

    avail = len - pos;
    if (container) {
      uint64_t need = is_map ? 2 * items : items;

      if (need > avail)
        return proto_err_set(err, PROTO_E_MALFORMED, NULL, NULL,
                             "%s of %llu %s at byte %zu cannot fit in the "
                             "%zu bytes that remain",
                             is_map ? "map" : "array",
                             (unsigned long long)items,
                             is_map ? "entries" : "elements", at, avail);
      if (depth + 1 > lim->max_depth)
        return proto_err_set(err, PROTO_E_TOO_DEEP, NULL, NULL,
                             "nesting deeper than %u levels at byte %zu",
                             lim->max_depth, at);
      if (need) {
        left[depth++] = need;
        continue;
      }
    } else if (skip > avail) {
      return proto_err_set(err, PROTO_E_MALFORMED, NULL, NULL,
                           "length %llu at byte %zu runs past the end of "
                           "the frame (%zu bytes remain)",
                           (unsigned long long)skip, at, avail);
    } else {
      pos += (size_t)skip;
    }

    /* One object is complete: close every container it completes. */
    while (depth > 0 && --left[depth - 1] == 0)
      depth--;
    if (depth == 0)
      break;
  }

  if (pos != len)
    return proto_err_set(err, PROTO_E_TRAILING, NULL, NULL,
                         "%zu trailing bytes after the frame", len - pos);
  if (!((buf[0] >= 0x80 && buf[0] <= 0x8f) || buf[0] == 0xde ||
        buf[0] == 0xdf))
    return proto_err_set(err, PROTO_E_NOT_MAP, NULL, NULL,
                         "a frame must be a msgpack map");
  return 0;
}
