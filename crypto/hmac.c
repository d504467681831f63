/*
 * hmac.c — HMAC-SHA256, and robot secrets sealed under the master key.
 *
 * The DingTalk-compatible robot webhook (SPEC §9) signs a call with
 * HMAC-SHA256 keyed by a shared secret, so the server must be able to use
 * the secret: unlike a token it cannot be stored as a hash. It is stored
 * sealed under the master key with the bot's id bound in as associated
 * data, so a sealed secret copied to another bot does not open.
 */
#include "hcrypto_int.h"

#include <sodium.h>
#include <string.h>

#define CONTEXT "herald.robotsecret.v1"
#define AD_LEN (sizeof(CONTEXT) - 1 + 8)
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(HCR_HMAC_LEN == crypto_auth_hmacsha256_BYTES, "HMAC size");
_Static_assert(HCR_SECRET_SEALED_MAX == 8 + NONCE_LEN + HCR_SECRET_MAX + TAG_LEN,
               "sealed secret layout documented in hcrypto.h");

void hcr_hmac_sha256(const void *key, size_t keylen, const void *msg,
                     size_t len, uint8_t out[HCR_HMAC_LEN])
{
  crypto_auth_hmacsha256_state st;

  /* The streaming API takes keys of any length (hashed when longer than
   * the block), as HMAC defines. */
  crypto_auth_hmacsha256_init(&st, key, keylen);
  crypto_auth_hmacsha256_update(&st, msg, len);
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof(st));
}

int hcr_equal(const void *a, const void *b, size_t len)
{
  return sodium_memcmp(a, b, len) == 0;
}

static void secret_ad(uint8_t out[AD_LEN], int64_t bot_id)
{
  memcpy(out, CONTEXT, sizeof(CONTEXT) - 1);
  hcr_put_be64(out + sizeof(CONTEXT) - 1, (uint64_t)bot_id);
}

int hcr_secret_seal(const struct hcr_master *m, int64_t bot_id,
                    const char *secret, size_t len,
                    uint8_t out[HCR_SECRET_SEALED_MAX], size_t *outlen)
{
  uint8_t a[AD_LEN], *p = out;

  if (len < 1 || len > HCR_SECRET_MAX)
    return HCR_EINVAL;
  secret_ad(a, bot_id);
  p = hcr_put_be64(p, m->id);
  randombytes_buf(p, NONCE_LEN);
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + NONCE_LEN, NULL,
                                             (const uint8_t *)secret, len, a,
                                             sizeof(a), NULL, p, m->key);
  *outlen = 8 + NONCE_LEN + len + TAG_LEN;
  return HCR_OK;
}

int hcr_secret_master_id(const uint8_t *blob, size_t len, uint64_t *id)
{
  if (len < 8 + NONCE_LEN + 1 + TAG_LEN || len > HCR_SECRET_SEALED_MAX)
    return HCR_EINVAL;
  *id = hcr_get_be64(blob);
  return HCR_OK;
}

int hcr_secret_open(const struct hcr_master *m, int64_t bot_id,
                    const uint8_t *blob, size_t len,
                    char out[HCR_SECRET_MAX + 1], size_t *outlen)
{
  uint8_t a[AD_LEN];
  unsigned long long n = 0;
  uint64_t id;

  if (hcr_secret_master_id(blob, len, &id) != HCR_OK)
    return HCR_EINVAL;
  if (id != m->id)
    return HCR_EMISMATCH;
  secret_ad(a, bot_id);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
        (uint8_t *)out, &n, NULL, blob + 8 + NONCE_LEN,
        len - 8 - NONCE_LEN, a, sizeof(a), blob + 8, m->key) != 0) {
    sodium_memzero(out, HCR_SECRET_MAX + 1);
    return HCR_EMISMATCH;
  }
  out[n] = '\0';
  *outlen = (size_t)n;
  return HCR_OK;
}

int hcr_robot_sign(const char *secret, size_t len, const char *timestamp,
                   char out[HCR_ROBOT_SIGN_LEN + 1])
{
  size_t tl = strlen(timestamp);
  uint8_t msg[32 + 1 + HCR_SECRET_MAX], mac[HCR_HMAC_LEN];

  if (tl > 32 || len > HCR_SECRET_MAX)
    return HCR_EINVAL;
  memcpy(msg, timestamp, tl);
  msg[tl] = '\n';
  memcpy(msg + tl + 1, secret, len);
  hcr_hmac_sha256(secret, len, msg, tl + 1 + len, mac);
  sodium_bin2base64(out, HCR_ROBOT_SIGN_LEN + 1, mac, sizeof(mac),
                    sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(msg, sizeof(msg));
  return HCR_OK;
}
