/*
 * editline.h — the input line: a wide-character buffer with a cursor that
 * moves over and deletes whole clusters (text.h), and a history of what
 * was entered (Up/Down). Pure, no curses; unit-tested
 * (tests/tui/test_editline.c).
 *
 * Ownership: struct el is the caller's (el_init/el_cleanup); the buffer
 * and history are the line's own allocations.
 */
#ifndef HERALD_EDITLINE_H
#define HERALD_EDITLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

#define EL_HISTORY_MAX 100
#define EL_MAX_CHARS 8192          /* a longer line is refused key by key */

struct el {
  wchar_t *buf;                    /* NUL-terminated */
  size_t len, cap;
  size_t cur;                      /* cursor, always at a cluster boundary */
  size_t scroll;                   /* first shown character (el_view) */
  wchar_t **hist;                  /* oldest first */
  size_t nhist;
  size_t hpos;                     /* == nhist: not browsing */
  wchar_t *draft;                  /* the line being typed while browsing */
};

void el_init(struct el *e);
void el_cleanup(struct el *e);

/* Inserts a character at the cursor. 0, or -1 (out of memory or full). */
int el_insert(struct el *e, wchar_t c);
void el_left(struct el *e);
void el_right(struct el *e);
void el_home(struct el *e);
void el_end(struct el *e);
void el_backspace(struct el *e);   /* deletes the cluster before the cursor */
void el_delete(struct el *e);      /* deletes the cluster at the cursor */
void el_clear(struct el *e);
void el_hist_up(struct el *e);
void el_hist_down(struct el *e);

/* The line as UTF-8 (malloc'd, NUL-terminated; NULL when out of memory);
 * with `commit` it also goes into the history (unless empty or equal to
 * the last entry) and the line is cleared. */
char *el_take(struct el *e, bool commit);

/* Where the line shows in `width` columns: moves e->scroll so that the
 * cursor is visible and returns the cursor's column relative to the first
 * shown character. */
int el_view(struct el *e, int width);

#endif
