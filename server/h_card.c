/*
 * h_card.c — the card frames (PROTOCOL.md §3.8): `send` with kind card
 * (from h_send.c), card_action, card_edit, card_sign and device_key.
 * Each turns the frame into a card.c request and answers once it is
 * committed or refused; errors go through srv_reply_error with the rules'
 * field (a JSON pointer) and sentence.
 */
#include "card_int.h"
#include "dbpool_int.h"
#include "dispatch_int.h"
#include "server_int.h"
#include "session_int.h"

#include "cards.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

struct card_reply {
  struct srv_session *s;       /* holds a reference */
  uint64_t req;
  enum proto_type type;        /* PROTO_T_ACK or PROTO_T_RESULT */
  char cmid[PROTO_CMID_MAX + 1];
};

static struct srv_card_principal principal_of(const struct srv_session *s)
{
  struct srv_card_principal p = {
    .bot = s->bot_id != 0,
    .id = s->bot_id ? s->bot_id : s->uid,
    .admin = !s->bot_id && s->role == STORE_ROLE_ADMIN,
  };
  return p;
}

static void reply_cb(void *arg, const struct srv_card_result *r)
{
  struct card_reply *cr = arg;
  struct srv_session *s = cr->s;
  struct proto_frame f;

  s->inflight--;
  if (r->code != 0) {
    srv_reply_error(s, cr->req, r->code, *r->err.field ? r->err.field : NULL,
                    *r->err.msg ? r->err.msg : NULL);
  } else if (srv_session_open(s)) {
    proto_frame_init(&f, cr->type);
    f.id = cr->req;
    if (cr->type == PROTO_T_ACK) {
      f.u.ack.cmid = (struct proto_str){cr->cmid, strlen(cr->cmid)};
      f.u.ack.conv = (uint64_t)r->conv;
      f.u.ack.seq = (uint64_t)r->seq;
      f.u.ack.ts = (uint64_t)r->ts;
      f.u.ack.dup = r->dup;
      f.u.ack.card = (uint64_t)r->card;
    } else {
      f.u.result.card = (uint64_t)r->card;
      f.u.result.ver = (uint64_t)r->ver;
      f.u.result.dup = r->dup;
    }
    srv_session_send(s, &f);
  }
  srv_session_unref(s);
  free(cr);
}

static struct card_reply *reply_new(struct srv_session *s, uint64_t req,
                                    enum proto_type type)
{
  struct card_reply *cr = calloc(1, sizeof(*cr));

  if (!cr)
    return NULL;
  cr->s = srv_session_ref(s);
  cr->req = req;
  cr->type = type;
  return cr;
}

static int submitted(struct srv_session *s, struct card_reply *cr, int rc)
{
  if (rc != 0) {
    srv_session_unref(s);
    free(cr);
    return rc;
  }
  s->inflight++;
  return 0;
}

int srv_h_send_card(struct srv_session *s, const struct proto_frame *f)
{
  const struct proto_send *in = &f->u.send;
  struct srv_card_principal p = principal_of(s);
  struct card_reply *cr;

  if (in->nto || in->all || in->urg || in->nesc) {
    srv_reply_error(s, f->id, PROTO_E_BAD_VALUE,
                    in->urg ? "urg" : in->all ? "all" : in->nto ? "to" : "esc",
                    "DING fields are for kind ding only");
    return 0;
  }
  if (!(cr = reply_new(s, f->id, PROTO_T_ACK)))
    return PROTO_E_NOMEM;
  memcpy(cr->cmid, in->cmid.p, in->cmid.len);   /* ≤ 64, checked by decode */
  return submitted(s, cr, srv_card_post(s->srv, &p, (int64_t)in->conv,
                                        cr->cmid, in->body.p, in->body.len,
                                        reply_cb, cr));
}

/* NUL-terminated copies of frame strings, freed after the request is
 * queued (card.c copies what it keeps). */
static char *cstr(struct proto_str v)
{
  char *s;

  if (!v.p)
    return NULL;
  if ((s = malloc(v.len + 1))) {
    memcpy(s, v.p, v.len);
    s[v.len] = '\0';
  }
  return s;
}

static int act(struct srv_session *s, uint64_t id, struct srv_card_req *q,
               char **own, size_t nown)
{
  struct srv_card_principal p = principal_of(s);
  struct card_reply *cr = NULL;
  int rc = 0;

  for (size_t i = 0; i < nown; i++)
    if (own[i] == (char *)-1)
      rc = PROTO_E_NOMEM;
  if (rc == 0 && !(cr = reply_new(s, id, PROTO_T_RESULT)))
    rc = PROTO_E_NOMEM;
  if (rc == 0)
    rc = submitted(s, cr, srv_card_act(s->srv, &p, q, reply_cb, cr));
  for (size_t i = 0; i < nown; i++)
    if (own[i] != (char *)-1)
      free(own[i]);
  return rc;
}

/* cstr() with out-of-memory told apart from absent. */
static char *own_str(struct proto_str v)
{
  char *s = cstr(v);
  return !s && v.p ? (char *)-1 : s;
}

int srv_h_card_action(struct srv_session *s, const struct proto_frame *f)
{
  const struct proto_card_action *in = &f->u.card_action;
  char *own[3] = {own_str(in->action), own_str(in->args), own_str(in->cmid)};
  struct srv_card_req q = {
    .op = SRV_CARD_ACTION, .card = (int64_t)in->card,
    .action = own[0], .args = own[1] && *own[1] ? own[1] : NULL,
    .cmid = own[2], .base = (int64_t)in->base};

  return act(s, f->id, &q, own, 3);
}

int srv_h_card_edit(struct srv_session *s, const struct proto_frame *f)
{
  const struct proto_card_edit *in = &f->u.card_edit;
  char *own[2] = {own_str(in->path), own_str(in->value)};
  struct srv_card_req q = {
    .op = SRV_CARD_EDIT, .card = (int64_t)in->card, .path = own[0],
    .value = own[1], .base = (int64_t)in->base};

  return act(s, f->id, &q, own, 2);
}

int srv_h_card_sign(struct srv_session *s, const struct proto_frame *f)
{
  const struct proto_card_sign *in = &f->u.card_sign;
  char *own[1] = {own_str(in->dev)};
  struct srv_card_req q = {
    .op = SRV_CARD_SIGN, .card = (int64_t)in->card, .ver = (int64_t)in->ver,
    .hash = (const uint8_t *)in->hash.p, .sig = (const uint8_t *)in->sig.p,
    .dev = own[0]};

  /* Lengths are the schema's (bin, 32 and 64 bytes). */
  return act(s, f->id, &q, own, 1);
}

/* ---- device_key ---- */

struct key_job {
  struct srv_dbjob job;
  struct srv_session *s;
  uint64_t req;
  char dev[129];
  uint8_t pub[CARD_PUB_LEN];
  char why[160];
};

static void key_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct key_job *kj = (struct key_job *)job;

  job->rc = conn ? store_device_key_set(conn, kj->s->uid, kj->dev, kj->pub)
                 : STORE_EUNAVAIL;
  if (job->rc != STORE_OK && conn)
    snprintf(kj->why, sizeof(kj->why), "%s", store_errmsg(conn));
}

static void key_done(struct srv_dbjob *job)
{
  struct key_job *kj = (struct key_job *)job;
  struct srv_session *s = kj->s;
  struct proto_frame f;

  s->inflight--;
  if (job->rc == STORE_EEXISTS) {
    srv_reply_error(s, kj->req, PROTO_E_DUPLICATE, "pub", kj->why);
  } else if (job->rc == STORE_EINVAL) {
    srv_reply_error(s, kj->req, PROTO_E_BAD_VALUE, "dev", kj->why);
  } else if (job->rc != STORE_OK) {
    srv_reply_error(s, kj->req, srv_code_from_store(job->rc), NULL, NULL);
  } else if (srv_session_open(s)) {
    proto_frame_init(&f, PROTO_T_RESULT);
    f.id = kj->req;
    srv_session_send(s, &f);
  }
  srv_session_unref(s);
  free(kj);
}

int srv_h_device_key(struct srv_session *s, const struct proto_frame *f)
{
  const struct proto_device_key *in = &f->u.device_key;
  struct key_job *kj;

  if (in->dev.len >= sizeof(kj->dev) || in->pub.len != CARD_PUB_LEN)
    return PROTO_E_BAD_VALUE;
  if (!(kj = calloc(1, sizeof(*kj))))
    return PROTO_E_NOMEM;
  memcpy(kj->dev, in->dev.p, in->dev.len);
  memcpy(kj->pub, in->pub.p, CARD_PUB_LEN);
  kj->job.run = key_run;
  kj->job.done = key_done;
  kj->s = srv_session_ref(s);
  kj->req = f->id;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &kj->job);
  return 0;
}
