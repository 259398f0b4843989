/* TUN offload segmentation and coalescing, see tun_offload.h. */
#include "tun_offload.h"
#include "byteorder.h"

#include "inet_csum.h"
#include "ip_pkt.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

enum {
	IP4_MIN = 20,
	IP6_HDR = 40,
	TCP_MIN = 20,
	UDP_HDR = 8,
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_RST = 0x04,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_CWR = 0x80,
	TCP_CSUM_OFF = 16,
	UDP_CSUM_OFF = 6,
};

/* --- checksums --- */

uint64_t tun_csum_pseudo4(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint8_t ph[12];

	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	be16_put(ph + 10, l4_len);
	return inet_csum_add(0, ph, sizeof(ph));
}

uint64_t tun_csum_pseudo6(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint8_t ph[40];

	memcpy(ph, ip + 8, 32);
	be32_put(ph + 32, (uint32_t)l4_len);
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = proto;
	return inet_csum_add(0, ph, sizeof(ph));
}

/* The pseudo-header of the packet at ip, by its version. */
static uint64_t pseudo(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	return ip[0] >> 4 == 6 ? tun_csum_pseudo6(ip, proto, l4_len) : tun_csum_pseudo4(ip, proto, l4_len);
}

static void store_csum(uint8_t *field, uint16_t c)
{
	memcpy(field, &c, 2);
}

static void ip4_fix(uint8_t *ip, size_t ihl, size_t total, uint16_t id)
{
	be16_put(ip + 2, total);
	be16_put(ip + 4, id);
	ip[10] = ip[11] = 0;
	store_csum(ip + 10, inet_csum_final(inet_csum_add(0, ip, ihl)));
}

/* Full L4 checksum of the segment at l4 (l4_len bytes), field at off. */
static void l4_fix(uint8_t *ip, uint8_t *l4, size_t l4_len, uint8_t proto, size_t off)
{
	l4[off] = l4[off + 1] = 0;
	uint16_t c = inet_csum_final(inet_csum_add(pseudo(ip, proto, l4_len), l4, l4_len));
	if (c == 0 && proto == IPPROTO_UDP)
		c = 0xffff; /* 0 means "no checksum" in UDP (and is invalid over IPv6) */
	store_csum(l4 + off, c);
}

/* --- split --- */

/* The network layer of a packet to split: its version and the bytes before
 * the transport header (IPv4 header with options; IPv6 header with
 * extension headers). */
struct l3 {
	bool v6;
	size_t hl;
	uint8_t proto;
};

static bool ip4_header(const uint8_t *p, size_t len, size_t *ihl)
{
	if (len < IP4_MIN || p[0] >> 4 != 4)
		return false;
	*ihl = (size_t)(p[0] & 15) * 4;
	return *ihl >= IP4_MIN && *ihl <= len;
}

static bool l3_of4(const uint8_t *p, size_t len, struct l3 *l)
{
	l->v6 = false;
	if (!ip4_header(p, len, &l->hl))
		return false;
	l->proto = p[9];
	return true;
}

/* IPv6: the whole packet must be what the header says (a GSO packet is at
 * most 64 KB, so never a jumbogram), not a fragment, and without a routing
 * header (its pseudo-header would need the final destination). */
static bool l3_of6(const uint8_t *p, size_t len, struct l3 *l)
{
	struct ip_pkt_l4 l4;
	l->v6 = true;
	if (len < IP6_HDR || p[0] >> 4 != 6 || (size_t)IP6_HDR + be16_get(p + 4) != len || !ip_pkt_l4(p, len, &l4) ||
	    l4.fragment || l4.routing)
		return false;
	l->hl = l4.off;
	l->proto = l4.proto;
	return true;
}

/* The IP header of one segment of total bytes: lengths, IPv4 id and
 * header checksum (IPv6 has neither id nor header checksum). */
static void l3_fix(uint8_t *s, const struct l3 *l, size_t total, uint16_t id)
{
	if (l->v6)
		be16_put(s + 4, (uint16_t)(total - IP6_HDR));
	else
		ip4_fix(s, l->hl, total, id);
}

struct split_out {
	uint8_t *const *outs;
	size_t cap;
	size_t *lens;
	unsigned max;
};

/* The segment count and a size check shared by TCP and UDP. */
static int plan(size_t hdrs, size_t payload, size_t mss, const struct split_out *o)
{
	if (mss == 0)
		return -EINVAL;
	size_t nseg = payload ? (payload + mss - 1) / mss : 1;
	size_t first = payload < mss ? payload : mss;
	if (nseg > o->max || hdrs + first > o->cap)
		return -ENOBUFS;
	return (int)nseg;
}

static int split_tcp(const uint8_t *pkt, size_t len, const struct l3 *l, size_t mss, const struct split_out *o)
{
	size_t ihl = l->hl;
	if (l->proto != IPPROTO_TCP || len < ihl + TCP_MIN)
		return -EINVAL;
	size_t thl = (size_t)(pkt[ihl + 12] >> 4) * 4, hdrs = ihl + thl;
	if (thl < TCP_MIN || hdrs > len)
		return -EINVAL;
	size_t payload = len - hdrs;
	int nseg = plan(hdrs, payload, mss, o);
	if (nseg < 0)
		return nseg;
	uint32_t seq0 = be32_get(pkt + ihl + 4);
	uint16_t id0 = l->v6 ? 0 : be16_get(pkt + 4);
	uint8_t flags = pkt[ihl + 13];
	size_t off = 0;
	for (int i = 0; i < nseg; i++) {
		size_t seg = payload - off < mss ? payload - off : mss;
		uint8_t *s = o->outs[i];
		memcpy(s, pkt, hdrs);
		memcpy(s + hdrs, pkt + hdrs + off, seg);
		l3_fix(s, l, hdrs + seg, (uint16_t)(id0 + i));
		be32_put(s + ihl + 4, seq0 + (uint32_t)off);
		uint8_t f = flags;
		if (i < nseg - 1)
			f &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i > 0)
			f &= (uint8_t)~TCP_CWR;
		s[ihl + 13] = f;
		l4_fix(s, s + ihl, thl + seg, IPPROTO_TCP, TCP_CSUM_OFF);
		o->lens[i] = hdrs + seg;
		off += seg;
	}
	return nseg;
}

static int split_udp(const uint8_t *pkt, size_t len, const struct l3 *l, size_t mss, const struct split_out *o)
{
	size_t ihl = l->hl, hdrs = ihl + UDP_HDR;
	if (l->proto != IPPROTO_UDP || hdrs > len)
		return -EINVAL;
	size_t payload = len - hdrs;
	int nseg = plan(hdrs, payload, mss, o);
	if (nseg < 0)
		return nseg;
	uint16_t id0 = l->v6 ? 0 : be16_get(pkt + 4);
	size_t off = 0;
	for (int i = 0; i < nseg; i++) {
		size_t seg = payload - off < mss ? payload - off : mss;
		uint8_t *s = o->outs[i];
		memcpy(s, pkt, hdrs);
		memcpy(s + hdrs, pkt + hdrs + off, seg);
		l3_fix(s, l, hdrs + seg, (uint16_t)(id0 + i));
		be16_put(s + ihl + 4, (uint16_t)(UDP_HDR + seg));
		l4_fix(s, s + ihl, UDP_HDR + seg, IPPROTO_UDP, UDP_CSUM_OFF);
		o->lens[i] = hdrs + seg;
		off += seg;
	}
	return nseg;
}

/* A UDP checksum field at cs (its header starts at cs): a computed 0 is
 * sent as 0xffff, in both families. */
static bool udp_at(const uint8_t *s, size_t len, size_t cs)
{
	struct l3 l;
	if (s[0] >> 4 == 6 ? !l3_of6(s, len, &l) : !l3_of4(s, len, &l))
		return false;
	return l.proto == IPPROTO_UDP && cs == l.hl;
}

/* No GSO: one copy, the partial checksum completed if the kernel left one.
 * The field already holds the pseudo-header sum, so this is the same for
 * both families. */
static int copy_one(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len, const struct split_out *o)
{
	if (o->max < 1 || len > o->cap)
		return -ENOBUFS;
	uint8_t *s = o->outs[0];
	memcpy(s, pkt, len);
	o->lens[0] = len;
	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 1;
	size_t cs = vh->csum_start, co = vh->csum_offset;
	if (cs >= len || co + 2 > len - cs)
		return -EINVAL;
	uint16_t c = inet_csum_final(inet_csum_add(0, s + cs, len - cs));
	if (c == 0 && udp_at(s, len, cs))
		c = 0xffff;
	store_csum(s + cs + co, c);
	return 1;
}

int tun_offload_split(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len, uint8_t *const *outs,
		      size_t cap, size_t *lens, unsigned max)
{
	const struct split_out o = { outs, cap, lens, max };
	struct l3 l;

	switch (vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return copy_one(vh, pkt, len, &o);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!l3_of4(pkt, len, &l))
			return -EINVAL;
		return split_tcp(pkt, len, &l, vh->gso_size, &o);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!l3_of6(pkt, len, &l))
			return -EINVAL;
		return split_tcp(pkt, len, &l, vh->gso_size, &o);
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (len >= 1 && pkt[0] >> 4 == 6 ? !l3_of6(pkt, len, &l) : !l3_of4(pkt, len, &l))
			return -EINVAL;
		return split_udp(pkt, len, &l, vh->gso_size, &o);
	default:
		return -EPROTONOSUPPORT;
	}
}

/* --- MSS clamping --- */

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), one 16-bit word changed. */
static void csum_replace16(uint8_t *field, uint16_t old, uint16_t new)
{
	be16_put(field, inet_csum_update16(be16_get(field), old, new));
}

/* Lowers the MSS option of the TCP SYN whose header starts at t (thl bytes
 * of header available) to max_mss. */
static bool clamp_syn(uint8_t *t, size_t thl, uint16_t max_mss)
{
	for (size_t i = TCP_MIN; i < thl;) {
		uint8_t kind = t[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= thl || t[i + 1] < 2 || i + t[i + 1] > thl)
			break;
		if (kind == 2 && t[i + 1] == 4) {
			uint16_t mss = be16_get(t + i + 2);
			if (mss <= max_mss)
				return false;
			be16_put(t + i + 2, max_mss);
			csum_replace16(t + TCP_CSUM_OFF, mss, max_mss);
			return true;
		}
		i += t[i + 1];
	}
	return false;
}

/* The TCP header of an unfragmented SYN, or NULL. */
static uint8_t *syn_header(uint8_t *pkt, size_t len, size_t *thl)
{
	struct ip_pkt_l4 l4;
	if (!ip_pkt_l4(pkt, len, &l4) || l4.proto != IPPROTO_TCP || l4.later || l4.off + TCP_MIN > l4.end)
		return NULL;
	uint8_t *t = pkt + l4.off;
	*thl = (size_t)(t[12] >> 4) * 4;
	if (*thl < TCP_MIN || l4.off + *thl > l4.end || !(t[13] & TCP_SYN))
		return NULL;
	return t;
}

bool tun_clamp_mss(uint8_t *pkt, size_t len, uint16_t max_mss)
{
	size_t thl;
	if (len < 1 || pkt[0] >> 4 != 4)
		return false;
	uint8_t *t = syn_header(pkt, len, &thl);
	return t && clamp_syn(t, thl, max_mss);
}

bool tun_clamp_mss_mtu(uint8_t *pkt, size_t len, unsigned mtu)
{
	size_t thl;
	uint8_t *t = syn_header(pkt, len, &thl);
	if (!t)
		return false;
	/* The MSS excludes the fixed headers only (RFC 879, RFC 8200 8.3):
	 * IPv4 20 + TCP 20, IPv6 40 + TCP 20. */
	unsigned fixed = pkt[0] >> 4 == 6 ? IP6_HDR + TCP_MIN : IP4_MIN + TCP_MIN;
	if (mtu <= fixed)
		return false;
	unsigned mss = mtu - fixed;
	return clamp_syn(t, thl, (uint16_t)(mss > 0xffff ? 0xffff : mss));
}

/* --- coalescing --- */

int tun_co_init(struct tun_coalescer *c)
{
	memset(c, 0, sizeof(*c));
	c->cap = TUN_VNET_HDR_LEN + TUN_GSO_MAX;
	for (unsigned i = 0; i < TUN_CO_FLOWS; i++) {
		c->flows[i].buf = malloc(c->cap);
		if (!c->flows[i].buf) {
			tun_co_free(c);
			return -ENOMEM;
		}
	}
	return 0;
}

void tun_co_free(struct tun_coalescer *c)
{
	for (unsigned i = 0; i < TUN_CO_FLOWS; i++) {
		free(c->flows[i].buf);
		c->flows[i].buf = NULL;
	}
}

/* The bytes before the TCP header of a packet the coalescer handles: an
 * IPv4 header without options, or an IPv6 header without extension
 * headers; 0 for anything else. */
static size_t tcp_l3(const uint8_t *p, size_t len)
{
	if (len >= IP4_MIN + TCP_MIN && p[0] == 0x45 && p[9] == IPPROTO_TCP)
		return IP4_MIN;
	if (len >= IP6_HDR + TCP_MIN && p[0] >> 4 == 6 && p[6] == IPPROTO_TCP)
		return IP6_HDR;
	return 0;
}

/* A TCP data segment (IPv4 without options and not a fragment, or IPv6
 * without extension headers) whose length field matches len, with only ACK
 * (and maybe PSH) set: a candidate to merge. */
static bool tcp_data(const uint8_t *p, size_t len, size_t *l3, size_t *hdrs)
{
	size_t n = tcp_l3(p, len);
	if (n == IP4_MIN && (be16_get(p + 2) != len || (be16_get(p + 6) & 0x3fff)))
		return false;
	if (n == IP6_HDR && (size_t)IP6_HDR + be16_get(p + 4) != len)
		return false;
	if (!n)
		return false;
	size_t thl = (size_t)(p[n + 12] >> 4) * 4;
	uint8_t fl = p[n + 13];
	*l3 = n;
	*hdrs = n + thl;
	return thl >= TCP_MIN && *hdrs < len && (fl & TCP_ACK) && !(fl & (uint8_t)~(TCP_ACK | TCP_PSH));
}

/* Same version, addresses and ports (p as tcp_l3 accepts, l3 bytes of IP
 * header). */
static bool same_flow(const uint8_t *p, size_t l3, const struct tun_co_flow *f)
{
	const uint8_t *q = f->buf + TUN_VNET_HDR_LEN;
	size_t a = l3 == IP6_HDR ? 8 : 12, alen = l3 == IP6_HDR ? 32 : 8;
	return f->len && f->l3 == l3 && memcmp(p + a, q + a, alen) == 0 && memcmp(p + l3, q + l3, 4) == 0;
}

/* The IP fields that must match: IPv4 version/IHL, TOS, flags/fragment,
 * TTL, protocol; IPv6 version, traffic class, flow label, next header, hop
 * limit. */
static bool same_ip(const uint8_t *p, const uint8_t *q, size_t l3)
{
	if (l3 == IP6_HDR)
		return memcmp(p, q, 4) == 0 && memcmp(p + 6, q + 6, 2) == 0;
	return memcmp(p, q, 2) == 0 && memcmp(p + 6, q + 6, 4) == 0;
}

/* Everything but lengths, ids, checksums, sequence and PSH must match. */
static bool continues(const struct tun_co_flow *f, const uint8_t *p, size_t len, size_t hdrs, size_t cap)
{
	const uint8_t *q = f->buf + TUN_VNET_HDR_LEN;
	size_t payload = len - hdrs, n = f->l3;
	const uint8_t *t = p + n, *u = q + n;

	if (f->closed || hdrs != f->hdrs || be32_get(t + 4) != f->next_seq || payload > f->mss ||
	    f->len + payload > TUN_GSO_MAX || TUN_VNET_HDR_LEN + f->len + payload > cap)
		return false;
	/* TCP: ack and data offset (8..12), flags but PSH (13), window
	 * (14..15), urgent pointer and options (18..); not the checksum. */
	return same_ip(p, q, n) && memcmp(t + 8, u + 8, 5) == 0 && (t[13] & ~TCP_PSH) == (u[13] & ~TCP_PSH) &&
	       memcmp(t + 14, u + 14, 2) == 0 && memcmp(t + 18, u + 18, hdrs - n - 18) == 0;
}

static void flow_start(struct tun_co_flow *f, const uint8_t *p, size_t len, size_t l3, size_t hdrs)
{
	memcpy(f->buf + TUN_VNET_HDR_LEN, p, len);
	f->len = len;
	f->l3 = l3;
	f->hdrs = hdrs;
	f->mss = len - hdrs;
	f->nseg = 1;
	f->next_seq = be32_get(p + l3 + 4) + (uint32_t)(len - hdrs);
	f->closed = (p[l3 + 13] & TCP_PSH) != 0;
}

static void flow_append(struct tun_co_flow *f, const uint8_t *p, size_t len, size_t hdrs)
{
	size_t payload = len - hdrs, fl = f->l3 + 13;
	uint8_t *q = f->buf + TUN_VNET_HDR_LEN;

	memcpy(q + f->len, p + hdrs, payload);
	f->len += payload;
	f->nseg++;
	f->next_seq += (uint32_t)payload;
	if (payload < f->mss || (p[fl] & TCP_PSH)) {
		q[fl] |= p[fl] & TCP_PSH;
		f->closed = true;
	}
}

static void flow_emit(struct tun_co_flow *f, tun_emit_fn emit, void *ctx)
{
	uint8_t *q = f->buf + TUN_VNET_HDR_LEN;
	struct virtio_net_hdr vh;
	size_t n = f->l3;

	memset(&vh, 0, sizeof(vh));
	if (f->nseg > 1) {
		/* One super-packet: the kernel takes the TCP checksum as
		 * partial (pseudo-header sum in the field), as from a NIC. */
		if (n == IP6_HDR)
			be16_put(q + 4, (uint16_t)(f->len - IP6_HDR));
		else
			ip4_fix(q, IP4_MIN, f->len, be16_get(q + 4));
		store_csum(q + n + TCP_CSUM_OFF, inet_csum_fold(pseudo(q, IPPROTO_TCP, f->len - n)));
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.gso_type = n == IP6_HDR ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		vh.hdr_len = (uint16_t)f->hdrs;
		vh.gso_size = (uint16_t)f->mss;
		vh.csum_start = (uint16_t)n;
		vh.csum_offset = TCP_CSUM_OFF;
	}
	memcpy(f->buf, &vh, sizeof(vh));
	emit(ctx, f->buf, TUN_VNET_HDR_LEN + f->len);
	f->len = 0;
}

static void pass(struct tun_coalescer *c, uint8_t *pkt, size_t len, tun_emit_fn emit, void *ctx)
{
	memset(pkt - TUN_VNET_HDR_LEN, 0, TUN_VNET_HDR_LEN);
	c->passed++;
	emit(ctx, pkt - TUN_VNET_HDR_LEN, TUN_VNET_HDR_LEN + len);
}

void tun_co_add(struct tun_coalescer *c, uint8_t *pkt, size_t len, tun_emit_fn emit, void *ctx)
{
	size_t l3, hdrs;

	if (!tcp_data(pkt, len, &l3, &hdrs)) {
		/* A TCP packet of a held flow (FIN, SYN, a pure ACK) goes after it. */
		size_t n = tcp_l3(pkt, len);
		for (unsigned i = 0; n && i < TUN_CO_FLOWS; i++)
			if (same_flow(pkt, n, &c->flows[i]))
				flow_emit(&c->flows[i], emit, ctx);
		pass(c, pkt, len, emit, ctx);
		return;
	}
	struct tun_co_flow *f = NULL, *free_f = NULL;
	for (unsigned i = 0; i < TUN_CO_FLOWS && !f; i++) {
		if (same_flow(pkt, l3, &c->flows[i]))
			f = &c->flows[i];
		else if (!c->flows[i].len && !free_f)
			free_f = &c->flows[i];
	}
	if (f && continues(f, pkt, len, hdrs, c->cap)) {
		flow_append(f, pkt, len, hdrs);
		c->merged++;
		return;
	}
	if (!f)
		f = free_f;
	if (!f)
		f = &c->flows[c->next_victim++ % TUN_CO_FLOWS];
	if (f->len)
		flow_emit(f, emit, ctx);
	flow_start(f, pkt, len, l3, hdrs);
}

void tun_co_flush(struct tun_coalescer *c, tun_emit_fn emit, void *ctx)
{
	for (unsigned i = 0; i < TUN_CO_FLOWS; i++)
		if (c->flows[i].len)
			flow_emit(&c->flows[i], emit, ctx);
}
