/*
 * hookrx.c — the test HTTP receiver (see hookrx.h). It reads one request
 * per connection (headers, then Content-Length bytes of body), answers and
 * closes: enough for heraldd's webhook client, which sends one POST per
 * connection.
 */
#include "hookrx.h"
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_REQS 64
#define BODY_MAX 8192

struct hookrx {
  int fd;
  int stop_pipe[2];
  pthread_t th;
  pthread_mutex_t mu;
  int fail_first;
  char url[64];
  size_t n;
  char *bodies[MAX_REQS];
  int status[MAX_REQS];
};

/* Reads one request from c; returns its body (malloc'd) or NULL. */
static char *read_request(int c)
{
  char buf[BODY_MAX + 4096];
  size_t len = 0;
  char *end = NULL, *cl;
  long want = 0;

  while (len < sizeof(buf) - 1) {
    ssize_t k = recv(c, buf + len, sizeof(buf) - 1 - len, 0);

    if (k <= 0)
      return NULL;
    len += (size_t)k;
    buf[len] = '\0';
    if (!end && (end = strstr(buf, "\r\n\r\n"))) {
      for (cl = buf; cl < end; cl++)
        if (strncasecmp(cl, "\r\nContent-Length:", 17) == 0) {
          want = strtol(cl + 17, NULL, 10);
          break;
        }
    }
    if (end && (long)(len - (size_t)(end + 4 - buf)) >= want)
      break;
  }
  if (!end || want < 0 || want > BODY_MAX)
    return NULL;
  return strndup(end + 4, (size_t)want);
}

static void *serve(void *arg)
{
  struct hookrx *h = arg;

  for (;;) {
    struct pollfd p[2] = {{h->fd, POLLIN, 0}, {h->stop_pipe[0], POLLIN, 0}};
    char *body;
    int c, code;
    const char *answer;

    if (poll(p, 2, -1) < 0 || (p[1].revents & POLLIN))
      break;
    if ((c = accept(h->fd, NULL, NULL)) < 0)
      continue;
    body = read_request(c);
    pthread_mutex_lock(&h->mu);
    code = (int)h->n < h->fail_first ? 500 : 200;
    if (body && h->n < MAX_REQS) {
      h->bodies[h->n] = body;
      h->status[h->n] = code;
      h->n++;
      body = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    free(body);
    answer = code == 200
                 ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                   "Connection: close\r\n\r\nok"
                 : "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4"
                   "\r\nConnection: close\r\n\r\ndown";
    if (send(c, answer, strlen(answer), MSG_NOSIGNAL) < 0) {
      /* The client gave up; nothing to do. */
    }
    close(c);
  }
  return NULL;
}

struct hookrx *hookrx_start(int fail_first)
{
  struct hookrx *h = calloc(1, sizeof(*h));
  struct sockaddr_in a;
  socklen_t al = sizeof(a);

  CHECK(h != NULL);
  h->fail_first = fail_first;
  pthread_mutex_init(&h->mu, NULL);
  CHECK((h->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_INT(bind(h->fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
  CHECK_INT(listen(h->fd, 16), ==, 0);
  CHECK_INT(getsockname(h->fd, (struct sockaddr *)&a, &al), ==, 0);
  snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%d/hook",
           ntohs(a.sin_port));
  CHECK_INT(pipe(h->stop_pipe), ==, 0);
  CHECK_INT(pthread_create(&h->th, NULL, serve, h), ==, 0);
  return h;
}

void hookrx_stop(struct hookrx *h)
{
  if (!h)
    return;
  if (write(h->stop_pipe[1], "x", 1) != 1)
    CHECK_FAIL("hookrx: cannot stop the receiver");
  pthread_join(h->th, NULL);
  close(h->fd);
  close(h->stop_pipe[0]);
  close(h->stop_pipe[1]);
  for (size_t i = 0; i < h->n; i++)
    free(h->bodies[i]);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

const char *hookrx_url(const struct hookrx *h)
{
  return h->url;
}

size_t hookrx_count(struct hookrx *h)
{
  size_t n;

  pthread_mutex_lock(&h->mu);
  n = h->n;
  pthread_mutex_unlock(&h->mu);
  return n;
}

int hookrx_body(struct hookrx *h, size_t i, char *out, size_t len)
{
  int st = 0;

  pthread_mutex_lock(&h->mu);
  if (i < h->n) {
    snprintf(out, len, "%s", h->bodies[i]);
    st = h->status[i];
  }
  pthread_mutex_unlock(&h->mu);
  return st;
}
