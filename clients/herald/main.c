/*
 * main.c — herald, Herald's terminal chat client for people: options, the
 * state directory, first use, and the loop.
 *
 * State lives per server and user under $XDG_STATE_HOME/herald (or
 * ~/.local/state/herald, or --state-dir), e.g.
 * ~/.local/state/herald/127.0.0.1_8740/ann/: the client library's outbox,
 * cursors, token and device id, and herald's own cache (cache.c) and
 * marker of the privacy notice. Directories 0700, files 0600.
 *
 * First use: no stored token, so the password is asked on the terminal
 * (not echoed) or read from --password-file; the library keeps the token
 * it gets for the next start. The privacy notice (SPEC §5) is shown once.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "hcrypto.h"
#include "herald_int.h"

#define DEFAULT_SERVER "ws://127.0.0.1:8740"
#define NOTICE_FLAG "privacy-notice-shown"
#define PASSWORD_MAX 1024

static const char USAGE[] =
  "Usage: herald --user LOGIN [options]\n"
  "\n"
  "Herald's terminal chat client. Conversations, read receipts, DINGs and\n"
  "quiet hours in a full-screen terminal; keeps working offline (messages,\n"
  "reads and acknowledgements wait in a local outbox and go out, in order,\n"
  "once the server is back). Type /help inside for commands and keys.\n"
  "\n"
  "Options:\n"
  "  --server URL          ws://HOST:PORT/ or wss://HOST:PORT/ (default: env\n"
  "                        HERALD_SERVER, else " DEFAULT_SERVER ")\n"
  "  --ca-file F           trust the CAs in PEM file F for wss:// (default:\n"
  "                        env HERALD_CA_FILE, else the system's CAs)\n"
  "  --user LOGIN          who you are (default: env HERALD_USER)\n"
  "  --password-file F     read the password from file F on first use\n"
  "                        (default: ask on the terminal, without echo)\n"
  "  --state-dir DIR       keep the offline cache under DIR instead of\n"
  "                        $XDG_STATE_HOME/herald (~/.local/state/herald)\n"
  "  --retry-max SECONDS   longest wait between reconnect attempts (default 30)\n"
  "  -h, --help            this help\n"
  "  --version             print the version\n"
  "\n"
  "The session token is kept in the state directory (mode 0600), so the\n"
  "password is asked only once; /logout revokes it. For scripts and\n"
  "administration use heraldctl.\n";

/* The app whose notice line shows libwebsockets' errors (one per process). */
static struct app *log_app;

/* A libwebsockets error line ("[date] E: SSL error: unable to get local
 * issuer certificate ...") goes to the notice line, without its date:
 * written to stderr it would land on top of the screen. */
static void lws_log_line(int level, const char *line)
{
  const char *s = strstr(line, "] ");
  size_t n;

  (void)level;
  if (!log_app)
    return;
  s = s ? s + 2 : line;
  if (s[0] && s[1] == ':' && s[2] == ' ')
    s += 3;     /* "E: " */
  n = strcspn(s, "\n");
  ui_notice(log_app, "connection: %.*s", (int)(n > 200 ? 200 : n), s);
}

void app_quit(struct app *a)
{
  a->quit = true;
}

/* ---- first use ---- */

/* The device signing key (SPEC §8, §11; PROTOCOL.md device_key): an
 * Ed25519 key pair made once per state directory, of which only the
 * 32-byte seed is kept, as hex in the file "signing-key" (0600, next to
 * the library's token). Its public key is registered for this device (the
 * library's device id, which hello/login send as `dev`) after each first
 * welcome of a run: the server answers `result` again for the same key,
 * and DUPLICATE when this device already has a different one, which is
 * reported (signatures would be refused). */
#define SIGN_KEY_FILE "signing-key"

static int hexval(char ch)
{
  return ch >= '0' && ch <= '9'   ? ch - '0'
         : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
         : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                  : -1;
}

/* 0, -ENOENT (no key yet), -EBADMSG (a file that is not a key). */
static int sign_key_load(struct app *a, uint8_t seed[HCR_SIGN_SEED_LEN])
{
  char path[4200], buf[80];
  FILE *f;
  size_t n;

  snprintf(path, sizeof path, "%s/%s", a->state_dir, SIGN_KEY_FILE);
  if (!(f = fopen(path, "re")))
    return errno == ENOENT ? -ENOENT : -errno;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
    n--;
  if (n != 2 * HCR_SIGN_SEED_LEN) {
    hcr_wipe(buf, sizeof buf);
    return -EBADMSG;
  }
  for (size_t i = 0; i < HCR_SIGN_SEED_LEN; i++) {
    int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);

    if (hi < 0 || lo < 0) {
      hcr_wipe(buf, sizeof buf);
      return -EBADMSG;
    }
    seed[i] = (uint8_t)(hi << 4 | lo);
  }
  hcr_wipe(buf, sizeof buf);
  return 0;
}

static int sign_key_create(struct app *a, uint8_t seed[HCR_SIGN_SEED_LEN])
{
  char hex[2 * HCR_SIGN_SEED_LEN + 2];
  int rc;

  hcr_random(seed, HCR_SIGN_SEED_LEN);
  for (size_t i = 0; i < HCR_SIGN_SEED_LEN; i++)
    snprintf(hex + 2 * i, 3, "%02x", seed[i]);
  hex[2 * HCR_SIGN_SEED_LEN] = '\n';
  rc = cache_write_file(a->state_dir, SIGN_KEY_FILE, hex, sizeof hex - 1);
  hcr_wipe(hex, sizeof hex);
  return rc;
}

static void device_key_cb(struct hc_conn *hc, int err,
                          const struct proto_frame *reply, void *arg)
{
  struct preq *q = arg;
  struct app *a = q->a;

  (void)hc;
  preq_done(q);
  if (err == PROTO_E_DUPLICATE)
    ui_notice(a, "signing key: this device (%s) already has a different key "
              "on the server; /sign will be refused (ask an admin to revoke "
              "the device)", hc_conn_device(a->conn));
  else if (err == -ECONNRESET)
    a->device_key_done = false;         /* try again at the next welcome */
  else if (err)
    cmd_card_error(a, "signing key not registered", err, reply);
}

void app_device_key_register(struct app *a)
{
  uint8_t seed[HCR_SIGN_SEED_LEN];
  struct proto_frame f;
  struct preq *q;
  int rc;

  a->device_key_done = true;
  if (!a->have_sign_key) {
    rc = sign_key_load(a, seed);
    if (rc == -ENOENT)
      rc = sign_key_create(a, seed);
    if (rc != 0) {
      ui_notice(a, "signing key: %s/%s: %s", a->state_dir, SIGN_KEY_FILE,
                rc == -EBADMSG ? "not a key file (left as it is; /sign is "
                                 "unavailable)"
                               : strerror(-rc));
      hcr_wipe(seed, sizeof seed);
      return;
    }
    hcr_sign_seed_keypair(seed, a->sign_pub, a->sign_sk);
    hcr_wipe(seed, sizeof seed);
    a->have_sign_key = true;
  }
  proto_frame_init(&f, PROTO_T_DEVICE_KEY);
  f.u.device_key.dev = (struct proto_str){hc_conn_device(a->conn),
                                          strlen(hc_conn_device(a->conn))};
  f.u.device_key.pub = (struct proto_str){(const char *)a->sign_pub,
                                          sizeof a->sign_pub};
  if (!(q = preq_new(a, 0, 0)))
    return;
  if (hc_request(a->conn, &f, device_key_cb, q, NULL) != 0) {
    preq_done(q);
    a->device_key_done = false;
  }
}

static const char *const PRIVACY_NOTICE[] = {
  "Before you start: what Herald records about your reading.",
  "",
  "- When you open a conversation, Herald records that you have read its "
  "messages, and when.",
  "- Read times are stored encrypted under a key of your own. Only the "
  "sender of a message and you can see when you read it; senders see the "
  "time rounded to the minute.",
  "- Your managers' reports show whether messages were read and how long "
  "they stayed unread (counting business hours only), never your read "
  "times.",
  "- During your quiet hours reads count as read but no time is recorded, "
  "and alerts arrive silently.",
  "- Read times are deleted after the retention period set by your "
  "organisation (90 days by default); read/unread state stays. Your "
  "organisation may let you opt out of read-time recording.",
  "- DINGs must be acknowledged explicitly; the sender sees who has "
  "acknowledged and when.",
  "",
  "This notice is shown once. Press Enter to continue.",
};

void app_privacy_notice(struct app *a)
{
  if (cache_flag_get(a->state_dir, NOTICE_FLAG))
    return;
  ui_overlay(a, OV_NOTICE, "Privacy notice", PRIVACY_NOTICE,
             sizeof PRIVACY_NOTICE / sizeof *PRIVACY_NOTICE);
}

void app_privacy_notice_done(struct app *a)
{
  cache_flag_set(a->state_dir, NOTICE_FLAG);
}

static int read_password_file(const char *file, char *buf, size_t len)
{
  FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
  size_t n;

  if (!f) {
    fprintf(stderr, "herald: cannot open password file %s: %s\n", file,
            strerror(errno));
    return -1;
  }
  if (!fgets(buf, (int)len, f))
    buf[0] = '\0';
  if (f != stdin)
    fclose(f);
  n = strcspn(buf, "\r\n");
  buf[n] = '\0';
  if (!n) {
    fprintf(stderr, "herald: password file %s is empty\n", file);
    return -1;
  }
  return 0;
}

static int prompt_password(const char *login, char *buf, size_t len)
{
  struct termios old, quiet;
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), ok;
  FILE *tty;
  size_t n;

  if (fd < 0) {
    fprintf(stderr, "herald: no terminal to ask the password on "
                    "(use --password-file)\n");
    return -1;
  }
  tty = fdopen(fd, "r+");
  if (!tty) {
    close(fd);
    return -1;
  }
  fprintf(tty, "Password for %s: ", login);
  fflush(tty);
  tcgetattr(fd, &old);
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t)ECHO;
  quiet.c_lflag |= ECHONL;
  tcsetattr(fd, TCSAFLUSH, &quiet);
  ok = fgets(buf, (int)len, tty) != NULL;
  tcsetattr(fd, TCSAFLUSH, &old);
  fclose(tty);
  if (!ok)
    return -1;
  n = strcspn(buf, "\r\n");
  buf[n] = '\0';
  return n ? 0 : -1;
}

/* ---- the state directory ---- */

static int mkdir_private(const char *path)
{
  if (mkdir(path, 0700) != 0 && errno != EEXIST)
    return -errno;
  return 0;
}

/* Root/<server>/<login>, each part made of safe characters. */
static int state_path(struct app *a)
{
  char root[2048], server[256], login[256];
  const char *base = a->state_root, *s;
  size_t k = 0;

  if (base) {
    snprintf(root, sizeof root, "%s", base);
  } else if ((s = getenv("XDG_STATE_HOME")) && *s == '/') {
    snprintf(root, sizeof root, "%s/herald", s);
  } else if ((s = getenv("HOME")) && *s) {
    char tmp[1800];

    snprintf(tmp, sizeof tmp, "%s/.local", s);
    mkdir_private(tmp);
    snprintf(tmp, sizeof tmp, "%s/.local/state", s);
    mkdir_private(tmp);
    snprintf(root, sizeof root, "%s/.local/state/herald", s);
  } else {
    fprintf(stderr, "herald: no HOME: give --state-dir DIR\n");
    return -1;
  }
  s = strstr(a->server, "://");
  for (s = s ? s + 3 : a->server; *s && *s != '/' && k < sizeof server - 1; s++)
    server[k++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                                 (*s >= '0' && *s <= '9') || *s == '.' || *s == '-'
                             ? *s
                             : '_');
  server[k] = '\0';
  k = 0;
  for (s = a->login; *s && k < sizeof login - 1; s++)
    login[k++] = (char)(*s == '/' || *s == '.' ? '_' : *s);
  login[k] = '\0';
  if (mkdir_private(root) != 0) {
    fprintf(stderr, "herald: cannot create %s: %s\n", root, strerror(errno));
    return -1;
  }
  snprintf(a->state_dir, sizeof a->state_dir, "%s/%s", root, server);
  if (mkdir_private(a->state_dir) != 0) {
    fprintf(stderr, "herald: cannot create %s: %s\n", a->state_dir,
            strerror(errno));
    return -1;
  }
  snprintf(a->state_dir, sizeof a->state_dir, "%s/%s/%s", root, server, login);
  return 0;
}

static bool have_token(const struct app *a)
{
  char path[4200];
  struct stat st;

  snprintf(path, sizeof path, "%s/token", a->state_dir);
  return stat(path, &st) == 0 && st.st_size > 0;
}

/* ---- the loop ---- */

static bool should_quit(void *arg)
{
  return ((struct app *)arg)->quit;
}

static void close_leftover(uv_handle_t *h, void *arg)
{
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

int main(int argc, char **argv)
{
  enum { OPT_SERVER = 1, OPT_USER, OPT_PASSWORD_FILE, OPT_STATE_DIR,
         OPT_RETRY_MAX, OPT_CA_FILE, OPT_VERSION };
  static const struct option opts[] = {
    {"server", required_argument, NULL, OPT_SERVER},
    {"user", required_argument, NULL, OPT_USER},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"retry-max", required_argument, NULL, OPT_RETRY_MAX},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0}};
  static struct app app;
  struct app *a = &app;
  struct hc_ctx_config ccfg;
  struct hc_conn_config cfg;
  char password[PASSWORD_MAX + 2] = "";
  const char *env;
  int opt, rc, status = 1;
  char *end;

  setlocale(LC_ALL, "");
  if (hcr_init() != 0) {
    fprintf(stderr, "herald: the crypto library did not start\n");
    return 1;
  }
  memset(a, 0, sizeof *a);
  a->retry_max_ms = 30000;
  env = getenv("HERALD_SERVER");
  a->server = env && *env ? env : DEFAULT_SERVER;
  env = getenv("HERALD_USER");
  a->login = env && *env ? env : NULL;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (opt) {
    case OPT_SERVER: a->server = optarg; break;
    case OPT_USER: a->login = optarg; break;
    case OPT_PASSWORD_FILE: a->password_file = optarg; break;
    case OPT_STATE_DIR: a->state_root = optarg; break;
    case OPT_CA_FILE: a->ca_file = optarg; break;
    case OPT_RETRY_MAX: {
      long v = strtol(optarg, &end, 10);

      if (*end || end == optarg || v < 1 || v > 3600) {
        fprintf(stderr, "herald: --retry-max needs seconds, 1..3600\n");
        return 2;
      }
      a->retry_max_ms = (unsigned)v * 1000u;
      break;
    }
    case 'h': fputs(USAGE, stdout); return 0;
    case OPT_VERSION: printf("herald %s\n", HERALD_VERSION); return 0;
    case ':':
      fprintf(stderr, "herald: %s needs a value\nTry 'herald --help'.\n",
              argv[optind - 1]);
      return 2;
    default:
      fprintf(stderr, "herald: unknown option %s\nTry 'herald --help'.\n",
              argv[optind - 1]);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "herald: unexpected argument \"%s\"\nTry 'herald --help'.\n",
            argv[optind]);
    return 2;
  }
  if (!a->login || !*a->login) {
    fprintf(stderr, "herald: --user LOGIN is required\nTry 'herald --help'.\n");
    return 2;
  }
  if (strncmp(a->server, "ws://", 5) != 0 &&
      strncmp(a->server, "wss://", 6) != 0) {
    fprintf(stderr, "herald: bad server URL \"%s\": use ws://HOST:PORT/ or "
            "wss://HOST:PORT/\n", a->server);
    return 2;
  }
  if (state_path(a) != 0)
    return 1;
  if (!have_token(a)) {
    if (a->password_file ? read_password_file(a->password_file, password,
                                              sizeof password)
                         : prompt_password(a->login, password, sizeof password))
      return 1;
  }

  model_init(&a->m);
  el_init(&a->input);
  if (uv_loop_init(&a->loop) != 0) {
    fprintf(stderr, "herald: cannot start the event loop\n");
    return 1;
  }
  memset(&ccfg, 0, sizeof ccfg);
  ccfg.loop = &a->loop;
  ccfg.lws_log_emit = lws_log_line;
  log_app = a;
  if ((rc = hc_ctx_new(&ccfg, &a->ctx)) != 0) {
    fprintf(stderr, "herald: cannot start the client: %s\n", hc_strerror(rc));
    goto out_loop;
  }
  memset(&cfg, 0, sizeof cfg);
  cfg.url = a->server;
  cfg.login = a->login;
  cfg.password = *password ? password : NULL;
  cfg.client_name = "herald";
  cfg.client_version = HERALD_VERSION;
  cfg.state_dir = a->state_dir;
  cfg.tls.ca_file = a->ca_file;   /* NULL: HERALD_CA_FILE, else the system */
  /* A new device starts from each conversation's newest messages; older
   * ones load with PgUp. */
  cfg.limit_backlog = true;
  cfg.backlog = HERALD_HISTORY_PAGE;
  cfg.reconnect_max_ms = a->retry_max_ms;
  cfg.on_event = net_on_event;
  cfg.arg = a;
  rc = hc_conn_new(a->ctx, &cfg, &a->conn);
  explicit_bzero(password, sizeof password);
  if (rc == -EBUSY) {
    fprintf(stderr, "herald: %s is in use by another herald of this user\n",
            a->state_dir);
    goto out_ctx;
  }
  if (rc != 0) {
    fprintf(stderr, "herald: cannot open %s: %s\n", a->state_dir,
            hc_strerror(rc));
    goto out_ctx;
  }
  /* The cache, before the first frame: the screen shows it at once. */
  if ((rc = cache_load(&a->m, a->state_dir)) != 0) {
    model_cleanup(&a->m);
    model_init(&a->m);
    fprintf(stderr, "herald: ignoring the unreadable cache (%s)\n",
            hc_strerror(rc));
  }
  net_load_pending(a);
  for (size_t i = 0; i < a->m.nconvs; i++)
    if (a->m.convs[i].id == a->m.shown)
      a->sel = i;
  if (ui_start(a) != 0)
    goto out_conn;
  app_privacy_notice(a);
  hc_conn_start(a->conn);
  hc_run_until(a->ctx, should_quit, a, -1);
  status = 0;
  ui_stop(a);
out_conn:
  if (a->state_dir[0] && cache_save(&a->m, a->state_dir) != 0 && status == 0)
    fprintf(stderr, "herald: could not save the cache in %s\n", a->state_dir);
out_ctx:
  hc_ctx_free(a->ctx);               /* frees the connection, flushes cursors */
  preq_free_all(a);                  /* contexts of requests never answered */
  hcr_wipe(a->sign_sk, sizeof a->sign_sk);
out_loop:
  uv_walk(&a->loop, close_leftover, NULL);
  uv_run(&a->loop, UV_RUN_DEFAULT);
  uv_loop_close(&a->loop);
  model_cleanup(&a->m);
  el_cleanup(&a->input);
  return status;
}
