/*
 * cursors.c — where a device is in each conversation (`last[conv]`, the
 * last seq delivered to the application) and in its feed, and the file
 * that keeps them across restarts.
 *
 * The table is open addressing on the conversation id (ids are >= 1, so 0
 * marks an empty slot), grown at 3/4 load; a connection that knows no
 * conversation allocates nothing. The file is text so that a person can
 * read it:
 *
 *     herald-cursors 1
 *     feed 12
 *     7 42
 *     9 100
 *
 * It is rewritten whole and atomically (statedir.c), on `synced` and at
 * most once a second while messages flow (conn.c decides when).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hc_int.h"

#define CURSORS_FILE "cursors"
#define CURSORS_MAGIC "herald-cursors 1"

void hc_cursors_init(struct hc_cursors *cur)
{
  memset(cur, 0, sizeof *cur);
}

void hc_cursors_cleanup(struct hc_cursors *cur)
{
  free(cur->conv);
  free(cur->last);
  memset(cur, 0, sizeof *cur);
}

static size_t slot_of(uint64_t conv, size_t cap)
{
  conv ^= conv >> 33;
  conv *= 0xff51afd7ed558ccdull;
  conv ^= conv >> 33;
  return (size_t)conv & (cap - 1);
}

uint64_t hc_cursors_get(const struct hc_cursors *cur, uint64_t conv,
                        bool *known)
{
  if (known)
    *known = false;
  if (!cur->cap || conv == 0)
    return 0;
  for (size_t i = slot_of(conv, cur->cap);; i = (i + 1) & (cur->cap - 1)) {
    if (cur->conv[i] == conv) {
      if (known)
        *known = true;
      return cur->last[i];
    }
    if (cur->conv[i] == 0)
      return 0;
  }
}

static int grow(struct hc_cursors *cur)
{
  size_t cap = cur->cap ? cur->cap * 2 : 8;
  uint64_t *conv = calloc(cap, sizeof *conv);
  uint64_t *last = calloc(cap, sizeof *last);

  if (!conv || !last) {
    free(conv);
    free(last);
    return -ENOMEM;
  }
  for (size_t i = 0; i < cur->cap; i++) {
    size_t j;

    if (!cur->conv[i])
      continue;
    for (j = slot_of(cur->conv[i], cap); conv[j]; j = (j + 1) & (cap - 1))
      ;
    conv[j] = cur->conv[i];
    last[j] = cur->last[i];
  }
  free(cur->conv);
  free(cur->last);
  cur->conv = conv;
  cur->last = last;
  cur->cap = cap;
  return 0;
}

int hc_cursors_set(struct hc_cursors *cur, uint64_t conv, uint64_t last)
{
  size_t i;

  if (conv == 0)
    return -EINVAL;
  if ((cur->n + 1) * 4 > cur->cap * 3 && grow(cur) != 0)
    return -ENOMEM;
  for (i = slot_of(conv, cur->cap); cur->conv[i] && cur->conv[i] != conv;
       i = (i + 1) & (cur->cap - 1))
    ;
  if (!cur->conv[i]) {
    cur->conv[i] = conv;
    cur->n++;
  } else if (cur->last[i] == last) {
    return 0;
  }
  cur->last[i] = last;
  cur->dirty = true;
  return 0;
}

void hc_cursors_set_feed(struct hc_cursors *cur, uint64_t feed)
{
  if (cur->feed != feed) {
    cur->feed = feed;
    cur->dirty = true;
  }
}

static int cmp_cursor(const void *a, const void *b)
{
  const struct proto_cursor *x = a, *y = b;

  return x->conv < y->conv ? -1 : x->conv > y->conv;
}

size_t hc_cursors_list(const struct hc_cursors *cur, struct proto_cursor *out,
                       size_t max)
{
  size_t k = 0;

  for (size_t i = 0; i < cur->cap; i++) {
    if (!cur->conv[i])
      continue;
    if (k < max) {
      out[k].conv = cur->conv[i];
      out[k].after = cur->last[i];
    }
    k++;
  }
  if (out && max)
    qsort(out, k < max ? k : max, sizeof *out, cmp_cursor);
  return k;
}

int hc_cursors_format(const struct hc_cursors *cur, char **out, size_t *len)
{
  size_t n = cur->n, cap = 64 + (n + 1) * 42, off;
  struct proto_cursor *list = NULL;
  char *buf;

  if (n && !(list = malloc(n * sizeof *list)))
    return -ENOMEM;
  hc_cursors_list(cur, list, n);
  if (!(buf = malloc(cap))) {
    free(list);
    return -ENOMEM;
  }
  off = (size_t)snprintf(buf, cap, CURSORS_MAGIC "\nfeed %" PRIu64 "\n",
                         cur->feed);
  for (size_t i = 0; i < n; i++)
    off += (size_t)snprintf(buf + off, cap - off, "%" PRIu64 " %" PRIu64 "\n",
                            list[i].conv, list[i].after);
  free(list);
  *out = buf;
  *len = off;
  return 0;
}

/* Parses a decimal uint64 at *p up to a separator; advances *p. */
static int parse_u64(const char **p, const char *end, uint64_t *v)
{
  const char *s = *p;
  uint64_t x = 0;

  if (s >= end || *s < '0' || *s > '9')
    return -EBADMSG;
  for (; s < end && *s >= '0' && *s <= '9'; s++) {
    if (x > (UINT64_MAX - 9) / 10)
      return -EBADMSG;
    x = x * 10 + (uint64_t)(*s - '0');
  }
  *p = s;
  *v = x;
  return 0;
}

int hc_cursors_parse(struct hc_cursors *cur, const char *text, size_t len)
{
  const char *p = text, *end = text + len;
  size_t mlen = strlen(CURSORS_MAGIC);
  uint64_t conv, last;
  int rc;

  if (len < mlen + 1 || memcmp(p, CURSORS_MAGIC "\n", mlen + 1) != 0)
    return -EBADMSG;
  p += mlen + 1;
  if ((size_t)(end - p) < 5 || memcmp(p, "feed ", 5) != 0)
    return -EBADMSG;
  p += 5;
  if (parse_u64(&p, end, &cur->feed) != 0 || p >= end || *p++ != '\n')
    return -EBADMSG;
  while (p < end) {
    if (parse_u64(&p, end, &conv) != 0 || conv == 0 || conv > PROTO_ID_MAX ||
        p >= end || *p++ != ' ' || parse_u64(&p, end, &last) != 0 ||
        last > PROTO_ID_MAX || p >= end || *p++ != '\n')
      return -EBADMSG;
    if ((rc = hc_cursors_set(cur, conv, last)) != 0)
      return rc;
  }
  cur->dirty = false;
  return 0;
}

int hc_cursors_load(struct hc_cursors *cur, struct hc_statedir *sd)
{
  /* 64 MiB is far above any real table (4096 cursors fit in 200 KiB) and
   * keeps a damaged file from eating memory. */
  size_t cap = 1 << 16;
  char *buf = NULL;
  ssize_t n;
  int rc;

  for (;;) {
    char *nb = realloc(buf, cap);

    if (!nb) {
      free(buf);
      return -ENOMEM;
    }
    buf = nb;
    n = hc_statedir_read(sd, CURSORS_FILE, buf, cap);
    if (n != -EFBIG || cap >= (64u << 20))
      break;
    cap *= 4;
  }
  if (n == -ENOENT)
    rc = 0;
  else if (n < 0)
    rc = (int)n;
  else
    rc = hc_cursors_parse(cur, buf, (size_t)n);
  free(buf);
  return rc;
}

int hc_cursors_save(struct hc_cursors *cur, struct hc_statedir *sd)
{
  char *buf;
  size_t len;
  int rc = hc_cursors_format(cur, &buf, &len);

  if (rc != 0)
    return rc;
  rc = hc_statedir_write(sd, CURSORS_FILE, buf, len);
  free(buf);
  if (rc == 0)
    cur->dirty = false;
  return rc;
}
