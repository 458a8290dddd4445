/*
 * test_prepared.c -- the bookkeeping behind transaction-mode prepared
 * statements (prepared.h), without a server: interning and reference
 * counts, a client's names, a server connection's LRU, the request queue
 * growing and wrapping; then many random operation sequences checked
 * against a plain model (tests/fuzz/prep_ops.h, which the fuzz target
 * shares).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../fuzz/prep_ops.h"

static void test_intern_once(void **state)
{
	struct prep_registry r = {0};
	struct prep_stmt *a, *b, *c;
	char buf[64], name[32];
	size_t n;

	(void)state;
	n = prep_ops_body(1, buf);
	a = prep_intern(&r, buf, n);
	b = prep_intern(&r, buf, n);
	assert_ptr_equal(a, b); /* one statement, two references */
	assert_int_equal(a->refs, 2);
	n = prep_ops_body(5, buf); /* same text, another parameter type */
	c = prep_intern(&r, buf, n);
	assert_ptr_not_equal(a, c);
	assert_int_not_equal(a->id, c->id);
	assert_int_equal(r.n, 2);
	prep_server_name(a, name, sizeof(name));
	assert_true(strncmp(name, "pgperf_", 7) == 0);
	assert_int_equal(strtoull(name + 7, NULL, 10), a->id);
	prep_unref(&r, a);
	assert_int_equal(r.n, 2);
	prep_unref(&r, b); /* the last reference frees it */
	assert_int_equal(r.n, 1);
	prep_unref(&r, c);
	assert_int_equal(r.n, 0);
	prep_registry_free(&r);
}

static void test_client_names(void **state)
{
	struct prep_registry r = {0};
	struct prep_client_map m = {0};
	struct prep_stmt *a, *x;
	char buf[64];
	size_t n;

	(void)state;
	n = prep_ops_body(0, buf);
	x = prep_intern(&r, buf, n);
	assert_true(prep_client_put(&m, "s1", x));
	prep_unref(&r, x); /* the map keeps its own reference */
	assert_int_equal(x->refs, 1);
	assert_ptr_equal(prep_client_get(&m, "s1", 2), x);
	assert_null(prep_client_get(&m, "s2", 2));
	assert_null(prep_client_get(&m, "s", 1)); /* a prefix is not it */
	/* an undo for another statement leaves the name alone */
	n = prep_ops_body(3, buf);
	a = prep_intern(&r, buf, n);
	prep_client_del(&r, &m, "s1", 2, a);
	assert_ptr_equal(prep_client_get(&m, "s1", 2), x);
	prep_unref(&r, a);
	prep_client_del(&r, &m, "s1", 2, x);
	assert_null(prep_client_get(&m, "s1", 2));
	assert_int_equal(r.n, 0); /* the last reference went with it */
	/* many names: the table grows */
	n = prep_ops_body(2, buf);
	x = prep_intern(&r, buf, n);
	for (int i = 0; i < 1000; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%d", i);
		assert_true(prep_client_put(&m, name, x));
	}
	assert_int_equal(prep_client_count(&m), 1000);
	assert_int_equal(x->refs, 1001);
	assert_ptr_equal(prep_client_get(&m, "n777", 4), x);
	prep_unref(&r, x);
	prep_client_clear(&r, &m);
	assert_int_equal(r.n, 0);
	prep_registry_free(&r);
}

static void test_server_lru(void **state)
{
	struct prep_registry r = {0};
	struct prep_server_cache c = {0};
	struct prep_stmt *st[3];
	char buf[64];

	(void)state;
	for (int i = 0; i < 3; i++) {
		size_t n = prep_ops_body(i, buf);

		st[i] = prep_intern(&r, buf, n);
		assert_false(prep_server_has(&c, st[i]));
		assert_true(prep_server_add(&c, st[i]));
	}
	assert_ptr_equal(prep_server_lru(&c), st[0]);
	assert_true(prep_server_has(&c, st[0])); /* used: now the newest */
	assert_ptr_equal(prep_server_lru(&c), st[1]);
	prep_server_forget(&r, &c, st[1]);
	assert_ptr_equal(prep_server_lru(&c), st[2]);
	assert_int_equal(prep_server_count(&c), 2);
	for (int i = 0; i < 3; i++)
		prep_unref(&r, st[i]);
	assert_int_equal(r.n, 2); /* the cache still holds two */
	prep_server_clear(&r, &c);
	assert_int_equal(r.n, 0);
	assert_null(prep_server_lru(&c));
	prep_registry_free(&r);
}

static void test_queue_wraps(void **state)
{
	struct prep_registry r = {0};
	struct pq q = {0};
	char buf[64];
	size_t n = prep_ops_body(4, buf);
	int next = 0, popped = 0;

	(void)state;
	/* push and pop unevenly so the ring wraps and grows while wrapped */
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 7; i++) {
			char name[16];

			snprintf(name, sizeof(name), "%d", next++);
			assert_true(pq_push(&q, PQ_BIND,
					    prep_intern(&r, buf, n),
					    pgp_strdup(name)));
		}
		for (int i = 0; i < 5; i++) {
			char name[16];

			snprintf(name, sizeof(name), "%d", popped++);
			assert_string_equal(pq_head(&q)->name, name);
			pq_pop(&r, &q);
		}
	}
	assert_int_equal(q.n, 80);
	assert_string_equal(pq_tail(&q)->name, "279");
	assert_int_equal(r.n, 1);
	pq_free(&r, &q);
	assert_int_equal(r.n, 0);
	prep_registry_free(&r);
}

/* Random sequences against the model, reproducible from the seed. */
static void test_random_sequences(void **state)
{
	struct prep_ops *o = malloc(sizeof(*o));
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint8_t ops[3 * 400];

	(void)state;
	assert_non_null(o);
	for (int run = 0; run < 300; run++) {
		for (size_t i = 0; i < sizeof(ops); i++) {
			seed = seed * 6364136223846793005ull +
			       1442695040888963407ull;
			ops[i] = (uint8_t)(seed >> 56);
		}
		if (!prep_ops_run(o, ops, sizeof(ops)))
			fail_msg("run %d: %s", run, o->why);
	}
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern_once),
		cmocka_unit_test(test_client_names),
		cmocka_unit_test(test_server_lru),
		cmocka_unit_test(test_queue_wraps),
		cmocka_unit_test(test_random_sequences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
