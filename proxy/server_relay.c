/*
 * server_relay.c -- a linked, active server's replies on their way to its
 * client.  They stream through like client messages do; only
 * ReadyForQuery, ParameterStatus and ErrorResponse are read whole, to track
 * the transaction state, reported parameters and fatal errors, and in
 * transaction mode NotificationResponse, whose sender pid is rewritten.
 * With prepared-statement tracking each reply is matched to its request
 * (prepared_relay.c), and the result cache sees what it captures.  The
 * states and the replies pgperf consumes itself are in server.c.
 */
#include "proxy/server.h"

#include "cache/cache.h"
#include "proxy/client.h"
#include "proxy/conn.h"
#include "lib/log.h"
#include "proxy/notify.h"
#include "tap/observe.h"
#include "proxy/pool.h"
#include "proxy/prepared_relay.h"
#include "proto/session_state.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <string.h>

/* Messages read whole while relaying (ErrorResponse) stream past this. */
#define SERVER_INSPECT_MAX (64 * 1024)

void server_record_param(struct server *sv, const uint8_t *body, size_t len)
{
	struct wcursor c;
	const char *name, *value;

	wc_init(&c, body, len);
	if (!wc_cstr(&c, &name, NULL) || !wc_cstr(&c, &value, NULL))
		return;
	if (!kv_set(&sv->params, name, value))
		clog_warning(sv, "out of memory recording parameter");
	sv->rep_digest = session_params_digest(&sv->params, NULL);
}

void server_forget_pending_set(struct server *sv)
{
	pgp_free(sv->pend_name);
	pgp_free(sv->pend_value);
	sv->pend_name = sv->pend_value = NULL;
}

/* The ReadyForQuery after a pending SET/RESET: did it take effect? */
static void settle_pending_set(struct server *sv)
{
	struct client *cl = sv->client;

	/* a failed SET changed nothing */
	if (!sv->pend_failed && cl) {
		if (sv->tx_status != 'I') {
			/* inside a transaction after all: keep it by pinning */
			sv->session_state |= SESS_SET;
		} else if (sv->pend_reset) {
			kv_del(&cl->sets, sv->pend_name);
			kv_del(&sv->applied, sv->pend_name);
		} else if (!kv_set(&cl->sets, sv->pend_name, sv->pend_value) ||
			   !kv_set(&sv->applied, sv->pend_name,
				   sv->pend_value)) {
			sv->session_state |= SESS_SET; /* out of memory: pin */
		}
	}
	server_forget_pending_set(sv);
}

/* Note what a ReadyForQuery, ParameterStatus or ErrorResponse says. */
static void inspect_reply(struct server *sv, uint8_t type, const uint8_t *body,
			  size_t len)
{
	struct wire_error_fields f;

	switch (type) {
	case 'Z':
		sv->tx_status = len >= 1 ? (char)body[0] : 'I';
		if (sv->rfq_pending > 0)
			sv->rfq_pending--;
		/* idle in a transaction from now (idle_transaction_timeout) */
		if (sv->rfq_pending == 0 && sv->tx_status != 'I')
			sv->idle_xact_since_us = pgp_loop_us();
		if (sv->rfq_pending == 0 && sv->tx_status == 'I' &&
		    (sv->notify_pid || sv->notify_sent))
			notify_xact_ended(sv);
		if (sv->pend_name)
			settle_pending_set(sv);
		break;
	case 'S':
		server_record_param(sv, body, len);
		/* the client now expects this reported value */
		if (sv->client) {
			struct client *cl = sv->client;
			struct wcursor c;
			const char *name, *value;

			wc_init(&c, body, len);
			if (!wc_cstr(&c, &name, NULL) ||
			    !wc_cstr(&c, &value, NULL) ||
			    !session_param_is_reported(name, strlen(name)))
				break;
			if (!kv_set(&cl->params, name, value))
				clog_warning(
					sv,
					"out of memory recording parameter");
			cl->rep_digest = session_params_digest(&cl->params,
							       &cl->unreported);
			if (strcmp(name, "application_name") == 0)
				observe_client(cl);
		}
		break;
	case 'E':
		if (wire_parse_error(body, len, &f) && wire_error_is_fatal(&f))
			sv->got_fatal = true;
		sv->pend_failed = true;
		break;
	default:
		break;
	}
}

static void relay_move(struct server *sv, struct client *cl, size_t n)
{
	conn_move(&sv->c, &cl->c, n);
	sv->pool->st.sent += n;
}

/* Transaction mode: notifications are told as from their sending client
 * (asked only when one arrives, not per batch of replies). */
static bool renames_notifications(const struct server *sv)
{
	return pool_effective_mode(sv->pool) == POOL_TRANSACTION;
}

/*
 * A whole NotificationResponse at the head of the input, in transaction
 * mode: relayed with the pid of the client that sent it (notify.c) in
 * place of the sending backend's.
 */
static bool relay_notification(struct server *sv, struct client *cl,
			       struct evbuffer *in, uint32_t len)
{
	uint8_t head[9];
	uint32_t pid, told;

	evbuffer_copyout(in, head, sizeof(head));
	pid = wire_get_u32(head + 5);
	told = notify_sender_pid(sv->pool, pid);
	if (told != pid) {
		head[5] = (uint8_t)(told >> 24);
		head[6] = (uint8_t)(told >> 16);
		head[7] = (uint8_t)(told >> 8);
		head[8] = (uint8_t)told;
		evbuffer_drain(in, sizeof(head));
		if (bufferevent_write(cl->c.bev, head, sizeof(head)) != 0) {
			client_close(cl, CLOSE_RESOURCES, "53200",
				     "out of memory");
			return false;
		}
		sv->pool->st.sent += sizeof(head);
		len -= 8; /* the rest: channel and payload */
	} else {
		len += 1;
	}
	relay_move(sv, cl, len);
	return true;
}

/* Replies read whole on the way: the state the relay tracks, and what
 * statistics read (CommandComplete, and for the N+1 proof RowDescription
 * and the first rows). */
static bool inspected(const struct client *cl, const struct relay_msg *m,
		      bool obs)
{
	uint8_t t = m->type;

	return (t == 'Z' || t == 'S' || t == 'E' ||
		(obs && (t == 'C' || t == 'T' ||
			 (t == 'D' && observe_wants_row(&cl->obs))))) &&
	       m->len <= SERVER_INSPECT_MAX;
}

/* What the features make of one reply, in their order (relay.h). */
static enum relay_verdict reply_verdict(struct server *sv, struct client *cl,
					const struct relay_msg *m, bool inspect)
{
	bool small = m->len <= SERVER_INSPECT_MAX;
	bool notification = m->type == 'A' && small && m->len >= 8 &&
			    renames_notifications(sv);
	enum relay_verdict v;

	/* read, or maybe dropped (pgperf's own ParseComplete and
	 * CloseComplete) or rewritten: it must be whole first */
	if ((inspect || notification ||
	     (sv->track && (m->type == '1' || m->type == '3') && small)) &&
	    !relay_msg_whole(m))
		return RELAY_WAIT;
	/* the result cache: the transaction's writes are invalidated before
	 * its ReadyForQuery reaches the client (asked before the prepared-
	 * statement queue, which a ReadyForQuery held and seen again would
	 * otherwise advance twice) */
	if (m->type == 'Z' && cl->c.pp->cache &&
	    cache_ready_verdict(cl, sv) == RELAY_HOLD)
		return RELAY_HOLD;
	if (sv->track && (v = prep_reply(sv, m->type)) != RELAY_FORWARD)
		return v;
	if (notification)
		return RELAY_REPLACE;
	return RELAY_FORWARD;
}

/*
 * Stream replies to the linked client, batching every complete message into
 * one move.  ReadyForQuery, ParameterStatus and small ErrorResponses are
 * copied out and inspected on the way; everything else is only framed.
 * Everything available has been handled when it returns, unless a feature
 * held the relay (the result cache before a ReadyForQuery).
 */
void server_relay_active(struct server *sv)
{
	struct client *cl = sv->client;
	struct evbuffer *in = bufferevent_get_input(sv->c.bev);
	struct conn_span sp; /* the input, read in place */
	size_t avail = evbuffer_get_length(in), batch = 0;
	uint8_t small[512], *copy;
	bool saw_ready = false, obs = observe_on(sv->c.pp);

	batch = conn_take_streaming(&sv->c, avail);
	conn_span_take(&sp, in);
	while (sv->c.fwd_remaining == 0 && avail - batch >= 5) {
		uint8_t hdr[5];
		struct relay_msg m;
		enum relay_verdict v;
		bool inspect;
		const uint8_t *h = conn_span_at(&sp, batch, 5, hdr);

		m.type = h[0];
		m.len = wire_get_u32(h + 1);
		m.off = batch;
		m.have = avail - batch;
		if (wire_check_header(WIRE_FROM_SERVER, m.type, m.len,
				      WIRE_MAX_MESSAGE_LEN) != PGP_OK) {
			if (batch)
				relay_move(sv, cl, batch);
			server_close(
				sv, CLOSE_PROTOCOL,
				"invalid message from server (type %u, length %u)",
				m.type, m.len);
			return;
		}
		inspect = inspected(cl, &m, obs);
		v = reply_verdict(sv, cl, &m, inspect);
		if (v == RELAY_WAIT)
			break;
		if (v != RELAY_FORWARD) {
			/* what went before leaves first */
			if (batch)
				relay_move(sv, cl, batch);
			batch = 0;
			switch (v) {
			case RELAY_HOLD:
				/* the ReadyForQuery waits in the input */
				conn_read_disable(&sv->c);
				return;
			case RELAY_ANSWER: {
				/* pgperf's answers, then this reply again */
				int ready = prep_emit_answers(sv);

				if (ready < 0) {
					client_close(cl, CLOSE_RESOURCES,
						     "53200", "out of memory");
					return;
				}
				saw_ready |= ready > 0;
				break;
			}
			case RELAY_DROP:
				evbuffer_drain(in, (size_t)m.len + 1);
				break;
			case RELAY_REPLACE:
				if (!relay_notification(sv, cl, in, m.len))
					return;
				break;
			default:
				break;
			}
			avail = evbuffer_get_length(in);
			conn_span_take(&sp, in);
			continue;
		}
		if (!relay_msg_whole(&m)) {
			/* the rest of this one streams through as it arrives */
			sv->c.fwd_remaining = (uint32_t)(m.len + 1 - m.have);
			batch = avail;
			cache_capture_abandon(cl); /* streamed, not whole */
			break;
		}
		if (cl->cache.fill) {
			struct evbuffer_ptr at;

			evbuffer_ptr_set(in, &at, batch, EVBUFFER_PTR_SET);
			cache_capture(cl, m.type, in, &at, m.len);
		}
		if (inspect) {
			const uint8_t *body;
			size_t n = m.len - 4;

			copy = NULL;
			if (batch + 5 + n <= sp.len) {
				body = sp.p + batch + 5; /* in place */
			} else if (n <= sizeof(small)) {
				conn_span_copy(&sp, batch + 5, n, small);
				body = small;
			} else if ((copy = pgp_malloc(n))) {
				conn_span_copy(&sp, batch + 5, n, copy);
				body = copy;
			} else {
				server_close(sv, CLOSE_RESOURCES,
					     "out of memory");
				return;
			}
			inspect_reply(sv, m.type, body, n);
			observe_reply(cl, m.type, body, n, (size_t)m.len + 1);
			pgp_free(copy);
			saw_ready |= m.type == 'Z';
		} else {
			/* also with analysis off: SHOW STATS times statements */
			observe_reply(cl, m.type, NULL, 0, (size_t)m.len + 1);
		}
		batch += (size_t)m.len + 1;
	}
	if (batch)
		relay_move(sv, cl, batch);
	if (sv->track && prep_answer_due(sv)) {
		int ready = prep_emit_answers(sv);

		if (ready < 0) {
			client_close(cl, CLOSE_RESOURCES, "53200",
				     "out of memory");
			return;
		}
		saw_ready |= ready > 0;
	}
	if (saw_ready && cl->drain_pending && sv->tx_status == 'I' &&
	    sv->rfq_pending == 0)
		client_drain(cl);
	else if (saw_ready)
		server_maybe_release(sv);
}

void server_resume_relay(struct server *sv)
{
	conn_read_enable(&sv->c);
	server_relay(sv);
}
