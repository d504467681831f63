/*
 * decode.c — bytes to struct proto_frame, refusing anything off-schema.
 *
 * Runs the pre-scan (prescan.c), lets msgpack-c build its object tree from
 * bytes known to be safe, then walks the frame's field table: keys must be
 * strings, valid UTF-8 and unique; known fields get their wire type, range,
 * length and UTF-8 checked and are copied into the C struct (strings
 * borrowed from the input, arrays copied into the frame's arena); unknown
 * fields are skipped after their strings are checked; required fields must
 * be present; then the frame's cross-field rule runs. The first fault wins
 * and is reported with the path of the field.
 */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

struct dctx {
  struct proto_limits lim;
  struct proto_frame *f;
  struct proto_error *err;
  char path[PROTO_ERR_FIELD_MAX];
};

#define BIT_T 62 /* seen-bits of the envelope keys in the top map */
#define BIT_ID 63
_Static_assert(PROTO_ERR_FIELD_MAX >= 48, "path buffer");

static const char *got(const msgpack_object *o)
{
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: return "nil";
  case MSGPACK_OBJECT_BOOLEAN: return "bool";
  case MSGPACK_OBJECT_POSITIVE_INTEGER: return "uint";
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "negative int";
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: return "float";
  case MSGPACK_OBJECT_STR: return "str";
  case MSGPACK_OBJECT_ARRAY: return "array";
  case MSGPACK_OBJECT_MAP: return "map";
  case MSGPACK_OBJECT_BIN: return "bin";
  case MSGPACK_OBJECT_EXT: return "ext";
  }
  return "?";
}

static int type_err(struct dctx *c, const char *name, const char *want,
                    const msgpack_object *o)
{
  return proto_err_set(c->err, PROTO_E_WRONG_TYPE, c->path, name,
                       "expected %s, got %s", want, got(o));
}

/* Copies at most 32 bytes of an untrusted string for a message, keeping
 * letters, digits, '_' and '-' and replacing the rest, so that neither
 * control characters nor markup reach logs or screens. */
static void sanitize(char *dst, size_t cap, const char *s, size_t n)
{
  size_t i, k = 0;

  for (i = 0; i < n && k + 4 < cap && i < 32; i++) {
    char ch = s[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    dst[k++] = ok ? ch : '?';
  }
  if (i < n && k + 3 < cap) {
    memcpy(dst + k, "...", 3);
    k += 3;
  }
  dst[k] = 0;
}

static int utf8_err(struct dctx *c, const char *name, const char *p,
                    size_t n, const char *what)
{
  long r = proto_utf8_check(p, n);
  size_t at;

  if (r == 0)
    return 0;
  at = (size_t)(-(r + 1));
  if (p[at] == 0)
    return proto_err_set(c->err, PROTO_E_BAD_UTF8, c->path, name,
                         "%sU+0000 is not allowed (byte %zu)", what, at);
  return proto_err_set(c->err, PROTO_E_BAD_UTF8, c->path, name,
                       "%sinvalid UTF-8 at byte %zu", what, at);
}

static int get_uint(struct dctx *c, const char *name, const msgpack_object *o,
                    bool zero_ok, uint64_t lo, uint64_t hi, void *dst)
{
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
    uint64_t v = o->via.u64;

    if ((v == 0 && zero_ok) || (v >= lo && v <= hi)) {
      memcpy(dst, &v, sizeof v);
      return 0;
    }
    return proto_err_set(c->err, PROTO_E_RANGE, c->path, name,
                         "value %llu out of range %llu..%llu",
                         (unsigned long long)v, (unsigned long long)lo,
                         (unsigned long long)hi);
  }
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    return proto_err_set(c->err, PROTO_E_RANGE, c->path, name,
                         "value %lld out of range %llu..%llu",
                         (long long)o->via.i64, (unsigned long long)lo,
                         (unsigned long long)hi);
  return type_err(c, name, "uint", o);
}

static int get_str(struct dctx *c, const struct proto_field *fd,
                   const msgpack_object *o, void *dst)
{
  bool bin = fd->kind == PF_BIN;
  uint64_t max = proto_field_max(fd, &c->lim);
  struct proto_str s;
  int rc;

  if (o->type != (bin ? MSGPACK_OBJECT_BIN : MSGPACK_OBJECT_STR))
    return type_err(c, fd->name, bin ? "bin" : "str", o);
  s.p = bin ? o->via.bin.ptr : o->via.str.ptr;
  s.len = bin ? o->via.bin.size : o->via.str.size;
  if (s.len > max || s.len < fd->min) {
    int code = s.len > max ? PROTO_E_TOO_LONG : PROTO_E_RANGE;

    if (fd->min == max)
      return proto_err_set(c->err, code, c->path, fd->name,
                           "%zu bytes, expected exactly %llu", s.len,
                           (unsigned long long)max);
    if (s.len > max)
      return proto_err_set(c->err, code, c->path, fd->name,
                           "%zu bytes, at most %llu allowed", s.len,
                           (unsigned long long)max);
    return proto_err_set(c->err, code, c->path, fd->name,
                         s.len ? "%zu bytes, at least %llu needed"
                               : "must not be empty (%zu bytes, at least "
                                 "%llu needed)",
                         s.len, (unsigned long long)fd->min);
  }
  if (!bin && (rc = utf8_err(c, fd->name, s.p, s.len, "")))
    return rc;
  if (!s.p)
    s.p = "";
  memcpy(dst, &s, sizeof s);
  return 0;
}

static int get_enum(struct dctx *c, const struct proto_field *fd,
                    const msgpack_object *o, void *dst)
{
  const char *const *names = fd->ref;
  char shown[48], expect[96];
  size_t k = 0;
  int v, rc;

  if (o->type != MSGPACK_OBJECT_STR)
    return type_err(c, fd->name, "str", o);
  if ((rc = utf8_err(c, fd->name, o->via.str.ptr, o->via.str.size, "")))
    return rc;
  v = proto_enum_lookup(names, o->via.str.ptr, o->via.str.size);
  if (v) {
    memcpy(dst, &v, sizeof v);
    return 0;
  }
  expect[0] = 0;
  for (int i = 1; names[i] && k + 1 < sizeof expect; i++)
    k += (size_t)snprintf(expect + k, sizeof expect - k, "%s%s",
                          i > 1 ? ", " : "", names[i]);
  sanitize(shown, sizeof shown, o->via.str.ptr, o->via.str.size);
  return proto_err_set(c->err, PROTO_E_BAD_VALUE, c->path, fd->name,
                       "unknown value \"%s\", expected one of: %s", shown,
                       expect);
}

static int decode_map(struct dctx *c, const struct proto_schema *s,
                      const msgpack_object *o, char *base, bool top);

/* An array field: checks the count, takes arena memory for the items and
 * decodes each with the item's path ("to[3]", "cur[2].conv"). */
static int get_array(struct dctx *c, const struct proto_field *fd,
                     const msgpack_object *o, char *base)
{
  const struct proto_schema *item = fd->kind == PF_LIST ? fd->ref : NULL;
  size_t n, size = item ? item->size : sizeof(uint64_t);
  void *mem = NULL;
  size_t old;
  int rc = 0;

  if (o->type != MSGPACK_OBJECT_ARRAY)
    return type_err(c, fd->name, "array", o);
  n = o->via.array.size;
  if (n > fd->max_n)
    return proto_err_set(c->err, PROTO_E_TOO_MANY, c->path, fd->name,
                         "%zu items, at most %u allowed", n, fd->max_n);
  if (n && (rc = proto_arena_alloc(c->f, n * size, c->lim.max_arena, &mem)))
    return proto_err_set(c->err, rc, c->path, fd->name,
                         rc == PROTO_E_NOMEM
                             ? "out of memory for %zu items"
                             : "%zu items pass the frame's memory limit",
                         n);
  old = proto_path_push(c->path, fd->name);
  for (size_t i = 0; i < n && !rc; i++) {
    const msgpack_object *e = &o->via.array.ptr[i];
    char *dst = (char *)mem + i * size;
    size_t at = proto_path_push_index(c->path, i);

    if (!item)
      rc = get_uint(c, NULL, e, false, fd->min, fd->max, dst);
    else if (e->type != MSGPACK_OBJECT_MAP)
      rc = type_err(c, NULL, "map", e);
    else
      rc = decode_map(c, item, e, dst, false);
    c->path[at] = 0;
  }
  c->path[old] = 0;
  if (rc)
    return rc;
  memcpy(base + fd->off, &mem, sizeof mem);
  memcpy(base + fd->off_n, &n, sizeof n);
  return 0;
}

static int decode_value(struct dctx *c, const struct proto_field *fd,
                        const msgpack_object *o, char *base)
{
  bool req = fd->flags & PF_REQ;
  char *dst = base + fd->off;

  if (o->type == MSGPACK_OBJECT_NIL && !req)
    return 0; /* nil is the same as absent for optional fields */
  switch ((enum pf_kind)fd->kind) {
  case PF_UINT:
    return get_uint(c, fd->name, o, !req, fd->min, fd->max, dst);
  case PF_BOOL:
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
      return type_err(c, fd->name, "bool", o);
    *(bool *)dst = o->via.boolean;
    return 0;
  case PF_STR:
  case PF_BIN:
    return get_str(c, fd, o, dst);
  case PF_ENUM:
    return get_enum(c, fd, o, dst);
  case PF_UINTS:
  case PF_LIST:
    return get_array(c, fd, o, base);
  case PF_OBJ: {
    size_t old;
    int rc;

    if (o->type != MSGPACK_OBJECT_MAP)
      return type_err(c, fd->name, "map", o);
    old = proto_path_push(c->path, fd->name);
    rc = decode_map(c, fd->ref, o, dst, false);
    c->path[old] = 0;
    return rc;
  }
  }
  return proto_err_set(c->err, PROTO_E_INTERNAL, c->path, fd->name,
                       "bad schema");
}

/* The value of an ignored field: only its strings are checked. Depth is
 * bounded by the pre-scan. */
static int skim(struct dctx *c, const char *name, const msgpack_object *o)
{
  int rc = 0;

  switch (o->type) {
  case MSGPACK_OBJECT_STR:
    return utf8_err(c, name, o->via.str.ptr, o->via.str.size, "");
  case MSGPACK_OBJECT_ARRAY:
    for (uint32_t i = 0; i < o->via.array.size && !rc; i++)
      rc = skim(c, name, &o->via.array.ptr[i]);
    return rc;
  case MSGPACK_OBJECT_MAP:
    for (uint32_t i = 0; i < o->via.map.size && !rc; i++) {
      rc = skim(c, name, &o->via.map.ptr[i].key);
      if (!rc)
        rc = skim(c, name, &o->via.map.ptr[i].val);
    }
    return rc;
  default:
    return 0;
  }
}

static int cmp_str(const void *a, const void *b)
{
  const struct proto_str *x = a, *y = b;
  int r = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);

  if (r)
    return r;
  return x->len < y->len ? -1 : x->len > y->len;
}

/* Unknown keys may be many (a frame can carry thousands): sort them once to
 * find duplicates instead of comparing every pair. */
static int unknown_dups(struct dctx *c, struct proto_str *keys, size_t n)
{
  char shown[48];

  if (n < 2)
    return 0;
  qsort(keys, n, sizeof *keys, cmp_str);
  for (size_t i = 1; i < n; i++)
    if (cmp_str(&keys[i - 1], &keys[i]) == 0) {
      sanitize(shown, sizeof shown, keys[i].p, keys[i].len);
      return proto_err_set(c->err, PROTO_E_DUP_KEY, c->path, NULL,
                           "key \"%s\" appears twice", shown);
    }
  return 0;
}

static int decode_map(struct dctx *c, const struct proto_schema *s,
                      const msgpack_object *o, char *base, bool top)
{
  const msgpack_object_map *m = &o->via.map;
  struct proto_str small[16], *unk = small;
  size_t nunk = 0;
  uint64_t seen = 0;
  int rc = 0;

  for (uint32_t i = 0; i < m->size && !rc; i++) {
    const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
    const struct proto_field *fd = NULL;
    const char *kp;
    size_t kn;
    int bit = -1;
    char what[32];

    if (k->type != MSGPACK_OBJECT_STR) {
      rc = proto_err_set(c->err, PROTO_E_WRONG_TYPE, c->path, NULL,
                         "map key %u: expected str, got %s", i, got(k));
      break;
    }
    kp = k->via.str.ptr;
    kn = k->via.str.size;
    snprintf(what, sizeof what, "map key %u: ", i);
    if ((rc = utf8_err(c, NULL, kp, kn, what)))
      break;
    if (top && kn == 1 && kp[0] == 't') {
      bit = BIT_T; /* checked by decode_top() */
    } else if (top && kn == 2 && memcmp(kp, "id", 2) == 0) {
      bit = BIT_ID;
      if (v->type != MSGPACK_OBJECT_NIL)
        rc = get_uint(c, "id", v, true, 0, UINT64_MAX, &c->f->id);
    } else {
      for (size_t j = 0; j < s->nfields; j++)
        if (strlen(s->fields[j].name) == kn &&
            memcmp(s->fields[j].name, kp, kn) == 0) {
          fd = &s->fields[j];
          bit = (int)j;
          break;
        }
    }
    if (bit >= 0) {
      if (seen & (1ull << bit)) {
        rc = proto_err_set(c->err, PROTO_E_DUP_KEY, c->path,
                           bit == BIT_T ? "t" : bit == BIT_ID ? "id"
                                                                : fd->name,
                           "key appears twice");
        break;
      }
      seen |= 1ull << bit;
      if (fd)
        rc = decode_value(c, fd, v, base);
      continue;
    }

    /* Unknown: ignored for forward compatibility, but still checked. */
    if (nunk == sizeof small / sizeof small[0]) {
      struct proto_str *big = malloc(m->size * sizeof *big);

      if (!big) {
        rc = proto_err_set(c->err, PROTO_E_NOMEM, c->path, NULL,
                           "out of memory");
        break;
      }
      memcpy(big, small, sizeof small);
      unk = big;
    }
    unk[nunk].p = kp;
    unk[nunk++].len = kn;
    sanitize(what, sizeof what, kp, kn);
    rc = skim(c, what, v);
  }
  if (!rc)
    rc = unknown_dups(c, unk, nunk);
  if (unk != small)
    free(unk);
  for (size_t j = 0; j < s->nfields && !rc; j++)
    if ((s->fields[j].flags & PF_REQ) && !(seen & (1ull << j)))
      rc = proto_err_set(c->err, PROTO_E_MISSING, c->path, s->fields[j].name,
                         "required field is missing");
  if (!rc)
    rc = proto_check_obj(s, base, c->path, c->err);
  return rc;
}

static int decode_top(struct dctx *c, const msgpack_object *o)
{
  const msgpack_object_map *m = &o->via.map;
  const msgpack_object *t = NULL;
  const struct proto_type_info *ti;
  enum proto_type type;
  char shown[48];
  int rc;

  /* Find the type, and the id early so that even a frame refused below
   * can be answered with its id. */
  for (uint32_t i = 0; i < m->size; i++) {
    const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;

    if (k->type != MSGPACK_OBJECT_STR)
      continue;
    if (!t && k->via.str.size == 1 && k->via.str.ptr[0] == 't')
      t = v;
    else if (!c->f->id && k->via.str.size == 2 &&
             memcmp(k->via.str.ptr, "id", 2) == 0 &&
             v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
      c->f->id = v->via.u64;
  }
  if (!t)
    return proto_err_set(c->err, PROTO_E_MISSING, NULL, "t",
                         "every frame needs its type");
  if (t->type != MSGPACK_OBJECT_STR)
    return type_err(c, "t", "str", t);
  if ((rc = utf8_err(c, "t", t->via.str.ptr, t->via.str.size, "")))
    return rc;
  type = proto_type_from_name(t->via.str.ptr, t->via.str.size);
  if (type == PROTO_T_NONE) {
    sanitize(shown, sizeof shown, t->via.str.ptr, t->via.str.size);
    return proto_err_set(c->err, PROTO_E_UNKNOWN_TYPE, NULL, "t",
                         "unknown frame type \"%s\"", shown);
  }
  c->f->type = type;
  ti = &proto_types[type];
  if (!(ti->sender & c->lim.accept))
    return proto_err_set(c->err, PROTO_E_UNEXPECTED, NULL, "t",
                         "`%s` is sent by %s, not accepted here", ti->name,
                         ti->sender == PROTO_FROM_SERVER ? "the server"
                                                         : "clients");
  return decode_map(c, ti->schema, o, (char *)&c->f->u, true);
}

/* Decodes into `out`, whose arena may already hold memory (see
 * proto_frame_copy); everything else of `out` is overwritten. */
static int decode_into(const uint8_t *buf, size_t len,
                       const struct proto_limits *lim,
                       struct proto_frame *out, struct proto_error *err)
{
  struct dctx c;
  msgpack_unpacked u;
  msgpack_unpack_return ur;
  size_t off = 0;
  int rc;

  memset(&c, 0, sizeof c);
  proto_limits_resolve(lim, &c.lim);
  c.f = out;
  c.err = err;
  out->type = PROTO_T_NONE;
  out->id = 0;
  memset(&out->u, 0, sizeof out->u);
  if (err) {
    err->code = 0;
    err->field[0] = err->msg[0] = 0;
  }
  if ((rc = proto_prescan(buf, len, &c.lim, err)))
    return rc;

  msgpack_unpacked_init(&u);
  ur = msgpack_unpack_next(&u, (const char *)buf, len, &off);
  if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
    rc = proto_err_set(err, PROTO_E_NOMEM, NULL, NULL, "out of memory");
  else if (ur != MSGPACK_UNPACK_SUCCESS || off != len ||
           u.data.type != MSGPACK_OBJECT_MAP)
    /* The pre-scan should have caught this; refuse rather than trust. */
    rc = proto_err_set(err, PROTO_E_MALFORMED, NULL, NULL,
                       "msgpack could not decode the frame (%d)", (int)ur);
  else
    rc = decode_top(&c, &u.data);
  msgpack_unpacked_destroy(&u);
  return rc;
}

int proto_decode(const uint8_t *buf, size_t len,
                 const struct proto_limits *lim, struct proto_frame *out,
                 struct proto_error *err)
{
  int rc;

  memset(out, 0, sizeof *out);
  rc = decode_into(buf, len, lim, out, err);
  if (rc) {
    enum proto_type t = out->type;
    uint64_t id = out->id;

    proto_frame_cleanup(out);
    out->type = t;
    out->id = id;
  }
  return rc;
}

int proto_frame_copy(struct proto_frame *dst, const struct proto_frame *src)
{
  struct proto_limits lim = {0};
  struct proto_buf b;
  void *copy;
  int rc;

  proto_frame_init(dst, PROTO_T_NONE);
  proto_buf_init(&b);
  if ((rc = proto_encode(src, 0, &b)))
    goto out;
  /* The bytes move into dst's arena so that its strings can borrow them
   * for as long as dst lives. */
  if ((rc = proto_arena_alloc(dst, b.len ? b.len : 1, SIZE_MAX, &copy)))
    goto out;
  memcpy(copy, b.data, b.len);
  lim.max_frame = b.len;
  lim.max_depth = PROTO_DEPTH_CAP;
  lim.max_body = b.len;
  lim.max_arena = SIZE_MAX;
  rc = decode_into(copy, b.len, &lim, dst, NULL);
out:
  proto_buf_cleanup(&b);
  if (rc)
    proto_frame_cleanup(dst);
  return rc;
}
