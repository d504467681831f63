/*
 * frame.c — the memory of frames and encoded buffers.
 *
 * Owns three lifetimes: the arena in which a decoded frame keeps its arrays
 * (a chain of blocks freed at once by proto_frame_cleanup(), bounded per
 * frame so that no input can make one frame hold more than
 * proto_limits.max_arena bytes); the caller-owned struct proto_buf; and the
 * reference-counted struct proto_shared used to fan one encoded frame out
 * to many connections.
 */
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

/* A block of the arena. The newest block is the head and carries the total
 * handed out by the whole chain. */
struct proto_arena {
  struct proto_arena *next;
  size_t cap, off; /* bytes in data[], bytes used */
  size_t total;    /* bytes handed out by the whole chain */
  max_align_t data[];
};

#define ARENA_BLOCK 4096u

int proto_arena_alloc(struct proto_frame *f, size_t size, size_t limit,
                      void **out)
{
  struct proto_arena *a = f->arena_;
  size_t used = a ? a->total : 0;
  size_t align = alignof(max_align_t);
  char *p;

  *out = NULL;
  if (size > SIZE_MAX - align)
    return PROTO_E_TOO_LARGE;
  size = (size + align - 1) / align * align;
  if (used > limit || size > limit - used)
    return PROTO_E_TOO_LARGE;
  if (!a || a->cap - a->off < size) {
    size_t cap = size > ARENA_BLOCK - sizeof *a ? size
                                                : ARENA_BLOCK - sizeof *a;
    struct proto_arena *b = malloc(sizeof *b + cap);

    if (!b)
      return PROTO_E_NOMEM;
    b->next = a;
    b->cap = cap;
    b->off = 0;
    b->total = used;
    f->arena_ = a = b;
  }
  p = (char *)a->data + a->off;
  a->off += size;
  a->total += size;
  memset(p, 0, size);
  *out = p;
  return 0;
}

size_t proto_arena_used(const struct proto_frame *f)
{
  return f->arena_ ? f->arena_->total : 0;
}

void proto_frame_init(struct proto_frame *f, enum proto_type t)
{
  memset(f, 0, sizeof *f);
  f->type = t;
}

void proto_frame_cleanup(struct proto_frame *f)
{
  struct proto_arena *a, *next;

  if (!f)
    return;
  for (a = f->arena_; a; a = next) {
    next = a->next;
    free(a);
  }
  memset(f, 0, sizeof *f);
}

void proto_buf_init(struct proto_buf *b)
{
  memset(b, 0, sizeof *b);
}

void proto_buf_cleanup(struct proto_buf *b)
{
  if (!b)
    return;
  free(b->data);
  memset(b, 0, sizeof *b);
}

struct proto_shared {
  atomic_size_t refs;
  struct proto_buf buf;
  enum proto_type type;     /* of the encoded frame (the server's metrics) */
};

int proto_encode_shared(const struct proto_frame *f, size_t headroom,
                        struct proto_shared **out)
{
  struct proto_shared *s;
  int rc;

  *out = NULL;
  s = malloc(sizeof *s);
  if (!s)
    return PROTO_E_NOMEM;
  proto_buf_init(&s->buf);
  rc = proto_encode(f, headroom, &s->buf);
  if (rc) {
    proto_buf_cleanup(&s->buf);
    free(s);
    return rc;
  }
  atomic_init(&s->refs, 1);
  s->type = f->type;
  *out = s;
  return 0;
}

struct proto_shared *proto_shared_ref(struct proto_shared *s)
{
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}

enum proto_type proto_shared_type(const struct proto_shared *s)
{
  return s->type;
}

void proto_shared_unref(struct proto_shared *s)
{
  if (!s)
    return;
  /* acq_rel: the last owner must see every other owner's writes to the
   * headroom before it frees the buffer. */
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
    proto_buf_cleanup(&s->buf);
    free(s);
  }
}

uint8_t *proto_shared_frame(struct proto_shared *s, size_t *len)
{
  if (len)
    *len = proto_buf_size(&s->buf);
  return proto_buf_frame(&s->buf);
}
