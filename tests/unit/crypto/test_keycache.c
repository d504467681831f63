/* Unit tests for crypto/keycache.c: hits, misses, LRU eviction order,
 * forget (crypto-shredding), clear (rotation), the epoch that drops racing
 * puts, a comparison against a reference model, and concurrent use. */
#include "check.h"
#include "hcrypto.h"

#include <pthread.h>

/* A distinct, recognisable key per (user, version). */
static void key_of(int64_t user, uint32_t version, uint8_t dek[HCR_DEK_LEN])
{
  for (size_t i = 0; i < HCR_DEK_LEN; i++)
    dek[i] = (uint8_t)((uint64_t)user * 131 + version * 17 + i * 3 + 1);
}

static void put(struct hcr_keycache *kc, int64_t user, uint32_t version)
{
  uint8_t dek[HCR_DEK_LEN], got[HCR_DEK_LEN];
  uint64_t epoch;

  (void)hcr_keycache_get(kc, user, version, got, &epoch);
  key_of(user, version, dek);
  CHECK_INT(hcr_keycache_put(kc, user, version, dek, epoch), ==, HCR_OK);
}

/* 1 when (user, version) is cached with the right key, 0 when missing. */
static int has(struct hcr_keycache *kc, int64_t user, uint32_t version)
{
  uint8_t dek[HCR_DEK_LEN], want[HCR_DEK_LEN];
  int rc = hcr_keycache_get(kc, user, version, dek, NULL);

  if (rc == HCR_ENOENT)
    return 0;
  CHECK_INT(rc, ==, HCR_OK);
  key_of(user, version, want);
  CHECK_MEM(dek, want, sizeof(dek));
  return 1;
}

TEST(capacity_bounds)
{
  struct hcr_keycache *kc = (struct hcr_keycache *)1;
  struct hcr_keycache_stats st;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_keycache_new(0, &kc), ==, HCR_EINVAL);
  CHECK(kc == NULL);
  CHECK_INT(hcr_keycache_new(HCR_KEYCACHE_MAX + 1, &kc), ==, HCR_EINVAL);
  CHECK_INT(hcr_keycache_new(HCR_KEYCACHE_MAX, &kc), ==, HCR_OK);
  hcr_keycache_stats(kc, &st);
  CHECK_UINT(st.capacity, ==, HCR_KEYCACHE_MAX);
  CHECK_UINT(st.size, ==, 0);
  hcr_keycache_free(kc);
  hcr_keycache_free(NULL);
}

TEST(hits_and_misses)
{
  uint8_t dek[HCR_DEK_LEN], got[HCR_DEK_LEN], untouched[HCR_DEK_LEN];
  struct hcr_keycache *kc;
  struct hcr_keycache_stats st;
  uint64_t e1, e2;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_keycache_new(4, &kc), ==, HCR_OK);
  memset(got, 0x77, sizeof(got));
  memcpy(untouched, got, sizeof(got));
  CHECK_INT(hcr_keycache_get(kc, 1, 1, got, &e1), ==, HCR_ENOENT);
  CHECK_MEM(got, untouched, sizeof(got));
  hcr_dek_new(dek);
  CHECK_INT(hcr_keycache_put(kc, 1, 1, dek, e1), ==, HCR_OK);
  CHECK_INT(hcr_keycache_get(kc, 1, 1, got, &e2), ==, HCR_OK);
  CHECK_MEM(got, dek, sizeof(dek));
  CHECK_UINT(e2, ==, e1);
  /* The cache holds a copy: changing the caller's buffer changes nothing. */
  hcr_wipe(dek, sizeof(dek));
  CHECK_INT(hcr_keycache_get(kc, 1, 1, dek, NULL), ==, HCR_OK);
  CHECK_MEM(dek, got, sizeof(dek));
  /* Another version or user is another entry. */
  CHECK_INT(hcr_keycache_get(kc, 1, 2, got, NULL), ==, HCR_ENOENT);
  CHECK_INT(hcr_keycache_get(kc, 2, 1, got, NULL), ==, HCR_ENOENT);
  CHECK_INT(hcr_keycache_get(kc, -1, 1, got, NULL), ==, HCR_ENOENT);
  hcr_keycache_stats(kc, &st);
  CHECK_UINT(st.hits, ==, 2);
  CHECK_UINT(st.misses, ==, 4);
  CHECK_UINT(st.evictions, ==, 0);
  CHECK_UINT(st.size, ==, 1);
  CHECK_UINT(st.capacity, ==, 4);
  hcr_keycache_free(kc);
}

TEST(least_recently_used_goes_first)
{
  struct hcr_keycache *kc;
  struct hcr_keycache_stats st;
  uint8_t dek[HCR_DEK_LEN];
  uint64_t epoch;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_keycache_new(3, &kc), ==, HCR_OK);
  put(kc, 10, 1);
  put(kc, 20, 1);
  put(kc, 30, 1);
  CHECK(has(kc, 10, 1));  /* order now, oldest first: 20 30 10 */
  put(kc, 40, 1);         /* evicts 20 */
  CHECK(!has(kc, 20, 1));
  CHECK(has(kc, 30, 1));  /* 10 40 30 */
  put(kc, 50, 1);         /* evicts 10 */
  CHECK(!has(kc, 10, 1));
  CHECK(has(kc, 40, 1) && has(kc, 30, 1) && has(kc, 50, 1));
  /* Replacing an entry does not evict, and refreshes it. 40 30 50 -> */
  CHECK_INT(hcr_keycache_get(kc, 40, 1, dek, &epoch), ==, HCR_OK);
  key_of(99, 9, dek);
  CHECK_INT(hcr_keycache_put(kc, 40, 1, dek, epoch), ==, HCR_OK); /* 30 50 40 */
  put(kc, 60, 1);                                             /* evicts 30 */
  CHECK(!has(kc, 30, 1));
  CHECK_INT(hcr_keycache_get(kc, 40, 1, dek, NULL), ==, HCR_OK);
  {
    uint8_t want[HCR_DEK_LEN];
    key_of(99, 9, want);
    CHECK_MEM(dek, want, sizeof(dek));
  }
  hcr_keycache_stats(kc, &st);
  CHECK_UINT(st.evictions, ==, 3);
  CHECK_UINT(st.size, ==, 3);
  hcr_keycache_free(kc);
}

TEST(capacity_one)
{
  struct hcr_keycache *kc;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_keycache_new(1, &kc), ==, HCR_OK);
  put(kc, 1, 1);
  CHECK(has(kc, 1, 1));
  put(kc, 1, 2);
  CHECK(!has(kc, 1, 1));
  CHECK(has(kc, 1, 2));
  hcr_keycache_forget(kc, 1);
  CHECK(!has(kc, 1, 2));
  put(kc, 2, 1);
  CHECK(has(kc, 2, 1));
  hcr_keycache_free(kc);
}

TEST(forget_removes_every_version_of_one_user)
{
  uint8_t dek[HCR_DEK_LEN];
  struct hcr_keycache *kc;
  struct hcr_keycache_stats st;
  uint64_t epoch;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  /* Capacity 8 gives 8 buckets, so users 1..40 share chains. */
  CHECK_INT(hcr_keycache_new(8, &kc), ==, HCR_OK);
  put(kc, 1, 1);
  put(kc, 1, 2);
  put(kc, 1, 3);
  put(kc, 2, 1);
  put(kc, 9, 1);
  put(kc, 17, 1);
  hcr_keycache_forget(kc, 1);
  CHECK(!has(kc, 1, 1) && !has(kc, 1, 2) && !has(kc, 1, 3));
  CHECK(has(kc, 2, 1) && has(kc, 9, 1) && has(kc, 17, 1));
  hcr_keycache_stats(kc, &st);
  CHECK_UINT(st.size, ==, 3);
  CHECK_UINT(st.evictions, ==, 0);
  hcr_keycache_forget(kc, 12345); /* nothing cached: fine */
  /* Freed slots are reused without eviction. */
  for (int64_t u = 100; u < 105; u++)
    put(kc, u, 1);
  hcr_keycache_stats(kc, &st);
  CHECK_UINT(st.size, ==, 8);
  CHECK_UINT(st.evictions, ==, 0);
  put(kc, 200, 1);
  hcr_keycache_stats(kc, &st);
  CHECK_UINT(st.evictions, ==, 1);

  /* A key read before the erase must not re-enter after it. */
  CHECK_INT(hcr_keycache_get(kc, 7, 1, dek, &epoch), ==, HCR_ENOENT);
  hcr_keycache_forget(kc, 7);     /* the erase happens meanwhile */
  key_of(7, 1, dek);
  CHECK_INT(hcr_keycache_put(kc, 7, 1, dek, epoch), ==, HCR_OK);
  CHECK(!has(kc, 7, 1));          /* dropped */
  put(kc, 7, 1);                  /* with a fresh epoch it lands */
  CHECK(has(kc, 7, 1));
  hcr_keycache_free(kc);
}

TEST(clear_empties_and_the_cache_still_works)
{
  uint8_t dek[HCR_DEK_LEN];
  struct hcr_keycache *kc;
  struct hcr_keycache_stats st;
  uint64_t epoch;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_keycache_new(4, &kc), ==, HCR_OK);
  for (int64_t u = 0; u < 6; u++)
    put(kc, u, 1);
  CHECK_INT(hcr_keycache_get(kc, 99, 1, dek, &epoch), ==, HCR_ENOENT);
  hcr_keycache_clear(kc);
  hcr_keycache_stats(kc, &st);
  CHECK_UINT(st.size, ==, 0);
  for (int64_t u = 0; u < 6; u++)
    CHECK(!has(kc, u, 1));
  key_of(99, 1, dek);
  CHECK_INT(hcr_keycache_put(kc, 99, 1, dek, epoch), ==, HCR_OK);
  CHECK(!has(kc, 99, 1)); /* stale epoch: dropped */
  for (int64_t u = 10; u < 15; u++)
    put(kc, u, 1);
  CHECK(!has(kc, 10, 1));
  for (int64_t u = 11; u < 15; u++)
    CHECK(has(kc, u, 1));
  hcr_keycache_stats(kc, &st);
  CHECK_UINT(st.size, ==, 4);
  CHECK_UINT(st.evictions, ==, 3); /* 2 before the clear, 1 after */
  hcr_keycache_free(kc);
}

/* A reference LRU: an array ordered oldest first. */
#define MODEL_CAP 8
struct model { int64_t user[MODEL_CAP]; uint32_t version[MODEL_CAP]; int n; };

static int model_find(const struct model *m, int64_t u, uint32_t v)
{
  for (int i = 0; i < m->n; i++)
    if (m->user[i] == u && m->version[i] == v)
      return i;
  return -1;
}

static void model_remove(struct model *m, int i)
{
  memmove(&m->user[i], &m->user[i + 1], (size_t)(m->n - i - 1) * 8);
  memmove(&m->version[i], &m->version[i + 1], (size_t)(m->n - i - 1) * 4);
  m->n--;
}

static void model_touch(struct model *m, int64_t u, uint32_t v)
{
  int i = model_find(m, u, v);

  if (i >= 0)
    model_remove(m, i);
  else if (m->n == MODEL_CAP)
    model_remove(m, 0);
  m->user[m->n] = u;
  m->version[m->n] = v;
  m->n++;
}

TEST(matches_a_reference_model)
{
  struct hcr_keycache *kc;
  struct hcr_keycache_stats st;
  struct model m = {.n = 0};
  uint32_t rnd = 12345;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_keycache_new(MODEL_CAP, &kc), ==, HCR_OK);
  for (int step = 0; step < 50000; step++) {
    int64_t u;
    uint32_t v, op;

    rnd = rnd * 1103515245u + 12345u;
    op = (rnd >> 16) % 100;
    u = (int64_t)((rnd >> 8) % 24) - 4; /* some negative ids too */
    v = (rnd >> 4) % 3;
    if (op < 50) {
      int want = model_find(&m, u, v) >= 0;
      if (has(kc, u, v) != want)
        CHECK_FAIL("step %d: get(%lld, %u) disagrees with the model", step,
                   (long long)u, v);
      if (want)
        model_touch(&m, u, v);
    } else if (op < 97) {
      put(kc, u, v);
      model_touch(&m, u, v);
    } else if (op < 99) {
      hcr_keycache_forget(kc, u);
      for (int i = m.n - 1; i >= 0; i--)
        if (m.user[i] == u)
          model_remove(&m, i);
    } else {
      hcr_keycache_clear(kc);
      m.n = 0;
    }
    hcr_keycache_stats(kc, &st);
    if (st.size != (size_t)m.n)
      CHECK_FAIL("step %d: size %zu, model %d", step, st.size, m.n);
  }
  hcr_keycache_free(kc);
}

/* Concurrency: threads look keys up, "unwrap" and put the missing ones,
 * and now and then forget a user or clear everything. Every hit must be
 * the right key for its name; the counters must add up. Run under ASan
 * (and TSan, if built with it) this also checks the locking. */
#define THREADS 4
#define OPS 20000

struct worker { struct hcr_keycache *kc; unsigned seed; uint64_t gets; };

static void *worker_main(void *arg)
{
  struct worker *w = arg;
  uint8_t dek[HCR_DEK_LEN], want[HCR_DEK_LEN];
  unsigned r = w->seed;
  uint64_t epoch;

  for (int i = 0; i < OPS; i++) {
    int64_t u;
    uint32_t v;

    r = r * 1103515245u + 12345u;
    u = (r >> 8) % 200;
    v = (r >> 4) % 2;
    if ((r >> 16) % 1000 == 0) {
      hcr_keycache_forget(w->kc, u);
      continue;
    }
    if ((r >> 16) % 5000 == 1) {
      hcr_keycache_clear(w->kc);
      continue;
    }
    w->gets++;
    key_of(u, v, want);
    if (hcr_keycache_get(w->kc, u, v, dek, &epoch) == HCR_OK) {
      if (memcmp(dek, want, sizeof(dek)) != 0) {
        fprintf(stderr, "wrong key for (%lld, %u)\n", (long long)u, v);
        abort();
      }
    } else if (hcr_keycache_put(w->kc, u, v, want, epoch) != HCR_OK) {
      abort();
    }
  }
  return NULL;
}

TEST(concurrent_use)
{
  struct worker w[THREADS];
  pthread_t t[THREADS];
  struct hcr_keycache *kc;
  struct hcr_keycache_stats st;
  uint64_t gets = 0;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_keycache_new(64, &kc), ==, HCR_OK);
  for (int i = 0; i < THREADS; i++) {
    w[i] = (struct worker){.kc = kc, .seed = 1000u + (unsigned)i, .gets = 0};
    CHECK_INT(pthread_create(&t[i], NULL, worker_main, &w[i]), ==, 0);
  }
  for (int i = 0; i < THREADS; i++) {
    CHECK_INT(pthread_join(t[i], NULL), ==, 0);
    gets += w[i].gets;
  }
  hcr_keycache_stats(kc, &st);
  CHECK_UINT(st.hits + st.misses, ==, gets);
  CHECK_UINT(st.hits, >, 0);
  CHECK_UINT(st.evictions, >, 0);
  CHECK_UINT(st.size, <=, 64);
  hcr_keycache_free(kc);
}

TEST_MAIN()
