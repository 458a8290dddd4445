/*
 * report.c -- the findings export and the performance report (see
 * report.h and docs/findings.md).
 *
 * Everything here runs on the I/O thread when a reader asks: it copies
 * what the analyzer has (findings, statistics, routes, windows around
 * marks) and adds what only the I/O thread knows (pools, pinning, waits,
 * the cache), then writes one document.  Nothing is kept between calls.
 */
#include "pgperf/report.h"

#include "pgperf/cache.h"
#include "pgperf/config.h"
#include "pgperf/conn.h"
#include "pgperf/findings.h"
#include "pgperf/pool.h"
#include "pgperf/pool_state.h"
#include "pgperf/session_state.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Open an object in an array: "{" first, ",{" after another. */
static void obj_open(struct jbuf *b)
{
	if (b->n && b->p[b->n - 1] != '[')
		jb_put(b, ",", 1);
	jb_put(b, "{", 1);
}

/* ---- findings from the pools ---- */

static const char *const hazard_name[POOL_HAZARD_KINDS] = {
#define HAZARD_NAME(name, bit, text) [bit] = text,
	SESSION_STATE_LIST(HAZARD_NAME)
#undef HAZARD_NAME
};

/* What to do instead, per session_state bit. */
static const char *const hazard_fix[POOL_HAZARD_KINDS] = {
	"use SET LOCAL inside the transaction, or give the role or database "
	"the setting (ALTER ROLE ... SET, ALTER DATABASE ... SET)",
	"use protocol-level prepared statements (the driver's prepare), "
	"which pgperf keeps across server connections, instead of SQL "
	"PREPARE",
	"run LISTEN on a connection of its own, straight to PostgreSQL or "
	"through a session-mode pool",
	"create temporary tables with ON COMMIT DROP inside the "
	"transaction, or use an ordinary table",
	"close WITH HOLD cursors before the transaction ends, or fetch "
	"inside one transaction without HOLD",
	"use transaction-level advisory locks (pg_advisory_xact_lock)",
	"use SET LOCAL ROLE inside the transaction, or log in as the role",
	"load libraries with session_preload_libraries instead of LOAD",
};

static void finding_open(struct jbuf *b, struct ana_finding *o,
			 const struct pool *p)
{
	jb_put(b, "{", 1);
	jb_kstr(b, "id", o->id);
	jb_kstr(b, "kind", o->kind);
	jb_kstr(b, "severity", o->severity);
	jb_kstr(b, "database", p->database);
	jb_kstr(b, "user", p->user);
	jb_key(b, "tables");
	jb_put(b, "[]", 2);
	jb_kstr(b, "query", o->query);
}

/*
 * pooling_hazard: clients that left session state on a server connection
 * in transaction mode, per pool and kind of state.  With
 * transaction_pinning = on each of them kept a server to itself until it
 * disconnected; with off, the state was reset away under it.
 */
static void hazard_findings(struct pgperf *pp, struct list *pools,
			    struct ana_finding *v, size_t *n)
{
	struct list *pos;
	bool pinning = pp->cfg->transaction_pinning != 0;

	list_for_each(pos, pools) {
		struct pool *p = list_entry(pos, struct pool, node);

		for (int k = 0; k < POOL_HAZARD_KINDS; k++) {
			struct ana_finding *o = &v[*n];
			struct jbuf b = {0};
			char line[768], t[32];
			uint64_t c = p->hazard_clients[k];

			if (!c)
				continue;
			memset(o, 0, sizeof(*o));
			snprintf(o->id, sizeof(o->id), "ph-%016llx",
				 (unsigned long long)pgp_mix64(
					 pgp_hash_bytes(p->database,
							strlen(p->database)) *
						 31 +
					 pgp_hash_bytes(p->user,
							strlen(p->user)) +
					 (uint64_t)k));
			o->kind = "pooling_hazard";
			o->severity = c >= (uint64_t)p->target.pool_size
					      ? "high"
				      : pinning ? "medium"
						: "low";
			o->status = pinning ? "pinned" : "reset";
			o->executions = c;
			o->last_seen_us = p->hazard_last_us[k];
			o->query = pgp_strdup(hazard_name[k]);
			snprintf(
				line, sizeof(line),
				"%llu client%s of %s/%s used %s in transaction "
				"mode%s: %s",
				(unsigned long long)c, c == 1 ? "" : "s",
				p->database, p->user, hazard_name[k],
				pinning ? ", each pinning a server connection "
					  "until it disconnected"
					: " and had it reset under them",
				hazard_fix[k]);
			o->suggestion = pgp_strdup(line);
			finding_open(&b, o, p);
			jb_kstr(&b, "status", o->status);
			jb_kstr(&b, "feature", hazard_name[k]);
			jb_time(p->hazard_last_us[k], t, sizeof(t));
			jb_printf(&b,
				  ",\"evidence\":{\"clients\":%llu,"
				  "\"pool_size\":%d,\"transaction_pinning\":%s",
				  (unsigned long long)c, p->target.pool_size,
				  pinning ? "true" : "false");
			jb_kstr(&b, "last_seen", t);
			jb_put(&b, "}", 1);
			jb_key(&b, "suggestion");
			jb_put(&b, "{", 1);
			jb_kstr(&b, "summary", o->suggestion);
			if (ana_finding_close(&b, o))
				(*n)++;
		}
	}
}

/*
 * pool_saturation: clients waited for a server connection (1 ms or more)
 * in a pool, with the wait and the transactions that held servers
 * longest.
 */
static void saturation_findings(struct pgperf *pp, struct list *pools,
				struct ana_finding *v, size_t *n)
{
	struct list *pos;

	list_for_each(pos, pools) {
		struct pool *p = list_entry(pos, struct pool, node);
		const struct pool_stats *s = &p->st;
		struct ana_finding *o = &v[*n];
		struct jbuf b = {0};
		char line[768], t[32], tail[96] = "";
		double mean_ms, share;
		char *first = NULL;

		if (!s->waited_count)
			continue;
		mean_ms = (double)s->wait_us / 1000 / (double)s->waited_count;
		share = s->query_us ? 100.0 * (double)s->wait_us /
					      (double)(s->query_us + s->wait_us)
				    : 0;
		memset(o, 0, sizeof(*o));
		snprintf(o->id, sizeof(o->id), "ps-%016llx",
			 (unsigned long long)pgp_mix64(
				 pgp_hash_bytes(p->database,
						strlen(p->database)) *
					 31 +
				 pgp_hash_bytes(p->user, strlen(p->user))));
		o->kind = "pool_saturation";
		o->severity = mean_ms >= 100 || share >= 10 ? "high"
			      : mean_ms >= 10		    ? "medium"
							    : "low";
		o->executions = s->waited_count;
		o->saved_us = s->wait_us;
		o->last_seen_us = conn_wall_us();
		if (p->holds[0].query[0])
			first = pgp_strdup(p->holds[0].query);
		else if (p->holds[0].us && pp->ana)
			first = analyzer_shape_query(pp->ana,
						     p->holds[0].shape);
		o->query = pgp_strdup(first ? first : "");
		if (p->holds[0].us)
			snprintf(tail, sizeof(tail),
				 "; the longest transaction held its server "
				 "%.0f ms",
				 (double)p->holds[0].us / 1000);
		snprintf(line, sizeof(line),
			 "%llu times clients of %s/%s waited for one of its %d "
			 "server connections (%.1f ms on average, %.1f ms at "
			 "most): keep transactions short (no network calls or "
			 "user think time inside them), then raise pool_size "
			 "if PostgreSQL has the capacity%s",
			 (unsigned long long)s->waited_count, p->database,
			 p->user, p->target.pool_size, mean_ms,
			 (double)s->max_wait_us / 1000, tail);
		o->suggestion = pgp_strdup(line);
		finding_open(&b, o, p);
		jb_printf(&b,
			  ",\"evidence\":{\"waits\":%llu,\"wait_ms\":%.3f,"
			  "\"mean_wait_ms\":%.3f,\"max_wait_ms\":%.3f,"
			  "\"wait_share_pct\":%.1f,\"waiting_now\":%zu,"
			  "\"pool_size\":%d,\"servers_active\":%zu",
			  (unsigned long long)s->waited_count,
			  (double)s->wait_us / 1000, mean_ms,
			  (double)s->max_wait_us / 1000, share,
			  list_count(&p->waiting), p->target.pool_size,
			  list_count(&p->active_servers));
		jb_key(&b, "longest_transactions");
		jb_put(&b, "[", 1);
		for (int i = 0; i < POOL_HOLDS && p->holds[i].us; i++) {
			char *q = i == 0 ? first
				  : p->holds[i].query[0]
					  ? pgp_strdup(p->holds[i].query)
				  : pp->ana
					  ? analyzer_shape_query(
						    pp->ana, p->holds[i].shape)
					  : NULL;

			obj_open(&b);
			jb_printf(&b, "\"duration_ms\":%.3f",
				  (double)p->holds[i].us / 1000);
			jb_kstr(&b, "slowest_query", q);
			jb_time(p->holds[i].at_us, t, sizeof(t));
			jb_kstr(&b, "ended", t);
			jb_put(&b, "}", 1);
			if (i)
				free(q);
		}
		jb_put(&b, "]}", 2);
		jb_printf(&b, ",\"saved_ms\":%.3f", (double)s->wait_us / 1000);
		jb_key(&b, "suggestion");
		jb_put(&b, "{", 1);
		jb_kstr(&b, "summary", o->suggestion);
		free(first);
		if (ana_finding_close(&b, o))
			(*n)++;
	}
}

/*
 * Saved pool counters whose pool has not appeared since the restart (no
 * client of it yet) still make findings: stand-in pools on `out`.
 */
static size_t pending_pools(struct pgperf *pp, struct list *out)
{
	size_t n = 0;

	list_init(out);
	for (size_t i = 0; i < pp->nsaved; i++) {
		const struct pool_saved *s = &pp->saved[i];
		struct pool *p;

		if (!s->database[0] || !(p = pgp_calloc(1, sizeof(*p))))
			continue;
		p->database = (char *)s->database;
		p->user = (char *)s->user;
		p->target.pool_size = pp->cfg->default_pool_size;
		memcpy(p->hazard_clients, s->hazard_clients,
		       sizeof(p->hazard_clients));
		memcpy(p->hazard_last_us, s->hazard_last_us,
		       sizeof(p->hazard_last_us));
		p->st.wait_count = s->wait_count;
		p->st.wait_us = s->wait_us;
		p->st.waited_count = s->waited_count;
		p->st.max_wait_us = s->max_wait_us;
		p->st.query_us = s->query_us;
		memcpy(p->holds, s->holds, sizeof(p->holds));
		list_init(&p->waiting);
		list_init(&p->active_servers);
		list_append(out, &p->node);
		n++;
	}
	return n;
}

size_t report_findings(struct pgperf *pp, struct ana_finding **out)
{
	struct ana_finding *v = NULL, *w;
	size_t n = 0, extra = 0;
	struct list *pos, *tmp, pending;

	if (pp->ana) {
		analyzer_sync(pp->ana, 200); /* what completed is counted */
		n = analyzer_findings(pp->ana, &v);
	}
	list_for_each(pos, &pp->pools)
		extra += POOL_HAZARD_KINDS + 1;
	extra += pending_pools(pp, &pending) * (POOL_HAZARD_KINDS + 1);
	if ((w = realloc(v, (n + extra + 1) * sizeof(*v)))) {
		v = w;
		hazard_findings(pp, &pp->pools, v, &n);
		hazard_findings(pp, &pending, v, &n);
		saturation_findings(pp, &pp->pools, v, &n);
		saturation_findings(pp, &pending, v, &n);
	}
	list_for_each_safe(pos, tmp, &pending)
		pgp_free(list_entry(pos, struct pool, node));
	findings_sort(v, n);
	*out = v;
	return n;
}

/* ---- what the report is made of ---- */

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
	int top; /* the finding named the bottleneck, or -1 */
};

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
	struct list *pos;
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
	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);
		char name[160];
		int size = p->target.pool_size;

		seen(&g->ck[CK_POOL], size);
		snprintf(name, sizeof(name), "%s/%s", p->database, p->user);
		if (size < cfg->slo_pool_size_min ||
		    size > cfg->slo_pool_size_max)
			breach(g, CK_POOL, "pool", name, size);
	}
}

/* Is a finding something to do (not an index already kept)? */
static bool actionable(const struct ana_finding *f)
{
	return !(f->status && (strcmp(f->status, "kept") == 0 ||
			       strcmp(f->status, "measuring") == 0));
}

static void gather(struct pgperf *pp, struct gather *g)
{
	memset(g, 0, sizeof(*g));
	g->top = -1;
	g->nf = report_findings(pp, &g->f);
	if (pp->ana) {
		g->nq = analyzer_queries(pp->ana, &g->q, &g->t);
		g->nr = analyzer_routes(pp->ana, &g->r);
		analyzer_windows(pp->ana, &g->w);
	}
	if (pp->cache) {
		g->cache = true;
		cache_get_stats(pp->cache, &g->cs);
		g->ncf = cache_fp_stats(pp->cache, &g->cf);
	}
	for (size_t i = 0; i < g->nf; i++)
		if (actionable(&g->f[i]) &&
		    strcmp(g->f[i].kind, "pooling_hazard") != 0) {
			g->top = (int)i; /* sorted: the first is the worst */
			break;
		}
	check_standards(pp, g);
}

static void gather_free(struct gather *g)
{
	ana_findings_free(g->f, g->nf);
	ana_queries_free(g->q, g->nq);
	pgp_free(g->r);
	pgp_free(g->cf);
}

static const char *bottleneck_type(const char *kind)
{
	static const struct {
		const char *kind, *type;
	} map[] = {
		{"n_plus_one", "n_plus_one"},
		{"missing_index", "missing_index"},
		{"pool_saturation", "pool_saturation"},
		{"slow_query", "database_io"},
		{"cacheable_query", "database_io"},
		{"redundant_query", "redundant_queries"},
		{"sequential_queries", "sequential_queries"},
		{"pooling_hazard", "pool_pinning"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(map[i].kind, kind) == 0)
			return map[i].type;
	return "unknown";
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
static void root_cause(const struct ana_finding *f, char *buf, size_t cap)
{
	char q[128];

	short_query(f->query ? f->query : "", q, sizeof(q));
	if (strcmp(f->kind, "n_plus_one") == 0)
		snprintf(buf, cap,
			 "The query \"%s\" runs once per row of the query "
			 "before it (%.1f times per request on average), so "
			 "each request waits for many round trips instead of "
			 "one.",
			 q, f->mean_repeats);
	else if (strcmp(f->kind, "missing_index") == 0)
		snprintf(buf, cap,
			 "\"%s\" reads table %s without an index on the "
			 "columns it filters by, so PostgreSQL scans the "
			 "whole table on every call.",
			 q, f->tables);
	else if (strcmp(f->kind, "pool_saturation") == 0)
		snprintf(buf, cap,
			 "Every server connection of a pool was busy, so "
			 "clients waited for one (%llu waits) before their "
			 "queries could even start.",
			 (unsigned long long)f->executions);
	else if (strcmp(f->kind, "slow_query") == 0)
		snprintf(buf, cap,
			 "\"%s\" is slow in PostgreSQL itself: the database "
			 "spends its time executing it.",
			 q);
	else if (strcmp(f->kind, "cacheable_query") == 0)
		snprintf(buf, cap,
			 "The same read-only query \"%s\" is asked again and "
			 "again (%llu calls), and PostgreSQL computes the "
			 "answer every time.",
			 q, (unsigned long long)f->executions);
	else if (strcmp(f->kind, "redundant_query") == 0)
		snprintf(buf, cap,
			 "Requests ask \"%s\" more than once with the same "
			 "values.",
			 q);
	else if (strcmp(f->kind, "sequential_queries") == 0)
		snprintf(buf, cap,
			 "Independent slow reads run one after another "
			 "within a request, starting with \"%s\".",
			 q);
	else
		snprintf(buf, cap, "%s", f->suggestion);
}

static double pct_change(uint64_t before, uint64_t after)
{
	return before ? 100.0 * ((double)before - (double)after) /
				(double)before
		      : 0;
}

static void tool_of(const char *app, char *buf, size_t cap)
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

/* ---- JSON ---- */

static void json_time(struct jbuf *b, const char *key, int64_t us)
{
	char t[32];

	jb_time(us, t, sizeof(t));
	jb_kstr(b, key, t);
}

static void json_window(struct jbuf *b, const char *key,
			const struct ana_window *w)
{
	jb_key(b, key);
	if (!w->present) {
		jb_put(b, "null", 4);
		return;
	}
	jb_put(b, "{", 1);
	json_time(b, "from", w->from_us);
	json_time(b, "to", w->to_us);
	jb_kstr(b, "from_mark", w->from_mark[0] ? w->from_mark : NULL);
	jb_kstr(b, "to_mark", w->to_mark[0] ? w->to_mark : NULL);
	jb_printf(b,
		  ",\"statements\":%llu,\"errors\":%llu,\"mean_ms\":%.3f,"
		  "\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f}",
		  (unsigned long long)w->calls, (unsigned long long)w->errors,
		  (double)w->mean_us / 1000, (double)w->p50_us / 1000,
		  (double)w->p95_us / 1000, (double)w->p99_us / 1000);
}

static const char *mark_kind(int k)
{
	return k == ANA_MARK_LOAD_START	 ? "load_test_start"
	       : k == ANA_MARK_LOAD_STOP ? "load_test_stop"
					 : "mark";
}

#define MAX_ENDPOINTS 16

/*
 * The routes the findings worth acting on were seen on: the bottleneck's
 * first, then those of every other high or medium one, each once.
 */
static size_t endpoints(const struct gather *g, char (*out)[ANA_ROUTE_MAX])
{
	size_t n = 0;

	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < g->nf; i++) {
			const struct ana_finding *f = &g->f[i];
			const char *csv = f->routes;

			if ((pass == 0) != ((int)i == g->top) ||
			    !actionable(f) || strcmp(f->severity, "low") == 0)
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

static void json_analysis(struct jbuf *b, const struct gather *g)
{
	char cause[512], ep[MAX_ENDPOINTS][ANA_ROUTE_MAX];
	const struct ana_finding *f;
	size_t nep;

	jb_key(b, "analysis");
	jb_put(b, "{", 1);
	if (g->top < 0) {
		jb_kstr(b, "bottleneck_type", "none");
		jb_kstr(b, "severity", "none");
		jb_key(b, "affected_endpoints");
		jb_put(b, "[]", 2);
		jb_kstr(b, "root_cause",
			"No finding yet: nothing pgperf watches for stands "
			"out in the traffic seen so far.");
		jb_put(b, "}", 1);
		return;
	}
	f = &g->f[g->top];
	jb_kstr(b, "bottleneck_type", bottleneck_type(f->kind));
	jb_kstr(b, "severity", f->severity);
	jb_kstr(b, "finding_id", f->id);
	jb_key(b, "affected_endpoints");
	jb_put(b, "[", 1);
	nep = endpoints(g, ep);
	for (size_t i = 0; i < nep; i++) {
		if (i)
			jb_put(b, ",", 1);
		jb_str(b, ep[i]);
	}
	jb_put(b, "]", 1);
	root_cause(f, cause, sizeof(cause));
	jb_kstr(b, "root_cause", cause);
	jb_put(b, "}", 1);
}

static void json_metrics(struct jbuf *b, const struct gather *g)
{
	const struct ana_window *be = &g->w.before, *af = &g->w.after;

	jb_key(b, "metrics");
	jb_put(b, "{", 1);
	json_window(b, "before", be);
	json_window(b, "after", af);
	jb_key(b, "improvement");
	if (be->present && af->present && be->calls && af->calls)
		jb_printf(b,
			  "{\"p50_pct\":%.1f,\"p95_pct\":%.1f,"
			  "\"p99_pct\":%.1f,\"mean_pct\":%.1f}",
			  pct_change(be->p50_us, af->p50_us),
			  pct_change(be->p95_us, af->p95_us),
			  pct_change(be->p99_us, af->p99_us),
			  pct_change(be->mean_us, af->mean_us));
	else
		jb_put(b, "null", 4);
	/* the statements behind the change: each one's mean on both sides */
	jb_key(b, "queries");
	jb_put(b, "[", 1);
	for (int i = 0; i < g->w.nchanges; i++) {
		const struct ana_fp_change *c = &g->w.changes[i];
		double mb =
			(double)c->us_before / 1000 / (double)c->calls_before;
		double ma = (double)c->us_after / 1000 / (double)c->calls_after;
		char fp[24];

		obj_open(b);
		snprintf(fp, sizeof(fp), "%016llx",
			 (unsigned long long)c->fingerprint);
		jb_kstr(b, "fingerprint", fp);
		jb_kstr(b, "query", c->query);
		jb_printf(b,
			  ",\"before\":{\"calls\":%llu,\"mean_ms\":%.3f},"
			  "\"after\":{\"calls\":%llu,\"mean_ms\":%.3f},"
			  "\"mean_pct\":%.1f}",
			  (unsigned long long)c->calls_before, mb,
			  (unsigned long long)c->calls_after, ma,
			  mb > 0 ? 100.0 * (mb - ma) / mb : 0);
	}
	jb_put(b, "]}", 2);
}

static void json_optimizations(struct pgperf *pp, struct jbuf *b,
			       const struct gather *g)
{
	struct list *pos;
	uint64_t waits = 0, wait_us = 0, clients = 0;
	int servers = 0, pools = 0;
	char line[512];

	jb_key(b, "optimizations_applied");
	jb_put(b, "[", 1);
	for (size_t i = 0; i < g->nf; i++) {
		const struct ana_finding *f = &g->f[i];

		if (strcmp(f->kind, "missing_index") != 0 || !f->status ||
		    (strcmp(f->status, "kept") != 0 &&
		     strcmp(f->status, "retracted") != 0 &&
		     strcmp(f->status, "measuring") != 0))
			continue;
		obj_open(b);
		jb_kstr(b, "type", "index");
		jb_kstr(b, "description", f->ddl);
		if (strcmp(f->status, "measuring") == 0)
			snprintf(line, sizeof(line),
				 "the index exists; its effect is being "
				 "measured");
		else
			snprintf(line, sizeof(line),
				 "mean latency of its queries %.3f ms -> %.3f "
				 "ms (%.1fx)%s",
				 f->before_ms, f->after_ms,
				 f->after_ms > 0 ? f->before_ms / f->after_ms
						 : 0,
				 strcmp(f->status, "retracted") == 0
					 ? ": it did not help"
					 : "");
		jb_kstr(b, "impact", line);
		jb_kstr(b, "status", f->status);
		jb_kstr(b, "finding_id", f->id);
		jb_put(b, "}", 1);
	}
	if (g->cache) {
		double ratio = g->cs.lookups ? 100.0 * (double)g->cs.hits /
						       (double)g->cs.lookups
					     : 0;

		obj_open(b);
		jb_kstr(b, "type", "cache");
		snprintf(line, sizeof(line),
			 "Redis result cache (cache_mode = %s), Redis %s",
			 pp->cfg->cache_mode == CACHE_AUTO ? "auto" : "rules",
			 g->cs.redis_state);
		jb_kstr(b, "description", line);
		snprintf(line, sizeof(line),
			 "hit ratio %.1f%% (%llu hits of %llu lookups), %llu "
			 "bytes answered without PostgreSQL",
			 ratio, (unsigned long long)g->cs.hits,
			 (unsigned long long)g->cs.lookups,
			 (unsigned long long)g->cs.hit_bytes);
		jb_kstr(b, "impact", line);
		jb_printf(b, ",\"hit_ratio_pct\":%.1f}", ratio);
	}
	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);

		pools++;
		waits += p->st.waited_count;
		wait_us += p->st.wait_us;
		clients += list_count(&p->active_clients) +
			   list_count(&p->idle_clients) +
			   list_count(&p->waiting);
		servers += (int)(list_count(&p->active_servers) +
				 list_count(&p->idle_servers) +
				 list_count(&p->tested_servers));
	}
	if (pools) {
		obj_open(b);
		jb_kstr(b, "type", "connection_pool");
		snprintf(line, sizeof(line),
			 "%s pooling (pool_size %d): %llu clients on %d "
			 "server connections in %d pool%s",
			 pp->cfg->pool_mode == POOL_TRANSACTION ? "transaction"
								: "session",
			 pp->cfg->default_pool_size,
			 (unsigned long long)clients, servers, pools,
			 pools == 1 ? "" : "s");
		jb_kstr(b, "description", line);
		snprintf(line, sizeof(line),
			 "%llu waits for a server of 1 ms or more, %.1f ms "
			 "waited in all",
			 (unsigned long long)waits, (double)wait_us / 1000);
		jb_kstr(b, "impact", line);
		jb_printf(b, ",\"wait_ms\":%.3f}", (double)wait_us / 1000);
	}
	jb_put(b, "]", 1);
}

static void json_recommendations(struct jbuf *b, const struct gather *g)
{
	int prio = 0;

	jb_key(b, "recommendations");
	jb_put(b, "[", 1);
	for (size_t i = 0; i < g->nf; i++) {
		const struct ana_finding *f = &g->f[i];

		if (!actionable(f))
			continue;
		obj_open(b);
		jb_printf(b, "\"priority\":%d", ++prio);
		jb_kstr(b, "severity", f->severity);
		jb_kstr(b, "kind", f->kind);
		jb_kstr(b, "finding_id", f->id);
		jb_kstr(b, "action",
			f->ddl && strcmp(f->kind, "missing_index") == 0 &&
					!(f->status &&
					  strcmp(f->status, "retracted") == 0)
				? f->ddl
				: f->suggestion);
		jb_kstr(b, "detail", f->suggestion);
		jb_kstr(b, "query", f->query);
		jb_printf(b, ",\"estimated_saving_ms\":%.3f}",
			  (double)f->saved_us / 1000);
	}
	jb_put(b, "]", 1);
}

static void json_load(struct jbuf *b, const struct gather *g)
{
	const struct ana_window *w = &g->w.load;
	double secs;
	char tool[64];

	jb_key(b, "load_test_results");
	if (!w->present) {
		jb_put(b, "null", 4);
		return;
	}
	secs = (double)(w->to_us - w->from_us) / 1e6;
	if (secs <= 0)
		secs = 1e-6;
	tool_of(w->application, tool, sizeof(tool));
	jb_put(b, "{", 1);
	jb_kstr(b, "tool", tool);
	jb_kstr(b, "scenario", w->from_mark);
	jb_kstr(b, "application_name", w->application);
	jb_key(b, "running");
	jb_put(b, g->w.load_running ? "true" : "false",
	       g->w.load_running ? 4 : 5);
	json_time(b, "from", w->from_us);
	json_time(b, "to", w->to_us);
	jb_printf(b,
		  ",\"duration_s\":%.3f,\"concurrency\":%llu,"
		  "\"statements\":%llu,\"requests\":%llu,"
		  "\"throughput_rps\":%.1f,\"requests_per_s\":%.1f,"
		  "\"error_rate\":%.6f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,"
		  "\"p99_ms\":%.3f}",
		  secs, (unsigned long long)w->clients,
		  (unsigned long long)w->calls, (unsigned long long)w->requests,
		  (double)w->calls / secs, (double)w->requests / secs,
		  w->calls ? (double)w->errors / (double)w->calls : 0,
		  (double)w->p50_us / 1000, (double)w->p95_us / 1000,
		  (double)w->p99_us / 1000);
}

static void json_standards(struct jbuf *b, const struct gather *g)
{
	bool ok = g->nbr == 0;

	jb_key(b, "standards");
	jb_printf(b, "{\"passed\":%s", ok ? "true" : "false");
	jb_key(b, "checks");
	jb_put(b, "[", 1);
	for (int i = 0; i < CK_N; i++) {
		const struct check *c = &g->ck[i];

		obj_open(b);
		jb_kstr(b, "standard", c->standard);
		jb_printf(b, ",\"limit\":%g", c->limit);
		if (i == CK_POOL)
			jb_printf(b, ",\"limit_min\":%g", c->limit_min);
		jb_kstr(b, "unit", c->unit);
		jb_key(b, "worst");
		if (c->worst < 0)
			jb_put(b, "null", 4);
		else
			jb_printf(b, "%.3f", c->worst);
		jb_printf(b, ",\"breaches\":%d", c->breaches);
		jb_kstr(b, "status",
			c->worst < 0  ? "not_measured"
			: c->breaches ? "breached"
				      : "met");
		jb_put(b, "}", 1);
	}
	jb_put(b, "]", 1);
	jb_key(b, "breaches");
	jb_put(b, "[", 1);
	for (size_t i = 0; i < g->nbr; i++) {
		const struct breach *r = &g->br[i];

		obj_open(b);
		jb_kstr(b, "standard", r->standard);
		jb_kstr(b, "subject_type", r->subject_type);
		jb_kstr(b, "subject", r->subject);
		jb_printf(b, ",\"value\":%.3f,\"limit\":%g}", r->value,
			  r->limit);
	}
	jb_put(b, "]}", 2);
}

void report_export(struct pgperf *pp, struct jbuf *b)
{
	struct gather g;
	char t[32];

	gather(pp, &g);
	jb_printf(b, "{\"version\":%d", ANA_FINDINGS_VERSION);
	jb_time(conn_wall_us(), t, sizeof(t));
	jb_kstr(b, "generated_at", t);
	jb_key(b, "instance");
	jb_put(b, "{", 1);
	jb_kstr(b, "pgperf_version", PGPERF_VERSION);
	jb_printf(b, ",\"pid\":%d", (int)getpid());
	jb_kstr(b, "listen", pp->cfg->listen_addr);
	jb_printf(b, ",\"port\":%d", pp->cfg->listen_port);
	jb_kstr(b, "pool_mode",
		pp->cfg->pool_mode == POOL_TRANSACTION ? "transaction"
						       : "session");
	jb_key(b, "analysis");
	jb_put(b, pp->cfg->analysis ? "true" : "false",
	       pp->cfg->analysis ? 4 : 5);
	jb_put(b, "}", 1);
	jb_key(b, "window");
	jb_put(b, "{", 1);
	json_time(b, "from", g.w.started_us ? g.w.started_us : conn_wall_us());
	json_time(b, "to", conn_wall_us());
	jb_printf(b, ",\"statements\":%llu,\"errors\":%llu}",
		  (unsigned long long)g.t.calls,
		  (unsigned long long)g.t.errors);
	jb_key(b, "marks");
	jb_put(b, "[", 1);
	for (int i = 0; i < g.w.nmarks; i++) {
		obj_open(b);
		jb_kstr(b, "name", g.w.marks[i].name);
		jb_kstr(b, "kind", mark_kind(g.w.marks[i].kind));
		json_time(b, "at", g.w.marks[i].at_us);
		jb_put(b, "}", 1);
	}
	jb_put(b, "]", 1);
	jb_key(b, "findings");
	jb_put(b, "[", 1);
	for (size_t i = 0; i < g.nf; i++) {
		if (i)
			jb_put(b, ",", 1);
		jb_put(b, g.f[i].json, strlen(g.f[i].json));
	}
	jb_put(b, "]", 1);
	jb_key(b, "queries");
	report_queries_json(b, g.q, g.nq);
	jb_key(b, "report");
	jb_put(b, "{", 1);
	json_analysis(b, &g);
	json_metrics(b, &g);
	json_optimizations(pp, b, &g);
	json_recommendations(b, &g);
	json_load(b, &g);
	json_standards(b, &g);
	jb_put(b, "}}\n", 3);
	gather_free(&g);
}

void report_queries_json(struct jbuf *b, const struct ana_query *q, size_t n)
{
	jb_put(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		const struct ana_query *e = &q[i];
		char fp[24];

		jb_put(b, i ? ",\n{" : "\n{", i ? 3 : 2);
		snprintf(fp, sizeof(fp), "%016llx",
			 (unsigned long long)e->fingerprint);
		jb_kstr(b, "fingerprint", fp);
		jb_kstr(b, "query", e->query);
		jb_kstr(b, "kind", e->kind);
		jb_printf(b,
			  ",\"read_only\":%s,\"deterministic\":%s,"
			  "\"calls\":%llu,\"rows\":%llu,\"errors\":%llu,"
			  "\"bytes\":%llu,\"total_ms\":%.3f,\"mean_ms\":%.3f,"
			  "\"min_ms\":%.3f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,"
			  "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
			  "\"wait_ms\":%.3f",
			  e->read_only ? "true" : "false",
			  e->deterministic ? "true" : "false",
			  (unsigned long long)e->calls,
			  (unsigned long long)e->rows,
			  (unsigned long long)e->errors,
			  (unsigned long long)e->bytes, e->total_us / 1e3,
			  e->calls ? e->total_us / 1e3 / (double)e->calls : 0.0,
			  e->min_us / 1e3, e->p50_us / 1e3, e->p95_us / 1e3,
			  e->p99_us / 1e3, e->p999_us / 1e3, e->max_us / 1e3,
			  e->wait_us / 1e3);
		jb_kstr(b, "tables_read", e->tables_read);
		jb_kstr(b, "tables_written", e->tables_written);
		jb_printf(b, ",\"first_seen_us\":%lld,\"last_seen_us\":%lld",
			  (long long)e->first_seen_us,
			  (long long)e->last_seen_us);
		jb_key(b, "errors_by_sqlstate");
		jb_put(b, "{", 1);
		for (int k = 0; k < ANA_MAX_ERRS && e->err[k].n; k++) {
			jb_key(b, e->err[k].sqlstate);
			jb_printf(b, "%llu", (unsigned long long)e->err[k].n);
		}
		jb_put(b, "}", 1);
		jb_key(b, "by_client");
		jb_put(b, "[", 1);
		for (size_t k = 0; k < e->nby; k++) {
			const struct ana_by *y = &e->by[k];

			obj_open(b);
			jb_kstr(b, "database", y->database);
			jb_kstr(b, "user", y->user);
			jb_kstr(b, "application_name", y->application);
			jb_printf(b,
				  ",\"calls\":%llu,\"errors\":%llu,"
				  "\"rows\":%llu,\"total_ms\":%.3f,"
				  "\"p50_ms\":%.3f,\"p95_ms\":%.3f,"
				  "\"p99_ms\":%.3f}",
				  (unsigned long long)y->calls,
				  (unsigned long long)y->errors,
				  (unsigned long long)y->rows,
				  y->total_us / 1e3, y->p50_us / 1e3,
				  y->p95_us / 1e3, y->p99_us / 1e3);
		}
		jb_put(b, "]}", 2);
	}
	jb_put(b, n ? "\n]" : "]", n ? 2 : 1);
}

/* ---- text ---- */

static void text_window(struct jbuf *b, const char *label,
			const struct ana_window *w)
{
	char f[32], t[32];

	jb_time(w->from_us, f, sizeof(f));
	jb_time(w->to_us, t, sizeof(t));
	jb_printf(b,
		  "  %-7s p50 %8.3f ms  p95 %8.3f ms  p99 %8.3f ms  "
		  "(%llu statements, %s .. %s)\n",
		  label, (double)w->p50_us / 1000, (double)w->p95_us / 1000,
		  (double)w->p99_us / 1000, (unsigned long long)w->calls,
		  w->from_mark[0] ? w->from_mark : f,
		  w->to_mark[0] ? w->to_mark : t);
}

/* Optimizations applied, as text: indexes that appeared, the cache. */
static void text_applied(struct pgperf *pp, struct jbuf *b,
			 const struct gather *g)
{
	bool any = false;

	jb_printf(b, "\nOptimizations applied\n");
	for (size_t i = 0; i < g->nf; i++) {
		const struct ana_finding *f = &g->f[i];

		if (strcmp(f->kind, "missing_index") != 0 || !f->status ||
		    !f->ddl ||
		    (strcmp(f->status, "kept") != 0 &&
		     strcmp(f->status, "measuring") != 0 &&
		     strcmp(f->status, "retracted") != 0))
			continue;
		any = true;
		if (strcmp(f->status, "measuring") == 0)
			jb_printf(b, "  %s: exists, effect being measured\n",
				  f->ddl);
		else
			jb_printf(b,
				  "  %s: mean %.3f ms -> %.3f ms (%.1fx), %s\n",
				  f->ddl, f->before_ms, f->after_ms,
				  f->after_ms > 0 ? f->before_ms / f->after_ms
						  : 0,
				  f->status);
	}
	if (g->cache) {
		any = true;
		jb_printf(b,
			  "  result cache (%s): %llu hits of %llu lookups "
			  "(%.1f%%), Redis %s\n",
			  pp->cfg->cache_mode == CACHE_AUTO ? "auto" : "rules",
			  (unsigned long long)g->cs.hits,
			  (unsigned long long)g->cs.lookups,
			  g->cs.lookups ? 100.0 * (double)g->cs.hits /
						  (double)g->cs.lookups
					: 0,
			  g->cs.redis_state);
	}
	if (!any)
		jb_printf(b, "  none yet\n");
}

void report_text(struct pgperf *pp, struct jbuf *b)
{
	struct gather g;
	char t[32], cause[512];
	int prio = 0;

	gather(pp, &g);
	jb_time(g.w.started_us, t, sizeof(t));
	jb_printf(b, "pgperf performance report (statistics since %s)\n", t);
	jb_printf(b, "%llu statements, %llu errors, %zu findings\n\n",
		  (unsigned long long)g.t.calls, (unsigned long long)g.t.errors,
		  g.nf);
	jb_printf(b, "Analysis\n");
	if (g.top < 0) {
		jb_printf(b, "  no bottleneck found yet\n");
	} else {
		const struct ana_finding *f = &g.f[g.top];

		root_cause(f, cause, sizeof(cause));
		char ep[MAX_ENDPOINTS][ANA_ROUTE_MAX];
		size_t nep = endpoints(&g, ep);

		jb_printf(b, "  bottleneck: %s (%s)\n",
			  bottleneck_type(f->kind), f->severity);
		for (size_t i = 0; i < nep; i++)
			jb_printf(b, "%s%s",
				  i ? ", " : "  endpoints:  ", ep[i]);
		if (nep)
			jb_printf(b, "\n");
		jb_printf(b, "  root cause: %s\n", cause);
	}
	jb_printf(b, "\nLatency around the latest mark\n");
	if (g.w.before.present) {
		text_window(b, "before", &g.w.before);
		text_window(b, "after", &g.w.after);
		if (g.w.before.p95_us && g.w.after.calls)
			jb_printf(b, "  p95 %+.1f%%, p99 %+.1f%%\n",
				  -pct_change(g.w.before.p95_us,
					      g.w.after.p95_us),
				  -pct_change(g.w.before.p99_us,
					      g.w.after.p99_us));
		for (int i = 0; i < g.w.nchanges && i < 5; i++) {
			const struct ana_fp_change *c = &g.w.changes[i];

			jb_printf(b, "  mean %8.3f -> %8.3f ms  %.100s\n",
				  (double)c->us_before / 1000 /
					  (double)c->calls_before,
				  (double)c->us_after / 1000 /
					  (double)c->calls_after,
				  c->query);
		}
	} else if (g.w.after.present) {
		text_window(b, "all", &g.w.after);
		jb_printf(b, "  (no mark yet: pgperf-ctl mark NAME splits "
			     "the time into before and after)\n");
	}
	if (g.w.load.present) {
		const struct ana_window *w = &g.w.load;
		double secs = (double)(w->to_us - w->from_us) / 1e6;
		char tool[64];

		tool_of(w->application, tool, sizeof(tool));
		if (secs <= 0)
			secs = 1e-6;
		jb_printf(
			b,
			"\nLoad test \"%s\" (%s%s)\n  %.1f s, %llu "
			"connections, %.1f statements/s, error rate "
			"%.3f%%, p95 %.3f ms, p99 %.3f ms\n",
			w->from_mark, tool,
			g.w.load_running ? ", still running" : "", secs,
			(unsigned long long)w->clients, (double)w->calls / secs,
			w->calls ? 100.0 * (double)w->errors / (double)w->calls
				 : 0,
			(double)w->p95_us / 1000, (double)w->p99_us / 1000);
	}
	jb_printf(b, "\nRecommendations\n");
	for (size_t i = 0; i < g.nf; i++) {
		const struct ana_finding *f = &g.f[i];

		if (!actionable(f))
			continue;
		jb_printf(b, "  %d. [%s] %s: %s\n", ++prio, f->severity,
			  f->kind, f->suggestion);
		if (f->query && f->query[0] &&
		    strcmp(f->kind, "pooling_hazard") != 0)
			jb_printf(b, "     query: %.300s\n", f->query);
	}
	if (!prio)
		jb_printf(b, "  none\n");
	text_applied(pp, b, &g);
	jb_printf(b, "\nService levels\n");
	for (int i = 0; i < CK_N; i++) {
		const struct check *c = &g.ck[i];

		if (c->worst < 0)
			jb_printf(b, "  %-20s not measured\n", c->standard);
		else
			jb_printf(b, "  %-20s %s (limit %g %s, worst %.3f)\n",
				  c->standard, c->breaches ? "BREACHED" : "met",
				  c->limit, c->unit, c->worst);
	}
	for (size_t i = 0; i < g.nbr; i++)
		jb_printf(b, "    %s: %s %s = %.3f (limit %g)\n",
			  g.br[i].standard, g.br[i].subject_type,
			  g.br[i].subject, g.br[i].value, g.br[i].limit);
	gather_free(&g);
}

bool report_mark(struct pgperf *pp, const char *name, int kind, char *err,
		 size_t errlen)
{
	struct ana_event ev;

	if (!pp->ana) {
		snprintf(err, errlen, "marks need analysis = on");
		return false;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_MARK;
	ev.rows = (uint64_t)kind;
	ev.end_us = conn_wall_us();
	ev.text_len = (uint32_t)strlen(name);
	if (!(ev.text = pgp_strdup(name))) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	if (!analyzer_push(pp->ana, &ev)) {
		free(ev.text);
		snprintf(err, errlen, "the analyzer is too busy; try again");
		return false;
	}
	analyzer_sync(pp->ana, 1000);
	return true;
}
