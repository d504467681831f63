/* tmpdir.c — see tmpdir.h. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"

static char dir[512];

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static void cleanup(void)
{
  if (*dir)
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

const char *test_tmpdir(void)
{
  const char *base = getenv("TMPDIR");

  if (*dir)
    return dir;
  snprintf(dir, sizeof dir, "%s/herald-client-XXXXXX",
           base && *base ? base : "/tmp");
  if (!mkdtemp(dir))
    CHECK_FAIL("mkdtemp %s failed", dir);
  atexit(cleanup);
  return dir;
}
