/*
 * datakey.c — users' data keys for sealing and opening read times (see
 * datakey_int.h).
 */
#include "datakey_int.h"
#include "keyring_int.h"
#include "log_int.h"
#include "server_int.h"

#include "hcrypto.h"
#include "store.h"

#include <string.h>

/* Makes the user's first data key under the newest master key held. When
 * storage refuses that master (a rotation retired it since), refreshes the
 * key ring and tries once more under the rotation's new key. */
static int create_key(struct srv_server *srv, struct store_conn *conn,
                      int64_t user_id, struct store_user_key *key)
{
  uint8_t fresh[HCR_DEK_LEN], wrapped[HCR_WRAPPED_DEK_LEN];
  int64_t master_id;
  uint64_t seen;
  bool created;
  int rc = STORE_EINTERNAL;

  for (int attempt = 0; attempt < 2; attempt++) {
    seen = srv_keyring_generation(srv->keyring);
    hcr_dek_new(fresh);
    rc = srv_keyring_wrap(srv->keyring, user_id, STORE_KEY_FIRST_VERSION,
                          fresh, wrapped, &master_id) == 0
             ? store_user_key_create(conn, user_id, master_id, wrapped,
                                     sizeof(wrapped), key, &created)
             : STORE_EINTERNAL;
    hcr_wipe(fresh, sizeof(fresh));
    if (rc != STORE_EFORBIDDEN)
      break;
    srv_keyring_reload(srv->keyring, conn, seen);
  }
  if (rc == STORE_EFORBIDDEN)
    srv_err("keys", "cannot make a data key for user %lld: %s",
            (long long)user_id, store_errmsg(conn));
  return rc;
}

int srv_datakey_get(struct srv_server *srv, struct store_conn *conn,
                    int64_t user_id, uint32_t version, bool create,
                    uint8_t dek[32], uint32_t *version_out)
{
  struct store_user_key key;
  uint64_t epoch = 0;
  int rc;

  srv_keyring_tick(srv->keyring, conn);
  /* Always ask storage first, even with the key cached: an erase
   * (heraldctl user erase) must take effect on a running server at once.
   * The cache saves the unwrap, not the lookup. */
  rc = store_user_key_get(conn, user_id, &key);
  /* The first recorded read of this user: make their key. Two threads may
   * race; storage keeps one and both use the winner's. */
  if (rc == STORE_ENOTFOUND && create)
    rc = create_key(srv, conn, user_id, &key);
  if (rc == STORE_EFORBIDDEN)
    rc = STORE_EINTERNAL;         /* no usable master: logged, not the user's fault */
  if (rc != STORE_OK)
    return rc;
  if (key.destroyed) {
    hcr_keycache_forget(srv->keys, user_id);
    return STORE_ENOTFOUND;
  }
  if (version && key.key_version != version)
    return STORE_ENOTFOUND;       /* an older version is gone */
  if (hcr_keycache_get(srv->keys, user_id, key.key_version, dek, &epoch) ==
      HCR_OK) {
    version = key.key_version;
    goto found;
  }
  /* The ring picks the master key by the id stored with the wrapped key:
   * during a rotation some keys are under the old master, some under the
   * new one. */
  if (srv_keyring_unwrap(srv->keyring, conn, key.master_id, user_id,
                         key.key_version, key.wrapped, key.wrapped_len,
                         dek) != 0) {
    srv_err("keys", "cannot unwrap the data key of user %lld (wrapped under "
                    "master key id %lld)", (long long)user_id,
            (long long)key.master_id);
    return STORE_EINTERNAL;
  }
  version = key.key_version;
  hcr_keycache_put(srv->keys, user_id, version, dek, epoch);
found:
  if (version_out)
    *version_out = version;
  return STORE_OK;
}
