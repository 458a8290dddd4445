/*
 * findings.h -- what the request detector found, de-duplicated and
 * explained: N+1 by (parent fingerprint, child fingerprint), redundant
 * queries by fingerprint, sequential reads by their first two
 * fingerprints.  Analyzer thread (under the analyzer's lock), except the
 * rendering helpers, which are pure.
 *
 * Findings never hold literal values: queries are shown normalized, and
 * values exist only as hashes inside a request.
 */
#ifndef PGPERF_FINDINGS_H
#define PGPERF_FINDINGS_H

#include "analyzer/analyzer.h"
#include "analyzer/requests.h"

struct sqlparse;
struct findings;

#define FINDINGS_MAX 1024 /* kept; then the least costly are dropped */

/* How a finding's parent and child are related, once resolved. */
enum fnd_direction {
	FND_UNKNOWN,
	FND_ONE_TO_MANY, /* the child filters by a key to the parent's rows */
	FND_MANY_TO_ONE, /* the child looks up the row the parent points to */
};

/* What resolving an N+1 finding needs, copied out of the lock. */
struct fnd_lookup {
	uint64_t parent_fp, child_fp;
	char database[64];
	int param;
	uint32_t parent_rel;
	int16_t parent_att;
	char parent_guess[128]; /* the parent's first table */
	char *child_query;	/* owned: normalized */
};

/* And what it found. */
struct fnd_names {
	bool catalog; /* table and column names came from the catalog */
	char parent_table[128], parent_column[64];
	char child_table[128], child_column[64];
	int param; /* the child's $n the relation goes through */
	enum fnd_direction direction;
	char *batched; /* owned: the child as one query for all parents */
};

struct findings *findings_new(void);
void findings_free(struct findings *fs);
void findings_reset(struct findings *fs);
/* One pattern from one request (database and route of the request). */
/* Is `fp` the child of an N+1 finding (whose fix then explains its
 * repeats)? */
bool findings_nplus1_child(const struct findings *fs, uint64_t fp);
void findings_add(struct findings *fs, const struct req_finding *f,
		  const char *database, const char *route, int64_t now_us);
/*
 * The next N+1 finding whose names are not known yet (copied into `out`,
 * child_query from `parse_of`), marked as being resolved; false if none.
 */
bool findings_next_lookup(struct findings *fs,
			  const struct sqlparse *(*parse_of)(void *ctx,
							     uint64_t fp),
			  void *ctx, struct fnd_lookup *out);
/* Store what resolving found (takes over names->batched); `retry`: the
 * catalog could not be asked, try again later. */
void findings_resolved(struct findings *fs, const struct fnd_lookup *k,
		       struct fnd_names *names, bool retry);
void fnd_lookup_free(struct fnd_lookup *k);

/* Findings as readers get them, most costly first. */
size_t findings_export(struct findings *fs,
		       const struct sqlparse *(*parse_of)(void *ctx,
							  uint64_t fp),
		       void *ctx, struct ana_finding **out);

struct jbuf;
struct srd;
/* The state file's form of the findings, and reading it back (merged:
 * findings already present win); false (r->bad) if malformed. */
void findings_save(const struct findings *fs, struct jbuf *b);
bool findings_load(struct findings *fs, struct srd *r, uint64_t member);

/*
 * Close a finding's JSON in `b` ("}}": its suggestion and itself) into
 * o->json; false, with o's strings freed and o cleared, when memory ran
 * out or the query or suggestion is missing.
 */
bool ana_finding_close(struct jbuf *b, struct ana_finding *o);

/* Order findings as readers get them: severity, then time to save. */
void findings_sort(struct ana_finding *v, size_t n);

/*
 * Names an ORM would give the relation: the class of a table
 * ("shop_order_items" with prefix "shop_" -> "OrderItem"), written into
 * buf.  Exposed for the unit tests.
 */
void fnd_class_name(const char *table, size_t strip, char *buf, size_t cap);
/* The eager-loading hints for a resolved relation. */
void fnd_hints(const struct fnd_names *n, char *sqlalchemy, char *django,
	       char *rails, size_t cap);

#endif
