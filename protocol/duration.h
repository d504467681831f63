/*
 * duration.h — durations as people write them, one parser for every place
 * that reads one: the HTTP API's older_than, heraldctl's --older-than,
 * --remind-after/--task-after and DING steps, the terminal client's
 * /report.
 *
 * Accepted: a whole number of seconds ("90"), or one or more numbers each
 * with a unit s, m, h or d ("45s", "90m", "2h", "1h30m"). No sign, no
 * spaces, no fractions. Callers check their own bounds.
 */
#ifndef HERALD_PROTO_DURATION_H
#define HERALD_PROTO_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Longest duration accepted: 100 years, so that sums never overflow. */
#define PROTO_DURATION_MAX (100LL * 366 * 86400)

/* Parses the `len` bytes at `s` (no NUL needed). Returns 0 with the
 * seconds in *out, or -1 when malformed or above PROTO_DURATION_MAX. */
int proto_duration_parse(const char *s, size_t len, int64_t *out);

#endif
