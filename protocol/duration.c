/*
 * duration.c — "90", "90m", "2h", "1h30m" to seconds (duration.h).
 */
#include "duration.h"

int proto_duration_parse(const char *s, size_t len, int64_t *out)
{
  int64_t total = 0;
  size_t i = 0;
  int parts = 0;

  if (len == 0)
    return -1;
  while (i < len) {
    int64_t n = 0, unit;
    size_t start = i;

    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
      n = n * 10 + (s[i] - '0');
      if (n > PROTO_DURATION_MAX)
        return -1;
    }
    if (i == start)
      return -1;
    if (i == len && parts == 0) {
      unit = 1;                       /* plain seconds: no unit at all */
    } else if (i == len) {
      return -1;                      /* "1h30": a unit for every number */
    } else {
      switch (s[i++]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: return -1;
      }
    }
    if (n > (PROTO_DURATION_MAX - total) / unit)
      return -1;
    total += n * unit;
    parts++;
  }
  *out = total;
  return 0;
}
