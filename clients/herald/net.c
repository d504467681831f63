/*
 * net.c — the client library's events turned into the model, and the
 * requests the screens need: the conversation list (titles, read
 * markers), members (names of senders), older history on demand.
 *
 * Sends, reads and DING acks go through the library's outbox (cmd.c, and
 * net_mark_read here): they work offline and are replayed in order after
 * a reconnect. Everything else is a plain request that needs a connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald_int.h"

bool net_online(const struct app *a)
{
  return a->conn && hc_conn_state(a->conn) == HC_STATE_ONLINE;
}

static void changed(struct app *a)
{
  a->dirty = true;
  a->cache_dirty = true;
}

/* ---- the conversation list ---- */

static void conv_list_cb(struct hc_conn *hc, int err,
                         const struct proto_frame *r, void *arg)
{
  struct app *a = arg;

  (void)hc;
  a->conv_list_id = 0;
  if (err) {
    ui_notice(a, "conversation list: %s", hc_strerror(err));
    return;
  }
  for (size_t i = 0; i < r->u.conv_list_result.nconvs; i++) {
    const struct proto_conv_info *ci = &r->u.conv_list_result.convs[i];
    struct hconv *c = model_conv_add(&a->m, ci->conv);
    uint64_t marker;

    if (!c)
      break;
    c->type = ci->type;
    if (ci->title.p && ci->title.len) {
      char *t = malloc(ci->title.len + 1);

      if (t) {
        memcpy(t, ci->title.p, ci->title.len);
        t[ci->title.len] = '\0';
        free(c->title);
        c->title = t;
      }
    }
    if (ci->last > c->last)
      c->last = ci->last;
    /* The server's read marker; a read still in the outbox is ahead of
     * it, so the marker only moves forward. */
    marker = ci->last >= ci->unread ? ci->last - ci->unread : 0;
    if (marker > c->read_upto)
      c->read_upto = marker;
    c->members = ci->members;
    if (!c->members_known)
      net_members(a, c);
  }
  changed(a);
  if (a->conv_list_again) {
    a->conv_list_again = false;
    net_refresh_convs(a);
  }
  a->read_due = true;
}

void net_refresh_convs(struct app *a)
{
  struct proto_frame f;

  if (!net_online(a))
    return;
  if (a->conv_list_id) {
    a->conv_list_again = true;
    return;
  }
  proto_frame_init(&f, PROTO_T_CONV_LIST);
  if (hc_request(a->conn, &f, conv_list_cb, a, &a->conv_list_id) != 0)
    a->conv_list_id = 0;
}

/* ---- request contexts ---- */

struct preq *preq_new(struct app *a, uint64_t conv, uint64_t seq)
{
  struct preq *q = calloc(1, sizeof *q);

  if (!q)
    return NULL;
  q->a = a;
  q->conv = conv;
  q->seq = seq;
  q->next = a->preqs;
  if (a->preqs)
    a->preqs->prev = q;
  a->preqs = q;
  return q;
}

void preq_done(struct preq *q)
{
  if (q->prev)
    q->prev->next = q->next;
  else
    q->a->preqs = q->next;
  if (q->next)
    q->next->prev = q->prev;
  free(q);
}

void preq_free_all(struct app *a)
{
  while (a->preqs)
    preq_done(a->preqs);
}

/* ---- members ---- */

static void members_cb(struct hc_conn *hc, int err,
                       const struct proto_frame *r, void *arg)
{
  struct preq *q = arg;
  struct app *a = q->a;
  struct hconv *c = model_conv(&a->m, q->conv);

  (void)hc;
  preq_done(q);
  if (c)
    c->members_pending = false;
  if (err) {
    if (c)
      c->members_known = false;
    return;
  }
  for (size_t i = 0; i < r->u.conv_members_result.nmembers; i++) {
    const struct proto_member *mb = &r->u.conv_members_result.members[i];

    model_user_set(&a->m, mb->uid, mb->login.p, mb->login.len, mb->name.p,
                   mb->name.len);
  }
  if (c)
    c->members = r->u.conv_members_result.nmembers;
  changed(a);
}

void net_members(struct app *a, struct hconv *c)
{
  struct preq *q;
  struct proto_frame f;

  if (!net_online(a) || c->members_known || c->members_pending ||
      !(q = preq_new(a, c->id, 0)))
    return;
  proto_frame_init(&f, PROTO_T_CONV_MEMBERS);
  f.u.conv_members.conv = c->id;
  if (hc_request(a->conn, &f, members_cb, q, NULL) != 0) {
    preq_done(q);
    return;
  }
  c->members_known = c->members_pending = true;
}

/* ---- history ---- */

static void history_cb(struct hc_conn *hc, int err,
                       const struct proto_frame *r, void *arg)
{
  struct preq *q = arg;
  struct app *a = q->a;
  struct hconv *c = model_conv(&a->m, q->conv);

  (void)hc;
  preq_done(q);
  if (!c)
    return;
  c->hist_pending = false;
  if (err) {
    ui_notice(a, "older messages: %s", hc_strerror(err));
    return;
  }
  for (size_t i = 0; i < r->u.page.nmsgs; i++) {
    const struct proto_msg *pm = &r->u.page.msgs[i];

    model_msg_add(c, pm, 0);
    if (pm->kind == PROTO_KIND_CARD && pm->card)   /* until its events */
      model_card_set(&a->m, pm->card, pm->conv, pm->seq, 0, pm->body.p,
                     pm->body.len);
  }
  if (!r->u.page.more)
    c->no_older = true;
  changed(a);
}

void net_history(struct app *a, struct hconv *c)
{
  struct preq *q;
  struct proto_frame f;
  uint64_t before = c->n ? c->msgs[0].seq : c->last + 1;

  if (c->hist_pending || c->no_older || before <= 1)
    return;
  if (!net_online(a)) {
    ui_notice(a, "offline: older messages load when connected");
    return;
  }
  if (!(q = preq_new(a, c->id, 0)))
    return;
  proto_frame_init(&f, PROTO_T_HISTORY);
  f.u.history.conv = c->id;
  f.u.history.before = before;
  f.u.history.limit = HERALD_HISTORY_PAGE;
  if (hc_request(a->conn, &f, history_cb, q, NULL) != 0) {
    preq_done(q);
    return;
  }
  c->hist_pending = true;
}

/* ---- reads ---- */

void net_mark_read(struct app *a)
{
  struct hconv *c = ui_current(a);
  int rc;

  if (!c || c->last <= c->read_upto || a->ov != OV_NONE || !a->conn)
    return;
  /* Through the outbox: offline it waits there with the time it
   * happened (hc_mark_read stamps it now). */
  if ((rc = hc_mark_read(a->conn, c->id, c->last, 0, NULL)) != 0) {
    ui_notice(a, "cannot record the read: %s", hc_strerror(rc));
    return;
  }
  c->read_upto = c->last;
  changed(a);
}

/* ---- start-up: unsent messages ---- */

static int pending_cb(uint64_t oid, const struct proto_frame *f, void *arg)
{
  struct app *a = arg;
  char cmid[HC_CMID_SIZE];

  if (f->type != PROTO_T_SEND)
    return 0;
  snprintf(cmid, sizeof cmid, "%.*s", (int)f->u.send.cmid.len,
           f->u.send.cmid.p ? f->u.send.cmid.p : "");
  if (f->u.send.kind == PROTO_KIND_CARD)      /* not its JSON */
    model_pend_add(&a->m, oid, f->u.send.conv, cmid, "[card]", 6, false);
  else
    model_pend_add(&a->m, oid, f->u.send.conv, cmid, f->u.send.body.p,
                   f->u.send.body.len, f->u.send.kind == PROTO_KIND_DING);
  return 0;
}

void net_load_pending(struct app *a)
{
  hc_outbox_foreach(a->conn, pending_cb, a);
}

/* ---- events ---- */

static void on_msg(struct app *a, const struct proto_msg *pm)
{
  struct hconv *c = model_conv(&a->m, pm->conv);
  bool fresh = !c;

  if (!c && !(c = model_conv_add(&a->m, pm->conv)))
    return;
  if (pm->from == a->m.me && pm->cmid.p)
    model_pend_remove_cmid(&a->m, pm->cmid.p, pm->cmid.len);
  model_msg_add(c, pm, HERALD_CACHE_PER_CONV * 4);
  if (pm->kind == PROTO_KIND_CARD && pm->card)
    /* The body is the card as posted: shown until its events arrive. */
    model_card_set(&a->m, pm->card, pm->conv, pm->seq, 0, pm->body.p,
                   pm->body.len);
  if (pm->seq > c->last)
    c->last = pm->seq;
  if (pm->from == a->m.me && pm->seq > c->read_upto &&
      c->read_upto + 1 == pm->seq)
    c->read_upto = pm->seq;            /* my own message is not unread */
  if (fresh)
    net_refresh_convs(a);
  else if (!model_user(&a->m, pm->from) && pm->from != a->m.me &&
           !c->members_pending) {
    c->members_known = false;          /* a new member: learn the name */
    net_members(a, c);
  }
  changed(a);
  /* One read per loop iteration, not one per message of a replay page
   * (each read is an fsync'd outbox entry). */
  a->read_due = true;
}

static bool assigned_to_me(const struct app *a, const struct hcard *k)
{
  const json_t *v;
  size_t i;

  if (k->type != CARD_TASK)
    return false;
  json_array_foreach(json_object_get(k->state, "assignees"), i, v)
    if (json_integer_value(v) == (json_int_t)a->m.me)
      return true;
  return false;
}

static void on_card_event(struct app *a, const struct proto_card_event *e)
{
  int rc = model_card_apply(&a->m, e->card, e->ver, e->conv, e->seq,
                            e->payload.p, e->payload.len);
  struct hcard *k = rc == 1 ? model_card(&a->m, e->card) : NULL;

  if (!k)
    return;
  a->cache_dirty = true;
  changed(a);
  /* Live news that concerns me. */
  if (e->ev.len == 7 && memcmp(e->ev.p, "created", 7) == 0 &&
      e->actor != a->m.me && assigned_to_me(a, k))
    ui_notice(a, "new task for you: #c%" PRIu64 " %s", k->id,
              json_string_value(json_object_get(k->state, "title")));
  else if (e->ev.len == 8 && memcmp(e->ev.p, "reminder", 8) == 0)
    ui_notice(a, "reminder: card #c%" PRIu64, k->id);
  else if (e->ev.len == 6 && memcmp(e->ev.p, "locked", 6) == 0)
    ui_notice(a, "interview #c%" PRIu64 " is signed by both and locked",
              k->id);
}

static void on_receipt(struct app *a, const struct proto_receipt *r)
{
  struct hconv *c = model_conv(&a->m, r->conv);
  struct hmsg *x = c ? model_msg(c, r->seq) : NULL;

  if (x) {
    x->rd = r->read;
    x->total = r->total;
    x->tracked = true;
    changed(a);
  }
}

static void on_ding_update(struct app *a, const struct proto_ding_update *u)
{
  struct hconv *c = model_conv(&a->m, u->conv);
  struct hmsg *x = c ? model_msg(c, u->seq) : NULL;

  if (u->row.uid == a->m.me) {
    /* My own row: a DING waiting for me (also found on replay, when the
     * live alert was missed), or acknowledged from another device. */
    if (u->row.acked) {
      model_banner_remove(&a->m, u->conv, u->seq);
    } else if (!model_banner(&a->m, u->conv, u->seq) && u->from != a->m.me) {
      struct hbanner b = {.conv = u->conv, .seq = u->seq, .from = u->from,
                          .urg = u->urg};

      model_banner_add(&a->m, &b);
    }
  }
  if (x && (x->from == a->m.me || u->from == a->m.me) && u->row.uid != a->m.me)
    model_ding_row(x, u->row.uid, u->row.acked);
  changed(a);
}

static void on_ding_alert(struct app *a, const struct proto_ding_alert *d)
{
  struct hbanner b = {.conv = d->conv, .seq = d->seq, .from = d->from,
                      .urg = d->urg, .about = d->about};
  bool silent = d->silent || (a->in_quiet && !d->overrode_quiet);

  model_banner_add(&a->m, &b);
  ui_bell(a, silent);
  changed(a);
}

void net_set_quiet(struct app *a, const struct proto_quiet_state *q)
{
  a->in_quiet = q->in_quiet;
  a->quiet_until = q->until;
  a->quiet_next = q->next;
  if (q->tz.p && q->tz.len && q->tz.len < sizeof a->tz) {
    memcpy(a->tz, q->tz.p, q->tz.len);
    a->tz[q->tz.len] = '\0';
  }
  a->dirty = true;
}

static void on_welcome(struct app *a, const struct proto_welcome *w)
{
  struct model *m = &a->m;
  char *l = malloc(w->login.len + 1), *n = malloc(w->name.len + 1);

  if (l && n) {
    memcpy(l, w->login.p, w->login.len);
    l[w->login.len] = '\0';
    memcpy(n, w->name.p, w->name.len);
    n[w->name.len] = '\0';
    free(m->my_login);
    free(m->my_name);
    m->my_login = l;
    m->my_name = n;
  } else {
    free(l);
    free(n);
  }
  m->me = w->uid;
  m->role = w->role;
  model_user_set(m, w->uid, w->login.p, w->login.len, w->name.p, w->name.len);
  net_set_quiet(a, &w->quiet);
  for (size_t i = 0; i < m->nconvs; i++)
    m->convs[i].members_known = false; /* names may have changed */
  if (!a->device_key_done)
    app_device_key_register(a);
  changed(a);
}

void net_on_event(struct hc_conn *hc, const struct hc_event *ev, void *arg)
{
  struct app *a = arg;

  (void)hc;
  switch (ev->type) {
  case HC_EV_STATE:
    a->retry_in_ms = ev->state == HC_STATE_OFFLINE ? ev->retry_ms : 0;
    if (ev->state == HC_STATE_STOPPED && a->logging_out) {
      app_quit(a);
    } else if (ev->state == HC_STATE_STOPPED &&
               (ev->err == PROTO_E_BAD_CREDENTIALS ||
                ev->err == PROTO_E_TOKEN_EXPIRED)) {
      /* Ask for the password again on the input line. */
      a->secret = true;
      el_clear(&a->input);
      ui_notice(a, "%s: type your password and press Enter",
                ev->err == PROTO_E_TOKEN_EXPIRED ? "session expired"
                                                 : "login refused");
    } else if (ev->state == HC_STATE_STOPPED) {
      ui_notice(a, "stopped: %s (/reconnect to try again)",
                hc_strerror(ev->err));
    }
    a->dirty = true;
    break;
  case HC_EV_WELCOME:
    on_welcome(a, &ev->frame->u.welcome);
    break;
  case HC_EV_MSG:
    on_msg(a, ev->msg);
    break;
  case HC_EV_SYNCED:
    net_refresh_convs(a);
    a->dirty = true;
    break;
  case HC_EV_RECEIPT:
    on_receipt(a, ev->receipt);
    break;
  case HC_EV_DING_UPDATE:
    on_ding_update(a, ev->ding_update);
    break;
  case HC_EV_DING_ALERT:
    on_ding_alert(a, ev->ding_alert);
    break;
  case HC_EV_CARD_EVENT:
    on_card_event(a, ev->card_event);
    break;
  case HC_EV_REMIND: {
    struct hconv *c = model_conv(&a->m, ev->remind->conv);
    char buf[64];

    if (c)
      ui_notice(a, "reminder: %" PRIu64 " unread in %s", ev->remind->n,
                model_title(&a->m, c, buf, sizeof buf));
    break;
  }
  case HC_EV_FRAME:
    if (ev->frame->type == PROTO_T_QUIET_STATE)
      net_set_quiet(a, &ev->frame->u.quiet_state);
    break;
  case HC_EV_OUTBOX_DONE:
    if (ev->otype == PROTO_T_SEND) {
      for (size_t i = 0; i < a->m.npend; i++)
        if (a->m.pend[i].oid == ev->oid)
          a->m.pend[i].seq = ev->frame->u.ack.seq;
      /* The message itself arrives as a msg (every device of the sender
       * gets it); drop the pending line if it already did. */
      {
        struct hconv *c = model_conv(&a->m, ev->frame->u.ack.conv);

        if (c && model_msg(c, ev->frame->u.ack.seq))
          model_pend_remove_oid(&a->m, ev->oid);
      }
    }
    a->dirty = true;
    break;
  case HC_EV_OUTBOX_FAILED:
    if (ev->otype == PROTO_T_SEND)
      model_pend_remove_oid(&a->m, ev->oid);
    /* Sends and card actions: the error's name, field and message (a
     * card refused by the server names its field, e.g. /due). */
    if (ev->otype == PROTO_T_CARD_ACTION || ev->otype == PROTO_T_SEND)
      cmd_card_error(a, ev->otype == PROTO_T_SEND ? "send refused"
                                                  : "card action refused",
                     ev->err, ev->frame);
    else
      ui_notice(a, "%s refused: %s%s%.*s", proto_type_name(ev->otype),
                hc_strerror(ev->err), ev->frame ? " — " : "",
                ev->frame ? (int)ev->frame->u.error.message.len : 0,
                ev->frame ? ev->frame->u.error.message.p : "");
    break;
  case HC_EV_ERROR:
    if (ev->frame && ev->frame->type == PROTO_T_ERROR)
      ui_notice(a, "server: %.*s", (int)ev->frame->u.error.message.len,
                ev->frame->u.error.message.p);
    break;
  default:
    break;
  }
}
