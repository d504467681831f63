/*
 * intmap_int.h — a hash map from non-zero 64-bit ids to pointers (open
 * addressing, linear probing, backward-shift deletion, so no tombstones).
 * The server keys its registries by user and conversation id with it.
 *
 * Not thread-safe; the caller owns the values.
 */
#ifndef HERALD_SRV_INTMAP_INT_H
#define HERALD_SRV_INTMAP_INT_H

#include <stddef.h>
#include <stdint.h>

struct srv_intmap_slot {
  int64_t key;       /* 0 = empty */
  void *val;
};

struct srv_intmap {
  struct srv_intmap_slot *slots;
  size_t cap;        /* power of two, or 0 */
  size_t len;
};

/* Storage is the caller's; init zeroes, cleanup frees the table (not the
 * values). */
void srv_intmap_init(struct srv_intmap *m);
void srv_intmap_cleanup(struct srv_intmap *m);

/* The value for `key`, or NULL. */
void *srv_intmap_get(const struct srv_intmap *m, int64_t key);

/* Sets `key` to `val` (replacing). Returns 0, or -1 when out of memory. */
int srv_intmap_put(struct srv_intmap *m, int64_t key, void *val);

/* Removes `key`; returns its value or NULL. */
void *srv_intmap_del(struct srv_intmap *m, int64_t key);

/* Iteration: for (i = 0; i < m->cap; i++) if (m->slots[i].key) ... — do not
 * put or delete while iterating. */

#endif
