/*
 * cmd_send.c — heraldctl send: one message, waited for until it is stored
 * (see chat.c for the shared session handling).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "ctl_int.h"
#include "hc.h"
#include "hcrypto.h"
#include "chat_int.h"

static const char SEND_HELP[] =
  "Usage: heraldctl send --login LOGIN (--conv ID | --group TITLE | --to USER)\n"
  "                      [options] TEXT...\n"
  "\n"
  "Logs in to a Herald server as LOGIN, sends TEXT (the words joined by\n"
  "spaces; a single - reads the text from stdin) to a conversation, waits\n"
  "until the server has stored it and prints\n"
  "    conv ID seq SEQ at TIME\n"
  "with \"(duplicate)\" appended when the server had the message already.\n"
  "\n"
  "Options:\n"
  "  --server URL          ws://HOST:PORT/ or wss://HOST:PORT/ (default: env\n"
  "                        HERALD_SERVER, else " DEFAULT_SERVER ")\n"
  "  --ca-file F           for wss://, trust the CAs in PEM file F (default:\n"
  "                        env HERALD_CA_FILE, else the system's CAs)\n"
  "  --login LOGIN         the user to log in as\n"
  "  --password-file F     read the password from file F (- for stdin);\n"
  "                        default: ask on the terminal\n"
  "  --token-file F        log in with the session token in file F instead\n"
  "  --conv ID             the conversation, by id\n"
  "  --group TITLE         a group you are a member of, by title\n"
  "  --to USER             your 1:1 conversation with USER (a login or a user\n"
  "                        id); created if there is none yet\n"
  "  --timeout SECONDS     give up after this long (default 15)\n"
  "  --ding URGENCY        send a DING (normal, urgent or critical): the\n"
  "                        recipients are alerted and re-alerted until\n"
  "                        they acknowledge, then escalated\n"
  "  --ding-to USER        a DING recipient, login or user id (repeatable;\n"
  "                        default: every other member)\n"
  "  --esc LIST            the DING's own re-alert times after sending,\n"
  "                        e.g. 5m,15m,30m (default: the organisation's,\n"
  "                        heraldctl ding schedule)\n"
  "  -h, --help            this help\n"
  "\n"
  "Exit status: 0 stored, 1 error (not stored, or not known to be), 2 usage.\n";

/* ---- send ---- */

static bool send_finished(void *arg)
{
  struct chat *ch = arg;

  return ch->sent_done || ch->sent_failed ||
         hc_conn_state(ch->conn) == HC_STATE_STOPPED;
}

/* The words of argv joined by spaces, or stdin for a lone "-". */
static char *message_text(int argc, char **argv, size_t *len)
{
  size_t n = 0, cap = 0;
  char *s = NULL;

  if (argc == 1 && strcmp(argv[0], "-") == 0) {
    char buf[4096];
    size_t got;

    while ((got = fread(buf, 1, sizeof buf, stdin)) > 0) {
      char *p;

      if (n + got > 16u << 20 || !(p = realloc(s, n + got + 1))) {
        free(s);
        return NULL;
      }
      s = p;
      memcpy(s + n, buf, got);
      n += got;
    }
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
      n--;
    if (!s && !(s = malloc(1)))
      return NULL;
    s[n] = '\0';
    *len = n;
    return s;
  }
  for (int i = 0; i < argc; i++)
    cap += strlen(argv[i]) + 1;
  if (!(s = malloc(cap + 1)))
    return NULL;
  for (int i = 0; i < argc; i++) {
    size_t k = strlen(argv[i]);

    if (i)
      s[n++] = ' ';
    memcpy(s + n, argv[i], k);
    n += k;
  }
  s[n] = '\0';
  *len = n;
  return s;
}


/* "5m,15m,1h" as seconds (each 1 s .. 7 d, increasing); the count, or -1
 * with a message in err. */
static int parse_esc(const char *s, uint64_t *out, size_t max, char *err,
                     size_t errlen)
{
  size_t n = 0;

  while (*s) {
    char *end;
    long v = strtol(s, &end, 10), mul = 1;

    if (end == s || v < 1) {
      snprintf(err, errlen, "--esc: expected a duration at \"%s\"", s);
      return -1;
    }
    if (*end == 's' || *end == 'm' || *end == 'h' || *end == 'd') {
      mul = *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 1;
      end++;
    }
    if ((*end && *end != ',') || n == max || v > 604800 / mul ||
        (n && (uint64_t)(v * mul) <= out[n - 1])) {
      snprintf(err, errlen, "--esc: at most %zu increasing times, each up to "
               "7d (e.g. 5m,15m,30m)", max);
      return -1;
    }
    out[n++] = (uint64_t)(v * mul);
    s = *end ? end + 1 : end;
  }
  return (int)n;
}

/* The --ding-to users as ids: numbers as they are, logins through the
 * conversation's members. CTL_OK or CTL_ERR (printed). */
static int ding_recipients(struct chat *ch, uint64_t *to)
{
  struct proto_frame f;
  struct call c;
  int rc;

  proto_frame_init(&f, PROTO_T_CONV_MEMBERS);
  f.u.conv_members.conv = ch->conv;
  if ((rc = chat_call(ch, &f, &c, "conv_members")) != CTL_OK)
    return rc;
  for (size_t i = 0; i < ch->n_ding_to; i++) {
    const struct proto_conv_members_result *m = &c.reply.u.conv_members_result;
    const char *who = ch->ding_to[i];
    char *end;
    unsigned long long id = strtoull(who, &end, 10);

    to[i] = *who && !*end ? (uint64_t)id : 0;
    for (size_t k = 0; !to[i] && k < m->nmembers; k++)
      if (m->members[k].login.len == strlen(who) &&
          strncasecmp(m->members[k].login.p, who, strlen(who)) == 0)
        to[i] = m->members[k].uid;
    if (!to[i]) {
      proto_frame_cleanup(&c.reply);
      return ctl_error("--ding-to %s: not a member of the conversation", who);
    }
  }
  proto_frame_cleanup(&c.reply);
  return CTL_OK;
}

int ctl_cmd_send(struct ctl *ctl, int argc, char **argv)
{
  struct chat ch;
  char *text = NULL, when[64];
  size_t len = 0;
  int rc;

  memset(&ch, 0, sizeof ch);
  ch.ctl = ctl;
  ctl->help = SEND_HELP;
  if ((rc = chat_parse_common(&ch, argc, argv, CHAT_SEND)) >= 0)
    return rc;
  if (optind >= argc)
    return ctl_usage(ctl, "missing TEXT");
  if (!(text = message_text(argc - optind, argv + optind, &len)))
    return ctl_error("cannot read the text (too long, or out of memory)");
  if (len == 0) {
    free(text);
    return ctl_usage(ctl, "the text is empty");
  }
  if ((rc = chat_open(&ch)) != CTL_OK || (rc = chat_resolve_conv(&ch)) != CTL_OK)
    goto out;
  if (ch.ding) {
    uint64_t to[CHAT_DING_TO_MAX], esc[32];
    char err[160];
    int nesc = ch.esc ? parse_esc(ch.esc, esc, 32, err, sizeof err) : 0;
    enum proto_urgency urg = strcmp(ch.ding, "critical") == 0
                                 ? PROTO_URG_CRITICAL
                             : strcmp(ch.ding, "urgent") == 0
                                 ? PROTO_URG_URGENT
                                 : PROTO_URG_NORMAL;

    if (nesc < 0) {
      rc = ctl_usage(ctl, "%s", err);
      goto out;
    }
    if (ch.n_ding_to && (rc = ding_recipients(&ch, to)) != CTL_OK)
      goto out;
    rc = hc_send_ding(ch.conn, ch.conv, text, len, urg, to, ch.n_ding_to, esc,
                      (size_t)nesc, &ch.oid, NULL);
  } else {
    rc = hc_send_text(ch.conn, ch.conv, text, len, &ch.oid, NULL);
  }
  if (rc != 0) {
    rc = ctl_error("cannot send: %s", hc_strerror(rc));
    goto out;
  }
  /* Until the ack: if the connection drops, the library reconnects and
   * sends the same message again (same cmid), which the server stores
   * once. */
  hc_run_until(ch.ctx, send_finished, &ch, ch.timeout_s * 1000);
  if (ch.sent_done) {
    chat_format_time(ch.ack_ts, when, sizeof when, true);
    printf("conv %" PRIu64 " seq %" PRIu64 " at %s%s\n", ch.ack_conv,
           ch.ack_seq, when, ch.ack_dup ? " (duplicate)" : "");
    rc = CTL_OK;
  } else if (ch.sent_failed) {
    rc = ctl_error("the server refused the message: %s",
                   *ch.err_msg ? ch.err_msg : hc_strerror(ch.sent_err));
  } else {
    rc = ctl_error("no acknowledgement within %ld s: the message may or may "
                   "not have been stored", ch.timeout_s);
  }
out:
  chat_close(&ch);
  free(text);
  return rc;
}

