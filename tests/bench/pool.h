/*
 * pool.h — many herald_client connections in one process, authenticated
 * with tokens (`hello`), opened at a bounded number at a time, each
 * following its user's conversations from their newest message on
 * (limit_backlog, backlog 0: nothing old is replayed to them).
 *
 * Connection j authenticates as users[first + (j * stride + offset) %
 * count] (stride 1, offset 0 unless set): several connections of one user
 * are that user's devices.
 */
#ifndef HERALD_BENCH_POOL_H
#define HERALD_BENCH_POOL_H

#include "bench.h"
#include "hc.h"

struct pool;

struct pool_conn {
  struct pool *pool;
  struct hc_conn *c;
  size_t idx;
  bool synced;                 /* has synced at least once */
  bool up;                     /* synced and not dropped since */
};

struct pool {
  struct hc_ctx *ctx;
  uv_loop_t *loop;
  const char *url;
  const char *url2;            /* NULL, or where odd-numbered connections
                                  go (a second node; set before pool_grow) */
  const struct bench_users *users;
  size_t first, count, stride, offset;
  struct pool_conn *v;
  size_t cap, started;
  size_t synced;               /* settled: synced once, or refused */
  size_t failed;
  size_t drops;                /* connections that went offline after sync */
  size_t max_connecting;
  /* Messages of `conv` (0: none) go to on_msg; every event to on_event
   * (may be NULL) before the pool's own handling. */
  uint64_t conv;
  void (*on_msg)(struct pool *p, struct pool_conn *pc,
                 const struct proto_msg *m, bool replay);
  void (*on_event)(struct pool *p, struct pool_conn *pc,
                   const struct hc_event *ev);
  void *arg;
  uv_timer_t starter;
  bool starter_open;
  size_t target;
};

/* A pool of up to `cap` connections on a new context on `loop`. */
int pool_init(struct pool *p, uv_loop_t *loop, const char *url,
              const struct bench_users *users, size_t first, size_t count,
              size_t cap);
/* Opens connections until `target` of them have synced (or failed).
 * Returns 0 when all synced within timeout_ms, -1 otherwise. */
int pool_grow(struct pool *p, size_t target, int64_t timeout_ms);
/* Closes every connection and the context; runs the loop to finish. */
void pool_free(struct pool *p);

#endif
