/*
 * m_sends.c — `herald-bench sends`: durable sends. S senders post to G
 * groups (sender s's k-th message goes to group (s + k) mod G); the figure
 * is acknowledged sends per second — an ack means committed to PostgreSQL
 * (SPEC 4.1) — and send->ack latency, at a paced offered rate and at
 * saturation (each sender keeps W sends in flight).
 *
 * The senders are send-only devices: they authenticate with `hello` and
 * never `sync`, so the server delivers nothing to them and what is measured
 * is the durable send path, not fan-out (measured by `fanout`). That is why
 * this mode speaks the protocol over a raw WebSocket (wsc.c, with the
 * protocol codec) instead of herald_client: the library always syncs after
 * its welcome, which subscribes the device to live delivery, so 64 online
 * members of one hot group would turn 15,000 sends/s into 960,000
 * deliveries/s and measure fan-out instead. (herald_client would need a
 * "send-only" option for this; see the benchmark's notes.)
 */
#include "bench.h"
#include "proto.h"
#include "wsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RING 65536u
#define HELLO_ID 1
#define PACED_CAP 4096u          /* in flight per sender, paced phases */

struct sender {
  struct sends_run *run;
  struct wsc *w;
  unsigned idx;
  const struct bench_user *u;
  bool ready, dead;
  uint64_t next_id;
  uint64_t inflight;
  uint64_t k;                  /* messages issued */
  uint64_t *t_issue;           /* wall ns, by request id % RING */
};

struct sends_run {
  uv_loop_t loop;
  struct wsc_ctx *ctx;
  struct wsc_config wcfg;
  char host[256], path[256];
  struct sender *v;
  unsigned n, settled, ready, failed, drops;
  const uint64_t *convs;
  int nconvs;
  size_t body_len;
  char runid[32];
  struct proto_buf pb;
  /* The running phase. */
  double rate;
  uint64_t window;
  bool sending;
  uint64_t t0, win0, win1, issued, issued0, acked_total;
  uint64_t win_acked, errors, dups, stalls;
  char first_error[64];
  unsigned rr;
  struct hist h;
  uv_timer_t tick;
  long server_pid;
  struct cpu_probe cpu;
  bool cpu_started;
  json_t *r;
};

static void sender_fail(struct sender *s, const char *why)
{
  struct sends_run *r = s->run;

  if (s->dead)
    return;
  if (s->ready) {
    r->drops++;
    r->ready--;
    bench_log("sender %u dropped: %s", s->idx, why);
  } else {
    r->failed++;
    r->settled++;
    bench_log("sender %u failed: %s", s->idx, why);
  }
  s->dead = true;
  s->ready = false;
  wsc_free(s->w);
  s->w = NULL;
}

static int send_frame(struct sender *s, const struct proto_frame *f)
{
  struct sends_run *r = s->run;

  if (proto_encode(f, 0, &r->pb) != 0)
    return -1;
  return wsc_send(s->w, proto_buf_frame(&r->pb), proto_buf_size(&r->pb));
}

static void on_open(struct wsc *w)
{
  struct sender *s = wsc_user(w);
  struct proto_frame f;
  char dev[64];

  snprintf(dev, sizeof dev, "bench-send-%ld-%u", (long)getpid(), s->idx);
  proto_frame_init(&f, PROTO_T_HELLO);
  f.id = HELLO_ID;
  f.u.hello.token = (struct proto_str){s->u->token, strlen(s->u->token)};
  f.u.hello.dev = (struct proto_str){dev, strlen(dev)};
  f.u.hello.client = (struct proto_str){"herald-bench", 12};
  if (send_frame(s, &f) != 0)
    sender_fail(s, "cannot send hello");
}

static int issue(struct sender *s, uint64_t now)
{
  struct sends_run *r = s->run;
  struct proto_frame f;
  char cmid[64], body[4096];
  uint64_t id = ++s->next_id;

  snprintf(cmid, sizeof cmid, "%s-%u-%llu", r->runid, s->idx,
           (unsigned long long)s->k);
  proto_frame_init(&f, PROTO_T_SEND);
  f.id = id;
  f.u.send.cmid = (struct proto_str){cmid, strlen(cmid)};
  f.u.send.conv = r->convs[(s->idx + s->k) % (uint64_t)r->nconvs];
  f.u.send.kind = PROTO_KIND_TEXT;
  f.u.send.body = (struct proto_str){
      body, bench_body(body, sizeof body, r->body_len, now, r->issued)};
  if (send_frame(s, &f) != 0) {
    sender_fail(s, "cannot queue a send");
    return -1;
  }
  s->t_issue[id % RING] = now;
  s->k++;
  s->inflight++;
  r->issued++;
  return 0;
}

/* Saturation: top this sender up to the window. */
static void top_up(struct sender *s)
{
  struct sends_run *r = s->run;
  uint64_t now = bench_wall_ns();

  while (r->sending && r->rate <= 0 && s->ready && s->inflight < r->window)
    if (issue(s, now) != 0)
      break;
}

static void on_reply(struct sender *s, const struct proto_frame *f)
{
  struct sends_run *r = s->run;
  uint64_t now = bench_wall_ns(), t;

  if (f->id == HELLO_ID) {
    if (f->type != PROTO_T_WELCOME) {
      sender_fail(s, "hello refused (is the token valid?)");
      return;
    }
    s->ready = true;
    r->ready++;
    r->settled++;
    return;
  }
  if (f->type != PROTO_T_ACK && f->type != PROTO_T_ERROR)
    return;                    /* nothing else is expected */
  if (s->inflight)
    s->inflight--;
  t = s->t_issue[f->id % RING];
  if (f->type == PROTO_T_ERROR) {
    r->errors++;
    if (!r->first_error[0])
      snprintf(r->first_error, sizeof r->first_error, "%.*s",
               (int)f->u.error.name.len, f->u.error.name.p);
  } else {
    r->acked_total++;
    if (f->u.ack.dup)
      r->dups++;
    if (now >= r->win0 && now < r->win1)
      r->win_acked++;
    if (t >= r->win0 && t < r->win1)
      hist_add(&r->h, now > t ? (now - t) / 1000 : 0);
  }
  top_up(s);
}

static void on_data(struct wsc *w, const uint8_t *p, size_t len)
{
  struct sender *s = wsc_user(w);
  struct proto_limits lim = {.max_frame = 1u << 20,
                             .accept = PROTO_FROM_SERVER};
  struct proto_frame f;

  if (proto_decode(p, len, &lim, &f, NULL) == 0) {
    if (f.id)
      on_reply(s, &f);
    else if (f.type == PROTO_T_ERROR)
      bench_log("sender %u: connection error %.*s", s->idx,
                (int)f.u.error.name.len, f.u.error.name.p);
  }
  proto_frame_cleanup(&f);
}

static void on_closed(struct wsc *w, const char *why)
{
  struct sender *s = wsc_user(w);

  s->w = NULL;
  wsc_free(w);
  if (!s->dead)
    sender_fail(s, why);
}

static const struct wsc_handler handler = {on_open, on_data, on_closed};

static bool settled(void *arg)
{
  struct sends_run *r = arg;

  return r->settled == r->n;
}

/* Paced phases: the next ready sender with room, round robin. */
static struct sender *next_sender(struct sends_run *r)
{
  for (unsigned i = 0; i < r->n; i++) {
    struct sender *s = &r->v[(r->rr + i) % r->n];

    if (s->ready && s->inflight < PACED_CAP) {
      r->rr = (r->rr + i + 1) % r->n;
      return s;
    }
  }
  return NULL;
}

static void tick_cb(uv_timer_t *t)
{
  struct sends_run *r = t->data;
  uint64_t now = bench_wall_ns();

  if (!r->cpu_started && now >= r->win0) {
    cpu_probe_start(&r->cpu, r->server_pid);
    r->cpu_started = true;
  }
  if (r->sending && now >= r->win1) {
    r->sending = false;
    if (r->cpu_started)
      cpu_probe_result(&r->cpu, r->r);
    return;
  }
  if (!r->sending)
    return;
  if (r->rate > 0) {
    uint64_t due = r->issued0 + (uint64_t)(r->rate * (double)(now - r->t0) / 1e9);

    while (r->issued < due) {
      struct sender *s = next_sender(r);

      if (!s) {
        r->stalls++;
        break;
      }
      if (issue(s, now) != 0)
        break;
    }
  } else {
    for (unsigned i = 0; i < r->n; i++)
      top_up(&r->v[i]);
  }
}

static bool phase_over(void *arg)
{
  return !((struct sends_run *)arg)->sending;
}

static bool drained(void *arg)
{
  struct sends_run *r = arg;

  for (unsigned i = 0; i < r->n; i++)
    if (r->v[i].ready && r->v[i].inflight)
      return false;
  return true;
}

static void phase(struct sends_run *r, double rate, double warmup_s,
                  double dur_s, double drain_s, json_t *res)
{
  uint64_t left = 0;

  r->rate = rate;
  r->t0 = bench_wall_ns();
  r->issued0 = r->issued;
  r->win0 = r->t0 + (uint64_t)(warmup_s * 1e9);
  r->win1 = r->win0 + (uint64_t)(dur_s * 1e9);
  r->win_acked = r->errors = r->dups = r->stalls = 0;
  r->first_error[0] = '\0';
  r->cpu_started = false;
  r->r = res;
  hist_reset(&r->h);
  r->sending = true;
  uv_timer_start(&r->tick, tick_cb, 1, 1);
  bench_run_until(&r->loop, phase_over, r,
                  (int64_t)((warmup_s + dur_s + 60) * 1000));
  r->sending = false;
  r->r = NULL;
  uv_timer_stop(&r->tick);
  bench_run_until(&r->loop, drained, r, (int64_t)(drain_s * 1000));
  for (unsigned i = 0; i < r->n; i++) {
    left += r->v[i].ready ? r->v[i].inflight : 0;
    r->v[i].inflight = 0;      /* abandoned: not waited for again */
  }

  json_object_set_new(res, "impl", json_string("herald"));
  json_object_set_new(res, "senders", json_integer(r->n));
  json_object_set_new(res, "groups", json_integer(r->nconvs));
  json_object_set_new(res, "load", json_string(rate > 0 ? "paced" : "sat"));
  if (rate > 0)
    bench_result_num(res, "offered_per_s", rate, 1);
  else
    json_object_set_new(res, "window", json_integer((json_int_t)r->window));
  bench_result_num(res, "acked_per_s", (double)r->win_acked / dur_s, 0);
  hist_result(&r->h, res, "");
  json_object_set_new(res, "errors", json_integer((json_int_t)r->errors));
  if (r->first_error[0])
    json_object_set_new(res, "first_error", json_string(r->first_error));
  json_object_set_new(res, "dups", json_integer((json_int_t)r->dups));
  json_object_set_new(res, "stalls", json_integer((json_int_t)r->stalls));
  json_object_set_new(res, "unanswered", json_integer((json_int_t)left));
  json_object_set_new(res, "drops", json_integer(r->drops));
}

static int parse_url(struct sends_run *r, const char *url)
{
  int port = 0, n = 0;

  if (sscanf(url, "ws://%255[^:/]:%d%n", r->host, &port, &n) != 2 ||
      port <= 0 || port > 65535)
    return -1;
  snprintf(r->path, sizeof r->path, "%s", url[n] ? url + n : "/");
  r->wcfg.host = r->host;
  r->wcfg.port = port;
  r->wcfg.path = r->path;
  return 0;
}

int bench_cmd_sends(int argc, char **argv)
{
  const char *url = "ws://127.0.0.1:8740/", *tokens = NULL, *convs_s = NULL;
  const char *loads = "5000,sat";
  uint64_t senders = 64, first = 0, window = 32, body = 100, server_pid = 0;
  double warmup = 2, duration = 10, drain = 15;
  const struct bench_opt opts[] = {
    {"url", OPT_STR, &url, "server URL (ws://127.0.0.1:8740/)"},
    {"tokens", OPT_STR, &tokens, "tokens file (from `login`)"},
    {"convs", OPT_STR, &convs_s,
     "comma-separated conversation ids; every sender must be a member"},
    {"senders", OPT_U64, &senders, "sender connections (64)"},
    {"first", OPT_U64, &first, "index of the first sender in the tokens file"},
    {"loads", OPT_STR, &loads,
     "phases: total offered sends/s, or sat (5000,sat)"},
    {"window", OPT_U64, &window, "saturation: sends in flight per sender (32)"},
    {"body", OPT_U64, &body, "message body bytes (100)"},
    {"warmup", OPT_DBL, &warmup, "seconds before measuring (2)"},
    {"duration", OPT_DBL, &duration, "seconds measured per phase (10)"},
    {"drain", OPT_DBL, &drain, "seconds to wait for the last acks (15)"},
    {"server-pid", OPT_U64, &server_pid, "heraldd's pid, for its CPU use"},
    {NULL, 0, NULL, NULL}};
  static uint64_t convs[4096];
  struct bench_users users;
  struct sends_run *r;
  const char *p;
  int nconvs, rc = 1;

  if (bench_parse("sends", argc, argv, opts) != 0)
    return 2;
  if (!tokens || !convs_s || !senders || duration <= 0 ||
      (nconvs = bench_parse_list(convs_s, convs, 4096)) <= 0) {
    bench_log("--tokens, --convs (a list of ids) and a positive --duration "
              "are required");
    return 2;
  }
  if (window == 0 || window > PACED_CAP)
    window = 32;
  if (bench_users_load(tokens, &users) != 0)
    return 1;
  if (first + senders > users.n) {
    bench_log("the tokens file has %zu users; %llu needed", users.n,
              (unsigned long long)(first + senders));
    bench_users_free(&users);
    return 1;
  }
  if (!(r = calloc(1, sizeof *r)) || !(r->v = calloc(senders, sizeof *r->v))) {
    free(r);
    bench_users_free(&users);
    return 1;
  }
  if (parse_url(r, url) != 0) {
    bench_log("bad --url %s", url);
    goto out_free;
  }
  r->wcfg.subprotocol = PROTO_SUBPROTOCOL;
  r->wcfg.max_message = 1u << 20;
  r->n = (unsigned)senders;
  r->convs = convs;
  r->nconvs = nconvs;
  r->body_len = body;
  r->window = window;
  r->server_pid = (long)server_pid;
  snprintf(r->runid, sizeof r->runid, "b%lx%llx", (long)getpid(),
           (unsigned long long)(bench_wall_ns() / 1000));
  proto_buf_init(&r->pb);
  bench_raise_nofile();
  uv_loop_init(&r->loop);
  uv_timer_init(&r->loop, &r->tick);
  r->tick.data = r;
  if (wsc_ctx_new(&r->loop, &r->ctx) != 0) {
    bench_log("cannot set up");
    goto out;
  }
  for (unsigned i = 0; i < r->n; i++) {
    struct sender *s = &r->v[i];

    s->run = r;
    s->idx = i;
    s->u = &users.v[first + i];
    s->next_id = HELLO_ID;
    if (!(s->t_issue = calloc(RING, sizeof *s->t_issue)) ||
        !(s->w = wsc_connect(r->ctx, &r->wcfg, &handler, s))) {
      s->dead = true;
      r->failed++;
      r->settled++;
    }
  }
  bench_run_until(&r->loop, settled, r, 60000);
  if (r->ready != r->n) {
    bench_log("only %u of %u senders authenticated; giving up", r->ready,
              r->n);
    goto out;
  }
  for (p = loads; p && *p;) {
    const char *end = strchr(p, ',');
    char word[32];
    size_t len = end ? (size_t)(end - p) : strlen(p);
    double rate = 0;
    json_t *res;

    if (len == 0 || len >= sizeof word)
      break;
    memcpy(word, p, len);
    word[len] = '\0';
    p = end ? end + 1 : NULL;
    if (strcmp(word, "sat") != 0) {
      char *e;

      rate = strtod(word, &e);
      if (*e || rate <= 0) {
        bench_log("bad load \"%s\"", word);
        goto out;
      }
      bench_log("phase %.0f sends/s offered, %d groups", rate, nconvs);
    } else {
      bench_log("phase saturation (%llu in flight per sender), %d groups",
                (unsigned long long)window, nconvs);
    }
    res = bench_result_new("sends");
    phase(r, rate, warmup, duration, drain, res);
    bench_result_emit(res);
  }
  rc = 0;
out:
  for (unsigned i = 0; i < r->n; i++) {
    wsc_free(r->v[i].w);
    r->v[i].w = NULL;
  }
  bench_run_until(&r->loop, NULL, NULL, 100);
  uv_close((uv_handle_t *)&r->tick, NULL);
  wsc_ctx_free(r->ctx);
  uv_run(&r->loop, UV_RUN_NOWAIT);
  uv_loop_close(&r->loop);
  proto_buf_cleanup(&r->pb);
out_free:
  for (unsigned i = 0; i < r->n; i++)
    free(r->v[i].t_issue);
  free(r->v);
  free(r);
  bench_users_free(&users);
  return rc;
}
