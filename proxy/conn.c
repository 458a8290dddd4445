/*
 * conn.c -- shared connection plumbing: buffered sends, the relay's byte
 * moves and back-pressure.
 */
#include "pgperf/conn.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/un.h>

void conn_init(struct conn *c, struct pgperf *pp, struct bufferevent *bev)
{
	c->pp = pp;
	c->bev = bev;
	c->id = ++pp->next_id;
	c->connect_us = conn_wall_us();
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
		int w = evbuffer_write_atmost(in, bufferevent_getfd(dst->bev),
					      (ev_ssize_t)n);

		if (w > 0)
			n -= (size_t)w;
		/* EAGAIN or an error: the bufferevent finds out on its write */
	}
	if (n)
		evbuffer_remove_buffer(in, out, n);
}

bool conn_throttle_if_full(struct conn *src, struct conn *dst)
{
	if (!dst->bev || src->throttled ||
	    evbuffer_get_length(bufferevent_get_output(dst->bev)) <
		    CONN_HIGH_WATER)
		return false;
	src->throttled = true;
	bufferevent_disable(src->bev, EV_READ);
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
	bufferevent_enable(src->bev, EV_READ);
	if (dst->bev)
		bufferevent_setwatermark(dst->bev, EV_WRITE, 0, 0);
	return true;
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

int64_t conn_wall_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}
