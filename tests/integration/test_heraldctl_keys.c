/*
 * test_heraldctl_keys.c — `heraldctl keys rotate`, the real binary, against
 * a fresh database holding data keys wrapped under a real master key:
 * every key ends up under the new master with the same data key inside,
 * the old master is retired, the key file is replaced; a run killed half
 * way resumes with the same new key (FILE.next reused); a run that stopped
 * between retiring and renaming finishes with the rename; and the
 * refusals (HERALD_MASTER_KEY, no key file, a key the database does not
 * know, a rotation already running, bad options).
 *
 * The binary's path is compiled in (HERALDCTL_PATH, from CMake) and may be
 * overridden with env HERALDCTL.
 */
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "hcrypto.h"
#include "pgtest.h"
#include "store.h"

#ifndef HERALDCTL_PATH
#define HERALDCTL_PATH "heraldctl"
#endif

#define NUSERS 12

struct run {
  int status; /* exit code, or -1 when killed */
  char out[8192];
  char err[8192];
};

/* The installation under test: a database, a key file, users with data
 * keys (the plain keys kept here to compare after the rotation). */
static struct {
  char db[1024];
  char dir[256];
  char keyfile[300];
  char next[310];
  struct store_conn *c;
  int64_t users[NUSERS];
  uint8_t deks[NUSERS][HCR_DEK_LEN];
  int64_t erased;
  int64_t old_id;
} w;

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *ftw)
{
  (void)s;
  (void)f;
  (void)ftw;
  return remove(p);
}

static void cleanup(void)
{
  if (w.dir[0])
    nftw(w.dir, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

static void slurp(const char *path, char *buf, size_t len)
{
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, len - 1, f) : 0;

  buf[n] = '\0';
  if (f)
    fclose(f);
}

/* Starts heraldctl with args (NULL-terminated), stdout and stderr to files
 * in the work directory; `env` ("NAME=VALUE" or NULL) is added to its
 * environment. Returns the pid. */
static pid_t ctl_start(const char *env, const char *const *args)
{
  const char *bin = getenv("HERALDCTL") ? getenv("HERALDCTL") : HERALDCTL_PATH;
  char out[300], err[300];
  const char *argv[32];
  int n = 0;
  pid_t pid;

  snprintf(out, sizeof out, "%s/stdout", w.dir);
  snprintf(err, sizeof err, "%s/stderr", w.dir);
  argv[n++] = bin;
  for (; *args && n < 31; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    setsid();
    if (env)
      putenv((char *)env);
    if (!freopen("/dev/null", "r", stdin) || !freopen(out, "w", stdout) ||
        !freopen(err, "w", stderr))
      _exit(126);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  return pid;
}

static void ctl_wait(pid_t pid, struct run *r)
{
  char out[300], err[300];
  int st;

  CHECK_INT(waitpid(pid, &st, 0), ==, pid);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  snprintf(out, sizeof out, "%s/stdout", w.dir);
  snprintf(err, sizeof err, "%s/stderr", w.dir);
  slurp(out, r->out, sizeof r->out);
  slurp(err, r->err, sizeof r->err);
}

#define CTL_ENV(r, env, ...)                                                 \
  do {                                                                       \
    const char *args_[] = {__VA_ARGS__, NULL};                               \
    ctl_wait(ctl_start((env), args_), (r));                                  \
  } while (0)
#define CTL(r, ...) CTL_ENV(r, NULL, __VA_ARGS__)
#define ROTATE(r, ...)                                                       \
  CTL(r, "--db", w.db, "keys", "rotate", "--master-key-file", w.keyfile,    \
      ##__VA_ARGS__)

#define EXPECT_OK(r)                                                         \
  do {                                                                       \
    if ((r)->status != 0)                                                    \
      CHECK_FAIL("heraldctl exited %d: %s", (r)->status, (r)->err);         \
  } while (0)

static struct hcr_master *load_key(const char *path)
{
  struct hcr_master *m = NULL;
  char err[512];

  if (hcr_master_load_file(path, &m, err, sizeof err) != HCR_OK)
    CHECK_FAIL("%s", err);
  return m;
}

static void write_key(const char *path)
{
  char hex[HCR_MASTER_HEX_LEN + 1];
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

  CHECK(fd >= 0);
  hcr_master_generate(hex);
  CHECK_INT(write(fd, hex, strlen(hex)), ==, (long)strlen(hex));
  close(fd);
  hcr_wipe(hex, sizeof hex);
}

static void copy_file(const char *from, const char *to)
{
  char buf[256];
  int in = open(from, O_RDONLY), out;
  ssize_t n;

  CHECK(in >= 0);
  unlink(to);
  out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
  CHECK(out >= 0);
  while ((n = read(in, buf, sizeof buf)) > 0)
    CHECK_INT(write(out, buf, (size_t)n), ==, n);
  close(in);
  close(out);
}

/* What heraldd does on its first start (registers its key's check value)
 * and on users' first reads (wraps a fresh data key each); one user is
 * erased. */
static void setup(void)
{
  struct hcr_master *m;
  uint8_t value[HCR_MASTER_CHECK_LEN], wrapped[HCR_WRAPPED_DEK_LEN];
  struct store_user_key k;
  int applied;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  snprintf(w.dir, sizeof w.dir, "/tmp/heraldctl-keys-XXXXXX");
  CHECK(mkdtemp(w.dir) != NULL);
  atexit(cleanup);
  snprintf(w.keyfile, sizeof w.keyfile, "%s/master.key", w.dir);
  snprintf(w.next, sizeof w.next, "%s.next", w.keyfile);
  unsetenv("HERALD_MASTER_KEY");
  unsetenv("HERALD_MASTER_KEY_FILE");
  unsetenv("HERALD_DB");
  pgtest_db_new(w.db, sizeof w.db);
  CHECK_INT(store_connect(w.db, &w.c), ==, STORE_OK);
  CHECK_INT(store_migrate(w.c, &applied), ==, STORE_OK);

  write_key(w.keyfile);
  m = load_key(w.keyfile);
  w.old_id = (int64_t)hcr_master_id(m);
  CHECK_INT(hcr_master_check_new(m, value), ==, HCR_OK);
  CHECK_INT(store_master_check_put(w.c, w.old_id, value, sizeof value), ==,
            STORE_OK);
  for (int i = 0; i <= NUSERS; i++) {
    struct store_user_new u = {.display_name = "User",
                               .role = STORE_ROLE_STAFF};
    char login[32];
    int64_t id;

    snprintf(login, sizeof login, "user%02d", i);
    u.login = login;
    CHECK_INT(store_user_add(w.c, &u, &id), ==, STORE_OK);
    if (i == NUSERS) {
      w.erased = id;
      CHECK_INT(store_user_key_destroy(w.c, id), ==, STORE_OK);
      break;
    }
    w.users[i] = id;
    hcr_dek_new(w.deks[i]);
    CHECK_INT(hcr_dek_wrap(m, id, STORE_KEY_FIRST_VERSION, w.deks[i],
                           wrapped), ==, HCR_OK);
    CHECK_INT(store_user_key_create(w.c, id, w.old_id, wrapped,
                                    sizeof wrapped, &k, NULL), ==, STORE_OK);
  }
  hcr_master_free(m);
}

static long long count_under(int64_t master)
{
  char sql[200];

  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM user_keys WHERE wrapped IS NOT NULL"
           " AND master_id = %lld", (long long)master);
  return pgtest_query_int(w.db, sql);
}

static bool retired(int64_t master)
{
  char sql[200];

  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM master_key_checks WHERE master_id = %lld"
           " AND retired_at IS NOT NULL", (long long)master);
  return pgtest_query_int(w.db, sql) == 1;
}

/* Every data key is under the key now in the key file and opens to the
 * same plain key as before; returns that key's id. */
static int64_t check_all_under_key_file(void)
{
  struct hcr_master *m = load_key(w.keyfile);
  int64_t id = (int64_t)hcr_master_id(m);
  struct store_user_key k;
  uint8_t dek[HCR_DEK_LEN];
  struct stat st;

  CHECK_INT(stat(w.keyfile, &st), ==, 0);
  CHECK_UINT(st.st_mode & 0777, ==, 0600);
  CHECK(access(w.next, F_OK) != 0);
  for (int i = 0; i < NUSERS; i++) {
    CHECK_INT(store_user_key_get(w.c, w.users[i], &k), ==, STORE_OK);
    CHECK_INT(k.master_id, ==, id);
    CHECK_INT(hcr_dek_unwrap(m, w.users[i], k.key_version, k.wrapped,
                             k.wrapped_len, dek), ==, HCR_OK);
    CHECK_MEM(dek, w.deks[i], sizeof dek);
  }
  CHECK_INT(count_under(id), ==, NUSERS);
  CHECK_INT(store_user_key_get(w.c, w.erased, &k), ==, STORE_OK);
  CHECK(k.destroyed);
  hcr_wipe(dek, sizeof dek);
  hcr_master_free(m);
  return id;
}

TEST(rotate_rewraps_retires_and_replaces)
{
  struct run r;
  int64_t id1, id2;
  char want[128];

  setup();
  ROTATE(&r);
  EXPECT_OK(&r);
  id1 = check_all_under_key_file();
  CHECK(id1 != w.old_id);
  CHECK(retired(w.old_id));
  CHECK(!retired(id1));
  snprintf(want, sizeof want, "Current master key: id %lld", (long long)w.old_id);
  CHECK_CONTAINS(r.out, want);
  snprintf(want, sizeof want, "New master key: id %lld", (long long)id1);
  CHECK_CONTAINS(r.out, want);
  CHECK_CONTAINS(r.out, "created");
  CHECK_CONTAINS(r.out, "Re-wrapped 12 data keys");
  snprintf(want, sizeof want, "Retired master key id %lld", (long long)w.old_id);
  CHECK_CONTAINS(r.out, want);
  CHECK_CONTAINS(r.out, "Back up");
  CHECK_INT(pgtest_query_int(w.db, "SELECT count(*) FROM audit_log"
                                   " WHERE action = 'keys.retire'"), ==, 1);

  /* A second rotation goes on from the new key, in small pages. */
  ROTATE(&r, "--batch", "5");
  EXPECT_OK(&r);
  id2 = check_all_under_key_file();
  CHECK(id2 != id1 && id2 != w.old_id);
  CHECK(retired(id1));
  CHECK_CONTAINS(r.out, "Re-wrapped 12 data keys");
  store_close(w.c);
}

TEST(rotate_resumes_after_interruption)
{
  struct hcr_master *next;
  const char *args[] = {"--db", w.db, "keys", "rotate", "--master-key-file",
                        w.keyfile, "--batch", "1", "--pause", "300", NULL};
  struct run r;
  int64_t next_id, final_id;
  pid_t pid;
  int i;

  setup();
  pid = ctl_start(NULL, args);
  /* Wait until it has made the new key and re-wrapped some data keys,
   * then kill it. */
  for (i = 0; i < 600; i++) {
    if (access(w.next, F_OK) == 0 && count_under(w.old_id) < NUSERS - 1)
      break;
    usleep(20000);
  }
  CHECK(i < 600);
  kill(pid, SIGKILL);
  ctl_wait(pid, &r);
  CHECK_INT(r.status, ==, -1);
  next = load_key(w.next);
  next_id = (int64_t)hcr_master_id(next);
  hcr_master_free(next);
  CHECK(count_under(next_id) > 0);
  CHECK(count_under(w.old_id) > 0);
  CHECK(!retired(w.old_id));

  /* Run again: the same new key, not a third one. */
  ROTATE(&r);
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "reused: resuming an interrupted rotation");
  final_id = check_all_under_key_file();
  CHECK_INT(final_id, ==, next_id);
  CHECK(retired(w.old_id));
  CHECK_INT(pgtest_query_int(w.db, "SELECT count(*) FROM master_key_checks"),
            ==, 2);
  store_close(w.c);
}

TEST(rotate_finishes_the_rename)
{
  char saved_old[300];
  struct run r;
  int64_t id1;

  setup();
  snprintf(saved_old, sizeof saved_old, "%s/old.key", w.dir);
  copy_file(w.keyfile, saved_old);
  ROTATE(&r);
  EXPECT_OK(&r);
  id1 = check_all_under_key_file();
  /* The state of a run that stopped after retiring, before renaming. */
  CHECK_INT(rename(w.keyfile, w.next), ==, 0);
  copy_file(saved_old, w.keyfile);
  ROTATE(&r);
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "already retired by the interrupted run");
  CHECK_INT(check_all_under_key_file(), ==, id1);

  /* A retired key beside a FILE.next that is not the key the data is
   * under: refused, and nothing is renamed. */
  copy_file(saved_old, w.keyfile);
  unlink(w.next);
  write_key(w.next);
  ROTATE(&r);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "the data keys are not all under the key in");
  CHECK(access(w.next, F_OK) == 0);
  unlink(w.next);

  /* The old key alone (FILE.next gone) is refused, naming the problem. */
  copy_file(saved_old, w.keyfile);
  ROTATE(&r);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "was retired by an earlier rotation");
  store_close(w.c);
}

TEST(rotate_refusals)
{
  char other[300], missing[300];
  struct run r;

  setup();
  CTL_ENV(&r, "HERALD_MASTER_KEY=00112233", "--db", w.db, "keys", "rotate",
          "--master-key-file", w.keyfile);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "HERALD_MASTER_KEY is set");
  CHECK_CONTAINS(r.err, "master-key-file");

  snprintf(missing, sizeof missing, "%s/none.key", w.dir);
  CTL(&r, "--db", w.db, "keys", "rotate", "--master-key-file", missing);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "cannot open master key file");
  CHECK_CONTAINS(r.err, "none.key");

  /* A key this database does not know: nothing is made. */
  snprintf(other, sizeof other, "%s/other.key", w.dir);
  write_key(other);
  CTL(&r, "--db", w.db, "keys", "rotate", "--master-key-file", other);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "is not a master key of this database");
  CHECK(access(w.next, F_OK) != 0);
  /* Usage errors exit 2. */
  CTL(&r, "--db", w.db, "keys", "rotate", "--batch", "0");
  CHECK_INT(r.status, ==, 2);
  CHECK_CONTAINS(r.err, "--batch must be a number from 1 to 10000");
  CTL(&r, "--db", w.db, "keys", "rotate", "--pause", "soon");
  CHECK_INT(r.status, ==, 2);
  CTL(&r, "--db", w.db, "keys", "rotate", "extra");
  CHECK_INT(r.status, ==, 2);
  CHECK_CONTAINS(r.err, "unexpected argument \"extra\"");

  /* A rotation already running. */
  CHECK_INT(store_keys_rotation_lock(w.c), ==, STORE_OK);
  ROTATE(&r);
  CHECK_INT(r.status, ==, 1);
  CHECK_CONTAINS(r.err, "another key rotation is running");
  CHECK_INT(count_under(w.old_id), ==, NUSERS);

  CTL(&r, "keys", "rotate", "--help");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "--master-key-file");
  CHECK_CONTAINS(r.out, "--batch");
  CHECK_CONTAINS(r.out, "--pause");
  CHECK_CONTAINS(r.out, ".next");
  CHECK_CONTAINS(r.out, "HERALD_MASTER_KEY");
  CHECK_CONTAINS(r.out, "back up");
  CTL(&r, "--help");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "keys rotate");
  store_close(w.c);
}

TEST(rotate_finds_the_key_in_the_data_dir)
{
  struct run r;

  setup();
  /* With --data-dir heraldctl would start the embedded cluster; HERALD_DB
   * is ignored then, so point HERALD_DATA_DIR at the key's directory and
   * use --db for the database. */
  {
    char env[320];

    snprintf(env, sizeof env, "HERALD_DATA_DIR=%s", w.dir);
    CTL_ENV(&r, env, "--db", w.db, "keys", "rotate");
  }
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, w.keyfile);
  CHECK(check_all_under_key_file() != w.old_id);
  store_close(w.c);
}

TEST_MAIN()
