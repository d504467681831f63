/*
 * card_facts.c — what the server asks about cards besides the cards
 * themselves (store.h, "Cards"): the facts the rules need (managers at
 * any level, the people a card names, an employee's OKRs of a period),
 * device keys, the reminder claim and the task_after automation's probe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* ---- facts ---- */

int store_card_manages(struct store_conn *c, int64_t manager_id,
                       const int64_t *ids, size_t n, bool *out)
{
  char mb[STORE_I64_BUF];
  char *arr;
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  if (!n) {
    *out = false;
    return STORE_OK;
  }
  if (!(arr = store_i64_array_text(ids, n)))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  {
    const char *p[2] = {store_i64(mb, manager_id), arr};
    rc = store_exec(c, &res, "SELECT herald_manages_any($1::bigint,"
                    " $2::bigint[])", 2, p);
  }
  free(arr);
  if (rc != STORE_OK)
    return rc;
  *out = store_field_bool(res, 0, 0);
  PQclear(res);
  return STORE_OK;
}

int store_card_people_check(struct store_conn *c, int64_t conversation_id,
                            const int64_t *ids, size_t n, int *bad, int *why)
{
  char cb[STORE_I64_BUF];
  char *arr;
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  *bad = -1;
  *why = 0;
  if (!n)
    return STORE_OK;
  if (!(arr = store_i64_array_text(ids, n)))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  {
    const char *p[2] = {arr, store_i64(cb, conversation_id)};
    rc = store_exec(c, &res,
                    "SELECT x.o - 1, CASE WHEN u.id IS NULL OR NOT u.active"
                    " THEN 1 ELSE 2 END"
                    " FROM unnest($1::bigint[]) WITH ORDINALITY AS x(id, o)"
                    " LEFT JOIN users u ON u.id = x.id"
                    " LEFT JOIN members m ON m.user_id = x.id"
                    "  AND m.conversation_id = $2::bigint"
                    "  AND m.left_seq IS NULL"
                    " WHERE u.id IS NULL OR NOT u.active OR m.user_id IS NULL"
                    " ORDER BY x.o LIMIT 1", 2, p);
  }
  free(arr);
  if (rc != STORE_OK)
    return rc;
  if (PQntuples(res) == 1) {
    *bad = (int)store_field_i64(res, 0, 0);
    *why = (int)store_field_i64(res, 0, 1);
  }
  PQclear(res);
  return STORE_OK;
}

int store_card_okrs(struct store_conn *c, int64_t owner, const char *period,
                    char **json)
{
  char ob[STORE_I64_BUF];
  const char *p[2] = {store_i64(ob, owner), period ? period : ""};
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  rc = store_exec(c, &res,
                  "SELECT coalesce(jsonb_agg(jsonb_build_object('card', k.id,"
                  " 'state', k.state) ORDER BY k.id), '[]'::jsonb)::text"
                  " FROM cards k WHERE k.type = 'okr'"
                  " AND k.state ->> 'owner' = $1 AND k.state ->> 'period' = $2",
                  2, p);
  if (rc != STORE_OK)
    return rc;
  *json = store_field_dup(res, 0, 0);
  PQclear(res);
  return *json ? STORE_OK : store_fail(c, STORE_EINTERNAL, "out of memory");
}

int store_device_key_set(struct store_conn *c, int64_t user_id,
                         const char *dev, const uint8_t pub[32])
{
  char ub[STORE_I64_BUF], hx[65];
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  if (!dev || !*dev || strlen(dev) > 100)
    return store_fail(c, STORE_EINVAL, "device name must be 1-100 bytes");
  store_hex(pub, 32, hx);
  {
    const char *p[3] = {store_i64(ub, user_id), dev, hx};
    /* Find or create the device (as a login does) and set its key only
     * while it has none; the answer says whether the key is now ours. */
    rc = store_exec(c, &res,
                    "INSERT INTO devices (user_id, name, last_seen_at,"
                    " sign_public_key)"
                    " VALUES ($1::bigint, $2, herald_now(), decode($3, 'hex'))"
                    " ON CONFLICT (user_id, name)"
                    "  WHERE name <> '' AND revoked_at IS NULL"
                    " DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at,"
                    "  sign_public_key = coalesce(devices.sign_public_key,"
                    "  EXCLUDED.sign_public_key)"
                    " RETURNING sign_public_key = decode($3, 'hex')",
                    3, p);
  }
  if (rc == STORE_EEXISTS)
    return store_fail(c, STORE_EEXISTS, "this key belongs to another device");
  if (rc != STORE_OK)
    return rc;
  rc = PQntuples(res) == 1 && store_field_bool(res, 0, 0)
           ? STORE_OK
           : store_fail(c, STORE_EEXISTS, "device \"%s\" already has a "
                        "different key", dev);
  PQclear(res);
  return rc;
}

int store_device_key_get(struct store_conn *c, int64_t user_id,
                         const char *dev, uint8_t pub[32], bool *found)
{
  char ub[STORE_I64_BUF];
  const char *p[2] = {store_i64(ub, user_id), dev};
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  rc = store_exec(c, &res,
                  "SELECT sign_public_key FROM devices WHERE user_id ="
                  " $1::bigint AND name = $2 AND name <> ''"
                  " AND revoked_at IS NULL AND sign_public_key IS NOT NULL",
                  2, p);
  if (rc != STORE_OK)
    return rc;
  *found = PQntuples(res) == 1 && store_bytea_field(res, 0, 0, pub, 32) == 0;
  PQclear(res);
  return STORE_OK;
}

/* ---- reminders ---- */

int store_card_reminders_claim(struct store_conn *c, const char *node,
                               int lease_s, size_t limit, int64_t **ids,
                               size_t *n)
{
  char lb[STORE_I64_BUF], nb[STORE_I64_BUF];
  const char *p[3] = {node, store_i64(lb, lease_s),
                      store_i64(nb, (int64_t)limit)};
  PGresult *res = NULL;
  int rc, rows;

  store_clear(c);
  *ids = NULL;
  *n = 0;
  rc = store_exec(c, &res,
                  "WITH due AS (SELECT id FROM cards"
                  " WHERE next_reminder_at <= herald_now()"
                  " AND (claim_expires_at IS NULL"
                  "  OR claim_expires_at < herald_now())"
                  " ORDER BY next_reminder_at LIMIT $3::bigint"
                  " FOR UPDATE SKIP LOCKED)"
                  " UPDATE cards k SET claimed_by = $1,"
                  " claim_expires_at = herald_now() + $2::integer"
                  "  * interval '1 second'"
                  " FROM due WHERE k.id = due.id RETURNING k.id", 3, p);
  if (rc != STORE_OK)
    return rc;
  rows = PQntuples(res);
  if (rows > 0 && !(*ids = calloc((size_t)rows, sizeof(int64_t)))) {
    PQclear(res);
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  }
  for (int r = 0; r < rows; r++)
    (*ids)[r] = store_field_i64(res, r, 0);
  *n = (size_t)rows;
  PQclear(res);
  return STORE_OK;
}

int store_card_reminder_defer(struct store_conn *c, int64_t card_id,
                              int64_t at_ms)
{
  char cb[STORE_I64_BUF], ab[STORE_I64_BUF];
  const char *p[2] = {store_i64(cb, card_id),
                      at_ms ? store_i64(ab, at_ms) : NULL};

  store_clear(c);
  return store_exec(c, NULL,
                    "UPDATE cards SET next_reminder_at ="
                    " herald_ms_time($2::bigint), claimed_by = NULL,"
                    " claim_expires_at = NULL WHERE id = $1::bigint", 2, p);
}

/* ---- task_after ---- */

static void due_from_row(const PGresult *res, int r, void *elem)
{
  struct store_task_due *d = elem;

  d->conversation_id = store_field_i64(res, r, 0);
  d->user_id = store_field_i64(res, r, 1);
  d->seq = store_field_i64(res, r, 2);
  d->upto = store_field_i64(res, r, 3);
  d->count = store_field_i64(res, r, 4);
  d->sender_id = store_field_i64(res, r, 5);
  d->sent_at_ms = store_field_i64(res, r, 6);
  store_field(res, r, 7, d->body, sizeof(d->body));
  store_field(res, r, 8, d->title, sizeof(d->title));
  d->marker = store_field_i64(res, r, 9);
}

int store_task_due(struct store_conn *c, size_t limit,
                   struct store_task_due **out, size_t *n)
{
  char lb[STORE_I64_BUF];
  const char *p[1] = {store_i64(lb, (int64_t)limit)};
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  if (limit < 1)
    return store_fail(c, STORE_EINVAL, "limit must be at least 1");
  rc = store_exec(c, &res, "SELECT * FROM herald_task_due($1::integer)", 1, p);
  if (rc == STORE_OK)
    rc = store_rows(c, res, sizeof(struct store_task_due), due_from_row,
                    (void **)out, n);
  PQclear(res);
  return rc;
}
