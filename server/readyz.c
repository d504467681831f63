/*
 * readyz.c — GET /readyz and GET /metrics.
 *
 * /readyz answers 200 when this node can serve: the database answers and
 * its schema is exactly the one this binary embeds (store_schema_current).
 * Otherwise 503 with a JSON body naming what is wrong:
 *   {"ready":false,"database":"unreachable","migrations":"unknown",
 *    "error":"..."}
 * The check runs as a job on the reader pool, never on the loop, and its
 * result is cached for READY_TTL_MS: probes within that time are answered
 * from the cache, and probes that arrive while a check runs wait for it
 * (up to MAX_WAITERS of them; more get the previous answer, or 503). So a
 * flood of probes costs at most one query a second.
 *
 * The cache is static: one server per process, loop thread only. A cache
 * of another server (tests run several in turn) is ignored.
 */
#include "dbpool_int.h"
#include "http_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "server_int.h"

#include "proto.h"
#include "store.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define READY_TTL_MS 1000
#define MAX_WAITERS 64

struct ready_job {
  struct srv_dbjob job;
  struct srv_server *srv;
  int rc;                       /* store_schema_current, or EUNAVAIL */
  char why[256];
};

static struct {
  struct srv_server *srv;       /* whose result this is */
  uint64_t at_ms;               /* when it was computed; 0: never */
  int rc;
  char why[256];
  bool running;
  struct srv_http_req *waiters[MAX_WAITERS];
  int nwaiters;
} cache;

/* The reply for the cached result. */
static void answer(struct srv_http_req *req)
{
  const char *db = "ok", *mig = "current";
  json_t *j;
  char *body;

  if (req->srv->stopping) {
    db = "ok";
    mig = "unknown";
  } else if (cache.rc == STORE_EUNAVAIL) {
    db = "unreachable";
    mig = "unknown";
  } else if (cache.rc == STORE_ENOTFOUND) {
    mig = "pending";
  } else if (cache.rc == STORE_EINVAL) {
    mig = "mismatch";
  } else if (cache.rc != STORE_OK) {
    db = "error";
    mig = "unknown";
  }
  bool ok = cache.rc == STORE_OK && !req->srv->stopping;
  j = json_pack("{s:b, s:s, s:s, s:i}", "ready", ok, "database", db,
                "migrations", mig, "schema_version", store_schema_version());
  if (j && !ok)
    json_object_set_new(j, "error",
                        json_string(req->srv->stopping ? "shutting down"
                                    : cache.why));
  body = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!body) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    return;
  }
  srv_http_ok(req, SRV_HTTP_JSON, body, strlen(body));
  if (!ok) {
    req->status = HTTP_STATUS_SERVICE_UNAVAILABLE;
    req->retry_after = 1;
  }
}

static void ready_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct ready_job *rj = (struct ready_job *)job;

  if (!conn) {
    rj->rc = STORE_EUNAVAIL;
    snprintf(rj->why, sizeof(rj->why), "the database is unreachable");
  } else {
    rj->rc = store_schema_current(conn);
    if (rj->rc == STORE_EUNAVAIL)
      snprintf(rj->why, sizeof(rj->why), "the database is unreachable");
    else if (rj->rc != STORE_OK)
      snprintf(rj->why, sizeof(rj->why), "%s", store_errmsg(conn));
  }
  job->rc = rj->rc;
}

static void ready_done(struct srv_dbjob *job)
{
  struct ready_job *rj = (struct ready_job *)job;

  if (cache.srv == rj->srv) {
    cache.running = false;
    cache.rc = rj->rc;
    snprintf(cache.why, sizeof(cache.why), "%s", rj->why);
    cache.at_ms = srv_now_ms();
    if (cache.rc != STORE_OK)
      srv_warn("http", "not ready: %s", cache.why);
    for (int i = 0; i < cache.nwaiters; i++) {
      struct srv_http_req *req = cache.waiters[i];

      req->busy = false;
      answer(req);
      srv_http_send(req);
    }
    cache.nwaiters = 0;
  }
  free(rj);
}

void srv_http_readyz(struct srv_http_req *req)
{
  struct srv_server *srv = req->srv;
  uint64_t now = srv_now_ms();
  struct ready_job *rj;

  if (cache.srv != srv) {
    memset(&cache, 0, sizeof(cache));
    cache.srv = srv;
  }
  if (srv->stopping ||
      (cache.at_ms && now - cache.at_ms < READY_TTL_MS)) {
    answer(req);
    return;
  }
  if (!cache.running) {
    if (!(rj = calloc(1, sizeof(*rj)))) {
      srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
      return;
    }
    rj->job.run = ready_run;
    rj->job.done = ready_done;
    rj->srv = srv;
    cache.running = true;
    srv_dbpool_submit(srv->reader, &rj->job);
  }
  if (cache.nwaiters < MAX_WAITERS) {
    req->busy = true;
    cache.waiters[cache.nwaiters++] = req;
  } else if (cache.at_ms) {
    answer(req);          /* the previous answer, slightly stale */
  } else {
    srv_http_error(req, PROTO_E_QUEUE_FULL, NULL,
                   "too many readiness probes at once");
  }
}

void srv_http_metrics(struct srv_http_req *req)
{
  size_t len = 0;
  char *body = srv_metrics_render(req->srv, &len);

  if (!body) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    return;
  }
  srv_http_ok(req, "text/plain; version=0.0.4; charset=utf-8", body, len);
}
