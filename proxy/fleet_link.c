/*
 * fleet_link.c -- the I/O thread's side of the fleet: what it hands the
 * fleet thread (fleet/fleet.c) and the limits it takes back.  Nothing
 * here waits: the fleet's mutex is held only to copy small arrays.
 */
#include "proxy/fleet_link.h"

#include "fleet/fleet.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "proxy/config.h"
#include "proxy/daemon.h"
#include "proxy/pool.h"
#include "proxy/server.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CAPS 256
#define WANTED_EVERY_US 20000 /* urgent asks at most this often */

/* A scope this member needs a lease for and has none running. */
struct fleet_pending {
	enum fleet_scope scope;
	char name[160];
	int64_t since_us; /* monotonic */
};

/* The name a scope has in Redis: the server database, or login user. */
static void db_scope(const struct pool *p, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s:%d/%s", p->target.host, p->target.port,
		 p->target.dbname);
}

static void user_scope(const struct pool *p, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", p->target.user);
}

static void fleet_conf_of(const struct pgperf *pp, struct fleet_conf *c)
{
	const struct config *cfg = pp->cfg;

	memset(c, 0, sizeof(*c));
	(void)config_parse_redis_url(cfg->redis_url, c->host, sizeof(c->host),
				     &c->port, c->password, sizeof(c->password),
				     &c->db);
	snprintf(c->ns, sizeof(c->ns), "%s", cfg->cache_namespace);
	c->peer_id = cfg->peer_id;
	snprintf(c->listen, sizeof(c->listen), "%s:%d", cfg->listen_addr,
		 cfg->listen_port);
	c->stats_period = cfg->stats_period;
	c->lease_ttl_ms = cfg->fleet_lease_ttl * 1000;
	c->max_tracked_queries = cfg->max_tracked_queries;
}

static const struct fleet_cap *cap_for(const struct pgperf *pp,
				       enum fleet_scope s, const char *name);

/* Scopes that got a lease are no longer waiting for one. */
static void forget_granted(struct pgperf *pp)
{
	size_t w = 0;

	for (size_t i = 0; i < pp->nfleet_pending; i++) {
		const struct fleet_pending *q = &pp->fleet_pending[i];

		if (!cap_for(pp, q->scope, q->name))
			pp->fleet_pending[w++] = *q;
	}
	pp->nfleet_pending = w;
}

/* The leases changed: take them, and let waiting clients try again. */
static void caps_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgperf *pp = arg;
	struct fleet_cap caps[MAX_CAPS];
	size_t n;
	int live;

	(void)fd;
	(void)what;
	pgp_clock_tick();
	n = fleet_caps(pp->fleet, caps, MAX_CAPS, &live);
	free(pp->fleet_caps);
	pp->fleet_caps = n ? malloc(n * sizeof(*caps)) : NULL;
	pp->nfleet_caps = pp->fleet_caps ? n : 0;
	if (pp->fleet_caps)
		memcpy(pp->fleet_caps, caps, n * sizeof(*caps));
	if (live)
		pp->fleet_live = live;
	forget_granted(pp);
	daemon_dispatch_all(pp);
}

bool fleet_link_start(struct pgperf *pp)
{
	struct fleet_conf c;
	char shown[600];

	if (!pp->cfg->fleet || !pp->cfg->redis_url[0])
		return true;
	fleet_conf_of(pp, &c);
	if (!config_parse_redis_url(pp->cfg->redis_url, c.host, sizeof(c.host),
				    &c.port, c.password, sizeof(c.password),
				    &c.db)) {
		config_mask_url(pp->cfg->redis_url, shown, sizeof(shown));
		log_error("fleet: redis_url \"%s\" is not redis://[:password@]"
			  "host[:port][/db]; the fleet is off",
			  shown);
		return false;
	}
	if (!(pp->fleet = fleet_start(&c, pp->ana)))
		return false;
	pp->fleet_ev = event_new(pp->base, fleet_notify_fd(pp->fleet),
				 EV_READ | EV_PERSIST, caps_cb, pp);
	if (!pp->fleet_ev || event_add(pp->fleet_ev, NULL) != 0) {
		log_error("fleet: cannot watch its leases: the fleet is off");
		fleet_link_stop(pp);
		return false;
	}
	log_info("fleet: on, through Redis at %s:%d (member %s)", c.host,
		 c.port, c.peer_id ? "by peer_id" : "by host:pid");
	fleet_link_tick(pp);
	return true;
}

void fleet_link_stop(struct pgperf *pp)
{
	if (pp->fleet_ev)
		event_free(pp->fleet_ev);
	pp->fleet_ev = NULL;
	fleet_stop(pp->fleet);
	pp->fleet = NULL;
	free(pp->fleet_caps);
	pp->fleet_caps = NULL;
	free(pp->fleet_pending);
	pp->fleet_pending = NULL;
	pp->nfleet_pending = 0;
	pp->nfleet_caps = 0;
}

void fleet_link_reload(struct pgperf *pp)
{
	struct fleet_conf c;

	if (!pp->fleet)
		return;
	fleet_conf_of(pp, &c);
	fleet_configure(pp->fleet, &c);
}

/* ---- limits ---- */

static const struct fleet_cap *cap_for(const struct pgperf *pp,
				       enum fleet_scope s, const char *name)
{
	for (size_t i = 0; i < pp->nfleet_caps; i++)
		if (pp->fleet_caps[i].scope == s &&
		    strcmp(pp->fleet_caps[i].name, name) == 0)
			return &pp->fleet_caps[i];
	return NULL;
}

/* Since when the scope has waited for a lease (now, if it starts to);
 * 0 when there is no room to remember it (then it does not wait). */
static int64_t pending_since(struct pgperf *pp, enum fleet_scope s,
			     const char *name, int64_t now)
{
	struct fleet_pending *q;

	for (size_t i = 0; i < pp->nfleet_pending; i++)
		if (pp->fleet_pending[i].scope == s &&
		    strcmp(pp->fleet_pending[i].name, name) == 0)
			return pp->fleet_pending[i].since_us;
	if (!pp->fleet_pending &&
	    !(pp->fleet_pending = calloc(MAX_CAPS, sizeof(*q))))
		return 0;
	if (pp->nfleet_pending >= MAX_CAPS)
		return 0;
	q = &pp->fleet_pending[pp->nfleet_pending++];
	q->scope = s;
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->since_us = now;
	return now;
}

/* `closing`: asked whether to close a released server, which a lease
 * still on its way must not cause. */
static int limit_of(struct pgperf *pp, const struct pool *p, enum fleet_scope s,
		    bool closing)
{
	const struct config *cfg = pp->cfg;
	int lim = s == FLEET_DB ? cfg->max_db_connections
				: cfg->max_user_connections;
	const struct fleet_cap *k;
	char name[sizeof(k->name)];
	int64_t now = pgp_loop_us();

	if (lim <= 0)
		return -1;
	if (!pp->fleet)
		return pool_share(cfg, lim, 0);
	if (s == FLEET_DB)
		db_scope(p, name, sizeof(name));
	else
		user_scope(p, name, sizeof(name));
	if ((k = cap_for(pp, s, name)) && k->until_us > now)
		return k->grant;
	/* Redis is there but this scope has no running lease: its first is
	 * on its way, or the renewal is late (the fleet thread behind).
	 * Asked for at once (pool_can_connect, for a waiting client);
	 * meanwhile no new connection and none closed,
	 * for at most a lease's life: the others may by now hold what an
	 * even share would take */
	if (fleet_redis_up(pp->fleet)) {
		int64_t since =
			k ? k->until_us : pending_since(pp, s, name, now);

		if (since &&
		    now - since < (int64_t)cfg->fleet_lease_ttl * 1000000)
			return closing ? -1 : 0;
	}
	/* Redis gone, or no lease for a lease's life: the even share of
	 * the live members, at once (no client waits for Redis) */
	return pool_share(cfg, lim, pp->fleet_live);
}

int fleet_link_db_limit(struct pgperf *pp, const struct pool *p)
{
	return limit_of(pp, p, FLEET_DB, false);
}

int fleet_link_user_limit(struct pgperf *pp, const struct pool *p)
{
	return limit_of(pp, p, FLEET_USER, false);
}

bool fleet_link_over(struct pgperf *pp, const struct pool *p)
{
	int lim = limit_of(pp, p, FLEET_DB, true);

	if (lim >= 0 && pool_db_server_count(pp, p, false) > lim)
		return true;
	lim = limit_of(pp, p, FLEET_USER, true);
	return lim >= 0 && pool_user_server_count(pp, p, false) > lim;
}

/* ---- what is handed over ---- */

static void add_demand(struct fleet_demand *d, size_t *n, size_t cap,
		       enum fleet_scope s, const char *name, int limit,
		       const struct pool *p)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (d[i].scope == s && strcmp(d[i].name, name) == 0)
			break;
	if (i == *n) {
		if (*n >= cap)
			return;
		memset(&d[i], 0, sizeof(d[i]));
		d[i].scope = s;
		snprintf(d[i].name, sizeof(d[i].name), "%s", name);
		d[i].limit = limit;
		(*n)++;
	}
	d[i].open += pool_server_count(p) + p->nclosing;
	d[i].waiting += p->nwaiting;
}

/* The round of the lease each demand's scope keeps to now (0: none). */
static void note_rounds(const struct pgperf *pp, struct fleet_demand *d,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct fleet_cap *k = cap_for(pp, d[i].scope, d[i].name);

		d[i].round = k ? k->round : 0;
	}
}

static void hand_demand(struct pgperf *pp, bool urgent)
{
	const struct config *cfg = pp->cfg;
	struct fleet_demand d[MAX_CAPS];
	size_t n = 0;
	struct list *pos;
	char name[sizeof(d[0].name)];

	list_for_each(pos, &pp->pools) {
		const struct pool *p = list_entry(pos, struct pool, node);

		if (cfg->max_db_connections > 0) {
			db_scope(p, name, sizeof(name));
			add_demand(d, &n, MAX_CAPS, FLEET_DB, name,
				   cfg->max_db_connections, p);
		}
		if (cfg->max_user_connections > 0) {
			user_scope(p, name, sizeof(name));
			add_demand(d, &n, MAX_CAPS, FLEET_USER, name,
				   cfg->max_user_connections, p);
		}
	}
	note_rounds(pp, d, n);
	fleet_demand(pp->fleet, d, n, urgent);
}

void fleet_link_wanted(struct pgperf *pp)
{
	int64_t now = pgp_loop_us();

	if (!pp->fleet || now - pp->fleet_wanted_us < WANTED_EVERY_US)
		return;
	pp->fleet_wanted_us = now;
	hand_demand(pp, true);
}

static void hand_pools(struct pgperf *pp)
{
	size_t n = 0, cap = 0;
	struct list *pos;
	struct fleet_pool *rows;
	int64_t now = pgp_now_us();

	list_for_each(pos, &pp->pools)
		cap++;
	rows = cap ? calloc(cap, sizeof(*rows)) : NULL;
	if (cap && !rows)
		return;
	list_for_each(pos, &pp->pools) {
		const struct pool *p = list_entry(pos, struct pool, node);
		struct fleet_pool *r = &rows[n++];

		snprintf(r->database, sizeof(r->database), "%s", p->database);
		snprintf(r->user, sizeof(r->user), "%s", p->user);
		snprintf(r->mode, sizeof(r->mode), "%s",
			 config_pool_mode_name(pool_effective_mode(p)));
		r->cl_active = (uint64_t)(list_count(&p->active_clients) +
					  list_count(&p->idle_clients));
		r->cl_waiting = (uint64_t)p->nwaiting;
		r->sv_active = (uint64_t)p->nactive;
		r->sv_idle = (uint64_t)p->nidle;
		r->sv_login = (uint64_t)p->nlogin;
		r->pool_size = (uint64_t)p->target.pool_size;
		if (!list_empty(&p->waiting)) {
			const struct client *cl = list_entry(
				p->waiting.next, struct client, node);

			r->maxwait_us = (uint64_t)(now - cl->wait_start_us);
		}
		r->xact_count = p->st.xact_count;
		r->query_count = p->st.query_count;
		r->recv = p->st.recv;
		r->sent = p->st.sent;
		r->xact_us = p->st.xact_us;
		r->query_us = p->st.query_us;
		r->wait_us = p->st.wait_us;
		r->wait_count = p->st.wait_count;
		r->waited_count = p->st.waited_count;
		r->max_wait_us = p->st.max_wait_us;
		r->avg_xact_count = p->st_rate.xact_count;
		r->avg_query_count = p->st_rate.query_count;
		r->avg_recv = p->st_rate.recv;
		r->avg_sent = p->st_rate.sent;
		r->avg_xact_us = p->st_rate.xact_us;
		r->avg_query_us = p->st_rate.query_us;
		r->avg_wait_us = p->st_rate.wait_us;
	}
	fleet_hand(pp->fleet, rows, n);
}

void fleet_link_tick(struct pgperf *pp)
{
	struct list *pos, *tmp, *spos, *stmp;

	if (!pp->fleet)
		return;
	hand_pools(pp);
	hand_demand(pp, false);
	/* a share that shrank: idle servers over it go */
	list_for_each_safe(pos, tmp, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);

		list_for_each_safe(spos, stmp, &p->idle_servers) {
			if (!fleet_link_over(pp, p))
				break;
			server_close(list_entry(spos, struct server, node),
				     CLOSE_SHARE,
				     "over this process's share of the fleet's "
				     "limit");
		}
	}
}
