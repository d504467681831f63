/*
 * intmap.c — id → pointer hash map (see intmap_int.h).
 */
#include "intmap_int.h"

#include <stdlib.h>

static size_t home(const struct srv_intmap *m, int64_t key)
{
  /* Fibonacci hashing: ids are sequential, the multiply spreads them. */
  return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 32) &
         (m->cap - 1);
}

void srv_intmap_init(struct srv_intmap *m)
{
  m->slots = NULL;
  m->cap = m->len = 0;
}

void srv_intmap_cleanup(struct srv_intmap *m)
{
  free(m->slots);
  srv_intmap_init(m);
}

void *srv_intmap_get(const struct srv_intmap *m, int64_t key)
{
  if (!m->cap)
    return NULL;
  for (size_t i = home(m, key);; i = (i + 1) & (m->cap - 1)) {
    if (m->slots[i].key == key)
      return m->slots[i].val;
    if (m->slots[i].key == 0)
      return NULL;
  }
}

static int grow(struct srv_intmap *m)
{
  struct srv_intmap old = *m;
  size_t cap = m->cap ? m->cap * 2 : 16;

  if (!(m->slots = calloc(cap, sizeof(*m->slots)))) {
    *m = old;
    return -1;
  }
  m->cap = cap;
  m->len = 0;
  for (size_t i = 0; i < old.cap; i++)
    if (old.slots[i].key)
      srv_intmap_put(m, old.slots[i].key, old.slots[i].val);
  free(old.slots);
  return 0;
}

int srv_intmap_put(struct srv_intmap *m, int64_t key, void *val)
{
  size_t i;

  if ((m->len + 1) * 4 > m->cap * 3 && grow(m) != 0)
    return -1;
  for (i = home(m, key); m->slots[i].key; i = (i + 1) & (m->cap - 1)) {
    if (m->slots[i].key == key) {
      m->slots[i].val = val;
      return 0;
    }
  }
  m->slots[i].key = key;
  m->slots[i].val = val;
  m->len++;
  return 0;
}

void *srv_intmap_del(struct srv_intmap *m, int64_t key)
{
  size_t i, j, mask = m->cap - 1;
  void *val;

  if (!m->cap)
    return NULL;
  for (i = home(m, key); m->slots[i].key != key; i = (i + 1) & mask)
    if (m->slots[i].key == 0)
      return NULL;
  val = m->slots[i].val;
  /* Backward-shift: move later entries of the probe run into the hole
   * unless they already sit at or after their home. */
  for (j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
    size_t h = home(m, m->slots[j].key);
    if (((j - h) & mask) >= ((j - i) & mask)) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i].key = 0;
  m->slots[i].val = NULL;
  m->len--;
  return val;
}
