/*
 * config_check.c -- the last phase of loading a configuration, once every
 * key is set: relative file names resolved against the config's
 * directory, the settings checked against each other (TLS modes and their
 * files, pool sizes, auth_type and its auth_file), file permissions
 * checked, and the auth file loaded.  Kept apart from config.c, which
 * parses and shows keys.
 */
#include "proto/auth.h"
#include "cache/cache.h"
#include "proxy/config.h"
#include "lib/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Make a relative file name relative to the config file's directory. */
static bool resolve_path(const struct config *cfg, char **field)
{
	const char *slash;
	char *joined;
	size_t dlen;

	if (!cfg->path || !**field || **field == '/')
		return true;
	slash = strrchr(cfg->path, '/');
	if (!slash)
		return true;
	dlen = (size_t)(slash - cfg->path);
	joined = pgp_malloc(dlen + strlen(*field) + 2);
	if (!joined)
		return false;
	memcpy(joined, cfg->path, dlen);
	joined[dlen] = '/';
	strcpy(joined + dlen + 1, *field);
	pgp_free(*field);
	*field = joined;
	return true;
}

enum pgp_status config_finish(struct config *cfg, char *err, size_t errlen)
{
	struct stat stbuf;

	if (!resolve_path(cfg, &cfg->auth_file) ||
	    !resolve_path(cfg, &cfg->client_tls_cert_file) ||
	    !resolve_path(cfg, &cfg->client_tls_key_file) ||
	    !resolve_path(cfg, &cfg->client_tls_ca_file) ||
	    !resolve_path(cfg, &cfg->server_tls_ca_file) ||
	    !resolve_path(cfg, &cfg->state_file)) {
		snprintf(err, errlen, "out of memory");
		return PGP_ERR_NOMEM;
	}

	if (!cache_rules_check(cfg->cache_rules, err, errlen))
		return PGP_ERR_CONFIG;
	if (cfg->cache_mode != CACHE_OFF && !*cfg->redis_url) {
		snprintf(err, errlen,
			 "%s: cache_mode is %s but redis_url is not set",
			 cfg->path ? cfg->path : "config",
			 cfg->cache_mode == CACHE_AUTO ? "auto" : "rules");
		return PGP_ERR_CONFIG;
	}
	if (cfg->min_pool_size > cfg->default_pool_size) {
		snprintf(
			err, errlen,
			"%s: min_pool_size (%d) is larger than default_pool_size (%d)",
			cfg->path ? cfg->path : "config", cfg->min_pool_size,
			cfg->default_pool_size);
		return PGP_ERR_CONFIG;
	}
	if (cfg->client_tls_sslmode != TLS_DISABLE &&
	    (!*cfg->client_tls_cert_file || !*cfg->client_tls_key_file)) {
		snprintf(
			err, errlen,
			"%s: client_tls_sslmode needs client_tls_cert_file and client_tls_key_file",
			cfg->path ? cfg->path : "config");
		return PGP_ERR_CONFIG;
	}
	if (cfg->client_tls_sslmode >= TLS_VERIFY_CA &&
	    !*cfg->client_tls_ca_file) {
		snprintf(
			err, errlen,
			"%s: client_tls_sslmode %s needs client_tls_ca_file (the CA that signs client certificates)",
			cfg->path ? cfg->path : "config",
			config_tls_mode_name(cfg->client_tls_sslmode));
		return PGP_ERR_CONFIG;
	}
	/* as PostgreSQL asks of its own key: owned by us, 0600 or less, or
	 * owned by root, 0640 or less */
	if (*cfg->client_tls_key_file &&
	    stat(cfg->client_tls_key_file, &stbuf) == 0 &&
	    ((stbuf.st_uid == 0 &&
	      (stbuf.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))) ||
	     (stbuf.st_uid != 0 && (stbuf.st_mode & (S_IRWXG | S_IRWXO))))) {
		snprintf(
			err, errlen,
			"%s: client_tls_key_file %s has group or world access; it must be 0600 (or 0640 owned by root)",
			cfg->path ? cfg->path : "config",
			cfg->client_tls_key_file);
		return PGP_ERR_CONFIG;
	}
	if (cfg->server_tls_sslmode >= TLS_VERIFY_CA &&
	    !*cfg->server_tls_ca_file) {
		snprintf(err, errlen,
			 "%s: server_tls_sslmode %s needs server_tls_ca_file",
			 cfg->path ? cfg->path : "config",
			 config_tls_mode_name(cfg->server_tls_sslmode));
		return PGP_ERR_CONFIG;
	}
	if (*cfg->auth_file) {
		struct userlist ul;

		if (userlist_load(cfg->auth_file, &ul, err, errlen) != PGP_OK)
			return PGP_ERR_CONFIG;
		if (stat(cfg->auth_file, &stbuf) == 0 &&
		    (stbuf.st_mode & (S_IRWXG | S_IRWXO)))
			log_warning(
				"auth_file %s is readable by group or others; chmod 600 it",
				cfg->auth_file);
		/* entries from --upstream stay, the file's come after */
		for (int i = 0; i < ul.n; i++) {
			if (userlist_find(&cfg->users, ul.users[i].name))
				continue;
			if (!userlist_add(&cfg->users, ul.users[i].name,
					  ul.users[i].secret)) {
				userlist_free(&ul);
				snprintf(err, errlen, "out of memory");
				return PGP_ERR_NOMEM;
			}
		}
		userlist_free(&ul);
		if (cfg->auth_type == AUTH_SCRAM)
			for (int i = 0; i < cfg->users.n; i++)
				if (cfg->users.users[i].kind == SECRET_MD5)
					log_warning(
						"auth_file: user \"%s\" has an md5 secret, which cannot log in with auth_type scram-sha-256; give a SCRAM secret or plain password, or set auth_type = md5",
						cfg->users.users[i].name);
	} else if (cfg->auth_type != AUTH_TRUST && cfg->users.n == 0) {
		snprintf(err, errlen, "%s: auth_type %s needs an auth_file",
			 cfg->path ? cfg->path : "config",
			 config_auth_type_name(cfg->auth_type));
		return PGP_ERR_CONFIG;
	}
	return PGP_OK;
}
