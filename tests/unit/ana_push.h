/*
 * ana_push.h -- what the analyzer unit tests share: push a statement's
 * text as the I/O thread would (its shape, a malloc'd copy).  Include
 * after cmocka.h.
 */
#ifndef PGPERF_TEST_ANA_PUSH_H
#define PGPERF_TEST_ANA_PUSH_H

#include "analyzer/analyzer.h"
#include "lib/shape.h"

#include <stdlib.h>
#include <string.h>

static inline uint64_t push_text(struct analyzer *a, const char *sql)
{
	struct ana_event ev;
	struct shape s;

	shape_compute(sql, strlen(sql), &s);
	memset(&ev, 0, sizeof(ev));
	ev.type = ANA_TEXT;
	ev.shape = s.hash;
	ev.text = strdup(sql);
	ev.text_len = (uint32_t)strlen(sql);
	assert_true(analyzer_push(a, &ev));
	return s.hash;
}

#endif
