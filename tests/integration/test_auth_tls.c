/*
 * test_auth_tls.c -- client authentication (scram, md5, trust), server
 * login with md5 and SCRAM, wrong passwords, unknown databases, TLS on both
 * sides, and the admin console's permissions through pgperf-ctl.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static void expect_login_fails(struct proxy *p, const char *user,
			       const char *pw, const char *db,
			       const char *extra, const char *text)
{
	PGconn *c = proxy_connect(p, user, pw, db, extra);

	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	if (!strstr(PQerrorMessage(c), text))
		fail_msg("error \"%s\" does not contain \"%s\"",
			 PQerrorMessage(c), text);
	PQfinish(c);
}

static void expect_login_ok(struct proxy *p, const char *user, const char *pw,
			    const char *db, const char *extra)
{
	PGconn *c = proxy_connect(p, user, pw, db, extra);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("login as %s failed: %s", user, PQerrorMessage(c));
	assert_string_equal(q1(c, "select 'in'"), "in");
	PQfinish(c);
}

static void test_scram_client_auth(void **state)
{
	struct proxy p;

	(void)state;
	assert_true(proxy_start(&p, "auth_type = scram-sha-256\n", NULL));
	expect_login_ok(&p, "app", "app-secret", "appdb", NULL);
	/* wrong password, unknown user: the same answer, nothing more */
	expect_login_fails(&p, "app", "wrong", "appdb", NULL,
			   "password authentication failed for user \"app\"");
	expect_login_fails(
		&p, "nobody", "x", "appdb", NULL,
		"password authentication failed for user \"nobody\"");
	/* authentication comes before the database check */
	expect_login_fails(&p, "nobody", "x", "nodb", NULL,
			   "password authentication failed");
	expect_login_fails(&p, "app", "app-secret", "nodb", NULL,
			   "database \"nodb\" does not exist");
	/* the password never reaches the log */
	assert_false(proxy_log_contains(&p, "app-secret"));
	assert_true(proxy_log_contains(&p, "password authentication failed"));
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

/*
 * SASLprep: a password that is not in its normal form (U+FB01, the "fi"
 * ligature, then "le") works both ways, as PostgreSQL and libpq normalize
 * it: libpq proves "file" to pgperf, and pgperf must prove "file" to the
 * server, which stored the role's secret from the normalized password.
 */
static void test_saslprep_password(void **state)
{
	struct proxy p;

	(void)state;
	assert_true(proxy_start(&p, NULL, NULL));
	expect_login_ok(&p, "prepuser", "\xef\xac\x81le", "appdb", NULL);
	expect_login_ok(&p, "prepuser", "file", "appdb", NULL);
	expect_login_fails(&p, "prepuser", "fi", "appdb", NULL,
			   "password authentication failed");
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_md5_client_auth_and_md5_server_login(void **state)
{
	struct proxy p;

	(void)state;
	/* md5user logs in to PostgreSQL with md5 (pg_hba says md5 for it) */
	assert_true(proxy_start(&p, "auth_type = md5\n", NULL));
	expect_login_ok(&p, "md5user", "md5-secret", "appdb", NULL);
	expect_login_ok(&p, "app", "app-secret", "appdb", NULL);
	expect_login_fails(
		&p, "md5user", "nope", "appdb", NULL,
		"password authentication failed for user \"md5user\"");
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_trust_and_forced_user(void **state)
{
	struct proxy p;
	PGconn *c;
	char dbs[256];

	(void)state;
	snprintf(
		dbs, sizeof(dbs),
		"forced = host=127.0.0.1 port=%d dbname=appdb user=app password=app-secret\n",
		H.pg_port);
	assert_true(proxy_start(&p, "auth_type = trust\n", dbs));
	c = proxy_connect(&p, "whoever", "irrelevant", "forced", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(q1(c, "select current_user"), "app");
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_server_login_failure_reaches_client(void **state)
{
	struct proxy p;
	char dbs[256];

	(void)state;
	snprintf(
		dbs, sizeof(dbs),
		"badpw = host=127.0.0.1 port=%d dbname=appdb user=app password=wrong\n"
		"nodb = host=127.0.0.1 port=%d dbname=no_such_db\n"
		"deadpg = host=127.0.0.1 port=1 dbname=appdb\n",
		H.pg_port, H.pg_port);
	assert_true(proxy_start(&p, "auth_type = scram-sha-256\n", dbs));
	expect_login_fails(&p, "app", "app-secret", "badpw", NULL,
			   "password authentication failed for user \"app\"");
	expect_login_fails(&p, "app", "app-secret", "nodb", NULL,
			   "database \"no_such_db\" does not exist");
	/* nothing listening: a prompt 08006, not a wait for query_wait_timeout */
	{
		time_t t0 = time(NULL);

		expect_login_fails(
			&p, "app", "app-secret", "deadpg", NULL,
			"could not connect to server at 127.0.0.1:1");
		assert_true(time(NULL) - t0 < 5);
	}
	/* the working database is unaffected */
	expect_login_ok(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

/* A pgperf requiring TLS from clients, with the fixture's certificate. */
static void start_with_client_tls(struct proxy *p, char *extra, size_t cap)
{
	snprintf(
		extra, cap,
		"client_tls_sslmode = require\nclient_tls_cert_file = %s\nclient_tls_key_file = %s\n",
		H.tls_cert, H.tls_key);
	assert_true(proxy_start(p, extra, NULL));
}

static void test_client_tls(void **state)
{
	struct proxy p;
	char extra[1400];
	PGconn *c;

	(void)state;
	start_with_client_tls(&p, extra, sizeof(extra));
	c = proxy_connect(&p, "app", "app-secret", "appdb", "sslmode=require");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(PQsslInUse(c), 1);
	assert_non_null(PQsslAttribute(c, "protocol"));
	assert_true(strcmp(PQsslAttribute(c, "protocol"), "TLSv1.2") == 0 ||
		    strcmp(PQsslAttribute(c, "protocol"), "TLSv1.3") == 0);
	assert_string_equal(
		q1(c, "select repeat('z', 100000) = repeat('z', 100000)"), "t");
	PQfinish(c);
	/* with verification against the certificate as CA */
	snprintf(extra, sizeof(extra), "sslmode=verify-full sslrootcert=%s",
		 H.tls_cert);
	{
		char ci[2000];

		snprintf(
			ci, sizeof(ci),
			"host=localhost port=%d user=app password=app-secret dbname=appdb %s",
			p.port, extra);
		c = PQconnectdb(ci);
		assert_int_equal(PQstatus(c), CONNECTION_OK);
		PQfinish(c);
	}
	/* plain connections are refused when TLS is required */
	expect_login_fails(&p, "app", "app-secret", "appdb", "sslmode=disable",
			   "TLS is required");
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

/*
 * SCRAM-SHA-256-PLUS over TLS: libpq with channel_binding=require logs in
 * (bound to pgperf's certificate); a wrong password and an unknown user
 * still fail the same way; a client that does not bind still logs in.
 */
static void test_channel_binding(void **state)
{
	struct proxy p;
	char extra[1400];
	PGconn *c;

	(void)state;
	start_with_client_tls(&p, extra, sizeof(extra));
	c = proxy_connect(&p, "app", "app-secret", "appdb",
			  "sslmode=require channel_binding=require");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(q1(c, "select 1"), "1");
	PQfinish(c);
	expect_login_fails(&p, "app", "wrong", "appdb",
			   "sslmode=require channel_binding=require",
			   "password authentication failed for user \"app\"");
	expect_login_fails(
		&p, "nobody", "x", "appdb",
		"sslmode=require channel_binding=require",
		"password authentication failed for user \"nobody\"");
	c = proxy_connect(&p, "app", "app-secret", "appdb",
			  "sslmode=require channel_binding=disable");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_client_certificates(void **state)
{
	struct proxy p;
	char extra[2000], certs[1400], tls_dir[600];
	PGconn *c;

	(void)state;
	snprintf(tls_dir, sizeof(tls_dir), "%s/tls", H.work_dir);
	snprintf(extra, sizeof(extra),
		 "client_tls_sslmode = verify-ca\nclient_tls_cert_file = %s\n"
		 "client_tls_key_file = %s\nclient_tls_ca_file = %s\n",
		 H.tls_cert, H.tls_key, H.tls_cert);
	assert_true(proxy_start(&p, extra, NULL));
	snprintf(certs, sizeof(certs),
		 "sslmode=require sslcert=%s/client.crt sslkey=%s/client.key",
		 tls_dir, tls_dir);
	c = proxy_connect(&p, "app", "app-secret", "appdb", certs);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("with a client certificate: %s", PQerrorMessage(c));
	assert_int_equal(PQsslInUse(c), 1);
	PQfinish(c);
	/* no certificate, no entry */
	c = proxy_connect(
		&p, "app", "app-secret", "appdb",
		"sslmode=require sslcert=/nonexistent sslkey=/nonexistent");
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_auth_file_permissions_warned(void **state)
{
	struct proxy p;
	char users[700], cmd[800];
	int st;

	(void)state;
	assert_true(proxy_start(&p, NULL, NULL));
	assert_false(proxy_log_contains(&p, "readable by group or others"));
	snprintf(users, sizeof(users), "%s/users.txt", p.dir);
	snprintf(cmd, sizeof(cmd), "chmod 644 '%s'", users);
	assert_int_equal(system(cmd), 0);
	(void)proxy_ctl(&p, "admin", "admin-secret", "reload", &st);
	assert_int_equal(st, 0);
	assert_true(proxy_log_contains(&p, "readable by group or others"));
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_server_tls(void **state)
{
	struct proxy p;
	PGconn *c;

	(void)state;
	assert_true(proxy_start(&p, "server_tls_sslmode = require\n", NULL));
	c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	/* PostgreSQL sees pgperf's connection as TLS */
	assert_string_equal(
		q1(c,
		   "select ssl from pg_stat_ssl where pid = pg_backend_pid()"),
		"t");
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_admin_console(void **state)
{
	struct proxy p;
	const char *out;
	int st;
	PGconn *c;

	(void)state;
	assert_true(proxy_start(&p, NULL, NULL));
	c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);

	out = proxy_ctl(&p, "admin", "admin-secret", "pools", &st);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "cl_active"));
	assert_non_null(strstr(out, "appdb"));
	out = proxy_ctl(&p, "admin", "admin-secret", "--json pools", &st);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "\"cl_active\": 1"));
	assert_non_null(strstr(out, "\"sv_active\": 1"));
	out = proxy_ctl(&p, "admin", "admin-secret", "clients", &st);
	assert_non_null(strstr(out, "application_name"));
	out = proxy_ctl(&p, "admin", "admin-secret", "servers", &st);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "remote_pid"));
	out = proxy_ctl(&p, "admin", "admin-secret", "databases", &st);
	assert_non_null(strstr(out, "pool_size"));
	out = proxy_ctl(&p, "admin", "admin-secret", "config", &st);
	assert_non_null(strstr(out, "default_pool_size"));
	assert_null(strstr(out, "admin-secret"));
	out = proxy_ctl(&p, "admin", "admin-secret", "version", &st);
	assert_non_null(strstr(out, "pgperf 0."));

	/* stats_users may look but not act */
	out = proxy_ctl(&p, "stats", "stats-secret", "pools", &st);
	assert_int_equal(st, 0);
	out = proxy_ctl(&p, "stats", "stats-secret", "reload", &st);
	assert_int_not_equal(st, 0);
	assert_non_null(strstr(out, "admin_users"));
	/* other users may not even look */
	out = proxy_ctl(&p, "app", "app-secret", "pools", &st);
	assert_int_not_equal(st, 0);
	assert_non_null(strstr(out, "not allowed"));
	out = proxy_ctl(&p, "admin", "wrong", "pools", &st);
	assert_int_not_equal(st, 0);
	assert_non_null(strstr(out, "password authentication failed"));

	/* PAUSE and RESUME (session mode: PAUSE answers once the session
	 * client has left; test_hold.sh has the rest); stats users may not */
	out = proxy_ctl(&p, "stats", "stats-secret", "pause", &st);
	assert_int_not_equal(st, 0);
	assert_non_null(strstr(out, "admin_users"));
	out = proxy_ctl(&p, "admin", "admin-secret", "reload", &st);
	assert_int_equal(st, 0);
	PQfinish(c);
	out = proxy_ctl(&p, "admin", "admin-secret", "pause", &st);
	assert_int_equal(st, 0);
	out = proxy_ctl(&p, "admin", "admin-secret", "resume", &st);
	assert_int_equal(st, 0);
	c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_string_equal(q1(c, "select 'still fine'"), "still fine");
	PQfinish(c);

	/* unknown commands get a clear error */
	c = proxy_connect(&p, "admin", "admin-secret", "pgperf", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	{
		PGresult *r = PQexec(c, "SHOW NONSENSE");

		assert_string_equal(result_sqlstate(r), "42601");
		PQclear(r);
		r = PQexecParams(c, "SHOW POOLS", 0, NULL, NULL, NULL, NULL, 0);
		assert_string_equal(result_sqlstate(r), "0A000");
		PQclear(r);
	}
	assert_non_null(q1(c, "show pools"));
	PQfinish(c);

	/* SHUTDOWN stops pgperf */
	out = proxy_ctl(&p, "admin", "admin-secret", "shutdown", &st);
	for (int i = 0; i < 300 && kill(p.pid, 0) == 0; i++) {
		int status;

		if (waitpid(p.pid, &status, WNOHANG) == p.pid) {
			assert_int_equal(WEXITSTATUS(status), 0);
			p.pid = 0;
			break;
		}
		usleep(10000);
	}
	assert_int_equal(p.pid, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scram_client_auth),
		cmocka_unit_test(test_md5_client_auth_and_md5_server_login),
		cmocka_unit_test(test_saslprep_password),
		cmocka_unit_test(test_trust_and_forced_user),
		cmocka_unit_test(test_server_login_failure_reaches_client),
		cmocka_unit_test(test_client_tls),
		cmocka_unit_test(test_channel_binding),
		cmocka_unit_test(test_client_certificates),
		cmocka_unit_test(test_auth_file_permissions_warned),
		cmocka_unit_test(test_server_tls),
		cmocka_unit_test(test_admin_console),
	};

	harness_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
