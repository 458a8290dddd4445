/*
 * sqlscan.h -- a one-pass, allocation-free tokenizer for PostgreSQL's
 * lexical grammar: comments (including nested block comments), quoted
 * identifiers, string constants in every form (standard, E'', U&'', B'',
 * X'', N'', dollar-quoted), numbers, $n parameters, operators.  It is the
 * base for scanners that run on the I/O thread, where libpg_query is too
 * slow to call for every statement.  Tokens point into the input.
 */
#ifndef PGPERF_SQLSCAN_H
#define PGPERF_SQLSCAN_H

#include "lib/common.h"

enum sql_token_kind {
	SQLTOK_WORD,	  /* unquoted identifier or keyword */
	SQLTOK_QIDENT,	  /* "quoted identifier" (also U&"...") */
	SQLTOK_STRING,	  /* any string constant, including $$...$$ */
	SQLTOK_BITSTRING, /* B'...' or X'...' */
	SQLTOK_NUMBER,	  /* integer, decimal, float, 0x/0o/0b, with _ */
	SQLTOK_PARAM,	  /* $1 */
	SQLTOK_OP,	  /* operator, including :: */
	SQLTOK_PUNCT,	  /* one of ( ) [ ] , ; . : */
	SQLTOK_COMMENT,	  /* -- or block comment, delimiters included */
};

/* Character classes, one table lookup each: the relay runs the scanner on
 * every statement, and the lookups are the inner loops. */
enum sqlscan_class {
	SQLCC_SPACE = 1,       /* whitespace */
	SQLCC_IDENT_START = 2, /* letters, _, bytes >= 0x80 */
	SQLCC_IDENT_CONT = 4,  /* ... and digits and $ */
	SQLCC_DIGIT = 8,
	SQLCC_OP = 16 /* characters PostgreSQL allows in operators */
};
extern const unsigned char sqlscan_cc[256];

static inline bool sqlscan_is_space(unsigned char c)
{
	return sqlscan_cc[c] & SQLCC_SPACE;
}

/* Letters, _ and bytes >= 0x80. */
static inline bool sqlscan_ident_start(unsigned char c)
{
	return sqlscan_cc[c] & SQLCC_IDENT_START;
}

/* ... and digits and $. */
static inline bool sqlscan_ident_cont(unsigned char c)
{
	return sqlscan_cc[c] & SQLCC_IDENT_CONT;
}

static inline bool sqlscan_is_digit(unsigned char c)
{
	return sqlscan_cc[c] & SQLCC_DIGIT;
}

/* Characters PostgreSQL allows in operators. */
static inline bool sqlscan_op_char(unsigned char c)
{
	return sqlscan_cc[c] & SQLCC_OP;
}

struct sql_token {
	enum sql_token_kind kind;
	const char *p; /* borrowed: points into the scanned text */
	size_t len;
};

struct sql_scanner {
	const char *p;	 /* borrowed: next byte */
	const char *end; /* borrowed */
	bool truncated;	 /* a string, identifier or comment ran to the end */
};

void sqlscan_init(struct sql_scanner *s, const char *text, size_t len);
/* The next token, comments included; false at the end of the text. */
bool sqlscan_next(struct sql_scanner *s, struct sql_token *t);
/* The next token that is not a comment. */
bool sqlscan_next_code(struct sql_scanner *s, struct sql_token *t);
/* Is `t` the unquoted word `lower` (ASCII case-insensitive)? */
bool sqlscan_is_word(const struct sql_token *t, const char *lower);
/* Is `t` the punctuation or operator `op` exactly? */
bool sqlscan_is(const struct sql_token *t, const char *op);
/*
 * The text a token stands for, as PostgreSQL reads it, into buf with a
 * NUL: an unquoted word folded to lower case, a "quoted identifier" or a
 * plain 'string' without its quotes (a doubled quote standing for one), a
 * number as written.  Returns its length, or -1 for any other token (E''
 * and U&"" forms included) or when it does not fit in `cap`.
 */
long sqlscan_text(const struct sql_token *t, char *buf, size_t cap);

#endif
