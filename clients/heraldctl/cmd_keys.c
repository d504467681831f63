/*
 * cmd_keys.c — heraldctl keys rotate: re-wraps every user's data key under
 * a new master key while heraldd keeps running.
 *
 * The steps, each safe to interrupt and resume by running the command
 * again:
 *   1. The current key is read from the key file (as heraldd finds it).
 *   2. The new key is written to `<keyfile>.next` (0600, durably), or an
 *      existing `.next` is reused, and its check value is stored. From now
 *      on a running heraldd that meets a data key under the new master
 *      finds the key there (server/keyring_int.h).
 *   3. Pass after pass, every live data key still under the old master is
 *      re-wrapped (compare and swap on the old master id) until a pass
 *      finds none. Keys a server makes meanwhile under the old master are
 *      caught by the next pass.
 *   4. The old master is retired — storage does it only when no live key
 *      is under it, atomically against a server creating one (which then
 *      takes the new key).
 *   5. `.next` is renamed over the key file, and the directory synced.
 * The data keys themselves never change, so every read time stays
 * readable. Key material lives only in guarded memory (crypto/) and one
 * hex buffer that is wiped; it is never in argv, output or the database.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl_int.h"
#include "hcrypto.h"

static const char KEYS_ROTATE_HELP[] =
  "Usage: heraldctl keys rotate [options]\n"
  "\n"
  "Rotates the master key online: makes a new master key, re-wraps every\n"
  "user's data key under it while heraldd keeps running (no restart, no\n"
  "failed read), retires the old key and replaces the key file with the\n"
  "new key. Read times stay readable: the data keys do not change.\n"
  "\n"
  "The current key is read from the key file heraldd uses: --master-key-file,\n"
  "else env HERALD_MASTER_KEY_FILE, else DATA_DIR/master.key. The new key is\n"
  "first written to FILE.next; a rotation that was interrupted resumes with\n"
  "it when run again. heraldd must read its key from that same file (not\n"
  "from HERALD_MASTER_KEY): it picks the new key up from FILE.next, then\n"
  "FILE. Afterwards the old key is refused; back up the new key file.\n"
  "\n"
  "Options:\n"
  "  --master-key-file F   the master key file (default: DATA_DIR/master.key)\n"
  "  --batch N             data keys per page (1-10000, default 500)\n"
  "  --pause MS            milliseconds to wait between pages, to spread the\n"
  "                        load on the database (0-60000, default 0)\n"
  "  -h, --help            this help\n";

enum { OPT_KEY_FILE = 1, OPT_BATCH, OPT_PAUSE };

struct rotation {
  char path[PATH_MAX];      /* the key file */
  char next[PATH_MAX + 8];  /* path + ".next" */
  struct hcr_master *old_m, *new_m;
  int64_t old_id, new_id;
  bool reused;              /* .next was there: resuming */
  bool old_retired;         /* found retired: only the rename was left */
  size_t batch;
  long pause_ms;
  long long rewrapped;
  int passes;
};

static int parse_long(struct ctl *ctl, const char *opt, const char *s,
                      long lo, long hi, long *out)
{
  char *end;
  long v;

  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi)
    return ctl_usage(ctl, "%s must be a number from %ld to %ld, not \"%s\"",
                     opt, lo, hi, s);
  *out = v;
  return CTL_OK;
}

/* The key file, as heraldd resolves it (but never the environment key). */
static int key_file_path(struct ctl *ctl, const char *opt_file,
                         char path[PATH_MAX])
{
  const char *env = getenv("HERALD_MASTER_KEY_FILE");
  char dir[PATH_MAX];
  int n;

  if (!opt_file && env && *env)
    opt_file = env;
  if (opt_file) {
    n = snprintf(path, PATH_MAX, "%s", opt_file);
  } else {
    if (ctl->data_dir)
      snprintf(dir, sizeof dir, "%s", ctl->data_dir);
    else if (store_default_data_dir(dir, sizeof dir) != STORE_OK)
      return ctl_error("no data directory: give --master-key-file FILE or "
                       "--data-dir DIR");
    n = snprintf(path, PATH_MAX, "%s/master.key", dir);
  }
  if (n <= 0 || n >= PATH_MAX - 8)
    return ctl_error("the master key file name is too long");
  return CTL_OK;
}

/* fsync()s the directory holding `path`, so that a created or renamed
 * file survives a crash. */
static int sync_dir(const char *path)
{
  char copy[PATH_MAX + 8];
  int fd, rc;

  snprintf(copy, sizeof copy, "%s", path);
  fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  rc = fsync(fd);
  close(fd);
  return rc;
}

/* Writes a fresh key into r->next: exclusively (an existing file is never
 * overwritten), mode 0600, owned like the current key file (heraldd must
 * be able to read it), synced with its directory. CTL_OK, or CTL_ERR
 * (printed). An EEXIST race with another writer counts as success: the
 * caller loads whatever is there. */
static int create_next(const struct rotation *r)
{
  char hex[HCR_MASTER_HEX_LEN + 2];
  struct stat st;
  size_t len;
  int fd, rc = CTL_ERR;

  if (stat(r->path, &st) != 0)
    return ctl_error("cannot stat %s: %s", r->path, strerror(errno));
  fd = open(r->next, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
            0600);
  if (fd < 0)
    return errno == EEXIST ? CTL_OK
                           : ctl_error("cannot create %s: %s", r->next,
                                       strerror(errno));
  hcr_master_generate(hex);
  strcat(hex, "\n");
  len = strlen(hex);
  if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
      fchown(fd, st.st_uid, st.st_gid) != 0)
    ctl_error("cannot give %s the owner of %s: %s", r->next, r->path,
              strerror(errno));
  else if (write(fd, hex, len) != (ssize_t)len || fsync(fd) != 0)
    ctl_error("cannot write %s: %s", r->next, strerror(errno));
  else
    rc = CTL_OK;
  hcr_wipe(hex, sizeof hex);
  close(fd);
  if (rc == CTL_OK && sync_dir(r->next) != 0)
    rc = ctl_error("cannot sync the directory of %s: %s", r->next,
                   strerror(errno));
  if (rc != CTL_OK)
    unlink(r->next);
  return rc;
}

/* The check value stored for `m`, or NULL. *bad is set when one is stored
 * under its id but `m` does not verify against it. */
static const struct store_master_check *
find_check(const struct store_master_check *checks, size_t n,
           const struct hcr_master *m, bool *bad)
{
  *bad = false;
  for (size_t i = 0; i < n; i++) {
    if (checks[i].master_id != (int64_t)hcr_master_id(m))
      continue;
    if (hcr_master_check_verify(m, checks[i].value, checks[i].len) == HCR_OK)
      return &checks[i];
    *bad = true;
  }
  return NULL;
}

/* Steps 1 and 2: the current key, and the new key in .next with its check
 * value stored. */
static int prepare_keys(struct ctl *ctl, struct rotation *r)
{
  struct store_master_check *checks = NULL;
  const struct store_master_check *oc, *nc;
  uint8_t value[HCR_MASTER_CHECK_LEN];
  char err[1024];
  size_t n = 0;
  bool bad;
  int rc = CTL_ERR;

  if (hcr_master_load_file(r->path, &r->old_m, err, sizeof err) != HCR_OK)
    return ctl_error("%s", err);
  r->old_id = (int64_t)hcr_master_id(r->old_m);
  if (store_master_checks(ctl->conn, &checks, &n) != STORE_OK)
    return ctl_store_error(ctl);
  if (n == 0) {
    ctl_error("this database has no master key yet: start heraldd once (it "
              "registers its key), then rotate");
    goto out;
  }
  if ((oc = find_check(checks, n, r->old_m, &bad)) == NULL) {
    ctl_error("the key in %s (master key id %lld) is not a master key of "
              "this database (its newest is id %lld): give the file heraldd "
              "uses with --master-key-file", r->path, (long long)r->old_id,
              (long long)checks[0].master_id);
    goto out;
  }
  r->old_retired = oc->retired;
  if (access(r->next, F_OK) != 0) {
    if (r->old_retired) {
      ctl_error("the key in %s (master key id %lld) was retired by an "
                "earlier rotation and %s does not exist: %s must hold the "
                "current master key", r->path, (long long)r->old_id, r->next,
                r->path);
      goto out;
    }
    if (create_next(r) != CTL_OK)
      goto out;
  } else {
    r->reused = true;
  }
  if (hcr_master_load_file(r->next, &r->new_m, err, sizeof err) != HCR_OK) {
    ctl_error("%s", err);
    goto out;
  }
  r->new_id = (int64_t)hcr_master_id(r->new_m);
  if (r->new_id == r->old_id) {
    ctl_error("%s holds the same key as %s (master key id %lld): remove "
              "%s and run again", r->next, r->path, (long long)r->old_id,
              r->next);
    goto out;
  }
  nc = find_check(checks, n, r->new_m, &bad);
  if (bad) {
    ctl_error("%s (master key id %lld) does not match the check value "
              "stored for that id", r->next, (long long)r->new_id);
    goto out;
  }
  if (nc && nc->retired) {
    ctl_error("%s holds a retired master key (id %lld): remove it and run "
              "again", r->next, (long long)r->new_id);
    goto out;
  }
  /* The old key was retired by a run that stopped before its rename: that
   * run re-wrapped everything under this very key, so its check value is
   * stored and no live data key is under any other master. Anything else
   * means FILE.next is not that run's key: replacing FILE with it would
   * lose the real one. */
  if (r->old_retired) {
    struct store_user_key *page = NULL;
    size_t left = 0;

    if (store_user_keys_page(ctl->conn, 0, 0, r->new_id, 1, &page, &left) !=
        STORE_OK) {
      ctl_store_error(ctl);
      goto out;
    }
    free(page);
    if (!nc || left > 0) {
      ctl_error("the key in %s (master key id %lld) was retired, but the "
                "data keys are not all under the key in %s (id %lld): "
                "find the current master key before rotating", r->path,
                (long long)r->old_id, r->next, (long long)r->new_id);
      goto out;
    }
  }
  /* Stored before any key is wrapped under it: a server accepts a key
   * only with its check value. */
  if (!nc && (hcr_master_check_new(r->new_m, value) != HCR_OK ||
              store_master_check_put(ctl->conn, r->new_id, value,
                                     sizeof value) != STORE_OK)) {
    ctl_store_error(ctl);
    goto out;
  }
  rc = CTL_OK;
out:
  hcr_wipe(value, sizeof value);
  free(checks);
  return rc;
}

static void pause_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

  while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* One pass over every live key not yet under the new master. *found gets
 * how many were under the old one. */
static int rewrap_pass(struct ctl *ctl, struct rotation *r, long long *found)
{
  struct store_user_key *page = NULL;
  uint8_t out[HCR_WRAPPED_DEK_LEN];
  int64_t after_u = 0;
  uint32_t after_v = 0;
  size_t n;
  int rc;

  *found = 0;
  for (;;) {
    if (store_user_keys_page(ctl->conn, after_u, after_v, r->new_id,
                             r->batch, &page, &n) != STORE_OK)
      return ctl_store_error(ctl);
    for (size_t i = 0; i < n; i++) {
      const struct store_user_key *k = &page[i];

      if (k->master_id != r->old_id) {
        ctl_error("the data key of user id %lld is wrapped under master key "
                  "id %lld, neither the current key (%lld) nor the new one "
                  "(%lld); nothing was retired", (long long)k->user_id,
                  (long long)k->master_id, (long long)r->old_id,
                  (long long)r->new_id);
        free(page);
        return CTL_ERR;
      }
      (*found)++;
      if (hcr_dek_rewrap(r->old_m, r->new_m, k->user_id, k->key_version,
                         k->key_version, k->wrapped, k->wrapped_len,
                         out) != HCR_OK) {
        ctl_error("the data key of user id %lld does not open with master "
                  "key id %lld (damaged?); nothing was retired",
                  (long long)k->user_id, (long long)r->old_id);
        free(page);
        return CTL_ERR;
      }
      rc = store_user_key_rewrap(ctl->conn, k->user_id, k->key_version,
                                 r->old_id, r->new_id, out, sizeof out);
      /* Erased meanwhile, or re-wrapped by someone else: nothing to do. */
      if (rc == STORE_OK)
        r->rewrapped++;
      else if (rc != STORE_ENOTFOUND && rc != STORE_EEXISTS) {
        free(page);
        return ctl_store_error(ctl);
      }
    }
    if (n > 0) {
      after_u = page[n - 1].user_id;
      after_v = page[n - 1].key_version;
    }
    free(page);
    page = NULL;
    if (n < r->batch)
      return CTL_OK;
    pause_ms(r->pause_ms);
  }
}

/* Steps 3 and 4: passes until none finds a key under the old master, then
 * the retirement, which storage refuses if a server made one in between. */
#define MAX_ROUNDS 100

static int rewrap_and_retire(struct ctl *ctl, struct rotation *r)
{
  long long found;
  int rc;

  for (int round = 0; round < MAX_ROUNDS; round++) {
    do {
      if ((rc = rewrap_pass(ctl, r, &found)) != CTL_OK)
        return rc;
      r->passes++;
    } while (found > 0);
    /* Robot secrets are sealed under the master key too (cmd_bot.c). */
    if ((rc = ctl_reseal_robot_secrets(ctl, r->old_m, r->new_m, &found)) !=
        CTL_OK)
      return rc;
    rc = store_master_check_retire(ctl->conn, r->old_id);
    if (rc == STORE_OK)
      return CTL_OK;
    if (rc != STORE_EEXISTS)
      return ctl_store_error(ctl);
  }
  return ctl_error("master key id %lld keeps getting new data keys; run the "
                   "command again", (long long)r->old_id);
}

int ctl_cmd_keys_rotate(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"master-key-file", required_argument, NULL, OPT_KEY_FILE},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"pause", required_argument, NULL, OPT_PAUSE},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  struct rotation r = {.batch = 500};
  const char *file = NULL, *env = getenv("HERALD_MASTER_KEY");
  long batch = 500;
  int opt, rc;

  ctl->help = KEYS_ROTATE_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_KEY_FILE: file = optarg; break;
    case OPT_BATCH:
      if ((rc = parse_long(ctl, "--batch", optarg, 1, 10000, &batch)) != CTL_OK)
        return rc;
      r.batch = (size_t)batch;
      break;
    case OPT_PAUSE:
      if ((rc = parse_long(ctl, "--pause", optarg, 0, 60000, &r.pause_ms)) !=
          CTL_OK)
        return rc;
      break;
    default:
      if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
        return rc;
    }
  }
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if (env && *env)
    return ctl_error("HERALD_MASTER_KEY is set: online rotation needs the "
                     "master key in a file, because a running heraldd cannot "
                     "re-read its environment. Write the key to a file (mode "
                     "0600), restart heraldd with master-key-file set to it "
                     "and without HERALD_MASTER_KEY, then run heraldctl keys "
                     "rotate --master-key-file FILE without HERALD_MASTER_KEY "
                     "set");
  if ((rc = key_file_path(ctl, file, r.path)) != CTL_OK)
    return rc;
  snprintf(r.next, sizeof r.next, "%s.next", r.path);
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_keys_rotation_lock(ctl->conn) != STORE_OK) {
    rc = ctl_store_error(ctl);
    goto out;
  }
  if ((rc = prepare_keys(ctl, &r)) != CTL_OK)
    goto out;
  printf("Current master key: id %lld (%s)\n", (long long)r.old_id, r.path);
  printf("New master key: id %lld (%s, %s)\n", (long long)r.new_id, r.next,
         r.reused ? "reused: resuming an interrupted rotation" : "created");
  fflush(stdout);
  if (!r.old_retired && (rc = rewrap_and_retire(ctl, &r)) != CTL_OK)
    goto out;
  if (r.old_retired) {
    printf("Master key id %lld was already retired by the interrupted run; "
           "every data key is under master key id %lld.\n",
           (long long)r.old_id, (long long)r.new_id);
  } else {
    printf("Re-wrapped %lld data key%s under master key id %lld (%d "
           "pass%s).\n", r.rewrapped, r.rewrapped == 1 ? "" : "s",
           (long long)r.new_id, r.passes, r.passes == 1 ? "" : "es");
    printf("Retired master key id %lld: it no longer starts heraldd.\n",
           (long long)r.old_id);
  }
  if (rename(r.next, r.path) != 0 || sync_dir(r.path) != 0) {
    rc = ctl_error("cannot move %s to %s: %s (run the command again to "
                   "finish)", r.next, r.path, strerror(errno));
    goto out;
  }
  printf("Replaced %s with the new key (master key id %lld).\n", r.path,
         (long long)r.new_id);
  printf("Back up %s now, apart from the database: without it read times "
         "cannot be decrypted, and backups of the old key no longer work.\n",
         r.path);
out:
  hcr_master_free(r.old_m);
  hcr_master_free(r.new_m);
  return rc;
}
