/*
 * m_replay.c — `herald-bench replay`: a client reconnects M messages behind
 * and replays them.
 *
 * A sender (herald_client) first posts M messages to the conversation and
 * waits for their acks; then, --reps times, a fresh connection of the
 * receiver (a user whose only conversation this is, so nothing else
 * replays) starts with its cursor at last - M. herald_client sends `sync`
 * right after the welcome; the figure is the time from the welcome to the
 * M-th message delivered to the application (and to `synced`).
 */
#include "bench.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>

struct replay_run {
  struct pool pool;            /* the sender */
  uint64_t conv, missed;
  uint64_t acked, refused, last_seq;
  /* The receiver of the current repetition. */
  struct hc_conn *rc;
  uint64_t t_welcome, t_last, t_synced, got, bad;
  bool stopped;
  int err;
};

static void sender_event(struct pool *p, struct pool_conn *pc,
                         const struct hc_event *ev)
{
  struct replay_run *r = p->arg;

  (void)pc;
  if (ev->type == HC_EV_OUTBOX_DONE && ev->frame &&
      ev->frame->type == PROTO_T_ACK) {
    r->acked++;
    if (ev->frame->u.ack.seq > r->last_seq)
      r->last_seq = ev->frame->u.ack.seq;
  } else if (ev->type == HC_EV_OUTBOX_FAILED) {
    r->refused++;
    if (r->refused <= 3)
      bench_log("send refused: %s", hc_strerror(ev->err));
  }
}

static bool all_acked(void *arg)
{
  struct replay_run *r = arg;

  return r->acked + r->refused >= r->missed;
}

static void receiver_event(struct hc_conn *c, const struct hc_event *ev,
                           void *arg)
{
  struct replay_run *r = arg;
  uint64_t now = bench_mono_ns();

  (void)c;
  switch (ev->type) {
  case HC_EV_WELCOME:
    if (!r->t_welcome)
      r->t_welcome = now;
    break;
  case HC_EV_MSG:
    if (ev->msg->conv != r->conv) {
      r->bad++;
      break;
    }
    if (++r->got == r->missed)
      r->t_last = now;
    break;
  case HC_EV_SYNCED:
    if (!r->t_synced)
      r->t_synced = now;
    break;
  case HC_EV_STATE:
    if (ev->state == HC_STATE_OFFLINE || ev->state == HC_STATE_STOPPED) {
      r->stopped = true;
      r->err = ev->err;
    }
    break;
  default:
    break;
  }
}

static bool rep_done(void *arg)
{
  struct replay_run *r = arg;

  return (r->t_last && r->t_synced) || r->stopped;
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

  return x < y ? -1 : x > y;
}

int bench_cmd_replay(int argc, char **argv)
{
  const char *url = "ws://127.0.0.1:8740/", *tokens = NULL;
  const char *sender = NULL, *receiver = NULL;
  uint64_t conv = 0, missed = 10000, reps = 5, body = 100, server_pid = 0;
  const struct bench_opt opts[] = {
    {"url", OPT_STR, &url, "server URL (ws://127.0.0.1:8740/)"},
    {"tokens", OPT_STR, &tokens, "tokens file (from `login`)"},
    {"conv", OPT_U64, &conv, "the conversation"},
    {"sender", OPT_STR, &sender, "login that posts the messages"},
    {"receiver", OPT_STR, &receiver,
     "login that replays (a member of this conversation only)"},
    {"missed", OPT_U64, &missed, "messages behind (10000)"},
    {"reps", OPT_U64, &reps, "repetitions; the median is reported (5)"},
    {"body", OPT_U64, &body, "message body bytes (100)"},
    {"server-pid", OPT_U64, &server_pid, "heraldd's pid (unused; accepted)"},
    {NULL, 0, NULL, NULL}};
  struct bench_users users, sender_only;
  const struct bench_user *su, *ru;
  struct replay_run r;
  uint64_t *t_last = NULL, *t_sync = NULL, t0;
  unsigned done = 0;
  uv_loop_t loop;
  json_t *res;
  int rc = 1;

  if (bench_parse("replay", argc, argv, opts) != 0)
    return 2;
  if (!tokens || !conv || !sender || !receiver || !missed || !reps) {
    bench_log("--tokens, --conv, --sender and --receiver are required");
    return 2;
  }
  if (bench_users_load(tokens, &users) != 0)
    return 1;
  if (!(su = bench_users_find(&users, sender)) ||
      !(ru = bench_users_find(&users, receiver))) {
    bench_log("%s or %s is not in %s", sender, receiver, tokens);
    bench_users_free(&users);
    return 1;
  }
  sender_only.v = (struct bench_user *)su;
  sender_only.n = 1;
  memset(&r, 0, sizeof r);
  r.conv = conv;
  r.missed = missed;
  t_last = calloc(reps, sizeof *t_last);
  t_sync = calloc(reps, sizeof *t_sync);
  uv_loop_init(&loop);
  if (!t_last || !t_sync ||
      pool_init(&r.pool, &loop, url, &sender_only, 0, 1, 1) != 0) {
    bench_log("cannot set up");
    goto out;
  }
  r.pool.on_event = sender_event;
  r.pool.arg = &r;
  if (pool_grow(&r.pool, 1, 30000) != 0) {
    bench_log("the sender did not connect");
    goto out;
  }

  bench_log("posting %llu messages", (unsigned long long)missed);
  t0 = bench_mono_ns();
  for (uint64_t i = 0; i < missed; i++) {
    char buf[4096];
    size_t n = bench_body(buf, sizeof buf, body, bench_wall_ns(), i);
    int e = hc_send_text(r.pool.v[0].c, conv, buf, n, NULL, NULL);

    if (e != 0) {
      bench_log("cannot queue send %llu: %s", (unsigned long long)i,
                hc_strerror(e));
      goto out;
    }
  }
  bench_run_until(&loop, all_acked, &r, 300000);
  if (r.acked != missed || r.last_seq < missed) {
    bench_log("only %llu of %llu sends acknowledged",
              (unsigned long long)r.acked, (unsigned long long)missed);
    goto out;
  }
  bench_log("posted in %.2f s; last seq %llu",
            (double)(bench_mono_ns() - t0) / 1e9,
            (unsigned long long)r.last_seq);

  for (unsigned k = 0; k < reps; k++) {
    struct hc_conn_config cfg;
    int e;

    memset(&cfg, 0, sizeof cfg);
    cfg.url = url;
    cfg.token = ru->token;
    cfg.client_name = "herald-bench";
    cfg.on_event = receiver_event;
    cfg.arg = &r;
    r.t_welcome = r.t_last = r.t_synced = r.got = r.bad = 0;
    r.stopped = false;
    if ((e = hc_conn_new(r.pool.ctx, &cfg, &r.rc)) != 0 ||
        (e = hc_cursor_set(r.rc, conv, r.last_seq - missed)) != 0 ||
        (e = hc_conn_start(r.rc)) != 0) {
      bench_log("receiver: %s", hc_strerror(e));
      hc_conn_free(r.rc);
      goto out;
    }
    bench_run_until(&loop, rep_done, &r, 120000);
    hc_conn_free(r.rc);
    r.rc = NULL;
    if (!r.t_last || !r.t_synced || r.got != missed || r.bad) {
      bench_log("repetition %u: %llu of %llu messages (%llu foreign)%s%s", k,
                (unsigned long long)r.got, (unsigned long long)missed,
                (unsigned long long)r.bad, r.stopped ? ", dropped: " : "",
                r.stopped ? hc_strerror(r.err) : "");
      continue;
    }
    t_last[done] = r.t_last - r.t_welcome;
    t_sync[done] = r.t_synced - r.t_welcome;
    bench_log("repetition %u: %.1f ms to the last message, %.1f ms to synced",
              k, t_last[done] / 1e6, t_sync[done] / 1e6);
    done++;
    bench_run_until(&loop, NULL, NULL, 200);   /* let the server settle */
  }
  if (!done)
    goto out;
  qsort(t_last, done, sizeof *t_last, cmp_u64);
  qsort(t_sync, done, sizeof *t_sync, cmp_u64);
  res = bench_result_new("replay");
  json_object_set_new(res, "impl", json_string("herald"));
  json_object_set_new(res, "missed", json_integer((json_int_t)missed));
  json_object_set_new(res, "reps", json_integer(done));
  bench_result_num(res, "replay_ms", t_last[done / 2] / 1e6, 1);
  bench_result_num(res, "replay_min_ms", t_last[0] / 1e6, 1);
  bench_result_num(res, "replay_max_ms", t_last[done - 1] / 1e6, 1);
  bench_result_num(res, "synced_ms", t_sync[done / 2] / 1e6, 1);
  bench_result_num(res, "msgs_per_s", missed / (t_last[done / 2] / 1e9), 0);
  bench_result_emit(res);
  rc = done == reps ? 0 : 1;
out:
  pool_free(&r.pool);
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  free(t_last);
  free(t_sync);
  bench_users_free(&users);
  return rc;
}
