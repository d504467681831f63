/*
 * hcrypto.h — Herald's cryptography, the one module that uses libsodium.
 *
 * Passwords (argon2id), session and bot tokens (random, stored only as
 * hashes), the server's master key and the per-user data keys it wraps,
 * read-time sealing and a cache of unwrapped data keys — and, as later
 * features land, Ed25519 signatures. The only I/O is reading the master key
 * file (hcr_master_load_file).
 *
 * Threads: call hcr_init() once before any thread starts; after that every
 * function may be called from any thread. Functions that can fail return 0
 * or a negative HCR_E* code; those that cannot return void.
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
  HCR_ENOENT = -5,    /* not there: a cache miss, an unset variable */
  HCR_EIO = -6,       /* a key file could not be opened or read */
  HCR_EPERM = -7,     /* a key file is accessible by group or others */
};

/* A short English text for an HCR_E* code; never NULL, static storage. */
const char *hcr_strerror(int code);

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

/*
 * The master key (master.c): 32 bytes that wrap every user's data key. It
 * comes from a file or an environment variable — never from argv, never from
 * the database — and lives in guarded, locked, read-only memory
 * (sodium_malloc) until hcr_master_free() wipes it.
 *
 * Accepted encodings: 32 raw bytes (file only), 64 hex characters, or base64
 * of 32 bytes (standard or URL-safe alphabet, padded or not); text may end
 * in one "\n" or "\r\n". Refused: any other length, an all-zero key, and
 * 32 printable characters (a passphrase, not a key). Make one with
 * hcr_master_generate() or `head -c 32 /dev/urandom | base64`.
 *
 * Every master key has an id: the first 63 bits of a keyed BLAKE2b of a
 * fixed string, so it reveals nothing about the key, fits a signed 64-bit
 * database column, and tells which key wrapped what during a rotation.
 */
struct hcr_master;

#define HCR_MASTER_LEN 32
#define HCR_MASTER_HEX_LEN 64
/* Longest master key file read; anything longer is refused. */
#define HCR_MASTER_FILE_MAX 4096

/* Loads the master key from the file at `path`. The file must be a regular
 * file with no permission bits for group or others (mode 0600 or 0400).
 * On success *out owns the key: free it with hcr_master_free(). On failure
 * *out is NULL, one line naming the file (never any key material) is written
 * to `err` (may be NULL when errlen is 0), and the code is HCR_EIO (cannot
 * open or read), HCR_EPERM (mode allows group/other; the message gives the
 * mode and the chmod), HCR_EINVAL (not a regular file, wrong length, bad
 * encoding, all-zero or passphrase-like key) or HCR_ENOMEM. Reads the file
 * once; the text read is wiped. Start-up code: any thread. */
int hcr_master_load_file(const char *path, struct hcr_master **out,
                         char *err, size_t errlen);

/* Loads the master key from the value of the environment variable `name`
 * (hex or base64, as above). HCR_ENOENT when the variable is unset or
 * empty; otherwise as hcr_master_load_file, with messages naming the
 * variable. The variable is left as it is: unset it after loading if child
 * processes must not inherit it. Calls getenv(): not safe against a
 * concurrent setenv(), so call it at start-up. */
int hcr_master_load_env(const char *name, struct hcr_master **out,
                        char *err, size_t errlen);

/* Wipes and frees a master key. Takes NULL. No other thread may be using
 * `m` any more. */
void hcr_master_free(struct hcr_master *m);

/* The key's id (0 <= id < 2^63), see above. Any thread. */
uint64_t hcr_master_id(const struct hcr_master *m);

/* Writes a fresh random master key as 64 lowercase hex characters and a NUL
 * (for `heraldctl keys new`). The caller wipes `out` with hcr_wipe(). */
void hcr_master_generate(char out[HCR_MASTER_HEX_LEN + 1]);

/* The check value: a blob stored beside the data (the master_key_checks
 * table) that tells at start-up whether the configured master key is the one
 * the data keys were wrapped with.
 *
 *   id (8, big-endian) | nonce (24) | tag (16)          = 48 bytes
 *
 * The tag is XChaCha20-Poly1305 over an empty message with associated data
 * "herald.mastercheck.v1" | id (8, big-endian), under the master key. */
#define HCR_MASTER_CHECK_LEN 48

/* Makes a check value for `m` into `out`. Returns HCR_OK. Any thread. */
int hcr_master_check_new(const struct hcr_master *m,
                         uint8_t out[HCR_MASTER_CHECK_LEN]);

/* Verifies a check value (`len` bytes at `blob`, borrowed) against `m`.
 * Returns HCR_OK when `m` is the key that made it, HCR_EMISMATCH when it is
 * not (different id, or the tag fails), HCR_EINVAL when len is not
 * HCR_MASTER_CHECK_LEN. Any thread. */
int hcr_master_check_verify(const struct hcr_master *m, const uint8_t *blob,
                            size_t len);

/* Reads the id of the key that made a check value, without any key: for an
 * error message such as "the data needs master key id X, the configured key
 * is id Y". Returns HCR_OK or HCR_EINVAL (length). */
int hcr_master_check_id(const uint8_t *blob, size_t len, uint64_t *id);

/*
 * Per-user data keys (dek.c). Each user has a random 32-byte data key (DEK);
 * only its wrapped form is stored:
 *
 *   nonce (24) | ciphertext (32) | tag (16)             = 72 bytes
 *
 * XChaCha20-Poly1305 under the master key, random nonce, associated data
 *
 *   "herald.dek.v1" (13 bytes) | user_id (8, big-endian two's complement)
 *   | key_version (4, big-endian)                       = 25 bytes
 *
 * so a wrapped key moved to another user or version does not unwrap.
 * `key_version` is the version of the user's data key; it is also bound into
 * every read time sealed under that key (struct hcr_time_ad). Erasing a user
 * (crypto-shredding) is deleting the wrapped key and hcr_keycache_forget().
 *
 * Plain DEKs live in caller buffers: wipe them with hcr_wipe() when done.
 * All functions may be called from any thread, also on one shared master.
 */
#define HCR_DEK_LEN 32
#define HCR_WRAPPED_DEK_LEN 72

/* Writes a fresh random data key into `dek`. */
void hcr_dek_new(uint8_t dek[HCR_DEK_LEN]);

/* Wraps `dek` for (user_id, key_version) under `m` into `out`. Returns
 * HCR_OK. */
int hcr_dek_wrap(const struct hcr_master *m, int64_t user_id,
                 uint32_t key_version, const uint8_t dek[HCR_DEK_LEN],
                 uint8_t out[HCR_WRAPPED_DEK_LEN]);

/* Unwraps `len` bytes at `in` (borrowed) into `dek`. Returns HCR_OK,
 * HCR_EINVAL when len is not HCR_WRAPPED_DEK_LEN, or HCR_EMISMATCH when the
 * blob was altered, `m` is not the key that wrapped it, or user_id or
 * key_version differ from the wrap; on failure `dek` is zeroed. */
int hcr_dek_unwrap(const struct hcr_master *m, int64_t user_id,
                   uint32_t key_version, const uint8_t *in, size_t len,
                   uint8_t dek[HCR_DEK_LEN]);

/* Master key rotation for one user: unwraps `in` (len bytes) with `old_m`
 * for (user_id, old_version) and wraps the same DEK with `new_m` for
 * (user_id, new_version) into `out`. The DEK does not change, so read times
 * sealed under it stay readable; pass new_version == old_version unless the
 * caller versions wrappings separately from the DEK (struct hcr_time_ad
 * binds the DEK's version). The plain DEK exists only on this function's
 * stack and is wiped. Returns as hcr_dek_unwrap; `out` is untouched on
 * failure. `in` and `out` may not overlap. */
int hcr_dek_rewrap(const struct hcr_master *old_m,
                   const struct hcr_master *new_m, int64_t user_id,
                   uint32_t old_version, uint32_t new_version,
                   const uint8_t *in, size_t len,
                   uint8_t out[HCR_WRAPPED_DEK_LEN]);

/*
 * Read-time sealing (seal.c). A read time (Unix milliseconds) is sealed
 * under the reader's DEK:
 *
 *   nonce (24) | ciphertext of read_at_ms (8, big-endian) | tag (16) = 48
 *
 * XChaCha20-Poly1305, random nonce, associated data (54 bytes, every
 * integer big-endian, signed ones as two's complement):
 *
 *   "herald.readtime.v1" (18) | conversation_id (8) | from_seq (8)
 *   | to_seq (8) | reader_id (8) | dek_version (4)
 *
 * so a ciphertext copied to another row (conversation or range), another
 * reader or another key version does not open.
 */
#define HCR_SEALED_TIME_LEN 48

/* The row a read time belongs to. */
struct hcr_time_ad {
  int64_t conversation_id;
  int64_t from_seq;     /* first seq of the read range, inclusive */
  int64_t to_seq;       /* last seq of the read range, inclusive; >= from */
  int64_t reader_id;    /* the user who read: whose DEK seals */
  uint32_t dek_version; /* version of that DEK (as in hcr_dek_wrap) */
};

/* Seals `read_at_ms` for the row `ad` under `dek` into `out`. Returns
 * HCR_OK, or HCR_EINVAL when ad->from_seq > ad->to_seq. Any thread. */
int hcr_seal_time(const uint8_t dek[HCR_DEK_LEN], const struct hcr_time_ad *ad,
                  int64_t read_at_ms, uint8_t out[HCR_SEALED_TIME_LEN]);

/* Opens `len` bytes at `in` (borrowed) for the row `ad` into *read_at_ms.
 * Returns HCR_OK; HCR_EINVAL when len is not HCR_SEALED_TIME_LEN or
 * from_seq > to_seq; HCR_EMISMATCH when the blob was altered, `dek` is not
 * the sealing key or `ad` differs in any field. Any thread. */
int hcr_open_time(const uint8_t dek[HCR_DEK_LEN], const struct hcr_time_ad *ad,
                  const uint8_t *in, size_t len, int64_t *read_at_ms);

/*
 * The data-key cache (keycache.c): unwrapped DEKs by (user id, version), so
 * that the server does not unwrap a key per read. Bounded, least recently
 * used out first. The keys live in one sodium_malloc'd block (guard pages;
 * locked in RAM and kept out of core dumps while RLIMIT_MEMLOCK allows — the
 * cache still works unlocked past it); 32 bytes per entry, so the largest
 * cache locks 2 MiB. Every key leaving the cache (eviction, forget, clear,
 * free) is wiped. Lookups copy the key into the caller's buffer, which the
 * caller wipes; nothing returns a pointer into the cache.
 *
 * Thread-safe: one mutex; every call is a few hundred nanoseconds.
 *
 * Races with erasure and rotation: hcr_keycache_get() hands out the cache's
 * epoch, which hcr_keycache_forget() and hcr_keycache_clear() advance.
 * Unwrap a missed key, then hcr_keycache_put() it with that epoch: a put
 * whose epoch is stale is dropped, so a key read from the database before a
 * user was erased cannot re-enter the cache after hcr_keycache_forget().
 */
struct hcr_keycache;

#define HCR_KEYCACHE_MAX 65536

struct hcr_keycache_stats {
  uint64_t hits, misses, evictions;
  size_t size, capacity;
};

/* Creates a cache of `capacity` keys (1..HCR_KEYCACHE_MAX). *out is owned by
 * the caller: free it with hcr_keycache_free(). Returns HCR_OK, HCR_EINVAL
 * (capacity) or HCR_ENOMEM. */
int hcr_keycache_new(size_t capacity, struct hcr_keycache **out);

/* Wipes every key and frees the cache. Takes NULL. No other thread may be
 * using `kc` any more. */
void hcr_keycache_free(struct hcr_keycache *kc);

/* Copies the key of (user_id, version) into `dek` and marks it most recently
 * used. Returns HCR_OK, or HCR_ENOENT on a miss (`dek` untouched). Writes
 * the current epoch into *epoch (may be NULL) in both cases. */
int hcr_keycache_get(struct hcr_keycache *kc, int64_t user_id,
                     uint32_t version, uint8_t dek[HCR_DEK_LEN],
                     uint64_t *epoch);

/* Copies `dek` (still the caller's to wipe) into the cache as (user_id,
 * version), replacing an entry with that name and evicting the least
 * recently used one when full. When `epoch` is not the current epoch (a
 * forget or clear happened since the get that returned it) the key is
 * dropped. Returns HCR_OK in both cases. */
int hcr_keycache_put(struct hcr_keycache *kc, int64_t user_id,
                     uint32_t version, const uint8_t dek[HCR_DEK_LEN],
                     uint64_t epoch);

/* Wipes and removes every version of `user_id`'s key and advances the
 * epoch (crypto-shredding: call it after deleting the wrapped key). */
void hcr_keycache_forget(struct hcr_keycache *kc, int64_t user_id);

/* Wipes and removes every key and advances the epoch (master key rotation,
 * shutdown). */
void hcr_keycache_clear(struct hcr_keycache *kc);

/* Counters since creation, and the current size. */
void hcr_keycache_stats(struct hcr_keycache *kc,
                        struct hcr_keycache_stats *out);

/*
 * HMAC-SHA256 and robot secrets (hmac.c). The robot webhook's signature is
 * HMAC-SHA256 keyed by a secret the server must hold, so the secret is
 * stored sealed under the master key:
 *
 *   master id (8, big-endian) | nonce (24) | ciphertext (len) | tag (16)
 *
 * XChaCha20-Poly1305, associated data "herald.robotsecret.v1" | bot_id (8,
 * big-endian), so a sealed secret moved to another bot does not open. Any
 * thread.
 */
#define HCR_HMAC_LEN 32
#define HCR_SECRET_MAX 128
#define HCR_SECRET_SEALED_MAX (8 + 24 + HCR_SECRET_MAX + 16)

/* HMAC-SHA256 of `len` bytes at `msg` under a key of any length. */
void hcr_hmac_sha256(const void *key, size_t keylen, const void *msg,
                     size_t len, uint8_t out[HCR_HMAC_LEN]);

/* Constant-time comparison of two buffers of `len` bytes: 1 when equal. */
int hcr_equal(const void *a, const void *b, size_t len);

/* Seals `len` (1..HCR_SECRET_MAX) bytes of secret for `bot_id` under `m`
 * into `out`, *outlen bytes. HCR_OK or HCR_EINVAL (length). */
int hcr_secret_seal(const struct hcr_master *m, int64_t bot_id,
                    const char *secret, size_t len,
                    uint8_t out[HCR_SECRET_SEALED_MAX], size_t *outlen);

/* The id of the master key a sealed secret needs. HCR_OK or HCR_EINVAL. */
int hcr_secret_master_id(const uint8_t *blob, size_t len, uint64_t *id);

/* Opens a sealed secret into `out` (NUL-terminated, *outlen bytes; the
 * caller wipes it). HCR_EINVAL bad length, HCR_EMISMATCH wrong key, wrong
 * bot or altered blob (out is wiped then). */
int hcr_secret_open(const struct hcr_master *m, int64_t bot_id,
                    const uint8_t *blob, size_t len,
                    char out[HCR_SECRET_MAX + 1], size_t *outlen);

/* The robot webhook's signature (DingTalk's scheme): standard base64 of
 * HMAC-SHA256 keyed by the secret over timestamp "\n" secret, 44
 * characters; the caller URL-decodes the `sign` parameter before comparing.
 * `timestamp` is the decimal text as received (at most 32 bytes). HCR_OK or
 * HCR_EINVAL. */
#define HCR_ROBOT_SIGN_LEN 44
int hcr_robot_sign(const char *secret, size_t len, const char *timestamp,
                   char out[HCR_ROBOT_SIGN_LEN + 1]);

/*
 * Hashing and signatures (sign.c), for the cards of SPEC §8: SHA-256 (the
 * content hash of a card and the links of its event chain) and Ed25519
 * (clients sign an interview record with their device key; the server and
 * auditors verify). Every function may be called from any thread; a
 * struct hcr_sha256 is used by one thread at a time.
 */
#define HCR_SHA256_LEN 32
#define HCR_SIGN_PUB_LEN 32
#define HCR_SIGN_SECRET_LEN 64
#define HCR_SIGN_SEED_LEN 32
#define HCR_SIG_LEN 64

/* SHA-256 of `len` bytes at `data` (borrowed; NULL when len is 0). */
void hcr_sha256(const void *data, size_t len, uint8_t out[HCR_SHA256_LEN]);

/* Incremental SHA-256: init, any number of updates, final (which wipes the
 * state). Storage owned by the caller; no allocation. */
struct hcr_sha256 {
  _Alignas(16) unsigned char opaque_[128];
};
void hcr_sha256_init(struct hcr_sha256 *h);
void hcr_sha256_update(struct hcr_sha256 *h, const void *data, size_t len);
void hcr_sha256_final(struct hcr_sha256 *h, uint8_t out[HCR_SHA256_LEN]);

/* A fresh random Ed25519 key pair (clients; tests). The secret key is the
 * caller's to wipe with hcr_wipe(). */
void hcr_sign_keypair(uint8_t pub[HCR_SIGN_PUB_LEN],
                      uint8_t sk[HCR_SIGN_SECRET_LEN]);
/* The key pair of a 32-byte seed (deterministic: a client stores the seed
 * only). */
void hcr_sign_seed_keypair(const uint8_t seed[HCR_SIGN_SEED_LEN],
                           uint8_t pub[HCR_SIGN_PUB_LEN],
                           uint8_t sk[HCR_SIGN_SECRET_LEN]);
/* The detached Ed25519 signature of `len` bytes at `msg` under `sk`. */
void hcr_sign(const uint8_t sk[HCR_SIGN_SECRET_LEN], const void *msg,
              size_t len, uint8_t sig[HCR_SIG_LEN]);
/* HCR_OK when `sig` is `pub`'s signature of the message, else
 * HCR_EMISMATCH (also for a malformed key or signature). */
int hcr_sign_verify(const uint8_t pub[HCR_SIGN_PUB_LEN], const void *msg,
                    size_t len, const uint8_t sig[HCR_SIG_LEN]);

#endif
