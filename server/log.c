/*
 * log.c — the one log sink of heraldd (see log_int.h).
 */
#include "log_int.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int max_level = SRV_LOG_INFO;
static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

int srv_log_set_level_name(const char *name)
{
  for (int i = 0; i <= SRV_LOG_DEBUG; i++) {
    if (strcasecmp(name, level_names[i]) == 0) {
      max_level = i;
      return 0;
    }
  }
  return -1;
}

void srv_log_set_level(enum srv_log_level level)
{
  max_level = (int)level;
}

static void vlog(enum srv_log_level level, const char *component,
                 const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

static void vlog(enum srv_log_level level, const char *component,
                 const char *fmt, va_list ap)
{
  char line[1024];
  struct timespec ts;
  struct tm tm;
  size_t n;
  int r;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
  r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s %s: ",
               ts.tv_nsec / 1000000, level_names[level], component);
  n += r > 0 ? (size_t)r : 0;
  r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
  if (r < 0)
    r = 0;
  n += (size_t)r;
  if (n >= sizeof(line) - 1) {
    n = sizeof(line) - 2;       /* truncated: still one line */
  }
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    n--;
  /* One event, one line: a multi-line text (PostgreSQL's errors carry a
   * DETAIL line) is folded, so that a log reader never takes its second
   * line for an event of its own. */
  for (size_t i = 0; i < n; i++)
    if (line[i] == '\n' || line[i] == '\r')
      line[i] = ' ';
  line[n++] = '\n';
  (void)!write(STDERR_FILENO, line, n);
}

void srv_log(enum srv_log_level level, const char *component, const char *fmt,
             ...)
{
  va_list ap;

  if ((int)level > max_level)
    return;
  va_start(ap, fmt);
  vlog(level, component, fmt, ap);
  va_end(ap);
}

static void lws_emit_cb(int level, const char *line)
{
  const char *p = line;

  /* lws prefixes its own timestamp and level; keep only the text. */
  if (*p == '[') {
    const char *q = strchr(p, ']');
    if (q)
      p = q + 1;
  }
  while (*p == ' ')
    p++;
  if (strncmp(p, "E: ", 3) == 0 || strncmp(p, "W: ", 3) == 0 ||
      strncmp(p, "N: ", 3) == 0)
    p += 3;
  srv_log(level == LLL_ERR ? SRV_LOG_ERROR : SRV_LOG_WARN, "lws", "%s", p);
}

void srv_log_capture_lws(void)
{
  lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit_cb);
}
