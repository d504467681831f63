/*
 * herald_int.h — what the files of the terminal client share.
 *
 *   main.c      options, the state directory, first use (login prompt,
 *               privacy notice, the device signing key), the loop
 *   model.c     what the client knows: conversations, messages, users,
 *               unsent messages, pending DINGs (no curses, no network)
 *   cache.c     the offline cache of the model in the state directory
 *   net.c       events of the client library -> model; requests the
 *               screens need (conversation list, members, history)
 *   ui.c        the screens (ncursesw)
 *   keys.c      keys, signals, the tick and the redraw on the loop
 *   cmd.c       slash commands; cmd_query.c: /who, /report, /quiet;
 *               cmd_card.c: /task, /okr, /interview, /sign
 *   card.c, cardbox.c, cardparse.c   card states in the model, a card
 *               drawn as a box, card commands' words -> JSON (no curses)
 *   text.c, editline.c   widths, clusters, wrapping; the input line
 *
 * Everything runs on the loop thread (libuv, shared with the client
 * library): keys arrive through a uv_poll on the terminal, events through
 * hc's callback; the screen is redrawn once per loop iteration when
 * something changed.
 */
#ifndef HERALD_INT_H
#define HERALD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

#include "cards.h"
#include "editline.h"
#include "hc.h"
#include "proto.h"

#define HERALD_VERSION "0.1.0"
#define HERALD_CACHE_PER_CONV 200     /* messages kept per conversation */
#define HERALD_HISTORY_PAGE 50

/* ---- model ---------------------------------------------------------- */

struct hding_row {                /* one recipient of a DING I sent */
  uint64_t uid;
  bool acked;
};

struct hmsg {
  uint64_t seq, from, ts;
  enum proto_kind kind;
  char *body;                     /* NUL-terminated copy */
  size_t len;
  bool tracked;
  uint64_t rd, total;             /* receipt, on my tracked messages */
  enum proto_urgency urg;         /* DING */
  bool ding_all;
  uint64_t ding_n;                /* recipients (0 with all: members - 1) */
  struct hding_row *rows;         /* DING board of my own DINGs */
  size_t nrows;
  uint64_t card;                  /* card id, for kind card (0: unknown) */
};

struct hconv {
  uint64_t id;
  enum proto_conv_type type;
  char *title;                    /* NULL until conv_list says */
  uint64_t last;                  /* newest seq known */
  uint64_t read_upto;             /* my read marker, as far as I know */
  uint64_t members;
  struct hmsg *msgs;              /* ascending seq; gaps possible */
  size_t n, cap;
  bool no_older;                  /* history said nothing older exists */
  bool hist_pending;
  bool members_known;             /* conv_members asked this session */
  bool members_pending;           /* a conv_members in flight */
  int scroll;                     /* lines scrolled up from the bottom */
};

struct huser {
  uint64_t uid;
  char *login, *name;
};

struct hpend {                    /* a send in the outbox */
  uint64_t oid, conv, seq;        /* seq: from its ack, 0 before */
  char cmid[HC_CMID_SIZE];
  char *body;
  size_t len;
  bool ding;
};

struct hbanner {                  /* a DING waiting for my ack */
  uint64_t conv, seq, from;
  enum proto_urgency urg;
  uint64_t about;                 /* escalation notice: nothing to ack */
  bool ack_queued;
};

/* A card as far as I know it: the state of its newest version seen (the
 * payload's "state" of a card_event, or the body of its message until the
 * first event arrives, ver 0). */
struct hcard {
  uint64_t id, conv, seq, ver;
  enum card_type type;            /* 0 while unknown */
  json_t *state;                  /* owned */
};

struct model {
  uint64_t me;
  char *my_login, *my_name;
  enum proto_role role;
  struct hconv *convs;
  size_t nconvs;
  struct huser *users;
  size_t nusers;
  struct hpend *pend;
  size_t npend;
  struct hbanner *banners;
  size_t nbanners;
  uint64_t shown;                 /* the conversation on screen (kept) */
  struct hcard *cards;
  size_t ncards;
};

void model_init(struct model *m);
void model_cleanup(struct model *m);
struct hconv *model_conv(struct model *m, uint64_t id);       /* or NULL */
struct hconv *model_conv_add(struct model *m, uint64_t id);   /* find or add */
/* Adds a message (a copy); a seq it holds already is ignored. Keeps at
 * most `keep` messages (0 = no bound), dropping the oldest. Returns the
 * stored message or NULL (duplicate or out of memory). */
struct hmsg *model_msg_add(struct hconv *c, const struct proto_msg *pm,
                           size_t keep);
struct hmsg *model_msg(struct hconv *c, uint64_t seq);
/* Messages after my read marker that are not mine (unknown ones count). */
uint64_t model_unread(const struct model *m, const struct hconv *c);
int model_user_set(struct model *m, uint64_t uid, const char *login,
                   size_t llen, const char *name, size_t nlen);
const struct huser *model_user(const struct model *m, uint64_t uid);
struct huser *model_user_by_login(struct model *m, const char *login);
/* A name to show: display name, else login, else "#uid" (in buf). */
const char *model_name(const struct model *m, uint64_t uid, char *buf,
                       size_t len);
/* A conversation's title to show (buf holds "#id" or a direct partner). */
const char *model_title(const struct model *m, const struct hconv *c,
                        char *buf, size_t len);
int model_pend_add(struct model *m, uint64_t oid, uint64_t conv,
                   const char *cmid, const char *body, size_t len, bool ding);
void model_pend_remove_oid(struct model *m, uint64_t oid);
void model_pend_remove_cmid(struct model *m, const char *cmid, size_t len);
int model_banner_add(struct model *m, const struct hbanner *b);
void model_banner_remove(struct model *m, uint64_t conv, uint64_t seq);
struct hbanner *model_banner(struct model *m, uint64_t conv, uint64_t seq);
/* A DING board row of my DING: set uid's acked state; false if unknown
 * message. */
bool model_ding_row(struct hmsg *msg, uint64_t uid, bool acked);
uint64_t model_ding_acked(const struct hmsg *msg);
uint64_t model_ding_total(const struct hconv *c, const struct hmsg *msg);

/* ---- cards (card.c, cardbox.c, cardparse.c: no curses, no network) ---- */

struct hcard *model_card(struct model *m, uint64_t id);       /* or NULL */
/* The card of message (conv, seq), or NULL. */
struct hcard *model_card_at(struct model *m, uint64_t conv, uint64_t seq);
/* Takes a card_event: the payload's "state" becomes the card's state when
 * `ver` is newer than the version known (events may come twice, live and
 * from the feed, and out of order across reconnects; the newest state is
 * authoritative). Links the card's message. Returns 1 applied, 0 ignored
 * (older or no state), -EBADMSG (payload not JSON / no type), -ENOMEM. */
int model_card_apply(struct model *m, uint64_t id, uint64_t ver,
                     uint64_t conv, uint64_t seq, const char *payload,
                     size_t len);
/* Sets a card's state from JSON text (`len` bytes): the cache, and the
 * body of a card message before its first event (ver 0, applied only when
 * nothing is known). Same returns. */
int model_card_set(struct model *m, uint64_t id, uint64_t conv,
                   uint64_t seq, uint64_t ver, const char *state,
                   size_t len);

/* The card drawn as a box of exactly `width` columns (>= 20) per line:
 * its type, number (#cID) and status in the top border, its fields, and
 * the commands I may use on it. *out: malloc'd array of malloc'd UTF-8
 * lines; returns their count (0 when out of memory). */
size_t card_box(const struct model *m, const struct hcard *k, int width,
                char ***out);
void card_box_free(char **v, size_t n);

/* Command words, with "double quotes" grouping words (no escapes). Up to
 * `max` words; the string is modified in place. Returns the count. */
size_t cc_split(char *s, char **w, size_t max);
/* A card reference: "#c12"/"c12" (card id) or "#7"/"7" (message seq in
 * the conversation shown). Returns true and sets *is_card, *n. */
bool cc_ref(const char *s, bool *is_card, uint64_t *n);
/* "YYYY-MM-DD" -> "YYYY-MM-DDT23:59:59Z" (out: 21 bytes). */
bool cc_date(const char *s, char out[21]);
/* Card bodies from command words (after the subcommand). On success a
 * malloc'd JSON text in *json and 0; else -1 with a sentence in err.
 *   task:      TITLE words [@login...] [due YYYY-MM-DD] [!low|normal|high|urgent]
 *   okr:       OBJECTIVE words [@owner] period P kr TITLE START TARGET [UNIT] ...
 *   interview: @employee period P   (the manager: me) */
int cc_task_body(struct model *m, char **w, size_t n, char **json,
                 char *err, size_t errlen);
int cc_okr_body(struct model *m, char **w, size_t n, char **json, char *err,
                size_t errlen);
int cc_interview_body(struct model *m, char **w, size_t n, char **json,
                      char *err, size_t errlen);
/* Check-in arguments: KR# (1-based) VALUE [CONFIDENCE 0..1] [NOTE...]. */
int cc_checkin_args(char **w, size_t n, char **json, char *err,
                    size_t errlen);

/* ---- cache (cache.c) ------------------------------------------------ */

/* Loads / saves the model from / to the file "herald-cache" in `dir`
 * (mode 0600, replaced atomically). A missing file loads nothing.
 * 0, -EBADMSG (not a cache file: ignored by the caller), -errno. */
int cache_load(struct model *m, const char *dir);
int cache_save(const struct model *m, const char *dir);
/* Formats / parses the cache (unit-tested). cache_format: malloc'd. */
int cache_format(const struct model *m, char **out, size_t *len);
int cache_parse(struct model *m, const char *text, size_t len);
/* A small marker file in `dir` (the privacy notice was shown). */
bool cache_flag_get(const char *dir, const char *name);
int cache_flag_set(const char *dir, const char *name);
/* Writes `len` bytes to dir/name atomically (tmp, fsync, rename), 0600. */
int cache_write_file(const char *dir, const char *name, const void *data,
                     size_t len);

/* ---- the application ------------------------------------------------ */

enum overlay_kind { OV_NONE, OV_TEXT, OV_NOTICE };

struct app {
  /* options */
  const char *server, *login, *password_file, *state_root;
  const char *ca_file;          /* --ca-file, or NULL */
  char state_dir[4096];
  unsigned retry_max_ms;
  /* library */
  uv_loop_t loop;
  struct hc_ctx *ctx;
  struct hc_conn *conn;
  /* model */
  struct model m;
  size_t sel;                     /* selected conversation index */
  bool cache_dirty;
  /* quiet hours */
  bool in_quiet;
  uint64_t quiet_until, quiet_next;
  char tz[65];                    /* my IANA time zone (quiet_state.tz) */
  /* terminal */
  uv_poll_t tty_poll;
  uv_signal_t winch;
  uv_signal_t term, hup;          /* quit cleanly: cache saved, outbox kept */
  uv_timer_t tick;
  uv_prepare_t redraw;
  bool handles_open;
  bool dirty;
  bool quit;
  struct el input;
  bool secret;                    /* the input line asks for a password */
  char notice[512];               /* one line of feedback */
  /* overlay: help, who, report, quiet, the privacy notice */
  enum overlay_kind ov;
  char *ov_title;
  char **ov_lines;
  size_t ov_n;
  int ov_scroll;
  /* requests in flight */
  uint64_t conv_list_id;
  bool conv_list_again;
  bool logging_out;
  bool read_due;                  /* mark the shown conversation read once
                                     this loop iteration is done */
  bool device_key_done;
  bool have_sign_key;             /* sign_sk holds this device's key */
  uint8_t sign_sk[64];            /* Ed25519 secret key (seed ‖ public) */
  uint8_t sign_pub[32];
  unsigned retry_in_ms;
  struct preq *preqs;             /* contexts of requests in flight */
  unsigned ticks;
};

/* A request's context (the `arg` of its reply callback). The library
 * drops the callbacks of requests still pending when the connection is
 * freed, so the contexts are listed here and freed at exit. */
struct preq {
  struct preq *prev, *next;
  struct app *a;
  uint64_t conv, seq;
};
struct preq *preq_new(struct app *a, uint64_t conv, uint64_t seq);
void preq_done(struct preq *q);          /* unlinks and frees */
void preq_free_all(struct app *a);

/* net.c */
void net_on_event(struct hc_conn *c, const struct hc_event *ev, void *arg);
void net_refresh_convs(struct app *a);
void net_members(struct app *a, struct hconv *c);
void net_history(struct app *a, struct hconv *c);
/* Marks the selected conversation read up to its newest message. */
void net_mark_read(struct app *a);
/* Loads the outbox's unsent messages into the model (start-up). */
void net_load_pending(struct app *a);
bool net_online(const struct app *a);
/* Takes a quiet-hours state (welcome, quiet_state) into the app. */
void net_set_quiet(struct app *a, const struct proto_quiet_state *q);

/* ui.c */
int ui_start(struct app *a);
void ui_stop(struct app *a);
void ui_draw(struct app *a);
void ui_bell(struct app *a, bool silent);
void ui_select(struct app *a, size_t idx);
struct hconv *ui_current(struct app *a);
void ui_notice(struct app *a, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
/* Opens the overlay with `n` lines (copied). */
void ui_overlay(struct app *a, enum overlay_kind kind, const char *title,
                const char *const *lines, size_t n);
void ui_overlay_close(struct app *a);
/* Overlay built line by line. */
struct ovbuf {
  char **v;
  size_t n, cap;
};
void ov_add(struct ovbuf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
void ov_show(struct app *a, enum overlay_kind kind, const char *title,
             struct ovbuf *b);          /* takes the lines */
void ui_format_time(uint64_t ms, char *out, size_t len);

/* keys.c: the terminal's and the loop's handles (after initscr). */
void keys_start(struct app *a);
void keys_stop(struct app *a);

/* cmd.c */
void cmd_run(struct app *a, const char *line);
/* The next space-separated word of *s (NUL-terminated in place), or NULL. */
char *cmd_word(char **s);
bool cmd_parse_id(const char *s, uint64_t *out);
/* True when online; else says on the feedback line that `what` needs the
 * server. */
bool cmd_need_online(struct app *a, const char *what);
/* cmd_query.c */
void cmd_who(struct app *a, char *args);
void cmd_report(struct app *a, char *args);
void cmd_quiet(struct app *a, char *args);
void cmd_send_text(struct app *a, const char *text);
void cmd_ack_first(struct app *a);
extern const char *const HERALD_HELP[];
/* cmd_card.c: /task /okr /interview /sign */
void cmd_task(struct app *a, char *args);
void cmd_okr(struct app *a, char *args);
void cmd_interview(struct app *a, char *args);
void cmd_sign(struct app *a, char *args);
/* "WHAT: CODE (field /x): message" on the feedback line, for a refusal
 * (err: PROTO_E_* or -errno; f: the error frame or NULL). */
void cmd_card_error(struct app *a, const char *what, int err,
                    const struct proto_frame *f);

/* main.c */
void app_quit(struct app *a);
/* The step of first use that registers this device's Ed25519 signing key
 * (device_key): loads or creates the key file, then registers it. */
void app_device_key_register(struct app *a);
void app_privacy_notice(struct app *a);
void app_privacy_notice_done(struct app *a);

#endif
