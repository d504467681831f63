/*
 * card_sweep.c — the sweeper's card steps, on its database thread
 * (card_int.h): due reminders, deferred through the recipients' quiet
 * hours and recorded once with the "remind" action, and the task_after
 * automation's task cards.
 */
#include "card_int.h"
#include "card_impl_int.h"
#include "log_int.h"
#include "server_int.h"

#include "cards.h"
#include "store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reminders (sweeper thread) ---- */

#define REMIND_BATCH 100
#define REMIND_LEASE_S 60

/* Sends one claimed card's reminder, or defers it past quiet hours. */
static int remind_one(struct store_conn *conn, int64_t id,
                      struct store_card_event *ev, bool *made)
{
  struct store_card card = {0};
  enum card_type t;
  json_t *st = NULL;
  int64_t who[SRV_CARD_PEOPLE_MAX], due, until_max = 0;
  size_t nw = 0;
  int rc;

  *made = false;
  for (int round = 0; round < SRV_CARD_RACE_ROUNDS; round++) {
    struct card_actor sys = {0};
    struct card_ctx ctx = {0};
    struct card_change ch = {0};
    struct proto_error err = {0};
    struct store_card_append in = {0};
    struct store_card_appended out = {0};
    char *state = NULL, *payload = NULL;

    if ((rc = store_card_get(conn, 0, 0, id, &card)) != STORE_OK)
      return rc == STORE_ENOTFOUND ? STORE_OK : rc;
    if (card_type_parse(card.type, &t) != 0 ||
        !(st = json_loads(card.state, 0, NULL))) {
      store_card_free(&card);
      return store_card_reminder_defer(conn, id, 0);
    }
    due = card_next_reminder(t, st, who, SRV_CARD_PEOPLE_MAX, &nw);
    if (!due || due > card.now_ms) {
      /* Nothing due (any more): keep the schedule in step. */
      json_decref(st);
      store_card_free(&card);
      return store_card_reminder_defer(conn, id, due);
    }
    /* Quiet hours: the reminder waits for the end of the latest
     * recipient's quiet stretch, so nobody gets it in theirs. */
    until_max = 0;
    for (size_t i = 0; i < nw && i < SRV_CARD_PEOPLE_MAX; i++) {
      bool q = false;
      int64_t until = 0;
      if (store_quiet_until(conn, who[i], card.now_ms, &q, &until) ==
              STORE_OK && q && until > until_max)
        until_max = until;
    }
    if (until_max > card.now_ms) {
      json_decref(st);
      store_card_free(&card);
      return store_card_reminder_defer(conn, id,
                                       until_max == INT64_MAX ? 0 : until_max);
    }
    ctx.now_ms = card.now_ms;
    ctx.card_id = card.id;
    ctx.ver = card.version;
    rc = card_action(t, st, "remind", NULL, &sys, &ctx, &ch, &err);
    json_decref(st);
    st = NULL;
    if (rc != 0) {
      srv_warn("card", "reminder of card %lld refused: %s", (long long)id,
               err.msg);
      card_change_clear(&ch);
      store_card_free(&card);
      return store_card_reminder_defer(conn, id, 0);
    }
    state = json_dumps(ch.state, JSON_COMPACT);
    payload = srv_card_payload_text(&ch);
    in.card_id = card.id;
    in.base_version = card.version;
    in.kind = ch.ev;
    in.state = state;
    in.payload = payload;
    in.parent_card_id = ch.parent ? ch.parent : card.parent_card_id;
    in.next_reminder_ms = card_next_reminder(t, ch.state, who, SRV_CARD_PEOPLE_MAX,
                                             &nw);
    rc = state && payload ? store_card_append(conn, &in, &out)
                          : STORE_EINTERNAL;
    free(state);
    free(payload);
    card_change_clear(&ch);
    store_card_free(&card);
    if (rc != STORE_OK)
      return rc;
    if (!out.raced) {
      *ev = out.ev;
      memset(&out.ev, 0, sizeof(out.ev));
      store_card_appended_clear(&out);
      *made = true;
      return STORE_OK;
    }
    store_card_appended_clear(&out);
  }
  return STORE_OK;
}

int srv_card_reminders_run(struct store_conn *conn, const char *node,
                           struct store_card_event **evs, size_t *n)
{
  int64_t *ids = NULL;
  size_t nids = 0;
  int rc;

  *evs = NULL;
  *n = 0;
  rc = store_card_reminders_claim(conn, node, REMIND_LEASE_S, REMIND_BATCH,
                                  &ids, &nids);
  if (rc != STORE_OK)
    return rc;
  if (nids && !(*evs = calloc(nids, sizeof(**evs)))) {
    free(ids);
    return STORE_EINTERNAL;
  }
  for (size_t i = 0; i < nids && rc == STORE_OK; i++) {
    bool made = false;
    rc = remind_one(conn, ids[i], &(*evs)[*n], &made);
    if (made)
      (*n)++;
  }
  free(ids);
  return rc;
}

/* ---- the task_after automation (sweeper thread) ---- */

#define TASK_BATCH 100

void srv_card_msg_clear(struct srv_card_msg *m)
{
  if (!m)
    return;
  store_card_posted_clear(&m->p);
  free(m->body);
  m->body = NULL;
}

int srv_card_tasks_run(struct store_conn *conn, struct srv_card_msg **made,
                       size_t *n)
{
  struct store_task_due *due = NULL;
  size_t nd = 0;
  int rc;

  *made = NULL;
  *n = 0;
  if ((rc = store_task_due(conn, TASK_BATCH, &due, &nd)) != STORE_OK)
    return rc;
  if (nd && !(*made = calloc(nd, sizeof(**made)))) {
    free(due);
    return STORE_EINTERNAL;
  }
  for (size_t i = 0; i < nd; i++) {
    struct store_task_due *d = &due[i];
    struct srv_card_msg *m = &(*made)[*n];
    struct srv_card_post_ctx pc = {0};
    char title[200];
    int64_t self = 0;
    json_t *b;

    snprintf(title, sizeof(title), "Unread%s%.80s: %.60s",
             *d->title ? " in " : "", d->title, d->body);
    b = json_pack("{s:s, s:s, s:[I], s:{s:s, s:I, s:I}}", "type", "task",
                  "title", title, "assignees", (json_int_t)d->user_id,
                  "source", "kind", "automation", "conv",
                  (json_int_t)d->conversation_id, "seq", (json_int_t)d->seq);
    m->body = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!m->body) {
      rc = STORE_EINTERNAL;
      break;
    }
    /* The card goes to the member's note-to-self conversation: who left
     * what unread is theirs, not the group's to see. Its message is the
     * member's own there (a message needs a sender); its events are the
     * system's. The cmid makes it once per item. */
    if ((rc = store_direct_get_or_create(conn, d->user_id, d->user_id,
                                         &self, NULL)) != STORE_OK) {
      free(m->body);
      m->body = NULL;
      if (rc == STORE_EUNAVAIL)
        break;
      rc = STORE_OK;           /* e.g. deactivated meanwhile: skip */
      continue;
    }
    snprintf(m->cmid, sizeof(m->cmid), "task-%lld-%lld",
             (long long)d->conversation_id, (long long)d->upto);
    m->sender = d->user_id;
    pc.p.id = d->user_id;
    pc.system = true;
    pc.conv = self;
    pc.task_conv = d->conversation_id;
    pc.cmid = m->cmid;
    pc.body = m->body;
    pc.len = strlen(m->body);
    pc.max_body = 0;
    pc.task_user = d->user_id;
    pc.task_marker = d->marker;
    pc.task_upto = d->upto;
    srv_card_post_compute(conn, &pc);
    if (pc.r.code == 0 && !pc.posted.dup) {
      m->p = pc.posted;
      (*n)++;
      continue;
    }
    store_card_posted_clear(&pc.posted);
    free(m->body);
    m->body = NULL;
    if (pc.r.code < 0) {
      srv_warn("card", "task card for user %lld in conversation %lld: %s "
               "(%s)", (long long)d->user_id, (long long)d->conversation_id,
               pc.r.err.msg, pc.r.err.field);
      if (pc.r.code == PROTO_E_DB_UNAVAILABLE) {
        rc = STORE_EUNAVAIL;
        break;
      }
    }
  }
  free(due);
  return rc;
}

