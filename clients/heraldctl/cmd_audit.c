/*
 * cmd_audit.c — heraldctl audit verify and audit export (SPEC §8).
 *
 * verify walks every card's event chain in the database (storage's
 * read-only walk, constant memory) and recomputes each link with cards/'s
 * card_event_hash(); the first broken link of a card is reported with what
 * it means: a hash that does not match its event (edited), a missing seq
 * (removed), a prev_hash that is not the previous event's hash
 * (reordered), or a head_hash that is not the newest event's (the newest
 * events removed).
 *
 * export writes one employee's interview records as JSON — every event with
 * its hashes, every version's state, every signature with the signer's
 * public key — in the format of protocol/CARDS.md ("Audit export"), so that
 * a third party can verify the history with the public keys alone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cards.h"
#include "ctl_int.h"
#include "hcrypto.h"

static const char AUDIT_VERIFY_HELP[] =
  "Usage: heraldctl audit verify\n"
  "\n"
  "Recomputes the hash chain of every card's events and compares it with\n"
  "what the database holds. Reports the first broken link of each card:\n"
  "the card id, the event seq and what is wrong (an event edited, removed\n"
  "or reordered, or the newest events removed). Exit status 1 when any\n"
  "chain is broken.\n"
  "\n"
  "Options:\n"
  "  -h, --help       this help\n";

static const char AUDIT_EXPORT_HELP[] =
  "Usage: heraldctl audit export --user LOGIN [--out FILE]\n"
  "\n"
  "Writes the complete signed history of the employee's interview records\n"
  "as JSON (to FILE, else standard output): per record every event with\n"
  "its hashes, every version's state and every signature with the signer's\n"
  "device public key, so that a third party can check it with the public\n"
  "keys alone (protocol/CARDS.md, \"Audit export\").\n"
  "\n"
  "Options:\n"
  "  --user LOGIN     the employee\n"
  "  --out FILE       write here instead of standard output\n"
  "  -h, --help       this help\n";

/* ---- chain verification, shared by verify and export ---- */

struct chain {
  int64_t card;
  int64_t next_seq;           /* the seq the next event must have */
  int64_t last_seq;
  bool has_last;
  uint8_t head[CARD_HASH_LEN];  /* the newest event's hash */
  bool broken;
  char why[256];
  int64_t events;
  json_t *last;               /* the newest event's payload (owned) */
};

static void chain_start(struct chain *ch, int64_t card)
{
  json_decref(ch->last);
  memset(ch, 0, sizeof(*ch));
  ch->card = card;
  ch->next_seq = 1;
}

static void hexs(const uint8_t *b, size_t n, char *out)
{
  static const char d[] = "0123456789abcdef";

  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[b[i] >> 4];
    out[2 * i + 1] = d[b[i] & 15];
  }
  out[2 * n] = '\0';
}

static void broke(struct chain *ch, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
static void broke(struct chain *ch, const char *fmt, ...)
{
  va_list ap;

  ch->broken = true;
  va_start(ap, fmt);
  vsnprintf(ch->why, sizeof(ch->why), fmt, ap);
  va_end(ap);
}

/* Checks one event; `payload` is its parsed payload (NULL: unparsable).
 * Returns 0, or -1 when out of memory. */
static int chain_event(struct chain *ch, const struct store_audit_event *e,
                       const json_t *payload)
{
  uint8_t h[CARD_HASH_LEN];

  ch->events++;
  if (ch->broken)
    return 0;
  if (e->seq != ch->next_seq) {
    if (ch->next_seq == 1)
      broke(ch, "event %lld: the chain does not start at seq 1: events 1 to "
                "%lld were removed", (long long)e->seq,
            (long long)e->seq - 1);
    else
      broke(ch, "event %lld: seq %lld is missing: event %lld was removed",
            (long long)e->seq, (long long)ch->next_seq,
            (long long)ch->next_seq);
    return 0;
  }
  if (e->seq == 1 && e->has_prev) {
    broke(ch, "event 1: has a prev_hash although it is the first event "
              "(reordered)");
    return 0;
  }
  if (e->seq > 1 && (!e->has_prev || memcmp(e->prev, ch->head, CARD_HASH_LEN))) {
    broke(ch, "event %lld: prev_hash is not the hash of event %lld: the "
              "events were reordered or replaced", (long long)e->seq,
          (long long)e->seq - 1);
    return 0;
  }
  if (!payload) {
    broke(ch, "event %lld: the payload cannot be read as JSON: the event was "
              "edited", (long long)e->seq);
    return 0;
  }
  if (card_event_hash(e->seq > 1 ? ch->head : NULL, e->card, e->seq, e->kind,
                      e->actor_user, e->actor_bot, e->at_ms, payload, h) != 0)
    return -1;
  if (memcmp(h, e->hash, CARD_HASH_LEN) != 0) {
    broke(ch, "event %lld: hash mismatch: the event (kind, actor, time or "
              "payload) was edited", (long long)e->seq);
    return 0;
  }
  memcpy(ch->head, e->hash, CARD_HASH_LEN);
  json_decref(ch->last);
  ch->last = json_incref((json_t *)payload);
  ch->has_last = true;
  ch->last_seq = e->seq;
  ch->next_seq = e->seq + 1;
  return 0;
}

/* The card row's state must be the state the newest event carries
 * (compared canonically, so jsonb's re-printing does not matter): a state
 * changed in the row alone is as much tampering as an edited event. */
static void chain_state(struct chain *ch, const struct store_audit_card *c)
{
  json_t *row = c->state ? json_loads(c->state, 0, NULL) : NULL;
  const json_t *ev = json_object_get(ch->last, "state");
  char *a, *b;

  if (!ev) {                  /* events without states: nothing to compare */
    json_decref(row);
    return;
  }
  a = row ? card_canonical(row) : NULL;
  b = card_canonical(ev);
  if (!a || !b || strcmp(a, b) != 0)
    broke(ch, "event %lld: the card's state is not the state of its newest "
              "event %lld: the card row was edited",
          (long long)ch->last_seq, (long long)ch->last_seq);
  free(a);
  free(b);
  json_decref(row);
}

static void chain_end(struct chain *ch, const struct store_audit_card *c)
{
  if (ch->broken)
    return;
  if (!ch->has_last) {
    broke(ch, "no events: every event of the card was removed");
    return;
  }
  if (!c->has_head || memcmp(c->head, ch->head, CARD_HASH_LEN) != 0) {
    broke(ch, "event %lld: head_hash is not the hash of the newest event "
              "%lld: the events after it were removed",
          (long long)ch->last_seq + 1, (long long)ch->last_seq);
    return;
  }
  if (c->version != ch->last_seq) {
    broke(ch, "event %lld: the card is at version %lld but its chain ends "
              "at event %lld: events were removed",
          (long long)ch->last_seq + 1, (long long)c->version,
          (long long)ch->last_seq);
    return;
  }
  chain_state(ch, c);
}

static json_t *parse_payload(const char *text)
{
  return json_loads(text, JSON_DECODE_ANY, NULL);
}

/* ---- verify ---- */

struct verify {
  struct chain ch;
  int64_t cards, events, broken;
};

static int v_card(void *arg, const struct store_audit_card *c)
{
  struct verify *v = arg;

  chain_start(&v->ch, c->id);
  v->cards++;
  return 0;
}

static int v_event(void *arg, const struct store_audit_event *e)
{
  struct verify *v = arg;
  json_t *p = parse_payload(e->payload);
  int rc = chain_event(&v->ch, e, p);

  json_decref(p);
  v->events++;
  return rc;
}

static int v_card_end(void *arg, const struct store_audit_card *c)
{
  struct verify *v = arg;

  chain_end(&v->ch, c);
  if (v->ch.broken) {
    v->broken++;
    printf("card %lld (%s): %s\n", (long long)c->id, c->type, v->ch.why);
  }
  return 0;
}

int ctl_cmd_audit_verify(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {CTL_COMMON_OPTIONS,
                                       {NULL, 0, NULL, 0}};
  struct verify v = {0};
  struct store_audit_visitor vis = {.card = v_card, .event = v_event,
                                    .card_end = v_card_end, .arg = &v};
  int opt, rc;

  ctl->help = AUDIT_VERIFY_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1)
    if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
      return rc;
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  rc = store_card_audit_walk(ctl->conn, &vis);
  json_decref(v.ch.last);
  if (rc < 0)
    return ctl_store_error(ctl);
  if (rc > 0)
    return ctl_error("out of memory");
  printf("%lld card%s, %lld event%s checked: %s\n", (long long)v.cards,
         v.cards == 1 ? "" : "s", (long long)v.events,
         v.events == 1 ? "" : "s",
         v.broken ? "BROKEN" : "every chain is intact");
  if (v.broken)
    printf("%lld card%s with a broken chain\n", (long long)v.broken,
           v.broken == 1 ? "" : "s");
  return v.broken ? CTL_ERR : CTL_OK;
}

/* ---- export ---- */

struct export {
  json_t *records;       /* the output array */
  json_t *rec;           /* the record being built */
  json_t *states;        /* ver (as text) -> state, for signature checks */
  struct chain ch;
  int64_t bad;           /* records with a broken chain or signature */
};

static json_t *hexj(const uint8_t *b, size_t n)
{
  char s[2 * 64 + 1];

  hexs(b, n, s);
  return json_string(s);
}

static json_t *id_or_null(int64_t v)
{
  return v ? json_integer(v) : json_null();
}

static int x_card(void *arg, const struct store_audit_card *c)
{
  struct export *x = arg;
  json_t *state = c->state ? parse_payload(c->state) : NULL;

  chain_start(&x->ch, c->id);
  x->states = json_object();
  x->rec = json_pack("{s:I,s:s,s:I,s:o,s:o,s:[],s:[],s:[]}", "card",
                     (json_int_t)c->id, "type", c->type, "version",
                     (json_int_t)c->version, "head_hash",
                     c->has_head ? hexj(c->head, CARD_HASH_LEN) : json_null(),
                     "state", state ? state : json_null(), "events",
                     "versions", "signatures");
  return x->rec && x->states ? 0 : -1;
}

static int x_event(void *arg, const struct store_audit_event *e)
{
  struct export *x = arg;
  json_t *p = parse_payload(e->payload), *ev, *st;
  uint8_t h[CARD_HASH_LEN];
  char key[24];
  enum card_type t;
  int rc = chain_event(&x->ch, e, p);

  if (rc != 0) {
    json_decref(p);
    return rc;
  }
  ev = json_pack("{s:I,s:s,s:o,s:o,s:I,s:O?,s:o,s:o}", "seq",
                 (json_int_t)e->seq, "kind", e->kind, "actor_user",
                 id_or_null(e->actor_user), "actor_bot",
                 id_or_null(e->actor_bot), "at", (json_int_t)e->at_ms,
                 "payload", p, "prev_hash",
                 e->has_prev ? hexj(e->prev, CARD_HASH_LEN) : json_null(),
                 "hash", hexj(e->hash, CARD_HASH_LEN));
  if (!ev || json_array_append_new(json_object_get(x->rec, "events"), ev)) {
    json_decref(p);
    return -1;
  }
  /* The state after this event, when the payload carries it: version seq. */
  st = json_object_get(p, "state");
  if (json_is_object(st) &&
      card_type_parse(json_string_value(json_object_get(x->rec, "type")),
                      &t) == 0) {
    if (card_content_hash(t, st, h) != 0 ||
        json_array_append_new(
            json_object_get(x->rec, "versions"),
            json_pack("{s:I,s:O,s:o}", "ver", (json_int_t)e->seq, "state",
                      st, "content_hash", hexj(h, CARD_HASH_LEN)))) {
      json_decref(p);
      return -1;
    }
    snprintf(key, sizeof(key), "%lld", (long long)e->seq);
    json_object_set(x->states, key, st);
  }
  json_decref(p);
  return 0;
}

/* A signature and what a verifier finds: the Ed25519 signature of the
 * sign message under the public key, and the hash equal to the content
 * hash of the state at that version (when the export has that state). */
static int x_signature(void *arg, const struct store_audit_signature *s)
{
  struct export *x = arg;
  uint8_t msg[CARD_SIGN_MSG_LEN], h[CARD_HASH_LEN];
  char key[24];
  json_t *st, *sig;
  bool sig_ok, hash_ok = false, hash_known = false;
  enum card_type t;

  card_sign_message(s->card, s->version, s->hash, msg);
  sig_ok = s->has_pub &&
           hcr_sign_verify(s->pub, msg, sizeof(msg), s->sig) == HCR_OK;
  snprintf(key, sizeof(key), "%lld", (long long)s->version);
  st = json_object_get(x->states, key);
  if (st && card_type_parse(json_string_value(json_object_get(x->rec, "type")),
                            &t) == 0 &&
      card_content_hash(t, st, h) == 0) {
    hash_known = true;
    hash_ok = memcmp(h, s->hash, CARD_HASH_LEN) == 0;
  }
  if (!sig_ok || (hash_known && !hash_ok))
    x->bad++;
  sig = json_pack("{s:I,s:s,s:I,s:s,s:o,s:o,s:o,s:I,s:b}", "user",
                  (json_int_t)s->signer, "login", s->signer_login, "ver",
                  (json_int_t)s->version, "device", s->device, "public_key",
                  s->has_pub ? hexj(s->pub, CARD_PUB_LEN) : json_null(),
                  "hash", hexj(s->hash, CARD_HASH_LEN), "sig",
                  hexj(s->sig, CARD_SIG_LEN), "at", (json_int_t)s->at_ms,
                  "signature_valid", sig_ok);
  if (!sig)
    return -1;
  if (hash_known && json_object_set_new(sig, "hash_matches_version",
                                        json_boolean(hash_ok))) {
    json_decref(sig);
    return -1;
  }
  return json_array_append_new(json_object_get(x->rec, "signatures"), sig)
             ? -1 : 0;
}

static int x_card_end(void *arg, const struct store_audit_card *c)
{
  struct export *x = arg;
  json_t *chain;

  chain_end(&x->ch, c);
  if (x->ch.broken)
    x->bad++;
  chain = x->ch.broken ? json_pack("{s:b,s:s}", "intact", 0, "error",
                                   x->ch.why)
                       : json_pack("{s:b}", "intact", 1);
  json_decref(x->states);
  x->states = NULL;
  if (!chain || json_object_set_new(x->rec, "chain", chain) ||
      json_array_append_new(x->records, x->rec)) {
    x->rec = NULL;
    return -1;
  }
  x->rec = NULL;
  return 0;
}

int ctl_cmd_audit_export(struct ctl *ctl, int argc, char **argv)
{
  enum { OPT_USER = 1, OPT_OUT };
  static const struct option opts[] = {
    {"user", required_argument, NULL, OPT_USER},
    {"out", required_argument, NULL, OPT_OUT},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  struct export x = {0};
  struct store_audit_visitor vis = {.card = x_card, .event = x_event,
                                    .signature = x_signature,
                                    .card_end = x_card_end, .arg = &x};
  const char *login = NULL, *out = NULL;
  int64_t uid = 0;
  json_t *doc = NULL;
  FILE *f = NULL;
  int opt, rc;

  ctl->help = AUDIT_EXPORT_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_USER: login = optarg; break;
    case OPT_OUT: out = optarg; break;
    default:
      if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
        return rc;
    }
  }
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if (!login)
    return ctl_usage(ctl, "missing --user LOGIN");
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  x.records = json_array();
  if (!x.records)
    return ctl_error("out of memory");
  rc = store_card_audit_interviews(ctl->conn, login, &uid, &vis);
  json_decref(x.ch.last);
  json_decref(x.rec);
  json_decref(x.states);
  if (rc != 0) {
    json_decref(x.records);
    return rc < 0 ? ctl_store_error(ctl) : ctl_error("out of memory");
  }
  doc = json_pack("{s:s,s:{s:I,s:s},s:I,s:o}", "format",
                  "herald.audit.export.v1", "employee", "id", (json_int_t)uid,
                  "login", login, "exported_at",
                  (json_int_t)time(NULL) * 1000, "records", x.records);
  if (!doc)
    return ctl_error("out of memory");
  f = out ? fopen(out, "w") : stdout;
  if (!f) {
    json_decref(doc);
    return ctl_error("cannot write %s: %s", out, strerror(errno));
  }
  rc = json_dumpf(doc, f, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 &&
               fputc('\n', f) != EOF
           ? CTL_OK : CTL_ERR;
  if (out && fclose(f) != 0)
    rc = CTL_ERR;
  if (rc != CTL_OK)
    ctl_error("cannot write %s", out ? out : "the export");
  fprintf(stderr, "%zu interview record%s of %s exported%s\n",
          json_array_size(json_object_get(doc, "records")),
          json_array_size(json_object_get(doc, "records")) == 1 ? "" : "s",
          login, x.bad ? "; SOME CHAINS OR SIGNATURES DO NOT VERIFY" : "");
  json_decref(doc);
  if (rc == CTL_OK && x.bad)
    rc = CTL_ERR;
  return rc;
}
