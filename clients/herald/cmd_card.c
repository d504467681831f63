/*
 * cmd_card.c — the card commands: /task, /okr, /interview, /sign.
 *
 * New cards are `send`s of kind card and task/OKR actions are
 * `card_action`s, both through the library's outbox: they work offline and
 * go out on reconnect, exactly once (cmid). Task and OKR actions carry no
 * `base`: what they do is checked against the card's state when they
 * arrive (accepting a task that is no longer open is INVALID_ACTION), so a
 * queued one is not refused only because someone commented meanwhile.
 * Interview edits (card_edit, based on the version shown), submit/amend
 * (with that base) and signatures (card_sign, which signs the current
 * version) are about the exact version on screen: they need the server
 * and say so offline.
 *
 * The words are parsed by cardparse.c; refusals show on the feedback line
 * with the error's name, field and message (cmd_card_error).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hcrypto.h"
#include "herald_int.h"

#define MAXW 64

void cmd_card_error(struct app *a, const char *what, int err,
                    const struct proto_frame *f)
{
  if (f && f->type == PROTO_T_ERROR)
    ui_notice(a, "%s: %.*s%s%.*s — %.*s", what, (int)f->u.error.name.len,
              f->u.error.name.p ? f->u.error.name.p : "",
              f->u.error.field.len ? " at " : "",
              (int)f->u.error.field.len,
              f->u.error.field.p ? f->u.error.field.p : "",
              (int)f->u.error.message.len,
              f->u.error.message.p ? f->u.error.message.p : "");
  else
    ui_notice(a, "%s: %s", what, hc_strerror(err));
}

/* The card a word names (#c12, c12: card id; #7, 7: the message #7 of the
 * conversation shown), or NULL with a notice. */
static struct hcard *card_arg(struct app *a, const char *w, const char *usage)
{
  struct hconv *c = ui_current(a);
  struct hcard *k = NULL;
  bool is_card;
  uint64_t n;

  if (!w || !cc_ref(w, &is_card, &n)) {
    ui_notice(a, "usage: %s", usage);
    return NULL;
  }
  if (is_card) {
    k = model_card(&a->m, n);
  } else if (c) {
    struct hmsg *x = model_msg(c, n);

    k = model_card_at(&a->m, c->id, n);
    if (!k && x && x->card)
      k = model_card(&a->m, x->card);
  }
  if (!k)
    ui_notice(a, "%s: no card %s here (cards show #cID in their box)", w,
              is_card ? "with this id" : "at this message");
  return k;
}

static bool card_is(struct app *a, const struct hcard *k, enum card_type t)
{
  if (k->type == t)
    return true;
  ui_notice(a, "#c%" PRIu64 " is a%s %s card, not a%s %s", k->id,
            k->type == CARD_OKR || k->type == CARD_INTERVIEW ? "n" : "",
            card_type_name(k->type), t == CARD_TASK ? "" : "n",
            card_type_name(t));
  return false;
}

static void post(struct app *a, const char *json, const char *what)
{
  struct hconv *c = ui_current(a);
  struct proto_frame f;
  char cmid[HC_CMID_SIZE], desc[160];
  uint64_t oid;
  int rc;

  if (!c) {
    ui_notice(a, "no conversation shown: /join one first");
    return;
  }
  proto_frame_init(&f, PROTO_T_SEND);
  f.u.send.conv = c->id;
  f.u.send.kind = PROTO_KIND_CARD;
  f.u.send.body = (struct proto_str){json, strlen(json)};
  if ((rc = hc_outbox_add(a->conn, &f, &oid, cmid)) != 0) {
    cmd_card_error(a, what, rc, NULL);
    return;
  }
  snprintf(desc, sizeof desc, "[%s card]", what);
  model_pend_add(&a->m, oid, c->id, cmid, desc, strlen(desc), false);
  a->dirty = true;
}

static void act(struct app *a, const struct hcard *k, const char *action,
                const char *args, bool with_base)
{
  struct proto_frame f;
  int rc;

  proto_frame_init(&f, PROTO_T_CARD_ACTION);
  f.u.card_action.card = k->id;
  f.u.card_action.action = (struct proto_str){action, strlen(action)};
  if (args)
    f.u.card_action.args = (struct proto_str){args, strlen(args)};
  if (with_base)
    f.u.card_action.base = k->ver;
  if ((rc = hc_outbox_add(a->conn, &f, NULL, NULL)) != 0)
    cmd_card_error(a, action, rc, NULL);
  else
    ui_notice(a, "#c%" PRIu64 " %s: %s", k->id, action,
              net_online(a) ? "sent" : "queued (offline)");
}

/* ---- requests with a reply (edits, signatures) ---- */

static void reply_cb(struct hc_conn *hc, int err,
                     const struct proto_frame *reply, void *arg)
{
  struct preq *q = arg;
  struct app *a = q->a;
  uint64_t card = q->conv;
  const char *what = q->seq == 1 ? "sign" : "edit";

  (void)hc;
  preq_done(q);
  if (err) {
    cmd_card_error(a, what, err, reply);
    return;
  }
  ui_notice(a, "#c%" PRIu64 " %s: done (version %" PRIu64 ")", card, what,
            reply->u.result.ver);
}

static void request(struct app *a, const struct proto_frame *f,
                    uint64_t card, bool sign)
{
  struct preq *q = preq_new(a, card, sign ? 1 : 0);
  int rc;

  if (!q)
    return;
  if ((rc = hc_request(a->conn, f, reply_cb, q, NULL)) != 0) {
    preq_done(q);
    cmd_card_error(a, sign ? "sign" : "edit", rc, NULL);
  }
}

static void edit(struct app *a, const struct hcard *k, const char *path,
                 const char *value)
{
  struct proto_frame f;

  if (!k->ver) {
    ui_notice(a, "#c%" PRIu64 ": its state has not arrived yet", k->id);
    return;
  }
  proto_frame_init(&f, PROTO_T_CARD_EDIT);
  f.u.card_edit.card = k->id;
  f.u.card_edit.path = (struct proto_str){path, strlen(path)};
  f.u.card_edit.value = (struct proto_str){value, strlen(value)};
  f.u.card_edit.base = k->ver;
  request(a, &f, k->id, false);
}

/* ---- /task ---- */

void cmd_task(struct app *a, char *args)
{
  static const char usage[] =
    "/task TITLE [@USER...] [due YYYY-MM-DD] [!priority] | "
    "/task accept|done|status|comment CARD ...";
  char *w[MAXW], err[256], *json = NULL, st[80];
  size_t n = cc_split(args, w, MAXW);
  struct hcard *k;

  if (n == 0) {
    ui_notice(a, "usage: %s", usage);
    return;
  }
  if (strcmp(w[0], "accept") && strcmp(w[0], "done") &&
      strcmp(w[0], "status") && strcmp(w[0], "comment")) {
    if (cc_task_body(&a->m, w, n, &json, err, sizeof err) != 0)
      ui_notice(a, "/task: %s", err);
    else
      post(a, json, "task");
    free(json);
    return;
  }
  if (!(k = card_arg(a, n > 1 ? w[1] : NULL, usage)) ||
      !card_is(a, k, CARD_TASK))
    return;
  if (strcmp(w[0], "accept") == 0) {
    act(a, k, "accept", NULL, false);
  } else if (strcmp(w[0], "done") == 0) {
    act(a, k, "set_status", "{\"status\":\"done\"}", false);
  } else if (strcmp(w[0], "status") == 0) {
    if (n != 3 || (strcmp(w[2], "open") && strcmp(w[2], "in_progress") &&
                   strcmp(w[2], "done") && strcmp(w[2], "cancelled"))) {
      ui_notice(a, "usage: /task status CARD open|in_progress|done|cancelled");
      return;
    }
    snprintf(st, sizeof st, "{\"status\":\"%s\"}", w[2]);
    act(a, k, "set_status", st, false);
  } else {
    json_t *o;
    char text[2048] = "";

    for (size_t i = 2; i < n; i++)
      snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s",
               i > 2 ? " " : "", w[i]);
    if (!*text) {
      ui_notice(a, "usage: /task comment CARD TEXT");
      return;
    }
    o = json_pack("{s:s}", "text", text);
    json = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (json)
      act(a, k, "comment", json, false);
    free(json);
  }
}

/* ---- /okr ---- */

void cmd_okr(struct app *a, char *args)
{
  static const char usage[] =
    "/okr new OBJECTIVE [@OWNER] period P kr \"TITLE\" START TARGET [UNIT]... "
    "| /okr checkin CARD KR# VALUE [CONFIDENCE] [NOTE]";
  char *w[MAXW], err[256], *json = NULL;
  size_t n = cc_split(args, w, MAXW);
  struct hcard *k;

  if (n && strcmp(w[0], "new") == 0) {
    if (cc_okr_body(&a->m, w + 1, n - 1, &json, err, sizeof err) != 0)
      ui_notice(a, "/okr: %s", err);
    else
      post(a, json, "okr");
  } else if (n && strcmp(w[0], "checkin") == 0) {
    if (!(k = card_arg(a, n > 1 ? w[1] : NULL, usage)) ||
        !card_is(a, k, CARD_OKR))
      return;
    if (cc_checkin_args(w + 2, n - 2, &json, err, sizeof err) != 0)
      ui_notice(a, "/okr: %s", err);
    else
      act(a, k, "checkin", json, false);
  } else {
    ui_notice(a, "usage: %s", usage);
  }
  free(json);
}

/* ---- /interview ---- */

static void interview_item(struct app *a, const struct hcard *k, char **w,
                           size_t n)
{
  json_int_t owner = 0;
  char due[21] = "", text[1024] = "", *json;
  const struct huser *u;
  json_t *o;
  size_t i = 0;

  if (n < 2 || w[0][0] != '@') {
    ui_notice(a, "usage: /interview item CARD @OWNER [due YYYY-MM-DD] TEXT");
    return;
  }
  if (a->m.my_login && strcmp(w[0] + 1, a->m.my_login) == 0)
    owner = (json_int_t)a->m.me;
  else if ((u = model_user_by_login(&a->m, w[0] + 1)))
    owner = (json_int_t)u->uid;
  if (!owner) {
    ui_notice(a, "unknown user %s", w[0]);
    return;
  }
  i = 1;
  if (i + 1 < n && strcmp(w[i], "due") == 0) {
    if (!cc_date(w[i + 1], due)) {
      ui_notice(a, "due %s: use YYYY-MM-DD", w[i + 1]);
      return;
    }
    i += 2;
  }
  for (; i < n; i++)
    snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s",
             *text ? " " : "", w[i]);
  if (!*text) {
    ui_notice(a, "usage: /interview item CARD @OWNER [due YYYY-MM-DD] TEXT");
    return;
  }
  o = json_pack("{s:s, s:I}", "text", text, "owner", owner);
  if (o && *due)
    json_object_set_new(o, "due", json_string(due));
  json = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (json)
    edit(a, k, "/sections/action_items/-", json);
  free(json);
}

void cmd_interview(struct app *a, char *args)
{
  static const char usage[] =
    "/interview new @EMPLOYEE period P | edit CARD SECTION TEXT | "
    "item CARD @OWNER [due DATE] TEXT | submit CARD | amend CARD";
  char *w[MAXW], err[256], *json = NULL, path[64];
  size_t n = cc_split(args, w, MAXW);
  struct hcard *k;

  if (n == 0) {
    ui_notice(a, "usage: %s", usage);
    return;
  }
  if (strcmp(w[0], "new") == 0) {
    if (cc_interview_body(&a->m, w + 1, n - 1, &json, err, sizeof err) != 0)
      ui_notice(a, "/interview: %s", err);
    else
      post(a, json, "interview");
    free(json);
    return;
  }
  if (strcmp(w[0], "edit") && strcmp(w[0], "item") &&
      strcmp(w[0], "submit") && strcmp(w[0], "amend")) {
    ui_notice(a, "usage: %s", usage);
    return;
  }
  if (!(k = card_arg(a, n > 1 ? w[1] : NULL, usage)) ||
      !card_is(a, k, CARD_INTERVIEW))
    return;
  if (!cmd_need_online(a, "/interview"))
    return;
  if (strcmp(w[0], "submit") == 0 || strcmp(w[0], "amend") == 0) {
    act(a, k, w[0], NULL, true);
  } else if (strcmp(w[0], "item") == 0) {
    interview_item(a, k, w + 2, n - 2);
  } else {
    char text[4096] = "";
    json_t *v;

    if (n < 4 || (strcmp(w[2], "development_plan") &&
                  strcmp(w[2], "behaviour") && strcmp(w[2], "notes"))) {
      ui_notice(a, "usage: /interview edit CARD development_plan|behaviour|"
                "notes TEXT");
      return;
    }
    for (size_t i = 3; i < n; i++)
      snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s",
               i > 3 ? " " : "", w[i]);
    snprintf(path, sizeof path, "/sections/%s", w[2]);
    v = json_string(text);
    json = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    if (json)
      edit(a, k, path, json);
    free(json);
  }
}

/* ---- /sign ---- */

void cmd_sign(struct app *a, char *args)
{
  char *w[4];
  size_t n = cc_split(args, w, 4);
  struct hcard *k;
  uint8_t hash[CARD_HASH_LEN], msg[CARD_SIGN_MSG_LEN], sig[CARD_SIG_LEN];
  const char *dev;
  struct proto_frame f;

  if (!(k = card_arg(a, n ? w[0] : NULL, "/sign CARD")) ||
      !card_is(a, k, CARD_INTERVIEW) || !cmd_need_online(a, "/sign"))
    return;
  if (!a->have_sign_key) {
    ui_notice(a, "/sign: this device has no signing key (see the message "
              "at start-up)");
    return;
  }
  if (!k->ver) {
    ui_notice(a, "#c%" PRIu64 ": its state has not arrived yet", k->id);
    return;
  }
  /* What is signed is the content of the version on screen; the server
   * refuses it (STALE_VERSION) when the card moved on meanwhile. */
  if (card_content_hash(k->type, k->state, hash) != 0) {
    ui_notice(a, "/sign: out of memory");
    return;
  }
  card_sign_message((int64_t)k->id, (int64_t)k->ver, hash, msg);
  hcr_sign(a->sign_sk, msg, sizeof msg, sig);
  dev = hc_conn_device(a->conn);
  proto_frame_init(&f, PROTO_T_CARD_SIGN);
  f.u.card_sign.card = k->id;
  f.u.card_sign.ver = k->ver;
  f.u.card_sign.hash = (struct proto_str){(const char *)hash, sizeof hash};
  f.u.card_sign.sig = (struct proto_str){(const char *)sig, sizeof sig};
  f.u.card_sign.dev = (struct proto_str){dev, strlen(dev)};
  request(a, &f, k->id, true);
}
