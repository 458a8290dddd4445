/*
 * observe.h -- the I/O thread's side of statement statistics: it notes
 * each statement a client sends (its shape, when it was received), matches
 * it to the server's replies (rows, bytes, errors, completion) and pushes
 * one event per completed statement to the analyzer.  The text of a shape
 * goes to the analyzer only the first time this I/O thread sees it.
 *
 * A statement is a simple Query (completed by its ReadyForQuery, however
 * many statements its text holds) or an extended-protocol Execute
 * (completed by CommandComplete, EmptyQueryResponse, PortalSuspended or an
 * error; Executes PostgreSQL skips after an error are not counted).
 */
#ifndef PGPERF_OBSERVE_H
#define PGPERF_OBSERVE_H

#include "lib/common.h"

struct client;
struct pgperf;

#define OBS_INFLIGHT 32 /* statements awaiting replies, per client */

struct obs_pending {
	uint64_t shape;
	int64_t start_us; /* monotonic */
	uint64_t rows, bytes;
	char sqlstate[6];
	uint8_t kind;	      /* 'Q', 'E', or 'S' (a Sync: only matched) */
	struct ana_detail *d; /* owned: values for the analyzer, or NULL */
};

struct obs_name; /* a named statement's shape */
struct ana_detail;

/* Statement texts remembered per client with their shapes. */
#define OBS_MEMO 4
struct obs_memo;

struct obs_client {
	struct obs_pending q[OBS_INFLIGHT];
	uint8_t head, n;
	uint64_t unnamed_shape;	 /* of the last unnamed Parse */
	uint64_t portal_shape;	 /* of the last Bind */
	struct ana_detail *bind; /* owned: the last Bind's values, for its
				    Execute */
	struct ana_detail *unnamed_tags; /* owned: the last unnamed Parse's
					    sqlcommenter tags, or NULL */
	char tx;			 /* the last ReadyForQuery's status */
	bool xact_ended;   /* a transaction block ended since the last
				    statement was sent */
	bool sampling;	   /* the oldest pending statement samples rows */
	bool sample_ready; /* `spare` holds its sample */
	struct ana_sample *spare; /* owned: the sample buffer, reused */
	uint32_t wait_us;	  /* waited for the current server connection */
	bool in_xact;		  /* a transaction is open (SHOW STATS) */
	int64_t xact_start_us;	  /* monotonic */
	uint64_t xact_shape;	  /* its slowest statement's shape */
	uint32_t xact_slow_us;	  /* ... and how long that took */
	struct obs_name **names;  /* owned: name -> shape */
	size_t nnames, nslots;
	/* owned: the texts of its last few Queries and unnamed Parses and
	 * their shapes, reused while the same text comes again (a driver's
	 * unnamed statements, BEGIN/COMMIT) */
	struct obs_memo *memo[OBS_MEMO];
	uint8_t memo_next;
};

/* The set of shapes this I/O thread has sent texts for. */
struct obs_known {
	uint64_t *slot; /* owned; 0 = empty */
	/* owned, beside slot: the shape's word tokens name nothing that
	 * creates or clears session state (session_words_inert()), so
	 * transaction mode need not classify its statements */
	uint8_t *inert;
	size_t nslots, n;
	uint32_t gen; /* bumped whenever the set is forgotten */
};

/* Is analysis on (the analyzer running and `analysis = on`)? */
bool observe_on(const struct pgperf *pp);
/* Are statement shapes worked out: for analysis, or for the result cache,
 * whose invalidation must not depend on `analysis`? */
bool observe_shapes(const struct pgperf *pp);
/* A client logged in (or changed application_name): tell the analyzer. */
void observe_client(struct client *cl);
void observe_client_gone(struct client *cl);
/* The client waited `us` for the server it was just linked to. */
void observe_linked(struct client *cl, int64_t waited_us);
/*
 * What observe_request() saw of a request that the result cache needs;
 * the relay hands it on (the tap does not call the cache).  The text
 * points into the request's body.
 */
struct observe_seen {
	uint64_t runs;	  /* a statement of this shape runs, or 0 */
	uint64_t learned; /* a Parse of this shape (its text), or 0 */
	const char *text; /* the Query's or Parse's text, or NULL */
	size_t len;
};

/*
 * A request from the client, with the part of its body read (Query and
 * Parse: all of it; Bind: at least its two names; Close: its name).
 */
/*
 * Returns true when the statement of a Query or Parse is of a shape known
 * to leave no session state (its words name nothing that could): the
 * caller may skip classifying it.  False when unknown or not inert.
 */
bool observe_request(struct client *cl, uint8_t type, const char *body,
		     size_t n, struct observe_seen *seen);
/* A named Parse pgperf answered itself (prep_idle_answer). */
void observe_parse(struct client *cl, const char *name, const char *query);
/* A reply is relayed to the client: `body` for C, E, T, and D while
 * observe_wants_row() says so. */
void observe_reply(struct client *cl, uint8_t type, const uint8_t *body,
		   size_t n, size_t wire_len);
/* Should the next DataRow's body be read (a result is being sampled)? */
static inline bool observe_wants_row(const struct obs_client *o)
{
	return o->sampling;
}
/* Free what a client's tracking holds. */
void observe_client_free(struct obs_client *o);
void observe_known_free(struct obs_known *k);
/* The analyzer is about to forget every shape (RESET STATS): send texts
 * again from the next statement on. */
void observe_known_forget(struct obs_known *k);

#endif
