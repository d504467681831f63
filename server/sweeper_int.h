/*
 * sweeper_int.h — heraldd's periodic sweep: every sweep-interval seconds,
 * the unread reminders of conversations with remind_after set (appended to
 * the feed by storage, exactly once across servers, and delivered live
 * here as `remind` frames), the retention purge of read times older
 * than the organisation's read_time_retention_days, and the cards' steps
 * (card_sweep.c): due card reminders (deferred through quiet hours,
 * recorded once on the card, sent as `card_event`) and the task cards of
 * task_after.
 *
 * The sweep runs on its own one-thread database pool, in bounded batches
 * of one transaction each, so the loop never waits for it and a big
 * backlog never holds long locks. One sweep at a time per server; several
 * servers may sweep at once (storage makes that safe).
 *
 * Loop thread only.
 */
#ifndef HERALD_SRV_SWEEPER_INT_H
#define HERALD_SRV_SWEEPER_INT_H

struct srv_server;
struct srv_sweeper;

/* Creates the sweeper of `srv` (srv->sweeper) and arms its timer: the
 * first sweep runs one interval after the start. Returns 0, or -1 after
 * logging why. */
int srv_sweeper_start(struct srv_server *srv);

/* Stops the timer, lets a running sweep stop after its current batch (its
 * reminders are then not delivered live: clients get them from the feed
 * when they reconnect) and releases the sweeper once the loop has closed
 * its handles. Sets srv->sweeper to NULL. Safe when none was started. */
void srv_sweeper_stop(struct srv_server *srv);

#endif
