/*
 * scram.c -- SCRAM-SHA-256 message handling for both the server role
 * (verifying clients) and the client role (logging in to PostgreSQL).
 * The cryptography is OpenSSL's; message parsing is done here, defensively,
 * since every byte comes from the network.
 */
#include "proto/scram.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stringprep.h>

#define SCRAM_NONCE_BYTES 18
/* A server asking for more rounds than this is refused (CPU exhaustion). */
#define SCRAM_MAX_ITERATIONS 10000000
/*
 * The most iterations pgperf computes when it logs in to a server: PBKDF2
 * runs on the I/O thread, and a server asking for millions (found by
 * fuzz_scram: i=10000000 took seconds) would stall every client meanwhile.
 * PostgreSQL's default is 4096; 100,000 costs tens of milliseconds.
 */
#define SCRAM_CLIENT_MAX_ITERATIONS 100000

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t scram_b64_encode(const uint8_t *src, size_t len, char *dst)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)src[i + 1] << 8;
		if (i + 2 < len)
			v |= src[i + 2];
		dst[o++] = b64chars[(v >> 18) & 63];
		dst[o++] = b64chars[(v >> 12) & 63];
		dst[o++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		dst[o++] = i + 2 < len ? b64chars[v & 63] : '=';
	}
	dst[o] = '\0';
	return o;
}

static int b64_value(char ch)
{
	const char *p = ch ? strchr(b64chars, ch) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

long scram_b64_decode(const char *src, size_t len, uint8_t *dst, size_t dstcap)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			if (src[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else {
				if (pad)
					return -1;
				v[k] = b64_value(src[i + k]);
				if (v[k] < 0)
					return -1;
			}
		}
		uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
			     ((uint32_t)v[2] << 6) | (uint32_t)v[3];
		uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8),
				    (uint8_t)w};
		for (int k = 0; k < 3 - pad; k++) {
			if (o >= dstcap)
				return -1;
			dst[o++] = bytes[k];
		}
	}
	return (long)o;
}

static void hmac256(const uint8_t *key, size_t keylen, const void *data,
		    size_t len, uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int olen = SCRAM_KEY_LEN;

	HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &olen);
}

static void sha256(const uint8_t *data, size_t len, uint8_t out[SCRAM_KEY_LEN])
{
	SHA256(data, len, out);
}

/*
 * SASLprep (RFC 4013) of a password, as PostgreSQL applies it when it
 * stores a SCRAM secret and libpq when it logs in: an ASCII password as it
 * is; any other normalized (NFKC, non-ASCII spaces to spaces, some
 * characters removed), or left as it is when SASLprep refuses it (not
 * UTF-8, prohibited characters).  malloc'd, or NULL for "as it is".
 */
static char *saslprep(const char *password)
{
	char *out = NULL;
	const unsigned char *p = (const unsigned char *)password;

	while (*p && *p < 0x80)
		p++;
	if (!*p)
		return NULL;
	if (stringprep_profile(password, &out, "SASLprep", 0) !=
	    STRINGPREP_OK) {
		free(out);
		return NULL;
	}
	return out;
}

static bool salted_password(const char *password, const uint8_t *salt,
			    size_t salt_len, int iterations,
			    uint8_t out[SCRAM_KEY_LEN])
{
	char *prepped = saslprep(password);
	const char *pw = prepped ? prepped : password;
	bool ok = PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)salt_len,
				    iterations, EVP_sha256(), SCRAM_KEY_LEN,
				    out) == 1;

	if (prepped) {
		memset(prepped, 0, strlen(prepped));
		free(prepped);
	}
	return ok;
}

/*
 * The salt shown to a user whose secret is not a SCRAM secret (unknown
 * users, plain passwords): an HMAC of the name under a key drawn once per
 * process, so the same name always gets the same salt, as a known user
 * with a stored SCRAM secret does.  Called on the I/O thread only.
 */
bool scram_stable_salt(const char *user, uint8_t out[SCRAM_SALT_LEN])
{
	static uint8_t key[32];
	static bool have_key;
	uint8_t mac[SCRAM_KEY_LEN];

	if (!have_key) {
		if (RAND_bytes(key, sizeof(key)) != 1)
			return false;
		have_key = true;
	}
	hmac256(key, sizeof(key), user, strlen(user), mac);
	memcpy(out, mac, SCRAM_SALT_LEN);
	return true;
}

bool scram_secret_from_password(const char *password, const uint8_t *salt,
				size_t salt_len, int iterations,
				struct scram_secret *out)
{
	uint8_t salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];

	if (salt_len > sizeof(out->salt) || iterations < 1)
		return false;
	if (!salted_password(password, salt, salt_len, iterations, salted))
		return false;
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	out->iterations = iterations;
	hmac256(salted, sizeof(salted), "Client Key", 10, client_key);
	sha256(client_key, sizeof(client_key), out->stored_key);
	hmac256(salted, sizeof(salted), "Server Key", 10, out->server_key);
	memset(salted, 0, sizeof(salted));
	memset(client_key, 0, sizeof(client_key));
	return true;
}

bool scram_parse_secret(const char *text, struct scram_secret *out)
{
	const char *p, *colon, *dollar, *colon2;
	char *end;
	long iter;
	long n;

	memset(out, 0, sizeof(*out));
	if (strncmp(text, "SCRAM-SHA-256$", 14) != 0)
		return false;
	p = text + 14;
	iter = strtol(p, &end, 10);
	if (end == p || *end != ':' || iter < 1 || iter > SCRAM_MAX_ITERATIONS)
		return false;
	out->iterations = (int)iter;
	colon = end;
	dollar = strchr(colon + 1, '$');
	if (!dollar)
		return false;
	n = scram_b64_decode(colon + 1, (size_t)(dollar - colon - 1), out->salt,
			     sizeof(out->salt));
	if (n <= 0)
		return false;
	out->salt_len = (size_t)n;
	colon2 = strchr(dollar + 1, ':');
	if (!colon2)
		return false;
	if (scram_b64_decode(dollar + 1, (size_t)(colon2 - dollar - 1),
			     out->stored_key, SCRAM_KEY_LEN) != SCRAM_KEY_LEN)
		return false;
	if (scram_b64_decode(colon2 + 1, strlen(colon2 + 1), out->server_key,
			     SCRAM_KEY_LEN) != SCRAM_KEY_LEN)
		return false;
	return true;
}

/* Printable ASCII except ',' (RFC 5802's "printable"). */
static bool nonce_valid(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return false;
	return true;
}

static char *random_nonce(void)
{
	uint8_t raw[SCRAM_NONCE_BYTES];
	char *out = pgp_malloc(SCRAM_NONCE_BYTES * 2 + 4);

	if (!out)
		return NULL;
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		pgp_free(out);
		return NULL;
	}
	scram_b64_encode(raw, sizeof(raw), out);
	return out;
}

/* Find attribute `attr=` at the start of `s` (length n): value up to ','. */
static bool get_attr(const char **s, const char *end, char attr,
		     const char **val, size_t *vlen)
{
	const char *p = *s, *comma;

	if (end - p < 2 || p[0] != attr || p[1] != '=')
		return false;
	p += 2;
	comma = memchr(p, ',', (size_t)(end - p));
	*val = p;
	*vlen = comma ? (size_t)(comma - p) : (size_t)(end - p);
	*s = comma ? comma + 1 : end;
	return true;
}

/* ---- server role ---- */

void scram_server_init(struct scram_server *s, const struct scram_secret *sec)
{
	memset(s, 0, sizeof(*s));
	s->secret = *sec;
}

void scram_server_bind(struct scram_server *s, const uint8_t *data, size_t len,
		       bool plus)
{
	if (len > sizeof(s->cbind))
		len = 0;
	memcpy(s->cbind, data, len);
	s->cbind_len = len;
	s->plus = plus && len > 0;
}

void scram_server_free(struct scram_server *s)
{
	pgp_free(s->client_first_bare);
	pgp_free(s->server_first);
	pgp_free(s->nonce);
	memset(s, 0, sizeof(*s));
}

enum pgp_status scram_server_first(struct scram_server *s, const char *msg,
				   size_t len, const char *server_nonce,
				   char **out)
{
	const char *p = msg, *end = msg + len, *val, *bare;
	size_t vlen, cn_len;
	char *snonce = NULL;
	char salt64[100];
	size_t outcap;

	*out = NULL;
	if (s->step != 0 || memchr(msg, '\0', len))
		return PGP_ERR_PROTO;
	/*
	 * gs2 header: the channel-binding flag, then an optional authzid.
	 * "p=tls-server-end-point" only with the -PLUS mechanism; "y" (the
	 * client could bind but saw no offer) is refused when one was made;
	 * "n" not with -PLUS.
	 */
	if (len >= 23 && memcmp(p, "p=tls-server-end-point,", 23) == 0) {
		if (!s->plus)
			return PGP_ERR_PROTO;
		p += 23;
	} else if (len >= 2 && (p[0] == 'n' || p[0] == 'y') && p[1] == ',') {
		if (s->plus)
			return PGP_ERR_PROTO;
		if (p[0] == 'y' && s->cbind_len)
			return PGP_ERR_AUTH; /* the offer was taken away */
		p += 2;
	} else {
		return PGP_ERR_PROTO; /* another binding type, or garbage */
	}
	if (p < end && *p == 'a') {
		const char *comma = memchr(p, ',', (size_t)(end - p));

		if (!comma)
			return PGP_ERR_PROTO;
		p = comma;
	}
	if (p >= end || *p != ',')
		return PGP_ERR_PROTO;
	p++;
	if ((size_t)(p - msg) >= sizeof(s->gs2))
		return PGP_ERR_PROTO;
	memcpy(s->gs2, msg, (size_t)(p - msg));
	s->gs2[p - msg] = '\0';
	bare = p;
	/* client-first-message-bare: n=user,r=nonce[,extensions] */
	if (!get_attr(&p, end, 'n', &val, &vlen))
		return PGP_ERR_PROTO;
	if (!get_attr(&p, end, 'r', &val, &cn_len) || !nonce_valid(val, cn_len))
		return PGP_ERR_PROTO;
	if (!server_nonce) {
		snonce = random_nonce();
		if (!snonce)
			return PGP_ERR_NOMEM;
		server_nonce = snonce;
	}
	s->client_first_bare = pgp_strndup(bare, (size_t)(end - bare));
	s->nonce = pgp_malloc(cn_len + strlen(server_nonce) + 1);
	if (!s->client_first_bare || !s->nonce) {
		pgp_free(snonce);
		return PGP_ERR_NOMEM;
	}
	memcpy(s->nonce, val, cn_len);
	strcpy(s->nonce + cn_len, server_nonce);
	pgp_free(snonce);
	scram_b64_encode(s->secret.salt, s->secret.salt_len, salt64);
	outcap = strlen(s->nonce) + strlen(salt64) + 32;
	s->server_first = pgp_malloc(outcap);
	if (!s->server_first)
		return PGP_ERR_NOMEM;
	snprintf(s->server_first, outcap, "r=%s,s=%s,i=%d", s->nonce, salt64,
		 s->secret.iterations);
	*out = pgp_strdup(s->server_first);
	if (!*out)
		return PGP_ERR_NOMEM;
	s->step = 1;
	return PGP_OK;
}

enum pgp_status scram_server_final(struct scram_server *s, const char *msg,
				   size_t len, char **out)
{
	const char *p = msg, *end = msg + len, *val, *without_proof_end;
	size_t vlen;
	uint8_t cbind[32 + SCRAM_CBIND_MAX], proof[SCRAM_KEY_LEN],
		sig[SCRAM_KEY_LEN];
	uint8_t client_key[SCRAM_KEY_LEN], check[SCRAM_KEY_LEN];
	long n;
	char *auth_msg;
	size_t am_len;
	char sig64[64];

	*out = NULL;
	if (s->step != 1 || memchr(msg, '\0', len))
		return PGP_ERR_PROTO;
	/* c=base64(the gs2 header as sent, then the binding data with
	 * -PLUS): a different one means someone in between */
	if (!get_attr(&p, end, 'c', &val, &vlen))
		return PGP_ERR_PROTO;
	n = scram_b64_decode(val, vlen, cbind, sizeof(cbind));
	{
		size_t glen = strlen(s->gs2);
		size_t want = glen + (s->plus ? s->cbind_len : 0);

		if (n < 0 || (size_t)n != want ||
		    memcmp(cbind, s->gs2, glen) != 0)
			return PGP_ERR_PROTO;
		if (s->plus &&
		    !pgp_secure_equal(cbind + glen, s->cbind, s->cbind_len))
			return PGP_ERR_AUTH;
	}
	if (!get_attr(&p, end, 'r', &val, &vlen) || vlen != strlen(s->nonce) ||
	    memcmp(val, s->nonce, vlen) != 0)
		return PGP_ERR_PROTO;
	/* skip extensions up to p= */
	while (p < end && !(p[0] == 'p' && p + 1 < end && p[1] == '=')) {
		const char *comma = memchr(p, ',', (size_t)(end - p));

		if (!comma)
			return PGP_ERR_PROTO;
		p = comma + 1;
	}
	without_proof_end = p - 1;
	if (!get_attr(&p, end, 'p', &val, &vlen) || p != end)
		return PGP_ERR_PROTO;
	if (scram_b64_decode(val, vlen, proof, sizeof(proof)) != SCRAM_KEY_LEN)
		return PGP_ERR_PROTO;

	am_len = strlen(s->client_first_bare) + strlen(s->server_first) +
		 (size_t)(without_proof_end - msg) + 3;
	auth_msg = pgp_malloc(am_len);
	if (!auth_msg)
		return PGP_ERR_NOMEM;
	snprintf(auth_msg, am_len, "%s,%s,%.*s", s->client_first_bare,
		 s->server_first, (int)(without_proof_end - msg), msg);

	hmac256(s->secret.stored_key, SCRAM_KEY_LEN, auth_msg, strlen(auth_msg),
		sig);
	for (int i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = proof[i] ^ sig[i];
	sha256(client_key, SCRAM_KEY_LEN, check);
	if (!pgp_secure_equal(check, s->secret.stored_key, SCRAM_KEY_LEN)) {
		pgp_free(auth_msg);
		return PGP_ERR_AUTH;
	}
	hmac256(s->secret.server_key, SCRAM_KEY_LEN, auth_msg, strlen(auth_msg),
		sig);
	pgp_free(auth_msg);
	s->proven.set = true;
	memcpy(s->proven.client_key, client_key, SCRAM_KEY_LEN);
	memcpy(s->proven.server_key, s->secret.server_key, SCRAM_KEY_LEN);
	memcpy(s->proven.salt, s->secret.salt, s->secret.salt_len);
	s->proven.salt_len = s->secret.salt_len;
	s->proven.iterations = s->secret.iterations;
	memset(client_key, 0, sizeof(client_key));
	scram_b64_encode(sig, SCRAM_KEY_LEN, sig64);
	*out = pgp_malloc(strlen(sig64) + 3);
	if (!*out)
		return PGP_ERR_NOMEM;
	sprintf(*out, "v=%s", sig64);
	s->step = 2;
	return PGP_OK;
}

/* ---- client role ---- */

bool scram_client_init(struct scram_client *c, const char *password)
{
	memset(c, 0, sizeof(*c));
	c->password = pgp_strdup(password);
	return c->password != NULL;
}

void scram_client_init_keys(struct scram_client *c,
			    const struct scram_keys *keys)
{
	memset(c, 0, sizeof(*c));
	c->keys = *keys;
}

void scram_client_free(struct scram_client *c)
{
	if (c->password)
		memset(c->password, 0, strlen(c->password));
	pgp_free(c->password);
	pgp_free(c->client_nonce);
	pgp_free(c->client_first_bare);
	memset(c, 0, sizeof(*c));
}

enum pgp_status scram_client_first(struct scram_client *c, const char *user,
				   const char *nonce, char **out)
{
	size_t cap;

	*out = NULL;
	c->client_nonce = nonce ? pgp_strdup(nonce) : random_nonce();
	if (!c->client_nonce)
		return PGP_ERR_NOMEM;
	cap = strlen(user) + strlen(c->client_nonce) + 16;
	c->client_first_bare = pgp_malloc(cap);
	*out = pgp_malloc(cap + 3);
	if (!c->client_first_bare || !*out) {
		pgp_free(*out);
		*out = NULL;
		return PGP_ERR_NOMEM;
	}
	snprintf(c->client_first_bare, cap, "n=%s,r=%s", user, c->client_nonce);
	sprintf(*out, "n,,%s", c->client_first_bare);
	c->step = 1;
	return PGP_OK;
}

enum pgp_status scram_client_final(struct scram_client *c, const char *msg,
				   size_t len, char **out)
{
	const char *p = msg, *end = msg + len, *nonce, *salt64, *iter_s;
	size_t nonce_len, salt_len, iter_len;
	uint8_t salt[128], salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	uint8_t stored[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN],
		server_key[SCRAM_KEY_LEN];
	uint8_t proof[SCRAM_KEY_LEN];
	char iterbuf[16], proof64[64], *without_proof, *auth_msg;
	long slen, iterations;
	size_t cap;

	*out = NULL;
	if (c->step != 1 || memchr(msg, '\0', len))
		return PGP_ERR_PROTO;
	if (!get_attr(&p, end, 'r', &nonce, &nonce_len) ||
	    !get_attr(&p, end, 's', &salt64, &salt_len) ||
	    !get_attr(&p, end, 'i', &iter_s, &iter_len))
		return PGP_ERR_PROTO;
	/* the server's nonce must extend ours */
	if (nonce_len <= strlen(c->client_nonce) ||
	    memcmp(nonce, c->client_nonce, strlen(c->client_nonce)) != 0 ||
	    !nonce_valid(nonce, nonce_len))
		return PGP_ERR_PROTO;
	slen = scram_b64_decode(salt64, salt_len, salt, sizeof(salt));
	if (slen <= 0 || iter_len == 0 || iter_len >= sizeof(iterbuf))
		return PGP_ERR_PROTO;
	memcpy(iterbuf, iter_s, iter_len);
	iterbuf[iter_len] = '\0';
	if (strspn(iterbuf, "0123456789") != iter_len)
		return PGP_ERR_PROTO;
	iterations = strtol(iterbuf, NULL, 10);
	if (iterations < 1)
		return PGP_ERR_PROTO;
	if (iterations > SCRAM_CLIENT_MAX_ITERATIONS)
		return PGP_ERR_UNSUPPORTED;

	if (c->keys.set) {
		/* keys a client proved: only for the secret they came from */
		if ((size_t)slen != c->keys.salt_len ||
		    memcmp(salt, c->keys.salt, (size_t)slen) != 0 ||
		    iterations != c->keys.iterations)
			return PGP_ERR_AUTH;
		memcpy(client_key, c->keys.client_key, SCRAM_KEY_LEN);
		memcpy(server_key, c->keys.server_key, SCRAM_KEY_LEN);
	} else {
		if (!salted_password(c->password, salt, (size_t)slen,
				     (int)iterations, salted))
			return PGP_ERR_NOMEM;
		hmac256(salted, SCRAM_KEY_LEN, "Client Key", 10, client_key);
		hmac256(salted, SCRAM_KEY_LEN, "Server Key", 10, server_key);
	}
	sha256(client_key, SCRAM_KEY_LEN, stored);

	cap = nonce_len + 16;
	without_proof = pgp_malloc(cap);
	if (!without_proof)
		return PGP_ERR_NOMEM;
	snprintf(without_proof, cap, "c=biws,r=%.*s", (int)nonce_len, nonce);
	cap = strlen(c->client_first_bare) + len + strlen(without_proof) + 3;
	auth_msg = pgp_malloc(cap);
	if (!auth_msg) {
		pgp_free(without_proof);
		return PGP_ERR_NOMEM;
	}
	snprintf(auth_msg, cap, "%s,%.*s,%s", c->client_first_bare, (int)len,
		 msg, without_proof);
	hmac256(stored, SCRAM_KEY_LEN, auth_msg, strlen(auth_msg), sig);
	for (int i = 0; i < SCRAM_KEY_LEN; i++)
		proof[i] = client_key[i] ^ sig[i];
	hmac256(server_key, SCRAM_KEY_LEN, auth_msg, strlen(auth_msg),
		c->server_signature);
	pgp_free(auth_msg);
	memset(salted, 0, sizeof(salted));
	memset(client_key, 0, sizeof(client_key));

	scram_b64_encode(proof, SCRAM_KEY_LEN, proof64);
	cap = strlen(without_proof) + strlen(proof64) + 4;
	*out = pgp_malloc(cap);
	if (!*out) {
		pgp_free(without_proof);
		return PGP_ERR_NOMEM;
	}
	snprintf(*out, cap, "%s,p=%s", without_proof, proof64);
	pgp_free(without_proof);
	c->step = 2;
	return PGP_OK;
}

enum pgp_status scram_client_verify(struct scram_client *c, const char *msg,
				    size_t len)
{
	const char *p = msg, *end = msg + len, *val;
	size_t vlen;
	uint8_t sig[SCRAM_KEY_LEN];

	if (c->step != 2)
		return PGP_ERR_PROTO;
	if (!get_attr(&p, end, 'v', &val, &vlen))
		return PGP_ERR_AUTH; /* "e=..." error from the server */
	if (scram_b64_decode(val, vlen, sig, sizeof(sig)) != SCRAM_KEY_LEN)
		return PGP_ERR_PROTO;
	if (!pgp_secure_equal(sig, c->server_signature, SCRAM_KEY_LEN))
		return PGP_ERR_AUTH;
	c->step = 3;
	return PGP_OK;
}
