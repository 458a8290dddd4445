/*
 * requests.h -- application requests and what is wrong inside them.
 *
 * The analyzer groups each client connection's statements into requests
 * (best signal first: sqlcommenter tags, a transaction block, an idle gap)
 * and, when a request ends, looks inside it for:
 *
 *   N+1          one fingerprint run at least min_repeats times with
 *                different values after a different "parent" statement;
 *                proven when the children's parameter values are among
 *                the values the parent returned (sampled by the I/O
 *                thread as hashes of key-like columns);
 *   redundant    the same read with the same values run again;
 *   sequential   slow reads run one after another, none using what the
 *                others returned: they could have run concurrently.
 *
 * Pure functions over plain data, no locks and no I/O, so that the unit
 * tests drive them with synthetic statement streams.
 */
#ifndef PGPERF_REQUESTS_H
#define PGPERF_REQUESTS_H

#include "analyzer/analyzer.h"

#define REQ_MAX_STMTS 512 /* statements kept per request; more are counted */

struct req_conf {
	int idle_gap_ms;       /* request_idle_gap_ms */
	int min_repeats;       /* nplus1_min_repeats */
	int sequential_min_ms; /* a "slow" read for sequential_queries */
};

/* One statement of a request. */
struct req_stmt {
	uint64_t fp;
	int64_t start_us, end_us; /* wall clock */
	uint32_t dur_us;
	bool select; /* a read-only SELECT */
	/* the tables it reads and writes, one bit per table name hash (a
	 * write to anything, DDL or not understood: every bit) */
	uint32_t rmask, wmask;
	uint8_t nparams;
	uint64_t param[ANA_MAX_PARAMS];
	struct ana_sample *sample; /* owned, or NULL */
};

struct request {
	uint64_t tag;
	bool traced;
	char route[ANA_ROUTE_MAX];
	bool open;
	bool in_xact; /* one of its statements ran inside a transaction block */
	int64_t start_us, last_end_us; /* wall clock */
	uint32_t nstmts;    /* all, also those beyond the kept ones */
	uint64_t db_us;	    /* the sum of their durations */
	struct req_stmt *s; /* owned: the first REQ_MAX_STMTS */
	uint32_t n, cap;
};

/*
 * Does a statement (its detail, when it started) begin a new request
 * rather than continue `r`?  Tags first: a different traceparent (or,
 * untraced, a different route) is a new request; then the end of a
 * transaction block; then an idle gap.  A traced request is split only
 * by its tag.
 */
bool req_boundary(const struct request *r, const struct ana_detail *d,
		  int64_t start_us, const struct req_conf *c);
/* Has `r` been idle long enough to be over at wall-clock `now_us`? */
bool req_expired(const struct request *r, int64_t now_us,
		 const struct req_conf *c);
/* Add a statement (its sample is taken over); false: out of memory (the
 * statement is counted, not kept). */
bool req_add(struct request *r, struct req_stmt *st,
	     const struct ana_detail *d);
/* Forget the statements, keep the buffer. */
void req_clear(struct request *r);
void req_free(struct request *r);

enum req_kind { REQ_NPLUS1, REQ_REDUNDANT, REQ_SEQUENTIAL };

#define REQ_SEQ_MAX 4

/* One pattern found in one request. */
struct req_finding {
	enum req_kind kind;
	uint64_t parent_fp; /* N+1: the parent; sequential: the first read */
	uint64_t child_fp;  /* N+1: the child; redundant: the statement;
			       sequential: the second read */
	uint32_t repeats;   /* N+1: the child's executions; redundant: runs
			       of one statement with the same values;
			       sequential: reads in the run */
	uint32_t distinct;  /* N+1: distinct parameter values */
	uint64_t total_us;  /* time of the children / repeats / the run */
	uint64_t saved_us;  /* what batching, caching or concurrency saves */
	/* N+1 proof */
	bool proven;
	int param; /* the child's $n that carries the parent's value */
	uint32_t parent_rel; /* the parent's column: table OID ... */
	int16_t parent_att;  /* ... and attribute number */
	uint32_t matched;    /* child values found in the parent's sample */
	uint64_t seq_fp[REQ_SEQ_MAX]; /* sequential: the reads, in order */
	uint32_t nseq;
};

/* Find the patterns in a finished request; returns how many (<= cap). */
size_t req_detect(const struct request *r, const struct req_conf *c,
		  struct req_finding *out, size_t cap);

#endif
