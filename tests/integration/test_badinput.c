/*
 * test_badinput.c -- malformed and hostile input on raw sockets: bad
 * lengths, oversized and unknown messages, headers split into single
 * bytes, clients that vanish mid-message or never speak.  Each gets an
 * ErrorResponse with SQLSTATE 08P01 where a reply is possible, its
 * connection is closed, and everyone else carries on; no descriptor leaks.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static struct proxy P;
static int baseline_fds;

static int setup(void **state)
{
	char dbs[256];
	int fd;

	(void)state;
	harness_init();
	/* trust for clients; pgperf logs in to PostgreSQL with a password */
	snprintf(
		dbs, sizeof(dbs),
		"rawdb = host=127.0.0.1 port=%d dbname=appdb user=app password=app-secret\n",
		H.pg_port);
	if (!proxy_start(
		    &P,
		    "auth_type = trust\nmax_packet_size = 1048576\nclient_login_timeout = 1\n",
		    dbs))
		return -1;
	/* the port answers before the event loop and the analyzer's
	 * descriptors are up: count after one round trip */
	fd = raw_connect(P.port);
	if (fd < 0 || !raw_login(fd, "app", "rawdb"))
		return -1;
	close(fd);
	if (!proxy_ctl_wait(&P, "--json pools", "\"cl_active\": 0", true,
			    10000))
		return -1;
	baseline_fds = proc_fd_count(P.pid);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return proxy_stop(&P, SIGINT) == 0 ? 0 : -1;
}

/* A normal client must still work, whatever happened before. */
static uint32_t wire32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static void others_unaffected(void)
{
	PGconn *c = proxy_connect(&P, "app", "x", "rawdb", NULL);

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_string_equal(q1(c, "select 'fine'"), "fine");
	PQfinish(c);
}

static void expect_08P01_and_close(int fd)
{
	const char *st = raw_expect_error(fd, 3000);

	assert_non_null(st);
	assert_string_equal(st, "08P01");
	assert_true(raw_wait_closed(fd, 3000));
	close(fd);
	others_unaffected();
}

/*
 * A startup packet of impossible length is closed without an answer, as
 * PostgreSQL does (it only logs it): the first read is end of file.
 */
static void expect_silent_close(int fd)
{
	uint8_t buf[64];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	assert_true(poll(&pfd, 1, 3000) == 1);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);
	others_unaffected();
}

static void test_startup_length_too_small(void **state)
{
	uint8_t pkt[4] = {0, 0, 0, 4};
	int fd = raw_connect(P.port);

	(void)state;
	assert_true(raw_send(fd, pkt, sizeof(pkt)));
	expect_silent_close(fd);
}

static void test_startup_length_too_large(void **state)
{
	uint8_t pkt[8] = {0, 1, 0, 0, 0, 3, 0, 0};
	int fd = raw_connect(P.port);

	(void)state;
	assert_true(raw_send(fd, pkt, sizeof(pkt)));
	expect_silent_close(fd);
}

static void test_startup_without_user(void **state)
{
	uint8_t pkt[9] = {0, 0, 0, 9, 0, 3, 0, 0, 0};
	int fd = raw_connect(P.port);

	(void)state;
	assert_true(raw_send(fd, pkt, sizeof(pkt)));
	expect_08P01_and_close(fd);
}

static void test_unknown_message_type(void **state)
{
	uint8_t msg[5] = {'!', 0, 0, 0, 4};
	int fd = raw_connect(P.port);

	(void)state;
	assert_true(raw_login(fd, "app", "rawdb"));
	assert_true(raw_send(fd, msg, sizeof(msg)));
	expect_08P01_and_close(fd);
}

static void test_message_length_below_four(void **state)
{
	uint8_t msg[5] = {'Q', 0, 0, 0, 2};
	int fd = raw_connect(P.port);

	(void)state;
	assert_true(raw_login(fd, "app", "rawdb"));
	assert_true(raw_send(fd, msg, sizeof(msg)));
	expect_08P01_and_close(fd);
}

static void test_message_over_max_packet_size(void **state)
{
	/* 2 MB declared; the limit is 1 MB; the body never needs to arrive */
	uint8_t msg[5] = {'Q', 0, 0x20, 0, 0};
	int fd = raw_connect(P.port);

	(void)state;
	assert_true(raw_login(fd, "app", "rawdb"));
	assert_true(raw_send(fd, msg, sizeof(msg)));
	expect_08P01_and_close(fd);
}

static void test_query_split_into_single_bytes(void **state)
{
	static const char sql[] = "select 'split' || 'ok'";
	uint8_t msg[64], body[4096];
	size_t n = 0;
	char type;
	uint32_t len;
	bool got_value = false;
	int fd = raw_connect(P.port);

	(void)state;
	assert_true(raw_login(fd, "app", "rawdb"));
	msg[n++] = 'Q';
	n += 4;
	memcpy(msg + n, sql, sizeof(sql));
	n += sizeof(sql);
	msg[1] = 0;
	msg[2] = 0;
	msg[3] = 0;
	msg[4] = (uint8_t)(n - 1);
	for (size_t i = 0; i < n; i++) {
		assert_true(raw_send(fd, msg + i, 1));
		usleep(2000);
	}
	while (raw_read_msg(fd, &type, body, sizeof(body), &len, 3000)) {
		if (type == 'D')
			got_value = memmem(body, len, "splitok", 7) != NULL;
		if (type == 'Z')
			break;
	}
	assert_true(got_value);
	close(fd);
}

static void test_startup_one_byte_at_a_time(void **state)
{
	uint8_t pkt[256], body[4096];
	size_t n = raw_startup(pkt, "app", "rawdb");
	char type;
	uint32_t len;
	bool ready = false;
	int fd = raw_connect(P.port);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		assert_true(raw_send(fd, pkt + i, 1));
		usleep(1000);
	}
	while (raw_read_msg(fd, &type, body, sizeof(body), &len, 3000))
		if (type == 'Z' && (ready = true))
			break;
	assert_true(ready);
	close(fd);
}

static void test_client_vanishes_mid_message(void **state)
{
	uint8_t msg[16] = {'Q', 0, 0, 0, 100, 's', 'e', 'l'};
	int fd = raw_connect(P.port);
	const char *out;
	int st;

	(void)state;
	assert_true(raw_login(fd, "app", "rawdb"));
	assert_true(raw_send(fd, msg, 8));
	close(fd);
	/* the half-sent query's server connection is not left in use */
	assert_true(proxy_ctl_wait(&P, "--json pools", "\"cl_active\": 0", true,
				   10000));
	out = proxy_ctl(&P, "admin", "x", "--json pools", &st);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "\"sv_active\": 0"));
	others_unaffected();
}

static void test_silent_client_times_out(void **state)
{
	int fd = raw_connect(P.port);

	(void)state;
	/* client_login_timeout = 1 */
	expect_08P01_and_close(fd);
}

static void test_ssl_and_gss_requests_declined(void **state)
{
	uint8_t ssl[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
	uint8_t gss[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30};
	uint8_t answer;
	int fd = raw_connect(P.port);

	(void)state;
	assert_true(raw_send(fd, ssl, sizeof(ssl)));
	assert_int_equal(recv(fd, &answer, 1, 0), 1);
	assert_int_equal(answer, 'N');
	assert_true(raw_send(fd, gss, sizeof(gss)));
	assert_int_equal(recv(fd, &answer, 1, 0), 1);
	assert_int_equal(answer, 'N');
	/* and the plain startup still works afterwards */
	assert_true(raw_login(fd, "app", "rawdb"));
	close(fd);
}

static void test_garbage_flood(void **state)
{
	uint8_t junk[65536];
	int fd = raw_connect(P.port);

	(void)state;
	assert_true(raw_login(fd, "app", "rawdb"));
	srand(7);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	junk[0] = '?'; /* never a valid type */
	raw_send(fd, junk, sizeof(junk));
	assert_true(raw_wait_closed(fd, 3000));
	close(fd);
	others_unaffected();
}

static void test_newer_protocol_minor_is_negotiated(void **state)
{
	/* protocol 3.2 with an unknown _pq_ option */
	static const char params[] =
		"user\0app\0database\0rawdb\0_pq_.shiny\0on\0";
	uint8_t pkt[128], body[4096];
	size_t n = 8 + sizeof(params);
	char type;
	uint32_t len;
	int fd = raw_connect(P.port);

	(void)state;
	pkt[0] = 0;
	pkt[1] = 0;
	pkt[2] = 0;
	pkt[3] = (uint8_t)n;
	pkt[4] = 0;
	pkt[5] = 3;
	pkt[6] = 0;
	pkt[7] = 2;
	memcpy(pkt + 8, params, sizeof(params));
	assert_true(raw_send(fd, pkt, n));
	assert_true(raw_read_msg(fd, &type, body, sizeof(body), &len, 3000));
	assert_int_equal(type, 'v');
	/* newest minor we speak: 0; one option not recognized: _pq_.shiny */
	assert_int_equal(wire32(body), 0);
	assert_int_equal(wire32(body + 4), 1);
	assert_string_equal((const char *)body + 8, "_pq_.shiny");
	for (;;) {
		assert_true(raw_read_msg(fd, &type, body, sizeof(body), &len,
					 3000));
		if (type == 'Z')
			break;
	}
	close(fd);
}

static void test_client_that_stops_reading(void **state)
{
	static const char sql[] =
		"select repeat('r', 1000) from generate_series(1, 200000)";
	uint8_t msg[128];
	size_t n = 0;
	long before, after;
	int fd = raw_connect(P.port), rcvbuf = 4096;

	(void)state;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	assert_true(raw_login(fd, "app", "rawdb"));
	before = proc_rss_kb(P.pid);
	msg[n++] = 'Q';
	n += 4;
	memcpy(msg + n, sql, sizeof(sql));
	n += sizeof(sql);
	msg[1] = 0;
	msg[2] = 0;
	msg[3] = (uint8_t)((n - 1) >> 8);
	msg[4] = (uint8_t)(n - 1);
	/* ask for 200 MB, then read nothing for a while */
	assert_true(raw_send(fd, msg, n));
	sleep(2);
	after = proc_rss_kb(P.pid);
	fprintf(stderr,
		"slow reader: pgperf RSS %ld kB before, %ld kB while 200 MB wait\n",
		before, after);
	/* back-pressure keeps it to the buffer windows, far below the result */
	assert_true(after - before < 16 * 1024);
	close(fd);
	others_unaffected();
}

static void test_no_descriptor_leak(void **state)
{
	int now = -1;

	(void)state;
	/* closed connections are reaped within a tick */
	for (int i = 0; i < 40; i++) {
		now = proc_fd_count(P.pid);
		if (now <= baseline_fds + 2)
			break;
		usleep(100000);
	}
	/* pooled server connections may stay open; nothing else */
	fprintf(stderr, "descriptors: %d at start, %d now\n", baseline_fds,
		now);
	if (now > baseline_fds + 2) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2", (int)P.pid);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot list descriptors\n");
	}
	assert_true(now <= baseline_fds + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_startup_length_too_small),
		cmocka_unit_test(test_startup_length_too_large),
		cmocka_unit_test(test_startup_without_user),
		cmocka_unit_test(test_unknown_message_type),
		cmocka_unit_test(test_message_length_below_four),
		cmocka_unit_test(test_message_over_max_packet_size),
		cmocka_unit_test(test_query_split_into_single_bytes),
		cmocka_unit_test(test_startup_one_byte_at_a_time),
		cmocka_unit_test(test_client_vanishes_mid_message),
		cmocka_unit_test(test_silent_client_times_out),
		cmocka_unit_test(test_ssl_and_gss_requests_declined),
		cmocka_unit_test(test_garbage_flood),
		cmocka_unit_test(test_newer_protocol_minor_is_negotiated),
		cmocka_unit_test(test_client_that_stops_reading),
		cmocka_unit_test(test_no_descriptor_leak),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
