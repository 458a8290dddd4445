/*
 * sqlparse.c -- libpg_query on the analyzer thread: fingerprint, the
 * normalized text for display, and from the protobuf parse tree the kind
 * of statement, the tables it reads and writes, and whether it is
 * read-only and deterministic.  The tree is walked generically through
 * protobuf-c's descriptors, so every node type is visited without a
 * hand-written case for each.
 */
#include "pgperf/sqlparse.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

uint64_t sqlparse_text_hash(const char *sql, size_t len)
{
	return pgp_hash_bytes(sql, len);
}

/* Functions whose result changes from call to call, or with time. */
static const char *const volatile_funcs[] = {
	"random",
	"setseed",
	"now",
	"clock_timestamp",
	"statement_timestamp",
	"timeofday",
	"transaction_timestamp",
	"gen_random_uuid",
	"uuid_generate_v1",
	"uuid_generate_v4",
	"txid_current",
	"pg_current_xact_id",
	"pg_sleep",
	"currval",
	"lastval",
};

/* Functions that change something: a SELECT calling them is not read-only. */
static const char *const writing_funcs[] = {
	"nextval",	     "setval",
	"pg_advisory_lock",  "pg_try_advisory_lock",
	"pg_notify",	     "set_config",
	"lo_import",	     "lo_export",
	"dblink_exec",	     "pg_terminate_backend",
	"pg_cancel_backend",
};

struct walk {
	struct sqlparse *out;
	bool oom;
	bool writes;	/* a data-modifying statement somewhere in the tree */
	bool locks;	/* FOR UPDATE / SHARE */
	bool ctes_only; /* first pass: only collect CTE names */
	int nctes;
	const char *ctes[16];
};

static bool is_cte(const struct walk *w, const PgQuery__RangeVar *rv)
{
	if (rv->schemaname && rv->schemaname[0])
		return false;
	for (int i = 0; i < w->nctes; i++)
		if (strcmp(w->ctes[i], rv->relname) == 0)
			return true;
	return false;
}

static void add_table(struct walk *w, const PgQuery__RangeVar *rv, bool written)
{
	char **list = written ? w->out->written : w->out->read;
	int *n = written ? &w->out->nwritten : &w->out->nread;
	char name[256];

	if (!rv || !rv->relname || !rv->relname[0] || is_cte(w, rv))
		return;
	if (rv->schemaname && rv->schemaname[0])
		snprintf(name, sizeof(name), "%s.%s", rv->schemaname,
			 rv->relname);
	else
		snprintf(name, sizeof(name), "%s", rv->relname);
	for (int i = 0; i < *n; i++)
		if (strcmp(list[i], name) == 0)
			return;
	if (*n >= SQLPARSE_MAX_TABLES)
		return;
	if (!(list[*n] = pgp_strdup(name))) {
		w->oom = true;
		return;
	}
	(*n)++;
}

static void check_func(struct walk *w, const PgQuery__FuncCall *fc)
{
	const PgQuery__Node *last;
	const char *name;

	if (!fc->n_funcname)
		return;
	last = fc->funcname[fc->n_funcname - 1];
	if (last->node_case != PG_QUERY__NODE__NODE_STRING || !last->string)
		return;
	name = last->string->sval;
	for (size_t i = 0; i < ARRAY_SIZE(volatile_funcs); i++)
		if (strcasecmp(name, volatile_funcs[i]) == 0)
			w->out->deterministic = false;
	for (size_t i = 0; i < ARRAY_SIZE(writing_funcs); i++)
		if (strcasecmp(name, writing_funcs[i]) == 0) {
			w->out->deterministic = false;
			w->writes = true;
		}
}

static void walk_msg(struct walk *w, const ProtobufCMessage *m, int depth);

/* The table a data-modifying statement targets is written, not read. */
static const PgQuery__RangeVar *target_of(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (d == &pg_query__insert_stmt__descriptor)
		return ((const PgQuery__InsertStmt *)m)->relation;
	if (d == &pg_query__update_stmt__descriptor)
		return ((const PgQuery__UpdateStmt *)m)->relation;
	if (d == &pg_query__delete_stmt__descriptor)
		return ((const PgQuery__DeleteStmt *)m)->relation;
	if (d == &pg_query__merge_stmt__descriptor)
		return ((const PgQuery__MergeStmt *)m)->relation;
	return NULL;
}

static void walk_msg(struct walk *w, const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	const PgQuery__RangeVar *target = target_of(m);

	if (depth > 200 || w->oom)
		return; /* absurdly deep: what was seen so far stands */
	if (w->ctes_only) {
		if (d == &pg_query__common_table_expr__descriptor &&
		    w->nctes < (int)ARRAY_SIZE(w->ctes))
			w->ctes[w->nctes++] =
				((const PgQuery__CommonTableExpr *)m)->ctename;
		target = NULL;
		goto children;
	}
	if (target) {
		w->writes = true;
		add_table(w, target, true);
	}
	if (d == &pg_query__range_var__descriptor) {
		add_table(w, (const PgQuery__RangeVar *)m, false);
		return;
	}
	if (d == &pg_query__func_call__descriptor)
		check_func(w, (const PgQuery__FuncCall *)m);
	else if (d == &pg_query__sqlvalue_function__descriptor)
		w->out->deterministic = false; /* CURRENT_TIMESTAMP and kin */
	else if (d == &pg_query__locking_clause__descriptor)
		w->locks = true;
children:
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n =
				*(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *arr =
				*(ProtobufCMessage *const *const *)(base +
								    f->offset);

			for (size_t j = 0; j < n; j++)
				if (arr[j])
					walk_msg(w, arr[j], depth + 1);
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		{
			const ProtobufCMessage *sub =
				*(ProtobufCMessage *const *)(base + f->offset);

			if (sub && (!target || sub != &target->base))
				walk_msg(w, sub, depth + 1);
		}
	}
}

static const char *kind_of(const PgQuery__Node *n)
{
	switch (n ? n->node_case : PG_QUERY__NODE__NODE__NOT_SET) {
	case PG_QUERY__NODE__NODE_SELECT_STMT:
		return "SELECT";
	case PG_QUERY__NODE__NODE_INSERT_STMT:
		return "INSERT";
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		return "UPDATE";
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		return "DELETE";
	case PG_QUERY__NODE__NODE_MERGE_STMT:
		return "MERGE";
	default:
		return "UTILITY";
	}
}

static bool fallback(const char *sql, struct sqlparse *out, const char *why)
{
	out->parsed = false;
	out->fingerprint = sqlparse_text_hash(sql, strlen(sql));
	out->kind = "UNKNOWN";
	out->read_only = false;
	out->deterministic = false;
	snprintf(out->error, sizeof(out->error), "%s", why ? why : "");
	out->normalized = pgp_strdup(sql);
	return out->normalized != NULL;
}

bool sqlparse_run(const char *sql, struct sqlparse *out)
{
	PgQueryFingerprintResult fp;
	PgQueryNormalizeResult nr;
	PgQueryProtobufParseResult pr;
	PgQuery__ParseResult *tree;
	struct walk w;
	bool all_select = true;

	memset(out, 0, sizeof(*out));
	fp = pg_query_fingerprint(sql);
	if (fp.error) {
		bool ok = fallback(sql, out, fp.error->message);

		pg_query_free_fingerprint_result(fp);
		return ok;
	}
	out->fingerprint = fp.fingerprint;
	pg_query_free_fingerprint_result(fp);

	nr = pg_query_normalize(sql);
	out->normalized = pgp_strdup(
		!nr.error && nr.normalized_query ? nr.normalized_query : sql);
	pg_query_free_normalize_result(nr);
	if (!out->normalized)
		return false;

	out->parsed = true;
	out->kind = "UTILITY";
	out->deterministic = true;
	pr = pg_query_parse_protobuf(sql);
	if (pr.error) {
		pg_query_free_protobuf_parse_result(pr);
		out->deterministic = false;
		return true;
	}
	tree = pg_query__parse_result__unpack(
		NULL, pr.parse_tree.len, (const uint8_t *)pr.parse_tree.data);
	pg_query_free_protobuf_parse_result(pr);
	if (!tree) {
		out->deterministic = false;
		return true;
	}
	memset(&w, 0, sizeof(w));
	w.out = out;
	/* CTE names first: a reference to one is not a table */
	w.ctes_only = true;
	for (size_t i = 0; i < tree->n_stmts; i++)
		if (tree->stmts[i]->stmt)
			walk_msg(&w, &tree->stmts[i]->stmt->base, 0);
	w.ctes_only = false;
	for (size_t i = 0; i < tree->n_stmts; i++) {
		const PgQuery__Node *n = tree->stmts[i]->stmt;

		if (i == 0)
			out->kind = kind_of(n);
		if (!n || n->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
			all_select = false;
		if (n)
			walk_msg(&w, &n->base, 0);
	}
	out->read_only =
		tree->n_stmts > 0 && all_select && !w.writes && !w.locks;
	pg_query__parse_result__free_unpacked(tree, NULL);
	if (w.oom) {
		sqlparse_free(out);
		return false;
	}
	return true;
}

void sqlparse_free(struct sqlparse *p)
{
	pgp_free(p->normalized);
	for (int i = 0; i < p->nread; i++)
		pgp_free(p->read[i]);
	for (int i = 0; i < p->nwritten; i++)
		pgp_free(p->written[i]);
	memset(p, 0, sizeof(*p));
}
