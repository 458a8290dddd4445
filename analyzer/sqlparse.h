/*
 * sqlparse.h -- what libpg_query says about one statement.  Called on the
 * analyzer thread only, once per new shape: parsing costs tens of
 * microseconds, far too much for every statement on the I/O thread.
 */
#ifndef PGPERF_SQLPARSE_H
#define PGPERF_SQLPARSE_H

#include "lib/common.h"

#define SQLPARSE_MAX_TABLES 16

struct sqlparse {
	bool parsed;	      /* false: not valid SQL to libpg_query */
	uint64_t fingerprint; /* libpg_query's; a text hash when !parsed */
	char *normalized;     /* owned: literals as $n (or the raw text) */
	const char *kind;     /* static: SELECT, INSERT, UPDATE, DELETE, MERGE,
				 UTILITY, UNKNOWN */
	bool read_only;	      /* only SELECTs, no locking clause, no
				 data-modifying CTE, no function that writes
				 (nextval, advisory locks, ...) */
	bool deterministic;   /* no volatile or time-dependent function */
	bool only_immutable;  /* every function called is a known immutable
				 one (or an aggregate): may be cached */
	int nstmts;	      /* statements in the text */
	bool writes_unnamed;  /* a utility statement that may change tables
				 it does not list as written (DDL, TRUNCATE,
				 COPY, CALL, ...) */
	int nread, nwritten;
	char *read[SQLPARSE_MAX_TABLES]; /* owned: "schema.table" as written */
	char *written[SQLPARSE_MAX_TABLES];
	char error[128]; /* why not parsed */
};

/* Parse `sql` (NUL-terminated).  False only on allocation failure. */
bool sqlparse_run(const char *sql, struct sqlparse *out) WARN_UNUSED;
void sqlparse_free(struct sqlparse *p);
/*
 * In a SELECT's WHERE clause, the `column = $n` term of parameter `param`
 * (0: the first such term): the table (its FROM name, aliases resolved)
 * and column it filters, and the parameter's number.  False when there is
 * none or the column's table is not known.
 */
bool sqlparse_param_column(const char *sql, int param, int *param_out,
			   char *table, size_t tcap, char *column, size_t ccap);
/*
 * The same SELECT fetching many rows in one go: the `column = $n` term of
 * `param` rewritten as `column = ANY($n)` in the parse tree and deparsed.
 * malloc'd, or NULL when the statement has no such term.
 */
char *sqlparse_batched(const char *sql, int param);
/* A column an index could serve, and how the statement uses it. */
struct sqlparse_col {
	char table[128]; /* as written in FROM (schema.table or table) */
	char column[64];
	char role; /* 'e' = value, 'i' IN/ANY, 'j' join, 'r' range, 'o'
		      ORDER BY */
};
/*
 * The columns a SELECT (or an UPDATE's or DELETE's WHERE) filters by
 * equality, IN/ANY, ranges and BETWEEN, joins on and sorts by, aliases
 * resolved to tables; AND-ed terms only (an OR needs more than one
 * index).  Returns how many were written (<= max).
 */
int sqlparse_index_columns(const char *sql, struct sqlparse_col *out, int max);
/*
 * An identifier as SQL needs it: as it is when plain lower case, else in
 * double quotes (quotes doubled); the length written.  A name
 * "schema.table" is quoted part by part.
 */
size_t sqlparse_quote_ident(const char *name, size_t len, char *buf,
			    size_t cap);
size_t sqlparse_quote_name(const char *name, char *buf, size_t cap);
/* A 64-bit hash of text, the fingerprint of what does not parse. */
uint64_t sqlparse_text_hash(const char *sql, size_t len);

#endif
