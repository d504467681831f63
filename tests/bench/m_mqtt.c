/*
 * m_mqtt.c — `herald-bench mqtt`: the fan-out shape of `fanout` against an
 * MQTT 3.1.1 broker over WebSockets (subprotocol "mqtt"), e.g. Mosquitto:
 * one topic for the group, every member subscribed with QoS 1, member 0
 * also publishing with QoS 1 (so, as in Herald, the sender receives its
 * own copy and one message is N deliveries). Subscribers acknowledge every
 * delivery (PUBACK), as QoS 1 requires.
 */
#include "bench.h"
#include "mqtt.h"
#include "wsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum mstate { M_CONNECTING, M_CONNECT_SENT, M_SUBSCRIBING, M_READY, M_DEAD };

struct mconn {
  struct mqtt_run *run;
  struct wsc *w;
  unsigned idx;
  enum mstate state;
  uint8_t *buf;                /* a packet split across frames */
  size_t len, cap;
};

struct mqtt_run {
  uv_loop_t loop;
  struct wsc_ctx *ctx;
  struct wsc_config wcfg;
  char host[256], path[256];
  char topic[128];
  struct mconn *v;
  unsigned n, started, settled, ready, failed, drops;
  uint16_t next_pid;
  uint64_t pub_acked;
  struct fan fan;
  uv_timer_t starter, ping;
  bool timers_open;
};

static void fail(struct mconn *m, const char *why)
{
  struct mqtt_run *r = m->run;

  if (m->state == M_READY) {
    r->drops++;
    r->ready--;
    bench_log("member %u dropped: %s", m->idx, why);
  } else if (m->state != M_DEAD) {
    r->failed++;
    r->settled++;
    bench_log("member %u failed: %s", m->idx, why);
  }
  m->state = M_DEAD;
  wsc_free(m->w);
  m->w = NULL;
}

static void send_bytes(struct mconn *m, const uint8_t *p, size_t n)
{
  if (n == 0 || wsc_send(m->w, p, n) != 0)
    fail(m, "cannot queue a packet");
}

static void on_open(struct wsc *w)
{
  struct mconn *m = wsc_user(w);
  uint8_t pkt[128];
  char id[64];

  snprintf(id, sizeof id, "hb-%ld-%u", (long)getpid(), m->idx);
  m->state = M_CONNECT_SENT;
  send_bytes(m, pkt, mqtt_connect(pkt, sizeof pkt, id, 60, true));
}

static void handle(struct mconn *m, const struct mqtt_packet *p)
{
  struct mqtt_run *r = m->run;
  uint8_t out[256];

  switch (p->type) {
  case MQTT_CONNACK:
    if (m->state != M_CONNECT_SENT || p->code != 0) {
      fail(m, "connection refused by the broker");
      return;
    }
    m->state = M_SUBSCRIBING;
    send_bytes(m, out, mqtt_subscribe(out, sizeof out, 1, r->topic, 1));
    break;
  case MQTT_SUBACK:
    if (m->state != M_SUBSCRIBING || p->code == 0x80) {
      fail(m, "subscription refused");
      return;
    }
    m->state = M_READY;
    r->ready++;
    r->settled++;
    break;
  case MQTT_PUBLISH:
    fan_delivery(&r->fan, (const char *)p->payload, p->payload_len);
    if (((p->flags >> 1) & 3) == 1)
      send_bytes(m, out, mqtt_puback(out, sizeof out, p->packet_id));
    break;
  case MQTT_PUBACK:
    r->pub_acked++;
    break;
  default:
    break;
  }
}

static void on_data(struct wsc *w, const uint8_t *p, size_t len)
{
  struct mconn *m = wsc_user(w);
  const uint8_t *src = p;
  size_t n = len, off = 0, left;

  if (m->len) {
    if (m->len + len > m->cap) {
      size_t cap = m->cap ? m->cap : 4096;
      uint8_t *b;

      while (cap < m->len + len)
        cap *= 2;
      if (!(b = realloc(m->buf, cap))) {
        fail(m, "out of memory");
        return;
      }
      m->buf = b;
      m->cap = cap;
    }
    memcpy(m->buf + m->len, p, len);
    src = m->buf;
    n = m->len + len;
  }
  while (off < n) {
    struct mqtt_packet pkt;
    long k = mqtt_parse(src + off, n - off, &pkt);

    if (k == 0)
      break;
    if (k < 0) {
      fail(m, "malformed packet");
      return;
    }
    handle(m, &pkt);
    if (m->state == M_DEAD)
      return;
    off += (size_t)k;
  }
  left = n - off;
  if (left && src != m->buf) {
    if (left > m->cap) {
      uint8_t *b = realloc(m->buf, left);

      if (!b) {
        fail(m, "out of memory");
        return;
      }
      m->buf = b;
      m->cap = left;
    }
    memcpy(m->buf, src + off, left);
  } else if (left) {
    memmove(m->buf, m->buf + off, left);
  }
  m->len = left;
}

static void on_closed(struct wsc *w, const char *why)
{
  struct mconn *m = wsc_user(w);

  m->w = NULL;              /* wsc frees nothing itself; we free below */
  wsc_free(w);
  if (m->state != M_DEAD) {
    struct mqtt_run *r = m->run;

    if (m->state == M_READY) {
      r->drops++;
      r->ready--;
      bench_log("member %u dropped: %s", m->idx, why);
    } else {
      r->failed++;
      r->settled++;
      bench_log("member %u failed: %s", m->idx, why);
    }
    m->state = M_DEAD;
  }
}

static const struct wsc_handler handler = {on_open, on_data, on_closed};

static void starter_cb(uv_timer_t *t)
{
  struct mqtt_run *r = t->data;

  while (r->started < r->n && r->started - r->settled < 256) {
    struct mconn *m = &r->v[r->started];

    m->run = r;
    m->idx = r->started++;
    m->state = M_CONNECTING;
    if (!(m->w = wsc_connect(r->ctx, &r->wcfg, &handler, m))) {
      m->state = M_DEAD;
      r->failed++;
      r->settled++;
    }
  }
  if (r->started == r->n)
    uv_timer_stop(t);
}

static void ping_cb(uv_timer_t *t)
{
  struct mqtt_run *r = t->data;
  uint8_t pkt[2];

  for (unsigned i = 0; i < r->started; i++)
    if (r->v[i].state == M_READY)
      send_bytes(&r->v[i], pkt, mqtt_pingreq(pkt, sizeof pkt));
}

static bool settled(void *arg)
{
  struct mqtt_run *r = arg;

  return r->settled == r->n;
}

static int publish(void *impl, const char *body, size_t len)
{
  struct mqtt_run *r = impl;
  struct mconn *m = &r->v[0];
  uint8_t pkt[4352];
  size_t n;

  if (m->state != M_READY)
    return -1;
  if (++r->next_pid == 0)
    r->next_pid = 1;
  n = mqtt_publish(pkt, sizeof pkt, r->topic, 1, r->next_pid, body, len);
  if (n == 0 || wsc_send(m->w, pkt, n) != 0)
    return -1;
  return 0;
}

static const struct fan_ops ops = {publish};

static void fill(void *arg, json_t *res)
{
  struct mqtt_run *r = arg;

  json_object_set_new(res, "impl", json_string("mosquitto"));
  json_object_set_new(res, "group", json_integer(r->n));
  json_object_set_new(res, "drops", json_integer(r->drops));
}

static int parse_url(struct mqtt_run *r, const char *url)
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

int bench_cmd_mqtt(int argc, char **argv)
{
  const char *url = "ws://127.0.0.1:8741/", *topic = "herald-bench/g";
  const char *loads = "sat,half";
  uint64_t group = 0, window = 0, body = 100, server_pid = 0;
  uint64_t connect_timeout = 300;
  double warmup = 2, duration = 10, drain = 15;
  const struct bench_opt opts[] = {
    {"url", OPT_STR, &url, "broker WebSocket URL (ws://127.0.0.1:8741/)"},
    {"topic", OPT_STR, &topic, "the group's topic (herald-bench/g)"},
    {"group-size", OPT_U64, &group, "members (subscribers; the first publishes)"},
    {"loads", OPT_STR, &loads, "phases, as for fanout (sat,half)"},
    {"window", OPT_U64, &window,
     "saturation: messages not yet delivered to all members (0: about "
     "16384 deliveries' worth, 8..1024)"},
    {"body", OPT_U64, &body, "payload bytes (100)"},
    {"warmup", OPT_DBL, &warmup, "seconds before measuring (2)"},
    {"duration", OPT_DBL, &duration, "seconds measured per phase (10)"},
    {"drain", OPT_DBL, &drain, "seconds to wait for stragglers (15)"},
    {"server-pid", OPT_U64, &server_pid, "the broker's pid, for its CPU use"},
    {"connect-timeout", OPT_U64, &connect_timeout,
     "seconds for all members to subscribe (300)"},
    {NULL, 0, NULL, NULL}};
  struct mqtt_run *r;
  int rc = 1;

  if (bench_parse("mqtt", argc, argv, opts) != 0)
    return 2;
  if (!group || duration <= 0) {
    bench_log("--group-size and a positive --duration are required");
    return 2;
  }
  if (!(r = calloc(1, sizeof *r)) ||
      !(r->v = calloc(group, sizeof *r->v))) {
    free(r);
    return 1;
  }
  if (parse_url(r, url) != 0) {
    bench_log("bad --url %s (expected ws://HOST:PORT[/path])", url);
    free(r->v);
    free(r);
    return 2;
  }
  r->wcfg.subprotocol = "mqtt";
  r->wcfg.stream = true;
  snprintf(r->topic, sizeof r->topic, "%s", topic);
  r->n = (unsigned)group;
  bench_raise_nofile();
  uv_loop_init(&r->loop);
  if (wsc_ctx_new(&r->loop, &r->ctx) != 0 ||
      fan_init(&r->fan, &r->loop, &ops, r, r->n, body, window) != 0) {
    bench_log("cannot set up");
    goto out;
  }
  r->fan.server_pid = (long)server_pid;
  uv_timer_init(&r->loop, &r->starter);
  uv_timer_init(&r->loop, &r->ping);
  r->starter.data = r->ping.data = r;
  r->timers_open = true;
  uv_timer_start(&r->starter, starter_cb, 0, 2);
  uv_timer_start(&r->ping, ping_cb, 30000, 30000);
  bench_log("connecting %u members", r->n);
  bench_run_until(&r->loop, settled, r, (int64_t)connect_timeout * 1000);
  uv_timer_stop(&r->starter);
  if (r->ready != r->n) {
    bench_log("only %u of %u members subscribed; giving up", r->ready, r->n);
    goto out;
  }
  if (fan_run_loads(&r->fan, loads, warmup, duration, drain, fill, r) != 0) {
    bench_log("bad --loads \"%s\"", loads);
    goto out;
  }
  rc = 0;
out:
  for (unsigned i = 0; i < r->started; i++) {
    if (r->v[i].w) {
      uint8_t pkt[2];

      if (r->v[i].state == M_READY)
        wsc_send(r->v[i].w, pkt, mqtt_disconnect(pkt, sizeof pkt));
      r->v[i].state = M_DEAD;
    }
  }
  /* Let the DISCONNECTs go out before the sockets close. */
  bench_run_until(&r->loop, NULL, NULL, 200);
  for (unsigned i = 0; i < r->started; i++) {
    wsc_free(r->v[i].w);
    free(r->v[i].buf);
  }
  if (r->timers_open) {
    uv_close((uv_handle_t *)&r->ping, NULL);
    uv_close((uv_handle_t *)&r->starter, NULL);
  }
  fan_cleanup(&r->fan);
  wsc_ctx_free(r->ctx);
  uv_run(&r->loop, UV_RUN_NOWAIT);
  uv_loop_close(&r->loop);
  free(r->v);
  free(r);
  return rc;
}
