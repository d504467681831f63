/*
 * cards_int.h — what the files of cards/ share: the per-type table the
 * public functions dispatch through, the field validators (check.c), JSON
 * pointers and per-field versions (pointer.c), the canonical writer
 * (canonical.c) and a few state helpers. Nobody outside cards/ sees it.
 */
#ifndef HERALD_CARDS_INT_H
#define HERALD_CARDS_INT_H

#include <stdarg.h>

#include "cards.h"

/* Bounds shared by the schemas (CARDS.md lists them per field). */
#define CK_TITLE_MAX 200         /* characters */
#define CK_TEXT_MAX 4000         /* characters: descriptions, sections */
#define CK_NOTE_MAX 2000         /* characters: comments, check-in notes */
#define CK_UNIT_MAX 32           /* characters */
#define CK_ASSIGNEES_MAX 50
#define CK_KRS_MAX 20
#define CK_ITEMS_MAX 50          /* interview action items */
#define CK_OKRS_MAX 20           /* OKR cards pre-filled into an interview */
#define CK_NUM_MAX 1e9           /* |KR numbers| */

#define CK_PATH_MAX 256          /* bytes of a JSON pointer we build */

#define DAY_MS (24 * 3600 * 1000LL)

/* ---- the per-type table (cards.c) ---- */

struct card_kind {
  enum card_type type;
  const char *name;
  /* Top-level members the server keeps: not part of the content hash, not
   * accepted in a body (except those `body_ok` lists), not editable. */
  const char *const *kept;
  /* Checks the card's content members. `body` true: a new card's body, so
   * a member of `kept` is refused unless `body_ok` (actor-dependent:
   * source from the system) says so; false: a stored state after an edit,
   * kept members are skipped. */
  int (*check)(const json_t *st, bool body, const struct card_actor *actor,
               struct proto_error *err);
  /* Turns a checked body (owned, modified in place) into the initial
   * state: defaults and server-kept members. */
  int (*init)(json_t *st, const struct card_actor *actor,
              const struct card_ctx *ctx, struct card_change *out,
              struct proto_error *err);
  int (*may_create)(const json_t *st, const struct card_actor *actor,
                    struct proto_error *err);
  /* Runs action `name` on `st` (a copy the action may change; it becomes
   * out->state). Sets out->ev and out->payload. */
  int (*action)(json_t *st, const char *name, const json_t *args,
                const struct card_actor *actor, const struct card_ctx *ctx,
                struct card_change *out, struct proto_error *err);
  /* Whether `actor` may edit the member at `path` in this state. */
  int (*may_edit)(const json_t *st, const char *path,
                  const struct card_actor *actor, struct proto_error *err);
  /* After an edit was applied to `st` (a copy): workflow consequences
   * (an interview goes back to draft, an amendment). Sets out->ev. */
  int (*edited)(json_t *st, const struct card_actor *actor,
                const struct card_ctx *ctx, struct card_change *out,
                struct proto_error *err);
  size_t (*people)(const json_t *st, int64_t *ids, size_t max);
  size_t (*subjects)(const json_t *st, int64_t *ids, size_t max);
  int64_t (*reminder)(const json_t *st, int64_t *who, size_t max, size_t *n);
};

extern const struct card_kind card_kind_task, card_kind_okr,
    card_kind_interview;

const struct card_kind *card_kind_of(enum card_type t);

/* True when `key` is one of the type's server-kept members. */
bool card_kept(const struct card_kind *k, const char *key);

/* ---- errors (check.c) ---- */

/* Fills `err` (code, field, printf message) and returns `code`. */
int ck_fail(struct proto_error *err, int code, const char *field,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* `path` + "/" + key (escaped as a JSON pointer token) into `out`
 * (CK_PATH_MAX bytes); truncated silently (error fields are truncated
 * anyway). */
void ck_join(char *out, const char *path, const char *key);
void ck_joini(char *out, const char *path, size_t i);

/* ---- field validators (check.c) ----
 * Each checks member `key` of object `obj` whose pointer is `path`/key and
 * returns 0, or INVALID_CARD naming the member. `required` false: an
 * absent member is fine (the out value is left untouched). A JSON null is
 * treated as a wrong type. */
int ck_object(const json_t *v, const char *path, struct proto_error *err);
/* Refuses any member of `obj` not in `allowed` (NULL-terminated) nor in
 * `also` (may be NULL). */
int ck_known(const json_t *obj, const char *path, const char *const *allowed,
             const char *const *also, struct proto_error *err);
int ck_string(const json_t *obj, const char *key, const char *path,
              bool required, size_t min_chars, size_t max_chars,
              const char **out, struct proto_error *err);
int ck_id(const json_t *obj, const char *key, const char *path,
          bool required, const char *what, int64_t *out,
          struct proto_error *err);
int ck_enum(const json_t *obj, const char *key, const char *path,
            bool required, const char *const *values, const char **out,
            struct proto_error *err);
int ck_time(const json_t *obj, const char *key, const char *path,
            bool required, int64_t *ms, struct proto_error *err);
int ck_period(const json_t *obj, const char *key, const char *path,
              bool required, int64_t *start_ms, int64_t *end_ms,
              struct proto_error *err);
/* A number in [lo, hi] with at most 6 decimals (CARDS.md, canonical). */
int ck_number(const json_t *obj, const char *key, const char *path,
              bool required, double lo, double hi, double *out,
              struct proto_error *err);
int ck_array(const json_t *obj, const char *key, const char *path,
             bool required, size_t min, size_t max, const json_t **out,
             struct proto_error *err);
/* An array of distinct user ids (1..max items). */
int ck_user_list(const json_t *obj, const char *key, const char *path,
                 bool required, size_t max, struct proto_error *err);

/* Characters (code points) of a valid UTF-8 string. */
size_t ck_chars(const char *s);
/* RFC 3339 date-time -> ms since the epoch; -1 when malformed. */
int64_t ck_parse_time(const char *s);
/* "2026", "2026-H1", "2026-Q4" -> [start, end) in UTC ms; -1 malformed. */
int ck_parse_period(const char *s, int64_t *start_ms, int64_t *end_ms);

/* Parses JSON text into an object (`what` names it in messages: "card",
 * "args"). NULL text = empty object. INVALID_CARD (field "") for bad
 * JSON, bad UTF-8, duplicate keys or a non-object. */
int ck_parse_object(const char *text, size_t len, const char *what,
                    json_t **out, struct proto_error *err);

/* ---- state helpers (cards.c) ---- */

int64_t st_int(const json_t *st, const char *key, int64_t dflt);
const char *st_str(const json_t *st, const char *key, const char *dflt);
/* json_object_set_new that reports NOMEM through `err`. */
int st_set(json_t *obj, const char *key, json_t *v, struct proto_error *err);
int ck_nomem(struct proto_error *err);
/* True when `ids` holds `id`. */
bool st_has_id(const json_t *ids, int64_t id);
/* Adds `id` to ids[*n] unless there; returns the new count (counts past
 * `max` without writing). */
size_t st_add_id(int64_t *ids, size_t max, size_t n, int64_t id);
/* Rounds to 6 decimals (what canonical writes), as a double. */
double st_round6(double v);

/* ---- JSON pointers and per-field versions (pointer.c) ---- */

/* Validates `path` (RFC 6901, at most CK_PATH_MAX bytes, no empty
 * pointer, array indexes in decimal without leading zeros or "-"). */
int ptr_check(const char *path, struct proto_error *err);
/* The member at `path`, or NULL. */
json_t *ptr_get(json_t *doc, const char *path);
/* Sets (or with value NULL removes) the member at `path` in `doc`. The
 * parent must exist; an array index may be its size or "-" (append).
 * Steals `value`. Writes the normalised path (the resolved index for "-")
 * into `norm` (CK_PATH_MAX). INVALID_CARD when the parent is missing or
 * the index out of range. */
int ptr_set(json_t *doc, const char *path, json_t *value, char *norm,
            struct proto_error *err);
/* The first token of `path` ("sections" for "/sections/notes") into `out`
 * (unescaped, at most `cap` bytes incl. NUL). */
void ptr_head(const char *path, char *out, size_t cap);
/* True when one of a, b is a prefix (by whole tokens) of the other. */
bool ptr_related(const char *a, const char *b);

/* The state's "fv" member records, per JSON pointer, the version that last
 * changed that content member. CONFLICT when a member related to `path`
 * changed after `base`. */
int fv_check(const json_t *st, const char *path, int64_t base,
             int64_t ver, struct proto_error *err);
/* Records that `path` changes in version `ver` (and drops entries below
 * it, which it covers). */
int fv_record(json_t *st, const char *path, int64_t ver,
              struct proto_error *err);

/* ---- canonical writer (canonical.c) ---- */

/* Canonical encoding of `v` into a malloc'd string; top-level members
 * named in `skip` (NULL-terminated, may be NULL) are left out. NULL on
 * NOMEM. */
char *canon_encode(const json_t *v, const char *const *skip, size_t *len);

/* ---- interview parties (interview.c), for signature.c ---- */
bool interview_party(const json_t *st, const struct card_actor *actor);
bool interview_signed_by(const json_t *st, int64_t user);
/* Moves the record to locked and fills out->spawn with one task body per
 * action item not spawned before. */
int interview_lock(json_t *st, const struct card_ctx *ctx,
                   struct card_change *out, struct proto_error *err);

/* ---- hex ---- */
void card_hex(const uint8_t *in, size_t n, char *out);

#endif
