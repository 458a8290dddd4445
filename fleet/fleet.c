/*
 * fleet.c -- the fleet thread: member records published to Redis and
 * merged into the fleet view, and the leases on server connections.
 *
 * Redis, for a namespace NS (cache_namespace; the prefix is
 * "pgperf:fleet:" or "pgperf:fleet:NS:"):
 *   PREFIX members          hash: member id -> when it last published
 *   PREFIX m:ID             the member's record (fleet_record.c), expiring
 *                           after ten of its periods (at least a minute):
 *                           until then a member that stopped publishing
 *                           is shown stale, then it is forgotten
 *   PREFIX lease:db:NAME    hash: member id -> "grant:open:want:expiry"
 *   PREFIX lease:user:NAME  (the same for max_user_connections)
 *
 * Every call is a blocking hiredis call with a one-second timeout, made
 * on this thread only; the I/O thread trades with it under `mu`, held
 * only to copy a few small arrays or swap a pointer.
 */
#include "fleet/fleet.h"

#include "analyzer/analyzer.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define REDIS_TIMEOUT_S 1
#define RECONNECT_US 1000000LL
#define FORGET_MIN_S 60

struct fleet {
	struct analyzer *ana;
	pthread_t thread;
	int wake_fd, notify_fd;
	_Atomic bool stop;
	_Atomic bool redis_up; /* connected, or not yet failed to */
	int64_t started_us;    /* wall clock */
	int pid;
	char host[64];

	pthread_mutex_t mu; /* guards what follows, up to the thread's own */
	struct fleet_conf conf;
	struct fleet_pool *pools; /* handed by the I/O thread */
	size_t npools;
	struct fleet_demand *dem;
	size_t ndem;
	bool urgent;
	struct fleet_cap *caps;
	size_t ncaps;
	int live; /* the most members a lease round saw in a scope */
	struct fleet_view *view;
	char redis_state[64];

	/* the fleet thread's own */
	uint64_t round;	       /* lease rounds run */
	struct issued *issued; /* grants of the last rounds, per scope */
	size_t nissued;
	redisContext *rc;
	int64_t retry_us;
	bool down_logged;
	int64_t next_lease; /* monotonic: when the next lease round is due */
	int64_t refused_logged_us; /* monotonic: last error reply logged */
};

/* Redis said no (a wrong password, an ACL, a script error): the same
 * answer comes every round, so it is logged once a minute at most. */
#define REFUSED_LOG_US (60 * 1000000LL)

/*
 * The grants of one scope in the last ISSUED_ROUNDS rounds: the I/O thread
 * counts its connections a moment before the round that uses the count,
 * and may meanwhile have opened more under any grant handed out since.
 */
#define ISSUED_ROUNDS 32
struct issued {
	enum fleet_scope scope;
	char name[160];
	uint64_t round[ISSUED_ROUNDS];
	int grant[ISSUED_ROUNDS];
	int n; /* entries used; the newest at (n - 1) % ISSUED_ROUNDS */
};

/* Grant this member a share of a limit; see the comment in lease_round. */
static const char LEASE_SCRIPT[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local me, want, open = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
	"local limit, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
	"local all = redis.call('HGETALL', KEYS[1])\n"
	"local reserved, live, starving = 0, 1, false\n"
	"for i = 1, #all, 2 do\n"
	"  if all[i] ~= me then\n"
	"    local g, o, w, e = string.match(all[i + 1],\n"
	"      '^(%d+):(%d+):(%d+):(%d+)$')\n"
	"    if not g or tonumber(e) < now then\n"
	"      redis.call('HDEL', KEYS[1], all[i])\n"
	"    else\n"
	"      g, o, w = tonumber(g), tonumber(o), tonumber(w)\n"
	"      reserved = reserved + math.max(g, o)\n"
	"      live = live + 1\n"
	"      if w > g then starving = true end\n"
	"    end\n"
	"  end\n"
	"end\n"
	"local grant = math.min(want, limit - reserved)\n"
	"if starving then\n"
	"  local fair = math.max(math.floor(limit / live), 1)\n"
	"  if grant > fair then grant = fair end\n"
	"end\n"
	"if grant < 0 then grant = 0 end\n"
	"redis.call('HSET', KEYS[1], me, grant .. ':' .. open .. ':' .. want ..\n"
	"  ':' .. (now + ttl))\n"
	"redis.call('PEXPIRE', KEYS[1], ttl * 4)\n"
	"return {grant, live}\n";

static void kick(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* the counter is full: a wake-up is pending anyway */
	}
}

static void set_state(struct fleet *f, const char *s)
{
	pthread_mutex_lock(&f->mu);
	snprintf(f->redis_state, sizeof(f->redis_state), "%s", s);
	pthread_mutex_unlock(&f->mu);
}

static void prefix(const struct fleet_conf *c, char *buf, size_t cap)
{
	if (c->ns[0])
		snprintf(buf, cap, "pgperf:fleet:%s:", c->ns);
	else
		snprintf(buf, cap, "pgperf:fleet:");
}

static void member_id(const struct fleet *f, const struct fleet_conf *c,
		      char *buf, size_t cap)
{
	if (c->peer_id)
		snprintf(buf, cap, "%d", c->peer_id);
	else
		snprintf(buf, cap, "%s:%d", f->host, f->pid);
}

/* ---- the connection ---- */

static void drop_conn(struct fleet *f, const char *why)
{
	char s[64];

	if (f->rc) {
		snprintf(s, sizeof(s), "lost: %.50s", why);
		log_warning("fleet: Redis connection lost (%s); the fleet view "
			    "stops, leases fall back to shares",
			    why);
		redisFree(f->rc);
		f->rc = NULL;
		set_state(f, s);
	}
	atomic_store(&f->redis_up, false);
	f->retry_us = pgp_now_us() + RECONNECT_US;
}

static void log_refused(struct fleet *f, const char *what, const char *err)
{
	int64_t now = pgp_now_us();

	if (f->refused_logged_us && now - f->refused_logged_us < REFUSED_LOG_US)
		return;
	f->refused_logged_us = now;
	log_warning("fleet: Redis%s: %s (such errors are logged once a "
		    "minute)",
		    what, err);
}

static redisReply *command(struct fleet *f, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(f->rc, fmt, ap);
	va_end(ap);
	if (!r) {
		drop_conn(f, f->rc->errstr);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		log_refused(f, "", r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

static bool connected(struct fleet *f, const struct fleet_conf *c)
{
	struct timeval tv = {REDIS_TIMEOUT_S, 0};
	redisReply *r;
	char s[64];

	if (f->rc)
		return true;
	if (pgp_now_us() < f->retry_us)
		return false;
	f->rc = redisConnectWithTimeout(c->host, c->port, tv);
	if (!f->rc || f->rc->err) {
		snprintf(s, sizeof(s), "cannot connect: %.40s",
			 f->rc ? f->rc->errstr : "out of memory");
		if (!f->down_logged)
			log_warning("fleet: Redis at %s:%d: %s; retrying "
				    "every second",
				    c->host, c->port, s);
		f->down_logged = true;
		atomic_store(&f->redis_up, false);
		if (f->rc)
			redisFree(f->rc);
		f->rc = NULL;
		f->retry_us = pgp_now_us() + RECONNECT_US;
		set_state(f, s);
		return false;
	}
	redisSetTimeout(f->rc, tv);
	if (c->password[0]) {
		if (!(r = command(f, "AUTH %s", c->password)))
			goto refused;
		freeReplyObject(r);
	}
	if (c->db) {
		if (!(r = command(f, "SELECT %d", c->db)))
			goto refused;
		freeReplyObject(r);
	}
	if (f->down_logged)
		log_info("fleet: Redis at %s:%d is back", c->host, c->port);
	f->down_logged = false;
	atomic_store(&f->redis_up, true);
	set_state(f, "connected");
	return true;
refused:
	atomic_store(&f->redis_up, false);
	if (f->rc)
		redisFree(f->rc);
	f->rc = NULL;
	f->retry_us = pgp_now_us() + RECONNECT_US;
	set_state(f, "refused (AUTH or SELECT)");
	return false;
}

/* ---- leases ---- */

/*
 * One round: for every limited scope, the script (atomic in Redis) sums
 * what the other live members hold (the larger of their grant and what
 * they may have open: held_of()), grants this member what it wants
 * up to what is left, and, while another member waits for more than it
 * was granted, no more than an even share, so that a member holding
 * most of the limit gives some back as its connections are released.
 * Expired records are removed: a dead member's share comes free once its
 * lease ends.  A member only opens a connection while it has fewer than
 * its grant, so the fleet together never opens more than the limit.
 */
static struct issued *issued_for(struct fleet *f, enum fleet_scope s,
				 const char *name, bool add)
{
	struct issued *w;

	for (size_t i = 0; i < f->nissued; i++)
		if (f->issued[i].scope == s &&
		    strcmp(f->issued[i].name, name) == 0)
			return &f->issued[i];
	if (!add ||
	    !(w = realloc(f->issued, (f->nissued + 1) * sizeof(*f->issued))))
		return NULL;
	f->issued = w;
	w = &f->issued[f->nissued++];
	memset(w, 0, sizeof(*w));
	w->scope = s;
	snprintf(w->name, sizeof(w->name), "%s", name);
	return w;
}

/*
 * What this member may have open, at most, from now until it hears of the
 * next grant: what it counted, and every grant handed out since the round
 * it was keeping to when it counted (all kept ones if that round is
 * older than the history).
 */
static int held_of(struct fleet *f, const struct fleet_demand *d)
{
	const struct issued *h = issued_for(f, d->scope, d->name, false);
	int held = d->open, k = 0;
	uint64_t oldest = UINT64_MAX;

	if (!h)
		return held;
	k = h->n < ISSUED_ROUNDS ? h->n : ISSUED_ROUNDS;
	for (int i = 0; i < k; i++)
		if (h->round[i] < oldest)
			oldest = h->round[i];
	for (int i = 0; i < k; i++)
		if ((!d->round || d->round < oldest ||
		     h->round[i] >= d->round) &&
		    h->grant[i] > held)
			held = h->grant[i];
	return held;
}

static void issued_note(struct fleet *f, const struct fleet_demand *d,
			uint64_t round, int grant)
{
	struct issued *h = issued_for(f, d->scope, d->name, true);

	if (!h)
		return;
	h->round[h->n % ISSUED_ROUNDS] = round;
	h->grant[h->n % ISSUED_ROUNDS] = grant;
	h->n++;
}

/* Append to caps[0..n) the old caps still running whose scope got no
 * answer; caps has room for all of old.  Returns the new count. */
static size_t keep_unanswered(struct fleet_cap *caps, size_t n,
			      const struct fleet_cap *old, size_t nold,
			      int64_t now)
{
	size_t answered = n;

	for (size_t i = 0; i < nold; i++) {
		bool found = false;

		if (old[i].until_us <= now)
			continue;
		for (size_t k = 0; k < answered && !found; k++)
			found = caps[k].scope == old[i].scope &&
				strcmp(caps[k].name, old[i].name) == 0;
		if (!found)
			caps[n++] = old[i];
	}
	return n;
}

static void lease_round(struct fleet *f, const struct fleet_conf *c)
{
	struct fleet_demand *d;
	struct fleet_cap *caps;
	size_t n, got = 0;
	char pre[160], id[FLEET_ID_MAX];
	int64_t sent = pgp_now_us();
	int live = 0;

	pthread_mutex_lock(&f->mu);
	n = f->ndem;
	d = n ? malloc(n * sizeof(*d)) : NULL;
	if (d)
		memcpy(d, f->dem, n * sizeof(*d));
	f->urgent = false;
	pthread_mutex_unlock(&f->mu);
	if (!d)
		return;
	/* room for the old caps too (see keep_unanswered below) */
	pthread_mutex_lock(&f->mu);
	caps = calloc(n + f->ncaps, sizeof(*caps));
	pthread_mutex_unlock(&f->mu);
	if (!caps) {
		free(d);
		return;
	}
	prefix(c, pre, sizeof(pre));
	member_id(f, c, id, sizeof(id));
	f->round++;
	for (size_t i = 0; i < n; i++) {
		int want = d[i].open + d[i].waiting;

		if (want > d[i].limit)
			want = d[i].limit;
		redisAppendCommand(
			f->rc, "EVAL %s 1 %slease:%s:%s %s %d %d %d %d",
			LEASE_SCRIPT, pre,
			d[i].scope == FLEET_DB ? "db" : "user", d[i].name, id,
			want, held_of(f, &d[i]), d[i].limit, c->lease_ttl_ms);
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *r = NULL;

		if (redisGetReply(f->rc, (void **)&r) != REDIS_OK || !r) {
			drop_conn(f, f->rc->errstr);
			break;
		}
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		    r->element[0]->type == REDIS_REPLY_INTEGER) {
			struct fleet_cap *k = &caps[got++];

			k->scope = d[i].scope;
			memcpy(k->name, d[i].name, sizeof(k->name));
			k->grant = (int)r->element[0]->integer;
			k->round = f->round;
			issued_note(f, &d[i], f->round, k->grant);
			/* a tenth short of Redis' expiry: this member stops
			 * counting on the lease before the others may */
			k->until_us = sent + (int64_t)c->lease_ttl_ms * 900;
			if ((int)r->element[1]->integer > live)
				live = (int)r->element[1]->integer;
		} else if (r->type == REDIS_REPLY_ERROR) {
			log_refused(f, ", lease script", r->str);
		}
		freeReplyObject(r);
	}
	free(d);
	pthread_mutex_lock(&f->mu);
	/* scopes that got an error reply keep what they had while it
	 * lasts; with the connection lost, nothing is kept: every scope
	 * falls back to the share at once, so that no client waits for
	 * Redis (a process over it closes servers as they are released) */
	if (f->rc)
		got = keep_unanswered(caps, got, f->caps, f->ncaps,
				      pgp_now_us());
	free(f->caps);
	f->caps = caps;
	f->ncaps = got;
	if (live)
		f->live = live;
	pthread_mutex_unlock(&f->mu);
	kick(f->notify_fd);
}

/* ---- records and the view ---- */

static void view_free(struct fleet_view *v)
{
	if (!v)
		return;
	analyzer_free_passive(v->ana);
	free(v->members);
	free(v->pools);
	free(v);
}

static int record_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fleet_record *)a)->m.id,
		      ((const struct fleet_record *)b)->m.id);
}

/* Pools of every record, one row per (database, user). */
static void merge_pools(struct fleet_view *v, const struct fleet_record *r,
			size_t nr)
{
	size_t cap = 0;

	for (size_t i = 0; i < nr; i++)
		cap += r[i].npools;
	if (!cap || !(v->pools = calloc(cap, sizeof(*v->pools))))
		return;
	for (size_t i = 0; i < nr && i < FLEET_MAX_MEMBERS; i++)
		for (size_t k = 0; k < r[i].npools; k++) {
			struct fleet_pool p = r[i].pools[k];
			size_t j;

			p.members = (uint64_t)1 << i;
			for (j = 0; j < v->npools; j++)
				if (strcmp(v->pools[j].database, p.database) ==
					    0 &&
				    strcmp(v->pools[j].user, p.user) == 0)
					break;
			if (j == v->npools) {
				v->pools[v->npools] = p;
				v->pools[v->npools].members = 0;
				memset(&v->pools[v->npools].cl_active, 0,
				       sizeof(p) - offsetof(struct fleet_pool,
							    cl_active));
				v->npools++;
			}
			fleet_pool_add(&v->pools[j], &p);
		}
}

static struct fleet_view *build_view(struct fleet *f,
				     const struct fleet_conf *c,
				     struct fleet_record *r, size_t nr)
{
	struct fleet_view *v = calloc(1, sizeof(*v));
	char err[200];

	if (!v)
		return NULL;
	atomic_init(&v->refs, 1);
	v->built_us = pgp_wall_us();
	qsort(r, nr, sizeof(*r), record_cmp);
	if (nr > FLEET_MAX_MEMBERS) {
		log_warning("fleet: %zu members; the view covers the first %d",
			    nr, FLEET_MAX_MEMBERS);
		nr = FLEET_MAX_MEMBERS;
	}
	v->ana = analyzer_new_passive(c->max_tracked_queries * 2);
	v->members = calloc(nr ? nr : 1, sizeof(*v->members));
	if (!v->ana || !v->members) {
		view_free(v);
		return NULL;
	}
	if (f->ana) /* its thresholds: slow_query_ms, cache on or not, ... */
		analyzer_copy_conf(v->ana, f->ana);
	for (size_t i = 0; i < nr; i++) {
		v->members[i] = r[i].m;
		if (r[i].image_len &&
		    !analyzer_state_merge(v->ana, r[i].image, r[i].image_len,
					  (uint64_t)1 << i, err, sizeof(err)))
			log_warning("fleet: member %s: statistics not merged: "
				    "%s",
				    r[i].m.id, err);
	}
	v->nmembers = nr;
	merge_pools(v, r, nr);
	return v;
}

/* Read every member's record (this one's included); false when the
 * connection was lost.  bytes[i] holds what recs[i] points into. */
static bool read_records(struct fleet *f, const char *pre, const char *self,
			 struct fleet_record **recs_out, void ***bytes_out,
			 size_t *nrec)
{
	char key[320];
	redisReply *ids, *rep;
	struct fleet_record *recs;
	void **bytes;
	size_t n = 0;
	bool ok = true;

	*nrec = 0;
	*recs_out = NULL;
	*bytes_out = NULL;
	snprintf(key, sizeof(key), "%smembers", pre);
	if (!(ids = command(f, "HKEYS %s", key)))
		return f->rc != NULL;
	if (ids->type != REDIS_REPLY_ARRAY || !ids->elements) {
		freeReplyObject(ids);
		return true;
	}
	recs = calloc(ids->elements, sizeof(*recs));
	bytes = calloc(ids->elements, sizeof(*bytes));
	if (!recs || !bytes) {
		free(recs);
		free(bytes);
		freeReplyObject(ids);
		return true;
	}
	for (size_t i = 0; i < ids->elements; i++)
		redisAppendCommand(f->rc, "GET %sm:%s", pre,
				   ids->element[i]->str);
	for (size_t i = 0; i < ids->elements; i++) {
		char err[200];

		rep = NULL;
		if (redisGetReply(f->rc, (void **)&rep) != REDIS_OK || !rep) {
			drop_conn(f, f->rc->errstr);
			ok = false;
			break;
		}
		if (rep->type == REDIS_REPLY_NIL) {
			/* its record expired: forget the member (after the
			 * pipelined replies are all read) */
			free(bytes[n]);
			bytes[n] = NULL;
			recs[n].m.pid = -1;
			snprintf(recs[n].m.id, sizeof(recs[n].m.id), "%s",
				 ids->element[i]->str);
			n++;
		} else if (rep->type == REDIS_REPLY_STRING &&
			   (bytes[n] = malloc(rep->len ? rep->len : 1))) {
			memcpy(bytes[n], rep->str, rep->len);
			if (fleet_record_parse(bytes[n], rep->len, &recs[n],
					       err, sizeof(err))) {
				recs[n].m.self =
					strcmp(recs[n].m.id, self) == 0;
				n++;
			} else {
				log_warning("fleet: member %s: %s",
					    ids->element[i]->str, err);
				free(bytes[n]);
				bytes[n] = NULL;
			}
		}
		freeReplyObject(rep);
	}
	freeReplyObject(ids);
	/* forget the expired, keep the rest in place */
	{
		size_t w = 0;

		for (size_t i = 0; i < n; i++) {
			if (recs[i].m.pid == -1 && !bytes[i]) {
				if (ok) {
					rep = command(f, "HDEL %s %s", key,
						      recs[i].m.id);
					if (rep)
						freeReplyObject(rep);
					ok = f->rc != NULL;
				}
				continue;
			}
			recs[w] = recs[i];
			bytes[w++] = bytes[i];
		}
		n = w;
	}
	*recs_out = recs;
	*bytes_out = bytes;
	*nrec = n;
	return ok;
}

/* A lease round if one is due or asked for urgently; the leases are
 * renewed on time even while the view is being built. */
static void lease_if_due(struct fleet *f, const struct fleet_conf *c)
{
	int64_t now = pgp_now_us();
	bool urgent;

	if (!f->rc)
		return;
	pthread_mutex_lock(&f->mu);
	urgent = f->urgent;
	pthread_mutex_unlock(&f->mu);
	if (urgent || now >= f->next_lease) {
		lease_round(f, c);
		f->next_lease = now + (int64_t)c->lease_ttl_ms * 1000 / 3;
	}
}

/* Publish this member's record, then read everyone's and build the view. */
static void publish_and_merge(struct fleet *f, const struct fleet_conf *c)
{
	struct fleet_member me;
	struct fleet_pool *pools = NULL;
	size_t npools = 0, ilen = 0, rlen = 0, nrec = 0;
	void *image = f->ana ? analyzer_state_image(f->ana, &ilen) : NULL;
	void *rec, **bytes = NULL;
	char pre[160], key[320];
	long long forget_ms;
	redisReply *rep;
	struct fleet_record *recs = NULL;
	struct fleet_view *v, *old;

	memset(&me, 0, sizeof(me));
	member_id(f, c, me.id, sizeof(me.id));
	me.peer_id = c->peer_id;
	me.pid = f->pid;
	me.stats_period = c->stats_period;
	snprintf(me.host, sizeof(me.host), "%s", f->host);
	snprintf(me.listen, sizeof(me.listen), "%s", c->listen);
	me.started_us = f->started_us;
	me.published_us = pgp_wall_us();
	pthread_mutex_lock(&f->mu);
	if (f->npools && (pools = malloc(f->npools * sizeof(*pools)))) {
		memcpy(pools, f->pools, f->npools * sizeof(*pools));
		npools = f->npools;
	}
	pthread_mutex_unlock(&f->mu);
	rec = fleet_record_build(&me, pools, npools, image, ilen, &rlen);
	free(pools);
	free(image);
	if (!rec)
		return;
	prefix(c, pre, sizeof(pre));
	forget_ms = 10LL * c->stats_period * 1000;
	if (forget_ms < FORGET_MIN_S * 1000LL)
		forget_ms = FORGET_MIN_S * 1000LL;
	snprintf(key, sizeof(key), "%sm:%s", pre, me.id);
	rep = command(f, "SET %s %b PX %lld", key, rec, rlen, forget_ms);
	free(rec);
	if (!rep)
		return;
	freeReplyObject(rep);
	snprintf(key, sizeof(key), "%smembers", pre);
	if (!(rep = command(f, "HSET %s %s %lld", key, me.id,
			    (long long)me.published_us)))
		return;
	freeReplyObject(rep);
	/* a connection lost half-way still leaves what was read */
	(void)read_records(f, pre, me.id, &recs, &bytes, &nrec);
	/* leases first: merging the images may take a while */
	lease_if_due(f, c);
	v = nrec ? build_view(f, c, recs, nrec) : NULL;
	for (size_t k = 0; k < nrec; k++) {
		fleet_record_free(&recs[k]);
		free(bytes[k]);
	}
	free(recs);
	free(bytes);
	if (!v)
		return;
	pthread_mutex_lock(&f->mu);
	old = f->view;
	f->view = v;
	pthread_mutex_unlock(&f->mu);
	fleet_view_put(old);
}

/* ---- the thread ---- */

static void *fleet_main(void *arg)
{
	struct fleet *f = arg;
	int64_t next_pub = 0;

	while (!atomic_load(&f->stop)) {
		struct fleet_conf c;
		int64_t now = pgp_now_us(), next = next_pub;
		struct pollfd pfd = {f->wake_fd, POLLIN, 0};
		uint64_t v;

		if (f->next_lease < next)
			next = f->next_lease;
		if (next > now)
			(void)poll(&pfd, 1, (int)((next - now) / 1000 + 1));
		if (read(f->wake_fd, &v, sizeof(v)) < 0) {
			/* nothing written: the timeout passed */
		}
		if (atomic_load(&f->stop))
			break;
		pthread_mutex_lock(&f->mu);
		c = f->conf;
		pthread_mutex_unlock(&f->mu);
		now = pgp_now_us();
		if (!connected(f, &c)) {
			int64_t retry = f->retry_us > now ? f->retry_us : now;

			next_pub = f->next_lease = retry;
			continue;
		}
		lease_if_due(f, &c);
		if (f->rc && now >= next_pub) {
			publish_and_merge(f, &c);
			next_pub = now + (int64_t)c.stats_period * 1000000;
		}
	}
	if (f->rc)
		redisFree(f->rc);
	f->rc = NULL;
	return NULL;
}

struct fleet *fleet_start(const struct fleet_conf *c, struct analyzer *ana)
{
	struct fleet *f = pgp_calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->ana = ana;
	f->conf = *c;
	f->pid = (int)getpid();
	f->started_us = pgp_wall_us();
	if (gethostname(f->host, sizeof(f->host) - 1) != 0)
		snprintf(f->host, sizeof(f->host), "localhost");
	snprintf(f->redis_state, sizeof(f->redis_state), "connecting");
	atomic_init(&f->redis_up, true); /* until a connection fails */
	pthread_mutex_init(&f->mu, NULL);
	f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->wake_fd < 0 || f->notify_fd < 0 ||
	    pthread_create(&f->thread, NULL, fleet_main, f) != 0) {
		log_error("fleet: cannot start its thread: the fleet view and "
			  "leases are off");
		if (f->wake_fd >= 0)
			close(f->wake_fd);
		if (f->notify_fd >= 0)
			close(f->notify_fd);
		pthread_mutex_destroy(&f->mu);
		pgp_free(f);
		return NULL;
	}
	return f;
}

void fleet_stop(struct fleet *f)
{
	if (!f)
		return;
	atomic_store(&f->stop, true);
	kick(f->wake_fd);
	pthread_join(f->thread, NULL);
	close(f->wake_fd);
	close(f->notify_fd);
	free(f->pools);
	free(f->dem);
	free(f->caps);
	free(f->issued);
	fleet_view_put(f->view);
	pthread_mutex_destroy(&f->mu);
	pgp_free(f);
}

void fleet_configure(struct fleet *f, const struct fleet_conf *c)
{
	struct fleet_conf n = *c;
	bool moved;

	pthread_mutex_lock(&f->mu);
	/* where the fleet lives and who this member is stay as started: a
	 * member that moved alone would split the fleet, each half holding
	 * the whole limit */
	moved = strcmp(n.host, f->conf.host) != 0 || n.port != f->conf.port ||
		n.db != f->conf.db || strcmp(n.ns, f->conf.ns) != 0 ||
		n.peer_id != f->conf.peer_id ||
		strcmp(n.password, f->conf.password) != 0;
	memcpy(n.host, f->conf.host, sizeof(n.host));
	memcpy(n.password, f->conf.password, sizeof(n.password));
	memcpy(n.ns, f->conf.ns, sizeof(n.ns));
	n.port = f->conf.port;
	n.db = f->conf.db;
	n.peer_id = f->conf.peer_id;
	f->conf = n;
	pthread_mutex_unlock(&f->mu);
	if (moved)
		log_warning("fleet: redis_url, cache_namespace and peer_id "
			    "changes take effect for the fleet at restart");
	kick(f->wake_fd);
}

int fleet_notify_fd(const struct fleet *f)
{
	return f->notify_fd;
}

void fleet_hand(struct fleet *f, struct fleet_pool *pools, size_t npools)
{
	struct fleet_pool *old;

	pthread_mutex_lock(&f->mu);
	old = f->pools;
	f->pools = pools;
	f->npools = npools;
	pthread_mutex_unlock(&f->mu);
	free(old);
}

void fleet_demand(struct fleet *f, const struct fleet_demand *d, size_t n,
		  bool urgent)
{
	struct fleet_demand *copy = n ? malloc(n * sizeof(*d)) : NULL, *old;

	if (n && !copy)
		return;
	if (n)
		memcpy(copy, d, n * sizeof(*d));
	pthread_mutex_lock(&f->mu);
	old = f->dem;
	f->dem = copy;
	f->ndem = n;
	f->urgent = f->urgent || urgent;
	pthread_mutex_unlock(&f->mu);
	free(old);
	if (urgent)
		kick(f->wake_fd);
}

size_t fleet_caps(struct fleet *f, struct fleet_cap *out, size_t cap, int *live)
{
	size_t n;
	uint64_t v;

	if (read(f->notify_fd, &v, sizeof(v)) < 0) {
		/* not written since: nothing new, copied all the same */
	}
	pthread_mutex_lock(&f->mu);
	n = f->ncaps < cap ? f->ncaps : cap;
	if (n)
		memcpy(out, f->caps, n * sizeof(*out));
	/* the most a lease round saw, or the view's members not stale */
	*live = f->view ? fleet_live_members(f->view, pgp_wall_us()) : 0;
	if (f->live > *live)
		*live = f->live;
	pthread_mutex_unlock(&f->mu);
	return n;
}

struct fleet_view *fleet_view_get(struct fleet *f)
{
	struct fleet_view *v;

	pthread_mutex_lock(&f->mu);
	if ((v = f->view))
		atomic_fetch_add(&v->refs, 1);
	pthread_mutex_unlock(&f->mu);
	return v;
}

void fleet_view_put(struct fleet_view *v)
{
	if (v && atomic_fetch_sub(&v->refs, 1) == 1)
		view_free(v);
}

bool fleet_redis_up(const struct fleet *f)
{
	return atomic_load(&f->redis_up);
}

void fleet_redis_state(struct fleet *f, char *buf, size_t cap)
{
	pthread_mutex_lock(&f->mu);
	snprintf(buf, cap, "%s", f->redis_state);
	pthread_mutex_unlock(&f->mu);
}
