/*
 * values.c -- the values N+1 detection compares, taken from the wire on
 * the I/O thread (see values.h).
 */
#include "tap/values.h"

#include "lib/shape.h"
#include "proto/wire.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TYPE_INT8 20
#define TYPE_INT2 21
#define TYPE_INT4 23
#define TYPE_TEXT 25
#define TYPE_VARCHAR 1043
#define TYPE_UUID 2950

struct ana_detail *values_new(void)
{
	/* calloc, not pgp_calloc: the analyzer thread frees it */
	return calloc(1, sizeof(struct ana_detail));
}

/*
 * A binary value's hash, as its text form would hash: integers and UUIDs
 * are converted (type 0, a parameter of unstated type, is guessed from
 * its length), anything else hashes as it is.
 */
static uint64_t binary_hash(const uint8_t *v, size_t len, uint32_t type)
{
	char buf[40];
	int n;

	if ((type == 0 || type == TYPE_INT2 || type == TYPE_INT4 ||
	     type == TYPE_INT8) &&
	    (len == 2 || len == 4 || len == 8)) {
		uint64_t x = 0;
		int64_t sx;

		for (size_t i = 0; i < len; i++)
			x = x << 8 | v[i];
		if (len < 8 && (x >> (len * 8 - 1)) & 1)
			x |= ~0ull << (len * 8); /* sign-extend */
		sx = (int64_t)x;
		n = snprintf(buf, sizeof(buf), "%lld", (long long)sx);
		return ana_value_hash(buf, (size_t)n);
	}
	if ((type == 0 || type == TYPE_UUID) && len == 16) {
		static const char hex[] = "0123456789abcdef";

		n = 0;
		for (size_t i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				buf[n++] = '-';
			buf[n++] = hex[v[i] >> 4];
			buf[n++] = hex[v[i] & 15];
		}
		return ana_value_hash(buf, (size_t)n);
	}
	return ana_value_hash(v, len);
}

/* A literal's hash as its value: quotes and escapes removed. */
static uint64_t literal_hash(const char *p, size_t len)
{
	char buf[256];
	size_t i = 0, end = len, n = 0;
	bool esc;

	while (i < len && p[i] != '\'')
		i++;
	if (i == len || p[0] == '$')
		return ana_value_hash(p, len); /* a number, or $$...$$ */
	esc = i > 0 && (p[0] == 'E' || p[0] == 'e');
	i++;
	if (end > i && p[end - 1] == '\'')
		end--;
	for (; i < end && n < sizeof(buf); i++) {
		if (p[i] == '\'' && i + 1 < end && p[i + 1] == '\'')
			i++;
		else if (esc && p[i] == '\\' && i + 1 < end)
			i++;
		buf[n++] = p[i];
	}
	if (i < end)
		return ana_value_hash(p, len); /* too long to unquote */
	return ana_value_hash(buf, n);
}

static bool tag_is(const char *sql, const struct shape_span *k,
		   const char *name)
{
	return k->len == strlen(name) &&
	       strncasecmp(sql + k->off, name, k->len) == 0;
}

/*
 * sqlcommenter tags: the request a statement belongs to.  A traceparent
 * ("00-TRACEID-SPANID-01") names it by its trace id, since every
 * statement of a request may run in a span of its own; else route, or
 * controller and action, name it by route.
 */
void values_tags(struct ana_detail *d, const char *sql, const struct shape *sh)
{
	char ctl[32] = "", act[32] = "";

	for (uint32_t i = 0; i < sh->ntags; i++) {
		const struct shape_tag *t = &sh->tag[i];
		const char *v = sql + t->value.off;

		if (tag_is(sql, &t->key, "traceparent")) {
			char tp[128];
			size_t n = shape_tag_decode(v, t->value.len, tp,
						    sizeof(tp));
			char *a = memchr(tp, '-', n), *b;

			b = a ? memchr(a + 1, '-', n - (size_t)(a + 1 - tp))
			      : NULL;
			d->tag = b ? ana_value_hash(a + 1, (size_t)(b - a - 1))
				   : ana_value_hash(tp, n);
			d->traced = true;
		} else if (tag_is(sql, &t->key, "route")) {
			shape_tag_decode(v, t->value.len, d->route,
					 sizeof(d->route));
		} else if (tag_is(sql, &t->key, "controller")) {
			shape_tag_decode(v, t->value.len, ctl, sizeof(ctl));
		} else if (tag_is(sql, &t->key, "action")) {
			shape_tag_decode(v, t->value.len, act, sizeof(act));
		}
	}
	if (!d->route[0] && ctl[0])
		snprintf(d->route, sizeof(d->route), "%s%s%s", ctl,
			 act[0] ? "#" : "", act);
	if (!d->traced && d->route[0])
		d->tag = ana_value_hash(d->route, strlen(d->route));
}

/* A simple query's values: its literals. */
void values_query(struct ana_detail *d, const char *sql, const struct shape *sh)
{
	uint32_t n;

	n = sh->nliterals < ANA_MAX_PARAMS ? sh->nliterals : ANA_MAX_PARAMS;
	for (uint32_t i = 0; i < n; i++)
		d->param[i] =
			literal_hash(sql + sh->lit[i].off, sh->lit[i].len);
	d->nparams = (uint8_t)n;
	if (sh->ntags)
		values_tags(d, sql, sh);
}

/* A Bind's parameter values (those within the `n` bytes read). */
void values_bind(struct ana_detail *d, const char *body, size_t n,
		 const struct ana_detail *tags)
{
	struct wcursor c;
	const char *name;
	const uint8_t *fmts = NULL, *v;
	uint16_t nfmt, np;

	if (tags) {
		d->tag = tags->tag;
		d->traced = tags->traced;
		memcpy(d->route, tags->route, sizeof(d->route));
	}
	wc_init(&c, body, n);
	if (!wc_cstr(&c, &name, NULL) || !wc_cstr(&c, &name, NULL) ||
	    !wc_u16(&c, &nfmt) || !wc_bytes(&c, (size_t)nfmt * 2, &fmts) ||
	    !wc_u16(&c, &np))
		return;
	for (uint16_t k = 0; k < np && k < ANA_MAX_PARAMS; k++) {
		int32_t len;
		uint16_t f = 0;

		if (!wc_i32(&c, &len))
			break;
		if (nfmt == 1 || (nfmt > k))
			f = (uint16_t)(fmts[(nfmt == 1 ? 0 : k) * 2] << 8 |
				       fmts[(nfmt == 1 ? 0 : k) * 2 + 1]);
		if (len >= 0) {
			if (!wc_bytes(&c, (size_t)len, &v))
				break; /* beyond what was read */
			d->param[k] = f ? binary_hash(v, (size_t)len, 0)
					: ana_value_hash(v, (size_t)len);
		}
		d->nparams = (uint8_t)(k + 1);
	}
}

static bool key_like_type(uint32_t t)
{
	return t == TYPE_INT2 || t == TYPE_INT4 || t == TYPE_INT8 ||
	       t == TYPE_UUID;
}

/*
 * A RowDescription: choose the columns to sample, those of a table
 * (non-zero table OID) with a key-like type (integers, UUIDs), then text
 * ones if there is room.
 */
bool values_sample_start(struct ana_sample **spare, const uint8_t *body,
			 size_t n)
{
	/* the columns are chosen in a header on the stack: a result without
	 * key-like columns (most of them) allocates nothing */
	union {
		struct ana_sample s;
		char head[offsetof(struct ana_sample, val)];
	} h;
	struct ana_sample *s = &h.s;
	struct wcursor c;
	uint16_t nf;

	wc_init(&c, body, n);
	if (!wc_u16(&c, &nf))
		return false;
	memset(h.head, 0, sizeof(h.head));
	for (int pass = 0; pass < 2; pass++) {
		wc_init(&c, body, n);
		if (!wc_u16(&c, &nf))
			break;
		for (uint16_t i = 0; i < nf && s->ncols < ANA_SAMPLE_COLS;
		     i++) {
			const char *name;
			uint32_t rel, type, mod;
			uint16_t att, tlen, fmt;

			if (!wc_cstr(&c, &name, NULL) || !wc_u32(&c, &rel) ||
			    !wc_u16(&c, &att) || !wc_u32(&c, &type) ||
			    !wc_u16(&c, &tlen) || !wc_u32(&c, &mod) ||
			    !wc_u16(&c, &fmt))
				break;
			if (rel == 0 || (int16_t)att <= 0)
				continue;
			if (pass == 0
				    ? !key_like_type(type)
				    : type != TYPE_TEXT && type != TYPE_VARCHAR)
				continue;
			s->rel[s->ncols] = rel;
			s->att[s->ncols] = (int16_t)att;
			s->idx[s->ncols] = (int16_t)i;
			s->fmt[s->ncols] = fmt ? 1 : 0;
			s->type[s->ncols] = type;
			s->ncols++;
		}
	}
	if (!s->ncols)
		return false;
	/* rows are written as they arrive (nrows says how many): only the
	 * header is copied; the buffer is the client's, reused */
	if (!*spare && !(*spare = malloc(sizeof(**spare))))
		return false;
	memcpy(*spare, h.head, sizeof(h.head));
	return true;
}

bool values_sample_row(struct ana_sample *s, const uint8_t *body, size_t n)
{
	struct wcursor c;
	uint16_t nf;
	int k = 0;

	if (!s || s->nrows >= ANA_SAMPLE_ROWS)
		return false;
	memset(s->val[s->nrows], 0, sizeof(s->val[0])); /* columns missing */
	wc_init(&c, body, n);
	if (!wc_u16(&c, &nf))
		return true;
	for (uint16_t i = 0; i < nf && k < s->ncols; i++) {
		int32_t len;
		const uint8_t *v = NULL;

		if (!wc_i32(&c, &len) ||
		    (len > 0 && !wc_bytes(&c, (size_t)len, &v)))
			return true; /* malformed: this row is not counted */
		if (i != s->idx[k])
			continue;
		s->val[s->nrows][k] =
			len < 0	    ? 0
			: s->fmt[k] ? binary_hash(v, (size_t)len, s->type[k])
				    : ana_value_hash(v, (size_t)len);
		k++;
	}
	return ++s->nrows < ANA_SAMPLE_ROWS;
}
