/*
 * fuzz_sqlscan.c -- libFuzzer target for the SQL tokenizer and the
 * session-state classifier: tokens must lie inside the input, in order,
 * without overlap, and the scan must end; a plain SET's name and value are
 * NUL-terminated within their buffers.
 */
#include "proto/session_state.h"
#include "lib/sqlscan.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct sql_scanner s;
	struct sql_token t;
	const char *last_end = text;
	size_t count = 0;

	sqlscan_init(&s, text, size);
	while (sqlscan_next(&s, &t)) {
		if (t.p < last_end || t.len == 0 || t.p + t.len > text + size)
			__builtin_trap();
		last_end = t.p + t.len;
		if (++count > size)
			__builtin_trap(); /* no progress */
	}
	(void)session_state_apply(0, text, size);
	(void)session_state_apply(SESS_ALL, text, size);
	{
		char name[16], value[32];
		bool reset;

		if (session_simple_set(text, size, name, sizeof(name), value,
				       sizeof(value), &reset) &&
		    (strnlen(name, sizeof(name)) == sizeof(name) ||
		     strnlen(value, sizeof(value)) == sizeof(value) ||
		     !name[0]))
			__builtin_trap();
	}
	return 0;
}
