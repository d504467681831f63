/*
 * test_store_keys.c — per-user data keys and master key check values
 * against a real PostgreSQL: create-if-absent (also racing), erasure
 * (crypto-shredding), rotation paging and compare-and-swap re-wrapping,
 * check values, and retiring a master key (refused while keys remain under
 * it, race-free against creators; creation under a retired key refused).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "pgtest.h"
#include "store.h"
#include "chat_fixture.h"

static void blob(uint8_t *b, size_t n, uint8_t seed)
{
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)(seed + i * 7);
}

TEST(key_create_get)
{
  struct fixture f = chat_fixture_setup();
  struct store_user_key k, k2;
  uint8_t w1[72], w2[72];
  bool created = false;

  blob(w1, sizeof w1, 1);
  blob(w2, sizeof w2, 2);
  CHECK_INT(store_user_key_get(f.c, f.alice, &k), ==, STORE_ENOTFOUND);
  CHECK_CONTAINS(store_errmsg(f.c), "has no data key");
  CHECK_INT(store_user_key_create(f.c, f.alice, 42, w1, sizeof w1, &k,
                                  &created), ==, STORE_OK);
  CHECK(created);
  CHECK_INT(k.user_id, ==, f.alice);
  CHECK_UINT(k.key_version, ==, STORE_KEY_FIRST_VERSION);
  CHECK_INT(k.master_id, ==, 42);
  CHECK(!k.destroyed);
  CHECK_UINT(k.wrapped_len, ==, sizeof w1);
  CHECK_MEM(k.wrapped, w1, sizeof w1);

  /* A second create returns the existing key untouched. */
  CHECK_INT(store_user_key_create(f.c, f.alice, 43, w2, sizeof w2, &k2,
                                  &created), ==, STORE_OK);
  CHECK(!created);
  CHECK_INT(k2.master_id, ==, 42);
  CHECK_MEM(k2.wrapped, w1, sizeof w1);
  CHECK_INT(store_user_key_get(f.c, f.alice, &k2), ==, STORE_OK);
  CHECK_MEM(k2.wrapped, w1, sizeof w1);

  CHECK_INT(store_user_key_create(f.c, 999999, 42, w1, sizeof w1, &k, NULL),
            ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(f.c), "unknown user id 999999");
  CHECK_INT(store_user_key_create(f.c, f.bob, 42, w1, 0, &k, NULL), ==,
            STORE_EINVAL);
  CHECK_INT(store_user_key_create(f.c, f.bob, 42, w1, STORE_BLOB_MAX + 1, &k,
                                  NULL), ==, STORE_EINVAL);
  CHECK_INT(store_user_key_create(f.c, f.bob, -1, w1, sizeof w1, &k, NULL),
            ==, STORE_EINVAL);
  store_close(f.c);
}

struct racer {
  int64_t user;
  uint8_t seed;
  pthread_barrier_t *barrier;
  struct store_user_key key;
  bool created;
  int rc;
};

static void *race_cb(void *arg)
{
  struct racer *r = arg;
  struct store_conn *c = NULL;
  uint8_t w[72];

  blob(w, sizeof w, r->seed);
  r->rc = store_connect(conninfo, &c);
  pthread_barrier_wait(r->barrier);
  if (r->rc == STORE_OK)
    r->rc = store_user_key_create(c, r->user, 7, w, sizeof w, &r->key,
                                  &r->created);
  store_close(c);
  return NULL;
}

TEST(key_create_race)
{
  struct fixture f = chat_fixture_setup();

  /* Many rounds, each on a fresh user, to give the race a chance. */
  for (int round = 0; round < 20; round++) {
    struct store_user_new u = {.display_name = "Racer",
                               .role = STORE_ROLE_STAFF};
    char login[32];
    int64_t id = 0;
    pthread_barrier_t barrier;
    struct racer r[4];
    pthread_t t[4];
    int winners = 0;

    snprintf(login, sizeof login, "racer%d", round);
    u.login = login;
    CHECK_INT(store_user_add(f.c, &u, &id), ==, STORE_OK);
    pthread_barrier_init(&barrier, NULL, 4);
    for (int i = 0; i < 4; i++) {
      r[i] = (struct racer){.user = id, .seed = (uint8_t)(10 * i + 1),
                            .barrier = &barrier};
      CHECK_INT(pthread_create(&t[i], NULL, race_cb, &r[i]), ==, 0);
    }
    for (int i = 0; i < 4; i++)
      pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < 4; i++) {
      CHECK_INT(r[i].rc, ==, STORE_OK);
      winners += r[i].created;
      CHECK_MEM(r[i].key.wrapped, r[0].key.wrapped, 72);
    }
    CHECK_INT(winners, ==, 1);
  }
  store_close(f.c);
}

TEST(key_destroy)
{
  struct fixture f = chat_fixture_setup();
  struct store_user_key k;
  uint8_t w[72];
  bool created = true;

  blob(w, sizeof w, 3);
  CHECK_INT(store_user_key_create(f.c, f.alice, 5, w, sizeof w, &k, NULL), ==,
            STORE_OK);
  CHECK_INT(store_user_key_destroy(f.c, f.alice), ==, STORE_OK);
  CHECK_INT(store_user_key_get(f.c, f.alice, &k), ==, STORE_OK);
  CHECK(k.destroyed);
  CHECK_UINT(k.wrapped_len, ==, 0);
  CHECK_INT(pgtest_query_int(conninfo,
                             "SELECT count(*) FROM user_keys"
                             " WHERE wrapped IS NOT NULL"), ==, 0);
  /* Idempotent, and no new key afterwards. */
  CHECK_INT(store_user_key_destroy(f.c, f.alice), ==, STORE_OK);
  CHECK_INT(store_user_key_create(f.c, f.alice, 5, w, sizeof w, &k, &created),
            ==, STORE_OK);
  CHECK(!created);
  CHECK(k.destroyed);

  /* Erasing a user who never had a key leaves a tombstone. */
  CHECK_INT(store_user_key_destroy(f.c, f.bob), ==, STORE_OK);
  CHECK_INT(store_user_key_create(f.c, f.bob, 5, w, sizeof w, &k, &created),
            ==, STORE_OK);
  CHECK(!created);
  CHECK(k.destroyed);
  CHECK_INT(k.master_id, ==, -1);
  CHECK_INT(store_user_key_destroy(f.c, 999999), ==, STORE_ENOTFOUND);
  CHECK_INT(pgtest_query_int(conninfo,
                             "SELECT count(*) FROM audit_log"
                             " WHERE action = 'user.key_destroy'"), ==, 3);
  store_close(f.c);
}

TEST(key_rotation)
{
  struct fixture f = chat_fixture_setup();
  int64_t users[3] = {f.alice, f.bob, f.carol};
  struct store_user_key k, *page = NULL;
  uint8_t w[72], nw[72];
  int64_t after = 0;
  uint32_t after_v = 0;
  size_t n = 0, seen = 0;

  blob(w, sizeof w, 4);
  blob(nw, sizeof nw, 99);
  for (int i = 0; i < 3; i++)
    CHECK_INT(store_user_key_create(f.c, users[i], 7, w, sizeof w, &k, NULL),
              ==, STORE_OK);
  CHECK_INT(store_user_key_destroy(f.c, f.carol), ==, STORE_OK);

  /* Pages of 1 over the live keys, re-wrapping each under master 9. */
  for (;;) {
    CHECK_INT(store_user_keys_page(f.c, after, after_v, 9, 1, &page, &n), ==,
              STORE_OK);
    if (n == 0)
      break;
    CHECK_UINT(n, ==, 1);
    CHECK_INT(page[0].master_id, ==, 7);
    CHECK_INT(store_user_key_rewrap(f.c, page[0].user_id,
                                    page[0].key_version, 7, 9, nw, sizeof nw),
              ==, STORE_OK);
    after = page[0].user_id;
    after_v = page[0].key_version;
    seen++;
    free(page);
  }
  CHECK_UINT(seen, ==, 2); /* carol's key is destroyed */
  /* A fresh pass skipping master 9 finds nothing: rotation complete. */
  CHECK_INT(store_user_keys_page(f.c, 0, 0, 9, 100, &page, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 0);
  CHECK_INT(store_user_keys_page(f.c, 0, 0, -1, 100, &page, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 2);
  free(page);
  CHECK_INT(store_user_key_get(f.c, f.bob, &k), ==, STORE_OK);
  CHECK_INT(k.master_id, ==, 9);
  CHECK_MEM(k.wrapped, nw, sizeof nw);

  /* Compare and swap: a stale old master, a destroyed key. */
  CHECK_INT(store_user_key_rewrap(f.c, f.bob, 1, 7, 11, w, sizeof w), ==,
            STORE_EEXISTS);
  CHECK_INT(store_user_key_rewrap(f.c, f.carol, 1, 7, 11, w, sizeof w), ==,
            STORE_ENOTFOUND);
  CHECK_INT(store_user_key_rewrap(f.c, f.bob, 2, 9, 11, w, sizeof w), ==,
            STORE_ENOTFOUND);
  CHECK_INT(store_user_keys_page(f.c, 0, 0, -1, 0, &page, &n), ==,
            STORE_EINVAL);
  store_close(f.c);
}

TEST(master_checks)
{
  struct fixture f = chat_fixture_setup();
  struct store_master_check *m = NULL;
  uint8_t v1[48], v2[48];
  size_t n = 0;

  blob(v1, sizeof v1, 5);
  blob(v2, sizeof v2, 6);
  CHECK_INT(store_master_checks(f.c, &m, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 0);
  CHECK_INT(store_master_check_put(f.c, 4611686018427387904LL, v1, sizeof v1),
            ==, STORE_OK);
  CHECK_INT(store_master_check_put(f.c, 4611686018427387904LL, v1, sizeof v1),
            ==, STORE_OK);
  CHECK_INT(store_master_check_put(f.c, 4611686018427387904LL, v2, sizeof v2),
            ==, STORE_EEXISTS);
  CHECK_INT(store_master_check_put(f.c, 12, v2, sizeof v2), ==, STORE_OK);
  CHECK_INT(store_master_check_retire(f.c, 4611686018427387904LL), ==,
            STORE_OK);
  CHECK_INT(store_master_check_retire(f.c, 13), ==, STORE_ENOTFOUND);
  CHECK_INT(store_master_checks(f.c, &m, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 2);
  for (size_t i = 0; i < n; i++) {
    if (m[i].master_id == 12) {
      CHECK(!m[i].retired);
      CHECK_MEM(m[i].value, v2, sizeof v2);
    } else {
      CHECK_INT(m[i].master_id, ==, 4611686018427387904LL);
      CHECK(m[i].retired);
      CHECK_UINT(m[i].len, ==, sizeof v1);
      CHECK_MEM(m[i].value, v1, sizeof v1);
    }
  }
  free(m);
  store_close(f.c);
}

TEST(retire_refuses_live_keys)
{
  struct fixture f = chat_fixture_setup();
  struct store_user_key k;
  uint8_t w[72], v[48];

  blob(w, sizeof w, 7);
  blob(v, sizeof v, 8);
  CHECK_INT(store_master_check_put(f.c, 7, v, sizeof v), ==, STORE_OK);
  CHECK_INT(store_user_key_create(f.c, f.alice, 7, w, sizeof w, &k, NULL), ==,
            STORE_OK);
  CHECK_INT(store_user_key_create(f.c, f.bob, 7, w, sizeof w, &k, NULL), ==,
            STORE_OK);
  CHECK_INT(store_master_check_retire(f.c, 7), ==, STORE_EEXISTS);
  CHECK_STR(store_errmsg(f.c), "master key id 7 still wraps 2 data keys");
  /* Re-wrapping one leaves one; an erased key does not count. */
  CHECK_INT(store_user_key_rewrap(f.c, f.alice, 1, 7, 9, w, sizeof w), ==,
            STORE_OK);
  CHECK_INT(store_master_check_retire(f.c, 7), ==, STORE_EEXISTS);
  CHECK_STR(store_errmsg(f.c), "master key id 7 still wraps 1 data key");
  CHECK_INT(store_user_key_destroy(f.c, f.bob), ==, STORE_OK);
  CHECK_INT(store_master_check_retire(f.c, 7), ==, STORE_OK);
  CHECK_INT(pgtest_query_int(conninfo,
                             "SELECT count(*) FROM master_key_checks"
                             " WHERE master_id = 7"
                             " AND retired_at IS NOT NULL"), ==, 1);
  CHECK_INT(pgtest_query_int(conninfo,
                             "SELECT count(*) FROM audit_log"
                             " WHERE action = 'keys.retire'"), ==, 1);
  store_close(f.c);
}

TEST(create_refuses_retired_master)
{
  struct fixture f = chat_fixture_setup();
  struct store_user_key k;
  uint8_t w[72], v[48];
  bool created = false;

  blob(w, sizeof w, 9);
  blob(v, sizeof v, 10);
  CHECK_INT(store_master_check_put(f.c, 7, v, sizeof v), ==, STORE_OK);
  CHECK_INT(store_master_check_retire(f.c, 7), ==, STORE_OK);
  CHECK_INT(store_user_key_create(f.c, f.alice, 7, w, sizeof w, &k, &created),
            ==, STORE_EFORBIDDEN);
  CHECK_STR(store_errmsg(f.c), "master key id 7 is retired");
  CHECK_INT(store_user_key_get(f.c, f.alice, &k), ==, STORE_ENOTFOUND);
  /* Under the next master it works. */
  CHECK_INT(store_user_key_create(f.c, f.alice, 8, w, sizeof w, &k, &created),
            ==, STORE_OK);
  CHECK(created);
  CHECK_INT(k.master_id, ==, 8);
  store_close(f.c);
}

/* Creators make keys under master 7 and move to 9 once 7 is refused, as
 * the server does; a rotator re-wraps 7 -> 9 and retires 7 as soon as it
 * can. However the two interleave, no live key may be left under 7 once
 * it is retired. */
struct creator {
  const int64_t *users;
  size_t n;
  int rc;
  int moved;                /* creates refused under 7, redone under 9 */
};

static void *creator_cb(void *arg)
{
  struct creator *cr = arg;
  struct store_conn *c = NULL;
  struct store_user_key k;
  int64_t master = 7;
  uint8_t w[72];

  blob(w, sizeof w, 11);
  cr->rc = store_connect(conninfo, &c);
  for (size_t i = 0; cr->rc == STORE_OK && i < cr->n; i++) {
    cr->rc = store_user_key_create(c, cr->users[i], master, w, sizeof w, &k,
                                   NULL);
    if (cr->rc == STORE_EFORBIDDEN && master == 7) {
      master = 9;
      cr->moved++;
      cr->rc = store_user_key_create(c, cr->users[i], master, w, sizeof w,
                                     &k, NULL);
    }
  }
  store_close(c);
  return NULL;
}

struct rotator {
  int rc;
  int attempts;
};

static void *rotator_cb(void *arg)
{
  struct rotator *ro = arg;
  struct store_conn *c = NULL;
  struct store_user_key *page = NULL;
  uint8_t w[72];
  size_t n = 0;

  blob(w, sizeof w, 12);
  ro->rc = store_connect(conninfo, &c);
  while (ro->rc == STORE_OK) {
    ro->rc = store_user_keys_page(c, 0, 0, 9, 1000, &page, &n);
    for (size_t i = 0; ro->rc == STORE_OK && i < n; i++) {
      ro->rc = store_user_key_rewrap(c, page[i].user_id, page[i].key_version,
                                     7, 9, w, sizeof w);
      if (ro->rc == STORE_EEXISTS)
        ro->rc = STORE_OK;
    }
    free(page);
    page = NULL;
    if (ro->rc != STORE_OK)
      break;
    ro->attempts++;
    ro->rc = store_master_check_retire(c, 7);
    if (ro->rc == STORE_OK)
      break;
    if (ro->rc == STORE_EEXISTS)
      ro->rc = STORE_OK;        /* a creator was quicker: another pass */
  }
  store_close(c);
  return NULL;
}

TEST(retire_races_create)
{
  struct fixture f = chat_fixture_setup();
  enum { CREATORS = 3, PER = 40 };
  static int64_t users[CREATORS][PER];
  struct creator cr[CREATORS];
  struct rotator ro = {0};
  pthread_t t[CREATORS + 1];
  uint8_t v[48];
  int moved = 0;

  blob(v, sizeof v, 13);
  CHECK_INT(store_master_check_put(f.c, 7, v, sizeof v), ==, STORE_OK);
  CHECK_INT(store_master_check_put(f.c, 9, v, sizeof v), ==, STORE_OK);
  for (int i = 0; i < CREATORS; i++)
    for (int j = 0; j < PER; j++) {
      struct store_user_new u = {.display_name = "Reader",
                                 .role = STORE_ROLE_STAFF};
      char login[32];

      snprintf(login, sizeof login, "reader%d-%d", i, j);
      u.login = login;
      CHECK_INT(store_user_add(f.c, &u, &users[i][j]), ==, STORE_OK);
    }
  for (int i = 0; i < CREATORS; i++) {
    cr[i] = (struct creator){.users = users[i], .n = PER};
    CHECK_INT(pthread_create(&t[i], NULL, creator_cb, &cr[i]), ==, 0);
  }
  CHECK_INT(pthread_create(&t[CREATORS], NULL, rotator_cb, &ro), ==, 0);
  for (int i = 0; i <= CREATORS; i++)
    pthread_join(t[i], NULL);
  CHECK_INT(ro.rc, ==, STORE_OK);
  for (int i = 0; i < CREATORS; i++) {
    CHECK_INT(cr[i].rc, ==, STORE_OK);
    moved += cr[i].moved;
  }
  CHECK_INT(pgtest_query_int(conninfo,
                             "SELECT count(*) FROM master_key_checks"
                             " WHERE master_id = 7"
                             " AND retired_at IS NOT NULL"), ==, 1);
  CHECK_INT(pgtest_query_int(conninfo,
                             "SELECT count(*) FROM user_keys"
                             " WHERE master_id = 7 AND wrapped IS NOT NULL"),
            ==, 0);
  CHECK_INT(pgtest_query_int(conninfo, "SELECT count(*) FROM user_keys"), ==,
            CREATORS * PER);
  printf("# rotator passes %d, creators moved to the new key %d\n",
         ro.attempts, moved);
  store_close(f.c);
}

TEST(rotation_lock)
{
  struct fixture f = chat_fixture_setup();
  struct store_conn *other = NULL;

  CHECK_INT(store_connect(conninfo, &other), ==, STORE_OK);
  CHECK_INT(store_keys_rotation_lock(f.c), ==, STORE_OK);
  CHECK_INT(store_keys_rotation_lock(other), ==, STORE_EEXISTS);
  CHECK_STR(store_errmsg(other), "another key rotation is running");
  /* Closing the first session frees the lock — once its backend has
   * noticed, which takes a moment after the client hung up. */
  store_close(f.c);
  for (int i = 0; i < 250 && store_keys_rotation_lock(other) != STORE_OK; i++)
    usleep(20000);
  CHECK_INT(store_keys_rotation_lock(other), ==, STORE_OK);
  store_close(other);
}

TEST_MAIN()
