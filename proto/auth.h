/*
 * auth.h -- the auth file (PgBouncer's userlist.txt format) and the md5
 * password scheme.  SCRAM lives in scram.h.
 */
#ifndef PGPERF_AUTH_H
#define PGPERF_AUTH_H

#include "lib/common.h"

enum secret_kind { SECRET_PLAIN, SECRET_MD5, SECRET_SCRAM };

struct scram_secret;

struct auth_user;
/* One user with its secret (kind classified), outside any list. */
struct auth_user *auth_user_new(const char *name, const char *secret);
void auth_user_free(struct auth_user *u);

struct auth_user {
	char *name;   /* owned */
	char *secret; /* owned: a password, "md5<32 hex>" or a SCRAM secret */
	enum secret_kind kind;
	/* owned: SCRAM verifier derived from a plain password on first use,
	 * so that PBKDF2 runs once per user, not once per login */
	struct scram_secret *scram_cache;
};

struct userlist {
	struct auth_user *users; /* owned array */
	int n;
};

/*
 * Parse an auth file's text.  Lines that do not start with '"' are comments.
 * Each entry is `"user" "secret"`, a doubled quote standing for a quote.  On
 * error returns PGP_ERR_CONFIG with "line N: reason" in err.
 */
enum pgp_status userlist_parse(const char *text, struct userlist *out,
			       char *err, size_t errlen) WARN_UNUSED;
enum pgp_status userlist_load(const char *path, struct userlist *out, char *err,
			      size_t errlen) WARN_UNUSED;
/* Append a copy of name and secret; false on allocation failure. */
bool userlist_add(struct userlist *ul, const char *name,
		  const char *secret) WARN_UNUSED;
void userlist_free(struct userlist *ul);
const struct auth_user *userlist_find(const struct userlist *ul,
				      const char *name);
enum secret_kind auth_secret_classify(const char *secret);

/* "md5" + hex(md5(password || user)): the form PostgreSQL stores. */
void md5_password_hash(const char *user, const char *password, char out[36]);
/*
 * The response to AuthenticationMD5Password: "md5" + hex(md5(hash32 || salt))
 * where hash32 is the 32 hex digits of md5_password_hash.
 */
void md5_salted_response(const char *stored_hash, const uint8_t salt[4],
			 char out[36]);

#endif
