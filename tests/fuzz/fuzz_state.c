/*
 * fuzz_state.c -- libFuzzer target for the state file reader.  The input
 * is the payload; the header in front of it is made right (magic, version,
 * length, and -- unless the first byte is odd -- the hash), so the fuzzer
 * reaches the section parsers instead of stopping at the checksum.
 * Whatever the bytes, loading must not crash or read out of bounds, and a
 * refused image must leave nothing behind.
 */
#include "pgperf/analyzer.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct analyzer *ana;

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *img = malloc(size + 32);
	struct ana_event ev;
	struct ana_query *q;
	struct ana_totals t;
	char err[128];
	size_t n;

	if (!img)
		return 0;
	if (!ana && !(ana = analyzer_start(64)))
		__builtin_trap();
	memcpy(img, "PGPERFST", 8);
	memset(img + 8, 0, 8);
	img[8] = 2; /* the format version */
	put64(img + 16, size);
	put64(img + 24,
	      pgp_hash_bytes(data, size) ^ (size && (data[0] & 1) ? 1 : 0));
	memcpy(img + 32, data, size);
	if (!analyzer_state_load(ana, img, size + 32, err, sizeof(err))) {
		n = analyzer_queries(ana, &q, &t);
		if (n != 0 || t.calls != 0)
			__builtin_trap(); /* refused, yet something stayed */
		ana_queries_free(q, n);
	}
	free(img);
	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_RESET;
	if (analyzer_push(ana, &ev))
		analyzer_sync(ana, 1000);
	return 0;
}
