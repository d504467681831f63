/*
 * Unit tests for the session logic of clients/lib (conn.c, request.c,
 * sync.c, send.c) without a network: the test plays the server. It takes
 * the frames the library would write (hc_req_next_write) and feeds it
 * encoded server frames (hc_conn_on_message), then checks the events, the
 * order of what goes on the wire, cursors, the outbox and reconnects.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "check.h"
#include "hc_int.h"
#include "tmpdir.h"

#define TS 1700000000000ull

struct rec {
  enum hc_event_type type;
  enum hc_state state;
  int err;
  unsigned retry_ms;
  uint64_t conv, seq, oid, fs;
  bool replay, dup;
  char cmid[PROTO_CMID_MAX + 1];
  char body[64];
};

static struct hc_ctx *ctx;
static struct hc_conn *c;
static struct rec evs[512];
static int nev;
static bool free_on_msg;

static void on_ev(struct hc_conn *conn, const struct hc_event *ev, void *arg)
{
  struct rec *r = &evs[nev < 511 ? nev++ : 511];

  (void)arg;
  memset(r, 0, sizeof *r);
  r->type = ev->type;
  r->state = ev->state;
  r->err = ev->err;
  r->retry_ms = ev->retry_ms;
  r->oid = ev->oid;
  r->dup = ev->dup;
  if (ev->cmid)
    snprintf(r->cmid, sizeof r->cmid, "%s", ev->cmid);
  if (ev->msg) {
    r->conv = ev->msg->conv;
    r->seq = ev->msg->seq;
    r->replay = ev->replay;
    snprintf(r->body, sizeof r->body, "%.*s", (int)ev->msg->body.len,
             ev->msg->body.p);
    if (free_on_msg)
      hc_conn_free(conn);
  }
  if (ev->receipt)
    r->fs = ev->receipt->fs;
  if (ev->ding_update)
    r->fs = ev->ding_update->fs;
  if (ev->card_event)
    r->fs = ev->card_event->fs;
  if (ev->remind) {
    r->fs = ev->remind->fs;
    r->conv = ev->remind->conv;
    r->seq = ev->remind->seq;
  }
}

static void setup_cfg(struct hc_conn_config *cfg)
{
  nev = 0;
  free_on_msg = false;
  CHECK_INT(hc_ctx_new(NULL, &ctx), ==, 0);
  cfg->url = "ws://127.0.0.1:1/";
  cfg->on_event = on_ev;
  CHECK_INT(hc_conn_new(ctx, cfg, &c), ==, 0);
}

static void setup(void)
{
  struct hc_conn_config cfg = {.login = "alice", .password = "secret-pw"};

  setup_cfg(&cfg);
}

static void teardown(void)
{
  hc_ctx_free(ctx);
  ctx = NULL;
  c = NULL;
}

/* The WebSocket "came up": the library queues its hello or login. */
static void ws_up(void)
{
  c->state = HC_STATE_CONNECTING;
  hc_conn_enter(c);
  hc_conn_ws_up(c);
  hc_conn_leave(c);
}

/* The next frame the library writes, decoded into `f` (a copy owning its
 * memory). False when it has nothing to write. */
static bool pull(struct proto_frame *f)
{
  struct proto_limits lim = {.accept = PROTO_FROM_CLIENT};
  struct proto_frame d;
  struct hc_wr w;
  bool ok;

  hc_conn_enter(c);
  ok = hc_req_next_write(c, &w);
  if (ok) {
    CHECK_INT(proto_decode(w.frame, w.len, &lim, &d, NULL), ==, 0);
    CHECK_INT(proto_frame_copy(f, &d), ==, 0);
    proto_frame_cleanup(&d);
    hc_req_written(c, &w);
  }
  hc_conn_leave(c);
  return ok;
}

static enum proto_type pull_type(struct proto_frame *f)
{
  if (!pull(f))
    return PROTO_T_NONE;
  return f->type;
}

static void inject(const struct proto_frame *f)
{
  struct proto_buf b;

  proto_buf_init(&b);
  CHECK_INT(proto_encode(f, 0, &b), ==, 0);
  hc_conn_enter(c);
  hc_conn_on_message(c, proto_buf_frame(&b), proto_buf_size(&b));
  hc_conn_leave(c);
  proto_buf_cleanup(&b);
}

static void inject_welcome(uint64_t id, const char *token)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_WELCOME);
  f.id = id;
  f.u.welcome.uid = 2;
  f.u.welcome.login = (struct proto_str){"alice", 5};
  f.u.welcome.name = (struct proto_str){"Alice", 5};
  f.u.welcome.role = PROTO_ROLE_STAFF;
  if (token)
    f.u.welcome.token = (struct proto_str){token, strlen(token)};
  f.u.welcome.now = TS;
  f.u.welcome.lim = (struct proto_limits_info){65536, 1 << 20, 32768, 8, 1000};
  f.u.welcome.quiet.tz = (struct proto_str){"UTC", 3};
  inject(&f);
}

static void inject_error(uint64_t id, int code)
{
  struct proto_frame f;
  const char *name = proto_err_name(code);

  proto_frame_init(&f, PROTO_T_ERROR);
  f.id = id;
  f.u.error.code = (uint64_t)(code < 0 ? -code : code);
  f.u.error.name = (struct proto_str){name, strlen(name)};
  f.u.error.message = (struct proto_str){"test", 4};
  f.u.error.retry = proto_err_retryable(code);
  inject(&f);
}

static void inject_msg(uint64_t conv, uint64_t seq, const char *body)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_MSG);
  f.u.msg.conv = conv;
  f.u.msg.seq = seq;
  f.u.msg.from = 3;
  f.u.msg.from_kind = PROTO_ACTOR_USER;
  f.u.msg.kind = PROTO_KIND_TEXT;
  f.u.msg.body = (struct proto_str){body, strlen(body)};
  f.u.msg.ts = TS + seq;
  inject(&f);
}

static void inject_page(uint64_t id, uint64_t conv, uint64_t from_seq,
                        uint64_t to_seq)
{
  struct proto_msg m[16];
  struct proto_frame f;
  size_t n = 0;

  for (uint64_t s = from_seq; s <= to_seq && n < 16; s++, n++) {
    memset(&m[n], 0, sizeof m[n]);
    m[n].conv = conv;
    m[n].seq = s;
    m[n].from = 3;
    m[n].from_kind = PROTO_ACTOR_USER;
    m[n].kind = PROTO_KIND_TEXT;
    m[n].body = (struct proto_str){"p", 1};
    m[n].ts = TS + s;
  }
  proto_frame_init(&f, PROTO_T_PAGE);
  f.id = id;
  f.u.page.conv = conv;
  f.u.page.msgs = m;
  f.u.page.nmsgs = n;
  inject(&f);
}

static void inject_synced(uint64_t id, uint64_t feed)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_SYNCED);
  f.id = id;
  f.u.synced.feed = feed;
  inject(&f);
}

/* Logs in (login + welcome), takes the sync and completes it. Returns the
 * frames written before the sync in *before (their count). */
static void go_online(void)
{
  struct proto_frame f;
  uint64_t sync_id;

  ws_up();
  CHECK_UINT(pull_type(&f), ==, PROTO_T_LOGIN);
  inject_welcome(f.id, "tok-1");
  proto_frame_cleanup(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SYNC);
  sync_id = f.id;
  proto_frame_cleanup(&f);
  inject_synced(sync_id, 0);
  CHECK(hc_conn_synced(c));
}

static int count(enum hc_event_type t)
{
  int n = 0;

  for (int i = 0; i < nev; i++)
    n += evs[i].type == t;
  return n;
}

static struct rec *last_of(enum hc_event_type t)
{
  for (int i = nev; i-- > 0;)
    if (evs[i].type == t)
      return &evs[i];
  CHECK_FAIL("no event of type %d", t);
}

/* ------------------------------------------------------------------ */

TEST(login_outbox_then_sync)
{
  struct proto_frame f;
  uint64_t oid, sync_id;
  char cmid[HC_CMID_SIZE];

  setup();
  /* Sending works before there is any connection: that is the outbox. */
  CHECK_INT(hc_send_text(c, 7, "offline hello", 13, &oid, cmid), ==, 0);
  CHECK_UINT(oid, ==, 1);
  CHECK_UINT(strlen(cmid), ==, HC_CMID_LEN);
  CHECK_UINT(hc_outbox_count(c), ==, 1);

  ws_up();
  CHECK_UINT(pull_type(&f), ==, PROTO_T_LOGIN);
  CHECK_MEM(f.u.login.login.p, "alice", 5);
  CHECK_MEM(f.u.login.pass.p, "secret-pw", 9);
  CHECK(f.u.login.dev.len > 0);
  CHECK_UINT(f.id, <, HC_OID_BIT);
  /* Before the welcome nothing else goes out. */
  {
    struct proto_frame g;
    CHECK(!pull(&g));
  }
  inject_welcome(f.id, "tok-1");
  proto_frame_cleanup(&f);
  CHECK_UINT(hc_conn_state(c), ==, HC_STATE_ONLINE);
  CHECK_UINT(count(HC_EV_WELCOME), ==, 1);
  CHECK_STR(hc_conn_token(c), "tok-1");
  CHECK(c->password == NULL);                  /* wiped after login */
  CHECK_UINT(hc_conn_info(c)->uid, ==, 2);
  CHECK_STR(hc_conn_info(c)->login, "alice");

  /* The outbox replays before the sync. */
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SEND);
  CHECK_UINT(f.id, ==, HC_OID_BIT | 1);
  CHECK_MEM(f.u.send.cmid.p, cmid, HC_CMID_LEN);
  proto_frame_cleanup(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SYNC);
  CHECK_UINT(f.u.sync.ncur, ==, 0);
  sync_id = f.id;
  proto_frame_cleanup(&f);
  CHECK(!pull(&f));

  proto_frame_init(&f, PROTO_T_ACK);
  f.id = HC_OID_BIT | 1;
  f.u.ack.cmid = (struct proto_str){cmid, HC_CMID_LEN};
  f.u.ack.conv = 7;
  f.u.ack.seq = 1;
  f.u.ack.ts = TS;
  inject(&f);
  CHECK_UINT(count(HC_EV_OUTBOX_DONE), ==, 1);
  CHECK_UINT(last_of(HC_EV_OUTBOX_DONE)->oid, ==, 1);
  CHECK_STR(last_of(HC_EV_OUTBOX_DONE)->cmid, cmid);
  CHECK(!last_of(HC_EV_OUTBOX_DONE)->dup);
  CHECK_UINT(hc_outbox_count(c), ==, 0);

  inject_page(sync_id, 7, 1, 3);
  CHECK_UINT(count(HC_EV_MSG), ==, 3);
  CHECK(last_of(HC_EV_MSG)->replay);
  CHECK(!hc_conn_synced(c));
  inject_synced(sync_id, 0);
  CHECK(hc_conn_synced(c));
  CHECK_UINT(count(HC_EV_SYNCED), ==, 1);
  CHECK_UINT(hc_cursor_get(c, 7), ==, 3);
  teardown();
}

TEST(order_duplicates_and_gaps)
{
  struct proto_frame f;
  uint64_t sync_id;

  setup();
  go_online();
  nev = 0;
  inject_msg(5, 10, "a");          /* a conversation seen for the first time */
  inject_msg(5, 11, "b");
  inject_msg(5, 11, "b again");    /* duplicate */
  inject_msg(5, 10, "a again");    /* older */
  CHECK_UINT(count(HC_EV_MSG), ==, 2);
  CHECK_UINT(hc_cursor_get(c, 5), ==, 11);
  CHECK(!pull(&f));

  inject_msg(5, 13, "d");          /* 12 is missing */
  CHECK_UINT(count(HC_EV_MSG), ==, 2);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SYNC);
  CHECK_UINT(f.u.sync.ncur, ==, 1);
  CHECK_UINT(f.u.sync.cur[0].conv, ==, 5);
  CHECK_UINT(f.u.sync.cur[0].after, ==, 11);
  sync_id = f.id;
  proto_frame_cleanup(&f);

  inject_msg(5, 14, "e");          /* still a gap: not shown */
  CHECK_UINT(count(HC_EV_MSG), ==, 2);
  inject_page(sync_id, 5, 12, 14);
  CHECK_UINT(count(HC_EV_MSG), ==, 5);
  for (int i = 0, want = 10; i < nev; i++)
    if (evs[i].type == HC_EV_MSG)
      CHECK_UINT(evs[i].seq, ==, want++);
  inject_synced(sync_id, 0);
  /* The gap seen during that sync asks for another one, after a pause. */
  CHECK(c->resync_at != 0);
  CHECK(!pull(&f));
  c->resync_at = 0;
  hc_conn_enter(c);
  hc_sync_timer(c);
  hc_conn_leave(c);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SYNC);
  CHECK_UINT(f.u.sync.cur[0].after, ==, 14);
  proto_frame_cleanup(&f);
  teardown();
}

TEST(reconnect_resends_the_same_frames)
{
  struct proto_frame f, s1;
  uint64_t oid1, oid2;
  struct rec *st;

  setup();
  go_online();
  CHECK_INT(hc_send_text(c, 1, "one", 3, &oid1, NULL), ==, 0);
  CHECK_INT(hc_send_text(c, 1, "two", 3, &oid2, NULL), ==, 0);
  proto_frame_init(&f, PROTO_T_CONV_LIST);
  CHECK_INT(hc_request(c, &f, NULL, NULL, NULL), ==, 0);
  CHECK_UINT(pull_type(&s1), ==, PROTO_T_SEND);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SEND);
  proto_frame_cleanup(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_CONV_LIST);
  proto_frame_cleanup(&f);

  /* The connection drops before any answer. */
  nev = 0;
  hc_conn_enter(c);
  hc_conn_down(c, -ECONNRESET);
  hc_conn_leave(c);
  st = last_of(HC_EV_STATE);
  CHECK_UINT(st->state, ==, HC_STATE_OFFLINE);
  CHECK_INT(st->err, ==, -ECONNRESET);
  CHECK_UINT(st->retry_ms, <=, 250);
  CHECK(c->reconnect_at != 0);
  CHECK_UINT(hc_outbox_count(c), ==, 2);
  proto_frame_init(&f, PROTO_T_PING);
  CHECK_INT(hc_request(c, &f, NULL, NULL, NULL), ==, -ENOTCONN);

  /* Back: hello with the token from the login, then the same sends. */
  ws_up();
  CHECK_UINT(pull_type(&f), ==, PROTO_T_HELLO);
  CHECK_MEM(f.u.hello.token.p, "tok-1", 5);
  inject_welcome(f.id, NULL);
  proto_frame_cleanup(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SEND);
  CHECK_UINT(f.id, ==, s1.id);
  CHECK_UINT(f.u.send.cmid.len, ==, s1.u.send.cmid.len);
  CHECK_MEM(f.u.send.cmid.p, s1.u.send.cmid.p, s1.u.send.cmid.len);
  proto_frame_cleanup(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SEND);
  CHECK_UINT(f.id, ==, HC_OID_BIT | oid2);
  proto_frame_cleanup(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SYNC);
  proto_frame_cleanup(&f);

  /* The first attempt had got through: the server answers "dup". */
  proto_frame_init(&f, PROTO_T_ACK);
  f.id = s1.id;
  f.u.ack.cmid = s1.u.send.cmid;
  f.u.ack.conv = 1;
  f.u.ack.seq = 40;
  f.u.ack.ts = TS;
  f.u.ack.dup = true;
  inject(&f);
  CHECK(last_of(HC_EV_OUTBOX_DONE)->dup);
  CHECK_UINT(last_of(HC_EV_OUTBOX_DONE)->oid, ==, oid1);
  /* A late second answer to the same entry is ignored. */
  inject(&f);
  CHECK_UINT(count(HC_EV_OUTBOX_DONE), ==, 1);
  proto_frame_cleanup(&s1);
  teardown();
}

static int replies, reply_err;
static uint64_t reply_type;

static void reply_cb(struct hc_conn *conn, int err,
                     const struct proto_frame *r, void *arg)
{
  (void)conn;
  replies++;
  reply_err = err;
  reply_type = r ? r->type : 0;
  *(int *)arg += 1;
}

TEST(requests_are_correlated_by_id)
{
  struct proto_frame f, q1, q2;
  int a = 0, b = 0, d = 0;
  uint64_t id3;

  setup();
  proto_frame_init(&f, PROTO_T_PING);
  CHECK_INT(hc_request(c, &f, reply_cb, &a, NULL), ==, -ENOTCONN);   /* idle */
  go_online();
  proto_frame_init(&f, PROTO_T_CONV_LIST);
  CHECK_INT(hc_request(c, &f, reply_cb, &a, NULL), ==, 0);
  proto_frame_init(&f, PROTO_T_PING);
  CHECK_INT(hc_request(c, &f, reply_cb, &b, NULL), ==, 0);
  proto_frame_init(&f, PROTO_T_CONV_MEMBERS);
  f.u.conv_members.conv = 9;
  CHECK_INT(hc_request(c, &f, reply_cb, &d, &id3), ==, 0);
  CHECK_UINT(pull_type(&q1), ==, PROTO_T_CONV_LIST);
  CHECK_UINT(pull_type(&q2), ==, PROTO_T_PING);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_CONV_MEMBERS);
  proto_frame_cleanup(&f);
  CHECK(q1.id != q2.id);

  /* Replies in another order than the requests. */
  proto_frame_init(&f, PROTO_T_PONG);
  f.id = q2.id;
  f.u.pong.now = TS;
  inject(&f);
  CHECK_INT(b, ==, 1);
  CHECK_INT(a, ==, 0);
  CHECK_UINT(reply_type, ==, PROTO_T_PONG);
  proto_frame_init(&f, PROTO_T_CONV_LIST_RESULT);
  f.id = q1.id;
  inject(&f);
  CHECK_INT(a, ==, 1);
  CHECK_INT(reply_err, ==, 0);
  inject(&f);                          /* a second reply: nobody waits */
  CHECK_INT(a, ==, 1);
  /* Forgotten: the reply is dropped. */
  hc_request_forget(c, id3);
  inject_error(id3, PROTO_E_NOT_FOUND);
  CHECK_INT(d, ==, 0);
  /* Errors reach the callback with their code. */
  proto_frame_init(&f, PROTO_T_CONV_MEMBERS);
  f.u.conv_members.conv = 9;
  CHECK_INT(hc_request(c, &f, reply_cb, &d, &id3), ==, 0);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_CONV_MEMBERS);
  proto_frame_cleanup(&f);
  inject_error(id3, PROTO_E_NOT_FOUND);
  CHECK_INT(d, ==, 1);
  CHECK_INT(reply_err, ==, PROTO_E_NOT_FOUND);
  CHECK_UINT(reply_type, ==, PROTO_T_ERROR);

  /* What the library manages itself, and server frames, are refused. */
  proto_frame_init(&f, PROTO_T_SYNC);
  CHECK_INT(hc_request(c, &f, NULL, NULL, NULL), ==, PROTO_E_UNEXPECTED);
  proto_frame_init(&f, PROTO_T_ACK);
  CHECK_INT(hc_request(c, &f, NULL, NULL, NULL), ==, PROTO_E_UNEXPECTED);
  proto_frame_cleanup(&q1);
  proto_frame_cleanup(&q2);
  teardown();
}

TEST(bounded_queue)
{
  struct hc_conn_config cfg = {.login = "alice", .password = "pw-secret",
                               .max_queue = 2, .max_outbox = 2};
  struct proto_frame f;
  char big[70000];

  setup_cfg(&cfg);
  go_online();
  proto_frame_init(&f, PROTO_T_PING);
  CHECK_INT(hc_request(c, &f, NULL, NULL, NULL), ==, 0);
  CHECK_INT(hc_request(c, &f, NULL, NULL, NULL), ==, 0);
  CHECK_INT(hc_request(c, &f, NULL, NULL, NULL), ==, PROTO_E_QUEUE_FULL);
  /* Above welcome.lim.frame (64 KiB): refused here, never sent. */
  memset(big, 'x', sizeof big);
  CHECK_INT(hc_send_text(c, 1, big, sizeof big, NULL, NULL), ==,
            PROTO_E_TOO_LARGE);
  CHECK_INT(hc_send_text(c, 1, "a", 1, NULL, NULL), ==, 0);
  CHECK_INT(hc_send_text(c, 1, "b", 1, NULL, NULL), ==, 0);
  CHECK_INT(hc_send_text(c, 1, "c", 1, NULL, NULL), ==, PROTO_E_QUEUE_FULL);
  teardown();
}

TEST(retryable_refusal_pauses_the_outbox)
{
  struct proto_frame f;
  uint64_t oid;

  setup();
  go_online();
  CHECK_INT(hc_send_text(c, 1, "x", 1, &oid, NULL), ==, 0);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SEND);
  proto_frame_cleanup(&f);
  nev = 0;
  inject_error(HC_OID_BIT | oid, PROTO_E_DB_UNAVAILABLE);
  CHECK_UINT(nev, ==, 0);                     /* not the application's problem */
  CHECK_UINT(hc_outbox_count(c), ==, 1);
  CHECK(c->hold_until != 0);
  CHECK(!pull(&f));                            /* held */
  c->hold_until = 0;                           /* the timer fired */
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SEND);
  CHECK_UINT(f.id, ==, HC_OID_BIT | oid);
  proto_frame_cleanup(&f);
  /* A refusal that will not change removes the entry and says why. */
  inject_error(HC_OID_BIT | oid, PROTO_E_NOT_FOUND);
  CHECK_UINT(count(HC_EV_OUTBOX_FAILED), ==, 1);
  CHECK_INT(last_of(HC_EV_OUTBOX_FAILED)->err, ==, PROTO_E_NOT_FOUND);
  CHECK_UINT(hc_outbox_count(c), ==, 0);
  teardown();
}

TEST(expired_token_falls_back_to_password)
{
  struct hc_conn_config cfg = {.login = "alice", .password = "secret-pw",
                               .token = "old-token"};
  struct proto_frame f;

  setup_cfg(&cfg);
  ws_up();
  CHECK_UINT(pull_type(&f), ==, PROTO_T_HELLO);
  inject_error(f.id, PROTO_E_TOKEN_EXPIRED);
  proto_frame_cleanup(&f);
  CHECK_UINT(hc_conn_state(c), ==, HC_STATE_OFFLINE);
  CHECK_UINT(last_of(HC_EV_STATE)->retry_ms, ==, 0);   /* at once */
  CHECK(hc_conn_token(c) == NULL);
  ws_up();
  CHECK_UINT(pull_type(&f), ==, PROTO_T_LOGIN);
  proto_frame_cleanup(&f);
  teardown();
}

TEST(refused_credentials_stop)
{
  struct hc_conn_config cfg = {.token = "bad-token"};
  struct proto_frame f;

  setup_cfg(&cfg);
  ws_up();
  CHECK_UINT(pull_type(&f), ==, PROTO_T_HELLO);
  inject_error(f.id, PROTO_E_BAD_CREDENTIALS);
  proto_frame_cleanup(&f);
  CHECK_UINT(hc_conn_state(c), ==, HC_STATE_STOPPED);
  CHECK_INT(hc_conn_err(c), ==, PROTO_E_BAD_CREDENTIALS);
  CHECK_INT(last_of(HC_EV_STATE)->err, ==, PROTO_E_BAD_CREDENTIALS);
  CHECK(c->reconnect_at == 0);
  teardown();
}

TEST(feed_merged_in_fs_order)
{
  struct proto_frame f;
  struct proto_receipt r[1] = {{.conv = 1, .seq = 2, .read = 1, .total = 2, .fs = 2}};
  struct proto_ding_update d[1] = {{.conv = 1, .seq = 3, .fs = 1,
                                    .row = {.uid = 4, .acked = true}}};
  struct proto_card_event ce[1] = {{.card = 8, .ver = 2, .ev = {"action", 6},
                                    .actor = 4, .actor_kind = PROTO_ACTOR_USER,
                                    .ts = TS, .fs = 4}};
  struct proto_remind rm[1] = {{.conv = 1, .seq = 2, .upto = 5, .n = 3,
                                .since = TS, .fs = 3}};
  uint64_t sync_id;

  setup();
  ws_up();
  CHECK_UINT(pull_type(&f), ==, PROTO_T_LOGIN);
  inject_welcome(f.id, "t");
  proto_frame_cleanup(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SYNC);
  sync_id = f.id;
  proto_frame_cleanup(&f);
  nev = 0;
  proto_frame_init(&f, PROTO_T_FEED);
  f.id = sync_id;
  f.u.feed.rcpt = r;
  f.u.feed.nrcpt = 1;
  f.u.feed.ding = d;
  f.u.feed.nding = 1;
  f.u.feed.cards = ce;
  f.u.feed.ncards = 1;
  f.u.feed.remind = rm;
  f.u.feed.nremind = 1;
  f.u.feed.next = 4;
  inject(&f);
  CHECK_INT(nev, ==, 4);
  CHECK_UINT(evs[0].type, ==, HC_EV_DING_UPDATE);
  CHECK_UINT(evs[1].type, ==, HC_EV_RECEIPT);
  CHECK_UINT(evs[2].type, ==, HC_EV_REMIND);
  CHECK_UINT(evs[2].fs, ==, 3);
  CHECK_UINT(evs[2].seq, ==, 2);
  CHECK_UINT(evs[3].type, ==, HC_EV_CARD_EVENT);
  CHECK_UINT(hc_feed_cursor(c), ==, 4);
  /* The same page again (a replay that overlaps): nothing twice. */
  inject(&f);
  CHECK_INT(nev, ==, 4);
  inject_synced(sync_id, 4);

  /* Live: the next fs is shown, a repeat is not, a gap syncs again. */
  proto_frame_init(&f, PROTO_T_RECEIPT);
  f.u.receipt = (struct proto_receipt){.conv = 1, .seq = 2, .read = 2,
                                       .total = 2, .fs = 5};
  inject(&f);
  inject(&f);
  CHECK_UINT(count(HC_EV_RECEIPT), ==, 2);
  CHECK_UINT(hc_feed_cursor(c), ==, 5);
  proto_frame_init(&f, PROTO_T_REMIND);
  f.u.remind = (struct proto_remind){.conv = 1, .seq = 6, .upto = 6, .n = 1,
                                     .since = TS, .fs = 6};
  inject(&f);
  inject(&f);
  CHECK_UINT(count(HC_EV_REMIND), ==, 2);
  CHECK_UINT(hc_feed_cursor(c), ==, 6);
  proto_frame_init(&f, PROTO_T_RECEIPT);
  f.u.receipt = (struct proto_receipt){.conv = 1, .seq = 2, .read = 2,
                                       .total = 2, .fs = 8};
  inject(&f);
  CHECK_UINT(count(HC_EV_RECEIPT), ==, 2);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SYNC);
  CHECK_UINT(f.u.sync.feed, ==, 6);
  proto_frame_cleanup(&f);
  teardown();
}

TEST(limited_backlog_seeds_cursors)
{
  struct hc_conn_config cfg = {.login = "alice", .password = "secret-pw",
                               .limit_backlog = true, .backlog = 5};
  struct proto_conv_info ci[2] = {
    {.conv = 3, .type = PROTO_CONV_GROUP, .role = PROTO_MEMBER_MEMBER,
     .policy = PROTO_POLICY_ALL, .last = 100},
    {.conv = 4, .type = PROTO_CONV_DIRECT, .role = PROTO_MEMBER_MEMBER,
     .policy = PROTO_POLICY_ALL, .last = 2},
  };
  struct proto_frame f;
  uint64_t id;

  setup_cfg(&cfg);
  ws_up();
  CHECK_UINT(pull_type(&f), ==, PROTO_T_LOGIN);
  inject_welcome(f.id, "t");
  proto_frame_cleanup(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_CONV_LIST);
  id = f.id;
  proto_frame_cleanup(&f);
  proto_frame_init(&f, PROTO_T_CONV_LIST_RESULT);
  f.id = id;
  f.u.conv_list_result.convs = ci;
  f.u.conv_list_result.nconvs = 2;
  inject(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SYNC);
  CHECK_UINT(f.u.sync.ncur, ==, 2);
  CHECK_UINT(f.u.sync.cur[0].conv, ==, 3);
  CHECK_UINT(f.u.sync.cur[0].after, ==, 95);
  CHECK_UINT(f.u.sync.cur[1].conv, ==, 4);
  CHECK_UINT(f.u.sync.cur[1].after, ==, 0);
  proto_frame_cleanup(&f);
  teardown();
}

TEST(unknown_types_ignored_malformed_drops)
{
  static const uint8_t future[] = {0x81, 0xa1, 't', 0xa3, 'z', 'z', 'z'};
  static const uint8_t junk[] = {0xc1, 0x00, 0x01};

  setup();
  go_online();
  nev = 0;
  hc_conn_enter(c);
  hc_conn_on_message(c, future, sizeof future);
  hc_conn_leave(c);
  CHECK_INT(nev, ==, 0);
  CHECK_UINT(hc_conn_state(c), ==, HC_STATE_ONLINE);
  hc_conn_enter(c);
  hc_conn_on_message(c, junk, sizeof junk);
  hc_conn_leave(c);
  CHECK_UINT(hc_conn_state(c), ==, HC_STATE_OFFLINE);
  CHECK_INT(hc_conn_err(c), ==, PROTO_E_MALFORMED);
  teardown();
}

TEST(connection_error_frame_explains_the_close)
{
  setup();
  go_online();
  inject_error(0, PROTO_E_SHUTTING_DOWN);
  CHECK_UINT(count(HC_EV_ERROR), ==, 1);
  hc_conn_enter(c);
  hc_conn_down(c, -ECONNRESET);           /* the close that follows */
  hc_conn_leave(c);
  CHECK_INT(hc_conn_err(c), ==, PROTO_E_SHUTTING_DOWN);
  CHECK_UINT(hc_conn_state(c), ==, HC_STATE_OFFLINE);
  teardown();
}

TEST(logout_stops)
{
  struct proto_frame f;
  int n = 0;

  setup();
  go_online();
  proto_frame_init(&f, PROTO_T_LOGOUT);
  CHECK_INT(hc_request(c, &f, reply_cb, &n, NULL), ==, 0);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_LOGOUT);
  {
    uint64_t id = f.id;

    proto_frame_cleanup(&f);
    proto_frame_init(&f, PROTO_T_RESULT);
    f.id = id;
  }
  inject(&f);
  CHECK_INT(n, ==, 1);
  hc_conn_enter(c);
  hc_conn_down(c, 0);                     /* the server's close 1000 */
  hc_conn_leave(c);
  CHECK_UINT(hc_conn_state(c), ==, HC_STATE_STOPPED);
  teardown();
}

TEST(free_from_a_callback)
{
  struct proto_frame f;
  uint64_t sync_id;

  setup();
  ws_up();
  CHECK_UINT(pull_type(&f), ==, PROTO_T_LOGIN);
  inject_welcome(f.id, "t");
  proto_frame_cleanup(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SYNC);
  sync_id = f.id;
  proto_frame_cleanup(&f);
  nev = 0;
  free_on_msg = true;
  /* The callback of the first message frees the connection: the other two
   * are not delivered, and nothing is touched after the free. */
  inject_page(sync_id, 1, 1, 3);
  CHECK_INT(count(HC_EV_MSG), ==, 1);
  c = NULL;
  teardown();
}

TEST(state_survives_a_restart)
{
  char dir[600];
  struct hc_conn_config cfg = {.login = "alice", .password = "secret-pw"};
  struct proto_frame f;
  uint64_t oid;
  struct stat st;
  char dev[200];

  snprintf(dir, sizeof dir, "%s/state", test_tmpdir());
  cfg.state_dir = dir;
  setup_cfg(&cfg);
  go_online();                      /* the login's token is saved */
  CHECK(hc_conn_device(c) != NULL);
  snprintf(dev, sizeof dev, "%s", hc_conn_device(c));
  CHECK(strlen(dev) > 0);
  inject_msg(4, 1, "a");
  inject_msg(4, 2, "b");
  CHECK_INT(hc_send_text(c, 4, "unsent", 6, &oid, NULL), ==, 0);
  /* A second connection may not use the same directory. */
  {
    struct hc_conn *c2;
    CHECK_INT(hc_conn_new(ctx, &cfg, &c2), ==, -EBUSY);
  }
  teardown();                       /* flushes the cursors */

  snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/token");
  CHECK_INT(stat(dir, &st), ==, 0);
  CHECK_UINT(st.st_mode & 0777, ==, 0600);
  dir[strlen(dir) - 6] = '\0';

  cfg.password = NULL;              /* the stored token is enough */
  setup_cfg(&cfg);
  CHECK_UINT(hc_cursor_get(c, 4), ==, 2);
  CHECK_UINT(hc_outbox_count(c), ==, 1);
  ws_up();
  CHECK_UINT(pull_type(&f), ==, PROTO_T_HELLO);
  CHECK_MEM(f.u.hello.token.p, "tok-1", 5);
  /* The device id is kept, and is what hello sends. */
  CHECK_STR(hc_conn_device(c), dev);
  CHECK_UINT(f.u.hello.dev.len, ==, strlen(dev));
  CHECK_MEM(f.u.hello.dev.p, dev, strlen(dev));
  inject_welcome(f.id, NULL);
  proto_frame_cleanup(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SEND);
  CHECK_UINT(f.id, ==, HC_OID_BIT | oid);
  proto_frame_cleanup(&f);
  CHECK_UINT(pull_type(&f), ==, PROTO_T_SYNC);
  CHECK_UINT(f.u.sync.ncur, ==, 1);
  CHECK_UINT(f.u.sync.cur[0].after, ==, 2);
  proto_frame_cleanup(&f);
  teardown();
}

/* Several servers (more_urls): each lost connection or failed attempt
 * moves the next attempt to the next URL, round the list; a bad URL in
 * the list is refused like a bad `url`. */
TEST(failover_rotates_through_the_urls)
{
  const char *more[] = {"ws://10.0.0.2:8740/b", "ws://[::1]:9000/"};
  const char *bad[] = {"http://10.0.0.2/"};
  struct hc_conn_config cfg = {.login = "alice", .password = "secret-pw",
                               .more_urls = more, .n_more_urls = 2};
  struct hc_conn *c2 = NULL;

  setup_cfg(&cfg);
  CHECK_STR(c->host, "127.0.0.1");
  CHECK_INT(c->port, ==, 1);
  for (int round = 0; round < 2; round++) {
    c->state = HC_STATE_CONNECTING;     /* an attempt that fails */
    hc_conn_enter(c);
    hc_conn_down(c, -ECONNRESET);
    hc_conn_leave(c);
    CHECK_STR(c->host, round == 0 ? "10.0.0.2" : "::1");
    CHECK_STR(c->path, round == 0 ? "/b" : "/");
    CHECK_STR(c->hosthdr, round == 0 ? "10.0.0.2:8740" : "[::1]:9000");
  }
  c->state = HC_STATE_CONNECTING;
  hc_conn_enter(c);
  hc_conn_down(c, -ECONNRESET);
  hc_conn_leave(c);
  CHECK_STR(c->host, "127.0.0.1");
  cfg.more_urls = bad;
  cfg.n_more_urls = 1;
  CHECK_INT(hc_conn_new(ctx, &cfg, &c2), ==, -EINVAL);
  CHECK(c2 == NULL);
  teardown();
}

TEST_MAIN()
