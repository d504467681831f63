/*
 * token.c — random bearer tokens and their storage hashes, plus the small
 * random/wipe helpers the rest of Herald uses instead of calling libsodium.
 */
#include "hcrypto.h"

#include <sodium.h>
#include <string.h>

#define TOKEN_RAW 32

void hcr_token_new(char out[HCR_TOKEN_LEN + 1])
{
  unsigned char raw[TOKEN_RAW];

  _Static_assert(HCR_TOKEN_LEN + 1 ==
                     sodium_base64_ENCODED_LEN(TOKEN_RAW,
                         sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                 "token length");
  randombytes_buf(raw, sizeof(raw));
  sodium_bin2base64(out, HCR_TOKEN_LEN + 1, raw, sizeof(raw),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof(raw));
}

int hcr_token_hash(const char *token, uint8_t out[HCR_TOKEN_HASH_LEN])
{
  size_t len = strnlen(token, HCR_TOKEN_LEN + 1);

  if (len != HCR_TOKEN_LEN)
    return HCR_EINVAL;
  for (size_t i = 0; i < len; i++) {
    char c = token[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return HCR_EINVAL;
  }
  crypto_generichash(out, HCR_TOKEN_HASH_LEN, (const unsigned char *)token,
                     len, NULL, 0);
  return HCR_OK;
}

void hcr_random(void *buf, size_t len)
{
  randombytes_buf(buf, len);
}

void hcr_wipe(void *p, size_t len)
{
  sodium_memzero(p, len);
}
