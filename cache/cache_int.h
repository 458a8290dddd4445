/*
 * cache_int.h -- the result cache's insides, shared by its files:
 * cache.c (shapes, statistics, the Redis connection and breaker,
 * lookups, visibility) and cache_write.c (fills and invalidation).  Not
 * for the rest of pgperf, which sees cache.h.
 */
#ifndef PGPERF_CACHE_INT_H
#define PGPERF_CACHE_INT_H

#include "cache/cache.h"
#include "cache/cache_entry.h"

#include "analyzer/analyzer.h"
#include "proxy/proxy_types.h"

#include <hiredis/async.h>

#define INFO_MAX 65536		/* shapes known; then forgotten at once */
#define STATS_SLOTS 2048	/* fingerprints and tables counted */
#define BREAKER_OPEN_US 1000000 /* down: try again after this */
#define MAX_GENS (1 + ANA_INFO_TABLES)
#define KEY_LEN 80
#define WHOLE_DB 1 /* SHOW CACHE's name for database-wide invalidations */

/* What the cache knows of a shape: the analyzer's facts, or a guess from
 * the first word until they arrive (never cacheable). */
struct cinfo {
	uint64_t shape, fp;
	uint8_t flags; /* ANA_SI_* */
	bool provisional;
	uint8_t nread, nwritten;
	/* cache_mode = auto: how hot the shape is, and its hit potential:
	 * how often the same statement (values and session included) comes
	 * again within cache_ttl with no write to its tables in between, as
	 * the analyzer measures it for cacheable_query */
	uint32_t calls;
	int64_t first_us; /* monotonic: its first lookup */
	uint32_t repeats;
	struct {
		uint64_t h;	 /* the key material's hash; 0 = empty */
		int64_t at_us;	 /* monotonic: when it would have been filled */
		uint64_t writes; /* its tables' invalidations then */
	} recent[8];
	uint8_t next;
	uint64_t read[ANA_INFO_TABLES], written[ANA_INFO_TABLES];
};

enum op_kind { OP_LOOKUP, OP_INVAL, OP_FILL, OP_SETUP };

struct cache_op {
	struct cache_op *prev, *next; /* c->ops: in flight */
	struct cache *c;
	struct client *cl; /* NULL once the client is gone */
	enum op_kind kind;
	int pending; /* replies still due */
	bool failed;
	int64_t deadline_us;
	/* lookup */
	struct cinfo info;
	uint8_t ngens;
	char gen_keys[MAX_GENS][40];
	char key[KEY_LEN];
	char *material; /* owned */
	size_t mlen;
	int ttl;
	bool fill;     /* a miss may be stored */
	size_t drain;  /* input bytes a hit answers */
	bool extended; /* Bind/...: a hit also answers those */
	bool parsed;   /* ... and a Parse */
	int rule;      /* the rule that chose it, or -1 (auto) */
	/* invalidation */
	struct server *sv;
};

struct cache_fill {
	char key[KEY_LEN];
	char *material; /* owned */
	size_t mlen;
	uint64_t gens[MAX_GENS];
	uint8_t ngens;
	int ttl;
	uint64_t fp;
	struct evbuffer *body; /* owned */
	bool bad;
	uint8_t last;
};

#define CACHE_SUSPECT_MAX 256

struct cache {
	struct pgperf *pp;
	redisAsyncContext *ac;
	const char *state; /* off, connecting, up, down */
	bool said_down;	   /* the outage is logged */
	int64_t retry_at_us;
	struct event *timer; /* owned: timeouts and reconnects */
	char host[256];
	int port, db;
	char password[256];
	struct cinfo *info; /* owned, open addressing */
	size_t ninfo;
	struct cache_rule *rules; /* owned */
	int nrules;
	struct cache_op ops; /* list head */
	struct cache_stats st;
	struct cache_fp_stats *fps;    /* owned, STATS_SLOTS */
	struct cache_table_stats *tbl; /* owned, STATS_SLOTS */
	/*
	 * Databases (cache_db_hash) with a write whose invalidation may not
	 * have reached Redis (an error reply, a timeout, Redis down): no
	 * lookups for them until an INCR of their whole generation
	 * succeeds.  Deduplicated and bounded; beyond CACHE_SUSPECT_MAX no
	 * lookups at all, until a restart (the rest cannot be bumped).
	 */
	uint64_t suspect[CACHE_SUSPECT_MAX];
	bool suspect_busy[CACHE_SUSPECT_MAX]; /* its INCR is in flight */
	int nsuspect;
	bool suspect_overflow;
};

/* cache.c, for cache_write.c */
void cache_count_table(struct cache *c, uint64_t table);
/* Invalidations seen of a shape's tables and of its whole database. */
uint64_t cache_writes_of(struct cache *c, const struct cinfo *ci);
void cache_info_drain(struct cache *c);
struct cinfo *cache_info_put(struct cache *c, uint64_t shape);
struct cinfo *cache_info_slot(struct cache *c, uint64_t shape);
void cache_name_table(struct cache *c, uint64_t table, const char *name);
void cache_op_free(struct cache_op *op);
struct cache_op *cache_op_new(struct cache *c, enum op_kind kind);
bool cache_redis_up(struct cache *c);
void cache_arm_timer(struct cache *c, int64_t us);

/* cache_write.c, for cache.c: the databases lookups must skip */
void cache_suspect(struct cache *c, uint64_t db);
bool cache_is_suspect(const struct cache *c, uint64_t db);
/* Redis is up: bump each suspect database's generation (once at a time) */
void cache_retry_suspects(struct cache *c);
/* The connection is gone: no bump is in flight any more. */
void cache_suspects_idle(struct cache *c);

#endif
