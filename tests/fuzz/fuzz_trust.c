/* libFuzzer harness for the node's trust state (node/link: trust.c,
 * pins.c, owners.c): the trust file ipopd reads at start (pinned node ids,
 * address owners) and the operator's address map ("JID ADDRESS" lines),
 * line by line as node_trust.c reads them; the first byte says which
 * (bit 0), and whether this node has an ip6 (bit 1: IPv6 lines are judged
 * against fd00::1/64, else only against the ranges, as in a v4-only node).
 * Whatever the lines hold, pins must hash to their node ids, owned
 * addresses of either family must be usable host addresses of the subnet
 * (not ours), and what ipopd writes back must read back to the same pins
 * and owners. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

static void init(struct trust *tr, struct in_addr self, const struct in6_addr *self6)
{
	trust_init(tr, true, self, 24);
	if (self6)
		owners_set_ip6(&tr->owners, self6, 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trust tr, back;
	struct in_addr self;
	struct in6_addr six;
	char why[OWNERS_WHY_LEN], line[PINS_LINE_MAX + 64];

	if (size < 1 || size > 1 << 16)
		return 0;
	inet_pton(AF_INET, "172.31.0.1", &self);
	inet_pton(AF_INET6, "fd00::1", &six);
	const struct in6_addr *self6 = data[0] & 2 ? &six : NULL;
	struct ip_addr me4 = ip_addr_of(AF_INET, &self), me6 = ip_addr_of(AF_INET6, &six);
	init(&tr, self, self6);
	bool map = data[0] & 1;
	char *text = malloc(size);
	CHECK(text);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	for (char *p = text, *nl; p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (map)
			(void)(*p && *p != '#' ? owners_map_line(&tr.owners, p) : NULL);
		else
			(void)trust_parse_line(&tr, p);
	}
	free(text);
	for (size_t i = 0; i < tr.pins.n; i++)
		CHECK(pins_id_matches(tr.pins.p[i].id, tr.pins.p[i].key));
	for (size_t i = 0; i < tr.owners.n; i++) {
		const struct owner *o = &tr.owners.o[i];
		/* fd00::1 is ours only when this node has that ip6 */
		CHECK(!ip_addr_equal(&o->addr, &me4) && !(self6 && ip_addr_equal(&o->addr, &me6)));
		CHECK(o->addr.family == AF_INET || o->addr.family == AF_INET6);
		CHECK(!owners_refusal(&tr.owners, o->addr, o->bare, why, sizeof(why)));
	}
	init(&back, self, self6);
	size_t cur = 0, learned = 0;
	while (trust_next_line(&tr, &cur, line, sizeof(line))) {
		line[strcspn(line, "\n")] = '\0';
		CHECK(trust_parse_line(&back, line) == NULL);
	}
	for (size_t i = 0; i < tr.owners.n; i++)
		learned += !tr.owners.o[i].mapped;
	CHECK(back.pins.n == tr.pins.n && back.owners.n == learned);
	trust_free(&back);
	trust_free(&tr);
	return 0;
}
