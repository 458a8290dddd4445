/*
 * test_advisor.c -- what index advice reads from a statement: the columns
 * it filters (equality, IN/ANY, ranges, BETWEEN), joins on and sorts by,
 * with aliases resolved and OR-ed terms left out; UPDATE and DELETE too;
 * how many parameters a statement has; and when an existing index's
 * leading columns cover a candidate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "analyzer/advisor.h"
#include "analyzer/sqlparse.h"

/* "table.column:role ..." of a statement's candidates */
static void cols(const char *sql, char *buf, size_t cap)
{
	struct sqlparse_col c[16];
	int n = sqlparse_index_columns(sql, c, 16);
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%s.%s:%c",
				      i ? " " : "", c[i].table, c[i].column,
				      c[i].role);
}

static void expect(const char *sql, const char *want)
{
	char got[512];

	cols(sql, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("%s\n  got:  %s\n  want: %s", sql, got, want);
}

static void test_columns(void **state)
{
	(void)state;
	expect("SELECT * FROM events WHERE user_id = 5", "events.user_id:e");
	expect("SELECT * FROM events e WHERE e.user_id = $1 AND e.at > now()",
	       "events.user_id:e");
	expect("SELECT * FROM events WHERE at >= $1 AND kind = 'x' "
	       "ORDER BY at",
	       "events.at:r events.kind:e");
	expect("SELECT * FROM events WHERE id IN (1, 2, 3)", "events.id:i");
	expect("SELECT * FROM events WHERE id = ANY($1)", "events.id:i");
	expect("SELECT * FROM events WHERE at BETWEEN $1 AND $2",
	       "events.at:r");
	expect("SELECT * FROM events WHERE 5 = user_id", "events.user_id:e");
	/* an OR needs more than one index: not a candidate */
	expect("SELECT * FROM events WHERE a = 1 OR b = 2", "");
	/* joins: both sides, aliases resolved */
	expect("SELECT o.id FROM customers c JOIN orders o "
	       "ON o.customer_id = c.id WHERE c.id = 7",
	       "orders.customer_id:j customers.id:e");
	expect("SELECT * FROM public.orders o, customers c "
	       "WHERE o.customer_id = c.id",
	       "public.orders.customer_id:j customers.id:j");
	/* unqualified with two tables: unknown, left out */
	expect("SELECT * FROM a, b WHERE x = 1", "");
	expect("SELECT * FROM t ORDER BY created_at DESC LIMIT 10",
	       "t.created_at:o");
	expect("UPDATE accounts SET balance = 0 WHERE owner = $1",
	       "accounts.owner:e");
	expect("DELETE FROM sessions WHERE expires < now() AND uid = 3",
	       "sessions.uid:e");
	expect("INSERT INTO t VALUES (1)", "");
	expect("not sql at all", "");
}

static void test_nparams_and_cover(void **state)
{
	(void)state;
	assert_int_equal(advisor_nparams("SELECT 1"), 0);
	assert_int_equal(advisor_nparams("SELECT $2, '$9' FROM t WHERE a = $1"),
			 2);
	assert_true(advisor_covers("user_id", "user_id"));
	assert_true(advisor_covers("user_id,created_at", "user_id"));
	assert_false(advisor_covers("user_id_x", "user_id"));
	assert_false(advisor_covers("created_at,user_id", "user_id"));
	assert_true(advisor_covers("a,b,c", "a,b"));
}

static void test_ddl(void **state)
{
	const char *one[] = {"user_id"}, *two[] = {"Kind", "created_at"};
	char buf[256];

	(void)state;
	advisor_ddl("events", one, 1, true, buf, sizeof(buf));
	assert_string_equal(buf,
			    "CREATE INDEX CONCURRENTLY ON events (user_id)");
	advisor_ddl("app.Events", two, 2, false, buf, sizeof(buf));
	assert_string_equal(
		buf, "CREATE INDEX ON app.\"Events\" (\"Kind\", created_at)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_nparams_and_cover),
		cmocka_unit_test(test_ddl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
