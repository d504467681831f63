/*
 * masterkey.c — finding, and on first start creating, the master key (see
 * masterkey_int.h).
 */
#include "masterkey_int.h"
#include "config_int.h"
#include "log_int.h"

#include "hcrypto.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_NAME "HERALD_MASTER_KEY"

/* Creates `path` with a fresh key, exclusively (an existing file is never
 * overwritten) and durably. 0, or -1 with err set. */
static int create_key_file(const char *path, char *err, size_t errlen)
{
  char hex[HCR_MASTER_HEX_LEN + 2];
  int fd, rc = -1;

  if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
    if (errno == EEXIST)
      return 0;                       /* created meanwhile: use it */
    snprintf(err, errlen, "cannot create master key file %s: %s", path,
             strerror(errno));
    return -1;
  }
  hcr_master_generate(hex);
  strcat(hex, "\n");
  if (write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) || fsync(fd) != 0)
    snprintf(err, errlen, "cannot write master key file %s: %s", path,
             strerror(errno));
  else
    rc = 0;
  hcr_wipe(hex, sizeof(hex));
  close(fd);
  if (rc == 0)
    srv_warn("keys", "created a new master key in %s: back it up apart from "
                     "the database (without it, read times cannot be "
                     "decrypted)", path);
  else
    unlink(path);
  return rc;
}

int srv_master_key_load(const struct srv_config *cfg, struct hcr_master **out,
                        char *path, size_t pathlen, char *err, size_t errlen)
{
  int rc;

  path[0] = '\0';
  rc = hcr_master_load_env(ENV_NAME, out, err, errlen);
  if (rc != HCR_ENOENT) {
    unsetenv(ENV_NAME);
    if (rc == HCR_OK)
      srv_info("keys", "master key from %s", ENV_NAME);
    return rc == HCR_OK ? 0 : -1;
  }
  if (cfg->master_key_file[0]) {
    snprintf(path, pathlen, "%s", cfg->master_key_file);
  } else {
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "cannot create data directory %s: %s",
               cfg->data_dir, strerror(errno));
      return -1;
    }
    snprintf(path, pathlen, "%s/master.key", cfg->data_dir);
    if (access(path, F_OK) != 0 && create_key_file(path, err, errlen) != 0)
      return -1;
  }
  if (hcr_master_load_file(path, out, err, errlen) != HCR_OK) {
    path[0] = '\0';
    return -1;
  }
  srv_info("keys", "master key from %s (id %llu)", path,
           (unsigned long long)hcr_master_id(*out));
  return 0;
}

int srv_master_key_check(struct store_conn *conn, const struct hcr_master *m,
                         char *err, size_t errlen)
{
  struct store_master_check *checks = NULL;
  uint8_t value[HCR_MASTER_CHECK_LEN];
  int64_t id = (int64_t)hcr_master_id(m);
  size_t n = 0;
  int rc = -1;

  if (store_master_checks(conn, &checks, &n) != STORE_OK) {
    snprintf(err, errlen, "cannot read the master key check: %s",
             store_errmsg(conn));
    goto out;
  }
  if (n == 0) {
    /* A new installation: this key is the one from now on. */
    if (hcr_master_check_new(m, value) != HCR_OK ||
        store_master_check_put(conn, id, value, sizeof(value)) != STORE_OK) {
      snprintf(err, errlen, "cannot record the master key check: %s",
               store_errmsg(conn));
      goto out;
    }
    rc = 0;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if (checks[i].master_id != id ||
        hcr_master_check_verify(m, checks[i].value, checks[i].len) != HCR_OK)
      continue;
    if (checks[i].retired) {
      snprintf(err, errlen, "the master key (id %lld) was retired by a key "
               "rotation; start with the new master key (heraldctl keys "
               "rotate wrote it to the key file; if the rotation was "
               "interrupted, run it again to finish)", (long long)id);
      goto out;
    }
    rc = 0;
    goto out;
  }
  snprintf(err, errlen, "wrong master key: the database's data keys are "
           "wrapped under master key id %lld, the configured key is id %lld "
           "(set HERALD_MASTER_KEY or master-key-file to the right key)",
           (long long)checks[0].master_id, (long long)id);
out:
  hcr_wipe(value, sizeof(value));
  free(checks);
  return rc;
}
