/* .ipop DNS responder fuzzer: any datagram. A reply is never longer than
 * 512 bytes, keeps the query's id, has QR set, and an answer only comes
 * with the A record of a known name. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "dns_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool lookup(void *ctx, const char *name, struct in_addr *out)
{
	(void)ctx;
	if (strlen(name) > 253)
		abort(); /* names are bounded by the wire limit */
	if (strcmp(name, "bob") != 0)
		return false;
	out->s_addr = htonl(0xac1f0065);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t r[DNS_MAX_UDP];
	uint8_t *q = malloc(size ? size : 1); /* exact size: ASan sees overreads */
	if (!q)
		return 0;
	memcpy(q, data, size);
	size_t n = dns_answer(q, size, lookup, NULL, r, sizeof(r));
	if (n) {
		if (n > DNS_MAX_UDP || n < DNS_HEADER_LEN || memcmp(r, q, 2) != 0 || !(r[2] & 0x80))
			abort();
		unsigned an = (unsigned)(r[6] << 8 | r[7]);
		if (an > 1 || (an == 1 && (r[n - 4] != 172 || r[n - 1] != 101)))
			abort();
	}
	free(q);
	return 0;
}
