/*
 * ui.c — the screens (ncursesw) and the keys.
 *
 *   row 0            the DING banner while a DING waits for my ack, else
 *                    the title of the conversation
 *   rows 1..H-4      the conversation list (when the terminal has 60
 *                    columns or more) and the message pane, or an overlay
 *                    (help, who read, report, quiet hours, the notice)
 *   row H-3          one line of feedback (command results, errors)
 *   row H-2          status: connection, quiet hours, unsent outbox
 *   row H-1          the input line
 *
 * Widths are display widths (text.h): CJK and emoji take two columns,
 * messages wrap by width, the input line scrolls by clusters. The screen
 * is rebuilt from the model on every redraw (once per loop iteration when
 * something changed); a few hundred messages make that cheap. Keys and
 * the loop's handles are in keys.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NCURSES_WIDECHAR 1
#include <ncurses.h>

#include "herald_int.h"
#include "text.h"

#define LIST_MIN_COLS 60          /* below this the list is hidden */
#define LIST_WIDTH 24

enum { PAIR_BANNER = 1, PAIR_DIM, PAIR_MINE, PAIR_STATUS_OFF };

/* ---- helpers ---- */

void ui_format_time(uint64_t ms, char *out, size_t len)
{
  time_t t = (time_t)(ms / 1000), now = time(NULL);
  struct tm tm, tn;

  localtime_r(&t, &tm);
  localtime_r(&now, &tn);
  if (tm.tm_year == tn.tm_year && tm.tm_yday == tn.tm_yday)
    strftime(out, len, "%H:%M", &tm);
  else
    strftime(out, len, "%m-%d %H:%M", &tm);
}

void ui_notice(struct app *a, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(a->notice, sizeof a->notice, fmt, ap);
  va_end(ap);
  a->dirty = true;
}

struct hconv *ui_current(struct app *a)
{
  return a->sel < a->m.nconvs ? &a->m.convs[a->sel] : NULL;
}

void ui_bell(struct app *a, bool silent)
{
  (void)a;
  if (!silent)
    beep();
}

void ui_select(struct app *a, size_t idx)
{
  struct hconv *c;

  if (idx >= a->m.nconvs)
    return;
  a->sel = idx;
  c = &a->m.convs[idx];
  a->m.shown = c->id;
  a->cache_dirty = true;
  c->scroll = 0;
  if (!c->members_known)
    net_members(a, c);
  if (c->n < 20 && !c->no_older)
    net_history(a, c);
  net_mark_read(a);
  a->dirty = true;
}

/* Draws up to `width` columns of w[0..n) at (y, x), cluster by cluster,
 * controls as '?'. Returns the columns used. */
static int draw_w(int y, int x, const wchar_t *w, size_t n, int width)
{
  int col = 0;

  move(y, x);
  for (size_t i = 0; i < n;) {
    size_t j = tx_next(w, n, i);
    int cw = tx_cluster_width(w, i, j);

    if (col + cw > width)
      break;
    if (w[i] < 0x20 || w[i] == 0x7f) {
      addch('?');
    } else {
      addnwstr(w + i, (int)(j - i));
    }
    col += cw;
    i = j;
  }
  return col;
}

static int draw_s(int y, int x, const char *s, int width)
{
  wchar_t *w;
  size_t n = tx_decode(s, strlen(s), &w);
  int r;

  if (n == (size_t)-1)
    return 0;
  r = draw_w(y, x, w, n, width);
  free(w);
  return r;
}

/* ---- the overlay ---- */

static void ov_free(struct app *a)
{
  for (size_t i = 0; i < a->ov_n; i++)
    free(a->ov_lines[i]);
  free(a->ov_lines);
  free(a->ov_title);
  a->ov_lines = NULL;
  a->ov_title = NULL;
  a->ov_n = 0;
  a->ov = OV_NONE;
  a->ov_scroll = 0;
  a->dirty = true;
}

void ui_overlay_close(struct app *a)
{
  bool notice = a->ov == OV_NOTICE;

  ov_free(a);
  if (notice)
    app_privacy_notice_done(a);
  net_mark_read(a);               /* the pane is visible again */
}

void ov_add(struct ovbuf *b, const char *fmt, ...)
{
  va_list ap;
  char *s;
  int n;

  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 32;
    char **v = realloc(b->v, cap * sizeof *v);

    if (!v)
      return;
    b->v = v;
    b->cap = cap;
  }
  va_start(ap, fmt);
  n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n >= 0)
    b->v[b->n++] = s;
}

void ov_show(struct app *a, enum overlay_kind kind, const char *title,
             struct ovbuf *b)
{
  if (a->ov == OV_NOTICE)
    app_privacy_notice_done(a);   /* read, and replaced by a command */
  ov_free(a);
  a->ov = kind;
  a->ov_title = strdup(title);
  a->ov_lines = b->v;
  a->ov_n = b->n;
  a->ov_scroll = 0;
  b->v = NULL;
  b->n = b->cap = 0;
  a->dirty = true;
}

void ui_overlay(struct app *a, enum overlay_kind kind, const char *title,
                const char *const *lines, size_t n)
{
  struct ovbuf b = {0};

  for (size_t i = 0; i < n; i++)
    ov_add(&b, "%s", lines[i]);
  ov_show(a, kind, title, &b);
}

/* ---- rendering lines of the message pane ---- */

struct vline {
  wchar_t *w;
  size_t n;
  int attr;
  int indent;
};

struct vlines {
  struct vline *v;
  size_t n, cap;
};

static void vl_push(struct vlines *L, wchar_t *w, size_t n, int attr,
                    int indent)
{
  if (L->n == L->cap) {
    size_t cap = L->cap ? L->cap * 2 : 64;
    struct vline *v = realloc(L->v, cap * sizeof *v);

    if (!v) {
      free(w);
      return;
    }
    L->v = v;
    L->cap = cap;
  }
  L->v[L->n++] = (struct vline){w, n, attr, indent};
}

static void vl_text(struct vlines *L, const char *s, size_t len, int attr,
                    int indent)
{
  wchar_t *w;
  size_t n = tx_decode(s, len, &w);

  if (n != (size_t)-1)
    vl_push(L, w, n, attr, indent);
}

static void vl_wrapped(struct vlines *L, const char *s, size_t len, int width,
                       int attr, int indent)
{
  wchar_t *w;
  size_t n = tx_decode(s, len, &w), k;
  struct tx_line *lines;

  if (n == (size_t)-1)
    return;
  k = tx_wrap(w, n, width - indent, NULL, 0);
  if ((lines = calloc(k, sizeof *lines))) {
    tx_wrap(w, n, width - indent, lines, k);
    for (size_t i = 0; i < k; i++) {
      size_t ln = lines[i].end - lines[i].start;
      wchar_t *p = malloc((ln + 1) * sizeof *p);

      if (!p)
        break;
      memcpy(p, w + lines[i].start, ln * sizeof *p);
      p[ln] = 0;
      vl_push(L, p, ln, attr, indent);
    }
    free(lines);
  }
  free(w);
}

static void vl_free(struct vlines *L)
{
  for (size_t i = 0; i < L->n; i++)
    free(L->v[i].w);
  free(L->v);
}

static const char *urg_name(enum proto_urgency u)
{
  return u == PROTO_URG_CRITICAL ? "critical"
         : u == PROTO_URG_URGENT ? "urgent"
                                 : "normal";
}

/* A card message as its box (cardbox.c); false when the card is unknown. */
static bool card_lines(struct app *a, const struct hconv *c,
                       const struct hmsg *x, int width, struct vlines *L)
{
  struct hcard *k = x->card ? model_card(&a->m, x->card) : NULL;
  char **v;
  size_t n;
  int w = width - 2 > 76 ? 76 : width - 2;

  if (!k)
    k = model_card_at(&a->m, c->id, x->seq);
  if (!k || !k->state || w < 20 || !(n = card_box(&a->m, k, w, &v)))
    return false;
  for (size_t i = 0; i < n; i++)
    vl_text(L, v[i], strlen(v[i]), 0, 2);
  card_box_free(v, n);
  return true;
}

static void msg_lines(struct app *a, const struct hconv *c,
                      const struct hmsg *x, int width, struct vlines *L)
{
  char head[512], t[32], nb[64], tag[128] = "";
  bool mine = x->from == a->m.me;

  ui_format_time(x->ts, t, sizeof t);
  if (x->kind == PROTO_KIND_DING && mine)
    snprintf(tag, sizeof tag, "  DING %s · acked %" PRIu64 "/%" PRIu64,
             urg_name(x->urg), model_ding_acked(x), model_ding_total(c, x));
  else if (x->kind == PROTO_KIND_DING)
    snprintf(tag, sizeof tag, "  DING %s%s", urg_name(x->urg),
             model_banner(&a->m, c->id, x->seq) ? " · F2 to acknowledge" : "");
  if (mine && x->tracked && x->total)
    snprintf(tag + strlen(tag), sizeof tag - strlen(tag),
             "  read %" PRIu64 "/%" PRIu64, x->rd, x->total);
  else if (x->kind == PROTO_KIND_CARD && !x->card)
    snprintf(tag + strlen(tag), sizeof tag - strlen(tag), "  [card]");
  /* The seq is what /who and /ack take. */
  snprintf(head, sizeof head, "%s %s #%" PRIu64 "%s", t,
           model_name(&a->m, x->from, nb, sizeof nb), x->seq, tag);
  vl_text(L, head, strlen(head), A_BOLD | (mine ? COLOR_PAIR(PAIR_MINE) : 0), 0);
  if (x->kind == PROTO_KIND_CARD && card_lines(a, c, x, width, L))
    return;
  vl_wrapped(L, x->body, x->len, width, 0, 2);
}

static void pane_lines(struct app *a, const struct hconv *c, int width,
                       struct vlines *L)
{
  if (c->n && !c->no_older && c->msgs[0].seq > 1) {
    static const char more[] = "··· PgUp: older messages ···";

    vl_text(L, more, sizeof more - 1, COLOR_PAIR(PAIR_DIM), 0);
  }
  for (size_t i = 0; i < c->n; i++)
    msg_lines(a, c, &c->msgs[i], width, L);
  for (size_t i = 0; i < a->m.npend; i++) {
    const struct hpend *p = &a->m.pend[i];
    char head[256], nb[64];

    if (p->conv != c->id)
      continue;
    snprintf(head, sizeof head, "--:-- %s  %s%s",
             model_name(&a->m, a->m.me, nb, sizeof nb),
             p->ding ? "DING · " : "",
             p->seq ? "sent" : net_online(a) ? "sending…" : "queued (offline)");
    vl_text(L, head, strlen(head), A_BOLD | COLOR_PAIR(PAIR_DIM), 0);
    vl_wrapped(L, p->body, p->len, width, COLOR_PAIR(PAIR_DIM), 2);
  }
}

/* ---- the parts of the screen ---- */

static void draw_top(struct app *a, int W)
{
  char line[1024], nb[64], tb[64];
  struct hconv *c = ui_current(a);

  move(0, 0);
  clrtoeol();
  if (a->m.nbanners) {
    const struct hbanner *b = &a->m.banners[0];
    struct hconv *bc = model_conv(&a->m, b->conv);
    struct hmsg *x = bc ? model_msg(bc, b->seq) : NULL;
    char more[32] = "";

    if (a->m.nbanners > 1)
      snprintf(more, sizeof more, " (+%zu more)", a->m.nbanners - 1);
    if (b->about)
      snprintf(line, sizeof line,
               " ESCALATION: %s did not acknowledge a DING in %s — F2 dismiss%s",
               model_name(&a->m, b->about, nb, sizeof nb),
               bc ? model_title(&a->m, bc, tb, sizeof tb) : "?", more);
    else
      snprintf(line, sizeof line, " DING %s from %s in %s: %s — F2 acknowledge%s",
               urg_name(b->urg), model_name(&a->m, b->from, nb, sizeof nb),
               bc ? model_title(&a->m, bc, tb, sizeof tb) : "?",
               x ? x->body : "(message not loaded)", more);
    attron(COLOR_PAIR(PAIR_BANNER) | A_BOLD | A_REVERSE);
    mvhline(0, 0, ' ', W);
    draw_s(0, 0, line, W);
    attroff(COLOR_PAIR(PAIR_BANNER) | A_BOLD | A_REVERSE);
    return;
  }
  if (c)
    snprintf(line, sizeof line, " herald · %s · %" PRIu64 " members",
             model_title(&a->m, c, tb, sizeof tb), c->members);
  else
    snprintf(line, sizeof line, " herald · no conversation yet (/new, /join)");
  attron(A_BOLD);
  draw_s(0, 0, line, W);
  attroff(A_BOLD);
}

static void draw_list(struct app *a, int top, int rows)
{
  char line[256], tb[64];
  bool online = net_online(a);
  int y = top;

  attron(A_BOLD);
  draw_s(y++, 0, online ? "Conversations" : "Conversations: OFFLINE",
         LIST_WIDTH - 1);
  attroff(A_BOLD);
  for (size_t i = 0; i < a->m.nconvs && y < top + rows; i++) {
    struct hconv *c = &a->m.convs[i];
    uint64_t unread = model_unread(&a->m, c);
    bool ding = false;
    char badge[40] = "";

    for (size_t k = 0; k < a->m.nbanners; k++)
      ding |= a->m.banners[k].conv == c->id;
    if (unread)
      snprintf(badge, sizeof badge, " (%" PRIu64 ")", unread);
    if (ding)
      snprintf(badge + strlen(badge), sizeof badge - strlen(badge), " !DING");
    {
      int bw = tx_width_utf8(badge, strlen(badge));
      int room = LIST_WIDTH - 4 - bw;

      snprintf(line, sizeof line, "%s", i == a->sel ? "> " : "  ");
      if (i == a->sel)
        attron(A_REVERSE);
      mvaddstr(y, 0, line);
      {
        int used = draw_s(y, 2, model_title(&a->m, c, tb, sizeof tb),
                          room > 1 ? room : 1);

        draw_s(y, 2 + used, badge, LIST_WIDTH - 3 - used);
      }
      if (i == a->sel)
        attroff(A_REVERSE);
    }
    y++;
  }
  mvvline(top, LIST_WIDTH - 1, ACS_VLINE, rows);
}

static void draw_overlay(struct app *a, int top, int x0, int rows, int width)
{
  struct vlines L = {0};
  int max_scroll, first, y;

  for (size_t i = 0; i < a->ov_n; i++)
    vl_wrapped(&L, a->ov_lines[i], strlen(a->ov_lines[i]), width - 1, 0, 1);
  attron(A_BOLD | A_REVERSE);
  mvhline(top, x0, ' ', width);
  draw_s(top, x0 + 1, a->ov_title ? a->ov_title : "", width - 2);
  attroff(A_BOLD | A_REVERSE);
  max_scroll = (int)L.n - (rows - 2) > 0 ? (int)L.n - (rows - 2) : 0;
  if (a->ov_scroll > max_scroll)
    a->ov_scroll = max_scroll;
  if (a->ov_scroll < 0)
    a->ov_scroll = 0;
  first = a->ov_scroll;
  y = top + 1;
  for (size_t i = (size_t)first; i < L.n && y < top + rows - 1; i++, y++)
    draw_w(y, x0 + L.v[i].indent, L.v[i].w, L.v[i].n, width - L.v[i].indent);
  attron(COLOR_PAIR(PAIR_DIM));
  draw_s(top + rows - 1, x0 + 1,
         a->ov == OV_NOTICE ? "Enter: I have read this"
                            : "Esc or Enter: close · PgUp/PgDn: scroll",
         width - 2);
  attroff(COLOR_PAIR(PAIR_DIM));
  vl_free(&L);
}

static void draw_pane(struct app *a, int top, int x0, int rows, int width)
{
  struct hconv *c = ui_current(a);
  struct vlines L = {0};
  int max_scroll, first;

  if (!c) {
    draw_s(top + 1, x0 + 1, "No conversation yet. /help lists the commands.",
           width - 1);
    return;
  }
  pane_lines(a, c, width, &L);
  max_scroll = (int)L.n - rows > 0 ? (int)L.n - rows : 0;
  if (c->scroll > max_scroll) {
    c->scroll = max_scroll;
    /* Scrolled to the top of what is loaded: fetch older messages. */
    if (!c->no_older)
      net_history(a, c);
  }
  if (c->scroll < 0)
    c->scroll = 0;
  first = (int)L.n - rows - c->scroll;
  if (first < 0)
    first = 0;
  for (int y = 0; y < rows && (size_t)(first + y) < L.n; y++) {
    const struct vline *v = &L.v[first + y];

    attron(v->attr);
    draw_w(top + y, x0 + v->indent, v->w, v->n, width - v->indent);
    attroff(v->attr);
  }
  if (c->scroll > 0) {
    char more[64];

    snprintf(more, sizeof more, "··· %d more lines below (PgDn) ···", c->scroll);
    move(top + rows - 1, x0);
    clrtoeol();
    attron(COLOR_PAIR(PAIR_DIM) | A_BOLD);
    draw_s(top + rows - 1, x0, more, width);
    attroff(COLOR_PAIR(PAIR_DIM) | A_BOLD);
  }
  vl_free(&L);
}

static void draw_status(struct app *a, int y, int W)
{
  char line[512], t[32], q[96] = "";
  enum hc_state st = a->conn ? hc_conn_state(a->conn) : HC_STATE_IDLE;
  const char *conn;

  switch (st) {
  case HC_STATE_ONLINE: conn = hc_conn_synced(a->conn) ? "online" : "online (syncing)"; break;
  case HC_STATE_CONNECTING: conn = "connecting"; break;
  case HC_STATE_OFFLINE: conn = "OFFLINE (reconnecting)"; break;
  case HC_STATE_STOPPED: conn = "OFFLINE (stopped)"; break;
  default: conn = "starting"; break;
  }
  if (a->in_quiet) {
    if (a->quiet_until) {
      ui_format_time(a->quiet_until, t, sizeof t);
      snprintf(q, sizeof q, " · quiet hours until %s", t);
    } else {
      snprintf(q, sizeof q, " · quiet hours");
    }
  } else if (a->quiet_next) {
    ui_format_time(a->quiet_next, t, sizeof t);
    snprintf(q, sizeof q, " · quiet from %s", t);
  }
  snprintf(line, sizeof line, " %s · %s%s · outbox %zu · F1 help", conn,
           a->m.my_login ? a->m.my_login : a->login, q,
           a->conn ? hc_outbox_count(a->conn) : (size_t)0);
  attron(A_REVERSE | (st == HC_STATE_ONLINE ? 0 : COLOR_PAIR(PAIR_STATUS_OFF)));
  mvhline(y, 0, ' ', W);
  draw_s(y, 0, line, W);
  attroff(A_REVERSE | COLOR_PAIR(PAIR_STATUS_OFF));
}

static void draw_input(struct app *a, int y, int W)
{
  const char *prompt = a->secret ? "Password: " : "> ";
  int pw = (int)strlen(prompt), width = W - pw, col;

  move(y, 0);
  clrtoeol();
  mvaddstr(y, 0, prompt);
  if (width < 2)
    return;
  if (a->secret) {
    move(y, pw);
    return;                          /* nothing of a password is shown */
  }
  col = el_view(&a->input, width);
  draw_w(y, pw, a->input.buf + a->input.scroll,
         a->input.len - a->input.scroll, width);
  move(y, pw + col);
}

void ui_draw(struct app *a)
{
  int H, W, body_top = 1, body_rows, x0 = 0;

  getmaxyx(stdscr, H, W);
  a->dirty = false;
  erase();
  if (H < 5 || W < 10) {
    mvaddstr(0, 0, "terminal too small");
    refresh();
    return;
  }
  body_rows = H - 4;
  draw_top(a, W);
  if (W >= LIST_MIN_COLS) {
    draw_list(a, body_top, body_rows);
    x0 = LIST_WIDTH;
  }
  if (a->ov != OV_NONE)
    draw_overlay(a, body_top, x0, body_rows, W - x0);
  else
    draw_pane(a, body_top, x0, body_rows, W - x0);
  attron(A_BOLD);
  draw_s(H - 3, 0, a->notice, W);
  attroff(A_BOLD);
  draw_status(a, H - 2, W);
  draw_input(a, H - 1, W);
  refresh();
}

int ui_start(struct app *a)
{
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    fprintf(stderr, "herald: needs a terminal (for scripts, use heraldctl)\n");
    return -ENOTTY;
  }
  initscr();
  raw();
  noecho();
  nonl();
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  set_escdelay(25);
  if (has_colors()) {
    start_color();
    use_default_colors();
    init_pair(PAIR_BANNER, COLOR_RED, -1);
    init_pair(PAIR_DIM, COLOR_CYAN, -1);
    init_pair(PAIR_MINE, COLOR_GREEN, -1);
    init_pair(PAIR_STATUS_OFF, COLOR_YELLOW, -1);
  }
  keys_start(a);
  a->handles_open = true;
  a->dirty = true;
  ui_draw(a);
  return 0;
}

void ui_stop(struct app *a)
{
  if (a->handles_open) {
    keys_stop(a);
    a->handles_open = false;
    endwin();
  }
  ov_free(a);                     /* an unread notice shows again */
}
