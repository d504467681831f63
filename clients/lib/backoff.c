/*
 * backoff.c — how long to wait before the next attempt.
 *
 * Exponential backoff with "full jitter": the delay is uniform in
 * [0, min(max, min * 2^attempt)]. Spreading reconnects over the whole
 * window keeps thousands of clients that lost the same server from coming
 * back in lockstep. The generator is splitmix64: jitter needs spread, not
 * secrecy.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

#include "hc_int.h"

unsigned hc_backoff_next(struct hc_backoff *b, uint64_t rnd)
{
  uint64_t cap = b->min_ms ? b->min_ms : 1;
  unsigned shift = b->attempt < 32 ? b->attempt : 32;

  cap <<= shift;
  if (cap > b->max_ms)
    cap = b->max_ms;
  if (b->attempt < 64)
    b->attempt++;
  return (unsigned)(rnd % (cap + 1));
}

void hc_backoff_reset(struct hc_backoff *b)
{
  b->attempt = 0;
}

uint64_t hc_rand64(uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t hc_rand_seed(void)
{
  uint64_t seed = 0;
  struct timespec ts;

  if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed)
    return seed;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
  return seed ^ (uint64_t)(uintptr_t)&seed;
}
