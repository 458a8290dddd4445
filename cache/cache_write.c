/*
 * cache_write.c -- the result cache's write side: storing a reply once
 * the statement completes (fills), and invalidation -- per-table
 * generations bumped before the writer's ReadyForQuery is released.
 */
#include "cache_int.h"

#include "proxy/client.h"
#include "proxy/conn.h"
#include "lib/log.h"
#include "proxy/server.h"
#include "proto/wire.h"

#include <event2/buffer.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fills ---- */

static void fill_done(redisAsyncContext *ac, void *r, void *privdata)
{
	struct cache_op *op = privdata;
	redisReply *reply = r;

	pgp_clock_tick();
	(void)ac;
	if (!reply || reply->type == REDIS_REPLY_ERROR)
		op->c->st.redis_errors++;
	cache_op_free(op);
}

static void fill_free(struct client *cl)
{
	struct cache_fill *f = cl->cache.fill;

	if (!f)
		return;
	if (f->body)
		evbuffer_free(f->body);
	free(f->material);
	pgp_free(f);
	cl->cache.fill = NULL;
}

static void fill_store(struct cache *c, struct cache_fill *f)
{
	size_t blen = evbuffer_get_length(f->body), hdr = 16;
	size_t n = hdr + (size_t)f->ngens * 8 + f->mlen + blen, off;
	uint8_t *b = malloc(n);
	struct cache_op *op;
	char ttl[16];
	const char *argv[5];
	size_t argl[5];

	if (!b || !cache_redis_up(c) || !(op = cache_op_new(c, OP_FILL))) {
		free(b);
		c->st.fill_skipped++;
		return;
	}
	memcpy(b, CACHE_BLOB_MAGIC, 4);
	b[4] = CACHE_BLOB_VERSION;
	b[5] = f->ngens;
	b[6] = b[7] = 0;
	for (int i = 0; i < 4; i++) {
		b[8 + i] = (uint8_t)(f->mlen >> (24 - 8 * i));
		b[12 + i] = (uint8_t)(blen >> (24 - 8 * i));
	}
	off = hdr;
	for (int g = 0; g < f->ngens; g++, off += 8)
		for (int i = 0; i < 8; i++)
			b[off + i] = (uint8_t)(f->gens[g] >> (56 - 8 * i));
	memcpy(b + off, f->material, f->mlen);
	off += f->mlen;
	evbuffer_copyout(f->body, b + off, blen);
	snprintf(ttl, sizeof(ttl), "%d", f->ttl);
	argv[0] = "SET";
	argv[1] = f->key;
	argv[2] = (const char *)b;
	argv[3] = "EX";
	argv[4] = ttl;
	for (int i = 0; i < 5; i++)
		argl[i] = i == 2 ? n : strlen(argv[i]);
	if (redisAsyncCommandArgv(c->ac, fill_done, op, 5, argv, argl) !=
	    REDIS_OK) {
		cache_op_free(op);
		c->st.fill_skipped++;
	} else {
		c->st.fills++;
		c->st.fill_bytes += blen;
	}
	free(b);
}

void cache_capture(struct client *cl, uint8_t type, struct evbuffer *in,
		   const struct evbuffer_ptr *at, uint32_t len)
{
	struct cache_fill *f = cl->cache.fill;
	struct cache *c = cl->c.pp->cache;

	if (!f || !c)
		return;
	if (type == 'Z') {
		uint8_t z[6];
		struct evbuffer_ptr p = *at;

		evbuffer_copyout_from(in, &p, z, 6);
		if (!f->bad && f->last == 'C' && z[5] == 'I')
			fill_store(c, f);
		else
			c->st.fill_skipped++;
		fill_free(cl);
		return;
	}
	if (f->bad || type == '1' || type == '2')
		return; /* ParseComplete, BindComplete: a hit makes its own */
	if ((type != 'T' && type != 'D' && type != 'C') ||
	    evbuffer_get_length(f->body) + len + 1 >
		    (size_t)c->pp->cfg->cache_max_entry_bytes) {
		f->bad = true; /* notices, errors, settings, too big */
		return;
	}
	{
		struct evbuffer_ptr p = *at;
		uint8_t chunk[4096];
		size_t left = (size_t)len + 1;

		while (left) {
			size_t k = left < sizeof(chunk) ? left : sizeof(chunk);

			evbuffer_copyout_from(in, &p, chunk, k);
			evbuffer_add(f->body, chunk, k);
			evbuffer_ptr_set(in, &p, k, EVBUFFER_PTR_ADD);
			left -= k;
		}
	}
	f->last = type;
}

void cache_capture_abandon(struct client *cl)
{
	if (cl->cache.fill)
		cl->cache.fill->bad = true;
}

/* ---- invalidation ---- */

static void note_table(struct client *cl, uint64_t t)
{
	for (int i = 0; i < cl->cache.ninval; i++)
		if (cl->cache.inval[i] == t)
			return;
	if (cl->cache.ninval < CL_CACHE_INVAL)
		cl->cache.inval[cl->cache.ninval++] = t;
	else
		cl->cache.inval_all = true;
}

void cache_learn_text(struct pgperf *pp, uint64_t shape, const char *text,
		      size_t len)
{
	struct cache *c = pp->cache;
	struct cinfo *ci;

	if (!c || !shape)
		return;
	cache_info_drain(c);
	ci = cache_info_slot(c, shape);
	if (!ci->shape && (ci = cache_info_put(c, shape))) {
		ci->provisional = true;
		ci->flags = cache_guess_flags(text, len);
	}
}

void cache_note_statement(struct client *cl, uint64_t shape, const char *text,
			  size_t len)
{
	struct cache *c = cl->c.pp->cache;
	struct cinfo *ci;

	if (!c || !shape)
		return;
	cache_info_drain(c);
	ci = cache_info_slot(c, shape);
	if (!ci->shape) {
		if (!text)
			ci = NULL; /* an Execute of a shape never seen */
		else if ((ci = cache_info_put(c, shape))) {
			ci->provisional = true;
			ci->flags = cache_guess_flags(text, len);
		}
	}
	if (!ci) {
		cl->cache.inval_all = true;
		return;
	}
	if (!(ci->flags & ANA_SI_WRITES))
		return;
	if (ci->flags & ANA_SI_WRITES_ALL)
		cl->cache.inval_all = true;
	for (int i = 0; i < ci->nwritten; i++)
		note_table(cl, ci->written[i]);
}

/* ---- databases whose writes may not be invalidated ---- */

static int suspect_find(const struct cache *c, uint64_t db)
{
	for (int i = 0; i < c->nsuspect; i++)
		if (c->suspect[i] == db)
			return i;
	return -1;
}

void cache_suspect(struct cache *c, uint64_t db)
{
	if (suspect_find(c, db) >= 0)
		return;
	if (c->nsuspect >= CACHE_SUSPECT_MAX) {
		/* the ones not recorded can never be bumped: the cache
		 * serves nothing more until pgperf restarts */
		if (!c->suspect_overflow)
			log_error("cache: more than %d databases with writes "
				  "Redis did not take: nothing is served from "
				  "the cache until pgperf restarts",
				  CACHE_SUSPECT_MAX);
		c->suspect_overflow = true;
		return;
	}
	c->suspect[c->nsuspect] = db;
	c->suspect_busy[c->nsuspect] = false;
	c->nsuspect++;
	cache_arm_timer(c, 1000000); /* retried every second */
}

bool cache_is_suspect(const struct cache *c, uint64_t db)
{
	return c->suspect_overflow || suspect_find(c, db) >= 0;
}

void cache_suspects_idle(struct cache *c)
{
	for (int i = 0; i < c->nsuspect; i++)
		c->suspect_busy[i] = false;
}

/* The INCR of one suspect database's generation, in flight. */
struct suspect_bump {
	uint64_t db;
};

static void suspect_done(redisAsyncContext *ac, void *r, void *privdata)
{
	struct suspect_bump *sb = privdata;
	struct cache *c = ac ? ac->data : NULL; /* NULL: being freed */
	redisReply *reply = r;
	int i;

	pgp_clock_tick();

	if (c && (i = suspect_find(c, sb->db)) >= 0) {
		if (reply && reply->type == REDIS_REPLY_INTEGER) {
			/* cleared: the last one takes the slot */
			c->nsuspect--;
			c->suspect[i] = c->suspect[c->nsuspect];
			c->suspect_busy[i] = c->suspect_busy[c->nsuspect];
		} else {
			c->suspect_busy[i] = false;
			c->st.redis_errors++;
		}
	}
	pgp_free(sb);
}

void cache_retry_suspects(struct cache *c)
{
	if (!cache_redis_up(c))
		return;
	for (int i = 0; i < c->nsuspect; i++) {
		struct suspect_bump *sb;
		char key[40];
		const char *argv[2] = {"INCR", key};

		if (c->suspect_busy[i] || !(sb = pgp_malloc(sizeof(*sb))))
			continue;
		sb->db = c->suspect[i];
		cache_gen_key(key, sizeof(key), c->suspect[i], 0);
		if (redisAsyncCommandArgv(c->ac, suspect_done, sb, 2, argv,
					  NULL) == REDIS_OK)
			c->suspect_busy[i] = true;
		else
			pgp_free(sb);
	}
}

static void inval_done(redisAsyncContext *ac, void *r, void *privdata)
{
	struct cache_op *op = privdata;
	redisReply *reply = r;
	struct client *cl;
	struct server *sv;

	pgp_clock_tick();
	(void)ac;
	if (!reply || reply->type == REDIS_REPLY_ERROR) {
		op->failed = true;
		op->c->st.redis_errors++;
	}
	if (--op->pending > 0)
		return;
	cl = op->cl;
	sv = op->sv;
	if (op->failed && cl)
		/* these writes may not be invalidated: the database is not
		 * served until its whole generation is bumped */
		cache_suspect(op->c, cache_db_hash(cl));
	cache_op_free(op);
	if (!cl)
		return;
	cl->cache.op = NULL;
	cl->cache.released = true;
	if (sv && cl->server == sv)
		server_resume_relay(sv); /* the held ReadyForQuery goes on */
}

enum relay_verdict cache_ready_verdict(struct client *cl, struct server *sv)
{
	struct cache *c = cl->c.pp->cache;
	struct cache_op *op;
	char keys[CL_CACHE_INVAL + 1][40];
	uint64_t db;
	int n = 0;

	if (!c)
		return RELAY_FORWARD;
	if (cl->cache.op && cl->cache.op->kind == OP_INVAL)
		return RELAY_HOLD; /* still waiting */
	if (cl->cache.released) {
		cl->cache.released = false;
		return RELAY_FORWARD;
	}
	if (!cl->cache.ninval && !cl->cache.inval_all)
		return RELAY_FORWARD;
	db = cache_db_hash(cl);
	if (cl->cache.inval_all) {
		cache_gen_key(keys[n++], sizeof(keys[0]), db, 0);
		/* counted as one pseudo-table */
		cache_name_table(c, WHOLE_DB, "(whole database)");
		cache_count_table(c, WHOLE_DB);
	}
	for (int i = 0; i < cl->cache.ninval; i++) {
		cache_gen_key(keys[n++], sizeof(keys[0]), db,
			      cl->cache.inval[i]);
		cache_count_table(c, cl->cache.inval[i]);
	}
	c->st.invalidations += (uint64_t)n;
	cl->cache.ninval = 0;
	cl->cache.inval_all = false;
	if (!cache_redis_up(c) || !(op = cache_op_new(c, OP_INVAL))) {
		/* no Redis: everything of this database is dropped when it
		 * is back, and nothing of it is served meanwhile */
		cache_suspect(c, db);
		return RELAY_FORWARD;
	}
	op->cl = cl;
	op->sv = sv;
	for (int i = 0; i < n; i++) {
		const char *argv[2] = {"INCR", keys[i]};

		if (redisAsyncCommandArgv(c->ac, inval_done, op, 2, argv,
					  NULL) == REDIS_OK)
			op->pending++;
	}
	if (!op->pending) {
		cache_op_free(op);
		return RELAY_FORWARD;
	}
	cl->cache.op = op;
	return RELAY_HOLD;
}

void cache_client_gone(struct client *cl)
{
	if (cl->cache.op)
		cl->cache.op->cl = NULL;
	cl->cache.op = NULL;
	fill_free(cl);
}
