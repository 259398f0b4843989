/* SocialVPN translator fuzzer: the first byte picks the call (out, in,
 * broadcast out, broadcast in), the rest is the packet. Nothing may be
 * read or written outside it, a packet that translates must keep every
 * checksum that was valid before valid after (IPv4 header; TCP/UDP of an
 * unfragmented packet), and an IPv6 packet (social mode is IPv4-only; the
 * seeds hold some) is refused with XLATE_IPV6 and left byte for byte as it
 * was. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xlate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool ip_ok(const uint8_t *p, size_t len)
{
	if (len < 20)
		return false;
	size_t hl = (size_t)(p[0] & 15) * 4;
	return hl >= 20 && hl <= len && xlate_csum(p, hl, 0) == 0;
}

/* TCP/UDP checksum of a whole (unfragmented) packet: 1 valid, 0 invalid,
 * -1 not applicable. */
static int l4_ok(const uint8_t *p, size_t len)
{
	if (len < 20)
		return -1;
	size_t hl = (size_t)(p[0] & 15) * 4, tot = (size_t)(p[2] << 8 | p[3]);
	if (hl < 20 || tot < hl || tot > len || (p[6] & 0x3f) || p[7])
		return -1; /* fragment (MF or offset) or unusable */
	uint8_t proto = p[9];
	size_t l4 = tot - hl;
	if (proto != 6 && proto != 17)
		return -1;
	if ((proto == 6 && l4 < 20) || (proto == 17 && (l4 < 8 || (p[hl + 6] == 0 && p[hl + 7] == 0))))
		return -1;
	uint32_t ps = (uint32_t)(p[12] << 8 | p[13]) + (uint32_t)(p[14] << 8 | p[15]) +
		      (uint32_t)(p[16] << 8 | p[17]) + (uint32_t)(p[18] << 8 | p[19]) + proto + (uint32_t)l4;
	return xlate_csum(p + hl, l4, ps) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct xlate_pair x = { 0, 0, 0 };
	struct xlate_pair pair = x;
	if (size < 1 || size > 2048)
		return 0;
	pair.local = htonl(0xac1f0064);
	pair.peer_own = htonl(0xc0a80107);
	pair.peer_mapped = htonl(0xac1f0065);
	uint8_t *p = malloc(size - 1 ? size - 1 : 1); /* exact size: ASan sees overreads */
	if (!p)
		return 0;
	memcpy(p, data + 1, size - 1);
	size_t len = size - 1;
	bool ip_before = ip_ok(p, len);
	int l4_before = l4_ok(p, len);
	bool v6 = len >= 1 && p[0] >> 4 == 6;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy) {
		free(p);
		return 0;
	}
	memcpy(copy, p, len);
	enum xlate_result r;
	switch (data[0] & 3) {
	case 0: r = xlate_out(p, len, &pair); break;
	case 1: r = xlate_in(p, len, &pair); break;
	case 2: r = xlate_bcast_out(p, len, pair.local, htonl(0xac1f00ff)); break;
	default: r = xlate_bcast_in(p, len, &pair); break;
	}
	if ((unsigned)r >= XLATE_NRESULTS)
		abort();
	if (v6 && (r != XLATE_IPV6 || memcmp(p, copy, len) != 0 || xlate_is_bcast(p, len, htonl(0xac1f00ff))))
		abort();
	free(copy);
	if (r == XLATE_OK) {
		if (ip_before && !ip_ok(p, len))
			abort();
		if (l4_before == 1 && l4_ok(p, len) != 1)
			abort();
	}
	free(p);
	return 0;
}
