/*
 * close_reason.h -- why pgperf closed a client or server connection, as a
 * code: counted per reason and side (SHOW CLOSES, /metrics
 * pgperf_client_closes_total{reason} and pgperf_server_closes_total{reason})
 * and testable, next to the free-text message that goes to the log and, for
 * clients, into the ErrorResponse.
 */
#ifndef PGPERF_CLOSE_REASON_H
#define PGPERF_CLOSE_REASON_H

/* X(code, name, meaning) */
#define CLOSE_REASON_LIST(X)                                                   \
	X(CLOSE_TERMINATE, "terminate", "the client sent Terminate")           \
	X(CLOSE_DISCONNECT, "disconnect",                                      \
	  "the peer closed the connection, or it failed")                      \
	X(CLOSE_PROTOCOL, "protocol_error",                                    \
	  "a malformed, oversized or unexpected message")                      \
	X(CLOSE_BAD_STARTUP, "bad_startup",                                    \
	  "no valid startup packet (closed unanswered, as PostgreSQL does)")   \
	X(CLOSE_TLS, "tls", "TLS could not start, or direct TLS without ALPN") \
	X(CLOSE_AUTH_FAILED, "auth_failed",                                    \
	  "wrong password, or the user may not log in there")                  \
	X(CLOSE_REFUSED, "refused",                                            \
	  "login refused: no such database, too many clients, disabled, "      \
	  "shutting down, unsupported")                                        \
	X(CLOSE_LOGIN_TIMEOUT, "login_timeout", "client_login_timeout")        \
	X(CLOSE_EVICTED, "evicted",                                            \
	  "too many connections logging in: the oldest made room")             \
	X(CLOSE_CANCEL, "cancel_request", "a CancelRequest, handled")          \
	X(CLOSE_TIMEOUT, "timeout",                                            \
	  "query_timeout, transaction_timeout, idle_transaction_timeout or "   \
	  "query_wait_timeout")                                                \
	X(CLOSE_SERVER_ERROR, "server_error",                                  \
	  "the server sent FATAL or went away (a client: its server's)")       \
	X(CLOSE_LOGIN_FAILED, "login_failed",                                  \
	  "a server connection could not connect or log in")                   \
	X(CLOSE_CLIENT_GONE, "client_gone",                                    \
	  "a server whose client left with a query in flight")                 \
	X(CLOSE_RESET_FAILED, "reset_failed",                                  \
	  "server_reset_query or server_check_query failed")                   \
	X(CLOSE_LIFETIME, "lifetime", "server_lifetime reached")               \
	X(CLOSE_IDLE_TIMEOUT, "idle_timeout",                                  \
	  "server_idle_timeout, or an unused autodb pool retired")             \
	X(CLOSE_RECONNECT, "close_needed",                                     \
	  "RECONNECT, or RELOAD moved its database")                           \
	X(CLOSE_ADMIN, "admin",                                                \
	  "PAUSE, KILL, SHUTDOWN, SIGTERM's drain or SIGINT")                  \
	X(CLOSE_RESOURCES, "out_of_memory", "memory or randomness ran out")    \
	X(CLOSE_SHARE, "over_share",                                           \
	  "an idle server over this process's share of max_db_connections "    \
	  "or max_user_connections (the fleet's leases)")

enum close_reason {
#define CLOSE_REASON_ENUM(code, name, meaning) code,
	CLOSE_REASON_LIST(CLOSE_REASON_ENUM)
#undef CLOSE_REASON_ENUM
		CLOSE_REASON_COUNT
};

/* The name used in SHOW CLOSES and /metrics; "unknown" out of range. */
const char *close_reason_name(enum close_reason r);
/* What it means, for SHOW CLOSES. */
const char *close_reason_meaning(enum close_reason r);

#endif
