/*
 * cmd_report.c — heraldctl report unread: the managers' "unread over N"
 * report, asked of the server as the logged-in manager or admin (the
 * server decides the scope and audits the run), printed as a table, CSV
 * or JSON.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_int.h"
#include "report_format.h"

static const char REPORT_HELP[] =
  "Usage: heraldctl report unread --login LOGIN [options]\n"
  "\n"
  "Logs in as LOGIN (a manager or an admin) and prints every tracked\n"
  "message older than the threshold that someone in your scope has not\n"
  "read — your whole team and the conversations you own; an admin sees\n"
  "everyone — with totals per recipient and per department. Every run is\n"
  "recorded in the audit log.\n"
  "\n"
  "Options:\n"
  "  --server URL          ws://HOST:PORT/ or wss://HOST:PORT/ (default: env\n"
  "                        HERALD_SERVER, else " DEFAULT_SERVER ")\n"
  "  --ca-file F           for wss://, trust the CAs in PEM file F (default:\n"
  "                        env HERALD_CA_FILE, else the system's CAs)\n"
  "  --login LOGIN         the manager or admin to log in as\n"
  "  --password-file F     read the password from file F (- for stdin);\n"
  "                        default: ask on the terminal\n"
  "  --token-file F        log in with the session token in file F instead\n"
  "  --older-than D        unread for longer than D: 90m, 2h, 1d or seconds\n"
  "                        (default 2h)\n"
  "  --conv ID | --group TITLE   only this conversation\n"
  "  --format F            table (default), csv or json\n"
  "  --timeout SECONDS     give up after this long (default 15)\n"
  "  -h, --help            this help\n"
  "\n"
  "Exit status: 0 printed, 1 error (e.g. not a manager), 2 usage.\n";

static const char *name_of(const struct proto_report_result *r, uint64_t uid,
                           char *buf, size_t len)
{
  for (size_t i = 0; i < r->nusers; i++)
    if (r->users[i].uid == uid) {
      snprintf(buf, len, "%.*s", (int)r->users[i].name.len,
               r->users[i].name.p);
      return buf;
    }
  snprintf(buf, len, "#%" PRIu64, uid);
  return buf;
}

/* Prints the report in the chosen format; CTL_OK or CTL_ERR (printed). */
static int print_report(struct chat *ch, const struct proto_report_result *r)
{
  static const char *const head[] = {"RECIPIENT", "CONV", "SEQ", "SENDER",
                                     "SENT", "UNREAD FOR", "DING"};
  char who[256], from[256], sent[64], conv[32], seq[32], unread[32];

  /* JSON and CSV are the shared renderer's, byte for byte what the HTTP
   * API serves (report_format.h). */
  if (strcmp(ch->format, "json") == 0 || strcmp(ch->format, "csv") == 0) {
    char *out;
    size_t len;
    int rc = strcmp(ch->format, "json") == 0
               ? proto_report_json(r, &out, &len)
               : proto_report_csv(r, &out, &len);

    if (rc != 0)
      return ctl_error("cannot print the report: %s",
                       proto_strerror(rc));
    rc = fwrite(out, 1, len, stdout) == len ? CTL_OK : CTL_ERR;
    free(out);
    return rc;
  }
  {
    struct ctl_table *t = ctl_table_new(7, head);

    for (size_t i = 0; i < r->nrows; i++) {
      const struct proto_report_row *w = &r->rows[i];
      const char *cells[7];

      chat_format_time(w->ts, sent, sizeof sent, true);
      snprintf(conv, sizeof conv, "%" PRIu64, w->conv);
      snprintf(seq, sizeof seq, "%" PRIu64, w->seq);
      snprintf(unread, sizeof unread, "%" PRIu64 "h%02" PRIu64 "m",
               w->unread_s / 3600, w->unread_s % 3600 / 60);
      cells[0] = name_of(r, w->uid, who, sizeof who);
      cells[1] = conv;
      cells[2] = seq;
      cells[3] = name_of(r, w->from, from, sizeof from);
      cells[4] = sent;
      cells[5] = unread;
      cells[6] = w->ding ? (w->acked ? "acked" : "DING") : "";
      ctl_table_add(t, cells);
    }
    ctl_table_print(t, stdout);
    printf("\nper recipient:\n");
    for (size_t i = 0; i < r->nusers; i++)
      printf("  %-24.*s %-16.*s %" PRIu64 " unread, %" PRIu64 " DING\n",
             (int)r->users[i].name.len, r->users[i].name.p,
             (int)r->users[i].dept.len, r->users[i].dept.p ? r->users[i].dept.p
                                                           : "",
             r->users[i].unread, r->users[i].dings);
    printf("per department:\n");
    for (size_t i = 0; i < r->ndepts; i++)
      printf("  %-24.*s %" PRIu64 " unread, %" PRIu64 " DING\n",
             (int)r->depts[i].dept.len,
             r->depts[i].dept.len ? r->depts[i].dept.p : "(none)",
             r->depts[i].unread, r->depts[i].dings);
    if (r->truncated)
      printf("(rows truncated; totals are complete)\n");
    ctl_table_free(t);
  }
  return CTL_OK;
}

int ctl_cmd_report_unread(struct ctl *ctl, int argc, char **argv)
{
  struct chat ch;
  struct proto_frame f;
  struct call c;
  int rc;

  memset(&ch, 0, sizeof ch);
  ch.ctl = ctl;
  ctl->help = REPORT_HELP;
  if ((rc = chat_parse_common(&ch, argc, argv, CHAT_REPORT)) >= 0)
    return rc;
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if ((rc = chat_open(&ch)) != CTL_OK)
    goto out;
  if ((ch.conv || ch.group) && (rc = chat_resolve_conv(&ch)) != CTL_OK)
    goto out;
  proto_frame_init(&f, PROTO_T_REPORT_UNREAD);
  f.u.report_unread.older = (uint64_t)ch.older_s;
  f.u.report_unread.conv = ch.conv;
  if ((rc = chat_call(&ch, &f, &c, "report")) == CTL_OK) {
    rc = print_report(&ch, &c.reply.u.report_result);
    proto_frame_cleanup(&c.reply);
  }
out:
  chat_close(&ch);
  return rc;
}
