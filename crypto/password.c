/*
 * password.c — argon2id password hashes.
 *
 * libsodium's "interactive" limits (2 passes, 64 MiB) cost about 50 ms on
 * this class of machine: enough to make offline guessing expensive, cheap
 * enough that a small pool of hashing threads serves logins. The server must
 * run these off its event loop with a bounded number at once.
 */
#include "hcrypto.h"

#include <sodium.h>
#include <string.h>

#define OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

/* A hash of a random password nobody knows, made once, so that unknown
 * users cost one real verification (hcr_password_dummy_verify). */
static char dummy_hash[crypto_pwhash_STRBYTES];

int hcr_init(void)
{
  char pw[32];

  if (sodium_init() < 0)
    return HCR_EINIT;
  if (dummy_hash[0] == '\0') {
    randombytes_buf(pw, sizeof(pw) - 1);
    for (size_t i = 0; i < sizeof(pw) - 1; i++)
      pw[i] = (char)('a' + (unsigned char)pw[i] % 26);
    pw[sizeof(pw) - 1] = '\0';
    if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), OPSLIMIT, MEMLIMIT) != 0)
      return HCR_ENOMEM;
    sodium_memzero(pw, sizeof(pw));
  }
  return HCR_OK;
}

int hcr_password_hash(const char *password, char out[HCR_PWHASH_LEN])
{
  size_t len = strnlen(password, HCR_PASSWORD_MAX + 1);

  _Static_assert(HCR_PWHASH_LEN >= crypto_pwhash_STRBYTES, "hash buffer");
  if (len > HCR_PASSWORD_MAX)
    return HCR_EINVAL;
  if (crypto_pwhash_str(out, password, len, OPSLIMIT, MEMLIMIT) != 0)
    return HCR_ENOMEM;
  return HCR_OK;
}

int hcr_password_verify(const char *hash, const char *password)
{
  size_t len = strnlen(password, HCR_PASSWORD_MAX + 1);

  if (len > HCR_PASSWORD_MAX) {
    hcr_password_dummy_verify("");
    return HCR_EMISMATCH;
  }
  if (strncmp(hash, "$argon2id$", 10) != 0)
    return HCR_EINVAL;
  return crypto_pwhash_str_verify(hash, password, len) == 0 ? HCR_OK
                                                            : HCR_EMISMATCH;
}

void hcr_password_dummy_verify(const char *password)
{
  size_t len = strnlen(password, HCR_PASSWORD_MAX);

  /* The outcome is irrelevant: only the time spent matters. */
  if (crypto_pwhash_str_verify(dummy_hash, password, len) == 0)
    return;
}
