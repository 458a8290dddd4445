/*
 * histogram.h -- a mergeable log-linear latency histogram.
 *
 * Values (microseconds) below 128 are counted exactly; above, each power
 * of two is split into 64 equal buckets, so a bucket is at most 1/64 of
 * the values in it wide and a percentile read back as the bucket's middle
 * is within 1/128 (under 1%) of the true value.  The 64 buckets of one
 * power of two are allocated the first time a value falls there: a query
 * whose latencies span a few powers of two costs a few hundred bytes, not
 * the 8 KB of the whole range.  Values beyond the range (about 76 hours)
 * count in the last bucket.
 */
#ifndef PGPERF_HISTOGRAM_H
#define PGPERF_HISTOGRAM_H

#include "lib/common.h"

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS) /* buckets per power of two */
#define HIST_EXACT (2u * HIST_SUB)     /* values counted exactly */
#define HIST_GROUPS 32		       /* powers of two above */
#define HIST_MAX_US ((uint64_t)1 << (HIST_SUB_BITS + 1 + HIST_GROUPS))

struct histogram {
	uint64_t count;
	uint64_t sum; /* microseconds */
	uint64_t min, max;
	uint32_t *group[1 + HIST_GROUPS]; /* [0]: the exact 0..127; owned */
};

void hist_init(struct histogram *h);
void hist_free(struct histogram *h);
/* Count one value; false when its bucket group could not be allocated
 * (the value still counts in count/sum/min/max). */
bool hist_add(struct histogram *h, uint64_t us);
/* Add all of `src`'s counts to `dst`; false on allocation failure. */
bool hist_merge(struct histogram *dst, const struct histogram *src) WARN_UNUSED;
/* The value at quantile q (0..1), within 1%; 0 when empty. */
uint64_t hist_quantile(const struct histogram *h, double q);
/* Counts at or below `le_us`, for Prometheus' cumulative buckets. */
uint64_t hist_count_le(const struct histogram *h, uint64_t le_us);

struct jbuf;
struct srd;
/* The state file's form of a histogram (include/pgperf/serial.h). */
void hist_save(const struct histogram *h, struct jbuf *b);
/* Read one into an empty histogram; false (r->bad) if malformed. */
bool hist_load(struct histogram *h, struct srd *r);

#endif
