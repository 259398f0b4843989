#include "ip_pkt.h"

#include <string.h>
#include <sys/socket.h>

#include "byteorder.h"

enum {
	NH_HOPOPTS = 0,
	NH_ROUTING = 43,
	NH_FRAGMENT = 44,
	NH_DSTOPTS = 60,
	ICMP6_ND_FIRST = 133, /* router solicitation */
	ICMP6_ND_LAST = 137,  /* redirect */
};

static bool ipv4_header_ok(const unsigned char *pkt, size_t len)
{
	if (len < IP_PKT_IP4_MIN || (pkt[0] >> 4) != 4)
		return false;
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
	size_t total = be16_get(pkt + 2);
	return ihl >= IP_PKT_IP4_MIN && ihl <= total && total <= len;
}

static bool ipv6_header_ok(const unsigned char *pkt, size_t len)
{
	if (len < IP_PKT_IP6_HDR || (pkt[0] >> 4) != 6)
		return false;
	size_t payload = be16_get(pkt + 4);
	return payload != 0 && IP_PKT_IP6_HDR + payload <= len;
}

int ip_pkt_version(const unsigned char *pkt, size_t len)
{
	if (ipv4_header_ok(pkt, len))
		return 4;
	if (ipv6_header_ok(pkt, len))
		return 6;
	return 0;
}

size_t ip_pkt_len(const unsigned char *pkt, size_t len)
{
	switch (ip_pkt_version(pkt, len)) {
	case 4: return be16_get(pkt + 2);
	case 6: return IP_PKT_IP6_HDR + (size_t)be16_get(pkt + 4);
	default: return 0;
	}
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

bool ip_pkt_dst6(const unsigned char *pkt, size_t len, struct in6_addr *dst)
{
	if (!ipv6_header_ok(pkt, len))
		return false;
	memcpy(dst, pkt + 24, 16);
	return true;
}

bool ip_pkt_src6(const unsigned char *pkt, size_t len, struct in6_addr *src)
{
	if (!ipv6_header_ok(pkt, len))
		return false;
	memcpy(src, pkt + 8, 16);
	return true;
}

const unsigned char *ip_pkt_dst(const unsigned char *pkt, size_t len, int *family)
{
	switch (ip_pkt_version(pkt, len)) {
	case 4: *family = AF_INET; return pkt + 16;
	case 6: *family = AF_INET6; return pkt + 24;
	default: return NULL;
	}
}

const unsigned char *ip_pkt_src(const unsigned char *pkt, size_t len, int *family)
{
	switch (ip_pkt_version(pkt, len)) {
	case 4: *family = AF_INET; return pkt + 12;
	case 6: *family = AF_INET6; return pkt + 8;
	default: return NULL;
	}
}

static bool l4_of_ip4(const unsigned char *pkt, struct ip_pkt_l4 *l4)
{
	uint16_t frag = be16_get(pkt + 6);
	memset(l4, 0, sizeof(*l4));
	l4->proto = pkt[9];
	l4->off = (size_t)(pkt[0] & 0x0f) * 4;
	l4->end = be16_get(pkt + 2);
	l4->fragment = (frag & 0x3fff) != 0; /* MF or an offset */
	l4->later = (frag & 0x1fff) != 0;
	return true;
}

/* Walks the extension headers RFC 8200 section 4 defines before the
 * transport header. */
static bool l4_of_ip6(const unsigned char *pkt, struct ip_pkt_l4 *l4)
{
	uint8_t nh = pkt[6];
	size_t off = IP_PKT_IP6_HDR;
	memset(l4, 0, sizeof(*l4));
	l4->end = IP_PKT_IP6_HDR + (size_t)be16_get(pkt + 4);
	for (int n = 0; n <= IP_PKT_IP6_MAX_EXT; n++) {
		if (nh != NH_HOPOPTS && nh != NH_ROUTING && nh != NH_DSTOPTS && nh != NH_FRAGMENT) {
			l4->proto = nh;
			l4->off = off;
			return true;
		}
		if (n == IP_PKT_IP6_MAX_EXT || off + 8 > l4->end || (nh == NH_HOPOPTS && off != IP_PKT_IP6_HDR))
			return false;
		size_t ext = nh == NH_FRAGMENT ? 8 : ((size_t)pkt[off + 1] + 1) * 8;
		if (off + ext > l4->end)
			return false;
		if (nh == NH_FRAGMENT) {
			l4->fragment = true;
			l4->later = l4->later || (be16_get(pkt + off + 2) & 0xfff8) != 0;
		}
		if (nh == NH_ROUTING)
			l4->routing = true;
		nh = pkt[off];
		off += ext;
	}
	return false;
}

bool ip_pkt_l4(const unsigned char *pkt, size_t len, struct ip_pkt_l4 *l4)
{
	switch (ip_pkt_version(pkt, len)) {
	case 4: return l4_of_ip4(pkt, l4);
	case 6: return l4_of_ip6(pkt, l4);
	default: memset(l4, 0, sizeof(*l4)); return false;
	}
}

static bool link_local6(const unsigned char *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

bool ip_pkt_link_scope6(const unsigned char *pkt, size_t len)
{
	if (!ipv6_header_ok(pkt, len))
		return false;
	if (link_local6(pkt + 8) || link_local6(pkt + 24) || pkt[24] == 0xff)
		return true;
	struct ip_pkt_l4 l4;
	return l4_of_ip6(pkt, &l4) && l4.proto == IPPROTO_ICMPV6 && !l4.later && l4.off < l4.end &&
	       pkt[l4.off] >= ICMP6_ND_FIRST && pkt[l4.off] <= ICMP6_ND_LAST;
}
