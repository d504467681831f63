/*
 * fuzz_decode.c — libFuzzer target for the wire decoder.
 *
 * Any input: proto_decode() must return 0 or a listed code with a message,
 * never crash, leak or read out of bounds (ASan/UBSan). A frame that
 * decodes must encode, decode again to an equal frame (the hand-written
 * comparator of proto_samples.c), re-encode to the same bytes, and deep-copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_samples.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
  fprintf(stderr, "fuzz_decode: %s: %s\n", what, detail);
  abort();
}

static void roundtrip(const struct proto_frame *f)
{
  struct proto_frame g, c;
  struct proto_buf b, b2;
  struct proto_error err;
  char why[256];
  int rc;

  proto_buf_init(&b);
  proto_buf_init(&b2);
  if ((rc = proto_encode(f, 16, &b)))
    die("a decoded frame does not encode", proto_err_name(rc));
  if ((rc = proto_decode(proto_buf_frame(&b), proto_buf_size(&b), NULL, &g,
                         &err)))
    die("a re-encoded frame does not decode", err.msg);
  if (!sample_equal(f, &g, why, sizeof why))
    die("the round trip changed the frame", why);
  if (proto_encode(&g, 0, &b2) || proto_buf_size(&b2) != proto_buf_size(&b) ||
      memcmp(proto_buf_frame(&b2), proto_buf_frame(&b), proto_buf_size(&b)))
    die("encoding is not canonical", proto_type_name(f->type));
  if ((rc = proto_frame_copy(&c, &g)))
    die("copy failed", proto_err_name(rc));
  if (!sample_equal(&g, &c, why, sizeof why))
    die("the copy differs", why);
  proto_frame_cleanup(&c);
  proto_frame_cleanup(&g);
  proto_buf_cleanup(&b);
  proto_buf_cleanup(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct proto_frame f;
  struct proto_error err;
  int rc = proto_decode(data, size, NULL, &f, &err);

  if (rc == 0) {
    roundtrip(&f);
  } else if (err.code != rc || !err.msg[0] ||
             strcmp(proto_err_name(rc), "UNKNOWN") == 0 ||
             strlen(err.msg) >= sizeof err.msg) {
    die("a bad error report", err.msg);
  }
  proto_frame_cleanup(&f);
  return 0;
}
