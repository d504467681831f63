/*
 * Unit tests for clients/lib/outbox.c: the persistent outbox log — order,
 * transmission states, reload, crash recovery (torn and garbled tails),
 * compaction, file modes, and the bounds it enforces.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "hc_int.h"
#include "tmpdir.h"

#define HEADROOM 16

static void make_send(struct proto_frame *f, const char *cmid, uint64_t conv,
                      const char *body)
{
  proto_frame_init(f, PROTO_T_SEND);
  f->u.send.cmid = (struct proto_str){cmid, strlen(cmid)};
  f->u.send.conv = conv;
  f->u.send.kind = PROTO_KIND_TEXT;
  f->u.send.body = (struct proto_str){body, strlen(body)};
}

static struct hc_statedir open_dir(const char *sub)
{
  struct hc_statedir sd;
  char path[600];

  snprintf(path, sizeof path, "%s/%s", test_tmpdir(), sub);
  CHECK_INT(hc_statedir_open(&sd, path), ==, 0);
  return sd;
}

static off_t file_size(const char *sub, const char *name)
{
  char path[700];
  struct stat st;

  snprintf(path, sizeof path, "%s/%s/%s", test_tmpdir(), sub, name);
  CHECK_INT(stat(path, &st), ==, 0);
  return st.st_size;
}

/* Decodes an entry's frame as the server would. */
static void decode_entry(const struct hc_outbox *ob,
                         const struct hc_obx_entry *e, struct proto_frame *f)
{
  struct proto_limits lim = {.accept = PROTO_FROM_CLIENT};

  CHECK_INT(proto_decode(hc_obx_frame(ob, e), e->len, &lim, f, NULL), ==, 0);
}

TEST(memory_order_and_states)
{
  struct hc_outbox ob;
  struct hc_obx_entry *e1, *e2;
  struct proto_frame f;

  CHECK_INT(hc_outbox_open(&ob, NULL, HEADROOM), ==, 0);
  make_send(&f, "c-1", 7, "one");
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, &e1), ==, 0);
  make_send(&f, "c-2", 7, "two");
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, &e2), ==, 0);
  CHECK_UINT(e1->oid, ==, 1);
  CHECK_UINT(e2->oid, ==, 2);
  CHECK_STR(e1->cmid, "c-1");
  CHECK_UINT(ob.n, ==, 2);
  /* The transport's headroom is there, zeroed. */
  for (int i = 0; i < HEADROOM; i++)
    CHECK_UINT(e1->data[i], ==, 0);

  CHECK(hc_outbox_next(&ob) == e1);
  hc_outbox_sent(&ob, e1);
  CHECK(hc_outbox_next(&ob) == e2);
  hc_outbox_sent(&ob, e2);
  CHECK(hc_outbox_next(&ob) == NULL);
  CHECK_UINT(ob.inflight, ==, 2);
  /* A retryable refusal puts an entry back in line, first. */
  hc_outbox_unsend(&ob, e1);
  CHECK(hc_outbox_next(&ob) == e1);
  CHECK_UINT(ob.inflight, ==, 1);
  hc_outbox_sent(&ob, e1);
  /* A disconnect: everything is pending again, in order. */
  hc_outbox_rewind(&ob);
  CHECK_UINT(ob.inflight, ==, 0);
  CHECK(hc_outbox_next(&ob) == e1);

  /* Acks may come in any order. */
  hc_outbox_sent(&ob, e1);
  hc_outbox_sent(&ob, e2);
  CHECK_INT(hc_outbox_complete(&ob, 2), ==, 0);
  CHECK_UINT(ob.inflight, ==, 1);
  CHECK(hc_outbox_find(&ob, 2) == NULL);
  CHECK(hc_outbox_find(&ob, 1) == e1);
  CHECK_INT(hc_outbox_complete(&ob, 1), ==, 0);
  CHECK_INT(hc_outbox_complete(&ob, 1), ==, -ENOENT);
  CHECK_UINT(ob.n, ==, 0);
  CHECK_UINT(ob.bytes, ==, 0);
  hc_outbox_close(&ob);
}

TEST(entry_is_the_wire_frame_with_a_stable_id)
{
  struct hc_outbox ob;
  struct hc_obx_entry *e;
  struct proto_frame f, d;

  CHECK_INT(hc_outbox_open(&ob, NULL, HEADROOM), ==, 0);
  make_send(&f, "01ABC", 9, "hello");
  f.id = 12345;             /* ignored: the outbox assigns the id */
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, &e), ==, 0);
  decode_entry(&ob, e, &d);
  CHECK_UINT(d.type, ==, PROTO_T_SEND);
  CHECK_UINT(d.id, ==, HC_OID_BIT | e->oid);
  CHECK_UINT(d.u.send.conv, ==, 9);
  CHECK_UINT(d.u.send.cmid.len, ==, 5);
  CHECK_MEM(d.u.send.cmid.p, "01ABC", 5);
  CHECK_MEM(d.u.send.body.p, "hello", 5);
  proto_frame_cleanup(&d);
  hc_outbox_close(&ob);
}

TEST(refuses_what_does_not_belong)
{
  struct hc_outbox ob;
  struct proto_frame f;
  char big[2000];

  CHECK_INT(hc_outbox_open(&ob, NULL, HEADROOM), ==, 0);
  proto_frame_init(&f, PROTO_T_HELLO);
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, NULL), ==, PROTO_E_UNEXPECTED);
  proto_frame_init(&f, PROTO_T_SEND);          /* no cmid, conv, body */
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, NULL), ==, PROTO_E_MISSING);
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  make_send(&f, "c", 1, big);
  CHECK_INT(hc_outbox_append(&ob, &f, 1024, NULL), ==, PROTO_E_TOO_LARGE);
  CHECK_UINT(ob.n, ==, 0);
  CHECK_UINT(ob.next_oid, ==, 1);
  hc_outbox_close(&ob);
}

TEST(persists_and_reloads_in_order)
{
  struct hc_statedir sd = open_dir("p");
  struct hc_outbox ob;
  struct hc_obx_entry *e;
  struct proto_frame f, d;

  CHECK_INT(hc_outbox_open(&ob, &sd, HEADROOM), ==, 0);
  make_send(&f, "a", 1, "first");
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, NULL), ==, 0);
  proto_frame_init(&f, PROTO_T_READ);
  f.u.read.conv = 1;
  f.u.read.seq = 5;
  f.u.read.at = 1700000000000ull;
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, NULL), ==, 0);
  proto_frame_init(&f, PROTO_T_CARD_ACTION);
  f.u.card_action.card = 3;
  f.u.card_action.action = (struct proto_str){"accept", 6};
  f.u.card_action.cmid = (struct proto_str){"ca-1", 4};
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, NULL), ==, 0);
  CHECK_INT(hc_outbox_complete(&ob, 2), ==, 0);
  hc_outbox_close(&ob);

  CHECK_INT(hc_outbox_open(&ob, &sd, HEADROOM), ==, 0);
  CHECK_UINT(ob.n, ==, 2);
  CHECK_UINT(ob.v[0]->oid, ==, 1);
  CHECK_UINT(ob.v[1]->oid, ==, 3);
  CHECK_STR(ob.v[0]->cmid, "a");
  CHECK_STR(ob.v[1]->cmid, "ca-1");
  CHECK_UINT(ob.v[1]->type, ==, PROTO_T_CARD_ACTION);
  decode_entry(&ob, ob.v[0], &d);
  CHECK_MEM(d.u.send.body.p, "first", 5);
  proto_frame_cleanup(&d);
  /* Oids never repeat in a directory. */
  make_send(&f, "b", 1, "second");
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, &e), ==, 0);
  CHECK_UINT(e->oid, ==, 4);
  hc_outbox_close(&ob);
  hc_statedir_close(&sd);
}

TEST(private_modes)
{
  char path[600];
  struct hc_statedir sd;
  struct hc_outbox ob;
  struct stat st;

  snprintf(path, sizeof path, "%s/m", test_tmpdir());
  CHECK_INT(mkdir(path, 0755), ==, 0);
  CHECK_INT(hc_statedir_open(&sd, path), ==, 0);
  CHECK_INT(stat(path, &st), ==, 0);
  CHECK_UINT(st.st_mode & 0777, ==, 0700);       /* narrowed */
  CHECK_INT(hc_outbox_open(&ob, &sd, HEADROOM), ==, 0);
  snprintf(path, sizeof path, "%s/m/outbox", test_tmpdir());
  CHECK_INT(stat(path, &st), ==, 0);
  CHECK_UINT(st.st_mode & 0777, ==, 0600);
  hc_outbox_close(&ob);
  hc_statedir_close(&sd);
}

/* Appends n sends "m0".. to the outbox in dir `sub` and closes it. */
static void fill(const char *sub, int n)
{
  struct hc_statedir sd = open_dir(sub);
  struct hc_outbox ob;
  struct proto_frame f;
  char cmid[16], body[16];

  CHECK_INT(hc_outbox_open(&ob, &sd, HEADROOM), ==, 0);
  for (int i = 0; i < n; i++) {
    snprintf(cmid, sizeof cmid, "c%d", i);
    snprintf(body, sizeof body, "m%d", i);
    make_send(&f, cmid, 1, body);
    CHECK_INT(hc_outbox_append(&ob, &f, 65536, NULL), ==, 0);
  }
  hc_outbox_close(&ob);
  hc_statedir_close(&sd);
}

static void reopen_count(const char *sub, size_t want_n)
{
  struct hc_statedir sd = open_dir(sub);
  struct hc_outbox ob;
  struct proto_frame f;
  struct hc_obx_entry *e;

  CHECK_INT(hc_outbox_open(&ob, &sd, HEADROOM), ==, 0);
  CHECK_UINT(ob.n, ==, want_n);
  /* The log is well-formed again: appends after the cut survive. */
  make_send(&f, "after", 1, "after the cut");
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, &e), ==, 0);
  hc_outbox_close(&ob);
  CHECK_INT(hc_outbox_open(&ob, &sd, HEADROOM), ==, 0);
  CHECK_UINT(ob.n, ==, want_n + 1);
  CHECK_STR(ob.v[ob.n - 1]->cmid, "after");
  hc_outbox_close(&ob);
  hc_statedir_close(&sd);
}

TEST(torn_tail_is_cut)
{
  char path[700];
  off_t size;

  fill("torn", 3);
  size = file_size("torn", "outbox");
  snprintf(path, sizeof path, "%s/torn/outbox", test_tmpdir());
  /* A crash in the middle of the third append. */
  CHECK_INT(truncate(path, size - 4), ==, 0);
  reopen_count("torn", 2);
}

TEST(garbled_tail_is_cut)
{
  char path[700];
  off_t size;
  int fd;
  char b;

  fill("garbled", 3);
  size = file_size("garbled", "outbox");
  snprintf(path, sizeof path, "%s/garbled/outbox", test_tmpdir());
  fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  CHECK_INT(pread(fd, &b, 1, size - 2), ==, 1);
  b ^= 0x55;
  CHECK_INT(pwrite(fd, &b, 1, size - 2), ==, 1);
  close(fd);
  reopen_count("garbled", 2);
}

TEST(zeroed_tail_is_cut)
{
  char path[700], zeros[64] = {0};
  int fd;

  fill("zeros", 2);
  snprintf(path, sizeof path, "%s/zeros/outbox", test_tmpdir());
  fd = open(path, O_WRONLY | O_APPEND);
  CHECK(fd >= 0);
  CHECK_INT(write(fd, zeros, sizeof zeros), ==, sizeof zeros);
  close(fd);
  reopen_count("zeros", 2);
}

TEST(not_an_outbox_is_refused)
{
  struct hc_statedir sd = open_dir("junk");
  struct hc_outbox ob;
  char path[700];
  FILE *f;

  snprintf(path, sizeof path, "%s/junk/outbox", test_tmpdir());
  f = fopen(path, "w");
  CHECK(f != NULL);
  fputs("this is not an outbox log at all", f);
  fclose(f);
  CHECK_INT(hc_outbox_open(&ob, &sd, HEADROOM), ==, -EBADMSG);
  hc_statedir_close(&sd);
}

TEST(compaction_bounds_the_log)
{
  struct hc_statedir sd = open_dir("compact");
  struct hc_outbox ob;
  struct hc_obx_entry *e;
  struct proto_frame f;
  char cmid[32], body[200];
  uint64_t last_oid = 0;

  memset(body, 'b', sizeof body - 1);
  body[sizeof body - 1] = '\0';
  CHECK_INT(hc_outbox_open(&ob, &sd, HEADROOM), ==, 0);
  /* One entry stays unanswered throughout, the rest are answered. */
  make_send(&f, "keep", 1, "kept");
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, NULL), ==, 0);
  for (int i = 0; i < 3000; i++) {
    snprintf(cmid, sizeof cmid, "c%d", i);
    make_send(&f, cmid, 1, body);
    CHECK_INT(hc_outbox_append(&ob, &f, 65536, &e), ==, 0);
    last_oid = e->oid;
    CHECK_INT(hc_outbox_complete(&ob, e->oid), ==, 0);
  }
  /* 3000 entries of ~250 bytes went through; the log stays small. */
  CHECK_INT(file_size("compact", "outbox"), <, 200 * 1024);
  hc_outbox_close(&ob);
  CHECK_INT(hc_outbox_open(&ob, &sd, HEADROOM), ==, 0);
  CHECK_UINT(ob.n, ==, 1);
  CHECK_STR(ob.v[0]->cmid, "keep");
  make_send(&f, "next", 1, "next");
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, &e), ==, 0);
  CHECK_UINT(e->oid, ==, last_oid + 1);
  hc_outbox_close(&ob);
  hc_statedir_close(&sd);
}

TEST(empty_log_keeps_oids_unique)
{
  struct hc_statedir sd = open_dir("oids");
  struct hc_outbox ob;
  struct hc_obx_entry *e;
  struct proto_frame f;

  CHECK_INT(hc_outbox_open(&ob, &sd, HEADROOM), ==, 0);
  make_send(&f, "x", 1, "x");
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, &e), ==, 0);
  CHECK_INT(hc_outbox_complete(&ob, e->oid), ==, 0);
  CHECK_INT(hc_outbox_compact(&ob), ==, 0);
  hc_outbox_close(&ob);
  CHECK_INT(hc_outbox_open(&ob, &sd, HEADROOM), ==, 0);
  CHECK_UINT(ob.n, ==, 0);
  CHECK_INT(hc_outbox_append(&ob, &f, 65536, &e), ==, 0);
  CHECK_UINT(e->oid, ==, 2);
  hc_outbox_close(&ob);
  hc_statedir_close(&sd);
}

TEST_MAIN()
