/*
 * fuzz_state.c -- libFuzzer target for the state file reader.  The input
 * is the payload; the header in front of it is made right (magic, version,
 * length, and -- unless the first byte is odd -- the hash), so the fuzzer
 * reaches the section parsers instead of stopping at the checksum.
 * Whatever the bytes, loading must not crash or read out of bounds, and a
 * refused image must leave nothing behind.  The pools' section parser
 * (proxy/pool_state.c) gets the raw input and whatever a loaded image
 * carried for it.
 */
#include "analyzer/analyzer.h"
#include "proxy/pool_state.h"

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
	struct pool_saved *saved;
	size_t n, nsaved, elen;
	bool settled;

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
	/* the pools' section has its own parser: the raw bytes, and what
	 * a loaded image carried */
	if (pool_state_parse(data, size, &saved, &nsaved))
		pgp_free(saved);
	if (analyzer_state_load(ana, img, size + 32, err, sizeof(err))) {
		void *extra = analyzer_take_extra(ana, &elen, &settled);

		if (extra && pool_state_parse(extra, elen, &saved, &nsaved))
			pgp_free(saved);
		free(extra);
	} else {
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
