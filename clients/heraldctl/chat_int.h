/*
 * chat_int.h — what heraldctl send and tail share: logging in over the
 * client library, a blocking request helper, finding the conversation,
 * the common options, and the event callback (chat.c).
 */
#ifndef HERALD_CTL_CHAT_INT_H
#define HERALD_CTL_CHAT_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl_int.h"
#include "hc.h"

#define DEFAULT_SERVER "ws://127.0.0.1:8740"
#define DEFAULT_TIMEOUT_S 15

enum { OPT_SERVER = 1, OPT_LOGIN, OPT_PASSWORD_FILE, OPT_TOKEN_FILE,
       OPT_CONV, OPT_GROUP, OPT_TO, OPT_LAST, OPT_TIMEOUT, OPT_OLDER,
       OPT_FORMAT, OPT_DING, OPT_DING_TO, OPT_ESC, OPT_CA_FILE };

#define CHAT_DING_TO_MAX 64

/* Which command parses its options (they share most of them). */
enum chat_cmd { CHAT_SEND, CHAT_TAIL, CHAT_REPORT };


/* One chat session: the options, the connection and what the event
 * callback saw. */
struct chat {
  struct ctl *ctl;
  const char *server, *login, *password_file, *token_file;
  const char *ca_file;         /* --ca-file: CAs to trust for wss:// */
  const char *group, *to;
  uint64_t conv;
  long timeout_s;
  long last;                   /* tail --last; -1 = default */
  long older_s;                /* report --older-than, seconds */
  const char *format;          /* report --format */
  const char *ding;            /* send --ding URGENCY */
  const char *ding_to[CHAT_DING_TO_MAX]; /* send --ding-to (none: all) */
  size_t n_ding_to;
  const char *esc;             /* send --esc 5m,15m,... */

  struct hc_ctx *ctx;
  struct hc_conn *conn;
  bool used_password;          /* log out at the end */
  bool reported_offline;

  /* send */
  uint64_t oid;
  bool sent_done, sent_failed;
  int sent_err;
  uint64_t ack_conv, ack_seq, ack_ts;
  bool ack_dup;
  char err_msg[600];

  /* tail */
  bool tail_live;              /* history printed: print messages as they come */
  uint64_t printed_upto;       /* highest seq printed */
  struct held *held;           /* live messages that came before the history */
  size_t nheld, held_cap;
  uint64_t *member_uids;       /* the conversation's members: uid -> */
  char **member_logins;        /* login (copies) */
  size_t nmembers;
  uint64_t members_req;        /* a conv_members refresh in flight */
  bool want_reminds;           /* tail: print unread reminders */
  bool first_synced;           /* the first sync is done: reminders from
                                  then on are new (tail prints them) */
  volatile sig_atomic_t stop;
};

struct held {
  uint64_t seq, from, ts;
  enum proto_kind kind;
  char *body;
  size_t len;
};

/* A finished request: its reply (a copy that owns its memory), or its
 * error and the server's message. */
struct call {
  bool done;
  int err;
  struct proto_frame reply;
  char msg[600];
};

/* Sends `req` and waits for its reply (a copy in out->reply, to be freed
 * with proto_frame_cleanup); `what` names the request in errors. CTL_OK
 * or CTL_ERR (printed). */
int chat_call(struct chat *ch, const struct proto_frame *req,
              struct call *out, const char *what);

/* Parses the options send and tail share; returns -1 when the caller goes
 * on, or an exit status. */
int chat_parse_common(struct chat *ch, int argc, char **argv,
                      enum chat_cmd cmd);

/* Connects and logs in (password or token file); CTL_OK or CTL_ERR. */
int chat_open(struct chat *ch);

/* Logs out a password session, closes and frees the connection. */
void chat_close(struct chat *ch);

/* Sets ch->conv from --conv, --group or --to. CTL_OK or CTL_ERR. */
int chat_resolve_conv(struct chat *ch);

/* Local time of `ms`: "HH:MM:SS", or with `full` an ISO 8601 stamp. */
void chat_format_time(uint64_t ms, char *out, size_t len, bool full);

/* Prints an unread reminder as one line (cmd_tail.c). */
void chat_print_remind(struct chat *ch, const struct proto_remind *r);

/* Prints one message line (cmd_tail.c). */
void chat_print_msg_line(struct chat *ch, uint64_t from, uint64_t ts,
                         enum proto_kind kind, const char *body, size_t len);

#endif
