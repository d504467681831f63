/*
 * test_store_embedded.c — the embedded PostgreSQL manager with the real
 * PostgreSQL 15 binaries: create, stop, start again with the data kept;
 * the lock contract; recovery after the owner or the postmaster died; and
 * running as an unprivileged user when root.
 *
 * Each test uses its own temporary data directory, so they run in
 * parallel. They need the server binaries (HERALD_PG_BINDIR or the built-in
 * directory), not HERALD_TEST_PG.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "store.h"

static char tmp_root[256];

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w)
{
  (void)s;
  (void)f;
  (void)w;
  return remove(p);
}

static void cleanup(void)
{
  if (tmp_root[0])
    nftw(tmp_root, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory for one test; data dirs go below it. Root's mkdtemp
 * makes it 0700, which the PostgreSQL user could not enter: open it up. */
static const char *tmp_dir(void)
{
  const char *bindir = getenv("HERALD_PG_BINDIR");
  char initdb[512];

  snprintf(initdb, sizeof initdb, "%s/initdb",
           bindir && *bindir ? bindir : "/usr/lib/postgresql/15/bin");
  if (access(initdb, X_OK) != 0) {
    const char *ci = getenv("CI");

    if (ci && strcmp(ci, "true") == 0)
      CHECK_FAIL("PostgreSQL server binaries missing (%s) under CI=true", initdb);
    CHECK_SKIP("PostgreSQL server binaries missing (%s)", initdb);
  }
  snprintf(tmp_root, sizeof tmp_root, "/tmp/herald-emb-XXXXXX");
  CHECK(mkdtemp(tmp_root) != NULL);
  CHECK_INT(chmod(tmp_root, 0711), ==, 0);
  atexit(cleanup);
  return tmp_root;
}

static void data_dir(char *buf, size_t len, const char *name)
{
  snprintf(buf, len, "%s/%s", tmp_dir(), name);
}

static long postmaster_pid(const char *dir)
{
  char path[512], line[64] = "";
  FILE *f;

  snprintf(path, sizeof path, "%s/pg/postmaster.pid", dir);
  f = fopen(path, "r");
  if (!f)
    return 0;
  if (!fgets(line, sizeof line, f))
    line[0] = '\0';
  fclose(f);
  return strtol(line, NULL, 10);
}

static bool alive(long pid)
{
  return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void wait_dead(long pid)
{
  for (int i = 0; i < 200 && alive(pid); i++)
    usleep(50000);
  CHECK(!alive(pid));
}

/* How many users the cluster's herald database holds: the tests' way of
 * asking "is the data from before still there". */
static int count_rows(const char *conninfo)
{
  struct store_conn *c = NULL;
  struct store_user *list = NULL;
  size_t n = 0;

  if (store_connect(conninfo, &c) != STORE_OK)
    CHECK_FAIL("connect: %s", store_errmsg(c));
  CHECK_INT(store_migrate(c, NULL), ==, STORE_OK);
  CHECK_INT(store_user_list(c, NULL, &list, &n), ==, STORE_OK);
  free(list);
  store_close(c);
  return (int)n;
}

static void add_user(const char *conninfo, const char *login)
{
  struct store_conn *c = NULL;
  struct store_user_new u = {.login = login, .display_name = login};

  if (store_connect(conninfo, &c) != STORE_OK)
    CHECK_FAIL("connect: %s", store_errmsg(c));
  CHECK_INT(store_migrate(c, NULL), ==, STORE_OK);
  if (store_user_add(c, &u, NULL) != STORE_OK)
    CHECK_FAIL("user add: %s", store_errmsg(c));
  store_close(c);
}

TEST(start_stop_start_keeps_data)
{
  char dir[512], err[1024] = "";
  struct store_embedded *e = NULL;
  struct stat st;
  long pid;

  data_dir(dir, sizeof dir, "data");
  if (store_embedded_start(dir, &e, err, sizeof err) != STORE_OK)
    CHECK_FAIL("start: %s", err);
  CHECK(store_embedded_owner(e));
  CHECK_CONTAINS(store_embedded_conninfo(e), "dbname='herald'");
  add_user(store_embedded_conninfo(e), "kept");
  pid = postmaster_pid(dir);
  CHECK(alive(pid));
  /* Root hands the cluster to an unprivileged user. */
  if (geteuid() == 0) {
    char proc[64];
    struct passwd *pw = getpwnam(getenv("HERALD_PG_USER") ? getenv("HERALD_PG_USER")
                                                          : "postgres");

    CHECK(pw != NULL);
    snprintf(proc, sizeof proc, "/proc/%ld", pid);
    CHECK_INT(stat(proc, &st), ==, 0);
    CHECK_INT(st.st_uid, ==, pw->pw_uid);
  }
  /* The socket directory is private; there is no TCP listener. */
  {
    char run[600];

    snprintf(run, sizeof run, "%s/run", dir);
    CHECK_INT(stat(run, &st), ==, 0);
    CHECK_INT(st.st_mode & 0777, ==, 0700);
  }
  CHECK_INT(store_embedded_stop(e), ==, STORE_OK);
  wait_dead(pid);
  CHECK_INT(postmaster_pid(dir), ==, 0);

  e = NULL;
  if (store_embedded_start(dir, &e, err, sizeof err) != STORE_OK)
    CHECK_FAIL("second start: %s", err);
  CHECK_INT(count_rows(store_embedded_conninfo(e)), ==, 1);
  CHECK_INT(store_embedded_stop(e), ==, STORE_OK);
  CHECK_INT(store_embedded_stop(NULL), ==, STORE_OK);
}

TEST(lock_refuses_second_owner)
{
  char dir[512], err[1024] = "";
  struct store_embedded *e = NULL, *e2 = NULL, *a = NULL;
  long pid;

  data_dir(dir, sizeof dir, "data");
  if (store_embedded_start(dir, &e, err, sizeof err) != STORE_OK)
    CHECK_FAIL("start: %s", err);
  pid = postmaster_pid(dir);
  /* flock locks belong to the open file description, so a second open in
   * the same process conflicts just as another process would. */
  CHECK_INT(store_embedded_start(dir, &e2, err, sizeof err), ==, STORE_EEXISTS);
  CHECK_CONTAINS(err, "is in use by another process");
  CHECK_CONTAINS(err, "herald.lock");
  /* heraldctl's attach uses the running cluster and stops nothing. */
  if (store_embedded_attach(dir, &a, err, sizeof err) != STORE_OK)
    CHECK_FAIL("attach: %s", err);
  CHECK(!store_embedded_owner(a));
  add_user(store_embedded_conninfo(a), "via_attach");
  CHECK_INT(store_embedded_stop(a), ==, STORE_OK);
  CHECK(alive(pid));
  CHECK_INT(count_rows(store_embedded_conninfo(e)), ==, 1);
  CHECK_INT(store_embedded_stop(e), ==, STORE_OK);
  wait_dead(pid);

  /* With nobody holding the lock, attach owns the cluster's lifetime. */
  if (store_embedded_attach(dir, &a, err, sizeof err) != STORE_OK)
    CHECK_FAIL("attach as owner: %s", err);
  CHECK(store_embedded_owner(a));
  pid = postmaster_pid(dir);
  CHECK(alive(pid));
  CHECK_INT(store_embedded_stop(a), ==, STORE_OK);
  wait_dead(pid);
}

/* Starts the cluster in a child that reports the postmaster pid and then
 * dies by SIGKILL (the owner crashed); optionally the child kills the
 * postmaster too first (both died: a stale postmaster.pid). */
static long crash_owner(const char *dir, bool kill_postmaster)
{
  int fds[2];
  long pid = 0;
  pid_t child;
  int st;

  CHECK_INT(pipe(fds), ==, 0);
  child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    struct store_embedded *e = NULL;
    char err[1024];

    close(fds[0]);
    if (store_embedded_start(dir, &e, err, sizeof err) != STORE_OK) {
      fprintf(stderr, "child start: %s\n", err);
      _exit(1);
    }
    add_user(store_embedded_conninfo(e), "before_crash");
    pid = postmaster_pid(dir);
    if (kill_postmaster)
      kill((pid_t)pid, SIGKILL);
    if (write(fds[1], &pid, sizeof pid) != sizeof pid)
      _exit(2);
    pause();
    _exit(0);
  }
  close(fds[1]);
  CHECK_INT(read(fds[0], &pid, sizeof pid), ==, (long long)sizeof pid);
  close(fds[0]);
  CHECK_INT(kill(child, SIGKILL), ==, 0);
  CHECK_INT(waitpid(child, &st, 0), ==, child);
  return pid;
}

TEST(owner_killed_postmaster_adopted)
{
  char dir[512], err[1024] = "";
  struct store_embedded *e = NULL;
  long pid;

  data_dir(dir, sizeof dir, "data");
  pid = crash_owner(dir, false);
  /* The postmaster outlives its owner (it runs in its own session). */
  CHECK(alive(pid));
  if (store_embedded_start(dir, &e, err, sizeof err) != STORE_OK)
    CHECK_FAIL("start after crash: %s", err);
  CHECK_INT(postmaster_pid(dir), ==, pid); /* adopted, not restarted */
  CHECK_INT(count_rows(store_embedded_conninfo(e)), ==, 1);
  CHECK_INT(store_embedded_stop(e), ==, STORE_OK);
  wait_dead(pid);
}

TEST(stale_postmaster_pid_recovered)
{
  char dir[512], err[1024] = "";
  struct store_embedded *e = NULL;
  long pid;

  data_dir(dir, sizeof dir, "data");
  pid = crash_owner(dir, true);
  wait_dead(pid);
  CHECK_INT(postmaster_pid(dir), ==, pid); /* stale file left behind */
  if (store_embedded_start(dir, &e, err, sizeof err) != STORE_OK)
    CHECK_FAIL("start over a stale pid file: %s", err);
  CHECK_INT(postmaster_pid(dir), !=, pid);
  CHECK_INT(count_rows(store_embedded_conninfo(e)), ==, 1);
  CHECK_INT(store_embedded_stop(e), ==, STORE_OK);
}

/* After a reboot the stale pid may belong to an unrelated live process;
 * PostgreSQL would refuse to start over it, the manager must not. */
TEST(stale_pid_reused_by_other_process)
{
  char dir[512], path[600], err[1024] = "", *text = NULL;
  struct store_embedded *e = NULL;
  size_t len = 0;
  FILE *f;
  long pid;
  pid_t sleeper;

  data_dir(dir, sizeof dir, "data");
  pid = crash_owner(dir, true);
  wait_dead(pid);
  sleeper = fork();
  CHECK(sleeper >= 0);
  if (sleeper == 0) {
    execl("/bin/sleep", "sleep", "60", (char *)NULL);
    _exit(127);
  }
  /* Rewrite the pid file's first line with the sleeper's pid. */
  snprintf(path, sizeof path, "%s/pg/postmaster.pid", dir);
  f = fopen(path, "r");
  CHECK(f != NULL);
  CHECK_INT(getdelim(&text, &len, '\0', f), >, 0);
  fclose(f);
  f = fopen(path, "w");
  CHECK(f != NULL);
  fprintf(f, "%ld%s", (long)sleeper, strchr(text, '\n'));
  fclose(f);
  free(text);
  usleep(100000); /* let the sleeper exec, so its name is "sleep" */
  if (store_embedded_start(dir, &e, err, sizeof err) != STORE_OK)
    CHECK_FAIL("start over a reused pid: %s", err);
  CHECK_INT(count_rows(store_embedded_conninfo(e)), ==, 1);
  CHECK_INT(store_embedded_stop(e), ==, STORE_OK);
  kill(sleeper, SIGKILL);
  waitpid(sleeper, NULL, 0);
}

/* An initdb that was interrupted leaves DIR/pg.new; the next start
 * discards it and creates the cluster properly. */
TEST(interrupted_initdb_discarded)
{
  char dir[512], junk[600], err[1024] = "";
  struct store_embedded *e = NULL;

  data_dir(dir, sizeof dir, "data");
  CHECK_INT(mkdir(dir, 0711), ==, 0);
  snprintf(junk, sizeof junk, "%s/pg.new", dir);
  CHECK_INT(mkdir(junk, 0700), ==, 0);
  snprintf(junk, sizeof junk, "%s/pg.new/half-written", dir);
  CHECK_INT(close(open(junk, O_CREAT | O_WRONLY, 0600)), ==, 0);
  if (store_embedded_start(dir, &e, err, sizeof err) != STORE_OK)
    CHECK_FAIL("start: %s", err);
  CHECK_INT(access(junk, F_OK), ==, -1);
  CHECK_INT(count_rows(store_embedded_conninfo(e)), ==, 0);
  CHECK_INT(store_embedded_stop(e), ==, STORE_OK);
}

TEST(unreachable_directory_explained)
{
  char parent[512], dir[600], err[1024] = "";
  struct store_embedded *e = NULL;

  if (geteuid() != 0)
    CHECK_SKIP("only root hands the cluster to another user");
  snprintf(parent, sizeof parent, "%s/private", tmp_dir());
  CHECK_INT(mkdir(parent, 0700), ==, 0);
  snprintf(dir, sizeof dir, "%s/data", parent);
  CHECK_INT(store_embedded_start(dir, &e, err, sizeof err), ==, STORE_EINVAL);
  CHECK_CONTAINS(err, "cannot enter");
  CHECK_CONTAINS(err, parent);
  CHECK(e == NULL);
}

TEST(bad_user_and_binaries_explained)
{
  char dir[512], err[1024] = "";
  struct store_embedded *e = NULL;

  data_dir(dir, sizeof dir, "data");
  if (geteuid() == 0) {
    setenv("HERALD_PG_USER", "no_such_user_here", 1);
    CHECK_INT(store_embedded_start(dir, &e, err, sizeof err), ==, STORE_EINVAL);
    CHECK_CONTAINS(err, "user \"no_such_user_here\" does not exist");
    unsetenv("HERALD_PG_USER");
  }
  setenv("HERALD_PG_BINDIR", "/nonexistent/bin", 1);
  CHECK_INT(store_embedded_start(dir, &e, err, sizeof err), ==, STORE_EINVAL);
  CHECK_CONTAINS(err, "PostgreSQL server programs not found in /nonexistent/bin");
  unsetenv("HERALD_PG_BINDIR");
  CHECK(e == NULL);
}

TEST(default_data_dir)
{
  char buf[512];

  setenv("HERALD_DATA_DIR", "/srv/herald", 1);
  CHECK_INT(store_default_data_dir(buf, sizeof buf), ==, STORE_OK);
  CHECK_STR(buf, "/srv/herald");
  unsetenv("HERALD_DATA_DIR");
  CHECK_INT(store_default_data_dir(buf, sizeof buf), ==, STORE_OK);
  if (geteuid() == 0) {
    CHECK_STR(buf, "/var/lib/herald");
  } else {
    CHECK_CONTAINS(buf, "herald");
  }
  CHECK_INT(store_default_data_dir(buf, 4), ==, STORE_EINVAL);
}

TEST_MAIN()
