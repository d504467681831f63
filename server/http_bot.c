/*
 * http_bot.c — the bot API over HTTP (SPEC §9), JSON in and out:
 *
 *   POST /api/v1/messages
 *        {"conversation": ID, "text": "...", "cmid": "...", "tracked": B}
 *        and for a DING "kind": "ding", "urgency", "to" (ids or logins)
 *        or "all"
 *        -> 200 {"conversation","seq","ts","cmid","dup"}
 *   GET  /api/v1/messages/{conversation}/{seq}/summary
 *        -> 200 delivery/read/ack counts and per-recipient state of a
 *           message the bot posted (no read times: those are for people)
 *   POST /api/v1/cards {"conversation": ID, "card": {...}, "cmid": "..."}
 *        -> 200 {"card","ver","conversation","seq","ts","dup"}
 *   POST /api/v1/cards/{id}/actions
 *        {"action": "set_status", "args": {...}, "base": V, "cmid": "..."}
 *        -> 200 {"card","ver","dup"}; only on cards the bot created
 *        (card_int.h runs both, as for the WebSocket frames)
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
#include "card_int.h"
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

enum bot_op { OP_MESSAGE, OP_SUMMARY, OP_CARD, OP_ACTION };

struct bot_job {
  struct srv_dbjob job;
  struct srv_http_req *req;     /* busy: the request waits for us */
  enum bot_op op;
  uint8_t token_hash[HCR_TOKEN_HASH_LEN];
  int64_t conv, seq;
  int64_t card, base;           /* OP_ACTION */
  char action[64];
  char *args;                   /* OP_ACTION: args as JSON (owned), or NULL */
  char cmid[PROTO_CMID_MAX + 1];
  char *text;                   /* owned; OP_CARD: the card's JSON */
  size_t len;
  bool tracked;
  int urgency;                  /* a DING: enum store_urgency; 0 a text */
  bool all;
  int64_t *to;                  /* DING recipients (owned); 0 where */
  char **to_login;              /* ... a login stands, resolved by the job */
  size_t nto;

  /* Set on the database thread. */
  int code;                     /* 0 or a proto code */
  char msg[256];
  const char *field;            /* static, field_buf, or NULL */
  char field_buf[32];
  int64_t bot_id;
  int rate;
  char *body;                   /* a rendered reply (owned) */
  size_t blen;
};

static void job_free(struct bot_job *bj)
{
  for (size_t i = 0; bj->to_login && i < bj->nto; i++)
    free(bj->to_login[i]);
  free(bj->to_login);
  free(bj->to);
  free(bj->args);
  free(bj->text);
  free(bj->body);
  free(bj);
}

/* ------------------------------------------------------------------ */
/* Authorization. */

int srv_http_bearer(struct srv_http_req *req, uint8_t hash[32],
                    const char *field, const char *missing, const char *bad)
{
  char buf[128], *t, *end;
  int n, rc = -1;

  if (lws_hdr_total_length(req->wsi, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0) {
    srv_http_error(req, PROTO_E_UNAUTHENTICATED, field, missing);
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
    srv_http_error(req, PROTO_E_BAD_CREDENTIALS, field, bad);
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
  if (resolve_bot(bj, conn) != 0)
    return;
  for (size_t i = 0; bj->op == OP_MESSAGE && i < bj->nto; i++) {
    struct store_user u;

    if (!bj->to_login[i])
      continue;
    rc = job->rc = store_user_get(conn, bj->to_login[i], &u);
    if (rc != STORE_OK) {
      bj->code = rc == STORE_ENOTFOUND ? PROTO_E_BAD_VALUE
                                       : srv_code_from_store(rc);
      snprintf(bj->field_buf, sizeof(bj->field_buf), "to[%zu]", i);
      bj->field = bj->field_buf;
      snprintf(bj->msg, sizeof(bj->msg), "%s", store_errmsg(conn));
      return;
    }
    bj->to[i] = u.id;
  }
  if (bj->op == OP_ACTION) {
    struct store_card card;

    /* A bot acts only on the cards it created. */
    rc = job->rc = store_card_get(conn, STORE_PRINCIPAL_BOT, bj->bot_id,
                                  bj->card, &card);
    if (rc != STORE_OK) {
      bj->code = srv_code_from_store(rc);
      if (rc == STORE_ENOTFOUND) {
        bj->field = "card";
        snprintf(bj->msg, sizeof(bj->msg), "no card %lld in a conversation "
                 "the bot was added to", (long long)bj->card);
      }
      return;
    }
    if (card.creator_kind != STORE_PRINCIPAL_BOT ||
        card.creator_id != bj->bot_id) {
      bj->code = PROTO_E_FORBIDDEN;
      bj->field = "card";
      snprintf(bj->msg, sizeof(bj->msg), "a bot acts only on the cards it "
               "created");
    }
    store_card_free(&card);
    return;
  }
  if (bj->op != OP_SUMMARY)
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

/* A card was posted or acted on, or refused. */
static void card_done(void *arg, const struct srv_card_result *r)
{
  struct srv_http_req *req = arg;
  char field[PROTO_ERR_FIELD_MAX + 8];
  json_t *j;
  char *s;

  req->busy = false;
  if (r->code != 0) {
    if (r->code == PROTO_E_NOT_FOUND && strcmp(r->err.field, "conv") == 0) {
      refuse(req, PROTO_E_FORBIDDEN, "conversation",
             "the bot was not added to this conversation (or it does not "
             "exist)");
    } else {
      /* Card fields are JSON pointers into "card". */
      snprintf(field, sizeof(field), "%s%s",
               r->err.field[0] == '/' ? "card" : "", r->err.field);
      refuse(req, r->code, field[0] ? field : NULL, r->err.msg);
    }
  } else if (!(j = json_pack("{s:I, s:I, s:b}", "card", (json_int_t)r->card,
                             "ver", (json_int_t)r->ver, "dup", r->dup))) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
  } else {
    if (r->seq) {
      json_object_set_new(j, "conversation", json_integer(r->conv));
      json_object_set_new(j, "seq", json_integer(r->seq));
      json_object_set_new(j, "ts", json_integer(r->ts));
    }
    if ((s = json_dumps(j, JSON_COMPACT)))
      srv_http_ok(req, SRV_HTTP_JSON, s, strlen(s));
    else
      srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    json_decref(j);
  }
  srv_http_send(req);
}

/* Posts the card or runs the action; 0 when card_done will answer. */
static int card_start(struct bot_job *bj)
{
  struct srv_http_req *req = bj->req;
  struct srv_card_principal p = {.bot = true, .id = bj->bot_id};
  int64_t wait;
  char why[128];
  int code;

  if (bj->op == OP_CARD) {
    if ((wait = srv_botrate_take(req->srv, bj->bot_id, bj->rate,
                                 srv_now_ms())) > 0) {
      srv_botrate_message(why, sizeof(why), bj->rate, wait);
      req->retry_after = (unsigned)((wait + 999) / 1000);
      refuse(req, PROTO_E_TOO_MANY_REQUESTS, NULL, why);
      return -1;
    }
    code = srv_card_post(req->srv, &p, bj->conv, bj->cmid, bj->text, bj->len,
                         card_done, req);
  } else {
    struct srv_card_req q = {.op = SRV_CARD_ACTION, .card = bj->card,
                             .action = bj->action, .args = bj->args,
                             .cmid = bj->cmid[0] ? bj->cmid : NULL,
                             .base = bj->base};

    code = srv_card_act(req->srv, &p, &q, card_done, req);
  }
  if (code != 0)
    refuse(req, code, code == PROTO_E_BODY_TOO_LARGE ? "card" : NULL, NULL);
  return code;
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
  } else if (bj->op == OP_CARD || bj->op == OP_ACTION) {
    if (card_start(bj) == 0) {
      job_free(bj);
      return;   /* card_done answers */
    }
    req->busy = false;
  } else {
    struct srv_send_args a = {
      .bot_id = bj->bot_id, .rate_per_minute = bj->rate, .cmid = bj->cmid,
      .conv = bj->conv, .body = bj->text, .len = bj->len,
      .flagged = bj->tracked, .urgency = bj->urgency, .all = bj->all,
      .to = bj->to, .nto = bj->nto};
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

/* A DING's urgency and recipients: "urgency" normal (default), urgent or
 * critical; "to": user ids or logins, or "all": true (the default). */
static int parse_ding(struct srv_http_req *req, json_t *o, struct bot_job *bj)
{
  json_t *u = json_object_get(o, "urgency"), *to = json_object_get(o, "to");
  json_t *all = json_object_get(o, "all"), *v;
  const char *us = json_is_string(u) ? json_string_value(u) : "";
  char field[32];
  size_t i;

  bj->urgency = !u                            ? STORE_URG_NORMAL
                : strcmp(us, "normal") == 0   ? STORE_URG_NORMAL
                : strcmp(us, "urgent") == 0   ? STORE_URG_URGENT
                : strcmp(us, "critical") == 0 ? STORE_URG_CRITICAL
                                              : 0;
  if (!bj->urgency) {
    srv_http_error(req, json_is_string(u) ? PROTO_E_BAD_VALUE
                                          : PROTO_E_WRONG_TYPE, "urgency",
                   "urgency must be \"normal\", \"urgent\" or \"critical\"");
    return -1;
  }
  if (all && !json_is_boolean(all)) {
    srv_http_error(req, PROTO_E_WRONG_TYPE, "all", "all must be true or false");
    return -1;
  }
  if (!to) {
    if (json_is_false(all)) {
      srv_http_error(req, PROTO_E_MISSING, "to",
                     "a DING needs \"to\" (user ids or logins) or \"all\"");
      return -1;
    }
    bj->all = true;
    return 0;
  }
  if (json_is_true(all)) {
    srv_http_error(req, PROTO_E_BAD_VALUE, "all",
                   "give either \"to\" or \"all\": true, not both");
    return -1;
  }
  if (!json_is_array(to) || json_array_size(to) == 0 ||
      json_array_size(to) > STORE_DING_TO_MAX) {
    srv_http_error(req, json_is_array(to) ? PROTO_E_RANGE : PROTO_E_WRONG_TYPE,
                   "to", "to must be an array of 1 to 4096 user ids or "
                   "logins");
    return -1;
  }
  bj->nto = json_array_size(to);
  if (!(bj->to = calloc(bj->nto, sizeof(*bj->to))) ||
      !(bj->to_login = calloc(bj->nto, sizeof(*bj->to_login)))) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    return -1;
  }
  json_array_foreach(to, i, v) {
    snprintf(field, sizeof(field), "to[%zu]", i);
    if (json_is_integer(v) && json_integer_value(v) > 0) {
      bj->to[i] = (int64_t)json_integer_value(v);
    } else if (json_is_string(v) && json_string_length(v) >= 1 &&
               json_string_length(v) <= STORE_LOGIN_MAX) {
      if (!(bj->to_login[i] = strdup(json_string_value(v)))) {
        srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
        return -1;
      }
    } else {
      srv_http_error(req, PROTO_E_BAD_VALUE, field,
                     "each recipient is a user id or a login");
      return -1;
    }
  }
  return 0;
}

static int parse_message(struct srv_http_req *req, struct bot_job *bj)
{
  static const char *const known[] = {"conversation", "text", "cmid",
                                      "tracked", "kind", "urgency", "to",
                                      "all"};
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
               "text, cmid, tracked, kind, urgency, to, all", key);
      srv_http_error(req, PROTO_E_BAD_VALUE, key, msg);
      goto out;
    }
  }
  if (want_id(req, o, "conversation", &bj->conv) != 0)
    goto out;
  if ((v = json_object_get(o, "kind")) &&
      (!json_is_string(v) || (strcmp(json_string_value(v), "text") != 0 &&
                              strcmp(json_string_value(v), "ding") != 0))) {
    srv_http_error(req, PROTO_E_BAD_VALUE, "kind",
                   "kind must be \"text\" or \"ding\"; post cards to "
                   "/api/v1/cards");
    goto out;
  }
  if (v && strcmp(json_string_value(v), "ding") == 0) {
    if (parse_ding(req, o, bj) != 0)
      goto out;
  } else if (json_object_get(o, "urgency") || json_object_get(o, "to") ||
             json_object_get(o, "all")) {
    srv_http_error(req, PROTO_E_BAD_VALUE, "kind",
                   "urgency, to and all are for \"kind\": \"ding\"");
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

/* A positive id of 1-18 digits at *p, moving *p past it; 0 when there is
 * none. Digits only: no sign, no spaces. */
static int64_t path_id(const char **p)
{
  int64_t v = 0;
  size_t n = 0;

  while ((*p)[n] >= '0' && (*p)[n] <= '9' && n < 19)
    v = v * 10 + ((*p)[n++] - '0');
  if (n == 0 || n > 18)
    return 0;
  *p += n;
  return v;
}

/* Checks the body's members against `known` (n names). */
static int only_known(struct srv_http_req *req, json_t *o,
                      const char *const *known, size_t n, const char *list)
{
  const char *key;
  json_t *v;
  char msg[200];

  json_object_foreach(o, key, v) {
    size_t i;

    for (i = 0; i < n; i++)
      if (strcmp(key, known[i]) == 0)
        break;
    if (i == n) {
      snprintf(msg, sizeof(msg), "unknown field \"%.60s\": use %s", key,
               list);
      srv_http_error(req, PROTO_E_BAD_VALUE, key, msg);
      return -1;
    }
  }
  return 0;
}

static int opt_cmid(struct srv_http_req *req, json_t *o, char *out)
{
  json_t *v = json_object_get(o, "cmid");
  size_t n = json_is_string(v) ? json_string_length(v) : 0;

  if (!v)
    return 0;
  if (!json_is_string(v) || n < 1 || n > PROTO_CMID_MAX ||
      strlen(json_string_value(v)) != n) {
    srv_http_error(req, json_is_string(v) ? PROTO_E_BAD_VALUE
                                          : PROTO_E_WRONG_TYPE, "cmid",
                   "cmid must be a string of 1 to 64 bytes");
    return -1;
  }
  memcpy(out, json_string_value(v), n + 1);
  return 0;
}

/* {"conversation": ID, "card": {...}, "cmid": "..."} */
static int parse_card(struct srv_http_req *req, struct bot_job *bj)
{
  static const char *const known[] = {"conversation", "card", "cmid"};
  json_t *o = parse_body(req), *v;
  int rc = -1;

  if (!o)
    return -1;
  if (only_known(req, o, known, 3, "conversation, card, cmid") != 0 ||
      want_id(req, o, "conversation", &bj->conv) != 0 ||
      opt_cmid(req, o, bj->cmid) != 0)
    goto out;
  if (!bj->cmid[0])
    random_cmid("http-", bj->cmid);
  v = json_object_get(o, "card");
  if (!v) {
    srv_http_error(req, PROTO_E_MISSING, "card", "card is required");
    goto out;
  }
  if (!json_is_object(v)) {
    srv_http_error(req, PROTO_E_WRONG_TYPE, "card",
                   "card must be a JSON object");
    goto out;
  }
  if (!(bj->text = json_dumps(v, JSON_COMPACT))) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    goto out;
  }
  bj->len = strlen(bj->text);
  rc = 0;
out:
  json_decref(o);
  return rc;
}

/* Path "{id}/actions", body {"action": "...", "args": ..., "base": N,
 * "cmid": "..."}. */
static int parse_action(struct srv_http_req *req, struct bot_job *bj)
{
  static const char *const known[] = {"action", "args", "base", "cmid"};
  const char *p = req->rest;
  int rc = -1;
  json_t *o, *v;

  if (!(bj->card = path_id(&p)) || strcmp(p, "/actions") != 0) {
    srv_http_error(req, PROTO_E_NOT_FOUND, NULL,
                   "no such path: use /api/v1/cards/{id}/actions");
    return -1;
  }
  if (!(o = parse_body(req)))
    return -1;
  if (only_known(req, o, known, 4, "action, args, base, cmid") != 0 ||
      opt_cmid(req, o, bj->cmid) != 0)
    goto out;
  v = json_object_get(o, "action");
  if (!v) {
    srv_http_error(req, PROTO_E_MISSING, "action", "action is required");
    goto out;
  }
  if (!json_is_string(v) || json_string_length(v) < 1 ||
      json_string_length(v) >= sizeof(bj->action) ||
      strlen(json_string_value(v)) != json_string_length(v)) {
    srv_http_error(req, json_is_string(v) ? PROTO_E_BAD_VALUE
                                          : PROTO_E_WRONG_TYPE, "action",
                   "action must be a name such as \"set_status\"");
    goto out;
  }
  snprintf(bj->action, sizeof(bj->action), "%s", json_string_value(v));
  if ((v = json_object_get(o, "args")) && !json_is_null(v) &&
      !(bj->args = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY))) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    goto out;
  }
  if ((v = json_object_get(o, "base"))) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
      srv_http_error(req, json_is_integer(v) ? PROTO_E_RANGE
                                             : PROTO_E_WRONG_TYPE, "base",
                     "base must be the card version the action is based on");
      goto out;
    }
    bj->base = json_integer_value(v);
  }
  rc = 0;
out:
  json_decref(o);
  return rc;
}

/* "{conv}/{seq}/summary" */
static int parse_summary_path(struct srv_http_req *req, struct bot_job *bj)
{
  const char *p = req->rest;

  if (!(bj->conv = path_id(&p)) || *p++ != '/' || !(bj->seq = path_id(&p)) ||
      strcmp(p, "/summary") != 0) {
    srv_http_error(req, PROTO_E_NOT_FOUND, NULL,
                   "no such path: use /api/v1/messages/{conversation}/{seq}"
                   "/summary");
    return -1;
  }
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
  if (srv_http_bearer(req, bj->token_hash, "Authorization",
                      "send the bot's token as Authorization: Bearer <token>",
                      "Authorization must be: Bearer <bot token>, the token "
                      "that heraldctl bot create printed") != 0 ||
      (op == OP_MESSAGE && parse_message(req, bj) != 0) ||
      (op == OP_SUMMARY && parse_summary_path(req, bj) != 0) ||
      (op == OP_CARD && parse_card(req, bj) != 0) ||
      (op == OP_ACTION && parse_action(req, bj) != 0)) {
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
  start(req, OP_CARD);
}

void srv_http_bot_card_action(struct srv_http_req *req)
{
  start(req, OP_ACTION);
}
