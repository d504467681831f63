/*
 * clock.c — the server's wall clock and the test clock (see clock_int.h).
 */
#include "clock_int.h"
#include "ding_int.h"
#include "log_int.h"
#include "quiet_int.h"
#include "server_int.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One clock per process: read by the database threads before each job. */
static _Atomic int64_t offset_ms;

int64_t srv_clock_offset_ms(void)
{
  return atomic_load(&offset_ms);
}

uint64_t srv_clock_now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
                    atomic_load(&offset_ms));
}

int srv_clock_parse(const char *text, int64_t *out)
{
  char *end;
  long long v;

  while (isspace((unsigned char)*text))
    text++;
  if (!*text)
    return -1;
  errno = 0;
  v = strtoll(text, &end, 10);
  if (errno || end == text)
    return -1;
  while (isspace((unsigned char)*end))
    end++;
  if (*end)
    return -1;
  *out = v;
  return 0;
}

/* Reads the file; 0 and *v, or -1 with why. */
static int read_file(const char *path, int64_t *v, char *why, size_t len)
{
  char buf[128];
  size_t n;
  FILE *f = fopen(path, "r");

  if (!f) {
    snprintf(why, len, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  if (n == sizeof(buf) - 1 || srv_clock_parse(buf, v) != 0) {
    snprintf(why, len, "%s must hold one integer, an offset in ms", path);
    return -1;
  }
  return 0;
}

static void log_applied(struct srv_server *srv)
{
  time_t t = (time_t)(srv_clock_now_ms() / 1000);
  struct tm tm;
  char when[32];

  (void)srv;
  gmtime_r(&t, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  srv_info("clock", "test clock: offset %" PRId64 " ms applied (now %s)",
           srv_clock_offset_ms(), when);
}

/* After the quiet-hours states: DING steps that the jump made due fire,
 * and their webhook attempts are made, before the line tests wait for. */
static void quiet_resynced(struct srv_server *srv)
{
  srv_ding_sched_now(srv, log_applied);
}

static void on_sigusr2(uv_signal_t *h, int signum)
{
  struct srv_server *srv = h->data;
  char why[512];
  int64_t v;

  (void)signum;
  if (read_file(srv->cfg->test_clock_file, &v, why, sizeof(why)) != 0) {
    srv_warn("clock", "test clock: %s (offset unchanged)", why);
    return;
  }
  if (v < srv_clock_offset_ms()) {
    srv_warn("clock", "test clock: offset %" PRId64 " ms is behind the "
             "current %" PRId64 " ms; the clock only moves forward "
             "(offset unchanged)", v, srv_clock_offset_ms());
    return;
  }
  atomic_store(&offset_ms, v);
  /* Wall-clock timers (quiet hours) are re-evaluated for the new time;
   * the line a test waits for comes when that is done. */
  srv_quiet_resync(srv, quiet_resynced);
}

int srv_clock_init(struct srv_server *srv)
{
  const char *path = srv->cfg->test_clock_file;
  char why[512];
  int64_t v;

  atomic_store(&offset_ms, 0);
  if (!path || !*path)
    return 0;
  if (read_file(path, &v, why, sizeof(why)) != 0) {
    srv_err("clock", "test-clock-file: %s", why);
    return -1;
  }
  atomic_store(&offset_ms, v);
  srv_warn("clock", "test-clock-file is set: this server's clock is "
           "shifted by %" PRId64 " ms and follows %s (SIGUSR2 re-reads it). "
           "A test setting: never use it in production", v, path);
  uv_signal_init(&srv->loop, &srv->sig_clock);
  srv->sig_clock.data = srv;
  uv_signal_start(&srv->sig_clock, on_sigusr2, SIGUSR2);
  srv->clock_on = 1;
  log_applied(srv);
  return 0;
}

void srv_clock_close(struct srv_server *srv)
{
  if (srv->clock_on && !uv_is_closing((uv_handle_t *)&srv->sig_clock))
    uv_close((uv_handle_t *)&srv->sig_clock, NULL);
}
