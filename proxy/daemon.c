/*
 * daemon.c -- the daemon's frame: listeners, signals, the once-a-second
 * tick, the reaper, reload and shutdown.
 *
 * Closed clients and servers are never freed inside their own callbacks:
 * closing marks them and moves them to a reap list; the reaper, an event
 * made active for the next loop pass, frees them once their last bytes are
 * out (or a deadline passed).
 */
#include "console/http.h"
#include "console/admin.h"
#include "analyzer/analyzer.h"
#include "cache/cache.h"
#include "proxy/daemon.h"
#include "proxy/fleet_link.h"
#include "console/admin_hold.h"

#include "proxy/auth_query.h"
#include "console/fence.h"

#include "proxy/client.h"
#include "lib/log.h"
#include "proxy/pool.h"
#include "proxy/pool_state.h"
#include "proxy/server.h"
#include "proxy/tls.h"
#include "proxy/conn.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void reap_cb(evutil_socket_t fd, short what, void *arg);
static void tick_cb(evutil_socket_t fd, short what, void *arg);
static void signal_cb(evutil_socket_t sig, short what, void *arg);

struct config *daemon_build_config(const char *path, const char *upstream,
				   const char *listen, char *err, size_t errlen)
{
	struct config *cfg = config_new_defaults();
	char sub[512];

	if (!cfg) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (path && config_parse_file(cfg, path, err, errlen) != PGP_OK)
		goto fail;
	if (upstream &&
	    config_apply_upstream(cfg, upstream, err, errlen) != PGP_OK)
		goto fail;
	if (listen) {
		const char *colon = strrchr(listen, ':');
		char host[256];

		if (!colon || (size_t)(colon - listen) >= sizeof(host)) {
			snprintf(err, errlen,
				 "--listen wants HOST:PORT, got \"%s\"",
				 listen);
			goto fail;
		}
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = '\0';
		if (config_set(cfg, "listen_addr", host, sub, sizeof(sub)) !=
			    PGP_OK ||
		    config_set(cfg, "listen_port", colon + 1, sub,
			       sizeof(sub)) != PGP_OK) {
			snprintf(err, errlen, "--listen: %s", sub);
			goto fail;
		}
	}
	if (!path && !upstream) {
		snprintf(
			err, errlen,
			"no configuration: give a config file or --upstream postgresql://user:password@host:port/db");
		goto fail;
	}
	if (cfg->ndbs == 0) {
		snprintf(err, errlen, "%s: no [databases] defined",
			 path ? path : "config");
		goto fail;
	}
	if (config_finish(cfg, err, errlen) != PGP_OK)
		goto fail;
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

struct pgperf *daemon_new(struct config *cfg, char *err, size_t errlen)
{
	struct pgperf *pp = pgp_calloc(1, sizeof(*pp));
	static const int sigs[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGUSR2};

	if (!pp) {
		config_free(cfg);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pp->cfg = cfg;
	list_init(&pp->pools);
	list_init(&pp->all_clients);
	list_init(&pp->login_clients);
	list_init(&pp->admin_clients);
	list_init(&pp->reap_clients);
	list_init(&pp->reap_servers);
	list_init(&pp->fence_waiters);
	list_init(&pp->http_waiting);
	list_init(&pp->hold_waiters);
	pp->base = event_base_new();
	if (!pp->base) {
		snprintf(err, errlen, "cannot create event base");
		goto fail;
	}
	pp->client_tls = tls_client_side_ctx(cfg, err, errlen);
	if (cfg->client_tls_sslmode != TLS_DISABLE && !pp->client_tls)
		goto fail;
	pp->server_tls = tls_server_side_ctx(cfg, err, errlen);
	if (cfg->server_tls_sslmode != TLS_DISABLE && !pp->server_tls)
		goto fail;
	pp->reap_ev = event_new(pp->base, -1, 0, reap_cb, pp);
	pp->tick_ev = event_new(pp->base, -1, EV_PERSIST, tick_cb, pp);
	if (!pp->reap_ev || !pp->tick_ev) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	{
		struct timeval one = {1, 0};

		event_add(pp->tick_ev, &one);
	}
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		pp->sig_ev[i] = evsignal_new(pp->base, sigs[i], signal_cb, pp);
		if (!pp->sig_ev[i] || event_add(pp->sig_ev[i], NULL) != 0) {
			snprintf(err, errlen, "cannot install signal handlers");
			goto fail;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	log_current_level = (enum log_level)cfg->log_level;
	return pp;
fail:
	daemon_free(pp);
	return NULL;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct pgperf *pp = arg;

	(void)l;
	(void)salen;
	pgp_clock_tick();
	client_accept(pp, fd, sa, sa->sa_family == AF_UNIX);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	/* EMFILE and friends: log and carry on; the listener stays armed */
	log_error("accept failed: %s", strerror(errno));
}

static bool listen_tcp(struct pgperf *pp, const char *host, int port, char *err,
		       size_t errlen)
{
	struct evutil_addrinfo hints, *res = NULL, *ai;
	char portbuf[16];
	int gai, bound = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE;
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	gai = evutil_getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, portbuf,
				 &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "listen_addr %s: %s", host,
			 evutil_gai_strerror(gai));
		return false;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct evconnlistener *l;

		if (pp->nlisteners >= (int)ARRAY_SIZE(pp->listeners))
			break;
		/* so_reuseport: several processes on one address and port,
		 * the kernel spreading connections between them */
		l = evconnlistener_new_bind(
			pp->base, accept_cb, pp,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
				LEV_OPT_CLOSE_ON_EXEC |
				(pp->cfg->so_reuseport ? LEV_OPT_REUSEABLE_PORT
						       : 0),
			pp->cfg->listen_backlog, ai->ai_addr,
			(int)ai->ai_addrlen);
		if (!l) {
			/* "*" yields IPv4 and IPv6; one of them may be absent */
			if (ai->ai_next || bound)
				continue;
			snprintf(err, errlen, "cannot listen on %s:%d: %s",
				 host, port, strerror(errno));
			evutil_freeaddrinfo(res);
			return false;
		}
		evconnlistener_set_error_cb(l, accept_error_cb);
		pp->listeners[pp->nlisteners++] = l;
		bound++;
	}
	evutil_freeaddrinfo(res);
	if (!bound) {
		snprintf(err, errlen, "cannot listen on %s:%d", host, port);
		return false;
	}
	log_info("listening on %s:%d", host, port);
	return true;
}

static bool listen_unix(struct pgperf *pp, char *err, size_t errlen)
{
	struct sockaddr_un un;
	struct evconnlistener *l;

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/.s.PGSQL.%d",
		 pp->cfg->unix_socket_dir, pp->cfg->listen_port);
	unlink(un.sun_path);
	l = evconnlistener_new_bind(
		pp->base, accept_cb, pp,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
		pp->cfg->listen_backlog, (struct sockaddr *)&un, sizeof(un));
	if (!l) {
		snprintf(err, errlen, "cannot listen on %s: %s", un.sun_path,
			 strerror(errno));
		return false;
	}
	chmod(un.sun_path, 0777);
	snprintf(pp->unix_socket_path, sizeof(pp->unix_socket_path), "%s",
		 un.sun_path);
	pp->listeners[pp->nlisteners++] = l;
	log_info("listening on %s", un.sun_path);
	return true;
}

bool daemon_listen(struct pgperf *pp, char *err, size_t errlen)
{
	char *addrs = pgp_strdup(pp->cfg->listen_addr), *tok, *save = NULL;
	bool ok = true;

	if (!addrs) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	/* the unix socket first: once TCP answers, every listener is up */
	if (*pp->cfg->unix_socket_dir)
		ok = listen_unix(pp, err, errlen);
	for (tok = strtok_r(addrs, ", ", &save); tok && ok;
	     tok = strtok_r(NULL, ", ", &save))
		ok = listen_tcp(pp, tok, pp->cfg->listen_port, err, errlen);
	pgp_free(addrs);
	/* HTTP first, so that once PostgreSQL clients get answers it is up */
	if (ok)
		ok = http_start(pp, err, errlen);
	if (ok && pp->nlisteners == 0) {
		snprintf(err, errlen,
			 "no listen_addr or unix_socket_dir configured");
		ok = false;
	}
	return ok;
}

void daemon_schedule_reap(struct pgperf *pp)
{
	if (pp->reap_ev)
		event_active(pp->reap_ev, 0, 0);
}

/* Free what has finished closing; run dispatches closing asked for. */
static void reap(struct pgperf *pp)
{
	struct list *pos, *tmp;
	int64_t now = pgp_now_us();

	list_for_each_safe(pos, tmp, &pp->reap_clients) {
		struct client *cl = list_entry(pos, struct client, node);

		if (cl->c.dead || conn_pending_output(&cl->c) == 0 ||
		    now > cl->c.close_deadline_us)
			client_free(cl);
	}
	list_for_each_safe(pos, tmp, &pp->reap_servers) {
		struct server *sv = list_entry(pos, struct server, node);

		if (sv->c.dead ||
		    (!sv->await_eof && conn_pending_output(&sv->c) == 0) ||
		    now > sv->c.close_deadline_us)
			server_free(sv);
	}
	list_for_each_safe(pos, tmp, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);

		if (p->dispatch_pending)
			pool_dispatch(p);
	}
	if (!list_empty(&pp->hold_waiters))
		admin_hold_check(pp);
	if (pp->draining && pp->nclients == 0)
		event_base_loopexit(pp->base, NULL);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	pgp_clock_tick();
	(void)fd;
	(void)what;
	reap(arg);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgperf *pp = arg;
	struct list *pos, *tmp;
	int64_t now = pgp_now_us();
	int64_t login_timeout = pp->cfg->client_login_timeout;

	pgp_clock_tick();
	(void)fd;
	(void)what;
	if (login_timeout > 0) {
		list_for_each_safe(pos, tmp, &pp->login_clients) {
			struct client *cl =
				list_entry(pos, struct client, node);

			if (now - cl->login_start_us > login_timeout * 1000)
				client_close(cl, CLOSE_LOGIN_TIMEOUT, "08P01",
					     "client_login_timeout");
		}
	}
	list_for_each_safe(pos, tmp, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);

		if (pool_expired(p, now)) {
			pool_free(p);
			continue;
		}
		pool_tick(p, now);
	}
	pool_state_tick(pp);
	fleet_link_tick(pp);
	if (!pp->stats_tick_us)
		pp->stats_tick_us = now;
	if (now - pp->stats_tick_us >=
	    (int64_t)pp->cfg->stats_period * 1000000) {
		admin_stats_period(pp, (now - pp->stats_tick_us) / 1000000);
		pp->stats_tick_us = now;
	}
	if (pp->draining && pp->cfg->shutdown_timeout > 0 &&
	    now - pp->drain_start_us > pp->cfg->shutdown_timeout * 1000) {
		log_warning("shutdown_timeout reached with %d clients left",
			    pp->nclients);
		daemon_stop_now(pp);
		return;
	}
	reap(pp);
}

/* The request detector's thresholds from the configuration. */
static void daemon_configure_analyzer(struct pgperf *pp)
{
	struct ana_conf c = {
		.request_idle_gap_ms = pp->cfg->request_idle_gap_ms,
		.nplus1_min_repeats = pp->cfg->nplus1_min_repeats,
		.sequential_min_ms = pp->cfg->sequential_min_ms,
		.index_advice = pp->cfg->index_advice != 0,
		.index_min_table_rows = pp->cfg->index_min_table_rows,
		.cache_on = pp->cfg->cache_mode != CACHE_OFF,
		.slow_query_ms = pp->cfg->slow_query_ms,
		.state_save_interval_ms = pp->cfg->state_save_interval,
		.cache_ttl_s = pp->cfg->cache_ttl,
	};

	analyzer_configure(pp->ana, &c);
}

bool daemon_reload(struct pgperf *pp, char *err, size_t errlen)
{
	struct config *cfg;
	const char *key;
	struct list *pos;
	SSL_CTX *server_tls;

	cfg = daemon_build_config(pp->config_path, pp->upstream_url,
				  pp->listen_override, err, errlen);
	if (!cfg) {
		log_error(
			"reload failed, keeping the running configuration: %s",
			err);
		return false;
	}
	server_tls = tls_server_side_ctx(cfg, err, errlen);
	if (cfg->server_tls_sslmode != TLS_DISABLE && !server_tls) {
		log_error(
			"reload failed, keeping the running configuration: %s",
			err);
		config_free(cfg);
		return false;
	}
	if (!log_open(cfg->logfile)) {
		snprintf(err, errlen, "cannot open logfile %s", cfg->logfile);
		log_error(
			"reload failed, keeping the running configuration: %s",
			err);
		SSL_CTX_free(server_tls);
		config_free(cfg);
		return false;
	}
	/* keys that need a restart keep their running values */
	while (config_needs_restart(pp->cfg, cfg, &key)) {
		log_warning("%s changed; it takes effect only after a restart",
			    key);
		if (!config_copy_key(cfg, pp->cfg, key))
			break;
	}
	SSL_CTX_free(pp->server_tls);
	pp->server_tls = server_tls;
	config_free(pp->cfg);
	pp->cfg = cfg;
	log_current_level = (enum log_level)cfg->log_level;
	if (pp->ana)
		daemon_configure_analyzer(pp);
	fleet_link_reload(pp);
	list_for_each(pos, &pp->pools)
		pool_retarget(list_entry(pos, struct pool, node));
	daemon_schedule_reap(pp);
	log_info("configuration reloaded");
	return true;
}

void daemon_drain(struct pgperf *pp)
{
	struct list *pos, *tmp;

	if (pp->draining)
		return;
	log_info("SIGTERM: draining %d clients; no new connections",
		 pp->nclients);
	pp->draining = true;
	pp->drain_start_us = pgp_now_us();
	for (int i = 0; i < pp->nlisteners; i++)
		evconnlistener_disable(pp->listeners[i]);
	list_for_each_safe(pos, tmp, &pp->all_clients)
		client_drain(list_entry(pos, struct client, all_node));
	daemon_schedule_reap(pp);
}

void daemon_stop_now(struct pgperf *pp)
{
	log_info("shutting down now");
	event_base_loopexit(pp->base, NULL);
}

void daemon_dispatch_all(struct pgperf *pp)
{
	struct list *pos;

	list_for_each(pos, &pp->pools)
		list_entry(pos, struct pool, node)->dispatch_pending = true;
	daemon_schedule_reap(pp);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pgperf *pp = arg;
	char err[512];

	pgp_clock_tick();
	(void)what;
	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading configuration");
		(void)daemon_reload(pp, err, sizeof(err));
		break;
	case SIGTERM:
		daemon_drain(pp);
		break;
	case SIGINT:
		log_info("SIGINT: exiting now");
		daemon_stop_now(pp);
		break;
	case SIGUSR1:
	case SIGUSR2:
		admin_hold_signal(pp, sig == SIGUSR1);
		break;
	default:
		break;
	}
}

int daemon_run(struct pgperf *pp)
{
	/* here, not in daemon_new: after --daemon has forked */
	pp->ana = analyzer_start(pp->cfg->max_tracked_queries);
	if (!pp->ana)
		log_warning(
			"cannot start the analyzer: no statement statistics");
	else {
		daemon_configure_analyzer(pp);
		analyzer_set_state(pp->ana, pp->cfg->state_file);
		if (!fence_start(pp))
			log_warning("cannot watch the analyzer: readers of "
				    "statistics will not wait for it");
	}
	/* the result cache needs the analyzer's facts about statements */
	if (pp->cfg->cache_mode != CACHE_OFF && !pp->ana)
		log_warning("the result cache needs the analyzer: it is off");
	else
		pp->cache = cache_new(pp);
	/* after the analyzer: the fleet publishes its images */
	(void)fleet_link_start(pp);
	event_base_dispatch(pp->base);
	return pp->exit_code;
}

void daemon_free(struct pgperf *pp)
{
	struct list *pos, *tmp;

	if (!pp)
		return;
	/* nothing may open new server connections from here on: the last
	 * loop pass below could run the tick, which keeps min_pool_size */
	pp->draining = true;
	if (pp->tick_ev)
		event_del(pp->tick_ev);
	/* close every connection, then free them all */
	list_for_each_safe(pos, tmp, &pp->all_clients) {
		struct client *cl = list_entry(pos, struct client, all_node);

		if (cl->state != CL_CLOSING)
			client_close(
				cl, CLOSE_ADMIN, "57P01",
				"terminating connection due to administrator command");
	}
	list_for_each_safe(pos, tmp, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);
		struct list *lists[] = {&p->idle_servers, &p->active_servers,
					&p->tested_servers, &p->login_servers};

		for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
			struct list *spos, *stmp;

			list_for_each_safe(spos, stmp, lists[i])
				server_close(
					list_entry(spos, struct server, node),
					CLOSE_ADMIN, "shutting down");
		}
	}
	/* give the last messages one chance to go out */
	if (pp->base)
		event_base_loop(pp->base, EVLOOP_NONBLOCK);
	list_for_each_safe(pos, tmp, &pp->reap_clients)
		client_free(list_entry(pos, struct client, node));
	list_for_each_safe(pos, tmp, &pp->reap_servers)
		server_free(list_entry(pos, struct server, node));
	pool_state_hand(pp); /* for the analyzer's last save */
	list_for_each_safe(pos, tmp, &pp->pools)
		pool_free(list_entry(pos, struct pool, node));
	for (int i = 0; i < pp->nlisteners; i++)
		evconnlistener_free(pp->listeners[i]);
	if (pp->unix_socket_path[0])
		unlink(pp->unix_socket_path);
	for (size_t i = 0; i < ARRAY_SIZE(pp->sig_ev); i++)
		if (pp->sig_ev[i])
			event_free(pp->sig_ev[i]);
	if (pp->reap_ev)
		event_free(pp->reap_ev);
	if (pp->tick_ev)
		event_free(pp->tick_ev);
	if (pp->hold_timer)
		event_free(pp->hold_timer);
	kv_free(&pp->held_dbs);
	kv_free(&pp->disabled_dbs);
	fence_stop(pp);
	http_stop(pp);
	authq_stop(pp);
	prep_registry_free(&pp->prep);
	cache_free(pp->cache);
	fleet_link_stop(pp); /* before the analyzer it reads */
	analyzer_stop(pp->ana);
	pool_state_free(pp);
	observe_known_free(&pp->known);
	SSL_CTX_free(pp->client_tls);
	SSL_CTX_free(pp->server_tls);
	if (pp->base)
		event_base_free(pp->base);
	config_free(pp->cfg);
	pgp_free(pp->config_path);
	pgp_free(pp->upstream_url);
	pgp_free(pp->listen_override);
	pgp_free(pp);
}
