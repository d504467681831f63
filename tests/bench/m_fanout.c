/*
 * m_fanout.c — `herald-bench fanout`: one sender to a group of N online
 * members, through herald_client (the library every Herald client uses).
 *
 * All N members are connected and synced before the first message; member
 * 0 is the sender, and its own device receives each message too (as every
 * device of every member does), so one message is N deliveries. See fan.c
 * for the load shape and how the figures are taken.
 *
 * --client raw replaces herald_client by a bare protocol client (wsc.c and
 * the protocol codec: hello, conv_list, sync from the newest message of
 * every conversation, then live `msg` frames decoded and counted). The two
 * differ only in the client library's own work per message, so their
 * difference is what herald_client costs, and `raw` is the same kind of
 * client as the MQTT side's. On a 2-core machine the load client competes
 * with the server for CPU, so the lighter client leaves more to the server.
 */
#include "bench.h"
#include "pool.h"
#include "wsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAW_HELLO 1
#define RAW_LIST 2
#define RAW_SYNC 3

struct rawm {
  struct fanout_run *run;
  struct wsc *w;
  unsigned idx;
  const struct bench_user *u;
  bool ready, dead;
  uint64_t next_id;
};

struct fanout_run {
  bool raw;
  struct pool pool;            /* herald_client members */
  struct wsc_ctx *ctx;         /* raw members */
  struct wsc_config wcfg;
  char host[256], path[256];
  struct rawm *m;
  unsigned started, settled, ready, failed, raw_drops;
  struct proto_buf pb;
  struct fan fan;
  uint64_t conv;
  unsigned members;
  uint64_t replayed, outbox_failed;
  char runid[32];
  int last_err;
  uint64_t nodes;              /* --nodes: recorded with the figures */
};

static int raw_send_frame(struct rawm *m, const struct proto_frame *f)
{
  if (proto_encode(f, 0, &m->run->pb) != 0)
    return -1;
  return wsc_send(m->w, proto_buf_frame(&m->run->pb),
                  proto_buf_size(&m->run->pb));
}

static int send_msg(void *impl, const char *body, size_t len)
{
  struct fanout_run *r = impl;
  int rc;

  if (r->raw) {
    struct rawm *m = &r->m[0];
    struct proto_frame f;
    char cmid[64];

    if (!m->ready)
      return -1;
    proto_frame_init(&f, PROTO_T_SEND);
    f.id = ++m->next_id;
    snprintf(cmid, sizeof cmid, "%s-%llu", r->runid,
             (unsigned long long)f.id);
    f.u.send.cmid = (struct proto_str){cmid, strlen(cmid)};
    f.u.send.conv = r->conv;
    f.u.send.kind = PROTO_KIND_TEXT;
    f.u.send.body = (struct proto_str){body, len};
    return raw_send_frame(m, &f) == 0 ? 0 : -1;
  }
  rc = hc_send_text(r->pool.v[0].c, r->conv, body, len, NULL, NULL);
  if (rc != 0)
    r->last_err = rc;
  return rc == 0 ? 0 : -1;
}

static const struct fan_ops ops = {send_msg};

/* ---- raw members ---- */

static void raw_fail(struct rawm *m, const char *why)
{
  struct fanout_run *r = m->run;

  if (m->dead)
    return;
  if (m->ready) {
    r->raw_drops++;
    r->ready--;
    bench_log("member %u dropped: %s", m->idx, why);
  } else {
    r->failed++;
    r->settled++;
    bench_log("member %u failed: %s", m->idx, why);
  }
  m->dead = true;
  m->ready = false;
  wsc_free(m->w);
  m->w = NULL;
}

static void raw_open(struct wsc *w)
{
  struct rawm *m = wsc_user(w);
  struct proto_frame f;
  char dev[64];

  snprintf(dev, sizeof dev, "bench-raw-%ld-%u", (long)getpid(), m->idx);
  proto_frame_init(&f, PROTO_T_HELLO);
  f.id = RAW_HELLO;
  f.u.hello.token = (struct proto_str){m->u->token, strlen(m->u->token)};
  f.u.hello.dev = (struct proto_str){dev, strlen(dev)};
  f.u.hello.client = (struct proto_str){"herald-bench-raw", 16};
  if (raw_send_frame(m, &f) != 0)
    raw_fail(m, "cannot send hello");
}

/* Sync with a cursor at the newest message of every conversation, so that
 * nothing old is replayed and everything new arrives live. */
static void raw_sync(struct rawm *m, const struct proto_conv_list_result *l)
{
  struct proto_cursor *cur = calloc(l->nconvs ? l->nconvs : 1, sizeof *cur);
  struct proto_frame f;

  if (!cur) {
    raw_fail(m, "out of memory");
    return;
  }
  for (size_t i = 0; i < l->nconvs; i++) {
    cur[i].conv = l->convs[i].conv;
    cur[i].after = l->convs[i].last;
  }
  proto_frame_init(&f, PROTO_T_SYNC);
  f.id = RAW_SYNC;
  f.u.sync.cur = cur;
  f.u.sync.ncur = l->nconvs;
  if (raw_send_frame(m, &f) != 0)
    raw_fail(m, "cannot send sync");
  free(cur);
}

static void raw_data(struct wsc *w, const uint8_t *p, size_t len)
{
  struct rawm *m = wsc_user(w);
  struct fanout_run *r = m->run;
  struct proto_limits lim = {.max_frame = 1u << 20,
                             .accept = PROTO_FROM_SERVER};
  struct proto_frame f;

  if (proto_decode(p, len, &lim, &f, NULL) != 0) {
    proto_frame_cleanup(&f);
    raw_fail(m, "undecodable frame");
    return;
  }
  if (f.type == PROTO_T_MSG && !f.id) {
    if (f.u.msg.conv == r->conv)
      fan_delivery(&r->fan, f.u.msg.body.p, f.u.msg.body.len);
  } else if (f.type == PROTO_T_ERROR &&
             (f.id == RAW_HELLO || f.id == RAW_LIST || f.id == RAW_SYNC ||
              !f.id)) {
    bench_log("member %u: error %.*s", m->idx, (int)f.u.error.name.len,
              f.u.error.name.p);
    raw_fail(m, "refused");
  } else if (f.id == RAW_HELLO && f.type == PROTO_T_WELCOME) {
    struct proto_frame l;

    proto_frame_init(&l, PROTO_T_CONV_LIST);
    l.id = RAW_LIST;
    if (raw_send_frame(m, &l) != 0)
      raw_fail(m, "cannot send conv_list");
  } else if (f.id == RAW_LIST && f.type == PROTO_T_CONV_LIST_RESULT) {
    raw_sync(m, &f.u.conv_list_result);
  } else if (f.id == RAW_SYNC && f.type == PROTO_T_SYNCED) {
    m->ready = true;
    r->ready++;
    r->settled++;
  } else if (f.id == RAW_SYNC && f.type == PROTO_T_PAGE) {
    r->replayed += f.u.page.nmsgs;    /* not expected: cursors are current */
  }
  proto_frame_cleanup(&f);
}

static void raw_closed(struct wsc *w, const char *why)
{
  struct rawm *m = wsc_user(w);

  m->w = NULL;
  wsc_free(w);
  raw_fail(m, why);
}

static const struct wsc_handler raw_handler = {raw_open, raw_data,
                                               raw_closed};

static void raw_starter(uv_timer_t *t)
{
  struct fanout_run *r = t->data;

  while (r->started < r->members && r->started - r->settled < 256) {
    struct rawm *m = &r->m[r->started];

    m->idx = r->started++;
    if (!(m->w = wsc_connect(r->ctx, &r->wcfg, &raw_handler, m))) {
      m->dead = true;
      r->failed++;
      r->settled++;
    }
  }
  if (r->started == r->members)
    uv_timer_stop(t);
}

static bool raw_settled(void *arg)
{
  struct fanout_run *r = arg;

  return r->settled == r->members;
}

static int raw_connect(struct fanout_run *r, uv_loop_t *loop,
                       const char *url, const struct bench_users *users,
                       size_t first, uint64_t timeout_s)
{
  uv_timer_t starter;
  int port = 0, n = 0;

  if (sscanf(url, "ws://%255[^:/]:%d%n", r->host, &port, &n) != 2 ||
      port <= 0 || port > 65535) {
    bench_log("bad --url %s", url);
    return -1;
  }
  snprintf(r->path, sizeof r->path, "%s", url[n] ? url + n : "/");
  r->wcfg.host = r->host;
  r->wcfg.port = port;
  r->wcfg.path = r->path;
  r->wcfg.subprotocol = PROTO_SUBPROTOCOL;
  r->wcfg.max_message = 2u << 20;
  snprintf(r->runid, sizeof r->runid, "f%lx%llx", (long)getpid(),
           (unsigned long long)(bench_wall_ns() / 1000));
  proto_buf_init(&r->pb);
  if (wsc_ctx_new(loop, &r->ctx) != 0 ||
      !(r->m = calloc(r->members, sizeof *r->m)))
    return -1;
  for (unsigned i = 0; i < r->members; i++) {
    r->m[i].run = r;
    r->m[i].u = &users->v[first + i];
    r->m[i].next_id = RAW_SYNC;
  }
  uv_timer_init(loop, &starter);
  starter.data = r;
  uv_timer_start(&starter, raw_starter, 0, 2);
  bench_run_until(loop, raw_settled, r, (int64_t)timeout_s * 1000);
  uv_timer_stop(&starter);
  uv_close((uv_handle_t *)&starter, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return r->ready == r->members ? 0 : -1;
}

static void raw_free(struct fanout_run *r, uv_loop_t *loop)
{
  if (r->m)
    for (unsigned i = 0; i < r->started; i++)
      wsc_free(r->m[i].w);
  bench_run_until(loop, NULL, NULL, 100);
  if (r->ctx)
    wsc_ctx_free(r->ctx);
  free(r->m);
  proto_buf_cleanup(&r->pb);
}

static void on_msg(struct pool *p, struct pool_conn *pc,
                   const struct proto_msg *m, bool replay)
{
  struct fanout_run *r = p->arg;

  (void)pc;
  if (replay)
    r->replayed++;
  fan_delivery(&r->fan, m->body.p, m->body.len);
}

static void on_event(struct pool *p, struct pool_conn *pc,
                     const struct hc_event *ev)
{
  struct fanout_run *r = p->arg;

  (void)pc;
  if (ev->type == HC_EV_OUTBOX_FAILED) {
    r->outbox_failed++;
    if (r->outbox_failed <= 3)
      bench_log("send refused: %s", hc_strerror(ev->err));
  }
}

static void fill(void *arg, json_t *res)
{
  struct fanout_run *r = arg;

  json_object_set_new(res, "impl", json_string("herald"));
  json_object_set_new(res, "client",
                      json_string(r->raw ? "raw" : "herald_client"));
  json_object_set_new(res, "group", json_integer(r->members));
  if (r->nodes)
    json_object_set_new(res, "nodes", json_integer((json_int_t)r->nodes));
  json_object_set_new(res, "drops",
                      json_integer((json_int_t)(r->pool.drops + r->raw_drops)));
  json_object_set_new(res, "replayed", json_integer((json_int_t)r->replayed));
  json_object_set_new(res, "refused",
                      json_integer((json_int_t)r->outbox_failed));
}

int bench_cmd_fanout(int argc, char **argv)
{
  const char *url = "ws://127.0.0.1:8740/", *tokens = NULL;
  const char *loads = "sat,half", *client = "hc";
  uint64_t conv = 0, group = 0, first = 0, window = 0, body = 100;
  uint64_t server_pid = 0, connect_timeout = 300, nodes = 0;
  const char *url2 = NULL;
  double warmup = 2, duration = 10, drain = 15;
  const struct bench_opt opts[] = {
    {"url", OPT_STR, &url, "server URL (ws://127.0.0.1:8740/)"},
    {"url2", OPT_STR, &url2,
     "a second node of the same deployment: every other receiving member "
     "connects there (the sender stays on --url); herald_client only"},
    {"nodes", OPT_U64, &nodes,
     "record \"nodes\": N with the figures (the several-nodes scenario)"},
    {"tokens", OPT_STR, &tokens, "tokens file (from `login`)"},
    {"conv", OPT_U64, &conv, "the group's conversation id"},
    {"group-size", OPT_U64, &group,
     "members to connect: tokens first..first+N-1 (the first one sends)"},
    {"first", OPT_U64, &first, "index of the first member in the tokens file"},
    {"loads", OPT_STR, &loads,
     "phases: sat, half (of the saturation rate) or msgs/s (sat,half)"},
    {"client", OPT_STR, &client,
     "members: hc (herald_client) or raw (bare protocol client) (hc)"},
    {"window", OPT_U64, &window,
     "saturation: messages not yet delivered to all members (0: about "
     "16384 deliveries' worth, 8..1024)"},
    {"body", OPT_U64, &body, "message body bytes (100)"},
    {"warmup", OPT_DBL, &warmup, "seconds before measuring (2)"},
    {"duration", OPT_DBL, &duration, "seconds measured per phase (10)"},
    {"drain", OPT_DBL, &drain, "seconds to wait for stragglers (15)"},
    {"server-pid", OPT_U64, &server_pid, "heraldd's pid, for its CPU use"},
    {"connect-timeout", OPT_U64, &connect_timeout,
     "seconds for all members to connect and sync (300)"},
    {NULL, 0, NULL, NULL}};
  struct bench_users users;
  struct fanout_run r;
  uv_loop_t loop;
  int rc = 1;

  if (bench_parse("fanout", argc, argv, opts) != 0)
    return 2;
  if (!tokens || !conv || !group || duration <= 0) {
    bench_log("--tokens, --conv, --group-size and a positive --duration are "
              "required");
    return 2;
  }
  if (bench_users_load(tokens, &users) != 0)
    return 1;
  if (first + group > users.n) {
    bench_log("the tokens file has %zu users; %llu needed", users.n,
              (unsigned long long)(first + group));
    return 1;
  }
  if (strcmp(client, "hc") != 0 && strcmp(client, "raw") != 0) {
    bench_log("--client is hc or raw");
    bench_users_free(&users);
    return 2;
  }
  bench_raise_nofile();
  memset(&r, 0, sizeof r);
  r.raw = strcmp(client, "raw") == 0;
  r.conv = conv;
  r.members = (unsigned)group;
  r.nodes = nodes;
  if (url2 && r.raw) {
    bench_log("--url2 needs --client hc");
    bench_users_free(&users);
    return 2;
  }
  uv_loop_init(&loop);
  if (fan_init(&r.fan, &loop, &ops, &r, (unsigned)group, body, window) != 0 ||
      (!r.raw &&
       pool_init(&r.pool, &loop, url, &users, first, group, group) != 0)) {
    bench_log("cannot set up");
    goto out;
  }
  r.fan.server_pid = (long)server_pid;
  bench_log("connecting %llu members (%s)", (unsigned long long)group,
            r.raw ? "raw" : "herald_client");
  if (r.raw) {
    if (raw_connect(&r, &loop, url, &users, first, connect_timeout) != 0) {
      bench_log("not every member connected; giving up");
      goto out;
    }
  } else {
    r.pool.conv = conv;
    r.pool.url2 = url2;
    r.pool.on_msg = on_msg;
    r.pool.on_event = on_event;
    r.pool.arg = &r;
    if (pool_grow(&r.pool, group, (int64_t)connect_timeout * 1000) != 0) {
      bench_log("not every member connected; giving up");
      goto out;
    }
  }
  if (fan_run_loads(&r.fan, loads, warmup, duration, drain, fill, &r) != 0) {
    bench_log("bad --loads \"%s\"", loads);
    goto out;
  }
  rc = 0;
out:
  if (r.raw)
    raw_free(&r, &loop);
  else
    pool_free(&r.pool);
  fan_cleanup(&r.fan);
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  bench_users_free(&users);
  return rc;
}
