/*
 * observe.c -- statement events from the I/O thread (see observe.h).
 */
#include "tap/observe.h"
#include "proto/session_state.h"

#include "analyzer/analyzer.h"
#include "proto/auth.h"
#include "proxy/client.h"
#include "proxy/conn.h"
#include "proxy/proxy_types.h"
#include "lib/shape.h"
#include "tap/values.h"
#include "proto/wire.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KNOWN_MAX 65536 /* shapes remembered; then forgotten at once */
#define NAMES_MAX 4096	/* named statements tracked per client */

struct obs_name {
	uint64_t shape;
	char name[];
};

bool observe_on(const struct pgperf *pp)
{
	return pp->ana && pp->cfg->analysis;
}

bool observe_shapes(const struct pgperf *pp)
{
	return pp->ana && (pp->cfg->analysis || pp->cache);
}

/* ---- shapes this thread has sent ---- */

/* The slot of `shape`, or -1 when it is not known. */
static long known_find(const struct obs_known *k, uint64_t shape)
{
	size_t mask, i;

	if (!k->nslots)
		return -1;
	mask = k->nslots - 1;
	for (i = pgp_mix64(shape) & mask; k->slot[i]; i = (i + 1) & mask)
		if (k->slot[i] == shape)
			return (long)i;
	return -1;
}

static void known_add(struct obs_known *k, uint64_t shape, bool inert)
{
	size_t mask, i;

	if (!k->nslots) {
		k->slot = pgp_calloc(KNOWN_MAX * 2, sizeof(uint64_t));
		k->inert = pgp_calloc(KNOWN_MAX * 2, 1);
		if (!k->slot || !k->inert) {
			pgp_free(k->slot);
			pgp_free(k->inert);
			k->slot = NULL;
			k->inert = NULL;
			return;
		}
		k->nslots = KNOWN_MAX * 2;
	}
	if (k->n >= KNOWN_MAX) {
		/* forget all: at worst texts are sent again */
		memset(k->slot, 0, k->nslots * sizeof(uint64_t));
		k->n = 0;
		k->gen++;
	}
	mask = k->nslots - 1;
	for (i = pgp_mix64(shape) & mask; k->slot[i]; i = (i + 1) & mask)
		if (k->slot[i] == shape)
			return;
	k->slot[i] = shape;
	k->inert[i] = inert;
	k->n++;
}

void observe_known_free(struct obs_known *k)
{
	pgp_free(k->slot);
	pgp_free(k->inert);
	memset(k, 0, sizeof(*k));
}

void observe_known_forget(struct obs_known *k)
{
	if (k->nslots)
		memset(k->slot, 0, k->nslots * sizeof(uint64_t));
	k->n = 0;
	k->gen++;
}

/*
 * The shape of `sql`; its text goes to the analyzer if new here.  With
 * `inert`, also whether the shape is known to leave no session state
 * (worked out once per shape, when its text goes).
 */
static uint64_t shape_of(struct pgperf *pp, const struct client *cl,
			 const char *sql, size_t len, struct shape *shp,
			 bool *inert)
{
	struct shape local, *sh = shp ? shp : &local;
	struct ana_event ev;
	long at;
	bool words_inert;

	shape_compute(sql, len, sh);
	if (sh->hash == 0)
		sh->hash = 1;
	if (analyzer_wants_texts(pp->ana))
		observe_known_forget(&pp->known);
	if ((at = known_find(&pp->known, sh->hash)) >= 0) {
		if (inert)
			*inert = pp->known.inert[at];
		return sh->hash;
	}
	words_inert = session_words_inert(sql, len);
	if (inert)
		*inert = words_inert;
	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_TEXT;
	ev.shape = sh->hash;
	ev.client = cl->c.id; /* who sent it first: whose rights it needs */
	/* malloc, not pgp_malloc: the analyzer thread frees it */
	if (!(ev.text = malloc(len + 1)))
		return sh->hash;
	memcpy(ev.text, sql, len);
	ev.text[len] = '\0';
	ev.text_len = (uint32_t)len;
	if (analyzer_push(pp->ana, &ev))
		known_add(&pp->known, sh->hash, words_inert);
	else
		free(ev.text);
	return sh->hash;
}

/* A statement text and what shape_of() said of it. */
struct obs_memo {
	uint32_t gen; /* pp->known.gen when the shape was known */
	bool inert;
	size_t len, cap;
	struct shape sh;
	char text[];
};

/* Texts longer than this are not remembered. */
#define MEMO_TEXT_MAX 2048

/*
 * shape_of() for a client: a text it sent lately (and whose shape this
 * thread still knows) costs a comparison instead of a lexer pass.
 */
static uint64_t client_shape_of(struct client *cl, const char *sql, size_t len,
				struct shape *sh, bool *inert)
{
	struct pgperf *pp = cl->c.pp;
	struct obs_client *o = &cl->obs;
	struct obs_memo *m;
	uint64_t hash;
	int slot;

	if (analyzer_wants_texts(pp->ana))
		observe_known_forget(&pp->known);
	for (int i = 0; i < OBS_MEMO; i++) {
		m = o->memo[i];
		if (m && m->len == len && m->gen == pp->known.gen &&
		    memcmp(m->text, sql, len) == 0) {
			*sh = m->sh;
			*inert = m->inert;
			return sh->hash;
		}
	}
	hash = shape_of(pp, cl, sql, len, sh, inert);
	if (len > MEMO_TEXT_MAX || known_find(&pp->known, hash) < 0)
		return hash; /* only what the analyzer has is remembered */
	slot = o->memo_next;
	o->memo_next = (uint8_t)((o->memo_next + 1) % OBS_MEMO);
	m = o->memo[slot];
	if (!m || m->cap < len) {
		struct obs_memo *n = pgp_malloc(sizeof(*n) + len);

		if (!n)
			return hash;
		pgp_free(m);
		o->memo[slot] = m = n;
		m->cap = len;
	}
	m->gen = pp->known.gen;
	m->inert = *inert;
	m->len = len;
	m->sh = *sh;
	memcpy(m->text, sql, len);
	return hash;
}

/* ---- a client's named statements ---- */

static struct obs_name **name_slot(struct obs_client *o, const char *name,
				   size_t len)
{
	size_t mask = o->nslots - 1, i = pgp_hash_bytes(name, len) & mask;

	while (o->names[i] && (strncmp(o->names[i]->name, name, len) != 0 ||
			       o->names[i]->name[len] != '\0'))
		i = (i + 1) & mask;
	return &o->names[i];
}

static uint64_t name_get(struct obs_client *o, const char *name, size_t len)
{
	struct obs_name **s;

	if (len == 0)
		return o->unnamed_shape;
	if (!o->nslots)
		return 0;
	s = name_slot(o, name, len);
	return *s ? (*s)->shape : 0;
}

static void name_rehash(struct obs_client *o, size_t nslots)
{
	struct obs_name **old = o->names;
	size_t oldn = o->nslots;

	if (!(o->names = pgp_calloc(nslots, sizeof(*o->names)))) {
		o->names = old;
		return;
	}
	o->nslots = nslots;
	for (size_t i = 0; i < oldn; i++)
		if (old[i])
			*name_slot(o, old[i]->name, strlen(old[i]->name)) =
				old[i];
	pgp_free(old);
}

static void name_put(struct obs_client *o, const char *name, size_t len,
		     uint64_t shape)
{
	struct obs_name **s;

	if (len == 0) {
		o->unnamed_shape = shape;
		return;
	}
	if (o->nnames >= NAMES_MAX)
		return;
	if (o->nnames * 2 >= o->nslots)
		name_rehash(o, o->nslots ? o->nslots * 2 : 16);
	if (o->nnames * 2 >= o->nslots)
		return;
	s = name_slot(o, name, len);
	if (!*s) {
		if (!(*s = pgp_malloc(sizeof(**s) + len + 1)))
			return;
		memcpy((*s)->name, name, len);
		(*s)->name[len] = '\0';
		o->nnames++;
	}
	(*s)->shape = shape;
}

static void name_del(struct obs_client *o, const char *name, size_t len)
{
	struct obs_name **s;
	size_t mask, i;

	if (len == 0 || !o->nslots)
		return;
	s = name_slot(o, name, len);
	if (!*s)
		return;
	pgp_free(*s);
	*s = NULL;
	o->nnames--;
	/* re-place the entries after it in its run (linear probing) */
	mask = o->nslots - 1;
	for (i = ((size_t)(s - o->names) + 1) & mask; o->names[i];
	     i = (i + 1) & mask) {
		struct obs_name *e = o->names[i];

		o->names[i] = NULL;
		*name_slot(o, e->name, strlen(e->name)) = e;
	}
}

void observe_client_free(struct obs_client *o)
{
	for (uint8_t i = 0; i < o->n; i++)
		ana_detail_free(o->q[(o->head + i) % OBS_INFLIGHT].d);
	ana_detail_free(o->bind);
	ana_detail_free(o->unnamed_tags);
	free(o->spare);
	for (size_t i = 0; i < o->nslots; i++)
		pgp_free(o->names[i]);
	pgp_free(o->names);
	for (int i = 0; i < OBS_MEMO; i++)
		pgp_free(o->memo[i]);
	memset(o, 0, sizeof(*o));
}

/* ---- clients ---- */

/*
 * How the analyzer reaches this client's database for catalog lookups
 * (table and column names, foreign keys): the pool's own target, with
 * its password only when it is a plain one.
 */
static void client_conninfo(const struct client *cl, char *buf, size_t cap)
{
	const struct pool_target *t = cl->pool ? &cl->pool->target : NULL;
	const struct config *cfg = cl->c.pp->cfg;
	char port[16];
	bool ok;

	buf[0] = '\0';
	if (!t || !t->host)
		return;
	snprintf(port, sizeof(port), "%d", t->port);
	ok = pgp_conninfo_add(buf, cap, "host", t->host) &&
	     pgp_conninfo_add(buf, cap, "port", port) &&
	     pgp_conninfo_add(buf, cap, "dbname", t->dbname) &&
	     pgp_conninfo_add(buf, cap, "user", t->user) &&
	     (!t->password ||
	      auth_secret_classify(t->password) != SECRET_PLAIN ||
	      pgp_conninfo_add(buf, cap, "password", t->password)) &&
	     pgp_conninfo_add(buf, cap, "application_name",
			      "pgperf analyzer") &&
	     pgp_conninfo_add(buf, cap, "connect_timeout", "3") &&
	     /* the same TLS rules as the pool's own connections */
	     pgp_conninfo_add(buf, cap, "sslmode",
			      config_tls_mode_name(cfg->server_tls_sslmode)) &&
	     (!*cfg->server_tls_ca_file ||
	      pgp_conninfo_add(buf, cap, "sslrootcert",
			       cfg->server_tls_ca_file)) &&
	     /* and no cleartext password over plain TCP, where libpq can
	      * refuse it (16 and later; older ones send it when asked) */
	     (PQlibVersion() < 160000 || cfg->server_allow_cleartext ||
	      cfg->server_tls_sslmode >= TLS_REQUIRE || t->host[0] == '/' ||
	      pgp_conninfo_add(buf, cap, "require_auth", "!password"));
	if (!ok)
		buf[0] = '\0'; /* cut short: no catalog lookups for it */
}

void observe_client(struct client *cl)
{
	struct pgperf *pp = cl->c.pp;
	const char *db = cl->database ? cl->database : "";
	const char *user = cl->user ? cl->user : "";
	const char *app = client_app_name(cl);
	char ci[1024];
	size_t a, b, c, d;
	struct ana_event ev;

	if (!observe_on(pp))
		return;
	client_conninfo(cl, ci, sizeof(ci));
	a = strlen(db) + 1, b = strlen(user) + 1, c = strlen(app) + 1;
	d = strlen(ci) + 1;
	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_CLIENT;
	ev.client = cl->c.id;
	if (!(ev.text = malloc(a + b + c + d)))
		return;
	memcpy(ev.text, db, a);
	memcpy(ev.text + a, user, b);
	memcpy(ev.text + a + b, app, c);
	memcpy(ev.text + a + b + c, ci, d);
	ev.text_len = (uint32_t)(a + b + c + d);
	if (!analyzer_push(pp->ana, &ev))
		free(ev.text);
}

void observe_client_gone(struct client *cl)
{
	struct ana_event ev;

	if (!cl->c.pp->ana || !cl->welcomed)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_CLIENT_GONE;
	ev.client = cl->c.id;
	(void)analyzer_push(cl->c.pp->ana, &ev);
}

void observe_linked(struct client *cl, int64_t waited_us)
{
	cl->obs.wait_us = waited_us > 0 ? (uint32_t)waited_us : 0;
}

/* ---- statements ---- */

static struct obs_pending *pend(struct client *cl, uint8_t kind, uint64_t shape)
{
	struct obs_client *o = &cl->obs;
	struct obs_pending *p;

	if (o->n >= OBS_INFLIGHT)
		return NULL; /* a long pipeline: the rest go uncounted */
	p = &o->q[(o->head + o->n) % OBS_INFLIGHT];
	o->n++;
	if (kind != 'S' && !o->in_xact) {
		o->in_xact = true;
		o->xact_start_us = pgp_loop_us();
		o->xact_shape = shape;
		o->xact_slow_us = 0;
	}
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->shape = shape;
	p->start_us = pgp_loop_us();
	return p;
}

/* The statement's transaction context, as the detector needs it. */
static void detail_context(struct obs_client *o, struct ana_detail *d)
{
	d->in_xact = o->tx == 'T' || o->tx == 'E';
	d->xact_ended = o->xact_ended;
	o->xact_ended = false;
}

bool observe_request(struct client *cl, uint8_t type, const char *body,
		     size_t n, struct observe_seen *seen)
{
	struct pgperf *pp = cl->c.pp;
	struct obs_client *o = &cl->obs;
	size_t nlen;
	bool inert = false, stats;

	memset(seen, 0, sizeof(*seen)); /* nothing seen unless said below */
	if (!observe_shapes(pp)) {
		/* no shapes: statements are only timed, for SHOW STATS */
		if (type == 'Q' || type == 'E' || type == 'S')
			pend(cl, type, 0);
		return false;
	}
	/* with analysis off but the cache on, shapes still go to the
	 * analyzer (it works out which tables they write) and writes still
	 * reach the cache; only statistics events stay home (complete()) */
	stats = observe_on(pp);
	switch (type) {
	case 'Q': {
		struct shape sh;
		size_t qlen = pgp_strnlen(body, n);
		struct obs_pending *p = pend(
			cl, 'Q', client_shape_of(cl, body, qlen, &sh, &inert));

		if (p && stats && (p->d = analyzer_detail_new(pp->ana)))
			values_query(p->d, body, &sh);
		seen->runs = sh.hash;
		seen->text = body;
		seen->len = qlen;
		break;
	}
	case 'P': { /* name, query */
		struct shape sh;
		const char *q;

		nlen = pgp_strnlen(body, n);
		if (nlen >= n)
			break;
		q = body + nlen + 1;
		name_put(o, body, nlen,
			 nlen == 0
				 ? client_shape_of(cl, q,
						   pgp_strnlen(q, n - nlen - 1),
						   &sh, &inert)
				 : shape_of(pp, cl, q,
					    pgp_strnlen(q, n - nlen - 1), &sh,
					    &inert));
		seen->learned = sh.hash;
		seen->text = q;
		seen->len = pgp_strnlen(q, n - nlen - 1);
		if (nlen == 0 && stats) {
			/* tags of unnamed statements (named: not tracked) */
			ana_detail_free(o->unnamed_tags);
			o->unnamed_tags = NULL;
			if (sh.ntags && (o->unnamed_tags = values_new()))
				values_tags(o->unnamed_tags, q, &sh);
		}
		break;
	}
	case 'B': { /* portal, statement */
		size_t plen = pgp_strnlen(body, n);

		if (plen >= n)
			break;
		nlen = pgp_strnlen(body + plen + 1, n - plen - 1);
		o->portal_shape = name_get(o, body + plen + 1, nlen);
		if (!stats)
			break; /* no values: nothing proves an N+1 */
		if (!o->bind)
			o->bind = analyzer_detail_new(pp->ana);
		else
			memset(o->bind, 0, sizeof(*o->bind));
		if (o->bind)
			values_bind(o->bind, body, n,
				    nlen == 0 ? o->unnamed_tags : NULL);
		break;
	}
	case 'E':
		if (o->portal_shape) {
			struct obs_pending *p = pend(cl, 'E', o->portal_shape);

			seen->runs = o->portal_shape;
			if (p) {
				/* the portal's values: taken by its first
				 * Execute */
				p->d = o->bind;
				o->bind = NULL;
			}
		}
		break;
	case 'S': /* its ReadyForQuery is matched, not counted */
		pend(cl, 'S', 0);
		break;
	case 'C': /* 'S' name: a statement closed */
		if (n >= 2 && body[0] == 'S')
			name_del(o, body + 1, pgp_strnlen(body + 1, n - 1));
		break;
	default:
		break;
	}
	return inert;
}

void observe_parse(struct client *cl, const char *name, const char *query)
{
	struct pgperf *pp = cl->c.pp;

	if (observe_shapes(pp))
		name_put(&cl->obs, name, strlen(name),
			 shape_of(pp, cl, query, strlen(query), NULL, NULL));
}

static void complete(struct client *cl, struct obs_pending *p)
{
	struct ana_event ev;
	int64_t dur = pgp_loop_us() - p->start_us;

	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_STMT;
	ev.shape = p->shape;
	ev.client = cl->c.id;
	ev.rows = p->rows;
	ev.bytes = p->bytes;
	memcpy(ev.sqlstate, p->sqlstate, 6);
	ev.dur_us =
		dur > 0 ? (uint32_t)(dur > UINT32_MAX ? UINT32_MAX : dur) : 0;
	ev.wait_us = cl->obs.wait_us;
	cl->obs.wait_us = 0;
	ev.end_us = pgp_loop_wall_us();
	if (ev.dur_us >= cl->obs.xact_slow_us) {
		/* the transaction's slowest statement so far */
		cl->obs.xact_slow_us = ev.dur_us;
		cl->obs.xact_shape = p->shape;
	}
	if (p->d) {
		struct obs_client *o = &cl->obs;

		detail_context(o, p->d);
		/* a sample of two rows or more can prove an N+1: it goes
		 * with the statement; the buffer stays for the next one */
		if (o->sample_ready && o->spare && o->spare->nrows >= 2) {
			p->d->sample = o->spare;
			o->spare = NULL;
		}
	}
	ev.detail = p->d;
	p->d = NULL;
	cl->obs.sampling = false;
	cl->obs.sample_ready = false;
	if (!p->shape || !observe_on(cl->c.pp) ||
	    !analyzer_push(cl->c.pp->ana, &ev))
		ana_detail_free(ev.detail);
	if (cl->pool) {
		cl->pool->st.query_count++;
		cl->pool->st.query_us += ev.dur_us;
	}
}

static void pop(struct obs_client *o)
{
	ana_detail_free(o->q[o->head].d);
	o->q[o->head].d = NULL;
	o->sampling = false;
	o->sample_ready = false;
	o->head = (uint8_t)((o->head + 1) % OBS_INFLIGHT);
	o->n--;
}

/* Rows from a CommandComplete tag: its last number ("INSERT 0 5" -> 5). */
static uint64_t tag_rows(const uint8_t *b, size_t n)
{
	uint64_t rows = 0;
	size_t i = pgp_strnlen((const char *)b, n);

	while (i > 0 && b[i - 1] >= '0' && b[i - 1] <= '9')
		i--;
	if (i == 0 || b[i - 1] != ' ')
		return 0; /* BEGIN, SET: no count */
	for (; i < n && b[i] >= '0' && b[i] <= '9'; i++)
		rows = rows * 10 + (uint64_t)(b[i] - '0');
	return rows;
}

/* A transaction ended that held its server longer than one of the
 * pool's longest: keep it, with its slowest statement's shape, in their
 * place (pool_saturation). */
static void observe_hold(struct pool *p, uint64_t us, uint64_t shape)
{
	int i = POOL_HOLDS - 1;

	while (i > 0 && p->holds[i - 1].us < us) {
		p->holds[i] = p->holds[i - 1];
		i--;
	}
	p->holds[i].us = us;
	p->holds[i].shape = shape;
	p->holds[i].at_us = pgp_wall_us();
	p->holds[i].query[0] = '\0';
}

void observe_reply(struct client *cl, uint8_t type, const uint8_t *body,
		   size_t n, size_t wire_len)
{
	struct obs_client *o = &cl->obs;
	struct obs_pending *p;

	if (type == 'Z' && body && n >= 1) {
		if (body[0] == 'I' && (o->tx == 'T' || o->tx == 'E'))
			o->xact_ended = true;
		o->tx = (char)body[0];
	}
	if (type == 'Z' && o->in_xact && body && n >= 1 && body[0] == 'I' &&
	    cl->pool) {
		/* the transaction ended (SHOW STATS) */
		uint64_t us = (uint64_t)(pgp_loop_us() - o->xact_start_us);

		o->in_xact = false;
		cl->pool->st.xact_count++;
		cl->pool->st.xact_us += us;
		if (us > cl->pool->holds[POOL_HOLDS - 1].us)
			observe_hold(cl->pool, us, o->xact_shape);
	}
	if (!o->n)
		return;
	p = &o->q[o->head];
	p->bytes += wire_len;
	switch (type) {
	case 'T':
		/* the first result set of a statement only */
		if (body && p->kind != 'S' && p->d && !o->sample_ready &&
		    values_sample_start(&o->spare, body, n))
			o->sampling = o->sample_ready = true;
		break;
	case 'D':
		if (body && o->sampling)
			o->sampling = values_sample_row(o->spare, body, n);
		break;
	case 'C':
		p->rows += body ? tag_rows(body, n) : 0;
		if (p->kind == 'E') {
			complete(cl, p);
			pop(o);
		}
		break;
	case 'I': /* EmptyQueryResponse */
	case 's': /* PortalSuspended */
		if (p->kind == 'E') {
			complete(cl, p);
			pop(o);
		}
		break;
	case 'E': {
		struct wire_error_fields f;

		if (body && wire_parse_error(body, n, &f) && f.sqlstate)
			snprintf(p->sqlstate, sizeof(p->sqlstate), "%s",
				 f.sqlstate);
		else
			memcpy(p->sqlstate, "XX000", 6);
		if (p->kind == 'E') {
			complete(cl, p);
			pop(o);
			/* PostgreSQL skips the rest until Sync */
			while (o->n && o->q[o->head].kind == 'E')
				pop(o);
		}
		break;
	}
	case 'Z':
		while (o->n && o->q[o->head].kind == 'E')
			pop(o); /* skipped after an error */
		if (o->n) {
			if (o->q[o->head].kind == 'Q')
				complete(cl, &o->q[o->head]);
			pop(o);
		}
		break;
	default:
		break;
	}
}
