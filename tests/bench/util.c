/*
 * util.c — clocks, process limits, option parsing, the tokens file,
 * message bodies, RESULT lines and the loop helper (see bench.h).
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

const char *bench_cmd = "herald-bench";

uint64_t bench_wall_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_mono_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long bench_raise_nofile(void)
{
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return -1;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      bench_log("cannot raise the descriptor limit: %s", strerror(errno));
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : (long)rl.rlim_cur;
}

long bench_rss_kb(long pid)
{
  char path[64], line[256];
  long kb = -1;
  FILE *f;

  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  if (!(f = fopen(path, "r")))
    return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

double bench_cpu_s(void)
{
  struct rusage ru;

  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

void bench_log(const char *fmt, ...)
{
  va_list ap;

  fprintf(stderr, "herald-bench %s: ", bench_cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ---- options ---- */

void bench_usage_opts(const char *cmd, const struct bench_opt *o)
{
  fprintf(stderr, "Options of %s:\n", cmd);
  for (; o->name; o++)
    fprintf(stderr, "  --%-16s %s%s\n", o->name,
            o->type == OPT_FLAG ? "" : "VALUE  ", o->help);
}

static int set_opt(const struct bench_opt *o, const char *v)
{
  char *end;

  switch (o->type) {
  case OPT_STR:
    *(const char **)o->dst = v;
    return 0;
  case OPT_U64:
    errno = 0;
    *(uint64_t *)o->dst = strtoull(v, &end, 10);
    return errno || *end || end == v ? -1 : 0;
  case OPT_DBL:
    errno = 0;
    *(double *)o->dst = strtod(v, &end);
    return errno || *end || end == v ? -1 : 0;
  case OPT_FLAG:
    *(bool *)o->dst = true;
    return 0;
  }
  return -1;
}

int bench_parse(const char *cmd, int argc, char **argv,
                const struct bench_opt *opts)
{
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *eq, *val = NULL;
    const struct bench_opt *o;
    size_t n;

    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      bench_usage_opts(cmd, opts);
      return -1;
    }
    if (strncmp(a, "--", 2) != 0)
      goto bad;
    a += 2;
    eq = strchr(a, '=');
    n = eq ? (size_t)(eq - a) : strlen(a);
    for (o = opts; o->name; o++)
      if (strlen(o->name) == n && strncmp(o->name, a, n) == 0)
        break;
    if (!o->name)
      goto bad;
    if (o->type == OPT_FLAG) {
      if (eq)
        goto bad;
    } else if (eq) {
      val = eq + 1;
    } else if (i + 1 < argc) {
      val = argv[++i];
    } else {
      goto bad;
    }
    if (set_opt(o, val) != 0) {
      fprintf(stderr, "herald-bench %s: bad value for --%s: %s\n", cmd,
              o->name, val ? val : "");
      return -1;
    }
    continue;
  bad:
    fprintf(stderr, "herald-bench %s: unknown or incomplete option %s\n", cmd,
            argv[i]);
    bench_usage_opts(cmd, opts);
    return -1;
  }
  return 0;
}

int bench_parse_list(const char *s, uint64_t *out, int max)
{
  int n = 0;

  while (s && *s) {
    char *end;

    errno = 0;
    if (n == max)
      return -1;
    out[n++] = strtoull(s, &end, 10);
    if (errno || end == s || (*end && *end != ','))
      return -1;
    s = *end ? end + 1 : end;
  }
  return n;
}

/* ---- the tokens file ---- */

int bench_users_load(const char *path, struct bench_users *u)
{
  char line[512];
  size_t cap = 0;
  FILE *f;

  memset(u, 0, sizeof *u);
  if (!path || !(f = fopen(path, "r"))) {
    bench_log("cannot read the tokens file %s: %s", path ? path : "(none)",
              strerror(errno));
    return -1;
  }
  while (fgets(line, sizeof line, f)) {
    struct bench_user e;

    memset(&e, 0, sizeof e);
    if (line[0] == '#' || line[0] == '\n')
      continue;
    if (sscanf(line, "%71s %" SCNu64 " %127s", e.login, &e.uid, e.token) != 3)
      continue;
    if (u->n == cap) {
      size_t nc = cap ? cap * 2 : 256;
      struct bench_user *v = realloc(u->v, nc * sizeof *v);
      if (!v) {
        fclose(f);
        bench_users_free(u);
        return -1;
      }
      u->v = v;
      cap = nc;
    }
    u->v[u->n++] = e;
  }
  fclose(f);
  return 0;
}

void bench_users_free(struct bench_users *u)
{
  free(u->v);
  memset(u, 0, sizeof *u);
}

const struct bench_user *bench_users_find(const struct bench_users *u,
                                          const char *login)
{
  for (size_t i = 0; i < u->n; i++)
    if (strcmp(u->v[i].login, login) == 0)
      return &u->v[i];
  return NULL;
}

/* ---- bodies ---- */

size_t bench_body(char *buf, size_t cap, size_t len, uint64_t t_ns,
                  uint64_t index)
{
  int n = snprintf(buf, cap, "%" PRIu64 " %" PRIu64 " ", t_ns, index);
  size_t k = n < 0 ? 0 : (size_t)n;

  if (k >= cap)
    k = cap - 1;
  if (len >= cap)
    len = cap - 1;
  while (k < len)
    buf[k++] = 'x';
  buf[k] = '\0';
  return k;
}

static int read_u64(const char **p, const char *end, uint64_t *out)
{
  uint64_t v = 0;
  const char *s = *p;

  if (s >= end || *s < '0' || *s > '9')
    return -1;
  while (s < end && *s >= '0' && *s <= '9')
    v = v * 10 + (uint64_t)(*s++ - '0');
  if (s >= end || *s != ' ')
    return -1;
  *p = s + 1;
  *out = v;
  return 0;
}

int bench_body_parse(const char *p, size_t len, uint64_t *t_ns,
                     uint64_t *index)
{
  const char *end = p + len;

  if (read_u64(&p, end, t_ns) != 0 || read_u64(&p, end, index) != 0)
    return -1;
  return 0;
}

/* ---- results ---- */

json_t *bench_result_new(const char *mode)
{
  json_t *r = json_object();

  json_object_set_new(r, "mode", json_string(mode));
  return r;
}

void bench_result_num(json_t *r, const char *key, double v, int digits)
{
  double m = 1;

  for (int i = 0; i < digits; i++)
    m *= 10;
  if (digits == 0)
    json_object_set_new(r, key, json_integer((json_int_t)(v + (v < 0 ? -0.5 : 0.5))));
  else
    json_object_set_new(r, key, json_real((double)(long long)(v * m + 0.5) / m));
}

void bench_result_emit(json_t *r)
{
  char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));

  if (s) {
    printf("RESULT %s\n", s);
    fflush(stdout);
    free(s);
  }
  json_decref(r);
}

/* ---- loop ---- */

static void wake_cb(uv_timer_t *t)
{
  (void)t;
}

int bench_run_until(uv_loop_t *loop, bench_pred pred, void *arg,
                    int64_t timeout_ms)
{
  uv_timer_t wake;
  uint64_t deadline = bench_mono_ns() + (uint64_t)timeout_ms * 1000000u;
  int rc = -1;

  if (pred && pred(arg))
    return 0;
  uv_timer_init(loop, &wake);
  /* Wakes the loop up at least every 50 ms, so that the timeout and
   * predicates depending on time are noticed. */
  uv_timer_start(&wake, wake_cb, 50, 50);
  for (;;) {
    uv_run(loop, UV_RUN_ONCE);
    if (pred && pred(arg)) {
      rc = 0;
      break;
    }
    if (bench_mono_ns() >= deadline)
      break;
  }
  uv_timer_stop(&wake);
  uv_close((uv_handle_t *)&wake, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return rc;
}

/* ---- CPU ---- */

double bench_proc_cpu_s(long pid)
{
  char path[64], buf[1024], *p;
  unsigned long long ut, st;
  long hz = sysconf(_SC_CLK_TCK);
  FILE *f;
  size_t n;

  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  if (pid <= 0 || !(f = fopen(path, "r")))
    return -1;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The command name may hold spaces: fields restart after its ')'. */
  if (!(p = strrchr(buf, ')')) ||
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
             &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)(hz > 0 ? hz : 100);
}

double bench_machine_busy_s(void)
{
  unsigned long long v[8] = {0};
  long hz = sysconf(_SC_CLK_TCK);
  FILE *f = fopen("/proc/stat", "r");
  int n;

  if (!f)
    return -1;
  n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
             &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 4)
    return -1;
  /* user nice system idle iowait irq softirq steal: busy = all but idle
   * and iowait. */
  return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
         (double)(hz > 0 ? hz : 100);
}

void cpu_probe_start(struct cpu_probe *p, long server_pid)
{
  p->server_pid = server_pid;
  p->t_ns = bench_mono_ns();
  p->self = bench_cpu_s();
  p->server = server_pid > 0 ? bench_proc_cpu_s(server_pid) : -1;
  p->machine = bench_machine_busy_s();
}

void cpu_probe_result(const struct cpu_probe *p, json_t *r)
{
  double dt = (double)(bench_mono_ns() - p->t_ns) / 1e9;
  double srv;

  if (dt <= 0)
    return;
  bench_result_num(r, "client_cpu_pct", 100.0 * (bench_cpu_s() - p->self) / dt,
                   0);
  if (p->server >= 0 && (srv = bench_proc_cpu_s(p->server_pid)) >= 0)
    bench_result_num(r, "server_cpu_pct", 100.0 * (srv - p->server) / dt, 0);
  if (p->machine >= 0)
    bench_result_num(r, "machine_cpu_pct",
                     100.0 * (bench_machine_busy_s() - p->machine) / dt, 0);
}
