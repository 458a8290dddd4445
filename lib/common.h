/*
 * common.h -- small definitions every pgperf module shares: the status
 * enum, attribute macros and the allocation wrappers.
 */
#ifndef PGPERF_COMMON_H
#define PGPERF_COMMON_H

#include "lib/clock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PGPERF_VERSION "0.1.0"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define WARN_UNUSED __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define UNUSED __attribute__((unused))

/*
 * One status enum for fallible functions.  The name table is generated from
 * the same list so that the two cannot drift apart.
 */
#define PGP_STATUS_LIST(X)                       \
	X(PGP_OK, "ok")                          \
	X(PGP_NEED_MORE, "need more bytes")      \
	X(PGP_ERR_PROTO, "protocol violation")   \
	X(PGP_ERR_TOO_BIG, "message too large")  \
	X(PGP_ERR_NOMEM, "out of memory")        \
	X(PGP_ERR_AUTH, "authentication failed") \
	X(PGP_ERR_CONFIG, "configuration error") \
	X(PGP_ERR_IO, "i/o error")               \
	X(PGP_ERR_UNSUPPORTED, "unsupported")

enum pgp_status {
#define PGP_STATUS_ENUM(name, text) name,
	PGP_STATUS_LIST(PGP_STATUS_ENUM)
#undef PGP_STATUS_ENUM
};

const char *pgp_status_str(enum pgp_status st);

/*
 * Allocation wrappers.  Every allocation in pgperf goes through these so that
 * tests can make the N-th allocation fail (pgp_alloc_fail_after).  They
 * return NULL on failure like malloc; callers must check.
 */
void *pgp_malloc(size_t n);
void *pgp_calloc(size_t n, size_t size);
void *pgp_realloc(void *p, size_t n);
char *pgp_strdup(const char *s);
char *pgp_strndup(const char *s, size_t n);
void pgp_free(void *p);
/* Make the allocation after the next `n` ones fail; -1 disables. */
void pgp_alloc_fail_after(long n);

/*
 * Read a whole text file (at most `max` bytes) into an owned, NUL-terminated
 * buffer.  On failure returns NULL with "PATH: reason" in err.
 */
char *pgp_read_file(const char *path, size_t max, char *err, size_t errlen);

/* FNV-1a over n bytes: hash tables and digests (not for secrets). */
uint64_t pgp_hash_bytes(const void *p, size_t n);
/* Spread a 64-bit key over all bits (murmur3's finalizer), for tables
 * indexed by the low bits of ids, fingerprints and shapes. */
/*
 * strnlen() through libc's memchr().  libpg_query links in PostgreSQL's
 * own strnlen(), a byte-at-a-time loop, and being static it wins over
 * libc's for the whole program: the relay called it on every statement.
 */
/*
 * Append `key='value'` to a libpq conninfo in `buf` (room for `cap`),
 * quoted as libpq reads it.  False when it does not fit: the caller must
 * then not use the conninfo, since libpq would fill the keys that were
 * cut off (user, password, sslmode) from its environment.
 */
bool pgp_conninfo_add(char *buf, size_t cap, const char *key,
		      const char *value);

static inline size_t pgp_strnlen(const char *s, size_t max)
{
	const char *z = memchr(s, '\0', max);

	return z ? (size_t)(z - s) : max;
}

static inline uint64_t pgp_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* Constant-time comparison for secrets. */
bool pgp_secure_equal(const void *a, const void *b, size_t n);

#endif
