/*
 * cmd_query.c — the commands that ask the server and show the answer in
 * the overlay: /who (who read a message, with times for its sender),
 * /report (a manager's unread report as a table) and /quiet (show or
 * replace your quiet-hours windows).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "duration.h"
#include "herald_int.h"
#include "text.h"

/* ---- /who ---- */

static void who_cb(struct hc_conn *hc, int err, const struct proto_frame *r,
                   void *arg)
{
  struct preq *q = arg;
  struct app *a = q->a;
  struct ovbuf b = {0};
  char title[128], nb[64], t[32];
  const struct proto_who_read_result *w;
  size_t nread = 0;

  (void)hc;
  if (err) {
    ui_notice(a, "/who: %s%s%.*s", hc_strerror(err), r ? " — " : "",
              r ? (int)r->u.error.message.len : 0,
              r ? r->u.error.message.p : "");
    preq_done(q);
    return;
  }
  w = &r->u.who_read_result;
  for (size_t i = 0; i < w->nrows; i++)
    nread += w->rows[i].read;
  for (size_t i = 0; i < w->nrows; i++) {
    const struct proto_who_row *row = &w->rows[i];
    const char *name = model_name(&a->m, row->uid, nb, sizeof nb);
    int pad = 24 - tx_width_utf8(name, strlen(name));

    if (row->read && row->at) {
      time_t s = (time_t)(row->at / 1000);
      struct tm tm;

      localtime_r(&s, &tm);
      strftime(t, sizeof t, "%Y-%m-%d %H:%M", &tm);
      ov_add(&b, "%s%*s read %s", name, pad > 0 ? pad : 1, "", t);
    } else if (row->read) {
      ov_add(&b, "%s%*s read (time not recorded)", name, pad > 0 ? pad : 1, "");
    } else {
      ov_add(&b, "%s%*s not read", name, pad > 0 ? pad : 1, "");
    }
  }
  snprintf(title, sizeof title, "Who read #%" PRIu64 ": %zu/%zu", q->seq, nread,
           w->nrows);
  ov_show(a, OV_TEXT, title, &b);
  preq_done(q);
}

void cmd_who(struct app *a, char *args)
{
  struct hconv *c = ui_current(a);
  char *w = cmd_word(&args);
  struct proto_frame f;
  struct preq *q;
  uint64_t seq = 0;

  if (!c) {
    ui_notice(a, "no conversation");
    return;
  }
  if (w) {
    if (*w == '#')
      w++;
    if (!cmd_parse_id(w, &seq)) {
      ui_notice(a, "usage: /who [SEQ]");
      return;
    }
  } else {
    for (size_t i = c->n; i-- > 0 && !seq;)
      if (c->msgs[i].from == a->m.me && c->msgs[i].tracked)
        seq = c->msgs[i].seq;
    if (!seq) {
      ui_notice(a, "/who: no tracked message of yours here; give /who SEQ");
      return;
    }
  }
  if (!cmd_need_online(a, "/who") || !(q = preq_new(a, c->id, seq)))
    return;
  proto_frame_init(&f, PROTO_T_WHO_READ);
  f.u.who_read.conv = c->id;
  f.u.who_read.seq = seq;
  if (hc_request(a->conn, &f, who_cb, q, NULL) != 0) {
    preq_done(q);
    ui_notice(a, "/who: cannot ask now");
  }
}

/* ---- /report ---- */

/* Appends `s` padded with spaces to `w` display columns. */
static void cell(char *line, size_t cap, const char *s, int w)
{
  size_t n = strlen(line);
  int pad = w - tx_width_utf8(s, strlen(s));

  snprintf(line + n, cap - n, "%s%*s", s, pad > 1 ? pad : 1, "");
}

static const char *report_name(struct app *a,
                               const struct proto_report_result *r,
                               uint64_t uid, char *buf, size_t len)
{
  for (size_t i = 0; i < r->nusers; i++)
    if (r->users[i].uid == uid) {
      snprintf(buf, len, "%.*s", (int)r->users[i].name.len, r->users[i].name.p);
      return buf;
    }
  return model_name(&a->m, uid, buf, len);
}

static void report_cb(struct hc_conn *hc, int err, const struct proto_frame *f,
                      void *arg)
{
  struct app *a = arg;
  const struct proto_report_result *r;
  struct ovbuf b = {0};
  char line[1024], who[128], from[128], sent[32], conv[80], seq[24],
       unread[32], title[128];

  (void)hc;
  if (err) {
    ui_notice(a, "/report: %s%s%.*s", hc_strerror(err), f ? " — " : "",
              f ? (int)f->u.error.message.len : 0,
              f ? f->u.error.message.p : "");
    return;
  }
  r = &f->u.report_result;
  line[0] = '\0';
  cell(line, sizeof line, "RECIPIENT", 18);
  cell(line, sizeof line, "CONVERSATION", 18);
  cell(line, sizeof line, "SEQ", 6);
  cell(line, sizeof line, "SENDER", 16);
  cell(line, sizeof line, "SENT", 12);
  cell(line, sizeof line, "UNREAD FOR", 11);
  cell(line, sizeof line, "DING", 5);
  ov_add(&b, "%s", line);
  for (size_t i = 0; i < r->nrows; i++) {
    const struct proto_report_row *w = &r->rows[i];
    struct hconv *c = model_conv(&a->m, w->conv);
    char tb[64];

    if (c && c->title)
      snprintf(conv, sizeof conv, "#%" PRIu64 " %s", w->conv,
               model_title(&a->m, c, tb, sizeof tb));
    else
      snprintf(conv, sizeof conv, "#%" PRIu64, w->conv);
    snprintf(seq, sizeof seq, "%" PRIu64, w->seq);
    ui_format_time(w->ts, sent, sizeof sent);
    snprintf(unread, sizeof unread, "%" PRIu64 "h%02" PRIu64 "m",
             w->unread_s / 3600, w->unread_s % 3600 / 60);
    line[0] = '\0';
    cell(line, sizeof line, report_name(a, r, w->uid, who, sizeof who), 18);
    cell(line, sizeof line, conv, 18);
    cell(line, sizeof line, seq, 6);
    cell(line, sizeof line, report_name(a, r, w->from, from, sizeof from), 16);
    cell(line, sizeof line, sent, 12);
    cell(line, sizeof line, unread, 11);
    cell(line, sizeof line, w->ding ? (w->acked ? "acked" : "DING") : "", 5);
    ov_add(&b, "%s", line);
  }
  ov_add(&b, "%s", "");
  ov_add(&b, "Per recipient:");
  for (size_t i = 0; i < r->nusers; i++)
    ov_add(&b, "  %.*s%s%.*s: %" PRIu64 " unread, %" PRIu64 " DING",
           (int)r->users[i].name.len, r->users[i].name.p,
           r->users[i].dept.len ? " / " : "", (int)r->users[i].dept.len,
           r->users[i].dept.p ? r->users[i].dept.p : "", r->users[i].unread,
           r->users[i].dings);
  if (r->truncated)
    ov_add(&b, "(rows truncated; totals are complete)");
  snprintf(title, sizeof title, "Unread over %" PRIu64 "m: %zu rows",
           r->older / 60, r->nrows);
  a->notice[0] = '\0';
  ov_show(a, OV_TEXT, title, &b);
}

void cmd_report(struct app *a, char *args)
{
  char *w = cmd_word(&args);
  int64_t older = 7200;
  struct proto_frame f;

  if (w && (proto_duration_parse(w, strlen(w), &older) < 0 || older < 60 ||
            older > 31536000)) {
    ui_notice(a, "usage: /report [DURATION] (1m to 365d, e.g. 2h, 90m)");
    return;
  }
  if (a->m.role != PROTO_ROLE_MANAGER && a->m.role != PROTO_ROLE_ADMIN) {
    ui_notice(a, "/report is for managers and admins");
    return;
  }
  if (!cmd_need_online(a, "/report"))
    return;
  proto_frame_init(&f, PROTO_T_REPORT_UNREAD);
  f.u.report_unread.older = (uint64_t)older;
  if (hc_request(a->conn, &f, report_cb, a, NULL) != 0)
    ui_notice(a, "/report: cannot ask now");
  else
    ui_notice(a, "asking for the report…");
}

/* ---- /quiet ---- */

static const char *const DAYS[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

static void windows(struct ovbuf *b, const char *who,
                    const struct proto_window *w, size_t n)
{
  if (n == 0)
    ov_add(b, "  %s: none", who);
  for (size_t i = 0; i < n; i++)
    ov_add(b, "  %s: %s %02" PRIu64 ":%02" PRIu64 "-%02" PRIu64 ":%02" PRIu64,
           who, w[i].day >= 1 && w[i].day <= 7 ? DAYS[w[i].day - 1] : "?",
           w[i].start / 60, w[i].start % 60, w[i].end / 60, w[i].end % 60);
}

static void quiet_cb(struct hc_conn *hc, int err, const struct proto_frame *f,
                     void *arg)
{
  struct app *a = arg;
  const struct proto_quiet_state *q;
  struct ovbuf b = {0};
  char t[32];

  (void)hc;
  if (err) {
    ui_notice(a, "/quiet: %s%s%.*s", hc_strerror(err), f ? " — " : "",
              f ? (int)f->u.error.message.len : 0,
              f ? f->u.error.message.p : "");
    return;
  }
  q = &f->u.quiet_state;
  net_set_quiet(a, q);
  ov_add(&b, "Time zone: %.*s", (int)q->tz.len, q->tz.p);
  if (q->in_quiet) {
    if (q->until)
      ui_format_time(q->until, t, sizeof t);
    ov_add(&b, "Now: in quiet hours%s%s (messages arrive silently)",
           q->until ? " until " : "", q->until ? t : "");
  } else {
    if (q->next)
      ui_format_time(q->next, t, sizeof t);
    ov_add(&b, "Now: not in quiet hours%s%s", q->next ? "; next from " : "",
           q->next ? t : "");
  }
  ov_add(&b, "%s", "");
  ov_add(&b, "Windows:");
  windows(&b, "organisation", q->org, q->norg);
  windows(&b, "yours", q->own, q->nown);
  ov_add(&b, "%s", "");
  ov_add(&b, "/quiet set Mon-Fri 12:00-13:00; Sat 00:00-24:00  replaces yours");
  ov_add(&b, "/quiet clear  removes yours (the organisation's stay)");
  ov_show(a, OV_TEXT, "Quiet hours", &b);
}

static int day_of(const char *s, size_t n)
{
  for (int i = 0; i < 7; i++)
    if (n == 3 && strncasecmp(s, DAYS[i], 3) == 0)
      return i + 1;
  return 0;
}

/* "Mon-Fri 20:00-08:00", "Sat,Sun 00:00-24:00", "daily 12:00-13:00". */
static int parse_window(char *spec, struct proto_window *out, size_t max,
                        size_t *n)
{
  char *days = cmd_word(&spec), *hours = cmd_word(&spec);
  unsigned h1, m1, h2, m2;
  bool set[8] = {false};
  int c = 0;

  if (!days || !hours || cmd_word(&spec) ||
      sscanf(hours, "%u:%u-%u:%u%n", &h1, &m1, &h2, &m2, &c) != 4 ||
      hours[c] || h1 > 23 || m1 > 59 || h2 > 24 || m2 > 59 ||
      (h2 == 24 && m2 != 0))
    return -1;
  if (strcasecmp(days, "daily") == 0) {
    for (int d = 1; d <= 7; d++)
      set[d] = true;
  } else {
    char *sv = NULL;

    for (char *tok = strtok_r(days, ",", &sv); tok; tok = strtok_r(NULL, ",", &sv)) {
      char *dash = strchr(tok, '-');
      int d1 = day_of(tok, dash ? (size_t)(dash - tok) : strlen(tok));
      int d2 = dash ? day_of(dash + 1, strlen(dash + 1)) : d1;

      if (!d1 || !d2)
        return -1;
      for (int d = d1;; d = d % 7 + 1) {
        set[d] = true;
        if (d == d2)
          break;
      }
    }
  }
  for (int d = 1; d <= 7; d++) {
    if (!set[d])
      continue;
    if (*n == max)
      return -1;
    out[(*n)++] = (struct proto_window){(uint64_t)d, h1 * 60u + m1,
                                        h2 * 60u + m2};
  }
  return 0;
}

void cmd_quiet(struct app *a, char *args)
{
  char *w = cmd_word(&args);
  struct proto_window win[64];
  struct proto_frame f;
  size_t n = 0;

  if (!w) {
    if (!cmd_need_online(a, "/quiet"))
      return;
    proto_frame_init(&f, PROTO_T_QUIET_GET);
  } else if (strcmp(w, "clear") == 0 || strcmp(w, "set") == 0) {
    if (strcmp(w, "set") == 0) {
      /* Specs separated by ';'; parse_window tokenises its own copy. */
      for (char *spec = args; spec && *spec;) {
        char *semi = strchr(spec, ';'), one[256];

        if (semi)
          *semi = '\0';
        snprintf(one, sizeof one, "%s", spec);
        if (parse_window(one, win, 64, &n) != 0) {
          ui_notice(a, "/quiet set: \"%s\" is not DAYS HH:MM-HH:MM "
                       "(e.g. Mon-Fri 20:00-08:00)", spec);
          return;
        }
        spec = semi ? semi + 1 : NULL;
      }
      if (n == 0) {
        ui_notice(a, "usage: /quiet set DAYS HH:MM-HH:MM[; ...]");
        return;
      }
    }
    if (!cmd_need_online(a, "/quiet"))
      return;
    proto_frame_init(&f, PROTO_T_QUIET_SET);
    f.u.quiet_set.win = win;
    f.u.quiet_set.nwin = n;
    /* The zone goes along unchanged: the windows are wall-clock times in
     * it (and a quiet_set without tz is refused by some servers). */
    if (a->tz[0])
      f.u.quiet_set.tz = (struct proto_str){a->tz, strlen(a->tz)};
  } else {
    ui_notice(a, "usage: /quiet [set SPEC[; SPEC...] | clear]");
    return;
  }
  if (hc_request(a->conn, &f, quiet_cb, a, NULL) != 0)
    ui_notice(a, "/quiet: cannot ask now");
}
