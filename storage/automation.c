/*
 * automation.c — per-conversation automation at the unread threshold
 * (SPEC §10): setting the thresholds, and the reminder sweep.
 *
 * The sweep itself is SQL (herald_remind_sweep in sql/0006_automation.sql):
 * one call is one transaction that finds the members with tracked messages
 * unread past their conversation's remind_after, appends one reminder per
 * member and conversation to the feed and moves the members' reminder
 * markers, under row locks that make it exactly-once across servers. This
 * file checks the settings, keeps the per-conversation progress row in
 * step with them, and turns the sweep's rows into feed entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static int check_one(struct store_conn *c, const char *name, int64_t v)
{
  if (v != 0 && (v < STORE_AUTOMATION_MIN_S || v > STORE_AUTOMATION_MAX_S))
    return store_fail(c, STORE_EINVAL,
                      "%s must be %d-%d seconds (or off), got %lld", name,
                      STORE_AUTOMATION_MIN_S, STORE_AUTOMATION_MAX_S,
                      (long long)v);
  return STORE_OK;
}

int store_automation_check(struct store_conn *c,
                           const struct store_automation *a)
{
  int rc = check_one(c, "remind_after", a->remind_after_s);

  return rc == STORE_OK ? check_one(c, "task_after", a->task_after_s) : rc;
}

/* "remind_after=7200 task_after=off", for the audit log. */
static void describe(const struct store_automation *a, char *buf, size_t len)
{
  char r[24] = "off", t[24] = "off";

  if (a->remind_after_s)
    snprintf(r, sizeof r, "%lld", (long long)a->remind_after_s);
  if (a->task_after_s)
    snprintf(t, sizeof t, "%lld", (long long)a->task_after_s);
  snprintf(buf, len, "remind_after=%s task_after=%s", r, t);
}

int store_conversation_set_automation(struct store_conn *c,
                                      int64_t conversation_id,
                                      const struct store_automation *a)
{
  PGresult *res = NULL;
  char cb[STORE_I64_BUF], rb[STORE_I64_BUF], tb[STORE_I64_BUF], what[96];
  const char *p[3] = {store_i64(cb, conversation_id),
                      a->remind_after_s ? store_i64(rb, a->remind_after_s)
                                        : NULL,
                      a->task_after_s ? store_i64(tb, a->task_after_s) : NULL};
  const char *progress = NULL;
  int64_t old_remind;
  int rc;

  store_clear(c);
  if ((rc = store_automation_check(c, a)) != STORE_OK)
    return rc;
  rc = store_begin(c);
  /* The row lock makes last_seq exact: no send batch commits into the
   * conversation between reading it and recording it as from_seq. */
  if (rc == STORE_OK)
    rc = store_exec(c, &res,
                    "SELECT coalesce(remind_after, 0) FROM conversations"
                    " WHERE id = $1::bigint FOR NO KEY UPDATE", 1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown conversation id %s", p[0]);
    goto out;
  }
  old_remind = store_field_i64(res, 0, 0);
  rc = store_exec(c, NULL,
                  "UPDATE conversations SET remind_after = $2::integer,"
                  " task_after = $3::integer WHERE id = $1::bigint", 3, p);
  if (rc != STORE_OK)
    goto out;
  if (!a->remind_after_s) {
    progress = "DELETE FROM remind_progress WHERE conversation_id = $1::bigint";
  } else if (!old_remind) {
    /* Switched on: only what is sent from now on is covered. */
    progress = "INSERT INTO remind_progress (conversation_id, from_seq,"
               " cut_seq) SELECT id, last_seq, last_seq FROM conversations"
               " WHERE id = $1::bigint"
               " ON CONFLICT (conversation_id) DO UPDATE"
               " SET from_seq = EXCLUDED.from_seq, cut_seq = EXCLUDED.cut_seq";
  } else if (a->remind_after_s > old_remind) {
    /* A longer threshold: the cut may lie too far ahead now. Walk again
     * from the start; the members' markers keep what was reminded. */
    progress = "UPDATE remind_progress SET cut_seq = from_seq"
               " WHERE conversation_id = $1::bigint";
  }
  if (progress)
    rc = store_exec(c, NULL, progress, 1, p);
  if (rc == STORE_OK) {
    describe(a, what, sizeof what);
    rc = store_audit(c, "admin", "conversation.automate", "conversation",
                     p[0], "automation", what);
  }
  if (rc == STORE_OK)
    rc = store_commit(c);
out:
  if (rc != STORE_OK)
    store_rollback(c);
  PQclear(res);
  return rc;
}

/* Largest batch: one statement handles this many members at most (plus
 * the rest of the conversation it ends in). */
#define SWEEP_LIMIT_MAX 100000

int store_remind_sweep(struct store_conn *c, int64_t *after_conv,
                       size_t limit, struct store_feed_entry **out, size_t *n,
                       bool *more)
{
  PGresult *res = NULL;
  struct store_feed_entry *list = NULL;
  char ab[STORE_I64_BUF], lb[STORE_I64_BUF];
  const char *p[2] = {store_i64(ab, *after_conv),
                      store_i64(lb, (int64_t)limit)};
  int rc, rows, k = 0;

  store_clear(c);
  if (limit < 1 || limit > SWEEP_LIMIT_MAX)
    return store_fail(c, STORE_EINVAL, "limit must be 1-%d", SWEEP_LIMIT_MAX);
  if (*after_conv < 0)
    return store_fail(c, STORE_EINVAL, "cursor must not be negative");
  rc = store_exec(c, &res,
                  "SELECT r_user, r_fs, r_conv, r_from, r_to, r_count,"
                  " r_since_ms, r_next_conv, r_more"
                  " FROM herald_remind_sweep($1::bigint, $2::integer)", 2, p);
  if (rc != STORE_OK)
    goto out;
  rows = PQntuples(res);
  if (rows < 1) {
    rc = store_fail(c, STORE_EINTERNAL, "reminder sweep returned no row");
    goto out;
  }
  if (!PQgetisnull(res, 0, 0) &&
      !(list = calloc((size_t)rows, sizeof *list))) {
    rc = store_fail(c, STORE_EINTERNAL, "out of memory");
    goto out;
  }
  for (int r = 0; list && r < rows; r++) {
    struct store_feed_entry *e = &list[k++];

    e->user_id = store_field_i64(res, r, 0);
    e->fs = store_field_i64(res, r, 1);
    e->kind = STORE_FEED_REMIND;
    e->conversation_id = store_field_i64(res, r, 2);
    e->from_seq = store_field_i64(res, r, 3);
    e->to_seq = store_field_i64(res, r, 4);
    e->count = store_field_i64(res, r, 5);
    e->since_ms = store_field_i64(res, r, 6);
  }
  *after_conv = store_field_i64(res, 0, 7);
  *more = store_field_bool(res, 0, 8);
  *out = list;
  *n = (size_t)k;
  list = NULL;
out:
  free(list);
  PQclear(res);
  return rc;
}
