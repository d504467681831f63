/*
 * http_report.c — GET /api/v1/reports/unread: the unread report over HTTP,
 * for scripts and spreadsheets.
 *
 *   Authorization: Bearer <token>    a user session token (from login)
 *   older_than=2h    seconds, or N with s, m, h or d; 60 s .. 365 d;
 *                    default 2h
 *   format=json|csv  default json (report_format.h gives both layouts)
 *   scope=team|owned|org, conv=ID, dept=NAME, limit=1..100000
 *                    as the report_unread frame (PROTOCOL.md)
 *
 * The loop only checks the request's shape (the token's form, the
 * parameters). Then ONE job on the reader pool resolves the token, runs the
 * report (storage decides the scope and audits every run, refused ones
 * too) and renders the body, so the loop never waits on PostgreSQL nor
 * renders a large body. Failed token checks count against the caller's
 * address like failed WebSocket hellos. Tokens are wiped after hashing and
 * never logged.
 */
#include "dbpool_int.h"
#include "dispatch_int.h"
#include "http_int.h"
#include "log_int.h"
#include "report_int.h"
#include "server_int.h"

#include "hcrypto.h"
#include "duration.h"
#include "proto.h"
#include "report_format.h"
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Reports running or waiting to be written at once: each may hold a body
 * of megabytes. More are refused with 429 TOO_MANY_REQUESTS. */
#define HTTP_REPORTS_MAX 16

/* Bounds of the frame's fields (PROTOCOL.md, report_unread). */
#define OLDER_MIN 60
#define OLDER_MAX 31536000
#define LIMIT_MAX 100000

/* The longest query parameter (name=value) accepted, in bytes. */
#define PARAM_MAX 512

struct report_job {
  struct srv_dbjob job;
  struct srv_http_req *req;     /* busy: the request waits for us */
  uint8_t token_hash[HCR_TOKEN_HASH_LEN];
  struct store_report_query q;
  char dept[SRV_REPORT_DEPT_MAX + 1];
  bool csv;

  /* Set on the database thread. */
  int code;                     /* 0 or a proto code */
  char msg[256];                /* storage's reason for a refusal, or "" */
  int64_t uid;
  char *body;                   /* the rendered report (owned) */
  size_t len, nrows;
  bool truncated;
};

/* ------------------------------------------------------------------ */
/* On the database thread. */

static void copy_msg(struct report_job *rj, const char *msg)
{
  snprintf(rj->msg, sizeof(rj->msg), "%s", msg ? msg : "");
}

static void report_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct report_job *rj = (struct report_job *)job;
  struct store_principal who;
  struct store_report rep;
  struct srv_report_view v;
  int rc;

  if (!conn) {
    rj->code = PROTO_E_DB_UNAVAILABLE;
    job->rc = STORE_EUNAVAIL;
    return;
  }
  rc = store_session_lookup(conn, rj->token_hash, &who);
  if (rc != STORE_OK) {
    job->rc = rc;
    rj->code = rc == STORE_ENOTFOUND ? PROTO_E_BAD_CREDENTIALS
               : rc == STORE_EINVAL  ? PROTO_E_TOKEN_EXPIRED
                                     : srv_code_from_store(rc);
    return;
  }
  /* Bots are refused by storage, like over WebSocket, so that their
   * attempts are audited like every other refused run. */
  rj->uid = who.kind == STORE_PRINCIPAL_BOT ? 0 : who.id;
  rc = who.kind == STORE_PRINCIPAL_BOT
           ? store_report_unread_bot(conn, who.id, &rj->q)
           : store_report_unread(conn, who.id, &rj->q, &rep);
  job->rc = rc;
  if (rc != STORE_OK) {
    rj->code = srv_code_from_store(rc);
    /* Storage's reasons name the caller, conversation or department the
     * caller asked about; internal failures stay generic. */
    if (rc == STORE_EFORBIDDEN || rc == STORE_ENOTFOUND || rc == STORE_EINVAL)
      copy_msg(rj, store_errmsg(conn));
    return;
  }
  rj->code = srv_report_view_init(&v, &rep);
  if (rj->code == 0) {
    rj->code = rj->csv ? proto_report_csv(&v.res, &rj->body, &rj->len)
                       : proto_report_json(&v.res, &rj->body, &rj->len);
    srv_report_view_cleanup(&v);
  }
  rj->nrows = rep.n_rows;
  rj->truncated = rep.truncated;
  store_report_cleanup(&rep);
}

/* ------------------------------------------------------------------ */
/* Back on the loop. */

static void report_done(struct srv_dbjob *job)
{
  struct report_job *rj = (struct report_job *)job;
  struct srv_http_req *req = rj->req;
  struct srv_server *srv = req->srv;

  req->busy = false;
  if (rj->code == 0) {
    srv_info("http", "report for user %" PRId64 " from %s: %zu rows as %s",
             rj->uid, req->peer, rj->nrows, rj->csv ? "csv" : "json");
    req->truncated = rj->truncated;
    srv_http_ok(req, rj->csv ? SRV_HTTP_CSV : SRV_HTTP_JSON, rj->body,
                rj->len);
    rj->body = NULL;
  } else {
    if (rj->code == PROTO_E_BAD_CREDENTIALS ||
        rj->code == PROTO_E_TOKEN_EXPIRED)
      srv_ratelimit_hit(&srv->login_by_peer, req->peer, strlen(req->peer),
                        srv_now_ms());
    srv_info("http", "report from %s refused: %s", req->peer,
             proto_err_name(rj->code));
    srv_http_error(req, rj->code, NULL,
                   rj->code == PROTO_E_BAD_CREDENTIALS ? "unknown token"
                   : rj->msg[0]                        ? rj->msg
                                                       : NULL);
  }
  free(rj->body);
  free(rj);
  srv_http_send(req);
}

/* ------------------------------------------------------------------ */
/* Parsing the request. Each parser returns 0, or sets the error reply and
 * returns -1. */

/* Digits only, at most 18 of them (no overflow); -1 otherwise. */
static int64_t parse_digits(const char *s, size_t len)
{
  int64_t v = 0;

  if (len == 0 || len > 18)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

static int parse_older(struct srv_http_req *req, const char *v, uint64_t *out)
{
  int64_t n;

  if (proto_duration_parse(v, strlen(v), &n) < 0) {
    srv_http_error(req, PROTO_E_BAD_VALUE, "older_than",
                   "older_than must be a duration: seconds, or numbers with "
                   "s, m, h or d (e.g. 90m, 2h, 1h30m)");
    return -1;
  }
  if (n < OLDER_MIN || n > OLDER_MAX) {
    srv_http_error(req, PROTO_E_RANGE, "older_than",
                   "older_than must be between 60 seconds and 365 days");
    return -1;
  }
  *out = (uint64_t)n;
  return 0;
}

static int parse_uint(struct srv_http_req *req, const char *name,
                      const char *v, int64_t max, uint64_t *out)
{
  int64_t n = parse_digits(v, strlen(v));
  char msg[96];

  if (n < 1 || n > max) {
    snprintf(msg, sizeof(msg), "%s must be a whole number from 1 to %" PRId64,
             name, max);
    srv_http_error(req, n < 0 ? PROTO_E_BAD_VALUE : PROTO_E_RANGE, name, msg);
    return -1;
  }
  *out = (uint64_t)n;
  return 0;
}

/* One parameter of the query. `seen` is a bit set of the names met. */
static int parse_param(struct srv_http_req *req, struct report_job *rj,
                       char *param, unsigned *seen, uint64_t *older,
                       enum proto_scope *scope, uint64_t *conv,
                       uint64_t *limit)
{
  static const char *const names[] = {"older_than", "format", "scope", "conv",
                                      "dept", "limit"};
  char *v = strchr(param, '=');
  unsigned i;

  if (v)
    *v++ = '\0';
  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcmp(param, names[i]) == 0)
      break;
  if (i == sizeof(names) / sizeof(names[0])) {
    srv_http_error(req, PROTO_E_BAD_VALUE, param,
                   "unknown parameter: use older_than, format, scope, conv, "
                   "dept or limit");
    return -1;
  }
  if (*seen & (1u << i)) {
    srv_http_error(req, PROTO_E_DUP_KEY, param, "parameter given twice");
    return -1;
  }
  *seen |= 1u << i;
  if (!v)
    v = "";
  switch (i) {
  case 0:
    return parse_older(req, v, older);
  case 1:
    if (strcmp(v, "json") != 0 && strcmp(v, "csv") != 0) {
      srv_http_error(req, PROTO_E_BAD_VALUE, "format",
                     "format must be json or csv");
      return -1;
    }
    rj->csv = strcmp(v, "csv") == 0;
    return 0;
  case 2:
    *scope = strcmp(v, "team") == 0    ? PROTO_SCOPE_TEAM
             : strcmp(v, "owned") == 0 ? PROTO_SCOPE_OWNED
             : strcmp(v, "org") == 0   ? PROTO_SCOPE_ORG
                                       : PROTO_SCOPE_NONE;
    if (*scope == PROTO_SCOPE_NONE) {
      srv_http_error(req, PROTO_E_BAD_VALUE, "scope",
                     "scope must be team, owned or org");
      return -1;
    }
    return 0;
  case 3:
    return parse_uint(req, "conv", v, INT64_MAX, conv);
  case 4:
    if (strlen(v) < 1 || strlen(v) > SRV_REPORT_DEPT_MAX ||
        !proto_utf8_valid(v, strlen(v))) {
      srv_http_error(req, PROTO_E_BAD_VALUE, "dept",
                     "dept must be 1 to 128 bytes of UTF-8");
      return -1;
    }
    snprintf(rj->dept, sizeof(rj->dept), "%s", v);
    return 0;
  default:
    return parse_uint(req, "limit", v, LIMIT_MAX, limit);
  }
}

/* The query string, parameter by parameter (lws has split it at & and ;
 * and decoded %XX and +). */
static int parse_query(struct srv_http_req *req, struct report_job *rj)
{
  char param[PARAM_MAX + 1];
  uint64_t older = 0, conv = 0, limit = 0;
  enum proto_scope scope = PROTO_SCOPE_NONE;
  unsigned seen = 0;

  for (int i = 0;; i++) {
    int n = lws_hdr_copy_fragment(req->wsi, param, sizeof(param),
                                  WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) {
      if (lws_hdr_fragment_length(req->wsi, WSI_TOKEN_HTTP_URI_ARGS, i) <= 0)
        break;   /* no more parameters */
      srv_http_error(req, PROTO_E_TOO_LONG, NULL, "query parameter too long");
      return -1;
    }
    if (n == 0)
      continue;  /* "a=1&&b=2" */
    if (parse_param(req, rj, param, &seen, &older, &scope, &conv, &limit))
      return -1;
  }
  srv_report_query(&rj->q, older, scope, conv, rj->dept[0] ? rj->dept : NULL,
                   limit);
  return 0;
}

void srv_http_report(struct srv_http_req *req)
{
  struct srv_server *srv = req->srv;
  struct report_job *rj;

  if (srv->stopping) {
    srv_http_error(req, PROTO_E_SHUTTING_DOWN, NULL, NULL);
    return;
  }
  if (!srv_ratelimit_allowed(&srv->login_by_peer, req->peer,
                             strlen(req->peer), srv_now_ms())) {
    srv_http_error(req, PROTO_E_RATE_LIMITED, NULL, NULL);
    return;
  }
  if (srv->http_reports >= HTTP_REPORTS_MAX) {
    srv_http_error(req, PROTO_E_TOO_MANY_REQUESTS, NULL,
                   "too many reports at once, try again shortly");
    return;
  }
  if (!(rj = calloc(1, sizeof(*rj)))) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    return;
  }
  if (srv_http_bearer(req, rj->token_hash, NULL,
                      "send the token of a manager or an admin as "
                      "Authorization: Bearer <token>",
                      "Authorization must be: Bearer <token>, with the token "
                      "that login gave") != 0 ||
      parse_query(req, rj) != 0) {
    free(rj);
    return;
  }
  rj->job.run = report_run;
  rj->job.done = report_done;
  rj->req = req;
  req->busy = true;
  req->counted = true;
  srv->http_reports++;
  srv_dbpool_submit(srv->reader, &rj->job);
}
