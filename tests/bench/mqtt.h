/*
 * mqtt.h — the few MQTT 3.1.1 control packets the load client needs
 * (OASIS MQTT 3.1.1, sections 2 and 3): CONNECT/CONNACK, SUBSCRIBE/SUBACK,
 * PUBLISH (QoS 0 and 1)/PUBACK, PINGREQ/PINGRESP, DISCONNECT.
 *
 * Encoders write into a caller's buffer and return the packet size, or 0
 * when it does not fit. The parser takes a byte stream (packets may share
 * or span WebSocket frames) and returns one packet at a time.
 */
#ifndef HERALD_BENCH_MQTT_H
#define HERALD_BENCH_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mqtt_type {
  MQTT_CONNECT = 1,
  MQTT_CONNACK = 2,
  MQTT_PUBLISH = 3,
  MQTT_PUBACK = 4,
  MQTT_SUBSCRIBE = 8,
  MQTT_SUBACK = 9,
  MQTT_PINGREQ = 12,
  MQTT_PINGRESP = 13,
  MQTT_DISCONNECT = 14,
};

size_t mqtt_connect(uint8_t *out, size_t cap, const char *client_id,
                    uint16_t keepalive_s, bool clean_session);
size_t mqtt_subscribe(uint8_t *out, size_t cap, uint16_t packet_id,
                      const char *topic, uint8_t qos);
size_t mqtt_publish(uint8_t *out, size_t cap, const char *topic, uint8_t qos,
                    uint16_t packet_id, const void *payload, size_t len);
size_t mqtt_puback(uint8_t *out, size_t cap, uint16_t packet_id);
size_t mqtt_pingreq(uint8_t *out, size_t cap);
size_t mqtt_disconnect(uint8_t *out, size_t cap);

/* One parsed packet; pointers borrow from the parsed buffer. */
struct mqtt_packet {
  uint8_t type;                /* enum mqtt_type */
  uint8_t flags;               /* low nibble of the first byte */
  uint16_t packet_id;          /* PUBLISH QoS>0, PUBACK, SUBACK */
  uint8_t code;                /* CONNACK return code, SUBACK first code */
  const uint8_t *topic;        /* PUBLISH */
  size_t topic_len;
  const uint8_t *payload;      /* PUBLISH */
  size_t payload_len;
};

/* Parses the packet at the start of buf[0..len). Returns its size when
 * complete, 0 when more bytes are needed, -1 when malformed. */
long mqtt_parse(const uint8_t *buf, size_t len, struct mqtt_packet *p);

#endif
