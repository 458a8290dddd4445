/*
 * test_shape.c -- statement shapes: literals, comments, case and spacing
 * do not change a shape, anything else does; every lexical form is
 * handled; sqlcommenter and marginalia tags are found; and on a corpus of
 * pgbench, ORM and hand-written SQL, equal shapes always have equal
 * libpg_query fingerprints (checked with sqlparse.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/shape.h"
#include "analyzer/sqlparse.h"

static uint64_t sh(const char *sql)
{
	struct shape s;

	shape_compute(sql, strlen(sql), &s);
	return s.hash;
}

static void same(const char *a, const char *b)
{
	if (sh(a) != sh(b))
		fail_msg("expected one shape:\n  %s\n  %s", a, b);
}

static void differ(const char *a, const char *b)
{
	if (sh(a) == sh(b))
		fail_msg("expected two shapes:\n  %s\n  %s", a, b);
}

static void test_literals_comments_case(void **state)
{
	(void)state;
	same("SELECT * FROM t WHERE id = 1", "select *  from t\nwhere id=42");
	same("SELECT 'a'", "SELECT 'it''s'");
	same("SELECT E'a\\nb'", "SELECT E'\\''");
	same("SELECT U&'d\\0061t'", "SELECT 'x'");
	same("SELECT $$x$$", "SELECT $tag$ it's $$ $tag$");
	same("SELECT 1e5, .5, 1_000, 0x1F, 0o17, 0b101, 3.14",
	     "SELECT 2, 3, 4, 5, 6, 7, 8");
	same("SELECT B'101', X'1F'", "SELECT B'0', X'FF'");
	same("SELECT 1 -- trailing", "SELECT 2");
	same("/* a /* nested */ comment */ SELECT 1", "SELECT 9");
	same("SELECT '1'::int", "SELECT '2'::int");
	differ("SELECT * FROM t WHERE id = 1", "SELECT * FROM u WHERE id = 1");
	differ("SELECT a FROM t", "SELECT b FROM t");
	differ("SELECT \"A\" FROM t", "SELECT \"a\" FROM t");
	differ("SELECT 1::int", "SELECT 1::bigint");
	differ("SELECT $1", "SELECT $2");
	differ("SELECT a < b", "SELECT a <= b");
	differ("SELECT 1", "SELECT -1"); /* finer than the fingerprint */
}

static void test_literal_spans(void **state)
{
	const char *sql =
		"SELECT * FROM t WHERE a = 12 AND b = 'x''y' AND c = $1";
	struct shape s;

	(void)state;
	shape_compute(sql, strlen(sql), &s);
	assert_int_equal(s.nliterals, 2);
	assert_int_equal(s.lit[0].len, 2);
	assert_memory_equal(sql + s.lit[0].off, "12", 2);
	assert_memory_equal(sql + s.lit[1].off, "'x''y'", 6);
	assert_false(s.truncated);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"SELECT 'unterminated",
		"SELECT $$ open",
		"/* open",
		"SELECT \"open",
		"",
		"\xff\xfe\x00garbage",
		"SELECT E'\\",
		"U&",
	};
	struct shape s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		shape_compute(bad[i], strlen(bad[i]), &s); /* no crash */
	shape_compute("SELECT 'open", 12, &s);
	assert_true(s.truncated);
}

/* shape_compute() takes shortcuts for blanks and plain words; on every
 * lexical form it must agree with the token-at-a-time definition. */
static void test_one_pass_matches_tokens(void **state)
{
	static const char *const texts[] = {
		"SELECT abalance FROM pgbench_accounts WHERE aid = 12345;",
		"select e'it''s', E'\\n', b'01', X'1F', n'x', N'y', u&'d', U&\"q\"",
		"SELECT a&b, e&f, x || 'y', select'a', u &'b'",
		"SELECT 1 - -2, a - -b, -c, - 3, (-4), x-- a comment\n+1",
		"/* app='shop',route='/a' */ SELECT $1, $$body$$, $t$x$t$, ab$cd",
		"SELECT \"Quoted Id\", _u, \xc3\xa9t\xc3\xa9, t1.c2 FROM t1",
		"SELECT 1.5e10, .5, 0x1F, 1_000, 1..2, a::int, b[1]",
		"SELECT 'unterminated",
		"SELECT E'\\",
		"U&",
		"e",
		"-",
		"x -",
		"\t\n SELECT\f1\v",
		"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct shape a, b;
		size_t n = strlen(texts[i]);

		shape_compute(texts[i], n, &a);
		shape_compute_tokens(texts[i], n, &b);
		if (a.hash != b.hash || a.nliterals != b.nliterals ||
		    a.ntags != b.ntags || a.truncated != b.truncated)
			fail_msg("one-pass shape differs on: %s", texts[i]);
		for (uint32_t k = 0; k < a.nliterals && k < SHAPE_MAX_LITERALS;
		     k++) {
			assert_int_equal(a.lit[k].off, b.lit[k].off);
			assert_int_equal(a.lit[k].len, b.lit[k].len);
		}
	}
}

static void tag_is(const char *sql, const struct shape *s, uint32_t i,
		   const char *key, const char *value)
{
	char buf[128];

	assert_true(i < s->ntags);
	assert_int_equal(s->tag[i].key.len, strlen(key));
	assert_memory_equal(sql + s->tag[i].key.off, key, strlen(key));
	shape_tag_decode(sql + s->tag[i].value.off, s->tag[i].value.len, buf,
			 sizeof(buf));
	assert_string_equal(buf, value);
}

static void test_tags(void **state)
{
	const char *a = "SELECT 1 /*controller='users',action='show',"
			"route='%2Fusers%2F%3Aid',traceparent='00-ab-cd-01'*/";
	const char *b = "/*application:Blog,controller:posts,action:index*/ "
			"SELECT 1";
	const char *c = "SELECT 1 /* just a comment, it: is */";
	struct shape s;

	(void)state;
	shape_compute(a, strlen(a), &s);
	assert_int_equal(s.ntags, 4);
	tag_is(a, &s, 0, "controller", "users");
	tag_is(a, &s, 2, "route", "/users/:id");
	tag_is(a, &s, 3, "traceparent", "00-ab-cd-01");
	shape_compute(b, strlen(b), &s);
	assert_int_equal(s.ntags, 3);
	tag_is(b, &s, 0, "application", "Blog");
	tag_is(b, &s, 2, "action", "index");
	shape_compute(c, strlen(c), &s);
	assert_int_equal(s.ntags, 0);
	/* tags do not change the shape */
	same(a, "SELECT 1");
}

/* Pairs that differ only in literals, comments, case and spacing. */
static const char *const corpus[][2] = {
	/* pgbench */
	{"UPDATE pgbench_accounts SET abalance = abalance + -4 WHERE aid = 12;",
	 "update pgbench_accounts set abalance = abalance + 3911 where aid = 99877;"},
	{"SELECT abalance FROM pgbench_accounts WHERE aid = 1;",
	 "SELECT abalance FROM pgbench_accounts WHERE aid = 2;"},
	{"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, CURRENT_TIMESTAMP);",
	 "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (9, 8, 7, -6, CURRENT_TIMESTAMP);"},
	/* SQLAlchemy */
	{"SELECT users.id AS users_id, users.name AS users_name FROM users WHERE users.id = 5",
	 "SELECT users.id AS users_id, users.name AS users_name FROM users WHERE users.id = 77 /* sqlalchemy */"},
	{"SELECT addresses.id AS addresses_id, addresses.email AS addresses_email FROM addresses WHERE 3 = addresses.user_id",
	 "SELECT addresses.id AS addresses_id, addresses.email AS addresses_email FROM addresses WHERE 4 = addresses.user_id"},
	/* Django */
	{"SELECT \"blog_post\".\"id\", \"blog_post\".\"title\" FROM \"blog_post\" WHERE \"blog_post\".\"author_id\" = 1 ORDER BY \"blog_post\".\"id\" ASC LIMIT 21",
	 "SELECT \"blog_post\".\"id\", \"blog_post\".\"title\" FROM \"blog_post\" WHERE \"blog_post\".\"author_id\" = 2 ORDER BY \"blog_post\".\"id\" ASC LIMIT 1"},
	{"INSERT INTO \"auth_user\" (\"username\", \"is_staff\") VALUES ('bob', false) RETURNING \"auth_user\".\"id\"",
	 "INSERT INTO \"auth_user\" (\"username\", \"is_staff\") VALUES ('alice', false) RETURNING \"auth_user\".\"id\""},
	/* Rails */
	{"SELECT \"comments\".* FROM \"comments\" WHERE \"comments\".\"post_id\" = $1 /*application:Blog,controller:posts*/",
	 "SELECT \"comments\".* FROM \"comments\" WHERE \"comments\".\"post_id\" = $1"},
	/* lexical forms */
	{"SELECT E'\\t', U&'\\0041', $q$x$q$, B'1', X'A', 1.5e-3 FROM t",
	 "SELECT 'a', 'b', 'c', B'0', X'B', 7 FROM t"},
	{"SELECT * FROM t WHERE ts > now() - interval '1 day'",
	 "SELECT * FROM t WHERE ts > now() - interval '7 days'"},
	{"SELECT a FROM t WHERE b IN (1, 2, 3)",
	 "SELECT a FROM t WHERE b IN (4, 5, 6)"},
	{"CREATE TEMP TABLE x (a int DEFAULT 1)",
	 "create temp table x (a int default 2)"},
	{"SELECT set_config('search_path', 'a', false)",
	 "SELECT set_config('search_path', 'b', false)"},
	{"BEGIN", "begin"},
	{"SELECT * FROM t LIMIT 10 OFFSET 20",
	 "SELECT * FROM t LIMIT 1 OFFSET 0"},
};

static void test_same_shape_same_fingerprint(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		struct sqlparse a, b;

		same(corpus[i][0], corpus[i][1]);
		assert_true(sqlparse_run(corpus[i][0], &a));
		assert_true(sqlparse_run(corpus[i][1], &b));
		if (!a.parsed || !b.parsed || a.fingerprint != b.fingerprint)
			fail_msg("fingerprints differ (%d %d):\n  %s\n  %s",
				 a.parsed, b.parsed, corpus[i][0],
				 corpus[i][1]);
		sqlparse_free(&a);
		sqlparse_free(&b);
	}
}

static void test_parse_facts(void **state)
{
	struct sqlparse p;

	(void)state;
	assert_true(sqlparse_run("SELECT a FROM s.t JOIN u ON t.id = u.id "
				 "WHERE a = 1",
				 &p));
	assert_true(p.parsed);
	assert_string_equal(p.kind, "SELECT");
	assert_true(p.read_only);
	assert_true(p.deterministic);
	assert_int_equal(p.nread, 2);
	assert_string_equal(p.read[0], "s.t");
	assert_string_equal(
		p.normalized,
		"SELECT a FROM s.t JOIN u ON t.id = u.id WHERE a = $1");
	sqlparse_free(&p);

	assert_true(sqlparse_run("UPDATE acc SET b = b + 1 FROM other o "
				 "WHERE acc.id = o.id",
				 &p));
	assert_string_equal(p.kind, "UPDATE");
	assert_false(p.read_only);
	assert_int_equal(p.nwritten, 1);
	assert_string_equal(p.written[0], "acc");
	assert_int_equal(p.nread, 1);
	assert_string_equal(p.read[0], "other");
	sqlparse_free(&p);

	assert_true(sqlparse_run("WITH x AS (SELECT 1) SELECT now(), "
				 "random() FROM x",
				 &p));
	assert_true(p.read_only);
	assert_false(p.deterministic);
	assert_int_equal(p.nread, 0); /* x is a CTE, not a table */
	sqlparse_free(&p);

	assert_true(sqlparse_run("SELECT nextval('s')", &p));
	assert_false(p.read_only);
	sqlparse_free(&p);
	assert_true(sqlparse_run("SELECT * FROM t FOR UPDATE", &p));
	assert_false(p.read_only);
	sqlparse_free(&p);

	assert_true(sqlparse_run("SELEC broken", &p));
	assert_false(p.parsed);
	assert_string_equal(p.kind, "UNKNOWN");
	assert_string_equal(p.normalized, "SELEC broken");
	assert_int_equal(p.fingerprint, sqlparse_text_hash("SELEC broken", 12));
	sqlparse_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literals_comments_case),
		cmocka_unit_test(test_literal_spans),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_one_pass_matches_tokens),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_same_shape_same_fingerprint),
		cmocka_unit_test(test_parse_facts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
