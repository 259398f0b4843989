/* TUN offloads: splitting TSO/USO super-packets and coalescing TCP segments
 * keep every byte and every checksum, checked against a plain byte-by-byte
 * RFC 1071 checksum over random streams, for IPv4 and IPv6 (the RFC 8200
 * pseudo-header, extension headers, TSO6, USO6, GSO_TCPV6). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "inet_csum.h"
#include "tun_offload.h"

enum { MAXSEG = 160, SEGCAP = 2048, HEAD = 32 };

/* --- reference checksums: big-endian 16-bit words, one byte at a time --- */

static uint32_t ref_sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t ref_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wbe16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t ref_pseudo(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	wbe16(ph + 10, (unsigned)l4len);
	return ref_sum(0, ph, 12);
}

/* A whole packet with valid checksums sums to 0xffff everywhere. */
static void assert_ip_ok(const uint8_t *p, size_t len)
{
	size_t ihl = (size_t)(p[0] & 15) * 4;
	assert_int_equal(be16(p + 2), len);
	assert_int_equal(ref_fold(ref_sum(0, p, ihl)), 0xffff);
}

static void assert_l4_ok(const uint8_t *p, size_t len)
{
	size_t ihl = (size_t)(p[0] & 15) * 4;
	assert_int_equal(ref_fold(ref_sum(ref_pseudo(p, p[9], len - ihl), p + ihl, len - ihl)), 0xffff);
}

/* --- building random packets --- */

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rand();
}

/* IPv4 + TCP (with a 12-byte timestamp option) + payload; the TCP checksum
 * field holds the pseudo-header sum as the kernel leaves it for TSO. */
static size_t make_tcp(uint8_t *p, size_t payload, uint32_t seq, uint8_t flags, uint16_t sport)
{
	const size_t thl = 32;
	memset(p, 0, 20 + thl);
	p[0] = 0x45;
	wbe16(p + 2, (unsigned)(20 + thl + payload));
	wbe16(p + 4, 0x1234);
	p[6] = 0x40; /* DF */
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	memcpy(p + 12, "\xac\x1f\x00\x01\xac\x1f\x00\x02", 8);
	uint8_t *t = p + 20;
	wbe16(t, sport);
	wbe16(t + 2, 5201);
	t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16), t[6] = (uint8_t)(seq >> 8), t[7] = (uint8_t)seq;
	memcpy(t + 8, "\x01\x02\x03\x04", 4);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = flags;
	wbe16(t + 14, 501);
	memcpy(t + 20, "\x01\x01\x08\x0a\x00\x00\x10\x00\x00\x00\x20\x00", 12);
	fill_random(t + thl, payload);
	return 20 + thl + payload;
}

static void set_partial_tcp(uint8_t *p, size_t len)
{
	uint16_t c = ref_fold(ref_pseudo(p, IPPROTO_TCP, len - 20));
	wbe16(p + 20 + 16, c);
}

static void set_full_ip_and_l4(uint8_t *p, size_t len, size_t csum_off)
{
	p[10] = p[11] = 0;
	wbe16(p + 10, (uint16_t)~ref_fold(ref_sum(0, p, 20)));
	p[20 + csum_off] = p[20 + csum_off + 1] = 0;
	uint16_t c = (uint16_t)~ref_fold(ref_sum(ref_pseudo(p, p[9], len - 20), p + 20, len - 20));
	if (c == 0 && p[9] == IPPROTO_UDP)
		c = 0xffff;
	wbe16(p + 20 + csum_off, c);
}

struct segs {
	uint8_t *mem;
	uint8_t *outs[MAXSEG];
	size_t lens[MAXSEG];
};

static void segs_init(struct segs *s)
{
	s->mem = malloc((size_t)MAXSEG * (HEAD + SEGCAP));
	assert_non_null(s->mem);
	for (int i = 0; i < MAXSEG; i++)
		s->outs[i] = s->mem + (size_t)i * (HEAD + SEGCAP) + HEAD;
}

/* --- emitted packets --- */

struct sink {
	uint8_t *data[64];
	size_t len[64];
	struct virtio_net_hdr vh[64];
	unsigned n;
};

static void sink_emit(void *ctx, uint8_t *hdr, size_t total)
{
	struct sink *k = ctx;
	assert_true(k->n < 64);
	memcpy(&k->vh[k->n], hdr, sizeof(struct virtio_net_hdr));
	k->data[k->n] = malloc(total - TUN_VNET_HDR_LEN);
	memcpy(k->data[k->n], hdr + TUN_VNET_HDR_LEN, total - TUN_VNET_HDR_LEN);
	k->len[k->n++] = total - TUN_VNET_HDR_LEN;
}

static void sink_free(struct sink *k)
{
	for (unsigned i = 0; i < k->n; i++)
		free(k->data[i]);
	k->n = 0;
}

/* What the kernel does with NEEDS_CSUM: finish the checksum from csum_start. */
static void complete_partial(const struct virtio_net_hdr *vh, uint8_t *p, size_t len)
{
	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return;
	uint16_t c = (uint16_t)~ref_fold(ref_sum(0, p + vh->csum_start, len - vh->csum_start));
	wbe16(p + vh->csum_start + vh->csum_offset, c);
}

/* --- tests --- */

static void test_csum_matches_reference(void **state)
{
	(void)state;
	uint8_t b[3000];
	for (int round = 0; round < 500; round++) {
		size_t n = (size_t)rand() % sizeof(b);
		fill_random(b, n);
		uint16_t ours = inet_csum_final(inet_csum_add(0, b, n));
		uint8_t stored[2];
		memcpy(stored, &ours, 2);
		assert_int_equal(be16(stored), (uint16_t)~ref_fold(ref_sum(0, b, n)));
	}
}

/* Random TSO super-packets: split, verify every segment, coalesce back,
 * verify the super-packet against the original. */
static void test_tcp_split_coalesce_random(void **state)
{
	(void)state;
	static uint8_t big[TUN_GSO_MAX];
	struct segs s;
	struct tun_coalescer co;
	struct sink k = { 0 };
	segs_init(&s);
	assert_int_equal(tun_co_init(&co), 0);

	for (int round = 0; round < 200; round++) {
		size_t mss = 500 + (size_t)rand() % 1000;
		size_t payload = 1 + (size_t)rand() % (TUN_GSO_MAX - 52);
		uint32_t seq = (uint32_t)rand() * 2654435761u; /* wraps sometimes */
		uint8_t flags = 0x10 | (rand() % 2 ? 0x08 : 0) | (rand() % 4 == 0 ? 0x80 : 0);
		size_t len = make_tcp(big, payload, seq, flags, 40000);
		set_partial_tcp(big, len);
		struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
					     .hdr_len = 52, .gso_size = (uint16_t)mss, .csum_start = 20,
					     .csum_offset = 16 };
		int n = tun_offload_split(&vh, big, len, s.outs, SEGCAP, s.lens, MAXSEG);
		assert_int_equal(n, (int)((payload + mss - 1) / mss));

		size_t off = 0;
		for (int i = 0; i < n; i++) {
			uint8_t *p = s.outs[i];
			size_t seg = s.lens[i] - 52;
			assert_true(seg == mss || (i == n - 1 && seg <= mss));
			assert_ip_ok(p, s.lens[i]);
			assert_l4_ok(p, s.lens[i]);
			assert_int_equal(be16(p + 4), (uint16_t)(0x1234 + i));
			assert_int_equal(be32(p + 24), seq + (uint32_t)off);
			assert_memory_equal(p + 52, big + 52 + off, seg);
			assert_int_equal(p[33] & 0x08, i == n - 1 ? (flags & 0x08) : 0);
			assert_int_equal(p[33] & 0x80, i == 0 ? (flags & 0x80) : 0);
			off += seg;
		}
		assert_int_equal(off, payload);

		/* CWR is not coalescable (only ACK/PSH are): clear it for the
		 * reassembly half, recomputing that segment's checksum. */
		if (s.outs[0][33] & 0x80) {
			s.outs[0][33] &= 0x7f;
			set_full_ip_and_l4(s.outs[0], s.lens[0], 16);
		}
		for (int i = 0; i < n; i++)
			tun_co_add(&co, s.outs[i], s.lens[i], sink_emit, &k);
		tun_co_flush(&co, sink_emit, &k);
		assert_int_equal(k.n, 1);
		uint8_t *q = k.data[0];
		assert_int_equal(k.len[0], len);
		assert_ip_ok(q, len);
		if (n > 1) {
			assert_int_equal(k.vh[0].gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
			assert_int_equal(k.vh[0].gso_size, mss);
			assert_int_equal(k.vh[0].hdr_len, 52);
		} else {
			assert_int_equal(k.vh[0].gso_type, VIRTIO_NET_HDR_GSO_NONE);
		}
		complete_partial(&k.vh[0], q, len);
		assert_l4_ok(q, len);
		assert_int_equal(be32(q + 24), seq);
		assert_int_equal(q[33], flags & 0x18);
		assert_memory_equal(q + 52, big + 52, payload);
		sink_free(&k);
	}
	tun_co_free(&co);
	free(s.mem);
}

/* Two streams interleaved, a gap, a FIN and a UDP packet: each flow keeps
 * its bytes in order, nothing is lost, non-TCP passes in place. */
static void test_coalesce_flows_and_breaks(void **state)
{
	(void)state;
	struct tun_coalescer co;
	struct sink k = { 0 };
	static uint8_t pk[12][HEAD + 1600];
	uint8_t *p[12];
	size_t len[12];
	assert_int_equal(tun_co_init(&co), 0);
	for (int i = 0; i < 12; i++)
		p[i] = pk[i] + HEAD;
	/* flow A: seq 1000, 3 x 1000 bytes; flow B (other port): 2 x 1000 */
	for (int i = 0; i < 3; i++)
		len[i] = make_tcp(p[i], 1000, 1000 + 1000 * (uint32_t)i, 0x10, 40000);
	for (int i = 0; i < 2; i++)
		len[3 + i] = make_tcp(p[3 + i], 1000, 7000 + 1000 * (uint32_t)i, 0x10, 40001);
	/* A again after a gap (seq 5000): starts a new super-packet */
	len[5] = make_tcp(p[5], 1000, 5000, 0x10, 40000);
	/* A's FIN (no payload): flushes A first */
	len[6] = make_tcp(p[6], 0, 6000, 0x11, 40000);
	/* a UDP datagram */
	memcpy(p[7], p[0], 20);
	p[7][9] = IPPROTO_UDP;
	wbe16(p[7] + 2, 20 + 8 + 10);
	len[7] = 38;
	for (int i = 0; i < 8; i++)
		set_full_ip_and_l4(p[i], len[i], p[i][9] == IPPROTO_UDP ? 6 : 16);
	int order[] = { 0, 3, 1, 4, 2, 5, 6, 7 };
	for (int i = 0; i < 8; i++)
		tun_co_add(&co, p[order[i]], len[order[i]], sink_emit, &k);
	tun_co_flush(&co, sink_emit, &k);
	/* A(0..2) emitted when the gap arrived, then A(5) before the FIN, FIN,
	 * UDP, then B at the flush. */
	assert_int_equal(k.n, 5);
	assert_int_equal(k.len[0], 52 + 3000);
	assert_int_equal(k.vh[0].gso_size, 1000);
	assert_memory_equal(k.data[0] + 52, p[0] + 52, 1000);
	assert_memory_equal(k.data[0] + 52 + 2000, p[2] + 52, 1000);
	assert_int_equal(k.len[1], len[5]);
	assert_int_equal(k.vh[1].gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_memory_equal(k.data[1], p[5], len[5]);
	assert_memory_equal(k.data[2], p[6], len[6]);
	assert_memory_equal(k.data[3], p[7], len[7]);
	assert_int_equal(k.len[4], 52 + 2000);
	assert_int_equal(be16(k.data[4] + 20), 40001);
	for (unsigned i = 0; i < k.n; i++) {
		complete_partial(&k.vh[i], k.data[i], k.len[i]);
		assert_ip_ok(k.data[i], k.len[i]);
		assert_l4_ok(k.data[i], k.len[i]);
	}
	sink_free(&k);
	tun_co_free(&co);
}

/* A short segment or PSH closes a super-packet; a larger one starts anew. */
static void test_coalesce_short_and_push(void **state)
{
	(void)state;
	struct tun_coalescer co;
	struct sink k = { 0 };
	static uint8_t pk[4][HEAD + 1600];
	size_t len[4];
	assert_int_equal(tun_co_init(&co), 0);
	len[0] = make_tcp(pk[0] + HEAD, 1000, 0, 0x10, 1);
	len[1] = make_tcp(pk[1] + HEAD, 400, 1000, 0x10, 1);  /* short: closes */
	len[2] = make_tcp(pk[2] + HEAD, 1000, 1400, 0x18, 1); /* new, PSH: closed at once */
	len[3] = make_tcp(pk[3] + HEAD, 1000, 2400, 0x10, 1);
	for (int i = 0; i < 4; i++) {
		set_full_ip_and_l4(pk[i] + HEAD, len[i], 16);
		tun_co_add(&co, pk[i] + HEAD, len[i], sink_emit, &k);
	}
	tun_co_flush(&co, sink_emit, &k);
	assert_int_equal(k.n, 3);
	assert_int_equal(k.len[0], 52 + 1400);
	assert_int_equal(k.len[1], len[2]);
	assert_int_equal(k.data[1][33], 0x18);
	assert_int_equal(k.len[2], len[3]);
	for (unsigned i = 0; i < k.n; i++) {
		complete_partial(&k.vh[i], k.data[i], k.len[i]);
		assert_l4_ok(k.data[i], k.len[i]);
	}
	sink_free(&k);
	tun_co_free(&co);
}

static void test_udp_split(void **state)
{
	(void)state;
	static uint8_t big[TUN_GSO_MAX];
	struct segs s;
	segs_init(&s);
	for (int round = 0; round < 100; round++) {
		size_t mss = 400 + (size_t)rand() % 1000, payload = (size_t)rand() % 60000;
		memset(big, 0, 28);
		big[0] = 0x45;
		wbe16(big + 2, (unsigned)(28 + payload));
		big[8] = 64;
		big[9] = IPPROTO_UDP;
		memcpy(big + 12, "\xac\x1f\x00\x01\xac\x1f\x00\x02", 8);
		wbe16(big + 20, 5000);
		wbe16(big + 22, 5001);
		fill_random(big + 28, payload);
		struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4,
					     .gso_size = (uint16_t)mss, .csum_start = 20, .csum_offset = 6 };
		int n = tun_offload_split(&vh, big, 28 + payload, s.outs, SEGCAP, s.lens, MAXSEG);
		assert_int_equal(n, payload ? (int)((payload + mss - 1) / mss) : 1);
		size_t off = 0;
		for (int i = 0; i < n; i++) {
			uint8_t *q = s.outs[i];
			assert_ip_ok(q, s.lens[i]);
			assert_int_equal(be16(q + 24), s.lens[i] - 20);
			assert_l4_ok(q, s.lens[i]);
			assert_memory_equal(q + 28, big + 28 + off, s.lens[i] - 28);
			off += s.lens[i] - 28;
		}
		assert_int_equal(off, payload);
	}
	free(s.mem);
}

/* No GSO: copied; a partial checksum is completed. */
static void test_plain_and_partial(void **state)
{
	(void)state;
	uint8_t pkt[1500], want[1500];
	struct segs s;
	segs_init(&s);
	size_t len = make_tcp(pkt, 700, 99, 0x18, 3);
	set_full_ip_and_l4(pkt, len, 16);
	memcpy(want, pkt, len);
	struct virtio_net_hdr vh = { 0 };
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), 1);
	assert_int_equal(s.lens[0], len);
	assert_memory_equal(s.outs[0], want, len);
	set_partial_tcp(pkt, len);
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.csum_start = 20;
	vh.csum_offset = 16;
	memset(s.outs[0], 0, len); /* else the first call's copy would pass */
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), 1);
	assert_int_equal(s.lens[0], len);
	assert_memory_equal(s.outs[0], want, len);
	free(s.mem);
}

static void test_bad_input(void **state)
{
	(void)state;
	uint8_t pkt[200];
	struct segs s;
	segs_init(&s);
	size_t len = make_tcp(pkt, 100, 0, 0x10, 1);
	struct virtio_net_hdr vh = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 10 };
	assert_int_equal(tun_offload_split(&vh, pkt, 30, s.outs, SEGCAP, s.lens, MAXSEG), -EINVAL);
	vh.gso_size = 0;
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), -EINVAL);
	vh.gso_size = 10; /* 10 segments, room for 5 */
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, 5), -ENOBUFS);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6; /* an IPv4 packet said to be IPv6 */
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), -EINVAL);
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP; /* UFO: never offered */
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), -EPROTONOSUPPORT);
	vh = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 190, .csum_offset = 16 };
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), -EINVAL);
	pkt[32] = 0x10; /* TCP data offset 4 bytes */
	vh = (struct virtio_net_hdr){ .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 10 };
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), -EINVAL);
	free(s.mem);
}

/* A SYN's MSS above the limit is lowered with a still-valid checksum; a
 * lower one, a non-SYN and a truncated option are left alone. */
static void test_clamp_mss(void **state)
{
	(void)state;
	uint8_t p[80];
	for (int round = 0; round < 200; round++) {
		size_t len = make_tcp(p, 0, (uint32_t)rand(), 0x02, (uint16_t)rand());
		/* options: NOP, NOP, MSS 4 bytes, then 8 bytes of padding NOPs */
		memcpy(p + 40, "\x01\x01\x02\x04", 4);
		unsigned mss = 536 + (unsigned)rand() % 9000;
		wbe16(p + 44, mss);
		memset(p + 46, 1, 6);
		set_full_ip_and_l4(p, len, 16);
		bool changed = tun_clamp_mss(p, len, 1380);
		assert_int_equal(changed, mss > 1380);
		assert_int_equal(be16(p + 44), mss > 1380 ? 1380 : mss);
		assert_l4_ok(p, len);
		assert_ip_ok(p, len);
	}
	size_t len = make_tcp(p, 0, 1, 0x10, 1); /* not a SYN */
	memcpy(p + 40, "\x02\x04\x23\x28", 4);
	assert_false(tun_clamp_mss(p, len, 1380));
	len = make_tcp(p, 0, 1, 0x12, 1); /* SYN-ACK, option length runs past the header */
	memcpy(p + 40, "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x02\x04", 12);
	assert_false(tun_clamp_mss(p, len, 1380));
}


/* --- IPv6 --- */

static const uint8_t SRC6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t DST6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 2 };

/* RFC 8200 8.1: source, destination, 32-bit length, 3 zero bytes, next
 * header; summed as big-endian words one byte at a time. */
static uint32_t ref_pseudo6(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	uint8_t ph[40] = { 0 };
	memcpy(ph, ip + 8, 32);
	ph[32] = (uint8_t)(l4len >> 24);
	ph[33] = (uint8_t)(l4len >> 16);
	ph[34] = (uint8_t)(l4len >> 8);
	ph[35] = (uint8_t)l4len;
	ph[39] = proto;
	return ref_sum(0, ph, 40);
}

/* IPv6 header (traffic class 0x28, flow label 0xbeef1) and, with ext, an
 * 8-byte destination options header (PadN) before the transport header.
 * Returns the transport header's offset. */
static size_t make_ip6(uint8_t *p, size_t l4len, uint8_t proto, bool ext)
{
	size_t hl = 40 + (ext ? 8 : 0);
	memset(p, 0, hl);
	p[0] = 0x62;
	p[1] = 0x8b;
	p[2] = 0xee;
	p[3] = 0xf1;
	wbe16(p + 4, (unsigned)(hl - 40 + l4len));
	p[6] = ext ? 60 : proto;
	p[7] = 64;
	memcpy(p + 8, SRC6, 16);
	memcpy(p + 24, DST6, 16);
	if (ext) {
		p[40] = proto;
		p[41] = 0;
		p[42] = 1; /* PadN, 4 bytes of padding */
		p[43] = 4;
	}
	return hl;
}

/* IPv6 (+ext) + TCP with the timestamp option + payload. */
static size_t make_tcp6(uint8_t *p, size_t payload, uint32_t seq, uint8_t flags, uint16_t sport, bool ext)
{
	const size_t thl = 32;
	size_t hl = make_ip6(p, thl + payload, IPPROTO_TCP, ext);
	uint8_t *t = p + hl;
	memset(t, 0, thl);
	wbe16(t, sport);
	wbe16(t + 2, 5201);
	t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16), t[6] = (uint8_t)(seq >> 8), t[7] = (uint8_t)seq;
	memcpy(t + 8, "\x01\x02\x03\x04", 4);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = flags;
	wbe16(t + 14, 501);
	memcpy(t + 20, "\x01\x01\x08\x0a\x00\x00\x10\x00\x00\x00\x20\x00", 12);
	fill_random(t + thl, payload);
	return hl + thl + payload;
}

static void assert_l4_ok6(const uint8_t *p, size_t len, size_t hl, uint8_t proto)
{
	assert_int_equal(be16(p + 4), len - 40);
	assert_int_equal(ref_fold(ref_sum(ref_pseudo6(p, proto, len - hl), p + hl, len - hl)), 0xffff);
}

static void set_full_l4_6(uint8_t *p, size_t len, size_t hl, uint8_t proto, size_t csum_off)
{
	p[hl + csum_off] = p[hl + csum_off + 1] = 0;
	uint16_t c = (uint16_t)~ref_fold(ref_sum(ref_pseudo6(p, proto, len - hl), p + hl, len - hl));
	if (c == 0 && proto == IPPROTO_UDP)
		c = 0xffff;
	wbe16(p + hl + csum_off, c);
}

/* TSO6 super-packets (with and without an extension header): every
 * segment complete and checksummed; those without the extension header
 * coalesce back into one GSO_TCPV6 super-packet equal to the original. */
static void test_tcp6_split_coalesce_random(void **state)
{
	(void)state;
	static uint8_t big[TUN_GSO_MAX];
	struct segs s;
	struct tun_coalescer co;
	struct sink k = { 0 };
	segs_init(&s);
	assert_int_equal(tun_co_init(&co), 0);

	for (int round = 0; round < 200; round++) {
		bool ext = round % 3 == 0;
		size_t hl = ext ? 48 : 40, hdrs = hl + 32;
		size_t mss = 500 + (size_t)rand() % 1000;
		size_t payload = 1 + (size_t)rand() % (TUN_GSO_MAX - hdrs);
		uint32_t seq = (uint32_t)rand() * 2654435761u;
		uint8_t flags = 0x10 | (rand() % 2 ? 0x08 : 0) | (rand() % 4 == 0 ? 0x80 : 0);
		size_t len = make_tcp6(big, payload, seq, flags, 40000, ext);
		/* what the kernel leaves for TSO: the pseudo-header sum */
		wbe16(big + hl + 16, ref_fold(ref_pseudo6(big, IPPROTO_TCP, len - hl)));
		struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					     .gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
					     .hdr_len = (uint16_t)hdrs,
					     .gso_size = (uint16_t)mss,
					     .csum_start = (uint16_t)hl,
					     .csum_offset = 16 };
		int n = tun_offload_split(&vh, big, len, s.outs, SEGCAP, s.lens, MAXSEG);
		assert_int_equal(n, (int)((payload + mss - 1) / mss));
		size_t off = 0;
		for (int i = 0; i < n; i++) {
			uint8_t *p = s.outs[i];
			size_t seg = s.lens[i] - hdrs;
			assert_true(seg == mss || (i == n - 1 && seg <= mss));
			assert_memory_equal(p, big, 4); /* version, class, flow label */
			assert_memory_equal(p + 6, big + 6, 34);
			assert_memory_equal(p + 40, big + 40, hl - 40);
			assert_l4_ok6(p, s.lens[i], hl, IPPROTO_TCP);
			assert_int_equal(be32(p + hl + 4), seq + (uint32_t)off);
			assert_memory_equal(p + hdrs, big + hdrs + off, seg);
			assert_int_equal(p[hl + 13] & 0x08, i == n - 1 ? (flags & 0x08) : 0);
			assert_int_equal(p[hl + 13] & 0x80, i == 0 ? (flags & 0x80) : 0);
			off += seg;
		}
		assert_int_equal(off, payload);
		if (ext)
			continue;
		if (s.outs[0][hl + 13] & 0x80) { /* CWR is not coalescable */
			s.outs[0][hl + 13] &= 0x7f;
			set_full_l4_6(s.outs[0], s.lens[0], hl, IPPROTO_TCP, 16);
		}
		for (int i = 0; i < n; i++)
			tun_co_add(&co, s.outs[i], s.lens[i], sink_emit, &k);
		tun_co_flush(&co, sink_emit, &k);
		assert_int_equal(k.n, 1);
		uint8_t *q = k.data[0];
		assert_int_equal(k.len[0], len);
		if (n > 1) {
			assert_int_equal(k.vh[0].gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
			assert_int_equal(k.vh[0].gso_size, mss);
			assert_int_equal(k.vh[0].hdr_len, hdrs);
			assert_int_equal(k.vh[0].csum_start, 40);
			assert_int_equal(k.vh[0].csum_offset, 16);
		} else {
			assert_int_equal(k.vh[0].gso_type, VIRTIO_NET_HDR_GSO_NONE);
		}
		complete_partial(&k.vh[0], q, len);
		assert_l4_ok6(q, len, hl, IPPROTO_TCP);
		assert_int_equal(be32(q + hl + 4), seq);
		assert_int_equal(q[hl + 13], flags & 0x18);
		assert_memory_equal(q + hdrs, big + hdrs, payload);
		sink_free(&k);
	}
	tun_co_free(&co);
	free(s.mem);
}

/* USO6: UDP over IPv6 cut into datagrams, each with its length and a
 * full checksum. */
static void test_udp6_split(void **state)
{
	(void)state;
	static uint8_t big[TUN_GSO_MAX];
	struct segs s;
	segs_init(&s);
	for (int round = 0; round < 100; round++) {
		bool ext = round % 2;
		size_t mss = 400 + (size_t)rand() % 1000, payload = (size_t)rand() % 60000;
		size_t hl = make_ip6(big, 8 + payload, IPPROTO_UDP, ext);
		wbe16(big + hl, 5000);
		wbe16(big + hl + 2, 5001);
		wbe16(big + hl + 4, (unsigned)(8 + payload));
		fill_random(big + hl + 8, payload);
		struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					     .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4,
					     .gso_size = (uint16_t)mss,
					     .csum_start = (uint16_t)hl,
					     .csum_offset = 6 };
		int n = tun_offload_split(&vh, big, hl + 8 + payload, s.outs, SEGCAP, s.lens, MAXSEG);
		assert_int_equal(n, payload ? (int)((payload + mss - 1) / mss) : 1);
		size_t off = 0;
		for (int i = 0; i < n; i++) {
			uint8_t *q = s.outs[i];
			assert_int_equal(be16(q + hl + 4), s.lens[i] - hl);
			assert_true(be16(q + hl + 6) != 0); /* never "no checksum" over IPv6 */
			assert_l4_ok6(q, s.lens[i], hl, IPPROTO_UDP);
			assert_memory_equal(q + hl + 8, big + hl + 8 + off, s.lens[i] - hl - 8);
			off += s.lens[i] - hl - 8;
		}
		assert_int_equal(off, payload);
	}
	free(s.mem);
}

/* A UDP datagram whose checksum comes out 0 must carry 0xffff: over IPv6 a
 * zero is invalid (RFC 8200 8.1), over IPv4 it would mean "none". The
 * last payload word is searched so that the sum is exactly 0xffff. */
static void test_partial_udp_zero(void **state)
{
	(void)state;
	uint8_t pkt[200];
	struct segs s;
	segs_init(&s);
	for (int v6 = 0; v6 <= 1; v6++) {
		size_t hl = v6 ? make_ip6(pkt, 8 + 20, IPPROTO_UDP, false) : 20, len = hl + 28;
		if (!v6) {
			memset(pkt, 0, 20);
			pkt[0] = 0x45;
			wbe16(pkt + 2, (unsigned)len);
			pkt[8] = 64;
			pkt[9] = IPPROTO_UDP;
			memcpy(pkt + 12, "\xac\x1f\x00\x01\xac\x1f\x00\x02", 8);
		}
		wbe16(pkt + hl, 7);
		wbe16(pkt + hl + 2, 9);
		wbe16(pkt + hl + 4, 28);
		fill_random(pkt + hl + 8, 20);
		uint32_t ph = v6 ? ref_pseudo6(pkt, IPPROTO_UDP, 28) : ref_pseudo(pkt, IPPROTO_UDP, 28);
		unsigned w;
		for (w = 0; w <= 0xffff; w++) {
			wbe16(pkt + len - 2, w);
			pkt[hl + 6] = pkt[hl + 7] = 0;
			if (ref_fold(ref_sum(ph, pkt + hl, 28)) == 0xffff)
				break;
		}
		assert_true(w <= 0xffff);
		wbe16(pkt + hl + 6, ref_fold(ph)); /* partial, as the kernel leaves it */
		struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					     .csum_start = (uint16_t)hl,
					     .csum_offset = 6 };
		assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), 1);
		assert_int_equal(be16(s.outs[0] + hl + 6), 0xffff);
		if (v6)
			assert_l4_ok6(s.outs[0], len, hl, IPPROTO_UDP);
		else
			assert_l4_ok(s.outs[0], len);
	}
	free(s.mem);
}

/* An IPv4 and an IPv6 flow with the same ports, interleaved, and an IPv6
 * segment with an extension header: two super-packets, one per family,
 * and the odd one passed alone. */
static void test_coalesce_both_families(void **state)
{
	(void)state;
	struct tun_coalescer co;
	struct sink k = { 0 };
	static uint8_t pk[7][HEAD + 1600];
	size_t len[7];
	assert_int_equal(tun_co_init(&co), 0);
	for (int i = 0; i < 3; i++) {
		len[2 * i] = make_tcp(pk[2 * i] + HEAD, 1000, 100 + 1000 * (uint32_t)i, 0x10, 40000);
		set_full_ip_and_l4(pk[2 * i] + HEAD, len[2 * i], 16);
		len[2 * i + 1] = make_tcp6(pk[2 * i + 1] + HEAD, 1000, 900 + 1000 * (uint32_t)i, 0x10, 40000, false);
		set_full_l4_6(pk[2 * i + 1] + HEAD, len[2 * i + 1], 40, IPPROTO_TCP, 16);
	}
	len[6] = make_tcp6(pk[6] + HEAD, 1000, 5000, 0x10, 40001, true);
	set_full_l4_6(pk[6] + HEAD, len[6], 48, IPPROTO_TCP, 16);
	for (int i = 0; i < 7; i++)
		tun_co_add(&co, pk[i] + HEAD, len[i], sink_emit, &k);
	tun_co_flush(&co, sink_emit, &k);
	assert_int_equal(k.n, 3);
	assert_int_equal(co.merged, 4);
	assert_int_equal(co.passed, 1);
	/* the lone IPv6 one came out first, as it went in */
	assert_int_equal(k.len[0], len[6]);
	assert_memory_equal(k.data[0], pk[6] + HEAD, len[6]);
	int v4 = k.data[1][0] == 0x45 ? 1 : 2, v6 = 3 - v4;
	assert_int_equal(k.len[v4], 52 + 3000);
	assert_int_equal(k.vh[v4].gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(k.len[v6], 72 + 3000);
	assert_int_equal(k.vh[v6].gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	complete_partial(&k.vh[v4], k.data[v4], k.len[v4]);
	assert_ip_ok(k.data[v4], k.len[v4]);
	assert_l4_ok(k.data[v4], k.len[v4]);
	complete_partial(&k.vh[v6], k.data[v6], k.len[v6]);
	assert_l4_ok6(k.data[v6], k.len[v6], 40, IPPROTO_TCP);
	for (int i = 0; i < 3; i++) {
		assert_memory_equal(k.data[v4] + 52 + 1000 * i, pk[2 * i] + HEAD + 52, 1000);
		assert_memory_equal(k.data[v6] + 72 + 1000 * i, pk[2 * i + 1] + HEAD + 72, 1000);
	}
	sink_free(&k);
	tun_co_free(&co);
}

/* A flow label change (a different path or a new flow) is not merged. */
static void test_coalesce6_label_breaks(void **state)
{
	(void)state;
	struct tun_coalescer co;
	struct sink k = { 0 };
	static uint8_t pk[2][HEAD + 1600];
	size_t len[2];
	assert_int_equal(tun_co_init(&co), 0);
	for (int i = 0; i < 2; i++) {
		len[i] = make_tcp6(pk[i] + HEAD, 1000, 1000 * (uint32_t)i, 0x10, 1, false);
		if (i)
			pk[i][HEAD + 3] ^= 1;
		set_full_l4_6(pk[i] + HEAD, len[i], 40, IPPROTO_TCP, 16);
		tun_co_add(&co, pk[i] + HEAD, len[i], sink_emit, &k);
	}
	tun_co_flush(&co, sink_emit, &k);
	assert_int_equal(k.n, 2);
	assert_int_equal(co.merged, 0);
	sink_free(&k);
	tun_co_free(&co);
}

static void test_bad_input6(void **state)
{
	(void)state;
	uint8_t pkt[400];
	struct segs s;
	segs_init(&s);
	struct virtio_net_hdr vh = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .gso_size = 100 };
	size_t len = make_tcp6(pkt, 300, 1, 0x10, 1, false);
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), 3);
	/* payload length that disagrees with what was read */
	assert_int_equal(tun_offload_split(&vh, pkt, len - 1, s.outs, SEGCAP, s.lens, MAXSEG), -EINVAL);
	/* an IPv6 packet said to be TCPv4 */
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), -EINVAL);
	/* routing header (type 4, segments left 0) and fragment header */
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	len = make_tcp6(pkt, 300, 1, 0x10, 1, true);
	pkt[6] = 43;
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), -EINVAL);
	pkt[6] = 44;
	memset(pkt + 41, 0, 7);
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), -EINVAL);
	/* UDP GSO on a TCP packet */
	len = make_tcp6(pkt, 300, 1, 0x10, 1, false);
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	assert_int_equal(tun_offload_split(&vh, pkt, len, s.outs, SEGCAP, s.lens, MAXSEG), -EINVAL);
	free(s.mem);
}

/* IPv6 SYNs are clamped to mtu - 60, IPv4 ones to mtu - 40, by the
 * family-aware call; the IPv4-only call leaves IPv6 alone. */
static void test_clamp_mss_both(void **state)
{
	(void)state;
	uint8_t p[120];
	for (int round = 0; round < 200; round++) {
		bool ext = round % 2;
		size_t hl = ext ? 48 : 40;
		size_t len = make_tcp6(p, 0, (uint32_t)rand(), 0x02, (uint16_t)rand(), ext);
		memcpy(p + hl + 20, "\x01\x01\x02\x04", 4);
		unsigned mss = 536 + (unsigned)rand() % 9000;
		wbe16(p + hl + 24, mss);
		memset(p + hl + 26, 1, 6);
		set_full_l4_6(p, len, hl, IPPROTO_TCP, 16);
		assert_false(tun_clamp_mss(p, len, 1000));
		assert_int_equal(be16(p + hl + 24), mss);
		bool changed = tun_clamp_mss_mtu(p, len, 1280);
		assert_int_equal(changed, mss > 1220);
		assert_int_equal(be16(p + hl + 24), mss > 1220 ? 1220 : mss);
		assert_l4_ok6(p, len, hl, IPPROTO_TCP);

		len = make_tcp(p, 0, (uint32_t)rand(), 0x02, (uint16_t)rand());
		memcpy(p + 40, "\x01\x01\x02\x04", 4);
		wbe16(p + 44, mss);
		memset(p + 46, 1, 6);
		set_full_ip_and_l4(p, len, 16);
		assert_int_equal(tun_clamp_mss_mtu(p, len, 1280), mss > 1240);
		assert_int_equal(be16(p + 44), mss > 1240 ? 1240 : mss);
		assert_l4_ok(p, len);
	}
	/* not a SYN; a later fragment; a tiny MTU */
	size_t len = make_tcp6(p, 0, 1, 0x10, 1, false);
	memcpy(p + 60, "\x02\x04\x23\x28", 4);
	assert_false(tun_clamp_mss_mtu(p, len, 1280));
	len = make_tcp6(p, 0, 1, 0x02, 1, true);
	p[6] = 44;
	memset(p + 41, 0, 7);
	p[43] = 8; /* offset 1 */
	assert_false(tun_clamp_mss_mtu(p, len, 1280));
	len = make_tcp6(p, 0, 1, 0x02, 1, false);
	memcpy(p + 60, "\x02\x04\x23\x28", 4);
	assert_false(tun_clamp_mss_mtu(p, len, 60));
}

int main(void)
{
	srand(7);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_matches_reference),
		cmocka_unit_test(test_tcp_split_coalesce_random),
		cmocka_unit_test(test_coalesce_flows_and_breaks),
		cmocka_unit_test(test_coalesce_short_and_push),
		cmocka_unit_test(test_udp_split),
		cmocka_unit_test(test_plain_and_partial),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_clamp_mss),
		cmocka_unit_test(test_tcp6_split_coalesce_random),
		cmocka_unit_test(test_udp6_split),
		cmocka_unit_test(test_partial_udp_zero),
		cmocka_unit_test(test_coalesce_both_families),
		cmocka_unit_test(test_coalesce6_label_breaks),
		cmocka_unit_test(test_bad_input6),
		cmocka_unit_test(test_clamp_mss_both),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
