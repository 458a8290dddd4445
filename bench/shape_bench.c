/*
 * shape_bench.c -- nanoseconds per statement for the shape lexer (what
 * the I/O thread pays for every statement) against libpg_query's
 * fingerprint and full parse (what the analyzer pays once per new shape).
 *
 *   build-release/bench/shape_bench [ITERATIONS]
 */
#include <pg_query.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/shape.h"
#include "analyzer/sqlparse.h"

static const char *const corpus[] = {
	"SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
	"UPDATE pgbench_accounts SET abalance = abalance + -2117 WHERE aid = 48213;",
	"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (7, 1, 48213, -2117, CURRENT_TIMESTAMP);",
	"SELECT users.id AS users_id, users.name AS users_name, users.email AS users_email, users.created_at AS users_created_at FROM users WHERE users.id = 1234",
	"SELECT \"blog_post\".\"id\", \"blog_post\".\"title\", \"blog_post\".\"body\", \"blog_post\".\"author_id\", \"blog_post\".\"published\" FROM \"blog_post\" WHERE (\"blog_post\".\"author_id\" = 17 AND \"blog_post\".\"published\") ORDER BY \"blog_post\".\"id\" DESC LIMIT 21",
	"SELECT \"comments\".* FROM \"comments\" WHERE \"comments\".\"post_id\" = $1 /*application:Blog,controller:posts,action:show*/",
	"SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.created_at > now() - interval '7 days' AND o.status IN ('paid', 'shipped') ORDER BY o.created_at DESC LIMIT 50 /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/",
	"BEGIN",
	"COMMIT",
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 200000;
	size_t n = sizeof(corpus) / sizeof(corpus[0]), len[16], bytes = 0;
	uint64_t sink = 0;
	double t0, t1;
	long slow = iters / 100 > 0 ? iters / 100 : 1;

	for (size_t i = 0; i < n; i++)
		bytes += len[i] = strlen(corpus[i]);
	t0 = now_ns();
	for (long k = 0; k < iters; k++)
		for (size_t i = 0; i < n; i++) {
			struct shape s;

			shape_compute(corpus[i], len[i], &s);
			sink += s.hash;
		}
	t1 = now_ns();
	printf("shape lexer:               %8.0f ns per statement (%ld x %zu statements, mean %.0f bytes)\n",
	       (t1 - t0) / ((double)iters * (double)n), iters, n,
	       (double)bytes / (double)n);
	t0 = now_ns();
	for (long k = 0; k < slow; k++)
		for (size_t i = 0; i < n; i++) {
			PgQueryFingerprintResult r =
				pg_query_fingerprint(corpus[i]);

			sink += r.fingerprint;
			pg_query_free_fingerprint_result(r);
		}
	t1 = now_ns();
	printf("libpg_query fingerprint:   %8.0f ns per statement\n",
	       (t1 - t0) / ((double)slow * (double)n));
	t0 = now_ns();
	for (long k = 0; k < slow; k++)
		for (size_t i = 0; i < n; i++) {
			struct sqlparse p;

			if (sqlparse_run(corpus[i], &p))
				sink += p.fingerprint;
			sqlparse_free(&p);
		}
	t1 = now_ns();
	printf("analyzer per new shape:    %8.0f ns per statement (fingerprint + normalize + parse tree)\n",
	       (t1 - t0) / ((double)slow * (double)n));
	return sink == 42 ? 1 : 0;
}
