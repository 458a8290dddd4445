/*
 * fuzz_prepared.c -- the prepared-statement bookkeeping (prepared.h) under
 * arbitrary sequences of client Parses and Closes, server prepares and
 * evictions, queued requests and replies, clients and servers going away:
 * after every step it must agree with a plain model, reference counts
 * included, and free everything at the end (tests/fuzz/prep_ops.h).
 */
#include "prep_ops.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct prep_ops o;

	if (size > 3 * 2000)
		return 0;
	if (!prep_ops_run(&o, data, size)) {
		fprintf(stderr, "fuzz_prepared: %s\n", o.why);
		abort();
	}
	return 0;
}
