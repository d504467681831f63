/*
 * datakey.c — users' data keys for sealing and opening read times (see
 * datakey_int.h).
 */
#include "datakey_int.h"
#include "log_int.h"
#include "server_int.h"

#include "hcrypto.h"
#include "store.h"

#include <string.h>

int srv_datakey_get(struct srv_server *srv, struct store_conn *conn,
                    int64_t user_id, uint32_t version, bool create,
                    uint8_t dek[32], uint32_t *version_out)
{
  struct store_user_key key;
  uint8_t fresh[HCR_DEK_LEN], wrapped[HCR_WRAPPED_DEK_LEN];
  uint64_t epoch = 0;
  bool created;
  int rc;

  /* Always ask storage first, even with the key cached: an erase
   * (heraldctl user erase) must take effect on a running server at once.
   * The cache saves the unwrap, not the lookup. */
  rc = store_user_key_get(conn, user_id, &key);
  if (rc == STORE_ENOTFOUND && create) {
    /* The first recorded read of this user: make their key. Two threads
     * may race; storage keeps one and both use the winner's. */
    hcr_dek_new(fresh);
    rc = hcr_dek_wrap(srv->master, user_id, STORE_KEY_FIRST_VERSION, fresh,
                      wrapped) == HCR_OK
             ? store_user_key_create(conn, user_id,
                                     (int64_t)hcr_master_id(srv->master),
                                     wrapped, sizeof(wrapped), &key, &created)
             : STORE_EINTERNAL;
    hcr_wipe(fresh, sizeof(fresh));
  }
  if (rc == STORE_OK && key.destroyed)
    hcr_keycache_forget(srv->keys, user_id);
  if (rc != STORE_OK || key.destroyed)
    return -1;
  if (version && key.key_version != version)
    return -1;                    /* an older version is gone */
  if (hcr_keycache_get(srv->keys, user_id, key.key_version, dek, &epoch) ==
      HCR_OK) {
    version = key.key_version;
    goto found;
  }
  if (hcr_dek_unwrap(srv->master, user_id, key.key_version, key.wrapped,
                     key.wrapped_len, dek) != HCR_OK) {
    srv_err("keys", "cannot unwrap the data key of user %lld (wrapped under "
                    "master key id %lld)", (long long)user_id,
            (long long)key.master_id);
    return -1;
  }
  version = key.key_version;
  hcr_keycache_put(srv->keys, user_id, version, dek, epoch);
found:
  if (version_out)
    *version_out = version;
  return 0;
}
