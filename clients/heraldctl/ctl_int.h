/*
 * ctl_int.h — what heraldctl's source files share: the command context,
 * database selection, error reporting with stable wording, password input
 * and output helpers.
 *
 * Exit codes: 0 ok, 1 error, 2 usage.
 */
#ifndef HERALD_CTL_INT_H
#define HERALD_CTL_INT_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "store.h"

enum { CTL_OK = 0, CTL_ERR = 1, CTL_USAGE = 2 };

/* Long options every command accepts, and their short codes. */
#define CTL_OPT_DATA_DIR 1001
#define CTL_OPT_DB 1002
#define CTL_COMMON_OPTIONS                                                   \
  {"data-dir", required_argument, NULL, CTL_OPT_DATA_DIR},                   \
  {"db", required_argument, NULL, CTL_OPT_DB},                               \
  {"help", no_argument, NULL, 'h'}

#define CTL_COMMON_HELP                                                      \
  "\nDatabase (any command):\n"                                              \
  "  --data-dir DIR   the embedded PostgreSQL under DIR (works whether or\n" \
  "                   not heraldd is running on it)\n"                       \
  "  --db CONNINFO    an external PostgreSQL (libpq conninfo or URI);\n"     \
  "                   also env HERALD_DB\n"                                  \
  "  Default: env HERALD_DATA_DIR, else /var/lib/herald as root, else\n"     \
  "  $XDG_DATA_HOME/herald or ~/.local/share/herald.\n"

struct ctl {
  const char *cmd;       /* "user add", for messages */
  const char *help;      /* the command's --help text */
  const char *data_dir;  /* --data-dir */
  const char *db;        /* --db */
  struct store_embedded *emb;
  struct store_conn *conn;
};

/* A command: parses its own options from argv (argv[0] is the command
 * word) and returns an exit code. */
typedef int (*ctl_cmd_fn)(struct ctl *ctl, int argc, char **argv);

int ctl_cmd_init(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_user_add(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_user_list(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_user_deactivate(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_user_erase(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_report_unread(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_user_set_manager(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_group_create(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_group_add_member(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_group_list(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_group_members(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_group_automate(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_bot_create(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_bot_list(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_bot_revoke(struct ctl *ctl, int argc, char **argv);
/* cmd_bot.c: a bot's robot webhook. */
int ctl_cmd_bot_robot(struct ctl *ctl, int argc, char **argv);
/* For keys rotate: re-seals every robot secret sealed under old_m with
 * new_m (compare and swap); *done counts them. CTL_OK or CTL_ERR. */
struct hcr_master;
int ctl_reseal_robot_secrets(struct ctl *ctl, const struct hcr_master *old_m,
                             const struct hcr_master *new_m, long long *done);
/* cmd_keys.c: master key rotation (database and key file). */
int ctl_cmd_keys_rotate(struct ctl *ctl, int argc, char **argv);
/* cmd_audit.c: the cards' hash chains and an employee's signed history. */
int ctl_cmd_audit_verify(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_audit_export(struct ctl *ctl, int argc, char **argv);
/* cmd_quiet.c: quiet-hours policies. */
int ctl_cmd_quiet_show(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_quiet_set(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_quiet_org(struct ctl *ctl, int argc, char **argv);
/* cmd_ding.c: the organisation's DING policy. */
int ctl_cmd_ding_schedule(struct ctl *ctl, int argc, char **argv);
/* cmd_chat.c: as a user, over the server's WebSocket (no database). */
int ctl_cmd_send(struct ctl *ctl, int argc, char **argv);
/* cmd_card.c: cards as a user over the server, and from the database. */
int ctl_cmd_card_post(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_card_act(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_card_edit(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_card_show(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_tail(struct ctl *ctl, int argc, char **argv);

/* getopt_long option string of every command: ':' first so that a missing
 * value is reported as ':' rather than '?'. */
#define CTL_SHORT_OPTIONS ":h"

/* Handles an option of CTL_COMMON_OPTIONS, or reports an unknown option or
 * a missing value (getopt's opterr must be 0). Returns -1 when handled and
 * parsing goes on, else the exit code to return now (0 after --help). */
int ctl_common_option(struct ctl *ctl, int opt, char **argv);

/* Prints "heraldctl: CMD: message" and "Try 'heraldctl CMD --help'." to
 * stderr; returns CTL_USAGE. */
int ctl_usage(struct ctl *ctl, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* Prints "heraldctl: message" to stderr; returns CTL_ERR. */
int ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the storage error of the last call; returns CTL_ERR. */
int ctl_store_error(struct ctl *ctl);

/* Selects the database (--db, --data-dir, HERALD_DB, default data dir),
 * attaches or connects, and applies migrations. CTL_OK or CTL_ERR (printed). */
int ctl_connect(struct ctl *ctl);
/* Closes the connection and stops an embedded cluster this process
 * started. */
void ctl_disconnect(struct ctl *ctl);

/* Reads a password: from `file` ("-" = stdin, first line), or, when file is
 * NULL, from an interactive prompt on the terminal without echo — asked
 * twice, and held to the length policy, when `confirm` (setting a new
 * password); once, as typed, for a login. Never
 * from argv. Writes it NUL-terminated into buf. CTL_OK or CTL_ERR
 * (printed). */
int ctl_read_password(const char *file, const char *login, bool confirm,
                      char *buf, size_t len);

/* Output formats of list commands. */
enum ctl_format { CTL_TABLE, CTL_JSON };
int ctl_parse_format(struct ctl *ctl, const char *s, enum ctl_format *out);

/* A text table: add cells row by row, then print with columns padded by
 * display width (CJK and emoji take two columns). */
struct ctl_table;
struct ctl_table *ctl_table_new(int ncols, const char *const *headers);
void ctl_table_add(struct ctl_table *t, const char *const *cells);
void ctl_table_print(struct ctl_table *t, FILE *f);
void ctl_table_free(struct ctl_table *t);

#endif
