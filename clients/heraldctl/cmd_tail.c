/*
 * cmd_tail.c — heraldctl tail: a conversation's recent history, then its
 * live messages until interrupted (see chat.c for the shared session
 * handling).
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

static const char TAIL_HELP[] =
  "Usage: heraldctl tail --login LOGIN (--conv ID | --group TITLE) [options]\n"
  "\n"
  "Logs in to a Herald server as LOGIN, prints the last N messages of a\n"
  "conversation, then follows it, one line per message:\n"
  "    [HH:MM:SS] sender: text\n"
  "and one line per reminder of messages you left unread (groups with\n"
  "reminders switched on; in this or another conversation):\n"
  "    [HH:MM:SS] * reminder: 3 unread messages since HH:MM (seq 4-9)\n"
  "until interrupted (SIGINT or SIGTERM: exit status 0). Reconnects by\n"
  "itself when the connection drops, and shows what it missed meanwhile.\n"
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
  "  --last N              messages of history to print first (default 10)\n"
  "  --timeout SECONDS     give up when the first connection takes longer\n"
  "                        (default 15)\n"
  "  -h, --help            this help\n"
  "\n"
  "Exit status: 0 interrupted, 1 error, 2 usage.\n";


/* ---- tail ---- */

static const char *sender_login(struct chat *ch, uint64_t uid)
{
  for (size_t i = 0; i < ch->nmembers; i++)
    if (ch->member_uids[i] == uid && ch->member_logins[i])
      return ch->member_logins[i];
  return NULL;
}

static void members_cb(struct hc_conn *c, int err, const struct proto_frame *r,
                       void *arg)
{
  struct chat *ch = arg;
  const struct proto_conv_members_result *m;
  uint64_t *uids;
  char **logins;

  (void)c;
  ch->members_req = 0;
  if (err)
    return;
  m = &r->u.conv_members_result;
  uids = calloc(m->nmembers + 1, sizeof *uids);
  logins = calloc(m->nmembers + 1, sizeof *logins);
  if (!uids || !logins) {
    free(uids);
    free(logins);
    return;
  }
  for (size_t i = 0; i < m->nmembers; i++) {
    uids[i] = m->members[i].uid;
    logins[i] = strndup(m->members[i].login.p, m->members[i].login.len);
  }
  for (size_t i = 0; i < ch->nmembers; i++)
    free(ch->member_logins[i]);
  free(ch->member_logins);
  free(ch->member_uids);
  ch->member_uids = uids;
  ch->member_logins = logins;
  ch->nmembers = m->nmembers;
}

static void refresh_members(struct chat *ch)
{
  struct proto_frame f;

  if (ch->members_req)
    return;
  proto_frame_init(&f, PROTO_T_CONV_MEMBERS);
  f.u.conv_members.conv = ch->conv;
  if (hc_request(ch->conn, &f, members_cb, ch, &ch->members_req) != 0)
    ch->members_req = 0;
}

/* Prints one message as "[HH:MM:SS] sender: text" on one line: control
 * characters (newlines, escape sequences) become spaces, so that a message
 * cannot break the line or drive the terminal. */
void chat_print_msg_line(struct chat *ch, uint64_t from, uint64_t ts,
                           enum proto_kind kind, const char *body, size_t len)
{
  const char *who = sender_login(ch, from);
  char when[16];

  chat_format_time(ts, when, sizeof when, false);
  if (who)
    printf("[%s] %s: ", when, who);
  else {
    printf("[%s] user#%" PRIu64 ": ", when, from);
    refresh_members(ch);       /* someone who joined since */
  }
  if (kind == PROTO_KIND_DING)
    fputs("[DING] ", stdout);
  else if (kind == PROTO_KIND_CARD)
    fputs("[card] ", stdout);
  for (size_t i = 0; i < len; i++) {
    unsigned char ch8 = (unsigned char)body[i];

    /* C0 controls and DEL; also C1 controls (U+0080..U+009F, encoded as
     * 0xC2 0x80..0x9F), which some terminals obey. */
    if (ch8 < 0x20 || ch8 == 0x7f) {
      putchar(' ');
    } else if (ch8 == 0xc2 && i + 1 < len &&
               (unsigned char)body[i + 1] >= 0x80 &&
               (unsigned char)body[i + 1] <= 0x9f) {
      putchar(' ');
      i++;
    } else {
      putchar(ch8);
    }
  }
  putchar('\n');
  fflush(stdout);
}

void chat_print_remind(struct chat *ch, const struct proto_remind *r)
{
  char now[16], since[16];

  chat_format_time((uint64_t)time(NULL) * 1000, now, sizeof now, false);
  chat_format_time(r->since, since, sizeof since, false);
  since[5] = '\0';                      /* HH:MM */
  printf("[%s] * reminder: ", now);
  if (r->conv != ch->conv)
    printf("conversation %" PRIu64 ": ", r->conv);
  printf("%" PRIu64 " unread message%s since %s (seq %" PRIu64,
         r->n, r->n == 1 ? "" : "s", since, r->seq);
  if (r->upto != r->seq)
    printf("-%" PRIu64, r->upto);
  printf(")\n");
  fflush(stdout);
}

static void on_signal(uv_signal_t *h, int signum)
{
  struct chat *ch = h->data;

  (void)signum;
  ch->stop = 1;
}

static bool stopped(void *arg)
{
  struct chat *ch = arg;

  return ch->stop || hc_conn_state(ch->conn) == HC_STATE_STOPPED;
}

/* Prints the last `n` messages, older pages first. */
static int print_history(struct chat *ch, size_t n)
{
  struct proto_frame f;
  struct call *pages = NULL;
  size_t npages = 0, got = 0;
  uint64_t before = 0;
  int rc = CTL_OK;

  while (got < n) {
    struct call *p = realloc(pages, (npages + 1) * sizeof *p);
    size_t want = n - got > PROTO_PAGE_MAX ? PROTO_PAGE_MAX : n - got;
    const struct proto_page *pg;

    if (!p) {
      rc = ctl_error("out of memory");
      break;
    }
    pages = p;
    proto_frame_init(&f, PROTO_T_HISTORY);
    f.u.history.conv = ch->conv;
    f.u.history.before = before;
    f.u.history.limit = want;
    if ((rc = chat_call(ch, &f, &pages[npages], "history")) != CTL_OK)
      break;
    pg = &pages[npages++].reply.u.page;
    got += pg->nmsgs;
    if (!pg->more || !pg->nmsgs)
      break;
    before = pg->msgs[0].seq;
  }
  /* The pages came newest first; each is in ascending order. Print the
   * last n, oldest first. */
  for (size_t p = npages; p-- > 0;) {
    const struct proto_page *pg = &pages[p].reply.u.page;
    size_t skip = 0;

    if (rc == CTL_OK && got > n) {
      skip = got - n < pg->nmsgs ? got - n : pg->nmsgs;
      got -= skip;
    }
    for (size_t i = skip; rc == CTL_OK && i < pg->nmsgs; i++) {
      const struct proto_msg *m = &pg->msgs[i];

      chat_print_msg_line(ch, m->from, m->ts, m->kind, m->body.p, m->body.len);
      if (m->seq > ch->printed_upto)
        ch->printed_upto = m->seq;
    }
  }
  for (size_t p = 0; p < npages; p++)
    proto_frame_cleanup(&pages[p].reply);
  free(pages);
  return rc;
}

int ctl_cmd_tail(struct ctl *ctl, int argc, char **argv)
{
  struct chat ch;
  uv_signal_t sig_int, sig_term;
  struct proto_frame f;
  struct call c;
  size_t last = 10;
  bool sigs = false;
  int rc;

  memset(&ch, 0, sizeof ch);
  ch.ctl = ctl;
  ch.last = -1;
  ctl->help = TAIL_HELP;
  if ((rc = chat_parse_common(&ch, argc, argv, CHAT_TAIL)) >= 0)
    return rc;
  if (ch.last >= 0)
    last = (size_t)ch.last;
  ch.want_reminds = true;
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if ((rc = chat_open(&ch)) != CTL_OK || (rc = chat_resolve_conv(&ch)) != CTL_OK)
    goto out;
  uv_signal_init(hc_ctx_loop(ch.ctx), &sig_int);
  uv_signal_init(hc_ctx_loop(ch.ctx), &sig_term);
  sig_int.data = sig_term.data = &ch;
  uv_signal_start(&sig_int, on_signal, SIGINT);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  sigs = true;

  proto_frame_init(&f, PROTO_T_CONV_MEMBERS);
  f.u.conv_members.conv = ch.conv;
  if ((rc = chat_call(&ch, &f, &c, "conv_members")) != CTL_OK)
    goto out;
  members_cb(ch.conn, 0, &c.reply, &ch);
  proto_frame_cleanup(&c.reply);
  if (last && (rc = print_history(&ch, last)) != CTL_OK)
    goto out;
  /* Messages that arrived while the history was on its way. */
  for (size_t i = 0; i < ch.nheld; i++) {
    struct held *h = &ch.held[i];

    if (h->seq > ch.printed_upto) {
      chat_print_msg_line(&ch, h->from, h->ts, h->kind, h->body, h->len);
      ch.printed_upto = h->seq;
    }
  }
  ch.tail_live = true;
  hc_run_until(ch.ctx, stopped, &ch, -1);
  if (ch.stop)
    rc = CTL_OK;
  else
    rc = ctl_error("the server ended the session: %s",
                   hc_strerror(hc_conn_err(ch.conn)));
out:
  if (sigs) {
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
  }
  chat_close(&ch);
  return rc;
}
