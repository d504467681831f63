/*
 * conversations.c — groups, direct (1:1) conversations and their members.
 *
 * Messages, receipts and the per-conversation seq counter are used by the
 * chat core (see conversations.last_seq in sql/0001_init.sql); this file
 * only creates conversations and manages membership. A new member's read
 * and delivery markers start at the conversation's current last_seq, so
 * earlier messages are never "unread" for them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define AUDIT_ACTOR "admin"

static const char *const tracking_names[] = {"all", "flagged", "off"};

const char *store_tracking_name(enum store_tracking t)
{
  return (unsigned)t < 3 ? tracking_names[t] : NULL;
}

int store_tracking_parse(const char *s, enum store_tracking *out)
{
  for (int i = 0; i < 3; i++)
    if (s && strcmp(s, tracking_names[i]) == 0) {
      *out = (enum store_tracking)i;
      return STORE_OK;
    }
  return STORE_EINVAL;
}

static const char GROUP_COLUMNS[] =
  "SELECT c.id, c.title, c.tracking, c.last_seq,"
  " (SELECT count(*) FROM members m"
  "   WHERE m.conversation_id = c.id AND m.left_seq IS NULL),"
  " coalesce((SELECT u.login FROM members m JOIN users u ON u.id = m.user_id"
  "   WHERE m.conversation_id = c.id AND m.role = 'owner'"
  "   AND m.left_seq IS NULL ORDER BY m.joined_at, u.id LIMIT 1), '')"
  " FROM conversations c WHERE c.kind = 'group' ";

static void group_from_row(const PGresult *res, int r, struct store_group *g)
{
  char tracking[16];

  memset(g, 0, sizeof *g);
  g->id = store_field_i64(res, r, 0);
  store_field(res, r, 1, g->title, sizeof g->title);
  store_field(res, r, 2, tracking, sizeof tracking);
  if (store_tracking_parse(tracking, &g->tracking) != STORE_OK)
    g->tracking = STORE_TRACK_ALL;
  g->last_seq = store_field_i64(res, r, 3);
  g->member_count = store_field_i64(res, r, 4);
  store_field(res, r, 5, g->owner_login, sizeof g->owner_login);
}

static void group_row(const PGresult *res, int r, void *elem)
{
  group_from_row(res, r, elem);
}

/* Inserts a member at `seq` in the caller's transaction. Someone who left
 * and comes back gets fresh markers. *added tells whether a row changed
 * (false: already a current member). */
static int member_insert(struct store_conn *c, int64_t conv, int64_t user,
                         enum store_member_role role, int64_t seq, bool *added)
{
  PGresult *res = NULL;
  char cb[STORE_I64_BUF], ub[STORE_I64_BUF], sb[STORE_I64_BUF];
  const char *p[4] = {store_i64(cb, conv), store_i64(ub, user),
                      role == STORE_OWNER ? "owner" : "member",
                      store_i64(sb, seq)};
  int rc;

  rc = store_exec(c, &res,
                  "INSERT INTO members AS m (conversation_id, user_id, role,"
                  " joined_seq, read_seq, delivered_seq)"
                  " VALUES ($1::bigint, $2::bigint, $3, $4::bigint, $4::bigint,"
                  " $4::bigint)"
                  " ON CONFLICT (conversation_id, user_id) DO UPDATE"
                  " SET role = EXCLUDED.role, joined_seq = EXCLUDED.joined_seq,"
                  " read_seq = EXCLUDED.read_seq,"
                  " delivered_seq = EXCLUDED.delivered_seq, left_seq = NULL,"
                  " joined_at = herald_now()"
                  " WHERE m.left_seq IS NOT NULL"
                  " RETURNING 1", 4, p);
  if (rc == STORE_OK)
    *added = PQntuples(res) > 0;
  PQclear(res);
  return rc;
}

int store_group_create(struct store_conn *c, const char *title,
                       int64_t owner_id, enum store_tracking tracking,
                       const int64_t *member_ids, size_t n_members,
                       int64_t *id)
{
  PGresult *res = NULL;
  char owner[STORE_LOGIN_MAX + 1], ob[STORE_I64_BUF];
  size_t chars = title ? store_utf8_chars(title) : 0;
  int64_t conv = 0;
  bool added;
  int rc;

  store_clear(c);
  if (chars < 1 || chars > 200)
    return store_fail(c, STORE_EINVAL, "group title must be 1-200 characters");
  if (!store_tracking_name(tracking))
    return store_fail(c, STORE_EINVAL, "invalid tracking policy %d",
                      (int)tracking);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = store_user_check(c, owner_id, owner);
  if (rc != STORE_OK)
    goto out;
  {
    const char *p[3] = {title, store_tracking_name(tracking),
                        store_i64(ob, owner_id)};

    rc = store_exec(c, &res,
                    "INSERT INTO conversations (kind, title, tracking, created_by)"
                    " VALUES ('group', $1, $2, $3::bigint) RETURNING id", 3, p);
  }
  if (rc == STORE_EEXISTS)
    rc = store_fail(c, STORE_EEXISTS, "group \"%s\" already exists", title);
  if (rc != STORE_OK)
    goto out;
  conv = store_field_i64(res, 0, 0);
  rc = member_insert(c, conv, owner_id, STORE_OWNER, 0, &added);
  for (size_t i = 0; rc == STORE_OK && i < n_members; i++) {
    if (member_ids[i] == owner_id)
      continue;
    rc = store_user_check(c, member_ids[i], NULL);
    if (rc == STORE_OK)
      rc = member_insert(c, conv, member_ids[i], STORE_MEMBER, 0, &added);
  }
  if (rc == STORE_OK)
    rc = store_audit(c, AUDIT_ACTOR, "group.create", "title", title, "owner",
                     owner);
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc == STORE_OK && id)
    *id = conv;
out:
  if (rc != STORE_OK)
    store_rollback(c);
  PQclear(res);
  return rc;
}

int store_group_get(struct store_conn *c, const char *title,
                    struct store_group *out)
{
  PGresult *res = NULL;
  const char *p[1] = {title};
  char sql[sizeof GROUP_COLUMNS + 64];
  int rc;

  store_clear(c);
  snprintf(sql, sizeof sql, "%sAND lower(c.title) = lower($1)", GROUP_COLUMNS);
  rc = store_exec(c, &res, sql, 1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown group \"%s\"", title);
    goto out;
  }
  group_from_row(res, 0, out);
out:
  PQclear(res);
  return rc;
}

int store_group_list(struct store_conn *c, struct store_group **out,
                     size_t *n)
{
  PGresult *res = NULL;
  char sql[sizeof GROUP_COLUMNS + 64];
  int rc;

  store_clear(c);
  snprintf(sql, sizeof sql, "%sORDER BY lower(c.title)", GROUP_COLUMNS);
  rc = store_exec(c, &res, sql, 0, NULL);
  if (rc != STORE_OK)
    goto out;
  rc = store_rows(c, res, sizeof(struct store_group), group_row,
                  (void **)out, n);
out:
  PQclear(res);
  return rc;
}

int store_group_add_member(struct store_conn *c, int64_t conversation_id,
                           int64_t user_id, enum store_member_role role)
{
  PGresult *res = NULL;
  char cb[STORE_I64_BUF], login[STORE_LOGIN_MAX + 1];
  char title[STORE_TITLE_MAX + 1], kind[16];
  const char *p[1] = {store_i64(cb, conversation_id)};
  bool added;
  int rc;

  store_clear(c);
  rc = store_begin(c);
  if (rc != STORE_OK)
    goto out;
  /* FOR SHARE holds off a concurrent send batch (which updates last_seq)
   * until we commit, so joined_seq is exactly the last seq before the
   * member joined. */
  rc = store_exec(c, &res,
                  "SELECT kind, coalesce(title, ''), last_seq FROM conversations"
                  " WHERE id = $1::bigint FOR SHARE", 1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown conversation id %s", p[0]);
    goto out;
  }
  store_field(res, 0, 0, kind, sizeof kind);
  store_field(res, 0, 1, title, sizeof title);
  if (strcmp(kind, "group") != 0) {
    rc = store_fail(c, STORE_EINVAL,
                    "cannot add members to a direct conversation");
    goto out;
  }
  rc = store_user_check(c, user_id, login);
  if (rc == STORE_OK)
    rc = member_insert(c, conversation_id, user_id, role,
                       store_field_i64(res, 0, 2), &added);
  if (rc == STORE_OK && !added)
    rc = store_fail(c, STORE_EEXISTS, "\"%s\" is already a member of \"%s\"",
                    login, title);
  if (rc == STORE_OK)
    rc = store_audit(c, AUDIT_ACTOR, "group.add_member", "title", title,
                     "login", login);
  if (rc == STORE_OK)
    rc = store_commit(c);
out:
  if (rc != STORE_OK)
    store_rollback(c);
  PQclear(res);
  return rc;
}

int store_conversation_members(struct store_conn *c, int64_t conversation_id,
                               struct store_member **out, size_t *n)
{
  PGresult *res = NULL;
  struct store_member *list = NULL;
  char cb[STORE_I64_BUF];
  const char *p[1] = {store_i64(cb, conversation_id)};
  int rc, rows;

  store_clear(c);
  rc = store_exec(c, &res,
                  "SELECT u.id, u.login, u.display_name, m.role, u.active,"
                  " m.joined_seq, m.read_seq, m.delivered_seq"
                  " FROM conversations c"
                  " LEFT JOIN members m ON m.conversation_id = c.id"
                  "  AND m.left_seq IS NULL"
                  " LEFT JOIN users u ON u.id = m.user_id"
                  " WHERE c.id = $1::bigint ORDER BY lower(u.login)", 1, p);
  if (rc != STORE_OK)
    goto out;
  rows = PQntuples(res);
  if (rows == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown conversation id %s", p[0]);
    goto out;
  }
  /* The LEFT JOIN yields one all-NULL row for a conversation without
   * members. */
  if (PQgetisnull(res, 0, 0))
    rows = 0;
  if (rows > 0 && !(list = calloc((size_t)rows, sizeof *list))) {
    rc = store_fail(c, STORE_EINTERNAL, "out of memory");
    goto out;
  }
  for (int r = 0; r < rows; r++) {
    char role[16];

    list[r].user_id = store_field_i64(res, r, 0);
    store_field(res, r, 1, list[r].login, sizeof list[r].login);
    store_field(res, r, 2, list[r].display_name, sizeof list[r].display_name);
    store_field(res, r, 3, role, sizeof role);
    list[r].role = strcmp(role, "owner") == 0 ? STORE_OWNER : STORE_MEMBER;
    list[r].active = store_field_bool(res, r, 4);
    list[r].joined_seq = store_field_i64(res, r, 5);
    list[r].read_seq = store_field_i64(res, r, 6);
    list[r].delivered_seq = store_field_i64(res, r, 7);
  }
  *out = list;
  *n = (size_t)rows;
  list = NULL;
out:
  free(list);
  PQclear(res);
  return rc;
}

int store_direct_get_or_create(struct store_conn *c, int64_t user_a,
                               int64_t user_b, int64_t *id, bool *created)
{
  PGresult *res = NULL;
  int64_t lo = user_a < user_b ? user_a : user_b;
  int64_t hi = user_a < user_b ? user_b : user_a;
  char lb[STORE_I64_BUF], hb[STORE_I64_BUF], ab[STORE_I64_BUF];
  const char *p[3] = {store_i64(lb, lo), store_i64(hb, hi),
                      store_i64(ab, user_a)};
  int64_t conv = 0;
  bool made = false, added;
  int rc;

  store_clear(c);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = store_user_check(c, lo, NULL);
  if (rc == STORE_OK && hi != lo)
    rc = store_user_check(c, hi, NULL);
  if (rc != STORE_OK)
    goto out;
  /* The unique index on the pair makes a concurrent creator wait here and
   * then insert nothing; the SELECT below (a new snapshot) finds its row. */
  rc = store_exec(c, &res,
                  "INSERT INTO conversations (kind, direct_lo, direct_hi,"
                  " created_by) VALUES ('direct', $1::bigint, $2::bigint,"
                  " $3::bigint)"
                  " ON CONFLICT (direct_lo, direct_hi) WHERE kind = 'direct'"
                  " DO NOTHING RETURNING id", 3, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 1) {
    made = true;
    conv = store_field_i64(res, 0, 0);
    rc = member_insert(c, conv, lo, STORE_OWNER, 0, &added);
    if (rc == STORE_OK && hi != lo)
      rc = member_insert(c, conv, hi, STORE_OWNER, 0, &added);
  } else {
    PQclear(res);
    res = NULL;
    rc = store_exec(c, &res,
                    "SELECT id FROM conversations WHERE kind = 'direct'"
                    " AND direct_lo = $1::bigint AND direct_hi = $2::bigint",
                    2, p);
    if (rc == STORE_OK && PQntuples(res) != 1)
      rc = store_fail(c, STORE_EINTERNAL, "direct conversation vanished");
    if (rc == STORE_OK)
      conv = store_field_i64(res, 0, 0);
  }
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    goto out;
  *id = conv;
  if (created)
    *created = made;
out:
  if (rc != STORE_OK)
    store_rollback(c);
  PQclear(res);
  return rc;
}
