/*
 * fleet_record.c -- a member's record as it sits in Redis: who the
 * process is, its pools' figures and its analyzer's state image.  Bytes
 * with fixed-width little-endian integers and length-prefixed strings
 * (analyzer/serial.h); the reader checks every length, so a record cut
 * short or written by something else ends in an error, never in a read
 * out of bounds.  The image carries its own checksum
 * (analyzer_state_merge checks it).
 */
#include "fleet/fleet.h"

#include "analyzer/serial.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_MAGIC "PGPFLEET"
#define RECORD_VERSION 1
#define RECORD_MAX_POOLS 100000

static void pool_save(struct jbuf *b, const struct fleet_pool *p)
{
	const uint64_t v[] = {p->cl_active,
			      p->cl_waiting,
			      p->sv_active,
			      p->sv_idle,
			      p->sv_login,
			      p->maxwait_us,
			      p->pool_size,
			      p->xact_count,
			      p->query_count,
			      p->recv,
			      p->sent,
			      p->xact_us,
			      p->query_us,
			      p->wait_us,
			      p->wait_count,
			      p->avg_xact_count,
			      p->avg_query_count,
			      p->avg_recv,
			      p->avg_sent,
			      p->avg_xact_us,
			      p->avg_query_us,
			      p->avg_wait_us,
			      p->waited_count,
			      p->max_wait_us};

	ser_str(b, p->database);
	ser_str(b, p->user);
	ser_str(b, p->mode);
	ser_u32(b, (uint32_t)ARRAY_SIZE(v));
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		ser_u64(b, v[i]);
}

static void pool_load(struct srd *r, struct fleet_pool *p)
{
	uint64_t *const v[] = {&p->cl_active,
			       &p->cl_waiting,
			       &p->sv_active,
			       &p->sv_idle,
			       &p->sv_login,
			       &p->maxwait_us,
			       &p->pool_size,
			       &p->xact_count,
			       &p->query_count,
			       &p->recv,
			       &p->sent,
			       &p->xact_us,
			       &p->query_us,
			       &p->wait_us,
			       &p->wait_count,
			       &p->avg_xact_count,
			       &p->avg_query_count,
			       &p->avg_recv,
			       &p->avg_sent,
			       &p->avg_xact_us,
			       &p->avg_query_us,
			       &p->avg_wait_us,
			       &p->waited_count,
			       &p->max_wait_us};
	uint32_t n;

	memset(p, 0, sizeof(*p));
	srd_str(r, p->database, sizeof(p->database));
	srd_str(r, p->user, sizeof(p->user));
	srd_str(r, p->mode, sizeof(p->mode));
	n = srd_u32(r);
	/* a later version may add figures at the end: read ours, skip
	 * theirs */
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		uint64_t x = srd_u64(r);

		if (i < ARRAY_SIZE(v))
			*v[i] = x;
	}
}

void *fleet_record_build(const struct fleet_member *m,
			 const struct fleet_pool *pools, size_t npools,
			 const void *image, size_t image_len, size_t *len)
{
	struct jbuf b = {0};

	jb_put(&b, RECORD_MAGIC, 8);
	ser_u32(&b, RECORD_VERSION);
	ser_str(&b, m->id);
	ser_u32(&b, (uint32_t)m->peer_id);
	ser_u32(&b, (uint32_t)m->pid);
	ser_u32(&b, (uint32_t)m->stats_period);
	ser_str(&b, m->host);
	ser_str(&b, m->listen);
	ser_u64(&b, (uint64_t)m->started_us);
	ser_u64(&b, (uint64_t)m->published_us);
	ser_u32(&b, (uint32_t)npools);
	for (size_t i = 0; i < npools; i++)
		pool_save(&b, &pools[i]);
	ser_u32(&b, (uint32_t)image_len);
	jb_put(&b, image, image_len);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.n;
	return b.p;
}

bool fleet_record_parse(const void *buf, size_t len, struct fleet_record *r,
			char *err, size_t errlen)
{
	struct srd s = {buf, len, 0, false, 0, 0};
	const uint8_t *magic = srd_take(&s, 8);
	uint32_t version, n;

	memset(r, 0, sizeof(*r));
	if (!magic || memcmp(magic, RECORD_MAGIC, 8) != 0) {
		snprintf(err, errlen, "not a pgperf fleet record");
		return false;
	}
	version = srd_u32(&s);
	if (version != RECORD_VERSION) {
		snprintf(err, errlen,
			 "record version %u, this pgperf reads version %d",
			 version, RECORD_VERSION);
		return false;
	}
	srd_str(&s, r->m.id, sizeof(r->m.id));
	r->m.peer_id = (int)srd_u32(&s);
	r->m.pid = (int)srd_u32(&s);
	r->m.stats_period = (int)srd_u32(&s);
	srd_str(&s, r->m.host, sizeof(r->m.host));
	srd_str(&s, r->m.listen, sizeof(r->m.listen));
	r->m.started_us = (int64_t)srd_u64(&s);
	r->m.published_us = (int64_t)srd_u64(&s);
	n = srd_u32(&s);
	/* each pool takes at least 16 bytes: a count beyond what is left
	 * is a lie, and no allocation is made for it */
	if (n > RECORD_MAX_POOLS || (size_t)n * 16 > len - s.off)
		s.bad = true;
	if (!s.bad && n && !(r->pools = calloc(n, sizeof(*r->pools)))) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for (uint32_t i = 0; i < n && !s.bad; i++)
		pool_load(&s, &r->pools[r->npools++]);
	r->image_len = srd_u32(&s);
	r->image = srd_take(&s, r->image_len);
	if (!s.bad && s.off != s.n)
		s.bad = true;
	if (s.bad || !r->m.id[0] || r->m.stats_period <= 0) {
		snprintf(err, errlen, "malformed at byte %zu", s.off);
		fleet_record_free(r);
		return false;
	}
	return true;
}

void fleet_record_free(struct fleet_record *r)
{
	free(r->pools);
	r->pools = NULL;
	r->npools = 0;
}

/* A mean over two sets of counts, weighted by them. */
static uint64_t wmean(uint64_t m1, uint64_t n1, uint64_t m2, uint64_t n2)
{
	return n1 + n2 ? (m1 * n1 + m2 * n2) / (n1 + n2) : 0;
}

void fleet_pool_add(struct fleet_pool *d, const struct fleet_pool *s)
{
	d->avg_xact_us = wmean(d->avg_xact_us, d->avg_xact_count,
			       s->avg_xact_us, s->avg_xact_count);
	d->avg_query_us = wmean(d->avg_query_us, d->avg_query_count,
				s->avg_query_us, s->avg_query_count);
	d->avg_wait_us = wmean(d->avg_wait_us, d->avg_xact_count,
			       s->avg_wait_us, s->avg_xact_count);
	d->cl_active += s->cl_active;
	d->cl_waiting += s->cl_waiting;
	d->sv_active += s->sv_active;
	d->sv_idle += s->sv_idle;
	d->sv_login += s->sv_login;
	if (s->maxwait_us > d->maxwait_us)
		d->maxwait_us = s->maxwait_us;
	/* each process's setting, not a sum: the report checks it against
	 * slo_pool_size_max per pool */
	if (s->pool_size > d->pool_size)
		d->pool_size = s->pool_size;
	d->xact_count += s->xact_count;
	d->query_count += s->query_count;
	d->recv += s->recv;
	d->sent += s->sent;
	d->xact_us += s->xact_us;
	d->query_us += s->query_us;
	d->wait_us += s->wait_us;
	d->wait_count += s->wait_count;
	d->waited_count += s->waited_count;
	if (s->max_wait_us > d->max_wait_us)
		d->max_wait_us = s->max_wait_us;
	d->avg_xact_count += s->avg_xact_count;
	d->avg_query_count += s->avg_query_count;
	d->avg_recv += s->avg_recv;
	d->avg_sent += s->avg_sent;
	d->members |= s->members;
}

bool fleet_member_stale(const struct fleet_member *m, int64_t now_us)
{
	int64_t period = m->stats_period > 0 ? m->stats_period : 60;

	return now_us - m->published_us > (2 * period + 2) * 1000000LL;
}

int fleet_live_members(const struct fleet_view *v, int64_t now_us)
{
	int n = 0;

	for (size_t i = 0; i < v->nmembers; i++)
		n += !fleet_member_stale(&v->members[i], now_us);
	return n;
}

int fleet_count(const struct fleet_view *v, uint64_t bits)
{
	int n = 0;

	for (size_t i = 0; i < v->nmembers && i < FLEET_MAX_MEMBERS; i++)
		n += (bits >> i) & 1;
	return n;
}

void fleet_stale_ids(const struct fleet_view *v, uint64_t bits, int64_t now_us,
		     char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < v->nmembers && i < FLEET_MAX_MEMBERS; i++) {
		if (!((bits >> i) & 1) ||
		    !fleet_member_stale(&v->members[i], now_us) || off >= cap)
			continue;
		off += (size_t)snprintf(buf + off, cap - off, "%s%s",
					off ? "," : "", v->members[i].id);
	}
}
