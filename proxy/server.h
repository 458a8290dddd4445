/*
 * server.h -- the server side: connecting and logging in to PostgreSQL,
 * applying a client's parameters, relaying replies, resetting and checking
 * connections between clients.
 */
#ifndef PGPERF_SERVER_H
#define PGPERF_SERVER_H

#include "proxy/proxy_types.h"

/* Start a new server connection for `pool`; NULL if it could not start. */
struct server *server_connect(struct pool *pool);
/* The only writer of sv->state: moves it to the list of the new state. */
void server_set_state(struct server *sv, enum server_state st);
/*
 * Close a server connection.  A linked client is told (08006) and closed
 * too unless the server already sent it a FATAL error.  Safe to call from
 * the server's own callbacks.
 */
void server_close(struct server *sv, enum close_reason why, const char *fmt,
		  ...) PRINTF_LIKE(3, 4);
void server_free(struct server *sv);
/* Give an idle server to a client; applies its parameters, then welcomes it. */
void server_link(struct server *sv, struct client *cl);
/*
 * Nothing in flight on this server: no ReadyForQuery still due, no unsynced
 * extended-protocol messages, no message half relayed, nothing unread.
 */
/* Drop a pending SET/RESET (proxy_types.h: pend_name). */
void server_forget_pending_set(struct server *sv);
bool server_quiet(const struct server *sv);
/* The client is done with this server: reset it for the next, or close it. */
void server_release(struct server *sv);
/*
 * Transaction mode: give the server back to the pool if its client is
 * between transactions with nothing in flight and no session state pins it.
 */
void server_maybe_release(struct server *sv);
/* Run server_check_query before reuse. */
void server_start_check(struct server *sv);
/* Send a CancelRequest for `sv`'s backend on a new connection
 * (client_login.c, which also forwards clients' own). */
void server_send_cancel(struct pgperf *pp, struct server *sv);
/* A client request begins on `sv` (nothing was in flight): note when,
 * for query_timeout and transaction_timeout. */
void server_note_request(struct server *sv);
/*
 * The 1 s tick: close the client of an active server that is past
 * query_timeout, transaction_timeout or idle_transaction_timeout.
 * A running query is cancelled first.  May close both.
 */
void server_check_timeouts(struct server *sv, int64_t now);
/* Relay the server's input to the linked client. */
void server_relay(struct server *sv);
/* server_relay.c: relay what an active server sent to its client. */
void server_relay_active(struct server *sv);
/* Relaying stopped on a feature's RELAY_HOLD: read and relay again. */
void server_resume_relay(struct server *sv);
/* Note a ParameterStatus the server sent (its params, their digest). */
void server_record_param(struct server *sv, const uint8_t *body, size_t len);
const char *server_state_name(enum server_state st);

/* Between server.c and server_login.c only. */
void server_install_callbacks(struct server *sv);
/* Send the startup packet (after TLS, if any) and wait for auth requests. */
void server_login_start(struct server *sv);
/* Answer an Authentication* message. */
void server_login_auth(struct server *sv, const uint8_t *body, size_t len);
/* Read the one-byte answer to our SSLRequest and go on from there. */
void server_login_tls_answer(struct server *sv);
/* The login failed: tell the pool (and its waiting clients), close. */
void server_login_failed(struct server *sv, const char *sqlstate,
			 const char *fmt, ...) PRINTF_LIKE(3, 4);

#endif
