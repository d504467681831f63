/*
 * webhook.c — the HTTP client of DING escalations: one JSON POST to the
 * org's escalation webhook (an SMS or phone gateway), on a database pool
 * thread of the scheduler, never on the loop. libcurl is used here and
 * nowhere else.
 *
 * Every request is bounded: a total timeout and a connect timeout, http
 * and https only, no redirects (a gateway that moved is a configuration
 * error, not something to follow silently), no signals (threads), and at
 * most a few KiB of the answer kept for the detail line.
 */
#include "ding_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

int srv_webhook_global_init(void)
{
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void srv_webhook_global_cleanup(void)
{
  curl_global_cleanup();
}

/* The answer's first bytes, for the detail line; the rest is dropped. */
struct answer {
  char head[128];
  size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
  struct answer *a = arg;
  size_t bytes = size * n, room = sizeof(a->head) - 1 - a->len;
  size_t take = bytes < room ? bytes : room;

  memcpy(a->head + a->len, p, take);
  a->len += take;
  a->head[a->len] = '\0';
  return bytes;
}

/* Control characters of an answer become spaces: the detail is one line. */
static void one_line(char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < ' ' || (unsigned char)*s == 0x7f)
      *s = ' ';
}

int srv_webhook_post(const char *url, const char *json, long timeout_ms,
                     long *status, char *detail, size_t detail_len)
{
  struct curl_slist *hdr = NULL;
  struct answer ans = {"", 0};
  char err[CURL_ERROR_SIZE] = "";
  CURL *h = curl_easy_init();
  CURLcode rc;
  long code = 0;

  *status = 0;
  if (!h) {
    snprintf(detail, detail_len, "cannot create an HTTP request");
    return -1;
  }
  hdr = curl_slist_append(hdr, "Content-Type: application/json");
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   timeout_ms < 5000 ? timeout_ms : 5000L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
  curl_easy_setopt(h, CURLOPT_USERAGENT, "heraldd-escalation/1");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &ans);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
  rc = curl_easy_perform(h);
  if (rc == CURLE_OK)
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(h);
  curl_slist_free_all(hdr);
  *status = code;
  one_line(ans.head);
  if (rc != CURLE_OK) {
    snprintf(detail, detail_len, "%s", *err ? err : curl_easy_strerror(rc));
    one_line(detail);
    return -1;
  }
  snprintf(detail, detail_len, "HTTP %ld%s%s", code, ans.len ? ": " : "",
           ans.head);
  return code >= 200 && code < 300 ? 0 : -1;
}
