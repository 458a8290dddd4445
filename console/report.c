/*
 * report.c -- the findings export, as JSON (see report.h and
 * docs/findings.md): the document around the gathered facts
 * (report_gather.c), the per-fingerprint statistics, and marks.
 */
#include "report_int.h"

#include "fleet/fleet.h"

#include "proxy/config.h"
#include "proxy/conn.h"
#include "proxy/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	jb_kstr(b, "bottleneck_type", report_bottleneck_type(f->kind));
	jb_kstr(b, "severity", f->severity);
	jb_kstr(b, "finding_id", f->id);
	jb_key(b, "affected_endpoints");
	jb_put(b, "[", 1);
	nep = report_endpoints(g, ep);
	for (size_t i = 0; i < nep; i++) {
		if (i)
			jb_put(b, ",", 1);
		jb_str(b, ep[i]);
	}
	jb_put(b, "]", 1);
	report_root_cause(f, cause, sizeof(cause));
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
			  report_pct_change(be->p50_us, af->p50_us),
			  report_pct_change(be->p95_us, af->p95_us),
			  report_pct_change(be->p99_us, af->p99_us),
			  report_pct_change(be->mean_us, af->mean_us));
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

		jb_obj_open(b);
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
	uint64_t waits = 0, wait_us = 0, clients = 0;
	int servers = 0, pools = 0;
	char line[512];

	jb_key(b, "optimizations_applied");
	jb_put(b, "[", 1);
	for (size_t i = 0; i < g->nf; i++) {
		const struct ana_finding *f = &g->f[i];

		if (!report_index_in_place(f))
			continue;
		jb_obj_open(b);
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

		jb_obj_open(b);
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
	for (size_t i = 0; i < g->npools; i++) {
		const struct pool_view *p = &g->pools[i];

		if (!p->live)
			continue;
		pools++;
		waits += p->st.waited_count;
		wait_us += p->st.wait_us;
		clients += p->clients + p->waiting;
		servers += (int)(p->servers_active + p->servers_idle +
				 p->servers_tested);
	}
	if (pools) {
		jb_obj_open(b);
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

		if (!report_actionable(f))
			continue;
		jb_obj_open(b);
		jb_printf(b, "\"priority\":%d", ++prio);
		jb_kstr(b, "severity", f->severity);
		jb_kstr(b, "kind", ana_finding_kind_name(f->kind));
		jb_kstr(b, "finding_id", f->id);
		jb_kstr(b, "action",
			f->ddl && f->kind == FND_MISSING_INDEX &&
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
	report_tool_of(w->application, tool, sizeof(tool));
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

		jb_obj_open(b);
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

		jb_obj_open(b);
		jb_kstr(b, "standard", r->standard);
		jb_kstr(b, "subject_type", r->subject_type);
		jb_kstr(b, "subject", r->subject);
		jb_printf(b, ",\"value\":%.3f,\"limit\":%g}", r->value,
			  r->limit);
	}
	jb_put(b, "]}", 2);
}

void report_fleet_fields(struct jbuf *b, const struct fleet_view *v,
			 uint64_t bits)
{
	int64_t now = pgp_wall_us();
	bool any = false;

	jb_printf(b, ",\"processes\":%d", fleet_count(v, bits));
	jb_key(b, "stale");
	jb_put(b, "[", 1);
	for (size_t i = 0; i < v->nmembers && i < FLEET_MAX_MEMBERS; i++) {
		if (!((bits >> i) & 1) ||
		    !fleet_member_stale(&v->members[i], now))
			continue;
		if (any)
			jb_put(b, ",", 1);
		jb_str(b, v->members[i].id);
		any = true;
	}
	jb_put(b, "]", 1);
}

/* The fleet's members, for the export's instance. */
static void json_members(struct jbuf *b, const struct fleet_view *v)
{
	int64_t now = pgp_wall_us();
	char t[32];

	jb_key(b, "members");
	jb_put(b, "[", 1);
	for (size_t i = 0; i < v->nmembers; i++) {
		const struct fleet_member *m = &v->members[i];

		jb_obj_open(b);
		jb_kstr(b, "id", m->id);
		jb_printf(b, ",\"peer_id\":%d,\"pid\":%d", m->peer_id, m->pid);
		jb_kstr(b, "host", m->host);
		jb_kstr(b, "listen", m->listen);
		jb_time(m->published_us, t, sizeof(t));
		jb_kstr(b, "published_at", t);
		jb_printf(b, ",\"stale\":%s}",
			  fleet_member_stale(m, now) ? "true" : "false");
	}
	jb_put(b, "]", 1);
}

void report_export(struct pgperf *pp, struct jbuf *b)
{
	struct report_src s = report_src_local(pp);

	report_export_of(&s, b);
}

void report_export_of(const struct report_src *s, struct jbuf *b)
{
	struct pgperf *pp = s->pp;
	struct gather g;
	char t[32];

	report_gather(s, &g);
	jb_printf(b, "{\"version\":%d", ANA_FINDINGS_VERSION);
	jb_time(pgp_wall_us(), t, sizeof(t));
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
	if (s->fleet) {
		uint64_t all =
			s->fleet->nmembers >= 64
				? UINT64_MAX
				: ((uint64_t)1 << s->fleet->nmembers) - 1;

		jb_key(b, "fleet");
		jb_put(b, "{", 1);
		jb_time(s->fleet->built_us, t, sizeof(t));
		jb_kstr(b, "merged_at", t);
		report_fleet_fields(b, s->fleet, all);
		json_members(b, s->fleet);
		jb_put(b, "}", 1);
	}
	jb_put(b, "}", 1);
	jb_key(b, "window");
	jb_put(b, "{", 1);
	json_time(b, "from", g.w.started_us ? g.w.started_us : pgp_wall_us());
	json_time(b, "to", pgp_wall_us());
	jb_printf(b, ",\"statements\":%llu,\"errors\":%llu}",
		  (unsigned long long)g.t.calls,
		  (unsigned long long)g.t.errors);
	jb_key(b, "marks");
	jb_put(b, "[", 1);
	for (int i = 0; i < g.w.nmarks; i++) {
		jb_obj_open(b);
		jb_kstr(b, "name", g.w.marks[i].name);
		jb_kstr(b, "kind", mark_kind(g.w.marks[i].kind));
		json_time(b, "at", g.w.marks[i].at_us);
		jb_put(b, "}", 1);
	}
	jb_put(b, "]", 1);
	jb_key(b, "findings");
	jb_put(b, "[", 1);
	for (size_t i = 0; i < g.nf; i++) {
		size_t len = strlen(g.f[i].json);

		if (i)
			jb_put(b, ",", 1);
		if (!s->fleet || !len) {
			jb_put(b, g.f[i].json, len);
			continue;
		}
		/* the fleet's: the processes each finding covers */
		jb_put(b, g.f[i].json, len - 1);
		report_fleet_fields(b, s->fleet, g.f[i].members);
		jb_put(b, "}", 1);
	}
	jb_put(b, "]", 1);
	jb_key(b, "queries");
	report_queries_json(b, g.q, g.nq, s->fleet);
	jb_key(b, "report");
	jb_put(b, "{", 1);
	json_analysis(b, &g);
	json_metrics(b, &g);
	json_optimizations(pp, b, &g);
	json_recommendations(b, &g);
	json_load(b, &g);
	json_standards(b, &g);
	jb_put(b, "}}\n", 3);
	report_gather_free(&g);
}

void report_queries_json(struct jbuf *b, const struct ana_query *q, size_t n,
			 const struct fleet_view *v)
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

			jb_obj_open(b);
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
		jb_put(b, "]", 1);
		if (v)
			report_fleet_fields(b, v, e->members);
		jb_put(b, "}", 1);
	}
	jb_put(b, n ? "\n]" : "]", n ? 2 : 1);
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
	ev.end_us = pgp_wall_us();
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
	/* readers after this wait for it (fence.h) */
	return true;
}
