/*
 * h_auth.c — hello (token), login (password) and logout.
 *
 * Password checks run on the auth pool: a few threads, so at most that many
 * argon2id hashes (64 MiB each) run at once, and the loop never waits for
 * one. An unknown login costs one dummy verification, so the answer takes
 * the same time whether or not the account exists. Failed attempts are
 * limited per account and per remote address (ratelimit_int.h).
 */
#include "clock_int.h"
#include "dbpool_int.h"
#include "dispatch_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "quiet_int.h"
#include "server_int.h"
#include "session_int.h"

#include "hcrypto.h"
#include "store.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* More waiting logins than this are refused (TOO_MANY_REQUESTS) rather
 * than queued: each waits ~50 ms per worker. */
#define AUTH_QUEUE_MAX 256

struct auth_job {
  struct srv_dbjob job;
  struct srv_session *s;        /* holds a reference */
  uint64_t req;
  int login;                    /* 1: password login, 0: hello */
  char name[129];               /* login, lower-cased for rate limits */
  char *password;               /* wiped and freed after the check */
  char device[101];             /* a device name is 100 bytes at most */
  uint8_t token_hash[HCR_TOKEN_HASH_LEN];
  char token[HCR_TOKEN_LEN + 1];   /* the new token (login only) */
  struct store_principal who;
  struct store_quiet_state *quiet; /* users: for welcome.quiet; NULL when
                                      it could not be read */
  int code;                     /* proto code to answer, 0 = welcome */
};

/* A user's quiet-hours state for the welcome, on the auth thread; a
 * failure leaves it NULL (the welcome then says "not quiet" and the
 * server fetches it again at once). */
static void fetch_quiet(struct auth_job *aj, struct store_conn *conn)
{
  if (aj->who.kind != STORE_PRINCIPAL_USER ||
      !(aj->quiet = malloc(sizeof(*aj->quiet))))
    return;
  if (store_quiet_get(conn, aj->who.id, 0, aj->quiet) != STORE_OK) {
    srv_warn("auth", "quiet hours of user %lld: %s", (long long)aj->who.id,
             store_errmsg(conn));
    free(aj->quiet);
    aj->quiet = NULL;
  }
}

/* Copies at most cap-1 bytes, cut on a UTF-8 character boundary. */
static void copy_str(char *dst, size_t cap, struct proto_str s)
{
  size_t n = s.len < cap - 1 ? s.len : cap - 1;

  if (n < s.len)
    while (n > 0 && ((unsigned char)s.p[n] & 0xC0) == 0x80)
      n--;
  memcpy(dst, s.p, n);
  dst[n] = '\0';
}

static void auth_free(struct auth_job *aj)
{
  if (aj->password) {
    hcr_wipe(aj->password, strlen(aj->password));
    free(aj->password);
  }
  hcr_wipe(aj->token, sizeof(aj->token));
  free(aj->quiet);
  srv_session_unref(aj->s);
  free(aj);
}

static void send_welcome(struct srv_session *s, struct auth_job *aj)
{
  const struct srv_config *cfg = s->srv->cfg;
  struct proto_window org[STORE_QUIET_WINDOWS_MAX],
                      own[STORE_QUIET_WINDOWS_MAX];
  struct proto_frame f;
  struct proto_welcome *w = &f.u.welcome;

  proto_frame_init(&f, PROTO_T_WELCOME);
  f.id = aj->req;
  w->uid = (uint64_t)aj->who.id;
  w->login = (struct proto_str){aj->who.login, strlen(aj->who.login)};
  w->name = (struct proto_str){aj->who.display_name,
                               strlen(aj->who.display_name)};
  w->role = aj->who.kind == STORE_PRINCIPAL_BOT ? PROTO_ROLE_BOT
            : aj->who.role == STORE_ROLE_ADMIN  ? PROTO_ROLE_ADMIN
            : aj->who.role == STORE_ROLE_MANAGER ? PROTO_ROLE_MANAGER
                                                 : PROTO_ROLE_STAFF;
  if (aj->login) {
    w->token = (struct proto_str){aj->token, strlen(aj->token)};
    w->exp = (uint64_t)aj->who.expires_at_ms;
  }
  w->now = srv_clock_now_ms();
  w->tz = (struct proto_str){aj->who.time_zone, strlen(aj->who.time_zone)};
  /* Bots have no quiet hours: "not quiet", in their (UTC) zone. */
  if (aj->quiet)
    srv_quiet_to_proto(aj->quiet, &w->quiet, org, own);
  else
    w->quiet.tz = w->tz;
  w->lim.frame = (uint64_t)cfg->max_frame;
  w->lim.sframe = srv_max_server_frame(cfg);
  w->lim.body = (uint64_t)cfg->max_body;
  w->lim.depth = PROTO_DEFAULT_MAX_DEPTH;
  w->lim.page = (uint64_t)cfg->page_size;
  srv_session_send(s, &f);
}

static void auth_done(struct srv_dbjob *job)
{
  struct auth_job *aj = (struct auth_job *)job;
  struct srv_session *s = aj->s;
  struct srv_server *srv = s->srv;
  uint64_t now = srv_now_ms();

  s->inflight--;
  if (!srv_session_open(s))
    goto out;
  if (aj->code != 0) {
    if (aj->code == PROTO_E_BAD_CREDENTIALS ||
        aj->code == PROTO_E_TOKEN_EXPIRED) {
      srv_ratelimit_hit(&srv->login_by_peer, s->peer, strlen(s->peer), now);
      if (aj->login)
        srv_ratelimit_hit(&srv->login_by_account, aj->name, strlen(aj->name),
                          now);
      srv_metric_inc(SRV_M_LOGIN_FAILED);
      srv_info("auth", "#%llu from %s: %s failed", (unsigned long long)s->serial,
               s->peer, aj->login ? "login" : "hello");
    }
    s->state = SRV_SESS_NEW;
    srv_reply_error(s, aj->req, aj->code, NULL, NULL);
    goto out;
  }
  s->state = SRV_SESS_READY;
  if (aj->who.kind == STORE_PRINCIPAL_BOT) {
    s->bot_id = aj->who.id;
    s->bot_rate = aj->who.rate_limit_per_minute;
  } else
    s->uid = aj->who.id;
  s->role = aj->who.role;
  memcpy(s->token_hash, aj->token_hash, sizeof(s->token_hash));
  lws_set_timeout(s->wsi, NO_PENDING_TIMEOUT, 0);
  srv_sessions_authed(srv, s);
  if (s->uid)
    srv_quiet_user_seen(srv, s->uid, aj->quiet);
  srv_info("auth", "#%llu from %s: %s %s", (unsigned long long)s->serial,
           s->peer, aj->who.kind == STORE_PRINCIPAL_BOT ? "bot" : "user",
           aj->who.login);
  send_welcome(s, aj);
out:
  auth_free(aj);
}

static void login_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct auth_job *aj = (struct auth_job *)job;
  struct store_login_info info;
  int rc;

  aj->code = PROTO_E_BAD_CREDENTIALS;
  if (!conn) {
    aj->code = PROTO_E_DB_UNAVAILABLE;
    return;
  }
  rc = store_login_lookup(conn, aj->name, &info);
  if (rc == STORE_EUNAVAIL) {
    aj->code = PROTO_E_DB_UNAVAILABLE;
    job->rc = rc;
    return;
  }
  if (rc != STORE_OK || !info.active || info.password_hash[0] == '\0') {
    hcr_password_dummy_verify(aj->password);
    return;
  }
  if (hcr_password_verify(info.password_hash, aj->password) != HCR_OK)
    return;
  hcr_token_new(aj->token);
  if (hcr_token_hash(aj->token, aj->token_hash) != HCR_OK)
    return;
  rc = store_session_create(conn, info.user_id, aj->device, aj->token_hash,
                            aj->s->srv->cfg->token_ttl, &aj->who);
  job->rc = rc;
  aj->code = rc == STORE_OK ? 0 : srv_code_from_store(rc);
  if (rc == STORE_OK)
    fetch_quiet(aj, conn);
}

static void hello_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct auth_job *aj = (struct auth_job *)job;
  int rc;

  if (!conn) {
    aj->code = PROTO_E_DB_UNAVAILABLE;
    job->rc = STORE_EUNAVAIL;
    return;
  }
  rc = store_session_lookup(conn, aj->token_hash, &aj->who);
  job->rc = rc;
  if (rc == STORE_OK)
    fetch_quiet(aj, conn);
  aj->code = rc == STORE_OK         ? 0
             : rc == STORE_ENOTFOUND ? PROTO_E_BAD_CREDENTIALS
             : rc == STORE_EINVAL    ? PROTO_E_TOKEN_EXPIRED
                                     : srv_code_from_store(rc);
}

static int limited(struct srv_session *s, const char *account)
{
  struct srv_server *srv = s->srv;
  uint64_t now = srv_now_ms();

  if (!srv_ratelimit_allowed(&srv->login_by_peer, s->peer, strlen(s->peer),
                             now))
    return 1;
  return account && !srv_ratelimit_allowed(&srv->login_by_account, account,
                                            strlen(account), now);
}

static struct auth_job *auth_job_new(struct srv_session *s,
                                     const struct proto_frame *f)
{
  struct auth_job *aj = calloc(1, sizeof(*aj));

  if (!aj)
    return NULL;
  aj->job.done = auth_done;
  aj->s = srv_session_ref(s);
  aj->req = f->id;
  return aj;
}

int srv_h_login(struct srv_session *s, const struct proto_frame *f)
{
  struct srv_server *srv = s->srv;
  const struct proto_login *l = &f->u.login;
  struct auth_job *aj;

  if (srv_dbpool_pending(srv->auth) >= AUTH_QUEUE_MAX)
    return PROTO_E_TOO_MANY_REQUESTS;
  if (!(aj = auth_job_new(s, f)))
    return PROTO_E_NOMEM;
  aj->login = 1;
  aj->job.run = login_run;
  copy_str(aj->name, sizeof(aj->name), l->login);
  for (char *p = aj->name; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  if (limited(s, aj->name)) {
    auth_free(aj);
    return PROTO_E_RATE_LIMITED;
  }
  copy_str(aj->device, sizeof(aj->device), l->dev);
  if (!(aj->password = strndup(l->pass.p, l->pass.len))) {
    auth_free(aj);
    return PROTO_E_NOMEM;
  }
  s->state = SRV_SESS_AUTHING;
  s->inflight++;
  srv_dbpool_submit(srv->auth, &aj->job);
  return 0;
}

int srv_h_hello(struct srv_session *s, const struct proto_frame *f)
{
  struct srv_server *srv = s->srv;
  char token[HCR_TOKEN_LEN + 2];
  struct auth_job *aj;

  if (limited(s, NULL))
    return PROTO_E_RATE_LIMITED;
  if (!(aj = auth_job_new(s, f)))
    return PROTO_E_NOMEM;
  aj->job.run = hello_run;
  copy_str(token, sizeof(token), f->u.hello.token);
  if (f->u.hello.token.len != HCR_TOKEN_LEN ||
      hcr_token_hash(token, aj->token_hash) != HCR_OK) {
    hcr_wipe(token, sizeof(token));
    srv_ratelimit_hit(&srv->login_by_peer, s->peer, strlen(s->peer),
                      srv_now_ms());
    auth_free(aj);
    return PROTO_E_BAD_CREDENTIALS;
  }
  hcr_wipe(token, sizeof(token));
  s->state = SRV_SESS_AUTHING;
  s->inflight++;
  srv_dbpool_submit(srv->reader, &aj->job);
  return 0;
}

struct logout_job {
  struct srv_dbjob job;
  struct srv_session *s;
  uint64_t req;
};

static void logout_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct logout_job *lj = (struct logout_job *)job;

  job->rc = conn ? store_session_revoke(conn, lj->s->token_hash)
                 : STORE_EUNAVAIL;
}

static void logout_done(struct srv_dbjob *job)
{
  struct logout_job *lj = (struct logout_job *)job;
  struct srv_session *s = lj->s;
  struct proto_frame f;

  s->inflight--;
  if (srv_session_open(s)) {
    if (job->rc == STORE_OK) {
      proto_frame_init(&f, PROTO_T_RESULT);
      f.id = lj->req;
      srv_session_send(s, &f);
      srv_session_close(s, LWS_CLOSE_STATUS_NORMAL, "logged out");
    } else {
      srv_reply_error(s, lj->req, srv_code_from_store(job->rc), NULL, NULL);
    }
  }
  srv_session_unref(s);
  free(lj);
}

int srv_h_logout(struct srv_session *s, const struct proto_frame *f)
{
  struct logout_job *lj = calloc(1, sizeof(*lj));

  if (!lj)
    return PROTO_E_NOMEM;
  lj->job.run = logout_run;
  lj->job.done = logout_done;
  lj->s = srv_session_ref(s);
  lj->req = f->id;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &lj->job);
  return 0;
}
