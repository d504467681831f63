/* Unit tests for crypto/seal.c: read times sealed under a data key with
 * the row bound in as associated data. */
#include "check.h"
#include "hcrypto.h"

/* 1700000000123 ms sealed under the DEK 80 81 ... 9f for conversation 1001,
 * range 5..9, reader 42, DEK version 7, nonce c0 c1 ... d7 — made
 * independently with libsodium from the layout in hcrypto.h. Pinned: stored
 * read times depend on it. */
static const uint8_t kat_sealed[HCR_SEALED_TIME_LEN] = {
  0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb,
  0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7,
  0xf4, 0x1b, 0x8d, 0x95, 0xe7, 0x53, 0xbf, 0x6f, 0xdd, 0x08, 0xd9, 0x6d,
  0xfe, 0xc6, 0xfa, 0xec, 0xaf, 0x77, 0x8f, 0x48, 0x7a, 0xe6, 0xc7, 0x59,
};

static const struct hcr_time_ad row = {
  .conversation_id = 1001, .from_seq = 5, .to_seq = 9, .reader_id = 42,
  .dek_version = 7,
};

TEST(seal_open_round_trip)
{
  static const int64_t times[] = {
    1700000000123, 0, 1, -1, INT64_MAX, INT64_MIN, 253402300799999,
  };
  uint8_t dek[HCR_DEK_LEN], a[HCR_SEALED_TIME_LEN], b[HCR_SEALED_TIME_LEN];
  struct hcr_time_ad one = row;
  int64_t t;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_dek_new(dek);
  for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
    CHECK_INT(hcr_seal_time(dek, &row, times[i], a), ==, HCR_OK);
    t = 12345;
    CHECK_INT(hcr_open_time(dek, &row, a, sizeof(a), &t), ==, HCR_OK);
    CHECK_INT(t, ==, times[i]);
  }
  /* Same time, same row: different blobs (random nonce). */
  CHECK_INT(hcr_seal_time(dek, &row, 5, a), ==, HCR_OK);
  CHECK_INT(hcr_seal_time(dek, &row, 5, b), ==, HCR_OK);
  CHECK(memcmp(a, b, sizeof(a)) != 0);
  /* A one-message range. */
  one.from_seq = one.to_seq = 9;
  CHECK_INT(hcr_seal_time(dek, &one, 77, a), ==, HCR_OK);
  CHECK_INT(hcr_open_time(dek, &one, a, sizeof(a), &t), ==, HCR_OK);
  CHECK_INT(t, ==, 77);
  hcr_wipe(dek, sizeof(dek));
}

TEST(known_answer)
{
  uint8_t dek[HCR_DEK_LEN];
  int64_t t = 0;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  for (size_t i = 0; i < sizeof(dek); i++)
    dek[i] = (uint8_t)(0x80 + i);
  CHECK_INT(hcr_open_time(dek, &row, kat_sealed, sizeof(kat_sealed), &t), ==,
            HCR_OK);
  CHECK_INT(t, ==, 1700000000123);
}

TEST(every_byte_of_a_sealed_time_is_protected)
{
  uint8_t dek[HCR_DEK_LEN], s[HCR_SEALED_TIME_LEN];
  int64_t t = 99;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_dek_new(dek);
  CHECK_INT(hcr_seal_time(dek, &row, 1700000000123, s), ==, HCR_OK);
  for (size_t i = 0; i < sizeof(s); i++) {
    for (int bit = 0; bit < 8; bit++) {
      s[i] ^= (uint8_t)(1u << bit);
      if (hcr_open_time(dek, &row, s, sizeof(s), &t) != HCR_EMISMATCH)
        CHECK_FAIL("flipping bit %d of byte %zu went unnoticed", bit, i);
      s[i] ^= (uint8_t)(1u << bit);
    }
  }
  CHECK_INT(t, ==, 99); /* untouched by the failures */
  CHECK_INT(hcr_open_time(dek, &row, s, sizeof(s), &t), ==, HCR_OK);
  CHECK_INT(t, ==, 1700000000123);
  CHECK_INT(hcr_open_time(dek, &row, s, sizeof(s) - 1, &t), ==, HCR_EINVAL);
  CHECK_INT(hcr_open_time(dek, &row, s, sizeof(s) + 1, &t), ==, HCR_EINVAL);
  hcr_wipe(dek, sizeof(dek));
}

TEST(moved_to_another_row_fails)
{
  uint8_t dek[HCR_DEK_LEN], other[HCR_DEK_LEN], s[HCR_SEALED_TIME_LEN];
  struct hcr_time_ad ad;
  int64_t t;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_dek_new(dek);
  hcr_dek_new(other);
  CHECK_INT(hcr_seal_time(dek, &row, 1700000000123, s), ==, HCR_OK);

  ad = row; ad.conversation_id = 1002;      /* another conversation */
  CHECK_INT(hcr_open_time(dek, &ad, s, sizeof(s), &t), ==, HCR_EMISMATCH);
  ad = row; ad.from_seq = 4;                /* another range */
  CHECK_INT(hcr_open_time(dek, &ad, s, sizeof(s), &t), ==, HCR_EMISMATCH);
  ad = row; ad.to_seq = 10;
  CHECK_INT(hcr_open_time(dek, &ad, s, sizeof(s), &t), ==, HCR_EMISMATCH);
  ad = row; ad.from_seq = 6; ad.to_seq = 9; /* a sub-range */
  CHECK_INT(hcr_open_time(dek, &ad, s, sizeof(s), &t), ==, HCR_EMISMATCH);
  ad = row; ad.reader_id = 43;              /* another reader */
  CHECK_INT(hcr_open_time(dek, &ad, s, sizeof(s), &t), ==, HCR_EMISMATCH);
  ad = row; ad.dek_version = 8;             /* another key version */
  CHECK_INT(hcr_open_time(dek, &ad, s, sizeof(s), &t), ==, HCR_EMISMATCH);
  /* Fields swapped between positions. */
  ad = row; ad.conversation_id = row.reader_id; ad.reader_id =
      row.conversation_id;
  CHECK_INT(hcr_open_time(dek, &ad, s, sizeof(s), &t), ==, HCR_EMISMATCH);
  /* Another reader's key (the ciphertext copied to their row). */
  CHECK_INT(hcr_open_time(other, &row, s, sizeof(s), &t), ==, HCR_EMISMATCH);
  CHECK_INT(hcr_open_time(dek, &row, s, sizeof(s), &t), ==, HCR_OK);
  hcr_wipe(dek, sizeof(dek));
  hcr_wipe(other, sizeof(other));
}

TEST(inverted_range_refused)
{
  uint8_t dek[HCR_DEK_LEN], s[HCR_SEALED_TIME_LEN];
  struct hcr_time_ad ad = row;
  int64_t t;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_dek_new(dek);
  ad.from_seq = 10;
  ad.to_seq = 9;
  CHECK_INT(hcr_seal_time(dek, &ad, 1, s), ==, HCR_EINVAL);
  CHECK_INT(hcr_seal_time(dek, &row, 1, s), ==, HCR_OK);
  CHECK_INT(hcr_open_time(dek, &ad, s, sizeof(s), &t), ==, HCR_EINVAL);
}

TEST(end_to_end_through_wrapped_key)
{
  /* The whole chain the server runs: new user key, wrapped for storage;
   * later unwrapped to seal, rotated, unwrapped again to open. */
  char hex[HCR_MASTER_HEX_LEN + 1], err[256];
  uint8_t dek[HCR_DEK_LEN], w[HCR_WRAPPED_DEK_LEN], w2[HCR_WRAPPED_DEK_LEN];
  uint8_t s[HCR_SEALED_TIME_LEN];
  struct hcr_master *m1, *m2;
  int64_t t;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_master_generate(hex);
  CHECK_INT(setenv("HERALD_TEST_MASTER_KEY", hex, 1), ==, 0);
  CHECK_INT(hcr_master_load_env("HERALD_TEST_MASTER_KEY", &m1, err,
                                sizeof(err)), ==, HCR_OK);
  hcr_master_generate(hex);
  CHECK_INT(setenv("HERALD_TEST_MASTER_KEY", hex, 1), ==, 0);
  CHECK_INT(hcr_master_load_env("HERALD_TEST_MASTER_KEY", &m2, err,
                                sizeof(err)), ==, HCR_OK);
  hcr_dek_new(dek);
  CHECK_INT(hcr_dek_wrap(m1, 42, 7, dek, w), ==, HCR_OK);
  hcr_wipe(dek, sizeof(dek));
  CHECK_INT(hcr_dek_unwrap(m1, 42, 7, w, sizeof(w), dek), ==, HCR_OK);
  CHECK_INT(hcr_seal_time(dek, &row, 1700000000123, s), ==, HCR_OK);
  hcr_wipe(dek, sizeof(dek));
  CHECK_INT(hcr_dek_rewrap(m1, m2, 42, 7, 7, w, sizeof(w), w2), ==, HCR_OK);
  CHECK_INT(hcr_dek_unwrap(m2, 42, 7, w2, sizeof(w2), dek), ==, HCR_OK);
  CHECK_INT(hcr_open_time(dek, &row, s, sizeof(s), &t), ==, HCR_OK);
  CHECK_INT(t, ==, 1700000000123);
  hcr_wipe(dek, sizeof(dek));
  hcr_master_free(m1);
  hcr_master_free(m2);
}

TEST_MAIN()
