/*
 * analyzer.c -- the analyzer thread: the ring it drains, the shape and
 * fingerprint tables, and per-fingerprint statistics (see analyzer.h).
 *
 * Memory is bounded everywhere: at most max_tracked_queries fingerprints
 * (when full, the 5% with the least total time are merged into "other",
 * as pg_stat_statements deallocates its least used entries), four shapes
 * per tracked fingerprint (when full the shape table is cleared and the
 * I/O thread asked to send texts again), 32 (database, user, application)
 * breakdowns per fingerprint (the rest merged into one).
 */
#include "analyzer/analyzer.h"

#include "analyzer_int.h"

#include "analyzer/advisor.h"
#include "analyzer/catalog.h"
#include "analyzer/findings.h"
#include "analyzer/histogram.h"
#include "lib/jsonbuf.h"
#include "lib/log.h"
#include "analyzer/requests.h"
#include "analyzer/sqlparse.h"

#include <pg_query.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

const uint64_t ana_bucket_us[ANA_BUCKETS] = {
	100,   250,   500,    1000,   2500,   5000,    10000,
	25000, 50000, 100000, 250000, 500000, 1000000, 5000000,
};

/* ---- values ---- */

void ana_detail_free(struct ana_detail *d)
{
	if (!d)
		return;
	free(d->sample);
	free(d);
}

uint64_t ana_value_hash(const void *text, size_t len)
{
	uint64_t h = pgp_hash_bytes(text, len);

	return h ? h : 1;
}

struct ana_detail *analyzer_detail_new(struct analyzer *a)
{
	uint32_t h = atomic_load_explicit(&a->fhead, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&a->ftail, memory_order_acquire);
	struct ana_detail *d;

	if (h == t)
		return calloc(1, sizeof(*d));
	d = a->free_ring[h & (FREE_RING - 1)];
	atomic_store_explicit(&a->fhead, h + 1, memory_order_release);
	memset(d, 0, sizeof(*d));
	return d;
}

/* Analyzer thread: a detail is done with; back to the I/O thread. */
static void detail_recycle(struct analyzer *a, struct ana_detail *d)
{
	uint32_t t, h;

	if (!d)
		return;
	free(d->sample);
	d->sample = NULL;
	t = atomic_load_explicit(&a->ftail, memory_order_relaxed);
	h = atomic_load_explicit(&a->fhead, memory_order_acquire);
	if (t - h >= FREE_RING) {
		free(d);
		return;
	}
	a->free_ring[t & (FREE_RING - 1)] = d;
	atomic_store_explicit(&a->ftail, t + 1, memory_order_release);
}

/* ---- the ring ---- */

bool analyzer_push(struct analyzer *a, const struct ana_event *ev)
{
	uint32_t tail = atomic_load_explicit(&a->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&a->head, memory_order_acquire);

	uint32_t bytes = ev->text ? ev->text_len : 0;

	if (tail - head >= RING_SIZE ||
	    (bytes &&
	     atomic_load_explicit(&a->ring_bytes, memory_order_relaxed) +
			     bytes >
		     RING_BYTES)) {
		atomic_fetch_add_explicit(&a->dropped, 1, memory_order_relaxed);
		return false;
	}
	if (bytes) /* texts are rare (a new shape, a login): a locked add */
		atomic_fetch_add_explicit(&a->ring_bytes, bytes,
					  memory_order_relaxed);
	a->ring[tail & (RING_SIZE - 1)] = *ev;
	atomic_store_explicit(&a->tail, tail + 1, memory_order_release);
	/* one producer: a plain store, no locked add */
	atomic_store_explicit(
		&a->pushed,
		atomic_load_explicit(&a->pushed, memory_order_relaxed) + 1,
		memory_order_relaxed);
	if (ev->type == ANA_TEXT)
		/* new shapes are rare and the result cache waits for their
		 * facts: wake an idle analyzer (statements never do) */
		analyzer_kick_fd(a->wake_fd);
	return true;
}

void analyzer_kick_fd(int fd)
{
	uint64_t one = 1;

	/* an eventfd: a full counter (never, in practice) wakes as well */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("analyzer: cannot wake a thread: %s",
			  strerror(errno));
}

/* Sleep until `fd` is written or `ms` pass; consume the wake-up. */
static void sleep_on(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t v;

	if (poll(&p, 1, ms) > 0 && read(fd, &v, sizeof(v)) < 0)
		(void)errno;
}

uint64_t analyzer_ticket(struct analyzer *a)
{
	return atomic_load(&a->pushed);
}

bool analyzer_reached(struct analyzer *a, uint64_t ticket)
{
	return atomic_load(&a->applied) >= ticket;
}

int analyzer_notify_fd(struct analyzer *a)
{
	return a->notify_fd;
}

void analyzer_notify_when(struct analyzer *a, uint64_t ticket)
{
	atomic_store(&a->notify_at, ticket);
	/* an idle analyzer backs off up to 64 ms between looks */
	analyzer_kick_fd(a->wake_fd);
}

/* After a batch: tell the I/O thread when a waiting reader's ticket passed. */
static void notify_readers(struct analyzer *a)
{
	uint64_t want = atomic_load(&a->notify_at);

	if (want && atomic_load(&a->applied) >= want &&
	    atomic_compare_exchange_strong(&a->notify_at, &want, 0))
		analyzer_kick_fd(a->notify_fd);
}

bool analyzer_wants_texts(struct analyzer *a)
{
	if (!atomic_load_explicit(&a->wants_texts, memory_order_relaxed))
		return false;
	atomic_store(&a->wants_texts, false);
	return true;
}

/* ---- tables ---- */

void ana_counters_free(struct counters *c)
{
	hist_free(&c->hist);
	memset(c, 0, sizeof(*c));
}

bool ana_counters_merge(struct counters *d, const struct counters *s)
{
	d->calls += s->calls;
	d->errors += s->errors;
	d->rows += s->rows;
	d->bytes += s->bytes;
	d->wait_us += s->wait_us;
	return hist_merge(&d->hist, &s->hist);
}

static void qstat_free_parts(struct qstat *q)
{
	struct sub *s, *n;

	pgp_free(q->hp);
	q->hp = NULL;
	sqlparse_free(&q->parse);
	ana_counters_free(&q->c);
	free(q->sample);
	q->sample = NULL;
	for (s = q->subs; s; s = n) {
		n = s->next;
		ana_counters_free(&s->c);
		free(s->who);
		pgp_free(s);
	}
	q->subs = NULL;
	q->nsubs = 0;
}

struct qstat *ana_fp_find(struct analyzer *a, uint64_t fp)
{
	struct qstat *q;

	if (!a->nfp_buckets)
		return NULL;
	for (q = a->fp[pgp_mix64(fp) & (a->nfp_buckets - 1)]; q; q = q->next)
		if (q->fingerprint == fp)
			return q;
	return NULL;
}

static void fp_unlink(struct analyzer *a, struct qstat *q)
{
	struct qstat **pp =
		&a->fp[pgp_mix64(q->fingerprint) & (a->nfp_buckets - 1)];

	for (; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			a->nfp--;
			return;
		}
}

static int by_total_asc(const void *x, const void *y)
{
	const struct qstat *a = *(struct qstat *const *)x;
	const struct qstat *b = *(struct qstat *const *)y;

	return a->c.hist.sum < b->c.hist.sum ? -1
					     : a->c.hist.sum > b->c.hist.sum;
}

/* Merge the 5% with the least total time into "other". */
static void evict(struct analyzer *a)
{
	struct qstat **all = pgp_malloc(a->nfp * sizeof(*all));
	size_t n = 0, k;

	if (!all)
		return;
	for (size_t b = 0; b < a->nfp_buckets; b++)
		for (struct qstat *q = a->fp[b]; q; q = q->next)
			all[n++] = q;
	qsort(all, n, sizeof(*all), by_total_asc);
	k = n / 20 ? n / 20 : 1;
	for (size_t i = 0; i < k && i < n; i++) {
		struct qstat *q = all[i];

		(void)ana_counters_merge(&a->other.c, &q->c);
		if (!a->other.first_seen || q->first_seen < a->other.first_seen)
			a->other.first_seen = q->first_seen;
		if (q->last_seen > a->other.last_seen)
			a->other.last_seen = q->last_seen;
		fp_unlink(a, q);
		qstat_free_parts(q);
		pgp_free(q);
		a->t.evicted++;
	}
	pgp_free(all);
	a->t.fingerprints = a->nfp;
}

struct qstat *ana_fp_add(struct analyzer *a, uint64_t fp,
			 struct sqlparse *parse)
{
	struct qstat *q;
	size_t k;

	if ((int)a->nfp >= a->max_fp)
		evict(a);
	if (!(q = pgp_calloc(1, sizeof(*q))))
		return NULL;
	q->fingerprint = fp;
	q->parse = *parse;
	memset(parse, 0, sizeof(*parse));
	hist_init(&q->c.hist);
	k = pgp_mix64(fp) & (a->nfp_buckets - 1);
	q->next = a->fp[k];
	a->fp[k] = q;
	a->nfp++;
	a->t.fingerprints = a->nfp;
	return q;
}

static struct shape_ent *shape_slot(struct analyzer *a, uint64_t shape)
{
	size_t mask = a->nshape_slots - 1, i = pgp_mix64(shape) & mask;

	if (shape == 0)
		shape = 1;
	while (a->shapes[i].shape && a->shapes[i].shape != shape)
		i = (i + 1) & mask;
	return &a->shapes[i];
}

static void shapes_clear(struct analyzer *a)
{
	memset(a->shapes, 0, a->nshape_slots * sizeof(*a->shapes));
	a->nshapes = 0;
	/* the I/O thread's known shapes no longer match: resend texts */
	atomic_store(&a->wants_texts, true);
}

struct client_ent *ana_client_slot(struct analyzer *a, uint64_t id, bool insert)
{
	size_t mask = a->nclient_slots - 1, i = pgp_mix64(id) & mask;
	struct client_ent *tomb = NULL;

	while (a->clients[i].id) {
		if (a->clients[i].id == id)
			return &a->clients[i];
		if (a->clients[i].id == UINT64_MAX && !tomb)
			tomb = &a->clients[i];
		i = (i + 1) & mask;
	}
	if (!insert)
		return NULL;
	return tomb ? tomb : &a->clients[i];
}

/* ---- applying events ---- */

static void on_text(struct analyzer *a, struct ana_event *ev)
{
	struct shape_ent *se;
	struct sqlparse p;
	struct qstat *q;

	if (ev->shape == 0)
		ev->shape = 1;
	se = shape_slot(a, ev->shape);
	if (se->shape) {
		/* known already (texts resent): the I/O thread may have
		 * forgotten its facts too */
		if ((q = ana_fp_find(a, se->fingerprint)))
			ana_publish_info(a, ev->shape, &q->parse);
		return;
	}
	if (a->nshapes * 4 >= a->nshape_slots * 3)
		shapes_clear(a), se = shape_slot(a, ev->shape);
	/* libpg_query, once per shape, with the lock released: parsing is
	 * the slow part and readers need not wait for it */
	pthread_mutex_unlock(&a->lock);
	if (!sqlparse_run(ev->text, &p))
		memset(&p, 0, sizeof(p));
	pthread_mutex_lock(&a->lock);
	if (!p.normalized) {
		sqlparse_free(&p);
		return; /* out of memory: statements count as unknown */
	}
	if (!p.parsed)
		a->t.unparsed++;
	ana_publish_info(a, ev->shape, &p);
	se = shape_slot(a, ev->shape); /* the table may have changed */
	se->shape = ev->shape;
	se->fingerprint = p.fingerprint;
	a->nshapes++;
	a->t.shapes++;
	if (!(q = ana_fp_find(a, p.fingerprint)) &&
	    !(q = ana_fp_add(a, p.fingerprint, &p)))
		log_warning("analyzer: out of memory adding a fingerprint");
	if (q && !q->sample) {
		struct client_ent *ce = ana_client_slot(a, ev->client, false);

		q->sample = ev->text; /* taken over */
		ev->text = NULL;
		q->sample_db[0] = q->sample_user[0] = '\0';
		if (ce && ce->who) {
			snprintf(q->sample_db, sizeof(q->sample_db), "%s",
				 ce->who);
			snprintf(q->sample_user, sizeof(q->sample_user), "%s",
				 ce->who + strlen(ce->who) + 1);
		}
	}
	sqlparse_free(&p);
}

static struct sub *sub_for(struct qstat *q, const struct client_ent *ce)
{
	struct sub *s;
	static const char unknown[] = "?\0?\0?\0";
	const char *who = ce ? ce->who : unknown;
	uint64_t key = ce ? ce->key : 0;
	size_t len;

	for (s = q->subs; s; s = s->next)
		if (s->client_key == key)
			return s;
	if (q->nsubs >= MAX_SUBS) {
		/* the last one stands for all the rest */
		for (s = q->subs; s->next; s = s->next)
			;
		return s;
	}
	if (!(s = pgp_calloc(1, sizeof(*s))))
		return NULL;
	len = strlen(who) + 1;
	len += strlen(who + len) + 1;
	len += strlen(who + len) + 1;
	if (!(s->who = malloc(len))) {
		pgp_free(s);
		return NULL;
	}
	memcpy(s->who, who, len);
	s->client_key = key;
	hist_init(&s->c.hist);
	/* appended, so that the "rest" one stays last */
	if (!q->subs) {
		q->subs = s;
	} else {
		struct sub *t = q->subs;

		while (t->next)
			t = t->next;
		t->next = s;
	}
	q->nsubs++;
	return s;
}

static void count(struct counters *c, const struct ana_event *ev)
{
	c->calls++;
	if (ev->sqlstate[0])
		c->errors++;
	c->rows += ev->rows;
	c->bytes += ev->bytes;
	c->wait_us += ev->wait_us;
	(void)hist_add(&c->hist, ev->dur_us);
}

/* ---- requests ---- */

struct route_ent *ana_route_for(struct analyzer *a, const char *route)
{
	size_t i;

	for (i = 0; i < a->nroutes; i++)
		if (strcmp(a->routes[i].route, route) == 0)
			return &a->routes[i];
	if (a->nroutes >= MAX_ROUTES) {
		struct route_ent *o = &a->routes[MAX_ROUTES];

		if (!o->route[0])
			snprintf(o->route, sizeof(o->route), "(other)");
		return o;
	}
	i = a->nroutes++;
	snprintf(a->routes[i].route, sizeof(a->routes[i].route), "%s", route);
	return &a->routes[i];
}

static void on_stmt(struct analyzer *a, const struct ana_event *ev)
{
	struct shape_ent *se = shape_slot(a, ev->shape ? ev->shape : 1);
	struct qstat *q = se->shape ? ana_fp_find(a, se->fingerprint) : NULL;
	struct client_ent *ce;
	struct sub *s;

	a->t.calls++;
	if (ev->sqlstate[0])
		a->t.errors++;
	if (!se->shape) {
		/* its text was dropped or forgotten: ask for texts again */
		a->t.unknown_shape++;
		atomic_store(&a->wants_texts, true);
	}
	if (!q)
		q = &a->other; /* evicted, or unknown */
	count(&q->c, ev);
	if (!q->first_seen)
		q->first_seen = ev->end_us;
	q->last_seen = ev->end_us;
	if (ev->sqlstate[0]) {
		int i;

		for (i = 0; i < MAX_ERRS && q->err[i].state[0]; i++)
			if (memcmp(q->err[i].state, ev->sqlstate, 6) == 0)
				break;
		if (i < MAX_ERRS) {
			memcpy(q->err[i].state, ev->sqlstate, 6);
			q->err[i].n++;
		}
	}
	ce = ana_client_slot(a, ev->client, false);
	win_stmt(a, ce, ev);
	if (q != &a->other && (s = sub_for(q, ce)))
		count(&s->c, ev);
	if (!ev->sqlstate[0])
		ana_note_writes(a, q != &a->other ? q : NULL);
	if (q != &a->other && ana_sql_cacheable(&q->parse))
		ana_note_hit_potential(a, q, ev);
	ana_track_request(a, ev, se->shape ? se->fingerprint : ev->shape,
			  q != &a->other ? &q->parse : NULL);
}

static void on_client(struct analyzer *a, struct ana_event *ev)
{
	struct client_ent *ce;

	if (ev->type == ANA_CLIENT_GONE) {
		if ((ce = ana_client_slot(a, ev->client, false))) {
			if (ce->req) {
				ana_finish_request(a, ce->req);
				ana_creq_free(ce->req);
				ce->req = NULL;
			}
			free(ce->who);
			ce->who = NULL;
			ce->id = UINT64_MAX;
			a->nclients--;
		}
		return;
	}
	if (a->nclients * 2 >= a->nclient_slots)
		return; /* more clients than ever expected: counted as "?" */
	ce = ana_client_slot(a, ev->client, true);
	if (ce->id == ev->client) {
		free(ce->who);
	} else {
		ce->id = ev->client;
		a->nclients++;
	}
	ce->who = ev->text; /* taken over */
	ce->key = pgp_hash_bytes(ev->text, ev->text_len);
	ev->text = NULL;
	{
		/* database, user, application, conninfo */
		const char *ci = ce->who;

		for (int i = 0; i < 3 && ci < ce->who + ev->text_len; i++)
			ci += strlen(ci) + 1;
		if (ci < ce->who + ev->text_len)
			catalog_set_conninfo(a->catalog, ce->who,
					     ce->who + strlen(ce->who) + 1, ci);
	}
}

void ana_reset_all(struct analyzer *a)
{
	if (a->writes)
		memset(a->writes, 0, WRITES_SLOTS * sizeof(*a->writes));
	a->nwrites = 0;
	for (size_t b = 0; b < a->nfp_buckets; b++) {
		struct qstat *q = a->fp[b], *n;

		for (; q; q = n) {
			n = q->next;
			qstat_free_parts(q);
			pgp_free(q);
		}
		a->fp[b] = NULL;
	}
	a->nfp = 0;
	qstat_free_parts(&a->other);
	memset(&a->other, 0, sizeof(a->other));
	memset(a->shapes, 0, a->nshape_slots * sizeof(*a->shapes));
	a->nshapes = 0;
	atomic_store(&a->wants_texts, true);
	memset(&a->t, 0, sizeof(a->t));
	/* requests and findings go too */
	while (a->creqs.next != &a->creqs) {
		struct creq *c = a->creqs.next;

		req_clear(&c->r);
		ana_creq_unlink(c);
	}
	for (size_t i = 0; i <= MAX_ROUTES && a->routes; i++) {
		hist_free(&a->routes[i].stmts);
		hist_free(&a->routes[i].db);
		memset(&a->routes[i], 0, sizeof(a->routes[i]));
		hist_init(&a->routes[i].stmts);
		hist_init(&a->routes[i].db);
	}
	a->nroutes = 0;
	if (a->findings)
		findings_reset(a->findings);
	if (a->advisor)
		advisor_reset(a->advisor);
	win_free(a);
	win_init(a, pgp_wall_us());
}

static void apply(struct analyzer *a, struct ana_event *ev)
{
	a->t.events++;
	switch (ev->type) {
	case ANA_TEXT:
		on_text(a, ev);
		break;
	case ANA_STMT:
		on_stmt(a, ev);
		break;
	case ANA_CLIENT:
	case ANA_CLIENT_GONE:
		on_client(a, ev);
		break;
	case ANA_RESET:
		ana_reset_all(a);
		break;
	case ANA_MARK:
		win_mark(a, ev);
		break;
	default:
		break;
	}
	free(ev->text);
	ev->text = NULL;
	detail_recycle(a, ev->detail);
	ev->detail = NULL;
}

/* Between batches: end idle requests, load the state file once. */
static void housekeeping(struct analyzer *a)
{
	int64_t now = pgp_now_us();

	if (now >= a->next_tick_us) {
		a->next_tick_us = now + TICK_US;
		pthread_mutex_lock(&a->lock);
		ana_end_idle_requests(a, pgp_wall_us());
		pthread_mutex_unlock(&a->lock);
	}
	state_load_step(a);
}

#define IDLE_MIN_MS 8
#define IDLE_MAX_MS 64

static void *analyzer_main(void *arg)
{
	struct analyzer *a = arg;
	int idle_ms = IDLE_MIN_MS;

	for (;;) {
		uint32_t head =
			atomic_load_explicit(&a->head, memory_order_relaxed);
		uint32_t tail =
			atomic_load_explicit(&a->tail, memory_order_acquire);
		uint32_t n = 0;

		housekeeping(a);
		if (head == tail) {
			if (atomic_load(&a->stop))
				break;
			/* idle: back off from 1 ms to 64 ms between looks, so
			 * an idle daemon costs nothing measurable; a waiting
			 * reader or a new shape wakes it at once */
			sleep_on(a->wake_fd, idle_ms);
			if (idle_ms < IDLE_MAX_MS)
				idle_ms *= 2;
			continue;
		}
		idle_ms = IDLE_MIN_MS;
		pthread_mutex_lock(&a->lock);
		while (head != tail && n < BATCH) {
			struct ana_event ev = a->ring[head & (RING_SIZE - 1)];
			uint32_t bytes = ev.text ? ev.text_len : 0;

			atomic_store_explicit(&a->head, ++head,
					      memory_order_release);
			apply(a, &ev);
			if (bytes)
				atomic_fetch_sub_explicit(&a->ring_bytes, bytes,
							  memory_order_relaxed);
			n++;
		}
		pthread_mutex_unlock(&a->lock);
		atomic_fetch_add_explicit(&a->applied, n, memory_order_release);
		notify_readers(a);
		if (a->test_delay_ms && !atomic_load(&a->stop))
			sleep_on(-1, a->test_delay_ms); /* poll ignores -1 */
	}
	/* libpg_query frees its per-thread memory in a thread-exit
	 * destructor; calling pg_query_exit() too would free it twice */
	return NULL;
}

/*
 * The side thread: everything that waits on PostgreSQL (naming N+1
 * relations from the catalog, index advice with HypoPG) or on the disk
 * (saving the state file).  Each step takes the lock only to copy what
 * it needs in and its result out, so the analyzer thread keeps draining
 * the ring meanwhile.
 */
static void *side_main(void *arg)
{
	struct analyzer *a = arg;
	int64_t next_lookup = 0, next_advice = 0, next_save = 0;

	while (!atomic_load(&a->side_stop)) {
		int64_t now = pgp_now_us(), wake;

		if (now >= next_lookup) {
			next_lookup = now + LOOKUP_EVERY_US;
			ana_lookup_one(a);
		}
		if (now >= next_advice) {
			next_advice = now + ADVICE_EVERY_US;
			ana_advise_step(a);
		}
		next_save = state_save_step(a, pgp_now_us(), next_save);
		wake = next_lookup < next_advice ? next_lookup : next_advice;
		if (next_save && next_save < wake)
			wake = next_save;
		now = pgp_now_us();
		if (wake > now)
			sleep_on(a->side_fd, (int)((wake - now) / 1000) + 1);
	}
	return NULL;
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

static void analyzer_free(struct analyzer *a)
{
	if (a->routes)
		for (size_t i = 0; i <= MAX_ROUTES; i++) {
			hist_free(&a->routes[i].stmts);
			hist_free(&a->routes[i].db);
		}
	pgp_free(a->routes);
	win_free(a);
	free(a->state_path);
	free(a->extra_out);
	free(a->extra_in);
	findings_free(a->findings);
	pgp_free(a->writes);
	advisor_free(a->advisor);
	catalog_free(a->catalog);
	pgp_free(a->ring);
	pgp_free(a->free_ring);
	pgp_free(a->info_ring);
	pgp_free(a->fp);
	pgp_free(a->shapes);
	pgp_free(a->clients);
	pthread_mutex_destroy(&a->lock);
	if (a->wake_fd >= 0)
		close(a->wake_fd);
	if (a->notify_fd >= 0)
		close(a->notify_fd);
	if (a->side_fd >= 0)
		close(a->side_fd);
	pgp_free(a);
}

/* Everything but the threads (analyzer_start, analyzer_new_passive). */
static struct analyzer *analyzer_alloc(int max_tracked_queries, bool threads)
{
	struct analyzer *a = pgp_calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->max_fp = max_tracked_queries;
	a->nfp_buckets = pow2_at_least((size_t)max_tracked_queries);
	a->nshape_slots = pow2_at_least((size_t)max_tracked_queries * 8);
	/* a passive analyzer sees no events: it needs no ring, no shape or
	 * client tables worth the name */
	a->nclient_slots = threads ? 1 << 16 : 16;
	a->ring = pgp_calloc(threads ? RING_SIZE : 1, sizeof(*a->ring));
	a->free_ring =
		pgp_calloc(threads ? FREE_RING : 1, sizeof(*a->free_ring));
	a->info_ring =
		pgp_calloc(threads ? INFO_RING : 1, sizeof(*a->info_ring));
	a->fp = pgp_calloc(a->nfp_buckets, sizeof(*a->fp));
	a->shapes =
		pgp_calloc(threads ? a->nshape_slots : 16, sizeof(*a->shapes));
	if (!threads)
		a->nshape_slots = 16;
	a->clients = pgp_calloc(a->nclient_slots, sizeof(*a->clients));
	hist_init(&a->other.c.hist);
	a->creqs.next = a->creqs.prev = &a->creqs;
	a->conf = (struct req_conf){100, 5, 10};
	a->routes = pgp_calloc(MAX_ROUTES + 1, sizeof(*a->routes));
	if (a->routes)
		for (size_t i = 0; i <= MAX_ROUTES; i++) {
			hist_init(&a->routes[i].stmts);
			hist_init(&a->routes[i].db);
		}
	a->findings = findings_new();
	a->writes = pgp_calloc(WRITES_SLOTS, sizeof(*a->writes));
	a->cache_ttl_s = 60;
	a->advisor = advisor_new();
	a->slow_query_ms = 100;
	atomic_store(&a->state_every_us, 60 * 1000000LL);
	win_init(a, pgp_wall_us());
	a->catalog = catalog_new();
	pthread_mutex_init(&a->lock, NULL);
	/* wake-ups are for threads: a passive analyzer has none (-1 makes
	 * analyzer_kick_fd() a no-op) */
	a->wake_fd = threads ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
	a->notify_fd = threads ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
	a->side_fd = threads ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
	if (!a->ring || !a->free_ring || !a->info_ring || !a->fp ||
	    !a->shapes || !a->clients || !a->routes || !a->findings ||
	    !a->advisor || !a->catalog ||
	    (threads &&
	     (a->wake_fd < 0 || a->notify_fd < 0 || a->side_fd < 0))) {
		analyzer_free(a);
		return NULL;
	}
	return a;
}

struct analyzer *analyzer_start(int max_tracked_queries)
{
	struct analyzer *a = analyzer_alloc(max_tracked_queries, true);

	if (!a)
		return NULL;
	if (getenv("PGPERF_TEST_SLOW_ANALYZER_MS"))
		a->test_delay_ms = atoi(getenv("PGPERF_TEST_SLOW_ANALYZER_MS"));
	if (pthread_create(&a->thread, NULL, analyzer_main, a) != 0) {
		analyzer_free(a);
		return NULL;
	}
	if (pthread_create(&a->side, NULL, side_main, a) == 0)
		a->side_started = true;
	else
		log_warning("analyzer: cannot start the side thread: no "
			    "catalog names, index advice or state saves");
	return a;
}

struct analyzer *analyzer_new_passive(int max_tracked_queries)
{
	return analyzer_alloc(max_tracked_queries, false);
}

void analyzer_free_passive(struct analyzer *a)
{
	if (!a)
		return;
	ana_reset_all(a);
	analyzer_free(a);
}

void analyzer_stop(struct analyzer *a)
{
	uint32_t head, tail;

	if (!a)
		return;
	atomic_store(&a->side_stop, true);
	analyzer_kick_fd(a->side_fd);
	if (a->side_started)
		pthread_join(a->side, NULL);
	atomic_store(&a->stop, true);
	analyzer_kick_fd(a->wake_fd);
	pthread_join(a->thread, NULL);
	state_save_now(a); /* once more, with everything applied */
	/* events never applied still own their texts */
	head = atomic_load(&a->head);
	tail = atomic_load(&a->tail);
	for (; head != tail; head++) {
		free(a->ring[head & (RING_SIZE - 1)].text);
		ana_detail_free(a->ring[head & (RING_SIZE - 1)].detail);
	}
	for (head = atomic_load(&a->fhead); head != atomic_load(&a->ftail);
	     head++)
		free(a->free_ring[head & (FREE_RING - 1)]);
	ana_reset_all(a);
	for (size_t i = 0; i < a->nclient_slots; i++)
		if (a->clients[i].id && a->clients[i].id != UINT64_MAX) {
			free(a->clients[i].who);
			if (a->clients[i].req)
				ana_creq_free(a->clients[i].req);
		}
	analyzer_free(a);
}

void analyzer_sync(struct analyzer *a, int timeout_ms)
{
	uint64_t want = atomic_load(&a->pushed);

	if (atomic_load(&a->applied) >= want)
		return;
	analyzer_kick_fd(a->wake_fd);
	for (int i = 0; i < timeout_ms * 10; i++) {
		struct timespec ts = {0, 100 * 1000};

		if (atomic_load(&a->applied) >= want)
			return;
		nanosleep(&ts, NULL);
	}
}

void analyzer_configure(struct analyzer *a, const struct ana_conf *c)
{
	pthread_mutex_lock(&a->lock);
	a->conf.idle_gap_ms = c->request_idle_gap_ms;
	a->conf.min_repeats = c->nplus1_min_repeats;
	a->conf.sequential_min_ms = c->sequential_min_ms;
	a->advice = c->index_advice;
	a->advice_min_rows = c->index_min_table_rows;
	a->cache_on = c->cache_on;
	a->slow_query_ms = c->slow_query_ms;
	a->cache_ttl_s = c->cache_ttl_s;
	atomic_store(&a->state_every_us,
		     (c->state_save_interval_ms > 0 ? c->state_save_interval_ms
						    : 60000) *
			     1000);
	pthread_mutex_unlock(&a->lock);
}

void analyzer_copy_conf(struct analyzer *dst, struct analyzer *src)
{
	struct ana_conf c;

	pthread_mutex_lock(&src->lock);
	c.request_idle_gap_ms = src->conf.idle_gap_ms;
	c.nplus1_min_repeats = src->conf.min_repeats;
	c.sequential_min_ms = src->conf.sequential_min_ms;
	c.index_advice = src->advice;
	c.index_min_table_rows = src->advice_min_rows;
	c.cache_on = src->cache_on;
	c.slow_query_ms = src->slow_query_ms;
	c.cache_ttl_s = src->cache_ttl_s;
	c.state_save_interval_ms = atomic_load(&src->state_every_us) / 1000;
	pthread_mutex_unlock(&src->lock);
	analyzer_configure(dst, &c);
}

char *analyzer_shape_query(struct analyzer *a, uint64_t shape)
{
	struct shape_ent *se;
	struct qstat *q;
	char *t = NULL;

	pthread_mutex_lock(&a->lock);
	se = shape_slot(a, shape ? shape : 1);
	if (se->shape && (q = ana_fp_find(a, se->fingerprint)) &&
	    q->parse.normalized)
		t = strdup(q->parse.normalized);
	pthread_mutex_unlock(&a->lock);
	return t;
}
