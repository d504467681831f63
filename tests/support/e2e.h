/*
 * e2e.h — the real heraldd as a child process of a C end-to-end test.
 *
 * Each server gets its own fresh database (pgtest.h) and a fixed loopback
 * port chosen once, so a test can kill -9 it and start it again where its
 * clients will reconnect. The server's log goes to a file that is printed
 * when a check fails (e2e_dump_logs). Organisation fixtures are made
 * through storage directly, which is fast and needs no server.
 *
 * Single-threaded test code only.
 */
#ifndef HERALD_E2E_H
#define HERALD_E2E_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct e2e_server {
  char db[512];          /* conninfo of its database */
  int port;
  char url[64];          /* ws://127.0.0.1:PORT */
  char log[256];         /* its log file */
  char dir[272];         /* its data directory (for its master key) */
  pid_t pid;             /* 0 when not running */
  int starts;            /* how many times it was started */
  /* The test clock (e2e_clock_use): the file heraldd follows and the
   * offset written to it. */
  char clock_file[300];
  int64_t clock_offset_ms;
};

/* Makes a database and picks a port. Does not start the server. */
void e2e_server_init(struct e2e_server *srv);

/* Same, on a database the test provides (e.g. a cluster it will stop). */
void e2e_server_init_db(struct e2e_server *srv, const char *conninfo);

/* Starts heraldd (path from env HERALDD) with --db, --listen and the extra
 * arguments (NULL-terminated list, may be NULL); returns when it listens.
 * Fails the test when it does not start within 30 s. */
void e2e_server_start(struct e2e_server *srv, const char *const *extra);

/* Sends `sig` (0: none) and waits for the server to exit; returns its
 * status (as from waitpid). */
int e2e_server_signal(struct e2e_server *srv, int sig);

/* SIGTERM and require exit status 0 (a clean shutdown). */
void e2e_server_stop(struct e2e_server *srv);

/* How many lines of the server's log contain `needle`. */
int e2e_log_count(const struct e2e_server *srv, const char *needle);

/* Resident memory of the server in KiB (from /proc), or -1. */
long e2e_server_rss_kb(const struct e2e_server *srv);

/* Fixtures through storage: the org with an admin, users and groups.
 * Passwords are "pw-" followed by the login. Return ids.
 *
 * The org starts WITHOUT quiet hours, so that read times, reports and
 * reminders do not depend on the hour and weekday a test runs at; a test
 * of quiet hours calls e2e_quiet_org_default to get the product's default
 * windows (weekdays 20:00-08:00, weekends all day) back. */
int64_t e2e_org(struct e2e_server *srv, const char *admin_login);
void e2e_quiet_org_default(struct e2e_server *srv);
int64_t e2e_user(struct e2e_server *srv, const char *login);
int64_t e2e_group(struct e2e_server *srv, const char *title, int64_t owner,
                  const int64_t *members, size_t n);

/* A bot allowed in the given conversations; writes its token (44 bytes
 * with the NUL) into `token`. Returns the bot id. */
int64_t e2e_bot(struct e2e_server *srv, const char *name, int64_t owner,
                const int64_t *convs, size_t n, char token[44]);

/* Runs a query on the server's database and returns the first column of
 * the first row as an integer (for checks like "count(*)"). */
long long e2e_query_int(struct e2e_server *srv, const char *sql);

/* The test clock: heraldd's TEST-ONLY test-clock-file setting
 * (server/clock_int.h), an offset in ms added to the server's time and to
 * its database sessions' herald_now(). Times below are ms since the epoch
 * as seen by the server.
 *
 * e2e_clock_use, before e2e_server_start: the server starts with its
 * clock at `at_ms` (0: real time), and every later start too. */
void e2e_clock_use(struct e2e_server *srv, int64_t at_ms);

/* Moves a running server's clock forward to `at_ms` (or by `seconds`) and
 * returns once the server has applied it: every database connection uses
 * it for its next job, and every connected user's quiet-hours state is
 * up to date (the server logs "test clock: offset N ms applied"). Fails
 * the test after 30 s. Not running: only the file changes. */
void e2e_clock_set(struct e2e_server *srv, int64_t at_ms);
void e2e_clock_advance(struct e2e_server *srv, int64_t seconds);

/* The server's "now". */
int64_t e2e_clock_now_ms(const struct e2e_server *srv);

/* A timestamptz literal as ms since the epoch, converted by PostgreSQL,
 * e.g. e2e_ms(srv, "2026-03-11 21:00 America/New_York"). */
int64_t e2e_ms(struct e2e_server *srv, const char *timestamptz);

/* Like e2e_user, in the IANA zone `tz`. */
int64_t e2e_user_tz(struct e2e_server *srv, const char *login,
                    const char *tz);

/* Log hygiene (SPEC §12: tokens, passwords and message bodies never
 * appear in logs). e2e_secret registers a string (copied) that no server
 * log of this process may contain: the fixtures register every password
 * (e2e_user, e2e_org) and bot token (e2e_bot) they make, the test peers
 * their session tokens and the message bodies they send (peer.c). Strings
 * shorter than E2E_SECRET_MIN are ignored (they could be ordinary words).
 * Every server's log is scanned whenever it exits (e2e_server_signal,
 * e2e_server_stop) and at process exit; a hit fails the test, naming the
 * log and the line but not the secret in full. */
#define E2E_SECRET_MIN 6
void e2e_secret(const char *s);

/* The first line of the log at `path` that contains a registered secret
 * (copied into `line`, at most `n` bytes), 1 when there is one, 0 when the
 * log is clean or missing. */
int e2e_log_leak(const char *path, char *line, size_t n);

/* Prints the tail of every server log of this process to stderr. Called
 * automatically at exit when the test failed. */
void e2e_dump_logs(void);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t e2e_now_ms(void);

#endif
