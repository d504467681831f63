/*
 * report_int.h — the unread report between storage and the wire, shared by
 * the report_unread frame (h_report.c) and GET /api/v1/reports/unread
 * (http_report.c): the defaults a request leaves out, the storage query it
 * asks for, and the proto form (report_result) of what storage returned.
 */
#ifndef HERALD_SRV_REPORT_INT_H
#define HERALD_SRV_REPORT_INT_H

#include <stdint.h>

#include "proto.h"
#include "store.h"

/* Threshold when the request names none: two hours (SPEC §10). */
#define SRV_REPORT_OLDER_DEFAULT 7200
/* Rows returned when the request names no limit; totals are always
 * complete. */
#define SRV_REPORT_ROWS_DEFAULT 1000
/* The longest department name a request may filter on, in bytes (the
 * frame's bound). */
#define SRV_REPORT_DEPT_MAX 128

/* Fills *q from a request's fields as the frame carries them (0 / NONE =
 * absent, then the defaults above). `dept` (NUL-terminated, or NULL for
 * any) is borrowed: it must outlive the query. Any thread. */
void srv_report_query(struct store_report_query *q, uint64_t older,
                      enum proto_scope scope, uint64_t conv, const char *dept,
                      uint64_t limit);

/* The proto form of a storage report: `res` points into the arrays below,
 * which the view owns, and its strings borrow from the store_report, which
 * must outlive the view. */
struct srv_report_view {
  struct proto_report_result res;
  struct proto_report_row *rows;
  struct proto_report_user *users;
  struct proto_report_dept *depts;
};

/* Builds the view of `r`. Returns 0 or PROTO_E_NOMEM (then nothing is to be
 * cleaned up). Any thread. */
int srv_report_view_init(struct srv_report_view *v, const struct store_report *r);

/* Frees the view's arrays (not the store_report). Takes a zeroed view. */
void srv_report_view_cleanup(struct srv_report_view *v);

#endif
