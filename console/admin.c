/*
 * admin.c -- the admin console, reached by connecting to the virtual
 * database "pgperf".  It speaks the simple query protocol only; the column
 * names follow PgBouncer's where the concept is the same, so existing
 * scripts and exporters keep working.  This file: the connection, the
 * pooling and configuration commands, and dispatch; the commands over
 * statistics, findings and the report are in admin_analysis.c.
 */
#include "console/admin.h"
#include "console/admin_hold.h"

#include "admin_int.h"
#include "analyzer/analyzer.h"

#include "proxy/client.h"
#include "proxy/conn.h"
#include "proxy/daemon.h"
#include "console/fence.h"
#include "lib/log.h"
#include "proxy/pool.h"
#include "proxy/pool_state.h"
#include "proxy/server.h"
#include "proto/session_state.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ADMIN_QUERY_MAX (64 * 1024)
#define ADMIN_MAX_COLS 24

void admin_result_begin(struct admin_result *r, struct wbuf *out,
			const char *const *cols, int ncols)
{
	r->out = out;
	r->ncols = ncols;
	r->nrows = 0;
	wire_build_row_description(out, cols, ncols);
}

void admin_result_row(struct admin_result *r, const char *const *vals)
{
	wire_build_data_row(r->out, vals, r->ncols);
	r->nrows++;
}

void admin_result_end(struct admin_result *r, const char *tag)
{
	wire_build_command_complete(r->out, tag);
}

/* Formatting helpers writing into caller-provided scratch buffers. */
const char *admin_fmt_int(char *buf, long long v)
{
	snprintf(buf, 32, "%lld", v);
	return buf;
}

const char *admin_fmt_time(char *buf, int64_t wall_us)
{
	time_t t = (time_t)(wall_us / 1000000);
	struct tm tm;

	if (wall_us <= 0)
		return NULL;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

const char *admin_fmt_ms(char *buf, uint64_t us)
{
	snprintf(buf, 32, "%.3f", (double)us / 1000.0);
	return buf;
}

void admin_welcome(struct client *cl)
{
	static const char *const params[][2] = {
		{"server_version", "15.0"},
		{"server_encoding", "UTF8"},
		{"client_encoding", "UTF8"},
		{"DateStyle", "ISO, MDY"},
		{"TimeZone", "UTC"},
		{"integer_datetimes", "on"},
		{"standard_conforming_strings", "on"},
		{"is_superuser", "off"},
	};
	struct wbuf b;

	wb_init(&b);
	wire_build_auth(&b, WIRE_AUTH_OK, NULL, 0);
	for (size_t i = 0; i < ARRAY_SIZE(params); i++)
		wire_build_param_status(&b, params[i][0], params[i][1]);
	wire_build_param_status(&b, "application_name", client_app_name(cl));
	wire_build_backend_key(&b, cl->cancel_pid, cl->cancel_key);
	wire_build_ready(&b, 'I');
	if (!conn_send(&cl->c, &b))
		client_close(cl, CLOSE_RESOURCES, "53200", "out of memory");
	wb_free(&b);
}

/* ---- SHOW commands ---- */

static void show_pools(struct pgperf *pp, struct wbuf *out)
{
	static const char *const cols[] = {"database",
					   "user",
					   "cl_active",
					   "cl_waiting",
					   "cl_active_cancel_req",
					   "cl_waiting_cancel_req",
					   "sv_active",
					   "sv_active_cancel",
					   "sv_being_canceled",
					   "sv_idle",
					   "sv_used",
					   "sv_tested",
					   "sv_login",
					   "maxwait",
					   "maxwait_us",
					   "pool_mode",
					   "cl_pinned"};
	struct admin_result r;
	struct list *pos;
	int64_t now = pgp_now_us();

	admin_result_begin(&r, out, cols, (int)ARRAY_SIZE(cols));
	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);
		char b[12][32];
		int64_t maxwait = 0;
		const char *v[17];
		long long pinned = 0;
		struct list *cpos;

		list_for_each(cpos, &p->active_clients) {
			struct client *cl =
				list_entry(cpos, struct client, node);

			pinned += cl->server && cl->server->session_state;
		}

		if (!list_empty(&p->waiting)) {
			struct client *first = list_entry(p->waiting.next,
							  struct client, node);

			maxwait = now - first->wait_start_us;
		}
		v[0] = p->database;
		v[1] = p->user;
		/* idle transaction-mode clients count as active, as in PgBouncer */
		v[2] = admin_fmt_int(
			b[0], (long long)(list_count(&p->active_clients) +
					  list_count(&p->idle_clients)));
		v[3] = admin_fmt_int(b[1], (long long)list_count(&p->waiting));
		v[4] = "0";
		v[5] = "0";
		v[6] = admin_fmt_int(b[2],
				     (long long)list_count(&p->active_servers));
		v[7] = "0";
		v[8] = "0";
		v[9] = admin_fmt_int(b[3],
				     (long long)list_count(&p->idle_servers));
		v[10] = "0";
		v[11] = admin_fmt_int(
			b[4], (long long)list_count(&p->tested_servers));
		v[12] = admin_fmt_int(b[5],
				      (long long)list_count(&p->login_servers));
		v[13] = admin_fmt_int(b[6], (long long)(maxwait / 1000000));
		v[14] = admin_fmt_int(b[7], (long long)(maxwait % 1000000));
		v[15] = config_pool_mode_name(pool_effective_mode(p));
		v[16] = admin_fmt_int(b[8], pinned);
		admin_result_row(&r, v);
	}
	admin_result_end(&r, "SHOW");
}

/* SHOW CLIENTS: all but the last two; SHOW SERVERS adds those, what
 * transaction mode tracks per server connection */
static const char *const conn_cols[] = {
	"type",		"user",	      "database",
	"state",	"addr",	      "port",
	"local_addr",	"local_port", "connect_time",
	"request_time", "wait",	      "wait_us",
	"close_needed", "ptr",	      "link",
	"remote_pid",	"tls",	      "application_name",
	"pinned",	"prepared",   "replies_due"};
#define CLIENT_NCOLS ((int)ARRAY_SIZE(conn_cols) - 2)

static void client_row(struct admin_result *r, struct client *cl, int64_t now)
{
	char b[10][48];
	const char *v[19];
	int64_t wait =
		cl->state == CL_WAIT_SERVER ? now - cl->wait_start_us : 0;

	v[0] = "C";
	v[1] = cl->user ? cl->user : "";
	v[2] = cl->database ? cl->database : "";
	v[3] = client_state_name(cl->state);
	v[4] = cl->c.addr;
	v[5] = admin_fmt_int(b[0], cl->c.port);
	v[6] = cl->c.local_addr;
	v[7] = admin_fmt_int(b[1], cl->c.local_port);
	v[8] = admin_fmt_time(b[2], cl->c.connect_us);
	v[9] = admin_fmt_time(b[3], cl->request_us ? cl->request_us
						   : cl->c.connect_us);
	v[10] = admin_fmt_int(b[4], (long long)(wait / 1000000));
	v[11] = admin_fmt_int(b[5], (long long)(wait % 1000000));
	v[12] = cl->drain_pending ? "1" : "0";
	snprintf(b[6], sizeof(b[6]), "C-%llu", (unsigned long long)cl->c.id);
	v[13] = b[6];
	if (cl->server)
		snprintf(b[7], sizeof(b[7]), "S-%llu",
			 (unsigned long long)cl->server->c.id);
	else
		b[7][0] = '\0';
	v[14] = b[7];
	v[15] = admin_fmt_int(b[8], cl->cancel_pid);
	v[16] = cl->c.tls ? "TLS" : "";
	v[17] = client_app_name(cl);
	/* why a transaction-mode client is kept on its server */
	v[18] = cl->server ? session_state_reason(cl->server->session_state)
			   : "";
	admin_result_row(r, v);
}

static void show_clients(struct pgperf *pp, struct wbuf *out)
{
	struct admin_result r;
	struct list *pos;
	int64_t now = pgp_now_us();

	admin_result_begin(&r, out, conn_cols, CLIENT_NCOLS);
	list_for_each(pos, &pp->all_clients) {
		struct client *cl = list_entry(pos, struct client, all_node);

		if (cl->state != CL_CLOSING)
			client_row(&r, cl, now);
	}
	admin_result_end(&r, "SHOW");
}

static void server_row(struct admin_result *r, struct server *sv)
{
	char b[8][48];
	const char *v[21];

	v[0] = "S";
	v[1] = sv->pool->target.user;
	v[2] = sv->pool->target.dbname;
	v[3] = server_state_name(sv->state);
	v[4] = sv->pool->target.host;
	v[5] = admin_fmt_int(b[0], sv->pool->target.port);
	v[6] = "";
	v[7] = "0";
	v[8] = admin_fmt_time(b[1], sv->c.connect_us);
	v[9] = admin_fmt_time(b[2], sv->request_us ? sv->request_us
						   : sv->c.connect_us);
	v[10] = "0";
	v[11] = "0";
	v[12] = sv->close_needed ? "1" : "0";
	snprintf(b[3], sizeof(b[3]), "S-%llu", (unsigned long long)sv->c.id);
	v[13] = b[3];
	if (sv->client)
		snprintf(b[4], sizeof(b[4]), "C-%llu",
			 (unsigned long long)sv->client->c.id);
	else
		b[4][0] = '\0';
	v[14] = b[4];
	v[15] = admin_fmt_int(b[5], sv->backend_pid);
	v[16] = sv->c.tls ? "TLS" : "";
	v[17] = kv_get(&sv->params, "application_name")
			? kv_get(&sv->params, "application_name")
			: "";
	/* the session state this connection holds, if any */
	v[18] = session_state_reason(sv->session_state);
	/* transaction mode: statements it holds, replies still due */
	v[19] = admin_fmt_int(b[6], (long long)prep_server_count(&sv->prep));
	v[20] = admin_fmt_int(b[7], (long long)sv->pq.n);
	admin_result_row(r, v);
}

static void show_servers(struct pgperf *pp, struct wbuf *out)
{
	struct admin_result r;
	struct list *pos, *spos;

	admin_result_begin(&r, out, conn_cols, (int)ARRAY_SIZE(conn_cols));
	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);
		struct list *lists[] = {&p->active_servers, &p->idle_servers,
					&p->tested_servers, &p->login_servers};

		for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
			list_for_each(spos, lists[i])
				server_row(&r, list_entry(spos, struct server,
							  node));
	}
	admin_result_end(&r, "SHOW");
}

/*
 * Pooling hazards: session features that pinned clients in transaction
 * mode (or were reset away with transaction_pinning = off), per pool and
 * kind, for the findings export (kind pooling_hazard).
 */
static void show_hazards(struct pgperf *pp, struct wbuf *out)
{
	static const char *const cols[] = {"database", "user",	  "reason",
					   "clients",  "pinning", "last_seen"};
	static const char *const reasons[POOL_HAZARD_KINDS] = {
#define HAZARD_NAME(name, bit, text) [bit] = text,
		SESSION_STATE_LIST(HAZARD_NAME)
#undef HAZARD_NAME
	};
	struct admin_result r;
	struct list *pos;

	admin_result_begin(&r, out, cols, (int)ARRAY_SIZE(cols));
	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);

		for (int k = 0; k < POOL_HAZARD_KINDS; k++) {
			char n[24], t[32];
			const char *v[6];

			if (!p->hazard_clients[k])
				continue;
			snprintf(n, sizeof(n), "%llu",
				 (unsigned long long)p->hazard_clients[k]);
			v[0] = p->database;
			v[1] = p->user;
			v[2] = reasons[k];
			v[3] = n;
			v[4] = pp->cfg->transaction_pinning ? "on" : "off";
			v[5] = admin_fmt_time(t, p->hazard_last_us[k]);
			admin_result_row(&r, v);
		}
	}
	admin_result_end(&r, "SHOW");
}

static void show_databases(struct pgperf *pp, struct wbuf *out)
{
	static const char *const cols[] = {"name",
					   "host",
					   "port",
					   "database",
					   "force_user",
					   "pool_size",
					   "min_pool_size",
					   "reserve_pool",
					   "pool_mode",
					   "max_connections",
					   "current_connections",
					   "paused",
					   "disabled"};
	struct admin_result r;
	const struct config *cfg = pp->cfg;

	admin_result_begin(&r, out, cols, (int)ARRAY_SIZE(cols));
	for (int i = 0; i < cfg->ndbs; i++) {
		const struct db_def *d = &cfg->dbs[i];
		char b[6][32];
		const char *v[13];
		int current = 0;
		struct list *pos;

		list_for_each(pos, &pp->pools) {
			struct pool *p = list_entry(pos, struct pool, node);

			if (config_find_db(cfg, p->database) == d)
				current += pool_server_count(p);
		}
		v[0] = d->name;
		v[1] = d->host;
		v[2] = admin_fmt_int(b[0], d->port);
		v[3] = d->dbname ? d->dbname : "";
		v[4] = d->user ? d->user : "";
		v[5] = admin_fmt_int(b[1], d->pool_size >= 0
						   ? d->pool_size
						   : cfg->default_pool_size);
		v[6] = admin_fmt_int(b[2], d->min_pool_size >= 0
						   ? d->min_pool_size
						   : cfg->min_pool_size);
		v[7] = "0";
		v[8] = config_pool_mode_name(
			d->pool_mode >= 0 ? d->pool_mode : cfg->pool_mode);
		v[9] = admin_fmt_int(b[3], cfg->max_db_connections);
		v[10] = admin_fmt_int(b[4], current);
		v[11] = admin_hold_db_paused(pp, d->name) ? "1" : "0";
		v[12] = admin_hold_db_disabled(pp, d->name) ? "1" : "0";
		admin_result_row(&r, v);
	}
	admin_result_end(&r, "SHOW");
}

static void config_row(void *arg, const char *key, const char *value,
		       const char *def, bool reloadable)
{
	const char *v[4] = {key, value, def, reloadable ? "yes" : "no"};

	admin_result_row(arg, v);
}

static void show_config(struct pgperf *pp, struct wbuf *out)
{
	static const char *const cols[] = {"key", "value", "default",
					   "changeable"};
	struct admin_result r;

	admin_result_begin(&r, out, cols, 4);
	config_show(pp->cfg, config_row, &r);
	admin_result_end(&r, "SHOW");
}

/* SHOW CLOSES: connections closed since start, per side and reason. */
static void show_closes(struct pgperf *pp, struct wbuf *out)
{
	static const char *const cols[] = {"side", "reason", "closed",
					   "meaning"};
	struct admin_result r;

	admin_result_begin(&r, out, cols, (int)ARRAY_SIZE(cols));
	for (int side = 0; side < 2; side++)
		for (int k = 0; k < CLOSE_REASON_COUNT; k++) {
			char n[32];
			const char *v[4];

			v[0] = side ? "server" : "client";
			v[1] = close_reason_name(k);
			v[2] = admin_fmt_int(
				n, (long long)(side ? pp->server_closes[k]
						    : pp->client_closes[k]));
			v[3] = close_reason_meaning(k);
			admin_result_row(&r, v);
		}
	admin_result_end(&r, "SHOW");
}

static void show_version(struct wbuf *out)
{
	static const char *const cols[] = {"version"};
	const char *v[] = {"pgperf " PGPERF_VERSION};
	struct admin_result r;

	admin_result_begin(&r, out, cols, 1);
	admin_result_row(&r, v);
	admin_result_end(&r, "SHOW");
}

/* ---- statistics ---- */

static void add_stats(struct pool_stats *d, const struct pool_stats *s)
{
	d->xact_count += s->xact_count;
	d->query_count += s->query_count;
	d->xact_us += s->xact_us;
	d->query_us += s->query_us;
	d->recv += s->recv;
	d->sent += s->sent;
	d->wait_us += s->wait_us;
	d->wait_count += s->wait_count;
}

uint64_t admin_per(uint64_t a, uint64_t b)
{
	return b ? a / b : 0;
}

/* SHOW STATS: PgBouncer's columns, one row per database. */
static void show_stats(struct pgperf *pp, struct wbuf *out)
{
	static const char *const cols[] = {
		"database",	    "total_xact_count", "total_query_count",
		"total_received",   "total_sent",	"total_xact_time",
		"total_query_time", "total_wait_time",	"avg_xact_count",
		"avg_query_count",  "avg_recv",		"avg_sent",
		"avg_xact_time",    "avg_query_time",	"avg_wait_time"};
	struct admin_result r;
	struct list *pos, *pos2;

	admin_result_begin(&r, out, cols, (int)ARRAY_SIZE(cols));
	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);
		struct pool_stats t = {0}, a = {0};
		bool first = true;
		char b[14][32];
		const char *v[15];

		/* pools of one database are summed in its first pool's row */
		list_for_each(pos2, &pp->pools) {
			struct pool *q = list_entry(pos2, struct pool, node);

			if (q == p)
				break;
			if (strcmp(q->database, p->database) == 0)
				first = false;
		}
		if (!first)
			continue;
		list_for_each(pos2, &pp->pools) {
			struct pool *q = list_entry(pos2, struct pool, node);

			if (strcmp(q->database, p->database) != 0)
				continue;
			add_stats(&t, &q->st);
			add_stats(&a, &q->st_rate);
		}
		v[0] = p->database;
		v[1] = admin_fmt_int(b[0], (long long)t.xact_count);
		v[2] = admin_fmt_int(b[1], (long long)t.query_count);
		v[3] = admin_fmt_int(b[2], (long long)t.recv);
		v[4] = admin_fmt_int(b[3], (long long)t.sent);
		v[5] = admin_fmt_int(b[4], (long long)t.xact_us);
		v[6] = admin_fmt_int(b[5], (long long)t.query_us);
		v[7] = admin_fmt_int(b[6], (long long)t.wait_us);
		/* st_rate holds the last period's per-second counts and the
		 * totals that average times need */
		v[8] = admin_fmt_int(b[7], (long long)a.xact_count);
		v[9] = admin_fmt_int(b[8], (long long)a.query_count);
		v[10] = admin_fmt_int(b[9], (long long)a.recv);
		v[11] = admin_fmt_int(b[10], (long long)a.sent);
		v[12] = admin_fmt_int(b[11], (long long)a.xact_us);
		v[13] = admin_fmt_int(b[12], (long long)a.query_us);
		v[14] = admin_fmt_int(b[13], (long long)a.wait_us);
		admin_result_row(&r, v);
	}
	admin_result_end(&r, "SHOW");
}

void admin_stats_period(struct pgperf *pp, int64_t seconds)
{
	struct list *pos;

	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);
		const struct pool_stats *c = &p->st, *o = &p->st_prev;
		struct pool_stats *r = &p->st_rate;
		uint64_t s = seconds > 0 ? (uint64_t)seconds : 1;

		r->xact_count = (c->xact_count - o->xact_count) / s;
		r->query_count = (c->query_count - o->query_count) / s;
		r->recv = (c->recv - o->recv) / s;
		r->sent = (c->sent - o->sent) / s;
		/* average durations over the period, microseconds */
		r->xact_us = admin_per(c->xact_us - o->xact_us,
				       c->xact_count - o->xact_count);
		r->query_us = admin_per(c->query_us - o->query_us,
					c->query_count - o->query_count);
		r->wait_us = admin_per(c->wait_us - o->wait_us,
				       c->wait_count - o->wait_count);
		p->st_prev = p->st;
	}
}

/* RESET STATS: statement statistics and SHOW STATS counters. */
static bool reset_stats(struct pgperf *pp)
{
	struct ana_event ev;
	struct list *pos;

	if (pp->ana) {
		memset(&ev, 0, sizeof(ev));
		ev.type = ANA_RESET;
		if (!analyzer_push(pp->ana, &ev))
			return false;
		/* statements after this one must bring their texts again, as
		 * the analyzer will have forgotten them; readers after this
		 * wait for it (fence.h) */
		observe_known_forget(&pp->known);
	}
	pool_state_free(pp); /* saved pool counters not yet applied go too */
	list_for_each(pos, &pp->pools) {
		struct pool *p = list_entry(pos, struct pool, node);

		memset(&p->st, 0, sizeof(p->st));
		memset(&p->holds, 0, sizeof(p->holds));
		memset(&p->hazard_clients, 0, sizeof(p->hazard_clients));
		memset(&p->st_prev, 0, sizeof(p->st_prev));
		memset(&p->st_rate, 0, sizeof(p->st_rate));
	}
	return true;
}

/* ---- dispatch ---- */

/* Does `cmd` equal `word` case-insensitively, ignoring repeated spaces? */
bool admin_cmd_is(const char *cmd, const char *word)
{
	while (*cmd && *word) {
		if (*word == ' ') {
			if (!isspace((unsigned char)*cmd))
				return false;
			while (isspace((unsigned char)*cmd))
				cmd++;
			word++;
			continue;
		}
		if (tolower((unsigned char)*cmd) !=
		    tolower((unsigned char)*word))
			return false;
		cmd++;
		word++;
	}
	return *cmd == '\0' && *word == '\0';
}

/* Run one command; returns false if the client was closed. */
static bool admin_command(struct client *cl, char *sql, struct wbuf *out)
{
	struct pgperf *pp = cl->c.pp;
	char *end = sql + strlen(sql);
	char err[640];
	enum admin_hold_result held;

	while (isspace((unsigned char)*sql))
		sql++;
	while (end > sql && (isspace((unsigned char)end[-1]) || end[-1] == ';'))
		*--end = '\0';
	if (!*sql) {
		size_t start = wb_begin(out, 'I'); /* EmptyQueryResponse */

		wb_end(out, start);
		return true;
	}
	if (admin_cmd_is(sql, "show pools"))
		show_pools(pp, out);
	else if (admin_cmd_is(sql, "show clients"))
		show_clients(pp, out);
	else if (admin_cmd_is(sql, "show servers"))
		show_servers(pp, out);
	else if (admin_cmd_is(sql, "show hazards"))
		show_hazards(pp, out);
	else if (admin_cmd_is(sql, "show databases"))
		show_databases(pp, out);
	else if (admin_cmd_is(sql, "show config"))
		show_config(pp, out);
	else if (admin_cmd_is(sql, "show version"))
		show_version(out);
	else if (admin_cmd_is(sql, "show closes"))
		show_closes(pp, out);
	else if (admin_cmd_is(sql, "show stats"))
		show_stats(pp, out);
	else if (admin_cmd_is(sql, "show queries"))
		admin_show_queries(pp, out);
	else if (admin_cmd_is(sql, "show findings"))
		admin_show_findings(pp, out);
	else if (admin_cmd_is(sql, "show requests"))
		admin_show_requests(pp, out);
	else if (admin_cmd_is(sql, "show cache"))
		admin_show_cache(pp, out);
	else if (admin_cmd_is(sql, "show export"))
		admin_show_export(pp, out);
	else if (admin_cmd_is(sql, "show report"))
		admin_show_report(pp, out);
	else if (admin_fleet_command(pp, sql, out))
		; /* SHOW FLEET ... */
	else if (strncasecmp(sql, "set ", 4) == 0)
		/* drivers set things like application_name: accept quietly */
		wire_build_command_complete(out, "SET");
	else if (cl->admin_readonly &&
		 (admin_cmd_is(sql, "reload") || admin_hold_is_command(sql) ||
		  admin_cmd_is(sql, "shutdown") ||
		  admin_cmd_is(sql, "reset stats") ||
		  (strncasecmp(sql, "mark", 4) == 0 &&
		   (!sql[4] || isspace((unsigned char)sql[4])))))
		wire_build_error(out, "ERROR", "42501",
				 "admin commands need a user in admin_users");
	else if (strncasecmp(sql, "mark", 4) == 0 &&
		 (!sql[4] || isspace((unsigned char)sql[4])))
		admin_mark(pp, sql, out);
	else if (admin_cmd_is(sql, "reset stats")) {
		if (reset_stats(pp))
			wire_build_command_complete(out, "RESET");
		else
			wire_build_error(
				out, "ERROR", "53000",
				"the analyzer is too busy to reset; try again");
	} else if (admin_cmd_is(sql, "reload")) {
		if (daemon_reload(pp, err, sizeof(err)))
			wire_build_command_complete(out, "RELOAD");
		else
			wire_build_error(out, "ERROR", "F0000", err);
	} else if ((held = admin_hold_command(cl, sql, out)) !=
		   ADMIN_HOLD_NOT_MINE) {
		/* answered, or answered later (PAUSE waits) */
		return held == ADMIN_HOLD_DONE;
	} else if (admin_cmd_is(sql, "shutdown")) {
		log_info("%s: SHUTDOWN", cl->c.label);
		daemon_stop_now(pp);
		client_close(cl, CLOSE_ADMIN, "57P01",
			     "pgperf is shutting down");
		return false;
	} else {
		snprintf(
			err, sizeof(err),
			"unknown admin command: %.100s (try SHOW POOLS, SHOW CLIENTS, SHOW SERVERS, SHOW DATABASES, SHOW STATS, SHOW CLOSES, SHOW QUERIES, SHOW FINDINGS, SHOW REQUESTS, SHOW CACHE, SHOW HAZARDS, SHOW EXPORT, SHOW REPORT, SHOW FLEET [QUERIES|STATS|POOLS|FINDINGS|EXPORT|REPORT], SHOW CONFIG, SHOW VERSION, MARK, RESET STATS, RELOAD, PAUSE, SUSPEND, RESUME, KILL, DISABLE, ENABLE, RECONNECT, WAIT_CLOSE, SHUTDOWN)",
			sql);
		wire_build_error(out, "ERROR", "42601", err);
	}
	return true;
}

/*
 * Does this Query show what the analyzer learned?  Then it must wait
 * until every statement completed before it is applied (fence.h).
 */
static bool needs_analysis(const uint8_t *body, size_t n)
{
	static const char *const cmds[] = {"show queries",  "show findings",
					   "show requests", "show cache",
					   "show export",   "show report"};
	char sql[64];
	char *end;
	size_t i = 0;

	while (i < n && isspace(body[i]))
		i++;
	n -= i;
	if (n >= sizeof(sql))
		return false; /* longer than any of them */
	memcpy(sql, body + i, n);
	sql[n] = '\0';
	sql[pgp_strnlen(sql, n)] = '\0';
	end = sql + strlen(sql);
	while (end > sql && (isspace((unsigned char)end[-1]) || end[-1] == ';'))
		*--end = '\0';
	for (size_t k = 0; k < ARRAY_SIZE(cmds); k++)
		if (admin_cmd_is(sql, cmds[k]))
			return true;
	return false;
}

/* The analyzer caught up with a waiting command: run it and the rest. */
static void admin_fence_ready(struct fence_waiter *w)
{
	struct client *cl = list_entry(w, struct client, fence);

	cl->fence_passed = true;
	if (cl->c.closing)
		return;
	conn_read_enable(&cl->c);
	admin_input(cl);
}

void admin_input(struct client *cl)
{
	struct evbuffer *in = bufferevent_get_input(cl->c.bev);
	struct wbuf out;

	wb_init(&out);
	while (!cl->c.closing && !fence_waiting(&cl->fence) && !cl->hold_wait) {
		uint8_t hdr[5], *msg;
		uint32_t len;
		size_t avail = evbuffer_get_length(in);

		if (avail < 5)
			break;
		evbuffer_copyout(in, hdr, 5);
		len = wire_get_u32(hdr + 1);
		if (wire_check_header(WIRE_FROM_CLIENT, hdr[0], len,
				      ADMIN_QUERY_MAX) != PGP_OK) {
			client_close(cl, CLOSE_PROTOCOL, "08P01",
				     "invalid message to admin console");
			break;
		}
		if (avail < (size_t)len + 1)
			break;
		msg = evbuffer_pullup(in, (ssize_t)len + 1);
		if (!msg) {
			client_close(cl, CLOSE_RESOURCES, "53200",
				     "out of memory");
			break;
		}
		if (hdr[0] == 'Q' && !cl->fence_passed &&
		    needs_analysis(msg + 5, len - 4) &&
		    !fence_wait(cl->c.pp, &cl->fence, admin_fence_ready)) {
			/* this and what follows wait, unread, for the
			 * analyzer; nothing else does */
			conn_read_disable(&cl->c);
			break;
		}
		switch (hdr[0]) {
		case 'Q': {
			char *sql = pgp_strndup((const char *)msg + 5, len - 4);

			cl->fence_passed = false;
			evbuffer_drain(in, (size_t)len + 1);
			if (!sql) {
				client_close(cl, CLOSE_RESOURCES, "53200",
					     "out of memory");
				break;
			}
			if (admin_command(cl, sql, &out))
				wire_build_ready(&out, 'I');
			pgp_free(sql);
			break;
		}
		case 'X':
			evbuffer_drain(in, (size_t)len + 1);
			client_close(cl, CLOSE_TERMINATE, NULL,
				     "admin client terminated");
			break;
		case 'S':
			evbuffer_drain(in, (size_t)len + 1);
			wire_build_ready(&out, 'I');
			break;
		case 'P': /* Parse: the extended protocol is not served here */
			evbuffer_drain(in, (size_t)len + 1);
			wire_build_error(
				&out, "ERROR", "0A000",
				"the admin console supports only simple queries");
			break;
		default: /* the rest of an extended batch: skipped until Sync */
			evbuffer_drain(in, (size_t)len + 1);
			break;
		}
		if (!cl->c.closing && out.len && !conn_send(&cl->c, &out)) {
			client_close(cl, CLOSE_DISCONNECT, NULL,
				     "cannot send admin reply");
			break;
		}
		wb_reset(&out);
	}
	wb_free(&out);
}
