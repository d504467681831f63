/*
 * store_int.h — what the storage sources share and nobody else sees: the
 * connection object, the query helpers over libpq, and the translation of
 * libpq failures into STORE_E* codes with a message on the connection.
 */
#ifndef HERALD_STORE_INT_H
#define HERALD_STORE_INT_H

#include <libpq-fe.h>

#include "store.h"

struct store_conn {
  PGconn *pg;
  /* Inside BEGIN..COMMIT: a lost connection must then fail the call, never
   * be re-established under it (the rest would run outside the
   * transaction). */
  bool in_tx;
  /* The herald.clock_offset_ms in force on this session (0: not set);
   * applied again after a reconnect (store_clock_set_offset). */
  int64_t clock_offset_ms;
  char errmsg[512];
};

/* Records a message on c (printf-style) and returns code, so that a
 * function can write `return store_fail(c, STORE_EINVAL, "...", ...)`. */
int store_fail(struct store_conn *c, int code, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* Clears the message before a call. */
void store_clear(struct store_conn *c);

/* Maps a failed result (or NULL result) to a code, records libpq's message
 * on c, and returns the code: unique violation -> EEXISTS; check, not-null,
 * foreign-key and data errors -> EINVAL; connection loss, shutdown,
 * serialization failures and deadlocks (all retryable) -> EUNAVAIL; the rest
 * EINTERNAL. */
int store_translate(struct store_conn *c, const PGresult *res);

/* The SQLSTATE of a failed result, "" when none. */
const char *store_sqlstate(const PGresult *res);

/* Re-establishes a lost connection, except inside a transaction; STORE_OK
 * or STORE_EUNAVAIL. */
int store_ensure(struct store_conn *c);

/* Runs a parameterised statement with n text parameters (NULL = SQL NULL).
 * On success *res (when res is non-NULL) holds the result, which the caller
 * PQclear()s; with res NULL the result is dropped. Returns STORE_OK or the
 * translated error (no result is kept then). */
int store_exec(struct store_conn *c, PGresult **res, const char *sql, int n,
               const char *const *params);

/* Like store_exec with explicit lengths and formats (1 = binary), for bytea
 * parameters. */
int store_exec_bin(struct store_conn *c, PGresult **res, const char *sql,
                   int n, const char *const *params, const int *lengths,
                   const int *formats);

/* Converts every row of `res` into a new array of `size`-byte elements
 * with `from_row`, and hands it over through *out and *n (NULL and 0 when
 * there are no rows); the caller frees *out. STORE_OK, or STORE_EINTERNAL
 * (out of memory; nothing handed over). */
typedef void (*store_row_fn)(const PGresult *res, int row, void *elem);
int store_rows(struct store_conn *c, const PGresult *res, size_t size,
               store_row_fn from_row, void **out, size_t *n);

/* BEGIN / COMMIT / ROLLBACK. store_rollback ignores errors (it is used on
 * the failure path, where the connection may already be gone). */
int store_begin(struct store_conn *c);
int store_commit(struct store_conn *c);
void store_rollback(struct store_conn *c);

/* Copies a result field into a fixed buffer (truncating, always
 * terminated); "" for NULL. */
void store_field(const PGresult *res, int row, int col, char *buf, size_t len);
int64_t store_field_i64(const PGresult *res, int row, int col);
bool store_field_bool(const PGresult *res, int row, int col);

/* Formats an int64 for a text parameter. */
#define STORE_I64_BUF 24
const char *store_i64(char buf[STORE_I64_BUF], int64_t v);

/* Writes an audit row in the current transaction; detail is a JSON object
 * of up to two key/value pairs (a NULL key is left out), built by
 * PostgreSQL's jsonb_build_object. */
int store_audit(struct store_conn *c, const char *actor, const char *action,
                const char *k1, const char *v1, const char *k2,
                const char *v2);

/* Checks that user `id` exists and is active, inside the caller's
 * transaction; copies the login when login is non-NULL. STORE_ENOTFOUND
 * 'unknown user id N', STORE_EINVAL 'user "x" is deactivated'. */
int store_user_check(struct store_conn *c, int64_t id,
                     char login[STORE_LOGIN_MAX + 1]);

/* Checks both thresholds of an automation setting (automation.c):
 * STORE_OK or STORE_EINVAL naming the field. */
int store_automation_check(struct store_conn *c,
                           const struct store_automation *a);

/* Characters (code points) in a UTF-8 string. */
size_t store_utf8_chars(const char *s);

/* PostgreSQL bigint[] in text form ("{1,2,3}", "{}") and back (ding.c).
 * store_i64_array_text returns a malloc'd string (NULL: out of memory);
 * store_i64_array_parse a malloc'd array (NULL when empty) and returns 0,
 * or -1 for malformed text or out of memory. */
char *store_i64_array_text(const int64_t *v, size_t n);
int store_i64_array_parse(const char *s, int64_t **out, size_t *n);

/* The row states of DING feed entries: `res` rows whose columns col..
 * col+4 are (user, fs, conversation, seq, recipient), as returned by the
 * herald_ding_* functions of sql/0008_ding.sql; one note per row, in
 * order (ding.c). */
int store_ding_notes_of(struct store_conn *c, const PGresult *res, int col,
                        struct store_ding_note **notes, size_t *n_notes);

/* Cards (cards.c): `n` bytes as lowercase hex into out (2n + 1 bytes);
 * a bytea field in text form ("\\x...") of exactly n bytes into out (0,
 * or -1 when NULL or another length); a field as a malloc'd string
 * (NULL: out of memory). */
void store_hex(const uint8_t *b, size_t n, char *out);
int store_bytea_field(const PGresult *res, int r, int col, uint8_t *out,
                      size_t n);
char *store_field_dup(const PGresult *res, int r, int col);

#endif
