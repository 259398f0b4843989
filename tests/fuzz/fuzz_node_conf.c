/* config.json loader fuzzer: jansson plus our position scan and checks must
 * survive any text, leak nothing, and report at least one error whenever
 * they refuse. An accepted config keeps the IPv6 and route rules: a usable
 * ip6 only in group mode with an MTU of at least 1280, canonical routable
 * routes, and an authorisation check that answers for every member's
 * prefixes (seeds with ip6, ip6_prefix, routes, accept_routes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <sys/socket.h>

#include "ip_prefix.h"
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
	if (errors == 0) {
		char why[160];
		if (c.has_ip6 && (ip_addr_unusable(AF_INET6, &c.ip6) || c.mtu < NODE_CONF_MIN_IP6_MTU ||
				  c.mode != NODE_MODE_GROUP))
			abort();
		for (unsigned i = 0; i < c.n_routes; i++)
			if (!ip_prefix_is_canonical(&c.routes[i]) || ip_prefix_unroutable(&c.routes[i]) ||
			    (c.routes[i].family == AF_INET6 && !c.has_ip6))
				abort();
		for (unsigned m = 0; m < c.n_accept; m++)
			for (unsigned i = 0; i < c.accept[m].n; i++)
				if (node_conf_route_refusal(&c, c.accept[m].jid, &c.accept[m].prefixes[i], why,
							    sizeof(why)))
					abort(); /* what the config authorises, it accepts */
	}
	node_conf_free(&c);
	return 0;
}
