/*
 * test_analyzer.c -- the analyzer thread through its public interface:
 * statement events reach the right fingerprint, shapes that differ only in
 * literals share one, the table stays within max_tracked_queries by merging
 * the least total time into "other" without losing a call, and a statement
 * whose text never arrived is counted (in "other") and asks for texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgperf/analyzer.h"
#include "pgperf/shape.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_literals),
		cmocka_unit_test(test_bounded_by_total_time),
		cmocka_unit_test(test_text_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
