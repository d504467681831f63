/*
 * httpc.c — the tests' HTTP/1.1 client (httpc.h).
 */
#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const char *p, size_t len)
{
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int httpc_send_raw(int port, const char *data, size_t len)
{
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  if (fd < 0)
    return -1;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      write_all(fd, data, len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Reads until EOF; the buffer is NUL-terminated. */
static char *read_all(int fd, int timeout_ms, size_t *len)
{
  long long deadline = now_ms() + timeout_ms;
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);

  while (buf) {
    struct pollfd p = {fd, POLLIN, 0};
    long long left = deadline - now_ms();
    ssize_t r;

    if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
      fprintf(stderr, "httpc: no end of reply within %d ms\n", timeout_ms);
      break;
    }
    if (n + 1 == cap) {
      char *g = realloc(buf, cap * 2);
      if (!g)
        break;
      buf = g;
      cap *= 2;
    }
    r = recv(fd, buf + n, cap - n - 1, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      fprintf(stderr, "httpc: recv: %s\n", strerror(errno));
      break;
    }
    if (r == 0) {
      buf[n] = '\0';
      *len = n;
      return buf;
    }
    n += (size_t)r;
  }
  free(buf);
  return NULL;
}

static int request(int port, const char *method, const char *target,
                   const char *const *headers, const char *body, size_t blen,
                   int timeout_ms, struct httpc_resp *out)
{
  char req[4096], *raw, *eoh, *eol, cl[32];
  size_t n, len;
  int fd;

  memset(out, 0, sizeof(*out));
  n = (size_t)snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d"
                       "\r\nConnection: close\r\n", method, target, port);
  for (; headers && *headers && n < sizeof(req); headers++)
    n += (size_t)snprintf(req + n, sizeof(req) - n, "%s\r\n", *headers);
  if (body && n < sizeof(req))
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "Content-Length: %zu\r\n", blen);
  if (n + 3 > sizeof(req))
    return -1;
  memcpy(req + n, "\r\n", 3);
  if ((fd = httpc_send_raw(port, req, n + 2)) < 0) {
    fprintf(stderr, "httpc: cannot connect to port %d\n", port);
    return -1;
  }
  /* A server may answer and close before reading all of a large body. */
  if (body)
    (void)write_all(fd, body, blen);
  raw = read_all(fd, timeout_ms, &len);
  close(fd);
  if (!raw)
    return -1;
  if (strncmp(raw, "HTTP/1.1 ", 9) != 0 || !(eoh = strstr(raw, "\r\n\r\n")) ||
      !(eol = strstr(raw, "\r\n"))) {
    fprintf(stderr, "httpc: not an HTTP/1.1 reply: %.80s\n", raw);
    free(raw);
    return -1;
  }
  out->status = atoi(raw + 9);
  out->head = strndup(eol + 2, (size_t)(eoh - eol));   /* keeps one \r\n */
  out->len = len - (size_t)(eoh + 4 - raw);
  out->body = malloc(out->len + 1);
  if (!out->head || !out->body) {
    free(raw);
    httpc_resp_free(out);
    return -1;
  }
  memcpy(out->body, eoh + 4, out->len + 1);
  free(raw);
  if (httpc_header(out, "Content-Length", cl, sizeof(cl)) &&
      strtoull(cl, NULL, 10) != out->len) {
    fprintf(stderr, "httpc: Content-Length %s but %zu bytes of body\n", cl,
            out->len);
    httpc_resp_free(out);
    return -1;
  }
  return 0;
}

int httpc_request(int port, const char *method, const char *target,
                  const char *const *headers, int timeout_ms,
                  struct httpc_resp *out)
{
  return request(port, method, target, headers, NULL, 0, timeout_ms, out);
}

int httpc_post(int port, const char *target, const char *const *headers,
               const char *body, size_t len, int timeout_ms,
               struct httpc_resp *out)
{
  return request(port, "POST", target, headers, body, len, timeout_ms, out);
}

bool httpc_header(const struct httpc_resp *r, const char *name, char *buf,
                  size_t cap)
{
  size_t nl = strlen(name);

  for (const char *p = r->head; p && *p;) {
    const char *e = strstr(p, "\r\n");
    size_t l = e ? (size_t)(e - p) : strlen(p);

    if (l > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      size_t vl;

      while (*v == ' ')
        v++;
      vl = l - (size_t)(v - p);
      snprintf(buf, cap, "%.*s", (int)vl, v);
      return true;
    }
    p = e ? e + 2 : p + l;
  }
  return false;
}

void httpc_resp_free(struct httpc_resp *r)
{
  free(r->head);
  free(r->body);
  memset(r, 0, sizeof(*r));
}
