/*
 * http.c — heraldd's HTTP endpoints on the WebSocket port.
 *
 * For now: GET /healthz (the process is alive and serving its loop). Every
 * other path gets a 404. Responses are small and written in one go from
 * HTTP_WRITEABLE, as libwebsockets requires.
 */
#include "server_int.h"

#include <string.h>

struct http_route {
  const char *path;
  const char *body;
};

static const struct http_route routes[] = {
  {"/healthz", "ok\n"},
};

/* Per-HTTP-connection state: which body to send. */
struct http_pss {
  const char *body;
};

static int reply_headers(struct lws *wsi, unsigned status, size_t len)
{
  uint8_t buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start,
          *end = buf + sizeof(buf) - 1;

  if (lws_add_http_common_headers(wsi, status, "text/plain; charset=utf-8",
                                  (lws_filepos_t)len, &p, end))
    return -1;
  if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                   (const unsigned char *)"no-store", 8, &p,
                                   end))
    return -1;
  if (lws_finalize_write_http_header(wsi, start, &p, end))
    return -1;
  return 0;
}

int srv_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
  struct http_pss *pss = user;

  switch (reason) {
  case LWS_CALLBACK_HTTP: {
    const char *path = in;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
      lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
      if (strcmp(path, routes[i].path) == 0) {
        pss->body = routes[i].body;
        if (reply_headers(wsi, HTTP_STATUS_OK, strlen(pss->body)))
          return 1;
        lws_callback_on_writable(wsi);
        return 0;
      }
    }
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }
  case LWS_CALLBACK_HTTP_WRITEABLE: {
    uint8_t buf[LWS_PRE + 256];
    size_t n;

    if (!pss || !pss->body)
      break;
    n = strlen(pss->body);
    memcpy(buf + LWS_PRE, pss->body, n);
    pss->body = NULL;
    if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL) != (int)n)
      return 1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }
  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}
