/*
 * h_read.c — read reports, live receipts to senders, and who-read lists.
 *
 * A `read` runs on a database thread in two steps: storage plans it (the
 * marker, the effective seq, the clamp bounds, the opt-out, whether the
 * reader is in quiet hours: then no time is recorded), the time is
 * clamped to [sent time of that message, now] and sealed under the reader's
 * data key with the row bound in as associated data, and storage records
 * the range and one feed entry per sender whose tracked messages it
 * covers. Each entry then becomes `receipt` frames ("read k of n") on the
 * sender's connected devices: one per message of the range, all with fs 0
 * but the last, which carries the entry's fs (PROTOCOL.md 3.6).
 *
 * `who_read` decrypts read times only for who may see them: the message's
 * sender sees every recipient's time, a recipient only their own, other
 * members nothing (FORBIDDEN); times are rounded down to the minute, and a
 * sealed time that does not open for its own row is shown as unknown.
 */
#include "datakey_int.h"
#include "delivery_int.h"
#include "card_int.h"
#include "dbpool_int.h"
#include "ding_int.h"
#include "dispatch_int.h"
#include "log_int.h"
#include "server_int.h"
#include "session_int.h"

#include "hcrypto.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

struct read_job {
  struct srv_dbjob job;
  struct srv_session *s;
  uint64_t req;
  int64_t conv, seq, at_ms;
  struct store_read_result res;
  struct store_ding_note *dings;   /* DINGs the read covered (notes) */
  size_t ndings;
};

static void read_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct read_job *rj = (struct read_job *)job;
  struct srv_server *srv = rj->s->srv;
  struct store_read_plan plan;
  struct hcr_time_ad ad;
  uint8_t dek[HCR_DEK_LEN], sealed[HCR_SEALED_TIME_LEN];
  const uint8_t *blob = NULL;
  int64_t at;
  bool quiet;
  int rc;

  if (!conn) {
    job->rc = STORE_EUNAVAIL;
    return;
  }
  if ((rc = store_read_plan(conn, rj->s->uid, rj->conv, rj->seq, &plan)) ||
      plan.upto <= plan.read_seq) {
    job->rc = rc;
    return;
  }
  /* Offline reads carry the time they happened; the server trusts it only
   * between the message's own time and now. */
  at = rj->at_ms ? rj->at_ms : plan.now_ms;
  if (at < plan.upto_sent_at_ms)
    at = plan.upto_sent_at_ms;
  if (at > plan.now_ms)
    at = plan.now_ms;
  ad.conversation_id = rj->conv;
  ad.from_seq = plan.read_seq + 1;
  ad.to_seq = plan.upto;
  ad.reader_id = rj->s->uid;
  ad.dek_version = 0;
  /* SPEC §7.3: a read in the reader's quiet hours counts as read, but its
   * time is not recorded. The plan knows for "now"; an offline read that
   * happened earlier is looked up at its own time. */
  quiet = plan.reader_quiet;
  if (at != plan.now_ms &&
      (rc = store_quiet_until(conn, rj->s->uid, at, &quiet, NULL)) !=
          STORE_OK) {
    job->rc = rc;
    return;
  }
  if (!quiet && !(plan.user_opt_out && plan.org_allows_opt_out)) {
    /* An erased reader records no time; a key that cannot be had right now
     * fails the read (retryable) rather than dropping its time for good. */
    rc = srv_datakey_get(srv, conn, rj->s->uid, 0, true, dek,
                         &ad.dek_version);
    if (rc != STORE_OK && rc != STORE_ENOTFOUND) {
      job->rc = rc;
      return;
    }
    if (rc == STORE_OK) {
      rc = hcr_seal_time(dek, &ad, at, sealed);
      hcr_wipe(dek, sizeof(dek));
      if (rc != HCR_OK) {
        job->rc = STORE_EINTERNAL;
        return;
      }
      blob = sealed;
    }
  }
  job->rc = store_read_record(conn, rj->s->uid, rj->conv, ad.from_seq,
                              ad.to_seq, ad.dek_version, blob,
                              blob ? sizeof(sealed) : 0, &rj->res);
  /* DINGs among the newly read messages: their senders (and managers
   * following an escalation) hear it. The read itself stands either way;
   * "read" is the marker, which the board shows whatever happens here. */
  if (job->rc == STORE_OK && rj->res.moved &&
      store_ding_read(conn, rj->s->uid, rj->conv, rj->res.old_seq,
                      rj->res.read_seq, &rj->dings, &rj->ndings) != STORE_OK)
    srv_warn("ding", "notifying the read of DINGs in conversation %lld by "
             "user %lld failed: %s", (long long)rj->conv,
             (long long)rj->s->uid, store_errmsg(conn));
}

struct receipt_job {
  struct srv_dbjob job;
  struct srv_server *srv;
  struct store_feed_entry e;
  struct store_receipt_count *counts;
  size_t n;
};

static void receipt_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct receipt_job *rj = (struct receipt_job *)job;

  job->rc = conn ? store_receipt_counts(conn, rj->e.user_id,
                                        rj->e.conversation_id,
                                        rj->e.from_seq, rj->e.to_seq,
                                        &rj->counts, &rj->n)
                 : STORE_EUNAVAIL;
}

static void receipt_done(struct srv_dbjob *job)
{
  struct receipt_job *rj = (struct receipt_job *)job;
  struct proto_frame f;

  /* Devices that are offline get the entry from the feed on replay. */
  for (size_t i = 0; job->rc == STORE_OK && i < rj->n; i++) {
    proto_frame_init(&f, PROTO_T_RECEIPT);
    f.u.receipt.conv = (uint64_t)rj->e.conversation_id;
    f.u.receipt.seq = (uint64_t)rj->counts[i].seq;
    f.u.receipt.read = (uint64_t)rj->counts[i].read;
    f.u.receipt.total = (uint64_t)rj->counts[i].total;
    f.u.receipt.fs = i + 1 == rj->n ? (uint64_t)rj->e.fs : 0;
    for (struct srv_session *s = srv_sessions_of_user(rj->srv, rj->e.user_id);
         s; s = s->user_next)
      if (s->live && srv_session_open(s))
        srv_session_send(s, &f);
  }
  free(rj->counts);
  free(rj);
}

static void push_receipts(struct srv_server *srv,
                          const struct store_read_result *res)
{
  for (size_t i = 0; i < res->n_feed; i++) {
    struct receipt_job *rj = calloc(1, sizeof(*rj));

    if (!rj)
      return;      /* the senders still get them from the feed */
    rj->job.run = receipt_run;
    rj->job.done = receipt_done;
    rj->srv = srv;
    rj->e = res->feed[i];
    srv_dbpool_submit(srv->reader, &rj->job);
  }
}

static void read_done(struct srv_dbjob *job)
{
  struct read_job *rj = (struct read_job *)job;
  struct srv_session *s = rj->s;
  struct proto_frame f;

  s->inflight--;
  if (job->rc != STORE_OK) {
    srv_reply_error(s, rj->req, srv_code_from_store(job->rc), "conv", NULL);
  } else {
    proto_frame_init(&f, PROTO_T_RESULT);
    f.id = rj->req;
    f.u.result.conv = (uint64_t)rj->conv;
    srv_session_send(s, &f);
    push_receipts(s->srv, &rj->res);
    srv_ding_push_notes(s->srv, rj->dings, rj->ndings);
  }
  free(rj->dings);
  free(rj->res.feed);
  srv_session_unref(s);
  free(rj);
}

int srv_h_read(struct srv_session *s, const struct proto_frame *f)
{
  struct read_job *rj = calloc(1, sizeof(*rj));

  if (!rj)
    return PROTO_E_NOMEM;
  rj->job.run = read_run;
  rj->job.done = read_done;
  rj->s = srv_session_ref(s);
  rj->req = f->id;
  rj->conv = (int64_t)f->u.read.conv;
  rj->seq = (int64_t)f->u.read.seq;
  rj->at_ms = (int64_t)f->u.read.at;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &rj->job);
  return 0;
}

struct who_job {
  struct srv_dbjob job;
  struct srv_session *s;
  uint64_t req;
  int64_t conv, seq;
  struct proto_who_row *rows;
  size_t n;
  const char *why;               /* detail of a refusal (static) */
};

/* Opens one recipient's read time for the sender or the reader. A blob
 * that does not open under its own row's associated data was altered or
 * moved from another row (or another reader's key): it is shown as read
 * without a time, and the log says so without the blob or any time. */
static void open_time(struct srv_server *srv, struct store_conn *conn,
                      int64_t conv, const struct store_who_row *row,
                      struct proto_who_row *w)
{
  uint8_t dek[HCR_DEK_LEN];
  struct hcr_time_ad ad;
  int64_t at;
  int rc;

  if (!row->has_time ||
      srv_datakey_get(srv, conn, row->user_id, row->key_version, false, dek,
                      NULL) != STORE_OK)
    return;                     /* no time, purged, or erased: unknown */
  ad = (struct hcr_time_ad){conv, row->ad_from_seq, row->ad_to_seq,
                            row->user_id, row->key_version};
  rc = hcr_open_time(dek, &ad, row->sealed, row->sealed_len, &at);
  hcr_wipe(dek, sizeof(dek));
  if (rc == HCR_OK) {
    w->at = (uint64_t)(at - at % 60000);
    return;
  }
  srv_warn("receipts", "the sealed read time of user %lld in conversation "
                       "%lld, seqs %lld-%lld, key version %u, failed "
                       "authentication (%s): altered or moved from another "
                       "row; shown as read without a time",
           (long long)row->user_id, (long long)conv,
           (long long)row->ad_from_seq, (long long)row->ad_to_seq,
           (unsigned)row->key_version, hcr_strerror(rc));
}

static void who_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct who_job *wj = (struct who_job *)job;
  struct srv_server *srv = wj->s->srv;
  struct store_conv_summary mine;
  struct store_who_read_msg msg;
  struct store_who_row *rows = NULL;
  size_t n = 0;
  int64_t me = wj->s->uid;
  bool sender, recipient = false;
  int rc;

  if (!conn) {
    job->rc = STORE_EUNAVAIL;
    return;
  }
  /* A conversation the caller is not in does not exist for them. */
  if ((rc = store_conversation_get(conn, STORE_PRINCIPAL_USER, me, wj->conv,
                                   &mine)) != STORE_OK ||
      (rc = store_who_read(conn, wj->conv, wj->seq, &msg, &rows, &n)) !=
          STORE_OK) {
    job->rc = rc;
    return;
  }
  if (!(wj->rows = calloc(n ? n : 1, sizeof(*wj->rows)))) {
    job->rc = STORE_EINTERNAL;
    goto out;
  }
  sender = msg.sender_kind == STORE_PRINCIPAL_USER && msg.sender_id == me;
  for (size_t i = 0; i < n && !recipient; i++)
    recipient = rows[i].user_id == me;
  if (!msg.tracked) {
    job->rc = STORE_EINVAL;
    wj->why = "the message is not tracked: it has no read receipts";
    goto out;
  }
  if (!sender && !recipient) {
    /* A member who joined after the message was sent. */
    job->rc = STORE_EFORBIDDEN;
    wj->why = "only the message's sender and its recipients may ask";
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    struct proto_who_row *w;

    /* The sender sees every recipient; anyone else only their own row. */
    if (!sender && rows[i].user_id != me)
      continue;
    w = &wj->rows[wj->n++];
    w->uid = (uint64_t)rows[i].user_id;
    w->read = rows[i].read;
    if (w->read)
      open_time(srv, conn, wj->conv, &rows[i], w);
  }
  job->rc = STORE_OK;
out:
  free(rows);
}

static void who_done(struct srv_dbjob *job)
{
  struct who_job *wj = (struct who_job *)job;
  struct srv_session *s = wj->s;
  struct proto_frame f;

  s->inflight--;
  if (job->rc != STORE_OK) {
    srv_reply_error(s, wj->req, srv_code_from_store(job->rc),
                    job->rc == STORE_EINVAL ? "seq" : NULL, wj->why);
  } else {
    proto_frame_init(&f, PROTO_T_WHO_READ_RESULT);
    f.id = wj->req;
    f.u.who_read_result.conv = (uint64_t)wj->conv;
    f.u.who_read_result.seq = (uint64_t)wj->seq;
    f.u.who_read_result.rows = wj->rows;
    f.u.who_read_result.nrows = wj->n;
    srv_session_send(s, &f);
  }
  free(wj->rows);
  srv_session_unref(s);
  free(wj);
}

int srv_h_who_read(struct srv_session *s, const struct proto_frame *f)
{
  struct who_job *wj = calloc(1, sizeof(*wj));

  if (!wj)
    return PROTO_E_NOMEM;
  wj->job.run = who_run;
  wj->job.done = who_done;
  wj->s = srv_session_ref(s);
  wj->req = f->id;
  wj->conv = (int64_t)f->u.who_read.conv;
  wj->seq = (int64_t)f->u.who_read.seq;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &wj->job);
  return 0;
}

/* ---- replay of the feed during sync ---- */

/* Feed entries read per job; a receipt entry expands to one receipt per
 * message of its range, a remind entry is one item, so a page stays well
 * under the server frame limit. */
#define FEED_PAGE 64

struct feed_job {
  struct srv_dbjob job;
  struct srv_session *s;       /* a sync's replay; NULL for a live push */
  struct srv_server *srv;      /* a live push (srv_feed_push_live) */
  int64_t uid;                 /* whose feed */
  int64_t after;
  struct proto_receipt *items;
  size_t n, cap;
  struct proto_remind reminds[FEED_PAGE];
  size_t nreminds;
  struct proto_ding_update *dings;  /* DING rows (one per entry) */
  size_t ndings;
  struct store_card_event *cev;     /* card events (strings of cards[]) */
  struct proto_card_event *cards;
  size_t ncards;
  int64_t next;
  bool more;
};

static int add_item(struct feed_job *fj, const struct proto_receipt *r)
{
  if (fj->n == fj->cap) {
    size_t cap = fj->cap ? fj->cap * 2 : 64;
    struct proto_receipt *p = realloc(fj->items, cap * sizeof(*p));
    if (!p)
      return -1;
    fj->items = p;
    fj->cap = cap;
  }
  fj->items[fj->n++] = *r;
  return 0;
}

static void feed_run(struct srv_dbjob *job, struct store_conn *conn)
{
  struct feed_job *fj = (struct feed_job *)job;
  struct store_feed_entry *e = NULL;
  size_t ne = 0;

  if (!conn) {
    job->rc = STORE_EUNAVAIL;
    return;
  }
  job->rc = store_feed_after(conn, fj->uid, fj->after, FEED_PAGE, &e, &ne);
  fj->more = ne == FEED_PAGE;
  if (job->rc == STORE_OK) {
    int cut = srv_card_feed_page(conn, e, &ne, &fj->cev, &fj->cards,
                                 &fj->ncards);
    if (cut < 0)
      job->rc = cut;           /* a STORE_* code */
    else if (cut)
      fj->more = true;         /* cut short by the card payloads' size */
  }
  for (size_t i = 0; job->rc == STORE_OK && i < ne; i++) {
    struct store_receipt_count *counts = NULL;
    size_t nc = 0;

    if (e[i].kind == STORE_FEED_REMIND) {
      fj->reminds[fj->nreminds++] = (struct proto_remind){
        (uint64_t)e[i].conversation_id, (uint64_t)e[i].from_seq,
        (uint64_t)e[i].to_seq, (uint64_t)e[i].count,
        (uint64_t)e[i].since_ms, (uint64_t)e[i].fs};
      fj->next = e[i].fs;
      continue;
    }
    if (e[i].kind == STORE_FEED_DING || e[i].kind == STORE_FEED_CARD) {
      fj->next = e[i].fs;       /* below / above, all of the page's at once */
      continue;
    }
    job->rc = store_receipt_counts(conn, e[i].user_id, e[i].conversation_id,
                                   e[i].from_seq, e[i].to_seq, &counts, &nc);
    for (size_t k = 0; job->rc == STORE_OK && k < nc; k++) {
      struct proto_receipt r = {
        (uint64_t)e[i].conversation_id, (uint64_t)counts[k].seq,
        (uint64_t)counts[k].read, (uint64_t)counts[k].total,
        k + 1 == nc ? (uint64_t)e[i].fs : 0};
      if (add_item(fj, &r) != 0)
        job->rc = STORE_EINTERNAL;
    }
    free(counts);
    fj->next = e[i].fs;
  }
  if (job->rc == STORE_OK) {
    struct store_ding_note *notes = NULL;
    size_t nn = 0;

    job->rc = store_ding_notes(conn, e, ne, &notes, &nn);
    if (job->rc == STORE_OK && nn &&
        !(fj->dings = calloc(nn, sizeof(*fj->dings))))
      job->rc = STORE_EINTERNAL;
    for (size_t i = 0; job->rc == STORE_OK && i < nn; i++)
      srv_ding_note_to_proto(&notes[i], &fj->dings[fj->ndings++]);
    free(notes);
  }
  free(e);
}

static void feed_done(struct srv_dbjob *job)
{
  struct feed_job *fj = (struct feed_job *)job;
  struct srv_session *s = fj->s;
  struct proto_frame f;

  s->inflight--;
  if (!srv_session_open(s) || !s->syncing)
    goto out;
  if (job->rc != STORE_OK) {
    s->syncing = 0;
    srv_reply_error(s, s->sync_id, srv_code_from_store(job->rc), NULL, NULL);
    goto out;
  }
  if (fj->n > 0 || fj->nreminds > 0 || fj->ndings > 0 || fj->ncards > 0) {
    proto_frame_init(&f, PROTO_T_FEED);
    f.id = s->sync_id;
    f.u.feed.rcpt = fj->items;
    f.u.feed.nrcpt = fj->n;
    f.u.feed.remind = fj->reminds;
    f.u.feed.nremind = fj->nreminds;
    f.u.feed.ding = fj->dings;
    f.u.feed.nding = fj->ndings;
    f.u.feed.cards = fj->cards;
    f.u.feed.ncards = fj->ncards;
    f.u.feed.next = (uint64_t)fj->next;
    f.u.feed.more = fj->more;
    if (srv_session_send(s, &f) != 0)
      goto out;
    s->feed_cursor = (uint64_t)fj->next;
  }
  if (fj->more)
    srv_feed_replay(s, fj->next);
  else
    srv_sync_part_done(s);
out:
  free(fj->items);
  free(fj->dings);
  srv_card_feed_free(fj->cev, fj->cards, fj->ncards);
  srv_session_unref(s);
  free(fj);
}

void srv_feed_replay(struct srv_session *s, int64_t after)
{
  struct feed_job *fj = calloc(1, sizeof(*fj));

  if (!fj) {
    srv_session_kill(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
    return;
  }
  fj->job.run = feed_run;
  fj->job.done = feed_done;
  fj->s = srv_session_ref(s);
  fj->uid = s->uid;
  fj->after = after;
  fj->next = after;
  s->inflight++;
  srv_dbpool_submit(s->srv->reader, &fj->job);
}

/* ---- Live push of feed entries another node committed (notify.c) ---- */

static uint64_t lane_fs(int lane, const struct feed_job *fj, size_t i)
{
  switch (lane) {
  case 0: return fj->items[i].fs;
  case 1: return fj->reminds[i].fs;
  case 2: return fj->dings[i].fs;
  default: return fj->cards[i].fs;
  }
}

/* Sends the page's items as the live frames the committing node would
 * have sent, merged in fs order (a receipt entry's frames carry fs 0 but
 * the last, so they stay together). */
static void push_live_done(struct srv_dbjob *job)
{
  struct feed_job *fj = (struct feed_job *)job;
  struct srv_server *srv = fj->srv;
  size_t at[4] = {0, 0, 0, 0};
  size_t len[4] = {fj->n, fj->nreminds, fj->ndings, fj->ncards};

  if (job->rc != STORE_OK) {
    /* The devices get the entries from the feed on their next sync. */
    srv_warn("feed", "pushing user %lld's feed after %lld failed: %s",
             (long long)fj->uid, (long long)fj->after,
             store_strerror(job->rc));
    goto out;
  }
  for (;;) {
    struct proto_frame f;
    int best = -1;
    uint64_t best_fs = 0;

    for (int l = 0; l < 4; l++) {
      uint64_t fs;

      if (at[l] == len[l])
        continue;
      fs = lane_fs(l, fj, at[l]);
      if (l == 0 && fs == 0) {    /* within a receipt entry: its end's fs */
        size_t k = at[0];
        while (k < fj->n && fj->items[k].fs == 0)
          k++;
        fs = k < fj->n ? fj->items[k].fs : UINT64_MAX;
      }
      if (best < 0 || fs < best_fs) {
        best = l;
        best_fs = fs;
      }
    }
    if (best < 0)
      break;
    switch (best) {
    case 0:
      proto_frame_init(&f, PROTO_T_RECEIPT);
      f.u.receipt = fj->items[at[0]];
      break;
    case 1:
      proto_frame_init(&f, PROTO_T_REMIND);
      f.u.remind = fj->reminds[at[1]];
      break;
    case 2:
      proto_frame_init(&f, PROTO_T_DING_UPDATE);
      f.u.ding_update = fj->dings[at[2]];
      break;
    default:
      proto_frame_init(&f, PROTO_T_CARD_EVENT);
      f.u.card_event = fj->cards[at[3]];
      break;
    }
    at[best]++;
    for (struct srv_session *s = srv_sessions_of_user(srv, fj->uid); s;
         s = s->user_next)
      if (s->live && srv_session_open(s))
        srv_session_send(s, &f);
  }
  if (fj->more && !srv->stopping)
    srv_feed_push_live(srv, fj->uid, fj->next);
out:
  free(fj->items);
  free(fj->dings);
  srv_card_feed_free(fj->cev, fj->cards, fj->ncards);
  free(fj);
}

void srv_feed_push_live(struct srv_server *srv, int64_t uid, int64_t after)
{
  struct feed_job *fj;

  if (!srv->reader || !(fj = calloc(1, sizeof(*fj))))
    return;     /* the devices get the entries on their next sync */
  fj->job.run = feed_run;
  fj->job.done = push_live_done;
  fj->srv = srv;
  fj->uid = uid;
  fj->after = after;
  fj->next = after;
  srv_dbpool_submit(srv->reader, &fj->job);
}
