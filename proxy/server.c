/*
 * server.c -- connections to PostgreSQL: connect (optionally TLS), log in
 * with md5 or SCRAM-SHA-256, apply a client's startup parameters, relay
 * replies to the client, and reset or check the connection between clients.
 *
 * While a server is linked and active, its replies are relayed by
 * server_relay.c; in every other state pgperf itself consumes them, here.
 */
#include "proxy/server.h"
#include "proxy/fleet_link.h"

#include "proto/auth.h"
#include "proxy/client.h"
#include "proxy/conn.h"
#include "proxy/daemon.h"
#include "lib/log.h"
#include "tap/observe.h"
#include "proxy/pool.h"
#include "proxy/prepared_relay.h"
#include "proto/session_state.h"
#include "proxy/tls.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

/* Replies pgperf reads whole in its own states are small. */
#define SERVER_OWN_MSG_MAX (1024 * 1024)

static const char *const server_state_names[] = {
	[SV_CONNECTING] = "login", [SV_TLS_WAIT] = "login",
	[SV_LOGIN] = "login",	   [SV_IDLE] = "idle",
	[SV_SETUP] = "active",	   [SV_ACTIVE] = "active",
	[SV_RESET] = "tested",	   [SV_CHECK] = "tested",
	[SV_CLOSING] = "closing",
};

const char *server_state_name(enum server_state st)
{
	return server_state_names[st];
}

static struct list *server_list_for(struct server *sv, enum server_state st)
{
	struct pool *p = sv->pool;

	switch (st) {
	case SV_CONNECTING:
	case SV_TLS_WAIT:
	case SV_LOGIN:
		return &p->login_servers;
	case SV_IDLE:
		return &p->idle_servers;
	case SV_SETUP:
	case SV_ACTIVE:
		return &p->active_servers;
	case SV_RESET:
	case SV_CHECK:
		return &p->tested_servers;
	case SV_CLOSING:
		return &p->pp->reap_servers;
	}
	return NULL;
}

/* The pool's count of the servers on the list for state `st`. */
static int *server_count_for(struct server *sv, enum server_state st)
{
	struct pool *p = sv->pool;

	switch (st) {
	case SV_CONNECTING:
	case SV_TLS_WAIT:
	case SV_LOGIN:
		return &p->nlogin;
	case SV_IDLE:
		return &p->nidle;
	case SV_SETUP:
	case SV_ACTIVE:
		return &p->nactive;
	case SV_RESET:
	case SV_CHECK:
		return &p->ntested;
	case SV_CLOSING:
		return &p->nclosing;
	}
	return NULL;
}

void server_set_state(struct server *sv, enum server_state st)
{
	int *from, *to;

	if (sv->state == SV_CLOSING && st != SV_CLOSING) {
		log_error("%s: illegal state change %d -> %d", sv->c.label,
			  sv->state, st);
		return;
	}
	from = server_count_for(sv, sv->state);
	to = server_count_for(sv, st);
	if (from)
		(*from)--;
	if (to)
		(*to)++;
	list_del(&sv->node);
	list_append(server_list_for(sv, st), &sv->node);
	sv->state = st;
	sv->state_since_us = pgp_loop_us();
	if (st == SV_IDLE)
		sv->idle_since_us = sv->state_since_us;
}

static void server_read_cb(struct bufferevent *bev, void *arg);
static void server_write_cb(struct bufferevent *bev, void *arg);
static void server_event_cb(struct bufferevent *bev, short what, void *arg);

void server_install_callbacks(struct server *sv)
{
	bufferevent_setcb(sv->c.bev, server_read_cb, server_write_cb,
			  server_event_cb, sv);
	bufferevent_enable(sv->c.bev, EV_READ | EV_WRITE);
}

/* The longest a closed server connection is waited for to end (see
 * server_close): a backend past this is let go, uncounted. */
#define SERVER_GONE_WAIT_US (30 * 1000000LL)

void server_close(struct server *sv, enum close_reason why, const char *fmt,
		  ...)
{
	char msg[512];
	va_list ap;
	struct client *cl = sv->client;

	if (sv->state == SV_CLOSING)
		return;
	if ((unsigned)why < CLOSE_REASON_COUNT)
		sv->c.pp->server_closes[why]++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clog_debug(sv, "closing: %s", msg);
	if (cl) {
		sv->client = NULL;
		cl->server = NULL;
		if (sv->got_fatal)
			client_close(cl, CLOSE_SERVER_ERROR, NULL,
				     "server sent a fatal error");
		else
			client_close(
				cl, CLOSE_SERVER_ERROR, "08006",
				"server connection closed unexpectedly: %s",
				msg);
	}
	/* a healthy server gets a Terminate so its backend exits cleanly */
	if (sv->c.bev && sv->state != SV_CONNECTING &&
	    sv->state != SV_TLS_WAIT && !sv->got_fatal && !sv->c.dead) {
		static const uint8_t terminate[5] = {'X', 0, 0, 0, 4};

		bufferevent_write(sv->c.bev, terminate, sizeof(terminate));
	}
	/* a backend that got this far shows in pg_stat_activity until it
	 * has exited, which its closing the socket tells: wait for that
	 * (reading and dropping what comes), so the limits on server
	 * connections hold as PostgreSQL counts them */
	sv->await_eof = sv->c.bev && !sv->c.dead &&
			sv->state != SV_CONNECTING && sv->state != SV_TLS_WAIT;
	server_set_state(sv, SV_CLOSING);
	sv->c.closing = true;
	/* a backend busy with a query its client left reads the Terminate
	 * only when the query ends: wait up to SERVER_GONE_WAIT_US for it */
	sv->c.close_deadline_us =
		pgp_now_us() + (sv->await_eof ? SERVER_GONE_WAIT_US : 1000000);
	if (sv->await_eof) {
		sv->c.throttled = false;
		conn_read_enable(&sv->c);
	} else {
		conn_read_disable(&sv->c);
	}
	sv->pool->dispatch_pending = true;
	daemon_schedule_reap(sv->c.pp);
}

void server_free(struct server *sv)
{
	if (sv->state == SV_CLOSING) {
		sv->pool->nclosing--;
		sv->pool->dispatch_pending = true; /* its slot is free now */
	}
	list_del(&sv->node);
	conn_free_io(&sv->c);
	kv_free(&sv->params);
	kv_free(&sv->applied);
	server_forget_pending_set(sv);
	pq_free(&sv->c.pp->prep, &sv->pq);
	prep_server_clear(&sv->c.pp->prep, &sv->prep);
	scram_client_free(&sv->scram);
	pgp_free(sv);
}

/* ---- login ---- */

/* ---- linking to a client ---- */

/*
 * Apply the client's startup parameters that differ from the server's
 * through set_config() in one extended-protocol batch: parameters travel as
 * values, so nothing needs quoting.
 */
/* Append Bind + Execute of the unnamed statement with two text values. */
static void build_exec2(struct wbuf *b, const char *v1, const char *v2)
{
	size_t start = wb_begin(b, 'B');

	wb_cstr(b, "");
	wb_cstr(b, "");
	wb_u16(b, 0);
	wb_u16(b, v2 ? 2 : 1);
	wb_u32(b, (uint32_t)strlen(v1));
	wb_bytes(b, v1, strlen(v1));
	if (v2) {
		wb_u32(b, (uint32_t)strlen(v2));
		wb_bytes(b, v2, strlen(v2));
	}
	wb_u16(b, 0);
	wb_end(b, start);
	start = wb_begin(b, 'E');
	wb_cstr(b, "");
	wb_u32(b, 0);
	wb_end(b, start);
}

static void build_parse(struct wbuf *b, const char *sql)
{
	size_t start = wb_begin(b, 'P');

	wb_cstr(b, "");
	wb_cstr(b, sql);
	wb_u16(b, 0);
	wb_end(b, start);
}

/*
 * Give `sv` to `cl`.  Settings the client expects but the server lacks are
 * applied with set_config() in one extended-protocol batch (values travel
 * as parameters, so nothing needs quoting):
 *  - reported settings (TimeZone, application_name, ...) when they differ;
 *  - the client's other startup settings (options=-c ...) every time, since
 *    only their absence, not their value, is tracked per server;
 *  - settings applied for a previous client (transaction mode) and not
 *    wanted by this one go back to their reset values.
 * A client linked for the first time is then welcomed; one that was
 * already (transaction mode) resumes relaying.
 */
void server_link(struct server *sv, struct client *cl)
{
	static const char set_sql[] =
		"SELECT pg_catalog.set_config($1, $2, false)";
	static const char reset_sql[] =
		"SELECT pg_catalog.set_config($1, (SELECT reset_val FROM pg_catalog.pg_settings WHERE name = $1), false)";
	struct wbuf b;
	int nreset = 0, nset = 0;
	int64_t now = pgp_loop_us();
	struct kvlist want = {NULL, 0};

	sv->client = cl;
	cl->server = sv;
	sv->track = pool_effective_mode(sv->pool) == POOL_TRANSACTION &&
		    sv->c.pp->cfg->max_prepared_statements > 0;
	sv->request_us = pgp_loop_wall_us();
	sv->pool->total_wait_us += (uint64_t)(now - cl->wait_start_us);
	sv->pool->st.wait_us += (uint64_t)(now - cl->wait_start_us);
	sv->pool->st.wait_count++;
	if (now - cl->wait_start_us >= 1000 && cl->wait_saturated) {
		sv->pool->st.waited_count++;
		if ((uint64_t)(now - cl->wait_start_us) >
		    sv->pool->st.max_wait_us)
			sv->pool->st.max_wait_us =
				(uint64_t)(now - cl->wait_start_us);
	}
	observe_linked(cl, now - cl->wait_start_us);
	client_set_state(cl, CL_SETUP);
	if (cl->welcomed && cl->rep_digest == sv->rep_digest &&
	    cl->unreported == 0 && cl->sets.n == 0 && sv->applied.n == 0) {
		/* the common case: nothing to apply or reset */
		client_resume(cl);
		return;
	}
	wb_init(&b);
	/* the unreported settings it expects: startup ones, then its SETs */
	for (int i = 0; i < cl->params.n; i++) {
		const struct kv *p = &cl->params.items[i];

		if (!session_param_is_reported(p->name, strlen(p->name)) &&
		    !kv_set(&want, p->name, p->value))
			b.failed = true;
	}
	for (int i = 0; i < cl->sets.n; i++)
		if (!kv_set(&want, cl->sets.items[i].name,
			    cl->sets.items[i].value))
			b.failed = true;
	for (int i = 0; i < sv->applied.n; i++) {
		const char *name = sv->applied.items[i].name;

		if (kv_get(&want, name))
			continue;
		if (nreset++ == 0)
			build_parse(&b, reset_sql);
		build_exec2(&b, name, NULL);
	}
	for (int i = 0; i < cl->params.n; i++) {
		const struct kv *p = &cl->params.items[i];
		const char *cur = kv_get(&sv->params, p->name);

		if (cl->rep_digest == sv->rep_digest ||
		    !session_param_is_reported(p->name, strlen(p->name)) ||
		    (cur && strcmp(cur, p->value) == 0))
			continue;
		if (nset++ == 0)
			build_parse(&b, set_sql);
		build_exec2(&b, p->name, p->value);
	}
	for (int i = 0; i < want.n; i++) {
		const struct kv *p = &want.items[i];
		const char *cur = kv_get(&sv->applied, p->name);

		if (cur && strcmp(cur, p->value) == 0)
			continue; /* this connection has it already */
		if (nset++ == 0)
			build_parse(&b, set_sql);
		build_exec2(&b, p->name, p->value);
	}
	kv_free(&sv->applied);
	sv->applied = want;
	if (nset == 0 && nreset == 0) {
		wb_free(&b);
		if (cl->welcomed)
			client_resume(cl);
		else
			client_welcome(cl);
		return;
	}
	{
		size_t start = wb_begin(&b, 'S');

		wb_end(&b, start);
	}
	sv->err_sqlstate[0] = '\0';
	sv->rfq_pending = 1;
	server_set_state(sv, SV_SETUP);
	if (!conn_send(&sv->c, &b))
		server_close(sv, CLOSE_DISCONNECT, "cannot send parameters");
	wb_free(&b);
}

/* Queue simple queries pgperf runs on its own account. */
static bool send_own_queries(struct server *sv, const char *const *sql, int n)
{
	struct wbuf b;
	bool ok;

	wb_init(&b);
	for (int i = 0; i < n; i++)
		wire_build_query(&b, sql[i]);
	ok = conn_send(&sv->c, &b);
	wb_free(&b);
	sv->rfq_pending = n;
	sv->err_sqlstate[0] = '\0';
	return ok;
}

bool server_quiet(const struct server *sv)
{
	return sv->rfq_pending == 0 && !sv->unsynced && sv->pq.n == 0 &&
	       sv->c.fwd_remaining == 0 &&
	       evbuffer_get_length(bufferevent_get_input(sv->c.bev)) == 0;
}

/*
 * Put a quiet connection back in the pool for the next client: ROLLBACK if
 * a transaction is open, then server_reset_query if `reset`.  Whatever
 * pgperf tracked of its clients' state there is void afterwards (the reset
 * query typically is DISCARD ALL, which also deallocates pgperf's
 * statements).
 */
static void server_clean(struct server *sv, bool reset)
{
	const char *sql[2];
	const char *reset_query = sv->c.pp->cfg->server_reset_query;
	int n = 0;

	if (sv->tx_status != 'I')
		sql[n++] = "ROLLBACK";
	if (reset && *reset_query) {
		sql[n++] = reset_query;
		prep_server_lost_all(sv);
	}
	sv->session_state = 0;
	kv_free(&sv->applied);
	if (n == 0) {
		pool_server_ready(sv);
		return;
	}
	server_set_state(sv, SV_RESET);
	if (!send_own_queries(sv, sql, n))
		server_close(sv, CLOSE_DISCONNECT, "cannot send reset query");
}

void server_release(struct server *sv)
{
	struct pgperf *pp = sv->c.pp;
	int64_t lifetime = pp->cfg->server_lifetime;
	bool lifetime_up;

	sv->client = NULL;
	if (sv->state == SV_CLOSING)
		return;
	if (sv->state != SV_ACTIVE || !server_quiet(sv) || sv->got_fatal) {
		server_close(sv,
			     sv->got_fatal ? CLOSE_SERVER_ERROR
					   : CLOSE_CLIENT_GONE,
			     "client left with a query in flight");
		return;
	}
	lifetime_up =
		lifetime > 0 && pgp_now_us() - sv->created_us > lifetime * 1000;
	if (sv->close_needed || pp->draining || pool_paused(sv->pool) ||
	    lifetime_up) {
		server_close(sv,
			     sv->close_needed ? CLOSE_RECONNECT
			     : lifetime_up    ? CLOSE_LIFETIME
					      : CLOSE_ADMIN,
			     "server_lifetime reached, or close requested");
		return;
	}
	if (fleet_link_over(pp, sv->pool)) {
		server_close(sv, CLOSE_SHARE,
			     "over this process's share of the fleet's limit");
		return;
	}
	/* session mode resets always; transaction mode when state was left */
	server_clean(sv, pool_effective_mode(sv->pool) == POOL_SESSION ||
				 sv->session_state || sv->applied.n);
}

void server_start_check(struct server *sv)
{
	const char *sql = sv->c.pp->cfg->server_check_query;

	clog_debug(sv, "running server_check_query before reuse");
	server_set_state(sv, SV_CHECK);
	if (!send_own_queries(sv, &sql, 1))
		server_close(sv, CLOSE_DISCONNECT, "cannot send check query");
}

void server_note_request(struct server *sv)
{
	int64_t now = pgp_loop_us();

	sv->query_since_us = now;
	if (sv->tx_status == 'I')
		sv->xact_since_us = now; /* explicit or a single statement */
}

void server_check_timeouts(struct server *sv, int64_t now)
{
	const struct config *cfg = sv->c.pp->cfg;
	struct client *cl = sv->client;
	bool busy;

	if (!cl || sv->state != SV_ACTIVE || cl->state != CL_ACTIVE)
		return;
	busy = sv->rfq_pending > 0 || sv->unsynced;
	if (busy && cfg->query_timeout > 0 &&
	    now - sv->query_since_us > cfg->query_timeout * 1000) {
		clog_info(cl, "query_timeout: cancelling and disconnecting");
		server_send_cancel(sv->c.pp, sv);
		client_close(cl, CLOSE_TIMEOUT, "57014",
			     "query_timeout: the query ran longer than %lld ms",
			     (long long)cfg->query_timeout);
		return;
	}
	if ((busy || sv->tx_status != 'I') && cfg->transaction_timeout > 0 &&
	    now - sv->xact_since_us > cfg->transaction_timeout * 1000) {
		clog_info(cl, "transaction_timeout: disconnecting");
		if (busy)
			server_send_cancel(sv->c.pp, sv);
		client_close(
			cl, CLOSE_TIMEOUT, "25P04",
			"transaction_timeout: the transaction lasted longer than %lld ms",
			(long long)cfg->transaction_timeout);
		return;
	}
	if (!busy && sv->tx_status != 'I' &&
	    cfg->idle_transaction_timeout > 0 &&
	    now - sv->idle_xact_since_us >
		    cfg->idle_transaction_timeout * 1000) {
		clog_info(cl, "idle_transaction_timeout: disconnecting");
		/* its server rolls back and serves the next client */
		client_close(
			cl, CLOSE_TIMEOUT, "25P03",
			"idle_transaction_timeout: idle in a transaction for longer than %lld ms",
			(long long)cfg->idle_transaction_timeout);
	}
}

/* ---- reading replies ---- */

/* Remember an error from a query pgperf ran itself. */
static void record_error(struct server *sv, const uint8_t *body, size_t len)
{
	struct wire_error_fields f;

	if (!wire_parse_error(body, len, &f)) {
		snprintf(sv->err_sqlstate, sizeof(sv->err_sqlstate), "08P01");
		snprintf(sv->err_message, sizeof(sv->err_message),
			 "malformed error from server");
		return;
	}
	snprintf(sv->err_sqlstate, sizeof(sv->err_sqlstate), "%s",
		 f.sqlstate ? f.sqlstate : "XX000");
	snprintf(sv->err_message, sizeof(sv->err_message), "%s",
		 f.message ? f.message : "error");
	if (wire_error_is_fatal(&f))
		sv->got_fatal = true;
}

/* A ReadyForQuery ends one of pgperf's own exchanges. */
static void own_ready(struct server *sv)
{
	if (sv->rfq_pending > 0)
		sv->rfq_pending--;
	if (sv->rfq_pending > 0)
		return;
	switch (sv->state) {
	case SV_LOGIN:
		clog_debug(sv, "login ok, backend pid %u", sv->backend_pid);
		conn_own_reads(&sv->c, server_read_cb, server_event_cb, sv);
		sv->pool->backoff_us = 0;
		sv->pool->next_connect_us = 0;
		pool_server_ready(sv);
		return;
	case SV_SETUP: {
		struct client *cl = sv->client;

		if (!cl) {
			server_release(sv);
			return;
		}
		if (sv->err_sqlstate[0]) {
			/* PostgreSQL rejects bad startup settings the same way */
			server_set_state(sv, SV_ACTIVE);
			client_close(cl, CLOSE_SERVER_ERROR, sv->err_sqlstate,
				     "%s", sv->err_message);
			return;
		}
		if (cl->welcomed)
			client_resume(cl);
		else
			client_welcome(cl);
		return;
	}
	case SV_RESET:
	case SV_CHECK:
		if (sv->err_sqlstate[0]) {
			clog_warning(sv, "%s failed: %s",
				     sv->state == SV_RESET ? "reset" : "check",
				     sv->err_message);
			server_close(sv, CLOSE_RESET_FAILED,
				     "reset or check failed");
			return;
		}
		pool_server_ready(sv);
		return;
	default:
		return;
	}
}

/* Handle one whole message in a state where pgperf reads replies itself. */
static void own_message(struct server *sv, uint8_t type, const uint8_t *body,
			size_t len)
{
	switch (type) {
	case 'R': /* Authentication* */
		if (sv->state != SV_LOGIN) {
			server_close(sv, CLOSE_PROTOCOL,
				     "unexpected authentication request");
			return;
		}
		server_login_auth(sv, body, len);
		return;
	case 'K': { /* BackendKeyData */
		struct wcursor c;

		wc_init(&c, body, len);
		if (!wc_u32(&c, &sv->backend_pid) ||
		    !wc_u32(&c, &sv->backend_key))
			server_close(sv, CLOSE_PROTOCOL,
				     "malformed BackendKeyData");
		return;
	}
	case 'S': /* ParameterStatus */
		server_record_param(sv, body, len);
		return;
	case 'E': /* ErrorResponse */
		record_error(sv, body, len);
		if (sv->state == SV_LOGIN) {
			server_login_failed(sv, sv->err_sqlstate, "%s",
					    sv->err_message);
			return;
		}
		if (sv->got_fatal) {
			/* a client being set up hears it; releasing closes us */
			if (sv->state == SV_SETUP && sv->client)
				client_close(sv->client, CLOSE_SERVER_ERROR,
					     sv->err_sqlstate, "%s",
					     sv->err_message);
			else
				server_close(sv, CLOSE_SERVER_ERROR,
					     "server sent FATAL: %s",
					     sv->err_message);
		}
		return;
	case 'Z': /* ReadyForQuery */
		if (len >= 1)
			sv->tx_status = (char)body[0];
		if (sv->state == SV_IDLE) {
			server_close(sv, CLOSE_PROTOCOL,
				     "unexpected ReadyForQuery while idle");
			return;
		}
		own_ready(sv);
		return;
	case 'v': /* NegotiateProtocolVersion: we asked for plain 3.0 */
	case 'N': /* NoticeResponse */
	case 'A': /* NotificationResponse */
	default:  /* results of our own queries */
		return;
	}
}

/*
 * Transaction mode: at ReadyForQuery 'I' with nothing in flight either way,
 * the server goes back to the pool and the client waits, unlinked, for its
 * next transaction, unless the server holds session state (pinned).
 */
void server_maybe_release(struct server *sv)
{
	struct client *cl = sv->client;
	const struct config *cfg = sv->c.pp->cfg;

	if (!cl || cl->state != CL_ACTIVE ||
	    pool_effective_mode(sv->pool) != POOL_TRANSACTION)
		return;
	if (!client_between_transactions(cl))
		return;
	if (sv->session_state & ~cl->hazards_seen) {
		/* a pooling hazard: count each kind once per client */
		uint32_t fresh = sv->session_state & ~cl->hazards_seen;

		for (int bit = 0; bit < POOL_HAZARD_KINDS; bit++)
			if (fresh & (1u << bit)) {
				sv->pool->hazard_clients[bit]++;
				sv->pool->hazard_last_us[bit] = pgp_wall_us();
			}
		cl->hazards_seen |= fresh;
	}
	if (sv->session_state && cfg->transaction_pinning) {
		/* pinned until it disconnects or clears the state */
		clog_noise(cl, "pinned: %s",
			   session_state_reason(sv->session_state));
		return;
	}
	sv->client = NULL;
	cl->server = NULL;
	client_set_state(cl, CL_IDLE);
	if (sv->session_state)
		server_clean(sv, true); /* pinning off: reset, nothing leaks */
	else
		pool_server_ready(sv);
}

/* One whole message in pgperf's own states; false when more are needed. */
static bool own_step(struct server *sv)
{
	struct evbuffer *in = bufferevent_get_input(sv->c.bev);
	size_t avail = evbuffer_get_length(in);
	uint8_t hdr[5], small[8192], *body = small;
	uint32_t len;

	if (avail < 5)
		return false;
	evbuffer_copyout(in, hdr, 5);
	len = wire_get_u32(hdr + 1);
	if (wire_check_header(WIRE_FROM_SERVER, hdr[0], len,
			      SERVER_OWN_MSG_MAX) != PGP_OK) {
		if (sv->state == SV_LOGIN)
			server_login_failed(
				sv, "08P01",
				"invalid message from server during login");
		else
			server_close(sv, CLOSE_PROTOCOL,
				     "invalid message from server (type %u)",
				     hdr[0]);
		return false;
	}
	if (avail < (size_t)len + 1)
		return false;
	if (len - 4 > sizeof(small) && !(body = pgp_malloc(len - 4))) {
		server_close(sv, CLOSE_RESOURCES, "out of memory");
		return false;
	}
	/* consume before handling: handling may hand the server to a client */
	evbuffer_drain(in, 5);
	evbuffer_remove(in, body, len - 4);
	own_message(sv, hdr[0], body, len - 4);
	if (body != small)
		pgp_free(body);
	return true;
}

void server_relay(struct server *sv)
{
	while (sv->c.bev && !sv->c.closing && !sv->c.throttled) {
		switch (sv->state) {
		case SV_TLS_WAIT:
			server_login_tls_answer(sv);
			return;
		case SV_ACTIVE:
			if (!sv->client) {
				server_close(sv, CLOSE_PROTOCOL,
					     "active without a client");
				return;
			}
			server_relay_active(sv);
			if (sv->client && !sv->c.closing)
				conn_throttle_if_full(&sv->c, &sv->client->c);
			return;
		case SV_LOGIN:
		case SV_IDLE:
		case SV_SETUP:
		case SV_RESET:
		case SV_CHECK:
			if (!own_step(sv))
				return;
			break;
		case SV_CONNECTING:
		case SV_CLOSING:
			return;
		}
	}
}

static void server_read_cb(struct bufferevent *bev, void *arg)
{
	struct server *sv = arg;

	pgp_clock_tick();
	if (sv->c.closing) {
		/* waiting for the end: whatever comes first is dropped */
		struct evbuffer *in = bufferevent_get_input(bev);

		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	server_relay(sv);
}

static void server_write_cb(struct bufferevent *bev, void *arg)
{
	struct server *sv = arg;

	pgp_clock_tick();
	(void)bev;
	if (sv->c.closing) {
		daemon_schedule_reap(sv->c.pp);
		return;
	}
	if (sv->client && conn_unthrottle_if_drained(&sv->client->c, &sv->c))
		client_relay(sv->client);
}

static void server_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct server *sv = arg;
	struct pgperf *pp = sv->c.pp;

	pgp_clock_tick();
	if (what & BEV_EVENT_CONNECTED) {
		if (sv->state != SV_CONNECTING)
			return; /* TLS filter finished its handshake */
		if (sv->pool->target.host[0] != '/')
			conn_tcp_options(bufferevent_getfd(bev), pp->cfg);
		if (pp->server_tls && sv->pool->target.host[0] != '/') {
			static const uint8_t sslreq[8] = {0, 0,	   0,	 8,
							  4, 0xd2, 0x16, 0x2f};

			server_set_state(sv, SV_TLS_WAIT);
			bufferevent_write(bev, sslreq, sizeof(sslreq));
			return;
		}
		server_login_start(sv);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	sv->c.dead = true; /* nothing more can be written */
	if (sv->c.closing) {
		daemon_schedule_reap(pp);
		return;
	}
	/* relay whatever arrived before the end, e.g. a FATAL error */
	server_relay(sv);
	if (sv->c.closing) {
		daemon_schedule_reap(pp);
		return;
	}
	if (sv->state == SV_CONNECTING || sv->state == SV_TLS_WAIT ||
	    sv->state == SV_LOGIN) {
		int err = EVUTIL_SOCKET_ERROR();

		server_login_failed(
			sv, "08006", "could not connect to server at %s:%d: %s",
			sv->pool->target.host, sv->pool->target.port,
			(what & BEV_EVENT_ERROR) && err
				? evutil_socket_error_to_string(err)
				: "server closed the connection during login");
		return;
	}
	if (what & BEV_EVENT_ERROR)
		server_close(
			sv, CLOSE_DISCONNECT, "server connection error: %s",
			evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	else
		server_close(sv, CLOSE_DISCONNECT,
			     "server closed the connection");
}
