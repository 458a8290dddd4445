/*
 * test_histogram.c -- the log-linear histogram against exact percentiles
 * of random data, merging, bounds and Prometheus-style cumulative counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "analyzer/histogram.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The exact value at quantile q, with hist_quantile's rank rule. */
static uint64_t exact(const uint64_t *sorted, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * (double)n);

	if (rank == 0)
		rank = 1;
	return sorted[rank - 1];
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void check_within_1pct(const struct histogram *h, const uint64_t *v,
			      size_t n)
{
	static const double qs[] = {0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999};

	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double want = (double)exact(v, n, qs[i]);
		double got = (double)hist_quantile(h, qs[i]);

		if (fabs(got - want) > want * 0.01 + 0.5)
			fail_msg("q%.3f: got %.0f, exact %.0f", qs[i], got,
				 want);
	}
}

static void test_random_distributions(void **state)
{
	enum { N = 200000 };
	uint64_t *v = malloc(N * sizeof(*v));
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	(void)state;
	assert_non_null(v);
	for (int dist = 0; dist < 3; dist++) {
		struct histogram h;

		hist_init(&h);
		for (size_t i = 0; i < N; i++) {
			uint64_t r = next_rand(&seed);

			if (dist == 0) /* uniform 0..10 ms */
				v[i] = r % 10000;
			else if (dist == 1) /* log-uniform 1 us .. 100 s */
				v[i] = (uint64_t)exp((double)(r % 1000000) /
						     1000000.0 * log(1e8));
			else /* mostly fast, a slow tail */
				v[i] = r % 100 ? 200 + r % 300
					       : 50000 + r % 2000000;
			assert_true(hist_add(&h, v[i]));
		}
		qsort(v, N, sizeof(*v), cmp_u64);
		assert_int_equal(h.count, N);
		assert_int_equal(h.min, v[0]);
		assert_int_equal(h.max, v[N - 1]);
		check_within_1pct(&h, v, N);
		assert_int_equal(hist_quantile(&h, 1.0), v[N - 1]);
		hist_free(&h);
	}
	free(v);
}

static void test_merge_equals_whole(void **state)
{
	struct histogram a, b, all;
	uint64_t seed = 42;

	(void)state;
	hist_init(&a);
	hist_init(&b);
	hist_init(&all);
	for (int i = 0; i < 50000; i++) {
		uint64_t x = next_rand(&seed) % 5000000;

		assert_true(hist_add(i % 3 ? &a : &b, x));
		assert_true(hist_add(&all, x));
	}
	assert_true(hist_merge(&a, &b));
	assert_int_equal(a.count, all.count);
	assert_int_equal(a.sum, all.sum);
	assert_int_equal(a.min, all.min);
	assert_int_equal(a.max, all.max);
	for (double q = 0.05; q < 1; q += 0.05)
		assert_int_equal(hist_quantile(&a, q), hist_quantile(&all, q));
	hist_free(&a);
	hist_free(&b);
	hist_free(&all);
}

static void test_edges(void **state)
{
	struct histogram h;

	(void)state;
	hist_init(&h);
	assert_int_equal(hist_quantile(&h, 0.5), 0); /* empty */
	assert_true(hist_add(&h, 0));
	assert_int_equal(hist_quantile(&h, 0.99), 0);
	/* beyond the range: counted, clamped to what was seen */
	assert_true(hist_add(&h, UINT64_MAX / 2));
	assert_int_equal(h.count, 2);
	assert_int_equal(hist_quantile(&h, 1.0), UINT64_MAX / 2);
	hist_free(&h);

	/* small values are exact; groups are allocated only where used */
	hist_init(&h);
	for (uint64_t x = 0; x < 128; x++)
		assert_true(hist_add(&h, x));
	assert_int_equal(hist_quantile(&h, 0.5), 63);
	assert_non_null(h.group[0]);
	for (size_t g = 1; g < ARRAY_SIZE(h.group); g++)
		assert_null(h.group[g]);
	assert_int_equal(hist_count_le(&h, 9), 10);
	assert_int_equal(hist_count_le(&h, 1000), 128);
	hist_free(&h);
}

static void test_count_le_cumulative(void **state)
{
	struct histogram h;
	uint64_t seed = 7, prev = 0;

	(void)state;
	hist_init(&h);
	for (int i = 0; i < 10000; i++)
		assert_true(hist_add(&h, next_rand(&seed) % 100000));
	for (uint64_t le = 1; le < 200000; le *= 2) {
		uint64_t n = hist_count_le(&h, le);

		assert_true(n >= prev);
		prev = n;
	}
	assert_int_equal(hist_count_le(&h, 1000000), h.count);
	hist_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_distributions),
		cmocka_unit_test(test_merge_equals_whole),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_count_le_cumulative),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
