/* Unit tests for cards/canonical.c: the canonical encoding (exact bytes),
 * its stability across a jsonb-style round trip, the content hash (which
 * leaves out server-kept members), the sign message and the event chain. */
#include "cards_fixture.h"
#include "hcrypto.h"

static void canon_is(const char *json, const char *want)
{
  json_error_t je;
  json_t *v = json_loads(json, JSON_DECODE_ANY, &je);
  char *s;

  if (!v)
    CHECK_FAIL("bad test JSON %s: %s", json, je.text);
  s = card_canonical(v);
  CHECK_STR(s, want);
  free(s);
  json_decref(v);
}

TEST(canonical_bytes)
{
  canon_is("{ \"b\" : 1, \"a\" : [true, false, null], \"A\": {} }",
           "{\"A\":{},\"a\":[true,false,null],\"b\":1}");
  /* Keys by bytes: "é" (0xc3 0xa9) after "z"; "ab" after "a". */
  canon_is("{\"\xc3\xa9\":1,\"z\":2,\"ab\":3,\"a\":4}",
           "{\"a\":4,\"ab\":3,\"z\":2,\"\xc3\xa9\":1}");
  /* Strings: UTF-8 as is, only what JSON requires escaped. */
  canon_is("[\"\\u00e9\\u4efb/\\/\", \"q\\\"b\\\\\", \"\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f\"]",
           "[\"\xc3\xa9\xe4\xbb\xbb//\",\"q\\\"b\\\\\","
           "\"\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\"]");
  /* Numbers by value. */
  canon_is("[0, -0.0, 1.0, 100.000, 1e2, 1.50, 0.1, -2.5e-1, 0.000001, "
           "123456789.123456, 9223372036854775807, -42]",
           "[0,0,1,100,100,1.5,0.1,-0.25,0.000001,123456789.123456,"
           "9223372036854775807,-42]");
}

/* What PostgreSQL's jsonb does to a document: keys reordered (shorter
 * first), numbers re-printed (1.50 stays 1.50, 100.0 stays 100.0, an
 * integral real may come back as an integer). */
TEST(canonical_survives_a_jsonb_round_trip)
{
  const char *a = "{\"type\":\"okr\",\"objective\":\"Grow \xe4\xbb\xbb\","
                  "\"owner\":5,\"period\":\"2026-Q3\",\"key_results\":"
                  "[{\"title\":\"k\",\"start\":0,\"target\":100.0,"
                  "\"current\":12.5,\"unit\":\"%\",\"confidence\":0.7}]}";
  const char *b = "{\"type\": \"okr\", \"owner\": 5, \"period\": \"2026-Q3\", "
                  "\"objective\": \"Grow \\u4efb\", \"key_results\": "
                  "[{\"unit\": \"%\", \"start\": 0.0, \"title\": \"k\", "
                  "\"target\": 100, \"current\": 12.50, \"confidence\": "
                  "0.70}]}";
  json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
  uint8_t ha[CARD_HASH_LEN], hb[CARD_HASH_LEN];
  char *ca = card_canonical(ja), *cb = card_canonical(jb), *cc;
  json_t *jc;

  CHECK(ja && jb);
  CHECK_STR(ca, cb);
  CHECK_INT(card_content_hash(CARD_OKR, ja, ha), ==, 0);
  CHECK_INT(card_content_hash(CARD_OKR, jb, hb), ==, 0);
  CHECK_MEM(ha, hb, CARD_HASH_LEN);
  /* And through jansson's own dump (17 digits) and back. */
  {
    char *d = json_dumps(ja, JSON_COMPACT);
    jc = json_loads(d, 0, NULL);
    free(d);
  }
  cc = card_canonical(jc);
  CHECK_STR(ca, cc);
  free(ca);
  free(cb);
  free(cc);
  json_decref(ja);
  json_decref(jb);
  json_decref(jc);
}

TEST(content_hash_leaves_out_server_kept_members)
{
  struct tcard c = tc_create(
      "{\"type\":\"interview\",\"employee\":5,\"manager\":3,"
      "\"period\":\"2026-Q3\",\"sections\":{\"notes\":\"n\"}}",
      user(3), T0, NULL);
  uint8_t h1[CARD_HASH_LEN], h2[CARD_HASH_LEN], h3[CARD_HASH_LEN];
  json_t *kept_only = json_deep_copy(c.state);
  uint8_t want[CARD_HASH_LEN];
  char *s;
  const char *expect =
      "{\"employee\":5,\"manager\":3,\"period\":\"2026-Q3\",\"sections\":"
      "{\"action_items\":[],\"behaviour\":\"\",\"development_plan\":\"\","
      "\"notes\":\"n\",\"okr_progress\":[]},\"type\":\"interview\"}";

  CHECK_INT(card_content_hash(c.type, c.state, h1), ==, 0);
  /* The documented definition: SHA-256 of the canonical content. */
  hcr_sha256(expect, strlen(expect), want);
  CHECK_MEM(h1, want, CARD_HASH_LEN);
  json_object_set_new(kept_only, "status", json_string("locked"));
  json_object_set_new(kept_only, "amendment", json_integer(4));
  json_object_set_new(kept_only, "fv", json_pack("{s:i}", "/x", 3));
  CHECK_INT(card_content_hash(c.type, kept_only, h2), ==, 0);
  CHECK_MEM(h1, h2, CARD_HASH_LEN);
  json_object_set_new(json_object_get(kept_only, "sections"), "notes",
                      json_string("m"));
  CHECK_INT(card_content_hash(c.type, kept_only, h3), ==, 0);
  CHECK(memcmp(h1, h3, CARD_HASH_LEN) != 0);
  s = card_canonical(c.state);
  CHECK_CONTAINS(s, "\"status\":\"draft\"");
  free(s);
  json_decref(kept_only);
  tc_free(&c);
}

TEST(sign_message_layout)
{
  uint8_t h[CARD_HASH_LEN], m[CARD_SIGN_MSG_LEN];

  for (int i = 0; i < CARD_HASH_LEN; i++)
    h[i] = (uint8_t)i;
  card_sign_message(0x0102030405060708LL, 9, h, m);
  CHECK_MEM(m, "herald.card.v1", 14);
  CHECK_MEM(m + 14, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  CHECK_MEM(m + 22, "\0\0\0\0\0\0\0\x09", 8);
  CHECK_MEM(m + 30, h, CARD_HASH_LEN);
}

TEST(event_hash_chain)
{
  json_t *p = json_pack("{s:s,s:i}", "action", "accept", "n", 1);
  json_t *q = json_pack("{s:i,s:s}", "n", 1, "action", "accept");
  uint8_t h1[32], h2[32], x[32];
  const char *doc = "{\"actor_bot\":null,\"actor_user\":7,\"at\":1790000000123,"
                    "\"card\":42,\"kind\":\"created\",\"payload\":{\"action\":"
                    "\"accept\",\"n\":1},\"seq\":1}";
  struct hcr_sha256 s;
  uint8_t want[32];

  CHECK_INT(card_event_hash(NULL, 42, 1, "created", 7, 0, 1790000000123LL, p,
                            h1), ==, 0);
  /* The documented definition. */
  hcr_sha256_init(&s);
  hcr_sha256_update(&s, "herald.event.v1", 15);
  hcr_sha256_update(&s, doc, strlen(doc));
  hcr_sha256_final(&s, want);
  CHECK_MEM(h1, want, 32);
  /* Same payload, other key order: same hash. */
  CHECK_INT(card_event_hash(NULL, 42, 1, "created", 7, 0, 1790000000123LL, q,
                            x), ==, 0);
  CHECK_MEM(h1, x, 32);
  CHECK_INT(card_event_hash(h1, 42, 2, "action", 0, 9, 1790000000200LL, p,
                            h2), ==, 0);
  /* Anything changed changes the link. */
  CHECK_INT(card_event_hash(NULL, 42, 2, "action", 0, 9, 1790000000200LL, p,
                            x), ==, 0);
  CHECK(memcmp(x, h2, 32) != 0);
  x[0] = h1[0] ^ 1;
  memcpy(x + 1, h1 + 1, 31);
  CHECK_INT(card_event_hash(x, 42, 2, "action", 0, 9, 1790000000200LL, p, x),
            ==, 0);
  CHECK(memcmp(x, h2, 32) != 0);
  CHECK_INT(card_event_hash(h1, 43, 2, "action", 0, 9, 1790000000200LL, p, x),
            ==, 0);
  CHECK(memcmp(x, h2, 32) != 0);
  CHECK_INT(card_event_hash(h1, 42, 3, "action", 0, 9, 1790000000200LL, p, x),
            ==, 0);
  CHECK(memcmp(x, h2, 32) != 0);
  CHECK_INT(card_event_hash(h1, 42, 2, "edited", 0, 9, 1790000000200LL, p, x),
            ==, 0);
  CHECK(memcmp(x, h2, 32) != 0);
  CHECK_INT(card_event_hash(h1, 42, 2, "action", 9, 0, 1790000000200LL, p, x),
            ==, 0);
  CHECK(memcmp(x, h2, 32) != 0);
  CHECK_INT(card_event_hash(h1, 42, 2, "action", 0, 9, 1790000000201LL, p, x),
            ==, 0);
  CHECK(memcmp(x, h2, 32) != 0);
  json_object_set_new(p, "n", json_integer(2));
  CHECK_INT(card_event_hash(h1, 42, 2, "action", 0, 9, 1790000000200LL, p, x),
            ==, 0);
  CHECK(memcmp(x, h2, 32) != 0);
  json_decref(p);
  json_decref(q);
}

TEST_MAIN()
