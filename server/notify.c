/*
 * notify.c — the node's LISTEN connection and what it does with other
 * nodes' notifications (see notify_int.h).
 */
#include "dbpool_int.h"
#include "delivery_int.h"
#include "log_int.h"
#include "notify_int.h"
#include "quiet_int.h"
#include "server_int.h"

#include "store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* This process's node id: 16 hex digits, set once before any thread. */
static char node_id[17];

/* A poll handle lives on its own: libpq may change the socket while
 * connecting, and a handle is freed only after its close callback. */
struct npoll {
  uv_poll_t h;
  struct srv_notify *n;
};

struct srv_notify {
  struct srv_server *srv;
  struct store_listener *l;
  struct npoll *poll;          /* NULL when not polling */
  int poll_fd;
  int poll_events;
  uv_timer_t retry;
  unsigned backoff_ms;
  bool listening;
  bool stopped;
  struct srv_intmap feed_last; /* user id -> last fs notified (intptr_t) */
};

struct catchup_job {
  struct srv_dbjob job;
  struct srv_server *srv;
  int64_t *convs, *conv_last;
  size_t nconv;
  int64_t *users, *user_last;
  size_t nuser;
};

static void on_poll(uv_poll_t *h, int status, int events);
static void connect_now(struct srv_notify *n);

int srv_notify_set_node(void)
{
  uint8_t b[8];
  const char *old = getenv("PGOPTIONS");
  char *v;
  size_t len;
  int rc;

  randombytes_buf(b, sizeof(b));
  for (int i = 0; i < 8; i++)
    snprintf(node_id + 2 * i, 3, "%02x", b[i]);
  /* Keep whatever options the operator set; ours goes last. */
  len = (old ? strlen(old) : 0) + 64;
  if (!(v = malloc(len)))
    return -1;
  snprintf(v, len, "%s%s-c herald.node=%s", old ? old : "",
           old && *old ? " " : "", node_id);
  rc = setenv("PGOPTIONS", v, 1);
  free(v);
  return rc == 0 ? 0 : -1;
}

int64_t srv_notify_feed_last(struct srv_server *srv, int64_t uid)
{
  return srv->notify
             ? (int64_t)(intptr_t)srv_intmap_get(&srv->notify->feed_last, uid)
             : 0;
}

/* ---- catching up after the listener was away ---- */

static void catchup_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct catchup_job *cj = (struct catchup_job *)job;

  if (!conn) {
    job->rc = STORE_EUNAVAIL;
    return;
  }
  job->rc = store_conv_last_seqs(conn, cj->convs, cj->nconv, cj->conv_last);
  if (job->rc == STORE_OK)
    job->rc = store_feed_heads(conn, cj->users, cj->nuser, cj->user_last);
}

static void catchup_free(struct catchup_job *cj)
{
  free(cj->convs);
  free(cj->conv_last);
  free(cj->users);
  free(cj->user_last);
  free(cj);
}

static void catchup_done(struct srv_dbjob *job)
{
  struct catchup_job *cj = (struct catchup_job *)job;
  struct srv_server *srv = cj->srv;

  if (job->rc != STORE_OK || srv->stopping || !srv->notify) {
    if (job->rc != STORE_OK)
      srv_warn("notify", "catching up failed: %s (clients catch up on their "
               "next sync)", store_strerror(job->rc));
    catchup_free(cj);
    return;
  }
  for (size_t i = 0; i < cj->nconv; i++)
    if (cj->conv_last[i] > 0)
      srv_delivery_hint(srv, cj->convs[i], cj->conv_last[i]);
  for (size_t i = 0; i < cj->nuser; i++) {
    int64_t known = srv_notify_feed_last(srv, cj->users[i]);

    /* Without a known position the devices are where their sync left
     * them; a later entry's gap makes them sync again. */
    if (known > 0 && cj->user_last[i] > known) {
      srv_intmap_put(&srv->notify->feed_last, cj->users[i],
                     (void *)(intptr_t)cj->user_last[i]);
      srv_feed_push_live(srv, cj->users[i], known);
    }
  }
  srv_info("notify", "caught up %zu conversations and %zu feeds", cj->nconv,
           cj->nuser);
  catchup_free(cj);
}

static int64_t *keys_of(const struct srv_intmap *m, size_t *n)
{
  int64_t *v = NULL;
  size_t k = 0;

  if (m->cap && !(v = calloc(m->cap, sizeof(*v))))
    return NULL;
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key && m->slots[i].val)
      v[k++] = m->slots[i].key;
  *n = k;
  return v;
}

static void catch_up(struct srv_server *srv)
{
  struct catchup_job *cj = calloc(1, sizeof(*cj));

  if (!cj)
    return;
  cj->job.run = catchup_run;
  cj->job.done = catchup_done;
  cj->srv = srv;
  cj->convs = keys_of(&srv->subs, &cj->nconv);
  cj->users = keys_of(&srv->users, &cj->nuser);
  cj->conv_last = calloc(cj->nconv + 1, sizeof(int64_t));
  cj->user_last = calloc(cj->nuser + 1, sizeof(int64_t));
  if ((srv->subs.cap && !cj->convs) || (srv->users.cap && !cj->users) ||
      !cj->conv_last || !cj->user_last) {
    catchup_free(cj);
    return;
  }
  srv_dbpool_submit(srv->reader, &cj->job);
}

/* ---- notifications ---- */

static void on_note(void *arg, const char *payload)
{
  struct srv_notify *n = arg;
  struct srv_server *srv = n->srv;
  char kind;
  const char *node, *p;
  long long a = 0, b = 0;
  bool own;

  if (!payload[0] || payload[1] != ':')
    return;
  kind = payload[0];
  node = payload + 2;
  if (!(p = strchr(node, ':')))
    return;
  own = (size_t)(p - node) == strlen(node_id) &&
        memcmp(node, node_id, strlen(node_id)) == 0;
  if (sscanf(p + 1, "%lld:%lld", &a, &b) < 1)
    return;
  switch (kind) {
  case 'm':
    /* Our own commits were published when they committed here. */
    if (!own && a > 0 && b > 0)
      srv_delivery_remote(srv, a, b);
    break;
  case 'f': {
    int64_t known = srv_notify_feed_last(srv, a);

    if (a <= 0 || b <= known)
      break;
    srv_intmap_put(&n->feed_last, a, (void *)(intptr_t)b);
    if (!own && srv_sessions_of_user(srv, a))
      srv_feed_push_live(srv, a, known > 0 ? known : b - 1);
    break;
  }
  case 'q':
    if (!own)
      srv_quiet_recheck_all(srv);
    break;
  default:
    break;
  }
}

/* ---- the connection ---- */

static void poll_closed(uv_handle_t *h)
{
  free(h->data);
}

static void poll_off(struct srv_notify *n)
{
  if (n->poll) {
    uv_close((uv_handle_t *)&n->poll->h, poll_closed);
    n->poll = NULL;
  }
}

static void retry_cb(uv_timer_t *t)
{
  connect_now(t->data);
}

/* The connection failed or was lost: start over after the backoff. */
static void drop(struct srv_notify *n, const char *why)
{
  poll_off(n);              /* before the socket closes */
  store_listener_close(n->l);
  n->l = NULL;
  if (n->listening)
    srv_warn("notify", "LISTEN connection lost: %s (reconnecting)", why);
  else
    srv_warn("notify", "%s (retry in %u ms)", why, n->backoff_ms);
  n->listening = false;
  if (n->stopped)
    return;
  uv_timer_start(&n->retry, retry_cb, n->backoff_ms, 0);
  n->backoff_ms = n->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                     : n->backoff_ms * 2;
}

/* Polls the listener's current socket for `want`. */
static int watch(struct srv_notify *n, int want)
{
  int fd = store_listener_socket(n->l);
  int ev = (want & STORE_LISTEN_READ ? UV_READABLE : 0) |
           (want & STORE_LISTEN_WRITE ? UV_WRITABLE : 0);

  if (fd < 0)
    return -1;
  if (n->poll && n->poll_fd != fd)
    poll_off(n);
  if (!n->poll) {
    if (!(n->poll = calloc(1, sizeof(*n->poll))))
      return -1;
    n->poll->n = n;
    n->poll->h.data = n->poll;
    if (uv_poll_init(&n->srv->loop, &n->poll->h, fd) != 0) {
      free(n->poll);
      n->poll = NULL;
      return -1;
    }
    n->poll_fd = fd;
    n->poll_events = 0;
  }
  if (ev != n->poll_events &&
      uv_poll_start(&n->poll->h, ev, on_poll) != 0)
    return -1;
  n->poll_events = ev;
  return 0;
}

static void step(struct srv_notify *n)
{
  char err[256];
  int want = 0;
  bool listening = false, was = n->listening;

  if (store_listener_step(n->l, on_note, n, &want, &listening, err,
                          sizeof(err)) != STORE_OK) {
    drop(n, err);
    return;
  }
  n->listening = listening;
  if (watch(n, want) != 0) {
    drop(n, "cannot watch the LISTEN connection's socket");
    return;
  }
  if (listening && !was) {
    n->backoff_ms = BACKOFF_MIN_MS;
    srv_info("notify", "listening for other nodes (node %s)", node_id);
    /* Whatever committed while nobody listened (or before the first
     * LISTEN): fetched by cursor. */
    catch_up(n->srv);
  }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
  struct npoll *p = h->data;
  struct srv_notify *n = p->n;

  (void)events;
  if (p != n->poll || !n->l)
    return;
  if (status < 0) {
    drop(n, uv_strerror(status));
    return;
  }
  step(n);
}

static void connect_now(struct srv_notify *n)
{
  char err[256];

  if (n->stopped || n->srv->stopping)
    return;
  if (store_listener_start(n->srv->conninfo, &n->l, err, sizeof(err)) !=
      STORE_OK) {
    drop(n, err);
    return;
  }
  if (watch(n, STORE_LISTEN_WRITE) != 0)
    drop(n, "cannot watch the LISTEN connection's socket");
}

int srv_notify_start(struct srv_server *srv)
{
  struct srv_notify *n = calloc(1, sizeof(*n));

  if (!n)
    return -1;
  n->srv = srv;
  n->backoff_ms = BACKOFF_MIN_MS;
  uv_timer_init(&srv->loop, &n->retry);
  n->retry.data = n;
  srv->notify = n;
  connect_now(n);
  return 0;
}

void srv_notify_stop(struct srv_server *srv)
{
  struct srv_notify *n = srv->notify;

  if (!n || n->stopped)
    return;
  n->stopped = true;
  poll_off(n);
  store_listener_close(n->l);
  n->l = NULL;
  uv_timer_stop(&n->retry);
  uv_close((uv_handle_t *)&n->retry, NULL);
}

void srv_notify_cleanup(struct srv_server *srv)
{
  struct srv_notify *n = srv->notify;

  if (!n)
    return;
  srv_intmap_cleanup(&n->feed_last);
  free(n);
  srv->notify = NULL;
}
