/*
 * test_http.c — GET /api/v1/reports/unread end to end: the real heraldd,
 * real tokens from login, a raw HTTP/1.1 client (httpc.h).
 *
 * The org: ada (admin); mei (manager) with alex in her team, department
 * Ops; max (manager) with zoe in his team, department Sales; bo (staff);
 * a bot. ada posts to the group "Ops" (mei, alex, bo) and to "Sales" (max,
 * zoe); the messages are backdated three hours, and Ops gets 200 more so
 * that a report is larger than one write.
 */
#include "check.h"
#include "e2e.h"
#include "httpc.h"
#include "peer.h"
#include "pgtest.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define PATH "/api/v1/reports/unread"
#define EXTRA_OPS 200   /* more unread messages in Ops */

static struct e2e_server srv;
static int64_t ada, mei, alex, max_, zoe, bo, ops, sales;
static char t_ada[64], t_mei[64], t_max[64], t_bo[64], t_bot[44];

/* A user's session token, as login gives it over the WebSocket. */
static void token_of(const char *login, char *out)
{
  struct peer *p = peer_new(srv.url, login, NULL, true);

  snprintf(out, 64, "%s", hc_conn_token(p->c));
  CHECK_UINT(strlen(out), ==, 43);
  peer_free(p);
}

static void post(struct peer *p, int64_t conv, const char *cmid)
{
  struct proto_frame f, ack;

  proto_frame_init(&f, PROTO_T_SEND);
  f.u.send.cmid = (struct proto_str){cmid, strlen(cmid)};
  f.u.send.conv = (uint64_t)conv;
  f.u.send.kind = PROTO_KIND_TEXT;
  f.u.send.body = (struct proto_str){"status?", 7};
  f.u.send.tracked = true;
  CHECK_INT(peer_request(p, &f, &ack), ==, 0);
  proto_frame_cleanup(&ack);
}

static void setup(void)
{
  char sql[2048];
  int64_t ids[3];
  struct peer *pa;

  e2e_server_init(&srv);
  ada = e2e_org(&srv, "ada");
  mei = e2e_user(&srv, "mei");
  alex = e2e_user(&srv, "alex");
  max_ = e2e_user(&srv, "max");
  zoe = e2e_user(&srv, "zoe");
  bo = e2e_user(&srv, "bo");
  snprintf(sql, sizeof(sql),
           "INSERT INTO departments (name) VALUES ('Ops'), ('Sales');"
           "UPDATE users SET role = 'manager' WHERE id IN (%lld, %lld);"
           "UPDATE users SET manager_id = %lld, department_id = (SELECT id "
           "FROM departments WHERE name = 'Ops') WHERE id = %lld;"
           "UPDATE users SET manager_id = %lld, department_id = (SELECT id "
           "FROM departments WHERE name = 'Sales'), display_name = "
           "'Zoe \"Z\", Sales' WHERE id = %lld",
           (long long)mei, (long long)max_, (long long)mei, (long long)alex,
           (long long)max_, (long long)zoe);
  pgtest_exec(srv.db, sql);
  ids[0] = mei, ids[1] = alex, ids[2] = bo;
  ops = e2e_group(&srv, "Ops", ada, ids, 3);
  ids[0] = max_, ids[1] = zoe;
  sales = e2e_group(&srv, "Sales", ada, ids, 2);
  e2e_bot(&srv, "ci-bot", ada, &ops, 1, t_bot);
  e2e_server_start(&srv, NULL);

  pa = peer_new(srv.url, "ada", NULL, true);
  post(pa, ops, "ops-1");
  post(pa, sales, "sales-1");
  peer_free(pa);
  snprintf(sql, sizeof(sql),
           "UPDATE messages SET sent_at = now() - interval '3 hours';"
           "INSERT INTO messages (conversation_id, seq, sender_user_id, "
           "client_msg_id, kind, body, tracked, sent_at) SELECT %lld, 1 + g, "
           "%lld, 'bulk-' || g, 'text', 'more', true, now() - interval "
           "'3 hours' FROM generate_series(1, %d) g;"
           "UPDATE conversations SET last_seq = %d WHERE id = %lld",
           (long long)ops, (long long)ada, EXTRA_OPS, 1 + EXTRA_OPS,
           (long long)ops);
  pgtest_exec(srv.db, sql);
  token_of("ada", t_ada);
  token_of("mei", t_mei);
  token_of("max", t_max);
  token_of("bo", t_bo);
}

/* GET with `token` (NULL: no Authorization header) and the query `q`. */
static void get(const char *token, const char *q, struct httpc_resp *r)
{
  char target[512], auth[128];
  const char *headers[] = {auth, NULL};

  snprintf(target, sizeof(target), PATH "%s%s", q ? "?" : "", q ? q : "");
  snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
  CHECK_INT(httpc_request(srv.port, "GET", target, token ? headers : NULL,
                          30000, r), ==, 0);
}

static long long audits(void)
{
  return e2e_query_int(&srv, "SELECT count(*) FROM audit_log WHERE action "
                             "= 'report.unread'");
}

/* Checks an error reply: status, JSON body with code (and field). */
static void check_error(struct httpc_resp *r, int status, const char *code,
                        const char *field)
{
  char ct[128];
  json_error_t jerr;
  json_t *j, *e;

  CHECK_INT(r->status, ==, status);
  CHECK(httpc_header(r, "Content-Type", ct, sizeof(ct)));
  CHECK_STR(ct, "application/json; charset=utf-8");
  j = json_loadb(r->body, r->len, 0, &jerr);
  if (!j)
    CHECK_FAIL("not JSON (%s): %s", jerr.text, r->body);
  e = json_object_get(j, "error");
  CHECK_STR(json_string_value(json_object_get(e, "code")), code);
  CHECK(json_string_value(json_object_get(e, "message")) != NULL);
  if (field)
    CHECK_STR(json_string_value(json_object_get(e, "field")), field);
  json_decref(j);
  httpc_resp_free(r);
}

static json_t *load_json(struct httpc_resp *r)
{
  json_error_t jerr;
  json_t *j;
  char v[128];

  CHECK_INT(r->status, ==, 200);
  CHECK(httpc_header(r, "Content-Type", v, sizeof(v)));
  CHECK_STR(v, "application/json; charset=utf-8");
  CHECK(httpc_header(r, "Cache-Control", v, sizeof(v)));
  CHECK_STR(v, "no-store");
  if (!(j = json_loadb(r->body, r->len, 0, &jerr)))
    CHECK_FAIL("not JSON (%s): %.200s", jerr.text, r->body);
  return j;
}

/* Rows of `j` for recipient `uid`. */
static size_t rows_for(json_t *j, int64_t uid)
{
  json_t *rows = json_object_get(j, "rows"), *row;
  size_t i, n = 0;

  json_array_foreach(rows, i, row)
    n += json_integer_value(json_object_get(row, "recipient")) == uid;
  return n;
}

/* The "unread" total of user `uid` in the users array. */
static json_int_t total_for(json_t *j, int64_t uid)
{
  json_t *users = json_object_get(j, "users"), *u;
  size_t i;

  json_array_foreach(users, i, u)
    if (json_integer_value(json_object_get(u, "user")) == uid)
      return json_integer_value(json_object_get(u, "unread"));
  return -1;
}

/* `heraldctl report unread` as `login` in `format`: its standard output
 * (malloc'd). */
static char *heraldctl_report(const char *login, const char *format)
{
  char cmd[1024], pwfile[] = "/tmp/herald-e2e-pw-XXXXXX", pw[80];
  size_t n = 0, cap = 1 << 20;
  char *out = malloc(cap);
  int fd = mkstemp(pwfile);
  FILE *p;

  CHECK(fd >= 0 && out);
  snprintf(pw, sizeof(pw), "pw-%s\n", login);
  CHECK_INT(write(fd, pw, strlen(pw)), ==, (long long)strlen(pw));
  close(fd);
  snprintf(cmd, sizeof(cmd), "'%s' report unread --server %s --login %s "
           "--password-file %s --format %s", getenv("HERALDCTL"), srv.url,
           login, pwfile, format);
  CHECK((p = popen(cmd, "r")) != NULL);
  n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  CHECK_INT(pclose(p), ==, 0);
  unlink(pwfile);
  return out;
}

/* Blanks the unread_s column of CSV text in place (the third field from
 * the end, never quoted): it grows between two runs. */
static void blank_unread(char *csv)
{
  for (char *line = csv; *line;) {
    char *end = strchr(line, '\n'), *c[3] = {0};
    int k = 0;

    if (!end)
      break;
    for (char *q = end; q > line && k < 3; q--)
      if (q[-1] == ',')
        c[k++] = q - 1;
    if (k == 3 && strncmp(line, "recipient,", 10) != 0)
      memset(c[2] + 1, 'x', (size_t)(c[1] - c[2] - 1));
    line = end + 1;
  }
}

TEST(report_json_csv_and_scopes)
{
  struct httpc_resp r;
  long long a0;
  json_t *j;
  char v[64];

  setup();

  /* The manager: her team (alex) only, JSON by default, audited. */
  a0 = audits();
  get(t_mei, "older_than=2h", &r);
  j = load_json(&r);
  CHECK_UINT(rows_for(j, alex), ==, 1 + EXTRA_OPS);
  CHECK_UINT(rows_for(j, zoe), ==, 0);
  CHECK_UINT(rows_for(j, bo), ==, 0);
  CHECK_INT(total_for(j, alex), ==, 1 + EXTRA_OPS);
  CHECK_INT(json_integer_value(json_object_get(j, "older_than_s")), ==, 7200);
  CHECK(json_is_false(json_object_get(j, "truncated")));
  {
    json_t *row = json_array_get(json_object_get(j, "rows"), 0);
    CHECK_STR(json_string_value(json_object_get(row, "name")), "alex");
    CHECK_INT(json_integer_value(json_object_get(row, "sender")), ==, ada);
    CHECK(json_integer_value(json_object_get(row, "unread_s")) >=
          3 * 3600 - 120);
  }
  CHECK(r.len > 4096 * 4);        /* written in several chunks */
  json_decref(j);
  httpc_resp_free(&r);
  CHECK_INT(audits(), ==, a0 + 1);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM audit_log WHERE "
                                "action = 'report.unread' AND detail->>"
                                "'outcome' = 'ok' AND actor = 'mei'"), ==, 1);

  /* The other manager: his team, not hers. */
  get(t_max, NULL, &r);
  j = load_json(&r);
  CHECK_UINT(rows_for(j, zoe), ==, 1);
  CHECK_UINT(rows_for(j, alex), ==, 0);
  CHECK_UINT(json_array_size(json_object_get(j, "departments")), ==, 1);
  json_decref(j);
  httpc_resp_free(&r);

  /* The admin: everyone but the sender, with totals per department. */
  get(t_ada, "older_than=7200", &r);
  j = load_json(&r);
  CHECK_UINT(json_array_size(json_object_get(j, "rows")), ==,
             3 * (1 + EXTRA_OPS) + 2);
  CHECK_UINT(rows_for(j, ada), ==, 0);
  CHECK_INT(total_for(j, bo), ==, 1 + EXTRA_OPS);
  CHECK_INT(total_for(j, zoe), ==, 1);
  CHECK_INT(total_for(j, max_), ==, 1);
  json_decref(j);
  httpc_resp_free(&r);

  /* A limit cuts the rows (not the totals) and says so. */
  get(t_ada, "limit=10&scope=org", &r);
  j = load_json(&r);
  CHECK_UINT(json_array_size(json_object_get(j, "rows")), ==, 10);
  CHECK(json_is_true(json_object_get(j, "truncated")));
  CHECK_INT(total_for(j, bo), ==, 1 + EXTRA_OPS);
  CHECK(httpc_header(&r, "X-Report-Truncated", v, sizeof(v)));
  CHECK_STR(v, "true");
  json_decref(j);
  httpc_resp_free(&r);

  /* CSV: the header, one line per row, names quoted where needed. */
  get(t_max, "format=csv&older_than=90m", &r);
  CHECK_INT(r.status, ==, 200);
  CHECK(httpc_header(&r, "Content-Type", v, sizeof(v)));
  CHECK_STR(v, "text/csv; charset=utf-8");
  CHECK(strncmp(r.body, "recipient,conv,seq,sender,sent_at,unread_s,ding,"
                        "acked\n", 50) == 0);
  CHECK_CONTAINS(r.body, "\n\"Zoe \"\"Z\"\", Sales\",");
  CHECK_CONTAINS(r.body, ",no,no\n");
  CHECK(strstr(r.body, "alex") == NULL);
  {
    size_t lines = 0;
    for (size_t i = 0; i < r.len; i++)
      lines += r.body[i] == '\n';
    CHECK_UINT(lines, ==, 1 + 1);    /* header + zoe's row */
  }
  /* heraldctl prints the same CSV, byte for byte but for the seconds that
   * passed between the two runs. */
  {
    char *ctl = heraldctl_report("max", "csv");

    blank_unread(ctl);
    blank_unread(r.body);
    CHECK_STR(ctl, r.body);
    free(ctl);
  }
  httpc_resp_free(&r);

  /* Filters of the frame: one conversation. */
  {
    char q[64];
    snprintf(q, sizeof(q), "conv=%lld", (long long)sales);
    get(t_ada, q, &r);
    j = load_json(&r);
    CHECK_UINT(json_array_size(json_object_get(j, "rows")), ==, 2);
    json_decref(j);
    httpc_resp_free(&r);
  }
  e2e_server_stop(&srv);
}

TEST(authorization_matrix)
{
  struct httpc_resp r;
  char v[128], revoked[64];
  long long a0;

  setup();
  a0 = audits();

  /* No token, a malformed one, a well-formed unknown one. */
  get(NULL, NULL, &r);
  CHECK(httpc_header(&r, "WWW-Authenticate", v, sizeof(v)));
  CHECK_CONTAINS(v, "Bearer");
  check_error(&r, 401, "UNAUTHENTICATED", NULL);
  get("garbage", NULL, &r);
  CHECK(httpc_header(&r, "WWW-Authenticate", v, sizeof(v)));
  CHECK_CONTAINS(v, "invalid_token");
  check_error(&r, 401, "BAD_CREDENTIALS", NULL);
  get("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, &r);
  CHECK(httpc_header(&r, "WWW-Authenticate", v, sizeof(v)));
  check_error(&r, 401, "BAD_CREDENTIALS", NULL);
  {
    /* Not Bearer. */
    const char *h[] = {"Authorization: Basic YWRhOnB3LWFkYQ==", NULL};
    CHECK_INT(httpc_request(srv.port, "GET", PATH, h, 30000, &r), ==, 0);
    check_error(&r, 401, "BAD_CREDENTIALS", NULL);
  }

  /* A token that logged out. */
  {
    struct peer *p = peer_new(srv.url, "mei", NULL, true);
    struct proto_frame f;

    snprintf(revoked, sizeof(revoked), "%s", hc_conn_token(p->c));
    get(revoked, NULL, &r);
    CHECK_INT(r.status, ==, 200);
    httpc_resp_free(&r);
    proto_frame_init(&f, PROTO_T_LOGOUT);
    CHECK_INT(peer_request(p, &f, NULL), ==, 0);
    peer_free(p);
    get(revoked, NULL, &r);
    check_error(&r, 401, "TOKEN_EXPIRED", NULL);
  }
  CHECK_INT(audits(), ==, a0 + 1);    /* only the run that got through */

  /* Staff: refused, and the refusal is audited. */
  get(t_bo, NULL, &r);
  check_error(&r, 403, "FORBIDDEN", NULL);
  CHECK_INT(audits(), ==, a0 + 2);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM audit_log WHERE "
                                "actor = 'bo' AND detail->>'outcome' = "
                                "'refused'"), ==, 1);
  /* A bot token is never a user: refused by storage and audited. */
  get(t_bot, NULL, &r);
  check_error(&r, 403, "FORBIDDEN", NULL);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM audit_log WHERE "
                                "actor = 'bot:ci-bot' AND "
                                "detail->>'outcome' = 'refused'"), ==, 1);
  /* A manager may not see the whole organisation. */
  get(t_mei, "scope=org", &r);
  check_error(&r, 403, "FORBIDDEN", NULL);
  CHECK_INT(audits(), ==, a0 + 4);
  /* An unknown conversation. */
  get(t_ada, "conv=999999", &r);
  check_error(&r, 404, "NOT_FOUND", NULL);

  /* An expired session. */
  {
    char sql[128];
    snprintf(sql, sizeof(sql), "UPDATE sessions SET created_at = now() - "
             "interval '2 days', expires_at = now() - interval '1 minute' "
             "WHERE user_id = %lld", (long long)max_);
    pgtest_exec(srv.db, sql);
    get(t_max, NULL, &r);
    check_error(&r, 401, "TOKEN_EXPIRED", NULL);
  }

  /* Tokens never reach the log. */
  CHECK_INT(e2e_log_count(&srv, t_ada), ==, 0);
  CHECK_INT(e2e_log_count(&srv, t_bo), ==, 0);
  CHECK_INT(e2e_log_count(&srv, t_bot), ==, 0);
  CHECK_INT(e2e_log_count(&srv, revoked), ==, 0);
  e2e_server_stop(&srv);
}

TEST(bad_requests)
{
  static const struct {
    const char *q, *code, *field;
  } bad[] = {
    {"older_than=59", "RANGE", "older_than"},
    {"older_than=366d", "RANGE", "older_than"},
    {"older_than=2w", "BAD_VALUE", "older_than"},
    {"older_than=", "BAD_VALUE", "older_than"},
    {"older_than=-5", "BAD_VALUE", "older_than"},
    {"older_than=99999999999999999999h", "BAD_VALUE", "older_than"},
    {"format=xml", "BAD_VALUE", "format"},
    {"format", "BAD_VALUE", "format"},
    {"limit=0", "RANGE", "limit"},
    {"limit=100001", "RANGE", "limit"},
    {"limit=ten", "BAD_VALUE", "limit"},
    {"scope=everyone", "BAD_VALUE", "scope"},
    {"conv=0", "RANGE", "conv"},
    {"dept=%FF", "BAD_VALUE", "dept"},
    {"colour=red", "BAD_VALUE", "colour"},
    {"limit=5&limit=6", "DUP_KEY", "limit"},
  };
  struct httpc_resp r;
  long long a0;

  setup();
  a0 = audits();
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    fprintf(stderr, "?%s\n", bad[i].q);
    get(t_ada, bad[i].q, &r);
    check_error(&r, 400, bad[i].code, bad[i].field);
  }
  CHECK_INT(audits(), ==, a0);        /* nothing ran */
  /* Durations in every unit. */
  {
    static const char *const ok[] = {"older_than=60", "older_than=90m",
                                     "older_than=1d", "older_than=3600s",
                                     "older_than=365d"};
    for (size_t i = 0; i < 5; i++) {
      get(t_ada, ok[i], &r);
      CHECK_INT(r.status, ==, 200);
      httpc_resp_free(&r);
    }
  }
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM audit_log WHERE "
                                "action = 'report.unread' AND (detail->>"
                                "'older_s')::bigint = 5400"), ==, 1);

  /* Unknown path, wrong methods. */
  CHECK_INT(httpc_request(srv.port, "GET", "/api/v1/reports/nope", NULL,
                          30000, &r), ==, 0);
  check_error(&r, 404, "NOT_FOUND", NULL);
  {
    const char *h[] = {"Content-Length: 5", "Content-Type: text/plain", NULL};
    /* A body the server never reads: httpc sends none, so the declared
     * length is left hanging, and the reply must come anyway. */
    CHECK_INT(httpc_request(srv.port, "POST", PATH, h, 30000, &r), ==, 0);
    CHECK(httpc_header(&r, "Allow", (char[16]){0}, 16));
    check_error(&r, 405, "UNEXPECTED", NULL);
  }
  CHECK_INT(httpc_request(srv.port, "DELETE", PATH, NULL, 30000, &r), ==, 0);
  check_error(&r, 405, "UNEXPECTED", NULL);
  CHECK_INT(httpc_request(srv.port, "GET", "/healthz", NULL, 30000, &r), ==, 0);
  CHECK_INT(r.status, ==, 200);
  CHECK_STR(r.body, "ok\n");
  httpc_resp_free(&r);
  e2e_server_stop(&srv);
}

/* Waits until a backend of the server's database waits on a lock. */
static void wait_for_lock_wait(void)
{
  uint64_t until = e2e_now_ms() + 15000;

  while (e2e_query_int(&srv, "SELECT count(*) FROM pg_stat_activity WHERE "
                             "datname = current_database() AND "
                             "wait_event_type = 'Lock'") < 1) {
    if (e2e_now_ms() > until)
      CHECK_FAIL("the report never waited on the lock");
    usleep(20000);
  }
}

/* Sends a report request, waits until its job is held back on a lock,
 * closes the connection (with a reset when `reset`), then lets the job
 * finish. */
static void go_away_early(bool reset)
{
  char req[512];
  PGconn *lock;
  PGresult *res;
  int fd, n;

  lock = PQconnectdb(srv.db);
  CHECK(PQstatus(lock) == CONNECTION_OK);
  res = PQexec(lock, "BEGIN; LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE");
  CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
  PQclear(res);
  n = snprintf(req, sizeof(req), "GET " PATH " HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\n\r\n", t_ada);
  fd = httpc_send_raw(srv.port, req, (size_t)n);
  CHECK(fd >= 0);
  wait_for_lock_wait();
  if (reset) {
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  close(fd);
  usleep(300000);                  /* the server sees it go */
  res = PQexec(lock, "COMMIT");
  CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
  PQclear(res);
  PQfinish(lock);
}

TEST(client_gone_before_the_reply)
{
  struct httpc_resp r;
  uint64_t until;

  setup();
  /* A reset closes the connection at once: the job finishes later, finds
   * its request alone, and frees it without touching the connection. */
  go_away_early(true);
  until = e2e_now_ms() + 15000;
  while (e2e_log_count(&srv, "the client closed the connection first") < 1) {
    if (e2e_now_ms() > until)
      CHECK_FAIL("the job never found its client gone");
    usleep(20000);
  }
  /* A plain close (FIN) may be a half-close that still reads: libwebsockets
   * keeps the connection, and the reply goes into a socket nobody reads. */
  go_away_early(false);
  usleep(500000);
  /* The server goes on serving, and exits cleanly (no leak: LSan). */
  get(t_ada, "format=csv", &r);
  CHECK_INT(r.status, ==, 200);
  httpc_resp_free(&r);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM audit_log WHERE "
                                "action = 'report.unread'"), ==, 3);
  e2e_server_stop(&srv);
}

TEST(shutdown_with_a_report_waiting)
{
  char req[512];
  PGconn *lock;
  PGresult *res;
  int fd, n, st;

  setup();
  lock = PQconnectdb(srv.db);
  CHECK(PQstatus(lock) == CONNECTION_OK);
  res = PQexec(lock, "BEGIN; LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE");
  CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
  PQclear(res);
  n = snprintf(req, sizeof(req), "GET " PATH " HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\n\r\n", t_ada);
  CHECK((fd = httpc_send_raw(srv.port, req, (size_t)n)) >= 0);
  wait_for_lock_wait();
  /* SIGTERM while the job waits: the connection closes first, the job
   * finishes during the pool's shutdown and finds its request alone. */
  kill(srv.pid, SIGTERM);
  usleep(1500000);
  res = PQexec(lock, "COMMIT");
  CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
  PQclear(res);
  PQfinish(lock);
  st = e2e_server_signal(&srv, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_INT(e2e_log_count(&srv, "the client closed the connection first"),
            ==, 1);
  close(fd);
}

TEST(many_requests_at_once_and_slow_readers)
{
  enum { N = 24 };
  char req[512];
  int fds[N], n, ok = 0, busy = 0;
  struct httpc_resp r;

  setup();
  n = snprintf(req, sizeof(req), "GET " PATH "?format=json HTTP/1.1\r\n"
               "Host: x\r\nConnection: close\r\nAuthorization: Bearer %s"
               "\r\n\r\n", t_ada);
  /* Many clients at once that do not read their replies yet. */
  for (int i = 0; i < N; i++) {
    struct timeval tv = {15, 0};

    CHECK((fds[i] = httpc_send_raw(srv.port, req, (size_t)n)) >= 0);
    setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  usleep(500000);
  for (int i = 0; i < N; i++) {
    char buf[16];
    ssize_t got = recv(fds[i], buf, sizeof(buf) - 1, 0);

    CHECK(got > 12);
    buf[got] = '\0';
    ok += strncmp(buf, "HTTP/1.1 200", 12) == 0;
    busy += strncmp(buf, "HTTP/1.1 429", 12) == 0;
    close(fds[i]);                 /* most of each body is never read */
  }
  CHECK_INT(ok + busy, ==, N);
  CHECK(ok >= 1);
  fprintf(stderr, "%d answered, %d told to retry\n", ok, busy);
  get(t_ada, NULL, &r);
  CHECK_INT(r.status, ==, 200);
  httpc_resp_free(&r);
  e2e_server_stop(&srv);
}

TEST_MAIN()
