/*
 * ws.c — the "herald.v1" WebSocket protocol callback: admission (Origin
 * allow-list), reassembly of fragmented messages under the frame-size
 * limit, hand-over of whole messages to the dispatcher, and writes.
 *
 * Close codes: 1009 for a message over max-frame, 1003 for a text message
 * (the protocol is binary msgpack), 1008 for policy (queue full, auth
 * timeout), 1001 on shutdown; decode errors are decided by the dispatcher.
 */
#include "dispatch_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "server_int.h"
#include "session_int.h"

#include <stdlib.h>
#include <string.h>

struct ws_pss {
  struct srv_session *s;
};

/* An Origin header, when present, must be on the allow-list: browsers send
 * one, and this stops other web pages from opening sockets with a user's
 * cookies or ambient credentials. Native clients send none. */
static int origin_allowed(struct srv_server *srv, struct lws *wsi)
{
  char origin[256];
  const char *list = srv->cfg->allowed_origins, *p;
  size_t n;

  if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
    return 1;
  if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0)
    return 0;
  n = strlen(origin);
  for (p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    while (len && *p == ' ') {
      p++;
      len--;
    }
    if (len == n && strncmp(p, origin, n) == 0)
      return 1;
    p = end ? end + 1 : NULL;
  }
  srv_info("ws", "refused a connection from origin %s", origin);
  return 0;
}

/* Appends a fragment; returns -1 when the message would pass max-frame. */
static int rx_append(struct srv_session *s, const void *in, size_t len,
                     size_t remaining, size_t max)
{
  size_t need = s->rx_len + len;

  if (need + remaining > max || need > max)
    return -1;
  if (need > s->rx_cap) {
    size_t cap = s->rx_cap ? s->rx_cap : 1024;
    uint8_t *p;
    while (cap < need + remaining)
      cap *= 2;
    if (cap > max)
      cap = max;
    if (!(p = realloc(s->rx, cap)))
      return -1;
    s->rx = p;
    s->rx_cap = cap;
  }
  memcpy(s->rx + s->rx_len, in, len);
  s->rx_len += len;
  return 0;
}

int srv_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len)
{
  struct ws_pss *pss = user;
  struct srv_server *srv = lws_context_user(lws_get_context(wsi));
  struct srv_session *s = pss ? pss->s : NULL;

  switch (reason) {
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    if (srv->stopping || !origin_allowed(srv, wsi))
      return 1;
    return 0;

  case LWS_CALLBACK_ESTABLISHED:
    if (!(pss->s = srv_session_new(srv, wsi)))
      return -1;
    srv_sessions_opened(srv, pss->s);
    srv_metric_inc(SRV_M_CONN_ACCEPTED);
    /* A connection must authenticate promptly: it holds memory and a
     * descriptor. */
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_REASON_BASE,
                    srv->cfg->auth_timeout);
    break;

  case LWS_CALLBACK_RECEIVE: {
    size_t remaining = lws_remaining_packet_payload(wsi);
    int final = lws_is_final_fragment(wsi) && remaining == 0;
    size_t max = (size_t)srv->cfg->max_frame;

    if (!s || !srv_session_open(s))
      return 0;    /* closing: ignore what still arrives */
    if (lws_frame_is_binary(wsi) == 0 && lws_is_first_fragment(wsi) &&
        s->rx_len == 0) {
      lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                       (unsigned char *)"binary frames only", 18);
      return -1;
    }
    if (final && s->rx_len == 0) {
      if (len > max)
        goto too_big;
      srv_dispatch(s, in, len);      /* the common case: no copy */
      break;
    }
    if (rx_append(s, in, len, remaining, max) != 0)
      goto too_big;
    if (final) {
      srv_dispatch(s, s->rx, s->rx_len);
      s->rx_len = 0;
      if (s->rx_cap > 4096) {        /* don't keep a big buffer per idle
                                        connection */
        free(s->rx);
        s->rx = NULL;
        s->rx_cap = 0;
      }
    }
    break;
  too_big:
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                     (unsigned char *)"frame too large", 15);
    return -1;
  }

  case LWS_CALLBACK_SERVER_WRITEABLE:
    if (!s)
      return -1;
    return srv_session_writeable(s);

  case LWS_CALLBACK_CLOSED:
    if (s) {
      srv_sessions_closed(srv, s);
      srv_session_closed(s);
      pss->s = NULL;
    }
    break;

  default:
    break;
  }
  return 0;
}
