/* ICMP errors about packets the node cannot forward, see icmp_err.h. */
#include "icmp_err.h"

#include <string.h>

#include "byteorder.h"
#include "inet_csum.h"
#include "ip_pkt.h"

enum {
	IP4_HDR = 20,
	IP6_HDR = 40,
	ICMP_HDR = 8,
	PROTO_ICMP = 1,
	PROTO_ICMPV6 = 58,
	ICMP6_INFO_FIRST = 128, /* types below are errors */
	ICMP6_REDIRECT = 137,
	IP4_DF = 0x4000,
	IP4_TOS_INTERNETCONTROL = 0xc0, /* precedence 6, as stacks send ICMP errors */
};

/* ---- IPv6 ---- */

static uint64_t pseudo6(const uint8_t *ip, size_t l4_len)
{
	uint8_t ph[40] = { 0 };
	memcpy(ph, ip + 8, 32);
	be32_put(ph + 32, (uint32_t)l4_len);
	ph[39] = PROTO_ICMPV6;
	return inet_csum_add(0, ph, sizeof(ph));
}

/* RFC 4443 2.4(e): no error about an ICMPv6 error or redirect, a packet
 * whose source does not name one node, or (but for Packet Too Big) a
 * packet sent to a multicast group. */
static bool may_answer6(const uint8_t *pkt, size_t len, uint8_t type)
{
	static const uint8_t unspecified[16];
	struct ip_pkt_l4 l4;
	if (!ip_pkt_l4(pkt, len, &l4))
		return false;
	if (!memcmp(pkt + 8, unspecified, 16) || pkt[8] == 0xff)
		return false;
	if (pkt[24] == 0xff && type != ICMP6_PACKET_TOO_BIG)
		return false;
	if (l4.proto == PROTO_ICMPV6 && !l4.later && l4.off < l4.end) {
		uint8_t t = pkt[l4.off];
		if (t < ICMP6_INFO_FIRST || t == ICMP6_REDIRECT)
			return false;
	}
	return true;
}

size_t icmp6_error(uint8_t *out, size_t cap, const struct in6_addr *src, uint8_t type, uint8_t code, uint32_t param,
		   const uint8_t *pkt, size_t len)
{
	size_t plen = ip_pkt_len(pkt, len);
	if (ip_pkt_version(pkt, len) != 6 || !may_answer6(pkt, len, type))
		return 0;
	size_t room = (cap < ICMP_ERR_V6_MAX ? cap : ICMP_ERR_V6_MAX);
	if (room < IP6_HDR + ICMP_HDR + IP6_HDR)
		return 0; /* not even the invoking header would fit */
	size_t quote = plen < room - IP6_HDR - ICMP_HDR ? plen : room - IP6_HDR - ICMP_HDR;
	size_t l4_len = ICMP_HDR + quote;
	uint8_t *m = out + IP6_HDR;

	memmove(m + ICMP_HDR, pkt, quote); /* pkt may live in out */
	memset(out, 0, IP6_HDR);
	out[0] = 0x60;
	be16_put(out + 4, (uint16_t)l4_len);
	out[6] = PROTO_ICMPV6;
	out[7] = ICMP_ERR_HOP_LIMIT;
	memcpy(out + 8, src, 16);
	memcpy(out + 24, m + ICMP_HDR + 8, 16); /* to the invoking packet's source */
	m[0] = type;
	m[1] = code;
	m[2] = m[3] = 0;
	be32_put(m + 4, param);
	uint16_t c = inet_csum_final(inet_csum_add(pseudo6(out, l4_len), m, l4_len));
	memcpy(m + 2, &c, 2);
	return IP6_HDR + l4_len;
}

size_t icmp6_packet_too_big(uint8_t *out, size_t cap, const struct in6_addr *src, unsigned mtu, const uint8_t *pkt,
			    size_t len)
{
	/* Below 1280 would be ignored (RFC 8021): IPv6 links carry 1280. */
	return icmp6_error(out, cap, src, ICMP6_PACKET_TOO_BIG, 0, mtu < 1280 ? 1280 : mtu, pkt, len);
}

/* ---- IPv4 ---- */

static bool unicast4(uint32_t a)
{
	uint8_t top = (uint8_t)(a >> 24);
	return top != 0 && top != 127 && top < 224;
}

static bool is_error4(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* RFC 1122 3.2.2: not about an ICMP error, a broadcast or multicast
 * datagram, a later fragment, or a source that is not one host. */
static bool may_answer4(const uint8_t *pkt, size_t len)
{
	struct ip_pkt_l4 l4;
	if (!ip_pkt_l4(pkt, len, &l4) || l4.later)
		return false;
	if (!unicast4(be32_get(pkt + 12)) || !unicast4(be32_get(pkt + 16)))
		return false;
	return !(l4.proto == PROTO_ICMP && l4.off < l4.end && is_error4(pkt[l4.off]));
}

size_t icmp4_error(uint8_t *out, size_t cap, struct in_addr src, uint8_t type, uint8_t code, uint32_t param,
		   const uint8_t *pkt, size_t len)
{
	if (ip_pkt_version(pkt, len) != 4 || !may_answer4(pkt, len))
		return 0;
	size_t plen = ip_pkt_len(pkt, len), ihl = (size_t)(pkt[0] & 15) * 4;
	size_t room = cap < ICMP_ERR_V4_MAX ? cap : ICMP_ERR_V4_MAX;
	/* RFC 792: at least the header and 64 bits of the data (or all of a
	 * shorter packet). */
	size_t need = ihl + 8 < plen ? ihl + 8 : plen;
	if (room < IP4_HDR + ICMP_HDR + need)
		return 0;
	size_t quote = plen < room - IP4_HDR - ICMP_HDR ? plen : room - IP4_HDR - ICMP_HDR;
	size_t total = IP4_HDR + ICMP_HDR + quote;
	uint8_t *m = out + IP4_HDR;

	memmove(m + ICMP_HDR, pkt, quote);
	memset(out, 0, IP4_HDR);
	out[0] = 0x45;
	out[1] = IP4_TOS_INTERNETCONTROL;
	be16_put(out + 2, (uint16_t)total);
	out[8] = ICMP_ERR_HOP_LIMIT;
	out[9] = PROTO_ICMP;
	memcpy(out + 12, &src.s_addr, 4);
	memcpy(out + 16, m + ICMP_HDR + 12, 4); /* to the invoking packet's source */
	uint16_t c = inet_csum_final(inet_csum_add(0, out, IP4_HDR));
	memcpy(out + 10, &c, 2);
	m[0] = type;
	m[1] = code;
	m[2] = m[3] = 0;
	be32_put(m + 4, param);
	c = inet_csum_final(inet_csum_add(0, m, ICMP_HDR + quote));
	memcpy(m + 2, &c, 2);
	return total;
}

size_t icmp4_frag_needed(uint8_t *out, size_t cap, struct in_addr src, unsigned mtu, const uint8_t *pkt,
			 size_t len)
{
	if (ip_pkt_version(pkt, len) != 4 || !(be16_get(pkt + 6) & IP4_DF))
		return 0;
	return icmp4_error(out, cap, src, ICMP4_DST_UNREACH, ICMP4_UNREACH_NEEDFRAG, mtu > 0xffff ? 0xffff : mtu,
			   pkt, len);
}

size_t icmp_err_too_big(uint8_t *out, size_t cap, const struct in_addr *src4, const struct in6_addr *src6,
			unsigned mtu, const uint8_t *pkt, size_t len)
{
	if (ip_pkt_len(pkt, len) <= mtu)
		return 0;
	switch (ip_pkt_version(pkt, len)) {
	case 4: return src4 ? icmp4_frag_needed(out, cap, *src4, mtu, pkt, len) : 0;
	case 6: return src6 ? icmp6_packet_too_big(out, cap, src6, mtu, pkt, len) : 0;
	default: return 0;
	}
}

/* ---- rate limit ---- */

void icmp_err_limit_init(struct icmp_err_limit *l, unsigned rate_per_s, unsigned burst, uint64_t now_ms)
{
	l->rate = rate_per_s;
	l->burst = burst;
	l->last_ms = now_ms;
	l->tokens_milli = (uint64_t)burst * 1000;
}

bool icmp_err_limit_take(struct icmp_err_limit *l, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)l->burst * 1000;
	if (now_ms > l->last_ms && l->rate) {
		/* rate tokens per second = rate thousandths per millisecond */
		uint64_t dt = now_ms - l->last_ms, add = dt > cap / l->rate ? cap : dt * l->rate;
		l->tokens_milli = add >= cap - l->tokens_milli ? cap : l->tokens_milli + add;
	}
	if (now_ms > l->last_ms)
		l->last_ms = now_ms;
	if (l->tokens_milli < 1000)
		return false;
	l->tokens_milli -= 1000;
	return true;
}
