/*
 * botrate.c — per-bot sliding windows of send times (botrate_int.h).
 */
#include "botrate_int.h"
#include "server_int.h"
#include "metrics_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PER_MINUTE 20

/* The times of the last `len` sends, oldest at `head`, in a ring of `cap`
 * (= the bot's limit when it last sent). */
struct window {
  int cap, head, len;
  uint64_t t[];
};

static struct window *window_new(int cap)
{
  struct window *w = calloc(1, sizeof(*w) + (size_t)cap * sizeof(uint64_t));

  if (w)
    w->cap = cap;
  return w;
}

/* A new ring for a changed limit, keeping the newest sends that fit. */
static struct window *window_resize(struct window *w, int cap)
{
  struct window *n = window_new(cap);
  int keep;

  if (!n)
    return NULL;
  keep = w->len < cap ? w->len : cap;
  for (int i = 0; i < keep; i++)
    n->t[i] = w->t[(w->head + w->len - keep + i) % w->cap];
  n->len = keep;
  free(w);
  return n;
}

int64_t srv_botrate_take(struct srv_server *srv, int64_t bot_id,
                         int per_minute, uint64_t now_ms)
{
  struct window *w = srv_intmap_get(&srv->botrate, bot_id), *n;

  if (per_minute <= 0)
    per_minute = DEFAULT_PER_MINUTE;
  if (!w || w->cap != per_minute) {
    n = w ? window_resize(w, per_minute) : window_new(per_minute);
    if (!n)
      return 0;
    if (srv_intmap_put(&srv->botrate, bot_id, n) != 0) {
      srv_intmap_del(&srv->botrate, bot_id);
      free(n);
      return 0;
    }
    w = n;
  }
  /* Forget sends that left the window. */
  while (w->len > 0 && w->t[w->head] + SRV_BOTRATE_WINDOW_MS <= now_ms) {
    w->head = (w->head + 1) % w->cap;
    w->len--;
  }
  if (w->len == w->cap) {
    int64_t wait = (int64_t)(w->t[w->head] + SRV_BOTRATE_WINDOW_MS - now_ms);

    srv_metric_inc(SRV_M_BOT_RATE_REFUSED);
    return wait > 0 ? wait : 1;
  }
  w->t[(w->head + w->len) % w->cap] = now_ms;
  w->len++;
  return 0;
}

void srv_botrate_message(char *buf, unsigned len, int per_minute,
                         int64_t wait_ms)
{
  snprintf(buf, len, "rate limit of %d messages a minute reached; retry in "
           "%lld s", per_minute > 0 ? per_minute : DEFAULT_PER_MINUTE,
           (long long)((wait_ms + 999) / 1000));
}

void srv_botrate_cleanup(struct srv_server *srv)
{
  for (size_t i = 0; i < srv->botrate.cap; i++)
    if (srv->botrate.slots[i].key)
      free(srv->botrate.slots[i].val);
  srv_intmap_cleanup(&srv->botrate);
}
