/*
 * admin_int.h -- what the admin console's files share (admin.c: the
 * connection, the pooling and configuration commands, dispatch;
 * admin_analysis.c: statistics, findings, the report, marks, the cache):
 * building a result set, and formatting its values.
 */
#ifndef PGPERF_ADMIN_INT_H
#define PGPERF_ADMIN_INT_H

#include "proxy/proxy_types.h"
#include "proto/wire.h"

/* A result set under construction: rows are built straight into `out`. */
struct admin_result {
	struct wbuf *out;
	int ncols;
	int nrows;
};

void admin_result_begin(struct admin_result *r, struct wbuf *out,
			const char *const *cols, int ncols);
void admin_result_row(struct admin_result *r, const char *const *vals);
void admin_result_end(struct admin_result *r, const char *tag);
/* Formatting into caller-provided scratch buffers of 32 bytes. */
const char *admin_fmt_int(char *buf, long long v);
const char *admin_fmt_time(char *buf, int64_t wall_us); /* NULL when unset */
const char *admin_fmt_ms(char *buf, uint64_t us);
/* Is `cmd` these words, case aside, with any blanks between them? */
bool admin_cmd_is(const char *cmd, const char *word);
/* a / b, 0 when b is 0 */
uint64_t admin_per(uint64_t a, uint64_t b);

/* admin_analysis.c (the _of forms: this process or the fleet's view) */
struct report_src;
void admin_show_queries_of(const struct report_src *s, struct wbuf *out);
void admin_show_findings_of(const struct report_src *s, struct wbuf *out);
void admin_show_export_of(const struct report_src *s, struct wbuf *out);
void admin_show_report_of(const struct report_src *s, struct wbuf *out);
void admin_show_queries(struct pgperf *pp, struct wbuf *out);
void admin_show_findings(struct pgperf *pp, struct wbuf *out);
void admin_show_export(struct pgperf *pp, struct wbuf *out);
void admin_show_report(struct pgperf *pp, struct wbuf *out);
void admin_show_requests(struct pgperf *pp, struct wbuf *out);
void admin_show_cache(struct pgperf *pp, struct wbuf *out);
/* MARK 'name' | MARK LOAD TEST START ['scenario'] | MARK LOAD TEST STOP */
void admin_mark(struct pgperf *pp, const char *sql, struct wbuf *out);

/* admin_fleet.c: SHOW FLEET [QUERIES|STATS|POOLS|FINDINGS|EXPORT|REPORT];
 * false when `sql` is none of them. */
bool admin_fleet_command(struct pgperf *pp, const char *sql, struct wbuf *out);

#endif
