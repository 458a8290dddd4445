/*
 * test_protocol.c -- the wire protocol through a real pgperf to a real
 * PostgreSQL: simple and extended queries, pipelining, errors, COPY both
 * ways, LISTEN/NOTIFY, cancel, a 50 MB result, data round trips, and
 * startup parameters reaching the server.
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

static struct proxy P;

static char unix_db[1200];

static int setup(void **state)
{
	(void)state;
	harness_init();
	/* appdb_unix: the same database over PostgreSQL's unix socket */
	snprintf(unix_db, sizeof(unix_db),
		 "appdb_unix = host=%s port=%d dbname=appdb", H.pg_dir,
		 H.pg_port);
	return proxy_start(&P, "auth_type = scram-sha-256\n", unix_db) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	/* a clean exit also means no sanitizer report in the ASan build */
	return proxy_stop(&P, SIGINT) == 0 ? 0 : -1;
}

static PGconn *app(void)
{
	PGconn *c = proxy_connect(&P, "app", "app-secret", "appdb", NULL);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	return c;
}

static void test_simple_and_multi_statement(void **state)
{
	PGconn *c = app();
	PGresult *r;

	(void)state;
	assert_string_equal(q1(c, "select 40 + 2"), "42");
	/* several statements in one Query: the last result is returned */
	r = PQexec(
		c,
		"create temp table t(a int); insert into t values (1),(2); select sum(a) from t");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), "3");
	PQclear(r);
	/* an empty query */
	r = PQexec(c, "");
	assert_int_equal(PQresultStatus(r), PGRES_EMPTY_QUERY);
	PQclear(r);
	PQfinish(c);
}

static void test_error_then_rollback(void **state)
{
	PGconn *c = app();
	PGresult *r;

	(void)state;
	assert_non_null(q1(c, "begin"));
	r = PQexec(c, "select 1/0");
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	assert_string_equal(result_sqlstate(r), "22012");
	PQclear(r);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_INERROR);
	r = PQexec(c, "select 1");
	assert_string_equal(result_sqlstate(r), "25P02");
	PQclear(r);
	assert_non_null(q1(c, "rollback"));
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	assert_string_equal(q1(c, "select 'after'"), "after");
	PQfinish(c);
}

static void test_extended_and_prepared(void **state)
{
	PGconn *c = app();
	const char *vals[2] = {"héllo wörld ✓", NULL};
	PGresult *r;

	(void)state;
	r = PQexecParams(c,
			 "select $1::text, $2::int is null, length($1::text)",
			 2, NULL, vals, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), "héllo wörld ✓");
	assert_string_equal(PQgetvalue(r, 0, 1), "t");
	assert_string_equal(PQgetvalue(r, 0, 2), "13");
	PQclear(r);
	r = PQprepare(c, "s1", "select $1::int * 2", 1, NULL);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	for (int i = 0; i < 50; i++) {
		char in[16], want[16];

		snprintf(in, sizeof(in), "%d", i);
		snprintf(want, sizeof(want), "%d", i * 2);
		vals[0] = in;
		r = PQexecPrepared(c, "s1", 1, vals, NULL, NULL, 0);
		assert_string_equal(PQgetvalue(r, 0, 0), want);
		PQclear(r);
	}
	/* a NULL column and a NULL parameter come back as NULL */
	r = PQexec(c, "select null::text, ''::text");
	assert_true(PQgetisnull(r, 0, 0));
	assert_false(PQgetisnull(r, 0, 1));
	PQclear(r);
	PQfinish(c);
}

static void test_bytea_binary_round_trip(void **state)
{
	PGconn *c = app();
	unsigned char blob[4096];
	const char *vals[1] = {(const char *)blob};
	int lens[1] = {sizeof(blob)}, fmts[1] = {1};
	PGresult *r;

	(void)state;
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (unsigned char)(i * 7 + 3);
	blob[10] = 0;
	r = PQexecParams(c, "select $1::bytea", 1, NULL, vals, lens, fmts, 1);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQgetlength(r, 0, 0), sizeof(blob));
	assert_memory_equal(PQgetvalue(r, 0, 0), blob, sizeof(blob));
	PQclear(r);
	PQfinish(c);
}

static void test_pipeline(void **state)
{
	PGconn *c = app();
	PGresult *r;
	int got = 0, errors = 0;

	(void)state;
	assert_int_equal(PQenterPipelineMode(c), 1);
	for (int i = 0; i < 20; i++) {
		char sql[64];

		snprintf(sql, sizeof(sql), i == 10 ? "select 1/0" : "select %d",
			 i);
		assert_int_equal(
			PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0),
			1);
		if (i % 5 == 4)
			assert_int_equal(PQpipelineSync(c), 1);
	}
	/* 4 syncs; the error at 10 aborts the rest of its batch only */
	for (int syncs = 0; syncs < 4;) {
		r = PQgetResult(c);
		if (!r)
			continue;
		switch (PQresultStatus(r)) {
		case PGRES_TUPLES_OK:
			got++;
			break;
		case PGRES_FATAL_ERROR:
			errors++;
			break;
		case PGRES_PIPELINE_SYNC:
			syncs++;
			break;
		default:
			break;
		}
		PQclear(r);
	}
	assert_int_equal(PQexitPipelineMode(c), 1);
	assert_int_equal(got, 15);
	assert_int_equal(errors, 1);
	assert_string_equal(q1(c, "select 'ok'"), "ok");
	PQfinish(c);
}

static void test_copy_in_and_out(void **state)
{
	PGconn *c = app();
	PGresult *r;
	char line[128];
	char *buf;
	int rows = 0, n;
	const int N = 20000;

	(void)state;
	assert_non_null(q1(c, "create temp table cp(id int, name text)"));
	r = PQexec(c, "copy cp from stdin");
	assert_int_equal(PQresultStatus(r), PGRES_COPY_IN);
	PQclear(r);
	for (int i = 0; i < N; i++) {
		n = snprintf(line, sizeof(line), "%d\tname-%d-ünï\n", i, i);
		assert_int_equal(PQputCopyData(c, line, n), 1);
	}
	assert_int_equal(PQputCopyEnd(c, NULL), 1);
	r = PQgetResult(c);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	assert_string_equal(PQcmdTuples(r), "20000");
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	assert_string_equal(q1(c, "select count(*) from cp"), "20000");

	r = PQexec(c, "copy cp to stdout");
	assert_int_equal(PQresultStatus(r), PGRES_COPY_OUT);
	PQclear(r);
	while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
		if (rows == 123)
			assert_string_equal(buf, "123\tname-123-ünï\n");
		rows++;
		PQfreemem(buf);
	}
	assert_int_equal(n, -1);
	r = PQgetResult(c);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	assert_int_equal(rows, N);

	/* a COPY the client aborts leaves the session usable */
	r = PQexec(c, "copy cp from stdin");
	PQclear(r);
	assert_int_equal(PQputCopyEnd(c, "changed my mind"), 1);
	r = PQgetResult(c);
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	assert_string_equal(result_sqlstate(r), "57014");
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	assert_string_equal(q1(c, "select count(*) from cp"), "20000");
	PQfinish(c);
}

static void test_listen_notify(void **state)
{
	PGconn *l = app(), *n = app();
	PGnotify *note = NULL;

	(void)state;
	assert_non_null(q1(l, "listen pgperf_chan"));
	assert_non_null(q1(n, "notify pgperf_chan, 'payload-1'"));
	for (int i = 0; i < 200 && !note; i++) {
		PQconsumeInput(l);
		note = PQnotifies(l);
		if (!note)
			usleep(10000);
	}
	assert_non_null(note);
	assert_string_equal(note->relname, "pgperf_chan");
	assert_string_equal(note->extra, "payload-1");
	PQfreemem(note);
	PQfinish(l);
	PQfinish(n);
}

/* A running query cancelled through pgperf, on database `db`. */
static void cancel_on(const char *db)
{
	PGconn *c = proxy_connect(&P, "app", "app-secret", db, NULL);
	PGcancel *cancel;
	char err[256];
	PGresult *r;
	time_t start = time(NULL);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	assert_int_equal(PQsendQuery(c, "select pg_sleep(30)"), 1);
	assert_true(pg_wait_running("select pg_sleep(30)", 10000));
	cancel = PQgetCancel(c);
	assert_non_null(cancel);
	assert_int_equal(PQcancel(cancel, err, sizeof(err)), 1);
	PQfreeCancel(cancel);
	r = PQgetResult(c);
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	assert_string_equal(result_sqlstate(r), "57014");
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	assert_true(time(NULL) - start < 10);
	assert_string_equal(q1(c, "select 'still here'"), "still here");
	PQfinish(c);
}

static void test_cancel(void **state)
{
	(void)state;
	cancel_on("appdb");
}

/* A unix socket connects at once: the CancelRequest must still be sent
 * (it used to be dropped, with the connection closed unwritten). */
static void test_cancel_over_unix_socket(void **state)
{
	(void)state;
	cancel_on("appdb_unix");
}

static void test_cancel_with_wrong_key_is_ignored(void **state)
{
	PGconn *c = app();
	int fd;
	uint8_t pkt[16] = {0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e};
	int pid = PQbackendPID(c);
	PGresult *r;

	(void)state;
	/* the pid pgperf reported, a made-up key */
	pkt[8] = (uint8_t)(pid >> 24);
	pkt[9] = (uint8_t)(pid >> 16);
	pkt[10] = (uint8_t)(pid >> 8);
	pkt[11] = (uint8_t)pid;
	pkt[15] = 0x5a;
	assert_int_equal(PQsendQuery(c, "select pg_sleep(0.5), 'done'"), 1);
	fd = raw_connect(P.port);
	assert_true(fd >= 0);
	assert_true(raw_send(fd, pkt, sizeof(pkt)));
	assert_true(raw_wait_closed(fd, 2000));
	close(fd);
	r = PQgetResult(c);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 1), "done");
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	PQfinish(c);
}

static void test_large_result(void **state)
{
	PGconn *c = app();
	PGresult *r;

	(void)state;
	/* 50,000 rows of 1,000 bytes: 50 MB through the proxy */
	r = PQexec(
		c,
		"select i, repeat('x', 1000) from generate_series(1, 50000) i");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 50000);
	assert_int_equal(PQgetlength(r, 49999, 1), 1000);
	assert_string_equal(PQgetvalue(r, 49999, 0), "50000");
	PQclear(r);
	/* one 20 MB value */
	r = PQexec(
		c,
		"select length(repeat('y', 20000000)), repeat('y', 20000000)");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQgetlength(r, 0, 1), 20000000);
	PQclear(r);
	PQfinish(c);
}

static void test_startup_parameters_reach_server(void **state)
{
	PGconn *c = proxy_connect(
		&P, "app", "app-secret", "appdb",
		"application_name=itest-app options='-c search_path=pg_catalog,public -c statement_timeout=4321'");

	(void)state;
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(q1(c, "show application_name"), "itest-app");
	assert_string_equal(PQparameterStatus(c, "application_name"),
			    "itest-app");
	/* PostgreSQL keeps a startup option's text as given */
	assert_string_equal(q1(c, "show search_path"), "pg_catalog,public");
	assert_string_equal(q1(c, "show statement_timeout"), "4321ms");
	PQfinish(c);

	/* a bad setting fails the login as PostgreSQL would */
	c = proxy_connect(&P, "app", "app-secret", "appdb",
			  "options='-c no_such_setting=1'");
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c), "no_such_setting"));
	PQfinish(c);
	/* and the pool survives it */
	c = app();
	assert_string_equal(q1(c, "show application_name"), "");
	PQfinish(c);
}

static void test_session_state_does_not_leak(void **state)
{
	PGconn *a, *b;
	const char *pid;
	char first_pid[32];

	(void)state;
	a = app();
	pid = q1(a, "select pg_backend_pid()");
	snprintf(first_pid, sizeof(first_pid), "%s", pid);
	assert_non_null(q1(a, "set work_mem = '77MB'"));
	assert_non_null(q1(a, "create temp table leak(x int)"));
	assert_non_null(q1(a, "prepare leakstmt as select 1"));
	PQfinish(a);
	/* reset, and back in the pool */
	assert_true(proxy_ctl_wait(&P, "--json pools", "\"sv_active\": 0", true,
				   10000));
	/* the same server connection serves the next client, reset */
	b = app();
	assert_string_equal(q1(b, "select pg_backend_pid()"), first_pid);
	assert_string_equal(q1(b, "show work_mem"), "4MB");
	assert_string_equal(
		q1(b, "select count(*) from pg_prepared_statements"), "0");
	assert_string_equal(
		q1(b, "select count(*) from pg_class where relname = 'leak'"),
		"0");
	PQfinish(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_and_multi_statement),
		cmocka_unit_test(test_error_then_rollback),
		cmocka_unit_test(test_extended_and_prepared),
		cmocka_unit_test(test_bytea_binary_round_trip),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_copy_in_and_out),
		cmocka_unit_test(test_listen_notify),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cancel_over_unix_socket),
		cmocka_unit_test(test_cancel_with_wrong_key_is_ignored),
		cmocka_unit_test(test_large_result),
		cmocka_unit_test(test_startup_parameters_reach_server),
		cmocka_unit_test(test_session_state_does_not_leak),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
