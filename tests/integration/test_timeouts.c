/*
 * test_timeouts.c -- the timeouts and pool settings production needs,
 * with PgBouncer's names and meanings: idle_transaction_timeout,
 * query_timeout, transaction_timeout, reserve_pool_size with
 * reserve_pool_timeout, server_round_robin, and tcp_keepalive with
 * tcp_keepidle/tcp_keepintvl/tcp_keepcnt.  Each is checked against a
 * control that must not trip it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct proxy p;

static int stop_proxy(void **state)
{
	(void)state;
	if (p.pid > 0)
		proxy_stop(&p, SIGKILL);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PGconn *app(void)
{
	PGconn *c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	return c;
}

static void ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/*
 * Run `sql`, expect it to fail with `sqlstate`.  A FATAL error comes with
 * the connection's end, and libpq's result is then the lost connection;
 * the verbose error message keeps both.
 */
static void fails_with(PGconn *c, const char *sql, const char *sqlstate)
{
	PGresult *r;
	char want[16];

	PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
	r = PQexec(c, sql);
	assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_not_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	snprintf(want, sizeof(want), "%s:", sqlstate);
	if (!strstr(PQerrorMessage(c), want))
		fail_msg("expected %s, got: %s", sqlstate, PQerrorMessage(c));
}

/* Backends of app running `pattern` right now, straight from PostgreSQL. */
static int running(const char *pattern)
{
	PGconn *d = pg_connect_direct();
	char sql[256];
	const char *v;
	int n;

	snprintf(sql, sizeof(sql),
		 "select count(*) from pg_stat_activity where usename = 'app' "
		 "and state = 'active' and pid <> pg_backend_pid() "
		 "and query like '%s'",
		 pattern);
	v = q1(d, sql);
	n = v ? atoi(v) : -1;
	PQfinish(d);
	return n;
}

static void test_idle_transaction_timeout(void **state)
{
	PGconn *c, *idle;

	(void)state;
	assert_true(proxy_start(&p,
				"pool_mode = transaction\n"
				"idle_transaction_timeout = 1\n",
				NULL));
	c = app();
	idle = app();
	ok(idle, "select 1"); /* idle, but not in a transaction */
	ok(c, "begin");
	ok(c, "create temp table if not exists itt(a int)");
	sleep(3);
	/* the FATAL came while it sat idle in its transaction */
	fails_with(c, "select 1", "25P03");
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	PQfinish(c);
	ok(idle, "select 1"); /* the control was left alone */
	/* the server rolled back and serves others (pool of 20, one used) */
	ok(idle, "begin");
	ok(idle, "commit");
	PQfinish(idle);
	assert_true(proxy_log_contains(&p, "idle_transaction_timeout"));
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_query_timeout(void **state)
{
	PGconn *c;
	double t0;
	int left = -1;

	(void)state;
	assert_true(proxy_start(&p, "query_timeout = 1\n", NULL));
	c = app();
	ok(c, "select pg_sleep(0.3)"); /* under the timeout */
	t0 = now_s();
	fails_with(c, "select pg_sleep(30) -- qt", "57014");
	/* the 1 s tick notices it between 1 and 2 s */
	assert_true(now_s() - t0 < 5.0);
	PQfinish(c);
	/* and the backend stopped working on it: cancelled, not left */
	for (int i = 0; i < 50 && left != 0; i++) {
		usleep(100000);
		left = running("%pg_sleep(30) -- qt%");
	}
	assert_int_equal(left, 0);
	c = app();
	ok(c, "select 1");
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_transaction_timeout(void **state)
{
	PGconn *c;
	bool failed = false;
	double t0;

	(void)state;
	assert_true(proxy_start(&p,
				"pool_mode = transaction\n"
				"transaction_timeout = 2\n",
				NULL));
	c = app();
	/* autocommit statements for 3 s: each is its own transaction */
	t0 = now_s();
	while (now_s() - t0 < 3.0)
		ok(c, "select pg_sleep(0.2)");
	/* one transaction of short statements, none idle for long */
	ok(c, "begin");
	t0 = now_s();
	PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
	for (int i = 0; i < 20 && !failed; i++) {
		PGresult *r = PQexec(c, "select pg_sleep(0.4)");

		failed = PQresultStatus(r) != PGRES_TUPLES_OK;
		PQclear(r);
	}
	assert_true(failed);
	assert_non_null(strstr(PQerrorMessage(c), "25P04:"));
	assert_true(now_s() - t0 < 6.0);
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_reserve_pool(void **state)
{
	PGconn *a, *b;
	double t0, waited;

	(void)state;
	assert_true(proxy_start(&p,
				"default_pool_size = 1\n"
				"reserve_pool_size = 1\n"
				"reserve_pool_timeout = 0.5\n",
				NULL));
	a = app(); /* session mode: holds the pool's one server */
	ok(a, "select 1");
	t0 = now_s();
	b = app(); /* waits, then gets a reserve connection */
	waited = now_s() - t0;
	ok(b, "select 1");
	print_message("second client waited %.2f s\n", waited);
	assert_true(waited >= 0.4);
	assert_true(waited < 3.0);
	assert_int_equal(pg_count_app_backends(), 2);
	PQfinish(a);
	PQfinish(b);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);

	/* without a reserve the second client waits for the first */
	assert_true(proxy_start(&p,
				"default_pool_size = 1\n"
				"query_wait_timeout = 2\n",
				NULL));
	a = app();
	ok(a, "select 1");
	b = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(b), CONNECTION_BAD);
	PQfinish(b);
	PQfinish(a);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

/* Distinct backend pids over `n` transactions of one client. */
static int distinct_backends(int n)
{
	char seen[16][32];
	int nseen = 0;
	PGconn *c = app();

	for (int i = 0; i < n; i++) {
		const char *pid = q1(c, "select pg_backend_pid()");
		int k;

		assert_non_null(pid);
		for (k = 0; k < nseen && strcmp(seen[k], pid) != 0; k++)
			;
		if (k == nseen && nseen < 16)
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", pid);
	}
	PQfinish(c);
	return nseen;
}

static void wait_backends(int n)
{
	for (int i = 0; i < 100 && pg_count_app_backends() < n; i++)
		usleep(50000);
	assert_int_equal(pg_count_app_backends(), n);
}

static void test_server_round_robin(void **state)
{
	(void)state;
	/* three warm servers; LIFO by default: always the same one */
	assert_true(proxy_start(&p,
				"pool_mode = transaction\n"
				"default_pool_size = 3\n"
				"min_pool_size = 3\n",
				NULL));
	distinct_backends(1); /* the pool exists from the first login */
	wait_backends(3);
	assert_int_equal(distinct_backends(6), 1);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);

	/* round robin: each transaction on the least recently used */
	assert_true(proxy_start(&p,
				"pool_mode = transaction\n"
				"default_pool_size = 3\n"
				"min_pool_size = 3\n"
				"server_round_robin = 1\n",
				NULL));
	distinct_backends(1);
	wait_backends(3);
	assert_int_equal(distinct_backends(6), 3);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

/*
 * The keepalive timer of pgperf's end of a client connection, from
 * /proc/net/tcp: `tr` 2 is the keepalive timer, `when` in clock ticks.
 * Returns the ticks left, or -1 when the socket has no keepalive timer.
 */
static long keepalive_ticks(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	long when = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned lport, st, tr;
		unsigned long tm;

		if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x %x:%lx",
			   &lport, &st, &tr, &tm) != 4)
			continue;
		if ((int)lport != port || st != 1) /* ESTABLISHED */
			continue;
		when = tr == 2 ? (long)tm : -1;
		break;
	}
	fclose(f);
	return when;
}

static void test_tcp_keepalive(void **state)
{
	PGconn *c;
	long hz = sysconf(_SC_CLK_TCK), t;

	(void)state;
	assert_true(proxy_start(&p,
				"tcp_keepidle = 7\n"
				"tcp_keepintvl = 3\n"
				"tcp_keepcnt = 4\n",
				NULL));
	c = app();
	t = keepalive_ticks(p.port);
	print_message("keepalive timer: %ld ticks (%ld a second)\n", t, hz);
	assert_true(t > 5 * hz && t <= 7 * hz); /* tcp_keepidle, not 2 h */
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);

	assert_true(proxy_start(&p, "tcp_keepalive = off\n", NULL));
	c = app();
	assert_int_equal(keepalive_ticks(p.port), -1);
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_idle_transaction_timeout,
					  stop_proxy),
		cmocka_unit_test_teardown(test_query_timeout, stop_proxy),
		cmocka_unit_test_teardown(test_transaction_timeout, stop_proxy),
		cmocka_unit_test_teardown(test_reserve_pool, stop_proxy),
		cmocka_unit_test_teardown(test_server_round_robin, stop_proxy),
		cmocka_unit_test_teardown(test_tcp_keepalive, stop_proxy),
	};

	harness_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
