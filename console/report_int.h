/*
 * report_int.h -- what the report's files share (not for the rest of
 * pgperf, which sees report.h): the facts gathered once per report
 * (report_gather.c) and the helpers that phrase them, used by the JSON
 * (report.c) and the text (report_text.c) so that the two agree.
 */
#ifndef PGPERF_REPORT_INT_H
#define PGPERF_REPORT_INT_H

#include "proxy/pool_state.h"
#include "cache/cache.h"
#include "console/report.h"

struct breach {
	const char *standard;	  /* static: route_p95_ms, ... */
	const char *subject_type; /* static: route, fingerprint, pool, all */
	char subject[160];
	double value, limit;
};

#define MAX_BREACHES 64

struct check {
	const char *standard, *unit;
	double limit;
	double limit_min; /* pool_size: the lower bound */
	double worst; /* the worst value seen, or -1 when nothing to check */
	bool higher_is_worse;
	int breaches;
};

enum { CK_P95, CK_P99, CK_QPR, CK_CACHE, CK_ERR, CK_POOL, CK_N };

struct gather {
	struct ana_finding *f;
	size_t nf;
	struct ana_query *q;
	size_t nq;
	struct ana_totals t;
	struct ana_route *r;
	size_t nr;
	struct ana_windows w;
	bool cache;
	struct cache_stats cs;
	struct cache_fp_stats *cf;
	size_t ncf;
	struct breach br[MAX_BREACHES];
	size_t nbr;
	struct check ck[CK_N];
	int top;		 /* the finding named the bottleneck, or -1 */
	struct pool_view *pools; /* the pools, as plain data */
	size_t npools;
};

#define MAX_ENDPOINTS 16

/* Everything a report shows, copied once (gather_free). */
void report_gather(const struct report_src *s, struct gather *g);
/* The pools as plain data: this process's (pool_snapshot), or the fleet
 * view's summed rows (pgp_free). */
size_t report_pools(const struct report_src *s, struct pool_view **out);
void report_gather_free(struct gather *g);
/* Is a finding something to do (not an index already in place)? */
bool report_actionable(const struct ana_finding *f);
/* A missing_index finding whose index now exists (measuring, kept,
 * retracted): an optimization applied. */
bool report_index_in_place(const struct ana_finding *f);
const char *report_bottleneck_type(enum ana_finding_kind kind);
/* The bottleneck in one sentence. */
void report_root_cause(const struct ana_finding *f, char *buf, size_t cap);
/* How much smaller `after` is than `before`, in percent. */
double report_pct_change(uint64_t before, uint64_t after);
/* The load-test tool an application_name names, else the name. */
void report_tool_of(const char *app, char *buf, size_t cap);
/* The routes of the findings worth acting on, the bottleneck's first. */
size_t report_endpoints(const struct gather *g, char (*out)[ANA_ROUTE_MAX]);

#endif
