/*
 * auth.c -- the auth file and md5 password hashing.
 */
#include "proto/auth.h"

#include "proto/scram.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

enum secret_kind auth_secret_classify(const char *secret)
{
	size_t n = strlen(secret);

	if (n == 35 && strncmp(secret, "md5", 3) == 0 &&
	    strspn(secret + 3, "0123456789abcdef") == 32)
		return SECRET_MD5;
	if (strncmp(secret, "SCRAM-SHA-256$", 14) == 0)
		return SECRET_SCRAM;
	return SECRET_PLAIN;
}

/* Read one quoted token starting at *p (which points at '"'). */
static char *read_quoted(const char **p)
{
	const char *s = *p + 1;
	size_t cap = 64, n = 0;
	char *out = pgp_malloc(cap);

	if (!out)
		return NULL;
	for (;;) {
		if (*s == '\0' || *s == '\n') {
			pgp_free(out);
			return NULL;
		}
		if (*s == '"') {
			if (s[1] != '"')
				break;
			s++; /* doubled quote */
		}
		if (n + 1 >= cap) {
			char *bigger = pgp_realloc(out, cap * 2);

			if (!bigger) {
				pgp_free(out);
				return NULL;
			}
			out = bigger;
			cap *= 2;
		}
		out[n++] = *s++;
	}
	out[n] = '\0';
	*p = s + 1;
	return out;
}

bool userlist_add(struct userlist *ul, const char *name, const char *secret)
{
	struct auth_user *grown, *u;

	grown = pgp_realloc(ul->users, sizeof(*grown) * (size_t)(ul->n + 1));
	if (!grown)
		return false;
	ul->users = grown;
	u = &ul->users[ul->n];
	memset(u, 0, sizeof(*u));
	u->name = pgp_strdup(name);
	u->secret = pgp_strdup(secret);
	if (!u->name || !u->secret) {
		pgp_free(u->name);
		pgp_free(u->secret);
		return false;
	}
	u->kind = auth_secret_classify(secret);
	ul->n++;
	return true;
}

enum pgp_status userlist_parse(const char *text, struct userlist *out,
			       char *err, size_t errlen)
{
	const char *line = text;
	int lineno = 0;

	memset(out, 0, sizeof(*out));
	while (line && *line) {
		const char *p = line, *eol = strchr(line, '\n');
		char *name, *secret;
		bool added;

		lineno++;
		line = eol ? eol + 1 : NULL;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '"')
			continue; /* comment or blank */
		name = read_quoted(&p);
		if (!name) {
			snprintf(err, errlen, "line %d: unterminated user name",
				 lineno);
			goto fail;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '"' || !(secret = read_quoted(&p))) {
			snprintf(
				err, errlen,
				"line %d: expected a quoted password after the user name",
				lineno);
			pgp_free(name);
			goto fail;
		}
		added = userlist_add(out, name, secret);
		memset(secret, 0, strlen(secret));
		pgp_free(name);
		pgp_free(secret);
		if (!added) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	return PGP_OK;
fail:
	userlist_free(out);
	return PGP_ERR_CONFIG;
}

enum pgp_status userlist_load(const char *path, struct userlist *out, char *err,
			      size_t errlen)
{
	char *text = pgp_read_file(path, 64 * 1024 * 1024, err, errlen);
	enum pgp_status st;
	char sub[200];

	if (!text)
		return PGP_ERR_CONFIG;
	st = userlist_parse(text, out, sub, sizeof(sub));
	pgp_free(text);
	if (st != PGP_OK)
		snprintf(err, errlen, "%s: %s", path, sub);
	return st;
}

void userlist_free(struct userlist *ul)
{
	for (int i = 0; i < ul->n; i++) {
		pgp_free(ul->users[i].name);
		/* scrub secrets before giving the memory back */
		memset(ul->users[i].secret, 0, strlen(ul->users[i].secret));
		pgp_free(ul->users[i].secret);
		pgp_free(ul->users[i].scram_cache);
	}
	pgp_free(ul->users);
	memset(ul, 0, sizeof(*ul));
}

const struct auth_user *userlist_find(const struct userlist *ul,
				      const char *name)
{
	for (int i = 0; ul && i < ul->n; i++)
		if (strcmp(ul->users[i].name, name) == 0)
			return &ul->users[i];
	return NULL;
}

static void md5_hex(const void *data, size_t len, char out[33])
{
	unsigned char dig[16];
	unsigned int dlen = 0;
	static const char hex[] = "0123456789abcdef";

	EVP_Digest(data, len, dig, &dlen, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[dig[i] >> 4];
		out[2 * i + 1] = hex[dig[i] & 15];
	}
	out[32] = '\0';
}

void md5_password_hash(const char *user, const char *password, char out[36])
{
	size_t pl = strlen(password), ul = strlen(user);
	char *buf = pgp_malloc(pl + ul);

	if (!buf) {
		out[0] = '\0';
		return;
	}
	memcpy(buf, password, pl);
	memcpy(buf + pl, user, ul);
	memcpy(out, "md5", 3);
	md5_hex(buf, pl + ul, out + 3);
	memset(buf, 0, pl + ul);
	pgp_free(buf);
}

void md5_salted_response(const char *stored_hash, const uint8_t salt[4],
			 char out[36])
{
	char buf[36];

	memcpy(buf, stored_hash + 3, 32);
	memcpy(buf + 32, salt, 4);
	memcpy(out, "md5", 3);
	md5_hex(buf, 36, out + 3);
}

struct auth_user *auth_user_new(const char *name, const char *secret)
{
	struct auth_user *u = pgp_calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->name = pgp_strdup(name);
	u->secret = pgp_strdup(secret);
	if (!u->name || !u->secret) {
		auth_user_free(u);
		return NULL;
	}
	u->kind = auth_secret_classify(secret);
	return u;
}

void auth_user_free(struct auth_user *u)
{
	if (!u)
		return;
	if (u->secret)
		memset(u->secret, 0, strlen(u->secret));
	pgp_free(u->secret);
	pgp_free(u->name);
	pgp_free(u->scram_cache);
	pgp_free(u);
}
