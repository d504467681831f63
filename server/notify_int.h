/*
 * notify_int.h — live delivery across several heraldd nodes on one
 * database (SPEC §12, 0012_notify.sql).
 *
 * Triggers NOTIFY channel 'herald' at commit with ids only ("m:<node>:
 * <conv>:<seq>", "f:<node>:<user>:<fs>", "q:<node>:0"). Each node keeps
 * one dedicated LISTEN connection on its loop (never blocking: libpq's
 * non-blocking connect and reads under a uv_poll) and, for what another
 * node committed, fetches the rows: messages once per conversation
 * through srv_delivery_remote, then published like local commits (the
 * same ordered, gapless delivery; a session behind fills by itself),
 * feed entries through srv_feed_push_live, quiet-hours edits by
 * refreshing the cached states.
 *
 * Every node names itself with a random id at start-up, set on all its
 * database sessions as herald.node (PGOPTIONS), so that it can skip its
 * own notifications: it pushed those already.
 *
 * A lost LISTEN connection is reconnected with backoff; once LISTEN is in
 * force again, the node catches up by cursor: every conversation with
 * local subscribers is hinted at its current last seq, every connected
 * user's feed from the last fs this node pushed.
 *
 * Loop thread only (but srv_notify_set_node runs before any thread).
 */
#ifndef HERALD_SRV_NOTIFY_INT_H
#define HERALD_SRV_NOTIFY_INT_H

#include <stdint.h>

struct srv_server;

/* Picks this process's node id and puts it into PGOPTIONS for every
 * database connection made from now on. Before the pools start. 0 or -1. */
int srv_notify_set_node(void);

/* Starts the listener (connecting in the background). 0 or -1 (memory). */
int srv_notify_start(struct srv_server *srv);

/* Shutdown: closes the connection and its handles. */
void srv_notify_stop(struct srv_server *srv);

/* After the loop has ended: frees what is left. */
void srv_notify_cleanup(struct srv_server *srv);

/* The last fs this node knows of in `uid`'s feed (from notifications), or
 * 0 when none was seen. */
int64_t srv_notify_feed_last(struct srv_server *srv, int64_t uid);

#endif
