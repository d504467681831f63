/*
 * conn.c — one connection of one user to one server: its configuration,
 * its state machine, its timer and the events it reports.
 *
 *   IDLE --start--> CONNECTING --welcome--> ONLINE
 *                      |  ^                   |
 *            drop/fail |  | timer             | drop
 *                      v  |                   v
 *                     OFFLINE <---------------+
 *   refused credentials, logout -> STOPPED (hc_conn_start() restarts)
 *
 * Reconnects wait a full-jitter exponential backoff (backoff.c); the
 * attempt counter is reset only after a connection stayed online for 30 s,
 * so a server that accepts and then drops at once is not hammered.
 *
 * One uv timer per connection serves every deadline: the reconnect, the
 * end of an outbox hold (a retryable refusal), a delayed re-sync and the
 * cursor save (at most once a second). hc_conn_free() may be called from
 * the connection's own callbacks: `busy` counts our frames on the stack
 * and the outermost one finishes the free. The struct itself is freed in
 * the timer's close callback, so it outlives every callback in progress.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hc_int.h"

#define STABLE_MS 30000          /* online this long: backoff starts over */
#define DEFAULT_SFRAME (1u << 20) /* PROTOCOL.md 8, until the welcome */
#define MAX_SFRAME (64u << 20)   /* never buffer more, whatever it says */
#define TOKEN_FILE "token"
#define DEVICE_FILE "device"

static const char *const state_names[] = {"idle", "connecting", "online",
                                          "offline", "stopped"};

const char *hc_state_name(enum hc_state s)
{
  return (unsigned)s < sizeof state_names / sizeof *state_names
             ? state_names[s] : "unknown";
}

static uint64_t wall_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t hc_conn_now(const struct hc_conn *c)
{
  return uv_now(c->ctx->loop);
}

size_t hc_conn_max_frame(const struct hc_conn *c)
{
  return c->have_info && c->info.lim.frame ? (size_t)c->info.lim.frame
                                           : PROTO_DEFAULT_MAX_FRAME;
}

size_t hc_conn_max_sframe(const struct hc_conn *c)
{
  uint64_t v = c->have_info && c->info.lim.sframe ? c->info.lim.sframe
                                                  : DEFAULT_SFRAME;
  return v > MAX_SFRAME ? MAX_SFRAME : (size_t)v;
}

/* ---- strings and secrets ---- */

static void free_secret(char **p)
{
  if (*p) {
    explicit_bzero(*p, strlen(*p));
    free(*p);
    *p = NULL;
  }
}

static int dup_str(char **dst, const char *src)
{
  char *d = NULL;

  if (src && !(d = strdup(src)))
    return -ENOMEM;
  free_secret(dst);
  *dst = d;
  return 0;
}

/* ---- events, entry and exit ---- */

void hc_emit(struct hc_conn *c, struct hc_event *ev)
{
  /* Nothing reaches the application after it freed the connection. */
  if (c->free_pending || !c->on_event)
    return;
  c->on_event(c, ev, c->arg);
}

static void set_state(struct hc_conn *c, enum hc_state st, int err,
                      unsigned retry_ms)
{
  struct hc_event ev = {.type = HC_EV_STATE, .state = st, .err = err,
                        .retry_ms = retry_ms};

  c->state = st;
  hc_emit(c, &ev);
}

static void finish_free(struct hc_conn *c);

void hc_conn_enter(struct hc_conn *c)
{
  c->busy++;
  c->ctx->depth++;
}

void hc_conn_leave(struct hc_conn *c)
{
  c->ctx->depth--;
  if (--c->busy == 0 && c->free_pending && !c->freed)
    finish_free(c);
}

/* ---- the timer ---- */

static void connect_now(struct hc_conn *c);

static void timer_cb(uv_timer_t *t)
{
  struct hc_conn *c = t->data;
  uint64_t now = hc_conn_now(c);

  hc_conn_enter(c);
  if (c->reconnect_at && now >= c->reconnect_at) {
    c->reconnect_at = 0;
    connect_now(c);
  }
  if (c->hold_until && now >= c->hold_until) {
    c->hold_until = 0;
    hc_transport_kick(c);
  }
  if (c->resync_at && now >= c->resync_at && !c->free_pending) {
    c->resync_at = 0;
    hc_sync_timer(c);
  }
  if (c->flush_at && now >= c->flush_at && !c->free_pending) {
    c->flush_at = 0;
    hc_conn_flush(c);
  }
  hc_conn_arm(c);
  hc_conn_leave(c);
}

void hc_conn_arm(struct hc_conn *c)
{
  uint64_t dl = 0, now = hc_conn_now(c);
  uint64_t v[4] = {c->reconnect_at, c->hold_until, c->resync_at, c->flush_at};

  if (c->free_pending)
    return;
  for (int i = 0; i < 4; i++)
    if (v[i] && (!dl || v[i] < dl))
      dl = v[i];
  if (!dl)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, timer_cb, dl > now ? dl - now : 0, 0);
}

/* ---- cursors on disk ---- */

void hc_conn_cursors_changed(struct hc_conn *c)
{
  if (!c->have_sd || c->flush_at || !c->cur.dirty)
    return;
  c->flush_at = hc_conn_now(c) + 1000;
  hc_conn_arm(c);
}

int hc_conn_flush(struct hc_conn *c)
{
  struct hc_event ev = {.type = HC_EV_ERROR};
  int rc;

  if (!c->have_sd || !c->cur.dirty)
    return 0;
  c->flush_at = 0;
  if ((rc = hc_cursors_save(&c->cur, &c->sd)) != 0) {
    /* Nothing is lost yet (the cursors are in memory, and a stale file
     * only means duplicates that seq order drops); say so, and retry
     * with the next change. */
    ev.err = rc;
    hc_emit(c, &ev);
  }
  return rc;
}

/* ---- state directory ---- */

static void trim(char *s)
{
  size_t n = strlen(s);

  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
    s[--n] = '\0';
}

static void random_device(char out[64])
{
  uint64_t st = hc_rand_seed();

  snprintf(out, 64, "dev-%016llx%016llx", (unsigned long long)hc_rand64(&st),
           (unsigned long long)hc_rand64(&st));
}

static int open_state(struct hc_conn *c, const char *dir)
{
  char buf[600];
  ssize_t n;
  int rc;

  if ((rc = hc_statedir_open(&c->sd, dir)) != 0)
    return rc;
  c->have_sd = true;
  if ((rc = hc_outbox_open(&c->ob, &c->sd, 0)) != 0)
    return rc;
  if ((rc = hc_cursors_load(&c->cur, &c->sd)) != 0)
    return rc;
  if (!c->token) {
    n = hc_statedir_read(&c->sd, TOKEN_FILE, buf, sizeof buf);
    if (n > 0) {
      trim(buf);
      if (*buf && dup_str(&c->token, buf) != 0)
        return -ENOMEM;
    }
    explicit_bzero(buf, sizeof buf);
  }
  if (!c->device) {
    n = hc_statedir_read(&c->sd, DEVICE_FILE, buf, sizeof buf);
    if (n > 0)
      trim(buf);
    if (n <= 0 || !*buf || strlen(buf) > 128) {
      random_device(buf);
      if ((rc = hc_statedir_write(&c->sd, DEVICE_FILE, buf, strlen(buf))) != 0)
        return rc;
    }
    if (dup_str(&c->device, buf) != 0)
      return -ENOMEM;
  }
  return 0;
}

static void store_token(struct hc_conn *c, const struct proto_str *tok)
{
  char *t = malloc(tok->len + 1);

  if (!t)
    return;                 /* the password stays, so nothing is lost */
  memcpy(t, tok->p, tok->len);
  t[tok->len] = '\0';
  free_secret(&c->token);
  c->token = t;
  if (c->have_sd)
    hc_statedir_write(&c->sd, TOKEN_FILE, t, tok->len);
  /* From now on the token logs in; the password need not stay in memory.
   * (A failed save keeps the token for this process only.) */
  free_secret(&c->password);
}

static void forget_token(struct hc_conn *c)
{
  free_secret(&c->token);
  if (c->have_sd)
    hc_statedir_remove(&c->sd, TOKEN_FILE);
}

/* ---- servers: `url` and the fallbacks, tried in turn ---- */

static void free_urls(struct hc_conn *c)
{
  for (size_t i = 0; i < c->nurls; i++)
    free(c->urls[i]);
  free(c->urls);
  c->urls = NULL;
  c->nurls = 0;
}

/* Copies and checks every URL of `cfg`; a bad one fails hc_conn_new, and
 * so does a list mixing ws:// and wss:// (one TLS setting per connection).
 * Sets c->tls from them. */
static int set_urls(struct hc_conn *c, const struct hc_conn_config *cfg)
{
  size_t n = 1 + (cfg->more_urls ? cfg->n_more_urls : 0);
  struct hc_url url;
  int rc;

  if (!(c->urls = calloc(n, sizeof(*c->urls))))
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *u = i == 0 ? cfg->url : cfg->more_urls[i - 1];

    if (!u)
      return -EINVAL;
    if ((rc = hc_url_parse(u, &url)) != 0)
      return rc;
    if (i == 0)
      c->tls = url.tls;
    else if (url.tls != c->tls)
      return -EINVAL;
    if (dup_str(&c->urls[i], u))
      return -ENOMEM;
    c->nurls = i + 1;
  }
  return 0;
}

/* Makes `u` (checked by set_urls) the server the next attempt goes to. */
static int set_target(struct hc_conn *c, const char *u)
{
  struct hc_url url;
  char hosthdr[300];
  char *host = NULL, *path = NULL, *hh = NULL;
  int rc;

  if ((rc = hc_url_parse(u, &url)) != 0)
    return rc;
  if (strchr(url.host, ':'))
    snprintf(hosthdr, sizeof hosthdr, "[%s]:%d", url.host, url.port);
  else
    snprintf(hosthdr, sizeof hosthdr, "%s:%d", url.host, url.port);
  if (dup_str(&host, url.host) || dup_str(&path, url.path) ||
      dup_str(&hh, hosthdr)) {
    free(host);
    free(path);
    free(hh);
    return -ENOMEM;
  }
  free(c->host);
  free(c->path);
  free(c->hosthdr);
  c->host = host;
  c->path = path;
  c->hosthdr = hh;
  c->port = url.port;
  return 0;
}

/* ---- lifecycle ---- */

int hc_conn_new(struct hc_ctx *ctx, const struct hc_conn_config *cfg,
                struct hc_conn **out)
{
  struct hc_conn *c;
  int rc;

  *out = NULL;
  if (!ctx || !cfg || !cfg->url)
    return -EINVAL;
  if (!(c = calloc(1, sizeof *c)))
    return -ENOMEM;
  c->ctx = ctx;
  c->sd.dirfd = c->sd.lockfd = -1;
  hc_outbox_open(&c->ob, NULL, 0);
  hc_cursors_init(&c->cur);
  if ((rc = set_urls(c, cfg)) != 0 || (rc = set_target(c, c->urls[0])) != 0)
    goto fail;
  if (c->tls) {
    const char *ca = cfg->tls.ca_file;

    if (!ca && (ca = getenv("HERALD_CA_FILE")) && !*ca)
      ca = NULL;
    if ((rc = hc_ctx_tls_vhost(ctx, ca, &c->tls_vhost)) != 0)
      goto fail;
    c->tls_self_signed = cfg->tls.allow_self_signed;
  }
  if (cfg->device && (!*cfg->device || strlen(cfg->device) > PROTO_DEV_MAX)) {
    rc = -EINVAL;
    goto fail;
  }
  if (dup_str(&c->login, cfg->login) || dup_str(&c->password, cfg->password) ||
      dup_str(&c->token, cfg->token) || dup_str(&c->device, cfg->device) ||
      dup_str(&c->client_name, cfg->client_name ? cfg->client_name
                                                : "herald_client") ||
      dup_str(&c->client_version, cfg->client_version)) {
    rc = -ENOMEM;
    goto fail;
  }
  c->limit_backlog = cfg->limit_backlog;
  c->backlog = cfg->backlog;
  c->max_queue = cfg->max_queue ? cfg->max_queue : HC_DEFAULT_QUEUE;
  c->max_outbox = cfg->max_outbox ? cfg->max_outbox : HC_DEFAULT_OUTBOX;
  c->max_outbox_bytes = cfg->max_outbox_bytes ? cfg->max_outbox_bytes
                                              : HC_DEFAULT_OUTBOX_BYTES;
  c->window = cfg->window ? cfg->window : HC_DEFAULT_WINDOW;
  c->page_limit = cfg->page_limit > PROTO_PAGE_MAX ? PROTO_PAGE_MAX
                                                   : cfg->page_limit;
  c->on_event = cfg->on_event;
  c->arg = cfg->arg;
  c->bo.min_ms = cfg->reconnect_min_ms ? cfg->reconnect_min_ms : 250;
  c->bo.max_ms = cfg->reconnect_max_ms ? cfg->reconnect_max_ms : 30000;
  if (c->bo.max_ms < c->bo.min_ms)
    c->bo.max_ms = c->bo.min_ms;
  /* PROTOCOL.md 3.2: retryable refusals back off from one second. The
   * cap is short: a database outage ends, and then a client should not
   * sit out a long backoff with its outbox full. */
  c->hold_bo.min_ms = c->sync_bo.min_ms = 1000;
  c->hold_bo.max_ms = c->sync_bo.max_ms = 5000;

  if (cfg->state_dir) {
    hc_outbox_close(&c->ob);
    if ((rc = open_state(c, cfg->state_dir)) != 0)
      goto fail;
  }
  if (!c->token && !(c->login && c->password)) {
    rc = -EINVAL;                   /* nothing to log in with */
    goto fail;
  }
  if (!c->device) {
    char dev[64];

    random_device(dev);
    if (dup_str(&c->device, dev) != 0) {
      rc = -ENOMEM;
      goto fail;
    }
  }
  if ((rc = uv_timer_init(ctx->loop, &c->timer)) != 0) {
    rc = -ENOMEM;
    goto fail;
  }
  c->timer.data = c;
  c->state = HC_STATE_IDLE;
  hc_ctx_link(ctx, c);
  *out = c;
  return 0;
fail:
  hc_outbox_close(&c->ob);
  hc_cursors_cleanup(&c->cur);
  if (c->have_sd)
    hc_statedir_close(&c->sd);
  free_urls(c);
  free(c->host);
  free(c->path);
  free(c->hosthdr);
  free_secret(&c->login);
  free_secret(&c->password);
  free_secret(&c->token);
  free(c->device);
  free(c->client_name);
  free(c->client_version);
  free(c);
  return rc;
}

int hc_conn_start(struct hc_conn *c)
{
  if (!c || c->free_pending)
    return -EINVAL;
  if (c->state != HC_STATE_IDLE && c->state != HC_STATE_STOPPED &&
      c->state != HC_STATE_OFFLINE)
    return 0;
  c->stop = false;
  c->logged_out = false;
  hc_conn_enter(c);
  connect_now(c);
  hc_conn_leave(c);
  return 0;
}

static void timer_closed(uv_handle_t *h)
{
  struct hc_conn *c = h->data;

  c->ctx->closing--;
  free(c);
}

static void finish_free(struct hc_conn *c)
{
  /* Runs once; nothing here calls back into the application. */
  c->freed = true;
  hc_transport_close(c, 1000);
  hc_req_drop_all(c);
  if (c->have_sd) {
    hc_conn_flush(c);
    hc_statedir_close(&c->sd);
  }
  hc_outbox_close(&c->ob);
  hc_cursors_cleanup(&c->cur);
  free_secret(&c->login);
  free_secret(&c->password);
  free_secret(&c->token);
  free(c->device);
  free(c->client_name);
  free(c->client_version);
  free(c->host);
  free(c->path);
  free(c->hosthdr);
  c->device = c->client_name = c->client_version = NULL;
  c->host = c->path = c->hosthdr = NULL;
  free_urls(c);
  free(c->rx);
  c->rx = NULL;
  hc_ctx_unlink(c->ctx, c);
  c->ctx->closing++;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, timer_closed);
}

void hc_conn_free(struct hc_conn *c)
{
  if (!c || c->free_pending)
    return;
  c->free_pending = true;
  if (c->busy == 0)
    finish_free(c);
}

/* ---- connecting and dropping ---- */

static void connect_now(struct hc_conn *c)
{
  int rc;

  if (c->free_pending)
    return;
  c->reconnect_at = 0;
  c->pending_err = 0;
  set_state(c, HC_STATE_CONNECTING, 0, 0);
  if (c->free_pending || c->state != HC_STATE_CONNECTING)
    return;
  if ((rc = hc_transport_connect(c)) != 0)
    hc_conn_down(c, rc);
}

static void auth_cb(struct hc_conn *c, int err, const struct proto_frame *f,
                    void *arg);

static void send_auth(struct hc_conn *c)
{
  struct proto_frame f;
  int rc;

  if (c->token) {
    proto_frame_init(&f, PROTO_T_HELLO);
    f.u.hello.token = (struct proto_str){c->token, strlen(c->token)};
    f.u.hello.dev = (struct proto_str){c->device, strlen(c->device)};
    if (c->client_name)
      f.u.hello.client = (struct proto_str){c->client_name,
                                            strlen(c->client_name)};
    if (c->client_version)
      f.u.hello.cver = (struct proto_str){c->client_version,
                                          strlen(c->client_version)};
    c->auth_by_token = true;
  } else if (c->login && c->password) {
    proto_frame_init(&f, PROTO_T_LOGIN);
    f.u.login.login = (struct proto_str){c->login, strlen(c->login)};
    f.u.login.pass = (struct proto_str){c->password, strlen(c->password)};
    f.u.login.dev = (struct proto_str){c->device, strlen(c->device)};
    if (c->client_name)
      f.u.login.client = (struct proto_str){c->client_name,
                                            strlen(c->client_name)};
    if (c->client_version)
      f.u.login.cver = (struct proto_str){c->client_version,
                                          strlen(c->client_version)};
    c->auth_by_token = false;
  } else {
    c->stop = true;
    hc_conn_drop(c, PROTO_E_UNAUTHENTICATED, 1000);
    return;
  }
  rc = hc_req_queue(c, &f, auth_cb, NULL, true, true, &c->auth_id);
  if (rc != 0) {
    /* A credential the codec refuses (too long, bad UTF-8) will not get
     * better by retrying. */
    c->stop = rc != -ENOMEM;
    hc_conn_drop(c, rc, 1000);
  }
}

void hc_conn_ws_up(struct hc_conn *c)
{
  c->ws_up = true;
  send_auth(c);
}

void hc_conn_drop(struct hc_conn *c, int err, int status)
{
  hc_transport_close(c, status);
  hc_conn_down(c, err);
}

void hc_conn_down(struct hc_conn *c, int err)
{
  enum hc_state st;
  bool was_online = c->authed;
  uint64_t now = hc_conn_now(c);
  unsigned delay = 0;

  if (c->state == HC_STATE_OFFLINE || c->state == HC_STATE_STOPPED ||
      c->state == HC_STATE_IDLE)
    return;                         /* already handled */
  hc_transport_close(c, 1000);      /* if it is still attached */
  c->ws_up = c->authed = false;
  free(c->rx);
  c->rx = NULL;
  c->rx_len = c->rx_cap = 0;
  if (c->pending_err)
    err = c->pending_err;           /* the server said why */
  c->pending_err = 0;
  c->err = err;
  c->auth_id = 0;
  c->hold_until = 0;
  hc_sync_reset(c);
  hc_outbox_rewind(&c->ob);
  hc_conn_flush(c);
  if (c->stop || c->logged_out) {
    c->state = HC_STATE_STOPPED;
  } else {
    if (was_online && now - c->online_since >= STABLE_MS)
      hc_backoff_reset(&c->bo);
    delay = c->reconnect_now ? 0 : hc_backoff_next(&c->bo, hc_ctx_rand(c->ctx));
    c->reconnect_now = false;
    /* With several servers, the next attempt goes to the next one: a
     * node that died or cannot be reached is not waited for. */
    if (c->nurls > 1) {
      c->url_at = (c->url_at + 1) % c->nurls;
      (void)set_target(c, c->urls[c->url_at]);  /* keeps the old on ENOMEM */
    }
    c->reconnect_at = now + delay + 1;   /* 0 means "none" */
    c->state = HC_STATE_OFFLINE;
  }
  hc_conn_arm(c);
  /* The state is set before any callback, so that requests made from
   * them fail with -ENOTCONN instead of joining a dead connection. The
   * event follows, unless a callback already moved on (hc_conn_start). */
  st = c->state;
  hc_req_fail_all(c, -ECONNRESET);
  if (c->state == st)
    set_state(c, st, err, delay);
}

/* ---- login ---- */

static void copy_str(char *dst, size_t cap, const struct proto_str *s)
{
  size_t n = s->p ? (s->len < cap - 1 ? s->len : cap - 1) : 0;

  if (n)
    memcpy(dst, s->p, n);
  dst[n] = '\0';
}

static void auth_cb(struct hc_conn *c, int err, const struct proto_frame *f,
                    void *arg)
{
  const struct proto_welcome *w;
  struct hc_event ev = {.type = HC_EV_WELCOME, .frame = f};

  (void)arg;
  c->auth_id = 0;
  if (err == -ECONNRESET || err == -ECANCELED)
    return;
  if (err) {
    if (err == PROTO_E_BAD_CREDENTIALS || err == PROTO_E_TOKEN_EXPIRED) {
      if (c->auth_by_token) {
        forget_token(c);
        /* Fall back to the password at once, if there is one. */
        if (c->login && c->password)
          c->reconnect_now = true;
        else
          c->stop = true;
      } else {
        c->stop = true;             /* a wrong password stays wrong */
      }
    }
    /* RATE_LIMITED and the rest: the normal backoff. */
    hc_conn_drop(c, err, 1000);
    return;
  }
  w = &f->u.welcome;
  memset(&c->info, 0, sizeof c->info);
  c->info.uid = w->uid;
  copy_str(c->info.login, sizeof c->info.login, &w->login);
  copy_str(c->info.name, sizeof c->info.name, &w->name);
  c->info.role = w->role;
  c->info.lim = w->lim;
  c->info.clock_skew_ms = (int64_t)(w->now - wall_ms());
  c->have_info = true;
  if (w->token.p && w->token.len)
    store_token(c, &w->token);
  c->authed = true;
  c->online_since = hc_conn_now(c);
  set_state(c, HC_STATE_ONLINE, 0, 0);
  if (c->free_pending || !c->authed)
    return;
  hc_emit(c, &ev);
  if (c->free_pending || !c->authed)
    return;
  hc_sync_start(c);
}

/* ---- receiving ---- */

static void dispatch(struct hc_conn *c, const struct proto_frame *f)
{
  int err = 0;

  if (f->type == PROTO_T_ERROR)
    err = -(int)f->u.error.code;
  if (f->id) {
    if (f->id & HC_OID_BIT)
      hc_req_outbox_reply(c, f, err);
    else if (f->id == c->sync_id)
      hc_sync_frame(c, f, err);
    else
      hc_req_reply(c, f, err);      /* unknown or forgotten: ignored */
    return;
  }
  switch (f->type) {
  case PROTO_T_MSG:
    hc_sync_live_msg(c, &f->u.msg);
    break;
  case PROTO_T_RECEIPT:
  case PROTO_T_REMIND:
  case PROTO_T_DING_UPDATE:
  case PROTO_T_CARD_EVENT:
    hc_sync_live_feed(c, f);
    break;
  case PROTO_T_DING_ALERT: {
    struct hc_event ev = {.type = HC_EV_DING_ALERT, .frame = f,
                          .ding_alert = &f->u.ding_alert};

    hc_emit(c, &ev);
    break;
  }
  case PROTO_T_ERROR: {
    /* A connection-level fault; the server closes next. Remember why. */
    struct hc_event ev = {.type = HC_EV_ERROR, .err = err, .frame = f};

    c->pending_err = err;
    hc_emit(c, &ev);
    break;
  }
  default: {
    struct hc_event ev = {.type = HC_EV_FRAME, .frame = f};

    hc_emit(c, &ev);
    break;
  }
  }
}

void hc_conn_on_message(struct hc_conn *c, const uint8_t *buf, size_t len)
{
  struct proto_limits lim = {
    .max_frame = hc_conn_max_sframe(c),
    .max_depth = PROTO_DEPTH_CAP,
    .max_body = c->have_info && c->info.lim.body ? (size_t)c->info.lim.body
                                                 : PROTO_DEFAULT_MAX_BODY,
    .accept = PROTO_FROM_SERVER,
  };
  struct proto_frame f;
  int rc = proto_decode(buf, len, &lim, &f, NULL);

  if (rc == PROTO_E_UNKNOWN_TYPE) {
    /* A newer server's frame type (PROTOCOL.md 10): ignore it. */
    proto_frame_cleanup(&f);
    return;
  }
  if (rc != 0) {
    proto_frame_cleanup(&f);
    hc_conn_drop(c, rc, proto_err_close_code(rc) ? proto_err_close_code(rc)
                                                  : 1002);
    return;
  }
  dispatch(c, &f);
  proto_frame_cleanup(&f);
}

/* ---- accessors ---- */

enum hc_state hc_conn_state(const struct hc_conn *c)
{
  return c ? c->state : HC_STATE_STOPPED;
}

bool hc_conn_synced(const struct hc_conn *c)
{
  return c && c->synced && c->authed;
}

int hc_conn_err(const struct hc_conn *c)
{
  return c ? c->err : -EINVAL;
}

const struct hc_info *hc_conn_info(const struct hc_conn *c)
{
  return &c->info;
}

const char *hc_conn_token(const struct hc_conn *c)
{
  return c ? c->token : NULL;
}

const char *hc_conn_device(const struct hc_conn *c)
{
  return c ? c->device : NULL;
}

int hc_conn_set_password(struct hc_conn *c, const char *login,
                         const char *password)
{
  if (!c)
    return -EINVAL;
  if (dup_str(&c->login, login) != 0 || dup_str(&c->password, password) != 0)
    return -ENOMEM;
  return 0;
}

int hc_conn_set_token(struct hc_conn *c, const char *token)
{
  if (!c)
    return -EINVAL;
  return dup_str(&c->token, token);
}
