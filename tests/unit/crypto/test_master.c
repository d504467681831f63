/* Unit tests for crypto/master.c: loading the master key from a file or an
 * environment variable, refusals with clear messages, the key id, and the
 * check value that detects a wrong master key. */
#include "check.h"
#include "hcrypto.h"

#include <sys/stat.h>
#include <unistd.h>

#define ENV "HERALD_TEST_MASTER_KEY"

/* The key 00 01 02 ... 1f in every accepted encoding. */
#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B64URL_NOPAD "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

/* Its id (first 63 bits of BLAKE2b-128 keyed by the key over
 * "herald.master.id.v1"), computed independently with libsodium: pinned,
 * because stored check values and key ids depend on it. */
#define KAT_MASTER_ID UINT64_C(1419350110926747575)

/* A check value made with that key and the nonce e0 e1 ... f7. */
static const uint8_t kat_check[HCR_MASTER_CHECK_LEN] = {
  0x13, 0xb2, 0x8b, 0x67, 0xe5, 0xb3, 0x37, 0xb7, 0xe0, 0xe1, 0xe2, 0xe3,
  0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
  0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0x66, 0xf5, 0xe9, 0xb2,
  0x3f, 0x9d, 0xf5, 0x47, 0xd3, 0x8c, 0x2b, 0xa3, 0x0a, 0x65, 0x44, 0xd8,
};

static char tmpdir[256];

/* Writes `len` bytes to a fresh file with `mode` and returns its path
 * (static storage, overwritten by the next call). */
static const char *key_file(const void *data, size_t len, mode_t mode)
{
  static char path[300];
  static int n;
  FILE *f;

  if (tmpdir[0] == '\0') {
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/herald-master-XXXXXX",
             t != NULL && t[0] != '\0' ? t : "/tmp");
    CHECK(mkdtemp(tmpdir) != NULL);
  }
  snprintf(path, sizeof(path), "%s/key%d", tmpdir, n++);
  f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK_UINT(fwrite(data, 1, len, f), ==, len);
  CHECK_INT(fclose(f), ==, 0);
  CHECK_INT(chmod(path, mode), ==, 0);
  return path;
}

static void cleanup_tmpdir(void)
{
  char cmd[300];

  if (tmpdir[0] != '\0') {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    CHECK_INT(system(cmd), ==, 0);
  }
}

static int load_text_file(const char *text, mode_t mode,
                          struct hcr_master **m, char *err, size_t errlen)
{
  return hcr_master_load_file(key_file(text, strlen(text), mode), m, err,
                              errlen);
}

static int load_env(const char *value, struct hcr_master **m, char *err,
                    size_t errlen)
{
  CHECK_INT(setenv(ENV, value, 1), ==, 0);
  return hcr_master_load_env(ENV, m, err, errlen);
}

TEST(file_encodings_give_the_same_key)
{
  static const char *texts[] = {
    KEY_HEX, KEY_HEX "\n", KEY_HEX "\r\n",
    "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
    KEY_B64, KEY_B64 "\n", KEY_B64URL_NOPAD "\n",
  };
  uint8_t raw[HCR_MASTER_LEN];
  struct hcr_master *m;
  char err[512];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  for (size_t i = 0; i < sizeof(raw); i++)
    raw[i] = (uint8_t)i;
  CHECK_INT(hcr_master_load_file(key_file(raw, sizeof(raw), 0600), &m, err,
                                 sizeof(err)), ==, HCR_OK);
  CHECK_UINT(hcr_master_id(m), ==, KAT_MASTER_ID);
  hcr_master_free(m);
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    err[0] = '\0';
    if (load_text_file(texts[i], 0400, &m, err, sizeof(err)) != HCR_OK)
      CHECK_FAIL("encoding %zu refused: %s", i, err);
    CHECK_UINT(hcr_master_id(m), ==, KAT_MASTER_ID);
    hcr_master_free(m);
  }
  cleanup_tmpdir();
}

TEST(env_encodings_give_the_same_key)
{
  struct hcr_master *m;
  char err[512];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(load_env(KEY_HEX, &m, err, sizeof(err)), ==, HCR_OK);
  CHECK_UINT(hcr_master_id(m), ==, KAT_MASTER_ID);
  hcr_master_free(m);
  CHECK_INT(load_env(KEY_B64, &m, err, sizeof(err)), ==, HCR_OK);
  CHECK_UINT(hcr_master_id(m), ==, KAT_MASTER_ID);
  hcr_master_free(m);
  CHECK_INT(load_env(KEY_B64URL_NOPAD "\n", &m, err, sizeof(err)), ==, HCR_OK);
  CHECK_UINT(hcr_master_id(m), ==, KAT_MASTER_ID);
  hcr_master_free(m);
}

TEST(env_refusals)
{
  struct hcr_master *m = (struct hcr_master *)1;
  char err[512];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(unsetenv(ENV), ==, 0);
  CHECK_INT(hcr_master_load_env(ENV, &m, err, sizeof(err)), ==, HCR_ENOENT);
  CHECK(m == NULL);
  CHECK_CONTAINS(err, "environment variable " ENV " is not set");
  CHECK_INT(load_env("", &m, err, sizeof(err)), ==, HCR_ENOENT);
  CHECK_INT(load_env("abcd", &m, err, sizeof(err)), ==, HCR_EINVAL);
  CHECK_CONTAINS(err, "environment variable " ENV);
  CHECK_CONTAINS(err, "4 hex characters");
  /* 32 printable bytes are never a raw key, and a variable has no raw
   * form at all. */
  CHECK_INT(load_env("this is my secret passphrase!!!!", &m, err,
                     sizeof(err)), ==, HCR_EINVAL);
  CHECK_CONTAINS(err, "is not a master key");
  CHECK(m == NULL);
  /* No key material in any message. */
  CHECK_INT(load_env(KEY_HEX "00", &m, err, sizeof(err)), ==, HCR_EINVAL);
  CHECK(strstr(err, "000102") == NULL);
  CHECK_CONTAINS(err, "66 hex characters");
}

TEST(file_refusals_are_clear)
{
  static const char *bad[][2] = {
    { KEY_HEX "0", "65 hex characters" },
    { "0001020304", "10 hex characters" },
    { "000102030405060708090a0b0c0d0e0f", "32 hex characters" },
    { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", "base64 of 30 bytes" },
    { KEY_B64URL_NOPAD "AAAA", "base64 of 35 bytes" },
    { KEY_B64 "AAAA", "neither" },             /* padding inside */
    { "zz" KEY_HEX, "neither" },
    { KEY_HEX " \n", "neither" },
    { KEY_HEX "\n\n", "neither" },
    { "\n", "is empty" },
    { "", "is empty" },
    { "correct horse battery staple 123", "neither" }, /* 32 printable */
    { "0000000000000000000000000000000000000000000000000000000000000000",
      "all-zero" },
  };
  uint8_t zero[HCR_MASTER_LEN] = {0}, raw33[HCR_MASTER_LEN + 1];
  static char big[HCR_MASTER_FILE_MAX + 10];
  struct hcr_master *m;
  const char *path;
  char err[512];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    path = key_file(bad[i][0], strlen(bad[i][0]), 0600);
    err[0] = '\0';
    CHECK_INT(hcr_master_load_file(path, &m, err, sizeof(err)), ==,
              HCR_EINVAL);
    CHECK(m == NULL);
    CHECK_CONTAINS(err, path);
    CHECK_CONTAINS(err, bad[i][1]);
  }
  path = key_file(zero, sizeof(zero), 0600);
  CHECK_INT(hcr_master_load_file(path, &m, err, sizeof(err)), ==, HCR_EINVAL);
  CHECK_CONTAINS(err, "all-zero");
  /* A raw key with a newline is not a raw key. */
  memset(raw33, 0xee, sizeof(raw33));
  raw33[HCR_MASTER_LEN] = '\n';
  path = key_file(raw33, sizeof(raw33), 0600);
  CHECK_INT(hcr_master_load_file(path, &m, err, sizeof(err)), ==, HCR_EINVAL);
  memset(big, 'a', sizeof(big));
  path = key_file(big, sizeof(big), 0600);
  CHECK_INT(hcr_master_load_file(path, &m, err, sizeof(err)), ==, HCR_EINVAL);
  CHECK_CONTAINS(err, "larger than 4096 bytes");
  /* err may be omitted. */
  CHECK_INT(hcr_master_load_file(path, &m, NULL, 0), ==, HCR_EINVAL);
  cleanup_tmpdir();
}

TEST(file_readable_by_others_is_refused)
{
  static const mode_t modes[] = {0644, 0640, 0604, 0660, 0606, 0610, 0444};
  static const char *shown[] = {"0644", "0640", "0604", "0660", "0606",
                                "0610", "0444"};
  struct hcr_master *m;
  const char *path;
  char err[512];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
    path = key_file(KEY_HEX "\n", strlen(KEY_HEX) + 1, modes[i]);
    CHECK_INT(hcr_master_load_file(path, &m, err, sizeof(err)), ==,
              HCR_EPERM);
    CHECK(m == NULL);
    CHECK_CONTAINS(err, path);
    CHECK_CONTAINS(err, shown[i]);
    CHECK_CONTAINS(err, "chmod 600");
  }
  /* Fixed, the same file loads. */
  CHECK_INT(chmod(path, 0600), ==, 0);
  CHECK_INT(hcr_master_load_file(path, &m, err, sizeof(err)), ==, HCR_OK);
  hcr_master_free(m);
  cleanup_tmpdir();
}

TEST(unreadable_file_and_directory)
{
  struct hcr_master *m;
  char err[512];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(hcr_master_load_file("/nonexistent/herald/master.key", &m, err,
                                 sizeof(err)), ==, HCR_EIO);
  CHECK(m == NULL);
  CHECK_CONTAINS(err, "cannot open master key file "
                      "/nonexistent/herald/master.key");
  CHECK_CONTAINS(err, "No such file");
  CHECK_INT(hcr_master_load_file("/", &m, err, sizeof(err)), ==, HCR_EINVAL);
  CHECK_CONTAINS(err, "not a regular file");
  /* Mode 0000 cannot be opened — unless the tests run as root. */
  if (geteuid() != 0) {
    const char *path = key_file(KEY_HEX, strlen(KEY_HEX), 0000);
    CHECK_INT(hcr_master_load_file(path, &m, err, sizeof(err)), ==, HCR_EIO);
    CHECK_CONTAINS(err, "Permission denied");
  }
  cleanup_tmpdir();
}

TEST(generated_keys_load_and_differ)
{
  char a[HCR_MASTER_HEX_LEN + 1], b[HCR_MASTER_HEX_LEN + 1];
  struct hcr_master *ma, *mb;
  char err[512];

  CHECK_INT(hcr_init(), ==, HCR_OK);
  hcr_master_generate(a);
  hcr_master_generate(b);
  CHECK_UINT(strlen(a), ==, HCR_MASTER_HEX_LEN);
  CHECK(strcmp(a, b) != 0);
  CHECK_INT(load_env(a, &ma, err, sizeof(err)), ==, HCR_OK);
  CHECK_INT(load_env(b, &mb, err, sizeof(err)), ==, HCR_OK);
  CHECK(hcr_master_id(ma) != hcr_master_id(mb));
  CHECK_UINT(hcr_master_id(ma), <=, (uint64_t)INT64_MAX);
  hcr_master_free(ma);
  hcr_master_free(mb);
  hcr_master_free(NULL);
  hcr_wipe(a, sizeof(a));
  hcr_wipe(b, sizeof(b));
}

TEST(check_value_detects_a_wrong_master_key)
{
  uint8_t blob[HCR_MASTER_CHECK_LEN], blob2[HCR_MASTER_CHECK_LEN];
  char other[HCR_MASTER_HEX_LEN + 1];
  struct hcr_master *m, *wrong;
  char err[512];
  uint64_t id;

  CHECK_INT(hcr_init(), ==, HCR_OK);
  CHECK_INT(load_env(KEY_HEX, &m, err, sizeof(err)), ==, HCR_OK);
  hcr_master_generate(other);
  CHECK_INT(load_env(other, &wrong, err, sizeof(err)), ==, HCR_OK);

  CHECK_INT(hcr_master_check_new(m, blob), ==, HCR_OK);
  CHECK_INT(hcr_master_check_new(m, blob2), ==, HCR_OK);
  CHECK(memcmp(blob, blob2, sizeof(blob)) != 0); /* fresh nonce */
  CHECK_INT(hcr_master_check_verify(m, blob, sizeof(blob)), ==, HCR_OK);
  CHECK_INT(hcr_master_check_verify(wrong, blob, sizeof(blob)), ==,
            HCR_EMISMATCH);
  CHECK_INT(hcr_master_check_id(blob, sizeof(blob), &id), ==, HCR_OK);
  CHECK_UINT(id, ==, hcr_master_id(m));
  CHECK_UINT(id, ==, KAT_MASTER_ID);

  /* The pinned check value still verifies: the format has not moved. */
  CHECK_INT(hcr_master_check_verify(m, kat_check, sizeof(kat_check)), ==,
            HCR_OK);

  /* Every byte matters, the id included. */
  for (size_t i = 0; i < sizeof(blob); i++) {
    for (int bit = 0; bit < 8; bit++) {
      blob[i] ^= (uint8_t)(1u << bit);
      if (hcr_master_check_verify(m, blob, sizeof(blob)) != HCR_EMISMATCH)
        CHECK_FAIL("flipping bit %d of byte %zu went unnoticed", bit, i);
      blob[i] ^= (uint8_t)(1u << bit);
    }
  }
  /* A wrong key whose id was forged into the blob still fails. */
  memcpy(blob2, blob, sizeof(blob));
  id = hcr_master_id(wrong);
  for (int i = 0; i < 8; i++)
    blob2[i] = (uint8_t)(id >> (56 - 8 * i));
  CHECK_INT(hcr_master_check_verify(wrong, blob2, sizeof(blob2)), ==,
            HCR_EMISMATCH);

  CHECK_INT(hcr_master_check_verify(m, blob, sizeof(blob) - 1), ==,
            HCR_EINVAL);
  CHECK_INT(hcr_master_check_verify(m, blob, 0), ==, HCR_EINVAL);
  CHECK_INT(hcr_master_check_id(blob, sizeof(blob) + 1, &id), ==, HCR_EINVAL);
  hcr_master_free(m);
  hcr_master_free(wrong);
}

TEST(error_texts)
{
  CHECK_STR(hcr_strerror(HCR_OK), "success");
  CHECK_CONTAINS(hcr_strerror(HCR_EPERM), "group or others");
  CHECK_CONTAINS(hcr_strerror(HCR_EMISMATCH), "does not match");
  CHECK_STR(hcr_strerror(-999), "unknown error");
}

TEST_MAIN()
