/*
 * hcrypto_int.h — what the files of crypto/ share and nobody else sees: the
 * master key's layout and the big-endian writers the associated data of
 * every sealed blob is built with.
 */
#ifndef HERALD_HCRYPTO_INT_H
#define HERALD_HCRYPTO_INT_H

#include "hcrypto.h"

/* Allocated whole with sodium_malloc() and made read-only once loaded, so a
 * stray write faults instead of corrupting the key. */
struct hcr_master {
  uint8_t key[HCR_MASTER_LEN];
  uint64_t id;
};

static inline uint8_t *hcr_put_be64(uint8_t *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
  return p + 8;
}

static inline uint8_t *hcr_put_be32(uint8_t *p, uint32_t v)
{
  for (int i = 3; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
  return p + 4;
}

static inline uint64_t hcr_get_be64(const uint8_t *p)
{
  uint64_t v = 0;

  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

#endif
