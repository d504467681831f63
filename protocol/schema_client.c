/*
 * schema_client.c — the field tables of the frames clients send.
 *
 * One table per client->server frame type, plus the items those frames
 * carry (sync cursors, quiet-hour windows) and the cross-field rules a
 * table cannot state (a DING needs recipients and an urgency; a direct
 * conversation has exactly one other member; a window is not empty).
 * decode.c, validate.c and encode.c walk these tables; the doc lines are
 * what PROTOCOL.md shows, and a unit test keeps the two in step.
 */
#include "proto_int.h"

/* ---- items ---------------------------------------------------------- */

static const struct proto_field f_cursor[] = {
  PF_U(struct proto_cursor, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_cursor, after, PF_REQ, R_COUNT,
       "last seq the client holds; 0 = none"),
};
PROTO_SCHEMA(proto_schema_cursor, struct proto_cursor, "cursor", f_cursor,
             NULL);

static int window_check(const void *obj, const char *path,
                        struct proto_error *err)
{
  const struct proto_window *w = obj;

  if (w->start == w->end)
    return proto_err_set(err, PROTO_E_BAD_VALUE, path, "end",
                         "a window cannot start and end at the same minute");
  return 0;
}

static const struct proto_field f_window[] = {
  PF_U(struct proto_window, day, PF_REQ, 1, 7,
       "day the window starts, 1 = Monday ... 7 = Sunday"),
  PF_U(struct proto_window, start, PF_REQ, 0, 1439,
       "start, minutes after local midnight"),
  PF_U(struct proto_window, end, PF_REQ, 0, 1440,
       "end, minutes after local midnight; end < start crosses midnight"),
};
PROTO_SCHEMA(proto_schema_window, struct proto_window, "window", f_window,
             window_check);

/* ---- frames --------------------------------------------------------- */

static const struct proto_field f_hello[] = {
  PF_S(struct proto_hello, token, PF_REQ, 1, 512,
       "session token (from login) or bot token"),
  PF_S(struct proto_hello, dev, PF_REQ, 1, PROTO_DEV_MAX,
       "device id, stable for one installation"),
  PF_S(struct proto_hello, client, 0, 0, 64, "client name"),
  PF_S(struct proto_hello, cver, 0, 0, 32, "client version"),
};
PROTO_SCHEMA(proto_schema_hello, struct proto_hello, "hello", f_hello, NULL);

static const struct proto_field f_login[] = {
  PF_S(struct proto_login, login, PF_REQ, 1, 128, "login name"),
  PF_S(struct proto_login, pass, PF_REQ, 1, 1024, "password"),
  PF_S(struct proto_login, dev, PF_REQ, 1, PROTO_DEV_MAX,
       "device id, stable for one installation"),
  PF_S(struct proto_login, client, 0, 0, 64, "client name"),
  PF_S(struct proto_login, cver, 0, 0, 32, "client version"),
};
PROTO_SCHEMA(proto_schema_login, struct proto_login, "login", f_login, NULL);

PROTO_SCHEMA_EMPTY(proto_schema_logout, "logout");
PROTO_SCHEMA_EMPTY(proto_schema_quiet_get, "quiet_get");
PROTO_SCHEMA_EMPTY(proto_schema_conv_list, "conv_list");

static int send_check(const void *obj, const char *path,
                      struct proto_error *err)
{
  const struct proto_send *s = obj;

  if (s->kind == PROTO_KIND_DING) {
    if (!s->urg)
      return proto_err_set(err, PROTO_E_MISSING, path, "urg",
                           "required when kind is ding");
    if (!s->nto && !s->all)
      return proto_err_set(err, PROTO_E_MISSING, path, "to",
                           "a ding needs recipients: `to` or `all`");
    if (s->nto && s->all)
      return proto_err_set(err, PROTO_E_BAD_VALUE, path, "all",
                           "give `to` or `all`, not both");
    return 0;
  }
  if (s->nto)
    return proto_err_set(err, PROTO_E_BAD_VALUE, path, "to",
                         "only allowed when kind is ding");
  if (s->all)
    return proto_err_set(err, PROTO_E_BAD_VALUE, path, "all",
                         "only allowed when kind is ding");
  if (s->urg)
    return proto_err_set(err, PROTO_E_BAD_VALUE, path, "urg",
                         "only allowed when kind is ding");
  if (s->nesc)
    return proto_err_set(err, PROTO_E_BAD_VALUE, path, "esc",
                         "only allowed when kind is ding");
  return 0;
}

static const struct proto_field f_send[] = {
  PF_S(struct proto_send, cmid, PF_REQ, 1, PROTO_CMID_MAX,
       "client message id, unique per sender, for exactly-once sends"),
  PF_U(struct proto_send, conv, PF_REQ, R_ID, "conversation id"),
  PF_E(struct proto_send, kind, PF_REQ, proto_names_kind, "message kind"),
  PF_S(struct proto_send, body, PF_REQ | PF_BODY, 1, 0,
       "text, or for a card the card JSON"),
  PF_B(struct proto_send, tracked,
       "ask for read receipts in a `flagged` conversation"),
  PF_US(struct proto_send, to, 0, 4096, R_ID,
        "DING recipients (user ids); ding only, unless `all`"),
  PF_B(struct proto_send, all, "DING to every member; ding only"),
  PF_E(struct proto_send, urg, 0, proto_names_urgency,
       "DING urgency; required for ding"),
  PF_US(struct proto_send, esc, 0, 32, 1, 604800,
        "DING re-alert schedule override, seconds after sending"),
};
PROTO_SCHEMA(proto_schema_send, struct proto_send, "send", f_send,
             send_check);

static const struct proto_field f_sync[] = {
  PF_L(struct proto_sync, cur, 0, 4096, proto_schema_cursor,
       "one cursor per conversation the client holds"),
  PF_U(struct proto_sync, feed, 0, R_COUNT,
       "last feed sequence the client holds; 0 = none"),
  PF_U(struct proto_sync, limit, 0, 1, PROTO_PAGE_MAX,
       "messages per page; absent = server default"),
};
PROTO_SCHEMA(proto_schema_sync, struct proto_sync, "sync", f_sync, NULL);

static const struct proto_field f_history[] = {
  PF_U(struct proto_history, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_history, before, 0, R_ID,
       "return messages with seq below this; absent = the newest"),
  PF_U(struct proto_history, limit, 0, 1, PROTO_PAGE_MAX,
       "most messages; absent = server default"),
};
PROTO_SCHEMA(proto_schema_history, struct proto_history, "history",
             f_history, NULL);

static const struct proto_field f_read[] = {
  PF_U(struct proto_mark, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_mark, seq, PF_REQ, R_ID, "read up to and including"),
  PF_U(struct proto_mark, at, 0, R_TS,
       "when the read happened, ms; absent = now; clamped by the server"),
};
PROTO_SCHEMA(proto_schema_read, struct proto_mark, "read", f_read, NULL);

static const struct proto_field f_ding_ack[] = {
  PF_U(struct proto_mark, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_mark, seq, PF_REQ, R_ID, "seq of the DING"),
  PF_U(struct proto_mark, at, 0, R_TS,
       "when it was acknowledged, ms; absent = now; clamped"),
};
PROTO_SCHEMA(proto_schema_ding_ack, struct proto_mark, "ding_ack",
             f_ding_ack, NULL);

static const struct proto_field f_msgref[] = {
  PF_U(struct proto_msgref, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_msgref, seq, PF_REQ, R_ID, "message seq"),
};
PROTO_SCHEMA(proto_schema_who_read, struct proto_msgref, "who_read",
             f_msgref, NULL);
PROTO_SCHEMA(proto_schema_ding_board, struct proto_msgref, "ding_board",
             f_msgref, NULL);

static const struct proto_field f_card_action[] = {
  PF_U(struct proto_card_action, card, PF_REQ, R_ID, "card id"),
  PF_S(struct proto_card_action, action, PF_REQ, 1, 64,
       "action name, e.g. accept, set_status, comment, checkin"),
  PF_S(struct proto_card_action, args, PF_BODY, 0, 0,
       "action arguments, a JSON object as text"),
  PF_S(struct proto_card_action, cmid, PF_REQ, 1, PROTO_CMID_MAX,
       "client id of this action, for exactly-once replay"),
  PF_U(struct proto_card_action, base, 0, R_ID,
       "card version the client saw; stale -> STALE_VERSION"),
};
PROTO_SCHEMA(proto_schema_card_action, struct proto_card_action,
             "card_action", f_card_action, NULL);

static const struct proto_field f_card_edit[] = {
  PF_U(struct proto_card_edit, card, PF_REQ, R_ID, "card id"),
  PF_S(struct proto_card_edit, path, PF_REQ, 1, 256,
       "JSON pointer of the edited field, e.g. /sections/notes"),
  PF_S(struct proto_card_edit, value, PF_REQ | PF_BODY, 1, 0,
       "new value, JSON text"),
  PF_U(struct proto_card_edit, base, PF_REQ, R_ID,
       "card version the edit is based on"),
};
PROTO_SCHEMA(proto_schema_card_edit, struct proto_card_edit, "card_edit",
             f_card_edit, NULL);

static const struct proto_field f_card_sign[] = {
  PF_U(struct proto_card_sign, card, PF_REQ, R_ID, "card id"),
  PF_U(struct proto_card_sign, ver, PF_REQ, R_ID, "card version signed"),
  PF_X(struct proto_card_sign, hash, PF_REQ, PROTO_HASH_LEN, PROTO_HASH_LEN,
       "SHA-256 of the card's canonical encoding"),
  PF_X(struct proto_card_sign, sig, PF_REQ, PROTO_SIG_LEN, PROTO_SIG_LEN,
       "Ed25519 signature of `hash`"),
  PF_S(struct proto_card_sign, dev, PF_REQ, 1, PROTO_DEV_MAX,
       "device whose registered key signed"),
};
PROTO_SCHEMA(proto_schema_card_sign, struct proto_card_sign, "card_sign",
             f_card_sign, NULL);

static const struct proto_field f_device_key[] = {
  PF_S(struct proto_device_key, dev, PF_REQ, 1, PROTO_DEV_MAX,
       "device id"),
  PF_X(struct proto_device_key, pub, PF_REQ, PROTO_PUBKEY_LEN,
       PROTO_PUBKEY_LEN, "Ed25519 public key"),
};
PROTO_SCHEMA(proto_schema_device_key, struct proto_device_key, "device_key",
             f_device_key, NULL);

static const struct proto_field f_quiet_set[] = {
  PF_L(struct proto_quiet_set, win, PF_REQ, 64, proto_schema_window,
       "the user's own windows (replaces them; [] clears)"),
  PF_S(struct proto_quiet_set, tz, 0, 1, 64,
       "IANA time zone to store for the user, e.g. Asia/Hong_Kong"),
};
PROTO_SCHEMA(proto_schema_quiet_set, struct proto_quiet_set, "quiet_set",
             f_quiet_set, NULL);

static const struct proto_field f_report_unread[] = {
  PF_U(struct proto_report_unread, older, 0, 60, 31536000,
       "unread for longer than this many business seconds; absent = 7200"),
  PF_E(struct proto_report_unread, scope, 0, proto_names_scope,
       "narrow the scope; absent = all the caller may see"),
  PF_U(struct proto_report_unread, conv, 0, R_ID, "only this conversation"),
  PF_S(struct proto_report_unread, dept, 0, 1, 128, "only this department"),
  PF_U(struct proto_report_unread, limit, 0, 1, 100000,
       "most rows; absent = server default"),
};
PROTO_SCHEMA(proto_schema_report_unread, struct proto_report_unread,
             "report_unread", f_report_unread, NULL);

static int conv_create_check(const void *obj, const char *path,
                             struct proto_error *err)
{
  const struct proto_conv_create *c = obj;

  if (c->type == PROTO_CONV_DIRECT && c->nmembers != 1)
    return proto_err_set(err, PROTO_E_BAD_VALUE, path, "members",
                         "a direct conversation names exactly one other "
                         "user, got %zu", c->nmembers);
  if (c->type == PROTO_CONV_DIRECT && (c->remind_after || c->task_after))
    return proto_err_set(err, PROTO_E_BAD_VALUE, path,
                         c->remind_after ? "remind_after" : "task_after",
                         "automation is set on groups only");
  return 0;
}

static const struct proto_field f_conv_create[] = {
  PF_E(struct proto_conv_create, type, PF_REQ, proto_names_conv_type,
       "group or direct (1:1)"),
  PF_S(struct proto_conv_create, title, 0, 0, 200, "group title"),
  PF_US(struct proto_conv_create, members, PF_REQ, 4096, R_ID,
        "user ids to add besides the creator"),
  PF_E(struct proto_conv_create, policy, 0, proto_names_policy,
       "read tracking policy; absent = org default"),
  PF_U(struct proto_conv_create, remind_after, 0, 60, 31536000,
       "remind each member once per tracked message unread this many "
       "seconds; groups only; absent = off"),
  PF_U(struct proto_conv_create, task_after, 0, 60, 31536000,
       "turn a message unread this many seconds into a task card for the "
       "member; groups only; absent = off"),
};
PROTO_SCHEMA(proto_schema_conv_create, struct proto_conv_create,
             "conv_create", f_conv_create, conv_create_check);

static const struct proto_field f_conv_ref[] = {
  PF_U(struct proto_conv_ref, conv, PF_REQ, R_ID, "conversation id"),
};
PROTO_SCHEMA(proto_schema_conv_members, struct proto_conv_ref,
             "conv_members", f_conv_ref, NULL);

static const struct proto_field f_conv_add_member[] = {
  PF_U(struct proto_conv_add_member, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_conv_add_member, uid, PF_REQ, R_ID, "user or bot id"),
};
PROTO_SCHEMA(proto_schema_conv_add_member, struct proto_conv_add_member,
             "conv_add_member", f_conv_add_member, NULL);

static const struct proto_field f_ping[] = {
  PF_U(struct proto_ping, ts, 0, R_TS, "client time, ms; echoed in pong"),
};
PROTO_SCHEMA(proto_schema_ping, struct proto_ping, "ping", f_ping, NULL);
