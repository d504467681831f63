/*
 * stored.h — what a test server keeps, looked at from outside the server:
 * its sealed read times opened to the millisecond with the master key from
 * its data directory (as the server would open them, to prove what was
 * recorded), a pg_dump of its database, and a search of any text for the
 * ways a point in time can be written.
 *
 * Single-threaded test code only.
 */
#ifndef HERALD_E2E_STORED_H
#define HERALD_E2E_STORED_H

#include <stddef.h>
#include <stdint.h>

#include "e2e.h"

enum stored_time {
  STORED_TIME_OK,      /* *ms holds the recorded read time */
  STORED_TIME_NONE,    /* not read, or read without a time */
  STORED_TIME_NO_KEY,  /* the reader's data key is destroyed (erased) */
  STORED_TIME_BAD      /* the sealed value fails authentication */
};

/* Opens the read time of `reader` for message conv:seq, binding the row the
 * way the server does (conversation, range, reader, key version). */
enum stored_time stored_read_time(const struct e2e_server *srv, int64_t conv,
                                  int64_t seq, int64_t reader, int64_t *ms);

/* pg_dump (plain SQL: schema and data, in UTC) of the server's database,
 * from HERALD_PG_BINDIR or /usr/lib/postgresql/15/bin; the caller frees
 * the text. Without pg_dump the test is skipped, or fails under CI=true. */
char *stored_dump(const struct e2e_server *srv);

/* How many ways of writing the time `ms` occur in `text`: Unix seconds and
 * milliseconds in decimal, both also rounded down to the minute, and
 * "YYYY-MM-DD HH:MM" / "YYYY-MM-DDTHH:MM" (which any text form to the
 * second also contains) at every UTC offset from -12:00 to +14:00 in
 * quarter hours. The first form found goes to `first` (len bytes; may be
 * NULL when len is 0). */
int stored_time_hits(const char *text, int64_t ms, char *first, size_t len);

/* A whole file (e.g. a server log) as text; the caller frees it. */
char *stored_file(const char *path);

#endif
