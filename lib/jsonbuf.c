/*
 * jsonbuf.c -- JSON text built piece by piece (see jsonbuf.h).
 */
#include "lib/jsonbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void jb_put(struct jbuf *b, const char *s, size_t n)
{
	if (b->oom || (n == 0 && b->p))
		return;
	if (n == 0)
		s = ""; /* still allocate, so that b->p is a string */
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		char *p;

		while (b->n + n + 1 > cap)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void jb_printf(struct jbuf *b, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		jb_put(b, buf,
		       (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void jb_str(struct jbuf *b, const char *s)
{
	if (!s) {
		jb_put(b, "null", 4);
		return;
	}
	jb_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[8];

		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			jb_put(b, e, 2);
		} else if (c < 0x20) {
			snprintf(e, sizeof(e), "\\u%04x", c);
			jb_put(b, e, 6);
		} else {
			jb_put(b, s, 1);
		}
	}
	jb_put(b, "\"", 1);
}

void jb_obj_open(struct jbuf *b)
{
	if (b->n && b->p[b->n - 1] != '[')
		jb_put(b, ",", 1);
	jb_put(b, "{", 1);
}

void jb_key(struct jbuf *b, const char *k)
{
	if (b->n && b->p[b->n - 1] != '{' && b->p[b->n - 1] != '[')
		jb_put(b, ",", 1);
	jb_str(b, k);
	jb_put(b, ":", 1);
}

void jb_kstr(struct jbuf *b, const char *k, const char *v)
{
	jb_key(b, k);
	jb_str(b, v);
}

void jb_time(int64_t us, char *buf, size_t cap)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
