/*
 * catalog.c -- the analyzer's side connections (see catalog.h).
 */
#include "analyzer/catalog.h"

#include "lib/log.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_US (10 * 1000000LL)
#define BACKOFF_MAX_US (300 * 1000000LL)

struct cat_db {
	struct cat_db *next;
	char *database; /* owned */
	char *user;	/* owned: the client user whose pool this reaches */
	char *conninfo; /* owned */
	PGconn *conn;
	int64_t retry_at; /* monotonic */
	int64_t backoff_us;
};

/* A conninfo handed over by the analyzer thread, not yet taken up. */
struct cat_pending {
	struct cat_pending *next;
	char *database, *user, *conninfo; /* owned */
};

/*
 * The side thread alone uses the connections; the analyzer thread only
 * hands over how to reach a database (catalog_set_conninfo), through
 * `pending` under `lock`, taken up before the next use.
 */
struct catalog {
	struct cat_db *dbs;
	pthread_mutex_t lock;
	struct cat_pending *pending; /* under lock */
	/* under lock: the latest conninfo handed over per database, so that
	 * every client login does not hand over the same one again */
	struct cat_pending *handed;
	_Atomic bool has_pending;
};

struct catalog *catalog_new(void)
{
	struct catalog *c = pgp_calloc(1, sizeof(struct catalog));

	if (c)
		pthread_mutex_init(&c->lock, NULL);
	return c;
}

static void pending_free(struct cat_pending *p)
{
	while (p) {
		struct cat_pending *n = p->next;

		pgp_free(p->database);
		pgp_free(p->user);
		pgp_free(p->conninfo);
		pgp_free(p);
		p = n;
	}
}

void catalog_free(struct catalog *c)
{
	struct cat_db *d, *n;

	if (!c)
		return;
	for (d = c->dbs; d; d = n) {
		n = d->next;
		if (d->conn)
			PQfinish(d->conn);
		pgp_free(d->database);
		pgp_free(d->user);
		pgp_free(d->conninfo);
		pgp_free(d);
	}
	pending_free(c->pending);
	pending_free(c->handed);
	pthread_mutex_destroy(&c->lock);
	pgp_free(c);
}

/* The entry of (database, user); with user NULL, any of the database's. */
static struct cat_db *lookup_db(struct catalog *c, const char *database,
				const char *user)
{
	for (struct cat_db *d = c->dbs; d; d = d->next)
		if (strcmp(d->database, database) == 0 &&
		    (!user || strcmp(d->user, user) == 0))
			return d;
	return NULL;
}

/* Side thread: take up one conninfo (it replaces the previous one). */
static void apply_conninfo(struct catalog *c, const char *database,
			   const char *user, char *ci /* taken */)
{
	struct cat_db *d = lookup_db(c, database, user);

	if (d && strcmp(d->conninfo, ci) == 0) {
		pgp_free(ci);
		return;
	}
	if (!d) {
		if (!(d = pgp_calloc(1, sizeof(*d))) ||
		    !(d->database = pgp_strdup(database)) ||
		    !(d->user = pgp_strdup(user))) {
			if (d)
				pgp_free(d->database);
			pgp_free(d);
			pgp_free(ci);
			return;
		}
		d->next = c->dbs;
		c->dbs = d;
	}
	pgp_free(d->conninfo);
	d->conninfo = ci;
	if (d->conn) { /* reach it the new way next time */
		PQfinish(d->conn);
		d->conn = NULL;
	}
}

/* Side thread: the database's entry, after taking up what was handed over. */
static struct cat_db *find_db(struct catalog *c, const char *database,
			      const char *user)
{
	if (atomic_load(&c->has_pending)) {
		struct cat_pending *p, *rev = NULL;

		pthread_mutex_lock(&c->lock);
		p = c->pending;
		c->pending = NULL;
		atomic_store(&c->has_pending, false);
		pthread_mutex_unlock(&c->lock);
		while (p) { /* oldest first, so the newest wins */
			struct cat_pending *n = p->next;

			p->next = rev;
			rev = p;
			p = n;
		}
		for (p = rev; p; p = p->next) {
			apply_conninfo(c, p->database, p->user, p->conninfo);
			p->conninfo = NULL;
		}
		pending_free(rev);
	}
	return lookup_db(c, database, user);
}

void catalog_set_conninfo(struct catalog *c, const char *database,
			  const char *user, const char *conninfo)
{
	struct cat_pending *p, *h;
	char *again;

	if (!conninfo[0])
		return;
	pthread_mutex_lock(&c->lock);
	for (h = c->handed; h; h = h->next)
		if (strcmp(h->database, database) == 0 &&
		    strcmp(h->user, user) == 0)
			break;
	if (h && strcmp(h->conninfo, conninfo) == 0) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	p = pgp_calloc(1, sizeof(*p));
	if (p) {
		p->database = pgp_strdup(database);
		p->user = pgp_strdup(user);
		p->conninfo = pgp_strdup(conninfo);
	}
	if (!h && (h = pgp_calloc(1, sizeof(*h)))) {
		if ((h->database = pgp_strdup(database)) &&
		    (h->user = pgp_strdup(user))) {
			h->next = c->handed;
			c->handed = h;
		} else {
			pgp_free(h->database);
			pgp_free(h);
			h = NULL;
		}
	}
	again = h ? pgp_strdup(conninfo) : NULL;
	if (!p || !p->database || !p->user || !p->conninfo || !again) {
		pending_free(p);
		pgp_free(again);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	pgp_free(h->conninfo);
	h->conninfo = again;
	p->next = c->pending;
	c->pending = p;
	atomic_store(&c->has_pending, true);
	pthread_mutex_unlock(&c->lock);
}

bool catalog_ready(struct catalog *c, const char *database, const char *user,
		   int64_t now_us)
{
	struct cat_db *d = find_db(c, database, user);

	return d && now_us >= d->retry_at;
}

static void back_off(struct cat_db *d, const char *why)
{
	d->backoff_us = d->backoff_us ? d->backoff_us * 2 : BACKOFF_MIN_US;
	if (d->backoff_us > BACKOFF_MAX_US)
		d->backoff_us = BACKOFF_MAX_US;
	d->retry_at = pgp_now_us() + d->backoff_us;
	log_warning("analyzer: catalog lookups on database \"%s\" failed "
		    "(%s); next try in %lld s",
		    d->database, why, (long long)(d->backoff_us / 1000000));
	if (d->conn) {
		PQfinish(d->conn);
		d->conn = NULL;
	}
}

static bool connect_db(struct cat_db *d)
{
	PGresult *r;
	char why[200];

	if (d->conn && PQstatus(d->conn) == CONNECTION_OK)
		return true;
	if (d->conn)
		PQfinish(d->conn);
	d->conn = PQconnectdb(d->conninfo);
	if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
		snprintf(why, sizeof(why), "%s",
			 d->conn ? PQerrorMessage(d->conn) : "out of memory");
		why[strcspn(why, "\n")] = '\0';
		back_off(d, why);
		return false;
	}
	/* never hold anything up for long */
	r = PQexec(d->conn, "SET statement_timeout = 2000; "
			    "SET lock_timeout = 500");
	PQclear(r);
	return true;
}

static const char relation_sql[] =
	"SELECT (SELECT c.relname FROM pg_catalog.pg_class c"
	"         WHERE c.oid = $1::oid),"
	"       (SELECT a.attname FROM pg_catalog.pg_attribute a"
	"         WHERE a.attrelid = $1::oid AND a.attnum = $2::int2),"
	"       EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k"
	"         WHERE k.contype = 'f' AND k.confrelid = $1::oid"
	"           AND k.conrelid = pg_catalog.to_regclass($3::text)"
	"           AND k.conkey[1] = (SELECT a.attnum"
	"             FROM pg_catalog.pg_attribute a"
	"             WHERE a.attrelid = pg_catalog.to_regclass($3::text)"
	"               AND a.attname = $4::text)),"
	"       EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k"
	"         WHERE k.contype = 'f' AND k.conrelid = $1::oid"
	"           AND k.conkey[1] = $2::int2"
	"           AND k.confrelid = pg_catalog.to_regclass($3::text)),"
	"       (SELECT r.relname || ' ' || ra.attname"
	"          FROM pg_catalog.pg_constraint k"
	"          JOIN pg_catalog.pg_class r ON r.oid = k.confrelid"
	"          JOIN pg_catalog.pg_attribute ra"
	"            ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]"
	"         WHERE k.contype = 'f'"
	"           AND k.conrelid = pg_catalog.to_regclass($3::text)"
	"           AND k.conkey[1] = (SELECT a.attnum"
	"             FROM pg_catalog.pg_attribute a"
	"             WHERE a.attrelid = pg_catalog.to_regclass($3::text)"
	"               AND a.attname = $4::text)"
	"         LIMIT 1)";

bool catalog_relation(struct catalog *c, const char *database, uint32_t rel,
		      int16_t att, const char *child_table,
		      const char *child_column, struct cat_relation *out)
{
	struct cat_db *d = find_db(c, database, NULL);
	char srel[16], satt[8];
	const char *vals[4] = {srel, satt, child_table, child_column};
	PGresult *r;
	const char *fk;

	memset(out, 0, sizeof(*out));
	if (!d || !connect_db(d))
		return false;
	snprintf(srel, sizeof(srel), "%u", rel);
	snprintf(satt, sizeof(satt), "%d", att);
	r = PQexecParams(d->conn, relation_sql, 4, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		char why[200];

		snprintf(why, sizeof(why), "%s", PQerrorMessage(d->conn));
		why[strcspn(why, "\n")] = '\0';
		PQclear(r);
		back_off(d, why);
		return false;
	}
	d->backoff_us = 0;
	snprintf(out->parent_table, sizeof(out->parent_table), "%s",
		 PQgetvalue(r, 0, 0));
	snprintf(out->parent_column, sizeof(out->parent_column), "%s",
		 PQgetvalue(r, 0, 1));
	out->child_fk_to_parent = PQgetvalue(r, 0, 2)[0] == 't';
	out->parent_fk_to_child = PQgetvalue(r, 0, 3)[0] == 't';
	fk = PQgetvalue(r, 0, 4);
	if (fk[0]) {
		const char *sp = strchr(fk, ' ');

		if (sp) {
			snprintf(out->child_fk_table,
				 sizeof(out->child_fk_table), "%.*s",
				 (int)(sp - fk), fk);
			snprintf(out->child_fk_column,
				 sizeof(out->child_fk_column), "%s", sp + 1);
		}
	}
	PQclear(r);
	return true;
}

/* ---- index advice ---- */

/* Run a query returning rows; NULL (and a back-off) on failure. */
static PGresult *query(struct cat_db *d, const char *sql, int n,
		       const char *const *vals)
{
	PGresult *r = PQexecParams(d->conn, sql, n, NULL, vals, NULL, NULL, 0);
	char why[200];

	if (PQresultStatus(r) == PGRES_TUPLES_OK ||
	    PQresultStatus(r) == PGRES_COMMAND_OK)
		return r;
	snprintf(why, sizeof(why), "%s", PQerrorMessage(d->conn));
	why[strcspn(why, "\n")] = '\0';
	PQclear(r);
	back_off(d, why);
	return NULL;
}

static struct cat_db *ready_db(struct catalog *c, const char *database,
			       const char *user)
{
	struct cat_db *d = find_db(c, database, user);

	return d && pgp_now_us() >= d->retry_at && connect_db(d) ? d : NULL;
}

bool catalog_table(struct catalog *c, const char *database, const char *table,
		   struct cat_table *out)
{
	static const char rows_sql[] =
		"SELECT greatest(c.reltuples, coalesce(s.n_live_tup, 0)),"
		"       EXISTS (SELECT 1 FROM pg_catalog.pg_extension"
		"                WHERE extname = 'hypopg')"
		"  FROM pg_catalog.pg_class c"
		"  LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid"
		" WHERE c.oid = pg_catalog.to_regclass($1)";
	static const char idx_sql[] =
		"SELECT string_agg(a.attname, ',' ORDER BY k.ord)"
		"  FROM pg_catalog.pg_index i"
		"  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY"
		"       AS k(attnum, ord)"
		"  LEFT JOIN pg_catalog.pg_attribute a"
		"    ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
		" WHERE i.indrelid = pg_catalog.to_regclass($1) AND i.indisvalid"
		" GROUP BY i.indexrelid";
	struct cat_db *d = ready_db(c, database, NULL);
	PGresult *r;

	memset(out, 0, sizeof(*out));
	if (!d || !(r = query(d, rows_sql, 1, &table)))
		return false;
	if (PQntuples(r) == 1) {
		out->found = true;
		out->rows = atof(PQgetvalue(r, 0, 0));
		out->hypopg = PQgetvalue(r, 0, 1)[0] == 't';
	}
	PQclear(r);
	if (!out->found)
		return true;
	if (!(r = query(d, idx_sql, 1, &table)))
		return false;
	for (int i = 0; i < PQntuples(r) && out->nindexes < CAT_MAX_INDEXES;
	     i++)
		snprintf(out->indexes[out->nindexes++], sizeof(out->indexes[0]),
			 "%s", PQgetvalue(r, i, 0));
	PQclear(r);
	return true;
}

double catalog_distinct(struct catalog *c, const char *database,
			const char *table, const char *column, double rows)
{
	static const char sql[] =
		"SELECT s.n_distinct FROM pg_catalog.pg_stats s"
		"  JOIN pg_catalog.pg_class c ON c.relname = s.tablename"
		"  JOIN pg_catalog.pg_namespace n"
		"    ON n.oid = c.relnamespace AND n.nspname = s.schemaname"
		" WHERE c.oid = pg_catalog.to_regclass($1) AND s.attname = $2";
	const char *vals[2] = {table, column};
	struct cat_db *d = ready_db(c, database, NULL);
	PGresult *r;
	double nd = -1;

	if (!d || !(r = query(d, sql, 2, vals)))
		return -1;
	if (PQntuples(r) >= 1) {
		nd = atof(PQgetvalue(r, 0, 0));
		if (nd < 0)
			nd = -nd * rows;
	}
	PQclear(r);
	return nd;
}

/* The first "Total Cost" of an EXPLAIN (FORMAT JSON): the top node's. */
static double total_cost(PGresult *r)
{
	const char *p;

	if (PQntuples(r) < 1 ||
	    !(p = strstr(PQgetvalue(r, 0, 0), "\"Total Cost\":")))
		return -1;
	return atof(p + strlen("\"Total Cost\":"));
}

double catalog_cost(struct catalog *c, const char *database, const char *user,
		    const char *query_text, int nparams, const char *hypo_ddl)
{
	struct cat_db *d = ready_db(c, database, user);
	PGresult *r;
	double cost = -1;
	char *sql;
	size_t len;

	if (!d)
		return -1;
	if (hypo_ddl) {
		if (!(r = query(d,
				"SELECT pg_catalog.count(*) FROM "
				"hypopg_create_index($1)",
				1, &hypo_ddl)))
			return -1;
		PQclear(r);
	}
	len = strlen(query_text) + 128 + (size_t)nparams * 6;
	if (!(sql = pgp_malloc(len)))
		goto out;
	if (nparams == 0) {
		/* the statement as the application sent it, values included:
		 * the planner sees the real selectivity */
		snprintf(sql, len, "EXPLAIN (FORMAT JSON) %s", query_text);
		if ((r = query(d, sql, 0, NULL))) {
			cost = total_cost(r);
			PQclear(r);
		}
	} else {
		/* parameters without values: the generic plan */
		size_t o;

		/* PQprepare: one statement, whatever the text holds */
		r = PQprepare(d->conn, "pgperf_advice", query_text, 0, NULL);
		if (PQresultStatus(r) == PGRES_COMMAND_OK) {
			PQclear(r);
			o = (size_t)snprintf(sql, len,
					     "EXPLAIN (FORMAT JSON) EXECUTE "
					     "pgperf_advice(");
			for (int i = 0; i < nparams; i++)
				o += (size_t)snprintf(sql + o, len - o,
						      "%sNULL", i ? "," : "");
			snprintf(sql + o, len - o, ")");
			PQclear(PQexec(d->conn, "SET plan_cache_mode = "
						"force_generic_plan"));
			r = PQexec(d->conn, sql);
			if (PQresultStatus(r) == PGRES_TUPLES_OK)
				cost = total_cost(r);
			PQclear(r);
			PQclear(PQexec(d->conn, "DEALLOCATE pgperf_advice"));
		} else {
			PQclear(r);
		}
	}
	pgp_free(sql);
out:
	if (hypo_ddl && d->conn)
		PQclear(PQexec(d->conn, "SELECT hypopg_reset()"));
	return cost;
}
