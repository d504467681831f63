/*
 * editline.c — the input line (see editline.h).
 */
#include <stdlib.h>
#include <string.h>

#include "editline.h"
#include "text.h"

static int reserve(struct el *e, size_t n);

void el_init(struct el *e)
{
  memset(e, 0, sizeof *e);
  /* Always a buffer, so that no caller does arithmetic on NULL. */
  if (reserve(e, 0) == 0)
    e->buf[0] = 0;
}

void el_cleanup(struct el *e)
{
  free(e->buf);
  for (size_t i = 0; i < e->nhist; i++)
    free(e->hist[i]);
  free(e->hist);
  free(e->draft);
  memset(e, 0, sizeof *e);
}

static int reserve(struct el *e, size_t n)
{
  wchar_t *p;
  size_t cap;

  if (n + 1 <= e->cap)
    return 0;
  cap = e->cap ? e->cap : 64;
  while (cap < n + 1)
    cap *= 2;
  if (!(p = realloc(e->buf, cap * sizeof *p)))
    return -1;
  e->buf = p;
  e->cap = cap;
  return 0;
}

static int set_text(struct el *e, const wchar_t *w)
{
  size_t n = w ? wcslen(w) : 0;

  if (reserve(e, n) != 0)
    return -1;
  if (n)
    memcpy(e->buf, w, n * sizeof *w);
  e->buf[n] = 0;
  e->len = e->cur = n;
  e->scroll = 0;
  return 0;
}

int el_insert(struct el *e, wchar_t c)
{
  if (e->len >= EL_MAX_CHARS || reserve(e, e->len + 1) != 0)
    return -1;
  memmove(e->buf + e->cur + 1, e->buf + e->cur,
          (e->len - e->cur) * sizeof *e->buf);
  e->buf[e->cur++] = c;
  e->buf[++e->len] = 0;
  /* A combining mark typed after a base joins its cluster: the cursor
   * stays after the cluster, at a boundary. */
  e->cur = tx_next(e->buf, e->len, tx_prev(e->buf, e->len, e->cur));
  return 0;
}

void el_left(struct el *e)
{
  e->cur = tx_prev(e->buf, e->len, e->cur);
}

void el_right(struct el *e)
{
  if (e->cur < e->len)
    e->cur = tx_next(e->buf, e->len, e->cur);
}

void el_home(struct el *e)
{
  e->cur = 0;
}

void el_end(struct el *e)
{
  e->cur = e->len;
}

static void cut(struct el *e, size_t a, size_t b)
{
  memmove(e->buf + a, e->buf + b, (e->len - b + 1) * sizeof *e->buf);
  e->len -= b - a;
  e->cur = a;
}

void el_backspace(struct el *e)
{
  if (e->cur > 0)
    cut(e, tx_prev(e->buf, e->len, e->cur), e->cur);
}

void el_delete(struct el *e)
{
  if (e->cur < e->len)
    cut(e, e->cur, tx_next(e->buf, e->len, e->cur));
}

void el_clear(struct el *e)
{
  set_text(e, NULL);
}

static wchar_t *dup_line(const struct el *e)
{
  wchar_t *w = malloc((e->len + 1) * sizeof *w);

  if (w) {
    if (e->len)
      memcpy(w, e->buf, e->len * sizeof *w);
    w[e->len] = 0;
  }
  return w;
}

void el_hist_up(struct el *e)
{
  if (e->hpos == 0)
    return;
  if (e->hpos == e->nhist) {
    free(e->draft);
    e->draft = dup_line(e);
  }
  e->hpos--;
  set_text(e, e->hist[e->hpos]);
}

void el_hist_down(struct el *e)
{
  if (e->hpos >= e->nhist)
    return;
  e->hpos++;
  if (e->hpos == e->nhist) {
    set_text(e, e->draft);
    free(e->draft);
    e->draft = NULL;
  } else {
    set_text(e, e->hist[e->hpos]);
  }
}

static void remember(struct el *e)
{
  wchar_t *w, **h;

  if (e->len == 0 ||
      (e->nhist && wcscmp(e->hist[e->nhist - 1], e->buf ? e->buf : L"") == 0))
    return;
  if (!(w = dup_line(e)))
    return;
  if (e->nhist == EL_HISTORY_MAX) {
    free(e->hist[0]);
    memmove(e->hist, e->hist + 1, (e->nhist - 1) * sizeof *e->hist);
    e->nhist--;
  }
  if (!(h = realloc(e->hist, (e->nhist + 1) * sizeof *h))) {
    free(w);
    return;
  }
  e->hist = h;
  e->hist[e->nhist++] = w;
}

char *el_take(struct el *e, bool commit)
{
  char *s;

  if (tx_encode(e->buf ? e->buf : L"", e->len, &s) == (size_t)-1)
    return NULL;
  if (commit) {
    remember(e);
    e->hpos = e->nhist;
    free(e->draft);
    e->draft = NULL;
    el_clear(e);
  }
  return s;
}

int el_view(struct el *e, int width)
{
  int col;

  if (width < 2)
    width = 2;
  if (e->scroll > e->cur)
    e->scroll = tx_prev(e->buf, e->len, e->cur);
  /* Scroll right, cluster by cluster, until the cursor (and the cluster
   * under it) fits. */
  for (;;) {
    size_t nx = e->cur < e->len ? tx_next(e->buf, e->len, e->cur) : e->cur;
    int under = nx > e->cur ? tx_cluster_width(e->buf, e->cur, nx) : 1;

    col = tx_width(e->buf + e->scroll, e->cur - e->scroll);
    if (col + under <= width || e->scroll >= e->cur)
      break;
    e->scroll = tx_next(e->buf, e->len, e->scroll);
  }
  return col;
}
