/*
 * protocol_doc.c — PROTOCOL.md and the code cannot drift apart.
 *
 * Every error code appears in the document's error table with its number,
 * name, message, close code and retry flag; every frame type has its
 * section and exactly the field table the schema generates; so does every
 * item type. When this fails, run protocol_doctool and paste its output.
 */
#include "check.h"
#include "proto_doc.h"

static char *md;

static const char *doc_text(void)
{
  FILE *f;
  long n;

  if (md)
    return md;
  f = fopen(PROTOCOL_MD, "rb");
  if (!f)
    CHECK_FAIL("cannot open %s", PROTOCOL_MD);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  md = malloc((size_t)n + 1);
  CHECK(md != NULL);
  CHECK_UINT(fread(md, 1, (size_t)n, f), ==, (size_t)n);
  md[n] = 0;
  fclose(f);
  return md;
}

static void has(const char *needle, const char *what)
{
  if (!strstr(doc_text(), needle))
    CHECK_FAIL("PROTOCOL.md lacks %s:\n%s", what, needle);
}

TEST(errors_documented)
{
  static struct doc d;
  char *line, *save = NULL;

  doc_errors(&d);
  for (line = strtok_r(d.buf, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save))
    has(line, "an error row");
#define NAME_(name, code, msg) has("`" #name "`", "an error name");
  PROTO_ERRNO_MAP(NAME_)
#undef NAME_
}

TEST(frames_documented)
{
  for (int t = 1; t < PROTO_T_COUNT_; t++) {
    static struct doc d;
    char head[64];

    snprintf(head, sizeof head, "\n### `%s`", proto_types[t].name);
    has(head, "a frame section");
    d.n = 0;
    d.buf[0] = 0;
    doc_table(&d, proto_types[t].schema);
    has(d.buf, proto_types[t].name);
  }
}

TEST(items_documented)
{
  for (int i = 0; doc_items[i]; i++) {
    static struct doc d;
    char head[64];

    snprintf(head, sizeof head, "\n### item `%s`", doc_items[i]->name);
    has(head, "an item section");
    d.n = 0;
    d.buf[0] = 0;
    doc_table(&d, doc_items[i]);
    has(d.buf, doc_items[i]->name);
  }
}

TEST(transport_documented)
{
  char num[32];

  has(PROTO_SUBPROTOCOL, "the subprotocol");
  snprintf(num, sizeof num, "%u", PROTO_DEFAULT_MAX_FRAME);
  has(num, "the default frame limit");
  snprintf(num, sizeof num, "%u", PROTO_DEFAULT_MAX_BODY);
  has(num, "the default body limit");
  for (int code = 1001; code <= 1011; code++) {
    snprintf(num, sizeof num, "%d", code);
    if (code != 1004 && code != 1005 && code != 1006 && code != 1010)
      has(num, "a WebSocket close code");
  }
}

TEST_MAIN()
