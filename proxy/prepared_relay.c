/*
 * prepared_relay.c -- transaction-mode prepared statements on the wire.
 *
 * Requests (client -> server), for a server with `track` set:
 *  - Parse of a named statement: the client's name goes into its own map;
 *    the server gets the statement under "pgperf_<id>" unless it already
 *    holds it, in which case pgperf answers ParseComplete itself;
 *  - Bind and Describe of a named statement: renamed, preceded by pgperf's
 *    own Parse when this server connection lacks the statement;
 *  - Close of a named statement: forgotten from the client's map and
 *    answered by pgperf (the server keeps it for others, LRU-bounded);
 *  - SQL `DEALLOCATE name` of a protocol-level name (psycopg 3 sends it):
 *    answered by pgperf;
 *  - a reference to a name the client never prepared, or a second Parse of
 *    a name in use, gets PostgreSQL's error from pgperf, and, as PostgreSQL
 *    does, the client's messages up to Sync are dropped.
 * Every other request passes unchanged; each request that has a reply is
 * queued (sv->pq) so that replies can be matched in order.
 *
 * Replies: pgperf's own ParseComplete/CloseComplete are swallowed, its own
 * answers are sent when their turn comes, and an ErrorResponse undoes what
 * the failed request and those PostgreSQL skips until Sync would have done.
 */
#include "proxy/prepared_relay.h"

#include "proxy/conn.h"
#include "lib/log.h"
#include "proxy/notify.h"
#include "tap/observe.h"
#include "proxy/pool.h"
#include "proto/session_state.h"
#include "lib/sqlscan.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool is_answer(uint8_t kind)
{
	return kind == PQ_FAKE_PARSE || kind == PQ_FAKE_CLOSE ||
	       kind == PQ_FAKE_ERROR || kind == PQ_FAKE_DEALLOCATE;
}

bool prep_answer_due(const struct server *sv)
{
	return sv->pq.n && is_answer(sv->pq.e[sv->pq.head].kind) &&
	       sv->c.fwd_remaining == 0;
}

void prep_server_lost_all(struct server *sv)
{
	prep_server_clear(&sv->c.pp->prep, &sv->prep);
}

/* Queue an answer or request; false on allocation failure. */
static bool queue(struct server *sv, enum pq_kind kind, struct prep_stmt *st,
		  const char *name)
{
	char *copy = NULL;

	if (name && !(copy = pgp_strdup(name)))
		return false;
	if (st)
		prep_ref(st);
	if (!pq_push(&sv->pq, kind, st, copy)) {
		prep_unref(&sv->c.pp->prep, st);
		pgp_free(copy);
		return false;
	}
	return true;
}

/* pgperf answers with an error; PostgreSQL would skip to the next Sync. */
static bool PRINTF_LIKE(4, 5)
	queue_error(struct client *cl, struct server *sv, const char *sqlstate,
		    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!queue(sv, PQ_FAKE_ERROR, NULL, msg))
		return false;
	snprintf(pq_tail(&sv->pq)->sqlstate, 6, "%s", sqlstate);
	cl->skip_until_sync = true;
	return true;
}

/*
 * Make sure `sv` holds `st`: if not, send pgperf's Parse for it (after
 * evicting the least recently used statement when at the bound) and queue
 * `kind` for its reply, with `name` (the client's, for PQ_CLIENT_PARSE).
 */
static bool send_parse(struct server *sv, struct prep_stmt *st,
		       enum pq_kind kind, const char *name)
{
	struct prep_registry *reg = &sv->c.pp->prep;
	struct wbuf b;
	char sname[32];
	size_t start;
	bool ok;

	wb_init(&b);
	while (prep_server_count(&sv->prep) > 0 &&
	       (int)prep_server_count(&sv->prep) >=
		       sv->c.pp->cfg->max_prepared_statements) {
		struct prep_stmt *old = prep_server_lru(&sv->prep);

		prep_server_name(old, sname, sizeof(sname));
		start = wb_begin(&b, 'C');
		wb_u8(&b, 'S');
		wb_cstr(&b, sname);
		wb_end(&b, start);
		if (!queue(sv, PQ_OWN_CLOSE, old, NULL)) {
			wb_free(&b);
			return false;
		}
		prep_server_forget(reg, &sv->prep, old);
	}
	prep_server_name(st, sname, sizeof(sname));
	start = wb_begin(&b, 'P');
	wb_cstr(&b, sname);
	wb_bytes(&b, st->body, st->len);
	wb_end(&b, start);
	ok = prep_server_add(&sv->prep, st) && queue(sv, kind, st, name) &&
	     conn_send(&sv->c, &b);
	wb_free(&b);
	sv->unsynced = true;
	return ok;
}

/* The name of a `DEALLOCATE [PREPARE] name` Query, if that is all it is. */
static bool deallocate_target(const char *sql, size_t len, char *name,
			      size_t cap)
{
	struct sql_scanner s;
	struct sql_token t, id;

	sqlscan_init(&s, sql, len);
	if (!sqlscan_next_code(&s, &t) || !sqlscan_is_word(&t, "deallocate") ||
	    !sqlscan_next_code(&s, &id))
		return false;
	if (sqlscan_is_word(&id, "prepare") && !sqlscan_next_code(&s, &id))
		return false;
	if (sqlscan_is_word(&id, "all"))
		return false;
	if (sqlscan_next_code(&s, &t) &&
	    (!sqlscan_is(&t, ";") || sqlscan_next_code(&s, &t)))
		return false; /* more than one statement */
	/* a word (folded to lower case) or a "quoted name" */
	if (id.kind != SQLTOK_WORD && id.kind != SQLTOK_QIDENT)
		return false;
	return sqlscan_text(&id, name, cap) > 0;
}

/* Copy up to `want` bytes of the body of the message at `off` into pk. */
static void peek_body(struct prep_peek *pk, const struct conn_span *sp,
		      size_t off, size_t avail, size_t need, size_t want)
{
	pk->have = avail - 5 < need ? avail - 5 : need;
	if (pk->have > want)
		pk->have = want;
	if (off + 5 + pk->have <= sp->len)
		memcpy(pk->pre, sp->p + off + 5, pk->have);
	else
		conn_span_copy(sp, off + 5, pk->have, pk->pre);
}

/* Where a Bind's statement name ends in pk, or NULL if not in view. */
static const uint8_t *bind_names_end(const struct prep_peek *pk)
{
	const uint8_t *nul = memchr(pk->pre, '\0', pk->have);

	if (!nul)
		return NULL;
	return memchr(nul + 1, '\0', pk->have - (size_t)(nul + 1 - pk->pre));
}

/* Bytes of a Bind copied at first: enough for the usual short names. */
#define BIND_PEEK_FIRST 64

enum relay_verdict prep_request_peek(struct client *cl, struct server *sv,
				     uint8_t type, uint32_t len,
				     const struct conn_span *sp, size_t off,
				     size_t avail, struct prep_peek *pk)
{
	size_t need = len - 4;
	bool whole = avail >= (size_t)len + 1;
	enum pq_kind kind;

	pk->have = 0;
	if (cl->skip_until_sync && type != 'S' && type != 'X')
		return RELAY_REPLACE; /* dropped */
	switch (type) {
	case 'P':
		/* only the first byte says whether it is named; a named one
		 * is kept whole, so one too large for that is refused as soon
		 * as its header is seen, not buffered first */
		peek_body(pk, sp, off, avail, need, 1);
		if (pk->have == 1 && pk->pre[0] != '\0')
			return whole || need > (size_t)cl->c.pp->cfg
							       ->max_prepared_statement_size
				       ? RELAY_REPLACE
				       : RELAY_WAIT;
		if (pk->have == 0 && need)
			return RELAY_WAIT;
		kind = PQ_PARSE;
		break;
	case 'B': {
		const uint8_t *end;

		peek_body(pk, sp, off, avail, need, BIND_PEEK_FIRST);
		end = bind_names_end(pk);
		if (!end && pk->have == BIND_PEEK_FIRST) {
			peek_body(pk, sp, off, avail, need, sizeof(pk->pre));
			end = bind_names_end(pk);
		}
		if (!end) {
			if (pk->have < need && pk->have < sizeof(pk->pre))
				return RELAY_WAIT;
			kind = PQ_BIND; /* malformed or huge: the server judges */
			break;
		}
		if (pk->pre[pgp_strnlen((char *)pk->pre, pk->have) + 1] != '\0')
			return RELAY_REPLACE; /* a named statement */
		kind = PQ_BIND;
		break;
	}
	case 'D':
	case 'C':
		peek_body(pk, sp, off, avail, need, sizeof(pk->pre));
		if (pk->have < need && pk->have < 2)
			return RELAY_WAIT;
		if (pk->have >= 2 && pk->pre[0] == 'S' && pk->pre[1] != '\0')
			return whole ? RELAY_REPLACE : RELAY_WAIT;
		kind = type == 'D' ? PQ_DESCRIBE : PQ_CLOSE;
		break;
	case 'E':
		kind = PQ_EXECUTE;
		break;
	case 'S':
		cl->skip_until_sync = false;
		kind = PQ_SYNC;
		break;
	case 'Q': {
		char name[256];

		/* `DEALLOCATE name` of one of its own protocol-level names;
		 * the Query is whole here (client.c reads it to classify) */
		if (prep_client_count(&cl->prep) && whole &&
		    need <= sizeof(pk->pre)) {
			peek_body(pk, sp, off, avail, need, need);
			if (deallocate_target(
				    (const char *)pk->pre,
				    pgp_strnlen((char *)pk->pre, need), name,
				    sizeof(name)) &&
			    prep_client_get(&cl->prep, name, strlen(name)))
				return RELAY_REPLACE;
		}
		kind = PQ_QUERY;
		break;
	}
	case 'F':
		kind = PQ_QUERY;
		break;
	default:
		return RELAY_FORWARD; /* Flush, COPY data: no reply of their own */
	}
	return queue(sv, kind, NULL, NULL) ? RELAY_FORWARD : RELAY_NOMEM;
}

/* Drop the message at the start of the input, or as much as has come. */
static void drop_message(struct client *cl, uint32_t len)
{
	struct evbuffer *in = bufferevent_get_input(cl->c.bev);
	size_t avail = evbuffer_get_length(in);

	if (avail >= (size_t)len + 1) {
		evbuffer_drain(in, (size_t)len + 1);
		return;
	}
	evbuffer_drain(in, avail);
	cl->drop_remaining = (uint32_t)(len + 1 - avail);
}

/* Named Parse: the client's name maps to the interned statement. */
static bool handle_parse(struct client *cl, struct server *sv, const char *body,
			 size_t n)
{
	size_t nlen = pgp_strnlen(body, n);
	struct prep_stmt *st;
	bool ok;

	if (nlen >= n)
		return queue_error(cl, sv, "08P01", "invalid Parse message");
	if (prep_client_get(&cl->prep, body, nlen))
		return queue_error(cl, sv, "42P05",
				   "prepared statement \"%s\" already exists",
				   body);
	if (prep_client_count(&cl->prep) >=
	    (size_t)cl->c.pp->cfg->max_client_prepared_statements)
		return queue_error(
			cl, sv, "54000",
			"too many prepared statements in this session "
			"(max_client_prepared_statements %d): DEALLOCATE some",
			cl->c.pp->cfg->max_client_prepared_statements);
	st = prep_intern(&sv->c.pp->prep, body + nlen + 1, n - nlen - 1);
	if (!st)
		return false;
	ok = prep_client_put(&cl->prep, body, st);
	if (ok && prep_server_has(&sv->prep, st))
		ok = queue(sv, PQ_FAKE_PARSE, st, body);
	else if (ok)
		ok = send_parse(sv, st, PQ_CLIENT_PARSE, body);
	prep_unref(&sv->c.pp->prep, st);
	return ok;
}

/* A named statement is used: note its session state, ensure it is here. */
static bool use_statement(struct server *sv, struct prep_stmt *st)
{
	if (st->effect & SESS_EV_DEALLOCATE)
		prep_server_lost_all(sv);
	if (st->effect & SESS_EV_NOTIFY)
		notify_sent(sv);
	sv->session_state |= st->effect & SESS_ALL;
	if (prep_server_has(&sv->prep, st))
		return true;
	return send_parse(sv, st, PQ_OWN_PARSE, NULL);
}

/*
 * The statement a Bind or Describe names, made ready on `sv`; NULL when the
 * client never prepared it (pgperf's error is queued) or on allocation
 * failure (*ok set false).
 */
static struct prep_stmt *resolve(struct client *cl, struct server *sv,
				 const char *name, size_t nlen, bool *ok)
{
	struct prep_stmt *st = prep_client_get(&cl->prep, name, nlen);

	if (!st) {
		*ok = queue_error(cl, sv, "26000",
				  "prepared statement \"%s\" does not exist",
				  name);
		return NULL;
	}
	if (!use_statement(sv, st)) {
		*ok = false;
		return NULL;
	}
	return st;
}

bool prep_request_handle(struct client *cl, struct server *sv, uint8_t type,
			 uint32_t len, const struct prep_peek *pk)
{
	struct evbuffer *in = bufferevent_get_input(cl->c.bev);
	size_t n = len - 4;
	const char *body = (const char *)pk->pre;
	char *copy = NULL;
	char sname[32];
	struct prep_stmt *st;
	struct wbuf b;
	size_t start;
	bool ok = true;

	if (cl->skip_until_sync && type != 'S' && type != 'X') {
		drop_message(cl, len);
		return true;
	}
	if (type == 'P' &&
	    n > (size_t)cl->c.pp->cfg->max_prepared_statement_size) {
		drop_message(cl, len);
		return queue_error(cl, sv, "54000",
				   "prepared statement of %zu bytes exceeds "
				   "max_prepared_statement_size (%d)",
				   n,
				   cl->c.pp->cfg->max_prepared_statement_size);
	}
	if (type != 'B' && pk->have < n) {
		/* the whole body (a Bind needs only its names, in view) */
		struct evbuffer_ptr bp;

		if (!(copy = pgp_malloc(n)))
			return false;
		evbuffer_ptr_set(in, &bp, 5, EVBUFFER_PTR_SET);
		evbuffer_copyout_from(in, &bp, copy, n);
		body = copy;
	}
	wb_init(&b);
	switch (type) {
	case 'P':
		evbuffer_drain(in, (size_t)len + 1);
		ok = handle_parse(cl, sv, body, n);
		break;
	case 'B': {
		size_t plen = strlen(body);
		const char *name = body + plen + 1;
		size_t nlen = strlen(name);
		size_t consumed = 5 + plen + 1 + nlen + 1;

		if (!(st = resolve(cl, sv, name, nlen, &ok))) {
			drop_message(cl, len);
			break;
		}
		prep_server_name(st, sname, sizeof(sname));
		/* new header and names; the rest streams through unchanged */
		wb_u8(&b, 'B');
		wb_u32(&b, (uint32_t)(len - nlen + strlen(sname)));
		wb_bytes(&b, body, plen + 1);
		wb_cstr(&b, sname);
		ok = conn_send(&sv->c, &b) && queue(sv, PQ_BIND, NULL, NULL);
		evbuffer_drain(in, consumed);
		cl->c.fwd_remaining = (uint32_t)((size_t)len + 1 - consumed);
		sv->unsynced = true;
		break;
	}
	case 'D': {
		const char *name = body + 1;
		size_t nlen = pgp_strnlen(name, n - 1);

		evbuffer_drain(in, (size_t)len + 1);
		if (!(st = resolve(cl, sv, name, nlen, &ok)))
			break;
		prep_server_name(st, sname, sizeof(sname));
		start = wb_begin(&b, 'D');
		wb_u8(&b, 'S');
		wb_cstr(&b, sname);
		wb_end(&b, start);
		ok = conn_send(&sv->c, &b) &&
		     queue(sv, PQ_DESCRIBE, NULL, NULL);
		sv->unsynced = true;
		break;
	}
	case 'C': {
		const char *name = body + 1;
		size_t nlen = pgp_strnlen(name, n - 1);

		evbuffer_drain(in, (size_t)len + 1);
		if (nlen == n - 1) {
			ok = queue_error(cl, sv, "08P01",
					 "invalid Close message");
			break;
		}
		/* closing a name that does not exist is not an error */
		st = prep_client_get(&cl->prep, name, nlen);
		ok = queue(sv, PQ_FAKE_CLOSE, st, name);
		prep_client_del(&sv->c.pp->prep, &cl->prep, name, nlen, NULL);
		break;
	}
	case 'Q': {
		char name[256];

		evbuffer_drain(in, (size_t)len + 1);
		if (deallocate_target(body, pgp_strnlen(body, n), name,
				      sizeof(name))) {
			st = prep_client_get(&cl->prep, name, strlen(name));
			ok = queue(sv, PQ_FAKE_DEALLOCATE, st, name);
			prep_client_del(&sv->c.pp->prep, &cl->prep, name,
					strlen(name), NULL);
		}
		cl->request_us = pgp_loop_wall_us();
		break;
	}
	default:
		drop_message(cl, len);
		break;
	}
	wb_free(&b);
	pgp_free(copy);
	return ok;
}

/* Undo what a request that failed, or that PostgreSQL skipped, did. */
static void undo(struct server *sv, struct pq_entry *e)
{
	struct prep_registry *reg = &sv->c.pp->prep;
	struct client *cl = sv->client;

	switch (e->kind) {
	case PQ_CLIENT_PARSE:
	case PQ_FAKE_PARSE:
		/* the statement is not prepared, nor does the client's name
		 * exist */
		if (e->kind == PQ_CLIENT_PARSE)
			prep_server_forget(reg, &sv->prep, e->st);
		if (cl)
			prep_client_del(reg, &cl->prep, e->name,
					strlen(e->name), e->st);
		break;
	case PQ_OWN_PARSE:
		prep_server_forget(reg, &sv->prep, e->st);
		break;
	case PQ_OWN_CLOSE:
		/* still prepared there: remember it, or a later Parse fails */
		if (!prep_server_has(&sv->prep, e->st) &&
		    !prep_server_add(&sv->prep, e->st))
			sv->close_needed = true;
		break;
	case PQ_FAKE_CLOSE:
	case PQ_FAKE_DEALLOCATE:
		if (cl && e->st &&
		    !prep_client_get(&cl->prep, e->name, strlen(e->name)) &&
		    !prep_client_put(&cl->prep, e->name, e->st))
			clog_warning(sv, "out of memory restoring a statement");
		break;
	default:
		break;
	}
}

enum relay_verdict prep_reply(struct server *sv, uint8_t type)
{
	struct prep_registry *reg = &sv->c.pp->prep;
	struct pq_entry *e = pq_head(&sv->pq);
	bool done = false;

	if (prep_answer_due(sv))
		return RELAY_ANSWER;
	if (!e || type == 'N' || type == 'A' || type == 'S')
		return RELAY_FORWARD; /* notices, notifications, settings */
	if (type == 'E' && e->kind != PQ_QUERY && e->kind != PQ_SYNC) {
		/* the request failed; PostgreSQL skips the rest until Sync */
		undo(sv, e);
		pq_pop(reg, &sv->pq);
		while ((e = pq_head(&sv->pq)) && e->kind != PQ_SYNC) {
			undo(sv, e);
			pq_pop(reg, &sv->pq);
		}
		return RELAY_FORWARD;
	}
	switch (e->kind) {
	case PQ_OWN_PARSE:
	case PQ_OWN_CLOSE:
		if (type == (e->kind == PQ_OWN_PARSE ? '1' : '3')) {
			if (type == '1')
				e->st->verified = true;
			pq_pop(reg, &sv->pq);
			return RELAY_DROP;
		}
		break;
	case PQ_PARSE:
		done = type == '1';
		break;
	case PQ_CLIENT_PARSE:
		done = type == '1';
		if (done)
			e->st->verified = true;
		break;
	case PQ_BIND:
		done = type == '2';
		break;
	case PQ_CLOSE:
		done = type == '3';
		break;
	case PQ_DESCRIBE:
		done = type == 'T' || type == 'n';
		break;
	case PQ_EXECUTE:
		done = type == 'C' || type == 'I' || type == 's';
		break;
	case PQ_SYNC:
	case PQ_QUERY:
		done = type == 'Z';
		break;
	default:
		break;
	}
	if (done)
		pq_pop(reg, &sv->pq);
	return RELAY_FORWARD;
}

int prep_emit_answers(struct server *sv)
{
	struct client *cl = sv->client;
	struct pq_entry *e;
	struct wbuf b;
	int ready = 0;
	bool ok;

	if (!cl)
		return 0;
	wb_init(&b);
	while (prep_answer_due(sv)) {
		e = pq_head(&sv->pq);
		switch (e->kind) {
		case PQ_FAKE_PARSE:
			wb_u8(&b, '1');
			wb_u32(&b, 4);
			break;
		case PQ_FAKE_CLOSE:
			wb_u8(&b, '3');
			wb_u32(&b, 4);
			break;
		case PQ_FAKE_ERROR:
			wire_build_error(&b, "ERROR", e->sqlstate, e->name);
			break;
		case PQ_FAKE_DEALLOCATE:
			if (sv->tx_status == 'E')
				wire_build_error(
					&b, "ERROR", "25P02",
					"current transaction is aborted, commands ignored until end of transaction block");
			else
				wire_build_command_complete(&b, "DEALLOCATE");
			wire_build_ready(&b,
					 sv->tx_status ? sv->tx_status : 'I');
			observe_reply(cl, 'Z', NULL, 0, 6); /* its Query ends */
			ready++;
			break;
		default:
			break;
		}
		pq_pop(&sv->c.pp->prep, &sv->pq);
	}
	ok = b.len == 0 || conn_send(&cl->c, &b);
	wb_free(&b);
	return ok ? ready : -1;
}

/* Parse messages longer than this are left to the server. */
#define IDLE_PARSE_MAX 65536
/* Parse messages answered in one group, at most. */
#define IDLE_GROUP_MAX 64

/*
 * The statement a whole named Parse at `off` names, if pgperf may answer
 * it: verified, and the name neither the client's already nor earlier in
 * the group.  Returns a new reference (and the name in *name) or NULL.
 */
static struct prep_stmt *idle_parse(struct client *cl, struct evbuffer *in,
				    size_t off, uint32_t len, char **name,
				    char *const *earlier, int ng)
{
	struct prep_registry *reg = &cl->c.pp->prep;
	struct evbuffer_ptr bp;
	size_t n = len - 4, nlen;
	struct prep_stmt *st = NULL;
	char *body;

	*name = NULL;
	if (n < 2 || n > IDLE_PARSE_MAX || !(body = pgp_malloc(n)))
		return NULL;
	evbuffer_ptr_set(in, &bp, off + 5, EVBUFFER_PTR_SET);
	evbuffer_copyout_from(in, &bp, body, n);
	nlen = pgp_strnlen(body, n);
	if (nlen == 0 || nlen >= n || prep_client_get(&cl->prep, body, nlen))
		goto out;
	for (int i = 0; i < ng; i++)
		if (strcmp(earlier[i], body) == 0)
			goto out;
	st = prep_intern(reg, body + nlen + 1, n - nlen - 1);
	if (st && !st->verified) {
		prep_unref(reg, st);
		st = NULL;
	}
	if (st && !(*name = pgp_strdup(body))) {
		prep_unref(reg, st);
		st = NULL;
	}
out:
	pgp_free(body);
	return st;
}

int prep_idle_answer(struct client *cl)
{
	struct prep_registry *reg = &cl->c.pp->prep;
	struct evbuffer *in = bufferevent_get_input(cl->c.bev);
	struct prep_stmt *group[IDLE_GROUP_MAX];
	char *names[IDLE_GROUP_MAX];
	int ng = 0;

	if (pool_effective_mode(cl->pool) != POOL_TRANSACTION ||
	    cl->c.pp->cfg->max_prepared_statements <= 0)
		return 0;
	for (;;) {
		size_t avail = evbuffer_get_length(in), off = 0;
		struct evbuffer_ptr ptr;
		bool synced = false;
		struct wbuf b;
		uint8_t hdr[5];
		uint32_t len;

		if (avail == 0)
			return 1;
		while (!synced && ng < IDLE_GROUP_MAX && avail - off >= 5) {
			evbuffer_ptr_set(in, &ptr, off, EVBUFFER_PTR_SET);
			evbuffer_copyout_from(in, &ptr, hdr, 5);
			len = wire_get_u32(hdr + 1);
			if (len < 4 || avail - off < (size_t)len + 1)
				break;
			if (hdr[0] == 'S' && len == 4 && ng > 0) {
				synced = true;
			} else if (hdr[0] != 'P' ||
				   !(group[ng] = idle_parse(cl, in, off, len,
							    &names[ng], names,
							    ng))) {
				break;
			} else {
				ng++;
			}
			off += (size_t)len + 1;
		}
		if (!synced) {
			/* not a group pgperf answers (the usual case: a Query
			 * or an Execute): a server it is */
			for (int i = 0; i < ng; i++) {
				prep_unref(reg, group[i]);
				pgp_free(names[i]);
			}
			return 0;
		}
		wb_init(&b);
		for (int i = 0; i < ng; i++) {
			if (!prep_client_put(&cl->prep, names[i], group[i]))
				b.failed = true;
			observe_parse(cl, names[i], group[i]->body);
			wb_u8(&b, '1');
			wb_u32(&b, 4);
		}
		wire_build_ready(&b, 'I');
		for (int i = 0; i < ng; i++) {
			prep_unref(reg, group[i]);
			pgp_free(names[i]);
		}
		ng = 0;
		if (!conn_send(&cl->c, &b)) {
			wb_free(&b);
			return -1;
		}
		wb_free(&b);
		evbuffer_drain(in, off);
	}
}
