/*
 * auth_query.h -- secrets of users who are not in auth_file, looked up in
 * PostgreSQL (PgBouncer's auth_user + auth_query).  The lookup runs on a
 * thread of its own with blocking libpq; the I/O thread posts a request
 * and is called back through an eventfd, so it never waits.
 */
#ifndef PGPERF_AUTH_QUERY_H
#define PGPERF_AUTH_QUERY_H

#include "proxy/proxy_types.h"

/*
 * Ask for `cl`'s secret (cl->user, on the server of cl->database, as
 * auth_user).  client_lookup_done(cl, secret) follows on the I/O thread,
 * unless the client is gone by then.  False when the request cannot be
 * made (no password for auth_user, out of memory).
 */
bool authq_request(struct pgperf *pp, struct client *cl);
/* The client is going: drop its request if not yet taken up. */
void authq_cancel(struct pgperf *pp, struct client *cl);
/* Stop the lookup thread and drop what is pending (daemon_free). */
void authq_stop(struct pgperf *pp);

/* client_login.c: the answer; `secret` NULL = no such user (or none). */
void client_lookup_done(struct client *cl, const char *secret);

#endif
