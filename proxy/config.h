/*
 * config.h -- the configuration snapshot.  A snapshot is immutable once
 * loaded; RELOAD builds a new one and swaps it in, so code holding the old
 * one for the duration of a callback is never surprised.
 */
#ifndef PGPERF_CONFIG_H
#define PGPERF_CONFIG_H

#include "proto/auth.h"
#include "lib/common.h"

enum auth_type { AUTH_TRUST, AUTH_MD5, AUTH_SCRAM };
enum pool_mode { POOL_SESSION, POOL_TRANSACTION };
enum cache_mode { CACHE_OFF, CACHE_RULES, CACHE_AUTO };
enum tls_mode {
	TLS_DISABLE,
	TLS_ALLOW,
	TLS_PREFER,
	TLS_REQUIRE,
	TLS_VERIFY_CA,
	TLS_VERIFY_FULL
};

/* One entry of [databases]: where a client-visible database really lives. */
struct db_def {
	char *name;    /* owned: client-visible name, or "*" */
	char *connstr; /* owned: the text as written, without the password */
	char *host;    /* owned: host name, IP, or a unix socket directory */
	int port;
	char *dbname;	   /* owned; NULL = the client-visible name */
	char *user;	   /* owned; NULL = the client's user */
	char *password;	   /* owned; NULL = from the auth file */
	int pool_size;	   /* -1 = default_pool_size */
	int min_pool_size; /* -1 = min_pool_size */
	int pool_mode;	   /* -1 = pool_mode */
};

struct config {
	char *path; /* owned; NULL when started without a file */

	/* [pgperf] */
	char *listen_addr;
	int listen_port;
	char *unix_socket_dir;
	int auth_type;
	char *auth_file;
	char *admin_users;
	char *stats_users;
	int pool_mode;
	int transaction_pinning;
	int max_prepared_statements; /* per server connection; 0 = pin */
	int analysis;		     /* statement statistics on/off */
	int stats_period;	     /* seconds: SHOW STATS avg_ columns */
	int max_tracked_queries;     /* fingerprints kept; the rest: "other" */
	int request_idle_gap_ms;     /* an idle gap this long ends a request */
	int nplus1_min_repeats;	     /* child executions that make an N+1 */
	int sequential_min_ms;	     /* a slow read, for sequential_queries */
	int slow_query_ms;	     /* p95 at least this: slow_query; 0 off */
	int index_advice;	     /* on/off */
	int index_min_table_rows;    /* smaller tables get no index advice */
	char *redis_url;	     /* "" = no result cache, no fleet */
	int fleet;		     /* on/off: fleet view and leases (with
					redis_url) */
	int fleet_lease_ttl;	     /* seconds: a lease's life */
	char *cache_namespace;	     /* part of every key: pgperfs in front
					of different clusters, one Redis */
	int cache_mode;		     /* enum cache_mode */
	int cache_ttl;		     /* seconds, cache_mode = auto */
	char *cache_rules;	   /* "table:NAME=TTL|never fingerprint:..." */
	int cache_max_entry_bytes; /* larger replies are not cached */
	int cache_auto_min_calls;  /* auto: calls before a shape is cached */
	int cache_auto_min_rate;   /* auto: ... and calls per minute */
	int cache_auto_min_repeat_pct; /* auto: ... and % repeating a recent
					  statement (hit potential) */
	int redis_timeout_ms;	       /* slower: the breaker opens */
	char *state_file;	       /* "" = statistics are not saved */
	int64_t state_save_interval;   /* ms between saves */
	/* service levels the report checks the workload against */
	int slo_route_p95_ms, slo_route_p99_ms;
	int slo_queries_per_request; /* fewer per request */
	int slo_cache_hit_pct;	     /* cached queries: at least */
	double slo_error_rate_pct;   /* under */
	int slo_pool_size_min, slo_pool_size_max;
	char *http_listen_addr;
	int http_listen_port;	  /* 0 = no HTTP endpoint */
	char *http_auth_token;	  /* "" = /metrics and /queries need no token */
	char *http_allowed_hosts; /* Host names answered besides addresses */
	int http_max_connections;
	int http_timeout; /* seconds */
	int default_pool_size;
	int min_pool_size;
	int max_client_conn;
	int autodb_max_pools;	 /* pools through "*" at once */
	int autodb_idle_timeout; /* seconds before an unused one is freed */
	int max_prepared_statement_size;    /* a named Parse kept whole */
	int max_client_prepared_statements; /* named, per client session */
	int max_login_clients; /* still logging in, all addresses */
	char *auth_user;       /* "" = no auth_query lookups */
	char *auth_query;      /* $1 = the user name; returns name, secret */
	int max_login_clients_per_host; /* ... from one address; 0 = no cap */
	int listen_backlog;
	int max_db_connections;
	int max_user_connections;	/* server connections per login user */
	int64_t query_wait_timeout;	/* ms; 0 = forever */
	int64_t server_connect_timeout; /* ms */
	int64_t server_idle_timeout;	/* ms; 0 = never */
	int64_t server_lifetime;	/* ms; 0 = forever */
	int64_t server_check_delay;	/* ms */
	int64_t client_login_timeout;	/* ms; 0 = forever */
	int64_t shutdown_timeout;	/* ms; 0 = wait forever */
	/* PgBouncer's, with its meanings; ms, 0 = off */
	int64_t idle_transaction_timeout; /* idle in a transaction */
	int64_t query_timeout;		  /* a query running */
	int64_t transaction_timeout;	  /* a transaction open */
	int reserve_pool_size;		  /* extra servers for long waits */
	int64_t reserve_pool_timeout;	  /* ms a client waits before */
	int server_round_robin;		  /* on: idle servers FIFO, not LIFO */
	int tcp_keepalive;		  /* SO_KEEPALIVE on TCP sockets */
	int tcp_keepidle, tcp_keepintvl, tcp_keepcnt; /* 0 = the kernel's */
	char *server_reset_query;
	char *server_check_query;
	int client_tls_sslmode;
	char *client_tls_cert_file;
	char *client_tls_key_file;
	char *client_tls_ca_file;
	int server_tls_sslmode;
	int server_allow_cleartext; /* cleartext password over plain TCP */
	char *server_tls_ca_file;
	char *logfile;
	char *pidfile;
	int log_level;
	int max_packet_size;
	char *application_name_add_host; /* reserved, unused */

	/* [databases] */
	struct db_def *dbs; /* owned array */
	int ndbs;

	/* several processes as one: SO_REUSEPORT, this process's id among
	 * its peers, and [peers], where cancels for the others go */
	int so_reuseport;
	int peer_id; /* 1..CONFIG_MAX_PEER_ID; 0 = not one of several */
	struct peer_def *peers; /* owned array */
	int npeers;

	/* the auth file (or the single user of --upstream), loaded with it */
	struct userlist users;
};

/* The largest peer_id: it takes the top byte of the cancel key. */
#define CONFIG_MAX_PEER_ID 255

/* One [peers] entry: another pgperf process and where it listens. */
struct peer_def {
	int id;
	char *host; /* owned: an address, a name or a unix socket directory */
	int port;
};

/* The [peers] entry with this id, or NULL. */
const struct peer_def *config_peer(const struct config *cfg, int id);

struct config *config_new_defaults(void);
void config_free(struct config *cfg);

/*
 * Load an ini file into a fresh snapshot.  On any error returns
 * PGP_ERR_CONFIG and writes "FILE:LINE: message" into err; nothing is
 * half-applied.
 */
enum pgp_status config_load_file(const char *path, struct config **out,
				 char *err, size_t errlen) WARN_UNUSED;
/* Parse one ini file into an existing snapshot (no final checks). */
enum pgp_status config_parse_file(struct config *cfg, const char *path,
				  char *err, size_t errlen) WARN_UNUSED;
/* Parse ini text (for tests and the loader). `name` labels error messages. */
enum pgp_status config_parse(struct config *cfg, const char *name,
			     const char *text, char *err,
			     size_t errlen) WARN_UNUSED;
/* Set one [pgperf] key from text, with the same validation as the file. */
enum pgp_status config_set(struct config *cfg, const char *key,
			   const char *value, char *err,
			   size_t errlen) WARN_UNUSED;
/* Add a [databases] entry. */
enum pgp_status config_add_db(struct config *cfg, const char *name,
			      const char *connstr, char *err,
			      size_t errlen) WARN_UNUSED;
/*
 * Configure from a postgresql:// URL: the URL's database (and `*`) route to
 * its host, and its user/password become the one user clients log in with.
 */
enum pgp_status config_apply_upstream(struct config *cfg, const char *url,
				      char *err, size_t errlen) WARN_UNUSED;
/* Checks that need the whole snapshot; loads the auth file. */
enum pgp_status config_finish(struct config *cfg, char *err,
			      size_t errlen) WARN_UNUSED;

/* Exact name first, then "*"; NULL when neither exists. */
const struct db_def *config_find_db(const struct config *cfg, const char *name);
/* Is `user` listed in a comma-separated list such as admin_users? */
bool config_user_listed(const char *list, const char *user);

typedef void (*config_show_fn)(void *arg, const char *key, const char *value,
			       const char *def, bool reloadable);
/* Report every [pgperf] key with its current value and default. */
/* Every key, its value and default, for SHOW CONFIG: secrets masked
 * (http_auth_token, the password in redis_url). */
void config_show(const struct config *cfg, config_show_fn fn, void *arg);
/*
 * redis://[:password@]host[:port][/db] into its parts (host 127.0.0.1 and
 * port 6379 when left out); false when it is not such a URL.
 */
bool config_parse_redis_url(const char *url, char *host, size_t hostcap,
			    int *port, char *password, size_t pwcap, int *db);
/* A URL with its password, if any, replaced by asterisks. */
void config_mask_url(const char *url, char *buf, size_t len);
/* Is a change of `key` between two snapshots only effective on restart? */
bool config_needs_restart(const struct config *a, const struct config *b,
			  const char **key);

/* Copy one [pgperf] key's value from `src` into `dst`. */
bool config_copy_key(struct config *dst, const struct config *src,
		     const char *key);
const char *config_auth_type_name(int t);
/* libpq's sslmode word for a TLS_* mode: the same words. */
const char *config_tls_mode_name(int m);
const char *config_pool_mode_name(int m);

#endif
