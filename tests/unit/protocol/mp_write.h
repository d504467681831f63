/*
 * mp_write.h — a tiny msgpack writer for building hostile test frames.
 *
 * Tests must be able to write what the encoder never would: lying lengths,
 * duplicate keys, wrong types, invalid UTF-8, deep nesting. These helpers
 * append raw msgpack to a growing buffer and abort the test on OOM. They
 * also split an encoded frame into its top-level entries so a test can
 * replace, drop or add one field of a valid sample.
 */
#ifndef HERALD_MP_WRITE_H
#define HERALD_MP_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct mp {
  uint8_t *b;
  size_t n, cap;
};

void mp_free(struct mp *m);
void mp_raw(struct mp *m, const void *p, size_t n);
void mp_byte(struct mp *m, uint8_t c);
void mp_map(struct mp *m, uint32_t n);    /* smallest header */
void mp_arr(struct mp *m, uint32_t n);
void mp_strn(struct mp *m, const char *s, size_t n);
void mp_str(struct mp *m, const char *s);
void mp_bin(struct mp *m, const void *p, size_t n);
void mp_uint(struct mp *m, uint64_t v);
void mp_int(struct mp *m, int64_t v);     /* negative values */
void mp_nil(struct mp *m);
void mp_bool(struct mp *m, int v);
void mp_f64(struct mp *m, double v);
void mp_append(struct mp *m, const struct mp *src);

/* Length of the msgpack object at `p` (well-formed input only). */
size_t mp_skip(const uint8_t *p);

/* Encodes the sample frame of type `t` (proto_samples.h), then rewrites
 * its top-level map into `out`: the entry `key` is dropped, and when `val`
 * is not NULL, `key` is added with the raw msgpack value `val`. `extra`
 * entries may follow: the map count includes them and the caller appends
 * them (key, value) right after. */
void mp_sample_patch(struct mp *out, enum proto_type t, const char *key,
                     const struct mp *val, unsigned extra);

#endif
