/*
 * cache.c — the offline cache: the model in the file "herald-cache" of the
 * state directory, next to the client library's outbox, cursors and token
 * (the directory is 0700 and locked by the library while herald runs).
 *
 * What is kept: who I am, users (names for senders), conversations with
 * their read markers, the newest HERALD_CACHE_PER_CONV messages of each
 * (with receipts and the board of my DINGs), and DINGs waiting for my
 * acknowledgement. Unsent messages are not here: they are the library's
 * outbox, which is fsync'd on every send.
 *
 * Format (text, one record per line, strings as LEN:BYTES so that any
 * UTF-8, newlines included, round-trips):
 *     herald-cache 1
 *     me UID ROLE LEN:login LEN:name
 *     user UID LEN:login LEN:name
 *     conv ID TYPE LAST READ MEMBERS NO_OLDER LEN:title
 *     msg CONV SEQ FROM TS KIND TRACKED RD TOTAL URG ALL DING_N LEN:body
 *     row CONV SEQ UID ACKED          (after its msg)
 *     ding CONV SEQ FROM URG ABOUT
 *     card ID CONV SEQ VER LEN:state  (after the msgs; state: JSON text)
 *     shown CONV                      (the conversation on screen)
 * The file is replaced atomically (temporary file, fsync, rename, fsync of
 * the directory), so a crash leaves the old or the new cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herald_int.h"

#define CACHE_FILE "herald-cache"
#define CACHE_MAGIC "herald-cache 1\n"

/* ---- formatting ---- */

struct sbuf {
  char *p;
  size_t len, cap;
  bool oom;
};

static void sb_grow(struct sbuf *b, size_t more)
{
  char *p;
  size_t cap;

  if (b->oom || b->len + more + 1 <= b->cap)
    return;
  cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more + 1)
    cap *= 2;
  if (!(p = realloc(b->p, cap))) {
    b->oom = true;
    return;
  }
  b->p = p;
  b->cap = cap;
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  sb_grow(b, (size_t)n);
  if (b->oom)
    return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static void sb_str(struct sbuf *b, const char *s, size_t n)
{
  sb_printf(b, " %zu:", n);
  sb_grow(b, n);
  if (b->oom)
    return;
  if (n)
    memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

int cache_format(const struct model *m, char **out, size_t *len)
{
  struct sbuf b = {0};

  sb_printf(&b, CACHE_MAGIC);
  if (m->me) {
    sb_printf(&b, "me %" PRIu64 " %d", m->me, (int)m->role);
    sb_str(&b, m->my_login ? m->my_login : "", m->my_login ? strlen(m->my_login) : 0);
    sb_str(&b, m->my_name ? m->my_name : "", m->my_name ? strlen(m->my_name) : 0);
    sb_printf(&b, "\n");
  }
  for (size_t i = 0; i < m->nusers; i++) {
    sb_printf(&b, "user %" PRIu64, m->users[i].uid);
    sb_str(&b, m->users[i].login, strlen(m->users[i].login));
    sb_str(&b, m->users[i].name, strlen(m->users[i].name));
    sb_printf(&b, "\n");
  }
  for (size_t i = 0; i < m->nconvs; i++) {
    const struct hconv *c = &m->convs[i];
    size_t first = c->n > HERALD_CACHE_PER_CONV ? c->n - HERALD_CACHE_PER_CONV : 0;

    sb_printf(&b, "conv %" PRIu64 " %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %d",
              c->id, (int)c->type, c->last, c->read_upto, c->members,
              first == 0 && c->no_older);
    sb_str(&b, c->title ? c->title : "", c->title ? strlen(c->title) : 0);
    sb_printf(&b, "\n");
    for (size_t k = first; k < c->n; k++) {
      const struct hmsg *x = &c->msgs[k];

      sb_printf(&b, "msg %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                    " %d %d %" PRIu64 " %" PRIu64 " %d %d %" PRIu64,
                c->id, x->seq, x->from, x->ts, (int)x->kind, x->tracked,
                x->rd, x->total, (int)x->urg, x->ding_all, x->ding_n);
      sb_str(&b, x->body, x->len);
      sb_printf(&b, "\n");
      for (size_t r = 0; r < x->nrows; r++)
        sb_printf(&b, "row %" PRIu64 " %" PRIu64 " %" PRIu64 " %d\n", c->id,
                  x->seq, x->rows[r].uid, x->rows[r].acked);
    }
  }
  for (size_t i = 0; i < m->ncards; i++) {
    const struct hcard *k = &m->cards[i];
    char *st = k->state ? json_dumps(k->state, JSON_COMPACT) : NULL;

    if (!st) {
      b.oom = b.oom || k->state;
      continue;
    }
    sb_printf(&b, "card %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64, k->id,
              k->conv, k->seq, k->ver);
    sb_str(&b, st, strlen(st));
    sb_printf(&b, "\n");
    free(st);
  }
  for (size_t i = 0; i < m->nbanners; i++) {
    const struct hbanner *d = &m->banners[i];

    sb_printf(&b, "ding %" PRIu64 " %" PRIu64 " %" PRIu64 " %d %" PRIu64 "\n",
              d->conv, d->seq, d->from, (int)d->urg, d->about);
  }
  if (m->shown)
    sb_printf(&b, "shown %" PRIu64 "\n", m->shown);
  if (b.oom) {
    free(b.p);
    return -ENOMEM;
  }
  *out = b.p;
  *len = b.len;
  return 0;
}

/* ---- parsing ---- */

struct rd {
  const char *p, *end;
  bool bad;
};

static void skip_sp(struct rd *r)
{
  while (r->p < r->end && *r->p == ' ')
    r->p++;
}

static uint64_t rd_u64(struct rd *r)
{
  uint64_t v = 0;
  bool any = false;

  skip_sp(r);
  while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
    uint64_t d = (uint64_t)(*r->p - '0');

    if (v > (UINT64_MAX - d) / 10) {
      r->bad = true;
      return 0;
    }
    v = v * 10 + d;
    r->p++;
    any = true;
  }
  if (!any)
    r->bad = true;
  return v;
}

/* LEN:BYTES; points into the text. */
static const char *rd_str(struct rd *r, size_t *len)
{
  uint64_t n = rd_u64(r);
  const char *s;

  if (r->bad || r->p >= r->end || *r->p != ':' ||
      n > (uint64_t)(r->end - r->p - 1)) {
    r->bad = true;
    *len = 0;
    return "";
  }
  s = ++r->p;
  r->p += n;
  *len = (size_t)n;
  return s;
}

static bool rd_word(struct rd *r, const char *w)
{
  size_t n = strlen(w);

  if ((size_t)(r->end - r->p) > n && memcmp(r->p, w, n) == 0 && r->p[n] == ' ') {
    r->p += n;
    return true;
  }
  return false;
}

static void rd_eol(struct rd *r)
{
  skip_sp(r);
  if (r->p < r->end && *r->p == '\n')
    r->p++;
  else
    r->bad = true;
}

static char *dup_or_null(const char *s, size_t n)
{
  char *d;

  if (n == 0)
    return NULL;
  if ((d = malloc(n + 1))) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

int cache_parse(struct model *m, const char *text, size_t len)
{
  struct rd r = {text, text + len, false};
  size_t ml = strlen(CACHE_MAGIC);

  if (len < ml || memcmp(text, CACHE_MAGIC, ml) != 0)
    return -EBADMSG;
  r.p += ml;
  while (r.p < r.end && !r.bad) {
    if (rd_word(&r, "me")) {
      size_t ll, nl;
      const char *l, *n;

      m->me = rd_u64(&r);
      m->role = (enum proto_role)rd_u64(&r);
      l = rd_str(&r, &ll);
      n = rd_str(&r, &nl);
      if (!r.bad) {
        free(m->my_login);
        free(m->my_name);
        m->my_login = dup_or_null(l, ll);
        m->my_name = dup_or_null(n, nl);
      }
    } else if (rd_word(&r, "user")) {
      size_t ll, nl;
      uint64_t uid = rd_u64(&r);
      const char *l = rd_str(&r, &ll), *n = rd_str(&r, &nl);

      if (!r.bad && model_user_set(m, uid, l, ll, n, nl) != 0)
        return -ENOMEM;
    } else if (rd_word(&r, "conv")) {
      uint64_t id = rd_u64(&r), type = rd_u64(&r), last = rd_u64(&r),
               rdu = rd_u64(&r), mem = rd_u64(&r), no_older = rd_u64(&r);
      size_t tl;
      const char *t = rd_str(&r, &tl);
      struct hconv *c;

      if (r.bad || id == 0 || type > PROTO_CONV_DIRECT)
        break;
      if (!(c = model_conv_add(m, id)))
        return -ENOMEM;
      c->type = (enum proto_conv_type)type;
      c->last = last;
      c->read_upto = rdu;
      c->members = mem;
      c->no_older = no_older != 0;
      free(c->title);
      c->title = dup_or_null(t, tl);
    } else if (rd_word(&r, "msg")) {
      struct proto_msg pm;
      struct hconv *c;
      struct hmsg *x;
      uint64_t conv = rd_u64(&r);

      memset(&pm, 0, sizeof pm);
      pm.conv = conv;
      pm.seq = rd_u64(&r);
      pm.from = rd_u64(&r);
      pm.ts = rd_u64(&r);
      pm.kind = (enum proto_kind)rd_u64(&r);
      pm.tracked = rd_u64(&r) != 0;
      {
        uint64_t rdc = rd_u64(&r), total = rd_u64(&r);

        pm.urg = (enum proto_urgency)rd_u64(&r);
        pm.all = rd_u64(&r) != 0;
        pm.nto = (size_t)rd_u64(&r);
        pm.body.p = rd_str(&r, &pm.body.len);
        if (r.bad || pm.seq == 0 || pm.kind > PROTO_KIND_CARD ||
            pm.urg > PROTO_URG_CRITICAL || !(c = model_conv(m, conv)))
          break;
        if ((x = model_msg_add(c, &pm, 0))) {
          x->rd = rdc;
          x->total = total;
        }
      }
    } else if (rd_word(&r, "row")) {
      uint64_t conv = rd_u64(&r), seq = rd_u64(&r), uid = rd_u64(&r),
               acked = rd_u64(&r);
      struct hconv *c = model_conv(m, conv);
      struct hmsg *x = c ? model_msg(c, seq) : NULL;

      if (!r.bad && x)
        model_ding_row(x, uid, acked != 0);
    } else if (rd_word(&r, "ding")) {
      struct hbanner b;

      memset(&b, 0, sizeof b);
      b.conv = rd_u64(&r);
      b.seq = rd_u64(&r);
      b.from = rd_u64(&r);
      b.urg = (enum proto_urgency)rd_u64(&r);
      b.about = rd_u64(&r);
      if (!r.bad && model_banner_add(m, &b) != 0)
        return -ENOMEM;
    } else if (rd_word(&r, "card")) {
      uint64_t id = rd_u64(&r), conv = rd_u64(&r), seq = rd_u64(&r),
               ver = rd_u64(&r);
      size_t sl;
      const char *st = rd_str(&r, &sl);
      int rc;

      if (r.bad || id == 0)
        break;
      if ((rc = model_card_set(m, id, conv, seq, ver, st, sl)) == -ENOMEM)
        return rc;
    } else if (rd_word(&r, "shown")) {
      m->shown = rd_u64(&r);
    } else {
      r.bad = true;
      break;
    }
    rd_eol(&r);
  }
  return r.bad ? -EBADMSG : 0;
}

/* ---- files ---- */

static int join(char *out, size_t cap, const char *dir, const char *name)
{
  int n = snprintf(out, cap, "%s/%s", dir, name);

  return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int cache_write_file(const char *dir, const char *name, const void *data,
                     size_t len)
{
  char path[4200], tmp[4220];
  const char *p = data;
  int fd, dfd, rc = 0;

  if (join(path, sizeof path, dir, name) || join(tmp, sizeof tmp, dir, name))
    return -ENAMETOOLONG;
  strcat(tmp, ".tmp");
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return -errno;
  while (len > 0) {
    ssize_t w = write(fd, p, len);

    if (w < 0) {
      if (errno == EINTR)
        continue;
      rc = -errno;
      break;
    }
    p += w;
    len -= (size_t)w;
  }
  if (rc == 0 && fsync(fd) != 0)
    rc = -errno;
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -errno;
  if (rc != 0) {
    unlink(tmp);
    return rc;
  }
  if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;
}

int cache_save(const struct model *m, const char *dir)
{
  char *text;
  size_t len;
  int rc;

  if ((rc = cache_format(m, &text, &len)) != 0)
    return rc;
  rc = cache_write_file(dir, CACHE_FILE, text, len);
  free(text);
  return rc;
}

int cache_load(struct model *m, const char *dir)
{
  char path[4200];
  struct stat st;
  char *text;
  FILE *f;
  int rc;

  if (join(path, sizeof path, dir, CACHE_FILE))
    return -ENAMETOOLONG;
  if (!(f = fopen(path, "rbe")))
    return errno == ENOENT ? 0 : -errno;
  if (fstat(fileno(f), &st) != 0 || st.st_size > (64 << 20)) {
    fclose(f);
    return -EFBIG;
  }
  if (!(text = malloc((size_t)st.st_size + 1))) {
    fclose(f);
    return -ENOMEM;
  }
  if (fread(text, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
    rc = -EIO;
  } else {
    text[st.st_size] = '\0';
    rc = cache_parse(m, text, (size_t)st.st_size);
  }
  free(text);
  fclose(f);
  return rc;
}

bool cache_flag_get(const char *dir, const char *name)
{
  char path[4200];

  return join(path, sizeof path, dir, name) == 0 && access(path, F_OK) == 0;
}

int cache_flag_set(const char *dir, const char *name)
{
  static const char text[] = "shown\n";

  return cache_write_file(dir, name, text, sizeof text - 1);
}
