/*
 * fuzz_messages.c -- libFuzzer target for message framing in both
 * directions and the ErrorResponse parser: the input is a stream of typed
 * messages, walked the way client_relay() and server_relay() walk them.
 */
#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int side = 0; side < 2; side++) {
		size_t pos = 0;

		while (size - pos >= 5) {
			uint8_t type = data[pos];
			uint32_t len = wire_get_u32(data + pos + 1);
			struct wire_error_fields f;

			if (wire_check_header(side ? WIRE_FROM_SERVER
						   : WIRE_FROM_CLIENT,
					      type, len, 1 << 20) != PGP_OK)
				break;
			if (len - 4 > size - pos - 5)
				break;
			if (type == 'E' || type == 'N')
				(void)wire_parse_error(data + pos + 5, len - 4,
						       &f);
			pos += 1 + (size_t)len;
		}
	}
	return 0;
}
