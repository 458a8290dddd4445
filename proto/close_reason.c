/*
 * close_reason.c -- names of the close reasons (close_reason.h).
 */
#include "proto/close_reason.h"

static const char *const names[] = {
#define CLOSE_REASON_NAME(code, name, meaning) name,
	CLOSE_REASON_LIST(CLOSE_REASON_NAME)
#undef CLOSE_REASON_NAME
};

static const char *const meanings[] = {
#define CLOSE_REASON_MEANING(code, name, meaning) meaning,
	CLOSE_REASON_LIST(CLOSE_REASON_MEANING)
#undef CLOSE_REASON_MEANING
};

const char *close_reason_name(enum close_reason r)
{
	return (unsigned)r < CLOSE_REASON_COUNT ? names[r] : "unknown";
}

const char *close_reason_meaning(enum close_reason r)
{
	return (unsigned)r < CLOSE_REASON_COUNT ? meanings[r] : "";
}
