/*
 * test_text.c — herald's text handling and input line: UTF-8, clusters,
 * display widths, wrapping by width, and editing that moves over and
 * deletes whole characters (CJK, emoji, combining marks, ZWJ sequences).
 */
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "check.h"
#include "editline.h"
#include "text.h"

static void utf8(void)
{
  if (!setlocale(LC_ALL, "C.UTF-8"))
    CHECK_FAIL("no C.UTF-8 locale");
}

TEST(decode_encode_round_trip)
{
  const char *s = "a你😀é\xcc\x81z";
  wchar_t *w;
  char *back;
  size_t n;

  utf8();
  n = tx_decode(s, strlen(s), &w);
  CHECK_UINT(n, ==, 6);
  CHECK_UINT(w[1], ==, 0x4f60);
  CHECK_UINT(w[2], ==, 0x1f600);
  CHECK_UINT(tx_encode(w, n, &back), ==, strlen(s));
  CHECK_STR(back, s);
  free(w);
  free(back);
}

TEST(decode_malformed)
{
  /* A lone continuation, an overlong form, a surrogate, a truncated
   * sequence: each becomes U+FFFD and decoding goes on. */
  const char s[] = "\x80" "a" "\xc0\xaf" "b" "\xed\xa0\x80" "c" "\xe4\xbd";
  wchar_t *w;
  size_t n = tx_decode(s, sizeof s - 1, &w);

  CHECK(n >= 7);
  CHECK_UINT(w[0], ==, 0xfffd);
  CHECK_UINT(w[1], ==, 'a');
  CHECK_UINT(w[n - 1], ==, 0xfffd);
  free(w);
}

TEST(widths)
{
  utf8();
  CHECK_INT(tx_width_utf8("abc", 3), ==, 3);
  CHECK_INT(tx_width_utf8("你好", 6), ==, 4);
  CHECK_INT(tx_width_utf8("한국어", 9), ==, 6);
  CHECK_INT(tx_width_utf8("カタカナ", 12), ==, 8);
  CHECK_INT(tx_width_utf8("😀", 4), ==, 2);
  CHECK_INT(tx_width_utf8("e\xcc\x81", 3), ==, 1);          /* e + acute */
  CHECK_INT(tx_width_utf8("\xe2\x9d\xa4\xef\xb8\x8f", 6), >=, 1); /* heart+VS16 */
}

TEST(clusters)
{
  /* e + combining acute | 👍 + skin tone | 👩 ZWJ 💻 | 🇭🇰 flag | x */
  const char *s = "e\xcc\x81" "👍🏽" "👩\xe2\x80\x8d💻" "🇭🇰" "x";
  wchar_t *w;
  size_t n = tx_decode(s, strlen(s), &w), i = 0, k = 0;
  size_t ends[8];

  utf8();
  while (i < n && k < 8) {
    i = tx_next(w, n, i);
    ends[k++] = i;
  }
  CHECK_UINT(k, ==, 5);
  CHECK_UINT(ends[0], ==, 2);
  CHECK_UINT(ends[1], ==, 4);
  CHECK_UINT(ends[2], ==, 7);
  CHECK_UINT(ends[3], ==, 9);
  CHECK_UINT(ends[4], ==, 10);
  /* And backwards. */
  CHECK_UINT(tx_prev(w, n, 10), ==, 9);
  CHECK_UINT(tx_prev(w, n, 9), ==, 7);
  CHECK_UINT(tx_prev(w, n, 7), ==, 4);
  CHECK_UINT(tx_prev(w, n, 4), ==, 2);
  CHECK_UINT(tx_prev(w, n, 2), ==, 0);
  free(w);
}

static size_t wrap(const char *s, int width, char out[][256], size_t max)
{
  wchar_t *w;
  size_t n = tx_decode(s, strlen(s), &w);
  struct tx_line lines[32];
  size_t k = tx_wrap(w, n, width, lines, 32);

  for (size_t i = 0; i < k && i < max; i++) {
    char *u;

    tx_encode(w + lines[i].start, lines[i].end - lines[i].start, &u);
    snprintf(out[i], 256, "%s", u);
    free(u);
  }
  free(w);
  return k;
}

TEST(wrap_by_display_width)
{
  char l[8][256];

  utf8();
  /* CJK: 5 characters of 2 columns in 10 columns, no spaces needed. */
  CHECK_UINT(wrap("一二三四五六七八九十十一", 10, l, 8), ==, 3);
  CHECK_STR(l[0], "一二三四五");
  CHECK_STR(l[1], "六七八九十");
  CHECK_STR(l[2], "十一");
  /* A wide character never straddles the edge: 9 columns hold 4. */
  CHECK_UINT(wrap("一二三四五", 9, l, 8), ==, 2);
  CHECK_STR(l[0], "一二三四");
  /* Words wrap at spaces, which are dropped at the break. */
  CHECK_UINT(wrap("hello big world", 10, l, 8), ==, 2);
  CHECK_STR(l[0], "hello big");
  CHECK_STR(l[1], "world");
  /* A word longer than the line is cut. */
  CHECK_UINT(wrap("abcdefghijkl", 5, l, 8), ==, 3);
  CHECK_STR(l[2], "kl");
  /* Line breaks are kept; an empty text is one empty line. */
  CHECK_UINT(wrap("a\n\nb", 10, l, 8), ==, 3);
  CHECK_STR(l[1], "");
  CHECK_UINT(wrap("", 10, l, 8), ==, 1);
  /* An emoji with a skin tone is never split (the two show side by side
   * where a terminal does not join them: 4 columns). */
  CHECK_UINT(wrap("👍🏽👍🏽👍🏽", 4, l, 8), ==, 3);
  CHECK_STR(l[0], "👍🏽");
  /* Wider than the line: one cluster per line, and the wrap ends. */
  CHECK_UINT(wrap("👍🏽👍🏽", 2, l, 8), ==, 2);
  CHECK_STR(l[1], "👍🏽");
  CHECK_UINT(wrap("e\xcc\x81" "e\xcc\x81" "e\xcc\x81", 2, l, 8), ==, 2);
  CHECK_STR(l[0], "e\xcc\x81" "e\xcc\x81");
}

TEST(fit)
{
  wchar_t out[64];

  utf8();
  CHECK_INT(tx_fit("你好世界", strlen("你好世界"), 5, out, 64), ==, 4);
  CHECK(wcscmp(out, L"你好") == 0);
  CHECK_INT(tx_fit("a\tb", 3, 10, out, 64), ==, 3);
  CHECK(wcscmp(out, L"a?b") == 0);
}

static char *line_of(struct el *e)
{
  return el_take(e, false);
}

static void type(struct el *e, const wchar_t *s)
{
  while (*s)
    el_insert(e, *s++);
}

TEST(editline_moves_over_whole_characters)
{
  struct el e;
  char *s;

  utf8();
  el_init(&e);
  type(&e, L"你好世界");
  el_left(&e);
  el_left(&e);
  el_backspace(&e);                 /* deletes 好 */
  el_insert(&e, L'们');
  s = line_of(&e);
  CHECK_STR(s, "你们世界");
  free(s);
  el_home(&e);
  el_delete(&e);                    /* deletes 你 */
  el_end(&e);
  el_backspace(&e);                 /* deletes 界 */
  s = line_of(&e);
  CHECK_STR(s, "们世");
  free(s);
  el_cleanup(&e);
}

TEST(editline_clusters)
{
  struct el e;
  char *s;

  utf8();
  el_init(&e);
  /* x, e + combining acute, 👍 + skin tone, y */
  type(&e, L"xe\x301\x1f44d\x1f3fdy");
  el_left(&e);                      /* before y */
  el_backspace(&e);                 /* the whole thumbs-up with its tone */
  s = line_of(&e);
  CHECK_STR(s, "xe\xcc\x81y");
  free(s);
  el_left(&e);                      /* before e + acute */
  CHECK_UINT(e.cur, ==, 1);
  el_delete(&e);                    /* both code points */
  s = line_of(&e);
  CHECK_STR(s, "xy");
  free(s);
  /* A combining mark typed after a letter joins it: the cursor stays at
   * a boundary, after the cluster. */
  el_end(&e);
  el_insert(&e, L'e');
  el_insert(&e, 0x301);
  CHECK_UINT(e.cur, ==, e.len);
  el_backspace(&e);
  s = line_of(&e);
  CHECK_STR(s, "xy");
  free(s);
  el_cleanup(&e);
}

TEST(editline_history)
{
  struct el e;
  char *s;

  utf8();
  el_init(&e);
  type(&e, L"first");
  free(el_take(&e, true));
  type(&e, L"第二");
  free(el_take(&e, true));
  type(&e, L"draft");
  el_hist_up(&e);
  s = line_of(&e);
  CHECK_STR(s, "第二");
  free(s);
  el_hist_up(&e);
  el_hist_up(&e);                   /* stays at the oldest */
  s = line_of(&e);
  CHECK_STR(s, "first");
  free(s);
  el_hist_down(&e);
  el_hist_down(&e);                 /* back to the draft */
  s = line_of(&e);
  CHECK_STR(s, "draft");
  free(s);
  s = el_take(&e, true);
  CHECK_STR(s, "draft");
  free(s);
  CHECK_UINT(e.len, ==, 0);
  CHECK_UINT(e.nhist, ==, 3);
  el_cleanup(&e);
}

TEST(editline_view_scrolls_by_width)
{
  struct el e;
  int col;

  utf8();
  el_init(&e);
  type(&e, L"一二三四五六七八九十");   /* 20 columns */
  col = el_view(&e, 9);
  /* The cursor at the end must show: at most 9 columns, the last one
   * for the cursor cell. */
  CHECK_INT(col, <=, 8);
  CHECK_INT(tx_width(e.buf + e.scroll, e.len - e.scroll), ==, col);
  el_home(&e);
  CHECK_INT(el_view(&e, 9), ==, 0);
  CHECK_UINT(e.scroll, ==, 0);
  el_cleanup(&e);
}

TEST_MAIN()
