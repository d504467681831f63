/*
 * proto_samples.h — one complete sample frame per type, and a comparator.
 *
 * Shared by the round-trip tests, the fuzz target and the seed-corpus
 * generator. The samples set EVERY field, optional ones included, to a
 * distinctive value; the comparator is written by hand per struct (not from
 * the schema tables) so that a field the schema forgot shows up as a
 * difference after a round trip.
 */
#ifndef HERALD_PROTO_SAMPLES_H
#define HERALD_PROTO_SAMPLES_H

#include <stddef.h>

#include "proto.h"

/* Fills `f` with the sample of type `t` (f->id = 1000 + t). Everything it
 * points at is static. The frame needs no cleanup. */
void sample_frame(enum proto_type t, struct proto_frame *f);

/* Compares two frames field by field. Returns true when equal; otherwise
 * false with the first difference described in `why` (`n` bytes). */
bool sample_equal(const struct proto_frame *a, const struct proto_frame *b,
                  char *why, size_t n);

#endif
