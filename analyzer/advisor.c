/*
 * advisor.c -- index advice (see advisor.h).
 */
#include "analyzer/advisor.h"

#include "analyzer/catalog.h"
#include "lib/jsonbuf.h"
#include "analyzer/serial.h"
#include "analyzer/sqlparse.h"
#include "lib/sqlscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 16		 /* columns looked at per statement */
#define MAX_FPS 8		 /* fingerprints named per suggestion */
#define MAX_SUGGESTIONS 256	 /* kept; then new ones are not */
#define CHECK_EVERY_US 5000000LL /* looking for a suggested index */
#define MIN_CALLS_AFTER 10	 /* calls to measure after it appears */

/* ---- finding candidates ---- */

int advisor_nparams(const char *sql)
{
	struct sql_scanner s;
	struct sql_token t;
	int max = 0;

	sqlscan_init(&s, sql, strlen(sql));
	while (sqlscan_next(&s, &t))
		if (t.kind == SQLTOK_PARAM && t.len > 1) {
			int n = atoi(t.p + 1);

			if (n > max && n < 65536)
				max = n;
		}
	return max;
}

bool advisor_covers(const char *index_cols, const char *cols)
{
	size_t n = strlen(cols);

	return strncmp(index_cols, cols, n) == 0 &&
	       (index_cols[n] == '\0' || index_cols[n] == ',');
}

static bool covered(const struct cat_table *t, const char *cols)
{
	for (int i = 0; i < t->nindexes; i++)
		if (advisor_covers(t->indexes[i], cols))
			return true;
	return false;
}

/* Equality-like first (they can all lead), then ranges, then sorts. */
static int rank(char role)
{
	return role == 'r' ? 1 : role == 'o' ? 2 : 0;
}

void advisor_ddl(const char *table, const char *const *cols, int n,
		 bool concurrently, char *buf, size_t cap)
{
	size_t o = (size_t)snprintf(buf, cap, "CREATE INDEX %sON ",
				    concurrently ? "CONCURRENTLY " : "");

	if (o < cap)
		o += sqlparse_quote_name(table, buf + o, cap - o);
	for (int i = 0; i < n && o + 2 < cap; i++) {
		o += (size_t)snprintf(buf + o, cap - o, i ? ", " : " (");
		if (o < cap)
			o += sqlparse_quote_ident(cols[i], strlen(cols[i]),
						  buf + o, cap - o);
	}
	if (o + 1 < cap)
		snprintf(buf + o, cap - o, ")");
}

static double hypo_cost(struct catalog *c, const struct adv_job *j,
			const char *table, const char *const *cols, int n)
{
	char buf[512];

	advisor_ddl(table, cols, n, false, buf, sizeof(buf));
	return catalog_cost(c, j->database, j->user, j->text, j->nparams, buf);
}

/* The candidates of one table: rows, indexes, selectivity, the planner. */
static bool advise_table(struct catalog *c, const struct adv_job *j,
			 int min_rows, double cost0,
			 const struct sqlparse_col *cols, int ncols,
			 struct adv_suggestion *out)
{
	const struct sqlparse_col *cand[MAX_COLS];
	const char *pick[ADV_MAX_COLS];
	struct cat_table t;
	int n = 0, best = -1;
	double best_cost = -1;

	char qt[300];

	sqlparse_quote_name(cols[0].table, qt, sizeof(qt));
	if (!catalog_table(c, j->database, qt, &t) || !t.found ||
	    t.rows < min_rows)
		return false;
	for (int r = 0; r <= 2; r++) /* equality first, then range, sort */
		for (int i = 0; i < ncols; i++) {
			double nd;

			if (rank(cols[i].role) != r ||
			    covered(&t, cols[i].column))
				continue;
			nd = catalog_distinct(c, j->database, qt,
					      cols[i].column, t.rows);
			if (nd >= 0 && nd < ADV_MIN_DISTINCT)
				continue; /* a boolean, a status: too few */
			cand[n++] = &cols[i];
		}
	if (!n)
		return false;
	memset(out, 0, sizeof(*out));
	snprintf(out->table, sizeof(out->table), "%s", cols[0].table);
	out->rows = t.rows;
	out->cost_before = cost0;
	if (!t.hypopg || !j->plan_ok) {
		/* no planner check possible (or allowed): the strongest
		 * column */
		out->unplanned = !j->plan_ok;
		snprintf(out->columns[0], sizeof(out->columns[0]), "%s",
			 cand[0]->column);
		out->ncols = 1;
		return true;
	}
	for (int i = 0; i < n; i++) {
		double cost;

		pick[0] = cand[i]->column;
		cost = hypo_cost(c, j, out->table, pick, 1);
		if (cost >= 0 && (best < 0 || cost < best_cost)) {
			best = i;
			best_cost = cost;
		}
	}
	if (best < 0 || best_cost > cost0 * 0.5)
		return false; /* not worth an index */
	out->verified = true;
	out->ncols = 1;
	out->cost_after = best_cost;
	snprintf(out->columns[0], sizeof(out->columns[0]), "%s",
		 cand[best]->column);
	/* a second column must halve the cost again */
	for (int i = 0; i < n; i++) {
		const struct sqlparse_col *a = cand[best], *b = cand[i];
		char both[160];
		double cost;

		if (i == best)
			continue;
		if (rank(b->role) < rank(a->role)) {
			const struct sqlparse_col *x = a;

			a = b;
			b = x;
		}
		pick[0] = a->column;
		pick[1] = b->column;
		snprintf(both, sizeof(both), "%s,%s", a->column, b->column);
		if (covered(&t, both))
			continue;
		cost = hypo_cost(c, j, out->table, pick, 2);
		if (cost >= 0 && cost <= out->cost_after * 0.5) {
			out->ncols = 2;
			out->cost_after = cost;
			snprintf(out->columns[0], sizeof(out->columns[0]), "%s",
				 a->column);
			snprintf(out->columns[1], sizeof(out->columns[1]), "%s",
				 b->column);
		}
	}
	return true;
}

int advisor_run(struct catalog *c, const struct adv_job *j, int min_rows,
		struct adv_suggestion *out, int max)
{
	struct sqlparse_col cols[MAX_COLS];
	bool done[MAX_COLS] = {false};
	int ncols = sqlparse_index_columns(j->text, cols, MAX_COLS), n = 0;
	double cost0;

	if (ncols <= 0)
		return 0;
	/* the planner sees only plain reads, and only as their own role:
	 * it evaluates constant expressions, so planning runs code */
	if (j->plan_ok) {
		cost0 = catalog_cost(c, j->database, j->user, j->text,
				     j->nparams, NULL);
		if (cost0 < 0)
			return 0;
	} else {
		cost0 = -1;
	}
	/* table by table, in the order they appear */
	for (int i = 0; i < ncols && n < max; i++) {
		struct sqlparse_col same[MAX_COLS];
		int ns = 0;

		if (done[i])
			continue;
		for (int k = i; k < ncols; k++)
			if (!done[k] &&
			    strcmp(cols[k].table, cols[i].table) == 0) {
				same[ns++] = cols[k];
				done[k] = true;
			}
		if (advise_table(c, j, min_rows, cost0, same, ns, &out[n]))
			n++;
	}
	return n;
}

/* ---- suggestions kept ---- */

enum adv_state { ADV_SUGGESTED, ADV_MEASURING, ADV_KEPT, ADV_RETRACTED };

struct adv_fp {
	uint64_t fp;
	uint64_t calls0, total0; /* when the index appeared */
};

struct adv_item {
	struct adv_item *next;
	char database[64];
	struct adv_suggestion s;
	struct adv_fp fps[MAX_FPS];
	int nfps;
	int64_t first_seen_us, last_seen_us, checked_us; /* wall clock */
	enum adv_state state;
	int64_t index_seen_us;
	double mean_before_us, mean_after_us;
	uint64_t calls_after;
};

struct advisor {
	struct adv_item *list;
	size_t n;
};

struct advisor *advisor_new(void)
{
	return pgp_calloc(1, sizeof(struct advisor));
}

void advisor_reset(struct advisor *v)
{
	struct adv_item *i, *n;

	for (i = v->list; i; i = n) {
		n = i->next;
		pgp_free(i);
	}
	v->list = NULL;
	v->n = 0;
}

void advisor_free(struct advisor *v)
{
	if (!v)
		return;
	advisor_reset(v);
	pgp_free(v);
}

static void columns_csv(const struct adv_suggestion *s, char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < s->ncols && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "," : "",
				      s->columns[i]);
}

static struct adv_item *find_item(struct advisor *v, const char *database,
				  const char *table, const char *cols)
{
	for (struct adv_item *i = v->list; i; i = i->next) {
		char c[160];

		columns_csv(&i->s, c, sizeof(c));
		if (strcmp(i->database, database) == 0 &&
		    strcmp(i->s.table, table) == 0 && strcmp(c, cols) == 0)
			return i;
	}
	return NULL;
}

void advisor_record(struct advisor *v, const char *database, uint64_t fp,
		    const struct adv_suggestion *s, int n, int64_t now_us)
{
	for (int k = 0; k < n; k++) {
		char cols[160];
		struct adv_item *i;
		int f;

		columns_csv(&s[k], cols, sizeof(cols));
		if (!(i = find_item(v, database, s[k].table, cols))) {
			if (v->n >= MAX_SUGGESTIONS ||
			    !(i = pgp_calloc(1, sizeof(*i))))
				continue;
			snprintf(i->database, sizeof(i->database), "%s",
				 database);
			i->first_seen_us = now_us;
			i->next = v->list;
			v->list = i;
			v->n++;
		}
		if (i->state == ADV_SUGGESTED)
			i->s = s[k]; /* the latest costs */
		i->last_seen_us = now_us;
		for (f = 0; f < i->nfps && i->fps[f].fp != fp; f++)
			;
		if (f == i->nfps && f < MAX_FPS)
			i->fps[i->nfps++].fp = fp;
	}
}

bool advisor_next_check(struct advisor *v, int64_t now_us,
			struct adv_check *out)
{
	for (struct adv_item *i = v->list; i; i = i->next) {
		if (i->state != ADV_SUGGESTED ||
		    now_us - i->checked_us < CHECK_EVERY_US)
			continue;
		i->checked_us = now_us;
		snprintf(out->database, sizeof(out->database), "%s",
			 i->database);
		snprintf(out->table, sizeof(out->table), "%s", i->s.table);
		columns_csv(&i->s, out->columns, sizeof(out->columns));
		return true;
	}
	return false;
}

void advisor_index_seen(struct advisor *v, const struct adv_check *k,
			adv_stats_fn stats, void *ctx, int64_t now_us)
{
	struct adv_item *i = find_item(v, k->database, k->table, k->columns);
	uint64_t calls = 0, total = 0;

	if (!i || i->state != ADV_SUGGESTED)
		return;
	i->state = ADV_MEASURING;
	i->index_seen_us = now_us;
	for (int f = 0; f < i->nfps; f++) {
		uint64_t c = 0, t = 0;

		(void)stats(ctx, i->fps[f].fp, &c, &t);
		i->fps[f].calls0 = c;
		i->fps[f].total0 = t;
		calls += c;
		total += t;
	}
	i->mean_before_us = calls ? (double)total / calls : 0;
}

void advisor_update(struct advisor *v, adv_stats_fn stats, void *ctx)
{
	for (struct adv_item *i = v->list; i; i = i->next) {
		uint64_t calls = 0, total = 0;

		if (i->state != ADV_MEASURING && i->state != ADV_KEPT &&
		    i->state != ADV_RETRACTED)
			continue;
		for (int f = 0; f < i->nfps; f++) {
			uint64_t c = 0, t = 0;

			if (!stats(ctx, i->fps[f].fp, &c, &t) ||
			    c < i->fps[f].calls0 || t < i->fps[f].total0)
				continue; /* statistics were reset */
			calls += c - i->fps[f].calls0;
			total += t - i->fps[f].total0;
		}
		i->calls_after = calls;
		if (calls < MIN_CALLS_AFTER)
			continue;
		i->mean_after_us = (double)total / calls;
		/* kept when it made them at least 10% faster */
		i->state = i->mean_after_us <= i->mean_before_us * 0.9
				   ? ADV_KEPT
				   : ADV_RETRACTED;
	}
}

size_t advisor_count(const struct advisor *v)
{
	return v->n;
}

static const char *state_name(enum adv_state s, bool verified)
{
	switch (s) {
	case ADV_SUGGESTED:
		return verified ? "suggested" : "unverified";
	case ADV_MEASURING:
		return "measuring";
	case ADV_KEPT:
		return "kept";
	case ADV_RETRACTED:
		return "retracted";
	}
	return "?";
}

static void export_one(struct adv_item *i, const struct adv_view *view,
		       struct ana_finding *o)
{
	adv_stats_fn stats = view->stats;
	const char *(*query_of)(void *, uint64_t) = view->query_of;
	uint64_t all_us = view->all_us, writes;
	void *ctx = view->ctx;
	double wps = 0;
	struct jbuf b = {0};
	char dd[512], t[64], line[1024];
	const char *pick[ADV_MAX_COLS];
	double share = 0, drop = 0;
	uint64_t fp_total = 0, fp_calls = 0;
	const char *state = state_name(i->state, i->s.verified);

	for (int k = 0; k < i->s.ncols; k++)
		pick[k] = i->s.columns[k];
	advisor_ddl(i->s.table, pick, i->s.ncols, true, dd, sizeof(dd));
	for (int f = 0; f < i->nfps; f++) {
		uint64_t c = 0, tt = 0;

		if (stats(ctx, i->fps[f].fp, &c, &tt)) {
			fp_total += tt;
			fp_calls += c;
		}
	}
	share = all_us ? 100.0 * (double)fp_total / (double)all_us : 0;
	writes = view->writes_of(ctx, i->s.table, &wps);
	if (i->s.verified && i->s.cost_before > 0)
		drop = 100.0 * (1 - i->s.cost_after / i->s.cost_before);
	memset(o, 0, sizeof(*o));
	snprintf(o->id, sizeof(o->id), "ix-%016llx",
		 (unsigned long long)pgp_hash_bytes(dd, strlen(dd)));
	o->kind = FND_MISSING_INDEX;
	o->severity = i->state == ADV_RETRACTED ? "low"
		      : share >= 20		? "high"
						: "medium";
	o->proven = i->s.verified;
	o->query = strdup(i->nfps && query_of(ctx, i->fps[0].fp)
				  ? query_of(ctx, i->fps[0].fp)
				  : "?");
	snprintf(o->tables, sizeof(o->tables), "%s", i->s.table);
	o->requests = 0;
	o->executions = fp_calls;
	o->saved_us =
		i->s.verified ? (uint64_t)((double)fp_total * drop / 100) : 0;
	o->last_seen_us = i->last_seen_us;
	o->status = state;
	o->ddl = strdup(dd);
	if (i->state == ADV_KEPT || i->state == ADV_RETRACTED) {
		o->before_ms = i->mean_before_us / 1000;
		o->after_ms = i->mean_after_us / 1000;
	}

	jb_put(&b, "{", 1);
	jb_kstr(&b, "id", o->id);
	jb_kstr(&b, "kind", ana_finding_kind_name(o->kind));
	jb_kstr(&b, "severity", o->severity);
	jb_kstr(&b, "status", state);
	jb_kstr(&b, "database", i->database);
	jb_key(&b, "tables");
	jb_put(&b, "[", 1);
	jb_str(&b, i->s.table);
	jb_put(&b, "]", 1);
	jb_kstr(&b, "table", i->s.table);
	jb_key(&b, "columns");
	jb_put(&b, "[", 1);
	for (int k = 0; k < i->s.ncols; k++) {
		if (k)
			jb_put(&b, ",", 1);
		jb_str(&b, i->s.columns[k]);
	}
	jb_put(&b, "]", 1);
	jb_kstr(&b, "ddl", dd);
	jb_kstr(&b, "query", o->query);
	jb_key(&b, "verified");
	jb_put(&b, i->s.verified ? "true" : "false", i->s.verified ? 4 : 5);
	jb_key(&b, "evidence");
	jb_put(&b, "{", 1);
	if (i->s.verified)
		jb_printf(&b,
			  "\"cost_before\":%.2f,\"cost_after\":%.2f,"
			  "\"cost_drop_pct\":%.1f,",
			  i->s.cost_before, i->s.cost_after, drop);
	if (i->s.unplanned) {
		jb_kstr(&b, "not_planned",
			"not a plain read: pgperf asks the planner only about "
			"single SELECTs that lock nothing and call no function "
			"not known to be immutable");
		jb_put(&b, ",", 1);
	}
	jb_printf(&b,
		  "\"table_rows\":%.0f,\"share_of_db_time_pct\":%.1f,"
		  "\"table_writes\":%llu,\"table_writes_per_s\":%.2f",
		  i->s.rows, share, (unsigned long long)writes, wps);
	jb_key(&b, "fingerprints");
	jb_put(&b, "[", 1);
	for (int f = 0; f < i->nfps; f++) {
		uint64_t c = 0, tt = 0;
		const char *q = query_of(ctx, i->fps[f].fp);

		(void)stats(ctx, i->fps[f].fp, &c, &tt);
		if (f)
			jb_put(&b, ",", 1);
		snprintf(t, sizeof(t), "%016llx",
			 (unsigned long long)i->fps[f].fp);
		jb_put(&b, "{", 1);
		jb_kstr(&b, "fingerprint", t);
		jb_kstr(&b, "query", q ? q : "?");
		jb_printf(&b,
			  ",\"calls\":%llu,\"total_ms\":%.3f,"
			  "\"share_pct\":%.1f}",
			  (unsigned long long)c, (double)tt / 1000,
			  all_us ? 100.0 * (double)tt / (double)all_us : 0);
	}
	jb_put(&b, "]", 1);
	jb_time(i->first_seen_us, t, sizeof(t));
	jb_kstr(&b, "first_seen", t);
	jb_put(&b, "}", 1);
	jb_key(&b, "after");
	if (i->state == ADV_SUGGESTED) {
		jb_put(&b, "null", 4);
	} else {
		jb_time(i->index_seen_us, t, sizeof(t));
		jb_put(&b, "{", 1);
		jb_kstr(&b, "index_seen_at", t);
		jb_printf(&b, ",\"mean_ms_before\":%.3f,\"calls_after\":%llu",
			  i->mean_before_us / 1000,
			  (unsigned long long)i->calls_after);
		if (i->state != ADV_MEASURING)
			jb_printf(&b,
				  ",\"mean_ms_after\":%.3f,"
				  "\"improvement\":%.2f",
				  i->mean_after_us / 1000,
				  i->mean_after_us > 0
					  ? i->mean_before_us / i->mean_after_us
					  : 0);
		jb_put(&b, "}", 1);
	}
	if (i->state == ADV_KEPT || i->state == ADV_RETRACTED)
		snprintf(line, sizeof(line),
			 "%s %s: the index made its queries %.1fx as fast "
			 "(%.3f ms -> %.3f ms over %llu calls)%s",
			 i->state == ADV_KEPT ? "kept" : "retracted", dd,
			 i->mean_after_us > 0
				 ? i->mean_before_us / i->mean_after_us
				 : 0,
			 i->mean_before_us / 1000, i->mean_after_us / 1000,
			 (unsigned long long)i->calls_after,
			 i->state == ADV_RETRACTED
				 ? "; it did not help: consider dropping it"
				 : "");
	else if (i->s.verified) {
		char w[128];

		if (writes)
			snprintf(
				w, sizeof(w),
				"the table takes %.2f writes/s through pgperf, "
				"each of which will also update the index",
				wps);
		else
			snprintf(w, sizeof(w),
				 "no writes to the table seen through pgperf");
		snprintf(line, sizeof(line),
			 "%s; -- the planner's cost drops %.0f%% (%.1f -> "
			 "%.1f) for queries taking %.1f%% of database time; "
			 "%s",
			 dd, drop, i->s.cost_before, i->s.cost_after, share, w);
	} else if (i->s.unplanned)
		snprintf(line, sizeof(line),
			 "%s; -- unverified: the statement is not a plain "
			 "read, so pgperf did not ask the planner; compare "
			 "EXPLAIN with the index on a copy of the table",
			 dd);
	else
		snprintf(line, sizeof(line),
			 "%s; -- unverified: install HypoPG (Debian: "
			 "postgresql-15-hypopg) and CREATE EXTENSION hypopg so "
			 "that pgperf can ask the planner, or compare EXPLAIN "
			 "with the index on a copy of the table",
			 dd);
	jb_key(&b, "suggestion");
	jb_put(&b, "{", 1);
	jb_kstr(&b, "ddl", dd);
	jb_kstr(&b, "summary", line);
	jb_put(&b, "}}", 2);
	o->suggestion = strdup(line);
	o->json = b.oom ? NULL : b.p;
	if (b.oom)
		free(b.p);
}

void advisor_export(struct advisor *v, const struct adv_view *view,
		    struct ana_finding *out, size_t *n)
{
	for (struct adv_item *i = v->list; i; i = i->next) {
		struct ana_finding *o = &out[*n];

		export_one(i, view, o);
		if (!o->json || !o->query || !o->suggestion) {
			free(o->json);
			free(o->query);
			free(o->suggestion);
			free(o->ddl);
			continue;
		}
		(*n)++;
	}
}

/* ---- the state file ---- */

static void ser_double(struct jbuf *b, double d)
{
	uint64_t v;

	memcpy(&v, &d, sizeof(v));
	ser_u64(b, v);
}

static double srd_double(struct srd *r)
{
	uint64_t v = srd_u64(r);
	double d;

	memcpy(&d, &v, sizeof(d));
	return d == d ? d : 0; /* no NaN */
}

void advisor_save(const struct advisor *v, struct jbuf *b)
{
	ser_u32(b, (uint32_t)v->n);
	for (const struct adv_item *i = v->list; i; i = i->next) {
		ser_str(b, i->database);
		ser_str(b, i->s.table);
		ser_u8(b, (uint8_t)i->s.ncols);
		for (int k = 0; k < i->s.ncols; k++)
			ser_str(b, i->s.columns[k]);
		/* 0 unverified, 1 verified, 2 not planned (not a read) */
		ser_u8(b, i->s.verified ? 1 : i->s.unplanned ? 2 : 0);
		ser_double(b, i->s.cost_before);
		ser_double(b, i->s.cost_after);
		ser_double(b, i->s.rows);
		ser_u8(b, (uint8_t)i->nfps);
		for (int k = 0; k < i->nfps; k++) {
			ser_u64(b, i->fps[k].fp);
			ser_u64(b, i->fps[k].calls0);
			ser_u64(b, i->fps[k].total0);
		}
		ser_u64(b, (uint64_t)i->first_seen_us);
		ser_u64(b, (uint64_t)i->last_seen_us);
		ser_u64(b, (uint64_t)i->checked_us);
		ser_u8(b, (uint8_t)i->state);
		ser_u64(b, (uint64_t)i->index_seen_us);
		ser_double(b, i->mean_before_us);
		ser_double(b, i->mean_after_us);
		ser_u64(b, i->calls_after);
	}
}

bool advisor_load(struct advisor *v, struct srd *r)
{
	uint32_t count = srd_u32(r);

	for (uint32_t n = 0; n < count && !r->bad; n++) {
		struct adv_item *i = pgp_calloc(1, sizeof(*i)), *e;
		uint8_t st;

		if (!i) {
			r->bad = true;
			break;
		}
		srd_str(r, i->database, sizeof(i->database));
		srd_str(r, i->s.table, sizeof(i->s.table));
		i->s.ncols = srd_u8(r);
		if (i->s.ncols > ADV_MAX_COLS)
			r->bad = true;
		for (int k = 0; k < i->s.ncols && !r->bad; k++)
			srd_str(r, i->s.columns[k], sizeof(i->s.columns[k]));
		st = srd_u8(r);
		i->s.verified = st == 1;
		i->s.unplanned = st == 2;
		i->s.cost_before = srd_double(r);
		i->s.cost_after = srd_double(r);
		i->s.rows = srd_double(r);
		i->nfps = srd_u8(r);
		if (i->nfps > MAX_FPS)
			r->bad = true;
		for (int k = 0; k < i->nfps && !r->bad; k++) {
			i->fps[k].fp = srd_u64(r);
			i->fps[k].calls0 = srd_u64(r);
			i->fps[k].total0 = srd_u64(r);
		}
		i->first_seen_us = (int64_t)srd_u64(r);
		i->last_seen_us = (int64_t)srd_u64(r);
		i->checked_us = (int64_t)srd_u64(r);
		st = srd_u8(r);
		i->state = st == ADV_MEASURING	 ? ADV_MEASURING
			   : st == ADV_KEPT	 ? ADV_KEPT
			   : st == ADV_RETRACTED ? ADV_RETRACTED
						 : ADV_SUGGESTED;
		i->index_seen_us = (int64_t)srd_u64(r);
		i->mean_before_us = srd_double(r);
		i->mean_after_us = srd_double(r);
		i->calls_after = srd_u64(r);
		if (r->bad || !i->s.table[0] || !i->s.ncols) {
			r->bad = true;
			pgp_free(i);
			break;
		}
		for (e = v->list; e; e = e->next)
			if (strcmp(e->database, i->database) == 0 &&
			    strcmp(e->s.table, i->s.table) == 0 &&
			    e->s.ncols == i->s.ncols &&
			    strcmp(e->s.columns[0], i->s.columns[0]) == 0)
				break;
		if (e || v->n >= MAX_SUGGESTIONS) {
			pgp_free(i);
			continue;
		}
		i->next = v->list;
		v->list = i;
		v->n++;
	}
	return !r->bad;
}
