/* Unit tests for server/botrate.c: per-bot sliding windows of sends. */
#include "check.h"

#include "botrate_int.h"
#include "server_int.h"

#include <string.h>

#define WIN 60000

TEST(sliding_window_per_bot)
{
  struct srv_server srv;
  uint64_t t0 = 1000000;
  char msg[128];

  memset(&srv, 0, sizeof(srv));
  /* 20 a minute by default: the 21st within the minute is refused, with
   * the wait until the first leaves the window. */
  for (int i = 0; i < 20; i++)
    CHECK_INT(srv_botrate_take(&srv, 1, 0, t0 + (uint64_t)i * 1000), ==, 0);
  CHECK_INT(srv_botrate_take(&srv, 1, 0, t0 + 30000), ==, WIN - 30000);
  /* Refusals are not counted; another bot has its own window. */
  CHECK_INT(srv_botrate_take(&srv, 1, 0, t0 + 59999), ==, 1);
  CHECK_INT(srv_botrate_take(&srv, 2, 0, t0 + 30000), ==, 0);
  /* The first send leaves the window at t0 + 60 s: one more fits. */
  CHECK_INT(srv_botrate_take(&srv, 1, 0, t0 + WIN), ==, 0);
  CHECK_INT(srv_botrate_take(&srv, 1, 0, t0 + WIN), ==, 1000);
  srv_botrate_message(msg, sizeof(msg), 20, 1000);
  CHECK_STR(msg, "rate limit of 20 messages a minute reached; retry in 1 s");
  srv_botrate_cleanup(&srv);
}

TEST(a_changed_limit_keeps_the_newest_sends)
{
  struct srv_server srv;
  uint64_t t0 = 5000000;

  memset(&srv, 0, sizeof(srv));
  for (int i = 0; i < 5; i++)
    CHECK_INT(srv_botrate_take(&srv, 9, 5, t0 + (uint64_t)i), ==, 0);
  CHECK(srv_botrate_take(&srv, 9, 5, t0 + 10) > 0);
  /* Lowered to 3: still full (the 3 newest are kept). */
  CHECK_INT(srv_botrate_take(&srv, 9, 3, t0 + 10), ==, WIN - 8);
  /* Raised to 10: seven more fit beside the 3 kept, the next does not. */
  for (int i = 0; i < 7; i++)
    CHECK_INT(srv_botrate_take(&srv, 9, 10, t0 + 20), ==, 0);
  CHECK(srv_botrate_take(&srv, 9, 10, t0 + 20) > 0);
  srv_botrate_cleanup(&srv);
}

TEST_MAIN()
