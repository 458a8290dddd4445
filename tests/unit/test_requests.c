/*
 * test_requests.c -- the request detector on synthetic statement streams:
 * an N+1 burst proven from the parent's sampled values, one below the
 * threshold, one with no parent, a batched IN query, the same values
 * repeated (redundant, not N+1), an unproven burst (suspected), slow
 * independent reads (sequential) and dependent ones (not), request
 * boundaries (tags, transactions, idle gaps) and two clients' requests
 * interleaved through the analyzer thread itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyzer/analyzer.h"
#include "analyzer/findings.h"
#include "analyzer/requests.h"
#include "lib/shape.h"

#include "ana_push.h"

#define PARENT 0x1111
#define CHILD 0x2222
#define OTHER 0x3333

static const struct req_conf conf = {100, 5, 10};

static uint64_t v(int x)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d", x);

	return ana_value_hash(buf, (size_t)n);
}

static int64_t clock_us = 1000000;

static void add(struct request *r, uint64_t fp, uint32_t dur, int nparams,
		const int *params, struct ana_sample *sample)
{
	struct req_stmt st;

	memset(&st, 0, sizeof(st));
	st.fp = fp;
	st.select = true;
	st.dur_us = dur;
	st.start_us = clock_us;
	clock_us += dur + 10;
	st.end_us = clock_us;
	st.nparams = (uint8_t)nparams;
	for (int i = 0; i < nparams; i++)
		st.param[i] = v(params[i]);
	st.sample = sample;
	assert_true(req_add(r, &st, NULL));
}

/* A parent's sample: column 0 (table 100, attribute 1) holds ids. */
static struct ana_sample *ids(int first, int n)
{
	struct ana_sample *s = calloc(1, sizeof(*s));

	s->ncols = 2;
	s->rel[0] = 100;
	s->att[0] = 1;
	s->rel[1] = 100;
	s->att[1] = 2;
	for (int i = 0; i < n && i < ANA_SAMPLE_ROWS; i++) {
		s->val[i][0] = v(first + i);
		s->val[i][1] = v(7); /* a constant column: no proof */
		s->nrows++;
	}
	return s;
}

static void burst(struct request *r, int n, int first)
{
	for (int i = 0; i < n; i++) {
		int p = first + i;

		add(r, CHILD, 100, 1, &p, NULL);
	}
}

static size_t detect(const struct request *r, struct req_finding *f)
{
	return req_detect(r, &conf, f, 8);
}

static const struct req_finding *find(const struct req_finding *f, size_t n,
				      enum req_kind k)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].kind == k)
			return &f[i];
	return NULL;
}

static void test_proven_burst(void **state)
{
	struct request r = {0};
	struct req_finding f[8];
	const struct req_finding *x;
	int lim = 10;
	size_t n;

	(void)state;
	add(&r, PARENT, 500, 1, &lim, ids(1, 10));
	burst(&r, 10, 1);
	n = detect(&r, f);
	x = find(f, n, REQ_NPLUS1);
	assert_non_null(x);
	assert_true(x->proven);
	assert_int_equal(x->parent_fp, PARENT);
	assert_int_equal(x->child_fp, CHILD);
	assert_int_equal(x->repeats, 10);
	assert_int_equal(x->param, 1);
	assert_int_equal(x->parent_rel, 100);
	assert_int_equal(x->parent_att, 1);
	assert_int_equal(x->matched, 10);
	assert_int_equal(x->total_us, 1000);
	assert_int_equal(x->saved_us, 900);
	assert_null(find(f, n, REQ_REDUNDANT));
	req_free(&r);
}

static void test_below_threshold(void **state)
{
	struct request r = {0};
	struct req_finding f[8];
	int lim = 10;

	(void)state;
	add(&r, PARENT, 500, 1, &lim, ids(1, 10));
	burst(&r, 4, 1); /* nplus1_min_repeats is 5 */
	assert_null(find(f, detect(&r, f), REQ_NPLUS1));
	req_free(&r);
}

static void test_threshold_configurable(void **state)
{
	struct request r = {0};
	struct req_finding f[8];
	struct req_conf c = conf;
	int lim = 10;

	(void)state;
	c.min_repeats = 3;
	add(&r, PARENT, 500, 1, &lim, ids(1, 10));
	burst(&r, 3, 1);
	assert_non_null(find(f, req_detect(&r, &c, f, 8), REQ_NPLUS1));
	req_free(&r);
}

static void test_no_parent(void **state)
{
	struct request r = {0};
	struct req_finding f[8];

	(void)state;
	burst(&r, 10, 1); /* nothing before the burst */
	assert_null(find(f, detect(&r, f), REQ_NPLUS1));
	req_free(&r);
}

static void test_batched_in_not_flagged(void **state)
{
	struct request r = {0};
	struct req_finding f[8];
	int lim = 10, in[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	(void)state;
	add(&r, PARENT, 500, 1, &lim, ids(1, 10));
	add(&r, CHILD, 300, 8, in, NULL); /* WHERE order_id IN (...) */
	assert_int_equal(detect(&r, f), 0);
	req_free(&r);
}

static void test_same_values_redundant(void **state)
{
	struct request r = {0};
	struct req_finding f[8];
	const struct req_finding *x;
	int lim = 10, one = 1;
	size_t n;

	(void)state;
	add(&r, PARENT, 500, 1, &lim, ids(1, 10));
	for (int i = 0; i < 6; i++)
		add(&r, CHILD, 100, 1, &one, NULL);
	n = detect(&r, f);
	assert_null(find(f, n, REQ_NPLUS1)); /* one distinct value */
	x = find(f, n, REQ_REDUNDANT);
	assert_non_null(x);
	assert_int_equal(x->child_fp, CHILD);
	assert_int_equal(x->repeats, 5);
	assert_int_equal(x->saved_us, 500);
	req_free(&r);
}

/* Add a statement that writes (the bits of the tables it touches). */
static void add_write(struct request *r, uint64_t fp, uint32_t wmask)
{
	struct req_stmt st;

	memset(&st, 0, sizeof(st));
	st.fp = fp;
	st.wmask = wmask;
	st.dur_us = 50;
	st.start_us = clock_us;
	clock_us += 60;
	st.end_us = clock_us;
	assert_true(req_add(r, &st, NULL));
}

/* A read of table bit 1, as the same statement with the same value. */
static void add_read(struct request *r)
{
	struct req_stmt st;
	int one = 1;

	memset(&st, 0, sizeof(st));
	st.fp = CHILD;
	st.select = true;
	st.rmask = 1u << 1;
	st.dur_us = 100;
	st.start_us = clock_us;
	clock_us += 110;
	st.end_us = clock_us;
	st.nparams = 1;
	st.param[0] = v(one);
	assert_true(req_add(r, &st, NULL));
}

/* Read, write its table, read again: not redundant (the read after the
 * write may see new rows).  A write to another table changes nothing. */
static void test_reread_after_write_not_redundant(void **state)
{
	struct request r = {0};
	struct req_finding f[8];
	const struct req_finding *x;
	size_t n;

	(void)state;
	add_read(&r);
	add_write(&r, OTHER, 1u << 1); /* its table */
	add_read(&r);
	n = detect(&r, f);
	assert_null(find(f, n, REQ_REDUNDANT));
	req_free(&r);

	memset(&r, 0, sizeof(r));
	add_read(&r);
	add_write(&r, OTHER, 1u << 5); /* another table */
	add_read(&r);
	add_read(&r);
	n = detect(&r, f);
	x = find(f, n, REQ_REDUNDANT);
	assert_non_null(x);
	assert_int_equal(x->repeats, 2);
	req_free(&r);

	/* a write to anything (DDL, not understood) between them, too */
	memset(&r, 0, sizeof(r));
	add_read(&r);
	add_write(&r, OTHER, ~0u);
	add_read(&r);
	n = detect(&r, f);
	assert_null(find(f, n, REQ_REDUNDANT));
	req_free(&r);
}

static void test_suspected_without_proof(void **state)
{
	struct request r = {0};
	struct req_finding f[8];
	const struct req_finding *x;
	int lim = 10;

	(void)state;
	add(&r, PARENT, 500, 1, &lim, ids(1000, 10)); /* other values */
	burst(&r, 10, 1);
	x = find(f, detect(&r, f), REQ_NPLUS1);
	assert_non_null(x);
	assert_false(x->proven);
	assert_int_equal(x->parent_fp, PARENT);
	req_free(&r);
}

static void test_proof_finds_the_right_parent(void **state)
{
	struct request r = {0};
	struct req_finding f[8];
	const struct req_finding *x;
	int lim = 10;

	(void)state;
	add(&r, PARENT, 500, 1, &lim, ids(1, 10));
	add(&r, OTHER, 50, 1, &lim, ids(500, 3)); /* nearer, unrelated */
	burst(&r, 10, 1);
	x = find(f, detect(&r, f), REQ_NPLUS1);
	assert_non_null(x);
	assert_true(x->proven);
	assert_int_equal(x->parent_fp, PARENT);
	req_free(&r);
}

static void test_overlapping_keys(void **state)
{
	/* orders 1..12 and their customers 1..10: every customer id is also
	 * an order id, so the column whose rows line up with the children
	 * (lazy loading walks the parent's rows in order) must win */
	struct request r = {0};
	struct req_finding f[8];
	const struct req_finding *x;
	struct ana_sample *s = ids(1, 12);
	int lim = 120;

	(void)state;
	for (int i = 0; i < 12; i++)
		s->val[i][1] = v(1 + (i + 1) % 10);
	add(&r, PARENT, 500, 1, &lim, s);
	for (int i = 0; i < 12; i++) {
		int c = 1 + (i + 1) % 10;

		add(&r, CHILD, 100, 1, &c, NULL);
	}
	x = find(f, detect(&r, f), REQ_NPLUS1);
	assert_non_null(x);
	assert_true(x->proven);
	assert_int_equal(x->parent_att, 2);
	req_free(&r);
}

static void test_sequential(void **state)
{
	struct request r = {0};
	struct req_finding f[8];
	const struct req_finding *x;
	int a = 1;
	size_t n;

	(void)state;
	add(&r, 0xa, 20000, 1, &a, ids(1, 5));
	add(&r, 0xb, 30000, 1, &a, NULL); /* uses 1: a value a returned */
	add(&r, 0xc, 15000, 0, NULL, NULL);
	n = detect(&r, f);
	x = find(f, n, REQ_SEQUENTIAL);
	assert_non_null(x);
	/* b used a's result: the run is b, c */
	assert_int_equal(x->repeats, 2);
	assert_int_equal(x->parent_fp, 0xb);
	assert_int_equal(x->child_fp, 0xc);
	assert_int_equal(x->saved_us, 15000);
	req_free(&r);

	/* fast reads are not worth running concurrently */
	add(&r, 0xa, 2000, 0, NULL, NULL);
	add(&r, 0xb, 3000, 0, NULL, NULL);
	assert_null(find(f, detect(&r, f), REQ_SEQUENTIAL));
	req_free(&r);
}

static void test_boundaries(void **state)
{
	struct request r = {0};
	struct ana_detail d;
	int64_t t;

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_true(req_boundary(&r, &d, 0, &conf)); /* nothing open */
	add(&r, PARENT, 100, 0, NULL, NULL);
	t = r.last_end_us;
	assert_false(req_boundary(&r, &d, t + 50000, &conf));
	assert_true(req_boundary(&r, &d, t + 150000, &conf)); /* idle gap */
	assert_false(req_expired(&r, t + 50000, &conf));
	assert_true(req_expired(&r, t + 150000, &conf));

	/* a transaction block ends the request */
	r.in_xact = true;
	d.xact_ended = true;
	assert_true(req_boundary(&r, &d, t + 10, &conf));
	d.xact_ended = false;

	/* tags: a route joins an untagged request, a new route splits */
	d.tag = 42;
	assert_false(req_boundary(&r, &d, t + 10, &conf));
	r.tag = 42;
	d.tag = 43;
	assert_true(req_boundary(&r, &d, t + 10, &conf));

	/* traced: one trace is one request, gaps or not */
	r.tag = 7;
	r.traced = true;
	d.tag = 7;
	d.traced = true;
	assert_false(req_boundary(&r, &d, t + 500000, &conf));
	d.tag = 8;
	assert_true(req_boundary(&r, &d, t + 10, &conf));
	req_free(&r);
}

/* ---- through the analyzer thread ---- */

static void push_client(struct analyzer *a, uint64_t id)
{
	static const char who[] = "db\0user\0app\0"; /* no conninfo */
	struct ana_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_CLIENT;
	ev.client = id;
	ev.text = malloc(sizeof(who));
	memcpy(ev.text, who, sizeof(who));
	ev.text_len = sizeof(who);
	assert_true(analyzer_push(a, &ev));
}

static int64_t now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void push_stmt(struct analyzer *a, uint64_t client, uint64_t shape,
		      int param, struct ana_sample *sample)
{
	struct ana_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_STMT;
	ev.shape = shape;
	ev.client = client;
	ev.dur_us = 100;
	ev.end_us = now_wall();
	ev.detail = calloc(1, sizeof(*ev.detail));
	ev.detail->nparams = 1;
	ev.detail->param[0] = v(param);
	ev.detail->sample = sample;
	assert_true(analyzer_push(a, &ev));
}

static void test_interleaved_clients(void **state)
{
	struct analyzer *a = analyzer_start(100);
	struct ana_finding *f;
	uint64_t parent, child;
	size_t n;

	(void)state;
	assert_non_null(a);
	push_client(a, 1);
	push_client(a, 2);
	parent = push_text(a, "SELECT id FROM orders WHERE total < 10");
	child = push_text(a, "SELECT * FROM order_items WHERE order_id = 1");
	/* two requests at once, one per client, statements interleaved */
	push_stmt(a, 1, parent, 10, ids(1, 10));
	push_stmt(a, 2, parent, 10, ids(101, 10));
	for (int i = 0; i < 10; i++) {
		push_stmt(a, 1, child, 1 + i, NULL);
		push_stmt(a, 2, child, 101 + i, NULL);
	}
	analyzer_sync(a, 1000);
	/* the requests end after request_idle_gap_ms (100 ms) of quiet */
	for (int i = 0; i < 50; i++) {
		struct timespec ts = {0, 20 * 1000 * 1000};

		n = analyzer_findings(a, &f);
		if (n)
			break;
		ana_findings_free(f, n);
		nanosleep(&ts, NULL);
	}
	assert_int_equal(n, 1);
	assert_string_equal(ana_finding_kind_name(f[0].kind), "n_plus_one");
	assert_true(f[0].proven);
	assert_int_equal(f[0].requests, 2);
	assert_int_equal(f[0].executions, 20);
	assert_string_equal(f[0].tables, "orders,order_items");
	/* normalized, never a literal value */
	assert_non_null(strstr(f[0].query, "order_id = $1"));
	assert_non_null(strstr(f[0].json, "\"kind\":\"n_plus_one\""));
	ana_findings_free(f, n);
	analyzer_stop(a);
}

static void test_orm_names(void **state)
{
	struct fnd_names n;
	char sa[128], dj[128], rb[128], cls[64];

	(void)state;
	fnd_class_name("public.order_items", 0, cls, sizeof(cls));
	assert_string_equal(cls, "OrderItem");
	fnd_class_name("categories", 0, cls, sizeof(cls));
	assert_string_equal(cls, "Category");

	memset(&n, 0, sizeof(n));
	snprintf(n.parent_table, sizeof(n.parent_table), "orders");
	snprintf(n.parent_column, sizeof(n.parent_column), "id");
	snprintf(n.child_table, sizeof(n.child_table), "order_items");
	snprintf(n.child_column, sizeof(n.child_column), "order_id");
	n.direction = FND_ONE_TO_MANY;
	fnd_hints(&n, sa, dj, rb, sizeof(sa));
	assert_string_equal(sa, "selectinload(Order.order_items)");
	assert_string_equal(dj,
			    "Order.objects.prefetch_related('orderitem_set')");
	assert_string_equal(rb, "Order.includes(:order_items)");

	/* Django's tables: app_model; the child is the row pointed to */
	snprintf(n.parent_table, sizeof(n.parent_table), "shop_order");
	snprintf(n.parent_column, sizeof(n.parent_column), "customer_id");
	snprintf(n.child_table, sizeof(n.child_table), "shop_customer");
	snprintf(n.child_column, sizeof(n.child_column), "id");
	n.direction = FND_MANY_TO_ONE;
	fnd_hints(&n, sa, dj, rb, sizeof(sa));
	assert_string_equal(sa, "joinedload(Order.customer)");
	assert_string_equal(dj, "Order.objects.select_related('customer')");
	assert_string_equal(rb, "Order.includes(:customer)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proven_burst),
		cmocka_unit_test(test_below_threshold),
		cmocka_unit_test(test_threshold_configurable),
		cmocka_unit_test(test_no_parent),
		cmocka_unit_test(test_batched_in_not_flagged),
		cmocka_unit_test(test_same_values_redundant),
		cmocka_unit_test(test_reread_after_write_not_redundant),
		cmocka_unit_test(test_suspected_without_proof),
		cmocka_unit_test(test_proof_finds_the_right_parent),
		cmocka_unit_test(test_overlapping_keys),
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_interleaved_clients),
		cmocka_unit_test(test_orm_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
