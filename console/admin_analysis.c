/*
 * admin_analysis.c -- the admin console's commands over what pgperf
 * learned from the traffic: SHOW QUERIES, FINDINGS, EXPORT, REPORT,
 * REQUESTS and CACHE, and MARK.
 */
#include "admin_int.h"

#include "analyzer/analyzer.h"
#include "cache/cache.h"
#include "lib/log.h"
#include "console/report.h"
#include "fleet/fleet.h"
#include "lib/clock.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* SHOW QUERIES (SHOW FLEET QUERIES): per fingerprint, most total time
 * first; the fleet's say how many processes each covers. */
void admin_show_queries_of(const struct report_src *s, struct wbuf *out)
{
	static const char *const cols[] = {
		"fingerprint", "query",	    "calls",	 "rows",    "errors",
		"total_ms",    "mean_ms",   "p50_ms",	 "p95_ms",  "p99_ms",
		"max_ms",      "kind",	    "wait_ms",	 "p999_ms", "min_ms",
		"first_seen",  "last_seen", "processes", "stale"};
	struct admin_result r;
	struct ana_query *q = NULL;
	size_t n = 0;
	int ncols = (int)ARRAY_SIZE(cols) - (s->fleet ? 0 : 2);

	if (s->ana)
		n = analyzer_queries(s->ana, &q, NULL);
	admin_result_begin(&r, out, cols, ncols);
	for (size_t i = 0; i < n; i++) {
		char b[16][32], stale[512];
		const char *v[19];

		snprintf(b[0], 32, "%016" PRIx64, q[i].fingerprint);
		v[0] = b[0];
		v[1] = q[i].query;
		v[2] = admin_fmt_int(b[1], (long long)q[i].calls);
		v[3] = admin_fmt_int(b[2], (long long)q[i].rows);
		v[4] = admin_fmt_int(b[3], (long long)q[i].errors);
		v[5] = admin_fmt_ms(b[4], q[i].total_us);
		v[6] = admin_fmt_ms(b[5], admin_per(q[i].total_us, q[i].calls));
		v[7] = admin_fmt_ms(b[6], q[i].p50_us);
		v[8] = admin_fmt_ms(b[7], q[i].p95_us);
		v[9] = admin_fmt_ms(b[8], q[i].p99_us);
		v[10] = admin_fmt_ms(b[9], q[i].max_us);
		v[11] = q[i].kind;
		v[12] = admin_fmt_ms(b[10], q[i].wait_us);
		v[13] = admin_fmt_ms(b[11], q[i].p999_us);
		v[14] = admin_fmt_ms(b[12], q[i].min_us);
		v[15] = admin_fmt_time(b[13], q[i].first_seen_us);
		v[16] = admin_fmt_time(b[14], q[i].last_seen_us);
		if (s->fleet) {
			v[17] = admin_fmt_int(
				b[15], fleet_count(s->fleet, q[i].members));
			fleet_stale_ids(s->fleet, q[i].members, pgp_wall_us(),
					stale, sizeof(stale));
			v[18] = stale;
		}
		admin_result_row(&r, v);
	}
	ana_queries_free(q, n);
	admin_result_end(&r, "SHOW");
}

void admin_show_queries(struct pgperf *pp, struct wbuf *out)
{
	struct report_src s = report_src_local(pp);

	admin_show_queries_of(&s, out);
}

/* SHOW FINDINGS (SHOW FLEET FINDINGS): what was found, most costly
 * first. */
void admin_show_findings_of(const struct report_src *s, struct wbuf *out)
{
	static const char *const cols[] = {
		"id",	    "kind",	    "severity",	    "status",
		"tables",   "query",	    "parent_query", "relation",
		"requests", "mean_repeats", "max_repeats",  "saved_ms",
		"routes",   "suggestion",   "json",	    "processes",
		"stale"};
	struct admin_result r;
	struct ana_finding *f = NULL;
	size_t n = 0;
	int ncols = (int)ARRAY_SIZE(cols) - (s->fleet ? 0 : 2);

	n = report_findings_of(s, &f);
	admin_result_begin(&r, out, cols, ncols);
	for (size_t i = 0; i < n; i++) {
		char b[5][32], stale[512];
		const char *v[17];

		v[0] = f[i].id;
		v[1] = ana_finding_kind_name(f[i].kind);
		v[2] = f[i].severity;
		v[3] = f[i].status ? f[i].status : "";
		v[4] = f[i].tables;
		v[5] = f[i].query;
		v[6] = f[i].parent_query ? f[i].parent_query : "";
		v[7] = f[i].relation;
		v[8] = admin_fmt_int(b[0], (long long)f[i].requests);
		snprintf(b[1], sizeof(b[1]), "%.1f", f[i].mean_repeats);
		v[9] = b[1];
		v[10] = admin_fmt_int(b[2], (long long)f[i].max_repeats);
		v[11] = admin_fmt_ms(b[3], f[i].saved_us);
		v[12] = f[i].routes;
		v[13] = f[i].suggestion;
		v[14] = f[i].json;
		if (s->fleet) {
			v[15] = admin_fmt_int(
				b[4], fleet_count(s->fleet, f[i].members));
			fleet_stale_ids(s->fleet, f[i].members, pgp_wall_us(),
					stale, sizeof(stale));
			v[16] = stale;
		}
		admin_result_row(&r, v);
	}
	ana_findings_free(f, n);
	admin_result_end(&r, "SHOW");
}

void admin_show_findings(struct pgperf *pp, struct wbuf *out)
{
	struct report_src s = report_src_local(pp);

	admin_show_findings_of(&s, out);
}

/* SHOW EXPORT: the findings export document, one row, column "json". */
void admin_show_export_of(const struct report_src *s, struct wbuf *out)
{
	static const char *const cols[] = {"json"};
	struct admin_result r;
	struct jbuf b = {0};
	const char *v[1];

	report_export_of(s, &b);
	if (b.oom) {
		free(b.p);
		wire_build_error(out, "ERROR", "53200",
				 "out of memory building the export");
		return;
	}
	admin_result_begin(&r, out, cols, 1);
	v[0] = b.p;
	admin_result_row(&r, v);
	admin_result_end(&r, "SHOW");
	free(b.p);
}

void admin_show_export(struct pgperf *pp, struct wbuf *out)
{
	struct report_src s = report_src_local(pp);

	admin_show_export_of(&s, out);
}

/* SHOW REPORT: the performance report as text, one row per line. */
void admin_show_report_of(const struct report_src *s, struct wbuf *out)
{
	static const char *const cols[] = {"report"};
	struct admin_result r;
	struct jbuf b = {0};
	char *line, *next;

	report_text_of(s, &b);
	if (b.oom || !b.p) {
		free(b.p);
		wire_build_error(out, "ERROR", "53200",
				 "out of memory building the report");
		return;
	}
	admin_result_begin(&r, out, cols, 1);
	for (line = b.p; *line; line = next) {
		const char *v[1];

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		v[0] = line;
		admin_result_row(&r, v);
	}
	admin_result_end(&r, "SHOW");
	free(b.p);
}

void admin_show_report(struct pgperf *pp, struct wbuf *out)
{
	struct report_src s = report_src_local(pp);

	admin_show_report_of(&s, out);
}

/*
 * MARK 'name' | MARK LOAD TEST START ['scenario'] | MARK LOAD TEST STOP:
 * a point in time the report compares around (pgperf-ctl mark).
 */
void admin_mark(struct pgperf *pp, const char *sql, struct wbuf *out)
{
	const char *arg = sql + 4;
	int kind = ANA_MARK_POINT;
	char name[ANA_MARK_NAME], err[256];
	size_t n;

	while (isspace((unsigned char)*arg))
		arg++;
	if (strncasecmp(arg, "load test ", 10) == 0) {
		arg += 10;
		while (isspace((unsigned char)*arg))
			arg++;
		if (strncasecmp(arg, "start", 5) == 0 &&
		    (!arg[5] || isspace((unsigned char)arg[5]))) {
			kind = ANA_MARK_LOAD_START;
			arg += 5;
		} else if (strcasecmp(arg, "stop") == 0) {
			kind = ANA_MARK_LOAD_STOP;
			arg += 4;
		} else {
			wire_build_error(out, "ERROR", "42601",
					 "MARK LOAD TEST takes START or STOP");
			return;
		}
		while (isspace((unsigned char)*arg))
			arg++;
	}
	n = strlen(arg);
	if (n >= 2 && arg[0] == '\'' && arg[n - 1] == '\'') {
		arg++;
		n -= 2;
	}
	if (kind == ANA_MARK_POINT && n == 0) {
		wire_build_error(out, "ERROR", "42601",
				 "MARK needs a name: MARK 'name'");
		return;
	}
	if (n >= sizeof(name) || memchr(arg, '\'', n)) {
		wire_build_error(out, "ERROR", "22023",
				 "a mark's name is at most 63 bytes, without "
				 "quotes");
		return;
	}
	snprintf(name, sizeof(name), "%.*s", (int)n, arg);
	if (kind == ANA_MARK_LOAD_START && !name[0])
		snprintf(name, sizeof(name), "load test");
	if (!report_mark(pp, name, kind, err, sizeof(err))) {
		wire_build_error(out, "ERROR", "55000", err);
		return;
	}
	log_info("mark \"%s\" (%s)", name,
		 kind == ANA_MARK_POINT	       ? "point"
		 : kind == ANA_MARK_LOAD_START ? "load test start"
					       : "load test stop");
	wire_build_command_complete(out, "MARK");
}

/* SHOW REQUESTS: application requests per route. */
void admin_show_requests(struct pgperf *pp, struct wbuf *out)
{
	static const char *const cols[] = {
		"route",	  "requests",	    "statements_mean",
		"statements_p95", "db_ms_mean",	    "db_ms_p95",
		"db_ms_total",	  "nplus1_requests"};
	struct admin_result r;
	struct ana_route *rt = NULL;
	size_t n = 0;

	if (pp->ana)
		n = analyzer_routes(pp->ana, &rt);
	admin_result_begin(&r, out, cols, (int)ARRAY_SIZE(cols));
	for (size_t i = 0; i < n; i++) {
		char b[8][32];
		const char *v[8];

		v[0] = rt[i].route[0] ? rt[i].route : "(untagged)";
		v[1] = admin_fmt_int(b[0], (long long)rt[i].requests);
		snprintf(b[1], sizeof(b[1]), "%.1f", rt[i].statements_mean);
		v[2] = b[1];
		v[3] = admin_fmt_int(b[2], (long long)rt[i].statements_p95);
		v[4] = admin_fmt_ms(b[3],
				    admin_per(rt[i].db_us, rt[i].requests));
		v[5] = admin_fmt_ms(b[4], rt[i].db_p95_us);
		v[6] = admin_fmt_ms(b[5], rt[i].db_us);
		v[7] = admin_fmt_int(b[6], (long long)rt[i].nplus1_requests);
		admin_result_row(&r, v);
	}
	pgp_free(rt);
	admin_result_end(&r, "SHOW");
}

/* SHOW CACHE: the result cache in all, per fingerprint, per table. */
void admin_show_cache(struct pgperf *pp, struct wbuf *out)
{
	static const char *const cols[] = {
		"scope",     "name",  "query",	       "hits", "misses",
		"hit_ratio", "bytes", "invalidations", "state"};
	struct admin_result r;
	struct cache_stats st;
	struct cache_fp_stats *fs = NULL;
	struct cache_table_stats *ts = NULL;
	struct ana_query *q = NULL;
	size_t nf = 0, nt = 0, nq = 0;
	char b[8][64];
	const char *v[9];

	admin_result_begin(&r, out, cols, (int)ARRAY_SIZE(cols));
	if (!pp->cache) {
		v[0] = "total";
		v[1] = "";
		v[2] = "";
		v[3] = v[4] = v[6] = v[7] = "0";
		v[5] = "0.000";
		v[8] = "off";
		admin_result_row(&r, v);
		admin_result_end(&r, "SHOW");
		return;
	}
	cache_get_stats(pp->cache, &st);
	v[0] = "total";
	v[1] = "";
	v[2] = "";
	v[3] = admin_fmt_int(b[0], (long long)st.hits);
	v[4] = admin_fmt_int(b[1], (long long)st.misses);
	snprintf(b[2], sizeof(b[2]), "%.3f",
		 st.hits + st.misses
			 ? (double)st.hits / (double)(st.hits + st.misses)
			 : 0.0);
	v[5] = b[2];
	v[6] = admin_fmt_int(b[3], (long long)st.hit_bytes);
	v[7] = admin_fmt_int(b[4], (long long)st.invalidations);
	v[8] = st.redis_state;
	admin_result_row(&r, v);
	if (pp->ana)
		nq = analyzer_queries(pp->ana, &q, NULL);
	nf = cache_fp_stats(pp->cache, &fs);
	for (size_t i = 0; i < nf; i++) {
		const char *text = "";

		for (size_t k = 0; k < nq; k++)
			if (q[k].fingerprint == fs[i].fingerprint)
				text = q[k].query;
		v[0] = "fingerprint";
		snprintf(b[0], sizeof(b[0]), "%016" PRIx64, fs[i].fingerprint);
		v[1] = b[0];
		v[2] = text;
		v[3] = admin_fmt_int(b[1], (long long)fs[i].hits);
		v[4] = admin_fmt_int(b[2], (long long)fs[i].misses);
		snprintf(b[3], sizeof(b[3]), "%.3f",
			 fs[i].hits + fs[i].misses
				 ? (double)fs[i].hits /
					   (double)(fs[i].hits + fs[i].misses)
				 : 0.0);
		v[5] = b[3];
		v[6] = admin_fmt_int(b[4], (long long)fs[i].hit_bytes);
		v[7] = "";
		v[8] = "";
		admin_result_row(&r, v);
	}
	{
		struct cache_rule_stats *rs = NULL;
		size_t nr = cache_rule_stats(pp->cache, &rs);

		for (size_t i = 0; i < nr; i++) {
			v[0] = "rule";
			v[1] = rs[i].rule;
			v[2] = "";
			v[3] = admin_fmt_int(b[1], (long long)rs[i].hits);
			v[4] = admin_fmt_int(b[2], (long long)rs[i].misses);
			snprintf(b[3], sizeof(b[3]), "%.3f",
				 rs[i].hits + rs[i].misses
					 ? (double)rs[i].hits /
						   (double)(rs[i].hits +
							    rs[i].misses)
					 : 0.0);
			v[5] = b[3];
			v[6] = admin_fmt_int(b[4], (long long)rs[i].hit_bytes);
			v[7] = "";
			v[8] = "";
			admin_result_row(&r, v);
		}
		pgp_free(rs);
	}
	nt = cache_table_stats(pp->cache, &ts);
	for (size_t i = 0; i < nt; i++) {
		if (!ts[i].invalidations)
			continue;
		v[0] = "table";
		if (ts[i].name[0])
			snprintf(b[0], sizeof(b[0]), "%s", ts[i].name);
		else
			snprintf(b[0], sizeof(b[0]), "%016" PRIx64,
				 ts[i].table);
		v[1] = b[0];
		v[2] = "";
		v[3] = v[4] = v[6] = "";
		v[5] = "";
		v[7] = admin_fmt_int(b[1], (long long)ts[i].invalidations);
		v[8] = "";
		admin_result_row(&r, v);
	}
	ana_queries_free(q, nq);
	pgp_free(fs);
	pgp_free(ts);
	admin_result_end(&r, "SHOW");
}
