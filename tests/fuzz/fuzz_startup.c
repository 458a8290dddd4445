/*
 * fuzz_startup.c -- libFuzzer target for the startup packet parser.
 */
#include "proto/wire.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct startup_packet sp;
	const char *why = NULL;

	if (wire_parse_startup(data, size, &sp, &why) == PGP_OK &&
	    sp.code >> 16 == 3) {
		/* every string handed out must lie inside the input */
		if ((const uint8_t *)sp.user < data ||
		    (const uint8_t *)sp.user + strlen(sp.user) >= data + size)
			__builtin_trap();
		for (int i = 0; i < sp.nparams; i++)
			if ((const uint8_t *)sp.params[i].value +
				    strlen(sp.params[i].value) >=
			    data + size)
				__builtin_trap();
	}
	return 0;
}
