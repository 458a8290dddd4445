/*
 * test_pool.c -- pooling under load and failure: 200 clients on a pool of
 * 20, max_client_conn, query_wait_timeout, min_pool_size, a backend killed
 * mid-transaction, PostgreSQL restarted under load, SIGTERM drain, and
 * SIGHUP reload (good and bad).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Each test's pgperf; stopped by the teardown even when the test fails. */
static struct proxy p;

static int stop_proxy(void **state)
{
	(void)state;
	if (p.pid > 0)
		proxy_stop(&p, SIGKILL);
	return 0;
}

struct worker {
	struct proxy *p;
	int id;
	int rounds;
	int ok;
	int failed;
	double slowest_connect; /* seconds */
	char last_error[256];
};

static void *many_clients_worker(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < w->rounds; i++) {
		double t0 = now_s();
		/* the wait for a server counts in connect_timeout: 200 clients
		 * queue for 20 servers, and under ASan the last in line waited
		 * 5-8.5 s (Debug: 1.3-2.3 s), too close to the usual 10 s */
		PGconn *c = proxy_connect(w->p, "app", "app-secret", "appdb",
					  "connect_timeout=30");
		char sql[64];
		PGresult *r;

		if (now_s() - t0 > w->slowest_connect)
			w->slowest_connect = now_s() - t0;

		if (PQstatus(c) != CONNECTION_OK) {
			snprintf(w->last_error, sizeof(w->last_error), "%s",
				 PQerrorMessage(c));
			w->failed++;
			PQfinish(c);
			continue;
		}
		snprintf(sql, sizeof(sql), "select %d from pg_sleep(0.005)",
			 w->id * 1000 + i);
		/* q1() is not thread-safe: use a result of our own */
		r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK &&
		    atoi(PQgetvalue(r, 0, 0)) == w->id * 1000 + i) {
			w->ok++;
		} else {
			snprintf(w->last_error, sizeof(w->last_error),
				 "query: %s", PQerrorMessage(c));
			w->failed++;
		}
		PQclear(r);
		PQfinish(c);
	}
	return NULL;
}

static void test_200_clients_on_pool_of_20(void **state)
{
	enum { N = 200 };
	static struct worker w[N];
	pthread_t th[N];
	int ok = 0, failed = 0, peak = 0;
	double slowest = 0;

	(void)state;
	assert_true(proxy_start(
		&p, "default_pool_size = 20\nmax_client_conn = 400\n", NULL));
	for (int i = 0; i < N; i++) {
		w[i] = (struct worker){.p = &p, .id = i, .rounds = 3};
		assert_int_equal(pthread_create(&th[i], NULL,
						many_clients_worker, &w[i]),
				 0);
	}
	for (int k = 0; k < 10; k++) {
		int n = pg_count_app_backends();

		if (n > peak)
			peak = n;
		usleep(50000);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
		failed += w[i].failed;
		if (w[i].slowest_connect > slowest)
			slowest = w[i].slowest_connect;
		if (w[i].failed)
			fprintf(stderr, "worker %d: %s\n", i, w[i].last_error);
	}
	fprintf(stderr,
		"200 clients: %d ok, %d failed, peak server connections %d, slowest connect %.2f s\n",
		ok, failed, peak, slowest);
	assert_int_equal(failed, 0);
	assert_int_equal(ok, N * 3);
	assert_true(peak <= 20);
	assert_true(pg_count_app_backends() <= 20);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_max_client_conn(void **state)
{
	PGconn *c[3], *extra;

	(void)state;
	assert_true(proxy_start(&p, "max_client_conn = 3\n", NULL));
	for (int i = 0; i < 3; i++) {
		c[i] = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
		assert_int_equal(PQstatus(c[i]), CONNECTION_OK);
	}
	extra = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(extra), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(extra), "too many clients"));
	PQfinish(extra);
	/* the others are unaffected, and a slot frees up on disconnect */
	assert_string_equal(q1(c[0], "select 1"), "1");
	PQfinish(c[2]);
	/* the slot frees once pgperf has seen the disconnect */
	extra = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	for (int i = 0; i < 100 && PQstatus(extra) != CONNECTION_OK; i++) {
		PQfinish(extra);
		usleep(50000);
		extra = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	}
	assert_int_equal(PQstatus(extra), CONNECTION_OK);
	PQfinish(extra);
	PQfinish(c[0]);
	PQfinish(c[1]);
	assert_true(proxy_log_contains(&p, "53300"));
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_query_wait_timeout_and_fifo(void **state)
{
	PGconn *holder, *waiter;
	double t0;

	(void)state;
	assert_true(proxy_start(
		&p, "default_pool_size = 1\nquery_wait_timeout = 1\n", NULL));
	holder = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(holder), CONNECTION_OK);
	t0 = now_s();
	waiter = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(waiter), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(waiter), "query_wait_timeout"));
	assert_true(now_s() - t0 >= 0.9 && now_s() - t0 < 5);
	PQfinish(waiter);
	PQfinish(holder);
	/* once the holder leaves, the server serves the next client */
	waiter = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(waiter), CONNECTION_OK);
	PQfinish(waiter);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_min_pool_size_kept_warm(void **state)
{
	PGconn *c;
	int n = 0;

	(void)state;
	assert_true(proxy_start(&p, "min_pool_size = 4\n", NULL));
	c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
	for (int i = 0; i < 50 && n < 4; i++) {
		usleep(100000);
		n = pg_count_app_backends();
	}
	assert_int_equal(n, 4);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_backend_terminated_mid_transaction(void **state)
{
	PGconn *c, *d;
	char pid[32], sql[128];
	PGresult *r;

	(void)state;
	assert_true(proxy_start(&p, NULL, NULL));
	c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_non_null(q1(c, "begin"));
	snprintf(pid, sizeof(pid), "%s", q1(c, "select pg_backend_pid()"));
	d = pg_connect_direct();
	snprintf(sql, sizeof(sql), "select pg_terminate_backend(%s)", pid);
	assert_string_equal(q1(d, sql), "t");
	PQfinish(d);
	assert_true(pg_wait_backend_gone(pid, 10000));
	r = PQexec(c, "select 1");
	assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_non_null(strstr(PQerrorMessage(c), "terminating connection"));
	PQclear(r);
	PQfinish(c);
	/* nothing stuck: a fresh client gets a fresh server */
	c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_not_equal(q1(c, "select pg_backend_pid()"), pid);
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

struct load {
	struct proxy *p;
	volatile int stop;
	int ok, failed;
	int ok_after_restart;
	volatile int restarted;
	double last_op;
};

static void *load_worker(void *arg)
{
	struct load *l = arg;
	PGconn *c = NULL;

	while (!l->stop) {
		PGresult *r;

		if (!c || PQstatus(c) != CONNECTION_OK) {
			if (c)
				PQfinish(c);
			c = proxy_connect(l->p, "app", "app-secret", "appdb",
					  NULL);
			if (PQstatus(c) != CONNECTION_OK) {
				__sync_fetch_and_add(&l->failed, 1);
				usleep(50000);
				continue;
			}
		}
		r = PQexec(c, "select count(*) from generate_series(1, 1000)");
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			__sync_fetch_and_add(&l->ok, 1);
			if (l->restarted)
				__sync_fetch_and_add(&l->ok_after_restart, 1);
		} else {
			__sync_fetch_and_add(&l->failed, 1);
		}
		PQclear(r);
	}
	if (c)
		PQfinish(c);
	return NULL;
}

static void test_postgres_restart_under_load(void **state)
{
	struct load l;
	pthread_t th[8];
	PGconn *c;

	(void)state;
	assert_true(proxy_start(&p, "log_level = info\n", NULL));
	memset(&l, 0, sizeof(l));
	l.p = &p;
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, load_worker, &l),
				 0);
	/* load is flowing (allow a slow start, e.g. under valgrind) */
	for (int i = 0; i < 100 && l.ok < 20; i++)
		usleep(100000);
	assert_true(l.ok > 0);
	assert_true(pg_restart());
	l.restarted = 1;
	/* let the load run on; the pool must recover by itself */
	for (int i = 0; i < 300 && l.ok_after_restart < 50; i++)
		usleep(100000);
	l.stop = 1;
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr,
		"restart under load: %d ok, %d clean errors, %d ok after restart\n",
		l.ok, l.failed, l.ok_after_restart);
	assert_true(l.ok_after_restart >= 50);
	c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(q1(c, "select 'recovered'"), "recovered");
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_sigterm_drains(void **state)
{
	PGconn *busy, *idle, *late;
	PGresult *r;

	(void)state;
	assert_true(proxy_start(&p, NULL, NULL));
	busy = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	idle = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(busy), CONNECTION_OK);
	assert_int_equal(PQstatus(idle), CONNECTION_OK);
	assert_non_null(q1(busy, "begin"));
	assert_non_null(q1(busy, "create temp table d(x int)"));
	kill(p.pid, SIGTERM);
	assert_true(proxy_wait_log(&p, "SIGTERM: draining", 10000));
	/* no new clients */
	late = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(late), CONNECTION_BAD);
	PQfinish(late);
	/* the idle client was told, the busy one finishes its transaction */
	r = PQexec(idle, "select 1");
	assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	assert_non_null(q1(busy, "insert into d values (1)"));
	assert_string_equal(q1(busy, "select count(*) from d"), "1");
	assert_non_null(q1(busy, "commit"));
	PQfinish(idle);
	PQfinish(busy);
	/* and then pgperf exits by itself, cleanly */
	for (int i = 0; i < 500 && p.pid; i++) {
		int status;

		if (waitpid(p.pid, &status, WNOHANG) == p.pid) {
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
			p.pid = 0;
		}
		usleep(10000);
	}
	assert_int_equal(p.pid, 0);
}

static void test_sighup_reload(void **state)
{
	FILE *f;
	PGconn *c;
	const char *out;
	int st;

	(void)state;
	assert_true(proxy_start(&p, "default_pool_size = 20\n", NULL));
	c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	/* a good change applies */
	f = fopen(p.config, "a");
	fprintf(f, "[pgperf]\ndefault_pool_size = 7\n");
	fclose(f);
	kill(p.pid, SIGHUP);
	assert_true(proxy_ctl_wait(
		&p, "--json config",
		"\"key\": \"default_pool_size\", \"value\": 7", true, 10000));
	/* a bad change is refused, with the reason, and nothing changes */
	f = fopen(p.config, "a");
	fprintf(f, "no_such_key = 1\n");
	fclose(f);
	kill(p.pid, SIGHUP);
	assert_true(proxy_wait_log(&p, "reload failed", 10000));
	assert_true(proxy_log_contains(&p, "unknown key \"no_such_key\""));
	out = proxy_ctl(&p, "admin", "admin-secret", "--json config", &st);
	assert_non_null(
		strstr(out, "\"key\": \"default_pool_size\", \"value\": 7"));
	assert_string_equal(q1(c, "select 'alive'"), "alive");
	/* RELOAD from the console says why it failed */
	out = proxy_ctl(&p, "admin", "admin-secret", "reload", &st);
	assert_int_not_equal(st, 0);
	assert_non_null(strstr(out, "no_such_key"));
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_200_clients_on_pool_of_20,
					  stop_proxy),
		cmocka_unit_test_teardown(test_max_client_conn, stop_proxy),
		cmocka_unit_test_teardown(test_query_wait_timeout_and_fifo,
					  stop_proxy),
		cmocka_unit_test_teardown(test_min_pool_size_kept_warm,
					  stop_proxy),
		cmocka_unit_test_teardown(
			test_backend_terminated_mid_transaction, stop_proxy),
		cmocka_unit_test_teardown(test_sigterm_drains, stop_proxy),
		cmocka_unit_test_teardown(test_sighup_reload, stop_proxy),
		cmocka_unit_test_teardown(test_postgres_restart_under_load,
					  stop_proxy),
	};

	harness_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
