/*
 * cmd.c — the slash commands and sending what is typed.
 *
 * Sends, DINGs and acks go through the outbox (they work offline); the
 * commands that ask the server something (/who, /report, /quiet, /new)
 * need a connection and say so when there is none. Results show in the
 * overlay (tables, lists) or on the feedback line.
 *
 * The card commands (/task, /okr, /interview, /sign) have their slot in
 * the table below; they answer that cards are not available in this
 * build until the card features land.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "herald_int.h"
#include "text.h"

const char *const HERALD_HELP[] = {
  "Type a message and press Enter to send it to the conversation shown.",
  "",
  "Commands:",
  "  /join NAME|ID|@USER     show a conversation (a group by its title or id,",
  "                          or your 1:1 with USER)",
  "  /new @USER              start a 1:1 conversation",
  "  /new group TITLE @USER...   create a group with these members",
  "  /ding [normal|urgent|critical] [@USER...] TEXT",
  "                          a DING everyone (or the named members) must",
  "                          acknowledge; default urgency: urgent",
  "  /ack [SEQ]              acknowledge the DING in the banner (or #SEQ here)",
  "  /who [SEQ]              who read your message #SEQ (default: your last",
  "                          tracked one), with read times",
  "  /report [DURATION]      managers: messages unread longer than DURATION",
  "                          (default 2h; e.g. 90m, 1d)",
  "  /quiet                  your quiet hours",
  "  /quiet set SPEC[; SPEC...]  replace your own quiet windows, e.g.",
  "                          /quiet set Mon-Fri 12:00-13:00; Sat 00:00-24:00",
  "  /quiet clear            remove your own windows (the org's stay)",
  "  /reconnect              try to reach the server now",
  "  /logout                 end this session on the server, and quit",
  "  /quit                   quit (unsent messages stay queued)",
  "  /task /okr /interview /sign   cards (not available in this build yet)",
  "",
  "Keys:",
  "  Ctrl-N / Ctrl-P         next / previous conversation",
  "  PgUp / PgDn             scroll (older messages load from the server)",
  "  F2                      acknowledge the DING in the banner",
  "  Left/Right Home/End     move in the input line (Ctrl-A/Ctrl-E too)",
  "  Backspace / Delete      delete before / at the cursor; Ctrl-U clears",
  "  Up / Down               earlier lines typed",
  "  Esc                     close this window;  F1  this help",
  "  Ctrl-C                  quit",
  NULL,
};

/* ---- small parsing helpers ---- */

static char *next_word(char **s)
{
  char *p = *s, *w;

  while (*p == ' ')
    p++;
  if (!*p) {
    *s = p;
    return NULL;
  }
  w = p;
  while (*p && *p != ' ')
    p++;
  if (*p)
    *p++ = '\0';
  *s = p;
  return w;
}

static bool parse_u64(const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v;

  if (!s || !isdigit((unsigned char)*s))
    return false;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || *end || v == 0 || v > PROTO_ID_MAX)
    return false;
  *out = v;
  return true;
}

/* A user: "@login", "login" or a user id, among the members of my
 * conversations (the protocol has no user directory). */
static bool resolve_user(struct app *a, const char *w, uint64_t *uid)
{
  const struct huser *u;

  if (*w == '@')
    w++;
  if (parse_u64(w, uid))
    return true;
  if ((u = model_user_by_login(&a->m, w))) {
    *uid = u->uid;
    return true;
  }
  ui_notice(a, "unknown user \"%s\": not in any of your conversations "
               "(a user id works too)", w);
  return false;
}

static bool need_online(struct app *a, const char *what)
{
  if (net_online(a))
    return true;
  ui_notice(a, "%s needs the server: offline now (try again when online)", what);
  return false;
}

static size_t conv_index(struct app *a, uint64_t id)
{
  for (size_t i = 0; i < a->m.nconvs; i++)
    if (a->m.convs[i].id == id)
      return i;
  return (size_t)-1;
}

/* ---- sending ---- */

void cmd_send_text(struct app *a, const char *text)
{
  struct hconv *c = ui_current(a);
  char cmid[HC_CMID_SIZE];
  uint64_t oid;
  int rc;

  if (!c) {
    ui_notice(a, "no conversation to send to: /join or /new first");
    return;
  }
  if ((rc = hc_send_text(a->conn, c->id, text, strlen(text), &oid, cmid)) != 0) {
    ui_notice(a, "not sent: %s", hc_strerror(rc));
    return;
  }
  model_pend_add(&a->m, oid, c->id, cmid, text, strlen(text), false);
  c->scroll = 0;
  a->notice[0] = '\0';
  a->dirty = true;
}

static void cmd_ding(struct app *a, char *args)
{
  struct hconv *c = ui_current(a);
  enum proto_urgency urg = PROTO_URG_URGENT;
  uint64_t to[64];
  size_t nto = 0;
  char cmid[HC_CMID_SIZE], *p = args, *w, *text;
  uint64_t oid;
  int rc;

  if (!c) {
    ui_notice(a, "no conversation: /join one first");
    return;
  }
  for (;;) {
    char *save = p;

    if (!(w = next_word(&p)))
      break;
    if (strcmp(w, "normal") == 0 && nto == 0) urg = PROTO_URG_NORMAL;
    else if (strcmp(w, "urgent") == 0 && nto == 0) urg = PROTO_URG_URGENT;
    else if (strcmp(w, "critical") == 0 && nto == 0) urg = PROTO_URG_CRITICAL;
    else if (*w == '@') {
      if (nto == sizeof to / sizeof *to) {
        ui_notice(a, "/ding: at most 64 recipients");
        return;
      }
      if (!resolve_user(a, w, &to[nto]))
        return;
      nto++;
    } else {
      /* The text starts here (the word was cut out: restore the space). */
      if (*p)
        p[-1] = ' ';
      p = save;
      break;
    }
  }
  while (*p == ' ')
    p++;
  text = p;
  if (!*text) {
    ui_notice(a, "usage: /ding [normal|urgent|critical] [@USER...] TEXT");
    return;
  }
  rc = hc_send_ding(a->conn, c->id, text, strlen(text), urg, to, nto, NULL, 0,
                    &oid, cmid);
  if (rc != 0) {
    ui_notice(a, "DING not sent: %s", hc_strerror(rc));
    return;
  }
  model_pend_add(&a->m, oid, c->id, cmid, text, strlen(text), true);
  ui_notice(a, "DING queued (%s, %s)",
            urg == PROTO_URG_CRITICAL ? "critical"
            : urg == PROTO_URG_URGENT ? "urgent" : "normal",
            nto ? "named recipients" : "everyone");
}

static void ack(struct app *a, uint64_t conv, uint64_t seq)
{
  int rc = hc_ding_ack(a->conn, conv, seq, 0, NULL);

  if (rc != 0) {
    ui_notice(a, "acknowledgement not recorded: %s", hc_strerror(rc));
    return;
  }
  /* Queued in the outbox (fsync'd): it reaches the server now or after a
   * reconnect, with the time it was made. */
  model_banner_remove(&a->m, conv, seq);
  a->cache_dirty = true;
  ui_notice(a, "DING acknowledged%s", net_online(a) ? "" : " (queued: offline)");
}

void cmd_ack_first(struct app *a)
{
  struct hbanner *b;

  if (!a->m.nbanners) {
    ui_notice(a, "no DING waiting for you");
    return;
  }
  b = &a->m.banners[0];
  if (b->about) {                  /* an escalation notice: just dismiss */
    model_banner_remove(&a->m, b->conv, b->seq);
    a->dirty = a->cache_dirty = true;
    return;
  }
  ack(a, b->conv, b->seq);
}

static void cmd_ack(struct app *a, char *args)
{
  struct hconv *c = ui_current(a);
  char *w = next_word(&args);
  uint64_t seq;

  if (!w) {
    cmd_ack_first(a);
    return;
  }
  if (*w == '#')
    w++;
  if (!c || !parse_u64(w, &seq)) {
    ui_notice(a, "usage: /ack [SEQ]");
    return;
  }
  ack(a, c->id, seq);
}

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

static void cmd_who(struct app *a, char *args)
{
  struct hconv *c = ui_current(a);
  char *w = next_word(&args);
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
    if (!parse_u64(w, &seq)) {
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
  if (!need_online(a, "/who") || !(q = preq_new(a, c->id, seq)))
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

static long parse_duration(const char *s)
{
  char *end;
  long v = strtol(s, &end, 10);

  if (end == s || v < 0)
    return -1;
  if (*end == '\0' || strcmp(end, "s") == 0)
    return v;
  if (strcmp(end, "m") == 0)
    return v * 60;
  if (strcmp(end, "h") == 0)
    return v * 3600;
  if (strcmp(end, "d") == 0)
    return v * 86400;
  return -1;
}

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

static void cmd_report(struct app *a, char *args)
{
  char *w = next_word(&args);
  long older = 7200;
  struct proto_frame f;

  if (w && ((older = parse_duration(w)) < 60 || older > 31536000)) {
    ui_notice(a, "usage: /report [DURATION] (1m to 365d, e.g. 2h, 90m)");
    return;
  }
  if (a->m.role != PROTO_ROLE_MANAGER && a->m.role != PROTO_ROLE_ADMIN) {
    ui_notice(a, "/report is for managers and admins");
    return;
  }
  if (!need_online(a, "/report"))
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
  char *days = next_word(&spec), *hours = next_word(&spec);
  unsigned h1, m1, h2, m2;
  bool set[8] = {false};
  int c = 0;

  if (!days || !hours || next_word(&spec) ||
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

static void cmd_quiet(struct app *a, char *args)
{
  char *w = next_word(&args);
  struct proto_window win[64];
  struct proto_frame f;
  size_t n = 0;

  if (!w) {
    if (!need_online(a, "/quiet"))
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
    if (!need_online(a, "/quiet"))
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

/* ---- /join and /new ---- */

static void created_cb(struct hc_conn *hc, int err, const struct proto_frame *f,
                       void *arg)
{
  struct app *a = arg;
  struct hconv *c;

  (void)hc;
  if (err) {
    ui_notice(a, "cannot create the conversation: %s%s%.*s", hc_strerror(err),
              f ? " — " : "", f ? (int)f->u.error.message.len : 0,
              f ? f->u.error.message.p : "");
    return;
  }
  if (!(c = model_conv_add(&a->m, f->u.result.conv)))
    return;
  ui_select(a, conv_index(a, c->id));
  net_refresh_convs(a);
  ui_notice(a, "conversation #%" PRIu64 " ready", c->id);
}

static void create(struct app *a, enum proto_conv_type type, const char *title,
                   const uint64_t *members, size_t n)
{
  struct proto_frame f;

  if (!need_online(a, "/new"))
    return;
  proto_frame_init(&f, PROTO_T_CONV_CREATE);
  f.u.conv_create.type = type;
  if (title && *title)
    f.u.conv_create.title = (struct proto_str){title, strlen(title)};
  f.u.conv_create.members = members;
  f.u.conv_create.nmembers = n;
  if (hc_request(a->conn, &f, created_cb, a, NULL) != 0)
    ui_notice(a, "/new: cannot ask now");
}

static void cmd_new(struct app *a, char *args)
{
  char *w = next_word(&args), title[256] = "";
  uint64_t members[64];
  size_t n = 0;

  if (w && strcmp(w, "group") == 0) {
    while ((w = next_word(&args))) {
      if (*w == '@') {
        if (n == 64 || !resolve_user(a, w, &members[n]))
          return;
        n++;
      } else {
        size_t l = strlen(title);

        snprintf(title + l, sizeof title - l, "%s%s", l ? " " : "", w);
      }
    }
    if (!*title) {
      ui_notice(a, "usage: /new group TITLE @USER...");
      return;
    }
    create(a, PROTO_CONV_GROUP, title, members, n);
    return;
  }
  if (!w || next_word(&args)) {
    ui_notice(a, "usage: /new @USER  or  /new group TITLE @USER...");
    return;
  }
  if (!resolve_user(a, w, &members[0]))
    return;
  create(a, PROTO_CONV_DIRECT, NULL, members, 1);
}

static void cmd_join(struct app *a, char *args)
{
  char tb[64];
  uint64_t id;

  while (*args == ' ')
    args++;
  if (!*args) {
    ui_notice(a, "usage: /join NAME|ID|@USER");
    return;
  }
  if (*args == '@') {
    cmd_new(a, args);
    return;
  }
  if (parse_u64(*args == '#' ? args + 1 : args, &id) &&
      conv_index(a, id) != (size_t)-1) {
    ui_select(a, conv_index(a, id));
    return;
  }
  /* A title: exact (ignoring case) first, then a prefix. */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < a->m.nconvs; i++) {
      const char *t = model_title(&a->m, &a->m.convs[i], tb, sizeof tb);

      if (pass == 0 ? strcasecmp(t, args) == 0
                    : strncasecmp(t, args, strlen(args)) == 0) {
        ui_select(a, i);
        a->notice[0] = '\0';
        return;
      }
    }
  if (model_user_by_login(&a->m, args)) {
    char at[300];

    snprintf(at, sizeof at, "@%s", args);
    cmd_new(a, at);
    return;
  }
  ui_notice(a, "no conversation \"%s\" (groups are joined when an owner adds "
               "you; /new starts one)", args);
}

/* ---- /logout ---- */

static void logout_cb(struct hc_conn *hc, int err, const struct proto_frame *f,
                      void *arg)
{
  struct app *a = arg;
  char path[4200];

  (void)hc;
  (void)f;
  if (err) {
    a->logging_out = false;
    ui_notice(a, "/logout: %s", hc_strerror(err));
    return;
  }
  /* The session token is revoked; do not keep it on disk. */
  snprintf(path, sizeof path, "%s/token", a->state_dir);
  unlink(path);
  app_quit(a);
}

static void cmd_logout(struct app *a)
{
  struct proto_frame f;

  if (!need_online(a, "/logout"))
    return;
  proto_frame_init(&f, PROTO_T_LOGOUT);
  a->logging_out = true;
  if (hc_request(a->conn, &f, logout_cb, a, NULL) != 0) {
    a->logging_out = false;
    ui_notice(a, "/logout: cannot ask now");
  }
}

/* ---- dispatch ---- */

void cmd_run(struct app *a, const char *line)
{
  char buf[4096], *args, *word;

  snprintf(buf, sizeof buf, "%s", line + 1);
  args = buf;
  if (!(word = next_word(&args)))
    return;
  if (strcmp(word, "help") == 0) {
    size_t n = 0;

    while (HERALD_HELP[n])
      n++;
    ui_overlay(a, OV_TEXT, "herald — help", HERALD_HELP, n);
  } else if (strcmp(word, "join") == 0 || strcmp(word, "j") == 0) {
    cmd_join(a, args);
  } else if (strcmp(word, "new") == 0) {
    cmd_new(a, args);
  } else if (strcmp(word, "ding") == 0) {
    cmd_ding(a, args);
  } else if (strcmp(word, "ack") == 0) {
    cmd_ack(a, args);
  } else if (strcmp(word, "who") == 0) {
    cmd_who(a, args);
  } else if (strcmp(word, "report") == 0) {
    cmd_report(a, args);
  } else if (strcmp(word, "quiet") == 0) {
    cmd_quiet(a, args);
  } else if (strcmp(word, "logout") == 0) {
    cmd_logout(a);
  } else if (strcmp(word, "quit") == 0 || strcmp(word, "q") == 0) {
    app_quit(a);
  } else if (strcmp(word, "reconnect") == 0) {
    hc_conn_start(a->conn);
    ui_notice(a, "reconnecting…");
  } else if (strcmp(word, "task") == 0 || strcmp(word, "okr") == 0 ||
             strcmp(word, "interview") == 0 || strcmp(word, "sign") == 0) {
    /* The card commands' slot: they arrive with the card features. */
    ui_notice(a, "/%s: cards are not available in this build yet", word);
  } else {
    ui_notice(a, "unknown command /%s (/help lists them)", word);
  }
}
