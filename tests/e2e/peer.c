/*
 * peer.c — the recording test client (see peer.h).
 */
#include "peer.h"
#include "check.h"
#include "e2e.h"

#include <stdlib.h>
#include <string.h>

static struct hc_ctx *ctx;

struct hc_ctx *peer_ctx(void)
{
  if (!ctx && hc_ctx_new(NULL, &ctx) != 0)
    CHECK_FAIL("hc_ctx_new failed");
  return ctx;
}

static void on_event(struct hc_conn *c, const struct hc_event *ev, void *arg)
{
  struct peer *p = arg;
  struct peer_msg *m;

  (void)c;
  switch (ev->type) {
  case HC_EV_STATE:
    p->state = ev->state;
    if (ev->state == HC_STATE_OFFLINE)
      p->offline++;
    break;
  case HC_EV_WELCOME:
    p->welcomes++;
    e2e_secret(hc_conn_token(p->c));   /* log hygiene (e2e.h) */
    break;
  case HC_EV_RECEIPT:
    p->receipts++;
    break;
  case HC_EV_SYNCED:
    p->synced++;
    break;
  case HC_EV_MSG:
    if (p->nmsgs == p->capmsgs) {
      p->capmsgs = p->capmsgs ? p->capmsgs * 2 : 256;
      p->msgs = realloc(p->msgs, p->capmsgs * sizeof(*p->msgs));
      CHECK(p->msgs != NULL);
    }
    m = &p->msgs[p->nmsgs++];
    memset(m, 0, sizeof(*m));
    m->conv = ev->msg->conv;
    m->seq = ev->msg->seq;
    m->from = ev->msg->from;
    m->ts = ev->msg->ts;
    if (ev->msg->cmid.p)
      snprintf(m->cmid, sizeof(m->cmid), "%.*s", (int)ev->msg->cmid.len,
               ev->msg->cmid.p);
    m->body = strndup(ev->msg->body.p ? ev->msg->body.p : "",
                      ev->msg->body.len);
    m->kind = ev->msg->kind;
    m->urg = ev->msg->urg;
    m->nto = ev->msg->nto;
    m->all = ev->msg->all;
    m->silent = ev->msg->silent;
    m->replay = ev->replay;
    break;
  case HC_EV_DING_ALERT:
    if (p->nalerts == p->capalerts) {
      p->capalerts = p->capalerts ? p->capalerts * 2 : 16;
      p->alerts = realloc(p->alerts, p->capalerts * sizeof(*p->alerts));
      CHECK(p->alerts != NULL);
    }
    p->alerts[p->nalerts++] = *ev->ding_alert;
    break;
  case HC_EV_DING_UPDATE:
    if (p->ndupd == p->capdupd) {
      p->capdupd = p->capdupd ? p->capdupd * 2 : 16;
      p->dupd = realloc(p->dupd, p->capdupd * sizeof(*p->dupd));
      CHECK(p->dupd != NULL);
    }
    p->dupd[p->ndupd++] = *ev->ding_update;
    break;
  case HC_EV_CARD_EVENT: {
    struct peer_card *k;
    if (p->ncards == p->capcards) {
      p->capcards = p->capcards ? p->capcards * 2 : 16;
      p->cards = realloc(p->cards, p->capcards * sizeof(*p->cards));
      CHECK(p->cards != NULL);
    }
    k = &p->cards[p->ncards++];
    memset(k, 0, sizeof(*k));
    k->card = ev->card_event->card;
    k->ver = ev->card_event->ver;
    k->actor = ev->card_event->actor;
    k->conv = ev->card_event->conv;
    k->seq = ev->card_event->seq;
    k->ts = ev->card_event->ts;
    k->fs = ev->card_event->fs;
    snprintf(k->ev, sizeof(k->ev), "%.*s", (int)ev->card_event->ev.len,
             ev->card_event->ev.p);
    k->payload = strndup(ev->card_event->payload.p ? ev->card_event->payload.p
                                                   : "",
                         ev->card_event->payload.len);
    break;
  }
  case HC_EV_REMIND:
    if (p->nreminds == p->capreminds) {
      p->capreminds = p->capreminds ? p->capreminds * 2 : 16;
      p->reminds = realloc(p->reminds, p->capreminds * sizeof(*p->reminds));
      CHECK(p->reminds != NULL);
    }
    p->reminds[p->nreminds++] = *ev->remind;
    break;
  case HC_EV_OUTBOX_DONE:
    p->acked++;
    break;
  case HC_EV_OUTBOX_FAILED:
    p->failed++;
    p->last_failed_err = ev->err;
    break;
  default:
    break;
  }
}

static bool is_synced(void *arg)
{
  struct peer *p = arg;
  return p->synced > 0;
}

struct peer *peer_new(const char *url, const char *login,
                      const char *state_dir, bool wait)
{
  return peer_new_urls(&url, 1, login, state_dir, wait);
}

struct peer *peer_new_urls(const char *const *urls, size_t nurls,
                           const char *login, const char *state_dir,
                           bool wait)
{
  struct peer *p = calloc(1, sizeof(*p));
  struct hc_conn_config cfg = {0};
  char pw[80];

  CHECK(p != NULL);
  snprintf(p->name, sizeof(p->name), "%s", login);
  snprintf(pw, sizeof(pw), "pw-%s", login);
  cfg.url = urls[0];
  cfg.more_urls = nurls > 1 ? urls + 1 : NULL;
  cfg.n_more_urls = nurls - 1;
  cfg.login = login;
  cfg.password = pw;
  cfg.state_dir = state_dir;
  cfg.reconnect_min_ms = 50;
  cfg.reconnect_max_ms = 500;
  cfg.on_event = on_event;
  cfg.arg = p;
  CHECK_INT(hc_conn_new(peer_ctx(), &cfg, &p->c), ==, 0);
  CHECK_INT(hc_conn_start(p->c), ==, 0);
  if (wait)
    peer_wait(is_synced, p, 30000, "first sync");
  return p;
}

void peer_free(struct peer *p)
{
  if (!p)
    return;
  hc_conn_free(p->c);
  for (size_t i = 0; i < p->nmsgs; i++)
    free(p->msgs[i].body);
  free(p->msgs);
  free(p->reminds);
  free(p->alerts);
  free(p->dupd);
  for (size_t i = 0; i < p->ncards; i++)
    free(p->cards[i].payload);
  free(p->cards);
  free(p);
}

size_t peer_count(const struct peer *p, uint64_t conv)
{
  size_t n = 0;
  for (size_t i = 0; i < p->nmsgs; i++)
    n += p->msgs[i].conv == conv;
  return n;
}

void peer_check_history(const struct peer *p, uint64_t conv, uint64_t n)
{
  uint64_t next = 1;

  for (size_t i = 0; i < p->nmsgs; i++) {
    if (p->msgs[i].conv != conv)
      continue;
    if (p->msgs[i].seq != next)
      CHECK_FAIL("%s: conversation %llu: got seq %llu where %llu was due",
                 p->name, (unsigned long long)conv,
                 (unsigned long long)p->msgs[i].seq,
                 (unsigned long long)next);
    next++;
  }
  if (next - 1 != n)
    CHECK_FAIL("%s: conversation %llu: received %llu messages, expected %llu",
               p->name, (unsigned long long)conv,
               (unsigned long long)(next - 1), (unsigned long long)n);
}

void peer_wait(bool (*fn)(void *), void *arg, int64_t timeout_ms,
               const char *what)
{
  if (hc_run_until(peer_ctx(), fn, arg, timeout_ms) != 0) {
    e2e_dump_logs();
    CHECK_FAIL("timed out waiting for %s", what);
  }
}

struct sync_req {
  bool done;
  int err;
  struct proto_frame *reply;
};

static void on_reply(struct hc_conn *c, int err, const struct proto_frame *reply,
                     void *arg)
{
  struct sync_req *r = arg;

  (void)c;
  r->done = true;
  r->err = err;
  if (r->reply && reply)
    CHECK_INT(proto_frame_copy(r->reply, reply), ==, 0);
}

static bool req_done(void *arg)
{
  return ((struct sync_req *)arg)->done;
}

int peer_request(struct peer *p, const struct proto_frame *req,
                 struct proto_frame *reply)
{
  struct sync_req r = {.reply = reply};
  int rc;

  if (reply)
    memset(reply, 0, sizeof(*reply));
  rc = hc_request(p->c, req, on_reply, &r, NULL);
  if (rc != 0)
    return rc;
  peer_wait(req_done, &r, 30000, "a reply");
  return r.err;
}

uint64_t peer_conv_create(struct peer *p, bool direct, const char *title,
                          const uint64_t *members, size_t n)
{
  struct proto_frame f, reply;
  uint64_t conv;

  proto_frame_init(&f, PROTO_T_CONV_CREATE);
  f.u.conv_create.type = direct ? PROTO_CONV_DIRECT : PROTO_CONV_GROUP;
  if (title)
    f.u.conv_create.title = (struct proto_str){title, strlen(title)};
  f.u.conv_create.members = members;
  f.u.conv_create.nmembers = n;
  CHECK_INT(peer_request(p, &f, &reply), ==, 0);
  conv = reply.u.result.conv;
  proto_frame_cleanup(&reply);
  CHECK(conv > 0);
  return conv;
}

int peer_read_at(struct peer *p, uint64_t conv, uint64_t seq, uint64_t at_ms)
{
  struct proto_frame f, reply;
  int rc;

  proto_frame_init(&f, PROTO_T_READ);
  f.u.read.conv = conv;
  f.u.read.seq = seq;
  f.u.read.at = at_ms;
  rc = peer_request(p, &f, &reply);
  proto_frame_cleanup(&reply);
  return rc;
}

int peer_who_read(struct peer *p, uint64_t conv, uint64_t seq,
                  struct proto_frame *reply)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_WHO_READ);
  f.u.who_read.conv = conv;
  f.u.who_read.seq = seq;
  return peer_request(p, &f, reply);
}

const struct proto_who_row *peer_who_row(const struct proto_frame *r,
                                         uint64_t uid)
{
  for (size_t i = 0; i < r->u.who_read_result.nrows; i++)
    if (r->u.who_read_result.rows[i].uid == uid)
      return &r->u.who_read_result.rows[i];
  return NULL;
}

static bool outbox_drained(void *arg)
{
  return hc_outbox_count(((struct peer *)arg)->c) == 0;
}

void peer_say(struct peer *p, uint64_t conv, const char *text)
{
  e2e_secret(text);                    /* log hygiene (e2e.h) */
  CHECK_INT(hc_send_text(p->c, conv, text, strlen(text), NULL, NULL), ==, 0);
  peer_wait(outbox_drained, p, 10000, "a message stored");
}
