/*
 * histogram.c -- log-linear histogram (see histogram.h for the layout).
 */
#include "analyzer/histogram.h"

#include "analyzer/serial.h"

#include <string.h>

void hist_init(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
}

void hist_free(struct histogram *h)
{
	for (size_t g = 0; g < ARRAY_SIZE(h->group); g++)
		pgp_free(h->group[g]);
	hist_init(h);
}

static size_t group_len(size_t g)
{
	return g == 0 ? HIST_EXACT : HIST_SUB;
}

/* Group and slot of a value. */
static void locate(uint64_t v, size_t *g, size_t *slot)
{
	int e;

	if (v < HIST_EXACT) {
		*g = 0;
		*slot = (size_t)v;
		return;
	}
	if (v >= HIST_MAX_US)
		v = HIST_MAX_US - 1;
	e = 63 - __builtin_clzll(v); /* >= HIST_SUB_BITS + 1 */
	*g = (size_t)(e - HIST_SUB_BITS);
	*slot = (size_t)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* Smallest value of a bucket, and its width. */
static uint64_t bucket_low(size_t g, size_t slot, uint64_t *width)
{
	int e;

	if (g == 0) {
		*width = 1;
		return slot;
	}
	e = (int)g + HIST_SUB_BITS;
	*width = (uint64_t)1 << (e - HIST_SUB_BITS);
	return ((uint64_t)1 << e) + slot * *width;
}

bool hist_add(struct histogram *h, uint64_t us)
{
	size_t g, slot;

	if (h->count == 0 || us < h->min)
		h->min = us;
	if (us > h->max)
		h->max = us;
	h->count++;
	h->sum += us;
	locate(us, &g, &slot);
	if (!h->group[g] &&
	    !(h->group[g] = pgp_calloc(group_len(g), sizeof(uint32_t))))
		return false;
	h->group[g][slot]++;
	return true;
}

bool hist_merge(struct histogram *dst, const struct histogram *src)
{
	if (!src->count)
		return true;
	for (size_t g = 0; g < ARRAY_SIZE(src->group); g++) {
		if (!src->group[g])
			continue;
		if (!dst->group[g] &&
		    !(dst->group[g] =
			      pgp_calloc(group_len(g), sizeof(uint32_t))))
			return false;
		for (size_t i = 0; i < group_len(g); i++)
			dst->group[g][i] += src->group[g][i];
	}
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
	return true;
}

uint64_t hist_quantile(const struct histogram *h, double q)
{
	uint64_t rank, seen = 0, width, low, mid;
	uint64_t bucketed = 0;

	for (size_t g = 0; g < ARRAY_SIZE(h->group); g++)
		if (h->group[g])
			for (size_t i = 0; i < group_len(g); i++)
				bucketed += h->group[g][i];
	if (!bucketed)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	/* the smallest value with at least q of all values at or below it */
	rank = (uint64_t)(q * (double)bucketed + 0.999999999);
	if (rank == 0)
		rank = 1;
	for (size_t g = 0; g < ARRAY_SIZE(h->group); g++) {
		if (!h->group[g])
			continue;
		for (size_t i = 0; i < group_len(g); i++) {
			seen += h->group[g][i];
			if (seen < rank)
				continue;
			low = bucket_low(g, i, &width);
			mid = low + (width - 1) / 2;
			/* never outside what was seen */
			if (mid < h->min)
				mid = h->min;
			if (mid > h->max)
				mid = h->max;
			return mid;
		}
	}
	return h->max;
}

uint64_t hist_count_le(const struct histogram *h, uint64_t le_us)
{
	uint64_t n = 0, width;

	for (size_t g = 0; g < ARRAY_SIZE(h->group); g++) {
		if (!h->group[g])
			continue;
		for (size_t i = 0; i < group_len(g); i++) {
			if (bucket_low(g, i, &width) + width - 1 > le_us)
				return n;
			n += h->group[g][i];
		}
	}
	return n;
}

void hist_save(const struct histogram *h, struct jbuf *b)
{
	uint8_t ng = 0;

	ser_u64(b, h->count);
	ser_u64(b, h->sum);
	ser_u64(b, h->min);
	ser_u64(b, h->max);
	for (size_t g = 0; g < ARRAY_SIZE(h->group); g++)
		ng += h->group[g] != NULL;
	ser_u8(b, ng);
	for (size_t g = 0; g < ARRAY_SIZE(h->group); g++) {
		if (!h->group[g])
			continue;
		uint8_t nz = 0;

		/* sparse: most buckets of a group are empty */
		for (size_t i = 0; i < group_len(g); i++)
			nz += h->group[g][i] != 0;
		ser_u8(b, (uint8_t)g);
		ser_u8(b, nz);
		for (size_t i = 0; i < group_len(g); i++)
			if (h->group[g][i]) {
				ser_u8(b, (uint8_t)i);
				ser_u32(b, h->group[g][i]);
			}
	}
}

bool hist_load(struct histogram *h, struct srd *r)
{
	uint8_t ng;

	h->count = srd_u64(r);
	h->sum = srd_u64(r);
	h->min = srd_u64(r);
	h->max = srd_u64(r);
	ng = srd_u8(r);
	for (uint8_t k = 0; k < ng && !r->bad; k++) {
		uint8_t g = srd_u8(r);

		if (g >= ARRAY_SIZE(h->group) || h->group[g]) {
			r->bad = true;
			break;
		}
		if (!(h->group[g] =
			      pgp_calloc(group_len(g), sizeof(uint32_t)))) {
			r->bad = true;
			break;
		}
		for (uint8_t n = srd_u8(r), k2 = 0; k2 < n && !r->bad; k2++) {
			uint8_t i = srd_u8(r);

			if (i >= group_len(g)) {
				r->bad = true;
				break;
			}
			h->group[g][i] = srd_u32(r);
		}
	}
	return !r->bad;
}
