/*
 * clock.h -- pgperf's one clock.
 *
 * Two readings of it: monotonic microseconds (durations, deadlines) and
 * wall-clock microseconds since the epoch (timestamps shown to people and
 * kept in the state file).  Any thread may read the clock itself.
 *
 * The I/O thread reads it once per event it handles rather than once per
 * use: a relayed transaction touches a dozen timestamps, and in a virtual
 * machine each read of the clock can cost as much as a small system call.
 * pgp_clock_tick() at the top of a read or write callback takes the time;
 * pgp_loop_us() and pgp_loop_wall_us() return it until the next tick.  A
 * duration measured on the relay is thus the time between the two events
 * that began and ended it, as PgBouncer's cached time gives.  Only the I/O
 * thread ticks or reads the loop time.
 */
#ifndef PGPERF_CLOCK_H
#define PGPERF_CLOCK_H

#include <stdint.h>

/* Monotonic microseconds, read now (any thread). */
int64_t pgp_now_us(void);

/* Wall-clock microseconds since the epoch, read now (any thread). */
int64_t pgp_wall_us(void);

/* I/O thread: take the time of the event being handled. */
void pgp_clock_tick(void);

/* I/O thread: the time of the last tick (read first if none yet). */
int64_t pgp_loop_us(void);
int64_t pgp_loop_wall_us(void);

#endif
