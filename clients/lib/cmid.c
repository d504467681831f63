/*
 * cmid.c — client message ids.
 *
 * A cmid must be unique among every message one user ever sends (the
 * server de-duplicates re-sends by (sender, cmid) for days). 80 random bits
 * from the kernel make a collision negligible; the 48-bit millisecond time
 * in front makes ids sort by creation, which helps a person reading logs.
 * The text is Crockford base32 (no I, L, O, U): 26 characters for the 128
 * bits, like a ULID.
 */
#include <errno.h>
#include <sys/random.h>
#include <time.h>

#include "hc_int.h"

static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void hc_cmid_format(uint64_t ms, const uint8_t rnd[10],
                    char out[HC_CMID_LEN + 1])
{
  uint8_t v[16];
  unsigned bits = 0, acc = 0;
  size_t o = 0;

  for (int i = 0; i < 6; i++)
    v[i] = (uint8_t)(ms >> (8 * (5 - i)));
  for (int i = 0; i < 10; i++)
    v[6 + i] = rnd[i];
  /* 128 bits are 25.6 groups of five: the first character carries the top
   * three bits, as in a ULID (so the text never exceeds 2^128). */
  acc = 0;
  bits = 2;  /* two zero bits of padding in front */
  for (size_t i = 0; i < 16; i++) {
    acc = (acc << 8) | v[i];
    bits += 8;
    while (bits >= 5) {
      out[o++] = b32[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  out[o] = '\0';
}

static void fill_random(uint8_t *buf, size_t len)
{
  size_t got = 0;

  while (got < len) {
    ssize_t n = getrandom(buf + got, len - got, 0);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  if (got < len) {
    /* No getrandom (ancient kernel or seccomp): the jitter generator,
     * seeded from time and addresses, still makes collisions unlikely
     * within one user's sends. */
    static uint64_t st;
    if (!st)
      st = hc_rand_seed();
    for (; got < len; got++)
      buf[got] = (uint8_t)hc_rand64(&st);
  }
}

void hc_cmid_new(char out[HC_CMID_SIZE])
{
  struct timespec ts;
  uint8_t rnd[10];

  clock_gettime(CLOCK_REALTIME, &ts);
  fill_random(rnd, sizeof rnd);
  hc_cmid_format((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
                 rnd, out);
}
