/*
 * messages.c — reading messages back: replay pages after a cursor
 * (store_messages_after) and older history (store_messages_before).
 *
 * Each read is one statement, so the membership check and the page come
 * from the same snapshot in one round trip. Both walk the (conversation_id,
 * seq) primary key as a range scan with a LIMIT; the byte bound of a replay
 * page is a running sum over that LIMITed range, computed by PostgreSQL so
 * that rows beyond the bound never cross the wire.
 *
 * A reader who may not see the conversation gets exactly what a reader of
 * a conversation that does not exist gets (STORE_ENOTFOUND, same message):
 * non-members must not learn that a group exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* $1 reader kind, $2 reader id, $3 conversation. One row: may they read? */
#define READER_OK                                                           \
  "WITH ok AS (SELECT CASE WHEN $1::integer = 2 THEN EXISTS ("             \
  "  SELECT 1 FROM bot_conversations bc JOIN bots b ON b.id = bc.bot_id"   \
  "  WHERE bc.bot_id = $2::bigint AND bc.conversation_id = $3::bigint"     \
  "  AND b.revoked_at IS NULL)"                                            \
  " ELSE EXISTS (SELECT 1 FROM members mb"                                 \
  "  WHERE mb.conversation_id = $3::bigint AND mb.user_id = $2::bigint"    \
  "  AND mb.left_seq IS NULL) END AS ok)"

/* The message columns, in the order rows_to_messages() reads them. */
#define MSG_COLUMNS                                                         \
  "m.seq, m.sender_user_id, m.sender_bot_id, m.client_msg_id, m.kind,"     \
  " m.body, m.tracked, floor(extract(epoch FROM m.sent_at) * 1000)::bigint" \
  " AS sent_ms, " DING_COLUMN ", " CARD_COLUMN

/* A DING's urgency and recipients as "urgency all" or "urgency {ids}",
 * looked up only for DINGs (a scalar subquery per DING row). */
#define DING_COLUMN                                                         \
  "CASE WHEN m.kind = 'ding' THEN (SELECT d.urgency || ' ' ||"             \
  "  CASE WHEN d.all_members THEN 'all' ELSE (SELECT array_agg(r.user_id"  \
  "  ORDER BY r.user_id)::text FROM ding_recipients r"                      \
  "  WHERE r.conversation_id = d.conversation_id AND r.seq = d.seq) END"    \
  "  FROM dings d WHERE d.conversation_id = m.conversation_id"              \
  "  AND d.seq = m.seq) END AS ding"

/* A card message's card id (issue 6), looked up only for cards. */
#define CARD_COLUMN                                                         \
  "CASE WHEN m.kind = 'card' THEN (SELECT k.id FROM cards k"               \
  "  WHERE k.conversation_id = m.conversation_id AND k.seq = m.seq) END"   \
  " AS card"

/* The first column says whether the reader may read; the LEFT JOIN keeps
 * that row (with NULL message columns) when there is no message, and the
 * LATERAL's "ok.ok" becomes a one-time filter that skips the scan for a
 * non-member. $4 after, $5 upto (0: none), $6 limit, $7 max_bytes (0: no
 * bound); the first row of a page always passes the byte bound. */
static const char AFTER_SQL[] =
  READER_OK
  " SELECT ok.ok, w.seq, w.sender_user_id, w.sender_bot_id, w.client_msg_id,"
  " w.kind, w.body, w.tracked, w.sent_ms, w.ding, w.card"
  " FROM ok LEFT JOIN LATERAL ("
  "  SELECT x.* FROM ("
  "   SELECT v.*, row_number() OVER (ORDER BY v.seq) AS rn,"
  "    sum(octet_length(v.body)) OVER (ORDER BY v.seq) AS cum"
  "   FROM (SELECT " MSG_COLUMNS " FROM messages m"
  "    WHERE ok.ok AND m.conversation_id = $3::bigint AND m.seq > $4::bigint"
  "    AND ($5::bigint = 0 OR m.seq <= $5::bigint)"
  "    ORDER BY m.seq LIMIT $6::bigint) v) x"
  "  WHERE x.rn = 1 OR $7::bigint = 0 OR x.cum <= $7::bigint) w ON true"
  " ORDER BY w.seq";

/* $4 before (0: the newest), $5 limit: the newest `limit` below `before`,
 * turned back to ascending order. */
static const char BEFORE_SQL[] =
  READER_OK
  " SELECT ok.ok, w.seq, w.sender_user_id, w.sender_bot_id, w.client_msg_id,"
  " w.kind, w.body, w.tracked, w.sent_ms, w.ding, w.card"
  " FROM ok LEFT JOIN LATERAL ("
  "  SELECT " MSG_COLUMNS " FROM messages m"
  "  WHERE ok.ok AND m.conversation_id = $3::bigint"
  "  AND ($4::bigint = 0 OR m.seq < $4::bigint)"
  "  ORDER BY m.seq DESC LIMIT $5::bigint) w ON true"
  " ORDER BY w.seq";

void store_messages_free(struct store_message *m, size_t n)
{
  if (!m)
    return;
  for (size_t i = 0; i < n; i++) {
    free(m[i].body);
    free(m[i].ding_to);
  }
  free(m);
}

static enum store_msg_kind kind_of(const char *s)
{
  if (strcmp(s, "ding") == 0)
    return STORE_MSG_DING;
  if (strcmp(s, "card") == 0)
    return STORE_MSG_CARD;
  return STORE_MSG_TEXT;
}

/* Parses DING_COLUMN's "urgency all" / "urgency {1,2}" into m. */
static int ding_of(const char *v, struct store_message *m)
{
  const char *sp = strchr(v, ' ');
  size_t ul = sp ? (size_t)(sp - v) : 0;

  if (!sp)
    return -1;
  m->urgency = ul == 8 && strncmp(v, "critical", 8) == 0 ? STORE_URG_CRITICAL
               : ul == 6 && strncmp(v, "urgent", 6) == 0 ? STORE_URG_URGENT
                                                          : STORE_URG_NORMAL;
  if (strcmp(sp + 1, "all") == 0) {
    m->ding_all = true;
    return 0;
  }
  return store_i64_array_parse(sp + 1, &m->ding_to, &m->n_ding_to);
}

/* Turns the result of AFTER_SQL or BEFORE_SQL into *out / *n. */
static int rows_to_messages(struct store_conn *c, const PGresult *res,
                            int64_t conv, struct store_message **out,
                            size_t *n)
{
  struct store_message *list = NULL;
  int rows = PQntuples(res);

  if (rows == 0 || !store_field_bool(res, 0, 0))
    return store_fail(c, STORE_ENOTFOUND, "unknown conversation id %lld",
                      (long long)conv);
  /* A readable conversation without messages in range: one NULL row. */
  if (PQgetisnull(res, 0, 1))
    rows = 0;
  if (rows > 0 && !(list = calloc((size_t)rows, sizeof *list)))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  for (int r = 0; r < rows; r++) {
    struct store_message *m = &list[r];
    size_t len = (size_t)PQgetlength(res, r, 6);
    char kind[8];

    m->conversation_id = conv;
    m->seq = store_field_i64(res, r, 1);
    if (PQgetisnull(res, r, 2)) {
      m->sender_kind = STORE_PRINCIPAL_BOT;
      m->sender_id = store_field_i64(res, r, 3);
    } else {
      m->sender_kind = STORE_PRINCIPAL_USER;
      m->sender_id = store_field_i64(res, r, 2);
    }
    store_field(res, r, 4, m->cmid, sizeof m->cmid);
    store_field(res, r, 5, kind, sizeof kind);
    m->kind = kind_of(kind);
    m->body = malloc(len + 1);
    if (!m->body) {
      store_messages_free(list, (size_t)rows);
      return store_fail(c, STORE_EINTERNAL, "out of memory");
    }
    memcpy(m->body, PQgetvalue(res, r, 6), len);
    m->body[len] = '\0';
    m->body_len = len;
    m->tracked = store_field_bool(res, r, 7);
    m->sent_at_ms = store_field_i64(res, r, 8);
    if (m->kind == STORE_MSG_DING && !PQgetisnull(res, r, 9) &&
        ding_of(PQgetvalue(res, r, 9), m) != 0) {
      store_messages_free(list, (size_t)rows);
      return store_fail(c, STORE_EINTERNAL, "bad DING row for seq %lld",
                        (long long)m->seq);
    }
    m->card_id = store_field_i64(res, r, 10);
  }
  *out = list;
  *n = (size_t)rows;
  return STORE_OK;
}

static int check_reader(struct store_conn *c, enum store_principal_kind kind,
                        size_t limit)
{
  if (kind != STORE_PRINCIPAL_USER && kind != STORE_PRINCIPAL_BOT)
    return store_fail(c, STORE_EINVAL, "invalid reader kind %d", (int)kind);
  if (limit == 0)
    return store_fail(c, STORE_EINVAL, "page limit must be at least 1");
  return STORE_OK;
}

/* size_t bounds as bigint text parameters (anything above is "no bound"
 * in practice). */
static const char *size_param(char buf[STORE_I64_BUF], size_t v)
{
  return store_i64(buf, v > (size_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

int store_messages_after(struct store_conn *c,
                         enum store_principal_kind reader_kind,
                         int64_t reader_id, int64_t conversation_id,
                         int64_t after, int64_t upto, size_t limit,
                         size_t max_bytes, struct store_message **out,
                         size_t *n)
{
  PGresult *res = NULL;
  char kb[STORE_I64_BUF], rb[STORE_I64_BUF], cb[STORE_I64_BUF];
  char ab[STORE_I64_BUF], ub[STORE_I64_BUF], lb[STORE_I64_BUF];
  char mb[STORE_I64_BUF];
  const char *p[7] = {store_i64(kb, reader_kind), store_i64(rb, reader_id),
                      store_i64(cb, conversation_id), store_i64(ab, after),
                      store_i64(ub, upto), size_param(lb, limit),
                      size_param(mb, max_bytes)};
  int rc;

  store_clear(c);
  rc = check_reader(c, reader_kind, limit);
  if (rc == STORE_OK)
    rc = store_exec(c, &res, AFTER_SQL, 7, p);
  if (rc == STORE_OK)
    rc = rows_to_messages(c, res, conversation_id, out, n);
  PQclear(res);
  return rc;
}

int store_messages_before(struct store_conn *c,
                          enum store_principal_kind reader_kind,
                          int64_t reader_id, int64_t conversation_id,
                          int64_t before, size_t limit,
                          struct store_message **out, size_t *n)
{
  PGresult *res = NULL;
  char kb[STORE_I64_BUF], rb[STORE_I64_BUF], cb[STORE_I64_BUF];
  char bb[STORE_I64_BUF], lb[STORE_I64_BUF];
  const char *p[5] = {store_i64(kb, reader_kind), store_i64(rb, reader_id),
                      store_i64(cb, conversation_id), store_i64(bb, before),
                      size_param(lb, limit)};
  int rc;

  store_clear(c);
  rc = check_reader(c, reader_kind, limit);
  if (rc == STORE_OK)
    rc = store_exec(c, &res, BEFORE_SQL, 5, p);
  if (rc == STORE_OK)
    rc = rows_to_messages(c, res, conversation_id, out, n);
  PQclear(res);
  return rc;
}
