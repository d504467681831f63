/*
 * reports.c — "unread over N" (SPEC §10): who has not read tracked
 * messages, or not acknowledged DINGs, for longer than a threshold, in the
 * caller's scope, with totals per recipient and department. Every run is
 * written to the audit log in the same transaction as the report.
 *
 * How it stays fast: unread state is the member's marker, so the unread
 * messages of one (member, conversation) are the tracked messages above
 * read_seq — a range scan of messages_tracked_cover_idx (index-only: the
 * index carries sent_at, sender and kind) that only ever touches messages
 * the member has not read. The scope is a set of (member, conversation)
 * pairs built from the org tree (users_manager_idx, recursively) and the
 * caller's owned conversations, so a manager's report costs the pairs of
 * their team plus their unread rows, not the size of the organisation.
 *
 * "Unread for" is business time (SPEC §7.4): the time outside the
 * recipient's quiet hours, defined once in sql/0007_quiet_hours.sql
 * (herald_unread_seconds(user, sent, now) is that definition for one
 * row). Calling it per row would look the recipient's quiet-hours profile
 * up per row (~25 µs); the report instead joins each recipient's profile
 * once, with their business clock at "now", and per row evaluates the
 * same closed-form core at the sent time, inlined: unread_s =
 * P(now) - P(sent) (herald_business_position; ~2 µs a row, independent
 * of how long the message has been unread). The pre-filter sent_at <= now - N is
 * right because business time never exceeds elapsed time. "Now" is
 * herald_now() (the database's clock, see store_clock_set_offset), read
 * once per report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* The caller's scope as (member, conversation, marker) pairs: $1 caller,
 * $2 everyone, $3 the caller's subtree, $4 the caller's owned
 * conversations. Shared by the report and the reach check of its filters. */
#define SCOPE_CTES \
  "WITH RECURSIVE team(id) AS (" \
  "  SELECT u.id FROM users u" \
  "  WHERE $3::boolean AND u.manager_id = $1::bigint" \
  "  UNION" \
  "  SELECT u.id FROM users u JOIN team t ON u.manager_id = t.id)," \
  " scope AS (" \
  "  SELECT m.user_id, m.conversation_id, m.read_seq FROM members m" \
  "  WHERE $2::boolean AND m.left_seq IS NULL" \
  "  UNION" \
  "  SELECT m.user_id, m.conversation_id, m.read_seq" \
  "  FROM team t JOIN members m ON m.user_id = t.id" \
  "  WHERE m.left_seq IS NULL" \
  "  UNION" \
  "  SELECT m.user_id, m.conversation_id, m.read_seq" \
  "  FROM members o JOIN members m ON m.conversation_id = o.conversation_id" \
  "  WHERE $4::boolean AND o.user_id = $1::bigint AND o.role = 'owner'" \
  "  AND o.left_seq IS NULL AND m.left_seq IS NULL)"

/* $1 caller, $2 everyone, $3 the caller's subtree, $4 the caller's owned
 * conversations, $5 threshold seconds, $6 conversation or NULL, $7
 * department id or NULL, $8 row limit or NULL, $9 the report's now.
 *
 * Output, ordered by t then ord then department:
 *   t 0  one report row (columns 1-9), ord its rank by recipient, age
 *   t 1  a recipient's totals: user 1, name 10, dept 11, unread 12, dings 13
 *   t 2  a department's totals: dept 11, unread 12, dings 13
 *   t 3  the number of rows before the limit in column 12 */
static const char REPORT_SQL[] =
  SCOPE_CTES ","
  " who AS MATERIALIZED ("
  "  SELECT s.user_id, s.conversation_id, s.read_seq, u.display_name,"
  "   coalesce(d.name, '') AS dept"
  "  FROM scope s JOIN users u ON u.id = s.user_id AND u.active"
  "  LEFT JOIN departments d ON d.id = u.department_id"
  "  WHERE ($6::bigint IS NULL OR s.conversation_id = $6::bigint)"
  "  AND ($7::bigint IS NULL OR u.department_id = $7::bigint)),"
  /* Unread tracked messages; `ding` only where this member is one of the
   * DING's recipients (a DING to others is an ordinary unread message for
   * them), and then whether they acknowledged it anyway. */
  " unread AS ("
  "  SELECT w.user_id, w.conversation_id, x.seq, x.sender_user_id,"
  "   x.sender_bot_id, x.sent_at, dr.user_id IS NOT NULL AS ding,"
  "   dr.acked_at IS NOT NULL AS acked, w.display_name, w.dept"
  "  FROM who w"
  "  JOIN conversations c ON c.id = w.conversation_id"
  "   AND c.last_seq > w.read_seq"
  "  JOIN LATERAL ("
  "   SELECT x.seq, x.sender_user_id, x.sender_bot_id, x.sent_at, x.kind"
  "   FROM messages x"
  "   WHERE x.tracked AND x.conversation_id = w.conversation_id"
  "   AND x.seq > w.read_seq"
  "   AND x.sent_at <= $9::timestamptz - make_interval(secs => $5::bigint)"
  "   AND x.sender_user_id IS DISTINCT FROM w.user_id) x ON true"
  "  LEFT JOIN ding_recipients dr ON x.kind = 'ding'"
  "   AND dr.conversation_id = w.conversation_id AND dr.seq = x.seq"
  "   AND dr.user_id = w.user_id),"
  /* DINGs read but not acknowledged (unread ones are above). */
  " dings AS ("
  "  SELECT w.user_id, w.conversation_id, x.seq, x.sender_user_id,"
  "   x.sender_bot_id, x.sent_at, true AS ding, false AS acked,"
  "   w.display_name, w.dept"
  "  FROM who w"
  "  JOIN ding_recipients dr ON dr.user_id = w.user_id"
  "   AND dr.conversation_id = w.conversation_id AND dr.acked_at IS NULL"
  "   AND dr.seq <= w.read_seq"
  "  JOIN messages x ON x.conversation_id = dr.conversation_id"
  "   AND x.seq = dr.seq"
  "   AND x.sent_at <= $9::timestamptz - make_interval(secs => $5::bigint)),"
  /* Each recipient's quiet-hours profile, looked up once; "unread for"
   * is then a closed-form expression per row (see the file comment). */
  " prof AS MATERIALIZED ("
  "  SELECT r.user_id, p.zone, p.b, p.q, p.c, p.wq, p.t_at, p.t_cc,"
  "   herald_business_position(p.b, p.q, p.c, p.wq, p.t_at, p.t_cc,"
  "    p.zone, $9::timestamptz) AS pos_now"
  "  FROM (SELECT DISTINCT user_id FROM who) r"
  "  CROSS JOIN LATERAL herald_quiet_profile_of(r.user_id) p),"
  " k AS MATERIALIZED ("
  "  SELECT a.*, CASE WHEN qp.zone IS NULL"
  "   THEN herald_unread_seconds(a.user_id, a.sent_at, $9::timestamptz)"
  "   ELSE greatest(0::float8, floor(qp.pos_now"
  "    - herald_business_position(qp.b, qp.q, qp.c, qp.wq, qp.t_at,"
  "     qp.t_cc, qp.zone, a.sent_at)))::bigint END AS unread_s"
  "  FROM (SELECT * FROM unread UNION ALL SELECT * FROM dings) a"
  "  LEFT JOIN prof qp ON qp.user_id = a.user_id),"
  " kk AS MATERIALIZED (SELECT * FROM k WHERE unread_s >= $5::bigint)"
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
  " SELECT 1, kk.user_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
  "  kk.display_name, kk.dept, count(*),"
  "  count(*) FILTER (WHERE kk.ding AND NOT kk.acked), kk.user_id"
  " FROM kk GROUP BY kk.user_id, kk.display_name, kk.dept"
  " UNION ALL"
  " SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
  "  kk.dept, count(*), count(*) FILTER (WHERE kk.ding AND NOT kk.acked), 0"
  " FROM kk GROUP BY kk.dept"
  " UNION ALL"
  " SELECT 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
  "  NULL, (SELECT count(*) FROM kk), NULL, 0"
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

/* Writes the audit row of a run in the caller's transaction: caller 0 is
 * a bot (actor names it). rows < 0: the run was refused or named an
 * unknown filter; outcome says which. */
static int audit_run(struct store_conn *c, int64_t caller, const char *actor,
                     const struct store_report_query *q, int64_t rows,
                     const char *outcome)
{
  char cb[STORE_I64_BUF], ob[STORE_I64_BUF], vb[STORE_I64_BUF],
       lb[STORE_I64_BUF], rb[STORE_I64_BUF];
  const char *p[9] = {
    caller ? store_i64(cb, caller) : NULL, actor,
    store_i64(ob, q->older_than_s), scope_name(q->scope),
    q->conversation_id ? store_i64(vb, q->conversation_id) : NULL,
    q->department, q->limit ? store_i64(lb, (int64_t)q->limit) : NULL,
    rows >= 0 ? store_i64(rb, rows) : NULL, outcome};

  return store_exec(c, NULL,
                    "INSERT INTO audit_log (actor_user_id, actor, action,"
                    " detail) VALUES ($1::bigint, $2, 'report.unread',"
                    " jsonb_build_object('older_s', $3::bigint,"
                    " 'scope', $4::text, 'conv', $5::bigint,"
                    " 'dept', $6::text, 'limit', $7::bigint,"
                    " 'rows', $8::bigint, 'outcome', $9::text))", 9, p);
}

/* Commits the audit row of a run that ends in error `rc` (the message in
 * c->errmsg), then returns that error again. */
static int audit_failed_run(struct store_conn *c, int64_t caller,
                            const char *actor,
                            const struct store_report_query *q, int rc)
{
  char why[sizeof c->errmsg];
  int arc;

  snprintf(why, sizeof why, "%s", c->errmsg);
  arc = audit_run(c, caller, actor, q, -1,
                  rc == STORE_EFORBIDDEN ? "refused" : "not_found");
  if (arc == STORE_OK)
    arc = store_commit(c);
  return arc != STORE_OK ? arc : store_fail(c, rc, "%s", why);
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
      break;
    }
  }
  out->truncated = out->total_rows > (int64_t)out->n_rows;
  return STORE_OK;
}

/* Looks up the caller; decides the scope flags or refuses. */
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

  rc = store_exec(c, &res,
                  "SELECT login, role, active FROM users WHERE id = $1::bigint",
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

/* A manager's conversation or department filter must name something in
 * their scope (a conversation with a member in it, a department with a
 * member in it); an admin reaches everything. */
static const char REACH_SQL[] =
  SCOPE_CTES
  " SELECT $5::bigint IS NULL OR EXISTS ("
  "  SELECT 1 FROM scope WHERE conversation_id = $5::bigint),"
  " $6::bigint IS NULL OR EXISTS ("
  "  SELECT 1 FROM scope s JOIN users u ON u.id = s.user_id"
  "  WHERE u.department_id = $6::bigint)";

static int check_reach(struct store_conn *c, int64_t caller, bool team,
                       bool owned, const struct store_report_query *q,
                       const char *dept_id)
{
  PGresult *res = NULL;
  char cb[STORE_I64_BUF], vb[STORE_I64_BUF];
  const char *p[6] = {store_i64(cb, caller), "false", team ? "true" : "false",
                      owned ? "true" : "false",
                      q->conversation_id ? store_i64(vb, q->conversation_id)
                                         : NULL,
                      dept_id[0] ? dept_id : NULL};
  int rc = store_exec(c, &res, REACH_SQL, 6, p);

  if (rc != STORE_OK)
    goto out;
  if (!store_field_bool(res, 0, 0))
    rc = store_fail(c, STORE_EFORBIDDEN, "conversation %s is outside your "
                    "reports' scope", vb);
  else if (!store_field_bool(res, 0, 1))
    rc = store_fail(c, STORE_EFORBIDDEN, "department \"%s\" is outside your "
                    "reports' scope", q->department);
out:
  PQclear(res);
  return rc;
}

int store_report_unread_bot(struct store_conn *c, int64_t bot_id,
                            const struct store_report_query *q)
{
  PGresult *res = NULL;
  char bb[STORE_I64_BUF], actor[STORE_LOGIN_MAX + 8];
  const char *p[1] = {store_i64(bb, bot_id)};
  int rc;

  store_clear(c);
  if (!scope_name(q->scope))
    return store_fail(c, STORE_EINVAL, "invalid report scope %d",
                      (int)q->scope);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = store_exec(c, &res, "SELECT name FROM bots WHERE id = $1::bigint", 1,
                    p);
  if (rc == STORE_OK && PQntuples(res) == 0)
    rc = store_fail(c, STORE_ENOTFOUND, "unknown bot id %s", bb);
  if (rc == STORE_OK) {
    snprintf(actor, sizeof actor, "bot:%s", PQgetvalue(res, 0, 0));
    store_fail(c, STORE_EFORBIDDEN, "bot \"%s\" may not run reports",
               PQgetvalue(res, 0, 0));
    rc = audit_failed_run(c, 0, actor, q, STORE_EFORBIDDEN);
  }
  PQclear(res);
  store_rollback(c);     /* after an error; the audit row is committed */
  return rc;
}

int store_report_unread(struct store_conn *c, int64_t caller_id,
                        const struct store_report_query *q,
                        struct store_report *out)
{
  PGresult *res = NULL;
  char login[STORE_LOGIN_MAX + 1] = "", dept_id[STORE_I64_BUF], now[64];
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
  /* The planner cannot know how few rows a scope yields (it guesses from
   * whole-table statistics, hundreds of thousands), and JIT compiling a
   * plan costed that way took 70 ms of a 25 ms report: off for this
   * transaction only. */
  if (rc == STORE_OK)
    rc = store_exec(c, NULL, "SET LOCAL jit = off", 0, NULL);
  if (rc != STORE_OK)
    goto out;
  rc = caller_scope(c, caller_id, q->scope, login, &all, &team, &owned);
  if (rc == STORE_OK)
    rc = resolve_filters(c, q, dept_id);
  if (rc == STORE_OK && !all && (q->conversation_id || dept_id[0]))
    rc = check_reach(c, caller_id, team, owned, q, dept_id);
  if (rc == STORE_EFORBIDDEN || (rc == STORE_ENOTFOUND && login[0])) {
    /* Refused runs, and runs naming an unknown filter, are audited too;
     * the error is what is returned. */
    rc = audit_failed_run(c, caller_id, login, q, rc);
    goto out;
  }
  /* The report's "now", as text in this session's own format, so that it
   * goes back in as a parameter unchanged. */
  if (rc == STORE_OK)
    rc = store_exec(c, &res,
                    "SELECT herald_now()::text,"
                    " floor(extract(epoch FROM herald_now()) * 1000)::bigint",
                    0, NULL);
  if (rc == STORE_OK) {
    store_field(res, 0, 0, now, sizeof now);
    r.now_ms = store_field_i64(res, 0, 1);
  }
  PQclear(res);
  res = NULL;
  if (rc != STORE_OK)
    goto out;
  {
    const char *p[9] = {store_i64(cb, caller_id), all ? "true" : "false",
                        team ? "true" : "false", owned ? "true" : "false",
                        store_i64(ob, q->older_than_s),
                        q->conversation_id ? store_i64(vb, q->conversation_id)
                                           : NULL,
                        dept_id[0] ? dept_id : NULL,
                        q->limit ? store_i64(lb, (int64_t)q->limit) : NULL,
                        now};

    rc = store_exec(c, &res, REPORT_SQL, 9, p);
  }
  if (rc == STORE_OK)
    rc = read_report(c, res, &r);
  PQclear(res);
  res = NULL;
  if (rc == STORE_OK)
    rc = audit_run(c, caller_id, login, q, r.total_rows, "ok");
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
