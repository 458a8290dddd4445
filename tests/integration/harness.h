/*
 * harness.h -- helpers for the integration tests: the fixture's settings,
 * starting and stopping a real pgperf binary with a generated config, and
 * raw-socket access for malformed-input tests.
 */
#ifndef PGPERF_TEST_HARNESS_H
#define PGPERF_TEST_HARNESS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct harness_env {
	int pg_port;
	char pg_dir[512];
	char tls_cert[512];
	char tls_key[512];
	char work_dir[512];
	char pgperf_bin[512];
	char pgperf_ctl[512];
	char root_dir[512];
};

extern struct harness_env H;

/* A running pgperf. */
struct proxy {
	pid_t pid;
	int port;
	char dir[600]; /* its config, auth file and log live here */
	char config[700];
	char log[700];
};

/* Load the fixture's env file (aborts the test program if missing). */
void harness_init(void);
/*
 * Start pgperf.  `pgperf_extra` is added to [pgperf], `dbs_extra` to
 * [databases]; the default [databases] maps appdb to the fixture's
 * PostgreSQL, and the auth file knows app, md5user, admin and stats.
 */
bool proxy_start(struct proxy *p, const char *pgperf_extra,
		 const char *dbs_extra);
/* Stop it with `sig` and return its exit status (-1 on timeout). */
int proxy_stop(struct proxy *p, int sig);
/* Run pgperf-ctl against it; returns its output (static buffer). */
const char *proxy_ctl(const struct proxy *p, const char *user,
		      const char *password, const char *args, int *status);
/* libpq connection to pgperf; caller checks PQstatus. */
PGconn *proxy_connect(const struct proxy *p, const char *user,
		      const char *password, const char *db, const char *extra);
/* libpq connection straight to the fixture's PostgreSQL, as app. */
PGconn *pg_connect_direct(void);
/* Run one statement expecting success; returns the first value (static). */
const char *q1(PGconn *c, const char *sql);
/* SQLSTATE of a failed result/connection, "" if none. */
const char *result_sqlstate(PGresult *r);
/* The pid stored in the log has been seen: read the proxy's log file. */
bool proxy_log_contains(const struct proxy *p, const char *needle);
/* Count of open file descriptors and RSS (kB) of a process. */
int proc_fd_count(pid_t pid);
long proc_rss_kb(pid_t pid);
/* Server connections logged in as app, not counting the one asking. */
int pg_count_app_backends(void);
/* Restart the fixture's PostgreSQL (fast). */
bool pg_restart(void);

/*
 * Waiting for a condition instead of for a while: each polls every 20 ms
 * until what it waits for holds, and gives up after `timeout_ms` (false).
 */
bool wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms);
/* Is a statement matching LIKE `pattern` running in PostgreSQL? */
bool pg_wait_running(const char *pattern, int timeout_ms);
/* Has the backend `pid` left pg_stat_activity? */
bool pg_wait_backend_gone(const char *pid, int timeout_ms);
/* Does `pgperf-ctl ARGS` (as admin) print `needle` (or not, `present`
 * false)? */
bool proxy_ctl_wait(const struct proxy *p, const char *args, const char *needle,
		    bool present, int timeout_ms);
/* Does the log contain `needle`? */
bool proxy_wait_log(const struct proxy *p, const char *needle, int timeout_ms);

/* Raw sockets */
int raw_connect(int port);
bool raw_send(int fd, const void *p, size_t n);
/* Read one message (type + body) with a timeout; false on EOF/timeout. */
bool raw_read_msg(int fd, char *type, uint8_t *body, size_t cap, uint32_t *len,
		  int timeout_ms);
/* Read messages until an ErrorResponse; returns its SQLSTATE or NULL. */
const char *raw_expect_error(int fd, int timeout_ms);
/* True if the peer closed the connection within the timeout. */
bool raw_wait_closed(int fd, int timeout_ms);
/* Build a startup packet for user/database into buf; returns its length. */
size_t raw_startup(uint8_t *buf, const char *user, const char *db);
/* Log in on a trust-mode proxy: startup, then read up to ReadyForQuery. */
bool raw_login(int fd, const char *user, const char *db);

#endif
