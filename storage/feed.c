/*
 * feed.c — reading a user's feed (PROTOCOL.md §3.6) for `sync`: the
 * entries after a cursor, in pages, and the cursor at the end.
 *
 * Entries are appended by the operations that cause them (a read appends
 * its senders' receipt entries in herald_read, the reminder sweep its
 * remind entries in herald_remind_sweep); each user's entries are
 * numbered by a gapless fs from feed_heads. Replay is a range scan of the
 * (user_id, fs) primary key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static void entry_from_row(const PGresult *res, int r, void *elem)
{
  struct store_feed_entry *e = elem;

  char kind[16];

  e->user_id = store_field_i64(res, r, 0);
  e->fs = store_field_i64(res, r, 1);
  e->conversation_id = store_field_i64(res, r, 2);
  e->from_seq = store_field_i64(res, r, 3);
  e->to_seq = store_field_i64(res, r, 4);
  /* The kinds of the CHECK on feed.kind (0004, 0006, 0008); 'ding' entries
   * name the recipient whose row changed. */
  store_field(res, r, 5, kind, sizeof kind);
  e->kind = strcmp(kind, "remind") == 0 ? STORE_FEED_REMIND
            : strcmp(kind, "ding") == 0 ? STORE_FEED_DING
            : strcmp(kind, "card") == 0 ? STORE_FEED_CARD
                                        : STORE_FEED_RECEIPT;
  e->count = store_field_i64(res, r, 6);
  e->since_ms = store_field_i64(res, r, 7);
  e->ding_user_id = store_field_i64(res, r, 8);
  e->card_id = store_field_i64(res, r, 9);
  e->card_ver = store_field_i64(res, r, 10);
}

int store_feed_after(struct store_conn *c, int64_t user_id, int64_t after_fs,
                     size_t limit, struct store_feed_entry **out, size_t *n)
{
  PGresult *res = NULL;
  char ub[STORE_I64_BUF], ab[STORE_I64_BUF], lb[STORE_I64_BUF];
  const char *p[3] = {store_i64(ub, user_id), store_i64(ab, after_fs),
                      store_i64(lb, (int64_t)limit)};
  int rc;

  store_clear(c);
  if (limit < 1 || limit > 100000)
    return store_fail(c, STORE_EINVAL, "limit must be 1-100000");
  rc = store_exec(c, &res,
                  "SELECT user_id, fs, conversation_id, from_seq, to_seq,"
                  " kind, coalesce(item_count, 0),"
                  " coalesce(floor(extract(epoch FROM since) * 1000), 0)"
                  "::bigint, coalesce(ding_user_id, 0), coalesce(card_id, 0),"
                  " coalesce(card_ver, 0)"
                  " FROM feed WHERE user_id = $1::bigint AND fs > $2::bigint"
                  " ORDER BY fs LIMIT $3::bigint", 3, p);
  if (rc == STORE_OK)
    rc = store_rows(c, res, sizeof(struct store_feed_entry), entry_from_row,
                    (void **)out, n);
  PQclear(res);
  return rc;
}

int store_feed_head(struct store_conn *c, int64_t user_id, int64_t *fs)
{
  PGresult *res = NULL;
  char ub[STORE_I64_BUF];
  const char *p[1] = {store_i64(ub, user_id)};
  int rc;

  store_clear(c);
  rc = store_exec(c, &res,
                  "SELECT coalesce((SELECT last_fs FROM feed_heads"
                  " WHERE user_id = $1::bigint), 0)", 1, p);
  if (rc == STORE_OK)
    *fs = store_field_i64(res, 0, 0);
  PQclear(res);
  return rc;
}
