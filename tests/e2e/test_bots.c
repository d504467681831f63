/*
 * test_bots.c — the bot API end to end: a bot posts over HTTP, members get
 * the message live and on replay, the summary counts deliveries, reads and
 * DING acks; user tokens are refused; the rate limit is one budget across
 * WebSocket and HTTP. (tests/e2e/bots.sh covers the robot webhook and the
 * hostile bodies with curl.)
 *
 * The org: ada (admin) owns "Ops" with bea and cid, and "Else" alone; bot
 * "feeder" (default limit) and bot "slow" (2 a minute) may post to Ops.
 */
#include "check.h"
#include "e2e.h"
#include "httpc.h"
#include "peer.h"
#include "rawws.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct e2e_server srv;
static int64_t ada, bea, cid, ops, other;
static char t_feeder[44], t_slow[44];

static void setup(void)
{
  int64_t m[2];

  e2e_server_init(&srv);
  e2e_server_start(&srv, NULL);
  ada = e2e_org(&srv, "ada");
  bea = e2e_user(&srv, "bea");
  cid = e2e_user(&srv, "cid");
  m[0] = bea;
  m[1] = cid;
  ops = e2e_group(&srv, "Ops", ada, m, 2);
  other = e2e_group(&srv, "Else", ada, NULL, 0);
  e2e_bot(&srv, "feeder", ada, &ops, 1, t_feeder);
  e2e_bot(&srv, "slow", ada, &ops, 1, t_slow);
  CHECK_INT(e2e_query_int(&srv, "UPDATE bots SET rate_limit_per_minute = 2"
                                " WHERE name = 'slow' RETURNING 1"), ==, 1);
}

/* POST `body` to `path` with `token`; the reply's JSON in *j (NULL when
 * the body is not JSON). Returns the status. */
static int post(const char *token, const char *path, const char *body,
                json_t **j, char *retry_after)
{
  char auth[128];
  const char *h[] = {auth, "Content-Type: application/json", NULL};
  struct httpc_resp r;
  int status;

  snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
  CHECK_INT(httpc_post(srv.port, path, h, body, strlen(body), 10000, &r), ==,
            0);
  status = r.status;
  *j = json_loads(r.body, 0, NULL);
  if (retry_after && !httpc_header(&r, "Retry-After", retry_after, 16))
    retry_after[0] = '\0';
  httpc_resp_free(&r);
  return status;
}

static int summary(const char *token, int64_t conv, int64_t seq, json_t **j)
{
  char auth[128], path[128];
  const char *h[] = {auth, NULL};
  struct httpc_resp r;
  int status;

  snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
  snprintf(path, sizeof(path), "/api/v1/messages/%lld/%lld/summary",
           (long long)conv, (long long)seq);
  CHECK_INT(httpc_request(srv.port, "GET", path, h, 10000, &r), ==, 0);
  status = r.status;
  *j = json_loads(r.body, 0, NULL);
  httpc_resp_free(&r);
  return status;
}

static json_int_t num(json_t *j, const char *key)
{
  json_t *v = json_object_get(j, key);

  CHECK(json_is_integer(v));
  return json_integer_value(v);
}

static const char *err_code(json_t *j)
{
  const char *s = json_string_value(
    json_object_get(json_object_get(j, "error"), "code"));
  return s ? s : "";
}

/* The per-recipient entry of user `uid`. */
static json_t *rcpt(json_t *j, int64_t uid)
{
  json_t *rows = json_object_get(j, "per_recipient"), *r;
  size_t i;

  json_array_foreach(rows, i, r)
    if (json_integer_value(json_object_get(r, "id")) == uid)
      return r;
  CHECK_FAIL("user %lld not among the recipients", (long long)uid);
  return NULL;
}

static bool got_seq(void *arg)
{
  struct peer *p = arg;

  return peer_count(p, (uint64_t)ops) >= 1;
}

static bool got_three(void *arg)
{
  struct peer *p = arg;

  return peer_count(p, (uint64_t)ops) >= 3;
}

TEST(api_post_live_replay_and_summary)
{
  struct peer *pb, *pc, *pa;
  json_t *j;
  char body[256], user_token[64];

  setup();
  pb = peer_new(srv.url, "bea", NULL, true);
  snprintf(body, sizeof(body),
           "{\"conversation\": %lld, \"text\": \"build 7 is green\","
           " \"cmid\": \"b7\"}", (long long)ops);
  CHECK_INT(post(t_feeder, "/api/v1/messages", body, &j, NULL), ==, 200);
  CHECK_INT(num(j, "seq"), ==, 1);
  CHECK_INT(num(j, "conversation"), ==, ops);
  CHECK(num(j, "ts") > 0);
  json_decref(j);

  /* Live to a connected member, as a bot's message. */
  peer_wait(got_seq, pb, 15000, "bea gets the bot's message live");
  CHECK_STR(pb->msgs[0].body, "build 7 is green");
  CHECK(!pb->msgs[0].replay);
  /* On replay to a member who connects later. */
  pc = peer_new(srv.url, "cid", NULL, true);
  peer_wait(got_seq, pc, 15000, "cid gets it on replay");
  peer_check_history(pc, (uint64_t)ops, 1);
  CHECK_STR(pc->msgs[0].body, "build 7 is green");

  /* Summary: three recipients, nobody has read it. */
  CHECK_INT(summary(t_feeder, ops, 1, &j), ==, 200);
  CHECK_INT(num(j, "recipients"), ==, 3);
  CHECK_INT(num(j, "read"), ==, 0);
  CHECK(json_object_get(j, "acked") == NULL);   /* not a DING */
  CHECK(json_is_false(json_object_get(rcpt(j, bea), "read")));
  json_decref(j);
  /* bea reads it: read 1/3, and bea is delivered and read. */
  CHECK_INT(peer_read_at(pb, (uint64_t)ops, 1, 0), ==, 0);
  CHECK_INT(summary(t_feeder, ops, 1, &j), ==, 200);
  CHECK_INT(num(j, "read"), ==, 1);
  CHECK(num(j, "delivered") >= 1);
  CHECK(json_is_true(json_object_get(rcpt(j, bea), "read")));
  CHECK(json_is_true(json_object_get(rcpt(j, bea), "delivered")));
  CHECK(json_is_false(json_object_get(rcpt(j, cid), "read")));
  CHECK(json_object_get(rcpt(j, bea), "read_at") == NULL);  /* no times */
  json_decref(j);

  /* Another bot's view, someone else's message, a missing one. */
  CHECK_INT(summary(t_slow, ops, 1, &j), ==, 403);
  CHECK_STR(err_code(j), "FORBIDDEN");
  json_decref(j);
  pa = peer_new(srv.url, "ada", NULL, true);
  peer_say(pa, (uint64_t)ops, "a person's message");
  CHECK_INT(summary(t_feeder, ops, 2, &j), ==, 403);
  json_decref(j);
  CHECK_INT(summary(t_feeder, ops, 99, &j), ==, 404);
  json_decref(j);
  CHECK_INT(summary(t_feeder, other, 1, &j), ==, 403);
  json_decref(j);

  /* A user's session token is no bot token. */
  snprintf(user_token, sizeof(user_token), "%s", hc_conn_token(pa->c));
  CHECK_INT(post(user_token, "/api/v1/messages", body, &j, NULL), ==, 403);
  CHECK_STR(err_code(j), "FORBIDDEN");
  CHECK_CONTAINS(json_string_value(json_object_get(
                   json_object_get(j, "error"), "message")), "bot token");
  json_decref(j);
  CHECK_INT(summary(user_token, ops, 1, &j), ==, 403);
  json_decref(j);

  /* Exactly once: the same cmid again is the same message. */
  CHECK_INT(post(t_feeder, "/api/v1/messages", body, &j, NULL), ==, 200);
  CHECK_INT(num(j, "seq"), ==, 1);
  CHECK(json_is_true(json_object_get(j, "dup")));
  json_decref(j);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM messages WHERE"
                                " sender_bot_id IS NOT NULL"), ==, 1);
  /* Not added to "Else". */
  snprintf(body, sizeof(body), "{\"conversation\": %lld, \"text\": \"x\"}",
           (long long)other);
  CHECK_INT(post(t_feeder, "/api/v1/messages", body, &j, NULL), ==, 403);
  json_decref(j);

  /* A task card: live to bea and cid as a card message (seq 3, after
   * ada's), then on replay to a new device of bea. */
  snprintf(body, sizeof(body),
           "{\"conversation\": %lld, \"card\": {\"type\": \"task\","
           " \"title\": \"Rotate certs\", \"assignees\": [%lld]}}",
           (long long)ops, (long long)bea);
  CHECK_INT(post(t_feeder, "/api/v1/cards", body, &j, NULL), ==, 200);
  CHECK_INT(num(j, "seq"), ==, 3);
  CHECK(num(j, "card") > 0);
  json_decref(j);
  peer_wait(got_three, pb, 15000, "bea gets the card live");
  CHECK_INT(pb->msgs[pb->nmsgs - 1].kind, ==, PROTO_KIND_CARD);
  CHECK_CONTAINS(pb->msgs[pb->nmsgs - 1].body, "Rotate certs");
  peer_free(pb);
  pb = peer_new(srv.url, "bea", NULL, true);
  peer_wait(got_three, pb, 15000, "bea's new device replays the card");
  peer_check_history(pb, (uint64_t)ops, 3);
  CHECK_INT(pb->msgs[2].kind, ==, PROTO_KIND_CARD);
  CHECK(pb->msgs[2].replay);

  peer_free(pa);
  peer_free(pb);
  peer_free(pc);
  e2e_server_stop(&srv);
}

/* A bot's WebSocket connection (hello with its token). */
static struct rawws *bot_ws(const char *token)
{
  struct rawws *r = rawws_connect(srv.port);
  struct proto_frame h, reply;

  CHECK(r != NULL);
  proto_frame_init(&h, PROTO_T_HELLO);
  h.id = 1;
  h.u.hello.token = (struct proto_str){token, strlen(token)};
  h.u.hello.dev = (struct proto_str){"bot", 3};
  rawws_send_frame(r, &h);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_WELCOME, 10000, &reply), ==, 0);
  proto_frame_cleanup(&reply);
  return r;
}

/* Sends a text (or a DING to all) as request `id`; returns the error code
 * (0: acked) and the seq in *seq. */
static int ws_send(struct rawws *r, uint64_t id, const char *cmid, bool ding,
                   uint64_t *seq)
{
  struct proto_frame f, reply;
  int rc;

  proto_frame_init(&f, PROTO_T_SEND);
  f.id = id;
  f.u.send.cmid = (struct proto_str){cmid, strlen(cmid)};
  f.u.send.conv = (uint64_t)ops;
  f.u.send.kind = ding ? PROTO_KIND_DING : PROTO_KIND_TEXT;
  f.u.send.body = (struct proto_str){"check in", 8};
  if (ding) {
    f.u.send.all = true;
    f.u.send.urg = PROTO_URG_URGENT;
  }
  rawws_send_frame(r, &f);
  for (;;) {
    CHECK_INT(rawws_wait_frame(r, PROTO_T_NONE, 10000, &reply), ==, 0);
    if (reply.id == id)
      break;
    proto_frame_cleanup(&reply);
  }
  rc = reply.type == PROTO_T_ERROR ? -(int)reply.u.error.code : 0;
  if (rc == 0 && seq)
    *seq = reply.u.ack.seq;
  if (rc != 0) {
    char msg[256];

    snprintf(msg, sizeof(msg), "%.*s", (int)reply.u.error.message.len,
             reply.u.error.message.p);
    CHECK_CONTAINS(msg, "2 messages a minute");
  }
  proto_frame_cleanup(&reply);
  return rc;
}

static bool acked_seen(void *arg)
{
  uint64_t *seq = arg;

  return e2e_query_int(&srv, "SELECT count(*) FROM ding_recipients WHERE"
                             " acked_at IS NOT NULL") >= 1 && *seq;
}

TEST(ding_summary_and_one_rate_limit_across_websocket_and_http)
{
  struct rawws *r;
  struct peer *pb;
  json_t *j;
  char body[256], retry[16];
  uint64_t seq = 0;

  setup();
  pb = peer_new(srv.url, "bea", NULL, true);
  r = bot_ws(t_slow);
  /* A DING from the bot over WebSocket (1 of 2), then one over HTTP. */
  CHECK_INT(ws_send(r, 2, "ding-1", true, &seq), ==, 0);
  snprintf(body, sizeof(body), "{\"conversation\": %lld, \"text\": \"two\"}",
           (long long)ops);
  CHECK_INT(post(t_slow, "/api/v1/messages", body, &j, retry), ==, 200);
  json_decref(j);
  /* The third within the minute is refused on both ways. */
  CHECK_INT(post(t_slow, "/api/v1/messages", body, &j, retry), ==, 429);
  CHECK_STR(err_code(j), "TOO_MANY_REQUESTS");
  CHECK(atoi(retry) >= 1 && atoi(retry) <= 60);
  json_decref(j);
  CHECK_INT(ws_send(r, 3, "text-3", false, NULL), ==,
            PROTO_E_TOO_MANY_REQUESTS);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM messages m JOIN bots b"
                                " ON b.id = m.sender_bot_id"
                                " WHERE b.name = 'slow'"), ==, 2);

  /* bea acknowledges the DING: the summary counts it, with its time. */
  CHECK_INT(hc_ding_ack(pb->c, (uint64_t)ops, seq, 0, NULL), ==, 0);
  peer_wait(acked_seen, &seq, 15000, "the ack is stored");
  CHECK_INT(summary(t_slow, ops, (int64_t)seq, &j), ==, 200);
  CHECK_STR(json_string_value(json_object_get(j, "kind")), "ding");
  CHECK_INT(num(j, "recipients"), ==, 3);
  CHECK_INT(num(j, "acked"), ==, 1);
  CHECK(json_is_true(json_object_get(rcpt(j, bea), "acked")));
  CHECK(num(rcpt(j, bea), "acked_at") > 0);
  CHECK(json_is_false(json_object_get(rcpt(j, cid), "acked")));
  json_decref(j);

  rawws_free(r);
  peer_free(pb);
  e2e_server_stop(&srv);
}

static bool has_alert(void *arg)
{
  struct peer *p = arg;

  return p->nalerts >= 1;
}

TEST(dings_over_http_to_logins_and_ids)
{
  struct peer *pb;
  json_t *j;
  char body[512];
  int64_t seq;

  setup();
  pb = peer_new(srv.url, "bea", NULL, true);
  snprintf(body, sizeof(body),
           "{\"conversation\": %lld, \"kind\": \"ding\", \"urgency\":"
           " \"urgent\", \"to\": [\"BEA\", %lld], \"text\": \"db down\"}",
           (long long)ops, (long long)cid);
  CHECK_INT(post(t_feeder, "/api/v1/messages", body, &j, NULL), ==, 200);
  seq = num(j, "seq");
  json_decref(j);
  peer_wait(has_alert, pb, 15000, "bea is alerted");
  CHECK_INT(pb->alerts[0].seq, ==, seq);
  CHECK_INT(summary(t_feeder, ops, seq, &j), ==, 200);
  CHECK_STR(json_string_value(json_object_get(j, "kind")), "ding");
  CHECK_INT(num(j, "recipients"), ==, 2);        /* bea and cid, not ada */
  CHECK_INT(num(j, "acked"), ==, 0);
  json_decref(j);

  /* Refused recipients name their place in "to". */
  snprintf(body, sizeof(body),
           "{\"conversation\": %lld, \"kind\": \"ding\", \"to\":"
           " [%lld, \"nobody\"], \"text\": \"x\"}", (long long)ops,
           (long long)bea);
  CHECK_INT(post(t_feeder, "/api/v1/messages", body, &j, NULL), ==, 400);
  CHECK_STR(json_string_value(json_object_get(json_object_get(j, "error"),
                                              "field")), "to[1]");
  json_decref(j);
  snprintf(body, sizeof(body),
           "{\"conversation\": %lld, \"kind\": \"ding\", \"to\":"
           " [999999], \"text\": \"x\"}", (long long)ops);
  CHECK_INT(post(t_feeder, "/api/v1/messages", body, &j, NULL), ==, 400);
  CHECK_STR(json_string_value(json_object_get(json_object_get(j, "error"),
                                              "field")), "to[0]");
  json_decref(j);
  snprintf(body, sizeof(body),
           "{\"conversation\": %lld, \"kind\": \"ding\", \"urgency\":"
           " \"loud\", \"text\": \"x\"}", (long long)ops);
  CHECK_INT(post(t_feeder, "/api/v1/messages", body, &j, NULL), ==, 400);
  CHECK_STR(json_string_value(json_object_get(json_object_get(j, "error"),
                                              "field")), "urgency");
  json_decref(j);
  snprintf(body, sizeof(body),
           "{\"conversation\": %lld, \"to\": [1], \"text\": \"x\"}",
           (long long)ops);
  CHECK_INT(post(t_feeder, "/api/v1/messages", body, &j, NULL), ==, 400);
  json_decref(j);

  peer_free(pb);
  e2e_server_stop(&srv);
}

TEST_MAIN()
