/*
 * ding_int.h — DINGs in the server (SPEC §6, PROTOCOL.md 3.7): the alerts
 * and state updates that follow a DING's send, its deliveries, reads and
 * acks (ding.c, h_ding.c), and the scheduler that fires re-alerts and
 * escalations (ding_sched.c) and posts escalations to the org's webhook
 * (webhook.c).
 *
 * Who gets what, live (on this server's connections) and durably (the
 * feed, replayed on `sync`):
 *   - each recipient: the `msg`, a `ding_alert` step 0 (`silent` in their
 *     quiet hours unless critical, then `overrode_quiet`), one more
 *     `ding_alert` per re-alert step, and a `ding_update` of their own
 *     row on every change;
 *   - the sender (a user): a `ding_update` of a recipient's row on every
 *     change (delivered, read, acknowledged, step, escalated); the full
 *     board on request (`ding_board`);
 *   - a recipient's manager, when the recipient is escalated to them: a
 *     `ding_alert` with `about` = the recipient (live), and `ding_update`s
 *     of that recipient's row from then on (feed, so an offline manager
 *     finds them).
 * Live frames reach only sessions connected to the server that made the
 * change; the feed carries everything to every device on its next sync.
 *
 * Loop thread only, except where a function says it runs on a database
 * thread.
 */
#ifndef HERALD_SRV_DING_INT_H
#define HERALD_SRV_DING_INT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct srv_server;
struct srv_session;
struct store_ding_note;
struct store_send;
struct store_send_result;

/* ---- ding.c ---- */

/* A DING was committed (in: what was sent, out: its result, not a
 * duplicate): step-0 alerts to the recipients' sessions, their own rows
 * (the feed entries the send made) as ding_update, and the scheduler
 * learns the first due time. */
void srv_ding_sent(struct srv_server *srv, const struct store_send *in,
                   const struct store_send_result *out);

/* Messages m[0..n-1] of one conversation were queued to session `s`
 * (live or in a replay page): records the first delivery of every DING
 * among them that is addressed to s's user (a database job; the notes
 * follow). */
void srv_ding_seen(struct srv_server *srv, struct srv_session *s,
                   const struct proto_msg *m, size_t n);

/* Sends each note as a ding_update (with its fs) to the synced sessions
 * of its feed's owner. */
void srv_ding_push_notes(struct srv_server *srv,
                         const struct store_ding_note *notes, size_t n);

/* A note as a ding_update body. */
void srv_ding_note_to_proto(const struct store_ding_note *n,
                            struct proto_ding_update *out);

/* Sends a ding_alert to every synced session of user `uid`. */
void srv_ding_alert(struct srv_server *srv, int64_t uid,
                    const struct proto_ding_alert *a);

/* ---- ding_sched.c ---- */

/* Starts the scheduler: its database pool, its timer, and a first round
 * at once (steps that fell due while no server ran fire now). 0, or -1
 * after logging why. Loop thread, from srv_server_init. */
int srv_ding_sched_init(struct srv_server *srv);

/* Shutdown: no new rounds; waits for the running one's jobs (a webhook
 * request ends within webhook-timeout), then closes the timer. */
void srv_ding_sched_close(struct srv_server *srv);

/* After the loop ended: frees what is left. Takes a NULL scheduler. */
void srv_ding_sched_cleanup(struct srv_server *srv);

/* Something is due at due_ms (server clock): make sure the timer fires by
 * then. */
void srv_ding_sched_due(struct srv_server *srv, int64_t due_ms);

/* Runs a round now (the test clock moved) and calls done(srv) when a
 * round that started after this call has finished — steps fired and
 * webhook attempts made. */
void srv_ding_sched_now(struct srv_server *srv,
                        void (*done)(struct srv_server *srv));

/* ---- webhook.c ---- */

/* Process-wide set-up of the HTTP client (before any database thread
 * posts), and its release at exit. 0 or -1. */
int srv_webhook_global_init(void);
void srv_webhook_global_cleanup(void);

/* POSTs `json` to `url` (http or https only, no redirects) with a total
 * timeout of timeout_ms. Returns 0 when the answer is 2xx, else -1; in
 * both cases *status is the HTTP status (0 when there was none) and
 * `detail` says what happened in one line. Blocks: database (pool)
 * threads only. */
int srv_webhook_post(const char *url, const char *json, long timeout_ms,
                     long *status, char *detail, size_t detail_len);

#endif
