/*
 * send.c — the send path's group commit: store_send_batch().
 *
 * heraldd's single writer thread hands over everything waiting (hundreds
 * of messages) in one call. The whole batch is ONE statement: a call of
 * herald_send_batch() (sql/0002_chat_core.sql) with the messages as seven
 * parallel arrays. One statement outside BEGIN is one implicit transaction,
 * so the batch costs one round trip and one commit; PQexecParams returns
 * only after PostgreSQL's ReadyForQuery, i.e. after the commit (an error
 * at commit would be the result instead).
 *
 * The arrays travel in PostgreSQL's binary array format: no quoting or
 * escaping of bodies, no parsing on the server, and no way for a body to
 * be read as anything but one element.
 *
 * A failed statement must not take other senders' messages with it (the
 * pipeline pitfall in LIBRARIES.md is the same trap: one error rolls back
 * the whole unit). When the batch fails for a reason that one message can
 * cause — bad data, or a unique violation because the same (sender, cmid)
 * raced into another conversation on another node — it has rolled back as
 * a whole, and the messages are stored again one transaction each, so that
 * only the culprit fails.
 *
 * A batch that holds a DING goes through herald_send_batch_ding (sql/
 * 0008_ding.sql) instead: the same batch plus, in the same statement and
 * so the same transaction, the DINGs' recipients checked, their rows, the
 * first alert step and the recipients' feed entries. Each DING travels
 * as a small JSON object in an eighth array ('' for other messages).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Element type OIDs (pg_type.h is not part of libpq-dev). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_TEXT 25

#define CMID_MAX 64
/* PostgreSQL's limit for one value is 1 GB, and a whole array is one
 * value; the server's own body limit is far below these. */
#define BODY_MAX (64u << 20)
#define BATCH_BODY_MAX (512u << 20)
/* Attempts per message in the one-by-one fallback: a unique violation or
 * a deadlock is retried once the competing transaction has finished. */
#define FALLBACK_TRIES 3

enum { A_IS_BOT, A_SENDER, A_CMID, A_CONV, A_KIND, A_BODY, A_FLAGGED,
       A_DING, N_ARRAYS };

static const char SEND_SQL[] =
  "SELECT r_idx, r_rc, r_conv, r_seq, r_sent_ms, r_tracked, r_dup"
  " FROM herald_send_batch($1::boolean[], $2::bigint[], $3::text[],"
  " $4::bigint[], $5::text[], $6::text[], $7::boolean[])";

static const char SEND_DING_SQL[] =
  "SELECT r_idx, r_rc, r_conv, r_seq, r_sent_ms, r_tracked, r_dup,"
  " r_fault_at, r_rcpt, r_fs, r_due_ms"
  " FROM herald_send_batch_ding($1::boolean[], $2::bigint[], $3::text[],"
  " $4::bigint[], $5::text[], $6::text[], $7::boolean[], $8::text[])";

static const char *kind_name(enum store_msg_kind k)
{
  switch (k) {
  case STORE_MSG_TEXT: return "text";
  case STORE_MSG_DING: return "ding";
  case STORE_MSG_CARD: return "card";
  }
  return NULL;
}

/* A one-dimensional array in PostgreSQL's binary format (array_recv):
 * ndim, has-nulls flag, element type OID, then length and lower bound of
 * the dimension, then each element as a 4-byte length and its bytes. All
 * integers are big-endian. */
struct pgarr {
  char *buf;
  size_t len, cap;
  bool oom;
};

static void arr_put(struct pgarr *a, const void *p, size_t n)
{
  if (a->oom)
    return;
  if (n > a->cap - a->len) {
    size_t cap = a->cap ? a->cap : 256;
    char *b;

    while (cap - a->len < n)
      cap *= 2;
    b = realloc(a->buf, cap);
    if (!b) {
      a->oom = true;
      return;
    }
    a->buf = b;
    a->cap = cap;
  }
  memcpy(a->buf + a->len, p, n);
  a->len += n;
}

static void arr_u32(struct pgarr *a, uint32_t v)
{
  unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 8), (unsigned char)v};

  arr_put(a, b, sizeof b);
}

static void arr_begin(struct pgarr *a, uint32_t oid, size_t n)
{
  arr_u32(a, 1);           /* dimensions */
  arr_u32(a, 0);           /* no NULL elements */
  arr_u32(a, oid);
  arr_u32(a, (uint32_t)n); /* length of the dimension */
  arr_u32(a, 1);           /* lower bound */
}

static void arr_i64(struct pgarr *a, int64_t v)
{
  arr_u32(a, 8);
  arr_u32(a, (uint32_t)((uint64_t)v >> 32));
  arr_u32(a, (uint32_t)v);
}

static void arr_bool(struct pgarr *a, bool v)
{
  unsigned char b = v ? 1 : 0;

  arr_u32(a, 1);
  arr_put(a, &b, 1);
}

static void arr_text(struct pgarr *a, const char *s, size_t n)
{
  arr_u32(a, (uint32_t)n);
  arr_put(a, s, n);
}

static void buf_str(struct pgarr *b, const char *s)
{
  arr_put(b, s, strlen(s));
}

static void buf_i64s(struct pgarr *b, const int64_t *v, size_t n)
{
  char num[STORE_I64_BUF + 1];

  buf_str(b, "[");
  for (size_t i = 0; i < n; i++) {
    snprintf(num, sizeof num, "%s%lld", i ? "," : "", (long long)v[i]);
    buf_str(b, num);
  }
  buf_str(b, "]");
}

/* A DING as the JSON object herald_send_batch_ding reads: only numbers
 * and fixed words, so nothing needs escaping. Written into `b`, which is
 * reset first. */
static void ding_json(struct pgarr *b, const struct store_ding *d)
{
  b->len = 0;
  buf_str(b, "{\"urg\":\"");
  buf_str(b, store_urgency_name(d->urgency));
  buf_str(b, d->all ? "\",\"all\":true" : "\",\"all\":false,\"to\":");
  if (!d->all)
    buf_i64s(b, d->to, d->n_to);
  if (d->n_esc) {
    buf_str(b, ",\"esc\":");
    buf_i64s(b, d->esc_s, d->n_esc);
  }
  buf_str(b, "}");
}

const char *store_urgency_name(enum store_urgency u)
{
  switch (u) {
  case STORE_URG_NORMAL: return "normal";
  case STORE_URG_URGENT: return "urgent";
  case STORE_URG_CRITICAL: return "critical";
  }
  return NULL;
}

void store_send_results_cleanup(struct store_send_result *out, size_t n)
{
  for (size_t i = 0; out && i < n; i++) {
    free(out[i].ding_rcpt);
    free(out[i].ding_fs);
    out[i].ding_rcpt = out[i].ding_fs = NULL;
    out[i].n_ding_rcpt = 0;
  }
}

/* A DING's own fields (membership is the database's to check). */
static int check_ding(struct store_conn *c, const struct store_send *m)
{
  const struct store_ding *d = m->ding;

  if (m->kind != STORE_MSG_DING)
    return d ? store_fail(c, STORE_EINVAL, "only a DING has recipients")
             : STORE_OK;
  if (!d)
    return store_fail(c, STORE_EINVAL, "a DING needs recipients");
  if (!store_urgency_name(d->urgency))
    return store_fail(c, STORE_EINVAL, "invalid DING urgency %d",
                      (int)d->urgency);
  if (d->all == (d->n_to > 0))
    return store_fail(c, STORE_EINVAL,
                      "a DING goes to every member or to named users");
  if (d->n_to > STORE_DING_TO_MAX || (d->n_to && !d->to))
    return store_fail(c, STORE_EINVAL, "a DING names 1-%d recipients",
                      STORE_DING_TO_MAX);
  for (size_t i = 0; i < d->n_to; i++)
    if (d->to[i] < 1)
      return store_fail(c, STORE_EINVAL, "to[%zu]: invalid user id %lld", i,
                        (long long)d->to[i]);
  if (d->n_esc > STORE_DING_ESC_MAX || (d->n_esc && !d->esc_s))
    return store_fail(c, STORE_EINVAL, "esc: at most %d re-alerts",
                      STORE_DING_ESC_MAX);
  for (size_t i = 0; i < d->n_esc; i++) {
    if (d->esc_s[i] < 1 || d->esc_s[i] > STORE_DING_ESC_S_MAX)
      return store_fail(c, STORE_EINVAL, "esc[%zu]: %lld s is not 1-%d s", i,
                        (long long)d->esc_s[i], STORE_DING_ESC_S_MAX);
    if (i > 0 && d->esc_s[i] <= d->esc_s[i - 1])
      return store_fail(c, STORE_EINVAL,
                        "esc[%zu]: the re-alert times must increase", i);
  }
  return STORE_OK;
}

/* What would make the database refuse this message whatever the rest of
 * the batch holds, checked here so that it costs no round trip. */
static int check_send(struct store_conn *c, const struct store_send *m)
{
  size_t n = m->cmid ? strlen(m->cmid) : 0;

  if (m->sender_kind != STORE_PRINCIPAL_USER &&
      m->sender_kind != STORE_PRINCIPAL_BOT)
    return store_fail(c, STORE_EINVAL, "invalid sender kind %d",
                      (int)m->sender_kind);
  if (n < 1 || n > CMID_MAX)
    return store_fail(c, STORE_EINVAL,
                      "client message id must be 1-%d bytes", CMID_MAX);
  if (!kind_name(m->kind))
    return store_fail(c, STORE_EINVAL, "invalid message kind %d", (int)m->kind);
  if (!m->body && m->body_len)
    return store_fail(c, STORE_EINVAL, "message body is missing");
  if (m->body_len > BODY_MAX)
    return store_fail(c, STORE_EINVAL, "message body is larger than %u bytes",
                      BODY_MAX);
  /* U+0000 is valid UTF-8 but PostgreSQL text cannot hold it. */
  if (m->body_len && memchr(m->body, 0, m->body_len))
    return store_fail(c, STORE_EINVAL, "message body contains a NUL character");
  return check_ding(c, m);
}

/* The DING columns of a result row (8..11 of SEND_DING_SQL) into *o, for
 * a DING stored now. STORE_OK or STORE_EINTERNAL (out of memory, or
 * arrays that do not match). */
static int ding_columns(struct store_conn *c, PGresult *r, int row,
                        struct store_send_result *o)
{
  size_t nr = 0, nf = 0;

  if (PQgetisnull(r, row, 8))
    return STORE_OK;
  if (store_i64_array_parse(PQgetvalue(r, row, 8), &o->ding_rcpt, &nr) != 0 ||
      store_i64_array_parse(PQgetvalue(r, row, 9), &o->ding_fs, &nf) != 0 ||
      nr != nf) {
    free(o->ding_rcpt);
    free(o->ding_fs);
    o->ding_rcpt = o->ding_fs = NULL;
    return store_fail(c, STORE_EINTERNAL, "bad DING recipient arrays");
  }
  o->n_ding_rcpt = nr;
  o->ding_due_ms = store_field_i64(r, row, 10);
  return STORE_OK;
}

/* Stores in[pick[0..k-1]] with one call of herald_send_batch (or, when a
 * DING is among them, herald_send_batch_ding) — one statement, one
 * transaction — and fills res[pick[j]]. */
static int store_some(struct store_conn *c, const struct store_send *in,
                      const size_t *pick, size_t k,
                      struct store_send_result *res)
{
  static const uint32_t oids[N_ARRAYS] = {OID_BOOL, OID_INT8, OID_TEXT,
                                          OID_INT8, OID_TEXT, OID_TEXT,
                                          OID_BOOL, OID_TEXT};
  struct pgarr a[N_ARRAYS], js;
  const char *p[N_ARRAYS];
  int len[N_ARRAYS], fmt[N_ARRAYS];
  PGresult *r = NULL;
  int rc = STORE_OK, rows, narrays = A_DING;
  size_t filled = 0;

  memset(a, 0, sizeof a);
  memset(&js, 0, sizeof js);
  for (size_t j = 0; j < k; j++)
    if (in[pick[j]].kind == STORE_MSG_DING)
      narrays = N_ARRAYS;
  for (int i = 0; i < narrays; i++)
    arr_begin(&a[i], oids[i], k);
  for (size_t j = 0; j < k; j++) {
    const struct store_send *m = &in[pick[j]];

    arr_bool(&a[A_IS_BOT], m->sender_kind == STORE_PRINCIPAL_BOT);
    arr_i64(&a[A_SENDER], m->sender_id);
    arr_text(&a[A_CMID], m->cmid, strlen(m->cmid));
    arr_i64(&a[A_CONV], m->conversation_id);
    arr_text(&a[A_KIND], kind_name(m->kind), strlen(kind_name(m->kind)));
    arr_text(&a[A_BODY], m->body ? m->body : "", m->body_len);
    arr_bool(&a[A_FLAGGED], m->flagged);
    if (narrays == N_ARRAYS) {
      js.len = 0;
      if (m->kind == STORE_MSG_DING)
        ding_json(&js, m->ding);
      arr_text(&a[A_DING], js.buf ? js.buf : "", js.len);
    }
  }
  for (int i = 0; i < narrays; i++) {
    if (a[i].oom || js.oom || a[i].len > INT_MAX) {
      rc = store_fail(c, STORE_EINTERNAL, "out of memory");
      goto out;
    }
    p[i] = a[i].buf;
    len[i] = (int)a[i].len;
    fmt[i] = 1;
  }
  rc = store_exec_bin(c, &r, narrays == N_ARRAYS ? SEND_DING_SQL : SEND_SQL,
                      narrays, p, len, fmt);
  if (rc != STORE_OK)
    goto out;
  rows = PQntuples(r);
  if ((size_t)rows != k) {
    rc = store_fail(c, STORE_EINTERNAL,
                    "send batch returned %d rows for %zu messages", rows, k);
    goto out;
  }
  for (int row = 0; row < rows; row++) {
    int64_t idx = store_field_i64(r, row, 0), code;
    struct store_send_result *o;
    size_t at;

    if (idx < 1 || (uint64_t)idx > k) {
      rc = store_fail(c, STORE_EINTERNAL, "send batch returned index %lld",
                      (long long)idx);
      goto out;
    }
    at = pick[idx - 1];
    o = &res[at];
    memset(o, 0, sizeof *o);
    filled++;
    code = store_field_i64(r, row, 1);
    if (code != 0) {
      o->rc = code == 1 ? STORE_ENOTFOUND : STORE_EINVAL;
      o->conversation_id = in[at].conversation_id;
      /* 2, 3, 4: herald_send_batch_ding's recipient faults. */
      if (code >= 2 && code <= 4) {
        o->ding_fault = (int)code - 1;
        o->ding_fault_at = (int)store_field_i64(r, row, 7);
      }
      continue;
    }
    o->rc = STORE_OK;
    o->conversation_id = store_field_i64(r, row, 2);
    o->seq = store_field_i64(r, row, 3);
    o->sent_at_ms = store_field_i64(r, row, 4);
    o->tracked = store_field_bool(r, row, 5);
    o->dup = store_field_bool(r, row, 6);
    if (narrays == N_ARRAYS && (rc = ding_columns(c, r, row, o)) != STORE_OK)
      goto out;
  }
out:
  /* A failure after some rows were filled takes their arrays back: the
   * caller sees the call failed and frees nothing. */
  if (rc != STORE_OK && filled)
    for (size_t j = 0; j < k; j++)
      store_send_results_cleanup(&res[pick[j]], 1);
  for (int i = 0; i < N_ARRAYS; i++)
    free(a[i].buf);
  free(js.buf);
  PQclear(r);
  return rc;
}

static bool connected(const struct store_conn *c)
{
  return c->pg && PQstatus(c->pg) == CONNECTION_OK;
}

/* Whether a failed batch may be the fault of one message: bad data
 * (EINVAL), a unique violation (EEXISTS), or a deadlock or serialization
 * failure (EUNAVAIL while the connection is fine). A lost connection or an
 * internal error (say, the schema is not migrated) fails the whole call:
 * retrying message by message would fail the same way, n times. */
static bool one_message_may_be_at_fault(const struct store_conn *c, int rc)
{
  return rc == STORE_EINVAL || rc == STORE_EEXISTS ||
         (rc == STORE_EUNAVAIL && connected(c));
}

/* The batch rolled back as a whole; store each message in its own
 * transaction. A unique violation or deadlock is retried: by then the
 * competing transaction has finished, and a retry finds its copy as the
 * original (dup) or stores ours. The reason of the last message refused
 * this way is written to why. */
static int store_one_by_one(struct store_conn *c, const struct store_send *in,
                            const size_t *pick, size_t k,
                            struct store_send_result *res, char *why,
                            size_t why_len)
{

  for (size_t j = 0; j < k; j++) {
    int rc = STORE_OK;

    for (int t = 0; t < FALLBACK_TRIES; t++) {
      rc = store_some(c, in, &pick[j], 1, res);
      if (rc == STORE_OK || !one_message_may_be_at_fault(c, rc) ||
          rc == STORE_EINVAL)
        break;
    }
    if (rc == STORE_OK)
      continue;
    if (!connected(c))
      return STORE_EUNAVAIL;
    if (rc == STORE_EINTERNAL)
      return rc;
    memset(&res[pick[j]], 0, sizeof res[pick[j]]);
    res[pick[j]].rc = rc;
    res[pick[j]].conversation_id = in[pick[j]].conversation_id;
    snprintf(why, why_len, "message %zu (cmid \"%.64s\"): %.400s", pick[j],
             in[pick[j]].cmid, c->errmsg);
  }
  return STORE_OK;
}

int store_send_batch(struct store_conn *c, const struct store_send *in,
                     size_t n, struct store_send_result *out)
{
  struct store_send_result *res = NULL;
  size_t *pick = NULL, k = 0, bytes = 0;
  char why[sizeof c->errmsg] = "";
  int rc = STORE_OK;

  store_clear(c);
  if (n == 0)
    return STORE_OK;
  res = calloc(n, sizeof *res);
  pick = calloc(n, sizeof *pick);
  if (!res || !pick) {
    rc = store_fail(c, STORE_EINTERNAL, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    int bad = check_send(c, &in[i]);

    if (bad != STORE_OK) {
      snprintf(why, sizeof why, "message %zu: %.480s", i, c->errmsg);
      res[i].rc = bad;
      res[i].conversation_id = in[i].conversation_id;
      continue;
    }
    bytes += in[i].body_len;
    pick[k++] = i;
  }
  if (bytes > BATCH_BODY_MAX) {
    rc = store_fail(c, STORE_EINVAL,
                    "a send batch may hold at most %u bytes of bodies",
                    BATCH_BODY_MAX);
    goto out;
  }
  if (k > 0) {
    rc = store_some(c, in, pick, k, res);
    if (rc != STORE_OK && one_message_may_be_at_fault(c, rc))
      rc = store_one_by_one(c, in, pick, k, res, why, sizeof why);
  }
  if (rc != STORE_OK)
    goto out;
  memcpy(out, res, n * sizeof *res);
  /* The call succeeded; what is left to say is why a message failed. */
  memcpy(c->errmsg, why, sizeof why);
out:
  if (rc != STORE_OK)
    store_send_results_cleanup(res, res ? n : 0);
  free(res);
  free(pick);
  return rc;
}
