/*
 * test_lifecycle.c -- server connections ageing and recovering
 * (server_idle_timeout, server_lifetime, a backend killed while idle),
 * PAUSE/RESUME, the unix socket, and running as a daemon with a pid file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

static char *backend_pid(void)
{
	static char pid[32];
	PGconn *c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	snprintf(pid, sizeof(pid), "%s", q1(c, "select pg_backend_pid()"));
	PQfinish(c);
	return pid;
}

static void test_server_idle_timeout(void **state)
{
	int n = -1;

	(void)state;
	assert_true(proxy_start(&p, "server_idle_timeout = 1\n", NULL));
	backend_pid();
	assert_int_equal(pg_count_app_backends(), 1);
	for (int i = 0; i < 40 && n != 0; i++) {
		usleep(100000);
		n = pg_count_app_backends();
	}
	assert_int_equal(n, 0);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_server_lifetime(void **state)
{
	char first[32];

	(void)state;
	assert_true(proxy_start(&p, "server_lifetime = 500ms\n", NULL));
	snprintf(first, sizeof(first), "%s", backend_pid());
	/* reused while young */
	assert_string_equal(backend_pid(), first);
	/* replaced once older than server_lifetime */
	for (int i = 0; i < 100 && strcmp(backend_pid(), first) == 0; i++)
		usleep(100000);
	assert_string_not_equal(backend_pid(), first);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_idle_backend_killed(void **state)
{
	char first[32], sql[96];
	PGconn *d;

	(void)state;
	assert_true(proxy_start(&p, NULL, NULL));
	snprintf(first, sizeof(first), "%s", backend_pid());
	d = pg_connect_direct();
	snprintf(sql, sizeof(sql), "select pg_terminate_backend(%s)", first);
	assert_string_equal(q1(d, sql), "t");
	PQfinish(d);
	/* pgperf notices the closed connection */
	assert_true(proxy_ctl_wait(&p, "servers", first, false, 10000));
	/* the dead server was dropped, not handed out */
	assert_string_not_equal(backend_pid(), first);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_server_check_before_reuse(void **state)
{
	char first[32];

	(void)state;
	assert_true(proxy_start(
		&p, "server_check_delay = 0\nserver_check_query = select 1\n",
		NULL));
	snprintf(first, sizeof(first), "%s", backend_pid());
	usleep(50000);
	/* checked, found healthy, reused */
	assert_string_equal(backend_pid(), first);
	assert_true(proxy_log_contains(&p, "running server_check_query"));
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

/* Advance an asynchronous login for up to `seconds`; returns its status. */
static PostgresPollingStatusType
drive_login(PGconn *c, PostgresPollingStatusType st, int seconds)
{
	time_t start = time(NULL);

	while (time(NULL) - start < seconds && st != PGRES_POLLING_OK &&
	       st != PGRES_POLLING_FAILED) {
		struct pollfd pfd = {.fd = PQsocket(c),
				     .events = st == PGRES_POLLING_READING
						       ? POLLIN
						       : POLLOUT};

		poll(&pfd, 1, 100);
		st = PQconnectPoll(c);
	}
	return st;
}

static void test_pause_holds_new_clients(void **state)
{
	char ci[512];
	PGconn *c;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	const char *out;
	int rc;

	(void)state;
	assert_true(proxy_start(&p, NULL, NULL));
	out = proxy_ctl(&p, "admin", "admin-secret", "pause", &rc);
	assert_int_equal(rc, 0);
	snprintf(
		ci, sizeof(ci),
		"host=127.0.0.1 port=%d user=app password=app-secret dbname=appdb",
		p.port);
	c = PQconnectStart(ci);
	assert_non_null(c);
	/* drive the login until pgperf counts it as waiting (SCRAM under
	 * ASan can take more than a second): it must never complete while
	 * paused */
	for (int i = 0; i < 20; i++) {
		st = drive_login(c, st, 1);
		assert_int_not_equal(st, PGRES_POLLING_OK);
		assert_int_not_equal(st, PGRES_POLLING_FAILED);
		out = proxy_ctl(&p, "admin", "admin-secret", "--json pools",
				&rc);
		if (strstr(out, "\"cl_waiting\": 1"))
			break;
	}
	assert_non_null(strstr(out, "\"cl_waiting\": 1"));
	out = proxy_ctl(&p, "admin", "admin-secret", "resume", &rc);
	assert_int_equal(rc, 0);
	st = drive_login(c, st, 5);
	assert_int_equal(st, PGRES_POLLING_OK);
	assert_string_equal(q1(c, "select 'resumed'"), "resumed");
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
}

static void test_unix_socket(void **state)
{
	char extra[700], ci[900];
	PGconn *c;

	(void)state;
	snprintf(extra, sizeof(extra), "unix_socket_dir = %s/sock\n",
		 H.work_dir);
	{
		char cmd[800];

		snprintf(cmd, sizeof(cmd), "mkdir -p '%s/sock'", H.work_dir);
		assert_int_equal(system(cmd), 0);
	}
	assert_true(proxy_start(&p, extra, NULL));
	snprintf(
		ci, sizeof(ci),
		"host=%s/sock port=%d user=app password=app-secret dbname=appdb",
		H.work_dir, p.port);
	c = PQconnectdb(ci);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(q1(c, "select 'via unix socket'"),
			    "via unix socket");
	PQfinish(c);
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
	/* the socket file is removed on exit */
	snprintf(ci, sizeof(ci), "%s/sock/.s.PGSQL.%d", H.work_dir, p.port);
	assert_int_not_equal(access(ci, F_OK), 0);
}

static void test_daemon_and_pidfile(void **state)
{
	char dir[600], cfg[700], pidfile[700], cmd[2000];
	FILE *f;
	int pid = 0, port;
	PGconn *c;

	(void)state;
	/* borrow a generated config, then run it with -d ourselves */
	assert_true(proxy_start(&p, NULL, NULL));
	snprintf(dir, sizeof(dir), "%s", p.dir);
	port = p.port;
	assert_int_equal(proxy_stop(&p, SIGINT), 0);
	snprintf(cfg, sizeof(cfg), "%s/pgperf.ini", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/pgperf.pid", dir);
	f = fopen(cfg, "a");
	fprintf(f, "pidfile = %s\nlogfile = %s/daemon.log\n", pidfile, dir);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' -d '%s'", H.pgperf_bin, cfg);
	assert_int_equal(system(cmd), 0);
	for (int i = 0; i < 100 && !pid; i++) {
		f = fopen(pidfile, "r");
		if (f) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		usleep(20000);
	}
	assert_true(pid > 0);
	p.port = port;
	c = proxy_connect(&p, "app", "app-secret", "appdb", NULL);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
	assert_int_equal(kill(pid, SIGTERM), 0);
	for (int i = 0; i < 200 && kill(pid, 0) == 0; i++)
		usleep(20000);
	assert_int_not_equal(kill(pid, 0), 0);
	assert_int_not_equal(access(pidfile, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_server_idle_timeout, stop_proxy),
		cmocka_unit_test_teardown(test_server_lifetime, stop_proxy),
		cmocka_unit_test_teardown(test_idle_backend_killed, stop_proxy),
		cmocka_unit_test_teardown(test_server_check_before_reuse,
					  stop_proxy),
		cmocka_unit_test_teardown(test_pause_holds_new_clients,
					  stop_proxy),
		cmocka_unit_test_teardown(test_unix_socket, stop_proxy),
		cmocka_unit_test_teardown(test_daemon_and_pidfile, stop_proxy),
	};

	harness_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
