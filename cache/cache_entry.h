/*
 * cache_entry.h -- what a result-cache entry is, apart from Redis: the
 * rules that choose what is cached, the request an idle client sent
 * (read off its input), the key that names an entry, the generation keys,
 * and the check of a blob read back.  Pure functions over the client's
 * state and bytes; cache/cache.c does the talking to Redis.
 */
#ifndef PGPERF_CACHE_ENTRY_H
#define PGPERF_CACHE_ENTRY_H

#include "lib/common.h"

#include <event2/buffer.h>

struct client;
struct prep_stmt;

/* An entry in Redis: "PGPC", version, generation count, 2 spare bytes,
 * material length and reply length (big-endian 32-bit), the generations
 * (64-bit each), the key material, the reply messages. */
#define CACHE_BLOB_MAGIC "PGPC"
#define CACHE_BLOB_VERSION 1

enum rule_kind { CACHE_RULE_FP, CACHE_RULE_TABLE };

struct cache_rule {
	enum rule_kind kind;
	uint64_t key;  /* fingerprint, or ana_table_hash */
	int ttl;       /* seconds; -1 = never cache */
	char text[64]; /* as written, for SHOW CACHE */
	uint64_t hits, misses, hit_bytes;
};

/* cache_rules, parsed; false with the reason in err. */
bool cache_parse_rules(const char *s, struct cache_rule **out, int *n,
		       char *err, size_t errlen);

/*
 * The request at the head of an idle client's input, if the cache can
 * take it whole: a simple Query, or the extended protocol's unnamed
 * Parse, Bind, optional Describe of the portal, Execute of all rows and
 * Sync (what PQexecParams and pgbench -M extended send).
 */
struct cache_request {
	char *sql; /* owned: the statement */
	size_t sql_len;
	char *extra; /* owned: what else the key covers (Parse types, the
			    Bind message: parameters and formats) */
	size_t extra_len;
	size_t total; /* bytes of input it takes */
	bool extended;
	bool parsed; /* it began with a Parse (a hit answers it too) */
	const struct prep_stmt *named; /* or Bind named this statement */
};

#define CACHE_VIEW_MAX 65536 /* longer requests are not cached */

/* A simple Query of `len` (from its header) at the head of `in`. */
bool cache_view_query(struct evbuffer *in, uint32_t len,
		      struct cache_request *v);
/* The extended-protocol request at the head of `in`. */
bool cache_view_extended(struct client *cl, struct evbuffer *in,
			 struct cache_request *v);
void cache_view_free(struct cache_request *v);

/* A statement not parsed yet: ANA_SI_* flags from its first word. */
uint8_t cache_guess_flags(const char *text, size_t len);

/* The database's hash, and a generation key ("pgperf:g:..."): the
 * database's own (table 0) or one table's. */
uint64_t cache_db_hash(const struct client *cl);
void cache_gen_key(char *buf, size_t cap, uint64_t db, uint64_t table);
/* Everything an entry depends on, byte for byte (malloc'd); NULL when
 * the session changed a setting the key does not cover. */
char *cache_key_material(const struct client *cl, const char *sql, size_t len,
			 size_t *out_len);
/* "pgperf:e:" and the SHA-256 of the material, in hex (into 80 bytes). */
void cache_entry_key(char *buf, const char *material, size_t mlen);

#endif
