/*
 * bufpool.c -- free lists for libevent's buffer chains (see bufpool.h).
 */
#include "proxy/bufpool.h"

#include "lib/common.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define BUFPOOL_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUFPOOL_OFF 1
#endif
#endif

/* Blocks of 2^MIN_SHIFT .. 2^MAX_SHIFT bytes are kept; others pass. */
#define MIN_SHIFT 11
#define MAX_SHIFT 17
#define NCLASSES (MAX_SHIFT - MIN_SHIFT + 1)
/* At most this many bytes kept per size. */
#define KEEP_BYTES (1024 * 1024)

/* In front of every block: 16 bytes, so the caller's part stays aligned. */
struct bp_head {
	size_t size; /* the caller's usable bytes */
	int cls;     /* index into free lists, or -1: passes through */
	int pad;
};

struct bp_free {
	struct bp_free *next;
};

static struct bp_free *free_list[NCLASSES];
static int free_count[NCLASSES];

/* The size class of a block holding `total` bytes, or -1. */
static int class_of(size_t total)
{
	int shift = MIN_SHIFT;

	if (total > ((size_t)1 << MAX_SHIFT) ||
	    total <= ((size_t)1 << (MIN_SHIFT - 1)))
		return -1;
	while (((size_t)1 << shift) < total)
		shift++;
	return shift - MIN_SHIFT;
}

static void *bp_malloc(size_t size)
{
	size_t total = size + sizeof(struct bp_head);
	int cls = class_of(total);
	struct bp_head *h;

#ifdef BUFPOOL_OFF
	cls = -1;
#endif
	if (cls >= 0 && free_list[cls]) {
		h = (struct bp_head *)(void *)free_list[cls];
		free_list[cls] = free_list[cls]->next;
		free_count[cls]--;
	} else {
		h = malloc(cls >= 0 ? (size_t)1 << (cls + MIN_SHIFT) : total);
		if (!h)
			return NULL;
	}
	h->size = size;
	h->cls = cls;
	return h + 1;
}

static void bp_free(void *p)
{
	struct bp_head *h;
	int cls;

	if (!p)
		return;
	h = (struct bp_head *)p - 1;
	cls = h->cls;
	if (cls >= 0 && (size_t)free_count[cls] <
				KEEP_BYTES / ((size_t)1 << (cls + MIN_SHIFT))) {
		struct bp_free *f = (struct bp_free *)(void *)h;

		f->next = free_list[cls];
		free_list[cls] = f;
		free_count[cls]++;
		return;
	}
	free(h);
}

static void *bp_realloc(void *p, size_t size)
{
	struct bp_head *h;
	void *n;

	if (!p)
		return bp_malloc(size);
	h = (struct bp_head *)p - 1;
	if (h->cls >= 0 &&
	    size + sizeof(*h) <= ((size_t)1 << (h->cls + MIN_SHIFT))) {
		h->size = size; /* still fits its block */
		return p;
	}
	if (!(n = bp_malloc(size)))
		return NULL;
	memcpy(n, p, h->size < size ? h->size : size);
	bp_free(p);
	return n;
}

void bufpool_install(void)
{
	event_set_mem_functions(bp_malloc, bp_realloc, bp_free);
}
