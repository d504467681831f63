/*
 * cards_fixture.h — helpers the cards unit tests share: actors, creating a
 * card from JSON text, running an action or an edit and keeping the result
 * as the card's next version, and checking a refusal (code and field).
 */
#ifndef HERALD_TEST_CARDS_FIXTURE_H
#define HERALD_TEST_CARDS_FIXTURE_H

#include "cards.h"
#include "check.h"

#define T0 1790000000000LL  /* 2026-09-21T14:13:20Z, inside 2026-Q3 */
#define HOUR 3600000LL
#define DAY (24 * HOUR)

/* A card as the tests keep it: type, state, version, id. */
struct tcard {
  enum card_type type;
  json_t *state;
  int64_t ver, id;
};

static inline struct card_actor user(int64_t id)
{
  struct card_actor a = {.id = id};
  return a;
}

static inline struct card_actor with(struct card_actor a, bool creator,
                                     bool manager)
{
  a.creator = creator;
  a.manager = manager;
  return a;
}

static inline struct card_ctx ctx_of(const struct tcard *c, int64_t now)
{
  struct card_ctx x = {.now_ms = now, .card_id = c ? c->id : 0,
                       .ver = c ? c->ver : 0};
  return x;
}

/* Creates a card; fails the test when refused. */
static inline struct tcard tc_create(const char *body,
                                     struct card_actor actor, int64_t now,
                                     const json_t *okrs)
{
  struct tcard c = {0};
  struct card_change ch = {0};
  struct proto_error err = {0};
  struct card_ctx x = ctx_of(NULL, now);
  int rc;

  x.okrs = okrs;
  rc = card_create(body, strlen(body), &actor, &x, &c.type, &ch, &err);
  if (rc != 0)
    CHECK_FAIL("card_create refused (%d, field %s): %s", rc, err.field,
               err.msg);
  CHECK_STR(ch.ev, "created");
  c.state = json_incref(ch.state);
  c.ver = 1;
  c.id = 100;
  card_change_clear(&ch);
  return c;
}

/* Expects card_create to refuse with `code` naming `field`. */
static inline void tc_create_fails(const char *body, struct card_actor actor,
                                   int code, const char *field)
{
  struct card_change ch = {0};
  struct proto_error err = {0};
  struct card_ctx x = ctx_of(NULL, T0);
  enum card_type t;
  int rc = card_create(body, strlen(body), &actor, &x, &t, &ch, &err);

  if (rc != code || strcmp(err.field, field) != 0)
    CHECK_FAIL("card_create(%s): expected %d at \"%s\", got %d at \"%s\": %s",
               body, code, field, rc, err.field, err.msg);
  CHECK(ch.state == NULL);
  CHECK(err.msg[0] != '\0');
  if (*field)
    CHECK_CONTAINS(err.msg, field);
}

/* Keeps a successful change as the card's next version. */
static inline void tc_apply(struct tcard *c, struct card_change *ch)
{
  json_decref(c->state);
  c->state = json_incref(ch->state);
  c->ver++;
}

/* Runs an action; rc is returned, the change applied when 0. `ev` may be
 * NULL; otherwise the event kind is checked on success. */
static inline int tc_action(struct tcard *c, const char *action,
                            const char *args, struct card_actor actor,
                            int64_t now, struct proto_error *err,
                            const char *ev)
{
  struct card_change ch = {0};
  struct card_ctx x = ctx_of(c, now);
  int rc = card_action(c->type, c->state, action, args, &actor, &x, &ch, err);

  if (rc == 0) {
    CHECK(ch.state != NULL && ch.payload != NULL && ch.ev != NULL);
    if (ev)
      CHECK_STR(ch.ev, ev);
    tc_apply(c, &ch);
  } else {
    CHECK(ch.state == NULL);
  }
  card_change_clear(&ch);
  return rc;
}

static inline int tc_edit(struct tcard *c, const char *path,
                          const char *value, int64_t base,
                          struct card_actor actor, int64_t now,
                          struct proto_error *err)
{
  struct card_change ch = {0};
  struct card_ctx x = ctx_of(c, now);
  int rc = card_edit(c->type, c->state, path, value, base, &actor, &x, &ch,
                     err);

  if (rc == 0)
    tc_apply(c, &ch);
  card_change_clear(&ch);
  return rc;
}

/* `call` must fill a `struct proto_error err` in scope. */
#define CHECK_REFUSED(call, code_, field_)                                    \
  do {                                                                      \
    int rc_;                                                                \
    memset(&err, 0, sizeof(err));                                           \
    rc_ = (call);                                                           \
    if (rc_ != (code_))                                                      \
      CHECK_FAIL("%s: expected %d, got %d (%s: %s)", #call, (int)(code_),    \
                 rc_, err.field, err.msg);                                  \
    CHECK_STR(err.field, field_);                                            \
    CHECK(err.msg[0] != '\0');                                              \
  } while (0)

static inline const char *tc_str(const struct tcard *c, const char *key)
{
  return json_string_value(json_object_get(c->state, key));
}

static inline void tc_free(struct tcard *c)
{
  json_decref(c->state);
  c->state = NULL;
}

#endif
