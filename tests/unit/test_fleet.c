/*
 * test_fleet.c -- the fleet's parts that need no Redis: a member's record
 * survives the trip through bytes and is refused when cut at any length
 * or written by something else; pools of one (database, user) add up;
 * two processes' state images merge into one passive analyzer whose
 * figures are the sums, each fingerprint saying which processes it ran
 * on, and whose findings keep this process's thresholds; a passive
 * analyzer opens no files; staleness follows each member's own
 * stats_period.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/analyzer.h"
#include "fleet/fleet.h"
#include "lib/shape.h"

#include "ana_push.h"

static struct fleet_member member(const char *id, int peer)
{
	struct fleet_member m;

	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.host, sizeof(m.host), "db-proxy-1");
	snprintf(m.listen, sizeof(m.listen), "0.0.0.0:6432");
	m.peer_id = peer;
	m.pid = 4242;
	m.stats_period = 60;
	m.started_us = 1000000;
	m.published_us = 2000000;
	return m;
}

static void test_record_round_trip(void **state)
{
	struct fleet_member m = member("7", 7);
	struct fleet_pool p[2];
	struct fleet_record r;
	const char image[] = "not really an image";
	char err[200];
	uint8_t *buf;
	size_t len;

	(void)state;
	memset(p, 0, sizeof(p));
	snprintf(p[0].database, sizeof(p[0].database), "appdb");
	snprintf(p[0].user, sizeof(p[0].user), "app");
	snprintf(p[0].mode, sizeof(p[0].mode), "transaction");
	p[0].cl_active = 12;
	p[0].sv_active = 3;
	p[0].xact_count = 1000;
	p[0].max_wait_us = 777;
	snprintf(p[1].database, sizeof(p[1].database), "other");
	p[1].query_count = 5;
	buf = fleet_record_build(&m, p, 2, image, sizeof(image), &len);
	assert_non_null(buf);
	assert_true(fleet_record_parse(buf, len, &r, err, sizeof(err)));
	assert_string_equal(r.m.id, "7");
	assert_int_equal(r.m.peer_id, 7);
	assert_int_equal(r.m.pid, 4242);
	assert_string_equal(r.m.host, "db-proxy-1");
	assert_int_equal(r.m.published_us, 2000000);
	assert_int_equal(r.npools, 2);
	assert_string_equal(r.pools[0].mode, "transaction");
	assert_int_equal(r.pools[0].cl_active, 12);
	assert_int_equal(r.pools[0].xact_count, 1000);
	assert_int_equal(r.pools[0].max_wait_us, 777);
	assert_int_equal(r.pools[1].query_count, 5);
	assert_int_equal(r.image_len, sizeof(image));
	assert_memory_equal(r.image, image, sizeof(image));
	fleet_record_free(&r);
	/* cut anywhere: refused, nothing allocated left behind (ASan) */
	for (size_t cut = 0; cut < len; cut++)
		assert_false(
			fleet_record_parse(buf, cut, &r, err, sizeof(err)));
	/* another magic, another version */
	buf[0] = 'X';
	assert_false(fleet_record_parse(buf, len, &r, err, sizeof(err)));
	assert_non_null(strstr(err, "not a pgperf fleet record"));
	buf[0] = 'P';
	buf[8] = 9;
	assert_false(fleet_record_parse(buf, len, &r, err, sizeof(err)));
	assert_non_null(strstr(err, "version 9"));
	free(buf);
}

static void test_pools_add(void **state)
{
	struct fleet_pool a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.cl_active = 3;
	a.xact_count = 100;
	a.avg_xact_count = 10;
	a.avg_xact_us = 1000;
	a.maxwait_us = 50;
	a.pool_size = 20;
	a.members = 1;
	b.cl_active = 4;
	b.xact_count = 50;
	b.avg_xact_count = 30;
	b.avg_xact_us = 3000;
	b.maxwait_us = 20;
	b.pool_size = 20;
	b.members = 4;
	fleet_pool_add(&a, &b);
	assert_int_equal(a.cl_active, 7);
	assert_int_equal(a.xact_count, 150);
	assert_int_equal(a.avg_xact_count, 40);
	/* a mean time is weighted by the counts behind it */
	assert_int_equal(a.avg_xact_us, (10 * 1000 + 30 * 3000) / 40);
	assert_int_equal(a.maxwait_us, 50); /* the longest, not a sum */
	assert_int_equal(a.pool_size, 20);  /* the setting, not a sum */
	assert_int_equal(a.members, 5);
}

static void push_stmt(struct analyzer *a, uint64_t shape, uint32_t us)
{
	struct ana_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_STMT;
	ev.shape = shape;
	ev.client = 1;
	ev.dur_us = us;
	ev.rows = 1;
	assert_true(analyzer_push(a, &ev));
}

/* One process's image: `n` calls of a shared statement taking `us`, and
 * `own` calls of a statement only it runs. */
static void *image_of(int n, uint32_t us, const char *own_sql, int own,
		      size_t *len)
{
	struct analyzer *a = analyzer_start(100);
	uint64_t s, o;
	void *img;

	assert_non_null(a);
	s = push_text(a, "SELECT v FROM t WHERE id = 1");
	o = push_text(a, own_sql);
	for (int i = 0; i < n; i++)
		push_stmt(a, s, us);
	for (int i = 0; i < own; i++)
		push_stmt(a, o, 100);
	analyzer_sync(a, 5000);
	img = analyzer_state_image(a, len);
	assert_non_null(img);
	analyzer_stop(a);
	return img;
}

static bool has_kind(struct analyzer *a, enum ana_finding_kind k)
{
	struct ana_finding *f;
	size_t n = analyzer_findings(a, &f);
	bool found = false;

	for (size_t i = 0; i < n; i++)
		found = found || f[i].kind == k;
	ana_findings_free(f, n);
	return found;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_images_merge(void **state)
{
	size_t l1, l2, n;
	void *i1 = image_of(300, 1000, "SELECT a FROM x", 5, &l1);
	void *i2 = image_of(100, 9000, "SELECT b FROM y", 7, &l2);
	struct analyzer *m = analyzer_new_passive(100);
	struct ana_query *q;
	struct ana_totals t;
	char err[200];
	uint8_t *bad;

	(void)state;
	assert_non_null(m);
	assert_true(analyzer_state_merge(m, i1, l1, 1, err, sizeof(err)));
	assert_true(analyzer_state_merge(m, i2, l2, 2, err, sizeof(err)));
	n = analyzer_queries(m, &q, &t);
	assert_int_equal(n, 3);
	assert_int_equal(t.calls, 300 + 5 + 100 + 7);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(q[i].query, "SELECT v FROM t WHERE id = $1") == 0) {
			assert_int_equal(q[i].calls, 400);
			assert_int_equal(q[i].members, 3); /* both */
			/* merged histograms: 3/4 of the calls took 1 ms, so
			 * p50 is 1 ms and p95 is 9 ms, within 1% */
			assert_true(q[i].p50_us >= 990 && q[i].p50_us <= 1010);
			assert_true(q[i].p95_us >= 8900 && q[i].p95_us <= 9100);
			assert_int_equal(q[i].max_us, 9000);
		} else if (strcmp(q[i].query, "SELECT a FROM x") == 0) {
			assert_int_equal(q[i].calls, 5);
			assert_int_equal(q[i].members, 1);
		} else {
			assert_string_equal(q[i].query, "SELECT b FROM y");
			assert_int_equal(q[i].calls, 7);
			assert_int_equal(q[i].members, 2);
		}
	}
	ana_queries_free(q, n);
	/* a damaged image is refused and what was merged stays */
	bad = malloc(l2);
	assert_non_null(bad);
	memcpy(bad, i2, l2);
	bad[l2 / 2] ^= 0x40;
	assert_false(analyzer_state_merge(m, bad, l2, 4, err, sizeof(err)));
	n = analyzer_queries(m, &q, &t);
	assert_int_equal(t.calls, 412);
	ana_queries_free(q, n);
	free(bad);
	free(i1);
	free(i2);
	/* the view's thresholds are this process's: p95 9 ms is no slow
	 * query at the default 100 ms, and is one at 5 ms */
	assert_false(has_kind(m, FND_SLOW_QUERY));
	{
		struct analyzer *src = analyzer_new_passive(10);
		struct ana_conf c = {
			.request_idle_gap_ms = 100,
			.nplus1_min_repeats = 5,
			.sequential_min_ms = 10,
			.slow_query_ms = 5,
			.cache_ttl_s = 60,
		};

		assert_non_null(src);
		analyzer_configure(src, &c);
		analyzer_copy_conf(m, src);
		analyzer_free_passive(src);
	}
	assert_true(has_kind(m, FND_SLOW_QUERY));
	analyzer_free_passive(m);
}

/* A view is built every period: its passive analyzer opens no files. */
static void test_passive_no_fds(void **state)
{
	int before = open_fds(), during;
	struct analyzer *m = analyzer_new_passive(100);

	(void)state;
	assert_non_null(m);
	during = open_fds();
	analyzer_free_passive(m);
	assert_int_equal(during, before);
}

static void test_stale(void **state)
{
	struct fleet_member m[2] = {member("1", 1), member("2", 2)};
	struct fleet_view v;
	char buf[64];

	(void)state;
	memset(&v, 0, sizeof(v));
	m[0].stats_period = 1;
	m[0].published_us = 100000000;
	m[1].stats_period = 60;
	m[1].published_us = 100000000;
	v.members = m;
	v.nmembers = 2;
	/* two periods and two seconds: 4 s for the first, 122 s for the
	 * second */
	assert_false(fleet_member_stale(&m[0], 100000000 + 3900000));
	assert_true(fleet_member_stale(&m[0], 100000000 + 4100000));
	assert_false(fleet_member_stale(&m[1], 100000000 + 100000000));
	fleet_stale_ids(&v, 3, 100000000 + 5000000, buf, sizeof(buf));
	assert_string_equal(buf, "1");
	fleet_stale_ids(&v, 2, 100000000 + 5000000, buf, sizeof(buf));
	assert_string_equal(buf, "");
	fleet_stale_ids(&v, 3, 100000000 + 200000000, buf, sizeof(buf));
	assert_string_equal(buf, "1,2");
	assert_int_equal(fleet_count(&v, 3), 2);
	assert_int_equal(fleet_count(&v, 2), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_pools_add),
		cmocka_unit_test(test_images_merge),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_passive_no_fds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
