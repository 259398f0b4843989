/* libFuzzer harness for the ipop element of a member's presence
 * (signal_presence.c): the attributes any roster member may send. The
 * input is the two attribute values separated by a NUL byte; a first byte
 * of 'n' means ip4 is absent, a second part starting with 'n' means key is
 * absent. Whatever comes, the parser reads only within the strings, refuses
 * with nothing kept, or accepts values that format back to what parses to
 * the same thing (and never to a loopback, multicast or zero address). */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t la = nul ? (size_t)(nul - data) : size, lb = nul ? size - la - 1 : 0;
	/* each value in a buffer of its exact size (ASan sees any over-read) */
	char *a = malloc(la + 1), *b = malloc(lb + 1);
	CHECK(a && b);
	memcpy(a, data, la);
	a[la] = '\0';
	if (nul)
		memcpy(b, nul + 1, lb);
	b[lb] = '\0';
	const char *ip4 = la && a[0] == 'n' ? NULL : a;
	const char *key = !nul || (lb && b[0] == 'n') ? NULL : b;

	struct signal_presence p, q, zero;
	memset(&zero, 0, sizeof(zero));
	int r = signal_presence_parse(&p, ip4, key);
	CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		CHECK(memcmp(&p, &zero, sizeof(p)) == 0);
	} else {
		CHECK(p.has_ip4 == (ip4 != NULL) && p.has_key == (key != NULL));
		if (p.has_ip4) {
			uint32_t h = ntohl(p.ip4.s_addr);
			CHECK(h >> 24 != 0 && h >> 24 != 127 && h >> 28 < 14);
		}
		char f4[INET_ADDRSTRLEN], fk[SIGNAL_KEY_B64_LEN + 1];
		signal_presence_format(&p, f4, fk);
		CHECK(signal_presence_parse(&q, p.has_ip4 ? f4 : NULL, p.has_key ? fk : NULL) == 0);
		CHECK(memcmp(&p, &q, sizeof(p)) == 0);
		/* a key is canonical base64: what came in is what goes out */
		CHECK(!p.has_key || strcmp(fk, key) == 0);
	}
	free(a);
	free(b);
	return 0;
}
