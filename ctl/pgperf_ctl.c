/*
 * pgperf_ctl.c -- pgperf-ctl, the command-line client of the admin
 * console.  It connects with libpq to the virtual database "pgperf" and
 * prints the answer as an aligned table, or as JSON with --json.
 */
#include <getopt.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	const char *sql;
	const char *help;
	int db; /* a database name after it: 0 none, 1 optional, 2 needed */
};

static const struct command commands[] = {
	{"stats", NULL,
	 "throughput, latency percentiles, pools and the top queries", 0},
	{"queries", "SHOW QUERIES",
	 "statistics per statement fingerprint (--sort, --limit)", 0},
	{"findings", "SHOW FINDINGS",
	 "N+1, missing indexes, slow, cacheable and redundant queries, pool "
	 "waits and pinning, with the fix (--json: the whole export)",
	 0},
	{"report", "SHOW REPORT",
	 "the performance report: bottleneck, before/after the latest mark, "
	 "recommendations, service levels (--json: the export document)",
	 0},
	{"mark", "MARK",
	 "mark NAME: a point the report compares around; mark --load-test "
	 "start [SCENARIO] | stop: bracket a load test",
	 0},
	{"requests", "SHOW REQUESTS",
	 "application requests per route: statements and database time", 0},
	{"cache", "SHOW CACHE",
	 "the Redis result cache: hits, misses, invalidations, Redis state", 0},
	{"pools", "SHOW POOLS", "pools: clients and servers per database/user",
	 0},
	{"fleet", "SHOW FLEET",
	 "the pgperf processes sharing redis_url: when each last published, "
	 "which are stale",
	 0},
	{"clients", "SHOW CLIENTS", "client connections", 0},
	{"servers", "SHOW SERVERS", "server connections", 0},
	{"databases", "SHOW DATABASES", "configured databases", 0},
	{"hazards", "SHOW HAZARDS",
	 "session features that pinned clients in transaction mode", 0},
	{"config", "SHOW CONFIG", "every setting with its value and default",
	 0},
	{"version", "SHOW VERSION", "the running pgperf's version", 0},
	{"closes", "SHOW CLOSES",
	 "connections pgperf closed, per side and reason", 0},
	{"reset-stats", "RESET STATS", "zero statement and traffic statistics",
	 0},
	{"reload", "RELOAD", "re-read the configuration file", 0},
	{"pause", "PAUSE",
	 "pause [DB]: wait until every server connection is released and "
	 "closed; new queries wait for resume",
	 1},
	{"resume", "RESUME", "resume [DB]: undo pause, suspend or kill", 1},
	{"suspend", "SUSPEND",
	 "stop reading from every client and server; returns once all "
	 "output is flushed",
	 0},
	{"kill", "KILL",
	 "kill DB: close the database's clients and servers now; new "
	 "clients wait for resume",
	 2},
	{"disable", "DISABLE", "disable DB: refuse new logins to it", 2},
	{"enable", "ENABLE", "enable DB: undo disable", 2},
	{"reconnect", "RECONNECT",
	 "reconnect [DB]: replace server connections as they are released", 1},
	{"wait-close", "WAIT_CLOSE",
	 "wait-close [DB]: wait until no server connection waits to close", 1},
	{"shutdown", "SHUTDOWN", "stop pgperf now", 0},
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pgperf-ctl [-h HOST] [-p PORT] [-U USER] [--json] COMMAND\n"
		"       pgperf-ctl queries [--sort total|mean|p99|calls] [--limit N]\n"
		"       pgperf-ctl mark NAME | mark --load-test start [SCENARIO] | mark --load-test stop\n"
		"       pgperf-ctl --fleet stats|queries|findings|report|pools: every process\n"
		"                  sharing redis_url, merged; each row says how many processes\n"
		"                  it covers and which are stale\n\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
			commands[i].help);
	fprintf(out,
		"\nWhere the admin console is, first found of:\n"
		"  -h, -p, -U (always win over what follows)\n"
		"  PGPERF_URL   postgresql://user:password@host:port/pgperf\n"
		"  DATABASE_URL the application's URL through pgperf (as run.sh\n"
		"               prints it): its host, port, user and password,\n"
		"               with the database pgperf\n"
		"  PGHOST, PGPORT, PGUSER, then 127.0.0.1, 6432, the current user\n"
		"The password comes from the URL, PGPASSWORD or ~/.pgpass, as with\n"
		"psql.  The user must be in admin_users or stats_users (with\n"
		"--upstream and no config saying otherwise, the URL's user is a\n"
		"stats user).\n");
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/*
 * Make a value safe to print on a terminal, in place: a control character
 * (C0, DEL, or C1 as UTF-8) becomes '?' (a line break or tab a space), so
 * that a name or a statement's text cannot move the cursor, retitle the
 * window or fake a line.  The length does not change, so column widths
 * stay right.  JSON output does not need it: json_string escapes.
 */
static char *visible(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r') {
			*p = ' '; /* an ORM's multi-line statement */
		} else if (*p < 0x20 || *p == 0x7f) {
			*p = '?';
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			p[0] = '?';
			p[1] = '?';
			p++;
		}
	}
	return s;
}

static bool looks_numeric(const char *s)
{
	size_t digits;

	if (!*s)
		return false;

	if (*s == '-')
		s++;
	digits = strspn(s, "0123456789");
	if (digits == 0)
		return false;
	if (s[digits] == '.') /* a decimal: 1.250 */
		return s[digits + 1] && strspn(s + digits + 1, "0123456789") ==
						strlen(s + digits + 1);
	return s[digits] == '\0';
}

static void print_table(PGresult *res)
{
	int rows = PQntuples(res), cols = PQnfields(res);
	int *w = calloc((size_t)cols, sizeof(int));

	if (!w)
		return;
	for (int c = 0; c < cols; c++) {
		w[c] = (int)strlen(PQfname(res, c));
		for (int r = 0; r < rows; r++) {
			int n = (int)strlen(visible(PQgetvalue(res, r, c)));

			if (n > w[c])
				w[c] = n;
		}
	}
	for (int c = 0; c < cols; c++)
		printf("%s%-*s", c ? " | " : "", w[c], PQfname(res, c));
	printf("\n");
	for (int c = 0; c < cols; c++) {
		printf("%s", c ? "-+-" : "");
		for (int i = 0; i < w[c]; i++)
			putchar('-');
	}
	printf("\n");
	for (int r = 0; r < rows; r++) {
		for (int c = 0; c < cols; c++)
			printf("%s%-*s", c ? " | " : "", w[c],
			       PQgetvalue(res, r, c));
		printf("\n");
	}
	printf("(%d row%s)\n", rows, rows == 1 ? "" : "s");
	free(w);
}

/* ---- queries: sorting a result client-side ---- */

struct sorted {
	PGresult *res;
	int *order; /* owned: row numbers */
	int n;
	int col; /* sort column, descending; -1 = as sent */
};

static const struct sorted *sort_ctx;

static int by_col_desc(const void *x, const void *y)
{
	double a =
		atof(PQgetvalue(sort_ctx->res, *(const int *)x, sort_ctx->col));
	double b =
		atof(PQgetvalue(sort_ctx->res, *(const int *)y, sort_ctx->col));

	return a > b ? -1 : a < b;
}

static bool sort_rows(struct sorted *s, PGresult *res, const char *col,
		      int limit)
{
	s->res = res;
	s->n = PQntuples(res);
	s->col = col ? PQfnumber(res, col) : -1;
	if (!(s->order = calloc((size_t)s->n + 1, sizeof(int))))
		return false;
	for (int i = 0; i < s->n; i++)
		s->order[i] = i;
	if (s->col >= 0) {
		sort_ctx = s;
		qsort(s->order, (size_t)s->n, sizeof(int), by_col_desc);
	}
	if (limit >= 0 && limit < s->n)
		s->n = limit;
	return true;
}

static void print_json_rows(const struct sorted *s)
{
	PGresult *res = s->res;
	int cols = PQnfields(res);

	printf("[");
	for (int i = 0; i < s->n; i++) {
		int r = s->order[i];

		printf(i ? ",\n {" : "\n {");
		for (int c = 0; c < cols; c++) {
			if (c)
				printf(", ");
			json_string(PQfname(res, c));
			printf(": ");
			if (PQgetisnull(res, r, c))
				printf("null");
			else if (looks_numeric(PQgetvalue(res, r, c)))
				printf("%s", PQgetvalue(res, r, c));
			else
				json_string(PQgetvalue(res, r, c));
		}
		printf("}");
	}
	printf(s->n ? "\n]" : "]");
}

/* A table of chosen columns; `width` caps each (0 = no cap). */
static void print_cols(const struct sorted *s, const char *const *names,
		       int ncols, int cap)
{
	int idx[32], w[32];

	for (int c = 0; c < ncols; c++) {
		idx[c] = PQfnumber(s->res, names[c]);
		w[c] = (int)strlen(names[c]);
		for (int i = 0; idx[c] >= 0 && i < s->n; i++) {
			int n = (int)strlen(visible(
				PQgetvalue(s->res, s->order[i], idx[c])));

			if (n > w[c])
				w[c] = n;
		}
		if (cap && w[c] > cap)
			w[c] = cap;
	}
	for (int c = 0; c < ncols; c++)
		printf("%s%-*s", c ? "  " : "", w[c], names[c]);
	printf("\n");
	for (int i = 0; i < s->n; i++) {
		for (int c = 0; c < ncols; c++) {
			const char *v =
				idx[c] >= 0 ? PQgetvalue(s->res, s->order[i],
							 idx[c])
					    : "";

			printf("%s%-*.*s", c ? "  " : "", w[c], w[c], v);
		}
		printf("\n");
	}
}

/* --fleet: every SHOW reads the fleet's merged view (SHOW FLEET ...) */
static bool fleet;

static PGresult *run(PGconn *conn, const char *sql)
{
	char buf[128];
	PGresult *res;

	if (fleet && strncmp(sql, "SHOW ", 5) == 0) {
		snprintf(buf, sizeof(buf), "SHOW FLEET %s", sql + 5);
		sql = buf;
	}
	res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "pgperf-ctl: %s: %s", sql,
			PQerrorMessage(conn));
		PQclear(res);
		return NULL;
	}
	return res;
}

static const char *sort_column(const char *sort)
{
	if (!sort || strcmp(sort, "total") == 0)
		return "total_ms";
	if (strcmp(sort, "mean") == 0)
		return "mean_ms";
	if (strcmp(sort, "p99") == 0)
		return "p99_ms";
	if (strcmp(sort, "calls") == 0)
		return "calls";
	return NULL;
}

static int cmd_queries(PGconn *conn, const char *sort, int limit, bool json)
{
	static const char *const cols[] = {
		"calls",  "total_ms", "mean_ms", "p50_ms", "p95_ms",
		"p99_ms", "max_ms",   "rows",	 "errors", "query"};
	static const char *const fcols[] = {
		"calls",  "total_ms", "mean_ms",   "p50_ms", "p95_ms", "p99_ms",
		"max_ms", "rows",     "processes", "stale",  "query"};
	PGresult *res = run(conn, "SHOW QUERIES");
	struct sorted s;

	if (!res)
		return 1;
	if (!sort_rows(&s, res, sort_column(sort), limit)) {
		PQclear(res);
		return 1;
	}
	if (json) {
		print_json_rows(&s);
		printf("\n");
	} else {
		if (fleet)
			print_cols(&s, fcols,
				   (int)(sizeof(fcols) / sizeof(fcols[0])),
				   100);
		else
			print_cols(&s, cols,
				   (int)(sizeof(cols) / sizeof(cols[0])), 100);
	}
	free(s.order);
	PQclear(res);
	return 0;
}

static const char *field(PGresult *res, int r, const char *col)
{
	int c = PQfnumber(res, col);

	return c >= 0 ? visible(PQgetvalue(res, r, c)) : "";
}

/*
 * findings: the export document with --json ({"version", "generated_at",
 * "findings": [...]}, each finding as pgperf built it), else one block of
 * text per finding, most costly first.
 */
/* The export document (SHOW EXPORT), as pgperf wrote it. */
static int cmd_export(PGconn *conn)
{
	PGresult *res = run(conn, "SHOW EXPORT");

	if (!res)
		return 1;
	if (PQntuples(res) == 1)
		fputs(PQgetvalue(res, 0, 0), stdout);
	PQclear(res);
	return 0;
}

/* report: the text report, line by line; --json: the export. */
static int cmd_report(PGconn *conn, bool json)
{
	PGresult *res;

	if (json)
		return cmd_export(conn);
	if (!(res = run(conn, "SHOW REPORT")))
		return 1;
	for (int r = 0; r < PQntuples(res); r++)
		printf("%s\n", visible(PQgetvalue(res, r, 0)));
	PQclear(res);
	return 0;
}

/* mark NAME, mark --load-test start [SCENARIO], mark --load-test stop */
static int cmd_mark(PGconn *conn, const char *load, const char *name)
{
	char sql[256];
	PGresult *res;

	if (name && (strchr(name, '\'') || strlen(name) > 63)) {
		fprintf(stderr,
			"pgperf-ctl: a mark's name is at most 63 bytes, "
			"without quotes\n");
		return 2;
	}
	if (load && strcmp(load, "stop") == 0)
		snprintf(sql, sizeof(sql), "MARK LOAD TEST STOP");
	else /* a start's scenario name is optional */
		snprintf(sql, sizeof(sql), "MARK %s'%s'",
			 load ? "LOAD TEST START " : "", name ? name : "");
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "pgperf-ctl: %s", PQerrorMessage(conn));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	if (!load)
		printf("mark \"%s\" recorded\n", name);
	else
		printf("load test %s recorded\n", load);
	return 0;
}

static int cmd_findings(PGconn *conn, bool json)
{
	PGresult *res;
	int rows;

	if (json)
		return cmd_export(conn);
	if (!(res = run(conn, "SHOW FINDINGS")))
		return 1;
	rows = PQntuples(res);
	if (rows == 0)
		printf("No findings yet.\n");
	for (int r = 0; r < rows; r++) {
		const char *status = field(res, r, "status");
		const char *rel = field(res, r, "relation");
		const char *parent = field(res, r, "parent_query");
		const char *routes = field(res, r, "routes");

		printf("%s[%s] %s%s%s%s  %s\n", r ? "\n" : "",
		       field(res, r, "severity"), field(res, r, "kind"),
		       *status ? " (" : "", status, *status ? ")" : "",
		       field(res, r, "id"));
		if (*field(res, r, "tables"))
			printf("  tables:    %s\n", field(res, r, "tables"));
		if (*rel)
			printf("  relation:  %s\n", rel);
		if (*parent)
			printf("  parent:    %s\n", parent);
		printf("  query:     %s\n", field(res, r, "query"));
		if (strcmp(field(res, r, "requests"), "0") != 0)
			printf("  seen:      %s requests, %s per request (max "
			       "%s), %s ms to save\n",
			       field(res, r, "requests"),
			       field(res, r, "mean_repeats"),
			       field(res, r, "max_repeats"),
			       field(res, r, "saved_ms"));
		if (*routes)
			printf("  routes:    %s\n", routes);
		printf("  fix:       %s\n", field(res, r, "suggestion"));
	}
	PQclear(res);
	return 0;
}

/* Sum of a column over all rows. */
static double col_sum(PGresult *res, const char *col)
{
	int c = PQfnumber(res, col);
	double t = 0;

	for (int r = 0; c >= 0 && r < PQntuples(res); r++)
		t += atof(PQgetvalue(res, r, c));
	return t;
}

static int cmd_stats(PGconn *conn, bool json)
{
	static const char *const qcols[] = {"calls",  "total_ms", "mean_ms",
					    "p50_ms", "p95_ms",	  "p99_ms",
					    "query"};
	static const char *const pcols[] = {
		"database", "user",    "cl_active", "cl_waiting", "sv_active",
		"sv_idle",  "maxwait", "pool_mode", "cl_pinned"};
	/* the fleet's pools: how many processes each covers, and which of
	 * them are stale, in place of pinning (per process only) */
	static const char *const fpcols[] = {
		"database", "user",    "cl_active", "cl_waiting", "sv_active",
		"sv_idle",  "maxwait", "pool_mode", "processes",  "stale"};
	static const char *const scols[] = {
		"database",	  "total_xact_count", "total_query_count",
		"avg_xact_count", "avg_query_count",  "avg_query_time",
		"avg_wait_time"};
	PGresult *st = run(conn, "SHOW STATS");
	PGresult *po = st ? run(conn, "SHOW POOLS") : NULL;
	PGresult *qu = po ? run(conn, "SHOW QUERIES") : NULL;
	struct sorted ss, sp, sq;
	int rc = 1;

	if (!qu)
		goto out;
	if (!sort_rows(&ss, st, NULL, -1) || !sort_rows(&sp, po, NULL, -1) ||
	    !sort_rows(&sq, qu, "total_ms", 10))
		goto out;
	if (json) {
		printf("{\"traffic\": ");
		print_json_rows(&ss);
		printf(",\n\"pools\": ");
		print_json_rows(&sp);
		printf(",\n\"top_queries\": ");
		print_json_rows(&sq);
		printf("}\n");
	} else {
		double calls = col_sum(qu, "calls");
		double total = col_sum(qu, "total_ms");

		printf("Traffic (avg_ columns: per second over the last stats_period)\n");
		print_cols(&ss, scols, (int)(sizeof(scols) / sizeof(scols[0])),
			   0);
		printf("\nPools\n");
		if (fleet)
			print_cols(&sp, fpcols,
				   (int)(sizeof(fpcols) / sizeof(fpcols[0])),
				   0);
		else
			print_cols(&sp, pcols,
				   (int)(sizeof(pcols) / sizeof(pcols[0])), 0);
		printf("\nStatements: %.0f calls, %.3f ms mean; top %d by total time\n",
		       calls, calls ? total / calls : 0.0, sq.n);
		print_cols(&sq, qcols, (int)(sizeof(qcols) / sizeof(qcols[0])),
			   90);
	}
	free(ss.order);
	free(sp.order);
	free(sq.order);
	rc = 0;
out:
	PQclear(st);
	PQclear(po);
	PQclear(qu);
	return rc;
}

/*
 * DATABASE_URL as libpq can read it: a postgres:// or postgresql:// URL,
 * with an ORM's "+driver" (postgresql+psycopg2://) dropped.  NULL when it
 * is unset or something else.  The caller frees it.
 */
static char *database_url(void)
{
	const char *u = getenv("DATABASE_URL");
	const char *rest;
	char *out;

	if (!u || (strncmp(u, "postgres", 8) != 0))
		return NULL;
	rest = strstr(u, "://");
	if (!rest)
		return NULL;
	out = malloc(strlen("postgresql") + strlen(rest) + 1);
	if (out)
		sprintf(out, "postgresql%s", rest);
	return out;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"user", required_argument, NULL, 'U'},
		{"json", no_argument, NULL, 'j'},
		{"sort", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'l'},
		{"load-test", required_argument, NULL, 't'},
		{"fleet", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, '?'},
		{NULL, 0, NULL, 0}};
	const char *host = NULL, *port = NULL, *user = NULL;
	const char *url = getenv("PGPERF_URL");
	char *app_url = NULL;
	const char *keys[8], *vals[8];
	const struct command *cmd = NULL;
	const char *sort = NULL, *load = NULL, *arg = NULL;
	int limit = -1;
	bool json = false;
	PGconn *conn;
	PGresult *res;
	int ch, n = 0, rc = 0;

	while ((ch = getopt_long(argc, argv, "h:p:U:", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			host = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'U':
			user = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'f':
			fleet = true;
			break;
		case 's':
			sort = optarg;
			if (!sort_column(sort)) {
				fprintf(stderr,
					"pgperf-ctl: --sort takes total, mean, p99 or calls\n");
				return 2;
			}
			break;
		case 't':
			load = optarg;
			if (strcmp(load, "start") != 0 &&
			    strcmp(load, "stop") != 0) {
				fprintf(stderr,
					"pgperf-ctl: --load-test takes start or stop\n");
				return 2;
			}
			break;
		case 'l':
			limit = atoi(optarg);
			if (limit < 0 ||
			    strspn(optarg, "0123456789") != strlen(optarg)) {
				fprintf(stderr,
					"pgperf-ctl: --limit takes a number\n");
				return 2;
			}
			break;
		default:
			usage(ch == '?' && optopt == 0 ? stdout : stderr);
			return ch == '?' && optopt == 0 ? 0 : 2;
		}
	}
	for (size_t i = 0;
	     optind < argc && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (optind == argc - 2 &&
	    (strcmp(argv[optind], "mark") == 0 || (cmd && cmd->db)))
		arg = argv[argc - 1]; /* the mark's name, or the database */
	else if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (cmd && cmd->db == 2 && !arg) {
		fprintf(stderr, "pgperf-ctl: %s needs a database name\n",
			cmd->name);
		return 2;
	}
	if (strcmp(argv[optind], "mark") == 0 && !load && !arg) {
		fprintf(stderr, "pgperf-ctl: mark needs a NAME (or --load-test "
				"start|stop)\n");
		return 2;
	}
	if (load && strcmp(argv[optind], "mark") != 0) {
		fprintf(stderr, "pgperf-ctl: --load-test goes with mark\n");
		return 2;
	}
	if (!cmd) {
		fprintf(stderr, "pgperf-ctl: unknown command \"%s\"\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (fleet && strcmp(cmd->name, "stats") != 0 &&
	    strcmp(cmd->name, "queries") != 0 &&
	    strcmp(cmd->name, "findings") != 0 &&
	    strcmp(cmd->name, "report") != 0 &&
	    strcmp(cmd->name, "pools") != 0) {
		fprintf(stderr, "pgperf-ctl: --fleet goes with stats, queries, "
				"findings, report or pools\n");
		return 2;
	}
	if (!url || !*url) {
		/* the application's own URL, as run.sh prints it: the same
		 * host, port, user and password; the database is pgperf's */
		app_url = database_url();
		url = app_url;
	}
	if (!url && !host && !port && !user) {
		host = getenv("PGHOST");
		port = getenv("PGPORT");
		user = getenv("PGUSER");
	}
	if (url && *url) {
		/* the URL first; options given on the command line win */
		PQconninfoOption *o = PQconninfoParse(url, NULL);
		bool has_db = false;

		if (!o) {
			fprintf(stderr,
				"pgperf-ctl: PGPERF_URL is not a valid connection string\n");
			return 2;
		}
		for (PQconninfoOption *p = o; p->keyword; p++)
			if (strcmp(p->keyword, "dbname") == 0 && p->val &&
			    *p->val)
				has_db = true;
		PQconninfoFree(o);
		keys[n] = "dbname";
		vals[n++] = url;
		if (!has_db || app_url) {
			keys[n] = "dbname";
			vals[n++] = "pgperf";
		}
		if (host) {
			keys[n] = "host";
			vals[n++] = host;
		}
		if (port) {
			keys[n] = "port";
			vals[n++] = port;
		}
	} else {
		keys[n] = "host";
		vals[n++] = host ? host : "127.0.0.1";
		keys[n] = "port";
		vals[n++] = port ? port : "6432";
		keys[n] = "dbname";
		vals[n++] = "pgperf";
	}
	keys[n] = "application_name";
	vals[n++] = "pgperf-ctl";
	if (user) {
		keys[n] = "user";
		vals[n++] = user;
	}
	keys[n] = NULL;
	vals[n] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	free(app_url);
	if (PQstatus(conn) != CONNECTION_OK) {
		const char *msg = PQerrorMessage(conn);

		if (strstr(msg, "admin") || strstr(msg, "not allowed") ||
		    strstr(msg, "password"))
			fprintf(stderr,
				"pgperf-ctl: the admin console refused the login: %s"
				"hint: the user must be in admin_users or stats_users, with its password in PGPASSWORD or ~/.pgpass\n",
				msg);
		else
			fprintf(stderr,
				"pgperf-ctl: cannot reach the admin console at %s:%s: %s"
				"hint: is pgperf running there? set DATABASE_URL (as run.sh prints it), PGPERF_URL or -h/-p\n",
				PQhost(conn) ? PQhost(conn) : "?",
				PQport(conn) ? PQport(conn) : "?", msg);
		PQfinish(conn);
		return 1;
	}
	if (!cmd->sql || strcmp(cmd->name, "queries") == 0 ||
	    strcmp(cmd->name, "findings") == 0 ||
	    strcmp(cmd->name, "report") == 0 ||
	    strcmp(cmd->name, "mark") == 0) {
		rc = !cmd->sql ? cmd_stats(conn, json)
		     : strcmp(cmd->name, "findings") == 0
			     ? cmd_findings(conn, json)
		     : strcmp(cmd->name, "report") == 0 ? cmd_report(conn, json)
		     : strcmp(cmd->name, "mark") == 0
			     ? cmd_mark(conn, load, arg)
			     : cmd_queries(conn, sort, limit, json);
		PQfinish(conn);
		return rc;
	}
	if (cmd->db && arg) {
		/* COMMAND "name": the name as a quoted identifier */
		size_t cap = strlen(cmd->sql) + 2 * strlen(arg) + 4;
		char *sql = malloc(cap), *o;

		if (!sql) {
			fprintf(stderr, "pgperf-ctl: out of memory\n");
			PQfinish(conn);
			return 1;
		}
		o = sql + sprintf(sql, "%s \"", cmd->sql);
		for (const char *s = arg; *s; s++) {
			if (*s == '"')
				*o++ = '"';
			*o++ = *s;
		}
		*o++ = '"';
		*o = '\0';
		res = PQexec(conn, sql);
		free(sql);
	} else if (fleet) {
		char sql[128];

		snprintf(sql, sizeof(sql), "SHOW FLEET %s", cmd->sql + 5);
		res = PQexec(conn, sql);
	} else {
		res = PQexec(conn, cmd->sql);
	}
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		if (json) {
			struct sorted all;

			if (!sort_rows(&all, res, NULL, -1)) {
				rc = 1;
				break;
			}
			print_json_rows(&all);
			printf("\n");
			free(all.order);
		} else {
			print_table(res);
		}
		break;
	case PGRES_COMMAND_OK:
		if (json)
			printf("{\"ok\": true, \"command\": \"%s\"}\n",
			       PQcmdStatus(res));
		else
			printf("%s\n", PQcmdStatus(res));
		break;
	default:
		fprintf(stderr, "pgperf-ctl: %s", PQerrorMessage(conn));
		rc = 1;
		break;
	}
	PQclear(res);
	PQfinish(conn);
	return rc;
}
