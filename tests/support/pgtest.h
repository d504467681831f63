/*
 * pgtest.h — a fresh PostgreSQL database per integration test.
 *
 * The throwaway cluster's admin conninfo comes from env HERALD_TEST_PG
 * (e.g. "host=/tmp/hpg dbname=postgres user=postgres"); the test command
 * starts that cluster. Each call makes a new, uniquely named database, so
 * tests run in parallel without seeing each other. When HERALD_TEST_PG is
 * unset or the cluster does not answer, the test is skipped (exit 77) —
 * except under CI=true, where it fails: nothing may skip in CI.
 *
 * Single-threaded test code only.
 */
#ifndef HERALD_PGTEST_H
#define HERALD_PGTEST_H

#include <stddef.h>

/* Creates a database and writes a conninfo for it into conninfo (len bytes).
 * Returns 0; skips or fails the test (does not return) when PostgreSQL is
 * unavailable. The database is dropped by pgtest_db_drop() or at exit. */
int pgtest_db_new(char *conninfo, size_t len);

/* Drops every database this process created (terminating their
 * connections). Safe to call more than once. */
void pgtest_db_drop(void);

/* Runs one SQL statement (no parameters) as the admin on the database
 * named in conninfo, for tests that must tamper with what the code under
 * test protects. Fails the test on error. */
void pgtest_exec(const char *conninfo, const char *sql);

/* Like pgtest_exec, but returns 0 when the statement succeeded and -1 when
 * PostgreSQL refused it, copying its SQLSTATE (6 bytes) into state. */
int pgtest_try(const char *conninfo, const char *sql, char state[6]);

/* Runs a query and returns the first column of its first row as an
 * integer (NULL gives 0). Fails the test on error or no row. */
long long pgtest_query_int(const char *conninfo, const char *sql);

/* The same for text: copies the first column of the first row into out
 * (len bytes; NULL gives ""). Fails the test on error, no row, or a value
 * that does not fit. */
void pgtest_query_text(const char *conninfo, const char *sql, char *out,
                       size_t len);

#endif
