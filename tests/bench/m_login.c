/*
 * m_login.c — `herald-bench login`: logs each user in once with the
 * password and writes "login uid token" lines, so that thousands of
 * benchmark connections authenticate with `hello` and a token instead of
 * an argon2id password check each (~50 ms of server CPU apiece). Several
 * connections of one user sharing a token are that user's devices.
 */
#include "bench.h"

#include "hc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct login_one {
  struct login_run *run;
  struct hc_conn *c;
  char login[72];
  uint64_t uid;
  char *token;
  bool done, failed;
};

struct login_run {
  struct hc_ctx *ctx;
  const char *url, *password;
  struct login_one *v;
  size_t n, next, active, done, failed;
  size_t parallel;
};

static void start_more(struct login_run *r);

static void finish(struct login_one *o, bool ok, int err)
{
  struct login_run *r = o->run;

  if (o->done || o->failed)
    return;
  if (ok) {
    o->done = true;
    r->done++;
  } else {
    o->failed = true;
    r->failed++;
    bench_log("%s: %s", o->login, hc_strerror(err));
  }
  hc_conn_free(o->c);
  o->c = NULL;
  r->active--;
  start_more(r);
}

static void on_event(struct hc_conn *c, const struct hc_event *ev, void *arg)
{
  struct login_one *o = arg;
  const char *tok;

  switch (ev->type) {
  case HC_EV_WELCOME:
    tok = hc_conn_token(c);
    o->uid = hc_conn_info(c)->uid;
    if (tok && (o->token = strdup(tok)))
      finish(o, true, 0);
    else
      finish(o, false, -ENOMEM);
    break;
  case HC_EV_STATE:
    if (ev->state == HC_STATE_STOPPED)
      finish(o, false, ev->err);
    break;
  default:
    break;
  }
}

static void start_more(struct login_run *r)
{
  while (r->active < r->parallel && r->next < r->n) {
    struct login_one *o = &r->v[r->next++];
    struct hc_conn_config cfg;
    int rc;

    memset(&cfg, 0, sizeof cfg);
    cfg.url = r->url;
    cfg.login = o->login;
    cfg.password = r->password;
    cfg.client_name = "herald-bench";
    cfg.limit_backlog = true;    /* nothing to replay: we leave at once */
    cfg.on_event = on_event;
    cfg.arg = o;
    r->active++;
    if ((rc = hc_conn_new(r->ctx, &cfg, &o->c)) != 0 ||
        (rc = hc_conn_start(o->c)) != 0) {
      r->active--;
      o->failed = true;
      r->failed++;
      bench_log("%s: %s", o->login, hc_strerror(rc));
      hc_conn_free(o->c);
      o->c = NULL;
    }
  }
}

static bool all_done(void *arg)
{
  struct login_run *r = arg;

  return r->done + r->failed == r->n;
}

static int read_password(const char *path, char *buf, size_t cap)
{
  FILE *f = fopen(path, "r");
  size_t n;

  if (!f)
    return -1;
  n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = '\0';
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  return n ? 0 : -1;
}

int bench_cmd_login(int argc, char **argv)
{
  const char *url = "ws://127.0.0.1:8740/", *users = NULL, *pwfile = NULL;
  const char *out = NULL;
  uint64_t parallel = 8, timeout = 600;
  const struct bench_opt opts[] = {
    {"url", OPT_STR, &url, "server URL (ws://127.0.0.1:8740/)"},
    {"users", OPT_STR, &users, "file with one login per line"},
    {"password-file", OPT_STR, &pwfile, "file holding the users' password"},
    {"out", OPT_STR, &out, "tokens file to write (login uid token)"},
    {"parallel", OPT_U64, &parallel, "logins in flight (8)"},
    {"timeout", OPT_U64, &timeout, "seconds for all logins (600)"},
    {NULL, 0, NULL, NULL}};
  struct login_run r;
  char password[1024], line[128];
  size_t cap = 0;
  uint64_t t0;
  FILE *f;
  int fd;

  if (bench_parse("login", argc, argv, opts) != 0)
    return 2;
  if (!users || !pwfile || !out) {
    bench_log("--users, --password-file and --out are required");
    return 2;
  }
  if (read_password(pwfile, password, sizeof password) != 0) {
    bench_log("cannot read a password from %s", pwfile);
    return 1;
  }
  memset(&r, 0, sizeof r);
  r.url = url;
  r.password = password;
  r.parallel = parallel ? parallel : 1;
  if (!(f = fopen(users, "r"))) {
    bench_log("cannot read %s: %s", users, strerror(errno));
    return 1;
  }
  while (fgets(line, sizeof line, f)) {
    char name[72];

    if (sscanf(line, "%71s", name) != 1 || name[0] == '#')
      continue;
    if (r.n == cap) {
      struct login_one *v;

      cap = cap ? cap * 2 : 256;
      if (!(v = realloc(r.v, cap * sizeof *v))) {
        fclose(f);
        return 1;
      }
      r.v = v;
    }
    memset(&r.v[r.n], 0, sizeof r.v[r.n]);
    r.v[r.n].run = &r;
    snprintf(r.v[r.n].login, sizeof r.v[r.n].login, "%s", name);
    r.n++;
  }
  fclose(f);
  bench_raise_nofile();
  if (hc_ctx_new(NULL, &r.ctx) != 0) {
    bench_log("cannot create the client context");
    return 1;
  }
  t0 = bench_mono_ns();
  start_more(&r);
  if (hc_run_until(r.ctx, all_done, &r, (int64_t)timeout * 1000) != 0)
    bench_log("timed out: %zu of %zu logged in", r.done, r.n);
  hc_ctx_free(r.ctx);

  fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || !(f = fdopen(fd, "w"))) {
    bench_log("cannot write %s: %s", out, strerror(errno));
    return 1;
  }
  for (size_t i = 0; i < r.n; i++) {
    if (r.v[i].token)
      fprintf(f, "%s %llu %s\n", r.v[i].login,
              (unsigned long long)r.v[i].uid, r.v[i].token);
    free(r.v[i].token);
  }
  fclose(f);
  bench_log("%zu users logged in, %zu failed, in %.1f s", r.done, r.failed,
            (double)(bench_mono_ns() - t0) / 1e9);
  explicit_bzero(password, sizeof password);
  free(r.v);
  return r.failed || r.done != r.n ? 1 : 0;
}
