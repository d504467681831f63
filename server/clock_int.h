/*
 * clock_int.h — heraldd's "now" for everything that is about wall time
 * (message and frame times, quiet hours): the real time plus an offset
 * that is 0 unless the TEST-ONLY setting test-clock-file is given.
 *
 * The test clock: the file named by test-clock-file holds one integer, an
 * offset in milliseconds (negative allowed) added to the real time. It is
 * read at start-up (a missing or malformed file stops the server) and
 * again on SIGUSR2. An offset, not an absolute fake time: time keeps
 * flowing, and a server restarted by a test reads the same offset and
 * finds its clock where it left it. While running, the clock only moves
 * forward (a smaller offset is refused with a warning), so message times
 * never go backwards along a conversation.
 *
 * Every database connection of the server applies the same offset (the
 * database pools call store_clock_set_offset before each job), so SQL's
 * herald_now() and srv_clock_now_ms() agree. After a change the server
 * brings every connected user's quiet-hours state up to date and only then
 * logs "test clock: offset N ms applied": a test that sent SIGUSR2 waits
 * for that line (tests/support/e2e.c e2e_clock_set).
 *
 * Monotonic timeouts (keep-alive, rate limits, shutdown) keep real time.
 */
#ifndef HERALD_SRV_CLOCK_INT_H
#define HERALD_SRV_CLOCK_INT_H

#include <stdint.h>

struct srv_server;

/* Reads the test clock file when configured, logs a warning that the
 * clock is shifted, and starts listening for SIGUSR2. Loop thread, before
 * the database pools start. Returns 0, or -1 after logging why (the file
 * cannot be read or does not hold an integer). */
int srv_clock_init(struct srv_server *srv);

/* Stops listening for SIGUSR2 (shutdown). Loop thread. */
void srv_clock_close(struct srv_server *srv);

/* The offset in force, ms. Any thread. */
int64_t srv_clock_offset_ms(void);

/* Real time plus the offset, ms since the epoch. Any thread. */
uint64_t srv_clock_now_ms(void);

/* Parses the test clock file's text: optional blanks, an optional sign,
 * digits, optional blanks. Returns 0 and sets *out, or -1. (For tests.) */
int srv_clock_parse(const char *text, int64_t *out);

#endif
