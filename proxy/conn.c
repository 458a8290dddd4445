/*
 * conn.c -- shared connection plumbing: buffered sends, the relay's byte
 * moves and back-pressure.
 */
#include "proxy/conn.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

void conn_init(struct conn *c, struct pgperf *pp, struct bufferevent *bev)
{
	c->pp = pp;
	c->bev = bev;
	c->id = ++pp->next_id;
	c->connect_us = pgp_wall_us();
}

/* Bytes asked for per read: what libevent's own reads use at most. */
#define CONN_READ_SIZE 16384

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v;
	ssize_t n;

	(void)what;
	/* a socket bufferevent keeps its input's end frozen between reads */
	evbuffer_unfreeze(in, 0);
	/*
	 * One contiguous extent and recv(): readv() costs more in the
	 * kernel (the file position lock, the iovec copied in) for nothing,
	 * as replies and requests fit in one extent.
	 */
	if (evbuffer_reserve_space(in, CONN_READ_SIZE, &v, 1) != 1) {
		evbuffer_freeze(in, 0);
		c->event_cb(c->bev, BEV_EVENT_READING | BEV_EVENT_ERROR,
			    c->cb_arg);
		return;
	}
	n = recv(fd, v.iov_base, v.iov_len, 0);
	if (n > 0) {
		v.iov_len = (size_t)n;
		evbuffer_commit_space(in, &v, 1);
		evbuffer_freeze(in, 0);
		c->read_cb(c->bev, c->cb_arg); /* may free c */
		return;
	}
	evbuffer_commit_space(in, &v, 0);
	evbuffer_freeze(in, 0);
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	event_del(c->rev);
	c->event_cb(c->bev,
		    BEV_EVENT_READING |
			    (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR),
		    c->cb_arg);
}

void conn_own_reads(struct conn *c, bufferevent_data_cb rcb,
		    bufferevent_event_cb ecb, void *arg)
{
	bool reading;

	if (c->rev || c->tls || !c->bev || bufferevent_get_underlying(c->bev))
		return;
	c->rev = event_new(bufferevent_get_base(c->bev),
			   bufferevent_getfd(c->bev), EV_READ | EV_PERSIST,
			   conn_read_cb, c);
	if (!c->rev)
		return; /* the bufferevent keeps reading */
	c->read_cb = rcb;
	c->event_cb = ecb;
	c->cb_arg = arg;
	reading = (bufferevent_get_enabled(c->bev) & EV_READ) != 0;
	bufferevent_disable(c->bev, EV_READ);
	if (reading)
		conn_read_enable(c);
}

void conn_read_enable(struct conn *c)
{
	if (c->suspendable && c->pp->suspended) {
		c->want_read = true; /* RESUME turns them on */
		return;
	}
	if (c->rev)
		event_add(c->rev, NULL);
	else if (c->bev)
		bufferevent_enable(c->bev, EV_READ);
}

void conn_read_disable(struct conn *c)
{
	c->want_read = false;
	if (c->rev)
		event_del(c->rev);
	else if (c->bev)
		bufferevent_disable(c->bev, EV_READ);
}

static bool conn_reading(const struct conn *c)
{
	if (c->rev)
		return event_pending(c->rev, EV_READ, NULL) != 0;
	return c->bev && (bufferevent_get_enabled(c->bev) & EV_READ);
}

void conn_suspend(struct conn *c)
{
	if (!c->suspendable || !c->bev)
		return;
	if (conn_reading(c)) {
		conn_read_disable(c);
		c->want_read = true;
	}
}

void conn_unsuspend(struct conn *c)
{
	if (c->want_read) {
		c->want_read = false;
		conn_read_enable(c);
	}
}

void conn_free_io(struct conn *c)
{
	if (c->rev) {
		event_free(c->rev);
		c->rev = NULL;
	}
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
}

bool conn_send(struct conn *c, const struct wbuf *b)
{
	if (b->failed || !c->bev)
		return false;
	return bufferevent_write(c->bev, b->data, b->len) == 0;
}

void conn_send_error(struct conn *c, const char *severity, const char *sqlstate,
		     const char *message)
{
	struct wbuf b;

	wb_init(&b);
	wire_build_error(&b, severity, sqlstate, message);
	(void)conn_send(c, &b);
	wb_free(&b);
}

size_t conn_pending_output(const struct conn *c)
{
	struct bufferevent *under;
	size_t n;

	if (!c->bev)
		return 0;
	n = evbuffer_get_length(bufferevent_get_output(c->bev));
	under = bufferevent_get_underlying(c->bev);
	if (under)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

void conn_move(struct conn *src, struct conn *dst, size_t n)
{
	struct evbuffer *in = bufferevent_get_input(src->bev);
	struct evbuffer *out;

	if (!dst || !dst->bev) {
		evbuffer_drain(in, n);
		return;
	}
	out = bufferevent_get_output(dst->bev);
	/*
	 * Fast path: with nothing queued for a plain socket, write straight
	 * from the source's buffer.  Going through the output buffer would cost
	 * a loop iteration and two epoll_ctl calls per message before the
	 * bytes leave; order is kept because the output is empty.
	 */
	if (!dst->tls && evbuffer_get_length(out) == 0) {
		struct evbuffer_iovec v;
		ssize_t w;

		/* send() when the bytes are contiguous, as they nearly always
		 * are: writev() costs more in the kernel */
		if (evbuffer_peek(in, (ev_ssize_t)n, NULL, &v, 1) == 1 &&
		    v.iov_len >= n) {
			w = send(bufferevent_getfd(dst->bev), v.iov_base, n,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				evbuffer_drain(in, (size_t)w);
		} else {
			w = evbuffer_write_atmost(
				in, bufferevent_getfd(dst->bev), (ev_ssize_t)n);
		}
		if (w > 0)
			n -= (size_t)w;
		/* EAGAIN or an error: the bufferevent finds out on its write */
	}
	if (n)
		evbuffer_remove_buffer(in, out, n);
}

void conn_span_take(struct conn_span *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;

	s->in = in;
	if (evbuffer_peek(in, -1, NULL, &v, 1) >= 1) {
		s->p = v.iov_base;
		s->len = v.iov_len;
	} else {
		s->p = NULL;
		s->len = 0;
	}
}

void conn_span_copy(const struct conn_span *s, size_t off, size_t n, void *buf)
{
	struct evbuffer_ptr at;

	evbuffer_ptr_set(s->in, &at, off, EVBUFFER_PTR_SET);
	evbuffer_copyout_from(s->in, &at, buf, n);
}

bool conn_throttle_if_full(struct conn *src, struct conn *dst)
{
	if (!dst->bev || src->throttled ||
	    evbuffer_get_length(bufferevent_get_output(dst->bev)) <
		    CONN_HIGH_WATER)
		return false;
	src->throttled = true;
	conn_read_disable(src);
	/* dst's write callback fires once its output falls to the low mark */
	bufferevent_setwatermark(dst->bev, EV_WRITE, CONN_LOW_WATER, 0);
	return true;
}

bool conn_unthrottle_if_drained(struct conn *src, struct conn *dst)
{
	if (!src->throttled || src->closing || !src->bev)
		return false;
	if (dst->bev && evbuffer_get_length(bufferevent_get_output(dst->bev)) >
				CONN_LOW_WATER)
		return false;
	src->throttled = false;
	conn_read_enable(src);
	if (dst->bev)
		bufferevent_setwatermark(dst->bev, EV_WRITE, 0, 0);
	return true;
}

void conn_tcp_options(int fd, const struct config *cfg)
{
	int one = 1, on = cfg->tcp_keepalive ? 1 : 0;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	if (!on)
		return;
	/* 0 leaves the kernel's (net.ipv4.tcp_keepalive_*) in place */
	if (cfg->tcp_keepidle > 0)
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &cfg->tcp_keepidle,
			   sizeof(cfg->tcp_keepidle));
	if (cfg->tcp_keepintvl > 0)
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &cfg->tcp_keepintvl,
			   sizeof(cfg->tcp_keepintvl));
	if (cfg->tcp_keepcnt > 0)
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cfg->tcp_keepcnt,
			   sizeof(cfg->tcp_keepcnt));
}

enum pgp_status conn_connect(struct bufferevent *bev, const char *host,
			     int port, char sqlstate[6], char *err,
			     size_t errlen)
{
	int rc;

	if (host[0] == '/') {
		struct sockaddr_un un;

		memset(&un, 0, sizeof(un));
		un.sun_family = AF_UNIX;
		snprintf(un.sun_path, sizeof(un.sun_path), "%s/.s.PGSQL.%d",
			 host, port);
		rc = bufferevent_socket_connect(bev, (struct sockaddr *)&un,
						sizeof(un));
	} else {
		struct evutil_addrinfo hints, *res = NULL;
		char portbuf[16];
		int gai;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		snprintf(portbuf, sizeof(portbuf), "%d", port);
		/* host names resolve synchronously: give addresses in production */
		gai = evutil_getaddrinfo(host, portbuf, &hints, &res);
		if (gai != 0 || !res) {
			snprintf(sqlstate, 6, "08001");
			snprintf(
				err, errlen,
				"could not translate host name \"%s\" to address: %s",
				host, evutil_gai_strerror(gai));
			return PGP_ERR_IO;
		}
		rc = bufferevent_socket_connect(bev, res->ai_addr,
						(int)res->ai_addrlen);
		evutil_freeaddrinfo(res);
	}
	if (rc != 0) {
		snprintf(sqlstate, 6, "08006");
		snprintf(err, errlen,
			 "could not connect to server at %s:%d: %s", host, port,
			 strerror(errno));
		return PGP_ERR_IO;
	}
	return PGP_OK;
}

void conn_describe_addr(const struct sockaddr *sa, char *addr, size_t len,
			int *port)
{
	*port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)len);
		*port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)len);
		*port = ntohs(in6->sin6_port);
	} else {
		snprintf(addr, len, "unix");
	}
}
