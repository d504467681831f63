/*
 * url.c — the server address: "ws://host[:port][/path]" or "wss://...".
 *
 * Only what a WebSocket client needs: scheme, host (a name, an IPv4
 * address, or an IPv6 address in brackets), port and path. No user info,
 * no query: tokens never travel in a URL (PROTOCOL.md section 1).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hc_int.h"

int hc_url_parse(const char *s, struct hc_url *out)
{
  const char *p, *host, *hend, *port = NULL, *path;
  size_t hlen;

  memset(out, 0, sizeof *out);
  if (!s)
    return -EINVAL;
  if (strncasecmp(s, "ws://", 5) == 0) {
    p = s + 5;
  } else if (strncasecmp(s, "wss://", 6) == 0) {
    out->tls = true;
    p = s + 6;
  } else {
    return -EINVAL;
  }
  path = p + strcspn(p, "/?#");
  if (*path == '?' || *path == '#')
    return -EINVAL;
  if (*p == '[') {                      /* [v6]:port */
    host = p + 1;
    hend = memchr(host, ']', (size_t)(path - host));
    if (!hend)
      return -EINVAL;
    if (hend + 1 < path) {
      if (hend[1] != ':')
        return -EINVAL;
      port = hend + 2;
    }
  } else {
    host = p;
    hend = memchr(host, ':', (size_t)(path - host));
    if (hend)
      port = hend + 1;
    else
      hend = path;
    if (memchr(host, '@', (size_t)(hend - host)))
      return -EINVAL;                   /* no user info */
  }
  hlen = (size_t)(hend - host);
  if (hlen == 0 || hlen >= sizeof out->host)
    return -EINVAL;
  memcpy(out->host, host, hlen);
  out->host[hlen] = '\0';
  if (port) {
    long v = 0;

    if (port == path)
      return -EINVAL;
    for (const char *q = port; q < path; q++) {
      if (*q < '0' || *q > '9')
        return -EINVAL;
      v = v * 10 + (*q - '0');
      if (v > 65535)
        return -EINVAL;
    }
    if (v == 0)
      return -EINVAL;
    out->port = (int)v;
  } else {
    out->port = out->tls ? 443 : 80;
  }
  if (*path == '\0') {
    strcpy(out->path, "/");
  } else {
    size_t n = strlen(path);

    if (n >= sizeof out->path || strpbrk(path, "?#"))
      return -EINVAL;
    memcpy(out->path, path, n + 1);
  }
  return 0;
}
