/*
 * scram.h -- SCRAM-SHA-256 (RFC 5802, RFC 7677) for both sides: pgperf
 * verifies clients against a stored secret or password, and logs in to
 * PostgreSQL with a password.  No channel binding is offered (pgperf
 * advertises only "SCRAM-SHA-256").  No I/O here.
 */
#ifndef PGPERF_SCRAM_H
#define PGPERF_SCRAM_H

#include "lib/common.h"

#define SCRAM_KEY_LEN 32
#define SCRAM_DEFAULT_ITERATIONS 4096
#define SCRAM_MECHANISM "SCRAM-SHA-256"
#define SCRAM_MECHANISM_PLUS "SCRAM-SHA-256-PLUS"
/* tls-server-end-point data: a hash of the server's certificate */
#define SCRAM_CBIND_MAX 64

/* Parsed "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>". */
struct scram_secret {
	int iterations;
	uint8_t salt[64];
	size_t salt_len;
	uint8_t stored_key[SCRAM_KEY_LEN];
	uint8_t server_key[SCRAM_KEY_LEN];
};

bool scram_parse_secret(const char *text, struct scram_secret *out) WARN_UNUSED;
/* Salt length pgperf uses for secrets it derives, as PostgreSQL does. */
#define SCRAM_SALT_LEN 16
/* A per-process stable salt for `user` (no stored SCRAM secret). */
bool scram_stable_salt(const char *user,
		       uint8_t out[SCRAM_SALT_LEN]) WARN_UNUSED;
/* Derive a secret from a plain password with the given salt. */
bool scram_secret_from_password(const char *password, const uint8_t *salt,
				size_t salt_len, int iterations,
				struct scram_secret *out) WARN_UNUSED;

/*
 * What a SCRAM login proves besides the password: the client's ClientKey
 * (and the secret's ServerKey, salt and iterations).  With them pgperf can
 * log in to a server that holds the same SCRAM secret as that user, with
 * no password at all (auth_query users: only their verifier is known).
 */
struct scram_keys {
	bool set;
	uint8_t client_key[SCRAM_KEY_LEN];
	uint8_t server_key[SCRAM_KEY_LEN];
	uint8_t salt[64];
	size_t salt_len;
	int iterations;
};

/* Server side: pgperf authenticating a client. */
struct scram_server {
	struct scram_secret secret;
	char *client_first_bare; /* owned */
	char *server_first;	 /* owned */
	char *nonce;		 /* owned: client nonce + server nonce */
	int step;
	/* channel binding (tls-server-end-point), over TLS only: the data
	 * the client must bind to (cbind_len 0: no TLS, none offered), and
	 * whether it chose SCRAM-SHA-256-PLUS */
	uint8_t cbind[SCRAM_CBIND_MAX];
	size_t cbind_len;
	bool plus;
	char gs2[32];		  /* the client's gs2 header, as sent */
	struct scram_keys proven; /* set once the client's proof checked */
};

void scram_server_init(struct scram_server *s, const struct scram_secret *sec);
/*
 * Over TLS: offer channel binding with this data (the hash of pgperf's
 * certificate), and say whether the client chose the -PLUS mechanism.
 * A client that chose it must bind; one that says it could have but
 * thought the server could not ("y") is refused, as that means someone
 * in between removed the offer.
 */
void scram_server_bind(struct scram_server *s, const uint8_t *data, size_t len,
		       bool plus);
void scram_server_free(struct scram_server *s);
/*
 * Handle the client-first-message.  `server_nonce` (base64 text) may be NULL
 * to draw a random one.  On success *out is an owned server-first-message.
 */
enum pgp_status scram_server_first(struct scram_server *s, const char *msg,
				   size_t len, const char *server_nonce,
				   char **out) WARN_UNUSED;
/* Handle client-final-message; PGP_ERR_AUTH on a bad proof. */
enum pgp_status scram_server_final(struct scram_server *s, const char *msg,
				   size_t len, char **out) WARN_UNUSED;

/* Client side: pgperf logging in to PostgreSQL. */
struct scram_client {
	char *password;		 /* owned; NULL when logging in with keys */
	struct scram_keys keys;	 /* instead of the password */
	char *client_nonce;	 /* owned */
	char *client_first_bare; /* owned */
	uint8_t server_signature[SCRAM_KEY_LEN];
	int step;
};

bool scram_client_init(struct scram_client *c, const char *password);
/* Log in with keys a client proved (scram_server.proven) instead of a
 * password; the server must offer the same salt and iterations. */
void scram_client_init_keys(struct scram_client *c,
			    const struct scram_keys *keys);
void scram_client_free(struct scram_client *c);
/* client-first-message; `nonce` may be NULL to draw a random one. */
enum pgp_status scram_client_first(struct scram_client *c, const char *user,
				   const char *nonce, char **out) WARN_UNUSED;
enum pgp_status scram_client_final(struct scram_client *c, const char *msg,
				   size_t len, char **out) WARN_UNUSED;
/* Check the server-final-message's signature. */
enum pgp_status scram_client_verify(struct scram_client *c, const char *msg,
				    size_t len) WARN_UNUSED;

/* Base64 (standard alphabet, padded).  Decode returns -1 on bad input. */
size_t scram_b64_encode(const uint8_t *src, size_t len, char *dst);
long scram_b64_decode(const char *src, size_t len, uint8_t *dst, size_t dstcap);

#endif
