/*
 * Unit tests for the small parts of clients/lib: URL parsing, backoff with
 * full jitter, cmids, the state directory (lock, small files) and
 * hc_strerror.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "hc_int.h"
#include "tmpdir.h"

TEST(url_parse)
{
  struct hc_url u;

  CHECK_INT(hc_url_parse("ws://127.0.0.1:8740/", &u), ==, 0);
  CHECK_STR(u.host, "127.0.0.1");
  CHECK_INT(u.port, ==, 8740);
  CHECK_STR(u.path, "/");
  CHECK(!u.tls);
  CHECK_INT(hc_url_parse("ws://chat.example.com", &u), ==, 0);
  CHECK_STR(u.host, "chat.example.com");
  CHECK_INT(u.port, ==, 80);
  CHECK_STR(u.path, "/");
  CHECK_INT(hc_url_parse("WSS://h:443/herald", &u), ==, 0);
  CHECK(u.tls);
  CHECK_STR(u.path, "/herald");
  CHECK_INT(hc_url_parse("ws://[::1]:9/", &u), ==, 0);
  CHECK_STR(u.host, "::1");
  CHECK_INT(u.port, ==, 9);

  static const char *const bad[] = {
    NULL, "", "http://h/", "ws://", "ws://:80/", "ws://h:/", "ws://h:0/",
    "ws://h:65536/", "ws://h:8x/", "ws://user@h/", "ws://h/?token=x",
    "ws://[::1/", "ws://[::1]x/",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (hc_url_parse(bad[i], &u) != -EINVAL)
      CHECK_FAIL("accepted bad url #%zu \"%s\"", i, bad[i] ? bad[i] : "(null)");
}

TEST(backoff_full_jitter)
{
  struct hc_backoff b = {.min_ms = 250, .max_ms = 30000};
  uint64_t st = 42;
  unsigned maxseen = 0;

  /* Attempt k is uniform in [0, min(max, 250 * 2^k)]. */
  for (int k = 0; k < 20; k++) {
    unsigned cap = 250u << (k < 10 ? k : 10);
    unsigned d;

    if (cap > 30000)
      cap = 30000;
    d = hc_backoff_next(&b, hc_rand64(&st));
    CHECK_UINT(d, <=, cap);
    if (d > maxseen)
      maxseen = d;
  }
  CHECK_UINT(maxseen, <=, 30000);
  /* The extremes of the random value reach the ends of the window. */
  b.attempt = 3;
  CHECK_UINT(hc_backoff_next(&b, 0), ==, 0);
  b.attempt = 3;
  CHECK_UINT(hc_backoff_next(&b, 2000), ==, 2000);   /* 250 * 8 */
  b.attempt = 60;
  CHECK_UINT(hc_backoff_next(&b, 30000), ==, 30000);
  hc_backoff_reset(&b);
  CHECK_UINT(b.attempt, ==, 0);
  /* Spread: over many draws the mean of attempt 0 is about half the cap. */
  {
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
      b.attempt = 0;
      sum += hc_backoff_next(&b, hc_rand64(&st));
    }
    CHECK(sum / 10000 > 100 && sum / 10000 < 150);
  }
}

TEST(cmid_format)
{
  static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  uint8_t zero[10] = {0}, ones[10];
  char a[HC_CMID_SIZE], b[HC_CMID_SIZE];

  memset(ones, 0xff, sizeof ones);
  hc_cmid_format(0, zero, a);
  CHECK_STR(a, "00000000000000000000000000");
  hc_cmid_format(0xffffffffffffull, ones, a);
  CHECK_STR(a, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
  /* Time first: later ids sort after earlier ones. */
  hc_cmid_format(1700000000000ull, ones, a);
  hc_cmid_format(1700000000001ull, zero, b);
  CHECK(strcmp(a, b) < 0);

  hc_cmid_new(a);
  hc_cmid_new(b);
  CHECK_UINT(strlen(a), ==, HC_CMID_LEN);
  CHECK(strcmp(a, b) != 0);
  for (size_t i = 0; i < HC_CMID_LEN; i++)
    CHECK(strchr(alphabet, a[i]) != NULL);
  CHECK_UINT(HC_CMID_LEN, <=, PROTO_CMID_MAX);
}

TEST(statedir_lock_and_files)
{
  struct hc_statedir a, b;
  char path[600], buf[16];

  snprintf(path, sizeof path, "%s/deep/er/state", test_tmpdir());
  CHECK_INT(hc_statedir_open(&a, path), ==, 0);      /* parents created */
  /* One connection at a time per directory, also within a process. */
  CHECK_INT(hc_statedir_open(&b, path), ==, -EBUSY);
  CHECK_INT(hc_statedir_write(&a, "token", "secret", 6), ==, 0);
  CHECK_INT(hc_statedir_read(&a, "token", buf, sizeof buf), ==, 6);
  CHECK_STR(buf, "secret");
  CHECK_INT(hc_statedir_read(&a, "token", buf, 4), ==, -EFBIG);
  CHECK_INT(hc_statedir_read(&a, "missing", buf, sizeof buf), ==, -ENOENT);
  CHECK_INT(hc_statedir_remove(&a, "token"), ==, 0);
  CHECK_INT(hc_statedir_remove(&a, "token"), ==, 0);
  CHECK_INT(hc_statedir_read(&a, "token", buf, sizeof buf), ==, -ENOENT);
  hc_statedir_close(&a);
  CHECK_INT(hc_statedir_open(&b, path), ==, 0);      /* released */
  hc_statedir_close(&b);

  snprintf(path, sizeof path, "%s/afile", test_tmpdir());
  {
    FILE *f = fopen(path, "w");

    CHECK(f != NULL);
    fclose(f);
  }
  CHECK_INT(hc_statedir_open(&a, path), ==, -ENOTDIR);
}

TEST(strerror_names_both_kinds)
{
  CHECK_STR(hc_strerror(0), "ok");
  CHECK_STR(hc_strerror(PROTO_E_NOT_FOUND), "not found");
  CHECK_STR(hc_strerror(3001), "not found");
  CHECK_STR(hc_strerror(-ECONNREFUSED), strerror(ECONNREFUSED));
}

TEST_MAIN()

/* wss:// takes its CA file from the config, else HERALD_CA_FILE; a file
 * that cannot be read is refused by hc_conn_new (lws would only log it and
 * fail every handshake); connections with the same file share a vhost. */
TEST(wss_ca_file)
{
  struct hc_conn_config cfg = {0};
  struct hc_ctx *ctx;
  struct hc_conn *a, *b, *c;
  char ca[600];
  FILE *f;

  snprintf(ca, sizeof ca, "%s/ca.pem", test_tmpdir());
  CHECK((f = fopen(ca, "w")) != NULL);
  fclose(f);
  unsetenv("HERALD_CA_FILE");
  CHECK_INT(hc_ctx_new(NULL, &ctx), ==, 0);
  cfg.url = "wss://localhost:1/";
  cfg.login = "ann";
  cfg.password = "pw-ann-123";
  cfg.tls.ca_file = "/nonexistent/ca.pem";
  CHECK_INT(hc_conn_new(ctx, &cfg, &a), ==, -ENOENT);
  cfg.tls.ca_file = NULL;
  setenv("HERALD_CA_FILE", "/nonexistent/ca.pem", 1);
  CHECK_INT(hc_conn_new(ctx, &cfg, &a), ==, -ENOENT);
  setenv("HERALD_CA_FILE", ca, 1);
  CHECK_INT(hc_conn_new(ctx, &cfg, &a), ==, 0);
  unsetenv("HERALD_CA_FILE");
  cfg.tls.ca_file = ca;
  CHECK_INT(hc_conn_new(ctx, &cfg, &b), ==, 0);
  CHECK(a->tls && b->tls);
  CHECK(a->tls_vhost != NULL);
  CHECK(a->tls_vhost == b->tls_vhost);
  /* The system's CAs: the default vhost. */
  cfg.tls.ca_file = NULL;
  CHECK_INT(hc_conn_new(ctx, &cfg, &c), ==, 0);
  CHECK(c->tls && c->tls_vhost == NULL);
  hc_conn_free(a);
  hc_conn_free(b);
  hc_conn_free(c);
  hc_ctx_free(ctx);
}
