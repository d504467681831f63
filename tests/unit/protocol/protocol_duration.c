/*
 * protocol_duration.c — the one duration parser: what it accepts, what it
 * refuses, and where it stops (no overflow, lengths honoured).
 */
#include <string.h>

#include "check.h"
#include "duration.h"

static int64_t dur(const char *s)
{
  int64_t v = -7;

  return proto_duration_parse(s, strlen(s), &v) == 0 ? v : -1;
}

TEST(duration_plain_seconds_and_units)
{
  CHECK_INT(dur("0"), ==, 0);
  CHECK_INT(dur("90"), ==, 90);
  CHECK_INT(dur("45s"), ==, 45);
  CHECK_INT(dur("90m"), ==, 5400);
  CHECK_INT(dur("2h"), ==, 7200);
  CHECK_INT(dur("3d"), ==, 3 * 86400);
  CHECK_INT(dur("1h30m"), ==, 5400);
  CHECK_INT(dur("1d2h3m4s"), ==, 86400 + 7200 + 180 + 4);
  CHECK_INT(dur("2h2h"), ==, 14400);
}

TEST(duration_malformed_refused)
{
  static const char *const bad[] = {
    "", "h", "-5m", "+5m", "5 m", " 5m", "5m ", "1.5h", "5w", "5M", "1h30",
    "m30", "0x10", "5mm", "1h,2h", "２h",
  };

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (dur(bad[i]) != -1)
      CHECK_FAIL("\"%s\" should be refused", bad[i]);
}

TEST(duration_bounded_without_overflow)
{
  CHECK_INT(dur("36600d"), ==, PROTO_DURATION_MAX);
  CHECK_INT(dur("36601d"), ==, -1);
  CHECK_INT(dur("99999999999999999999999s"), ==, -1);
  CHECK_INT(dur("36600d1s"), ==, -1);
  CHECK_INT(dur("9223372036854775807"), ==, -1);
}

TEST(duration_reads_only_len_bytes)
{
  int64_t v = 0;

  CHECK_INT(proto_duration_parse("5m,15m", 2, &v), ==, 0);
  CHECK_INT(v, ==, 300);
  CHECK_INT(proto_duration_parse("5m,15m", 3, &v), ==, -1);
  CHECK_INT(proto_duration_parse("12", 1, &v), ==, 0);
  CHECK_INT(v, ==, 1);
}

TEST_MAIN()
