/*
 * cmd_user.c — heraldctl init and the user commands.
 *
 * Everything that can be checked before asking for a password is checked
 * first (organisation, login, manager, time zone), so an admin does not
 * type a password twice to learn that the manager's login was misspelt.
 * The messages are storage's, whose wording is stable.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "hcrypto.h"

static const char INIT_HELP[] =
  "Usage: heraldctl init --org NAME --admin LOGIN [options]\n"
  "\n"
  "Creates the organisation (once per installation) and its first user, an\n"
  "admin. The admin's password is read from --password-file or asked for.\n"
  "\n"
  "Options:\n"
  "  --org NAME            the organisation's name (required)\n"
  "  --admin LOGIN         the first admin's login (required)\n"
  "  --display NAME        the admin's display name (default: the login)\n"
  "  --tz ZONE             the admin's IANA time zone (default: UTC)\n"
  "  --password-file F     read the password from file F (- for stdin)\n"
  "  -h, --help            this help\n";

static const char USER_ADD_HELP[] =
  "Usage: heraldctl user add LOGIN --display NAME [options]\n"
  "\n"
  "Creates a user. Logins are 1-64 letters, digits, '.', '_', '@' or '-'\n"
  "and unique ignoring case. The password is read from --password-file or\n"
  "asked for.\n"
  "\n"
  "Options:\n"
  "  --display NAME        display name (required)\n"
  "  --department D        department, created if new\n"
  "  --manager LOGIN       the user's manager (the org tree)\n"
  "  --tz ZONE             IANA time zone, e.g. Asia/Hong_Kong (default: UTC)\n"
  "  --role ROLE           staff, manager or admin (default: staff)\n"
  "  --password-file F     read the password from file F (- for stdin)\n"
  "  -h, --help            this help\n";

static const char USER_LIST_HELP[] =
  "Usage: heraldctl user list [options]\n"
  "\n"
  "Lists users, ordered by login.\n"
  "\n"
  "Options:\n"
  "  --all                 include deactivated users\n"
  "  --department D        only users of department D\n"
  "  --format F            table (default) or json\n"
  "  -h, --help            this help\n";

static const char USER_DEACTIVATE_HELP[] =
  "Usage: heraldctl user deactivate LOGIN\n"
  "\n"
  "Deactivates a user: they can no longer log in and their sessions end.\n"
  "Their messages and records stay.\n"
  "\n"
  "Options:\n"
  "  -h, --help            this help\n";

static const char USER_ERASE_HELP[] =
  "Usage: heraldctl user erase LOGIN\n"
  "\n"
  "Crypto-shredding: destroys the user's data key, so every read time\n"
  "recorded for them can never be decrypted again (their reads still count\n"
  "as read; no new read time is recorded for them). Nothing else changes:\n"
  "messages, read state and reports stay. Cannot be undone, and backups of\n"
  "the key expire with it.\n"
  "\n"
  "Options:\n"
  "  -h, --help            this help\n";

static const char USER_SET_MANAGER_HELP[] =
  "Usage: heraldctl user set-manager LOGIN (--manager LOGIN | --none)\n"
  "\n"
  "Moves a user in the org tree. Reports follow the new tree from then on.\n"
  "\n"
  "Options:\n"
  "  --manager LOGIN       the new manager\n"
  "  --none                no manager (top of the tree)\n"
  "  -h, --help            this help\n";

enum {
  OPT_ORG = 1, OPT_ADMIN, OPT_DISPLAY, OPT_TZ, OPT_PASSWORD_FILE,
  OPT_DEPARTMENT, OPT_MANAGER, OPT_ROLE, OPT_ALL, OPT_FORMAT, OPT_NONE,
};

/* Hashes the password read from file (or a prompt) into hash. */
static int get_password_hash(const char *file, const char *login,
                             char hash[HCR_PWHASH_LEN])
{
  char pw[HCR_PASSWORD_MAX + 2];
  int rc;

  rc = ctl_read_password(file, login, true, pw, sizeof pw);
  if (rc == CTL_OK && hcr_password_hash(pw, hash) != HCR_OK)
    rc = ctl_error("hashing the password failed (out of memory?)");
  hcr_wipe(pw, sizeof pw);
  return rc;
}

int ctl_cmd_init(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"org", required_argument, NULL, OPT_ORG},
    {"admin", required_argument, NULL, OPT_ADMIN},
    {"display", required_argument, NULL, OPT_DISPLAY},
    {"tz", required_argument, NULL, OPT_TZ},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  const char *org = NULL, *pwfile = NULL;
  struct store_user_new admin = {0};
  struct store_org existing;
  char hash[HCR_PWHASH_LEN];
  int opt, rc;

  ctl->help = INIT_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_ORG: org = optarg; break;
    case OPT_ADMIN: admin.login = optarg; break;
    case OPT_DISPLAY: admin.display_name = optarg; break;
    case OPT_TZ: admin.time_zone = optarg; break;
    case OPT_PASSWORD_FILE: pwfile = optarg; break;
    default:
      if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
        return rc;
    }
  }
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if (!org)
    return ctl_usage(ctl, "--org NAME is required");
  if (!admin.login)
    return ctl_usage(ctl, "--admin LOGIN is required");
  if (!admin.display_name)
    admin.display_name = admin.login;
  admin.role = STORE_ROLE_ADMIN;

  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  rc = store_org_get(ctl->conn, &existing);
  if (rc == STORE_OK)
    return ctl_error("the organisation is already initialised (\"%s\")",
                     existing.name);
  if (rc != STORE_ENOTFOUND)
    return ctl_store_error(ctl);
  if (admin.time_zone && store_time_zone_check(ctl->conn, admin.time_zone) != STORE_OK)
    return ctl_store_error(ctl);
  if ((rc = get_password_hash(pwfile, admin.login, hash)) != CTL_OK)
    return rc;
  admin.password_hash = hash;
  if (store_org_init(ctl->conn, org, &admin, NULL) != STORE_OK)
    return ctl_store_error(ctl);
  printf("Initialised organisation \"%s\" with admin \"%s\".\n", org,
         admin.login);
  return CTL_OK;
}

int ctl_cmd_user_add(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"display", required_argument, NULL, OPT_DISPLAY},
    {"department", required_argument, NULL, OPT_DEPARTMENT},
    {"manager", required_argument, NULL, OPT_MANAGER},
    {"tz", required_argument, NULL, OPT_TZ},
    {"role", required_argument, NULL, OPT_ROLE},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  struct store_user_new u = {0};
  struct store_user existing;
  struct store_org org;
  const char *pwfile = NULL, *role = NULL;
  char hash[HCR_PWHASH_LEN];
  int opt, rc;

  ctl->help = USER_ADD_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_DISPLAY: u.display_name = optarg; break;
    case OPT_DEPARTMENT: u.department = optarg; break;
    case OPT_MANAGER: u.manager_login = optarg; break;
    case OPT_TZ: u.time_zone = optarg; break;
    case OPT_ROLE: role = optarg; break;
    case OPT_PASSWORD_FILE: pwfile = optarg; break;
    default:
      if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
        return rc;
    }
  }
  if (optind >= argc)
    return ctl_usage(ctl, "missing LOGIN");
  u.login = argv[optind++];
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if (!u.display_name)
    return ctl_usage(ctl, "--display NAME is required");
  u.role = STORE_ROLE_STAFF;
  if (role && store_role_parse(role, &u.role) != STORE_OK)
    return ctl_usage(ctl, "unknown role \"%s\": use staff, manager or admin",
                     role);

  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_org_get(ctl->conn, &org) != STORE_OK)
    return ctl_store_error(ctl);
  rc = store_user_get(ctl->conn, u.login, &existing);
  if (rc == STORE_OK)
    return ctl_error("login \"%s\" already exists", existing.login);
  if (rc != STORE_ENOTFOUND)
    return ctl_store_error(ctl);
  if (u.manager_login) {
    rc = store_user_get(ctl->conn, u.manager_login, &existing);
    if (rc == STORE_ENOTFOUND)
      return ctl_error("unknown manager \"%s\"", u.manager_login);
    if (rc != STORE_OK)
      return ctl_store_error(ctl);
  }
  if (u.time_zone && store_time_zone_check(ctl->conn, u.time_zone) != STORE_OK)
    return ctl_store_error(ctl);
  if ((rc = get_password_hash(pwfile, u.login, hash)) != CTL_OK)
    return rc;
  u.password_hash = hash;
  if (store_user_add(ctl->conn, &u, NULL) != STORE_OK)
    return ctl_store_error(ctl);
  printf("Added user \"%s\" (%s).\n", u.login, store_role_name(u.role));
  return CTL_OK;
}

static json_t *user_json(const struct store_user *u)
{
  return json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s, s:s, s:b, s:b}",
                   "id", (json_int_t)u->id, "login", u->login,
                   "display_name", u->display_name,
                   "department", u->department[0] ? u->department : NULL,
                   "manager", u->manager_login[0] ? u->manager_login : NULL,
                   "time_zone", u->time_zone, "role", store_role_name(u->role),
                   "active", u->active, "has_password", u->has_password);
}

int ctl_cmd_user_list(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"all", no_argument, NULL, OPT_ALL},
    {"department", required_argument, NULL, OPT_DEPARTMENT},
    {"format", required_argument, NULL, OPT_FORMAT},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  struct store_user_filter f = {.active_only = true};
  struct store_user *users = NULL;
  enum ctl_format format = CTL_TABLE;
  size_t n = 0;
  int opt, rc;

  ctl->help = USER_LIST_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_ALL: f.active_only = false; break;
    case OPT_DEPARTMENT: f.department = optarg; break;
    case OPT_FORMAT:
      if ((rc = ctl_parse_format(ctl, optarg, &format)) != CTL_OK)
        return rc;
      break;
    default:
      if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
        return rc;
    }
  }
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_user_list(ctl->conn, &f, &users, &n) != STORE_OK)
    return ctl_store_error(ctl);
  if (format == CTL_JSON) {
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++)
      json_array_append_new(arr, user_json(&users[i]));
    json_dumpf(arr, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(arr);
  } else {
    static const char *const head[] = {"LOGIN", "NAME", "DEPARTMENT", "MANAGER",
                                       "ROLE", "TIME ZONE", "STATUS"};
    struct ctl_table *t = ctl_table_new(7, head);

    for (size_t i = 0; i < n; i++) {
      const struct store_user *u = &users[i];
      const char *row[] = {u->login, u->display_name, u->department,
                           u->manager_login, store_role_name(u->role),
                           u->time_zone, u->active ? "active" : "deactivated"};

      ctl_table_add(t, row);
    }
    ctl_table_print(t, stdout);
    ctl_table_free(t);
  }
  free(users);
  return CTL_OK;
}

/* The shape of commands that take only LOGIN: parses the common options
 * and the login, then connects. Returns -1 to go on (with *login set), or
 * the exit status. */
static int login_command(struct ctl *ctl, int argc, char **argv,
                         const char *help, const char **login)
{
  static const struct option opts[] = {CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  int opt, rc;

  ctl->help = help;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1)
    if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
      return rc;
  if (optind >= argc)
    return ctl_usage(ctl, "missing LOGIN");
  *login = argv[optind++];
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  return -1;
}

int ctl_cmd_user_erase(struct ctl *ctl, int argc, char **argv)
{
  struct store_user u;
  const char *login;
  int rc;

  if ((rc = login_command(ctl, argc, argv, USER_ERASE_HELP, &login)) >= 0)
    return rc;
  if (store_user_get(ctl->conn, login, &u) != STORE_OK ||
      store_user_key_destroy(ctl->conn, u.id) != STORE_OK)
    return ctl_store_error(ctl);
  printf("Erased the data key of \"%s\": their read times are now "
         "unrecoverable.\n", u.login);
  return CTL_OK;
}

int ctl_cmd_user_deactivate(struct ctl *ctl, int argc, char **argv)
{
  const char *login;
  int rc;

  if ((rc = login_command(ctl, argc, argv, USER_DEACTIVATE_HELP, &login)) >= 0)
    return rc;
  if (store_user_deactivate(ctl->conn, login) != STORE_OK)
    return ctl_store_error(ctl);
  printf("Deactivated user \"%s\".\n", login);
  return CTL_OK;
}

int ctl_cmd_user_set_manager(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"manager", required_argument, NULL, OPT_MANAGER},
    {"none", no_argument, NULL, OPT_NONE},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  const char *login, *manager = NULL;
  bool none = false;
  int opt, rc;

  ctl->help = USER_SET_MANAGER_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_MANAGER: manager = optarg; break;
    case OPT_NONE: none = true; break;
    default:
      if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
        return rc;
    }
  }
  if (optind >= argc)
    return ctl_usage(ctl, "missing LOGIN");
  login = argv[optind++];
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if (!manager == !none)
    return ctl_usage(ctl, "give exactly one of --manager LOGIN and --none");
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_user_set_manager(ctl->conn, login, manager) != STORE_OK)
    return ctl_store_error(ctl);
  if (manager)
    printf("\"%s\" now reports to \"%s\".\n", login, manager);
  else
    printf("\"%s\" now has no manager.\n", login);
  return CTL_OK;
}
