/*
 * fuzz_fleet.c -- libFuzzer target for a fleet member's record as read
 * back from Redis (fleet/fleet_record.c): whatever the bytes, parsing must
 * not crash, read out of bounds or leak, and a record that parses has its
 * image merged into a passive analyzer (analyzer_state_merge), which must
 * refuse what is not an image without harm.
 */
#include "analyzer/analyzer.h"
#include "fleet/fleet.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct analyzer *ana;
	struct fleet_record r;
	struct fleet_pool sum;
	char err[200];

	if (!ana && !(ana = analyzer_new_passive(64)))
		__builtin_trap();
	if (!fleet_record_parse(data, size, &r, err, sizeof(err)))
		return 0;
	memset(&sum, 0, sizeof(sum));
	for (size_t i = 0; i < r.npools; i++)
		fleet_pool_add(&sum, &r.pools[i]);
	if (r.image_len)
		(void)analyzer_state_merge(ana, r.image, r.image_len, 1, err,
					   sizeof(err));
	fleet_record_free(&r);
	return 0;
}
