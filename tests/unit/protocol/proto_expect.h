/*
 * proto_expect.h — decode-and-expect helpers of the hostile-input tests.
 *
 * Each helper decodes bytes and checks the outcome with check.h, so a test
 * reads as a list of inputs and the exact error each must produce: code,
 * field path, and a message that names the field.
 */
#ifndef HERALD_PROTO_EXPECT_H
#define HERALD_PROTO_EXPECT_H

#include "mp_write.h"
#include "proto_int.h"

/* The error of the last decode. */
extern struct proto_error err;

/* proto_decode() of `m` with limits `lim` (NULL = defaults) into `f`. */
int dec_lim(const struct mp *m, const struct proto_limits *lim,
            struct proto_frame *f);
/* Decodes `m`; expects `code` at `field` ("" = the frame as a whole), a
 * message naming the field and containing `text` (unless NULL), and
 * nothing left allocated in the frame. */
void expect_lim(const struct mp *m, const struct proto_limits *lim, int code,
                const char *field, const char *text);
void expect(const struct mp *m, int code, const char *field,
            const char *text);
/* Expects `m` to decode. */
void ok_lim(const struct mp *m, const struct proto_limits *lim);
void expect_ok(const struct mp *m);
/* The sample frame of type `t` with `key` set to the raw value `v`
 * (removed when v is NULL), decoded: expects `code` at `field`. */
void patch_expect(enum proto_type t, const char *key, const struct mp *v,
                  int code, const char *field, const char *text);
/* One-value msgpack buffers for patch_expect(); each call reuses the same
 * buffer. */
const struct mp *vstr(const char *s);
const struct mp *vuint(uint64_t u);
/* Appends the encoded sample frame of type `t` to `m`. */
void encode_sample(enum proto_type t, struct mp *m);
/* Frees the helpers' buffer (for leak checkers). */
void expect_done(void);

#endif
