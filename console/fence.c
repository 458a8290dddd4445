/*
 * fence.c -- readers of the analysis wait for the analyzer, the I/O
 * thread does not (see fence.h).
 */
#include "console/fence.h"

#include "analyzer/analyzer.h"
#include "lib/log.h"
#include "proxy/proxy_types.h"

#include <errno.h>
#include <event2/event.h>
#include <string.h>
#include <unistd.h>

/* How often deadlines are checked while someone waits. */
#define FENCE_CHECK_US 100000

void fence_waiter_init(struct fence_waiter *w)
{
	memset(w, 0, sizeof(*w));
	list_init(&w->node);
}

bool fence_waiting(const struct fence_waiter *w)
{
	return !list_empty(&w->node);
}

void fence_cancel(struct fence_waiter *w)
{
	list_del(&w->node);
}

/* The oldest waiter: tickets only grow, so it has the lowest. */
static struct fence_waiter *first_waiter(struct pgperf *pp)
{
	return list_entry(pp->fence_waiters.next, struct fence_waiter, node);
}

/* Ask the analyzer to say when the oldest waiter's ticket passes. */
static void fence_arm(struct pgperf *pp)
{
	struct timeval tv = {0, FENCE_CHECK_US};

	if (list_empty(&pp->fence_waiters)) {
		evtimer_del(pp->fence_timer);
		return;
	}
	analyzer_notify_when(pp->ana, first_waiter(pp)->ticket);
	if (!evtimer_pending(pp->fence_timer, NULL))
		evtimer_add(pp->fence_timer, &tv);
}

/* Call every waiter whose ticket passed or whose deadline came. */
static void fence_run(struct pgperf *pp)
{
	int64_t now = pgp_now_us();

	while (!list_empty(&pp->fence_waiters)) {
		struct fence_waiter *w = first_waiter(pp);

		if (!analyzer_reached(pp->ana, w->ticket)) {
			if (now < w->deadline_us)
				break;
			log_warning("a reader waited %d s for the analyzer, "
				    "which is behind: answered with what it "
				    "has applied",
				    FENCE_MAX_WAIT_US / 1000000);
		}
		list_del(&w->node);
		w->ready(w); /* may free w */
	}
	fence_arm(pp);
	/* the analyzer may have passed the new ticket before it was set */
	if (!list_empty(&pp->fence_waiters) &&
	    analyzer_reached(pp->ana, first_waiter(pp)->ticket))
		event_active(pp->fence_ev, EV_READ, 0);
}

static void fence_notified(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	pgp_clock_tick();
	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("fence: reading the analyzer's eventfd: %s",
			  strerror(errno));
	fence_run(arg);
}

static void fence_check(evutil_socket_t fd, short what, void *arg)
{
	pgp_clock_tick();
	(void)fd;
	(void)what;
	fence_run(arg);
}

bool fence_start(struct pgperf *pp)
{
	list_init(&pp->fence_waiters);
	if (!pp->ana)
		return true;
	pp->fence_ev = event_new(pp->base, analyzer_notify_fd(pp->ana),
				 EV_READ | EV_PERSIST, fence_notified, pp);
	pp->fence_timer = evtimer_new(pp->base, fence_check, pp);
	if (!pp->fence_ev || !pp->fence_timer ||
	    event_add(pp->fence_ev, NULL) != 0) {
		fence_stop(pp);
		return false;
	}
	return true;
}

void fence_stop(struct pgperf *pp)
{
	/* waiters' owners are freed by their own close paths */
	while (!list_empty(&pp->fence_waiters))
		list_del(pp->fence_waiters.next);
	if (pp->fence_ev)
		event_free(pp->fence_ev);
	if (pp->fence_timer)
		event_free(pp->fence_timer);
	pp->fence_ev = pp->fence_timer = NULL;
}

bool fence_wait(struct pgperf *pp, struct fence_waiter *w,
		void (*ready)(struct fence_waiter *w))
{
	uint64_t ticket;

	if (!pp->ana || !pp->fence_ev)
		return true;
	ticket = analyzer_ticket(pp->ana);
	if (analyzer_reached(pp->ana, ticket))
		return true;
	w->ticket = ticket;
	w->deadline_us = pgp_now_us() + FENCE_MAX_WAIT_US;
	w->ready = ready;
	list_append(&pp->fence_waiters, &w->node);
	fence_arm(pp);
	if (analyzer_reached(pp->ana, ticket))
		event_active(pp->fence_ev, EV_READ, 0);
	return false;
}
