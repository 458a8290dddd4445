/*
 * prepared_relay.h -- the message handling behind transaction-mode
 * prepared statements (see prepared.h for the data): requests are renamed,
 * completed with pgperf's own Parse/Close, or answered by pgperf; replies
 * are matched to requests, pgperf's own swallowed, and errors undo what a
 * skipped request would have done.
 */
#ifndef PGPERF_PREPARED_RELAY_H
#define PGPERF_PREPARED_RELAY_H

#include "proxy/conn.h"
#include "proxy/proxy_types.h"
#include "proto/relay.h"

struct evbuffer;
struct evbuffer_ptr;

/* Portal and statement names longer than this are not looked at. */
#define PREP_PEEK_MAX 4096

/* What prep_request_peek() copied of a message body, for the handler. */
struct prep_peek {
	uint8_t pre[PREP_PEEK_MAX];
	size_t have;
};

/*
 * Look at one client message (header at offset `off` of the input viewed
 * by `sp`, `avail` bytes of it and what follows present), copying only as
 * much of it into `pk` as the decision needs.  RELAY_FORWARD has queued
 * its reply; RELAY_REPLACE asks for prep_request_handle(); RELAY_WAIT for
 * more of it; RELAY_NOMEM.
 */
enum relay_verdict prep_request_peek(struct client *cl, struct server *sv,
				     uint8_t type, uint32_t len,
				     const struct conn_span *sp, size_t off,
				     size_t avail, struct prep_peek *pk);
/*
 * Take a RELAY_REPLACE message, now at the start of the client's input:
 * drop, rename or answer it, reusing what the peek copied (`pk`).  Sets
 * cl->c.fwd_remaining when the rest of a
 * renamed Bind is still to stream through.  false on allocation failure.
 */
bool prep_request_handle(struct client *cl, struct server *sv, uint8_t type,
			 uint32_t len, const struct prep_peek *pk);

/*
 * Match a reply of `type` to the queue: RELAY_ANSWER when answers pgperf
 * owes the client come first (prep_emit_answers(), then ask again),
 * RELAY_DROP for a reply to pgperf's own request, else RELAY_FORWARD.
 */
enum relay_verdict prep_reply(struct server *sv, uint8_t type);
/*
 * Send the answers pgperf owes the client that are next in line.  Returns
 * the number of ReadyForQuery among them, or -1 when sending failed.
 */
int prep_emit_answers(struct server *sv);

/*
 * A client between transactions (no server) that sends only named Parse
 * messages of statements some server has accepted, then Sync -- libpq's
 * PQprepare() -- is answered by pgperf without a server: its names are
 * mapped and it gets ParseComplete and ReadyForQuery 'I'.  Such a client
 * may be waiting synchronously while the other clients of its thread hold
 * every server connection (pgbench -M prepared), so needing one here could
 * deadlock.  Returns 1 when all input was answered, 0 when some is left for
 * a server, -1 on allocation failure.
 */
int prep_idle_answer(struct client *cl);
/* Does the request at the head of the queue want pgperf to answer now? */
bool prep_answer_due(const struct server *sv);
/* The connection lost its statements (DEALLOCATE, DISCARD ALL, reset). */
void prep_server_lost_all(struct server *sv);

#endif
