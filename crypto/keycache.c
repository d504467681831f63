/*
 * keycache.c — a bounded, thread-safe LRU cache of unwrapped data keys.
 *
 * Unwrapping costs a database read and an AEAD; a read receipt or a
 * who-read list needs the key of every reader involved, so the server keeps
 * the keys it used recently. The keys themselves sit in one sodium_malloc'd
 * block (one guarded, locked allocation instead of one per key: each
 * sodium_malloc costs at least three pages); everything else — names, LRU
 * links, hash chains — is ordinary memory, since ids are not secret.
 *
 * Layout: slot i holds keys[i] and meta[i]. A hash table of chains indexed by
 * user id only, so every version of one user shares a chain and
 * hcr_keycache_forget() walks one chain. A doubly linked LRU list, most
 * recent at the head. Free slots are chained through `lru_next`. All links
 * are slot indices, -1 for none.
 */
#include "hcrypto_int.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define NIL (-1)

struct slot {
  int64_t user_id;
  uint32_t version;
  int32_t chain;            /* next slot in the same hash bucket */
  int32_t lru_prev, lru_next;
};

struct hcr_keycache {
  pthread_mutex_t lock;
  uint8_t (*keys)[HCR_DEK_LEN]; /* sodium_malloc: capacity keys */
  struct slot *slots;
  int32_t *buckets;
  size_t capacity, size, mask;
  int32_t lru_head, lru_tail, free_head;
  uint64_t epoch, hits, misses, evictions;
};

static size_t bucket_of(const struct hcr_keycache *kc, int64_t user_id)
{
  /* splitmix64's finaliser: consecutive ids spread over all buckets. */
  uint64_t x = (uint64_t)user_id;

  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return (size_t)x & kc->mask;
}

/* Puts every slot on the free list and empties the index. Keys must already
 * be wiped. */
static void reset(struct hcr_keycache *kc)
{
  for (size_t i = 0; i < kc->capacity; i++)
    kc->slots[i].lru_next = i + 1 < kc->capacity ? (int32_t)(i + 1) : NIL;
  for (size_t i = 0; i <= kc->mask; i++)
    kc->buckets[i] = NIL;
  kc->free_head = 0;
  kc->lru_head = kc->lru_tail = NIL;
  kc->size = 0;
}

int hcr_keycache_new(size_t capacity, struct hcr_keycache **out)
{
  struct hcr_keycache *kc;
  size_t nb = 1;

  *out = NULL;
  if (capacity == 0 || capacity > HCR_KEYCACHE_MAX)
    return HCR_EINVAL;
  while (nb < capacity)
    nb <<= 1;
  kc = calloc(1, sizeof(*kc));
  if (kc == NULL)
    return HCR_ENOMEM;
  kc->capacity = capacity;
  kc->mask = nb - 1;
  /* sodium_malloc locks the block and excludes it from core dumps; when
   * RLIMIT_MEMLOCK is exhausted the lock fails silently and the cache runs
   * unlocked, which is the degradation we want rather than no cache. */
  kc->keys = sodium_malloc(capacity * HCR_DEK_LEN);
  kc->slots = malloc(capacity * sizeof(*kc->slots));
  kc->buckets = malloc(nb * sizeof(*kc->buckets));
  if (kc->keys == NULL || kc->slots == NULL || kc->buckets == NULL ||
      pthread_mutex_init(&kc->lock, NULL) != 0) {
    if (kc->keys != NULL)
      sodium_free(kc->keys);
    free(kc->slots);
    free(kc->buckets);
    free(kc);
    return HCR_ENOMEM;
  }
  sodium_memzero(kc->keys, capacity * HCR_DEK_LEN);
  reset(kc);
  *out = kc;
  return HCR_OK;
}

void hcr_keycache_free(struct hcr_keycache *kc)
{
  if (kc == NULL)
    return;
  pthread_mutex_destroy(&kc->lock);
  sodium_free(kc->keys); /* wipes */
  free(kc->slots);
  free(kc->buckets);
  free(kc);
}

static int32_t find(const struct hcr_keycache *kc, int64_t user_id,
                    uint32_t version)
{
  int32_t i = kc->buckets[bucket_of(kc, user_id)];

  while (i != NIL &&
         (kc->slots[i].user_id != user_id || kc->slots[i].version != version))
    i = kc->slots[i].chain;
  return i;
}

static void lru_unlink(struct hcr_keycache *kc, int32_t i)
{
  struct slot *s = &kc->slots[i];

  if (s->lru_prev != NIL)
    kc->slots[s->lru_prev].lru_next = s->lru_next;
  else
    kc->lru_head = s->lru_next;
  if (s->lru_next != NIL)
    kc->slots[s->lru_next].lru_prev = s->lru_prev;
  else
    kc->lru_tail = s->lru_prev;
}

static void lru_push_head(struct hcr_keycache *kc, int32_t i)
{
  struct slot *s = &kc->slots[i];

  s->lru_prev = NIL;
  s->lru_next = kc->lru_head;
  if (kc->lru_head != NIL)
    kc->slots[kc->lru_head].lru_prev = i;
  kc->lru_head = i;
  if (kc->lru_tail == NIL)
    kc->lru_tail = i;
}

/* Unlinks slot i from its chain and the LRU list, wipes its key and puts it
 * on the free list. */
static void drop(struct hcr_keycache *kc, int32_t i)
{
  int32_t *link = &kc->buckets[bucket_of(kc, kc->slots[i].user_id)];

  while (*link != i)
    link = &kc->slots[*link].chain;
  *link = kc->slots[i].chain;
  lru_unlink(kc, i);
  sodium_memzero(kc->keys[i], HCR_DEK_LEN);
  kc->slots[i].lru_next = kc->free_head;
  kc->free_head = i;
  kc->size--;
}

int hcr_keycache_get(struct hcr_keycache *kc, int64_t user_id,
                     uint32_t version, uint8_t dek[HCR_DEK_LEN],
                     uint64_t *epoch)
{
  int32_t i;
  int rc;

  pthread_mutex_lock(&kc->lock);
  i = find(kc, user_id, version);
  if (i == NIL) {
    kc->misses++;
    rc = HCR_ENOENT;
  } else {
    kc->hits++;
    memcpy(dek, kc->keys[i], HCR_DEK_LEN);
    if (kc->lru_head != i) {
      lru_unlink(kc, i);
      lru_push_head(kc, i);
    }
    rc = HCR_OK;
  }
  if (epoch != NULL)
    *epoch = kc->epoch;
  pthread_mutex_unlock(&kc->lock);
  return rc;
}

int hcr_keycache_put(struct hcr_keycache *kc, int64_t user_id,
                     uint32_t version, const uint8_t dek[HCR_DEK_LEN],
                     uint64_t epoch)
{
  size_t b;
  int32_t i;

  pthread_mutex_lock(&kc->lock);
  if (epoch != kc->epoch)
    goto out;
  i = find(kc, user_id, version);
  if (i != NIL) {
    lru_unlink(kc, i);
  } else {
    if (kc->free_head == NIL) {
      drop(kc, kc->lru_tail);
      kc->evictions++;
    }
    i = kc->free_head;
    kc->free_head = kc->slots[i].lru_next;
    b = bucket_of(kc, user_id);
    kc->slots[i].user_id = user_id;
    kc->slots[i].version = version;
    kc->slots[i].chain = kc->buckets[b];
    kc->buckets[b] = i;
    kc->size++;
  }
  memcpy(kc->keys[i], dek, HCR_DEK_LEN);
  lru_push_head(kc, i);
out:
  pthread_mutex_unlock(&kc->lock);
  return HCR_OK;
}

void hcr_keycache_forget(struct hcr_keycache *kc, int64_t user_id)
{
  int32_t i, next;

  pthread_mutex_lock(&kc->lock);
  for (i = kc->buckets[bucket_of(kc, user_id)]; i != NIL; i = next) {
    next = kc->slots[i].chain;
    if (kc->slots[i].user_id == user_id)
      drop(kc, i);
  }
  /* Advanced even when nothing was cached: a thread may be unwrapping this
   * user's key right now, and its put must not land. */
  kc->epoch++;
  pthread_mutex_unlock(&kc->lock);
}

void hcr_keycache_clear(struct hcr_keycache *kc)
{
  pthread_mutex_lock(&kc->lock);
  sodium_memzero(kc->keys, kc->capacity * HCR_DEK_LEN);
  reset(kc);
  kc->epoch++;
  pthread_mutex_unlock(&kc->lock);
}

void hcr_keycache_stats(struct hcr_keycache *kc,
                        struct hcr_keycache_stats *out)
{
  pthread_mutex_lock(&kc->lock);
  out->hits = kc->hits;
  out->misses = kc->misses;
  out->evictions = kc->evictions;
  out->size = kc->size;
  out->capacity = kc->capacity;
  pthread_mutex_unlock(&kc->lock);
}
