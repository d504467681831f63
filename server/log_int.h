/*
 * log_int.h — heraldd's log: one line per event, with a time, a level and
 * the component, written to stderr. Secrets (tokens, passwords) and message
 * bodies are never passed to it.
 *
 * Thread-safe: each line is formatted into a local buffer and written with
 * one write(2), so lines from worker threads never interleave.
 */
#ifndef HERALD_SRV_LOG_INT_H
#define HERALD_SRV_LOG_INT_H

enum srv_log_level { SRV_LOG_ERROR, SRV_LOG_WARN, SRV_LOG_INFO, SRV_LOG_DEBUG };

/* Sets the highest level that is written; parses "error".."debug". Returns 0
 * or -1 for an unknown name. */
int srv_log_set_level_name(const char *name);
void srv_log_set_level(enum srv_log_level level);

/* Routes libwebsockets' own log lines (errors and warnings) through us. */
void srv_log_capture_lws(void);

void srv_log(enum srv_log_level level, const char *component, const char *fmt,
             ...) __attribute__((format(printf, 3, 4)));

#define srv_err(c, ...) srv_log(SRV_LOG_ERROR, c, __VA_ARGS__)
#define srv_warn(c, ...) srv_log(SRV_LOG_WARN, c, __VA_ARGS__)
#define srv_info(c, ...) srv_log(SRV_LOG_INFO, c, __VA_ARGS__)
#define srv_debug(c, ...) srv_log(SRV_LOG_DEBUG, c, __VA_ARGS__)

#endif
