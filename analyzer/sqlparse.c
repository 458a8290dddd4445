/*
 * sqlparse.c -- libpg_query on the analyzer thread: fingerprint, the
 * normalized text for display, and from the protobuf parse tree the kind
 * of statement, the tables it reads and writes, and whether it is
 * read-only and deterministic.  The tree is walked generically through
 * protobuf-c's descriptors, so every node type is visited without a
 * hand-written case for each.
 */
#include "analyzer/sqlparse.h"

#include "lib/sqlscan.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * Functions whose result depends only on their arguments (and aggregates
 * over rows): a statement calling nothing else may be cached.  Anything
 * not listed -- user functions included -- might read other tables or
 * change something, so it is not.
 */
static const char *const immutable_funcs[] = {
	"count",
	"sum",
	"avg",
	"min",
	"max",
	"bool_and",
	"bool_or",
	"every",
	"array_agg",
	"string_agg",
	"json_agg",
	"jsonb_agg",
	"lower",
	"upper",
	"length",
	"char_length",
	"octet_length",
	"substr",
	"substring",
	"trim",
	"btrim",
	"ltrim",
	"rtrim",
	"replace",
	"concat",
	"concat_ws",
	"coalesce",
	"nullif",
	"greatest",
	"least",
	"abs",
	"round",
	"ceil",
	"ceiling",
	"floor",
	"trunc",
	"mod",
	"power",
	"sqrt",
	"left",
	"right",
	"lpad",
	"rpad",
	"split_part",
	"position",
	"strpos",
	"md5",
	"date_trunc",
	"date_part",
	"extract",
	"to_char",
	"row_number",
	"rank",
	"dense_rank",
	"jsonb_build_object",
	"json_build_object",
	"array_length",
	"cardinality",
	"unnest",
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
	{
		bool immutable = false;

		for (size_t i = 0; i < ARRAY_SIZE(immutable_funcs); i++)
			if (strcasecmp(name, immutable_funcs[i]) == 0)
				immutable = true;
		if (!immutable)
			w->out->only_immutable = false;
	}
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
	if (d == &pg_query__select_stmt__descriptor &&
	    ((const PgQuery__SelectStmt *)m)->into_clause)
		w->writes = true; /* SELECT ... INTO creates a table */
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

/* Can a utility statement change data in tables it does not name as
 * written?  Only the ones below are known not to. */
static bool utility_may_write(const PgQuery__Node *n)
{
	switch (n ? n->node_case : PG_QUERY__NODE__NODE__NOT_SET) {
	case PG_QUERY__NODE__NODE_SELECT_STMT:
	case PG_QUERY__NODE__NODE_INSERT_STMT:
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
	case PG_QUERY__NODE__NODE_DELETE_STMT:
	case PG_QUERY__NODE__NODE_MERGE_STMT:
	case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
	case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
	case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
	case PG_QUERY__NODE__NODE_DISCARD_STMT:
	case PG_QUERY__NODE__NODE_LISTEN_STMT:
	case PG_QUERY__NODE__NODE_UNLISTEN_STMT:
	case PG_QUERY__NODE__NODE_NOTIFY_STMT:
	case PG_QUERY__NODE__NODE_PREPARE_STMT:
	case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
	case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
	case PG_QUERY__NODE__NODE_FETCH_STMT:
	case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT:
	case PG_QUERY__NODE__NODE_LOCK_STMT:
	case PG_QUERY__NODE__NODE_CHECK_POINT_STMT:
		return false;
	default:
		return true; /* DDL, TRUNCATE, COPY, CALL, EXPLAIN, DO, ... */
	}
}

/*
 * `sql` with its comments dropped and every literal (string, bit string,
 * number, dollar-quoted text) replaced by $1, $2, ...: what is shown of a
 * statement libpg_query cannot normalize.  A syntax error must not carry
 * the personal data in its values into exports and the state file.
 */
static char *mask_literals(const char *sql)
{
	size_t len = strlen(sql), o = 0, from = 0;
	char *out = pgp_malloc(len * 3 + 16);
	struct sql_scanner sc;
	struct sql_token t;
	unsigned n = 0;

	if (!out)
		return NULL;
	sqlscan_init(&sc, sql, len);
	while (sqlscan_next(&sc, &t)) {
		size_t at = (size_t)(t.p - sql);

		if (t.kind != SQLTOK_COMMENT && t.kind != SQLTOK_STRING &&
		    t.kind != SQLTOK_BITSTRING && t.kind != SQLTOK_NUMBER)
			continue;
		memcpy(out + o, sql + from, at - from);
		o += at - from;
		from = at + t.len;
		if (t.kind != SQLTOK_COMMENT)
			o += (size_t)sprintf(out + o, "$%u", ++n);
	}
	memcpy(out + o, sql + from, len - from);
	o += len - from;
	while (o > 0 &&
	       (out[o - 1] == ' ' || out[o - 1] == '\n' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	return out;
}

static bool fallback(const char *sql, struct sqlparse *out, const char *why)
{
	out->parsed = false;
	out->kind = "UNKNOWN";
	out->read_only = false;
	out->deterministic = false;
	out->writes_unnamed = true; /* not understood: may write anything */
	snprintf(out->error, sizeof(out->error), "%s", why ? why : "");
	out->normalized = mask_literals(sql);
	if (!out->normalized)
		return false;
	/* statements that differ only in their values are one */
	out->fingerprint =
		sqlparse_text_hash(out->normalized, strlen(out->normalized));
	return true;
}

/*
 * A copy of `sql` without its comments, and without the spaces they
 * leave at the end: pg_query_normalize keeps comments, and sqlcommenter
 * tags (trace ids, routes) do not belong in a query shown for a whole
 * fingerprint.
 */
static char *without_comments(const char *sql)
{
	size_t len = strlen(sql), o = 0, from = 0;
	char *out = pgp_malloc(len + 1);
	struct sql_scanner sc;
	struct sql_token t;

	if (!out)
		return NULL;
	sqlscan_init(&sc, sql, len);
	while (sqlscan_next(&sc, &t)) {
		size_t at = (size_t)(t.p - sql);

		if (t.kind != SQLTOK_COMMENT)
			continue;
		memcpy(out + o, sql + from, at - from);
		o += at - from;
		from = at + t.len;
	}
	memcpy(out + o, sql + from, len - from);
	o += len - from;
	while (o > 0 &&
	       (out[o - 1] == ' ' || out[o - 1] == '\n' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	return out;
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
	/* should normalizing fail, the text is shown with its values masked */
	out->normalized = !nr.error && nr.normalized_query
				  ? without_comments(nr.normalized_query)
				  : mask_literals(sql);
	pg_query_free_normalize_result(nr);
	if (!out->normalized)
		return false;

	out->parsed = true;
	out->kind = "UTILITY";
	out->deterministic = true;
	out->only_immutable = true;
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
		if (utility_may_write(n))
			out->writes_unnamed = true;
		if (n)
			walk_msg(&w, &n->base, 0);
	}
	out->read_only =
		tree->n_stmts > 0 && all_select && !w.writes && !w.locks;
	out->nstmts = (int)tree->n_stmts;
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

/* ---- the filter a parameter feeds, and the batched form ---- */

/* The top-level SELECT of a one-statement tree, or NULL. */
static PgQuery__SelectStmt *only_select(PgQuery__ParseResult *t)
{
	if (!t || t->n_stmts != 1 || !t->stmts[0]->stmt ||
	    t->stmts[0]->stmt->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
		return NULL;
	return t->stmts[0]->stmt->select_stmt;
}

static PgQuery__ParseResult *parse_tree(const char *sql)
{
	PgQueryProtobufParseResult pr = pg_query_parse_protobuf(sql);
	PgQuery__ParseResult *t = NULL;

	if (!pr.error)
		t = pg_query__parse_result__unpack(
			NULL, pr.parse_tree.len,
			(const uint8_t *)pr.parse_tree.data);
	pg_query_free_protobuf_parse_result(pr);
	return t;
}

/* $n, possibly cast ($1::int): its number, else 0. */
static int param_number(const PgQuery__Node *n)
{
	if (n && n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST &&
	    n->type_cast->arg)
		n = n->type_cast->arg;
	if (n && n->node_case == PG_QUERY__NODE__NODE_PARAM_REF)
		return n->param_ref->number;
	return 0;
}

static bool is_column(const PgQuery__Node *n)
{
	return n && n->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
	       n->column_ref->n_fields >= 1;
}

static bool is_equals(const PgQuery__AExpr *e)
{
	return e->n_name == 1 &&
	       e->name[0]->node_case == PG_QUERY__NODE__NODE_STRING &&
	       strcmp(e->name[0]->string->sval, "=") == 0;
}

/*
 * Find `column = $n` (either way round) in a WHERE clause's AND-ed terms;
 * `want` 0 takes the first such term.
 */
static PgQuery__AExpr *find_filter(PgQuery__Node *n, int want, int *param)
{
	if (!n)
		return NULL;
	if (n->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
	    n->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR) {
		for (size_t i = 0; i < n->bool_expr->n_args; i++) {
			PgQuery__AExpr *e =
				find_filter(n->bool_expr->args[i], want, param);

			if (e)
				return e;
		}
		return NULL;
	}
	if (n->node_case == PG_QUERY__NODE__NODE_A_EXPR &&
	    n->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP &&
	    is_equals(n->a_expr)) {
		PgQuery__AExpr *e = n->a_expr;
		int p = is_column(e->lexpr)   ? param_number(e->rexpr)
			: is_column(e->rexpr) ? param_number(e->lexpr)
					      : 0;

		if (p && (want == 0 || p == want)) {
			*param = p;
			return e;
		}
	}
	return NULL;
}

static const char *field_str(const PgQuery__ColumnRef *c, size_t i)
{
	const PgQuery__Node *f = c->fields[i];

	return f->node_case == PG_QUERY__NODE__NODE_STRING ? f->string->sval
							   : NULL;
}

/* The table a qualifier (alias or name) stands for in FROM, or the only
 * table when there is no qualifier. */
static const PgQuery__RangeVar *from_table(PgQuery__Node *n, const char *qual,
					   int *count)
{
	const PgQuery__RangeVar *rv, *found = NULL;

	if (!n)
		return NULL;
	if (n->node_case == PG_QUERY__NODE__NODE_JOIN_EXPR) {
		const PgQuery__RangeVar *a =
			from_table(n->join_expr->larg, qual, count);
		const PgQuery__RangeVar *b =
			from_table(n->join_expr->rarg, qual, count);

		return a ? a : b;
	}
	if (n->node_case != PG_QUERY__NODE__NODE_RANGE_VAR)
		return NULL;
	rv = n->range_var;
	(*count)++;
	if (!qual)
		found = rv;
	else if (rv->alias && rv->alias->aliasname &&
		 strcmp(rv->alias->aliasname, qual) == 0)
		found = rv;
	else if ((!rv->alias || !rv->alias->aliasname) &&
		 strcmp(rv->relname, qual) == 0)
		found = rv;
	return found;
}

bool sqlparse_param_column(const char *sql, int param, int *param_out,
			   char *table, size_t tcap, char *column, size_t ccap)
{
	PgQuery__ParseResult *t = parse_tree(sql);
	PgQuery__SelectStmt *s = only_select(t);
	PgQuery__AExpr *e;
	const PgQuery__ColumnRef *c;
	const PgQuery__RangeVar *rv = NULL;
	const char *qual = NULL, *col;
	int p = 0, count = 0;
	bool ok = false;

	if (!s || !(e = find_filter(s->where_clause, param, &p)))
		goto out;
	c = is_column(e->lexpr) ? e->lexpr->column_ref : e->rexpr->column_ref;
	if (!(col = field_str(c, c->n_fields - 1)))
		goto out;
	if (c->n_fields >= 2)
		qual = field_str(c, c->n_fields - 2);
	for (size_t i = 0; i < s->n_from_clause && !rv; i++)
		rv = from_table(s->from_clause[i], qual, &count);
	if (!rv || (!qual && count != 1))
		goto out; /* unqualified with several tables: unknown */
	if (rv->schemaname && rv->schemaname[0])
		snprintf(table, tcap, "%s.%s", rv->schemaname, rv->relname);
	else
		snprintf(table, tcap, "%s", rv->relname);
	snprintf(column, ccap, "%s", col);
	*param_out = p;
	ok = true;
out:
	pg_query__parse_result__free_unpacked(t, NULL);
	return ok;
}

char *sqlparse_batched(const char *sql, int param)
{
	PgQuery__ParseResult *t = parse_tree(sql);
	PgQuery__SelectStmt *s = only_select(t);
	PgQuery__AExpr *e;
	PgQueryProtobuf pb;
	PgQueryDeparseResult dr;
	char *out = NULL;
	int p = 0;

	if (!s || !(e = find_filter(s->where_clause, param, &p)))
		goto done;
	/* column = ANY($n): the column on the left, the parameter (an
	 * array now, so without the scalar cast) on the right */
	if (!is_column(e->lexpr)) {
		PgQuery__Node *x = e->lexpr;

		e->lexpr = e->rexpr;
		e->rexpr = x;
	}
	if (e->rexpr->node_case == PG_QUERY__NODE__NODE_TYPE_CAST) {
		PgQuery__Node *cast = e->rexpr;

		e->rexpr = cast->type_cast->arg;
		cast->type_cast->arg = NULL;
		pg_query__node__free_unpacked(cast, NULL);
	}
	e->kind = PG_QUERY__A__EXPR__KIND__AEXPR_OP_ANY;
	/* a LIMIT meant one parent's rows: not all parents' */
	if (s->limit_count) {
		pg_query__node__free_unpacked(s->limit_count, NULL);
		s->limit_count = NULL;
	}
	if (s->limit_offset) {
		pg_query__node__free_unpacked(s->limit_offset, NULL);
		s->limit_offset = NULL;
	}
	s->limit_option = PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_DEFAULT;
	pb.len = pg_query__parse_result__get_packed_size(t);
	if (!(pb.data = malloc(pb.len ? pb.len : 1)))
		goto done;
	pg_query__parse_result__pack(t, (uint8_t *)pb.data);
	dr = pg_query_deparse_protobuf(pb);
	free(pb.data);
	if (!dr.error && dr.query)
		out = strdup(dr.query);
	pg_query_free_deparse_result(dr);
done:
	pg_query__parse_result__free_unpacked(t, NULL);
	return out;
}

/* ---- index candidates: the columns a statement filters, joins, sorts ---- */

struct cand_walk {
	struct sqlparse_col *out;
	int n, max;
	/* FROM: names and aliases of the tables */
	const PgQuery__RangeVar *rv[SQLPARSE_MAX_TABLES];
	int nrv;
};

static void from_collect(struct cand_walk *w, PgQuery__Node *n)
{
	if (!n)
		return;
	if (n->node_case == PG_QUERY__NODE__NODE_RANGE_VAR) {
		if (w->nrv < SQLPARSE_MAX_TABLES)
			w->rv[w->nrv++] = n->range_var;
	} else if (n->node_case == PG_QUERY__NODE__NODE_JOIN_EXPR) {
		from_collect(w, n->join_expr->larg);
		from_collect(w, n->join_expr->rarg);
	}
}

static void rv_name(const PgQuery__RangeVar *rv, char *buf, size_t cap)
{
	if (rv->schemaname && rv->schemaname[0])
		snprintf(buf, cap, "%s.%s", rv->schemaname, rv->relname);
	else
		snprintf(buf, cap, "%s", rv->relname);
}

/* The table a column reference belongs to: its qualifier, or the only
 * table in FROM. */
static const PgQuery__RangeVar *column_table(const struct cand_walk *w,
					     const PgQuery__ColumnRef *c,
					     const char **col)
{
	const char *qual = NULL;

	*col = field_str(c, c->n_fields - 1);
	if (!*col)
		return NULL;
	if (c->n_fields >= 2)
		qual = field_str(c, c->n_fields - 2);
	if (!qual)
		return w->nrv == 1 ? w->rv[0] : NULL;
	for (int i = 0; i < w->nrv; i++) {
		const PgQuery__RangeVar *rv = w->rv[i];

		if (rv->alias && rv->alias->aliasname
			    ? strcmp(rv->alias->aliasname, qual) == 0
			    : strcmp(rv->relname, qual) == 0)
			return rv;
	}
	return NULL;
}

static void cand_add(struct cand_walk *w, const PgQuery__Node *n, char role)
{
	const PgQuery__RangeVar *rv;
	const char *col;
	struct sqlparse_col *o;

	if (n && n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST)
		n = n->type_cast->arg;
	if (!is_column(n) || w->n >= w->max)
		return;
	if (!(rv = column_table(w, n->column_ref, &col)))
		return;
	for (int i = 0; i < w->n; i++) /* each column once, strongest role */
		if (strcmp(w->out[i].column, col) == 0) {
			char t[128];

			rv_name(rv, t, sizeof(t));
			if (strcmp(w->out[i].table, t) == 0) {
				if (role == 'e' || role == 'j')
					w->out[i].role = role;
				return;
			}
		}
	o = &w->out[w->n++];
	rv_name(rv, o->table, sizeof(o->table));
	snprintf(o->column, sizeof(o->column), "%s", col);
	o->role = role;
}

static bool is_value(const PgQuery__Node *n)
{
	if (n && n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST)
		n = n->type_cast->arg;
	return n && (n->node_case == PG_QUERY__NODE__NODE_PARAM_REF ||
		     n->node_case == PG_QUERY__NODE__NODE_A_CONST);
}

static const char *op_name(const PgQuery__AExpr *e)
{
	if (e->n_name != 1 ||
	    e->name[0]->node_case != PG_QUERY__NODE__NODE_STRING)
		return "";
	return e->name[0]->string->sval;
}

/* One term of an AND-ed condition (WHERE, or a JOIN's ON). */
static void cand_term(struct cand_walk *w, PgQuery__Node *n)
{
	const PgQuery__AExpr *e;
	const char *op;

	if (!n)
		return;
	if (n->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR) {
		if (n->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR)
			for (size_t i = 0; i < n->bool_expr->n_args; i++)
				cand_term(w, n->bool_expr->args[i]);
		return; /* OR, NOT: no single index serves them */
	}
	if (n->node_case != PG_QUERY__NODE__NODE_A_EXPR)
		return;
	e = n->a_expr;
	op = op_name(e);
	switch (e->kind) {
	case PG_QUERY__A__EXPR__KIND__AEXPR_OP:
		if (strcmp(op, "=") == 0 && is_column(e->lexpr) &&
		    is_column(e->rexpr)) {
			cand_add(w, e->lexpr, 'j');
			cand_add(w, e->rexpr, 'j');
		} else if (strcmp(op, "=") == 0 || strcmp(op, "<") == 0 ||
			   strcmp(op, ">") == 0 || strcmp(op, "<=") == 0 ||
			   strcmp(op, ">=") == 0) {
			char role = op[0] == '=' ? 'e' : 'r';

			if (is_value(e->rexpr))
				cand_add(w, e->lexpr, role);
			else if (is_value(e->lexpr))
				cand_add(w, e->rexpr, role);
		}
		break;
	case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ANY:
	case PG_QUERY__A__EXPR__KIND__AEXPR_IN:
		if (strcmp(op, "=") == 0)
			cand_add(w, e->lexpr, 'i');
		break;
	case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN:
		cand_add(w, e->lexpr, 'r');
		break;
	default:
		break;
	}
}

static void join_quals(struct cand_walk *w, PgQuery__Node *n)
{
	if (!n || n->node_case != PG_QUERY__NODE__NODE_JOIN_EXPR)
		return;
	join_quals(w, n->join_expr->larg);
	join_quals(w, n->join_expr->rarg);
	cand_term(w, n->join_expr->quals);
}

int sqlparse_index_columns(const char *sql, struct sqlparse_col *out, int max)
{
	PgQuery__ParseResult *t = parse_tree(sql);
	struct cand_walk w = {.out = out, .max = max};
	PgQuery__Node *stmt;

	if (!t || t->n_stmts != 1 || !(stmt = t->stmts[0]->stmt))
		goto done;
	if (stmt->node_case == PG_QUERY__NODE__NODE_SELECT_STMT) {
		PgQuery__SelectStmt *s = stmt->select_stmt;

		for (size_t i = 0; i < s->n_from_clause; i++)
			from_collect(&w, s->from_clause[i]);
		for (size_t i = 0; i < s->n_from_clause; i++)
			join_quals(&w, s->from_clause[i]);
		cand_term(&w, s->where_clause);
		for (size_t i = 0; i < s->n_sort_clause; i++)
			if (s->sort_clause[i]->node_case ==
			    PG_QUERY__NODE__NODE_SORT_BY)
				cand_add(&w, s->sort_clause[i]->sort_by->node,
					 'o');
	} else if (stmt->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT ||
		   stmt->node_case == PG_QUERY__NODE__NODE_DELETE_STMT) {
		bool upd = stmt->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT;
		PgQuery__RangeVar *rv = upd ? stmt->update_stmt->relation
					    : stmt->delete_stmt->relation;

		if (rv)
			w.rv[w.nrv++] = rv;
		cand_term(&w, upd ? stmt->update_stmt->where_clause
				  : stmt->delete_stmt->where_clause);
	}
done:
	pg_query__parse_result__free_unpacked(t, NULL);
	return w.n;
}

/* ---- names as SQL needs them ---- */

size_t sqlparse_quote_ident(const char *name, size_t len, char *buf, size_t cap)
{
	bool plain = len > 0 && !(name[0] >= '0' && name[0] <= '9');
	size_t o = 0;

	for (size_t i = 0; i < len && plain; i++)
		plain = (name[i] >= 'a' && name[i] <= 'z') ||
			(name[i] >= '0' && name[i] <= '9') || name[i] == '_';
	if (plain)
		return (size_t)snprintf(buf, cap, "%.*s", (int)len, name);
	if (cap > 1)
		buf[o++] = '"';
	for (size_t i = 0; i < len && o + 2 < cap; i++) {
		if (name[i] == '"')
			buf[o++] = '"';
		buf[o++] = name[i];
	}
	if (o + 1 < cap)
		buf[o++] = '"';
	if (cap)
		buf[o < cap ? o : cap - 1] = '\0';
	return o;
}

size_t sqlparse_quote_name(const char *name, char *buf, size_t cap)
{
	const char *dot = strchr(name, '.');
	size_t o = 0;

	if (dot) {
		o = sqlparse_quote_ident(name, (size_t)(dot - name), buf, cap);
		if (o + 1 < cap)
			buf[o++] = '.';
		name = dot + 1;
	}
	if (o < cap)
		o += sqlparse_quote_ident(name, strlen(name), buf + o, cap - o);
	return o;
}
