/*
 * dbpool_int.h — running storage calls off the event loop.
 *
 * A pool owns N threads, each with its own PostgreSQL connection. The loop
 * submits jobs; a thread runs job->run() with its connection (blocking libpq
 * is fine there), then queues the job back and wakes the loop through a
 * uv_async handle; job->done() runs on the loop thread. The loop therefore
 * never waits for PostgreSQL.
 *
 * A batching pool (srv_dbpool_new with batch > 1) hands a thread every job
 * that is waiting, up to `batch`, in one call of ops->run_batch: the send
 * path uses this for group commit. Jobs are run in submission order; with one
 * thread, batches are also committed in submission order.
 *
 * When a connection is lost, the thread reconnects by itself with backoff;
 * jobs that ran on the dead connection see STORE_EUNAVAIL and report a
 * retryable error to their clients. While PostgreSQL is down, jobs fail fast
 * with STORE_EUNAVAIL instead of piling up.
 */
#ifndef HERALD_SRV_DBPOOL_INT_H
#define HERALD_SRV_DBPOOL_INT_H

#include <uv.h>

struct store_conn;
struct srv_dbjob;

/* Runs on a pool thread. `conn` is NULL while the database is unreachable:
 * the job must then set job->rc = STORE_EUNAVAIL (or an equivalent) itself. */
typedef void (*srv_dbjob_run_fn)(struct srv_dbjob *job, struct store_conn *conn);
/* Runs on the loop thread after run; may free the job. */
typedef void (*srv_dbjob_done_fn)(struct srv_dbjob *job);
/* Batching pools: runs `n` jobs (in submission order) in one go. */
typedef void (*srv_dbjob_batch_fn)(struct srv_dbjob **jobs, int n,
                                   struct store_conn *conn);

/* Embed in your own job struct; the pool never allocates or frees jobs. */
struct srv_dbjob {
  srv_dbjob_run_fn run;     /* ignored by batching pools */
  srv_dbjob_done_fn done;
  int rc;                   /* result, set by run */
  struct srv_dbjob *next;   /* pool-internal */
};

struct srv_dbpool;

/* Starts `nthreads` threads that connect to `conninfo` (copied). `batch`
 * is 1 for a plain pool or the largest batch for `batch_fn`. `name` appears
 * in log lines. Returns NULL on failure (logged). Loop thread only. */
struct srv_dbpool *srv_dbpool_new(uv_loop_t *loop, const char *name,
                                  const char *conninfo, int nthreads,
                                  int batch, srv_dbjob_batch_fn batch_fn);

/* Queues a job. Loop thread only. The job must stay alive until its done()
 * ran. */
void srv_dbpool_submit(struct srv_dbpool *pool, struct srv_dbjob *job);

/* Jobs queued or running (for /metrics and back-pressure). Loop thread. */
int srv_dbpool_pending(const struct srv_dbpool *pool);

/* True when the threads currently hold a working connection. Any thread. */
int srv_dbpool_online(const struct srv_dbpool *pool);

/* Stops the threads after they finished every queued job (so pending
 * commits complete during a graceful shutdown), runs the remaining done()
 * callbacks on the calling (loop) thread, and closes the pool; its memory
 * is released once the loop has run the close callback. Blocks for as long
 * as the queued jobs take. Takes NULL. */
void srv_dbpool_free(struct srv_dbpool *pool);

#endif
