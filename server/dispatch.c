/*
 * dispatch.c — the dispatcher: decode with the configured limits, check
 * that the frame is allowed in the session's state and for its principal,
 * call the handler, and turn any error code into an error frame (and a
 * close, for protocol violations). Compare mosquitto's read_handle.c.
 */
#include "clock_int.h"
#include "dispatch_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "server_int.h"
#include "session_int.h"

#include "store.h"

#include <string.h>

/* Requests of one connection waiting for the database; beyond this the
 * connection is told to slow down instead of growing server memory. */
#define INFLIGHT_MAX 4096

enum {
  ROUTE_PREAUTH = 1,     /* allowed before authentication */
  ROUTE_PEOPLE = 2,      /* not for bots (BOT_AS_USER) */
};

struct route {
  srv_handler_fn fn;
  unsigned flags;
};

static int h_ping(struct srv_session *s, const struct proto_frame *f);

static const struct route routes[PROTO_T_COUNT_] = {
  [PROTO_T_HELLO] = {srv_h_hello, ROUTE_PREAUTH},
  [PROTO_T_LOGIN] = {srv_h_login, ROUTE_PREAUTH},
  [PROTO_T_PING] = {h_ping, ROUTE_PREAUTH},
  [PROTO_T_LOGOUT] = {srv_h_logout, ROUTE_PEOPLE},
  [PROTO_T_SEND] = {srv_h_send, 0},
  [PROTO_T_SYNC] = {srv_h_sync, 0},
  [PROTO_T_HISTORY] = {srv_h_history, 0},
  [PROTO_T_READ] = {srv_h_read, ROUTE_PEOPLE},
  [PROTO_T_WHO_READ] = {srv_h_who_read, ROUTE_PEOPLE},
  [PROTO_T_DING_ACK] = {srv_h_ding_ack, ROUTE_PEOPLE},
  /* A bot that sent a DING sees its board too. */
  [PROTO_T_DING_BOARD] = {srv_h_ding_board, 0},
  /* Not people-only: a bot gets FORBIDDEN from storage, audited. */
  [PROTO_T_REPORT_UNREAD] = {srv_h_report_unread, 0},
  [PROTO_T_QUIET_GET] = {srv_h_quiet_get, ROUTE_PEOPLE},
  [PROTO_T_QUIET_SET] = {srv_h_quiet_set, ROUTE_PEOPLE},
  [PROTO_T_CONV_LIST] = {srv_h_conv_list, 0},
  [PROTO_T_CONV_CREATE] = {srv_h_conv_create, ROUTE_PEOPLE},
  [PROTO_T_CONV_MEMBERS] = {srv_h_conv_members, 0},
  [PROTO_T_CONV_ADD_MEMBER] = {srv_h_conv_add_member, ROUTE_PEOPLE},
  /* Cards (h_card.c): a bot acts on the cards it may (its own tasks). */
  [PROTO_T_CARD_ACTION] = {srv_h_card_action, 0},
  [PROTO_T_CARD_EDIT] = {srv_h_card_edit, 0},
  [PROTO_T_CARD_SIGN] = {srv_h_card_sign, ROUTE_PEOPLE},
  [PROTO_T_DEVICE_KEY] = {srv_h_device_key, ROUTE_PEOPLE},
};

int srv_code_from_store(int rc)
{
  switch (rc) {
  case STORE_OK: return 0;
  case STORE_ENOTFOUND: return PROTO_E_NOT_FOUND;
  case STORE_EEXISTS: return PROTO_E_DUPLICATE;
  case STORE_EINVAL: return PROTO_E_BAD_VALUE;
  case STORE_EUNAVAIL: return PROTO_E_DB_UNAVAILABLE;
  case STORE_EFORBIDDEN: return PROTO_E_FORBIDDEN;
  default: return PROTO_E_INTERNAL;
  }
}

void srv_reply_error(struct srv_session *s, uint64_t id, int code,
                     const char *field, const char *detail)
{
  int close_code = proto_err_close_code(code);

  if (!srv_session_open(s))
    return;
  srv_session_send_error(s, id, code, field, detail);
  if (close_code)
    srv_session_close(s, (uint16_t)close_code, proto_err_name(code));
}

static int h_ping(struct srv_session *s, const struct proto_frame *f)
{
  struct proto_frame r;

  proto_frame_init(&r, PROTO_T_PONG);
  r.id = f->id;
  r.u.pong.ts = f->u.ping.ts;
  r.u.pong.now = srv_clock_now_ms();
  srv_session_send(s, &r);
  return 0;
}

void srv_dispatch(struct srv_session *s, const uint8_t *buf, size_t len)
{
  const struct srv_config *cfg = s->srv->cfg;
  struct proto_limits lim = {
    .max_frame = (size_t)cfg->max_frame,
    .max_body = (size_t)cfg->max_body,
    .accept = PROTO_FROM_CLIENT,
  };
  struct proto_frame f;
  struct proto_error err;
  const struct route *r;
  int rc;

  rc = proto_decode(buf, len, &lim, &f, &err);
  if (rc != 0) {
    srv_reply_error(s, f.id, rc, err.field, err.msg);
    goto out;
  }
  srv_metric_frame_in(f.type);
  r = &routes[f.type];
  if (s->state != SRV_SESS_READY && !(r->flags & ROUTE_PREAUTH)) {
    /* Before welcome only hello/login/ping; while a login is being
     * checked, wait for its answer. */
    rc = PROTO_E_UNAUTHENTICATED;
  } else if (s->state == SRV_SESS_READY &&
             (f.type == PROTO_T_HELLO || f.type == PROTO_T_LOGIN)) {
    rc = PROTO_E_UNEXPECTED;
  } else if (s->state == SRV_SESS_AUTHING && f.type != PROTO_T_PING) {
    rc = PROTO_E_UNEXPECTED;
  } else if (!r->fn) {
    srv_reply_error(s, f.id, PROTO_E_UNEXPECTED, NULL,
                    "this server does not support that frame yet");
    goto out;
  } else if ((r->flags & ROUTE_PEOPLE) && s->bot_id) {
    rc = PROTO_E_BOT_AS_USER;
  } else if (s->srv->stopping && f.type != PROTO_T_PING) {
    rc = PROTO_E_SHUTTING_DOWN;
  } else if (s->inflight >= INFLIGHT_MAX) {
    rc = PROTO_E_TOO_MANY_REQUESTS;
  } else {
    rc = r->fn(s, &f);
  }
  if (rc != 0)
    srv_reply_error(s, f.id, rc, NULL, NULL);
out:
  proto_frame_cleanup(&f);
}
