/*
 * botrate_int.h — per-bot rate limits (SPEC §9): at most N messages in
 * any 60 seconds per bot (bots.rate_limit_per_minute, default 20 as
 * DingTalk's robots), counted together over WebSocket sends, the HTTP bot
 * API and the robot webhook.
 *
 * A sliding window: each bot that posted keeps the times of its last N
 * sends (8 bytes each, N <= STORE_BOT_RATE_MAX), so "the 21st message
 * within a minute" is refused however slowly the first 20 came, and the
 * refusal says exactly when the next one will be accepted. Unlike
 * DingTalk, there is no ten-minute penalty after an excess.
 *
 * In memory, per server process: several nodes behind a balancer each
 * allow N (issue 8 shares it). Real time (srv_now_ms), not the test clock.
 *
 * Loop thread only.
 */
#ifndef HERALD_SRV_BOTRATE_INT_H
#define HERALD_SRV_BOTRATE_INT_H

#include <stdint.h>

struct srv_server;

#define SRV_BOTRATE_WINDOW_MS 60000

/* Takes one send for `bot_id` whose limit is `per_minute` (<= 0: the
 * default 20). Returns 0 when allowed (the send is counted), else the
 * milliseconds until the next send is allowed (>= 1); out of memory
 * allows the send. */
int64_t srv_botrate_take(struct srv_server *srv, int64_t bot_id,
                         int per_minute, uint64_t now_ms);

/* Formats the refusal: "rate limit of N messages a minute reached; retry
 * in S s". */
void srv_botrate_message(char *buf, unsigned len, int per_minute,
                         int64_t wait_ms);

/* Frees every window (server shutdown). */
void srv_botrate_cleanup(struct srv_server *srv);

#endif
