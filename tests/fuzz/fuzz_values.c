/*
 * fuzz_values.c -- libFuzzer target for the values N+1 detection reads
 * off the wire (tap/values.c): a simple query's literals and tags, a
 * Bind's parameters, and a result sample (a RowDescription, then
 * DataRows).  The first byte picks the case; for a sample the rest is a
 * RowDescription body and DataRow bodies, each preceded by a 2-byte
 * big-endian length.  Counts must stay within their arrays.
 */
#include "lib/shape.h"
#include "tap/values.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct ana_detail *d)
{
	if (!d)
		return;
	if (d->nparams > ANA_MAX_PARAMS ||
	    strnlen(d->route, ANA_ROUTE_MAX) >= ANA_ROUTE_MAX)
		__builtin_trap();
	if (d->sample &&
	    (d->sample->ncols == 0 || d->sample->ncols > ANA_SAMPLE_COLS ||
	     d->sample->nrows > ANA_SAMPLE_ROWS))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ana_detail *d = values_new();
	struct ana_sample *spare = NULL;
	struct shape sh;

	if (size < 1 || !d) {
		ana_detail_free(d);
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		shape_compute((const char *)data + 1, size - 1, &sh);
		values_query(d, (const char *)data + 1, &sh);
		break;
	case 1:
		values_bind(d, (const char *)data + 1, size - 1, NULL);
		break;
	default: {
		size_t at = 1;
		bool first = true, on = false;

		while (at + 2 <= size) {
			size_t n = (size_t)data[at] << 8 | data[at + 1];

			at += 2;
			if (n > size - at)
				n = size - at;
			if (first) {
				on = values_sample_start(&spare, data + at, n);
				first = false;
				if (!on)
					break;
			} else if (!values_sample_row(spare, data + at, n)) {
				break;
			}
			at += n;
		}
		if (on) {
			d->sample = spare; /* as observe.c hands it over */
			spare = NULL;
		}
		break;
	}
	}
	check(d);
	ana_detail_free(d);
	free(spare);
	return 0;
}
