/*
 * test_transaction.c -- pool_mode = transaction: clients share a few server
 * connections between transactions, reported settings and startup options
 * follow each client, session state pins its client and never reaches
 * another, LISTEN works while idle, cancel reaches only the running query,
 * and 200 clients run 50 transactions each on a pool of 20.
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

static void start(int pool_size, const char *more)
{
	char extra[512];

	snprintf(extra, sizeof(extra),
		 "pool_mode = transaction\ndefault_pool_size = %d\n%s\n",
		 pool_size, more ? more : "");
	assert_true(proxy_start(&p, extra, NULL));
}

static PGconn *client(const char *extra)
{
	PGconn *c = proxy_connect(&p, "app", "app-secret", "appdb", extra);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	return c;
}

/* q1() copies into a static buffer: keep a value across calls. */
static const char *val(PGconn *c, const char *sql, char *buf, size_t len)
{
	const char *v = q1(c, sql);

	if (!v)
		fail_msg("%s failed", sql);
	snprintf(buf, len, "%s", v ? v : "");
	return buf;
}

static void test_clients_share_one_server(void **state)
{
	PGconn *a, *b;
	char pa[32], pb[32];

	(void)state;
	start(1, NULL);
	a = client(NULL);
	b = client(NULL);
	/* in session mode b would wait for a to disconnect */
	for (int i = 0; i < 5; i++) {
		val(a, "select pg_backend_pid()", pa, sizeof(pa));
		val(b, "select pg_backend_pid()", pb, sizeof(pb));
		assert_string_equal(pa, pb);
	}
	/* a transaction keeps its server until it ends */
	assert_non_null(q1(a, "begin"));
	assert_non_null(
		q1(a, "create temp table t_in_tx(x int) on commit drop"));
	assert_non_null(q1(a, "commit"));
	assert_string_equal(q1(b, "select 'b runs after a commits'"),
			    "b runs after a commits");
	PQfinish(a);
	PQfinish(b);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_session_state_pins_and_never_leaks(void **state)
{
	PGconn *a, *b, *c;
	char pa[32], buf[64];

	(void)state;
	start(2, NULL);
	a = client(NULL);
	b = client(NULL);
	/* set_config() is not a plain SET: it pins */
	assert_non_null(q1(a, "select set_config('work_mem', '77MB', false)"));
	val(a, "select pg_backend_pid()", pa, sizeof(pa));
	/* b gets the other server, with the default */
	assert_string_equal(val(b, "show work_mem", buf, sizeof(buf)), "4MB");
	assert_string_not_equal(
		val(b, "select pg_backend_pid()", buf, sizeof(buf)), pa);
	/* a stays on its server with its setting */
	for (int i = 0; i < 3; i++) {
		assert_string_equal(val(a, "show work_mem", buf, sizeof(buf)),
				    "77MB");
		assert_string_equal(
			val(a, "select pg_backend_pid()", buf, sizeof(buf)),
			pa);
	}
	/* the pin is visible to operators */
	{
		int st;
		const char *out = proxy_ctl(&p, "admin", "admin-secret",
					    "--json pools", &st);

		assert_int_equal(st, 0);
		assert_non_null(strstr(out, "\"cl_pinned\": 1"));
		out = proxy_ctl(&p, "admin", "admin-secret", "--json clients",
				&st);
		assert_non_null(strstr(out, "\"pinned\": \"SET\""));
	}
	/* temp tables and SQL PREPARE work across transactions */
	assert_non_null(q1(a, "create temp table tt(x int)"));
	assert_non_null(q1(a, "insert into tt values (1), (2)"));
	assert_non_null(q1(a, "prepare two as select count(*) from tt"));
	assert_string_equal(val(a, "execute two", buf, sizeof(buf)), "2");
	/* each kind is on record as a pooling hazard, once per client */
	{
		int st;
		const char *out = proxy_ctl(&p, "admin", "admin-secret",
					    "--json hazards", &st);

		assert_int_equal(st, 0);
		assert_non_null(strstr(out, "\"reason\": \"SET\""));
		assert_non_null(strstr(out, "\"reason\": \"TEMP\""));
		assert_non_null(strstr(out, "\"reason\": \"PREPARE\""));
		assert_null(strstr(out, "\"reason\": \"LISTEN\""));
		assert_non_null(strstr(out, "\"clients\": 1"));
		assert_null(strstr(out, "\"clients\": 2"));
	}
	PQfinish(a);
	/* a's server reset and back in the pool */
	assert_true(proxy_ctl_wait(&p, "--json pools", "\"sv_active\": 0", true,
				   10000));
	/* whoever gets a's old server sees none of it */
	c = client(NULL);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(val(c, "show work_mem", buf, sizeof(buf)),
				    "4MB");
		assert_string_equal(val(b, "show work_mem", buf, sizeof(buf)),
				    "4MB");
		assert_string_equal(
			val(c, "select count(*) from pg_prepared_statements",
			    buf, sizeof(buf)),
			"0");
		assert_string_equal(
			val(c,
			    "select count(*) from pg_class where relname = 'tt' and relpersistence = 't'",
			    buf, sizeof(buf)),
			"0");
	}
	PQfinish(b);
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

/* A plain SET is restored on whichever server serves the client: no pin. */
static void test_plain_set_follows_client(void **state)
{
	PGconn *a, *b;
	char buf[128];
	int st;

	(void)state;
	start(1, NULL);
	a = client(NULL);
	b = client(NULL);
	assert_non_null(q1(a, "set work_mem = '33MB'"));
	assert_non_null(q1(a, "SET search_path TO pg_catalog, public"));
	assert_non_null(q1(a, "set myapp.tenant = 'acme'"));
	/* a failed SET changes nothing */
	assert_null(q1(a, "set work_mem = 'lots'"));
	for (int i = 0; i < 3; i++) {
		/* one server connection, alternately serving both */
		assert_string_equal(val(a, "show work_mem", buf, sizeof(buf)),
				    "33MB");
		assert_string_equal(val(b, "show work_mem", buf, sizeof(buf)),
				    "4MB");
		assert_string_equal(
			val(a, "show search_path", buf, sizeof(buf)),
			"pg_catalog, public");
		assert_string_equal(
			val(b, "show search_path", buf, sizeof(buf)),
			"\"$user\", public");
		assert_string_equal(
			val(a, "select current_setting('myapp.tenant')", buf,
			    sizeof(buf)),
			"acme");
		assert_string_equal(
			val(b,
			    "select coalesce(current_setting('myapp.tenant', true), '')",
			    buf, sizeof(buf)),
			"");
	}
	{
		const char *out = proxy_ctl(&p, "admin", "admin-secret",
					    "--json pools", &st);

		assert_int_equal(st, 0);
		assert_non_null(strstr(out, "\"cl_pinned\": 0"));
	}
	/* RESET and SET ... TO DEFAULT take it back */
	assert_non_null(q1(a, "reset work_mem"));
	assert_non_null(q1(a, "set search_path to default"));
	assert_string_equal(val(b, "select 1", buf, sizeof(buf)), "1");
	assert_string_equal(val(a, "show work_mem", buf, sizeof(buf)), "4MB");
	assert_string_equal(val(a, "show search_path", buf, sizeof(buf)),
			    "\"$user\", public");
	/* RESET ALL forgets them all */
	assert_non_null(q1(a, "reset all"));
	assert_string_equal(val(b, "select 1", buf, sizeof(buf)), "1");
	assert_string_equal(
		val(a,
		    "select coalesce(current_setting('myapp.tenant', true), '')",
		    buf, sizeof(buf)),
		"");
	/* inside a transaction block a SET pins (commit or rollback decides),
	 * and one rolled back is gone */
	assert_non_null(q1(a, "begin"));
	assert_non_null(q1(a, "set statement_timeout = 1234"));
	assert_non_null(q1(a, "rollback"));
	assert_string_equal(val(a, "show statement_timeout", buf, sizeof(buf)),
			    "0");
	PQfinish(a);
	PQfinish(b);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_reported_settings_follow_each_client(void **state)
{
	PGconn *a, *b;
	char def[64], buf[64];

	(void)state;
	start(1, NULL);
	a = client(NULL);
	b = client(NULL);
	val(b, "show timezone", def, sizeof(def));
	assert_non_null(q1(a, "set timezone = 'Asia/Tokyo'"));
	assert_non_null(q1(a, "set application_name = 'client-a'"));
	for (int i = 0; i < 3; i++) {
		/* one server, alternately serving both */
		assert_string_equal(val(a, "show timezone", buf, sizeof(buf)),
				    "Asia/Tokyo");
		assert_string_equal(val(b, "show timezone", buf, sizeof(buf)),
				    def);
		assert_string_equal(
			val(a, "show application_name", buf, sizeof(buf)),
			"client-a");
		assert_string_equal(
			val(b, "show application_name", buf, sizeof(buf)), "");
	}
	PQfinish(a);
	PQfinish(b);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_startup_options_follow_each_client(void **state)
{
	PGconn *a, *b;
	char buf[64];

	(void)state;
	start(1, NULL);
	a = client(
		"options='-c search_path=pg_catalog,public -c statement_timeout=4321'");
	b = client(NULL);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(
			val(a, "show search_path", buf, sizeof(buf)),
			"pg_catalog,public");
		assert_string_equal(
			val(a, "show statement_timeout", buf, sizeof(buf)),
			"4321ms");
		assert_string_equal(
			val(b, "show statement_timeout", buf, sizeof(buf)),
			"0");
		assert_string_equal(
			val(b, "show search_path", buf, sizeof(buf)),
			"\"$user\", public");
	}
	PQfinish(a);
	PQfinish(b);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_listen_while_idle(void **state)
{
	PGconn *l, *n;
	PGnotify *note = NULL;

	(void)state;
	start(2, NULL);
	l = client(NULL);
	n = client(NULL);
	assert_non_null(q1(l, "listen txn_chan"));
	assert_non_null(q1(n, "notify txn_chan, 'hello'"));
	for (int i = 0; i < 200 && !note; i++) {
		PQconsumeInput(l);
		note = PQnotifies(l);
		if (!note)
			usleep(10000);
	}
	assert_non_null(note);
	assert_string_equal(note->extra, "hello");
	PQfreemem(note);
	PQfinish(l);
	PQfinish(n);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_cancel_and_abandoned_transaction(void **state)
{
	PGconn *a, *b;
	PGcancel *cancel;
	PGresult *r;
	char err[256];

	(void)state;
	start(1, NULL);
	a = client(NULL);
	b = client(NULL);
	assert_non_null(q1(a, "create table if not exists txn_t(x int)"));
	assert_non_null(q1(a, "truncate txn_t"));
	/* cancel reaches the query a is running */
	assert_int_equal(PQsendQuery(a, "select pg_sleep(30)"), 1);
	assert_true(pg_wait_running("select pg_sleep(30)", 10000));
	cancel = PQgetCancel(a);
	assert_int_equal(PQcancel(cancel, err, sizeof(err)), 1);
	PQfreeCancel(cancel);
	r = PQgetResult(a);
	assert_string_equal(result_sqlstate(r), "57014");
	PQclear(r);
	while ((r = PQgetResult(a)))
		PQclear(r);
	/* a client that leaves mid-transaction is rolled back */
	assert_non_null(q1(a, "begin"));
	assert_non_null(q1(a, "insert into txn_t values (1)"));
	PQfinish(a);
	assert_string_equal(q1(b, "select count(*) from txn_t"), "0");
	PQfinish(b);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

struct worker {
	int id, ok, failed;
	char err[200];
};

static void *txn_worker(void *arg)
{
	struct worker *w = arg;
	PGconn *c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);

	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(w->err, sizeof(w->err), "%s", PQerrorMessage(c));
		w->failed = 50;
		PQfinish(c);
		return NULL;
	}
	for (int i = 0; i < 50; i++) {
		char sql[64];
		PGresult *r;

		snprintf(sql, sizeof(sql), "select %d", w->id * 100 + i);
		r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK &&
		    atoi(PQgetvalue(r, 0, 0)) == w->id * 100 + i) {
			w->ok++;
		} else {
			w->failed++;
			snprintf(w->err, sizeof(w->err), "%s",
				 PQerrorMessage(c));
		}
		PQclear(r);
	}
	PQfinish(c);
	return NULL;
}

static void test_200_clients_50_transactions(void **state)
{
	enum { N = 200 };
	static struct worker w[N];
	pthread_t th[N];
	int ok = 0, failed = 0;

	(void)state;
	start(20, "max_client_conn = 400\nlog_level = info\n");
	for (int i = 0; i < N; i++) {
		w[i] = (struct worker){.id = i};
		assert_int_equal(
			pthread_create(&th[i], NULL, txn_worker, &w[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
		failed += w[i].failed;
		if (w[i].failed)
			fprintf(stderr, "worker %d: %s\n", i, w[i].err);
	}
	fprintf(stderr, "transaction mode: %d ok, %d failed\n", ok, failed);
	assert_int_equal(failed, 0);
	assert_int_equal(ok, N * 50);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_clients_share_one_server,
					  stop_proxy),
		cmocka_unit_test_teardown(
			test_session_state_pins_and_never_leaks, stop_proxy),
		cmocka_unit_test_teardown(test_plain_set_follows_client,
					  stop_proxy),
		cmocka_unit_test_teardown(
			test_reported_settings_follow_each_client, stop_proxy),
		cmocka_unit_test_teardown(
			test_startup_options_follow_each_client, stop_proxy),
		cmocka_unit_test_teardown(test_listen_while_idle, stop_proxy),
		cmocka_unit_test_teardown(test_cancel_and_abandoned_transaction,
					  stop_proxy),
		cmocka_unit_test_teardown(test_200_clients_50_transactions,
					  stop_proxy),
	};

	harness_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
