/*
 * ding_sched.c — the DING scheduler's storage side: firing due steps
 * (re-alerts, escalations, quiet-hours deferrals) and the webhook
 * attempts of escalations, each exactly once however many servers share
 * the database.
 *
 * Steps: herald_ding_fire (sql/0008_ding.sql) claims due rows with FOR
 * UPDATE SKIP LOCKED and records each step in ding_steps (primary key:
 * a step exists once); the feed entries are appended and the transaction
 * commits before the server sends a single frame, so a server killed at
 * any point either fired a step (recorded, and on every follower's feed)
 * or did not (the row is still due and fires on the next call, here or on
 * another node).
 *
 * Webhooks cannot be inside a transaction (an HTTP request of seconds), so
 * an attempt is claimed with a lease, made, and recorded against the
 * claim; see store.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static enum store_urgency urgency_of(const char *s)
{
  if (strcmp(s, "critical") == 0)
    return STORE_URG_CRITICAL;
  if (strcmp(s, "urgent") == 0)
    return STORE_URG_URGENT;
  return STORE_URG_NORMAL;
}

static void event_from_row(const PGresult *res, int r, void *elem)
{
  struct store_ding_event *e = elem;
  char urg[16];

  e->conversation_id = store_field_i64(res, r, 0);
  e->seq = store_field_i64(res, r, 1);
  e->user_id = store_field_i64(res, r, 2);
  e->what = (enum store_ding_what)store_field_i64(res, r, 3);
  e->step = (int)store_field_i64(res, r, 4);
  e->overrode_quiet = store_field_bool(res, r, 5);
  e->manager_id = store_field_i64(res, r, 6);
  e->webhook = store_field_bool(res, r, 7);
  if (PQgetisnull(res, r, 8)) {
    e->sender_kind = STORE_PRINCIPAL_BOT;
    e->sender_id = store_field_i64(res, r, 9);
  } else {
    e->sender_kind = STORE_PRINCIPAL_USER;
    e->sender_id = store_field_i64(res, r, 8);
  }
  store_field(res, r, 10, urg, sizeof urg);
  e->urgency = urgency_of(urg);
}

/* Feed entries for the events that changed a row (not deferrals). */
static int notify(struct store_conn *c, const struct store_ding_event *ev,
                  size_t n, struct store_ding_note **notes, size_t *n_notes)
{
  int64_t *v[3] = {NULL};
  char *p[3] = {NULL};
  PGresult *res = NULL;
  size_t k = 0;
  int rc = STORE_OK;

  for (int i = 0; i < 3; i++)
    if (!(v[i] = calloc(n ? n : 1, sizeof(int64_t))))
      rc = store_fail(c, STORE_EINTERNAL, "out of memory");
  for (size_t j = 0; rc == STORE_OK && j < n; j++) {
    if (ev[j].what == STORE_DING_DEFERRED)
      continue;
    v[0][k] = ev[j].conversation_id;
    v[1][k] = ev[j].seq;
    v[2][k] = ev[j].user_id;
    k++;
  }
  if (rc == STORE_OK && k == 0)
    goto out;
  for (int i = 0; rc == STORE_OK && i < 3; i++)
    if (!(p[i] = store_i64_array_text(v[i], k)))
      rc = store_fail(c, STORE_EINTERNAL, "out of memory");
  if (rc == STORE_OK)
    rc = store_exec(c, &res,
                    "SELECT * FROM herald_ding_notify($1::bigint[],"
                    " $2::bigint[], $3::bigint[], true)",
                    3, (const char *const *)p);
  if (rc == STORE_OK)
    rc = store_ding_notes_of(c, res, 0, notes, n_notes);
out:
  PQclear(res);
  for (int i = 0; i < 3; i++) {
    free(v[i]);
    free(p[i]);
  }
  return rc;
}

int store_ding_fire(struct store_conn *c, const char *node, size_t limit,
                    struct store_ding_event **events, size_t *n_events,
                    struct store_ding_note **notes, size_t *n_notes)
{
  char lb[STORE_I64_BUF];
  const char *p[2] = {node, NULL};
  struct store_ding_event *ev = NULL;
  struct store_ding_note *nl = NULL;
  size_t nev = 0, nn = 0;
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  if (!node || !*node || strlen(node) > 100)
    return store_fail(c, STORE_EINVAL, "node name must be 1-100 bytes");
  if (limit < 1 || limit > 100000)
    return store_fail(c, STORE_EINVAL, "limit must be 1-100000");
  p[1] = store_i64(lb, (int64_t)limit);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = store_exec(c, &res,
                    "SELECT * FROM herald_ding_fire($1, $2::integer)", 2, p);
  if (rc == STORE_OK)
    rc = store_rows(c, res, sizeof *ev, event_from_row, (void **)&ev, &nev);
  if (rc == STORE_OK)
    rc = notify(c, ev, nev, &nl, &nn);
  if (rc == STORE_OK)
    rc = store_commit(c);
  PQclear(res);
  if (rc != STORE_OK) {
    store_rollback(c);
    free(ev);
    free(nl);
    return rc;
  }
  *events = ev;
  *n_events = nev;
  *notes = nl;
  *n_notes = nn;
  return STORE_OK;
}

int store_ding_next_due(struct store_conn *c, int64_t *due_ms)
{
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  /* A webhook attempt under a live claim is due when the claim runs out;
   * a step deferred by a quiet stretch that never ends ('infinity') is
   * never due. */
  rc = store_exec(c, &res,
                  "SELECT coalesce(floor(extract(epoch FROM least("
                  " (SELECT min(next_due_at) FROM ding_recipients"
                  "  WHERE next_due_at IS NOT NULL"
                  "  AND next_due_at < 'infinity'),"
                  " (SELECT min(greatest(webhook_due_at,"
                  "   coalesce(claim_expires_at, webhook_due_at)))"
                  "  FROM ding_recipients WHERE webhook_due_at IS NOT NULL)"
                  ")) * 1000)::bigint, 0)", 0, NULL);
  if (rc == STORE_OK)
    *due_ms = store_field_i64(res, 0, 0);
  PQclear(res);
  return rc;
}

int store_ding_webhook_claim(struct store_conn *c, const char *node,
                             int lease_s, struct store_ding_webhook *out,
                             bool *found)
{
  char lb[STORE_I64_BUF];
  const char *p[2] = {node, store_i64(lb, lease_s)};
  struct store_ding_webhook w;
  PGresult *res = NULL;
  size_t len;
  int rc;

  store_clear(c);
  if (!node || !*node || strlen(node) > 100)
    return store_fail(c, STORE_EINVAL, "node name must be 1-100 bytes");
  if (lease_s < 1)
    return store_fail(c, STORE_EINVAL, "lease must be at least 1 s");
  rc = store_exec(c, &res,
                  "SELECT * FROM herald_ding_webhook_claim($1,"
                  " make_interval(secs => $2::bigint))", 2, p);
  if (rc != STORE_OK)
    return rc;
  *found = false;
  if (PQntuples(res) == 0)
    goto out;
  memset(&w, 0, sizeof w);
  w.conversation_id = store_field_i64(res, 0, 0);
  w.seq = store_field_i64(res, 0, 1);
  w.user_id = store_field_i64(res, 0, 2);
  w.attempt = (int)store_field_i64(res, 0, 3);
  store_field(res, 0, 4, w.url, sizeof w.url);
  len = (size_t)PQgetlength(res, 0, 5);
  if (!(w.payload = malloc(len + 1))) {
    rc = store_fail(c, STORE_EINTERNAL, "out of memory");
    goto out;
  }
  memcpy(w.payload, PQgetvalue(res, 0, 5), len);
  w.payload[len] = '\0';
  *out = w;
  *found = true;
out:
  PQclear(res);
  return rc;
}

int store_ding_webhook_record(struct store_conn *c,
                              const struct store_ding_webhook *w,
                              const char *node, const char *outcome,
                              int http_status, const char *detail,
                              const int *backoff_s, size_t n_backoff,
                              bool *recorded, int64_t *next_ms)
{
  char cb[STORE_I64_BUF], sb[STORE_I64_BUF], ub[STORE_I64_BUF];
  char ab[STORE_I64_BUF], hb[STORE_I64_BUF], *arr = NULL;
  int64_t *bo = NULL;
  const char *p[9];
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  if (strcmp(outcome, "ok") != 0 && strcmp(outcome, "failed") != 0 &&
      strcmp(outcome, "skipped") != 0)
    return store_fail(c, STORE_EINVAL, "invalid outcome \"%.20s\"", outcome);
  if (n_backoff && !(bo = calloc(n_backoff, sizeof *bo)))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  for (size_t i = 0; i < n_backoff; i++)
    bo[i] = backoff_s[i];
  if (!(arr = store_i64_array_text(bo, n_backoff))) {
    free(bo);
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  }
  p[0] = store_i64(cb, w->conversation_id);
  p[1] = store_i64(sb, w->seq);
  p[2] = store_i64(ub, w->user_id);
  p[3] = node;
  p[4] = store_i64(ab, w->attempt);
  p[5] = outcome;
  p[6] = http_status > 0 ? store_i64(hb, http_status) : NULL;
  p[7] = detail ? detail : "";
  p[8] = arr;
  rc = store_exec(c, &res,
                  "SELECT * FROM herald_ding_webhook_record($1::bigint,"
                  " $2::bigint, $3::bigint, $4, $5::integer, $6, $7::integer,"
                  " $8, $9::integer[])", 9, p);
  if (rc == STORE_OK) {
    *recorded = store_field_bool(res, 0, 0);
    if (next_ms)
      *next_ms = store_field_i64(res, 0, 1);
  }
  PQclear(res);
  free(arr);
  free(bo);
  return rc;
}
