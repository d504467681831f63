/* Unit tests for crypto/token.c: token format, uniqueness and hashing. */
#include "check.h"
#include "hcrypto.h"

TEST(token_format)
{
  char t[HCR_TOKEN_LEN + 1];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_token_new(t);
  CHECK_UINT(strlen(t), ==, HCR_TOKEN_LEN);
  for (size_t i = 0; i < HCR_TOKEN_LEN; i++)
    CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                 "0123456789-_", t[i]) != NULL);
}

TEST(tokens_differ_and_hash_is_stable)
{
  char a[HCR_TOKEN_LEN + 1], b[HCR_TOKEN_LEN + 1];
  uint8_t ha[HCR_TOKEN_HASH_LEN], ha2[HCR_TOKEN_HASH_LEN], hb[HCR_TOKEN_HASH_LEN];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_token_new(a);
  hcr_token_new(b);
  CHECK(strcmp(a, b) != 0);
  CHECK_INT(hcr_token_hash(a, ha), ==, HCR_OK);
  CHECK_INT(hcr_token_hash(a, ha2), ==, HCR_OK);
  CHECK_INT(hcr_token_hash(b, hb), ==, HCR_OK);
  CHECK_MEM(ha, ha2, sizeof(ha));
  CHECK(memcmp(ha, hb, sizeof(ha)) != 0);
}

TEST(malformed_tokens_refused)
{
  uint8_t h[HCR_TOKEN_HASH_LEN];
  char t[HCR_TOKEN_LEN + 2];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_token_hash("", h), ==, HCR_EINVAL);
  CHECK_INT(hcr_token_hash("short", h), ==, HCR_EINVAL);
  memset(t, 'a', HCR_TOKEN_LEN + 1);
  t[HCR_TOKEN_LEN + 1] = '\0';
  CHECK_INT(hcr_token_hash(t, h), ==, HCR_EINVAL);   /* one too long */
  t[HCR_TOKEN_LEN] = '\0';
  CHECK_INT(hcr_token_hash(t, h), ==, HCR_OK);
  t[5] = '/';                                          /* not base64url */
  CHECK_INT(hcr_token_hash(t, h), ==, HCR_EINVAL);
}

TEST_MAIN()
