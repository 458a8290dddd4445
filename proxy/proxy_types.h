/*
 * proxy_types.h -- the types the proxy's connection modules share: the
 * daemon (`struct pgperf`), connections, clients, servers and pools.
 * Types only; the functions live in client.h, server.h, pool.h, daemon.h.
 *
 * Ownership: the daemon owns pools; a pool owns its servers and the clients
 * attached to it; a client and a server linked together only borrow each
 * other.  Every client and server is on exactly one list at a time, the one
 * for its state, and only client_set_state()/server_set_state() move it.
 */
#ifndef PGPERF_PROXY_TYPES_H
#define PGPERF_PROXY_TYPES_H

#include "proto/close_reason.h"
#include "proxy/config.h"
#include "console/fence.h"
#include "lib/kv.h"
#include "lib/list.h"
#include "tap/observe.h"
#include "proto/prepared.h"
#include "proto/scram.h"
#include "proto/wire.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

/* One per session_state.h bit. */
#define POOL_HAZARD_KINDS 8

struct bufferevent;
struct evconnlistener;
struct pool;
struct client;
struct server;
struct cache_op;
struct cache_fill;

/* What clients and servers share: the socket and its buffers. */
struct conn {
	struct pgperf *pp;	 /* borrowed */
	struct bufferevent *bev; /* owned; NULL once freed */
	struct event *rev; /* owned: pgperf's own reads (conn.c), or NULL */
	bufferevent_data_cb
		read_cb; /* with rev: what the bufferevent would call */
	bufferevent_event_cb event_cb;
	void *cb_arg;
	uint64_t id;
	char label[160]; /* "C-12 appdb/alice@127.0.0.1:50122" */
	char addr[64];	 /* peer address */
	int port;	 /* peer port; 0 on unix sockets */
	char local_addr[64];
	int local_port;
	bool tls;
	/* SUSPEND stops its reads (a relaying client, a server); while
	 * suspended, want_read remembers that reads were on */
	bool suspendable, want_read;
	bool throttled;		   /* reads stopped until the peer drains */
	bool closing;		   /* close requested: flushing, then reaped */
	bool dead;		   /* the peer is gone: free without flushing */
	int64_t connect_us;	   /* wall-clock microseconds, for SHOW */
	int64_t close_deadline_us; /* monotonic: stop flushing after this */
	uint32_t fwd_remaining; /* bytes of the current message still to pass on */
};

/* The result cache's state for one client (cache.c). */
#define CL_CACHE_INVAL 8
struct cl_cache {
	struct cache_op *op;	 /* a lookup or invalidation in flight */
	struct cache_fill *fill; /* owned: a miss's reply being captured */
	uint64_t inval[CL_CACHE_INVAL]; /* tables written since the last
					   ReadyForQuery */
	uint8_t ninval;
	bool inval_all; /* ... or anything in the database */
	bool released;	/* the held ReadyForQuery may pass now */
};

enum client_state {
	CL_STARTUP,	/* reading the startup packet (maybe after TLS) */
	CL_AUTH,	/* password / SASL exchange */
	CL_WAIT_SERVER, /* authenticated, queued for a server connection */
	CL_SETUP,	/* linked; its startup parameters are being applied */
	CL_ACTIVE,	/* linked and relaying */
	CL_IDLE,	/* transaction mode: logged in, between transactions */
	CL_ADMIN,	/* talking to the admin console */
	CL_CLOSING,	/* flushing its last bytes; reaped soon */
};

enum auth_step {
	AUTH_STEP_NONE,
	AUTH_STEP_LOOKUP, /* waiting for auth_query's answer */
	AUTH_STEP_MD5,
	AUTH_STEP_SASL_FIRST,
	AUTH_STEP_SASL_FINAL
};

struct client {
	struct conn c;
	enum client_state state;
	struct list node;      /* on the list of its state */
	struct list all_node;  /* on pp->all_clients */
	struct pool *pool;     /* borrowed; set once authenticated */
	struct server *server; /* borrowed; the linked server */

	char *user;	      /* owned */
	char *database;	      /* owned */
	struct kvlist params; /* owned: startup parameters to apply */
	/* owned: transaction mode, its plain SETs of unreported settings,
	 * restored on each server connection it gets instead of pinning */
	struct kvlist sets;
	/* session_params_digest() of params: reported values, and how many
	 * startup settings are not reported ones */
	uint64_t rep_digest;
	int unreported;
	bool unix_socket;
	bool direct_tls; /* TLS from the first byte (sslnegotiation=direct) */
	int proto_minor;

	/* our BackendKeyData for this client, for CancelRequest */
	uint32_t cancel_pid;
	uint32_t cancel_key;

	/* authentication */
	enum auth_step auth_step;
	uint8_t md5_salt[4];
	struct scram_server scram;
	struct auth_user *looked_up; /* owned: from auth_query, or NULL */
	bool auth_user_known;
	bool admin;
	bool admin_readonly;

	int64_t login_start_us; /* monotonic */
	int64_t wait_start_us;	/* monotonic; when it began to wait */
	bool wait_saturated;	/* ... with every server of its pool busy */
	int64_t request_us;	/* wall clock of the last request */
	bool welcomed;		/* has had its ReadyForQuery after login */
	uint32_t hazards_seen;	/* session_state bits counted in its pool */
	struct obs_client obs;	/* statements awaiting replies, for stats */
	struct cl_cache cache;	/* the result cache's */
	/* transaction mode: its protocol-level prepared statements */
	struct prep_client_map prep;
	bool skip_until_sync;	 /* pgperf failed a request: drop till Sync */
	uint32_t drop_remaining; /* bytes of a dropped message still to come */
	bool drain_pending;	 /* close at the next idle point (SIGTERM) */
	/* admin console: a command waiting for the analyzer (fence.h), and
	 * whether the command at the head of its input has waited already */
	struct fence_waiter fence;
	bool fence_passed;
	/* admin console: PAUSE, SUSPEND or WAIT_CLOSE waiting (admin_hold.c)
	 * on pp->hold_waiters; its database, or NULL for all */
	int hold_wait;
	struct list hold_node;
	char *hold_db; /* owned */
};

enum server_state {
	SV_CONNECTING, /* TCP connect in progress */
	SV_TLS_WAIT,   /* sent SSLRequest, waiting for 'S' or 'N' */
	SV_LOGIN,      /* startup packet sent, authenticating */
	SV_IDLE,       /* in the pool, ready */
	SV_SETUP,      /* linked; applying the client's parameters */
	SV_ACTIVE,     /* linked and relaying */
	SV_RESET,      /* running server_reset_query after a client left */
	SV_CHECK,      /* running server_check_query before reuse */
	SV_CLOSING,    /* being closed; reaped soon */
};

struct server {
	struct conn c;
	enum server_state state;
	struct list node;
	struct pool *pool;     /* borrowed */
	struct client *client; /* borrowed: the client it serves */

	uint32_t backend_pid;
	uint32_t backend_key;
	struct kvlist params; /* owned: ParameterStatus values */
	char tx_status;	      /* from the last ReadyForQuery */
	int rfq_pending;      /* ReadyForQuery messages still to come */
	/* monotonic: the client's request in flight began, its transaction
	 * began (both set when a request starts with nothing in flight),
	 * and the last ReadyForQuery inside a transaction (the timeouts) */
	int64_t query_since_us, xact_since_us, idle_xact_since_us;
	bool unsynced;	   /* extended-protocol messages without a Sync */
	bool got_fatal;	   /* the server sent a FATAL error */
	bool close_needed; /* close instead of reusing */
	/* closing: its backend is alive until PostgreSQL closes the socket
	 * (it leaves pg_stat_activity first), so the pool counts it until
	 * then, within the close deadline */
	bool await_eof;
	/* session state left by its clients (session_state.h bits); in
	 * transaction mode a non-zero value pins the client */
	uint32_t session_state;
	/*
	 * Transaction mode: the pid pgperf gave the client that last sent
	 * NOTIFY or pg_notify() here (0 = none); a NotificationResponse that
	 * names this server's backend is told as coming from it.  Kept while
	 * the notifier's notifications may still be on their way; forgotten
	 * when another client's transaction here ends without notifying.
	 */
	uint32_t notify_pid;
	bool notify_sent; /* the transaction in progress sent one */
	/* owned: non-reported settings pgperf applied for the current client */
	struct kvlist applied;
	uint64_t rep_digest; /* session_params_digest() of params */
	/* a plain SET/RESET in flight (session_simple_set): kept for its
	 * client at ReadyForQuery 'I' unless an error came first */
	char *pend_name, *pend_value; /* owned */
	bool pend_reset, pend_failed;
	/* transaction mode: statements prepared here under pgperf's names,
	 * and the requests whose replies are still to come (prepared.h) */
	bool track;
	struct prep_server_cache prep;
	struct pq pq;
	struct scram_client scram;

	/* error seen while running setup/reset/check on our own account */
	char err_sqlstate[6];
	char err_message[256];

	int64_t created_us;	/* monotonic */
	int64_t idle_since_us;	/* monotonic */
	int64_t state_since_us; /* monotonic */
	int64_t request_us;	/* wall clock of the last use */
};

/* Where a pool's servers connect, derived from a [databases] entry. */
struct pool_target {
	char *host; /* owned */
	int port;
	char *dbname;	/* owned */
	char *user;	/* owned: login user on the server */
	char *password; /* owned: plain or md5 hash; NULL = none */
	int pool_size;
	int min_pool_size;
	int pool_mode;
	bool autodb; /* reached through the "*" entry */
	/* no password for the server login (an auth_query user): the SCRAM
	 * keys its clients proved, kept for the servers' logins */
	struct scram_keys keys;
	bool from_lookup; /* `password` came from auth_query, not the config */
};

/* SHOW STATS counters (PgBouncer's), per pool. */
struct pool_stats {
	uint64_t xact_count, query_count;   /* observe.c, analysis on or off */
	uint64_t xact_us, query_us;	    /* likewise */
	uint64_t recv, sent;		    /* bytes from / to clients */
	uint64_t wait_us, wait_count;	    /* waits for a server */
	uint64_t waited_count, max_wait_us; /* waits of 1 ms or more; the
					       longest (pool_saturation) */
};

/* One of the transactions that held a server connection longest. */
#define POOL_HOLDS 3
struct pool_hold {
	uint64_t us;	 /* how long */
	uint64_t shape;	 /* its slowest statement's shape */
	int64_t at_us;	 /* wall clock, when it ended */
	char query[160]; /* from the state file: the text; "" = by shape */
};

struct pool {
	struct list node;  /* on pp->pools */
	struct pgperf *pp; /* borrowed */
	char *database;	   /* owned: client-visible */
	char *user;	   /* owned: client user */
	struct pool_target target;

	struct list waiting;	    /* clients in CL_WAIT_SERVER, FIFO */
	struct list active_clients; /* clients in CL_SETUP/CL_ACTIVE */
	struct list idle_clients;   /* clients in CL_IDLE (transaction mode) */
	struct list login_servers;  /* SV_CONNECTING/SV_TLS_WAIT/SV_LOGIN */
	struct list idle_servers;   /* SV_IDLE, most recently used last */
	struct list active_servers; /* SV_SETUP/SV_ACTIVE */
	struct list tested_servers; /* SV_RESET/SV_CHECK */
	/* how many are on each server list and on `waiting`: kept by
	 * server_set_state() and client_set_state(), so that the hot path
	 * never walks a list to count it */
	int nlogin, nidle, nactive, ntested, nwaiting;
	int nclosing; /* SV_CLOSING, its backend maybe still there */

	bool dispatch_pending;	 /* the reaper should run pool_dispatch */
	int64_t next_connect_us; /* monotonic; back-off after failures */
	int64_t unused_since_us; /* monotonic; autodb pools: 0 = in use */
	bool retired;		 /* autodb: servers closing, then freed */
	bool held; /* its database is paused or killed: no servers */
	int64_t backoff_us;
	struct event *retry_ev; /* owned: wakes the pool after back-off */
	char last_error_state[6];
	char last_error[256];

	/*
	 * Pooling hazards (SHOW HAZARDS): per session_state bit, how many
	 * clients left that state on a server connection in transaction mode
	 * (pinned, or reset with transaction_pinning = off), and when last.
	 */
	uint64_t hazard_clients[POOL_HAZARD_KINDS];
	int64_t hazard_last_us[POOL_HAZARD_KINDS]; /* wall clock */

	/* counters for SHOW POOLS / SHOW STATS */
	uint64_t total_logins;
	uint64_t total_wait_us;
	struct pool_stats st;		    /* since start or RESET STATS */
	struct pool_hold holds[POOL_HOLDS]; /* longest first; likewise */
	struct pool_stats st_prev; /* at the start of the last stats_period */
	struct pool_stats st_rate; /* over the last whole stats_period */
};

/* The daemon: everything the I/O thread owns.  No mutable globals. */
struct evhttp;
struct authq;
struct evhttp_connection;

struct pgperf {
	struct event_base *base; /* owned */
	struct config *cfg;	 /* owned: the current snapshot */
	char *config_path;	 /* owned; NULL without a file */
	char *upstream_url;	 /* owned; NULL without --upstream */
	char *listen_override;	 /* owned: --listen HOST:PORT */

	struct evconnlistener *listeners[16]; /* owned */
	int nlisteners;
	char unix_socket_path[256];

	SSL_CTX *client_tls; /* owned; NULL when client TLS is off */
	SSL_CTX *server_tls; /* owned; NULL when server TLS is off */

	uint64_t cancels_forwarded, cancels_dropped; /* to/for peers */
	struct list pools;
	struct prep_registry prep; /* distinct prepared statements */
	struct analyzer *ana;	   /* owned: the analyzer thread */
	struct cache *cache;	   /* owned: the Redis result cache, or NULL */
	/* the fleet (fleet/fleet.h, proxy/fleet_link.c), or NULL */
	struct fleet *fleet;	      /* owned */
	struct event *fleet_ev;	      /* owned: its leases changed */
	struct fleet_cap *fleet_caps; /* owned: the leases held */
	size_t nfleet_caps;
	int fleet_live; /* live members, as the leases and the view said */
	/* owned: scopes found without a running lease while Redis was up,
	 * and since when (fleet_link.c) */
	struct fleet_pending *fleet_pending;
	size_t nfleet_pending;
	int64_t fleet_wanted_us;  /* monotonic: last urgent ask */
	struct obs_known known;	  /* shapes whose text the analyzer has */
	struct evhttp *http;	  /* owned: /metrics etc., or NULL */
	struct authq *authq;	  /* owned: auth_query lookups, or NULL */
	struct list http_waiting; /* HTTP requests waiting on a fence */
	/* HTTP connections that have sent a request and are open */
	struct evhttp_connection **http_conns; /* owned */
	int nhttp_conns, http_conns_cap;
	/* readers waiting for the analyzer (fence.c) */
	struct list fence_waiters;
	struct event *fence_ev;	   /* owned: the analyzer's notify fd */
	struct event *fence_timer; /* owned: deadlines */
	struct list all_clients;
	struct list login_clients; /* CL_STARTUP, CL_AUTH */
	struct list admin_clients; /* CL_ADMIN */
	struct list reap_clients;  /* CL_CLOSING */
	struct list reap_servers;  /* SV_CLOSING */
	struct event *reap_ev;	   /* owned */
	struct event *tick_ev;	   /* owned: once a second maintenance */
	struct event *sig_ev[8];   /* owned */

	int nclients;
	int nlogin; /* of them, still logging in (CL_STARTUP, CL_AUTH) */
	uint64_t startup_errors; /* startup packets closed unanswered */
	/* connections closed, per side and reason (close_reason.h) */
	uint64_t client_closes[CLOSE_REASON_COUNT];
	uint64_t server_closes[CLOSE_REASON_COUNT];
	uint64_t next_id;
	/* PAUSE, SUSPEND, KILL, DISABLE (admin_hold.c): everything paused;
	 * relaying reads stopped; the databases paused (or killed) and
	 * disabled by name (value unused) */
	bool paused;
	bool suspended;
	struct kvlist held_dbs, disabled_dbs;
	struct list hold_waiters; /* admin clients waiting on a hold */
	struct event *hold_timer; /* owned: re-checks while they wait */
	int64_t stats_tick_us;	  /* monotonic: last stats_period boundary */
	bool draining; /* SIGTERM: no new clients, close at idle points */
	int64_t drain_start_us;
	int exit_code;
	/* the pools' share of the state file (pool_state.c) */
	struct pool_saved *saved; /* owned: loaded, applied as pools appear */
	size_t nsaved;
	bool saved_taken;	 /* the analyzer's load was looked at */
	int64_t saved_handed_us; /* monotonic: pools last handed over */
};

#endif
