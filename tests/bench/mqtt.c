/*
 * mqtt.c — MQTT 3.1.1 packet encoding and decoding (see mqtt.h).
 *
 * Every packet is a fixed header (type << 4 | flags, then the "remaining
 * length" in 1..4 bytes of 7 bits each, least significant first) followed
 * by the packet's own fields; strings are a 16-bit big-endian length and
 * the bytes.
 */
#include "mqtt.h"

#include <string.h>

#define MAX_REMAINING 268435455u   /* four length bytes */

/* Writes the fixed header; returns its size, 0 if it does not fit. */
static size_t put_header(uint8_t *out, size_t cap, uint8_t first,
                         size_t remaining)
{
  size_t n = 0;

  if (remaining > MAX_REMAINING || cap < 2)
    return 0;
  out[n++] = first;
  do {
    uint8_t b = (uint8_t)(remaining % 128);

    remaining /= 128;
    if (remaining)
      b |= 0x80;
    if (n == cap)
      return 0;
    out[n++] = b;
  } while (remaining);
  return n;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
  return p + 2;
}

static uint8_t *put_str(uint8_t *p, const void *s, size_t len)
{
  p = put16(p, (uint16_t)len);
  memcpy(p, s, len);
  return p + len;
}

size_t mqtt_connect(uint8_t *out, size_t cap, const char *client_id,
                    uint16_t keepalive_s, bool clean_session)
{
  size_t idlen = strlen(client_id);
  size_t rem = 10 + 2 + idlen, h;
  uint8_t *p;

  if (idlen > 65535 || !(h = put_header(out, cap, MQTT_CONNECT << 4, rem)) ||
      h + rem > cap)
    return 0;
  p = put_str(out + h, "MQTT", 4);
  *p++ = 4;                                   /* protocol level 3.1.1 */
  *p++ = clean_session ? 0x02 : 0x00;         /* no will, user, password */
  p = put16(p, keepalive_s);
  put_str(p, client_id, idlen);
  return h + rem;
}

size_t mqtt_subscribe(uint8_t *out, size_t cap, uint16_t packet_id,
                      const char *topic, uint8_t qos)
{
  size_t tlen = strlen(topic);
  size_t rem = 2 + 2 + tlen + 1, h;
  uint8_t *p;

  /* SUBSCRIBE's fixed-header flags are 0010 (3.8.1). */
  if (tlen > 65535 ||
      !(h = put_header(out, cap, MQTT_SUBSCRIBE << 4 | 0x2, rem)) ||
      h + rem > cap)
    return 0;
  p = put16(out + h, packet_id);
  p = put_str(p, topic, tlen);
  *p = qos;
  return h + rem;
}

size_t mqtt_publish(uint8_t *out, size_t cap, const char *topic, uint8_t qos,
                    uint16_t packet_id, const void *payload, size_t len)
{
  size_t tlen = strlen(topic);
  size_t rem = 2 + tlen + (qos ? 2 : 0) + len, h;
  uint8_t *p;

  if (tlen > 65535 ||
      !(h = put_header(out, cap, (uint8_t)(MQTT_PUBLISH << 4 | qos << 1),
                       rem)) ||
      h + rem > cap)
    return 0;
  p = put_str(out + h, topic, tlen);
  if (qos)
    p = put16(p, packet_id);
  memcpy(p, payload, len);
  return h + rem;
}

size_t mqtt_puback(uint8_t *out, size_t cap, uint16_t packet_id)
{
  if (cap < 4)
    return 0;
  out[0] = MQTT_PUBACK << 4;
  out[1] = 2;
  put16(out + 2, packet_id);
  return 4;
}

size_t mqtt_pingreq(uint8_t *out, size_t cap)
{
  if (cap < 2)
    return 0;
  out[0] = MQTT_PINGREQ << 4;
  out[1] = 0;
  return 2;
}

size_t mqtt_disconnect(uint8_t *out, size_t cap)
{
  if (cap < 2)
    return 0;
  out[0] = MQTT_DISCONNECT << 4;
  out[1] = 0;
  return 2;
}

static uint16_t get16(const uint8_t *p)
{
  return (uint16_t)(p[0] << 8 | p[1]);
}

long mqtt_parse(const uint8_t *buf, size_t len, struct mqtt_packet *p)
{
  size_t rem = 0, h = 1, mult = 1;
  const uint8_t *b;

  memset(p, 0, sizeof *p);
  if (len < 2)
    return 0;
  for (;;) {
    if (h >= len)
      return 0;
    if (h > 4)
      return -1;
    rem += (buf[h] & 0x7fu) * mult;
    mult *= 128;
    if (!(buf[h++] & 0x80))
      break;
  }
  if (len < h + rem)
    return 0;
  p->type = buf[0] >> 4;
  p->flags = buf[0] & 0x0f;
  b = buf + h;
  switch (p->type) {
  case MQTT_CONNACK:
    if (rem != 2)
      return -1;
    p->code = b[1];
    break;
  case MQTT_PUBLISH: {
    unsigned qos = (p->flags >> 1) & 3;
    size_t off;

    if (rem < 2 || qos > 2)
      return -1;
    p->topic_len = get16(b);
    off = 2 + p->topic_len;
    if (off + (qos ? 2 : 0) > rem)
      return -1;
    p->topic = b + 2;
    if (qos) {
      p->packet_id = get16(b + off);
      off += 2;
    }
    p->payload = b + off;
    p->payload_len = rem - off;
    break;
  }
  case MQTT_PUBACK:
    if (rem != 2)
      return -1;
    p->packet_id = get16(b);
    break;
  case MQTT_SUBACK:
    if (rem < 3)
      return -1;
    p->packet_id = get16(b);
    p->code = b[2];
    break;
  case MQTT_PINGRESP:
    if (rem != 0)
      return -1;
    break;
  default:
    break;                       /* not expected by a client; skipped */
  }
  return (long)(h + rem);
}
