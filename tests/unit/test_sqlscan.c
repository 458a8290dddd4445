/*
 * test_sqlscan.c -- the tokenizer on every PostgreSQL lexical form, and the
 * session-state classifier built on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "proto/session_state.h"
#include "lib/sqlscan.h"

/* Tokens of `sql` as "kind:text" joined by spaces, comments included. */
static const char *tokens(const char *sql)
{
	static char out[2048];
	static const char kinds[] = "wqsbnpo.c";
	struct sql_scanner s;
	struct sql_token t;
	size_t n = 0;

	out[0] = '\0';
	sqlscan_init(&s, sql, strlen(sql));
	while (sqlscan_next(&s, &t) && n < sizeof(out) - 64)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%c:%.*s",
				      n ? " " : "", kinds[t.kind], (int)t.len,
				      t.p);
	return out;
}

static void test_words_numbers_ops(void **state)
{
	(void)state;
	assert_string_equal(
		tokens("SELECT a1$b, _x FROM t WHERE x>=-1.5e3"),
		"w:SELECT w:a1$b .:, w:_x w:FROM w:t w:WHERE w:x o:>=- n:1.5e3");
	assert_string_equal(
		tokens("select .5, 1_000, 0x1F, 0o17, 0b101, 1e5, 2..3"),
		"w:select n:.5 .:, n:1_000 .:, n:0x1F .:, n:0o17 .:, n:0b101 .:, n:1e5 .:, n:2 .:. n:.3");
	assert_string_equal(tokens("x::int[] $1 $23"),
			    "w:x o::: w:int .:[ .:] p:$1 p:$23");
}

static void test_strings(void **state)
{
	(void)state;
	assert_string_equal(
		tokens("'it''s' E'a\\'b' N'n' U&'d\\0061t' B'101' X'1F'"),
		"s:'it''s' s:E'a\\'b' s:N'n' s:U&'d\\0061t' b:B'101' b:X'1F'");
	/* in a standard string a backslash is just a character */
	assert_string_equal(tokens("'a\\' 'b'"), "s:'a\\' s:'b'");
	assert_string_equal(tokens("\"Mixed \"\"Case\"\"\" U&\"x\""),
			    "q:\"Mixed \"\"Case\"\"\" q:U&\"x\"");
	assert_string_equal(tokens("$$ a ' $ b $$ $tag$ $$ inner $$ $tag$ x"),
			    "s:$$ a ' $ b $$ s:$tag$ $$ inner $$ $tag$ w:x");
}

static void test_comments(void **state)
{
	(void)state;
	assert_string_equal(tokens("a -- c1\nb /* x /* nested */ still */ c"),
			    "w:a c:-- c1 w:b c:/* x /* nested */ still */ w:c");
	/* an operator run stops where a comment starts */
	assert_string_equal(tokens("a+-- c\n1"), "w:a o:+ c:-- c n:1");
}

static void test_unterminated(void **state)
{
	struct sql_scanner s;
	struct sql_token t;
	static const char *const bad[] = {"'open", "\"open", "/* open /* x */",
					  "$q$ never closed", "E'\\"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sqlscan_init(&s, bad[i], strlen(bad[i]));
		assert_true(sqlscan_next(&s, &t));
		assert_true(t.p + t.len <= bad[i] + strlen(bad[i]));
		assert_false(sqlscan_next(&s, &t));
		assert_true(s.truncated);
	}
}

static uint32_t apply(const char *sql)
{
	return session_state_apply(0, sql, strlen(sql));
}

static void test_creates_state(void **state)
{
	(void)state;
	assert_int_equal(apply("SET search_path = app, public"), SESS_SET);
	assert_int_equal(apply("set session work_mem = '64MB'"), SESS_SET);
	assert_int_equal(apply("SET myapp.user_id = 42"), SESS_SET);
	assert_int_equal(apply("select set_config('search_path', 'x', false)"),
			 SESS_SET);
	assert_int_equal(apply("select pg_catalog.set_config('a.b', 'x', $1)"),
			 SESS_SET);
	assert_int_equal(apply("PREPARE q(int) AS SELECT $1"), SESS_PREPARE);
	assert_int_equal(apply("LISTEN jobs"), SESS_LISTEN);
	assert_int_equal(apply("CREATE TEMP TABLE t(x int)"), SESS_TEMP);
	assert_int_equal(apply("create global temporary table t(x int)"),
			 SESS_TEMP);
	assert_int_equal(apply("create temporary view v as select 1"),
			 SESS_TEMP);
	assert_int_equal(apply("CREATE OR REPLACE TEMP VIEW v AS SELECT 1"),
			 SESS_TEMP);
	assert_int_equal(apply("SELECT 1 AS x INTO TEMP t2"), SESS_TEMP);
	assert_int_equal(apply("DECLARE c CURSOR WITH HOLD FOR SELECT 1"),
			 SESS_HOLD_CURSOR);
	assert_int_equal(apply("select pg_advisory_lock(1)"),
			 SESS_ADVISORY_LOCK);
	assert_int_equal(apply("SELECT pg_try_advisory_lock_shared(1, 2)"),
			 SESS_ADVISORY_LOCK);
	assert_int_equal(apply("SET ROLE reporting"), SESS_ROLE);
	assert_int_equal(apply("SET SESSION AUTHORIZATION bob"), SESS_ROLE);
	assert_int_equal(apply("LOAD 'auto_explain'"), SESS_LOAD);
	/* several statements in one Query */
	assert_int_equal(apply("select 1; listen a; set x.y = 1"),
			 SESS_LISTEN | SESS_SET);
	/* the quick look for trigger words ignores case, as PostgreSQL */
	assert_int_equal(apply("sEt Search_Path = x"), SESS_SET);
	assert_int_equal(apply("LiStEn jobs"), SESS_LISTEN);
	assert_int_equal(apply("SELECT PG_ADVISORY_LOCK(1)"),
			 SESS_ADVISORY_LOCK);
	assert_int_equal(
		apply("SELECT PG_CATALOG.SET_CONFIG('a.b', 'x', 0::bool)"),
		SESS_SET);
	assert_int_equal(apply("dEcLaRe c cursor WiTh HoLd for select 1"),
			 SESS_HOLD_CURSOR);
	assert_int_equal(apply("Create TeMpOrArY table t(x int)"), SESS_TEMP);
	assert_int_equal(apply("lOaD 'x'"), SESS_LOAD);
}

static void test_creates_nothing(void **state)
{
	(void)state;
	assert_int_equal(apply("SET LOCAL search_path = x"), 0);
	assert_int_equal(apply("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
			 0);
	assert_int_equal(apply("SET CONSTRAINTS ALL DEFERRED"), 0);
	/* reported settings follow the client instead */
	assert_int_equal(apply("SET TimeZone = 'UTC'"), 0);
	assert_int_equal(apply("set time zone 'Europe/Paris'"), 0);
	assert_int_equal(apply("SET NAMES 'UTF8'"), 0);
	assert_int_equal(apply("SET application_name = 'x'"), 0);
	assert_int_equal(apply("SET \"DateStyle\" = ISO"), 0);
	assert_int_equal(
		apply("select set_config('application_name', 'x', false)"), 0);
	assert_int_equal(apply("select set_config('search_path', 'x', true)"),
			 0);
	assert_int_equal(apply("PREPARE TRANSACTION 'gid'"), 0);
	assert_int_equal(apply("CREATE TEMP TABLE t(x int) ON COMMIT DROP"), 0);
	assert_int_equal(apply("CREATE TABLE temp(x int)"), 0);
	assert_int_equal(apply("select pg_advisory_xact_lock(1)"), 0);
	assert_int_equal(apply("DECLARE c CURSOR FOR SELECT 1"), 0);
	/* look-alikes inside strings, comments and identifiers */
	assert_int_equal(apply("SELECT 'SET search_path = x; LISTEN a'"), 0);
	assert_int_equal(
		apply("SELECT 1 /* LISTEN a */ -- PREPARE x AS select 1"), 0);
	assert_int_equal(apply("SELECT \"listen\" FROM t"), 0);
	assert_int_equal(apply("SELECT $$ ; LISTEN x $$"), 0);
	assert_int_equal(apply("UPDATE t SET x = 1"), 0);
	assert_int_equal(apply("select * from pg_advisory_locks"), 0);
	assert_int_equal(apply(""), 0);
	assert_int_equal(apply(";;"), 0);
}

/* A shape whose words name nothing with an effect skips classifying. */
static void test_words_inert(void **state)
{
	(void)state;
	assert_true(session_words_inert(
		"SELECT abalance FROM pgbench_accounts WHERE aid = 1", 51));
	/* look-alikes in literals and comments are not words */
	assert_true(
		session_words_inert("SELECT 'set', 'listen' /* temp */", 33));
	assert_false(session_words_inert("UPDATE t SET x = 1", 18));
	assert_false(
		session_words_inert("select set_config('a', 'b', true)", 33));
	assert_false(session_words_inert("SELECT PG_ADVISORY_LOCK(1)", 26));
	assert_false(
		session_words_inert("create temporary table x(a int)", 31));
	/* conservative: a word that merely contains one is not inert */
	assert_false(session_words_inert("SELECT * FROM household", 23));
	/* for every statement the classifier gives an effect, not inert */
	static const char *const with_effect[] = {
		"SET search_path = app",
		"RESET ALL",
		"PREPARE q AS SELECT 1",
		"DEALLOCATE ALL",
		"LISTEN c",
		"UNLISTEN *",
		"DISCARD ALL",
		"CLOSE ALL",
		"LOAD 'x'",
		"SELECT 1 INTO TEMP t",
		"DECLARE c CURSOR WITH HOLD FOR SELECT 1",
		"select pg_advisory_unlock_all()"};
	for (size_t i = 0; i < sizeof(with_effect) / sizeof(with_effect[0]);
	     i++)
		assert_false(session_words_inert(with_effect[i],
						 strlen(with_effect[i])));
}

static void test_clears_state(void **state)
{
	(void)state;
	assert_int_equal(session_state_apply(SESS_ALL, "DISCARD ALL", 11),
			 SESS_EV_DEALLOCATE | SESS_EV_RESET_ALL);
	assert_int_equal(session_state_apply(SESS_SET | SESS_ROLE | SESS_TEMP,
					     "RESET ALL", 9),
			 SESS_TEMP | SESS_EV_RESET_ALL);
	assert_int_equal(session_state_apply(SESS_LISTEN, "UNLISTEN *", 10), 0);
	assert_int_equal(session_state_apply(SESS_LISTEN, "UNLISTEN a", 10),
			 SESS_LISTEN);
	assert_int_equal(
		session_state_apply(SESS_PREPARE, "DEALLOCATE ALL", 14),
		SESS_EV_DEALLOCATE);
	assert_int_equal(
		session_state_apply(SESS_PREPARE, "deallocate prepare all", 22),
		SESS_EV_DEALLOCATE);
	/* one statement only: the others stay */
	assert_int_equal(session_state_apply(SESS_PREPARE, "DEALLOCATE s1", 13),
			 SESS_PREPARE);
	assert_int_equal(session_state_apply(SESS_TEMP, "DISCARD TEMP", 12), 0);
	assert_int_equal(session_state_apply(SESS_ROLE, "RESET ROLE", 10), 0);
	assert_int_equal(session_state_apply(SESS_ADVISORY_LOCK,
					     "select pg_advisory_unlock_all()",
					     31),
			 0);
	/* order matters within one Query */
	assert_int_equal(apply("LISTEN a; UNLISTEN *"), 0);
	assert_int_equal(apply("DISCARD ALL; LISTEN a"),
			 SESS_LISTEN | SESS_EV_DEALLOCATE | SESS_EV_RESET_ALL);
}

/* Sending a notification is an event, not state: nothing pins for it. */
static void test_notify_event(void **state)
{
	(void)state;
	assert_int_equal(apply("NOTIFY ch, 'x'"), SESS_EV_NOTIFY);
	assert_int_equal(apply("notify ch"), SESS_EV_NOTIFY);
	assert_int_equal(apply("select pg_notify('ch', $1)"), SESS_EV_NOTIFY);
	assert_int_equal(apply("SELECT pg_catalog.PG_NOTIFY('ch', 'x'), 1"),
			 SESS_EV_NOTIFY);
	assert_int_equal(apply("LISTEN ch; NOTIFY ch"),
			 SESS_LISTEN | SESS_EV_NOTIFY);
	/* named, not called; in a string; a column */
	assert_int_equal(apply("select 'notify ch'"), 0);
	assert_int_equal(apply("select notify from t"), 0);
	assert_int_equal(apply("select \"pg_notify\" from t"), 0);
	assert_false(session_words_inert("notify ch, 'x'", 14));
	assert_false(session_words_inert("select pg_notify($1, $2)", 24));
}

/* The text of the first token of `sql`, or "<none>". */
static const char *first_text(const char *sql, size_t cap)
{
	static char buf[64];
	struct sql_scanner s;
	struct sql_token t;

	sqlscan_init(&s, sql, strlen(sql));
	if (!sqlscan_next_code(&s, &t) || sqlscan_text(&t, buf, cap) < 0)
		return "<none>";
	return buf;
}

static void test_token_text(void **state)
{
	(void)state;
	assert_string_equal(first_text("MixedCase", 64), "mixedcase");
	assert_string_equal(first_text("\"Mixed\"\"Q\"", 64), "Mixed\"Q");
	assert_string_equal(first_text("'it''s'", 64), "it's");
	assert_string_equal(first_text("1_000", 64), "1_000");
	assert_string_equal(first_text("E'x'", 64), "<none>");
	assert_string_equal(first_text("U&\"x\"", 64), "<none>");
	assert_string_equal(first_text("$1", 64), "<none>");
	/* too long for the buffer, with its NUL */
	assert_string_equal(first_text("abcd", 4), "<none>");
	assert_string_equal(first_text("abc", 4), "abc");
	assert_string_equal(first_text("'abcd'", 4), "<none>");
}

/* simple_set("...", "name", "value", reset) or simple_set("...", NULL...) */
static void check_simple_set(const char *sql, const char *name,
			     const char *value, bool reset)
{
	char n[64], v[256];
	bool r = !reset;
	bool ok = session_simple_set(sql, strlen(sql), n, sizeof(n), v,
				     sizeof(v), &r);

	if (!name) {
		if (ok)
			fail_msg("'%s' taken as a plain SET", sql);
		return;
	}
	if (!ok)
		fail_msg("'%s' not taken as a plain SET", sql);
	assert_string_equal(n, name);
	assert_string_equal(v, value);
	assert_int_equal(r, reset);
}

static void test_simple_set(void **state)
{
	(void)state;
	check_simple_set("SET work_mem = '64MB'", "work_mem", "64MB", false);
	check_simple_set("set SESSION Work_Mem to 4096;", "work_mem", "4096",
			 false);
	check_simple_set("SET extra_float_digits = -3", "extra_float_digits",
			 "-3", false);
	check_simple_set("set search_path = MySchema, 'x''y', public",
			 "search_path", "myschema, x'y, public", false);
	check_simple_set("set myapp.tenant_id = '42' -- why\n",
			 "myapp.tenant_id", "42", false);
	check_simple_set("RESET work_mem", "work_mem", "", true);
	check_simple_set("set search_path to default", "search_path", "", true);
	/* everything else is left to the classifier */
	check_simple_set("SET LOCAL work_mem = '1MB'", NULL, NULL, false);
	check_simple_set("SET ROLE bob", NULL, NULL, false);
	check_simple_set("SET SESSION AUTHORIZATION bob", NULL, NULL, false);
	check_simple_set("SET TIME ZONE 'UTC'", NULL, NULL, false);
	check_simple_set("SET timezone = 'UTC'", NULL, NULL, false);
	check_simple_set("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", NULL,
			 NULL, false);
	check_simple_set("SET work_mem = '1MB'; SET x.y = 1", NULL, NULL,
			 false);
	check_simple_set("SET work_mem = E'1MB'", NULL, NULL, false);
	check_simple_set("SET \"work_mem\" = '1MB'", NULL, NULL, false);
	check_simple_set("SET work_mem FROM CURRENT", NULL, NULL, false);
	check_simple_set("RESET ALL", NULL, NULL, false);
	check_simple_set("select 1", NULL, NULL, false);
}

static void test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(session_state_reason(SESS_LISTEN | SESS_TEMP),
			    "LISTEN");
	assert_string_equal(session_state_reason(SESS_HOLD_CURSOR),
			    "WITH HOLD");
	assert_string_equal(session_state_reason(0), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words_numbers_ops),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_unterminated),
		cmocka_unit_test(test_creates_state),
		cmocka_unit_test(test_creates_nothing),
		cmocka_unit_test(test_clears_state),
		cmocka_unit_test(test_notify_event),
		cmocka_unit_test(test_words_inert),
		cmocka_unit_test(test_token_text),
		cmocka_unit_test(test_simple_set),
		cmocka_unit_test(test_reason_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
