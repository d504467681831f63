/*
 * unread.h — what the two files of `herald-bench unread` share: the
 * seeding (unread_seed.c, the SQL in unread_seed.sql) and the command that
 * measures store_report_unread on the seeded database (m_unread.c).
 *
 * This is the one part of herald-bench that talks to PostgreSQL. Seeding
 * runs set-based SQL over libpq directly (as tests/support/pgtest.c does;
 * storage/ has no API for "insert a million messages at once", and should
 * not); the measurement goes through storage/store.h only, so that it
 * times exactly what heraldd runs for a report_unread frame.
 */
#ifndef HERALD_BENCH_UNREAD_H
#define HERALD_BENCH_UNREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct unread_sizes {
  uint64_t users, groups, messages, days;
  const char *end;             /* the instant the seeded messages end (a
                                  timestamptz as PostgreSQL reads it); NULL:
                                  now */
};

/* The org tree's shape for `users` people: vice-presidents (one division
 * each) and managers (~50 reports each). */
void unread_shape(uint64_t users, uint64_t *vps, uint64_t *mgrs);

/* Writes into out the conninfo `base` (key=value pairs or a URI) with
 * option `key` set to `val`, as key=value pairs. 0, or -1 (logged) for a
 * malformed conninfo or a too small buffer. */
int unread_conninfo_set(const char *base, const char *key, const char *val,
                        char *out, size_t cap);

/* Creates (dropping it first if it exists) database `name` through the
 * admin connection `admin_conninfo`, and writes the conninfo of the new
 * database into out. `name`: lower-case letters, digits, '_'. 0 or -1
 * (logged). */
int unread_create_db(const char *admin_conninfo, const char *name, char *out,
                     size_t cap);

/* Migrates the (empty) database, creates the organisation (admin "root")
 * and seeds it (unread_seed.sql), then VACUUM ANALYZE. Logs each step's
 * time; *seed_s receives the whole time. 0 or -1 (logged). */
int unread_seed(const char *conninfo, const struct unread_sizes *z,
                double *seed_s);

/* The clock offset in milliseconds that makes the database's herald_now()
 * the instant `at` (a timestamptz as PostgreSQL reads it, e.g.
 * "2026-11-25 10:00 UTC"), as of now, into *offset_ms; and into *after_s
 * the seconds from the newest message to `at` (negative: `at` is before
 * the data set ends). 0, or -1 (logged) when `at` is not a timestamp. */
int unread_offset_ms(const char *conninfo, const char *at,
                     int64_t *offset_ms, double *after_s);

/* Runs one query and returns the first column of its first row as an
 * integer (-1 on error, logged). For counts and sizes. */
int64_t unread_query_i64(const char *conninfo, const char *sql);

#endif
