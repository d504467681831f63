/*
 * chat_fixture.h — the cast of the chat-core storage tests: a fresh
 * database with alice and bob in three groups (one per tracking policy)
 * and carol in none, and a shorthand for a text message to store.
 *
 * Single-threaded test code.
 */
#ifndef HERALD_CHAT_FIXTURE_H
#define HERALD_CHAT_FIXTURE_H

#include <stdint.h>

#include "store.h"

struct fixture {
  struct store_conn *c;
  int64_t alice, bob, carol;
  int64_t all, flagged, off; /* group ids by tracking policy */
};

/* The conninfo of the database of the last chat_fixture_setup(). */
extern char conninfo[1024];

/* Creates the database, migrates it and the cast. Fails the test on
 * error. */
struct fixture chat_fixture_setup(void);

/* A text message from a user (strings borrowed). */
struct store_send chat_msg(int64_t sender, const char *cmid, int64_t conv,
                           const char *body);

#endif
