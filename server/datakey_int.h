/*
 * datakey_int.h — users' data keys as the server uses them: fetched from
 * storage, unwrapped with the master key that wraps them (the key ring,
 * keyring_int.h; through a cache that wipes what it evicts), and created
 * on a user's first recorded read.
 *
 * Runs on database threads (it makes storage calls); thread-safe.
 */
#ifndef HERALD_SRV_DATAKEY_INT_H
#define HERALD_SRV_DATAKEY_INT_H

#include <stdbool.h>
#include <stdint.h>

struct srv_server;
struct store_conn;

/* Writes the data key of `user_id` at `version` into dek (32 bytes; the
 * caller wipes it). version 0 means the user's current key, whose version
 * is then written to *version_out (may be NULL). With `create`, a user
 * without a key gets one. Returns STORE_OK; STORE_ENOTFOUND when the user
 * has no usable key by design (none and !create, erased, or that version
 * is gone) — record or show no time; any other STORE_E* code is a failure
 * (database, or a key the ring cannot unwrap) that must not be mistaken
 * for "no time". */
int srv_datakey_get(struct srv_server *srv, struct store_conn *conn,
                    int64_t user_id, uint32_t version, bool create,
                    uint8_t dek[32], uint32_t *version_out);

#endif
