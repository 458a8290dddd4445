/*
 * client.c -- a client connection's life after accept: its state machine,
 * its one close path, and relaying its messages to the linked server.
 *
 * Relaying inspects only each message's 5-byte header (type and length);
 * bodies stream through without being copied whole, so a 50 MB COPY or a
 * 1 GB bytea costs no more memory than the back-pressure window.
 */
#include "proxy/client.h"

#include "proxy/auth_query.h"

#include "cache/cache.h"

#include "console/admin.h"
#include "console/admin_hold.h"
#include "proxy/conn.h"
#include "proxy/daemon.h"
#include "lib/log.h"
#include "proxy/notify.h"
#include "tap/observe.h"
#include "proxy/pool.h"
#include "proxy/prepared_relay.h"
#include "proto/relay.h"
#include "proxy/server.h"
#include "proto/session_state.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* How long a closing client may take to read its last error message. */
#define CLIENT_FLUSH_TIMEOUT_US (5 * 1000000)

static const char *const client_state_names[] = {
	[CL_STARTUP] = "login",	      [CL_AUTH] = "login",
	[CL_WAIT_SERVER] = "waiting", [CL_SETUP] = "active",
	[CL_ACTIVE] = "active",	      [CL_IDLE] = "active",
	[CL_ADMIN] = "active",	      [CL_CLOSING] = "closing",
};

const char *client_app_name(const struct client *cl)
{
	const char *v = kv_get(&cl->params, "application_name");

	return v ? v : "";
}

const char *client_state_name(enum client_state st)
{
	return client_state_names[st];
}

void client_update_label(struct client *cl)
{
	if (cl->user)
		snprintf(cl->c.label, sizeof(cl->c.label),
			 "C-%llu %s/%s@%s:%d%s", (unsigned long long)cl->c.id,
			 cl->database, cl->user, cl->c.addr, cl->c.port,
			 cl->c.tls ? " (tls)" : "");
	else
		snprintf(cl->c.label, sizeof(cl->c.label), "C-%llu %s:%d%s",
			 (unsigned long long)cl->c.id, cl->c.addr, cl->c.port,
			 cl->c.tls ? " (tls)" : "");
}

/* The list a client in state `st` lives on. */
static struct list *client_list_for(struct client *cl, enum client_state st)
{
	struct pgperf *pp = cl->c.pp;

	switch (st) {
	case CL_STARTUP:
	case CL_AUTH:
		return &pp->login_clients;
	case CL_WAIT_SERVER:
		return &cl->pool->waiting;
	case CL_SETUP:
	case CL_ACTIVE:
		return &cl->pool->active_clients;
	case CL_IDLE:
		return &cl->pool->idle_clients;
	case CL_ADMIN:
		return &pp->admin_clients;
	case CL_CLOSING:
		return &pp->reap_clients;
	}
	return NULL;
}

void client_set_state(struct client *cl, enum client_state st)
{
	/* legal moves: forward through login, back only to closing */
	if (cl->state == CL_CLOSING && st != CL_CLOSING) {
		log_error("%s: illegal state change %d -> %d", cl->c.label,
			  cl->state, st);
		return;
	}
	if ((st == CL_WAIT_SERVER || st == CL_SETUP || st == CL_ACTIVE ||
	     st == CL_IDLE) &&
	    !cl->pool) {
		log_error("%s: state %d without a pool", cl->c.label, st);
		return;
	}
	if (cl->state == CL_WAIT_SERVER)
		cl->pool->nwaiting--;
	if ((cl->state == CL_STARTUP || cl->state == CL_AUTH) &&
	    st != CL_STARTUP && st != CL_AUTH)
		cl->c.pp->nlogin--;
	list_del(&cl->node);
	list_append(client_list_for(cl, st), &cl->node);
	if (st == CL_WAIT_SERVER) {
		struct pool *p = cl->pool;

		p->nwaiting++;
		cl->wait_start_us = pgp_loop_us();
		/* every server busy and no room for another: a wait for one
		 * to come free (pool_saturation), not for a login or check */
		cl->wait_saturated =
			p->nidle == 0 &&
			pool_server_count(p) >= pool_effective_size(p);
	}
	cl->state = st;
}

static void client_read_cb(struct bufferevent *bev, void *arg);
static void client_write_cb(struct bufferevent *bev, void *arg);
static void client_event_cb(struct bufferevent *bev, short what, void *arg);

void client_install_callbacks(struct client *cl)
{
	bufferevent_setcb(cl->c.bev, client_read_cb, client_write_cb,
			  client_event_cb, cl);
	bufferevent_enable(cl->c.bev, EV_READ | EV_WRITE);
}

/* A process-unique, unpredictable BackendKeyData for a new client. */
static void client_make_cancel_key(struct client *cl)
{
	uint32_t r[2] = {0, 0};

	if (RAND_bytes((unsigned char *)r, sizeof(r)) != 1) {
		r[0] = (uint32_t)cl->c.id;
		r[1] = (uint32_t)pgp_now_us();
	}
	/* a positive pid keeps tools that print it as signed happy */
	cl->cancel_pid = (r[0] & 0x7fffffffu) | 1u;
	cl->cancel_key = r[1];
	/* one of several processes: the key's top byte says which, so a
	 * CancelRequest landing on another finds its way (client_login.c) */
	if (cl->c.pp->cfg->peer_id)
		cl->cancel_key = (uint32_t)cl->c.pp->cfg->peer_id << 24 |
				 (cl->cancel_key & 0xffffffu);
}

/*
 * Connections that never finish logging in must not lock others out.
 * They do not count against max_client_conn; instead at most
 * max_login_clients of them (and max_login_clients_per_host from one
 * address, when set) wait at once, and a new connection beyond that
 * closes the one that has been waiting longest, preferring one that has
 * not even sent its startup packet - an idle socket rather than a client
 * in the middle of its few milliseconds of authentication.
 */
static struct client *oldest_login(struct pgperf *pp, const char *addr,
				   int *count)
{
	struct client *first = NULL, *first_idle = NULL;
	struct list *pos;

	*count = 0;
	list_for_each(pos, &pp->login_clients) {
		struct client *o = list_entry(pos, struct client, node);

		if (addr && strcmp(o->c.addr, addr) != 0)
			continue;
		if (!first)
			first = o;
		if (!first_idle && o->state == CL_STARTUP)
			first_idle = o;
		(*count)++;
	}
	return first_idle ? first_idle : first;
}

static void make_room_to_log_in(struct pgperf *pp, const char *addr)
{
	const struct config *cfg = pp->cfg;
	struct client *victim;
	int here;

	if (cfg->max_login_clients_per_host > 0) {
		victim = oldest_login(pp, addr, &here);
		if (victim && here >= cfg->max_login_clients_per_host) {
			client_close(victim, CLOSE_EVICTED, "53300",
				     "too many connections logging in from %s",
				     addr);
			return;
		}
	}
	if (pp->nlogin >= cfg->max_login_clients &&
	    (victim = oldest_login(pp, NULL, &here)))
		client_close(victim, CLOSE_EVICTED, "53300",
			     "too many connections logging in");
}

void client_accept(struct pgperf *pp, int fd, const struct sockaddr *sa,
		   bool unix_socket)
{
	struct client *cl;
	struct bufferevent *bev;
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);

	/* far beyond every limit: refuse without spending memory */
	if (pp->nclients >=
	    pp->cfg->max_client_conn + pp->cfg->max_login_clients + 16) {
		close(fd);
		return;
	}
	if (!unix_socket)
		conn_tcp_options(fd, pp->cfg);
	cl = pgp_calloc(1, sizeof(*cl));
	bev = cl ? bufferevent_socket_new(pp->base, fd, BEV_OPT_CLOSE_ON_FREE)
		 : NULL;
	if (!bev) {
		pgp_free(cl);
		close(fd);
		log_error("out of memory accepting a client");
		return;
	}
	conn_init(&cl->c, pp, bev);
	cl->unix_socket = unix_socket;
	conn_describe_addr(sa, cl->c.addr, sizeof(cl->c.addr), &cl->c.port);
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
		conn_describe_addr((struct sockaddr *)&local, cl->c.local_addr,
				   sizeof(cl->c.local_addr), &cl->c.local_port);
	client_update_label(cl);
	client_make_cancel_key(cl);
	list_init(&cl->node);
	list_init(&cl->hold_node);
	fence_waiter_init(&cl->fence);
	make_room_to_log_in(pp, cl->c.addr);
	list_append(&pp->all_clients, &cl->all_node);
	list_append(&pp->login_clients, &cl->node);
	cl->state = CL_STARTUP;
	cl->login_start_us = pgp_now_us();
	pp->nclients++;
	pp->nlogin++;
	client_install_callbacks(cl);
	clog_debug(cl, "accepted");
}

void client_close(struct client *cl, enum close_reason why,
		  const char *sqlstate, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	struct server *sv = cl->server;

	if (cl->state == CL_CLOSING)
		return;
	if ((unsigned)why < CLOSE_REASON_COUNT)
		cl->c.pp->client_closes[why]++;
	if (cl->auth_step == AUTH_STEP_LOOKUP)
		authq_cancel(cl->c.pp, cl);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sqlstate) {
		clog_info(cl, "closing: %s (%s)", msg, sqlstate);
		conn_send_error(&cl->c, "FATAL", sqlstate, msg);
	} else {
		clog_debug(cl, "closing: %s", msg);
	}
	if (sv) {
		cl->server = NULL;
		sv->client = NULL;
		server_release(sv);
	}
	client_set_state(cl, CL_CLOSING);
	cl->c.closing = true;
	cl->c.close_deadline_us = pgp_now_us() + CLIENT_FLUSH_TIMEOUT_US;
	conn_read_disable(&cl->c);
	daemon_schedule_reap(cl->c.pp);
}

void client_free(struct client *cl)
{
	list_del(&cl->node);
	list_del(&cl->all_node);
	fence_cancel(&cl->fence);
	admin_hold_forget(cl);
	conn_free_io(&cl->c);
	observe_client_gone(cl);
	cache_client_gone(cl);
	observe_client_free(&cl->obs);
	kv_free(&cl->params);
	kv_free(&cl->sets);
	scram_server_free(&cl->scram);
	auth_user_free(cl->looked_up);
	pgp_free(cl->user);
	pgp_free(cl->database);
	prep_client_clear(&cl->c.pp->prep, &cl->prep);
	cl->c.pp->nclients--;
	pgp_free(cl);
}

void client_welcome(struct client *cl)
{
	struct server *sv = cl->server;
	struct wbuf b;

	wb_init(&b);
	wire_build_auth(&b, WIRE_AUTH_OK, NULL, 0);
	for (int i = 0; i < sv->params.n; i++)
		wire_build_param_status(&b, sv->params.items[i].name,
					sv->params.items[i].value);
	/* session mode: the server is the client's for good, so it is told
	 * its real backend pid (pg_backend_pid(), notifications and
	 * pg_stat_activity agree); the key stays pgperf's own */
	if (pool_effective_mode(cl->pool) == POOL_SESSION && sv->backend_pid)
		cl->cancel_pid = sv->backend_pid;
	wire_build_backend_key(&b, cl->cancel_pid, cl->cancel_key);
	wire_build_ready(&b, sv->tx_status ? sv->tx_status : 'I');
	if (!conn_send(&cl->c, &b)) {
		wb_free(&b);
		client_close(cl, CLOSE_RESOURCES, "53200", "out of memory");
		return;
	}
	wb_free(&b);
	/* the reported values it was told are the ones it expects from now */
	for (int i = 0; i < sv->params.n; i++) {
		const struct kv *p = &sv->params.items[i];

		if (session_param_is_reported(p->name, strlen(p->name)) &&
		    !kv_set(&cl->params, p->name, p->value)) {
			client_close(cl, CLOSE_RESOURCES, "53200",
				     "out of memory");
			return;
		}
	}
	cl->rep_digest = session_params_digest(&cl->params, &cl->unreported);
	cl->welcomed = true;
	cl->c.suspendable = true;
	observe_client(cl);
	/* logged in, TLS settled: the relay reads without libevent's ioctl */
	conn_own_reads(&cl->c, client_read_cb, client_event_cb, cl);
	client_resume(cl);
}

void client_resume(struct client *cl)
{
	struct server *sv = cl->server;

	client_set_state(cl, CL_ACTIVE);
	server_set_state(sv, SV_ACTIVE);
	if (cl->c.throttled) {
		cl->c.throttled = false;
		conn_read_enable(&cl->c);
	}
	clog_debug(cl, "linked to S-%llu", (unsigned long long)sv->c.id);
	/* what the client sent meanwhile, or pipelined behind its startup */
	client_relay(cl);
	/* after login nothing may be in flight: free the server at once */
	if (cl->server && cl->state == CL_ACTIVE)
		server_maybe_release(cl->server);
}

/* Is the client between transactions with nothing in flight? */
bool client_between_transactions(const struct client *cl)
{
	const struct server *sv = cl->server;

	if (!sv)
		return true;
	return sv->tx_status == 'I' && server_quiet(sv) &&
	       cl->c.fwd_remaining == 0 &&
	       evbuffer_get_length(bufferevent_get_input(cl->c.bev)) == 0;
}

void client_drain(struct client *cl)
{
	switch (cl->state) {
	case CL_ACTIVE:
		if (!client_between_transactions(cl)) {
			cl->drain_pending = true;
			return;
		}
		/* fall through */
	case CL_STARTUP:
	case CL_AUTH:
	case CL_WAIT_SERVER:
	case CL_SETUP:
	case CL_ADMIN:
	case CL_IDLE:
		client_close(
			cl, CLOSE_ADMIN, "57P01",
			"terminating connection due to administrator command");
		return;
	case CL_CLOSING:
		return;
	}
}

/* Statements longer than this are not read; they count as session state. */
#define CLASSIFY_MAX (1024 * 1024)

/*
 * A plain `SET name = value` (or RESET) of an unreported setting, with
 * nothing else in flight and outside a transaction block, is not pinned:
 * it is noted as pending, and kept for the client when its ReadyForQuery
 * says it took effect (server.c).  True when noted.
 */
static bool track_simple_set(struct server *sv, const char *sql, size_t len)
{
	char name[128], value[1024];
	bool reset;

	if (sv->tx_status != 'I' || sv->rfq_pending || sv->unsynced ||
	    sv->pend_name ||
	    !session_simple_set(sql, len, name, sizeof(name), value,
				sizeof(value), &reset))
		return false;
	sv->pend_name = pgp_strdup(name);
	sv->pend_value = pgp_strdup(value);
	if (!sv->pend_name || !sv->pend_value) {
		server_forget_pending_set(sv);
		return false;
	}
	sv->pend_reset = reset;
	sv->pend_failed = false;
	return true;
}

/*
 * Transaction mode: note the session state a Query, Parse or FunctionCall
 * leaves on the server.  `body` is the whole message body, or NULL when
 * it was not read (too long, or a FunctionCall).
 */
static void classify_message(struct server *sv, uint8_t type, const char *body,
			     size_t n, bool inert)
{
	size_t off = 0;

	if (!body) {
		sv->session_state |= SESS_SET; /* cannot tell: assume state */
		return;
	}
	if (type == 'P' && n > 0 && body[0] != '\0') {
		/* a named statement: renamed per server connection (its
		 * effect counts when it is bound), or else pinned */
		if (!sv->track)
			sv->session_state |= SESS_PREPARE;
		return;
	}
	if (inert)
		return; /* its shape's words name nothing with an effect */
	if (type == 'P')
		off = pgp_strnlen(body, n) + 1;
	if (off < n &&
	    track_simple_set(sv, body + off, pgp_strnlen(body + off, n - off)))
		off = n; /* restored per client: no state left behind */
	if (off < n) {
		uint32_t st =
			session_state_apply(sv->session_state, body + off,
					    pgp_strnlen(body + off, n - off));

		if ((st & SESS_EV_RESET_ALL) && sv->client) {
			/* its settings are back to the defaults */
			kv_free(&sv->client->sets);
			kv_free(&sv->applied);
		}

		if (st & SESS_EV_NOTIFY)
			notify_sent(sv);
		if (st & SESS_EV_DEALLOCATE) {
			/* pgperf's statements there, and the client's own */
			prep_server_lost_all(sv);
			if (sv->client)
				prep_client_clear(&sv->c.pp->prep,
						  &sv->client->prep);
		}
		sv->session_state = st & SESS_ALL;
	}
}

/* Messages that make the server work: a request begins with one. */
static bool starts_request(uint8_t t)
{
	return t == 'Q' || t == 'F' || t == 'P' || t == 'B' || t == 'E' ||
	       t == 'D' || t == 'C' || t == 'S';
}

/* Messages statistics look at. */
static bool observed_type(uint8_t t)
{
	return t == 'Q' || t == 'P' || t == 'B' || t == 'E' || t == 'C' ||
	       t == 'S';
}

/* Bytes of a Bind or Close read for statistics: names, and the Bind's
 * parameter values as far as they fit (N+1 detection). */
#define OBSERVE_PEEK 2048

/* The result cache learns from the tap which statements run (and so
 * which tables the transaction writes) and the texts of Parses. */
static void tap_to_cache(struct client *cl, const struct observe_seen *seen)
{
	if (!cl->c.pp->cache)
		return;
	if (seen->learned)
		cache_learn_text(cl->c.pp, seen->learned, seen->text,
				 seen->len);
	if (seen->runs)
		cache_note_statement(cl, seen->runs, seen->text, seen->len);
}

/*
 * What transaction mode and statistics read of one message: the body of a
 * Query, Parse or FunctionCall (whole, `len - 4` bytes, when not beyond
 * CLASSIFY_MAX), the start of a Bind or Close.  The header is at `off` in
 * the view; the body is read in place when it lies in the first chain.
 */
static void read_message(struct client *cl, struct server *sv, bool txn,
			 bool obs, uint8_t type, const struct conn_span *sp,
			 size_t off, uint32_t len)
{
	char small[4096], *copy = NULL;
	const char *body;
	size_t n = len - 4;
	bool inert = false;
	struct observe_seen seen;

	off += 5;
	if (type == 'B' || type == 'C') {
		if (n > OBSERVE_PEEK)
			n = OBSERVE_PEEK;
		body = (const char *)conn_span_at(sp, off, n, small);
		observe_request(cl, type, body, n, &seen);
		return;
	}
	if (type == 'E' || type == 'S') {
		observe_request(cl, type, NULL, 0, &seen);
		tap_to_cache(cl, &seen);
		return;
	}
	if (type == 'F' || n > CLASSIFY_MAX) {
		if (txn)
			classify_message(sv, type, NULL, 0, false);
		return;
	}
	if (off + n <= sp->len) {
		body = (const char *)sp->p + off; /* in place: no copy */
	} else if (n <= sizeof(small)) {
		conn_span_copy(sp, off, n, small);
		body = small;
	} else if ((copy = pgp_malloc(n))) {
		conn_span_copy(sp, off, n, copy);
		body = copy;
	} else {
		if (txn)
			classify_message(sv, type, NULL, 0, false);
		return;
	}
	/* statistics first: they know whether the shape is inert */
	if (obs) {
		inert = observe_request(cl, type, body, n, &seen);
		tap_to_cache(cl, &seen);
	}
	if (txn)
		classify_message(sv, type, body, n, inert);
	pgp_free(copy);
}

/*
 * The statistics tap and transaction mode's session state on one request:
 * RELAY_WAIT until the part they read is there (a Query, Parse or
 * FunctionCall whole up to CLASSIFY_MAX, the start of a Bind or Close),
 * else RELAY_FORWARD once they have seen it.
 */
static enum relay_verdict tap_verdict(struct client *cl, struct server *sv,
				      bool txn, bool obs,
				      const struct relay_msg *m,
				      const struct conn_span *sp)
{
	uint8_t t = m->type;
	struct observe_seen seen;

	if (cl->skip_until_sync && t != 'S')
		return RELAY_FORWARD; /* an error skips to Sync: not run */
	if ((txn && (t == 'Q' || t == 'P' || t == 'F')) ||
	    (obs && observed_type(t))) {
		size_t want = t == 'B' || t == 'C' ? (m->len - 4 < OBSERVE_PEEK
							      ? m->len - 4
							      : OBSERVE_PEEK)
						   : m->len - 4;

		if (want <= CLASSIFY_MAX && m->have < want + 5)
			return RELAY_WAIT;
		read_message(cl, sv, txn, obs, t, sp, m->off, m->len);
	}
	if (!obs && (t == 'Q' || t == 'E' || t == 'S'))
		/* analysis off: timed only for SHOW STATS */
		observe_request(cl, t, NULL, 0, &seen);
	return RELAY_FORWARD;
}

/*
 * A request relayed: what the server owes for it.  True for Terminate,
 * which ends the relay (the server stays for the next client).
 */
static bool note_request(struct client *cl, struct server *sv, uint8_t t)
{
	switch (t) {
	case 'X': /* Terminate */
		return true;
	case 'Q': /* Query: one ReadyForQuery ends it */
	case 'F': /* FunctionCall: likewise */
		sv->rfq_pending++;
		cl->request_us = pgp_loop_wall_us();
		break;
	case 'S': /* Sync: ends an extended-protocol batch */
		sv->rfq_pending++;
		sv->unsynced = false;
		cl->request_us = pgp_loop_wall_us();
		break;
	case 'P': /* Parse */
	case 'B': /* Bind */
	case 'E': /* Execute */
	case 'D': /* Describe */
	case 'C': /* Close */
		sv->unsynced = true;
		break;
	default: /* Flush, COPY data, password: pass through */
		break;
	}
	return false;
}

/*
 * Relay the client's input to its server: one loop over its messages
 * (relay.h).  Headers are read in place (evbuffer_copyout_from); every
 * complete message that goes on unchanged, plus the part of one still
 * arriving, moves to the server in a single conn_move().  With
 * prepared-statement tracking (transaction mode), the few messages that
 * must be renamed, dropped or answered by pgperf end the batch and are
 * handled by prepared_relay.c.
 */
void client_relay(struct client *cl)
{
	struct server *sv = cl->server;
	struct evbuffer *in;
	struct conn_span sp; /* the input, read in place */
	uint32_t max = (uint32_t)cl->c.pp->cfg->max_packet_size + 1;
	size_t avail, batch = 0;
	bool terminate = false, txn, obs;
	const char *bad = NULL, *bad_state = "08P01";
	uint32_t bad_arg = 0;
	struct prep_peek pk; /* what tracking copied of the current message */

	if (cl->state != CL_ACTIVE || !sv || cl->c.throttled || cl->c.closing)
		return;
	txn = pool_effective_mode(cl->pool) == POOL_TRANSACTION;
	obs = observe_shapes(cl->c.pp);
	in = bufferevent_get_input(cl->c.bev);
	avail = evbuffer_get_length(in);
	if (cl->drop_remaining) {
		size_t d =
			avail < cl->drop_remaining ? avail : cl->drop_remaining;

		evbuffer_drain(in, d);
		cl->drop_remaining -= (uint32_t)d;
		avail -= d;
	}
	batch = conn_take_streaming(&cl->c, avail);
	conn_span_take(&sp, in);
	while (cl->c.fwd_remaining == 0 && cl->drop_remaining == 0 &&
	       avail - batch >= 5) {
		uint8_t hbuf[5];
		const uint8_t *hdr = conn_span_at(&sp, batch, 5, hbuf);
		struct relay_msg m;
		enum relay_verdict v;
		enum pgp_status st;

		m.type = hdr[0];
		m.len = wire_get_u32(hdr + 1);
		m.off = batch;
		m.have = avail - batch;
		st = wire_check_header(WIRE_FROM_CLIENT, m.type, m.len, max);
		if (st == PGP_ERR_TOO_BIG) {
			bad = "message of %u bytes exceeds max_packet_size";
			bad_arg = m.len;
			break;
		}
		if (st != PGP_OK) {
			bad = m.len < 4 ? "invalid message length %u"
					: "invalid frontend message type %u";
			bad_arg = m.len < 4 ? m.len : m.type;
			break;
		}
		if (sv->rfq_pending == 0 && !sv->unsynced &&
		    starts_request(m.type))
			server_note_request(sv);
		v = tap_verdict(cl, sv, txn, obs, &m, &sp);
		if (v == RELAY_FORWARD && sv->track && m.type != 'X')
			v = prep_request_peek(cl, sv, m.type, m.len, &sp, batch,
					      m.have, &pk);
		if (v == RELAY_WAIT)
			break;
		if (v == RELAY_NOMEM) {
			bad = "out of memory";
			bad_state = "53200";
			break;
		}
		if (v == RELAY_REPLACE) {
			/* what went before leaves first */
			if (batch) {
				conn_move(&cl->c, &sv->c, batch);
				cl->pool->st.recv += batch;
			}
			batch = 0;
			if (!prep_request_handle(cl, sv, m.type, m.len, &pk)) {
				bad = "out of memory";
				bad_state = "53200";
				break;
			}
			/* the rest of a renamed Bind streams on */
			avail = evbuffer_get_length(in);
			batch = conn_take_streaming(&cl->c, avail);
			conn_span_take(&sp, in);
			continue;
		}
		if ((terminate = note_request(cl, sv, m.type)))
			break;
		if (relay_msg_whole(&m)) {
			batch += (size_t)m.len + 1;
		} else {
			/* the rest of this message streams through as it arrives */
			cl->c.fwd_remaining = (uint32_t)(m.len + 1 - m.have);
			batch = avail;
		}
	}
	if (batch) {
		conn_move(&cl->c, &sv->c, batch);
		cl->pool->st.recv += batch;
	}
	if (terminate) {
		client_close(cl, CLOSE_TERMINATE, NULL, "client terminated");
		return;
	}
	if (bad) {
		client_close(cl, CLOSE_PROTOCOL, bad_state, bad, bad_arg);
		return;
	}
	if (prep_answer_due(sv)) {
		/* pgperf's own answers that nothing from the server precedes */
		int ready = prep_emit_answers(sv);

		if (ready < 0) {
			client_close(cl, CLOSE_RESOURCES, "53200",
				     "out of memory");
			return;
		}
		if (ready > 0) {
			server_maybe_release(sv);
			if (!cl->server)
				return;
		}
	}
	conn_throttle_if_full(&cl->c, &sv->c);
}

bool client_cancel_waiting(struct client *cl)
{
	struct evbuffer *in;
	struct conn_span sp;
	size_t len, off = 0;
	int ends = 0;
	struct wbuf b;
	bool ok;

	if (cl->state != CL_WAIT_SERVER || !cl->welcomed || !cl->pool ||
	    pool_effective_mode(cl->pool) != POOL_TRANSACTION)
		return false;
	in = bufferevent_get_input(cl->c.bev);
	len = evbuffer_get_length(in);
	conn_span_take(&sp, in);
	/* whole messages only, and one Query or Sync, the last of them: the
	 * client then waits for exactly one ReadyForQuery */
	while (off + 5 <= len) {
		uint8_t hbuf[5];
		const uint8_t *h = conn_span_at(&sp, off, 5, hbuf);
		uint32_t mlen = wire_get_u32(h + 1);

		if (mlen < 4 || off + 1 + mlen > len)
			return false;
		ends += h[0] == 'Q' || h[0] == 'S';
		off += 1 + (size_t)mlen;
		if ((h[0] == 'Q' || h[0] == 'S') && off != len)
			return false;
	}
	if (off != len || ends != 1)
		return false;
	evbuffer_drain(in, len);
	client_set_state(cl, CL_IDLE); /* out of the pool's queue */
	wb_init(&b);
	wire_build_error(&b, "ERROR", "57014",
			 "canceling statement due to user request");
	wire_build_ready(&b, 'I');
	ok = conn_send(&cl->c, &b);
	wb_free(&b);
	if (!ok)
		client_close(cl, CLOSE_RESOURCES, "53200", "out of memory");
	else if (cl->c.throttled) {
		cl->c.throttled = false;
		conn_read_enable(&cl->c);
	}
	return true;
}

/*
 * Transaction mode: the next transaction begins.  The result cache may
 * answer it (`ask_cache`), or pgperf itself (a PQprepare()); else it gets
 * a server.
 */
static void idle_input(struct client *cl, bool ask_cache)
{
	int r;

	if (ask_cache && cache_idle_verdict(cl) == RELAY_HOLD) {
		conn_read_disable(&cl->c); /* until client_cache_done() */
		return;
	}
	r = prep_idle_answer(cl);
	if (r < 0)
		client_close(cl, CLOSE_RESOURCES, "53200", "out of memory");
	else if (r == 0)
		pool_request_server(cl->pool, cl);
}

void client_cache_done(struct client *cl, const struct wbuf *answer,
		       size_t drain)
{
	conn_read_enable(&cl->c);
	if (!answer) {
		if (cl->state == CL_IDLE)
			idle_input(cl, false); /* to PostgreSQL */
		return;
	}
	/* the request is answered: take it off the input */
	evbuffer_drain(bufferevent_get_input(cl->c.bev), drain);
	if (!conn_send(&cl->c, answer)) {
		client_close(cl, CLOSE_RESOURCES, "53200", "out of memory");
		return;
	}
	if (evbuffer_get_length(bufferevent_get_input(cl->c.bev)))
		client_input(cl);
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;

	pgp_clock_tick();
	switch (cl->state) {
	case CL_STARTUP:
	case CL_AUTH:
		client_login_input(cl);
		break;
	case CL_ACTIVE:
		client_relay(cl);
		break;
	case CL_ADMIN:
		admin_input(cl);
		break;
	case CL_IDLE:
		idle_input(cl, true);
		break;
	case CL_WAIT_SERVER:
	case CL_SETUP:
		/* kept until linked: between transactions it is back-pressure,
		 * before the first ReadyForQuery a flood is a violation */
		if (evbuffer_get_length(bufferevent_get_input(bev)) <
		    CONN_HIGH_WATER)
			break;
		if (cl->welcomed) {
			cl->c.throttled = true;
			conn_read_disable(&cl->c);
		} else {
			client_close(cl, CLOSE_PROTOCOL, "08P01",
				     "too much data before login completed");
		}
		break;
	case CL_CLOSING:
		evbuffer_drain(bufferevent_get_input(bev),
			       evbuffer_get_length(bufferevent_get_input(bev)));
		break;
	}
}

void client_input(struct client *cl)
{
	client_read_cb(cl->c.bev, cl);
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;

	pgp_clock_tick();
	(void)bev;
	if (cl->c.closing) {
		daemon_schedule_reap(cl->c.pp);
		return;
	}
	if (cl->server && conn_unthrottle_if_drained(&cl->server->c, &cl->c))
		server_relay(cl->server);
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *cl = arg;

	pgp_clock_tick();
	(void)bev;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	/* nothing more can be written: free without waiting */
	cl->c.dead = true;
	if (cl->c.closing) {
		daemon_schedule_reap(cl->c.pp);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		client_close(cl, CLOSE_DISCONNECT, NULL,
			     "client connection error");
	else
		client_close(cl, CLOSE_DISCONNECT, NULL, "client disconnected");
}
