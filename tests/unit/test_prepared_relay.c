/*
 * test_prepared_relay.c -- transaction-mode prepared statements on the
 * wire, the reply side, without PostgreSQL: recorded sequences of replies
 * are matched to the queue of requests (proxy/prepared_relay.c).  pgperf's
 * own ParseComplete and CloseComplete are dropped, the client's pass; an
 * ErrorResponse undoes what each skipped request would have done -- a
 * failed Parse leaves no name behind on the client nor a statement on the
 * server, a failed own Close keeps the statement known as prepared -- and
 * the rest up to Sync is skipped as PostgreSQL skips it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/prep_ops.h"
#include "proxy/prepared_relay.h"

struct link {
	struct pgperf pp;
	struct server sv;
	struct client cl;
};

static struct link *link_new(void)
{
	struct link *k = calloc(1, sizeof(*k));

	assert_non_null(k);
	k->sv.c.pp = &k->pp;
	k->cl.c.pp = &k->pp;
	k->sv.client = &k->cl;
	k->sv.track = true;
	return k;
}

static void link_free(struct link *k)
{
	pq_free(&k->pp.prep, &k->sv.pq);
	prep_client_clear(&k->pp.prep, &k->cl.prep);
	prep_server_clear(&k->pp.prep, &k->sv.prep);
	assert_int_equal(k->pp.prep.n, 0); /* every reference given back */
	prep_registry_free(&k->pp.prep);
	free(k);
}

static struct prep_stmt *stmt(struct link *k, int i)
{
	char buf[64];
	size_t n = prep_ops_body(i, buf);

	return prep_intern(&k->pp.prep, buf, n);
}

/* Queue a request as prep_request_peek() would (`st` a new reference). */
static void request(struct link *k, enum pq_kind kind, struct prep_stmt *st,
		    const char *name)
{
	assert_true(
		pq_push(&k->sv.pq, kind, st, name ? pgp_strdup(name) : NULL));
}

/* Feed replies, one type byte each; the verdicts as letters:
 * f(orward) d(rop) a(nswer). */
static void replies(struct link *k, const char *types, char *verdicts)
{
	size_t i;

	for (i = 0; types[i]; i++) {
		enum relay_verdict v = prep_reply(&k->sv, (uint8_t)types[i]);

		verdicts[i] = v == RELAY_FORWARD  ? 'f'
			      : v == RELAY_DROP	  ? 'd'
			      : v == RELAY_ANSWER ? 'a'
						  : '?';
	}
	verdicts[i] = '\0';
}

static void test_own_replies_dropped(void **state)
{
	struct link *k = link_new();
	struct prep_stmt *st = stmt(k, 1);
	char v[16];

	(void)state;
	/* pgperf prepares the client's statement under its own name, then
	 * the client's Bind/Execute/Sync follow */
	prep_ref(st);
	request(k, PQ_OWN_PARSE, st, NULL);
	assert_true(prep_server_add(&k->sv.prep, st));
	request(k, PQ_BIND, NULL, NULL);
	request(k, PQ_EXECUTE, NULL, NULL);
	request(k, PQ_SYNC, NULL, NULL);
	replies(k, "12DCZ", v);
	assert_string_equal(v, "dffff"); /* ParseComplete is pgperf's */
	assert_int_equal(k->sv.pq.n, 0);
	assert_true(st->verified);
	assert_true(prep_server_has(&k->sv.prep, st));
	prep_unref(&k->pp.prep, st);
	link_free(k);
}

static void test_failed_parse_undone(void **state)
{
	struct link *k = link_new();
	struct prep_stmt *st = stmt(k, 2);
	char v[16];

	(void)state;
	/* the client's Parse "s1" went to the server as itself: its name
	 * and the server's statement are recorded before the reply */
	assert_true(prep_client_put(&k->cl.prep, "s1", st));
	assert_true(prep_server_add(&k->sv.prep, st));
	prep_ref(st);
	request(k, PQ_CLIENT_PARSE, st, "s1");
	request(k, PQ_BIND, NULL, NULL);
	request(k, PQ_EXECUTE, NULL, NULL);
	request(k, PQ_SYNC, NULL, NULL);
	/* a syntax error: PostgreSQL skips Bind and Execute until Sync */
	replies(k, "EZ", v);
	assert_string_equal(v, "ff");
	assert_int_equal(k->sv.pq.n, 0);
	assert_null(prep_client_get(&k->cl.prep, "s1", 2));
	assert_false(prep_server_has(&k->sv.prep, st));
	prep_unref(&k->pp.prep, st);
	link_free(k);
}

static void test_failed_own_close_keeps_statement(void **state)
{
	struct link *k = link_new();
	struct prep_stmt *st = stmt(k, 3);
	char v[16];

	(void)state;
	/* pgperf closes an evicted statement (already forgotten), then the
	 * client's request follows; the Close fails */
	prep_ref(st);
	request(k, PQ_OWN_CLOSE, st, NULL);
	request(k, PQ_SYNC, NULL, NULL);
	replies(k, "EZ", v);
	assert_string_equal(v, "ff");
	/* still prepared there: known again, or a later Parse would fail */
	assert_true(prep_server_has(&k->sv.prep, st));
	assert_false(k->sv.close_needed);
	prep_unref(&k->pp.prep, st);
	link_free(k);
}

static void test_answers_due_first(void **state)
{
	struct link *k = link_new();
	struct prep_stmt *st = stmt(k, 0);
	char v[16];

	(void)state;
	/* a Parse pgperf answers itself (the statement is prepared there),
	 * then a Bind that goes to the server */
	request(k, PQ_FAKE_PARSE, st, "s2");
	request(k, PQ_BIND, NULL, NULL);
	replies(k, "2", v);
	assert_string_equal(v, "a"); /* pgperf's ParseComplete goes first */
	assert_int_equal(k->sv.pq.n, 2);
	link_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_replies_dropped),
		cmocka_unit_test(test_failed_parse_undone),
		cmocka_unit_test(test_failed_own_close_keeps_statement),
		cmocka_unit_test(test_answers_due_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
