/*
 * test_store_migrate.c — migrations against a real PostgreSQL: applied
 * once, safe to run again and concurrently, a changed or newer schema
 * refused; and the constraints the chat core relies on exist.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pgtest.h"
#include "store.h"

static struct store_conn *fresh(char *conninfo, size_t len)
{
  struct store_conn *c = NULL;
  int rc;

  pgtest_db_new(conninfo, len);
  rc = store_connect(conninfo, &c);
  if (rc != STORE_OK)
    CHECK_FAIL("store_connect: %s", store_errmsg(c));
  return c;
}

static struct store_conn *migrated(char *conninfo, size_t len)
{
  struct store_conn *c = fresh(conninfo, len);
  int applied = -1;

  CHECK_INT(store_migrate(c, &applied), ==, STORE_OK);
  return c;
}

TEST(migrate_twice)
{
  char ci[1024];
  struct store_conn *c = fresh(ci, sizeof ci);
  int applied = -1, count = 0;

  CHECK_INT(store_schema_current(c), ==, STORE_ENOTFOUND);
  CHECK_INT(store_migrate(c, &applied), ==, STORE_OK);
  CHECK_INT(applied, >=, 1);
  count = applied;
  CHECK_INT(store_schema_current(c), ==, STORE_OK);
  CHECK_INT(store_migrate(c, &applied), ==, STORE_OK);
  CHECK_INT(applied, ==, 0);
  CHECK_INT(store_schema_current(c), ==, STORE_OK);
  CHECK_INT(store_schema_version(), >=, count);
  store_close(c);
}

TEST(checksum_tamper_refused)
{
  char ci[1024];
  struct store_conn *c = migrated(ci, sizeof ci);

  pgtest_exec(ci, "UPDATE schema_migrations SET checksum = 'deadbeef'"
                  " WHERE version = 1");
  CHECK_INT(store_migrate(c, NULL), ==, STORE_EINVAL);
  CHECK_CONTAINS(store_errmsg(c), "0001_init.sql was changed after it was applied");
  CHECK_INT(store_schema_current(c), ==, STORE_EINVAL);
  store_close(c);
}

TEST(newer_database_refused)
{
  char ci[1024];
  struct store_conn *c = migrated(ci, sizeof ci);

  pgtest_exec(ci, "INSERT INTO schema_migrations (version, name, checksum)"
                  " VALUES (9999, '9999_future.sql', 'x')");
  CHECK_INT(store_migrate(c, NULL), ==, STORE_EINVAL);
  CHECK_CONTAINS(store_errmsg(c), "newer than this program");
  CHECK_CONTAINS(store_errmsg(c), "9999");
  CHECK_INT(store_schema_current(c), ==, STORE_EINVAL);
  store_close(c);
}

/* Several processes migrating one fresh database at once: the advisory
 * lock serialises them, all succeed, and the work is done once. */
TEST(concurrent_migrate)
{
  char ci[1024];
  struct store_conn *c = fresh(ci, sizeof ci);
  pid_t pids[4];
  int total = 0;
  int fds[2];

  CHECK_INT(pipe(fds), ==, 0);
  for (int i = 0; i < 4; i++) {
    pids[i] = fork();
    CHECK(pids[i] >= 0);
    if (pids[i] == 0) {
      struct store_conn *k = NULL;
      int applied = 0;
      char b;

      close(fds[1]);
      /* The exit status is how many migrations this child applied (at
       * most 100); 200 and up mean it failed. */
      if (read(fds[0], &b, 1) < 0) /* all start together */
        _exit(201);
      if (store_connect(ci, &k) != STORE_OK || store_migrate(k, &applied) != STORE_OK) {
        fprintf(stderr, "child: %s\n", store_errmsg(k));
        _exit(200);
      }
      store_close(k);
      _exit(applied > 100 ? 100 : applied);
    }
  }
  close(fds[0]);
  close(fds[1]); /* releases the children */
  for (int i = 0; i < 4; i++) {
    int st;

    CHECK_INT(waitpid(pids[i], &st, 0), ==, pids[i]);
    CHECK(WIFEXITED(st));
    CHECK_INT(WEXITSTATUS(st), <, 100);
    total += WEXITSTATUS(st);
  }
  /* Every migration applied exactly once, by one of them (versions may
   * have gaps, so count rows rather than trust the highest version). */
  CHECK_INT(total, ==, pgtest_query_int(ci, "SELECT count(*) FROM"
                                            " schema_migrations"));
  CHECK_INT(pgtest_query_int(ci, "SELECT max(version) FROM schema_migrations"),
            ==, store_schema_version());
  CHECK_INT(store_schema_current(c), ==, STORE_OK);
  store_close(c);
}

TEST(connect_failure_is_unavailable)
{
  struct store_conn *c = NULL;

  CHECK_INT(store_connect("host=/nonexistent/dir dbname=x connect_timeout=2", &c),
            ==, STORE_EUNAVAIL);
  CHECK_CONTAINS(store_errmsg(c), "cannot connect to PostgreSQL");
  CHECK_INT(store_ping(c), ==, STORE_EUNAVAIL);
  store_close(c);
  CHECK_STR(store_errname(STORE_EEXISTS), "EEXISTS");
  CHECK_STR(store_strerror(STORE_ENOTFOUND), "not found");
}

TEST(ping_and_reconnect)
{
  char ci[1024];
  struct store_conn *c = migrated(ci, sizeof ci);

  CHECK_INT(store_ping(c), ==, STORE_OK);
  /* Kill our backend from outside: the next call reconnects by itself. */
  pgtest_exec(ci, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                  " WHERE application_name = 'herald'"
                  " AND datname = current_database()");
  (void)store_ping(c); /* may notice the loss */
  CHECK_INT(store_ping(c), ==, STORE_OK);
  store_close(c);
}

/* Rows the constraint checks below build on: two users, a bot, a group. */
static void seed(const char *ci)
{
  pgtest_exec(ci, "INSERT INTO users (login, display_name) VALUES ('u1', 'U1'),"
                  " ('u2', 'U2')");
  pgtest_exec(ci, "INSERT INTO bots (name, owner_id, token_hash) VALUES"
                  " ('b1', 1, decode(repeat('ab', 32), 'hex'))");
  pgtest_exec(ci, "INSERT INTO conversations (kind, title) VALUES ('group', 'g')");
}

#define EXPECT_SQLSTATE(ci, sql, want)                                       \
  do {                                                                       \
    char st_[6] = "";                                                        \
    CHECK_INT(pgtest_try((ci), (sql), st_), ==, -1);                         \
    CHECK_STR(st_, (want));                                                  \
  } while (0)

TEST(message_constraints)
{
  char ci[1024];
  struct store_conn *c = migrated(ci, sizeof ci);

  seed(ci);
  pgtest_exec(ci, "INSERT INTO messages (conversation_id, seq, sender_user_id,"
                  " client_msg_id, kind, body, tracked)"
                  " VALUES (1, 1, 1, 'm-1', 'text', 'hi', true)");
  /* (sender, client message id) is unique: a re-send is stored once. */
  EXPECT_SQLSTATE(ci, "INSERT INTO messages (conversation_id, seq, sender_user_id,"
                      " client_msg_id, kind, body, tracked)"
                      " VALUES (1, 2, 1, 'm-1', 'text', 'again', true)", "23505");
  /* (conversation, seq) is the primary key. */
  EXPECT_SQLSTATE(ci, "INSERT INTO messages (conversation_id, seq, sender_user_id,"
                      " client_msg_id, kind, body, tracked)"
                      " VALUES (1, 1, 2, 'm-2', 'text', 'x', true)", "23505");
  /* Another sender may use the same client message id. */
  pgtest_exec(ci, "INSERT INTO messages (conversation_id, seq, sender_user_id,"
                  " client_msg_id, kind, body, tracked)"
                  " VALUES (1, 2, 2, 'm-1', 'text', 'ok', true)");
  /* Bots are senders too, with their own id space. */
  pgtest_exec(ci, "INSERT INTO messages (conversation_id, seq, sender_bot_id,"
                  " client_msg_id, kind, body, tracked)"
                  " VALUES (1, 3, 1, 'm-1', 'card', '{}', true)");
  EXPECT_SQLSTATE(ci, "INSERT INTO messages (conversation_id, seq, sender_bot_id,"
                      " client_msg_id, kind, body, tracked)"
                      " VALUES (1, 4, 1, 'm-1', 'text', 'x', true)", "23505");
  /* Exactly one sender. */
  EXPECT_SQLSTATE(ci, "INSERT INTO messages (conversation_id, seq, sender_user_id,"
                      " sender_bot_id, client_msg_id, kind, body, tracked)"
                      " VALUES (1, 5, 1, 1, 'm-9', 'text', 'x', true)", "23514");
  EXPECT_SQLSTATE(ci, "INSERT INTO messages (conversation_id, seq,"
                      " client_msg_id, kind, body, tracked)"
                      " VALUES (1, 5, 'm-9', 'text', 'x', true)", "23514");
  EXPECT_SQLSTATE(ci, "INSERT INTO messages (conversation_id, seq, sender_user_id,"
                      " client_msg_id, kind, body, tracked)"
                      " VALUES (1, 5, 1, 'm-5', 'voice', 'x', true)", "23514");
  store_close(c);
}

TEST(schema_constraints)
{
  char ci[1024];
  struct store_conn *c = migrated(ci, sizeof ci);

  seed(ci);
  /* One org row only. */
  pgtest_exec(ci, "INSERT INTO org (name) VALUES ('A')");
  EXPECT_SQLSTATE(ci, "INSERT INTO org (singleton, name) VALUES (false, 'B')", "23514");
  EXPECT_SQLSTATE(ci, "INSERT INTO org (name) VALUES ('B')", "23505");
  /* Logins unique ignoring case; time zones checked. */
  EXPECT_SQLSTATE(ci, "INSERT INTO users (login, display_name) VALUES ('U1', 'x')", "23505");
  EXPECT_SQLSTATE(ci, "INSERT INTO users (login, display_name, time_zone)"
                      " VALUES ('u3', 'x', 'Mars/Base')", "22023");
  /* The org tree stays a tree. */
  pgtest_exec(ci, "UPDATE users SET manager_id = 1 WHERE id = 2");
  EXPECT_SQLSTATE(ci, "UPDATE users SET manager_id = 2 WHERE id = 1", "23514");
  /* A direct pair exists once. */
  pgtest_exec(ci, "INSERT INTO conversations (kind, direct_lo, direct_hi)"
                  " VALUES ('direct', 1, 2)");
  EXPECT_SQLSTATE(ci, "INSERT INTO conversations (kind, direct_lo, direct_hi)"
                      " VALUES ('direct', 1, 2)", "23505");
  EXPECT_SQLSTATE(ci, "INSERT INTO conversations (kind, direct_lo, direct_hi)"
                      " VALUES ('direct', 2, 1)", "23514");
  /* Card history is append-only. */
  pgtest_exec(ci, "INSERT INTO messages (conversation_id, seq, sender_user_id,"
                  " client_msg_id, kind, body, tracked)"
                  " VALUES (1, 1, 1, 'c-1', 'card', '{}', true)");
  pgtest_exec(ci, "INSERT INTO cards (type, conversation_id, seq, created_by_user,"
                  " state) VALUES ('task', 1, 1, 1, '{}')");
  pgtest_exec(ci, "INSERT INTO card_events (card_id, event_seq, actor_user_id,"
                  " kind, payload, hash)"
                  " VALUES (1, 1, 1, 'create', '{}', decode(repeat('00', 32), 'hex'))");
  EXPECT_SQLSTATE(ci, "UPDATE card_events SET kind = 'edited'", "42501");
  EXPECT_SQLSTATE(ci, "DELETE FROM card_events", "42501");
  /* Quiet hours: the org default is seeded, windows stay inside a day. */
  EXPECT_SQLSTATE(ci, "INSERT INTO quiet_windows (day_of_week, start_minute,"
                      " end_minute) VALUES (1, 1200, 480)", "23514");
  store_close(c);
}

TEST_MAIN()
