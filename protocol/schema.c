/*
 * schema.c — the frame-type table and the enum names of the wire.
 *
 * Owns the mapping between enum proto_type and the `t` strings, who may
 * send each type and whether it is allowed before authentication, the
 * string sets of every enum field, and small helpers over field
 * descriptors. The per-type field tables live in schema_client.c and
 * schema_server.c.
 */
#include <string.h>

#include "proto_int.h"

#define SCHEMA_DECL_(up, low) extern const struct proto_schema \
    proto_schema_##low;
PROTO_TYPE_MAP(SCHEMA_DECL_)
#undef SCHEMA_DECL_

/* Enum fields are written through an int; make sure that is their size. */
_Static_assert(sizeof(enum proto_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(enum proto_urgency) == sizeof(int), "enum size");
_Static_assert(sizeof(enum proto_role) == sizeof(int), "enum size");
_Static_assert(sizeof(enum proto_actor) == sizeof(int), "enum size");
_Static_assert(sizeof(enum proto_conv_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum proto_member_role) == sizeof(int), "enum size");
_Static_assert(sizeof(enum proto_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum proto_scope) == sizeof(int), "enum size");

const char *const proto_names_kind[] = {NULL, "text", "ding", "card", NULL};
const char *const proto_names_urgency[] = {NULL, "normal", "urgent",
                                           "critical", NULL};
const char *const proto_names_role[] = {NULL, "staff", "manager", "admin",
                                        "bot", NULL};
const char *const proto_names_actor[] = {NULL, "user", "bot", NULL};
const char *const proto_names_conv_type[] = {NULL, "group", "direct", NULL};
const char *const proto_names_member_role[] = {NULL, "owner", "member",
                                               NULL};
const char *const proto_names_policy[] = {NULL, "all", "flagged", "off",
                                          NULL};
const char *const proto_names_scope[] = {NULL, "team", "owned", "org", NULL};

#define C_ PROTO_FROM_CLIENT
#define S_ PROTO_FROM_SERVER
const struct proto_type_info proto_types[PROTO_T_COUNT_] = {
  [PROTO_T_HELLO] = {"hello", C_, true, &proto_schema_hello},
  [PROTO_T_LOGIN] = {"login", C_, true, &proto_schema_login},
  [PROTO_T_LOGOUT] = {"logout", C_, false, &proto_schema_logout},
  [PROTO_T_SEND] = {"send", C_, false, &proto_schema_send},
  [PROTO_T_SYNC] = {"sync", C_, false, &proto_schema_sync},
  [PROTO_T_HISTORY] = {"history", C_, false, &proto_schema_history},
  [PROTO_T_READ] = {"read", C_, false, &proto_schema_read},
  [PROTO_T_WHO_READ] = {"who_read", C_, false, &proto_schema_who_read},
  [PROTO_T_DING_ACK] = {"ding_ack", C_, false, &proto_schema_ding_ack},
  [PROTO_T_DING_BOARD] = {"ding_board", C_, false, &proto_schema_ding_board},
  [PROTO_T_CARD_ACTION] = {"card_action", C_, false,
                           &proto_schema_card_action},
  [PROTO_T_CARD_EDIT] = {"card_edit", C_, false, &proto_schema_card_edit},
  [PROTO_T_CARD_SIGN] = {"card_sign", C_, false, &proto_schema_card_sign},
  [PROTO_T_DEVICE_KEY] = {"device_key", C_, false, &proto_schema_device_key},
  [PROTO_T_QUIET_GET] = {"quiet_get", C_, false, &proto_schema_quiet_get},
  [PROTO_T_QUIET_SET] = {"quiet_set", C_, false, &proto_schema_quiet_set},
  [PROTO_T_REPORT_UNREAD] = {"report_unread", C_, false,
                             &proto_schema_report_unread},
  [PROTO_T_CONV_LIST] = {"conv_list", C_, false, &proto_schema_conv_list},
  [PROTO_T_CONV_CREATE] = {"conv_create", C_, false,
                           &proto_schema_conv_create},
  [PROTO_T_CONV_MEMBERS] = {"conv_members", C_, false,
                            &proto_schema_conv_members},
  [PROTO_T_CONV_ADD_MEMBER] = {"conv_add_member", C_, false,
                               &proto_schema_conv_add_member},
  [PROTO_T_PING] = {"ping", C_, true, &proto_schema_ping},
  [PROTO_T_WELCOME] = {"welcome", S_, false, &proto_schema_welcome},
  [PROTO_T_ACK] = {"ack", S_, false, &proto_schema_ack},
  [PROTO_T_MSG] = {"msg", S_, false, &proto_schema_msg},
  [PROTO_T_PAGE] = {"page", S_, false, &proto_schema_page},
  [PROTO_T_FEED] = {"feed", S_, false, &proto_schema_feed},
  [PROTO_T_SYNCED] = {"synced", S_, false, &proto_schema_synced},
  [PROTO_T_RECEIPT] = {"receipt", S_, false, &proto_schema_receipt},
  [PROTO_T_REMIND] = {"remind", S_, false, &proto_schema_remind},
  [PROTO_T_WHO_READ_RESULT] = {"who_read_result", S_, false,
                               &proto_schema_who_read_result},
  [PROTO_T_DING_ALERT] = {"ding_alert", S_, false, &proto_schema_ding_alert},
  [PROTO_T_DING_UPDATE] = {"ding_update", S_, false,
                           &proto_schema_ding_update},
  [PROTO_T_DING_BOARD_RESULT] = {"ding_board_result", S_, false,
                                 &proto_schema_ding_board_result},
  [PROTO_T_CARD_EVENT] = {"card_event", S_, false, &proto_schema_card_event},
  [PROTO_T_QUIET_STATE] = {"quiet_state", S_, false,
                           &proto_schema_quiet_state},
  [PROTO_T_REPORT_RESULT] = {"report_result", S_, false,
                             &proto_schema_report_result},
  [PROTO_T_CONV_LIST_RESULT] = {"conv_list_result", S_, false,
                                &proto_schema_conv_list_result},
  [PROTO_T_CONV_MEMBERS_RESULT] = {"conv_members_result", S_, false,
                                   &proto_schema_conv_members_result},
  [PROTO_T_RESULT] = {"result", S_, false, &proto_schema_result},
  [PROTO_T_PONG] = {"pong", S_, false, &proto_schema_pong},
  [PROTO_T_ERROR] = {"error", S_, false, &proto_schema_error},
};
#undef C_
#undef S_

static bool valid_type(enum proto_type t)
{
  return t > PROTO_T_NONE && t < PROTO_T_COUNT_;
}

const char *proto_type_name(enum proto_type t)
{
  return valid_type(t) ? proto_types[t].name : NULL;
}

enum proto_type proto_type_from_name(const char *name, size_t len)
{
  if (!name)
    return PROTO_T_NONE;
  for (int t = PROTO_T_NONE + 1; t < PROTO_T_COUNT_; t++) {
    const char *n = proto_types[t].name;

    if (strlen(n) == len && memcmp(n, name, len) == 0)
      return (enum proto_type)t;
  }
  return PROTO_T_NONE;
}

unsigned proto_type_sender(enum proto_type t)
{
  return valid_type(t) ? proto_types[t].sender : 0;
}

bool proto_type_preauth(enum proto_type t)
{
  return valid_type(t) && proto_types[t].preauth;
}

const char *proto_kind_name(enum pf_kind k)
{
  switch (k) {
  case PF_UINT: return "uint";
  case PF_BOOL: return "bool";
  case PF_STR: return "str";
  case PF_BIN: return "bin";
  case PF_ENUM: return "str";
  case PF_UINTS: return "array";
  case PF_LIST: return "array";
  case PF_OBJ: return "map";
  }
  return "?";
}

int proto_enum_lookup(const char *const *names, const char *s, size_t len)
{
  for (int i = 1; names[i]; i++)
    if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
      return i;
  return 0;
}

uint64_t proto_field_max(const struct proto_field *fd,
                         const struct proto_limits *lim)
{
  if (fd->flags & PF_BODY)
    return lim ? lim->max_body : UINT32_MAX;
  return fd->max;
}

int proto_check_obj(const struct proto_schema *s, const void *obj,
                    const char *path, struct proto_error *err)
{
  return s->check ? s->check(obj, path, err) : 0;
}
