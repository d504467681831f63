/*
 * canonical.c — the canonical JSON encoding (CARDS.md, "Canonical JSON"),
 * the content hash a signer signs, the 62-byte sign message and the links
 * of a card's event chain.
 *
 * The encoding is chosen so that a state that went through PostgreSQL's
 * jsonb and back (keys reordered, 1.50 written as 1.5, 100.0 read back as
 * an integer) encodes to the same bytes: keys sorted by bytes, no
 * whitespace, numbers by value (integral values as integers, others with
 * at most 6 decimals, trailing zeros dropped), strings with the minimum
 * escaping JSON requires.
 */
#include "cards_int.h"

#include <hcrypto.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
  char *p;
  size_t len, cap;
  bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *p;
    while (cap < b->len + n + 1)
      cap *= 2;
    p = realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
  put(b, s, strlen(s));
}

static void put_string(struct buf *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  size_t run = 0;

  put(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[7];
    if (c >= 0x20 && c != '"' && c != '\\') {
      continue;
    }
    put(b, s + run, i - run);
    run = i + 1;
    switch (c) {
    case '"': put(b, "\\\"", 2); break;
    case '\\': put(b, "\\\\", 2); break;
    case '\b': put(b, "\\b", 2); break;
    case '\f': put(b, "\\f", 2); break;
    case '\n': put(b, "\\n", 2); break;
    case '\r': put(b, "\\r", 2); break;
    case '\t': put(b, "\\t", 2); break;
    default:
      esc[0] = '\\';
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      put(b, esc, 6);
    }
  }
  put(b, s + run, n - run);
  put(b, "\"", 1);
}

/* Numbers by value. Integral values (of either JSON kind) are written as
 * integers; other reals rounded to 6 decimals with trailing zeros dropped.
 * Reals too large for that (never in content: the schemas bound numbers
 * to 1e9) fall back to 17 significant digits. */
static void put_real(struct buf *b, double v)
{
  char s[64];

  if (!isfinite(v)) {
    puts_(b, "null");
    return;
  }
  if (fabs(v) < 9e9) {
    long long m = llround(v * 1e6);
    unsigned long long a = (unsigned long long)(m < 0 ? -m : m);
    unsigned long long ip = a / 1000000, fp = a % 1000000;
    int n = snprintf(s, sizeof(s), "%s%llu", m < 0 ? "-" : "", ip);
    if (fp) {
      int d = 6;
      while (fp % 10 == 0) {
        fp /= 10;
        d--;
      }
      snprintf(s + n, sizeof(s) - (size_t)n, ".%0*llu", d, fp);
    }
  } else if (v == floor(v) && fabs(v) < 9.2e18) {
    snprintf(s, sizeof(s), "%lld", (long long)v);
  } else {
    snprintf(s, sizeof(s), "%.17g", v);
  }
  puts_(b, s);
}

static int keycmp(const void *a, const void *b)
{
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;

  return strcmp(x, y);   /* bytes as unsigned char: C strcmp */
}

static bool skipped(const char *const *skip, const char *key)
{
  for (; skip && *skip; skip++)
    if (strcmp(*skip, key) == 0)
      return true;
  return false;
}

static void put_value(struct buf *b, const json_t *v, const char *const *skip)
{
  char s[32];

  switch (json_typeof(v)) {
  case JSON_NULL: puts_(b, "null"); break;
  case JSON_TRUE: puts_(b, "true"); break;
  case JSON_FALSE: puts_(b, "false"); break;
  case JSON_INTEGER:
    snprintf(s, sizeof(s), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    puts_(b, s);
    break;
  case JSON_REAL: put_real(b, json_real_value(v)); break;
  case JSON_STRING:
    put_string(b, json_string_value(v), json_string_length(v));
    break;
  case JSON_ARRAY:
    put(b, "[", 1);
    for (size_t i = 0; i < json_array_size(v); i++) {
      if (i)
        put(b, ",", 1);
      put_value(b, json_array_get(v, i), NULL);
    }
    put(b, "]", 1);
    break;
  case JSON_OBJECT: {
    size_t n = json_object_size(v), k = 0;
    const char **keys = malloc((n ? n : 1) * sizeof(*keys));
    const char *key;
    json_t *m;
    bool first = true;
    if (!keys) {
      b->oom = true;
      return;
    }
    json_object_foreach((json_t *)v, key, m) keys[k++] = key;
    qsort(keys, n, sizeof(*keys), keycmp);
    put(b, "{", 1);
    for (size_t i = 0; i < n; i++) {
      if (skipped(skip, keys[i]))
        continue;
      if (!first)
        put(b, ",", 1);
      first = false;
      put_string(b, keys[i], strlen(keys[i]));
      put(b, ":", 1);
      put_value(b, json_object_get(v, keys[i]), NULL);
    }
    put(b, "}", 1);
    free(keys);
    break;
  }
  }
}

char *canon_encode(const json_t *v, const char *const *skip, size_t *len)
{
  struct buf b = {0};

  put_value(&b, v, skip);
  put(&b, "", 0);
  if (b.oom || !b.p) {
    free(b.p);
    return NULL;
  }
  if (len)
    *len = b.len;
  return b.p;
}

char *card_canonical(const json_t *v)
{
  return canon_encode(v, NULL, NULL);
}

int card_content_hash(enum card_type t, const json_t *state,
                      uint8_t out[CARD_HASH_LEN])
{
  const struct card_kind *k = card_kind_of(t);
  size_t len;
  char *s;

  if (!k)
    return PROTO_E_INVALID_CARD;
  s = canon_encode(state, k->kept, &len);
  if (!s)
    return PROTO_E_NOMEM;
  hcr_sha256(s, len, out);
  free(s);
  return 0;
}

static void be64(uint8_t *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

void card_sign_message(int64_t card, int64_t ver,
                       const uint8_t hash[CARD_HASH_LEN],
                       uint8_t out[CARD_SIGN_MSG_LEN])
{
  memcpy(out, "herald.card.v1", 14);
  be64(out + 14, (uint64_t)card);
  be64(out + 22, (uint64_t)ver);
  memcpy(out + 30, hash, CARD_HASH_LEN);
}

int card_event_hash(const uint8_t *prev, int64_t card, int64_t seq,
                    const char *kind, int64_t actor_user, int64_t actor_bot,
                    int64_t at_ms, const json_t *payload,
                    uint8_t out[CARD_HASH_LEN])
{
  struct hcr_sha256 h;
  struct buf b = {0};
  char s[64];

  /* Keys in byte order: actor_bot, actor_user, at, card, kind, payload,
   * seq. */
  puts_(&b, "{\"actor_bot\":");
  snprintf(s, sizeof(s), "%lld", (long long)actor_bot);
  puts_(&b, actor_bot ? s : "null");
  puts_(&b, ",\"actor_user\":");
  snprintf(s, sizeof(s), "%lld", (long long)actor_user);
  puts_(&b, actor_user ? s : "null");
  snprintf(s, sizeof(s), ",\"at\":%lld,\"card\":%lld,\"kind\":",
           (long long)at_ms, (long long)card);
  puts_(&b, s);
  put_string(&b, kind, strlen(kind));
  puts_(&b, ",\"payload\":");
  if (payload)
    put_value(&b, payload, NULL);
  else
    puts_(&b, "null");
  snprintf(s, sizeof(s), ",\"seq\":%lld}", (long long)seq);
  puts_(&b, s);
  if (b.oom) {
    free(b.p);
    return PROTO_E_NOMEM;
  }
  hcr_sha256_init(&h);
  hcr_sha256_update(&h, "herald.event.v1", 15);
  if (prev)
    hcr_sha256_update(&h, prev, CARD_HASH_LEN);
  hcr_sha256_update(&h, b.p, b.len);
  hcr_sha256_final(&h, out);
  free(b.p);
  return 0;
}

void card_hex(const uint8_t *in, size_t n, char *out)
{
  static const char hex[] = "0123456789abcdef";

  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[in[i] >> 4];
    out[2 * i + 1] = hex[in[i] & 15];
  }
  out[2 * n] = '\0';
}
