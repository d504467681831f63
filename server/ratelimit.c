/*
 * ratelimit.c — fixed-memory token buckets (see ratelimit_int.h).
 */
#include "ratelimit_int.h"

#include <stdlib.h>

int srv_ratelimit_init(struct srv_ratelimit *rl, size_t slots, unsigned burst,
                       uint64_t refill_ms)
{
  size_t n = 1;

  while (n < slots)
    n *= 2;
  rl->b = calloc(n, sizeof(*rl->b));
  rl->n = n;
  rl->burst = burst;
  rl->refill_ms = refill_ms ? refill_ms : 1;
  return rl->b ? 0 : -1;
}

void srv_ratelimit_cleanup(struct srv_ratelimit *rl)
{
  free(rl->b);
  rl->b = NULL;
}

/* FNV-1a: keys are short (logins, addresses); this is not a security
 * boundary, collisions only make limits stricter. */
static struct srv_bucket *bucket(struct srv_ratelimit *rl, const void *key,
                                 size_t len, uint64_t now_ms)
{
  const unsigned char *p = key;
  uint64_t h = 1469598103934665603ull;
  struct srv_bucket *b;

  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  b = &rl->b[h & (rl->n - 1)];
  if (b->at_ms == 0) {
    b->tokens = rl->burst;
  } else if (now_ms > b->at_ms) {
    b->tokens += (double)(now_ms - b->at_ms) / (double)rl->refill_ms;
    if (b->tokens > rl->burst)
      b->tokens = rl->burst;
  }
  b->at_ms = now_ms ? now_ms : 1;
  return b;
}

int srv_ratelimit_allowed(struct srv_ratelimit *rl, const void *key,
                          size_t len, uint64_t now_ms)
{
  return bucket(rl, key, len, now_ms)->tokens >= 1.0;
}

void srv_ratelimit_hit(struct srv_ratelimit *rl, const void *key, size_t len,
                       uint64_t now_ms)
{
  struct srv_bucket *b = bucket(rl, key, len, now_ms);

  if (b->tokens >= 1.0)
    b->tokens -= 1.0;
  else
    b->tokens = 0;
}
