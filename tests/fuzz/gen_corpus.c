/*
 * gen_corpus.c — writes the seed corpus and dictionary of fuzz_decode.
 *
 * Usage: fuzz_gen_corpus DIR DICT. One file per frame type (the complete
 * sample of proto_samples.c), a few hostile frames (lying lengths, deep
 * nesting, bad UTF-8, duplicate keys, trailing bytes, wrong types), and a
 * libFuzzer dictionary of every key, type name and enum value as msgpack
 * strings. The output is checked in under tests/fuzz/corpus/decode; re-run
 * this when frames change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp_write.h"
#include "proto_int.h"
#include "proto_samples.h"

static const char *dir;

static void put_file(const char *name, const struct mp *m)
{
  char path[512];
  FILE *f;

  snprintf(path, sizeof path, "%s/%s.mp", dir, name);
  f = fopen(path, "wb");
  if (!f || fwrite(m->b, 1, m->n, f) != m->n || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

static void hostile(void)
{
  struct mp m = {0}, v = {0};
  static const uint8_t lie[] = {0xdd, 0x0f, 0xff, 0xff, 0xff};

  mp_raw(&m, lie, sizeof lie);
  put_file("hostile-array32-lie", &m);
  mp_free(&m);

  mp_sample_patch(&m, PROTO_T_SEND, "to", NULL, 1);
  mp_str(&m, "to");
  mp_raw(&m, lie, sizeof lie);
  put_file("hostile-send-to-lie", &m);
  mp_free(&m);

  mp_map(&m, 2);
  mp_str(&m, "t");
  mp_str(&m, "ping");
  mp_str(&m, "x");
  for (int i = 0; i < 12; i++)
    mp_arr(&m, 1);
  mp_nil(&m);
  put_file("hostile-deep", &m);
  mp_free(&m);

  mp_str(&v, "bad \xed\xa0\x80 surrogate");
  mp_sample_patch(&m, PROTO_T_SEND, "body", &v, 0);
  put_file("hostile-bad-utf8", &m);
  mp_free(&m);
  mp_free(&v);

  mp_sample_patch(&m, PROTO_T_SEND, "zz", NULL, 1);
  mp_str(&m, "conv");
  mp_uint(&m, 9);
  put_file("hostile-dup-key", &m);
  mp_free(&m);

  mp_sample_patch(&m, PROTO_T_PING, "zz", NULL, 0);
  mp_nil(&m);
  put_file("hostile-trailing", &m);
  mp_free(&m);

  mp_str(&v, "seven");
  mp_sample_patch(&m, PROTO_T_SYNC, "limit", &v, 0);
  put_file("hostile-wrong-type", &m);
  mp_free(&m);
  mp_free(&v);

  mp_sample_patch(&m, PROTO_T_PING, "t", NULL, 0);
  put_file("hostile-no-type", &m);
  mp_free(&m);
}

static const char *seen[1024];
static size_t nseen;

static void dict_word(FILE *f, const char *w)
{
  size_t n = strlen(w);

  for (size_t i = 0; i < nseen; i++)
    if (strcmp(seen[i], w) == 0)
      return;
  if (nseen < sizeof seen / sizeof seen[0])
    seen[nseen++] = w;
  fprintf(f, "\"\\x%02x%s\"\n", 0xa0 | (unsigned)n, w);
}

static void dict_schema(FILE *f, const struct proto_schema *s)
{
  for (size_t j = 0; j < s->nfields; j++) {
    const struct proto_field *fd = &s->fields[j];

    dict_word(f, fd->name);
    if (fd->kind == PF_ENUM)
      for (const char *const *n = (const char *const *)fd->ref + 1; *n; n++)
        dict_word(f, *n);
    if (fd->kind == PF_LIST || fd->kind == PF_OBJ)
      dict_schema(f, fd->ref);
  }
}

int main(int argc, char **argv)
{
  FILE *d;

  if (argc != 3) {
    fprintf(stderr, "usage: %s DIR DICT\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  for (int t = 1; t < PROTO_T_COUNT_; t++) {
    struct proto_frame f;
    struct proto_buf b;
    struct mp m = {0};

    sample_frame((enum proto_type)t, &f);
    proto_buf_init(&b);
    if (proto_encode(&f, 0, &b)) {
      fprintf(stderr, "sample %d does not encode\n", t);
      return 1;
    }
    mp_raw(&m, b.data, b.len);
    put_file(proto_types[t].name, &m);
    mp_free(&m);
    proto_buf_cleanup(&b);
  }
  hostile();

  d = fopen(argv[2], "w");
  if (!d) {
    perror(argv[2]);
    return 1;
  }
  fprintf(d, "# libFuzzer dictionary for fuzz_decode, written by "
             "gen_corpus.c\n");
  dict_word(d, "t");
  dict_word(d, "id");
  for (int t = 1; t < PROTO_T_COUNT_; t++) {
    dict_word(d, proto_types[t].name);
    dict_schema(d, proto_types[t].schema);
  }
  fclose(d);
  return 0;
}
