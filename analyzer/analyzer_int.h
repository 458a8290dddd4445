/*
 * analyzer_int.h -- the analyzer's insides, shared by its files:
 * analyzer.c (the thread, the ring, the tables, statistics, requests),
 * analyzer_findings.c (naming findings, index advice, findings for
 * readers), readers.c (statistics for readers), shape_info.c (shape facts
 * for the cache), windows.c (marks) and state.c (the state file).  Not
 * for the rest of pgperf, which sees analyzer.h only.
 */
#ifndef PGPERF_ANALYZER_INT_H
#define PGPERF_ANALYZER_INT_H

#include "analyzer/analyzer.h"
#include "analyzer/findings.h"
#include "analyzer/histogram.h"
#include "analyzer/requests.h"
#include "analyzer/sqlparse.h"

#include <pthread.h>
#include <stdatomic.h>

#define RING_SIZE 65536	       /* events; a power of two */
#define RING_BYTES (64u << 20) /* text carried by the events in the ring */
#define FREE_RING 8192 /* details coming back for reuse; a power of two */
#define INFO_RING 4096 /* shape facts for the I/O thread; a power of two */
#define BATCH 64 /* events applied per lock hold: readers wait at most that */
#define MAX_SUBS 32 /* (database, user, application) per fingerprint */
#define MAX_ERRS ANA_MAX_ERRS /* SQLSTATEs kept per fingerprint */

struct counters {
	uint64_t calls, errors, rows, bytes, wait_us;
	struct histogram hist;
};

struct sub {
	struct sub *next;
	uint64_t client_key; /* hash of database, user, application */
	char *who;	     /* owned: "database\0user\0application\0" */
	struct counters c;
};

/*
 * Hit potential of a cacheable fingerprint: how often the same parameter
 * values come back within the cache's TTL with no write to its tables in
 * between - what a result cache would answer.  Value sets are remembered
 * direct-mapped (a collision forgets one: it errs low), each with when it
 * would have been filled and the write count of its tables then.
 */
#define HP_RECENT 64
struct hit_pot {
	uint64_t execs, repeats, repeat_us;
	struct {
		uint64_t vals;
		int64_t filled_us; /* wall clock */
		uint64_t writes;
	} recent[HP_RECENT];
};

/* Writes counted per table (bare-name hash), for hit potential. */
#define WRITES_SLOTS 1024
struct table_writes {
	uint64_t table; /* 0 = empty */
	uint64_t n;
};

struct qstat {
	struct qstat *next; /* hash chain */
	uint64_t fingerprint;
	struct sqlparse parse;
	struct counters c;
	struct {
		char state[6];
		uint64_t n;
	} err[MAX_ERRS];
	int64_t first_seen, last_seen;
	struct sub *subs;
	int nsubs;
	char *sample; /* owned: the first text seen, values included
			       (index advice explains it; never shown) */
	/* who sent the sample: index advice plans it only as that role, on
	 * that database ("" = not known: it is not planned) */
	char sample_db[64], sample_user[64];
	int64_t advised_at; /* monotonic: index advice last looked at it */
	/* calls and time (cumulative) at the point mark before the latest
	 * [0] and at the latest [1]: its before/after around marks */
	uint64_t mk_calls[2], mk_us[2];
	struct hit_pot *hp; /* owned: cacheable fingerprints only, or NULL */
	uint64_t members;   /* merged images: the processes it ran on */
};

struct shape_ent {
	uint64_t shape; /* 0 = empty */
	uint64_t fingerprint;
};

/* A client's current request (clients that ran statements only). */
struct creq {
	struct creq *prev, *next; /* a->creqs, while a request is open */
	bool linked;
	uint64_t client;
	struct request r;
};

struct client_ent {
	uint64_t id; /* 0 = empty, UINT64_MAX = deleted */
	char *who;   /* owned */
	uint64_t key;
	struct creq *req; /* owned, or NULL */
	uint32_t win_gen; /* the window it last ran a statement in */
	uint8_t win_app;  /* its application's slot in that window */
};

/* The statements of one stretch between marks (windows.c). */
#define WIN_APPS 8
struct window {
	int64_t from_us; /* wall clock */
	uint64_t calls, errors, requests, clients;
	struct histogram hist; /* statement latency */
	struct {
		char name[64];
		uint64_t calls;
	} app[WIN_APPS];
	int napps;
};

struct mark {
	char name[ANA_MARK_NAME];
	int kind;
	int64_t at_us;	   /* wall clock */
	struct window seg; /* the stretch that ended at it */
};

#define MAX_ROUTES 256 /* then "(other)" */
#define MAX_FINDINGS_PER_REQUEST 16
#define TICK_US 50000	       /* how often idle requests are ended */
#define LOOKUP_EVERY_US 100000 /* catalog lookups at most this often */
#define ADVICE_EVERY_US 500000 /* index advice: one step this often */
#define ADVICE_AGAIN_US (300 * 1000000LL) /* a fingerprint looked at again */
#define ADVICE_MIN_CALLS 5		  /* calls before it is looked at */
#define ADVICE_MIN_SHARE 0.01		  /* of all database time */
#define CACHEABLE_MAX 5			  /* cacheable_query findings shown */
#define CACHEABLE_MIN_REPEATS 20	  /* executions a cache would answer */
#define CACHEABLE_MIN_HIT_PCT 50	  /* ... of all its executions */
#define CACHEABLE_MIN_SHARE 0.01	  /* their time, of all database time */
#define SLOW_MAX 10			  /* slow_query findings shown */
#define SLOW_MIN_CALLS 5		  /* calls before a query is one */

struct route_ent {
	char route[ANA_ROUTE_MAX];
	uint64_t requests, statements, nplus1;
	struct histogram stmts, db; /* per request */
};

struct analyzer {
	/*
	 * The ring: the I/O thread writes tail, the analyzer head.  What
	 * each side writes sits on its own cache line, so that a push and
	 * an apply do not keep stealing one line from each other.
	 */
	struct ana_event *ring;		    /* owned */
	_Alignas(64) _Atomic uint32_t tail; /* I/O thread */
	_Atomic uint64_t pushed;	    /* I/O thread */
	_Atomic uint64_t dropped;	    /* I/O thread */
	/* bytes of text in events pushed and not yet applied: the ring is
	 * bounded by RING_BYTES as well as by RING_SIZE events */
	_Atomic uint64_t ring_bytes;
	_Atomic uint32_t fhead;		    /* I/O thread: free_ring */
	_Alignas(64) _Atomic uint32_t head; /* analyzer */
	_Atomic uint64_t applied;	    /* analyzer */
	_Atomic uint32_t ftail;		    /* analyzer: free_ring */
	_Alignas(64) _Atomic bool wants_texts;
	_Atomic bool stop;
	/* details going back: the analyzer writes ftail, the I/O thread
	 * fhead */
	struct ana_detail **free_ring; /* owned */
	/* shape facts for the result cache: analyzer writes itail */
	struct ana_shape_info *info_ring; /* owned */
	_Atomic uint32_t ihead, itail;
	pthread_t thread;
	/* an idle analyzer sleeps in poll() on this eventfd; a write wakes
	 * it without a lock (analyzer_kick) */
	int wake_fd;
	/* readers waiting for `applied` to pass a ticket: when it does, the
	 * analyzer writes notify_fd (an eventfd the I/O thread watches) */
	_Atomic uint64_t notify_at;
	int notify_fd;
	/* the side thread: catalog lookups, index advice and state-file
	 * saves wait on PostgreSQL or the disk, so they run apart from the
	 * thread that drains the ring; it sleeps in poll() on side_fd */
	pthread_t side;
	bool side_started;
	_Atomic bool side_stop;
	int side_fd;
	/* tests only (PGPERF_TEST_SLOW_ANALYZER_MS): sleep after each batch,
	 * to stand for an analyzer that has fallen behind */
	int test_delay_ms;

	pthread_mutex_t lock; /* guards everything below */
	int max_fp;
	struct qstat **fp; /* owned hash table */
	size_t nfp_buckets, nfp;
	struct qstat other;
	struct shape_ent *shapes; /* owned, open addressing */
	size_t nshape_slots, nshapes;
	struct client_ent *clients; /* owned, open addressing */
	size_t nclient_slots, nclients;
	struct ana_totals t;
	/* requests and findings */
	struct req_conf conf;
	bool advice;
	int advice_min_rows;
	bool cache_on;		  /* no cacheable_query findings then */
	struct creq creqs;	  /* list head */
	struct route_ent *routes; /* owned, MAX_ROUTES + 1 ("other") */
	size_t nroutes;
	struct findings *findings;
	struct advisor *advisor;
	/* the side thread's; conninfos arrive through catalog's own lock */
	struct catalog *catalog;
	int64_t next_tick_us;
	int slow_query_ms;
	int cache_ttl_s; /* the TTL hit potential is measured against */
	/* writes per table, and to tables unknown (DDL, statements not
	 * parsed): a fingerprint's tables' write count is their sum */
	struct table_writes *writes; /* owned, WRITES_SLOTS, open addressing */
	size_t nwrites;
	uint64_t writes_unknown;
	/* marks and the open stretch since the latest (windows.c) */
	struct mark marks[ANA_MAX_MARKS];
	int nmarks;
	struct window cur;
	uint32_t win_gen;
	/* the state file (state.c): loaded by the analyzer thread, saved
	 * by the side thread */
	char *state_path;		/* owned; NULL = none; set once */
	_Atomic int64_t state_every_us; /* between saves */
	_Atomic bool state_load;	/* set: load it before anything */
	_Atomic bool state_on;		/* loaded (or tried), so saved */
	/* the I/O thread's own section (under `lock`) */
	uint8_t *extra_out, *extra_in; /* to write; as loaded */
	size_t extra_out_len, extra_in_len;
	bool extra_settled; /* the load has run */
};

/* analyzer.c, for analyzer_findings.c (callers hold a->lock unless said) */
struct qstat *ana_fp_find(struct analyzer *a, uint64_t fp);
/* May the result cache keep this statement's replies? */
bool ana_sql_cacheable(const struct sqlparse *p);
/* shape_info.c: publish a newly parsed shape's facts for the cache */
void ana_publish_info(struct analyzer *a, uint64_t shape,
		      const struct sqlparse *p);
void ana_join_tables(char *buf, size_t cap, char *const *t, int n);
/* analyzer.c: a client's entry by id (inserted when asked to). */
struct client_ent *ana_client_slot(struct analyzer *a, uint64_t id,
				   bool insert);
/* analyzer_track.c: requests, writes per table, hit potential. */
void ana_creq_unlink(struct creq *c);
void ana_creq_free(struct creq *c);
void ana_finish_request(struct analyzer *a, struct creq *c);
void ana_track_request(struct analyzer *a, const struct ana_event *ev,
		       uint64_t fp, const struct sqlparse *parse);
void ana_end_idle_requests(struct analyzer *a, int64_t now_wall);
void ana_note_writes(struct analyzer *a, const struct qstat *q);
void ana_note_hit_potential(struct analyzer *a, struct qstat *q,
			    const struct ana_event *ev);

bool ana_counters_merge(struct counters *d, const struct counters *s);
void ana_counters_free(struct counters *c);
struct qstat *ana_fp_add(struct analyzer *a, uint64_t fp,
			 struct sqlparse *parse);
struct route_ent *ana_route_for(struct analyzer *a, const char *route);
void ana_reset_all(struct analyzer *a); /* RESET STATS */

/* windows.c (lock held) */
void win_init(struct analyzer *a, int64_t now_wall);
void win_free(struct analyzer *a);
void win_stmt(struct analyzer *a, struct client_ent *ce,
	      const struct ana_event *ev);
void win_request(struct analyzer *a);
void win_mark(struct analyzer *a, const struct ana_event *ev);
int64_t win_started(const struct analyzer *a);

/* state.c: with the lock not held */
void state_load_step(struct analyzer *a); /* analyzer thread: load once */
/* side thread: save when due; returns when the next save is due */
int64_t state_save_step(struct analyzer *a, int64_t now, int64_t next);
void state_save_now(struct analyzer *a);
/* wake a thread sleeping in poll() on an eventfd */
void analyzer_kick_fd(int fd);
void win_save(const struct window *w, struct jbuf *b);
bool win_load(struct window *w, struct srd *r);

/* analyzer_findings.c: the side thread's steps, with the lock not held */
void ana_lookup_one(struct analyzer *a);  /* name one N+1 finding */
void ana_advise_step(struct analyzer *a); /* one step of index advice */

#endif
