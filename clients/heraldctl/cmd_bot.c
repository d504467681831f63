/*
 * cmd_bot.c — heraldctl bot robot: a bot's DingTalk-compatible robot
 * webhook (POST /robot/send?access_token=...).
 *
 * The access token is made here, printed once on stdout alone and stored
 * only as a hash. The optional signing secret is stored sealed under the
 * master key (crypto/ hcr_secret_seal), which is read from the key file
 * heraldd uses (or HERALD_MASTER_KEY); the secret itself is never printed,
 * logged or kept in plaintext.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "hcrypto.h"

static const char BOT_ROBOT_HELP[] =
  "Usage: heraldctl bot robot NAME --group TITLE [--secret-file F]\n"
  "                                              [--master-key-file F]\n"
  "\n"
  "Gives bot NAME a DingTalk-compatible robot webhook that posts into group\n"
  "TITLE (the bot is added there), replacing an earlier one, and prints\n"
  "its access token ONCE on stdout. Scripts post to\n"
  "  http://HOST:PORT/robot/send?access_token=TOKEN\n"
  "With --secret-file, calls must be signed as DingTalk's robots are\n"
  "(timestamp and sign parameters); without it, unsigned calls are taken.\n"
  "\n"
  "Options:\n"
  "  --group TITLE         the group the robot posts into (required)\n"
  "  --secret-file F       the signing secret: the first line of F (\"-\":\n"
  "                        stdin), 1-128 printable ASCII characters, e.g.\n"
  "                        DingTalk's SEC... secret; stored sealed under the\n"
  "                        master key\n"
  "  --master-key-file F   the master key file heraldd uses (default: env\n"
  "                        HERALD_MASTER_KEY, env HERALD_MASTER_KEY_FILE,\n"
  "                        DATA_DIR/master.key)\n"
  "  -h, --help            this help\n";

enum { OPT_GROUP = 1, OPT_SECRET_FILE, OPT_KEY_FILE };

/* Reads the first line of `file` ("-": stdin) as the secret. */
static int read_secret(const char *file, char out[HCR_SECRET_MAX + 2],
                       size_t *len)
{
  FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
  size_t n;

  if (!f)
    return ctl_error("cannot open %s", file);
  if (!fgets(out, HCR_SECRET_MAX + 2, f))
    out[0] = '\0';
  if (f != stdin)
    fclose(f);
  n = strcspn(out, "\r\n");
  out[n] = '\0';
  if (n < 1 || n > HCR_SECRET_MAX)
    return ctl_error("the secret in %s must be 1 to %d characters on its "
                     "first line", file, HCR_SECRET_MAX);
  for (size_t i = 0; i < n; i++)
    if (out[i] < 0x21 || out[i] > 0x7e)
      return ctl_error("the secret in %s must be printable ASCII without "
                       "spaces", file);
  *len = n;
  return CTL_OK;
}

/* The master key, found as heraldd finds it, and checked against the
 * database's check values. */
static int load_master(struct ctl *ctl, const char *opt_file,
                       struct hcr_master **m)
{
  const char *env = getenv("HERALD_MASTER_KEY_FILE");
  struct store_master_check *checks = NULL;
  char path[PATH_MAX], err[1024];
  bool found = false;
  size_t n = 0;
  int rc;

  *m = NULL;
  if (!opt_file && (rc = hcr_master_load_env("HERALD_MASTER_KEY", m, err,
                                             sizeof err)) != HCR_ENOENT) {
    if (rc != HCR_OK)
      return ctl_error("%s", err);
  } else {
    if (!opt_file && env && *env)
      opt_file = env;
    if (opt_file)
      snprintf(path, sizeof path, "%s", opt_file);
    else if (ctl->data_dir)
      snprintf(path, sizeof path, "%s/master.key", ctl->data_dir);
    else if (store_default_data_dir(path, sizeof path - 16) == STORE_OK)
      strcat(path, "/master.key");
    else
      return ctl_error("no data directory: give --master-key-file FILE or "
                       "--data-dir DIR");
    if (hcr_master_load_file(path, m, err, sizeof err) != HCR_OK)
      return ctl_error("%s", err);
  }
  if (store_master_checks(ctl->conn, &checks, &n) != STORE_OK) {
    hcr_master_free(*m);
    *m = NULL;
    return ctl_store_error(ctl);
  }
  for (size_t i = 0; i < n; i++)
    if (!checks[i].retired &&
        hcr_master_check_verify(*m, checks[i].value, checks[i].len) == HCR_OK)
      found = true;
  free(checks);
  if (!found) {
    hcr_master_free(*m);
    *m = NULL;
    return ctl_error("that master key is not the current master key of this "
                     "database (start heraldd once, or give the key file it "
                     "uses with --master-key-file)");
  }
  return CTL_OK;
}

int ctl_cmd_bot_robot(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"group", required_argument, NULL, OPT_GROUP},
    {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"master-key-file", required_argument, NULL, OPT_KEY_FILE},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  const char *group = NULL, *secret_file = NULL, *key_file = NULL, *name;
  char secret[HCR_SECRET_MAX + 2], token[HCR_TOKEN_LEN + 1];
  uint8_t hash[HCR_TOKEN_HASH_LEN], sealed[HCR_SECRET_SEALED_MAX];
  struct hcr_master *m = NULL;
  struct store_group g;
  struct store_bot b;
  size_t slen = 0, sealed_len = 0;
  int opt, rc;

  ctl->help = BOT_ROBOT_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_GROUP: group = optarg; break;
    case OPT_SECRET_FILE: secret_file = optarg; break;
    case OPT_KEY_FILE: key_file = optarg; break;
    default:
      if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
        return rc;
    }
  }
  if (optind >= argc)
    return ctl_usage(ctl, "missing NAME");
  name = argv[optind++];
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if (!group)
    return ctl_usage(ctl, "--group TITLE is required");
  if (secret_file && read_secret(secret_file, secret, &slen) != CTL_OK)
    return CTL_ERR;
  rc = CTL_ERR;
  if (ctl_connect(ctl) != CTL_OK)
    goto out;
  if (store_bot_get(ctl->conn, name, &b) != STORE_OK ||
      store_group_get(ctl->conn, group, &g) != STORE_OK) {
    ctl_store_error(ctl);
    goto out;
  }
  if (secret_file) {
    if (load_master(ctl, key_file, &m) != CTL_OK)
      goto out;
    if (hcr_secret_seal(m, b.id, secret, slen, sealed, &sealed_len) != HCR_OK) {
      ctl_error("sealing the secret failed");
      goto out;
    }
  }
  hcr_token_new(token);
  if (hcr_token_hash(token, hash) != HCR_OK) {
    ctl_error("hashing the token failed");
    goto out;
  }
  if (store_bot_robot_set(ctl->conn, b.id, g.id, hash,
                          secret_file ? sealed : NULL, sealed_len) != STORE_OK) {
    ctl_store_error(ctl);
    goto out;
  }
  fprintf(stderr, "Bot \"%s\" posts into \"%s\" through its robot webhook%s. "
                  "Its access token follows; it is shown only this once:\n",
          b.name, g.title, secret_file ? " (signed calls only)" : "");
  printf("%s\n", token);
  fflush(stdout);
  rc = CTL_OK;
out:
  hcr_master_free(m);
  hcr_wipe(secret, sizeof secret);
  hcr_wipe(token, sizeof token);
  return rc;
}

int ctl_reseal_robot_secrets(struct ctl *ctl, const struct hcr_master *old_m,
                             const struct hcr_master *new_m, long long *done)
{
  struct store_robot_secret *list = NULL;
  uint8_t sealed[HCR_SECRET_SEALED_MAX];
  char secret[HCR_SECRET_MAX + 1];
  size_t n = 0, slen, sealed_len;
  uint64_t id;
  int rc = CTL_OK;

  *done = 0;
  if (store_bot_robot_secrets(ctl->conn, &list, &n) != STORE_OK)
    return ctl_store_error(ctl);
  for (size_t i = 0; i < n && rc == CTL_OK; i++) {
    const struct store_robot_secret *s = &list[i];

    if (hcr_secret_master_id(s->sealed, s->sealed_len, &id) != HCR_OK ||
        id == hcr_master_id(new_m))
      continue;
    if (id != hcr_master_id(old_m) ||
        hcr_secret_open(old_m, s->bot_id, s->sealed, s->sealed_len, secret,
                        &slen) != HCR_OK) {
      /* Unreadable already: the admin must set it again either way. */
      fprintf(stderr, "heraldctl: warning: the robot secret of bot id %lld "
              "does not open with the current master key; set it again with "
              "heraldctl bot robot\n", (long long)s->bot_id);
      continue;
    }
    if (hcr_secret_seal(new_m, s->bot_id, secret, slen, sealed,
                        &sealed_len) != HCR_OK) {
      rc = ctl_error("sealing a robot secret failed");
    } else {
      int src = store_bot_robot_reseal(ctl->conn, s->bot_id, s->sealed,
                                       s->sealed_len, sealed, sealed_len);
      if (src == STORE_OK)
        (*done)++;
      else if (src != STORE_EEXISTS)   /* EEXISTS: replaced meanwhile */
        rc = ctl_store_error(ctl);
    }
    hcr_wipe(secret, sizeof secret);
  }
  free(list);
  return rc;
}
