/*
 * metrics.c — heraldd's counters and their Prometheus text rendering (see
 * metrics_int.h for who may update what).
 */
#include "metrics_int.h"
#include "dbpool_int.h"
#include "server_int.h"
#include "session_int.h"

#include "proto.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The error codes in list order: the index of a code here is its counter. */
static const int err_codes[] = {
#define ERR_CODE_(name, num, msg) num,
  PROTO_ERRNO_MAP(ERR_CODE_)
#undef ERR_CODE_
};
#define NERR (sizeof(err_codes) / sizeof(err_codes[0]))

/* Histogram bounds; the +Inf bucket is the count. */
static const double batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
#define NBATCH (sizeof(batch_le) / sizeof(batch_le[0]))
static const double lat_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NLAT (sizeof(lat_le) / sizeof(lat_le[0]))

static _Atomic uint64_t counters[SRV_M_COUNT_];
static _Atomic uint64_t frames_in[PROTO_T_COUNT_], frames_out[PROTO_T_COUNT_];
/* One more slot per via for codes not in the list. */
static _Atomic uint64_t errors[SRV_VIA_COUNT_][NERR + 1];
/* Buckets are not cumulative here (one add per observation); the
 * rendering sums them. */
static _Atomic uint64_t batch_b[NBATCH], batch_n, batch_sum;
static _Atomic uint64_t lat_b[NLAT], lat_sum_ns;

static void add(_Atomic uint64_t *c, uint64_t n)
{
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
  return atomic_load_explicit(c, memory_order_relaxed);
}

void srv_metric_inc(enum srv_metric m)
{
  if ((unsigned)m < SRV_M_COUNT_)
    add(&counters[m], 1);
}

uint64_t srv_metric_get(enum srv_metric m)
{
  return (unsigned)m < SRV_M_COUNT_ ? get(&counters[m]) : 0;
}

void srv_metric_frame_in(int type)
{
  if (type > PROTO_T_NONE && type < PROTO_T_COUNT_)
    add(&frames_in[type], 1);
}

void srv_metric_frame_out(int type)
{
  if (type > PROTO_T_NONE && type < PROTO_T_COUNT_)
    add(&frames_out[type], 1);
}

void srv_metric_error(enum srv_metric_via via, int code)
{
  int num = code < 0 ? -code : code;
  size_t i;

  if ((unsigned)via >= SRV_VIA_COUNT_)
    return;
  for (i = 0; i < NERR && err_codes[i] != num; i++)
    ;
  add(&errors[via][i], 1);
}

uint64_t srv_metric_clock_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void srv_metric_commit(int jobs, uint64_t ns)
{
  size_t i;
  double s = (double)ns / 1e9;

  if (jobs < 1)
    return;
  for (i = 0; i < NBATCH && (double)jobs > batch_le[i]; i++)
    ;
  if (i < NBATCH)
    add(&batch_b[i], 1);
  for (i = 0; i < NLAT && s > lat_le[i]; i++)
    ;
  if (i < NLAT)
    add(&lat_b[i], 1);
  add(&batch_sum, (uint64_t)jobs);
  add(&lat_sum_ns, ns);
  add(&batch_n, 1);     /* last: the count never runs behind a bucket
                           for long */
}

/* ------------------------------------------------------------------------ */
/* Rendering. */

struct out {
  char *p;
  size_t len, cap;
  int failed;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (o->failed)
    return;
  for (;;) {
    size_t room = o->cap - o->len;

    va_start(ap, fmt);
    n = vsnprintf(o->p ? o->p + o->len : NULL, o->p ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      o->failed = 1;
      return;
    }
    if (o->p && (size_t)n < room) {
      o->len += (size_t)n;
      return;
    }
    size_t cap = o->cap ? o->cap * 2 : 16384;
    while (cap < o->len + (size_t)n + 1)
      cap *= 2;
    char *np = realloc(o->p, cap);
    if (!np) {
      o->failed = 1;
      return;
    }
    o->p = np;
    o->cap = cap;
  }
}

static void head(struct out *o, const char *name, const char *type,
                 const char *help)
{
  put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct out *o, const char *name, const char *help,
                    uint64_t v)
{
  head(o, name, "counter", help);
  put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct out *o, const char *name, const char *help,
                  double v)
{
  head(o, name, "gauge", help);
  put(o, "%s %.17g\n", name, v);
}

static void frames(struct out *o, const char *name, const char *help,
                   _Atomic uint64_t *c)
{
  head(o, name, "counter", help);
  for (int t = PROTO_T_NONE + 1; t < PROTO_T_COUNT_; t++)
    put(o, "%s{type=\"%s\"} %llu\n", name, proto_type_name((enum proto_type)t),
        (unsigned long long)get(&c[t]));
}

static void histogram(struct out *o, const char *name, const char *help,
                      const double *le, _Atomic uint64_t *b, size_t nb,
                      uint64_t count, double sum)
{
  uint64_t cum = 0;

  head(o, name, "histogram", help);
  for (size_t i = 0; i < nb; i++) {
    cum += get(&b[i]);
    put(o, "%s_bucket{le=\"%g\"} %llu\n", name, le[i],
        (unsigned long long)cum);
  }
  put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)count);
  put(o, "%s_sum %.9g\n%s_count %llu\n", name, sum, name,
      (unsigned long long)count);
}

/* Sessions and queued outbound frames/bytes of one principal map. */
static void walk(const struct srv_intmap *m, unsigned *n, uint64_t *frames,
                 uint64_t *bytes)
{
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->slots[i].key)
      continue;
    for (const struct srv_session *s = m->slots[i].val; s; s = s->user_next) {
      (*n)++;
      *frames += s->q_len;
      *bytes += s->q_bytes;
    }
  }
}

static void gauges(struct out *o, struct srv_server *srv)
{
  unsigned users = 0, bots = 0;
  uint64_t qf = 0, qb = 0;
  const char *name = "herald_connections";

  walk(&srv->users, &users, &qf, &qb);
  walk(&srv->bots, &bots, &qf, &qb);
  head(o, name, "gauge", "WebSocket connections open, by kind (pending: "
                         "not authenticated yet).");
  put(o, "%s{kind=\"user\"} %u\n%s{kind=\"bot\"} %u\n"
         "%s{kind=\"pending\"} %u\n", name, users, name, bots, name,
      srv->nsessions >= users + bots ? srv->nsessions - users - bots : 0);
  gauge(o, "herald_outbound_queue_frames", "Frames queued to authenticated "
        "connections, not written yet (sum over connections).", (double)qf);
  gauge(o, "herald_outbound_queue_bytes", "Bytes of those frames.",
        (double)qb);
  name = "herald_db_jobs_queued";
  head(o, name, "gauge", "Database jobs submitted and not finished, by "
                         "pool.");
  put(o, "%s{pool=\"writer\"} %d\n%s{pool=\"reader\"} %d\n"
         "%s{pool=\"auth\"} %d\n",
      name, srv->writer ? srv_dbpool_pending(srv->writer) : 0,
      name, srv->reader ? srv_dbpool_pending(srv->reader) : 0,
      name, srv->auth ? srv_dbpool_pending(srv->auth) : 0);
}

char *srv_metrics_render(struct srv_server *srv, size_t *len)
{
  struct out o = {0};
  static const char *const via_name[SRV_VIA_COUNT_] = {"ws", "http"};
  static const struct {
    const char *name, *help;
  } plain[SRV_M_COUNT_] = {
    [SRV_M_CONN_ACCEPTED] = {"herald_connections_accepted_total",
                             "WebSocket connections accepted."},
    [SRV_M_LOGIN_FAILED] = {"herald_login_failures_total",
                            "Logins and token hellos refused (bad or expired "
                            "credentials)."},
    [SRV_M_REPLAY_PAGES] = {"herald_replay_pages_total",
                            "Replay and gap-fill pages sent."},
    [SRV_M_DING_ESCALATED] = {"herald_ding_escalations_total",
                              "DING steps that escalated."},
    [SRV_M_DING_ESCALATED_MGR] = {"herald_ding_escalations_manager_total",
                                  "DING escalations that alerted a "
                                  "manager."},
    [SRV_M_DING_REALERTS] = {"herald_ding_realerts_total",
                             "DING re-alert steps fired."},
    [SRV_M_WEBHOOK_OK] = {"herald_ding_webhook_ok_total",
                          "Escalation webhook attempts that succeeded."},
    [SRV_M_WEBHOOK_FAILED] = {"herald_ding_webhook_failed_total",
                              "Escalation webhook attempts that failed."},
    [SRV_M_BOT_RATE_REFUSED] = {"herald_bot_rate_limited_total",
                                "Bot messages refused by the per-bot rate "
                                "limit."},
    [SRV_M_CARD_EVENTS] = {"herald_card_events_total",
                           "Card events published to connected clients."},
  };

  gauges(&o, srv);
  for (int m = 0; m < SRV_M_COUNT_; m++)
    counter(&o, plain[m].name, plain[m].help, get(&counters[m]));
  frames(&o, "herald_frames_in_total", "Frames received from clients, by "
         "type.", frames_in);
  frames(&o, "herald_frames_out_total", "Frames queued to clients, by type.",
         frames_out);
  head(&o, "herald_errors_total", "counter", "Errors answered to clients, "
       "by code name and transport.");
  for (int v = 0; v < SRV_VIA_COUNT_; v++) {
    for (size_t i = 0; i <= NERR; i++) {
      uint64_t n = get(&errors[v][i]);

      /* Codes never seen are left out, except that every code appears
       * for the WebSocket so that dashboards see zeros. */
      if (n == 0 && v != SRV_VIA_WS)
        continue;
      if (i == NERR && n == 0)
        continue;
      put(&o, "herald_errors_total{code=\"%s\",via=\"%s\"} %llu\n",
          i < NERR ? proto_err_name(err_codes[i]) : "UNKNOWN", via_name[v],
          (unsigned long long)n);
    }
  }
  histogram(&o, "herald_commit_batch_size", "Sends committed per group "
            "commit of the writer.", batch_le, batch_b, NBATCH,
            get(&batch_n), (double)get(&batch_sum));
  histogram(&o, "herald_commit_seconds", "Time of one group commit of the "
            "writer.", lat_le, lat_b, NLAT, get(&batch_n),
            (double)get(&lat_sum_ns) / 1e9);
  if (o.failed) {
    free(o.p);
    return NULL;
  }
  *len = o.len;
  return o.p;
}
