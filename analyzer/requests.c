/*
 * requests.c -- requests and the patterns found in them (see requests.h).
 */
#include "analyzer/requests.h"

#include <stdlib.h>
#include <string.h>

#define TRACED_IDLE_US (1000 * 1000) /* a traced request's idle limit */
#define PARENT_LOOKBACK 64	     /* statements searched for a parent */

/* ---- grouping ---- */

bool req_boundary(const struct request *r, const struct ana_detail *d,
		  int64_t start_us, const struct req_conf *c)
{
	if (!r->open)
		return true;
	if (d && d->traced)
		return !r->traced || r->tag != d->tag;
	if (r->traced)
		return true; /* untraced after traced */
	/* route tags: a different route is a different request; an
	 * untagged statement (BEGIN, say) does not end a tagged one */
	if (d && d->tag && r->tag && d->tag != r->tag)
		return true;
	if (d && d->xact_ended && r->in_xact)
		return true;
	return start_us - r->last_end_us > (int64_t)c->idle_gap_ms * 1000;
}

bool req_expired(const struct request *r, int64_t now_us,
		 const struct req_conf *c)
{
	int64_t limit = (int64_t)c->idle_gap_ms * 1000;

	if (!r->open)
		return false;
	if (r->traced && limit < TRACED_IDLE_US)
		limit = TRACED_IDLE_US;
	return now_us - r->last_end_us > limit;
}

bool req_add(struct request *r, struct req_stmt *st, const struct ana_detail *d)
{
	if (!r->open) {
		r->open = true;
		r->start_us = st->start_us;
	}
	if (d) {
		if (!r->tag && d->tag) {
			r->tag = d->tag;
			r->traced = d->traced;
		}
		if (!r->route[0] && d->route[0])
			memcpy(r->route, d->route, sizeof(r->route));
		if (d->in_xact)
			r->in_xact = true;
	}
	r->nstmts++;
	r->db_us += st->dur_us;
	if (st->end_us > r->last_end_us)
		r->last_end_us = st->end_us;
	if (r->n >= REQ_MAX_STMTS) {
		free(st->sample); /* counted, not kept */
		st->sample = NULL;
		return true;
	}
	if (r->n == r->cap) {
		uint32_t cap = r->cap ? r->cap * 2 : 16;
		struct req_stmt *s = realloc(r->s, cap * sizeof(*s));

		if (!s)
			return false;
		r->s = s;
		r->cap = cap;
	}
	r->s[r->n++] = *st;
	st->sample = NULL;
	return true;
}

void req_clear(struct request *r)
{
	struct req_stmt *s = r->s;
	uint32_t cap = r->cap;

	for (uint32_t i = 0; i < r->n; i++)
		free(r->s[i].sample);
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->cap = cap;
}

void req_free(struct request *r)
{
	req_clear(r);
	free(r->s);
	memset(r, 0, sizeof(*r));
}

/* ---- detection ---- */

static uint64_t params_hash(const struct req_stmt *s)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ s->nparams;

	for (int i = 0; i < s->nparams; i++)
		h = pgp_mix64(h ^ s->param[i]) + (uint64_t)i;
	return h;
}

struct fp_pos {
	uint64_t fp;
	uint32_t pos;
};

static int by_fp_then_pos(const void *x, const void *y)
{
	const struct fp_pos *a = x, *b = y;

	if (a->fp != b->fp)
		return a->fp < b->fp ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static bool in_column(const struct ana_sample *s, int c, uint64_t v)
{
	for (int r = 0; r < s->nrows; r++)
		if (s->val[r][c] == v)
			return true;
	return false;
}

static uint32_t distinct_in_column(const struct ana_sample *s, int c)
{
	uint32_t n = 0;

	for (int r = 0; r < s->nrows; r++) {
		int q;

		if (!s->val[r][c])
			continue;
		for (q = 0; q < r; q++)
			if (s->val[q][c] == s->val[r][c])
				break;
		n += q == r;
	}
	return n;
}

struct proof {
	int parent; /* index, or -1 */
	int param;  /* 0-based */
	int col;
	uint32_t matched;
	uint32_t in_order; /* child i's value is in the parent's row i */
};

/*
 * Does the parent at `p` prove the children (positions e[0..m))?  For
 * each of the child's parameters and each sampled column, count the
 * distinct child values found in the column; the relation is proven when
 * at least two are and they are four fifths of what could match (the
 * fewer of the distinct child values and the column's distinct values:
 * only the first rows are sampled).  Small integer keys overlap (order
 * ids 1..12 contain customer ids 1..10), so among columns that match as
 * many values, the one whose rows line up with the children in order --
 * lazy loading walks the parent's rows one by one -- wins.
 */
static void prove(const struct request *r, int p, const uint32_t *e, uint32_t m,
		  struct proof *best)
{
	const struct ana_sample *s = r->s[p].sample;
	const struct req_stmt *c0 = &r->s[e[0]];
	uint64_t vals[REQ_MAX_STMTS];

	if (!s)
		return;
	for (int k = 0; k < c0->nparams; k++) {
		uint32_t nv = 0;

		for (uint32_t i = 0; i < m; i++) {
			uint64_t v = r->s[e[i]].param[k];
			uint32_t q;

			if (!v || k >= r->s[e[i]].nparams)
				continue;
			for (q = 0; q < nv && vals[q] != v; q++)
				;
			if (q == nv)
				vals[nv++] = v;
		}
		for (int col = 0; col < s->ncols; col++) {
			uint32_t matched = 0, in_order = 0, want, dcol;

			for (uint32_t q = 0; q < nv; q++)
				matched += in_column(s, col, vals[q]);
			for (uint32_t i = 0; i < m && i < s->nrows; i++)
				in_order +=
					r->s[e[i]].param[k] &&
					r->s[e[i]].param[k] == s->val[i][col];
			dcol = distinct_in_column(s, col);
			want = nv < dcol ? nv : dcol;
			if (matched >= 2 && matched * 5 >= want * 4 &&
			    (matched > best->matched ||
			     (matched == best->matched &&
			      in_order > best->in_order))) {
				best->parent = p;
				best->param = k;
				best->col = col;
				best->matched = matched;
				best->in_order = in_order;
			}
		}
	}
}

static uint32_t count_distinct(const struct request *r, const uint32_t *e,
			       uint32_t m, uint64_t *scratch)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < m; i++) {
		uint64_t h = params_hash(&r->s[e[i]]);
		uint32_t q;

		for (q = 0; q < n && scratch[q] != h; q++)
			;
		if (q == n)
			scratch[n++] = h;
	}
	return n;
}

static size_t nplus1_and_redundant(const struct request *r,
				   const struct req_conf *c, const uint32_t *e,
				   uint32_t m, struct req_finding *out,
				   size_t cap)
{
	const struct req_stmt *c0 = &r->s[e[0]];
	uint64_t scratch[REQ_MAX_STMTS];
	uint32_t distinct;
	uint64_t total = 0;
	size_t n = 0;

	if (!c0->select || m < 2)
		return 0;
	for (uint32_t i = 0; i < m; i++)
		total += r->s[e[i]].dur_us;
	distinct = count_distinct(r, e, m, scratch);
	if (c0->nparams > 0 && distinct >= (uint32_t)c->min_repeats &&
	    n < cap) {
		struct proof best = {-1, 0, 0, 0, 0};
		int nearest = -1, stop = (int)e[0] - PARENT_LOOKBACK;

		for (int j = (int)e[0] - 1; j >= 0 && j >= stop; j--) {
			if (r->s[j].fp == c0->fp)
				continue;
			if (nearest < 0 && r->s[j].select)
				nearest = j;
			prove(r, j, e, m, &best);
		}
		if (best.parent >= 0 || nearest >= 0) {
			struct req_finding *f = &out[n++];
			int p = best.parent >= 0 ? best.parent : nearest;

			memset(f, 0, sizeof(*f));
			f->kind = REQ_NPLUS1;
			f->parent_fp = r->s[p].fp;
			f->child_fp = c0->fp;
			f->repeats = m;
			f->distinct = distinct;
			f->total_us = total;
			/* one batched query costs about one of them */
			f->saved_us = total - total / m;
			if (best.parent >= 0) {
				const struct ana_sample *s = r->s[p].sample;

				f->proven = true;
				f->param = best.param + 1;
				f->parent_rel = s->rel[best.col];
				f->parent_att = s->att[best.col];
				f->matched = best.matched;
			}
		}
	}
	if (distinct < m && n < cap) {
		/* the same statement with the same values, run again with no
		 * write to a table it reads in between: its result could have
		 * been kept.  A re-read after such a write is not redundant. */
		uint64_t extra = 0;
		uint32_t repeats = 0;

		for (uint32_t i = 1; i < m; i++) {
			uint64_t h = params_hash(&r->s[e[i]]);
			bool written = false;
			int q;

			for (q = (int)i - 1; q >= 0; q--)
				if (params_hash(&r->s[e[q]]) == h)
					break;
			if (q < 0)
				continue;
			for (uint32_t k = e[q] + 1; k < e[i] && !written; k++)
				written = (r->s[k].wmask & c0->rmask) != 0;
			if (written)
				continue;
			repeats++;
			extra += r->s[e[i]].dur_us;
		}
		if (repeats) {
			struct req_finding *f = &out[n++];

			memset(f, 0, sizeof(*f));
			f->kind = REQ_REDUNDANT;
			f->child_fp = c0->fp;
			f->repeats = repeats;
			f->total_us = extra;
			f->saved_us = extra;
		}
	}
	return n;
}

/* Does statement `i` use a value that statement `j` returned? */
static bool uses_result(const struct request *r, uint32_t i, uint32_t j)
{
	const struct ana_sample *s = r->s[j].sample;

	if (!s)
		return false;
	for (int k = 0; k < r->s[i].nparams; k++)
		for (int col = 0; col < s->ncols; col++)
			if (r->s[i].param[k] &&
			    in_column(s, col, r->s[i].param[k]))
				return true;
	return false;
}

static size_t sequential(const struct request *r, const struct req_conf *c,
			 struct req_finding *out, size_t cap)
{
	uint64_t slow = (uint64_t)c->sequential_min_ms * 1000;
	uint32_t start = 0, len = 0;
	size_t n = 0;

	for (uint32_t i = 0; i <= r->n && n < cap; i++) {
		bool fits =
			i < r->n && r->s[i].select && r->s[i].dur_us >= slow;

		for (uint32_t j = start; fits && j < start + len; j++)
			if (uses_result(r, i, j)) {
				fits = false;
				break;
			}
		if (fits) {
			if (!len)
				start = i;
			len++;
			continue;
		}
		if (len >= 2) {
			struct req_finding *f = &out[n++];
			uint64_t max = 0;

			memset(f, 0, sizeof(*f));
			f->kind = REQ_SEQUENTIAL;
			f->parent_fp = r->s[start].fp;
			f->child_fp = r->s[start + 1].fp;
			f->repeats = len;
			for (uint32_t j = start; j < start + len; j++) {
				f->total_us += r->s[j].dur_us;
				if (r->s[j].dur_us > max)
					max = r->s[j].dur_us;
				if (f->nseq < REQ_SEQ_MAX)
					f->seq_fp[f->nseq++] = r->s[j].fp;
			}
			/* run concurrently, the run takes its slowest */
			f->saved_us = f->total_us - max;
		}
		/* a slow read that used an earlier one's result starts a new
		 * run; anything else ends it */
		len = 0;
		if (i < r->n && r->s[i].select && r->s[i].dur_us >= slow) {
			start = i;
			len = 1;
		}
	}
	return n;
}

size_t req_detect(const struct request *r, const struct req_conf *c,
		  struct req_finding *out, size_t cap)
{
	struct fp_pos key[REQ_MAX_STMTS];
	uint32_t idx[REQ_MAX_STMTS];
	size_t n = 0;

	if (r->n < 2)
		return 0;
	for (uint32_t i = 0; i < r->n; i++)
		key[i] = (struct fp_pos){r->s[i].fp, i};
	/* each fingerprint's executions together, in order */
	qsort(key, r->n, sizeof(key[0]), by_fp_then_pos);
	for (uint32_t i = 0; i < r->n; i++)
		idx[i] = key[i].pos;
	for (uint32_t i = 0, j; i < r->n && n < cap; i = j) {
		for (j = i + 1; j < r->n && key[j].fp == key[i].fp; j++)
			;
		n += nplus1_and_redundant(r, c, idx + i, j - i, out + n,
					  cap - n);
	}
	if (n < cap)
		n += sequential(r, c, out + n, cap - n);
	return n;
}
