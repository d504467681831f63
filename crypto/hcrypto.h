/*
 * hcrypto.h — Herald's cryptography, the one module that uses libsodium.
 *
 * Passwords (argon2id), session and bot tokens (random, stored only as
 * hashes), and — as later features land — per-user data keys wrapped by the
 * master key, read-time sealing and Ed25519 signatures. Nothing here does I/O.
 *
 * Threads: call hcr_init() once before any thread starts; after that every
 * function may be called from any thread. Functions return 0 or a negative
 * HCR_E* code.
 */
#ifndef HERALD_HCRYPTO_H
#define HERALD_HCRYPTO_H

#include <stddef.h>
#include <stdint.h>

enum {
  HCR_OK = 0,
  HCR_EINIT = -1,     /* libsodium could not initialise */
  HCR_ENOMEM = -2,    /* the hash could not get its memory */
  HCR_EMISMATCH = -3, /* password or signature does not match */
  HCR_EINVAL = -4,    /* malformed input (hash string, token, key) */
};

/* Initialises libsodium. Idempotent. Returns HCR_OK or HCR_EINIT. */
int hcr_init(void);

/* An argon2id hash string ("$argon2id$v=19$m=...") fits in this many bytes,
 * terminating NUL included. */
#define HCR_PWHASH_LEN 128
/* Longest password accepted, in bytes. */
#define HCR_PASSWORD_MAX 1024

/* Hashes `password` (NUL-terminated, at most HCR_PASSWORD_MAX bytes) into
 * `out`. Costs about 50 ms and 64 MiB: never call it on an event loop.
 * Returns HCR_OK, HCR_EINVAL (too long) or HCR_ENOMEM. */
int hcr_password_hash(const char *password, char out[HCR_PWHASH_LEN]);

/* Checks `password` against a hash from hcr_password_hash(). Same cost.
 * Returns HCR_OK, HCR_EMISMATCH, or HCR_EINVAL for a malformed hash. */
int hcr_password_verify(const char *hash, const char *password);

/* Runs one verification against a fixed dummy hash and returns nothing, so
 * that a login for an unknown user costs the same time as a real one. */
void hcr_password_dummy_verify(const char *password);

/* Session and bot tokens: 32 random bytes as unpadded base64url, 43
 * characters. */
#define HCR_TOKEN_LEN 43
#define HCR_TOKEN_HASH_LEN 32

/* Writes a fresh random token and its terminating NUL into `out`. */
void hcr_token_new(char out[HCR_TOKEN_LEN + 1]);

/* Hashes a token for storage and lookup (BLAKE2b-256). A token carries 256
 * bits of entropy, so an unkeyed fast hash is enough: the database never
 * holds a usable token. Returns HCR_OK, or HCR_EINVAL when `token` is not
 * HCR_TOKEN_LEN base64url characters. */
int hcr_token_hash(const char *token, uint8_t out[HCR_TOKEN_HASH_LEN]);

/* Fills `buf` with random bytes. */
void hcr_random(void *buf, size_t len);

/* Wipes `len` bytes at `p` in a way the compiler cannot elide. */
void hcr_wipe(void *p, size_t len);

#endif
