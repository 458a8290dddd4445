/*
 * test_wire.c -- the bounds-checked cursor, the builders, framing checks
 * and the startup packet parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "proto/wire.h"

static void test_cursor_bounds(void **state)
{
	const uint8_t data[] = {0x12, 0x34, 0x56, 0x78, 'h', 'i', 0, 'x'};
	struct wcursor c;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	const char *s;
	size_t len;
	const uint8_t *b;

	(void)state;
	wc_init(&c, data, sizeof(data));
	assert_true(wc_u32(&c, &u32));
	assert_int_equal(u32, 0x12345678);
	assert_true(wc_cstr(&c, &s, &len));
	assert_string_equal(s, "hi");
	assert_int_equal(len, 2);
	/* "x" has no terminator inside the buffer: refused, nothing consumed */
	assert_false(wc_cstr(&c, &s, &len));
	assert_int_equal(wc_remaining(&c), 1);
	assert_false(wc_u16(&c, &u16));
	assert_false(wc_u32(&c, &u32));
	assert_false(wc_bytes(&c, 2, &b));
	assert_true(wc_u8(&c, &u8));
	assert_int_equal(u8, 'x');
	assert_false(wc_u8(&c, &u8));
}

static void test_builder_lengths(void **state)
{
	struct wbuf b;
	struct wire_error_fields f;

	(void)state;
	wb_init(&b);
	wire_build_ready(&b, 'I');
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "Z\0\0\0\5I", 6);
	wb_reset(&b);
	wire_build_error(&b, "FATAL", "28P01", "nope");
	assert_int_equal(b.data[0], 'E');
	assert_int_equal(wire_get_u32(b.data + 1), b.len - 1);
	assert_true(wire_parse_error(b.data + 5, b.len - 5, &f));
	assert_string_equal(f.severity, "FATAL");
	assert_string_equal(f.sqlstate, "28P01");
	assert_string_equal(f.message, "nope");
	/* a truncated error body is rejected */
	assert_false(wire_parse_error(b.data + 5, b.len - 7, &f));
	wb_free(&b);
}

static void test_builder_alloc_failure(void **state)
{
	struct wbuf b;

	(void)state;
	wb_init(&b);
	pgp_alloc_fail_after(0);
	wire_build_query(&b, "select 1");
	pgp_alloc_fail_after(-1);
	assert_true(b.failed);
	wb_free(&b);
}

static void test_check_header(void **state)
{
	(void)state;
	assert_int_equal(wire_check_header(WIRE_FROM_CLIENT, 'Q', 13, 100),
			 PGP_OK);
	assert_int_equal(wire_check_header(WIRE_FROM_CLIENT, 'Q', 3, 100),
			 PGP_ERR_PROTO);
	assert_int_equal(wire_check_header(WIRE_FROM_CLIENT, 'Q', 101, 100),
			 PGP_ERR_TOO_BIG);
	assert_int_equal(wire_check_header(WIRE_FROM_CLIENT, 'Z', 5, 100),
			 PGP_ERR_PROTO);
	assert_int_equal(wire_check_header(WIRE_FROM_CLIENT, 0, 5, 100),
			 PGP_ERR_PROTO);
	assert_int_equal(wire_check_header(WIRE_FROM_SERVER, 'Z', 5, 100),
			 PGP_OK);
	assert_int_equal(wire_check_header(WIRE_FROM_SERVER, 'Q', 5, 100),
			 PGP_ERR_PROTO);
	assert_int_equal(wire_check_header(WIRE_FROM_SERVER, 'D', 0xffffffffu,
					   0xffffffffu),
			 PGP_ERR_TOO_BIG);
}

static size_t build_startup(uint8_t *out, const char *const *kv, int n)
{
	struct wbuf b;
	struct startup_param p[8];
	size_t len;

	for (int i = 0; i < n; i++) {
		p[i].name = kv[2 * i];
		p[i].value = kv[2 * i + 1];
	}
	wb_init(&b);
	wire_build_startup(&b, p, n);
	memcpy(out, b.data, b.len);
	len = b.len;
	wb_free(&b);
	return len;
}

static void test_startup_good(void **state)
{
	static const char *const kv[] = {
		"user", "alice",   "database",	 "appdb", "application_name",
		"psql", "options", "-c geqo=off"};
	uint8_t buf[256];
	size_t len = build_startup(buf, kv, 4);
	struct startup_packet sp;
	const char *why = NULL;

	(void)state;
	assert_int_equal(wire_parse_startup(buf, len, &sp, &why), PGP_OK);
	assert_int_equal(sp.code, WIRE_PROTO_V3);
	assert_string_equal(sp.user, "alice");
	assert_string_equal(sp.database, "appdb");
	assert_int_equal(sp.nparams, 2);
	assert_string_equal(sp.params[0].name, "application_name");
	assert_string_equal(sp.params[1].value, "-c geqo=off");
}

static void test_startup_database_defaults_to_user(void **state)
{
	static const char *const kv[] = {"user", "bob"};
	uint8_t buf[64];
	size_t len = build_startup(buf, kv, 1);
	struct startup_packet sp;
	const char *why;

	(void)state;
	assert_int_equal(wire_parse_startup(buf, len, &sp, &why), PGP_OK);
	assert_string_equal(sp.database, "bob");
}

static void test_startup_special_requests(void **state)
{
	const uint8_t ssl[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
	const uint8_t gss[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30};
	const uint8_t cancel[16] = {0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e,
				    0, 0, 0, 42, 0xde, 0xad, 0xbe, 0xef};
	const uint8_t short_cancel[12] = {0,	0,    0, 12, 0x04, 0xd2,
					  0x16, 0x2e, 0, 0,  0,	   42};
	struct startup_packet sp;
	const char *why;

	(void)state;
	assert_int_equal(wire_parse_startup(ssl, 8, &sp, &why), PGP_OK);
	assert_int_equal(sp.code, WIRE_SSL_CODE);
	assert_int_equal(wire_parse_startup(gss, 8, &sp, &why), PGP_OK);
	assert_int_equal(sp.code, WIRE_GSSENC_CODE);
	assert_int_equal(wire_parse_startup(cancel, 16, &sp, &why), PGP_OK);
	assert_int_equal(sp.cancel_pid, 42);
	assert_int_equal(sp.cancel_key, 0xdeadbeef);
	assert_int_equal(wire_parse_startup(short_cancel, 12, &sp, &why),
			 PGP_ERR_PROTO);
}

static void test_startup_malformed(void **state)
{
	static const char *const kv[] = {"user", "alice"};
	uint8_t buf[64], bad[64];
	size_t len = build_startup(buf, kv, 1);
	struct startup_packet sp;
	const char *why;
	/* protocol 2.0 */
	const uint8_t v2[8] = {0, 0, 0, 8, 0, 2, 0, 0};
	/* no user */
	const uint8_t nouser[9] = {0, 0, 0, 9, 0, 3, 0, 0, 0};

	(void)state;
	/* declared length disagrees with the buffer */
	memcpy(bad, buf, len);
	bad[3]++;
	assert_int_equal(wire_parse_startup(bad, len, &sp, &why),
			 PGP_ERR_PROTO);
	/* missing final terminator */
	memcpy(bad, buf, len);
	bad[3]--;
	assert_int_equal(wire_parse_startup(bad, len - 1, &sp, &why),
			 PGP_ERR_PROTO);
	/* a name without its value */
	{
		const uint8_t novalue[14] = {0, 0,   0,	  14,  0,   3, 0,
					     0, 'u', 's', 'e', 'r', 0, 0};

		assert_int_equal(wire_parse_startup(novalue, 14, &sp, &why),
				 PGP_ERR_PROTO);
	}
	assert_int_equal(wire_parse_startup(v2, 8, &sp, &why), PGP_ERR_PROTO);
	assert_non_null(strstr(why, "protocol"));
	assert_int_equal(wire_parse_startup(nouser, 9, &sp, &why),
			 PGP_ERR_PROTO);
	assert_non_null(strstr(why, "user"));
	assert_int_equal(wire_parse_startup(buf, 4, &sp, &why), PGP_ERR_PROTO);
}

static void test_startup_too_many_params(void **state)
{
	struct wbuf b;
	struct startup_packet sp;
	const char *why;
	char names[WIRE_MAX_STARTUP_PARAMS + 2][16];
	struct startup_param p[WIRE_MAX_STARTUP_PARAMS + 2];

	(void)state;
	for (int i = 0; i < WIRE_MAX_STARTUP_PARAMS + 2; i++) {
		snprintf(names[i], sizeof(names[i]), "p%d", i);
		p[i].name = names[i];
		p[i].value = "v";
	}
	p[0].name = "user";
	wb_init(&b);
	wire_build_startup(&b, p, WIRE_MAX_STARTUP_PARAMS + 2);
	assert_int_equal(wire_parse_startup(b.data, b.len, &sp, &why),
			 PGP_ERR_PROTO);
	wb_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cursor_bounds),
		cmocka_unit_test(test_builder_lengths),
		cmocka_unit_test(test_builder_alloc_failure),
		cmocka_unit_test(test_check_header),
		cmocka_unit_test(test_startup_good),
		cmocka_unit_test(test_startup_database_defaults_to_user),
		cmocka_unit_test(test_startup_special_requests),
		cmocka_unit_test(test_startup_malformed),
		cmocka_unit_test(test_startup_too_many_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
