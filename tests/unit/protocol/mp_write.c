/*
 * mp_write.c — the test-only msgpack writer (see mp_write.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp_write.h"
#include "proto_samples.h"

void mp_free(struct mp *m)
{
  free(m->b);
  memset(m, 0, sizeof *m);
}

void mp_raw(struct mp *m, const void *p, size_t n)
{
  if (m->cap - m->n < n) {
    size_t cap = m->cap ? m->cap : 64;

    while (cap - m->n < n)
      cap *= 2;
    m->b = realloc(m->b, cap);
    if (!m->b) {
      fprintf(stderr, "mp_raw: out of memory\n");
      exit(1);
    }
    m->cap = cap;
  }
  if (n)
    memcpy(m->b + m->n, p, n);
  m->n += n;
}

void mp_byte(struct mp *m, uint8_t c)
{
  mp_raw(m, &c, 1);
}

static void be(struct mp *m, uint64_t v, unsigned bytes)
{
  for (unsigned i = bytes; i-- > 0;)
    mp_byte(m, (uint8_t)(v >> (8 * i)));
}

static void head(struct mp *m, uint32_t n, uint8_t fix, uint32_t fixmax,
                 uint8_t m16, uint8_t m32)
{
  if (n <= fixmax) {
    mp_byte(m, (uint8_t)(fix | n));
  } else if (n <= 0xffff) {
    mp_byte(m, m16);
    be(m, n, 2);
  } else {
    mp_byte(m, m32);
    be(m, n, 4);
  }
}

void mp_map(struct mp *m, uint32_t n) { head(m, n, 0x80, 15, 0xde, 0xdf); }
void mp_arr(struct mp *m, uint32_t n) { head(m, n, 0x90, 15, 0xdc, 0xdd); }

void mp_strn(struct mp *m, const char *s, size_t n)
{
  if (n <= 31) {
    mp_byte(m, (uint8_t)(0xa0 | n));
  } else if (n <= 0xff) {
    mp_byte(m, 0xd9);
    be(m, n, 1);
  } else if (n <= 0xffff) {
    mp_byte(m, 0xda);
    be(m, n, 2);
  } else {
    mp_byte(m, 0xdb);
    be(m, n, 4);
  }
  mp_raw(m, s, n);
}

void mp_str(struct mp *m, const char *s) { mp_strn(m, s, strlen(s)); }

void mp_bin(struct mp *m, const void *p, size_t n)
{
  if (n <= 0xff) {
    mp_byte(m, 0xc4);
    be(m, n, 1);
  } else if (n <= 0xffff) {
    mp_byte(m, 0xc5);
    be(m, n, 2);
  } else {
    mp_byte(m, 0xc6);
    be(m, n, 4);
  }
  mp_raw(m, p, n);
}

void mp_uint(struct mp *m, uint64_t v)
{
  if (v <= 0x7f) {
    mp_byte(m, (uint8_t)v);
  } else if (v <= 0xff) {
    mp_byte(m, 0xcc);
    be(m, v, 1);
  } else if (v <= 0xffff) {
    mp_byte(m, 0xcd);
    be(m, v, 2);
  } else if (v <= 0xffffffffu) {
    mp_byte(m, 0xce);
    be(m, v, 4);
  } else {
    mp_byte(m, 0xcf);
    be(m, v, 8);
  }
}

void mp_int(struct mp *m, int64_t v)
{
  if (v >= -32 && v < 0) {
    mp_byte(m, (uint8_t)(int8_t)v);
  } else {
    mp_byte(m, 0xd3);
    be(m, (uint64_t)v, 8);
  }
}

void mp_nil(struct mp *m) { mp_byte(m, 0xc0); }
void mp_bool(struct mp *m, int v) { mp_byte(m, v ? 0xc3 : 0xc2); }

void mp_f64(struct mp *m, double v)
{
  uint64_t u;

  memcpy(&u, &v, sizeof u);
  mp_byte(m, 0xcb);
  be(m, u, 8);
}

void mp_append(struct mp *m, const struct mp *src)
{
  mp_raw(m, src->b, src->n);
}

static uint64_t rd(const uint8_t *p, unsigned n)
{
  uint64_t v = 0;

  for (unsigned i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

size_t mp_skip(const uint8_t *p)
{
  uint8_t c = p[0];
  uint64_t items = 0, hdr = 1, body = 0;

  if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
    return 1;
  if (c <= 0x8f)
    items = 2u * (c & 0x0f);
  else if (c <= 0x9f)
    items = c & 0x0f;
  else if (c <= 0xbf)
    body = c & 0x1f;
  else
    switch (c) {
    case 0xc4: case 0xd9: hdr = 2; body = rd(p + 1, 1); break;
    case 0xc5: case 0xda: hdr = 3; body = rd(p + 1, 2); break;
    case 0xc6: case 0xdb: hdr = 5; body = rd(p + 1, 4); break;
    case 0xcc: case 0xd0: body = 1; break;
    case 0xcd: case 0xd1: body = 2; break;
    case 0xca: case 0xce: case 0xd2: body = 4; break;
    case 0xcb: case 0xcf: case 0xd3: body = 8; break;
    case 0xdc: hdr = 3; items = rd(p + 1, 2); break;
    case 0xdd: hdr = 5; items = rd(p + 1, 4); break;
    case 0xde: hdr = 3; items = 2 * rd(p + 1, 2); break;
    case 0xdf: hdr = 5; items = 2 * rd(p + 1, 4); break;
    default:
      fprintf(stderr, "mp_skip: marker 0x%02x not supported\n", c);
      exit(1);
    }
  {
    size_t len = (size_t)(hdr + body);

    for (uint64_t i = 0; i < items; i++)
      len += mp_skip(p + len);
    return len;
  }
}

void mp_sample_patch(struct mp *out, enum proto_type t, const char *key,
                     const struct mp *val, unsigned extra)
{
  struct proto_frame f;
  struct proto_buf b;
  const uint8_t *p;
  size_t n, kept = 0, pos, klen = strlen(key);
  struct mp body = {0};

  sample_frame(t, &f);
  proto_buf_init(&b);
  if (proto_encode(&f, 0, &b) != 0) {
    fprintf(stderr, "mp_sample_patch: sample %d does not encode\n", t);
    exit(1);
  }
  p = b.data;
  if (p[0] >= 0x80 && p[0] <= 0x8f) {
    n = p[0] & 0x0f;
    pos = 1;
  } else {
    n = (size_t)rd(p + 1, 2);
    pos = 3;
  }
  for (size_t i = 0; i < n; i++) {
    size_t kl = mp_skip(p + pos), vl = mp_skip(p + pos + kl);
    size_t hl = p[pos] >= 0xa0 && p[pos] <= 0xbf ? 1 : 2;
    bool match = kl - hl == klen && memcmp(p + pos + hl, key, klen) == 0;

    if (!match) {
      mp_raw(&body, p + pos, kl + vl);
      kept++;
    }
    pos += kl + vl;
  }
  if (val) {
    mp_str(&body, key);
    mp_append(&body, val);
    kept++;
  }
  mp_map(out, (uint32_t)(kept + extra));
  mp_append(out, &body);
  mp_free(&body);
  proto_buf_cleanup(&b);
}
