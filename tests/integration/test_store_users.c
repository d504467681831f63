/*
 * test_store_users.c — the organisation, users, departments and the org
 * tree against a real PostgreSQL, with the exact error messages heraldctl
 * prints.
 */
#include "check.h"
#include "pgtest.h"
#include "store.h"

#define HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

static struct store_conn *db(void)
{
  char ci[1024];
  struct store_conn *c = NULL;

  pgtest_db_new(ci, sizeof ci);
  if (store_connect(ci, &c) != STORE_OK)
    CHECK_FAIL("store_connect: %s", store_errmsg(c));
  CHECK_INT(store_migrate(c, NULL), ==, STORE_OK);
  return c;
}

static struct store_conn *db_with_org(void)
{
  struct store_conn *c = db();
  struct store_user_new admin = {.login = "alice", .display_name = "Alice",
                                 .password_hash = HASH,
                                 .time_zone = "Asia/Hong_Kong"};

  CHECK_INT(store_org_init(c, "Acme", &admin, NULL), ==, STORE_OK);
  return c;
}

static int add(struct store_conn *c, const char *login, const char *manager,
               const char *dept, const char *tz)
{
  struct store_user_new u = {.login = login, .display_name = login,
                             .password_hash = HASH, .manager_login = manager,
                             .department = dept, .time_zone = tz,
                             .role = STORE_ROLE_STAFF};

  return store_user_add(c, &u, NULL);
}

TEST(org_init_once)
{
  struct store_conn *c = db();
  struct store_user_new admin = {.login = "alice", .display_name = "Alice",
                                 .password_hash = HASH};
  struct store_org org;
  struct store_user u;
  int64_t id = 0;

  CHECK_INT(store_org_get(c, &org), ==, STORE_ENOTFOUND);
  CHECK_CONTAINS(store_errmsg(c), "not initialised");
  CHECK_INT(store_org_init(c, "Acme", &admin, &id), ==, STORE_OK);
  CHECK_INT(id, >, 0);
  CHECK_INT(store_org_get(c, &org), ==, STORE_OK);
  CHECK_STR(org.name, "Acme");
  CHECK_INT(org.read_time_retention_days, ==, 90);
  CHECK(!org.read_time_opt_out_allowed);
  CHECK_INT(store_user_get(c, "ALICE", &u), ==, STORE_OK);
  CHECK_INT(u.role, ==, STORE_ROLE_ADMIN);
  CHECK(u.has_password);

  admin.login = "zed";
  CHECK_INT(store_org_init(c, "Other", &admin, NULL), ==, STORE_EEXISTS);
  CHECK_STR(store_errmsg(c), "the organisation is already initialised (\"Acme\")");
  /* The refused init left nothing behind. */
  CHECK_INT(store_user_get(c, "zed", &u), ==, STORE_ENOTFOUND);
  store_close(c);
}

TEST(user_add_get_list_deactivate)
{
  struct store_conn *c = db_with_org();
  struct store_user_filter f = {0};
  struct store_user *list = NULL, u;
  size_t n = 0;

  CHECK_INT(add(c, "bob", "alice", "Engineering", "Europe/Berlin"), ==, STORE_OK);
  CHECK_INT(add(c, "carol", "bob", "engineering", NULL), ==, STORE_OK);
  CHECK_INT(add(c, "dave", NULL, "Sales", "UTC"), ==, STORE_OK);

  CHECK_INT(store_user_get(c, "Bob", &u), ==, STORE_OK);
  CHECK_STR(u.login, "bob");
  CHECK_STR(u.manager_login, "alice");
  CHECK_STR(u.department, "Engineering");
  CHECK_STR(u.time_zone, "Europe/Berlin");
  CHECK(u.active);
  CHECK_INT(store_user_get(c, "carol", &u), ==, STORE_OK);
  /* Departments are shared ignoring case; the first spelling stays. */
  CHECK_STR(u.department, "Engineering");
  CHECK_STR(u.time_zone, "UTC");
  CHECK_INT(store_user_get_by_id(c, u.id, &u), ==, STORE_OK);
  CHECK_STR(u.login, "carol");

  CHECK_INT(store_user_list(c, NULL, &list, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 4);
  CHECK_STR(list[0].login, "alice");
  CHECK_STR(list[3].login, "dave");
  free(list);

  f.department = "ENGINEERING";
  CHECK_INT(store_user_list(c, &f, &list, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 2);
  free(list);

  CHECK_INT(store_user_deactivate(c, "bob"), ==, STORE_OK);
  CHECK_INT(store_user_deactivate(c, "bob"), ==, STORE_OK); /* idempotent */
  f.active_only = true;
  CHECK_INT(store_user_list(c, &f, &list, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 1);
  CHECK_STR(list[0].login, "carol");
  free(list);
  CHECK_INT(store_user_get(c, "bob", &u), ==, STORE_OK);
  CHECK(!u.active);

  f.department = "Nowhere";
  f.active_only = false;
  CHECK_INT(store_user_list(c, &f, &list, &n), ==, STORE_OK);
  CHECK_UINT(n, ==, 0);
  free(list);

  CHECK_INT(store_user_deactivate(c, "ghost"), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown user \"ghost\"");
  CHECK_INT(store_user_get(c, "ghost", &u), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown user \"ghost\"");
  store_close(c);
}

TEST(duplicate_login_ignores_case)
{
  struct store_conn *c = db_with_org();

  CHECK_INT(add(c, "Bob", NULL, NULL, NULL), ==, STORE_OK);
  CHECK_INT(add(c, "bob", NULL, NULL, NULL), ==, STORE_EEXISTS);
  CHECK_STR(store_errmsg(c), "login \"bob\" already exists");
  CHECK_INT(add(c, "BOB", NULL, NULL, NULL), ==, STORE_EEXISTS);
  store_close(c);
}

TEST(bad_values_refused)
{
  struct store_conn *c = db_with_org();
  struct store_user_new u = {.login = "eve", .display_name = "",
                             .role = STORE_ROLE_STAFF};

  CHECK_INT(add(c, "eve", NULL, NULL, "Mars/Base"), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "unknown time zone \"Mars/Base\" (use an IANA name "
                             "such as Asia/Hong_Kong or Europe/Berlin)");
  CHECK_INT(store_time_zone_check(c, "America/New_York"), ==, STORE_OK);
  CHECK_INT(store_time_zone_check(c, "Nowhere/City"), ==, STORE_EINVAL);
  CHECK_INT(add(c, "eve", "ghost", NULL, NULL), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown manager \"ghost\"");
  CHECK_INT(add(c, "-eve", NULL, NULL, NULL), ==, STORE_EINVAL);
  CHECK_CONTAINS(store_errmsg(c), "invalid login \"-eve\"");
  CHECK_INT(add(c, "e ve", NULL, NULL, NULL), ==, STORE_EINVAL);
  CHECK_INT(store_user_add(c, &u, NULL), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "display name must be 1-100 characters");
  /* A deactivated manager cannot take new reports. */
  CHECK_INT(add(c, "mgr", NULL, NULL, NULL), ==, STORE_OK);
  CHECK_INT(store_user_deactivate(c, "mgr"), ==, STORE_OK);
  CHECK_INT(add(c, "eve", "mgr", NULL, NULL), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "manager \"mgr\" is deactivated");
  /* Nothing of the refused users exists. */
  {
    struct store_user x;

    CHECK_INT(store_user_get(c, "eve", &x), ==, STORE_ENOTFOUND);
  }
  store_close(c);
}

TEST(roles_parse)
{
  enum store_role r;

  CHECK_INT(store_role_parse("manager", &r), ==, STORE_OK);
  CHECK_INT(r, ==, STORE_ROLE_MANAGER);
  CHECK_INT(store_role_parse("boss", &r), ==, STORE_EINVAL);
  CHECK_STR(store_role_name(STORE_ROLE_ADMIN), "admin");
  CHECK(store_role_name((enum store_role)7) == NULL);
}

TEST(set_manager_keeps_a_tree)
{
  struct store_conn *c = db_with_org();
  struct store_user u;

  CHECK_INT(add(c, "bob", "alice", NULL, NULL), ==, STORE_OK);
  CHECK_INT(add(c, "carol", "bob", NULL, NULL), ==, STORE_OK);
  CHECK_INT(store_user_set_manager(c, "alice", "carol"), ==, STORE_EINVAL);
  CHECK_STR(store_errmsg(c), "cannot make \"carol\" the manager of \"alice\": "
                             "the org tree would have a cycle");
  CHECK_INT(store_user_set_manager(c, "carol", "carol"), ==, STORE_EINVAL);
  CHECK_INT(store_user_set_manager(c, "carol", "alice"), ==, STORE_OK);
  CHECK_INT(store_user_get(c, "carol", &u), ==, STORE_OK);
  CHECK_STR(u.manager_login, "alice");
  CHECK_INT(store_user_set_manager(c, "carol", NULL), ==, STORE_OK);
  CHECK_INT(store_user_get(c, "carol", &u), ==, STORE_OK);
  CHECK_STR(u.manager_login, "");
  CHECK_INT(store_user_set_manager(c, "carol", "ghost"), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown manager \"ghost\"");
  CHECK_INT(store_user_set_manager(c, "ghost", "alice"), ==, STORE_ENOTFOUND);
  CHECK_STR(store_errmsg(c), "unknown user \"ghost\"");
  store_close(c);
}

TEST_MAIN()
