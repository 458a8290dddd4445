/*
 * bufpool.h -- the memory libevent's buffers live in.
 *
 * Every read reserves a 16 kB extent in the connection's input, which
 * libevent allocates as a 32 kB chain and frees again once the relay has
 * moved the bytes on: a malloc() and a free() of a block too large for
 * glibc's per-thread cache, twice per transaction, about 900
 * instructions.  bufpool_install() gives libevent allocation functions
 * that keep freed blocks of the power-of-two sizes its chains come in on
 * free lists (a bounded number per size) and hand them out again.
 * Single-threaded: only the I/O thread uses libevent.  In sanitizer
 * builds the lists are off, so that use after free is still caught.
 */
#ifndef PGPERF_BUFPOOL_H
#define PGPERF_BUFPOOL_H

/* Before anything else of libevent's is made. */
void bufpool_install(void);

#endif
