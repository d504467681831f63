/*
 * proto_int.h — the protocol module's private interface.
 *
 * The field-schema table that decode, encode, validation messages, the
 * documentation test and the round-trip tests all read; the per-frame arena;
 * the UTF-8 validator and the raw-byte pre-scan. Nothing here includes
 * msgpack.h: only decode.c and encode.c do.
 */
#ifndef HERALD_PROTO_INT_H
#define HERALD_PROTO_INT_H

#include <stdarg.h>
#include <stddef.h>

#include "proto.h"

/* ------------------------------------------------------------------ */
/* Schema                                                              */

enum pf_kind {
  PF_UINT,   /* uint64_t; [min, max] */
  PF_BOOL,   /* bool */
  PF_STR,    /* struct proto_str, UTF-8; length in [min, max] bytes */
  PF_BIN,    /* struct proto_str, raw; length in [min, max] bytes */
  PF_ENUM,   /* enum stored as int; wire is one of the names in `ref` */
  PF_UINTS,  /* const uint64_t * + size_t n; each in [min, max] */
  PF_LIST,   /* const T * + size_t n; items are maps of schema `ref` */
  PF_OBJ,    /* an embedded struct, a nested map of schema `ref` */
};

#define PF_REQ 1u  /* must be present */
#define PF_BODY 2u /* a body/JSON string: max length is lim->max_body */

struct proto_schema;

struct proto_field {
  const char *name;   /* wire key, also the C member name */
  unsigned char kind; /* enum pf_kind */
  unsigned char flags;
  unsigned short off;   /* offset of the value (or the array pointer) */
  unsigned short off_n; /* PF_UINTS, PF_LIST: offset of the size_t count */
  unsigned max_n;       /* PF_UINTS, PF_LIST: most items */
  uint64_t min, max;    /* value range, or length range for STR/BIN */
  const void *ref;      /* PF_ENUM: const char *const[] (index 0 unused,
                           NULL-terminated); PF_LIST/PF_OBJ: schema */
  const char *doc;      /* one line for PROTOCOL.md */
};

/* Cross-field rules a table cannot say. `path` is the map's own path ("" at
 * the top); returns 0 or a code after proto_err_set(). */
typedef int (*proto_check_fn)(const void *obj, const char *path,
                              struct proto_error *err);

struct proto_schema {
  const char *name;   /* item or frame name, for documentation */
  size_t size;        /* sizeof the C struct */
  const struct proto_field *fields;
  size_t nfields;
  proto_check_fn check;
};

/* Table-building macros: one line per field. `S` is the C struct, `m` the
 * member (also the wire key), `fl` PF_REQ/PF_BODY or 0, `d` the doc line.
 * The *_AT forms take the wire name separately, for members of embedded
 * structs flattened into the same map. */
#define PF_AT_(nm, k, S, m, fl, offn, maxn, lo, hi, ref, d)                   \
  { nm, k, fl, (unsigned short)offsetof(S, m), offn, maxn, lo, hi, ref, d }
/* The public macros are variadic so that a range macro such as R_ID (two
 * arguments) expands before the argument count is checked. */
#define PF_U(...) PF_U_(__VA_ARGS__)
#define PF_U_(S, m, fl, lo, hi, d)                                           \
  PF_AT_(#m, PF_UINT, S, m, fl, 0, 0, lo, hi, NULL, d)
#define PF_U_AT(...) PF_U_AT_(__VA_ARGS__)
#define PF_U_AT_(nm, S, m, fl, lo, hi, d)                                    \
  PF_AT_(nm, PF_UINT, S, m, fl, 0, 0, lo, hi, NULL, d)
#define PF_B(S, m, d) PF_AT_(#m, PF_BOOL, S, m, 0, 0, 0, 0, 1, NULL, d)
#define PF_B_AT(nm, S, m, d) PF_AT_(nm, PF_BOOL, S, m, 0, 0, 0, 0, 1, NULL, d)
#define PF_S(S, m, fl, lo, hi, d)                                            \
  PF_AT_(#m, PF_STR, S, m, fl, 0, 0, lo, hi, NULL, d)
#define PF_X(S, m, fl, lo, hi, d)                                            \
  PF_AT_(#m, PF_BIN, S, m, fl, 0, 0, lo, hi, NULL, d)
#define PF_E(S, m, fl, names, d)                                             \
  PF_AT_(#m, PF_ENUM, S, m, fl, 0, 0, 0, 0, names, d)
#define PF_US(...) PF_US_(__VA_ARGS__)
#define PF_US_(S, m, fl, maxn, lo, hi, d)                                    \
  PF_AT_(#m, PF_UINTS, S, m, fl, (unsigned short)offsetof(S, n##m), maxn,    \
         lo, hi, NULL, d)
#define PF_L(S, m, fl, maxn, sch, d)                                         \
  PF_AT_(#m, PF_LIST, S, m, fl, (unsigned short)offsetof(S, n##m), maxn, 0,  \
         0, &sch, d)
#define PF_O(S, m, sch, d)                                                   \
  PF_AT_(#m, PF_OBJ, S, m, PF_REQ, 0, 0, 0, 0, &sch, d)
#define PROTO_SCHEMA(var, S, nm, fields, chk)                                \
  const struct proto_schema var = {nm, sizeof(S), fields,                    \
                                   sizeof fields / sizeof fields[0], chk}
#define PROTO_SCHEMA_EMPTY(var, nm)                                          \
  const struct proto_schema var = {nm, sizeof(struct proto_empty), NULL, 0,  \
                                   NULL}

/* Common ranges. */
#define R_ID 1, PROTO_ID_MAX      /* ids and seqs */
#define R_TS 1, PROTO_ID_MAX      /* ms since the epoch */
#define R_COUNT 0, PROTO_ID_MAX   /* counts, cursors */

struct proto_type_info {
  const char *name;
  unsigned sender;    /* PROTO_FROM_CLIENT or PROTO_FROM_SERVER */
  bool preauth;
  const struct proto_schema *schema;
};

/* Indexed by enum proto_type; entry 0 is empty. */
extern const struct proto_type_info proto_types[PROTO_T_COUNT_];

/* Enum name tables: index 0 unused (NULL), then the wire names, then NULL. */
extern const char *const proto_names_kind[], *const proto_names_urgency[],
    *const proto_names_role[], *const proto_names_actor[],
    *const proto_names_conv_type[], *const proto_names_member_role[],
    *const proto_names_policy[], *const proto_names_scope[];

/* Item schemas, for tests and documentation. */
extern const struct proto_schema proto_schema_cursor, proto_schema_window,
    proto_schema_msg, proto_schema_receipt, proto_schema_remind,
    proto_schema_ding_row,
    proto_schema_ding_update, proto_schema_card_event, proto_schema_who_row,
    proto_schema_report_row, proto_schema_report_user,
    proto_schema_report_dept, proto_schema_conv_info, proto_schema_member,
    proto_schema_limits_info, proto_schema_quiet_state;

/* The wire type of a field kind for messages and docs: "uint", "str"... */
const char *proto_kind_name(enum pf_kind k);

/* Index of `len` bytes at `s` in a NULL-terminated enum name table whose
 * entry 0 is unused, or 0. */
int proto_enum_lookup(const char *const *names, const char *s, size_t len);

/* Resolves the `max` of a string field against the limits. */
uint64_t proto_field_max(const struct proto_field *fd,
                         const struct proto_limits *lim);

/* Cross-field and per-item checks shared by decode and validate. */
int proto_check_obj(const struct proto_schema *s, const void *obj,
                    const char *path, struct proto_error *err);

/* Validation of a built frame or item against its schema (validate.c);
 * `path` is a buffer of PROTO_ERR_FIELD_MAX bytes holding the item's path,
 * restored on return. */
int proto_validate_obj(const struct proto_schema *s, const void *obj,
                       char *path, struct proto_error *err);

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/* Fills `err` (which may be NULL) with `code`, the field path
 * `path`.`name` (either may be NULL or empty) and a message made of
 * "field `path`: " followed by the formatted text, or just the text when
 * there is no field. Returns `code`. */
int proto_err_set(struct proto_error *err, int code, const char *path,
                  const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Appends ".name" or "[i]" to a path buffer of PROTO_ERR_FIELD_MAX bytes,
 * truncating silently; returns the previous length so the caller can cut
 * back with path[old] = 0. */
size_t proto_path_push(char *path, const char *name);
size_t proto_path_push_index(char *path, size_t i);

/* ------------------------------------------------------------------ */
/* Arena                                                               */

/* Allocates `size` zeroed bytes, aligned for any item struct, owned by the
 * frame's arena, into *out. Returns 0, PROTO_E_TOO_LARGE when the frame's
 * arena would pass `limit` bytes in total, or PROTO_E_NOMEM. */
int proto_arena_alloc(struct proto_frame *f, size_t size, size_t limit,
                      void **out);
/* Total bytes handed out so far (tests). */
size_t proto_arena_used(const struct proto_frame *f);

/* ------------------------------------------------------------------ */
/* Byte-level checks                                                   */

/* Resolves defaults and caps in `lim` (which may be NULL) into `out`. */
void proto_limits_resolve(const struct proto_limits *lim,
                          struct proto_limits *out);

/* Strict UTF-8: returns 0 if the `len` bytes at `s` are well-formed UTF-8
 * without U+0000; otherwise a negative value whose magnitude minus one is
 * the offset of the first bad byte. */
long proto_utf8_check(const char *s, size_t len);

/* The pre-scan: walks the raw msgpack bytes without allocating and refuses
 * anything msgpack-c should not see. Returns 0, or PROTO_E_TOO_LARGE,
 * MALFORMED (bad marker, truncated, a count or length beyond the bytes that
 * remain), TOO_DEEP, TRAILING or NOT_MAP, with `err` filled in. `lim` must
 * be resolved. */
int proto_prescan(const uint8_t *buf, size_t len,
                  const struct proto_limits *lim, struct proto_error *err);

#endif
