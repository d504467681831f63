/*
 * masterkey_int.h — where heraldd's master key comes from at start-up.
 *
 * In order: the environment variable HERALD_MASTER_KEY (the key itself,
 * hex or base64; unset after reading so that child processes such as the
 * embedded PostgreSQL never inherit it), the file named by the
 * master-key-file setting, or DATA_DIR/master.key — created with a fresh
 * random key (mode 0600) on the first start, with a warning to back it up
 * apart from the database. The key is never in the database and never on
 * the command line.
 *
 * Main thread, at start-up only.
 */
#ifndef HERALD_SRV_MASTERKEY_INT_H
#define HERALD_SRV_MASTERKEY_INT_H

#include <stddef.h>

struct hcr_master;
struct srv_config;
struct store_conn;

/* Loads the master key; on success *out owns it (hcr_master_free) and
 * `path` (pathlen bytes) holds the key file it came from, "" when it came
 * from the environment (a running server can re-read a file during a key
 * rotation, not its environment). On failure writes one line naming the
 * source into `err` and returns -1. */
int srv_master_key_load(const struct srv_config *cfg, struct hcr_master **out,
                        char *path, size_t pathlen, char *err, size_t errlen);

/* Checks `m` against the check values stored beside the data: the key must
 * be the one the data keys are wrapped with. On an installation without a
 * check value yet, records one for `m`. 0, or -1 with one line in `err`
 * (a wrong key, a retired key, or the database unreachable). */
int srv_master_key_check(struct store_conn *conn, const struct hcr_master *m,
                         char *err, size_t errlen);

#endif
