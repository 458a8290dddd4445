/*
 * cache.c -- the Redis result cache (see cache.h): what is known of
 * shapes, statistics, the Redis connection and its circuit breaker,
 * lookups, and visibility.  Fills and invalidation are in cache_write.c.
 */
#include "cache_int.h"

#include "proxy/client.h"
#include "proxy/conn.h"
#include "lib/log.h"
#include "proxy/proxy_types.h"
#include "proxy/server.h"
#include "lib/shape.h"
#include "proto/wire.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * The TTL to store a shape with, 0 = not cached.  Rules by fingerprint
 * win; then any table rule (never on one table: not cached; else the
 * shortest); then, with cache_mode = auto, cache_ttl once the shape is hot.
 */
static int ttl_for(struct cache *c, const struct cinfo *ci, int *rule)
{
	const struct config *cfg = c->pp->cfg;
	int ttl = 0;

	*rule = -1;
	for (int i = 0; i < c->nrules; i++)
		if (c->rules[i].kind == CACHE_RULE_FP &&
		    c->rules[i].key == ci->fp) {
			*rule = i;
			return c->rules[i].ttl < 0 ? 0 : c->rules[i].ttl;
		}
	for (int i = 0; i < c->nrules; i++) {
		if (c->rules[i].kind != CACHE_RULE_TABLE)
			continue;
		for (int t = 0; t < ci->nread; t++)
			if (ci->read[t] == c->rules[i].key) {
				if (c->rules[i].ttl < 0)
					return 0;
				if (!ttl || c->rules[i].ttl < ttl) {
					ttl = c->rules[i].ttl;
					*rule = i;
				}
			}
	}
	if (ttl)
		return ttl;
	if (cfg->cache_mode == CACHE_AUTO &&
	    ci->calls >= (uint32_t)cfg->cache_auto_min_calls) {
		/* hot: calls per minute since its first lookup, and a hit
		 * potential: the share of lookups that repeat a recent one */
		double mins = (double)(pgp_now_us() - ci->first_us) / 60e6;
		double rate = ci->calls / (mins > 1.0 / 60 ? mins : 1.0 / 60);

		if (rate >= cfg->cache_auto_min_rate &&
		    ci->repeats * 100 >=
			    (uint64_t)ci->calls *
				    (uint64_t)cfg->cache_auto_min_repeat_pct)
			return cfg->cache_ttl;
	}
	return 0;
}

/* ---- shapes ---- */

struct cinfo *cache_info_slot(struct cache *c, uint64_t shape)
{
	size_t mask = INFO_MAX * 2 - 1, i = pgp_mix64(shape) & mask;

	while (c->info[i].shape && c->info[i].shape != shape)
		i = (i + 1) & mask;
	return &c->info[i];
}

static void info_forget_all(struct cache *c)
{
	memset(c->info, 0, INFO_MAX * 2 * sizeof(*c->info));
	c->ninfo = 0;
	/* texts must reach the analyzer again for it to republish */
	memset(c->pp->known.slot, 0, c->pp->known.nslots * sizeof(uint64_t));
	c->pp->known.n = 0;
}

struct cinfo *cache_info_put(struct cache *c, uint64_t shape)
{
	struct cinfo *ci = cache_info_slot(c, shape);

	if (!ci->shape) {
		if (c->ninfo >= INFO_MAX) {
			info_forget_all(c);
			ci = cache_info_slot(c, shape);
		}
		ci->shape = shape;
		c->ninfo++;
	}
	return ci;
}

/* Take in what the analyzer has published since the last look. */
void cache_info_drain(struct cache *c)
{
	struct ana_shape_info si;

	while (c->pp->ana && analyzer_next_info(c->pp->ana, &si)) {
		struct cinfo *ci = cache_info_put(c, si.shape);
		struct cinfo keep = *ci;

		memset(ci, 0, sizeof(*ci));
		ci->shape = si.shape;
		ci->fp = si.fingerprint;
		ci->flags = si.flags;
		/* what auto mode learned survives the facts arriving */
		ci->calls = keep.calls;
		ci->first_us = keep.first_us;
		ci->repeats = keep.repeats;
		memcpy(ci->recent, keep.recent, sizeof(ci->recent));
		ci->next = keep.next;
		ci->nread = si.nread;
		ci->nwritten = si.nwritten;
		memcpy(ci->read, si.read, sizeof(ci->read));
		memcpy(ci->written, si.written, sizeof(ci->written));
		for (int i = 0; i < si.nwritten; i++)
			cache_name_table(c, si.written[i], si.written_name[i]);
		for (int i = 0; i < si.nread && (si.flags & ANA_SI_CACHEABLE);
		     i++)
			cache_name_table(c, si.read[i], si.read_name[i]);
	}
}

/* ---- statistics ---- */

static struct cache_fp_stats *fp_stats(struct cache *c, uint64_t fp)
{
	size_t mask = STATS_SLOTS - 1, i = pgp_mix64(fp) & mask;

	for (size_t n = 0; n < STATS_SLOTS; n++, i = (i + 1) & mask) {
		if (c->fps[i].fingerprint == fp)
			return &c->fps[i];
		if (!c->fps[i].fingerprint) {
			c->fps[i].fingerprint = fp;
			return &c->fps[i];
		}
	}
	return &c->fps[0]; /* full: counted with another */
}

static struct cache_table_stats *table_stats(struct cache *c, uint64_t table)
{
	size_t mask = STATS_SLOTS - 1, i = pgp_mix64(table) & mask;

	for (size_t n = 0; n < STATS_SLOTS; n++, i = (i + 1) & mask)
		if (c->tbl[i].table == table || !c->tbl[i].table) {
			c->tbl[i].table = table;
			return &c->tbl[i];
		}
	return &c->tbl[0]; /* full: counted with another */
}

void cache_count_table(struct cache *c, uint64_t table)
{
	table_stats(c, table)->invalidations++;
}

uint64_t cache_writes_of(struct cache *c, const struct cinfo *ci)
{
	uint64_t n = table_stats(c, WHOLE_DB)->invalidations;

	for (int i = 0; i < ci->nread; i++)
		n += table_stats(c, ci->read[i])->invalidations;
	return n;
}

void cache_name_table(struct cache *c, uint64_t table, const char *name)
{
	struct cache_table_stats *t = table_stats(c, table);

	if (!t->name[0])
		snprintf(t->name, sizeof(t->name), "%s", name);
}

/* ---- Redis: connection and breaker ---- */

void cache_arm_timer(struct cache *c, int64_t us)
{
	struct timeval tv = {(time_t)(us / 1000000),
			     (suseconds_t)(us % 1000000)};

	if (!evtimer_pending(c->timer, NULL))
		evtimer_add(c->timer, &tv);
}

static void op_unlink(struct cache_op *op)
{
	if (op->next) {
		op->prev->next = op->next;
		op->next->prev = op->prev;
		op->next = op->prev = NULL;
	}
}

void cache_op_free(struct cache_op *op)
{
	op_unlink(op);
	free(op->material);
	pgp_free(op);
}

struct cache_op *cache_op_new(struct cache *c, enum op_kind kind)
{
	struct cache_op *op = pgp_calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->c = c;
	op->kind = kind;
	op->deadline_us =
		pgp_now_us() + (int64_t)c->pp->cfg->redis_timeout_ms * 1000;
	op->next = c->ops.next;
	op->prev = &c->ops;
	c->ops.next->prev = op;
	c->ops.next = op;
	cache_arm_timer(c, (int64_t)c->pp->cfg->redis_timeout_ms * 1000);
	return op;
}

bool cache_redis_up(struct cache *c)
{
	return c->ac && strcmp(c->state, "up") == 0;
}

/* Something went wrong with Redis: open the breaker, drop the
 * connection.  redisAsyncFree, not redisAsyncDisconnect: a Redis that
 * hangs would keep a disconnect waiting for its replies, and a held
 * ReadyForQuery with it; freeing fires every pending callback at once
 * with no reply.  Never called from inside a hiredis callback with the
 * context still set (on_connect/on_disconnect clear c->ac first). */
static void breaker_open(struct cache *c, const char *why)
{
	if (strcmp(c->state, "down") != 0)
		c->st.breaker_opens++;
	if (!c->said_down) { /* once per outage, not per retry */
		c->said_down = true;
		log_warning("cache: Redis at %s:%d unusable (%s); queries go "
			    "to PostgreSQL, trying again every second",
			    c->host, c->port, why);
	}
	c->state = "down";
	c->retry_at_us = pgp_now_us() + BREAKER_OPEN_US;
	if (c->ac) {
		redisAsyncContext *ac = c->ac;

		c->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	cache_suspects_idle(c);
	cache_arm_timer(c, BREAKER_OPEN_US);
}

static void connect_redis(struct cache *c);

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct cache *c = ac->data;

	if (!c)
		return;
	if (status != REDIS_OK) {
		c->ac = NULL; /* hiredis frees it */
		breaker_open(c, ac->errstr[0] ? ac->errstr : "connect failed");
		return;
	}
	c->state = "up";
	c->said_down = false;
	log_info("cache: Redis at %s:%d is up", c->host, c->port);
	/* a database whose writes this instance could not invalidate:
	 * everything cached for it goes, and until then it is not served */
	cache_retry_suspects(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct cache *c = ac->data;

	(void)status;
	if (!c)
		return;
	c->ac = NULL;
	breaker_open(c, ac->errstr[0] ? ac->errstr : "disconnected");
}

static void connect_redis(struct cache *c)
{
	redisAsyncContext *ac = redisAsyncConnect(c->host, c->port);

	if (!ac || ac->err) {
		c->state = "down";
		c->retry_at_us = pgp_now_us() + BREAKER_OPEN_US;
		if (ac)
			redisAsyncFree(ac);
		cache_arm_timer(c, BREAKER_OPEN_US);
		return;
	}
	ac->data = c;
	c->ac = ac;
	c->state = "connecting";
	redisLibeventAttach(ac, c->pp->base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (c->password[0]) {
		const char *argv[2] = {"AUTH", c->password};

		redisAsyncCommandArgv(ac, NULL, NULL, 2, argv, NULL);
	}
	if (c->db) {
		char db[16];
		const char *argv[2] = {"SELECT", db};

		snprintf(db, sizeof(db), "%d", c->db);
		redisAsyncCommandArgv(ac, NULL, NULL, 2, argv, NULL);
	}
}

/* Timeouts (the oldest operation past redis_timeout_ms drops the
 * connection) and reconnects. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct cache *c = arg;
	int64_t now = pgp_now_us(), next = 0;

	pgp_clock_tick();
	(void)fd;
	(void)what;
	for (struct cache_op *op = c->ops.next; op != &c->ops; op = op->next)
		if (op->deadline_us <= now) {
			c->st.timeouts++;
			breaker_open(c, "timeout");
			break;
		} else if (!next || op->deadline_us - now < next) {
			next = op->deadline_us - now;
		}
	if (!c->ac && now >= c->retry_at_us)
		connect_redis(c);
	if (c->nsuspect) {
		/* until each is cleared, retry its bump every second */
		cache_retry_suspects(c);
		if (!next || next > BREAKER_OPEN_US)
			next = BREAKER_OPEN_US;
	}
	if (!c->ac && !next)
		next = c->retry_at_us - now;
	if (c->ops.next != &c->ops && !next)
		next = (int64_t)c->pp->cfg->redis_timeout_ms * 1000;
	if (next > 0)
		cache_arm_timer(c, next);
}

struct cache *cache_new(struct pgperf *pp)
{
	struct cache *c;
	char err[256];

	if (pp->cfg->cache_mode == CACHE_OFF || !pp->cfg->redis_url[0])
		return NULL;
	if (!(c = pgp_calloc(1, sizeof(*c))))
		return NULL;
	c->pp = pp;
	c->state = "connecting";
	c->ops.next = c->ops.prev = &c->ops;
	c->info = pgp_calloc(INFO_MAX * 2, sizeof(*c->info));
	c->fps = pgp_calloc(STATS_SLOTS, sizeof(*c->fps));
	c->tbl = pgp_calloc(STATS_SLOTS, sizeof(*c->tbl));
	c->timer = evtimer_new(pp->base, on_timer, c);
	if (!c->info || !c->fps || !c->tbl || !c->timer) {
		cache_free(c);
		return NULL;
	}
	if (!config_parse_redis_url(pp->cfg->redis_url, c->host,
				    sizeof(c->host), &c->port, c->password,
				    sizeof(c->password), &c->db)) {
		char shown[600];

		config_mask_url(pp->cfg->redis_url, shown, sizeof(shown));
		log_error("cache: redis_url \"%s\" is not redis://[:password@]"
			  "host[:port][/db]; the cache is off",
			  shown);
		cache_free(c);
		return NULL;
	}
	if (!cache_parse_rules(pp->cfg->cache_rules, &c->rules, &c->nrules, err,
			       sizeof(err))) {
		log_error("cache: %s; the cache is off", err);
		cache_free(c);
		return NULL;
	}
	connect_redis(c);
	return c;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	if (c->ac) {
		redisAsyncContext *ac = c->ac;

		c->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac); /* pending callbacks fire with no reply */
	}
	cache_suspects_idle(c);
	while (c->ops.next && c->ops.next != &c->ops)
		cache_op_free(c->ops.next);
	if (c->timer)
		event_free(c->timer);
	pgp_free(c->info);
	pgp_free(c->fps);
	pgp_free(c->tbl);
	pgp_free(c->rules);
	pgp_free(c);
}

/* ---- lookups ---- */

/* A miss that may be filled: what to store when the reply is whole. */
static void fill_begin(struct client *cl, struct cache_op *op,
		       const uint64_t *gens)
{
	struct cache_fill *f;

	if (!(cl->cache.fill = f = pgp_calloc(1, sizeof(*cl->cache.fill))))
		return;
	memcpy(f->key, op->key, sizeof(f->key));
	f->material = op->material;
	op->material = NULL;
	f->mlen = op->mlen;
	f->ngens = op->ngens;
	memcpy(f->gens, gens, sizeof(f->gens));
	f->ttl = op->ttl;
	f->fp = op->info.fp;
	if (!(f->body = evbuffer_new())) {
		free(f->material);
		pgp_free(f);
		cl->cache.fill = NULL;
	}
}

static void lookup_done(redisAsyncContext *ac, void *r, void *privdata)
{
	pgp_clock_tick();
	struct cache_op *op = privdata;
	struct cache *c = op->c;
	redisReply *reply = r;
	struct client *cl = op->cl;
	uint64_t gens[MAX_GENS] = {0};
	const uint8_t *body = NULL;
	size_t blen = 0;
	bool ok = reply && reply->type == REDIS_REPLY_ARRAY &&
		  reply->elements == (size_t)op->ngens + 1;

	(void)ac;
	if (cl)
		cl->cache.op = NULL;
	if (!reply)
		c->st.redis_errors++;
	for (size_t i = 0; ok && i < op->ngens; i++) {
		redisReply *g = reply->element[i + 1];

		if (g->type == REDIS_REPLY_STRING)
			gens[i] = strtoull(g->str, NULL, 10);
		else if (g->type != REDIS_REPLY_NIL)
			ok = false;
	}
	if (ok && reply->element[0]->type == REDIS_REPLY_STRING)
		body = cache_blob_check((const uint8_t *)reply->element[0]->str,
					reply->element[0]->len, op->ngens,
					op->material, op->mlen, gens, &blen);
	if (!cl) {
		cache_op_free(op);
		return;
	}
	if (body) {
		struct wbuf b;
		struct cache_fp_stats *fs = fp_stats(c, op->info.fp);
		size_t drain = op->drain;

		c->st.hits++;
		c->st.hit_bytes += blen;
		fs->hits++;
		fs->hit_bytes += blen;
		if (op->rule >= 0 && op->rule < c->nrules) {
			c->rules[op->rule].hits++;
			c->rules[op->rule].hit_bytes += blen;
		}
		wb_init(&b);
		if (op->extended) {
			/* ParseComplete, BindComplete */
			if (op->parsed)
				wb_end(&b, wb_begin(&b, '1'));
			wb_end(&b, wb_begin(&b, '2'));
		}
		wb_bytes(&b, body, blen);
		wire_build_ready(&b, 'I');
		cache_op_free(op);
		client_cache_done(cl, &b, drain); /* a hit: the answer */
		wb_free(&b);
		return;
	}
	if (ok) {
		c->st.misses++;
		fp_stats(c, op->info.fp)->misses++;
		if (op->rule >= 0 && op->rule < c->nrules)
			c->rules[op->rule].misses++;
	} else {
		c->st.bypassed++;
	}
	if (op->fill && ok)
		fill_begin(cl, op, gens);
	cache_op_free(op);
	client_cache_done(cl, NULL, 0); /* a miss: to PostgreSQL */
}

enum relay_verdict cache_idle_verdict(struct client *cl)
{
	struct cache *c = cl->c.pp->cache;
	struct evbuffer *in;
	uint8_t hdr[5];
	struct shape sh;
	struct cinfo *ci;
	struct cache_op *op;
	struct cache_request v;
	const char *argv[2 + MAX_GENS];
	int ttl, rule;

	if (!c)
		return RELAY_FORWARD;
	if (cl->cache.op)
		return RELAY_HOLD; /* a lookup is in flight: the rest waits */
	in = bufferevent_get_input(cl->c.bev);
	if (evbuffer_copyout(in, hdr, 5) < 5 ||
	    (hdr[0] != 'Q' && hdr[0] != 'P' && hdr[0] != 'B'))
		return RELAY_FORWARD;
	memset(&v, 0, sizeof(v));
	if (!(hdr[0] == 'Q' ? cache_view_query(in, wire_get_u32(hdr + 1), &v)
			    : cache_view_extended(cl, in, &v))) {
		cache_view_free(&v);
		return RELAY_FORWARD; /* not whole yet, too long, or another pattern */
	}
	c->st.lookups++;
	if (!cache_redis_up(c) || !c->pp->ana) {
		cache_view_free(&v);
		c->st.bypassed++;
		return RELAY_FORWARD;
	}
	cache_info_drain(c);
	shape_compute(v.sql, v.sql_len, &sh);
	ci = cache_info_slot(c, sh.hash ? sh.hash : 1);
	if (!ci->shape || ci->provisional || !(ci->flags & ANA_SI_CACHEABLE)) {
		cache_view_free(&v);
		c->st.bypassed++;
		return RELAY_FORWARD;
	}
	{
		size_t mlen;
		char *m = v.extended ? cache_key_material(cl, v.extra,
							  v.extra_len, &mlen)
				     : cache_key_material(cl, v.sql, v.sql_len,
							  &mlen);
		uint64_t h = m ? pgp_hash_bytes(m, mlen) : 0;

		if (!m || cache_is_suspect(c, cache_db_hash(cl))) {
			/* too many settings to key on; or a write to this
			 * database may not be invalidated yet */
			free(m);
			cache_view_free(&v);
			c->st.bypassed++;
			return RELAY_FORWARD;
		}
		int64_t now = pgp_loop_us();
		uint64_t writes = cache_writes_of(c, ci);
		size_t i;

		if (!ci->calls++)
			ci->first_us = now;
		/* a would-be hit: the same values within the TTL, with no
		 * invalidation of its tables since */
		for (i = 0; i < ARRAY_SIZE(ci->recent); i++)
			if (ci->recent[i].h == h &&
			    ci->recent[i].writes == writes &&
			    now - ci->recent[i].at_us <=
				    (int64_t)c->pp->cfg->cache_ttl * 1000000) {
				ci->repeats++;
				break;
			}
		if (i == ARRAY_SIZE(ci->recent)) {
			i = ci->next++ % ARRAY_SIZE(ci->recent);
			ci->recent[i].h = h;
			ci->recent[i].at_us = now;
			ci->recent[i].writes = writes;
		}
		if (!(ttl = ttl_for(c, ci, &rule)) ||
		    !(op = cache_op_new(c, OP_LOOKUP))) {
			free(m);
			cache_view_free(&v);
			c->st.bypassed++;
			return RELAY_FORWARD;
		}
		op->material = m;
		op->mlen = mlen;
	}
	op->drain = v.total;
	op->extended = v.extended;
	op->parsed = v.parsed;
	cache_view_free(&v);
	op->cl = cl;
	op->info = *ci;
	op->ttl = ttl;
	op->rule = rule;
	op->fill = true;
	cache_entry_key(op->key, op->material, op->mlen);
	/* the entry, the database's generation, each table's */
	op->ngens = (uint8_t)(1 + ci->nread);
	cache_gen_key(op->gen_keys[0], sizeof(op->gen_keys[0]),
		      cache_db_hash(cl), 0);
	for (int i = 0; i < ci->nread; i++)
		cache_gen_key(op->gen_keys[i + 1], sizeof(op->gen_keys[0]),
			      cache_db_hash(cl), ci->read[i]);
	argv[0] = "MGET";
	argv[1] = op->key;
	for (int i = 0; i < op->ngens; i++)
		argv[i + 2] = op->gen_keys[i];
	if (redisAsyncCommandArgv(c->ac, lookup_done, op, op->ngens + 2, argv,
				  NULL) != REDIS_OK) {
		cache_op_free(op);
		c->st.redis_errors++;
		return RELAY_FORWARD;
	}
	op->pending = 1;
	cl->cache.op = op;
	return RELAY_HOLD; /* until Redis answers */
}

/* ---- visibility ---- */

void cache_get_stats(struct cache *c, struct cache_stats *out)
{
	*out = c->st;
	out->redis_state = c->state;
}

size_t cache_fp_stats(struct cache *c, struct cache_fp_stats **out)
{
	size_t n = 0;

	*out = pgp_calloc(STATS_SLOTS, sizeof(**out));
	for (size_t i = 0; *out && i < STATS_SLOTS; i++)
		if (c->fps[i].fingerprint)
			(*out)[n++] = c->fps[i];
	return n;
}

size_t cache_rule_stats(struct cache *c, struct cache_rule_stats **out)
{
	*out = pgp_calloc((size_t)c->nrules + 1, sizeof(**out));
	for (int i = 0; *out && i < c->nrules; i++) {
		snprintf((*out)[i].rule, sizeof((*out)[i].rule), "%s",
			 c->rules[i].text);
		(*out)[i].hits = c->rules[i].hits;
		(*out)[i].misses = c->rules[i].misses;
		(*out)[i].hit_bytes = c->rules[i].hit_bytes;
	}
	return *out ? (size_t)c->nrules : 0;
}

size_t cache_table_stats(struct cache *c, struct cache_table_stats **out)
{
	size_t n = 0;

	*out = pgp_calloc(STATS_SLOTS, sizeof(**out));
	for (size_t i = 0; *out && i < STATS_SLOTS; i++)
		if (c->tbl[i].table)
			(*out)[n++] = c->tbl[i];
	return n;
}
