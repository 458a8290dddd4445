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

#include "lib/common.h"

enum ana_event_type {
	ANA_TEXT,	 /* shape -> text: the first time a shape is seen */
	ANA_STMT,	 /* one statement completed */
	ANA_CLIENT,	 /* client id -> "database\0user\0application\0"
			    "conninfo\0" (libpq, for catalog lookups) */
	ANA_CLIENT_GONE, /* client id disconnected */
	ANA_RESET,	 /* RESET STATS */
	ANA_MARK,	 /* a named point in time: text = name, rows = kind */
};

/* What a mark is (pgperf-ctl mark). */
enum ana_mark_kind {
	ANA_MARK_POINT,	     /* a change: windows are compared around it */
	ANA_MARK_LOAD_START, /* a load test begins ... */
	ANA_MARK_LOAD_STOP,  /* ... and ends */
};

/*
 * What the I/O thread saw of one statement's values, for requests and N+1
 * detection.  Values are never kept: only 64-bit hashes of their text
 * form (binary integers and UUIDs are converted to text first, so that a
 * value hashes the same in either format).
 */
#define ANA_MAX_PARAMS 8
#define ANA_SAMPLE_COLS 4
#define ANA_SAMPLE_ROWS 32
#define ANA_ROUTE_MAX 64

struct ana_sample {
	uint8_t ncols;
	uint16_t nrows;
	uint32_t rel[ANA_SAMPLE_COLS];	/* table OID of each sampled column */
	int16_t att[ANA_SAMPLE_COLS];	/* its attribute number */
	int16_t idx[ANA_SAMPLE_COLS];	/* I/O thread: column index in a row */
	uint8_t fmt[ANA_SAMPLE_COLS];	/* I/O thread: 0 text, 1 binary */
	uint32_t type[ANA_SAMPLE_COLS]; /* I/O thread: type OID */
	/* by row, so that a sample of few rows can be cut to size */
	uint64_t val[ANA_SAMPLE_ROWS][ANA_SAMPLE_COLS]; /* 0 = NULL */
};

struct ana_detail {
	uint64_t tag;	 /* traceparent, else route tags: hash; 0 none */
	bool traced;	 /* tag is a traceparent */
	bool in_xact;	 /* a transaction block was open before it */
	bool xact_ended; /* one ended since the previous statement */
	uint8_t nparams; /* values hashed, at most ANA_MAX_PARAMS */
	uint64_t param[ANA_MAX_PARAMS]; /* 0 = NULL or not read */
	char route[ANA_ROUTE_MAX];	/* route/controller#action, "" none */
	struct ana_sample *sample;	/* owned, malloc'd; NULL: none */
};

/* Free a detail and its sample (either thread). */
void ana_detail_free(struct ana_detail *d);
struct analyzer;
/*
 * I/O thread: an empty detail, recycled from those the analyzer has
 * finished with (no allocation in the steady state, and none freed on
 * one thread that the other allocated), else calloc'd.
 */
struct ana_detail *analyzer_detail_new(struct analyzer *a);
/* A value's hash as the detector compares them: never 0. */
uint64_t ana_value_hash(const void *text, size_t len);

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
	struct ana_detail *detail; /* owned, malloc'd: ANA_STMT, or NULL */
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
	struct ana_by *by; /* owned: admin_per (database, user, application) */
	size_t nby;
	/* cumulative counts at the Prometheus bucket bounds (ana_bucket_us) */
	uint64_t le[16];
	uint64_t members; /* merged images: a bit per process it ran on */
};

struct ana_totals {
	uint64_t events, dropped, shapes, fingerprints, evicted;
	uint64_t unparsed, unknown_shape;
	uint64_t calls, errors;
	uint64_t advice_checked; /* fingerprints index advice looked at */
};

/* Prometheus bucket upper bounds, microseconds (ANA_BUCKETS of them). */
#define ANA_BUCKETS 14
extern const uint64_t ana_bucket_us[ANA_BUCKETS];

/* The findings export document's version (pgperf-ctl findings --json,
 * HTTP /findings): bumped when a field changes meaning. */
#define ANA_FINDINGS_VERSION 1

/* The kinds of finding.  Their names (ana_finding_kind_name()) are the
 * export's "kind" values and the metrics' labels: never renamed. */
enum ana_finding_kind {
	FND_N_PLUS_ONE,
	FND_REDUNDANT_QUERY,
	FND_SEQUENTIAL_QUERIES,
	FND_MISSING_INDEX,
	FND_CACHEABLE_QUERY,
	FND_SLOW_QUERY,
	FND_POOLING_HAZARD,
	FND_POOL_SATURATION,
	FND_KINDS
};

/* "n_plus_one", "redundant_query", ... */
const char *ana_finding_kind_name(enum ana_finding_kind k);

/* One finding, as readers get it (see findings.h). */
struct ana_finding {
	char id[40];
	enum ana_finding_kind kind;
	const char *severity; /* static: high, medium, low */
	bool proven;	      /* n_plus_one: the relation is proven */
	char *query;	      /* owned: normalized (the child, for N+1) */
	char *parent_query;   /* owned: normalized, or NULL */
	char tables[256];     /* comma-separated */
	char relation[400];   /* "orders.id -> order_items.order_id", or "" */
	char routes[320];     /* comma-separated */
	uint64_t requests, executions;
	uint32_t max_repeats;
	double mean_repeats;
	uint64_t saved_us; /* in all the requests seen */
	int64_t last_seen_us;
	char *suggestion;   /* owned: one line */
	char *json;	    /* owned: the whole finding, one JSON object */
	const char *status; /* static: proven, kept, ... or NULL */
	char *ddl;	    /* owned: missing_index's CREATE INDEX, or NULL */
	double before_ms, after_ms; /* missing_index, once measured */
	/* the fingerprint it is about (an N+1's child), and a
	 * sequential_queries finding's reads: for folding findings with one
	 * root cause into one */
	uint64_t fp;
	uint64_t seq_fp[4];
	uint32_t nseq;
	uint64_t members; /* merged images: a bit per process it was seen on */
};

/* One route's requests, as readers get them. */
struct ana_route {
	char route[ANA_ROUTE_MAX]; /* "" for requests without tags */
	uint64_t requests, statements, nplus1_requests;
	double statements_mean;
	uint64_t statements_p95;
	uint64_t db_us, db_p95_us; /* total, and the p95 per request */
	uint64_t db_p99_us;
};

/*
 * The statements between two points in time (marks, pgperf's start, now),
 * for the report's before/after and load-test figures.
 */
#define ANA_MAX_MARKS 64
#define ANA_MARK_NAME 64

struct ana_window {
	bool present;
	char from_mark[ANA_MARK_NAME],
		to_mark[ANA_MARK_NAME]; /* "" start/now */
	int64_t from_us, to_us;		/* wall clock */
	uint64_t calls, errors, requests;
	uint64_t clients; /* most connections that ran statements in one
			     stretch between marks */
	uint64_t mean_us, p50_us, p95_us, p99_us;
	char application[64]; /* application_name with the most statements */
};

struct ana_mark_view {
	char name[ANA_MARK_NAME];
	int kind; /* enum ana_mark_kind */
	int64_t at_us;
};

/* One fingerprint before and after the latest point mark. */
#define ANA_WIN_QUERIES 10
struct ana_fp_change {
	uint64_t fingerprint;
	char query[200]; /* normalized, cut to fit */
	uint64_t calls_before, calls_after;
	uint64_t us_before, us_after; /* total time */
};

struct ana_windows {
	int64_t started_us; /* statistics kept since */
	int nmarks;
	struct ana_mark_view marks[ANA_MAX_MARKS];
	/* around the latest point mark: before it (since the point mark
	 * before, or the start) and after it (until now) */
	struct ana_window before, after;
	/* the latest load test: start .. stop, or start .. now */
	struct ana_window load;
	bool load_running;
	/* the fingerprints with the most time around the latest point mark
	 * that ran on both sides of it, most first */
	struct ana_fp_change changes[ANA_WIN_QUERIES];
	int nchanges;
};

/* Readers: the marks and the windows around them. */
void analyzer_windows(struct analyzer *a, struct ana_windows *out);

/* What the request detector uses; changeable at run time. */
struct ana_conf {
	int request_idle_gap_ms;
	int nplus1_min_repeats;
	int sequential_min_ms;
	bool index_advice;
	int index_min_table_rows;
	bool cache_on;	   /* the result cache runs: no cacheable_query */
	int slow_query_ms; /* p95 at or above it: a slow_query finding */
	int64_t state_save_interval_ms; /* state file: between saves */
	int cache_ttl_s; /* cacheable_query's hit potential: within this */
};

/*
 * What the result cache needs to know of a shape before its statement is
 * forwarded, published by the analyzer once it has parsed the shape
 * (I/O thread: analyzer_next_info()).  Tables are hashes of their bare
 * names (schema dropped: "public.orders" and "orders" are one table, which
 * can only invalidate more, never less).
 */
#define ANA_INFO_TABLES 4
#define ANA_SI_CACHEABLE \
	1		/* one read-only, deterministic SELECT of 1-4
			      tables, immutable functions, no catalogs */
#define ANA_SI_WRITES 2 /* changes data */
#define ANA_SI_WRITES_ALL \
	4 /* ... in tables it does not list (DDL,
			       TRUNCATE, unparsed, more than 4 tables) */

struct ana_shape_info {
	uint64_t shape, fingerprint;
	uint8_t flags;
	uint8_t nread, nwritten;
	uint64_t read[ANA_INFO_TABLES], written[ANA_INFO_TABLES];
	/* the bare names, for SHOW CACHE (cut to fit) */
	char read_name[ANA_INFO_TABLES][48], written_name[ANA_INFO_TABLES][48];
};

/* The hash a table's bare name keys cache generations by. */
uint64_t ana_table_hash(const char *name);
/* I/O thread: the next shape's facts, if any arrived. */
bool analyzer_next_info(struct analyzer *a, struct ana_shape_info *out);

struct analyzer;

/* Start the thread; NULL on failure. */
struct analyzer *analyzer_start(int max_tracked_queries);
/*
 * An analyzer without threads, fed only by state images
 * (analyzer_state_merge): the fleet view merges every process's image
 * into one and reads it with the readers below.  Free it with
 * analyzer_free_passive.
 */
struct analyzer *analyzer_new_passive(int max_tracked_queries);
void analyzer_free_passive(struct analyzer *a);
/* Set the request detector's thresholds (start and reload). */
void analyzer_configure(struct analyzer *a, const struct ana_conf *c);
/* Give `dst` (a fleet view's passive analyzer) the settings of `src`. */
void analyzer_copy_conf(struct analyzer *dst, struct analyzer *src);
/*
 * Keep statistics, requests, findings and marks in the state file at
 * `path` (start only): the analyzer thread loads it before applying any
 * event (a file it cannot use is renamed FILE.corrupt-TIMESTAMP), then
 * saves it every state_save_interval_ms and when stopped.
 */
void analyzer_set_state(struct analyzer *a, const char *path);
/* The state image (malloc'd; the file's bytes), or NULL. */
void *analyzer_state_image(struct analyzer *a, size_t *len);
/* Merge a state image into the analyzer; false (with the reason, and
 * nothing of it kept) when it is not a valid one. */
bool analyzer_state_load(struct analyzer *a, const void *buf, size_t len,
			 char *err, size_t errlen);
/*
 * The same, marking what the image holds as `member`'s (a bit, one per
 * process of a fleet): readers then say which processes each
 * fingerprint and finding covers (ana_query.members,
 * ana_finding.members).  Findings seen by several members add up.  The
 * header and checksum are checked first; a payload bad past them (another
 * version's) may leave part of itself in, and is reported.
 */
bool analyzer_state_merge(struct analyzer *a, const void *buf, size_t len,
			  uint64_t member, char *err, size_t errlen);
/*
 * What the I/O thread keeps in the state file (the pools' counters), as
 * opaque bytes: handed over to be written with the next save (takes over
 * `blob`, malloc'd), and taken back once the file was loaded (malloc'd;
 * NULL with *settled false while the load has not run yet, NULL with
 * *settled true when there is nothing).
 */
void analyzer_set_extra(struct analyzer *a, void *blob, size_t len);
void *analyzer_take_extra(struct analyzer *a, size_t *len, bool *settled);
/* Stop and join the thread and free everything (saving the state file
 * first, when there is one). */
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
/* Readers: a shape's normalized text (malloc'd), or NULL if unknown. */
char *analyzer_shape_query(struct analyzer *a, uint64_t shape);
/* Readers: findings, most costly first; routes, most requests first. */
size_t analyzer_findings(struct analyzer *a, struct ana_finding **out);
void ana_findings_free(struct ana_finding *f, size_t n);
size_t analyzer_routes(struct analyzer *a, struct ana_route **out);
/*
 * Readers that must see every statement completed before they asked wait
 * for a ticket without blocking: take analyzer_ticket() (the events
 * pushed so far); analyzer_reached() says whether all of them have been
 * applied.  If not, analyzer_notify_when(ticket) makes the analyzer write
 * the eventfd analyzer_notify_fd() once they have (console/fence.c watches
 * it); one ticket is watched at a time, the latest set.
 */
uint64_t analyzer_ticket(struct analyzer *a);
bool analyzer_reached(struct analyzer *a, uint64_t ticket);
int analyzer_notify_fd(struct analyzer *a);
void analyzer_notify_when(struct analyzer *a, uint64_t ticket);
/* Tests only (it sleeps): wait until every event pushed so far has been
 * applied, at most timeout_ms.  The daemon waits with tickets instead. */
void analyzer_sync(struct analyzer *a, int timeout_ms);

#endif
