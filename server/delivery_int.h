/*
 * delivery_int.h — getting every conversation's messages to every
 * subscribed session in seq order with no gap and no duplicate, live and
 * replayed.
 *
 * Each session keeps, per conversation, the highest seq it was sent
 * (struct srv_conv_pos). A committed message is queued to a session only
 * when it is exactly the next seq and no replay of that conversation is
 * running; otherwise the session fills the gap from the database ("fill"),
 * page by page, until it has caught up with the highest seq known to exist.
 * Replay after `sync` is the same fill. So the hand-over from replay to
 * live traffic needs no special case: live messages that arrive during a
 * fill only raise its target.
 *
 * Loop thread only.
 */
#ifndef HERALD_SRV_DELIVERY_INT_H
#define HERALD_SRV_DELIVERY_INT_H

#include <stdint.h>

#include "proto.h"

struct srv_server;
struct srv_session;
struct store_message;

/* Subscribes `s` to conversation `conv` with nothing sent after `after`,
 * and starts a fill when messages after it exist or may exist. `req` is
 * the sync request id the pages carry (0 for none); with `in_sync` the
 * conversation counts towards the session's sync completion. Returns 0 or
 * -1 (out of memory). */
int srv_delivery_subscribe(struct srv_server *srv, struct srv_session *s,
                           int64_t conv, int64_t after, int64_t known_last,
                           uint64_t req, int in_sync);

/* Removes `s` from every conversation it is subscribed to (on close). */
void srv_delivery_unsubscribe_all(struct srv_server *srv,
                                  struct srv_session *s);

/* A message was committed: `frame` is its encoded "msg" (shared; this
 * takes references as needed). Every recipient gets the frame as it is;
 * for messages, srv_delivery_publish_msg sets `silent` per recipient. */
void srv_delivery_publish(struct srv_server *srv, int64_t conv, int64_t seq,
                          struct proto_shared *frame);

/* A message was committed: `f` is its "msg" frame (borrowed for the call).
 * Encoded once, plus once with `silent` set when a recipient is in quiet
 * hours (quiet_int.h). */
void srv_delivery_publish_msg(struct srv_server *srv,
                              const struct proto_frame *f);

/* Message `seq` of `conv` exists but its frame is not at hand (a re-send
 * whose first commit was never published, or a commit on another node):
 * sessions behind it fill from the database. */
void srv_delivery_hint(struct srv_server *srv, int64_t conv, int64_t seq);

/* Another node committed `conv` up to `seq` (notify_int.h): the new
 * messages are fetched once for this node and published to its sessions
 * exactly as local commits are (one encoding per message); a session
 * that is not right behind them fills by itself. */
void srv_delivery_remote(struct srv_server *srv, int64_t conv, int64_t seq);

/* The highest seq of `conv` this process has seen committed, or 0. */
int64_t srv_delivery_last(struct srv_server *srv, int64_t conv);

/* One part of a running sync (a conversation's replay, the feed) is
 * complete; the last part sends `synced`. */
void srv_sync_part_done(struct srv_session *s);

/* Replays the user's feed after `after` as `feed` frames of the running
 * sync, then completes the sync's feed part (h_read.c). */
void srv_feed_replay(struct srv_session *s, int64_t after);

/* Sends user `uid`'s feed entries after `after` to their live sessions as
 * receipt/remind/ding_update/card_event frames, as if committed here: for
 * entries another node committed (notify_int.h). h_read.c. */
void srv_feed_push_live(struct srv_server *srv, int64_t uid, int64_t after);

/* Fills a proto_msg from a stored message (strings borrowed from `m`). */
void srv_msg_from_store(struct proto_msg *out, const struct store_message *m);

#endif
