/*
 * chat.c — heraldctl send and heraldctl tail share this: chat from a shell,
 * as a user, over the server's WebSocket (the client library), so that a
 * person can try a server before the terminal client exists.
 *
 * Unlike the admin commands these never touch the database: they log in
 * like any client (password from a file, stdin or a no-echo prompt, or a
 * session token from a file), so they work against any reachable heraldd.
 * A session opened with a password is logged out again at the end, so
 * that every run does not leave a live token behind.
 *
 * Both keep no state on disk: send waits for its ack (the library re-sends
 * the same message, same cmid, if the connection drops meanwhile), and
 * tail starts from the conversation's newest messages each time.
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
#include "duration.h"
#include "hc.h"
#include "hcrypto.h"
#include "chat_int.h"

/* ---- a synchronous request on top of the asynchronous API ---- */

static void call_cb(struct hc_conn *c, int err, const struct proto_frame *r,
                    void *arg)
{
  struct call *call = arg;

  (void)c;
  call->done = true;
  call->err = err;
  if (r && r->type == PROTO_T_ERROR)
    snprintf(call->msg, sizeof call->msg, "%.*s", (int)r->u.error.message.len,
             r->u.error.message.p);
  if (r && !err && proto_frame_copy(&call->reply, r) != 0)
    call->err = -ENOMEM;
}

static bool call_done(void *arg)
{
  return ((struct call *)arg)->done;
}

int chat_call(struct chat *ch, const struct proto_frame *req,
              struct call *out, const char *what)
{
  uint64_t id;
  int rc;

  memset(out, 0, sizeof *out);
  if ((rc = hc_request(ch->conn, req, call_cb, out, &id)) != 0)
    return ctl_error("%s: %s", what, hc_strerror(rc));
  rc = hc_run_until(ch->ctx, call_done, out, ch->timeout_s * 1000);
  if (rc != 0) {
    hc_request_forget(ch->conn, id);
    return ctl_error("%s: no answer from the server within %ld s", what,
                     ch->timeout_s);
  }
  if (out->err)
    return ctl_error("%s: %s", what, *out->msg ? out->msg
                                               : hc_strerror(out->err));
  return CTL_OK;
}

/* ---- connecting ---- */

static void hold_msg(struct chat *ch, const struct proto_msg *m)
{
  struct held *h;

  if (ch->nheld == ch->held_cap) {
    size_t cap = ch->held_cap ? ch->held_cap * 2 : 16;
    struct held *p = realloc(ch->held, cap * sizeof *p);

    if (!p)
      return;                /* it will show up in the history instead */
    ch->held = p;
    ch->held_cap = cap;
  }
  h = &ch->held[ch->nheld];
  if (!(h->body = malloc(m->body.len + 1)))
    return;
  memcpy(h->body, m->body.p, m->body.len);
  h->len = m->body.len;
  h->seq = m->seq;
  h->from = m->from;
  h->ts = m->ts;
  h->kind = m->kind;
  ch->nheld++;
}

static void on_event(struct hc_conn *c, const struct hc_event *ev, void *arg)
{
  struct chat *ch = arg;

  (void)c;
  switch (ev->type) {
  case HC_EV_STATE:
    if (ev->state == HC_STATE_OFFLINE && ch->tail_live &&
        !ch->reported_offline) {
      fprintf(stderr, "heraldctl: disconnected (%s); reconnecting\n",
              hc_strerror(ev->err));
      ch->reported_offline = true;
    } else if (ev->state == HC_STATE_ONLINE && ch->reported_offline) {
      fprintf(stderr, "heraldctl: reconnected\n");
      ch->reported_offline = false;
    }
    break;
  case HC_EV_OUTBOX_DONE:
    if (ev->oid == ch->oid && ev->frame->type == PROTO_T_ACK) {
      ch->sent_done = true;
      ch->ack_conv = ev->frame->u.ack.conv;
      ch->ack_seq = ev->frame->u.ack.seq;
      ch->ack_ts = ev->frame->u.ack.ts;
      ch->ack_dup = ev->dup;
    }
    break;
  case HC_EV_OUTBOX_FAILED:
    if (ev->oid == ch->oid) {
      ch->sent_failed = true;
      ch->sent_err = ev->err;
      if (ev->frame)
        snprintf(ch->err_msg, sizeof ch->err_msg, "%.*s",
                 (int)ev->frame->u.error.message.len,
                 ev->frame->u.error.message.p);
    }
    break;
  case HC_EV_SYNCED:
    ch->first_synced = true;
    break;
  case HC_EV_REMIND:
    /* The first sync replays every reminder ever made (this session keeps
     * no feed cursor on disk): only those after it are news. */
    if (ch->want_reminds && ch->first_synced)
      chat_print_remind(ch, ev->remind);
    break;
  case HC_EV_MSG:
    if (!ch->conv || ev->msg->conv != ch->conv || ch->printed_upto >= ev->msg->seq)
      break;
    if (!ch->tail_live) {
      hold_msg(ch, ev->msg);
      break;
    }
    chat_print_msg_line(ch, ev->msg->from, ev->msg->ts, ev->msg->kind,
                   ev->msg->body.p, ev->msg->body.len);
    ch->printed_upto = ev->msg->seq;
    break;
  default:
    break;
  }
}

static bool online_or_stopped(void *arg)
{
  struct chat *ch = arg;
  enum hc_state st = hc_conn_state(ch->conn);

  return ch->stop || st == HC_STATE_STOPPED ||
         (st == HC_STATE_ONLINE && hc_conn_synced(ch->conn));
}

static int read_token_file(const char *file, char *buf, size_t len)
{
  FILE *f = fopen(file, "re");
  size_t n;

  if (!f)
    return ctl_error("cannot open token file %s: %s", file, strerror(errno));
  n = fread(buf, 1, len - 1, f);
  fclose(f);
  buf[n] = '\0';
  while (n && isspace((unsigned char)buf[n - 1]))
    buf[--n] = '\0';
  if (!n)
    return ctl_error("token file %s is empty", file);
  return CTL_OK;
}

int chat_open(struct chat *ch)
{
  struct hc_conn_config cfg;
  char password[HCR_PASSWORD_MAX + 2], token[600];
  int rc;

  memset(&cfg, 0, sizeof cfg);
  cfg.url = ch->server;
  cfg.tls.ca_file = ch->ca_file;   /* NULL: HERALD_CA_FILE, else the system */
  cfg.client_name = "heraldctl";
  cfg.client_version = "0.1.0";
  /* No state on disk; start every conversation at its newest message
   * (tail fetches what it shows with history). */
  cfg.limit_backlog = true;
  cfg.backlog = 0;
  cfg.on_event = on_event;
  cfg.arg = ch;
  *password = *token = '\0';
  if (ch->token_file) {
    if ((rc = read_token_file(ch->token_file, token, sizeof token)) != CTL_OK)
      return rc;
    cfg.token = token;
  } else {
    if ((rc = ctl_read_password(ch->password_file, ch->login, false, password,
                                sizeof password)) != CTL_OK)
      return rc;
    cfg.login = ch->login;
    cfg.password = password;
    ch->used_password = true;
  }
  if ((rc = hc_ctx_new(NULL, &ch->ctx)) != 0) {
    rc = ctl_error("cannot start the client: %s", hc_strerror(rc));
    goto out;
  }
  rc = hc_conn_new(ch->ctx, &cfg, &ch->conn);
  if (rc == -EINVAL) {
    rc = ctl_usage(ch->ctl, "bad server URL \"%s\": use ws://HOST:PORT/ "
                   "or wss://HOST:PORT/", ch->server);
    goto out;
  }
  if ((rc == -ENOENT || rc == -EACCES) && strncmp(ch->server, "wss:", 4) == 0) {
    const char *ca = ch->ca_file ? ch->ca_file : getenv("HERALD_CA_FILE");

    rc = ctl_error("cannot read the CA file %s: %s", ca ? ca : "?",
                   hc_strerror(rc));
    goto out;
  }
  if (rc != 0) {
    rc = ctl_error("cannot start the client: %s", hc_strerror(rc));
    goto out;
  }
  hc_conn_start(ch->conn);
  rc = hc_run_until(ch->ctx, online_or_stopped, ch, ch->timeout_s * 1000);
  if (ch->stop) {
    rc = CTL_ERR;
  } else if (hc_conn_state(ch->conn) == HC_STATE_STOPPED) {
    int err = hc_conn_err(ch->conn);

    rc = err == PROTO_E_BAD_CREDENTIALS || err == PROTO_E_TOKEN_EXPIRED
             ? ctl_error("login as %s refused: %s", ch->login ? ch->login : "(token)",
                         hc_strerror(err))
             : ctl_error("%s: %s", ch->server, hc_strerror(err));
  } else if (rc != 0) {
    int err = hc_conn_err(ch->conn);

    if (err == -EKEYREJECTED)
      rc = ctl_error("cannot reach %s: the TLS handshake failed (is the "
                     "server's certificate signed by a CA you trust, see "
                     "--ca-file, and does it name the host in the URL?)",
                     ch->server);
    else
      rc = ctl_error("cannot reach %s within %ld s%s%s", ch->server,
                     ch->timeout_s, err ? ": " : "",
                     err ? hc_strerror(err) : "");
  } else {
    rc = CTL_OK;
  }
out:
  hcr_wipe(password, sizeof password);
  hcr_wipe(token, sizeof token);
  return rc;
}

static bool logged_out(void *arg)
{
  return ((struct call *)arg)->done;
}

void chat_close(struct chat *ch)
{
  if (ch->conn && ch->used_password &&
      hc_conn_state(ch->conn) == HC_STATE_ONLINE) {
    struct proto_frame f;
    struct call c;

    /* Revoke the token this run created; a short wait is enough. */
    memset(&c, 0, sizeof c);
    proto_frame_init(&f, PROTO_T_LOGOUT);
    if (hc_request(ch->conn, &f, call_cb, &c, NULL) == 0)
      hc_run_until(ch->ctx, logged_out, &c, 2000);
    proto_frame_cleanup(&c.reply);
  }
  hc_ctx_free(ch->ctx);        /* frees the connection too */
  ch->ctx = NULL;
  ch->conn = NULL;
  for (size_t i = 0; i < ch->nheld; i++)
    free(ch->held[i].body);
  free(ch->held);
  for (size_t i = 0; i < ch->nmembers; i++)
    free(ch->member_logins[i]);
  free(ch->member_logins);
  free(ch->member_uids);
}

/* ---- finding the conversation ---- */

static bool title_eq(const struct proto_str *t, const char *want)
{
  size_t n = strlen(want);

  return t->p && t->len == n && strncasecmp(t->p, want, n) == 0;
}

static bool parse_id(const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v;

  if (!*s || !isdigit((unsigned char)*s))
    return false;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || *end || v == 0 || v > PROTO_ID_MAX)
    return false;
  *out = v;
  return true;
}

/* The direct conversation with `to` (a login or a user id): an existing
 * one, found through the members of the caller's conversations, or a new
 * one (conv_create returns the existing conversation if there is one). */
static int resolve_direct(struct chat *ch, const struct proto_conv_list_result *l)
{
  uint64_t uid = 0;
  struct proto_frame f;
  struct call c;
  int rc;

  if (!parse_id(ch->to, &uid)) {
    /* There is no user directory in the protocol: look for the login
     * among the members of the caller's conversations, direct ones
     * first. */
    for (int pass = 0; pass < 2 && !uid; pass++) {
      for (size_t i = 0; i < l->nconvs && !uid; i++) {
        const struct proto_conv_info *ci = &l->convs[i];

        if ((pass == 0) != (ci->type == PROTO_CONV_DIRECT))
          continue;
        proto_frame_init(&f, PROTO_T_CONV_MEMBERS);
        f.u.conv_members.conv = ci->conv;
        if ((rc = chat_call(ch, &f, &c, "conv_members")) != CTL_OK)
          return rc;
        for (size_t j = 0; j < c.reply.u.conv_members_result.nmembers; j++) {
          const struct proto_member *m = &c.reply.u.conv_members_result.members[j];

          if (m->uid != hc_conn_info(ch->conn)->uid &&
              m->login.len == strlen(ch->to) &&
              strncasecmp(m->login.p, ch->to, m->login.len) == 0) {
            uid = m->uid;
            if (ci->type == PROTO_CONV_DIRECT)
              ch->conv = ci->conv;
          }
        }
        proto_frame_cleanup(&c.reply);
      }
    }
    if (!uid)
      return ctl_error("no user \"%s\" among the members of your "
                       "conversations (give a user id with --to ID)", ch->to);
    if (ch->conv)
      return CTL_OK;
  }
  proto_frame_init(&f, PROTO_T_CONV_CREATE);
  f.u.conv_create.type = PROTO_CONV_DIRECT;
  f.u.conv_create.members = &uid;
  f.u.conv_create.nmembers = 1;
  if ((rc = chat_call(ch, &f, &c, "conv_create")) != CTL_OK)
    return rc;
  ch->conv = c.reply.u.result.conv;
  proto_frame_cleanup(&c.reply);
  if (!ch->conv)
    return ctl_error("the server created no conversation");
  return CTL_OK;
}

int chat_resolve_conv(struct chat *ch)
{
  struct proto_frame f;
  struct call c;
  int rc;

  if (ch->conv)
    return CTL_OK;
  proto_frame_init(&f, PROTO_T_CONV_LIST);
  if ((rc = chat_call(ch, &f, &c, "conv_list")) != CTL_OK)
    return rc;
  if (ch->group) {
    const struct proto_conv_list_result *l = &c.reply.u.conv_list_result;

    for (size_t i = 0; i < l->nconvs; i++)
      if (l->convs[i].type == PROTO_CONV_GROUP &&
          title_eq(&l->convs[i].title, ch->group))
        ch->conv = l->convs[i].conv;
    rc = ch->conv ? CTL_OK
                  : ctl_error("you are not a member of a group \"%s\"",
                              ch->group);
  } else {
    rc = resolve_direct(ch, &c.reply.u.conv_list_result);
  }
  proto_frame_cleanup(&c.reply);
  return rc;
}

/* ---- options ---- */


int chat_parse_common(struct chat *ch, int argc, char **argv,
                      enum chat_cmd cmd)
{
  bool is_send = cmd == CHAT_SEND, is_report = cmd == CHAT_REPORT;
  static const struct option opts[] = {
    {"server", required_argument, NULL, OPT_SERVER},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"login", required_argument, NULL, OPT_LOGIN},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"conv", required_argument, NULL, OPT_CONV},
    {"group", required_argument, NULL, OPT_GROUP},
    {"to", required_argument, NULL, OPT_TO},
    {"last", required_argument, NULL, OPT_LAST},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"older-than", required_argument, NULL, OPT_OLDER},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"ding", required_argument, NULL, OPT_DING},
    {"ding-to", required_argument, NULL, OPT_DING_TO},
    {"esc", required_argument, NULL, OPT_ESC},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  struct ctl *ctl = ch->ctl;
  const char *env = getenv("HERALD_SERVER");
  int opt, targets = 0;
  char *end;

  ch->server = env && *env ? env : DEFAULT_SERVER;
  ch->timeout_s = DEFAULT_TIMEOUT_S;
  ch->older_s = 7200;
  ch->format = "table";
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_SERVER: ch->server = optarg; break;
    case OPT_CA_FILE: ch->ca_file = optarg; break;
    case OPT_LOGIN: ch->login = optarg; break;
    case OPT_PASSWORD_FILE: ch->password_file = optarg; break;
    case OPT_TOKEN_FILE: ch->token_file = optarg; break;
    case OPT_CONV:
      if (!parse_id(optarg, &ch->conv))
        return ctl_usage(ctl, "--conv needs a conversation id, not \"%s\"",
                         optarg);
      targets++;
      break;
    case OPT_GROUP: ch->group = optarg; targets++; break;
    case OPT_TO:
      if (!is_send)
        return ctl_usage(ctl, "unknown option --to");
      ch->to = optarg;
      targets++;
      break;
    case OPT_LAST: {
      long v = strtol(optarg, &end, 10);

      if (cmd != CHAT_TAIL || *end || end == optarg || v < 0 || v > 100000)
        return cmd != CHAT_TAIL ? ctl_usage(ctl, "unknown option --last")
                                : ctl_usage(ctl, "--last needs a number "
                                                 "0..100000");
      ch->last = v;
      break;
    }
    case OPT_TIMEOUT:
      ch->timeout_s = strtol(optarg, &end, 10);
      if (*end || end == optarg || ch->timeout_s < 1 || ch->timeout_s > 86400)
        return ctl_usage(ctl, "--timeout needs seconds, 1..86400");
      break;
    case OPT_OLDER: {
      int64_t older;

      if (!is_report)
        return ctl_usage(ctl, "unknown option --older-than");
      if (proto_duration_parse(optarg, strlen(optarg), &older) < 0 ||
          older < 60 || older > 31536000)
        return ctl_usage(ctl, "--older-than needs a duration from 1m to 365d "
                              "(e.g. 2h, 90m), not \"%s\"", optarg);
      ch->older_s = (long)older;
      break;
    }
    case OPT_FORMAT:
      if (!is_report)
        return ctl_usage(ctl, "unknown option --format");
      if (strcmp(optarg, "table") && strcmp(optarg, "csv") &&
          strcmp(optarg, "json"))
        return ctl_usage(ctl, "--format is table, csv or json");
      ch->format = optarg;
      break;
    case OPT_DING:
      if (!is_send)
        return ctl_usage(ctl, "unknown option --ding");
      if (strcmp(optarg, "normal") && strcmp(optarg, "urgent") &&
          strcmp(optarg, "critical"))
        return ctl_usage(ctl, "--ding is normal, urgent or critical");
      ch->ding = optarg;
      break;
    case OPT_DING_TO:
      if (!is_send)
        return ctl_usage(ctl, "unknown option --ding-to");
      if (ch->n_ding_to == CHAT_DING_TO_MAX)
        return ctl_usage(ctl, "at most %d --ding-to", CHAT_DING_TO_MAX);
      ch->ding_to[ch->n_ding_to++] = optarg;
      break;
    case OPT_ESC:
      if (!is_send)
        return ctl_usage(ctl, "unknown option --esc");
      ch->esc = optarg;
      break;
    case 'h':
      fputs(ctl->help, stdout);
      return CTL_OK;
    default: {
      int rc = ctl_common_option(ctl, opt, argv);

      if (rc >= 0)
        return rc;
    }
    }
  }
  if (is_report ? targets > 1 : targets != 1)
    return ctl_usage(ctl, is_send     ? "give one of --conv, --group or --to"
                          : is_report ? "give at most one of --conv or --group"
                                      : "give one of --conv or --group");
  if (!ch->login && !ch->token_file)
    return ctl_usage(ctl, "--login LOGIN is required (or --token-file F)");
  if (ch->token_file && ch->password_file)
    return ctl_usage(ctl, "--password-file and --token-file exclude each other");
  if (!ch->ding && (ch->n_ding_to || ch->esc))
    return ctl_usage(ctl, "--ding-to and --esc need --ding URGENCY");
  return -1;
}

void chat_format_time(uint64_t ms, char *out, size_t len, bool full)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;

  localtime_r(&t, &tm);
  strftime(out, len, full ? "%Y-%m-%dT%H:%M:%S%z" : "%H:%M:%S", &tm);
}

