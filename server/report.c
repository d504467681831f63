/*
 * report.c — from a report request to a storage query, and from a storage
 * report to its proto form (report_int.h). The frame handler and the HTTP
 * API both go through here, so that they ask for and return the same
 * report.
 */
#include "report_int.h"

#include <stdlib.h>
#include <string.h>

void srv_report_query(struct store_report_query *q, uint64_t older,
                      enum proto_scope scope, uint64_t conv, const char *dept,
                      uint64_t limit)
{
  memset(q, 0, sizeof(*q));
  q->older_than_s = older ? (int64_t)older : SRV_REPORT_OLDER_DEFAULT;
  q->scope = scope == PROTO_SCOPE_TEAM    ? STORE_REPORT_TEAM
             : scope == PROTO_SCOPE_OWNED ? STORE_REPORT_OWNED
             : scope == PROTO_SCOPE_ORG   ? STORE_REPORT_ORG
                                          : STORE_REPORT_ALL;
  q->conversation_id = (int64_t)conv;
  q->department = dept;
  q->limit = limit ? (size_t)limit : SRV_REPORT_ROWS_DEFAULT;
}

int srv_report_view_init(struct srv_report_view *v, const struct store_report *r)
{
  memset(v, 0, sizeof(*v));
  /* +1: calloc(0) may return NULL, which must not read as out of memory. */
  v->rows = calloc(r->n_rows + 1, sizeof(*v->rows));
  v->users = calloc(r->n_users + 1, sizeof(*v->users));
  v->depts = calloc(r->n_depts + 1, sizeof(*v->depts));
  if (!v->rows || !v->users || !v->depts) {
    srv_report_view_cleanup(v);
    return PROTO_E_NOMEM;
  }
  for (size_t i = 0; i < r->n_rows; i++) {
    const struct store_report_row *w = &r->rows[i];
    v->rows[i] = (struct proto_report_row){
      (uint64_t)w->user_id, (uint64_t)w->conversation_id, (uint64_t)w->seq,
      (uint64_t)w->sender_id, (uint64_t)w->sent_at_ms, (uint64_t)w->unread_s,
      w->ding, w->acked};
  }
  for (size_t i = 0; i < r->n_users; i++) {
    const struct store_report_user *u = &r->users[i];
    v->users[i] = (struct proto_report_user){
      (uint64_t)u->user_id, {u->display_name, strlen(u->display_name)},
      {u->department, strlen(u->department)}, (uint64_t)u->unread,
      (uint64_t)u->dings};
  }
  for (size_t i = 0; i < r->n_depts; i++)
    v->depts[i] = (struct proto_report_dept){
      {r->depts[i].department, strlen(r->depts[i].department)},
      (uint64_t)r->depts[i].unread, (uint64_t)r->depts[i].dings};
  v->res.older = (uint64_t)r->older_than_s;
  v->res.now = (uint64_t)r->now_ms;
  v->res.rows = v->rows;
  v->res.nrows = r->n_rows;
  v->res.users = v->users;
  v->res.nusers = r->n_users;
  v->res.depts = v->depts;
  v->res.ndepts = r->n_depts;
  v->res.truncated = r->truncated;
  return 0;
}

void srv_report_view_cleanup(struct srv_report_view *v)
{
  free(v->rows);
  free(v->users);
  free(v->depts);
  memset(v, 0, sizeof(*v));
}
