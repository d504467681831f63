/*
 * proto_doc.h — Markdown for PROTOCOL.md, generated from the schema tables.
 *
 * The field tables and the error table in protocol/PROTOCOL.md are exactly
 * what these functions print (protocol_doctool prints them all; the
 * protocol_doc test fails when the document and the code disagree).
 */
#ifndef HERALD_PROTO_DOC_H
#define HERALD_PROTO_DOC_H

#include <stddef.h>

#include "proto_int.h"

struct doc {
  char buf[32768];
  size_t n;
};

/* Appends the field table of `s` (or a line saying it has no fields). */
void doc_table(struct doc *d, const struct proto_schema *s);
/* Appends the table of every error code. */
void doc_errors(struct doc *d);

/* The item schemas, in document order, NULL-terminated. */
extern const struct proto_schema *const doc_items[];

#endif
