/*
 * pool_findings.c -- every finding, as readers get them: the analyzer's,
 * and those only the I/O thread can make because the pools are its own --
 * pooling_hazard (session features that pinned clients in transaction
 * mode) and pool_saturation (clients waiting for a server connection) --
 * including pools saved in the state file that no client has come back
 * to yet.  It reads a snapshot of the pools (pool_snapshot()), plain data,
 * never the live pools.
 */
#include "console/report.h"
#include "report_int.h"
#include "fleet/fleet.h"

#include "proxy/config.h"
#include "analyzer/findings.h"
#include "proxy/pool_state.h"
#include "proto/session_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
			 const struct pool_view *p)
{
	jb_put(b, "{", 1);
	jb_kstr(b, "id", o->id);
	jb_kstr(b, "kind", ana_finding_kind_name(o->kind));
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
static void hazard_findings(struct pgperf *pp, const struct pool_view *pools,
			    size_t npools, struct ana_finding *v, size_t *n)
{
	bool pinning = pp->cfg->transaction_pinning != 0;

	for (size_t i = 0; i < npools; i++) {
		const struct pool_view *p = &pools[i];

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
			o->kind = FND_POOLING_HAZARD;
			o->severity = c >= (uint64_t)p->pool_size ? "high"
				      : pinning			  ? "medium"
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
				  (unsigned long long)c, p->pool_size,
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
static void saturation_findings(const struct report_src *src,
				const struct pool_view *pools, size_t npools,
				struct ana_finding *v, size_t *n)
{
	struct analyzer *ana = src->ana;

	for (size_t j = 0; j < npools; j++) {
		const struct pool_view *p = &pools[j];
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
		o->kind = FND_POOL_SATURATION;
		/* the fleet's pools come in the view's order */
		if (src->fleet && j < src->fleet->npools)
			o->members = src->fleet->pools[j].members;
		o->severity = mean_ms >= 100 || share >= 10 ? "high"
			      : mean_ms >= 10		    ? "medium"
							    : "low";
		o->executions = s->waited_count;
		o->saved_us = s->wait_us;
		o->last_seen_us = pgp_wall_us();
		if (p->holds[0].query[0])
			first = pgp_strdup(p->holds[0].query);
		else if (p->holds[0].us && ana)
			first = analyzer_shape_query(ana, p->holds[0].shape);
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
			 p->user, p->pool_size, mean_ms,
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
			  (double)s->max_wait_us / 1000, share, p->waiting,
			  p->pool_size, p->servers_active);
		jb_key(&b, "longest_transactions");
		jb_put(&b, "[", 1);
		for (int i = 0; i < POOL_HOLDS && p->holds[i].us; i++) {
			char *q = i == 0 ? first
				  : p->holds[i].query[0]
					  ? pgp_strdup(p->holds[i].query)
				  : ana ? analyzer_shape_query(
						  ana, p->holds[i].shape)
					: NULL;

			jb_obj_open(&b);
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

size_t report_findings_of(const struct report_src *s, struct ana_finding **out)
{
	struct ana_finding *v = NULL, *w;
	struct pool_view *pools = NULL;
	size_t n = 0, npools;

	if (s->ana)
		n = analyzer_findings(s->ana, &v);
	/* the pools as plain data: live ones and those only saved (or the
	 * fleet's, summed) */
	npools = report_pools(s, &pools);
	if ((w = realloc(v, (n + npools * (POOL_HAZARD_KINDS + 1) + 1) *
				    sizeof(*v)))) {
		v = w;
		hazard_findings(s->pp, pools, npools, v, &n);
		saturation_findings(s, pools, npools, v, &n);
	}
	pgp_free(pools);
	findings_sort(v, n);
	*out = v;
	return n;
}

size_t report_findings(struct pgperf *pp, struct ana_finding **out)
{
	struct report_src s = report_src_local(pp);

	return report_findings_of(&s, out);
}
