/*
 * shape.c -- statement shapes (see shape.h).
 */
#include "pgperf/shape.h"

#include "pgperf/sqlscan.h"

#include <string.h>

/* FNV-1a, 64-bit, one byte at a time: the inputs are short tokens. */
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static inline uint64_t mix(uint64_t h, unsigned char c)
{
	return (h ^ c) * FNV_PRIME;
}

static inline unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool is_tag_key_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static void add_tag(struct shape *out, const char *base, const char *k,
		    size_t klen, const char *v, size_t vlen)
{
	struct shape_tag *t;

	if (out->ntags >= SHAPE_MAX_TAGS || klen == 0)
		return;
	t = &out->tag[out->ntags++];
	t->key.off = (uint32_t)(k - base);
	t->key.len = (uint32_t)klen;
	t->value.off = (uint32_t)(v - base);
	t->value.len = (uint32_t)vlen;
}

/*
 * Tags in one comment's body: sqlcommenter's key='value',key='value', or
 * else marginalia's key:value,key:value.  Anything that does not parse as
 * a whole list is not tags (an ordinary comment).
 */
static void scan_tags(struct shape *out, const char *base, const char *p,
		      const char *e)
{
	struct shape tmp;
	bool quoted = false;

	tmp.ntags = 0;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	while (p < e) {
		const char *k = p, *v;
		size_t klen, vlen;

		while (p < e && is_tag_key_char((unsigned char)*p))
			p++;
		klen = (size_t)(p - k);
		if (klen == 0 || p >= e || (*p != '=' && *p != ':'))
			return;
		if (*p == '=') {
			/* sqlcommenter: key='value' (quote doubled: \' escaped) */
			if (p + 1 >= e || p[1] != '\'')
				return;
			quoted = true;
			v = p + 2;
			p = v;
			while (p < e && *p != '\'') {
				if (*p == '\\' && p + 1 < e)
					p++;
				p++;
			}
			if (p >= e)
				return;
			vlen = (size_t)(p - v);
			p++;
		} else {
			if (quoted)
				return; /* one style per comment */
			v = ++p;
			while (p < e && *p != ',')
				p++;
			vlen = (size_t)(p - v);
		}
		add_tag(&tmp, base, k, klen, v, vlen);
		if (p < e && *p != ',')
			return;
		if (p < e)
			p++;
	}
	for (uint32_t i = 0; i < tmp.ntags && out->ntags < SHAPE_MAX_TAGS; i++)
		out->tag[out->ntags++] = tmp.tag[i];
}

static void comment_tags(struct shape *out, const char *base,
			 const struct sql_token *t)
{
	const char *p = t->p, *e = t->p + t->len;

	if (t->len >= 4 && p[0] == '/' && p[1] == '*') {
		if (e[-1] == '/' && e[-2] == '*')
			e -= 2;
		scan_tags(out, base, p + 2, e);
	}
}

static uint64_t hash_minus(uint64_t h)
{
	return mix(mix(h, '-'), (unsigned char)(0x80 | SQLTOK_OP));
}

void shape_compute(const char *sql, size_t len, struct shape *out)
{
	struct sql_scanner s;
	struct sql_token t;
	uint64_t h = FNV_OFFSET;
	/* a '-' where an operand is expected is held back: before a number
	 * it is part of the literal, as PostgreSQL's parser folds it into
	 * the constant ("+ -4" and "+ 39" are one shape) */
	bool operand_expected = true, minus = false;

	out->nliterals = 0;
	out->ntags = 0;
	sqlscan_init(&s, sql, len);
	while (sqlscan_next(&s, &t)) {
		if (t.kind == SQLTOK_COMMENT) {
			comment_tags(out, sql, &t);
			continue;
		}
		if (minus) {
			minus = false;
			if (t.kind != SQLTOK_NUMBER)
				h = hash_minus(h);
		} else if (t.kind == SQLTOK_OP && t.len == 1 && t.p[0] == '-' &&
			   operand_expected) {
			minus = true;
			continue;
		}
		switch (t.kind) {
		case SQLTOK_STRING:
		case SQLTOK_BITSTRING:
		case SQLTOK_NUMBER:
			if (out->nliterals < SHAPE_MAX_LITERALS) {
				out->lit[out->nliterals].off =
					(uint32_t)(t.p - sql);
				out->lit[out->nliterals].len = (uint32_t)t.len;
			}
			out->nliterals++;
			h = mix(h, '?');
			break;
		case SQLTOK_WORD:
			for (size_t i = 0; i < t.len; i++)
				h = mix(h, lower((unsigned char)t.p[i]));
			break;
		default: /* quoted names, $n, operators, punctuation: as written */
			for (size_t i = 0; i < t.len; i++)
				h = mix(h, (unsigned char)t.p[i]);
			break;
		}
		h = mix(h, (unsigned char)(0x80 | t.kind)); /* token boundary */
		operand_expected =
			t.kind == SQLTOK_OP || (t.kind == SQLTOK_PUNCT &&
						t.p[0] != ')' && t.p[0] != ']');
	}
	if (minus)
		h = hash_minus(h);
	out->truncated = s.truncated;
	out->hash = h;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t shape_tag_decode(const char *v, size_t len, char *buf, size_t cap)
{
	size_t n = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		int hi, lo;

		if (v[i] == '%' && i + 2 < len &&
		    (hi = hexval((unsigned char)v[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)v[i + 2])) >= 0) {
			buf[n++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			buf[n++] = v[i];
		}
	}
	buf[n] = '\0';
	return n;
}
