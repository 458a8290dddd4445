/*
 * test_pool_state.c -- the pools' share of the state file and the read
 * side's snapshot, without PostgreSQL: a saved record adds to the pool it
 * belongs to (counters add up, the longest transactions merge in order);
 * records survive a round trip through their bytes; pool_snapshot() gives
 * plain copies of the live pools first, then of the records no pool has
 * claimed, with what a reader needs and nothing live.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/pool.h"
#include "proxy/pool_state.h"

struct fixture {
	struct pgperf pp;
	struct config cfg;
	struct pool pool;
	struct pool_saved saved[2];
	char db[8], user[8];
};

static void hold(struct pool_hold *h, uint64_t us, const char *q)
{
	memset(h, 0, sizeof(*h));
	h->us = us;
	strcpy(h->query, q);
}

static struct fixture *setup(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct pool *p;

	assert_non_null(f);
	p = &f->pool;
	f->cfg.default_pool_size = 20;
	f->pp.cfg = &f->cfg;
	list_init(&f->pp.pools);
	strcpy(f->db, "shop");
	strcpy(f->user, "app");
	p->pp = &f->pp;
	p->database = f->db;
	p->user = f->user;
	p->target.pool_size = 5;
	pool_init_lists(p);
	p->st.waited_count = 3;
	p->st.wait_us = 3000;
	p->st.max_wait_us = 2000;
	p->hazard_clients[1] = 2;
	hold(&p->holds[0], 900, "live a");
	hold(&p->holds[1], 300, "live b");
	list_append(&f->pp.pools, &p->node);

	/* one record for the live pool, one for a pool not back yet */
	strcpy(f->saved[0].database, "shop");
	strcpy(f->saved[0].user, "app");
	f->saved[0].waited_count = 4;
	f->saved[0].wait_us = 8000;
	f->saved[0].max_wait_us = 5000;
	f->saved[0].hazard_clients[1] = 1;
	f->saved[0].hazard_last_us[1] = 42;
	hold(&f->saved[0].holds[0], 1200, "saved a");
	hold(&f->saved[0].holds[1], 500, "saved b");
	f->saved[0].nholds = 2;
	strcpy(f->saved[1].database, "audit");
	strcpy(f->saved[1].user, "batch");
	f->saved[1].waited_count = 7;
	hold(&f->saved[1].holds[0], 70, "saved c");
	f->saved[1].nholds = 1;
	f->pp.saved = f->saved;
	f->pp.nsaved = 2;
	return f;
}

static void test_saved_record_adds_to_its_pool(void **state)
{
	struct fixture *f = setup();
	struct pool *p = &f->pool;

	(void)state;
	pool_state_apply(&f->pp, p);
	assert_int_equal(p->st.waited_count, 7);
	assert_int_equal(p->st.wait_us, 11000);
	assert_int_equal(p->st.max_wait_us, 5000);
	assert_int_equal(p->hazard_clients[1], 3);
	assert_int_equal(p->hazard_last_us[1], 42);
	/* the longest three of both, longest first */
	assert_int_equal(p->holds[0].us, 1200);
	assert_string_equal(p->holds[0].query, "saved a");
	assert_int_equal(p->holds[1].us, 900);
	assert_int_equal(p->holds[2].us, 500);
	/* applied once: the record is spent, the other one is not */
	assert_int_equal(f->saved[0].database[0], '\0');
	assert_string_equal(f->saved[1].database, "audit");
	/* SHOW STATS rates do not count what was saved as new */
	assert_int_equal(p->st_prev.wait_us, 8000);
	free(f);
}

static void test_snapshot_live_then_saved(void **state)
{
	struct fixture *f = setup();
	struct pool_view *v = NULL;
	size_t n;

	(void)state;
	pool_state_apply(&f->pp, &f->pool);
	n = pool_snapshot(&f->pp, &v);
	assert_int_equal(n, 2);
	assert_true(v[0].live);
	assert_string_equal(v[0].database, "shop");
	assert_int_equal(v[0].pool_size, 5);
	assert_int_equal(v[0].st.waited_count, 7);
	assert_int_equal(v[0].holds[0].us, 1200);
	assert_int_equal(v[0].waiting, 0);
	/* a record no pool has claimed: its counters, the default size */
	assert_false(v[1].live);
	assert_string_equal(v[1].database, "audit");
	assert_string_equal(v[1].user, "batch");
	assert_int_equal(v[1].pool_size, 20);
	assert_int_equal(v[1].st.waited_count, 7);
	assert_int_equal(v[1].holds[0].us, 70);
	assert_string_equal(v[1].holds[0].query, "saved c");
	/* a copy: the pool changing later does not change it */
	f->pool.st.waited_count = 99;
	assert_int_equal(v[0].st.waited_count, 7);
	pgp_free(v);
	free(f);
}

static void test_records_round_trip(void **state)
{
	struct fixture *f = setup();
	struct pool_saved *back = NULL;
	size_t len = 0, n = 0;
	void *bytes;

	(void)state;
	bytes = pool_state_serialize(&f->pp, &len);
	assert_non_null(bytes);
	assert_true(pool_state_parse(bytes, len, &back, &n));
	/* the live pool (as it is now), then both records as they were */
	assert_int_equal(n, 3);
	assert_string_equal(back[0].database, "shop");
	assert_int_equal(back[0].waited_count, 3);
	assert_int_equal(back[0].nholds, 2);
	assert_string_equal(back[0].holds[1].query, "live b");
	assert_string_equal(back[2].database, "audit");
	assert_int_equal(back[2].holds[0].us, 70);
	/* cut short anywhere: refused, never read past the end */
	for (size_t cut = 0; cut < len; cut++) {
		struct pool_saved *x = NULL;
		size_t k = 0;

		if (pool_state_parse(bytes, cut, &x, &k))
			fail_msg("a record cut at %zu of %zu was accepted", cut,
				 len);
		free(x);
	}
	free(back);
	free(bytes);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_saved_record_adds_to_its_pool),
		cmocka_unit_test(test_snapshot_live_then_saved),
		cmocka_unit_test(test_records_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
