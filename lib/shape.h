/*
 * shape.h -- the shape of a statement, computed on the I/O thread.
 *
 * One pass over the text (lib/sqlscan.c's tokenizer), no allocation: a
 * 64-bit hash of the tokens with every literal replaced by a placeholder,
 * keywords and unquoted names folded to lower case, comments and spacing
 * ignored.  Two texts that differ only in literal values, comments, case
 * of keywords or spacing have the same shape; a shape is finer than
 * libpg_query's fingerprint (same shape implies same fingerprint), so the
 * analyzer parses each new shape once and maps it to its fingerprint.
 *
 * Also collected: where the literals are (for simple queries with values
 * inlined) and sqlcommenter tags from comments -- `key='url%20encoded'`
 * pairs separated by commas, and the older `key:value` form of Rails'
 * marginalia.  Both point into the text.
 */
#ifndef PGPERF_SHAPE_H
#define PGPERF_SHAPE_H

#include "lib/common.h"

#define SHAPE_MAX_LITERALS 16
#define SHAPE_MAX_TAGS 8

struct shape_span {
	uint32_t off, len; /* into the text */
};

struct shape_tag {
	struct shape_span key, value; /* value still url-encoded, unquoted */
};

struct shape {
	uint64_t hash;
	uint32_t nliterals; /* all literals; the first few are in lit[] */
	struct shape_span lit[SHAPE_MAX_LITERALS];
	uint32_t ntags;
	struct shape_tag tag[SHAPE_MAX_TAGS];
	bool truncated; /* an unterminated string, identifier or comment */
};

/* The shape of `len` bytes of SQL. */
void shape_compute(const char *sql, size_t len, struct shape *out);
/* The same, a token at a time: the definition shape_compute() is
 * tested against (it takes shortcuts for the common tokens). */
void shape_compute_tokens(const char *sql, size_t len, struct shape *out);
/*
 * URL-decode a tag value (%XX and nothing else) into buf with a NUL;
 * returns its length, truncated to cap - 1.
 */
size_t shape_tag_decode(const char *v, size_t len, char *buf, size_t cap);

#endif
