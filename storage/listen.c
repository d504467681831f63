/*
 * listen.c — the non-blocking LISTEN connection of a node (store.h,
 * "Notifications between nodes"), and the two look-ups a node makes to
 * catch up after that connection was lost.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum lstate { L_CONNECTING, L_LISTEN_SENT, L_LISTENING };

struct store_listener {
  PGconn *pg;
  enum lstate state;
  PostgresPollingStatusType poll;   /* while connecting */
};

static int fail(char *errbuf, size_t errlen, const char *what, PGconn *pg)
{
  const char *m = pg ? PQerrorMessage(pg) : "out of memory";

  snprintf(errbuf, errlen, "%s: %s", what, m && *m ? m : "connection lost");
  errbuf[strcspn(errbuf, "\n")] = '\0';
  return STORE_EUNAVAIL;
}

int store_listener_start(const char *conninfo, struct store_listener **out,
                         char *errbuf, size_t errlen)
{
  /* As store_connect, with an application_name of its own so that an
   * operator (and a test) can tell the listener from the pools. */
  const char *keys[] = {"dbname", "application_name", "client_encoding", NULL};
  const char *vals[] = {conninfo, "herald-listen", "UTF8", NULL};
  struct store_listener *l = calloc(1, sizeof(*l));

  *out = NULL;
  if (!l)
    return STORE_EINTERNAL;
  l->pg = PQconnectStartParams(keys, vals, 1);
  if (!l->pg || PQstatus(l->pg) == CONNECTION_BAD) {
    int rc = fail(errbuf, errlen, "cannot connect to PostgreSQL", l->pg);
    store_listener_close(l);
    return rc;
  }
  l->state = L_CONNECTING;
  l->poll = PGRES_POLLING_WRITING;
  *out = l;
  return STORE_OK;
}

int store_listener_socket(const struct store_listener *l)
{
  return l && l->pg ? PQsocket(l->pg) : -1;
}

void store_listener_close(struct store_listener *l)
{
  if (!l)
    return;
  if (l->pg)
    PQfinish(l->pg);
  free(l);
}

/* Reads whatever results are complete (the LISTEN's), without waiting. */
static int drain_results(struct store_listener *l, char *errbuf,
                         size_t errlen)
{
  while (!PQisBusy(l->pg)) {
    PGresult *r = PQgetResult(l->pg);

    if (!r) {
      if (l->state == L_LISTEN_SENT)
        l->state = L_LISTENING;
      return STORE_OK;
    }
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      PQclear(r);
      return fail(errbuf, errlen, "LISTEN failed", l->pg);
    }
    PQclear(r);
  }
  return STORE_OK;
}

int store_listener_step(struct store_listener *l,
                        void (*on_note)(void *arg, const char *payload),
                        void *arg, int *want, bool *listening,
                        char *errbuf, size_t errlen)
{
  PGnotify *n;

  *listening = false;
  if (l->state == L_CONNECTING) {
    l->poll = PQconnectPoll(l->pg);
    if (l->poll == PGRES_POLLING_FAILED)
      return fail(errbuf, errlen, "cannot connect to PostgreSQL", l->pg);
    if (l->poll != PGRES_POLLING_OK) {
      *want = l->poll == PGRES_POLLING_READING ? STORE_LISTEN_READ
                                               : STORE_LISTEN_WRITE;
      return STORE_OK;
    }
    if (PQsetnonblocking(l->pg, 1) != 0 ||
        !PQsendQuery(l->pg, "LISTEN herald"))
      return fail(errbuf, errlen, "cannot send LISTEN", l->pg);
    l->state = L_LISTEN_SENT;
  }
  /* Flush what is queued (the LISTEN); 1 means not all of it yet. */
  switch (PQflush(l->pg)) {
  case -1:
    return fail(errbuf, errlen, "connection to PostgreSQL lost", l->pg);
  case 1:
    *want = STORE_LISTEN_READ | STORE_LISTEN_WRITE;
    *listening = l->state == L_LISTENING;
    return STORE_OK;
  default:
    break;
  }
  if (!PQconsumeInput(l->pg))
    return fail(errbuf, errlen, "connection to PostgreSQL lost", l->pg);
  if (drain_results(l, errbuf, errlen) != STORE_OK)
    return STORE_EUNAVAIL;
  while ((n = PQnotifies(l->pg))) {
    if (on_note)
      on_note(arg, n->extra);
    PQfreemem(n);
  }
  if (PQstatus(l->pg) == CONNECTION_BAD)
    return fail(errbuf, errlen, "connection to PostgreSQL lost", l->pg);
  *want = STORE_LISTEN_READ;
  *listening = l->state == L_LISTENING;
  return STORE_OK;
}

/* One bigint per id of `ids`, looked up by `sql` ($1 the ids; rows of
 * (ordinal, value)). */
static int lookup(struct store_conn *c, const char *sql, const int64_t *ids,
                  size_t n, int64_t *out)
{
  PGresult *res = NULL;
  char *arr;
  int rc;

  store_clear(c);
  memset(out, 0, n * sizeof(*out));
  if (!n)
    return STORE_OK;
  if (!(arr = store_i64_array_text(ids, n)))
    return store_fail(c, STORE_EINTERNAL, "out of memory");
  {
    const char *p[1] = {arr};
    rc = store_exec(c, &res, sql, 1, p);
  }
  free(arr);
  if (rc != STORE_OK)
    return rc;
  for (int i = 0; i < PQntuples(res); i++) {
    int64_t o = store_field_i64(res, i, 0);

    if (o >= 1 && (size_t)o <= n)
      out[o - 1] = store_field_i64(res, i, 1);
  }
  PQclear(res);
  return STORE_OK;
}

int store_conv_last_seqs(struct store_conn *c, const int64_t *convs,
                         size_t n, int64_t *out)
{
  return lookup(c,
                "SELECT x.o, c.last_seq"
                " FROM unnest($1::bigint[]) WITH ORDINALITY AS x(id, o)"
                " JOIN conversations c ON c.id = x.id",
                convs, n, out);
}

int store_feed_heads(struct store_conn *c, const int64_t *users, size_t n,
                     int64_t *out)
{
  return lookup(c,
                "SELECT x.o, h.last_fs"
                " FROM unnest($1::bigint[]) WITH ORDINALITY AS x(id, o)"
                " JOIN feed_heads h ON h.user_id = x.id",
                users, n, out);
}
