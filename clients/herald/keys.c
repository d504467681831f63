/*
 * keys.c — what the terminal and the loop bring in: keys (a uv_poll on
 * the terminal, read with get_wch until it has nothing more), window size
 * changes, SIGTERM/SIGHUP (quit cleanly: the cache is saved, the outbox
 * stays on disk), a one-second tick (times on screen, the cache saved
 * every few seconds when it changed) and the redraw before the loop
 * sleeps.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define NCURSES_WIDECHAR 1
#include <ncurses.h>

#include "herald_int.h"

static int pane_rows(void)
{
  int H, W;

  getmaxyx(stdscr, H, W);
  (void)W;
  return H - 4 > 1 ? H - 4 : 1;
}

static void enter(struct app *a)
{
  char *line = el_take(&a->input, !a->secret);

  if (!line)
    return;
  if (a->secret) {
    /* Nothing of the password stays in the line's buffer. */
    explicit_bzero(a->input.buf, a->input.cap * sizeof *a->input.buf);
    el_clear(&a->input);
    a->secret = false;
    /* The stored token was refused: log in with the password (the
     * library keeps the new token). */
    hc_conn_set_token(a->conn, NULL);
    hc_conn_set_password(a->conn, a->login, line);
    explicit_bzero(line, strlen(line));
    free(line);
    hc_conn_start(a->conn);
    ui_notice(a, "logging in…");
    return;
  }
  if (a->ov != OV_NONE)
    ui_overlay_close(a);
  if (line[0] == '/')
    cmd_run(a, line);
  else if (line[0])
    cmd_send_text(a, line);
  free(line);
}

static void resize(struct app *a)
{
  struct winsize ws;

  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
    resize_term(ws.ws_row, ws.ws_col);
  clearok(stdscr, TRUE);
  a->dirty = true;
}

static void key(struct app *a, bool fn, wint_t ch)
{
  struct hconv *c = ui_current(a);

  if (fn) {
    switch (ch) {
    case KEY_RESIZE: resize(a); break;
    case KEY_LEFT: el_left(&a->input); break;
    case KEY_RIGHT: el_right(&a->input); break;
    case KEY_HOME: el_home(&a->input); break;
    case KEY_END: el_end(&a->input); break;
    case KEY_BACKSPACE: el_backspace(&a->input); break;
    case KEY_DC: el_delete(&a->input); break;
    case KEY_UP: if (!a->secret) el_hist_up(&a->input); break;
    case KEY_DOWN: if (!a->secret) el_hist_down(&a->input); break;
    case KEY_ENTER: enter(a); break;
    case KEY_PPAGE:
      if (a->ov != OV_NONE)
        a->ov_scroll -= pane_rows() - 3;
      else if (c)
        c->scroll += pane_rows() - 1;
      break;
    case KEY_NPAGE:
      if (a->ov != OV_NONE)
        a->ov_scroll += pane_rows() - 3;
      else if (c && (c->scroll -= pane_rows() - 1) < 0)
        c->scroll = 0;
      break;
    case KEY_F(1): cmd_run(a, "/help"); break;
    case KEY_F(2): cmd_ack_first(a); break;
    default: break;
    }
    a->dirty = true;
    return;
  }
  switch (ch) {
  case 3: app_quit(a); break;                      /* Ctrl-C */
  case 4: if (a->input.len == 0) app_quit(a); else el_delete(&a->input); break;
  case 1: el_home(&a->input); break;               /* Ctrl-A */
  case 5: el_end(&a->input); break;                /* Ctrl-E */
  case 2: el_left(&a->input); break;               /* Ctrl-B */
  case 6: el_right(&a->input); break;              /* Ctrl-F */
  case 8: case 127: el_backspace(&a->input); break;
  case 21: el_clear(&a->input); break;             /* Ctrl-U */
  case 12: clearok(stdscr, TRUE); break;           /* Ctrl-L */
  case 14:                                         /* Ctrl-N */
    if (a->m.nconvs)
      ui_select(a, (a->sel + 1) % a->m.nconvs);
    break;
  case 16:                                         /* Ctrl-P */
    if (a->m.nconvs)
      ui_select(a, (a->sel + a->m.nconvs - 1) % a->m.nconvs);
    break;
  case 27:                                         /* Esc */
    if (a->ov != OV_NONE)
      ui_overlay_close(a);
    break;
  case '\r': case '\n': enter(a); break;
  case '\t': el_insert(&a->input, L' '); break;
  default:
    if (ch >= 32 && ch != 127)
      el_insert(&a->input, (wchar_t)ch);
    break;
  }
  a->dirty = true;
}

static void on_tty(uv_poll_t *h, int status, int events)
{
  struct app *a = h->data;

  (void)events;
  if (status < 0) {
    app_quit(a);
    return;
  }
  for (int i = 0; i < 4096 && !a->quit; i++) {
    wint_t ch;
    int r = get_wch(&ch);

    if (r == ERR)
      break;
    key(a, r == KEY_CODE_YES, ch);
  }
}

static void on_winch(uv_signal_t *h, int sig)
{
  (void)sig;
  resize(h->data);
}

static void on_quit_signal(uv_signal_t *h, int sig)
{
  (void)sig;
  app_quit(h->data);
}

static void on_tick(uv_timer_t *h)
{
  struct app *a = h->data;

  a->dirty = true;                 /* clock-dependent text (times) */
  if (++a->ticks % 5 == 0 && a->cache_dirty && a->state_dir[0]) {
    a->cache_dirty = false;
    cache_save(&a->m, a->state_dir);
  }
}

static void on_prepare(uv_prepare_t *h)
{
  struct app *a = h->data;

  if (a->read_due && !a->quit) {
    a->read_due = false;
    net_mark_read(a);
  }
  if (a->dirty && !a->quit)
    ui_draw(a);
}

void keys_start(struct app *a)
{
  uv_poll_init(&a->loop, &a->tty_poll, STDIN_FILENO);
  a->tty_poll.data = a;
  uv_poll_start(&a->tty_poll, UV_READABLE, on_tty);
  uv_signal_init(&a->loop, &a->winch);
  a->winch.data = a;
  uv_signal_start(&a->winch, on_winch, SIGWINCH);
  uv_signal_init(&a->loop, &a->term);
  a->term.data = a;
  uv_signal_start(&a->term, on_quit_signal, SIGTERM);
  uv_signal_init(&a->loop, &a->hup);
  a->hup.data = a;
  uv_signal_start(&a->hup, on_quit_signal, SIGHUP);
  uv_timer_init(&a->loop, &a->tick);
  a->tick.data = a;
  uv_timer_start(&a->tick, on_tick, 1000, 1000);
  uv_prepare_init(&a->loop, &a->redraw);
  a->redraw.data = a;
  uv_prepare_start(&a->redraw, on_prepare);
}

void keys_stop(struct app *a)
{
  uv_close((uv_handle_t *)&a->tty_poll, NULL);
  uv_close((uv_handle_t *)&a->winch, NULL);
  uv_close((uv_handle_t *)&a->term, NULL);
  uv_close((uv_handle_t *)&a->hup, NULL);
  uv_close((uv_handle_t *)&a->tick, NULL);
  uv_close((uv_handle_t *)&a->redraw, NULL);
}
