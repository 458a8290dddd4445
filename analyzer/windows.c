/*
 * windows.c -- marks and the stretches of statements between them.
 *
 * `pgperf-ctl mark NAME` pushes an ANA_MARK event through the same ring as
 * the statements, so a mark falls exactly between the statements that
 * completed before it and those after.  The open stretch (`cur`) counts
 * every statement: a latency histogram, calls, errors, requests ended,
 * connections and their applications.  A mark closes it and keeps it, so
 * any window from one mark to another is the merge of the stretches in
 * between.  At most ANA_MAX_MARKS are kept; the oldest goes first.
 */
#include "analyzer_int.h"

#include "analyzer/serial.h"

#include <stdio.h>
#include <string.h>

static void window_start(struct window *w, int64_t now_wall)
{
	memset(w, 0, sizeof(*w));
	hist_init(&w->hist);
	w->from_us = now_wall;
}

void win_init(struct analyzer *a, int64_t now_wall)
{
	window_start(&a->cur, now_wall);
	a->nmarks = 0;
	a->win_gen++;
}

void win_free(struct analyzer *a)
{
	for (int i = 0; i < a->nmarks; i++)
		hist_free(&a->marks[i].seg.hist);
	a->nmarks = 0;
	hist_free(&a->cur.hist);
}

int64_t win_started(const struct analyzer *a)
{
	return a->nmarks ? a->marks[0].seg.from_us : a->cur.from_us;
}

void win_stmt(struct analyzer *a, struct client_ent *ce,
	      const struct ana_event *ev)
{
	struct window *w = &a->cur;

	w->calls++;
	if (ev->sqlstate[0])
		w->errors++;
	(void)hist_add(&w->hist, ev->dur_us);
	if (!ce)
		return;
	if (ce->win_gen != a->win_gen) {
		/* the connection's first statement in this stretch */
		const char *app = ce->who ? ce->who : "";
		int k;

		for (int i = 0; i < 2 && ce->who; i++)
			app += strlen(app) + 1; /* database, user, app */
		ce->win_gen = a->win_gen;
		w->clients++;
		for (k = 0; k < w->napps; k++)
			if (strcmp(w->app[k].name, app) == 0)
				break;
		if (k == w->napps && w->napps < WIN_APPS)
			snprintf(w->app[w->napps++].name,
				 sizeof(w->app[0].name), "%s", app);
		ce->win_app = (uint8_t)(k < w->napps ? k : WIN_APPS);
	}
	if (ce->win_app < w->napps)
		w->app[ce->win_app].calls++;
}

void win_request(struct analyzer *a)
{
	a->cur.requests++;
}

void win_mark(struct analyzer *a, const struct ana_event *ev)
{
	struct mark *m;
	int64_t now = ev->end_us ? ev->end_us : pgp_wall_us();

	if (a->nmarks == ANA_MAX_MARKS) {
		hist_free(&a->marks[0].seg.hist);
		memmove(&a->marks[0], &a->marks[1],
			(ANA_MAX_MARKS - 1) * sizeof(a->marks[0]));
		a->nmarks--;
	}
	m = &a->marks[a->nmarks++];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%.*s",
		 (int)(ev->text_len < ANA_MARK_NAME ? ev->text_len
						    : ANA_MARK_NAME - 1),
		 ev->text ? ev->text : "");
	m->kind = (int)ev->rows;
	m->at_us = now;
	m->seg = a->cur; /* the histogram's buckets move with it */
	if (m->kind == ANA_MARK_POINT)
		/* each fingerprint's counts at the mark, for before/after */
		for (size_t b = 0; b < a->nfp_buckets; b++)
			for (struct qstat *q = a->fp[b]; q; q = q->next) {
				q->mk_calls[0] = q->mk_calls[1];
				q->mk_us[0] = q->mk_us[1];
				q->mk_calls[1] = q->c.calls;
				q->mk_us[1] = q->c.hist.sum;
			}
	window_start(&a->cur, now);
	a->win_gen++;
}

/* ---- readers ---- */

/* Add stretch `s` to the window being summed in `w`/`h`. */
static void sum_in(struct ana_window *w, struct histogram *h,
		   struct window *apps, const struct window *s)
{
	w->calls += s->calls;
	w->errors += s->errors;
	w->requests += s->requests;
	if (s->clients > w->clients)
		w->clients = s->clients;
	if (!hist_merge(h, &s->hist))
		w->present = false; /* out of memory: not shown */
	for (int i = 0; i < s->napps; i++) {
		int k;

		for (k = 0; k < apps->napps; k++)
			if (strcmp(apps->app[k].name, s->app[i].name) == 0)
				break;
		if (k == apps->napps) {
			if (apps->napps == WIN_APPS)
				continue;
			apps->napps++;
			memcpy(apps->app[k].name, s->app[i].name,
			       sizeof(apps->app[k].name));
		}
		apps->app[k].calls += s->app[i].calls;
	}
}

/*
 * The window of the stretches that ended at marks first+1 .. last (a mark
 * index; nmarks means the open stretch up to now too).  first = -1: from
 * the oldest stretch.
 */
static void window_of(const struct analyzer *a, int first, int last,
		      int64_t now, struct ana_window *w)
{
	struct histogram h;
	struct window apps;
	uint64_t best = 0;

	memset(w, 0, sizeof(*w));
	memset(&apps, 0, sizeof(apps));
	hist_init(&h);
	w->present = true;
	if (first >= 0) {
		snprintf(w->from_mark, sizeof(w->from_mark), "%s",
			 a->marks[first].name);
		w->from_us = a->marks[first].at_us;
	} else {
		w->from_us = win_started(a);
	}
	for (int i = first + 1; i <= last && i < a->nmarks; i++)
		sum_in(w, &h, &apps, &a->marks[i].seg);
	if (last >= a->nmarks) {
		sum_in(w, &h, &apps, &a->cur);
		w->to_us = now;
	} else {
		snprintf(w->to_mark, sizeof(w->to_mark), "%s",
			 a->marks[last].name);
		w->to_us = a->marks[last].at_us;
	}
	w->mean_us = h.count ? h.sum / h.count : 0;
	w->p50_us = hist_quantile(&h, 0.50);
	w->p95_us = hist_quantile(&h, 0.95);
	w->p99_us = hist_quantile(&h, 0.99);
	for (int k = 0; k < apps.napps; k++)
		if (apps.app[k].calls > best) {
			best = apps.app[k].calls;
			snprintf(w->application, sizeof(w->application), "%s",
				 apps.app[k].name);
		}
	hist_free(&h);
}

/* The fingerprints that ran on both sides of the latest point mark. */
static void changes_of(struct analyzer *a, struct ana_windows *out)
{
	for (size_t b = 0; b < a->nfp_buckets; b++)
		for (struct qstat *q = a->fp[b]; q; q = q->next) {
			struct ana_fp_change c;
			int k;

			if (q->c.calls < q->mk_calls[1] ||
			    q->mk_calls[1] < q->mk_calls[0])
				continue; /* reset under it */
			c.calls_before = q->mk_calls[1] - q->mk_calls[0];
			c.calls_after = q->c.calls - q->mk_calls[1];
			c.us_before = q->mk_us[1] - q->mk_us[0];
			c.us_after = q->c.hist.sum - q->mk_us[1];
			if (!c.calls_before || !c.calls_after)
				continue;
			/* keep the ANA_WIN_QUERIES with the most time */
			for (k = out->nchanges; k > 0; k--) {
				const struct ana_fp_change *o =
					&out->changes[k - 1];

				if (o->us_before + o->us_after >=
				    c.us_before + c.us_after)
					break;
			}
			if (k >= ANA_WIN_QUERIES)
				continue;
			c.fingerprint = q->fingerprint;
			snprintf(c.query, sizeof(c.query), "%s",
				 q->parse.normalized ? q->parse.normalized
						     : "");
			memmove(&out->changes[k + 1], &out->changes[k],
				(size_t)((out->nchanges < ANA_WIN_QUERIES
						  ? out->nchanges
						  : ANA_WIN_QUERIES - 1) -
					 k) *
					sizeof(c));
			out->changes[k] = c;
			if (out->nchanges < ANA_WIN_QUERIES)
				out->nchanges++;
		}
}

void analyzer_windows(struct analyzer *a, struct ana_windows *out)
{
	int64_t now = pgp_wall_us();
	int point = -1, prev = -1, start = -1, stop = -1;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&a->lock);
	out->started_us = win_started(a);
	out->nmarks = a->nmarks;
	for (int i = 0; i < a->nmarks; i++) {
		const struct mark *m = &a->marks[i];

		snprintf(out->marks[i].name, sizeof(out->marks[i].name), "%s",
			 m->name);
		out->marks[i].kind = m->kind;
		out->marks[i].at_us = m->at_us;
		if (m->kind == ANA_MARK_POINT) {
			prev = point;
			point = i;
		} else if (m->kind == ANA_MARK_LOAD_START) {
			start = i;
			stop = -1;
		} else if (start >= 0) {
			stop = i;
		}
	}
	if (point >= 0) {
		window_of(a, prev, point, now, &out->before);
		window_of(a, point, a->nmarks, now, &out->after);
		changes_of(a, out);
	} else {
		window_of(a, -1, a->nmarks, now, &out->after);
	}
	if (start >= 0) {
		out->load_running = stop < 0;
		window_of(a, start, stop < 0 ? a->nmarks : stop, now,
			  &out->load);
	}
	pthread_mutex_unlock(&a->lock);
}

/* ---- the state file ---- */

void win_save(const struct window *w, struct jbuf *b)
{
	ser_u64(b, (uint64_t)w->from_us);
	ser_u64(b, w->calls);
	ser_u64(b, w->errors);
	ser_u64(b, w->requests);
	ser_u64(b, w->clients);
	hist_save(&w->hist, b);
	ser_u8(b, (uint8_t)w->napps);
	for (int i = 0; i < w->napps; i++) {
		ser_str(b, w->app[i].name);
		ser_u64(b, w->app[i].calls);
	}
}

bool win_load(struct window *w, struct srd *r)
{
	memset(w, 0, sizeof(*w));
	w->from_us = (int64_t)srd_u64(r);
	w->calls = srd_u64(r);
	w->errors = srd_u64(r);
	w->requests = srd_u64(r);
	w->clients = srd_u64(r);
	(void)hist_load(&w->hist, r);
	w->napps = srd_u8(r);
	if (w->napps > WIN_APPS)
		r->bad = true;
	for (int i = 0; i < w->napps && !r->bad; i++) {
		srd_str(r, w->app[i].name, sizeof(w->app[i].name));
		w->app[i].calls = srd_u64(r);
	}
	return !r->bad;
}
