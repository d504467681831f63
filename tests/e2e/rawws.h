/*
 * rawws.h — a bare WebSocket test client for what a well-behaved client
 * library never does: send malformed, oversized or text messages, send
 * frames out of turn, and stop reading. It records every frame the server
 * sends (decoded when it can be) and the close code the server gave.
 *
 * Runs its own libwebsockets context (default poll loop); single-threaded
 * test code.
 */
#ifndef HERALD_E2E_RAWWS_H
#define HERALD_E2E_RAWWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct rawws;

/* Connects to 127.0.0.1:port with subprotocol herald.v1 and waits up to
 * 10 s for the handshake. NULL when the connection was refused. */
struct rawws *rawws_connect(int port);

/* The same with an Origin header (NULL: none), as a browser sends. */
struct rawws *rawws_connect_origin(int port, const char *origin);
void rawws_free(struct rawws *r);

/* Queues one message: binary, or text when `text`. */
void rawws_send(struct rawws *r, const void *p, size_t len, bool text);
/* Encodes and queues a frame. */
void rawws_send_frame(struct rawws *r, const struct proto_frame *f);

/* Stops (or resumes) reading from the socket: the server's writes then
 * pile up in the kernel and in the server's queue for this connection. */
void rawws_pause(struct rawws *r, bool paused);

/* Services the connection for up to `ms` milliseconds, or until closed. */
void rawws_service(struct rawws *r, int ms);

/* Waits up to `ms` for a frame of type `t` (PROTO_T_NONE: any) after the
 * ones already returned; copies it into *out (cleanup with
 * proto_frame_cleanup) and returns 0, or -1 on timeout or close. */
int rawws_wait_frame(struct rawws *r, enum proto_type t, int ms,
                     struct proto_frame *out);

/* Waits up to `ms` for the connection to close; returns the close code the
 * server sent (e.g. 1009), 1006 for a close without a close frame, or -1
 * when still open. */
int rawws_wait_close(struct rawws *r, int ms);

bool rawws_is_open(const struct rawws *r);

/* Bytes received so far. */
size_t rawws_received(const struct rawws *r);

#endif
