/*
 * test_auth.c -- md5 password hashing and the auth file parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "proto/auth.h"

static void test_md5_hash(void **state)
{
	char hash[36], resp[36];
	const uint8_t salt[4] = {1, 2, 3, 4};

	(void)state;
	/* values computed independently with Python's hashlib */
	md5_password_hash("app", "app-secret", hash);
	assert_string_equal(hash, "md55afb2fb5ee1832419a8c0fa45bc3255b");
	md5_salted_response(hash, salt, resp);
	assert_string_equal(resp, "md5f418b8ba8c8d0094666a09dd3ed4a600");
}

static void test_userlist_parse(void **state)
{
	struct userlist ul;
	char err[200];
	const char *text = "; a comment\n"
			   "\"alice\" \"plain pw\"\n"
			   "  \"bob\" \"md55afb2fb5ee1832419a8c0fa45bc3255b\"\n"
			   "\"quo\"\"te\" \"pa\"\"ss\"\n"
			   "\"carol\" \"SCRAM-SHA-256$4096:c2FsdA==$a:b\"\n"
			   "not a user line\n";

	(void)state;
	assert_int_equal(userlist_parse(text, &ul, err, sizeof(err)), PGP_OK);
	assert_int_equal(ul.n, 4);
	assert_string_equal(userlist_find(&ul, "alice")->secret, "plain pw");
	assert_int_equal(userlist_find(&ul, "alice")->kind, SECRET_PLAIN);
	assert_int_equal(userlist_find(&ul, "bob")->kind, SECRET_MD5);
	assert_string_equal(userlist_find(&ul, "quo\"te")->secret, "pa\"ss");
	assert_int_equal(userlist_find(&ul, "carol")->kind, SECRET_SCRAM);
	assert_null(userlist_find(&ul, "dave"));
	userlist_free(&ul);
}

static void test_userlist_errors(void **state)
{
	struct userlist ul;
	char err[200];

	(void)state;
	assert_int_equal(userlist_parse("\"alice\" \"unterminated\n", &ul, err,
					sizeof(err)),
			 PGP_ERR_CONFIG);
	assert_non_null(strstr(err, "line 1"));
	assert_int_equal(userlist_parse("\"ok\" \"x\"\n\"alice\"\n", &ul, err,
					sizeof(err)),
			 PGP_ERR_CONFIG);
	assert_non_null(strstr(err, "line 2"));
}

static void test_secret_classify(void **state)
{
	(void)state;
	assert_int_equal(auth_secret_classify("md5"), SECRET_PLAIN);
	assert_int_equal(
		auth_secret_classify("md5ABCDEF0123456789abcdef012345678"),
		SECRET_PLAIN);
	assert_int_equal(
		auth_secret_classify("md50123456789abcdef0123456789abcdef"),
		SECRET_MD5);
	assert_int_equal(auth_secret_classify("SCRAM-SHA-256$1:x$y:z"),
			 SECRET_SCRAM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_hash),
		cmocka_unit_test(test_userlist_parse),
		cmocka_unit_test(test_userlist_errors),
		cmocka_unit_test(test_secret_classify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
