/*
 * cache.h -- hot read queries answered from Redis (cache_mode = rules or
 * auto), shared by every pgperf using the same Redis.
 *
 * Where it acts, all on the I/O thread, never blocking (hiredis async on
 * the daemon's event base):
 *
 *   lookup      a transaction-mode client between transactions sends one
 *               simple Query, or an unnamed Parse/Bind/Describe/Execute/
 *               Sync, or a Bind of a statement it prepared, whose shape
 *               the analyzer found cacheable:
 *               MGET of its entry and the generations of the tables it
 *               reads.  A valid entry is replayed byte for byte with
 *               ReadyForQuery, no server involved; otherwise the query
 *               goes to PostgreSQL as usual and its reply is captured.
 *   fill        the captured reply (RowDescription, DataRows,
 *               CommandComplete; no notices, no errors, within
 *               cache_max_entry_bytes) is stored with the generations
 *               read before the query ran, and a TTL.
 *   invalidate  statements that write note their tables; at the
 *               ReadyForQuery that ends their transaction the message is
 *               held while each table's generation is incremented, so no
 *               client -- of this pgperf or another -- is served a row the
 *               write changed once the writer has seen ReadyForQuery.
 *
 * Redis slow or down: a timeout (redis_timeout_ms) or an error opens a
 * circuit breaker; lookups go straight to PostgreSQL, held ReadyForQuery
 * messages pass, and the breaker probes again after a second.
 */
#ifndef PGPERF_CACHE_H
#define PGPERF_CACHE_H

#include "lib/common.h"
#include "proto/relay.h"

#include <event2/buffer.h>

struct pgperf;
struct client;
struct server;
struct cache;
struct ana_shape_info;

/* The cache's counters, for SHOW CACHE and /metrics. */
struct cache_stats {
	const char *redis_state; /* static: off, connecting, up, down */
	uint64_t lookups, hits, misses, bypassed, fills, fill_skipped;
	uint64_t invalidations, redis_errors, timeouts, breaker_opens;
	uint64_t hit_bytes, fill_bytes;
};

/* Per fingerprint, as SHOW CACHE lists them. */
struct cache_fp_stats {
	uint64_t fingerprint;
	uint64_t hits, misses, hit_bytes;
};

/* Per rule of cache_rules. */
struct cache_rule_stats {
	char rule[64]; /* as written */
	uint64_t hits, misses, hit_bytes;
};

/* Per table (generation key), invalidations. */
struct cache_table_stats {
	uint64_t table; /* ana_table_hash */
	char name[48];	/* its bare name, when a statement named it */
	uint64_t invalidations;
};

/* Start (cache_mode != off and redis_url set): connects in the
 * background.  NULL when off or on a bad redis_url (logged). */
struct cache *cache_new(struct pgperf *pp);
void cache_free(struct cache *c);

/*
 * CL_IDLE input, a request between transactions: RELAY_HOLD when a
 * lookup is in flight (the client stops reading until the cache calls
 * client_cache_done()), RELAY_FORWARD to carry on as without a cache.
 */
enum relay_verdict cache_idle_verdict(struct client *cl);
/* A Parse's text: what the first word says until the analyzer knows
 * more (so that its Executes are not taken for writes to anything). */
void cache_learn_text(struct pgperf *pp, uint64_t shape, const char *text,
		      size_t len);
/* A statement of this client runs (its shape): tables it writes are
 * invalidated when its transaction ends. */
void cache_note_statement(struct client *cl, uint64_t shape, const char *text,
			  size_t len);
/* A server's reply to a client with a fill in progress: one whole
 * message at `at` in `in` (type, length as in the header). */
void cache_capture(struct client *cl, uint8_t type, struct evbuffer *in,
		   const struct evbuffer_ptr *at, uint32_t len);
/* A message could not be captured whole: the fill is abandoned. */
void cache_capture_abandon(struct client *cl);
/*
 * At a ReadyForQuery for this client: RELAY_HOLD when it must wait (the
 * relay stops before it) until the transaction's writes are invalidated;
 * the cache then calls server_resume_relay().  Else RELAY_FORWARD.
 */
enum relay_verdict cache_ready_verdict(struct client *cl, struct server *sv);
/* The client is being freed: forget its operations. */
void cache_client_gone(struct client *cl);

void cache_get_stats(struct cache *c, struct cache_stats *out);
/* Per fingerprint and per table figures (caller frees with pgp_free). */
size_t cache_fp_stats(struct cache *c, struct cache_fp_stats **out);
size_t cache_table_stats(struct cache *c, struct cache_table_stats **out);
size_t cache_rule_stats(struct cache *c, struct cache_rule_stats **out);

/*
 * Is a blob read back from Redis an entry for exactly this statement
 * (`material`), filled under these `ngens` generations, holding only
 * well-formed RowDescription/DataRow/CommandComplete messages ending in a
 * CommandComplete?  The reply bytes within the blob (and their length),
 * or NULL.  Every byte of a blob is untrusted (tests/fuzz/fuzz_blob.c).
 */
const uint8_t *cache_blob_check(const uint8_t *b, size_t n, uint8_t ngens,
				const char *material, size_t mlen,
				const uint64_t *gens, size_t *body_len);

/* Parse a cache_rules value; false with the reason in err. */
bool cache_rules_check(const char *rules, char *err, size_t errlen);

#endif
