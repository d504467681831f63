/*
 * validate.c — checks a frame built in C against its schema.
 *
 * The encoder runs this before writing a byte, so that Herald never sends a
 * frame its own decoder (or a client's) would refuse: required fields
 * present, integers in range, lengths and counts within bounds, enum values
 * known, strings strict UTF-8, arrays with a pointer when they have items,
 * and the same cross-field rules the decoder applies. Body and JSON fields
 * are bounded only by what msgpack can carry (2^32-1 bytes), because their
 * configured limit belongs to the receiving side.
 */
#include <string.h>

#include "proto_int.h"

static int check_str(const struct proto_field *fd, const struct proto_str *s,
                     const char *path, struct proto_error *err)
{
  uint64_t max = proto_field_max(fd, NULL);
  long r;

  if (!s->p) {
    if (s->len)
      return proto_err_set(err, PROTO_E_BAD_VALUE, path, fd->name,
                           "NULL pointer with length %zu", s->len);
    if (fd->flags & PF_REQ)
      return proto_err_set(err, PROTO_E_MISSING, path, fd->name,
                           "required field is missing");
    return 0;
  }
  if (s->len > max)
    return proto_err_set(err, PROTO_E_TOO_LONG, path, fd->name,
                         "%zu bytes, at most %llu allowed", s->len,
                         (unsigned long long)max);
  if (s->len < fd->min)
    return proto_err_set(err, PROTO_E_RANGE, path, fd->name,
                         "%zu bytes, at least %llu needed", s->len,
                         (unsigned long long)fd->min);
  if (fd->kind == PF_STR && (r = proto_utf8_check(s->p, s->len)))
    return proto_err_set(err, PROTO_E_BAD_UTF8, path, fd->name,
                         "invalid UTF-8 or U+0000 at byte %ld", -(r + 1));
  return 0;
}

static int check_uint(uint64_t v, bool zero_ok, uint64_t lo, uint64_t hi,
                      const char *path, const char *name,
                      struct proto_error *err)
{
  if ((v == 0 && zero_ok) || (v >= lo && v <= hi))
    return 0;
  return proto_err_set(err, PROTO_E_RANGE, path, name,
                       "value %llu out of range %llu..%llu",
                       (unsigned long long)v, (unsigned long long)lo,
                       (unsigned long long)hi);
}

static int check_array(const struct proto_field *fd, const char *base,
                       char *path, struct proto_error *err)
{
  const struct proto_schema *item = fd->kind == PF_LIST ? fd->ref : NULL;
  size_t size = item ? item->size : sizeof(uint64_t);
  const char *items;
  size_t n, old;
  int rc = 0;

  memcpy(&items, base + fd->off, sizeof items);
  memcpy(&n, base + fd->off_n, sizeof n);
  if (n > fd->max_n)
    return proto_err_set(err, PROTO_E_TOO_MANY, path, fd->name,
                         "%zu items, at most %u allowed", n, fd->max_n);
  if (n && !items)
    return proto_err_set(err, PROTO_E_BAD_VALUE, path, fd->name,
                         "NULL array with %zu items", n);
  old = proto_path_push(path, fd->name);
  for (size_t i = 0; i < n && !rc; i++) {
    size_t at = proto_path_push_index(path, i);

    if (item) {
      rc = proto_validate_obj(item, items + i * size, path, err);
    } else {
      uint64_t v;

      memcpy(&v, items + i * size, sizeof v);
      rc = check_uint(v, false, fd->min, fd->max, path, NULL, err);
    }
    path[at] = 0;
  }
  path[old] = 0;
  return rc;
}

int proto_validate_obj(const struct proto_schema *s, const void *obj,
                       char *path, struct proto_error *err)
{
  const char *base = obj;
  int rc = 0;

  for (size_t j = 0; j < s->nfields && !rc; j++) {
    const struct proto_field *fd = &s->fields[j];
    const char *src = base + fd->off;
    bool req = fd->flags & PF_REQ;

    switch ((enum pf_kind)fd->kind) {
    case PF_UINT: {
      uint64_t v;

      memcpy(&v, src, sizeof v);
      rc = check_uint(v, !req, fd->min, fd->max, path, fd->name, err);
      break;
    }
    case PF_BOOL:
      break;
    case PF_STR:
    case PF_BIN: {
      struct proto_str str;

      memcpy(&str, src, sizeof str);
      rc = check_str(fd, &str, path, err);
      break;
    }
    case PF_ENUM: {
      const char *const *names = fd->ref;
      int v, count = 1;

      memcpy(&v, src, sizeof v);
      while (names[count])
        count++;
      if (v == 0 && req)
        rc = proto_err_set(err, PROTO_E_MISSING, path, fd->name,
                           "required field is missing");
      else if (v < 0 || v >= count)
        rc = proto_err_set(err, PROTO_E_BAD_VALUE, path, fd->name,
                           "enum value %d out of range", v);
      break;
    }
    case PF_UINTS:
    case PF_LIST:
      rc = check_array(fd, base, path, err);
      break;
    case PF_OBJ: {
      size_t old = proto_path_push(path, fd->name);

      rc = proto_validate_obj(fd->ref, src, path, err);
      path[old] = 0;
      break;
    }
    }
  }
  if (!rc)
    rc = proto_check_obj(s, obj, path, err);
  return rc;
}

int proto_validate(const struct proto_frame *f, struct proto_error *err)
{
  char path[PROTO_ERR_FIELD_MAX] = "";

  if (err) {
    err->code = 0;
    err->field[0] = err->msg[0] = 0;
  }
  if (!f || f->type <= PROTO_T_NONE || f->type >= PROTO_T_COUNT_)
    return proto_err_set(err, PROTO_E_UNKNOWN_TYPE, NULL, "t",
                         "unknown frame type %d", f ? (int)f->type : -1);
  return proto_validate_obj(proto_types[f->type].schema, &f->u, path, err);
}
