/* TUN offload segmentation and coalescing, see tun_offload.h. */
#include "tun_offload.h"
#include "byteorder.h"

#include "inet_csum.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

enum {
	IP4_MIN = 20,
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
	uint16_t c = inet_csum_final(inet_csum_add(tun_csum_pseudo4(ip, proto, l4_len), l4, l4_len));
	if (c == 0 && proto == IPPROTO_UDP)
		c = 0xffff; /* 0 means "no checksum" in UDP */
	store_csum(l4 + off, c);
}

/* --- split --- */

static bool ip4_header(const uint8_t *p, size_t len, size_t *ihl)
{
	if (len < IP4_MIN || p[0] >> 4 != 4)
		return false;
	*ihl = (size_t)(p[0] & 15) * 4;
	return *ihl >= IP4_MIN && *ihl <= len;
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

static int split_tcp4(const uint8_t *pkt, size_t len, size_t ihl, size_t mss, const struct split_out *o)
{
	if (pkt[9] != IPPROTO_TCP || len < ihl + TCP_MIN)
		return -EINVAL;
	size_t thl = (size_t)(pkt[ihl + 12] >> 4) * 4, hdrs = ihl + thl;
	if (thl < TCP_MIN || hdrs > len)
		return -EINVAL;
	size_t payload = len - hdrs;
	int nseg = plan(hdrs, payload, mss, o);
	if (nseg < 0)
		return nseg;
	uint32_t seq0 = be32_get(pkt + ihl + 4);
	uint16_t id0 = be16_get(pkt + 4);
	uint8_t flags = pkt[ihl + 13];
	size_t off = 0;
	for (int i = 0; i < nseg; i++) {
		size_t seg = payload - off < mss ? payload - off : mss;
		uint8_t *s = o->outs[i];
		memcpy(s, pkt, hdrs);
		memcpy(s + hdrs, pkt + hdrs + off, seg);
		ip4_fix(s, ihl, hdrs + seg, (uint16_t)(id0 + i));
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

static int split_udp4(const uint8_t *pkt, size_t len, size_t ihl, size_t mss, const struct split_out *o)
{
	size_t hdrs = ihl + UDP_HDR;
	if (pkt[9] != IPPROTO_UDP || hdrs > len)
		return -EINVAL;
	size_t payload = len - hdrs;
	int nseg = plan(hdrs, payload, mss, o);
	if (nseg < 0)
		return nseg;
	uint16_t id0 = be16_get(pkt + 4);
	size_t off = 0;
	for (int i = 0; i < nseg; i++) {
		size_t seg = payload - off < mss ? payload - off : mss;
		uint8_t *s = o->outs[i];
		memcpy(s, pkt, hdrs);
		memcpy(s + hdrs, pkt + hdrs + off, seg);
		ip4_fix(s, ihl, hdrs + seg, (uint16_t)(id0 + i));
		be16_put(s + ihl + 4, UDP_HDR + seg);
		l4_fix(s, s + ihl, UDP_HDR + seg, IPPROTO_UDP, UDP_CSUM_OFF);
		o->lens[i] = hdrs + seg;
		off += seg;
	}
	return nseg;
}

/* No GSO: one copy, the partial checksum completed if the kernel left one. */
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
	size_t ihl;
	if (c == 0 && ip4_header(s, len, &ihl) && s[9] == IPPROTO_UDP && cs == ihl)
		c = 0xffff;
	store_csum(s + cs + co, c);
	return 1;
}

int tun_offload_split(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len, uint8_t *const *outs,
		      size_t cap, size_t *lens, unsigned max)
{
	const struct split_out o = { outs, cap, lens, max };
	size_t ihl;

	switch (vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return copy_one(vh, pkt, len, &o);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!ip4_header(pkt, len, &ihl))
			return -EINVAL;
		return split_tcp4(pkt, len, ihl, vh->gso_size, &o);
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (len >= 1 && pkt[0] >> 4 == 6)
			return -EPROTONOSUPPORT;
		if (!ip4_header(pkt, len, &ihl))
			return -EINVAL;
		return split_udp4(pkt, len, ihl, vh->gso_size, &o);
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

bool tun_clamp_mss(uint8_t *pkt, size_t len, uint16_t max_mss)
{
	size_t ihl;

	if (!ip4_header(pkt, len, &ihl) || pkt[9] != IPPROTO_TCP || len < ihl + TCP_MIN ||
	    (be16_get(pkt + 6) & 0x1fff) || !(pkt[ihl + 13] & TCP_SYN))
		return false;
	uint8_t *t = pkt + ihl;
	size_t thl = (size_t)(t[12] >> 4) * 4;
	if (thl < TCP_MIN || ihl + thl > len)
		return false;
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

/* An IPv4 TCP data segment without options in the IP header, not a
 * fragment, with only ACK (and maybe PSH) set: a candidate to merge. */
static bool tcp4_data(const uint8_t *p, size_t len, size_t *hdrs)
{
	if (len < IP4_MIN + TCP_MIN || p[0] != 0x45 || be16_get(p + 2) != len || (be16_get(p + 6) & 0x3fff) ||
	    p[9] != IPPROTO_TCP)
		return false;
	size_t thl = (size_t)(p[32] >> 4) * 4;
	uint8_t fl = p[33];
	*hdrs = IP4_MIN + thl;
	return thl >= TCP_MIN && *hdrs < len && (fl & TCP_ACK) && !(fl & (uint8_t)~(TCP_ACK | TCP_PSH));
}

/* Same addresses and ports (p is IPv4 without options, TCP). */
static bool same_flow(const uint8_t *p, const struct tun_co_flow *f)
{
	const uint8_t *q = f->buf + TUN_VNET_HDR_LEN;
	return f->len && memcmp(p + 12, q + 12, 8) == 0 && memcmp(p + 20, q + 20, 4) == 0;
}

/* Everything but lengths, ids, checksums, sequence and PSH must match. */
static bool continues(const struct tun_co_flow *f, const uint8_t *p, size_t len, size_t hdrs, size_t cap)
{
	const uint8_t *q = f->buf + TUN_VNET_HDR_LEN;
	size_t payload = len - hdrs;

	if (f->closed || hdrs != f->hdrs || be32_get(p + 24) != f->next_seq || payload > f->mss ||
	    f->len + payload > TUN_GSO_MAX || TUN_VNET_HDR_LEN + f->len + payload > cap)
		return false;
	return memcmp(p, q, 2) == 0 && memcmp(p + 6, q + 6, 4) == 0 && memcmp(p + 28, q + 28, 5) == 0 &&
	       (p[33] & ~TCP_PSH) == (q[33] & ~TCP_PSH) && memcmp(p + 34, q + 34, 2) == 0 &&
	       memcmp(p + 38, q + 38, hdrs - 38) == 0;
}

static void flow_start(struct tun_co_flow *f, const uint8_t *p, size_t len, size_t hdrs)
{
	memcpy(f->buf + TUN_VNET_HDR_LEN, p, len);
	f->len = len;
	f->hdrs = hdrs;
	f->mss = len - hdrs;
	f->nseg = 1;
	f->next_seq = be32_get(p + 24) + (uint32_t)(len - hdrs);
	f->closed = (p[33] & TCP_PSH) != 0;
}

static void flow_append(struct tun_co_flow *f, const uint8_t *p, size_t len, size_t hdrs)
{
	size_t payload = len - hdrs;
	uint8_t *q = f->buf + TUN_VNET_HDR_LEN;

	memcpy(q + f->len, p + hdrs, payload);
	f->len += payload;
	f->nseg++;
	f->next_seq += (uint32_t)payload;
	if (payload < f->mss || (p[33] & TCP_PSH)) {
		q[33] |= p[33] & TCP_PSH;
		f->closed = true;
	}
}

static void flow_emit(struct tun_co_flow *f, tun_emit_fn emit, void *ctx)
{
	uint8_t *q = f->buf + TUN_VNET_HDR_LEN;
	struct virtio_net_hdr vh;

	memset(&vh, 0, sizeof(vh));
	if (f->nseg > 1) {
		/* One super-packet: the kernel takes the TCP checksum as
		 * partial (pseudo-header sum in the field), as from a NIC. */
		ip4_fix(q, IP4_MIN, f->len, be16_get(q + 4));
		store_csum(q + IP4_MIN + TCP_CSUM_OFF,
			   inet_csum_fold(tun_csum_pseudo4(q, IPPROTO_TCP, f->len - IP4_MIN)));
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		vh.hdr_len = (uint16_t)f->hdrs;
		vh.gso_size = (uint16_t)f->mss;
		vh.csum_start = IP4_MIN;
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
	size_t hdrs;

	if (!tcp4_data(pkt, len, &hdrs)) {
		/* A TCP packet of a held flow (FIN, SYN, a pure ACK) goes after it. */
		if (len >= IP4_MIN + TCP_MIN && pkt[0] == 0x45 && pkt[9] == IPPROTO_TCP)
			for (unsigned i = 0; i < TUN_CO_FLOWS; i++)
				if (same_flow(pkt, &c->flows[i]))
					flow_emit(&c->flows[i], emit, ctx);
		pass(c, pkt, len, emit, ctx);
		return;
	}
	struct tun_co_flow *f = NULL, *free_f = NULL;
	for (unsigned i = 0; i < TUN_CO_FLOWS && !f; i++) {
		if (same_flow(pkt, &c->flows[i]))
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
	flow_start(f, pkt, len, hdrs);
}

void tun_co_flush(struct tun_coalescer *c, tun_emit_fn emit, void *ctx)
{
	for (unsigned i = 0; i < TUN_CO_FLOWS; i++)
		if (c->flows[i].len)
			flow_emit(&c->flows[i], emit, ctx);
}
