/*
 * e2e.c — heraldd as a child process, with its own database and port (see
 * e2e.h).
 */
#include "e2e.h"
#include "check.h"
#include "pgtest.h"

#include "hcrypto.h"
#include "store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS 8

static struct e2e_server *servers[MAX_SERVERS];
static int nservers;
/* What the exit handler needs of each server, copied here: a test may keep
 * its struct e2e_server on a stack that is gone by then, and reading it
 * there would kill, unlink and `rm -rf` whatever the reused stack holds.
 * The data directory and the clock file derive from the log path. */
static char log_paths[MAX_SERVERS][256];
static pid_t pids[MAX_SERVERS];

/* The slot of `srv` in the arrays above, or -1. */
static int slot_of(const struct e2e_server *srv)
{
  for (int i = 0; i < nservers; i++)
    if (strcmp(log_paths[i], srv->log) == 0)
      return i;
  return -1;
}

static void track_pid(const struct e2e_server *srv)
{
  int i = slot_of(srv);

  if (i >= 0)
    pids[i] = srv->pid > 0 ? srv->pid : 0;
}

uint64_t e2e_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void e2e_dump_logs(void)
{
  for (int i = 0; i < nservers; i++) {
    char cmd[400];
    fprintf(stderr, "---- %s (last 40 lines) ----\n", log_paths[i]);
    snprintf(cmd, sizeof(cmd), "tail -n 40 %.255s >&2", log_paths[i]);
    if (system(cmd) != 0)
      fprintf(stderr, "(no log)\n");
  }
}

/* ------------------------------------------------------------------------ */
/* Log hygiene: the registered secrets (e2e.h). */

static char **secrets;
static size_t nsecrets, capsecrets;

void e2e_secret(const char *s)
{
  if (!s || strlen(s) < E2E_SECRET_MIN)
    return;
  for (size_t i = 0; i < nsecrets; i++)
    if (strcmp(secrets[i], s) == 0)
      return;
  if (nsecrets == capsecrets) {
    size_t cap = capsecrets ? capsecrets * 2 : 64;
    char **n = realloc(secrets, cap * sizeof(*n));

    if (!n)
      CHECK_FAIL("out of memory");
    secrets = n;
    capsecrets = cap;
  }
  if (!(secrets[nsecrets] = strdup(s)))
    CHECK_FAIL("out of memory");
  nsecrets++;
}

int e2e_log_leak(const char *path, char *line, size_t n)
{
  FILE *f = fopen(path, "r");
  char *buf = NULL;
  size_t cap = 0;
  int found = 0;

  if (!f)
    return 0;
  /* getline: a log line may be long (a truncated 1 KiB line, or lws') */
  while (!found && getline(&buf, &cap, f) >= 0) {
    for (size_t i = 0; i < nsecrets && !found; i++) {
      if (strstr(buf, secrets[i])) {
        snprintf(line, n, "%s", buf);
        found = 1;
      }
    }
  }
  free(buf);
  fclose(f);
  return found;
}

/* A server's log must hold no secret; 0 or -1 (said on stderr). */
static int scan_log(const char *path)
{
  char line[1200];

  if (!e2e_log_leak(path, line, sizeof(line)))
    return 0;
  fprintf(stderr, "LOG LEAK: %s contains a password, token or message body "
          "the test registered, in this line:\n%s", path, line);
  return -1;
}

static void at_exit(void)
{
  int leaked = 0;

  for (int i = 0; i < nservers; i++) {
    char cmd[320], path[300];

    if (pids[i] > 0) {
      kill(pids[i], SIGKILL);
      waitpid(pids[i], NULL, 0);
      pids[i] = 0;
    }
    if (scan_log(log_paths[i]) != 0)
      leaked = 1;
    snprintf(path, sizeof(path), "%.255s.clock", log_paths[i]);
    unlink(path);
    snprintf(cmd, sizeof(cmd), "rm -rf '%.255s.d'", log_paths[i]);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s.d\n", log_paths[i]);
  }
  for (size_t i = 0; i < nsecrets; i++)
    free(secrets[i]);
  free(secrets);
  secrets = NULL;
  nsecrets = capsecrets = 0;
  if (leaked)
    _exit(1);   /* exit() may not be called again from an atexit handler */
}

/* A port the kernel says is free now; heraldd binds it with SO_REUSEADDR,
 * and later starts reuse it. */
static int free_port(void)
{
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;

  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    CHECK_FAIL("cannot find a free port: %s", strerror(errno));
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

void e2e_server_init(struct e2e_server *srv)
{
  char db[sizeof(srv->db)];

  pgtest_db_new(db, sizeof(db));
  e2e_server_init_db(srv, db);
}

void e2e_server_init_db(struct e2e_server *srv, const char *conninfo)
{
  static int registered;

  memset(srv, 0, sizeof(*srv));
  snprintf(srv->db, sizeof(srv->db), "%s", conninfo);
  srv->port = free_port();
  snprintf(srv->url, sizeof(srv->url), "ws://127.0.0.1:%d", srv->port);
  snprintf(srv->log, sizeof(srv->log), "%s/heraldd-%d-%d.log",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
           nservers);
  unlink(srv->log);
  snprintf(srv->dir, sizeof(srv->dir), "%s.d", srv->log);
  if (nservers < MAX_SERVERS) {
    snprintf(log_paths[nservers], sizeof(log_paths[0]), "%s", srv->log);
    servers[nservers++] = srv;
  }
  if (!registered) {
    registered = 1;
    atexit(at_exit);
  }
  if (hcr_init() != HCR_OK)
    CHECK_FAIL("libsodium init failed");
}

static int log_count(const char *path, const char *needle)
{
  FILE *f = fopen(path, "r");
  char line[2048];
  int n = 0;

  if (!f)
    return 0;
  while (fgets(line, sizeof(line), f))
    if (strstr(line, needle))
      n++;
  fclose(f);
  return n;
}

void e2e_server_start(struct e2e_server *srv, const char *const *extra)
{
  const char *bin = getenv("HERALDD");
  char listen[32];
  const char *argv[64];
  int argc = 0, fd;
  uint64_t deadline;

  if (!bin)
    CHECK_FAIL("HERALDD is not set");
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", srv->port);
  argv[argc++] = bin;
  argv[argc++] = "--db";
  argv[argc++] = srv->db;
  argv[argc++] = "--listen";
  argv[argc++] = listen;
  argv[argc++] = "--data-dir";
  argv[argc++] = srv->dir;
  if (srv->clock_file[0]) {
    argv[argc++] = "--test-clock-file";
    argv[argc++] = srv->clock_file;
  }
  for (; extra && *extra && argc < 62; extra++)
    argv[argc++] = *extra;
  argv[argc] = NULL;

  srv->starts++;
  srv->pid = fork();
  if (srv->pid < 0)
    CHECK_FAIL("fork: %s", strerror(errno));
  if (srv->pid == 0) {
    fd = open(srv->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    /* Freed memory kept in ASan's quarantine would read as server memory
     * in the tests that bound it; keep the quarantine small. */
    setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1:"
           "quarantine_size_mb=16", 1);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  track_pid(srv);
  deadline = e2e_now_ms() + 30000;
  while (log_count(srv->log, "listening on") < srv->starts) {
    int st;
    if (waitpid(srv->pid, &st, WNOHANG) == srv->pid) {
      srv->pid = 0;
      track_pid(srv);
      e2e_dump_logs();
      CHECK_FAIL("heraldd exited during start-up (status %d)", st);
    }
    if (e2e_now_ms() > deadline) {
      e2e_dump_logs();
      CHECK_FAIL("heraldd did not listen within 30 s");
    }
    usleep(20000);
  }
}

int e2e_server_signal(struct e2e_server *srv, int sig)
{
  int st = 0;

  if (srv->pid <= 0)
    return -1;
  if (sig)
    kill(srv->pid, sig);
  waitpid(srv->pid, &st, 0);
  srv->pid = 0;
  track_pid(srv);
  if (scan_log(srv->log) != 0)
    CHECK_FAIL("a secret appeared in the server's log (above)");
  return st;
}

void e2e_server_stop(struct e2e_server *srv)
{
  int st = e2e_server_signal(srv, SIGTERM);

  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    e2e_dump_logs();
    CHECK_FAIL("heraldd did not exit cleanly after SIGTERM (status 0x%x)", st);
  }
}

int e2e_log_count(const struct e2e_server *srv, const char *needle)
{
  return log_count(srv->log, needle);
}

long e2e_server_rss_kb(const struct e2e_server *srv)
{
  char path[64], line[256];
  long kb = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/status", (int)srv->pid);
  if (!(f = fopen(path, "r")))
    return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

static struct store_conn *conn_of(struct e2e_server *srv)
{
  struct store_conn *c = NULL;
  int applied;

  if (store_connect(srv->db, &c) != STORE_OK)
    CHECK_FAIL("connect: %s", store_errmsg(c));
  if (store_migrate(c, &applied) != STORE_OK)
    CHECK_FAIL("migrate: %s", store_errmsg(c));
  return c;
}

static void fill_user(struct store_user_new *u, const char *login,
                      char hash[HCR_PWHASH_LEN])
{
  char pw[128];

  snprintf(pw, sizeof(pw), "pw-%s", login);
  e2e_secret(pw);
  if (hcr_password_hash(pw, hash) != HCR_OK)
    CHECK_FAIL("password hash failed");
  memset(u, 0, sizeof(*u));
  u->login = login;
  u->display_name = login;
  u->password_hash = hash;
  u->time_zone = "UTC";
  u->role = STORE_ROLE_STAFF;
}

int64_t e2e_org(struct e2e_server *srv, const char *admin_login)
{
  struct store_conn *c = conn_of(srv);
  struct store_user_new u;
  char hash[HCR_PWHASH_LEN];
  int64_t id = 0;

  fill_user(&u, admin_login, hash);
  if (store_org_init(c, "Test Org", &u, &id) != STORE_OK)
    CHECK_FAIL("org init: %s", store_errmsg(c));
  store_close(c);
  pgtest_exec(srv->db, "DELETE FROM quiet_windows WHERE user_id IS NULL");
  return id;
}

void e2e_quiet_org_default(struct e2e_server *srv)
{
  /* The windows migration 0001 installs: each weekday's 00:00-08:00 and
   * 20:00-24:00, Saturday and Sunday whole (dow 0 is Sunday). */
  pgtest_exec(srv->db,
              "INSERT INTO quiet_windows (user_id, day_of_week, start_minute,"
              " end_minute) SELECT NULL, d, w.s, w.e"
              " FROM generate_series(1, 5) AS d,"
              " (VALUES (0, 480), (1200, 1440)) AS w(s, e)"
              " UNION ALL VALUES (NULL::bigint, 0, 0, 1440), (NULL, 6, 0, 1440)");
}

int64_t e2e_user(struct e2e_server *srv, const char *login)
{
  return e2e_user_tz(srv, login, "UTC");
}

int64_t e2e_user_tz(struct e2e_server *srv, const char *login,
                    const char *tz)
{
  struct store_conn *c = conn_of(srv);
  struct store_user_new u;
  char hash[HCR_PWHASH_LEN];
  int64_t id = 0;

  fill_user(&u, login, hash);
  u.time_zone = tz;
  if (store_user_add(c, &u, &id) != STORE_OK)
    CHECK_FAIL("user add %s: %s", login, store_errmsg(c));
  store_close(c);
  return id;
}

int64_t e2e_group(struct e2e_server *srv, const char *title, int64_t owner,
                  const int64_t *members, size_t n)
{
  struct store_conn *c = conn_of(srv);
  int64_t id = 0;

  if (store_group_create(c, title, owner, STORE_TRACK_ALL, members, n, &id) !=
      STORE_OK)
    CHECK_FAIL("group create %s: %s", title, store_errmsg(c));
  store_close(c);
  return id;
}

int64_t e2e_bot(struct e2e_server *srv, const char *name, int64_t owner,
                const int64_t *convs, size_t n, char token[44])
{
  struct store_conn *c = conn_of(srv);
  uint8_t hash[HCR_TOKEN_HASH_LEN];
  int64_t id = 0;

  hcr_token_new(token);
  e2e_secret(token);
  CHECK_INT(hcr_token_hash(token, hash), ==, HCR_OK);
  if (store_bot_create(c, name, owner, hash, convs, n, &id) != STORE_OK)
    CHECK_FAIL("bot create %s: %s", name, store_errmsg(c));
  store_close(c);
  return id;
}

long long e2e_query_int(struct e2e_server *srv, const char *sql)
{
  return pgtest_query_int(srv->db, sql);
}

/* ------------------------------------------------------------------------ */
/* The test clock. */

static int64_t real_now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Replaces the file in one rename, so the server never reads half of it. */
static void write_clock_file(struct e2e_server *srv)
{
  char tmp[320];
  FILE *f;

  snprintf(tmp, sizeof(tmp), "%s.tmp", srv->clock_file);
  if (!(f = fopen(tmp, "w")))
    CHECK_FAIL("cannot write %s: %s", tmp, strerror(errno));
  fprintf(f, "%lld\n", (long long)srv->clock_offset_ms);
  if (fclose(f) != 0 || rename(tmp, srv->clock_file) != 0)
    CHECK_FAIL("cannot write %s: %s", srv->clock_file, strerror(errno));
}

void e2e_clock_use(struct e2e_server *srv, int64_t at_ms)
{
  snprintf(srv->clock_file, sizeof(srv->clock_file), "%s.clock", srv->log);
  srv->clock_offset_ms = at_ms ? at_ms - real_now_ms() : 0;
  write_clock_file(srv);
}

void e2e_clock_set(struct e2e_server *srv, int64_t at_ms)
{
  int64_t offset = at_ms - real_now_ms();
  int before;
  uint64_t deadline;

  if (!srv->clock_file[0])
    CHECK_FAIL("e2e_clock_set: call e2e_clock_use before starting");
  /* The server refuses to go back; a target a moment behind the clock
   * (the test computed it from an earlier now) is the clock as it is. */
  if (offset < srv->clock_offset_ms)
    offset = srv->clock_offset_ms;
  srv->clock_offset_ms = offset;
  write_clock_file(srv);
  if (srv->pid <= 0)
    return;
  before = log_count(srv->log, "ms applied (now");
  kill(srv->pid, SIGUSR2);
  deadline = e2e_now_ms() + 30000;
  while (log_count(srv->log, "ms applied (now") <= before) {
    if (e2e_now_ms() > deadline) {
      e2e_dump_logs();
      CHECK_FAIL("heraldd did not apply the test clock within 30 s");
    }
    usleep(10000);
  }
}

void e2e_clock_advance(struct e2e_server *srv, int64_t seconds)
{
  e2e_clock_set(srv, e2e_clock_now_ms(srv) + seconds * 1000);
}

int64_t e2e_clock_now_ms(const struct e2e_server *srv)
{
  return real_now_ms() + srv->clock_offset_ms;
}

int64_t e2e_ms(struct e2e_server *srv, const char *timestamptz)
{
  char sql[256];

  snprintf(sql, sizeof(sql),
           "SELECT floor(extract(epoch FROM timestamptz '%s') * 1000)",
           timestamptz);
  return (int64_t)pgtest_query_int(srv->db, sql);
}
