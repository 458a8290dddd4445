/*
 * findings.c -- de-duplicated findings and how they are explained (see
 * findings.h).
 */
#include "analyzer/findings.h"

#include "lib/jsonbuf.h"
#include "analyzer/serial.h"
#include "analyzer/sqlparse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 4

enum res_state { RES_PENDING, RES_BUSY, RES_DONE };

struct finding {
	struct finding *next;
	enum req_kind kind;
	uint64_t parent_fp, child_fp;
	char database[64];
	uint64_t requests, executions, distinct, matched;
	uint32_t max_repeats;
	uint64_t total_us, saved_us;
	bool proven;
	int param;
	uint32_t parent_rel;
	int16_t parent_att;
	uint64_t seq_fp[REQ_SEQ_MAX];
	uint32_t nseq;
	char routes[MAX_ROUTES][ANA_ROUTE_MAX];
	uint32_t nroutes;
	bool more_routes;
	int64_t first_seen_us, last_seen_us;
	enum res_state state;
	int64_t retry_at; /* monotonic */
	bool named;
	struct fnd_names names;
	uint64_t members; /* merged images: the processes it was seen on */
};

struct findings {
	struct finding *list;
	size_t n;
};

struct findings *findings_new(void)
{
	return pgp_calloc(1, sizeof(struct findings));
}

static void finding_free(struct finding *f)
{
	free(f->names.batched);
	pgp_free(f);
}

void findings_reset(struct findings *fs)
{
	struct finding *f, *n;

	for (f = fs->list; f; f = n) {
		n = f->next;
		finding_free(f);
	}
	fs->list = NULL;
	fs->n = 0;
}

void findings_free(struct findings *fs)
{
	if (!fs)
		return;
	findings_reset(fs);
	pgp_free(fs);
}

/* When full, the finding that saved the least goes. */
static void drop_least(struct findings *fs)
{
	struct finding **least = NULL;

	for (struct finding **pp = &fs->list; *pp; pp = &(*pp)->next)
		if (!least || (*pp)->saved_us < (*least)->saved_us)
			least = pp;
	if (least) {
		struct finding *f = *least;

		*least = f->next;
		finding_free(f);
		fs->n--;
	}
}

static void add_route(struct finding *f, const char *route)
{
	if (!route[0])
		return;
	for (uint32_t i = 0; i < f->nroutes; i++)
		if (strcmp(f->routes[i], route) == 0)
			return;
	if (f->nroutes < MAX_ROUTES)
		snprintf(f->routes[f->nroutes++], ANA_ROUTE_MAX, "%s", route);
	else
		f->more_routes = true;
}

void findings_add(struct findings *fs, const struct req_finding *r,
		  const char *database, const char *route, int64_t now_us)
{
	struct finding *f;

	for (f = fs->list; f; f = f->next)
		if (f->kind == r->kind && f->parent_fp == r->parent_fp &&
		    f->child_fp == r->child_fp &&
		    strcmp(f->database, database) == 0)
			break;
	if (!f) {
		if (fs->n >= FINDINGS_MAX)
			drop_least(fs);
		if (!(f = pgp_calloc(1, sizeof(*f))))
			return;
		f->kind = r->kind;
		f->parent_fp = r->parent_fp;
		f->child_fp = r->child_fp;
		snprintf(f->database, sizeof(f->database), "%s", database);
		memcpy(f->seq_fp, r->seq_fp, sizeof(f->seq_fp));
		f->nseq = r->nseq;
		f->first_seen_us = now_us;
		f->next = fs->list;
		fs->list = f;
		fs->n++;
	}
	f->requests++;
	f->executions += r->repeats;
	f->distinct += r->distinct;
	if (r->repeats > f->max_repeats)
		f->max_repeats = r->repeats;
	f->total_us += r->total_us;
	f->saved_us += r->saved_us;
	f->last_seen_us = now_us;
	add_route(f, route);
	if (r->kind == REQ_NPLUS1 && r->proven) {
		f->matched += r->matched;
		if (!f->proven || f->parent_rel != r->parent_rel ||
		    f->parent_att != r->parent_att || f->param != r->param) {
			/* first proof (or a different one): name it again */
			f->proven = true;
			f->param = r->param;
			f->parent_rel = r->parent_rel;
			f->parent_att = r->parent_att;
			if (f->state == RES_DONE)
				f->state = RES_PENDING;
			f->retry_at = 0;
		}
	}
}

bool findings_nplus1_child(const struct findings *fs, uint64_t fp)
{
	for (const struct finding *f = fs->list; f; f = f->next)
		if (f->kind == REQ_NPLUS1 && f->child_fp == fp)
			return true;
	return false;
}

bool findings_next_lookup(struct findings *fs,
			  const struct sqlparse *(*parse_of)(void *ctx,
							     uint64_t fp),
			  void *ctx, struct fnd_lookup *out)
{
	int64_t now = pgp_now_us();

	for (struct finding *f = fs->list; f; f = f->next) {
		const struct sqlparse *p;

		if (f->kind != REQ_NPLUS1 || f->state != RES_PENDING ||
		    now < f->retry_at)
			continue;
		p = parse_of(ctx, f->child_fp);
		if (!p || !p->normalized || !p->parsed) {
			f->state = RES_DONE; /* nothing to learn from it */
			continue;
		}
		memset(out, 0, sizeof(*out));
		if (!(out->child_query = strdup(p->normalized)))
			return false;
		out->parent_fp = f->parent_fp;
		out->child_fp = f->child_fp;
		p = parse_of(ctx, f->parent_fp);
		if (p && p->nread)
			snprintf(out->parent_guess, sizeof(out->parent_guess),
				 "%s", p->read[0]);
		snprintf(out->database, sizeof(out->database), "%s",
			 f->database);
		out->param = f->proven ? f->param : 0;
		out->parent_rel = f->proven ? f->parent_rel : 0;
		out->parent_att = f->proven ? f->parent_att : 0;
		f->state = RES_BUSY;
		return true;
	}
	return false;
}

void findings_resolved(struct findings *fs, const struct fnd_lookup *k,
		       struct fnd_names *names, bool retry)
{
	for (struct finding *f = fs->list; f; f = f->next) {
		if (f->kind != REQ_NPLUS1 || f->parent_fp != k->parent_fp ||
		    f->child_fp != k->child_fp ||
		    strcmp(f->database, k->database) != 0)
			continue;
		if (f->state == RES_BUSY) {
			free(f->names.batched);
			f->names = *names;
			names->batched = NULL;
			f->named = true;
			f->state = retry ? RES_PENDING : RES_DONE;
			f->retry_at = retry ? pgp_now_us() + 10 * 1000000LL : 0;
		}
		return;
	}
}

void fnd_lookup_free(struct fnd_lookup *k)
{
	free(k->child_query);
	k->child_query = NULL;
}

/* ---- names an ORM would use ---- */

static const char *unqualified(const char *table)
{
	const char *dot = strrchr(table, '.');

	return dot ? dot + 1 : table;
}

/* "categories" -> "category", "addresses" -> "address", "items" ->
 * "item"; in place. */
static void singular(char *w)
{
	size_t n = strlen(w);

	if (n > 3 && strcmp(w + n - 3, "ies") == 0)
		strcpy(w + n - 3, "y");
	else if (n > 4 && (strcmp(w + n - 4, "sses") == 0 ||
			   strcmp(w + n - 4, "ches") == 0 ||
			   strcmp(w + n - 4, "shes") == 0))
		w[n - 2] = '\0';
	else if (n > 3 && strcmp(w + n - 3, "xes") == 0)
		w[n - 2] = '\0';
	else if (n > 1 && w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != 'u')
		w[n - 1] = '\0';
}

/* The length of a Django-style "app_" prefix both tables share, or 0. */
static size_t common_prefix(const char *a, const char *b)
{
	const char *us = strchr(a, '_');
	size_t n;

	if (!us)
		return 0;
	n = (size_t)(us - a) + 1;
	if (strncmp(a, b, n) != 0 || !a[n] || !b[n] || strchr(a + n, '_') ||
	    strchr(b + n, '_'))
		return 0;
	return n;
}

/* The bare name of a table: schema and shared prefix removed. */
static void bare(const char *table, size_t strip, char *buf, size_t cap)
{
	const char *t = unqualified(table);

	snprintf(buf, cap, "%s", strlen(t) > strip ? t + strip : t);
}

void fnd_class_name(const char *table, size_t strip, char *buf, size_t cap)
{
	char w[128];
	size_t o = 0;
	bool up = true;

	bare(table, strip, w, sizeof(w));
	singular(w);
	for (const char *p = w; *p && o + 1 < cap; p++) {
		if (*p == '_') {
			up = true;
			continue;
		}
		buf[o++] = up ? (char)toupper((unsigned char)*p) : *p;
		up = false;
	}
	buf[o] = '\0';
}

/* "customer_id" -> "customer"; a column not ending in _id stays. */
static void attribute_of_fk(const char *column, char *buf, size_t cap)
{
	size_t n = strlen(column);

	if (n > 3 && strcmp(column + n - 3, "_id") == 0)
		n -= 3;
	snprintf(buf, cap, "%.*s", (int)n, column);
}

void fnd_hints(const struct fnd_names *n, char *sqlalchemy, char *django,
	       char *rails, size_t cap)
{
	size_t strip = common_prefix(unqualified(n->parent_table),
				     unqualified(n->child_table));
	char cls[128], child[128], model[128], attr[64];
	size_t o = 0;

	fnd_class_name(n->parent_table, strip, cls, sizeof(cls));
	bare(n->child_table, strip, child, sizeof(child));
	/* Django's default reverse accessor: the model's name, lower case,
	 * with "_set" */
	snprintf(model, sizeof(model), "%s", child);
	singular(model);
	for (size_t i = 0; model[i]; i++)
		if (model[i] != '_')
			model[o++] = model[i];
	model[o] = '\0';
	switch (n->direction) {
	case FND_ONE_TO_MANY:
		snprintf(sqlalchemy, cap, "selectinload(%s.%s)", cls, child);
		snprintf(django, cap, "%s.objects.prefetch_related('%s_set')",
			 cls, model);
		snprintf(rails, cap, "%s.includes(:%s)", cls, child);
		break;
	case FND_MANY_TO_ONE:
		attribute_of_fk(n->parent_column, attr, sizeof(attr));
		snprintf(sqlalchemy, cap, "joinedload(%s.%s)", cls, attr);
		snprintf(django, cap, "%s.objects.select_related('%s')", cls,
			 attr);
		snprintf(rails, cap, "%s.includes(:%s)", cls, attr);
		break;
	default:
		snprintf(sqlalchemy, cap,
			 "selectinload() or joinedload() on the relationship");
		snprintf(
			django, cap,
			"prefetch_related() or select_related() on the relation");
		snprintf(rails, cap, "includes() on the association");
		break;
	}
}

/* ---- export ---- */

const char *ana_finding_kind_name(enum ana_finding_kind k)
{
	static const char *const names[FND_KINDS] = {
		[FND_N_PLUS_ONE] = "n_plus_one",
		[FND_REDUNDANT_QUERY] = "redundant_query",
		[FND_SEQUENTIAL_QUERIES] = "sequential_queries",
		[FND_MISSING_INDEX] = "missing_index",
		[FND_CACHEABLE_QUERY] = "cacheable_query",
		[FND_SLOW_QUERY] = "slow_query",
		[FND_POOLING_HAZARD] = "pooling_hazard",
		[FND_POOL_SATURATION] = "pool_saturation",
	};

	return (unsigned)k < FND_KINDS ? names[k] : "unknown";
}

/* A request finding's kind as readers know it. */
static enum ana_finding_kind kind_of(enum req_kind k)
{
	switch (k) {
	case REQ_NPLUS1:
		return FND_N_PLUS_ONE;
	case REQ_REDUNDANT:
		return FND_REDUNDANT_QUERY;
	case REQ_SEQUENTIAL:
		return FND_SEQUENTIAL_QUERIES;
	}
	return FND_N_PLUS_ONE;
}

static const char *severity_of(const struct finding *f)
{
	switch (f->kind) {
	case REQ_NPLUS1:
		return f->proven ? "high" : "medium";
	case REQ_REDUNDANT:
		return f->max_repeats >= 10 ? "medium" : "low";
	case REQ_SEQUENTIAL:
		return f->saved_us / (f->requests ? f->requests : 1) >= 100000
			       ? "medium"
			       : "low";
	}
	return "low";
}

/* Append a statement's tables to a comma-separated list, each once. */
static void add_tables(char *buf, size_t cap, const struct sqlparse *p)
{
	size_t off = strlen(buf);

	for (int i = 0; p && i < p->nread && off < cap; i++) {
		char probe[160], have[300];

		snprintf(probe, sizeof(probe), ",%s,", p->read[i]);
		snprintf(have, sizeof(have), ",%s,", buf);
		if (strstr(have, probe))
			continue;
		off += (size_t)snprintf(buf + off, cap - off, "%s%s",
					off ? "," : "", p->read[i]);
	}
}

static void json_list(struct jbuf *b, const char *key, const char *csv)
{
	const char *p = csv;

	jb_key(b, key);
	jb_put(b, "[", 1);
	while (*p) {
		const char *e = strchr(p, ',');
		char item[160];
		size_t n = e ? (size_t)(e - p) : strlen(p);

		snprintf(item, sizeof(item), "%.*s", (int)n, p);
		if (p != csv)
			jb_put(b, ",", 1);
		jb_str(b, item);
		p += n + (e ? 1 : 0);
	}
	jb_put(b, "]", 1);
}

static void relation_text(const struct finding *f, char *buf, size_t cap)
{
	const struct fnd_names *n = &f->names;

	buf[0] = '\0';
	if (!f->named || !n->child_column[0])
		return;
	if (f->proven && n->parent_column[0])
		snprintf(buf, cap, "%s.%s -> %s.%s",
			 unqualified(n->parent_table), n->parent_column,
			 unqualified(n->child_table), n->child_column);
}

static void export_one(const struct finding *f, const struct sqlparse *pp,
		       const struct sqlparse *cp,
		       const struct sqlparse *(*parse_of)(void *, uint64_t),
		       void *ctx, struct ana_finding *o)
{
	struct jbuf b = {0};
	char t[64], sa[256] = "", dj[256] = "", rb[256] = "";
	double mean = f->requests ? (double)f->executions / f->requests : 0;
	const char *sev = severity_of(f);

	snprintf(
		o->id, sizeof(o->id), "%s-%016llx",
		f->kind == REQ_NPLUS1	   ? "n1"
		: f->kind == REQ_REDUNDANT ? "rq"
					   : "sq",
		(unsigned long long)pgp_mix64(f->parent_fp * 31 + f->child_fp));
	o->kind = kind_of(f->kind);
	o->severity = sev;
	o->proven = f->proven;
	o->fp = f->child_fp;
	for (uint32_t i = 0; i < f->nseq && i < ARRAY_SIZE(o->seq_fp); i++)
		o->seq_fp[o->nseq++] = f->seq_fp[i];
	o->query = strdup(cp && cp->normalized ? cp->normalized : "?");
	if (f->kind == REQ_NPLUS1 || f->kind == REQ_SEQUENTIAL)
		o->parent_query =
			strdup(pp && pp->normalized ? pp->normalized : "?");
	if (f->kind != REQ_REDUNDANT)
		add_tables(o->tables, sizeof(o->tables), pp);
	add_tables(o->tables, sizeof(o->tables), cp);
	relation_text(f, o->relation, sizeof(o->relation));
	for (uint32_t i = 0; i < f->nroutes; i++) {
		size_t off = strlen(o->routes);

		snprintf(o->routes + off, sizeof(o->routes) - off, "%s%s",
			 i ? "," : "", f->routes[i]);
	}
	o->requests = f->requests;
	o->executions = f->executions;
	o->max_repeats = f->max_repeats;
	o->mean_repeats = mean;
	o->saved_us = f->saved_us;
	o->last_seen_us = f->last_seen_us;
	o->members = f->members;
	if (f->kind == REQ_NPLUS1)
		o->status = f->proven ? "proven" : "suspected";

	jb_put(&b, "{", 1);
	jb_kstr(&b, "id", o->id);
	jb_kstr(&b, "kind", ana_finding_kind_name(o->kind));
	jb_kstr(&b, "severity", sev);
	if (f->kind == REQ_NPLUS1)
		jb_kstr(&b, "status", f->proven ? "proven" : "suspected");
	jb_kstr(&b, "database", f->database);
	json_list(&b, "tables", o->tables);
	jb_kstr(&b, "query", o->query);
	snprintf(t, sizeof(t), "%016llx", (unsigned long long)f->child_fp);
	jb_kstr(&b, "fingerprint", t);
	if (o->parent_query) {
		jb_kstr(&b, "parent_query", o->parent_query);
		snprintf(t, sizeof(t), "%016llx",
			 (unsigned long long)f->parent_fp);
		jb_kstr(&b, "parent_fingerprint", t);
	}
	if (f->kind == REQ_SEQUENTIAL) {
		jb_key(&b, "queries");
		jb_put(&b, "[", 1);
		for (uint32_t i = 0; i < f->nseq; i++) {
			const struct sqlparse *q = parse_of(ctx, f->seq_fp[i]);

			if (i)
				jb_put(&b, ",", 1);
			jb_str(&b, q && q->normalized ? q->normalized : "?");
		}
		jb_put(&b, "]", 1);
	}
	if (f->kind == REQ_NPLUS1) {
		const struct fnd_names *n = &f->names;

		jb_key(&b, "relation");
		if (f->named && n->child_column[0]) {
			char col[256];

			jb_put(&b, "{", 1);
			if (f->proven && n->parent_column[0]) {
				snprintf(col, sizeof(col), "%s.%s",
					 unqualified(n->parent_table),
					 n->parent_column);
				jb_kstr(&b, "parent", col);
			}
			snprintf(col, sizeof(col), "%s.%s",
				 unqualified(n->child_table), n->child_column);
			jb_kstr(&b, "child", col);
			jb_kstr(&b, "type",
				n->direction == FND_ONE_TO_MANY ? "one_to_many"
				: n->direction == FND_MANY_TO_ONE
					? "many_to_one"
					: "unknown");
			jb_key(&b, "from_catalog");
			jb_put(&b, n->catalog ? "true" : "false",
			       n->catalog ? 4 : 5);
			if (o->relation[0])
				jb_kstr(&b, "text", o->relation);
			jb_put(&b, "}", 1);
		} else {
			jb_put(&b, "null", 4);
		}
	}
	jb_key(&b, "evidence");
	jb_put(&b, "{", 1);
	jb_printf(&b, "\"requests\":%llu", (unsigned long long)f->requests);
	jb_printf(&b, ",\"executions\":%llu",
		  (unsigned long long)f->executions);
	jb_printf(&b, ",\"mean_repeats\":%.1f,\"max_repeats\":%u", mean,
		  f->max_repeats);
	if (f->kind == REQ_NPLUS1)
		jb_printf(&b, ",\"matched_values\":%llu",
			  (unsigned long long)f->matched);
	jb_printf(&b, ",\"database_time_ms\":%.3f", (double)f->total_us / 1000);
	json_list(&b, "routes", o->routes);
	jb_time(f->first_seen_us, t, sizeof(t));
	jb_kstr(&b, "first_seen", t);
	jb_time(f->last_seen_us, t, sizeof(t));
	jb_kstr(&b, "last_seen", t);
	jb_put(&b, "}", 1);
	jb_printf(&b, ",\"saved_ms\":%.3f", (double)f->saved_us / 1000);
	jb_printf(&b, ",\"saved_ms_per_request\":%.3f",
		  f->requests ? (double)f->saved_us / 1000 / f->requests : 0);

	/* the suggestion, and its one-line form for the console */
	jb_key(&b, "suggestion");
	jb_put(&b, "{", 1);
	if (f->kind == REQ_NPLUS1) {
		const struct fnd_names *n = &f->names;
		char line[1024];

		if (f->named)
			fnd_hints(n, sa, dj, rb, sizeof(sa));
		jb_kstr(&b, "batched_query", f->named ? n->batched : NULL);
		if (f->named && f->proven && n->parent_column[0] &&
		    n->child_column[0]) {
			char join[512];

			snprintf(join, sizeof(join),
				 "SELECT c.* FROM %s p JOIN %s c ON c.%s = "
				 "p.%s WHERE <the parent query's conditions>",
				 n->parent_table, n->child_table,
				 n->child_column, n->parent_column);
			jb_kstr(&b, "join_query", join);
		}
		jb_kstr(&b, "sqlalchemy", f->named ? sa : NULL);
		jb_kstr(&b, "django", f->named ? dj : NULL);
		jb_kstr(&b, "rails", f->named ? rb : NULL);
		snprintf(line, sizeof(line),
			 "%s the child query runs once per parent row "
			 "(%.1f times per request); load them in one query%s%s"
			 "%s%s%s%s%s%s",
			 f->proven ? "N+1:" : "suspected N+1:", mean,
			 f->named && n->batched ? ": " : "",
			 f->named && n->batched ? n->batched : "",
			 sa[0] ? "; SQLAlchemy " : "", sa,
			 dj[0] ? "; Django " : "", dj, rb[0] ? "; Rails " : "",
			 rb);
		jb_kstr(&b, "summary", line);
		o->suggestion = strdup(line);
	} else if (f->kind == REQ_REDUNDANT) {
		static const char s[] =
			"the same query with the same values runs more than "
			"once per request: keep its result for the request "
			"(memoize, or a per-request cache) instead of asking "
			"again";

		jb_kstr(&b, "summary", s);
		o->suggestion = strdup(s);
	} else {
		char line[512];

		snprintf(line, sizeof(line),
			 "%u slow reads run one after another and none uses "
			 "another's result: run them concurrently (asyncio "
			 "TaskGroup/gather, separate connections) or combine "
			 "them into one query, saving about %.1f ms per "
			 "request",
			 f->requests ? (unsigned)(f->executions / f->requests)
				     : 0,
			 f->requests ? (double)f->saved_us / 1000 / f->requests
				     : 0);
		jb_kstr(&b, "summary", line);
		o->suggestion = strdup(line);
	}
	jb_put(&b, "}}", 2);
	o->json = b.oom ? NULL : b.p;
	if (b.oom)
		free(b.p);
}

bool ana_finding_close(struct jbuf *b, struct ana_finding *o)
{
	jb_put(b, "}}", 2);
	o->json = b->oom ? NULL : b->p;
	if (b->oom || !o->query || !o->suggestion) {
		free(b->p);
		free(o->query);
		free(o->suggestion);
		memset(o, 0, sizeof(*o));
		return false;
	}
	return true;
}

static void export_free(struct ana_finding *o)
{
	free(o->query);
	free(o->parent_query);
	free(o->suggestion);
	free(o->json);
	free(o->ddl);
	memset(o, 0, sizeof(*o));
}

void ana_findings_free(struct ana_finding *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		export_free(&f[i]);
	free(f);
}

static int by_saved_desc(const void *x, const void *y)
{
	const struct ana_finding *a = x, *b = y;
	int ra = strcmp(a->severity, "high") == 0     ? 0
		 : strcmp(a->severity, "medium") == 0 ? 1
						      : 2;
	int rb = strcmp(b->severity, "high") == 0     ? 0
		 : strcmp(b->severity, "medium") == 0 ? 1
						      : 2;

	if (ra != rb)
		return ra - rb;
	return a->saved_us > b->saved_us ? -1 : a->saved_us < b->saved_us;
}

void findings_sort(struct ana_finding *v, size_t n)
{
	qsort(v, n, sizeof(*v), by_saved_desc);
}

size_t findings_export(struct findings *fs,
		       const struct sqlparse *(*parse_of)(void *ctx,
							  uint64_t fp),
		       void *ctx, struct ana_finding **out)
{
	struct ana_finding *v = calloc(fs->n + 1, sizeof(*v));
	size_t n = 0;

	*out = v;
	if (!v)
		return 0;
	for (struct finding *f = fs->list; f; f = f->next) {
		export_one(f, parse_of(ctx, f->parent_fp),
			   parse_of(ctx, f->child_fp), parse_of, ctx, &v[n]);
		if (!v[n].json || !v[n].query || !v[n].suggestion) {
			export_free(&v[n]);
			continue;
		}
		n++;
	}
	findings_sort(v, n);
	return n;
}

/* ---- the state file ---- */

void findings_save(const struct findings *fs, struct jbuf *b)
{
	ser_u32(b, (uint32_t)fs->n);
	for (const struct finding *f = fs->list; f; f = f->next) {
		const struct fnd_names *n = &f->names;

		ser_u8(b, (uint8_t)f->kind);
		ser_u64(b, f->parent_fp);
		ser_u64(b, f->child_fp);
		ser_str(b, f->database);
		ser_u64(b, f->requests);
		ser_u64(b, f->executions);
		ser_u64(b, f->distinct);
		ser_u64(b, f->matched);
		ser_u32(b, f->max_repeats);
		ser_u64(b, f->total_us);
		ser_u64(b, f->saved_us);
		ser_u8(b, f->proven);
		ser_u32(b, (uint32_t)f->param);
		ser_u32(b, f->parent_rel);
		ser_u32(b, (uint32_t)(uint16_t)f->parent_att);
		ser_u8(b, (uint8_t)f->nseq);
		for (uint32_t i = 0; i < f->nseq; i++)
			ser_u64(b, f->seq_fp[i]);
		ser_u8(b, (uint8_t)f->nroutes);
		for (uint32_t i = 0; i < f->nroutes; i++)
			ser_str(b, f->routes[i]);
		ser_u8(b, f->more_routes);
		ser_u64(b, (uint64_t)f->first_seen_us);
		ser_u64(b, (uint64_t)f->last_seen_us);
		ser_u8(b, f->named && f->state == RES_DONE);
		ser_u8(b, n->catalog);
		ser_str(b, n->parent_table);
		ser_str(b, n->parent_column);
		ser_str(b, n->child_table);
		ser_str(b, n->child_column);
		ser_u32(b, (uint32_t)n->param);
		ser_u8(b, (uint8_t)n->direction);
		ser_str(b, n->batched);
	}
}

/* One finding; NULL with r->bad when malformed. */
static struct finding *load_one(struct srd *r)
{
	struct finding *f = pgp_calloc(1, sizeof(*f));
	struct fnd_names *n;
	uint32_t len;
	uint8_t k;

	if (!f) {
		r->bad = true;
		return NULL;
	}
	n = &f->names;
	k = srd_u8(r);
	f->kind = k == REQ_REDUNDANT	? REQ_REDUNDANT
		  : k == REQ_SEQUENTIAL ? REQ_SEQUENTIAL
					: REQ_NPLUS1;
	if (k > REQ_SEQUENTIAL)
		r->bad = true;
	f->parent_fp = srd_u64(r);
	f->child_fp = srd_u64(r);
	srd_str(r, f->database, sizeof(f->database));
	f->requests = srd_u64(r);
	f->executions = srd_u64(r);
	f->distinct = srd_u64(r);
	f->matched = srd_u64(r);
	f->max_repeats = srd_u32(r);
	f->total_us = srd_u64(r);
	f->saved_us = srd_u64(r);
	f->proven = srd_u8(r) != 0;
	f->param = (int)(srd_u32(r) & 0xffff);
	f->parent_rel = srd_u32(r);
	f->parent_att = (int16_t)(uint16_t)srd_u32(r);
	f->nseq = srd_u8(r);
	if (f->nseq > REQ_SEQ_MAX)
		r->bad = true;
	for (uint32_t i = 0; i < f->nseq && !r->bad; i++)
		f->seq_fp[i] = srd_u64(r);
	f->nroutes = srd_u8(r);
	if (f->nroutes > MAX_ROUTES)
		r->bad = true;
	for (uint32_t i = 0; i < f->nroutes && !r->bad; i++)
		srd_str(r, f->routes[i], sizeof(f->routes[i]));
	f->more_routes = srd_u8(r) != 0;
	f->first_seen_us = (int64_t)srd_u64(r);
	f->last_seen_us = (int64_t)srd_u64(r);
	f->named = srd_u8(r) != 0;
	f->state = f->named ? RES_DONE : RES_PENDING;
	n->catalog = srd_u8(r) != 0;
	srd_str(r, n->parent_table, sizeof(n->parent_table));
	srd_str(r, n->parent_column, sizeof(n->parent_column));
	srd_str(r, n->child_table, sizeof(n->child_table));
	srd_str(r, n->child_column, sizeof(n->child_column));
	n->param = (int)(srd_u32(r) & 0xffff);
	k = srd_u8(r);
	n->direction = k == FND_ONE_TO_MANY   ? FND_ONE_TO_MANY
		       : k == FND_MANY_TO_ONE ? FND_MANY_TO_ONE
					      : FND_UNKNOWN;
	len = srd_u32(r);
	if (len && !r->bad) {
		const uint8_t *p = srd_take(r, len);

		if (p && len < 65536 && (n->batched = malloc(len + 1))) {
			memcpy(n->batched, p, len);
			n->batched[len] = '\0';
		} else {
			r->bad = true;
		}
	}
	if (r->bad) {
		finding_free(f);
		return NULL;
	}
	return f;
}

/* One finding seen by two processes of a fleet: the figures add up. */
static void add_member(struct finding *e, const struct finding *f)
{
	e->requests += f->requests;
	e->executions += f->executions;
	e->distinct += f->distinct;
	e->matched += f->matched;
	e->total_us += f->total_us;
	e->saved_us += f->saved_us;
	if (f->max_repeats > e->max_repeats)
		e->max_repeats = f->max_repeats;
	if (f->last_seen_us > e->last_seen_us)
		e->last_seen_us = f->last_seen_us;
	if (f->first_seen_us && f->first_seen_us < e->first_seen_us)
		e->first_seen_us = f->first_seen_us;
	e->proven = e->proven || f->proven;
	for (uint32_t i = 0; i < f->nroutes; i++) {
		uint32_t k;

		for (k = 0; k < e->nroutes; k++)
			if (strcmp(e->routes[k], f->routes[i]) == 0)
				break;
		if (k == e->nroutes && e->nroutes < MAX_ROUTES)
			memcpy(e->routes[e->nroutes++], f->routes[i],
			       sizeof(f->routes[i]));
	}
	e->members |= f->members;
}

bool findings_load(struct findings *fs, struct srd *r, uint64_t member)
{
	uint32_t count = srd_u32(r);

	for (uint32_t i = 0; i < count && !r->bad; i++) {
		struct finding *f = load_one(r), *e;

		if (!f)
			break;
		f->members = member;
		for (e = fs->list; e; e = e->next)
			if (e->kind == f->kind &&
			    e->parent_fp == f->parent_fp &&
			    e->child_fp == f->child_fp &&
			    strcmp(e->database, f->database) == 0)
				break;
		if (e && member && !r->bad && !(e->members & member))
			add_member(e, f);
		if (e || fs->n >= FINDINGS_MAX) {
			finding_free(f); /* seen since the start: keep that */
			continue;
		}
		f->next = fs->list;
		fs->list = f;
		fs->n++;
	}
	return !r->bad;
}
