/*
 * hookrx.h — a local HTTP receiver that stands in for an SMS or phone
 * gateway in end-to-end tests: it listens on 127.0.0.1, records every
 * request (method, path, body) and answers the first `fail_first` with
 * HTTP 500, the rest with 200.
 *
 * It runs on its own thread (the test's loop may be busy waiting for
 * something else); the accessors lock.
 */
#ifndef HERALD_E2E_HOOKRX_H
#define HERALD_E2E_HOOKRX_H

#include <stddef.h>

struct hookrx;

/* Starts a receiver on a free port. Fails the test when it cannot. */
struct hookrx *hookrx_start(int fail_first);
/* Stops it and frees everything. Takes NULL. */
void hookrx_stop(struct hookrx *h);

/* "http://127.0.0.1:PORT/hook" (static per receiver). */
const char *hookrx_url(const struct hookrx *h);

/* Requests received so far. */
size_t hookrx_count(struct hookrx *h);

/* Copies the body of request i (0-based) into out (NUL-terminated,
 * truncated to len - 1); returns the status it was answered with, or 0
 * when there is no such request. */
int hookrx_body(struct hookrx *h, size_t i, char *out, size_t len);

#endif
