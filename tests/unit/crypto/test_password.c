/* Unit tests for crypto/password.c: argon2id hashing and verification. */
#include "check.h"
#include "hcrypto.h"

TEST(hash_then_verify)
{
  char h[HCR_PWHASH_LEN];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_password_hash("correct horse", h), ==, HCR_OK);
  CHECK(strncmp(h, "$argon2id$", 10) == 0);
  CHECK_INT(hcr_password_verify(h, "correct horse"), ==, HCR_OK);
  CHECK_INT(hcr_password_verify(h, "correct hors"), ==, HCR_EMISMATCH);
  CHECK_INT(hcr_password_verify(h, ""), ==, HCR_EMISMATCH);
}

TEST(same_password_different_salt)
{
  char a[HCR_PWHASH_LEN], b[HCR_PWHASH_LEN];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_password_hash("pw", a), ==, HCR_OK);
  CHECK_INT(hcr_password_hash("pw", b), ==, HCR_OK);
  CHECK(strcmp(a, b) != 0);
}

TEST(malformed_hash_and_oversized_password)
{
  char big[HCR_PASSWORD_MAX + 2];
  char h[HCR_PWHASH_LEN];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_password_verify("$2b$10$notargon", "x"), ==, HCR_EINVAL);
  CHECK_INT(hcr_password_verify("", "x"), ==, HCR_EINVAL);
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  CHECK_INT(hcr_password_hash(big, h), ==, HCR_EINVAL);
  CHECK_INT(hcr_password_hash("ok", h), ==, HCR_OK);
  CHECK_INT(hcr_password_verify(h, big), ==, HCR_EMISMATCH);
}

TEST_MAIN()
