/*
 * fuzz_config.c -- libFuzzer target for the ini parser, connection
 * strings, the --upstream URL and the auth file parser.
 */
#include "proxy/config.h"
#include "lib/log.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = pgp_malloc(size + 1);
	struct config *cfg;
	struct userlist ul;
	char err[512];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	log_current_level = LOG_ERROR;
	cfg = config_new_defaults();
	if (cfg) {
		(void)config_parse(cfg, "fuzz.ini", text, err, sizeof(err));
		config_free(cfg);
	}
	cfg = config_new_defaults();
	if (cfg) {
		(void)config_apply_upstream(cfg, text, err, sizeof(err));
		config_free(cfg);
	}
	if (userlist_parse(text, &ul, err, sizeof(err)) == PGP_OK)
		userlist_free(&ul);
	pgp_free(text);
	return 0;
}
