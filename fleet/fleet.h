/*
 * fleet.h -- several pgperf processes seen as one, through the Redis they
 * share (redis_url, fleet = on).
 *
 * A thread of its own (the fleet thread) talks to Redis with blocking
 * hiredis calls, bounded by timeouts; the I/O thread never waits for it.
 * Every stats_period it publishes this process's member record (who it
 * is, its pools' figures and the analyzer's state image), reads every
 * member's record back and merges them into a fleet view: a passive
 * analyzer holding everyone's statistics and findings, and the pools
 * summed.  Readers (SHOW FLEET ..., /fleet/...) take the latest view.
 *
 * It also holds the fleet's leases on server connections: for each
 * database (max_db_connections) and user (max_user_connections) that has
 * a limit, an atomic Redis script hands this process a share, recorded
 * with an expiry so that a dead process's share comes free.  Without
 * Redis, each process keeps to the limit divided by the live processes.
 */
#ifndef PGPERF_FLEET_H
#define PGPERF_FLEET_H

#include "lib/common.h"

struct analyzer;

/* One pool's figures, as the I/O thread hands them over (and, summed
 * over the members that have the pool, as readers get them). */
struct fleet_pool {
	char database[64], user[64], mode[16];
	uint64_t cl_active, cl_waiting, sv_active, sv_idle, sv_login;
	uint64_t maxwait_us, pool_size;
	/* totals since start, as SHOW STATS */
	uint64_t xact_count, query_count, recv, sent;
	uint64_t xact_us, query_us, wait_us, wait_count;
	uint64_t waited_count, max_wait_us; /* waits of 1 ms or more */
	/* the last stats_period, per second (times: mean microseconds) */
	uint64_t avg_xact_count, avg_query_count, avg_recv, avg_sent;
	uint64_t avg_xact_us, avg_query_us, avg_wait_us;
	uint64_t members; /* a bit per member that has the pool */
};

/* Who a member is, as its record says. */
#define FLEET_ID_MAX 80
struct fleet_member {
	char id[FLEET_ID_MAX]; /* the peer_id, else host:pid */
	int peer_id, pid, stats_period;
	char host[64], listen[80];
	int64_t started_us, published_us; /* wall clock */
	bool self;
};

/* The most processes a view tells apart (a bit each). */
#define FLEET_MAX_MEMBERS 64

/* What readers get: immutable once built; take it with fleet_view_get. */
struct fleet_view {
	_Atomic int refs;
	int64_t built_us;	      /* wall clock */
	struct analyzer *ana;	      /* passive: every member's image merged */
	struct fleet_member *members; /* sorted by id: bit i is members[i] */
	size_t nmembers;
	struct fleet_pool *pools; /* merged by (database, user) */
	size_t npools;
	char redis[64]; /* "connected", or why not */
};

/* Is member i stale at `now_us` (wall): no record for two of its
 * periods and two seconds more? */
bool fleet_member_stale(const struct fleet_member *m, int64_t now_us);
/* The view's members that are not stale. */
int fleet_live_members(const struct fleet_view *v, int64_t now_us);
/* How many of `bits` are members, and which of them are stale, as
 * "id,id" (empty when none). */
int fleet_count(const struct fleet_view *v, uint64_t bits);
void fleet_stale_ids(const struct fleet_view *v, uint64_t bits, int64_t now_us,
		     char *buf, size_t cap);

/* ---- the member record (fleet_record.c; pure, fuzzed) ---- */

struct fleet_record {
	struct fleet_member m;
	struct fleet_pool *pools; /* malloc'd */
	size_t npools;
	const uint8_t *image; /* the analyzer's state image: points into
				 the bytes parsed */
	size_t image_len;
};

/* The record's bytes (malloc'd, *len), or NULL when out of memory. */
void *fleet_record_build(const struct fleet_member *m,
			 const struct fleet_pool *pools, size_t npools,
			 const void *image, size_t image_len, size_t *len);
/* Read one back; false (with the reason) when it is not a record this
 * pgperf wrote.  r->pools is freed with fleet_record_free. */
bool fleet_record_parse(const void *buf, size_t len, struct fleet_record *r,
			char *err, size_t errlen);
void fleet_record_free(struct fleet_record *r);
/* Add `src`'s figures to `dst` (one pool seen by two members). */
void fleet_pool_add(struct fleet_pool *dst, const struct fleet_pool *src);

/* ---- the thread (fleet.c) ---- */

/* A limit the fleet shares out: one database's or one user's. */
enum fleet_scope { FLEET_DB, FLEET_USER };

struct fleet_demand {
	enum fleet_scope scope;
	char name[160];
	int limit;   /* the setting: for the whole fleet */
	int open;    /* server connections this process has */
	int waiting; /* its clients waiting for one */
	/* the round of the lease it was keeping to when it counted them
	 * (fleet_cap.round; 0: none): grants handed out since then may be
	 * in use too, so they stay reserved */
	uint64_t round;
};

/* What this process may open for one scope. */
struct fleet_cap {
	enum fleet_scope scope;
	char name[160];
	int grant;	  /* server connections it may have */
	int64_t until_us; /* monotonic: the lease's end */
	uint64_t round;	  /* the lease round that granted it */
};

struct fleet_conf {
	char host[256], password[256];
	int port, db;
	char ns[128];	  /* cache_namespace: part of every key */
	int peer_id;	  /* 0: the member's id is host:pid */
	char listen[80];  /* shown to readers */
	int stats_period; /* seconds between records */
	int lease_ttl_ms; /* a lease's life; renewed at a third of it */
	int max_tracked_queries;
};

struct fleet;

/*
 * Start the thread (NULL on failure, logged).  `ana` is this process's
 * analyzer (its images are published), `notify_fd` an eventfd the fleet
 * writes when leases changed (the I/O thread then takes fleet_caps()).
 */
struct fleet *fleet_start(const struct fleet_conf *c, struct analyzer *ana);
void fleet_stop(struct fleet *f);
/* Reload: new settings, applied from the next round; the Redis, the
 * namespace and the member's id stay as started (logged if changed). */
void fleet_configure(struct fleet *f, const struct fleet_conf *c);
/* The eventfd written when leases changed (the I/O thread reads it). */
int fleet_notify_fd(const struct fleet *f);

/* I/O thread, every second: the pools' figures (takes over `pools`,
 * malloc'd) and what this process wants of each limited scope.  `urgent`
 * asks for the leases now (a client waits on one). */
void fleet_hand(struct fleet *f, struct fleet_pool *pools, size_t npools);
void fleet_demand(struct fleet *f, const struct fleet_demand *d, size_t n,
		  bool urgent);
/*
 * I/O thread: the leases held now (copied into out, at most cap).
 * *live is the number of live members last seen (0 when never), for the
 * fallback share when Redis is down.
 */
size_t fleet_caps(struct fleet *f, struct fleet_cap *out, size_t cap,
		  int *live);

/* Readers: the latest view (NULL before the first), held until put. */
struct fleet_view *fleet_view_get(struct fleet *f);
void fleet_view_put(struct fleet_view *v);
/* Any thread: is Redis connected (or still being reached for the first
 * time)?  Leases are to be expected then. */
bool fleet_redis_up(const struct fleet *f);
/* Readers: "connected" or why Redis cannot be used now. */
void fleet_redis_state(struct fleet *f, char *buf, size_t cap);

#endif
