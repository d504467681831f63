/*
 * h_conv.c — conversations: list, create (group or 1:1), members, add a
 * member. A conversation someone cannot see is NOT_FOUND, never FORBIDDEN,
 * so that non-members cannot learn it exists.
 *
 * When membership changes, the affected users' connected devices are
 * subscribed at once, so they receive the conversation's messages without
 * reconnecting.
 */
#include "dbpool_int.h"
#include "delivery_int.h"
#include "dispatch_int.h"
#include "log_int.h"
#include "server_int.h"
#include "session_int.h"

#include "store.h"

#include <stdlib.h>
#include <string.h>

enum conv_op { OP_LIST, OP_CREATE, OP_MEMBERS, OP_ADD };

struct conv_job {
  struct srv_dbjob job;
  struct srv_session *s;
  uint64_t req;
  enum conv_op op;
  int code;                       /* proto code for a refusal, 0 = ok */
  const char *field;              /* offending field for the error */
  /* inputs */
  int64_t conv, uid;
  int direct;
  char title[STORE_TITLE_MAX + 1];
  enum store_tracking tracking;
  struct store_automation automation;
  int64_t *members;
  size_t nmembers;
  /* outputs */
  struct store_conv_summary *convs;
  size_t nconvs;
  struct store_member *mem;
  size_t nmem;
  int64_t last_seq;
};

static int64_t principal(const struct srv_session *s,
                         enum store_principal_kind *kind)
{
  *kind = s->bot_id ? STORE_PRINCIPAL_BOT : STORE_PRINCIPAL_USER;
  return s->bot_id ? s->bot_id : s->uid;
}

static void conv_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct conv_job *cj = (struct conv_job *)job;
  struct store_conv_summary mine;
  enum store_principal_kind kind;
  int64_t me = principal(cj->s, &kind);
  bool created;
  int rc = STORE_EUNAVAIL;

  if (!conn)
    goto out;
  switch (cj->op) {
  case OP_LIST:
    rc = store_principal_conversations(conn, kind, me, &cj->convs,
                                       &cj->nconvs);
    break;
  case OP_CREATE:
    if (cj->direct) {
      rc = store_direct_get_or_create(conn, me, cj->members[0], &cj->conv,
                                      &created);
    } else {
      /* The creator becomes the owner, who may set the automation. */
      rc = store_group_create_automated(conn, cj->title, me, cj->tracking,
                                        cj->members, cj->nmembers,
                                        &cj->automation, &cj->conv);
      if (rc == STORE_EEXISTS)
        cj->field = "title";
    }
    if (rc == STORE_ENOTFOUND)
      cj->field = "members";
    break;
  case OP_MEMBERS:
    if ((rc = store_conversation_get(conn, kind, me, cj->conv, &mine)) == 0)
      rc = store_conversation_members(conn, cj->conv, &cj->mem, &cj->nmem);
    break;
  case OP_ADD:
    if ((rc = store_conversation_get(conn, kind, me, cj->conv, &mine)) != 0)
      break;
    if (mine.direct) {
      cj->code = PROTO_E_BAD_VALUE;
      cj->field = "conv";
      break;
    }
    if (mine.role != STORE_OWNER && cj->s->role != STORE_ROLE_ADMIN) {
      cj->code = PROTO_E_FORBIDDEN;
      break;
    }
    cj->last_seq = mine.last_seq;
    rc = store_group_add_member(conn, cj->conv, cj->uid, STORE_MEMBER);
    if (rc == STORE_ENOTFOUND || rc == STORE_EINVAL)
      cj->field = "uid";
    break;
  }
out:
  job->rc = rc;
  if (!cj->code && rc != STORE_OK)
    cj->code = rc == STORE_EEXISTS ? PROTO_E_DUPLICATE : srv_code_from_store(rc);
}

/* Subscribes the connected devices of user `uid` that follow live
 * traffic to `conv`, from `after`. */
static void subscribe_user(struct srv_server *srv, int64_t uid, int64_t conv,
                           int64_t after)
{
  for (struct srv_session *s = srv_sessions_of_user(srv, uid); s;
       s = s->user_next)
    if (s->live && srv_session_open(s))
      srv_delivery_subscribe(srv, s, conv, after, after, 0, 0);
}

static void reply_list(struct srv_session *s, struct conv_job *cj)
{
  struct proto_conv_info *items = calloc(cj->nconvs ? cj->nconvs : 1,
                                         sizeof(*items));
  struct proto_frame f;

  if (!items) {
    srv_reply_error(s, cj->req, PROTO_E_NOMEM, NULL, NULL);
    return;
  }
  for (size_t i = 0; i < cj->nconvs; i++) {
    const struct store_conv_summary *c = &cj->convs[i];
    items[i].conv = (uint64_t)c->id;
    items[i].type = c->direct ? PROTO_CONV_DIRECT : PROTO_CONV_GROUP;
    items[i].title = (struct proto_str){c->title, strlen(c->title)};
    items[i].role = c->role == STORE_OWNER ? PROTO_MEMBER_OWNER
                                           : PROTO_MEMBER_MEMBER;
    items[i].policy = c->tracking == STORE_TRACK_FLAGGED ? PROTO_POLICY_FLAGGED
                      : c->tracking == STORE_TRACK_OFF   ? PROTO_POLICY_OFF
                                                         : PROTO_POLICY_ALL;
    items[i].last = (uint64_t)c->last_seq;
    items[i].unread = c->last_seq > c->read_seq
                          ? (uint64_t)(c->last_seq - c->read_seq) : 0;
    items[i].members = (uint64_t)c->member_count;
  }
  proto_frame_init(&f, PROTO_T_CONV_LIST_RESULT);
  f.id = cj->req;
  f.u.conv_list_result.convs = items;
  f.u.conv_list_result.nconvs = cj->nconvs;
  srv_session_send(s, &f);
  free(items);
}

static void reply_members(struct srv_session *s, struct conv_job *cj)
{
  struct proto_member *items = calloc(cj->nmem ? cj->nmem : 1,
                                      sizeof(*items));
  struct proto_frame f;

  if (!items) {
    srv_reply_error(s, cj->req, PROTO_E_NOMEM, NULL, NULL);
    return;
  }
  for (size_t i = 0; i < cj->nmem; i++) {
    const struct store_member *m = &cj->mem[i];
    items[i].uid = (uint64_t)m->user_id;
    items[i].login = (struct proto_str){m->login, strlen(m->login)};
    items[i].name = (struct proto_str){m->display_name,
                                       strlen(m->display_name)};
    items[i].role = m->role == STORE_OWNER ? PROTO_MEMBER_OWNER
                                           : PROTO_MEMBER_MEMBER;
    items[i].kind = PROTO_ACTOR_USER;
  }
  proto_frame_init(&f, PROTO_T_CONV_MEMBERS_RESULT);
  f.id = cj->req;
  f.u.conv_members_result.conv = (uint64_t)cj->conv;
  f.u.conv_members_result.members = items;
  f.u.conv_members_result.nmembers = cj->nmem;
  srv_session_send(s, &f);
  free(items);
}

static void conv_done(struct srv_dbjob *job)
{
  struct conv_job *cj = (struct conv_job *)job;
  struct srv_session *s = cj->s;
  struct srv_server *srv = s->srv;
  struct proto_frame f;

  s->inflight--;
  if (cj->code) {
    srv_reply_error(s, cj->req, cj->code, cj->field, NULL);
    goto out;
  }
  switch (cj->op) {
  case OP_LIST:
    reply_list(s, cj);
    break;
  case OP_MEMBERS:
    reply_members(s, cj);
    break;
  case OP_CREATE:
  case OP_ADD:
    if (cj->op == OP_CREATE) {
      subscribe_user(srv, s->uid, cj->conv, 0);
      for (size_t i = 0; i < cj->nmembers; i++)
        subscribe_user(srv, cj->members[i], cj->conv, 0);
    } else {
      subscribe_user(srv, cj->uid, cj->conv, cj->last_seq);
    }
    proto_frame_init(&f, PROTO_T_RESULT);
    f.id = cj->req;
    f.u.result.conv = (uint64_t)cj->conv;
    srv_session_send(s, &f);
    break;
  }
out:
  srv_session_unref(s);
  free(cj->members);
  free(cj->convs);
  free(cj->mem);
  free(cj);
}

static struct conv_job *conv_job_new(struct srv_session *s,
                                     const struct proto_frame *f,
                                     enum conv_op op)
{
  struct conv_job *cj = calloc(1, sizeof(*cj));

  if (!cj)
    return NULL;
  cj->job.run = conv_run;
  cj->job.done = conv_done;
  cj->s = srv_session_ref(s);
  cj->req = f->id;
  cj->op = op;
  return cj;
}

static int submit(struct srv_session *s, struct conv_job *cj)
{
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &cj->job);
  return 0;
}

int srv_h_conv_list(struct srv_session *s, const struct proto_frame *f)
{
  struct conv_job *cj = conv_job_new(s, f, OP_LIST);
  return cj ? submit(s, cj) : PROTO_E_NOMEM;
}

int srv_h_conv_members(struct srv_session *s, const struct proto_frame *f)
{
  struct conv_job *cj = conv_job_new(s, f, OP_MEMBERS);

  if (!cj)
    return PROTO_E_NOMEM;
  cj->conv = (int64_t)f->u.conv_members.conv;
  return submit(s, cj);
}

int srv_h_conv_add_member(struct srv_session *s, const struct proto_frame *f)
{
  struct conv_job *cj = conv_job_new(s, f, OP_ADD);

  if (!cj)
    return PROTO_E_NOMEM;
  cj->conv = (int64_t)f->u.conv_add_member.conv;
  cj->uid = (int64_t)f->u.conv_add_member.uid;
  return submit(s, cj);
}

int srv_h_conv_create(struct srv_session *s, const struct proto_frame *f)
{
  const struct proto_conv_create *in = &f->u.conv_create;
  struct conv_job *cj;

  if (in->type == PROTO_CONV_DIRECT && in->nmembers != 1) {
    srv_reply_error(s, f->id, PROTO_E_BAD_VALUE, "members",
                    "a direct conversation has exactly one other member");
    return 0;
  }
  if (in->type == PROTO_CONV_GROUP && in->title.len == 0) {
    srv_reply_error(s, f->id, PROTO_E_MISSING, "title",
                    "a group needs a title");
    return 0;
  }
  if (!(cj = conv_job_new(s, f, OP_CREATE)))
    return PROTO_E_NOMEM;
  cj->direct = in->type == PROTO_CONV_DIRECT;
  memcpy(cj->title, in->title.p ? in->title.p : "",
         in->title.len < STORE_TITLE_MAX ? in->title.len : STORE_TITLE_MAX);
  cj->tracking = in->policy == PROTO_POLICY_FLAGGED ? STORE_TRACK_FLAGGED
                 : in->policy == PROTO_POLICY_OFF   ? STORE_TRACK_OFF
                                                    : STORE_TRACK_ALL;
  /* The codec checked the bounds and refused them on direct ones. */
  cj->automation.remind_after_s = (int64_t)in->remind_after;
  cj->automation.task_after_s = (int64_t)in->task_after;
  cj->nmembers = in->nmembers;
  if (in->nmembers) {
    if (!(cj->members = malloc(in->nmembers * sizeof(int64_t)))) {
      srv_session_unref(s);
      free(cj);
      return PROTO_E_NOMEM;
    }
    for (size_t i = 0; i < in->nmembers; i++)
      cj->members[i] = (int64_t)in->members[i];
  }
  return submit(s, cj);
}
