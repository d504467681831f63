/*
 * protocol_report_format.c — the JSON and CSV of an unread report
 * (report_format.h): what heraldctl prints and the HTTP API serves.
 */
#include "check.h"
#include "proto.h"
#include "report_format.h"

#include <jansson.h>

#define S(x) ((struct proto_str){x, sizeof(x) - 1})

static const struct proto_report_row rows[] = {
  /* uid, conv, seq, from, ts (2024-05-01T09:30:00Z), unread_s, ding, acked */
  {12, 3, 41, 7, 1714555800000ull, 10800, false, false},
  {12, 3, 42, 7, 1714555860000ull, 10740, true, true},
  {5, 4, 1, 12, 1714555800000ull, 10800, true, false},
  {99, 4, 2, 5, 1714555800000ull, 7300, false, false},
};

/* Deliberately not sorted by uid. */
static const struct proto_report_user users[] = {
  {12, S("Alex"), S("Ops"), 2, 0},
  {5, S("=cmd|' /C calc'!A0"), S("Sales, EMEA"), 1, 1},
};

static const struct proto_report_dept depts[] = {
  {S("Ops"), 2, 0},
  {S("Sales, EMEA"), 1, 1},
};

static struct proto_report_result sample(void)
{
  struct proto_report_result r = {0};

  r.older = 7200;
  r.now = 1714566600000ull;
  r.rows = rows;
  r.nrows = 4;
  r.users = users;
  r.nusers = 2;
  r.depts = depts;
  r.ndepts = 2;
  r.truncated = true;
  return r;
}

TEST(json_parses_with_every_field)
{
  struct proto_report_result r = sample();
  json_error_t err;
  json_t *j, *row;
  char *out;
  size_t len;

  CHECK_INT(proto_report_json(&r, &out, &len), ==, 0);
  CHECK_UINT(strlen(out), ==, len);
  CHECK(out[len - 1] == '\n');
  j = json_loadb(out, len, 0, &err);
  if (!j)
    CHECK_FAIL("%s: %s", err.text, out);
  CHECK_INT(json_integer_value(json_object_get(j, "older_than_s")), ==, 7200);
  CHECK_INT(json_integer_value(json_object_get(j, "now_ms")), ==,
            1714566600000ll);
  CHECK(json_is_true(json_object_get(j, "truncated")));
  CHECK_UINT(json_array_size(json_object_get(j, "rows")), ==, 4);
  row = json_array_get(json_object_get(j, "rows"), 1);
  CHECK_INT(json_integer_value(json_object_get(row, "recipient")), ==, 12);
  CHECK_STR(json_string_value(json_object_get(row, "name")), "Alex");
  CHECK_INT(json_integer_value(json_object_get(row, "seq")), ==, 42);
  CHECK_INT(json_integer_value(json_object_get(row, "sender")), ==, 7);
  CHECK_INT(json_integer_value(json_object_get(row, "unread_s")), ==, 10740);
  CHECK(json_is_true(json_object_get(row, "ding")));
  CHECK(json_is_true(json_object_get(row, "acked")));
  /* A recipient without a total is named by id. */
  row = json_array_get(json_object_get(j, "rows"), 3);
  CHECK_STR(json_string_value(json_object_get(row, "name")), "#99");
  row = json_array_get(json_object_get(j, "users"), 1);
  CHECK_STR(json_string_value(json_object_get(row, "department")),
            "Sales, EMEA");
  CHECK_INT(json_integer_value(json_object_get(row, "dings")), ==, 1);
  row = json_array_get(json_object_get(j, "departments"), 0);
  CHECK_STR(json_string_value(json_object_get(row, "department")), "Ops");
  json_decref(j);
  /* One row per line. */
  CHECK_CONTAINS(out, "\n    {\"recipient\": 12, \"name\": \"Alex\", "
                      "\"conv\": 3, \"seq\": 41,");
  free(out);
}

TEST(empty_report_is_valid_json_and_a_bare_csv_header)
{
  struct proto_report_result r = {0};
  json_t *j;
  char *out;
  size_t len;

  r.older = 60;
  r.now = 1;
  CHECK_INT(proto_report_json(&r, &out, &len), ==, 0);
  CHECK((j = json_loadb(out, len, 0, NULL)) != NULL);
  CHECK_UINT(json_array_size(json_object_get(j, "rows")), ==, 0);
  CHECK(json_is_false(json_object_get(j, "truncated")));
  json_decref(j);
  free(out);
  CHECK_INT(proto_report_csv(&r, &out, &len), ==, 0);
  CHECK_STR(out, PROTO_REPORT_CSV_HEADER "\n");
  free(out);
}

TEST(csv_quotes_and_defuses_formulas)
{
  struct proto_report_result r = sample();
  struct proto_report_user tricky[] = {
    {12, S("Zoe \"Z\", Sales"), S(""), 2, 0},
    {5, S("=cmd|' /C calc'!A0"), S(""), 1, 1},
    {7, S("Ada\nLovelace"), S(""), 0, 0},
  };
  char *out;
  size_t len;

  r.users = tricky;
  r.nusers = 3;
  CHECK_INT(proto_report_csv(&r, &out, &len), ==, 0);
  CHECK_STR(out,
            PROTO_REPORT_CSV_HEADER "\n"
            "\"Zoe \"\"Z\"\", Sales\",3,41,\"Ada\nLovelace\","
            "2024-05-01T09:30:00Z,10800,no,no\n"
            "\"Zoe \"\"Z\"\", Sales\",3,42,\"Ada\nLovelace\","
            "2024-05-01T09:31:00Z,10740,yes,yes\n"
            "\"'=cmd|' /C calc'!A0\",4,1,\"Zoe \"\"Z\"\", Sales\","
            "2024-05-01T09:30:00Z,10800,yes,no\n"
            "#99,4,2,\"'=cmd|' /C calc'!A0\",2024-05-01T09:30:00Z,7300,no,no\n");
  CHECK_UINT(strlen(out), ==, len);
  free(out);
}

TEST(names_that_are_not_utf8_are_refused)
{
  struct proto_report_result r = sample();
  struct proto_report_user bad[] = {{12, {"\xff\xfe", 2}, S(""), 1, 0}};
  char *out = (char *)1;
  size_t len = 1;

  r.users = bad;
  r.nusers = 1;
  CHECK_INT(proto_report_json(&r, &out, &len), ==, PROTO_E_BAD_UTF8);
  CHECK(out == NULL && len == 0);
  CHECK_INT(proto_report_csv(&r, &out, &len), ==, PROTO_E_BAD_UTF8);
  CHECK(out == NULL);
}

TEST_MAIN()
