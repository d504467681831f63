/*
 * conv_view.c — conversations as one principal sees them: the list a
 * client shows (store_principal_conversations) and one entry of it
 * (store_conversation_get).
 *
 * A user sees the conversations they are a current member of, with their
 * own role and read markers; a direct conversation is titled with the other
 * member's display name (a note-to-self with one's own). A bot sees the
 * conversations it may post to, as long as it is not revoked. Anything
 * else is STORE_ENOTFOUND exactly like a conversation that does not exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define MEMBER_COUNT                                                        \
  "(SELECT count(*) FROM members x"                                        \
  "  WHERE x.conversation_id = c.id AND x.left_seq IS NULL)"

/* $1 user id, $2 one conversation id or NULL for all. The other member of
 * a direct pair is whichever of lo/hi is not the user (for a pair with
 * oneself both are). */
static const char USER_SQL[] =
  "SELECT c.id, c.kind = 'direct',"
  " CASE WHEN c.kind = 'direct' THEN coalesce(o.display_name, '')"
  "  ELSE c.title END,"
  " m.role, c.tracking, c.last_seq, m.joined_seq, m.read_seq, " MEMBER_COUNT
  " FROM members m"
  " JOIN conversations c ON c.id = m.conversation_id"
  " LEFT JOIN users o ON o.id = CASE WHEN c.direct_lo = m.user_id"
  "  THEN c.direct_hi ELSE c.direct_lo END"
  " WHERE m.user_id = $1::bigint AND m.left_seq IS NULL"
  " AND ($2::bigint IS NULL OR c.id = $2::bigint)"
  " ORDER BY c.id";

/* $1 bot id, $2 as above. A bot in a direct conversation sees both names
 * (cut to the 200 characters a title may have). */
static const char BOT_SQL[] =
  "SELECT c.id, c.kind = 'direct',"
  " CASE WHEN c.kind <> 'direct' THEN c.title"
  "  WHEN c.direct_lo = c.direct_hi THEN lo.display_name"
  "  ELSE left(lo.display_name || ', ' || hi.display_name, 200) END,"
  " 'member', c.tracking, c.last_seq, 0, 0, " MEMBER_COUNT
  " FROM bot_conversations bc"
  " JOIN bots b ON b.id = bc.bot_id AND b.revoked_at IS NULL"
  " JOIN conversations c ON c.id = bc.conversation_id"
  " LEFT JOIN users lo ON lo.id = c.direct_lo"
  " LEFT JOIN users hi ON hi.id = c.direct_hi"
  " WHERE bc.bot_id = $1::bigint"
  " AND ($2::bigint IS NULL OR c.id = $2::bigint)"
  " ORDER BY c.id";

static void summary_from_row(const PGresult *res, int r,
                             struct store_conv_summary *s)
{
  char role[16], tracking[16];

  memset(s, 0, sizeof *s);
  s->id = store_field_i64(res, r, 0);
  s->direct = store_field_bool(res, r, 1);
  store_field(res, r, 2, s->title, sizeof s->title);
  store_field(res, r, 3, role, sizeof role);
  s->role = strcmp(role, "owner") == 0 ? STORE_OWNER : STORE_MEMBER;
  store_field(res, r, 4, tracking, sizeof tracking);
  if (store_tracking_parse(tracking, &s->tracking) != STORE_OK)
    s->tracking = STORE_TRACK_ALL;
  s->last_seq = store_field_i64(res, r, 5);
  s->joined_seq = store_field_i64(res, r, 6);
  s->read_seq = store_field_i64(res, r, 7);
  s->member_count = store_field_i64(res, r, 8);
}

static void summary_row(const PGresult *res, int r, void *elem)
{
  summary_from_row(res, r, elem);
}

/* Runs the query for kind with conv (NULL: all). */
static int query(struct store_conn *c, enum store_principal_kind kind,
                 int64_t id, const char *conv, PGresult **res)
{
  char ib[STORE_I64_BUF];
  const char *p[2] = {store_i64(ib, id), conv};

  if (kind != STORE_PRINCIPAL_USER && kind != STORE_PRINCIPAL_BOT)
    return store_fail(c, STORE_EINVAL, "invalid principal kind %d", (int)kind);
  return store_exec(c, res, kind == STORE_PRINCIPAL_BOT ? BOT_SQL : USER_SQL,
                    2, p);
}

int store_principal_conversations(struct store_conn *c,
                                  enum store_principal_kind kind, int64_t id,
                                  struct store_conv_summary **out, size_t *n)
{
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  rc = query(c, kind, id, NULL, &res);
  if (rc != STORE_OK)
    goto out;
  rc = store_rows(c, res, sizeof(struct store_conv_summary), summary_row,
                  (void **)out, n);
out:
  PQclear(res);
  return rc;
}

int store_conversation_get(struct store_conn *c,
                           enum store_principal_kind kind, int64_t id,
                           int64_t conversation_id,
                           struct store_conv_summary *out)
{
  PGresult *res = NULL;
  char cb[STORE_I64_BUF];
  int rc;

  store_clear(c);
  rc = query(c, kind, id, store_i64(cb, conversation_id), &res);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown conversation id %s", cb);
    goto out;
  }
  summary_from_row(res, 0, out);
out:
  PQclear(res);
  return rc;
}
