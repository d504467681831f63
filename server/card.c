/*
 * card.c — the server's card operations (card_int.h): the jobs that
 * gather facts, apply the rules of cards/cards.h and store the outcome.
 * What is committed is published by card_fanout.c; the sweeper's card
 * steps are card_sweep.c.
 */
#include "card_int.h"
#include "card_impl_int.h"
#include "clock_int.h"
#include "dbpool_int.h"
#include "delivery_int.h"
#include "log_int.h"
#include "server_int.h"
#include "session_int.h"

#include "cards.h"
#include "store.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- results ---- */

static void fail(struct srv_card_result *r, int code, const char *field,
                 const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));
static void fail(struct srv_card_result *r, int code, const char *field,
                 const char *fmt, ...)
{
  va_list ap;

  r->code = code;
  snprintf(r->err.field, sizeof(r->err.field), "%s", field ? field : "");
  r->err.msg[0] = '\0';
  if (fmt) {
    va_start(ap, fmt);
    vsnprintf(r->err.msg, sizeof(r->err.msg), fmt, ap);
    va_end(ap);
  }
}

static void fail_store(struct srv_card_result *r, struct store_conn *conn,
                       int rc)
{
  /* EEXISTS: the same change was stored concurrently (a signature of
   * this version by this signer). */
  int code = rc == STORE_ENOTFOUND  ? PROTO_E_NOT_FOUND
             : rc == STORE_EUNAVAIL ? PROTO_E_DB_UNAVAILABLE
             : rc == STORE_EINVAL   ? PROTO_E_INVALID_CARD
             : rc == STORE_EEXISTS  ? PROTO_E_CONFLICT
                                    : PROTO_E_INTERNAL;

  if (code == PROTO_E_INTERNAL && conn)
    srv_warn("card", "storage: %s", store_errmsg(conn));
  fail(r, code, NULL, "%s", code == PROTO_E_INTERNAL || !conn
                                ? "" : store_errmsg(conn));
}

static void fail_rules(struct srv_card_result *r, int code,
                       const struct proto_error *err)
{
  r->code = code;
  r->err = *err;
}

/* ---- JSON helpers ---- */

/* The JSON pointer of the first integer `id` in v (depth first), or "". */
static bool find_id(const json_t *v, int64_t id, char *buf, size_t len,
                    size_t at)
{
  if (json_is_integer(v))
    return json_integer_value(v) == id;
  if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      int k = snprintf(buf + at, len - at, "/%zu", i);
      if (k > 0 && (size_t)k < len - at &&
          find_id(x, id, buf, len, at + (size_t)k))
        return true;
    }
  } else if (json_is_object(v)) {
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)v, key, x) {
      int k = snprintf(buf + at, len - at, "/%s", key);
      if (k > 0 && (size_t)k < len - at &&
          find_id(x, id, buf, len, at + (size_t)k))
        return true;
    }
  }
  buf[at] = '\0';
  return false;
}

/* The event payload members receive and the chain hashes: the change's
 * details with "state" = the new state. malloc'd text, or NULL. */
char *srv_card_payload_text(const struct card_change *c)
{
  json_t *p = c->payload ? json_deep_copy(c->payload) : json_object();
  char *s = NULL;

  if (p && json_is_object(p) &&
      json_object_set(p, "state", c->state) == 0)
    s = json_dumps(p, JSON_COMPACT);
  json_decref(p);
  return s;
}

/* ---- facts ---- */

/* Refuses (INVALID_CARD on the field) a state that names someone who is
 * not an active member of the conversation, or an interview whose manager
 * does not manage the employee. 0, or 1 with r filled. */
static int people_check(struct store_conn *conn, int64_t conv,
                        enum card_type t, const json_t *st,
                        struct srv_card_result *r)
{
  int64_t ids[SRV_CARD_PEOPLE_MAX];
  size_t n = card_people(t, st, ids, SRV_CARD_PEOPLE_MAX);
  int bad = -1, why = 0, rc;
  char ptr[PROTO_ERR_FIELD_MAX] = "";

  if (n > SRV_CARD_PEOPLE_MAX) {
    fail(r, PROTO_E_INVALID_CARD, "", "a card names at most %d people",
         SRV_CARD_PEOPLE_MAX);
    return 1;
  }
  if ((rc = store_card_people_check(conn, conv, ids, n, &bad, &why)) !=
      STORE_OK) {
    fail_store(r, conn, rc);
    return 1;
  }
  if (bad >= 0) {
    find_id(st, ids[bad], ptr, sizeof(ptr), 0);
    fail(r, PROTO_E_INVALID_CARD, ptr,
         why == 1 ? "%s: user %lld is not an active user"
                  : "%s: user %lld is not a member of the conversation",
         *ptr ? ptr : "the card", (long long)ids[bad]);
    return 1;
  }
  if (t == CARD_INTERVIEW) {
    json_t *e = json_object_get(st, "employee");
    json_t *m = json_object_get(st, "manager");
    int64_t emp = json_integer_value(e);
    bool manages = false;

    if (json_is_integer(e) && json_is_integer(m) &&
        (rc = store_card_manages(conn, json_integer_value(m), &emp, 1,
                                 &manages)) != STORE_OK) {
      fail_store(r, conn, rc);
      return 1;
    }
    if (json_is_integer(e) && json_is_integer(m) && !manages) {
      fail(r, PROTO_E_INVALID_CARD, "/manager",
           "/manager: user %lld is not a manager of the employee",
           (long long)json_integer_value(m));
      return 1;
    }
  }
  return 0;
}

/* What the actor is to a card with state `st`. */
static int actor_facts(struct store_conn *conn,
                       const struct srv_card_principal *p, enum card_type t,
                       const json_t *st, bool creator, struct card_actor *a)
{
  int64_t ids[SRV_CARD_PEOPLE_MAX];
  size_t n;
  bool m = false;
  int rc = STORE_OK;

  memset(a, 0, sizeof(*a));
  a->id = p->id;
  a->bot = p->bot;
  a->admin = p->admin;
  a->creator = creator;
  if (!p->bot && p->id) {
    n = card_subjects(t, st, ids, SRV_CARD_PEOPLE_MAX);
    rc = store_card_manages(conn, p->id, ids, n < SRV_CARD_PEOPLE_MAX ? n : SRV_CARD_PEOPLE_MAX,
                            &m);
  }
  a->manager = m;
  return rc;
}

/* The spawned cards of a change, created by the system (card_create). */
struct spawn_set {
  struct store_card_new *v;
  char **texts;                /* state and payload per card, owned */
  size_t n;
};

static void spawn_clear(struct spawn_set *s)
{
  for (size_t i = 0; i < 2 * s->n; i++)
    free(s->texts[i]);
  free(s->texts);
  free(s->v);
  memset(s, 0, sizeof(*s));
}

static int spawn_prepare(const json_t *spawn, int64_t now_ms,
                         struct spawn_set *s, struct srv_card_result *r)
{
  size_t n = json_array_size(spawn);
  struct card_actor sys = {0};
  struct card_ctx ctx = {.now_ms = now_ms};

  memset(s, 0, sizeof(*s));
  if (!n)
    return 0;
  if (!(s->v = calloc(n, sizeof(*s->v))) ||
      !(s->texts = calloc(2 * n, sizeof(char *)))) {
    fail(r, PROTO_E_NOMEM, NULL, NULL);
    return 1;
  }
  for (size_t i = 0; i < n; i++) {
    char *body = json_dumps(json_array_get(spawn, i), JSON_COMPACT);
    struct card_change ch = {0};
    struct proto_error err = {0};
    enum card_type t;
    int64_t who[8];
    size_t nw = 0;
    int rc;

    if (!body) {
      fail(r, PROTO_E_NOMEM, NULL, NULL);
      return 1;
    }
    rc = card_create(body, strlen(body), &sys, &ctx, &t, &ch, &err);
    free(body);
    if (rc != 0) {
      /* The rules made a card they refuse: a bug there, not the user's. */
      srv_warn("card", "a spawned card is refused: %s (%s)", err.msg,
               err.field);
      fail_rules(r, rc, &err);
      card_change_clear(&ch);
      return 1;
    }
    s->texts[2 * i] = json_dumps(ch.state, JSON_COMPACT);
    s->texts[2 * i + 1] = srv_card_payload_text(&ch);
    s->n = i + 1;
    s->v[i].type = card_type_name(t);
    s->v[i].state = s->texts[2 * i];
    s->v[i].payload = s->texts[2 * i + 1];
    s->v[i].parent_card_id = ch.parent;
    s->v[i].next_reminder_ms = card_next_reminder(t, ch.state, who, 8, &nw);
    card_change_clear(&ch);
    if (!s->texts[2 * i] || !s->texts[2 * i + 1]) {
      fail(r, PROTO_E_NOMEM, NULL, NULL);
      return 1;
    }
  }
  return 0;
}

/* ---- posting ---- */


/* The employee's OKRs of the interview's period (NULL for other cards). */
static json_t *interview_okrs(struct store_conn *conn, const char *body,
                              size_t len, int *rc)
{
  json_t *b = json_loadb(body, len, 0, NULL), *okrs = NULL;
  const char *type = json_string_value(json_object_get(b, "type"));
  json_t *emp = json_object_get(b, "employee");
  const char *period = json_string_value(json_object_get(b, "period"));
  char *text = NULL;

  *rc = STORE_OK;
  if (type && strcmp(type, "interview") == 0 && json_is_integer(emp) &&
      period) {
    *rc = store_card_okrs(conn, json_integer_value(emp), period, &text);
    if (*rc == STORE_OK)
      okrs = json_loads(text, 0, NULL);
    free(text);
  }
  json_decref(b);
  return okrs;
}

void srv_card_post_compute(struct store_conn *conn, struct srv_card_post_ctx *pc)
{
  struct srv_card_result *r = &pc->r;
  struct card_actor a = {0};
  struct card_ctx ctx = {.now_ms = (int64_t)srv_clock_now_ms()};
  struct card_change ch = {0};
  struct proto_error err = {0};
  struct store_conv_summary cs;
  struct store_card_post in = {0};
  enum card_type t;
  json_t *okrs = NULL;
  char *state = NULL, *payload = NULL;
  int64_t who[8];
  size_t nw = 0;
  int rc;

  if (!conn) {
    fail(r, PROTO_E_DB_UNAVAILABLE, NULL, NULL);
    return;
  }
  /* Only members learn anything about the conversation. */
  if (!pc->system &&
      (rc = store_conversation_get(conn, pc->p.bot ? STORE_PRINCIPAL_BOT
                                                   : STORE_PRINCIPAL_USER,
                                   pc->p.id, pc->conv, &cs)) != STORE_OK) {
    fail_store(r, conn, rc);
    if (rc == STORE_ENOTFOUND)
      fail(r, PROTO_E_NOT_FOUND, "conv",
           "no such conversation, or not a member");
    return;
  }
  okrs = interview_okrs(conn, pc->body, pc->len, &rc);
  if (rc != STORE_OK) {
    fail_store(r, conn, rc);
    return;
  }
  ctx.okrs = okrs;
  a.id = pc->system ? 0 : pc->p.id;
  a.bot = pc->system ? false : pc->p.bot;
  a.admin = pc->system ? false : pc->p.admin;
  a.creator = true;
  rc = card_create(pc->body, pc->len, &a, &ctx, &t, &ch, &err);
  json_decref(okrs);
  if (rc != 0) {
    fail_rules(r, rc, &err);
    goto out;
  }
  if (people_check(conn, pc->conv, t, ch.state, r))
    goto out;
  if (!pc->system) {
    struct card_actor full;
    if ((rc = actor_facts(conn, &pc->p, t, ch.state, true, &full)) !=
        STORE_OK) {
      fail_store(r, conn, rc);
      goto out;
    }
    if ((rc = card_may_create(t, ch.state, &full, &err)) != 0) {
      fail_rules(r, rc, &err);
      goto out;
    }
  }
  state = json_dumps(ch.state, JSON_COMPACT);
  payload = srv_card_payload_text(&ch);
  if (!state || !payload) {
    fail(r, PROTO_E_NOMEM, NULL, NULL);
    goto out;
  }
  if (pc->max_body && strlen(payload) > pc->max_body) {
    fail(r, PROTO_E_BODY_TOO_LARGE, "body", "the card's stored form is %zu "
         "bytes, more than %zu", strlen(payload), pc->max_body);
    goto out;
  }
  in.sender_kind = pc->p.bot ? STORE_PRINCIPAL_BOT : STORE_PRINCIPAL_USER;
  in.sender_id = pc->p.id;
  in.system = pc->system;
  in.cmid = pc->cmid;
  in.conversation_id = pc->conv;
  in.body = pc->body;
  in.card.type = card_type_name(t);
  in.card.state = state;
  in.card.payload = payload;
  in.card.parent_card_id = ch.parent;
  in.card.next_reminder_ms = card_next_reminder(t, ch.state, who, 8, &nw);
  in.task_user = pc->task_user;
  in.task_conv = pc->task_conv;
  in.task_marker = pc->task_marker;
  in.task_upto = pc->task_upto;
  rc = store_card_post(conn, &in, &pc->posted);
  if (rc == STORE_EEXISTS && pc->task_user) {
    r->code = 1;               /* made elsewhere: nothing to report */
    goto out;
  }
  if (rc != STORE_OK) {
    fail_store(r, conn, rc);
    if (rc == STORE_ENOTFOUND)
      fail(r, PROTO_E_NOT_FOUND, "conv",
           "no such conversation, or not a member");
    goto out;
  }
  r->card = pc->posted.card_id;
  r->ver = pc->posted.dup ? 0 : 1;
  r->dup = pc->posted.dup;
  r->conv = pc->posted.conversation_id;
  r->seq = pc->posted.seq;
  r->ts = pc->posted.sent_at_ms;
out:
  free(state);
  free(payload);
  card_change_clear(&ch);
}

struct post_job {
  struct srv_dbjob job;
  struct srv_server *srv;
  struct srv_card_post_ctx pc;
  char cmid[PROTO_CMID_MAX + 1];
  char *body;
  srv_card_cb cb;
  void *arg;
};

static void post_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct post_job *pj = (struct post_job *)job;

  srv_card_post_compute(conn, &pj->pc);
  job->rc = STORE_OK;
}

static void post_done(struct srv_dbjob *job)
{
  struct post_job *pj = (struct post_job *)job;

  if (pj->pc.r.code == 0 && !pj->pc.posted.dup && !pj->srv->stopping)
    srv_card_publish_post(pj->srv, &pj->pc.posted, pj->pc.p.bot, pj->pc.p.id,
                          pj->cmid, pj->body);
  else if (pj->pc.r.code == 0 && pj->pc.posted.dup)
    srv_delivery_hint(pj->srv, pj->pc.posted.conversation_id,
                      pj->pc.posted.seq);
  pj->cb(pj->arg, &pj->pc.r);
  store_card_posted_clear(&pj->pc.posted);
  free(pj->body);
  free(pj);
}

int srv_card_post(struct srv_server *srv, const struct srv_card_principal *p,
                  int64_t conv, const char *cmid, const char *body, size_t len,
                  srv_card_cb cb, void *arg)
{
  struct post_job *pj;

  if (len > (size_t)srv->cfg->max_body)
    return PROTO_E_BODY_TOO_LARGE;
  if (!cmid || !*cmid || strlen(cmid) > PROTO_CMID_MAX)
    return PROTO_E_BAD_VALUE;
  if (!(pj = calloc(1, sizeof(*pj))) || !(pj->body = malloc(len + 1))) {
    free(pj);
    return PROTO_E_NOMEM;
  }
  memcpy(pj->body, body, len);
  pj->body[len] = '\0';
  snprintf(pj->cmid, sizeof(pj->cmid), "%s", cmid);
  pj->job.run = post_run;
  pj->job.done = post_done;
  pj->srv = srv;
  pj->pc.p = *p;
  pj->pc.conv = conv;
  pj->pc.cmid = pj->cmid;
  pj->pc.body = pj->body;
  pj->pc.len = len;
  pj->pc.max_body = (size_t)srv->cfg->max_body;
  pj->cb = cb;
  pj->arg = arg;
  srv_dbpool_submit(srv->reader, &pj->job);
  return 0;
}

/* ---- actions, edits, signatures ---- */

struct act_ctx {
  struct srv_card_principal p;
  struct srv_card_req q;       /* strings point into the job */
  size_t max_body;             /* payloads above are BODY_TOO_LARGE */
  uint8_t hash[CARD_HASH_LEN], sig[CARD_SIG_LEN];
  struct srv_card_result r;
  struct store_card_appended out;
  /* For publishing the spawned cards' messages. */
  struct spawn_set spawn;
  int64_t spawn_sender;
  int64_t card_conv;
};

/* One attempt: 0 done (r filled or out stored), 1 raced (try again). */
static int act_once(struct store_conn *conn, struct act_ctx *ac)
{
  struct srv_card_result *r = &ac->r;
  struct store_card card = {0};
  struct card_actor a;
  struct card_ctx ctx = {0};
  struct card_change ch = {0};
  struct proto_error err = {0};
  struct store_card_append in = {0};
  struct store_card_sig sig;
  enum card_type t;
  json_t *st = NULL;
  char *state = NULL, *payload = NULL;
  uint8_t pub[CARD_PUB_LEN];
  bool have_key = false;
  int64_t who[8];
  size_t nw = 0;
  int rc, again = 0;

  rc = store_card_get(conn, ac->p.bot ? STORE_PRINCIPAL_BOT
                                      : STORE_PRINCIPAL_USER,
                      ac->p.id, ac->q.card, &card);
  if (rc != STORE_OK) {
    fail_store(r, conn, rc);
    if (rc == STORE_ENOTFOUND)
      fail(r, PROTO_E_NOT_FOUND, "card", "no such card, or not a member "
           "of its conversation");
    return 0;
  }
  ac->card_conv = card.conversation_id;
  if (card_type_parse(card.type, &t) != 0 ||
      !(st = json_loads(card.state, 0, NULL))) {
    fail(r, PROTO_E_INTERNAL, NULL, NULL);
    goto out;
  }
  if (ac->q.op == SRV_CARD_ACTION && ac->q.base &&
      ac->q.base != card.version) {
    fail(r, PROTO_E_STALE_VERSION, "base",
         "base %lld is not the card's version %lld", (long long)ac->q.base,
         (long long)card.version);
    goto out;
  }
  rc = actor_facts(conn, &ac->p, t, st,
                   (card.creator_kind == STORE_PRINCIPAL_BOT) == ac->p.bot &&
                       card.creator_id == ac->p.id,
                   &a);
  if (rc != STORE_OK) {
    fail_store(r, conn, rc);
    goto out;
  }
  ctx.now_ms = card.now_ms;
  ctx.card_id = card.id;
  ctx.ver = card.version;
  switch (ac->q.op) {
  case SRV_CARD_ACTION:
    rc = card_action(t, st, ac->q.action, ac->q.args, &a, &ctx, &ch, &err);
    break;
  case SRV_CARD_EDIT:
    rc = card_edit(t, st, ac->q.path, ac->q.value, ac->q.base, &a, &ctx, &ch,
                   &err);
    break;
  default:
    if (!ac->p.bot &&
        (rc = store_device_key_get(conn, ac->p.id, ac->q.dev, pub,
                                   &have_key)) != STORE_OK) {
      fail_store(r, conn, rc);
      goto out;
    }
    rc = card_sign(t, st, ac->q.ver, ac->hash, ac->sig, ac->q.dev,
                   have_key ? pub : NULL, &a, &ctx, &ch, &err);
    break;
  }
  if (rc != 0) {
    fail_rules(r, rc, &err);
    goto out;
  }
  if (people_check(conn, card.conversation_id, t, ch.state, r))
    goto out;
  spawn_clear(&ac->spawn);
  if (ch.spawn && spawn_prepare(ch.spawn, card.now_ms, &ac->spawn, r))
    goto out;
  state = json_dumps(ch.state, JSON_COMPACT);
  payload = srv_card_payload_text(&ch);
  if (!state || !payload) {
    fail(r, PROTO_E_NOMEM, NULL, NULL);
    goto out;
  }
  if (strlen(payload) > ac->max_body) {
    fail(r, PROTO_E_BODY_TOO_LARGE, NULL, "the card's stored form would be "
         "%zu bytes, more than %zu", strlen(payload), ac->max_body);
    goto out;
  }
  in.card_id = card.id;
  in.base_version = card.version;
  in.actor_kind = ac->p.bot ? STORE_PRINCIPAL_BOT : STORE_PRINCIPAL_USER;
  in.actor_id = ac->p.id;
  in.cmid = ac->q.op == SRV_CARD_ACTION ? ac->q.cmid : NULL;
  in.kind = ch.ev;
  in.state = state;
  in.payload = payload;
  in.parent_card_id = ch.parent ? ch.parent : card.parent_card_id;
  in.next_reminder_ms = card_next_reminder(t, ch.state, who, 8, &nw);
  if (ac->q.op == SRV_CARD_SIGN) {
    sig = (struct store_card_sig){ac->p.id, ac->q.dev, ac->q.ver, ac->hash,
                                  ac->sig};
    in.sig = &sig;
  }
  in.spawn = ac->spawn.v;
  in.n_spawn = ac->spawn.n;
  /* A spawned card's message is sent by the member who completed the
   * record; its event is the system's. */
  in.spawn_sender = ac->spawn_sender = ac->p.id;
  store_card_appended_clear(&ac->out);
  rc = store_card_append(conn, &in, &ac->out);
  if (rc != STORE_OK) {
    fail_store(r, conn, rc);
    goto out;
  }
  if (ac->out.raced) {
    again = 1;
    goto out;
  }
  r->card = card.id;
  r->ver = ac->out.version;
  r->dup = ac->out.dup;
out:
  free(state);
  free(payload);
  json_decref(st);
  card_change_clear(&ch);
  store_card_free(&card);
  return again;
}

static void act_compute(struct store_conn *conn, struct act_ctx *ac)
{
  if (!conn) {
    fail(&ac->r, PROTO_E_DB_UNAVAILABLE, NULL, NULL);
    return;
  }
  if (ac->q.op == SRV_CARD_ACTION && ac->q.cmid) {
    bool found = false;
    int64_t card = 0, ver = 0;
    int rc = store_card_action_find(conn, ac->p.bot ? STORE_PRINCIPAL_BOT
                                                    : STORE_PRINCIPAL_USER,
                                    ac->p.id, ac->q.cmid, &card, &ver,
                                    &found);
    if (rc != STORE_OK) {
      fail_store(&ac->r, conn, rc);
      return;
    }
    if (found) {
      ac->r.card = card;
      ac->r.ver = ver;
      ac->r.dup = true;
      return;
    }
  }
  for (int i = 0; i < SRV_CARD_RACE_ROUNDS; i++)
    if (!act_once(conn, ac))
      return;
  fail(&ac->r, PROTO_E_DB_UNAVAILABLE, NULL, "the card kept changing; retry");
}

struct act_job {
  struct srv_dbjob job;
  struct srv_server *srv;
  struct act_ctx ac;
  char *strs;                  /* action, args, cmid, path, value, dev */
  srv_card_cb cb;
  void *arg;
};

static void act_run(struct srv_dbjob *job, struct store_conn *conn)
{
  act_compute(conn, &((struct act_job *)job)->ac);
  job->rc = STORE_OK;
}

static void publish_appended(struct srv_server *srv, struct act_ctx *ac)
{
  srv_card_publish_event(srv, &ac->out.ev);
  for (size_t i = 0; i < ac->out.n_spawned; i++) {
    char cmid[64];

    snprintf(cmid, sizeof(cmid), "card-%lld-v%lld-%zu",
             (long long)ac->out.ev.card_id, (long long)ac->out.ev.version,
             i + 1);
    srv_card_publish_post(srv, &ac->out.spawned[i], false, ac->spawn_sender,
                          cmid, ac->spawn.v[i].state);
  }
}

static void act_done(struct srv_dbjob *job)
{
  struct act_job *aj = (struct act_job *)job;

  if (aj->ac.r.code == 0 && !aj->ac.r.dup && !aj->srv->stopping)
    publish_appended(aj->srv, &aj->ac);
  aj->cb(aj->arg, &aj->ac.r);
  store_card_appended_clear(&aj->ac.out);
  spawn_clear(&aj->ac.spawn);
  free(aj->strs);
  free(aj);
}

/* Copies the request's strings into one block owned by the job. */
static int copy_strs(struct act_job *aj, const struct srv_card_req *q)
{
  const char *in[6] = {q->action, q->args, q->cmid, q->path, q->value,
                       q->dev};
  const char **dst[6] = {&aj->ac.q.action, &aj->ac.q.args, &aj->ac.q.cmid,
                         &aj->ac.q.path, &aj->ac.q.value, &aj->ac.q.dev};
  size_t total = 0, at = 0;

  for (int i = 0; i < 6; i++)
    total += in[i] ? strlen(in[i]) + 1 : 0;
  if (total && !(aj->strs = malloc(total)))
    return -1;
  for (int i = 0; i < 6; i++) {
    if (!in[i]) {
      *dst[i] = NULL;
      continue;
    }
    size_t l = strlen(in[i]) + 1;
    memcpy(aj->strs + at, in[i], l);
    *dst[i] = aj->strs + at;
    at += l;
  }
  return 0;
}

int srv_card_act(struct srv_server *srv, const struct srv_card_principal *p,
                 const struct srv_card_req *req, srv_card_cb cb, void *arg)
{
  struct act_job *aj = calloc(1, sizeof(*aj));

  if (!aj)
    return PROTO_E_NOMEM;
  aj->ac.q = *req;
  if (copy_strs(aj, req) != 0) {
    free(aj);
    return PROTO_E_NOMEM;
  }
  if (req->op == SRV_CARD_SIGN) {
    if (!req->hash || !req->sig || !req->dev) {
      free(aj->strs);
      free(aj);
      return PROTO_E_BAD_VALUE;
    }
    memcpy(aj->ac.hash, req->hash, CARD_HASH_LEN);
    memcpy(aj->ac.sig, req->sig, CARD_SIG_LEN);
  }
  aj->ac.q.hash = aj->ac.hash;
  aj->ac.q.sig = aj->ac.sig;
  aj->ac.p = *p;
  aj->ac.max_body = (size_t)srv->cfg->max_body;
  aj->job.run = act_run;
  aj->job.done = act_done;
  aj->srv = srv;
  aj->cb = cb;
  aj->arg = arg;
  srv_dbpool_submit(srv->reader, &aj->job);
  return 0;
}

