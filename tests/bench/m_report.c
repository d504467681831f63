/*
 * m_report.c — `herald-bench report FILE`: the table of a run. Reads the
 * "RESULT {json}" lines the other commands printed (other lines are
 * skipped) and prints one row per result, Herald next to Mosquitto with
 * their ratio, each against the target where it has one.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXR 256

static json_t *rows[MAXR];
static size_t nrows;

static const char *str(json_t *r, const char *k)
{
  const char *s = json_string_value(json_object_get(r, k));

  return s ? s : "";
}

static double num(json_t *r, const char *k)
{
  json_t *v = json_object_get(r, k);

  return v && json_is_number(v) ? json_number_value(v) : NAN;
}

static void fmt_int(char *out, size_t cap, double v)
{
  char digits[32], *p = out;
  int n, lead;

  if (isnan(v)) {
    snprintf(out, cap, "-");
    return;
  }
  n = snprintf(digits, sizeof digits, "%.0f", v);
  lead = n % 3 ? n % 3 : 3;
  for (int i = 0; i < n && (size_t)(p - out) + 2 < cap; i++) {
    if (i && (i - lead) % 3 == 0 && digits[i - 1] != '-')
      *p++ = ',';
    *p++ = digits[i];
  }
  *p = '\0';
}

static void fmt_ms(char *out, size_t cap, double v)
{
  if (isnan(v))
    snprintf(out, cap, "-");
  else if (v < 10)
    snprintf(out, cap, "%.2f", v);
  else
    snprintf(out, cap, "%.1f", v);
}

static void cpu(char *out, size_t cap, json_t *r)
{
  double c = num(r, "client_cpu_pct"), s = num(r, "server_cpu_pct"),
         m = num(r, "machine_cpu_pct");

  if (isnan(c) && isnan(m)) {
    snprintf(out, cap, "-");
    return;
  }
  {
    char a[16] = "-", b[16] = "-", d[16] = "-";

    if (!isnan(c))
      snprintf(a, sizeof a, "%.0f", c);
    if (!isnan(s))
      snprintf(b, sizeof b, "%.0f", s);
    if (!isnan(m))
      snprintf(d, sizeof d, "%.0f", m);
    snprintf(out, cap, "%s/%s/%s", a, b, d);
  }
}

static void line(const char *scenario, const char *sys, const char *thr,
                 const char *p50, const char *p99, const char *max,
                 const char *cpus, const char *target)
{
  printf("%-44s %-9s %18s %8s %8s %8s %12s  %s\n", scenario, sys, thr, p50,
         p99, max, cpus, target);
}

static void latency_row(const char *scenario, json_t *r, const char *thr,
                        const char *target)
{
  char a[32], b[32], c[32], d[32];

  fmt_ms(a, sizeof a, num(r, "p50_ms"));
  fmt_ms(b, sizeof b, num(r, "p99_ms"));
  fmt_ms(c, sizeof c, num(r, "max_ms"));
  cpu(d, sizeof d, r);
  line(scenario,
       strcmp(str(r, "client"), "raw") == 0 ? "herald-raw" : str(r, "impl"),
       thr, a, b, c, d, target);
}

/* impl: "herald" (herald_client members), "raw" (bare protocol client
 * members) or "mqtt". */
static json_t *find_fan(const char *impl, json_int_t group, const char *load)
{
  bool mqtt = strcmp(impl, "mqtt") == 0, raw = strcmp(impl, "raw") == 0;

  for (size_t i = 0; i < nrows; i++) {
    json_t *r = rows[i];

    if (json_object_get(r, "nodes"))
      continue;                 /* the several-nodes scenario: nodes_rows */
    if (strcmp(str(r, "mode"), mqtt ? "mqtt" : "fanout") == 0 &&
        (mqtt || raw == (strcmp(str(r, "client"), "raw") == 0)) &&
        json_integer_value(json_object_get(r, "group")) == group &&
        strcmp(str(r, "load"), load) == 0)
      return r;
  }
  return NULL;
}

static const char *verdict(bool ok)
{
  return ok ? "met" : "MISSED";
}

/* The several-nodes scenario: each group on one node, then with the
 * receivers split over two, in the same run. */
static void nodes_rows(void)
{
  for (size_t i = 0; i < nrows; i++) {
    json_t *r = rows[i];
    char scen[96], thr[48], n[32];

    if (strcmp(str(r, "mode"), "fanout") || !json_object_get(r, "nodes"))
      continue;
    snprintf(scen, sizeof scen, "fan-out to %lld, %lld node%s, %s",
             (long long)json_integer_value(json_object_get(r, "group")),
             (long long)json_integer_value(json_object_get(r, "nodes")),
             json_integer_value(json_object_get(r, "nodes")) > 1 ? "s" : "",
             str(r, "load"));
    fmt_int(n, sizeof n, num(r, "deliveries_per_s"));
    snprintf(thr, sizeof thr, "%s del/s", n);
    latency_row(scen, r, thr, "");
  }
}

static void fanout_rows(void)
{
  json_int_t groups[32];
  size_t ng = 0;

  for (size_t i = 0; i < nrows; i++) {
    json_t *r = rows[i];
    json_int_t g;
    size_t k;

    if (strcmp(str(r, "mode"), "fanout") && strcmp(str(r, "mode"), "mqtt"))
      continue;
    g = json_integer_value(json_object_get(r, "group"));
    for (k = 0; k < ng && groups[k] != g; k++)
      ;
    if (k == ng && ng < 32)
      groups[ng++] = g;
  }
  for (size_t a = 0; a < ng; a++)          /* ascending group sizes */
    for (size_t b = a + 1; b < ng; b++)
      if (groups[b] < groups[a]) {
        json_int_t t = groups[a];
        groups[a] = groups[b];
        groups[b] = t;
      }
  for (size_t k = 0; k < ng; k++) {
    const char *loads[] = {"sat", "paced"};

    for (int l = 0; l < 2; l++) {
      json_t *h = find_fan("herald", groups[k], loads[l]);
      json_t *raw = find_fan("raw", groups[k], loads[l]);
      json_t *m = find_fan("mqtt", groups[k], loads[l]);
      char scen[96], thr[48], target[96] = "";
      double hd = h ? num(h, "deliveries_per_s") : NAN;
      double md = m ? num(m, "deliveries_per_s") : NAN;

      if (!h && !m && !raw)
        continue;
      if (l == 0) {
        snprintf(scen, sizeof scen, "fan-out to %lld, saturation",
                 (long long)groups[k]);
        if (groups[k] == 1000 && h)
          snprintf(target, sizeof target, ">= 300,000/s, > mosquitto: %s",
                   verdict(hd >= 300000 && (!m || hd > md)));
      } else {
        json_t *any = h ? h : m;

        snprintf(scen, sizeof scen, "fan-out to %lld, paced %.0f msg/s%s",
                 (long long)groups[k], num(any, "offered_msgs_per_s"),
                 json_object_get(any, "of_sat") ? " (half sat)" : "");
        if (groups[k] == 1000 && h)
          snprintf(target, sizeof target, "p99 < 20 ms: %s",
                   verdict(num(h, "p99_ms") < 20));
      }
      if (h) {
        char n[32];

        fmt_int(n, sizeof n, hd);
        snprintf(thr, sizeof thr, "%s del/s", n);
        latency_row(scen, h, thr, target);
      }
      if (raw) {
        char n[32];

        fmt_int(n, sizeof n, num(raw, "deliveries_per_s"));
        snprintf(thr, sizeof thr, "%s del/s", n);
        latency_row(h ? "" : scen, raw, thr, "");
      }
      if (m) {
        char n[32];

        fmt_int(n, sizeof n, md);
        snprintf(thr, sizeof thr, "%s del/s", n);
        latency_row(h || raw ? "" : scen, m, thr, "");
      }
      if (h && m && md > 0) {
        char ratio[96];

        if (l == 0)
          snprintf(ratio, sizeof ratio, "%.2f x deliveries/s", hd / md);
        else
          snprintf(ratio, sizeof ratio, "%.2f x p99 latency",
                   num(h, "p99_ms") / num(m, "p99_ms"));
        line("", "ratio h/m", ratio, "", "", "", "", "");
      }
    }
  }
}

static void sends_rows(void)
{
  for (size_t i = 0; i < nrows; i++) {
    json_t *r = rows[i];
    char scen[96], thr[48], n[32], target[96] = "";
    bool sat = strcmp(str(r, "load"), "sat") == 0;
    double acked = num(r, "acked_per_s");
    json_int_t groups = json_integer_value(json_object_get(r, "groups"));

    if (strcmp(str(r, "mode"), "sends"))
      continue;
    if (sat)
      snprintf(scen, sizeof scen, "sends %lld->%lld group%s, sat (W=%lld)",
               (long long)json_integer_value(json_object_get(r, "senders")),
               (long long)groups, groups == 1 ? "" : "s",
               (long long)json_integer_value(json_object_get(r, "window")));
    else
      snprintf(scen, sizeof scen, "sends %lld->%lld group%s, %.0f/s offered",
               (long long)json_integer_value(json_object_get(r, "senders")),
               (long long)groups, groups == 1 ? "" : "s",
               num(r, "offered_per_s"));
    if (sat && groups >= 100)
      snprintf(target, sizeof target, ">= 30,000/s: %s",
               verdict(acked >= 30000));
    else if (sat && groups == 1)
      snprintf(target, sizeof target, ">= 15,000/s: %s",
               verdict(acked >= 15000));
    else if (!sat && num(r, "offered_per_s") == 5000)
      snprintf(target, sizeof target, "p99 < 10 ms: %s",
               verdict(num(r, "p99_ms") < 10));
    fmt_int(n, sizeof n, acked);
    snprintf(thr, sizeof thr, "%s ack/s", n);
    if (json_integer_value(json_object_get(r, "errors")) > 0) {
      size_t len = strlen(target);

      snprintf(target + len, sizeof target - len, "%s%lld errors (%s)",
               len ? "; " : "",
               (long long)json_integer_value(json_object_get(r, "errors")),
               str(r, "first_error"));
    }
    latency_row(scen, r, thr, target);
  }
}

static void other_rows(void)
{
  for (size_t i = 0; i < nrows; i++) {
    json_t *r = rows[i];
    char scen[96], thr[48], target[96] = "", n[32];

    if (strcmp(str(r, "mode"), "idle") == 0) {
      double kb = num(r, "kb_per_conn");
      json_int_t conns = json_integer_value(json_object_get(r, "conns"));

      fmt_int(n, sizeof n, (double)conns);
      snprintf(scen, sizeof scen, "idle connections: %s (%lld procs)", n,
               (long long)json_integer_value(json_object_get(r, "procs")));
      snprintf(thr, sizeof thr, "%.2f KB/conn", kb);
      if (conns == 10000)
        snprintf(target, sizeof target, "<= 4 KB: %s", verdict(kb <= 4));
      {
        char rss[48];

        snprintf(rss, sizeof rss, "rss %.0f MB",
                 num(r, "rss_kb") / 1024.0);
        line(scen, str(r, "impl"), thr, "", "", "", rss, target);
      }
    } else if (strcmp(str(r, "mode"), "replay") == 0) {
      double ms = num(r, "replay_ms");
      char a[32], b[32], c[32];

      fmt_int(n, sizeof n, num(r, "missed"));
      snprintf(scen, sizeof scen, "replay %s missed (median of %lld)", n,
               (long long)json_integer_value(json_object_get(r, "reps")));
      snprintf(thr, sizeof thr, "%.1f ms", ms);
      fmt_ms(a, sizeof a, num(r, "replay_min_ms"));
      fmt_ms(b, sizeof b, num(r, "synced_ms"));
      fmt_ms(c, sizeof c, num(r, "replay_max_ms"));
      if (num(r, "missed") == 10000)
        snprintf(target, sizeof target, "< 150 ms: %s", verdict(ms < 150));
      line(scen, str(r, "impl"), thr, a, b, c, "", target);
    }
  }
}

/* `herald-bench unread`: the report's latency per caller, and the size of
 * the read state. Issue 4's targets: a manager's report p99 < 50 ms, the
 * whole organisation < 1 s, read state well under one row per message per
 * member (taken as at most 0.1: an order of magnitude under). */
static void unread_rows(void)
{
  for (size_t i = 0; i < nrows; i++) {
    json_t *r = rows[i];
    const char *k = str(r, "case");
    char scen[96], thr[48], target[96] = "", n[32];

    if (strcmp(str(r, "mode"), "unread") == 0) {
      double team = num(r, "team"), p99 = num(r, "p99_ms");

      if (strcmp(k, "manager") == 0) {
        snprintf(scen, sizeof scen, "unread>2h: manager of %.0f (%lld mgrs)",
                 team, (long long)json_integer_value(
                           json_object_get(r, "callers")));
        snprintf(target, sizeof target, "p99 < 50 ms: %s",
                 verdict(p99 < 50));
      } else if (strcmp(k, "vp") == 0) {
        snprintf(scen, sizeof scen, "unread>2h: VP, manager of %.0f", team);
      } else if (strcmp(k, "ceo") == 0) {
        snprintf(scen, sizeof scen, "unread>2h: CEO, manager of all %.0f",
                 team);
        snprintf(target, sizeof target, "whole org < 1 s (p99): %s",
                 verdict(p99 < 1000));
      } else {
        snprintf(scen, sizeof scen, "unread>2h: admin, whole org");
        snprintf(target, sizeof target, "whole org < 1 s (p99): %s",
                 verdict(p99 < 1000));
      }
      fmt_int(n, sizeof n, num(r, "unread_rows"));
      snprintf(thr, sizeof thr, "%s rows", n);
      {
        char a[32], b[32], c[32], d[32] = "-";

        fmt_ms(a, sizeof a, num(r, "p50_ms"));
        fmt_ms(b, sizeof b, num(r, "p99_ms"));
        fmt_ms(c, sizeof c, num(r, "max_ms"));
        if (!isnan(num(r, "server_cpu_ms")))
          snprintf(d, sizeof d, "pg %.1f ms", num(r, "server_cpu_ms"));
        line(scen, "herald", thr, a, b, c, d, target);
      }
    } else if (strcmp(str(r, "mode"), "unread_state") == 0) {
      double rows_pm = num(r, "rows_per_msg_member");
      double feed = num(r, "feed_bytes"), msgs = num(r, "messages");
      double total = num(r, "bytes_per_msg") * msgs;

      double st_pm = num(r, "state_rows_per_msg_member");

      fmt_int(n, sizeof n, msgs);
      snprintf(scen, sizeof scen, "read state, %s msgs: markers+ranges", n);
      fmt_int(n, sizeof n, num(r, "state_bytes_per_msg"));
      snprintf(thr, sizeof thr, "%s B/msg", n);
      snprintf(target, sizeof target, "%.4f rows/msg/member (<= 0.1): %s",
               st_pm, verdict(st_pm <= 0.1));
      line(scen, "herald", thr, "", "", "", "", target);
      fmt_int(n, sizeof n, num(r, "bytes_per_msg"));
      snprintf(thr, sizeof thr, "%s B/msg", n);
      snprintf(target, sizeof target,
               "%.3f rows/msg/member (<= 0.1): %s; feed %.0f%% of bytes",
               rows_pm, verdict(rows_pm <= 0.1),
               total > 0 ? 100.0 * feed / total : 0.0);
      line("  ... + receipt feed", "herald", thr, "", "", "", "", target);
    }
  }
}

int bench_cmd_report(int argc, char **argv)
{
  char buf[65536];
  FILE *f;

  if (argc != 1) {
    fprintf(stderr, "usage: herald-bench report RESULTS_FILE\n");
    return 2;
  }
  if (!(f = fopen(argv[0], "r"))) {
    perror(argv[0]);
    return 1;
  }
  while (fgets(buf, sizeof buf, f) && nrows < MAXR) {
    const char *p = strncmp(buf, "RESULT ", 7) == 0 ? buf + 7 : buf;
    json_t *r;

    if (*p != '{' || !(r = json_loads(p, 0, NULL)))
      continue;
    rows[nrows++] = r;
  }
  fclose(f);

  line("scenario", "system", "throughput", "p50 ms", "p99 ms", "max ms",
       "cpu% c/s/m", "target");
  line("--------", "------", "----------", "------", "------", "------",
       "----------", "------");
  fanout_rows();
  nodes_rows();
  sends_rows();
  other_rows();
  unread_rows();
  printf("\ncpu%% c/s/m: load client / server (heraldd or mosquitto) / whole "
         "machine, in %% of one core,\nover the measured window. herald: "
         "members use herald_client; herald-raw: a bare\nprotocol client (as "
         "on the MQTT side). Ratios compare herald (herald_client) with\n"
         "mosquitto at saturation, and p99 at the same paced rate. Replay "
         "columns: min, to\n`synced`, max. Latencies: fan-out = receive - "
         "send time (CLOCK_REALTIME); sends =\nsend -> ack. unread>2h: store_report_unread "
         "as heraldd runs it (limit 1,000 rows,\ntotals complete); rows = unread "
         "message-member pairs in the caller's scope; pg = CPU time of\n"
         "PostgreSQL per report (wall-clock figures also hold the waits for a "
         "core on a busy\nmachine).\n");
  for (size_t i = 0; i < nrows; i++)
    json_decref(rows[i]);
  return 0;
}
