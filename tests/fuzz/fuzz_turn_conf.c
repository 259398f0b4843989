/* turn.conf fuzzer: the comment stripper, libconfuse with our line-by-line
 * syntax recovery, and every semantic check must survive any text, leak
 * nothing, and leave a usable configuration whenever they report no
 * error (at least one listening and one relay address, ports in order). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "turn_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct turn_conf conf;

	if (size > 16384) /* the recovery reparses per bad line: keep runs fast */
		return 0;
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	int errors = turn_conf_load_buf(&conf, "fuzz.conf", (const char *)data, size, devnull);
	if (errors < 0)
		abort();
	if (errors == 0 && (conf.n_listen == 0 || conf.n_relay == 0 || !conf.realm ||
			    conf.min_port > conf.max_port || conf.n_listen > TURN_CONF_MAX_LISTEN ||
			    conf.n_denied > TURN_CONF_MAX_RULES || conf.n_allowed > TURN_CONF_MAX_RULES))
		abort();
	turn_conf_free(&conf);
	return 0;
}
