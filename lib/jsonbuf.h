/*
 * jsonbuf.h -- a growing string for building JSON on the analyzer thread
 * (malloc'd: readers free what they get with free()).  After an
 * allocation failure every call does nothing and `oom` stays set.
 */
#ifndef PGPERF_JSONBUF_H
#define PGPERF_JSONBUF_H

#include "lib/common.h"

struct jbuf {
	char *p; /* NUL-terminated, malloc'd */
	size_t n, cap;
	bool oom;
};

void jb_put(struct jbuf *b, const char *s, size_t n);
void jb_printf(struct jbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A JSON string, escaped; NULL gives null. */
void jb_str(struct jbuf *b, const char *s);
/* "key": (with the comma before it unless right after '{' or '[') */
void jb_key(struct jbuf *b, const char *k);
/* Open an object in an array: "{" first, ",{" after another. */
void jb_obj_open(struct jbuf *b);
void jb_kstr(struct jbuf *b, const char *k, const char *v);
/* UTC, ISO 8601, of a wall-clock time in microseconds. */
void jb_time(int64_t us, char *buf, size_t cap);

#endif
