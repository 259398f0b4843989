/* Internet checksum (RFC 1071), see inet_csum.h. */
#include "inet_csum.h"

#include <string.h>

uint64_t inet_csum_add(uint64_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	/* Native 32-bit words: the one's complement sum does not care about
	 * byte order as long as the result is stored the same way (RFC 1071). */
	while (len >= 16) {
		uint32_t w[4];
		memcpy(w, p, 16);
		sum += (uint64_t)w[0] + w[1] + w[2] + w[3];
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t h = 0;
		memcpy(&h, p, 1); /* the odd byte, padded with a zero after it */
		sum += h;
	}
	return sum;
}

uint16_t inet_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t inet_csum_final(uint64_t sum)
{
	return (uint16_t)~inet_csum_fold(sum);
}

uint16_t inet_csum_update16(uint16_t hc, uint16_t old, uint16_t new)
{
	uint32_t s = (uint16_t)~hc;
	s += (uint16_t)~old;
	s += new;
	return (uint16_t)~inet_csum_fold(s);
}
