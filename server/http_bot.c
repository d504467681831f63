/*
 * http_bot.c — the bot API over HTTP (SPEC §9), JSON in and out:
 *
 *   POST /api/v1/messages
 *        {"conversation": ID, "text": "...", "cmid": "...", "tracked": B}
 *        -> 200 {"conversation","seq","ts","cmid","dup"}
 *   GET  /api/v1/messages/{conversation}/{seq}/summary
 *        -> 200 delivery/read/ack counts and per-recipient state of a
 *           message the bot posted (no read times: those are for people)
 *   POST /api/v1/cards, POST /api/v1/cards/{id}/actions
 *        cards, once the server has them (answered with a clear error
 *        until then)
 *
 * Authorization: Bearer <bot token>. A user's session token is refused
 * with 403 FORBIDDEN: the API acts as a bot only. Messages go through the
 * one send path (send_int.h): group commit, exactly once per (bot, cmid),
 * published live to members, counted against the bot's rate limit
 * (botrate_int.h; 429 with Retry-After when over it). A conversation the
 * bot was not added to is 403 FORBIDDEN.
 *
 * The loop parses the body (bounded by srv_http_body_max); one job on the
 * reader pool resolves the token (and builds a summary), then the send
 * job commits. Tokens are never logged.
 */
#include "botrate_int.h"
#include "dbpool_int.h"
#include "dispatch_int.h"
#include "http_int.h"
#include "log_int.h"
#include "send_int.h"
#include "server_int.h"

#include "hcrypto.h"
#include "proto.h"
#include "store.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum bot_op { OP_MESSAGE, OP_SUMMARY };

struct bot_job {
  struct srv_dbjob job;
  struct srv_http_req *req;     /* busy: the request waits for us */
  enum bot_op op;
  uint8_t token_hash[HCR_TOKEN_HASH_LEN];
  int64_t conv, seq;
  char cmid[PROTO_CMID_MAX + 1];
  char *text;                   /* owned */
  size_t len;
  bool tracked;

  /* Set on the database thread. */
  int code;                     /* 0 or a proto code */
  char msg[256];
  const char *field;            /* static, or NULL */
  int64_t bot_id;
  int rate;
  char *body;                   /* a rendered reply (owned) */
  size_t blen;
};

static void job_free(struct bot_job *bj)
{
  free(bj->text);
  free(bj->body);
  free(bj);
}

/* ------------------------------------------------------------------ */
/* Authorization. */

int srv_http_bearer(struct srv_http_req *req, uint8_t hash[32])
{
  char buf[128], *t, *end;
  int n, rc = -1;

  if (lws_hdr_total_length(req->wsi, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0) {
    srv_http_error(req, PROTO_E_UNAUTHENTICATED, "Authorization",
                   "send the bot's token as Authorization: Bearer <token>");
    return -1;
  }
  n = lws_hdr_copy(req->wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_AUTHORIZATION);
  if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0) {
    for (t = buf + 7; *t == ' '; t++)
      ;
    for (end = t + strlen(t); end > t && end[-1] == ' '; end--)
      ;
    *end = '\0';
    if (end - t == HCR_TOKEN_LEN && hcr_token_hash(t, hash) == HCR_OK)
      rc = 0;
  }
  hcr_wipe(buf, sizeof(buf));
  if (rc != 0) {
    srv_ratelimit_hit(&req->srv->login_by_peer, req->peer, strlen(req->peer),
                      srv_now_ms());
    srv_http_error(req, PROTO_E_BAD_CREDENTIALS, "Authorization",
                   "Authorization must be: Bearer <bot token>, the token "
                   "that heraldctl bot create printed");
  }
  return rc;
}

/* On the database thread: the token's principal, which must be a bot. */
static int resolve_bot(struct bot_job *bj, struct store_conn *conn)
{
  struct store_principal who;
  int rc = store_session_lookup(conn, bj->token_hash, &who);

  bj->job.rc = rc;
  if (rc != STORE_OK) {
    bj->field = "Authorization";
    bj->code = rc == STORE_ENOTFOUND ? PROTO_E_BAD_CREDENTIALS
               : rc == STORE_EINVAL  ? PROTO_E_TOKEN_EXPIRED
                                     : srv_code_from_store(rc);
    snprintf(bj->msg, sizeof(bj->msg), "%s",
             rc == STORE_ENOTFOUND ? "unknown token"
             : rc == STORE_EINVAL  ? "the bot was revoked"
                                   : "");
    return -1;
  }
  if (who.kind != STORE_PRINCIPAL_BOT) {
    bj->code = PROTO_E_FORBIDDEN;
    bj->field = "Authorization";
    snprintf(bj->msg, sizeof(bj->msg), "the bot API takes bot tokens; a "
             "user's session token is refused here");
    return -1;
  }
  bj->bot_id = who.id;
  bj->rate = who.rate_limit_per_minute;
  return 0;
}

/* ------------------------------------------------------------------ */
/* The summary, rendered on the database thread. */

static char *render_summary(const struct bot_job *bj,
                            const struct store_bot_summary *s, size_t *len)
{
  json_t *o = json_object(), *rows = json_array();
  int64_t delivered = 0, read = 0, acked = 0;
  bool ding = s->kind == STORE_MSG_DING;
  char *out = NULL;

  if (!o || !rows)
    goto out;
  for (size_t i = 0; i < s->n; i++) {
    const struct store_bot_rcpt *r = &s->rcpt[i];
    json_t *row = json_pack("{s:I, s:s, s:b, s:b}", "id",
                            (json_int_t)r->user_id, "login", r->login,
                            "delivered", r->delivered, "read", r->read);

    if (!row)
      goto out;
    if (ding) {
      json_object_set_new(row, "acked", json_boolean(r->acked));
      if (r->acked)
        json_object_set_new(row, "acked_at",
                            json_integer((json_int_t)r->acked_at_ms));
    }
    json_array_append_new(rows, row);
    delivered += r->delivered;
    read += r->read;
    acked += r->acked;
  }
  json_object_set_new(o, "conversation", json_integer((json_int_t)bj->conv));
  json_object_set_new(o, "seq", json_integer((json_int_t)bj->seq));
  json_object_set_new(o, "kind", json_string(ding ? "ding"
                                             : s->kind == STORE_MSG_CARD
                                               ? "card" : "text"));
  json_object_set_new(o, "ts", json_integer((json_int_t)s->sent_at_ms));
  json_object_set_new(o, "tracked", json_boolean(s->tracked));
  json_object_set_new(o, "recipients", json_integer((json_int_t)s->n));
  json_object_set_new(o, "delivered", json_integer((json_int_t)delivered));
  json_object_set_new(o, "read", json_integer((json_int_t)read));
  if (ding)
    json_object_set_new(o, "acked", json_integer((json_int_t)acked));
  json_object_set_new(o, "per_recipient", rows);
  rows = NULL;
  out = json_dumps(o, JSON_COMPACT);
  if (out)
    *len = strlen(out);
out:
  json_decref(rows);
  json_decref(o);
  return out;
}

static void bot_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct bot_job *bj = (struct bot_job *)job;
  struct store_bot_summary s;
  int rc;

  if (!conn) {
    bj->code = PROTO_E_DB_UNAVAILABLE;
    job->rc = STORE_EUNAVAIL;
    return;
  }
  if (resolve_bot(bj, conn) != 0 || bj->op != OP_SUMMARY)
    return;
  rc = store_bot_message_summary(conn, bj->bot_id, bj->conv, bj->seq, &s);
  job->rc = rc;
  if (rc != STORE_OK) {
    bj->code = srv_code_from_store(rc);
    if (rc == STORE_EFORBIDDEN || rc == STORE_ENOTFOUND)
      snprintf(bj->msg, sizeof(bj->msg), "%s", store_errmsg(conn));
    return;
  }
  if (!(bj->body = render_summary(bj, &s, &bj->blen)))
    bj->code = PROTO_E_NOMEM;
  store_bot_summary_cleanup(&s);
}

/* ------------------------------------------------------------------ */
/* Back on the loop. */

static void refuse(struct srv_http_req *req, int code, const char *field,
                   const char *msg)
{
  if (code == PROTO_E_BAD_CREDENTIALS || code == PROTO_E_TOKEN_EXPIRED)
    srv_ratelimit_hit(&req->srv->login_by_peer, req->peer, strlen(req->peer),
                      srv_now_ms());
  srv_info("http", "bot request from %s refused: %s", req->peer,
           proto_err_name(code));
  srv_http_error(req, code, field, msg && msg[0] ? msg : NULL);
}

/* The message is committed or refused. */
static void message_sent(void *arg, const struct srv_send_outcome *o)
{
  struct srv_http_req *req = arg;
  json_t *j;
  char *s;

  req->busy = false;
  if (o->code != 0) {
    if (o->not_member)
      refuse(req, PROTO_E_FORBIDDEN, "conversation",
             "the bot was not added to this conversation (or it does not "
             "exist)");
    else
      refuse(req, o->code, o->field[0] ? o->field : NULL, o->why);
  } else if (!(j = json_pack("{s:I, s:I, s:I, s:b}", "conversation",
                             (json_int_t)o->conv, "seq", (json_int_t)o->seq,
                             "ts", (json_int_t)o->ts, "dup", o->dup)) ||
             !(s = json_dumps(j, JSON_COMPACT))) {
    json_decref(j);
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
  } else {
    json_decref(j);
    srv_http_ok(req, SRV_HTTP_JSON, s, strlen(s));
  }
  srv_http_send(req);
}

static void bot_done(struct srv_dbjob *job)
{
  struct bot_job *bj = (struct bot_job *)job;
  struct srv_http_req *req = bj->req;
  struct srv_server *srv = req->srv;

  if (bj->code != 0) {
    req->busy = false;
    refuse(req, bj->code, bj->field, bj->msg);
  } else if (bj->op == OP_SUMMARY) {
    req->busy = false;
    srv_http_ok(req, SRV_HTTP_JSON, bj->body, bj->blen);
    bj->body = NULL;
  } else {
    struct srv_send_args a = {
      .bot_id = bj->bot_id, .rate_per_minute = bj->rate, .cmid = bj->cmid,
      .conv = bj->conv, .body = bj->text, .len = bj->len,
      .flagged = bj->tracked};
    int64_t wait = 0;
    int code = srv_send_bot(srv, &a, message_sent, req, &wait);

    if (code == 0) {
      job_free(bj);
      return;   /* message_sent answers */
    }
    req->busy = false;
    if (wait > 0) {
      char why[128];

      srv_botrate_message(why, sizeof(why), bj->rate, wait);
      req->retry_after = (unsigned)((wait + 999) / 1000);
      refuse(req, code, NULL, why);
    } else {
      refuse(req, code, code == PROTO_E_BODY_TOO_LARGE ? "text" : NULL, NULL);
    }
  }
  job_free(bj);
  srv_http_send(req);
}

/* ------------------------------------------------------------------ */
/* Parsing. Each returns 0, or sets the error reply and returns -1. */

/* The body as a JSON object. */
static json_t *parse_body(struct srv_http_req *req)
{
  json_error_t err;
  json_t *j;
  char msg[256];

  if (!proto_utf8_valid(req->in, req->in_len)) {
    srv_http_error(req, PROTO_E_BAD_UTF8, NULL,
                   "the request body is not valid UTF-8");
    return NULL;
  }
  j = json_loadb(req->in, req->in_len, JSON_REJECT_DUPLICATES, &err);
  if (!j) {
    snprintf(msg, sizeof(msg), "the request body is not valid JSON: %s "
             "(line %d, column %d)", err.text, err.line, err.column);
    srv_http_error(req, PROTO_E_MALFORMED, NULL, msg);
    return NULL;
  }
  if (!json_is_object(j)) {
    srv_http_error(req, PROTO_E_WRONG_TYPE, NULL,
                   "the request body must be a JSON object");
    json_decref(j);
    return NULL;
  }
  return j;
}

static int want_id(struct srv_http_req *req, json_t *o, const char *name,
                   int64_t *out)
{
  json_t *v = json_object_get(o, name);
  char msg[96];

  if (!v) {
    snprintf(msg, sizeof(msg), "%s is required", name);
    srv_http_error(req, PROTO_E_MISSING, name, msg);
    return -1;
  }
  if (!json_is_integer(v)) {
    snprintf(msg, sizeof(msg), "%s must be an integer id", name);
    srv_http_error(req, PROTO_E_WRONG_TYPE, name, msg);
    return -1;
  }
  if (json_integer_value(v) < 1) {
    snprintf(msg, sizeof(msg), "%s must be a positive id", name);
    srv_http_error(req, PROTO_E_RANGE, name, msg);
    return -1;
  }
  *out = (int64_t)json_integer_value(v);
  return 0;
}

/* A fresh cmid for a caller that gave none: each call is a new message. */
static void random_cmid(const char *prefix, char out[PROTO_CMID_MAX + 1])
{
  uint8_t r[16];
  size_t n = strlen(prefix);

  hcr_random(r, sizeof(r));
  memcpy(out, prefix, n);
  for (size_t i = 0; i < sizeof(r); i++)
    snprintf(out + n + 2 * i, 3, "%02x", r[i]);
}

static int parse_message(struct srv_http_req *req, struct bot_job *bj)
{
  static const char *const known[] = {"conversation", "text", "cmid",
                                      "tracked", "kind"};
  json_t *o = parse_body(req), *v;
  const char *key;
  char msg[160];
  int rc = -1;

  if (!o)
    return -1;
  json_object_foreach(o, key, v) {
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
      if (strcmp(key, known[i]) == 0)
        break;
    if (i == sizeof(known) / sizeof(known[0])) {
      snprintf(msg, sizeof(msg), "unknown field \"%.60s\": use conversation, "
               "text, cmid, tracked", key);
      srv_http_error(req, PROTO_E_BAD_VALUE, key, msg);
      goto out;
    }
  }
  if (want_id(req, o, "conversation", &bj->conv) != 0)
    goto out;
  if ((v = json_object_get(o, "kind")) &&
      (!json_is_string(v) || strcmp(json_string_value(v), "text") != 0)) {
    srv_http_error(req, PROTO_E_BAD_VALUE, "kind",
                   "kind must be \"text\" here; post cards to /api/v1/cards");
    goto out;
  }
  v = json_object_get(o, "text");
  if (!v) {
    srv_http_error(req, PROTO_E_MISSING, "text", "text is required");
    goto out;
  }
  if (!json_is_string(v)) {
    srv_http_error(req, PROTO_E_WRONG_TYPE, "text", "text must be a string");
    goto out;
  }
  bj->len = json_string_length(v);
  if (bj->len == 0 || strlen(json_string_value(v)) != bj->len) {
    srv_http_error(req, PROTO_E_BAD_VALUE, "text",
                   "text must be non-empty and contain no NUL character");
    goto out;
  }
  if (bj->len > (size_t)req->srv->cfg->max_body) {
    snprintf(msg, sizeof(msg), "text is %zu bytes; the limit is %d",
             bj->len, req->srv->cfg->max_body);
    srv_http_error(req, PROTO_E_BODY_TOO_LARGE, "text", msg);
    goto out;
  }
  if (!(bj->text = strdup(json_string_value(v)))) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    goto out;
  }
  if ((v = json_object_get(o, "cmid"))) {
    size_t n = json_is_string(v) ? json_string_length(v) : 0;

    if (!json_is_string(v) || n < 1 || n > PROTO_CMID_MAX ||
        strlen(json_string_value(v)) != n) {
      srv_http_error(req, json_is_string(v) ? PROTO_E_BAD_VALUE
                                            : PROTO_E_WRONG_TYPE, "cmid",
                     "cmid must be a string of 1 to 64 bytes");
      goto out;
    }
    memcpy(bj->cmid, json_string_value(v), n + 1);
  } else {
    random_cmid("http-", bj->cmid);
  }
  if ((v = json_object_get(o, "tracked"))) {
    if (!json_is_boolean(v)) {
      srv_http_error(req, PROTO_E_WRONG_TYPE, "tracked",
                     "tracked must be true or false");
      goto out;
    }
    bj->tracked = json_is_true(v);
  }
  rc = 0;
out:
  json_decref(o);
  return rc;
}

/* "{conv}/{seq}/summary" */
static int parse_summary_path(struct srv_http_req *req, struct bot_job *bj)
{
  long long c, s;
  int n = 0;

  if (sscanf(req->rest, "%18lld/%18lld/summary%n", &c, &s, &n) != 2 ||
      req->rest[n] != '\0' || c < 1 || s < 1 || req->rest[0] == '+' ||
      req->rest[0] == '-') {
    srv_http_error(req, PROTO_E_NOT_FOUND, NULL,
                   "no such path: use /api/v1/messages/{conversation}/{seq}"
                   "/summary");
    return -1;
  }
  bj->conv = c;
  bj->seq = s;
  return 0;
}

/* ------------------------------------------------------------------ */
/* The routes. */

static void start(struct srv_http_req *req, enum bot_op op)
{
  struct srv_server *srv = req->srv;
  struct bot_job *bj;

  if (srv->stopping) {
    srv_http_error(req, PROTO_E_SHUTTING_DOWN, NULL, NULL);
    return;
  }
  if (!srv_ratelimit_allowed(&srv->login_by_peer, req->peer,
                             strlen(req->peer), srv_now_ms())) {
    srv_http_error(req, PROTO_E_RATE_LIMITED, NULL,
                   "too many failed attempts from this address; try later");
    return;
  }
  if (!(bj = calloc(1, sizeof(*bj)))) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    return;
  }
  bj->op = op;
  if (srv_http_bearer(req, bj->token_hash) != 0 ||
      (op == OP_MESSAGE && parse_message(req, bj) != 0) ||
      (op == OP_SUMMARY && parse_summary_path(req, bj) != 0)) {
    job_free(bj);
    return;
  }
  bj->job.run = bot_run;
  bj->job.done = bot_done;
  bj->req = req;
  req->busy = true;
  srv_dbpool_submit(srv->reader, &bj->job);
}

void srv_http_bot_message(struct srv_http_req *req)
{
  start(req, OP_MESSAGE);
}

void srv_http_bot_summary(struct srv_http_req *req)
{
  start(req, OP_SUMMARY);
}

void srv_http_bot_card(struct srv_http_req *req)
{
  uint8_t hash[HCR_TOKEN_HASH_LEN];

  if (srv_http_bearer(req, hash) != 0)
    return;
  srv_http_error(req, PROTO_E_BAD_VALUE, "card",
                 "cards are not supported by this server yet");
}

void srv_http_bot_card_action(struct srv_http_req *req)
{
  srv_http_bot_card(req);
}
