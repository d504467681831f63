/*
 * text.c — UTF-8, clusters, widths and wrapping (see text.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "text.h"

size_t tx_decode(const char *s, size_t len, wchar_t **out)
{
  const unsigned char *p = (const unsigned char *)s;
  wchar_t *w = malloc((len + 1) * sizeof *w);
  size_t i = 0, n = 0;

  if (!w)
    return (size_t)-1;
  while (i < len) {
    unsigned c = p[i], need, cp;
    size_t k;

    if (c < 0x80) {
      w[n++] = (wchar_t)c;
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; }
    else { w[n++] = 0xfffd; i++; continue; }
    for (k = 1; k <= need && i + k < len; k++) {
      if ((p[i + k] & 0xc0) != 0x80)
        break;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    /* Truncated, overlong, a surrogate or beyond U+10FFFF: one U+FFFD
     * for the bytes looked at. */
    if (k <= need || (need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (need == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
      w[n++] = 0xfffd;
      i += k;
      continue;
    }
    w[n++] = (wchar_t)cp;
    i += need + 1;
  }
  w[n] = 0;
  *out = w;
  return n;
}

size_t tx_encode(const wchar_t *w, size_t n, char **out)
{
  char *s = malloc(n * 4 + 1);
  size_t k = 0;

  if (!s)
    return (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    uint32_t c = (uint32_t)w[i];

    if (c >= 0xd800 && c <= 0xdfff)
      c = 0xfffd;
    if (c < 0x80) {
      s[k++] = (char)c;
    } else if (c < 0x800) {
      s[k++] = (char)(0xc0 | (c >> 6));
      s[k++] = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      s[k++] = (char)(0xe0 | (c >> 12));
      s[k++] = (char)(0x80 | ((c >> 6) & 0x3f));
      s[k++] = (char)(0x80 | (c & 0x3f));
    } else {
      s[k++] = (char)(0xf0 | (c >> 18));
      s[k++] = (char)(0x80 | ((c >> 12) & 0x3f));
      s[k++] = (char)(0x80 | ((c >> 6) & 0x3f));
      s[k++] = (char)(0x80 | (c & 0x3f));
    }
  }
  s[k] = '\0';
  *out = s;
  return k;
}

static bool is_control(wchar_t c)
{
  return c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0);
}

static bool is_ri(wchar_t c)            /* regional indicator */
{
  return c >= 0x1f1e6 && c <= 0x1f1ff;
}

/* Does `c` extend the cluster before it? */
static bool extends(wchar_t c)
{
  if (c == 0x200d)                     /* zero-width joiner */
    return true;
  if ((c >= 0xfe00 && c <= 0xfe0f) || (c >= 0xe0100 && c <= 0xe01ef))
    return true;                       /* variation selectors */
  if (c >= 0x1f3fb && c <= 0x1f3ff)
    return true;                       /* emoji skin-tone modifiers */
  if (is_control(c) || c == '\n')
    return false;
  return wcwidth(c) == 0;              /* combining marks and the like */
}

size_t tx_next(const wchar_t *w, size_t n, size_t i)
{
  size_t j;

  if (i >= n)
    return n;
  if (w[i] == '\n' || is_control(w[i]))
    return i + 1;
  if (is_ri(w[i]) && i + 1 < n && is_ri(w[i + 1]))
    return i + 2;
  j = i + 1;
  while (j < n) {
    if (extends(w[j])) {
      j++;
    } else if (w[j - 1] == 0x200d && !is_control(w[j]) && w[j] != '\n') {
      j++;                              /* joined by the ZWJ before it */
    } else {
      break;
    }
  }
  return j;
}

size_t tx_prev(const wchar_t *w, size_t n, size_t i)
{
  size_t a = 0, b;

  if (i == 0)
    return 0;
  if (i > n)
    i = n;
  /* Clusters are defined from the left; step back to a safe start (a
   * character that cannot extend anything before it), then walk forward. */
  a = i - 1;
  while (a > 0 && (extends(w[a]) || w[a - 1] == 0x200d || is_ri(w[a])))
    a--;
  for (;;) {
    b = tx_next(w, n, a);
    if (b >= i)
      return a;
    a = b;
  }
}

int tx_cluster_width(const wchar_t *w, size_t a, size_t b)
{
  int total = 0;

  if (a >= b)
    return 0;
  if (is_control(w[a]) || w[a] == '\n')
    return 1;
  /* The sum of the widths of its characters: what curses and the
   * terminal give it (a terminal that does not join a ZWJ sequence or a
   * skin tone shows the parts side by side), so that the layout and the
   * cursor agree with the screen. */
  for (size_t i = a; i < b; i++) {
    int cw = wcwidth(w[i]);

    total += cw > 0 ? cw : 0;
  }
  return total > 0 ? total : 1;
}

int tx_width(const wchar_t *w, size_t n)
{
  int total = 0;

  for (size_t i = 0; i < n;) {
    size_t j = tx_next(w, n, i);

    total += tx_cluster_width(w, i, j);
    i = j;
  }
  return total;
}

int tx_width_utf8(const char *s, size_t len)
{
  wchar_t *w;
  size_t n = tx_decode(s, len, &w);
  int r;

  if (n == (size_t)-1)
    return 0;
  r = tx_width(w, n);
  free(w);
  return r;
}

static void put_line(struct tx_line *out, size_t max, size_t k, size_t s,
                     size_t e)
{
  if (out && k < max) {
    out[k].start = s;
    out[k].end = e;
  }
}

size_t tx_wrap(const wchar_t *w, size_t n, int width, struct tx_line *out,
               size_t max)
{
  size_t k = 0, start = 0, i = 0;
  size_t brk = (size_t)-1;         /* end of the line if broken at a space */
  size_t brk_next = 0;             /* where the next line would start */
  int col = 0;

  if (width < 2)
    width = 2;
  while (i < n) {
    size_t j;
    int cw;

    if (w[i] == '\n') {
      put_line(out, max, k++, start, i);
      start = i = i + 1;
      col = 0;
      brk = (size_t)-1;
      continue;
    }
    j = tx_next(w, n, i);
    cw = tx_cluster_width(w, i, j);
    /* A cluster wider than the whole line (a long ZWJ sequence in a very
     * narrow pane) goes on a line of its own rather than never fitting. */
    if (col + cw > width && col > 0) {
      if (w[i] == ' ') {
        /* The space itself overflows: break here and drop the spaces. */
        put_line(out, max, k++, start, i);
        while (i < n && w[i] == ' ')
          i++;
        start = i;
      } else if (brk != (size_t)-1) {
        put_line(out, max, k++, start, brk);
        start = i = brk_next;
      } else {
        put_line(out, max, k++, start, i);
        start = i;
      }
      col = 0;
      brk = (size_t)-1;
      continue;
    }
    if (w[i] == ' ' && i > start && w[i - 1] != ' ') {
      size_t e = i;

      while (e < n && w[e] == ' ')
        e++;
      brk = i;
      brk_next = e;
    }
    col += cw;
    i = j;
  }
  put_line(out, max, k++, start, n);
  return k;
}

int tx_fit(const char *s, size_t len, int width, wchar_t *out, size_t cap)
{
  wchar_t *w;
  size_t n = tx_decode(s, len, &w), o = 0;
  int col = 0;

  if (cap == 0)
    return 0;
  if (n == (size_t)-1) {
    out[0] = 0;
    return 0;
  }
  for (size_t i = 0; i < n;) {
    size_t j = tx_next(w, n, i);
    int cw = tx_cluster_width(w, i, j);

    if (col + cw > width || o + (j - i) + 1 > cap)
      break;
    for (size_t k = i; k < j; k++)
      out[o++] = is_control(w[k]) || w[k] == '\n' ? L'?' : w[k];
    col += cw;
    i = j;
  }
  out[o] = 0;
  free(w);
  return col;
}
