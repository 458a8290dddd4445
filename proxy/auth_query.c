/*
 * auth_query.c -- looking up a client's secret in PostgreSQL.
 *
 * When a user is not in auth_file and auth_user is set, pgperf logs in to
 * the client's database as auth_user and runs auth_query with the user
 * name as $1 (the default reads pg_catalog.pg_shadow, and gives no
 * password once VALID UNTIL has passed).  The answer - a SCRAM secret or
 * an md5 hash - is what that login is checked against, as if it were in
 * auth_file.  The server login afterwards uses what the client proved
 * (SCRAM keys) or the md5 hash.
 *
 * Threads: blocking libpq on a thread of its own, one connection per
 * conninfo kept open; requests and answers cross under `lock` (held for a
 * list operation only); answers wake the I/O thread through an eventfd.
 */
#include "proxy/auth_query.h"

#include "proto/auth.h"
#include "proxy/client.h"
#include "proxy/config.h"
#include "lib/log.h"

#include <event2/event.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct aq_req {
	struct aq_req *next;
	struct client *cl; /* compared, never followed, off the I/O thread */
	uint64_t client_id;
	char *conninfo, *query, *user; /* owned */
	char *secret;		       /* owned: the answer, or NULL */
};

struct authq {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct aq_req *todo, *done; /* under lock */
	bool stop;		    /* under lock */
	int done_fd;		    /* eventfd: answers are waiting */
	struct event *done_ev;
	/* the lookup thread's own */
	PGconn *conn;
	char *conn_info;
};

static void req_free(struct aq_req *r)
{
	if (r->conninfo) /* holds auth_user's password */
		memset(r->conninfo, 0, strlen(r->conninfo));
	free(r->conninfo);
	free(r->query);
	free(r->user);
	if (r->secret) {
		memset(r->secret, 0, strlen(r->secret));
		free(r->secret);
	}
	free(r);
}

/* Lookup thread: one request, blocking. */
static void look_up(struct authq *q, struct aq_req *r)
{
	const char *params[1] = {r->user};
	PGresult *res;

	if (q->conn && (PQstatus(q->conn) != CONNECTION_OK ||
			strcmp(q->conn_info, r->conninfo) != 0)) {
		PQfinish(q->conn);
		q->conn = NULL;
	}
	if (!q->conn) {
		free(q->conn_info);
		q->conn_info = strdup(r->conninfo);
		q->conn = PQconnectdb(r->conninfo);
		if (PQstatus(q->conn) != CONNECTION_OK) {
			log_warning(
				"auth_query: cannot log in as auth_user: %s",
				PQerrorMessage(q->conn));
			PQfinish(q->conn);
			q->conn = NULL;
			return;
		}
	}
	res = PQexecParams(q->conn, r->query, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warning("auth_query failed: %s", PQerrorMessage(q->conn));
	} else if (PQnfields(res) < 2) {
		log_warning("auth_query must return two columns (name, "
			    "password)");
	} else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1)) {
		r->secret = strdup(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
}

static void *aq_main(void *arg)
{
	struct authq *q = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct aq_req *r;

		while (!q->todo && !q->stop)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->stop)
			break;
		r = q->todo;
		q->todo = r->next;
		pthread_mutex_unlock(&q->lock);
		look_up(q, r);
		pthread_mutex_lock(&q->lock);
		r->next = q->done;
		q->done = r;
		if (write(q->done_fd, &one, sizeof(one)) < 0)
			(void)0; /* a full counter still wakes */
	}
	pthread_mutex_unlock(&q->lock);
	if (q->conn)
		PQfinish(q->conn);
	free(q->conn_info);
	return NULL;
}

/* I/O thread: answers are in; hand each to its client if still there. */
static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgperf *pp = arg;
	struct authq *q = pp->authq;
	struct aq_req *r, *n;
	uint64_t v;

	pgp_clock_tick();
	(void)what;
	if (read(fd, &v, sizeof(v)) < 0)
		(void)0;
	pthread_mutex_lock(&q->lock);
	r = q->done;
	q->done = NULL;
	pthread_mutex_unlock(&q->lock);
	for (; r; r = n) {
		struct list *pos;

		n = r->next;
		list_for_each(pos, &pp->login_clients) {
			struct client *cl =
				list_entry(pos, struct client, node);

			if (cl == r->cl && cl->c.id == r->client_id &&
			    cl->auth_step == AUTH_STEP_LOOKUP) {
				client_lookup_done(cl, r->secret);
				break;
			}
		}
		req_free(r);
	}
}

static struct authq *authq_start(struct pgperf *pp)
{
	struct authq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->done_fd < 0 ||
	    !(q->done_ev = event_new(pp->base, q->done_fd, EV_READ | EV_PERSIST,
				     done_cb, pp)) ||
	    event_add(q->done_ev, NULL) != 0 ||
	    pthread_create(&q->thread, NULL, aq_main, q) != 0) {
		if (q->done_ev)
			event_free(q->done_ev);
		if (q->done_fd >= 0)
			close(q->done_fd);
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->cond);
		free(q);
		return NULL;
	}
	return q;
}

void authq_stop(struct pgperf *pp)
{
	struct authq *q = pp->authq;
	struct aq_req *r, *n;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	for (int i = 0; i < 2; i++)
		for (r = i ? q->done : q->todo; r; r = n) {
			n = r->next;
			req_free(r);
		}
	event_free(q->done_ev);
	close(q->done_fd);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
	pp->authq = NULL;
}

void authq_cancel(struct pgperf *pp, struct client *cl)
{
	struct authq *q = pp->authq;
	struct aq_req **at, *r;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	for (at = &q->todo; (r = *at); at = &r->next)
		if (r->cl == cl && r->client_id == cl->c.id) {
			*at = r->next;
			break;
		}
	pthread_mutex_unlock(&q->lock);
	if (r)
		req_free(r);
}

bool authq_request(struct pgperf *pp, struct client *cl)
{
	const struct config *cfg = pp->cfg;
	const struct db_def *db = config_find_db(cfg, cl->database);
	const struct auth_user *au = userlist_find(&cfg->users, cfg->auth_user);
	struct aq_req *r;
	char ci[2048] = "", port[16];
	bool fits;

	if (!db || !au || au->kind != SECRET_PLAIN) {
		clog_warning(cl,
			     "auth_query: auth_user \"%s\" needs a plain "
			     "password in auth_file",
			     cfg->auth_user);
		return false;
	}
	if (!pp->authq && !(pp->authq = authq_start(pp)))
		return false;
	snprintf(port, sizeof(port), "%d", db->port);
	fits = pgp_conninfo_add(ci, sizeof(ci), "host", db->host) &&
	       pgp_conninfo_add(ci, sizeof(ci), "port", port) &&
	       pgp_conninfo_add(ci, sizeof(ci), "dbname",
				db->dbname ? db->dbname : cl->database) &&
	       pgp_conninfo_add(ci, sizeof(ci), "user", cfg->auth_user) &&
	       pgp_conninfo_add(ci, sizeof(ci), "password", au->secret) &&
	       pgp_conninfo_add(
		       ci, sizeof(ci), "sslmode",
		       config_tls_mode_name(cfg->server_tls_sslmode)) &&
	       (!*cfg->server_tls_ca_file ||
		pgp_conninfo_add(ci, sizeof(ci), "sslrootcert",
				 cfg->server_tls_ca_file)) &&
	       pgp_conninfo_add(ci, sizeof(ci), "connect_timeout", "5") &&
	       /* a lookup never holds the thread (and shutdown) for long */
	       pgp_conninfo_add(ci, sizeof(ci), "options",
				"-c statement_timeout=5000") &&
	       pgp_conninfo_add(ci, sizeof(ci), "keepalives_idle", "10") &&
	       pgp_conninfo_add(ci, sizeof(ci), "application_name",
				"pgperf auth_query");
	if (!fits) {
		memset(ci, 0, sizeof(ci));
		clog_info(cl, "auth_query: connection parameters too long");
		return false;
	}
	if (!(r = calloc(1, sizeof(*r))) || !(r->conninfo = strdup(ci)) ||
	    !(r->query = strdup(cfg->auth_query)) ||
	    !(r->user = strdup(cl->user))) {
		if (r)
			req_free(r);
		return false;
	}
	memset(ci, 0, sizeof(ci));
	r->cl = cl;
	r->client_id = cl->c.id;
	pthread_mutex_lock(&pp->authq->lock);
	{ /* first come, first served */
		struct aq_req **tail = &pp->authq->todo;

		while (*tail)
			tail = &(*tail)->next;
		*tail = r;
	}
	pthread_cond_signal(&pp->authq->cond);
	pthread_mutex_unlock(&pp->authq->lock);
	return true;
}
