/*
 * cmd_card.c — heraldctl card: post a card, run an action or an edit on
 * one as a user over the server (like heraldctl send: the server applies
 * the rules and tells the members), and show a card's state and events
 * from the database.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "chat_int.h"
#include "ctl_int.h"
#include "hc.h"
#include "hcrypto.h"

static const char CARD_HELP[] =
  "Usage: heraldctl card post --as LOGIN (--group TITLE | --conv ID)\n"
  "                           --type task|okr|interview --json FILE|-\n"
  "       heraldctl card act  --as LOGIN CARD ACTION [--args JSON]\n"
  "                           [--base VER]\n"
  "       heraldctl card edit --as LOGIN CARD PATH VALUE --base VER\n"
  "       heraldctl card show CARD\n"
  "\n"
  "post, act and edit log in to a Herald server as LOGIN and ask it to\n"
  "post a card (its JSON from FILE, - for stdin), run an action on card\n"
  "CARD (e.g. accept, set_status, comment, checkin, submit, amend; ARGS a\n"
  "JSON object such as '{\"status\":\"done\"}') or set the field at JSON\n"
  "pointer PATH (e.g. /sections/notes) to VALUE (JSON text), based on\n"
  "version VER. They print\n"
  "    card ID ver VER\n"
  "(post: also conv ID seq SEQ). The server checks the card's schema and\n"
  "who may do what, and refuses with the failing field named.\n"
  "show reads card CARD from the database and prints its state and every\n"
  "event of its hash chain.\n"
  "\n"
  "Options:\n"
  "  --server URL          ws://HOST:PORT/ or wss://HOST:PORT/ (default: env\n"
  "                        HERALD_SERVER, else " DEFAULT_SERVER ")\n"
  "  --ca-file F           for wss://, trust the CAs in PEM file F (default:\n"
  "                        env HERALD_CA_FILE, else the system's CAs)\n"
  "  --as LOGIN            the user who acts\n"
  "  --password-file F     read the password from file F (- for stdin);\n"
  "                        default: ask on the terminal\n"
  "  --token-file F        log in with the session token in file F instead\n"
  "  --group TITLE         post: a group you are a member of, by title\n"
  "  --conv ID             post: the conversation, by id\n"
  "  --type TYPE           post: task, okr or interview (the JSON's \"type\"\n"
  "                        is set to it, and must agree when present)\n"
  "  --json FILE           post: the card's JSON (- for stdin)\n"
  "  --args JSON           act: the action's arguments\n"
  "  --base VER            act: refuse unless the card is at VER; edit: the\n"
  "                        version the edit is based on (required)\n"
  "  --timeout SECONDS     give up after this long (default 15)\n"
  "  -h, --help            this help\n"
  "\n"
  "Exit status: 0 done, 1 error (refused, or not known to be done), 2 usage.\n";

enum { O_SERVER = 1, O_AS, O_PWFILE, O_TOKFILE, O_GROUP, O_CONV, O_TYPE,
       O_JSON, O_ARGS, O_BASE, O_TIMEOUT, O_CAFILE };

struct card_opts {
  const char *type, *json, *args;
  uint64_t base;
};

static bool parse_u64(const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v;

  if (!*s || *s == '-')
    return false;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || *end || v == 0 || v > INT64_MAX)
    return false;
  *out = (uint64_t)v;
  return true;
}

/* Options of every card subcommand; returns -1 to go on, or an exit
 * status. */
static int parse(struct ctl *ctl, struct chat *ch, struct card_opts *o,
                 int argc, char **argv)
{
  static const struct option opts[] = {
    {"server", required_argument, NULL, O_SERVER},
    {"ca-file", required_argument, NULL, O_CAFILE},
    {"as", required_argument, NULL, O_AS},
    {"password-file", required_argument, NULL, O_PWFILE},
    {"token-file", required_argument, NULL, O_TOKFILE},
    {"group", required_argument, NULL, O_GROUP},
    {"conv", required_argument, NULL, O_CONV},
    {"type", required_argument, NULL, O_TYPE},
    {"json", required_argument, NULL, O_JSON},
    {"args", required_argument, NULL, O_ARGS},
    {"base", required_argument, NULL, O_BASE},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    CTL_COMMON_OPTIONS,
    {NULL, 0, NULL, 0}};
  const char *env = getenv("HERALD_SERVER");
  char *end;
  int opt;

  ch->ctl = ctl;
  ch->server = env && *env ? env : DEFAULT_SERVER;
  ch->timeout_s = DEFAULT_TIMEOUT_S;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case O_SERVER: ch->server = optarg; break;
    case O_CAFILE: ch->ca_file = optarg; break;
    case O_AS: ch->login = optarg; break;
    case O_PWFILE: ch->password_file = optarg; break;
    case O_TOKFILE: ch->token_file = optarg; break;
    case O_GROUP: ch->group = optarg; break;
    case O_CONV:
      if (!parse_u64(optarg, &ch->conv))
        return ctl_usage(ctl, "--conv needs a conversation id, not \"%s\"",
                         optarg);
      break;
    case O_TYPE:
      if (strcmp(optarg, "task") && strcmp(optarg, "okr") &&
          strcmp(optarg, "interview"))
        return ctl_usage(ctl, "--type is task, okr or interview");
      o->type = optarg;
      break;
    case O_JSON: o->json = optarg; break;
    case O_ARGS: o->args = optarg; break;
    case O_BASE:
      if (!parse_u64(optarg, &o->base))
        return ctl_usage(ctl, "--base needs a card version, not \"%s\"",
                         optarg);
      break;
    case O_TIMEOUT:
      ch->timeout_s = strtol(optarg, &end, 10);
      if (*end || end == optarg || ch->timeout_s < 1 || ch->timeout_s > 86400)
        return ctl_usage(ctl, "--timeout needs seconds, 1..86400");
      break;
    default: {
      int rc = ctl_common_option(ctl, opt, argv);
      if (rc >= 0)
        return rc;
    }
    }
  }
  return -1;
}

static int need_login(struct ctl *ctl, const struct chat *ch)
{
  if (!ch->login && !ch->token_file)
    return ctl_usage(ctl, "--as LOGIN is required (or --token-file F)");
  if (ch->token_file && ch->password_file)
    return ctl_usage(ctl, "--password-file and --token-file exclude each other");
  return -1;
}

/* The whole of FILE ("-": stdin), at most 16 MiB; NULL with a message. */
static char *read_all(const char *file)
{
  FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
  char *s = NULL, buf[4096];
  size_t n = 0, got;

  if (!f) {
    ctl_error("cannot open %s: %s", file, strerror(errno));
    return NULL;
  }
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
    char *p;
    if (n + got > 16u << 20 || !(p = realloc(s, n + got + 1))) {
      free(s);
      s = NULL;
      ctl_error("%s is too large", file);
      break;
    }
    s = p;
    memcpy(s + n, buf, got);
    n += got;
    s[n] = '\0';
  }
  if (f != stdin)
    fclose(f);
  if (s == NULL && n == 0)
    s = strdup("");
  return s;
}

static void new_cmid(char out[33])
{
  uint8_t r[16];
  static const char d[] = "0123456789abcdef";

  hcr_random(r, sizeof r);
  for (int i = 0; i < 16; i++) {
    out[2 * i] = d[r[i] >> 4];
    out[2 * i + 1] = d[r[i] & 15];
  }
  out[32] = '\0';
}

static int card_post(struct ctl *ctl, int argc, char **argv)
{
  struct chat ch;
  struct card_opts o = {0};
  struct proto_frame f;
  struct call c;
  json_t *j = NULL, *t;
  json_error_t jerr;
  char *text = NULL, *body = NULL, cmid[33];
  int rc;

  memset(&ch, 0, sizeof ch);
  if ((rc = parse(ctl, &ch, &o, argc, argv)) >= 0 ||
      (rc = need_login(ctl, &ch)) >= 0)
    return rc;
  if (optind != argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if (!!ch.group + !!ch.conv != 1)
    return ctl_usage(ctl, "give one of --group or --conv");
  if (!o.type || !o.json)
    return ctl_usage(ctl, "--type and --json are required");
  if (!(text = read_all(o.json)))
    return CTL_ERR;
  if (!(j = json_loads(text, 0, &jerr)) || !json_is_object(j)) {
    rc = ctl_error("%s: not a JSON object (%s, line %d)", o.json,
                   j ? "another value" : jerr.text, jerr.line);
    goto out;
  }
  t = json_object_get(j, "type");
  if (t && (!json_is_string(t) || strcmp(json_string_value(t), o.type))) {
    rc = ctl_usage(ctl, "the JSON's \"type\" disagrees with --type %s",
                   o.type);
    goto out;
  }
  if (!t && json_object_set_new(j, "type", json_string(o.type)) != 0) {
    rc = ctl_error("out of memory");
    goto out;
  }
  if (!(body = json_dumps(j, JSON_COMPACT))) {
    rc = ctl_error("out of memory");
    goto out;
  }
  if ((rc = chat_open(&ch)) != CTL_OK ||
      (rc = chat_resolve_conv(&ch)) != CTL_OK)
    goto out;
  new_cmid(cmid);
  proto_frame_init(&f, PROTO_T_SEND);
  f.u.send.cmid = (struct proto_str){cmid, strlen(cmid)};
  f.u.send.conv = ch.conv;
  f.u.send.kind = PROTO_KIND_CARD;
  f.u.send.body = (struct proto_str){body, strlen(body)};
  if ((rc = chat_call(&ch, &f, &c, "card post")) == CTL_OK)
    printf("card %" PRIu64 " ver 1 conv %" PRIu64 " seq %" PRIu64 "\n",
           c.reply.u.ack.card, c.reply.u.ack.conv, c.reply.u.ack.seq);
  proto_frame_cleanup(&c.reply);
out:
  chat_close(&ch);
  json_decref(j);
  free(text);
  free(body);
  return rc;
}

static int card_change(struct ctl *ctl, int argc, char **argv, bool is_edit)
{
  struct chat ch;
  struct card_opts o = {0};
  struct proto_frame f;
  struct call c;
  uint64_t card;
  char cmid[33];
  int rc, want = is_edit ? 3 : 2;

  memset(&ch, 0, sizeof ch);
  if ((rc = parse(ctl, &ch, &o, argc, argv)) >= 0 ||
      (rc = need_login(ctl, &ch)) >= 0)
    return rc;
  if (argc - optind != want)
    return ctl_usage(ctl, is_edit ? "expected CARD PATH VALUE"
                                  : "expected CARD ACTION");
  if (!parse_u64(argv[optind], &card))
    return ctl_usage(ctl, "CARD must be a card id, not \"%s\"", argv[optind]);
  if (is_edit && !o.base)
    return ctl_usage(ctl, "--base VER is required for an edit");
  if (is_edit && o.args)
    return ctl_usage(ctl, "--args is for card act");
  if (ch.group || ch.conv || o.type || o.json)
    return ctl_usage(ctl, "--group, --conv, --type and --json are for card "
                          "post");
  if ((rc = chat_open(&ch)) != CTL_OK)
    goto out;
  if (is_edit) {
    proto_frame_init(&f, PROTO_T_CARD_EDIT);
    f.u.card_edit.card = card;
    f.u.card_edit.path = (struct proto_str){argv[optind + 1],
                                            strlen(argv[optind + 1])};
    f.u.card_edit.value = (struct proto_str){argv[optind + 2],
                                             strlen(argv[optind + 2])};
    f.u.card_edit.base = o.base;
  } else {
    new_cmid(cmid);
    proto_frame_init(&f, PROTO_T_CARD_ACTION);
    f.u.card_action.card = card;
    f.u.card_action.action = (struct proto_str){argv[optind + 1],
                                                strlen(argv[optind + 1])};
    if (o.args)
      f.u.card_action.args = (struct proto_str){o.args, strlen(o.args)};
    f.u.card_action.cmid = (struct proto_str){cmid, strlen(cmid)};
    f.u.card_action.base = o.base;
  }
  if ((rc = chat_call(&ch, &f, &c, is_edit ? "card edit" : "card act")) ==
      CTL_OK)
    printf("card %" PRIu64 " ver %" PRIu64 "\n", c.reply.u.result.card,
           c.reply.u.result.ver);
  proto_frame_cleanup(&c.reply);
out:
  chat_close(&ch);
  return rc;
}

static void print_time(int64_t ms)
{
  char buf[64];

  chat_format_time((uint64_t)ms, buf, sizeof buf, true);
  fputs(buf, stdout);
}

static int card_show(struct ctl *ctl, int argc, char **argv)
{
  struct chat ch;
  struct card_opts o = {0};
  struct store_card k;
  struct store_card_event *ev = NULL;
  size_t n = 0;
  uint64_t id;
  int rc;

  memset(&ch, 0, sizeof ch);
  if ((rc = parse(ctl, &ch, &o, argc, argv)) >= 0)
    return rc;
  if (argc - optind != 1 || !parse_u64(argv[optind], &id))
    return ctl_usage(ctl, "expected CARD (a card id)");
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_card_get(ctl->conn, 0, 0, (int64_t)id, &k) != STORE_OK)
    return ctl_store_error(ctl);
  if (store_card_events(ctl->conn, k.id, 0, 1000000, &ev, &n) != STORE_OK) {
    store_card_free(&k);
    return ctl_store_error(ctl);
  }
  printf("card %lld %s ver %lld conv %lld seq %lld created by %s %lld\n",
         (long long)k.id, k.type, (long long)k.version,
         (long long)k.conversation_id, (long long)k.seq,
         k.creator_kind == STORE_PRINCIPAL_BOT ? "bot" : "user",
         (long long)k.creator_id);
  if (k.next_reminder_ms) {
    fputs("next reminder ", stdout);
    print_time(k.next_reminder_ms);
    putchar('\n');
  }
  printf("state %s\n", k.state);
  for (size_t i = 0; i < n; i++) {
    printf("event %lld %s ", (long long)ev[i].version, ev[i].kind);
    print_time(ev[i].at_ms);
    if (ev[i].actor_id)
      printf(" by %s %lld",
             ev[i].actor_kind == STORE_PRINCIPAL_BOT ? "bot" : "user",
             (long long)ev[i].actor_id);
    else
      fputs(" by the system", stdout);
    printf(" hash ");
    for (int b = 0; b < 8; b++)
      printf("%02x", ev[i].hash[b]);
    printf("\n");
    store_card_event_clear(&ev[i]);
  }
  free(ev);
  store_card_free(&k);
  return CTL_OK;
}

int ctl_cmd_card_post(struct ctl *ctl, int argc, char **argv)
{
  ctl->help = CARD_HELP;
  return card_post(ctl, argc, argv);
}

int ctl_cmd_card_act(struct ctl *ctl, int argc, char **argv)
{
  ctl->help = CARD_HELP;
  return card_change(ctl, argc, argv, false);
}

int ctl_cmd_card_edit(struct ctl *ctl, int argc, char **argv)
{
  ctl->help = CARD_HELP;
  return card_change(ctl, argc, argv, true);
}

int ctl_cmd_card_show(struct ctl *ctl, int argc, char **argv)
{
  ctl->help = CARD_HELP;
  return card_show(ctl, argc, argv);
}
