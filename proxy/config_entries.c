/*
 * config_entries.c -- the config lines that name connections: [databases]
 * and [peers] entries (libpq-style "key=value" strings) and the
 * --upstream URL, which becomes [databases] entries.  The [pgperf] keys and
 * the ini file itself are config.c's.
 */
#include "proxy/config.h"
#include "config_int.h"

#include "lib/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_db_def_free(struct db_def *d)
{
	pgp_free(d->name);
	pgp_free(d->connstr);
	pgp_free(d->host);
	pgp_free(d->dbname);
	pgp_free(d->user);
	if (d->password)
		memset(d->password, 0, strlen(d->password));
	pgp_free(d->password);
}

/*
 * Parse a libpq-style "key=value key='quoted value'" string, calling `fn` for
 * each pair.  Returns false with a reason in err.
 */
static bool parse_connstr(const char *s,
			  bool (*fn)(void *arg, const char *k, const char *v,
				     char *err, size_t errlen),
			  void *arg, char *err, size_t errlen)
{
	char key[64], val[1024];

	for (;;) {
		size_t kn = 0, vn = 0;

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			return true;
		while (*s && *s != '=' && !isspace((unsigned char)*s)) {
			if (kn + 1 >= sizeof(key)) {
				snprintf(err, errlen,
					 "connection key too long");
				return false;
			}
			key[kn++] = *s++;
		}
		key[kn] = '\0';
		while (isspace((unsigned char)*s))
			s++;
		if (*s != '=') {
			snprintf(err, errlen, "missing \"=\" after \"%s\"",
				 key);
			return false;
		}
		s++;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\'') {
			s++;
			for (;;) {
				if (!*s) {
					snprintf(
						err, errlen,
						"unterminated quoted value for \"%s\"",
						key);
					return false;
				}
				if (*s == '\'')
					break;
				if (*s == '\\' && s[1])
					s++;
				if (vn + 1 >= sizeof(val)) {
					snprintf(err, errlen, "value too long");
					return false;
				}
				val[vn++] = *s++;
			}
			s++;
		} else {
			while (*s && !isspace((unsigned char)*s)) {
				if (*s == '\\' && s[1])
					s++;
				if (vn + 1 >= sizeof(val)) {
					snprintf(err, errlen, "value too long");
					return false;
				}
				val[vn++] = *s++;
			}
		}
		val[vn] = '\0';
		if (!fn(arg, key, val, err, errlen))
			return false;
	}
}

static bool parse_small_int(const char *v, long min, long max, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (end == v || *end || errno || n < min || n > max)
		return false;
	*out = (int)n;
	return true;
}

static bool db_param(void *arg, const char *k, const char *v, char *err,
		     size_t errlen)
{
	struct db_def *d = arg;

	if (strcmp(k, "host") == 0)
		return config_set_str(&d->host, v, err, errlen);
	if (strcmp(k, "dbname") == 0)
		return config_set_str(&d->dbname, v, err, errlen);
	if (strcmp(k, "user") == 0)
		return config_set_str(&d->user, v, err, errlen);
	if (strcmp(k, "password") == 0)
		return config_set_str(&d->password, v, err, errlen);
	if (strcmp(k, "port") == 0) {
		if (!parse_small_int(v, 1, 65535, &d->port))
			goto bad;
		return true;
	}
	if (strcmp(k, "pool_size") == 0) {
		if (!parse_small_int(v, 1, 100000, &d->pool_size))
			goto bad;
		return true;
	}
	if (strcmp(k, "min_pool_size") == 0) {
		if (!parse_small_int(v, 0, 100000, &d->min_pool_size))
			goto bad;
		return true;
	}
	if (strcmp(k, "pool_mode") == 0) {
		if (config_parse_pool_mode(v, &d->pool_mode))
			return true;
		goto bad;
	}
	snprintf(
		err, errlen,
		"unknown connection parameter \"%s\" (known: host, port, dbname, user, password, pool_size, min_pool_size, pool_mode)",
		k);
	return false;
bad:
	snprintf(err, errlen, "invalid value for connection parameter \"%s\"",
		 k);
	return false;
}

/* The connection string as shown by SHOW DATABASES: password masked. */
static char *mask_password(const char *connstr)
{
	const char *p = strstr(connstr, "password");

	if (!p)
		return pgp_strdup(connstr);
	return pgp_strndup(connstr, (size_t)(p - connstr));
}

enum pgp_status config_add_db(struct config *cfg, const char *name,
			      const char *connstr, char *err, size_t errlen)
{
	struct db_def d, *grown;

	memset(&d, 0, sizeof(d));
	d.port = 5432;
	d.pool_size = -1;
	d.min_pool_size = -1;
	d.pool_mode = -1;
	if (!*name || strlen(name) > 63) {
		snprintf(err, errlen, "invalid database name \"%s\"", name);
		return PGP_ERR_CONFIG;
	}
	if (strcmp(name, "pgperf") == 0) {
		snprintf(
			err, errlen,
			"database name \"pgperf\" is reserved for the admin console");
		return PGP_ERR_CONFIG;
	}
	for (int i = 0; i < cfg->ndbs; i++) {
		if (strcmp(cfg->dbs[i].name, name) == 0) {
			snprintf(err, errlen, "database \"%s\" defined twice",
				 name);
			return PGP_ERR_CONFIG;
		}
	}
	if (!parse_connstr(connstr, db_param, &d, err, errlen))
		goto fail;
	if (!d.host && !config_set_str(&d.host, "127.0.0.1", err, errlen))
		goto fail;
	d.name = pgp_strdup(name);
	d.connstr = mask_password(connstr);
	grown = pgp_realloc(cfg->dbs, sizeof(*grown) * (size_t)(cfg->ndbs + 1));
	if (!d.name || !d.connstr || !grown) {
		if (grown)
			cfg->dbs = grown;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	cfg->dbs = grown;
	cfg->dbs[cfg->ndbs++] = d;
	return PGP_OK;
fail:
	config_db_def_free(&d);
	return PGP_ERR_CONFIG;
}

static bool peer_param(void *arg, const char *k, const char *v, char *err,
		       size_t errlen)
{
	struct peer_def *d = arg;

	if (strcmp(k, "host") == 0)
		return config_set_str(&d->host, v, err, errlen);
	if (strcmp(k, "port") == 0) {
		if (parse_small_int(v, 1, 65535, &d->port))
			return true;
		snprintf(err, errlen, "invalid port \"%s\"", v);
		return false;
	}
	snprintf(err, errlen, "unknown parameter \"%s\" (host, port)", k);
	return false;
}

/* One [peers] line: `id = host=... port=...` (PgBouncer's form). */
enum pgp_status config_add_peer(struct config *cfg, const char *id,
				const char *connstr, char *err, size_t errlen)
{
	struct peer_def d, *grown;

	memset(&d, 0, sizeof(d));
	d.port = 6432;
	if (!parse_small_int(id, 1, CONFIG_MAX_PEER_ID, &d.id)) {
		snprintf(err, errlen, "peer id must be 1..%d",
			 CONFIG_MAX_PEER_ID);
		return PGP_ERR_CONFIG;
	}
	if (config_peer(cfg, d.id)) {
		snprintf(err, errlen, "defined twice");
		return PGP_ERR_CONFIG;
	}
	if (!parse_connstr(connstr, peer_param, &d, err, errlen))
		goto fail;
	if (!d.host) {
		snprintf(err, errlen, "host is missing");
		goto fail;
	}
	grown = pgp_realloc(cfg->peers,
			    sizeof(*grown) * (size_t)(cfg->npeers + 1));
	if (!grown) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	cfg->peers = grown;
	cfg->peers[cfg->npeers++] = d;
	return PGP_OK;
fail:
	pgp_free(d.host);
	return PGP_ERR_CONFIG;
}

const struct peer_def *config_peer(const struct config *cfg, int id)
{
	for (int i = 0; i < cfg->npeers; i++)
		if (cfg->peers[i].id == id)
			return &cfg->peers[i];
	return NULL;
}

static bool url_decode(const char *s, size_t n, char *dst, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '%') {
			unsigned int v;

			if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]) ||
			    sscanf(s + i + 1, "%2x", &v) != 1)
				return false;
			ch = (char)v;
			i += 2;
		}
		if (o + 1 >= cap)
			return false;
		dst[o++] = ch;
	}
	dst[o] = '\0';
	return true;
}

enum pgp_status config_apply_upstream(struct config *cfg, const char *url,
				      char *err, size_t errlen)
{
	const char *p, *at, *slash, *hostend, *q;
	char user[128] = "", pass[256] = "", host[256] = "", db[128] = "";
	char port[16] = "5432", conn[1024];

	if (strncmp(url, "postgresql://", 13) == 0)
		p = url + 13;
	else if (strncmp(url, "postgres://", 11) == 0)
		p = url + 11;
	else {
		snprintf(err, errlen, "--upstream must be a postgresql:// URL");
		return PGP_ERR_CONFIG;
	}
	slash = strchr(p, '/');
	q = strchr(p, '?');
	if (!slash || (q && q < slash))
		slash = q ? q : p + strlen(p);
	at = memchr(p, '@', (size_t)(slash - p));
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (!url_decode(p, (size_t)((colon ? colon : at) - p), user,
				sizeof(user)) ||
		    (colon && !url_decode(colon + 1, (size_t)(at - colon - 1),
					  pass, sizeof(pass)))) {
			snprintf(err, errlen,
				 "--upstream: bad user or password");
			return PGP_ERR_CONFIG;
		}
		p = at + 1;
	}
	hostend = p;
	while (hostend < slash && *hostend != ':')
		hostend++;
	if (!url_decode(p, (size_t)(hostend - p), host, sizeof(host))) {
		snprintf(err, errlen, "--upstream: bad host");
		return PGP_ERR_CONFIG;
	}
	if (*hostend == ':') {
		size_t n = (size_t)(slash - hostend - 1);

		if (n == 0 || n >= sizeof(port)) {
			snprintf(err, errlen, "--upstream: bad port");
			return PGP_ERR_CONFIG;
		}
		memcpy(port, hostend + 1, n);
		port[n] = '\0';
	}
	if (*slash == '/') {
		const char *dend = strchr(slash + 1, '?');
		size_t n =
			dend ? (size_t)(dend - slash - 1) : strlen(slash + 1);

		if (!url_decode(slash + 1, n, db, sizeof(db))) {
			snprintf(err, errlen, "--upstream: bad database name");
			return PGP_ERR_CONFIG;
		}
	}
	if (!host[0])
		strcpy(host, "127.0.0.1");
	if (!user[0]) {
		snprintf(err, errlen, "--upstream: the URL must name a user");
		return PGP_ERR_CONFIG;
	}
	if (!db[0])
		snprintf(db, sizeof(db), "%s", user);
	snprintf(conn, sizeof(conn), "host='%s' port=%s dbname='%s'", host,
		 port, db);
	if (!config_find_db(cfg, db) &&
	    config_add_db(cfg, db, conn, err, errlen) != PGP_OK)
		return PGP_ERR_CONFIG;
	snprintf(conn, sizeof(conn), "host='%s' port=%s", host, port);
	if (!(cfg->ndbs > 0 && config_find_db(cfg, "*") &&
	      strcmp(config_find_db(cfg, "*")->name, "*") == 0) &&
	    config_add_db(cfg, "*", conn, err, errlen) != PGP_OK)
		return PGP_ERR_CONFIG;
	/* the URL's user is the one user clients log in with */
	if (!userlist_find(&cfg->users, user) &&
	    !userlist_add(&cfg->users, user, pass)) {
		snprintf(err, errlen, "out of memory");
		return PGP_ERR_NOMEM;
	}
	if (!pass[0])
		cfg->auth_type = AUTH_TRUST;
	memset(pass, 0, sizeof(pass));
	/* the quick start's user may read the console (pgperf-ctl stats
	 * with the DATABASE_URL it was given), unless a config says who */
	if (!*cfg->stats_users && !*cfg->admin_users &&
	    config_set(cfg, "stats_users", user, err, errlen) != PGP_OK)
		return PGP_ERR_CONFIG;
	return PGP_OK;
}

bool config_parse_redis_url(const char *url, char *host, size_t hostcap,
			    int *port, char *password, size_t pwcap, int *db)
{
	const char *p = url, *at, *slash, *colon;
	char hostport[256];

	if (strncmp(p, "redis://", 8) != 0)
		return false;
	p += 8;
	*port = 6379;
	*db = 0;
	password[0] = '\0';
	snprintf(host, hostcap, "127.0.0.1");
	if ((at = strchr(p, '@'))) {
		const char *pc = memchr(p, ':', (size_t)(at - p));

		if (pc)
			snprintf(password, pwcap, "%.*s", (int)(at - pc - 1),
				 pc + 1);
		p = at + 1;
	}
	slash = strchr(p, '/');
	snprintf(hostport, sizeof(hostport), "%.*s",
		 (int)(slash ? (size_t)(slash - p) : strlen(p)), p);
	if ((colon = strrchr(hostport, ':'))) {
		*port = atoi(colon + 1);
		hostport[colon - hostport] = '\0';
	}
	if (hostport[0])
		snprintf(host, hostcap, "%s", hostport);
	if (slash && slash[1])
		*db = atoi(slash + 1);
	return *port > 0 && *port < 65536 && *db >= 0;
}
