/*
 * text.h — text as the terminal shows it: UTF-8 to wide characters and
 * back, grapheme clusters (what the cursor steps over and backspace
 * deletes), display widths (wcwidth: CJK and emoji take two columns) and
 * wrapping by display width.
 *
 * No curses here: the functions are pure and unit-tested
 * (tests/tui/test_text.c). The locale must be a UTF-8 one (herald calls
 * setlocale(LC_ALL, "")) for wcwidth to know wide characters.
 *
 * Clusters, as far as a terminal can show them: a base character followed
 * by combining marks and other zero-width characters, variation selectors
 * and emoji skin-tone modifiers; a zero-width joiner also joins the next
 * character; two regional indicators (a flag) form one cluster.
 */
#ifndef HERALD_TEXT_H
#define HERALD_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

/* Decodes `len` bytes of UTF-8 into a malloc'd wide string (*out, NUL
 * terminated; free() it) and returns its length. Malformed bytes become
 * U+FFFD. Returns (size_t)-1 when out of memory. */
size_t tx_decode(const char *s, size_t len, wchar_t **out);

/* Encodes `n` wide characters as UTF-8 into a malloc'd NUL-terminated
 * string (*out; free() it); returns its length in bytes or (size_t)-1. */
size_t tx_encode(const wchar_t *w, size_t n, char **out);

/* The end of the cluster that starts at w[i] (i < n). */
size_t tx_next(const wchar_t *w, size_t n, size_t i);
/* The start of the cluster that ends at w[i] (0 < i <= n). */
size_t tx_prev(const wchar_t *w, size_t n, size_t i);

/* Display width of the cluster w[a..b): the sum of its characters'
 * widths (combining marks and joiners count 0), at least 1; a control
 * character counts 1 (it is shown as '?'). */
int tx_cluster_width(const wchar_t *w, size_t a, size_t b);
/* Display width of w[0..n), cluster by cluster. */
int tx_width(const wchar_t *w, size_t n);
/* Display width of `len` bytes of UTF-8 (0 when out of memory). */
int tx_width_utf8(const char *s, size_t len);

/* One line of wrapped text: w[start..end) (a line break or the spaces a
 * line was broken at are not part of it). */
struct tx_line {
  size_t start, end;
};

/* Wraps w[0..n) into lines of at most `width` columns (width >= 2, so
 * that a wide character always fits): at '\n', else after the last space
 * that leaves a line of words, else between clusters (CJK text has no
 * spaces). Writes up to `max` lines into `out` (may be NULL) and returns
 * how many there are in all (at least 1). */
size_t tx_wrap(const wchar_t *w, size_t n, int width, struct tx_line *out,
               size_t max);

/* Writes into `out` (capacity `cap` wide characters, NUL added) the
 * longest prefix of the UTF-8 string `s` (len bytes) that fits in `width`
 * columns, clusters kept whole, controls replaced by '?'. Returns the
 * columns used. */
int tx_fit(const char *s, size_t len, int width, wchar_t *out, size_t cap);

#endif
