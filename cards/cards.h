/*
 * cards.h — the rules of Herald's cards (SPEC §8): each type's JSON schema,
 * what an action, an edit or a signature does to a card, when a card's
 * next reminder is due, and the canonical forms that are hashed and signed.
 *
 * Pure: no I/O, no database, no clock (times come in through card_ctx).
 * storage/ keeps a card's state, version and events; server/ and heraldctl
 * gather the facts the rules need (who the actor is to the card, the OKRs
 * an interview pre-fills from), call in here, and store what comes out.
 * Clients link it too: the terminal client hashes what it signs with
 * card_content_hash(), and an auditor's tool checks an export with it.
 *
 * A card's state is one JSON object, as members see it (the `payload` of a
 * card_event carries it): {"type": "task", ...the type's fields..., plus
 * the fields the server keeps, such as "status", "signatures"}. Each
 * type's schema, its actions and their arguments, its server-kept fields
 * and the canonical encoding are documented in protocol/CARDS.md.
 *
 * Errors: functions that can refuse return 0 or a negative PROTO_E_* code
 * (protocol/proto_errors.h) and fill `err`: code, `field` = the JSON
 * pointer of the failing member ("/key_results/1/target"; "" for the card
 * as a whole) and `msg` = a sentence naming the field and the reason. The
 * codes used: INVALID_CARD (schema), INVALID_ACTION (unknown action, or
 * not allowed in this state, e.g. editing a locked record), FORBIDDEN (not
 * this actor), CONFLICT (the edited field changed since `base`),
 * STALE_VERSION, BAD_SIGNATURE, NOMEM.
 *
 * Ownership: every json_t argument is borrowed; every json_t in a
 * card_change belongs to the change until card_change_clear().
 * Threads: no shared state; call from any thread.
 */
#ifndef HERALD_CARDS_H
#define HERALD_CARDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proto.h"

enum card_type { CARD_TASK = 1, CARD_OKR = 2, CARD_INTERVIEW = 3 };

/* "task", "okr", "interview"; NULL for anything else. */
const char *card_type_name(enum card_type t);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int card_type_parse(const char *name, enum card_type *out);

/* Who is acting, and what they are to the card: computed by the caller
 * from the database. The system (reminders, cards spawned by a signature)
 * acts with id 0. */
struct card_actor {
  int64_t id;           /* users.id or bots.id; 0 = the system */
  bool bot;
  bool creator;         /* created this card */
  bool manager;         /* a manager, at any level, of one of the card's
                           subjects (card_subjects) */
  bool admin;
};

/* Facts from outside the card. */
struct card_ctx {
  int64_t now_ms;       /* the (test) clock: herald_now() */
  int64_t card_id;      /* 0 while creating */
  int64_t ver;          /* the card's current version; 0 while creating */
  /* Interview creation only: the employee's OKR cards of the record's
   * period, as an array of {"card": id, "state": {...}}; NULL otherwise. */
  const json_t *okrs;
};

/* What a successful change produces; the caller stores it as the next
 * version (ver + 1) and one card_event. */
struct card_change {
  json_t *state;        /* the new state */
  const char *ev;       /* event kind, static: created, action, edited,
                           submitted, signed, locked, amended, checkin,
                           comment, reminder */
  json_t *payload;      /* the event's details, without the state */
  /* NULL, or an array of card bodies to create in the same transaction,
   * each as card_create() would accept them (the interview's action items
   * becoming task cards on the second signature). Created by the system. */
  json_t *spawn;
  int64_t parent;       /* okr: the parent objective's card id, for
                           cards.parent_card_id; 0 = none */
};

/* Frees what `c` holds and zeroes it. Safe on a zeroed change. */
void card_change_clear(struct card_change *c);

/* Parses and checks a new card's body (JSON text, `len` bytes; the `send`
 * frame's body). On success *type is its type and `out` the initial state
 * (defaults filled in, server-kept fields set). Checks the schema and what
 * the card alone can tell (a bot may post tasks only, ...); the caller then
 * checks the people it names (card_people) and computes actor->manager from
 * card_subjects(out->state), and calls card_may_create(). */
int card_create(const char *body, size_t len, const struct card_actor *actor,
                const struct card_ctx *ctx, enum card_type *type,
                struct card_change *out, struct proto_error *err);

/* Whether `actor` may create this card (e.g. an interview by its manager
 * or employee). 0 or PROTO_E_FORBIDDEN. */
int card_may_create(enum card_type t, const json_t *state,
                    const struct card_actor *actor, struct proto_error *err);

/* The users a card names (assignees, owner, employee, manager, action item
 * owners), each once, in no particular order. Writes up to `max` ids and
 * returns how many there are (may exceed `max`). The caller refuses with
 * INVALID_CARD on the field when one is not an active user of the org, and
 * for an interview when `manager` is not a manager of `employee`. */
size_t card_people(enum card_type t, const json_t *state, int64_t *ids,
                   size_t max);

/* The users whose managers count as "a manager" of the card (task:
 * assignees; okr: owner; interview: employee). Same contract. */
size_t card_subjects(enum card_type t, const json_t *state, int64_t *ids,
                     size_t max);

/* Runs a named action (`args`: JSON object text, or NULL for none). The
 * caller has checked `base` against the version (STALE_VERSION). The
 * action "remind" is the system's: it records that the reminder from
 * card_next_reminder() was sent. */
int card_action(enum card_type t, const json_t *state, const char *action,
                const char *args, const struct card_actor *actor,
                const struct card_ctx *ctx, struct card_change *out,
                struct proto_error *err);

/* Edits the member at JSON pointer `path` to `value` (JSON text), based on
 * version `base`. Edits of different fields based on the same version both
 * succeed; a field (or a member inside it, or its parent) changed after
 * `base` is CONFLICT. Editing a signed record starts an amendment. */
int card_edit(enum card_type t, const json_t *state, const char *path,
              const char *value, int64_t base,
              const struct card_actor *actor, const struct card_ctx *ctx,
              struct card_change *out, struct proto_error *err);

#define CARD_HASH_LEN 32
#define CARD_SIG_LEN 64
#define CARD_PUB_LEN 32
#define CARD_SIGN_MSG_LEN 62

/* SHA-256 of the canonical encoding of the card's content (the state
 * without server-kept fields), the `hash` a signer signs. 0 or NOMEM. */
int card_content_hash(enum card_type t, const json_t *state,
                      uint8_t out[CARD_HASH_LEN]);

/* The 62 signed bytes: "herald.card.v1" ‖ card (u64 big-endian) ‖ ver (u64
 * big-endian) ‖ hash (PROTOCOL.md §3.8). */
void card_sign_message(int64_t card, int64_t ver,
                       const uint8_t hash[CARD_HASH_LEN],
                       uint8_t out[CARD_SIGN_MSG_LEN]);

/* Applies a signature by actor with the key `pub` registered for device
 * `dev` (NULL: no key registered -> BAD_SIGNATURE). Checks the state
 * (submitted, a party who has not signed this version), `ver` against
 * ctx->ver (STALE_VERSION), `hash` against card_content_hash() and the
 * Ed25519 signature of card_sign_message(). The second signature locks the
 * record and fills out->spawn. */
int card_sign(enum card_type t, const json_t *state, int64_t ver,
              const uint8_t hash[CARD_HASH_LEN],
              const uint8_t sig[CARD_SIG_LEN], const char *dev,
              const uint8_t *pub, const struct card_actor *actor,
              const struct card_ctx *ctx, struct card_change *out,
              struct proto_error *err);

/* When the card's next reminder is due (ms; 0 = none) and to whom: task
 * overdue (assignees, once per due date), okr not checked in for 7 days
 * (owner), interview signatures pending 48 hours (the parties who have not
 * signed). Writes up to `max` ids to `who` and their count to *n. The
 * caller keeps cards.next_reminder_at, defers each recipient through quiet
 * hours (herald_quiet_until), and records the sending with the "remind"
 * action, after which this returns the following reminder. */
int64_t card_next_reminder(enum card_type t, const json_t *state,
                           int64_t *who, size_t max, size_t *n);

/* Canonical JSON: UTF-8, no insignificant whitespace, object keys sorted
 * by bytes, as specified in CARDS.md. Returns a malloc'd NUL-terminated
 * string (free()), or NULL when out of memory. */
char *card_canonical(const json_t *v);

/* One link of a card's hash chain (card_events): SHA-256 of
 * "herald.event.v1" ‖ prev (32 bytes; absent for the first event) ‖ the
 * canonical encoding of {"card", "seq", "kind", "actor_user", "actor_bot"
 * (null when none), "at" (ms), "payload"}. 0 or NOMEM. */
int card_event_hash(const uint8_t *prev, int64_t card, int64_t seq,
                    const char *kind, int64_t actor_user, int64_t actor_bot,
                    int64_t at_ms, const json_t *payload,
                    uint8_t out[CARD_HASH_LEN]);

/* card_event_hash() of a payload given as JSON text (as stored): the
 * shape of storage's store_card_hash_fn. PROTO_E_INVALID_CARD when the
 * text is not a JSON object, NOMEM. */
int card_event_hash_text(const uint8_t *prev, int64_t card, int64_t seq,
                         const char *kind, int64_t actor_user,
                         int64_t actor_bot, int64_t at_ms,
                         const char *payload, uint8_t out[CARD_HASH_LEN]);

#endif
