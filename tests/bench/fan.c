/*
 * fan.c — the fan-out load shape, independent of the transport (Herald
 * through herald_client, or MQTT), so that both are measured the same way.
 *
 * Every message body carries its send time (CLOCK_REALTIME, shared by all
 * processes of the machine) and its index; a delivery's latency is its
 * receive time minus that. The measurement window opens after a warm-up:
 * deliveries/s counts deliveries received inside the window, latencies are
 * those of messages sent inside it (so a message that is slow because the
 * window closed behind it still counts).
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

#define BODY_MAX 4096

int fan_init(struct fan *f, uv_loop_t *loop, const struct fan_ops *ops,
             void *impl, unsigned members, size_t body_len, uint64_t window)
{
  memset(f, 0, sizeof *f);
  f->loop = loop;
  f->ops = ops;
  f->impl = impl;
  f->members = members;
  f->body_len = body_len < BODY_MAX ? body_len : BODY_MAX - 1;
  /* Auto: about 16,384 deliveries in flight, so that a small group keeps
   * the commit batches full and a large one does not queue seconds of
   * frames (saturation latency is window * members / throughput). */
  if (!window)
    window = 16384 / (members ? members : 1);
  if (window < 8)
    window = 8;
  if (window > 1024)
    window = 1024;
  f->window = window;
  if (f->window > FAN_RING / 4)
    f->window = FAN_RING / 4;
  f->cap = f->window * 4 < FAN_RING / 2 ? f->window * 4 : FAN_RING / 2;
  if (!(f->remaining = calloc(FAN_RING, sizeof *f->remaining)))
    return -1;
  uv_timer_init(loop, &f->tick);
  f->tick.data = f;
  f->tick_open = true;
  return 0;
}

void fan_cleanup(struct fan *f)
{
  if (f->tick_open) {
    uv_timer_stop(&f->tick);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(f->loop, UV_RUN_NOWAIT);
    f->tick_open = false;
  }
  free(f->remaining);
  f->remaining = NULL;
}

static int send_one(struct fan *f, uint64_t now)
{
  char body[BODY_MAX];
  uint64_t idx = f->sent;
  size_t len = bench_body(body, sizeof body, f->body_len, now, idx);

  f->remaining[idx % FAN_RING] = f->members;
  if (f->ops->send(f->impl, body, len) != 0) {
    f->remaining[idx % FAN_RING] = 0;
    f->send_errors++;
    return -1;
  }
  f->sent++;
  if (now >= f->win0 && now < f->win1)
    f->win_sent++;
  return 0;
}

static void pump(struct fan *f)
{
  uint64_t now;

  if (!f->sending)
    return;
  now = bench_wall_ns();
  if (f->rate <= 0) {
    while (f->sent - f->done < f->window)
      if (send_one(f, now) != 0)
        break;
    return;
  }
  {
    double due_d = f->rate * (double)(now - f->t0) / 1e9;
    uint64_t due = f->sent0 + (uint64_t)due_d;

    while (f->sent < due) {
      if (f->sent - f->done >= f->cap) {
        f->stalls++;
        break;
      }
      if (send_one(f, now) != 0)
        break;
    }
  }
}

void fan_delivery(struct fan *f, const char *body, size_t len)
{
  uint64_t now = bench_wall_ns(), t, idx;
  uint32_t *rem;

  if (bench_body_parse(body, len, &t, &idx) != 0 || idx >= f->sent ||
      f->sent - idx > FAN_RING) {
    f->unknown++;
    return;
  }
  rem = &f->remaining[idx % FAN_RING];
  if (*rem == 0) {
    f->unknown++;          /* a duplicate, or from an abandoned phase */
    return;
  }
  if (now >= f->win0 && now < f->win1)
    f->win_deliveries++;
  if (t >= f->win0 && t < f->win1)
    hist_add(&f->h, now > t ? (now - t) / 1000 : 0);
  if (--*rem == 0) {
    f->done++;
    if (f->rate <= 0)
      pump(f);
  }
}

static void tick_cb(uv_timer_t *t)
{
  struct fan *f = t->data;
  uint64_t now = bench_wall_ns();

  if (!f->cpu_started && now >= f->win0) {
    cpu_probe_start(&f->cpu, f->server_pid);
    f->cpu_started = true;
  }
  if (f->sending && now >= f->win1) {
    f->sending = false;
    if (f->cpu_started)
      cpu_probe_result(&f->cpu, f->r);
    return;
  }
  pump(f);
}

static bool phase_over(void *arg)
{
  return !((struct fan *)arg)->sending;
}

static bool drained(void *arg)
{
  struct fan *f = arg;

  return f->done == f->sent;
}

double fan_phase(struct fan *f, double rate, double warmup_s, double dur_s,
                 double drain_s, json_t *r)
{
  uint64_t undelivered;
  double msgs;

  f->rate = rate;
  f->t0 = bench_wall_ns();
  f->sent0 = f->sent;
  f->win0 = f->t0 + (uint64_t)(warmup_s * 1e9);
  f->win1 = f->win0 + (uint64_t)(dur_s * 1e9);
  f->win_deliveries = f->win_sent = f->stalls = 0;
  f->cpu_started = false;
  f->r = r;
  hist_reset(&f->h);
  f->sending = true;
  uv_timer_start(&f->tick, tick_cb, 1, 1);
  pump(f);
  bench_run_until(f->loop, phase_over, f,
                  (int64_t)((warmup_s + dur_s + 60) * 1000));
  f->sending = false;
  f->r = NULL;
  uv_timer_stop(&f->tick);
  bench_run_until(f->loop, drained, f, (int64_t)(drain_s * 1000));
  undelivered = f->sent - f->done;
  if (undelivered) {
    /* Give up on them: their slots must not count for the next phase. */
    for (uint64_t i = f->done; i < f->sent && i < f->done + FAN_RING; i++)
      f->remaining[i % FAN_RING] = 0;
    f->done = f->sent;
  }

  msgs = (double)f->win_sent / dur_s;
  json_object_set_new(r, "load", json_string(rate > 0 ? "paced" : "sat"));
  if (rate > 0)
    bench_result_num(r, "offered_msgs_per_s", rate, 1);
  else
    json_object_set_new(r, "window", json_integer((json_int_t)f->window));
  bench_result_num(r, "msgs_per_s", msgs, 1);
  bench_result_num(r, "deliveries_per_s", (double)f->win_deliveries / dur_s,
                   0);
  hist_result(&f->h, r, "");
  json_object_set_new(r, "stalls", json_integer((json_int_t)f->stalls));
  json_object_set_new(r, "undelivered", json_integer((json_int_t)undelivered));
  json_object_set_new(r, "send_errors",
                      json_integer((json_int_t)f->send_errors));
  return msgs;
}

int fan_run_loads(struct fan *f, const char *loads, double warmup_s,
                  double dur_s, double drain_s,
                  void (*fill)(void *arg, json_t *r), void *arg)
{
  double last_sat = 0;
  const char *p = loads;

  while (p && *p) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char word[32];
    double rate;
    json_t *r;

    if (n == 0 || n >= sizeof word)
      return -1;
    memcpy(word, p, n);
    word[n] = '\0';
    p = end ? end + 1 : NULL;
    if (strcmp(word, "sat") == 0) {
      rate = 0;
    } else if (strcmp(word, "half") == 0) {
      if (last_sat <= 0) {
        bench_log("\"half\" needs a saturation phase before it");
        continue;
      }
      rate = last_sat / 2;
    } else {
      char *e;

      rate = strtod(word, &e);
      if (*e || rate <= 0)
        return -1;
    }
    r = bench_result_new(bench_cmd);
    fill(arg, r);
    if (strcmp(word, "half") == 0)
      json_object_set_new(r, "of_sat", json_string("half"));
    if (rate > 0)
      bench_log("phase %s (%.1f msgs/s): warm-up %.1f s, measure %.1f s",
                word, rate, warmup_s, dur_s);
    else
      bench_log("phase %s: warm-up %.1f s, measure %.1f s", word, warmup_s,
                dur_s);
    {
      double got = fan_phase(f, rate, warmup_s, dur_s, drain_s, r);

      if (rate <= 0)
        last_sat = got;
    }
    bench_result_emit(r);
  }
  return 0;
}
