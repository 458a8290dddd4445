/*
 * kv.h -- a small name=value list: server parameters, client startup
 * parameters.  Linear search; these lists hold a dozen entries.
 */
#ifndef PGPERF_KV_H
#define PGPERF_KV_H

#include "lib/common.h"

struct kv {
	char *name;  /* owned */
	char *value; /* owned */
};

struct kvlist {
	struct kv *items; /* owned */
	int n;
};

/* Set or replace; false on allocation failure (the list is unchanged). */
bool kv_set(struct kvlist *l, const char *name, const char *value) WARN_UNUSED;
const char *kv_get(const struct kvlist *l, const char *name);
void kv_del(struct kvlist *l, const char *name);
void kv_free(struct kvlist *l);

#endif
