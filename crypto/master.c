/*
 * master.c — the server's master key: loading it from a file or an
 * environment variable, keeping it in guarded memory, its id, and the check
 * value that tells at start-up whether the configured key is the right one.
 *
 * The key never comes from argv (other users see /proc/PID/cmdline) and never
 * from the database (a dump must not hold what decrypts it). Loading is
 * strict on purpose: an operator who pastes a passphrase, a truncated hex
 * string or a world-readable file gets a one-line error naming the file or
 * variable, not a server that runs on a weak key.
 */
#include "hcrypto_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID_CONTEXT "herald.master.id.v1"
#define CHECK_CONTEXT "herald.mastercheck.v1"
#define CHECK_AD_LEN (sizeof(CHECK_CONTEXT) - 1 + 8)
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(HCR_MASTER_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "master key length");
_Static_assert(HCR_MASTER_CHECK_LEN == 8 + NONCE_LEN + TAG_LEN,
               "check value layout");

__attribute__((format(printf, 3, 4)))
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL || errlen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static int is_hex(uint8_t c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

/* Decodes a text key (hex or base64, one trailing newline allowed) of `len`
 * bytes into `key`. `what` names the source in messages. On failure `key`
 * may hold part of a key: the caller wipes it. */
static int decode_text(const char *what, const uint8_t *text, size_t len,
                       uint8_t key[HCR_MASTER_LEN], char *err, size_t errlen)
{
  static const int variants[] = {
    sodium_base64_VARIANT_ORIGINAL,
    sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
    sodium_base64_VARIANT_URLSAFE,
    sodium_base64_VARIANT_URLSAFE_NO_PADDING,
  };
  /* Large enough for the base64 of the longest file, so that a key of the
   * wrong size can be reported with its size. */
  uint8_t tmp[HCR_MASTER_FILE_MAX];
  size_t n = 0, i;
  int rc = HCR_EINVAL;

  if (len > 0 && text[len - 1] == '\n')
    len--;
  if (len > 0 && text[len - 1] == '\r')
    len--;
  if (len == 0) {
    seterr(err, errlen, "%s is empty", what);
    return HCR_EINVAL;
  }
  for (i = 0; i < len && is_hex(text[i]); i++)
    ;
  if (i == len) {
    if (len != HCR_MASTER_HEX_LEN) {
      seterr(err, errlen,
             "%s holds %zu hex characters; a master key is %d hex characters "
             "(32 bytes)", what, len, HCR_MASTER_HEX_LEN);
      return HCR_EINVAL;
    }
    if (sodium_hex2bin(key, HCR_MASTER_LEN, (const char *)text, len, NULL, &n,
                       NULL) != 0 || n != HCR_MASTER_LEN) {
      seterr(err, errlen, "%s: invalid hex", what);
      return HCR_EINVAL;
    }
    return HCR_OK;
  }
  for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
    if (sodium_base642bin(tmp, sizeof(tmp), (const char *)text, len, NULL, &n,
                          NULL, variants[i]) == 0)
      break;
  }
  if (i == sizeof(variants) / sizeof(variants[0])) {
    seterr(err, errlen,
           "%s is not a master key: expected 32 random bytes, %d hex "
           "characters or base64 of 32 bytes (found %zu characters that are "
           "neither)", what, HCR_MASTER_HEX_LEN, len);
  } else if (n != HCR_MASTER_LEN) {
    seterr(err, errlen,
           "%s holds base64 of %zu bytes; a master key is %d bytes", what, n,
           HCR_MASTER_LEN);
  } else {
    memcpy(key, tmp, HCR_MASTER_LEN);
    rc = HCR_OK;
  }
  sodium_memzero(tmp, sizeof(tmp));
  return rc;
}

/* Decodes what a file or variable held. Exactly 32 bytes that are not all
 * printable are a raw key (when `raw_ok`); 32 printable characters are read
 * as text, so a passphrase is refused rather than used as a key (32 random
 * bytes are all printable with probability 1e-14). */
static int decode_key(const char *what, const uint8_t *buf, size_t len,
                      int raw_ok, uint8_t key[HCR_MASTER_LEN], char *err,
                      size_t errlen)
{
  static const uint8_t zero[HCR_MASTER_LEN];
  int printable = 1;
  int rc;

  for (size_t i = 0; i < len; i++)
    if (buf[i] < 0x20 || buf[i] > 0x7e)
      printable = 0;
  if (raw_ok && len == HCR_MASTER_LEN && !printable) {
    memcpy(key, buf, HCR_MASTER_LEN);
  } else {
    rc = decode_text(what, buf, len, key, err, errlen);
    if (rc != HCR_OK)
      return rc;
  }
  if (sodium_memcmp(key, zero, HCR_MASTER_LEN) == 0) {
    sodium_memzero(key, HCR_MASTER_LEN);
    seterr(err, errlen, "%s holds an all-zero key", what);
    return HCR_EINVAL;
  }
  return HCR_OK;
}

/* Moves `key` into a new guarded, read-only master. `key` is wiped. */
static int master_make(uint8_t key[HCR_MASTER_LEN], struct hcr_master **out,
                       const char *what, char *err, size_t errlen)
{
  struct hcr_master *m = sodium_malloc(sizeof(*m));
  uint8_t h[crypto_generichash_BYTES_MIN];

  if (m == NULL) {
    sodium_memzero(key, HCR_MASTER_LEN);
    seterr(err, errlen, "%s: out of memory for the key", what);
    return HCR_ENOMEM;
  }
  memcpy(m->key, key, HCR_MASTER_LEN);
  sodium_memzero(key, HCR_MASTER_LEN);
  crypto_generichash(h, sizeof(h), (const uint8_t *)ID_CONTEXT,
                     sizeof(ID_CONTEXT) - 1, m->key, sizeof(m->key));
  m->id = hcr_get_be64(h) & INT64_MAX;
  sodium_mprotect_readonly(m);
  *out = m;
  return HCR_OK;
}

int hcr_master_load_file(const char *path, struct hcr_master **out,
                         char *err, size_t errlen)
{
  uint8_t buf[HCR_MASTER_FILE_MAX + 1];
  uint8_t key[HCR_MASTER_LEN];
  char what[64 + 256];
  char ebuf[128];
  struct stat st;
  size_t len = 0;
  ssize_t n;
  int fd, rc;

  *out = NULL;
  snprintf(what, sizeof(what), "master key file %s", path);
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    seterr(err, errlen, "cannot open %s: %s", what,
           strerror_r(errno, ebuf, sizeof(ebuf)));
    return HCR_EIO;
  }
  if (fstat(fd, &st) != 0) {
    seterr(err, errlen, "cannot stat %s: %s", what,
           strerror_r(errno, ebuf, sizeof(ebuf)));
    rc = HCR_EIO;
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    seterr(err, errlen, "%s is not a regular file", what);
    rc = HCR_EINVAL;
    goto out;
  }
  /* The check is on the file itself, before anything is read; it does not
   * look at the directories above it. */
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    seterr(err, errlen,
           "%s has mode %04o: group and others must have no access to it "
           "(chmod 600 %s)", what, (unsigned)(st.st_mode & 07777), path);
    rc = HCR_EPERM;
    goto out;
  }
  for (;;) {
    n = read(fd, buf + len, sizeof(buf) - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      seterr(err, errlen, "cannot read %s: %s", what,
             strerror_r(errno, ebuf, sizeof(ebuf)));
      rc = HCR_EIO;
      goto out;
    }
    if (n == 0)
      break;
    len += (size_t)n;
    if (len == sizeof(buf)) {
      seterr(err, errlen,
             "%s is larger than %d bytes: it is not a master key", what,
             HCR_MASTER_FILE_MAX);
      rc = HCR_EINVAL;
      goto out;
    }
  }
  rc = decode_key(what, buf, len, 1, key, err, errlen);
  if (rc == HCR_OK)
    rc = master_make(key, out, what, err, errlen);
out:
  sodium_memzero(buf, sizeof(buf));
  sodium_memzero(key, sizeof(key));
  close(fd);
  return rc;
}

int hcr_master_load_env(const char *name, struct hcr_master **out,
                        char *err, size_t errlen)
{
  uint8_t key[HCR_MASTER_LEN];
  char what[64 + 128];
  const char *value;
  size_t len;
  int rc;

  *out = NULL;
  snprintf(what, sizeof(what), "environment variable %s", name);
  value = getenv(name);
  if (value == NULL || value[0] == '\0') {
    seterr(err, errlen, "%s is not set", what);
    return HCR_ENOENT;
  }
  len = strnlen(value, HCR_MASTER_FILE_MAX + 1);
  if (len > HCR_MASTER_FILE_MAX) {
    seterr(err, errlen, "%s is longer than %d bytes: it is not a master key",
           what, HCR_MASTER_FILE_MAX);
    return HCR_EINVAL;
  }
  /* No raw form: a variable cannot carry arbitrary bytes (no NUL). */
  rc = decode_key(what, (const uint8_t *)value, len, 0, key, err, errlen);
  if (rc == HCR_OK)
    rc = master_make(key, out, what, err, errlen);
  sodium_memzero(key, sizeof(key));
  return rc;
}

void hcr_master_free(struct hcr_master *m)
{
  /* sodium_free() makes the region writable again, wipes it and unlocks it
   * before unmapping. */
  sodium_free(m);
}

uint64_t hcr_master_id(const struct hcr_master *m)
{
  return m->id;
}

void hcr_master_generate(char out[HCR_MASTER_HEX_LEN + 1])
{
  uint8_t key[HCR_MASTER_LEN];

  /* An all-zero draw has probability 2^-256; it is not worth a loop. */
  randombytes_buf(key, sizeof(key));
  sodium_bin2hex(out, HCR_MASTER_HEX_LEN + 1, key, sizeof(key));
  sodium_memzero(key, sizeof(key));
}

static void check_ad(uint8_t ad[CHECK_AD_LEN], const uint8_t id_be[8])
{
  memcpy(ad, CHECK_CONTEXT, sizeof(CHECK_CONTEXT) - 1);
  memcpy(ad + sizeof(CHECK_CONTEXT) - 1, id_be, 8);
}

int hcr_master_check_new(const struct hcr_master *m,
                         uint8_t out[HCR_MASTER_CHECK_LEN])
{
  uint8_t ad[CHECK_AD_LEN];
  uint8_t *nonce = out + 8, *tag = out + 8 + NONCE_LEN;
  uint8_t none[1] = {0};

  hcr_put_be64(out, m->id);
  randombytes_buf(nonce, NONCE_LEN);
  check_ad(ad, out);
  /* An empty message: the tag alone proves the key. */
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
      none, tag, NULL, none, 0, ad, sizeof(ad), NULL, nonce, m->key);
  return HCR_OK;
}

int hcr_master_check_verify(const struct hcr_master *m, const uint8_t *blob,
                            size_t len)
{
  uint8_t ad[CHECK_AD_LEN];
  uint8_t none[1] = {0};

  if (len != HCR_MASTER_CHECK_LEN)
    return HCR_EINVAL;
  if (hcr_get_be64(blob) != m->id)
    return HCR_EMISMATCH;
  check_ad(ad, blob);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
          none, NULL, none, 0, blob + 8 + NONCE_LEN, ad, sizeof(ad),
          blob + 8, m->key) != 0)
    return HCR_EMISMATCH;
  return HCR_OK;
}

int hcr_master_check_id(const uint8_t *blob, size_t len, uint64_t *id)
{
  if (len != HCR_MASTER_CHECK_LEN)
    return HCR_EINVAL;
  *id = hcr_get_be64(blob);
  return HCR_OK;
}
