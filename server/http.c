/*
 * http.c — heraldd's HTTP endpoints on the WebSocket port: routing, the one
 * mapping from error codes to HTTP statuses, and writing replies.
 *
 *   GET /healthz                 "ok" while the process serves its loop
 *   GET /readyz, GET /metrics    readiness and counters (readyz.c)
 *   GET /api/v1/reports/unread   the unread report (http_report.c)
 *   the bot API and the robot webhook (http_bot.c, http_robot.c)
 *
 * A POST route gets its body read first (up to srv_http_body_max, else
 * 413 and the connection closes). A method a route does not serve gets
 * 405, and the connection closes when a body may follow that nobody
 * reads. An unknown path gets 404.
 * Errors are JSON: {"error":{"code":"NAME","message":"...","field":"..."}}
 * with the names of proto_errors.h.
 *
 * A reply is written from HTTP_WRITEABLE only, as libwebsockets requires:
 * the headers in one callback, then the body in chunks of HTTP_CHUNK bytes,
 * one per callback, so that a large report neither blocks the loop nor is
 * copied into lws' own buffers. A request whose answer waits on the
 * database outlives its connection if need be (http_int.h).
 */
#include "http_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "server_int.h"
#include "tls_int.h"

#include "proto.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of body per write: lws sends at most its service buffer size
 * (pt_serv_buf_size, 4096 by default) straight to the socket and copies
 * the rest of a larger write to the heap, so larger chunks only add
 * copies. */
#define HTTP_CHUNK 4096
/* A request is dropped when its answer takes longer than this to come
 * from the database, or when the client reads nothing of it for this
 * long. */
#define HTTP_TIMEOUT_S 60

/* Per-connection data: lws allocates it (protocols[] in server.c gives the
 * size, two pointers) and frees it when the connection closes or a new
 * keep-alive transaction starts. */
struct http_pss {
  struct srv_http_req *req;
};
_Static_assert(sizeof(struct http_pss) <= 2 * sizeof(void *),
               "server.c allots two pointers to the HTTP protocol");

typedef void (*route_fn)(struct srv_http_req *req);

static void healthz(struct srv_http_req *req)
{
  char *body = strdup("ok\n");

  if (!body) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    return;
  }
  srv_http_ok(req, "text/plain; charset=utf-8", body, 3);
}

/* A route is a method and a path; a `prefix` route also takes every path
 * below it ("/api/v1/cards/" + "7/actions"), which its handler parses
 * from req->rest. POST routes get their body read first (on_body). */
static const struct http_route {
  const char *path;
  int method;                   /* LWSHUMETH_GET or LWSHUMETH_POST */
  bool prefix;
  route_fn fn;
} routes[] = {
  {"/healthz", LWSHUMETH_GET, false, healthz},
  {"/readyz", LWSHUMETH_GET, false, srv_http_readyz},
  {"/metrics", LWSHUMETH_GET, false, srv_http_metrics},
  {"/api/v1/reports/unread", LWSHUMETH_GET, false, srv_http_report},
  {"/api/v1/messages", LWSHUMETH_POST, false, srv_http_bot_message},
  {"/api/v1/messages/", LWSHUMETH_GET, true, srv_http_bot_summary},
  {"/api/v1/cards", LWSHUMETH_POST, false, srv_http_bot_card},
  {"/api/v1/cards/", LWSHUMETH_POST, true, srv_http_bot_card_action},
  {"/robot/send", LWSHUMETH_POST, false, srv_http_robot},
};

size_t srv_http_body_max(const struct srv_server *srv)
{
  return 6 * (size_t)srv->cfg->max_body + 16384;
}

/* The route for `path`: an exact match first, then the longest prefix. */
static const struct http_route *route_of(const char *path)
{
  const struct http_route *best = NULL;

  if (!path)
    return NULL;
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
    size_t n = strlen(routes[i].path);

    if (!routes[i].prefix && strcmp(path, routes[i].path) == 0)
      return &routes[i];
    if (routes[i].prefix && strncmp(path, routes[i].path, n) == 0 &&
        path[n] && (!best || n > strlen(best->path)))
      best = &routes[i];
  }
  return best;
}

unsigned srv_http_status(int code)
{
  switch (code) {
  case 0: return HTTP_STATUS_OK;
  case PROTO_E_UNAUTHENTICATED:
  case PROTO_E_BAD_CREDENTIALS:
  case PROTO_E_TOKEN_EXPIRED: return HTTP_STATUS_UNAUTHORIZED;
  case PROTO_E_FORBIDDEN:
  case PROTO_E_BOT_AS_USER: return HTTP_STATUS_FORBIDDEN;
  case PROTO_E_NOT_FOUND: return HTTP_STATUS_NOT_FOUND;
  case PROTO_E_UNEXPECTED: return HTTP_STATUS_METHOD_NOT_ALLOWED;
  case PROTO_E_CONFLICT:
  case PROTO_E_DUPLICATE:
  case PROTO_E_STALE_VERSION: return HTTP_STATUS_CONFLICT;
  case PROTO_E_TOO_LARGE:
  case PROTO_E_BODY_TOO_LARGE: return HTTP_STATUS_REQ_ENTITY_TOO_LARGE;
  case PROTO_E_RATE_LIMITED:
  case PROTO_E_TOO_MANY_REQUESTS: return 429;
  case PROTO_E_DB_UNAVAILABLE:
  case PROTO_E_QUEUE_FULL:
  case PROTO_E_SHUTTING_DOWN: return HTTP_STATUS_SERVICE_UNAVAILABLE;
  default:
    /* The frame and request classes: the client sent something wrong. */
    if (code <= -1000 && code > -2000)
      return HTTP_STATUS_BAD_REQUEST;
    if (code <= -3000 && code > -4000)
      return HTTP_STATUS_BAD_REQUEST;
    return HTTP_STATUS_INTERNAL_SERVER_ERROR;
  }
}

static void set_reply(struct srv_http_req *req, unsigned status,
                      const char *ctype, int code, char *body, size_t len)
{
  free(req->body);
  req->status = status;
  req->ctype = ctype;
  req->code = code;
  req->body = body;
  req->len = body ? len : 0;
}

void srv_http_ok(struct srv_http_req *req, const char *ctype, char *body,
                 size_t len)
{
  set_reply(req, HTTP_STATUS_OK, ctype, 0, body, len);
}

/* The error body; NULL only when out of memory. */
static char *error_body(int code, const char *field, const char *message)
{
  json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code",
                        proto_err_name(code), "message",
                        message ? message : proto_strerror(code));
  char *s;

  if (!e)   /* `message` was not UTF-8: the code's own message is */
    e = json_pack("{s:{s:s, s:s}}", "error", "code", proto_err_name(code),
                  "message", proto_strerror(code));
  if (e && field)
    json_object_set_new(json_object_get(e, "error"), "field",
                        json_string(field));
  s = e ? json_dumps(e, JSON_COMPACT) : NULL;
  json_decref(e);
  return s;
}

void srv_http_error(struct srv_http_req *req, int code, const char *field,
                    const char *message)
{
  char *body = error_body(code, field, message);

  srv_metric_error(SRV_VIA_HTTP, code);
  set_reply(req, srv_http_status(code), SRV_HTTP_JSON, code, body,
            body ? strlen(body) : 0);
}

static void req_free(struct srv_http_req *req)
{
  if (req->counted)
    req->srv->http_reports--;
  free(req->body);
  free(req->in);
  free(req);
}

void srv_http_send(struct srv_http_req *req)
{
  if (!req->wsi) {
    srv_info("http", "reply to %s dropped: the client closed the connection "
                     "first", req->peer);
    req_free(req);
    return;
  }
  req->ready = true;
  lws_callback_on_writable(req->wsi);
}

/* The connection is going away (closed, or its protocol unbound): a
 * request that waits on a job is left to the job. Idempotent. */
static void detach(struct http_pss *pss)
{
  struct srv_http_req *req = pss ? pss->req : NULL;

  if (!req)
    return;
  pss->req = NULL;
  req->wsi = NULL;
  if (!req->busy)
    req_free(req);
}

static int add_header(struct lws *wsi, enum lws_token_indexes token,
                      const char *value, unsigned char **p, unsigned char *end)
{
  return lws_add_http_header_by_token(wsi, token, (const unsigned char *)value,
                                      (int)strlen(value), p, end);
}

static int write_headers(struct srv_http_req *req)
{
  uint8_t buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start,
          *end = buf + sizeof(buf) - 1;
  struct lws *wsi = req->wsi;

  if (lws_add_http_common_headers(wsi, req->status, req->ctype,
                                  (lws_filepos_t)req->len, &p, end) ||
      add_header(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, "no-store", &p, end))
    return -1;
  /* RFC 6750: a request without a token gets the bare challenge, a bad or
   * expired token also "invalid_token". */
  if (req->status == HTTP_STATUS_UNAUTHORIZED &&
      add_header(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
                 req->code == PROTO_E_UNAUTHENTICATED
                   ? "Bearer realm=\"herald\""
                   : "Bearer realm=\"herald\", error=\"invalid_token\"",
                 &p, end))
    return -1;
  if (req->status == 429 || req->status == HTTP_STATUS_SERVICE_UNAVAILABLE) {
    char ra[16];

    snprintf(ra, sizeof(ra), "%u", req->retry_after ? req->retry_after
                                   : req->status == 429 ? 1u : 5u);
    if (add_header(wsi, WSI_TOKEN_HTTP_RETRY_AFTER, ra, &p, end))
      return -1;
  }
  if (req->status == HTTP_STATUS_METHOD_NOT_ALLOWED &&
      add_header(wsi, WSI_TOKEN_HTTP_ALLOW, req->allow ? req->allow : "GET",
                 &p, end))
    return -1;
  if (req->truncated &&
      lws_add_http_header_by_name(wsi, (const unsigned char *)
                                  "x-report-truncated:",
                                  (const unsigned char *)"true", 4, &p, end))
    return -1;
  return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

/* One step of writing the reply. Returns what the lws callback returns. */
static int on_writeable(struct http_pss *pss)
{
  struct srv_http_req *req = pss ? pss->req : NULL;
  uint8_t buf[LWS_PRE + HTTP_CHUNK];
  struct lws *wsi;
  bool close;

  if (!req || !req->ready)
    return 0;   /* spurious, or the database has not answered yet */
  wsi = req->wsi;
  if (!req->headers_sent) {
    if (write_headers(req) != 0)
      return -1;
    req->headers_sent = true;
    if (req->len > 0 && !req->head) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  } else {
    size_t n = req->len - req->off < HTTP_CHUNK ? req->len - req->off
                                                : HTTP_CHUNK;
    bool final = req->off + n == req->len;

    memcpy(buf + LWS_PRE, req->body + req->off, n);
    if (lws_write(wsi, buf + LWS_PRE, n,
                  final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
      return -1;
    req->off += n;
    if (!final) {
      /* A client that reads slowly but steadily is fine; one that stops
       * reading is dropped after HTTP_TIMEOUT_S. */
      lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HTTP_TIMEOUT_S);
      lws_callback_on_writable(wsi);
      return 0;
    }
  }
  close = req->close_after;
  pss->req = NULL;
  req_free(req);
  lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
  if (close)
    return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Content-Length of the request: -1 when absent or malformed. */
static long long content_length(struct lws *wsi)
{
  char buf[24];
  long long v = 0;
  int n;

  if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
    return -1;
  n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH);
  if (n <= 0 || n > 18)
    return -1;
  for (int i = 0; i < n; i++) {
    if (buf[i] < '0' || buf[i] > '9')
      return -1;
    v = v * 10 + (buf[i] - '0');
  }
  return v;
}

/* Refuses a request body before the route sees it: the robot webhook
 * answers in its own (DingTalk's) shape, every other route with the JSON
 * error. The connection closes after the reply. */
static void refuse_body(struct srv_http_req *req, int code, const char *field,
                        const char *msg)
{
  req->on_body = NULL;
  req->close_after = true;
  if (req->path && strcmp(req->path, "/robot/send") == 0)
    srv_http_robot_refuse(req, code, msg);
  else
    srv_http_error(req, code, field, msg);
}

/* The body is complete (or there is none): runs the route. */
static void run_body_route(struct srv_http_req *req)
{
  void (*fn)(struct srv_http_req *) = req->on_body;

  req->on_body = NULL;
  if (!req->in && !(req->in = calloc(1, 1))) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
  } else {
    fn(req);
  }
  if (req->busy)
    lws_set_timeout(req->wsi, PENDING_TIMEOUT_USER_OK, HTTP_TIMEOUT_S);
  else
    srv_http_send(req);
}

/* Appends a chunk of the body; refuses (413, then close) past the limit.
 * Returns what the lws callback returns. */
static int on_body(struct http_pss *pss, const void *in, size_t len)
{
  struct srv_http_req *req = pss ? pss->req : NULL;
  size_t max;

  if (!req || !req->on_body || req->body_failed)
    return 0;
  max = srv_http_body_max(req->srv);
  if (req->in_len + len > max) {
    char msg[96];

    req->body_failed = true;
    snprintf(msg, sizeof(msg), "request body larger than %zu bytes", max);
    refuse_body(req, PROTO_E_BODY_TOO_LARGE, NULL, msg);
    srv_http_send(req);
    return 0;
  }
  if (req->in_len + len + 1 > req->in_cap) {
    size_t cap = req->in_cap ? req->in_cap : 4096;
    char *n;

    while (cap < req->in_len + len + 1)
      cap *= 2;
    if (!(n = realloc(req->in, cap)))
      return -1;
    req->in = n;
    req->in_cap = cap;
  }
  memcpy(req->in + req->in_len, in, len);
  req->in_len += len;
  req->in[req->in_len] = '\0';
  return 0;
}

static int on_request(struct srv_server *srv, struct lws *wsi,
                      struct http_pss *pss, const char *path)
{
  const struct http_route *route;
  struct srv_http_req *req;
  char *uri;
  int urilen, method;

  if (!pss)
    return -1;
  detach(pss);   /* lws starts no transaction before the last completed */
  if (!(req = calloc(1, sizeof(*req))))
    return -1;
  req->srv = srv;
  req->wsi = wsi;
  lws_get_peer_simple(wsi, req->peer, sizeof(req->peer));
  pss->req = req;
  method = lws_http_get_uri_and_method(wsi, &uri, &urilen);
  route = route_of(path);
  if (route) {
    req->path = route->path;
    req->allow = route->method == LWSHUMETH_POST ? "POST" : "GET";
    if (route->prefix)
      snprintf(req->rest, sizeof(req->rest), "%s",
               path + strlen(route->path));
  }
  if (route && method == LWSHUMETH_POST && route->method == LWSHUMETH_POST) {
    long long cl = content_length(wsi);

    req->on_body = route->fn;
    if (cl > (long long)srv_http_body_max(srv)) {
      /* Refused before reading it: answer, then close. */
      char msg[96];

      snprintf(msg, sizeof(msg), "request body larger than %zu bytes",
               srv_http_body_max(srv));
      refuse_body(req, PROTO_E_BODY_TOO_LARGE, NULL, msg);
    } else if (cl < 0 &&
               lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
      /* libwebsockets does not decode chunked request bodies. */
      refuse_body(req, PROTO_E_BAD_VALUE, "Transfer-Encoding",
                  "send the body with a Content-Length; chunked request "
                  "bodies are not accepted");
    } else if (cl <= 0) {
      run_body_route(req);   /* no body will come */
      return 0;
    } else {
      /* HTTP_BODY, then HTTP_BODY_COMPLETION; a client that stops
       * sending its body is dropped. */
      lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HTTP_TIMEOUT_S);
      return 0;
    }
  } else if (route && method != route->method) {
    /* It may carry a body that nobody reads: answer, then close. */
    req->close_after = method != LWSHUMETH_GET;
    req->head = method == LWSHUMETH_HEAD;
    srv_http_error(req, PROTO_E_UNEXPECTED, NULL,
                   route->method == LWSHUMETH_POST
                     ? "method not allowed: use POST"
                     : "method not allowed: use GET");
  } else if (!route) {
    req->close_after = method != LWSHUMETH_GET;
    req->head = method == LWSHUMETH_HEAD;
    srv_http_error(req, PROTO_E_NOT_FOUND, NULL, "no such path");
  } else {
    route->fn(req);
  }
  if (req->busy)
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HTTP_TIMEOUT_S);
  else
    srv_http_send(req);
  return 0;
}

int srv_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
  struct http_pss *pss = user;

  switch (reason) {
  case LWS_CALLBACK_HTTP:
    return on_request(lws_context_user(lws_get_context(wsi)), wsi, pss, in);
  case LWS_CALLBACK_HTTP_BODY:
    return on_body(pss, in, len);
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    if (pss && pss->req && pss->req->on_body && !pss->req->body_failed)
      run_body_route(pss->req);
    return 0;
  case LWS_CALLBACK_HTTP_WRITEABLE:
    return on_writeable(pss);
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    detach(pss);
    break;
  case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
    /* Sent to protocols[0] once, with the vhost's SSL_CTX (tls_int.h). */
    return srv_tls_vhost_ctx(lws_context_user(lws_get_context(wsi)), user);
  case LWS_CALLBACK_WSI_DESTROY:
    /* Sent to protocols[0] for every connection, WebSocket ones too, whose
     * per-connection data is not ours. */
    if (lws_get_protocol(wsi) && lws_get_protocol(wsi)->callback == srv_http_cb)
      detach(pss);
    break;
  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}
