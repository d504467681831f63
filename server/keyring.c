/*
 * keyring.c — the master keys heraldd holds, refreshed while it runs so
 * that a master key rotation needs no restart (see keyring_int.h).
 */
#include "keyring_int.h"
#include "log_int.h"

#include "hcrypto.h"
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Keys held at once: the current one and a rotation's new one, with room
 * to spare; a refresh never adds more than the two files hold. */
#define RING_MAX 8
/* While two keys are held, how often a refresh looks for a retirement. */
#define TICK_MS 5000

struct ring_key {
  struct hcr_master *m;
  int64_t id;
  int64_t registered_ms; /* when its check value was stored; 0 unknown */
};

struct srv_keyring {
  pthread_rwlock_t lock;   /* keys[]: read to use one, write to swap */
  struct ring_key keys[RING_MAX];
  size_t n;
  pthread_mutex_t reload;  /* one refresh at a time */
  atomic_uint_fast64_t gen;
  atomic_uint_fast64_t last_ms;
  atomic_size_t held;      /* n, readable without the lock */
  char *path;              /* key file, NULL: from the environment */
};

static uint64_t mono_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int srv_keyring_new(struct hcr_master *m, const char *path,
                    struct srv_keyring **out)
{
  struct srv_keyring *r = calloc(1, sizeof(*r));

  *out = NULL;
  if (r == NULL || (path && (r->path = strdup(path)) == NULL)) {
    free(r);
    hcr_master_free(m);
    return -1;
  }
  pthread_rwlock_init(&r->lock, NULL);
  pthread_mutex_init(&r->reload, NULL);
  r->keys[0] = (struct ring_key){m, (int64_t)hcr_master_id(m), 0};
  r->n = 1;
  atomic_init(&r->held, 1);
  atomic_init(&r->gen, 0);
  atomic_init(&r->last_ms, mono_ms());
  *out = r;
  return 0;
}

void srv_keyring_free(struct srv_keyring *r)
{
  if (r == NULL)
    return;
  for (size_t i = 0; i < r->n; i++)
    hcr_master_free(r->keys[i].m);
  pthread_rwlock_destroy(&r->lock);
  pthread_mutex_destroy(&r->reload);
  free(r->path);
  free(r);
}

uint64_t srv_keyring_generation(struct srv_keyring *r)
{
  return atomic_load(&r->gen);
}

/* The usable check value of `m` among `checks`, or NULL when it has none,
 * it does not verify, or it was retired. */
static const struct store_master_check *
usable_check(const struct hcr_master *m, const struct store_master_check *checks,
             size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (checks[i].master_id == (int64_t)hcr_master_id(m))
      return !checks[i].retired &&
                     hcr_master_check_verify(m, checks[i].value,
                                             checks[i].len) == HCR_OK
                 ? &checks[i]
                 : NULL;
  return NULL;
}

/* Loads a key file for a refresh: NULL when it is absent (the normal case
 * for `.next`) or unusable (logged). */
static struct hcr_master *load_file(const char *path, bool quiet_absent)
{
  struct hcr_master *m = NULL;
  char err[512];
  int rc;

  rc = hcr_master_load_file(path, &m, err, sizeof(err));
  if (rc == HCR_EIO && quiet_absent && access(path, F_OK) != 0)
    return NULL;
  if (rc != HCR_OK)
    srv_warn("keys", "refreshing the master keys: %s", err);
  return m;
}

/* The refresh itself; the caller holds r->reload. */
static void refresh(struct srv_keyring *r, struct store_conn *conn)
{
  struct store_master_check *checks = NULL;
  const struct store_master_check *c;
  struct ring_key next[RING_MAX];
  struct hcr_master *drop[RING_MAX + 2], *cand[2] = {NULL, NULL};
  const char *cand_src[2] = {NULL, NULL};
  char next_path[4096 + 8];
  size_t nchecks = 0, nn = 0, nd = 0;

  if (store_master_checks(conn, &checks, &nchecks) != STORE_OK) {
    srv_warn("keys", "refreshing the master keys: %s", store_errmsg(conn));
    return;
  }
  if (r->path) {
    /* `.next` first: the rotation renames it over the key file, so this
     * order sees the new key in one of the two. */
    snprintf(next_path, sizeof(next_path), "%s.next", r->path);
    cand[0] = load_file(next_path, true);
    cand_src[0] = next_path;
    cand[1] = load_file(r->path, false);
    cand_src[1] = r->path;
  }
  /* Writers of keys[] hold r->reload, which we hold: reading it here
   * needs no read lock. */
  for (size_t i = 0; i < r->n; i++) {
    if ((c = usable_check(r->keys[i].m, checks, nchecks)) == NULL) {
      srv_info("keys", "master key id %lld was retired by a key rotation: "
                       "dropped and wiped", (long long)r->keys[i].id);
      drop[nd++] = r->keys[i].m;
      continue;
    }
    next[nn] = r->keys[i];
    next[nn++].registered_ms = c->created_at_ms;
  }
  for (size_t k = 0; k < 2; k++) {
    bool have = false;

    if (cand[k] == NULL)
      continue;
    for (size_t i = 0; i < nn; i++)
      have = have || next[i].id == (int64_t)hcr_master_id(cand[k]);
    c = usable_check(cand[k], checks, nchecks);
    if (have || c == NULL || nn == RING_MAX) {
      if (!have && c == NULL)
        srv_debug("keys", "%s (master key id %llu) has no usable check "
                  "value: not used", cand_src[k],
                  (unsigned long long)hcr_master_id(cand[k]));
      drop[nd++] = cand[k];
      continue;
    }
    srv_info("keys", "master key id %llu from %s",
             (unsigned long long)hcr_master_id(cand[k]), cand_src[k]);
    next[nn++] = (struct ring_key){cand[k], (int64_t)hcr_master_id(cand[k]),
                                   c->created_at_ms};
  }
  if (nn == 0)
    srv_err("keys", "no usable master key left: every key this server holds "
                    "was retired by a key rotation; restart heraldd with the "
                    "new master key");
  pthread_rwlock_wrlock(&r->lock);
  memcpy(r->keys, next, nn * sizeof(next[0]));
  r->n = nn;
  atomic_store(&r->held, nn);
  pthread_rwlock_unlock(&r->lock);
  /* Nobody can reach the dropped keys any more: users hold the read lock
   * for as long as they use a key. */
  for (size_t i = 0; i < nd; i++)
    hcr_master_free(drop[i]);
  free(checks);
}

void srv_keyring_reload(struct srv_keyring *r, struct store_conn *conn,
                        uint64_t seen)
{
  pthread_mutex_lock(&r->reload);
  if (atomic_load(&r->gen) == seen) {
    refresh(r, conn);
    atomic_store(&r->last_ms, mono_ms());
    atomic_fetch_add(&r->gen, 1);
  }
  pthread_mutex_unlock(&r->reload);
}

void srv_keyring_tick(struct srv_keyring *r, struct store_conn *conn)
{
  if (atomic_load(&r->held) < 2 ||
      mono_ms() - atomic_load(&r->last_ms) < TICK_MS)
    return;
  if (pthread_mutex_trylock(&r->reload) != 0)
    return;
  refresh(r, conn);
  atomic_store(&r->last_ms, mono_ms());
  atomic_fetch_add(&r->gen, 1);
  pthread_mutex_unlock(&r->reload);
}

int srv_keyring_wrap(struct srv_keyring *r, int64_t user_id,
                     uint32_t version, const uint8_t dek[32],
                     uint8_t out[72], int64_t *master_id)
{
  const struct ring_key *newest = NULL;
  int rc = -1;

  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n; i++)
    if (!newest || r->keys[i].registered_ms > newest->registered_ms)
      newest = &r->keys[i];
  if (newest && hcr_dek_wrap(newest->m, user_id, version, dek, out) ==
                    HCR_OK) {
    *master_id = newest->id;
    rc = 0;
  }
  pthread_rwlock_unlock(&r->lock);
  if (rc != 0)
    srv_err("keys", "cannot make a data key for user %lld: no usable "
                    "master key", (long long)user_id);
  return rc;
}

/* HCR_ENOENT when master_id is not held; else as hcr_dek_unwrap. */
static int try_unwrap(struct srv_keyring *r, int64_t master_id,
                      int64_t user_id, uint32_t version, const uint8_t *in,
                      size_t len, uint8_t dek[32])
{
  int rc = HCR_ENOENT;

  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n; i++)
    if (r->keys[i].id == master_id)
      rc = hcr_dek_unwrap(r->keys[i].m, user_id, version, in, len, dek);
  pthread_rwlock_unlock(&r->lock);
  return rc;
}

int srv_keyring_unwrap(struct srv_keyring *r, struct store_conn *conn,
                       int64_t master_id, int64_t user_id, uint32_t version,
                       const uint8_t *in, size_t len, uint8_t dek[32])
{
  uint64_t seen = srv_keyring_generation(r);
  int rc;

  rc = try_unwrap(r, master_id, user_id, version, in, len, dek);
  if (rc == HCR_ENOENT) {
    /* A rotation is under way (or just finished): pick up its key. */
    srv_keyring_reload(r, conn, seen);
    rc = try_unwrap(r, master_id, user_id, version, in, len, dek);
  }
  if (rc != HCR_OK)
    hcr_wipe(dek, 32);
  return rc == HCR_OK ? 0 : -1;
}

/* HCR_ENOENT when the key it needs is not held; else as hcr_secret_open. */
static int try_open_secret(struct srv_keyring *r, int64_t bot_id,
                           const uint8_t *in, size_t len,
                           char out[HCR_SECRET_MAX + 1], size_t *outlen)
{
  uint64_t id;
  int rc = HCR_ENOENT;

  if (hcr_secret_master_id(in, len, &id) != HCR_OK)
    return HCR_EINVAL;
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n; i++)
    if ((uint64_t)r->keys[i].id == id)
      rc = hcr_secret_open(r->keys[i].m, bot_id, in, len, out, outlen);
  pthread_rwlock_unlock(&r->lock);
  return rc;
}

int srv_keyring_open_secret(struct srv_keyring *r, struct store_conn *conn,
                            int64_t bot_id, const uint8_t *in, size_t len,
                            char out[HCR_SECRET_MAX + 1], size_t *outlen)
{
  uint64_t seen = srv_keyring_generation(r);
  int rc;

  rc = try_open_secret(r, bot_id, in, len, out, outlen);
  if (rc == HCR_ENOENT) {
    srv_keyring_reload(r, conn, seen);
    rc = try_open_secret(r, bot_id, in, len, out, outlen);
  }
  if (rc != HCR_OK)
    hcr_wipe(out, HCR_SECRET_MAX + 1);
  return rc == HCR_OK ? 0 : -1;
}
