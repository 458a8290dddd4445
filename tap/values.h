/*
 * values.h -- the values N+1 detection compares, read from the wire on the
 * I/O thread: a simple query's literals, a Bind's parameters, and a sample
 * of a result (RowDescription, then the first DataRows).  Only 64-bit
 * hashes of the values' text forms are kept (binary integers and UUIDs are
 * converted first, so a value hashes the same in either format), in a
 * `struct ana_detail` that goes to the analyzer with its statement.
 *
 * Every function takes bytes straight from a client or a server and
 * bounds-checks them (tests/fuzz/fuzz_values.c).
 */
#ifndef PGPERF_VALUES_H
#define PGPERF_VALUES_H

#include "analyzer/analyzer.h"

struct shape;

/* An empty detail (malloc'd: either thread frees it, ana_detail_free). */
struct ana_detail *values_new(void);
/* sqlcommenter tags of `sql` (as the shape lexer found them) into `d`. */
void values_tags(struct ana_detail *d, const char *sql, const struct shape *sh);
/* A simple query's literals and tags, into an empty detail. */
void values_query(struct ana_detail *d, const char *sql,
		  const struct shape *sh);
/* A Bind's parameters, those within the `n` bytes read, into an empty
 * detail; tags copied from `tags` (the unnamed statement's) when given. */
void values_bind(struct ana_detail *d, const char *body, size_t n,
		 const struct ana_detail *tags);
/*
 * A RowDescription: choose the columns to sample, into the client's
 * sample buffer *spare (allocated on first use, then reused: a sample
 * leaves it only when it has rows worth sending).  True when there are
 * columns to sample.
 */
bool values_sample_start(struct ana_sample **spare, const uint8_t *body,
			 size_t n);
/* A DataRow of the sampled result; true while more rows are wanted. */
bool values_sample_row(struct ana_sample *s, const uint8_t *body, size_t n);

#endif
