/*
 * serial.h -- the bytes of the state file (analyzer/state.c): fixed-width
 * little-endian integers and length-prefixed strings written into a jbuf,
 * and a reader that checks every length against what is left, so that a
 * damaged file ends in `bad` and never in a read out of bounds.
 */
#ifndef PGPERF_SERIAL_H
#define PGPERF_SERIAL_H

#include "lib/jsonbuf.h"

#include <string.h>

static inline void ser_u64(struct jbuf *b, uint64_t v)
{
	char t[8];

	for (int i = 0; i < 8; i++)
		t[i] = (char)(v >> (8 * i));
	jb_put(b, t, 8);
}

static inline void ser_u32(struct jbuf *b, uint32_t v)
{
	char t[4];

	for (int i = 0; i < 4; i++)
		t[i] = (char)(v >> (8 * i));
	jb_put(b, t, 4);
}

static inline void ser_u8(struct jbuf *b, uint8_t v)
{
	jb_put(b, (const char *)&v, 1);
}

/* A string: its length, then its bytes (no NUL). */
static inline void ser_str(struct jbuf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	ser_u32(b, (uint32_t)n);
	jb_put(b, s ? s : "", n);
}

struct srd {
	const uint8_t *p;
	size_t n, off;
	bool bad;
	uint32_t version; /* the format's, when it has one (state files) */
	uint64_t member;  /* state images merged for a fleet: whose */
};

static inline const uint8_t *srd_take(struct srd *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->n - r->off) {
		r->bad = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static inline uint64_t srd_u64(struct srd *r)
{
	const uint8_t *p = srd_take(r, 8);
	uint64_t v = 0;

	for (int i = 0; p && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline uint32_t srd_u32(struct srd *r)
{
	const uint8_t *p = srd_take(r, 4);
	uint32_t v = 0;

	for (int i = 0; p && i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static inline uint8_t srd_u8(struct srd *r)
{
	const uint8_t *p = srd_take(r, 1);

	return p ? p[0] : 0;
}

/* A string into buf (cap bytes with its NUL); too long: bad. */
static inline void srd_str(struct srd *r, char *buf, size_t cap)
{
	uint32_t n = srd_u32(r);
	const uint8_t *p;

	buf[0] = '\0';
	if (n >= cap) {
		r->bad = true;
		return;
	}
	if ((p = srd_take(r, n))) {
		memcpy(buf, p, n);
		buf[n] = '\0';
	}
}

#endif
