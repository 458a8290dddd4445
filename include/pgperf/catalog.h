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

#include "pgperf/common.h"

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
/* How to reach `database` (libpq conninfo); kept until replaced. */
void catalog_set_conninfo(struct catalog *c, const char *database,
			  const char *conninfo);
/* Can `database` be asked now (known, not backing off)? */
bool catalog_ready(struct catalog *c, const char *database, int64_t now_us);
/*
 * Look up the parent column (table OID, attribute number; 0: none) and
 * what the child's filter column (table as written, column) references.
 * False on failure (and the database backs off).
 */
bool catalog_relation(struct catalog *c, const char *database, uint32_t rel,
		      int16_t att, const char *child_table,
		      const char *child_column, struct cat_relation *out);

#endif
