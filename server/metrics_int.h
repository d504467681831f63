/*
 * metrics_int.h — heraldd's counters for GET /metrics (Prometheus text
 * exposition format 0.0.4, rendered by metrics.c).
 *
 * The counters are process-wide (one server per process) and every one is
 * a relaxed atomic, so any thread may bump them: the loop thread bumps most
 * (frames, errors, connections, DINGs, bots, cards, logins), the database
 * pool threads bump the commit histograms (dbpool.c) and the escalation
 * webhook outcome is counted on the loop when its job is done. Relaxed is
 * enough: each counter is independent and only ever grows; a scrape may
 * see a histogram's _count one observation ahead of a bucket, which
 * Prometheus tolerates.
 *
 * Gauges (connections open by kind, outbound queue totals, database pool
 * queues) are not counted: metrics.c reads them from the server at scrape
 * time on the loop thread, so the hot paths pay nothing for them.
 *
 * Never put a secret or user content in a label: labels are frame type
 * names, error code names and fixed words.
 */
#ifndef HERALD_SRV_METRICS_INT_H
#define HERALD_SRV_METRICS_INT_H

#include <stddef.h>
#include <stdint.h>

struct srv_server;

/* Plain counters (exposed as herald_<name>_total). */
enum srv_metric {
  SRV_M_CONN_ACCEPTED,        /* WebSocket connections accepted */
  SRV_M_LOGIN_FAILED,         /* hello/login refused: bad or expired */
  SRV_M_REPLAY_PAGES,         /* sync/gap-fill pages sent */
  SRV_M_DING_ESCALATED,       /* DING steps that escalated */
  SRV_M_DING_ESCALATED_MGR,   /* ... of which alerted a manager */
  SRV_M_DING_REALERTS,        /* DING re-alert steps */
  SRV_M_WEBHOOK_OK,           /* escalation webhook attempts that worked */
  SRV_M_WEBHOOK_FAILED,       /* ... that failed */
  SRV_M_BOT_RATE_REFUSED,     /* bot sends refused by the per-bot limit */
  SRV_M_CARD_EVENTS,          /* card events published live */
  SRV_M_COUNT_
};

enum srv_metric_via { SRV_VIA_WS, SRV_VIA_HTTP, SRV_VIA_COUNT_ };

void srv_metric_inc(enum srv_metric m);
/* A frame of type `type` (enum proto_type) decoded from / queued to a
 * client. Out-of-range types are ignored. */
void srv_metric_frame_in(int type);
void srv_metric_frame_out(int type);
/* An error (negative proto code) answered on the wire or over HTTP. An
 * unknown code is counted as "UNKNOWN". */
void srv_metric_error(enum srv_metric_via via, int code);
/* One group commit of the writer pool: `jobs` sends in `ns` nanoseconds. */
void srv_metric_commit(int jobs, uint64_t ns);
/* A monotonic clock in nanoseconds for timing those. Any thread. */
uint64_t srv_metric_clock_ns(void);

/* The exposition text (malloc'd, NUL-terminated, *len without the NUL),
 * or NULL when out of memory. Loop thread (reads the server's gauges). */
char *srv_metrics_render(struct srv_server *srv, size_t *len);

/* Tests: the value of one counter. */
uint64_t srv_metric_get(enum srv_metric m);

#endif
