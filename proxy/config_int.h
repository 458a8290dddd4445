/*
 * config_int.h -- what config.c and config_entries.c share.
 */
#ifndef PGPERF_CONFIG_INT_H
#define PGPERF_CONFIG_INT_H

#include "proxy/config.h"

/* *dst = a copy of v (the old value freed); false when out of memory. */
bool config_set_str(char **dst, const char *v, char *err, size_t errlen);
/* "session" or "transaction" into *out; false for anything else. */
bool config_parse_pool_mode(const char *v, int *out);
void config_db_def_free(struct db_def *d);
/* One [peers] line: `id = host=... port=...`. */
enum pgp_status config_add_peer(struct config *cfg, const char *id,
				const char *connstr, char *err, size_t errlen);

#endif
