/*
 * config.c -- the ini loader and the table of every [pgperf] key: its type,
 * default, bounds and whether RELOAD can change it.  Defaults go through the
 * same parser as user values, so a default can never be invalid.
 */
#include "proxy/config.h"
#include "config_int.h"

#include "cache/cache.h"

#include "lib/log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum cfg_type { CFG_STR, CFG_INT, CFG_MS, CFG_ENUM, CFG_REAL };

struct cfg_enum {
	const char *name;
	int value;
};

static const struct cfg_enum auth_types[] = {{"trust", AUTH_TRUST},
					     {"md5", AUTH_MD5},
					     {"scram-sha-256", AUTH_SCRAM},
					     {NULL, 0}};
static const struct cfg_enum pool_modes[] = {{"session", POOL_SESSION},
					     {"transaction", POOL_TRANSACTION},
					     {NULL, 0}};
static const struct cfg_enum tls_modes[] = {{"disable", TLS_DISABLE},
					    {"allow", TLS_ALLOW},
					    {"prefer", TLS_PREFER},
					    {"require", TLS_REQUIRE},
					    {"verify-ca", TLS_VERIFY_CA},
					    {"verify-full", TLS_VERIFY_FULL},
					    {NULL, 0}};
static const struct cfg_enum cache_modes[] = {{"off", CACHE_OFF},
					      {"rules", CACHE_RULES},
					      {"auto", CACHE_AUTO},
					      {NULL, 0}};
static const struct cfg_enum on_off[] = {{"on", 1},    {"off", 0}, {"true", 1},
					 {"false", 0}, {"1", 1},   {"0", 0},
					 {"yes", 1},   {"no", 0},  {NULL, 0}};
static const struct cfg_enum log_levels[] = {
	{"error", LOG_ERROR}, {"warning", LOG_WARNING}, {"info", LOG_INFO},
	{"debug", LOG_DEBUG}, {"noise", LOG_NOISE},	{NULL, 0}};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;
	bool reload; /* RELOAD applies it; otherwise only a restart does */
	long long min, max;
	const struct cfg_enum *enums;
};

#define K(name, type, def, reload, min, max, enums)                           \
	{                                                                     \
#name, type, offsetof(struct config, name), def, reload, min, \
			max, enums                                            \
	}

static const struct cfg_key keys[] = {
	K(listen_addr, CFG_STR, "127.0.0.1", false, 0, 0, NULL),
	K(listen_port, CFG_INT, "6432", false, 1, 65535, NULL),
	K(unix_socket_dir, CFG_STR, "", false, 0, 0, NULL),
	K(auth_type, CFG_ENUM, "scram-sha-256", true, 0, 0, auth_types),
	K(auth_file, CFG_STR, "", true, 0, 0, NULL),
	K(admin_users, CFG_STR, "", true, 0, 0, NULL),
	K(stats_users, CFG_STR, "", true, 0, 0, NULL),
	K(pool_mode, CFG_ENUM, "session", true, 0, 0, pool_modes),
	K(transaction_pinning, CFG_ENUM, "on", true, 0, 0, on_off),
	K(max_prepared_statements, CFG_INT, "200", true, 0, 100000, NULL),
	K(default_pool_size, CFG_INT, "20", true, 1, 100000, NULL),
	K(min_pool_size, CFG_INT, "5", true, 0, 100000, NULL),
	K(max_client_conn, CFG_INT, "1000", true, 1, 1000000, NULL),
	K(max_login_clients, CFG_INT, "1000", true, 16, 1000000, NULL),
	K(auth_user, CFG_STR, "", true, 0, 0, NULL),
	K(auth_query, CFG_STR,
	  "SELECT usename, CASE WHEN valuntil IS NULL OR valuntil > "
	  "pg_catalog.now() THEN passwd END FROM pg_catalog.pg_shadow "
	  "WHERE usename = $1",
	  true, 0, 0, NULL),
	K(max_login_clients_per_host, CFG_INT, "0", true, 0, 1000000, NULL),
	K(listen_backlog, CFG_INT, "1024", false, 1, 65535, NULL),
	K(so_reuseport, CFG_ENUM, "off", false, 0, 0, on_off),
	K(peer_id, CFG_INT, "0", false, 0, CONFIG_MAX_PEER_ID, NULL),
	K(max_db_connections, CFG_INT, "0", true, 0, 1000000, NULL),
	K(max_user_connections, CFG_INT, "0", true, 0, 1000000, NULL),
	K(query_wait_timeout, CFG_MS, "120", true, 0, 0, NULL),
	K(server_connect_timeout, CFG_MS, "15", true, 1, 0, NULL),
	K(server_idle_timeout, CFG_MS, "600", true, 0, 0, NULL),
	K(server_lifetime, CFG_MS, "3600", true, 0, 0, NULL),
	K(server_check_delay, CFG_MS, "30", true, 0, 0, NULL),
	K(client_login_timeout, CFG_MS, "60", true, 0, 0, NULL),
	K(shutdown_timeout, CFG_MS, "0", true, 0, 0, NULL),
	K(idle_transaction_timeout, CFG_MS, "0", true, 0, 0, NULL),
	K(query_timeout, CFG_MS, "0", true, 0, 0, NULL),
	K(transaction_timeout, CFG_MS, "0", true, 0, 0, NULL),
	K(reserve_pool_size, CFG_INT, "0", true, 0, 100000, NULL),
	K(reserve_pool_timeout, CFG_MS, "5", true, 0, 0, NULL),
	K(server_round_robin, CFG_ENUM, "off", true, 0, 0, on_off),
	K(tcp_keepalive, CFG_ENUM, "on", true, 0, 0, on_off),
	K(tcp_keepidle, CFG_INT, "0", true, 0, 32767, NULL),
	K(tcp_keepintvl, CFG_INT, "0", true, 0, 32767, NULL),
	K(tcp_keepcnt, CFG_INT, "0", true, 0, 127, NULL),
	K(server_reset_query, CFG_STR, "DISCARD ALL", true, 0, 0, NULL),
	K(server_check_query, CFG_STR, "select 1", true, 0, 0, NULL),
	K(client_tls_sslmode, CFG_ENUM, "disable", false, 0, 0, tls_modes),
	K(client_tls_cert_file, CFG_STR, "", false, 0, 0, NULL),
	K(client_tls_key_file, CFG_STR, "", false, 0, 0, NULL),
	K(client_tls_ca_file, CFG_STR, "", false, 0, 0, NULL),
	K(server_tls_sslmode, CFG_ENUM, "prefer", true, 0, 0, tls_modes),
	K(server_tls_ca_file, CFG_STR, "", true, 0, 0, NULL),
	K(server_allow_cleartext, CFG_ENUM, "off", true, 0, 0, on_off),
	K(logfile, CFG_STR, "", true, 0, 0, NULL),
	K(pidfile, CFG_STR, "", false, 0, 0, NULL),
	K(log_level, CFG_ENUM, "info", true, 0, 0, log_levels),
	K(max_packet_size, CFG_INT, "1073741823", true, 1024, 1073741823, NULL),
	K(autodb_max_pools, CFG_INT, "100", true, 1, 1000000, NULL),
	K(autodb_idle_timeout, CFG_INT, "3600", true, 1, 100000000, NULL),
	K(max_prepared_statement_size, CFG_INT, "16777216", true, 1024,
	  1073741823, NULL),
	K(max_client_prepared_statements, CFG_INT, "10000", true, 1, 10000000,
	  NULL),
	K(analysis, CFG_ENUM, "on", true, 0, 0, on_off),
	K(stats_period, CFG_INT, "60", true, 1, 86400, NULL),
	K(max_tracked_queries, CFG_INT, "5000", false, 10, 1000000, NULL),
	K(request_idle_gap_ms, CFG_INT, "100", true, 1, 3600000, NULL),
	K(nplus1_min_repeats, CFG_INT, "5", true, 2, 100000, NULL),
	K(sequential_min_ms, CFG_INT, "10", true, 0, 3600000, NULL),
	K(slow_query_ms, CFG_INT, "100", true, 0, 3600000, NULL),
	K(index_advice, CFG_ENUM, "on", true, 0, 0, on_off),
	K(index_min_table_rows, CFG_INT, "10000", true, 0, 2000000000, NULL),
	K(redis_url, CFG_STR, "", false, 0, 0, NULL),
	K(cache_mode, CFG_ENUM, "off", false, 0, 0, cache_modes),
	K(cache_ttl, CFG_INT, "60", true, 1, 2592000, NULL),
	K(cache_namespace, CFG_STR, "", true, 0, 0, NULL),
	K(cache_rules, CFG_STR, "", false, 0, 0, NULL),
	K(cache_max_entry_bytes, CFG_INT, "1048576", true, 64, 536870912, NULL),
	K(cache_auto_min_calls, CFG_INT, "10", true, 1, 1000000000, NULL),
	K(cache_auto_min_rate, CFG_INT, "60", true, 0, 1000000000, NULL),
	K(cache_auto_min_repeat_pct, CFG_INT, "10", true, 0, 100, NULL),
	K(redis_timeout_ms, CFG_INT, "50", true, 1, 60000, NULL),
	K(fleet, CFG_ENUM, "on", false, 0, 0, on_off),
	K(fleet_lease_ttl, CFG_INT, "5", true, 1, 3600, NULL),
	K(state_file, CFG_STR, "", false, 0, 0, NULL),
	K(state_save_interval, CFG_MS, "60", true, 1000, 0, NULL),
	K(slo_route_p95_ms, CFG_INT, "200", true, 1, 3600000, NULL),
	K(slo_route_p99_ms, CFG_INT, "500", true, 1, 3600000, NULL),
	K(slo_queries_per_request, CFG_INT, "10", true, 1, 1000000, NULL),
	K(slo_cache_hit_pct, CFG_INT, "80", true, 0, 100, NULL),
	K(slo_error_rate_pct, CFG_REAL, "0.1", true, 0, 100, NULL),
	K(slo_pool_size_min, CFG_INT, "5", true, 0, 100000, NULL),
	K(slo_pool_size_max, CFG_INT, "20", true, 1, 100000, NULL),
	K(http_listen_addr, CFG_STR, "127.0.0.1", false, 0, 0, NULL),
	K(http_listen_port, CFG_INT, "0", false, 0, 65535, NULL),
	K(http_auth_token, CFG_STR, "", true, 0, 0, NULL),
	K(http_allowed_hosts, CFG_STR, "", true, 0, 0, NULL),
	K(http_max_connections, CFG_INT, "100", false, 1, 100000, NULL),
	K(http_timeout, CFG_INT, "10", false, 1, 3600, NULL),
};

#undef K

static const char *enum_name(const struct cfg_enum *e, int v)
{
	for (; e->name; e++)
		if (e->value == v)
			return e->name;
	return "?";
}

const char *config_tls_mode_name(int m)
{
	return enum_name(tls_modes, m);
}

const char *config_auth_type_name(int t)
{
	return enum_name(auth_types, t);
}

const char *config_pool_mode_name(int m)
{
	return enum_name(pool_modes, m);
}

bool config_parse_pool_mode(const char *v, int *out)
{
	for (const struct cfg_enum *e = pool_modes; e->name; e++) {
		if (strcmp(e->name, v) == 0) {
			*out = e->value;
			return true;
		}
	}
	return false;
}

static const struct cfg_key *find_key(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Parse "1.5", "250ms", "30s", "2min", "1h" into milliseconds. */
static bool parse_duration_ms(const char *s, int64_t *out)
{
	char *end;
	double v, mult = 1000.0;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v < 0 || !isfinite(v))
		return false;
	while (isspace((unsigned char)*end))
		end++;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1000.0;
	else if (strcmp(end, "ms") == 0)
		mult = 1.0;
	else if (strcmp(end, "min") == 0)
		mult = 60000.0;
	else if (strcmp(end, "h") == 0)
		mult = 3600000.0;
	else
		return false;
	if (v * mult > 1e15)
		return false;
	*out = (int64_t)(v * mult);
	return true;
}

bool config_set_str(char **dst, const char *v, char *err, size_t errlen)
{
	char *c = pgp_strdup(v);

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	pgp_free(*dst);
	*dst = c;
	return true;
}

static enum pgp_status set_key(struct config *cfg, const struct cfg_key *k,
			       const char *value, char *err, size_t errlen)
{
	char *field = (char *)cfg + k->offset;

	switch (k->type) {
	case CFG_STR:
		return config_set_str((char **)(void *)field, value, err,
				      errlen)
			       ? PGP_OK
			       : PGP_ERR_NOMEM;
	case CFG_INT: {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(value, &end, 10);
		if (end == value || *end || errno || v < k->min || v > k->max) {
			snprintf(
				err, errlen,
				"invalid value \"%s\" for %s: expected an integer from %lld to %lld",
				value, k->name, k->min, k->max);
			return PGP_ERR_CONFIG;
		}
		*(int *)(void *)field = (int)v;
		return PGP_OK;
	}
	case CFG_REAL: {
		char *end;
		double v;

		errno = 0;
		v = strtod(value, &end);
		if (end == value || *end || errno || !(v >= (double)k->min) ||
		    !(v <= (double)k->max)) {
			snprintf(
				err, errlen,
				"invalid value \"%s\" for %s: expected a number from %lld to %lld",
				value, k->name, k->min, k->max);
			return PGP_ERR_CONFIG;
		}
		*(double *)(void *)field = v;
		return PGP_OK;
	}
	case CFG_MS: {
		int64_t ms;

		if (!parse_duration_ms(value, &ms) || ms < k->min) {
			snprintf(
				err, errlen,
				"invalid value \"%s\" for %s: expected seconds (or a number with ms, s, min or h)",
				value, k->name);
			return PGP_ERR_CONFIG;
		}
		*(int64_t *)(void *)field = ms;
		return PGP_OK;
	}
	case CFG_ENUM:
		for (const struct cfg_enum *e = k->enums; e->name; e++) {
			if (strcasecmp(e->name, value) == 0) {
				*(int *)(void *)field = e->value;
				return PGP_OK;
			}
		}
		{
			char choices[200] = "";

			for (const struct cfg_enum *e = k->enums; e->name;
			     e++) {
				if (choices[0])
					strncat(choices, ", ",
						sizeof(choices) -
							strlen(choices) - 1);
				strncat(choices, e->name,
					sizeof(choices) - strlen(choices) - 1);
			}
			snprintf(
				err, errlen,
				"invalid value \"%s\" for %s: expected one of %s",
				value, k->name, choices);
		}
		return PGP_ERR_CONFIG;
	}
	return PGP_ERR_CONFIG;
}

enum pgp_status config_set(struct config *cfg, const char *key,
			   const char *value, char *err, size_t errlen)
{
	const struct cfg_key *k = find_key(key);

	if (!k) {
		snprintf(err, errlen, "unknown key \"%s\" in section [pgperf]",
			 key);
		return PGP_ERR_CONFIG;
	}
	return set_key(cfg, k, value, err, errlen);
}

struct config *config_new_defaults(void)
{
	struct config *cfg = pgp_calloc(1, sizeof(*cfg));
	char err[256];

	if (!cfg)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (set_key(cfg, &keys[i], keys[i].def, err, sizeof(err)) !=
		    PGP_OK) {
			config_free(cfg);
			return NULL;
		}
	}
	return cfg;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (keys[i].type == CFG_STR)
			pgp_free(*(char **)(void *)((char *)cfg +
						    keys[i].offset));
	for (int i = 0; i < cfg->ndbs; i++)
		config_db_def_free(&cfg->dbs[i]);
	pgp_free(cfg->dbs);
	for (int i = 0; i < cfg->npeers; i++)
		pgp_free(cfg->peers[i].host);
	pgp_free(cfg->peers);
	userlist_free(&cfg->users);
	pgp_free(cfg->path);
	pgp_free(cfg);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

enum pgp_status config_parse(struct config *cfg, const char *name,
			     const char *text, char *err, size_t errlen)
{
	enum { SEC_NONE, SEC_PGPERF, SEC_DATABASES, SEC_PEERS } sec = SEC_NONE;
	char *copy = pgp_strdup(text), *line, *next;
	int lineno = 0;
	char sub[512];
	enum pgp_status st = PGP_OK;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return PGP_ERR_NOMEM;
	}
	for (line = copy; line && st == PGP_OK; line = next) {
		char *p, *eq, *key, *val;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		p = trim(line);
		if (!*p || *p == ';' || *p == '#')
			continue;
		if (*p == '[') {
			char *close = strchr(p, ']');

			if (!close || close[1]) {
				snprintf(err, errlen,
					 "%s:%d: malformed section header",
					 name, lineno);
				st = PGP_ERR_CONFIG;
				break;
			}
			*close = '\0';
			p = trim(p + 1);
			if (strcmp(p, "pgperf") == 0) {
				sec = SEC_PGPERF;
			} else if (strcmp(p, "databases") == 0) {
				sec = SEC_DATABASES;
			} else if (strcmp(p, "peers") == 0) {
				sec = SEC_PEERS;
			} else {
				snprintf(
					err, errlen,
					"%s:%d: unknown section [%s] (known: [pgperf], [databases], [peers])",
					name, lineno, p);
				st = PGP_ERR_CONFIG;
			}
			continue;
		}
		eq = strchr(p, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected \"key = value\"",
				 name, lineno);
			st = PGP_ERR_CONFIG;
			break;
		}
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		switch (sec) {
		case SEC_NONE:
			snprintf(err, errlen,
				 "%s:%d: key \"%s\" outside of any section",
				 name, lineno, key);
			st = PGP_ERR_CONFIG;
			break;
		case SEC_PGPERF:
			if (config_set(cfg, key, val, sub, sizeof(sub)) !=
			    PGP_OK) {
				snprintf(err, errlen, "%s:%d: %s", name, lineno,
					 sub);
				st = PGP_ERR_CONFIG;
			}
			break;
		case SEC_DATABASES:
			if (config_add_db(cfg, key, val, sub, sizeof(sub)) !=
			    PGP_OK) {
				snprintf(err, errlen,
					 "%s:%d: database \"%s\": %s", name,
					 lineno, key, sub);
				st = PGP_ERR_CONFIG;
			}
			break;
		case SEC_PEERS:
			if (config_add_peer(cfg, key, val, sub, sizeof(sub)) !=
			    PGP_OK) {
				snprintf(err, errlen, "%s:%d: peer %s: %s",
					 name, lineno, key, sub);
				st = PGP_ERR_CONFIG;
			}
			break;
		}
	}
	pgp_free(copy);
	return st;
}

enum pgp_status config_parse_file(struct config *cfg, const char *path,
				  char *err, size_t errlen)
{
	char *text = pgp_read_file(path, 16 * 1024 * 1024, err, errlen);
	enum pgp_status st;

	if (!text)
		return PGP_ERR_CONFIG;
	if (!cfg->path)
		cfg->path = pgp_strdup(path);
	st = config_parse(cfg, path, text, err, errlen);
	pgp_free(text);
	return st;
}

enum pgp_status config_load_file(const char *path, struct config **out,
				 char *err, size_t errlen)
{
	struct config *cfg = config_new_defaults();
	enum pgp_status st;

	*out = NULL;
	if (!cfg) {
		snprintf(err, errlen, "out of memory");
		return PGP_ERR_NOMEM;
	}
	st = config_parse_file(cfg, path, err, errlen);
	if (st == PGP_OK)
		st = config_finish(cfg, err, errlen);
	if (st != PGP_OK) {
		config_free(cfg);
		return st;
	}
	*out = cfg;
	return PGP_OK;
}

/* Decode %XX escapes of a URL component into dst (same size or larger). */
const struct db_def *config_find_db(const struct config *cfg, const char *name)
{
	const struct db_def *star = NULL;

	for (int i = 0; i < cfg->ndbs; i++) {
		if (strcmp(cfg->dbs[i].name, name) == 0)
			return &cfg->dbs[i];
		if (strcmp(cfg->dbs[i].name, "*") == 0)
			star = &cfg->dbs[i];
	}
	return star;
}

bool config_user_listed(const char *list, const char *user)
{
	size_t ulen = strlen(user);
	const char *p = list;

	while (p && *p) {
		const char *end;

		while (*p == ' ' || *p == ',')
			p++;
		end = p;
		while (*end && *end != ',' && *end != ' ')
			end++;
		if ((size_t)(end - p) == ulen && strncmp(p, user, ulen) == 0)
			return true;
		p = end;
	}
	return false;
}

static void format_value(const struct config *cfg, const struct cfg_key *k,
			 char *buf, size_t len)
{
	const char *field = (const char *)cfg + k->offset;

	switch (k->type) {
	case CFG_STR:
		snprintf(buf, len, "%s", *(char *const *)(const void *)field);
		break;
	case CFG_INT:
		snprintf(buf, len, "%d", *(const int *)(const void *)field);
		break;
	case CFG_REAL:
		snprintf(buf, len, "%g", *(const double *)(const void *)field);
		break;
	case CFG_MS: {
		int64_t ms = *(const int64_t *)(const void *)field;

		if (ms % 1000 == 0)
			snprintf(buf, len, "%lld", (long long)(ms / 1000));
		else
			snprintf(buf, len, "%lldms", (long long)ms);
		break;
	}
	case CFG_ENUM:
		snprintf(
			buf, len, "%s",
			enum_name(k->enums, *(const int *)(const void *)field));
		break;
	}
}

void config_mask_url(const char *url, char *buf, size_t len)
{
	const char *at = strrchr(url, '@'), *from = strstr(url, "//");
	const char *colon = NULL;

	/* the password: from the first ':' of the user information (after
	 * the scheme's "//", however malformed the rest) to the '@' */
	from = from && (!at || from < at) ? from + 2 : url;
	for (const char *p = from; at && p < at && !colon; p++)
		if (*p == ':')
			colon = p;
	if (!colon) {
		snprintf(buf, len, "%s", url);
		return;
	}
	snprintf(buf, len, "%.*s********%s", (int)(colon + 1 - url), url, at);
}

void config_show(const struct config *cfg, config_show_fn fn, void *arg)
{
	char val[1024], shown[1100];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		format_value(cfg, &keys[i], val, sizeof(val));
		/* secrets are shown to no one: whether they are set is enough */
		if (strcmp(keys[i].name, "http_auth_token") == 0 && val[0])
			snprintf(shown, sizeof(shown), "********");
		else if (strcmp(keys[i].name, "redis_url") == 0)
			config_mask_url(val, shown, sizeof(shown));
		else
			snprintf(shown, sizeof(shown), "%s", val);
		fn(arg, keys[i].name, shown, keys[i].def, keys[i].reload);
	}
}

bool config_needs_restart(const struct config *a, const struct config *b,
			  const char **key)
{
	char va[1024], vb[1024];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (keys[i].reload)
			continue;
		format_value(a, &keys[i], va, sizeof(va));
		format_value(b, &keys[i], vb, sizeof(vb));
		if (strcmp(va, vb) != 0) {
			*key = keys[i].name;
			return true;
		}
	}
	return false;
}

bool config_copy_key(struct config *dst, const struct config *src,
		     const char *key)
{
	const struct cfg_key *k = find_key(key);
	char val[1024], err[256];

	if (!k)
		return false;
	format_value(src, k, val, sizeof(val));
	return set_key(dst, k, val, err, sizeof(err)) == PGP_OK;
}
