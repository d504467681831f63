/*
 * m_idle.c — `herald-bench idle`: N authenticated, synced, idle
 * connections and the server's resident memory per connection.
 *
 * One process may hold at most RLIMIT_NOFILE descriptors (20,000 here), so
 * the connections are spread over child processes (--per-proc each at
 * most), forked by this one. The parent steps through the targets: first
 * a small warm-up set (whose RSS is the baseline, so that what the server
 * allocates once — libwebsockets tables, pools — is not charged to
 * connections), then each of --steps; after each step, once every child
 * reports its share synced and --settle seconds passed, it reads VmRSS of
 * --server-pid and reports (RSS - baseline) / (connections - warm-up).
 *
 * Each connection is a herald_client connection that authenticated with a
 * token (`hello`) and synced (so the server holds what an idle device
 * really costs: the session, its subscriptions, libwebsockets' state).
 * Parent and children talk over pipes, one line per message:
 *   parent -> child   "open N" (reach N connections) | "quit"
 *   child -> parent   "ok SYNCED FAILED DROPS"
 */
#include "bench.h"
#include "pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct child_io {
  int in, out;
  char buf[256];
  size_t len;
  bool line;
  uv_poll_t poll;
  bool eof;
};

static void cmd_cb(uv_poll_t *h, int status, int events)
{
  struct child_io *io = h->data;
  ssize_t n;

  (void)status;
  (void)events;
  n = read(io->in, io->buf + io->len, sizeof io->buf - 1 - io->len);
  if (n <= 0) {
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      io->eof = true;
      uv_poll_stop(h);
    }
    return;
  }
  io->len += (size_t)n;
  io->buf[io->len] = '\0';
  if (strchr(io->buf, '\n'))
    io->line = true;
}

static bool have_line(void *arg)
{
  struct child_io *io = arg;

  return io->line || io->eof;
}

static int child_main(int in, int out, size_t index, size_t nprocs,
                      const char *url, const struct bench_users *users,
                      size_t first, size_t count, size_t cap,
                      uint64_t timeout_s)
{
  struct child_io io;
  struct pool pool;
  uv_loop_t loop;
  FILE *rep = fdopen(out, "w");

  memset(&io, 0, sizeof io);
  io.in = in;
  io.out = out;
  uv_loop_init(&loop);
  if (!rep || pool_init(&pool, &loop, url, users, first, count, cap) != 0)
    return 1;
  pool.stride = nprocs;
  pool.offset = index;
  uv_poll_init(&loop, &io.poll, in);
  io.poll.data = &io;
  uv_poll_start(&io.poll, UV_READABLE, cmd_cb);
  for (;;) {
    unsigned long long n;
    char *nl;

    /* Keep serving the connections (pings) while waiting. */
    while (!have_line(&io))
      bench_run_until(&loop, have_line, &io, 60000);
    if (!io.line)
      break;                   /* the parent went away */
    nl = strchr(io.buf, '\n');
    *nl = '\0';
    if (sscanf(io.buf, "open %llu", &n) == 1) {
      pool_grow(&pool, (size_t)n, (int64_t)timeout_s * 1000);
      fprintf(rep, "ok %zu %zu %zu\n", pool.synced - pool.failed, pool.failed,
              pool.drops);
      fflush(rep);
    } else if (strcmp(io.buf, "quit") == 0) {
      break;
    }
    memmove(io.buf, nl + 1, io.len - (size_t)(nl + 1 - io.buf) + 1);
    io.len = strlen(io.buf);
    io.line = strchr(io.buf, '\n') != NULL;
  }
  uv_poll_stop(&io.poll);
  uv_close((uv_handle_t *)&io.poll, NULL);
  pool_free(&pool);
  uv_run(&loop, UV_RUN_NOWAIT);
  fclose(rep);
  return 0;
}

struct kid {
  pid_t pid;
  FILE *cmd, *rep;
};

int bench_cmd_idle(int argc, char **argv)
{
  const char *url = "ws://127.0.0.1:8740/", *tokens = NULL;
  const char *steps_s = "10000,19000";
  uint64_t per_proc = 8000, first = 0, nusers = 0, server_pid = 0, warm = 100;
  uint64_t timeout = 600;
  double settle = 3;
  const struct bench_opt opts[] = {
    {"url", OPT_STR, &url, "server URL (ws://127.0.0.1:8740/)"},
    {"tokens", OPT_STR, &tokens, "tokens file (from `login`)"},
    {"steps", OPT_STR, &steps_s,
     "connection counts to measure at (10000,19000)"},
    {"per-proc", OPT_U64, &per_proc, "connections per process (8000)"},
    {"first", OPT_U64, &first, "first user in the tokens file to use"},
    {"users", OPT_U64, &nusers, "users to spread over (0: all from first)"},
    {"warm", OPT_U64, &warm, "connections of the baseline (100)"},
    {"settle", OPT_DBL, &settle, "seconds to wait before reading RSS (3)"},
    {"server-pid", OPT_U64, &server_pid, "heraldd's pid (required)"},
    {"connect-timeout", OPT_U64, &timeout, "seconds per step (600)"},
    {NULL, 0, NULL, NULL}};
  uint64_t steps[16];
  struct bench_users users;
  struct kid *kids = NULL;
  size_t nprocs, max;
  long base_rss = -1;
  int nsteps, rc = 1;

  if (bench_parse("idle", argc, argv, opts) != 0)
    return 2;
  if (!tokens || !server_pid ||
      (nsteps = bench_parse_list(steps_s, steps, 16)) <= 0 || !per_proc) {
    bench_log("--tokens, --server-pid and --steps are required");
    return 2;
  }
  if (bench_rss_kb((long)server_pid) < 0) {
    bench_log("no process %llu to measure", (unsigned long long)server_pid);
    return 1;
  }
  if (bench_users_load(tokens, &users) != 0)
    return 1;
  if (first >= users.n) {
    bench_log("--first %llu: the tokens file has %zu users",
              (unsigned long long)first, users.n);
    return 1;
  }
  if (!nusers || first + nusers > users.n)
    nusers = users.n - first;
  max = warm;
  for (int i = 0; i < nsteps; i++)
    if (steps[i] > max)
      max = steps[i];
  nprocs = (max + per_proc - 1) / per_proc;
  if (bench_raise_nofile() < (long)(max / nprocs + 200))
    bench_log("warning: the descriptor limit is below %zu per process",
              max / nprocs + 200);
  if (!(kids = calloc(nprocs, sizeof *kids)))
    return 1;
  fflush(NULL);
  for (size_t i = 0; i < nprocs; i++) {
    int down[2], up[2];

    if (pipe(down) != 0 || pipe(up) != 0) {
      bench_log("pipe: %s", strerror(errno));
      goto out;
    }
    kids[i].pid = fork();
    if (kids[i].pid < 0) {
      bench_log("fork: %s", strerror(errno));
      goto out;
    }
    if (kids[i].pid == 0) {
      /* Only this child's own pipe ends stay open. */
      for (size_t j = 0; j < i; j++) {
        fclose(kids[j].cmd);
        fclose(kids[j].rep);
      }
      close(down[1]);
      close(up[0]);
      _exit(child_main(down[0], up[1], i, nprocs, url, &users, first,
                       nusers, (max + nprocs - 1) / nprocs + 1, timeout));
    }
    close(down[0]);
    close(up[1]);
    kids[i].cmd = fdopen(down[1], "w");
    kids[i].rep = fdopen(up[0], "r");
  }
  bench_log("%zu processes for up to %zu connections", nprocs, max);

  for (int s = -1; s < nsteps; s++) {
    uint64_t target = s < 0 ? warm : steps[s];
    size_t ok = 0, failed = 0, drops = 0;
    uint64_t t0 = bench_mono_ns();
    long rss;

    if (target == 0)
      continue;
    for (size_t i = 0; i < nprocs; i++) {
      uint64_t share = target * (i + 1) / nprocs - target * i / nprocs;

      fprintf(kids[i].cmd, "open %llu\n", (unsigned long long)share);
      fflush(kids[i].cmd);
    }
    for (size_t i = 0; i < nprocs; i++) {
      char line[128];
      size_t a, b, c;

      if (!fgets(line, sizeof line, kids[i].rep) ||
          sscanf(line, "ok %zu %zu %zu", &a, &b, &c) != 3) {
        bench_log("process %zu did not answer", i);
        goto out;
      }
      ok += a;
      failed += b;
      drops += c;
    }
    bench_log("%zu connections synced (%zu refused, %zu dropped) in %.1f s",
              ok, failed, drops, (double)(bench_mono_ns() - t0) / 1e9);
    usleep((useconds_t)(settle * 1e6));
    rss = bench_rss_kb((long)server_pid);
    if (s < 0) {
      base_rss = rss;
      bench_log("baseline: %ld KiB at %zu connections", rss, ok);
      continue;
    }
    {
      json_t *res = bench_result_new("idle");

      json_object_set_new(res, "impl", json_string("herald"));
      json_object_set_new(res, "conns", json_integer((json_int_t)target));
      json_object_set_new(res, "synced", json_integer((json_int_t)ok));
      json_object_set_new(res, "refused", json_integer((json_int_t)failed));
      json_object_set_new(res, "drops", json_integer((json_int_t)drops));
      json_object_set_new(res, "procs", json_integer((json_int_t)nprocs));
      json_object_set_new(res, "rss_kb", json_integer(rss));
      json_object_set_new(res, "base_rss_kb", json_integer(base_rss));
      json_object_set_new(res, "base_conns", json_integer((json_int_t)warm));
      if (ok > warm && rss >= 0 && base_rss >= 0)
        bench_result_num(res, "kb_per_conn",
                         (double)(rss - base_rss) / (double)(ok - warm), 2);
      bench_result_emit(res);
    }
  }
  rc = 0;
out:
  for (size_t i = 0; i < nprocs && kids; i++) {
    if (kids[i].cmd) {
      fprintf(kids[i].cmd, "quit\n");
      fclose(kids[i].cmd);
    }
    if (kids[i].rep)
      fclose(kids[i].rep);
  }
  for (size_t i = 0; i < nprocs && kids; i++) {
    int st;

    if (kids[i].pid > 0 && waitpid(kids[i].pid, &st, 0) < 0)
      kill(kids[i].pid, SIGKILL);
  }
  free(kids);
  bench_users_free(&users);
  return rc;
}
