/*
 * clock.c -- pgperf's one clock (see clock.h).
 */
#include "lib/clock.h"

#include <stdbool.h>
#include <time.h>

/* How often the loop's wall time is set again from the wall clock: between
 * two settings it runs with the monotonic clock, so a step of the wall
 * clock reaches the loop within this long. */
#define WALL_RESYNC_US 1000000

static int64_t loop_us;	      /* monotonic time of the last tick */
static int64_t loop_wall_off; /* wall minus monotonic at the last resync */
static int64_t loop_synced_us;
static bool loop_ticked;

static int64_t read_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pgp_now_us(void)
{
	return read_us(CLOCK_MONOTONIC);
}

int64_t pgp_wall_us(void)
{
	return read_us(CLOCK_REALTIME);
}

void pgp_clock_tick(void)
{
	loop_us = read_us(CLOCK_MONOTONIC);
	if (!loop_ticked || loop_us - loop_synced_us >= WALL_RESYNC_US) {
		loop_wall_off = read_us(CLOCK_REALTIME) - loop_us;
		loop_synced_us = loop_us;
		loop_ticked = true;
	}
}

int64_t pgp_loop_us(void)
{
	if (!loop_ticked)
		pgp_clock_tick();
	return loop_us;
}

int64_t pgp_loop_wall_us(void)
{
	if (!loop_ticked)
		pgp_clock_tick();
	return loop_us + loop_wall_off;
}
