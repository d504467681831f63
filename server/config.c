/*
 * config.c — the settings table and its three sources (see config_int.h).
 *
 * Adding a setting is one row in `settings[]` plus a field in struct
 * srv_config; --help, --check-config, the environment names and the checks
 * all come from the row.
 */
#include "config_int.h"
#include "log_int.h"

#include "store.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL };

struct cfg_entry {
  const char *name;
  enum cfg_type type;
  const char *def;           /* NULL: computed (see default_of) */
  long long min, max;        /* CFG_INT bounds */
  size_t offset;             /* into struct srv_config */
  const char *help;
  int (*check)(struct srv_config *cfg, const char *value, char *err,
               size_t errlen);
};

static int check_listen(struct srv_config *cfg, const char *v, char *err,
                        size_t errlen);
static int check_log_level(struct srv_config *cfg, const char *v, char *err,
                           size_t errlen);
static int check_retries(struct srv_config *cfg, const char *v, char *err,
                         size_t errlen);

#define OFF(f) offsetof(struct srv_config, f)

static const struct cfg_entry settings[] = {
  {"listen", CFG_STR, "127.0.0.1:8740", 0, 0, OFF(listen),
   "HOST:PORT to serve WebSocket and HTTP on (loopback by default)",
   check_listen},
  {"tls-cert", CFG_STR, "", 0, 0, OFF(tls_cert),
   "PEM file with the server certificate followed by its intermediates; "
   "with tls-key, WebSocket (wss://) and HTTP (https://) are served over "
   "TLS 1.2/1.3 on the listen port. Re-read with tls-key on SIGHUP",
   NULL},
  {"tls-key", CFG_STR, "", 0, 0, OFF(tls_key),
   "PEM file with the private key of tls-cert (a path: the key itself is "
   "never a setting; keep the file mode 0600)", NULL},
  {"allow-plaintext", CFG_BOOL, "false", 0, 1, OFF(allow_plaintext),
   "serve plain text on a listen address that is not loopback (only "
   "behind a TLS-terminating proxy on a private network); without TLS "
   "and without this, such an address is refused", NULL},
  {"data-dir", CFG_STR, NULL, 0, 0, OFF(data_dir),
   "directory of the embedded PostgreSQL cluster (used when no db is set)",
   NULL},
  {"db", CFG_STR, "", 0, 0, OFF(db),
   "libpq connection string of an external PostgreSQL; empty = embedded",
   NULL},
  {"master-key-file", CFG_STR, "", 0, 0, OFF(master_key_file),
   "file holding the 32-byte master key that wraps users' data keys (mode "
   "0600); empty = DATA_DIR/master.key, created on first start. "
   "HERALD_MASTER_KEY (the key itself, hex or base64) takes precedence. "
   "Back it up apart from the database", NULL},
  {"log-level", CFG_STR, "info", 0, 0, OFF(log_level),
   "error, warn, info or debug", check_log_level},
  {"max-frame", CFG_INT, "65536", 1024, 16 * 1024 * 1024, OFF(max_frame),
   "largest WebSocket message accepted, in bytes (larger: close 1009)", NULL},
  {"max-body", CFG_INT, "16384", 256, 1024 * 1024, OFF(max_body),
   "largest message body (text or card JSON), in bytes", NULL},
  {"queue-frames", CFG_INT, "4096", 16, 1000000, OFF(queue_frames),
   "frames queued to one connection before it is dropped as too slow",
   NULL},
  {"queue-bytes", CFG_INT, "4194304", 65536, 1073741824, OFF(queue_bytes),
   "bytes queued to one connection before it is dropped as too slow", NULL},
  {"allowed-origins", CFG_STR, "", 0, 0, OFF(allowed_origins),
   "comma-separated Origin values browsers may connect from (clients "
   "that send no Origin are always allowed)", NULL},
  {"auth-timeout", CFG_INT, "10", 1, 300, OFF(auth_timeout),
   "seconds a new connection has to send hello or login", NULL},
  {"ping-interval", CFG_INT, "30", 1, 3600, OFF(ping_interval),
   "seconds between keep-alive pings; a peer silent for twice this is "
   "dropped", NULL},
  {"token-ttl", CFG_INT, "2592000", 60, 31536000, OFF(token_ttl),
   "lifetime of a session token, in seconds (default 30 days)", NULL},
  {"login-workers", CFG_INT, "2", 1, 16, OFF(login_workers),
   "password hashes computed at once (each takes ~50 ms and 64 MiB)",
   NULL},
  {"db-readers", CFG_INT, "4", 1, 64, OFF(db_readers),
   "database connections for reads (replay, history, lists)", NULL},
  {"commit-batch", CFG_INT, "512", 1, 10000, OFF(commit_batch),
   "most messages committed in one transaction (group commit)", NULL},
  {"page-size", CFG_INT, "500", 1, 1000, OFF(page_size),
   "messages per replay page", NULL},
  {"shutdown-grace", CFG_INT, "10", 0, 300, OFF(shutdown_grace),
   "seconds to finish pending commits after SIGTERM", NULL},
  {"sweep-interval", CFG_INT, "60", 1, 3600, OFF(sweep_interval),
   "seconds between sweeps for unread reminders and the read-time "
   "retention purge (a reminder may come up to this much late)", NULL},
  {"test-clock-file", CFG_STR, "", 0, 0, OFF(test_clock_file),
   "TEST ONLY, never in production: a file holding an offset in ms that "
   "is added to the server's clock (and its database sessions' "
   "herald_now()); re-read on SIGUSR2, forward only. Lets tests move time "
   "by hours in a second", NULL},
  {"ding-poll", CFG_INT, "30", 1, 3600, OFF(ding_poll),
   "most seconds between two looks at due DING steps (steps of DINGs "
   "sent through this server are fired on time anyway; this bounds the "
   "delay for those sent through another server on the same database)",
   NULL},
  {"webhook-timeout", CFG_INT, "10", 1, 120, OFF(webhook_timeout),
   "seconds one DING escalation webhook request may take", NULL},
  {"webhook-retries", CFG_STR, "10,60,300", 0, 0, OFF(webhook_retries),
   "seconds to wait before each retry of a failed escalation webhook, "
   "comma-separated (at most 16, each 1-86400; empty: no retry)",
   check_retries},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static const char *source_names[] = {"default", "file", "environment", "flag"};

static int check_retries(struct srv_config *cfg, const char *v, char *err,
                         size_t errlen)
{
  const char *p = v;
  int n = 0;

  (void)cfg;
  while (*p) {
    char *end;
    long s = strtol(p, &end, 10);

    if (end == p || s < 1 || s > 86400 || ++n > 16 ||
        (*end && *end != ',')) {
      snprintf(err, errlen, "must be a comma-separated list of at most 16 "
               "numbers of seconds, each 1-86400 (e.g. 10,60,300)");
      return -1;
    }
    p = *end ? end + 1 : end;
  }
  return 0;
}

static int check_listen(struct srv_config *cfg, const char *v, char *err,
                        size_t errlen)
{
  const char *colon = strrchr(v, ':');
  char *end;
  long port;

  if (!colon || colon == v) {
    snprintf(err, errlen, "expected HOST:PORT, got \"%s\"", v);
    return -1;
  }
  errno = 0;
  port = strtol(colon + 1, &end, 10);
  if (errno || *end || port < 0 || port > 65535 || end == colon + 1) {
    snprintf(err, errlen, "port must be 0..65535, got \"%s\"", colon + 1);
    return -1;
  }
  free(cfg->listen_host);
  cfg->listen_host = strndup(v, (size_t)(colon - v));
  /* [::1]:8740 */
  if (cfg->listen_host[0] == '[') {
    size_t n = strlen(cfg->listen_host);
    if (n < 3 || cfg->listen_host[n - 1] != ']') {
      snprintf(err, errlen, "bad IPv6 address in \"%s\"", v);
      return -1;
    }
    memmove(cfg->listen_host, cfg->listen_host + 1, n - 2);
    cfg->listen_host[n - 2] = '\0';
  }
  cfg->listen_port = (int)port;
  return 0;
}

static int check_log_level(struct srv_config *cfg, const char *v, char *err,
                           size_t errlen)
{
  (void)cfg;
  if (srv_log_set_level_name(v) != 0) {
    snprintf(err, errlen, "expected error, warn, info or debug, got \"%s\"", v);
    return -1;
  }
  return 0;
}

static const struct cfg_entry *find(const char *name, size_t len)
{
  for (size_t i = 0; i < NSETTINGS; i++)
    if (strlen(settings[i].name) == len &&
        strncmp(settings[i].name, name, len) == 0)
      return &settings[i];
  return NULL;
}

/* true/yes/on/1 -> 1, false/no/off/0 -> 0, else -1. */
static int parse_bool(const char *v)
{
  static const char *yes[] = {"true", "yes", "on", "1"};
  static const char *no[] = {"false", "no", "off", "0"};

  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(v, yes[i]) == 0)
      return 1;
    if (strcasecmp(v, no[i]) == 0)
      return 0;
  }
  return -1;
}

int srv_config_is_loopback(const char *host)
{
  struct in_addr a4;
  struct in6_addr a6;

  if (strcasecmp(host, "localhost") == 0)
    return 1;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6) ||
           (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
  return 0;
}

/* Rules between settings, checked once every source is in. */
static int check_combination(const struct srv_config *cfg, char *err,
                             size_t errlen)
{
  int tls = cfg->tls_cert[0] != '\0';

  if (tls != (cfg->tls_key[0] != '\0')) {
    snprintf(err, errlen, "setting %s: TLS needs both tls-cert and tls-key, "
             "and %s is not set", tls ? "tls-key" : "tls-cert",
             tls ? "tls-key" : "tls-cert");
    return -1;
  }
  if (!tls && !cfg->allow_plaintext &&
      !srv_config_is_loopback(cfg->listen_host)) {
    snprintf(err, errlen, "setting listen: %s is not a loopback address and "
             "TLS is off: set tls-cert and tls-key, or set allow-plaintext = "
             "true when a TLS-terminating proxy is in front",
             cfg->listen_host);
    return -1;
  }
  return 0;
}

/* Stores one value, checking type and bounds. */
static int set_value(struct srv_config *cfg, const struct cfg_entry *e,
                     const char *v, int source, char *err, size_t errlen)
{
  char why[256] = "";
  char *p = (char *)cfg + e->offset;

  if (e->type == CFG_INT) {
    char *end;
    long long n;

    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || *end || end == v) {
      snprintf(err, errlen, "setting %s (%s): expected an integer, got \"%s\"",
               e->name, source_names[source], v);
      return -1;
    }
    if (n < e->min || n > e->max) {
      snprintf(err, errlen, "setting %s (%s): %lld is outside %lld..%lld",
               e->name, source_names[source], n, e->min, e->max);
      return -1;
    }
    *(int *)p = (int)n;
  } else if (e->type == CFG_BOOL) {
    int b = parse_bool(v);

    if (b < 0) {
      snprintf(err, errlen, "setting %s (%s): expected true or false, got "
               "\"%s\"", e->name, source_names[source], v);
      return -1;
    }
    *(int *)p = b;
  } else {
    char **s = (char **)p;
    free(*s);
    *s = strdup(v);
  }
  if (e->check && e->check(cfg, v, why, sizeof(why)) != 0) {
    snprintf(err, errlen, "setting %s (%s): %s", e->name,
             source_names[source], why);
    return -1;
  }
  return 0;
}

static char *trim(char *s)
{
  char *end;

  while (isspace((unsigned char)*s))
    s++;
  end = s + strlen(s);
  while (end > s && isspace((unsigned char)end[-1]))
    *--end = '\0';
  return s;
}

static int load_file(struct srv_config *cfg, const char *path, char *err,
                     size_t errlen)
{
  FILE *f = fopen(path, "r");
  char line[4096];
  int lineno = 0, rc = 0;

  if (!f) {
    snprintf(err, errlen, "setting config: cannot open %s: %s", path,
             strerror(errno));
    return -1;
  }
  while (fgets(line, sizeof(line), f)) {
    char *s, *eq, *key, *val;
    const struct cfg_entry *e;

    lineno++;
    s = trim(line);
    if (*s == '\0' || *s == '#')
      continue;
    eq = strchr(s, '=');
    if (!eq) {
      snprintf(err, errlen, "%s:%d: expected \"name = value\"", path, lineno);
      rc = -1;
      break;
    }
    *eq = '\0';
    key = trim(s);
    val = trim(eq + 1);
    if (val[0] == '"' && strlen(val) >= 2 && val[strlen(val) - 1] == '"') {
      val[strlen(val) - 1] = '\0';
      val++;
    }
    if (!(e = find(key, strlen(key)))) {
      snprintf(err, errlen, "%s:%d: unknown setting \"%s\"", path, lineno, key);
      rc = -1;
      break;
    }
    if (set_value(cfg, e, val, 1, err, errlen) != 0) {
      rc = -1;
      break;
    }
  }
  fclose(f);
  return rc;
}

static void env_name(const char *name, char *out, size_t len)
{
  size_t i = (size_t)snprintf(out, len, "HERALD_");
  for (; *name && i + 1 < len; name++)
    out[i++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
  out[i] = '\0';
}

int srv_config_load(struct srv_config *cfg, int argc, char **argv,
                    enum srv_config_action *action, char *err, size_t errlen)
{
  const char *file = getenv("HERALD_CONFIG");
  char envname[64];

  memset(cfg, 0, sizeof(*cfg));
  *action = SRV_CONFIG_RUN;

  /* Flags that are not settings come first: they change what we do. */
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      *action = SRV_CONFIG_HELP;
      return 0;
    }
    if (strcmp(argv[i], "--version") == 0) {
      *action = SRV_CONFIG_VERSION;
      return 0;
    }
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
      file = argv[i + 1];
    else if (strncmp(argv[i], "--config=", 9) == 0)
      file = argv[i] + 9;
  }

  for (size_t i = 0; i < NSETTINGS; i++) {
    const struct cfg_entry *e = &settings[i];
    char dir[4096];
    const char *def = e->def;

    /* The one computed default: shared with heraldctl through storage. */
    if (!def) {
      if (store_default_data_dir(dir, sizeof(dir)) != 0)
        dir[0] = '\0';
      def = dir;
    }
    if (set_value(cfg, e, def, 0, err, errlen) != 0)
      return -1;
  }
  if (file && *file) {
    cfg->config_file = strdup(file);
    if (load_file(cfg, file, err, errlen) != 0)
      return -1;
  }
  for (size_t i = 0; i < NSETTINGS; i++) {
    const char *v;
    env_name(settings[i].name, envname, sizeof(envname));
    if ((v = getenv(envname)) && set_value(cfg, &settings[i], v, 2, err,
                                           errlen) != 0)
      return -1;
  }
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *name, *eq, *val;
    const struct cfg_entry *e;
    size_t len;

    if (strcmp(arg, "--check-config") == 0) {
      *action = SRV_CONFIG_CHECK;
      continue;
    }
    if (strcmp(arg, "--print-config") == 0) {
      *action = SRV_CONFIG_PRINT;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0) {
      snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", arg);
      return -1;
    }
    name = arg + 2;
    eq = strchr(name, '=');
    len = eq ? (size_t)(eq - name) : strlen(name);
    if (len == 6 && strncmp(name, "config", 6) == 0) {
      i += eq ? 0 : 1;
      continue;
    }
    if (!(e = find(name, len))) {
      snprintf(err, errlen, "unknown option \"%s\" (see --help)", arg);
      return -1;
    }
    if (eq) {
      val = eq + 1;
    } else if (i + 1 < argc) {
      val = argv[++i];
    } else {
      snprintf(err, errlen, "setting %s (flag): missing value", e->name);
      return -1;
    }
    if (set_value(cfg, e, val, 3, err, errlen) != 0)
      return -1;
  }
  /* The documented file is the same whatever the other settings say. */
  if (*action == SRV_CONFIG_PRINT)
    return 0;
  return check_combination(cfg, err, errlen);
}

void srv_config_cleanup(struct srv_config *cfg)
{
  for (size_t i = 0; i < NSETTINGS; i++)
    if (settings[i].type == CFG_STR)
      free(*(char **)((char *)cfg + settings[i].offset));
  free(cfg->listen_host);
  free(cfg->config_file);
  memset(cfg, 0, sizeof(*cfg));
}

void srv_config_usage(FILE *out)
{
  char envname[64];

  fprintf(out,
          "Usage: heraldd [OPTION VALUE]... [--check-config]\n"
          "Herald messaging server: WebSocket (subprotocol herald.v1) and "
          "HTTP on one port.\n\n"
          "With no database configured heraldd runs its embedded default: "
          "it creates,\nstarts and stops its own PostgreSQL cluster under "
          "the data directory.\n\n"
          "Each setting can be given as --NAME VALUE, --NAME=VALUE, in the "
          "environment\nas HERALD_NAME, or as \"NAME = VALUE\" in the file "
          "named by --config FILE\n(or HERALD_CONFIG). Flags win over the "
          "environment, which wins over the file.\n\n"
          "Options:\n"
          "  --config FILE          read settings from FILE\n"
          "  --check-config         check the settings (and the TLS files), "
          "print them,\n                         and exit\n"
          "  --print-config         write the documented configuration file "
          "(every\n                         setting with its default) and "
          "exit\n"
          "  --help                 show this help and exit\n"
          "  --version              show the version and exit\n\n"
          "Settings:\n");
  for (size_t i = 0; i < NSETTINGS; i++) {
    const struct cfg_entry *e = &settings[i];
    env_name(e->name, envname, sizeof(envname));
    fprintf(out, "  --%-20s %s\n", e->name, e->help);
    fprintf(out, "  %-22s default: %s", "",
            e->def ? (*e->def ? e->def : "(empty)") : "(see below)");
    if (e->type == CFG_BOOL)
      fprintf(out, " (true or false)");
    if (e->type == CFG_INT)
      fprintf(out, "; range %lld..%lld", e->min, e->max);
    fprintf(out, "; env %s\n", envname);
  }
  fprintf(out, "\nThe default data-dir is $HERALD_DATA_DIR, else "
               "/var/lib/herald when run as root,\nelse "
               "$XDG_DATA_HOME/herald or ~/.local/share/herald.\n");
}

void srv_config_dump(const struct srv_config *cfg, FILE *out)
{
  for (size_t i = 0; i < NSETTINGS; i++) {
    const struct cfg_entry *e = &settings[i];
    const char *p = (const char *)cfg + e->offset;
    if (e->type == CFG_INT)
      fprintf(out, "%s = %d\n", e->name, *(const int *)p);
    else if (e->type == CFG_BOOL)
      fprintf(out, "%s = %s\n", e->name, *(const int *)p ? "true" : "false");
    else if (strcmp(e->name, "db") == 0 && strstr(*(char *const *)p,
                                                  "password"))
      fprintf(out, "%s = (set; contains a password, not shown)\n", e->name);
    else
      fprintf(out, "%s = \"%s\"\n", e->name, *(char *const *)p);
  }
}

/* Writes `text` as "# " comment lines of at most 76 columns. */
static void comment_wrapped(FILE *out, const char *text)
{
  const char *p = text;

  while (*p) {
    size_t n = strlen(p), cut = n;

    if (n > 74) {
      cut = 74;
      while (cut > 0 && p[cut] != ' ')
        cut--;
      if (cut == 0)
        cut = strcspn(p, " ");
    }
    fprintf(out, "# %.*s\n", (int)cut, p);
    p += cut;
    while (*p == ' ')
      p++;
  }
}

void srv_config_print_file(FILE *out)
{
  char envname[64], line[512];

  fprintf(out,
    "# heraldd.conf: every heraldd setting with its default.\n"
    "#\n"
    "# Generated by `heraldd --print-config` from the settings table; a test\n"
    "# fails when this file and the table differ. Regenerate it with:\n"
    "#   heraldd --print-config > docker/heraldd.conf\n"
    "#\n"
    "# Use: heraldd --config FILE (or HERALD_CONFIG=FILE). Lines are\n"
    "# \"name = value\" (quotes optional); \"#\" starts a comment. Every\n"
    "# setting below is commented out, so this file changes nothing until a\n"
    "# line is uncommented. A setting can also come from the environment\n"
    "# (HERALD_NAME, e.g. HERALD_LISTEN) or a flag (--name VALUE): flags win\n"
    "# over the environment, which wins over this file.\n"
    "# `heraldd --check-config --config FILE` checks a file.\n");
  for (size_t i = 0; i < NSETTINGS; i++) {
    const struct cfg_entry *e = &settings[i];

    env_name(e->name, envname, sizeof(envname));
    fprintf(out, "\n");
    comment_wrapped(out, e->help);
    if (e->type == CFG_INT)
      snprintf(line, sizeof(line), "Range %lld..%lld; environment %s.",
               e->min, e->max, envname);
    else if (e->type == CFG_BOOL)
      snprintf(line, sizeof(line), "Boolean (true or false); environment %s.",
               envname);
    else
      snprintf(line, sizeof(line), "Environment %s.", envname);
    comment_wrapped(out, line);
    if (!e->def) {
      /* The one computed default (data-dir): the rule, and the value as
       * root, which is what the container runs with. */
      comment_wrapped(out, "Default: $HERALD_DATA_DIR, else /var/lib/herald "
                           "when run as root, else $XDG_DATA_HOME/herald or "
                           "~/.local/share/herald.");
      fprintf(out, "#%s = \"/var/lib/herald\"\n", e->name);
    } else if (e->type == CFG_STR) {
      fprintf(out, "#%s = \"%s\"\n", e->name, e->def);
    } else {
      fprintf(out, "#%s = %s\n", e->name, e->def);
    }
  }
}
