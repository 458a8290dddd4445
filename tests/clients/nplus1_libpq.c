/*
 * nplus1_libpq.c -- the N+1 pattern with the extended protocol, from
 * plain libpq: for each of N requests, the orders under a total, then
 * each order's items one query at a time (PQexecParams: Parse, Bind,
 * Describe, Execute, Sync).
 *
 *   nplus1_libpq CONNINFO text|binary REQUESTS
 *
 * `binary` sends the child's parameter as a binary int4 and asks for the
 * parent's result in binary, so pgperf must match values across formats.
 * Requests are separated by a pause longer than request_idle_gap_ms.
 */
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static PGresult *must(PGconn *c, PGresult *r)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "nplus1_libpq: %s", PQerrorMessage(c));
		exit(1);
	}
	return r;
}

int main(int argc, char **argv)
{
	PGconn *c;
	int binary, requests, items = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: nplus1_libpq CONNINFO text|binary N\n");
		return 2;
	}
	binary = strcmp(argv[2], "binary") == 0;
	requests = atoi(argv[3]);
	c = PQconnectdb(argv[1]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "nplus1_libpq: %s", PQerrorMessage(c));
		return 1;
	}
	for (int r = 0; r < requests; r++) {
		const char *limit = "120";
		PGresult *orders = must(
			c, PQexecParams(
				   c,
				   "SELECT id, customer_id, total FROM orders "
				   "WHERE total <= $1 ORDER BY id",
				   1, NULL, &limit, NULL, NULL, binary));

		for (int i = 0; i < PQntuples(orders); i++) {
			char text[16];
			uint32_t be;
			const char *val;
			int len, fmt = binary;
			Oid type = 23; /* int4 */
			PGresult *res;

			if (binary) {
				memcpy(&be, PQgetvalue(orders, i, 0), 4);
				val = (const char *)&be; /* already big-endian */
				len = 4;
			} else {
				snprintf(text, sizeof(text), "%s",
					 PQgetvalue(orders, i, 0));
				val = text;
				len = 0;
			}
			res = must(
				c,
				PQexecParams(
					c,
					"SELECT id, sku, qty FROM order_items "
					"WHERE order_id = $1",
					1, binary ? &type : NULL, &val, &len,
					&fmt, 0));
			items += PQntuples(res);
			PQclear(res);
		}
		PQclear(orders);
		{
			struct timespec ts = {0, 300 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
	}
	PQfinish(c);
	printf("items: %d\n", items);
	return items == 48 * requests ? 0 : 1;
}
