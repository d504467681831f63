/*
 * output.c — heraldctl's tables: columns padded by display width, so that
 * names in Chinese, Japanese or Korean (two columns per character) line up.
 */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "ctl_int.h"

struct ctl_table {
  int ncols;
  size_t nrows, cap;
  char **cells; /* nrows * ncols, row 0 is the header */
};

/* Display width of a UTF-8 string in the current (UTF-8) locale; bytes
 * that do not decode count one column each. */
static size_t display_width(const char *s)
{
  mbstate_t st;
  size_t w = 0, len = strlen(s);

  memset(&st, 0, sizeof st);
  while (len > 0) {
    wchar_t wc;
    size_t n = mbrtowc(&wc, s, len, &st);
    int cw;

    if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
      memset(&st, 0, sizeof st);
      n = 1;
      cw = 1;
    } else {
      cw = wcwidth(wc);
      if (cw < 0)
        cw = 1;
    }
    w += (size_t)cw;
    s += n;
    len -= n;
  }
  return w;
}

struct ctl_table *ctl_table_new(int ncols, const char *const *headers)
{
  struct ctl_table *t = calloc(1, sizeof *t);

  if (!t)
    return NULL;
  t->ncols = ncols;
  ctl_table_add(t, headers);
  return t;
}

void ctl_table_add(struct ctl_table *t, const char *const *cells)
{
  if (!t)
    return;
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    char **grown = realloc(t->cells, cap * (size_t)t->ncols * sizeof *grown);

    if (!grown)
      return;
    t->cells = grown;
    t->cap = cap;
  }
  for (int c = 0; c < t->ncols; c++)
    t->cells[t->nrows * (size_t)t->ncols + (size_t)c] =
      strdup(cells[c] ? cells[c] : "");
  t->nrows++;
}

void ctl_table_print(struct ctl_table *t, FILE *f)
{
  size_t *width;

  if (!t || !(width = calloc((size_t)t->ncols, sizeof *width)))
    return;
  for (size_t r = 0; r < t->nrows; r++)
    for (int c = 0; c < t->ncols; c++) {
      const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
      size_t w = s ? display_width(s) : 0;

      if (w > width[c])
        width[c] = w;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    for (int c = 0; c < t->ncols; c++) {
      const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];

      s = s ? s : "";
      fputs(s, f);
      if (c + 1 < t->ncols)
        fprintf(f, "%*s", (int)(width[c] - display_width(s) + 2), "");
    }
    fputc('\n', f);
  }
  free(width);
}

void ctl_table_free(struct ctl_table *t)
{
  if (!t)
    return;
  for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t);
}
