/*
 * conn.h -- what client and server connections share: sending built
 * messages, moving relayed bytes with back-pressure, and peer addresses.
 */
#ifndef PGPERF_CONN_H
#define PGPERF_CONN_H

#include "proxy/proxy_types.h"

#include <sys/socket.h>

/*
 * Back-pressure: when the peer's output holds more than CONN_HIGH_WATER
 * bytes, reading from the source stops until it drains below
 * CONN_LOW_WATER.  Memory per connection pair stays bounded no matter how
 * slowly a client reads a large result.
 */
#define CONN_HIGH_WATER (256 * 1024)
#define CONN_LOW_WATER (64 * 1024)

void conn_init(struct conn *c, struct pgperf *pp, struct bufferevent *bev);
/*
 * From now on read c's plain socket with pgperf's own event instead of the
 * bufferevent's: one recv-style readv per readable event, where libevent
 * adds an ioctl(FIONREAD) to every read (a third of the relay's system
 * calls).  Bytes still land in the bufferevent's input and `rcb`/`ecb` are
 * called as the bufferevent would call them (EOF and read errors included);
 * writing stays with the bufferevent.  No-op for TLS connections.  Call it
 * once the connection will not be wrapped in TLS any more.
 */
void conn_own_reads(struct conn *c, bufferevent_data_cb rcb,
		    bufferevent_event_cb ecb, void *arg);
/* Start / stop reading c, whichever way it is read. */
void conn_read_enable(struct conn *c);
void conn_read_disable(struct conn *c);
/*
 * SUSPEND: stop reading from a suspendable connection, remembering whether
 * it was reading; while pp->suspended, conn_read_enable() only remembers.
 * conn_unsuspend() (RESUME, after pp->suspended is cleared) turns reads
 * back on where they were wanted.
 */
void conn_suspend(struct conn *c);
void conn_unsuspend(struct conn *c);
/* Free c's I/O objects (its socket closes). */
void conn_free_io(struct conn *c);
/* Queue a built message; false when the buffer is incomplete or I/O failed. */
bool conn_send(struct conn *c, const struct wbuf *b);
/* Queue an ErrorResponse. */
void conn_send_error(struct conn *c, const char *severity, const char *sqlstate,
		     const char *message);
/* Bytes waiting to be written, including those under a TLS filter. */
size_t conn_pending_output(const struct conn *c);
/* Move `n` bytes of src's input to dst's output. */
void conn_move(struct conn *src, struct conn *dst, size_t n);
/* Stop reading `src` if `dst` is backed up; true if it did. */
bool conn_throttle_if_full(struct conn *src, struct conn *dst);
/* Called from dst's write callback: resume src if dst has drained. */
bool conn_unthrottle_if_drained(struct conn *src, struct conn *dst);
/*
 * Start connecting `bev` (made with fd -1) to host:port; a host starting
 * with '/' is a unix socket directory.  Returns PGP_OK, or an error with
 * SQLSTATE and message in `sqlstate`/`err` (08001 for a name that does not
 * resolve, 08006 for a refused start).
 */
enum pgp_status conn_connect(struct bufferevent *bev, const char *host,
			     int port, char sqlstate[6], char *err,
			     size_t errlen) WARN_UNUSED;
/* A TCP socket's options: TCP_NODELAY, and keepalive as configured
 * (tcp_keepalive, tcp_keepidle, tcp_keepintvl, tcp_keepcnt). */
void conn_tcp_options(int fd, const struct config *cfg);
/* Fill addr/port fields from a socket address. */
void conn_describe_addr(const struct sockaddr *sa, char *addr, size_t len,
			int *port);

/*
 * A view of a connection's input for reading messages in place: the
 * first chain of the input buffer, where after one recv() everything
 * usually is.  Bytes beyond it are copied out instead.  Take the view
 * again after the buffer changes (a move, a drain).
 */
struct conn_span {
	struct evbuffer *in;
	const uint8_t *p; /* the first chain's bytes */
	size_t len;
};

void conn_span_take(struct conn_span *s, struct evbuffer *in);
/* Copy `n` bytes at offset `off` into `buf`, wherever they lie. */
void conn_span_copy(const struct conn_span *s, size_t off, size_t n, void *buf);

/* `n` bytes at offset `off`: in place when they lie in the first chain,
 * else copied into `buf` (which holds n bytes). */
static inline const uint8_t *conn_span_at(const struct conn_span *s, size_t off,
					  size_t n, void *buf)
{
	if (off + n <= s->len)
		return s->p + off;
	conn_span_copy(s, off, n, buf);
	return buf;
}

/*
 * Of `avail` bytes at the start of c's input, how many belong to the
 * message still streaming through (c->fwd_remaining); counts them off.
 */
static inline size_t conn_take_streaming(struct conn *c, size_t avail)
{
	size_t n = avail < c->fwd_remaining ? avail : c->fwd_remaining;

	c->fwd_remaining -= (uint32_t)n;
	return n;
}

#endif
