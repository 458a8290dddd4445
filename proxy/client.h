/*
 * client.h -- the client side of the proxy: accepting, the login phase
 * (client_login.c), relaying to the linked server (client.c).
 */
#ifndef PGPERF_CLIENT_H
#define PGPERF_CLIENT_H

#include "proxy/proxy_types.h"

#include <sys/socket.h>

/* Take ownership of an accepted socket. */
void client_accept(struct pgperf *pp, int fd, const struct sockaddr *sa,
		   bool unix_socket);
/* The only writer of cl->state: moves it to the list of the new state. */
void client_set_state(struct client *cl, enum client_state st);
/*
 * The one close path.  When `sqlstate` is not NULL a FATAL ErrorResponse
 * with the formatted message is sent first.  Releases the linked server,
 * leaves the client flushing in CL_CLOSING; the reaper frees it.  Safe to
 * call from the client's own callbacks.
 */
void client_close(struct client *cl, enum close_reason why,
		  const char *sqlstate, const char *fmt, ...) PRINTF_LIKE(4, 5);
/* Free a closed client: reaper only. */
void client_free(struct client *cl);
/* Login phase: handle input in CL_STARTUP and CL_AUTH. */
void client_login_input(struct client *cl);
/* Send AuthenticationOk, parameters, BackendKeyData and ReadyForQuery. */
void client_welcome(struct client *cl);
/* Linked again after setup (transaction mode): relay what is waiting. */
void client_resume(struct client *cl);
/* Relay the client's input to its linked server. */
void client_relay(struct client *cl);
/* Handle what is in the client's input now, as a read would. */
void client_input(struct client *cl);
/*
 * The result cache's lookup for this idle client is over.  A hit gives
 * the `answer` to send in place of the request's first `drain` bytes of
 * input; a miss (NULL) sends the request to PostgreSQL.
 */
void client_cache_done(struct client *cl, const struct wbuf *answer,
		       size_t drain);
/*
 * A CancelRequest for a transaction-mode client still waiting for a
 * server connection: its request leaves the queue and fails with 57014,
 * as a canceled statement does, and the client is between transactions
 * again.  Only a request of one Query, or of extended-protocol messages
 * ending with their one Sync, is answered so; anything else (a pipeline
 * expecting several ReadyForQuery) waits on.  True when canceled.
 */
bool client_cancel_waiting(struct client *cl);
/*
 * Between transactions with nothing in flight either way (or unlinked):
 * where a drain may close it and transaction mode may release its server.
 */
bool client_between_transactions(const struct client *cl);
/* A drain (SIGTERM) started: close now if idle, else at the next idle point. */
void client_drain(struct client *cl);
/* (Re)attach the callbacks, after TLS replaced the bufferevent. */
void client_install_callbacks(struct client *cl);
/* Build the "C-12 db/user@addr:port" label. */
void client_update_label(struct client *cl);
const char *client_state_name(enum client_state st);

/* Its application_name as last set (startup or SET), or "". */
const char *client_app_name(const struct client *cl);

#endif
