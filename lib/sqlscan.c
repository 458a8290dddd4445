/*
 * sqlscan.c -- PostgreSQL's lexical rules (scan.l) in one hand-written pass.
 * Malformed input never fails: an unterminated construct becomes one token
 * running to the end of the text and sets `truncated`.
 */
#include "lib/sqlscan.h"

#include <string.h>

/* The character classes (sqlscan.h). */
const unsigned char sqlscan_cc[256] = {
	[' '] = SQLCC_SPACE,
	['\t'] = SQLCC_SPACE,
	['\n'] = SQLCC_SPACE,
	['\r'] = SQLCC_SPACE,
	['\f'] = SQLCC_SPACE,
	['\v'] = SQLCC_SPACE,
#define CC_LETTER(c) [c] = SQLCC_IDENT_START | SQLCC_IDENT_CONT
	CC_LETTER('a'),
	CC_LETTER('b'),
	CC_LETTER('c'),
	CC_LETTER('d'),
	CC_LETTER('e'),
	CC_LETTER('f'),
	CC_LETTER('g'),
	CC_LETTER('h'),
	CC_LETTER('i'),
	CC_LETTER('j'),
	CC_LETTER('k'),
	CC_LETTER('l'),
	CC_LETTER('m'),
	CC_LETTER('n'),
	CC_LETTER('o'),
	CC_LETTER('p'),
	CC_LETTER('q'),
	CC_LETTER('r'),
	CC_LETTER('s'),
	CC_LETTER('t'),
	CC_LETTER('u'),
	CC_LETTER('v'),
	CC_LETTER('w'),
	CC_LETTER('x'),
	CC_LETTER('y'),
	CC_LETTER('z'),
	CC_LETTER('A'),
	CC_LETTER('B'),
	CC_LETTER('C'),
	CC_LETTER('D'),
	CC_LETTER('E'),
	CC_LETTER('F'),
	CC_LETTER('G'),
	CC_LETTER('H'),
	CC_LETTER('I'),
	CC_LETTER('J'),
	CC_LETTER('K'),
	CC_LETTER('L'),
	CC_LETTER('M'),
	CC_LETTER('N'),
	CC_LETTER('O'),
	CC_LETTER('P'),
	CC_LETTER('Q'),
	CC_LETTER('R'),
	CC_LETTER('S'),
	CC_LETTER('T'),
	CC_LETTER('U'),
	CC_LETTER('V'),
	CC_LETTER('W'),
	CC_LETTER('X'),
	CC_LETTER('Y'),
	CC_LETTER('Z'),
	CC_LETTER('_'),
#undef CC_LETTER
#define CC_DIG(c) [c] = SQLCC_DIGIT | SQLCC_IDENT_CONT
	CC_DIG('0'),
	CC_DIG('1'),
	CC_DIG('2'),
	CC_DIG('3'),
	CC_DIG('4'),
	CC_DIG('5'),
	CC_DIG('6'),
	CC_DIG('7'),
	CC_DIG('8'),
	CC_DIG('9'),
#undef CC_DIG
	['$'] = SQLCC_IDENT_CONT,
	['+'] = SQLCC_OP,
	['-'] = SQLCC_OP,
	['*'] = SQLCC_OP,
	['/'] = SQLCC_OP,
	['<'] = SQLCC_OP,
	['>'] = SQLCC_OP,
	['='] = SQLCC_OP,
	['~'] = SQLCC_OP,
	['!'] = SQLCC_OP,
	['@'] = SQLCC_OP,
	['#'] = SQLCC_OP,
	['%'] = SQLCC_OP,
	['^'] = SQLCC_OP,
	['&'] = SQLCC_OP,
	['|'] = SQLCC_OP,
	['`'] = SQLCC_OP,
	['?'] = SQLCC_OP,
#define CC_HIGH(c) [c] = SQLCC_IDENT_START | SQLCC_IDENT_CONT
#define CC_HIGH8(c)                                                 \
	CC_HIGH(c), CC_HIGH(c + 1), CC_HIGH(c + 2), CC_HIGH(c + 3), \
		CC_HIGH(c + 4), CC_HIGH(c + 5), CC_HIGH(c + 6), CC_HIGH(c + 7)
	CC_HIGH8(0x80),
	CC_HIGH8(0x88),
	CC_HIGH8(0x90),
	CC_HIGH8(0x98),
	CC_HIGH8(0xa0),
	CC_HIGH8(0xa8),
	CC_HIGH8(0xb0),
	CC_HIGH8(0xb8),
	CC_HIGH8(0xc0),
	CC_HIGH8(0xc8),
	CC_HIGH8(0xd0),
	CC_HIGH8(0xd8),
	CC_HIGH8(0xe0),
	CC_HIGH8(0xe8),
	CC_HIGH8(0xf0),
	CC_HIGH8(0xf8),
#undef CC_HIGH8
#undef CC_HIGH
};

void sqlscan_init(struct sql_scanner *s, const char *text, size_t len)
{
	s->p = text;
	s->end = text + len;
	s->truncated = false;
}

/* Skip a quoted run starting after the opening quote `q`.  A doubled quote
 * stands for itself; with `backslash`, a backslash escapes the next byte. */
static const char *skip_quoted(struct sql_scanner *s, const char *p, char q,
			       bool backslash)
{
	while (p < s->end) {
		if (backslash && *p == '\\') {
			p += 2;
			continue;
		}
		if (*p == q) {
			if (p + 1 < s->end && p[1] == q) {
				p += 2;
				continue;
			}
			return p + 1;
		}
		p++;
	}
	s->truncated = true;
	return s->end;
}

/* A dollar-quote opener at p ("$$" or "$tag$"): its length, or 0. */
static size_t dollar_tag_len(const struct sql_scanner *s, const char *p)
{
	const char *q = p + 1;

	if (q < s->end && *q == '$')
		return 2;
	if (q >= s->end || !sqlscan_ident_start((unsigned char)*q))
		return 0;
	while (q < s->end && sqlscan_ident_cont((unsigned char)*q) && *q != '$')
		q++;
	if (q < s->end && *q == '$')
		return (size_t)(q - p) + 1;
	return 0;
}

static const char *scan_number(const struct sql_scanner *s, const char *p)
{
	const char *e = s->end;

	if (*p == '0' && p + 1 < e && strchr("xXoObB", p[1]) && p[1]) {
		p += 2;
		while (p < e && (sqlscan_ident_cont((unsigned char)*p)) &&
		       *p != '$')
			p++; /* hex digits and _ ; junk is PostgreSQL's to reject */
		return p;
	}
	while (p < e && (sqlscan_is_digit((unsigned char)*p) || *p == '_'))
		p++;
	/* a fraction, but not the ".." of a range or a following operator */
	if (p < e && *p == '.' && !(p + 1 < e && p[1] == '.')) {
		p++;
		while (p < e &&
		       (sqlscan_is_digit((unsigned char)*p) || *p == '_'))
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		const char *q = p + 1;

		if (q < e && (*q == '+' || *q == '-'))
			q++;
		if (q < e && sqlscan_is_digit((unsigned char)*q)) {
			while (q < e && sqlscan_is_digit((unsigned char)*q))
				q++;
			p = q;
		}
	}
	return p;
}

bool sqlscan_next(struct sql_scanner *s, struct sql_token *t)
{
	const char *p = s->p, *e = s->end, *start;
	unsigned char c;

	while (p < e && sqlscan_is_space((unsigned char)*p))
		p++;
	if (p >= e) {
		s->p = e;
		return false;
	}
	start = p;
	c = (unsigned char)*p;
	t->p = start;

	/* comments */
	if (c == '-' && p + 1 < e && p[1] == '-') {
		while (p < e && *p != '\n' && *p != '\r')
			p++;
		t->kind = SQLTOK_COMMENT;
		goto done;
	}
	if (c == '/' && p + 1 < e && p[1] == '*') {
		int depth = 1;

		p += 2;
		while (p < e && depth > 0) {
			if (*p == '/' && p + 1 < e && p[1] == '*') {
				depth++;
				p += 2;
			} else if (*p == '*' && p + 1 < e && p[1] == '/') {
				depth--;
				p += 2;
			} else {
				p++;
			}
		}
		if (depth > 0)
			s->truncated = true;
		t->kind = SQLTOK_COMMENT;
		goto done;
	}
	/* prefixed strings and identifiers: E'', B'', X'', N'', U&'', U&"" */
	if ((c == 'e' || c == 'E') && p + 1 < e && p[1] == '\'') {
		p = skip_quoted(s, p + 2, '\'', true);
		t->kind = SQLTOK_STRING;
		goto done;
	}
	if ((c == 'b' || c == 'B' || c == 'x' || c == 'X') && p + 1 < e &&
	    p[1] == '\'') {
		p = skip_quoted(s, p + 2, '\'', false);
		t->kind = SQLTOK_BITSTRING;
		goto done;
	}
	if ((c == 'n' || c == 'N') && p + 1 < e && p[1] == '\'') {
		p = skip_quoted(s, p + 2, '\'', false);
		t->kind = SQLTOK_STRING;
		goto done;
	}
	if ((c == 'u' || c == 'U') && p + 2 < e && p[1] == '&' &&
	    (p[2] == '\'' || p[2] == '"')) {
		char q = p[2];

		p = skip_quoted(s, p + 3, q, false);
		t->kind = q == '\'' ? SQLTOK_STRING : SQLTOK_QIDENT;
		goto done;
	}
	if (sqlscan_ident_start(c)) {
		while (p < e && sqlscan_ident_cont((unsigned char)*p))
			p++;
		t->kind = SQLTOK_WORD;
		goto done;
	}
	if (c == '\'') {
		p = skip_quoted(s, p + 1, '\'', false);
		t->kind = SQLTOK_STRING;
		goto done;
	}
	if (c == '"') {
		p = skip_quoted(s, p + 1, '"', false);
		t->kind = SQLTOK_QIDENT;
		goto done;
	}
	if (c == '$') {
		size_t tag = dollar_tag_len(s, p);

		if (tag) {
			const char *q = p + tag;

			for (;;) {
				q = memchr(q, '$', (size_t)(e - q));
				if (!q || (size_t)(e - q) < tag) {
					s->truncated = true;
					p = e;
					break;
				}
				if (memcmp(q, start, tag) == 0) {
					p = q + tag;
					break;
				}
				q++;
			}
			t->kind = SQLTOK_STRING;
			goto done;
		}
		if (p + 1 < e && sqlscan_is_digit((unsigned char)p[1])) {
			p++;
			while (p < e && sqlscan_is_digit((unsigned char)*p))
				p++;
			t->kind = SQLTOK_PARAM;
			goto done;
		}
		p++;
		t->kind = SQLTOK_OP;
		goto done;
	}
	if (sqlscan_is_digit(c) ||
	    (c == '.' && p + 1 < e && sqlscan_is_digit((unsigned char)p[1]))) {
		p = scan_number(s, p);
		t->kind = SQLTOK_NUMBER;
		goto done;
	}
	if (c == ':' && p + 1 < e && p[1] == ':') {
		p += 2;
		t->kind = SQLTOK_OP;
		goto done;
	}
	if (strchr("()[],;.:", c)) {
		p++;
		t->kind = SQLTOK_PUNCT;
		goto done;
	}
	if (sqlscan_op_char(c)) {
		/* a run of operator characters, stopping where a comment starts */
		while (p < e && sqlscan_op_char((unsigned char)*p)) {
			if (p > start && p + 1 < e &&
			    ((p[0] == '-' && p[1] == '-') ||
			     (p[0] == '/' && p[1] == '*')))
				break;
			p++;
		}
		t->kind = SQLTOK_OP;
		goto done;
	}
	p++; /* anything else: one byte */
	t->kind = SQLTOK_OP;
done:
	t->len = (size_t)(p - start);
	s->p = p;
	return true;
}

bool sqlscan_next_code(struct sql_scanner *s, struct sql_token *t)
{
	while (sqlscan_next(s, t))
		if (t->kind != SQLTOK_COMMENT)
			return true;
	return false;
}

bool sqlscan_is_word(const struct sql_token *t, const char *lower)
{
	/* no strlen(): the classifier asks this of every token, and most
	 * differ at the first character */
	if (t->kind != SQLTOK_WORD)
		return false;
	for (size_t i = 0; i < t->len; i++) {
		char c = t->p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lower[i]) /* also at the end of `lower` */
			return false;
	}
	return lower[t->len] == '\0';
}

bool sqlscan_is(const struct sql_token *t, const char *op)
{
	if (t->kind != SQLTOK_OP && t->kind != SQLTOK_PUNCT)
		return false;
	for (size_t i = 0; i < t->len; i++)
		if (t->p[i] != op[i])
			return false;
	return op[t->len] == '\0';
}

long sqlscan_text(const struct sql_token *t, char *buf, size_t cap)
{
	size_t n = 0;
	char q;

	if (cap == 0)
		return -1;
	switch (t->kind) {
	case SQLTOK_WORD:
	case SQLTOK_NUMBER:
		if (t->len >= cap)
			return -1;
		for (; n < t->len; n++) {
			char c = t->p[n];

			buf[n] = t->kind == SQLTOK_WORD && c >= 'A' && c <= 'Z'
					 ? (char)(c - 'A' + 'a')
					 : c;
		}
		break;
	case SQLTOK_QIDENT:
	case SQLTOK_STRING:
		q = t->kind == SQLTOK_QIDENT ? '"' : '\'';
		if (t->len < 2 || t->p[0] != q || t->p[t->len - 1] != q)
			return -1;
		for (size_t i = 1; i + 1 < t->len; i++) {
			if (n + 1 >= cap)
				return -1;
			buf[n++] = t->p[i];
			if (t->p[i] == q)
				i++; /* a doubled quote stands for one */
		}
		break;
	default:
		return -1;
	}
	buf[n] = '\0';
	return (long)n;
}
