/*
 * reports.c — "unread over N" (SPEC §10): who has not read tracked
 * messages, or not acknowledged DINGs, for longer than a threshold, in the
 * caller's scope, with totals per recipient and department. Every run is
 * written to the audit log in the same transaction as the report.
 *
 * How it stays fast (tests/bench `herald-bench unread`: 1,000 users, 1M
 * tracked messages, ~2M unread message-member pairs in the whole org):
 *
 *   - Unread state is the member's marker, so the unread messages of one
 *     (member, conversation) pair are the tracked messages above read_seq:
 *     a range of messages_tracked_cover_idx, read index-only (the index
 *     carries sent_at, sender and kind). The scope is a set of pairs built
 *     from the org tree (users_manager_idx, recursively) and the caller's
 *     owned conversations, so a manager's report costs their team's pairs,
 *     not the organisation.
 *   - Totals are COUNTED per pair, never materialised row by row: only the
 *     rows that can be among the first `limit` (those of the first
 *     recipients by id) are built, sorted and returned.
 *   - "Unread for" comes from the SQL function herald_unread_seconds() (sql/
 *     0004_receipts.sql) and nowhere else; the quiet-hours work replaces it
 *     with business time. Two properties of ANY such measure make the
 *     counting exact without calling it per message: it never exceeds
 *     elapsed time (so the pre-filter sent_at <= now - N loses nothing),
 *     and it never grows as sent_at moves later (a later message has waited
 *     through part of the same interval). So when the newest pre-filtered
 *     message of a pair is old enough, all of the pair's are; only pairs
 *     where it is not are counted message by message.
 *   - A DING's acknowledgement is looked up per DING (lateral, by key), and
 *     the read-but-unacknowledged DINGs through ding_recipients_unacked_idx
 *     (sql/0006_report_perf.sql). The planner cannot know how few pairs a
 *     scope yields (it guesses from whole-table statistics), so the lookups
 *     that must stay per-row lookups are written as laterals with OFFSET 0,
 *     which it cannot flatten into a hash join over the whole table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* $1 caller, $2 everyone, $3 the caller's subtree, $4 the caller's owned
 * conversations, $5 threshold seconds, $6 conversation or NULL, $7
 * department id or NULL, $8 row limit or NULL.
 *
 * CTEs: who = the (member, conversation, marker) pairs in scope; pairs =
 * per pair, the count of unread tracked messages pre-filtered on sent_at,
 * of unacknowledged DINGs among them, and whether the newest is old enough
 * by herald_unread_seconds (then all are: see above); cand = recipients
 * whose rows may be among the first $8 (counting only the whole pairs
 * before them, a lower bound, so a superset); detail = message rows of the
 * pairs of cand and of the pairs not whole, with their unread time; dk =
 * DINGs read but not acknowledged; tot = totals per recipient.
 *
 * Output, ordered by t then ord then department:
 *   t 0  one report row (columns 1-9), ord its rank by recipient, age
 *   t 1  a recipient's totals: user 1, name 10, dept 11, unread 12, dings 13
 *   t 2  a department's totals: dept 11, unread 12, dings 13
 *   t 3  the number of rows before the limit in column 12, the
 *        transaction's now() in ms in column 13
 *
 * Row ranks are exact: every row of a cand recipient is in detail or dk,
 * and a recipient not in cand has at least $8 rows before it. */
static const char REPORT_SQL[] =
  "WITH RECURSIVE team(id) AS ("
  "  SELECT u.id FROM users u"
  "  WHERE $3::boolean AND u.manager_id = $1::bigint"
  "  UNION"
  "  SELECT u.id FROM users u JOIN team t ON u.manager_id = t.id),"
  " scope AS ("
  "  SELECT m.user_id, m.conversation_id, m.read_seq FROM members m"
  "  WHERE $2::boolean AND m.left_seq IS NULL"
  "  UNION"
  "  SELECT m.user_id, m.conversation_id, m.read_seq"
  "  FROM team t CROSS JOIN LATERAL ("
  "   SELECT m.user_id, m.conversation_id, m.read_seq FROM members m"
  "   WHERE m.user_id = t.id AND m.left_seq IS NULL OFFSET 0) m"
  "  UNION"
  "  SELECT m.user_id, m.conversation_id, m.read_seq"
  "  FROM members o JOIN members m ON m.conversation_id = o.conversation_id"
  "  WHERE $4::boolean AND o.user_id = $1::bigint AND o.role = 'owner'"
  "  AND o.left_seq IS NULL AND m.left_seq IS NULL),"
  " who AS MATERIALIZED ("
  "  SELECT s.user_id, s.conversation_id, s.read_seq"
  "  FROM scope s JOIN users u ON u.id = s.user_id AND u.active"
  "  WHERE ($6::bigint IS NULL OR s.conversation_id = $6::bigint)"
  "  AND ($7::bigint IS NULL OR u.department_id = $7::bigint)),"
  " pairs AS MATERIALIZED ("
  "  SELECT w.user_id, w.conversation_id, w.read_seq, a.n, a.nd,"
  "   herald_unread_seconds(w.user_id, a.newest, now()) >= $5::bigint"
  "    AS whole"
  "  FROM who w"
  "  JOIN conversations c ON c.id = w.conversation_id"
  "   AND c.last_seq > w.read_seq"
  "  CROSS JOIN LATERAL ("
  "   SELECT count(*) AS n, max(x.sent_at) AS newest,"
  "    count(*) FILTER (WHERE CASE WHEN x.kind = 'ding' THEN NOT EXISTS ("
  "     SELECT 1 FROM ding_recipients dr"
  "     WHERE dr.conversation_id = x.conversation_id AND dr.seq = x.seq"
  "     AND dr.user_id = w.user_id AND dr.acked_at IS NOT NULL) END)"
  "     AS nd"
  "   FROM messages x"
  "   WHERE x.tracked AND x.conversation_id = w.conversation_id"
  "   AND x.seq > w.read_seq"
  "   AND x.sent_at <= now() - make_interval(secs => $5::bigint)"
  "   AND x.sender_user_id IS DISTINCT FROM w.user_id) a"
  "  WHERE a.n > 0),"
  " cand AS ("
  "  SELECT f.user_id FROM ("
  "   SELECT p.user_id, sum(sum(p.n) FILTER (WHERE p.whole)) OVER ("
  "    ORDER BY p.user_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
  "    AS before"
  "   FROM pairs p GROUP BY p.user_id) f"
  "  WHERE $8::bigint IS NULL OR coalesce(f.before, 0) < $8::bigint),"
  " detail AS MATERIALIZED ("
  "  SELECT p.user_id, p.conversation_id, x.seq, x.sender_user_id,"
  "   x.sender_bot_id, x.sent_at, x.kind = 'ding' AS ding,"
  "   coalesce(a.acked, false) AS acked, p.whole,"
  "   herald_unread_seconds(p.user_id, x.sent_at, now()) AS unread_s"
  "  FROM pairs p"
  "  CROSS JOIN LATERAL ("
  "   SELECT x.seq, x.sender_user_id, x.sender_bot_id, x.sent_at, x.kind"
  "   FROM messages x"
  "   WHERE x.tracked AND x.conversation_id = p.conversation_id"
  "   AND x.seq > p.read_seq"
  "   AND x.sent_at <= now() - make_interval(secs => $5::bigint)"
  "   AND x.sender_user_id IS DISTINCT FROM p.user_id) x"
  "  LEFT JOIN LATERAL ("
  "   SELECT dr.acked_at IS NOT NULL AS acked FROM ding_recipients dr"
  "   WHERE x.kind = 'ding' AND dr.conversation_id = p.conversation_id"
  "   AND dr.seq = x.seq AND dr.user_id = p.user_id OFFSET 0) a ON true"
  "  WHERE p.whole IS NOT TRUE OR p.user_id IN (SELECT user_id FROM cand)),"
  /* DINGs read but not acknowledged (unread ones are above). */
  " dk AS MATERIALIZED ("
  "  SELECT d.* FROM ("
  "   SELECT w.user_id, w.conversation_id, x.seq, x.sender_user_id,"
  "    x.sender_bot_id, x.sent_at, true AS ding, false AS acked,"
  "    herald_unread_seconds(w.user_id, x.sent_at, now()) AS unread_s"
  "   FROM who w"
  "   CROSS JOIN LATERAL ("
  "    SELECT dr.conversation_id, dr.seq FROM ding_recipients dr"
  "    WHERE dr.user_id = w.user_id"
  "    AND dr.conversation_id = w.conversation_id"
  "    AND dr.acked_at IS NULL AND dr.seq <= w.read_seq OFFSET 0) dr"
  "   JOIN messages x ON x.conversation_id = dr.conversation_id"
  "    AND x.seq = dr.seq"
  "    AND x.sent_at <= now() - make_interval(secs => $5::bigint)) d"
  "  WHERE d.unread_s >= $5::bigint),"
  " kk AS ("
  "  SELECT user_id, conversation_id, seq, sender_user_id, sender_bot_id,"
  "   sent_at, ding, acked, unread_s"
  "  FROM detail WHERE unread_s >= $5::bigint"
  "  UNION ALL"
  "  SELECT user_id, conversation_id, seq, sender_user_id, sender_bot_id,"
  "   sent_at, ding, acked, unread_s FROM dk),"
  " tot AS MATERIALIZED ("
  "  SELECT a.user_id, sum(a.n)::bigint AS n, sum(a.nd)::bigint AS nd"
  "  FROM ("
  "   SELECT user_id, n, nd FROM pairs WHERE whole"
  "   UNION ALL"
  "   SELECT user_id, 1, (ding AND NOT acked)::int FROM detail"
  "   WHERE whole IS NOT TRUE AND unread_s >= $5::bigint"
  "   UNION ALL"
  "   SELECT user_id, 1, 1 FROM dk) a"
  "  GROUP BY a.user_id),"
  " totu AS ("
  "  SELECT t.user_id, t.n, t.nd, u.display_name,"
  "   coalesce(d.name, '') AS dept"
  "  FROM tot t JOIN users u ON u.id = t.user_id"
  "  LEFT JOIN departments d ON d.id = u.department_id)"
  " SELECT 0 AS t, q.user_id, q.conversation_id, q.seq, q.sender_user_id,"
  "  q.sender_bot_id, q.sent_ms, q.unread_s, q.ding, q.acked,"
  "  NULL::text AS name, NULL::text AS dept, NULL::bigint AS n1,"
  "  NULL::bigint AS n2, q.ord"
  " FROM (SELECT kk.*,"
  "   floor(extract(epoch FROM kk.sent_at) * 1000)::bigint AS sent_ms,"
  "   row_number() OVER (ORDER BY kk.user_id, kk.sent_at,"
  "    kk.conversation_id, kk.seq) AS ord"
  "  FROM kk ORDER BY ord LIMIT $8::bigint) q"
  " UNION ALL"
  " SELECT 1, totu.user_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
  "  totu.display_name, totu.dept, totu.n, totu.nd, totu.user_id"
  " FROM totu"
  " UNION ALL"
  " SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
  "  totu.dept, sum(totu.n)::bigint, sum(totu.nd)::bigint, 0"
  " FROM totu GROUP BY totu.dept"
  " UNION ALL"
  " SELECT 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
  "  NULL, coalesce((SELECT sum(n) FROM tot), 0)::bigint,"
  "  floor(extract(epoch FROM now()) * 1000)::bigint, 0"
  " ORDER BY 1, 15, 12";

static const char *scope_name(enum store_report_scope s)
{
  switch (s) {
  case STORE_REPORT_ALL: return "all";
  case STORE_REPORT_TEAM: return "team";
  case STORE_REPORT_OWNED: return "owned";
  case STORE_REPORT_ORG: return "org";
  }
  return NULL;
}

void store_report_cleanup(struct store_report *r)
{
  if (!r)
    return;
  free(r->rows);
  free(r->users);
  free(r->depts);
  memset(r, 0, sizeof *r);
}

/* Writes the audit row of a run in the caller's transaction. rows < 0:
 * the run was refused. */
static int audit_run(struct store_conn *c, int64_t caller, const char *login,
                     const struct store_report_query *q, int64_t rows)
{
  char cb[STORE_I64_BUF], ob[STORE_I64_BUF], vb[STORE_I64_BUF],
       lb[STORE_I64_BUF], rb[STORE_I64_BUF];
  const char *p[9] = {
    store_i64(cb, caller), login, store_i64(ob, q->older_than_s),
    scope_name(q->scope),
    q->conversation_id ? store_i64(vb, q->conversation_id) : NULL,
    q->department, q->limit ? store_i64(lb, (int64_t)q->limit) : NULL,
    rows >= 0 ? store_i64(rb, rows) : NULL, rows >= 0 ? "ok" : "refused"};

  return store_exec(c, NULL,
                    "INSERT INTO audit_log (actor_user_id, actor, action,"
                    " detail) VALUES ($1::bigint, $2, 'report.unread',"
                    " jsonb_build_object('older_s', $3::bigint,"
                    " 'scope', $4::text, 'conv', $5::bigint,"
                    " 'dept', $6::text, 'limit', $7::bigint,"
                    " 'rows', $8::bigint, 'outcome', $9::text))", 9, p);
}

/* Turns the report result into *out (which must be zeroed). */
static int read_report(struct store_conn *c, const PGresult *res,
                       struct store_report *out)
{
  int rows = PQntuples(res);
  size_t nr = 0, nu = 0, nd = 0;

  for (int i = 0; i < rows; i++) {
    int64_t t = store_field_i64(res, i, 0);

    nr += t == 0;
    nu += t == 1;
    nd += t == 2;
  }
  if ((nr && !(out->rows = calloc(nr, sizeof *out->rows))) ||
      (nu && !(out->users = calloc(nu, sizeof *out->users))) ||
      (nd && !(out->depts = calloc(nd, sizeof *out->depts))))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  for (int i = 0; i < rows; i++) {
    switch (store_field_i64(res, i, 0)) {
    case 0: {
      struct store_report_row *r = &out->rows[out->n_rows++];

      r->user_id = store_field_i64(res, i, 1);
      r->conversation_id = store_field_i64(res, i, 2);
      r->seq = store_field_i64(res, i, 3);
      if (PQgetisnull(res, i, 4)) {
        r->sender_kind = STORE_PRINCIPAL_BOT;
        r->sender_id = store_field_i64(res, i, 5);
      } else {
        r->sender_kind = STORE_PRINCIPAL_USER;
        r->sender_id = store_field_i64(res, i, 4);
      }
      r->sent_at_ms = store_field_i64(res, i, 6);
      r->unread_s = store_field_i64(res, i, 7);
      r->ding = store_field_bool(res, i, 8);
      r->acked = store_field_bool(res, i, 9);
      break;
    }
    case 1: {
      struct store_report_user *u = &out->users[out->n_users++];

      u->user_id = store_field_i64(res, i, 1);
      store_field(res, i, 10, u->display_name, sizeof u->display_name);
      store_field(res, i, 11, u->department, sizeof u->department);
      u->unread = store_field_i64(res, i, 12);
      u->dings = store_field_i64(res, i, 13);
      break;
    }
    case 2: {
      struct store_report_dept *d = &out->depts[out->n_depts++];

      store_field(res, i, 11, d->department, sizeof d->department);
      d->unread = store_field_i64(res, i, 12);
      d->dings = store_field_i64(res, i, 13);
      break;
    }
    default:
      out->total_rows = store_field_i64(res, i, 12);
      out->now_ms = store_field_i64(res, i, 13);
      break;
    }
  }
  out->truncated = out->total_rows > (int64_t)out->n_rows;
  return STORE_OK;
}

/* Looks up the caller (switching JIT off for the transaction); decides the
 * scope flags or refuses. */
static int caller_scope(struct store_conn *c, int64_t caller,
                        enum store_report_scope scope,
                        char login[STORE_LOGIN_MAX + 1], bool *all,
                        bool *team, bool *owned)
{
  PGresult *res = NULL;
  char cb[STORE_I64_BUF], role_s[16];
  const char *p[1] = {store_i64(cb, caller)};
  enum store_role role = STORE_ROLE_STAFF;
  bool active;
  int rc;

  /* The planner cannot know how few rows a scope yields (it guesses from
   * whole-table statistics, hundreds of thousands), and JIT compiling a
   * plan costed that way took 70 ms of a 25 ms report: off for this
   * transaction only (SET LOCAL), in this statement to save a round trip. */
  rc = store_exec(c, &res,
                  "SELECT login, role, active, set_config('jit', 'off', true)"
                  " FROM users WHERE id = $1::bigint",
                  1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown user id %s", cb);
    goto out;
  }
  store_field(res, 0, 0, login, STORE_LOGIN_MAX + 1);
  store_field(res, 0, 1, role_s, sizeof role_s);
  (void)store_role_parse(role_s, &role);
  active = store_field_bool(res, 0, 2);
  *all = *team = *owned = false;
  if (!active || role == STORE_ROLE_STAFF) {
    rc = store_fail(c, STORE_EFORBIDDEN, "user \"%s\" may not run reports",
                    login);
    goto out;
  }
  switch (scope) {
  case STORE_REPORT_ALL:
    if (role == STORE_ROLE_ADMIN)
      *all = true;
    else
      *team = *owned = true;
    break;
  case STORE_REPORT_ORG:
    if (role != STORE_ROLE_ADMIN) {
      rc = store_fail(c, STORE_EFORBIDDEN,
                      "only admins may report on the whole organisation");
      goto out;
    }
    *all = true;
    break;
  case STORE_REPORT_TEAM:
    *team = true;
    break;
  case STORE_REPORT_OWNED:
    *owned = true;
    break;
  }
out:
  PQclear(res);
  return rc;
}

/* Resolves the optional filters: the department's id into dept_id (""
 * when none), and checks the conversation exists. */
static int resolve_filters(struct store_conn *c,
                           const struct store_report_query *q,
                           char dept_id[STORE_I64_BUF])
{
  PGresult *res = NULL;
  char vb[STORE_I64_BUF];
  int rc = STORE_OK;

  dept_id[0] = '\0';
  if (q->department) {
    const char *p[1] = {q->department};

    rc = store_exec(c, &res,
                    "SELECT id FROM departments WHERE lower(name) = lower($1)",
                    1, p);
    if (rc != STORE_OK)
      goto out;
    if (PQntuples(res) == 0) {
      rc = store_fail(c, STORE_ENOTFOUND, "unknown department \"%s\"",
                      q->department);
      goto out;
    }
    store_field(res, 0, 0, dept_id, STORE_I64_BUF);
    PQclear(res);
    res = NULL;
  }
  if (q->conversation_id) {
    const char *p[1] = {store_i64(vb, q->conversation_id)};

    rc = store_exec(c, &res,
                    "SELECT 1 FROM conversations WHERE id = $1::bigint", 1, p);
    if (rc == STORE_OK && PQntuples(res) == 0)
      rc = store_fail(c, STORE_ENOTFOUND, "unknown conversation id %s", vb);
  }
out:
  PQclear(res);
  return rc;
}

int store_report_unread(struct store_conn *c, int64_t caller_id,
                        const struct store_report_query *q,
                        struct store_report *out)
{
  PGresult *res = NULL;
  char login[STORE_LOGIN_MAX + 1] = "", dept_id[STORE_I64_BUF];
  char cb[STORE_I64_BUF], ob[STORE_I64_BUF], vb[STORE_I64_BUF],
       lb[STORE_I64_BUF];
  struct store_report r;
  bool all = false, team = false, owned = false;
  int rc;

  store_clear(c);
  memset(&r, 0, sizeof r);
  if (q->older_than_s < 0 || q->older_than_s > 10LL * 366 * 86400)
    return store_fail(c, STORE_EINVAL,
                      "the threshold must be 0 to 10 years in seconds");
  if (!scope_name(q->scope))
    return store_fail(c, STORE_EINVAL, "invalid report scope %d",
                      (int)q->scope);
  rc = store_begin(c);
  if (rc != STORE_OK)
    goto out;
  rc = caller_scope(c, caller_id, q->scope, login, &all, &team, &owned);
  if (rc == STORE_EFORBIDDEN) {
    /* A refused run is audited too; the refusal is what is returned. */
    char why[sizeof c->errmsg];

    snprintf(why, sizeof why, "%s", c->errmsg);
    rc = audit_run(c, caller_id, login, q, -1);
    if (rc == STORE_OK)
      rc = store_commit(c);
    if (rc == STORE_OK)
      rc = store_fail(c, STORE_EFORBIDDEN, "%s", why);
    goto out;
  }
  if (rc == STORE_OK)
    rc = resolve_filters(c, q, dept_id);
  if (rc != STORE_OK)
    goto out;
  {
    const char *p[8] = {store_i64(cb, caller_id), all ? "true" : "false",
                        team ? "true" : "false", owned ? "true" : "false",
                        store_i64(ob, q->older_than_s),
                        q->conversation_id ? store_i64(vb, q->conversation_id)
                                           : NULL,
                        dept_id[0] ? dept_id : NULL,
                        q->limit ? store_i64(lb, (int64_t)q->limit) : NULL};

    rc = store_exec(c, &res, REPORT_SQL, 8, p);
  }
  if (rc == STORE_OK)
    rc = read_report(c, res, &r);
  PQclear(res);
  res = NULL;
  if (rc == STORE_OK)
    rc = audit_run(c, caller_id, login, q, r.total_rows);
  if (rc == STORE_OK)
    rc = store_commit(c);
out:
  PQclear(res);
  if (rc != STORE_OK) {
    store_rollback(c);
    store_report_cleanup(&r);
    return rc;
  }
  r.older_than_s = q->older_than_s;
  *out = r;
  return STORE_OK;
}
