/*
 * analyzer_findings.c -- what the analyzer makes of its statistics beyond
 * counting: N+1 findings named on the catalog side connection, index
 * advice, cacheable_query findings, and all findings as readers get them.
 * The side-connection work runs with the analyzer's lock released.
 */
#include "analyzer_int.h"

#include "analyzer/advisor.h"
#include "analyzer/catalog.h"
#include "lib/jsonbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- naming what was found (side connection, no lock held) ---- */

static const struct sqlparse *parse_of(void *ctx, uint64_t fp)
{
	struct qstat *q = ana_fp_find(ctx, fp);

	return q ? &q->parse : NULL;
}

static bool is_id(const char *col)
{
	return strcmp(col, "id") == 0;
}

static bool ends_with_id(const char *col)
{
	size_t n = strlen(col);

	return n > 3 && strcmp(col + n - 3, "_id") == 0;
}

/*
 * Name an N+1 finding's relation: the child's filter column from its
 * parse tree, the batched form, and from the catalog the parent's column
 * (OID and attribute number from RowDescription) and the foreign keys
 * that say which way the relation goes.  Without the catalog, names
 * alone decide ("id" is the looked-up row's key, "x_id" a foreign key).
 */
static void resolve(struct analyzer *a, const struct fnd_lookup *k,
		    struct fnd_names *n, bool *retry)
{
	struct cat_relation cr;

	memset(n, 0, sizeof(*n));
	*retry = false;
	if (!sqlparse_param_column(k->child_query, k->param, &n->param,
				   n->child_table, sizeof(n->child_table),
				   n->child_column, sizeof(n->child_column)))
		return;
	n->batched = sqlparse_batched(k->child_query, n->param);
	if (k->parent_guess[0])
		snprintf(n->parent_table, sizeof(n->parent_table), "%s",
			 k->parent_guess);
	if (catalog_ready(a->catalog, k->database, NULL, pgp_now_us())) {
		char qt[300];

		sqlparse_quote_name(n->child_table, qt, sizeof(qt));
		if (catalog_relation(a->catalog, k->database, k->parent_rel,
				     k->parent_att, qt, n->child_column, &cr)) {
			n->catalog = true;
			if (cr.parent_table[0]) {
				snprintf(n->parent_table,
					 sizeof(n->parent_table), "%s",
					 cr.parent_table);
				snprintf(n->parent_column,
					 sizeof(n->parent_column), "%s",
					 cr.parent_column);
			}
			if (cr.child_fk_to_parent)
				n->direction = FND_ONE_TO_MANY;
			else if (cr.parent_fk_to_child)
				n->direction = FND_MANY_TO_ONE;
			else if (!k->parent_rel && cr.child_fk_table[0] &&
				 strcmp(cr.child_fk_table, n->parent_table) ==
					 0)
				/* suspected: the child's foreign key points
				 * at the parent's table */
				n->direction = FND_ONE_TO_MANY;
		} else {
			*retry = true;
		}
	}
	if (n->direction == FND_UNKNOWN) {
		if (is_id(n->child_column) && n->parent_column[0] &&
		    !is_id(n->parent_column))
			n->direction = FND_MANY_TO_ONE;
		else if (ends_with_id(n->child_column))
			n->direction = FND_ONE_TO_MANY;
	}
}

void ana_lookup_one(struct analyzer *a)
{
	struct fnd_lookup k;
	struct fnd_names n;
	bool got, retry;

	pthread_mutex_lock(&a->lock);
	got = findings_next_lookup(a->findings, parse_of, a, &k);
	pthread_mutex_unlock(&a->lock);
	if (!got)
		return;
	resolve(a, &k, &n, &retry);
	pthread_mutex_lock(&a->lock);
	findings_resolved(a->findings, &k, &n, retry);
	pthread_mutex_unlock(&a->lock);
	free(n.batched);
	fnd_lookup_free(&k);
}

/* ---- index advice (side connection, no lock held) ---- */

static bool stats_of(void *ctx, uint64_t fp, uint64_t *calls,
		     uint64_t *total_us)
{
	struct qstat *q = ana_fp_find(ctx, fp);

	if (!q)
		return false;
	*calls = q->c.calls;
	*total_us = q->c.hist.sum;
	return true;
}

static const char *query_of(void *ctx, uint64_t fp)
{
	struct qstat *q = ana_fp_find(ctx, fp);

	return q ? q->parse.normalized : NULL;
}

/* Writes seen to a table (as statements name it), and their rate. */
static uint64_t writes_of(void *ctx, const char *table, double *per_s)
{
	struct analyzer *a = ctx;
	uint64_t calls = 0;
	int64_t first = 0, last = 0;

	for (size_t b = 0; b < a->nfp_buckets; b++)
		for (struct qstat *q = a->fp[b]; q; q = q->next)
			for (int i = 0; i < q->parse.nwritten; i++)
				if (strcmp(q->parse.written[i], table) == 0) {
					calls += q->c.calls;
					if (!first || q->first_seen < first)
						first = q->first_seen;
					if (q->last_seen > last)
						last = q->last_seen;
					break;
				}
	*per_s = calls ? (double)calls / (last - first > 1000000
						  ? (double)(last - first) / 1e6
						  : 1.0)
		       : 0;
	return calls;
}

static uint64_t all_time_us(struct analyzer *a)
{
	uint64_t all = a->other.c.hist.sum;

	for (size_t b = 0; b < a->nfp_buckets; b++)
		for (struct qstat *q = a->fp[b]; q; q = q->next)
			all += q->c.hist.sum;
	return all;
}

/* The busiest sub's database: where a fingerprint's tables live. */
static const char *fp_database(const struct qstat *q)
{
	const struct sub *best = NULL;

	for (const struct sub *s = q->subs; s; s = s->next)
		if (!best || s->c.calls > best->c.calls)
			best = s;
	return best && best->who[0] != '?' ? best->who : NULL;
}

/*
 * A statement the planner may be shown: one SELECT that locks nothing and
 * calls no function not known to be immutable.  Planning evaluates
 * constant expressions, so anything else could run code.
 */
static bool plain_read(const struct sqlparse *p)
{
	return p->kind && strcmp(p->kind, "SELECT") == 0 && p->read_only &&
	       p->only_immutable && p->nstmts == 1;
}

/* The fingerprint that matters most and was not looked at lately. */
static bool pick_advice(struct analyzer *a, int64_t now, struct adv_job *j)
{
	uint64_t all = all_time_us(a);
	struct qstat *best = NULL;

	for (size_t b = 0; b < a->nfp_buckets; b++)
		for (struct qstat *q = a->fp[b]; q; q = q->next) {
			/* its sample is planned as the role that sent it,
			 * on its database: unknown, not planned at all */
			if (!q->sample || !q->parse.parsed ||
			    !q->sample_db[0] || q->c.calls < ADVICE_MIN_CALLS ||
			    (double)q->c.hist.sum < all * ADVICE_MIN_SHARE ||
			    (q->advised_at &&
			     now - q->advised_at < ADVICE_AGAIN_US) ||
			    !q->parse.kind ||
			    (strcmp(q->parse.kind, "SELECT") != 0 &&
			     strcmp(q->parse.kind, "UPDATE") != 0 &&
			     strcmp(q->parse.kind, "DELETE") != 0) ||
			    !catalog_ready(a->catalog, q->sample_db,
					   plain_read(&q->parse)
						   ? q->sample_user
						   : NULL,
					   now))
				continue;
			if (!best || q->c.hist.sum > best->c.hist.sum)
				best = q;
		}
	if (!best || !(j->text = strdup(best->sample)))
		return false;
	best->advised_at = now;
	j->fp = best->fingerprint;
	j->plan_ok = plain_read(&best->parse);
	snprintf(j->database, sizeof(j->database), "%s", best->sample_db);
	snprintf(j->user, sizeof(j->user), "%s", best->sample_user);
	return true;
}

void ana_advise_step(struct analyzer *a)
{
	struct adv_suggestion s[4];
	struct adv_job j;
	struct adv_check k;
	struct cat_table t;
	bool job, check;
	int n;

	memset(&j, 0, sizeof(j));
	pthread_mutex_lock(&a->lock);
	if (!a->advice) {
		pthread_mutex_unlock(&a->lock);
		return;
	}
	advisor_update(a->advisor, stats_of, a);
	check = advisor_next_check(a->advisor, pgp_wall_us(), &k);
	job = pick_advice(a, pgp_now_us(), &j);
	pthread_mutex_unlock(&a->lock);
	if (check && catalog_table(a->catalog, k.database, k.table, &t)) {
		/* has the suggested index been created? */
		for (int i = 0; i < t.nindexes; i++)
			if (advisor_covers(t.indexes[i], k.columns)) {
				pthread_mutex_lock(&a->lock);
				advisor_index_seen(a->advisor, &k, stats_of, a,
						   pgp_wall_us());
				pthread_mutex_unlock(&a->lock);
				break;
			}
	}
	if (!job)
		return;
	j.nparams = advisor_nparams(j.text);
	n = advisor_run(a->catalog, &j, a->advice_min_rows, s, 4);
	pthread_mutex_lock(&a->lock);
	advisor_record(a->advisor, j.database, j.fp, s, n, pgp_wall_us());
	a->t.advice_checked++;
	pthread_mutex_unlock(&a->lock);
	free(j.text);
}

/*
 * The fields every single-statement finding (cacheable_query, slow_query)
 * starts with, into `o` and `b` (left open after the fingerprint).
 */
static void fp_finding_begin(struct jbuf *b, struct ana_finding *o,
			     const struct qstat *q, const char *prefix,
			     enum ana_finding_kind kind, const char *severity)
{
	const char *db = fp_database(q);
	char fp[24];

	memset(o, 0, sizeof(*o));
	snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)q->fingerprint);
	snprintf(o->id, sizeof(o->id), "%s-%s", prefix, fp);
	o->kind = kind;
	o->severity = severity;
	o->fp = q->fingerprint;
	o->query = strdup(q->parse.normalized);
	o->executions = q->c.calls;
	o->last_seen_us = q->last_seen;
	ana_join_tables(o->tables, sizeof(o->tables), q->parse.read,
			q->parse.nread);
	jb_put(b, "{", 1);
	jb_kstr(b, "id", o->id);
	jb_kstr(b, "kind", ana_finding_kind_name(o->kind));
	jb_kstr(b, "severity", o->severity);
	jb_kstr(b, "database", db ? db : "");
	jb_key(b, "tables");
	jb_put(b, "[", 1);
	for (int i = 0; i < q->parse.nread; i++) {
		if (i)
			jb_put(b, ",", 1);
		jb_str(b, q->parse.read[i]);
	}
	jb_put(b, "]", 1);
	jb_kstr(b, "query", q->parse.normalized);
	jb_kstr(b, "fingerprint", fp);
}

/* Insert q into top[0..max) ordered by database time, most first. */
static void top_insert(struct qstat **top, int max, struct qstat *q)
{
	int k;

	for (k = max - 1;
	     k >= 0 && (!top[k] || top[k]->c.hist.sum < q->c.hist.sum); k--)
		if (k + 1 < max)
			top[k + 1] = top[k];
	if (k + 1 < max)
		top[k + 1] = q;
}

/*
 * With the result cache off: the hot statements it could answer (kind
 * cacheable_query), the CACHEABLE_MAX with the most database time among
 * those with CACHEABLE_MIN_CALLS calls and CACHEABLE_MIN_SHARE of the
 * time.  The hit ratio depends on how often the same values repeat, which
 * pgperf does not keep: the finding says so, and its estimated saving
 * (which ranks it among the recommendations) assumes half are hits.
 */
/* Ranks cacheable fingerprints by what a cache would have saved. */
static void top_insert_saving(struct qstat **top, int max, struct qstat *q)
{
	for (int i = 0; i < max; i++) {
		if (top[i] && top[i]->hp->repeat_us >= q->hp->repeat_us)
			continue;
		memmove(&top[i + 1], &top[i],
			(size_t)(max - i - 1) * sizeof(*top));
		top[i] = q;
		return;
	}
}

/*
 * cacheable_query: read-only, deterministic statements whose values come
 * back within the cache's TTL with no write to their tables in between
 * often enough that a cache would answer most of them (hit potential,
 * ana_note_hit_potential()).  Never the child of an N+1: batching is the fix
 * there, and its values rarely repeat anyway.
 */
static void cacheable_findings(struct analyzer *a, struct ana_finding *out,
			       size_t *n)
{
	uint64_t all = all_time_us(a);
	struct qstat *top[CACHEABLE_MAX] = {NULL};

	for (size_t b = 0; b < a->nfp_buckets; b++)
		for (struct qstat *q = a->fp[b]; q; q = q->next)
			if (q->hp && ana_sql_cacheable(&q->parse) &&
			    q->hp->repeats >= CACHEABLE_MIN_REPEATS &&
			    q->hp->repeats * 100 >=
				    q->hp->execs * CACHEABLE_MIN_HIT_PCT &&
			    (double)q->hp->repeat_us >=
				    all * CACHEABLE_MIN_SHARE &&
			    !findings_nplus1_child(a->findings, q->fingerprint))
				top_insert_saving(top, CACHEABLE_MAX, q);
	for (int k = 0; k < CACHEABLE_MAX && top[k]; k++) {
		const struct qstat *q = top[k];
		const struct hit_pot *hp = q->hp;
		struct ana_finding *o = &out[*n];
		struct jbuf b = {0};
		double share = all ? 100.0 * (double)q->c.hist.sum / all : 0;
		double hit_pct =
			100.0 * (double)hp->repeats / (double)hp->execs;
		double saved_pct =
			all ? 100.0 * (double)hp->repeat_us / all : 0;
		char rule[40], line[512];

		fp_finding_begin(&b, o, q, "cq", FND_CACHEABLE_QUERY,
				 saved_pct >= 20 ? "medium" : "low");
		o->saved_us = hp->repeat_us;
		snprintf(rule, sizeof(rule), "fingerprint:%016llx=%d",
			 (unsigned long long)q->fingerprint, a->cache_ttl_s);
		snprintf(line, sizeof(line),
			 "%.0f%% of its executions repeat values seen within "
			 "%d s with no write to its tables in between: a "
			 "result cache would answer them, saving %.1f%% of "
			 "database time (cache_mode = rules, cache_rules = "
			 "%s, redis_url)",
			 hit_pct, a->cache_ttl_s, saved_pct, rule);
		o->suggestion = strdup(line);
		jb_printf(
			&b,
			",\"evidence\":{\"calls\":%llu,\"total_ms\":%.3f,"
			"\"mean_ms\":%.3f,\"share_of_db_time_pct\":%.1f,"
			"\"executions_seen\":%llu,\"repeats_within_ttl\":%llu,"
			"\"hit_ratio_pct\":%.1f,\"ttl_s\":%d}",
			(unsigned long long)q->c.calls,
			(double)q->c.hist.sum / 1000,
			(double)q->c.hist.sum / 1000 / (double)q->c.calls,
			share, (unsigned long long)hp->execs,
			(unsigned long long)hp->repeats, hit_pct,
			a->cache_ttl_s);
		jb_printf(&b, ",\"saved_ms\":%.3f", (double)o->saved_us / 1000);
		jb_key(&b, "suggestion");
		jb_put(&b, "{", 1);
		jb_kstr(&b, "cache_rules", rule);
		jb_kstr(&b, "summary", o->suggestion);
		if (ana_finding_close(&b, o))
			(*n)++;
	}
}

static void slow_findings(struct analyzer *a, struct ana_finding *out,
			  size_t *n)
{
	uint64_t all = all_time_us(a), limit_us;
	struct qstat *top[SLOW_MAX] = {NULL};

	if (a->slow_query_ms <= 0)
		return;
	limit_us = (uint64_t)a->slow_query_ms * 1000;
	for (size_t b = 0; b < a->nfp_buckets; b++)
		for (struct qstat *q = a->fp[b]; q; q = q->next)
			if (q->c.calls >= SLOW_MIN_CALLS &&
			    hist_quantile(&q->c.hist, 0.95) >= limit_us)
				top_insert(top, SLOW_MAX, q);
	for (int k = 0; k < SLOW_MAX && top[k]; k++) {
		const struct qstat *q = top[k];
		struct ana_finding *o = &out[*n];
		struct jbuf b = {0};
		double share = all ? 100.0 * (double)q->c.hist.sum / all : 0;
		uint64_t p50 = hist_quantile(&q->c.hist, 0.50);
		uint64_t p95 = hist_quantile(&q->c.hist, 0.95);
		uint64_t p99 = hist_quantile(&q->c.hist, 0.99);
		double mean = (double)q->c.hist.sum / (double)q->c.calls;
		char line[512];

		fp_finding_begin(&b, o, q, "sl", FND_SLOW_QUERY,
				 p95 >= limit_us * 10 || share >= 25 ? "high"
				 : share >= 5			     ? "medium"
								     : "low");
		o->saved_us = mean > (double)limit_us
				      ? (uint64_t)((mean - (double)limit_us) *
						   (double)q->c.calls)
				      : 0;
		snprintf(line, sizeof(line),
			 "p95 %.1f ms (slow_query_ms = %d) over %llu calls, "
			 "%.1f%% of database time: run EXPLAIN (ANALYZE, "
			 "BUFFERS) on it and look for sequential scans of big "
			 "tables, sorts spilling to disk and rows fetched only "
			 "to be filtered out",
			 (double)p95 / 1000, a->slow_query_ms,
			 (unsigned long long)q->c.calls, share);
		o->suggestion = strdup(line);
		jb_printf(&b,
			  ",\"evidence\":{\"calls\":%llu,\"total_ms\":%.3f,"
			  "\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,"
			  "\"p99_ms\":%.3f,\"max_ms\":%.3f,"
			  "\"share_of_db_time_pct\":%.1f,"
			  "\"threshold_ms\":%d}",
			  (unsigned long long)q->c.calls,
			  (double)q->c.hist.sum / 1000, mean / 1000,
			  (double)p50 / 1000, (double)p95 / 1000,
			  (double)p99 / 1000, (double)q->c.hist.max / 1000,
			  share, a->slow_query_ms);
		jb_printf(&b, ",\"saved_ms\":%.3f", (double)o->saved_us / 1000);
		jb_key(&b, "suggestion");
		jb_put(&b, "{", 1);
		jb_kstr(&b, "summary", o->suggestion);
		if (ana_finding_close(&b, o))
			(*n)++;
	}
}

/* Is finding `f` about fingerprint `fp` (a sequential run: one of its
 * reads)? */
static bool about(const struct ana_finding *f, uint64_t fp)
{
	if (f->fp == fp)
		return true;
	for (uint32_t i = 0; i < f->nseq; i++)
		if (f->seq_fp[i] == fp)
			return true;
	return false;
}

/*
 * One finding per root cause: where an N+1 explains a fingerprint's
 * repeats, redundant_query, sequential_queries and cacheable_query
 * findings about its child are not advice of their own - batching or
 * eager loading fixes them too.  They are folded into the N+1 finding's
 * "related" list (id, kind, summary) and dropped.  Returns the new count.
 */
static size_t fold_into_nplus1(struct ana_finding *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct jbuf rel = {0};
		size_t len;
		char *json;

		if (v[i].kind != FND_N_PLUS_ONE || !v[i].json)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (k == i || !v[k].json ||
			    (v[k].kind != FND_REDUNDANT_QUERY &&
			     v[k].kind != FND_SEQUENTIAL_QUERIES &&
			     v[k].kind != FND_CACHEABLE_QUERY) ||
			    !about(&v[k], v[i].fp))
				continue;
			jb_put(&rel, rel.n ? "," : "[", 1);
			jb_put(&rel, "{", 1);
			jb_kstr(&rel, "id", v[k].id);
			jb_kstr(&rel, "kind", ana_finding_kind_name(v[k].kind));
			jb_kstr(&rel, "summary", v[k].suggestion);
			jb_put(&rel, "}", 1);
			free(v[k].json); /* dropped below */
			v[k].json = NULL;
		}
		if (!rel.n)
			continue;
		jb_put(&rel, "]", 1);
		/* the finding's JSON ends with its closing brace */
		len = strlen(v[i].json);
		json = rel.oom ? NULL : malloc(len + rel.n + 16);
		if (json && len && v[i].json[len - 1] == '}') {
			memcpy(json, v[i].json, len - 1);
			memcpy(json + len - 1, ",\"related\":", 11);
			memcpy(json + len + 10, rel.p, rel.n);
			memcpy(json + len + 10 + rel.n, "}", 2);
			free(v[i].json);
			v[i].json = json;
		} else {
			free(json);
		}
		free(rel.p);
	}
	/* drop what was folded */
	{
		size_t w = 0;

		for (size_t i = 0; i < n; i++) {
			if (!v[i].json) {
				free(v[i].query);
				free(v[i].parent_query);
				free(v[i].suggestion);
				free(v[i].ddl);
				continue;
			}
			v[w++] = v[i];
		}
		return w;
	}
}

size_t analyzer_findings(struct analyzer *a, struct ana_finding **out)
{
	size_t n;

	struct ana_finding *v;

	pthread_mutex_lock(&a->lock);
	n = findings_export(a->findings, parse_of, a, out);
	v = realloc(*out,
		    (n + advisor_count(a->advisor) + CACHEABLE_MAX + SLOW_MAX +
		     1) * sizeof(*v));
	if (v) {
		struct adv_view view = {stats_of, query_of, writes_of,
					all_time_us(a), a};

		*out = v;
		advisor_export(a->advisor, &view, v, &n);
		if (!a->cache_on)
			cacheable_findings(a, v, &n);
		slow_findings(a, v, &n);
		n = fold_into_nplus1(v, n);
		/* merged images: a finding made from a fingerprint's figures
		 * covers the processes the fingerprint ran on */
		for (size_t i = 0; i < n; i++) {
			const struct qstat *q;

			if (!v[i].members && v[i].fp &&
			    (q = ana_fp_find(a, v[i].fp)))
				v[i].members = q->members;
		}
	}
	pthread_mutex_unlock(&a->lock);
	findings_sort(*out, n);
	return n;
}
