/*
 * embedded_int.h — helpers of the embedded PostgreSQL manager
 * (embedded.c): the unprivileged user PostgreSQL runs as, running its
 * programs as that user, and the file-system checks around them.
 */
#ifndef HERALD_EMBEDDED_INT_H
#define HERALD_EMBEDDED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define STORE_EMB_MAX_GROUPS 64

/* Who runs PostgreSQL. When the process is not root that is the process's
 * own user and nothing changes (drop is false). */
struct store_emb_user {
  bool drop;
  uid_t uid;
  gid_t gid;
  gid_t groups[STORE_EMB_MAX_GROUPS];
  int ngroups;
  char name[64];
};

/* Resolves the user: env HERALD_PG_USER, else "postgres", when root; the
 * current user otherwise. Refuses root itself (PostgreSQL would too).
 * 0, or -1 with a message in err. */
int store_emb_user_resolve(struct store_emb_user *u, char *err, size_t errlen);

/* Checks that u may enter (search) every directory from / down to dir
 * inclusive, going by owner/group/other mode bits. 0, or -1 with a message
 * naming the first directory it cannot enter. */
int store_emb_can_traverse(const struct store_emb_user *u, const char *dir,
                           char *err, size_t errlen);

/* Runs argv[0] (an absolute path) as u with stdin from /dev/null and
 * stdout/stderr appended to log_fd, a small fixed environment and umask
 * 077, and waits for it. Returns its exit status (0..255), or -1 when it
 * could not be run or was killed by a signal (message in err). Only
 * async-signal-safe calls happen between fork and exec, so this is safe in
 * a multi-threaded process. */
int store_emb_run(const struct store_emb_user *u, int log_fd,
                  char *const argv[], char *err, size_t errlen);

/* Makes dir and missing parents (parents 0755, dir itself `mode`). 0 or -1
 * with errno set. */
int store_emb_mkdirs(const char *dir, mode_t mode);

/* Removes a directory tree (for an interrupted initdb's leftovers). 0 or
 * -1 with errno set. */
int store_emb_rmtree(const char *dir);

/* Copies the last `lines` lines of the file at path into buf, prefixed so
 * they read well after an error message ("; last lines of X: ..."), or ""
 * when the file is empty or unreadable. */
void store_emb_log_tail(const char *path, int lines, char *buf, size_t len);

#endif
