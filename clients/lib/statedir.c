/*
 * statedir.c — the state directory of one connection: where the outbox,
 * the cursors, the token and the device id live.
 *
 * The directory is private (0700, files 0600: a session token and the
 * messages a user has not sent yet are in it) and owned by the user that
 * runs the client; one connection at a time may use it, which a flock() on
 * the file "lock" enforces (two writers of one outbox would interleave
 * their logs). Small files are replaced atomically: write a temporary file,
 * fsync it, rename it over the old one, fsync the directory — a crash
 * leaves the old or the new version, never a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hc_int.h"

/* mkdir -p with mode 0700 for every directory it creates. */
static int make_dirs(const char *path)
{
  char buf[PATH_MAX];
  size_t n = strlen(path);

  if (n == 0 || n >= sizeof buf)
    return -ENAMETOOLONG;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0')
      continue;
    buf[i] = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
      return -errno;
    if (i < n)
      buf[i] = '/';
  }
  return 0;
}

int hc_statedir_open(struct hc_statedir *sd, const char *path)
{
  struct stat st;
  int rc;

  sd->dirfd = sd->lockfd = -1;
  if ((rc = make_dirs(path)) != 0)
    return rc;
  sd->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sd->dirfd < 0)
    return -errno;
  if (fstat(sd->dirfd, &st) != 0) {
    rc = -errno;
    goto fail;
  }
  /* Someone else's directory could be read or swapped under us. */
  if (st.st_uid != geteuid()) {
    rc = -EACCES;
    goto fail;
  }
  if ((st.st_mode & 077) && fchmod(sd->dirfd, 0700) != 0) {
    rc = -errno;
    goto fail;
  }
  sd->lockfd = openat(sd->dirfd, "lock",
                      O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (sd->lockfd < 0) {
    rc = -errno;
    goto fail;
  }
  if (flock(sd->lockfd, LOCK_EX | LOCK_NB) != 0) {
    rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
    goto fail;
  }
  return 0;
fail:
  hc_statedir_close(sd);
  return rc;
}

void hc_statedir_close(struct hc_statedir *sd)
{
  if (sd->lockfd >= 0)
    close(sd->lockfd);           /* releases the flock */
  if (sd->dirfd >= 0)
    close(sd->dirfd);
  sd->dirfd = sd->lockfd = -1;
}

ssize_t hc_statedir_read(struct hc_statedir *sd, const char *name, char *buf,
                         size_t cap)
{
  size_t got = 0;
  int fd = openat(sd->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0)
    return -errno;
  for (;;) {
    ssize_t n;

    if (got + 1 >= cap) {
      char extra;

      n = read(fd, &extra, 1);
      if (n < 0 && errno == EINTR)
        continue;
      close(fd);
      if (n == 0)
        break;
      return n < 0 ? -errno : -EFBIG;
    }
    n = read(fd, buf + got, cap - 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    if (n == 0) {
      close(fd);
      break;
    }
    got += (size_t)n;
  }
  buf[got] = '\0';
  return (ssize_t)got;
}

int hc_statedir_sync(struct hc_statedir *sd)
{
  return fsync(sd->dirfd) == 0 ? 0 : -errno;
}

int hc_statedir_write(struct hc_statedir *sd, const char *name,
                      const void *data, size_t len)
{
  char tmp[128];
  const uint8_t *p = data;
  size_t done = 0;
  int fd, rc = 0;

  if (snprintf(tmp, sizeof tmp, "%s.tmp", name) >= (int)sizeof tmp)
    return -ENAMETOOLONG;
  fd = openat(sd->dirfd, tmp,
              O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return -errno;
  while (done < len) {
    ssize_t n = write(fd, p + done, len - done);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = -errno;
      break;
    }
    done += (size_t)n;
  }
  if (rc == 0 && fsync(fd) != 0)
    rc = -errno;
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  if (rc == 0 && renameat(sd->dirfd, tmp, sd->dirfd, name) != 0)
    rc = -errno;
  if (rc != 0) {
    unlinkat(sd->dirfd, tmp, 0);
    return rc;
  }
  return hc_statedir_sync(sd);
}

int hc_statedir_remove(struct hc_statedir *sd, const char *name)
{
  if (unlinkat(sd->dirfd, name, 0) != 0 && errno != ENOENT)
    return -errno;
  return 0;
}
