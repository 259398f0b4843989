#include "ip_pkt.h"

#include <stdint.h>
#include <string.h>

#include "byteorder.h"

static bool ipv4_header_ok(const unsigned char *pkt, size_t len)
{
	if (len < 20 || (pkt[0] >> 4) != 4)
		return false;
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
	size_t total = be16_get(pkt + 2);
	return ihl >= 20 && ihl <= total && total <= len;
}

bool ip_pkt_dst4(const unsigned char *pkt, size_t len, struct in_addr *dst)
{
	if (!ipv4_header_ok(pkt, len))
		return false;
	memcpy(&dst->s_addr, pkt + 16, 4);
	return true;
}

bool ip_pkt_src4(const unsigned char *pkt, size_t len, struct in_addr *src)
{
	if (!ipv4_header_ok(pkt, len))
		return false;
	memcpy(&src->s_addr, pkt + 12, 4);
	return true;
}
