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
#include "pgperf/server.h"

#include "pgperf/cache.h"
#include "pgperf/client.h"
#include "pgperf/conn.h"
#include "pgperf/log.h"
#include "pgperf/notify.h"
#include "pgperf/observe.h"
#include "pgperf/pool.h"
#include "pgperf/prepared_relay.h"
#include "pgperf/session_state.h"

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

/*
 * Stream replies to the linked client, batching every complete message into
 * one move.  ReadyForQuery, ParameterStatus and small ErrorResponses are
 * copied out and inspected on the way; everything else is only framed.
 * With prepared-statement tracking each reply is also matched to its
 * request: pgperf's own are swallowed and its answers to the client are
 * sent in their turn (prepared_relay.c).  Everything available has been
 * handled when it returns.
 */
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
		uint32_t len;
		bool inspect, whole;
		const uint8_t *h = conn_span_at(&sp, batch, 5, hdr);

		/* a copy: the view changes when a batch moves on */
		if (h != hdr)
			memcpy(hdr, h, 5);
		len = wire_get_u32(hdr + 1);
		if (wire_check_header(WIRE_FROM_SERVER, hdr[0], len,
				      WIRE_MAX_MESSAGE_LEN) != PGP_OK) {
			if (batch)
				relay_move(sv, cl, batch);
			server_close(
				sv, CLOSE_PROTOCOL,
				"invalid message from server (type %u, length %u)",
				hdr[0], len);
			return;
		}
		/* statistics read CommandComplete, and sample results for
		 * the N+1 proof: RowDescription and the first rows */
		inspect =
			(hdr[0] == 'Z' || hdr[0] == 'S' || hdr[0] == 'E' ||
			 (obs &&
			  (hdr[0] == 'C' || hdr[0] == 'T' ||
			   (hdr[0] == 'D' && observe_wants_row(&cl->obs))))) &&
			len <= SERVER_INSPECT_MAX;
		/* read, or maybe swallowed (pgperf's own ParseComplete and
		 * CloseComplete): wait until it is whole */
		whole = inspect ||
			(sv->track && (hdr[0] == '1' || hdr[0] == '3') &&
			 len <= SERVER_INSPECT_MAX) ||
			(hdr[0] == 'A' && len <= SERVER_INSPECT_MAX &&
			 renames_notifications(sv));
		if (avail - batch < (size_t)len + 1 && whole)
			break;
		if (sv->track) {
			if (prep_answer_due(sv)) {
				int ready;

				if (batch)
					relay_move(sv, cl, batch);
				avail -= batch;
				batch = 0;
				conn_span_take(&sp, in);
				if ((ready = prep_emit_answers(sv)) < 0) {
					client_close(cl, CLOSE_RESOURCES,
						     "53200", "out of memory");
					return;
				}
				saw_ready |= ready > 0;
			}
			if (prep_reply(sv, hdr[0]) == PREP_REPLY_SWALLOW) {
				/* pgperf's own ParseComplete or CloseComplete */
				if (batch)
					relay_move(sv, cl, batch);
				evbuffer_drain(in, (size_t)len + 1);
				avail = evbuffer_get_length(in);
				batch = 0;
				conn_span_take(&sp, in);
				continue;
			}
		}
		if (avail - batch < (size_t)len + 1) {
			sv->c.fwd_remaining =
				(uint32_t)(len + 1 - (avail - batch));
			batch = avail;
			cache_capture_abandon(cl); /* streamed, not whole */
			break;
		}
		if (hdr[0] == 'A' && len >= 8 && len <= SERVER_INSPECT_MAX &&
		    renames_notifications(sv)) {
			/* a notification: told as from its sending client */
			if (batch)
				relay_move(sv, cl, batch);
			batch = 0;
			if (!relay_notification(sv, cl, in, len))
				return;
			avail = evbuffer_get_length(in);
			conn_span_take(&sp, in);
			continue;
		}
		/* the result cache: the transaction's writes are invalidated
		 * before its ReadyForQuery reaches the client */
		if (hdr[0] == 'Z' && cache_hold_ready(cl, sv)) {
			if (batch)
				relay_move(sv, cl, batch);
			return;
		}
		if (cl->cache.fill) {
			struct evbuffer_ptr at;

			evbuffer_ptr_set(in, &at, batch, EVBUFFER_PTR_SET);
			cache_capture(cl, hdr[0], in, &at, len);
		}
		if (inspect) {
			const uint8_t *body;

			copy = NULL;
			if (batch + 5 + (len - 4) <= sp.len) {
				body = sp.p + batch + 5; /* in place */
			} else if (len - 4 <= sizeof(small)) {
				conn_span_copy(&sp, batch + 5, len - 4, small);
				body = small;
			} else if ((copy = pgp_malloc(len - 4))) {
				conn_span_copy(&sp, batch + 5, len - 4, copy);
				body = copy;
			} else {
				server_close(sv, CLOSE_RESOURCES,
					     "out of memory");
				return;
			}
			inspect_reply(sv, hdr[0], body, len - 4);
			observe_reply(cl, hdr[0], body, len - 4,
				      (size_t)len + 1);
			pgp_free(copy);
			saw_ready |= hdr[0] == 'Z';
		} else {
			/* also with analysis off: SHOW STATS times statements */
			observe_reply(cl, hdr[0], NULL, 0, (size_t)len + 1);
		}
		batch += (size_t)len + 1;
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
