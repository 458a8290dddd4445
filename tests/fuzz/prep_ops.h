/*
 * prep_ops.h -- drive the prepared-statement bookkeeping (prepared.h) with
 * a sequence of operations read from bytes, next to a plain model of what
 * it should hold, and check after every step that the two agree: each
 * client's names, each server connection's statements in LRU order, the
 * request queue in FIFO order, and every statement's reference count (the
 * registry frees a statement exactly when nothing refers to it).
 *
 * Shared by the unit test (tests/unit/test_prepared.c, random sequences)
 * and the fuzz target (tests/fuzz/fuzz_prepared.c).  The operations keep
 * the contracts the relay keeps: a name is put only when the client does
 * not hold it, a statement added only where it is not held.
 */
#ifndef PGPERF_PREP_OPS_H
#define PGPERF_PREP_OPS_H

#include "proto/prepared.h"

#include <stdio.h>
#include <string.h>

#define OPS_BODIES 8
#define OPS_CLIENTS 3
#define OPS_NAMES 6
#define OPS_SERVERS 2
#define OPS_QUEUE_MAX 512

struct prep_ops {
	struct prep_registry reg;
	struct prep_client_map cl[OPS_CLIENTS];
	struct prep_server_cache sv[OPS_SERVERS];
	struct pq q;
	/* the model */
	int names[OPS_CLIENTS][OPS_NAMES]; /* body index, or -1 */
	int lru[OPS_SERVERS][OPS_BODIES];  /* least recently used first */
	int nlru[OPS_SERVERS];
	int queue[OPS_QUEUE_MAX]; /* body index or -1, oldest first */
	int qn;
	char why[160]; /* what disagreed */
};

/* A Parse body: query, then one parameter type (int4, or text). */
static inline size_t prep_ops_body(int i, char *buf)
{
	int n = snprintf(buf, 64, "SELECT $1::int + %d", i % 4);
	uint32_t oid = i < 4 ? 23 : 25;

	buf[n++] = '\0';
	buf[n++] = 0;
	buf[n++] = 1;
	buf[n++] = (char)(oid >> 24);
	buf[n++] = (char)(oid >> 16);
	buf[n++] = (char)(oid >> 8);
	buf[n++] = (char)oid;
	return (size_t)n;
}

/* A new reference to body i's statement (the caller releases it). */
static inline struct prep_stmt *prep_ops_intern(struct prep_ops *o, int i)
{
	char buf[64];
	size_t n = prep_ops_body(i, buf);

	return prep_intern(&o->reg, buf, n);
}

static inline int prep_ops_which(struct prep_ops *o, const struct prep_stmt *st)
{
	for (int i = 0; st && i < OPS_BODIES; i++) {
		char buf[64];
		size_t n = prep_ops_body(i, buf);

		if (st->len == n && memcmp(st->body, buf, n) == 0)
			return i;
	}
	(void)o;
	return -1;
}

static inline void prep_ops_init(struct prep_ops *o)
{
	memset(o, 0, sizeof(*o));
	memset(o->names, 0xff, sizeof(o->names));
}

/* Does the structure agree with the model?  Fills o->why when not. */
static inline bool prep_ops_check(struct prep_ops *o)
{
	size_t live = 0;

	for (int b = 0; b < OPS_BODIES; b++) {
		uint32_t want = 0;
		struct prep_stmt *st;

		for (int c = 0; c < OPS_CLIENTS; c++)
			for (int k = 0; k < OPS_NAMES; k++)
				want += o->names[c][k] == b;
		for (int s = 0; s < OPS_SERVERS; s++)
			for (int k = 0; k < o->nlru[s]; k++)
				want += o->lru[s][k] == b;
		for (int k = 0; k < o->qn; k++)
			want += o->queue[k] == b;
		live += want > 0;
		/* interning adds one reference, and a new statement if none */
		st = prep_ops_intern(o, b);
		if (!st) {
			snprintf(o->why, sizeof(o->why), "out of memory");
			return false;
		}
		if (st->refs != want + 1) {
			snprintf(o->why, sizeof(o->why),
				 "body %d: %u references, the model has %u", b,
				 st->refs - 1, want);
			prep_unref(&o->reg, st);
			return false;
		}
		prep_unref(&o->reg, st);
	}
	if (o->reg.n != live) {
		snprintf(o->why, sizeof(o->why),
			 "registry holds %zu statements, %zu are referred to",
			 o->reg.n, live);
		return false;
	}
	for (int c = 0; c < OPS_CLIENTS; c++) {
		size_t count = 0;

		for (int k = 0; k < OPS_NAMES; k++) {
			char name[16];
			const struct prep_stmt *st;

			snprintf(name, sizeof(name), "s%d", k);
			st = prep_client_get(&o->cl[c], name, strlen(name));
			count += o->names[c][k] >= 0;
			if (prep_ops_which(o, st) != o->names[c][k]) {
				snprintf(o->why, sizeof(o->why),
					 "client %d name %s: body %d, model %d",
					 c, name, prep_ops_which(o, st),
					 o->names[c][k]);
				return false;
			}
		}
		if (prep_client_count(&o->cl[c]) != count) {
			snprintf(o->why, sizeof(o->why),
				 "client %d holds %zu names, model %zu", c,
				 prep_client_count(&o->cl[c]), count);
			return false;
		}
	}
	for (int s = 0; s < OPS_SERVERS; s++) {
		int lru = o->nlru[s] ? o->lru[s][0] : -1;

		if (prep_server_count(&o->sv[s]) != (size_t)o->nlru[s] ||
		    prep_ops_which(o, prep_server_lru(&o->sv[s])) != lru) {
			snprintf(o->why, sizeof(o->why),
				 "server %d: %zu held, LRU body %d; model %d, "
				 "%d",
				 s, prep_server_count(&o->sv[s]),
				 prep_ops_which(o, prep_server_lru(&o->sv[s])),
				 o->nlru[s], lru);
			return false;
		}
	}
	if (o->q.n != (uint32_t)o->qn ||
	    (o->qn && prep_ops_which(o, pq_head(&o->q)->st) != o->queue[0])) {
		snprintf(o->why, sizeof(o->why), "queue: %u entries, model %d",
			 o->q.n, o->qn);
		return false;
	}
	return true;
}

static inline void model_lru_remove(struct prep_ops *o, int s, int at)
{
	memmove(&o->lru[s][at], &o->lru[s][at + 1],
		(size_t)(o->nlru[s] - at - 1) * sizeof(int));
	o->nlru[s]--;
}

static inline int model_lru_find(const struct prep_ops *o, int s, int b)
{
	for (int k = 0; k < o->nlru[s]; k++)
		if (o->lru[s][k] == b)
			return k;
	return -1;
}

/* One operation from three bytes; false when the structure and the
 * model disagree afterwards (or memory ran out). */
static inline bool prep_ops_step(struct prep_ops *o, uint8_t op, uint8_t a,
				 uint8_t b)
{
	int c = a % OPS_CLIENTS, k = (a / OPS_CLIENTS) % OPS_NAMES;
	int s = a % OPS_SERVERS, body = b % OPS_BODIES;
	char name[16];
	struct prep_stmt *st;

	snprintf(name, sizeof(name), "s%d", k);
	switch (op % 10) {
	case 0: /* a client's Parse of a new name */
		if (o->names[c][k] >= 0)
			break;
		if (!(st = prep_ops_intern(o, body)))
			return false;
		if (!prep_client_put(&o->cl[c], name, st)) {
			prep_unref(&o->reg, st);
			return false;
		}
		prep_unref(&o->reg, st);
		o->names[c][k] = body;
		break;
	case 1: /* Close of a name */
		prep_client_del(&o->reg, &o->cl[c], name, strlen(name), NULL);
		o->names[c][k] = -1;
		break;
	case 2: /* undo of a Parse: only if the name still means it */
		if (!(st = prep_ops_intern(o, body)))
			return false;
		prep_client_del(&o->reg, &o->cl[c], name, strlen(name), st);
		if (o->names[c][k] == body)
			o->names[c][k] = -1;
		prep_unref(&o->reg, st);
		break;
	case 3: /* a statement prepared on a server */
		if (!(st = prep_ops_intern(o, body)))
			return false;
		if (prep_server_has(&o->sv[s], st)) {
			int at = model_lru_find(o, s, body);

			model_lru_remove(o, s, at);
			o->lru[s][o->nlru[s]++] = body;
		} else if (prep_server_add(&o->sv[s], st)) {
			o->lru[s][o->nlru[s]++] = body;
		} else {
			prep_unref(&o->reg, st);
			return false;
		}
		prep_unref(&o->reg, st);
		break;
	case 4: /* evict the least recently used */
		st = prep_server_lru(&o->sv[s]);
		if (st) {
			prep_server_forget(&o->reg, &o->sv[s], st);
			model_lru_remove(o, s, 0);
		}
		break;
	case 5: /* forget one statement (its Close failed, or an error) */
		if (!(st = prep_ops_intern(o, body)))
			return false;
		prep_server_forget(&o->reg, &o->sv[s], st);
		if (model_lru_find(o, s, body) >= 0)
			model_lru_remove(o, s, model_lru_find(o, s, body));
		prep_unref(&o->reg, st);
		break;
	case 6: /* a request queued, with a statement or without */
		if (o->qn >= OPS_QUEUE_MAX)
			break;
		st = b & 0x80 ? NULL : prep_ops_intern(o, body);
		if (!(b & 0x80) && !st)
			return false;
		if (!pq_push(&o->q, (enum pq_kind)(a % 14), st,
			     a & 1 ? pgp_strdup(name) : NULL)) {
			prep_unref(&o->reg, st);
			return false;
		}
		o->queue[o->qn++] = st ? body : -1;
		break;
	case 7: /* its reply came */
		if (o->qn) {
			pq_pop(&o->reg, &o->q);
			memmove(&o->queue[0], &o->queue[1],
				(size_t)(o->qn - 1) * sizeof(int));
			o->qn--;
		}
		break;
	case 8: /* a client gone, or DEALLOCATE ALL */
		prep_client_clear(&o->reg, &o->cl[c]);
		for (int j = 0; j < OPS_NAMES; j++)
			o->names[c][j] = -1;
		break;
	case 9: /* a server gone, or DISCARD ALL there */
		prep_server_clear(&o->reg, &o->sv[s]);
		o->nlru[s] = 0;
		break;
	}
	return prep_ops_check(o);
}

/* Release everything; the registry must then be empty. */
static inline bool prep_ops_finish(struct prep_ops *o)
{
	bool empty;

	for (int c = 0; c < OPS_CLIENTS; c++)
		prep_client_clear(&o->reg, &o->cl[c]);
	for (int s = 0; s < OPS_SERVERS; s++)
		prep_server_clear(&o->reg, &o->sv[s]);
	pq_free(&o->reg, &o->q);
	empty = o->reg.n == 0;
	if (!empty)
		snprintf(o->why, sizeof(o->why),
			 "%zu statements left after everything let go",
			 o->reg.n);
	prep_registry_free(&o->reg);
	return empty;
}

/* Run a whole byte sequence, three bytes per operation. */
static inline bool prep_ops_run(struct prep_ops *o, const uint8_t *data,
				size_t n)
{
	bool ok = true;

	prep_ops_init(o);
	for (size_t i = 0; ok && i + 3 <= n; i += 3)
		ok = prep_ops_step(o, data[i], data[i + 1], data[i + 2]);
	return prep_ops_finish(o) && ok;
}

#endif
