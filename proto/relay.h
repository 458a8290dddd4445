/*
 * relay.h -- what a feature on the relay says of one message.
 *
 * Each direction of a linked client and server is one loop over its
 * messages: client_relay() (client.c) for requests, server_relay_active()
 * (server_relay.c) for replies.  The loop frames each message, asks the
 * features that want it in a fixed order, and acts on the first verdict
 * that is not RELAY_FORWARD.  Features decide; only the loop moves bytes,
 * and only client.c and server.c change connection state.  Messages that
 * go on unchanged are batched, so a run of them leaves in one send.
 *
 * Requests:  framing -> statistics tap and session state (observe.c,
 *            session_state.c) -> prepared statements (prepared_relay.c)
 * Replies:   framing -> pgperf's own answers and replies (prepared_relay.c)
 *            -> notifications (notify.c) -> the result cache (cache*.c)
 *            -> state the relay tracks, statistics tap
 */
#ifndef PGPERF_RELAY_H
#define PGPERF_RELAY_H

#include "lib/common.h"

enum relay_verdict {
	RELAY_FORWARD, /* relay it unchanged, with the batch */
	RELAY_WAIT,    /* more of it must arrive before anyone can decide */
	RELAY_REPLACE, /* the feature sends its own version of it: a renamed
			* Bind, a notification told as from its sending
			* client, a request pgperf answers or drops */
	RELAY_DROP,    /* pgperf's own reply: drained, the peer never sees it */
	RELAY_ANSWER,  /* answers pgperf owes the client go out before it */
	RELAY_HOLD,    /* stop relaying; the feature starts it again */
	RELAY_NOMEM,   /* out of memory: the client gets 53200 */
};

/* One message as the loop framed it. */
struct relay_msg {
	uint8_t type;
	uint32_t len; /* from the header: the body's length + 4 */
	size_t off;   /* where its header starts in the input */
	size_t have;  /* bytes of it in the input, header included */
};

static inline bool relay_msg_whole(const struct relay_msg *m)
{
	return m->have >= (size_t)m->len + 1;
}

#endif
