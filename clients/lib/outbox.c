/*
 * outbox.c — the persistent outbox: an ordered log of the requests a
 * device has made and the server has not answered yet (sends, reads, DING
 * acks, card actions).
 *
 * SPEC 4.3/4.5: a send is on disk before the call that made it returns,
 * stays until its ack, and is re-sent with the same cmid after every
 * reconnect — a minute or a week later; the server answers a re-send with
 * the original ack. So the log is append-only and fsync'd per entry:
 *
 *   file    = header record*
 *   header  = "HCOUTBOX" u32 version(1) u32 0 u64 next_oid      (24 bytes)
 *   record  = u32 len u32 crc32(body) body                       (big endian)
 *   body    = u8 op u64 oid payload      (len = 9 + payload bytes)
 *     op 1  ADD:  payload = the request frame as encoded on the wire,
 *                 with id = HC_OID_BIT | oid (the same on every attempt)
 *     op 2  DONE: no payload; the entry `oid` was answered or refused
 *
 * An ADD is fdatasync'd before hc_outbox_append() returns. A DONE is not:
 * losing one in a crash only costs a re-send that the server answers as a
 * duplicate. Whatever follows the last sync point can be torn or missing
 * after a crash, so loading stops at the first record that is short or
 * fails its CRC and cuts the file there; nothing before it was lost.
 * When most of the log is dead (answered entries) it is rewritten with the
 * live entries only, atomically (temporary file + rename). The header
 * carries the next oid so that oids stay unique for the directory's life.
 *
 * Without a state directory the same structure lives in memory only.
 * Every entry keeps its encoded frame (behind `headroom` spare bytes, if
 * the caller wants any). The transport never writes an entry in place: a
 * WebSocket client masks its payload, in place in libwebsockets, and the
 * entry must stay intact for its re-sends.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hc_int.h"

#define OUTBOX_FILE "outbox"
#define OUTBOX_MAGIC "HCOUTBOX"
#define HDR_SIZE 24u
#define REC_HDR 8u            /* len + crc */
#define BODY_HDR 9u           /* op + oid */
#define OP_ADD 1
#define OP_DONE 2
#define MAX_RECORD (64u << 20)
#define COMPACT_MIN (64u << 10)

/* CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), table built once (a
 * process may run contexts on several threads). Detects torn and garbled
 * records; this is not an integrity seal. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t v = i;

    for (int k = 0; k < 8; k++)
      v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
    crc_table[i] = v;
  }
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
  uint32_t c = 0xffffffffu;

  pthread_once(&crc_once, crc_init);
  while (n--)
    c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
  put32(p, (uint32_t)(v >> 32));
  put32(p + 4, (uint32_t)v);
}

static uint32_t get32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static uint64_t get64(const uint8_t *p)
{
  return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static uint64_t add_record_size(size_t frame_len)
{
  return REC_HDR + BODY_HDR + frame_len;
}

/* Writes one record header + body into `out` (REC_HDR + BODY_HDR + len). */
static void make_record(uint8_t *out, int op, uint64_t oid,
                        const uint8_t *payload, size_t len)
{
  uint8_t *body = out + REC_HDR;

  body[0] = (uint8_t)op;
  put64(body + 1, oid);
  if (len)
    memcpy(body + BODY_HDR, payload, len);
  put32(out, (uint32_t)(BODY_HDR + len));
  put32(out + 4, crc32_of(body, BODY_HDR + len));
}

static int write_all_at(int fd, const uint8_t *p, size_t n, uint64_t off)
{
  while (n) {
    ssize_t w = pwrite(fd, p, n, (off_t)off);

    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    p += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
  return 0;
}

/* ---- the in-memory list ---- */

static size_t index_of(const struct hc_outbox *ob, uint64_t oid, bool *found)
{
  size_t lo = 0, hi = ob->n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (ob->v[mid]->oid < oid)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = lo < ob->n && ob->v[lo]->oid == oid;
  return lo;
}

static int reserve_slot(struct hc_outbox *ob)
{
  if (ob->n == ob->cap) {
    size_t cap = ob->cap ? ob->cap * 2 : 8;
    struct hc_obx_entry **v = realloc(ob->v, cap * sizeof *v);

    if (!v)
      return -ENOMEM;
    ob->v = v;
    ob->cap = cap;
  }
  return 0;
}

static struct hc_obx_entry *make_entry(const struct hc_outbox *ob,
                                       uint64_t oid,
                                       const struct proto_frame *f,
                                       const uint8_t *frame, size_t len)
{
  struct hc_obx_entry *e = malloc(sizeof *e + ob->headroom + len);
  const struct proto_str *cmid = NULL;

  if (!e)
    return NULL;
  e->oid = oid;
  e->len = (uint32_t)len;
  e->type = (uint8_t)f->type;
  e->state = HC_OBX_PENDING;
  if (f->type == PROTO_T_SEND)
    cmid = &f->u.send.cmid;
  else if (f->type == PROTO_T_CARD_ACTION)
    cmid = &f->u.card_action.cmid;
  e->cmid[0] = '\0';
  if (cmid && cmid->p && cmid->len <= PROTO_CMID_MAX) {
    memcpy(e->cmid, cmid->p, cmid->len);
    e->cmid[cmid->len] = '\0';
  }
  memset(e->data, 0, ob->headroom);
  memcpy(e->data + ob->headroom, frame, len);
  return e;
}

/* Appends `e` (its oid above every other) to the list; a slot must have
 * been reserved. */
static void insert_entry(struct hc_outbox *ob, struct hc_obx_entry *e)
{
  ob->v[ob->n++] = e;
  ob->bytes += e->len;
}

static int push_entry(struct hc_outbox *ob, uint64_t oid,
                      const struct proto_frame *f, const uint8_t *frame,
                      size_t len)
{
  struct hc_obx_entry *e;

  if (reserve_slot(ob) != 0 || !(e = make_entry(ob, oid, f, frame, len)))
    return -ENOMEM;
  insert_entry(ob, e);
  return 0;
}

static bool outbox_type(enum proto_type t)
{
  return t == PROTO_T_SEND || t == PROTO_T_READ || t == PROTO_T_DING_ACK ||
         t == PROTO_T_CARD_ACTION;
}

/* ---- loading ---- */

static int read_file(int fd, uint8_t **out, size_t *len)
{
  struct stat st;
  uint8_t *buf;
  size_t got = 0;

  if (fstat(fd, &st) != 0)
    return -errno;
  if ((uint64_t)st.st_size > (uint64_t)4 * MAX_RECORD + HDR_SIZE)
    return -EFBIG;
  buf = malloc((size_t)st.st_size + 1);
  if (!buf)
    return -ENOMEM;
  while (got < (size_t)st.st_size) {
    ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      free(buf);
      return -e;
    }
    got += (size_t)n;
  }
  *out = buf;
  *len = got;
  return 0;
}

static int load(struct hc_outbox *ob, const uint8_t *buf, size_t size)
{
  struct proto_limits lim = {.max_frame = MAX_RECORD,
                             .max_depth = PROTO_DEPTH_CAP,
                             .max_body = MAX_RECORD,
                             .accept = PROTO_FROM_CLIENT};
  size_t pos = HDR_SIZE;
  uint64_t last_oid = 0;

  if (size < HDR_SIZE || memcmp(buf, OUTBOX_MAGIC, 8) != 0 ||
      get32(buf + 8) != 1)
    return -EBADMSG;
  ob->next_oid = get64(buf + 16);
  if (ob->next_oid == 0)
    ob->next_oid = 1;

  while (pos < size) {
    uint32_t len, crc;
    const uint8_t *body;
    uint64_t oid;
    int op;

    if (size - pos < REC_HDR)
      break;
    len = get32(buf + pos);
    crc = get32(buf + pos + 4);
    if (len < BODY_HDR || len > MAX_RECORD + BODY_HDR ||
        len > size - pos - REC_HDR)
      break;
    body = buf + pos + REC_HDR;
    if (crc32_of(body, len) != crc)
      break;
    op = body[0];
    oid = get64(body + 1);
    if (op == OP_ADD) {
      struct proto_frame f;
      int rc = proto_decode(body + BODY_HDR, len - BODY_HDR, &lim, &f, NULL);

      /* A record that passed its CRC but does not hold a valid entry was
       * written by a different program or version: refuse rather than
       * drop someone's messages. */
      if (rc != 0 || !outbox_type(f.type) || f.id != (HC_OID_BIT | oid) ||
          oid <= last_oid) {
        proto_frame_cleanup(&f);
        return -EBADMSG;
      }
      rc = push_entry(ob, oid, &f, body + BODY_HDR, len - BODY_HDR);
      proto_frame_cleanup(&f);
      if (rc != 0)
        return rc;
      last_oid = oid;
    } else if (op == OP_DONE) {
      bool found;
      size_t i = index_of(ob, oid, &found);

      if (found) {
        ob->dead += add_record_size(ob->v[i]->len);
        ob->bytes -= ob->v[i]->len;
        free(ob->v[i]);
        memmove(ob->v + i, ob->v + i + 1, (ob->n - i - 1) * sizeof *ob->v);
        ob->n--;
      }
      ob->dead += REC_HDR + len;
    } else {
      return -EBADMSG;
    }
    if (oid >= ob->next_oid)
      ob->next_oid = oid + 1;
    pos += REC_HDR + len;
  }
  ob->file_size = pos;    /* a torn tail beyond pos is cut off */
  return 0;
}

int hc_outbox_open(struct hc_outbox *ob, struct hc_statedir *sd,
                   size_t headroom)
{
  uint8_t *buf = NULL;
  size_t size = 0;
  int rc;

  memset(ob, 0, sizeof *ob);
  ob->fd = -1;
  ob->headroom = headroom;
  ob->next_oid = 1;
  if (!sd)
    return 0;
  ob->sd = sd;
  ob->fd = openat(sd->dirfd, OUTBOX_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (ob->fd < 0 && errno == ENOENT) {
    if ((rc = hc_outbox_compact(ob)) != 0)   /* writes an empty log */
      goto fail;
    return 0;
  }
  if (ob->fd < 0) {
    rc = -errno;
    goto fail;
  }
  if ((rc = read_file(ob->fd, &buf, &size)) != 0)
    goto fail;
  if ((rc = load(ob, buf, size)) != 0)
    goto fail;
  free(buf);
  buf = NULL;
  if (ob->file_size < size) {
    /* Cut the torn tail so that new records follow good ones. */
    if (ftruncate(ob->fd, (off_t)ob->file_size) != 0 || fsync(ob->fd) != 0) {
      rc = -errno;
      goto fail;
    }
  }
  return 0;
fail:
  free(buf);
  hc_outbox_close(ob);
  return rc;
}

void hc_outbox_close(struct hc_outbox *ob)
{
  for (size_t i = 0; i < ob->n; i++)
    free(ob->v[i]);
  free(ob->v);
  if (ob->fd >= 0)
    close(ob->fd);
  memset(ob, 0, sizeof *ob);
  ob->fd = -1;
}

/* ---- changes ---- */

int hc_outbox_append(struct hc_outbox *ob, const struct proto_frame *f,
                     size_t max_frame, struct hc_obx_entry **out)
{
  struct hc_obx_entry *e = NULL;
  struct proto_frame g;
  struct proto_buf pb;
  uint64_t oid = ob->next_oid;
  uint8_t *rec = NULL;
  size_t len, rlen;
  int rc;

  if (!outbox_type(f->type))
    return PROTO_E_UNEXPECTED;
  /* A shallow copy to set the id: the encoder only reads. */
  g = *f;
  g.id = HC_OID_BIT | oid;
  g.arena_ = NULL;
  proto_buf_init(&pb);
  if ((rc = proto_encode(&g, 0, &pb)) != 0)
    goto out;
  len = proto_buf_size(&pb);
  if (len > max_frame || len > MAX_RECORD) {
    rc = PROTO_E_TOO_LARGE;
    goto out;
  }
  /* Everything that can fail for lack of memory happens before the write,
   * so that "on disk" and "in memory" agree. */
  if (reserve_slot(ob) != 0 ||
      !(e = make_entry(ob, oid, f, proto_buf_frame(&pb), len))) {
    rc = -ENOMEM;
    goto out;
  }
  if (ob->fd >= 0) {
    rlen = (size_t)add_record_size(len);
    if (!(rec = malloc(rlen))) {
      rc = -ENOMEM;
      goto out;
    }
    make_record(rec, OP_ADD, oid, proto_buf_frame(&pb), len);
    rc = write_all_at(ob->fd, rec, rlen, ob->file_size);
    /* The entry counts only once it is durable: the caller's success
     * means "on disk". */
    if (rc == 0 && fdatasync(ob->fd) != 0)
      rc = -errno;
    if (rc != 0) {
      /* Take the partial record back so the log stays well-formed; if
       * even that fails, the next load cuts the torn record. */
      if (ftruncate(ob->fd, (off_t)ob->file_size) != 0) {
        /* nothing more to do */
      }
      goto out;
    }
    ob->file_size += rlen;
  }
  insert_entry(ob, e);
  ob->next_oid = oid + 1;
  if (out)
    *out = e;
  e = NULL;
out:
  free(e);
  free(rec);
  proto_buf_cleanup(&pb);
  return rc;
}

struct hc_obx_entry *hc_outbox_find(struct hc_outbox *ob, uint64_t oid)
{
  bool found;
  size_t i = index_of(ob, oid, &found);

  return found ? ob->v[i] : NULL;
}

int hc_outbox_complete(struct hc_outbox *ob, uint64_t oid)
{
  bool found;
  size_t i = index_of(ob, oid, &found);
  struct hc_obx_entry *e;
  uint8_t rec[REC_HDR + BODY_HDR];
  int rc = 0;

  if (!found)
    return -ENOENT;
  e = ob->v[i];
  if (e->state == HC_OBX_INFLIGHT)
    ob->inflight--;
  ob->bytes -= e->len;
  memmove(ob->v + i, ob->v + i + 1, (ob->n - i - 1) * sizeof *ob->v);
  ob->n--;
  if (i < ob->scan)
    ob->scan--;
  if (ob->fd >= 0) {
    ob->dead += add_record_size(e->len);
    make_record(rec, OP_DONE, oid, NULL, 0);
    rc = write_all_at(ob->fd, rec, sizeof rec, ob->file_size);
    if (rc == 0) {
      ob->file_size += sizeof rec;
      ob->dead += sizeof rec;
    }
  }
  free(e);
  if (rc == 0 && ob->fd >= 0 && ob->dead >= COMPACT_MIN &&
      ob->dead * 2 > ob->file_size)
    rc = hc_outbox_compact(ob);
  return rc;
}

int hc_outbox_compact(struct hc_outbox *ob)
{
  uint64_t size = HDR_SIZE;
  uint8_t *buf, *p;
  int fd, rc;

  if (!ob->sd)
    return 0;
  for (size_t i = 0; i < ob->n; i++)
    size += add_record_size(ob->v[i]->len);
  if (!(buf = malloc((size_t)size)))
    return -ENOMEM;
  memcpy(buf, OUTBOX_MAGIC, 8);
  put32(buf + 8, 1);
  put32(buf + 12, 0);
  put64(buf + 16, ob->next_oid);
  p = buf + HDR_SIZE;
  for (size_t i = 0; i < ob->n; i++) {
    struct hc_obx_entry *e = ob->v[i];

    make_record(p, OP_ADD, e->oid, hc_obx_frame(ob, e), e->len);
    p += add_record_size(e->len);
  }
  rc = hc_statedir_write(ob->sd, OUTBOX_FILE, buf, (size_t)size);
  free(buf);
  if (rc != 0)
    return rc;
  fd = openat(ob->sd->dirfd, OUTBOX_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -errno;
  if (ob->fd >= 0)
    close(ob->fd);
  ob->fd = fd;
  ob->file_size = size;
  ob->dead = 0;
  return 0;
}

/* ---- transmission state ---- */

struct hc_obx_entry *hc_outbox_next(struct hc_outbox *ob)
{
  while (ob->scan < ob->n) {
    struct hc_obx_entry *e = ob->v[ob->scan];

    if (e->state == HC_OBX_PENDING)
      return e;
    ob->scan++;
  }
  return NULL;
}

void hc_outbox_sent(struct hc_outbox *ob, struct hc_obx_entry *e)
{
  if (e->state != HC_OBX_INFLIGHT) {
    e->state = HC_OBX_INFLIGHT;
    ob->inflight++;
  }
}

void hc_outbox_unsend(struct hc_outbox *ob, struct hc_obx_entry *e)
{
  bool found;
  size_t i;

  if (e->state != HC_OBX_INFLIGHT)
    return;
  e->state = HC_OBX_PENDING;
  ob->inflight--;
  i = index_of(ob, e->oid, &found);
  if (found && i < ob->scan)
    ob->scan = i;
}

void hc_outbox_rewind(struct hc_outbox *ob)
{
  for (size_t i = 0; i < ob->n; i++)
    ob->v[i]->state = HC_OBX_PENDING;
  ob->inflight = 0;
  ob->scan = 0;
}
