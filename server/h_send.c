/*
 * h_send.c — send: check, group-commit, acknowledge, publish.
 *
 * Every send becomes a job on the writer pool, whose single thread takes
 * everything waiting (up to commit-batch messages) and stores it with one
 * store_send_batch() call: one transaction, seqs assigned per conversation
 * in order. Only after that commit is the sender acknowledged, and then the
 * message is published to the subscribed sessions. Because the one writer
 * commits batches in order and their done() callbacks run in order, each
 * conversation is published in seq order.
 *
 * A card (kind card) takes its own path: h_card.c / card.c.
 *
 * A DING is committed with its message (its recipients checked by the
 * database, per message); after the publish come its alerts (ding.c).
 *
 * Bots' HTTP posts and robot webhook calls take the same path
 * (srv_send_bot, send_int.h): a job without a session, whose outcome goes
 * to a callback instead of an ack frame. Every message of a bot, whichever
 * way it comes, counts against its rate limit (botrate_int.h).
 */
#include "botrate_int.h"
#include "dbpool_int.h"
#include "delivery_int.h"
#include "ding_int.h"
#include "dispatch_int.h"
#include "log_int.h"
#include "server_int.h"
#include "send_int.h"
#include "session_int.h"

#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sends waiting for the writer beyond this are refused with a retryable
 * TOO_MANY_REQUESTS: memory stays bounded when the database is slow. */
#define SEND_QUEUE_MAX 65536

struct send_job {
  struct srv_dbjob job;
  struct srv_server *srv;
  struct srv_session *s;       /* holds a reference; NULL: an HTTP caller */
  srv_send_cb cb;              /* without a session: told the outcome */
  void *cb_arg;
  uint64_t req;
  struct store_send in;
  struct store_send_result out;
  char cmid[PROTO_CMID_MAX + 1];
  char *body;                  /* owned copy */
  struct store_ding ding;      /* kind ding: in.ding points here */
  int64_t *to;                 /* owned copies of the DING's lists */
  int64_t *esc;
};

static enum store_urgency urgency_of(enum proto_urgency u)
{
  switch (u) {
  case PROTO_URG_CRITICAL: return STORE_URG_CRITICAL;
  case PROTO_URG_URGENT: return STORE_URG_URGENT;
  default: return STORE_URG_NORMAL;
  }
}

static void send_job_free(struct send_job *sj)
{
  store_send_results_cleanup(&sj->out, 1);
  free(sj->to);
  free(sj->esc);
  free(sj->body);
  free(sj);
}

void srv_send_batch(struct srv_dbjob **jobs, int n, struct store_conn *conn)
{
  struct store_send *in = calloc((size_t)n, sizeof(*in));
  struct store_send_result *out = calloc((size_t)n, sizeof(*out));
  int rc = STORE_EUNAVAIL;

  if (!in || !out) {
    rc = STORE_EINTERNAL;
    goto out;
  }
  for (int i = 0; i < n; i++)
    in[i] = ((struct send_job *)jobs[i])->in;
  if (conn)
    rc = store_send_batch(conn, in, (size_t)n, out);
out:
  for (int i = 0; i < n; i++) {
    struct send_job *sj = (struct send_job *)jobs[i];
    sj->job.rc = rc;
    if (rc == STORE_OK)
      sj->out = out[i];
  }
  free(in);
  free(out);
}

static void publish(struct srv_server *srv, struct send_job *sj)
{
  struct proto_frame f;
  struct proto_msg *m = &f.u.msg;

  proto_frame_init(&f, PROTO_T_MSG);
  m->conv = (uint64_t)sj->out.conversation_id;
  m->seq = (uint64_t)sj->out.seq;
  m->from = (uint64_t)sj->in.sender_id;
  m->from_kind = sj->in.sender_kind == STORE_PRINCIPAL_BOT ? PROTO_ACTOR_BOT
                                                           : PROTO_ACTOR_USER;
  m->cmid = (struct proto_str){sj->cmid, strlen(sj->cmid)};
  m->kind = PROTO_KIND_TEXT;
  if (sj->in.kind == STORE_MSG_DING) {
    m->kind = PROTO_KIND_DING;
    m->urg = sj->ding.urgency == STORE_URG_CRITICAL ? PROTO_URG_CRITICAL
             : sj->ding.urgency == STORE_URG_URGENT ? PROTO_URG_URGENT
                                                    : PROTO_URG_NORMAL;
    m->all = sj->ding.all;
    /* Ids are positive: the same bits as uint64_t. */
    m->to = (const uint64_t *)sj->ding.to;
    m->nto = sj->ding.n_to;
  }
  m->body = (struct proto_str){sj->body, sj->in.body_len};
  m->ts = (uint64_t)sj->out.sent_at_ms;
  m->tracked = sj->out.tracked;
  srv_delivery_publish_msg(srv, &f);
}

/* The outcome of a stored (or refused) send, for either kind of caller. */
static void send_outcome(const struct send_job *sj, struct srv_send_outcome *o)
{
  memset(o, 0, sizeof(*o));
  if (sj->job.rc != STORE_OK) {
    o->code = srv_code_from_store(sj->job.rc);
    return;
  }
  if (sj->out.rc != STORE_OK) {
    int nf = sj->out.rc == STORE_ENOTFOUND;

    o->code = srv_code_from_store(sj->out.rc);
    o->not_member = nf;
    switch (sj->out.ding_fault) {
    case STORE_DING_NOT_MEMBER:
      snprintf(o->field, sizeof(o->field), "to[%d]", sj->out.ding_fault_at);
      snprintf(o->why, sizeof(o->why), "user %lld is not a member of the "
               "conversation", (long long)sj->to[sj->out.ding_fault_at]);
      break;
    case STORE_DING_SENDER:
      snprintf(o->field, sizeof(o->field), "to[%d]", sj->out.ding_fault_at);
      snprintf(o->why, sizeof(o->why), "the sender cannot be a recipient");
      break;
    case STORE_DING_NO_RECIPIENTS:
      snprintf(o->field, sizeof(o->field), "all");
      snprintf(o->why, sizeof(o->why), "the conversation has no other member");
      break;
    default:
      if (nf) {
        snprintf(o->field, sizeof(o->field), "conv");
        snprintf(o->why, sizeof(o->why),
                 "no such conversation, or not a member");
      }
      break;
    }
    return;
  }
  o->conv = sj->out.conversation_id;
  o->seq = sj->out.seq;
  o->ts = sj->out.sent_at_ms;
  o->dup = sj->out.dup;
  o->tracked = sj->out.tracked;
}

static void send_done(struct srv_dbjob *job)
{
  struct send_job *sj = (struct send_job *)job;
  struct srv_session *s = sj->s;
  struct srv_server *srv = sj->srv;
  struct srv_send_outcome o;
  struct proto_frame f;

  if (s)
    s->inflight--;
  send_outcome(sj, &o);
  if (o.code != 0) {
    if (s)
      srv_reply_error(s, sj->req, o.code, o.field[0] ? o.field : NULL,
                      o.why[0] ? o.why : NULL);
    else
      sj->cb(sj->cb_arg, &o);
    goto out;
  }
  /* Acknowledge first: the sender learns its seq before its own copy. */
  if (s && srv_session_open(s)) {
    proto_frame_init(&f, PROTO_T_ACK);
    f.id = sj->req;
    f.u.ack.cmid = (struct proto_str){sj->cmid, strlen(sj->cmid)};
    f.u.ack.conv = (uint64_t)sj->out.conversation_id;
    f.u.ack.seq = (uint64_t)sj->out.seq;
    f.u.ack.ts = (uint64_t)sj->out.sent_at_ms;
    f.u.ack.dup = sj->out.dup;
    srv_session_send(s, &f);
  }
  if (!s)
    sj->cb(sj->cb_arg, &o);
  if (sj->out.dup) {
    srv_delivery_hint(srv, sj->out.conversation_id, sj->out.seq);
  } else {
    publish(srv, sj);
    if (sj->in.kind == STORE_MSG_DING)
      srv_ding_sent(srv, &sj->in, &sj->out);
  }
out:
  if (s)
    srv_session_unref(s);
  send_job_free(sj);
}

/* Copies the DING's lists into sj and checks what storage would refuse
 * anyway, naming the field. Returns 0, or replies and returns 1. */
static int ding_prepare(struct srv_session *s, const struct proto_frame *f,
                        struct send_job *sj)
{
  const struct proto_send *in = &f->u.send;
  char field[32];

  for (size_t i = 1; i < in->nesc; i++) {
    if (in->esc[i] <= in->esc[i - 1]) {
      snprintf(field, sizeof(field), "esc[%zu]", i);
      srv_reply_error(s, f->id, PROTO_E_BAD_VALUE, field,
                      "the re-alert times must increase");
      return 1;
    }
  }
  if ((in->nto && !(sj->to = malloc(in->nto * sizeof(*sj->to)))) ||
      (in->nesc && !(sj->esc = malloc(in->nesc * sizeof(*sj->esc))))) {
    srv_reply_error(s, f->id, PROTO_E_NOMEM, NULL, NULL);
    return 1;
  }
  for (size_t i = 0; i < in->nto; i++)
    sj->to[i] = (int64_t)in->to[i];
  for (size_t i = 0; i < in->nesc; i++)
    sj->esc[i] = (int64_t)in->esc[i];
  sj->ding.urgency = urgency_of(in->urg);
  sj->ding.all = in->all;
  sj->ding.to = sj->to;
  sj->ding.n_to = in->nto;
  sj->ding.esc_s = sj->esc;
  sj->ding.n_esc = in->nesc;
  sj->in.ding = &sj->ding;
  return 0;
}

int srv_h_send(struct srv_session *s, const struct proto_frame *f)
{
  struct srv_server *srv = s->srv;
  const struct proto_send *in = &f->u.send;
  struct send_job *sj;

  if (in->body.len > (size_t)srv->cfg->max_body)
    return PROTO_E_BODY_TOO_LARGE;
  /* A bot's messages, cards too, count against its rate limit. */
  if (s->bot_id) {
    int64_t wait = srv_botrate_take(srv, s->bot_id, s->bot_rate, srv_now_ms());
    char why[128];

    if (wait > 0) {
      srv_botrate_message(why, sizeof(why), s->bot_rate, wait);
      srv_reply_error(s, f->id, PROTO_E_TOO_MANY_REQUESTS, NULL, why);
      return 0;
    }
  }
  /* A card is stored with its card row and first event in one
   * transaction of its own (h_card.c); the delivery layer fills the seq
   * order should it commit beside a writer batch. */
  if (in->kind == PROTO_KIND_CARD)
    return srv_h_send_card(s, f);
  if (srv_dbpool_pending(srv->writer) >= SEND_QUEUE_MAX)
    return PROTO_E_TOO_MANY_REQUESTS;
  if (!(sj = calloc(1, sizeof(*sj))) ||
      !(sj->body = malloc(in->body.len + 1))) {
    free(sj);
    return PROTO_E_NOMEM;
  }
  memcpy(sj->body, in->body.p, in->body.len);
  sj->body[in->body.len] = '\0';
  memcpy(sj->cmid, in->cmid.p, in->cmid.len);   /* ≤ 64, checked by decode */
  sj->job.done = send_done;
  sj->srv = srv;
  sj->s = srv_session_ref(s);
  sj->req = f->id;
  sj->in.sender_kind = s->bot_id ? STORE_PRINCIPAL_BOT : STORE_PRINCIPAL_USER;
  sj->in.sender_id = s->bot_id ? s->bot_id : s->uid;
  sj->in.cmid = sj->cmid;
  sj->in.conversation_id = (int64_t)in->conv;
  sj->in.kind = STORE_MSG_TEXT;
  sj->in.body = sj->body;
  sj->in.body_len = in->body.len;
  sj->in.flagged = in->tracked;
  if (in->kind == PROTO_KIND_DING) {
    sj->in.kind = STORE_MSG_DING;
    if (ding_prepare(s, f, sj) != 0) {
      srv_session_unref(s);
      send_job_free(sj);
      return 0;
    }
  }
  s->inflight++;
  srv_dbpool_submit(srv->writer, &sj->job);
  return 0;
}

int srv_send_bot(struct srv_server *srv, const struct srv_send_args *a,
                 srv_send_cb cb, void *arg, int64_t *wait_ms)
{
  struct send_job *sj;
  size_t cl = strlen(a->cmid);

  *wait_ms = 0;
  if (a->len > (size_t)srv->cfg->max_body)
    return PROTO_E_BODY_TOO_LARGE;
  if (cl < 1 || cl > PROTO_CMID_MAX)
    return PROTO_E_BAD_VALUE;
  if (srv_dbpool_pending(srv->writer) >= SEND_QUEUE_MAX)
    return PROTO_E_TOO_MANY_REQUESTS;
  if ((*wait_ms = srv_botrate_take(srv, a->bot_id, a->rate_per_minute,
                                   srv_now_ms())) > 0)
    return PROTO_E_TOO_MANY_REQUESTS;
  if (!(sj = calloc(1, sizeof(*sj))) || !(sj->body = malloc(a->len + 1))) {
    free(sj);
    return PROTO_E_NOMEM;
  }
  memcpy(sj->body, a->body, a->len);
  sj->body[a->len] = '\0';
  memcpy(sj->cmid, a->cmid, cl + 1);
  sj->job.done = send_done;
  sj->srv = srv;
  sj->cb = cb;
  sj->cb_arg = arg;
  sj->in.sender_kind = STORE_PRINCIPAL_BOT;
  sj->in.sender_id = a->bot_id;
  sj->in.cmid = sj->cmid;
  sj->in.conversation_id = a->conv;
  sj->in.kind = STORE_MSG_TEXT;
  sj->in.body = sj->body;
  sj->in.body_len = a->len;
  sj->in.flagged = a->flagged;
  if (a->urgency) {
    if (a->nto && !(sj->to = malloc(a->nto * sizeof(*sj->to)))) {
      send_job_free(sj);
      return PROTO_E_NOMEM;
    }
    if (a->nto)
      memcpy(sj->to, a->to, a->nto * sizeof(*sj->to));
    sj->ding.urgency = (enum store_urgency)a->urgency;
    sj->ding.all = a->all;
    sj->ding.to = sj->to;
    sj->ding.n_to = a->nto;
    sj->in.kind = STORE_MSG_DING;
    sj->in.ding = &sj->ding;
  }
  srv_dbpool_submit(srv->writer, &sj->job);
  return 0;
}
