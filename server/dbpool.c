/*
 * dbpool.c — database threads and their hand-over to the loop (see
 * dbpool_int.h for the contract).
 */
#include "clock_int.h"
#include "dbpool_int.h"
#include "log_int.h"
#include "metrics_int.h"

#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct srv_dbpool {
  uv_loop_t *loop;
  uv_async_t async;        /* wakes the loop when jobs are done */
  char *name;
  char *conninfo;
  int nthreads;
  pthread_t *threads;
  int batch;
  srv_dbjob_batch_fn batch_fn;

  pthread_mutex_t mu;      /* guards everything below */
  pthread_cond_t cv;
  struct srv_dbjob *q_head, *q_tail;   /* waiting to run */
  struct srv_dbjob *d_head, *d_tail;   /* done, waiting for the loop */
  int stopping;

  int pending;             /* loop thread only: submitted, done() not run */
  _Atomic int online;      /* threads with a working connection */
};

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void push(struct srv_dbjob **head, struct srv_dbjob **tail,
                 struct srv_dbjob *job)
{
  job->next = NULL;
  if (*tail)
    (*tail)->next = job;
  else
    *head = job;
  *tail = job;
}

/* Connects, or returns NULL while the database stays unreachable; retries
 * no more often than the backoff allows, so a dead database costs queued
 * jobs no waiting. */
static struct store_conn *ensure_conn(struct srv_dbpool *pool,
                                      struct store_conn *conn,
                                      uint64_t *next_try, unsigned *backoff,
                                      int *was_online)
{
  uint64_t t;

  if (conn)
    return conn;
  t = now_ms();
  if (t < *next_try)
    return NULL;
  if (store_connect(pool->conninfo, &conn) == 0) {
    if (!*was_online) {
      atomic_fetch_add(&pool->online, 1);
      *was_online = 1;
    }
    *backoff = 100;
    srv_debug("db", "%s: connected", pool->name);
    return conn;
  }
  srv_warn("db", "%s: cannot connect: %s (retry in %u ms)", pool->name,
           store_errmsg(conn), *backoff);
  store_close(conn);
  *next_try = t + *backoff;
  *backoff = *backoff * 2 > 2000 ? 2000 : *backoff * 2;
  return NULL;
}

static void *thread_main(void *arg)
{
  struct srv_dbpool *pool = arg;
  struct store_conn *conn = NULL;
  struct srv_dbjob **jobs = calloc((size_t)pool->batch, sizeof(*jobs));
  uint64_t next_try = 0;
  unsigned backoff = 100;
  int online = 0;

  for (;;) {
    int n = 0;

    pthread_mutex_lock(&pool->mu);
    while (!pool->q_head && !pool->stopping)
      pthread_cond_wait(&pool->cv, &pool->mu);
    while (pool->q_head && n < pool->batch) {
      jobs[n++] = pool->q_head;
      pool->q_head = pool->q_head->next;
    }
    if (!pool->q_head)
      pool->q_tail = NULL;
    pthread_mutex_unlock(&pool->mu);
    if (n == 0)
      break;   /* stopping and nothing left */

    conn = ensure_conn(pool, conn, &next_try, &backoff, &online);
    /* The test clock (clock_int.h): a no-op unless the offset changed. A
     * failure shows again in the jobs, which then see EUNAVAIL. */
    if (conn)
      (void)store_clock_set_offset(conn, srv_clock_offset_ms());
    if (pool->batch_fn) {
      uint64_t t0 = srv_metric_clock_ns();

      pool->batch_fn(jobs, n, conn);
      if (conn)     /* a commit, not a fast failure */
        srv_metric_commit(n, srv_metric_clock_ns() - t0);
    } else {
      for (int i = 0; i < n; i++)
        jobs[i]->run(jobs[i], conn);
    }
    /* A job that found the connection dead said so with EUNAVAIL: drop the
     * connection so the next job reconnects. */
    for (int i = 0; i < n && conn; i++) {
      if (jobs[i]->rc == STORE_EUNAVAIL && store_ping(conn) != 0) {
        srv_warn("db", "%s: connection lost", pool->name);
        store_close(conn);
        conn = NULL;
        if (online) {
          atomic_fetch_sub(&pool->online, 1);
          online = 0;
        }
      }
    }
    pthread_mutex_lock(&pool->mu);
    for (int i = 0; i < n; i++)
      push(&pool->d_head, &pool->d_tail, jobs[i]);
    pthread_mutex_unlock(&pool->mu);
    uv_async_send(&pool->async);
  }
  if (online)
    atomic_fetch_sub(&pool->online, 1);
  store_close(conn);
  free(jobs);
  return NULL;
}

static void run_done(struct srv_dbpool *pool)
{
  struct srv_dbjob *job, *next;

  pthread_mutex_lock(&pool->mu);
  job = pool->d_head;
  pool->d_head = pool->d_tail = NULL;
  pthread_mutex_unlock(&pool->mu);
  for (; job; job = next) {
    next = job->next;
    pool->pending--;
    job->done(job);
  }
}

static void async_cb(uv_async_t *h)
{
  run_done(h->data);
}

struct srv_dbpool *srv_dbpool_new(uv_loop_t *loop, const char *name,
                                  const char *conninfo, int nthreads,
                                  int batch, srv_dbjob_batch_fn batch_fn)
{
  struct srv_dbpool *pool = calloc(1, sizeof(*pool));

  if (!pool)
    return NULL;
  pool->loop = loop;
  pool->name = strdup(name);
  pool->conninfo = strdup(conninfo);
  pool->nthreads = nthreads;
  pool->batch = batch < 1 ? 1 : batch;
  pool->batch_fn = batch_fn;
  pool->threads = calloc((size_t)nthreads, sizeof(pthread_t));
  pthread_mutex_init(&pool->mu, NULL);
  pthread_cond_init(&pool->cv, NULL);
  uv_async_init(loop, &pool->async, async_cb);
  pool->async.data = pool;
  for (int i = 0; i < nthreads; i++) {
    if (pthread_create(&pool->threads[i], NULL, thread_main, pool) != 0) {
      srv_err("db", "%s: cannot start thread %d", name, i);
      pool->nthreads = i;
      srv_dbpool_free(pool);
      return NULL;
    }
  }
  return pool;
}

void srv_dbpool_submit(struct srv_dbpool *pool, struct srv_dbjob *job)
{
  pool->pending++;
  pthread_mutex_lock(&pool->mu);
  push(&pool->q_head, &pool->q_tail, job);
  pthread_cond_signal(&pool->cv);
  pthread_mutex_unlock(&pool->mu);
}

int srv_dbpool_pending(const struct srv_dbpool *pool)
{
  return pool->pending;
}

int srv_dbpool_online(const struct srv_dbpool *pool)
{
  return atomic_load(&((struct srv_dbpool *)pool)->online) > 0;
}

static void close_cb(uv_handle_t *h)
{
  struct srv_dbpool *pool = h->data;

  pthread_mutex_destroy(&pool->mu);
  pthread_cond_destroy(&pool->cv);
  free(pool->threads);
  free(pool->name);
  free(pool->conninfo);
  free(pool);
}

void srv_dbpool_free(struct srv_dbpool *pool)
{
  if (!pool)
    return;
  pthread_mutex_lock(&pool->mu);
  pool->stopping = 1;
  pthread_cond_broadcast(&pool->cv);
  pthread_mutex_unlock(&pool->mu);
  for (int i = 0; i < pool->nthreads; i++)
    pthread_join(pool->threads[i], NULL);
  run_done(pool);
  uv_close((uv_handle_t *)&pool->async, close_cb);
}
