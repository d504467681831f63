/*
 * schema_server.c — the field tables of the frames the server sends.
 *
 * One table per server->client frame type and per item those frames carry
 * (messages in pages, feed entries, report rows...). Some items are frames
 * too: "msg", "receipt", "remind", "ding_update", "card_event" and
 * "quiet_state"
 * travel alone when live and inside "page", "feed" and "welcome" on replay,
 * with the same fields either way. Clients decode these with the same
 * checks the server applies to client frames.
 */
#include "proto_int.h"

/* ---- items that are also frames -------------------------------------- */

static int msg_check(const void *obj, const char *path,
                     struct proto_error *err)
{
  const struct proto_msg *m = obj;

  if (m->kind == PROTO_KIND_DING && !m->urg)
    return proto_err_set(err, PROTO_E_MISSING, path, "urg",
                         "required when kind is ding");
  return 0;
}

static const struct proto_field f_msg[] = {
  PF_U(struct proto_msg, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_msg, seq, PF_REQ, R_ID,
       "position in the conversation: gapless, from 1"),
  PF_U(struct proto_msg, from, PF_REQ, R_ID, "sender id"),
  PF_E(struct proto_msg, from_kind, PF_REQ, proto_names_actor,
       "whether the sender is a user or a bot"),
  PF_S(struct proto_msg, cmid, 0, 1, PROTO_CMID_MAX,
       "the sender's client message id"),
  PF_E(struct proto_msg, kind, PF_REQ, proto_names_kind, "message kind"),
  PF_S(struct proto_msg, body, PF_REQ | PF_BODY, 0, 0,
       "text, or the card JSON as posted"),
  PF_U(struct proto_msg, ts, PF_REQ, R_TS, "server commit time, ms"),
  PF_B(struct proto_msg, tracked, "produces read receipts"),
  PF_B(struct proto_msg, silent,
       "delivered in the recipient's quiet hours: no alert"),
  PF_E(struct proto_msg, urg, 0, proto_names_urgency, "DING urgency"),
  PF_US(struct proto_msg, to, 0, 4096, R_ID, "DING recipients"),
  PF_B(struct proto_msg, all, "DING to every member"),
  PF_U(struct proto_msg, card, 0, R_ID, "card id, for kind card"),
};
PROTO_SCHEMA(proto_schema_msg, struct proto_msg, "msg", f_msg, msg_check);

static int receipt_check(const void *obj, const char *path,
                         struct proto_error *err)
{
  const struct proto_receipt *r = obj;

  if (r->read > r->total)
    return proto_err_set(err, PROTO_E_BAD_VALUE, path, "read",
                         "%llu readers out of %llu",
                         (unsigned long long)r->read,
                         (unsigned long long)r->total);
  return 0;
}

static const struct proto_field f_receipt[] = {
  PF_U(struct proto_receipt, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_receipt, seq, PF_REQ, R_ID, "the sender's message"),
  PF_U(struct proto_receipt, read, PF_REQ, R_COUNT,
       "recipients who have read it"),
  PF_U(struct proto_receipt, total, PF_REQ, R_COUNT,
       "recipients it is tracked for"),
  PF_U(struct proto_receipt, fs, 0, R_ID, "feed sequence of this update"),
};
PROTO_SCHEMA(proto_schema_receipt, struct proto_receipt, "receipt",
             f_receipt, receipt_check);

static int remind_check(const void *obj, const char *path,
                        struct proto_error *err)
{
  const struct proto_remind *r = obj;

  if (r->upto < r->seq)
    return proto_err_set(err, PROTO_E_BAD_VALUE, path, "upto",
                         "%llu is below seq %llu",
                         (unsigned long long)r->upto,
                         (unsigned long long)r->seq);
  if (r->n > r->upto - r->seq + 1)
    return proto_err_set(err, PROTO_E_BAD_VALUE, path, "n",
                         "%llu messages do not fit in seq %llu..%llu",
                         (unsigned long long)r->n,
                         (unsigned long long)r->seq,
                         (unsigned long long)r->upto);
  return 0;
}

static const struct proto_field f_remind[] = {
  PF_U(struct proto_remind, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_remind, seq, PF_REQ, R_ID,
       "oldest tracked message unread past the conversation's threshold"),
  PF_U(struct proto_remind, upto, PF_REQ, R_ID,
       "newest message this reminder covers"),
  PF_U(struct proto_remind, n, PF_REQ, R_ID,
       "unread messages covered (not your own)"),
  PF_U(struct proto_remind, since, PF_REQ, R_TS,
       "when the oldest was sent, ms"),
  PF_U(struct proto_remind, fs, PF_REQ, R_ID, "feed sequence"),
};
PROTO_SCHEMA(proto_schema_remind, struct proto_remind, "remind", f_remind,
             remind_check);

/* The per-recipient DING state, shared by board rows and live updates. */
#define DING_ROW_FIELDS(S, P)                                               \
  PF_U_AT("uid", S, P uid, PF_REQ, R_ID, "recipient user id"),              \
  PF_B_AT("delivered", S, P delivered, "reached one of their devices"),     \
  PF_B_AT("read", S, P read, "read"),                                       \
  PF_B_AT("acked", S, P acked, "acknowledged"),                             \
  PF_U_AT("acked_at", S, P acked_at, 0, R_TS, "when acknowledged, ms"),     \
  PF_U_AT("step", S, P step, 0, 0, 1000, "alerts sent so far"),             \
  PF_B_AT("escalated", S, P escalated,                                      \
          "escalated past the recipient (manager, webhook)")

static const struct proto_field f_ding_row[] = {
  DING_ROW_FIELDS(struct proto_ding_row, ),
};
PROTO_SCHEMA(proto_schema_ding_row, struct proto_ding_row, "ding_row",
             f_ding_row, NULL);

static const struct proto_field f_ding_update[] = {
  PF_U(struct proto_ding_update, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_ding_update, seq, PF_REQ, R_ID, "seq of the DING"),
  PF_U(struct proto_ding_update, fs, 0, R_ID, "feed sequence"),
  DING_ROW_FIELDS(struct proto_ding_update, row.),
  PF_U(struct proto_ding_update, from, 0, R_ID,
       "the DING's sender (user or bot id)"),
  PF_E(struct proto_ding_update, urg, 0, proto_names_urgency,
       "the DING's urgency"),
};
PROTO_SCHEMA(proto_schema_ding_update, struct proto_ding_update,
             "ding_update", f_ding_update, NULL);

static const struct proto_field f_card_event[] = {
  PF_U(struct proto_card_event, card, PF_REQ, R_ID, "card id"),
  PF_U(struct proto_card_event, ver, PF_REQ, R_ID,
       "card version after this event"),
  PF_S(struct proto_card_event, ev, PF_REQ, 1, 32,
       "event kind: created, action, edited, submitted, signed, locked, "
       "amended, checkin, comment, reminder"),
  PF_U(struct proto_card_event, actor, 0, R_ID,
       "who caused it; absent: the system"),
  PF_E(struct proto_card_event, actor_kind, 0, proto_names_actor,
       "user or bot; absent with actor"),
  PF_U(struct proto_card_event, conv, 0, R_ID, "conversation of the card"),
  PF_U(struct proto_card_event, seq, 0, R_ID, "seq of the card's message"),
  PF_U(struct proto_card_event, ts, PF_REQ, R_TS, "event time, ms"),
  PF_S(struct proto_card_event, payload, PF_BODY, 0, 0,
       "event details and resulting state, JSON text"),
  PF_U(struct proto_card_event, fs, 0, R_ID, "feed sequence"),
};
PROTO_SCHEMA(proto_schema_card_event, struct proto_card_event, "card_event",
             f_card_event, NULL);

static const struct proto_field f_quiet_state[] = {
  PF_B(struct proto_quiet_state, in_quiet, "in quiet hours now"),
  PF_U(struct proto_quiet_state, until, 0, R_TS,
       "end of the current quiet window, ms"),
  PF_U(struct proto_quiet_state, next, 0, R_TS,
       "start of the next quiet window, ms"),
  PF_S(struct proto_quiet_state, tz, PF_REQ, 1, 64,
       "IANA time zone of the windows"),
  PF_L(struct proto_quiet_state, org, 0, 64, proto_schema_window,
       "the organisation's windows; users cannot remove them"),
  PF_L(struct proto_quiet_state, own, 0, 64, proto_schema_window,
       "the user's own additional windows"),
};
PROTO_SCHEMA(proto_schema_quiet_state, struct proto_quiet_state,
             "quiet_state", f_quiet_state, NULL);

/* ---- items ------------------------------------------------------------ */

static const struct proto_field f_who_row[] = {
  PF_U(struct proto_who_row, uid, PF_REQ, R_ID, "member user id"),
  PF_B(struct proto_who_row, read, "has read the message"),
  PF_U(struct proto_who_row, at, 0, R_TS,
       "read time, ms, rounded down to the minute; only for the sender "
       "and the reader, and absent when not recorded"),
};
PROTO_SCHEMA(proto_schema_who_row, struct proto_who_row, "who_row",
             f_who_row, NULL);

static const struct proto_field f_report_row[] = {
  PF_U(struct proto_report_row, uid, PF_REQ, R_ID, "recipient"),
  PF_U(struct proto_report_row, conv, PF_REQ, R_ID, "conversation"),
  PF_U(struct proto_report_row, seq, PF_REQ, R_ID, "message"),
  PF_U(struct proto_report_row, from, PF_REQ, R_ID, "sender"),
  PF_U(struct proto_report_row, ts, PF_REQ, R_TS, "sent at, ms"),
  PF_U(struct proto_report_row, unread_s, PF_REQ, R_COUNT,
       "unread for, business seconds"),
  PF_B(struct proto_report_row, ding, "the message is a DING"),
  PF_B(struct proto_report_row, acked, "DING acknowledged (not read)"),
};
PROTO_SCHEMA(proto_schema_report_row, struct proto_report_row, "report_row",
             f_report_row, NULL);

static const struct proto_field f_report_user[] = {
  PF_U(struct proto_report_user, uid, PF_REQ, R_ID, "recipient"),
  PF_S(struct proto_report_user, name, PF_REQ, 0, 200, "display name"),
  PF_S(struct proto_report_user, dept, 0, 0, 128, "department"),
  PF_U(struct proto_report_user, unread, PF_REQ, R_COUNT, "unread rows"),
  PF_U(struct proto_report_user, dings, PF_REQ, R_COUNT,
       "unacknowledged DINGs among them"),
};
PROTO_SCHEMA(proto_schema_report_user, struct proto_report_user,
             "report_user", f_report_user, NULL);

static const struct proto_field f_report_dept[] = {
  PF_S(struct proto_report_dept, dept, PF_REQ, 0, 128,
       "department; empty = none"),
  PF_U(struct proto_report_dept, unread, PF_REQ, R_COUNT, "unread rows"),
  PF_U(struct proto_report_dept, dings, PF_REQ, R_COUNT,
       "unacknowledged DINGs among them"),
};
PROTO_SCHEMA(proto_schema_report_dept, struct proto_report_dept,
             "report_dept", f_report_dept, NULL);

static const struct proto_field f_conv_info[] = {
  PF_U(struct proto_conv_info, conv, PF_REQ, R_ID, "conversation id"),
  PF_E(struct proto_conv_info, type, PF_REQ, proto_names_conv_type,
       "group or direct"),
  PF_S(struct proto_conv_info, title, 0, 0, 200, "title"),
  PF_E(struct proto_conv_info, role, PF_REQ, proto_names_member_role,
       "the caller's role"),
  PF_E(struct proto_conv_info, policy, PF_REQ, proto_names_policy,
       "read tracking policy"),
  PF_U(struct proto_conv_info, last, PF_REQ, R_COUNT,
       "newest seq; 0 = empty"),
  PF_U(struct proto_conv_info, unread, PF_REQ, R_COUNT,
       "messages after the caller's read marker"),
  PF_U(struct proto_conv_info, members, PF_REQ, R_COUNT, "member count"),
};
PROTO_SCHEMA(proto_schema_conv_info, struct proto_conv_info, "conv_info",
             f_conv_info, NULL);

static const struct proto_field f_member[] = {
  PF_U(struct proto_member, uid, PF_REQ, R_ID, "user or bot id"),
  PF_S(struct proto_member, login, PF_REQ, 1, 128, "login name"),
  PF_S(struct proto_member, name, PF_REQ, 0, 200, "display name"),
  PF_E(struct proto_member, role, PF_REQ, proto_names_member_role,
       "role in the conversation"),
  PF_E(struct proto_member, kind, PF_REQ, proto_names_actor, "user or bot"),
};
PROTO_SCHEMA(proto_schema_member, struct proto_member, "member", f_member,
             NULL);

static const struct proto_field f_limits_info[] = {
  PF_U(struct proto_limits_info, frame, PF_REQ, 1, PROTO_ID_MAX,
       "largest frame the server accepts, bytes"),
  PF_U(struct proto_limits_info, sframe, PF_REQ, 1, PROTO_ID_MAX,
       "largest frame the server sends, bytes"),
  PF_U(struct proto_limits_info, body, PF_REQ, 1, PROTO_ID_MAX,
       "largest body or JSON field, bytes"),
  PF_U(struct proto_limits_info, depth, PF_REQ, 1, PROTO_DEPTH_CAP,
       "deepest nesting of maps and arrays"),
  PF_U(struct proto_limits_info, page, PF_REQ, 1, PROTO_PAGE_MAX,
       "most messages in one page"),
};
PROTO_SCHEMA(proto_schema_limits_info, struct proto_limits_info, "limits",
             f_limits_info, NULL);

/* ---- frames ----------------------------------------------------------- */

static const struct proto_field f_welcome[] = {
  PF_U(struct proto_welcome, uid, PF_REQ, R_ID, "your user or bot id"),
  PF_S(struct proto_welcome, login, PF_REQ, 1, 128, "login name"),
  PF_S(struct proto_welcome, name, PF_REQ, 0, 200, "display name"),
  PF_E(struct proto_welcome, role, PF_REQ, proto_names_role, "role"),
  PF_S(struct proto_welcome, token, 0, 1, 512,
       "new session token; only in reply to login"),
  PF_U(struct proto_welcome, exp, 0, R_TS, "token expiry, ms"),
  PF_U(struct proto_welcome, now, PF_REQ, R_TS, "server time, ms"),
  PF_S(struct proto_welcome, tz, 0, 1, 64, "your IANA time zone"),
  PF_O(struct proto_welcome, lim, proto_schema_limits_info,
       "limits (map, see below)"),
  PF_O(struct proto_welcome, quiet, proto_schema_quiet_state,
       "quiet-hours state (map, fields of quiet_state)"),
};
PROTO_SCHEMA(proto_schema_welcome, struct proto_welcome, "welcome",
             f_welcome, NULL);

static const struct proto_field f_ack[] = {
  PF_S(struct proto_ack, cmid, PF_REQ, 1, PROTO_CMID_MAX,
       "client message id of the send"),
  PF_U(struct proto_ack, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_ack, seq, PF_REQ, R_ID, "seq assigned at commit"),
  PF_U(struct proto_ack, ts, PF_REQ, R_TS, "commit time, ms"),
  PF_B(struct proto_ack, dup,
       "the cmid was already stored: this is the original ack"),
  PF_U(struct proto_ack, card, 0, R_ID, "card id, for kind card"),
};
PROTO_SCHEMA(proto_schema_ack, struct proto_ack, "ack", f_ack, NULL);

static const struct proto_field f_page[] = {
  PF_U(struct proto_page, conv, PF_REQ, R_ID, "conversation id"),
  PF_L(struct proto_page, msgs, PF_REQ, PROTO_PAGE_MAX, proto_schema_msg,
       "messages in ascending seq (msg maps without t/id)"),
  PF_B(struct proto_page, more, "more pages follow for this conversation"),
  PF_B(struct proto_page, hist, "a reply to history (older messages)"),
};
PROTO_SCHEMA(proto_schema_page, struct proto_page, "page", f_page, NULL);

static const struct proto_field f_feed[] = {
  PF_L(struct proto_feed, rcpt, 0, 1000, proto_schema_receipt,
       "receipt updates (receipt maps)"),
  PF_L(struct proto_feed, ding, 0, 1000, proto_schema_ding_update,
       "DING state changes (ding_update maps)"),
  PF_L(struct proto_feed, cards, 0, 1000, proto_schema_card_event,
       "card events (card_event maps)"),
  PF_L(struct proto_feed, remind, 0, 1000, proto_schema_remind,
       "unread reminders (remind maps)"),
  PF_U(struct proto_feed, next, PF_REQ, R_COUNT,
       "feed cursor to store once this page is applied"),
  PF_B(struct proto_feed, more, "more feed pages follow"),
};
PROTO_SCHEMA(proto_schema_feed, struct proto_feed, "feed", f_feed, NULL);

static const struct proto_field f_synced[] = {
  PF_U(struct proto_synced, feed, PF_REQ, R_COUNT, "feed cursor at the end"),
};
PROTO_SCHEMA(proto_schema_synced, struct proto_synced, "synced", f_synced,
             NULL);

static const struct proto_field f_who_read_result[] = {
  PF_U(struct proto_who_read_result, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_who_read_result, seq, PF_REQ, R_ID, "message seq"),
  PF_L(struct proto_who_read_result, rows, PF_REQ, 100000,
       proto_schema_who_row, "one per recipient"),
};
PROTO_SCHEMA(proto_schema_who_read_result, struct proto_who_read_result,
             "who_read_result", f_who_read_result, NULL);

static const struct proto_field f_ding_alert[] = {
  PF_U(struct proto_ding_alert, conv, PF_REQ, R_ID, "conversation id"),
  PF_U(struct proto_ding_alert, seq, PF_REQ, R_ID, "seq of the DING"),
  PF_U(struct proto_ding_alert, from, PF_REQ, R_ID, "sender"),
  PF_E(struct proto_ding_alert, urg, PF_REQ, proto_names_urgency,
       "urgency"),
  PF_U(struct proto_ding_alert, step, PF_REQ, 0, 1000,
       "0 = first alert, n = n-th re-alert"),
  PF_B(struct proto_ding_alert, silent, "in quiet hours: show, no bell"),
  PF_B(struct proto_ding_alert, overrode_quiet,
       "critical DING delivered through quiet hours"),
  PF_U(struct proto_ding_alert, about, 0, R_ID,
       "escalation notice to a manager: the recipient who did not "
       "acknowledge"),
};
PROTO_SCHEMA(proto_schema_ding_alert, struct proto_ding_alert, "ding_alert",
             f_ding_alert, NULL);

static const struct proto_field f_ding_board_result[] = {
  PF_U(struct proto_ding_board_result, conv, PF_REQ, R_ID,
       "conversation id"),
  PF_U(struct proto_ding_board_result, seq, PF_REQ, R_ID, "seq of the DING"),
  PF_E(struct proto_ding_board_result, urg, PF_REQ, proto_names_urgency,
       "urgency"),
  PF_L(struct proto_ding_board_result, rows, PF_REQ, 100000,
       proto_schema_ding_row, "one per recipient"),
};
PROTO_SCHEMA(proto_schema_ding_board_result, struct proto_ding_board_result,
             "ding_board_result", f_ding_board_result, NULL);

static const struct proto_field f_report_result[] = {
  PF_U(struct proto_report_result, older, PF_REQ, 60, 31536000,
       "threshold used, business seconds"),
  PF_U(struct proto_report_result, now, PF_REQ, R_TS, "report time, ms"),
  PF_L(struct proto_report_result, rows, PF_REQ, 100000,
       proto_schema_report_row, "one per unread message and recipient"),
  PF_L(struct proto_report_result, users, 0, 100000,
       proto_schema_report_user, "totals per recipient"),
  PF_L(struct proto_report_result, depts, 0, 10000,
       proto_schema_report_dept, "totals per department"),
  PF_B(struct proto_report_result, truncated,
       "rows were cut at the limit; totals are complete"),
};
PROTO_SCHEMA(proto_schema_report_result, struct proto_report_result,
             "report_result", f_report_result, NULL);

static const struct proto_field f_conv_list_result[] = {
  PF_L(struct proto_conv_list_result, convs, PF_REQ, 100000,
       proto_schema_conv_info, "the caller's conversations"),
};
PROTO_SCHEMA(proto_schema_conv_list_result, struct proto_conv_list_result,
             "conv_list_result", f_conv_list_result, NULL);

static const struct proto_field f_conv_members_result[] = {
  PF_U(struct proto_conv_members_result, conv, PF_REQ, R_ID,
       "conversation id"),
  PF_L(struct proto_conv_members_result, members, PF_REQ, 100000,
       proto_schema_member, "the members"),
};
PROTO_SCHEMA(proto_schema_conv_members_result,
             struct proto_conv_members_result, "conv_members_result",
             f_conv_members_result, NULL);

static const struct proto_field f_result[] = {
  PF_U(struct proto_result, conv, 0, R_ID, "conversation created or used"),
  PF_U(struct proto_result, card, 0, R_ID, "card acted on"),
  PF_U(struct proto_result, ver, 0, R_ID, "card version after the change"),
  PF_B(struct proto_result, dup,
       "already done earlier (same cmid): nothing changed"),
};
PROTO_SCHEMA(proto_schema_result, struct proto_result, "result", f_result,
             NULL);

static const struct proto_field f_pong[] = {
  PF_U(struct proto_pong, ts, 0, R_TS, "the ping's ts, echoed"),
  PF_U(struct proto_pong, now, PF_REQ, R_TS, "server time, ms"),
};
PROTO_SCHEMA(proto_schema_pong, struct proto_pong, "pong", f_pong, NULL);

static const struct proto_field f_error[] = {
  PF_U(struct proto_error_frame, code, PF_REQ, 1000, 5999,
       "error code (see Error codes)"),
  PF_S(struct proto_error_frame, name, PF_REQ, 1, 64,
       "error name, e.g. NOT_FOUND"),
  PF_S(struct proto_error_frame, message, PF_REQ, 0, 512,
       "human message; names the field when one is at fault"),
  PF_S(struct proto_error_frame, field, 0, 0, 128,
       "path of the offending field, e.g. cur[2].after"),
  PF_B(struct proto_error_frame, retry,
       "retrying later, unchanged, may succeed"),
};
PROTO_SCHEMA(proto_schema_error, struct proto_error_frame, "error", f_error,
             NULL);
