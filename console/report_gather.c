/*
 * report_gather.c -- the facts a report is made of, gathered once on the
 * I/O thread when a reader asks: the findings (report_findings), the
 * analyzer's statistics, routes and windows around marks, the cache's
 * figures; the service levels checked against them; and the helpers that
 * phrase a finding, shared by the JSON (report.c) and the text
 * (report_text.c).  Nothing is kept between calls.
 */
#include "report_int.h"

#include "fleet/fleet.h"

#include "proxy/config.h"
#include "proxy/pool.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void breach(struct gather *g, int ck, const char *type,
		   const char *subject, double value)
{
	struct check *c = &g->ck[ck];
	struct breach *b;

	c->breaches++;
	if (g->nbr == MAX_BREACHES)
		return;
	b = &g->br[g->nbr++];
	b->standard = c->standard;
	b->subject_type = type;
	snprintf(b->subject, sizeof(b->subject), "%s", subject);
	b->value = value;
	b->limit = c->limit;
}

static void seen(struct check *c, double v)
{
	if (c->worst < 0 || (c->higher_is_worse ? v > c->worst : v < c->worst))
		c->worst = v;
}

static const char *route_name(const char *r)
{
	return r[0] ? r : "(untagged)";
}

/* The service levels of the configuration, checked. */
static void check_standards(struct pgperf *pp, struct gather *g)
{
	const struct config *cfg = pp->cfg;
	struct check init[CK_N] = {
		{"route_p95_ms", "ms", cfg->slo_route_p95_ms, 0, -1, true, 0},
		{"route_p99_ms", "ms", cfg->slo_route_p99_ms, 0, -1, true, 0},
		{"queries_per_request", "queries", cfg->slo_queries_per_request,
		 0, -1, true, 0},
		{"cache_hit_pct", "%", cfg->slo_cache_hit_pct, 0, -1, false, 0},
		{"error_rate_pct", "%", cfg->slo_error_rate_pct, 0, -1, true,
		 0},
		{"pool_size", "connections", cfg->slo_pool_size_max,
		 cfg->slo_pool_size_min, -1, true, 0},
	};

	memcpy(g->ck, init, sizeof(init));
	for (size_t i = 0; i < g->nr; i++) {
		const struct ana_route *r = &g->r[i];
		double p95 = (double)r->db_p95_us / 1000;
		double p99 = (double)r->db_p99_us / 1000;

		seen(&g->ck[CK_P95], p95);
		seen(&g->ck[CK_P99], p99);
		seen(&g->ck[CK_QPR], r->statements_mean);
		if (p95 >= cfg->slo_route_p95_ms)
			breach(g, CK_P95, "route", route_name(r->route), p95);
		if (p99 >= cfg->slo_route_p99_ms)
			breach(g, CK_P99, "route", route_name(r->route), p99);
		if (r->statements_mean >= cfg->slo_queries_per_request)
			breach(g, CK_QPR, "route", route_name(r->route),
			       r->statements_mean);
	}
	for (size_t i = 0; i < g->ncf; i++) {
		const struct cache_fp_stats *c = &g->cf[i];
		uint64_t looked = c->hits + c->misses;
		double pct;
		char fp[24];

		if (looked < 20) /* too few to judge */
			continue;
		pct = 100.0 * (double)c->hits / (double)looked;
		seen(&g->ck[CK_CACHE], pct);
		snprintf(fp, sizeof(fp), "%016llx",
			 (unsigned long long)c->fingerprint);
		if (pct < cfg->slo_cache_hit_pct)
			breach(g, CK_CACHE, "fingerprint", fp, pct);
	}
	if (g->t.calls) {
		double pct = 100.0 * (double)g->t.errors / (double)g->t.calls;

		seen(&g->ck[CK_ERR], pct);
		if (pct >= cfg->slo_error_rate_pct && g->t.errors)
			breach(g, CK_ERR, "all", "all statements", pct);
	}
	for (size_t i = 0; i < g->nq; i++) {
		const struct ana_query *q = &g->q[i];
		double pct;
		char fp[24];

		if (q->calls < 100 || !q->errors)
			continue;
		pct = 100.0 * (double)q->errors / (double)q->calls;
		snprintf(fp, sizeof(fp), "%016llx",
			 (unsigned long long)q->fingerprint);
		if (pct >= cfg->slo_error_rate_pct)
			breach(g, CK_ERR, "fingerprint", fp, pct);
	}
	for (size_t i = 0; i < g->npools; i++) {
		const struct pool_view *p = &g->pools[i];
		char name[160];
		int size = p->pool_size;

		if (!p->live)
			continue;

		seen(&g->ck[CK_POOL], size);
		snprintf(name, sizeof(name), "%s/%s", p->database, p->user);
		if (size < cfg->slo_pool_size_min ||
		    size > cfg->slo_pool_size_max)
			breach(g, CK_POOL, "pool", name, size);
	}
}

bool report_actionable(const struct ana_finding *f)
{
	return !(f->status && (strcmp(f->status, "kept") == 0 ||
			       strcmp(f->status, "measuring") == 0));
}

bool report_index_in_place(const struct ana_finding *f)
{
	return f->kind == FND_MISSING_INDEX && f->status && f->ddl &&
	       (strcmp(f->status, "kept") == 0 ||
		strcmp(f->status, "measuring") == 0 ||
		strcmp(f->status, "retracted") == 0);
}

struct report_src report_src_local(struct pgperf *pp)
{
	struct report_src s = {pp, pp->ana, NULL};

	return s;
}

struct report_src report_src_fleet(struct pgperf *pp,
				   const struct fleet_view *v)
{
	struct report_src s = {pp, v->ana, v};

	return s;
}

size_t report_pools(const struct report_src *s, struct pool_view **out)
{
	const struct fleet_view *v = s->fleet;
	struct pool_view *o;

	if (!v)
		return pool_snapshot(s->pp, out);
	*out = NULL;
	if (!v->npools || !(o = pgp_calloc(v->npools, sizeof(*o))))
		return 0;
	for (size_t i = 0; i < v->npools; i++) {
		const struct fleet_pool *f = &v->pools[i];

		snprintf(o[i].database, sizeof(o[i].database), "%s",
			 f->database);
		snprintf(o[i].user, sizeof(o[i].user), "%s", f->user);
		o[i].pool_size = (int)f->pool_size;
		o[i].st.xact_count = f->xact_count;
		o[i].st.query_count = f->query_count;
		o[i].st.xact_us = f->xact_us;
		o[i].st.query_us = f->query_us;
		o[i].st.recv = f->recv;
		o[i].st.sent = f->sent;
		o[i].st.wait_us = f->wait_us;
		o[i].st.wait_count = f->wait_count;
		o[i].st.waited_count = f->waited_count;
		o[i].st.max_wait_us = f->max_wait_us;
		o[i].clients = f->cl_active;
		o[i].waiting = f->cl_waiting;
		o[i].servers_active = f->sv_active;
		o[i].servers_idle = f->sv_idle;
		o[i].live = true;
	}
	*out = o;
	return v->npools;
}

void report_gather(const struct report_src *s, struct gather *g)
{
	struct pgperf *pp = s->pp;

	memset(g, 0, sizeof(*g));
	g->top = -1;
	g->nf = report_findings_of(s, &g->f);
	g->npools = report_pools(s, &g->pools);
	if (s->ana) {
		g->nq = analyzer_queries(s->ana, &g->q, &g->t);
		g->nr = analyzer_routes(s->ana, &g->r);
		analyzer_windows(s->ana, &g->w);
	}
	if (pp->cache && !s->fleet) {
		g->cache = true;
		cache_get_stats(pp->cache, &g->cs);
		g->ncf = cache_fp_stats(pp->cache, &g->cf);
	}
	for (size_t i = 0; i < g->nf; i++)
		if (report_actionable(&g->f[i]) &&
		    g->f[i].kind != FND_POOLING_HAZARD) {
			g->top = (int)i; /* sorted: the first is the worst */
			break;
		}
	check_standards(pp, g);
}

void report_gather_free(struct gather *g)
{
	ana_findings_free(g->f, g->nf);
	ana_queries_free(g->q, g->nq);
	pgp_free(g->r);
	pgp_free(g->cf);
	pgp_free(g->pools);
}

const char *report_bottleneck_type(enum ana_finding_kind kind)
{
	static const char *const type[FND_KINDS] = {
		[FND_N_PLUS_ONE] = "n_plus_one",
		[FND_MISSING_INDEX] = "missing_index",
		[FND_POOL_SATURATION] = "pool_saturation",
		[FND_SLOW_QUERY] = "database_io",
		[FND_CACHEABLE_QUERY] = "database_io",
		[FND_REDUNDANT_QUERY] = "redundant_queries",
		[FND_SEQUENTIAL_QUERIES] = "sequential_queries",
		[FND_POOLING_HAZARD] = "pool_pinning",
	};

	return (unsigned)kind < FND_KINDS && type[kind] ? type[kind]
							: "unknown";
}

/* A query cut to fit a sentence. */
static void short_query(const char *q, char *buf, size_t cap)
{
	size_t n = strlen(q);

	if (n + 1 <= cap)
		snprintf(buf, cap, "%s", q);
	else
		snprintf(buf, cap, "%.*s...", (int)(cap - 4), q);
}

/* The bottleneck in one sentence. */
void report_root_cause(const struct ana_finding *f, char *buf, size_t cap)
{
	char q[128];

	short_query(f->query ? f->query : "", q, sizeof(q));
	if (f->kind == FND_N_PLUS_ONE)
		snprintf(buf, cap,
			 "The query \"%s\" runs once per row of the query "
			 "before it (%.1f times per request on average), so "
			 "each request waits for many round trips instead of "
			 "one.",
			 q, f->mean_repeats);
	else if (f->kind == FND_MISSING_INDEX)
		snprintf(buf, cap,
			 "\"%s\" reads table %s without an index on the "
			 "columns it filters by, so PostgreSQL scans the "
			 "whole table on every call.",
			 q, f->tables);
	else if (f->kind == FND_POOL_SATURATION)
		snprintf(buf, cap,
			 "Every server connection of a pool was busy, so "
			 "clients waited for one (%llu waits) before their "
			 "queries could even start.",
			 (unsigned long long)f->executions);
	else if (f->kind == FND_SLOW_QUERY)
		snprintf(buf, cap,
			 "\"%s\" is slow in PostgreSQL itself: the database "
			 "spends its time executing it.",
			 q);
	else if (f->kind == FND_CACHEABLE_QUERY)
		snprintf(buf, cap,
			 "The same read-only query \"%s\" is asked again and "
			 "again (%llu calls), and PostgreSQL computes the "
			 "answer every time.",
			 q, (unsigned long long)f->executions);
	else if (f->kind == FND_REDUNDANT_QUERY)
		snprintf(buf, cap,
			 "Requests ask \"%s\" more than once with the same "
			 "values.",
			 q);
	else if (f->kind == FND_SEQUENTIAL_QUERIES)
		snprintf(buf, cap,
			 "Independent slow reads run one after another "
			 "within a request, starting with \"%s\".",
			 q);
	else
		snprintf(buf, cap, "%s", f->suggestion);
}

double report_pct_change(uint64_t before, uint64_t after)
{
	return before ? 100.0 * ((double)before - (double)after) /
				(double)before
		      : 0;
}

void report_tool_of(const char *app, char *buf, size_t cap)
{
	static const char *const tools[] = {"pgbench", "k6",	  "locust",
					    "jmeter",  "gatling", "wrk"};
	char low[64];
	size_t k;

	for (k = 0; app[k] && k + 1 < sizeof(low); k++)
		low[k] = (char)tolower((unsigned char)app[k]);
	low[k] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(tools); i++)
		if (strstr(low, tools[i])) {
			snprintf(buf, cap, "%s", tools[i]);
			return;
		}
	snprintf(buf, cap, "%s", app[0] ? app : "unknown");
}

/*
 * The routes the findings worth acting on were seen on: the bottleneck's
 * first, then those of every other high or medium one, each once.
 */
size_t report_endpoints(const struct gather *g, char (*out)[ANA_ROUTE_MAX])
{
	size_t n = 0;

	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < g->nf; i++) {
			const struct ana_finding *f = &g->f[i];
			const char *csv = f->routes;

			if ((pass == 0) != ((int)i == g->top) ||
			    !report_actionable(f) ||
			    strcmp(f->severity, "low") == 0)
				continue;
			while (*csv && n < MAX_ENDPOINTS) {
				const char *e = strchr(csv, ',');
				size_t len =
					e ? (size_t)(e - csv) : strlen(csv);
				size_t k;

				snprintf(out[n], ANA_ROUTE_MAX, "%.*s",
					 (int)len, csv);
				for (k = 0; k < n; k++)
					if (strcmp(out[k], out[n]) == 0)
						break;
				n += k == n;
				csv += len + (e ? 1 : 0);
			}
		}
	return n;
}
