/*
 * receipts.c — reads and what they produce: the two-step read
 * (store_read_plan, store_read_record), per-message read counts, the
 * who-read list with the sealed times and their associated-data inputs,
 * and the retention purge of read times.
 *
 * Read state is a marker per member (members.read_seq) plus one
 * read_ranges row per read event, never a row per message per member
 * (SPEC §5): "M read S" is S <= M's marker, and the time of that read is
 * the sealed blob of the one range row of M that covers S. The read itself
 * runs as one plpgsql statement (herald_read, sql/0004_receipts.sql) so
 * that the marker, the range row and the senders' feed entries commit
 * together in one round trip.
 *
 * Storage stays blind to the times: the server seals (crypto/) between
 * the plan and the record, and opens who-read blobs itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Copies a bytea result field (hex text) into buf; *len gets its length,
 * 0 for NULL or a blob that does not fit (the schema keeps them within
 * STORE_BLOB_MAX). */
static void blob_field(const PGresult *res, int r, int col, uint8_t *buf,
                       size_t *len)
{
  unsigned char *raw;
  size_t n = 0;

  *len = 0;
  if (PQgetisnull(res, r, col))
    return;
  raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, r, col), &n);
  if (raw && n <= STORE_BLOB_MAX) {
    memcpy(buf, raw, n);
    *len = n;
  }
  PQfreemem(raw);
}

/* ------------------------------------------------------------------------ */
/* The read. */

/* $1 reader, $2 conversation, $3 requested seq. No row: not a current
 * member (or no such conversation). */
static const char PLAN_SQL[] =
  "SELECT m.read_seq, least($3::bigint, c.last_seq),"
  " coalesce(floor(extract(epoch FROM x.sent_at) * 1000)::bigint, 0),"
  " floor(extract(epoch FROM k.t) * 1000)::bigint,"
  " u.read_time_opt_out, coalesce(o.read_time_opt_out_allowed, false),"
  " herald_in_quiet(m.user_id, k.t)"
  " FROM (SELECT herald_clock_timestamp() AS t) k"
  " CROSS JOIN members m"
  " JOIN conversations c ON c.id = m.conversation_id"
  " JOIN users u ON u.id = m.user_id"
  " LEFT JOIN org o ON o.singleton"
  " LEFT JOIN messages x ON x.conversation_id = m.conversation_id"
  "  AND x.seq = least($3::bigint, c.last_seq)"
  " WHERE m.conversation_id = $2::bigint AND m.user_id = $1::bigint"
  " AND m.left_seq IS NULL";

int store_read_plan(struct store_conn *c, int64_t reader_id,
                    int64_t conversation_id, int64_t seq,
                    struct store_read_plan *out)
{
  PGresult *res = NULL;
  char rb[STORE_I64_BUF], cb[STORE_I64_BUF], sb[STORE_I64_BUF];
  const char *p[3] = {store_i64(rb, reader_id),
                      store_i64(cb, conversation_id), store_i64(sb, seq)};
  struct store_read_plan plan;
  int rc;

  store_clear(c);
  if (seq < 1)
    return store_fail(c, STORE_EINVAL, "seq must be at least 1");
  rc = store_exec(c, &res, PLAN_SQL, 3, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown conversation id %s", cb);
    goto out;
  }
  memset(&plan, 0, sizeof plan);
  plan.read_seq = store_field_i64(res, 0, 0);
  plan.upto = store_field_i64(res, 0, 1);
  plan.upto_sent_at_ms = store_field_i64(res, 0, 2);
  plan.now_ms = store_field_i64(res, 0, 3);
  plan.user_opt_out = store_field_bool(res, 0, 4);
  plan.org_allows_opt_out = store_field_bool(res, 0, 5);
  plan.reader_quiet = store_field_bool(res, 0, 6);
  *out = plan;
out:
  PQclear(res);
  return rc;
}

int store_read_record(struct store_conn *c, int64_t reader_id,
                      int64_t conversation_id, int64_t from_seq,
                      int64_t to_seq, uint32_t key_version,
                      const uint8_t *sealed, size_t sealed_len,
                      struct store_read_result *out)
{
  PGresult *res = NULL;
  char rb[STORE_I64_BUF], cb[STORE_I64_BUF], fb[STORE_I64_BUF],
       tb[STORE_I64_BUF], kb[STORE_I64_BUF];
  const char *p[6] = {store_i64(rb, reader_id),
                      store_i64(cb, conversation_id),
                      store_i64(fb, from_seq), store_i64(tb, to_seq),
                      sealed ? store_i64(kb, key_version) : NULL,
                      (const char *)sealed};
  const int lens[6] = {0, 0, 0, 0, 0, (int)sealed_len};
  const int fmts[6] = {0, 0, 0, 0, 0, 1};
  struct store_read_result r;
  int rows, rc, status;

  store_clear(c);
  if (sealed && (sealed_len < 1 || sealed_len > STORE_BLOB_MAX))
    return store_fail(c, STORE_EINVAL, "a sealed time must be 1-%d bytes",
                      STORE_BLOB_MAX);
  if (to_seq < 1)
    return store_fail(c, STORE_EINVAL, "seq must be at least 1");
  memset(&r, 0, sizeof r);
  rc = store_exec_bin(c, &res,
                      "SELECT r_status, r_old, r_new, r_user, r_fs, r_from,"
                      " r_to FROM herald_read($1::bigint, $2::bigint,"
                      " $3::bigint, $4::bigint, $5::integer, $6::bytea)",
                      6, p, lens, fmts);
  if (rc != STORE_OK)
    goto out;
  rows = PQntuples(res);
  status = rows > 0 ? (int)store_field_i64(res, 0, 0) : -1;
  switch (status) {
  case 0:
  case 2:
    break;
  case 1:
    rc = store_fail(c, STORE_ENOTFOUND, "unknown conversation id %s", cb);
    goto out;
  case 3:
    rc = store_fail(c, STORE_EINVAL,
                    "read range %s..%s does not start at or below the read "
                    "marker + 1 or ends after the last message", fb, tb);
    goto out;
  default:
    rc = store_fail(c, STORE_EINTERNAL, "herald_read returned status %d",
                    status);
    goto out;
  }
  r.moved = status == 0;
  r.old_seq = store_field_i64(res, 0, 1);
  r.read_seq = store_field_i64(res, 0, 2);
  if (PQgetisnull(res, 0, 3))
    rows = 0;
  if (rows > 0 && !(r.feed = calloc((size_t)rows, sizeof *r.feed))) {
    rc = store_fail(c, STORE_EINTERNAL, "out of memory");
    goto out;
  }
  for (int i = 0; i < rows; i++) {
    struct store_feed_entry *e = &r.feed[i];

    e->user_id = store_field_i64(res, i, 3);
    e->fs = store_field_i64(res, i, 4);
    e->kind = STORE_FEED_RECEIPT;
    e->conversation_id = conversation_id;
    e->from_seq = store_field_i64(res, i, 5);
    e->to_seq = store_field_i64(res, i, 6);
  }
  r.n_feed = (size_t)rows;
  *out = r;
out:
  PQclear(res);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Read counts.
 *
 * A recipient of message S is a member with joined_seq < S <= left_seq (or
 * still a member), other than the sender; they read it when S <= read_seq.
 * So per member there are two intervals of seqs, [joined+1, left] for
 * "recipient" and [joined+1, min(read, left)] for "read", and the counts
 * at S are how many intervals contain S. The statement sweeps once over the
 * interval ends and the messages in seq order (a running sum of +1/-1
 * events), which costs O((members + messages) log) instead of members x
 * messages. $1 sender, $2 conversation, $3 from, $4 to. */
static const char COUNTS_SQL[] =
  "WITH msg AS ("
  "  SELECT x.seq FROM messages x"
  "  WHERE x.tracked AND x.conversation_id = $2::bigint"
  "  AND x.seq BETWEEN $3::bigint AND $4::bigint"
  "  AND x.sender_user_id = $1::bigint),"
  " mem AS ("
  "  SELECT m.joined_seq + 1 AS a,"
  "   coalesce(m.left_seq, $4::bigint) + 1 AS b,"
  "   least(m.read_seq, coalesce(m.left_seq, $4::bigint)) + 1 AS r"
  "  FROM members m"
  "  WHERE m.conversation_id = $2::bigint AND m.user_id <> $1::bigint"
  "  AND m.joined_seq < $4::bigint"
  "  AND (m.left_seq IS NULL OR m.left_seq >= $3::bigint)"
  "  AND EXISTS (SELECT 1 FROM msg)),"
  " ev AS ("
  "  SELECT a AS pos, 0 AS o, 1 AS dt, 1 AS dr FROM mem"
  "  UNION ALL SELECT b, 0, -1, 0 FROM mem"
  "  UNION ALL SELECT r, 0, 0, -1 FROM mem"
  "  UNION ALL SELECT seq, 1, 0, 0 FROM msg),"
  " run AS ("
  "  SELECT pos, o, sum(dt) OVER w AS total, sum(dr) OVER w AS rd FROM ev"
  "  WINDOW w AS (ORDER BY pos, o ROWS UNBOUNDED PRECEDING))"
  " SELECT pos, rd, total FROM run WHERE o = 1 ORDER BY pos";

static void count_from_row(const PGresult *res, int r, void *elem)
{
  struct store_receipt_count *k = elem;

  k->seq = store_field_i64(res, r, 0);
  k->read = store_field_i64(res, r, 1);
  k->total = store_field_i64(res, r, 2);
}

int store_receipt_counts(struct store_conn *c, int64_t sender_id,
                         int64_t conversation_id, int64_t from_seq,
                         int64_t to_seq, struct store_receipt_count **out,
                         size_t *n)
{
  PGresult *res = NULL;
  char sb[STORE_I64_BUF], cb[STORE_I64_BUF], fb[STORE_I64_BUF],
       tb[STORE_I64_BUF];
  const char *p[4] = {store_i64(sb, sender_id),
                      store_i64(cb, conversation_id), store_i64(fb, from_seq),
                      store_i64(tb, to_seq)};
  int rc;

  store_clear(c);
  if (from_seq > to_seq)
    return store_fail(c, STORE_EINVAL, "from_seq %s is after to_seq %s", fb,
                      tb);
  rc = store_exec(c, &res, COUNTS_SQL, 4, p);
  if (rc == STORE_OK)
    rc = store_rows(c, res, sizeof(struct store_receipt_count),
                    count_from_row, (void **)out, n);
  PQclear(res);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Who read one message. */

/* $1 conversation, $2 seq. One row per recipient (one row with NULL member
 * columns when there is none), the message's columns repeated. A reader's
 * ranges in a conversation do not overlap, so the first one ending at or
 * after S is the only candidate, and it covers S when it starts at or
 * before S. */
static const char WHO_SQL[] =
  "SELECT x.sender_user_id, x.sender_bot_id, x.kind, x.tracked,"
  " floor(extract(epoch FROM x.sent_at) * 1000)::bigint,"
  " m.user_id, m.read_seq >= x.seq,"
  " coalesce(r.sealed_from_seq, r.from_seq), r.to_seq, r.key_version,"
  " r.read_time_sealed"
  " FROM messages x"
  " LEFT JOIN members m ON m.conversation_id = x.conversation_id"
  "  AND m.joined_seq < x.seq AND (m.left_seq IS NULL OR m.left_seq >= x.seq)"
  "  AND m.user_id IS DISTINCT FROM x.sender_user_id"
  " LEFT JOIN LATERAL ("
  "  SELECT rr.from_seq, rr.to_seq, rr.sealed_from_seq, rr.key_version,"
  "   rr.read_time_sealed"
  "  FROM read_ranges rr"
  "  WHERE rr.conversation_id = x.conversation_id"
  "  AND rr.reader_id = m.user_id AND rr.to_seq >= x.seq"
  "  ORDER BY rr.to_seq LIMIT 1) r"
  "  ON r.from_seq <= x.seq AND m.read_seq >= x.seq"
  " WHERE x.conversation_id = $1::bigint AND x.seq = $2::bigint"
  " ORDER BY m.user_id";

static enum store_msg_kind kind_of(const char *s)
{
  if (strcmp(s, "ding") == 0)
    return STORE_MSG_DING;
  if (strcmp(s, "card") == 0)
    return STORE_MSG_CARD;
  return STORE_MSG_TEXT;
}

int store_who_read(struct store_conn *c, int64_t conversation_id, int64_t seq,
                   struct store_who_read_msg *msg, struct store_who_row **rows,
                   size_t *n)
{
  PGresult *res = NULL;
  char cb[STORE_I64_BUF], sb[STORE_I64_BUF], kind[8];
  const char *p[2] = {store_i64(cb, conversation_id), store_i64(sb, seq)};
  struct store_who_read_msg m;
  struct store_who_row *list = NULL;
  int nrows, rc;

  store_clear(c);
  rc = store_exec(c, &res, WHO_SQL, 2, p);
  if (rc != STORE_OK)
    goto out;
  nrows = PQntuples(res);
  if (nrows == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown message %s:%s", cb, sb);
    goto out;
  }
  memset(&m, 0, sizeof m);
  if (PQgetisnull(res, 0, 0)) {
    m.sender_kind = STORE_PRINCIPAL_BOT;
    m.sender_id = store_field_i64(res, 0, 1);
  } else {
    m.sender_kind = STORE_PRINCIPAL_USER;
    m.sender_id = store_field_i64(res, 0, 0);
  }
  store_field(res, 0, 2, kind, sizeof kind);
  m.kind = kind_of(kind);
  m.tracked = store_field_bool(res, 0, 3);
  m.sent_at_ms = store_field_i64(res, 0, 4);
  if (PQgetisnull(res, 0, 5))
    nrows = 0;
  if (nrows > 0 && !(list = calloc((size_t)nrows, sizeof *list))) {
    rc = store_fail(c, STORE_EINTERNAL, "out of memory");
    goto out;
  }
  for (int i = 0; i < nrows; i++) {
    struct store_who_row *w = &list[i];

    w->user_id = store_field_i64(res, i, 5);
    w->read = store_field_bool(res, i, 6);
    if (w->read && !PQgetisnull(res, i, 10)) {
      w->ad_from_seq = store_field_i64(res, i, 7);
      w->ad_to_seq = store_field_i64(res, i, 8);
      w->key_version = (uint32_t)store_field_i64(res, i, 9);
      blob_field(res, i, 10, w->sealed, &w->sealed_len);
      w->has_time = w->sealed_len > 0;
    }
  }
  *msg = m;
  *rows = list;
  *n = (size_t)nrows;
out:
  PQclear(res);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Retention. */

int store_read_times_purge(struct store_conn *c, size_t limit,
                           int64_t *purged)
{
  PGresult *res = NULL;
  char lb[STORE_I64_BUF], nb[STORE_I64_BUF];
  const char *p[1] = {limit ? store_i64(lb, (int64_t)limit) : NULL};
  int64_t count = 0;
  int rc;

  store_clear(c);
  rc = store_begin(c);
  /* Oldest first through read_ranges_retention_idx. recorded_at stands in
   * for the (sealed) read time, which is never later than it. */
  if (rc == STORE_OK)
    rc = store_exec(c, &res,
                    "WITH v AS ("
                    "  SELECT id FROM read_ranges"
                    "  WHERE read_time_sealed IS NOT NULL"
                    "  AND recorded_at < herald_now() - make_interval(days =>"
                    "   coalesce((SELECT read_time_retention_days FROM org),"
                    "   90))"
                    "  ORDER BY recorded_at LIMIT $1::bigint),"
                    " u AS (UPDATE read_ranges r SET read_time_sealed = NULL,"
                    "  key_version = NULL, sealed_from_seq = NULL"
                    "  FROM v WHERE r.id = v.id RETURNING 1)"
                    " SELECT count(*) FROM u", 1, p);
  if (rc == STORE_OK)
    count = store_field_i64(res, 0, 0);
  if (rc == STORE_OK && count > 0)
    rc = store_audit(c, "system", "read_times.purge", "rows",
                     store_i64(nb, count), NULL, NULL);
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    store_rollback(c);
  else if (purged)
    *purged = count;
  PQclear(res);
  return rc;
}
