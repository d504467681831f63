/*
 * proto.h — Herald wire protocol v1: frame types, codec, validation.
 *
 * A frame is one msgpack map in one binary WebSocket message (subprotocol
 * "herald.v1"); PROTOCOL.md is the catalogue of frames and fields. This
 * header gives the C form of every frame (struct proto_frame), a defensive
 * decoder that checks raw bytes before msgpack-c sees them, and an encoder
 * that reserves headroom for the transport. The module does no I/O and has
 * no global mutable state.
 *
 * Threads: every function may be called from any thread; a frame or buffer
 * is used by one thread at a time (except struct proto_shared, see below).
 *
 * Ownership, in short:
 *   - Decoded strings and binaries BORROW from the input buffer: they live
 *     as long as that buffer, no longer. Copy what must outlive it, or use
 *     proto_frame_copy().
 *   - Decoded arrays (recipients, cursors, rows...) live in an arena owned
 *     by the frame and die in proto_frame_cleanup().
 *   - Frames you build for encoding point at your own memory; the encoder
 *     reads it and keeps nothing.
 *
 * Conventions of the C form (they mirror the wire, see PROTOCOL.md):
 *   - every integer field is uint64_t; an OPTIONAL integer equal to 0 means
 *     absent (the encoder omits it, the decoder gives 0 for absent);
 *   - an optional bool that is false is omitted by the encoder;
 *   - an optional string is absent when its pointer is NULL; a decoded
 *     present string never has a NULL pointer, even when empty;
 *   - enums start at 1; 0 (..._NONE) means absent;
 *   - an array field `x` comes with its count `nx`;
 *   - strings are NOT NUL-terminated: use .len.
 */
#ifndef HERALD_PROTO_H
#define HERALD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto_errors.h"

/* The WebSocket subprotocol of this version. */
#define PROTO_SUBPROTOCOL "herald.v1"

/* Default limits (struct proto_limits) and fixed protocol bounds. */
#define PROTO_DEFAULT_MAX_FRAME 65536u     /* bytes of one client frame */
#define PROTO_DEFAULT_MAX_DEPTH 8u         /* nested maps/arrays */
#define PROTO_DEFAULT_MAX_BODY 32768u      /* message body / JSON bytes */
#define PROTO_DEPTH_CAP 16u                /* no limit may exceed this */
#define PROTO_ID_MAX 0x7fffffffffffffffull /* ids, seqs, times: 2^63-1 */
#define PROTO_CMID_MAX 64u                 /* client message id bytes */
#define PROTO_DEV_MAX 100u                 /* device id bytes (devices.name) */
#define PROTO_PAGE_MAX 1000u               /* messages in one page */
#define PROTO_HASH_LEN 32u                 /* card content hash bytes */
#define PROTO_SIG_LEN 64u                  /* Ed25519 signature bytes */
#define PROTO_PUBKEY_LEN 32u               /* Ed25519 public key bytes */

/* ------------------------------------------------------------------ */
/* Frame types                                                         */

#define PROTO_TYPE_MAP(X)                                                     \
  /* client -> server */                                                      \
  X(HELLO, hello)                                                             \
  X(LOGIN, login)                                                             \
  X(LOGOUT, logout)                                                           \
  X(SEND, send)                                                               \
  X(SYNC, sync)                                                               \
  X(HISTORY, history)                                                         \
  X(READ, read)                                                               \
  X(WHO_READ, who_read)                                                       \
  X(DING_ACK, ding_ack)                                                       \
  X(DING_BOARD, ding_board)                                                   \
  X(CARD_ACTION, card_action)                                                 \
  X(CARD_EDIT, card_edit)                                                     \
  X(CARD_SIGN, card_sign)                                                     \
  X(DEVICE_KEY, device_key)                                                   \
  X(QUIET_GET, quiet_get)                                                     \
  X(QUIET_SET, quiet_set)                                                     \
  X(REPORT_UNREAD, report_unread)                                             \
  X(CONV_LIST, conv_list)                                                     \
  X(CONV_CREATE, conv_create)                                                 \
  X(CONV_MEMBERS, conv_members)                                               \
  X(CONV_ADD_MEMBER, conv_add_member)                                         \
  X(PING, ping)                                                               \
  /* server -> client */                                                      \
  X(WELCOME, welcome)                                                         \
  X(ACK, ack)                                                                 \
  X(MSG, msg)                                                                 \
  X(PAGE, page)                                                               \
  X(FEED, feed)                                                               \
  X(SYNCED, synced)                                                           \
  X(RECEIPT, receipt)                                                         \
  X(REMIND, remind)                                                           \
  X(WHO_READ_RESULT, who_read_result)                                         \
  X(DING_ALERT, ding_alert)                                                   \
  X(DING_UPDATE, ding_update)                                                 \
  X(DING_BOARD_RESULT, ding_board_result)                                     \
  X(CARD_EVENT, card_event)                                                   \
  X(QUIET_STATE, quiet_state)                                                 \
  X(REPORT_RESULT, report_result)                                             \
  X(CONV_LIST_RESULT, conv_list_result)                                       \
  X(CONV_MEMBERS_RESULT, conv_members_result)                                 \
  X(RESULT, result)                                                           \
  X(PONG, pong)                                                               \
  X(ERROR, error)

enum proto_type {
  PROTO_T_NONE = 0,
#define PROTO_TYPE_ENUM_(up, low) PROTO_T_##up,
  PROTO_TYPE_MAP(PROTO_TYPE_ENUM_)
#undef PROTO_TYPE_ENUM_
  PROTO_T_COUNT_
};

/* Who sends a frame type (bit flags, also used by struct proto_limits). */
#define PROTO_FROM_CLIENT 1u
#define PROTO_FROM_SERVER 2u

/* The wire name of `t` ("send"), or NULL for PROTO_T_NONE or out of range.
 * Static string. */
const char *proto_type_name(enum proto_type t);
/* The type named by the `len` bytes at `name`, or PROTO_T_NONE. */
enum proto_type proto_type_from_name(const char *name, size_t len);
/* PROTO_FROM_CLIENT or PROTO_FROM_SERVER; 0 for an invalid type. */
unsigned proto_type_sender(enum proto_type t);
/* True for the frames a client may send before it is authenticated
 * (hello, login, ping). */
bool proto_type_preauth(enum proto_type t);

/* ------------------------------------------------------------------ */
/* Field value types                                                   */

/* A string (UTF-8, no U+0000) or a binary: `len` bytes at `p`, not
 * NUL-terminated. Absent when p == NULL. */
struct proto_str {
  const char *p;
  size_t len;
};

enum proto_kind { PROTO_KIND_NONE, PROTO_KIND_TEXT, PROTO_KIND_DING,
                  PROTO_KIND_CARD };
enum proto_urgency { PROTO_URG_NONE, PROTO_URG_NORMAL, PROTO_URG_URGENT,
                     PROTO_URG_CRITICAL };
enum proto_role { PROTO_ROLE_NONE, PROTO_ROLE_STAFF, PROTO_ROLE_MANAGER,
                  PROTO_ROLE_ADMIN, PROTO_ROLE_BOT };
enum proto_actor { PROTO_ACTOR_NONE, PROTO_ACTOR_USER, PROTO_ACTOR_BOT };
enum proto_conv_type { PROTO_CONV_NONE, PROTO_CONV_GROUP, PROTO_CONV_DIRECT };
enum proto_member_role { PROTO_MEMBER_NONE, PROTO_MEMBER_OWNER,
                         PROTO_MEMBER_MEMBER };
enum proto_policy { PROTO_POLICY_NONE, PROTO_POLICY_ALL, PROTO_POLICY_FLAGGED,
                    PROTO_POLICY_OFF };
/* Report scope; NONE means everything the caller may see. */
enum proto_scope { PROTO_SCOPE_NONE, PROTO_SCOPE_TEAM, PROTO_SCOPE_OWNED,
                   PROTO_SCOPE_ORG };

/* ------------------------------------------------------------------ */
/* Items carried in arrays                                             */

struct proto_cursor {          /* sync: resume conversation after seq */
  uint64_t conv, after;
};

struct proto_window {          /* a weekly quiet-hours window */
  uint64_t day;                /* 1 = Monday ... 7 = Sunday (ISO 8601) */
  uint64_t start, end;         /* minutes after local midnight; end < start
                                  crosses midnight into the next day */
};

struct proto_msg {             /* a message (frame "msg", page items) */
  uint64_t conv, seq;
  uint64_t from;               /* sender user or bot id */
  enum proto_actor from_kind;
  struct proto_str cmid;       /* sender's client message id */
  enum proto_kind kind;
  struct proto_str body;       /* text, or the card JSON */
  uint64_t ts;                 /* commit time, ms since epoch */
  bool tracked;                /* produces read receipts */
  bool silent;                 /* delivered in the recipient's quiet hours */
  enum proto_urgency urg;      /* DING only */
  const uint64_t *to;          /* DING recipients, unless all */
  size_t nto;
  bool all;                    /* DING to every member */
  uint64_t card;               /* card id, for kind card */
};

struct proto_receipt {         /* frame "receipt", feed items */
  uint64_t conv, seq;
  uint64_t read, total;        /* read k of n */
  uint64_t fs;                 /* feed sequence, 0 = not from the feed */
};

struct proto_remind {          /* frame "remind", feed items */
  uint64_t conv;
  uint64_t seq;                /* oldest tracked message unread past the
                                  conversation's threshold */
  uint64_t upto;               /* newest one this reminder covers */
  uint64_t n;                  /* how many it covers (1..upto-seq+1) */
  uint64_t since;              /* send time of the oldest, ms */
  uint64_t fs;                 /* feed sequence */
};

struct proto_ding_row {        /* one DING recipient's state */
  uint64_t uid;
  bool delivered, read, acked;
  uint64_t acked_at;           /* ms; 0 when not acked */
  uint64_t step;               /* alerts sent so far */
  bool escalated;              /* past the last step (manager/webhook) */
};

struct proto_ding_update {     /* frame "ding_update", feed items */
  uint64_t conv, seq, fs;
  struct proto_ding_row row;   /* flattened into the same map */
  uint64_t from;               /* the DING's sender (user or bot id) */
  enum proto_urgency urg;      /* its urgency */
};

struct proto_card_event {      /* frame "card_event", feed items */
  uint64_t card, ver;
  struct proto_str ev;         /* event kind, e.g. "created", "signed" */
  uint64_t actor;
  enum proto_actor actor_kind;
  uint64_t conv, seq;          /* the card's message */
  uint64_t ts;
  struct proto_str payload;    /* JSON text */
  uint64_t fs;
};

struct proto_who_row {         /* who_read_result rows */
  uint64_t uid;
  bool read;
  uint64_t at;                 /* ms, rounded to the minute; 0 = unknown */
};

struct proto_report_row {      /* report_result rows */
  uint64_t uid, conv, seq, from, ts;
  uint64_t unread_s;           /* business seconds unread */
  bool ding, acked;
};

struct proto_report_user {     /* report_result totals per recipient */
  uint64_t uid;
  struct proto_str name, dept;
  uint64_t unread, dings;
};

struct proto_report_dept {     /* report_result totals per department */
  struct proto_str dept;
  uint64_t unread, dings;
};

struct proto_conv_info {       /* conv_list_result items */
  uint64_t conv;
  enum proto_conv_type type;
  struct proto_str title;
  enum proto_member_role role; /* the caller's role */
  enum proto_policy policy;
  uint64_t last;               /* newest seq */
  uint64_t unread;
  uint64_t members;
};

struct proto_member {          /* conv_members_result items */
  uint64_t uid;
  struct proto_str login, name;
  enum proto_member_role role;
  enum proto_actor kind;
};

struct proto_limits_info {     /* welcome.lim */
  uint64_t frame;              /* max bytes of a client frame */
  uint64_t sframe;             /* max bytes of a server frame */
  uint64_t body;               /* max body / JSON bytes */
  uint64_t depth;              /* max nesting depth */
  uint64_t page;               /* max messages per page */
};

struct proto_quiet_state {     /* frame "quiet_state", welcome.quiet */
  bool in_quiet;
  uint64_t until;              /* end of the current window, ms */
  uint64_t next;               /* start of the next window, ms */
  struct proto_str tz;         /* IANA zone of the windows */
  const struct proto_window *org; /* the org's windows (read-only) */
  size_t norg;
  const struct proto_window *own; /* the user's additions */
  size_t nown;
};

/* ------------------------------------------------------------------ */
/* Frame bodies (PROTOCOL.md describes every field)                    */

struct proto_hello { struct proto_str token, dev, client, cver; };
struct proto_login { struct proto_str login, pass, dev, client, cver; };
struct proto_empty { char unused_; };   /* logout, quiet_get, conv_list */
struct proto_send {
  struct proto_str cmid;
  uint64_t conv;
  enum proto_kind kind;
  struct proto_str body;
  bool tracked;
  const uint64_t *to;
  size_t nto;
  bool all;
  enum proto_urgency urg;
  const uint64_t *esc;         /* escalation schedule override, seconds */
  size_t nesc;
};
struct proto_sync {
  const struct proto_cursor *cur;
  size_t ncur;
  uint64_t feed;               /* last feed sequence seen */
  uint64_t limit;              /* messages per page */
};
struct proto_history { uint64_t conv, before, limit; };
struct proto_mark { uint64_t conv, seq, at; };  /* read, ding_ack */
struct proto_msgref { uint64_t conv, seq; };    /* who_read, ding_board */
struct proto_card_action {
  uint64_t card;
  struct proto_str action, args, cmid;
  uint64_t base;
};
struct proto_card_edit {
  uint64_t card;
  struct proto_str path, value;
  uint64_t base;
};
struct proto_card_sign {
  uint64_t card, ver;
  struct proto_str hash, sig, dev;
};
struct proto_device_key { struct proto_str dev, pub; };
struct proto_quiet_set {
  const struct proto_window *win;
  size_t nwin;
  struct proto_str tz;
};
struct proto_report_unread {
  uint64_t older;              /* seconds; 0 = 7200 */
  enum proto_scope scope;
  uint64_t conv;
  struct proto_str dept;
  uint64_t limit;
};
struct proto_conv_create {
  enum proto_conv_type type;
  struct proto_str title;
  const uint64_t *members;
  size_t nmembers;
  enum proto_policy policy;
  uint64_t remind_after;       /* seconds; 0 = no reminders */
  uint64_t task_after;         /* seconds; 0 = no task cards */
};
struct proto_conv_ref { uint64_t conv; };       /* conv_members */
struct proto_conv_add_member { uint64_t conv, uid; };
struct proto_ping { uint64_t ts; };

struct proto_welcome {
  uint64_t uid;
  struct proto_str login, name;
  enum proto_role role;
  struct proto_str token;      /* only in reply to login */
  uint64_t exp;                /* token expiry, ms */
  uint64_t now;                /* server time, ms */
  struct proto_str tz;
  struct proto_limits_info lim;
  struct proto_quiet_state quiet;
};
struct proto_ack {
  struct proto_str cmid;
  uint64_t conv, seq, ts;
  bool dup;
  uint64_t card;
};
struct proto_page {
  uint64_t conv;
  const struct proto_msg *msgs;
  size_t nmsgs;
  bool more;
  bool hist;                   /* reply to history, not sync */
};
struct proto_feed {
  const struct proto_receipt *rcpt;
  size_t nrcpt;
  const struct proto_ding_update *ding;
  size_t nding;
  const struct proto_card_event *cards;
  size_t ncards;
  const struct proto_remind *remind;
  size_t nremind;
  uint64_t next;
  bool more;
};
struct proto_synced { uint64_t feed; };
struct proto_who_read_result {
  uint64_t conv, seq;
  const struct proto_who_row *rows;
  size_t nrows;
};
struct proto_ding_alert {
  uint64_t conv, seq, from;
  enum proto_urgency urg;
  uint64_t step;
  bool silent, overrode_quiet;
  uint64_t about;              /* escalation notice to a manager: the
                                  recipient who did not acknowledge */
};
struct proto_ding_board_result {
  uint64_t conv, seq;
  enum proto_urgency urg;
  const struct proto_ding_row *rows;
  size_t nrows;
};
struct proto_report_result {
  uint64_t older, now;
  const struct proto_report_row *rows;
  size_t nrows;
  const struct proto_report_user *users;
  size_t nusers;
  const struct proto_report_dept *depts;
  size_t ndepts;
  bool truncated;
};
struct proto_conv_list_result {
  const struct proto_conv_info *convs;
  size_t nconvs;
};
struct proto_conv_members_result {
  uint64_t conv;
  const struct proto_member *members;
  size_t nmembers;
};
struct proto_result { uint64_t conv, card, ver; bool dup; };
struct proto_pong { uint64_t ts, now; };
struct proto_error_frame {
  uint64_t code;               /* positive wire code, e.g. 3001 */
  struct proto_str name, message, field;
  bool retry;
};

struct proto_arena;            /* private */

/* One decoded or to-be-encoded frame. `id` is the client's request id
 * (0 = none), echoed by the server in the reply or error. Use the union
 * member named after the type (PROTOCOL.md); frames without fields use
 * `empty`. Do not copy the struct by value once it owns an arena; use
 * proto_frame_copy(). */
struct proto_frame {
  enum proto_type type;
  uint64_t id;
  union {
    struct proto_hello hello;
    struct proto_login login;
    struct proto_empty empty;          /* logout, quiet_get, conv_list */
    struct proto_send send;
    struct proto_sync sync;
    struct proto_history history;
    struct proto_mark read;
    struct proto_msgref who_read;
    struct proto_mark ding_ack;
    struct proto_msgref ding_board;
    struct proto_card_action card_action;
    struct proto_card_edit card_edit;
    struct proto_card_sign card_sign;
    struct proto_device_key device_key;
    struct proto_quiet_set quiet_set;
    struct proto_report_unread report_unread;
    struct proto_conv_create conv_create;
    struct proto_conv_ref conv_members;
    struct proto_conv_add_member conv_add_member;
    struct proto_ping ping;
    struct proto_welcome welcome;
    struct proto_ack ack;
    struct proto_msg msg;
    struct proto_page page;
    struct proto_feed feed;
    struct proto_synced synced;
    struct proto_receipt receipt;
    struct proto_remind remind;
    struct proto_who_read_result who_read_result;
    struct proto_ding_alert ding_alert;
    struct proto_ding_update ding_update;
    struct proto_ding_board_result ding_board_result;
    struct proto_card_event card_event;
    struct proto_quiet_state quiet_state;
    struct proto_report_result report_result;
    struct proto_conv_list_result conv_list_result;
    struct proto_conv_members_result conv_members_result;
    struct proto_result result;
    struct proto_pong pong;
    struct proto_error_frame error;
  } u;
  struct proto_arena *arena_;  /* private: decoded arrays */
};

/* Zeroes `f` and sets its type. No allocation; pairs with
 * proto_frame_cleanup() (needed only after decode or copy). */
void proto_frame_init(struct proto_frame *f, enum proto_type t);

/* Frees what the frame owns (its arena) and zeroes it. Safe on a zeroed or
 * already cleaned frame, and after a failed decode. */
void proto_frame_cleanup(struct proto_frame *f);

/* ------------------------------------------------------------------ */
/* Decoding                                                            */

struct proto_limits {
  size_t max_frame;   /* bytes; 0 = PROTO_DEFAULT_MAX_FRAME */
  unsigned max_depth; /* 0 = PROTO_DEFAULT_MAX_DEPTH; capped at
                         PROTO_DEPTH_CAP */
  size_t max_body;    /* bytes of body/JSON fields; 0 = default */
  size_t max_arena;   /* bytes of decoded arrays per frame;
                         0 = 32 * max_frame */
  unsigned accept;    /* PROTO_FROM_CLIENT | PROTO_FROM_SERVER types to
                         accept; 0 = both. A server sets FROM_CLIENT. */
};

#define PROTO_ERR_FIELD_MAX 64
#define PROTO_ERR_MSG_MAX 192

/* Why a decode (or validation) failed. `field` is the path of the offending
 * field ("cur[2].after"), empty when the frame as a whole is at fault;
 * `msg` is a sentence for humans that names the field. Both are
 * NUL-terminated and truncated to fit. */
struct proto_error {
  int code;           /* negative enum proto_errno, 0 when no error */
  char field[PROTO_ERR_FIELD_MAX];
  char msg[PROTO_ERR_MSG_MAX];
};

/* Decodes one frame from `len` bytes at `buf`.
 *
 * Before msgpack-c touches the bytes they are pre-scanned: size against
 * lim->max_frame, every declared array/map count and str/bin/ext length
 * against the bytes that remain, nesting against lim->max_depth, and no
 * trailing bytes. Then the map is checked against the frame's schema: known
 * types, required fields, wire types, ranges, lengths, strict UTF-8 (no
 * overlongs, surrogates, values above U+10FFFF, or U+0000) in every string
 * including keys and ignored fields, no duplicate keys. Unknown fields are
 * ignored.
 *
 * `lim` may be NULL for the defaults. `err` may be NULL.
 * Returns 0, or a negative PROTO_E_* code with `err` filled in:
 *   TOO_LARGE, MALFORMED, TOO_DEEP, TRAILING, NOT_MAP (pre-scan);
 *   UNKNOWN_TYPE, UNEXPECTED (a type outside lim->accept), MISSING,
 *   WRONG_TYPE, RANGE, TOO_LONG, TOO_MANY, DUP_KEY, BAD_VALUE, BAD_UTF8
 *   (schema); NOMEM.
 * Either way `out` is overwritten (no need to init it) and must be released
 * with proto_frame_cleanup(). On failure out->type and out->id hold what
 * could be read (so an error frame can echo the id) and the fields are
 * zero. Strings in `out` borrow from `buf`. */
int proto_decode(const uint8_t *buf, size_t len,
                 const struct proto_limits *lim, struct proto_frame *out,
                 struct proto_error *err);

/* Checks a frame you built against its schema, as the decoder would
 * (except the size limits). Returns 0 or a PROTO_E_* code; `err` may be
 * NULL. */
int proto_validate(const struct proto_frame *f, struct proto_error *err);

/* Makes `dst` a deep copy of `src` that owns all its memory (strings
 * included); release it with proto_frame_cleanup(). Returns 0, NOMEM, or
 * a validation error if `src` is not a valid frame. */
int proto_frame_copy(struct proto_frame *dst, const struct proto_frame *src);

/* ------------------------------------------------------------------ */
/* Encoding                                                            */

/* An encoded frame: bytes [headroom, len) of `data` are the msgpack map;
 * bytes [0, headroom) are zeroed and free for the transport (lws writes its
 * header there, LWS_PRE). Owned by the caller: zero it or call
 * proto_buf_init() once, reuse it across encodes, free it with
 * proto_buf_cleanup(). */
struct proto_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
  size_t headroom;
};

void proto_buf_init(struct proto_buf *b);
void proto_buf_cleanup(struct proto_buf *b);

/* The encoded frame inside `b` and its size in bytes. */
static inline uint8_t *proto_buf_frame(const struct proto_buf *b)
{
  return b->data + b->headroom;
}
static inline size_t proto_buf_size(const struct proto_buf *b)
{
  return b->len - b->headroom;
}

/* Encodes `f` as one msgpack map into `out` (its previous content is
 * replaced, its memory reused), after `headroom` zero bytes. The frame is
 * validated first (proto_validate), so what is encoded always decodes.
 * Returns 0, a validation code (MISSING, RANGE, TOO_LONG, TOO_MANY,
 * BAD_VALUE, BAD_UTF8, UNKNOWN_TYPE) or NOMEM; on error `out` holds no
 * frame (len == headroom == 0). */
int proto_encode(const struct proto_frame *f, size_t headroom,
                 struct proto_buf *out);

/* An encoded frame shared by many writers, e.g. one "msg" fanned out to
 * every member: encode once, take a reference per queue, drop it after the
 * write. The count is atomic, so references may be taken and dropped on
 * any thread; the bytes themselves must be written by one thread at a time
 * (the transport scribbles in the headroom). */
struct proto_shared;

/* Encodes `f` into a new shared buffer with one reference. Returns 0 with
 * *out set, or a code as proto_encode(). */
int proto_encode_shared(const struct proto_frame *f, size_t headroom,
                        struct proto_shared **out);
/* Takes one more reference; returns `s`. */
struct proto_shared *proto_shared_ref(struct proto_shared *s);
/* Drops one reference, freeing at zero. NULL is ignored. */
void proto_shared_unref(struct proto_shared *s);
/* The frame inside `s` (with the headroom writable in front of it) and its
 * size. Valid while a reference is held. */
uint8_t *proto_shared_frame(struct proto_shared *s, size_t *len);
/* The type of the frame inside `s` (immutable; any thread). */
enum proto_type proto_shared_type(const struct proto_shared *s);

/* True when the `len` bytes at `s` are well-formed UTF-8 without U+0000,
 * the rule for every string on the wire; for text that arrives another way
 * (e.g. an HTTP query parameter). Any thread. */
bool proto_utf8_valid(const char *s, size_t len);

#endif
