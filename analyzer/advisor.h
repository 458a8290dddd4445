/*
 * advisor.h -- index advice: which indexes the workload is missing,
 * verified by the planner with hypothetical indexes (HypoPG), and, once
 * an index appears, whether it helped.
 *
 * The analyzer picks the fingerprints that matter (share of database time,
 * calls) one at a time; advisor_run() then works with the analyzer's lock
 * released, on the catalog side connection (catalog.h): the columns the
 * statement filters, joins and sorts by (its parse tree), minus tables
 * under index_min_table_rows, columns already leading an index and
 * columns with few distinct values (pg_stats); each candidate's planner
 * cost with and without a hypothetical index.  A suggestion must halve
 * the cost; a second column must halve it again.
 */
#ifndef PGPERF_ADVISOR_H
#define PGPERF_ADVISOR_H

#include "analyzer/analyzer.h"

struct catalog;
struct advisor;

#define ADV_MAX_COLS 2
#define ADV_MIN_DISTINCT 10 /* fewer distinct values: not worth an index */

/* One fingerprint to look at, copied out of the analyzer's lock. */
struct adv_job {
	uint64_t fp;
	char database[64];
	char user[64]; /* the client user whose pool ran it: planned only
			  through that pool's server login */
	bool plan_ok;  /* a plain read (one SELECT, no locking, no function
			  not known to be immutable): may be planned */
	char *text;    /* owned: the statement as sent, values included */
	int nparams;   /* its $n (extended protocol): explained generically */
};

struct adv_suggestion {
	char table[128];
	char columns[ADV_MAX_COLS][64];
	int ncols;
	bool verified;	/* the planner was asked, with HypoPG */
	bool unplanned; /* not a plain read: the planner was not asked */
	double cost_before, cost_after;
	double rows; /* the table's */
};

/* Evaluate one job (no lock held; blocking libpq).  Returns how many
 * suggestions were written (<= max). */
int advisor_run(struct catalog *c, const struct adv_job *j, int min_rows,
		struct adv_suggestion *out, int max);
/* The highest $n in a statement's text (0: none). */
int advisor_nparams(const char *sql);

/* ---- the suggestions kept (under the analyzer's lock) ---- */

/* A fingerprint's running totals, for before/after measurements. */
typedef bool (*adv_stats_fn)(void *ctx, uint64_t fp, uint64_t *calls,
			     uint64_t *total_us);

struct advisor *advisor_new(void);
void advisor_free(struct advisor *v);
void advisor_reset(struct advisor *v);
/* Keep what a job found for fingerprint `fp`. */
void advisor_record(struct advisor *v, const char *database, uint64_t fp,
		    const struct adv_suggestion *s, int n, int64_t now_us);

/* A suggested index to look for in the catalog, copied out. */
struct adv_check {
	char database[64];
	char table[128];
	char columns[160]; /* "col1,col2" */
};
/* The next suggestion whose index may have appeared (each looked at
 * every few seconds); false if none. */
bool advisor_next_check(struct advisor *v, int64_t now_us,
			struct adv_check *out);
/* The index of a check exists now: measure from here on. */
void advisor_index_seen(struct advisor *v, const struct adv_check *k,
			adv_stats_fn stats, void *ctx, int64_t now_us);
/* Settle measurements that have enough calls since the index appeared. */
void advisor_update(struct advisor *v, adv_stats_fn stats, void *ctx);
/* CREATE INDEX [CONCURRENTLY] ON table (cols), names quoted as needed. */
void advisor_ddl(const char *table, const char *const *cols, int n,
		 bool concurrently, char *buf, size_t cap);
/* Does an index's column list ("a,b") start with `cols` ("a")? */
bool advisor_covers(const char *index_cols, const char *cols);

/* What the analyzer knows that the findings show. */
struct adv_view {
	adv_stats_fn stats;
	const char *(*query_of)(void *ctx, uint64_t fp); /* normalized */
	/* writes to a table seen through pgperf: their number and rate */
	uint64_t (*writes_of)(void *ctx, const char *table, double *per_s);
	uint64_t all_us; /* all database time */
	void *ctx;
};

/* Findings of kind missing_index, appended to out[*n] (room for
 * advisor_count() more). */
size_t advisor_count(const struct advisor *v);
void advisor_export(struct advisor *v, const struct adv_view *view,
		    struct ana_finding *out, size_t *n);

struct jbuf;
struct srd;
/* The state file's form of the suggestions, and reading it back (merged:
 * those already present win); false (r->bad) if malformed. */
void advisor_save(const struct advisor *v, struct jbuf *b);
bool advisor_load(struct advisor *v, struct srd *r);

#endif
