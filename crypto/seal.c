/*
 * seal.c — read times sealed under the reader's data key.
 *
 * A read time is personal data (SPEC §5): the database keeps it only as
 * this AEAD blob, with the row it belongs to (conversation, read range,
 * reader, key version) bound in as associated data, so that someone who can
 * write the database still cannot move a read time to another row, reader
 * or range. Only "read or not" is plaintext, elsewhere.
 */
#include "hcrypto_int.h"

#include <sodium.h>
#include <string.h>

#define CONTEXT "herald.readtime.v1"
#define AD_LEN (sizeof(CONTEXT) - 1 + 4 * 8 + 4)
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(AD_LEN == 54, "read-time AD layout documented in hcrypto.h");
_Static_assert(HCR_SEALED_TIME_LEN == NONCE_LEN + 8 + TAG_LEN,
               "sealed time layout");

static int time_ad(uint8_t out[AD_LEN], const struct hcr_time_ad *ad)
{
  uint8_t *p = out;

  if (ad->from_seq > ad->to_seq)
    return HCR_EINVAL;
  memcpy(p, CONTEXT, sizeof(CONTEXT) - 1);
  p += sizeof(CONTEXT) - 1;
  p = hcr_put_be64(p, (uint64_t)ad->conversation_id);
  p = hcr_put_be64(p, (uint64_t)ad->from_seq);
  p = hcr_put_be64(p, (uint64_t)ad->to_seq);
  p = hcr_put_be64(p, (uint64_t)ad->reader_id);
  hcr_put_be32(p, ad->dek_version);
  return HCR_OK;
}

int hcr_seal_time(const uint8_t dek[HCR_DEK_LEN], const struct hcr_time_ad *ad,
                  int64_t read_at_ms, uint8_t out[HCR_SEALED_TIME_LEN])
{
  uint8_t a[AD_LEN], pt[8];

  if (time_ad(a, ad) != HCR_OK)
    return HCR_EINVAL;
  hcr_put_be64(pt, (uint64_t)read_at_ms);
  randombytes_buf(out, NONCE_LEN);
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + NONCE_LEN, NULL, pt,
                                             sizeof(pt), a, sizeof(a), NULL,
                                             out, dek);
  sodium_memzero(pt, sizeof(pt));
  return HCR_OK;
}

int hcr_open_time(const uint8_t dek[HCR_DEK_LEN], const struct hcr_time_ad *ad,
                  const uint8_t *in, size_t len, int64_t *read_at_ms)
{
  uint8_t a[AD_LEN], pt[8];

  if (len != HCR_SEALED_TIME_LEN || time_ad(a, ad) != HCR_OK)
    return HCR_EINVAL;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL,
                                                 in + NONCE_LEN,
                                                 len - NONCE_LEN, a,
                                                 sizeof(a), in, dek) != 0)
    return HCR_EMISMATCH;
  *read_at_ms = (int64_t)hcr_get_be64(pt);
  sodium_memzero(pt, sizeof(pt));
  return HCR_OK;
}
