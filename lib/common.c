/*
 * common.c -- status names, allocation wrappers with failure injection, and
 * the clock.
 */
#include "lib/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const status_names[] = {
#define PGP_STATUS_NAME(name, text) text,
	PGP_STATUS_LIST(PGP_STATUS_NAME)
#undef PGP_STATUS_NAME
};

const char *pgp_status_str(enum pgp_status st)
{
	if ((size_t)st >= ARRAY_SIZE(status_names))
		return "unknown status";
	return status_names[st];
}

/* Failure injection countdown; only tests set it, so no locking is needed. */
static long alloc_fail_countdown = -1;

void pgp_alloc_fail_after(long n)
{
	alloc_fail_countdown = n;
}

static bool alloc_should_fail(void)
{
	if (alloc_fail_countdown < 0)
		return false;
	if (alloc_fail_countdown == 0)
		return true;
	alloc_fail_countdown--;
	return false;
}

void *pgp_malloc(size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *pgp_calloc(size_t n, size_t size)
{
	if (alloc_should_fail())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *pgp_realloc(void *p, size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *pgp_strndup(const char *s, size_t n)
{
	char *d = pgp_malloc(n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *pgp_strdup(const char *s)
{
	return s ? pgp_strndup(s, strlen(s)) : NULL;
}

void pgp_free(void *p)
{
	free(p);
}

char *pgp_read_file(const char *path, size_t max, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text;
	long size;

	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
			 strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    (size_t)size > max || fseek(f, 0, SEEK_SET) != 0 ||
	    !(text = pgp_malloc((size_t)size + 1))) {
		fclose(f);
		snprintf(err, errlen,
			 "%s: cannot read (too large or not a file)", path);
		return NULL;
	}
	size = (long)fread(text, 1, (size_t)size, f);
	text[size] = '\0';
	fclose(f);
	return text;
}

bool pgp_secure_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= x[i] ^ y[i];
	return acc == 0;
}

uint64_t pgp_hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

bool pgp_conninfo_add(char *buf, size_t cap, const char *key, const char *value)
{
	size_t n = strlen(buf);
	int w = snprintf(buf + n, cap - n, "%s%s='", n ? " " : "", key);

	if (w < 0 || (size_t)w >= cap - n) {
		buf[n] = '\0';
		return false;
	}
	n += (size_t)w;
	for (; *value; value++) {
		if (n + 4 >= cap)
			return false;
		if (*value == '\'' || *value == '\\')
			buf[n++] = '\\';
		buf[n++] = *value;
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return true;
}
