/*
 * fleet_link.h -- the I/O thread's side of the fleet (fleet/fleet.h):
 * handing the pools' figures and what it wants of each limited scope to
 * the fleet thread every second, taking the leases back when they change,
 * and the limits pool.c keeps to.
 */
#ifndef PGPERF_FLEET_LINK_H
#define PGPERF_FLEET_LINK_H

#include "proxy/proxy_types.h"

/* Start the fleet (fleet = on and redis_url set); false if it should
 * have started and could not (logged: pgperf runs on without it). */
bool fleet_link_start(struct pgperf *pp);
void fleet_link_stop(struct pgperf *pp);
/* RELOAD: new settings for the fleet thread. */
void fleet_link_reload(struct pgperf *pp);
/* Once a second: the pools' figures and the demands, handed over; idle
 * servers over a share closed. */
void fleet_link_tick(struct pgperf *pp);

/*
 * The most server connections this process may have now for the pool's
 * server database (max_db_connections) and login user
 * (max_user_connections); -1 when there is no limit.  With the fleet the
 * lease's grant; while a first lease is on its way, 0 (and it is asked
 * for); without Redis, the setting divided by the live processes.
 */
int fleet_link_db_limit(struct pgperf *pp, const struct pool *p);
int fleet_link_user_limit(struct pgperf *pp, const struct pool *p);
/* A client waits and a limit stopped a connection: ask for more now. */
void fleet_link_wanted(struct pgperf *pp);
/* Does the pool's database or user hold more than its share (a released
 * server should close rather than wait idle)? */
bool fleet_link_over(struct pgperf *pp, const struct pool *p);

#endif
