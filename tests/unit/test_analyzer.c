/*
 * test_analyzer.c -- the analyzer thread through its public interface:
 * statement events reach the right fingerprint, shapes that differ only in
 * literals share one, the table stays within max_tracked_queries by merging
 * the least total time into "other" without losing a call, and a statement
 * whose text never arrived is counted (in "other") and asks for texts;
 * marks split statements into windows; a state image carries statistics
 * and marks into another analyzer, and a damaged one is refused whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "analyzer/analyzer.h"
#include "lib/shape.h"

#include "ana_push.h"

static void push_stmt(struct analyzer *a, uint64_t shape, uint32_t us,
		      const char *sqlstate)
{
	struct ana_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_STMT;
	ev.shape = shape;
	ev.client = 1;
	ev.dur_us = us;
	ev.rows = 1;
	if (sqlstate)
		memcpy(ev.sqlstate, sqlstate, 6);
	assert_true(analyzer_push(a, &ev));
}

/*
 * The event ring is bounded in bytes of text as well as in events: with
 * the analyzer held back, 100 new statements of 1 MiB each cannot all be
 * queued (64 MiB at most wait); the rest are refused, to be sent again.
 */
static void test_ring_bounded_in_bytes(void **state)
{
	const size_t big = 1u << 20;
	struct analyzer *a;
	int queued = 0;

	(void)state;
	setenv("PGPERF_TEST_SLOW_ANALYZER_MS", "3000", 1);
	a = analyzer_start(100);
	unsetenv("PGPERF_TEST_SLOW_ANALYZER_MS");
	assert_non_null(a);
	for (int i = 0; i < 100; i++) {
		struct ana_event ev;
		char *text = malloc(big + 1);

		assert_non_null(text);
		memset(text, 'x', big);
		memcpy(text, "select '", 8);
		snprintf(text + big - 20, 20, "' as c%u", (unsigned)i);
		memset(&ev, 0, sizeof(ev));
		ev.type = ANA_TEXT;
		ev.shape = 1000 + (uint64_t)i;
		ev.text = text;
		ev.text_len = (uint32_t)strlen(text);
		if (analyzer_push(a, &ev))
			queued++;
		else
			free(text);
	}
	print_message("queued %d of 100 texts of 1 MiB\n", queued);
	assert_true(queued < 100);
	assert_true(queued >= 60);
	analyzer_stop(a);
}

static void test_counts_and_literals(void **state)
{
	struct analyzer *a = analyzer_start(100);
	struct ana_query *q;
	struct ana_totals t;
	uint64_t s1, s2;
	size_t n;

	(void)state;
	assert_non_null(a);
	s1 = push_text(a, "SELECT * FROM t WHERE id = 1");
	s2 = push_text(a, "select *  FROM t where id = 99 -- other literal");
	assert_int_equal(s1, s2); /* one shape */
	for (int i = 0; i < 100; i++)
		push_stmt(a, s1, (uint32_t)(100 + i), i < 3 ? "22012" : NULL);
	analyzer_sync(a, 5000);
	n = analyzer_queries(a, &q, &t);
	assert_int_equal(n, 1);
	assert_string_equal(q[0].query, "SELECT * FROM t WHERE id = $1");
	assert_int_equal(q[0].calls, 100);
	assert_int_equal(q[0].rows, 100);
	assert_int_equal(q[0].errors, 3);
	assert_string_equal(q[0].err[0].sqlstate, "22012");
	assert_int_equal(q[0].err[0].n, 3);
	assert_int_equal(q[0].min_us, 100);
	assert_int_equal(q[0].max_us, 199);
	/* 1% of the exact value, as the histogram promises */
	assert_true(q[0].p50_us >= 148 && q[0].p50_us <= 151);
	assert_int_equal(t.calls, 100);
	ana_queries_free(q, n);
	analyzer_stop(a);
}

static void test_bounded_by_total_time(void **state)
{
	struct analyzer *a = analyzer_start(10);
	struct ana_query *q;
	struct ana_totals t;
	uint64_t calls = 0, other = 0;
	size_t n;

	(void)state;
	assert_non_null(a);
	/* 50 fingerprints; each later one has more calls, more time */
	for (int i = 0; i < 50; i++) {
		char sql[64];
		uint64_t sh;

		snprintf(sql, sizeof(sql), "SELECT c%d FROM t", i);
		sh = push_text(a, sql);
		for (int k = 0; k <= i; k++)
			push_stmt(a, sh, (uint32_t)(10 * i + 1), NULL);
		analyzer_sync(a, 5000); /* keep events in order of arrival */
	}
	n = analyzer_queries(a, &q, &t);
	assert_true(n <= 11);
	assert_true(t.evicted >= 40);
	for (size_t i = 0; i < n; i++) {
		calls += q[i].calls;
		if (strcmp(q[i].kind, "OTHER") == 0)
			other = q[i].calls;
		else { /* only the ten with the most total time are left */
			int k = -1;

			assert_int_equal(sscanf(q[i].query, "SELECT c%d", &k),
					 1);
			assert_true(k >= 40);
		}
	}
	assert_int_equal(calls, 50 * 51 / 2); /* no call lost */
	assert_int_equal(other, 40 * 41 / 2);
	ana_queries_free(q, n);
	analyzer_stop(a);
}

static void test_text_lost(void **state)
{
	struct analyzer *a = analyzer_start(100);
	struct ana_query *q;
	struct ana_totals t;
	size_t n;

	(void)state;
	assert_non_null(a);
	push_stmt(a, 12345, 10, NULL); /* its text never came */
	analyzer_sync(a, 5000);
	assert_true(analyzer_wants_texts(a));
	assert_false(analyzer_wants_texts(a)); /* cleared once read */
	n = analyzer_queries(a, &q, &t);
	assert_int_equal(n, 1);
	assert_string_equal(q[0].kind, "OTHER");
	assert_int_equal(t.unknown_shape, 1);
	ana_queries_free(q, n);
	analyzer_stop(a);
}

static void push_mark(struct analyzer *a, const char *name, int kind)
{
	struct ana_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_MARK;
	ev.rows = (uint64_t)kind;
	ev.text = strdup(name);
	ev.text_len = (uint32_t)strlen(name);
	assert_true(analyzer_push(a, &ev));
}

static void test_marks_split_windows(void **state)
{
	struct analyzer *a = analyzer_start(100);
	struct ana_windows w;
	uint64_t s;

	static const char who[] = "appdb\0app\0pgbench\0";
	struct ana_event ev;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_CLIENT;
	ev.client = 1;
	ev.text_len = sizeof(who);
	ev.text = malloc(sizeof(who));
	memcpy(ev.text, who, sizeof(who));
	assert_true(analyzer_push(a, &ev));
	s = push_text(a, "SELECT v FROM t WHERE id = 1");
	for (int i = 0; i < 50; i++)
		push_stmt(a, s, 10000, NULL); /* 10 ms before */
	push_mark(a, "index", ANA_MARK_POINT);
	for (int i = 0; i < 40; i++)
		push_stmt(a, s, 500, i < 4 ? "57014" : NULL); /* 0.5 ms */
	push_mark(a, "load", ANA_MARK_LOAD_START);
	for (int i = 0; i < 30; i++)
		push_stmt(a, s, 700, NULL);
	push_mark(a, "", ANA_MARK_LOAD_STOP);
	analyzer_sync(a, 5000);
	analyzer_windows(a, &w);
	assert_int_equal(w.nmarks, 3);
	assert_true(w.before.present && w.after.present);
	assert_string_equal(w.before.to_mark, "index");
	assert_int_equal(w.before.calls, 50);
	assert_true(w.before.p95_us >= 9900 && w.before.p95_us <= 10100);
	/* after the point mark: everything since, load test included */
	assert_string_equal(w.after.from_mark, "index");
	assert_int_equal(w.after.calls, 70);
	assert_int_equal(w.after.errors, 4);
	assert_true(w.after.p50_us <= 710);
	/* the one statement on both sides, with its own before/after */
	assert_int_equal(w.nchanges, 1);
	assert_int_equal(w.changes[0].calls_before, 50);
	assert_int_equal(w.changes[0].calls_after, 70);
	assert_int_equal(w.changes[0].us_before, 50 * 10000);
	/* the load test: only its own statements */
	assert_true(w.load.present);
	assert_false(w.load_running);
	assert_string_equal(w.load.from_mark, "load");
	assert_int_equal(w.load.calls, 30);
	assert_int_equal(w.load.clients, 1);
	assert_string_equal(w.load.application, "pgbench");
	analyzer_stop(a);
}

static void test_state_image(void **state)
{
	struct analyzer *a = analyzer_start(100), *b;
	struct ana_query *q;
	struct ana_windows w;
	struct ana_totals t;
	char err[128];
	uint8_t *img, *bad;
	size_t len, n;
	uint64_t s;

	(void)state;
	s = push_text(a, "SELECT v FROM t WHERE id = 1");
	for (int i = 0; i < 100; i++)
		push_stmt(a, s, (uint32_t)(1000 + 10 * i),
			  i < 2 ? "40001" : NULL);
	push_mark(a, "before", ANA_MARK_POINT);
	push_stmt(a, s, 5000, NULL);
	analyzer_sync(a, 5000);
	img = analyzer_state_image(a, &len);
	assert_non_null(img);
	analyzer_stop(a);

	b = analyzer_start(100);
	assert_true(analyzer_state_load(b, img, len, err, sizeof(err)));
	n = analyzer_queries(b, &q, &t);
	assert_int_equal(n, 1);
	assert_string_equal(q[0].query, "SELECT v FROM t WHERE id = $1");
	assert_int_equal(q[0].calls, 101);
	assert_int_equal(q[0].errors, 2);
	assert_string_equal(q[0].err[0].sqlstate, "40001");
	assert_int_equal(q[0].max_us, 5000);
	/* the buckets came along: percentiles, not just sums */
	assert_true(q[0].p50_us >= 1480 && q[0].p50_us <= 1520);
	assert_int_equal(t.calls, 101);
	ana_queries_free(q, n);
	analyzer_windows(b, &w);
	assert_int_equal(w.nmarks, 1);
	assert_string_equal(w.marks[0].name, "before");
	assert_int_equal(w.before.calls, 100);
	assert_int_equal(w.after.calls, 1);
	assert_int_equal(w.nchanges, 1); /* the mark's counts came along */
	assert_int_equal(w.changes[0].calls_before, 100);
	assert_int_equal(w.changes[0].calls_after, 1);
	/* statements after the load count on top */
	s = push_text(b, "SELECT v FROM t WHERE id = 7");
	push_stmt(b, s, 1000, NULL);
	analyzer_sync(b, 5000);
	n = analyzer_queries(b, &q, &t);
	assert_int_equal(q[0].calls, 102);
	ana_queries_free(q, n);
	analyzer_stop(b);

	/* damaged: one byte flipped, truncated, wrong magic; nothing kept */
	bad = malloc(len);
	assert_non_null(bad);
	for (int k = 0; k < 3; k++) {
		memcpy(bad, img, len);
		if (k == 0)
			bad[len / 2] ^= 0x40;
		else if (k == 2)
			bad[0] = 'X';
		b = analyzer_start(100);
		assert_false(analyzer_state_load(b, bad, k == 1 ? len - 9 : len,
						 err, sizeof(err)));
		n = analyzer_queries(b, &q, &t);
		assert_int_equal(n, 0);
		ana_queries_free(q, n);
		analyzer_stop(b);
	}
	free(bad);
	free(img);
}

/*
 * A reader's ticket: reached once every event pushed before it is
 * applied, and the analyzer says so on its notify eventfd without being
 * waited for.
 */
static void test_ticket_notifies(void **state)
{
	struct analyzer *a = analyzer_start(100);
	struct pollfd p;
	uint64_t s, ticket, v;
	size_t n;
	struct ana_query *q;

	(void)state;
	assert_non_null(a);
	s = push_text(a, "SELECT 1");
	for (int i = 0; i < 2000; i++)
		push_stmt(a, s, 10, NULL);
	ticket = analyzer_ticket(a);
	assert_true(ticket >= 2001);
	if (!analyzer_reached(a, ticket)) {
		analyzer_notify_when(a, ticket);
		p.fd = analyzer_notify_fd(a);
		p.events = POLLIN;
		/* written at most once per ticket, within 5 s */
		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(read(p.fd, &v, sizeof(v)), sizeof(v));
	}
	assert_true(analyzer_reached(a, ticket));
	assert_false(analyzer_reached(a, ticket + 1));
	n = analyzer_queries(a, &q, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(q[0].calls, 2000); /* all of them, not most */
	ana_queries_free(q, n);
	analyzer_stop(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_bounded_in_bytes),
		cmocka_unit_test(test_counts_and_literals),
		cmocka_unit_test(test_bounded_by_total_time),
		cmocka_unit_test(test_text_lost),
		cmocka_unit_test(test_marks_split_windows),
		cmocka_unit_test(test_state_image),
		cmocka_unit_test(test_ticket_notifies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
