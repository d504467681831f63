/* Unit tests for crypto/dek.c: data keys wrapped under the master key —
 * round trips, tampering, wrong key or associated data, rotation. */
#include "check.h"
#include "hcrypto.h"

#define ENV "HERALD_TEST_MASTER_KEY"
#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* The DEK 80 81 ... 9f wrapped under the master key 00 01 ... 1f for user
 * 42, version 7, with the nonce a0 a1 ... b7 — made independently with
 * libsodium from the layout in hcrypto.h. Pinned: stored keys depend on it. */
static const uint8_t kat_wrapped[HCR_WRAPPED_DEK_LEN] = {
  0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
  0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
  0xc5, 0x6d, 0x88, 0x9e, 0x33, 0xd8, 0x22, 0x2b, 0xe9, 0xe6, 0xa7, 0x02,
  0xfd, 0xbd, 0x2d, 0x4f, 0xab, 0x3b, 0x0d, 0xbf, 0x3e, 0x93, 0x5c, 0x4e,
  0x85, 0xd9, 0x11, 0x7c, 0x7b, 0x3e, 0x60, 0xa9, 0x1a, 0x21, 0x45, 0x1a,
  0x26, 0x29, 0x23, 0x36, 0x73, 0x0a, 0xfe, 0xd7, 0x6a, 0x52, 0x65, 0x49,
};

static struct hcr_master *master(const char *hex)
{
  struct hcr_master *m;
  char err[256];

  CHECK_INT(setenv(ENV, hex, 1), ==, 0);
  if (hcr_master_load_env(ENV, &m, err, sizeof(err)) != HCR_OK)
    CHECK_FAIL("master key: %s", err);
  return m;
}

static struct hcr_master *random_master(void)
{
  char hex[HCR_MASTER_HEX_LEN + 1];
  struct hcr_master *m;

  hcr_master_generate(hex);
  m = master(hex);
  hcr_wipe(hex, sizeof(hex));
  return m;
}

static int is_zero(const uint8_t *p, size_t n)
{
  uint8_t acc = 0;

  for (size_t i = 0; i < n; i++)
    acc |= p[i];
  return acc == 0;
}

TEST(wrap_unwrap_round_trip)
{
  uint8_t dek[HCR_DEK_LEN], dek2[HCR_DEK_LEN], back[HCR_DEK_LEN];
  uint8_t w[HCR_WRAPPED_DEK_LEN], w2[HCR_WRAPPED_DEK_LEN];
  struct hcr_master *m;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  m = random_master();
  hcr_dek_new(dek);
  hcr_dek_new(dek2);
  CHECK(memcmp(dek, dek2, sizeof(dek)) != 0);
  CHECK_INT(hcr_dek_wrap(m, 42, 1, dek, w), ==, HCR_OK);
  CHECK_INT(hcr_dek_wrap(m, 42, 1, dek, w2), ==, HCR_OK);
  CHECK(memcmp(w, w2, sizeof(w)) != 0); /* fresh nonce each time */
  CHECK_INT(hcr_dek_unwrap(m, 42, 1, w, sizeof(w), back), ==, HCR_OK);
  CHECK_MEM(back, dek, sizeof(dek));
  CHECK_INT(hcr_dek_unwrap(m, 42, 1, w2, sizeof(w2), back), ==, HCR_OK);
  CHECK_MEM(back, dek, sizeof(dek));
  /* Extreme ids and versions encode without trouble. */
  CHECK_INT(hcr_dek_wrap(m, INT64_MIN, UINT32_MAX, dek, w), ==, HCR_OK);
  CHECK_INT(hcr_dek_unwrap(m, INT64_MIN, UINT32_MAX, w, sizeof(w), back), ==,
            HCR_OK);
  CHECK_MEM(back, dek, sizeof(dek));
  CHECK_INT(hcr_dek_unwrap(m, INT64_MAX, UINT32_MAX, w, sizeof(w), back), ==,
            HCR_EMISMATCH);
  hcr_master_free(m);
}

TEST(known_answer)
{
  uint8_t dek[HCR_DEK_LEN];
  struct hcr_master *m;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  m = master(KEY_HEX);
  CHECK_INT(hcr_dek_unwrap(m, 42, 7, kat_wrapped, sizeof(kat_wrapped), dek),
            ==, HCR_OK);
  for (size_t i = 0; i < sizeof(dek); i++)
    CHECK_UINT(dek[i], ==, 0x80 + i);
  hcr_master_free(m);
}

TEST(every_byte_of_a_wrapped_key_is_protected)
{
  uint8_t dek[HCR_DEK_LEN], back[HCR_DEK_LEN], w[HCR_WRAPPED_DEK_LEN];
  struct hcr_master *m;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  m = random_master();
  hcr_dek_new(dek);
  CHECK_INT(hcr_dek_wrap(m, 7, 3, dek, w), ==, HCR_OK);
  for (size_t i = 0; i < sizeof(w); i++) {
    for (int bit = 0; bit < 8; bit++) {
      w[i] ^= (uint8_t)(1u << bit);
      memset(back, 0xaa, sizeof(back));
      if (hcr_dek_unwrap(m, 7, 3, w, sizeof(w), back) != HCR_EMISMATCH)
        CHECK_FAIL("flipping bit %d of byte %zu went unnoticed", bit, i);
      CHECK(is_zero(back, sizeof(back)));
      w[i] ^= (uint8_t)(1u << bit);
    }
  }
  CHECK_INT(hcr_dek_unwrap(m, 7, 3, w, sizeof(w), back), ==, HCR_OK);
  CHECK_MEM(back, dek, sizeof(dek));
  CHECK_INT(hcr_dek_unwrap(m, 7, 3, w, sizeof(w) - 1, back), ==, HCR_EINVAL);
  CHECK(is_zero(back, sizeof(back)));
  CHECK_INT(hcr_dek_unwrap(m, 7, 3, w, 0, back), ==, HCR_EINVAL);
  hcr_master_free(m);
}

TEST(wrong_user_version_or_master_fails)
{
  uint8_t dek[HCR_DEK_LEN], back[HCR_DEK_LEN], w[HCR_WRAPPED_DEK_LEN];
  struct hcr_master *m, *other;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  m = random_master();
  other = random_master();
  hcr_dek_new(dek);
  CHECK_INT(hcr_dek_wrap(m, 1000, 2, dek, w), ==, HCR_OK);
  CHECK_INT(hcr_dek_unwrap(m, 1001, 2, w, sizeof(w), back), ==,
            HCR_EMISMATCH);
  CHECK_INT(hcr_dek_unwrap(m, -1000, 2, w, sizeof(w), back), ==,
            HCR_EMISMATCH);
  CHECK_INT(hcr_dek_unwrap(m, 1000, 1, w, sizeof(w), back), ==,
            HCR_EMISMATCH);
  CHECK_INT(hcr_dek_unwrap(m, 1000, 3, w, sizeof(w), back), ==,
            HCR_EMISMATCH);
  /* Swapped fields: user 2 version 1000 is not user 1000 version 2. */
  CHECK_INT(hcr_dek_unwrap(m, 2, 1000, w, sizeof(w), back), ==,
            HCR_EMISMATCH);
  CHECK_INT(hcr_dek_unwrap(other, 1000, 2, w, sizeof(w), back), ==,
            HCR_EMISMATCH);
  CHECK(is_zero(back, sizeof(back)));
  CHECK_INT(hcr_dek_unwrap(m, 1000, 2, w, sizeof(w), back), ==, HCR_OK);
  CHECK_MEM(back, dek, sizeof(dek));
  hcr_master_free(m);
  hcr_master_free(other);
}

TEST(rotation_by_rewrap)
{
  uint8_t dek[HCR_DEK_LEN], back[HCR_DEK_LEN];
  uint8_t w[HCR_WRAPPED_DEK_LEN], w2[HCR_WRAPPED_DEK_LEN];
  uint8_t w3[HCR_WRAPPED_DEK_LEN], before[HCR_WRAPPED_DEK_LEN];
  struct hcr_master *old_m, *new_m, *third;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  old_m = random_master();
  new_m = random_master();
  third = random_master();
  hcr_dek_new(dek);
  CHECK_INT(hcr_dek_wrap(old_m, 5, 1, dek, w), ==, HCR_OK);

  /* Same version: the usual rotation. */
  CHECK_INT(hcr_dek_rewrap(old_m, new_m, 5, 1, 1, w, sizeof(w), w2), ==,
            HCR_OK);
  CHECK_INT(hcr_dek_unwrap(new_m, 5, 1, w2, sizeof(w2), back), ==, HCR_OK);
  CHECK_MEM(back, dek, sizeof(dek));
  CHECK_INT(hcr_dek_unwrap(old_m, 5, 1, w2, sizeof(w2), back), ==,
            HCR_EMISMATCH);

  /* A new version of the wrapping. */
  CHECK_INT(hcr_dek_rewrap(new_m, third, 5, 1, 2, w2, sizeof(w2), w3), ==,
            HCR_OK);
  CHECK_INT(hcr_dek_unwrap(third, 5, 2, w3, sizeof(w3), back), ==, HCR_OK);
  CHECK_MEM(back, dek, sizeof(dek));
  CHECK_INT(hcr_dek_unwrap(third, 5, 1, w3, sizeof(w3), back), ==,
            HCR_EMISMATCH);

  /* Failures leave `out` untouched: wrong old key, user, version, length. */
  memset(w3, 0x5a, sizeof(w3));
  memcpy(before, w3, sizeof(w3));
  CHECK_INT(hcr_dek_rewrap(new_m, third, 5, 1, 1, w, sizeof(w), w3), ==,
            HCR_EMISMATCH);
  CHECK_INT(hcr_dek_rewrap(old_m, third, 6, 1, 1, w, sizeof(w), w3), ==,
            HCR_EMISMATCH);
  CHECK_INT(hcr_dek_rewrap(old_m, third, 5, 2, 2, w, sizeof(w), w3), ==,
            HCR_EMISMATCH);
  CHECK_INT(hcr_dek_rewrap(old_m, third, 5, 1, 1, w, 71, w3), ==, HCR_EINVAL);
  CHECK_MEM(w3, before, sizeof(w3));

  hcr_master_free(old_m);
  hcr_master_free(new_m);
  hcr_master_free(third);
}

TEST_MAIN()
