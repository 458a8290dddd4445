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
};

static const struct command commands[] = {
	{"pools", "SHOW POOLS", "pools: clients and servers per database/user"},
	{"clients", "SHOW CLIENTS", "client connections"},
	{"servers", "SHOW SERVERS", "server connections"},
	{"databases", "SHOW DATABASES", "configured databases"},
	{"hazards", "SHOW HAZARDS",
	 "session features that pinned clients in transaction mode"},
	{"config", "SHOW CONFIG", "every setting with its value and default"},
	{"version", "SHOW VERSION", "the running pgperf's version"},
	{"reload", "RELOAD", "re-read the configuration file"},
	{"pause", "PAUSE", "stop handing out server connections"},
	{"resume", "RESUME", "undo pause"},
	{"shutdown", "SHUTDOWN", "stop pgperf now"},
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pgperf-ctl [-h HOST] [-p PORT] [-U USER] [--json] COMMAND\n\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
			commands[i].help);
	fprintf(out,
		"\nThe password comes from PGPASSWORD or ~/.pgpass, as with psql.\n"
		"HOST, PORT and USER default to PGHOST, PGPORT and PGUSER, then\n"
		"127.0.0.1, 6432 and the current user.\n");
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

static bool looks_numeric(const char *s)
{
	if (!*s)
		return false;
	if (*s == '-')
		s++;
	return *s && strspn(s, "0123456789") == strlen(s);
}

static void print_json(PGresult *res)
{
	int rows = PQntuples(res), cols = PQnfields(res);

	printf("[");
	for (int r = 0; r < rows; r++) {
		printf(r ? ",\n {" : "\n {");
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
	printf(rows ? "\n]\n" : "]\n");
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
			int n = (int)strlen(PQgetvalue(res, r, c));

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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"user", required_argument, NULL, 'U'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, '?'},
		{NULL, 0, NULL, 0}};
	const char *host = getenv("PGHOST"), *port = getenv("PGPORT");
	const char *user = getenv("PGUSER");
	const char *keys[6], *vals[6];
	const struct command *cmd = NULL;
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
		default:
			usage(ch == '?' && optopt == 0 ? stdout : stderr);
			return ch == '?' && optopt == 0 ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "pgperf-ctl: unknown command \"%s\"\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	keys[n] = "host";
	vals[n++] = host ? host : "127.0.0.1";
	keys[n] = "port";
	vals[n++] = port ? port : "6432";
	keys[n] = "dbname";
	vals[n++] = "pgperf";
	keys[n] = "application_name";
	vals[n++] = "pgperf-ctl";
	if (user) {
		keys[n] = "user";
		vals[n++] = user;
	}
	keys[n] = NULL;
	vals[n] = NULL;
	conn = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "pgperf-ctl: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	res = PQexec(conn, cmd->sql);
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		if (json)
			print_json(res);
		else
			print_table(res);
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
