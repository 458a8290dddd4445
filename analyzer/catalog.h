/*
 * catalog.h -- the analyzer's side connection to each database: names
 * for the table OIDs and attribute numbers that RowDescription carries,
 * and the foreign keys between tables.  libpq, blocking, on the analyzer
 * thread only (never the I/O thread), one connection per database,
 * statement_timeout bounded, and a back-off after any failure so that a
 * database that refuses pgperf is not asked again for a while.
 */
#ifndef PGPERF_CATALOG_H
#define PGPERF_CATALOG_H

#include "lib/common.h"

struct catalog;

/* What the catalog says about a parent column and a child's filter. */
struct cat_relation {
	char parent_table[128], parent_column[64];
	bool child_fk_to_parent;  /* the child's column references the
				    parent's table (one to many) */
	bool parent_fk_to_child;  /* the parent's column references the
				    child's table (many to one) */
	char child_fk_table[128]; /* what the child's column references,
				     when it is a foreign key: "" else */
	char child_fk_column[64];
};

struct catalog *catalog_new(void);
void catalog_free(struct catalog *c);
/*
 * How to reach `database` as the pool of client `user` does (libpq
 * conninfo: that pool's server login); kept until replaced.  Each
 * (database, user) has a connection of its own, so that a statement is
 * only ever planned with the rights of the role that ran it.  Any thread;
 * everything else here belongs to one thread (the side thread).
 */
void catalog_set_conninfo(struct catalog *c, const char *database,
			  const char *user, const char *conninfo);
/* Can `database` be asked now (known, not backing off)?  `user` NULL:
 * through any user's connection (catalog lookups need no one's rights). */
bool catalog_ready(struct catalog *c, const char *database, const char *user,
		   int64_t now_us);
/*
 * Look up the parent column (table OID, attribute number; 0: none) and
 * what the child's filter column (table as written, column) references.
 * False on failure (and the database backs off).
 */
bool catalog_relation(struct catalog *c, const char *database, uint32_t rel,
		      int16_t att, const char *child_table,
		      const char *child_column, struct cat_relation *out);

#endif

/* What index advice needs to know about a table. */
#define CAT_MAX_INDEXES 32

struct cat_table {
	bool found;
	double rows;  /* the larger of reltuples and n_live_tup */
	bool hypopg;  /* the hypopg extension is installed */
	int nindexes; /* valid indexes, by their columns */
	char indexes[CAT_MAX_INDEXES][160]; /* "col1,col2" */
};

/* Rows, indexes and whether hypothetical indexes can be tried. */
bool catalog_table(struct catalog *c, const char *database, const char *table,
		   struct cat_table *out);
/* Distinct values of a column, from pg_stats (negative n_distinct scaled
 * by `rows`); -1 when the column has no statistics. */
double catalog_distinct(struct catalog *c, const char *database,
			const char *table, const char *column, double rows);
/*
 * The planner's total cost for `query` (one statement; with `nparams`
 * parameters it is prepared and its generic plan explained), with a
 * hypothetical index (`hypo_ddl`, a CREATE INDEX for hypopg) or without
 * (NULL).  Nothing is executed.  Only on the connection of (database,
 * user) - never another role's.  Negative on failure.
 */
double catalog_cost(struct catalog *c, const char *database, const char *user,
		    const char *query, int nparams, const char *hypo_ddl);
