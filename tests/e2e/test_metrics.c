/*
 * test_metrics.c — observability end to end: GET /readyz follows the
 * database and the schema, GET /metrics is strict Prometheus text whose
 * counters move with traffic, and the log scanner of e2e.c catches a
 * planted secret.
 */
#include "check.h"
#include "e2e.h"
#include "httpc.h"
#include "peer.h"
#include "pgtest.h"
#include "rawws.h"

#include "proto.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* A strict parser of the text exposition format 0.0.4. */

#define MAX_SAMPLES 2048

struct sample {
  char key[256];       /* name{labels} exactly as written */
  double v;
};

struct scrape {
  struct sample s[MAX_SAMPLES];
  size_t n;
};

static bool name_ok(const char *p, size_t n, bool metric)
{
  if (n == 0 || !(isalpha((unsigned char)p[0]) || p[0] == '_' ||
                  (metric && p[0] == ':')))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)p[i]) || p[i] == '_' ||
          (metric && p[i] == ':')))
      return false;
  return true;
}

static double value_of(const char *p, const char *what)
{
  char *end;
  double v;

  if (strcmp(p, "+Inf") == 0)
    return INFINITY;
  if (strcmp(p, "-Inf") == 0)
    return -INFINITY;
  if (strcmp(p, "NaN") == 0)
    return NAN;
  v = strtod(p, &end);
  if (end == p || *end)
    CHECK_FAIL("metrics: bad value '%s' in: %s", p, what);
  return v;
}

/* The family a sample belongs to: its name without a histogram suffix
 * when `types` says the base is a histogram. */
struct family {
  char name[128];
  char type[16];
  bool help, seen_sample, closed;
};

static struct family *family_of(struct family *f, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(f[i].name, name) == 0)
      return &f[i];
  return NULL;
}

/* Parses `text` into `out`, failing the test on any deviation from the
 * format: unknown line shapes, bad names or label syntax, a TYPE after its
 * samples or twice, a family split in two, a counter without _total,
 * histogram buckets that are not cumulative or whose +Inf is not _count. */
static void parse(const char *text, struct scrape *out)
{
  static struct family fam[256];
  size_t nfam = 0;
  struct family *cur = NULL;
  const char *p = text;

  out->n = 0;
  CHECK(*text);
  CHECK(text[strlen(text) - 1] == '\n');
  while (*p) {
    const char *nl = strchr(p, '\n');
    char line[512];
    size_t len = (size_t)(nl - p);

    CHECK(nl != NULL);
    CHECK(len < sizeof(line));
    memcpy(line, p, len);
    line[len] = 0;
    p = nl + 1;
    if (len == 0)
      continue;
    if (line[0] == '#') {
      char kw[8], name[128], rest[300];
      int k = sscanf(line, "# %7s %127s %299[^\n]", kw, name, rest);
      struct family *f;

      if (k < 2 || (strcmp(kw, "HELP") && strcmp(kw, "TYPE")))
        continue;              /* a plain comment */
      CHECK(name_ok(name, strlen(name), true));
      if (!(f = family_of(fam, nfam, name))) {
        CHECK(nfam < 256);
        f = &fam[nfam++];
        memset(f, 0, sizeof(*f));
        snprintf(f->name, sizeof(f->name), "%s", name);
      }
      if (strcmp(kw, "HELP") == 0) {
        if (f->help)
          CHECK_FAIL("metrics: HELP twice for %s", name);
        f->help = true;
      } else {
        CHECK(k == 3);
        if (f->type[0] || f->seen_sample)
          CHECK_FAIL("metrics: TYPE of %s twice or after its samples", name);
        if (strcmp(rest, "counter") && strcmp(rest, "gauge") &&
            strcmp(rest, "histogram") && strcmp(rest, "summary") &&
            strcmp(rest, "untyped"))
          CHECK_FAIL("metrics: unknown type '%s'", rest);
        snprintf(f->type, sizeof(f->type), "%.15s", rest);
        if (strcmp(rest, "counter") == 0 &&
            (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total")))
          CHECK_FAIL("metrics: counter %s does not end in _total", name);
      }
      continue;
    }
    /* A sample: name, optional {labels}, a space, a value. */
    size_t nl_ = strcspn(line, "{ ");
    char name[128], base[128];
    const char *q = line + nl_;
    struct family *f;

    CHECK(nl_ < sizeof(name));
    memcpy(name, line, nl_);
    name[nl_] = 0;
    if (!name_ok(name, nl_, true))
      CHECK_FAIL("metrics: bad metric name in: %s", line);
    if (*q == '{') {
      q++;
      while (*q != '}') {
        size_t ln = strcspn(q, "=");
        if (!name_ok(q, ln, false) || q[ln] != '=' || q[ln + 1] != '"')
          CHECK_FAIL("metrics: bad label in: %s", line);
        q += ln + 2;
        while (*q && *q != '"') {
          if (*q == '\\') {
            if (q[1] != '\\' && q[1] != '"' && q[1] != 'n')
              CHECK_FAIL("metrics: bad escape in: %s", line);
            q++;
          }
          q++;
        }
        if (*q != '"')
          CHECK_FAIL("metrics: unterminated label value in: %s", line);
        q++;
        if (*q == ',')
          q++;
        else if (*q != '}')
          CHECK_FAIL("metrics: bad label list in: %s", line);
      }
      q++;
    }
    if (*q != ' ')
      CHECK_FAIL("metrics: no value in: %s", line);
    CHECK(out->n < MAX_SAMPLES);
    snprintf(out->s[out->n].key, sizeof(out->s[out->n].key), "%.*s",
             (int)(q - line), line);
    q++;
    {
      char val[64];
      size_t vl = strcspn(q, " ");
      CHECK(vl < sizeof(val));
      memcpy(val, q, vl);
      val[vl] = 0;
      out->s[out->n].v = value_of(val, line);
      if (q[vl])   /* an optional timestamp: an integer */
        for (const char *t = q + vl + 1; *t; t++)
          if (!isdigit((unsigned char)*t) && !(t == q + vl + 1 && *t == '-'))
            CHECK_FAIL("metrics: bad timestamp in: %s", line);
    }
    out->n++;
    /* Its family: a histogram's _bucket/_sum/_count belong to the base. */
    snprintf(base, sizeof(base), "%s", name);
    f = family_of(fam, nfam, base);
    if (!f) {
      static const char *const sfx[] = {"_bucket", "_sum", "_count"};
      for (int i = 0; i < 3 && !f; i++) {
        size_t bl = strlen(name), sl = strlen(sfx[i]);
        if (bl > sl && strcmp(name + bl - sl, sfx[i]) == 0) {
          snprintf(base, sizeof(base), "%.*s", (int)(bl - sl), name);
          f = family_of(fam, nfam, base);
          if (f && strcmp(f->type, "histogram") && strcmp(f->type, "summary"))
            f = NULL;
        }
      }
    }
    if (!f || !f->type[0])
      CHECK_FAIL("metrics: sample without a TYPE: %s", line);
    if (f->closed)
      CHECK_FAIL("metrics: family %s is split in two", f->name);
    if (cur && cur != f)
      cur->closed = true;
    cur = f;
    f->seen_sample = true;
  }
  /* Histograms: cumulative buckets ending in +Inf == _count. */
  for (size_t i = 0; i < nfam; i++) {
    char key[200];
    double prev = 0, inf = -1, count = -1;

    if (strcmp(fam[i].type, "histogram"))
      continue;
    for (size_t j = 0; j < out->n; j++) {
      size_t bl = strlen(fam[i].name);
      if (strncmp(out->s[j].key, fam[i].name, bl) ||
          strncmp(out->s[j].key + bl, "_bucket{le=\"", 12))
        continue;
      if (out->s[j].v < prev)
        CHECK_FAIL("metrics: %s buckets are not cumulative", fam[i].name);
      prev = out->s[j].v;
      if (strstr(out->s[j].key, "le=\"+Inf\""))
        inf = out->s[j].v;
    }
    snprintf(key, sizeof(key), "%s_count", fam[i].name);
    for (size_t j = 0; j < out->n; j++)
      if (strcmp(out->s[j].key, key) == 0)
        count = out->s[j].v;
    if (inf < 0 || inf != count)
      CHECK_FAIL("metrics: %s has no +Inf bucket equal to its _count",
                 fam[i].name);
  }
}

static double get(const struct scrape *m, const char *key)
{
  for (size_t i = 0; i < m->n; i++)
    if (strcmp(m->s[i].key, key) == 0)
      return m->s[i].v;
  CHECK_FAIL("metrics: no sample %s", key);
}

static void scrape(int port, struct scrape *out)
{
  struct httpc_resp r;
  char ctype[128];

  CHECK_INT(httpc_request(port, "GET", "/metrics", NULL, 10000, &r), ==, 0);
  CHECK_INT(r.status, ==, 200);
  CHECK(httpc_header(&r, "Content-Type", ctype, sizeof(ctype)));
  CHECK_CONTAINS(ctype, "text/plain; version=0.0.4");
  parse(r.body, out);
  httpc_resp_free(&r);
}

/* The parser refuses what it must: a test of the test. */
TEST(metrics_parser_is_strict)
{
  static struct scrape m;

  parse("# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\"} 3\n", &m);
  CHECK(get(&m, "a_total{k=\"v\"}") == 3);
  /* Each of these must fail: run them in children. */
  static const char *const bad[] = {
    "a_total 1\n",                                      /* no TYPE */
    "# TYPE a counter\na 1\n",                          /* no _total */
    "# TYPE a_total counter\na_total{k=v} 1\n",         /* unquoted */
    "# TYPE a_total counter\na_total one\n",            /* not a number */
    ("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
     "h_sum 1\nh_count 1\n"),                           /* not cumulative */
    "# TYPE g gauge\ng 1\n# TYPE f gauge\nf 1\ng 2\n",   /* split family */
    "# TYPE g gauge\ng 1",                              /* no final newline */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pid_t pid = fork();
    int st = 0;

    CHECK(pid >= 0);
    if (pid == 0) {
      freopen("/dev/null", "w", stderr);
      parse(bad[i], &m);
      _exit(0);
    }
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 0)
      CHECK_FAIL("the parser accepted bad input %zu: %s", i, bad[i]);
  }
}

/* ------------------------------------------------------------------------ */

TEST(metrics_parse_and_move_with_traffic)
{
  static struct scrape m0, m1;
  static const uint8_t garbage[] = {0xc1, 0x00, 0x01};
  struct e2e_server srv;
  int64_t alice, bob, group;
  struct peer *pa, *pb;
  struct rawws *r;
  struct proto_frame f;
  struct httpc_resp h;

  e2e_server_init(&srv);
  alice = e2e_org(&srv, "alice");
  bob = e2e_user(&srv, "bob");
  group = e2e_group(&srv, "Ops", alice, &bob, 1);
  e2e_server_start(&srv, NULL);

  scrape(srv.port, &m0);
  CHECK(get(&m0, "herald_frames_in_total{type=\"send\"}") == 0);
  CHECK(get(&m0, "herald_errors_total{code=\"MALFORMED\",via=\"ws\"}") == 0);

  pa = peer_new(srv.url, "alice", NULL, true);
  pb = peer_new(srv.url, "bob", NULL, true);
  peer_say(pa, (uint64_t)group, "metrics-body-first");
  peer_say(pa, (uint64_t)group, "metrics-body-second");

  r = rawws_connect(srv.port);
  CHECK(r != NULL);
  rawws_send(r, garbage, sizeof(garbage), false);
  CHECK_INT(rawws_wait_frame(r, PROTO_T_ERROR, 5000, &f), ==, 0);
  proto_frame_cleanup(&f);
  rawws_free(r);
  CHECK_INT(httpc_request(srv.port, "GET", "/no/such/path", NULL, 5000, &h),
            ==, 0);
  CHECK_INT(h.status, ==, 404);
  httpc_resp_free(&h);

  scrape(srv.port, &m1);
  CHECK(get(&m1, "herald_frames_in_total{type=\"send\"}") == 2);
  CHECK(get(&m1, "herald_frames_in_total{type=\"login\"}") >= 2);
  CHECK(get(&m1, "herald_frames_out_total{type=\"ack\"}") >= 2);
  CHECK(get(&m1, "herald_frames_out_total{type=\"welcome\"}") >= 2);
  CHECK(get(&m1, "herald_frames_out_total{type=\"msg\"}") >= 2);
  CHECK(get(&m1, "herald_errors_total{code=\"MALFORMED\",via=\"ws\"}") == 1);
  CHECK(get(&m1, "herald_errors_total{code=\"NOT_FOUND\",via=\"http\"}") == 1);
  CHECK(get(&m1, "herald_connections_accepted_total") >= 3);
  CHECK(get(&m1, "herald_connections{kind=\"user\"}") == 2);
  CHECK(get(&m1, "herald_connections{kind=\"bot\"}") == 0);
  CHECK(get(&m1, "herald_commit_batch_size_count") >= 1);
  CHECK(get(&m1, "herald_commit_batch_size_sum") >= 2);
  CHECK(get(&m1, "herald_commit_seconds_count") ==
        get(&m1, "herald_commit_batch_size_count"));
  CHECK(get(&m1, "herald_replay_pages_total") >= 0);
  CHECK(get(&m1, "herald_db_jobs_queued{pool=\"writer\"}") >= 0);

  peer_free(pa);
  peer_free(pb);
  e2e_server_stop(&srv);
}

/* ------------------------------------------------------------------------ */

static int readyz(int port, char *body, size_t n)
{
  struct httpc_resp r;
  int status;

  CHECK_INT(httpc_request(port, "GET", "/readyz", NULL, 10000, &r), ==, 0);
  status = r.status;
  snprintf(body, n, "%s", r.body);
  httpc_resp_free(&r);
  return status;
}

/* Polls /readyz until it answers `status` (the cache lasts a second, a
 * lost connection comes back with backoff). */
static void wait_ready(int port, int status, const char *want, char *body,
                       size_t n)
{
  uint64_t end = e2e_now_ms() + 30000;

  while (readyz(port, body, n) != status || !strstr(body, want)) {
    if (e2e_now_ms() > end)
      CHECK_FAIL("/readyz did not answer %d with %s; last: %s", status, want,
                 body);
    usleep(200 * 1000);
  }
}

TEST(readyz_follows_database_and_migrations)
{
  struct e2e_server srv;
  char body[1024], dbname[128], sql[512];
  const char *admin = getenv("HERALD_TEST_PG");

  e2e_server_init(&srv);
  e2e_org(&srv, "alice");
  e2e_server_start(&srv, NULL);

  CHECK_INT(readyz(srv.port, body, sizeof(body)), ==, 200);
  CHECK_CONTAINS(body, "\"ready\":true");
  CHECK_CONTAINS(body, "\"migrations\":\"current\"");

  /* A schema this binary does not match: migrations not current. */
  pgtest_exec(srv.db, "ALTER TABLE schema_migrations RENAME TO sm_hidden");
  wait_ready(srv.port, 503, "\"migrations\":\"pending\"", body, sizeof(body));
  CHECK_CONTAINS(body, "\"ready\":false");
  CHECK_CONTAINS(body, "\"database\":\"ok\"");
  pgtest_exec(srv.db, "ALTER TABLE sm_hidden RENAME TO schema_migrations");
  wait_ready(srv.port, 200, "\"ready\":true", body, sizeof(body));

  /* The database refuses connections and drops the server's. */
  CHECK(admin != NULL);
  pgtest_query_text(srv.db, "SELECT current_database()", dbname,
                    sizeof(dbname));
  snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS false",
           dbname);
  pgtest_exec(admin, sql);
  snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM "
           "pg_stat_activity WHERE datname = '%s'", dbname);
  pgtest_exec(admin, sql);
  wait_ready(srv.port, 503, "\"database\":\"unreachable\"", body,
             sizeof(body));
  /* Probes are answered from the cache: a burst costs no queries. */
  for (int i = 0; i < 50; i++)
    CHECK_INT(readyz(srv.port, body, sizeof(body)), ==, 503);

  snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS true",
           dbname);
  pgtest_exec(admin, sql);
  wait_ready(srv.port, 200, "\"ready\":true", body, sizeof(body));
  e2e_server_stop(&srv);
}

/* ------------------------------------------------------------------------ */

/* The log scanner finds a planted secret, and nothing in a clean log. */
TEST(log_scanner_catches_a_planted_secret)
{
  char path[256], line[256];
  FILE *f;

  snprintf(path, sizeof(path), "%s/herald-scan-%d.log",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  e2e_secret("s3cret-planted-token");
  e2e_secret("tiny");     /* too short to register: never a hit */
  CHECK((f = fopen(path, "w")) != NULL);
  fprintf(f, "2026-01-01T00:00:00.000Z INFO  auth: #1 from 127.0.0.1: "
          "login tiny failed\n");
  fclose(f);
  CHECK_INT(e2e_log_leak(path, line, sizeof(line)), ==, 0);
  CHECK((f = fopen(path, "a")) != NULL);
  fprintf(f, "2026-01-01T00:00:01.000Z DEBUG http: token "
          "s3cret-planted-token\n");
  fclose(f);
  CHECK_INT(e2e_log_leak(path, line, sizeof(line)), ==, 1);
  CHECK_CONTAINS(line, "DEBUG http");
  unlink(path);
}

TEST_MAIN()
