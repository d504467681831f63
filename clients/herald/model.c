/*
 * model.c — what the client knows (see herald_int.h): plain arrays, small
 * enough to scan (a person has tens of conversations and the cache keeps
 * a few hundred messages of each).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald_int.h"

void model_init(struct model *m)
{
  memset(m, 0, sizeof *m);
}

static void msg_free(struct hmsg *x)
{
  free(x->body);
  free(x->rows);
}

static void conv_free(struct hconv *c)
{
  for (size_t i = 0; i < c->n; i++)
    msg_free(&c->msgs[i]);
  free(c->msgs);
  free(c->title);
}

void model_cleanup(struct model *m)
{
  for (size_t i = 0; i < m->nconvs; i++)
    conv_free(&m->convs[i]);
  free(m->convs);
  for (size_t i = 0; i < m->nusers; i++) {
    free(m->users[i].login);
    free(m->users[i].name);
  }
  free(m->users);
  for (size_t i = 0; i < m->npend; i++)
    free(m->pend[i].body);
  free(m->pend);
  free(m->banners);
  for (size_t i = 0; i < m->ncards; i++)
    json_decref(m->cards[i].state);
  free(m->cards);
  free(m->my_login);
  free(m->my_name);
  memset(m, 0, sizeof *m);
}

struct hconv *model_conv(struct model *m, uint64_t id)
{
  for (size_t i = 0; i < m->nconvs; i++)
    if (m->convs[i].id == id)
      return &m->convs[i];
  return NULL;
}

struct hconv *model_conv_add(struct model *m, uint64_t id)
{
  struct hconv *c = model_conv(m, id), *v;

  if (c)
    return c;
  if (!(v = realloc(m->convs, (m->nconvs + 1) * sizeof *v)))
    return NULL;
  m->convs = v;
  c = &m->convs[m->nconvs++];
  memset(c, 0, sizeof *c);
  c->id = id;
  return c;
}

struct hmsg *model_msg(struct hconv *c, uint64_t seq)
{
  size_t lo = 0, hi = c->n;

  while (lo < hi) {
    size_t mid = (lo + hi) / 2;

    if (c->msgs[mid].seq == seq)
      return &c->msgs[mid];
    if (c->msgs[mid].seq < seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

struct hmsg *model_msg_add(struct hconv *c, const struct proto_msg *pm,
                           size_t keep)
{
  size_t lo = 0, hi = c->n;
  struct hmsg *x;

  while (lo < hi) {
    size_t mid = (lo + hi) / 2;

    if (c->msgs[mid].seq == pm->seq)
      return NULL;
    if (c->msgs[mid].seq < pm->seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (keep && c->n >= keep && lo == 0)
    return NULL;                   /* older than everything kept */
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    struct hmsg *v = realloc(c->msgs, cap * sizeof *v);

    if (!v)
      return NULL;
    c->msgs = v;
    c->cap = cap;
  }
  memmove(&c->msgs[lo + 1], &c->msgs[lo], (c->n - lo) * sizeof *c->msgs);
  x = &c->msgs[lo];
  memset(x, 0, sizeof *x);
  if (!(x->body = malloc(pm->body.len + 1))) {
    memmove(&c->msgs[lo], &c->msgs[lo + 1], (c->n - lo) * sizeof *c->msgs);
    return NULL;
  }
  if (pm->body.len)
    memcpy(x->body, pm->body.p, pm->body.len);
  x->body[pm->body.len] = '\0';
  x->len = pm->body.len;
  x->seq = pm->seq;
  x->from = pm->from;
  x->ts = pm->ts;
  x->kind = pm->kind;
  x->tracked = pm->tracked;
  x->urg = pm->urg;
  x->ding_all = pm->all;
  x->ding_n = pm->nto;
  x->card = pm->card;
  c->n++;
  if (pm->seq > c->last)
    c->last = pm->seq;
  if (keep && c->n > keep) {
    /* Drop the oldest; x moves down by one. */
    msg_free(&c->msgs[0]);
    memmove(&c->msgs[0], &c->msgs[1], (c->n - 1) * sizeof *c->msgs);
    c->n--;
    x--;
    c->no_older = false;
  }
  return x;
}

uint64_t model_unread(const struct model *m, const struct hconv *c)
{
  uint64_t n, mine = 0;

  if (c->last <= c->read_upto)
    return 0;
  n = c->last - c->read_upto;
  for (size_t i = 0; i < c->n; i++)
    if (c->msgs[i].seq > c->read_upto && c->msgs[i].from == m->me)
      mine++;
  return n > mine ? n - mine : 0;
}

static char *dupn(const char *s, size_t n)
{
  char *d = malloc(n + 1);

  if (d) {
    if (n)
      memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

int model_user_set(struct model *m, uint64_t uid, const char *login,
                   size_t llen, const char *name, size_t nlen)
{
  struct huser *u = NULL, *v;
  char *l = dupn(login ? login : "", llen), *n = dupn(name ? name : "", nlen);

  if (!l || !n) {
    free(l);
    free(n);
    return -1;
  }
  for (size_t i = 0; i < m->nusers; i++)
    if (m->users[i].uid == uid)
      u = &m->users[i];
  if (!u) {
    if (!(v = realloc(m->users, (m->nusers + 1) * sizeof *v))) {
      free(l);
      free(n);
      return -1;
    }
    m->users = v;
    u = &m->users[m->nusers++];
    memset(u, 0, sizeof *u);
    u->uid = uid;
  }
  free(u->login);
  free(u->name);
  u->login = l;
  u->name = n;
  return 0;
}

const struct huser *model_user(const struct model *m, uint64_t uid)
{
  for (size_t i = 0; i < m->nusers; i++)
    if (m->users[i].uid == uid)
      return &m->users[i];
  return NULL;
}

struct huser *model_user_by_login(struct model *m, const char *login)
{
  for (size_t i = 0; i < m->nusers; i++)
    if (strcasecmp(m->users[i].login, login) == 0)
      return &m->users[i];
  return NULL;
}

const char *model_name(const struct model *m, uint64_t uid, char *buf,
                       size_t len)
{
  const struct huser *u = model_user(m, uid);

  if (u && *u->name)
    return u->name;
  if (u && *u->login)
    return u->login;
  if (uid == m->me && m->my_name)
    return m->my_name;
  snprintf(buf, len, "#%" PRIu64, uid);
  return buf;
}

const char *model_title(const struct model *m, const struct hconv *c,
                        char *buf, size_t len)
{
  if (c->title && *c->title)
    return c->title;
  if (c->type == PROTO_CONV_DIRECT) {
    /* The other party: a sender in it who is not me. */
    for (size_t i = c->n; i-- > 0;)
      if (c->msgs[i].from != m->me) {
        char tmp[64];
        const char *n = model_name(m, c->msgs[i].from, tmp, sizeof tmp);

        snprintf(buf, len, "@%s", n);
        return buf;
      }
    snprintf(buf, len, "direct #%" PRIu64, c->id);
    return buf;
  }
  snprintf(buf, len, "#%" PRIu64, c->id);
  return buf;
}

int model_pend_add(struct model *m, uint64_t oid, uint64_t conv,
                   const char *cmid, const char *body, size_t len, bool ding)
{
  struct hpend *v, *p;

  for (size_t i = 0; i < m->npend; i++)
    if (m->pend[i].oid == oid)
      return 0;
  if (!(v = realloc(m->pend, (m->npend + 1) * sizeof *v)))
    return -1;
  m->pend = v;
  p = &m->pend[m->npend];
  memset(p, 0, sizeof *p);
  if (!(p->body = dupn(body, len)))
    return -1;
  p->len = len;
  p->oid = oid;
  p->conv = conv;
  p->ding = ding;
  snprintf(p->cmid, sizeof p->cmid, "%s", cmid ? cmid : "");
  m->npend++;
  return 0;
}

static void pend_drop(struct model *m, size_t i)
{
  free(m->pend[i].body);
  memmove(&m->pend[i], &m->pend[i + 1], (m->npend - i - 1) * sizeof *m->pend);
  m->npend--;
}

void model_pend_remove_oid(struct model *m, uint64_t oid)
{
  for (size_t i = 0; i < m->npend; i++)
    if (m->pend[i].oid == oid) {
      pend_drop(m, i);
      return;
    }
}

void model_pend_remove_cmid(struct model *m, const char *cmid, size_t len)
{
  for (size_t i = 0; i < m->npend; i++)
    if (strlen(m->pend[i].cmid) == len && memcmp(m->pend[i].cmid, cmid, len) == 0) {
      pend_drop(m, i);
      return;
    }
}

struct hbanner *model_banner(struct model *m, uint64_t conv, uint64_t seq)
{
  for (size_t i = 0; i < m->nbanners; i++)
    if (m->banners[i].conv == conv && m->banners[i].seq == seq)
      return &m->banners[i];
  return NULL;
}

int model_banner_add(struct model *m, const struct hbanner *b)
{
  struct hbanner *v;

  if (model_banner(m, b->conv, b->seq))
    return 0;
  if (!(v = realloc(m->banners, (m->nbanners + 1) * sizeof *v)))
    return -1;
  m->banners = v;
  m->banners[m->nbanners++] = *b;
  return 0;
}

void model_banner_remove(struct model *m, uint64_t conv, uint64_t seq)
{
  for (size_t i = 0; i < m->nbanners; i++)
    if (m->banners[i].conv == conv && m->banners[i].seq == seq) {
      memmove(&m->banners[i], &m->banners[i + 1],
              (m->nbanners - i - 1) * sizeof *m->banners);
      m->nbanners--;
      return;
    }
}

bool model_ding_row(struct hmsg *msg, uint64_t uid, bool acked)
{
  struct hding_row *v;

  for (size_t i = 0; i < msg->nrows; i++)
    if (msg->rows[i].uid == uid) {
      msg->rows[i].acked = acked;
      return true;
    }
  if (!(v = realloc(msg->rows, (msg->nrows + 1) * sizeof *v)))
    return false;
  msg->rows = v;
  msg->rows[msg->nrows].uid = uid;
  msg->rows[msg->nrows].acked = acked;
  msg->nrows++;
  return true;
}

uint64_t model_ding_acked(const struct hmsg *msg)
{
  uint64_t n = 0;

  for (size_t i = 0; i < msg->nrows; i++)
    n += msg->rows[i].acked;
  return n;
}

uint64_t model_ding_total(const struct hconv *c, const struct hmsg *msg)
{
  uint64_t n = msg->ding_all ? (c->members > 0 ? c->members - 1 : 0)
                             : msg->ding_n;

  return n > msg->nrows ? n : msg->nrows;
}
