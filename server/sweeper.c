/*
 * sweeper.c — the periodic sweep (see sweeper_int.h): a uv_timer on the
 * loop submits one sweep job at a time to a one-thread database pool; the
 * job runs the reminder sweep and the retention purge batch by batch, then
 * the cards' reminders and task_after cards (card_sweep.c), and its done()
 * delivers what was made to the users' connected devices and logs one
 * line when the sweep did something.
 */
#include "sweeper_int.h"
#include "card_int.h"
#include "dbpool_int.h"
#include "log_int.h"
#include "server_int.h"
#include "session_int.h"

#include "store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Members handled per reminder transaction, and sealed times per purge
 * transaction: each batch holds its row locks for a few milliseconds. */
#define REMIND_BATCH 500
#define PURGE_BATCH 1000
/* Batches per sweep at most; what is left waits for the next sweep, so a
 * huge backlog cannot keep one sweep (and a shutdown) busy for long. */
#define MAX_BATCHES 200

struct srv_sweeper {
  struct srv_server *srv;
  uv_timer_t timer;
  struct srv_dbpool *pool;
  bool busy;                   /* a sweep job is queued or running */
  char node[101];              /* this server, in card reminder claims */
  atomic_bool stop;            /* shutdown: a running sweep stops early */
};

struct sweep_job {
  struct srv_dbjob job;
  struct srv_sweeper *sw;
  uint64_t started_ms;
  struct store_feed_entry *reminds;  /* new reminders, for live delivery */
  size_t nreminds;
  int64_t purged;
  bool reminds_left, purge_left;     /* the batch cap was reached */
  struct store_card_event *cards;    /* card reminders sent */
  size_t ncards;
  struct srv_card_msg *made;         /* task cards made (task_after) */
  size_t nmade;
  const char *failed;                /* which step failed, or NULL */
  char errmsg[256];
};

/*
 * SPEC §10's second automation: a tracked message that stays unread past
 * its conversation's task_after (conversations.task_after) becomes a task
 * card for the member. Storage finds the members (herald_task_due) and
 * creates each card with its message in one transaction that also moves
 * the member's marker (members.tasked_seq, beside reminded_seq) from the
 * value it was read at — so each item becomes a task once across
 * servers. Runs on the sweep's database thread; sweep_done publishes the
 * cards. Returns a STORE_* code and sets *made.
 */
static int srv_automation_task_cards_hook(struct store_conn *conn,
                                          struct sweep_job *sj,
                                          int64_t *made)
{
  int rc = srv_card_tasks_run(conn, &sj->made, &sj->nmade);

  *made = (int64_t)sj->nmade;
  return rc;
}

static void fail(struct sweep_job *sj, struct store_conn *conn,
                 const char *step, int rc)
{
  sj->job.rc = rc;
  sj->failed = step;
  snprintf(sj->errmsg, sizeof(sj->errmsg), "%s",
           conn ? store_errmsg(conn) : store_strerror(rc));
}

static int add_reminds(struct sweep_job *sj, struct store_feed_entry *e,
                       size_t n)
{
  struct store_feed_entry *v;

  if (!n)
    return 0;
  if (!(v = realloc(sj->reminds, (sj->nreminds + n) * sizeof(*v))))
    return -1;
  memcpy(v + sj->nreminds, e, n * sizeof(*e));
  sj->reminds = v;
  sj->nreminds += n;
  return 0;
}

static void sweep_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct sweep_job *sj = (struct sweep_job *)job;
  struct srv_sweeper *sw = sj->sw;
  int64_t after = 0, purged, made;
  bool more = true;
  int batches = 0, rc;

  job->rc = STORE_OK;
  if (!conn) {
    fail(sj, NULL, "connect", STORE_EUNAVAIL);
    return;
  }
  /* Reminders: one pass over the automated conversations. Entries are
   * committed to the feed batch by batch, so whatever happens to the
   * live delivery below, clients get them on their next sync. */
  while (more && !atomic_load(&sw->stop)) {
    struct store_feed_entry *e = NULL;
    size_t n = 0;

    if (batches++ == MAX_BATCHES) {
      sj->reminds_left = true;
      break;
    }
    rc = store_remind_sweep(conn, &after, REMIND_BATCH, &e, &n, &more);
    if (rc == STORE_OK && add_reminds(sj, e, n) != 0)
      rc = STORE_EINTERNAL;     /* stored; only the live copy is lost */
    free(e);
    if (rc != STORE_OK) {
      fail(sj, conn, "reminders", rc);
      return;
    }
  }
  /* Retention: oldest first until nothing is left. */
  batches = 0;
  do {
    if (atomic_load(&sw->stop))
      break;
    if (batches++ == MAX_BATCHES) {
      sj->purge_left = true;
      break;
    }
    if ((rc = store_read_times_purge(conn, PURGE_BATCH, &purged)) !=
        STORE_OK) {
      fail(sj, conn, "retention purge", rc);
      return;
    }
    sj->purged += purged;
  } while (purged == PURGE_BATCH);
  if (atomic_load(&sw->stop))
    return;
  /* Cards: due reminders (each recorded on its card once, after the
   * recipients' quiet hours), then the task_after automation. */
  if ((rc = srv_card_reminders_run(conn, sw->node, &sj->cards,
                                   &sj->ncards)) != STORE_OK) {
    fail(sj, conn, "card reminders", rc);
    return;
  }
  if ((rc = srv_automation_task_cards_hook(conn, sj, &made)) != STORE_OK)
    fail(sj, conn, "task cards", rc);
}

/* One `remind` per entry to every live device of its user (those still
 * syncing get it from the feed replay as well; the client drops what its
 * cursor already holds). */
static void deliver(struct srv_server *srv, const struct store_feed_entry *e)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_REMIND);
  f.u.remind.conv = (uint64_t)e->conversation_id;
  f.u.remind.seq = (uint64_t)e->from_seq;
  f.u.remind.upto = (uint64_t)e->to_seq;
  f.u.remind.n = (uint64_t)e->count;
  f.u.remind.since = (uint64_t)e->since_ms;
  f.u.remind.fs = (uint64_t)e->fs;
  for (struct srv_session *s = srv_sessions_of_user(srv, e->user_id); s;
       s = s->user_next)
    if (s->live && srv_session_open(s))
      srv_session_send(s, &f);
}

static void sweep_done(struct srv_dbjob *job)
{
  struct sweep_job *sj = (struct sweep_job *)job;
  struct srv_sweeper *sw = sj->sw;
  struct srv_server *srv = sw->srv;

  sw->busy = false;
  if (!atomic_load(&sw->stop) && !srv->stopping) {
    for (size_t i = 0; i < sj->nreminds; i++)
      deliver(srv, &sj->reminds[i]);
    for (size_t i = 0; i < sj->ncards; i++)
      srv_card_publish_event(srv, &sj->cards[i]);
    for (size_t i = 0; i < sj->nmade; i++)
      srv_card_publish_post(srv, &sj->made[i].p, false, sj->made[i].sender,
                            sj->made[i].cmid, sj->made[i].body);
  }
  if (sj->failed)
    srv_warn("sweep", "%s failed: %s", sj->failed, sj->errmsg);
  if (sj->nreminds || sj->purged)
    srv_info("sweep", "%zu reminder%s made, %lld read time%s purged%s "
             "(%llu ms)", sj->nreminds, sj->nreminds == 1 ? "" : "s",
             (long long)sj->purged, sj->purged == 1 ? "" : "s",
             sj->reminds_left || sj->purge_left ? ", more next time" : "",
             (unsigned long long)(srv_now_ms() - sj->started_ms));
  if (sj->ncards || sj->nmade)
    srv_info("sweep", "%zu card reminder%s, %zu task card%s made",
             sj->ncards, sj->ncards == 1 ? "" : "s", sj->nmade,
             sj->nmade == 1 ? "" : "s");
  for (size_t i = 0; i < sj->ncards; i++)
    store_card_event_clear(&sj->cards[i]);
  free(sj->cards);
  for (size_t i = 0; i < sj->nmade; i++)
    srv_card_msg_clear(&sj->made[i]);
  free(sj->made);
  free(sj->reminds);
  free(sj);
}

static void tick_cb(uv_timer_t *t)
{
  struct srv_sweeper *sw = t->data;
  struct sweep_job *sj;

  if (sw->busy || sw->srv->stopping || atomic_load(&sw->stop))
    return;    /* the previous sweep is still running: skip this tick */
  if (!(sj = calloc(1, sizeof(*sj)))) {
    srv_warn("sweep", "out of memory; skipping a sweep");
    return;
  }
  sj->job.run = sweep_run;
  sj->job.done = sweep_done;
  sj->sw = sw;
  sj->started_ms = srv_now_ms();
  sw->busy = true;
  srv_dbpool_submit(sw->pool, &sj->job);
}

int srv_sweeper_start(struct srv_server *srv)
{
  struct srv_sweeper *sw = calloc(1, sizeof(*sw));
  uint64_t every = (uint64_t)srv->cfg->sweep_interval * 1000;

  if (!sw) {
    srv_err("sweep", "out of memory");
    return -1;
  }
  sw->srv = srv;
  {
    char host[64] = "";
    gethostname(host, sizeof(host) - 1);
    snprintf(sw->node, sizeof(sw->node), "%s:%ld", host[0] ? host : "heraldd",
             (long)getpid());
  }
  atomic_init(&sw->stop, false);
  if (!(sw->pool = srv_dbpool_new(&srv->loop, "sweeper", srv->conninfo, 1, 1,
                                  NULL))) {
    free(sw);
    return -1;
  }
  uv_timer_init(&srv->loop, &sw->timer);
  sw->timer.data = sw;
  uv_timer_start(&sw->timer, tick_cb, every, every);
  srv->sweeper = sw;
  srv_info("sweep", "every %d s", srv->cfg->sweep_interval);
  return 0;
}

static void timer_closed(uv_handle_t *h)
{
  free(h->data);
}

void srv_sweeper_stop(struct srv_server *srv)
{
  struct srv_sweeper *sw = srv->sweeper;

  if (!sw)
    return;
  srv->sweeper = NULL;
  atomic_store(&sw->stop, true);
  uv_timer_stop(&sw->timer);
  /* Waits for a running sweep (it stops after its current batch) and
   * runs its done() here, while sw is still alive. */
  srv_dbpool_free(sw->pool);
  sw->pool = NULL;
  uv_close((uv_handle_t *)&sw->timer, timer_closed);
}
