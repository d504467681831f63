/*
 * report_format.h — the unread report (report_result) as JSON and CSV.
 *
 * One renderer for every place that prints a report: heraldctl's
 * `--format json|csv` and the server's GET /api/v1/reports/unread write
 * the very same bytes for the same report, so a script can switch between
 * them. (heraldctl's table is for people and stays in heraldctl.)
 *
 * JSON: one object, each row / user / department one compact line:
 *   {
 *     "older_than_s": 7200,
 *     "now_ms": 1714557600000,
 *     "truncated": false,
 *     "rows": [
 *       {"recipient": 12, "name": "Alex", "conv": 3, "seq": 41, "sender": 7,
 *        "sent_at_ms": ..., "unread_s": 10800, "ding": false, "acked": false}
 *     ],
 *     "users": [
 *       {"user": 12, "name": "Alex", "department": "Ops", "unread": 1,
 *        "dings": 0}
 *     ],
 *     "departments": [{"department": "Ops", "unread": 1, "dings": 0}]
 *   }
 * "name" is the recipient's display name, or "#<id>" when the report
 * carries no total for that recipient.
 *
 * CSV (RFC 4180 quoting, "\n" line ends), a header and one line per row:
 *   recipient,conv,seq,sender,sent_at,unread_s,ding,acked
 *   Alex,3,41,#7,2024-05-01T09:30:00Z,10800,no,no
 * recipient and sender are display names ("#<id>" for an id without one in
 * the report's users); sent_at is UTC (the same bytes whatever the machine's
 * time zone). A name that a spreadsheet would take for a formula (it starts
 * with = + - @, a tab or a carriage return) is prefixed with ' so that
 * opening the file never runs it. CSV carries the rows only: totals and
 * `truncated` are in the JSON (the HTTP API also sends X-Report-Truncated).
 *
 * Rendering does not need the arrays sorted, and costs O((rows + users)
 * log users) time; memory is the output plus one row's JSON tree.
 *
 * Any thread; `r` is only read.
 */
#ifndef HERALD_PROTO_REPORT_FORMAT_H
#define HERALD_PROTO_REPORT_FORMAT_H

#include <stddef.h>

struct proto_report_result;

/* The CSV header line, without its "\n". */
#define PROTO_REPORT_CSV_HEADER \
  "recipient,conv,seq,sender,sent_at,unread_s,ding,acked"

/* Renders `r` as JSON (proto_report_json) or CSV (proto_report_csv) into a
 * malloc'd buffer: *out holds *len bytes followed by a NUL (not counted);
 * the caller frees it. Returns 0, PROTO_E_NOMEM, or PROTO_E_BAD_UTF8 when a
 * name or department is not valid UTF-8 (a report decoded from the wire
 * never has one). On failure *out is NULL and *len 0. */
int proto_report_json(const struct proto_report_result *r, char **out,
                      size_t *len);
int proto_report_csv(const struct proto_report_result *r, char **out,
                     size_t *len);

#endif
