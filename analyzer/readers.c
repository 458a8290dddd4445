/*
 * readers.c -- the analyzer's statistics as readers get them (SHOW
 * QUERIES, SHOW REQUESTS, /queries, /metrics, the export): copies made
 * under the analyzer's lock, sorted for display.
 */
#include "analyzer_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ana_join_tables(char *buf, size_t cap, char *const *t, int n)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%s",
					i ? "," : "", t[i]);
}

static bool fill(struct ana_query *o, const struct qstat *q, bool other)
{
	const struct histogram *h = &q->c.hist;

	memset(o, 0, sizeof(*o));
	o->fingerprint = q->fingerprint;
	o->query = pgp_strdup(other		    ? "<other>"
			      : q->parse.normalized ? q->parse.normalized
						    : "");
	if (!o->query)
		return false;
	o->kind = other ? "OTHER" : q->parse.kind ? q->parse.kind : "UNKNOWN";
	o->parsed = q->parse.parsed;
	o->read_only = q->parse.read_only;
	o->deterministic = q->parse.deterministic;
	o->calls = q->c.calls;
	o->errors = q->c.errors;
	o->rows = q->c.rows;
	o->bytes = q->c.bytes;
	o->wait_us = q->c.wait_us;
	o->total_us = h->sum;
	o->min_us = h->min;
	o->max_us = h->max;
	o->p50_us = hist_quantile(h, 0.50);
	o->p95_us = hist_quantile(h, 0.95);
	o->p99_us = hist_quantile(h, 0.99);
	o->p999_us = hist_quantile(h, 0.999);
	o->first_seen_us = q->first_seen;
	o->members = q->members;
	o->last_seen_us = q->last_seen;
	ana_join_tables(o->tables_read, sizeof(o->tables_read), q->parse.read,
			q->parse.nread);
	ana_join_tables(o->tables_written, sizeof(o->tables_written),
			q->parse.written, q->parse.nwritten);
	for (int i = 0; i < MAX_ERRS; i++) {
		memcpy(o->err[i].sqlstate, q->err[i].state, 6);
		o->err[i].n = q->err[i].n;
	}
	if (q->nsubs &&
	    (o->by = pgp_calloc((size_t)q->nsubs, sizeof(*o->by)))) {
		for (const struct sub *s = q->subs; s; s = s->next) {
			struct ana_by *b = &o->by[o->nby++];
			const char *who = s->who;

			snprintf(b->database, sizeof(b->database), "%s", who);
			who += strlen(who) + 1;
			snprintf(b->user, sizeof(b->user), "%s", who);
			who += strlen(who) + 1;
			snprintf(b->application, sizeof(b->application), "%s",
				 who);
			b->calls = s->c.calls;
			b->errors = s->c.errors;
			b->rows = s->c.rows;
			b->total_us = s->c.hist.sum;
			b->p50_us = hist_quantile(&s->c.hist, 0.50);
			b->p95_us = hist_quantile(&s->c.hist, 0.95);
			b->p99_us = hist_quantile(&s->c.hist, 0.99);
		}
	}
	for (int i = 0; i < ANA_BUCKETS; i++)
		o->le[i] = hist_count_le(h, ana_bucket_us[i]);
	return true;
}

static int by_total_desc(const void *x, const void *y)
{
	const struct ana_query *a = x, *b = y;

	return a->total_us > b->total_us ? -1 : a->total_us < b->total_us;
}

size_t analyzer_queries(struct analyzer *a, struct ana_query **out,
			struct ana_totals *totals)
{
	struct ana_query *v;
	size_t n = 0;

	*out = NULL;
	pthread_mutex_lock(&a->lock);
	if (totals) {
		*totals = a->t;
		totals->dropped = atomic_load(&a->dropped);
		totals->fingerprints = a->nfp;
	}
	v = pgp_calloc(a->nfp + 1, sizeof(*v));
	if (v) {
		for (size_t b = 0; b < a->nfp_buckets; b++)
			for (struct qstat *q = a->fp[b]; q; q = q->next)
				if (q->c.calls && fill(&v[n], q, false))
					n++;
		if (a->other.c.calls && fill(&v[n], &a->other, true))
			n++;
	}
	pthread_mutex_unlock(&a->lock);
	if (v)
		qsort(v, n, sizeof(*v), by_total_desc);
	*out = v;
	return n;
}

void ana_queries_free(struct ana_query *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pgp_free(q[i].query);
		pgp_free(q[i].by);
	}
	pgp_free(q);
}

static int by_requests_desc(const void *x, const void *y)
{
	const struct ana_route *a = x, *b = y;

	return a->requests > b->requests ? -1 : a->requests < b->requests;
}

size_t analyzer_routes(struct analyzer *a, struct ana_route **out)
{
	struct ana_route *v;
	size_t n = 0;

	pthread_mutex_lock(&a->lock);
	v = pgp_calloc(MAX_ROUTES + 1, sizeof(*v));
	for (size_t i = 0; v && i <= MAX_ROUTES; i++) {
		const struct route_ent *r = &a->routes[i];
		struct ana_route *o;

		if (!r->requests)
			continue;
		o = &v[n++];
		snprintf(o->route, sizeof(o->route), "%s", r->route);
		o->requests = r->requests;
		o->statements = r->statements;
		o->nplus1_requests = r->nplus1;
		o->statements_mean = (double)r->statements / r->requests;
		o->statements_p95 = hist_quantile(&r->stmts, 0.95);
		o->db_us = r->db.sum;
		o->db_p95_us = hist_quantile(&r->db, 0.95);
		o->db_p99_us = hist_quantile(&r->db, 0.99);
	}
	pthread_mutex_unlock(&a->lock);
	if (v)
		qsort(v, n, sizeof(*v), by_requests_desc);
	*out = v;
	return n;
}
