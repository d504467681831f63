/*
 * main.c — heraldd: load the settings, bring up the database (the embedded
 * default or an external PostgreSQL), apply migrations, then serve until
 * SIGTERM, and stop the embedded PostgreSQL on the way out.
 */
#include "config_int.h"
#include "keyring_int.h"
#include "log_int.h"
#include "masterkey_int.h"
#include "server_int.h"
#include "tls_int.h"

#include "hcrypto.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>

#define HERALD_VERSION "0.1.0"

/* Connects once, applies pending migrations, checks that the master key
 * is the one the data keys are wrapped with, disconnects. Runs before the
 * event loop exists, so blocking here is fine. */
static int prepare_database(const char *conninfo, const struct hcr_master *m)
{
  struct store_conn *conn = NULL;
  char err[512];
  int applied = 0, rc;

  if ((rc = store_connect(conninfo, &conn)) != 0) {
    srv_err("db", "cannot connect to PostgreSQL: %s", store_errmsg(conn));
    goto out;
  }
  if ((rc = store_migrate(conn, &applied)) != 0) {
    srv_err("db", "migrations failed: %s", store_errmsg(conn));
    goto out;
  }
  srv_info("db", "schema current (%d migration%s applied now)", applied,
           applied == 1 ? "" : "s");
  if ((rc = srv_master_key_check(conn, m, err, sizeof(err))) != 0)
    srv_err("keys", "%s", err);
out:
  store_close(conn);
  return rc;
}

int main(int argc, char **argv)
{
  struct srv_config cfg;
  struct srv_server srv;
  struct store_embedded *emb = NULL;
  struct hcr_master *master = NULL;
  struct srv_keyring *keyring = NULL;
  char keypath[4096];
  enum srv_config_action action;
  const char *conninfo;
  char err[512];
  int status = 1;

  if (srv_config_load(&cfg, argc, argv, &action, err, sizeof(err)) != 0) {
    fprintf(stderr, "heraldd: %s\n", err);
    srv_config_cleanup(&cfg);
    return 2;
  }
  /* The TLS files are checked before anything starts, and by
   * --check-config: a bad one is a configuration error. */
  if ((action == SRV_CONFIG_RUN || action == SRV_CONFIG_CHECK) &&
      srv_tls_check(&cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "heraldd: %s\n", err);
    srv_config_cleanup(&cfg);
    return 2;
  }
  switch (action) {
  case SRV_CONFIG_PRINT:
    srv_config_print_file(stdout);
    srv_config_cleanup(&cfg);
    return 0;
  case SRV_CONFIG_HELP:
    srv_config_usage(stdout);
    srv_config_cleanup(&cfg);
    return 0;
  case SRV_CONFIG_VERSION:
    printf("heraldd %s\n", HERALD_VERSION);
    srv_config_cleanup(&cfg);
    return 0;
  case SRV_CONFIG_CHECK:
    srv_config_dump(&cfg, stdout);
    printf("configuration OK\n");
    srv_config_cleanup(&cfg);
    return 0;
  case SRV_CONFIG_RUN:
    break;
  }

  srv_log_capture_lws();
  if (hcr_init() != HCR_OK) {
    srv_err("main", "libsodium failed to initialise");
    goto out;
  }

  if (cfg.db[0]) {
    conninfo = cfg.db;
    srv_info("db", "using the external PostgreSQL given by db");
  } else {
    srv_info("db", "embedded PostgreSQL under %s", cfg.data_dir);
    if (store_embedded_start(cfg.data_dir, &emb, err, sizeof(err)) != 0) {
      srv_err("db", "embedded PostgreSQL: %s", err);
      goto out;
    }
    conninfo = store_embedded_conninfo(emb);
  }
  if (srv_master_key_load(&cfg, &master, keypath, sizeof(keypath), err,
                          sizeof(err)) != 0) {
    srv_err("keys", "%s", err);
    goto out;
  }
  if (prepare_database(conninfo, master) != 0)
    goto out;
  /* The ring owns the key from here on. */
  if (srv_keyring_new(master, keypath[0] ? keypath : NULL, &keyring) != 0) {
    master = NULL;
    srv_err("keys", "out of memory");
    goto out;
  }
  master = NULL;

  if (srv_server_init(&srv, &cfg, conninfo, keyring) == 0) {
    srv_server_run(&srv);
    status = 0;
  }
  srv_server_cleanup(&srv);

out:
  if (emb) {
    srv_info("db", "stopping the embedded PostgreSQL");
    if (store_embedded_stop(emb) != 0)
      status = 1;
  }
  hcr_master_free(master);
  srv_keyring_free(keyring);
  srv_info("main", "exit %d", status);
  srv_config_cleanup(&cfg);
  return status;
}
