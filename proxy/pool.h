/*
 * pool.h -- pools of server connections admin_per (database, user): the FIFO
 * of waiting clients, handing out idle servers, growing up to the pool size,
 * back-off after failures, and once-a-second upkeep.
 */
#ifndef PGPERF_POOL_H
#define PGPERF_POOL_H

#include "proxy/proxy_types.h"

/* PAUSE or KILL (admin_hold.c): its servers close as they are released. */
static inline bool pool_paused(const struct pool *p)
{
	return p->held || p->pp->paused;
}

/* No servers handed out for this pool now: paused, or SUSPEND.  Its
 * waiting clients wait. */
static inline bool pool_held(const struct pool *p)
{
	return pool_paused(p) || p->pp->suspended;
}

/* Find or create the pool; NULL with a message in err (and the SQLSTATE
 * to answer with) on failure. */
struct pool *pool_get(struct pgperf *pp, const char *database, const char *user,
		      char *err, size_t errlen, const char **sqlstate);
void pool_free(struct pool *p);
/*
 * An auth_query user logged in: its servers log in with what the latest
 * login proved (md5 hash, plain password, or SCRAM keys), so a changed
 * password in PostgreSQL is picked up with the next client.
 */
struct auth_user;
void pool_take_lookup(struct pool *p, const struct auth_user *u,
		      const struct scram_keys *proven);
/* A pool from "*" unused for autodb_idle_timeout: the caller frees it. */
bool pool_expired(struct pool *p, int64_t now);
/* Queue an authenticated client for a server connection. */
void pool_enqueue(struct pool *p, struct client *cl);
/* A logged-in client (transaction mode) needs a server again. */
void pool_request_server(struct pool *p, struct client *cl);
/* Hand idle servers to waiting clients; start connections as needed. */
void pool_dispatch(struct pool *p);
/* A server finished logging in, a reset or a check: make it available. */
void pool_server_ready(struct server *sv);
/* A login attempt failed: back off, and fail waiters if nothing is left. */
void pool_login_failed(struct pool *p, const char *sqlstate, const char *msg);
/* Once a second: timeouts, ageing, keeping min_pool_size warm. */
void pool_tick(struct pool *p, int64_t now);
/* Recompute the target after a reload; servers for a changed target close. */
void pool_retarget(struct pool *p);
/* Servers in any state but closing. */
int pool_server_count(const struct pool *p);
/* Server connections to the same real database, across pools; with
 * `closing`, also those closed whose backends have not yet gone (which
 * PostgreSQL still counts: the limits' view). */
int pool_db_server_count(struct pgperf *pp, const struct pool *p, bool closing);
int pool_effective_size(const struct pool *p);
int pool_effective_mode(const struct pool *p);

/*
 * max_db_connections for this process.  One of several processes
 * (peer_id, [peers]) takes an even share of it, at least 1, so that the
 * processes together never open more than the setting, even with no way
 * to agree.
 */
int pool_db_limit(const struct config *cfg);
/* A fleet-wide limit's even share: `lim` divided by `live` processes, or
 * (live 0) by the peers [peers] lists; at least 1; lim when alone. */
int pool_share(const struct config *cfg, int lim, int live);
/* Server connections of every pool with the same login user (`closing`
 * as above). */
int pool_user_server_count(struct pgperf *pp, const struct pool *p,
			   bool closing);

/* A pool with its client and server lists empty (pool_get, tests). */
void pool_init_lists(struct pool *p);

#endif
