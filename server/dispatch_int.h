/*
 * dispatch_int.h — from a received WebSocket message to a handler, and from
 * a handler's error code to an error frame: the one place where codes
 * become wire errors and where the decision to close is made.
 *
 * Handlers run on the loop thread. A handler returns 0 when it has replied
 * or will reply later (after a database job), or a negative proto code,
 * which the dispatcher sends as an error frame for the request. Strings in
 * the frame borrow from the receive buffer and die when the handler
 * returns: a handler that goes asynchronous copies what it needs.
 */
#ifndef HERALD_SRV_DISPATCH_INT_H
#define HERALD_SRV_DISPATCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct srv_session;

/* Decodes and handles one whole message received on `s`. */
void srv_dispatch(struct srv_session *s, const uint8_t *buf, size_t len);

/* Sends the error frame for `code` (negative proto code) answering request
 * `id`, and closes the connection when the code calls for it
 * (proto_err_close_code). `field`/`detail` may be NULL. Used by the
 * dispatcher and by handlers that fail after going asynchronous. */
void srv_reply_error(struct srv_session *s, uint64_t id, int code,
                     const char *field, const char *detail);

/* Translates a storage result into a proto code (STORE_EUNAVAIL →
 * DB_UNAVAILABLE, ENOTFOUND → NOT_FOUND, ...). */
int srv_code_from_store(int store_rc);

/* Handlers, one file per group of frames. */
typedef int (*srv_handler_fn)(struct srv_session *s,
                              const struct proto_frame *f);

int srv_h_hello(struct srv_session *s, const struct proto_frame *f);
int srv_h_login(struct srv_session *s, const struct proto_frame *f);
int srv_h_logout(struct srv_session *s, const struct proto_frame *f);
int srv_h_send(struct srv_session *s, const struct proto_frame *f);
int srv_h_sync(struct srv_session *s, const struct proto_frame *f);
int srv_h_history(struct srv_session *s, const struct proto_frame *f);
int srv_h_read(struct srv_session *s, const struct proto_frame *f);
int srv_h_who_read(struct srv_session *s, const struct proto_frame *f);
int srv_h_ding_ack(struct srv_session *s, const struct proto_frame *f);
int srv_h_ding_board(struct srv_session *s, const struct proto_frame *f);
int srv_h_report_unread(struct srv_session *s, const struct proto_frame *f);
int srv_h_quiet_get(struct srv_session *s, const struct proto_frame *f);
int srv_h_quiet_set(struct srv_session *s, const struct proto_frame *f);
int srv_h_conv_list(struct srv_session *s, const struct proto_frame *f);
int srv_h_conv_create(struct srv_session *s, const struct proto_frame *f);
int srv_h_conv_members(struct srv_session *s, const struct proto_frame *f);
int srv_h_conv_add_member(struct srv_session *s, const struct proto_frame *f);
/* Cards (h_card.c); srv_h_send hands kind card to srv_h_send_card. */
int srv_h_send_card(struct srv_session *s, const struct proto_frame *f);
int srv_h_card_action(struct srv_session *s, const struct proto_frame *f);
int srv_h_card_edit(struct srv_session *s, const struct proto_frame *f);
int srv_h_card_sign(struct srv_session *s, const struct proto_frame *f);
int srv_h_device_key(struct srv_session *s, const struct proto_frame *f);

/* The writer pool's batch function (h_send.c): group commit of sends. */
struct srv_dbjob;
struct store_conn;
void srv_send_batch(struct srv_dbjob **jobs, int n, struct store_conn *conn);

#endif
