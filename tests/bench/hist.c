/*
 * hist.c — a log-linear latency histogram in microseconds.
 *
 * Values below 2*SUB are exact; above, each power of two is cut into SUB
 * equal buckets, so a bucket is at most 1/SUB (1.6 %) wide relative to its
 * value. Adding is a few instructions and no allocation, so every delivery
 * of a run is recorded (millions), not a sample.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

static unsigned bucket_of(uint64_t v)
{
  unsigned msb, shift, idx;

  if (v < 2 * HIST_SUB)
    return (unsigned)v;
  msb = 63u - (unsigned)__builtin_clzll(v);
  shift = msb - 6u;                        /* v >> shift is in [64, 128) */
  idx = 2 * HIST_SUB + (shift - 1) * HIST_SUB +
        (unsigned)((v >> shift) - HIST_SUB);
  return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* The middle of bucket `idx`. */
static uint64_t value_of(unsigned idx)
{
  unsigned shift, m;

  if (idx < 2 * HIST_SUB)
    return idx;
  shift = (idx - 2 * HIST_SUB) / HIST_SUB + 1;
  m = (idx - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
  return ((uint64_t)m << shift) + ((uint64_t)1 << shift) / 2;
}

void hist_reset(struct hist *h)
{
  memset(h, 0, sizeof *h);
}

void hist_add(struct hist *h, uint64_t us)
{
  h->b[bucket_of(us)]++;
  h->count++;
  h->sum += us;
  if (us > h->max)
    h->max = us;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
  uint64_t want, seen = 0;

  if (h->count == 0)
    return 0;
  want = (uint64_t)(q * (double)h->count + 0.999999);
  if (want < 1)
    want = 1;
  for (unsigned i = 0; i < HIST_BUCKETS; i++) {
    seen += h->b[i];
    if (seen >= want) {
      uint64_t v = value_of(i);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}

void hist_result(const struct hist *h, json_t *r, const char *prefix)
{
  char key[64];

  snprintf(key, sizeof key, "%sp50_ms", prefix);
  bench_result_num(r, key, hist_quantile(h, 0.50) / 1000.0, 3);
  snprintf(key, sizeof key, "%sp99_ms", prefix);
  bench_result_num(r, key, hist_quantile(h, 0.99) / 1000.0, 3);
  snprintf(key, sizeof key, "%smax_ms", prefix);
  bench_result_num(r, key, h->max / 1000.0, 3);
  snprintf(key, sizeof key, "%ssamples", prefix);
  json_object_set_new(r, key, json_integer((json_int_t)h->count));
}
