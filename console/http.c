/*
 * http.c -- the HTTP endpoint (libevent's evhttp, on the I/O thread):
 *   /metrics  Prometheus text format: pools, traffic, the analyzer, and
 *             latency histograms labelled by fingerprint for the top
 *             queries only (the rest summed under fingerprint="other"),
 *             so the number of series stays bounded;
 *   /queries  the statement statistics as JSON (versioned);
 *   /healthz  "ok" while the daemon runs;
 *   /fleet/metrics, /fleet/findings, /fleet/report  the same over every
 *             process of the fleet (fleet/fleet.h), merged; 503 without
 *             a fleet view.
 * Off unless http_listen_port is set; it listens on http_listen_addr
 * (127.0.0.1 by default).  With http_auth_token set, /metrics and /queries
 * need "Authorization: Bearer <token>" (compared in constant time);
 * /healthz never does, so that load balancers can probe it.
 * Bounded: 8 KiB of headers, no body, http_timeout per connection,
 * http_max_connections open; a Host that is a name not in
 * http_allowed_hosts is refused (DNS rebinding).
 */
#include "console/http.h"

#include "console/fence.h"
#include "report_int.h"

#include "analyzer/analyzer.h"
#include "fleet/fleet.h"
#include "lib/clock.h"
#include "cache/cache.h"
#include "proxy/config.h"
#include "lib/log.h"
#include "proxy/pool.h"
#include "proxy/pool_state.h"
#include "console/report.h"

#include <event2/buffer.h>
#include <arpa/inet.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Request size limits: only GET and HEAD are served. */
#define HTTP_MAX_HEADERS 8192
#define HTTP_MAX_BODY 1024

/* Fingerprints with their own histogram series in /metrics. */
#define METRICS_TOP 20

/* A Prometheus label value: quotes, backslashes and newlines escaped. */
static void add_escaped(struct evbuffer *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			evbuffer_add_printf(b, "\\%c", c);
		else if (c == '\n')
			evbuffer_add(b, "\\n", 2);
		else if (c >= 0x20)
			evbuffer_add(b, s, 1);
	}
}

static void label(struct evbuffer *b, const char *name, const char *value)
{
	evbuffer_add_printf(b, "%s=\"", name);
	add_escaped(b, value);
	evbuffer_add(b, "\"", 1);
}

static void pool_labels(struct evbuffer *b, const struct pool_view *p)
{
	evbuffer_add(b, "{", 1);
	label(b, "database", p->database);
	evbuffer_add(b, ",", 1);
	label(b, "user", p->user);
	evbuffer_add(b, "}", 1);
}

static void help(struct evbuffer *b, const char *name, const char *type,
		 const char *text)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name,
			    type);
}

struct pool_metric {
	const char *name, *type, *help;
	double (*value)(const struct pool_view *p);
};

/* One gauge or counter with a value per pool (the pools' snapshot). */
static void per_pool(struct evbuffer *b, const struct pool_view *v, size_t n,
		     const struct pool_metric *m)
{
	help(b, m->name, m->type, m->help);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].live)
			continue; /* saved, not running: findings only */
		evbuffer_add_printf(b, "%s", m->name);
		pool_labels(b, &v[i]);
		evbuffer_add_printf(b, " %.6f\n", m->value(&v[i]));
	}
}

static double v_cl_active(const struct pool_view *p)
{
	return (double)p->clients;
}
static double v_cl_waiting(const struct pool_view *p)
{
	return (double)p->waiting;
}
static double v_sv_active(const struct pool_view *p)
{
	return (double)p->servers_active;
}
static double v_sv_idle(const struct pool_view *p)
{
	return (double)p->servers_idle;
}
static double v_xacts(const struct pool_view *p)
{
	return (double)p->st.xact_count;
}
static double v_queries(const struct pool_view *p)
{
	return (double)p->st.query_count;
}
static double v_recv(const struct pool_view *p)
{
	return (double)p->st.recv;
}
static double v_sent(const struct pool_view *p)
{
	return (double)p->st.sent;
}
static double v_query_s(const struct pool_view *p)
{
	return (double)p->st.query_us / 1e6;
}
static double v_wait_s(const struct pool_view *p)
{
	return (double)p->st.wait_us / 1e6;
}

/* Per-pool series of /metrics. */
static const struct pool_metric pool_metrics[] = {
	{"pgperf_pool_clients_active", "gauge",
	 "logged-in clients (active or between transactions)", v_cl_active},
	{"pgperf_pool_clients_waiting", "gauge",
	 "clients waiting for a server connection", v_cl_waiting},
	{"pgperf_pool_servers_active", "gauge",
	 "server connections serving a client", v_sv_active},
	{"pgperf_pool_servers_idle", "gauge", "idle server connections",
	 v_sv_idle},
	{"pgperf_transactions_total", "counter", "transactions completed",
	 v_xacts},
	{"pgperf_queries_total", "counter", "statements completed", v_queries},
	{"pgperf_received_bytes_total", "counter",
	 "bytes received from clients", v_recv},
	{"pgperf_sent_bytes_total", "counter", "bytes sent to clients", v_sent},
	{"pgperf_query_seconds_total", "counter", "time spent in statements",
	 v_query_s},
	{"pgperf_wait_seconds_total", "counter",
	 "time clients waited for a server connection", v_wait_s},
};

static void fp_label(char *buf, size_t len, const struct ana_query *q)
{
	if (strcmp(q->kind, "OTHER") == 0)
		snprintf(buf, len, "other");
	else
		snprintf(buf, len, "%016" PRIx64, q->fingerprint);
}

/* A counter per top fingerprint; `field` is a uint64_t of ana_query. */
static void per_query(struct evbuffer *b, const char *name, const char *text,
		      const struct ana_query *q, size_t top, size_t field)
{
	char fp[24];

	help(b, name, "counter", text);
	for (size_t i = 0; i < top; i++) {
		uint64_t v;

		memcpy(&v, (const char *)&q[i] + field, sizeof(v));
		fp_label(fp, sizeof(fp), &q[i]);
		evbuffer_add_printf(b, "%s{fingerprint=\"%s\"} %" PRIu64 "\n",
				    name, fp, v);
	}
}

static void query_metrics(struct evbuffer *b, struct analyzer *ana)
{
	struct ana_query *q = NULL, rest;
	struct ana_totals t;
	size_t n = 0, top;
	char fp[24];

	memset(&t, 0, sizeof(t));
	if (ana)
		n = analyzer_queries(ana, &q, &t);
	help(b, "pgperf_analyzer_events_total", "counter",
	     "statement events the analyzer applied");
	evbuffer_add_printf(b, "pgperf_analyzer_events_total %" PRIu64 "\n",
			    t.events);
	help(b, "pgperf_analyzer_events_dropped_total", "counter",
	     "statement events dropped because the analyzer's queue was full");
	evbuffer_add_printf(
		b, "pgperf_analyzer_events_dropped_total %" PRIu64 "\n",
		t.dropped);
	help(b, "pgperf_index_advice_checked_total", "counter",
	     "fingerprints index advice has looked at");
	evbuffer_add_printf(b,
			    "pgperf_index_advice_checked_total %" PRIu64 "\n",
			    t.advice_checked);
	help(b, "pgperf_analyzer_fingerprints", "gauge",
	     "statement fingerprints tracked");
	evbuffer_add_printf(b, "pgperf_analyzer_fingerprints %" PRIu64 "\n",
			    t.fingerprints);

	/* the top queries by total time have their own series; the rest are
	 * summed as fingerprint="other" */
	top = n < METRICS_TOP ? n : METRICS_TOP;
	memset(&rest, 0, sizeof(rest));
	rest.kind = "OTHER";
	for (size_t i = top; i < n; i++) {
		rest.calls += q[i].calls;
		rest.errors += q[i].errors;
		rest.rows += q[i].rows;
		rest.total_us += q[i].total_us;
		for (int k = 0; k < ANA_BUCKETS; k++)
			rest.le[k] += q[i].le[k];
	}
	help(b, "pgperf_query_duration_seconds", "histogram",
	     "statement latency as pgperf sees it, per fingerprint");
	for (size_t i = 0; i <= top; i++) {
		const struct ana_query *e = i < top ? &q[i] : &rest;

		if (i == top && (n <= top || !rest.calls))
			break;
		fp_label(fp, sizeof(fp), e);
		for (int k = 0; k < ANA_BUCKETS; k++)
			evbuffer_add_printf(
				b,
				"pgperf_query_duration_seconds_bucket{fingerprint=\"%s\",le=\"%g\"} %" PRIu64
				"\n",
				fp, (double)ana_bucket_us[k] / 1e6, e->le[k]);
		evbuffer_add_printf(
			b,
			"pgperf_query_duration_seconds_bucket{fingerprint=\"%s\",le=\"+Inf\"} %" PRIu64
			"\n",
			fp, e->calls);
		evbuffer_add_printf(
			b,
			"pgperf_query_duration_seconds_sum{fingerprint=\"%s\"} %.6f\n",
			fp, (double)e->total_us / 1e6);
		evbuffer_add_printf(
			b,
			"pgperf_query_duration_seconds_count{fingerprint=\"%s\"} %" PRIu64
			"\n",
			fp, e->calls);
	}
	per_query(b, "pgperf_query_errors_total",
		  "statements that ended in an error, per fingerprint", q, top,
		  offsetof(struct ana_query, errors));
	per_query(b, "pgperf_query_rows_total",
		  "rows returned or affected, per fingerprint", q, top,
		  offsetof(struct ana_query, rows));
	ana_queries_free(q, n);
}

/* The result cache's counters (absent when it is off). */
static void cache_metrics(struct evbuffer *b, struct pgperf *pp)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} counters[] = {
		{"pgperf_cache_hits_total", "queries answered from Redis",
		 offsetof(struct cache_stats, hits)},
		{"pgperf_cache_misses_total",
		 "cacheable queries not found (or stale) in Redis",
		 offsetof(struct cache_stats, misses)},
		{"pgperf_cache_bypassed_total",
		 "queries that skipped the cache (not cacheable, Redis down)",
		 offsetof(struct cache_stats, bypassed)},
		{"pgperf_cache_fills_total", "replies stored in Redis",
		 offsetof(struct cache_stats, fills)},
		{"pgperf_cache_invalidations_total",
		 "table generations incremented after writes",
		 offsetof(struct cache_stats, invalidations)},
		{"pgperf_cache_redis_errors_total",
		 "Redis operations that failed",
		 offsetof(struct cache_stats, redis_errors)},
		{"pgperf_cache_redis_timeouts_total",
		 "Redis operations past redis_timeout_ms",
		 offsetof(struct cache_stats, timeouts)},
		{"pgperf_cache_hit_bytes_total",
		 "reply bytes served from Redis",
		 offsetof(struct cache_stats, hit_bytes)},
	};
	struct cache_stats st;

	if (!pp->cache)
		return;
	cache_get_stats(pp->cache, &st);
	for (size_t i = 0; i < ARRAY_SIZE(counters); i++) {
		help(b, counters[i].name, "counter", counters[i].help);
		evbuffer_add_printf(b, "%s %" PRIu64 "\n", counters[i].name,
				    *(const uint64_t *)((const char *)&st +
							counters[i].off));
	}
	help(b, "pgperf_cache_redis_up", "gauge",
	     "1 when the cache's Redis connection is usable");
	evbuffer_add_printf(b, "pgperf_cache_redis_up %d\n",
			    strcmp(st.redis_state, "up") == 0);
}

/* Requests per route and findings per kind and severity. */
static void request_metrics(struct evbuffer *b, const struct report_src *s)
{
	static const char *const sev[] = {"high", "medium", "low"};
	struct ana_route *rt = NULL;
	struct ana_finding *f = NULL;
	size_t nr = 0, nf = 0;

	if (s->ana)
		nr = analyzer_routes(s->ana, &rt);
	nf = report_findings_of(s, &f);
	help(b, "pgperf_requests_total", "counter",
	     "application requests seen, per route (sqlcommenter tags)");
	for (size_t i = 0; i < nr; i++) {
		evbuffer_add(b, "pgperf_requests_total{", 22);
		label(b, "route", rt[i].route[0] ? rt[i].route : "(untagged)");
		evbuffer_add_printf(b, "} %" PRIu64 "\n", rt[i].requests);
	}
	help(b, "pgperf_request_nplus1_total", "counter",
	     "requests in which an N+1 was found, per route");
	for (size_t i = 0; i < nr; i++) {
		evbuffer_add(b, "pgperf_request_nplus1_total{", 28);
		label(b, "route", rt[i].route[0] ? rt[i].route : "(untagged)");
		evbuffer_add_printf(b, "} %" PRIu64 "\n",
				    rt[i].nplus1_requests);
	}
	help(b, "pgperf_findings", "gauge",
	     "findings (SHOW FINDINGS), per kind and severity");
	for (int k = 0; k < FND_KINDS; k++)
		for (size_t v = 0; v < ARRAY_SIZE(sev); v++) {
			size_t n = 0;

			for (size_t i = 0; i < nf; i++)
				n += f[i].kind == (enum ana_finding_kind)k &&
				     strcmp(f[i].severity, sev[v]) == 0;
			evbuffer_add_printf(
				b,
				"pgperf_findings{kind=\"%s\",severity=\"%s\"} %zu\n",
				ana_finding_kind_name((enum ana_finding_kind)k),
				sev[v], n);
		}
	pgp_free(rt);
	ana_findings_free(f, nf);
}

/*
 * With http_auth_token set, /metrics and /queries need the header
 * "Authorization: Bearer <token>"; false (401 sent) without it.
 */
static bool authorized(struct evhttp_request *req, const struct pgperf *pp)
{
	const char *token = pp->cfg->http_auth_token;
	const char *h;
	size_t n = strlen(token);

	if (!*token)
		return true;
	h = evhttp_find_header(evhttp_request_get_input_headers(req),
			       "Authorization");
	if (h && strncmp(h, "Bearer ", 7) == 0 && strlen(h + 7) == n &&
	    pgp_secure_equal(h + 7, token, n))
		return true;
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "WWW-Authenticate", "Bearer");
	evhttp_send_error(req, 401, "a bearer token is required");
	return false;
}

static void write_metrics(struct evbuffer *b, struct pgperf *pp,
			  const struct fleet_view *fv)
{
	struct pool_view *pools = NULL;
	size_t npools;
	struct report_src src = report_src_local(pp);

	(void)fv;
	help(b, "pgperf_up", "gauge", "1 while pgperf runs");
	evbuffer_add_printf(b, "pgperf_up 1\n");
	help(b, "pgperf_clients", "gauge", "client connections");
	evbuffer_add_printf(b, "pgperf_clients %d\n", pp->nclients);
	help(b, "pgperf_startup_errors_total", "counter",
	     "connections closed for a malformed startup packet, unanswered "
	     "as PostgreSQL does");
	evbuffer_add_printf(b, "pgperf_startup_errors_total %llu\n",
			    (unsigned long long)pp->startup_errors);
	help(b, "pgperf_peer_cancels_total", "counter",
	     "CancelRequests for another pgperf process ([peers]): forwarded, "
	     "or dropped because that peer is not configured");
	evbuffer_add_printf(b,
			    "pgperf_peer_cancels_total{result=\"forwarded\"} "
			    "%llu\n",
			    (unsigned long long)pp->cancels_forwarded);
	evbuffer_add_printf(b,
			    "pgperf_peer_cancels_total{result=\"dropped\"} "
			    "%llu\n",
			    (unsigned long long)pp->cancels_dropped);
	for (int side = 0; side < 2; side++) {
		const char *name = side ? "pgperf_server_closes_total"
					: "pgperf_client_closes_total";
		const uint64_t *n =
			side ? pp->server_closes : pp->client_closes;

		help(b, name, "counter",
		     side ? "server connections pgperf closed, by reason"
			  : "client connections closed, by reason");
		for (int r = 0; r < CLOSE_REASON_COUNT; r++)
			evbuffer_add_printf(b, "%s{reason=\"%s\"} %llu\n", name,
					    close_reason_name(r),
					    (unsigned long long)n[r]);
	}
	npools = pool_snapshot(pp, &pools);
	for (size_t i = 0; i < ARRAY_SIZE(pool_metrics); i++)
		per_pool(b, pools, npools, &pool_metrics[i]);
	pgp_free(pools);
	query_metrics(b, pp->ana);
	request_metrics(b, &src);
	cache_metrics(b, pp);
}

/*
 * /fleet/metrics: the fleet's members, and the pools, statements and
 * findings of all of them merged (the same series as /metrics; a scraper
 * tells them apart by job).  Counters are sums of the members' own, as
 * of each one's latest record.
 */
static void write_fleet_metrics(struct evbuffer *b, struct pgperf *pp,
				const struct fleet_view *v)
{
	struct report_src src = report_src_fleet(pp, v);
	struct pool_view *pools = NULL;
	size_t npools;
	int64_t now = pgp_wall_us();
	int stale = 0;

	for (size_t i = 0; i < v->nmembers; i++)
		stale += fleet_member_stale(&v->members[i], now);
	help(b, "pgperf_fleet_members", "gauge",
	     "pgperf processes in the fleet view, live and stale");
	evbuffer_add_printf(b, "pgperf_fleet_members %zu\n", v->nmembers);
	help(b, "pgperf_fleet_members_stale", "gauge",
	     "members whose latest record is older than two of their "
	     "stats_period");
	evbuffer_add_printf(b, "pgperf_fleet_members_stale %d\n", stale);
	help(b, "pgperf_fleet_member_up", "gauge",
	     "1 while a member publishes, 0 once it is stale");
	for (size_t i = 0; i < v->nmembers; i++) {
		evbuffer_add(b, "pgperf_fleet_member_up{", 23);
		label(b, "member", v->members[i].id);
		evbuffer_add_printf(b, "} %d\n",
				    !fleet_member_stale(&v->members[i], now));
	}
	help(b, "pgperf_fleet_member_age_seconds", "gauge",
	     "seconds since a member last published its record");
	for (size_t i = 0; i < v->nmembers; i++) {
		evbuffer_add(b, "pgperf_fleet_member_age_seconds{", 32);
		label(b, "member", v->members[i].id);
		evbuffer_add_printf(b, "} %.1f\n",
				    (double)(now - v->members[i].published_us) /
					    1e6);
	}
	npools = report_pools(&src, &pools);
	for (size_t i = 0; i < ARRAY_SIZE(pool_metrics); i++)
		per_pool(b, pools, npools, &pool_metrics[i]);
	pgp_free(pools);
	query_metrics(b, v->ana);
	request_metrics(b, &src);
}

/* A JSON document built in `j` into the reply (and j freed). */
static void add_json(struct evbuffer *b, struct jbuf *j)
{
	if (j->oom)
		evbuffer_add_printf(b, "{\"error\": \"out of memory\"}\n");
	else
		evbuffer_add(b, j->p, j->n);
	free(j->p);
	j->p = NULL;
}

static void write_queries(struct evbuffer *b, struct pgperf *pp,
			  const struct fleet_view *fv)
{
	struct ana_query *q = NULL;
	struct ana_totals t;
	struct jbuf j = {0};
	size_t n = 0;

	memset(&t, 0, sizeof(t));
	if (pp->ana)
		n = analyzer_queries(pp->ana, &q, &t);
	jb_printf(&j,
		  "{\"version\": 1, \"analysis\": %s, \"events\": %" PRIu64
		  ", \"dropped\": %" PRIu64 ", \"queries\": ",
		  pp->cfg->analysis ? "true" : "false", t.events, t.dropped);
	report_queries_json(&j, q, n, NULL);
	jb_put(&j, "}\n", 2);
	ana_queries_free(q, n);
	add_json(b, &j);
	(void)fv;
}

/* The findings export document (docs/findings.md), also /report; the
 * fleet's under /fleet/. */
static void write_export(struct evbuffer *b, struct pgperf *pp,
			 const struct fleet_view *fv)
{
	struct jbuf j = {0};
	struct report_src s =
		fv ? report_src_fleet(pp, fv) : report_src_local(pp);

	report_export_of(&s, &j);
	add_json(b, &j);
}

static void write_healthz(struct evbuffer *b, struct pgperf *pp,
			  const struct fleet_view *fv)
{
	(void)pp;
	(void)fv;
	evbuffer_add_printf(b, "ok\n");
}

struct endpoint {
	const char *path, *content_type;
	bool needs_token;    /* when http_auth_token is set */
	bool needs_analysis; /* waits for the analyzer (fence.h) */
	bool fleet;	     /* reads the fleet view (503 without one) */
	void (*write)(struct evbuffer *b, struct pgperf *pp,
		      const struct fleet_view *fv);
};

static const struct endpoint endpoints[] = {
	{"/metrics", "text/plain; version=0.0.4", true, true, false,
	 write_metrics},
	{"/queries", "application/json", true, true, false, write_queries},
	{"/findings", "application/json", true, true, false, write_export},
	{"/report", "application/json", true, true, false, write_export},
	{"/healthz", "text/plain", false, false, false, write_healthz},
	{"/fleet/metrics", "text/plain; version=0.0.4", true, false, true,
	 write_fleet_metrics},
	{"/fleet/findings", "application/json", true, false, true,
	 write_export},
	{"/fleet/report", "application/json", true, false, true, write_export},
};

/* A request waiting for the analyzer to catch up. */
struct http_wait {
	struct fence_waiter w;
	struct list node; /* on pp->http_waiting */
	struct pgperf *pp;
	struct evhttp_request *req; /* libevent's; answered exactly once */
	const struct endpoint *e;
};

/* Build and send one endpoint's reply. */
static void reply(struct pgperf *pp, struct evhttp_request *req,
		  const struct endpoint *e)
{
	struct evbuffer *b;
	struct fleet_view *v = NULL;

	if (e->fleet && !pp->fleet) {
		evhttp_send_error(req, 503,
				  "the fleet view is off: it needs redis_url "
				  "(and fleet = on)");
		return;
	}
	if (e->fleet && !(v = fleet_view_get(pp->fleet))) {
		evhttp_send_error(req, 503,
				  "no fleet view yet: the first is merged a "
				  "moment after start");
		return;
	}
	if (!(b = evbuffer_new())) {
		fleet_view_put(v);
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	e->write(b, pp, v);
	fleet_view_put(v);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", e->content_type);
	/* if the client went away meanwhile, libevent frees the request */
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

static void http_fence_ready(struct fence_waiter *w)
{
	struct http_wait *hw = list_entry(w, struct http_wait, w);

	list_del(&hw->node);
	reply(hw->pp, hw->req, hw->e);
	pgp_free(hw);
}

/* ---- limits: connections, Host ---- */

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct pgperf *pp = arg;

	for (int i = 0; i < pp->nhttp_conns; i++)
		if (pp->http_conns[i] == evcon) {
			pp->http_conns[i] = pp->http_conns[--pp->nhttp_conns];
			return;
		}
}

/*
 * Count the request's connection among those open (libevent 2.1 says
 * nothing at accept: a connection counts from its first request, and one
 * that never sends one is closed by http_timeout).  False when it is new
 * and http_max_connections are open already.
 */
static bool conn_admitted(struct pgperf *pp, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	int cap = pp->cfg->http_max_connections;

	if (!evcon)
		return true;
	for (int i = 0; i < pp->nhttp_conns; i++)
		if (pp->http_conns[i] == evcon)
			return true;
	if (pp->nhttp_conns >= cap || pp->nhttp_conns >= pp->http_conns_cap)
		return false;
	pp->http_conns[pp->nhttp_conns++] = evcon;
	evhttp_connection_set_closecb(evcon, conn_closed, pp);
	return true;
}

/* `name` (of `len` bytes) is in the comma-separated `list`. */
static bool host_listed(const char *list, const char *name, size_t len)
{
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ", ");

		if (n == len && strncasecmp(p, name, len) == 0)
			return true;
		p += n;
		p += strspn(p, ", ");
	}
	return false;
}

/*
 * DNS rebinding: a web page's own name made to resolve to this address
 * would let the browser read the endpoint as that page.  Such a request
 * carries the page's name in Host, so only an address, "localhost" or a
 * name in http_allowed_hosts is answered.
 */
static bool host_allowed(struct evhttp_request *req, const struct pgperf *pp)
{
	const char *h = evhttp_find_header(
		evhttp_request_get_input_headers(req), "Host");
	char name[256];
	size_t len;
	struct in_addr a4;
	struct in6_addr a6;

	if (!h)
		return true; /* HTTP/1.0 tools; browsers always send it */
	if (h[0] == '[') {   /* [v6]:port */
		len = strcspn(h + 1, "]");
		if (h[1 + len] != ']' || len >= sizeof(name))
			return false;
		memcpy(name, h + 1, len);
		name[len] = '\0';
		return inet_pton(AF_INET6, name, &a6) == 1;
	}
	len = strcspn(h, ":");
	if (len == 0 || len >= sizeof(name))
		return false;
	memcpy(name, h, len);
	name[len] = '\0';
	return inet_pton(AF_INET, name, &a4) == 1 ||
	       strcasecmp(name, "localhost") == 0 ||
	       host_listed(pp->cfg->http_allowed_hosts, name, len);
}

/* Every request: find its endpoint, check the token, build, send. */
static void serve(struct evhttp_request *req, void *arg)
{
	struct pgperf *pp = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const struct endpoint *e = NULL;

	if (!conn_admitted(pp, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Connection", "close");
		evhttp_send_error(req, 503,
				  "too many HTTP connections "
				  "(http_max_connections)");
		return;
	}
	if (!host_allowed(req, pp)) {
		evhttp_send_error(req, 421,
				  "unexpected Host (see http_allowed_hosts)");
		return;
	}

	for (size_t i = 0; path && i < ARRAY_SIZE(endpoints); i++)
		if (strcmp(path, endpoints[i].path) == 0)
			e = &endpoints[i];
	if (!e) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	if (e->needs_token && !authorized(req, pp))
		return;
	if (e->needs_analysis) {
		struct http_wait *hw = pgp_calloc(1, sizeof(*hw));

		if (!hw) {
			evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
			return;
		}
		fence_waiter_init(&hw->w);
		hw->pp = pp;
		hw->req = req;
		hw->e = e;
		list_append(&pp->http_waiting, &hw->node);
		if (!fence_wait(pp, &hw->w, http_fence_ready))
			return; /* answered when the analyzer has caught up */
		list_del(&hw->node);
		pgp_free(hw);
	}
	reply(pp, req, e);
}

bool http_start(struct pgperf *pp, char *err, size_t errlen)
{
	const struct config *cfg = pp->cfg;

	if (cfg->http_listen_port <= 0)
		return true;
	pp->http = evhttp_new(pp->base);
	if (!pp->http) {
		snprintf(err, errlen, "cannot create the HTTP server");
		return false;
	}
	evhttp_set_allowed_methods(pp->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	/* GET and HEAD only: small headers, no body, no lingering */
	evhttp_set_max_headers_size(pp->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(pp->http, HTTP_MAX_BODY);
	evhttp_set_timeout(pp->http, cfg->http_timeout);
	pp->http_conns_cap = cfg->http_max_connections;
	pp->http_conns =
		pgp_calloc((size_t)pp->http_conns_cap, sizeof(*pp->http_conns));
	if (!pp->http_conns) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	evhttp_set_gencb(pp->http, serve, pp);
	if (evhttp_bind_socket(pp->http, cfg->http_listen_addr,
			       (uint16_t)cfg->http_listen_port) != 0) {
		snprintf(err, errlen, "cannot listen for HTTP on %s:%d",
			 cfg->http_listen_addr, cfg->http_listen_port);
		return false;
	}
	log_info(
		"HTTP on %s:%d (/metrics, /queries, /findings, /report, /healthz)",
		cfg->http_listen_addr, cfg->http_listen_port);
	if (!*cfg->http_auth_token &&
	    strcmp(cfg->http_listen_addr, "127.0.0.1") != 0 &&
	    strcmp(cfg->http_listen_addr, "::1") != 0 &&
	    strcmp(cfg->http_listen_addr, "localhost") != 0)
		log_warning("HTTP listens on %s without http_auth_token: "
			    "anyone who reaches it reads statement statistics "
			    "and findings",
			    cfg->http_listen_addr);
	return true;
}

void http_stop(struct pgperf *pp)
{
	/* requests still waiting are freed with their connections below */
	while (!list_empty(&pp->http_waiting)) {
		struct http_wait *hw = list_entry(pp->http_waiting.next,
						  struct http_wait, node);

		fence_cancel(&hw->w);
		list_del(&hw->node);
		pgp_free(hw);
	}
	if (pp->http) {
		evhttp_free(pp->http);
		pp->http = NULL;
	}
	pgp_free(pp->http_conns);
	pp->http_conns = NULL;
	pp->nhttp_conns = pp->http_conns_cap = 0;
}
