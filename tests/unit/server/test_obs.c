/*
 * test_obs.c — the log's one-line rule and the metrics registry's text,
 * without a server running.
 */
#include "check.h"
#include "log_int.h"
#include "metrics_int.h"
#include "server_int.h"

#include "proto.h"

#include <fcntl.h>
#include <unistd.h>

/* Runs srv_log with stderr sent to a file; returns the file's text. */
static char *logged(const char *text)
{
  char path[] = "/tmp/herald-log-XXXXXX";
  int fd = mkstemp(path), saved = dup(STDERR_FILENO);
  static char buf[4096];
  ssize_t n;

  CHECK(fd >= 0 && saved >= 0);
  CHECK(dup2(fd, STDERR_FILENO) >= 0);
  srv_warn("test", "%s", text);
  CHECK(dup2(saved, STDERR_FILENO) >= 0);
  close(saved);
  CHECK(lseek(fd, 0, SEEK_SET) == 0);
  n = read(fd, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  close(fd);
  unlink(path);
  return buf;
}

TEST(log_line_is_one_line_with_a_level)
{
  char *s = logged("ERROR:  relation \"x\" does not exist\nDETAIL: more\r\n");

  CHECK_CONTAINS(s, " WARN  test: ERROR:  relation \"x\" does not exist "
                    "DETAIL: more\n");
  CHECK(strchr(s, '\n') == s + strlen(s) - 1);   /* exactly one line */
  CHECK(strchr(s, '\r') == NULL);
}

static uint64_t sample(const char *text, const char *key)
{
  const char *p = strstr(text, key);
  size_t n = strlen(key);

  /* A sample line starts with the key and a space. */
  while (p && ((p != text && p[-1] != '\n') || p[n] != ' '))
    p = strstr(p + 1, key);
  if (!p)
    CHECK_FAIL("no sample %s in:\n%s", key, text);
  return strtoull(p + n + 1, NULL, 10);
}

TEST(metrics_text_counts_what_was_counted)
{
  struct srv_server srv;
  char *t;
  size_t len = 0;

  memset(&srv, 0, sizeof(srv));
  srv.nsessions = 3;          /* none authenticated: all pending */
  srv_metric_inc(SRV_M_DING_ESCALATED_MGR);
  srv_metric_inc(SRV_M_BOT_RATE_REFUSED);
  srv_metric_inc(SRV_M_BOT_RATE_REFUSED);
  srv_metric_frame_in(PROTO_T_SEND);
  srv_metric_frame_in(PROTO_T_COUNT_);      /* out of range: ignored */
  srv_metric_frame_out(PROTO_T_ACK);
  srv_metric_error(SRV_VIA_WS, PROTO_E_NOT_FOUND);
  srv_metric_error(SRV_VIA_HTTP, PROTO_E_RATE_LIMITED);
  srv_metric_error(SRV_VIA_HTTP, -9999);    /* not in the list */
  srv_metric_commit(3, 2000000);            /* 3 sends in 2 ms */
  srv_metric_commit(100, 40000000);         /* 100 in 40 ms */
  srv_metric_commit(0, 1);                  /* nothing: ignored */

  CHECK((t = srv_metrics_render(&srv, &len)) != NULL);
  CHECK_INT(strlen(t), ==, len);
  CHECK_INT(sample(t, "herald_ding_escalations_manager_total"), ==, 1);
  CHECK_INT(sample(t, "herald_ding_escalations_total"), ==, 0);
  CHECK_INT(sample(t, "herald_bot_rate_limited_total"), ==, 2);
  CHECK_INT(sample(t, "herald_frames_in_total{type=\"send\"}"), ==, 1);
  CHECK_INT(sample(t, "herald_frames_out_total{type=\"ack\"}"), ==, 1);
  CHECK_INT(sample(t, "herald_frames_out_total{type=\"send\"}"), ==, 0);
  CHECK_INT(sample(t, "herald_errors_total{code=\"NOT_FOUND\",via=\"ws\"}"),
            ==, 1);
  CHECK_INT(sample(t, "herald_errors_total{code=\"RATE_LIMITED\",via=\"http\"}"),
            ==, 1);
  CHECK_INT(sample(t, "herald_errors_total{code=\"UNKNOWN\",via=\"http\"}"),
            ==, 1);
  CHECK_INT(sample(t, "herald_connections{kind=\"pending\"}"), ==, 3);
  CHECK_INT(sample(t, "herald_commit_batch_size_bucket{le=\"2\"}"), ==, 0);
  CHECK_INT(sample(t, "herald_commit_batch_size_bucket{le=\"4\"}"), ==, 1);
  CHECK_INT(sample(t, "herald_commit_batch_size_bucket{le=\"128\"}"), ==, 2);
  CHECK_INT(sample(t, "herald_commit_batch_size_bucket{le=\"+Inf\"}"), ==, 2);
  CHECK_INT(sample(t, "herald_commit_batch_size_sum"), ==, 103);
  CHECK_INT(sample(t, "herald_commit_batch_size_count"), ==, 2);
  CHECK_INT(sample(t, "herald_commit_seconds_bucket{le=\"0.0025\"}"), ==, 1);
  CHECK_INT(sample(t, "herald_commit_seconds_bucket{le=\"0.025\"}"), ==, 1);
  CHECK_INT(sample(t, "herald_commit_seconds_bucket{le=\"0.05\"}"), ==, 2);
  CHECK_CONTAINS(t, "# TYPE herald_commit_seconds histogram\n");
  CHECK_CONTAINS(t, "herald_commit_seconds_sum 0.042\n");
  CHECK_CONTAINS(t, "# TYPE herald_frames_in_total counter\n");
  free(t);
}

TEST_MAIN()
