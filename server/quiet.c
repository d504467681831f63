/*
 * quiet.c — connected users' quiet-hours states, their refresh timer and
 * the live quiet_state pushes (see quiet_int.h).
 */
#include "clock_int.h"
#include "dbpool_int.h"
#include "log_int.h"
#include "quiet_int.h"
#include "server_int.h"
#include "session_int.h"

#include "store.h"

#include <stdlib.h>
#include <string.h>

/* Longest a cached state goes without a refresh. */
#define QUIET_MAX_AGE_MS (10 * 60 * 1000)
/* A failed refresh is tried again after this. */
#define QUIET_RETRY_MS 5000
/* Users whose refresh falls due this close together share a job. */
#define QUIET_SLACK_MS 50
/* Users per refresh job (one statement). */
#define QUIET_BATCH 128

struct quser {
  int64_t uid;
  bool in_quiet;
  int64_t flip_ms;      /* when in_quiet flips; 0 = never */
  int64_t check_ms;     /* when to refresh */
  bool refreshing;      /* a job is fetching it */
};

struct srv_quiet {
  struct srv_server *srv;
  struct srv_intmap users;   /* uid -> struct quser * */
  uv_timer_t timer;
  bool timer_on;
  int64_t timer_at;          /* clock ms the timer is set for */
  bool closed;
  unsigned resync_jobs;      /* jobs of running resyncs */
  void (*resync_done)(struct srv_server *srv);
};

struct qjob {
  struct srv_dbjob job;
  struct srv_server *srv;
  bool resync;
  int64_t at_ms;
  size_t n;
  int64_t uids[QUIET_BATCH];
  struct store_quiet_brief out[QUIET_BATCH];
};

static void timer_cb(uv_timer_t *t);

int srv_quiet_init(struct srv_server *srv)
{
  struct srv_quiet *q = calloc(1, sizeof(*q));

  if (!q)
    return -1;
  q->srv = srv;
  uv_timer_init(&srv->loop, &q->timer);
  q->timer.data = q;
  srv->quiet = q;
  return 0;
}

void srv_quiet_close(struct srv_server *srv)
{
  struct srv_quiet *q = srv->quiet;

  if (!q || q->closed)
    return;
  q->closed = true;
  uv_timer_stop(&q->timer);
  uv_close((uv_handle_t *)&q->timer, NULL);
}

void srv_quiet_cleanup(struct srv_server *srv)
{
  struct srv_quiet *q = srv->quiet;

  if (!q)
    return;
  for (size_t i = 0; i < q->users.cap; i++)
    if (q->users.slots[i].key)
      free(q->users.slots[i].val);
  srv_intmap_cleanup(&q->users);
  free(q);
  srv->quiet = NULL;
}

/* Arms the timer for `at` unless it is already set earlier. */
static void arm(struct srv_quiet *q, int64_t at)
{
  int64_t now = (int64_t)srv_clock_now_ms();

  if (q->closed || (q->timer_on && q->timer_at <= at))
    return;
  q->timer_on = true;
  q->timer_at = at;
  uv_timer_start(&q->timer, timer_cb, at > now ? (uint64_t)(at - now) : 0, 0);
}

/* Takes a fetched state; returns whether in_quiet changed. */
static bool apply(struct quser *u, bool in_quiet, int64_t until_ms,
                  int64_t next_ms, int64_t at_ms)
{
  bool changed = u->in_quiet != in_quiet;
  int64_t check = at_ms + QUIET_MAX_AGE_MS;

  u->in_quiet = in_quiet;
  u->flip_ms = in_quiet ? until_ms : next_ms;
  if (u->flip_ms && u->flip_ms < check)
    check = u->flip_ms;
  u->check_ms = check;
  return changed;
}

static void push(struct srv_server *srv, int64_t uid,
                 const struct proto_quiet_state *st,
                 struct srv_session *except)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_QUIET_STATE);
  f.u.quiet_state = *st;
  for (struct srv_session *s = srv_sessions_of_user(srv, uid); s;
       s = s->user_next)
    if (s != except && s->state == SRV_SESS_READY && srv_session_open(s))
      srv_session_send(s, &f);
}

static struct quser *get_or_add(struct srv_quiet *q, int64_t uid)
{
  struct quser *u = srv_intmap_get(&q->users, uid);

  if (u)
    return u;
  if (!(u = calloc(1, sizeof(*u))))
    return NULL;
  u->uid = uid;
  if (srv_intmap_put(&q->users, uid, u) != 0) {
    free(u);
    return NULL;
  }
  return u;
}

void srv_quiet_user_seen(struct srv_server *srv, int64_t uid,
                         const struct store_quiet_state *st)
{
  struct srv_quiet *q = srv->quiet;
  struct quser *u = get_or_add(q, uid);

  if (!u)
    return;     /* not cached: delivered without the silent flag */
  if (st)
    apply(u, st->in_quiet, st->until_ms, st->next_ms, st->at_ms);
  else
    u->check_ms = (int64_t)srv_clock_now_ms();
  if (!u->refreshing)
    arm(q, u->check_ms);
}

void srv_quiet_user_gone(struct srv_server *srv, int64_t uid)
{
  if (srv->quiet)
    free(srv_intmap_del(&srv->quiet->users, uid));
}

void srv_quiet_user_changed(struct srv_server *srv, int64_t uid,
                            const struct store_quiet_state *st,
                            struct srv_session *except)
{
  struct proto_window org[STORE_QUIET_WINDOWS_MAX],
                      own[STORE_QUIET_WINDOWS_MAX];
  struct proto_quiet_state ps;

  srv_quiet_user_seen(srv, uid, st);
  srv_quiet_to_proto(st, &ps, org, own);
  push(srv, uid, &ps, except);
}

void srv_quiet_recheck_all(struct srv_server *srv)
{
  struct srv_quiet *q = srv->quiet;
  int64_t now = (int64_t)srv_clock_now_ms();

  if (!q || q->closed)
    return;
  for (size_t i = 0; i < q->users.cap; i++) {
    struct quser *u = q->users.slots[i].val;

    if (q->users.slots[i].key && u)
      u->check_ms = now;
  }
  arm(q, now);
}

bool srv_quiet_silent(struct srv_server *srv, int64_t uid, uint64_t now_ms)
{
  struct quser *u;

  if (!uid || !srv->quiet || !(u = srv_intmap_get(&srv->quiet->users, uid)))
    return false;
  if (u->flip_ms && (int64_t)now_ms >= u->flip_ms)
    return !u->in_quiet;   /* flipped; the refresh is on its way */
  return u->in_quiet;
}

/* ------------------------------------------------------------------------ */
/* Refreshes. */

static void job_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct qjob *j = (struct qjob *)job;

  job->rc = conn ? store_quiet_states(conn, j->uids, j->n, j->at_ms, j->out)
                 : STORE_EUNAVAIL;
}

static void job_done(struct srv_dbjob *job)
{
  struct qjob *j = (struct qjob *)job;
  struct srv_server *srv = j->srv;
  struct srv_quiet *q = srv->quiet;
  int64_t now = (int64_t)srv_clock_now_ms();

  if (job->rc != STORE_OK)
    srv_warn("quiet", "refreshing %zu quiet-hours states failed: %s", j->n,
             store_strerror(job->rc));
  for (size_t i = 0; i < j->n; i++) {
    const struct store_quiet_brief *b = &j->out[i];
    struct quser *u = srv_intmap_get(&q->users, j->uids[i]);

    if (!u)
      continue;   /* gone meanwhile */
    u->refreshing = false;
    if (job->rc != STORE_OK || !b->known) {
      u->check_ms = now + QUIET_RETRY_MS;
    } else if (apply(u, b->in_quiet, b->until_ms, b->next_ms, b->at_ms)) {
      struct proto_quiet_state ps;

      memset(&ps, 0, sizeof(ps));
      ps.in_quiet = b->in_quiet;
      ps.until = (uint64_t)b->until_ms;
      ps.next = (uint64_t)b->next_ms;
      ps.tz = (struct proto_str){b->time_zone, strlen(b->time_zone)};
      srv_debug("quiet", "user %lld %s quiet hours", (long long)u->uid,
                b->in_quiet ? "enters" : "leaves");
      push(srv, u->uid, &ps, NULL);
    }
    arm(q, u->check_ms);
  }
  if (j->resync && --q->resync_jobs == 0 && q->resync_done) {
    void (*done)(struct srv_server *) = q->resync_done;

    q->resync_done = NULL;
    done(srv);
  }
  free(j);
}

/* Starts jobs for every user that `due` selects; returns how many jobs. */
static unsigned refresh(struct srv_quiet *q, int64_t now, bool all)
{
  struct qjob *j = NULL;
  unsigned jobs = 0;
  int64_t next = 0;

  for (size_t i = 0; i < q->users.cap; i++) {
    struct quser *u = q->users.slots[i].val;

    if (!q->users.slots[i].key || (u->refreshing && !all))
      continue;
    if (!all && u->check_ms > now + QUIET_SLACK_MS) {
      if (!next || u->check_ms < next)
        next = u->check_ms;
      continue;
    }
    if (!j) {
      if (!(j = calloc(1, sizeof(*j)))) {
        /* Try again shortly rather than lose the refresh. */
        if (!next || now + QUIET_RETRY_MS < next)
          next = now + QUIET_RETRY_MS;
        break;
      }
      j->job.run = job_run;
      j->job.done = job_done;
      j->srv = q->srv;
      j->resync = all;
      j->at_ms = now;
    }
    u->refreshing = true;
    /* A refresh that falls due a moment from now is computed for that
     * moment, so that it sees the flip rather than the state before. */
    if (u->check_ms > j->at_ms && !all)
      j->at_ms = u->check_ms;
    j->uids[j->n++] = u->uid;
    if (j->n == QUIET_BATCH) {
      srv_dbpool_submit(q->srv->reader, &j->job);
      jobs++;
      j = NULL;
    }
  }
  if (j) {
    srv_dbpool_submit(q->srv->reader, &j->job);
    jobs++;
  }
  if (next)
    arm(q, next);
  return jobs;
}

static void timer_cb(uv_timer_t *t)
{
  struct srv_quiet *q = t->data;

  q->timer_on = false;
  if (!q->srv->stopping)
    refresh(q, (int64_t)srv_clock_now_ms(), false);
}

void srv_quiet_resync(struct srv_server *srv,
                      void (*done)(struct srv_server *srv))
{
  struct srv_quiet *q = srv->quiet;
  unsigned jobs;

  if (q->closed || srv->stopping || !srv->reader) {
    done(srv);
    return;
  }
  /* Timers were set for the old time; the answers re-arm them. */
  uv_timer_stop(&q->timer);
  q->timer_on = false;
  jobs = refresh(q, (int64_t)srv_clock_now_ms(), true);
  q->resync_jobs += jobs;
  if (q->resync_jobs == 0)
    done(srv);
  else
    q->resync_done = done;
}

/* ------------------------------------------------------------------------ */

static void windows_to_proto(const struct store_quiet_window *in, size_t n,
                             struct proto_window *out)
{
  for (size_t i = 0; i < n; i++) {
    out[i].day = (uint64_t)in[i].day;
    out[i].start = (uint64_t)in[i].start;
    out[i].end = (uint64_t)in[i].end;
  }
}

void srv_quiet_to_proto(const struct store_quiet_state *st,
                        struct proto_quiet_state *out,
                        struct proto_window *org, struct proto_window *own)
{
  memset(out, 0, sizeof(*out));
  out->in_quiet = st->in_quiet;
  out->until = (uint64_t)st->until_ms;
  out->next = (uint64_t)st->next_ms;
  out->tz = (struct proto_str){st->time_zone, strlen(st->time_zone)};
  windows_to_proto(st->org, st->n_org, org);
  windows_to_proto(st->own, st->n_own, own);
  out->org = org;
  out->norg = st->n_org;
  out->own = own;
  out->nown = st->n_own;
}
