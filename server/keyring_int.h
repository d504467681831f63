/*
 * keyring_int.h — the master keys a running heraldd holds: the one it
 * started with and, while `heraldctl keys rotate` runs, the new one, so
 * that the rotation needs no restart and no read fails in between.
 *
 * The ring is refreshed (srv_keyring_reload) when it meets a data key
 * wrapped under a master it does not hold, when storage refuses to create a
 * key under a retired master, and every few seconds while it holds more
 * than one key. A refresh reads the check values from the database and —
 * only when the server's key came from a file — the files `<keyfile>.next`
 * (where a rotation puts the new key) and `<keyfile>` (which the rotation
 * finally replaces by the new key), in that order: the rotation renames
 * `.next` over `<keyfile>`, so reading `.next` first cannot miss the new
 * key. A key is held only when its check value is registered and not
 * retired; a key that a rotation retired is dropped and wiped. New data
 * keys are wrapped under the newest key held (by the time its check value
 * was registered), i.e. the rotation's new key as soon as it is known.
 *
 * Thread-safe: the database threads share one ring. Keys are used under a
 * read lock and swapped under a write lock, so a key is never freed while
 * a thread wraps or unwraps with it; refreshes run one at a time.
 */
#ifndef HERALD_SRV_KEYRING_INT_H
#define HERALD_SRV_KEYRING_INT_H

#include <stddef.h>
#include <stdint.h>

struct hcr_master;
struct srv_keyring;
struct store_conn;

/* Creates a ring holding `m`, which moves into the ring (also on failure).
 * `path` (copied) is the key file `m` came from, NULL when it came from
 * the environment (then no file is ever read). 0, or -1 (out of memory). */
int srv_keyring_new(struct hcr_master *m, const char *path,
                    struct srv_keyring **out);

/* Wipes every key and frees the ring. Takes NULL. No thread may use the
 * ring any more. */
void srv_keyring_free(struct srv_keyring *r);

/* A counter that every completed refresh advances. Read it before an
 * attempt that may call for a refresh, and pass it to srv_keyring_reload,
 * so that threads failing at the same moment refresh once, not once
 * each. */
uint64_t srv_keyring_generation(struct srv_keyring *r);

/* Refreshes the ring (see above) on `conn`, unless a refresh completed
 * since generation `seen` was read. Problems are logged, not returned: the
 * ring keeps what it can use. */
void srv_keyring_reload(struct srv_keyring *r, struct store_conn *conn,
                        uint64_t seen);

/* Refreshes when more than one key is held and the last refresh is more
 * than a few seconds old (so that a retired key does not linger in
 * memory); otherwise costs two atomic loads. Never waits for a refresh
 * another thread is running. */
void srv_keyring_tick(struct srv_keyring *r, struct store_conn *conn);

/* Wraps `dek` for (user_id, version) under the newest key held into `out`
 * and writes that key's id to *master_id. 0, or -1 when the ring holds no
 * key (logged). */
int srv_keyring_wrap(struct srv_keyring *r, int64_t user_id,
                     uint32_t version, const uint8_t dek[32],
                     uint8_t out[72], int64_t *master_id);

/* Unwraps `len` bytes at `in`, wrapped under master key `master_id` for
 * (user_id, version), into `dek`. When that key is not held, refreshes
 * the ring once on `conn` and tries again. 0, or -1 (not held even then,
 * or the blob does not open; `dek` is zeroed). */
int srv_keyring_unwrap(struct srv_keyring *r, struct store_conn *conn,
                       int64_t master_id, int64_t user_id, uint32_t version,
                       const uint8_t *in, size_t len, uint8_t dek[32]);

/* Opens a robot secret sealed for `bot_id` (hcr_secret_seal) under
 * whichever held key sealed it, refreshing the ring once when that key is
 * not held. 0 with the secret in `out` (NUL-terminated, *outlen bytes; the
 * caller wipes it), or -1 (not held even then, or the blob does not open;
 * `out` is wiped). */
int srv_keyring_open_secret(struct srv_keyring *r, struct store_conn *conn,
                            int64_t bot_id, const uint8_t *in, size_t len,
                            char out[128 + 1], size_t *outlen);

#endif
