/*
 * proto_doctool.c — prints the generated tables of PROTOCOL.md.
 *
 * Usage: protocol_doctool [frames|items|errors]  (default: all). Paste the
 * output into protocol/PROTOCOL.md when a schema changes; the protocol_doc
 * test names any table that no longer matches.
 */
#include <stdio.h>
#include <string.h>

#include "proto_doc.h"

int main(int argc, char **argv)
{
  const char *what = argc > 1 ? argv[1] : "all";
  bool all = strcmp(what, "all") == 0;

  if (all || strcmp(what, "frames") == 0)
    for (int t = 1; t < PROTO_T_COUNT_; t++) {
      static struct doc d;

      d.n = 0;
      d.buf[0] = 0;
      doc_table(&d, proto_types[t].schema);
      printf("### `%s`\n\n%s\n", proto_types[t].name, d.buf);
    }
  if (all || strcmp(what, "items") == 0)
    for (int i = 0; doc_items[i]; i++) {
      static struct doc d;

      d.n = 0;
      d.buf[0] = 0;
      doc_table(&d, doc_items[i]);
      printf("### item `%s`\n\n%s\n", doc_items[i]->name, d.buf);
    }
  if (all || strcmp(what, "errors") == 0) {
    static struct doc d;

    doc_errors(&d);
    printf("%s", d.buf);
  }
  return 0;
}
