/*
 * test_auth.c — identity end to end: password logins and their rate
 * limits, answers that do not reveal whether an account exists, tokens
 * (hello, logout revokes), bots that can never act as users, and the
 * Origin allow-list of the WebSocket upgrade.
 */
#include "check.h"
#include "e2e.h"
#include "peer.h"
#include "rawws.h"

#include <stdlib.h>
#include <string.h>

static struct e2e_server srv;
static int64_t alice_id, group_id;

static void setup(const char *const *extra)
{
  e2e_server_init(&srv);
  alice_id = e2e_org(&srv, "alice");
  group_id = e2e_group(&srv, "Ops", alice_id, NULL, 0);
  e2e_server_start(&srv, extra);
}

/* One login attempt on a fresh connection: the error code (0 = welcome)
 * and, through *token, the token of a successful login. */
static int try_login(const char *login, const char *pw, char *token,
                     uint64_t *ms)
{
  struct rawws *r = rawws_connect(srv.port);
  struct proto_frame f, reply;
  uint64_t t0;
  int rc;

  CHECK(r != NULL);
  proto_frame_init(&f, PROTO_T_LOGIN);
  f.id = 1;
  f.u.login.login = (struct proto_str){login, strlen(login)};
  f.u.login.pass = (struct proto_str){pw, strlen(pw)};
  f.u.login.dev = (struct proto_str){"auth-test", 9};
  t0 = e2e_now_ms();
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_NONE, 10000, &reply), ==, 0);
  if (ms)
    *ms = e2e_now_ms() - t0;
  if (reply.type == PROTO_T_WELCOME) {
    rc = 0;
    if (token)
      snprintf(token, 64, "%.*s", (int)reply.u.welcome.token.len,
               reply.u.welcome.token.p);
  } else {
    CHECK_INT(reply.type, ==, PROTO_T_ERROR);
    rc = -(int)reply.u.error.code;
  }
  proto_frame_cleanup(&reply);
  rawws_free(r);
  return rc;
}

/* hello with a token on a fresh connection: the error code or 0, and the
 * welcome's role. */
static int try_hello(const char *token, enum proto_role *role)
{
  struct rawws *r = rawws_connect(srv.port);
  struct proto_frame f, reply;
  int rc;

  CHECK(r != NULL);
  proto_frame_init(&f, PROTO_T_HELLO);
  f.id = 1;
  f.u.hello.token = (struct proto_str){token, strlen(token)};
  f.u.hello.dev = (struct proto_str){"auth-test", 9};
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_NONE, 10000, &reply), ==, 0);
  rc = reply.type == PROTO_T_WELCOME ? 0 : -(int)reply.u.error.code;
  if (rc == 0 && role)
    *role = reply.u.welcome.role;
  proto_frame_cleanup(&reply);
  rawws_free(r);
  return rc;
}

TEST(login_token_logout)
{
  char token[64];
  struct peer *p;
  struct proto_frame f;
  struct hc_conn_config cfg = {0};

  setup(NULL);
  CHECK_INT(try_login("alice", "pw-alice", token, NULL), ==, 0);
  CHECK_UINT(strlen(token), ==, 43);
  CHECK_INT(try_hello(token, NULL), ==, 0);
  CHECK_INT(try_login("ALICE", "pw-alice", NULL, NULL), ==, 0); /* any case */
  CHECK_INT(try_hello("not-a-token", NULL), ==, PROTO_E_BAD_CREDENTIALS);
  CHECK_INT(try_hello("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL), ==,
            PROTO_E_BAD_CREDENTIALS);

  /* Logout revokes the token it used. */
  p = peer_new(srv.url, "alice", NULL, true);
  snprintf(token, sizeof(token), "%s", hc_conn_token(p->c));
  proto_frame_init(&f, PROTO_T_LOGOUT);
  CHECK_INT(peer_request(p, &f, NULL), ==, 0);
  peer_free(p);
  CHECK_INT(try_hello(token, NULL), ==, PROTO_E_TOKEN_EXPIRED);
  (void)cfg;
  e2e_server_stop(&srv);
}

TEST(failed_logins_are_limited_and_reveal_nothing)
{
  uint64_t known = 0, unknown = 0, ms;
  int rc, limited_at = 0;

  setup(NULL);
  /* The same answer, in about the same time, for a wrong password and for
   * an account that does not exist. */
  for (int i = 0; i < 4; i++) {
    CHECK_INT(try_login("alice", "wrong", NULL, &ms), ==,
              PROTO_E_BAD_CREDENTIALS);
    known += ms;
    CHECK_INT(try_login("nobody", "wrong", NULL, &ms), ==,
              PROTO_E_BAD_CREDENTIALS);
    unknown += ms;
  }
  fprintf(stderr, "wrong password %llu ms, unknown login %llu ms (4 each)\n",
          (unsigned long long)known, (unsigned long long)unknown);
  CHECK(unknown * 3 > known && known * 3 > unknown);

  /* Per account: after the burst, even the right password is refused for
   * a while, with a retryable RATE_LIMITED. */
  for (int i = 0; i < 20 && !limited_at; i++) {
    rc = try_login("alice", "wrong", NULL, NULL);
    if (rc == PROTO_E_RATE_LIMITED)
      limited_at = i + 1;
    else
      CHECK_INT(rc, ==, PROTO_E_BAD_CREDENTIALS);
  }
  CHECK(limited_at > 0);
  CHECK_INT(try_login("alice", "pw-alice", NULL, NULL), ==,
            PROTO_E_RATE_LIMITED);
  e2e_server_stop(&srv);
}

TEST(bots_authenticate_but_never_act_as_users)
{
  char token[44];
  enum proto_role role = PROTO_ROLE_NONE;
  struct rawws *r;
  struct proto_frame f, reply;
  const char *bodies[] = {"from a bot"};

  setup(NULL);
  e2e_bot(&srv, "deploy-bot", alice_id, &group_id, 1, token);
  CHECK_INT(try_hello(token, &role), ==, 0);
  CHECK_INT(role, ==, PROTO_ROLE_BOT);
  /* A bot token is no password: it cannot log in as a user. */
  CHECK_INT(try_login("deploy-bot", token, NULL, NULL), ==,
            PROTO_E_BAD_CREDENTIALS);

  r = rawws_connect(srv.port);
  proto_frame_init(&f, PROTO_T_HELLO);
  f.id = 1;
  f.u.hello.token = (struct proto_str){token, strlen(token)};
  f.u.hello.dev = (struct proto_str){"bot", 3};
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_WELCOME, 10000, &reply), ==, 0);
  proto_frame_cleanup(&reply);

  /* People-only frames. */
  proto_frame_init(&f, PROTO_T_LOGOUT);
  f.id = 2;
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_ERROR, 5000, &reply), ==, 0);
  CHECK_INT(-(int)reply.u.error.code, ==, PROTO_E_BOT_AS_USER);
  proto_frame_cleanup(&reply);
  proto_frame_init(&f, PROTO_T_CONV_CREATE);
  f.id = 3;
  f.u.conv_create.type = PROTO_CONV_GROUP;
  f.u.conv_create.title = (struct proto_str){"Bots", 4};
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_ERROR, 5000, &reply), ==, 0);
  CHECK_INT(-(int)reply.u.error.code, ==, PROTO_E_BOT_AS_USER);
  proto_frame_cleanup(&reply);

  /* But it posts where it was added, as itself. */
  proto_frame_init(&f, PROTO_T_SEND);
  f.id = 4;
  f.u.send.cmid = (struct proto_str){"bot-1", 5};
  f.u.send.conv = (uint64_t)group_id;
  f.u.send.kind = PROTO_KIND_TEXT;
  f.u.send.body = (struct proto_str){bodies[0], strlen(bodies[0])};
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_ACK, 5000, &reply), ==, 0);
  proto_frame_cleanup(&reply);
  rawws_free(r);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM messages WHERE "
                                "sender_bot_id IS NOT NULL AND "
                                "sender_user_id IS NULL"), ==, 1);
  e2e_server_stop(&srv);
}

TEST(origin_allow_list)
{
  static const char *const extra[] = {"--allowed-origins",
                                      "https://chat.example.com", NULL};
  struct rawws *r;

  setup(extra);
  r = rawws_connect_origin(srv.port, "https://evil.example.net");
  CHECK(r == NULL);                    /* the upgrade is refused */
  r = rawws_connect_origin(srv.port, "https://chat.example.com");
  CHECK(r != NULL);
  rawws_free(r);
  r = rawws_connect(srv.port);         /* native clients send no Origin */
  CHECK(r != NULL);
  rawws_free(r);
  e2e_server_stop(&srv);
}

TEST_MAIN()
