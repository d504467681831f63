/*
 * embedded_run.c — running PostgreSQL's programs for the embedded cluster.
 *
 * PostgreSQL refuses to run as root, and should not: when heraldd runs as
 * root, initdb and pg_ctl (and so the postmaster) run as an unprivileged
 * user. Everything that needs the user database (getpwnam, getgrouplist)
 * happens before fork, so that the child does only async-signal-safe work
 * before exec — required in a process that may already have threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <ftw.h>

#include "embedded_int.h"

int store_emb_user_resolve(struct store_emb_user *u, char *err, size_t errlen)
{
  const char *name;
  struct passwd *pw;
  int n;

  memset(u, 0, sizeof *u);
  if (geteuid() != 0) {
    pw = getpwuid(geteuid());
    u->uid = geteuid();
    u->gid = getegid();
    snprintf(u->name, sizeof u->name, "%s", pw ? pw->pw_name : "(self)");
    return 0;
  }
  name = getenv("HERALD_PG_USER");
  if (!name || !*name)
    name = "postgres";
  pw = getpwnam(name);
  if (!pw) {
    snprintf(err, errlen,
             "running as root, so PostgreSQL must run as an unprivileged "
             "user, but user \"%s\" does not exist (create it, or name "
             "another with HERALD_PG_USER)", name);
    return -1;
  }
  if (pw->pw_uid == 0) {
    snprintf(err, errlen,
             "HERALD_PG_USER names \"%s\", which is root; PostgreSQL must "
             "run as an unprivileged user", name);
    return -1;
  }
  u->drop = true;
  u->uid = pw->pw_uid;
  u->gid = pw->pw_gid;
  snprintf(u->name, sizeof u->name, "%s", name);
  n = STORE_EMB_MAX_GROUPS;
  if (getgrouplist(name, pw->pw_gid, u->groups, &n) < 0) {
    /* More groups than we keep: the primary group is enough to run. */
    u->groups[0] = pw->pw_gid;
    n = 1;
  }
  u->ngroups = n;
  return 0;
}

static bool in_groups(const struct store_emb_user *u, gid_t g)
{
  if (g == u->gid)
    return true;
  for (int i = 0; i < u->ngroups; i++)
    if (u->groups[i] == g)
      return true;
  return false;
}

int store_emb_can_traverse(const struct store_emb_user *u, const char *dir,
                           char *err, size_t errlen)
{
  char path[4096];
  size_t len;

  if (!u->drop || u->uid == 0)
    return 0;
  len = strlen(dir);
  if (len >= sizeof path || dir[0] != '/') {
    snprintf(err, errlen, "data directory %s must be an absolute path", dir);
    return -1;
  }
  /* Check "/", then each prefix ending at a '/', then dir itself. */
  for (size_t i = 1; i <= len; i++) {
    struct stat st;
    mode_t bit;

    if (i < len && dir[i] != '/')
      continue;
    memcpy(path, dir, i);
    path[i] = '\0';
    if (i == 1)
      path[1] = '\0';
    if (stat(path, &st) != 0) {
      snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
      return -1;
    }
    /* The kernel uses exactly one class: owner, else group, else other. */
    if (st.st_uid == u->uid)
      bit = S_IXUSR;
    else if (in_groups(u, st.st_gid))
      bit = S_IXGRP;
    else
      bit = S_IXOTH;
    if (!(st.st_mode & bit)) {
      snprintf(err, errlen,
               "PostgreSQL runs as user \"%s\", who cannot enter %s (mode "
               "%04o): choose a data directory that user can reach, or let "
               "it through (for example chmod o+x %s)",
               u->name, path, (unsigned)(st.st_mode & 07777), path);
      return -1;
    }
  }
  return 0;
}

/* Closes every descriptor from 3 up in the child; close_range when the
 * kernel has it (5.9+), else a bounded loop. */
static void close_from_3(void)
{
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
    return;
#endif
  for (int fd = 3; fd < 4096; fd++)
    close(fd);
}

int store_emb_run(const struct store_emb_user *u, int log_fd,
                  char *const argv[], char *err, size_t errlen)
{
  /* A fixed, small environment: nothing of the caller's PG* variables (a
   * PGPORT or PGHOST would change what pg_ctl waits for) or locale leaks
   * into the cluster. */
  char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C",
                        "HOME=/", NULL};
  int null_fd, status;
  pid_t pid;
  sigset_t all;

  null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    snprintf(err, errlen, "cannot open /dev/null: %s", strerror(errno));
    return -1;
  }
  pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "cannot fork: %s", strerror(errno));
    close(null_fd);
    return -1;
  }
  if (pid == 0) {
    struct sigaction dfl;

    /* Child: async-signal-safe calls only. Reset signal state so that the
     * postmaster does not inherit blocked or ignored signals. */
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
      sigaction(s, &dfl, NULL);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
      _exit(126);
    close_from_3();
    if (u->drop && (setgroups((size_t)u->ngroups, u->groups) != 0 ||
                    setgid(u->gid) != 0 || setuid(u->uid) != 0))
      _exit(126);
    umask(077);
    if (chdir("/") != 0)
      _exit(126);
    execve(argv[0], argv, envp);
    _exit(127);
  }
  close(null_fd);
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      snprintf(err, errlen, "waitpid for %s failed: %s", argv[0],
               strerror(errno));
      return -1;
    }
  }
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 126)
      snprintf(err, errlen, "could not switch to user \"%s\" to run %s",
               u->name, argv[0]);
    else if (WEXITSTATUS(status) == 127)
      snprintf(err, errlen, "could not execute %s", argv[0]);
    return WEXITSTATUS(status);
  }
  snprintf(err, errlen, "%s was killed by signal %d", argv[0],
           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return -1;
}

int store_emb_mkdirs(const char *dir, mode_t mode)
{
  char path[4096];
  size_t len = strlen(dir);

  if (len >= sizeof path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(path, dir, len + 1);
  for (size_t i = 1; i < len; i++) {
    if (path[i] != '/')
      continue;
    path[i] = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
      return -1;
    path[i] = '/';
  }
  if (mkdir(path, mode) != 0 && errno != EEXIST)
    return -1;
  return 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

int store_emb_rmtree(const char *dir)
{
  return nftw(dir, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

void store_emb_log_tail(const char *path, int lines, char *buf, size_t len)
{
  char chunk[2048];
  ssize_t got;
  off_t size;
  int fd, seen = 0;
  char *start;

  buf[0] = '\0';
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  size = lseek(fd, 0, SEEK_END);
  if (size > (off_t)sizeof chunk - 1)
    lseek(fd, size - (off_t)(sizeof chunk - 1), SEEK_SET);
  else
    lseek(fd, 0, SEEK_SET);
  got = read(fd, chunk, sizeof chunk - 1);
  close(fd);
  if (got <= 0)
    return;
  chunk[got] = '\0';
  while (got > 0 && (chunk[got - 1] == '\n' || chunk[got - 1] == ' '))
    chunk[--got] = '\0';
  start = chunk + got;
  while (start > chunk) {
    if (start[-1] == '\n' && ++seen == lines)
      break;
    start--;
  }
  /* Lines become "|"-separated so the message stays one log line. */
  for (char *p = start; *p; p++)
    if (*p == '\n')
      *p = '|';
  snprintf(buf, len, "; last lines of %s: %s", path, start);
}
