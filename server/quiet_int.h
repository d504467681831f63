/*
 * quiet_int.h — the quiet-hours state of every connected user, kept on the
 * loop so that delivery can mark messages silent without asking the
 * database per message, and so that a user's devices hear when their
 * quiet hours begin or end.
 *
 * Per connected user: in quiet hours or not, and the instant that flips
 * (the end of the stretch, or the start of the next). The state is
 * fetched with the welcome, and again by a database job when it flips, at
 * the latest every 10 minutes (so a change made behind the server's back,
 * e.g. heraldctl quiet org, is seen within that), and for everyone when
 * the test clock moves. Between the flip instant and the job's answer the
 * state is taken as flipped. One loop timer serves all users: it is set
 * to the earliest due refresh; due users are refreshed in batches of one
 * statement each (store_quiet_states).
 *
 * Loop thread only.
 */
#ifndef HERALD_SRV_QUIET_INT_H
#define HERALD_SRV_QUIET_INT_H

#include <stdbool.h>
#include <stdint.h>

struct proto_quiet_state;
struct proto_window;
struct srv_server;
struct srv_session;
struct store_quiet_state;

/* Creates srv->quiet and its timer. 0, or -1 (out of memory). */
int srv_quiet_init(struct srv_server *srv);

/* Shutdown: stops and closes the timer (after the database pools are
 * gone, so that no refresh is pending). */
void srv_quiet_close(struct srv_server *srv);

/* After the loop has ended: frees everything. Takes srv->quiet NULL. */
void srv_quiet_cleanup(struct srv_server *srv);

/* User `uid` authenticated; `st` is their state as fetched for the
 * welcome, or NULL when that failed (then it is fetched again at once). */
void srv_quiet_user_seen(struct srv_server *srv, int64_t uid,
                         const struct store_quiet_state *st);

/* The last session of user `uid` closed: forget them. */
void srv_quiet_user_gone(struct srv_server *srv, int64_t uid);

/* A fresh full state of `uid` (after quiet_set): cached, and pushed as
 * quiet_state (with windows) to the user's sessions other than `except`. */
void srv_quiet_user_changed(struct srv_server *srv, int64_t uid,
                            const struct store_quiet_state *st,
                            struct srv_session *except);

/* Quiet-hours settings changed somewhere (another node, heraldctl):
 * every connected user's state is fetched again soon (notify_int.h). */
void srv_quiet_recheck_all(struct srv_server *srv);

/* Whether a message delivered now (`now_ms`, srv_clock_now_ms) to user
 * `uid` is silent. False for users not connected here and for bots. */
bool srv_quiet_silent(struct srv_server *srv, int64_t uid, uint64_t now_ms);

/* The clock moved: fetches every connected user's state again (pushing
 * quiet_state to those whose state flipped) and then calls done(srv). */
void srv_quiet_resync(struct srv_server *srv,
                      void (*done)(struct srv_server *srv));

/* Fills a quiet_state body from `st`; the windows are converted into
 * `org` and `own` (STORE_QUIET_WINDOWS_MAX each), which `out` then
 * borrows, as it borrows the zone from `st`. */
void srv_quiet_to_proto(const struct store_quiet_state *st,
                        struct proto_quiet_state *out,
                        struct proto_window *org, struct proto_window *own);

#endif
