/*
 * sign.c — SHA-256 and Ed25519 for the cards of SPEC §8: clients sign the
 * SHA-256 of an interview record's canonical content with their device's
 * Ed25519 key, the server verifies, and card events are chained by SHA-256.
 * Thin wrappers, so that nothing outside crypto/ includes sodium.h.
 */
#include "hcrypto.h"

#include <sodium.h>
#include <string.h>

_Static_assert(sizeof(crypto_hash_sha256_state) <=
                   sizeof(((struct hcr_sha256 *)0)->opaque_),
               "struct hcr_sha256 holds libsodium's state");
_Static_assert(HCR_SHA256_LEN == crypto_hash_sha256_BYTES, "sha256 size");
_Static_assert(HCR_SIGN_PUB_LEN == crypto_sign_PUBLICKEYBYTES, "pub size");
_Static_assert(HCR_SIGN_SECRET_LEN == crypto_sign_SECRETKEYBYTES, "sk size");
_Static_assert(HCR_SIGN_SEED_LEN == crypto_sign_SEEDBYTES, "seed size");
_Static_assert(HCR_SIG_LEN == crypto_sign_BYTES, "signature size");

void hcr_sha256(const void *data, size_t len, uint8_t out[HCR_SHA256_LEN])
{
  crypto_hash_sha256(out, data, len);
}

void hcr_sha256_init(struct hcr_sha256 *h)
{
  crypto_hash_sha256_init((crypto_hash_sha256_state *)(void *)h->opaque_);
}

void hcr_sha256_update(struct hcr_sha256 *h, const void *data, size_t len)
{
  crypto_hash_sha256_update((crypto_hash_sha256_state *)(void *)h->opaque_,
                            data, len);
}

void hcr_sha256_final(struct hcr_sha256 *h, uint8_t out[HCR_SHA256_LEN])
{
  crypto_hash_sha256_final((crypto_hash_sha256_state *)(void *)h->opaque_,
                           out);
  sodium_memzero(h, sizeof(*h));
}

void hcr_sign_keypair(uint8_t pub[HCR_SIGN_PUB_LEN],
                      uint8_t sk[HCR_SIGN_SECRET_LEN])
{
  crypto_sign_keypair(pub, sk);
}

void hcr_sign_seed_keypair(const uint8_t seed[HCR_SIGN_SEED_LEN],
                           uint8_t pub[HCR_SIGN_PUB_LEN],
                           uint8_t sk[HCR_SIGN_SECRET_LEN])
{
  crypto_sign_seed_keypair(pub, sk, seed);
}

void hcr_sign(const uint8_t sk[HCR_SIGN_SECRET_LEN], const void *msg,
              size_t len, uint8_t sig[HCR_SIG_LEN])
{
  crypto_sign_detached(sig, NULL, msg, len, sk);
}

int hcr_sign_verify(const uint8_t pub[HCR_SIGN_PUB_LEN], const void *msg,
                    size_t len, const uint8_t sig[HCR_SIG_LEN])
{
  if (crypto_sign_verify_detached(sig, msg, len, pub) != 0)
    return HCR_EMISMATCH;
  return HCR_OK;
}
