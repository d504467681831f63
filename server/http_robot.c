/*
 * http_robot.c — POST /robot/send?access_token=T[&timestamp=MS&sign=S]:
 * a DingTalk-compatible custom-robot webhook (SPEC §9), so that an
 * existing robot script works by changing its URL.
 *
 * T is the bot's robot access token (`heraldctl bot robot`, stored
 * hashed); it posts into the one conversation the robot was given, like a
 * DingTalk robot into its group. When the robot has a signing secret, each
 * call must carry timestamp (ms, within one hour of the server's time) and
 * sign = base64(HMAC-SHA256(key = secret, timestamp "\n" secret)),
 * URL-encoded; a robot without a secret ignores them. The body is the
 * custom-robot JSON (msgtype text, markdown, link, actionCard; at), stored
 * as one text message (the README shows each rendering). One msgtype is
 * Herald's own: `card` posts its "card" object (a task, okr or interview
 * card as in protocol/CARDS.md) as a card message, so that a robot script
 * can open task cards; a card error answers 400402 naming the field
 * ("card/title"). Mentions:
 * at.atUserIds are matched to member logins (ignoring case) and listed on
 * a last line "@login ..."; ids that match no member, and atMobiles
 * (Herald keeps no phone numbers), are ignored as DingTalk ignores unknown
 * ones; isAtAll adds "@all".
 *
 * Answers are DingTalk's: HTTP 200 with {"errcode":0,"errmsg":"ok"}, or a
 * nonzero errcode (ROBOT_* below, DingTalk's values) and a message; also
 * for a body http.c refuses unread (srv_http_robot_refuse). The
 * messages count against the bot's rate limit like every other way it
 * posts (130101 when over it).
 *
 * The loop parses; one reader job resolves the token, opens the secret
 * (keyring), checks the signature and resolves mentions; the send job
 * commits. Neither token nor secret is ever logged.
 */
#include "botrate_int.h"
#include "card_int.h"
#include "clock_int.h"
#include "dbpool_int.h"
#include "dispatch_int.h"
#include "http_int.h"
#include "keyring_int.h"
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

/* DingTalk's errcodes. */
enum {
  ROBOT_OK = 0,
  ROBOT_BUSY = -1,            /* system busy: try again */
  ROBOT_BAD_JSON = 40035,     /* missing parameter json */
  ROBOT_BAD_TOKEN = 300001,   /* token is not exist */
  ROBOT_BAD_SIGN = 310000,    /* sign not match, invalid timestamp */
  ROBOT_TOO_FAST = 130101,    /* send too fast */
  ROBOT_BAD_PARAM = 400402,   /* a parameter missing or malformed */
  ROBOT_TOO_LONG = 460101     /* message too long */
};

#define SIGN_WINDOW_MS (3600 * 1000LL)
#define AT_MAX 64

struct robot_job {
  struct srv_dbjob job;
  struct srv_http_req *req;
  uint8_t token_hash[HCR_TOKEN_HASH_LEN];
  char timestamp[33];           /* "" when absent */
  char sign[96];                /* decoded; "" when absent */
  int64_t now_ms;               /* the server's time at the request */
  char *text;                   /* rendered body (owned), mentions added
                                   by the job */
  size_t len;
  bool card;                    /* msgtype card: text is the card JSON */
  char *at[AT_MAX];             /* atUserIds (owned) */
  size_t nat;
  bool at_all;

  /* Set on the database thread. */
  int errcode;
  char errmsg[160];
  int64_t bot_id, conv;
  int rate;
};

static void job_free(struct robot_job *rj)
{
  for (size_t i = 0; i < rj->nat; i++)
    free(rj->at[i]);
  free(rj->text);
  free(rj);
}

/* Sets the DingTalk-shaped reply (always HTTP 200). */
static void answer(struct srv_http_req *req, int errcode, const char *errmsg)
{
  json_t *j = json_pack("{s:i, s:s}", "errcode", errcode, "errmsg", errmsg);
  char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

  if (!j)   /* errmsg was not UTF-8 */
    s = strdup("{\"errcode\":-1,\"errmsg\":\"system busy\"}");
  json_decref(j);
  if (!s) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    return;
  }
  if (errcode != ROBOT_OK)
    srv_info("http", "robot call from %s refused: errcode %d", req->peer,
             errcode);
  srv_http_ok(req, SRV_HTTP_JSON, s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* On the database thread. */

static void fail(struct robot_job *rj, int errcode, const char *msg)
{
  rj->errcode = errcode;
  snprintf(rj->errmsg, sizeof(rj->errmsg), "%s", msg);
}

/* The timestamp and sign against the robot's secret. 0 or -1 (failed). */
static int check_sign(struct robot_job *rj, struct store_conn *conn,
                      const struct store_bot_robot *r)
{
  struct srv_server *srv = rj->req->srv;
  char secret[HCR_SECRET_MAX + 1], want[HCR_ROBOT_SIGN_LEN + 1];
  size_t slen = 0, n = strlen(rj->timestamp);
  long long ts = 0;
  int ok;

  if (!rj->timestamp[0] || !rj->sign[0]) {
    fail(rj, ROBOT_BAD_SIGN, "sign not match: this robot requires timestamp "
         "and sign parameters");
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    if (rj->timestamp[i] < '0' || rj->timestamp[i] > '9' || n > 16) {
      fail(rj, ROBOT_BAD_SIGN, "invalid timestamp: milliseconds since the "
           "epoch expected");
      return -1;
    }
    ts = ts * 10 + (rj->timestamp[i] - '0');
  }
  if (ts < rj->now_ms - SIGN_WINDOW_MS || ts > rj->now_ms + SIGN_WINDOW_MS) {
    fail(rj, ROBOT_BAD_SIGN, "invalid timestamp: more than one hour from the "
         "server's time");
    return -1;
  }
  if (srv_keyring_open_secret(srv->keyring, conn, r->bot_id, r->sealed,
                              r->sealed_len, secret, &slen) != 0) {
    srv_warn("http", "robot of bot \"%s\": its secret does not open with "
             "the master keys held (set it again with heraldctl bot robot)",
             r->name);
    fail(rj, ROBOT_BUSY, "system busy: the robot's secret cannot be read; "
         "ask an admin to set it again");
    return -1;
  }
  ok = hcr_robot_sign(secret, slen, rj->timestamp, want) == HCR_OK &&
       strlen(rj->sign) == HCR_ROBOT_SIGN_LEN &&
       hcr_equal(want, rj->sign, HCR_ROBOT_SIGN_LEN);
  hcr_wipe(secret, sizeof(secret));
  hcr_wipe(want, sizeof(want));
  if (!ok) {
    fail(rj, ROBOT_BAD_SIGN, "sign not match");
    return -1;
  }
  return 0;
}

/* Appends "\n@a @b" for the mentioned members (and @all). */
static int add_mentions(struct robot_job *rj, struct store_conn *conn)
{
  struct store_member *m = NULL;
  size_t n = 0, cap, len = rj->len;
  char *t;
  int rc;

  if (rj->card || (rj->nat == 0 && !rj->at_all))
    return 0;
  rc = store_conversation_members(conn, rj->conv, &m, &n);
  if (rc != STORE_OK)
    return rc;
  cap = rj->len + 8 + rj->nat * (STORE_LOGIN_MAX + 2);
  if (!(t = realloc(rj->text, cap + 1))) {
    free(m);
    return STORE_EINTERNAL;
  }
  rj->text = t;
  len += (size_t)snprintf(t + len, cap + 1 - len, "\n");
  if (rj->at_all)
    len += (size_t)snprintf(t + len, cap + 1 - len, "@all");
  for (size_t i = 0; i < rj->nat; i++)
    for (size_t k = 0; k < n; k++)
      if (m[k].active && strcasecmp(m[k].login, rj->at[i]) == 0) {
        len += (size_t)snprintf(t + len, cap + 1 - len, "%s@%s",
                                t[len - 1] == '\n' ? "" : " ", m[k].login);
        break;
      }
  if (t[len - 1] == '\n')
    len--;   /* nobody matched: no mention line */
  t[len] = '\0';
  rj->len = len;
  free(m);
  return STORE_OK;
}

static void robot_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct robot_job *rj = (struct robot_job *)job;
  struct store_bot_robot r;
  int rc;

  if (!conn) {
    job->rc = STORE_EUNAVAIL;
    fail(rj, ROBOT_BUSY, "system busy: database unavailable, try again");
    return;
  }
  rc = job->rc = store_bot_robot_lookup(conn, rj->token_hash, &r);
  if (rc == STORE_ENOTFOUND || rc == STORE_EINVAL) {
    fail(rj, ROBOT_BAD_TOKEN, rc == STORE_ENOTFOUND
         ? "token is not exist" : "token is not exist: the robot was revoked "
                                  "or its conversation deleted");
  } else if (rc != STORE_OK) {
    fail(rj, ROBOT_BUSY, "system busy, try again");
  } else if (r.sealed_len == 0 || check_sign(rj, conn, &r) == 0) {
    rj->bot_id = r.bot_id;
    rj->conv = r.conversation_id;
    rj->rate = r.rate_limit_per_minute;
    if (add_mentions(rj, conn) != STORE_OK)
      fail(rj, ROBOT_BUSY, "system busy, try again");
    else if (rj->len > (size_t)rj->req->srv->cfg->max_body)
      fail(rj, ROBOT_TOO_LONG, "message too long");
  }
  hcr_wipe(&r, sizeof(r));
}

/* ------------------------------------------------------------------ */
/* Back on the loop. */

static void robot_sent(void *arg, const struct srv_send_outcome *o)
{
  struct srv_http_req *req = arg;

  req->busy = false;
  if (o->code == 0)
    answer(req, ROBOT_OK, "ok");
  else if (o->not_member)
    answer(req, ROBOT_BAD_TOKEN, "token is not exist: the robot may no "
           "longer post to its conversation");
  else
    answer(req, ROBOT_BUSY, "system busy, try again");
  srv_http_send(req);
}

static void robot_card_posted(void *arg, const struct srv_card_result *r)
{
  struct srv_http_req *req = arg;
  char msg[PROTO_ERR_MSG_MAX + PROTO_ERR_FIELD_MAX + 40];

  req->busy = false;
  if (r->code == 0) {
    answer(req, ROBOT_OK, "ok");
  } else if (r->code == PROTO_E_NOT_FOUND && strcmp(r->err.field, "conv") == 0) {
    answer(req, ROBOT_BAD_TOKEN, "token is not exist: the robot may no "
           "longer post to its conversation");
  } else if (r->code == PROTO_E_INVALID_CARD || r->code == PROTO_E_FORBIDDEN) {
    snprintf(msg, sizeof(msg), "parameter card%s is invalid: %s",
             r->err.field[0] == '/' ? r->err.field : "", r->err.msg);
    answer(req, ROBOT_BAD_PARAM, msg);
  } else if (r->code == PROTO_E_BODY_TOO_LARGE) {
    answer(req, ROBOT_TOO_LONG, "message too long");
  } else {
    answer(req, ROBOT_BUSY, "system busy, try again");
  }
  srv_http_send(req);
}

static void robot_done(struct srv_dbjob *job)
{
  struct robot_job *rj = (struct robot_job *)job;
  struct srv_http_req *req = rj->req;
  char cmid[PROTO_CMID_MAX + 1], why[128];
  uint8_t r[16];
  int64_t wait = 0;
  int code;

  if (rj->errcode != ROBOT_OK) {
    if (rj->errcode == ROBOT_BAD_TOKEN || rj->errcode == ROBOT_BAD_SIGN)
      srv_ratelimit_hit(&req->srv->login_by_peer, req->peer,
                        strlen(req->peer), srv_now_ms());
    req->busy = false;
    answer(req, rj->errcode, rj->errmsg);
    goto out;
  }
  /* A robot call has no client id: each call is a new message. */
  hcr_random(r, sizeof(r));
  memcpy(cmid, "robot-", 6);
  for (size_t i = 0; i < sizeof(r); i++)
    snprintf(cmid + 6 + 2 * i, 3, "%02x", r[i]);
  if (rj->card) {
    struct srv_card_principal p = {.bot = true, .id = rj->bot_id};

    if ((wait = srv_botrate_take(req->srv, rj->bot_id, rj->rate,
                                 srv_now_ms())) > 0)
      code = PROTO_E_TOO_MANY_REQUESTS;
    else
      code = srv_card_post(req->srv, &p, rj->conv, cmid, rj->text, rj->len,
                           robot_card_posted, req);
  } else {
    struct srv_send_args a = {.bot_id = rj->bot_id,
                              .rate_per_minute = rj->rate, .cmid = cmid,
                              .conv = rj->conv, .body = rj->text,
                              .len = rj->len};

    code = srv_send_bot(req->srv, &a, robot_sent, req, &wait);
  }
  if (code == 0) {
    job_free(rj);
    return;
  }
  req->busy = false;
  if (wait > 0) {
    srv_botrate_message(why, sizeof(why), rj->rate, wait);
    answer(req, ROBOT_TOO_FAST, why);
  } else if (code == PROTO_E_BODY_TOO_LARGE) {
    answer(req, ROBOT_TOO_LONG, "message too long");
  } else {
    answer(req, ROBOT_BUSY, "system busy, try again");
  }
out:
  job_free(rj);
  srv_http_send(req);
}

/* ------------------------------------------------------------------ */
/* Parsing on the loop. Each returns 0, or answers and returns -1. */

static int parse_query(struct srv_http_req *req, struct robot_job *rj)
{
  char param[256], *v;
  bool token = false;

  for (int i = 0;; i++) {
    int n = lws_hdr_copy_fragment(req->wsi, param, sizeof(param),
                                  WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) {
      if (lws_hdr_fragment_length(req->wsi, WSI_TOKEN_HTTP_URI_ARGS, i) <= 0)
        break;
      continue;   /* an overlong parameter is nothing we use */
    }
    if (!(v = strchr(param, '=')))
      continue;
    *v++ = '\0';
    if (strcmp(param, "access_token") == 0) {
      token = strlen(v) == HCR_TOKEN_LEN &&
              hcr_token_hash(v, rj->token_hash) == HCR_OK;
      if (!token)
        break;
    } else if (strcmp(param, "timestamp") == 0) {
      snprintf(rj->timestamp, sizeof(rj->timestamp), "%.32s", v);
    } else if (strcmp(param, "sign") == 0) {
      /* Decoded already; a '+' sent unencoded arrives as ' '. */
      for (char *p = v; *p; p++)
        if (*p == ' ')
          *p = '+';
      snprintf(rj->sign, sizeof(rj->sign), "%.95s", v);
    }
  }
  hcr_wipe(param, sizeof(param));
  if (!token) {
    srv_ratelimit_hit(&req->srv->login_by_peer, req->peer, strlen(req->peer),
                      srv_now_ms());
    answer(req, ROBOT_BAD_TOKEN, "token is not exist");
    return -1;
  }
  return 0;
}

/* A required string member of `o`; NULL after answering. */
static const char *need_str(struct srv_http_req *req, json_t *o,
                            const char *obj, const char *name)
{
  json_t *v = json_object_get(o, name);
  char msg[128];

  if (!json_is_string(v) || json_string_length(v) == 0 ||
      strlen(json_string_value(v)) != json_string_length(v)) {
    snprintf(msg, sizeof(msg), "parameter %s.%s is missing or not a "
             "non-empty string", obj, name);
    answer(req, ROBOT_BAD_PARAM, msg);
    return NULL;
  }
  return json_string_value(v);
}

/* An optional string member: "" when absent; NULL after answering. */
static const char *opt_str(struct srv_http_req *req, json_t *o,
                           const char *obj, const char *name)
{
  json_t *v = json_object_get(o, name);

  if (!v || json_is_null(v))
    return "";
  return need_str(req, o, obj, name);
}

/* A growing text; `oom` once an append failed. */
struct buf {
  char *p;
  size_t len, cap;
  bool oom;
};

static void put(struct buf *b, const char *s)
{
  size_t n = strlen(s);

  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    char *p;

    while (cap < b->len + n + 1)
      cap *= 2;
    if (!(p = realloc(b->p, cap))) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n + 1);
  b->len += n;
}

/* Appends "a b c" (any of them may be ""). */
static void put3(struct buf *b, const char *x, const char *y, const char *z)
{
  put(b, x);
  put(b, y);
  put(b, z);
}

/* The buttons of an actionCard, a "- title: actionURL" line each. */
static int render_btns(struct srv_http_req *req, json_t *o, struct buf *b)
{
  json_t *btns = json_object_get(o, "btns"), *btn;
  const char *bt, *bu;
  size_t i;

  if (!json_is_array(btns) || json_array_size(btns) == 0) {
    answer(req, ROBOT_BAD_PARAM, "parameter actionCard needs singleTitle "
           "and singleURL, or a non-empty btns array");
    return -1;
  }
  put(b, "\n");
  json_array_foreach(btns, i, btn) {
    if (!json_is_object(btn)) {
      answer(req, ROBOT_BAD_PARAM, "parameter actionCard.btns must hold "
             "objects with title and actionURL");
      return -1;
    }
    if (!(bt = need_str(req, btn, "actionCard.btns[]", "title")) ||
        !(bu = need_str(req, btn, "actionCard.btns[]", "actionURL")))
      return -1;
    put3(b, "\n- ", bt, ": ");
    put(b, bu);
  }
  return 0;
}

/* The message's text for each msgtype into `b` (a failed append shows in
 * b->oom). 0, or answered and -1. */
static int render(struct srv_http_req *req, json_t *body, const char *type,
                  struct buf *b)
{
  json_t *o = json_object_get(body, type);
  const char *t, *x, *u, *st;
  char msg[128];

  if (!json_is_object(o)) {
    snprintf(msg, sizeof(msg), "parameter %s is missing or not an object",
             type);
    answer(req, ROBOT_BAD_PARAM, msg);
    return -1;
  }
  if (strcmp(type, "text") == 0) {
    if (!(t = need_str(req, o, type, "content")))
      return -1;
    put(b, t);
    return 0;
  }
  if (strcmp(type, "markdown") == 0) {
    if (!(t = need_str(req, o, type, "title")) ||
        !(x = need_str(req, o, type, "text")))
      return -1;
    /* The title is what DingTalk shows in notifications; keep it when the
     * text does not already say it. */
    if (!strstr(x, t))
      put3(b, t, "\n\n", "");
    put(b, x);
    return 0;
  }
  if (strcmp(type, "link") == 0) {
    if (!(t = need_str(req, o, type, "title")) ||
        !(x = need_str(req, o, type, "text")) ||
        !(u = need_str(req, o, type, "messageUrl")) ||
        !opt_str(req, o, type, "picUrl"))
      return -1;
    put3(b, t, "\n", x);
    put3(b, "\n", u, "");
    return 0;
  }
  /* actionCard */
  if (!(t = need_str(req, o, type, "title")) ||
      !(x = need_str(req, o, type, "text")) ||
      !(u = opt_str(req, o, type, "singleURL")) ||
      !(st = opt_str(req, o, type, "singleTitle")))
    return -1;
  put3(b, t, "\n\n", x);
  if (!*u)
    return render_btns(req, o, b);
  put3(b, "\n\n", *st ? st : "Open", ": ");
  put(b, u);
  return 0;
}

static int parse_at(struct srv_http_req *req, json_t *body,
                    struct robot_job *rj)
{
  json_t *at = json_object_get(body, "at"), *ids, *v;
  size_t i;

  if (!at || json_is_null(at))
    return 0;
  if (!json_is_object(at)) {
    answer(req, ROBOT_BAD_PARAM, "parameter at must be an object");
    return -1;
  }
  v = json_object_get(at, "isAtAll");
  if (v && !json_is_boolean(v)) {
    answer(req, ROBOT_BAD_PARAM, "parameter at.isAtAll must be a boolean");
    return -1;
  }
  rj->at_all = json_is_true(v);
  ids = json_object_get(at, "atUserIds");
  if (ids && !json_is_array(ids)) {
    answer(req, ROBOT_BAD_PARAM, "parameter at.atUserIds must be an array");
    return -1;
  }
  json_array_foreach(ids, i, v) {
    if (!json_is_string(v)) {
      answer(req, ROBOT_BAD_PARAM, "parameter at.atUserIds must hold "
             "strings");
      return -1;
    }
    /* Logins are at most 64 bytes: longer ids match nobody. */
    if (rj->nat < AT_MAX && json_string_length(v) <= STORE_LOGIN_MAX &&
        !(rj->at[rj->nat++] = strdup(json_string_value(v)))) {
      rj->nat--;
      answer(req, ROBOT_BUSY, "system busy");
      return -1;
    }
  }
  return 0;
}

static int parse_body(struct srv_http_req *req, struct robot_job *rj)
{
  static const char *const types[] = {"text", "markdown", "link",
                                      "actionCard", "card"};
  json_error_t err;
  json_t *body = NULL, *mt;
  struct buf b = {0};
  char msg[200];
  size_t i;
  int rc = -1;

  if (!proto_utf8_valid(req->in, req->in_len)) {
    answer(req, ROBOT_BAD_JSON, "missing parameter json: the body is not "
           "valid UTF-8");
    return -1;
  }
  body = json_loadb(req->in, req->in_len, JSON_REJECT_DUPLICATES, &err);
  if (!json_is_object(body)) {
    snprintf(msg, sizeof(msg), "missing parameter json: %s",
             body ? "the body must be a JSON object" : err.text);
    answer(req, ROBOT_BAD_JSON, msg);
    goto out;
  }
  mt = json_object_get(body, "msgtype");
  if (!json_is_string(mt)) {
    answer(req, ROBOT_BAD_PARAM, "parameter msgtype is missing or not a "
           "string");
    goto out;
  }
  for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if (strcmp(json_string_value(mt), types[i]) == 0)
      break;
  if (i == sizeof(types) / sizeof(types[0])) {
    snprintf(msg, sizeof(msg), "unsupported msgtype \"%.40s\": use text, "
             "markdown, link, actionCard or card", json_string_value(mt));
    answer(req, ROBOT_BAD_PARAM, msg);
    goto out;
  }
  if (parse_at(req, body, rj) != 0)
    goto out;
  if (strcmp(types[i], "card") == 0) {
    json_t *card = json_object_get(body, "card");

    if (!json_is_object(card)) {
      answer(req, ROBOT_BAD_PARAM, "parameter card is missing or not an "
             "object");
      goto out;
    }
    /* The card rules check it (srv_card_post); here it is only text. */
    b.p = json_dumps(card, JSON_COMPACT);
    b.len = b.p ? strlen(b.p) : 0;
    b.oom = !b.p;
    rj->card = true;
  } else if (render(req, body, types[i], &b) != 0) {
    goto out;
  }
  if (b.oom || !b.p) {
    answer(req, ROBOT_BUSY, "system busy");
    goto out;
  }
  if (b.len > (size_t)req->srv->cfg->max_body) {
    answer(req, ROBOT_TOO_LONG, "message too long");
    goto out;
  }
  rj->text = b.p;
  rj->len = b.len;
  b.p = NULL;
  rc = 0;
out:
  free(b.p);
  json_decref(body);
  return rc;
}

void srv_http_robot_refuse(struct srv_http_req *req, int code,
                           const char *msg)
{
  char m[200];

  snprintf(m, sizeof(m), "%s: %s",
           code == PROTO_E_BODY_TOO_LARGE ? "message too long"
                                          : "missing parameter json", msg);
  answer(req, code == PROTO_E_BODY_TOO_LARGE ? ROBOT_TOO_LONG : ROBOT_BAD_JSON,
         m);
}

void srv_http_robot(struct srv_http_req *req)
{
  struct srv_server *srv = req->srv;
  struct robot_job *rj;

  if (srv->stopping) {
    answer(req, ROBOT_BUSY, "system busy: the server is shutting down");
    return;
  }
  if (!srv_ratelimit_allowed(&srv->login_by_peer, req->peer,
                             strlen(req->peer), srv_now_ms())) {
    answer(req, ROBOT_TOO_FAST, "too many failed attempts from this "
           "address; try again later");
    return;
  }
  if (!(rj = calloc(1, sizeof(*rj)))) {
    srv_http_error(req, PROTO_E_NOMEM, NULL, NULL);
    return;
  }
  if (parse_query(req, rj) != 0 || parse_body(req, rj) != 0) {
    hcr_wipe(rj->token_hash, sizeof(rj->token_hash));
    job_free(rj);
    return;
  }
  rj->now_ms = (int64_t)srv_clock_now_ms();
  rj->job.run = robot_run;
  rj->job.done = robot_done;
  rj->req = req;
  req->busy = true;
  srv_dbpool_submit(srv->reader, &rj->job);
}
