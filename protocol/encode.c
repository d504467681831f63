/*
 * encode.c — struct proto_frame to one msgpack map, with headroom.
 *
 * Walks the same field table as the decoder, writing the envelope (`t`,
 * then `id` when not 0) and then the fields in table order, omitting
 * optional fields that are absent (0, false, NULL, empty array). The
 * output is canonical for a given frame: encoding a decoded frame again
 * gives the same bytes. msgpack-c's packer writes straight into the
 * caller's struct proto_buf, after `headroom` zero bytes kept for the
 * transport (LWS_PRE for libwebsockets), so the frame is never copied.
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

static int buf_write(void *data, const char *p, size_t n)
{
  struct proto_buf *b = data;

  if (n > b->cap - b->len) {
    size_t cap = b->cap ? b->cap : 256;
    uint8_t *d;

    while (cap - b->len < n) {
      if (cap > SIZE_MAX / 2)
        return -1;
      cap *= 2;
    }
    d = realloc(b->data, cap);
    if (!d)
      return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

static bool present(const struct proto_field *fd, const char *base)
{
  const char *src = base + fd->off;

  if (fd->flags & PF_REQ)
    return true;
  switch ((enum pf_kind)fd->kind) {
  case PF_UINT: {
    uint64_t v;
    memcpy(&v, src, sizeof v);
    return v != 0;
  }
  case PF_BOOL:
    return *(const bool *)src;
  case PF_STR:
  case PF_BIN:
    return ((const struct proto_str *)src)->p != NULL;
  case PF_ENUM: {
    int v;
    memcpy(&v, src, sizeof v);
    return v != 0;
  }
  case PF_UINTS:
  case PF_LIST: {
    size_t n;
    memcpy(&n, base + fd->off_n, sizeof n);
    return n != 0;
  }
  case PF_OBJ:
    return true;
  }
  return false;
}

static int pack_key(msgpack_packer *pk, const char *name)
{
  return msgpack_pack_str_with_body(pk, name, strlen(name));
}

static int pack_map(msgpack_packer *pk, const struct proto_schema *s,
                    const char *base);

static int pack_value(msgpack_packer *pk, const struct proto_field *fd,
                      const char *base)
{
  const char *src = base + fd->off;

  switch ((enum pf_kind)fd->kind) {
  case PF_UINT: {
    uint64_t v;
    memcpy(&v, src, sizeof v);
    return msgpack_pack_uint64(pk, v);
  }
  case PF_BOOL:
    return *(const bool *)src ? msgpack_pack_true(pk)
                              : msgpack_pack_false(pk);
  case PF_STR:
  case PF_BIN: {
    struct proto_str s;
    memcpy(&s, src, sizeof s);
    if (!s.p)
      s.p = "";
    return fd->kind == PF_STR ? msgpack_pack_str_with_body(pk, s.p, s.len)
                              : msgpack_pack_bin_with_body(pk, s.p, s.len);
  }
  case PF_ENUM: {
    const char *const *names = fd->ref;
    int v;
    memcpy(&v, src, sizeof v);
    return msgpack_pack_str_with_body(pk, names[v], strlen(names[v]));
  }
  case PF_UINTS:
  case PF_LIST: {
    const struct proto_schema *item = fd->kind == PF_LIST ? fd->ref : NULL;
    size_t size = item ? item->size : sizeof(uint64_t);
    const char *items;
    size_t n;
    int rc;

    memcpy(&items, src, sizeof items);
    memcpy(&n, base + fd->off_n, sizeof n);
    if ((rc = msgpack_pack_array(pk, n)))
      return rc;
    for (size_t i = 0; i < n && !rc; i++) {
      if (item) {
        rc = pack_map(pk, item, items + i * size);
      } else {
        uint64_t v;
        memcpy(&v, items + i * size, sizeof v);
        rc = msgpack_pack_uint64(pk, v);
      }
    }
    return rc;
  }
  case PF_OBJ:
    return pack_map(pk, fd->ref, src);
  }
  return -1;
}

static int pack_fields(msgpack_packer *pk, const struct proto_schema *s,
                       const char *base)
{
  int rc = 0;

  for (size_t j = 0; j < s->nfields && !rc; j++)
    if (present(&s->fields[j], base)) {
      rc = pack_key(pk, s->fields[j].name);
      if (!rc)
        rc = pack_value(pk, &s->fields[j], base);
    }
  return rc;
}

static size_t count_present(const struct proto_schema *s, const char *base)
{
  size_t n = 0;

  for (size_t j = 0; j < s->nfields; j++)
    n += present(&s->fields[j], base);
  return n;
}

static int pack_map(msgpack_packer *pk, const struct proto_schema *s,
                    const char *base)
{
  int rc = msgpack_pack_map(pk, count_present(s, base));

  return rc ? rc : pack_fields(pk, s, base);
}

int proto_encode(const struct proto_frame *f, size_t headroom,
                 struct proto_buf *out)
{
  static const char zeros[64];
  const struct proto_schema *s;
  const char *base = (const char *)&f->u;
  const char *name;
  msgpack_packer pk;
  int rc;

  out->len = 0;
  out->headroom = 0;
  if ((rc = proto_validate(f, NULL)))
    return rc;
  s = proto_types[f->type].schema;
  name = proto_types[f->type].name;

  for (size_t left = headroom; left && !rc;) {
    size_t n = left < sizeof zeros ? left : sizeof zeros;

    rc = buf_write(out, zeros, n);
    left -= n;
  }
  msgpack_packer_init(&pk, out, buf_write);
  if (!rc)
    rc = msgpack_pack_map(&pk, 1 + (f->id != 0) + count_present(s, base));
  if (!rc)
    rc = pack_key(&pk, "t");
  if (!rc)
    rc = msgpack_pack_str_with_body(&pk, name, strlen(name));
  if (!rc && f->id) {
    rc = pack_key(&pk, "id");
    if (!rc)
      rc = msgpack_pack_uint64(&pk, f->id);
  }
  if (!rc)
    rc = pack_fields(&pk, s, base);
  if (rc) {
    /* The packer fails only when buf_write could not grow the buffer. */
    out->len = 0;
    return PROTO_E_NOMEM;
  }
  out->headroom = headroom;
  return 0;
}
