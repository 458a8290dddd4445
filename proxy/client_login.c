/*
 * client_login.c -- a client's way in: the startup packet, SSLRequest and
 * GSSENCRequest, CancelRequest, and password authentication (trust, md5,
 * SCRAM-SHA-256) against the auth file.  A failed login says only
 * "password authentication failed" (28P01): nothing about which part was
 * wrong, and nothing secret reaches the log.
 */
#include "console/admin.h"
#include "proxy/auth_query.h"
#include "proxy/client.h"
#include "proxy/conn.h"
#include "lib/log.h"
#include "proxy/pool.h"
#include "proxy/server.h"
#include "proxy/tls.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/util.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* Password and SASL messages are small; anything larger is hostile. */
#define AUTH_MSG_MAX 10000u

static void client_auth_done(struct client *cl);

/* Console logins of admin and stats users allowed beyond max_client_conn. */
#define ADMIN_RESERVED_SLOTS 5

/* ---- cancel ---- */

/* A one-shot connection carrying a CancelRequest to PostgreSQL. */
struct cancel_req {
	struct bufferevent *bev; /* owned */
	uint8_t packet[16];
};

static void cancel_free(struct cancel_req *cr)
{
	bufferevent_free(cr->bev);
	pgp_free(cr);
}

static void cancel_write_cb(struct bufferevent *bev, void *arg)
{
	/* the packet is out; PostgreSQL closes the connection itself */
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		cancel_free(arg);
}

static void cancel_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return; /* the packet queued before connecting goes now */
	cancel_free(arg);
}

/* A CancelRequest for (pid, key) to whoever listens at host:port: a
 * PostgreSQL server, or another pgperf process (a peer). */
static void send_cancel(struct pgperf *pp, const char *host, int port,
			uint32_t pid, uint32_t key)
{
	struct cancel_req *cr;
	struct wbuf b;
	char sqlstate[6], err[300];

	cr = pgp_calloc(1, sizeof(*cr));
	if (!cr)
		return;
	wb_init(&b);
	wb_u32(&b, 16);
	wb_u32(&b, WIRE_CANCEL_CODE);
	wb_u32(&b, pid);
	wb_u32(&b, key);
	if (b.failed || b.len != 16) {
		wb_free(&b);
		pgp_free(cr);
		return;
	}
	memcpy(cr->packet, b.data, 16);
	wb_free(&b);
	cr->bev = bufferevent_socket_new(pp->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!cr->bev) {
		pgp_free(cr);
		return;
	}
	bufferevent_setcb(cr->bev, NULL, cancel_write_cb, cancel_event_cb, cr);
	/*
	 * Queued before connecting: a unix socket connects at once, and
	 * libevent then calls the write callback instead of reporting
	 * BEV_EVENT_CONNECTED; with the packet already queued, the write
	 * callback comes only once it is out.
	 */
	if (bufferevent_write(cr->bev, cr->packet, sizeof(cr->packet)) != 0) {
		cancel_free(cr);
		return;
	}
	if (conn_connect(cr->bev, host, port, sqlstate, err, sizeof(err)) !=
	    PGP_OK) {
		log_debug("cancel request not forwarded: %s", err);
		cancel_free(cr);
	}
}

void server_send_cancel(struct pgperf *pp, struct server *sv)
{
	const struct pool_target *t = &sv->pool->target;

	send_cancel(pp, t->host, t->port, sv->backend_pid, sv->backend_key);
}

/*
 * A CancelRequest.  One of several processes (peer_id) looks at the top
 * byte of the key: another peer's client is that peer's to find, and the
 * request goes there ([peers]); a peer not configured (gone, or a forged
 * key) gets nothing, so a cancel is dropped rather than misapplied.  A
 * client of this process running a query has it canceled on its server;
 * one still waiting for a server has its request taken off the queue.
 */
static void handle_cancel(struct client *cl, uint32_t pid, uint32_t key)
{
	struct pgperf *pp = cl->c.pp;
	int peer = (int)(key >> 24), self = pp->cfg->peer_id;
	struct list *pos;

	if (self && peer != self) {
		const struct peer_def *d = config_peer(pp->cfg, peer);

		if (d) {
			log_debug("cancel request forwarded to peer %d", peer);
			pp->cancels_forwarded++;
			send_cancel(pp, d->host, d->port, pid, key);
		} else {
			log_info("cancel request for peer %d dropped: no such "
				 "peer in [peers]",
				 peer);
			pp->cancels_dropped++;
		}
		client_close(cl, CLOSE_CANCEL, NULL, "cancel request handled");
		return;
	}
	list_for_each(pos, &pp->all_clients) {
		struct client *target =
			list_entry(pos, struct client, all_node);

		if (target == cl || target->cancel_pid != pid)
			continue;
		/* session mode hands out real backend pids, which two
		 * servers may share: the key tells them apart */
		if (!pgp_secure_equal(&target->cancel_key, &key, sizeof(key)))
			continue;
		/* only the server serving that client right now is told */
		if (target->server && target->server->backend_pid &&
		    target->state == CL_ACTIVE) {
			clog_debug(target, "forwarding cancel request");
			server_send_cancel(pp, target->server);
		} else if (client_cancel_waiting(target)) {
			clog_debug(target,
				   "canceled while waiting for a server");
		}
		break;
	}
	client_close(cl, CLOSE_CANCEL, NULL, "cancel request handled");
}

/* ---- startup ---- */

/*
 * Split PostgreSQL's `options` startup parameter into settings.  Accepts
 * "-c name=value", "-cname=value" and "--name=value", words separated by
 * spaces, a backslash escaping the next character.
 */
static bool parse_options(struct client *cl, const char *opts, char *err,
			  size_t errlen)
{
	const char *p = opts;
	char word[1024];
	bool expect_setting = false;

	for (;;) {
		size_t n = 0;
		const char *setting, *eq;
		char name[128];

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		while (*p && *p != ' ' && *p != '\t') {
			if (*p == '\\' && p[1])
				p++;
			if (n + 1 >= sizeof(word)) {
				snprintf(err, errlen,
					 "startup option too long");
				return false;
			}
			word[n++] = *p++;
		}
		word[n] = '\0';
		if (expect_setting) {
			setting = word;
			expect_setting = false;
		} else if (strcmp(word, "-c") == 0) {
			expect_setting = true;
			continue;
		} else if (strncmp(word, "-c", 2) == 0 ||
			   strncmp(word, "--", 2) == 0) {
			setting =
				word + 2; /* "-cname=value" or "--name=value" */
		} else {
			snprintf(
				err, errlen,
				"unsupported startup option \"%.100s\" (only -c name=value and --name=value)",
				word);
			return false;
		}
		eq = strchr(setting, '=');
		if (!eq || eq == setting ||
		    (size_t)(eq - setting) >= sizeof(name)) {
			snprintf(err, errlen,
				 "invalid startup option \"%.100s\"", word);
			return false;
		}
		memcpy(name, setting, (size_t)(eq - setting));
		name[eq - setting] = '\0';
		for (char *q = name; *q; q++)
			if (*q == '-')
				*q = '_';
		if (!kv_set(&cl->params, name, eq + 1)) {
			snprintf(err, errlen, "out of memory");
			return false;
		}
	}
	if (expect_setting) {
		snprintf(err, errlen,
			 "-c without a setting in startup options");
		return false;
	}
	return true;
}

static void send_auth_request(struct client *cl, uint32_t code,
			      const void *extra, size_t len)
{
	struct wbuf b;

	wb_init(&b);
	wire_build_auth(&b, code, extra, len);
	if (!conn_send(&cl->c, &b))
		client_close(cl, CLOSE_DISCONNECT, NULL,
			     "cannot send authentication request");
	wb_free(&b);
}

static void start_md5(struct client *cl)
{
	if (RAND_bytes(cl->md5_salt, sizeof(cl->md5_salt)) != 1) {
		client_close(cl, CLOSE_RESOURCES, "XX000",
			     "cannot generate a salt");
		return;
	}
	cl->auth_step = AUTH_STEP_MD5;
	client_set_state(cl, CL_AUTH);
	send_auth_request(cl, WIRE_AUTH_MD5, cl->md5_salt, 4);
}

/*
 * Prepare the SCRAM verifier: from the auth file, or a decoy that fails.
 * A name that is not in the auth file (or whose secret cannot answer
 * SCRAM) sees what a known name sees - the same method, a salt that is the
 * same at every attempt, the same number of iterations - so that login
 * attempts cannot tell which names exist.
 */
static void start_sasl(struct client *cl, const struct auth_user *u)
{
	struct scram_secret sec;
	uint8_t salt[SCRAM_SALT_LEN];
	static const char mechs[] = SCRAM_MECHANISM "\0";
	/* over TLS, channel binding first, as PostgreSQL offers them */
	static const char mechs_tls[] =
		SCRAM_MECHANISM_PLUS "\0" SCRAM_MECHANISM "\0";
	bool ok = false;

	if (!scram_stable_salt(cl->user, salt)) {
		client_close(cl, CLOSE_RESOURCES, "XX000",
			     "cannot generate a salt");
		return;
	}
	if (u && u->kind == SECRET_SCRAM) {
		ok = scram_parse_secret(u->secret, &sec);
	} else if (u && u->kind == SECRET_PLAIN) {
		/* the I/O thread owns the config snapshot, cache included */
		struct auth_user *mu = (struct auth_user *)u;

		if (!mu->scram_cache) {
			mu->scram_cache = pgp_malloc(sizeof(*mu->scram_cache));
			if (mu->scram_cache &&
			    !scram_secret_from_password(
				    u->secret, salt, sizeof(salt),
				    SCRAM_DEFAULT_ITERATIONS,
				    mu->scram_cache)) {
				pgp_free(mu->scram_cache);
				mu->scram_cache = NULL;
			}
		}
		if (mu->scram_cache) {
			sec = *mu->scram_cache;
			ok = true;
		}
	} else if (u && u->kind == SECRET_MD5) {
		clog_info(cl, "user has an md5 secret in the auth file, which "
			      "cannot answer SCRAM: the login will fail");
	}
	if (!ok) {
		/* run the exchange to the end and fail then */
		memset(&sec, 0, sizeof(sec));
		memcpy(sec.salt, salt, sizeof(salt));
		sec.salt_len = sizeof(salt);
		sec.iterations = SCRAM_DEFAULT_ITERATIONS;
		if (RAND_bytes(sec.stored_key, SCRAM_KEY_LEN) != 1 ||
		    RAND_bytes(sec.server_key, SCRAM_KEY_LEN) != 1) {
			client_close(cl, CLOSE_RESOURCES, "XX000",
				     "cannot generate a key");
			return;
		}
		cl->auth_user_known = false;
	}
	scram_server_init(&cl->scram, &sec);
	memset(&sec, 0, sizeof(sec));
	cl->auth_step = AUTH_STEP_SASL_FIRST;
	client_set_state(cl, CL_AUTH);
	if (cl->c.tls)
		send_auth_request(cl, WIRE_AUTH_SASL, mechs_tls,
				  sizeof(mechs_tls));
	else
		send_auth_request(cl, WIRE_AUTH_SASL, mechs, sizeof(mechs));
}

/*
 * The method depends on auth_type and, as in PostgreSQL, on one case of
 * the secret: md5 with a SCRAM secret runs SCRAM (an md5 exchange cannot
 * be checked against it).  scram-sha-256 offers SCRAM to every name, so
 * that the method offered does not tell md5 users from unknown ones; an
 * md5 secret cannot answer it and that login fails (PgBouncer does the
 * same).
 */
static void start_auth_as(struct client *cl, const struct auth_user *u)
{
	const struct config *cfg = cl->c.pp->cfg;

	cl->auth_user_known = u != NULL;
	switch (cfg->auth_type) {
	case AUTH_TRUST:
		client_auth_done(cl);
		return;
	case AUTH_MD5:
		if (u && u->kind == SECRET_SCRAM)
			start_sasl(cl, u);
		else
			start_md5(cl);
		return;
	case AUTH_SCRAM:
	default:
		start_sasl(cl, u);
		return;
	}
}

/* The secret the client's login is checked against: auth_file's, or
 * auth_query's answer. */
static const struct auth_user *client_secret(const struct client *cl)
{
	return cl->looked_up ? cl->looked_up
			     : userlist_find(&cl->c.pp->cfg->users, cl->user);
}

/*
 * A user not in auth_file, with auth_user set: ask PostgreSQL (auth_query)
 * and go on when the answer comes.  The client sees nothing of it: the
 * same method and salt as any other name follow.
 */
static void start_auth(struct client *cl)
{
	struct pgperf *pp = cl->c.pp;
	const struct config *cfg = pp->cfg;
	const struct auth_user *u = userlist_find(&cfg->users, cl->user);

	if (!u && cfg->auth_type != AUTH_TRUST && *cfg->auth_user &&
	    strcmp(cl->database, ADMIN_DBNAME) != 0 && authq_request(pp, cl)) {
		cl->auth_step = AUTH_STEP_LOOKUP;
		client_set_state(cl, CL_AUTH);
		return;
	}
	start_auth_as(cl, u);
}

void client_lookup_done(struct client *cl, const char *secret)
{
	if (secret && *secret) {
		cl->looked_up = auth_user_new(cl->user, secret);
		if (!cl->looked_up) {
			client_close(cl, CLOSE_RESOURCES, "53200",
				     "out of memory");
			return;
		}
	}
	cl->auth_step = AUTH_STEP_NONE;
	start_auth_as(cl, cl->looked_up);
}

static void auth_failed(struct client *cl)
{
	clog_info(cl, "password authentication failed");
	client_close(cl, CLOSE_AUTH_FAILED, "28P01",
		     "password authentication failed for user \"%s\"",
		     cl->user);
}

/*
 * Put TLS on the client's connection (after answering an SSLRequest, or
 * at once for direct TLS); bytes already read are the handshake's.
 */
static void start_tls(struct client *cl)
{
	struct pgperf *pp = cl->c.pp;
	struct bufferevent *plain = cl->c.bev, *tls;

	tls = tls_wrap(pp->base, plain, pp->client_tls, true, NULL);
	if (!tls) {
		client_close(cl, CLOSE_TLS, NULL, "cannot start TLS: %s",
			     tls_last_error());
		return;
	}
	cl->c.bev = tls;
	cl->c.tls = true;
	client_update_label(cl);
	client_install_callbacks(cl);
	/* a direct-TLS ClientHello is read already: hand it to OpenSSL */
	if (evbuffer_get_length(bufferevent_get_input(plain)) > 0)
		bufferevent_trigger(plain, EV_READ, 0);
}

/* Handle a complete startup-phase packet of `len` bytes. */
static void handle_startup(struct client *cl, const uint8_t *buf, size_t len)
{
	struct pgperf *pp = cl->c.pp;
	struct startup_packet sp;
	const char *why = NULL;
	const char *unknown[WIRE_MAX_STARTUP_PARAMS];
	int nunknown = 0;
	char err[256];

	if (wire_parse_startup(buf, len, &sp, &why) != PGP_OK) {
		client_close(cl, CLOSE_BAD_STARTUP, "08P01", "%s", why);
		return;
	}
	if (cl->direct_tls && !tls_alpn_postgresql(cl->c.bev)) {
		/* as PostgreSQL 17: direct TLS needs ALPN, so that a TLS
		 * connection meant for another protocol is not taken */
		client_close(cl, CLOSE_TLS, "08P01",
			     "received direct SSL connection request without "
			     "ALPN protocol negotiation extension");
		return;
	}
	switch (sp.code) {
	case WIRE_SSL_CODE: {
		if (cl->c.tls) {
			client_close(cl, CLOSE_PROTOCOL, "08P01",
				     "SSLRequest inside TLS");
			return;
		}
		if (!pp->client_tls || cl->unix_socket) {
			bufferevent_write(cl->c.bev, "N", 1);
			return;
		}
		/* bytes after the request would bypass TLS (CVE-2021-23222) */
		if (evbuffer_get_length(bufferevent_get_input(cl->c.bev)) > 0) {
			client_close(
				cl, CLOSE_PROTOCOL, "08P01",
				"received unencrypted data after SSL request");
			return;
		}
		bufferevent_write(cl->c.bev, "S", 1);
		start_tls(cl);
		return;
	}
	case WIRE_GSSENC_CODE:
		bufferevent_write(cl->c.bev, "N", 1);
		return;
	case WIRE_CANCEL_CODE:
		handle_cancel(cl, sp.cancel_pid, sp.cancel_key);
		return;
	default:
		break;
	}

	cl->user = pgp_strdup(sp.user);
	cl->database = pgp_strdup(sp.database);
	if (!cl->user || !cl->database) {
		client_close(cl, CLOSE_RESOURCES, "53200", "out of memory");
		return;
	}
	cl->proto_minor = (int)(sp.code & 0xffff);
	client_update_label(cl);
	for (int i = 0; i < sp.nparams; i++) {
		const char *name = sp.params[i].name,
			   *value = sp.params[i].value;

		if (strncmp(name, "_pq_.", 5) == 0) {
			unknown[nunknown++] = name;
		} else if (strcmp(name, "replication") == 0) {
			if (strcmp(value, "false") != 0 &&
			    strcmp(value, "0") != 0 &&
			    strcmp(value, "off") != 0 &&
			    strcmp(value, "no") != 0) {
				client_close(
					cl, CLOSE_REFUSED, "08P01",
					"replication connections are not supported by pgperf");
				return;
			}
		} else if (strcmp(name, "options") == 0) {
			if (!parse_options(cl, value, err, sizeof(err))) {
				client_close(cl, CLOSE_REFUSED, "22023", "%s",
					     err);
				return;
			}
		} else if (!kv_set(&cl->params, name, value)) {
			client_close(cl, CLOSE_RESOURCES, "53200",
				     "out of memory");
			return;
		}
	}

	if (pp->cfg->client_tls_sslmode >= TLS_REQUIRE && !cl->c.tls &&
	    !cl->unix_socket) {
		client_close(cl, CLOSE_REFUSED, "28000",
			     "TLS is required (client_tls_sslmode)");
		return;
	}
	/* logged-in clients count, not sockets still logging in; admin and
	 * stats users of the console keep a few slots beyond the limit, so
	 * that a full pgperf can still be looked at */
	if (pp->nclients - pp->nlogin >= pp->cfg->max_client_conn &&
	    !(strcmp(cl->database, ADMIN_DBNAME) == 0 &&
	      (config_user_listed(pp->cfg->admin_users, cl->user) ||
	       config_user_listed(pp->cfg->stats_users, cl->user)) &&
	      pp->nclients - pp->nlogin <
		      pp->cfg->max_client_conn + ADMIN_RESERVED_SLOTS)) {
		client_close(
			cl, CLOSE_REFUSED, "53300",
			"sorry, too many clients already (max_client_conn %d)",
			pp->cfg->max_client_conn);
		return;
	}
	if (pp->draining) {
		client_close(cl, CLOSE_REFUSED, "57P03",
			     "pgperf is shutting down");
		return;
	}
	if (cl->proto_minor > 0 || nunknown > 0) {
		struct wbuf b;

		/* we speak 3.0 and none of the _pq_ extensions */
		wb_init(&b);
		wire_build_negotiate_version(&b, 0, unknown, nunknown);
		(void)conn_send(&cl->c, &b);
		wb_free(&b);
	}
	cl->admin = strcmp(cl->database, ADMIN_DBNAME) == 0;
	start_auth(cl);
}

/* One step in CL_STARTUP: false when more bytes are needed. */
static bool startup_step(struct client *cl)
{
	struct evbuffer *in = bufferevent_get_input(cl->c.bev);
	uint8_t buf[WIRE_MAX_STARTUP_LEN];
	uint8_t hdr[4];
	uint32_t len;

	if (!cl->c.tls && evbuffer_get_length(in) >= 1) {
		evbuffer_copyout(in, hdr, 1);
		if (hdr[0] == TLS_HANDSHAKE_RECORD) {
			/* TLS from the first byte (PostgreSQL 17's
			 * sslnegotiation=direct): no SSLRequest first */
			if (!cl->c.pp->client_tls || cl->unix_socket) {
				clog_info(cl, "direct TLS connection, but TLS "
					      "is off here");
				cl->c.pp->startup_errors++;
				client_close(cl, CLOSE_BAD_STARTUP, NULL,
					     "direct TLS refused");
				return false;
			}
			cl->direct_tls = true;
			start_tls(cl);
			return false;
		}
	}
	if (evbuffer_get_length(in) < 4)
		return false;
	evbuffer_copyout(in, hdr, 4);
	len = wire_get_u32(hdr);
	if (len < 8 || len > WIRE_MAX_STARTUP_LEN) {
		/* as PostgreSQL: logged, not answered (node-postgres ends a
		 * connection it never started with a Terminate) */
		clog_info(cl, "invalid length of startup packet");
		cl->c.pp->startup_errors++;
		client_close(cl, CLOSE_BAD_STARTUP, NULL,
			     "invalid length of startup packet");
		return false;
	}
	if (evbuffer_get_length(in) < len)
		return false;
	evbuffer_remove(in, buf, len);
	handle_startup(cl, buf, len);
	return cl->state == CL_STARTUP && !cl->c.closing;
}

/* ---- authentication messages ---- */

static void handle_password(struct client *cl, const uint8_t *body, size_t len)
{
	const struct auth_user *u = client_secret(cl);
	struct wcursor c;

	wc_init(&c, body, len);
	switch (cl->auth_step) {
	case AUTH_STEP_MD5: {
		const char *resp;
		size_t rlen;
		char hash[36], expect[36];

		if (!wc_cstr(&c, &resp, &rlen) || wc_remaining(&c) != 0) {
			client_close(cl, CLOSE_PROTOCOL, "08P01",
				     "malformed password message");
			return;
		}
		if (!u || u->kind == SECRET_SCRAM || rlen != 35) {
			auth_failed(cl);
			return;
		}
		if (u->kind == SECRET_PLAIN)
			md5_password_hash(cl->user, u->secret, hash);
		else
			memcpy(hash, u->secret, 36);
		md5_salted_response(hash, cl->md5_salt, expect);
		memset(hash, 0, sizeof(hash));
		if (!pgp_secure_equal(expect, resp, 35)) {
			auth_failed(cl);
			return;
		}
		client_auth_done(cl);
		return;
	}
	case AUTH_STEP_SASL_FIRST: {
		bool plus;
		const char *mech;
		int32_t ilen;
		const uint8_t *data;
		char *reply = NULL;
		enum pgp_status st;

		if (!wc_cstr(&c, &mech, NULL) || !wc_i32(&c, &ilen) ||
		    ilen < 0 || !wc_bytes(&c, (size_t)ilen, &data) ||
		    wc_remaining(&c) != 0) {
			client_close(cl, CLOSE_PROTOCOL, "08P01",
				     "malformed SASLInitialResponse message");
			return;
		}
		plus = strcmp(mech, SCRAM_MECHANISM_PLUS) == 0;
		if ((strcmp(mech, SCRAM_MECHANISM) != 0 && !plus) ||
		    (plus && !cl->c.tls)) {
			client_close(
				cl, CLOSE_PROTOCOL, "08P01",
				"client selected an invalid SASL authentication mechanism");
			return;
		}
		if (cl->c.tls) {
			/* bind SCRAM to this TLS connection (offered) */
			uint8_t cb[SCRAM_CBIND_MAX];
			size_t cblen =
				tls_server_end_point(cl->c.bev, cb, sizeof(cb));

			if (!cblen && plus) {
				client_close(cl, CLOSE_RESOURCES, "XX000",
					     "cannot compute channel-binding "
					     "data for this certificate");
				return;
			}
			scram_server_bind(&cl->scram, cb, cblen, plus);
		}
		st = scram_server_first(&cl->scram, (const char *)data,
					(size_t)ilen, NULL, &reply);
		if (st == PGP_ERR_AUTH) {
			/* "y" over TLS: the offer of -PLUS did not reach the
			 * client, so someone in between took it away */
			clog_info(cl, "SCRAM channel binding was offered but "
				      "the client did not see the offer");
			client_close(cl, CLOSE_AUTH_FAILED, "28000",
				     "SCRAM channel binding negotiation error");
			return;
		}
		if (st != PGP_OK) {
			client_close(cl, CLOSE_PROTOCOL, "08P01",
				     "malformed SCRAM message");
			return;
		}
		cl->auth_step = AUTH_STEP_SASL_FINAL;
		send_auth_request(cl, WIRE_AUTH_SASL_CONTINUE, reply,
				  strlen(reply));
		pgp_free(reply);
		return;
	}
	case AUTH_STEP_SASL_FINAL: {
		char *reply = NULL;
		enum pgp_status st;

		st = scram_server_final(&cl->scram, (const char *)body, len,
					&reply);
		if (st == PGP_ERR_AUTH ||
		    (st == PGP_OK && !cl->auth_user_known)) {
			pgp_free(reply);
			auth_failed(cl);
			return;
		}
		if (st != PGP_OK) {
			client_close(cl, CLOSE_PROTOCOL, "08P01",
				     "malformed SCRAM message");
			return;
		}
		send_auth_request(cl, WIRE_AUTH_SASL_FINAL, reply,
				  strlen(reply));
		pgp_free(reply);
		/* the scram state (what the client proved) goes with
		 * client_auth_done(), or with the client */
		client_auth_done(cl);
		return;
	}
	case AUTH_STEP_NONE:
	case AUTH_STEP_LOOKUP: /* nothing was asked of it yet */
		break;
	}
	client_close(cl, CLOSE_PROTOCOL, "08P01",
		     "unexpected password message");
}

/* One step in CL_AUTH: false when more bytes are needed. */
static bool auth_step(struct client *cl)
{
	struct evbuffer *in = bufferevent_get_input(cl->c.bev);
	uint8_t hdr[5], body[AUTH_MSG_MAX];
	uint32_t len;

	if (evbuffer_get_length(in) < 5)
		return false;
	evbuffer_copyout(in, hdr, 5);
	len = wire_get_u32(hdr + 1);
	if (hdr[0] == 'X') {
		client_close(cl, CLOSE_DISCONNECT, NULL,
			     "client gave up during authentication");
		return false;
	}
	if (hdr[0] != 'p') {
		client_close(cl, CLOSE_PROTOCOL, "08P01",
			     "expected password response, got message type %d",
			     hdr[0]);
		return false;
	}
	if (len < 4 || len > AUTH_MSG_MAX) {
		client_close(cl, CLOSE_PROTOCOL, "08P01",
			     "invalid password message length %u", len);
		return false;
	}
	if (evbuffer_get_length(in) < (size_t)len + 1)
		return false;
	/* consume before handling: a successful login starts relaying */
	evbuffer_drain(in, 5);
	evbuffer_remove(in, body, len - 4);
	handle_password(cl, body, len - 4);
	memset(body, 0, len - 4);
	return cl->state == CL_AUTH && !cl->c.closing;
}

void client_login_input(struct client *cl)
{
	for (;;) {
		if (cl->c.closing)
			return;
		if (cl->state == CL_STARTUP) {
			if (!startup_step(cl))
				return;
		} else if (cl->state == CL_AUTH) {
			if (!auth_step(cl))
				return;
		} else {
			return;
		}
	}
}

/* ---- after authentication ---- */

static void client_auth_done(struct client *cl)
{
	struct pgperf *pp = cl->c.pp;
	struct pool *pool;
	const char *sqlstate;
	char err[256];

	if (cl->admin) {
		bool admin = config_user_listed(pp->cfg->admin_users, cl->user);
		bool stats = config_user_listed(pp->cfg->stats_users, cl->user);

		if (!admin && !stats) {
			client_close(
				cl, CLOSE_AUTH_FAILED, "28000",
				"user \"%s\" is not allowed to use the admin console",
				cl->user);
			return;
		}
		cl->admin_readonly = !admin;
		client_set_state(cl, CL_ADMIN);
		clog_info(cl, "login to the admin console");
		admin_welcome(cl);
		return;
	}
	if (!config_find_db(pp->cfg, cl->database)) {
		client_close(cl, CLOSE_REFUSED, "3D000",
			     "database \"%s\" does not exist", cl->database);
		return;
	}
	pool = pool_get(pp, cl->database, cl->user, err, sizeof(err),
			&sqlstate);
	if (!pool) {
		client_close(cl, CLOSE_REFUSED, sqlstate, "%s", err);
		return;
	}
	/* an auth_query user: its servers log in with what it proved */
	if (cl->looked_up &&
	    (!pool->target.password || pool->target.from_lookup))
		pool_take_lookup(pool, cl->looked_up, &cl->scram.proven);
	scram_server_free(&cl->scram);
	clog_debug(cl, "login ok");
	pool_enqueue(pool, cl);
}
