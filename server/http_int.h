/*
 * http_int.h — heraldd's HTTP requests, between the connection code
 * (http.c: routing, replies, writes) and the routes that answer later
 * (http_report.c).
 *
 * A request is a heap object because its answer may come from a database
 * job that finishes after the client went away. It has up to two holders:
 * the connection, until the reply is written or the connection closes, and,
 * while `busy`, one database job. When the connection closes first, http.c
 * sets `wsi` to NULL and leaves the request to the job; the job's done()
 * sets the reply and calls srv_http_send, which then frees the request
 * without touching the connection. So a job never sees a freed wsi.
 *
 * Loop thread only.
 */
#ifndef HERALD_SRV_HTTP_INT_H
#define HERALD_SRV_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lws;
struct srv_server;

struct srv_http_req {
  struct srv_server *srv;
  struct lws *wsi;              /* NULL once the connection is gone */
  char peer[48];                /* remote address: rate limits, logs */
  bool busy;                    /* a database job will call srv_http_send */
  bool counted;                 /* holds one of srv->http_reports */

  /* The reply, set by srv_http_ok / srv_http_error. */
  unsigned status;
  const char *ctype;            /* Content-Type (static) */
  int code;                     /* proto code of an error reply, else 0 */
  bool truncated;               /* a report cut at its limit */
  bool close_after;             /* close the connection after the reply */
  bool head;                    /* HEAD: the headers without the body */
  unsigned retry_after;         /* Retry-After seconds of a 429/503; 0:
                                   the default (1 s, 5 s) */
  char *body;                   /* owned */
  size_t len;

  /* The request body of a POST (http.c reads it before calling the
   * route): NUL-terminated, at most srv_http_body_max bytes. */
  char *in;
  size_t in_len, in_cap;
  const char *path;             /* the route's path (static), for prefixes */
  char rest[256];               /* what follows a prefix route's path */
  const char *allow;            /* the route's method, for 405 (static) */
  void (*on_body)(struct srv_http_req *req); /* a POST waits for its body */
  bool body_failed;             /* the body was refused (413): ignore it */

  /* Writing it (http.c). */
  bool ready;                   /* the reply is set */
  bool headers_sent;
  size_t off;                   /* body bytes written */
};

#define SRV_HTTP_JSON "application/json; charset=utf-8"
#define SRV_HTTP_CSV "text/csv; charset=utf-8"

/* The one mapping from a proto error code to an HTTP status: 400 for a bad
 * request (1xxx), 401 for missing, wrong or expired credentials, 403 for
 * FORBIDDEN and BOT_AS_USER, 404 NOT_FOUND, 405 UNEXPECTED (wrong method),
 * 409 CONFLICT/DUPLICATE/STALE_VERSION, 413 for sizes, 429 for rate
 * limits, 503 for DB_UNAVAILABLE/QUEUE_FULL/SHUTTING_DOWN, 500 otherwise. */
unsigned srv_http_status(int code);

/* Sets a 200 reply of `len` bytes at `body` (malloc'd; the request takes
 * it) with Content-Type `ctype` (static). */
void srv_http_ok(struct srv_http_req *req, const char *ctype, char *body,
                 size_t len);

/* Sets an error reply for `code` (negative proto code): the status from
 * srv_http_status and the body
 *   {"error":{"code":"NAME","message":"...","field":"..."}}
 * `message` NULL means the code's own message; `field` (may be NULL) names
 * the query parameter at fault. 401 adds WWW-Authenticate: Bearer, 429 and
 * 503 add Retry-After. Never pass a token in `message`. */
void srv_http_error(struct srv_http_req *req, int code, const char *field,
                    const char *message);

/* Once the reply is set (and busy cleared): starts writing it, or, when the
 * connection is gone, frees the request. The request must not be used
 * after this call. */
void srv_http_send(struct srv_http_req *req);

/* The largest request body accepted: room for a message body of max-body
 * bytes written entirely as JSON escapes, and then some. */
size_t srv_http_body_max(const struct srv_server *srv);

/* The bot API (http_bot.c), Authorization: Bearer <bot token>:
 *   POST /api/v1/messages                      post a text message
 *   GET  /api/v1/messages/{conv}/{seq}/summary  delivery/read/ack state
 *   POST /api/v1/cards                         post a card
 *   POST /api/v1/cards/{id}/actions            act on a card
 * and the DingTalk-compatible robot webhook (http_robot.c):
 *   POST /robot/send?access_token=...
 * Same contract as srv_http_report. */
void srv_http_bot_message(struct srv_http_req *req);
void srv_http_bot_summary(struct srv_http_req *req);
void srv_http_bot_card(struct srv_http_req *req);
void srv_http_bot_card_action(struct srv_http_req *req);
void srv_http_robot(struct srv_http_req *req);

/* The robot webhook's answer to a body http.c refused before reading it
 * (BODY_TOO_LARGE: errcode 460101, else 40035), HTTP 200 as DingTalk. */
void srv_http_robot_refuse(struct srv_http_req *req, int code,
                           const char *msg);

/* "Authorization: Bearer <token>" into its hash, for every route that
 * takes a token. 0, or sets the error reply (401, counted against the
 * caller's address like failed logins) and returns -1: UNAUTHENTICATED
 * with `missing` when there is no header, BAD_CREDENTIALS with `bad`
 * when it is not a well-formed bearer token; `field` names the header in
 * the reply (or NULL). */
int srv_http_bearer(struct srv_http_req *req, uint8_t hash[32],
                    const char *field, const char *missing, const char *bad);

/* GET /readyz: 200 when the database answers and the schema is current,
 * else 503 naming what is wrong; cached for a second, checked on the
 * reader pool (readyz.c). GET /metrics: the Prometheus text of
 * metrics_int.h. */
void srv_http_readyz(struct srv_http_req *req);
void srv_http_metrics(struct srv_http_req *req);

/* GET /api/v1/reports/unread (http_report.c): either sets the reply at
 * once (bad parameters, no token...) or sets busy and submits a job whose
 * done() sets it and calls srv_http_send. */
void srv_http_report(struct srv_http_req *req);

#endif
