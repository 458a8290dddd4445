/*
 * test_cache_keys.c -- what a result-cache entry is keyed on, without
 * Redis or PostgreSQL (cache/cache_entry.c).  An entry must differ for
 * anything that can change a result: the server (namespace, host, port,
 * database), the client's user and the server login, every setting the
 * session carries -- startup parameters, reported values and plain SETs,
 * a SET winning over a startup value -- and the statement.  Setting names
 * are folded to lower case and sorted, as PostgreSQL treats them, so the
 * same session state spelled or ordered differently is one key.  Two
 * [databases] names for one database share keys and generations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_entry.h"
#include "proxy/config.h"
#include "proxy/proxy_types.h"

struct session {
	struct pgperf pp;
	struct config cfg;
	struct pool pool;
	struct client cl;
	/* the strings those point to */
	char ns[16], host[16], dbname[16], login[16], database[16], user[16];
};

static struct session *session(const char *db, const char *user)
{
	struct session *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	strcpy(s->ns, "ns");
	strcpy(s->host, "10.0.0.5");
	strcpy(s->dbname, "shop");
	strcpy(s->login, "app_login");
	strcpy(s->database, db);
	strcpy(s->user, user);
	s->cfg.cache_namespace = s->ns;
	s->pp.cfg = &s->cfg;
	s->pool.target.host = s->host;
	s->pool.target.port = 5432;
	s->pool.target.dbname = s->dbname;
	s->pool.target.user = s->login;
	s->cl.c.pp = &s->pp;
	s->cl.pool = &s->pool;
	s->cl.database = s->database;
	s->cl.user = s->user;
	return s;
}

static void done(struct session *s)
{
	kv_free(&s->cl.params);
	kv_free(&s->cl.sets);
	free(s);
}

/* The entry key of `sql` in this session, or "" when it may not cache. */
static void key_of(const struct session *s, const char *sql, char *key)
{
	size_t n = 0;
	char *m = cache_key_material(&s->cl, sql, strlen(sql), &n);

	key[0] = '\0';
	if (m)
		cache_entry_key(key, m, n);
	free(m);
}

#define KEY 80

static void test_settings_are_keyed(void **state)
{
	struct session *a = session("shop", "alice");
	struct session *b = session("shop", "alice");
	char ka[KEY], kb[KEY];

	(void)state;
	key_of(a, "SELECT * FROM orders", ka);
	key_of(b, "SELECT * FROM orders", kb);
	assert_true(ka[0] != '\0');
	assert_string_equal(ka, kb); /* the same session state: one entry */

	/* a tenant set at startup (row-level security reads it) */
	assert_true(kv_set(&a->cl.params, "app.tenant_id", "1"));
	assert_true(kv_set(&b->cl.params, "app.tenant_id", "2"));
	key_of(a, "SELECT * FROM orders", ka);
	key_of(b, "SELECT * FROM orders", kb);
	assert_string_not_equal(ka, kb);

	/* a plain SET wins over the startup value */
	assert_true(kv_set(&b->cl.sets, "app.tenant_id", "1"));
	key_of(b, "SELECT * FROM orders", kb);
	assert_string_equal(ka, kb);

	/* the statement */
	key_of(a, "SELECT * FROM orders WHERE id = 1", kb);
	assert_string_not_equal(ka, kb);
	done(a);
	done(b);
}

static void test_names_fold_and_sort(void **state)
{
	struct session *a = session("shop", "alice");
	struct session *b = session("shop", "alice");
	char ka[KEY], kb[KEY];

	(void)state;
	assert_true(kv_set(&a->cl.params, "search_path", "tenant_7"));
	assert_true(kv_set(&a->cl.params, "TimeZone", "UTC"));
	assert_true(kv_set(&b->cl.params, "timezone", "UTC"));
	assert_true(kv_set(&b->cl.sets, "SEARCH_PATH", "tenant_7"));
	key_of(a, "SELECT 1", ka);
	key_of(b, "SELECT 1", kb);
	assert_string_equal(ka, kb);
	/* but a value differing only in case is another value */
	kv_free(&b->cl.sets);
	assert_true(kv_set(&b->cl.sets, "search_path", "TENANT_7"));
	key_of(b, "SELECT 1", kb);
	assert_string_not_equal(ka, kb);
	done(a);
	done(b);
}

static void test_users_and_servers(void **state)
{
	struct session *a = session("shop", "alice");
	struct session *b = session("shop", "bob");
	char ka[KEY], kb[KEY];

	(void)state;
	key_of(a, "SELECT 1", ka);
	key_of(b, "SELECT 1", kb);
	assert_string_not_equal(ka, kb); /* another user */

	strcpy(b->user, "alice");
	strcpy(b->login, "other_login");
	key_of(b, "SELECT 1", kb);
	assert_string_not_equal(ka, kb); /* another server login */

	strcpy(b->login, "app_login");
	b->pool.target.port = 5433;
	key_of(b, "SELECT 1", kb);
	assert_string_not_equal(ka, kb); /* another server */
	assert_true(cache_db_hash(&a->cl) != cache_db_hash(&b->cl));

	b->pool.target.port = 5432;
	strcpy(b->ns, "other");
	key_of(b, "SELECT 1", kb);
	assert_string_not_equal(ka, kb); /* another cluster's pgperf */

	/* another [databases] name for the same database: shared */
	strcpy(b->ns, "ns");
	strcpy(b->database, "shop_ro");
	key_of(b, "SELECT 1", kb);
	assert_string_equal(ka, kb);
	assert_true(cache_db_hash(&a->cl) == cache_db_hash(&b->cl));
	done(a);
	done(b);
}

static void test_too_many_settings_not_cached(void **state)
{
	struct session *a = session("shop", "alice");
	char k[KEY], name[32];

	(void)state;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "app.s%d", i);
		assert_true(kv_set(&a->cl.sets, name, "x"));
	}
	key_of(a, "SELECT 1", k);
	assert_string_equal(k, "");
	done(a);
}

static void test_generation_keys(void **state)
{
	char db[48], t1[48], t2[48];

	(void)state;
	cache_gen_key(db, sizeof(db), 7, 0);
	cache_gen_key(t1, sizeof(t1), 7, 11);
	cache_gen_key(t2, sizeof(t2), 8, 11);
	assert_string_equal(db, "pgperf:g:0000000000000007");
	assert_string_not_equal(db, t1);
	assert_string_not_equal(t1, t2); /* a table per database */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings_are_keyed),
		cmocka_unit_test(test_names_fold_and_sort),
		cmocka_unit_test(test_users_and_servers),
		cmocka_unit_test(test_too_many_settings_not_cached),
		cmocka_unit_test(test_generation_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
