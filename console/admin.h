/*
 * admin.h -- the admin console: the virtual database "pgperf" that
 * answers SHOW commands and RELOAD, PAUSE, RESUME, SHUTDOWN.
 */
#ifndef PGPERF_ADMIN_H
#define PGPERF_ADMIN_H

#include "proxy/proxy_types.h"

#define ADMIN_DBNAME "pgperf"

/* Send the login reply for an authenticated admin client. */
void admin_welcome(struct client *cl);
/* Handle input from a client in CL_ADMIN. */
void admin_input(struct client *cl);

/* A stats_period ended: compute SHOW STATS' avg_ columns. */
void admin_stats_period(struct pgperf *pp, int64_t seconds);

#endif
