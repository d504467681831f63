/*
 * cmd_group.c — heraldctl's group and bot commands.
 *
 * Groups are named by title (unique ignoring case), users by login, bots by
 * name. A bot's token is printed once, on stdout alone so that scripts can
 * capture it; only its hash is stored.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "duration.h"
#include "hcrypto.h"

static const char GROUP_CREATE_HELP[] =
  "Usage: heraldctl group create TITLE --owner LOGIN [options]\n"
  "\n"
  "Creates a group. Titles are unique ignoring case.\n"
  "\n"
  "Options:\n"
  "  --owner LOGIN         the group's owner (required)\n"
  "  --member LOGIN        a member; repeat for more\n"
  "  --tracking POLICY     which messages produce read receipts: all\n"
  "                        (default), flagged (flagged ones and DINGs), off\n"
  "  --remind-after D      remind each member once of tracked messages they\n"
  "                        left unread this long (e.g. 90m, 2h, 1d; 1m to\n"
  "                        365d); default: no reminders\n"
  "  --task-after D        turn a message unread this long into a task card\n"
  "                        for the member (stored; acted on once task cards\n"
  "                        exist); default: off\n"
  "  -h, --help            this help\n";

static const char GROUP_AUTOMATE_HELP[] =
  "Usage: heraldctl group automate GROUP [--remind-after D|off]\n"
  "                                      [--task-after D|off]\n"
  "\n"
  "Sets a group's automation at the unread threshold. With --remind-after,\n"
  "each member gets one reminder once tracked messages (not their own, not\n"
  "DINGs) have been unread by them for D, counted like the unread report;\n"
  "a message is reminded once. Switching reminders on covers messages sent\n"
  "from then on. An option left out keeps its setting.\n"
  "\n"
  "Durations: a number with s, m, h or d (90m, 2h, 1d12h), or plain\n"
  "seconds; 1m to 365d; off switches it off.\n"
  "\n"
  "Options:\n"
  "  --remind-after D|off  remind of messages unread this long\n"
  "  --task-after D|off    turn messages unread this long into task cards\n"
  "                        (stored; acted on once task cards exist)\n"
  "  -h, --help            this help\n";

static const char GROUP_ADD_MEMBER_HELP[] =
  "Usage: heraldctl group add-member GROUP LOGIN [--owner]\n"
  "\n"
  "Adds a user to a group. Messages sent before they joined are never\n"
  "counted as unread for them.\n"
  "\n"
  "Options:\n"
  "  --owner               add as an owner instead of a member\n"
  "  -h, --help            this help\n";

static const char GROUP_LIST_HELP[] =
  "Usage: heraldctl group list [--format table|json]\n"
  "\n"
  "Lists groups with their member counts.\n"
  "\n"
  "Options:\n"
  "  --format F            table (default) or json\n"
  "  -h, --help            this help\n";

static const char GROUP_MEMBERS_HELP[] =
  "Usage: heraldctl group members GROUP [--format table|json]\n"
  "\n"
  "Lists a group's members and their roles.\n"
  "\n"
  "Options:\n"
  "  --format F            table (default) or json\n"
  "  -h, --help            this help\n";

static const char BOT_CREATE_HELP[] =
  "Usage: heraldctl bot create NAME --owner LOGIN [--group TITLE ...]\n"
  "                             [--rate N]\n"
  "\n"
  "Creates a bot and prints its token ONCE on stdout; only a hash of it is\n"
  "stored, so a lost token cannot be shown again (revoke the bot and create\n"
  "another). Bot names are 1-64 letters, digits, '.', '_' or '-'.\n"
  "\n"
  "Options:\n"
  "  --owner LOGIN         the user responsible for the bot (required)\n"
  "  --group TITLE         a group the bot may post to; repeat for more\n"
  "  --rate N              messages a minute it may post, all ways together\n"
  "                        (1-6000, default 20 as DingTalk's robots)\n"
  "  -h, --help            this help\n";

static const char BOT_LIST_HELP[] =
  "Usage: heraldctl bot list [--format table|json]\n"
  "\n"
  "Lists bots, revoked ones included.\n"
  "\n"
  "Options:\n"
  "  --format F            table (default) or json\n"
  "  -h, --help            this help\n";

static const char BOT_REVOKE_HELP[] =
  "Usage: heraldctl bot revoke NAME\n"
  "\n"
  "Revokes a bot: its token stops working for good.\n"
  "\n"
  "Options:\n"
  "  -h, --help            this help\n";

enum { OPT_OWNER = 1, OPT_MEMBER, OPT_TRACKING, OPT_FORMAT, OPT_GROUP,
       OPT_REMIND_AFTER, OPT_TASK_AFTER, OPT_RATE };

/* Parses a duration (duration.h) or "off" (0, when allowed). Bounds are
 * storage's to check (its message names the setting). 0 or -1. */
static int parse_duration(const char *s, bool allow_off, int64_t *out)
{
  if (allow_off && strcmp(s, "off") == 0) {
    *out = 0;
    return 0;
  }
  /* "0" is not "off": say off */
  return proto_duration_parse(s, strlen(s), out) < 0 || *out == 0 ? -1 : 0;
}

/* "2h", "1h30m", "1d", "off". */
static const char *format_duration(int64_t s, char *buf, size_t len)
{
  static const struct { int64_t secs; char unit; } units[] = {
    {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  size_t off = 0;

  if (s <= 0)
    return "off";
  buf[0] = '\0';
  for (size_t i = 0; i < 4 && off + 1 < len; i++) {
    if (s >= units[i].secs) {
      int w = snprintf(buf + off, len - off, "%lld%c",
                       (long long)(s / units[i].secs), units[i].unit);
      if (w < 0)
        break;
      off += (size_t)w;
      s %= units[i].secs;
    }
  }
  return buf;
}

static int duration_option(struct ctl *ctl, const char *name, bool allow_off,
                           int64_t *out)
{
  if (parse_duration(optarg, allow_off, out) == 0)
    return -1;
  return ctl_usage(ctl, "%s: bad duration \"%s\" (e.g. 90m, 2h, 1d%s)",
                   name, optarg, allow_off ? ", or off" : "");
}

static void print_json(json_t *v)
{
  json_dumpf(v, stdout, JSON_INDENT(2));
  fputc('\n', stdout);
  json_decref(v);
}

/* Resolves logins to user ids; prints 'unknown user "x"' on failure. */
static int resolve_users(struct ctl *ctl, char **logins, size_t n,
                         int64_t *ids)
{
  struct store_user u;

  for (size_t i = 0; i < n; i++) {
    if (store_user_get(ctl->conn, logins[i], &u) != STORE_OK)
      return ctl_store_error(ctl);
    ids[i] = u.id;
  }
  return CTL_OK;
}

int ctl_cmd_group_create(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"owner", required_argument, NULL, OPT_OWNER},
    {"member", required_argument, NULL, OPT_MEMBER},
    {"tracking", required_argument, NULL, OPT_TRACKING},
    {"remind-after", required_argument, NULL, OPT_REMIND_AFTER},
    {"task-after", required_argument, NULL, OPT_TASK_AFTER},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  struct store_automation automation = {0, 0};
  enum store_tracking tracking = STORE_TRACK_ALL;
  const char *title, *owner = NULL;
  char **members = calloc((size_t)argc + 1, sizeof *members);
  int64_t *ids = calloc((size_t)argc + 1, sizeof *ids);
  struct store_group g;
  size_t n = 0;
  int64_t owner_id = 0;
  int opt, rc;

  ctl->help = GROUP_CREATE_HELP;
  if (!members || !ids) {
    rc = ctl_error("out of memory");
    goto out;
  }
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_OWNER: owner = optarg; break;
    case OPT_MEMBER: members[n++] = optarg; break;
    case OPT_TRACKING:
      if (store_tracking_parse(optarg, &tracking) != STORE_OK) {
        rc = ctl_usage(ctl, "unknown tracking policy \"%s\": use all, "
                       "flagged or off", optarg);
        goto out;
      }
      break;
    case OPT_REMIND_AFTER:
      if ((rc = duration_option(ctl, "--remind-after", false,
                                &automation.remind_after_s)) >= 0)
        goto out;
      break;
    case OPT_TASK_AFTER:
      if ((rc = duration_option(ctl, "--task-after", false,
                                &automation.task_after_s)) >= 0)
        goto out;
      break;
    default:
      if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
        goto out;
    }
  }
  if (optind >= argc) {
    rc = ctl_usage(ctl, "missing TITLE");
    goto out;
  }
  title = argv[optind++];
  if (optind < argc) {
    rc = ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
    goto out;
  }
  if (!owner) {
    rc = ctl_usage(ctl, "--owner LOGIN is required");
    goto out;
  }
  if ((rc = ctl_connect(ctl)) != CTL_OK ||
      (rc = resolve_users(ctl, (char **)&owner, 1, &owner_id)) != CTL_OK ||
      (rc = resolve_users(ctl, members, n, ids)) != CTL_OK)
    goto out;
  if (store_group_create_automated(ctl->conn, title, owner_id, tracking, ids,
                                   n, &automation, NULL) != STORE_OK ||
      store_group_get(ctl->conn, title, &g) != STORE_OK) {
    rc = ctl_store_error(ctl);
    goto out;
  }
  printf("Created group \"%s\" with %lld member%s.\n", g.title,
         (long long)g.member_count, g.member_count == 1 ? "" : "s");
  rc = CTL_OK;
out:
  free(members);
  free(ids);
  return rc;
}

int ctl_cmd_group_add_member(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"owner", no_argument, NULL, OPT_OWNER},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  enum store_member_role role = STORE_MEMBER;
  const char *title, *login;
  struct store_group g;
  struct store_user u;
  int opt, rc;

  ctl->help = GROUP_ADD_MEMBER_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    if (opt == OPT_OWNER)
      role = STORE_OWNER;
    else if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
      return rc;
  }
  if (optind + 2 > argc)
    return ctl_usage(ctl, optind < argc ? "missing LOGIN" : "missing GROUP and LOGIN");
  title = argv[optind++];
  login = argv[optind++];
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_group_get(ctl->conn, title, &g) != STORE_OK ||
      store_user_get(ctl->conn, login, &u) != STORE_OK ||
      store_group_add_member(ctl->conn, g.id, u.id, role) != STORE_OK)
    return ctl_store_error(ctl);
  printf("Added \"%s\" to group \"%s\"%s.\n", u.login, g.title,
         role == STORE_OWNER ? " as an owner" : "");
  return CTL_OK;
}

/* Parses the options of a command that takes only --format. */
static int format_only(struct ctl *ctl, int argc, char **argv,
                       enum ctl_format *format)
{
  static const struct option opts[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  int opt, rc;

  *format = CTL_TABLE;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    if (opt == OPT_FORMAT) {
      if ((rc = ctl_parse_format(ctl, optarg, format)) != CTL_OK)
        return rc;
    } else if ((rc = ctl_common_option(ctl, opt, argv)) >= 0) {
      return rc;
    }
  }
  return -1;
}

int ctl_cmd_group_list(struct ctl *ctl, int argc, char **argv)
{
  struct store_group *groups = NULL;
  enum ctl_format format;
  size_t n = 0;
  int rc;

  ctl->help = GROUP_LIST_HELP;
  if ((rc = format_only(ctl, argc, argv, &format)) >= 0)
    return rc;
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_group_list(ctl->conn, &groups, &n) != STORE_OK)
    return ctl_store_error(ctl);
  if (format == CTL_JSON) {
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++)
      json_array_append_new(arr, json_pack(
        "{s:I, s:s, s:I, s:s, s:s?, s:o, s:o}", "id", (json_int_t)groups[i].id,
        "title", groups[i].title, "members", (json_int_t)groups[i].member_count,
        "tracking", store_tracking_name(groups[i].tracking),
        "owner", groups[i].owner_login[0] ? groups[i].owner_login : NULL,
        "remind_after", groups[i].remind_after_s
                          ? json_integer(groups[i].remind_after_s)
                          : json_null(),
        "task_after", groups[i].task_after_s
                        ? json_integer(groups[i].task_after_s)
                        : json_null()));
    print_json(arr);
  } else {
    static const char *const head[] = {"TITLE", "MEMBERS", "TRACKING", "OWNER",
                                       "REMIND", "TASK"};
    struct ctl_table *t = ctl_table_new(6, head);

    for (size_t i = 0; i < n; i++) {
      char count[24], remind[32], task[32];
      const char *row[6] = {
        groups[i].title, count, store_tracking_name(groups[i].tracking),
        groups[i].owner_login,
        format_duration(groups[i].remind_after_s, remind, sizeof remind),
        format_duration(groups[i].task_after_s, task, sizeof task)};

      snprintf(count, sizeof count, "%lld", (long long)groups[i].member_count);
      ctl_table_add(t, row);
    }
    ctl_table_print(t, stdout);
    ctl_table_free(t);
  }
  free(groups);
  return CTL_OK;
}

int ctl_cmd_group_members(struct ctl *ctl, int argc, char **argv)
{
  struct store_member *m = NULL;
  struct store_group g;
  enum ctl_format format;
  size_t n = 0;
  int rc;

  ctl->help = GROUP_MEMBERS_HELP;
  if ((rc = format_only(ctl, argc, argv, &format)) >= 0)
    return rc;
  if (optind >= argc)
    return ctl_usage(ctl, "missing GROUP");
  if (optind + 1 < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind + 1]);
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_group_get(ctl->conn, argv[optind], &g) != STORE_OK ||
      store_conversation_members(ctl->conn, g.id, &m, &n) != STORE_OK)
    return ctl_store_error(ctl);
  if (format == CTL_JSON) {
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++)
      json_array_append_new(arr, json_pack(
        "{s:s, s:s, s:s, s:b}", "login", m[i].login, "display_name",
        m[i].display_name, "role", m[i].role == STORE_OWNER ? "owner" : "member",
        "active", m[i].active));
    print_json(arr);
  } else {
    static const char *const head[] = {"LOGIN", "NAME", "ROLE"};
    struct ctl_table *t = ctl_table_new(3, head);

    for (size_t i = 0; i < n; i++) {
      const char *row[3] = {m[i].login, m[i].display_name,
                            m[i].role == STORE_OWNER ? "owner" : "member"};

      ctl_table_add(t, row);
    }
    ctl_table_print(t, stdout);
    ctl_table_free(t);
  }
  free(m);
  return CTL_OK;
}

int ctl_cmd_group_automate(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"remind-after", required_argument, NULL, OPT_REMIND_AFTER},
    {"task-after", required_argument, NULL, OPT_TASK_AFTER},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  int64_t remind = -1, task = -1;
  struct store_automation a;
  struct store_group g;
  char rb[32], tb[32];
  int opt, rc;

  ctl->help = GROUP_AUTOMATE_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    if (opt == OPT_REMIND_AFTER) {
      if ((rc = duration_option(ctl, "--remind-after", true, &remind)) >= 0)
        return rc;
    } else if (opt == OPT_TASK_AFTER) {
      if ((rc = duration_option(ctl, "--task-after", true, &task)) >= 0)
        return rc;
    } else if ((rc = ctl_common_option(ctl, opt, argv)) >= 0) {
      return rc;
    }
  }
  if (optind >= argc)
    return ctl_usage(ctl, "missing GROUP");
  if (optind + 1 < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind + 1]);
  if (remind < 0 && task < 0)
    return ctl_usage(ctl, "give --remind-after and/or --task-after");
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_group_get(ctl->conn, argv[optind], &g) != STORE_OK)
    return ctl_store_error(ctl);
  /* What is not given stays as it is. */
  a.remind_after_s = remind >= 0 ? remind : g.remind_after_s;
  a.task_after_s = task >= 0 ? task : g.task_after_s;
  if (store_conversation_set_automation(ctl->conn, g.id, &a) != STORE_OK)
    return ctl_store_error(ctl);
  printf("Group \"%s\": remind after %s, task after %s.\n", g.title,
         format_duration(a.remind_after_s, rb, sizeof rb),
         format_duration(a.task_after_s, tb, sizeof tb));
  if (a.task_after_s)
    printf("Task cards do not exist yet: the task setting is stored and "
           "takes effect once they do.\n");
  return CTL_OK;
}

int ctl_cmd_bot_create(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"owner", required_argument, NULL, OPT_OWNER},
    {"group", required_argument, NULL, OPT_GROUP},
    {"rate", required_argument, NULL, OPT_RATE},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  const char *name, *owner = NULL;
  long rate = 0;
  char *end;
  int64_t bot_id = 0;
  char **titles = calloc((size_t)argc + 1, sizeof *titles);
  int64_t *ids = calloc((size_t)argc + 1, sizeof *ids);
  char token[HCR_TOKEN_LEN + 1];
  uint8_t hash[HCR_TOKEN_HASH_LEN];
  struct store_user u;
  struct store_group g;
  size_t n = 0;
  int opt, rc;

  ctl->help = BOT_CREATE_HELP;
  if (!titles || !ids) {
    rc = ctl_error("out of memory");
    goto out;
  }
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_OWNER: owner = optarg; break;
    case OPT_GROUP: titles[n++] = optarg; break;
    case OPT_RATE:
      rate = strtol(optarg, &end, 10);
      if (*end || end == optarg || rate < 1 || rate > STORE_BOT_RATE_MAX) {
        rc = ctl_usage(ctl, "--rate must be 1 to %d messages a minute",
                       STORE_BOT_RATE_MAX);
        goto out;
      }
      break;
    default:
      if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
        goto out;
    }
  }
  if (optind >= argc) {
    rc = ctl_usage(ctl, "missing NAME");
    goto out;
  }
  name = argv[optind++];
  if (optind < argc) {
    rc = ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
    goto out;
  }
  if (!owner) {
    rc = ctl_usage(ctl, "--owner LOGIN is required");
    goto out;
  }
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    goto out;
  rc = CTL_ERR;
  if (store_user_get(ctl->conn, owner, &u) != STORE_OK) {
    ctl_store_error(ctl);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if (store_group_get(ctl->conn, titles[i], &g) != STORE_OK) {
      ctl_store_error(ctl);
      goto out;
    }
    ids[i] = g.id;
  }
  _Static_assert(HCR_TOKEN_HASH_LEN == STORE_TOKEN_HASH_LEN, "token hash size");
  hcr_token_new(token);
  if (hcr_token_hash(token, hash) != HCR_OK) {
    ctl_error("hashing the token failed");
    goto out;
  }
  if (store_bot_create(ctl->conn, name, u.id, hash, ids, n, &bot_id) !=
        STORE_OK ||
      (rate && store_bot_set_rate(ctl->conn, bot_id, (int)rate) != STORE_OK)) {
    ctl_store_error(ctl);
    goto out;
  }
  fprintf(stderr, "Created bot \"%s\". Its token follows; it is shown only "
                  "this once:\n", name);
  printf("%s\n", token);
  fflush(stdout);
  rc = CTL_OK;
out:
  hcr_wipe(token, sizeof token);
  free(titles);
  free(ids);
  return rc;
}

int ctl_cmd_bot_list(struct ctl *ctl, int argc, char **argv)
{
  struct store_bot *bots = NULL;
  enum ctl_format format;
  size_t n = 0;
  int rc;

  ctl->help = BOT_LIST_HELP;
  if ((rc = format_only(ctl, argc, argv, &format)) >= 0)
    return rc;
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_bot_list(ctl->conn, &bots, &n) != STORE_OK)
    return ctl_store_error(ctl);
  if (format == CTL_JSON) {
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++)
      json_array_append_new(arr, json_pack(
        "{s:I, s:s, s:s, s:b, s:i, s:I}", "id", (json_int_t)bots[i].id,
        "name", bots[i].name, "owner", bots[i].owner_login,
        "revoked", bots[i].revoked, "rate_limit_per_minute",
        bots[i].rate_limit_per_minute, "conversations",
        (json_int_t)bots[i].conversation_count));
    print_json(arr);
  } else {
    static const char *const head[] = {"NAME", "OWNER", "CONVERSATIONS",
                                       "RATE/MIN", "STATUS"};
    struct ctl_table *t = ctl_table_new(5, head);

    for (size_t i = 0; i < n; i++) {
      char count[24], rate[24];
      const char *row[5] = {bots[i].name, bots[i].owner_login, count, rate,
                            bots[i].revoked ? "revoked" : "active"};

      snprintf(count, sizeof count, "%lld",
               (long long)bots[i].conversation_count);
      snprintf(rate, sizeof rate, "%d", bots[i].rate_limit_per_minute);
      ctl_table_add(t, row);
    }
    ctl_table_print(t, stdout);
    ctl_table_free(t);
  }
  free(bots);
  return CTL_OK;
}

int ctl_cmd_bot_revoke(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  struct store_bot b;
  int opt, rc;

  ctl->help = BOT_REVOKE_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1)
    if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
      return rc;
  if (optind >= argc)
    return ctl_usage(ctl, "missing NAME");
  if (optind + 1 < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind + 1]);
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_bot_get(ctl->conn, argv[optind], &b) != STORE_OK ||
      store_bot_revoke(ctl->conn, b.id) != STORE_OK)
    return ctl_store_error(ctl);
  printf("Revoked bot \"%s\".\n", b.name);
  return CTL_OK;
}
