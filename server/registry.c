/*
 * registry.c — who is connected: every session by user (or bot) id, so
 * that receipts, DING alerts and membership changes reach all of a
 * principal's devices.
 */
#include "delivery_int.h"
#include "log_int.h"
#include "quiet_int.h"
#include "server_int.h"
#include "session_int.h"

static struct srv_intmap *map_of(struct srv_server *srv,
                                 const struct srv_session *s, int64_t *id)
{
  if (s->bot_id) {
    *id = s->bot_id;
    return &srv->bots;
  }
  *id = s->uid;
  return &srv->users;
}

void srv_sessions_opened(struct srv_server *srv, struct srv_session *s)
{
  srv->nsessions++;
  srv_debug("session", "#%llu opened from %s (%u open)",
            (unsigned long long)s->serial, s->peer, srv->nsessions);
}

void srv_sessions_authed(struct srv_server *srv, struct srv_session *s)
{
  int64_t id;
  struct srv_intmap *m = map_of(srv, s, &id);

  s->user_next = srv_intmap_get(m, id);
  if (srv_intmap_put(m, id, s) != 0) {
    s->user_next = NULL;
    srv_session_kill(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
  }
}

void srv_sessions_closed(struct srv_server *srv, struct srv_session *s)
{
  int64_t id;
  struct srv_intmap *m;

  srv->nsessions--;
  srv_delivery_unsubscribe_all(srv, s);
  m = map_of(srv, s, &id);
  if (id) {     /* authenticated: unlink from its principal's chain */
    struct srv_session *head = srv_intmap_get(m, id), **pp;
    for (pp = &head; *pp; pp = &(*pp)->user_next) {
      if (*pp == s) {
        *pp = s->user_next;
        break;
      }
    }
    if (head) {
      srv_intmap_put(m, id, head);
    } else {
      srv_intmap_del(m, id);
      if (!s->bot_id)
        srv_quiet_user_gone(srv, id);
    }
  }
  s->user_next = NULL;
  srv_debug("session", "#%llu closed (%u open)",
            (unsigned long long)s->serial, srv->nsessions);
}

struct srv_session *srv_sessions_of_user(struct srv_server *srv, int64_t uid)
{
  return srv_intmap_get(&srv->users, uid);
}
