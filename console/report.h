/*
 * report.h -- the findings export and the performance report (I/O thread).
 *
 * One document, versioned (ANA_FINDINGS_VERSION) and described by
 * docs/findings.schema.json: the instance and time window, the marks, the
 * findings (the analyzer's plus pooling_hazard and pool_saturation, which
 * come from the pools), the per-fingerprint statistics and the report
 * (analysis, metrics before/after the latest mark, optimizations applied,
 * recommendations, load test results, service-level checks).  Served by
 * SHOW EXPORT (pgperf-ctl findings --json, pgperf-ctl report --json) and
 * HTTP /findings and /report; SHOW REPORT renders it as text.
 */
#ifndef PGPERF_REPORT_H
#define PGPERF_REPORT_H

#include "analyzer/analyzer.h"
#include "lib/jsonbuf.h"
#include "proxy/proxy_types.h"

struct fleet_view;

/*
 * What a report reads: this process (its analyzer, pools and cache), or
 * the fleet's merged view (SHOW FLEET ..., /fleet/...: its passive
 * analyzer and summed pools; no cache figures, which stay per process).
 */
struct report_src {
	struct pgperf *pp;    /* settings, and this process */
	struct analyzer *ana; /* pp->ana, or the view's; may be NULL */
	const struct fleet_view *fleet; /* NULL: this process */
};

struct report_src report_src_local(struct pgperf *pp);
struct report_src report_src_fleet(struct pgperf *pp,
				   const struct fleet_view *v);

/* Every finding, most important first (ana_findings_free). */
size_t report_findings(struct pgperf *pp, struct ana_finding **out);
size_t report_findings_of(const struct report_src *s, struct ana_finding **out);
/* The export document, JSON. */
void report_export(struct pgperf *pp, struct jbuf *b);
void report_export_of(const struct report_src *s, struct jbuf *b);
/* The report as text for a terminal: lines separated by '\n'. */
void report_text(struct pgperf *pp, struct jbuf *b);
void report_text_of(const struct report_src *s, struct jbuf *b);
/* The per-fingerprint statistics, a JSON array (also HTTP /queries);
 * with a fleet view, each says the processes it covers. */
void report_queries_json(struct jbuf *b, const struct ana_query *q, size_t n,
			 const struct fleet_view *v);
/* A fleet view's "processes" and "stale" fields for the members in
 * `bits` (",\"processes\":N,\"stale\":[...]"). */
void report_fleet_fields(struct jbuf *b, const struct fleet_view *v,
			 uint64_t bits);
/* Record a mark (enum ana_mark_kind); false with the reason in err. */
bool report_mark(struct pgperf *pp, const char *name, int kind, char *err,
		 size_t errlen);

#endif
