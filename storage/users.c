/*
 * users.c — the organisation, its departments and users, and the org tree.
 *
 * Validation happens here first so that the caller gets a message naming
 * the field and value; the database enforces the same rules again
 * (constraints and triggers in sql/0001_init.sql), so nothing else that
 * writes these tables can break them. Admin changes are written to the
 * audit log in the same transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define AUDIT_ACTOR "admin"

static const char *const role_names[] = {"staff", "manager", "admin"};

const char *store_role_name(enum store_role r)
{
  return (unsigned)r < 3 ? role_names[r] : NULL;
}

int store_role_parse(const char *s, enum store_role *out)
{
  for (int i = 0; i < 3; i++)
    if (s && strcmp(s, role_names[i]) == 0) {
      *out = (enum store_role)i;
      return STORE_OK;
    }
  return STORE_EINVAL;
}

/* The login rule of the users table: 1-64 characters, ASCII letters, digits
 * and . _ @ -, starting with a letter or digit. */
static bool valid_login(const char *s)
{
  size_t n = s ? strlen(s) : 0;

  if (n == 0 || n > STORE_LOGIN_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9');

    if (!alnum && (i == 0 || !strchr("._@-", ch)))
      return false;
  }
  return true;
}

/* PostgreSQL rejects invalid UTF-8 itself. */
size_t store_utf8_chars(const char *s)
{
  size_t n = 0;

  for (; *s; s++)
    n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static const char USER_COLUMNS[] =
  "SELECT u.id, u.login, u.display_name, coalesce(d.name, ''),"
  " coalesce(m.login, ''), u.time_zone, u.role, u.active,"
  " u.password_hash IS NOT NULL, u.read_time_opt_out,"
  " extract(epoch FROM u.created_at)::bigint"
  " FROM users u"
  " LEFT JOIN departments d ON d.id = u.department_id"
  " LEFT JOIN users m ON m.id = u.manager_id ";

static void user_from_row(const PGresult *res, int r, struct store_user *u)
{
  char role[16];

  memset(u, 0, sizeof *u);
  u->id = store_field_i64(res, r, 0);
  store_field(res, r, 1, u->login, sizeof u->login);
  store_field(res, r, 2, u->display_name, sizeof u->display_name);
  store_field(res, r, 3, u->department, sizeof u->department);
  store_field(res, r, 4, u->manager_login, sizeof u->manager_login);
  store_field(res, r, 5, u->time_zone, sizeof u->time_zone);
  store_field(res, r, 6, role, sizeof role);
  if (store_role_parse(role, &u->role) != STORE_OK)
    u->role = STORE_ROLE_STAFF;
  u->active = store_field_bool(res, r, 7);
  u->has_password = store_field_bool(res, r, 8);
  u->read_time_opt_out = store_field_bool(res, r, 9);
  u->created_at = store_field_i64(res, r, 10);
}

static void user_row(const PGresult *res, int r, void *elem)
{
  user_from_row(res, r, elem);
}

/* Looks up a user's id and active flag by login. With what (e.g.
 * "manager") non-NULL, an unknown login reads 'unknown manager "x"'. */
static int find_login(struct store_conn *c, const char *login, const char *what,
                      int64_t *id, bool *active)
{
  PGresult *res = NULL;
  const char *p[1] = {login};
  int rc;

  rc = store_exec(c, &res,
                  "SELECT id, active FROM users WHERE lower(login) = lower($1)",
                  1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown %s \"%s\"",
                    what ? what : "user", login);
    goto out;
  }
  *id = store_field_i64(res, 0, 0);
  if (active)
    *active = store_field_bool(res, 0, 1);
out:
  PQclear(res);
  return rc;
}

static int check_time_zone(struct store_conn *c, const char *tz)
{
  PGresult *res = NULL;
  const char *p[1] = {tz};
  int rc;

  rc = store_exec(c, &res,
                  "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)",
                  1, p);
  if (rc != STORE_OK)
    goto out;
  if (!store_field_bool(res, 0, 0))
    rc = store_fail(c, STORE_EINVAL,
                    "unknown time zone \"%s\" (use an IANA name such as "
                    "Asia/Hong_Kong or Europe/Berlin)", tz);
out:
  PQclear(res);
  return rc;
}

int store_time_zone_check(struct store_conn *c, const char *tz)
{
  store_clear(c);
  return check_time_zone(c, tz ? tz : "");
}

/* The department's id, creating it when missing. */
static int department_id(struct store_conn *c, const char *name, int64_t *id)
{
  PGresult *res = NULL;
  const char *p[1] = {name};
  size_t chars = store_utf8_chars(name);
  int rc;

  if (chars < 1 || chars > 100)
    return store_fail(c, STORE_EINVAL,
                      "department name must be 1-100 characters");
  /* Two statements on purpose: under READ COMMITTED the SELECT takes a new
   * snapshot and so also sees a department a concurrent caller just
   * committed (the INSERT then did nothing). */
  rc = store_exec(c, NULL,
                  "INSERT INTO departments (name) VALUES ($1)"
                  " ON CONFLICT ((lower(name))) DO NOTHING", 1, p);
  if (rc == STORE_OK)
    rc = store_exec(c, &res,
                    "SELECT id FROM departments WHERE lower(name) = lower($1)",
                    1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) != 1) {
    rc = store_fail(c, STORE_EINTERNAL, "department \"%s\" vanished", name);
    goto out;
  }
  *id = store_field_i64(res, 0, 0);
out:
  PQclear(res);
  return rc;
}

/* Adds a user inside the caller's transaction. */
static int user_add_tx(struct store_conn *c, const struct store_user_new *u,
                       enum store_role role, int64_t *id_out)
{
  PGresult *res = NULL;
  const char *tz = u->time_zone ? u->time_zone : "UTC";
  char dept_buf[STORE_I64_BUF], mgr_buf[STORE_I64_BUF];
  const char *dept = NULL, *mgr = NULL;
  size_t chars;
  int rc;

  if (!valid_login(u->login))
    return store_fail(c, STORE_EINVAL,
                      "invalid login \"%s\": use 1-64 letters, digits, '.', "
                      "'_', '@' or '-', starting with a letter or digit",
                      u->login ? u->login : "");
  chars = u->display_name ? store_utf8_chars(u->display_name) : 0;
  if (chars < 1 || chars > 100)
    return store_fail(c, STORE_EINVAL, "display name must be 1-100 characters");
  if (!store_role_name(role))
    return store_fail(c, STORE_EINVAL, "invalid role %d", (int)role);
  rc = check_time_zone(c, tz);
  if (rc != STORE_OK)
    return rc;
  if (u->manager_login) {
    int64_t mid = 0;
    bool active = false;

    rc = find_login(c, u->manager_login, "manager", &mid, &active);
    if (rc != STORE_OK)
      return rc;
    if (!active)
      return store_fail(c, STORE_EINVAL, "manager \"%s\" is deactivated",
                        u->manager_login);
    mgr = store_i64(mgr_buf, mid);
  }
  if (u->department) {
    int64_t did = 0;

    rc = department_id(c, u->department, &did);
    if (rc != STORE_OK)
      return rc;
    dept = store_i64(dept_buf, did);
  }
  {
    const char *p[7] = {u->login, u->display_name, dept, mgr, tz,
                        store_role_name(role), u->password_hash};

    rc = store_exec(c, &res,
                    "INSERT INTO users (login, display_name, department_id,"
                    " manager_id, time_zone, role, password_hash)"
                    " VALUES ($1, $2, $3::bigint, $4::bigint, $5, $6, $7)"
                    " RETURNING id", 7, p);
  }
  if (rc == STORE_EEXISTS)
    rc = store_fail(c, STORE_EEXISTS, "login \"%s\" already exists", u->login);
  if (rc != STORE_OK)
    goto out;
  if (id_out)
    *id_out = store_field_i64(res, 0, 0);
  rc = store_audit(c, AUDIT_ACTOR, "user.add", "login", u->login, "role",
                   store_role_name(role));
out:
  PQclear(res);
  return rc;
}

int store_user_add(struct store_conn *c, const struct store_user_new *u,
                   int64_t *id)
{
  int64_t new_id;
  int rc;

  store_clear(c);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = user_add_tx(c, u, u->role, &new_id);
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    goto out;
  if (id)
    *id = new_id;
out:
  if (rc != STORE_OK)
    store_rollback(c);
  return rc;
}

int store_org_init(struct store_conn *c, const char *org_name,
                   const struct store_user_new *admin, int64_t *admin_id)
{
  PGresult *res = NULL;
  const char *p[1] = {org_name};
  int64_t id;
  size_t chars = org_name ? store_utf8_chars(org_name) : 0;
  int rc;

  store_clear(c);
  if (chars < 1 || chars > 200)
    return store_fail(c, STORE_EINVAL,
                      "organisation name must be 1-200 characters");
  rc = store_begin(c);
  if (rc != STORE_OK)
    goto out;
  /* ON CONFLICT waits for a concurrent init and then inserts nothing, so
   * exactly one of two racing inits wins. */
  rc = store_exec(c, &res,
                  "INSERT INTO org (name) VALUES ($1) ON CONFLICT DO NOTHING"
                  " RETURNING name", 1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    char name[STORE_TITLE_MAX + 1] = "";

    PQclear(res);
    res = NULL;
    rc = store_exec(c, &res, "SELECT name FROM org", 0, NULL);
    if (rc != STORE_OK)
      goto out;
    if (PQntuples(res) > 0)
      store_field(res, 0, 0, name, sizeof name);
    rc = store_fail(c, STORE_EEXISTS,
                    "the organisation is already initialised (\"%s\")", name);
    goto out;
  }
  rc = user_add_tx(c, admin, STORE_ROLE_ADMIN, &id);
  if (rc == STORE_OK)
    rc = store_audit(c, AUDIT_ACTOR, "org.init", "name", org_name, "admin",
                     admin->login);
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    goto out;
  if (admin_id)
    *admin_id = id;
out:
  if (rc != STORE_OK)
    store_rollback(c);
  PQclear(res);
  return rc;
}

int store_org_get(struct store_conn *c, struct store_org *out)
{
  PGresult *res = NULL;
  int rc;

  store_clear(c);
  rc = store_exec(c, &res,
                  "SELECT name, read_time_opt_out_allowed,"
                  " read_time_retention_days FROM org", 0, NULL);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND,
                    "the organisation is not initialised yet "
                    "(run: heraldctl init --org NAME --admin LOGIN)");
    goto out;
  }
  memset(out, 0, sizeof *out);
  store_field(res, 0, 0, out->name, sizeof out->name);
  out->read_time_opt_out_allowed = store_field_bool(res, 0, 1);
  out->read_time_retention_days = (int)store_field_i64(res, 0, 2);
out:
  PQclear(res);
  return rc;
}

static int user_get_where(struct store_conn *c, const char *where,
                          const char *param, bool by_id,
                          struct store_user *out)
{
  PGresult *res = NULL;
  const char *p[1] = {param};
  char sql[sizeof USER_COLUMNS + 64];
  int rc;

  snprintf(sql, sizeof sql, "%s%s", USER_COLUMNS, where);
  rc = store_exec(c, &res, sql, 1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = by_id ? store_fail(c, STORE_ENOTFOUND, "unknown user id %s", param)
               : store_fail(c, STORE_ENOTFOUND, "unknown user \"%s\"", param);
    goto out;
  }
  user_from_row(res, 0, out);
out:
  PQclear(res);
  return rc;
}

int store_user_get(struct store_conn *c, const char *login,
                   struct store_user *out)
{
  store_clear(c);
  return user_get_where(c, "WHERE lower(u.login) = lower($1)", login,
                        false, out);
}

int store_user_get_by_id(struct store_conn *c, int64_t id,
                         struct store_user *out)
{
  char buf[STORE_I64_BUF];

  store_clear(c);
  return user_get_where(c, "WHERE u.id = $1::bigint", store_i64(buf, id),
                        true, out);
}

int store_user_list(struct store_conn *c, const struct store_user_filter *f,
                    struct store_user **out, size_t *n)
{
  PGresult *res = NULL;
  const char *p[2] = {f && f->active_only ? "t" : "f", f ? f->department : NULL};
  char sql[sizeof USER_COLUMNS + 256];
  int rc;

  store_clear(c);
  snprintf(sql, sizeof sql,
           "%sWHERE ($1::boolean IS FALSE OR u.active)"
           " AND ($2::text IS NULL OR lower(d.name) = lower($2))"
           " ORDER BY lower(u.login)", USER_COLUMNS);
  rc = store_exec(c, &res, sql, 2, p);
  if (rc != STORE_OK)
    goto out;
  rc = store_rows(c, res, sizeof(struct store_user), user_row,
                  (void **)out, n);
out:
  PQclear(res);
  return rc;
}

int store_user_deactivate(struct store_conn *c, const char *login)
{
  const char *p[1] = {login};
  int64_t id;
  bool active;
  int rc;

  store_clear(c);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = find_login(c, login, NULL, &id, &active);
  if (rc != STORE_OK || !active)
    goto out;
  rc = store_exec(c, NULL,
                  "UPDATE users SET active = false, deactivated_at = herald_now()"
                  " WHERE lower(login) = lower($1) AND active", 1, p);
  /* A deactivated account must not keep working through old tokens. */
  if (rc == STORE_OK) {
    char buf[STORE_I64_BUF];
    const char *q[1] = {store_i64(buf, id)};

    rc = store_exec(c, NULL,
                    "UPDATE sessions SET revoked_at = herald_now()"
                    " WHERE user_id = $1::bigint AND revoked_at IS NULL", 1, q);
  }
  if (rc == STORE_OK)
    rc = store_audit(c, AUDIT_ACTOR, "user.deactivate", "login", login, NULL,
                     NULL);
out:
  if (rc == STORE_OK)
    rc = store_commit(c);
  if (rc != STORE_OK)
    store_rollback(c);
  return rc;
}

int store_user_set_manager(struct store_conn *c, const char *login,
                           const char *manager_login)
{
  char ubuf[STORE_I64_BUF], mbuf[STORE_I64_BUF];
  const char *mgr = NULL;
  int64_t uid = 0, mid = 0;
  bool active = false;
  int rc;

  store_clear(c);
  rc = store_begin(c);
  if (rc == STORE_OK)
    rc = find_login(c, login, NULL, &uid, NULL);
  if (rc == STORE_OK && manager_login) {
    rc = find_login(c, manager_login, "manager", &mid, &active);
    if (rc == STORE_OK && !active)
      rc = store_fail(c, STORE_EINVAL, "manager \"%s\" is deactivated",
                      manager_login);
    mgr = store_i64(mbuf, mid);
  }
  if (rc != STORE_OK)
    goto out;
  {
    const char *p[2] = {store_i64(ubuf, uid), mgr};

    rc = store_exec(c, NULL,
                    "UPDATE users SET manager_id = $2::bigint"
                    " WHERE id = $1::bigint", 2, p);
  }
  if (rc == STORE_EINVAL)
    rc = store_fail(c, STORE_EINVAL,
                    "cannot make \"%s\" the manager of \"%s\": the org tree "
                    "would have a cycle", manager_login, login);
  if (rc == STORE_OK)
    rc = store_audit(c, AUDIT_ACTOR, "user.set_manager", "login", login,
                     "manager", manager_login);
  if (rc == STORE_OK)
    rc = store_commit(c);
out:
  if (rc != STORE_OK)
    store_rollback(c);
  return rc;
}

int store_user_check(struct store_conn *c, int64_t id,
                     char login[STORE_LOGIN_MAX + 1])
{
  PGresult *res = NULL;
  char buf[STORE_I64_BUF], name[STORE_LOGIN_MAX + 1];
  const char *p[1] = {store_i64(buf, id)};
  int rc;

  rc = store_exec(c, &res, "SELECT login, active FROM users WHERE id = $1::bigint",
                  1, p);
  if (rc != STORE_OK)
    goto out;
  if (PQntuples(res) == 0) {
    rc = store_fail(c, STORE_ENOTFOUND, "unknown user id %s", p[0]);
    goto out;
  }
  store_field(res, 0, 0, name, sizeof name);
  if (!store_field_bool(res, 0, 1)) {
    rc = store_fail(c, STORE_EINVAL, "user \"%s\" is deactivated", name);
    goto out;
  }
  if (login)
    memcpy(login, name, sizeof name);
out:
  PQclear(res);
  return rc;
}
