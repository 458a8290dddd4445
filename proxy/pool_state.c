/*
 * pool_state.c -- the pools' share of the state file (see pool_state.h).
 *
 * The I/O thread owns the pools, the analyzer thread owns the file: every
 * second (and at shutdown) the I/O thread serializes the
 * counters the pool findings are made of -- pinning hazards, waits for a
 * server, the transactions that held one longest, with their slowest
 * statement's text resolved now, since shapes are not kept -- and hands
 * the bytes to the analyzer, which writes them with its next save.  At
 * start the analyzer hands back what it loaded; pools are created when
 * their first client logs in, so each saved record waits in pp->saved
 * until its pool appears.
 */
#include "proxy/pool_state.h"

#include "analyzer/analyzer.h"
#include "proxy/config.h"
#include "lib/log.h"
#include "analyzer/serial.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOLS_MAGIC 0x31534c50u /* "PLS1" */
#define POOLS_MAX 10000

static void write_saved(struct jbuf *b, const struct pool_saved *s)
{
	ser_str(b, s->database);
	ser_str(b, s->user);
	for (int k = 0; k < POOL_HAZARD_KINDS; k++) {
		ser_u64(b, s->hazard_clients[k]);
		ser_u64(b, (uint64_t)s->hazard_last_us[k]);
	}
	ser_u64(b, s->wait_count);
	ser_u64(b, s->wait_us);
	ser_u64(b, s->waited_count);
	ser_u64(b, s->max_wait_us);
	ser_u64(b, s->query_us);
	ser_u8(b, (uint8_t)s->nholds);
	for (int i = 0; i < s->nholds; i++) {
		ser_u64(b, s->holds[i].us);
		ser_u64(b, (uint64_t)s->holds[i].at_us);
		ser_str(b, s->holds[i].query);
	}
}

/* A live pool as a record, its long transactions' texts resolved now. */
static void saved_of(struct pgperf *pp, const struct pool *p,
		     struct pool_saved *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->database, sizeof(s->database), "%s", p->database);
	snprintf(s->user, sizeof(s->user), "%s", p->user);
	memcpy(s->hazard_clients, p->hazard_clients, sizeof(s->hazard_clients));
	memcpy(s->hazard_last_us, p->hazard_last_us, sizeof(s->hazard_last_us));
	s->wait_count = p->st.wait_count;
	s->wait_us = p->st.wait_us;
	s->waited_count = p->st.waited_count;
	s->max_wait_us = p->st.max_wait_us;
	s->query_us = p->st.query_us;
	while (s->nholds < POOL_HOLDS && p->holds[s->nholds].us) {
		struct pool_hold *h = &s->holds[s->nholds++];
		char *q = NULL;

		*h = p->holds[s->nholds - 1];
		if (!h->query[0] && pp->ana &&
		    (q = analyzer_shape_query(pp->ana, h->shape)))
			snprintf(h->query, sizeof(h->query), "%s", q);
		free(q);
	}
}

void *pool_state_serialize(struct pgperf *pp, size_t *len)
{
	struct jbuf b = {0};
	struct list *pos;
	uint32_t n = 0;

	list_for_each(pos, &pp->pools)
		n++;
	for (size_t i = 0; i < pp->nsaved; i++)
		n += pp->saved[i].database[0] != '\0';
	ser_u32(&b, POOLS_MAGIC);
	ser_u32(&b, n);
	list_for_each(pos, &pp->pools) {
		struct pool_saved s;

		saved_of(pp, list_entry(pos, struct pool, node), &s);
		write_saved(&b, &s);
	}
	/* saved for pools no client has come back to yet: kept as they are */
	for (size_t i = 0; i < pp->nsaved; i++)
		if (pp->saved[i].database[0])
			write_saved(&b, &pp->saved[i]);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.n;
	return b.p;
}

bool pool_state_parse(const void *buf, size_t len, struct pool_saved **out,
		      size_t *n)
{
	struct srd r = {buf, len, 0, false, 0, 0};
	struct pool_saved *v;
	uint32_t count;

	*out = NULL;
	*n = 0;
	if (srd_u32(&r) != POOLS_MAGIC)
		return false;
	count = srd_u32(&r);
	if (r.bad || count > POOLS_MAX)
		return false;
	if (!(v = pgp_calloc(count + 1, sizeof(*v))))
		return false;
	for (uint32_t i = 0; i < count && !r.bad; i++) {
		struct pool_saved *s = &v[i];

		srd_str(&r, s->database, sizeof(s->database));
		srd_str(&r, s->user, sizeof(s->user));
		for (int k = 0; k < POOL_HAZARD_KINDS; k++) {
			s->hazard_clients[k] = srd_u64(&r);
			s->hazard_last_us[k] = (int64_t)srd_u64(&r);
		}
		s->wait_count = srd_u64(&r);
		s->wait_us = srd_u64(&r);
		s->waited_count = srd_u64(&r);
		s->max_wait_us = srd_u64(&r);
		s->query_us = srd_u64(&r);
		s->nholds = srd_u8(&r);
		if (s->nholds > POOL_HOLDS)
			r.bad = true;
		for (int h = 0; h < s->nholds && !r.bad; h++) {
			s->holds[h].us = srd_u64(&r);
			s->holds[h].at_us = (int64_t)srd_u64(&r);
			/* a longer text is cut, not refused */
			{
				uint32_t tl = srd_u32(&r);
				const uint8_t *t = srd_take(&r, tl);
				size_t keep =
					tl < sizeof(s->holds[h].query)
						? tl
						: sizeof(s->holds[h].query) - 1;

				if (t)
					memcpy(s->holds[h].query, t, keep);
				s->holds[h].query[keep] = '\0';
			}
		}
	}
	if (r.bad || r.off != r.n) {
		pgp_free(v);
		return false;
	}
	*out = v;
	*n = count;
	return true;
}

/* A saved record added to a pool's counters: they add up, holds merge. */
static void add_saved(uint64_t *hazard_clients, int64_t *hazard_last_us,
		      struct pool_stats *st, struct pool_hold *holds,
		      const struct pool_saved *s)
{
	for (int k = 0; k < POOL_HAZARD_KINDS; k++) {
		hazard_clients[k] += s->hazard_clients[k];
		if (s->hazard_last_us[k] > hazard_last_us[k])
			hazard_last_us[k] = s->hazard_last_us[k];
	}
	st->wait_count += s->wait_count;
	st->wait_us += s->wait_us;
	st->waited_count += s->waited_count;
	st->query_us += s->query_us;
	if (s->max_wait_us > st->max_wait_us)
		st->max_wait_us = s->max_wait_us;
	for (int i = 0; i < s->nholds; i++) {
		int k = POOL_HOLDS - 1;

		if (s->holds[i].us <= holds[k].us)
			continue;
		while (k > 0 && holds[k - 1].us < s->holds[i].us) {
			holds[k] = holds[k - 1];
			k--;
		}
		holds[k] = s->holds[i];
	}
}

void pool_state_add(struct pool *p, const struct pool_saved *s)
{
	add_saved(p->hazard_clients, p->hazard_last_us, &p->st, p->holds, s);
	/* SHOW STATS' per-period rates must not count these as new */
	p->st_prev.wait_count += s->wait_count;
	p->st_prev.wait_us += s->wait_us;
	p->st_prev.query_us += s->query_us;
}

size_t pool_snapshot(struct pgperf *pp, struct pool_view **out)
{
	size_t n = 0, cap = pp->nsaved;
	struct list *pos;
	struct pool_view *v;

	list_for_each(pos, &pp->pools)
		cap++;
	*out = v = pgp_calloc(cap ? cap : 1, sizeof(*v));
	if (!v)
		return 0;
	list_for_each(pos, &pp->pools) {
		const struct pool *p = list_entry(pos, struct pool, node);
		struct pool_view *w = &v[n++];

		snprintf(w->database, sizeof(w->database), "%s", p->database);
		snprintf(w->user, sizeof(w->user), "%s", p->user);
		w->pool_size = p->target.pool_size;
		w->st = p->st;
		memcpy(w->hazard_clients, p->hazard_clients,
		       sizeof(w->hazard_clients));
		memcpy(w->hazard_last_us, p->hazard_last_us,
		       sizeof(w->hazard_last_us));
		memcpy(w->holds, p->holds, sizeof(w->holds));
		w->clients = list_count(&p->active_clients) +
			     list_count(&p->idle_clients);
		w->waiting = list_count(&p->waiting);
		w->servers_active = list_count(&p->active_servers);
		w->servers_idle = list_count(&p->idle_servers);
		w->servers_tested = list_count(&p->tested_servers);
		w->live = true;
	}
	for (size_t i = 0; i < pp->nsaved; i++) {
		const struct pool_saved *s = &pp->saved[i];
		struct pool_view *w;

		if (!s->database[0])
			continue; /* applied to its pool already */
		w = &v[n++];
		memcpy(w->database, s->database, sizeof(w->database));
		memcpy(w->user, s->user, sizeof(w->user));
		w->pool_size = pp->cfg->default_pool_size;
		add_saved(w->hazard_clients, w->hazard_last_us, &w->st,
			  w->holds, s);
	}
	return n;
}

void pool_state_apply(struct pgperf *pp, struct pool *p)
{
	for (size_t i = 0; i < pp->nsaved; i++) {
		struct pool_saved *s = &pp->saved[i];

		if (!s->database[0] || strcmp(s->database, p->database) != 0 ||
		    strcmp(s->user, p->user) != 0)
			continue;
		pool_state_add(p, s);
		s->database[0] = '\0'; /* applied once */
	}
}

void pool_state_hand(struct pgperf *pp)
{
	size_t len = 0;
	void *blob;

	if (!pp->ana || !pp->cfg->state_file[0] || !pp->saved_taken)
		return; /* never hand over before what was saved came back */
	if ((blob = pool_state_serialize(pp, &len)))
		analyzer_set_extra(pp->ana, blob, len);
}

void pool_state_tick(struct pgperf *pp)
{
	int64_t now = pgp_now_us();

	if (!pp->ana || !pp->cfg->state_file[0])
		return;
	if (!pp->saved_taken) {
		size_t len = 0;
		bool settled = false;
		void *blob = analyzer_take_extra(pp->ana, &len, &settled);
		struct list *pos;

		if (!settled)
			return; /* the analyzer has not loaded the file yet */
		pp->saved_taken = true;
		if (blob &&
		    !pool_state_parse(blob, len, &pp->saved, &pp->nsaved))
			log_warning("state file: the pools' section cannot be "
				    "read; their counters start empty");
		free(blob);
		list_for_each(pos, &pp->pools)
			pool_state_apply(pp,
					 list_entry(pos, struct pool, node));
		pp->saved_handed_us = now;
		return;
	}
	/* every second: a few pools cost microseconds, and the file the
	 * analyzer writes is then never more than a second behind */
	if (now - pp->saved_handed_us >= 1000000) {
		pp->saved_handed_us = now;
		pool_state_hand(pp);
	}
}

void pool_state_free(struct pgperf *pp)
{
	pgp_free(pp->saved);
	pp->saved = NULL;
	pp->nsaved = 0;
}
