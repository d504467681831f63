/*
 * ding_sched.c — the DING scheduler: fires re-alert steps and escalations
 * when they fall due, and makes the escalations' webhook attempts.
 *
 * The schedule lives in PostgreSQL (sql/0008_ding.sql); this file only
 * decides when to look. One libuv timer is armed to the earliest due time
 * the database reports (and no later than ding-poll seconds, so DINGs
 * sent through other servers sharing the database are picked up too);
 * a new DING or a moved test clock brings it forward. When it fires, a
 * round runs on the scheduler's own database pool:
 *   1. a fire job claims and fires every due step (store_ding_fire: each
 *      step once across all servers, committed before any frame goes out)
 *      and its done() sends the alerts and state updates to the sessions
 *      connected here;
 *   2. webhook jobs, one after the other, each claim one due attempt, POST
 *      it (webhook.c, bounded by webhook-timeout) and record the outcome
 *      with the next retry (webhook-retries), until none is due;
 *   3. the last job reports the next due time, and the timer is re-armed.
 * The loop never waits: every step of a round is a job.
 *
 * A round at start-up fires whatever fell due while no server ran (once:
 * a step is recorded before it is sent, and recorded only once). A server
 * killed between the commit and the frames has fired the step without
 * sending it live; the recipient finds it in the feed.
 *
 * Loop thread only (jobs' run() on the pool's threads).
 */
#include "clock_int.h"
#include "config_int.h"
#include "dbpool_int.h"
#include "ding_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "server_int.h"

#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIRE_BATCH 200          /* rows per store_ding_fire call */
#define FIRE_CALLS 25           /* calls per round; more waits a round */
#define WAITERS_MAX 8
#define RETRIES_MAX 16

typedef void (*waiter_fn)(struct srv_server *srv);

struct srv_ding_sched {
  struct srv_server *srv;
  struct srv_dbpool *pool;
  uv_timer_t timer;
  int timer_init;
  char node[101];               /* this server in ding_steps and claims */
  int retries[RETRIES_MAX];     /* webhook-retries, seconds */
  size_t nretries;
  int running;                  /* a round's jobs are under way */
  int again;                    /* the timer fired during a round */
  int closing;
  int64_t armed_at;             /* server-clock ms the timer is set for */
  int64_t pending_due;          /* a due time learnt during a round */
  int worked;                   /* the round fired or attempted something */
  waiter_fn now_waiters[WAITERS_MAX], next_waiters[WAITERS_MAX];
  size_t n_now, n_next;
};

static void round_start(struct srv_ding_sched *d);

/* webhook-retries: "10,60,300" (seconds before each retry; "" none). */
static int parse_retries(struct srv_ding_sched *d, const char *s)
{
  const char *p = s;

  d->nretries = 0;
  while (p && *p) {
    char *end;
    long v = strtol(p, &end, 10);

    if (end == p || v < 1 || v > 86400 || d->nretries == RETRIES_MAX ||
        (*end && *end != ','))
      return -1;
    d->retries[d->nretries++] = (int)v;
    p = *end ? end + 1 : end;
  }
  return 0;
}

static int64_t now_ms(void)
{
  return (int64_t)srv_clock_now_ms();
}

/* ---- the timer ---- */

static void timer_cb(uv_timer_t *t)
{
  struct srv_ding_sched *d = t->data;

  d->armed_at = 0;
  if (d->closing)
    return;
  if (d->running)
    d->again = 1;
  else
    round_start(d);
}

static void arm(struct srv_ding_sched *d, int64_t due_ms)
{
  int64_t now = now_ms(), poll = (int64_t)d->srv->cfg->ding_poll * 1000;
  int64_t delay = due_ms ? due_ms - now : poll;

  if (delay < 0)
    delay = 0;
  if (delay > poll)
    delay = poll;
  if (d->armed_at && d->armed_at <= now + delay)
    return;                     /* already set for earlier */
  d->armed_at = now + delay;
  uv_timer_start(&d->timer, timer_cb, (uint64_t)delay, 0);
}

void srv_ding_sched_due(struct srv_server *srv, int64_t due_ms)
{
  struct srv_ding_sched *d = srv->ding;

  if (!d || d->closing || due_ms <= 0)
    return;
  if (d->running) {
    /* The round's own look at the next due time may predate this. */
    if (!d->pending_due || due_ms < d->pending_due)
      d->pending_due = due_ms;
    return;
  }
  arm(d, due_ms);
}

/* ---- rounds ---- */

static void round_end(struct srv_ding_sched *d, int64_t next_due)
{
  size_t n = d->n_now;
  waiter_fn w[WAITERS_MAX];

  d->running = 0;
  if (d->closing)
    return;
  memcpy(w, d->now_waiters, n * sizeof(*w));
  d->n_now = 0;
  if (d->pending_due && (!next_due || d->pending_due < next_due))
    next_due = d->pending_due;
  d->pending_due = 0;
  /* Something is due now but nothing could be done (another server holds
   * it): look again in a second rather than spin. */
  if (next_due && next_due <= now_ms() && !d->worked)
    next_due = now_ms() + 1000;
  if (d->again || d->n_next) {
    d->again = 0;
    round_start(d);
  } else {
    arm(d, next_due);
  }
  for (size_t i = 0; i < n; i++)
    w[i](d->srv);
}

struct hook_job {
  struct srv_dbjob job;
  struct srv_ding_sched *d;
  bool found, recorded;
  struct store_ding_webhook w;
  long status;
  int ok;
  char detail[256];
  int64_t retry_ms;
  int64_t next_due;
};

static void hook_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct hook_job *hj = (struct hook_job *)job;
  struct srv_ding_sched *d = hj->d;
  const struct srv_config *cfg = d->srv->cfg;
  int rc;

  if (!conn) {
    job->rc = STORE_EUNAVAIL;
    return;
  }
  /* The claim outlives the request by a margin, so that our own record
   * is never late for it. */
  rc = store_ding_webhook_claim(conn, d->node, cfg->webhook_timeout + 30,
                                &hj->w, &hj->found);
  if (rc == STORE_OK && hj->found) {
    const char *outcome;

    if (!hj->w.url[0]) {
      outcome = "skipped";
      snprintf(hj->detail, sizeof(hj->detail),
               "the organisation has no webhook any more");
    } else {
      hj->ok = srv_webhook_post(hj->w.url, hj->w.payload,
                                (long)cfg->webhook_timeout * 1000,
                                &hj->status, hj->detail,
                                sizeof(hj->detail)) == 0;
      outcome = hj->ok ? "ok" : "failed";
    }
    rc = store_ding_webhook_record(conn, &hj->w, d->node, outcome,
                                   (int)hj->status, hj->detail, d->retries,
                                   d->nretries, &hj->recorded, &hj->retry_ms);
  }
  if (rc == STORE_OK)
    rc = store_ding_next_due(conn, &hj->next_due);
  job->rc = rc;
  if (rc != STORE_OK)
    srv_warn("ding", "webhook escalation: %s", store_errmsg(conn));
}

static void hook_submit(struct srv_ding_sched *d);

static void hook_done(struct srv_dbjob *job)
{
  struct hook_job *hj = (struct hook_job *)job;
  struct srv_ding_sched *d = hj->d;
  int64_t next_due = job->rc == STORE_OK ? hj->next_due : 0;
  bool more = job->rc == STORE_OK && hj->found;

  if (hj->found) {
    d->worked = 1;
    srv_metric_inc(hj->ok ? SRV_M_WEBHOOK_OK : SRV_M_WEBHOOK_FAILED);
    if (hj->ok)
      srv_info("ding", "escalation webhook for DING %lld:%lld, user %lld: "
               "attempt %d ok (%s)", (long long)hj->w.conversation_id,
               (long long)hj->w.seq, (long long)hj->w.user_id, hj->w.attempt,
               hj->detail);
    else
      srv_warn("ding", "escalation webhook for DING %lld:%lld, user %lld: "
               "attempt %d failed (%s); %s", (long long)hj->w.conversation_id,
               (long long)hj->w.seq, (long long)hj->w.user_id, hj->w.attempt,
               hj->detail,
               !hj->recorded ? "not recorded: another server took it over"
               : hj->retry_ms ? "will retry" : "no retry left");
  }
  free(hj->w.payload);
  free(hj);
  if (d->closing) {
    d->running = 0;
    return;
  }
  if (more)
    hook_submit(d);
  else
    round_end(d, next_due);
}

static void hook_submit(struct srv_ding_sched *d)
{
  struct hook_job *hj = calloc(1, sizeof(*hj));

  if (!hj) {
    round_end(d, 0);
    return;
  }
  hj->job.run = hook_run;
  hj->job.done = hook_done;
  hj->d = d;
  srv_dbpool_submit(d->pool, &hj->job);
}

struct fire_job {
  struct srv_dbjob job;
  struct srv_ding_sched *d;
  struct store_ding_event *ev;
  size_t nev;
  struct store_ding_note *notes;
  size_t nn;
};

/* Appends b[0..nb-1] (size-byte elements) to *a / *na; frees b. */
static int append(void **a, size_t *na, void *b, size_t nb, size_t size)
{
  char *p;

  if (nb == 0) {
    free(b);
    return 0;
  }
  if (!(p = realloc(*a, (*na + nb) * size))) {
    free(b);
    return -1;
  }
  memcpy(p + *na * size, b, nb * size);
  *a = p;
  *na += nb;
  free(b);
  return 0;
}

static void fire_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct fire_job *fj = (struct fire_job *)job;

  if (!conn) {
    job->rc = STORE_EUNAVAIL;
    return;
  }
  for (int i = 0; i < FIRE_CALLS; i++) {
    struct store_ding_event *ev = NULL;
    struct store_ding_note *notes = NULL;
    size_t nev = 0, nn = 0;
    int rc = store_ding_fire(conn, fj->d->node, FIRE_BATCH, &ev, &nev,
                             &notes, &nn);

    if (rc != STORE_OK) {
      /* What fired in earlier calls is committed: send it. */
      srv_warn("ding", "firing due DING steps: %s", store_errmsg(conn));
      break;
    }
    if (append((void **)&fj->ev, &fj->nev, ev, nev, sizeof(*ev)) != 0 ||
        append((void **)&fj->notes, &fj->nn, notes, nn, sizeof(*notes)) !=
            0) {
      srv_err("ding", "out of memory: fired DING steps are in the feed "
              "only");
      break;
    }
    if (nev < FIRE_BATCH)
      break;
  }
  job->rc = STORE_OK;
}

static void send_event(struct srv_server *srv,
                       const struct store_ding_event *e)
{
  struct proto_ding_alert a;

  memset(&a, 0, sizeof(a));
  a.conv = (uint64_t)e->conversation_id;
  a.seq = (uint64_t)e->seq;
  a.from = (uint64_t)e->sender_id;
  a.urg = e->urgency == STORE_URG_CRITICAL ? PROTO_URG_CRITICAL
          : e->urgency == STORE_URG_URGENT ? PROTO_URG_URGENT
                                           : PROTO_URG_NORMAL;
  a.step = (uint64_t)(e->step > 1000 ? 1000 : e->step);
  a.overrode_quiet = e->overrode_quiet;
  switch (e->what) {
  case STORE_DING_DEFERRED:
    srv_debug("ding", "DING %lld:%lld, user %lld: quiet hours, step "
              "deferred", (long long)e->conversation_id, (long long)e->seq,
              (long long)e->user_id);
    break;
  case STORE_DING_REALERT:
    srv_metric_inc(SRV_M_DING_REALERTS);
    srv_debug("ding", "DING %lld:%lld, user %lld: re-alert %d%s",
              (long long)e->conversation_id, (long long)e->seq,
              (long long)e->user_id, e->step,
              e->overrode_quiet ? " (through quiet hours)" : "");
    srv_ding_alert(srv, e->user_id, &a);
    break;
  case STORE_DING_ESCALATED:
    srv_metric_inc(e->manager_id ? SRV_M_DING_ESCALATED_MGR
                                 : SRV_M_DING_ESCALATED);
    srv_info("ding", "DING %lld:%lld, user %lld: not acknowledged after %d "
             "alert(s): escalated to %s%lld%s",
             (long long)e->conversation_id, (long long)e->seq,
             (long long)e->user_id, e->step,
             e->manager_id ? "manager user " : "no manager",
             (long long)e->manager_id, e->webhook ? ", webhook queued" : "");
    if (e->manager_id) {
      a.about = (uint64_t)e->user_id;
      srv_ding_alert(srv, e->manager_id, &a);
    }
    break;
  }
}

static void fire_done(struct srv_dbjob *job)
{
  struct fire_job *fj = (struct fire_job *)job;
  struct srv_ding_sched *d = fj->d;

  if (!d->closing) {
    for (size_t i = 0; i < fj->nev; i++) {
      if (fj->ev[i].what != STORE_DING_DEFERRED)
        d->worked = 1;
      send_event(d->srv, &fj->ev[i]);
    }
    srv_ding_push_notes(d->srv, fj->notes, fj->nn);
  }
  free(fj->ev);
  free(fj->notes);
  free(fj);
  if (d->closing) {
    d->running = 0;
    return;
  }
  hook_submit(d);
}

static void round_start(struct srv_ding_sched *d)
{
  struct fire_job *fj;

  if (d->closing)
    return;
  if (!(fj = calloc(1, sizeof(*fj)))) {
    arm(d, now_ms() + 1000);
    return;
  }
  d->running = 1;
  d->worked = 0;
  memcpy(d->now_waiters, d->next_waiters, d->n_next * sizeof(waiter_fn));
  d->n_now = d->n_next;
  d->n_next = 0;
  if (d->armed_at) {
    uv_timer_stop(&d->timer);
    d->armed_at = 0;
  }
  fj->job.run = fire_run;
  fj->job.done = fire_done;
  fj->d = d;
  srv_dbpool_submit(d->pool, &fj->job);
}

void srv_ding_sched_now(struct srv_server *srv,
                        void (*done)(struct srv_server *srv))
{
  struct srv_ding_sched *d = srv->ding;
  size_t i;

  if (!d || d->closing) {
    if (done)
      done(srv);
    return;
  }
  for (i = 0; done && i < d->n_next && d->next_waiters[i] != done; i++)
    ;
  if (done && i == d->n_next) {
    if (d->n_next == WAITERS_MAX) {
      done(srv);              /* cannot happen with the one caller */
      return;
    }
    d->next_waiters[d->n_next++] = done;
  }
  if (d->running)
    d->again = 1;
  else
    round_start(d);
}

/* ---- life cycle ---- */

int srv_ding_sched_init(struct srv_server *srv)
{
  struct srv_ding_sched *d = calloc(1, sizeof(*d));
  char host[64] = "";

  if (!d) {
    srv_err("ding", "out of memory");
    return -1;
  }
  srv->ding = d;
  d->srv = srv;
  if (parse_retries(d, srv->cfg->webhook_retries) != 0) {
    srv_err("ding", "webhook-retries: \"%s\" is not a list of seconds",
            srv->cfg->webhook_retries);
    return -1;
  }
  if (srv_webhook_global_init() != 0) {
    srv_err("ding", "cannot initialise the HTTP client");
    return -1;
  }
  gethostname(host, sizeof(host) - 1);
  snprintf(d->node, sizeof(d->node), "%s:%ld", host[0] ? host : "heraldd",
           (long)getpid());
  uv_timer_init(&srv->loop, &d->timer);
  d->timer.data = d;
  d->timer_init = 1;
  /* Two threads: a round's webhook request never holds up the next
   * round's steps for long, and the loop never waits for either. */
  d->pool = srv_dbpool_new(&srv->loop, "ding", srv->conninfo, 2, 1, NULL);
  if (!d->pool)
    return -1;
  round_start(d);
  return 0;
}

void srv_ding_sched_close(struct srv_server *srv)
{
  struct srv_ding_sched *d = srv->ding;

  if (!d || d->closing)
    return;
  d->closing = 1;
  if (d->timer_init)
    uv_timer_stop(&d->timer);
  srv_dbpool_free(d->pool);
  d->pool = NULL;
  if (d->timer_init && !uv_is_closing((uv_handle_t *)&d->timer))
    uv_close((uv_handle_t *)&d->timer, NULL);
}

void srv_ding_sched_cleanup(struct srv_server *srv)
{
  struct srv_ding_sched *d = srv->ding;

  if (!d)
    return;
  srv_webhook_global_cleanup();
  free(d);
  srv->ding = NULL;
}
