/*
 * admin_hold.c -- the console commands that hold traffic back, with
 * PgBouncer's names and meanings (admin_hold.h).
 *
 * PAUSE waits for what it promises: the command answers once every server
 * connection of the paused databases is gone (in transaction mode when
 * their transactions have ended, in session mode when their clients have
 * left), so a script can restart PostgreSQL right after it.  Meanwhile the
 * console client that sent it reads nothing more; a timer and the reaper
 * (which runs after every close) look again.
 */
#include "console/admin_hold.h"

#include "console/admin.h"
#include "proxy/client.h"
#include "proxy/conn.h"
#include "proxy/daemon.h"
#include "lib/log.h"
#include "proxy/pool.h"
#include "proxy/server.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum hold_wait {
	HOLD_NONE,
	HOLD_PAUSE,	 /* until the databases have no servers */
	HOLD_SUSPEND,	 /* until every output buffer is empty */
	HOLD_WAIT_CLOSE, /* until no server waits to be closed */
};

static const char *const wait_tags[] = {"", "PAUSE", "SUSPEND", "WAIT_CLOSE"};

#define HOLD_RECHECK_MS 20

static bool matches(const struct pool *p, const char *db)
{
	return !db || strcmp(p->database, db) == 0;
}

static void close_list(struct list *servers, enum close_reason reason,
		       const char *why)
{
	struct list *pos, *tmp;

	list_for_each_safe(pos, tmp, servers)
		server_close(list_entry(pos, struct server, node), reason, "%s",
			     why);
}

static void mark_list(struct list *servers)
{
	struct list *pos;

	list_for_each(pos, servers)
		list_entry(pos, struct server, node)->close_needed = true;
}

static bool list_has_close_needed(const struct list *servers)
{
	const struct list *pos;

	list_for_each(pos, servers)
		if (list_entry(pos, const struct server, node)->close_needed)
			return true;
	return false;
}

static bool list_has_output(const struct list *servers)
{
	const struct list *pos;

	list_for_each(pos, servers)
		if (conn_pending_output(
			    &list_entry(pos, const struct server, node)->c))
			return true;
	return false;
}

/* Is what `kind` waits for (over the pools of `db`, or all) done? */
static bool hold_done(struct pgperf *pp, int kind, const char *db)
{
	struct list *pos;

	if (kind == HOLD_SUSPEND) {
		list_for_each(pos, &pp->all_clients) {
			struct client *cl =
				list_entry(pos, struct client, all_node);

			if (cl->c.suspendable && !cl->c.closing &&
			    conn_pending_output(&cl->c))
				return false;
		}
	}
	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);

		if (!matches(p, db))
			continue;
		switch (kind) {
		case HOLD_PAUSE:
			if (pool_server_count(p))
				return false;
			break;
		case HOLD_SUSPEND:
			if (list_has_output(&p->active_servers) ||
			    list_has_output(&p->idle_servers) ||
			    list_has_output(&p->tested_servers))
				return false;
			break;
		case HOLD_WAIT_CLOSE:
			if (list_has_close_needed(&p->login_servers) ||
			    list_has_close_needed(&p->idle_servers) ||
			    list_has_close_needed(&p->active_servers) ||
			    list_has_close_needed(&p->tested_servers))
				return false;
			break;
		default:
			break;
		}
	}
	return true;
}

/* Answer a waiting console client, with an error when `error` is set;
 * then it reads on. */
static void finish(struct client *cl, const char *error)
{
	struct wbuf out;

	list_del(&cl->hold_node);
	wb_init(&out);
	if (error)
		wire_build_error(&out, "ERROR", "57014", error);
	else
		wire_build_command_complete(&out, wait_tags[cl->hold_wait]);
	wire_build_ready(&out, 'I');
	cl->hold_wait = HOLD_NONE;
	pgp_free(cl->hold_db);
	cl->hold_db = NULL;
	if (!conn_send(&cl->c, &out)) {
		wb_free(&out);
		client_close(cl, CLOSE_DISCONNECT, NULL,
			     "cannot send admin reply");
		return;
	}
	wb_free(&out);
	conn_read_enable(&cl->c);
	admin_input(cl); /* what it sent meanwhile */
}

static void recheck_cb(evutil_socket_t fd, short what, void *arg)
{
	pgp_clock_tick();
	(void)fd;
	(void)what;
	admin_hold_check(arg);
}

void admin_hold_check(struct pgperf *pp)
{
	struct list *pos, *tmp;

	list_for_each_safe(pos, tmp, &pp->hold_waiters) {
		struct client *cl = list_entry(pos, struct client, hold_node);

		if (hold_done(pp, cl->hold_wait, cl->hold_db)) {
			log_info("%s: %s %s done", cl->c.label,
				 wait_tags[cl->hold_wait],
				 cl->hold_db ? cl->hold_db : "(all)");
			finish(cl, NULL);
			/* finish() may have run more commands: start over */
			admin_hold_check(pp);
			return;
		}
	}
	if (!list_empty(&pp->hold_waiters) && pp->hold_timer) {
		struct timeval tv = {0, HOLD_RECHECK_MS * 1000};

		evtimer_add(pp->hold_timer, &tv);
	}
}

void admin_hold_forget(struct client *cl)
{
	if (cl->hold_wait == HOLD_NONE)
		return;
	list_del(&cl->hold_node);
	cl->hold_wait = HOLD_NONE;
	pgp_free(cl->hold_db);
	cl->hold_db = NULL;
}

/* Start waiting; false (and the client closed) when out of memory. */
static bool wait_for(struct client *cl, int kind, const char *db)
{
	struct pgperf *pp = cl->c.pp;

	if (db && !(cl->hold_db = pgp_strdup(db))) {
		client_close(cl, CLOSE_RESOURCES, "53200", "out of memory");
		return false;
	}
	if (!pp->hold_timer &&
	    !(pp->hold_timer = evtimer_new(pp->base, recheck_cb, pp))) {
		pgp_free(cl->hold_db);
		cl->hold_db = NULL;
		client_close(cl, CLOSE_RESOURCES, "53200", "out of memory");
		return false;
	}
	cl->hold_wait = kind;
	list_append(&pp->hold_waiters, &cl->hold_node);
	conn_read_disable(&cl->c);
	admin_hold_check(pp);
	return true;
}

/* The idle servers of the pools of `db` (or all) close now; with `mark`
 * (RECONNECT) the others close when released.  Without it (PAUSE) the
 * pools are held, and pool_server_ready() closes them. */
static void close_servers(struct pgperf *pp, const char *db, const char *why,
			  bool mark)
{
	struct list *pos;

	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);

		if (!matches(p, db))
			continue;
		if (mark) {
			mark_list(&p->login_servers);
			mark_list(&p->active_servers);
			mark_list(&p->tested_servers);
		}
		close_list(&p->idle_servers,
			   mark ? CLOSE_RECONNECT : CLOSE_ADMIN, why);
	}
}

static void set_held(struct pgperf *pp, const char *db, bool held)
{
	struct list *pos;

	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);

		if (matches(p, db)) {
			p->held = held;
			p->dispatch_pending = true;
		}
	}
}

/* SUSPEND and RESUME: every relaying connection stops or starts reading. */
static void suspend_all(struct pgperf *pp, bool on)
{
	struct list *pos;
	struct list *lists[4];

	pp->suspended = on;
	list_for_each(pos, &pp->all_clients) {
		struct client *cl = list_entry(pos, struct client, all_node);

		if (on)
			conn_suspend(&cl->c);
		else
			conn_unsuspend(&cl->c);
	}
	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);
		struct list *spos;

		lists[0] = &p->login_servers;
		lists[1] = &p->idle_servers;
		lists[2] = &p->active_servers;
		lists[3] = &p->tested_servers;
		for (int i = 0; i < 4; i++)
			list_for_each(spos, lists[i]) {
				struct server *sv =
					list_entry(spos, struct server, node);

				if (on)
					conn_suspend(&sv->c);
				else
					conn_unsuspend(&sv->c);
			}
	}
}

/* RESUME: waiting PAUSEs and SUSPENDs it covers end with an error. */
static void cancel_waiters(struct pgperf *pp, const char *db)
{
	struct list *pos, *tmp;

	list_for_each_safe(pos, tmp, &pp->hold_waiters) {
		struct client *cl = list_entry(pos, struct client, hold_node);

		if (cl->hold_wait == HOLD_WAIT_CLOSE)
			continue;
		if (db && cl->hold_db && strcmp(db, cl->hold_db) != 0)
			continue;
		if (db && !cl->hold_db)
			continue; /* a PAUSE of everything goes on */
		finish(cl, "canceled by RESUME");
		/* finish() may run commands that change the list */
		cancel_waiters(pp, db);
		return;
	}
}

static bool resume(struct pgperf *pp, const char *db, char *err, size_t n)
{
	if (db) {
		if (!kv_get(&pp->held_dbs, db)) {
			snprintf(err, n, "database \"%.200s\" is not paused",
				 db);
			return false;
		}
		kv_del(&pp->held_dbs, db);
		set_held(pp, db, false);
	} else {
		if (!pp->paused && !pp->suspended && !pp->held_dbs.n) {
			snprintf(err, n, "pgperf is not paused or suspended");
			return false;
		}
		pp->paused = false;
		kv_free(&pp->held_dbs);
		set_held(pp, NULL, false);
		if (pp->suspended)
			suspend_all(pp, false);
	}
	cancel_waiters(pp, db);
	daemon_dispatch_all(pp);
	return true;
}

/* KILL db: its clients and servers go now; new clients wait for RESUME. */
static void kill_db(struct pgperf *pp, const char *db)
{
	struct list *pos;

	set_held(pp, db, true);
	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);
		struct list *lists[] = {&p->waiting, &p->active_clients,
					&p->idle_clients};

		if (!matches(p, db))
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
			struct list *cpos, *ctmp;

			list_for_each_safe(cpos, ctmp, lists[i])
				client_close(
					list_entry(cpos, struct client, node),
					CLOSE_ADMIN, "57P01",
					"terminating connection due to "
					"administrator command (KILL)");
		}
		close_list(&p->login_servers, CLOSE_ADMIN, "KILL");
		close_list(&p->idle_servers, CLOSE_ADMIN, "KILL");
		close_list(&p->active_servers, CLOSE_ADMIN, "KILL");
		close_list(&p->tested_servers, CLOSE_ADMIN, "KILL");
	}
}

void admin_hold_signal(struct pgperf *pp, bool pause)
{
	char err[128];

	if (pause) {
		log_info("SIGUSR1: PAUSE");
		pp->paused = true;
		close_servers(pp, NULL, "PAUSE", false);
	} else {
		log_info("SIGUSR2: RESUME");
		if (!resume(pp, NULL, err, sizeof(err)))
			log_info("SIGUSR2: %s", err);
	}
}

/* The command's word and its optional database name: `PAUSE`,
 * `pause appdb`, `PAUSE "my db"`.  False when it has more. */
static bool split(const char *sql, char *word, size_t wcap, char *db,
		  size_t dcap)
{
	size_t n = 0;

	while (*sql && (isalpha((unsigned char)*sql) || *sql == '_')) {
		if (n + 1 >= wcap)
			return false;
		word[n++] = (char)tolower((unsigned char)*sql++);
	}
	word[n] = '\0';
	*db = '\0';
	if (!*sql)
		return n > 0;
	if (!isspace((unsigned char)*sql))
		return false;
	while (isspace((unsigned char)*sql))
		sql++;
	n = 0;
	if (*sql == '"') {
		for (sql++; *sql; sql++) {
			if (*sql == '"' && sql[1] == '"')
				sql++;
			else if (*sql == '"')
				break;
			if (n + 1 >= dcap)
				return false;
			db[n++] = *sql;
		}
		if (*sql != '"')
			return false;
		sql++;
	} else {
		while (*sql && !isspace((unsigned char)*sql)) {
			if (n + 1 >= dcap)
				return false;
			db[n++] = *sql++;
		}
	}
	db[n] = '\0';
	while (isspace((unsigned char)*sql))
		sql++;
	return *sql == '\0' && n > 0;
}

static bool known_db(struct pgperf *pp, const char *db)
{
	struct list *pos;

	for (int i = 0; i < pp->cfg->ndbs; i++)
		if (strcmp(pp->cfg->dbs[i].name, db) == 0)
			return true;
	list_for_each(pos, &pp->pools)
		if (strcmp(list_entry(pos, struct pool, node)->database, db) ==
		    0)
			return true;
	return false;
}

/* One of these commands, split into its word and database name (or ""). */
static bool parse(const char *sql, char word[16], char db[128])
{
	static const char *const words[] = {
		"pause",   "resume", "suspend",	  "kill",
		"disable", "enable", "reconnect", "wait_close",
	};

	if (!split(sql, word, 16, db, 128))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcmp(word, words[i]) == 0)
			return true;
	return false;
}

bool admin_hold_is_command(const char *sql)
{
	char word[16], db[128];

	return parse(sql, word, db);
}

enum admin_hold_result admin_hold_command(struct client *cl, const char *sql,
					  struct wbuf *out)
{
	struct pgperf *pp = cl->c.pp;
	char word[16], dbname[128], err[300];
	const char *db;

	if (!parse(sql, word, dbname))
		return ADMIN_HOLD_NOT_MINE;
	db = *dbname ? dbname : NULL;
	if (db && !known_db(pp, db)) {
		snprintf(err, sizeof(err), "no such database: %.200s", db);
		wire_build_error(out, "ERROR", "3D000", err);
		return ADMIN_HOLD_DONE;
	}
	if (!db && (strcmp(word, "kill") == 0 || strcmp(word, "disable") == 0 ||
		    strcmp(word, "enable") == 0)) {
		snprintf(err, sizeof(err), "%s needs a database name", word);
		wire_build_error(out, "ERROR", "42601", err);
		return ADMIN_HOLD_DONE;
	}
	if (db && strcmp(word, "suspend") == 0) {
		wire_build_error(out, "ERROR", "42601",
				 "SUSPEND applies to all databases: no name");
		return ADMIN_HOLD_DONE;
	}
	log_info("%s: %s%s%s", cl->c.label, word, db ? " " : "", db ? db : "");
	if (strcmp(word, "pause") == 0) {
		if (db) {
			if (!kv_set(&pp->held_dbs, db, "pause")) {
				wire_build_error(out, "ERROR", "53200",
						 "out of memory");
				return ADMIN_HOLD_DONE;
			}
			set_held(pp, db, true);
		} else {
			pp->paused = true;
		}
		close_servers(pp, db, "PAUSE", false);
		return wait_for(cl, HOLD_PAUSE, db) ? ADMIN_HOLD_WAITING
						    : ADMIN_HOLD_CLOSED;
	}
	if (strcmp(word, "suspend") == 0) {
		if (!pp->suspended)
			suspend_all(pp, true);
		return wait_for(cl, HOLD_SUSPEND, NULL) ? ADMIN_HOLD_WAITING
							: ADMIN_HOLD_CLOSED;
	}
	if (strcmp(word, "wait_close") == 0)
		return wait_for(cl, HOLD_WAIT_CLOSE, db) ? ADMIN_HOLD_WAITING
							 : ADMIN_HOLD_CLOSED;
	if (strcmp(word, "resume") == 0) {
		if (!resume(pp, db, err, sizeof(err)))
			wire_build_error(out, "ERROR", "55000", err);
		else
			wire_build_command_complete(out, "RESUME");
	} else if (strcmp(word, "kill") == 0) {
		if (!kv_set(&pp->held_dbs, db, "kill")) {
			wire_build_error(out, "ERROR", "53200",
					 "out of memory");
			return ADMIN_HOLD_DONE;
		}
		kill_db(pp, db);
		wire_build_command_complete(out, "KILL");
	} else if (strcmp(word, "disable") == 0) {
		if (!kv_set(&pp->disabled_dbs, db, "disable"))
			wire_build_error(out, "ERROR", "53200",
					 "out of memory");
		else
			wire_build_command_complete(out, "DISABLE");
	} else if (strcmp(word, "enable") == 0) {
		kv_del(&pp->disabled_dbs, db);
		wire_build_command_complete(out, "ENABLE");
	} else if (strcmp(word, "reconnect") == 0) {
		close_servers(pp, db, "RECONNECT", true);
		daemon_dispatch_all(pp);
		wire_build_command_complete(out, "RECONNECT");
	} else {
		return ADMIN_HOLD_NOT_MINE;
	}
	return ADMIN_HOLD_DONE;
}

bool admin_hold_db_paused(const struct pgperf *pp, const char *db)
{
	return pp->paused || pp->suspended || kv_get(&pp->held_dbs, db);
}

bool admin_hold_db_disabled(const struct pgperf *pp, const char *db)
{
	return kv_get(&pp->disabled_dbs, db) != NULL;
}
