/*
 * fuzz_blob.c -- libFuzzer target for cached replies read back from
 * Redis: cache_blob_check() must accept only a blob whose parts fit, and
 * what it returns must lie inside the input.  The first byte is the
 * generation count expected; the key material expected is "k" and every
 * generation 0, so that the header parser, the bounds and the message walk
 * are all reachable.
 */
#include "cache/cache.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t gens[8] = {0};
	const uint8_t *body;
	size_t blen = 0;

	if (size < 1)
		return 0;
	body = cache_blob_check(data + 1, size - 1, data[0] % 6, "k", 1, gens,
				&blen);
	if (body && (body < data + 1 || body + blen > data + size))
		__builtin_trap();
	return 0;
}
