/*
 * analyzer.h -- the analyzer thread and what the rest of pgperf sees of it.
 *
 * The I/O thread pushes fixed-size events into a bounded single-producer /
 * single-consumer ring; when the ring is full the event is dropped and
 * counted, so the I/O thread never waits for analysis.  The analyzer
 * thread drains the ring, parses each new statement shape once with
 * libpg_query, and keeps per-fingerprint statistics.  Readers (the admin
 * console, HTTP) copy what they show under a lock the analyzer holds only
 * while applying a batch of events.
 */
#ifndef PGPERF_ANALYZER_H
#define PGPERF_ANALYZER_H

#include "pgperf/common.h"

enum ana_event_type {
	ANA_TEXT,	 /* shape -> text: the first time a shape is seen */
	ANA_STMT,	 /* one statement completed */
	ANA_CLIENT,	 /* client id -> "database\0user\0application\0" */
	ANA_CLIENT_GONE, /* client id disconnected */
	ANA_RESET,	 /* RESET STATS */
};

struct ana_event {
	uint8_t type;	  /* enum ana_event_type */
	char sqlstate[6]; /* ANA_STMT: "" or the error's SQLSTATE */
	uint32_t dur_us;  /* ANA_STMT: request received .. completed */
	uint32_t wait_us; /* ANA_STMT: waiting for a server connection */
	uint64_t shape;
	uint64_t client;
	uint64_t rows;
	uint64_t bytes; /* sent to the client for it */
	int64_t end_us; /* wall clock at completion */
	char *text;	/* owned, malloc'd: ANA_TEXT, ANA_CLIENT */
	uint32_t text_len;
};

/* One (database, user, application) of a fingerprint. */
struct ana_by {
	char database[64], user[64], application[64];
	uint64_t calls, errors, rows, total_us;
	uint64_t p50_us, p95_us, p99_us;
};

#define ANA_MAX_ERRS 4

/* One fingerprint's figures, as readers get them. */
struct ana_query {
	uint64_t fingerprint;
	char *query; /* owned: normalized text */
	const char *kind;
	bool parsed, read_only, deterministic;
	uint64_t calls, errors, rows, bytes;
	uint64_t total_us, min_us, max_us, wait_us;
	uint64_t p50_us, p95_us, p99_us, p999_us;
	int64_t first_seen_us, last_seen_us;	    /* wall clock */
	char tables_read[256], tables_written[256]; /* comma-separated */
	struct {
		char sqlstate[6];
		uint64_t n;
	} err[ANA_MAX_ERRS]; /* errors by SQLSTATE (the first few seen) */
	struct ana_by *by;   /* owned: per (database, user, application) */
	size_t nby;
	/* cumulative counts at the Prometheus bucket bounds (ana_bucket_us) */
	uint64_t le[16];
};

struct ana_totals {
	uint64_t events, dropped, shapes, fingerprints, evicted;
	uint64_t unparsed, unknown_shape;
	uint64_t calls, errors;
};

/* Prometheus bucket upper bounds, microseconds (ANA_BUCKETS of them). */
#define ANA_BUCKETS 14
extern const uint64_t ana_bucket_us[ANA_BUCKETS];

struct analyzer;

/* Start the thread; NULL on failure. */
struct analyzer *analyzer_start(int max_tracked_queries);
/* Stop and join the thread and free everything. */
void analyzer_stop(struct analyzer *a);

/*
 * I/O thread: queue an event.  On success the analyzer owns ev->text; on
 * failure (ring full) the caller still does, and the drop is counted.
 */
bool analyzer_push(struct analyzer *a, const struct ana_event *ev);
/* I/O thread: has the analyzer lost texts, so that known shapes must be
 * sent again?  Clears the request. */
bool analyzer_wants_texts(struct analyzer *a);

/*
 * Readers: the tracked fingerprints (plus "other" when it has calls),
 * sorted by total time, most first.  Caller frees with ana_queries_free.
 */
size_t analyzer_queries(struct analyzer *a, struct ana_query **out,
			struct ana_totals *totals);
void ana_queries_free(struct ana_query *q, size_t n);
/* Block until every event pushed so far has been applied (tests, admin
 * commands that must see their own effect). */
void analyzer_sync(struct analyzer *a, int timeout_ms);

#endif
