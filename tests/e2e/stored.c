/*
 * stored.c — looking at what a test server stored (see stored.h).
 */
#include "stored.h"
#include "check.h"

#include "hcrypto.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum stored_time stored_read_time(const struct e2e_server *srv, int64_t conv,
                                  int64_t seq, int64_t reader, int64_t *ms)
{
  struct store_conn *c = NULL;
  struct store_who_read_msg msg;
  struct store_who_row *rows = NULL, *row = NULL;
  struct store_user_key key;
  struct hcr_master *m = NULL;
  struct hcr_time_ad ad;
  uint8_t dek[HCR_DEK_LEN];
  char path[400], err[300];
  enum stored_time out = STORED_TIME_NONE;
  size_t n = 0;
  int rc;

  *ms = 0;
  if (store_connect(srv->db, &c) != STORE_OK)
    CHECK_FAIL("connect: %s", store_errmsg(c));
  CHECK_INT(store_who_read(c, conv, seq, &msg, &rows, &n), ==, STORE_OK);
  for (size_t i = 0; i < n; i++)
    if (rows[i].user_id == reader)
      row = &rows[i];
  if (!row || !row->has_time)
    goto out;
  rc = store_user_key_get(c, reader, &key);
  if (rc == STORE_ENOTFOUND || (rc == STORE_OK && key.destroyed)) {
    out = STORED_TIME_NO_KEY;
    goto out;
  }
  CHECK_INT(rc, ==, STORE_OK);
  CHECK_UINT(key.key_version, ==, row->key_version);
  snprintf(path, sizeof(path), "%s/master.key", srv->dir);
  if (hcr_master_load_file(path, &m, err, sizeof(err)) != HCR_OK)
    CHECK_FAIL("master key: %s", err);
  CHECK_INT(hcr_dek_unwrap(m, reader, key.key_version, key.wrapped,
                           key.wrapped_len, dek), ==, HCR_OK);
  ad = (struct hcr_time_ad){conv, row->ad_from_seq, row->ad_to_seq, reader,
                            row->key_version};
  out = hcr_open_time(dek, &ad, row->sealed, row->sealed_len, ms) == HCR_OK
            ? STORED_TIME_OK
            : STORED_TIME_BAD;
  hcr_wipe(dek, sizeof(dek));
  hcr_master_free(m);
out:
  free(rows);
  store_close(c);
  return out;
}

static const char *pg_bindir(void)
{
  const char *d = getenv("HERALD_PG_BINDIR");

  return d && *d ? d : "/usr/lib/postgresql/15/bin";
}

static char *read_stream(FILE *f)
{
  size_t cap = 1 << 16, len = 0, got;
  char *buf = malloc(cap);

  CHECK(buf != NULL);
  while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += got;
    if (cap - len - 1 == 0) {
      cap *= 2;
      CHECK((buf = realloc(buf, cap)) != NULL);
    }
  }
  buf[len] = '\0';
  return buf;
}

char *stored_dump(const struct e2e_server *srv)
{
  char bin[512], cmd[1200];
  const char *ci = getenv("CI");
  FILE *p;
  char *text;

  snprintf(bin, sizeof(bin), "%s/pg_dump", pg_bindir());
  if (access(bin, X_OK) != 0) {
    if (ci && strcmp(ci, "true") == 0)
      CHECK_FAIL("%s is missing under CI=true (install postgresql-15 or set "
                 "HERALD_PG_BINDIR)", bin);
    CHECK_SKIP("%s is missing", bin);
  }
  /* ISO dates are what pg_dump always writes; UTC so that the digits are
   * predictable (the search covers every offset anyway). */
  snprintf(cmd, sizeof(cmd), "PGTZ=UTC '%s' --no-owner --no-privileges "
           "--dbname '%s'", bin, srv->db);
  CHECK((p = popen(cmd, "r")) != NULL);
  text = read_stream(p);
  CHECK_INT(pclose(p), ==, 0);
  CHECK_CONTAINS(text, "COPY public.read_ranges");
  return text;
}

char *stored_file(const char *path)
{
  FILE *f = fopen(path, "r");
  char *text;

  if (!f)
    CHECK_FAIL("cannot open %s", path);
  text = read_stream(f);
  fclose(f);
  return text;
}

static int hit(const char *text, const char *form, int found, char *first,
               size_t len)
{
  if (!strstr(text, form))
    return found;
  if (found == 0 && len)
    snprintf(first, len, "%s", form);
  return found + 1;
}

int stored_time_hits(const char *text, int64_t ms, char *first, size_t len)
{
  const long long sec = (long long)(ms / 1000);
  const long long nums[4] = {(long long)ms, sec, (long long)(ms - ms % 60000),
                             sec - sec % 60};
  char form[64];
  int found = 0;

  if (len)
    first[0] = '\0';
  for (size_t i = 0; i < 4; i++) {
    snprintf(form, sizeof(form), "%lld", nums[i]);
    found = hit(text, form, found, first, len);
  }
  for (long off = -12 * 3600; off <= 14 * 3600; off += 900) {
    time_t t = (time_t)(sec + off);
    struct tm tm;

    CHECK(gmtime_r(&t, &tm) != NULL);
    strftime(form, sizeof(form), "%Y-%m-%d %H:%M", &tm);
    found = hit(text, form, found, first, len);
    strftime(form, sizeof(form), "%Y-%m-%dT%H:%M", &tm);
    found = hit(text, form, found, first, len);
  }
  return found;
}
