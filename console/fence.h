/*
 * fence.h -- readers of the analysis wait for the analyzer without the
 * I/O thread waiting.
 *
 * A console command or HTTP request that shows statistics must see every
 * statement that completed before it was asked.  fence_wait() answers at
 * once when the analyzer has applied every event pushed so far; otherwise
 * it queues the reader with a ticket (the events pushed so far) and
 * returns false.  The analyzer writes an eventfd when the ticket passes;
 * the I/O loop then calls the reader's `ready` callback.  Only that
 * reader waits; after FENCE_MAX_WAIT_US it is answered with what is
 * there, as the analyzer may be far behind.
 */
#ifndef PGPERF_FENCE_H
#define PGPERF_FENCE_H

#include "lib/list.h"

#include <stdbool.h>
#include <stdint.h>

struct pgperf;

#define FENCE_MAX_WAIT_US (2 * 1000000)

struct fence_waiter {
	struct list node; /* on pp->fence_waiters while waiting */
	uint64_t ticket;
	int64_t deadline_us; /* monotonic */
	/* called once, from the I/O loop, when the reader may go on; it may
	 * free the structure holding this waiter */
	void (*ready)(struct fence_waiter *w);
};

/* Watch the analyzer's notification fd (after the analyzer started). */
bool fence_start(struct pgperf *pp);
void fence_stop(struct pgperf *pp);
/* Initialise a waiter not yet queued. */
void fence_waiter_init(struct fence_waiter *w);
/*
 * True: the analysis is up to date, go on now.  False: `w` is queued and
 * `ready` will be called later.  `w` must not be queued already.
 */
bool fence_wait(struct pgperf *pp, struct fence_waiter *w,
		void (*ready)(struct fence_waiter *w));
/* Is `w` queued? */
bool fence_waiting(const struct fence_waiter *w);
/* Dequeue `w` without calling it (its owner is going away). */
void fence_cancel(struct fence_waiter *w);

#endif
