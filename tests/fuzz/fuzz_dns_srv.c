/* DNS SRV answer fuzzer: any bytes as the resolver's response. What comes
 * out are usable records only (a non-empty host name of letters, digits,
 * '-', '_' and dots, at most 253 bytes; a port), never more than asked
 * for; RFC 2782 ordering them keeps every record and sorts by priority. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dns_srv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rnd(void *ctx)
{
	uint32_t *x = ctx;
	*x = *x * 1664525u + 1013904223u;
	return *x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_srv r[DNS_SRV_MAX];
	uint8_t *m = malloc(size ? size : 1); /* exact size: ASan sees overreads */
	if (!m)
		return 0;
	memcpy(m, data, size);
	unsigned max = size ? 1 + data[0] % DNS_SRV_MAX : DNS_SRV_MAX;
	int n = dns_srv_parse(m, size, r, max);
	if (n < DNS_SRV_NONE || n > (int)max)
		abort();
	unsigned psum = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strnlen(r[i].target, sizeof(r[i].target));
		if (l == 0 || l > DNS_SRV_NAME_MAX || r[i].port == 0 || r[i].target[0] == '.' ||
		    r[i].target[l - 1] == '.' || strstr(r[i].target, ".."))
			abort();
		for (size_t k = 0; k < l; k++)
			if (!isalnum((unsigned char)r[i].target[k]) && !strchr("-_.", r[i].target[k]))
				abort();
		psum += r[i].port;
	}
	if (n > 0) {
		uint32_t seed = size;
		dns_srv_order(r, (unsigned)n, rnd, &seed);
		for (int i = 0; i < n; i++) {
			if (i && r[i - 1].priority > r[i].priority)
				abort();
			psum -= r[i].port;
		}
		if (psum)
			abort(); /* a record lost or duplicated */
	}
	free(m);
	return 0;
}
