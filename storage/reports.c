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
 *   - A pair far behind is counted mostly from report_blocks (sql/
 *     0007_report_perf.sql): per block of 128 seqs, how many tracked
 *     messages and how many of each sender's, facts that never change once
 *     the block is complete. Only the partial blocks at both ends of the
 *     pair's range, and blocks holding messages too recent for the
 *     threshold, are counted message by message. The report summarises the
 *     blocks completed since the last run of a conversation in scope, in
 *     the same statement, for the next run.
 *   - "Unread for" is business time, outside the recipient's quiet hours
 *     (herald_unread_seconds, sql/0005_quiet_hours.sql). It never grows
 *     as the sent time moves later, so per recipient one instant, the
 *     cutoff (the inverse of "unread for"), splits the messages: those
 *     sent at or before it are unread for long enough, the rest are not.
 *     The report filters on sent_at <= cutoff and so counts with index
 *     ranges and blocks. The cutoff is computed in closed form
 *     (herald_business_cutoff, sql/0011_report_fast.sql) once per quiet
 *     profile in scope, not per recipient: most share the org's profile
 *     in their zone. "Unread for" itself, and a DING's state, are computed
 *     only for the rows returned (at most the limit).
 *   - A recipient's unacknowledged DINGs are one range of
 *     ding_recipients_unacked_idx (sql/0007_report_perf.sql): those above
 *     a pair's marker count among its DINGs, those at or below it are the
 *     read-but-unacknowledged rows. The planner cannot know how few pairs a
 *     scope yields (it guesses from whole-table statistics), so the lookups
 *     that must stay per-pair or per-row lookups are written as laterals
 *     with OFFSET 0 or LIMIT, or as scalar subqueries, which it cannot
 *     flatten or hash into a join over a whole table (seen: all of
 *     messages_tracked_cover_idx merged with a few pairs; all of
 *     ding_recipients hashed for a few DINGs).
 *   - The statement is prepared once per session and runs its generic
 *     plan (see REPORT_STMT): planning it per run cost 5-10 ms.
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
  "  FROM team t CROSS JOIN LATERAL (" \
  "   SELECT m.user_id, m.conversation_id, m.read_seq FROM members m" \
  "   WHERE m.user_id = t.id AND m.left_seq IS NULL OFFSET 0) m" \
  "  UNION" \
  "  SELECT m.user_id, m.conversation_id, m.read_seq" \
  "  FROM members o JOIN members m ON m.conversation_id = o.conversation_id" \
  "  WHERE $4::boolean AND o.user_id = $1::bigint AND o.role = 'owner'" \
  "  AND o.left_seq IS NULL AND m.left_seq IS NULL)"

/* $1 caller, $2 everyone, $3 the caller's subtree, $4 the caller's owned
 * conversations, $5 threshold seconds, $6 conversation or NULL, $7
 * department id or NULL, $8 row limit or NULL.
 *
 * CTEs: who = the (member, conversation, marker) pairs in scope; up = per
 * recipient, the key of their quiet profile; pc = per profile in use, the
 * cutoff (herald_business_cutoff, sql/0011_report_fast.sql) and the
 * business clock now; cut = per recipient, their cutoff; cb = per
 * conversation in scope, its last summarised block; fill = summaries of
 * the blocks completed since; ck = per conversation and cutoff, the last
 * block usable at that cutoff; du = the unacknowledged DINGs of the pairs;
 * pairs = per pair, the count of unread tracked messages sent at or before
 * the recipient's cutoff (all unread long enough: see above) and of
 * unacknowledged DINGs among them;
 * cand = recipients whose rows may be among the first $8 (counting the
 * pairs before them); detail = message rows of the pairs of cand (at most
 * $8 per pair: a pair's first rows by seq are its oldest, seqs being given
 * in commit order under the conversation's lock and stamped with the clock
 * then); dk = DINGs read but not acknowledged; tot = totals per recipient.
 * The rows returned (at most $8) get their "unread for" and DING state
 * last, so that nothing is computed for rows cut by the limit.
 *
 * Output, ordered by t then ord then department:
 *   t 0  one report row (columns 1-9), ord its rank by recipient, age
 *   t 1  a recipient's totals: user 1, name 10, dept 11, unread 12, dings 13
 *   t 2  a department's totals: dept 11, unread 12, dings 13
 *   t 3  the number of rows before the limit in column 12, the
 *        transaction's herald_now() in ms in column 13
 *
 * Row ranks are exact: every row of a cand recipient is in detail or dk,
 * and a recipient not in cand has at least $8 rows before it. */
static const char REPORT_SQL[] =
  SCOPE_CTES ","
  " who AS MATERIALIZED ("
  "  SELECT s.user_id, s.conversation_id, s.read_seq"
  "  FROM scope s JOIN users u ON u.id = s.user_id AND u.active"
  "  WHERE ($6::bigint IS NULL OR s.conversation_id = $6::bigint)"
  "  AND ($7::bigint IS NULL OR u.department_id = $7::bigint)),"
  /* Per recipient, the profile herald_quiet_profile_of() picks (their own
   * windows, else the org's in their zone), as a key: owner NULL when
   * there is none (then "unread for" is elapsed time). */
  " up AS MATERIALIZED ("
  "  SELECT u.user_id, coalesce(po.owner, pz.owner) AS owner,"
  "   uu.time_zone AS zone"
  "  FROM (SELECT DISTINCT user_id FROM who) u"
  "  JOIN users uu ON uu.id = u.user_id"
  "  LEFT JOIN quiet_profiles po ON po.owner = uu.id"
  "   AND po.zone = uu.time_zone"
  "  LEFT JOIN quiet_profiles pz ON pz.owner = 0 AND pz.zone = uu.time_zone),"
  /* Per profile in use, once (most recipients share the org's): the
   * cutoff, messages sent at or before it being unread for long enough,
   * and the business clock now, for "unread for" of the rows returned. */
  " pc AS MATERIALIZED ("
  "  SELECT p.owner, p.zone, p.b, p.q, p.c, p.wq, p.t_at, p.t_cc,"
  "   herald_business_cutoff(p.b, p.q, p.c, p.wq, p.t_at, p.t_cc, p.zone,"
  "    herald_now(), $5::bigint) AS at,"
  "   herald_business_position(p.b, p.q, p.c, p.wq, p.t_at, p.t_cc, p.zone,"
  "    herald_now()) AS pn"
  "  FROM quiet_profiles p"
  "  WHERE (p.owner, p.zone) IN (SELECT owner, zone FROM up)),"
  " cut AS MATERIALIZED ("
  "  SELECT up.user_id, up.owner, up.zone,"
  "   coalesce(pc.at, herald_now() - make_interval(secs => $5::bigint))"
  "    AS at"
  "  FROM up LEFT JOIN pc ON pc.owner = up.owner AND pc.zone = up.zone),"
  /* Per conversation in scope: its last summarised block (maxb). */
  " cb AS MATERIALIZED ("
  "  SELECT v.conversation_id, c.last_seq,"
  "   (SELECT max(b.block) FROM report_blocks b"
  "    WHERE b.conversation_id = v.conversation_id"
  "    AND b.sender_user_id = 0) AS maxb"
  "  FROM (SELECT DISTINCT conversation_id FROM who) v"
  "  JOIN conversations c ON c.id = v.conversation_id),"
  /* Summarises the blocks completed since the last report, for the next
   * one (this statement reads the table as it was when it began). */
  " fill AS ("
  "  INSERT INTO report_blocks (conversation_id, sender_user_id, block, n,"
  "   max_sent)"
  "  SELECT t.conversation_id, coalesce(a.sender_user_id, 0), a.block, a.n,"
  "   a.ms"
  "  FROM (SELECT conversation_id, coalesce(maxb + 1, 0) AS b0,"
  "    last_seq / 128 AS b1 FROM cb) t"
  "  CROSS JOIN LATERAL ("
  "   SELECT k.block, NULL::bigint AS sender_user_id,"
  "    count(x.seq)::integer AS n, max(x.sent_at) AS ms"
  "   FROM generate_series(t.b0, t.b1 - 1) k(block)"
  "   LEFT JOIN messages x ON x.tracked"
  "    AND x.conversation_id = t.conversation_id"
  "    AND x.seq > k.block * 128 AND x.seq <= (k.block + 1) * 128"
  "   GROUP BY k.block"
  "   UNION ALL"
  "   SELECT (x.seq - 1) / 128, x.sender_user_id, count(*)::integer,"
  "    max(x.sent_at)"
  "   FROM messages x"
  "   WHERE x.tracked AND x.conversation_id = t.conversation_id"
  "   AND x.seq > t.b0 * 128 AND x.seq <= t.b1 * 128"
  "   AND x.sender_user_id IS NOT NULL"
  "   GROUP BY 1, 2 OFFSET 0) a"
  "  WHERE t.b0 < t.b1"
  "  ON CONFLICT DO NOTHING),"
  /* Per conversation and cutoff in use (not per pair: recipients sharing
   * a profile share the cutoff), the last usable block: the last before
   * the first whose newest message is after the cutoff, else the last
   * summarised one (a cutoff is never later than now minus the
   * threshold). */
  " ck AS MATERIALIZED ("
  "  SELECT v.conversation_id, v.at,"
  "   coalesce((SELECT min(b.block) FROM report_blocks b"
  "    WHERE b.conversation_id = v.conversation_id"
  "    AND b.sender_user_id = 0 AND b.max_sent > v.at), cb.maxb + 1) - 1"
  "    AS kl"
  "  FROM (SELECT DISTINCT w.conversation_id, ct.at"
  "   FROM who w JOIN cut ct ON ct.user_id = w.user_id) v"
  "  JOIN cb ON cb.conversation_id = v.conversation_id),"
  /* Per pair, the DINGs the member has not acknowledged, sent at or
   * before their cutoff: one probe of ding_recipients_unacked_idx per
   * recipient (not per pair: a tenth of the probes), kept for the pairs in
   * scope. Those above the marker count in the pair's DINGs; those at or
   * below it are the read but unacknowledged DINGs (dk). */
  " du AS MATERIALIZED ("
  "  SELECT w.user_id, w.conversation_id, w.read_seq, x.seq,"
  "   x.sender_user_id, x.sender_bot_id, x.sent_at, x.kind, x.tracked"
  "  FROM cut ct"
  "  CROSS JOIN LATERAL ("
  "   SELECT dr.conversation_id, dr.seq FROM ding_recipients dr"
  "   WHERE dr.user_id = ct.user_id AND dr.acked_at IS NULL OFFSET 0) dr"
  "  JOIN who w ON w.user_id = ct.user_id"
  "   AND w.conversation_id = dr.conversation_id"
  "  JOIN messages x ON x.conversation_id = dr.conversation_id"
  "   AND x.seq = dr.seq AND x.sent_at <= ct.at),"
  " nd AS ("
  "  SELECT user_id, conversation_id, count(*) AS nd FROM du"
  "  WHERE seq > read_seq AND tracked AND kind = 'ding'"
  "  AND sender_user_id IS DISTINCT FROM user_id"
  "  GROUP BY user_id, conversation_id),"
  /* Per pair: unread tracked messages old enough, not the member's own,
   * counted from the blocks after lo up to hi and one by one before lo
   * (from the marker to the first block boundary) and after hi; when no
   * whole block lies between (hi = lo: most members keep up), one range
   * from the marker on, and the other lookups do not run (their WHERE
   * r.hi > r.lo is a one-time filter). And how many are unacknowledged
   * DINGs (nd). (OFFSET 0: e.n is used twice, and a pulled-up e would run
   * its lookups twice.) */
  " pairs AS MATERIALIZED ("
  "  SELECT w.user_id, w.conversation_id, w.read_seq, e.n,"
  "   coalesce(d.nd, 0) AS nd, ct.at AS cut_at"
  "  FROM who w"
  "  JOIN cut ct ON ct.user_id = w.user_id"
  "  JOIN cb ON cb.conversation_id = w.conversation_id"
  "   AND cb.last_seq > w.read_seq"
  "  JOIN ck kp ON kp.conversation_id = w.conversation_id AND kp.at = ct.at"
  "  CROSS JOIN LATERAL ("
  "   SELECT (w.read_seq + 127) / 128 AS k0,"
  "    (w.read_seq + 127) / 128 * 128 AS lo,"
  "    CASE WHEN kp.kl >= (w.read_seq + 127) / 128 THEN (kp.kl + 1) * 128"
  "     ELSE (w.read_seq + 127) / 128 * 128 END AS hi) r"
  "  CROSS JOIN LATERAL ("
  "   SELECT (SELECT count(*) FROM messages x"
  "    WHERE x.tracked AND x.conversation_id = w.conversation_id"
  "    AND x.seq > w.read_seq"
  "    AND x.seq <= CASE WHEN r.hi > r.lo THEN r.lo"
  "     ELSE 9223372036854775807 END"
  "    AND x.sent_at <= ct.at"
  "    AND x.sender_user_id IS DISTINCT FROM w.user_id)"
  "   + (SELECT count(*) FROM messages x"
  "    WHERE r.hi > r.lo"
  "    AND x.tracked AND x.conversation_id = w.conversation_id"
  "    AND x.seq > r.hi AND x.seq > w.read_seq AND x.sent_at <= ct.at"
  "    AND x.sender_user_id IS DISTINCT FROM w.user_id)"
  "   + coalesce((SELECT sum(CASE WHEN b.sender_user_id = 0 THEN b.n"
  "      ELSE -b.n END)"
  "    FROM report_blocks b"
  "    WHERE r.hi > r.lo AND b.conversation_id = w.conversation_id"
  "    AND b.sender_user_id IN (0, w.user_id)"
  "    AND b.block >= r.k0 AND b.block <= kp.kl), 0) AS n OFFSET 0) e"
  "  LEFT JOIN nd d ON d.user_id = w.user_id"
  "   AND d.conversation_id = w.conversation_id"
  "  WHERE e.n > 0),"
  " cand AS ("
  "  SELECT f.user_id FROM ("
  "   SELECT p.user_id, sum(sum(p.n)) OVER ("
  "    ORDER BY p.user_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
  "    AS before"
  "   FROM pairs p GROUP BY p.user_id) f"
  "  WHERE $8::bigint IS NULL OR coalesce(f.before, 0) < $8::bigint),"
  " detail AS MATERIALIZED ("
  "  SELECT p.user_id, p.conversation_id, x.seq, x.sender_user_id,"
  "   x.sender_bot_id, x.sent_at, x.kind"
  "  FROM pairs p"
  "  CROSS JOIN LATERAL ("
  "   SELECT x.seq, x.sender_user_id, x.sender_bot_id, x.sent_at, x.kind"
  "   FROM messages x"
  "   WHERE x.tracked AND x.conversation_id = p.conversation_id"
  "   AND x.seq > p.read_seq AND x.sent_at <= p.cut_at"
  "   AND x.sender_user_id IS DISTINCT FROM p.user_id"
  "   ORDER BY x.seq LIMIT $8::bigint) x"
  "  WHERE p.user_id IN (SELECT user_id FROM cand)),"
  /* DINGs read but not acknowledged, sent at or before the recipient's
   * cutoff (unread ones are above). */
  " dk AS MATERIALIZED ("
  "  SELECT user_id, conversation_id, seq, sender_user_id, sender_bot_id,"
  "   sent_at, kind FROM du WHERE seq <= read_seq),"
  " kk AS ("
  "  SELECT * FROM detail UNION ALL SELECT * FROM dk),"
  " tot AS MATERIALIZED ("
  "  SELECT a.user_id, sum(a.n)::bigint AS n, sum(a.nd)::bigint AS nd"
  "  FROM ("
  "   SELECT user_id, n, nd FROM pairs"
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
  " FROM (SELECT l.*,"
  "   floor(extract(epoch FROM l.sent_at) * 1000)::bigint AS sent_ms,"
  "   row_number() OVER (ORDER BY l.user_id, l.sent_at, l.conversation_id,"
  "    l.seq) AS ord,"
  /* "Unread for": herald_business_seconds (sql/0005_quiet_hours.sql) with
   * the recipient's profile and clock now from pc. Sent at or before the
   * cutoff, the row is unread for at least $5 (the floor of a difference
   * of two clock readings could say one second less: not shown). */
  "   CASE WHEN pc.zone IS NULL"
  "    THEN herald_unread_seconds(l.user_id, l.sent_at, herald_now())"
  "    ELSE greatest($5::bigint, floor(pc.pn - herald_business_position("
  "     pc.b, pc.q, pc.c, pc.wq, pc.t_at, pc.t_cc, pc.zone, l.sent_at))"
  "     ::bigint) END AS unread_s,"
  /* A DING is one only for its recipients; to other members it is an
   * ordinary unread message. */
  "   dg.acked IS NOT NULL AS ding, coalesce(dg.acked, false) AS acked"
  "  FROM (SELECT * FROM kk ORDER BY user_id, sent_at, conversation_id, seq"
  "   LIMIT $8::bigint) l"
  "  JOIN cut ct ON ct.user_id = l.user_id"
  "  LEFT JOIN pc ON pc.owner = ct.owner AND pc.zone = ct.zone"
  "  LEFT JOIN LATERAL ("
  "   SELECT dr.acked_at IS NOT NULL AS acked FROM ding_recipients dr"
  "   WHERE l.kind = 'ding' AND dr.conversation_id = l.conversation_id"
  "   AND dr.seq = l.seq AND dr.user_id = l.user_id OFFSET 0) dg ON true) q"
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
  "  floor(extract(epoch FROM herald_now()) * 1000)::bigint, 0"
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
      out->now_ms = store_field_i64(res, i, 13);
      break;
    }
  }
  out->truncated = out->total_rows > (int64_t)out->n_rows;
  return STORE_OK;
}

/* The report runs as a prepared statement of the session with its generic
 * plan: planning the statement for each run's parameters cost 5-10 ms, a
 * third of a manager's report, and the plan hardly depends on them (every
 * stage is a materialised CTE or a lateral the planner may not reorder;
 * the scope flags and filters are one-time filters). Named statements
 * outlive transactions and go with the session, so a reconnected session
 * prepares it again; caller_scope says whether it must. */
#define REPORT_STMT "herald_report_unread"

/* Prepares REPORT_SQL on the session. */
static int prepare_report(struct store_conn *c)
{
  PGresult *res = PQprepare(c->pg, REPORT_STMT, REPORT_SQL, 8, NULL);
  int rc = STORE_OK;

  if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
    rc = store_translate(c, res);
  PQclear(res);
  return rc;
}

/* Runs the prepared report; *res as store_exec's. */
static int exec_report(struct store_conn *c, PGresult **res,
                       const char *const *p)
{
  PGresult *r = PQexecPrepared(c->pg, REPORT_STMT, 8, p, NULL, NULL, 0);

  *res = NULL;
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
    int rc = store_translate(c, r);

    PQclear(r);
    return rc;
  }
  *res = r;
  return STORE_OK;
}

/* Looks up the caller (switching JIT off and generic plans on for the
 * transaction, and telling in *prepared whether the session has the report
 * statement already); decides the scope flags or refuses. */
static int caller_scope(struct store_conn *c, int64_t caller,
                        enum store_report_scope scope,
                        char login[STORE_LOGIN_MAX + 1], bool *all,
                        bool *team, bool *owned, bool *prepared)
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
   * transaction only (SET LOCAL), in this statement to save a round trip.
   * Generic plans: see REPORT_STMT (left to itself PostgreSQL would keep
   * planning per run, the generic plan's estimated cost being higher). */
  rc = store_exec(c, &res,
                  "SELECT login, role, active, set_config('jit', 'off', true),"
                  " set_config('plan_cache_mode', 'force_generic_plan', true),"
                  " EXISTS (SELECT 1 FROM pg_prepared_statements"
                  "  WHERE name = '" REPORT_STMT "')"
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
  *prepared = store_field_bool(res, 0, 5);
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
  char login[STORE_LOGIN_MAX + 1] = "", dept_id[STORE_I64_BUF];
  char cb[STORE_I64_BUF], ob[STORE_I64_BUF], vb[STORE_I64_BUF],
       lb[STORE_I64_BUF];
  struct store_report r;
  bool all = false, team = false, owned = false, prepared = false;
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
  rc = caller_scope(c, caller_id, q->scope, login, &all, &team, &owned,
                    &prepared);
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

    rc = prepared ? STORE_OK : prepare_report(c);
    if (rc == STORE_OK)
      rc = exec_report(c, &res, p);
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
