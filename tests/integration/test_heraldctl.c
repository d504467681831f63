/*
 * test_heraldctl.c — runs the real heraldctl binary against a fresh
 * database (via HERALD_DB) and against the embedded default (--data-dir),
 * checking output, exit codes and the exact error messages.
 *
 * The binary's path is compiled in (HERALDCTL_PATH, from CMake) and may be
 * overridden with env HERALDCTL.
 */
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pgtest.h"
#include "store.h"

#ifndef HERALDCTL_PATH
#define HERALDCTL_PATH "heraldctl"
#endif

struct run {
  int status;       /* exit code, or -1 when killed */
  char out[16384];
  char err[8192];
};

static char work[256];
static char pwfile[300];

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w)
{
  (void)s;
  (void)f;
  (void)w;
  return remove(p);
}

static void cleanup(void)
{
  if (work[0])
    nftw(work, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

static void slurp(const char *path, char *buf, size_t len)
{
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, len - 1, f) : 0;

  buf[n] = '\0';
  if (f)
    fclose(f);
}

/* Runs heraldctl with args (NULL-terminated) and `input` on stdin, without
 * a controlling terminal (setsid), so it can never prompt. */
static void ctl_run(struct run *r, const char *input, const char *const *args)
{
  const char *bin = getenv("HERALDCTL") ? getenv("HERALDCTL") : HERALDCTL_PATH;
  char in[300], out[300], err[300];
  const char *argv[32];
  int n = 0, st;
  pid_t pid;
  FILE *f;

  snprintf(in, sizeof in, "%s/stdin", work);
  snprintf(out, sizeof out, "%s/stdout", work);
  snprintf(err, sizeof err, "%s/stderr", work);
  f = fopen(in, "w");
  CHECK(f != NULL);
  if (input)
    fputs(input, f);
  fclose(f);
  argv[n++] = bin;
  for (; *args && n < 31; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    setsid();
    if (!freopen(in, "r", stdin) || !freopen(out, "w", stdout) ||
        !freopen(err, "w", stderr))
      _exit(126);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  CHECK_INT(waitpid(pid, &st, 0), ==, pid);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  slurp(out, r->out, sizeof r->out);
  slurp(err, r->err, sizeof r->err);
}

#define CTL(r, input, ...)                                                   \
  do {                                                                       \
    const char *args_[] = {__VA_ARGS__, NULL};                               \
    ctl_run((r), (input), args_);                                            \
  } while (0)

#define EXPECT_OK(r)                                                         \
  do {                                                                       \
    if ((r)->status != 0)                                                    \
      CHECK_FAIL("heraldctl exited %d: %s", (r)->status, (r)->err);         \
  } while (0)

#define EXPECT_FAIL(r, code, msg)                                            \
  do {                                                                       \
    CHECK_INT((r)->status, ==, (code));                                      \
    CHECK_CONTAINS((r)->err, (msg));                                         \
  } while (0)

/* A fresh database in HERALD_DB and a password file. */
static void setup(bool with_db)
{
  char ci[1024];

  snprintf(work, sizeof work, "/tmp/heraldctl-test-XXXXXX");
  CHECK(mkdtemp(work) != NULL);
  CHECK_INT(chmod(work, 0711), ==, 0);
  atexit(cleanup);
  snprintf(pwfile, sizeof pwfile, "%s/pw", work);
  {
    FILE *f = fopen(pwfile, "w");

    CHECK(f != NULL);
    fputs("correct horse battery\n", f);
    fclose(f);
  }
  unsetenv("HERALD_DATA_DIR");
  unsetenv("HERALD_DB");
  if (with_db) {
    pgtest_db_new(ci, sizeof ci);
    setenv("HERALD_DB", ci, 1);
  }
}

static void init_org(void)
{
  struct run r;

  CTL(&r, NULL, "init", "--org", "Acme", "--admin", "alice", "--display",
      "Alice Admin", "--tz", "Asia/Hong_Kong", "--password-file", pwfile);
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "Initialised organisation \"Acme\" with admin \"alice\"");
}

TEST(help_documents_every_option)
{
  static const char *const per_command[][8] = {
    {"init", "--org", "--admin", "--display", "--tz", "--password-file", NULL},
    {"user add", "--display", "--department", "--manager", "--tz", "--role",
     "--password-file", NULL},
    {"user list", "--all", "--department", "--format", NULL},
    {"user deactivate", "LOGIN", NULL},
    {"group create", "--owner", "--member", "--tracking", "--remind-after",
     "--task-after", NULL},
    {"group automate", "--remind-after", "--task-after", "off", NULL},
    {"group add-member", "GROUP LOGIN", NULL},
    {"group list", "--format", NULL},
    {"bot create", "--owner", "--group", "ONCE", NULL},
    {"quiet show", "LOGIN", "--format", NULL},
    {"quiet set", "--tz", "--window", "--clear", NULL},
    {"quiet org", "--window", "--clear", NULL},
    {"ding schedule", "--steps", "--repeat", "--max", "--no-manager",
     "--webhook", "--no-webhook", NULL},
  };
  struct run r;

  setup(false);
  CTL(&r, NULL, "--help");
  EXPECT_OK(&r);
  for (size_t i = 0; i < sizeof per_command / sizeof per_command[0]; i++)
    CHECK_CONTAINS(r.out, per_command[i][0]);
  CHECK_CONTAINS(r.out, "--data-dir");
  CHECK_CONTAINS(r.out, "--db");
  CHECK_CONTAINS(r.out, "HERALD_DB");
  for (size_t i = 0; i < sizeof per_command / sizeof per_command[0]; i++) {
    char cmd[32], *sub;
    const char *args[4];
    int n = 0;

    snprintf(cmd, sizeof cmd, "%s", per_command[i][0]);
    sub = strchr(cmd, ' ');
    if (sub)
      *sub++ = '\0';
    args[n++] = cmd;
    if (sub)
      args[n++] = sub;
    args[n++] = "--help";
    args[n] = NULL;
    ctl_run(&r, NULL, args);
    EXPECT_OK(&r);
    for (int k = 1; per_command[i][k]; k++)
      CHECK_CONTAINS(r.out, per_command[i][k]);
    CHECK_CONTAINS(r.out, "--data-dir");
  }
  CTL(&r, NULL, "--version");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "heraldctl ");
}

TEST(usage_errors_exit_2)
{
  struct run r;

  setup(false);
  {
    const char *none[] = {NULL};

    ctl_run(&r, NULL, none);
    CHECK_INT(r.status, ==, 2);
  }
  CTL(&r, NULL, "frobnicate");
  EXPECT_FAIL(&r, 2, "unknown command \"frobnicate\"");
  CTL(&r, NULL, "user");
  EXPECT_FAIL(&r, 2, "user: missing subcommand");
  CTL(&r, NULL, "user", "add");
  EXPECT_FAIL(&r, 2, "user add: missing LOGIN");
  CTL(&r, NULL, "user", "add", "bob");
  EXPECT_FAIL(&r, 2, "user add: --display NAME is required");
  CTL(&r, NULL, "user", "add", "bob", "--display", "Bob", "--role", "boss");
  EXPECT_FAIL(&r, 2, "unknown role \"boss\": use staff, manager or admin");
  CTL(&r, NULL, "user", "add", "bob", "--bogus");
  EXPECT_FAIL(&r, 2, "user add: unknown option --bogus");
  CTL(&r, NULL, "user", "add", "bob", "--display");
  EXPECT_FAIL(&r, 2, "option --display needs a value");
  CTL(&r, NULL, "user", "list", "--format", "xml");
  EXPECT_FAIL(&r, 2, "unknown format \"xml\": use table or json");
  CTL(&r, NULL, "init", "--admin", "a");
  EXPECT_FAIL(&r, 2, "init: --org NAME is required");
  CTL(&r, NULL, "init", "--org", "A");
  EXPECT_FAIL(&r, 2, "init: --admin LOGIN is required");
  CTL(&r, NULL, "group", "create", "Ops");
  EXPECT_FAIL(&r, 2, "--owner LOGIN is required");
  CTL(&r, NULL, "group", "create", "Ops", "--owner", "a", "--tracking", "some");
  EXPECT_FAIL(&r, 2, "unknown tracking policy \"some\": use all, flagged or off");
  CTL(&r, NULL, "group", "add-member", "Ops");
  EXPECT_FAIL(&r, 2, "missing LOGIN");
  CTL(&r, NULL, "bot", "create", "b1");
  EXPECT_FAIL(&r, 2, "--owner LOGIN is required");
  CTL(&r, NULL, "--db", "x", "--data-dir", "y", "user", "list");
  EXPECT_FAIL(&r, 2, "--db and --data-dir exclude each other");
  CHECK_CONTAINS(r.err, "Try 'heraldctl user list --help'.");
}

TEST(init_once_and_users)
{
  struct run r;

  setup(true);
  /* Nothing works before init. */
  CTL(&r, "correct horse battery\n", "user", "add", "bob", "--display", "Bob",
      "--password-file", "-");
  EXPECT_FAIL(&r, 1, "the organisation is not initialised yet");
  init_org();
  CTL(&r, NULL, "init", "--org", "Other", "--admin", "zed", "--password-file", pwfile);
  EXPECT_FAIL(&r, 1, "heraldctl: the organisation is already initialised (\"Acme\")");

  /* Password from stdin. */
  CTL(&r, "correct horse battery\n", "user", "add", "bob", "--display", "Bob B",
      "--manager", "alice", "--department", "Engineering", "--tz",
      "Europe/Berlin", "--role", "manager", "--password-file", "-");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "Added user \"bob\" (manager).");
  CTL(&r, NULL, "user", "add", "carol", "--display", "陈小明", "--manager", "bob",
      "--department", "engineering", "--password-file", pwfile);
  EXPECT_OK(&r);

  CTL(&r, NULL, "user", "list");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "LOGIN");
  CHECK_CONTAINS(r.out, "alice");
  CHECK_CONTAINS(r.out, "陈小明");
  CHECK_CONTAINS(r.out, "Europe/Berlin");
  CTL(&r, NULL, "user", "list", "--department", "ENGINEERING", "--format", "json");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "\"login\": \"bob\"");
  CHECK_CONTAINS(r.out, "\"manager\": \"bob\"");
  CHECK_CONTAINS(r.out, "\"department\": \"Engineering\"");
  CHECK(strstr(r.out, "\"login\": \"alice\"") == NULL);

  CTL(&r, NULL, "user", "deactivate", "carol");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "Deactivated user \"carol\".");
  CTL(&r, NULL, "user", "list");
  EXPECT_OK(&r);
  CHECK(strstr(r.out, "carol") == NULL);
  CTL(&r, NULL, "user", "list", "--all");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "deactivated");

  CTL(&r, NULL, "user", "set-manager", "alice", "--manager", "bob");
  EXPECT_FAIL(&r, 1, "cannot make \"bob\" the manager of \"alice\": the org tree "
                     "would have a cycle");
  CTL(&r, NULL, "user", "set-manager", "bob", "--none");
  EXPECT_OK(&r);
}

TEST(user_errors)
{
  struct run r;

  setup(true);
  init_org();
  CTL(&r, NULL, "user", "deactivate", "ghost");
  EXPECT_FAIL(&r, 1, "heraldctl: unknown user \"ghost\"");
  CTL(&r, NULL, "user", "add", "ALICE", "--display", "A", "--password-file", pwfile);
  EXPECT_FAIL(&r, 1, "heraldctl: login \"alice\" already exists");
  CTL(&r, NULL, "user", "add", "dan", "--display", "D", "--tz", "Mars/Base",
      "--password-file", pwfile);
  EXPECT_FAIL(&r, 1, "heraldctl: unknown time zone \"Mars/Base\"");
  CTL(&r, NULL, "user", "add", "dan", "--display", "D", "--manager", "nobody",
      "--password-file", pwfile);
  EXPECT_FAIL(&r, 1, "heraldctl: unknown manager \"nobody\"");
  CTL(&r, NULL, "user", "add", "d an", "--display", "D", "--password-file", pwfile);
  EXPECT_FAIL(&r, 1, "invalid login \"d an\"");
  /* Passwords: never from argv; no terminal means a file is needed. */
  CTL(&r, NULL, "user", "add", "dan", "--display", "D");
  EXPECT_FAIL(&r, 1, "no password given and no terminal to ask on");
  CTL(&r, "short\n", "user", "add", "dan", "--display", "D", "--password-file", "-");
  EXPECT_FAIL(&r, 1, "the password is too short");
  CTL(&r, "", "user", "add", "dan", "--display", "D", "--password-file", "-");
  EXPECT_FAIL(&r, 1, "the password is empty");
  CTL(&r, NULL, "user", "add", "dan", "--display", "D", "--password-file",
      "/nonexistent/pw");
  EXPECT_FAIL(&r, 1, "cannot open password file /nonexistent/pw");
  /* None of the refused users exists. */
  CTL(&r, NULL, "user", "list", "--all");
  EXPECT_OK(&r);
  CHECK(strstr(r.out, "dan") == NULL);
}

TEST(groups)
{
  struct run r;

  setup(true);
  init_org();
  CTL(&r, NULL, "user", "add", "bob", "--display", "Bob", "--password-file", pwfile);
  EXPECT_OK(&r);
  CTL(&r, NULL, "user", "add", "carol", "--display", "Carol", "--password-file", pwfile);
  EXPECT_OK(&r);
  CTL(&r, NULL, "group", "create", "Ops", "--owner", "alice", "--member", "bob",
      "--tracking", "flagged");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "Created group \"Ops\" with 2 members.");
  CTL(&r, NULL, "group", "create", "ops", "--owner", "bob");
  EXPECT_FAIL(&r, 1, "heraldctl: group \"ops\" already exists");
  CTL(&r, NULL, "group", "create", "Dev", "--owner", "alice", "--member", "ghost");
  EXPECT_FAIL(&r, 1, "heraldctl: unknown user \"ghost\"");
  CTL(&r, NULL, "group", "add-member", "OPS", "carol");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "Added \"carol\" to group \"Ops\".");
  CTL(&r, NULL, "group", "add-member", "Ops", "carol");
  EXPECT_FAIL(&r, 1, "heraldctl: \"carol\" is already a member of \"Ops\"");
  CTL(&r, NULL, "group", "add-member", "Nope", "carol");
  EXPECT_FAIL(&r, 1, "heraldctl: unknown group \"Nope\"");
  CTL(&r, NULL, "group", "add-member", "Ops", "ghost");
  EXPECT_FAIL(&r, 1, "heraldctl: unknown user \"ghost\"");
  CTL(&r, NULL, "group", "list");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "Ops");
  CHECK_CONTAINS(r.out, "flagged");
  CTL(&r, NULL, "group", "list", "--format", "json");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "\"members\": 3");
  CTL(&r, NULL, "group", "members", "Ops");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "carol");
  CHECK_CONTAINS(r.out, "owner");
}

TEST(group_automation)
{
  struct run r;

  setup(true);
  init_org();
  CTL(&r, NULL, "user", "add", "bob", "--display", "Bob", "--password-file", pwfile);
  EXPECT_OK(&r);
  CTL(&r, NULL, "group", "create", "Ops", "--owner", "alice", "--member", "bob",
      "--remind-after", "2h", "--task-after", "1d12h");
  EXPECT_OK(&r);
  CTL(&r, NULL, "group", "list");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "REMIND");
  CHECK_CONTAINS(r.out, "2h");
  CHECK_CONTAINS(r.out, "1d12h");
  CTL(&r, NULL, "group", "list", "--format", "json");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "\"remind_after\": 7200");
  CHECK_CONTAINS(r.out, "\"task_after\": 129600");

  /* Only what is given changes; off switches off. */
  CTL(&r, NULL, "group", "automate", "ops", "--remind-after", "90m");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "Group \"Ops\": remind after 1h30m, task after 1d12h.");
  CHECK_CONTAINS(r.out, "Task cards do not exist yet");
  CTL(&r, NULL, "group", "automate", "Ops", "--task-after", "off");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "remind after 1h30m, task after off.");
  CTL(&r, NULL, "group", "list", "--format", "json");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "\"remind_after\": 5400");
  CHECK_CONTAINS(r.out, "\"task_after\": null");
  CTL(&r, NULL, "group", "automate", "Ops", "--remind-after", "off");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "remind after off, task after off.");

  /* Errors: syntax (usage, 2), bounds (storage's message, 1), nothing to
   * do, unknown group. */
  CTL(&r, NULL, "group", "automate", "Ops", "--remind-after", "2 hours");
  EXPECT_FAIL(&r, 2, "bad duration \"2 hours\"");
  CTL(&r, NULL, "group", "automate", "Ops", "--remind-after", "0");
  EXPECT_FAIL(&r, 2, "bad duration \"0\"");
  CTL(&r, NULL, "group", "automate", "Ops", "--remind-after", "30s");
  EXPECT_FAIL(&r, 1, "remind_after must be 60-31536000 seconds (or off), got 30");
  CTL(&r, NULL, "group", "create", "Dev", "--owner", "alice", "--task-after",
      "400d");
  EXPECT_FAIL(&r, 1, "task_after must be 60-31536000 seconds");
  CTL(&r, NULL, "group", "create", "Dev", "--owner", "alice", "--remind-after",
      "off");
  EXPECT_FAIL(&r, 2, "bad duration \"off\"");
  CTL(&r, NULL, "group", "automate", "Ops");
  EXPECT_FAIL(&r, 2, "give --remind-after and/or --task-after");
  CTL(&r, NULL, "group", "automate", "Nope", "--remind-after", "1h");
  EXPECT_FAIL(&r, 1, "unknown group \"Nope\"");
}

TEST(bots)
{
  struct run r;
  char token[128];
  struct store_conn *c = NULL;
  struct store_bot b;

  setup(true);
  init_org();
  CTL(&r, NULL, "group", "create", "Ops", "--owner", "alice");
  EXPECT_OK(&r);
  CTL(&r, NULL, "bot", "create", "deploy", "--owner", "alice", "--group", "Ops");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.err, "shown only this once");
  /* stdout carries the token alone: 43 base64url characters. */
  snprintf(token, sizeof token, "%.100s", r.out);
  token[strcspn(token, "\n")] = '\0';
  CHECK_UINT(strlen(token), ==, 43);
  CHECK_UINT(strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                           "0123456789-_"), ==, 43);
  CTL(&r, NULL, "bot", "create", "deploy", "--owner", "alice");
  EXPECT_FAIL(&r, 1, "heraldctl: bot \"deploy\" already exists");
  CTL(&r, NULL, "bot", "create", "x", "--owner", "ghost");
  EXPECT_FAIL(&r, 1, "heraldctl: unknown user \"ghost\"");
  CTL(&r, NULL, "bot", "create", "x", "--owner", "alice", "--group", "Nope");
  EXPECT_FAIL(&r, 1, "heraldctl: unknown group \"Nope\"");
  CTL(&r, NULL, "bot", "list");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "deploy");
  CHECK_CONTAINS(r.out, "active");
  /* Only the hash is stored: the token itself is nowhere in the table. */
  CHECK_INT(store_connect(getenv("HERALD_DB"), &c), ==, STORE_OK);
  CHECK_INT(store_bot_get(c, "deploy", &b), ==, STORE_OK);
  CHECK_INT(b.conversation_count, ==, 1);
  store_close(c);
  {
    char sql[256], state[6];

    snprintf(sql, sizeof sql,
             "DO $$ BEGIN IF EXISTS (SELECT 1 FROM bots WHERE"
             " position(convert_to('%s', 'UTF8') in token_hash) > 0"
             " OR octet_length(token_hash) <> 32) THEN RAISE 'token stored';"
             " END IF; END $$", token);
    CHECK_INT(pgtest_try(getenv("HERALD_DB"), sql, state), ==, 0);
  }
  CTL(&r, NULL, "bot", "revoke", "deploy");
  EXPECT_OK(&r);
  CTL(&r, NULL, "bot", "list", "--format", "json");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "\"revoked\": true");
}

/* Reads from a pty until `want` has appeared in what was read (or 10 s
 * pass); returns what was read so far in buf. */
static void pty_expect(int fd, char *buf, size_t len, const char *want)
{
  size_t n = strlen(buf);

  for (int i = 0; i < 100 && !strstr(buf, want); i++) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t got;

    if (poll(&p, 1, 100) <= 0)
      continue;
    got = read(fd, buf + n, len - n - 1);
    if (got <= 0)
      break;
    n += (size_t)got;
    buf[n] = '\0';
  }
  CHECK_CONTAINS(buf, want);
}

/* The interactive prompt on a terminal: asked twice, not echoed. */
TEST(password_prompt_on_terminal)
{
  const char *bin = getenv("HERALDCTL") ? getenv("HERALDCTL") : HERALDCTL_PATH;
  char screen[4096] = "";
  int fd, st;
  pid_t pid;

  setup(true);
  init_org();
  pid = forkpty(&fd, NULL, NULL, NULL);
  CHECK(pid >= 0);
  if (pid == 0) {
    execl(bin, bin, "user", "add", "tina", "--display", "Tina", (char *)NULL);
    _exit(127);
  }
  pty_expect(fd, screen, sizeof screen, "Password for tina: ");
  CHECK_INT(write(fd, "s3cret-words\n", 13), ==, 13);
  pty_expect(fd, screen, sizeof screen, "Retype the password: ");
  CHECK_INT(write(fd, "s3cret-words\n", 13), ==, 13);
  pty_expect(fd, screen, sizeof screen, "Added user \"tina\"");
  CHECK(strstr(screen, "s3cret") == NULL); /* never echoed */
  CHECK_INT(waitpid(pid, &st, 0), ==, pid);
  CHECK(WIFEXITED(st));
  CHECK_INT(WEXITSTATUS(st), ==, 0);
  close(fd);

  /* Two different answers are refused. */
  screen[0] = '\0';
  pid = forkpty(&fd, NULL, NULL, NULL);
  CHECK(pid >= 0);
  if (pid == 0) {
    execl(bin, bin, "user", "add", "uma", "--display", "Uma", (char *)NULL);
    _exit(127);
  }
  pty_expect(fd, screen, sizeof screen, "Password for uma: ");
  CHECK_INT(write(fd, "first-answer\n", 13), ==, 13);
  pty_expect(fd, screen, sizeof screen, "Retype the password: ");
  CHECK_INT(write(fd, "other-answer\n", 13), ==, 13);
  pty_expect(fd, screen, sizeof screen, "the passwords do not match");
  CHECK_INT(waitpid(pid, &st, 0), ==, pid);
  CHECK_INT(WEXITSTATUS(st), ==, 1);
  close(fd);
}

/* The embedded default: heraldctl starts and stops the cluster itself when
 * nobody holds the data directory, and uses a running owner's cluster (as
 * with heraldd running) without stopping it. */
TEST(embedded_data_dir)
{
  char dir[400], err[1024];
  struct store_embedded *e = NULL;
  struct run r;

  setup(false);
  snprintf(dir, sizeof dir, "%s/data", work);
  CTL(&r, NULL, "--data-dir", dir, "init", "--org", "Acme", "--admin", "alice",
      "--password-file", pwfile);
  EXPECT_OK(&r);
  /* heraldctl stopped what it started. */
  {
    char pid[500];

    snprintf(pid, sizeof pid, "%s/pg/postmaster.pid", dir);
    CHECK_INT(access(pid, F_OK), ==, -1);
  }
  /* Now a long-running owner (standing in for heraldd) holds the lock. */
  if (store_embedded_start(dir, &e, err, sizeof err) != STORE_OK)
    CHECK_FAIL("start: %s", err);
  CTL(&r, NULL, "user", "add", "bob", "--display", "Bob", "--password-file",
      pwfile, "--data-dir", dir);
  EXPECT_OK(&r);
  setenv("HERALD_DATA_DIR", dir, 1); /* the default data dir */
  CTL(&r, NULL, "user", "list");
  unsetenv("HERALD_DATA_DIR");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "bob");
  /* The owner's cluster still runs. */
  {
    struct store_conn *c = NULL;

    CHECK_INT(store_connect(store_embedded_conninfo(e), &c), ==, STORE_OK);
    CHECK_INT(store_ping(c), ==, STORE_OK);
    store_close(c);
  }
  CHECK_INT(store_embedded_stop(e), ==, STORE_OK);
}

TEST(quiet_hours)
{
  struct run r;

  setup(true);
  init_org();
  CTL(&r, NULL, "user", "add", "nina", "--display", "Nina", "--tz",
      "America/New_York", "--password-file", pwfile);
  EXPECT_OK(&r);
  /* The org default, read back as windows. */
  CTL(&r, NULL, "quiet", "show", "nina");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "nina (America/New_York): ");
  CHECK_CONTAINS(r.out, "Mon 20:00-08:00 (next day)");
  CHECK_CONTAINS(r.out, "Sat 00:00-24:00");
  CHECK_CONTAINS(r.out, "Own windows: none");
  /* Own windows: a day, a list crossing midnight (Sun into Mon). */
  CTL(&r, NULL, "quiet", "set", "nina", "--window", "Wed 12:00-13:00",
      "--window", "Sat,Sun 22:00-02:00");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "  Wed 12:00-13:00\n");
  CHECK_CONTAINS(r.out, "  Sun 22:00-02:00 (next day)\n");
  /* --tz alone keeps them. */
  CTL(&r, NULL, "quiet", "set", "nina", "--tz", "Asia/Hong_Kong");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "nina (Asia/Hong_Kong)");
  CHECK_CONTAINS(r.out, "Wed 12:00-13:00");
  CTL(&r, NULL, "quiet", "show", "nina", "--format", "json");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "\"time_zone\": \"Asia/Hong_Kong\"");
  CHECK_CONTAINS(r.out, "\"start\": 720");
  /* Errors name the bad input. */
  CTL(&r, NULL, "quiet", "set", "nina", "--tz", "Mars/Olympus");
  EXPECT_FAIL(&r, 1, "unknown time zone \"Mars/Olympus\"");
  CTL(&r, NULL, "quiet", "set", "nina", "--window", "Mon-Fro 20:00-08:00");
  EXPECT_FAIL(&r, 2, "bad window \"Mon-Fro 20:00-08:00\": unknown day in "
              "\"Mon-Fro\"");
  CTL(&r, NULL, "quiet", "set", "nina", "--window", "Mon 20:00-25:00");
  EXPECT_FAIL(&r, 2, "bad window \"Mon 20:00-25:00\": times must be");
  CTL(&r, NULL, "quiet", "set", "nina", "--window", "Mon 09:00-09:00");
  EXPECT_FAIL(&r, 2, "start and end are the same time");
  CTL(&r, NULL, "quiet", "set", "nina");
  EXPECT_FAIL(&r, 2, "nothing to set");
  CTL(&r, NULL, "quiet", "set", "nina", "--clear", "--window",
      "Mon 09:00-10:00");
  EXPECT_FAIL(&r, 2, "--clear and --window exclude each other");
  CTL(&r, NULL, "quiet", "show", "ghost");
  EXPECT_FAIL(&r, 1, "unknown user \"ghost\"");
  CTL(&r, NULL, "quiet", "set", "nina", "--clear");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "Own windows: none");
  /* The org's windows: replaced for everyone. */
  CTL(&r, NULL, "quiet", "org", "--window", "Mon-Fri 20:00-08:00");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "Fri 20:00-08:00 (next day)");
  CHECK(strstr(r.out, "Sat 00:00") == NULL);
  CTL(&r, NULL, "quiet", "org", "--tz", "UTC");
  EXPECT_FAIL(&r, 2, "unknown option --tz");
  CHECK_INT(pgtest_query_int(getenv("HERALD_DB"), "SELECT count(*) FROM"
                             " quiet_windows WHERE user_id IS NULL"), ==, 10);
  CHECK_INT(pgtest_query_int(getenv("HERALD_DB"), "SELECT count(*) FROM"
                             " audit_log WHERE action LIKE 'quiet.%'"), ==, 4);
}

TEST(ding_schedule)
{
  struct run r;

  setup(true);
  init_org();
  /* The default: 5, 15, 30 minutes, then hourly, 6 re-alerts; the
   * escalation one hour after the sixth (3h30m). */
  CTL(&r, NULL, "ding", "schedule");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "steps       5m,15m,30m\n");
  CHECK_CONTAINS(r.out, "repeat      1h\n");
  CHECK_CONTAINS(r.out, "max         6 re-alerts\n");
  CHECK_CONTAINS(r.out, "escalation  4h30m after sending\n");
  CHECK_CONTAINS(r.out, "manager     yes\n");
  CHECK_CONTAINS(r.out, "webhook     (none)\n");
  CTL(&r, NULL, "ding", "schedule", "--steps", "2m,10m", "--repeat", "1h30m",
      "--max", "3", "--no-manager", "--webhook", "https://sms.example/h");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "steps       2m,10m\n");
  CHECK_CONTAINS(r.out, "repeat      1h30m\n");
  CHECK_CONTAINS(r.out, "escalation  3h10m after sending\n");
  CHECK_CONTAINS(r.out, "manager     no\n");
  CHECK_CONTAINS(r.out, "webhook     https://sms.example/h\n");
  CHECK_INT(pgtest_query_int(getenv("HERALD_DB"), "SELECT ding_max_alerts"
                             " FROM org"), ==, 3);
  /* Errors name the bad input; nothing changes. */
  CTL(&r, NULL, "ding", "schedule", "--steps", "10m,2m");
  EXPECT_FAIL(&r, 1, "step 2: the steps must increase");
  CTL(&r, NULL, "ding", "schedule", "--steps", "soon");
  EXPECT_FAIL(&r, 2, "--steps: \"soon\" is not a list of durations");
  CTL(&r, NULL, "ding", "schedule", "--max", "-1");
  EXPECT_FAIL(&r, 2, "--max needs a number 0..1000");
  CTL(&r, NULL, "ding", "schedule", "--webhook", "ftp://x");
  EXPECT_FAIL(&r, 1, "must start with http:// or https://");
  CTL(&r, NULL, "ding", "schedule", "--webhook", "http://x", "--no-webhook");
  EXPECT_FAIL(&r, 2, "exclude each other");
  CTL(&r, NULL, "ding", "schedule", "--no-webhook");
  EXPECT_OK(&r);
  CHECK_CONTAINS(r.out, "webhook     (none)\n");
  CHECK_CONTAINS(r.out, "steps       2m,10m\n");
  CHECK_INT(pgtest_query_int(getenv("HERALD_DB"), "SELECT count(*) FROM"
                             " audit_log WHERE action = 'ding.policy'"), ==,
            2);
}

TEST_MAIN()
