/*
 * main.c — heraldctl, Herald's admin tool: command dispatch, global help,
 * and the choice of database.
 *
 * heraldctl talks to PostgreSQL directly through storage/ (it is the admin
 * tool; user-facing commands will use the client library). On the embedded
 * default it attaches to the data directory: when heraldd runs there it
 * uses heraldd's cluster, otherwise it starts the cluster for the length of
 * the command and stops it again.
 */
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "hcrypto.h"

#define HERALDCTL_VERSION "0.1.0"

struct command {
  const char *group; /* "user", or NULL for a top-level command */
  const char *name;
  ctl_cmd_fn fn;
  const char *summary;
};

static const struct command commands[] = {
  {NULL, "init", ctl_cmd_init, "create the organisation and its first admin"},
  {"user", "add", ctl_cmd_user_add, "create a user"},
  {"user", "list", ctl_cmd_user_list, "list users"},
  {"user", "deactivate", ctl_cmd_user_deactivate, "deactivate a user"},
  {"report", "unread", ctl_cmd_report_unread,
   "unread over N for your team (managers, admins)"},
  {"user", "erase", ctl_cmd_user_erase,
   "destroy a user's data key (their read times become unrecoverable)"},
  {"user", "set-manager", ctl_cmd_user_set_manager, "change a user's manager"},
  {"group", "create", ctl_cmd_group_create, "create a group"},
  {"group", "add-member", ctl_cmd_group_add_member, "add a user to a group"},
  {"group", "list", ctl_cmd_group_list, "list groups"},
  {"group", "members", ctl_cmd_group_members, "list a group's members"},
  {"group", "automate", ctl_cmd_group_automate,
   "set a group's unread reminders (and task cards)"},
  {"bot", "create", ctl_cmd_bot_create, "create a bot and print its token once"},
  {"bot", "list", ctl_cmd_bot_list, "list bots"},
  {"bot", "revoke", ctl_cmd_bot_revoke, "revoke a bot's token"},
  {"bot", "robot", ctl_cmd_bot_robot,
   "give a bot a DingTalk-compatible robot webhook into a group"},
  {"keys", "rotate", ctl_cmd_keys_rotate,
   "re-wrap every data key under a new master key (online)"},
  {"quiet", "show", ctl_cmd_quiet_show, "a user's quiet hours and windows"},
  {"quiet", "set", ctl_cmd_quiet_set,
   "set a user's own quiet windows and time zone"},
  {"audit", "verify", ctl_cmd_audit_verify,
   "check every card's event hash chain (edited, removed, reordered)"},
  {"audit", "export", ctl_cmd_audit_export,
   "write an employee's signed interview history as JSON"},
  {"quiet", "org", ctl_cmd_quiet_org,
   "show or replace the organisation's quiet windows"},
  {"ding", "schedule", ctl_cmd_ding_schedule,
   "show or set the organisation's DING re-alert and escalation policy"},
  {"card", "post", ctl_cmd_card_post, "post a card as a user (over the server)"},
  {"card", "act", ctl_cmd_card_act,
   "run an action on a card as a user (over the server)"},
  {"card", "edit", ctl_cmd_card_edit,
   "edit a field of a card as a user (over the server)"},
  {"card", "show", ctl_cmd_card_show, "a card's state and event chain"},
  {NULL, "send", ctl_cmd_send, "send a message as a user (over the server)"},
  {NULL, "tail", ctl_cmd_tail, "follow a conversation as a user (over the server)"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
  fprintf(f,
          "Usage: heraldctl [--data-dir DIR | --db CONNINFO] COMMAND [ARGS]\n"
          "\n"
          "Herald's admin tool.\n"
          "\n"
          "Commands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++) {
    char name[48];

    snprintf(name, sizeof name, "%s%s%s", commands[i].group ? commands[i].group : "",
             commands[i].group ? " " : "", commands[i].name);
    fprintf(f, "  %-18s %s\n", name, commands[i].summary);
  }
  fprintf(f,
          "\n'heraldctl COMMAND --help' documents each command's options.\n"
          CTL_COMMON_HELP
          "\nPasswords are read from --password-file FILE (- for stdin) or an\n"
          "interactive prompt, never from the command line.\n"
          "\nOther options:\n"
          "  -h, --help       this help\n"
          "  --version        print the version\n"
          "\nExit status: 0 ok, 1 error, 2 usage error.\n");
}

int ctl_error(const char *fmt, ...)
{
  va_list ap;

  fputs("heraldctl: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return CTL_ERR;
}

int ctl_usage(struct ctl *ctl, const char *fmt, ...)
{
  va_list ap;

  fprintf(stderr, "heraldctl: %s: ", ctl->cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'heraldctl %s --help'.\n", ctl->cmd);
  return CTL_USAGE;
}

int ctl_store_error(struct ctl *ctl)
{
  return ctl_error("%s", store_errmsg(ctl->conn));
}

int ctl_common_option(struct ctl *ctl, int opt, char **argv)
{
  const char *bad = argv[optind - 1];

  switch (opt) {
  case CTL_OPT_DATA_DIR:
    ctl->data_dir = optarg;
    return -1;
  case CTL_OPT_DB:
    ctl->db = optarg;
    return -1;
  case 'h':
    fputs(ctl->help, stdout);
    fputs(CTL_COMMON_HELP, stdout);
    return CTL_OK;
  case ':':
    return ctl_usage(ctl, "option %s needs a value", bad);
  default:
    if (optopt && optopt < 256)
      return ctl_usage(ctl, "unknown option -%c", optopt);
    return ctl_usage(ctl, "unknown option %s", bad);
  }
}

int ctl_parse_format(struct ctl *ctl, const char *s, enum ctl_format *out)
{
  if (strcmp(s, "table") == 0)
    *out = CTL_TABLE;
  else if (strcmp(s, "json") == 0)
    *out = CTL_JSON;
  else
    return ctl_usage(ctl, "unknown format \"%s\": use table or json", s);
  return CTL_OK;
}

int ctl_connect(struct ctl *ctl)
{
  const char *conninfo = ctl->db, *env = getenv("HERALD_DB");
  char dir[PATH_MAX], err[1024];
  int applied, rc;

  if (ctl->db && ctl->data_dir)
    return ctl_usage(ctl, "--db and --data-dir exclude each other");
  if (!conninfo && !ctl->data_dir && env && *env)
    conninfo = env;
  if (!conninfo) {
    if (ctl->data_dir)
      snprintf(dir, sizeof dir, "%s", ctl->data_dir);
    else if (store_default_data_dir(dir, sizeof dir) != STORE_OK)
      return ctl_error("no data directory: give --data-dir DIR or --db CONNINFO");
    if (store_embedded_attach(dir, &ctl->emb, err, sizeof err) != STORE_OK)
      return ctl_error("embedded PostgreSQL: %s", err);
    conninfo = store_embedded_conninfo(ctl->emb);
  }
  rc = store_connect(conninfo, &ctl->conn);
  if (rc != STORE_OK)
    return ctl_store_error(ctl);
  /* heraldd migrates at start; heraldctl does too, so that it also works
   * on a fresh database, and so that it refuses a newer schema. */
  if (store_migrate(ctl->conn, &applied) != STORE_OK)
    return ctl_error("database schema: %s", store_errmsg(ctl->conn));
  return CTL_OK;
}

void ctl_disconnect(struct ctl *ctl)
{
  store_close(ctl->conn);
  ctl->conn = NULL;
  if (ctl->emb && store_embedded_stop(ctl->emb) != STORE_OK)
    ctl_error("stopping the embedded PostgreSQL failed (see pg.log in the "
              "data directory)");
  ctl->emb = NULL;
}

static const struct command *find_command(const char *group, const char *name)
{
  for (size_t i = 0; i < N_COMMANDS; i++) {
    const struct command *c = &commands[i];

    if (!c->group && group && strcmp(c->name, group) == 0)
      return c;
    if (c->group && group && name && strcmp(c->group, group) == 0 &&
        strcmp(c->name, name) == 0)
      return c;
  }
  return NULL;
}

static bool is_group(const char *word)
{
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (commands[i].group && strcmp(commands[i].group, word) == 0)
      return true;
  return false;
}

int main(int argc, char **argv)
{
  struct ctl ctl;
  const struct command *cmd;
  char cmdname[64];
  int i = 1, rc;

  memset(&ctl, 0, sizeof ctl);
  /* Display widths (CJK names in tables) need a UTF-8 LC_CTYPE. */
  setlocale(LC_CTYPE, "");
  if (MB_CUR_MAX == 1)
    setlocale(LC_CTYPE, "C.UTF-8");

  /* Global options before the command. */
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];

    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return CTL_OK;
    }
    if (strcmp(a, "--version") == 0) {
      printf("heraldctl %s\n", HERALDCTL_VERSION);
      return CTL_OK;
    }
    if ((strcmp(a, "--data-dir") == 0 || strcmp(a, "--db") == 0) && i + 1 < argc) {
      if (a[2] == 'd' && a[3] == 'a')
        ctl.data_dir = argv[++i];
      else
        ctl.db = argv[++i];
      continue;
    }
    if (strncmp(a, "--data-dir=", 11) == 0) {
      ctl.data_dir = a + 11;
      continue;
    }
    if (strncmp(a, "--db=", 5) == 0) {
      ctl.db = a + 5;
      continue;
    }
    fprintf(stderr, "heraldctl: unknown option %s\nTry 'heraldctl --help'.\n", a);
    return CTL_USAGE;
  }
  if (i >= argc) {
    usage(stderr);
    return CTL_USAGE;
  }
  if (is_group(argv[i])) {
    if (i + 1 >= argc || argv[i + 1][0] == '-') {
      if (i + 1 < argc && (strcmp(argv[i + 1], "--help") == 0 ||
                           strcmp(argv[i + 1], "-h") == 0)) {
        usage(stdout);
        return CTL_OK;
      }
      fprintf(stderr, "heraldctl: %s: missing subcommand\nTry 'heraldctl --help'.\n",
              argv[i]);
      return CTL_USAGE;
    }
    cmd = find_command(argv[i], argv[i + 1]);
    snprintf(cmdname, sizeof cmdname, "%s %s", argv[i], argv[i + 1]);
    i++;
  } else {
    cmd = find_command(argv[i], NULL);
    snprintf(cmdname, sizeof cmdname, "%s", argv[i]);
  }
  if (!cmd) {
    fprintf(stderr, "heraldctl: unknown command \"%s\"\nTry 'heraldctl --help'.\n",
            cmdname);
    return CTL_USAGE;
  }
  ctl.cmd = cmdname;
  opterr = 0; /* ctl_common_option reports, naming the command */
  if (hcr_init() != HCR_OK)
    return ctl_error("libsodium failed to initialise");
  /* The command parses argv from its own word on, as getopt's argv[0]. */
  rc = cmd->fn(&ctl, argc - i, argv + i);
  ctl_disconnect(&ctl);
  return rc;
}
