/*
 * cache.c -- the Redis result cache (see cache.h).
 */
#include "pgperf/cache.h"

#include "pgperf/analyzer.h"
#include "pgperf/client.h"
#include "pgperf/conn.h"
#include "pgperf/log.h"
#include "pgperf/pool.h"
#include "pgperf/prepared.h"
#include "pgperf/proxy_types.h"
#include "pgperf/server.h"
#include "pgperf/shape.h"
#include "pgperf/sqlscan.h"
#include "pgperf/wire.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INFO_MAX 65536		/* shapes known; then forgotten at once */
#define STATS_SLOTS 2048	/* fingerprints and tables counted */
#define BREAKER_OPEN_US 1000000 /* down: try again after this */
#define MAX_GENS (1 + ANA_INFO_TABLES)
#define BLOB_MAGIC "PGPC"
#define BLOB_VERSION 1
#define KEY_LEN 80
#define WHOLE_DB 1 /* SHOW CACHE's name for database-wide invalidations */

/* What the cache knows of a shape: the analyzer's facts, or a guess from
 * the first word until they arrive (never cacheable). */
struct cinfo {
	uint64_t shape, fp;
	uint8_t flags; /* ANA_SI_* */
	bool provisional;
	uint8_t nread, nwritten;
	/* cache_mode = auto: how hot the shape is, and how often the same
	 * statement (values included) comes again among its recent ones */
	uint32_t calls;
	int64_t first_us; /* monotonic: its first lookup */
	uint32_t repeats;
	uint64_t recent[8]; /* hashes of recent key materials */
	uint8_t next;
	uint64_t read[ANA_INFO_TABLES], written[ANA_INFO_TABLES];
};

enum rule_kind { RULE_FP, RULE_TABLE };

struct rule {
	enum rule_kind kind;
	uint64_t key;  /* fingerprint, or ana_table_hash */
	int ttl;       /* seconds; -1 = never cache */
	char text[64]; /* as written, for SHOW CACHE */
	uint64_t hits, misses, hit_bytes;
};

enum op_kind { OP_LOOKUP, OP_INVAL, OP_FILL, OP_SETUP };

struct cache_op {
	struct cache_op *prev, *next; /* c->ops: in flight */
	struct cache *c;
	struct client *cl; /* NULL once the client is gone */
	enum op_kind kind;
	int pending; /* replies still due */
	bool failed;
	int64_t deadline_us;
	/* lookup */
	struct cinfo info;
	uint8_t ngens;
	char gen_keys[MAX_GENS][40];
	char key[KEY_LEN];
	char *material; /* owned */
	size_t mlen;
	int ttl;
	bool fill;     /* a miss may be stored */
	size_t drain;  /* input bytes a hit answers */
	bool extended; /* Bind/...: a hit also answers those */
	bool parsed;   /* ... and a Parse */
	int rule;      /* the rule that chose it, or -1 (auto) */
	/* invalidation */
	struct server *sv;
};

struct cache_fill {
	char key[KEY_LEN];
	char *material; /* owned */
	size_t mlen;
	uint64_t gens[MAX_GENS];
	uint8_t ngens;
	int ttl;
	uint64_t fp;
	struct evbuffer *body; /* owned */
	bool bad;
	uint8_t last;
};

struct cache {
	struct pgperf *pp;
	redisAsyncContext *ac;
	const char *state; /* off, connecting, up, down */
	bool said_down;	   /* the outage is logged */
	int64_t retry_at_us;
	struct event *timer; /* owned: timeouts and reconnects */
	char host[256];
	int port, db;
	char password[256];
	struct cinfo *info; /* owned, open addressing */
	size_t ninfo;
	struct rule *rules; /* owned */
	int nrules;
	struct cache_op ops; /* list head */
	struct cache_stats st;
	struct cache_fp_stats *fps;    /* owned, STATS_SLOTS */
	struct cache_table_stats *tbl; /* owned, STATS_SLOTS */
	uint64_t *missed_db; /* owned: databases whose writes went unseen */
	int nmissed;
};

/* ---- settings that change results: part of every key ---- */

static const char *const modeled[] = {
	"search_path",	"client_encoding",
	"DateStyle",	"IntervalStyle",
	"TimeZone",	"extra_float_digits",
	"bytea_output", "standard_conforming_strings",
	"role",		"application_name_is_not_modeled",
};

static bool is_modeled(const char *name)
{
	for (size_t i = 0; i + 1 < ARRAY_SIZE(modeled); i++)
		if (strcasecmp(name, modeled[i]) == 0)
			return true;
	return false;
}

/* ---- rules ---- */

static bool parse_rules(const char *s, struct rule **out, int *n, char *err,
			size_t errlen)
{
	struct rule *r = NULL;
	int nr = 0;

	*out = NULL;
	*n = 0;
	while (s && *s) {
		char item[256], *eq, *colon;
		size_t len;
		struct rule *nrules;

		s += strspn(s, " \t,");
		len = strcspn(s, " \t,");
		if (!len)
			break;
		if (len >= sizeof(item)) {
			snprintf(err, errlen, "cache_rules: rule too long");
			goto bad;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		s += len;
		colon = strchr(item, ':');
		eq = strchr(item, '=');
		if (!colon || !eq || eq < colon || eq == colon + 1) {
			snprintf(
				err, errlen,
				"cache_rules: \"%s\" is not table:NAME=TTL|never "
				"or fingerprint:HEX=TTL|never",
				item);
			goto bad;
		}
		if (!(nrules = pgp_realloc(r, (size_t)(nr + 1) * sizeof(*r))))
			goto nomem;
		r = nrules;
		memset(&r[nr], 0, sizeof(r[nr]));
		snprintf(r[nr].text, sizeof(r[nr].text), "%.63s", item);
		*colon = *eq = '\0';
		if (strcmp(item, "table") == 0) {
			r[nr].kind = RULE_TABLE;
			r[nr].key = ana_table_hash(colon + 1);
		} else if (strcmp(item, "fingerprint") == 0) {
			char *end;

			r[nr].kind = RULE_FP;
			r[nr].key = strtoull(colon + 1, &end, 16);
			if (*end) {
				snprintf(
					err, errlen,
					"cache_rules: \"%s\" is not a fingerprint "
					"(hexadecimal, as SHOW QUERIES prints it)",
					colon + 1);
				goto bad;
			}
		} else {
			snprintf(
				err, errlen,
				"cache_rules: \"%s\": rules are by table or by "
				"fingerprint",
				item);
			goto bad;
		}
		if (strcmp(eq + 1, "never") == 0) {
			r[nr].ttl = -1;
		} else {
			char *end;
			long ttl = strtol(eq + 1, &end, 10);

			if (*end || ttl <= 0 || ttl > 86400 * 30) {
				snprintf(
					err, errlen,
					"cache_rules: TTL \"%s\" must be seconds "
					"(1 to 2592000) or never",
					eq + 1);
				goto bad;
			}
			r[nr].ttl = (int)ttl;
		}
		nr++;
	}
	*out = r;
	*n = nr;
	return true;
nomem:
	snprintf(err, errlen, "out of memory");
bad:
	pgp_free(r);
	return false;
}

bool cache_rules_check(const char *rules, char *err, size_t errlen)
{
	struct rule *r;
	int n;

	if (!parse_rules(rules, &r, &n, err, errlen))
		return false;
	pgp_free(r);
	return true;
}

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
		if (c->rules[i].kind == RULE_FP && c->rules[i].key == ci->fp) {
			*rule = i;
			return c->rules[i].ttl < 0 ? 0 : c->rules[i].ttl;
		}
	for (int i = 0; i < c->nrules; i++) {
		if (c->rules[i].kind != RULE_TABLE)
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

static struct cinfo *info_slot(struct cache *c, uint64_t shape)
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

static struct cinfo *info_put(struct cache *c, uint64_t shape)
{
	struct cinfo *ci = info_slot(c, shape);

	if (!ci->shape) {
		if (c->ninfo >= INFO_MAX) {
			info_forget_all(c);
			ci = info_slot(c, shape);
		}
		ci->shape = shape;
		c->ninfo++;
	}
	return ci;
}

static void name_table(struct cache *c, uint64_t table, const char *name);

/* Take in what the analyzer has published since the last look. */
static void info_drain(struct cache *c)
{
	struct ana_shape_info si;

	while (c->pp->ana && analyzer_next_info(c->pp->ana, &si)) {
		struct cinfo *ci = info_put(c, si.shape);
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
			name_table(c, si.written[i], si.written_name[i]);
		for (int i = 0; i < si.nread && (si.flags & ANA_SI_CACHEABLE);
		     i++)
			name_table(c, si.read[i], si.read_name[i]);
	}
}

/* A statement not parsed yet: only its first word says whether it may
 * write (and then to anything). */
static uint8_t guess_flags(const char *text, size_t len)
{
	static const char *const harmless[] = {
		"select",   "show",    "values",     "begin",	"start",
		"commit",   "end",     "rollback",   "abort",	"savepoint",
		"release",  "set",     "reset",	     "discard", "listen",
		"unlisten", "prepare", "deallocate", "fetch",	"close",
		"declare",
	};
	struct sql_scanner s;
	struct sql_token t;

	sqlscan_init(&s, text, len);
	while (sqlscan_next(&s, &t)) {
		if (t.kind == SQLTOK_COMMENT || t.kind == SQLTOK_PUNCT)
			continue;
		if (t.kind != SQLTOK_WORD)
			break;
		for (size_t i = 0; i < ARRAY_SIZE(harmless); i++)
			if (t.len == strlen(harmless[i]) &&
			    strncasecmp(t.p, harmless[i], t.len) == 0)
				return 0;
		break;
	}
	return ANA_SI_WRITES | ANA_SI_WRITES_ALL;
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

static void count_table(struct cache *c, uint64_t table)
{
	table_stats(c, table)->invalidations++;
}

static void name_table(struct cache *c, uint64_t table, const char *name)
{
	struct cache_table_stats *t = table_stats(c, table);

	if (!t->name[0])
		snprintf(t->name, sizeof(t->name), "%s", name);
}

/* ---- Redis: connection and breaker ---- */

static void arm_timer(struct cache *c, int64_t us)
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

static void op_free(struct cache_op *op)
{
	op_unlink(op);
	free(op->material);
	pgp_free(op);
}

static struct cache_op *op_new(struct cache *c, enum op_kind kind)
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
	arm_timer(c, (int64_t)c->pp->cfg->redis_timeout_ms * 1000);
	return op;
}

static bool redis_up(struct cache *c)
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
	arm_timer(c, BREAKER_OPEN_US);
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
	/* a database whose writes this instance could not invalidate while
	 * Redis was unreachable: everything cached for it goes */
	for (int i = 0; i < c->nmissed; i++) {
		char key[40];
		const char *argv[2] = {"INCR", key};

		snprintf(key, sizeof(key), "pgperf:g:%016llx",
			 (unsigned long long)c->missed_db[i]);
		redisAsyncCommandArgv(c->ac, NULL, NULL, 2, argv, NULL);
	}
	c->nmissed = 0;
	c->state = "up";
	c->said_down = false;
	log_info("cache: Redis at %s:%d is up", c->host, c->port);
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
		arm_timer(c, BREAKER_OPEN_US);
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
	if (!c->ac && !next)
		next = c->retry_at_us - now;
	if (c->ops.next != &c->ops && !next)
		next = (int64_t)c->pp->cfg->redis_timeout_ms * 1000;
	if (next > 0)
		arm_timer(c, next);
}

static bool parse_url(struct cache *c, const char *url)
{
	const char *p = url, *at, *slash, *colon;
	char hostport[256];

	if (strncmp(p, "redis://", 8) != 0)
		return false;
	p += 8;
	c->port = 6379;
	snprintf(c->host, sizeof(c->host), "127.0.0.1");
	if ((at = strchr(p, '@'))) {
		const char *pc = memchr(p, ':', (size_t)(at - p));

		if (pc)
			snprintf(c->password, sizeof(c->password), "%.*s",
				 (int)(at - pc - 1), pc + 1);
		p = at + 1;
	}
	slash = strchr(p, '/');
	snprintf(hostport, sizeof(hostport), "%.*s",
		 (int)(slash ? (size_t)(slash - p) : strlen(p)), p);
	if ((colon = strrchr(hostport, ':'))) {
		c->port = atoi(colon + 1);
		hostport[colon - hostport] = '\0';
	}
	if (hostport[0])
		snprintf(c->host, sizeof(c->host), "%s", hostport);
	if (slash && slash[1])
		c->db = atoi(slash + 1);
	return c->port > 0 && c->port < 65536 && c->db >= 0;
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
	if (!parse_url(c, pp->cfg->redis_url)) {
		log_error("cache: redis_url \"%s\" is not redis://[:password@]"
			  "host[:port][/db]; the cache is off",
			  pp->cfg->redis_url);
		cache_free(c);
		return NULL;
	}
	if (!parse_rules(pp->cfg->cache_rules, &c->rules, &c->nrules, err,
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
	while (c->ops.next && c->ops.next != &c->ops)
		op_free(c->ops.next);
	if (c->timer)
		event_free(c->timer);
	pgp_free(c->info);
	pgp_free(c->fps);
	pgp_free(c->tbl);
	pgp_free(c->rules);
	pgp_free(c->missed_db);
	pgp_free(c);
}

/* ---- keys and blobs ---- */

static void gen_key(char *buf, size_t cap, uint64_t db, uint64_t table)
{
	if (table)
		snprintf(buf, cap, "pgperf:g:%016llx",
			 (unsigned long long)pgp_mix64(db ^ pgp_mix64(table)));
	else
		snprintf(buf, cap, "pgperf:g:%016llx", (unsigned long long)db);
}

static uint64_t db_hash(const struct client *cl)
{
	return ana_value_hash(cl->database, strlen(cl->database));
}

/* Everything an entry depends on, byte for byte; NULL when the session
 * changed a setting the key does not cover. */
static char *key_material(const struct client *cl, const char *sql, size_t len,
			  size_t *out_len)
{
	struct wbuf b;
	char *m;

	for (int i = 0; i < cl->sets.n; i++)
		if (!is_modeled(cl->sets.items[i].name))
			return NULL;
	wb_init(&b);
	wb_bytes(&b, "pgperf1", 8);
	wb_cstr(&b, cl->database);
	wb_cstr(&b, cl->user);
	for (size_t i = 0; i + 1 < ARRAY_SIZE(modeled); i++) {
		const char *v = kv_get(&cl->sets, modeled[i]);

		if (!v)
			v = kv_get(&cl->params, modeled[i]);
		wb_cstr(&b, modeled[i]);
		wb_cstr(&b, v ? v : "");
	}
	wb_bytes(&b, sql, len);
	if (b.failed) {
		wb_free(&b);
		return NULL;
	}
	*out_len = b.len;
	m = malloc(b.len);
	if (m)
		memcpy(m, b.data, b.len);
	wb_free(&b);
	return m;
}

static void entry_key(char *buf, const char *material, size_t mlen)
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)material, mlen, d);
	memcpy(buf, "pgperf:e:", 9);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(buf + 9 + i * 2, 3, "%02x", d[i]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/*
 * Is a blob read back from Redis an entry for exactly this statement,
 * filled under these generations, holding well-formed replies?  Returns
 * the reply bytes (and their length) within the blob, or NULL.
 */
const uint8_t *cache_blob_check(const uint8_t *b, size_t n, uint8_t ngens,
				const char *material, size_t mlen_want,
				const uint64_t *gens, size_t *body_len)
{
	size_t hdr = 16, mlen, blen, off;
	uint8_t last = 0;

	if (n < hdr || memcmp(b, BLOB_MAGIC, 4) != 0 || b[4] != BLOB_VERSION ||
	    b[5] != ngens)
		return NULL;
	mlen = be32(b + 8);
	blen = be32(b + 12);
	/* each part within the blob, without overflow */
	if (mlen > n || blen > n || n != hdr + (size_t)ngens * 8 + mlen + blen)
		return NULL;
	for (int i = 0; i < ngens; i++)
		if (be64(b + hdr + (size_t)i * 8) != gens[i])
			return NULL; /* filled before a write */
	off = hdr + (size_t)ngens * 8;
	if (mlen != mlen_want || memcmp(b + off, material, mlen) != 0)
		return NULL; /* another statement or session (or a collision) */
	off += mlen;
	for (size_t p = off; p < n;) {
		uint32_t len;

		if (n - p < 5)
			return NULL;
		len = be32(b + p + 1);
		if (wire_check_header(WIRE_FROM_SERVER, b[p], len,
				      WIRE_MAX_MESSAGE_LEN) != PGP_OK ||
		    (b[p] != 'T' && b[p] != 'D' && b[p] != 'C') ||
		    n - p - 1 < len)
			return NULL;
		last = b[p];
		p += (size_t)len + 1;
	}
	if (last != 'C')
		return NULL;
	*body_len = blen;
	return b + off;
}

/* ---- lookups ---- */

static void resume_client(struct client *cl)
{
	conn_read_enable(&cl->c);
	if (evbuffer_get_length(bufferevent_get_input(cl->c.bev)))
		client_input(cl);
}

/* Go to PostgreSQL (after a miss, or without Redis). */
static void to_server(struct client *cl, struct cache_op *op, bool hit_ok,
		      const uint64_t *gens)
{
	if (op && op->fill && hit_ok &&
	    (cl->cache.fill = pgp_calloc(1, sizeof(*cl->cache.fill)))) {
		struct cache_fill *f = cl->cache.fill;

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
	conn_read_enable(&cl->c);
	if (cl->state == CL_IDLE)
		pool_request_server(cl->pool, cl);
}

static void lookup_done(redisAsyncContext *ac, void *r, void *privdata)
{
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
		op_free(op);
		return;
	}
	if (body) {
		struct wbuf b;
		struct evbuffer *in = bufferevent_get_input(cl->c.bev);
		struct cache_fp_stats *fs = fp_stats(c, op->info.fp);

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
		/* the request is answered: take it off the input */
		evbuffer_drain(in, op->drain);
		if (!conn_send(&cl->c, &b)) {
			wb_free(&b);
			op_free(op);
			client_close(cl, "53200", "out of memory");
			return;
		}
		wb_free(&b);
		op_free(op);
		resume_client(cl);
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
	to_server(cl, op, ok, gens);
	op_free(op);
}

/*
 * The request at the head of an idle client's input, if the cache can
 * take it whole: a simple Query, or the extended protocol's unnamed
 * Parse, Bind, optional Describe of the portal, Execute of all rows and
 * Sync (what PQexecParams and pgbench -M extended send).
 */
struct request_view {
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

static void view_free(struct request_view *v)
{
	pgp_free(v->sql);
	pgp_free(v->extra);
	memset(v, 0, sizeof(*v));
}

#define VIEW_MAX 65536 /* longer requests are not cached */

static bool view_query(struct evbuffer *in, uint32_t len,
		       struct request_view *v)
{
	struct evbuffer_ptr ptr;

	if (len < 5 || len > VIEW_MAX ||
	    evbuffer_get_length(in) < (size_t)len + 1 ||
	    !(v->sql = pgp_malloc(len - 4)))
		return false;
	evbuffer_ptr_set(in, &ptr, 5, EVBUFFER_PTR_SET);
	evbuffer_copyout_from(in, &ptr, v->sql, len - 4);
	v->sql_len = strnlen(v->sql, len - 4);
	v->total = (size_t)len + 1;
	return true;
}

static bool view_extended(struct client *cl, struct evbuffer *in,
			  struct request_view *v)
{
	size_t avail = evbuffer_get_length(in),
	       n = avail < VIEW_MAX ? avail : VIEW_MAX;
	uint8_t *buf = pgp_malloc(n ? n : 1);
	size_t off = 0;
	int step = 0; /* P, B, D?, E, S */
	bool ok = false;

	if (!buf)
		return false;
	evbuffer_copyout(in, buf, n);
	while (off + 5 <= n) {
		uint8_t t = buf[off];
		uint32_t len = wire_get_u32(buf + off + 1);
		const uint8_t *body = buf + off + 5;
		struct wcursor c;
		const char *name, *q;

		if (len < 4 || off + 1 + len > n)
			break;
		wc_init(&c, body, len - 4);
		if (step == 0 && t == 'P') {
			size_t ql;

			if (!wc_cstr(&c, &name, NULL) || name[0] ||
			    !wc_cstr(&c, &q, &ql))
				break;
			v->sql_len = ql;
			if (!(v->sql = pgp_malloc(ql + 1)))
				break;
			memcpy(v->sql, q, ql + 1);
			v->parsed = true;
			step = 1;
		} else if (step == 1 && t == 'B') {
			const char *portal;

			if (!wc_cstr(&c, &portal, NULL) || portal[0] ||
			    !wc_cstr(&c, &name, NULL) || name[0])
				break;
			step = 2;
		} else if (step == 0 && t == 'B') {
			/* a named statement this client prepared before
			 * (transaction mode tracks them): its text and types */
			const char *portal;
			size_t nl;

			if (!wc_cstr(&c, &portal, NULL) || portal[0] ||
			    !wc_cstr(&c, &name, &nl) || !name[0] ||
			    !(v->named = prep_client_get(&cl->prep, name, nl)))
				break;
			v->sql_len = strnlen(v->named->body, v->named->len);
			if (!(v->sql = pgp_malloc(v->sql_len + 1)))
				break;
			memcpy(v->sql, v->named->body, v->sql_len);
			v->sql[v->sql_len] = '\0';
			step = 2;
		} else if (step == 2 && t == 'D') {
			uint8_t what;

			if (!wc_u8(&c, &what) || what != 'P' ||
			    !wc_cstr(&c, &name, NULL) || name[0])
				break;
			step = 3;
		} else if ((step == 2 || step == 3) && t == 'E') {
			uint32_t max;

			if (!wc_cstr(&c, &name, NULL) || name[0] ||
			    !wc_u32(&c, &max) || max != 0)
				break;
			step = 4;
		} else if (step == 4 && t == 'S') {
			v->total = off + 1 + len;
			ok = true;
			break;
		} else {
			break;
		}
		off += 1 + (size_t)len;
	}
	/* the key covers every byte of Parse (its parameter types), Bind
	 * (parameters, their formats, the result formats) and whether the
	 * portal was described */
	if (ok && (v->extra = pgp_malloc(v->total +
					 (v->named ? v->named->len : 0)))) {
		size_t o = 0;

		if (v->named) { /* the statement's text and parameter types */
			memcpy(v->extra, v->named->body, v->named->len);
			o = v->named->len;
		}
		memcpy(v->extra + o, buf, v->total);
		v->extra_len = o + v->total;
		v->extended = true;
	} else {
		ok = false;
	}
	pgp_free(buf);
	return ok;
}

int cache_idle_input(struct client *cl)
{
	struct cache *c = cl->c.pp->cache;
	struct evbuffer *in;
	uint8_t hdr[5];
	struct shape sh;
	struct cinfo *ci;
	struct cache_op *op;
	struct request_view v;
	const char *argv[2 + MAX_GENS];
	int ttl, rule;

	if (!c)
		return 0;
	if (cl->cache.op)
		return 1; /* a lookup is in flight: the rest waits */
	in = bufferevent_get_input(cl->c.bev);
	if (evbuffer_copyout(in, hdr, 5) < 5 ||
	    (hdr[0] != 'Q' && hdr[0] != 'P' && hdr[0] != 'B'))
		return 0;
	memset(&v, 0, sizeof(v));
	if (!(hdr[0] == 'Q' ? view_query(in, wire_get_u32(hdr + 1), &v)
			    : view_extended(cl, in, &v))) {
		view_free(&v);
		return 0; /* not whole yet, too long, or another pattern */
	}
	c->st.lookups++;
	if (!redis_up(c) || !c->pp->ana) {
		view_free(&v);
		c->st.bypassed++;
		return 0;
	}
	info_drain(c);
	shape_compute(v.sql, v.sql_len, &sh);
	ci = info_slot(c, sh.hash ? sh.hash : 1);
	if (!ci->shape || ci->provisional || !(ci->flags & ANA_SI_CACHEABLE)) {
		view_free(&v);
		c->st.bypassed++;
		return 0;
	}
	{
		size_t mlen;
		char *m =
			v.extended
				? key_material(cl, v.extra, v.extra_len, &mlen)
				: key_material(cl, v.sql, v.sql_len, &mlen);
		uint64_t h = m ? pgp_hash_bytes(m, mlen) : 0;

		if (!m) { /* a setting the key does not cover */
			view_free(&v);
			c->st.bypassed++;
			return 0;
		}
		if (!ci->calls++)
			ci->first_us = pgp_now_us();
		for (size_t i = 0; i < ARRAY_SIZE(ci->recent); i++)
			if (ci->recent[i] == h) {
				ci->repeats++;
				break;
			}
		ci->recent[ci->next++ % ARRAY_SIZE(ci->recent)] = h;
		if (!(ttl = ttl_for(c, ci, &rule)) ||
		    !(op = op_new(c, OP_LOOKUP))) {
			free(m);
			view_free(&v);
			c->st.bypassed++;
			return 0;
		}
		op->material = m;
		op->mlen = mlen;
	}
	op->drain = v.total;
	op->extended = v.extended;
	op->parsed = v.parsed;
	view_free(&v);
	op->cl = cl;
	op->info = *ci;
	op->ttl = ttl;
	op->rule = rule;
	op->fill = true;
	entry_key(op->key, op->material, op->mlen);
	/* the entry, the database's generation, each table's */
	op->ngens = (uint8_t)(1 + ci->nread);
	gen_key(op->gen_keys[0], sizeof(op->gen_keys[0]), db_hash(cl), 0);
	for (int i = 0; i < ci->nread; i++)
		gen_key(op->gen_keys[i + 1], sizeof(op->gen_keys[0]),
			db_hash(cl), ci->read[i]);
	argv[0] = "MGET";
	argv[1] = op->key;
	for (int i = 0; i < op->ngens; i++)
		argv[i + 2] = op->gen_keys[i];
	if (redisAsyncCommandArgv(c->ac, lookup_done, op, op->ngens + 2, argv,
				  NULL) != REDIS_OK) {
		op_free(op);
		c->st.redis_errors++;
		return 0;
	}
	op->pending = 1;
	cl->cache.op = op;
	conn_read_disable(&cl->c); /* until Redis answers */
	return 1;
}

/* ---- fills ---- */

static void fill_done(redisAsyncContext *ac, void *r, void *privdata)
{
	struct cache_op *op = privdata;
	redisReply *reply = r;

	(void)ac;
	if (!reply || reply->type == REDIS_REPLY_ERROR)
		op->c->st.redis_errors++;
	op_free(op);
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

	if (!b || !redis_up(c) || !(op = op_new(c, OP_FILL))) {
		free(b);
		c->st.fill_skipped++;
		return;
	}
	memcpy(b, BLOB_MAGIC, 4);
	b[4] = BLOB_VERSION;
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
		op_free(op);
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
	info_drain(c);
	ci = info_slot(c, shape);
	if (!ci->shape && (ci = info_put(c, shape))) {
		ci->provisional = true;
		ci->flags = guess_flags(text, len);
	}
}

void cache_note_statement(struct client *cl, uint64_t shape, const char *text,
			  size_t len)
{
	struct cache *c = cl->c.pp->cache;
	struct cinfo *ci;

	if (!c || !shape)
		return;
	info_drain(c);
	ci = info_slot(c, shape);
	if (!ci->shape) {
		if (!text)
			ci = NULL; /* an Execute of a shape never seen */
		else if ((ci = info_put(c, shape))) {
			ci->provisional = true;
			ci->flags = guess_flags(text, len);
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

static void inval_done(redisAsyncContext *ac, void *r, void *privdata)
{
	struct cache_op *op = privdata;
	redisReply *reply = r;
	struct client *cl;
	struct server *sv;

	(void)ac;
	if (!reply || reply->type == REDIS_REPLY_ERROR) {
		op->failed = true;
		op->c->st.redis_errors++;
	}
	if (--op->pending > 0)
		return;
	cl = op->cl;
	sv = op->sv;
	if (op->failed && cl) {
		/* remember to drop the whole database's entries once Redis is
		 * back: these writes were not invalidated */
		uint64_t db = db_hash(cl), *m;

		if ((m = pgp_realloc(op->c->missed_db,
				     (size_t)(op->c->nmissed + 1) *
					     sizeof(*m)))) {
			op->c->missed_db = m;
			m[op->c->nmissed++] = db;
		}
	}
	op_free(op);
	if (!cl)
		return;
	cl->cache.op = NULL;
	cl->cache.released = true;
	if (sv && cl->server == sv) {
		conn_read_enable(&sv->c);
		server_relay(sv);
	}
}

bool cache_hold_ready(struct client *cl, struct server *sv)
{
	struct cache *c = cl->c.pp->cache;
	struct cache_op *op;
	char keys[CL_CACHE_INVAL + 1][40];
	uint64_t db;
	int n = 0;

	if (!c)
		return false;
	if (cl->cache.op && cl->cache.op->kind == OP_INVAL)
		return true; /* still waiting */
	if (cl->cache.released) {
		cl->cache.released = false;
		return false;
	}
	if (!cl->cache.ninval && !cl->cache.inval_all)
		return false;
	db = db_hash(cl);
	if (cl->cache.inval_all) {
		gen_key(keys[n++], sizeof(keys[0]), db, 0);
		/* counted as one pseudo-table */
		name_table(c, WHOLE_DB, "(whole database)");
		count_table(c, WHOLE_DB);
	}
	for (int i = 0; i < cl->cache.ninval; i++) {
		gen_key(keys[n++], sizeof(keys[0]), db, cl->cache.inval[i]);
		count_table(c, cl->cache.inval[i]);
	}
	c->st.invalidations += (uint64_t)n;
	cl->cache.ninval = 0;
	cl->cache.inval_all = false;
	if (!redis_up(c) || !(op = op_new(c, OP_INVAL))) {
		/* no Redis: nothing is served from it now, and everything of
		 * this database is dropped when it is back */
		uint64_t *m = pgp_realloc(
			c->missed_db, (size_t)(c->nmissed + 1) * sizeof(*m));

		if (m) {
			c->missed_db = m;
			m[c->nmissed++] = db;
		}
		return false;
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
		op_free(op);
		return false;
	}
	cl->cache.op = op;
	conn_read_disable(&sv->c); /* the ReadyForQuery waits in the input */
	return true;
}

void cache_client_gone(struct client *cl)
{
	if (cl->cache.op)
		cl->cache.op->cl = NULL;
	cl->cache.op = NULL;
	fill_free(cl);
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
