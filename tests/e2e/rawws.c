/*
 * rawws.c — the bare WebSocket test client (see rawws.h).
 */
#include "rawws.h"
#include "check.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

struct out_msg {
  struct out_msg *next;
  size_t len;
  bool text;
  uint8_t buf[];               /* LWS_PRE + len */
};

struct rawws {
  struct lws_context *ctx;
  struct lws *wsi;
  bool open, closed, paused;
  int close_code;
  struct out_msg *q, *qtail;
  uint8_t *rx;                 /* the message being reassembled */
  size_t rx_len, rx_cap;
  struct proto_frame *frames;  /* decoded frames received */
  size_t nframes, capframes, next;
  size_t received;
};

static void keep_frame(struct rawws *r, const uint8_t *p, size_t len)
{
  struct proto_limits lim = {.max_frame = 64u << 20,
                             .accept = PROTO_FROM_SERVER};
  struct proto_frame f;

  if (proto_decode(p, len, &lim, &f, NULL) != 0) {
    proto_frame_cleanup(&f);
    return;
  }
  if (r->nframes == r->capframes) {
    r->capframes = r->capframes ? r->capframes * 2 : 16;
    r->frames = realloc(r->frames, r->capframes * sizeof(*r->frames));
    CHECK(r->frames != NULL);
  }
  /* The decoded frame borrows from p: keep a deep copy. */
  CHECK_INT(proto_frame_copy(&r->frames[r->nframes], &f), ==, 0);
  r->nframes++;
  proto_frame_cleanup(&f);
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len)
{
  struct rawws *r = lws_get_opaque_user_data(wsi);

  (void)user;
  if (!r)
    return lws_callback_http_dummy(wsi, reason, user, in, len);
  switch (reason) {
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    r->open = true;
    if (r->q)
      lws_callback_on_writable(wsi);
    break;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    r->closed = true;
    r->close_code = 1006;
    r->wsi = NULL;
    break;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    r->received += len;
    if (r->rx_len + len > r->rx_cap) {
      r->rx_cap = (r->rx_len + len) * 2;
      r->rx = realloc(r->rx, r->rx_cap);
      CHECK(r->rx != NULL);
    }
    memcpy(r->rx + r->rx_len, in, len);
    r->rx_len += len;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
      keep_frame(r, r->rx, r->rx_len);
      r->rx_len = 0;
    }
    break;
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    if (r->q) {
      struct out_msg *m = r->q;
      r->q = m->next;
      if (!r->q)
        r->qtail = NULL;
      lws_write(wsi, m->buf + LWS_PRE, m->len,
                m->text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY);
      free(m);
      if (r->q)
        lws_callback_on_writable(wsi);
    }
    break;
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    if (len >= 2)
      r->close_code = ((const uint8_t *)in)[0] << 8 | ((const uint8_t *)in)[1];
    break;
  case LWS_CALLBACK_CLIENT_CLOSED:
    r->closed = true;
    r->open = false;
    if (!r->close_code)
      r->close_code = 1006;
    r->wsi = NULL;
    break;
  default:
    break;
  }
  return 0;
}

/* lws_service() with a negative timeout polls without blocking (with 0 it
 * would wait for its next timer, up to its keep-alive interval). */

static const struct lws_protocols protocols[] = {
  {"herald-test", cb, 0, 0, 0, NULL, 0},
  {NULL, NULL, 0, 0, 0, NULL, 0}
};

struct rawws *rawws_connect(int port)
{
  return rawws_connect_origin(port, NULL);
}

struct rawws *rawws_connect_origin(int port, const char *origin)
{
  struct lws_context_creation_info info;
  struct lws_client_connect_info ci;
  struct rawws *r = calloc(1, sizeof(*r));

  CHECK(r != NULL);
  lws_set_log_level(LLL_ERR, NULL);
  memset(&info, 0, sizeof(info));
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  /* Send the Origin as given (lws would prefix "http://"). */
  info.options = LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
  r->ctx = lws_create_context(&info);
  CHECK(r->ctx != NULL);
  memset(&ci, 0, sizeof(ci));
  ci.context = r->ctx;
  ci.address = "127.0.0.1";
  ci.port = port;
  ci.path = "/";
  ci.host = ci.address;
  ci.origin = origin;
  ci.protocol = PROTO_SUBPROTOCOL;
  ci.local_protocol_name = "herald-test";
  ci.opaque_user_data = r;
  ci.pwsi = &r->wsi;
  if (!lws_client_connect_via_info(&ci)) {
    rawws_free(r);
    return NULL;
  }
  for (int i = 0; i < 1000 && !r->open && !r->closed; i++)
    lws_service(r->ctx, -1), usleep(10000);
  if (!r->open) {
    rawws_free(r);
    return NULL;
  }
  return r;
}

void rawws_free(struct rawws *r)
{
  if (!r)
    return;
  lws_context_destroy(r->ctx);
  while (r->q) {
    struct out_msg *m = r->q;
    r->q = m->next;
    free(m);
  }
  for (size_t i = 0; i < r->nframes; i++)
    proto_frame_cleanup(&r->frames[i]);
  free(r->frames);
  free(r->rx);
  free(r);
}

void rawws_send(struct rawws *r, const void *p, size_t len, bool text)
{
  struct out_msg *m = malloc(sizeof(*m) + LWS_PRE + len);

  CHECK(m != NULL);
  m->next = NULL;
  m->len = len;
  m->text = text;
  memcpy(m->buf + LWS_PRE, p, len);
  if (r->qtail)
    r->qtail->next = m;
  else
    r->q = m;
  r->qtail = m;
  if (r->wsi)
    lws_callback_on_writable(r->wsi);
}

void rawws_send_frame(struct rawws *r, const struct proto_frame *f)
{
  struct proto_buf b;

  proto_buf_init(&b);
  CHECK_INT(proto_encode(f, 0, &b), ==, 0);
  rawws_send(r, proto_buf_frame(&b), proto_buf_size(&b), false);
  proto_buf_cleanup(&b);
}

void rawws_pause(struct rawws *r, bool paused)
{
  r->paused = paused;
  if (r->wsi)
    lws_rx_flow_control(r->wsi, paused ? 0 : 1);
}

void rawws_service(struct rawws *r, int ms)
{
  for (int t = 0; t < ms && !r->closed; t += 5) {
    lws_service(r->ctx, -1);
    usleep(5000);
  }
}

int rawws_wait_frame(struct rawws *r, enum proto_type t, int ms,
                     struct proto_frame *out)
{
  for (int elapsed = 0;; elapsed += 5) {
    while (r->next < r->nframes) {
      struct proto_frame *f = &r->frames[r->next++];
      if (t == PROTO_T_NONE || f->type == t) {
        CHECK_INT(proto_frame_copy(out, f), ==, 0);
        return 0;
      }
    }
    if (r->closed || elapsed >= ms)
      return -1;
    lws_service(r->ctx, -1);
    usleep(5000);
  }
}

int rawws_wait_close(struct rawws *r, int ms)
{
  rawws_service(r, ms);
  return r->closed ? r->close_code : -1;
}

bool rawws_is_open(const struct rawws *r)
{
  return r->open && !r->closed;
}

size_t rawws_received(const struct rawws *r)
{
  return r->received;
}
