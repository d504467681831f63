/*
 * pool.c — many herald_client connections (see pool.h).
 */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

static void on_event(struct hc_conn *c, const struct hc_event *ev, void *arg)
{
  struct pool_conn *pc = arg;
  struct pool *p = pc->pool;

  (void)c;
  if (p->on_event)
    p->on_event(p, pc, ev);
  switch (ev->type) {
  case HC_EV_SYNCED:
    if (!pc->synced) {
      pc->synced = true;
      p->synced++;
    }
    pc->up = true;
    break;
  case HC_EV_MSG:
    if (p->on_msg && ev->msg->conv == p->conv)
      p->on_msg(p, pc, ev->msg, ev->replay);
    break;
  case HC_EV_STATE:
    if (ev->state == HC_STATE_OFFLINE || ev->state == HC_STATE_STOPPED) {
      if (pc->up) {
        p->drops++;
        bench_log("connection %zu dropped: %s", pc->idx,
                  hc_strerror(ev->err));
      }
      pc->up = false;
      if (ev->state == HC_STATE_STOPPED && !pc->synced) {
        /* Refused for good (bad token...): count it and move on. */
        bench_log("connection %zu refused: %s", pc->idx,
                  hc_strerror(ev->err));
        p->failed++;
        p->synced++;           /* settled: not waited for */
        pc->synced = true;
      }
    }
    break;
  default:
    break;
  }
}

int pool_init(struct pool *p, uv_loop_t *loop, const char *url,
              const struct bench_users *users, size_t first, size_t count,
              size_t cap)
{
  struct hc_ctx_config cfg;

  memset(p, 0, sizeof *p);
  if (first >= users->n)
    return -1;
  if (!count || first + count > users->n)
    count = users->n - first;
  p->loop = loop;
  p->url = url;
  p->users = users;
  p->first = first;
  p->count = count;
  p->stride = 1;
  p->cap = cap;
  p->max_connecting = 256;
  if (!(p->v = calloc(cap ? cap : 1, sizeof *p->v)))
    return -1;
  memset(&cfg, 0, sizeof cfg);
  cfg.loop = loop;
  if (hc_ctx_new(&cfg, &p->ctx) != 0) {
    free(p->v);
    p->v = NULL;
    return -1;
  }
  uv_timer_init(loop, &p->starter);
  p->starter.data = p;
  p->starter_open = true;
  return 0;
}

static void start_one(struct pool *p)
{
  struct pool_conn *pc = &p->v[p->started];
  const struct bench_user *u =
      &p->users->v[p->first + (p->started * p->stride + p->offset) % p->count];
  struct hc_conn_config cfg;
  int rc;

  memset(&cfg, 0, sizeof cfg);
  cfg.url = p->url2 && p->started % 2 ? p->url2 : p->url;
  cfg.token = u->token;
  cfg.client_name = "herald-bench";
  cfg.limit_backlog = true;
  cfg.backlog = 0;
  cfg.reconnect_min_ms = 100;
  cfg.reconnect_max_ms = 2000;
  cfg.on_event = on_event;
  cfg.arg = pc;
  pc->pool = p;
  pc->idx = p->started++;
  if ((rc = hc_conn_new(p->ctx, &cfg, &pc->c)) != 0 ||
      (rc = hc_conn_start(pc->c)) != 0) {
    bench_log("connection %zu: %s", pc->idx, hc_strerror(rc));
    hc_conn_free(pc->c);
    pc->c = NULL;
    pc->synced = true;
    p->synced++;
    p->failed++;
  }
}

static void starter_cb(uv_timer_t *t)
{
  struct pool *p = t->data;

  while (p->started < p->target && p->started - p->synced < p->max_connecting)
    start_one(p);
  if (p->started >= p->target)
    uv_timer_stop(t);
}

static bool grown(void *arg)
{
  struct pool *p = arg;

  return p->synced >= p->target;
}

int pool_grow(struct pool *p, size_t target, int64_t timeout_ms)
{
  if (target > p->cap)
    target = p->cap;
  p->target = target;
  uv_timer_start(&p->starter, starter_cb, 0, 2);
  bench_run_until(p->loop, grown, p, timeout_ms);
  uv_timer_stop(&p->starter);
  if (p->synced < target)
    bench_log("only %zu of %zu connections synced in time", p->synced,
              target);
  return p->synced >= target && p->failed == 0 ? 0 : -1;
}

void pool_free(struct pool *p)
{
  if (p->starter_open) {
    uv_timer_stop(&p->starter);
    uv_close((uv_handle_t *)&p->starter, NULL);
    p->starter_open = false;
  }
  for (size_t i = 0; i < p->started; i++) {
    hc_conn_free(p->v[i].c);
    p->v[i].c = NULL;
  }
  if (p->ctx)
    hc_ctx_free(p->ctx);
  p->ctx = NULL;
  uv_run(p->loop, UV_RUN_NOWAIT);
  free(p->v);
  p->v = NULL;
}
