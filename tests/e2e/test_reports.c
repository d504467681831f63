/*
 * test_reports.c — the unread report frame end to end: a manager sees
 * their team, an admin everyone, staff are refused, and every run is
 * audited.
 */
#include "check.h"
#include "e2e.h"
#include "peer.h"
#include "pgtest.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int report(struct peer *p, struct proto_frame *reply)
{
  struct proto_frame f;

  proto_frame_init(&f, PROTO_T_REPORT_UNREAD);
  f.u.report_unread.older = 2 * 3600;
  return peer_request(p, &f, reply);
}

static bool has_row(const struct proto_frame *r, int64_t uid)
{
  for (size_t i = 0; i < r->u.report_result.nrows; i++)
    if (r->u.report_result.rows[i].uid == (uint64_t)uid)
      return true;
  return false;
}

TEST(unread_report_scope_and_audit)
{
  struct e2e_server srv;
  int64_t ada, mei, alex, bo, group, ids[3];
  struct peer *pa, *pm, *pb;
  struct proto_frame r;
  char sql[512];

  e2e_server_init(&srv);
  ada = e2e_org(&srv, "ada");                     /* the admin */
  mei = e2e_user(&srv, "mei");
  alex = e2e_user(&srv, "alex");
  bo = e2e_user(&srv, "bo");
  snprintf(sql, sizeof(sql), "UPDATE users SET role = 'manager' WHERE id = "
           "%lld; UPDATE users SET manager_id = %lld WHERE id = %lld",
           (long long)mei, (long long)mei, (long long)alex);
  pgtest_exec(srv.db, sql);
  ids[0] = mei;
  ids[1] = alex;
  ids[2] = bo;
  group = e2e_group(&srv, "Ops", ada, ids, 3);
  /* A tracked message from ada, three hours old, that nobody read. */
  snprintf(sql, sizeof(sql),
           "INSERT INTO messages (conversation_id, seq, sender_user_id, "
           "client_msg_id, kind, body, tracked, sent_at) VALUES (%lld, 1, "
           "%lld, 'old-1', 'text', 'status?', true, now() - interval "
           "'3 hours'); UPDATE conversations SET last_seq = 1 WHERE id = %lld",
           (long long)group, (long long)ada, (long long)group);
  pgtest_exec(srv.db, sql);
  /* About scope, not business time (test_quiet.c): no quiet hours, so the
   * message is three hours unread whatever the hour. */
  pgtest_exec(srv.db, "DELETE FROM quiet_windows");
  e2e_server_start(&srv, NULL);
  pa = peer_new(srv.url, "ada", NULL, true);
  pm = peer_new(srv.url, "mei", NULL, true);
  pb = peer_new(srv.url, "bo", NULL, true);

  /* The manager sees her team (alex), not bo, who is not in it. */
  CHECK_INT(report(pm, &r), ==, 0);
  CHECK(has_row(&r, alex));
  CHECK(!has_row(&r, bo));
  CHECK(r.u.report_result.rows[0].unread_s >= 3 * 3600 - 60);
  proto_frame_cleanup(&r);
  /* The admin sees everyone who has not read it. */
  CHECK_INT(report(pa, &r), ==, 0);
  CHECK(has_row(&r, alex) && has_row(&r, bo) && has_row(&r, mei));
  CHECK(!has_row(&r, ada));                       /* the sender */
  CHECK(r.u.report_result.nusers >= 3);
  proto_frame_cleanup(&r);
  /* The same report from a shell: heraldctl report unread, as CSV. */
  {
    char cmd[1024], pwfile[] = "/tmp/herald-e2e-pw-XXXXXX", out[4096];
    int fd = mkstemp(pwfile);
    FILE *p;
    size_t n;

    CHECK(fd >= 0);
    CHECK_INT(write(fd, "pw-mei\n", 7), ==, 7);
    close(fd);
    snprintf(cmd, sizeof(cmd), "'%s' report unread --server %s --login mei "
             "--password-file %s --older-than 2h --format csv",
             getenv("HERALDCTL"), srv.url, pwfile);
    CHECK((p = popen(cmd, "r")) != NULL);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    CHECK_INT(pclose(p), ==, 0);
    unlink(pwfile);
    CHECK_CONTAINS(out, "recipient,conv,seq,sender,sent_at,unread_s,ding");
    CHECK_CONTAINS(out, "alex,");
    CHECK(strstr(out, "bo,") == NULL);
  }
  /* Staff are refused. */
  CHECK_INT(report(pb, &r), ==, PROTO_E_FORBIDDEN);
  proto_frame_cleanup(&r);
  /* alex reads: gone from the report. */
  {
    struct peer *px = peer_new(srv.url, "alex", NULL, true);
    struct proto_frame f, res;

    proto_frame_init(&f, PROTO_T_READ);
    f.u.read.conv = (uint64_t)group;
    f.u.read.seq = 1;
    CHECK_INT(peer_request(px, &f, &res), ==, 0);
    proto_frame_cleanup(&res);
    peer_free(px);
  }
  CHECK_INT(report(pm, &r), ==, 0);
  CHECK(!has_row(&r, alex));
  proto_frame_cleanup(&r);
  /* Every run, the refused one too, left an audit row. */
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM audit_log WHERE "
                                "action LIKE 'report%'"), >=, 4);
  peer_free(pa);
  peer_free(pm);
  peer_free(pb);
  e2e_server_stop(&srv);
}

TEST_MAIN()
