/*
 * test_config.c -- the ini loader: defaults, good files, every kind of bad
 * file (each error names file, line and key), connection strings, the
 * --upstream URL, and the shipped examples in conf/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/pool.h"
#include "lib/log.h"

static struct config *parse_ok(const char *text)
{
	struct config *cfg = config_new_defaults();
	char err[512] = "";

	assert_non_null(cfg);
	if (config_parse(cfg, "t.ini", text, err, sizeof(err)) != PGP_OK)
		fail_msg("unexpected error: %s", err);
	return cfg;
}

static void parse_fails(const char *text, const char *expect)
{
	struct config *cfg = config_new_defaults();
	char err[512] = "";

	assert_int_not_equal(config_parse(cfg, "t.ini", text, err, sizeof(err)),
			     PGP_OK);
	if (!strstr(err, expect))
		fail_msg("error \"%s\" does not contain \"%s\"", err, expect);
	config_free(cfg);
}

static void test_defaults(void **state)
{
	struct config *cfg = config_new_defaults();

	(void)state;
	assert_int_equal(cfg->listen_port, 6432);
	assert_int_equal(cfg->default_pool_size, 20);
	assert_int_equal(cfg->min_pool_size, 5);
	assert_int_equal(cfg->pool_mode, POOL_SESSION);
	assert_int_equal(cfg->auth_type, AUTH_SCRAM);
	assert_string_equal(cfg->server_reset_query, "DISCARD ALL");
	assert_int_equal(cfg->query_wait_timeout, 120000);
	config_free(cfg);
}

static void test_good_file(void **state)
{
	struct config *cfg = parse_ok(
		"; comment\n"
		"# another\n"
		"[pgperf]\n"
		"listen_port = 7000\n"
		"pool_mode = transaction\n"
		"query_wait_timeout = 2.5\n"
		"server_idle_timeout = 250ms\n"
		"server_lifetime = 2min\n"
		"auth_type = md5\n"
		"[databases]\n"
		"appdb = host=10.0.0.1 port=5433 dbname=real user=u password='p w' pool_size=7\n"
		"* = host=/var/run/postgresql\n");
	const struct db_def *d;

	(void)state;
	assert_int_equal(cfg->listen_port, 7000);
	assert_int_equal(cfg->pool_mode, POOL_TRANSACTION);
	assert_int_equal(cfg->query_wait_timeout, 2500);
	assert_int_equal(cfg->server_idle_timeout, 250);
	assert_int_equal(cfg->server_lifetime, 120000);
	assert_int_equal(cfg->auth_type, AUTH_MD5);
	d = config_find_db(cfg, "appdb");
	assert_non_null(d);
	assert_string_equal(d->host, "10.0.0.1");
	assert_int_equal(d->port, 5433);
	assert_string_equal(d->dbname, "real");
	assert_string_equal(d->user, "u");
	assert_string_equal(d->password, "p w");
	assert_int_equal(d->pool_size, 7);
	/* the password never shows in the connection string kept for SHOW */
	assert_null(strstr(d->connstr, "p w"));
	d = config_find_db(cfg, "other");
	assert_non_null(d);
	assert_string_equal(d->name, "*");
	assert_null(d->dbname);
	config_free(cfg);
}

static void test_bad_files(void **state)
{
	(void)state;
	parse_fails("[pgperf]\nlisten_port = 6432\nbogus_key = 1\n",
		    "t.ini:3: unknown key \"bogus_key\"");
	parse_fails("[pgperf]\nlisten_port = 99999\n",
		    "t.ini:2: invalid value \"99999\" for listen_port");
	parse_fails("[pgperf]\npool_mode = statement\n",
		    "t.ini:2: invalid value \"statement\" for pool_mode");
	parse_fails("[pgperf]\nquery_wait_timeout = soon\n",
		    "t.ini:2: invalid value \"soon\" for query_wait_timeout");
	parse_fails("[pgperf]\ndefault_pool_size = 0\n", "default_pool_size");
	parse_fails("[nope]\n", "t.ini:1: unknown section [nope]");
	parse_fails("listen_port = 1\n",
		    "t.ini:1: key \"listen_port\" outside of any section");
	parse_fails("[pgperf\n", "t.ini:1: malformed section header");
	parse_fails("[pgperf]\njust words\n",
		    "t.ini:2: expected \"key = value\"");
	parse_fails(
		"[databases]\na = host=x bogus=1\n",
		"t.ini:2: database \"a\": unknown connection parameter \"bogus\"");
	parse_fails("[databases]\na = host='x\n", "unterminated quoted value");
	parse_fails("[databases]\na = port=abc\n",
		    "invalid value for connection parameter \"port\"");
	parse_fails("[databases]\na = host=x\na = host=y\n",
		    "t.ini:3: database \"a\": database \"a\" defined twice");
	parse_fails("[databases]\npgperf = host=x\n",
		    "reserved for the admin console");
}

/* Several processes as one: so_reuseport, peer_id and [peers]. */
static void test_peers(void **state)
{
	struct config *cfg = parse_ok("[pgperf]\n"
				      "so_reuseport = 1\n"
				      "peer_id = 2\n"
				      "[peers]\n"
				      "1 = host=/run/pgperf/1 port=6432\n"
				      "2 = host=10.0.0.2\n");

	(void)state;
	assert_int_equal(cfg->so_reuseport, 1);
	assert_int_equal(cfg->peer_id, 2);
	assert_int_equal(cfg->npeers, 2);
	assert_string_equal(config_peer(cfg, 1)->host, "/run/pgperf/1");
	assert_int_equal(config_peer(cfg, 2)->port, 6432);
	assert_null(config_peer(cfg, 3));
	config_free(cfg);
	parse_fails("[peers]\n0 = host=x\n", "peer id must be 1..255");
	parse_fails("[peers]\n256 = host=x\n", "peer id must be 1..255");
	parse_fails("[peers]\n1 = port=5\n", "host is missing");
	parse_fails("[peers]\n1 = host=a\n1 = host=b\n", "defined twice");
	parse_fails("[peers]\n1 = host=a dbname=x\n", "unknown parameter");
	parse_fails("[pgperf]\npeer_id = 256\n", "peer_id");

	/* max_db_connections is shared out among the processes */
	cfg = parse_ok("[pgperf]\nmax_db_connections = 20\n");
	assert_int_equal(pool_db_limit(cfg), 20); /* one process */
	config_free(cfg);
	cfg = parse_ok("[pgperf]\nmax_db_connections = 20\npeer_id = 1\n"
		       "[peers]\n1 = host=a\n2 = host=b\n3 = host=c\n");
	assert_int_equal(pool_db_limit(cfg), 6);
	config_free(cfg);
	cfg = parse_ok("[pgperf]\nmax_db_connections = 20\npeer_id = 3\n"
		       "[peers]\n1 = host=a\n2 = host=b\n");
	assert_int_equal(pool_db_limit(cfg), 6); /* the others listed only */
	config_free(cfg);
	cfg = parse_ok("[pgperf]\nmax_db_connections = 2\npeer_id = 1\n"
		       "[peers]\n1 = host=a\n2 = host=b\n3 = host=c\n");
	assert_int_equal(pool_db_limit(cfg),
			 1); /* never 0, which is no limit */
	config_free(cfg);
	cfg = parse_ok("[pgperf]\npeer_id = 1\n[peers]\n2 = host=b\n");
	assert_int_equal(pool_db_limit(cfg), 0); /* no limit stays none */
	config_free(cfg);
}

static void test_finish_checks(void **state)
{
	struct config *cfg;
	char err[512];

	(void)state;
	cfg = parse_ok(
		"[pgperf]\nmin_pool_size = 30\n[databases]\na = host=x\n");
	assert_int_equal(config_finish(cfg, err, sizeof(err)), PGP_ERR_CONFIG);
	assert_non_null(strstr(err, "min_pool_size"));
	config_free(cfg);
	cfg = parse_ok("[pgperf]\nauth_type = md5\n[databases]\na = host=x\n");
	assert_int_equal(config_finish(cfg, err, sizeof(err)), PGP_ERR_CONFIG);
	assert_non_null(strstr(err, "auth_file"));
	config_free(cfg);
	cfg = parse_ok("[pgperf]\nclient_tls_sslmode = require\n");
	assert_int_equal(config_finish(cfg, err, sizeof(err)), PGP_ERR_CONFIG);
	assert_non_null(strstr(err, "client_tls_cert_file"));
	config_free(cfg);
	cfg = parse_ok(
		"[pgperf]\nauth_type = trust\nauth_file = /nonexistent/users.txt\n");
	assert_int_equal(config_finish(cfg, err, sizeof(err)), PGP_ERR_CONFIG);
	assert_non_null(strstr(err, "/nonexistent/users.txt"));
	config_free(cfg);
}

static void test_upstream_url(void **state)
{
	struct config *cfg = config_new_defaults();
	char err[512];
	const struct db_def *d;
	const struct auth_user *u;

	(void)state;
	assert_int_equal(
		config_apply_upstream(
			cfg, "postgresql://app:s%40cret@127.0.0.1:5499/shop",
			err, sizeof(err)),
		PGP_OK);
	d = config_find_db(cfg, "shop");
	assert_non_null(d);
	assert_string_equal(d->host, "127.0.0.1");
	assert_int_equal(d->port, 5499);
	assert_string_equal(d->dbname, "shop");
	assert_string_equal(config_find_db(cfg, "elsewhere")->name, "*");
	u = userlist_find(&cfg->users, "app");
	assert_non_null(u);
	assert_string_equal(u->secret, "s@cret");
	/* the URL's user may read the console, as nothing says otherwise */
	assert_string_equal(cfg->stats_users, "app");
	assert_int_equal(config_finish(cfg, err, sizeof(err)), PGP_OK);
	config_free(cfg);

	/* a config that names its console users keeps them */
	cfg = config_new_defaults();
	assert_int_equal(
		config_set(cfg, "admin_users", "ops", err, sizeof(err)),
		PGP_OK);
	assert_int_equal(config_apply_upstream(cfg,
					       "postgresql://app:x@h:5499/shop",
					       err, sizeof(err)),
			 PGP_OK);
	assert_string_equal(cfg->stats_users, "");
	config_free(cfg);

	cfg = config_new_defaults();
	assert_int_not_equal(
		config_apply_upstream(cfg, "mysql://x@y/z", err, sizeof(err)),
		PGP_OK);
	assert_int_not_equal(config_apply_upstream(cfg, "postgresql://host/db",
						   err, sizeof(err)),
			     PGP_OK);
	assert_non_null(strstr(err, "user"));
	assert_int_not_equal(config_apply_upstream(cfg, "postgresql://u@h:/db",
						   err, sizeof(err)),
			     PGP_OK);
	assert_int_not_equal(config_apply_upstream(cfg,
						   "postgresql://u:%zz@h/db",
						   err, sizeof(err)),
			     PGP_OK);
	config_free(cfg);
}

static void show_count(void *arg, const char *key, const char *value,
		       const char *def, bool reloadable)
{
	(void)key;
	(void)value;
	(void)def;
	(void)reloadable;
	(*(int *)arg)++;
}

/* The shipped example must load, and must mention every key there is. */
static void test_shipped_example(void **state)
{
	struct config *cfg = NULL;
	char err[512];
	int nkeys = 0;
	FILE *f;
	char line[512];
	int listed = 0;

	(void)state;
	log_current_level = LOG_ERROR;
	if (config_load_file(PGPERF_SOURCE_DIR "/conf/pgperf.ini", &cfg, err,
			     sizeof(err)) != PGP_OK)
		fail_msg("conf/pgperf.ini: %s", err);
	assert_non_null(userlist_find(&cfg->users, "app"));
	assert_non_null(userlist_find(&cfg->users, "admin"));
	assert_int_equal(userlist_find(&cfg->users, "reporter")->kind,
			 SECRET_SCRAM);
	assert_non_null(config_find_db(cfg, "reports")->user);
	config_show(cfg, show_count, &nkeys);
	config_free(cfg);

	f = fopen(PGPERF_SOURCE_DIR "/conf/pgperf.ini", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] != ';' && line[0] != '[' && strchr(line, '=') &&
		    strncmp(line, "appdb", 5) != 0 &&
		    strncmp(line, "reports", 7) != 0 && line[0] != '*')
			listed++;
	}
	fclose(f);
	assert_int_equal(listed, nkeys);
}

static void test_user_listed(void **state)
{
	(void)state;
	assert_true(config_user_listed("admin, ops,root", "ops"));
	assert_true(config_user_listed("admin", "admin"));
	assert_false(config_user_listed("admin", "adm"));
	assert_false(config_user_listed("", "admin"));
}

/* Passwords in URLs are masked wherever they are shown. */
static void test_mask_url(void **state)
{
	char b[128];

	(void)state;
	config_mask_url("redis://:pw@h:1/0", b, sizeof(b));
	assert_string_equal(b, "redis://:********@h:1/0");
	config_mask_url("redis://user:p:w@h", b, sizeof(b));
	assert_string_equal(b, "redis://user:********@h");
	config_mask_url("redis://h:6379/0", b, sizeof(b));
	assert_string_equal(b, "redis://h:6379/0");
	config_mask_url("redis//:pw@x", b, sizeof(b));
	assert_string_equal(b, "redis//:********@x");
	config_mask_url("", b, sizeof(b));
	assert_string_equal(b, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask_url),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_peers),
		cmocka_unit_test(test_finish_checks),
		cmocka_unit_test(test_upstream_url),
		cmocka_unit_test(test_shipped_example),
		cmocka_unit_test(test_user_listed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
