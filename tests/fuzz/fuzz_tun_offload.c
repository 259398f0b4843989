/* libFuzzer harness for the TUN offload code: the coalescer reads packets
 * a peer sent (authenticated, but the peer may be hostile), the splitter
 * reads what the kernel hands over. Input: 10 bytes of virtio_net_hdr, then
 * packets, each prefixed with a 2-byte big-endian length. Every packet goes
 * through the MSS clamp and tun_co_add; the whole rest through
 * tun_offload_split. Both families (the seeds hold IPv4 and IPv6 TSO,
 * USO and segment streams). Checks: no out-of-bounds access (ASan), every
 * emitted packet fits the buffers, the coalescer never emits more bytes
 * than it took in, every segment a GSO split produced carries a valid
 * transport checksum (IPv4 header checksum too), and the clamp keeps a
 * valid TCP checksum valid. Each packet also gets the ICMP error a node
 * would send were it too big (icmp_err.h): at most 1280 / 576 bytes, with
 * valid checksums. */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "icmp_err.h"
#include "inet_csum.h"
#include "ip_pkt.h"
#include "tun_offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

enum { SEGS = 64, CAP = 1600, HEAD = 16 };

static struct tun_coalescer co;
static bool ready;
static size_t emitted;

static void emit(void *ctx, uint8_t *hdr, size_t total)
{
	(void)ctx;
	CHECK(total >= TUN_VNET_HDR_LEN && total <= TUN_VNET_HDR_LEN + TUN_GSO_MAX);
	emitted += total - TUN_VNET_HDR_LEN;
	volatile uint8_t sink = hdr[total - 1];
	(void)sink;
}

/* The transport checksum of a whole packet verifies (pseudo-header of its
 * family); IPv4's header checksum too. -1: not a TCP/UDP packet we can
 * check. */
static int csum_ok(const uint8_t *p, size_t len)
{
	struct ip_pkt_l4 l4;
	if (!ip_pkt_l4(p, len, &l4) || l4.fragment || l4.routing ||
	    (l4.proto != IPPROTO_TCP && l4.proto != IPPROTO_UDP) || l4.off > l4.end)
		return -1;
	if (p[0] >> 4 == 4 && inet_csum_fold(inet_csum_add(0, p, l4.off)) != 0xffff)
		return 0;
	size_t n = l4.end - l4.off;
	uint64_t ph = p[0] >> 4 == 6 ? tun_csum_pseudo6(p, l4.proto, n) : tun_csum_pseudo4(p, l4.proto, n);
	return inet_csum_fold(inet_csum_add(ph, p + l4.off, n)) == 0xffff;
}

/* An ICMP error icmp_err built: within the size limits, checksums valid. */
static void check_icmp_error(const uint8_t *e, size_t n)
{
	struct ip_pkt_l4 l4;
	CHECK(ip_pkt_l4(e, n, &l4) && l4.end == n && !l4.fragment);
	if (e[0] >> 4 == 6) {
		CHECK(n <= ICMP_ERR_V6_MAX && l4.proto == IPPROTO_ICMPV6 && l4.off == 40);
		CHECK(inet_csum_fold(inet_csum_add(tun_csum_pseudo6(e, IPPROTO_ICMPV6, n - 40), e + 40, n - 40)) ==
		      0xffff);
	} else {
		CHECK(n <= ICMP_ERR_V4_MAX && l4.proto == IPPROTO_ICMP && l4.off == 20);
		CHECK(inet_csum_fold(inet_csum_add(0, e, 20)) == 0xffff);
		CHECK(inet_csum_fold(inet_csum_add(0, e + 20, n - 20)) == 0xffff);
	}
}

/* Bytes a packet contributes: headers once per emitted packet, so compare
 * only payload-free totals loosely: emitted never exceeds what went in. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t segmem[SEGS][HEAD + CAP];
	static uint8_t pkt[HEAD + 65536];
	uint8_t *outs[SEGS];
	size_t lens[SEGS];
	struct virtio_net_hdr vh;

	if (!ready) {
		CHECK(tun_co_init(&co) == 0);
		ready = true;
	}
	if (size < sizeof(vh))
		return 0;
	memcpy(&vh, data, sizeof(vh));
	data += sizeof(vh);
	size -= sizeof(vh);
	for (int i = 0; i < SEGS; i++)
		outs[i] = segmem[i] + HEAD;
	int n = tun_offload_split(&vh, data, size, outs, CAP, lens, SEGS);
	CHECK(n <= SEGS);
	for (int i = 0; i < n; i++) {
		CHECK(lens[i] <= CAP);
		/* A GSO split writes every header and checksum itself (the
		 * ECN bit alone is no GSO: the packet is copied as it is). */
		if ((vh.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE)
			CHECK(csum_ok(outs[i], lens[i]) != 0);
	}

	size_t in = 0;
	emitted = 0;
	while (size >= 2) {
		size_t len = (size_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		memcpy(pkt + HEAD, data, len);
		static uint8_t err[ICMP_ERR_V6_MAX];
		static const struct in_addr s4 = { 0x0100a8c0 };
		static const struct in6_addr s6 = { { { 0xfd, [15] = 1 } } };
		size_t e = icmp_err_too_big(err, sizeof(err), &s4, &s6, 100, pkt + HEAD, len);
		if (e)
			check_icmp_error(err, e);
		int before = csum_ok(pkt + HEAD, len);
		tun_clamp_mss_mtu(pkt + HEAD, len, 1280);
		CHECK(before != 1 || csum_ok(pkt + HEAD, len) == 1);
		tun_co_add(&co, pkt + HEAD, len, emit, NULL);
		in += len;
		data += len;
		size -= len;
	}
	tun_co_flush(&co, emit, NULL);
	CHECK(emitted <= in);
	return 0;
}
