/*
 * config_int.h — heraldd's settings: one table (name, default, bounds, help)
 * read from defaults, then an optional file, then the environment
 * (HERALD_<NAME> with '-' as '_'), then command-line flags; later sources
 * win. Every value is checked at start-up and an error names the setting
 * and the source it came from.
 *
 * Not thread-safe while loading; read-only afterwards.
 */
#ifndef HERALD_SRV_CONFIG_INT_H
#define HERALD_SRV_CONFIG_INT_H

#include <stddef.h>
#include <stdio.h>

struct srv_config {
  char *config_file;      /* file the settings came from, or NULL */
  char *listen;           /* "host:port" */
  char *listen_host;      /* parsed from listen */
  int listen_port;
  char *tls_cert;         /* PEM certificate chain; empty = no TLS */
  char *tls_key;          /* PEM private key file (a path, never the key) */
  int allow_plaintext;    /* plain text on a non-loopback listen address */
  char *data_dir;         /* embedded PostgreSQL lives under it */
  char *db;               /* libpq conninfo; empty = embedded default */
  char *master_key_file;  /* master key file; empty = DATA_DIR/master.key
                             (the key itself only ever comes from a file
                             or HERALD_MASTER_KEY, never from argv) */
  char *log_level;
  int max_frame;          /* largest WebSocket message accepted, bytes */
  int max_body;           /* largest message body, bytes */
  int queue_frames;       /* outbound frames queued per connection */
  int queue_bytes;        /* outbound bytes queued per connection */
  char *allowed_origins;  /* comma-separated Origin allow-list */
  int auth_timeout;       /* seconds a new connection has to authenticate */
  int ping_interval;      /* seconds between keep-alive pings */
  int token_ttl;          /* session token lifetime, seconds */
  int login_workers;      /* password hashes at once */
  int db_readers;         /* database reader threads */
  int commit_batch;       /* largest group commit, messages */
  int page_size;          /* messages per replay page */
  int shutdown_grace;     /* seconds to finish pending work on SIGTERM */
  int sweep_interval;     /* seconds between reminder/retention sweeps */
  char *test_clock_file;  /* TEST ONLY: clock offset file (clock_int.h) */
  /* DING escalations (ding_sched.c). */
  int ding_poll;          /* most seconds between looks at due steps */
  int webhook_timeout;    /* seconds one webhook request may take */
  char *webhook_retries;  /* seconds before each retry, "10,60,300" */
};

enum srv_config_action {
  SRV_CONFIG_RUN,          /* start the server */
  SRV_CONFIG_HELP,         /* --help was given: usage printed */
  SRV_CONFIG_VERSION,      /* --version was given */
  SRV_CONFIG_CHECK,        /* --check-config: checked, nothing to run */
  SRV_CONFIG_PRINT,        /* --print-config: the documented file */
};

/* Loads `cfg` from defaults, file, environment and argv. On error writes one
 * line naming the setting into `err` and returns -1; otherwise returns 0 and
 * sets *action. Strings in `cfg` are heap copies owned by `cfg`; free them
 * with srv_config_cleanup(). */
int srv_config_load(struct srv_config *cfg, int argc, char **argv,
                    enum srv_config_action *action, char *err, size_t errlen);

void srv_config_cleanup(struct srv_config *cfg);

/* Writes the --help text, generated from the settings table. */
void srv_config_usage(FILE *out);

/* Writes the documented configuration file (docker/heraldd.conf): every
 * setting with its help and default, commented out. Depends on nothing but
 * the table, so the same binary always writes the same text. */
void srv_config_print_file(FILE *out);

/* True when `host` (as in listen) is a loopback address or "localhost". */
int srv_config_is_loopback(const char *host);

/* Writes every setting with its effective value (secrets masked). */
void srv_config_dump(const struct srv_config *cfg, FILE *out);

#endif
