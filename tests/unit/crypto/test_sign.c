/* Unit tests for crypto/sign.c: SHA-256 against the FIPS 180-2 vectors,
 * incremental = one-shot, Ed25519 against RFC 8032 test 1, and
 * verification failures. */
#include "check.h"
#include "hcrypto.h"

static void unhex(const char *s, uint8_t *out, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    CHECK(sscanf(s + 2 * i, "%2x", &v) == 1);
    out[i] = (uint8_t)v;
  }
}

TEST(sha256_vectors)
{
  uint8_t h[HCR_SHA256_LEN], want[HCR_SHA256_LEN], inc[HCR_SHA256_LEN];
  struct hcr_sha256 s;
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_sha256("", 0, h);
  unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        want, 32);
  CHECK_MEM(h, want, 32);
  hcr_sha256("abc", 3, h);
  unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        want, 32);
  CHECK_MEM(h, want, 32);
  hcr_sha256(two, strlen(two), h);
  unhex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        want, 32);
  CHECK_MEM(h, want, 32);
  /* Incremental, split at every point. */
  for (size_t cut = 0; cut <= strlen(two); cut++) {
    hcr_sha256_init(&s);
    hcr_sha256_update(&s, two, cut);
    hcr_sha256_update(&s, two + cut, strlen(two) - cut);
    hcr_sha256_final(&s, inc);
    CHECK_MEM(inc, want, 32);
  }
}

TEST(ed25519_rfc8032_test1)
{
  uint8_t seed[32], pub[32], sk[64], sig[64], want_pub[32], want_sig[64];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        seed, 32);
  unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        want_pub, 32);
  unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        want_sig, 64);
  hcr_sign_seed_keypair(seed, pub, sk);
  CHECK_MEM(pub, want_pub, 32);
  hcr_sign(sk, "", 0, sig);
  CHECK_MEM(sig, want_sig, 64);
  CHECK_INT(hcr_sign_verify(pub, "", 0, sig), ==, HCR_OK);
  hcr_wipe(sk, sizeof sk);
}

TEST(ed25519_refusals)
{
  uint8_t pub[32], sk[64], pub2[32], sk2[64], sig[64];
  const char *m = "herald.card.v1 message";

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_sign_keypair(pub, sk);
  hcr_sign_keypair(pub2, sk2);
  CHECK(memcmp(pub, pub2, 32) != 0);
  hcr_sign(sk, m, strlen(m), sig);
  CHECK_INT(hcr_sign_verify(pub, m, strlen(m), sig), ==, HCR_OK);
  CHECK_INT(hcr_sign_verify(pub2, m, strlen(m), sig), ==, HCR_EMISMATCH);
  CHECK_INT(hcr_sign_verify(pub, m, strlen(m) - 1, sig), ==, HCR_EMISMATCH);
  sig[10] ^= 4;
  CHECK_INT(hcr_sign_verify(pub, m, strlen(m), sig), ==, HCR_EMISMATCH);
  memset(pub2, 0, sizeof pub2);   /* a malformed (small-order) key */
  CHECK_INT(hcr_sign_verify(pub2, m, strlen(m), sig), ==, HCR_EMISMATCH);
}

TEST_MAIN()
