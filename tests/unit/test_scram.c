/*
 * test_scram.c -- SCRAM-SHA-256 against the RFC 7677 example exchange, in
 * both roles, plus malformed and wrong-proof inputs and base64.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "proto/scram.h"

#define RFC_CLIENT_NONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_CLIENT_FIRST "n,,n=user,r=" RFC_CLIENT_NONCE
#define RFC_SERVER_FIRST                       \
	"r=" RFC_CLIENT_NONCE RFC_SERVER_NONCE \
	",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL                              \
	"c=biws,r=" RFC_CLIENT_NONCE RFC_SERVER_NONCE \
	",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void rfc_secret(struct scram_secret *sec)
{
	uint8_t salt[32];
	long n = scram_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt,
				  sizeof(salt));

	assert_int_equal(n, 16);
	assert_true(scram_secret_from_password("pencil", salt, (size_t)n, 4096,
					       sec));
}

static void test_client_role_rfc7677(void **state)
{
	struct scram_client c;
	char *out = NULL;

	(void)state;
	assert_true(scram_client_init(&c, "pencil"));
	assert_int_equal(scram_client_first(&c, "user", RFC_CLIENT_NONCE, &out),
			 PGP_OK);
	assert_string_equal(out, RFC_CLIENT_FIRST);
	pgp_free(out);
	assert_int_equal(scram_client_final(&c, RFC_SERVER_FIRST,
					    strlen(RFC_SERVER_FIRST), &out),
			 PGP_OK);
	assert_string_equal(out, RFC_CLIENT_FINAL);
	pgp_free(out);
	assert_int_equal(scram_client_verify(&c, RFC_SERVER_FINAL,
					     strlen(RFC_SERVER_FINAL)),
			 PGP_OK);
	scram_client_free(&c);
}

static void test_server_role_rfc7677(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	char *out = NULL;

	(void)state;
	rfc_secret(&sec);
	scram_server_init(&s, &sec);
	assert_int_equal(scram_server_first(&s, RFC_CLIENT_FIRST,
					    strlen(RFC_CLIENT_FIRST),
					    RFC_SERVER_NONCE, &out),
			 PGP_OK);
	assert_string_equal(out, RFC_SERVER_FIRST);
	pgp_free(out);
	assert_int_equal(scram_server_final(&s, RFC_CLIENT_FINAL,
					    strlen(RFC_CLIENT_FINAL), &out),
			 PGP_OK);
	assert_string_equal(out, RFC_SERVER_FINAL);
	pgp_free(out);
	scram_server_free(&s);
}

static void test_server_rejects_wrong_proof(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	char *out = NULL;
	/* same exchange, the proof's first character changed */
	static const char bad[] =
		"c=biws,r=" RFC_CLIENT_NONCE RFC_SERVER_NONCE
		",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

	(void)state;
	rfc_secret(&sec);
	scram_server_init(&s, &sec);
	assert_int_equal(scram_server_first(&s, RFC_CLIENT_FIRST,
					    strlen(RFC_CLIENT_FIRST),
					    RFC_SERVER_NONCE, &out),
			 PGP_OK);
	pgp_free(out);
	out = NULL;
	assert_int_not_equal(scram_server_final(&s, bad, strlen(bad), &out),
			     PGP_OK);
	assert_null(out);
	scram_server_free(&s);
}

static void test_server_rejects_malformed(void **state)
{
	static const char *const firsts[] = {
		"",
		"p=tls-server-end-point,,n=user,r=abc", /* binding never offered */
		"n,,r=abc",				/* no n= */
		"n,,n=user",				/* no nonce */
		"n,,n=user,r=",				/* empty nonce */
		"x,,n=user,r=abc",
	};
	struct scram_secret sec;

	(void)state;
	rfc_secret(&sec);
	for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++) {
		struct scram_server s;
		char *out = NULL;

		scram_server_init(&s, &sec);
		assert_int_not_equal(scram_server_first(&s, firsts[i],
							strlen(firsts[i]), NULL,
							&out),
				     PGP_OK);
		assert_null(out);
		scram_server_free(&s);
	}
}

static void test_server_rejects_wrong_nonce(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	char *out = NULL;
	static const char other[] =
		"c=biws,r=" RFC_CLIENT_NONCE "XXXX"
		",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

	(void)state;
	rfc_secret(&sec);
	scram_server_init(&s, &sec);
	assert_int_equal(scram_server_first(&s, RFC_CLIENT_FIRST,
					    strlen(RFC_CLIENT_FIRST),
					    RFC_SERVER_NONCE, &out),
			 PGP_OK);
	pgp_free(out);
	out = NULL;
	assert_int_equal(scram_server_final(&s, other, strlen(other), &out),
			 PGP_ERR_PROTO);
	scram_server_free(&s);
}

static void test_client_rejects_foreign_nonce_and_bad_signature(void **state)
{
	struct scram_client c;
	char *out = NULL;
	static const char foreign[] =
		"r=somebodyelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
	static const char huge_iter[] =
		"r=" RFC_CLIENT_NONCE
		"x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999";
	/* more than pgperf computes on its I/O thread (fuzz_scram found
	 * i=10000000 taking seconds) */
	static const char many_iter[] =
		"r=" RFC_CLIENT_NONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=100001";

	(void)state;
	assert_true(scram_client_init(&c, "pencil"));
	assert_int_equal(scram_client_first(&c, "user", RFC_CLIENT_NONCE, &out),
			 PGP_OK);
	pgp_free(out);
	assert_int_equal(scram_client_final(&c, foreign, strlen(foreign), &out),
			 PGP_ERR_PROTO);
	assert_int_equal(
		scram_client_final(&c, huge_iter, strlen(huge_iter), &out),
		PGP_ERR_UNSUPPORTED);
	assert_int_equal(
		scram_client_final(&c, many_iter, strlen(many_iter), &out),
		PGP_ERR_UNSUPPORTED);
	assert_int_equal(scram_client_final(&c, RFC_SERVER_FIRST,
					    strlen(RFC_SERVER_FIRST), &out),
			 PGP_OK);
	pgp_free(out);
	/* a server that does not know the password cannot sign */
	assert_int_equal(
		scram_client_verify(
			&c,
			"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 46),
		PGP_ERR_AUTH);
	scram_client_free(&c);
}

/* Channel binding (tls-server-end-point): who may bind, to what. */
static void test_server_channel_binding(void **state)
{
	static const uint8_t cb[32] = {1, 2, 3};
	static const char plus_first[] =
		"p=tls-server-end-point,,n=,r=" RFC_CLIENT_NONCE;
	struct scram_secret sec;
	struct scram_server s;
	char *out = NULL, final[256], c64[128], gs2cb[64];
	size_t glen;

	(void)state;
	rfc_secret(&sec);
	/* over TLS, offered but not chosen: "y" means the offer was lost */
	scram_server_init(&s, &sec);
	scram_server_bind(&s, cb, sizeof(cb), false);
	assert_int_equal(scram_server_first(&s, "y,,n=,r=" RFC_CLIENT_NONCE,
					    strlen("y,,n=,r=" RFC_CLIENT_NONCE),
					    RFC_SERVER_NONCE, &out),
			 PGP_ERR_AUTH);
	scram_server_free(&s);
	/* without TLS nothing is offered: "y" is fine, "p" is not */
	scram_server_init(&s, &sec);
	assert_int_equal(scram_server_first(&s, plus_first, strlen(plus_first),
					    RFC_SERVER_NONCE, &out),
			 PGP_ERR_PROTO);
	scram_server_free(&s);
	/* -PLUS chosen: "n" is refused */
	scram_server_init(&s, &sec);
	scram_server_bind(&s, cb, sizeof(cb), true);
	assert_int_equal(scram_server_first(&s, RFC_CLIENT_FIRST,
					    strlen(RFC_CLIENT_FIRST),
					    RFC_SERVER_NONCE, &out),
			 PGP_ERR_PROTO);
	scram_server_free(&s);
	/* -PLUS chosen and bound: other data in c= is refused */
	scram_server_init(&s, &sec);
	scram_server_bind(&s, cb, sizeof(cb), true);
	assert_int_equal(scram_server_first(&s, plus_first, strlen(plus_first),
					    RFC_SERVER_NONCE, &out),
			 PGP_OK);
	pgp_free(out);
	glen = strlen("p=tls-server-end-point,,");
	memcpy(gs2cb, "p=tls-server-end-point,,", glen);
	memset(gs2cb + glen, 9, sizeof(cb)); /* not the certificate's */
	scram_b64_encode((const uint8_t *)gs2cb, glen + sizeof(cb), c64);
	snprintf(final, sizeof(final),
		 "c=%s,r=%s%s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		 c64, RFC_CLIENT_NONCE, RFC_SERVER_NONCE);
	assert_int_equal(scram_server_final(&s, final, strlen(final), &out),
			 PGP_ERR_AUTH);
	/* and c= without the binding data at all */
	snprintf(final, sizeof(final),
		 "c=biws,r=%s%s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		 RFC_CLIENT_NONCE, RFC_SERVER_NONCE);
	assert_int_equal(scram_server_final(&s, final, strlen(final), &out),
			 PGP_ERR_PROTO);
	scram_server_free(&s);
}

static void test_secret_parse(void **state)
{
	struct scram_secret a, b;
	char salt64[64], sk[64], svk[64], text[300];

	(void)state;
	rfc_secret(&a);
	scram_b64_encode(a.salt, a.salt_len, salt64);
	scram_b64_encode(a.stored_key, 32, sk);
	scram_b64_encode(a.server_key, 32, svk);
	snprintf(text, sizeof(text), "SCRAM-SHA-256$4096:%s$%s:%s", salt64, sk,
		 svk);
	assert_true(scram_parse_secret(text, &b));
	assert_int_equal(b.iterations, 4096);
	assert_memory_equal(a.stored_key, b.stored_key, 32);
	assert_memory_equal(a.server_key, b.server_key, 32);
	assert_false(scram_parse_secret("SCRAM-SHA-256$0:abc$def:ghi", &b));
	assert_false(scram_parse_secret("SCRAM-SHA-256$4096:!!!!$x:y", &b));
	assert_false(scram_parse_secret("md5abc", &b));
}

static void test_base64(void **state)
{
	uint8_t out[16];
	char enc[16];

	(void)state;
	assert_int_equal(scram_b64_encode((const uint8_t *)"n,,", 3, enc), 4);
	assert_string_equal(enc, "biws");
	assert_int_equal(scram_b64_encode((const uint8_t *)"ab", 2, enc), 4);
	assert_string_equal(enc, "YWI=");
	assert_int_equal(scram_b64_decode("YWI=", 4, out, sizeof(out)), 2);
	assert_memory_equal(out, "ab", 2);
	assert_int_equal(scram_b64_decode("YW=I", 4, out, sizeof(out)), -1);
	assert_int_equal(scram_b64_decode("YWI", 3, out, sizeof(out)), -1);
	assert_int_equal(scram_b64_decode("YW*=", 4, out, sizeof(out)), -1);
	assert_int_equal(scram_b64_decode("YWJjZA==", 8, out, 3),
			 -1); /* too small */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_role_rfc7677),
		cmocka_unit_test(test_server_role_rfc7677),
		cmocka_unit_test(test_server_rejects_wrong_proof),
		cmocka_unit_test(test_server_rejects_malformed),
		cmocka_unit_test(test_server_rejects_wrong_nonce),
		cmocka_unit_test(
			test_client_rejects_foreign_nonce_and_bad_signature),
		cmocka_unit_test(test_server_channel_binding),
		cmocka_unit_test(test_secret_parse),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
