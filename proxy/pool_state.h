/*
 * pool_state.h -- the pools' share of the state file (I/O thread): the
 * counters behind the pooling_hazard and pool_saturation findings, kept
 * across restarts with the analyzer's statistics (see analyzer/state.c,
 * which writes and reads them as opaque bytes).
 */
#ifndef PGPERF_POOL_STATE_H
#define PGPERF_POOL_STATE_H

#include "proxy/proxy_types.h"

/* One pool's counters as saved, applied when its pool next appears. */
struct pool_saved {
	char database[64], user[64];
	uint64_t hazard_clients[POOL_HAZARD_KINDS];
	int64_t hazard_last_us[POOL_HAZARD_KINDS];
	uint64_t wait_count, wait_us, waited_count, max_wait_us, query_us;
	struct pool_hold holds[POOL_HOLDS];
	int nholds;
};

/* Every second: take what was loaded (once), then hand the pools over. */
void pool_state_tick(struct pgperf *pp);
/* Hand the pools over now (before the analyzer's last save). */
void pool_state_hand(struct pgperf *pp);
/* A pool appeared: add what was saved for it. */
void pool_state_apply(struct pgperf *pp, struct pool *p);
/* Add one saved record to a pool: counters add up, holds merge. */
void pool_state_add(struct pool *p, const struct pool_saved *s);
void pool_state_free(struct pgperf *pp);

/*
 * A pool as the read side sees it: plain data copied from a live pool, or
 * from a saved record no client has brought back since the restart.
 * Reports and findings read these, never the pools.
 */
struct pool_view {
	char database[64], user[64];
	int pool_size;
	struct pool_stats st;
	uint64_t hazard_clients[POOL_HAZARD_KINDS];
	int64_t hazard_last_us[POOL_HAZARD_KINDS];
	struct pool_hold holds[POOL_HOLDS];
	/* connections now (0 for a saved record) */
	size_t clients, waiting; /* logged-in clients; those waiting */
	size_t servers_active, servers_idle, servers_tested;
	bool live; /* a pool, not a saved record */
};

/* Every pool, then every unclaimed saved record (caller pgp_free()s). */
size_t pool_snapshot(struct pgperf *pp, struct pool_view **out);

/* The bytes <-> records; false if malformed (out: malloc'd array). */
void *pool_state_serialize(struct pgperf *pp, size_t *len);
bool pool_state_parse(const void *buf, size_t len, struct pool_saved **out,
		      size_t *n);

#endif
