/*
 * pool.c -- server connection pools, one admin_per (database, user).
 *
 * Waiting clients form a FIFO.  Idle servers are handed out most recently
 * used first (their caches are warmest); a server idle longer than
 * server_check_delay runs server_check_query first.  New connections start
 * only while the pool, and the database as a whole, are under their limits,
 * and not during the back-off that follows a failed login.  When the last
 * way to reach PostgreSQL fails, waiting clients get PostgreSQL's own error
 * instead of waiting out query_wait_timeout.
 */
#include "proxy/pool.h"
#include "proxy/fleet_link.h"
#include "proxy/pool_state.h"

#include "proxy/client.h"
#include "proxy/daemon.h"
#include "lib/log.h"
#include "proxy/server.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define BACKOFF_FIRST_US (250 * 1000)
#define BACKOFF_MAX_US (10 * 1000 * 1000)

static void target_free(struct pool_target *t)
{
	pgp_free(t->host);
	pgp_free(t->dbname);
	pgp_free(t->user);
	if (t->password)
		memset(t->password, 0, strlen(t->password));
	pgp_free(t->password);
	memset(t, 0, sizeof(*t));
}

/* Work out where and as whom this pool's servers log in. */
static bool target_build(struct pgperf *pp, const char *database,
			 const char *user, struct pool_target *t)
{
	const struct config *cfg = pp->cfg;
	const struct db_def *db = config_find_db(cfg, database);
	const char *login_user, *pw = NULL;

	memset(t, 0, sizeof(*t));
	if (!db)
		return false;
	login_user = db->user ? db->user : user;
	if (db->password) {
		pw = db->password;
	} else {
		const struct auth_user *u =
			userlist_find(&cfg->users, login_user);

		/* a SCRAM secret cannot log in anywhere: it is a verifier */
		if (u && u->kind != SECRET_SCRAM)
			pw = u->secret;
	}
	t->host = pgp_strdup(db->host);
	t->port = db->port;
	t->dbname = pgp_strdup(db->dbname ? db->dbname : database);
	t->user = pgp_strdup(login_user);
	t->password = pw ? pgp_strdup(pw) : NULL;
	t->pool_size =
		db->pool_size >= 0 ? db->pool_size : cfg->default_pool_size;
	t->min_pool_size =
		db->min_pool_size >= 0 ? db->min_pool_size : cfg->min_pool_size;
	if (t->min_pool_size > t->pool_size)
		t->min_pool_size = t->pool_size;
	t->pool_mode = db->pool_mode >= 0 ? db->pool_mode : cfg->pool_mode;
	/* a database reached through "*" may be any name a client made up:
	 * no servers are opened for it before one is asked for */
	t->autodb = strcmp(db->name, "*") == 0;
	if (t->autodb)
		t->min_pool_size = 0;
	if (!t->host || !t->dbname || !t->user || (pw && !t->password)) {
		target_free(t);
		return false;
	}
	return true;
}

static bool target_same_server(const struct pool_target *a,
			       const struct pool_target *b)
{
	return strcmp(a->host, b->host) == 0 && a->port == b->port &&
	       strcmp(a->dbname, b->dbname) == 0 &&
	       strcmp(a->user, b->user) == 0 &&
	       ((!a->password && !b->password) ||
		(a->password && b->password &&
		 strcmp(a->password, b->password) == 0));
}

static void pool_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	pgp_clock_tick();
	(void)fd;
	(void)what;
	pool_dispatch(arg);
}

/* No client uses the pool (servers may sit idle in it). */
static bool pool_clientless(struct pgperf *pp, const struct pool *p)
{
	struct list *pos;

	if (p->nwaiting || !list_empty(&p->active_clients) ||
	    !list_empty(&p->idle_clients) || p->nactive)
		return false;
	list_for_each(pos, &pp->all_clients)
		if (list_entry(pos, struct client, all_node)->pool == p)
			return false;
	return true;
}

/* Close a client-less autodb pool's servers; it is freed once they are
 * gone (pool_expired), and no longer counts against autodb_max_pools. */
static void pool_retire(struct pool *p)
{
	struct list *lists[] = {&p->idle_servers, &p->tested_servers,
				&p->login_servers};
	struct list *pos, *tmp;

	p->retired = true;
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		list_for_each_safe(pos, tmp, lists[i])
			server_close(list_entry(pos, struct server, node),
				     CLOSE_IDLE_TIMEOUT, "pool retired");
}

void pool_take_lookup(struct pool *p, const struct auth_user *u,
		      const struct scram_keys *proven)
{
	struct pool_target *t = &p->target;

	if (t->password) {
		memset(t->password, 0, strlen(t->password));
		pgp_free(t->password);
		t->password = NULL;
	}
	memset(&t->keys, 0, sizeof(t->keys));
	t->from_lookup = true;
	if (u->kind == SECRET_MD5 || u->kind == SECRET_PLAIN)
		t->password = pgp_strdup(u->secret); /* NULL: login fails */
	else if (proven->set)
		t->keys = *proven;
}

bool pool_expired(struct pool *p, int64_t now)
{
	struct pgperf *pp = p->pp;
	struct list *pos;

	if (!p->target.autodb)
		return false;
	if (!p->retired) {
		if (!pool_clientless(pp, p)) {
			p->unused_since_us = 0;
			return false;
		}
		if (!p->unused_since_us)
			p->unused_since_us = now;
		if (now - p->unused_since_us <
		    (int64_t)pp->cfg->autodb_idle_timeout * 1000000)
			return false;
		log_info("pool %s/%s: unused for autodb_idle_timeout, "
			 "closing its servers and freeing it",
			 p->database, p->user);
		pool_retire(p);
	}
	/* freed once no server, closing or not, points at it */
	if (pool_server_count(p) || !pool_clientless(pp, p))
		return false;
	list_for_each(pos, &pp->reap_servers)
		if (list_entry(pos, struct server, node)->pool == p)
			return false;
	return true;
}

/*
 * Room for one more pool through "*": at most autodb_max_pools of them in
 * use; the one without clients for longest is retired to make room.
 * False when every one has clients.
 */
static bool autodb_room(struct pgperf *pp)
{
	struct pool *oldest = NULL;
	struct list *pos;
	int n = 0;

	list_for_each(pos, &pp->pools) {
		struct pool *o = list_entry(pos, struct pool, node);

		if (!o->target.autodb || o->retired)
			continue;
		n++;
		if (pool_clientless(pp, o) &&
		    (!oldest ||
		     (o->unused_since_us &&
		      (!oldest->unused_since_us ||
		       o->unused_since_us < oldest->unused_since_us))))
			oldest = o;
	}
	if (n < pp->cfg->autodb_max_pools)
		return true;
	if (!oldest)
		return false;
	log_info("pool %s/%s retired to make room (autodb_max_pools %d)",
		 oldest->database, oldest->user, pp->cfg->autodb_max_pools);
	pool_retire(oldest);
	return true;
}

void pool_init_lists(struct pool *p)
{
	list_init(&p->waiting);
	list_init(&p->active_clients);
	list_init(&p->idle_clients);
	list_init(&p->login_servers);
	list_init(&p->idle_servers);
	list_init(&p->active_servers);
	list_init(&p->tested_servers);
}

struct pool *pool_get(struct pgperf *pp, const char *database, const char *user,
		      char *err, size_t errlen, const char **sqlstate)
{
	struct list *pos;
	struct pool *p;
	const struct db_def *db;

	*sqlstate = "53200";
	if (kv_get(&pp->disabled_dbs, database)) {
		*sqlstate = "55000"; /* as for a database with !datallowconn */
		snprintf(err, errlen,
			 "database \"%.200s\" is not currently accepting "
			 "connections (DISABLE)",
			 database);
		return NULL;
	}
	list_for_each(pos, &pp->pools) {
		p = list_entry(pos, struct pool, node);
		if (strcmp(p->database, database) == 0 &&
		    strcmp(p->user, user) == 0) {
			if (p->retired) { /* in use again before it went */
				p->retired = false;
				p->unused_since_us = 0;
			}
			return p;
		}
	}
	db = config_find_db(pp->cfg, database);
	if (db && strcmp(db->name, "*") == 0 && !autodb_room(pp)) {
		*sqlstate = "53300";
		snprintf(err, errlen,
			 "too many databases in use through the \"*\" entry "
			 "(autodb_max_pools %d)",
			 pp->cfg->autodb_max_pools);
		return NULL;
	}
	p = pgp_calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->pp = pp;
	p->database = pgp_strdup(database);
	p->user = pgp_strdup(user);
	p->retry_ev = evtimer_new(pp->base, pool_retry_cb, p);
	if (!p->database || !p->user || !p->retry_ev ||
	    !target_build(pp, database, user, &p->target)) {
		snprintf(err, errlen, "cannot set up a pool for %s/%s",
			 database, user);
		if (p->retry_ev)
			event_free(p->retry_ev);
		pgp_free(p->database);
		pgp_free(p->user);
		pgp_free(p);
		return NULL;
	}
	pool_init_lists(p);
	list_append(&pp->pools, &p->node);
	p->held = kv_get(&pp->held_dbs, database) != NULL;
	pool_state_apply(pp, p);
	log_info("new pool %s/%s -> %s:%d/%s as %s", database, user,
		 p->target.host, p->target.port, p->target.dbname,
		 p->target.user);
	return p;
}

void pool_free(struct pool *p)
{
	list_del(&p->node);
	event_free(p->retry_ev);
	target_free(&p->target);
	pgp_free(p->database);
	pgp_free(p->user);
	pgp_free(p);
}

int pool_server_count(const struct pool *p)
{
	return p->nlogin + p->nidle + p->nactive + p->ntested;
}

int pool_db_server_count(struct pgperf *pp, const struct pool *p, bool closing)
{
	struct list *pos;
	int n = 0;

	list_for_each(pos, &pp->pools) {
		const struct pool *o = list_entry(pos, struct pool, node);

		if (strcmp(o->target.host, p->target.host) == 0 &&
		    o->target.port == p->target.port &&
		    strcmp(o->target.dbname, p->target.dbname) == 0)
			n += pool_server_count(o) + (closing ? o->nclosing : 0);
	}
	return n;
}

int pool_user_server_count(struct pgperf *pp, const struct pool *p,
			   bool closing)
{
	struct list *pos;
	int n = 0;

	list_for_each(pos, &pp->pools) {
		const struct pool *o = list_entry(pos, struct pool, node);

		if (strcmp(o->target.user, p->target.user) == 0)
			n += pool_server_count(o) + (closing ? o->nclosing : 0);
	}
	return n;
}

int pool_effective_size(const struct pool *p)
{
	return p->target.pool_size;
}

int pool_effective_mode(const struct pool *p)
{
	return p->target.pool_mode;
}

void pool_enqueue(struct pool *p, struct client *cl)
{
	cl->pool = p;
	p->total_logins++;
	client_set_state(cl, CL_WAIT_SERVER);
	pool_dispatch(p);
}

void pool_request_server(struct pool *p, struct client *cl)
{
	client_set_state(cl, CL_WAIT_SERVER);
	pool_dispatch(p);
}

/*
 * How many server connections the pool may have now: pool_size, plus
 * reserve_pool_size while its longest waiting client has waited
 * reserve_pool_timeout or more (PgBouncer's meaning).  Arms the retry
 * timer for the moment the reserve opens.
 */
static int pool_limit(struct pool *p, int64_t now)
{
	const struct config *cfg = p->pp->cfg;
	const struct client *first;
	int64_t waited, left;
	struct timeval tv;

	if (cfg->reserve_pool_size <= 0 || list_empty(&p->waiting))
		return p->target.pool_size;
	first = list_entry(p->waiting.next, struct client, node);
	waited = now - first->wait_start_us;
	if (waited >= cfg->reserve_pool_timeout * 1000)
		return p->target.pool_size + cfg->reserve_pool_size;
	left = cfg->reserve_pool_timeout * 1000 - waited;
	tv.tv_sec = (time_t)(left / 1000000);
	tv.tv_usec = (suseconds_t)(left % 1000000);
	if (!evtimer_pending(p->retry_ev, NULL))
		evtimer_add(p->retry_ev, &tv);
	return p->target.pool_size;
}

int pool_share(const struct config *cfg, int lim, int live)
{
	int n = live;

	if (lim <= 0)
		return lim;
	if (n <= 0) {
		if (!cfg->peer_id)
			return lim;
		n = cfg->npeers;
		if (!config_peer(cfg, cfg->peer_id))
			n++; /* [peers] lists the others only */
	}
	if (n <= 1)
		return lim;
	lim /= n;
	return lim > 0 ? lim : 1;
}

int pool_db_limit(const struct config *cfg)
{
	return pool_share(cfg, cfg->max_db_connections, 0);
}

/* May another server connection start now?  Schedules a retry if not yet. */
static bool pool_can_connect(struct pool *p)
{
	struct pgperf *pp = p->pp;
	int64_t now = pgp_loop_us();
	int lim;

	if (pp->draining || pool_server_count(p) >= pool_limit(p, now))
		return false;
	if (((lim = fleet_link_db_limit(pp, p)) >= 0 &&
	     pool_db_server_count(pp, p, true) >= lim) ||
	    ((lim = fleet_link_user_limit(pp, p)) >= 0 &&
	     pool_user_server_count(pp, p, true) >= lim)) {
		/* the fleet may grant more: ask now if someone waits */
		if (p->nwaiting)
			fleet_link_wanted(pp);
		return false;
	}
	if (now < p->next_connect_us) {
		struct timeval tv;
		int64_t d = p->next_connect_us - now;

		tv.tv_sec = (time_t)(d / 1000000);
		tv.tv_usec = (suseconds_t)(d % 1000000);
		if (!evtimer_pending(p->retry_ev, NULL))
			evtimer_add(p->retry_ev, &tv);
		return false;
	}
	return true;
}

/* Take an idle server that is ready to serve, or NULL. */
static struct server *pool_take_idle(struct pool *p)
{
	const struct config *cfg = p->pp->cfg;
	int64_t now = pgp_loop_us();

	while (!list_empty(&p->idle_servers)) {
		/* most recently used sits at the tail: its caches are the
		 * warmest; server_round_robin takes the least recently used,
		 * spreading the load over every connection */
		struct server *sv = list_entry(cfg->server_round_robin
						       ? p->idle_servers.next
						       : p->idle_servers.prev,
					       struct server, node);

		if (sv->close_needed ||
		    (cfg->server_lifetime > 0 &&
		     now - sv->created_us > cfg->server_lifetime * 1000)) {
			server_close(
				sv,
				sv->close_needed ? CLOSE_RECONNECT
						 : CLOSE_LIFETIME,
				"server_lifetime reached or close requested");
			continue;
		}
		if (cfg->server_check_delay >= 0 && *cfg->server_check_query &&
		    now - sv->idle_since_us > cfg->server_check_delay * 1000) {
			server_start_check(sv);
			continue;
		}
		return sv;
	}
	return NULL;
}

void pool_dispatch(struct pool *p)
{
	int need;

	p->dispatch_pending = false;
	if (pool_held(p))
		return;
	while (!list_empty(&p->waiting)) {
		struct server *sv = pool_take_idle(p);
		struct client *cl;

		if (!sv)
			break;
		cl = list_entry(p->waiting.next, struct client, node);
		server_link(sv, cl);
	}
	/* servers already on their way will serve some of the waiters */
	need = p->nwaiting - p->nlogin - p->ntested;
	while (need-- > 0 && pool_can_connect(p))
		if (!server_connect(p))
			break;
}

void pool_server_ready(struct server *sv)
{
	struct pool *p = sv->pool;

	server_set_state(sv, SV_IDLE);
	if (sv->close_needed) {
		server_close(sv, CLOSE_RECONNECT, "close requested");
		return;
	}
	if (pool_paused(p)) {
		/* PAUSE: released servers go, so the database can restart */
		server_close(sv, CLOSE_ADMIN, "paused");
		return;
	}
	if (!list_empty(&p->waiting) && !p->pp->suspended) {
		/* this server is the freshest: give it to the longest waiter */
		struct client *cl =
			list_entry(p->waiting.next, struct client, node);

		server_link(sv, cl);
	}
}

void pool_login_failed(struct pool *p, const char *sqlstate, const char *msg)
{
	struct list *pos, *tmp;
	int usable;

	snprintf(p->last_error_state, sizeof(p->last_error_state), "%s",
		 sqlstate);
	snprintf(p->last_error, sizeof(p->last_error), "%s", msg);
	p->backoff_us = p->backoff_us ? p->backoff_us * 2 : BACKOFF_FIRST_US;
	if (p->backoff_us > BACKOFF_MAX_US)
		p->backoff_us = BACKOFF_MAX_US;
	p->next_connect_us = pgp_now_us() + p->backoff_us;
	/* the failing server is still on login_servers: discount it */
	usable = pool_server_count(p) - 1;
	if (usable > 0)
		return;
	list_for_each_safe(pos, tmp, &p->waiting) {
		struct client *cl = list_entry(pos, struct client, node);

		client_close(cl, CLOSE_SERVER_ERROR, sqlstate, "%s", msg);
	}
}

void pool_retarget(struct pool *p)
{
	struct pool_target t;
	struct list *pos;
	struct list *lists[] = {&p->idle_servers, &p->active_servers,
				&p->tested_servers, &p->login_servers};

	if (!target_build(p->pp, p->database, p->user, &t)) {
		/* the database is gone from the config: drain its servers */
		for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
			list_for_each(pos, lists[i])
				list_entry(pos, struct server, node)
					->close_needed = true;
		return;
	}
	if (!target_same_server(&t, &p->target)) {
		log_info("pool %s/%s: target changed, replacing its servers",
			 p->database, p->user);
		for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
			list_for_each(pos, lists[i])
				list_entry(pos, struct server, node)
					->close_needed = true;
	}
	if (strcmp(t.user, p->target.user) == 0 && !t.password &&
	    p->target.from_lookup) {
		/* an auth_query user's: not in the config, kept */
		t.keys = p->target.keys;
		t.password = p->target.password;
		t.from_lookup = true;
		p->target.password = NULL;
	}
	target_free(&p->target);
	p->target = t;
	p->backoff_us = 0;
	p->next_connect_us = 0;
	p->dispatch_pending = true;
}

void pool_tick(struct pool *p, int64_t now)
{
	const struct config *cfg = p->pp->cfg;
	struct list *pos, *tmp;

	/* the counts the hot path relies on match the lists (tests run
	 * with assertions on) */
	assert(p->nwaiting == (int)list_count(&p->waiting));
	assert(p->nlogin == (int)list_count(&p->login_servers));
	assert(p->nidle == (int)list_count(&p->idle_servers));
	assert(p->nactive == (int)list_count(&p->active_servers));
	assert(p->ntested == (int)list_count(&p->tested_servers));

	if (cfg->query_wait_timeout > 0) {
		list_for_each_safe(pos, tmp, &p->waiting) {
			struct client *cl =
				list_entry(pos, struct client, node);

			if (now - cl->wait_start_us >
			    cfg->query_wait_timeout * 1000)
				client_close(
					cl, CLOSE_TIMEOUT, "08P01",
					"query_wait_timeout: no server connection became free%s%s",
					p->last_error[0] ? "; last error: "
							 : "",
					p->last_error);
		}
	}
	if (cfg->query_timeout > 0 || cfg->transaction_timeout > 0 ||
	    cfg->idle_transaction_timeout > 0)
		list_for_each_safe(pos, tmp, &p->active_servers)
			server_check_timeouts(
				list_entry(pos, struct server, node), now);
	list_for_each_safe(pos, tmp, &p->login_servers) {
		struct server *sv = list_entry(pos, struct server, node);

		if (now - sv->created_us > cfg->server_connect_timeout * 1000) {
			char msg[300];

			snprintf(msg, sizeof(msg),
				 "server_connect_timeout: no answer from %s:%d",
				 p->target.host, p->target.port);
			pool_login_failed(p, "08006", msg);
			sv->got_fatal = true;
			server_close(sv, CLOSE_LOGIN_FAILED, "%s", msg);
		}
	}
	list_for_each_safe(pos, tmp, &p->idle_servers) {
		struct server *sv = list_entry(pos, struct server, node);

		if (sv->close_needed)
			server_close(sv, CLOSE_RECONNECT, "close requested");
		else if (cfg->server_lifetime > 0 &&
			 now - sv->created_us > cfg->server_lifetime * 1000)
			server_close(sv, CLOSE_LIFETIME,
				     "server_lifetime reached");
		else if (cfg->server_idle_timeout > 0 &&
			 now - sv->idle_since_us >
				 cfg->server_idle_timeout * 1000 &&
			 pool_server_count(p) > p->target.min_pool_size)
			server_close(sv, CLOSE_IDLE_TIMEOUT,
				     "server_idle_timeout reached");
	}
	/* keep min_pool_size warm */
	while (!pool_held(p) &&
	       pool_server_count(p) < p->target.min_pool_size &&
	       pool_can_connect(p))
		if (!server_connect(p))
			break;
	pool_dispatch(p);
}
