/*
 * prepared.c -- the bookkeeping behind transaction-mode prepared
 * statements: the daemon's registry of distinct statements, each client's
 * names, each server connection's LRU of what it holds, and the queue of
 * requests awaiting replies.  The message handling that uses them is in
 * client.c (requests) and server.c (replies).
 *
 * All three maps are chained hash tables that double when they fill; the
 * registry is keyed by the statement's bytes, a client's map by name, a
 * server's cache by the statement pointer.
 */
#include "proto/prepared.h"

#include "proto/session_state.h"

#include <stdio.h>
#include <string.h>

static uint64_t hash_ptr(const void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

/*
 * Grow a bucket array of chained nodes whose `next` pointer is the first
 * member and whose hash is found by `hash_of`.  Failure leaves it as is.
 */
#define GROW_TABLE(tbl, type, hash_of)                                         \
	do {                                                                   \
		size_t nb_ = (tbl)->nb ? (tbl)->nb * 2 : 16;                   \
		type **nbk_ = pgp_calloc(nb_, sizeof(*nbk_));                  \
		if (!nbk_)                                                     \
			break;                                                 \
		for (size_t i_ = 0; i_ < (tbl)->nb; i_++) {                    \
			type *e_ = (tbl)->b[i_], *nx_;                         \
			for (; e_; e_ = nx_) {                                 \
				size_t k_ = (size_t)(hash_of(e_) & (nb_ - 1)); \
				nx_ = e_->next;                                \
				e_->next = nbk_[k_];                           \
				nbk_[k_] = e_;                                 \
			}                                                      \
		}                                                              \
		pgp_free((tbl)->b);                                            \
		(tbl)->b = nbk_;                                               \
		(tbl)->nb = nb_;                                               \
	} while (0)

/* ---- registry ---- */

#define STMT_HASH(e) ((e)->hash)

struct prep_stmt *prep_intern(struct prep_registry *r, const char *body,
			      size_t len)
{
	uint64_t h = pgp_hash_bytes(body, len);
	struct prep_stmt *st;
	size_t k;

	if (r->n >= r->nb)
		GROW_TABLE(r, struct prep_stmt, STMT_HASH);
	if (!r->nb)
		return NULL;
	k = (size_t)(h & (r->nb - 1));
	for (st = r->b[k]; st; st = st->next)
		if (st->hash == h && st->len == len &&
		    memcmp(st->body, body, len) == 0) {
			st->refs++;
			return st;
		}
	if (len > UINT32_MAX || !(st = pgp_malloc(sizeof(*st) + len)))
		return NULL;
	memcpy(st->body, body, len);
	st->len = (uint32_t)len;
	st->hash = h;
	st->id = ++r->next_id;
	st->refs = 1;
	st->verified = false;
	st->effect = session_state_apply(0, body, pgp_strnlen(body, len));
	st->next = r->b[k];
	r->b[k] = st;
	r->n++;
	return st;
}

void prep_ref(struct prep_stmt *st)
{
	st->refs++;
}

void prep_unref(struct prep_registry *r, struct prep_stmt *st)
{
	struct prep_stmt **pp;

	if (!st || --st->refs > 0)
		return;
	for (pp = &r->b[st->hash & (r->nb - 1)]; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			r->n--;
			break;
		}
	pgp_free(st);
}

void prep_registry_free(struct prep_registry *r)
{
	for (size_t i = 0; i < r->nb; i++) {
		struct prep_stmt *st = r->b[i], *nx;

		for (; st; st = nx) {
			nx = st->next;
			pgp_free(st);
		}
	}
	pgp_free(r->b);
	memset(r, 0, sizeof(*r));
}

void prep_server_name(const struct prep_stmt *st, char *buf, size_t len)
{
	snprintf(buf, len, "pgperf_%llu", (unsigned long long)st->id);
}

/* ---- a client's names ---- */

struct prep_name {
	struct prep_name *next;
	uint64_t hash;
	struct prep_stmt *st; /* owned reference */
	size_t len;
	char name[];
};

struct prep_stmt *prep_client_get(const struct prep_client_map *m,
				  const char *name, size_t len)
{
	uint64_t h;

	if (!m->nb)
		return NULL;
	h = pgp_hash_bytes(name, len);
	for (struct prep_name *e = m->b[h & (m->nb - 1)]; e; e = e->next)
		if (e->hash == h && e->len == len &&
		    memcmp(e->name, name, len) == 0)
			return e->st;
	return NULL;
}

bool prep_client_put(struct prep_client_map *m, const char *name,
		     struct prep_stmt *st)
{
	size_t len = strlen(name);
	struct prep_name *e;

	if (m->n >= m->nb)
		GROW_TABLE(m, struct prep_name, STMT_HASH);
	if (!m->nb || !(e = pgp_malloc(sizeof(*e) + len + 1)))
		return false;
	memcpy(e->name, name, len + 1);
	e->len = len;
	e->hash = pgp_hash_bytes(name, len);
	e->st = st;
	prep_ref(st);
	e->next = m->b[e->hash & (m->nb - 1)];
	m->b[e->hash & (m->nb - 1)] = e;
	m->n++;
	return true;
}

void prep_client_del(struct prep_registry *r, struct prep_client_map *m,
		     const char *name, size_t len, const struct prep_stmt *st)
{
	uint64_t h;
	struct prep_name **pp;

	if (!m->nb)
		return;
	h = pgp_hash_bytes(name, len);
	for (pp = &m->b[h & (m->nb - 1)]; *pp; pp = &(*pp)->next) {
		struct prep_name *e = *pp;

		if (e->hash != h || e->len != len ||
		    memcmp(e->name, name, len) != 0)
			continue;
		if (st && e->st != st)
			return;
		*pp = e->next;
		m->n--;
		prep_unref(r, e->st);
		pgp_free(e);
		return;
	}
}

void prep_client_clear(struct prep_registry *r, struct prep_client_map *m)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct prep_name *e = m->b[i], *nx;

		for (; e; e = nx) {
			nx = e->next;
			prep_unref(r, e->st);
			pgp_free(e);
		}
	}
	pgp_free(m->b);
	memset(m, 0, sizeof(*m));
}

size_t prep_client_count(const struct prep_client_map *m)
{
	return m->n;
}

/* ---- what a server connection holds ---- */

struct prep_cached {
	struct prep_cached *next;
	struct list lru;
	struct prep_stmt *st; /* owned reference */
};

#define CACHED_HASH(e) hash_ptr((e)->st)

static struct prep_cached **cache_slot(const struct prep_server_cache *c,
				       const struct prep_stmt *st)
{
	struct prep_cached **pp;

	if (!c->nb)
		return NULL;
	for (pp = &c->b[hash_ptr(st) & (c->nb - 1)]; *pp; pp = &(*pp)->next)
		if ((*pp)->st == st)
			return pp;
	return NULL;
}

bool prep_server_has(struct prep_server_cache *c, const struct prep_stmt *st)
{
	struct prep_cached **pp = cache_slot(c, st);

	if (!pp)
		return false;
	list_del(&(*pp)->lru);
	list_append(&c->lru, &(*pp)->lru);
	return true;
}

bool prep_server_add(struct prep_server_cache *c, struct prep_stmt *st)
{
	struct prep_cached *e;
	size_t k;

	if (!c->nb)
		list_init(&c->lru);
	if (c->n >= c->nb)
		GROW_TABLE(c, struct prep_cached, CACHED_HASH);
	if (!c->nb || !(e = pgp_malloc(sizeof(*e))))
		return false;
	e->st = st;
	prep_ref(st);
	k = (size_t)(hash_ptr(st) & (c->nb - 1));
	e->next = c->b[k];
	c->b[k] = e;
	list_append(&c->lru, &e->lru);
	c->n++;
	return true;
}

struct prep_stmt *prep_server_lru(const struct prep_server_cache *c)
{
	if (!c->n)
		return NULL;
	return list_entry(c->lru.next, struct prep_cached, lru)->st;
}

void prep_server_forget(struct prep_registry *r, struct prep_server_cache *c,
			const struct prep_stmt *st)
{
	struct prep_cached **pp = cache_slot(c, st), *e;

	if (!pp)
		return;
	e = *pp;
	*pp = e->next;
	list_del(&e->lru);
	c->n--;
	prep_unref(r, e->st);
	pgp_free(e);
}

void prep_server_clear(struct prep_registry *r, struct prep_server_cache *c)
{
	for (size_t i = 0; i < c->nb; i++) {
		struct prep_cached *e = c->b[i], *nx;

		for (; e; e = nx) {
			nx = e->next;
			prep_unref(r, e->st);
			pgp_free(e);
		}
	}
	pgp_free(c->b);
	memset(c, 0, sizeof(*c));
}

size_t prep_server_count(const struct prep_server_cache *c)
{
	return c->n;
}

/* ---- request queue ---- */

bool pq_push(struct pq *q, enum pq_kind kind, struct prep_stmt *st, char *name)
{
	struct pq_entry *e;

	if (q->n == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 16;
		struct pq_entry *ne = pgp_malloc(cap * sizeof(*ne));

		if (!ne)
			return false;
		for (uint32_t i = 0; i < q->n; i++)
			ne[i] = q->e[(q->head + i) % q->cap];
		pgp_free(q->e);
		q->e = ne;
		q->cap = cap;
		q->head = 0;
	}
	e = &q->e[(q->head + q->n) % q->cap];
	e->kind = (uint8_t)kind;
	e->sqlstate[0] = '\0';
	e->st = st;
	e->name = name;
	q->n++;
	return true;
}

void pq_pop(struct prep_registry *r, struct pq *q)
{
	struct pq_entry *e = pq_head(q);

	if (!e)
		return;
	prep_unref(r, e->st);
	pgp_free(e->name);
	q->head = (q->head + 1) % q->cap;
	q->n--;
}

void pq_free(struct prep_registry *r, struct pq *q)
{
	while (q->n)
		pq_pop(r, q);
	pgp_free(q->e);
	memset(q, 0, sizeof(*q));
}
