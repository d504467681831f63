/*
 * ratelimit_int.h — token buckets for failed logins, per account and per
 * remote address.
 *
 * Memory is fixed: keys hash into a table of buckets, and two keys that
 * collide share a bucket (which can only make limiting stricter). A bucket
 * holds `burst` tokens and gains one every `refill_ms`.
 *
 * Loop thread only.
 */
#ifndef HERALD_SRV_RATELIMIT_INT_H
#define HERALD_SRV_RATELIMIT_INT_H

#include <stddef.h>
#include <stdint.h>

struct srv_bucket {
  double tokens;
  uint64_t at_ms;       /* when tokens was computed; 0 = never used */
};

struct srv_ratelimit {
  struct srv_bucket *b;
  size_t n;             /* power of two */
  double burst;
  uint64_t refill_ms;
};

/* Returns 0, or -1 when out of memory. */
int srv_ratelimit_init(struct srv_ratelimit *rl, size_t slots, unsigned burst,
                       uint64_t refill_ms);
void srv_ratelimit_cleanup(struct srv_ratelimit *rl);

/* True when `key` (len bytes; compared as given) has a token left. Does not
 * take one. */
int srv_ratelimit_allowed(struct srv_ratelimit *rl, const void *key,
                          size_t len, uint64_t now_ms);

/* Takes one token from `key` (a failed attempt). */
void srv_ratelimit_hit(struct srv_ratelimit *rl, const void *key, size_t len,
                       uint64_t now_ms);

#endif
