/*
 * state.c -- what the analyzer knows, kept across restarts (state_file).
 *
 * The image is a header -- "PGPERFST", the format version, the payload's
 * length and a 64-bit hash of it -- and a payload of fixed sections:
 * totals, the "other" entry, every fingerprint with its per-client
 * figures, routes, findings, index suggestions, and the marks with their
 * stretches.  Histograms keep their buckets, so percentiles survive.
 * Texts are kept normalized only (no values), as everywhere else.
 *
 * The analyzer thread builds the image under its lock and writes it with
 * the lock released: a temporary file, fsync, rename over the old one,
 * fsync of the directory, so that a crash leaves the old file or the new
 * one, never half of either.  At start it loads the file before applying
 * any event; a file that fails any check is renamed to
 * FILE.corrupt-TIMESTAMP and pgperf carries on with empty statistics.
 */
#include "analyzer_int.h"

#include "analyzer/advisor.h"
#include "lib/log.h"
#include "analyzer/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_MAGIC "PGPERFST"
/* 2: counts at the latest point marks; 3: hit potential per fingerprint
 * (version 2 files are still read) */
#define STATE_VERSION 3
#define STATE_HEADER 32		     /* magic, version, length, hash */
#define STATE_MAX (1024UL << 20)     /* a bigger file is not read */
#define STATE_TEXT_MAX (1024 * 1024) /* one normalized statement */

/* ---- the image ---- */

static void counters_save(const struct counters *c, struct jbuf *b)
{
	ser_u64(b, c->calls);
	ser_u64(b, c->errors);
	ser_u64(b, c->rows);
	ser_u64(b, c->bytes);
	ser_u64(b, c->wait_us);
	hist_save(&c->hist, b);
}

static bool counters_load(struct counters *c, struct srd *r)
{
	memset(c, 0, sizeof(*c));
	c->calls = srd_u64(r);
	c->errors = srd_u64(r);
	c->rows = srd_u64(r);
	c->bytes = srd_u64(r);
	c->wait_us = srd_u64(r);
	return hist_load(&c->hist, r);
}

/* The length of "database\0user\0application\0". */
static size_t who_len(const char *who)
{
	size_t len = 0;

	for (int i = 0; i < 3; i++)
		len += strlen(who + len) + 1;
	return len;
}

static void qstat_save(const struct qstat *q, struct jbuf *b)
{
	int nerr = 0;

	ser_u64(b, q->fingerprint);
	ser_u64(b, (uint64_t)q->first_seen);
	ser_u64(b, (uint64_t)q->last_seen);
	counters_save(&q->c, b);
	for (int i = 0; i < 2; i++) {
		ser_u64(b, q->mk_calls[i]);
		ser_u64(b, q->mk_us[i]);
	}
	/* hit potential's counts (its recent values are not kept) */
	ser_u64(b, q->hp ? q->hp->execs : 0);
	ser_u64(b, q->hp ? q->hp->repeats : 0);
	ser_u64(b, q->hp ? q->hp->repeat_us : 0);
	while (nerr < MAX_ERRS && q->err[nerr].state[0])
		nerr++;
	ser_u8(b, (uint8_t)nerr);
	for (int i = 0; i < nerr; i++) {
		jb_put(b, q->err[i].state, 5);
		ser_u64(b, q->err[i].n);
	}
	ser_str(b, q->parse.normalized);
	ser_u32(b, (uint32_t)q->nsubs);
	for (const struct sub *s = q->subs; s; s = s->next) {
		size_t n = who_len(s->who);

		ser_u64(b, s->client_key);
		ser_u32(b, (uint32_t)n);
		jb_put(b, s->who, n);
		counters_save(&s->c, b);
	}
}

static void image(struct analyzer *a, struct jbuf *b)
{
	uint32_t n = 0;

	ser_u64(b, a->t.events);
	ser_u64(b, a->t.dropped);
	ser_u64(b, a->t.evicted);
	ser_u64(b, a->t.unparsed);
	ser_u64(b, a->t.unknown_shape);
	ser_u64(b, a->t.calls);
	ser_u64(b, a->t.errors);
	ser_u64(b, a->t.advice_checked);
	counters_save(&a->other.c, b);
	ser_u32(b, (uint32_t)a->nfp);
	for (size_t k = 0; k < a->nfp_buckets; k++)
		for (struct qstat *q = a->fp[k]; q; q = q->next)
			qstat_save(q, b);
	for (size_t i = 0; i <= MAX_ROUTES; i++)
		n += a->routes[i].requests > 0;
	ser_u32(b, n);
	for (size_t i = 0; i <= MAX_ROUTES; i++) {
		const struct route_ent *re = &a->routes[i];

		if (!re->requests)
			continue;
		ser_str(b, re->route);
		ser_u64(b, re->requests);
		ser_u64(b, re->statements);
		ser_u64(b, re->nplus1);
		hist_save(&re->stmts, b);
		hist_save(&re->db, b);
	}
	findings_save(a->findings, b);
	advisor_save(a->advisor, b);
	ser_u8(b, (uint8_t)a->nmarks);
	for (int i = 0; i < a->nmarks; i++) {
		ser_str(b, a->marks[i].name);
		ser_u8(b, (uint8_t)a->marks[i].kind);
		ser_u64(b, (uint64_t)a->marks[i].at_us);
		win_save(&a->marks[i].seg, b);
	}
	win_save(&a->cur, b);
	ser_u32(b, (uint32_t)a->extra_out_len);
	jb_put(b, (const char *)a->extra_out, a->extra_out_len);
}

void *analyzer_state_image(struct analyzer *a, size_t *len)
{
	struct jbuf b = {0};
	uint64_t hash;

	jb_put(&b, STATE_MAGIC, 8);
	ser_u32(&b, STATE_VERSION);
	ser_u32(&b, 0);
	ser_u64(&b, 0); /* the payload's length and hash, once known */
	ser_u64(&b, 0);
	pthread_mutex_lock(&a->lock);
	image(a, &b);
	pthread_mutex_unlock(&a->lock);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	hash = pgp_hash_bytes(b.p + STATE_HEADER, b.n - STATE_HEADER);
	for (int i = 0; i < 8; i++) {
		b.p[16 + i] = (char)((uint64_t)(b.n - STATE_HEADER) >> (8 * i));
		b.p[24 + i] = (char)(hash >> (8 * i));
	}
	*len = b.n;
	return b.p;
}

/* ---- reading it back (lock held) ---- */

static void load_qstat(struct analyzer *a, struct srd *r)
{
	uint64_t fp = srd_u64(r);
	int64_t first = (int64_t)srd_u64(r), last = (int64_t)srd_u64(r);
	struct counters c;
	struct {
		char state[6];
		uint64_t n;
	} err[MAX_ERRS];
	uint8_t nerr;
	uint32_t tlen, nsubs;
	const uint8_t *text;
	struct qstat *q;

	uint64_t mk_calls[2], mk_us[2], hp[3] = {0, 0, 0};

	memset(err, 0, sizeof(err));
	(void)counters_load(&c, r);
	for (int i = 0; i < 2; i++) {
		mk_calls[i] = srd_u64(r);
		mk_us[i] = srd_u64(r);
	}
	if (r->version >= 3)
		for (int i = 0; i < 3; i++)
			hp[i] = srd_u64(r);
	nerr = srd_u8(r);
	if (nerr > MAX_ERRS)
		r->bad = true;
	for (int i = 0; i < nerr && !r->bad; i++) {
		const uint8_t *st = srd_take(r, 5);

		if (st)
			memcpy(err[i].state, st, 5);
		err[i].n = srd_u64(r);
	}
	tlen = srd_u32(r);
	if (tlen > STATE_TEXT_MAX)
		r->bad = true;
	text = srd_take(r, tlen);
	if (r->bad) {
		ana_counters_free(&c);
		return;
	}
	if (!(q = ana_fp_find(a, fp))) {
		struct sqlparse p;
		char *sql = malloc((size_t)tlen + 1);

		if (!sql) {
			r->bad = true;
			ana_counters_free(&c);
			return;
		}
		memcpy(sql, text, tlen);
		sql[tlen] = '\0';
		/* parsed again for what the statement reads and writes */
		if (!sqlparse_run(sql, &p) || !p.normalized) {
			sqlparse_free(&p);
			memset(&p, 0, sizeof(p));
			p.normalized = sql;
			p.kind = "UNKNOWN";
			sql = NULL;
		}
		free(sql);
		p.fingerprint = fp;
		if (!(q = ana_fp_add(a, fp, &p))) {
			sqlparse_free(&p);
			r->bad = true;
			ana_counters_free(&c);
			return;
		}
	}
	if (!ana_counters_merge(&q->c, &c))
		r->bad = true;
	ana_counters_free(&c);
	q->members |= r->member;
	for (int i = 0; i < 2; i++) {
		q->mk_calls[i] += mk_calls[i];
		q->mk_us[i] += mk_us[i];
	}
	if (hp[0] && hp[1] <= hp[0] &&
	    (q->hp || (q->hp = pgp_calloc(1, sizeof(*q->hp))))) {
		q->hp->execs += hp[0];
		q->hp->repeats += hp[1];
		q->hp->repeat_us += hp[2];
	}
	if (!q->first_seen || (first && first < q->first_seen))
		q->first_seen = first;
	if (last > q->last_seen)
		q->last_seen = last;
	for (int i = 0; i < nerr; i++) {
		int k;

		for (k = 0; k < MAX_ERRS && q->err[k].state[0]; k++)
			if (memcmp(q->err[k].state, err[i].state, 6) == 0)
				break;
		if (k < MAX_ERRS) {
			memcpy(q->err[k].state, err[i].state, 6);
			q->err[k].n += err[i].n;
		}
	}
	nsubs = srd_u32(r);
	if (nsubs > MAX_SUBS)
		r->bad = true;
	for (uint32_t i = 0; i < nsubs && !r->bad; i++) {
		uint64_t key = srd_u64(r);
		uint32_t wl = srd_u32(r);
		const uint8_t *who = wl <= 256 ? srd_take(r, wl) : NULL;
		struct sub *s;
		int nuls = 0;

		for (uint32_t k = 0; who && k < wl; k++)
			nuls += who[k] == '\0';
		if (!who || nuls != 3 || who[wl - 1] != '\0') {
			r->bad = true;
			break;
		}
		if (!counters_load(&c, r)) {
			ana_counters_free(&c);
			break;
		}
		for (s = q->subs; s; s = s->next)
			if (s->client_key == key)
				break;
		if (!s && q->nsubs < MAX_SUBS &&
		    (s = pgp_calloc(1, sizeof(*s)))) {
			if (!(s->who = malloc(wl))) {
				pgp_free(s);
				s = NULL;
			} else {
				memcpy(s->who, who, wl);
				s->client_key = key;
				hist_init(&s->c.hist);
				s->next = q->subs;
				q->subs = s;
				q->nsubs++;
			}
		}
		if (s && !ana_counters_merge(&s->c, &c))
			r->bad = true;
		ana_counters_free(&c);
	}
}

static void load_payload(struct analyzer *a, struct srd *r)
{
	struct counters c;
	uint32_t n;
	uint8_t nmarks;
	struct ana_totals t;

	memset(&t, 0, sizeof(t));
	t.events = srd_u64(r);
	t.dropped = srd_u64(r);
	t.evicted = srd_u64(r);
	t.unparsed = srd_u64(r);
	t.unknown_shape = srd_u64(r);
	t.calls = srd_u64(r);
	t.errors = srd_u64(r);
	t.advice_checked = srd_u64(r);
	if (!counters_load(&c, r) || !ana_counters_merge(&a->other.c, &c))
		r->bad = true;
	ana_counters_free(&c);
	n = srd_u32(r);
	for (uint32_t i = 0; i < n && !r->bad; i++)
		load_qstat(a, r);
	n = srd_u32(r);
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		char route[ANA_ROUTE_MAX];
		struct route_ent *re;
		struct histogram h1, h2;

		srd_str(r, route, sizeof(route));
		hist_init(&h1);
		hist_init(&h2);
		if (r->bad)
			break;
		re = ana_route_for(a, route);
		re->requests += srd_u64(r);
		re->statements += srd_u64(r);
		re->nplus1 += srd_u64(r);
		if (!hist_load(&h1, r) || !hist_load(&h2, r) ||
		    !hist_merge(&re->stmts, &h1) || !hist_merge(&re->db, &h2))
			r->bad = true;
		hist_free(&h1);
		hist_free(&h2);
	}
	if (!r->bad)
		(void)findings_load(a->findings, r, r->member);
	if (!r->bad)
		(void)advisor_load(a->advisor, r);
	nmarks = srd_u8(r);
	if (nmarks > ANA_MAX_MARKS)
		r->bad = true;
	if (!r->bad) {
		/* the windows carry on where they were, unless statements
		 * or marks came first (then the saved ones are read and
		 * dropped) */
		bool keep = a->nmarks == 0 && a->cur.calls == 0;
		struct window w;

		for (uint8_t i = 0; i < nmarks && !r->bad; i++) {
			struct mark m;

			memset(&m, 0, sizeof(m));
			srd_str(r, m.name, sizeof(m.name));
			m.kind = srd_u8(r);
			if (m.kind > ANA_MARK_LOAD_STOP)
				r->bad = true;
			m.at_us = (int64_t)srd_u64(r);
			(void)win_load(&m.seg, r);
			if (keep && !r->bad)
				a->marks[a->nmarks++] = m;
			else
				hist_free(&m.seg.hist);
		}
		if (win_load(&w, r) && keep) {
			hist_free(&a->cur.hist);
			a->cur = w;
			a->win_gen++;
		} else {
			hist_free(&w.hist);
		}
	}
	if (!r->bad) {
		uint32_t elen = srd_u32(r);
		const uint8_t *e = srd_take(r, elen);

		free(a->extra_in);
		a->extra_in = NULL;
		a->extra_in_len = 0;
		if (e && elen && (a->extra_in = malloc(elen))) {
			memcpy(a->extra_in, e, elen);
			a->extra_in_len = elen;
		}
	}
	if (!r->bad) {
		a->t.events += t.events;
		a->t.dropped += t.dropped;
		a->t.evicted += t.evicted;
		a->t.unparsed += t.unparsed;
		a->t.unknown_shape += t.unknown_shape;
		a->t.calls += t.calls;
		a->t.errors += t.errors;
		a->t.advice_checked += t.advice_checked;
	}
}

static bool state_load(struct analyzer *a, const void *buf, size_t len,
		       uint64_t member, char *err, size_t errlen)
{
	struct srd r = {buf, len, 0, false, 0, member};
	const uint8_t *magic = srd_take(&r, 8);
	uint32_t version = srd_u32(&r);
	uint64_t plen, hash;

	(void)srd_u32(&r);
	plen = srd_u64(&r);
	hash = srd_u64(&r);
	if (!magic || memcmp(magic, STATE_MAGIC, 8) != 0) {
		snprintf(err, errlen, "not a pgperf state file");
		return false;
	}
	if (version < 2 || version > STATE_VERSION) {
		snprintf(err, errlen,
			 "format version %u, this pgperf reads versions 2 to "
			 "%d",
			 version, STATE_VERSION);
		return false;
	}
	r.version = version;
	if (r.bad || plen != len - STATE_HEADER) {
		snprintf(err, errlen, "truncated (%zu bytes of %llu)",
			 len > STATE_HEADER ? len - STATE_HEADER : 0,
			 (unsigned long long)plen);
		return false;
	}
	if (pgp_hash_bytes((const uint8_t *)buf + STATE_HEADER, plen) != hash) {
		snprintf(err, errlen, "checksum mismatch");
		return false;
	}
	pthread_mutex_lock(&a->lock);
	load_payload(a, &r);
	if (!r.bad && r.off != r.n)
		r.bad = true; /* bytes left over: not what was written */
	if (r.bad && !member) {
		ana_reset_all(a); /* nothing half-loaded */
		free(a->extra_in);
		a->extra_in = NULL;
		a->extra_in_len = 0;
	}
	pthread_mutex_unlock(&a->lock);
	if (r.bad)
		snprintf(err, errlen, "malformed at byte %zu", r.off);
	return !r.bad;
}

bool analyzer_state_load(struct analyzer *a, const void *buf, size_t len,
			 char *err, size_t errlen)
{
	return state_load(a, buf, len, 0, err, errlen);
}

bool analyzer_state_merge(struct analyzer *a, const void *buf, size_t len,
			  uint64_t member, char *err, size_t errlen)
{
	return state_load(a, buf, len, member ? member : 1, err, errlen);
}

/* ---- the file ---- */

static bool read_file(const char *path, uint8_t **out, size_t *len, char *err,
		      size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *p;
	size_t off = 0;

	*out = NULL;
	if (fd < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return false;
	}
	if (fstat(fd, &st) != 0 || st.st_size < 0 ||
	    (unsigned long)st.st_size > STATE_MAX) {
		snprintf(err, errlen, "unreadable or larger than %lu MB",
			 STATE_MAX >> 20);
		close(fd);
		return false;
	}
	if (!(p = malloc((size_t)st.st_size + 1))) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return false;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, p + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	*out = p;
	*len = off;
	return true;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Write the file atomically; false with the reason in err. */
static bool write_file(const char *path, const char *data, size_t n, char *err,
		       size_t errlen)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	char *slash;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "path too long");
		return false;
	}
	/* a new file of our own: not one left (or planted, e.g. as a
	 * symlink to a file pgperf may write) in the directory before */
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return false;
	}
	if (!write_all(fd, data, n) || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return false;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "rename to %s: %s", path,
			 strerror(errno));
		unlink(tmp);
		return false;
	}
	/* the rename itself must reach the disk */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return true;
}

void state_save_now(struct analyzer *a)
{
	size_t n = 0;
	char *img, err[PATH_MAX + 64];
	int64_t t0 = pgp_now_us();

	if (!atomic_load(&a->state_on))
		return; /* never loaded: do not overwrite it with nothing */
	if (!(img = analyzer_state_image(a, &n))) {
		log_warning("state file %s: out of memory building it",
			    a->state_path);
		return;
	}
	if (!write_file(a->state_path, img, n, err, sizeof(err)))
		log_warning("state file not saved: %s", err);
	else
		log_debug("state file %s saved: %zu bytes in %lld ms",
			  a->state_path, n,
			  (long long)(pgp_now_us() - t0) / 1000);
	free(img);
}

/* Load the state file, or set a bad one aside. */
static void state_load_file(struct analyzer *a)
{
	char err[256], aside[PATH_MAX + 64], stamp[32];
	uint8_t *buf;
	size_t len;
	time_t now = time(NULL);
	struct tm tm;

	if (access(a->state_path, F_OK) != 0) {
		log_info("state file %s does not exist yet: starting with "
			 "empty statistics",
			 a->state_path);
		return;
	}
	if (read_file(a->state_path, &buf, &len, err, sizeof(err)) &&
	    analyzer_state_load(a, buf, len, err, sizeof(err))) {
		log_info("state file %s loaded (%zu bytes)", a->state_path,
			 len);
		free(buf);
		return;
	}
	free(buf);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(aside, sizeof(aside), "%s.corrupt-%s", a->state_path, stamp);
	if (rename(a->state_path, aside) == 0)
		log_warning("state file %s cannot be used (%s): set aside as "
			    "%s; starting with empty statistics",
			    a->state_path, err, aside);
	else
		log_warning("state file %s cannot be used (%s) nor set aside "
			    "(%s); starting with empty statistics, and it "
			    "will be overwritten",
			    a->state_path, err, strerror(errno));
}

void state_load_step(struct analyzer *a)
{
	if (!atomic_exchange(&a->state_load, false))
		return;
	state_load_file(a);
	pthread_mutex_lock(&a->lock);
	a->extra_settled = true;
	pthread_mutex_unlock(&a->lock);
	atomic_store(&a->state_on, true); /* from now on, saves */
	analyzer_kick_fd(a->side_fd);
}

int64_t state_save_step(struct analyzer *a, int64_t now, int64_t next)
{
	if (!atomic_load(&a->state_on))
		return 0;
	if (!next) /* just loaded: the first save is one interval away */
		return now + atomic_load(&a->state_every_us);
	if (now < next)
		return next;
	state_save_now(a);
	return now + atomic_load(&a->state_every_us);
}

void analyzer_set_state(struct analyzer *a, const char *path)
{
	if (!path || !*path || a->state_path)
		return;
	a->state_path = strdup(path);
	if (a->state_path)
		atomic_store(&a->state_load, true); /* publishes the path */
	analyzer_kick_fd(a->wake_fd);
}

void analyzer_set_extra(struct analyzer *a, void *blob, size_t len)
{
	pthread_mutex_lock(&a->lock);
	free(a->extra_out);
	a->extra_out = blob;
	a->extra_out_len = blob ? len : 0;
	pthread_mutex_unlock(&a->lock);
}

void *analyzer_take_extra(struct analyzer *a, size_t *len, bool *settled)
{
	void *p;

	pthread_mutex_lock(&a->lock);
	p = a->extra_in;
	*len = a->extra_in_len;
	*settled = a->extra_settled;
	a->extra_in = NULL;
	a->extra_in_len = 0;
	pthread_mutex_unlock(&a->lock);
	return p;
}
