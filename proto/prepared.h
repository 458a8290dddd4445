/*
 * prepared.h -- protocol-level prepared statements in transaction mode.
 *
 * A client's named statement lives in its own map (name -> statement), so
 * two clients may use one name for different SQL.  Each distinct statement
 * (query text + parameter types) is interned once per daemon and prepared
 * on a server connection under pgperf's name for it, "pgperf_<id>", the
 * first time a client uses it there; each server connection remembers which
 * it holds, least recently used first, up to max_prepared_statements.
 *
 * Because pgperf rewrites, adds and answers messages, it keeps, per server
 * connection, the queue of requests whose replies are still to come
 * (`struct pq`): which reply ends each request, which replies are pgperf's
 * own (swallowed), which the client gets from pgperf itself (ParseComplete
 * for a statement the server already holds, CloseComplete, errors), and
 * what to undo when an error makes PostgreSQL skip to the next Sync.
 */
#ifndef PGPERF_PREPARED_H
#define PGPERF_PREPARED_H

#include "lib/common.h"
#include "lib/list.h"

struct prep_stmt {
	struct prep_stmt *next; /* registry bucket chain */
	uint64_t hash;
	uint64_t id; /* its server-side name is "pgperf_<id>" */
	uint32_t refs;
	uint32_t effect; /* session_state_apply(0, query) */
	uint32_t len;	 /* of body */
	bool verified;	 /* a server accepted it (ParseComplete came) */
	char body[];	 /* Parse body after the name: query, types */
};

struct prep_registry {
	struct prep_stmt **b; /* owned */
	size_t nb, n;
	uint64_t next_id;
};

struct prep_name; /* one entry of a client's map */

struct prep_client_map {
	struct prep_name **b; /* owned */
	size_t nb, n;
};

struct prep_cached; /* one statement a server connection holds */

struct prep_server_cache {
	struct prep_cached **b; /* owned */
	size_t nb, n;
	struct list lru; /* least recently used first */
};

/* What a queued request is and how its reply is handled. */
enum pq_kind {
	PQ_PARSE,	    /* forwarded Parse: ParseComplete ends it */
	PQ_BIND,	    /* BindComplete */
	PQ_CLOSE,	    /* CloseComplete */
	PQ_DESCRIBE,	    /* RowDescription or NoData */
	PQ_EXECUTE,	    /* CommandComplete, EmptyQuery, PortalSuspended */
	PQ_SYNC,	    /* ReadyForQuery */
	PQ_QUERY,	    /* Query, FunctionCall: ReadyForQuery */
	PQ_CLIENT_PARSE,    /* a client's named Parse, renamed */
	PQ_OWN_PARSE,	    /* pgperf's Parse: ParseComplete swallowed */
	PQ_OWN_CLOSE,	    /* pgperf's eviction Close: swallowed */
	PQ_FAKE_PARSE,	    /* pgperf answers ParseComplete itself */
	PQ_FAKE_CLOSE,	    /* pgperf answers CloseComplete itself */
	PQ_FAKE_ERROR,	    /* pgperf answers an ErrorResponse itself */
	PQ_FAKE_DEALLOCATE, /* SQL DEALLOCATE of a protocol-level name */
};

struct pq_entry {
	uint8_t kind;	      /* enum pq_kind */
	char sqlstate[6];     /* PQ_FAKE_ERROR */
	struct prep_stmt *st; /* owned reference, or NULL */
	char *name;	      /* owned: client's name, or the error text */
};

struct pq {
	struct pq_entry *e; /* owned ring */
	uint32_t head, n, cap;
};

/* ---- registry ---- */
/* Intern a Parse body (query\0 int16 n, n x oid); returns a new reference. */
struct prep_stmt *prep_intern(struct prep_registry *r, const char *body,
			      size_t len);
void prep_ref(struct prep_stmt *st);
void prep_unref(struct prep_registry *r, struct prep_stmt *st);
void prep_registry_free(struct prep_registry *r);
/* "pgperf_<id>" into buf (at least 32 bytes). */
void prep_server_name(const struct prep_stmt *st, char *buf, size_t len);

/* ---- a client's names ---- */
struct prep_stmt *prep_client_get(const struct prep_client_map *m,
				  const char *name, size_t len);
/* Adds name -> st (taking a new reference); false on allocation failure. */
bool prep_client_put(struct prep_client_map *m, const char *name,
		     struct prep_stmt *st) WARN_UNUSED;
/* Removes `name` (only if it maps to `st`, unless st is NULL). */
void prep_client_del(struct prep_registry *r, struct prep_client_map *m,
		     const char *name, size_t len, const struct prep_stmt *st);
void prep_client_clear(struct prep_registry *r, struct prep_client_map *m);
size_t prep_client_count(const struct prep_client_map *m);

/* ---- what a server connection holds ---- */
/* Is `st` prepared there?  Marks it most recently used. */
bool prep_server_has(struct prep_server_cache *c, const struct prep_stmt *st);
/* Record `st` as prepared there; false on allocation failure. */
bool prep_server_add(struct prep_server_cache *c,
		     struct prep_stmt *st) WARN_UNUSED;
/* The least recently used statement, to evict; NULL when empty. */
struct prep_stmt *prep_server_lru(const struct prep_server_cache *c);
void prep_server_forget(struct prep_registry *r, struct prep_server_cache *c,
			const struct prep_stmt *st);
void prep_server_clear(struct prep_registry *r, struct prep_server_cache *c);
size_t prep_server_count(const struct prep_server_cache *c);

/* ---- request queue ---- */
/* Append; takes over `name` and the reference in `st`.  false on OOM. */
bool pq_push(struct pq *q, enum pq_kind kind, struct prep_stmt *st,
	     char *name) WARN_UNUSED;
static inline struct pq_entry *pq_head(struct pq *q)
{
	return q->n ? &q->e[q->head] : NULL;
}
/* The entry pushed last; the queue must not be empty. */
static inline struct pq_entry *pq_tail(struct pq *q)
{
	return &q->e[(q->head + q->n - 1) % q->cap];
}
/* Remove the head, releasing its reference and name. */
void pq_pop(struct prep_registry *r, struct pq *q);
void pq_free(struct prep_registry *r, struct pq *q);

#endif
