/* Unit tests for crypto/hmac.c: HMAC-SHA256 (RFC 4231 vectors), the robot
 * webhook's signature, and robot secrets sealed under the master key. */
#include "check.h"
#include "hcrypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV "HERALD_TEST_HMAC_KEY"

static void hex(const uint8_t *p, size_t n, char *out)
{
  for (size_t i = 0; i < n; i++)
    snprintf(out + 2 * i, 3, "%02x", p[i]);
}

TEST(hmac_sha256_rfc4231)
{
  uint8_t mac[HCR_HMAC_LEN], key[131];
  char h[2 * HCR_HMAC_LEN + 1];
  static const char m6[] =
    "Test Using Larger Than Block-Size Key - Hash Key First";

  CHECK_INT(hcr_init(), ==, HCR_OK);
  /* Test case 2: a short key. */
  hcr_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
  hex(mac, sizeof(mac), h);
  CHECK_STR(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b9"
               "64ec3843");
  /* Test case 6: a key longer than the block is hashed first. */
  memset(key, 0xaa, sizeof(key));
  hcr_hmac_sha256(key, sizeof(key), m6, strlen(m6), mac);
  hex(mac, sizeof(mac), h);
  CHECK_STR(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f"
               "0ee37f54");
}

TEST(robot_sign_as_dingtalk_computes_it)
{
  char sign[HCR_ROBOT_SIGN_LEN + 1];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  /* base64(HMAC-SHA256(key "SECtest", "1700000000000\nSECtest")), made
   * with openssl. */
  CHECK_INT(hcr_robot_sign("SECtest", 7, "1700000000000", sign), ==, HCR_OK);
  CHECK_STR(sign, "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g=");
  CHECK_INT(hcr_robot_sign("SECtest", 7, "123456789012345678901234567890123",
                           sign), ==, HCR_EINVAL);
  CHECK(hcr_equal("abc", "abc", 3));
  CHECK(!hcr_equal("abc", "abd", 3));
}

static struct hcr_master *random_master(void)
{
  char h[HCR_MASTER_HEX_LEN + 1], err[256];
  struct hcr_master *m;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_master_generate(h);
  CHECK_INT(setenv(ENV, h, 1), ==, 0);
  if (hcr_master_load_env(ENV, &m, err, sizeof(err)) != HCR_OK)
    CHECK_FAIL("master key: %s", err);
  hcr_wipe(h, sizeof(h));
  return m;
}

TEST(robot_secret_sealed_for_one_bot_under_one_key)
{
  struct hcr_master *m = random_master(), *other = random_master();
  uint8_t blob[HCR_SECRET_SEALED_MAX];
  char out[HCR_SECRET_MAX + 1], big[HCR_SECRET_MAX + 2];
  size_t len = 0, n = 0;
  uint64_t id;

  CHECK_INT(hcr_secret_seal(m, 7, "SECabc", 6, blob, &len), ==, HCR_OK);
  CHECK_UINT(len, ==, 8 + 24 + 6 + 16);
  CHECK_INT(hcr_secret_master_id(blob, len, &id), ==, HCR_OK);
  CHECK_UINT(id, ==, hcr_master_id(m));
  CHECK_INT(hcr_secret_open(m, 7, blob, len, out, &n), ==, HCR_OK);
  CHECK_UINT(n, ==, 6);
  CHECK_STR(out, "SECabc");
  /* Another bot, another key, a flipped bit: nothing opens. */
  CHECK_INT(hcr_secret_open(m, 8, blob, len, out, &n), ==, HCR_EMISMATCH);
  CHECK_INT(hcr_secret_open(other, 7, blob, len, out, &n), ==,
            HCR_EMISMATCH);
  blob[len - 1] ^= 1;
  CHECK_INT(hcr_secret_open(m, 7, blob, len, out, &n), ==, HCR_EMISMATCH);
  CHECK_INT(hcr_secret_open(m, 7, blob, 10, out, &n), ==, HCR_EINVAL);
  /* Lengths: 1..HCR_SECRET_MAX. */
  memset(big, 'x', sizeof(big));
  CHECK_INT(hcr_secret_seal(m, 7, big, HCR_SECRET_MAX, blob, &len), ==,
            HCR_OK);
  CHECK_UINT(len, ==, HCR_SECRET_SEALED_MAX);
  CHECK_INT(hcr_secret_open(m, 7, blob, len, out, &n), ==, HCR_OK);
  CHECK_UINT(n, ==, HCR_SECRET_MAX);
  CHECK_INT(hcr_secret_seal(m, 7, big, HCR_SECRET_MAX + 1, blob, &len), ==,
            HCR_EINVAL);
  CHECK_INT(hcr_secret_seal(m, 7, big, 0, blob, &len), ==, HCR_EINVAL);
  hcr_master_free(m);
  hcr_master_free(other);
}

TEST_MAIN()
