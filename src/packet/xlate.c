/* SocialVPN translation of one IPv4 packet in place (see xlate.h). */
#include "xlate.h"
#include "byteorder.h"

#include "inet_csum.h"

#include <arpa/inet.h>

enum {
	IP_HDR_MIN = 20,
	IP_OFF_TOTLEN = 2,
	IP_OFF_FRAG = 6,
	IP_OFF_PROTO = 9,
	IP_OFF_CSUM = 10,
	IP_OFF_SRC = 12,
	IP_OFF_DST = 16,
	IP_FRAG_OFFSET_MASK = 0x1fff,
	PROTO_ICMP = 1,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	PROTO_DCCP = 33,
	PROTO_UDPLITE = 136,
	TCP_OFF_CSUM = 16,
	UDP_OFF_CSUM = 6,
	ICMP_HDR = 8,
	ICMP_OFF_CSUM = 2,
	ICMP_UNREACH = 3,
	ICMP_QUENCH = 4,
	ICMP_REDIRECT = 5,
	ICMP_TIMXCEED = 11,
	ICMP_PARAMPROB = 12,
};

uint16_t xlate_csum(const uint8_t *p, size_t len, uint32_t seed)
{
	/* inet_csum works in memory order: the seed goes in as stored, the
	 * result comes back as stored. */
	uint64_t s = htons(inet_csum_fold(seed));
	return ntohs(inet_csum_final(inet_csum_add(s, p, len)));
}

uint16_t xlate_csum_adj32(uint16_t hc, uint32_t old, uint32_t new)
{
	uint32_t s = (uint16_t)~hc;
	s += (uint16_t)~(old >> 16);
	s += (uint16_t)~(old & 0xffff);
	s += new >> 16;
	s += new & 0xffff;
	return (uint16_t)~inet_csum_fold(s);
}

/* Applies a 32-bit change to the checksum at f. */
static void fix32(uint8_t *f, uint32_t old, uint32_t new)
{
	be16_put(f, xlate_csum_adj32(be16_get(f), old, new));
}

/* An IPv4 header that can be read: its length, or 0. */
static size_t ip_hlen(const uint8_t *ip, size_t len)
{
	if (len < IP_HDR_MIN || (ip[0] >> 4) != 4)
		return 0;
	size_t hl = (size_t)(ip[0] & 15) * 4;
	return hl >= IP_HDR_MIN && hl <= len ? hl : 0;
}

/* Why a packet without a readable IPv4 header is refused: IPv6 gets its
 * own reason (social mode is IPv4-only, docs/ipv6.md), anything else is
 * a bad header. */
static enum xlate_result not_ip4(const uint8_t *ip, size_t len)
{
	return len >= 1 && ip[0] >> 4 == 6 ? XLATE_IPV6 : XLATE_BAD_HEADER;
}

static bool first_fragment(const uint8_t *ip)
{
	return (be16_get(ip + IP_OFF_FRAG) & IP_FRAG_OFFSET_MASK) == 0;
}

/* Rewrites the 32-bit address at ip+off and the IP header checksum.
 * *icmp_csum (if not NULL) follows both changes: they lie inside an ICMP
 * message. */
static void set_addr(uint8_t *ip, unsigned off, uint32_t old, uint32_t new, uint8_t *icmp_csum)
{
	uint16_t before = be16_get(ip + IP_OFF_CSUM);
	be32_put(ip + off, new);
	fix32(ip + IP_OFF_CSUM, old, new);
	if (icmp_csum) {
		fix32(icmp_csum, old, new);
		be16_put(icmp_csum, inet_csum_update16(be16_get(icmp_csum), before, be16_get(ip + IP_OFF_CSUM)));
	}
}

/* The TCP/UDP checksum of a (possibly quoted) transport header at l4 with
 * avail bytes, after a pseudo-header address change. `must` is false for
 * a quote, where a checksum beyond the quoted bytes is simply absent. */
static enum xlate_result fix_l4(uint8_t proto, uint8_t *l4, size_t avail, uint32_t old, uint32_t new,
				bool must, uint8_t *icmp_csum)
{
	unsigned off;

	switch (proto) {
	case PROTO_TCP:
		off = TCP_OFF_CSUM;
		break;
	case PROTO_UDP:
		off = UDP_OFF_CSUM;
		break;
	case PROTO_DCCP:
	case PROTO_UDPLITE:
		return must ? XLATE_UNSUPPORTED : XLATE_OK;
	default:
		return XLATE_OK; /* no pseudo-header: nothing to fix */
	}
	if (avail < off + 2)
		return must ? XLATE_TRUNCATED : XLATE_OK;
	uint8_t *f = l4 + off;
	uint16_t before = be16_get(f);
	if (proto == PROTO_UDP && before == 0)
		return XLATE_OK; /* no checksum: stays none */
	uint16_t after = xlate_csum_adj32(before, old, new);
	if (proto == PROTO_UDP && after == 0)
		after = 0xffff; /* zero would mean "no checksum" */
	be16_put(f, after);
	if (icmp_csum)
		be16_put(icmp_csum, inet_csum_update16(be16_get(icmp_csum), before, after));
	return XLATE_OK;
}

static bool icmp_is_error(uint8_t type)
{
	return type == ICMP_UNREACH || type == ICMP_QUENCH || type == ICMP_TIMXCEED || type == ICMP_PARAMPROB;
}

/* The header an ICMP error quotes, at icmp+8 with avail bytes: its field
 * at `off` must be `from` and becomes `to`. */
static enum xlate_result fix_quote(uint8_t *icmp, size_t avail, unsigned off, uint32_t from, uint32_t to)
{
	uint8_t *in = icmp + ICMP_HDR;
	size_t hl = ip_hlen(in, avail - ICMP_HDR);
	if (!hl)
		return XLATE_TRUNCATED;
	if (be32_get(in + off) != from)
		return XLATE_WRONG_ADDR;
	uint8_t *csum = icmp + ICMP_OFF_CSUM;
	set_addr(in, off, from, to, csum);
	if (!first_fragment(in))
		return XLATE_OK;
	return fix_l4(in[IP_OFF_PROTO], in + hl, avail - ICMP_HDR - hl, from, to, false, csum);
}

/* Outer field `off` from -> to; the other outer address must be `other`;
 * a quoted header has its opposite field rewritten likewise. */
static enum xlate_result rewrite(uint8_t *pkt, size_t len, unsigned off, unsigned other_off, uint32_t other,
				 uint32_t from, uint32_t to)
{
	size_t hl = ip_hlen(pkt, len);
	if (!hl)
		return not_ip4(pkt, len);
	size_t tot = be16_get(pkt + IP_OFF_TOTLEN);
	if (tot < hl || tot > len)
		return XLATE_BAD_HEADER;
	if (be32_get(pkt + off) != from || be32_get(pkt + other_off) != other)
		return XLATE_WRONG_ADDR;
	uint8_t proto = pkt[IP_OFF_PROTO];
	uint8_t *l4 = pkt + hl;
	size_t avail = tot - hl;
	bool first = first_fragment(pkt);
	/* Decide before touching anything whatever can be decided cheaply. */
	if (first && proto == PROTO_ICMP) {
		if (avail < ICMP_HDR)
			return XLATE_TRUNCATED;
		if (l4[0] == ICMP_REDIRECT)
			return XLATE_UNSUPPORTED; /* names a gateway in the other space */
	}
	set_addr(pkt, off, from, to, NULL);
	if (!first)
		return XLATE_OK;
	if (proto != PROTO_ICMP)
		return fix_l4(proto, l4, avail, from, to, true, NULL);
	if (!icmp_is_error(l4[0]))
		return XLATE_OK; /* the ICMP checksum covers no address */
	unsigned qoff = off == IP_OFF_DST ? IP_OFF_SRC : IP_OFF_DST;
	return fix_quote(l4, avail, qoff, from, to);
}

enum xlate_result xlate_out(uint8_t *pkt, size_t len, const struct xlate_pair *x)
{
	return rewrite(pkt, len, IP_OFF_DST, IP_OFF_SRC, ntohl(x->local), ntohl(x->peer_mapped),
		       ntohl(x->peer_own));
}

enum xlate_result xlate_in(uint8_t *pkt, size_t len, const struct xlate_pair *x)
{
	return rewrite(pkt, len, IP_OFF_SRC, IP_OFF_DST, ntohl(x->local), ntohl(x->peer_own),
		       ntohl(x->peer_mapped));
}

static bool is_multicast(uint32_t a)
{
	return (a >> 28) == 0xe;
}

bool xlate_is_bcast(const uint8_t *pkt, size_t len, uint32_t subnet_bcast)
{
	if (len < IP_HDR_MIN || (pkt[0] >> 4) != 4)
		return false;
	uint32_t d = be32_get(pkt + IP_OFF_DST);
	return d == 0xffffffffu || d == ntohl(subnet_bcast) || is_multicast(d);
}

enum xlate_result xlate_bcast_out(uint8_t *pkt, size_t len, uint32_t local, uint32_t subnet_bcast)
{
	if (!ip_hlen(pkt, len))
		return not_ip4(pkt, len);
	uint32_t d = be32_get(pkt + IP_OFF_DST), sb = ntohl(subnet_bcast);
	if (d == sb && sb != 0xffffffffu)
		return rewrite(pkt, len, IP_OFF_DST, IP_OFF_SRC, ntohl(local), sb, 0xffffffffu);
	if (d != 0xffffffffu && !is_multicast(d))
		return XLATE_WRONG_ADDR;
	/* nothing to rewrite; the same checks as a rewrite of dst to itself */
	return rewrite(pkt, len, IP_OFF_DST, IP_OFF_SRC, ntohl(local), d, d);
}

enum xlate_result xlate_bcast_in(uint8_t *pkt, size_t len, const struct xlate_pair *x)
{
	if (!ip_hlen(pkt, len))
		return not_ip4(pkt, len);
	uint32_t d = be32_get(pkt + IP_OFF_DST);
	if (d != 0xffffffffu && !is_multicast(d))
		return XLATE_WRONG_ADDR;
	return rewrite(pkt, len, IP_OFF_SRC, IP_OFF_DST, d, ntohl(x->peer_own), ntohl(x->peer_mapped));
}

const char *xlate_result_name(enum xlate_result r)
{
	static const char *const names[XLATE_NRESULTS] = {
		"ok", "bad header", "wrong address", "truncated", "unsupported",
		"IPv6 (social mode is IPv4-only)",
	};
	return (unsigned)r < XLATE_NRESULTS ? names[r] : "?";
}
