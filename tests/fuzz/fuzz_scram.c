/*
 * fuzz_scram.c -- libFuzzer target for SCRAM messages in both roles: the
 * input is split at the first NUL into a first and a final message.
 */
#define _GNU_SOURCE
#include "proto/scram.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int too_many_rounds(const char *text, size_t len)
{
	const char *i = memmem(text, len, "i=", 2);
	long n = 0;

	if (!i)
		return 0;
	for (i += 2; i < text + len && *i >= '0' && *i <= '9' && n < 1000; i++)
		n = n * 10 + (*i - '0');
	return n > 64;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const uint8_t *nul = memchr(data, 0, size);
	size_t first_len = nul ? (size_t)(nul - data) : size;
	const char *second = nul ? text + first_len + 1 : "";
	size_t second_len = nul ? size - first_len - 1 : 0;
	struct scram_secret sec;
	struct scram_server s;
	struct scram_client c;
	char *out = NULL;
	static const uint8_t salt[16] = {1, 2, 3};
	static struct scram_secret fixed;
	static int ready;

	if (!ready) {
		/* derive once: PBKDF2 per input would starve the fuzzer */
		if (!scram_secret_from_password("pw", salt, sizeof(salt), 2,
						&fixed))
			return 0;
		ready = 1;
	}
	scram_server_init(&s, &fixed);
	if (scram_server_first(&s, text, first_len, "servernonce", &out) ==
	    PGP_OK) {
		pgp_free(out);
		out = NULL;
		if (scram_server_final(&s, second, second_len, &out) == PGP_OK)
			pgp_free(out);
	}
	scram_server_free(&s);

	if (scram_client_init(&c, "pw")) {
		out = NULL;
		if (scram_client_first(&c, "", "clientnonce", &out) == PGP_OK) {
			pgp_free(out);
			out = NULL;
			/* keep PBKDF2 cheap: large iteration counts are skipped */
			if (!too_many_rounds(text, first_len) &&
			    scram_client_final(&c, text, first_len, &out) ==
				    PGP_OK) {
				pgp_free(out);
				(void)scram_client_verify(&c, second,
							  second_len);
			}
		}
		scram_client_free(&c);
	}
	/* secrets as they appear in auth files */
	{
		char buf[512];
		size_t n = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;

		memcpy(buf, data, n);
		buf[n] = '\0';
		(void)scram_parse_secret(buf, &sec);
	}
	return 0;
}
