/*
 * fuzz_shape.c -- libFuzzer target for the shape lexer and its tag
 * decoder: literal and tag spans lie inside the input, counts stay within
 * their arrays, decoding never writes past its buffer, and the same input
 * always gives the same shape, the one the token-at-a-time definition
 * gives.  The input is split at the first NUL byte
 * (if any) into SQL and a second text handed to libpg_query's wrapper,
 * which must not crash on anything either, nor must the N+1 helpers that
 * find a parameter's filter column and rewrite it as `= ANY($n)`.
 */
#include "lib/shape.h"
#include "analyzer/sqlparse.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_span(const struct shape_span *sp, size_t size)
{
	if ((size_t)sp->off + sp->len > size)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct shape a, b;
	char buf[64];

	shape_compute(text, size, &a);
	shape_compute(text, size, &b);
	if (a.hash != b.hash || a.ntags > SHAPE_MAX_TAGS)
		__builtin_trap();
	/* the one-pass shortcuts give what the token-at-a-time definition
	 * gives, spans included */
	shape_compute_tokens(text, size, &b);
	if (a.hash != b.hash || a.nliterals != b.nliterals ||
	    a.ntags != b.ntags || a.truncated != b.truncated ||
	    memcmp(a.lit, b.lit,
		   sizeof(a.lit[0]) * (a.nliterals < SHAPE_MAX_LITERALS
					       ? a.nliterals
					       : SHAPE_MAX_LITERALS)) != 0 ||
	    memcmp(a.tag, b.tag, sizeof(a.tag[0]) * a.ntags) != 0)
		__builtin_trap();
	for (uint32_t i = 0; i < a.nliterals && i < SHAPE_MAX_LITERALS; i++)
		check_span(&a.lit[i], size);
	for (uint32_t i = 0; i < a.ntags; i++) {
		check_span(&a.tag[i].key, size);
		check_span(&a.tag[i].value, size);
		if (shape_tag_decode(text + a.tag[i].value.off,
				     a.tag[i].value.len, buf,
				     sizeof(buf)) >= sizeof(buf))
			__builtin_trap();
	}
	/* libpg_query on a NUL-terminated copy, as the analyzer calls it */
	if (size < 4096) {
		char *sql = malloc(size + 1);
		struct sqlparse p;

		if (!sql)
			return 0;
		memcpy(sql, data, size);
		sql[size] = '\0';
		if (sqlparse_run(sql, &p)) {
			/* the N+1 helpers, on the normalized text as the
			 * analyzer gives it to them */
			char t[128], c[64];
			int n = 0;

			if (p.parsed &&
			    sqlparse_param_column(p.normalized, 0, &n, t,
						  sizeof(t), c, sizeof(c))) {
				char *batched =
					sqlparse_batched(p.normalized, n);

				if (n <= 0)
					__builtin_trap();
				free(batched);
			}
			sqlparse_free(&p);
		}
		free(sql);
	}
	return 0;
}
