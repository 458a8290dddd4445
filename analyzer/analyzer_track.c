/*
 * analyzer_track.c -- what the analyzer keeps of each statement beyond its
 * fingerprint's counters: the request it belongs to (per client, ended by
 * a transaction, a tag change or idleness, then handed to requests.c),
 * the writes it makes per table, and the hit potential a result cache
 * would have had.  Analyzer thread, under the analyzer's lock.
 */
#include "analyzer_int.h"

#include "analyzer/requests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ana_creq_unlink(struct creq *c)
{
	if (!c->linked)
		return;
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->linked = false;
}

/* Requests with statements are listed, for ana_end_idle_requests(). */
static void creq_link(struct analyzer *a, struct creq *c)
{
	if (c->linked)
		return;
	c->next = a->creqs.next;
	c->prev = &a->creqs;
	a->creqs.next->prev = c;
	a->creqs.next = c;
	c->linked = true;
}

/* A sample cut to the rows it has: most results are a row or a few. */
static struct ana_sample *shrink(struct ana_sample *s)
{
	struct ana_sample *t;

	if (!s || s->nrows >= ANA_SAMPLE_ROWS)
		return s;
	t = realloc(s, offsetof(struct ana_sample, val) +
			       (size_t)s->nrows * sizeof(s->val[0]));
	return t ? t : s;
}

/* A request is over: count it for its route and look inside it. */
void ana_finish_request(struct analyzer *a, struct creq *c)
{
	struct client_ent *ce = ana_client_slot(a, c->client, false);
	struct request *r = &c->r;
	struct req_finding f[MAX_FINDINGS_PER_REQUEST];
	struct route_ent *re;
	bool nplus1 = false;
	size_t n;

	if (!r->open)
		return;
	n = req_detect(r, &a->conf, f, MAX_FINDINGS_PER_REQUEST);
	for (size_t i = 0; i < n; i++) {
		findings_add(a->findings, &f[i], ce && ce->who ? ce->who : "?",
			     r->route, r->last_end_us);
		nplus1 |= f[i].kind == REQ_NPLUS1;
	}
	win_request(a);
	re = ana_route_for(a, r->route);
	re->requests++;
	re->statements += r->nstmts;
	re->nplus1 += nplus1;
	(void)hist_add(&re->stmts, r->nstmts);
	(void)hist_add(&re->db, r->db_us);
	/* an idle client keeps no statement buffer (10,000 idle clients
	 * would hold 20 MB of them) */
	req_free(r);
	ana_creq_unlink(c);
}

void ana_track_request(struct analyzer *a, const struct ana_event *ev,
		       uint64_t fp, const struct sqlparse *parse)
{
	struct client_ent *ce = ana_client_slot(a, ev->client, false);
	struct ana_detail *d = ev->detail;
	struct req_stmt st;

	if (!ce)
		return;
	if (!ce->req) {
		if (!(ce->req = pgp_calloc(1, sizeof(*ce->req))))
			return;
		ce->req->client = ce->id;
	}
	memset(&st, 0, sizeof(st));
	st.fp = fp;
	st.dur_us = ev->dur_us;
	st.end_us = ev->end_us;
	st.start_us = ev->end_us - ev->dur_us;
	st.select = parse && parse->kind &&
		    strcmp(parse->kind, "SELECT") == 0 && parse->read_only;
	if (!parse || !parse->parsed || parse->writes_unnamed)
		st.wmask = ~0u; /* may write anything */
	for (int i = 0; parse && i < parse->nwritten; i++)
		st.wmask |= 1u << (ana_table_hash(parse->written[i]) & 31);
	for (int i = 0; parse && i < parse->nread; i++)
		st.rmask |= 1u << (ana_table_hash(parse->read[i]) & 31);
	if (d) {
		st.nparams = d->nparams;
		memcpy(st.param, d->param, sizeof(st.param));
		st.sample = shrink(d->sample);
		d->sample = NULL; /* taken over */
	}
	if (req_boundary(&ce->req->r, d, st.start_us, &a->conf))
		ana_finish_request(a, ce->req);
	if (!req_add(&ce->req->r, &st, d))
		free(st.sample);
	creq_link(a, ce->req);
}

/* End the requests that have been idle long enough. */
void ana_end_idle_requests(struct analyzer *a, int64_t now_wall)
{
	struct creq *c, *next;

	for (c = a->creqs.next; c != &a->creqs; c = next) {
		next = c->next; /* finishing unlinks it */
		if (req_expired(&c->r, now_wall, &a->conf))
			ana_finish_request(a, c);
	}
}

void ana_creq_free(struct creq *c)
{
	ana_creq_unlink(c);
	req_free(&c->r);
	pgp_free(c);
}

/* ---- hit potential ---- */

static struct table_writes *writes_slot(struct analyzer *a, uint64_t table,
					bool add)
{
	size_t mask = WRITES_SLOTS - 1, i;

	if (!a->writes)
		return NULL;
	for (i = pgp_mix64(table) & mask; a->writes[i].table;
	     i = (i + 1) & mask)
		if (a->writes[i].table == table)
			return &a->writes[i];
	if (!add)
		return NULL;
	if (a->nwrites * 2 >= WRITES_SLOTS) {
		/* full: forget them all, and count that as a write to
		 * everything, so nothing looks like a hit across it */
		memset(a->writes, 0, WRITES_SLOTS * sizeof(*a->writes));
		a->nwrites = 0;
		a->writes_unknown++;
		return writes_slot(a, table, true);
	}
	a->writes[i].table = table;
	a->nwrites++;
	return &a->writes[i];
}

/* A statement that completed: count its writes by table. */
void ana_note_writes(struct analyzer *a, const struct qstat *q)
{
	const struct sqlparse *p = q ? &q->parse : NULL;

	if (p && p->parsed && (p->read_only || !p->nwritten) &&
	    !p->writes_unnamed)
		return; /* reads, BEGIN, COMMIT, SET, ... */
	if (!p || !p->parsed || p->writes_unnamed) {
		a->writes_unknown++; /* could be any table */
		return;
	}
	for (int i = 0; i < p->nwritten; i++) {
		struct table_writes *w =
			writes_slot(a, ana_table_hash(p->written[i]), true);

		if (w)
			w->n++;
		else
			a->writes_unknown++;
	}
}

/* Would a result cache have answered this execution of a cacheable
 * fingerprint?  Same values, within the TTL, no write in between. */
void ana_note_hit_potential(struct analyzer *a, struct qstat *q,
			    const struct ana_event *ev)
{
	const struct ana_detail *d = ev->detail;
	uint64_t vals = 0x9e3779b97f4a7c15ull, writes = a->writes_unknown;
	int64_t ttl_us =
		(int64_t)(a->cache_ttl_s > 0 ? a->cache_ttl_s : 60) * 1000000;
	int slot;

	if (!d || ev->sqlstate[0] ||
	    (!q->hp && !(q->hp = pgp_calloc(1, sizeof(*q->hp)))))
		return;
	vals = pgp_mix64(vals ^ d->nparams);
	for (int i = 0; i < d->nparams && i < ANA_MAX_PARAMS; i++)
		vals = pgp_mix64(vals ^ d->param[i]);
	for (int i = 0; i < q->parse.nread; i++) {
		const struct table_writes *w =
			writes_slot(a, ana_table_hash(q->parse.read[i]), false);

		writes += w ? w->n : 0;
	}
	q->hp->execs++;
	slot = (int)(vals % HP_RECENT);
	if (q->hp->recent[slot].filled_us && q->hp->recent[slot].vals == vals &&
	    q->hp->recent[slot].writes == writes &&
	    ev->end_us - q->hp->recent[slot].filled_us <= ttl_us) {
		q->hp->repeats++;
		q->hp->repeat_us += ev->dur_us;
		return; /* a hit does not refill the entry */
	}
	q->hp->recent[slot].vals = vals;
	q->hp->recent[slot].filled_us = ev->end_us;
	q->hp->recent[slot].writes = writes;
}
