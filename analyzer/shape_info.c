/*
 * shape_info.c -- what the result cache must know of a statement shape
 * before forwarding it (may it be cached, which tables it reads and
 * writes), published by the analyzer through the third SPSC ring once it
 * has parsed the shape, and read by the I/O thread.
 */
#include "analyzer_int.h"

#include <stdio.h>
#include <string.h>

uint64_t ana_table_hash(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot)
		name = dot + 1;
	return ana_value_hash(name, strlen(name));
}

bool analyzer_next_info(struct analyzer *a, struct ana_shape_info *out)
{
	uint32_t h = atomic_load_explicit(&a->ihead, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&a->itail, memory_order_acquire);

	if (h == t)
		return false;
	*out = a->info_ring[h & (INFO_RING - 1)];
	atomic_store_explicit(&a->ihead, h + 1, memory_order_release);
	return true;
}

static bool catalog_table_name(const char *name)
{
	const char *bare = strrchr(name, '.');

	bare = bare ? bare + 1 : name;
	return strncmp(bare, "pg_", 3) == 0 ||
	       strncmp(name, "pg_catalog.", 11) == 0 ||
	       strncmp(name, "information_schema.", 19) == 0;
}

/* May the result cache keep this statement's replies? */
bool ana_sql_cacheable(const struct sqlparse *p)
{
	if (!p->parsed || !p->kind || strcmp(p->kind, "SELECT") != 0 ||
	    !p->read_only || !p->deterministic || !p->only_immutable ||
	    p->nstmts != 1 || p->nread < 1 || p->nread > ANA_INFO_TABLES)
		return false;
	for (int i = 0; i < p->nread; i++)
		if (catalog_table_name(p->read[i]))
			return false;
	return true;
}

/* Publish what the cache must know of a newly parsed shape (dropped when
 * the ring is full: the shape then stays unknown, never cached, and its
 * writes invalidate the whole database). */
void ana_publish_info(struct analyzer *a, uint64_t shape,
		      const struct sqlparse *p)
{
	uint32_t t = atomic_load_explicit(&a->itail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&a->ihead, memory_order_acquire);
	struct ana_shape_info *si;
	bool cacheable;

	if (t - h >= INFO_RING)
		return;
	si = &a->info_ring[t & (INFO_RING - 1)];
	memset(si, 0, sizeof(*si));
	si->shape = shape;
	si->fingerprint = p->fingerprint;
	cacheable = ana_sql_cacheable(p);
	for (int i = 0; i < p->nread && i < ANA_INFO_TABLES; i++) {
		const char *dot = strrchr(p->read[i], '.');

		snprintf(si->read_name[i], sizeof(si->read_name[i]), "%s",
			 dot ? dot + 1 : p->read[i]);
		si->read[i] = ana_table_hash(p->read[i]);
		if (catalog_table_name(p->read[i]))
			cacheable = false;
	}
	si->nread = (uint8_t)(p->nread < ANA_INFO_TABLES ? p->nread
							 : ANA_INFO_TABLES);
	for (int i = 0; i < p->nwritten && i < ANA_INFO_TABLES; i++) {
		const char *dot = strrchr(p->written[i], '.');

		snprintf(si->written_name[i], sizeof(si->written_name[i]), "%s",
			 dot ? dot + 1 : p->written[i]);
		si->written[i] = ana_table_hash(p->written[i]);
	}
	si->nwritten =
		(uint8_t)(p->nwritten < ANA_INFO_TABLES ? p->nwritten
							: ANA_INFO_TABLES);
	if (cacheable)
		si->flags |= ANA_SI_CACHEABLE;
	/* BEGIN, SET, SELECT ... FOR UPDATE are not read-only, yet write
	 * nothing: only named targets and utility statements that may change
	 * data count (a function a SELECT calls is not seen) */
	if (!p->parsed || p->writes_unnamed || p->nwritten > 0)
		si->flags |= ANA_SI_WRITES;
	if (!p->parsed || p->writes_unnamed || p->nwritten > ANA_INFO_TABLES)
		si->flags |= ANA_SI_WRITES_ALL;
	atomic_store_explicit(&a->itail, t + 1, memory_order_release);
}
