/* libFuzzer harness for the ipop element of a member's presence
 * (signal_presence.c): the attributes any roster member may send. The
 * input is the three attribute values (ip4, ip6, key) separated by NUL
 * bytes; a part that starts with 'n', or is missing, is an absent
 * attribute. Whatever comes, the parser reads only within the strings,
 * refuses with nothing kept, or accepts values that format back to what
 * parses to the same thing (and never to a loopback, multicast or zero
 * address). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signal_presence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

enum { PARTS = 3 };

/* Part i of the input, in a buffer of its exact size (ASan sees any
 * over-read); NULL when absent. *buf is what to free. */
static const char *part(const uint8_t **data, size_t *size, char **buf)
{
	if (!*data) {
		*buf = NULL;
		return NULL;
	}
	const uint8_t *nul = memchr(*data, 0, *size);
	size_t len = nul ? (size_t)(nul - *data) : *size;
	*buf = malloc(len + 1);
	CHECK(*buf);
	memcpy(*buf, *data, len);
	(*buf)[len] = '\0';
	if (nul) {
		*size -= len + 1;
		*data = nul + 1;
	} else {
		*data = NULL;
	}
	return len && (*buf)[0] == 'n' ? NULL : *buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *bufs[PARTS];
	const char *ip4 = part(&data, &size, &bufs[0]);
	const char *ip6 = part(&data, &size, &bufs[1]);
	const char *key = part(&data, &size, &bufs[2]);

	struct signal_presence p, q, zero;
	memset(&zero, 0, sizeof(zero));
	int r = signal_presence_parse(&p, ip4, ip6, key);
	CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		CHECK(memcmp(&p, &zero, sizeof(p)) == 0);
	} else {
		CHECK(p.has_ip4 == (ip4 != NULL) && p.has_ip6 == (ip6 != NULL) && p.has_key == (key != NULL));
		if (p.has_ip4) {
			uint32_t h = ntohl(p.ip4.s_addr);
			CHECK(h >> 24 != 0 && h >> 24 != 127 && h >> 28 < 14);
		}
		CHECK(!p.has_ip6 || (!IN6_IS_ADDR_LOOPBACK(&p.ip6) && !IN6_IS_ADDR_MULTICAST(&p.ip6) &&
				     !IN6_IS_ADDR_UNSPECIFIED(&p.ip6) && !IN6_IS_ADDR_LINKLOCAL(&p.ip6)));
		char f4[INET_ADDRSTRLEN], f6[INET6_ADDRSTRLEN], fk[SIGNAL_KEY_B64_LEN + 1];
		signal_presence_format(&p, f4, f6, fk);
		CHECK(signal_presence_parse(&q, p.has_ip4 ? f4 : NULL, p.has_ip6 ? f6 : NULL, p.has_key ? fk : NULL) ==
		      0);
		CHECK(memcmp(&p, &q, sizeof(p)) == 0);
		/* a key is canonical base64: what came in is what goes out */
		CHECK(!p.has_key || strcmp(fk, key) == 0);
	}
	for (int i = 0; i < PARTS; i++)
		free(bufs[i]);
	return 0;
}
