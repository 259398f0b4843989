/* config.json loader fuzzer: jansson plus our position scan and checks must
 * survive any text, leak nothing, and report at least one error whenever
 * they refuse. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_pos.h"
#include "node_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct json_pos pos;
	static struct node_conf c;
	static FILE *devnull;

	/* The scan promises safety on any bytes, not only on valid JSON. */
	json_pos_scan(&pos, (const char *)data, size);
	if (pos.n > JSON_POS_MAX)
		abort();
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	int errors = node_conf_load_buf(&c, "fuzz.json", (const char *)data, size, devnull);
	if (errors < 0 || (errors == 0 && (!c.key_file || !c.control_socket)))
		abort();
	node_conf_free(&c);
	return 0;
}
