/*
 * proto_errors.h — Herald's one list of error codes.
 *
 * Every module of the server and of the clients returns these codes, and
 * error frames carry them on the wire, so this list is the contract: a code
 * once published keeps its number, its name and its meaning. In C a function
 * returns 0 or a negative code (PROTO_E_NOT_FOUND == -3001); the wire carries
 * the positive number (3001) and the name ("NOT_FOUND").
 *
 * Codes are grouped by class, a thousand per class:
 *   1xxx  the frame itself: msgpack, limits, UTF-8, schema
 *   2xxx  authentication and authorization
 *   3xxx  the request was understood but cannot be done
 *   4xxx  resource limits (rate, queue, size)
 *   5xxx  the server failed; some of these are worth a retry
 *
 * PROTOCOL.md documents the same list (a unit test checks that every entry
 * below appears there with its number). Adding a code: append it to its
 * class with the next free number, then document it.
 */
#ifndef HERALD_PROTO_ERRORS_H
#define HERALD_PROTO_ERRORS_H

#include <stdbool.h>

/* X(NAME, code, "human message") */
#define PROTO_ERRNO_MAP(X)                                                    \
  X(MALFORMED, 1001, "malformed msgpack data")                                \
  X(TOO_LARGE, 1002, "frame too large")                                       \
  X(TOO_DEEP, 1003, "nesting too deep")                                       \
  X(BAD_UTF8, 1004, "string is not valid UTF-8")                              \
  X(TRAILING, 1005, "trailing bytes after the frame")                         \
  X(NOT_MAP, 1006, "frame is not a msgpack map")                              \
  X(UNKNOWN_TYPE, 1007, "unknown frame type")                                 \
  X(MISSING, 1008, "missing required field")                                  \
  X(WRONG_TYPE, 1009, "field has the wrong type")                             \
  X(RANGE, 1010, "value out of range")                                        \
  X(TOO_LONG, 1011, "string or binary too long")                              \
  X(TOO_MANY, 1012, "too many items")                                         \
  X(DUP_KEY, 1013, "duplicate key in a map")                                  \
  X(BAD_VALUE, 1014, "invalid value")                                         \
  X(UNEXPECTED, 1015, "frame not allowed here")                               \
  X(UNAUTHENTICATED, 2001, "not authenticated")                               \
  X(BAD_CREDENTIALS, 2002, "wrong login, password or token")                  \
  X(RATE_LIMITED, 2003, "too many attempts, try again later")                 \
  X(TOKEN_EXPIRED, 2004, "token expired or revoked")                          \
  X(FORBIDDEN, 2005, "not allowed")                                           \
  X(BOT_AS_USER, 2006, "a bot cannot act as a user")                          \
  X(NOT_FOUND, 3001, "not found")                                             \
  X(CONFLICT, 3002, "conflicting change")                                     \
  X(DUPLICATE, 3003, "already exists")                                        \
  X(INVALID_CARD, 3004, "invalid card content")                               \
  X(INVALID_ACTION, 3005, "action not allowed in this state")                 \
  X(BAD_SIGNATURE, 3006, "signature does not verify")                         \
  X(STALE_VERSION, 3007, "stale version")                                     \
  X(TOO_MANY_REQUESTS, 4001, "too many requests, slow down")                  \
  X(QUEUE_FULL, 4002, "queue full")                                           \
  X(BODY_TOO_LARGE, 4003, "body too large")                                   \
  X(INTERNAL, 5001, "internal error")                                         \
  X(DB_UNAVAILABLE, 5002, "database unavailable, try again")                  \
  X(SHUTTING_DOWN, 5003, "server shutting down")                              \
  X(NOMEM, 5004, "out of memory")

enum proto_errno {
#define PROTO_ERRNO_ENUM_(name, code, msg) PROTO_E_##name = -(code),
  PROTO_ERRNO_MAP(PROTO_ERRNO_ENUM_)
#undef PROTO_ERRNO_ENUM_
  PROTO_E_MAX_ = -6000 /* not a code: keeps the enum signed */
};

/* The stable name of `code` ("NOT_FOUND"), or "UNKNOWN" for a code not in
 * the list. Accepts the negative C value or the positive wire value. The
 * string is static. Any thread. */
const char *proto_err_name(int code);

/* The human message of `code` ("not found"), or "unknown error". Accepts
 * negative or positive values. Static string. Any thread. */
const char *proto_strerror(int code);

/* The code whose name is `name` (NUL-terminated), as a negative value, or 0
 * if there is none. Any thread. */
int proto_err_from_name(const char *name);

/* True for codes worth retrying later without change (rate limits, full
 * queues, database outage, shutdown). Error frames set `retry` from this. */
bool proto_err_retryable(int code);

/* The WebSocket close code with which a server or client closes the
 * connection after sending the error frame for `code`, or 0 when the
 * connection stays open. Frame-level violations close (1009 too large,
 * 1007 bad UTF-8, 1002 other malformed input), so do failed authentication
 * (1008), a full outbound queue (1008), shutdown (1001) and running out of
 * memory (1011); schema errors and request errors do not. */
int proto_err_close_code(int code);

#endif
