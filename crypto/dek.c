/*
 * dek.c — per-user data keys and their wrapping under the master key
 * (envelope encryption).
 *
 * A user's read times are sealed under their own random data key; the
 * database stores only that key wrapped by the master key. So a dump
 * decrypts nothing, erasing a user is deleting one 72-byte row, and rotating
 * the master key rewraps one small blob per user instead of re-encrypting
 * every read time.
 */
#include "hcrypto_int.h"

#include <sodium.h>
#include <string.h>

#define CONTEXT "herald.dek.v1"
#define AD_LEN (sizeof(CONTEXT) - 1 + 8 + 4)
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(AD_LEN == 25, "wrap AD layout documented in hcrypto.h");
_Static_assert(HCR_WRAPPED_DEK_LEN == NONCE_LEN + HCR_DEK_LEN + TAG_LEN,
               "wrapped key layout");
_Static_assert(HCR_DEK_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "data key length");

static void wrap_ad(uint8_t ad[AD_LEN], int64_t user_id, uint32_t version)
{
  uint8_t *p = ad;

  memcpy(p, CONTEXT, sizeof(CONTEXT) - 1);
  p += sizeof(CONTEXT) - 1;
  p = hcr_put_be64(p, (uint64_t)user_id);
  hcr_put_be32(p, version);
}

void hcr_dek_new(uint8_t dek[HCR_DEK_LEN])
{
  crypto_aead_xchacha20poly1305_ietf_keygen(dek);
}

int hcr_dek_wrap(const struct hcr_master *m, int64_t user_id,
                 uint32_t key_version, const uint8_t dek[HCR_DEK_LEN],
                 uint8_t out[HCR_WRAPPED_DEK_LEN])
{
  uint8_t ad[AD_LEN];

  wrap_ad(ad, user_id, key_version);
  randombytes_buf(out, NONCE_LEN);
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + NONCE_LEN, NULL, dek,
                                             HCR_DEK_LEN, ad, sizeof(ad),
                                             NULL, out, m->key);
  return HCR_OK;
}

int hcr_dek_unwrap(const struct hcr_master *m, int64_t user_id,
                   uint32_t key_version, const uint8_t *in, size_t len,
                   uint8_t dek[HCR_DEK_LEN])
{
  uint8_t ad[AD_LEN];

  if (len != HCR_WRAPPED_DEK_LEN) {
    sodium_memzero(dek, HCR_DEK_LEN);
    return HCR_EINVAL;
  }
  wrap_ad(ad, user_id, key_version);
  /* libsodium writes nothing to `dek` when the tag fails; zero it anyway
   * so a caller that ignores the code holds no stale key. */
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          dek, NULL, NULL, in + NONCE_LEN, len - NONCE_LEN, ad, sizeof(ad),
          in, m->key) != 0) {
    sodium_memzero(dek, HCR_DEK_LEN);
    return HCR_EMISMATCH;
  }
  return HCR_OK;
}

int hcr_dek_rewrap(const struct hcr_master *old_m,
                   const struct hcr_master *new_m, int64_t user_id,
                   uint32_t old_version, uint32_t new_version,
                   const uint8_t *in, size_t len,
                   uint8_t out[HCR_WRAPPED_DEK_LEN])
{
  uint8_t dek[HCR_DEK_LEN];
  int rc;

  rc = hcr_dek_unwrap(old_m, user_id, old_version, in, len, dek);
  if (rc == HCR_OK)
    rc = hcr_dek_wrap(new_m, user_id, new_version, dek, out);
  sodium_memzero(dek, sizeof(dek));
  return rc;
}
