/*
 * httpc.h — a tiny HTTP/1.1 client for tests: one request per connection
 * (Connection: close), the reply read to EOF over a raw socket, then split
 * into status, headers and body. Enough to test heraldd's HTTP API without
 * a client library.
 *
 * Single-threaded test code only.
 */
#ifndef HERALD_HTTPC_H
#define HERALD_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

struct httpc_resp {
  int status;           /* from the status line */
  char *head;           /* the header lines after the status line, "\r\n"
                           separated, NUL-terminated */
  char *body;           /* NUL-terminated (not counted in len) */
  size_t len;
};

/* Sends `method target HTTP/1.1` to 127.0.0.1:port with Host and
 * Connection: close, plus `headers` ("Name: value" strings; a NULL-ended
 * array, or NULL), and reads the reply until the server closes, for up to
 * timeout_ms. Returns 0 with *out filled (release with httpc_resp_free), or
 * -1 when the connection failed, timed out, or the reply is not HTTP/1.1
 * or its body does not match its Content-Length (message on stderr). */
int httpc_request(int port, const char *method, const char *target,
                  const char *const *headers, int timeout_ms,
                  struct httpc_resp *out);

/* Like httpc_request with POST and a body of `len` bytes (Content-Length
 * is added). */
int httpc_post(int port, const char *target, const char *const *headers,
               const char *body, size_t len, int timeout_ms,
               struct httpc_resp *out);

/* Copies the value of header `name` (any case) into buf; false when the
 * reply has no such header. */
bool httpc_header(const struct httpc_resp *r, const char *name, char *buf,
                  size_t cap);

void httpc_resp_free(struct httpc_resp *r);

/* Connects to 127.0.0.1:port and writes `len` bytes; returns the socket
 * (the caller closes it) or -1. For clients that go away early. */
int httpc_send_raw(int port, const char *data, size_t len);

#endif
