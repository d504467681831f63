/*
 * session.c — WebSocket session objects: lifetime, the bounded outbound
 * queue, and closing (see session_int.h).
 */
#include "session_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "server_int.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next_serial = 1;

struct srv_session *srv_session_new(struct srv_server *srv, struct lws *wsi)
{
  struct srv_session *s = calloc(1, sizeof(*s));

  if (!s)
    return NULL;
  s->refs = 1;
  s->wsi = wsi;
  s->srv = srv;
  s->serial = next_serial++;
  s->state = SRV_SESS_NEW;
  lws_get_peer_simple(wsi, s->peer, sizeof(s->peer));
  return s;
}

struct srv_session *srv_session_ref(struct srv_session *s)
{
  s->refs++;
  return s;
}

void srv_session_unref(struct srv_session *s)
{
  if (!s || --s->refs > 0)
    return;
  free(s->rx);
  free(s->q);
  for (size_t i = 0; i < s->pos.cap; i++)
    free(s->pos.slots[i].val);
  srv_intmap_cleanup(&s->pos);
  free(s);
}

int srv_session_open(const struct srv_session *s)
{
  return s->wsi && s->state != SRV_SESS_CLOSING && s->state != SRV_SESS_GONE;
}

static void drop_queue(struct srv_session *s)
{
  while (s->q_len > 0) {
    proto_shared_unref(s->q[s->q_head]);
    s->q_head = (s->q_head + 1) % s->q_cap;
    s->q_len--;
  }
  s->q_bytes = 0;
}

void srv_session_kill(struct srv_session *s, uint16_t code, const char *reason)
{
  if (!s->wsi || s->state == SRV_SESS_GONE)
    return;
  srv_info("session", "#%llu killed: %s", (unsigned long long)s->serial,
           reason);
  s->state = SRV_SESS_CLOSING;
  s->close_code = code;
  snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
  drop_queue(s);
  lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Grows the ring up to the configured bound. Returns -1 at the bound. */
static int grow_queue(struct srv_session *s)
{
  unsigned limit = (unsigned)s->srv->cfg->queue_frames;
  unsigned cap = s->q_cap ? s->q_cap * 2 : 8;
  struct proto_shared **q;

  if (s->q_cap >= limit)
    return -1;
  if (cap > limit)
    cap = limit;
  if (!(q = malloc(cap * sizeof(*q))))
    return -1;
  for (unsigned i = 0; i < s->q_len; i++)
    q[i] = s->q[(s->q_head + i) % s->q_cap];
  free(s->q);
  s->q = q;
  s->q_head = 0;
  s->q_cap = cap;
  return 0;
}

int srv_session_queue(struct srv_session *s, struct proto_shared *f)
{
  size_t len;

  if (!srv_session_open(s))
    return -1;
  (void)proto_shared_frame(f, &len);
  if (s->q_bytes + len > (size_t)s->srv->cfg->queue_bytes ||
      (s->q_len == s->q_cap && grow_queue(s) != 0)) {
    srv_session_kill(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "send queue full");
    return -1;
  }
  s->q[(s->q_head + s->q_len) % s->q_cap] = proto_shared_ref(f);
  s->q_len++;
  s->q_bytes += len;
  srv_metric_frame_out(proto_shared_type(f));
  lws_callback_on_writable(s->wsi);
  return 0;
}

int srv_session_send(struct srv_session *s, const struct proto_frame *f)
{
  struct proto_shared *sh;
  struct proto_error err;
  int rc;

  if ((rc = proto_encode_shared(f, LWS_PRE, &sh)) != 0) {
    /* A server bug: say so to the client rather than leave it waiting,
     * and close (unless this was already the error frame). */
    proto_validate(f, &err);
    srv_err("session", "cannot encode %s: %s", proto_type_name(f->type),
            err.msg);
    if (f->type != PROTO_T_ERROR) {
      srv_session_send_error(s, f->id, PROTO_E_INTERNAL, NULL, NULL);
      srv_session_close(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
                        "internal error");
    }
    return rc;
  }
  rc = srv_session_queue(s, sh);
  proto_shared_unref(sh);
  return rc;
}

void srv_session_send_error(struct srv_session *s, uint64_t id, int code,
                            const char *field, const char *detail)
{
  struct proto_frame f;
  const char *name = proto_err_name(code);
  const char *msg = detail && *detail ? detail : proto_strerror(code);

  srv_metric_error(SRV_VIA_WS, code);
  proto_frame_init(&f, PROTO_T_ERROR);
  f.id = id;
  f.u.error.code = (uint64_t)(code < 0 ? -code : code);
  f.u.error.name = (struct proto_str){name, strlen(name)};
  f.u.error.message = (struct proto_str){msg, strlen(msg)};
  if (field && *field)
    f.u.error.field = (struct proto_str){field, strlen(field)};
  f.u.error.retry = proto_err_retryable(code);
  (void)srv_session_send(s, &f);
}

void srv_session_close(struct srv_session *s, uint16_t code, const char *reason)
{
  if (!srv_session_open(s))
    return;
  s->state = SRV_SESS_CLOSING;
  s->close_code = code;
  snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
  lws_callback_on_writable(s->wsi);
}

/* Frames written per WRITEABLE callback at most. Writing while the socket
 * still takes data (lws_send_pipe_choked) saves a poll start/stop per
 * frame, which dominates fan-out cost otherwise; the bound keeps one busy
 * connection from starving the others. */
#define WRITES_PER_CALLBACK 16

int srv_session_writeable(struct srv_session *s)
{
  int choked = 0;

  for (int i = 0; s->q_len > 0 && i < WRITES_PER_CALLBACK; i++) {
    struct proto_shared *f = s->q[s->q_head];
    size_t len;
    uint8_t *p = proto_shared_frame(f, &len);
    int n = lws_write(s->wsi, p, len, LWS_WRITE_BINARY);

    s->q_head = (s->q_head + 1) % s->q_cap;
    s->q_len--;
    s->q_bytes -= len;
    proto_shared_unref(f);
    if (n < (int)len)
      return -1;
    if ((choked = lws_send_pipe_choked(s->wsi)))
      break;
  }
  if (s->q_len > 0 || (s->state == SRV_SESS_CLOSING && choked)) {
    lws_callback_on_writable(s->wsi);
    return 0;
  }
  if (s->state == SRV_SESS_CLOSING) {
    /* libwebsockets 4.1.6 on libuv drops the socket without the close
     * frame that lws_close_reason() prepares (its libuv close path runs
     * the close twice and the second one kills the connection), so write
     * the close frame here. 4 is the close opcode that lws_write() keeps
     * out of its public enum. */
    uint8_t buf[LWS_PRE + 2 + sizeof(s->close_reason)];
    size_t n = strlen(s->close_reason);

    buf[LWS_PRE] = (uint8_t)(s->close_code >> 8);
    buf[LWS_PRE + 1] = (uint8_t)s->close_code;
    memcpy(buf + LWS_PRE + 2, s->close_reason, n);
    (void)lws_write(s->wsi, buf + LWS_PRE, n + 2,
                    (enum lws_write_protocol)4 /* LWS_WRITE_CLOSE */);
    return -1;
  }
  return 0;
}

void srv_session_closed(struct srv_session *s)
{
  drop_queue(s);
  free(s->rx);
  s->rx = NULL;
  s->rx_len = s->rx_cap = 0;
  s->wsi = NULL;
  s->state = SRV_SESS_GONE;
  srv_session_unref(s);
}

struct srv_conv_pos *srv_session_pos(struct srv_session *s, int64_t conv,
                                     int create)
{
  struct srv_conv_pos *p = srv_intmap_get(&s->pos, conv);

  if (p || !create)
    return p;
  if (!(p = calloc(1, sizeof(*p))))
    return NULL;
  p->conv = conv;
  if (srv_intmap_put(&s->pos, conv, p) != 0) {
    free(p);
    return NULL;
  }
  return p;
}
