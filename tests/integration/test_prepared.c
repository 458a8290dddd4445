/*
 * test_prepared.c -- protocol-level prepared statements in transaction
 * mode, without pinning: names stay private to each client while clients
 * share server connections, statements are re-prepared on whichever
 * connection serves the client (also after one is killed), the per-server
 * bound evicts, errors and pipelines behave as PostgreSQL's do, and SQL
 * DEALLOCATE of a protocol-level name works.
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

	/* a pinned client would make the others wait: fail fast instead */
	snprintf(extra, sizeof(extra),
		 "pool_mode = transaction\ndefault_pool_size = %d\n"
		 "min_pool_size = 0\nquery_wait_timeout = 5\n%s\n",
		 pool_size, more ? more : "");
	assert_true(proxy_start(&p, extra, NULL));
}

static PGconn *client(void)
{
	PGconn *c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	return c;
}

static void prepare_ok(PGconn *c, const char *name, const char *sql)
{
	PGresult *r = PQprepare(c, name, sql, 0, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("prepare %s: %s", name, PQerrorMessage(c));
	PQclear(r);
}

/* Execute `name` with one parameter; the first value, or "ERR:<state>". */
static const char *exec1(PGconn *c, const char *name, const char *arg)
{
	static __thread char out[128]; /* workers call it too */
	const char *v[1] = {arg};
	PGresult *r = PQexecPrepared(c, name, arg ? 1 : 0, v, NULL, NULL, 0);

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
	else if (PQresultStatus(r) == PGRES_FATAL_ERROR)
		snprintf(out, sizeof(out), "ERR:%s", result_sqlstate(r));
	else
		snprintf(out, sizeof(out), "status %d", (int)PQresultStatus(r));
	PQclear(r);
	return out;
}

static int pinned_clients(void)
{
	int st;
	const char *out =
		proxy_ctl(&p, "admin", "admin-secret", "--json pools", &st);
	const char *at = strstr(out, "\"cl_pinned\": ");

	assert_int_equal(st, 0);
	assert_non_null(at);
	return atoi(at + strlen("\"cl_pinned\": "));
}

static void test_names_private_on_one_server(void **state)
{
	PGconn *c[3];
	char pid0[32];

	(void)state;
	start(1, NULL);
	for (int i = 0; i < 3; i++)
		c[i] = client();
	/* one name, three statements, one server connection */
	prepare_ok(c[0], "s", "select $1::int * 2");
	prepare_ok(c[1], "s", "select $1::int + 1");
	prepare_ok(c[2], "s", "select 'c' || $1::text");
	snprintf(pid0, sizeof(pid0), "%s", q1(c[0], "select pg_backend_pid()"));
	for (int i = 0; i < 10; i++) {
		assert_string_equal(exec1(c[0], "s", "21"), "42");
		assert_string_equal(exec1(c[1], "s", "21"), "22");
		assert_string_equal(exec1(c[2], "s", "21"), "c21");
	}
	/* they really shared it, and nobody is pinned */
	assert_string_equal(q1(c[2], "select pg_backend_pid()"), pid0);
	assert_int_equal(pinned_clients(), 0);
	/* the server holds pgperf's names, not the clients' */
	assert_string_equal(q1(c[1],
			       "select count(*) from pg_prepared_statements "
			       "where name like 'pgperf\\_%'"),
			    "3");
	assert_string_equal(q1(c[1], "select count(*) from "
				     "pg_prepared_statements where name = 's'"),
			    "0");
	/* the same SQL from two clients is prepared once */
	{
		PGconn *d = client();

		prepare_ok(d, "other_name", "select $1::int * 2");
		assert_string_equal(exec1(d, "other_name", "5"), "10");
		assert_string_equal(
			q1(d, "select count(*) from pg_prepared_statements"),
			"3");
		PQfinish(d);
	}
	/* Describe sees the statement's parameters and columns */
	{
		PGresult *r = PQdescribePrepared(c[0], "s");

		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		assert_int_equal(PQnparams(r), 1);
		assert_int_equal(PQparamtype(r, 0), 23); /* int4 */
		assert_int_equal(PQnfields(r), 1);
		PQclear(r);
	}
	for (int i = 0; i < 3; i++)
		PQfinish(c[i]);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_errors_match_postgres(void **state)
{
	PGconn *a;
	PGresult *r;

	(void)state;
	start(1, NULL);
	a = client();
	/* a name never prepared */
	assert_string_equal(exec1(a, "nosuch", NULL), "ERR:26000");
	r = PQdescribePrepared(a, "nosuch");
	assert_string_equal(result_sqlstate(r), "26000");
	PQclear(r);
	/* a name prepared twice */
	prepare_ok(a, "dup", "select 1");
	r = PQprepare(a, "dup", "select 2", 0, NULL);
	assert_string_equal(result_sqlstate(r), "42P05");
	PQclear(r);
	assert_string_equal(exec1(a, "dup", NULL), "1");
	/* a statement PostgreSQL rejects leaves no name behind */
	r = PQprepare(a, "bad", "select from where", 0, NULL);
	assert_string_equal(result_sqlstate(r), "42601");
	PQclear(r);
	assert_string_equal(exec1(a, "bad", NULL), "ERR:26000");
	prepare_ok(a, "bad", "select 'fixed'");
	assert_string_equal(exec1(a, "bad", NULL), "fixed");
	/* SQL DEALLOCATE of a protocol-level name (psycopg 3 does this) */
	r = PQexec(a, "DEALLOCATE dup");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	assert_string_equal(PQcmdStatus(r), "DEALLOCATE");
	PQclear(r);
	assert_string_equal(exec1(a, "dup", NULL), "ERR:26000");
	prepare_ok(a, "dup", "select 'again'");
	assert_string_equal(exec1(a, "dup", NULL), "again");
	/* DEALLOCATE of a name nobody has is PostgreSQL's error */
	r = PQexec(a, "DEALLOCATE never_prepared");
	assert_string_equal(result_sqlstate(r), "26000");
	PQclear(r);
	/* DEALLOCATE ALL forgets them all */
	r = PQexec(a, "DEALLOCATE ALL");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	assert_string_equal(exec1(a, "bad", NULL), "ERR:26000");
	/* and the connection is fine throughout */
	assert_string_equal(q1(a, "select 'alive'"), "alive");
	assert_int_equal(pinned_clients(), 0);
	PQfinish(a);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

/*
 * An error inside a pipeline makes PostgreSQL skip to Sync: a Parse that
 * was skipped must leave neither the client's name nor pgperf's record of
 * the statement behind, and pgperf's own error must skip likewise.
 */
static void test_pipeline_errors(void **state)
{
	PGconn *a, *b;
	PGresult *r;
	const char *zero[1] = {"0"};
	int n = 0;

	(void)state;
	start(1, NULL);
	a = client();
	b = client();
	prepare_ok(a, "div", "select 1 / $1::int");
	assert_int_equal(PQenterPipelineMode(a), 1);
	assert_int_equal(PQsendQueryPrepared(a, "div", 1, zero, NULL, NULL, 0),
			 1);
	assert_int_equal(PQsendPrepare(a, "later", "select 'later'", 0, NULL),
			 1);
	assert_int_equal(
		PQsendQueryPrepared(a, "nosuch", 0, NULL, NULL, NULL, 0), 1);
	assert_int_equal(PQpipelineSync(a), 1);
	/* division by zero, then two skipped requests, then the sync */
	for (;;) {
		r = PQgetResult(a);
		if (!r)
			continue; /* end of one request's results */
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (n == 0)
			assert_string_equal(result_sqlstate(r), "22012");
		else
			assert_int_equal(PQresultStatus(r),
					 PGRES_PIPELINE_ABORTED);
		n++;
		PQclear(r);
	}
	assert_int_equal(n, 3);
	assert_int_equal(PQexitPipelineMode(a), 1);
	/* the skipped Parse left nothing */
	assert_string_equal(exec1(a, "later", NULL), "ERR:26000");
	/* b prepares the same SQL: the server must not be assumed to hold it */
	prepare_ok(b, "x", "select 'later'");
	assert_string_equal(exec1(b, "x", NULL), "later");
	prepare_ok(a, "later", "select 'later'");
	assert_string_equal(exec1(a, "later", NULL), "later");

	/* pgperf's own error (unknown name) skips the rest until Sync too */
	assert_int_equal(PQenterPipelineMode(a), 1);
	assert_int_equal(
		PQsendQueryPrepared(a, "nosuch", 0, NULL, NULL, NULL, 0), 1);
	assert_int_equal(PQsendPrepare(a, "skipped", "select 2", 0, NULL), 1);
	assert_int_equal(PQpipelineSync(a), 1);
	assert_int_equal(
		PQsendQueryPrepared(a, "later", 0, NULL, NULL, NULL, 0), 1);
	assert_int_equal(PQpipelineSync(a), 1);
	n = 0;
	for (int syncs = 0; syncs < 2;) {
		r = PQgetResult(a);
		if (!r)
			continue;
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			syncs++;
		} else if (n == 0) {
			assert_string_equal(result_sqlstate(r), "26000");
			n++;
		} else if (n == 1) {
			assert_int_equal(PQresultStatus(r),
					 PGRES_PIPELINE_ABORTED);
			n++;
		} else {
			/* after the Sync, work goes on */
			assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
			assert_string_equal(PQgetvalue(r, 0, 0), "later");
			n++;
		}
		PQclear(r);
	}
	assert_int_equal(n, 3);
	assert_int_equal(PQexitPipelineMode(a), 1);
	assert_string_equal(exec1(a, "skipped", NULL), "ERR:26000");
	PQfinish(a);
	PQfinish(b);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_eviction_bound(void **state)
{
	PGconn *a;
	char name[16], sql[64], want[16];

	(void)state;
	start(1, "max_prepared_statements = 3");
	a = client();
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		snprintf(sql, sizeof(sql), "select %d + $1::int", i * 100);
		prepare_ok(a, name, sql);
	}
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 10; i++) {
			snprintf(name, sizeof(name), "s%d", i);
			snprintf(want, sizeof(want), "%d", i * 100 + round);
			snprintf(sql, sizeof(sql), "%d", round);
			assert_string_equal(exec1(a, name, sql), want);
		}
	/* the server never holds more than the bound */
	assert_true(
		atoi(q1(a, "select count(*) from pg_prepared_statements")) <=
		3);
	PQfinish(a);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_reprepared_after_server_dies(void **state)
{
	PGconn *a, *direct;
	char pid[32];

	(void)state;
	start(2, NULL);
	a = client();
	prepare_ok(a, "s", "select $1::int * 3");
	assert_string_equal(exec1(a, "s", "3"), "9");
	snprintf(pid, sizeof(pid), "%s", q1(a, "select pg_backend_pid()"));
	direct = pg_connect_direct();
	assert_int_equal(PQstatus(direct), CONNECTION_OK);
	{
		char sql[128];

		snprintf(sql, sizeof(sql), "select pg_terminate_backend(%s)",
			 pid);
		assert_string_equal(q1(direct, sql), "t");
	}
	PQfinish(direct);
	/* pgperf notices the closed connection */
	assert_true(proxy_ctl_wait(&p, "servers", pid, false, 10000));
	for (int i = 0; i < 5; i++)
		assert_string_equal(exec1(a, "s", "4"), "12");
	assert_string_not_equal(q1(a, "select pg_backend_pid()"), pid);
	PQfinish(a);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

struct worker {
	int id;
	int ok;
	int failed;
	char err[256];
};

/* Each worker's "q" means something else; transactions interleave. */
static void *prep_worker(void *arg)
{
	struct worker *w = arg;
	PGconn *c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	char sql[64], want[32], argv0[16];

	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(w->err, sizeof(w->err), "%s", PQerrorMessage(c));
		w->failed++;
		PQfinish(c);
		return NULL;
	}
	snprintf(sql, sizeof(sql), "select %d + $1::int", w->id * 1000);
	{
		PGresult *r = PQprepare(c, "q", sql, 0, NULL);

		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			snprintf(w->err, sizeof(w->err), "prepare: %s",
				 PQerrorMessage(c));
			w->failed++;
		}
		PQclear(r);
	}
	for (int i = 0; i < 50 && !w->failed; i++) {
		const char *v;
		bool tx = i % 5 == 0;

		snprintf(argv0, sizeof(argv0), "%d", i);
		snprintf(want, sizeof(want), "%d", w->id * 1000 + i);
		if (tx)
			PQclear(PQexec(c, "begin"));
		v = exec1(c, "q", argv0);
		if (tx)
			PQclear(PQexec(c, "commit"));
		if (strcmp(v, want) != 0) {
			snprintf(w->err, sizeof(w->err), "got %s, want %s", v,
				 want);
			w->failed++;
		} else {
			w->ok++;
		}
	}
	PQfinish(c);
	return NULL;
}

static void test_many_clients_few_servers(void **state)
{
	enum { N = 24 };
	static struct worker w[N];
	pthread_t th[N];
	int ok = 0, failed = 0;

	(void)state;
	start(3, NULL);
	for (int i = 0; i < N; i++) {
		w[i] = (struct worker){.id = i};
		assert_int_equal(
			pthread_create(&th[i], NULL, prep_worker, &w[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
		failed += w[i].failed;
		if (w[i].failed)
			fprintf(stderr, "worker %d: %s\n", i, w[i].err);
	}
	assert_int_equal(failed, 0);
	assert_int_equal(ok, N * 50);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

/*
 * PQprepare() of a statement some server accepted is answered by pgperf
 * while every server connection is busy (pgbench -M prepared relies on
 * it); a statement no server has seen, or a name in use, still waits for
 * a server and gets PostgreSQL's answer.
 */
static void test_prepare_while_pool_busy(void **state)
{
	PGconn *a, *b, *c;
	PGresult *r;

	(void)state;
	start(1, NULL);
	a = client();
	b = client();
	c = client();
	prepare_ok(a, "known", "SELECT $1::int * 3");
	r = PQexec(a, "BEGIN");
	PQclear(r);
	assert_string_equal(exec1(a, "known", "2"), "6"); /* holds the server */

	/* known statement, another client, another name: answered at once */
	prepare_ok(b, "mine", "SELECT $1::int * 3");
	/* unknown statement: must wait for a server, so it is sent async */
	assert_int_equal(
		PQsendPrepare(c, "other", "SELECT $1::int * 5", 0, NULL), 1);
	usleep(300 * 1000);
	assert_int_equal(PQconsumeInput(c), 1);
	assert_int_equal(PQisBusy(c), 1); /* no answer without a server */

	r = PQexec(a, "COMMIT");
	PQclear(r);
	r = PQgetResult(c);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	assert_null(PQgetResult(c));
	assert_string_equal(exec1(b, "mine", "7"), "21");
	assert_string_equal(exec1(c, "other", "7"), "35");
	/* a name in use is PostgreSQL's error, also for a known statement */
	r = PQprepare(b, "mine", "SELECT $1::int * 3", 0, NULL);
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	assert_string_equal(result_sqlstate(r), "42P05");
	PQclear(r);
	assert_string_equal(exec1(b, "mine", "1"), "3");
	PQfinish(a);
	PQfinish(b);
	PQfinish(c);
}

static void test_off_pins_instead(void **state)
{
	PGconn *a, *b;
	char pa[32];

	(void)state;
	start(2, "max_prepared_statements = 0");
	a = client();
	b = client();
	prepare_ok(a, "s", "select 'a'");
	snprintf(pa, sizeof(pa), "%s", q1(a, "select pg_backend_pid()"));
	assert_int_equal(pinned_clients(), 1);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(exec1(a, "s", NULL), "a");
		assert_string_equal(q1(a, "select pg_backend_pid()"), pa);
	}
	/* the other client never sees it */
	assert_string_equal(exec1(b, "s", NULL), "ERR:26000");
	PQfinish(a);
	PQfinish(b);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_names_private_on_one_server,
					  stop_proxy),
		cmocka_unit_test_teardown(test_errors_match_postgres,
					  stop_proxy),
		cmocka_unit_test_teardown(test_pipeline_errors, stop_proxy),
		cmocka_unit_test_teardown(test_eviction_bound, stop_proxy),
		cmocka_unit_test_teardown(test_reprepared_after_server_dies,
					  stop_proxy),
		cmocka_unit_test_teardown(test_many_clients_few_servers,
					  stop_proxy),
		cmocka_unit_test_teardown(test_prepare_while_pool_busy,
					  stop_proxy),
		cmocka_unit_test_teardown(test_off_pins_instead, stop_proxy),
	};

	harness_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
