/*
 * server_login.c -- the way into PostgreSQL: connecting (TCP or a unix
 * socket), the SSLRequest answer and TLS, the startup packet, and answering
 * the server's authentication requests with md5, SCRAM-SHA-256 or a
 * cleartext password.  A failed login reaches waiting clients through
 * pool_login_failed() with PostgreSQL's own SQLSTATE where there is one.
 */
#include "proxy/server.h"

#include "proto/auth.h"
#include "proxy/conn.h"
#include "lib/log.h"
#include "proxy/pool.h"
#include "proxy/tls.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void server_update_label(struct server *sv)
{
	const struct pool_target *t = &sv->pool->target;

	snprintf(sv->c.label, sizeof(sv->c.label), "S-%llu %s/%s@%s:%d%s",
		 (unsigned long long)sv->c.id, t->dbname, t->user, t->host,
		 t->port, sv->c.tls ? " (tls)" : "");
}

struct server *server_connect(struct pool *pool)
{
	struct pgperf *pp = pool->pp;
	const struct pool_target *t = &pool->target;
	struct server *sv = pgp_calloc(1, sizeof(*sv));
	struct bufferevent *bev;
	char sqlstate[6], msg[300];

	if (!sv)
		return NULL;
	bev = bufferevent_socket_new(pp->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		pgp_free(sv);
		return NULL;
	}
	conn_init(&sv->c, pp, bev);
	sv->pool = pool;
	sv->created_us = pgp_now_us();
	sv->tx_status = 'I';
	list_init(&sv->node);
	sv->state = SV_CONNECTING;
	list_append(&pool->login_servers, &sv->node);
	pool->nlogin++;
	sv->state_since_us = sv->created_us;
	server_update_label(sv);
	snprintf(sv->c.addr, sizeof(sv->c.addr), "%s", t->host);
	sv->c.port = t->port;
	server_install_callbacks(sv);
	sv->c.suspendable = true;

	if (conn_connect(bev, t->host, t->port, sqlstate, msg, sizeof(msg)) !=
	    PGP_OK) {
		pool_login_failed(pool, sqlstate, msg);
		server_close(sv, CLOSE_LOGIN_FAILED, "%s", msg);
		return NULL;
	}
	clog_debug(sv, "connecting");
	return sv;
}

void server_login_start(struct server *sv)
{
	const struct pool_target *t = &sv->pool->target;
	struct startup_param params[2] = {{"user", t->user},
					  {"database", t->dbname}};
	struct wbuf b;

	wb_init(&b);
	wire_build_startup(&b, params, 2);
	if (!conn_send(&sv->c, &b)) {
		wb_free(&b);
		server_close(sv, CLOSE_LOGIN_FAILED,
			     "cannot send startup packet");
		return;
	}
	wb_free(&b);
	server_set_state(sv, SV_LOGIN);
}

void server_login_failed(struct server *sv, const char *sqlstate,
			 const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clog_warning(sv, "login failed: %s", msg);
	pool_login_failed(sv->pool, sqlstate, msg);
	sv->got_fatal = true; /* no Terminate after a failed login */
	server_close(sv, CLOSE_LOGIN_FAILED, "login failed");
}

static void send_password(struct server *sv, const void *p, size_t len)
{
	struct wbuf b;

	wb_init(&b);
	wire_build_password(&b, p, len);
	if (!conn_send(&sv->c, &b))
		server_login_failed(sv, "53200", "out of memory");
	wb_free(&b);
}

/* Answer an Authentication* request from the server. */
void server_login_auth(struct server *sv, const uint8_t *body, size_t len)
{
	const struct pool_target *t = &sv->pool->target;
	const char *pw = t->password;
	bool pw_is_md5 = pw && auth_secret_classify(pw) == SECRET_MD5;
	struct wcursor c;
	uint32_t code;

	wc_init(&c, body, len);
	if (!wc_u32(&c, &code)) {
		server_login_failed(sv, "08P01",
				    "malformed authentication request");
		return;
	}
	switch (code) {
	case WIRE_AUTH_OK:
		/* a server that ends SCRAM before its final message has not
		 * shown that it knows the password: whoever answers may be
		 * someone in between who does not */
		if (sv->scram.step == 1 || sv->scram.step == 2) {
			server_login_failed(
				sv, "28000",
				"server ended SCRAM authentication without proving it knows the password: not the expected server");
			return;
		}
		scram_client_free(&sv->scram);
		return;
	case WIRE_AUTH_CLEARTEXT:
		/* on plain TCP anyone in between can ask for it (after
		 * answering 'N' to our SSLRequest) and read it */
		if (!sv->c.tls && !(t->host && t->host[0] == '/') &&
		    !sv->c.pp->cfg->server_allow_cleartext) {
			server_login_failed(
				sv, "28000",
				"server asked for a cleartext password over a connection without TLS; pgperf does not send it (set server_tls_sslmode = require, or server_allow_cleartext = on)");
			return;
		}
		if (!pw || pw_is_md5) {
			server_login_failed(
				sv, "28P01",
				"server asked for a cleartext password and pgperf has none for user \"%s\"",
				t->user);
			return;
		}
		send_password(sv, pw, strlen(pw) + 1);
		return;
	case WIRE_AUTH_MD5: {
		const uint8_t *salt;
		char hash[36], resp[36];

		if (!wc_bytes(&c, 4, &salt)) {
			server_login_failed(sv, "08P01",
					    "malformed md5 request");
			return;
		}
		if (!pw) {
			server_login_failed(
				sv, "28P01",
				"server asked for a password and pgperf has none for user \"%s\"",
				t->user);
			return;
		}
		if (pw_is_md5)
			memcpy(hash, pw, 36);
		else
			md5_password_hash(t->user, pw, hash);
		md5_salted_response(hash, salt, resp);
		send_password(sv, resp, 36);
		memset(hash, 0, sizeof(hash));
		return;
	}
	case WIRE_AUTH_SASL: {
		bool found = false;
		char *first = NULL;
		struct wbuf b;

		/* a list of mechanism names ending with an empty one */
		for (;;) {
			const char *mech;
			size_t mlen;

			if (!wc_cstr(&c, &mech, &mlen)) {
				server_login_failed(sv, "08P01",
						    "malformed SASL request");
				return;
			}
			if (mlen == 0)
				break;
			if (strcmp(mech, SCRAM_MECHANISM) == 0)
				found = true;
		}
		if (!found) {
			server_login_failed(
				sv, "28000",
				"server offers no SASL mechanism pgperf supports");
			return;
		}
		if ((!pw || pw_is_md5) && !t->keys.set) {
			server_login_failed(
				sv, "28P01",
				"server asked for SCRAM and pgperf has no plain password for user \"%s\"",
				t->user);
			return;
		}
		scram_client_free(&sv->scram);
		if ((!pw || pw_is_md5))
			/* an auth_query user: the keys its client proved */
			scram_client_init_keys(&sv->scram, &t->keys);
		if ((pw && !pw_is_md5 && !scram_client_init(&sv->scram, pw)) ||
		    scram_client_first(&sv->scram, "", NULL, &first) !=
			    PGP_OK) {
			server_login_failed(sv, "53200", "out of memory");
			return;
		}
		wb_init(&b);
		{
			size_t start = wb_begin(&b, 'p');

			wb_cstr(&b, SCRAM_MECHANISM);
			wb_u32(&b, (uint32_t)strlen(first));
			wb_bytes(&b, first, strlen(first));
			wb_end(&b, start);
		}
		pgp_free(first);
		if (!conn_send(&sv->c, &b))
			server_login_failed(sv, "53200", "out of memory");
		wb_free(&b);
		return;
	}
	case WIRE_AUTH_SASL_CONTINUE: {
		char *final = NULL;

		enum pgp_status st = scram_client_final(
			&sv->scram, (const char *)body + 4, len - 4, &final);

		if (st == PGP_ERR_AUTH) {
			server_login_failed(
				sv, "28P01",
				"the server's SCRAM secret for user \"%s\" is not the one its clients proved to pgperf (changed since?)",
				t->user);
			return;
		}
		if (st == PGP_ERR_UNSUPPORTED) {
			server_login_failed(
				sv, "28000",
				"the server asks for more than 100000 SCRAM iterations; pgperf computes at most that many");
			return;
		}
		if (st != PGP_OK) {
			server_login_failed(
				sv, "08P01",
				"malformed SCRAM message from server");
			return;
		}
		send_password(sv, final, strlen(final));
		pgp_free(final);
		return;
	}
	case WIRE_AUTH_SASL_FINAL:
		if (scram_client_verify(&sv->scram, (const char *)body + 4,
					len - 4) != PGP_OK) {
			server_login_failed(
				sv, "28000",
				"server's SCRAM signature is wrong: not the expected server");
			return;
		}
		return;
	default:
		server_login_failed(
			sv, "28000",
			"server asked for an unsupported authentication method (%u)",
			code);
		return;
	}
}

/* The answer to our SSLRequest: one byte. */
void server_login_tls_answer(struct server *sv)
{
	struct pgperf *pp = sv->c.pp;
	struct evbuffer *in = bufferevent_get_input(sv->c.bev);
	uint8_t ch;
	int mode = pp->cfg->server_tls_sslmode;

	if (evbuffer_get_length(in) < 1)
		return;
	evbuffer_remove(in, &ch, 1);
	if (ch == 'S') {
		struct bufferevent *tls;

		/* bytes after 'S' would not be protected (CVE-2021-23214) */
		if (evbuffer_get_length(in) > 0) {
			server_login_failed(
				sv, "08P01",
				"server sent unencrypted data after SSL response");
			return;
		}
		tls = tls_wrap(pp->base, sv->c.bev, pp->server_tls, false,
			       mode == TLS_VERIFY_FULL ? sv->pool->target.host
						       : NULL);
		if (!tls) {
			server_login_failed(sv, "08006", "cannot start TLS: %s",
					    tls_last_error());
			return;
		}
		sv->c.bev = tls;
		sv->c.tls = true;
		server_update_label(sv);
		server_install_callbacks(sv);
		server_login_start(sv);
		return;
	}
	if (ch == 'N' && mode < TLS_REQUIRE) {
		server_login_start(sv);
		return;
	}
	server_login_failed(
		sv, "08006",
		ch == 'N'
			? "server does not support TLS and server_tls_sslmode requires it"
			: "unexpected response to SSLRequest");
}
