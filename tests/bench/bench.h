/*
 * bench.h — what the files of herald-bench share.
 *
 * herald-bench is Herald's load client: one process drives many WebSocket
 * connections from one libuv loop, and prints one result line per measured
 * load ("RESULT {json}") that tests/bench/run.sh collects and turns into a
 * table (the `report` subcommand).
 *
 *   main.c      subcommands, usage
 *   util.c      clocks, the descriptor limit, option parsing helpers, the
 *               tokens file, message bodies, RESULT lines, loop helpers
 *   hist.c      latency histogram (log-linear buckets, ~1.6 % resolution)
 *   fan.c       the fan-out load shape shared by Herald and MQTT: a sender,
 *               members, a window of messages not yet delivered to all, a
 *               paced or saturating phase and its figures
 *   wsc.c       a small raw libwebsockets client (MQTT, send-only Herald)
 *   mqtt.c      MQTT 3.1.1 packet encoding and decoding
 *   m_*.c       one file per subcommand
 *   unread_*    the seeding of `unread` (the only command that talks to
 *               PostgreSQL itself; see unread.h)
 *
 * Everything runs on the loop thread.
 */
#ifndef HERALD_BENCH_H
#define HERALD_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <jansson.h>

/* ---- clocks ---- */

/* CLOCK_REALTIME in ns: the clock that message bodies carry, shared by
 * every process on the machine (latency = receive time - send time). */
uint64_t bench_wall_ns(void);
/* CLOCK_MONOTONIC in ns, for durations. */
uint64_t bench_mono_ns(void);

/* ---- process ---- */

/* Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit. */
long bench_raise_nofile(void);
/* Resident set size of process `pid` in KiB (VmRSS), or -1. */
long bench_rss_kb(long pid);
/* CPU seconds (user + system) this process has used. */
double bench_cpu_s(void);
/* CPU seconds (all threads) process `pid` has used, or -1. */
double bench_proc_cpu_s(long pid);
/* Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
double bench_machine_busy_s(void);

/* CPU use over a measurement window: this process, the server (pid, or 0
 * for none) and the whole machine, as percent of one core. */
struct cpu_probe {
  double self, server, machine;
  uint64_t t_ns;
  long server_pid;
};
void cpu_probe_start(struct cpu_probe *p, long server_pid);
/* Adds client_cpu_pct, server_cpu_pct (when known) and machine_cpu_pct. */
void cpu_probe_result(const struct cpu_probe *p, json_t *r);

/* ---- options ---- */

/* A tiny parser for "--name value" / "--name=value" / "--flag" options.
 * Each subcommand declares a table; unknown options are a usage error. */
enum bench_opt_type { OPT_STR, OPT_U64, OPT_DBL, OPT_FLAG };

struct bench_opt {
  const char *name;          /* without the leading "--" */
  enum bench_opt_type type;
  void *dst;                 /* const char **, uint64_t *, double *, bool * */
  const char *help;
};

/* Parses argv[0..argc) against `opts` (terminated by a NULL name).
 * Returns 0, or -1 after printing the problem and the options. */
int bench_parse(const char *cmd, int argc, char **argv,
                const struct bench_opt *opts);
void bench_usage_opts(const char *cmd, const struct bench_opt *opts);

/* Splits "1,2,3" into numbers. Returns the count (at most max), -1 on a
 * malformed list. */
int bench_parse_list(const char *s, uint64_t *out, int max);

/* ---- the tokens file: "login uid token" per line ---- */

struct bench_user {
  char login[72];
  uint64_t uid;
  char token[128];
};

struct bench_users {
  struct bench_user *v;
  size_t n;
};

int bench_users_load(const char *path, struct bench_users *u);
void bench_users_free(struct bench_users *u);
/* The entry with this login, or NULL. */
const struct bench_user *bench_users_find(const struct bench_users *u,
                                          const char *login);

/* ---- message bodies ---- */

/* Writes "<send wall ns> <index> " padded with 'x' to `len` bytes (at
 * least the header). Returns the length written. */
size_t bench_body(char *buf, size_t cap, size_t len, uint64_t t_ns,
                  uint64_t index);
/* Reads the header back. Returns 0, or -1 if the body is not one of ours. */
int bench_body_parse(const char *p, size_t len, uint64_t *t_ns,
                     uint64_t *index);

/* ---- results ---- */

/* Starts a result object with "mode" set; add fields with json_object_set_new
 * and print it with bench_result_emit (one line "RESULT {...}" on stdout,
 * flushed), which takes ownership. */
json_t *bench_result_new(const char *mode);
void bench_result_emit(json_t *r);
/* Adds a number rounded to `digits` decimals. */
void bench_result_num(json_t *r, const char *key, double v, int digits);

/* ---- loop helpers ---- */

typedef bool (*bench_pred)(void *arg);
/* Runs `loop` until pred(arg) holds (checked after every iteration) or
 * timeout_ms passed. Returns 0 or -1 (timeout). */
int bench_run_until(uv_loop_t *loop, bench_pred pred, void *arg,
                    int64_t timeout_ms);

/* Logs to stderr with the subcommand's prefix. */
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern const char *bench_cmd;

/* ---- histogram ---- */

#define HIST_SUB 64u
#define HIST_BUCKETS (2u * HIST_SUB + 40u * HIST_SUB)

struct hist {
  uint64_t count, max, sum;
  uint64_t b[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_add(struct hist *h, uint64_t us);
/* The value at quantile q (0..1) in µs (bucket midpoint; max is exact). */
uint64_t hist_quantile(const struct hist *h, double q);
/* Adds p50/p99/max (ms) to a result as <prefix>p50_ms etc. */
void hist_result(const struct hist *h, json_t *r, const char *prefix);

/* ---- the fan-out load shape (fan.c) ---- */

/* One sender, `members` receivers (the sender's own connection counts as
 * one when it receives its copy). A message is "outstanding" until every
 * member received it. Saturation keeps `window` messages outstanding (a
 * closed loop: the rate is whatever the whole pipeline sustains, and no
 * queue grows without bound); a paced phase offers a fixed rate and lets
 * at most `cap` be outstanding (beyond that the pacer waits and counts a
 * stall: the offered rate is then not sustained). */
#define FAN_RING (1u << 16)

struct fan_ops {
  /* Sends one message with this body: 0, or -1 when it cannot now. */
  int (*send)(void *impl, const char *body, size_t len);
};

struct fan {
  uv_loop_t *loop;
  const struct fan_ops *ops;
  void *impl;
  unsigned members;
  size_t body_len;
  uint64_t window, cap;
  uint32_t *remaining;         /* FAN_RING slots, by message index */
  uint64_t sent, done;         /* messages sent / delivered to all */
  uint64_t unknown;            /* deliveries that were not ours */
  uint64_t send_errors;
  /* The running phase. */
  double rate;                 /* messages/s; 0 = saturation */
  bool sending;
  uint64_t t0, win0, win1;     /* wall ns: phase start, measurement window */
  uint64_t sent0;              /* `sent` when the phase started */
  uint64_t win_deliveries, win_sent, stalls;
  struct hist h;
  uv_timer_t tick;
  bool tick_open;
  /* CPU use inside the measurement window (server_pid 0: unknown). */
  long server_pid;
  struct cpu_probe cpu;
  bool cpu_started;
  json_t *r;
};

int fan_init(struct fan *f, uv_loop_t *loop, const struct fan_ops *ops,
             void *impl, unsigned members, size_t body_len, uint64_t window);
void fan_cleanup(struct fan *f);
/* A member received a message with this body. */
void fan_delivery(struct fan *f, const char *body, size_t len);
/* Runs one phase (rate 0 = saturation), then waits for everything sent to
 * be delivered (up to drain_s). Adds its figures to `r`: offered and
 * achieved messages/s, deliveries/s, latency p50/p99/max, stalls,
 * undelivered. Returns the achieved messages/s. */
double fan_phase(struct fan *f, double rate, double warmup_s, double dur_s,
                 double drain_s, json_t *r);

/* Runs the phases named in `loads` ("sat,half", or messages/s numbers;
 * "half" is half of the last saturation rate), emitting one RESULT per
 * phase: `fill` adds the caller's fields to each result first, `check`
 * (may be NULL) is asked after each phase whether to go on. Returns 0, or
 * -1 for a malformed list. */
int fan_run_loads(struct fan *f, const char *loads, double warmup_s,
                  double dur_s, double drain_s,
                  void (*fill)(void *arg, json_t *r), void *arg);

/* ---- subcommands ---- */

int bench_cmd_login(int argc, char **argv);
int bench_cmd_fanout(int argc, char **argv);
int bench_cmd_mqtt(int argc, char **argv);
int bench_cmd_sends(int argc, char **argv);
int bench_cmd_idle(int argc, char **argv);
int bench_cmd_replay(int argc, char **argv);
int bench_cmd_unread(int argc, char **argv);   /* m_unread.c, unread.h */
int bench_cmd_report(int argc, char **argv);

#endif
