/*
 * test_hostile.c — hostile clients over a real WebSocket: malformed,
 * oversized, wrongly typed, unauthenticated and non-UTF-8 frames, text
 * frames, and a client that stops reading. Each gets the documented error
 * frame and/or close code, and the server keeps serving everyone else
 * with bounded memory.
 */
#include "check.h"
#include "e2e.h"
#include "peer.h"
#include "rawws.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>

static struct e2e_server srv;
static int64_t alice_id, bob_id, group_id;

static void setup(const char *const *extra)
{
  e2e_server_init(&srv);
  alice_id = e2e_org(&srv, "alice");
  bob_id = e2e_user(&srv, "bob");
  group_id = e2e_group(&srv, "Town", alice_id, &bob_id, 1);
  e2e_server_start(&srv, extra);
}

/* A well-behaved member still chats after whatever came before. */
static void check_others_served(void)
{
  struct peer *pa = peer_new(srv.url, "alice", NULL, true);
  struct proto_frame f, ack;

  proto_frame_init(&f, PROTO_T_SEND);
  f.u.send.cmid = (struct proto_str){"still-ok", 8};
  f.u.send.conv = (uint64_t)group_id;
  f.u.send.kind = PROTO_KIND_TEXT;
  f.u.send.body = (struct proto_str){"still here", 10};
  CHECK_INT(peer_request(pa, &f, &ack), ==, 0);
  CHECK(ack.u.ack.seq > 0);
  proto_frame_cleanup(&ack);
  peer_free(pa);
}

/* Sends `len` raw bytes and expects an error frame with `code` (0: none)
 * and then the close code `close` (0: stays open). */
static void expect(const void *bytes, size_t len, bool text, int code,
                   int close_code, const char *what)
{
  struct rawws *r = rawws_connect(srv.port);
  struct proto_frame f;

  CHECK(r != NULL);
  rawws_send(r, bytes, len, text);
  if (code) {
    if (rawws_wait_frame(r, PROTO_T_ERROR, 5000, &f) != 0)
      CHECK_FAIL("%s: no error frame", what);
    if ((int)f.u.error.code != -code)
      CHECK_FAIL("%s: error %llu, expected %d", what,
                 (unsigned long long)f.u.error.code, -code);
    CHECK(f.u.error.message.len > 0);
    proto_frame_cleanup(&f);
  }
  if (close_code) {
    int got = rawws_wait_close(r, 5000);
    if (got != close_code)
      CHECK_FAIL("%s: close code %d, expected %d", what, got, close_code);
  } else {
    rawws_service(r, 200);
    CHECK(rawws_is_open(r));
  }
  rawws_free(r);
}

static void login_raw(struct rawws *r, const char *login)
{
  struct proto_frame f, w;
  char pw[64];

  snprintf(pw, sizeof(pw), "pw-%s", login);
  proto_frame_init(&f, PROTO_T_LOGIN);
  f.id = 1;
  f.u.login.login = (struct proto_str){login, strlen(login)};
  f.u.login.pass = (struct proto_str){pw, strlen(pw)};
  f.u.login.dev = (struct proto_str){"raw-test", 8};
  rawws_send_frame(r, &f);
  if (rawws_wait_frame(r, PROTO_T_WELCOME, 10000, &w) != 0)
    CHECK_FAIL("no welcome for %s", login);
  proto_frame_cleanup(&w);
}

TEST(malformed_frames_get_errors_and_closes)
{
  static const uint8_t garbage[] = {0xc1, 0x00, 0x01};
  /* A map that declares 2^28 entries in five bytes. */
  static const uint8_t lying_map[] = {0xdf, 0x10, 0x00, 0x00, 0x00};
  /* {"t": "ping", "x": [[[[[[[[[[[[]]]]]]]]]]]]} — deeper than allowed */
  uint8_t deep[64] = {0x82, 0xa1, 't', 0xa4, 'p', 'i', 'n', 'g', 0xa1, 'x'};
  /* {"t": "pi\xff"} — not UTF-8 */
  static const uint8_t bad_utf8[] = {0x81, 0xa1, 't', 0xa3, 'p', 'i', 0xff};
  /* {"t": "send", ...} before authenticating */
  struct proto_frame f;
  uint8_t *big;
  size_t nd = 10;

  setup(NULL);
  expect(garbage, sizeof(garbage), false, PROTO_E_MALFORMED, 1002, "garbage");
  expect(lying_map, sizeof(lying_map), false, PROTO_E_MALFORMED, 1002,
         "lying map count");
  for (int i = 0; i < 12; i++)
    deep[nd++] = 0x91;
  deep[nd++] = 0x90;
  expect(deep, nd, false, PROTO_E_TOO_DEEP, 1002, "nesting");
  expect(bad_utf8, sizeof(bad_utf8), false, PROTO_E_BAD_UTF8, 1007,
         "invalid UTF-8");
  expect("{\"t\":\"ping\"}", 12, true, 0, 1003, "text frame");

  big = calloc(1, 70000);     /* over the default max-frame of 64 KiB */
  expect(big, 70000, false, 0, 1009, "oversized frame");
  free(big);

  {
    struct proto_buf b;
    proto_buf_init(&b);
    proto_frame_init(&f, PROTO_T_SEND);
    f.u.send.cmid = (struct proto_str){"x", 1};
    f.u.send.conv = (uint64_t)group_id;
    f.u.send.kind = PROTO_KIND_TEXT;
    f.u.send.body = (struct proto_str){"hi", 2};
    CHECK_INT(proto_encode(&f, 0, &b), ==, 0);
    expect(proto_buf_frame(&b), proto_buf_size(&b), false,
           PROTO_E_UNAUTHENTICATED, 1008, "send before login");
    proto_buf_cleanup(&b);
  }
  check_others_served();
  e2e_server_stop(&srv);
}

TEST(schema_errors_keep_the_connection)
{
  /* {"t":"send","id":7,"conv":"one"} — wrong type, missing fields */
  static const uint8_t wrong_type[] = {
    0x83, 0xa1, 't', 0xa4, 's', 'e', 'n', 'd', 0xa2, 'i', 'd', 0x07,
    0xa4, 'c', 'o', 'n', 'v', 0xa3, 'o', 'n', 'e'};
  static const uint8_t unknown[] = {0x82, 0xa1, 't', 0xa3, 'z', 'a', 'p',
                                    0xa2, 'i', 'd', 0x08};
  struct rawws *r;
  struct proto_frame f, e;

  setup(NULL);
  r = rawws_connect(srv.port);
  CHECK(r != NULL);
  login_raw(r, "bob");

  rawws_send(r, wrong_type, sizeof(wrong_type), false);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_ERROR, 5000, &e), ==, 0);
  CHECK_UINT(e.u.error.code, ==, 1009);       /* WRONG_TYPE */
  CHECK_UINT(e.id, ==, 7);
  CHECK(e.u.error.field.len == 4 && memcmp(e.u.error.field.p, "conv", 4) == 0);
  proto_frame_cleanup(&e);

  rawws_send(r, unknown, sizeof(unknown), false);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_ERROR, 5000, &e), ==, 0);
  CHECK_UINT(e.u.error.code, ==, 1007);       /* UNKNOWN_TYPE */
  proto_frame_cleanup(&e);

  /* A second login on an authenticated connection. */
  proto_frame_init(&f, PROTO_T_LOGIN);
  f.id = 9;
  f.u.login.login = (struct proto_str){"bob", 3};
  f.u.login.pass = (struct proto_str){"pw-bob", 6};
  f.u.login.dev = (struct proto_str){"again", 5};
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_ERROR, 5000, &e), ==, 0);
  CHECK_UINT(e.u.error.code, ==, 1015);       /* UNEXPECTED */
  proto_frame_cleanup(&e);

  /* A message in a conversation that does not exist. */
  proto_frame_init(&f, PROTO_T_SEND);
  f.id = 10;
  f.u.send.cmid = (struct proto_str){"nowhere", 7};
  f.u.send.conv = 424242;
  f.u.send.kind = PROTO_KIND_TEXT;
  f.u.send.body = (struct proto_str){"hi", 2};
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_ERROR, 5000, &e), ==, 0);
  CHECK_UINT(e.u.error.code, ==, 3001);       /* NOT_FOUND */
  proto_frame_cleanup(&e);

  /* Still open and answering. */
  proto_frame_init(&f, PROTO_T_PING);
  f.id = 11;
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_PONG, 5000, &e), ==, 0);
  CHECK_UINT(e.id, ==, 11);
  proto_frame_cleanup(&e);
  rawws_free(r);

  /* Wrong password: an error, a close, and then rate limiting. */
  r = rawws_connect(srv.port);
  proto_frame_init(&f, PROTO_T_LOGIN);
  f.u.login.login = (struct proto_str){"bob", 3};
  f.u.login.pass = (struct proto_str){"wrong", 5};
  f.u.login.dev = (struct proto_str){"d", 1};
  rawws_send_frame(r, &f);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_ERROR, 5000, &e), ==, 0);
  CHECK_UINT(e.u.error.code, ==, 2002);       /* BAD_CREDENTIALS */
  proto_frame_cleanup(&e);
  CHECK_INT(rawws_wait_close(r, 5000), ==, 1008);
  rawws_free(r);

  check_others_served();
  e2e_server_stop(&srv);
}

struct sent_arg {
  struct peer *p;
  size_t n;
};

static bool sent_all(void *arg)
{
  struct sent_arg *a = arg;
  return a->p->acked + a->p->failed >= a->n;
}

TEST(slow_reader_is_dropped_with_bounded_memory)
{
  static const char *const extra[] = {"--queue-bytes", "1048576", NULL};
  const size_t n = 20000;
  struct rawws *slow;
  struct peer *pa;
  struct proto_frame f, e;
  char body[1024];
  long rss0, rss1;

  setup(extra);
  slow = rawws_connect(srv.port);
  CHECK(slow != NULL);
  login_raw(slow, "bob");
  proto_frame_init(&f, PROTO_T_SYNC);
  f.id = 2;
  rawws_send_frame(slow, &f);
  CHECK_INT(rawws_wait_frame(slow, PROTO_T_SYNCED, 5000, &e), ==, 0);
  proto_frame_cleanup(&e);
  rawws_pause(slow, true);         /* bob stops reading */

  pa = peer_new(srv.url, "alice", NULL, true);
  rss0 = e2e_server_rss_kb(&srv);
  memset(body, 'x', sizeof(body));
  for (size_t i = 0; i < n; i++) {
    CHECK_INT(hc_send_text(pa->c, (uint64_t)group_id, body, sizeof(body),
                           NULL, NULL), ==, 0);
    if (i % 256 == 0)
      hc_run_until(peer_ctx(), NULL, NULL, 1);
  }
  {
    struct sent_arg a = {pa, n};
    peer_wait(sent_all, &a, 120000, "alice's sends");
  }
  CHECK_UINT(pa->failed, ==, 0);
  rss1 = e2e_server_rss_kb(&srv);
  /* 20 MB went to a reader that never read; the server kept at most its
   * 1 MiB queue for it (plus allocator slack), then dropped it. */
  fprintf(stderr, "server RSS %ld kB -> %ld kB\n", rss0, rss1);
  CHECK_INT(rss1 - rss0, <, 48 * 1024);
  CHECK_INT(e2e_log_count(&srv, "send queue full"), ==, 1);

  /* Bob's connection was closed: once he reads again he drains what the
   * kernel still held and then sees the end. */
  rawws_pause(slow, false);
  CHECK_INT(rawws_wait_close(slow, 60000), !=, -1);
  CHECK_UINT(rawws_received(slow), <, n * sizeof(body));
  rawws_free(slow);
  peer_free(pa);
  check_others_served();
  e2e_server_stop(&srv);
}

TEST(dead_peer_is_dropped_by_keepalive)
{
  static const char *const extra[] = {"--ping-interval", "1", NULL};
  struct rawws *r;

  setup(extra);
  r = rawws_connect(srv.port);
  CHECK(r != NULL);
  login_raw(r, "bob");
  rawws_pause(r, true);         /* no longer reads, so never answers pings */
  rawws_service(r, 4000);
  rawws_pause(r, false);
  CHECK_INT(rawws_wait_close(r, 5000), !=, -1);
  rawws_free(r);
  /* A peer that answers stays. */
  r = rawws_connect(srv.port);
  login_raw(r, "bob");
  rawws_service(r, 4000);
  CHECK(rawws_is_open(r));
  rawws_free(r);
  e2e_server_stop(&srv);
}

TEST(silent_connection_must_authenticate_in_time)
{
  static const char *const extra[] = {"--auth-timeout", "1", NULL};
  struct rawws *r;

  setup(extra);
  r = rawws_connect(srv.port);
  CHECK(r != NULL);
  CHECK_INT(rawws_wait_close(r, 5000), !=, -1);   /* never said hello */
  rawws_free(r);
  r = rawws_connect(srv.port);
  login_raw(r, "bob");                              /* in time: it stays */
  rawws_service(r, 2500);
  CHECK(rawws_is_open(r));
  rawws_free(r);
  e2e_server_stop(&srv);
}

TEST(sigterm_closes_clients_with_1001)
{
  struct rawws *r;
  struct proto_frame e;
  int st;

  setup(NULL);
  r = rawws_connect(srv.port);
  CHECK(r != NULL);
  login_raw(r, "bob");
  kill(srv.pid, SIGTERM);
  CHECK_INT(rawws_wait_close(r, 10000), ==, 1001);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_ERROR, 0, &e), ==, -1);
  rawws_free(r);
  st = e2e_server_signal(&srv, 0);   /* reap: it exits by itself */
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST_MAIN()
