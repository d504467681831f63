/*
 * cmd.c — the slash commands and sending what is typed.
 *
 * Sends, DINGs and acks go through the outbox (they work offline); the
 * commands that ask the server something (/who, /report, /quiet, /new)
 * need a connection and say so when there is none. Results show in the
 * overlay (tables, lists) or on the feedback line.
 *
 * /who, /report and /quiet are in cmd_query.c; the card commands (/task,
 * /okr, /interview, /sign) in cmd_card.c.
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
  "  /ack [SEQ]              acknowledge the DING in the banner (or #SEQ here;",
  "                          a message's #SEQ follows its sender's name)",
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
  "",
  "Cards (shown as boxes; CARD is #cID from the box's top line, or the",
  "message's #SEQ; dates are YYYY-MM-DD, due at 23:59:59 UTC):",
  "  /task TITLE [@USER...] [due DATE] [!low|normal|high|urgent]",
  "                          post a task (default assignee: you)",
  "  /task accept|done CARD  take / finish a task assigned to you",
  "  /task status CARD open|in_progress|done|cancelled",
  "  /task comment CARD TEXT",
  "  /okr new OBJECTIVE [@OWNER] period P kr \"TITLE\" START TARGET [UNIT]...",
  "                          P: 2026, 2026-H1, 2026-Q4; e.g. /okr new Grow",
  "                          period 2026-Q4 kr \"Users\" 0 100 k kr Uptime 99 99.9 %",
  "  /okr checkin CARD KR# VALUE [CONFIDENCE 0..1] [NOTE...]",
  "  /interview new @EMPLOYEE period P    (you are the manager)",
  "  /interview edit CARD development_plan|behaviour|notes TEXT",
  "  /interview item CARD @OWNER [due DATE] TEXT   add an action item",
  "  /interview submit|amend CARD",
  "  /sign CARD              sign the interview record with this device's",
  "                          key (online only: it signs the current version)",
  "  Task and OKR actions made offline are queued and sent on reconnect;",
  "  /interview edits and /sign need the server.",
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

char *cmd_word(char **s)
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

bool cmd_parse_id(const char *s, uint64_t *out)
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
  if (cmd_parse_id(w, uid))
    return true;
  if ((u = model_user_by_login(&a->m, w))) {
    *uid = u->uid;
    return true;
  }
  ui_notice(a, "unknown user \"%s\": not in any of your conversations "
               "(a user id works too)", w);
  return false;
}

bool cmd_need_online(struct app *a, const char *what)
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

    if (!(w = cmd_word(&p)))
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
  char *w = cmd_word(&args);
  uint64_t seq;

  if (!w) {
    cmd_ack_first(a);
    return;
  }
  if (*w == '#')
    w++;
  if (!c || !cmd_parse_id(w, &seq)) {
    ui_notice(a, "usage: /ack [SEQ]");
    return;
  }
  ack(a, c->id, seq);
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

  if (!cmd_need_online(a, "/new"))
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
  char *w = cmd_word(&args), title[256] = "";
  uint64_t members[64];
  size_t n = 0;

  if (w && strcmp(w, "group") == 0) {
    while ((w = cmd_word(&args))) {
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
  if (!w || cmd_word(&args)) {
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
  if (cmd_parse_id(*args == '#' ? args + 1 : args, &id) &&
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

  if (!cmd_need_online(a, "/logout"))
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
  char *buf = strdup(line + 1), *args = buf, *word;

  if (!buf || !(word = cmd_word(&args))) {
    free(buf);
    return;
  }
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
  } else if (strcmp(word, "task") == 0) {
    cmd_task(a, args);
  } else if (strcmp(word, "okr") == 0) {
    cmd_okr(a, args);
  } else if (strcmp(word, "interview") == 0) {
    cmd_interview(a, args);
  } else if (strcmp(word, "sign") == 0) {
    cmd_sign(a, args);
  } else {
    ui_notice(a, "unknown command /%s (/help lists them)", word);
  }
  free(buf);
}
