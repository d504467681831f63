/*
 * embedded.c — the embedded default: a private PostgreSQL cluster under the
 * data directory, for `heraldd --data-dir DIR` with no database configured
 * and for heraldctl on the same directory.
 *
 * Who owns the cluster's lifetime is decided by DIR/herald.lock, held with
 * flock(LOCK_EX|LOCK_NB) for as long as the owner runs; the kernel drops it
 * when the owner dies, however it dies. The owner creates the cluster
 * (initdb into DIR/pg.new, renamed to DIR/pg when complete), starts it with
 * pg_ctl, and stops it on shutdown. A cluster whose owner died is taken over
 * by the next owner: a postmaster still running is adopted; a dead one's
 * stale postmaster.pid is left to PostgreSQL, which recovers from its WAL.
 * An existing cluster is never initialised again.
 *
 * PostgreSQL listens only on a unix socket in DIR/run (mode 0700, owned by
 * the PostgreSQL user) and never on TCP (listen_addresses = ''). Local
 * connections use trust authentication: that is acceptable ONLY because
 * nobody but the PostgreSQL user (and root) can reach a socket in that
 * private directory. The settings live in DIR/pg/herald.conf, rewritten at
 * every start, so a moved data directory still works.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "embedded_int.h"
#include "store_int.h"

#ifndef HERALD_PG_BINDIR
#define HERALD_PG_BINDIR "/usr/lib/postgresql/15/bin"
#endif

/* The cluster's superuser and database, and the socket's port number (only
 * a name here: .s.PGSQL.5432 in the private directory; no TCP port). */
#define EMB_DB_USER "herald"
#define EMB_DB_NAME "herald"
#define EMB_PORT "5432"

#define START_TIMEOUT_S 120
#define READY_TIMEOUT_MS 60000
#define ADOPT_TIMEOUT_MS 15000
#define ATTACH_TIMEOUT_MS 30000

struct store_embedded {
  bool owner;
  int lock_fd; /* -1 when attached to another process's cluster */
  struct store_emb_user user;
  char dir[PATH_MAX];
  char pgdata[PATH_MAX + 16];
  char rundir[PATH_MAX + 16];
  char logpath[PATH_MAX + 16];
  char bindir[PATH_MAX];
  char conninfo[2 * PATH_MAX];
  char admin_conninfo[2 * PATH_MAX];
};

static void emb_free(struct store_embedded *e)
{
  if (!e)
    return;
  if (e->lock_fd >= 0)
    close(e->lock_fd); /* releases the flock */
  free(e);
}

static long now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Appends " key='value'" to a conninfo, quoting as libpq wants. */
static void conninfo_add(char *buf, size_t len, const char *key,
                         const char *val)
{
  size_t n = strlen(buf);

  n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s='", n ? " " : "",
                        key);
  for (const char *p = val; *p && n + 3 < len; p++) {
    if (*p == '\'' || *p == '\\')
      buf[n++] = '\\';
    buf[n++] = *p;
  }
  if (n + 2 <= len) {
    buf[n++] = '\'';
    buf[n] = '\0';
  }
}

static void build_conninfo(struct store_embedded *e)
{
  e->conninfo[0] = e->admin_conninfo[0] = '\0';
  conninfo_add(e->conninfo, sizeof e->conninfo, "host", e->rundir);
  conninfo_add(e->conninfo, sizeof e->conninfo, "port", EMB_PORT);
  conninfo_add(e->conninfo, sizeof e->conninfo, "user", EMB_DB_USER);
  memcpy(e->admin_conninfo, e->conninfo, sizeof e->conninfo);
  conninfo_add(e->conninfo, sizeof e->conninfo, "dbname", EMB_DB_NAME);
  conninfo_add(e->admin_conninfo, sizeof e->admin_conninfo, "dbname",
               "postgres");
}

/* Fills the paths from the data directory, made absolute. */
static int setup_paths(struct store_embedded *e, const char *data_dir,
                       char *err, size_t errlen)
{
  const char *bindir = getenv("HERALD_PG_BINDIR");
  struct sockaddr_un sun;

  if (!data_dir || !*data_dir) {
    snprintf(err, errlen, "no data directory given");
    return STORE_EINVAL;
  }
  if (store_emb_mkdirs(data_dir, geteuid() == 0 ? 0711 : 0700) != 0) {
    snprintf(err, errlen, "cannot create data directory %s: %s", data_dir,
             strerror(errno));
    return STORE_EINVAL;
  }
  if (!realpath(data_dir, e->dir)) {
    snprintf(err, errlen, "cannot resolve data directory %s: %s", data_dir,
             strerror(errno));
    return STORE_EINVAL;
  }
  /* These characters would need quoting in postgresql.conf's socket list;
   * refusing them is simpler and clearer than escaping three syntaxes. */
  if (strpbrk(e->dir, "'\",\\\n")) {
    snprintf(err, errlen,
             "data directory %s contains a quote, comma, backslash or "
             "newline, which the embedded PostgreSQL cannot use", e->dir);
    return STORE_EINVAL;
  }
  snprintf(e->pgdata, sizeof e->pgdata, "%s/pg", e->dir);
  snprintf(e->rundir, sizeof e->rundir, "%s/run", e->dir);
  snprintf(e->logpath, sizeof e->logpath, "%s/pg.log", e->dir);
  snprintf(e->bindir, sizeof e->bindir, "%s",
           bindir && *bindir ? bindir : HERALD_PG_BINDIR);
  if (strlen(e->rundir) + sizeof "/.s.PGSQL." EMB_PORT ".lock" >
      sizeof sun.sun_path) {
    snprintf(err, errlen,
             "data directory path %s is too long: its socket path must fit "
             "in %zu bytes", e->dir, sizeof sun.sun_path - 1);
    return STORE_EINVAL;
  }
  build_conninfo(e);
  return STORE_OK;
}

/* Opens DIR/herald.lock and tries to take it. Returns 1 when taken, 0 when
 * another process holds it (*holder gets its pid, or 0), -1 on error. */
static int take_lock(struct store_embedded *e, long *holder, char *err,
                     size_t errlen)
{
  char path[2 * PATH_MAX], buf[32];
  ssize_t n;
  int fd;

  snprintf(path, sizeof path, "%s/herald.lock", e->dir);
  /* O_CLOEXEC matters: a postmaster that inherited this descriptor would
   * keep the lock after its owner died. */
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int saved = errno;

    n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    *holder = strtol(buf, NULL, 10);
    close(fd);
    if (saved == EWOULDBLOCK)
      return 0;
    snprintf(err, errlen, "cannot lock %s: %s", path, strerror(saved));
    return -1;
  }
  /* The pid is informational (for messages); the flock is the lock. */
  n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
    /* Not fatal: only messages use it. */
  }
  e->lock_fd = fd;
  return 1;
}

static int fail_log(struct store_embedded *e, int code, char *err,
                    size_t errlen, const char *what)
{
  char tail[1024];

  store_emb_log_tail(e->logpath, 5, tail, sizeof tail);
  snprintf(err, errlen, "%s%s", what, tail);
  return code;
}

/* Runs one of PostgreSQL's programs from bindir as the cluster's user. */
static int run_pg(struct store_embedded *e, int log_fd, const char *prog,
                  const char *const *args, char *err, size_t errlen)
{
  char path[2 * PATH_MAX], msg[512] = "";
  char *argv[24];
  int argc = 0, status;

  snprintf(path, sizeof path, "%s/%s", e->bindir, prog);
  argv[argc++] = path;
  for (; *args && argc < 23; args++)
    argv[argc++] = (char *)*args;
  argv[argc] = NULL;
  status = store_emb_run(&e->user, log_fd, argv, msg, sizeof msg);
  if (status != 0) {
    char what[768];

    if (status > 0 && !msg[0])
      snprintf(msg, sizeof msg, "%s exited with status %d", prog, status);
    snprintf(what, sizeof what, "%s", msg);
    return fail_log(e, STORE_EUNAVAIL, err, errlen, what);
  }
  return STORE_OK;
}

static int chown_to_pg(struct store_embedded *e, const char *path, char *err,
                       size_t errlen)
{
  if (e->user.drop && chown(path, e->user.uid, e->user.gid) != 0) {
    snprintf(err, errlen, "cannot chown %s to %s: %s", path, e->user.name,
             strerror(errno));
    return STORE_EINVAL;
  }
  return STORE_OK;
}

/* Writes DIR/pg/herald.conf, which postgresql.conf includes. */
static int write_conf(struct store_embedded *e, char *err, size_t errlen)
{
  char path[2 * PATH_MAX], tmp[2 * PATH_MAX];
  FILE *f;
  int rc;

  snprintf(path, sizeof path, "%s/herald.conf", e->pgdata);
  snprintf(tmp, sizeof tmp, "%s/herald.conf.tmp", e->pgdata);
  f = fopen(tmp, "we");
  if (!f) {
    snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    return STORE_EINVAL;
  }
  fprintf(f,
          "# Written by Herald at every start of the embedded cluster; edits\n"
          "# are lost. No TCP: only the private unix socket directory, whose\n"
          "# mode (0700) is what makes trust authentication acceptable.\n"
          "listen_addresses = ''\n"
          "port = " EMB_PORT "\n"
          "unix_socket_directories = '%s'\n"
          "unix_socket_permissions = 0700\n",
          e->rundir);
  if (fclose(f) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    return STORE_EINVAL;
  }
  rc = chown_to_pg(e, tmp, err, errlen);
  if (rc != STORE_OK)
    return rc;
  if (rename(tmp, path) != 0) {
    snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
    return STORE_EINVAL;
  }
  return STORE_OK;
}

/* Creates the cluster: initdb into DIR/pg.new, then rename to DIR/pg, so
 * DIR/pg either holds a complete cluster or does not exist. */
static int create_cluster(struct store_embedded *e, int log_fd, char *err,
                          size_t errlen)
{
  char tmpdir[PATH_MAX + 32], conf[PATH_MAX + 64];
  const char *args[] = {"-D", tmpdir, "-U", EMB_DB_USER, "-E", "UTF8",
                        /* C: byte order and ASCII case folding, the same on
                         * every machine and needing no installed locale. */
                        "--locale=C",
                        "--auth-local=trust", "--auth-host=reject", NULL};
  FILE *f;
  int rc;

  snprintf(tmpdir, sizeof tmpdir, "%s.new", e->pgdata);
  if (access(tmpdir, F_OK) == 0 && store_emb_rmtree(tmpdir) != 0) {
    snprintf(err, errlen, "cannot remove the unfinished %s: %s", tmpdir,
             strerror(errno));
    return STORE_EINVAL;
  }
  if (mkdir(tmpdir, 0700) != 0) {
    snprintf(err, errlen, "cannot create %s: %s", tmpdir, strerror(errno));
    return STORE_EINVAL;
  }
  rc = chown_to_pg(e, tmpdir, err, errlen);
  if (rc == STORE_OK)
    rc = run_pg(e, log_fd, "initdb", args, err, errlen);
  if (rc != STORE_OK)
    return rc;
  snprintf(conf, sizeof conf, "%s/postgresql.conf", tmpdir);
  f = fopen(conf, "ae");
  if (!f || fprintf(f, "\n# Herald's settings for the embedded cluster.\n"
                       "include_if_exists = 'herald.conf'\n") < 0 ||
      fclose(f) != 0) {
    snprintf(err, errlen, "cannot append to %s: %s", conf, strerror(errno));
    return STORE_EINVAL;
  }
  if (rename(tmpdir, e->pgdata) != 0) {
    snprintf(err, errlen, "cannot rename %s to %s: %s", tmpdir, e->pgdata,
             strerror(errno));
    return STORE_EINVAL;
  }
  return STORE_OK;
}

/* What DIR/pg/postmaster.pid says. Returns the pid of a live postmaster of
 * this cluster, or 0 when none runs. A pid file whose process is gone is
 * left for PostgreSQL to clear; one whose pid now belongs to some other
 * program (reused after a reboot) is removed, because PostgreSQL would
 * refuse to start over it. */
static long running_postmaster(struct store_embedded *e)
{
  char path[2 * PATH_MAX], buf[64], comm[64];
  FILE *f;
  long pid = 0;

  snprintf(path, sizeof path, "%s/postmaster.pid", e->pgdata);
  f = fopen(path, "re");
  if (!f)
    return 0;
  if (fgets(buf, sizeof buf, f))
    pid = strtol(buf, NULL, 10);
  fclose(f);
  if (pid <= 0)
    return 0;
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
    return 0;
  snprintf(buf, sizeof buf, "/proc/%ld/comm", pid);
  f = fopen(buf, "re");
  comm[0] = '\0';
  if (f) {
    if (!fgets(comm, sizeof comm, f))
      comm[0] = '\0';
    fclose(f);
  }
  comm[strcspn(comm, "\n")] = '\0';
  if (strcmp(comm, "postgres") != 0 && strcmp(comm, "postmaster") != 0) {
    unlink(path);
    return 0;
  }
  return pid;
}

/* Polls until the server accepts connections, or timeout. */
static bool wait_ready(struct store_embedded *e, long timeout_ms)
{
  long deadline = now_ms() + timeout_ms;

  for (;;) {
    if (PQping(e->admin_conninfo) == PQPING_OK)
      return true;
    if (now_ms() >= deadline)
      return false;
    sleep_ms(100);
  }
}

static int pg_start(struct store_embedded *e, int log_fd, char *err,
                    size_t errlen)
{
  char timeout[16];
  const char *args[] = {"start", "-D", e->pgdata, "-l", e->logpath, "-w",
                        "-t", timeout, NULL};
  int rc = STORE_EUNAVAIL;

  snprintf(timeout, sizeof timeout, "%d", START_TIMEOUT_S);
  /* After a crash, the dead postmaster's children may hold its shared
   * memory for a moment; PostgreSQL then refuses to start, so retry. */
  for (int attempt = 0; attempt < 3; attempt++) {
    if (attempt)
      sleep_ms(1000);
    rc = run_pg(e, log_fd, "pg_ctl", args, err, errlen);
    if (rc == STORE_OK)
      break;
  }
  return rc;
}

static int pg_stop(struct store_embedded *e, int log_fd, char *err,
                   size_t errlen)
{
  const char *args[] = {"stop", "-D", e->pgdata, "-m", "fast", "-w", "-t",
                        "60", NULL};

  return run_pg(e, log_fd, "pg_ctl", args, err, errlen);
}

/* Creates the database "herald" when missing. */
static int ensure_database(struct store_embedded *e, char *err, size_t errlen)
{
  struct store_conn *c = NULL;
  PGresult *res = NULL;
  int rc;

  rc = store_connect(e->admin_conninfo, &c);
  if (rc == STORE_OK)
    rc = store_exec(c, &res,
                    "SELECT 1 FROM pg_database WHERE datname = '" EMB_DB_NAME "'",
                    0, NULL);
  if (rc == STORE_OK && PQntuples(res) == 0)
    rc = store_exec(c, NULL, "CREATE DATABASE " EMB_DB_NAME, 0, NULL);
  if (rc != STORE_OK)
    snprintf(err, errlen, "cannot create database %s: %s", EMB_DB_NAME,
             store_errmsg(c));
  PQclear(res);
  store_close(c);
  return rc;
}

/* The owner's work once the lock is held: create or recover, start, wait,
 * create the database. */
static int own_cluster(struct store_embedded *e, char *err, size_t errlen)
{
  char version[2 * PATH_MAX];
  struct stat st;
  int log_fd = -1, rc;
  long pid;

  e->owner = true;
  if (store_emb_user_resolve(&e->user, err, errlen) != 0)
    return STORE_EINVAL;
  snprintf(version, sizeof version, "%s/initdb", e->bindir);
  if (access(version, X_OK) != 0) {
    snprintf(err, errlen,
             "PostgreSQL server programs not found in %s (install "
             "postgresql-15, or set HERALD_PG_BINDIR)", e->bindir);
    return STORE_EINVAL;
  }
  if (store_emb_can_traverse(&e->user, e->dir, err, errlen) != 0)
    return STORE_EINVAL;
  log_fd = open(e->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", e->logpath, strerror(errno));
    rc = STORE_EINVAL;
    goto out;
  }
  rc = chown_to_pg(e, e->logpath, err, errlen);
  if (rc != STORE_OK)
    goto out;
  if (mkdir(e->rundir, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s: %s", e->rundir, strerror(errno));
    rc = STORE_EINVAL;
    goto out;
  }
  if (chmod(e->rundir, 0700) != 0 ||
      (rc = chown_to_pg(e, e->rundir, err, errlen)) != STORE_OK) {
    if (rc == STORE_OK)
      snprintf(err, errlen, "cannot chmod %s: %s", e->rundir, strerror(errno));
    rc = STORE_EINVAL;
    goto out;
  }

  snprintf(version, sizeof version, "%s/PG_VERSION", e->pgdata);
  if (stat(version, &st) != 0) {
    if (stat(e->pgdata, &st) == 0) {
      snprintf(err, errlen,
               "%s exists but is not a PostgreSQL cluster (no PG_VERSION); "
               "move it away", e->pgdata);
      rc = STORE_EINVAL;
      goto out;
    }
    rc = create_cluster(e, log_fd, err, errlen);
    if (rc != STORE_OK)
      goto out;
  }
  rc = write_conf(e, err, errlen);
  if (rc != STORE_OK)
    goto out;

  pid = running_postmaster(e);
  if (pid > 0 && !wait_ready(e, ADOPT_TIMEOUT_MS)) {
    /* A postmaster left by a dead owner that does not answer on our
     * socket (e.g. the directory moved): stop it and start afresh. */
    rc = pg_stop(e, log_fd, err, errlen);
    if (rc != STORE_OK)
      goto out;
    pid = 0;
  }
  if (pid == 0) {
    rc = pg_start(e, log_fd, err, errlen);
    if (rc != STORE_OK)
      goto out;
  }
  if (!wait_ready(e, READY_TIMEOUT_MS)) {
    rc = fail_log(e, STORE_EUNAVAIL, err, errlen,
                  "the embedded PostgreSQL did not accept connections");
    goto out;
  }
  rc = ensure_database(e, err, errlen);
out:
  if (log_fd >= 0)
    close(log_fd);
  return rc;
}

static int emb_open(const char *data_dir, bool attach,
                    struct store_embedded **out, char *err, size_t errlen)
{
  struct store_embedded *e;
  long holder = 0;
  int rc, got;

  if (errlen)
    err[0] = '\0';
  e = calloc(1, sizeof *e);
  if (!e) {
    snprintf(err, errlen, "out of memory");
    return STORE_EINTERNAL;
  }
  e->lock_fd = -1;
  rc = setup_paths(e, data_dir, err, errlen);
  if (rc != STORE_OK)
    goto out;
  got = take_lock(e, &holder, err, errlen);
  if (got < 0) {
    rc = STORE_EINVAL;
    goto out;
  }
  if (got == 1) {
    rc = own_cluster(e, err, errlen);
    if (rc != STORE_OK && e->owner) {
      /* Leave nothing running that nobody owns. */
      char ignore[64];
      int log_fd = open(e->logpath, O_WRONLY | O_APPEND | O_CLOEXEC);

      if (log_fd >= 0 && running_postmaster(e) > 0)
        pg_stop(e, log_fd, ignore, sizeof ignore);
      if (log_fd >= 0)
        close(log_fd);
    }
    goto out;
  }
  if (!attach) {
    snprintf(err, errlen,
             "data directory %s is in use by another process (pid %ld holds "
             "%s/herald.lock): is heraldd already running?",
             e->dir, holder, e->dir);
    rc = STORE_EEXISTS;
    goto out;
  }
  /* Attach: the holder (normally a running heraldd) owns the cluster; it
   * may still be starting it, so wait for the database to answer. */
  {
    long deadline = now_ms() + ATTACH_TIMEOUT_MS;
    struct store_conn *c = NULL;

    for (;;) {
      rc = store_connect(e->conninfo, &c);
      if (rc == STORE_OK || now_ms() >= deadline)
        break;
      store_close(c);
      c = NULL;
      sleep_ms(200);
    }
    if (rc != STORE_OK)
      snprintf(err, errlen,
               "data directory %s is in use by pid %ld, but its PostgreSQL "
               "did not answer within %d s: %s", e->dir, holder,
               ATTACH_TIMEOUT_MS / 1000, store_errmsg(c));
    store_close(c);
  }
out:
  if (rc == STORE_OK)
    *out = e;
  else
    emb_free(e);
  return rc;
}

int store_embedded_start(const char *data_dir, struct store_embedded **out,
                         char *err, size_t errlen)
{
  return emb_open(data_dir, false, out, err, errlen);
}

int store_embedded_attach(const char *data_dir, struct store_embedded **out,
                          char *err, size_t errlen)
{
  return emb_open(data_dir, true, out, err, errlen);
}

const char *store_embedded_conninfo(const struct store_embedded *e)
{
  return e->conninfo;
}

bool store_embedded_owner(const struct store_embedded *e)
{
  return e->owner;
}

int store_embedded_stop(struct store_embedded *e)
{
  char err[512];
  int rc = STORE_OK, log_fd;

  if (!e)
    return STORE_OK;
  if (e->owner) {
    log_fd = open(e->logpath, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (log_fd < 0 || pg_stop(e, log_fd, err, sizeof err) != STORE_OK)
      rc = STORE_EUNAVAIL;
    if (log_fd >= 0)
      close(log_fd);
  }
  emb_free(e);
  return rc;
}

int store_default_data_dir(char *buf, size_t len)
{
  const char *env = getenv("HERALD_DATA_DIR"), *home;
  struct passwd *pw;
  int n;

  if (env && *env)
    n = snprintf(buf, len, "%s", env);
  else if (geteuid() == 0)
    n = snprintf(buf, len, "/var/lib/herald");
  else if ((env = getenv("XDG_DATA_HOME")) && env[0] == '/')
    n = snprintf(buf, len, "%s/herald", env);
  else {
    home = getenv("HOME");
    if (!home || !*home) {
      pw = getpwuid(geteuid());
      home = pw ? pw->pw_dir : NULL;
    }
    if (!home || !*home)
      return STORE_EINVAL;
    n = snprintf(buf, len, "%s/.local/share/herald", home);
  }
  return n > 0 && (size_t)n < len ? STORE_OK : STORE_EINVAL;
}
