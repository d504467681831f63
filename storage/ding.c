/*
 * ding.c — the state of DING recipients: delivered, read, acknowledged;
 * the sender's board; the notes (feed entries with the row's state) that
 * every change produces; the org's DING policy.
 *
 * The changes themselves are SQL functions of sql/0008_ding.sql, each one
 * statement (one transaction), that return the feed entries they
 * appended; each call here runs the function and then reads the affected
 * rows' states for the notes. The scheduler's side (due steps, webhooks)
 * is in ding_sched.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

char *store_i64_array_text(const int64_t *v, size_t n)
{
  size_t cap = 3 + n * (STORE_I64_BUF + 1), len = 0;
  char *s = malloc(cap);

  if (!s)
    return NULL;
  s[len++] = '{';
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(s + len, cap - len, "%s%lld", i ? "," : "",
                            (long long)v[i]);
  s[len++] = '}';
  s[len] = '\0';
  return s;
}

int store_i64_array_parse(const char *s, int64_t **out, size_t *n)
{
  size_t count = 0, k = 0;
  int64_t *v = NULL;
  const char *p;

  *out = NULL;
  *n = 0;
  if (!s || *s != '{')
    return -1;
  if (strcmp(s, "{}") == 0)
    return 0;
  for (p = s; *p; p++)
    count += *p == ',';
  if (!(v = calloc(count + 1, sizeof *v)))
    return -1;
  p = s + 1;
  for (;;) {
    char *end;
    long long x;

    errno = 0;
    x = strtoll(p, &end, 10);
    if (errno || end == p || k > count) {
      free(v);
      return -1;
    }
    v[k++] = x;
    if (*end == '}' && end[1] == '\0')
      break;
    if (*end != ',') {
      free(v);
      return -1;
    }
    p = end + 1;
  }
  *out = v;
  *n = k;
  return 0;
}

static enum store_urgency urgency_of(const char *s)
{
  if (strcmp(s, "critical") == 0)
    return STORE_URG_CRITICAL;
  if (strcmp(s, "urgent") == 0)
    return STORE_URG_URGENT;
  return STORE_URG_NORMAL;
}

/* The state of recipient rows for a list of feed entries, in input order.
 * Columns: 0 user, 1 fs, 2 conversation, 3 seq, then the row (4 user,
 * 5 delivered, 6 read, 7 acked, 8 acked ms, 9 step, 10 escalated) and the
 * DING (11 sender user, 12 sender bot, 13 urgency). */
static const char NOTES_SQL[] =
  "SELECT e.u, e.fs, e.c, e.s, z.*"
  " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],"
  "  $5::bigint[]) WITH ORDINALITY AS e(u, fs, c, s, subj, o)"
  /* Primary-key probes per entry, kept apart from the unnest by the
   * LIMIT (see herald_ding_notify in sql/0008_ding.sql). */
  " CROSS JOIN LATERAL ("
  "  SELECT r.user_id, r.delivered_at IS NOT NULL,"
  "   coalesce((SELECT m.read_seq >= r.seq FROM members m"
  "    WHERE m.conversation_id = r.conversation_id"
  "    AND m.user_id = r.user_id), false),"
  "   r.acked_at IS NOT NULL,"
  "   coalesce(floor(extract(epoch FROM r.acked_at) * 1000)::bigint, 0),"
  "   r.step, r.escalated_at IS NOT NULL, x.sender_user_id,"
  "   x.sender_bot_id, d.urgency"
  "  FROM ding_recipients r"
  "  JOIN dings d ON d.conversation_id = r.conversation_id AND d.seq = r.seq"
  "  JOIN messages x ON x.conversation_id = r.conversation_id"
  "   AND x.seq = r.seq"
  "  WHERE r.conversation_id = e.c AND r.seq = e.s AND r.user_id = e.subj"
  "  LIMIT 1) AS z"
  " ORDER BY e.o";

static void row_from(const PGresult *res, int r, int col,
                     struct store_ding_row *row)
{
  row->user_id = store_field_i64(res, r, col);
  row->delivered = store_field_bool(res, r, col + 1);
  row->read = store_field_bool(res, r, col + 2);
  row->acked = store_field_bool(res, r, col + 3);
  row->acked_at_ms = store_field_i64(res, r, col + 4);
  row->step = (int)store_field_i64(res, r, col + 5);
  row->escalated = store_field_bool(res, r, col + 6);
}

static void note_from_row(const PGresult *res, int r, void *elem)
{
  struct store_ding_note *n = elem;
  char urg[16];

  n->to_user = store_field_i64(res, r, 0);
  n->fs = store_field_i64(res, r, 1);
  n->conversation_id = store_field_i64(res, r, 2);
  n->seq = store_field_i64(res, r, 3);
  row_from(res, r, 4, &n->row);
  if (PQgetisnull(res, r, 11)) {
    n->sender_kind = STORE_PRINCIPAL_BOT;
    n->sender_id = store_field_i64(res, r, 12);
  } else {
    n->sender_kind = STORE_PRINCIPAL_USER;
    n->sender_id = store_field_i64(res, r, 11);
  }
  store_field(res, r, 13, urg, sizeof urg);
  n->urgency = urgency_of(urg);
}

/* Runs NOTES_SQL for entries given as five parallel arrays. */
static int notes_for(struct store_conn *c, const int64_t *const cols[5],
                     size_t n, struct store_ding_note **notes,
                     size_t *n_notes)
{
  char *p[5] = {NULL};
  PGresult *res = NULL;
  int rc = STORE_OK;

  *notes = NULL;
  *n_notes = 0;
  if (n == 0)
    return STORE_OK;
  for (int i = 0; i < 5; i++)
    if (!(p[i] = store_i64_array_text(cols[i], n)))
      rc = store_fail(c, STORE_EINTERNAL, "out of memory");
  if (rc == STORE_OK)
    rc = store_exec(c, &res, NOTES_SQL, 5, (const char *const *)p);
  if (rc == STORE_OK)
    rc = store_rows(c, res, sizeof(struct store_ding_note), note_from_row,
                    (void **)notes, n_notes);
  PQclear(res);
  for (int i = 0; i < 5; i++)
    free(p[i]);
  return rc;
}

int store_ding_notes_of(struct store_conn *c, const PGresult *res, int col,
                        struct store_ding_note **notes, size_t *n_notes)
{
  int rows = PQntuples(res), rc = STORE_OK;
  int64_t *v[5] = {NULL};
  size_t k = 0;

  *notes = NULL;
  *n_notes = 0;
  for (int i = 0; i < 5; i++)
    if (rows > 0 && !(v[i] = calloc((size_t)rows, sizeof(int64_t))))
      rc = store_fail(c, STORE_EINTERNAL, "out of memory");
  for (int r = 0; rc == STORE_OK && r < rows; r++) {
    if (PQgetisnull(res, r, col))
      continue;     /* a status row without an entry */
    for (int i = 0; i < 5; i++)
      v[i][k] = store_field_i64(res, r, col + i);
    k++;
  }
  if (rc == STORE_OK)
    rc = notes_for(c, (const int64_t *const *)v, k, notes, n_notes);
  for (int i = 0; i < 5; i++)
    free(v[i]);
  return rc;
}

int store_ding_notes(struct store_conn *c, const struct store_feed_entry *e,
                     size_t n, struct store_ding_note **notes,
                     size_t *n_notes)
{
  int64_t *v[5] = {NULL};
  size_t k = 0;
  int rc = STORE_OK;

  store_clear(c);
  for (int i = 0; i < 5; i++)
    if (n > 0 && !(v[i] = calloc(n, sizeof(int64_t))))
      rc = store_fail(c, STORE_EINTERNAL, "out of memory");
  for (size_t j = 0; rc == STORE_OK && j < n; j++) {
    if (e[j].kind != STORE_FEED_DING)
      continue;
    v[0][k] = e[j].user_id;
    v[1][k] = e[j].fs;
    v[2][k] = e[j].conversation_id;
    v[3][k] = e[j].from_seq;
    v[4][k] = e[j].ding_user_id;
    k++;
  }
  if (rc == STORE_OK)
    rc = notes_for(c, (const int64_t *const *)v, k, notes, n_notes);
  else {
    *notes = NULL;
    *n_notes = 0;
  }
  for (int i = 0; i < 5; i++)
    free(v[i]);
  return rc;
}

/* Runs `sql` (one statement, so one transaction: a herald_ding_*
 * function returning the feed entries it appended from column `col`),
 * then reads the notes of those entries. The notes come after the commit
 * and so show the state as of then or later, which is what a note is for
 * (the latest state wins); a change that appended nothing costs one round
 * trip. *res_out (may be NULL) keeps the function's result. */
static int change(struct store_conn *c, const char *sql, int n,
                  const char *const *params, int col, PGresult **res_out,
                  struct store_ding_note **notes, size_t *n_notes)
{
  PGresult *res = NULL;
  struct store_ding_note *list = NULL;
  size_t nl = 0;
  int rc;

  rc = store_exec(c, &res, sql, n, params);
  if (rc == STORE_OK)
    rc = store_ding_notes_of(c, res, col, &list, &nl);
  if (rc != STORE_OK) {
    free(list);
    PQclear(res);
    return rc;
  }
  *notes = list;
  *n_notes = nl;
  if (res_out)
    *res_out = res;
  else
    PQclear(res);
  return STORE_OK;
}

int store_ding_delivered(struct store_conn *c, int64_t user_id,
                         int64_t conversation_id, const int64_t *seqs,
                         size_t n, struct store_ding_note **notes,
                         size_t *n_notes)
{
  char ub[STORE_I64_BUF], cb[STORE_I64_BUF], *arr;
  const char *p[3];
  int rc;

  store_clear(c);
  if (n == 0) {
    *notes = NULL;
    *n_notes = 0;
    return STORE_OK;
  }
  if (!(arr = store_i64_array_text(seqs, n)))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  p[0] = store_i64(ub, user_id);
  p[1] = store_i64(cb, conversation_id);
  p[2] = arr;
  rc = change(c,
              "SELECT * FROM herald_ding_delivered($1::bigint, $2::bigint,"
              " $3::bigint[])", 3, p, 0, NULL, notes, n_notes);
  free(arr);
  return rc;
}

int store_ding_read(struct store_conn *c, int64_t user_id,
                    int64_t conversation_id, int64_t from_seq, int64_t to_seq,
                    struct store_ding_note **notes, size_t *n_notes)
{
  char ub[STORE_I64_BUF], cb[STORE_I64_BUF], fb[STORE_I64_BUF];
  char tb[STORE_I64_BUF];
  const char *p[4] = {store_i64(ub, user_id), store_i64(cb, conversation_id),
                      store_i64(fb, from_seq), store_i64(tb, to_seq)};

  store_clear(c);
  return change(c,
                "SELECT * FROM herald_ding_read($1::bigint, $2::bigint,"
                " $3::bigint, $4::bigint)", 4, p, 0, NULL, notes, n_notes);
}

int store_ding_ack(struct store_conn *c, int64_t user_id,
                   int64_t conversation_id, int64_t seq, int64_t at_ms,
                   bool *changed, int64_t *acked_at_ms,
                   struct store_ding_note **notes, size_t *n_notes)
{
  char ub[STORE_I64_BUF], cb[STORE_I64_BUF], sb[STORE_I64_BUF];
  char ab[STORE_I64_BUF];
  const char *p[4] = {store_i64(ub, user_id), store_i64(cb, conversation_id),
                      store_i64(sb, seq),
                      at_ms > 0 ? store_i64(ab, at_ms) : NULL};
  PGresult *res = NULL;
  struct store_ding_note *list = NULL;
  size_t nl = 0;
  int rc, status;

  store_clear(c);
  rc = change(c,
              "SELECT * FROM herald_ding_ack($1::bigint, $2::bigint,"
              " $3::bigint, to_timestamp($4::bigint / 1000.0))",
              4, p, 2, &res, &list, &nl);
  if (rc != STORE_OK)
    return rc;
  status = PQntuples(res) > 0 ? (int)store_field_i64(res, 0, 0) : 1;
  if (status == 1) {
    PQclear(res);
    free(list);
    return store_fail(c, STORE_ENOTFOUND,
                      "no DING %lld:%lld addressed to user id %lld",
                      (long long)conversation_id, (long long)seq,
                      (long long)user_id);
  }
  *changed = status == 0;
  if (acked_at_ms)
    *acked_at_ms = store_field_i64(res, 0, 1);
  PQclear(res);
  *notes = list;
  *n_notes = nl;
  return STORE_OK;
}

/* $1 caller kind (1 user, 2 bot), $2 caller, $3 conversation, $4 seq.
 * Row 0 (t 0): may the caller see the conversation, is it a DING, the
 * sender, the urgency; then t 1 one row per recipient. */
static const char BOARD_SQL[] =
  "WITH ok AS (SELECT CASE WHEN $1::integer = 2 THEN EXISTS ("
  "  SELECT 1 FROM bot_conversations bc JOIN bots b ON b.id = bc.bot_id"
  "  WHERE bc.bot_id = $2::bigint AND bc.conversation_id = $3::bigint"
  "  AND b.revoked_at IS NULL)"
  " ELSE EXISTS (SELECT 1 FROM members mb"
  "  WHERE mb.conversation_id = $3::bigint AND mb.user_id = $2::bigint"
  "  AND mb.left_seq IS NULL) END AS ok),"
  " dg AS (SELECT d.urgency, x.sender_user_id, x.sender_bot_id"
  "  FROM ok JOIN dings d ON ok.ok AND d.conversation_id = $3::bigint"
  "  AND d.seq = $4::bigint"
  "  JOIN messages x ON x.conversation_id = d.conversation_id"
  "  AND x.seq = d.seq)"
  " SELECT 0 AS t, dg.sender_user_id, dg.sender_bot_id, dg.urgency,"
  "  NULL::bigint, NULL::boolean, NULL::boolean, NULL::boolean,"
  "  NULL::bigint, NULL::integer, NULL::boolean FROM dg"
  " UNION ALL"
  " SELECT 1, NULL, NULL, NULL, r.user_id, r.delivered_at IS NOT NULL,"
  "  coalesce(m.read_seq >= r.seq, false), r.acked_at IS NOT NULL,"
  "  coalesce(floor(extract(epoch FROM r.acked_at) * 1000)::bigint, 0),"
  "  r.step, r.escalated_at IS NOT NULL"
  " FROM dg, ding_recipients r"
  " LEFT JOIN members m ON m.conversation_id = r.conversation_id"
  "  AND m.user_id = r.user_id"
  " WHERE r.conversation_id = $3::bigint AND r.seq = $4::bigint"
  " ORDER BY 1, 5";

int store_ding_board(struct store_conn *c, enum store_principal_kind kind,
                     int64_t caller_id, int64_t conversation_id, int64_t seq,
                     struct store_ding_board *out)
{
  char kb[STORE_I64_BUF], ib[STORE_I64_BUF], cb[STORE_I64_BUF];
  char sb[STORE_I64_BUF];
  const char *p[4] = {store_i64(kb, kind), store_i64(ib, caller_id),
                      store_i64(cb, conversation_id), store_i64(sb, seq)};
  struct store_ding_board b;
  PGresult *res = NULL;
  char urg[16];
  int rc, rows;

  store_clear(c);
  memset(&b, 0, sizeof b);
  rc = store_exec(c, &res, BOARD_SQL, 4, p);
  if (rc != STORE_OK)
    return rc;
  rows = PQntuples(res);
  if (rows == 0 || store_field_i64(res, 0, 0) != 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown DING %lld:%lld",
                    (long long)conversation_id, (long long)seq);
    goto out;
  }
  if (PQgetisnull(res, 0, 1)) {
    b.sender_kind = STORE_PRINCIPAL_BOT;
    b.sender_id = store_field_i64(res, 0, 2);
  } else {
    b.sender_kind = STORE_PRINCIPAL_USER;
    b.sender_id = store_field_i64(res, 0, 1);
  }
  if (b.sender_kind != kind || b.sender_id != caller_id) {
    rc = store_fail(c, STORE_EFORBIDDEN,
                    "only the sender of a DING sees its board");
    goto out;
  }
  store_field(res, 0, 3, urg, sizeof urg);
  b.urgency = urgency_of(urg);
  if (rows > 1 && !(b.rows = calloc((size_t)rows - 1, sizeof *b.rows))) {
    rc = store_fail(c, STORE_EINTERNAL, "out of memory");
    goto out;
  }
  for (int r = 1; r < rows; r++)
    row_from(res, r, 4, &b.rows[b.n_rows++]);
  *out = b;
out:
  PQclear(res);
  return rc;
}

/* ---- the org's policy ---- */

int store_ding_policy_get(struct store_conn *c, struct store_ding_policy *out)
{
  struct store_ding_policy p;
  PGresult *res = NULL;
  int64_t *steps = NULL;
  size_t n = 0;
  int rc;

  store_clear(c);
  memset(&p, 0, sizeof p);
  rc = store_exec(c, &res,
                  "SELECT ARRAY(SELECT floor(extract(epoch FROM s))::bigint"
                  "  FROM unnest(ding_schedule) WITH ORDINALITY AS u(s, o)"
                  "  ORDER BY o),"
                  " floor(extract(epoch FROM ding_repeat_every))::bigint,"
                  " ding_max_alerts, ding_escalate_manager,"
                  " coalesce(escalation_webhook_url, '') FROM org",
                  0, NULL);
  if (rc != STORE_OK)
    return rc;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "the organisation is not set up "
                                        "(heraldctl init)");
    goto out;
  }
  if (store_i64_array_parse(PQgetvalue(res, 0, 0), &steps, &n) != 0 ||
      n > STORE_DING_ESC_MAX) {
    rc = store_fail(c, STORE_EINTERNAL, "bad DING schedule in org");
    goto out;
  }
  memcpy(p.steps_s, steps, n * sizeof *steps);
  p.n_steps = n;
  p.repeat_s = store_field_i64(res, 0, 1);
  p.max_alerts = (int)store_field_i64(res, 0, 2);
  p.manager = store_field_bool(res, 0, 3);
  store_field(res, 0, 4, p.webhook_url, sizeof p.webhook_url);
  *out = p;
out:
  free(steps);
  PQclear(res);
  return rc;
}

static int check_policy(struct store_conn *c, const struct store_ding_policy *p)
{
  size_t ulen = strlen(p->webhook_url);

  if (p->n_steps > STORE_DING_ESC_MAX)
    return store_fail(c, STORE_EINVAL, "at most %d re-alert steps",
                      STORE_DING_ESC_MAX);
  for (size_t i = 0; i < p->n_steps; i++) {
    if (p->steps_s[i] < 1 || p->steps_s[i] > STORE_DING_ESC_S_MAX)
      return store_fail(c, STORE_EINVAL,
                        "step %zu: %lld s is not between 1 s and %d s", i + 1,
                        (long long)p->steps_s[i], STORE_DING_ESC_S_MAX);
    if (i > 0 && p->steps_s[i] <= p->steps_s[i - 1])
      return store_fail(c, STORE_EINVAL,
                        "step %zu: the steps must increase", i + 1);
  }
  if (p->repeat_s < 1 || p->repeat_s > STORE_DING_ESC_S_MAX)
    return store_fail(c, STORE_EINVAL,
                      "repeat: %lld s is not between 1 s and %d s",
                      (long long)p->repeat_s, STORE_DING_ESC_S_MAX);
  if (p->max_alerts < 0 || p->max_alerts > 1000)
    return store_fail(c, STORE_EINVAL, "max: %d is not between 0 and 1000",
                      p->max_alerts);
  if (ulen > STORE_DING_URL_MAX)
    return store_fail(c, STORE_EINVAL, "webhook URL longer than %d bytes",
                      STORE_DING_URL_MAX);
  if (ulen && strncmp(p->webhook_url, "http://", 7) != 0 &&
      strncmp(p->webhook_url, "https://", 8) != 0)
    return store_fail(c, STORE_EINVAL,
                      "webhook URL \"%.200s\" must start with http:// or "
                      "https://", p->webhook_url);
  for (size_t i = 0; i < ulen; i++)
    if ((unsigned char)p->webhook_url[i] <= ' ')
      return store_fail(c, STORE_EINVAL,
                        "webhook URL must not contain spaces or control "
                        "characters");
  return STORE_OK;
}

int store_ding_policy_set(struct store_conn *c,
                          const struct store_ding_policy *p)
{
  char *steps = NULL, rb[STORE_I64_BUF], mb[STORE_I64_BUF], desc[160];
  const char *par[5];
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  if ((rc = check_policy(c, p)) != STORE_OK)
    return rc;
  if (!(steps = store_i64_array_text(p->steps_s, p->n_steps)))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  par[0] = steps;
  par[1] = store_i64(rb, p->repeat_s);
  par[2] = store_i64(mb, p->max_alerts);
  par[3] = p->manager ? "true" : "false";
  par[4] = p->webhook_url[0] ? p->webhook_url : NULL;
  snprintf(desc, sizeof desc, "steps %s repeat %lld s max %d manager %s",
           steps, (long long)p->repeat_s, p->max_alerts,
           p->manager ? "on" : "off");
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = store_exec(c, &res,
                    "UPDATE org SET ding_schedule = ARRAY(SELECT"
                    "  make_interval(secs => s) FROM unnest($1::bigint[])"
                    "  WITH ORDINALITY AS u(s, o) ORDER BY o),"
                    " ding_repeat_every = make_interval(secs => $2::bigint),"
                    " ding_max_alerts = $3::integer,"
                    " ding_escalate_manager = $4::boolean,"
                    " escalation_webhook_url = $5 RETURNING 1", 5, par);
  if (rc == STORE_OK && PQntuples(res) == 0)
    rc = store_fail(c, STORE_ENOTFOUND, "the organisation is not set up "
                                        "(heraldctl init)");
  if (rc == STORE_OK)
    rc = store_audit(c, "admin", "ding.policy", "schedule", desc, "webhook",
                     p->webhook_url[0] ? p->webhook_url : "none");
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    store_rollback(c);
  PQclear(res);
  free(steps);
  return rc;
}
