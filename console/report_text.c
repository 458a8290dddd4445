/*
 * report_text.c -- the performance report as text for a terminal
 * (pgperf-ctl report, SHOW REPORT), from the same gathered facts as the
 * JSON, so that the two cannot disagree.
 */
#include "report_int.h"

#include "fleet/fleet.h"
#include "proxy/config.h"

#include <stdio.h>
#include <string.h>

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

		if (!report_index_in_place(f))
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
	struct report_src s = report_src_local(pp);

	report_text_of(&s, b);
}

void report_text_of(const struct report_src *s, struct jbuf *b)
{
	struct pgperf *pp = s->pp;
	struct gather g;
	char t[32], cause[512];
	int prio = 0;

	report_gather(s, &g);
	jb_time(g.w.started_us, t, sizeof(t));
	jb_printf(b, "pgperf performance report (statistics since %s)\n", t);
	if (s->fleet) {
		const struct fleet_view *v = s->fleet;
		uint64_t all = v->nmembers >= 64
				       ? UINT64_MAX
				       : ((uint64_t)1 << v->nmembers) - 1;
		char stale[512];

		fleet_stale_ids(v, all, pgp_wall_us(), stale, sizeof(stale));
		jb_printf(b, "fleet: %zu process%s%s%s%s\n", v->nmembers,
			  v->nmembers == 1 ? "" : "es",
			  stale[0] ? " (stale: " : "", stale,
			  stale[0] ? ")" : "");
	}
	jb_printf(b, "%llu statements, %llu errors, %zu findings\n\n",
		  (unsigned long long)g.t.calls, (unsigned long long)g.t.errors,
		  g.nf);
	jb_printf(b, "Analysis\n");
	if (g.top < 0) {
		jb_printf(b, "  no bottleneck found yet\n");
	} else {
		const struct ana_finding *f = &g.f[g.top];

		report_root_cause(f, cause, sizeof(cause));
		char ep[MAX_ENDPOINTS][ANA_ROUTE_MAX];
		size_t nep = report_endpoints(&g, ep);

		jb_printf(b, "  bottleneck: %s (%s)\n",
			  report_bottleneck_type(f->kind), f->severity);
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
				  -report_pct_change(g.w.before.p95_us,
						     g.w.after.p95_us),
				  -report_pct_change(g.w.before.p99_us,
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

		report_tool_of(w->application, tool, sizeof(tool));
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

		if (!report_actionable(f))
			continue;
		jb_printf(b, "  %d. [%s] %s: %s\n", ++prio, f->severity,
			  ana_finding_kind_name(f->kind), f->suggestion);
		if (f->query && f->query[0] && f->kind != FND_POOLING_HAZARD)
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
	report_gather_free(&g);
}
