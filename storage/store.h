/*
 * store.h — Herald's storage: the one public header of storage/.
 *
 * Everything Herald keeps lives in PostgreSQL 15. This module owns the
 * schema (versioned SQL migrations compiled into the library), the data
 * access functions over libpq, and the embedded default: a private
 * PostgreSQL cluster under the data directory that heraldd and heraldctl
 * start when no database is configured. libpq appears nowhere else.
 *
 * Conventions for every function below:
 *   - It returns STORE_OK (0) or a negative STORE_E* code, and results go
 *     through out-parameters, which are written only on success.
 *   - The API is synchronous (blocking libpq). A struct store_conn is used by
 *     one thread at a time; different connections may be used by different
 *     threads at once. heraldd runs these calls on its database worker
 *     threads, never on its event loop.
 *   - On failure a human-readable message naming the field or value is kept
 *     on the connection: store_errmsg(conn). Its wording is stable (heraldctl
 *     prints it and tests compare it).
 *   - Each call is one transaction; none leaves a transaction open.
 *   - Strings passed in are borrowed for the duration of the call only.
 *   - A connection that was lost is re-established at the start of the next
 *     call; a call that fails because the server went away returns
 *     STORE_EUNAVAIL and may be retried.
 */
#ifndef HERALD_STORE_H
#define HERALD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Result codes. */

#define STORE_ERRNO_MAP(X)                                                   \
  X(OK, 0, "ok")                                                             \
  X(ENOTFOUND, -1, "not found")                                              \
  X(EEXISTS, -2, "already exists or conflicts")                              \
  X(EINVAL, -3, "invalid value")                                             \
  X(EUNAVAIL, -4, "database unavailable, retry later")                       \
  X(EINTERNAL, -5, "internal storage error")                                \
  X(EFORBIDDEN, -6, "not allowed")

enum store_result {
#define STORE_ENUM_(name, code, msg) STORE_##name = (code),
  STORE_ERRNO_MAP(STORE_ENUM_)
#undef STORE_ENUM_
};

/* Generic message for a code ("not found", ...); never NULL, static. */
const char *store_strerror(int code);
/* Name of a code ("ENOTFOUND", ...); never NULL, static. */
const char *store_errname(int code);

/* Limits, in bytes, of the strings the schema accepts (with room for the
 * terminating NUL in the fixed-size buffers below). Character limits are
 * enforced by the database: logins 64 ASCII characters, display names and
 * department names 100 characters, group titles 200 characters. */
#define STORE_LOGIN_MAX 64
#define STORE_NAME_MAX 400     /* 100 characters of up to 4 bytes */
#define STORE_TITLE_MAX 800    /* 200 characters of up to 4 bytes */
#define STORE_TZ_MAX 64
#define STORE_TOKEN_HASH_LEN 32

/* ------------------------------------------------------------------------ */
/* Connections. */

struct store_conn;

/* Opens a connection with a libpq conninfo string (key=value pairs or a
 * postgresql:// URI). *out is always set: on success to the connection, on
 * failure to an object that only carries the reason for store_errmsg() —
 * close it with store_close() either way. (*out is NULL only when memory
 * ran out; store_errmsg(NULL) says so.) Returns STORE_OK, STORE_EUNAVAIL
 * (server unreachable, also bad credentials or an unknown database) or
 * STORE_EINTERNAL (out of memory). Any thread. */
int store_connect(const char *conninfo, struct store_conn **out);

/* Closes and frees. Takes NULL. */
void store_close(struct store_conn *c);

/* The message of the last failed call on c; "" when there was none. Owned
 * by c, valid until the next call on c. */
const char *store_errmsg(const struct store_conn *c);

/* Round-trips a trivial query, reconnecting first if the connection was
 * lost. STORE_OK or STORE_EUNAVAIL. */
int store_ping(struct store_conn *c);

/* ------------------------------------------------------------------------ */
/* Schema migrations (storage/sql/NNNN_name.sql, compiled in). */

/* Applies every embedded migration that the database lacks, in order, each
 * in its own transaction holding a transaction-scoped advisory lock, so
 * processes starting together do not race; records version, name and a
 * SHA-256 checksum in schema_migrations. Running it again applies nothing.
 * *applied (may be NULL) receives how many migrations this call applied.
 * Returns STORE_OK; STORE_EINVAL when an applied migration's checksum
 * differs from the embedded one, or the database has migrations this
 * binary does not know (it is newer) — nothing is applied then;
 * STORE_EUNAVAIL; STORE_EINTERNAL when a migration's SQL fails. */
int store_migrate(struct store_conn *c, int *applied);

/* Readiness check: STORE_OK when every embedded migration is applied with a
 * matching checksum and there is nothing newer; STORE_ENOTFOUND when some
 * are not applied yet; STORE_EINVAL on a checksum mismatch or a newer
 * database; STORE_EUNAVAIL. Takes no lock; read-only. */
int store_schema_current(struct store_conn *c);

/* The highest migration version compiled into this binary. */
int store_schema_version(void);

/* ------------------------------------------------------------------------ */
/* The organisation and its users. */

enum store_role { STORE_ROLE_STAFF, STORE_ROLE_MANAGER, STORE_ROLE_ADMIN };

/* "staff", "manager", "admin". Static string; NULL for an invalid value. */
const char *store_role_name(enum store_role r);
/* Parses a role name (exact, lower case). STORE_OK or STORE_EINVAL. */
int store_role_parse(const char *s, enum store_role *out);

struct store_org {
  char name[STORE_TITLE_MAX + 1];
  bool read_time_opt_out_allowed;
  int read_time_retention_days;
};

/* A user to create. login, display_name are required; the rest may be NULL
 * (no password: the account cannot log in with one; no department; no
 * manager: top of the tree; time zone "UTC"). */
struct store_user_new {
  const char *login;
  const char *display_name;
  const char *password_hash; /* argon2id PHC string from crypto/ */
  const char *department;    /* created on demand, matched ignoring case */
  const char *manager_login; /* must exist and be active */
  const char *time_zone;     /* IANA name known to PostgreSQL */
  enum store_role role;
};

struct store_user {
  int64_t id;
  char login[STORE_LOGIN_MAX + 1];
  char display_name[STORE_NAME_MAX + 1];
  char department[STORE_NAME_MAX + 1];     /* "" when none */
  char manager_login[STORE_LOGIN_MAX + 1]; /* "" when none */
  char time_zone[STORE_TZ_MAX + 1];
  enum store_role role;
  bool active;
  bool has_password;
  bool read_time_opt_out;
  int64_t created_at; /* Unix seconds */
};

/* Creates the organisation and its first user, an admin, in one
 * transaction (admin->role is ignored). *admin_id (may be NULL) receives the
 * admin's id. STORE_EEXISTS when the organisation already exists (message
 * names it); otherwise the errors of store_user_add. */
int store_org_init(struct store_conn *c, const char *org_name,
                   const struct store_user_new *admin, int64_t *admin_id);

/* Reads the organisation row. STORE_ENOTFOUND before store_org_init. */
int store_org_get(struct store_conn *c, struct store_org *out);

/* Creates a user. *id (may be NULL) receives the new id. Errors:
 * STORE_EEXISTS  'login "x" already exists' (logins are unique ignoring case)
 * STORE_EINVAL   'invalid login "x": ...', 'unknown time zone "x" ...',
 *                'display name ...', 'manager "x" is deactivated'
 * STORE_ENOTFOUND 'unknown manager "x"' */
int store_user_add(struct store_conn *c, const struct store_user_new *u,
                   int64_t *id);

/* Checks an IANA time zone name against PostgreSQL's list. STORE_OK, or
 * STORE_EINVAL 'unknown time zone "x" (use an IANA name such as ...)'. */
int store_time_zone_check(struct store_conn *c, const char *tz);

/* Reads a user by login (ignoring case). STORE_ENOTFOUND
 * 'unknown user "x"'. */
int store_user_get(struct store_conn *c, const char *login,
                   struct store_user *out);

/* Reads a user by id. STORE_ENOTFOUND 'unknown user id N'. */
int store_user_get_by_id(struct store_conn *c, int64_t id,
                         struct store_user *out);

struct store_user_filter {
  bool active_only;
  const char *department; /* NULL: any; matched ignoring case */
};

/* Lists users ordered by login. filter may be NULL (everyone). On success
 * *out is a malloc'd array of *n users (NULL when n is 0) that the caller
 * frees with free(). A department that does not exist gives an empty list. */
int store_user_list(struct store_conn *c, const struct store_user_filter *f,
                    struct store_user **out, size_t *n);

/* Deactivates a user and revokes their sessions. Deactivating an inactive
 * user succeeds and changes nothing. STORE_ENOTFOUND 'unknown user "x"'. */
int store_user_deactivate(struct store_conn *c, const char *login);

/* Sets (manager_login non-NULL) or clears a user's manager. Reports follow
 * the new tree from then on. STORE_ENOTFOUND for an unknown user or
 * manager; STORE_EINVAL when the change would make a cycle or the manager is
 * deactivated. */
int store_user_set_manager(struct store_conn *c, const char *login,
                           const char *manager_login);

/* ------------------------------------------------------------------------ */
/* Conversations: groups and 1:1 ("direct") conversations. */

enum store_tracking { STORE_TRACK_ALL, STORE_TRACK_FLAGGED, STORE_TRACK_OFF };
enum store_member_role { STORE_MEMBER, STORE_OWNER };

/* "all", "flagged", "off". Static string; NULL for an invalid value. */
const char *store_tracking_name(enum store_tracking t);
/* STORE_OK or STORE_EINVAL. */
int store_tracking_parse(const char *s, enum store_tracking *out);

struct store_group {
  int64_t id;
  char title[STORE_TITLE_MAX + 1];
  enum store_tracking tracking;
  int64_t member_count;
  int64_t last_seq;
  char owner_login[STORE_LOGIN_MAX + 1]; /* the first owner; "" if none */
  int64_t remind_after_s;    /* automation thresholds (struct
                                store_automation); 0 = off */
  int64_t task_after_s;
};

struct store_member {
  int64_t user_id;
  char login[STORE_LOGIN_MAX + 1];
  char display_name[STORE_NAME_MAX + 1];
  enum store_member_role role;
  bool active; /* the user's account, not the membership */
  int64_t joined_seq, read_seq, delivered_seq;
};

/* Creates a group owned by owner_id, with the given extra members (ids; may
 * repeat the owner or each other, duplicates are ignored), in one
 * transaction. *id (may be NULL) receives the conversation id. Errors:
 * STORE_EEXISTS 'group "x" already exists' (titles are unique ignoring
 * case); STORE_EINVAL for an empty title or a deactivated user;
 * STORE_ENOTFOUND for an unknown user id. */
int store_group_create(struct store_conn *c, const char *title,
                       int64_t owner_id, enum store_tracking tracking,
                       const int64_t *member_ids, size_t n_members,
                       int64_t *id);

/* Finds a group by title (ignoring case). STORE_ENOTFOUND
 * 'unknown group "x"'. */
int store_group_get(struct store_conn *c, const char *title,
                    struct store_group *out);

/* Lists all groups ordered by title; free *out with free(). */
int store_group_list(struct store_conn *c, struct store_group **out,
                     size_t *n);

/* Adds a user to a group as a member or owner; the member's markers start
 * at the conversation's current last_seq. Errors: STORE_ENOTFOUND (unknown
 * conversation or user), STORE_EEXISTS '"x" is already a member of "y"',
 * STORE_EINVAL (a direct conversation, a deactivated user). */
int store_group_add_member(struct store_conn *c, int64_t conversation_id,
                           int64_t user_id, enum store_member_role role);

/* Lists a conversation's current members ordered by login; free *out with
 * free(). STORE_ENOTFOUND for an unknown conversation. */
int store_conversation_members(struct store_conn *c, int64_t conversation_id,
                               struct store_member **out, size_t *n);

/* Returns the one direct conversation between two users, creating it (both
 * as owners) when it does not exist yet; a user may have one with
 * themselves. *created (may be NULL) tells which. Safe against concurrent
 * callers: both get the same id. STORE_ENOTFOUND for an unknown user,
 * STORE_EINVAL for a deactivated one. */
int store_direct_get_or_create(struct store_conn *c, int64_t user_a,
                               int64_t user_b, int64_t *id, bool *created);

/* ------------------------------------------------------------------------ */
/* Bots. */

struct store_bot {
  int64_t id;
  char name[STORE_LOGIN_MAX + 1];
  char owner_login[STORE_LOGIN_MAX + 1];
  bool revoked;
  int rate_limit_per_minute;
  int64_t conversation_count; /* conversations it may post to */
  int64_t created_at;         /* Unix seconds */
};

/* Creates a bot with the hash of its token (crypto/ makes token and hash;
 * only the hash is stored) and the conversations it may post to, in one
 * transaction. *id (may be NULL) receives its id. Errors: STORE_EEXISTS
 * 'bot "x" already exists'; STORE_EINVAL 'invalid bot name "x": ...', a
 * deactivated owner; STORE_ENOTFOUND unknown owner or conversation. */
int store_bot_create(struct store_conn *c, const char *name, int64_t owner_id,
                     const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
                     const int64_t *conversation_ids, size_t n_conversations,
                     int64_t *id);

/* Finds a bot by name (ignoring case). STORE_ENOTFOUND 'unknown bot "x"'. */
int store_bot_get(struct store_conn *c, const char *name,
                  struct store_bot *out);

/* Lists all bots, revoked ones included, ordered by name; free *out with
 * free(). */
int store_bot_list(struct store_conn *c, struct store_bot **out, size_t *n);

/* Revokes a bot: its token stops working for good. Revoking a revoked bot
 * succeeds. STORE_ENOTFOUND for an unknown id. */
int store_bot_revoke(struct store_conn *c, int64_t bot_id);

/* Lets a bot post to a conversation (idempotent). STORE_ENOTFOUND for an
 * unknown bot or conversation; STORE_EINVAL for a revoked bot. */
int store_bot_allow(struct store_conn *c, int64_t bot_id,
                    int64_t conversation_id);

/* Messages a minute a bot may send (all ways together); default 20. */
#define STORE_BOT_RATE_MAX 6000
/* Sets a bot's rate limit, 1..STORE_BOT_RATE_MAX. Audited ("bot.rate").
 * STORE_ENOTFOUND unknown bot; STORE_EINVAL out of range. */
int store_bot_set_rate(struct store_conn *c, int64_t bot_id, int per_minute);

/* The robot webhook (sql/0010_bots.sql). A sealed secret is the blob of
 * hcr_secret_seal, at most STORE_ROBOT_SEALED_MAX bytes. */
#define STORE_ROBOT_SEALED_MAX 176
/* Gives a bot its robot webhook into conversation_id (the bot is allowed
 * there too), replacing an earlier one: the new access token's hash, and
 * the sealed signing secret (NULL: unsigned calls only). One transaction;
 * audited ("bot.robot"). STORE_ENOTFOUND unknown bot or conversation;
 * STORE_EINVAL revoked bot, bad blob length; STORE_EEXISTS hash in use. */
int store_bot_robot_set(struct store_conn *c, int64_t bot_id,
                        int64_t conversation_id,
                        const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
                        const uint8_t *sealed, size_t sealed_len);

struct store_bot_robot {
  int64_t bot_id;
  char name[STORE_LOGIN_MAX + 1];
  int rate_limit_per_minute;
  int64_t conversation_id;
  size_t sealed_len;                 /* 0: no secret, unsigned calls */
  uint8_t sealed[STORE_ROBOT_SEALED_MAX];
};

/* Resolves a robot access token hash. STORE_ENOTFOUND 'unknown robot
 * token'; STORE_EINVAL 'bot "x" is revoked' or 'the robot's conversation
 * was deleted'. One statement. */
int store_bot_robot_lookup(struct store_conn *c,
                           const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
                           struct store_bot_robot *out);

/* Master key rotation: every bot's sealed robot secret (bot id, blob). */
struct store_robot_secret {
  int64_t bot_id;
  size_t sealed_len;
  uint8_t sealed[STORE_ROBOT_SEALED_MAX];
};
/* *out malloc'd (NULL when n is 0); free() it. */
int store_bot_robot_secrets(struct store_conn *c,
                            struct store_robot_secret **out, size_t *n);
/* Replaces a bot's sealed secret only if it is still `old` (compare and
 * swap). STORE_OK; STORE_EEXISTS when it changed meanwhile (or is gone);
 * STORE_EINVAL bad length. */
int store_bot_robot_reseal(struct store_conn *c, int64_t bot_id,
                           const uint8_t *old, size_t old_len,
                           const uint8_t *sealed, size_t sealed_len);

/* Delivery, read and ack state of a message a bot posted (the bot API's
 * summary). Recipients are as in store_receipt_counts (members when it was
 * sent, not left before it), or a DING's recipients. delivered: the
 * member's delivery marker passed it (reads move it too), or for a DING
 * its recorded delivery; read: their read marker passed it. No read
 * times: those are for people (SPEC §5). */
struct store_bot_rcpt {
  int64_t user_id;
  char login[STORE_LOGIN_MAX + 1];
  bool delivered, read, acked;
  int64_t acked_at_ms;               /* DINGs; 0 when not acknowledged */
};
struct store_bot_summary {
  int kind;                          /* enum store_msg_kind (below) */
  bool tracked;
  int64_t sent_at_ms;
  struct store_bot_rcpt *rcpt;       /* by user id; malloc'd */
  size_t n;
};
/* STORE_EFORBIDDEN 'bot may not post to conversation N' (not added, or
 * revoked) or 'message N:S was not posted by this bot'; STORE_ENOTFOUND
 * 'unknown message N:S'. Release with store_bot_summary_cleanup. */
int store_bot_message_summary(struct store_conn *c, int64_t bot_id,
                              int64_t conversation_id, int64_t seq,
                              struct store_bot_summary *out);
void store_bot_summary_cleanup(struct store_bot_summary *s);

/* ------------------------------------------------------------------------ */
/* Sessions and principals (chat core). A principal is a user or a bot; a
 * token (made and hashed by crypto/) identifies one. */

enum store_principal_kind { STORE_PRINCIPAL_USER = 1, STORE_PRINCIPAL_BOT = 2 };

struct store_principal {
  enum store_principal_kind kind;
  int64_t id;                          /* users.id or bots.id */
  char login[STORE_LOGIN_MAX + 1];     /* user login or bot name */
  char display_name[STORE_NAME_MAX + 1];
  char time_zone[STORE_TZ_MAX + 1];    /* "UTC" for bots */
  enum store_role role;                /* users only */
  int64_t device_id;                   /* the session's device; 0 for bots */
  int64_t expires_at_ms;               /* session expiry; 0 for bots */
  int rate_limit_per_minute;           /* bots' messages a minute; 0 users */
};

/* What a password login needs. `password_hash` is "" when the user has no
 * password. STORE_ENOTFOUND 'unknown user "x"' when no such login exists
 * (the caller must then still spend the time of one verification). */
struct store_login_info {
  int64_t user_id;
  bool active;
  char password_hash[160];
};
int store_login_lookup(struct store_conn *c, const char *login,
                       struct store_login_info *out);

/* Creates a session for an active user on a device that expires `ttl_s`
 * (> 0) seconds from now; stores only token_hash. device_name (up to 100
 * characters; NULL means "") names the installation: a named device of
 * the user is reused (its row, and so its signing key, survive logging in
 * again), while "" makes a new device row per login. *out (may be NULL)
 * receives the principal as store_session_lookup would. Errors:
 * STORE_ENOTFOUND 'unknown user id N'; STORE_EINVAL 'user "x" is
 * deactivated', 'device name must be at most 100 characters', a
 * non-positive or absurd ttl; STORE_EEXISTS when the hash is in use. */
int store_session_create(struct store_conn *c, int64_t user_id,
                         const char *device_name,
                         const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
                         int64_t ttl_s, struct store_principal *out);

/* Resolves a token hash to its principal: an unexpired, unrevoked session
 * of an active user, or an unrevoked bot. Updates the session's last use
 * (at most once a minute, so that frequent reconnects cost no writes).
 * One statement; meant for every connect. STORE_ENOTFOUND 'unknown token'
 * when the hash is unknown; STORE_EINVAL 'token expired or revoked' when
 * it is known but no longer valid (expired, revoked, user deactivated, bot
 * revoked). */
int store_session_lookup(struct store_conn *c,
                         const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
                         struct store_principal *out);

/* Revokes the session with this token hash (logout). Revoking twice
 * succeeds. STORE_ENOTFOUND 'unknown session token' for an unknown hash
 * (a bot token too: bots have no session to end). */
int store_session_revoke(struct store_conn *c,
                         const uint8_t token_hash[STORE_TOKEN_HASH_LEN]);

/* ------------------------------------------------------------------------ */
/* Messages (chat core). */

enum store_msg_kind { STORE_MSG_TEXT = 1, STORE_MSG_DING = 2, STORE_MSG_CARD = 3 };

/* DING urgency (SPEC §6); 0 means "not a DING". */
enum store_urgency {
  STORE_URG_NORMAL = 1, STORE_URG_URGENT = 2, STORE_URG_CRITICAL = 3
};

/* "normal", "urgent", "critical"; NULL for an invalid value. */
const char *store_urgency_name(enum store_urgency u);

/* What makes a message a DING (issue 5): its urgency and recipients, and
 * optionally its own re-alert schedule. Borrowed for the call. */
#define STORE_DING_TO_MAX 4096
#define STORE_DING_ESC_MAX 32
#define STORE_DING_ESC_S_MAX 604800 /* a week */
struct store_ding {
  enum store_urgency urgency;
  bool all;                /* every current member but the sender */
  const int64_t *to;       /* or these users (1..STORE_DING_TO_MAX; repeats
                              count once), each a current member, not the
                              sender */
  size_t n_to;
  const int64_t *esc_s;    /* 0..STORE_DING_ESC_MAX re-alerts, seconds after
                              sending, strictly increasing, each
                              1..STORE_DING_ESC_S_MAX; none: the org's
                              policy (store_ding_policy) */
  size_t n_esc;
};

/* One message to store. Strings are borrowed for the call. */
struct store_send {
  enum store_principal_kind sender_kind;
  int64_t sender_id;
  const char *cmid;        /* 1..64 bytes, unique per sender forever */
  int64_t conversation_id;
  enum store_msg_kind kind;
  const char *body;        /* UTF-8 (checked by the caller) */
  size_t body_len;
  bool flagged;            /* sender asked for receipts ('flagged' policy) */
  const struct store_ding *ding; /* kind STORE_MSG_DING: required; other
                              kinds: NULL */
};

/* Per-message outcome of store_send_batch. */
struct store_send_result {
  int rc;                  /* STORE_OK, or STORE_ENOTFOUND: not a member
                              (for a bot: not allowed to post there) or no
                              such conversation — indistinguishable on
                              purpose. Rarely, for this message alone:
                              STORE_EINVAL (a value the database refuses:
                              cmid not 1-64 bytes, a NUL or invalid UTF-8
                              in the body, a bad kind), STORE_EUNAVAIL or
                              STORE_EEXISTS (it kept losing a race with
                              another transaction; re-sending is safe) */
  int64_t conversation_id; /* for a duplicate: the original's */
  int64_t seq;
  int64_t sent_at_ms;
  bool tracked;
  bool dup;                /* (sender, cmid) was stored before: this is the
                              original message's result */
  /* DINGs. A DING refused for its recipients has rc STORE_EINVAL and
   * ding_fault set (ding_fault_at: the index in `to`). A DING stored by
   * this call (not dup) has its recipients, ascending, and the fs of the
   * feed entry each got about their own row (PROTOCOL.md 3.6), and when
   * its first re-alert (or escalation) is due. The arrays are malloc'd:
   * release with store_send_results_cleanup. */
  int ding_fault;
  int ding_fault_at;
  int64_t *ding_rcpt;
  int64_t *ding_fs;
  size_t n_ding_rcpt;
  int64_t ding_due_ms;
};

enum {
  STORE_DING_NOT_MEMBER = 1,   /* to[at] is not a current, active member */
  STORE_DING_SENDER = 2,       /* to[at] is the sender */
  STORE_DING_NO_RECIPIENTS = 3 /* `all` found nobody but the sender */
};

/* Frees the DING arrays of out[0..n-1] and zeroes them. Takes NULL. */
void store_send_results_cleanup(struct store_send_result *out, size_t n);

/* Stores up to n messages in ONE transaction (group commit; one
 * statement, one round trip) and fills out[0..n-1]. Guarantees:
 *   - seqs are per-conversation, gapless and increasing, assigned in the
 *     order of `in`; each conversation's counter row is locked once per
 *     batch (not per message), in conversation id order, so batches from
 *     several processes sharing the database neither deadlock nor leave
 *     gaps;
 *   - a (sender, cmid) already stored, or repeated earlier in the same
 *     batch, is not stored again: its result is the original's with dup;
 *   - a message from a sender who may not post there (a user: not a
 *     current member, or deactivated; a bot: not allowed there, or
 *     revoked) gets rc STORE_ENOTFOUND and does not affect the others;
 *   - a message the database refuses by itself does not affect the others
 *     either: when the transaction fails for a reason one message can
 *     cause (bad data; a unique violation because the same sender and
 *     cmid raced into another conversation on another node; a deadlock),
 *     it is rolled back and the messages are stored again one transaction
 *     each, so only the culprit fails (its rc says why, and
 *     store_errmsg() gives the last such reason even though the call
 *     succeeded);
 *   - `tracked` follows the conversation's policy ('all': true, 'off':
 *     false, 'flagged': the sender's flag; DINGs always true).
 * Returns STORE_OK when every message has its outcome in out (individual
 * rc's may be errors), STORE_EUNAVAIL when the connection failed (the
 * outcome is then unknown: re-sending is safe because of the cmid rule),
 * STORE_EINVAL when the bodies add up to more than 512 MiB, or
 * STORE_EINTERNAL (e.g. the schema is not migrated); out is untouched
 * then. Apart from the one-by-one fallback above, never partially
 * commits. n may be 0. Strings in `in` are borrowed for the call. */
int store_send_batch(struct store_conn *c, const struct store_send *in,
                     size_t n, struct store_send_result *out);

/* A stored message, as read back. */
struct store_message {
  int64_t conversation_id;
  int64_t seq;
  enum store_principal_kind sender_kind;
  int64_t sender_id;
  char cmid[65];
  enum store_msg_kind kind;
  char *body;              /* malloc'd, NUL-terminated; see body_len */
  size_t body_len;
  bool tracked;
  int64_t sent_at_ms;
  /* DINGs: urgency (0 for other kinds), and the recipients as sent: all
   * members, or ding_to (malloc'd, freed by store_messages_free). */
  enum store_urgency urgency;
  bool ding_all;
  int64_t *ding_to;
  size_t n_ding_to;
  int64_t card_id;         /* kind card: its card (issue 6); else 0 */
};

/* Frees the bodies and the array from store_messages_*(). Takes NULL. */
void store_messages_free(struct store_message *m, size_t n);

/* Messages of a conversation with after < seq <= upto (upto 0: no upper
 * bound), ascending, at most `limit` (>= 1, else STORE_EINVAL), and at most
 * `max_bytes` of bodies (0: no byte bound; at least one message is
 * returned even if it alone is larger). The reader (a user who is a
 * current member, or an unrevoked bot allowed in the conversation) must
 * be a member: otherwise STORE_ENOTFOUND 'unknown conversation id N',
 * exactly as for an unknown conversation. On success *out is a malloc'd
 * array of *n messages (NULL when n is 0); free it with
 * store_messages_free(). One statement. */
int store_messages_after(struct store_conn *c,
                         enum store_principal_kind reader_kind,
                         int64_t reader_id, int64_t conversation_id,
                         int64_t after, int64_t upto, size_t limit,
                         size_t max_bytes, struct store_message **out,
                         size_t *n);

/* Older history: the newest `limit` (>= 1) messages with seq < before
 * (before 0: the newest of all), returned in ASCENDING order. Same
 * membership rule, errors and ownership as store_messages_after. */
int store_messages_before(struct store_conn *c,
                          enum store_principal_kind reader_kind,
                          int64_t reader_id, int64_t conversation_id,
                          int64_t before, size_t limit,
                          struct store_message **out, size_t *n);

/* A conversation as its member sees it. */
struct store_conv_summary {
  int64_t id;
  bool direct;
  char title[STORE_TITLE_MAX + 1];   /* for a direct conversation: the other
                                        user's display name (one's own for
                                        a note-to-self) */
  enum store_member_role role;
  enum store_tracking tracking;
  int64_t last_seq;
  int64_t joined_seq;
  int64_t read_seq;
  int64_t member_count;
};

/* The conversations a principal belongs to (a user: current memberships;
 * a bot: those it may post to, none once revoked), ordered by id; free
 * *out with free() (NULL when n is 0). For a bot, role is STORE_MEMBER and
 * the markers are 0; a direct conversation is titled with both names. */
int store_principal_conversations(struct store_conn *c,
                                  enum store_principal_kind kind, int64_t id,
                                  struct store_conv_summary **out, size_t *n);

/* One conversation's summary for a principal: STORE_ENOTFOUND 'unknown
 * conversation id N' when it is not a member, exactly as when the
 * conversation does not exist. */
int store_conversation_get(struct store_conn *c,
                           enum store_principal_kind kind, int64_t id,
                           int64_t conversation_id,
                           struct store_conv_summary *out);

/* ======================================================================== */
/* Read receipts, data keys, the feed and unread reports (issue 4).
 *
 * Storage keeps keys and read times only as opaque blobs: the server wraps,
 * unwraps, seals and opens them (crypto/) on its database threads, between
 * the calls below. Blobs are at most STORE_BLOB_MAX bytes; longer ones are
 * STORE_EINVAL. All calls follow the conventions at the top of this file. */

#define STORE_BLOB_MAX 128

/* ------------------------------------------------------------------------ */
/* Per-user data keys, stored wrapped by the master key, and the master key
 * check values. */

/* A user's data key as stored. */
struct store_user_key {
  int64_t user_id;
  uint32_t key_version;  /* bound into the wrap and every sealed time */
  int64_t master_id;     /* hcr_master_id of the key that wraps it; -1 when
                            destroyed before it ever existed */
  bool destroyed;        /* erased: wrapped_len is 0, times unrecoverable */
  size_t wrapped_len;
  uint8_t wrapped[STORE_BLOB_MAX];
};

/* The user's current data key (the highest version). STORE_ENOTFOUND
 * 'user id N has no data key' when none was ever created (nor destroyed). */
int store_user_key_get(struct store_conn *c, int64_t user_id,
                       struct store_user_key *out);

/* Stores `wrapped` (len bytes, borrowed) as the user's data key, version
 * STORE_KEY_FIRST_VERSION, wrapped under master_id — unless the user has a
 * key already (or a destroyed one): then nothing is stored and *out is the
 * existing key. Two callers racing both get the winner's key; *created
 * (may be NULL) tells this caller whether it won, so the loser discards its
 * own fresh DEK and unwraps *out. The caller wraps for (user_id,
 * STORE_KEY_FIRST_VERSION). STORE_ENOTFOUND 'unknown user id N';
 * STORE_EINVAL for a bad length or a negative master id; STORE_EFORBIDDEN
 * 'master key id N is retired' when a rotation retired master_id (the
 * caller picks up the new master key and tries again). */
#define STORE_KEY_FIRST_VERSION 1u
int store_user_key_create(struct store_conn *c, int64_t user_id,
                          int64_t master_id, const uint8_t *wrapped,
                          size_t len, struct store_user_key *out,
                          bool *created);

/* Crypto-shredding (`heraldctl user erase`): wipes every wrapped key of the
 * user, keeping the rows with destroyed_at (a user without a key gets a
 * destroyed one, so none is created later). Read state and sealed times
 * stay; the times just cannot be opened any more. Idempotent; audited
 * ("user.key_destroy"). The server must also drop the key from its cache.
 * STORE_ENOTFOUND 'unknown user id N'. */
int store_user_key_destroy(struct store_conn *c, int64_t user_id);

/* Rotation: a page of live (not destroyed) wrapped keys after the position
 * (after_user, after_version) in (user_id, key_version) order, at most
 * `limit` (>= 1), skipping keys already wrapped under skip_master (pass -1
 * to skip none). Start with (0, 0); continue from the last row returned.
 * A pass with skip_master = the new key that returns nothing proves the
 * rotation complete (keys created meanwhile by a server still on the old
 * key show up here). *out is malloc'd (NULL when n is 0); free() it. */
int store_user_keys_page(struct store_conn *c, int64_t after_user,
                         uint32_t after_version, int64_t skip_master,
                         size_t limit, struct store_user_key **out,
                         size_t *n);

/* Replaces one key's wrapped blob and master id, atomically, only if it is
 * still wrapped under old_master (compare and swap: concurrent rotations
 * or an erase cannot be overwritten). STORE_OK; STORE_ENOTFOUND when the
 * key does not exist or was destroyed; STORE_EEXISTS when it is no longer
 * under old_master (someone else re-wrapped it); STORE_EINVAL bad blob. */
int store_user_key_rewrap(struct store_conn *c, int64_t user_id,
                          uint32_t key_version, int64_t old_master,
                          int64_t new_master, const uint8_t *wrapped,
                          size_t len);

struct store_master_check {
  int64_t master_id;
  bool retired;
  int64_t created_at_ms;
  size_t len;
  uint8_t value[STORE_BLOB_MAX];
};

/* Stores the check value of master key master_id. Storing the same value
 * again succeeds; a different value for the same id is STORE_EEXISTS. */
int store_master_check_put(struct store_conn *c, int64_t master_id,
                           const uint8_t *value, size_t len);

/* Every check value, newest first (retired ones included); *out malloc'd,
 * free() it. At start-up: the configured key must have a non-retired check
 * (or, on an empty installation, none exists at all). */
int store_master_checks(struct store_conn *c, struct store_master_check **out,
                        size_t *n);

/* Marks master_id retired (after a completed rotation away from it), only
 * when no live key is wrapped under it any more; from then on
 * store_user_key_create refuses it. Race-free against a concurrent
 * create under master_id: one of the two fails. Idempotent; audited
 * ("keys.retire"). STORE_ENOTFOUND for an unknown id; STORE_EEXISTS
 * 'master key id N still wraps K data keys' (re-wrap them and retry). */
int store_master_check_retire(struct store_conn *c, int64_t master_id);

/* Keeps two key rotations from running at once: a session-level advisory
 * lock held until store_close(c) (or until the connection is lost).
 * STORE_EEXISTS 'another key rotation is running'. */
int store_keys_rotation_lock(struct store_conn *c);

/* ------------------------------------------------------------------------ */
/* Reads and receipts.
 *
 * A read is two calls on the same database thread, with the sealing in
 * between:
 *   1. store_read_plan: the reader's marker, the effective N and what the
 *      time must be clamped to, and whether a time may be recorded;
 *   2. the server clamps T to [upto_sent_at_ms, now_ms], seals it under
 *      the reader's key with AD (conv, read_seq + 1, upto, reader,
 *      key_version) — or seals nothing (opt-out, quiet hours, erased key)
 *      — and calls store_read_record with that same range.
 * store_read_record re-checks the marker under a row lock: if another read
 * moved it meanwhile, only the part still unread is recorded (the row
 * keeps the sealed `from` so the AD still matches; see store_who_row), and
 * a read that is now at or below the marker is a no-op. */

struct store_read_plan {
  int64_t read_seq;        /* the marker now; a range starts at read_seq+1 */
  int64_t upto;            /* effective N = min(requested, last_seq); when
                              upto <= read_seq there is nothing to record */
  int64_t upto_sent_at_ms; /* sent_at of message `upto` (0 if upto is 0) */
  int64_t now_ms;          /* the database's clock */
  bool user_opt_out;       /* the reader opted out of read-time recording */
  bool org_allows_opt_out; /* ... and the org honours that: record no time
                              when both are true */
  bool reader_quiet;       /* now_ms is in the reader's quiet hours: record
                              no time (SPEC §7.3; for a read at another
                              time ask store_quiet_until) */
};

/* Step 1. One statement, no lock. STORE_ENOTFOUND 'unknown conversation id
 * N' when the reader is not a current member (as when it does not exist);
 * STORE_EINVAL for seq < 1. */
int store_read_plan(struct store_conn *c, int64_t reader_id,
                    int64_t conversation_id, int64_t seq,
                    struct store_read_plan *out);

enum store_feed_kind {
  STORE_FEED_RECEIPT = 1,
  STORE_FEED_REMIND = 2,
  STORE_FEED_DING = 3,
  STORE_FEED_CARD = 4      /* event card_ver of card_id (issue 6) */
};

/* One feed entry (PROTOCOL.md §3.6). A receipt entry: read counts of
 * user_id's own tracked messages with from_seq <= seq <= to_seq in the
 * conversation changed; the server fetches the counts with
 * store_receipt_counts and sends one `receipt` per message with this fs.
 * A remind entry (store_remind_sweep): `count` tracked messages, the
 * oldest from_seq (sent at since_ms) and the newest to_seq, have been
 * unread by user_id past the conversation's remind_after; count and
 * since_ms are 0 for other kinds. */
struct store_feed_entry {
  int64_t user_id;
  int64_t fs;
  enum store_feed_kind kind;
  int64_t conversation_id;
  int64_t from_seq, to_seq;
  int64_t count;
  int64_t since_ms;
  int64_t ding_user_id;    /* STORE_FEED_DING: the state of this
                              recipient's row of the DING from_seq
                              (== to_seq) changed; see store_ding_notes */
  int64_t card_id, card_ver; /* STORE_FEED_CARD: that card's event */
};

struct store_read_result {
  bool moved;              /* false: a no-op, the marker was already there */
  int64_t old_seq;         /* marker before */
  int64_t read_seq;        /* marker after */
  struct store_feed_entry *feed; /* one per distinct sender (not the reader,
                              not bots) of tracked messages in the newly
                              read range, ordered by user; malloc'd, the
                              caller free()s it (NULL when n_feed is 0) */
  size_t n_feed;
};

/* Step 2: the read, in ONE statement (one transaction, one round trip).
 * With sealed non-NULL: (from_seq, to_seq) is exactly the range sealed
 * (read_seq + 1 and upto of the plan) and key_version the DEK's version;
 * to_seq beyond the conversation's last seq, from_seq > marker + 1 or
 * from_seq > to_seq are STORE_EINVAL. With sealed NULL (no time recorded):
 * from_seq and key_version are ignored and to_seq is clamped to last_seq,
 * so this alone is a complete read. Moves members.read_seq (and
 * delivered_seq) forward, inserts one read_ranges row, appends the receipt
 * feed entries. STORE_ENOTFOUND 'unknown conversation id N' for a
 * non-member. On success *out is filled (free out->feed).
 *
 * Cost: one read_ranges row, ~100 bytes of heap tuple with a 48-byte sealed
 * time (~50 without) plus ~60 bytes in its two indexes; one member row
 * update (HOT-less: ~80 bytes of dead tuple until vacuum); per distinct
 * sender one feed row (~70 bytes + ~30 of index) and one feed_heads bump.
 * Tables grow with read EVENTS (× distinct senders in the range for the
 * feed), never with messages × members. */
int store_read_record(struct store_conn *c, int64_t reader_id,
                      int64_t conversation_id, int64_t from_seq,
                      int64_t to_seq, uint32_t key_version,
                      const uint8_t *sealed, size_t sealed_len,
                      struct store_read_result *out);

struct store_receipt_count {
  int64_t seq;
  int64_t read;   /* recipients whose marker is at or past seq */
  int64_t total;  /* recipients: members when it was sent (joined_seq <
                     seq), still members or left at or after it, not the
                     sender */
};

/* Counts for sender_id's own tracked messages with from_seq <= seq <=
 * to_seq in a conversation, ascending; one statement whose cost is
 * O(members + messages in range), fine for ranges of thousands. *out is
 * malloc'd (NULL when n is 0); free() it. Membership is the caller's to
 * check. STORE_EINVAL for from_seq > to_seq. */
int store_receipt_counts(struct store_conn *c, int64_t sender_id,
                         int64_t conversation_id, int64_t from_seq,
                         int64_t to_seq, struct store_receipt_count **out,
                         size_t *n);

/* The feed of user_id after the cursor, ascending by fs, at most `limit`
 * (>= 1) entries. *out malloc'd (NULL when n is 0); free() it. */
int store_feed_after(struct store_conn *c, int64_t user_id, int64_t after_fs,
                     size_t limit, struct store_feed_entry **out, size_t *n);

/* The user's last fs (0 when the feed is empty): the cursor of `synced`. */
int store_feed_head(struct store_conn *c, int64_t user_id, int64_t *fs);

/* The message a who-read list is about. */
struct store_who_read_msg {
  enum store_principal_kind sender_kind;
  int64_t sender_id;
  enum store_msg_kind kind;
  bool tracked;
  int64_t sent_at_ms;
};

/* One recipient. When read and a time is stored, the sealed blob and the
 * AD inputs to open it: (conversation_id, ad_from_seq, ad_to_seq, user_id,
 * key_version). has_time false with read true: read, time unknown
 * (opt-out, quiet hours, purged). */
struct store_who_row {
  int64_t user_id;
  bool read;
  bool has_time;
  int64_t ad_from_seq, ad_to_seq;
  uint32_t key_version;
  size_t sealed_len;
  uint8_t sealed[STORE_BLOB_MAX];
};

/* Who read message (conversation_id, seq): every recipient (as in
 * store_receipt_counts), ordered by user id, with the covering read row.
 * The caller decides who may see what (the sender, the reader) from *msg.
 * STORE_ENOTFOUND 'unknown message N:S'. *rows malloc'd (NULL when n is
 * 0); free() it. One statement. */
int store_who_read(struct store_conn *c, int64_t conversation_id, int64_t seq,
                   struct store_who_read_msg *msg, struct store_who_row **rows,
                   size_t *n);

/* Retention: drops the sealed times of read rows recorded more than the
 * org's read_time_retention_days ago (the read state stays; who-read then
 * says "time unknown"), at most `limit` rows per call (0: all) so a large
 * backlog is purged in short transactions. *purged (may be NULL) receives
 * the count. Audited when it purged anything ("read_times.purge"). */
int store_read_times_purge(struct store_conn *c, size_t limit,
                           int64_t *purged);

/* ------------------------------------------------------------------------ */
/* Unread reports (SPEC §10). */

enum store_report_scope {
  STORE_REPORT_ALL = 0, /* everything the caller may see */
  STORE_REPORT_TEAM,    /* the caller's subtree only */
  STORE_REPORT_OWNED,   /* conversations the caller owns only */
  STORE_REPORT_ORG      /* everyone: admins only */
};

struct store_report_query {
  int64_t older_than_s;        /* threshold, seconds (>= 0) */
  enum store_report_scope scope;
  int64_t conversation_id;     /* 0: any */
  const char *department;      /* NULL: any; matched ignoring case */
  size_t limit;                /* most rows returned; 0: all (totals are
                                  always complete) */
};

struct store_report_row {
  int64_t user_id;             /* recipient */
  int64_t conversation_id, seq;
  enum store_principal_kind sender_kind;
  int64_t sender_id;
  int64_t sent_at_ms;
  int64_t unread_s;            /* from herald_unread_seconds() */
  bool ding, acked;            /* a DING; acknowledged (but not read) */
};

struct store_report_user {
  int64_t user_id;
  char display_name[STORE_NAME_MAX + 1];
  char department[STORE_NAME_MAX + 1]; /* "" when none */
  int64_t unread, dings;       /* rows; unacknowledged DINGs among them */
};

struct store_report_dept {
  char department[STORE_NAME_MAX + 1]; /* "" when none */
  int64_t unread, dings;
};

struct store_report {
  int64_t now_ms, older_than_s;
  struct store_report_row *rows;   /* by recipient, then oldest first */
  size_t n_rows;
  int64_t total_rows;              /* before the limit */
  bool truncated;
  struct store_report_user *users; /* by user id */
  size_t n_users;
  struct store_report_dept *depts; /* by department name */
  size_t n_depts;
};

/* "Unread over N" for caller_id: every tracked message older than the
 * threshold that a current member in scope has not read (not their own),
 * and every DING they read but did not acknowledge. Scope: an admin sees
 * everyone; a manager their whole subtree (users.manager_id, recursively,
 * as it is now) plus every member of the conversations they own; staff and
 * deactivated callers are refused, and so is a manager's conversation or
 * department filter that names nothing in their scope. Every run, refused
 * ones and ones naming an unknown filter included, writes an audit_log row
 * (actor, threshold, scope, filters, row count, outcome ok / refused /
 * not_found). On success *out owns arrays: release with
 * store_report_cleanup. Errors: STORE_ENOTFOUND unknown caller,
 * conversation or department; STORE_EFORBIDDEN 'user "x" may not run
 * reports' / 'only admins may report on the whole organisation' /
 * 'conversation N is outside your reports' scope' / 'department "d" ...';
 * STORE_EINVAL bad threshold or scope. */
int store_report_unread(struct store_conn *c, int64_t caller_id,
                        const struct store_report_query *q,
                        struct store_report *out);

/* A bot asking for a report: always refused, and audited like any refused
 * run (actor "bot:NAME"). Returns STORE_EFORBIDDEN 'bot "x" may not run
 * reports'; STORE_ENOTFOUND for an unknown bot; STORE_EINVAL bad scope. */
int store_report_unread_bot(struct store_conn *c, int64_t bot_id,
                            const struct store_report_query *q);

/* Frees what store_report_unread handed over and zeroes *r. Takes NULL. */
void store_report_cleanup(struct store_report *r);

/* ------------------------------------------------------------------------ */
/* Automation at the unread threshold (SPEC §10): per conversation, remind
 * each recipient once per tracked message unread past remind_after, and
 * (when task cards exist) turn it into a task card past task_after. "Unread
 * for" is herald_unread_seconds() in SQL, the same measure as the unread
 * report, so both follow business time once quiet hours exist. */

#define STORE_AUTOMATION_MIN_S 60
#define STORE_AUTOMATION_MAX_S 31536000 /* a year */

struct store_automation {
  int64_t remind_after_s;   /* 0: off, else STORE_AUTOMATION_MIN_S..MAX_S */
  int64_t task_after_s;     /* same; stored only until task cards exist */
};

/* store_group_create with thresholds (NULL: both off), in the same
 * transaction. Reminders then cover every tracked message of the group.
 * Errors as store_group_create, and STORE_EINVAL 'remind_after must be
 * 60-31536000 seconds (or off)' (task_after likewise). */
int store_group_create_automated(struct store_conn *c, const char *title,
                                 int64_t owner_id, enum store_tracking tracking,
                                 const int64_t *member_ids, size_t n_members,
                                 const struct store_automation *automation,
                                 int64_t *id);

/* Sets both thresholds of a conversation (a group or a direct one; the
 * caller checks who may). Switching reminders on covers only messages sent
 * from now on, so that nobody is reminded of old history; changing the
 * threshold keeps what was reminded. Audited ("conversation.automate").
 * STORE_ENOTFOUND 'unknown conversation id N'; STORE_EINVAL as above. */
int store_conversation_set_automation(struct store_conn *c,
                                      int64_t conversation_id,
                                      const struct store_automation *a);

/* The reminder sweep, one bounded batch per call, each its own
 * transaction: visits the conversations with remind_after set whose id is
 * above *after_conv, in id order, and for each current, active member
 * whose tracked messages (not their own, not DINGs) are unread past the
 * threshold and not yet reminded, appends ONE feed entry (STORE_FEED_REMIND,
 * covering all of them) and moves the member's reminder marker, in the
 * same transaction. Exactly once across concurrent callers (several
 * servers): members are locked with SKIP LOCKED and their markers read
 * under the lock; a member that is locked (being read, or swept
 * elsewhere) is left for the next sweep. A batch ends after the
 * conversation that brings the members handled to `limit` (>= 1);
 * *after_conv is advanced and *more says whether to call again. Start a
 * pass with *after_conv = 0. *out malloc'd, ordered by user then fs (NULL
 * when n is 0); free() it. STORE_EINVAL for limit 0. */
int store_remind_sweep(struct store_conn *c, int64_t *after_conv,
                       size_t limit, struct store_feed_entry **out, size_t *n,
                       bool *more);

/* ======================================================================== */
/* End of the issue-4 section. */

/* ------------------------------------------------------------------------ */
/* The database's clock (issue 5).
 *
 * Everything the database timestamps reads herald_now() (sql/
 * 0005_quiet_hours.sql): now() plus an offset set per connection. Only
 * heraldd's test-only test-clock-file setting ever sets one. */

/* Sets the clock offset of this connection, in milliseconds (0: real
 * time). A no-op when it is already in force; kept on the connection and
 * applied again after a reconnect. STORE_OK, STORE_EUNAVAIL. Not inside a
 * transaction. */
int store_clock_set_offset(struct store_conn *c, int64_t offset_ms);

/* ------------------------------------------------------------------------ */
/* Quiet hours (issue 5, SPEC §7).
 *
 * Weekly windows in the user's IANA time zone: the org's (every user) plus
 * the user's own additions. On the wire and here a window is (day 1..7,
 * Monday first as in ISO 8601; start 0..1439 and end 0..1440 in minutes
 * after local midnight; end < start crosses midnight into the next day,
 * end 0 means midnight). An instant is quiet when its local wall-clock
 * time lies in a window; the DST consequences (a skipped hour, a repeated
 * hour) are spelled out in sql/0005_quiet_hours.sql. The engine is SQL:
 * herald_quiet_state(user, at), herald_in_quiet(user, at),
 * herald_quiet_until(user, at) (end of the current quiet stretch, for
 * deferring alerts and reminders), herald_business_seconds(user, t1, t2)
 * and herald_unread_seconds (reports). Times below are ms since the epoch;
 * at_ms 0 means "the database's now" (herald_now()). */

#define STORE_QUIET_WINDOWS_MAX 64

struct store_quiet_window {
  int day;      /* 1 = Monday ... 7 = Sunday */
  int start;    /* 0..1439 */
  int end;      /* 0..1440; end <= start crosses midnight */
};

struct store_quiet_state {
  bool in_quiet;
  int64_t until_ms;   /* end of the current quiet stretch; 0 when not in
                         quiet hours, or when every hour is quiet */
  int64_t next_ms;    /* start of the next quiet stretch (after until_ms
                         when in quiet hours); 0 when there is none */
  int64_t at_ms;      /* the instant this state is for */
  char time_zone[STORE_TZ_MAX + 1];
  /* The windows as given. Stored windows are split at midnight; a part
   * ending at 24:00 and one starting at 00:00 the next day that together
   * span less than a day are shown as the one window they were. */
  struct store_quiet_window org[STORE_QUIET_WINDOWS_MAX];
  size_t n_org;
  struct store_quiet_window own[STORE_QUIET_WINDOWS_MAX];
  size_t n_own;
};

/* Checks windows before they are stored: at most STORE_QUIET_WINDOWS_MAX,
 * day 1..7, start 0..1439, end 0..1440, start != end. STORE_OK or
 * STORE_EINVAL with a message naming the window, e.g. 'window 2: day must
 * be 1 (Monday) to 7 (Sunday), got 9'. Needs no database (c may be NULL,
 * then no message is kept). */
int store_quiet_windows_check(struct store_conn *c,
                              const struct store_quiet_window *w, size_t n);

/* The user's quiet state at at_ms (0: now), zone and windows. Two
 * statements. STORE_ENOTFOUND 'unknown user id N'. */
int store_quiet_get(struct store_conn *c, int64_t user_id, int64_t at_ms,
                    struct store_quiet_state *out);

/* The state alone, for many users at once (the server refreshes the
 * users it has connected when their quiet hours begin or end). */
struct store_quiet_brief {
  int64_t user_id;
  bool known;         /* false: no such user (the rest is zero) */
  bool in_quiet;
  int64_t until_ms, next_ms, at_ms;  /* as in store_quiet_state */
  char time_zone[STORE_TZ_MAX + 1];
};

/* The states of user_ids[0..n-1] at at_ms (0: now), in one statement:
 * out[i] is for user_ids[i]. n may be 0. */
int store_quiet_states(struct store_conn *c, const int64_t *user_ids,
                       size_t n, int64_t at_ms,
                       struct store_quiet_brief *out);

/* Replaces the user's own windows with w[0..n-1] (n 0 clears them) and,
 * when time_zone is non-NULL, sets the user's zone; one transaction.
 * STORE_EINVAL for bad windows (as store_quiet_windows_check) or 'unknown
 * time zone "x" ...'; STORE_ENOTFOUND unknown user. Audited
 * ("quiet.set"). */
int store_quiet_set(struct store_conn *c, int64_t user_id,
                    const struct store_quiet_window *w, size_t n,
                    const char *time_zone);

/* The org's windows, and replacing them (n may be 0: no org quiet hours).
 * Audited ("quiet.org_set"). Errors as store_quiet_set. */
int store_quiet_org_get(struct store_conn *c, struct store_quiet_window *out,
                        size_t *n);
int store_quiet_org_set(struct store_conn *c,
                        const struct store_quiet_window *w, size_t n);

/* Whether at_ms (0: now) is in the user's quiet hours, and *until_ms: the
 * end of the quiet stretch it falls in, or at_ms itself when it is not
 * quiet (INT64_MAX when every hour is quiet). Either out may be NULL. One
 * statement. STORE_ENOTFOUND for an unknown user. */
int store_quiet_until(struct store_conn *c, int64_t user_id, int64_t at_ms,
                      bool *in_quiet, int64_t *until_ms);

/* Business seconds between from_ms and to_ms for the user: the time not
 * in their quiet hours (0 when to <= from). STORE_ENOTFOUND unknown user. */
int store_quiet_business_seconds(struct store_conn *c, int64_t user_id,
                                 int64_t from_ms, int64_t to_ms,
                                 int64_t *seconds);

/* Recomputes every time zone's offset changes and every quiet profile,
 * after the system's time zone database was updated. *zones (may be
 * NULL) receives how many zones were recomputed. */
int store_quiet_zones_refresh(struct store_conn *c, int *zones);

/* ======================================================================== */
/* End of the issue-5 quiet-hours section. */

/* ------------------------------------------------------------------------ */
/* DINGs (issue 5, SPEC §6): urgent notices each recipient must acknowledge,
 * re-alerted on a schedule and escalated (manager, webhook) when they are
 * not. A DING is stored with its message by store_send_batch (struct
 * store_ding). Each recipient has a row: delivered, read (their read
 * marker passed it), acknowledged (with time), step (re-alerts sent),
 * escalated. Every change of a row appends a feed entry (STORE_FEED_DING)
 * to the recipient, to the sender (a user) and, once escalated, to the
 * recipient's manager; the functions below return those entries with the
 * row's state as notes, for the server to push live (ding_update). The
 * schedule lives in the rows (sql/0008_ding.sql explains it); the server
 * fires due steps with store_ding_fire, each exactly once across any
 * number of servers sharing the database. */

struct store_ding_row {
  int64_t user_id;
  bool delivered, read, acked, escalated;
  int64_t acked_at_ms;           /* 0 when not acknowledged */
  int step;                      /* re-alerts sent (the escalation counts
                                    as one more) */
};

/* A feed entry about a recipient's row, with the row as it is now. */
struct store_ding_note {
  int64_t to_user;               /* whose feed */
  int64_t fs;
  int64_t conversation_id, seq;
  enum store_principal_kind sender_kind;
  int64_t sender_id;
  enum store_urgency urgency;
  struct store_ding_row row;
};

/* The DINGs seqs[0..n-1] of a conversation reached one of user_id's
 * devices; the first delivery of each is recorded and notified, later
 * ones (and non-DINGs, or DINGs not to them) change nothing. *notes
 * malloc'd (NULL when *n_notes is 0); free() it. The change is one
 * statement; the notes are read right after it (a second round trip only
 * when something changed), so they show its state or a later one. */
int store_ding_delivered(struct store_conn *c, int64_t user_id,
                         int64_t conversation_id, const int64_t *seqs,
                         size_t n, struct store_ding_note **notes,
                         size_t *n_notes);

/* user_id's read marker in the conversation moved from from_seq to to_seq
 * (store_read_result old_seq/read_seq): their DINGs in between are read;
 * notifies their followers. Notes as store_ding_delivered. */
int store_ding_read(struct store_conn *c, int64_t user_id,
                    int64_t conversation_id, int64_t from_seq, int64_t to_seq,
                    struct store_ding_note **notes, size_t *n_notes);

/* user_id acknowledges DING (conversation_id, seq) at at_ms (0: now),
 * clamped to [the DING's time, now]: stops their re-alerts and any
 * webhook retry still to come. *changed false: acknowledged before (a
 * no-op, no notes). *acked_at_ms (may be NULL) receives the recorded time.
 * STORE_ENOTFOUND 'no DING N:S addressed to user id U' when there is no
 * such DING or they are not a recipient. Notes as store_ding_delivered. */
int store_ding_ack(struct store_conn *c, int64_t user_id,
                   int64_t conversation_id, int64_t seq, int64_t at_ms,
                   bool *changed, int64_t *acked_at_ms,
                   struct store_ding_note **notes, size_t *n_notes);

/* The notes of feed entries (feed replay): one per STORE_FEED_DING entry
 * of e[0..n-1], in order, with the row's current state; other kinds are
 * skipped. One statement. */
int store_ding_notes(struct store_conn *c, const struct store_feed_entry *e,
                     size_t n, struct store_ding_note **notes,
                     size_t *n_notes);

/* The board of a DING for its sender. */
struct store_ding_board {
  enum store_urgency urgency;
  enum store_principal_kind sender_kind;
  int64_t sender_id;
  struct store_ding_row *rows;   /* by user id; malloc'd, free() it */
  size_t n_rows;
};

/* Every recipient's row of DING (conversation_id, seq) for the caller
 * (a user or a bot), who must be its sender. STORE_ENOTFOUND 'unknown
 * DING N:S' when the caller cannot see the conversation (as when it does
 * not exist) or the message is not a DING; STORE_EFORBIDDEN 'only the
 * sender of a DING sees its board'. One statement. */
int store_ding_board(struct store_conn *c, enum store_principal_kind kind,
                     int64_t caller_id, int64_t conversation_id, int64_t seq,
                     struct store_ding_board *out);

/* ---- the scheduler ---- */

enum store_ding_what {
  STORE_DING_DEFERRED = 0,  /* quiet hours: moved to the end of them */
  STORE_DING_REALERT = 1,   /* re-alert `step` went out */
  STORE_DING_ESCALATED = 2  /* escalated (manager_id, webhook queued) */
};

struct store_ding_event {
  int64_t conversation_id, seq, user_id;
  enum store_ding_what what;
  int step;                 /* the step fired (or, deferred, the last) */
  bool overrode_quiet;      /* a critical DING during quiet hours */
  int64_t manager_id;       /* escalation to this manager; 0 none */
  bool webhook;             /* a webhook attempt is queued */
  enum store_principal_kind sender_kind;
  int64_t sender_id;
  enum store_urgency urgency;
};

/* Fires every due step, at most `limit` (>= 1) rows, in one transaction:
 * claims the due rows (skipping rows another server holds), applies each
 * (store_ding_what), records the steps (a step can be recorded once
 * only), appends the feed entries and commits. `node` (1..100 bytes)
 * names this server in the record. *events and *notes are malloc'd (NULL
 * when empty); free() them. A call that returns `limit` events may have
 * left more due rows: call again. */
int store_ding_fire(struct store_conn *c, const char *node, size_t limit,
                    struct store_ding_event **events, size_t *n_events,
                    struct store_ding_note **notes, size_t *n_notes);

/* When the next step or webhook attempt is due, ms since the epoch (it
 * may be in the past); 0 when nothing is pending. */
int store_ding_next_due(struct store_conn *c, int64_t *due_ms);

/* A claimed webhook attempt. */
struct store_ding_webhook {
  int64_t conversation_id, seq, user_id;
  int attempt;               /* 1, 2, ... */
  char url[1024];            /* "" when the org has no webhook any more */
  char *payload;             /* JSON to POST; malloc'd, free() it */
};

/* Claims the most overdue webhook attempt for `node` for lease_s seconds
 * (its HTTP request must be over by then, or another server makes the
 * attempt again). *found false when none is due. */
int store_ding_webhook_claim(struct store_conn *c, const char *node,
                             int lease_s, struct store_ding_webhook *out,
                             bool *found);

/* Records the outcome of a claimed attempt: outcome "ok", "failed" or
 * "skipped", the HTTP status (0: none, e.g. a timeout) and a detail line.
 * After a failure the next attempt is due backoff_s[attempt - 1] seconds
 * later, while attempt <= n_backoff. *recorded false when the claim was
 * lost (nothing written); *next_ms (may be NULL) the next attempt, 0 when
 * none. */
int store_ding_webhook_record(struct store_conn *c,
                              const struct store_ding_webhook *w,
                              const char *node, const char *outcome,
                              int http_status, const char *detail,
                              const int *backoff_s, size_t n_backoff,
                              bool *recorded, int64_t *next_ms);

/* ---- the organisation's policy ---- */

#define STORE_DING_URL_MAX 1000
struct store_ding_policy {
  int64_t steps_s[STORE_DING_ESC_MAX]; /* re-alert offsets after sending */
  size_t n_steps;
  int64_t repeat_s;         /* after the last offset, one per this */
  int max_alerts;           /* re-alerts before the escalation, 0..1000 */
  bool manager;             /* escalate to the recipient's manager */
  char webhook_url[STORE_DING_URL_MAX + 1]; /* "" none; http(s) URL */
};

/* The org's DING policy; STORE_ENOTFOUND before store_org_init. */
int store_ding_policy_get(struct store_conn *c, struct store_ding_policy *out);

/* Replaces it; applies to DINGs sent from then on. Audited
 * ("ding.policy"). STORE_EINVAL naming the problem: offsets not strictly
 * increasing or outside 1..STORE_DING_ESC_S_MAX, repeat not positive,
 * max_alerts outside 0..1000, a URL that is not http:// or https://. */
int store_ding_policy_set(struct store_conn *c,
                          const struct store_ding_policy *p);

/* ======================================================================== */
/* End of the issue-5 DING section. */

/* ======================================================================== */
/* Cards (issue 6, SPEC §8; storage/cards.c, sql/0009_cards.sql).
 *
 * A card is a message of kind 'card' plus a cards row (type, state as
 * JSON, version) and its events (card_events), hash-chained per card.
 * Storage keeps them; the rules (what an action does, the schemas, the
 * hashes) are cards/cards.h's, which the server applies before calling in
 * here. Every change is one transaction that stores the event, the new
 * state and one feed entry (STORE_FEED_CARD) per current member, so the
 * caller acknowledges only after everything is committed.
 *
 * Concurrency is optimistic: a change names the version it was computed
 * from (base_version); under the card row's lock a different version means
 * someone else changed the card first, and nothing is stored (raced): the
 * caller reloads and applies its rules again. So a card's chain stays
 * gapless and every event is computed from the state it follows.
 *
 * Event payloads are JSON objects (the event's details plus "state", the
 * state after it, as members receive it); the hash is card_event_hash()
 * over the payload as given and the event time truncated to ms. */

#define STORE_CARD_EV_MAX 40

/* A card as stored. */
struct store_card {
  int64_t id;
  char type[16];               /* "task", "okr", "interview" */
  int64_t conversation_id, seq;/* its message */
  enum store_principal_kind creator_kind;
  int64_t creator_id;
  int64_t parent_card_id;      /* 0 none */
  int64_t version;
  char *state;                 /* JSON text; malloc'd (store_card_free) */
  int64_t next_reminder_ms;    /* 0 none */
  int64_t now_ms;              /* the database clock when read */
};
void store_card_free(struct store_card *c);

/* One event, as stored and as members receive it. */
struct store_card_event {
  int64_t card_id, version;    /* version == the event's place in the chain */
  char kind[STORE_CARD_EV_MAX + 1];
  enum store_principal_kind actor_kind; /* 0 with actor_id 0: the system */
  int64_t actor_id;
  int64_t conversation_id, seq;
  int64_t at_ms;
  char *payload;               /* JSON text, malloc'd */
  uint8_t hash[32];
  /* The feed entries it made (the members, ascending, and their fs);
   * malloc'd. Empty for events read back. */
  int64_t *users, *fs;
  size_t n;
};
void store_card_event_clear(struct store_card_event *e);

/* A new card: its initial state and its "created" event. */
struct store_card_new {
  const char *type;            /* "task", "okr", "interview" */
  const char *state;           /* JSON text */
  const char *payload;         /* the created event's payload (JSON) */
  int64_t parent_card_id;      /* 0 none */
  int64_t next_reminder_ms;    /* 0 none */
};

/* The hash of one link of a card's event chain. Storage stores the chain
 * but does not define it (it depends on nothing of ours): callers pass the
 * rules library's card_event_hash_text (cards/cards.h). `payload` is the
 * event's JSON text as stored; prev NULL for the first event; actor ids 0
 * when none. Returns 0, nonzero when the payload is not a JSON object or
 * out of memory. */
typedef int (*store_card_hash_fn)(const uint8_t *prev, int64_t card,
                                  int64_t seq, const char *kind,
                                  int64_t actor_user, int64_t actor_bot,
                                  int64_t at_ms, const char *payload,
                                  uint8_t out[32]);

/* Posting a card: the message (exactly once per sender and cmid, like
 * store_send_batch, with a seq of the conversation) and the card. */
struct store_card_post {
  store_card_hash_fn hash;     /* required */
  enum store_principal_kind sender_kind;
  int64_t sender_id;
  bool system;                 /* the created event's actor is the system
                                  (automation); the sender still sends the
                                  message */
  const char *cmid;
  int64_t conversation_id;
  const char *body;            /* the message body: the card JSON as posted */
  struct store_card_new card;
  /* task_after automation: move members.tasked_seq of task_user in
   * conversation task_conv (where the unread messages are; the card may
   * go elsewhere) from task_marker to task_upto in the same transaction;
   * when it is no longer task_marker nothing is stored and the result is
   * STORE_EEXISTS (another server did it). task_user 0: none. */
  int64_t task_user, task_conv, task_marker, task_upto;
};

struct store_card_posted {
  int64_t card_id;
  int64_t conversation_id, seq, sent_at_ms;
  bool tracked;
  bool dup;                    /* (sender, cmid) was stored: the original
                                  card; ev is empty */
  struct store_card_event ev;  /* the created event (not dup) */
};
void store_card_posted_clear(struct store_card_posted *p);

/* Stores a card with its message. STORE_ENOTFOUND 'unknown conversation
 * id N' when the sender may not post there (as store_send_batch), or a
 * duplicate whose message is not a card; STORE_EINVAL for JSON the
 * database refuses; STORE_EEXISTS as above. */
int store_card_post(struct store_conn *c, const struct store_card_post *in,
                    struct store_card_posted *out);

/* Reads a card. With reader_id 0 there is no membership check (the
 * system, heraldctl); otherwise the reader (a user: current member; a bot:
 * allowed in the conversation) must see it, else STORE_ENOTFOUND 'unknown
 * card id N', exactly as for a card that does not exist. */
int store_card_get(struct store_conn *c, enum store_principal_kind kind,
                   int64_t reader_id, int64_t card_id, struct store_card *out);

/* A signature to store with a signing event. */
struct store_card_sig {
  int64_t signer_id;
  const char *dev;             /* the signer's device name */
  int64_t version;             /* the version signed */
  const uint8_t *hash;         /* 32 bytes */
  const uint8_t *sig;          /* 64 bytes */
};

/* A change to store: the next event and the new state. */
struct store_card_append {
  store_card_hash_fn hash;     /* required */
  int64_t card_id;
  int64_t base_version;        /* computed from this version */
  enum store_principal_kind actor_kind; /* 0 with actor_id 0: the system */
  int64_t actor_id;
  const char *cmid;            /* card_action's cmid, or NULL */
  const char *kind;            /* event kind */
  const char *state;           /* the new state, JSON */
  const char *payload;         /* the event's payload, JSON */
  int64_t parent_card_id;      /* 0 none */
  int64_t next_reminder_ms;    /* 0 none */
  const struct store_card_sig *sig;   /* or NULL */
  /* Cards created by the system in the same transaction and conversation
   * (an interview's action items): their messages are sent by spawn_sender
   * (a member) with cmids derived from this card and version. */
  const struct store_card_new *spawn;
  size_t n_spawn;
  int64_t spawn_sender;
};

struct store_card_appended {
  bool raced;                  /* the version is no longer base_version:
                                  nothing stored; reload and retry */
  bool dup;                    /* (actor, cmid) already stored: version is
                                  the original event's; nothing stored */
  int64_t version;             /* the card's version after the event */
  struct store_card_event ev;  /* the stored event (not raced, not dup) */
  struct store_card_posted *spawned;  /* malloc'd, n_spawned of them */
  size_t n_spawned;
};
void store_card_appended_clear(struct store_card_appended *a);

/* Stores a change in ONE transaction: locks the card row, checks the
 * version and the cmid, chains the event (hash over the previous head),
 * updates state, version, head hash, parent and next reminder (and
 * releases a reminder claim), stores the signature, appends the members'
 * feed entries and creates the spawned cards. STORE_ENOTFOUND 'unknown
 * card id N'; STORE_EINVAL for JSON the database refuses or an unknown
 * device; STORE_EEXISTS a second signature by the same signer for the
 * same version. */
int store_card_append(struct store_conn *c, const struct store_card_append *in,
                      struct store_card_appended *out);

/* The card and version of a card_action already stored under (actor,
 * cmid); *found false when none. */
int store_card_action_find(struct store_conn *c,
                           enum store_principal_kind kind, int64_t actor_id,
                           const char *cmid, int64_t *card_id,
                           int64_t *version, bool *found);

/* Events of a card with version > after (ascending, at most limit), for
 * replay and heraldctl card show. *out malloc'd; free each with
 * store_card_event_clear and the array with free(). */
int store_card_events(struct store_conn *c, int64_t card_id, int64_t after,
                      size_t limit, struct store_card_event **out, size_t *n);

/* The events that STORE_FEED_CARD entries name, one per entry in order
 * (entries of other kinds are skipped). Same ownership. */
int store_card_feed_events(struct store_conn *c,
                           const struct store_feed_entry *e, size_t n,
                           struct store_card_event **out, size_t *n_out);

/* ---- facts the rules need ---- */

/* Whether manager_id is a manager, at any level, of any of ids. */
int store_card_manages(struct store_conn *c, int64_t manager_id,
                       const int64_t *ids, size_t n, bool *out);

/* Checks people a card names: *bad is the index of the first id that is
 * not an active user (*why 1) or not a current member of the conversation
 * (*why 2), or -1 when all are. */
int store_card_people_check(struct store_conn *c, int64_t conversation_id,
                            const int64_t *ids, size_t n, int *bad, int *why);

/* The OKR cards of `owner` for `period` as a JSON array of {"card": id,
 * "state": {...}} (malloc'd text, "[]" when none), ordered by id. */
int store_card_okrs(struct store_conn *c, int64_t owner, const char *period,
                    char **json);

/* Registers the Ed25519 key of the user's device `dev` (created when
 * missing). STORE_EEXISTS 'device "x" already has a different key' (or
 * the key belongs to another device). Same key again: STORE_OK. */
int store_device_key_set(struct store_conn *c, int64_t user_id,
                         const char *dev, const uint8_t pub[32]);

/* The key of the user's device `dev`; *found false when the device does not
 * exist or has no key. */
int store_device_key_get(struct store_conn *c, int64_t user_id,
                         const char *dev, uint8_t pub[32], bool *found);

/* ---- reminders ---- */

/* Claims up to `limit` cards whose next reminder is due, for `node`, for
 * lease_s seconds (a claim still held elsewhere is skipped). *ids
 * malloc'd. A change stored with store_card_append releases the claim. */
int store_card_reminders_claim(struct store_conn *c, const char *node,
                               int lease_s, size_t limit, int64_t **ids,
                               size_t *n);

/* Moves a claimed card's reminder to at_ms (0: none) and releases the
 * claim (quiet hours: the reminder waits until they end). */
int store_card_reminder_defer(struct store_conn *c, int64_t card_id,
                              int64_t at_ms);

/* ---- the task_after automation ---- */

struct store_task_due {
  int64_t conversation_id, user_id;
  int64_t seq, upto, count;    /* the oldest unread item, the newest, how
                                  many */
  int64_t sender_id, sent_at_ms;
  char body[801];              /* the oldest's text (first 200 characters) */
  char title[STORE_TITLE_MAX + 1]; /* "" for a direct conversation */
  int64_t marker;              /* members.tasked_seq now */
};

/* Up to `limit` members with tracked messages unread past their
 * conversation's task_after and not yet turned into a task. Read-only: the
 * caller posts the card with task_user/task_marker/task_upto set. */
int store_task_due(struct store_conn *c, size_t limit,
                   struct store_task_due **out, size_t *n);

/* ======================================================================== */
/* End of the issue-6 cards section. */

/* ------------------------------------------------------------------------ */
/* The embedded PostgreSQL cluster.
 *
 * Layout under the data directory DIR:
 *   DIR/herald.lock  flock(LOCK_EX|LOCK_NB) by whoever owns the cluster's
 *                    lifetime (heraldd, or heraldctl when no heraldd runs)
 *   DIR/pg/          the cluster (initdb'd into DIR/pg.new, then renamed, so
 *                    a crash during initdb never leaves a half cluster)
 *   DIR/run/         the private unix socket directory (mode 0700)
 *   DIR/pg.log       output of initdb/pg_ctl and the server log
 * When the process runs as root, PostgreSQL runs as the user named by env
 * HERALD_PG_USER, else "postgres". The binaries come from env
 * HERALD_PG_BINDIR, else the directory compiled in (HERALD_PG_BINDIR).
 * A cluster left by a crash (postmaster still running, or a stale
 * postmaster.pid) is adopted or restarted, never re-initialised.
 *
 * These functions fork and exec; they must not run while SIGCHLD is
 * ignored (SIG_IGN), and are meant for start-up and shutdown on the main
 * thread. */

struct store_embedded;

/* Takes DIR/herald.lock (creating DIR if missing), then creates, recovers
 * or starts the cluster, waits until it accepts connections and creates the
 * database "herald" if missing. On success *out owns the cluster: stop it
 * with store_embedded_stop(). On failure returns STORE_EEXISTS (another
 * process holds the lock), STORE_EINVAL (bad directory, user or binaries)
 * or STORE_EUNAVAIL (the server would not start), with a message in err
 * that quotes the last lines of DIR/pg.log when PostgreSQL failed. */
int store_embedded_start(const char *data_dir, struct store_embedded **out,
                         char *err, size_t errlen);

/* For heraldctl: when the lock is free, behaves like store_embedded_start
 * (and store_embedded_stop later stops the cluster); when another process
 * (a running heraldd) holds it, waits until that process's cluster answers
 * (up to 30 s) and only connects to it: store_embedded_stop then stops
 * nothing. Same errors as store_embedded_start, except that a held lock is
 * not one. */
int store_embedded_attach(const char *data_dir, struct store_embedded **out,
                          char *err, size_t errlen);

/* libpq conninfo for the database "herald" of the cluster. Owned by e,
 * valid until store_embedded_stop(e). */
const char *store_embedded_conninfo(const struct store_embedded *e);

/* True when this process owns the cluster (holds the lock). */
bool store_embedded_owner(const struct store_embedded *e);

/* Stops the cluster (pg_ctl stop -m fast) if this process owns it, releases
 * the lock and frees e. Takes NULL. STORE_OK, or STORE_EUNAVAIL when
 * pg_ctl stop failed (e is freed anyway). */
int store_embedded_stop(struct store_embedded *e);

/* The default data directory shared by heraldd and heraldctl: env
 * HERALD_DATA_DIR, else /var/lib/herald when running as root, else
 * $XDG_DATA_HOME/herald, else ~/.local/share/herald. STORE_OK, or
 * STORE_EINVAL when no home directory is known or buf is too small. */
int store_default_data_dir(char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Card audit (card_audit.c): read-only walks over the cards and their
 * hash-chained events (SPEC §8) for heraldctl audit. Storage only hands
 * over the rows; recomputing the chain is cards/'s (card_event_hash).
 * A walk runs in one REPEATABLE READ READ ONLY transaction, so it sees one
 * consistent snapshot while servers keep appending, and pages through the
 * tables in constant memory. */

#define STORE_CARD_HASH_LEN 32
#define STORE_CARD_SIG_LEN 64
#define STORE_CARD_PUB_LEN 32
#define STORE_CARD_KIND_MAX 160    /* 40 characters of up to 4 bytes */
#define STORE_DEVICE_NAME_MAX 400  /* 100 characters of up to 4 bytes */

/* Rows handed to a visitor; their strings are borrowed for the duration of
 * the callback only. */
struct store_audit_card {
  int64_t id;
  char type[16];            /* task, okr, interview */
  int64_t version;
  bool has_head;            /* cards.head_hash is not NULL */
  uint8_t head[STORE_CARD_HASH_LEN];
  int64_t created_by_user;  /* 0 = none */
  const char *state;        /* cards.state as JSON text */
};

struct store_audit_event {
  int64_t card, seq;
  int64_t actor_user, actor_bot;  /* 0 = none */
  int64_t at_ms;                  /* `at`, in ms, truncated */
  char kind[STORE_CARD_KIND_MAX + 1];
  const char *payload;            /* jsonb as text */
  bool has_prev;
  uint8_t prev[STORE_CARD_HASH_LEN], hash[STORE_CARD_HASH_LEN];
};

struct store_audit_signature {
  int64_t card, version, signer;
  char signer_login[STORE_LOGIN_MAX + 1];
  int64_t device_id;
  char device[STORE_DEVICE_NAME_MAX + 1];   /* devices.name: the `dev` */
  bool has_pub;                             /* devices.sign_public_key set */
  uint8_t pub[STORE_CARD_PUB_LEN];
  uint8_t hash[STORE_CARD_HASH_LEN], sig[STORE_CARD_SIG_LEN];
  int64_t at_ms;
};

/* Callbacks (any may be NULL): `card` before the card's events, `event`
 * for each in event_seq order, `signature` for each (export only, by
 * version then signer), `card_end` after them. A callback returning
 * non-zero stops the walk, which then returns that value. */
struct store_audit_visitor {
  int (*card)(void *arg, const struct store_audit_card *card);
  int (*event)(void *arg, const struct store_audit_event *ev);
  int (*signature)(void *arg, const struct store_audit_signature *sig);
  int (*card_end)(void *arg, const struct store_audit_card *card);
  void *arg;
};

/* Every card in id order with all its events. STORE_OK, STORE_EUNAVAIL,
 * STORE_EINTERNAL, or a callback's non-zero value. */
int store_card_audit_walk(struct store_conn *c,
                          const struct store_audit_visitor *v);

/* The interview records whose employee is the user `login` (state
 * "employee"), in id order, with their state, events and signatures (and
 * the signers' device keys). *user_id gets the user's id. STORE_ENOTFOUND
 * 'unknown user "x"'; otherwise as store_card_audit_walk. */
int store_card_audit_interviews(struct store_conn *c, const char *login,
                                int64_t *user_id,
                                const struct store_audit_visitor *v);


/* ---- Notifications between nodes (0012_notify.sql; server/notify.c) ----
 *
 * A dedicated connection that LISTENs on channel 'herald', driven without
 * ever blocking: the caller polls store_listener_socket() for what
 * store_listener_step() asked for and calls it again when the socket is
 * ready. */
struct store_listener;

enum store_listen_want {
  STORE_LISTEN_READ = 1,
  STORE_LISTEN_WRITE = 2,
};

/* Starts connecting (PQconnectStart): no waiting. STORE_OK with *out set
 * (poll its socket for writing first), STORE_EUNAVAIL (message in errbuf),
 * STORE_EINTERNAL. */
int store_listener_start(const char *conninfo, struct store_listener **out,
                         char *errbuf, size_t errlen);

/* The socket to poll, or -1. It changes while connecting: ask again after
 * every step. */
int store_listener_socket(const struct store_listener *l);

/* Advances the connection: finishes connecting, sends LISTEN, reads what
 * arrived and calls on_note(arg, payload) for each notification (payload
 * NUL-terminated, valid for the call). STORE_OK with *want set to what to
 * poll for next; *listening becomes true once LISTEN is in force (from
 * then on nothing that commits is missed). STORE_EUNAVAIL when the
 * connection failed or was lost (message in errbuf): close it and start
 * again. */
int store_listener_step(struct store_listener *l,
                        void (*on_note)(void *arg, const char *payload),
                        void *arg, int *want, bool *listening,
                        char *errbuf, size_t errlen);

/* Closes the connection. Takes NULL. */
void store_listener_close(struct store_listener *l);

/* The last seq of each conversation in `convs` (n ids), in the same order
 * into `out` (0 for an unknown id): catching up after a lost listener. */
int store_conv_last_seqs(struct store_conn *c, const int64_t *convs,
                         size_t n, int64_t *out);

/* The last fs of each user in `users` (0 for an empty feed). */
int store_feed_heads(struct store_conn *c, const int64_t *users, size_t n,
                     int64_t *out);

#endif
