/*
 * shape.c -- statement shapes (see shape.h).
 */
#include "lib/shape.h"

#include "lib/sqlscan.h"

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

/* Shapes are computed token by token; the state between tokens. */
struct shape_state {
	uint64_t h;
	/* a '-' where an operand is expected is held back: before a number
	 * it is part of the literal, as PostgreSQL's parser folds it into
	 * the constant ("+ -4" and "+ 39" are one shape) */
	bool operand_expected, minus;
};

/*
 * Before a token of kind `kind`: settle a held-back '-'.  False when the
 * token is itself a '-' to hold back.
 */
static inline bool before_token(struct shape_state *st,
				const struct sql_token *t)
{
	if (st->minus) {
		st->minus = false;
		if (t->kind != SQLTOK_NUMBER)
			st->h = hash_minus(st->h);
	} else if (t->kind == SQLTOK_OP && t->len == 1 && t->p[0] == '-' &&
		   st->operand_expected) {
		st->minus = true;
		return false;
	}
	return true;
}

static inline void after_token(struct shape_state *st,
			       const struct sql_token *t)
{
	st->h = mix(st->h, (unsigned char)(0x80 | t->kind)); /* boundary */
	st->operand_expected =
		t->kind == SQLTOK_OP ||
		(t->kind == SQLTOK_PUNCT && t->p[0] != ')' && t->p[0] != ']');
}

/* One token of any kind into the shape. */
static void add_token(struct shape_state *st, struct shape *out,
		      const char *sql, const struct sql_token *t)
{
	uint64_t h;

	if (t->kind == SQLTOK_COMMENT) {
		comment_tags(out, sql, t);
		return;
	}
	if (!before_token(st, t))
		return;
	h = st->h;
	switch (t->kind) {
	case SQLTOK_STRING:
	case SQLTOK_BITSTRING:
	case SQLTOK_NUMBER:
		if (out->nliterals < SHAPE_MAX_LITERALS) {
			out->lit[out->nliterals].off = (uint32_t)(t->p - sql);
			out->lit[out->nliterals].len = (uint32_t)t->len;
		}
		out->nliterals++;
		h = mix(h, '?');
		break;
	case SQLTOK_WORD:
		for (size_t i = 0; i < t->len; i++)
			h = mix(h, lower((unsigned char)t->p[i]));
		break;
	default: /* quoted names, $n, operators, punctuation: as written */
		for (size_t i = 0; i < t->len; i++)
			h = mix(h, (unsigned char)t->p[i]);
		break;
	}
	st->h = h;
	after_token(st, t);
}

static void shape_init(struct shape *out, struct shape_state *st)
{
	out->nliterals = 0;
	out->ntags = 0;
	st->h = FNV_OFFSET;
	st->operand_expected = true;
	st->minus = false;
}

static void shape_finish(struct shape *out, struct shape_state *st,
			 const struct sql_scanner *s)
{
	if (st->minus)
		st->h = hash_minus(st->h);
	out->truncated = s->truncated;
	out->hash = st->h;
}

void shape_compute_tokens(const char *sql, size_t len, struct shape *out)
{
	struct sql_scanner s;
	struct sql_token t;
	struct shape_state st;

	shape_init(out, &st);
	sqlscan_init(&s, sql, len);
	while (sqlscan_next(&s, &t))
		add_token(&st, out, sql, &t);
	shape_finish(out, &st, &s);
}

/*
 * The same shape in one pass where it is cheap: blanks are skipped and
 * plain words hashed as they are scanned; every other token is read by
 * sqlscan_next() and added as shape_compute_tokens() adds it.  A word is
 * plain when the byte after its first is not a quote or '&' (E'', B'',
 * X'', N'' and U&'' are strings there).
 */
void shape_compute(const char *sql, size_t len, struct shape *out)
{
	struct sql_scanner s;
	struct sql_token t;
	struct shape_state st;
	const char *p = sql, *e = sql + len;

	shape_init(out, &st);
	sqlscan_init(&s, sql, len);
	while (p < e) {
		unsigned char c = (unsigned char)*p;

		if (sqlscan_is_space(c)) {
			p++;
			continue;
		}
		if (sqlscan_ident_start(c) &&
		    !(p + 1 < e && (p[1] == '\'' || p[1] == '&'))) {
			uint64_t h;

			t.kind = SQLTOK_WORD;
			t.p = p;
			t.len = 1; /* enough for before_token() */
			before_token(&st, &t);
			h = st.h;
			do {
				h = mix(h, lower((unsigned char)*p));
				p++;
			} while (p < e &&
				 sqlscan_ident_cont((unsigned char)*p));
			st.h = h;
			t.len = (size_t)(p - t.p);
			after_token(&st, &t);
			continue;
		}
		s.p = p;
		if (!sqlscan_next(&s, &t))
			break;
		add_token(&st, out, sql, &t);
		p = s.p;
	}
	shape_finish(out, &st, &s);
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
