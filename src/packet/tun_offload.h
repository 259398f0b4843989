/* TUN offloads, pure functions (no I/O): with IFF_VNET_HDR and
 * TUNSETOFFLOAD the kernel hands ipopd TCP/UDP "super-packets" of up to
 * 64 KB with a virtio_net_hdr in front and the L4 checksum left partial,
 * and accepts such super-packets back. ipopd must carry MTU-sized packets
 * across the tunnel, so:
 *
 *  - tun_offload_split turns one packet read from the TUN into packets of
 *    at most gso_size payload bytes, each with complete IPv4 or IPv6, TCP
 *    or UDP headers and checksums (TSO4 / TSO6 / USO4 / USO6 / CSUM),
 *    before they are sealed;
 *  - tun_coalescer merges decrypted in-order TCP segments of one flow back
 *    into a super-packet (GSO_TCPV4 / GSO_TCPV6, checksum partial) so one
 *    TUN write hands the kernel's TCP up to 64 KB.
 *
 * Both families: IPv4 segments get their ids (first + i) and header
 * checksum; IPv6 segments their payload length (IPv6 has neither id nor
 * header checksum). The IPv6 transport checksum uses the RFC 8200 8.1
 * pseudo-header. IPv6 extension headers (hop-by-hop, destination options)
 * are copied into every segment; a GSO packet with a routing header (its
 * pseudo-header would need the final destination) or a fragment header is
 * refused (-EINVAL). The coalescer merges only IPv6 packets without
 * extension headers and IPv4 packets without options; anything else passes
 * alone.
 *
 * Checksums are trusted after decryption: a data packet authenticated, so
 * its bytes are what the peer's ipopd sealed, and that ipopd computed the
 * checksums (split) or got them from its kernel. */
#ifndef IPOP_TUN_OFFLOAD_H
#define IPOP_TUN_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Debian 12's kernel headers (6.1) predate UDP segmentation offload. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

enum {
	TUN_VNET_HDR_LEN = sizeof(struct virtio_net_hdr), /* 10 */
	TUN_GSO_MAX = 65535,      /* largest packet read or coalesced (IPv4's total length field) */
	TUN_CO_FLOWS = 8,         /* TCP flows coalesced at once */
};

/* The IPv4 pseudo-header (addresses from the header at ip) for an L4
 * length. */
uint64_t tun_csum_pseudo4(const uint8_t *ip, uint8_t proto, size_t l4_len);
/* The IPv6 pseudo-header (RFC 8200 8.1: source, destination, 32-bit
 * upper-layer length, next header) from the header at ip. */
uint64_t tun_csum_pseudo6(const uint8_t *ip, uint8_t proto, size_t l4_len);

/* Splits vh + pkt[0..len) into packets written to outs[i][0..lens[i]),
 * each buffer cap bytes. A packet without GSO is copied (its partial
 * checksum completed when VIRTIO_NET_HDR_F_NEEDS_CSUM is set). Returns the
 * number of packets, or -EINVAL (malformed), -ENOBUFS (more than max
 * packets or one larger than cap), -EPROTONOSUPPORT (GSO type not offered). */
int tun_offload_split(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len, uint8_t *const *outs,
		      size_t cap, size_t *lens, unsigned max);

/* MSS clamping: when pkt is an IPv4 TCP SYN whose MSS option exceeds
 * max_mss, lowers it and patches the checksum (RFC 1624). Returns true
 * when it changed the packet. Anything else (IPv6 included) is left
 * alone. */
bool tun_clamp_mss(uint8_t *pkt, size_t len, uint16_t max_mss);
/* The same for both families, from the tunnel's MTU: an IPv4 SYN's MSS is
 * lowered to mtu - 40, an IPv6 SYN's (extension headers skipped) to
 * mtu - 60. A later fragment is left alone. */
bool tun_clamp_mss_mtu(uint8_t *pkt, size_t len, unsigned mtu);

/* Called with a packet for the TUN: hdr points at TUN_VNET_HDR_LEN bytes
 * of virtio_net_hdr immediately followed by the packet; total = header +
 * packet bytes. */
typedef void (*tun_emit_fn)(void *ctx, uint8_t *hdr, size_t total);

struct tun_co_flow {
	uint8_t *buf;     /* virtio_net_hdr + packet; NULL until allocated */
	size_t len;       /* packet bytes; 0 = free */
	size_t l3;        /* IP header bytes: 20 (IPv4) or 40 (IPv6) */
	size_t hdrs;      /* IP + TCP header bytes */
	size_t mss;       /* payload of the first segment */
	unsigned nseg;
	uint32_t next_seq;
	bool closed;      /* a short or PSH segment ended it */
};

struct tun_coalescer {
	struct tun_co_flow flows[TUN_CO_FLOWS];
	size_t cap;       /* bytes of each flow buffer */
	unsigned next_victim;
	uint64_t merged, passed; /* segments merged into a flow / written alone */
};

/* Buffers are allocated here once (TUN_CO_FLOWS x (header + 64 KB)).
 * Returns 0 or -ENOMEM. */
int tun_co_init(struct tun_coalescer *c);
void tun_co_free(struct tun_coalescer *c);
/* Adds one decrypted packet. The TUN_VNET_HDR_LEN bytes before pkt must
 * be writable (a packet that cannot be coalesced is emitted in place with
 * a zero header there). A TCP data segment is copied into its flow; a flow
 * is emitted when the segment does not continue it, when it is full, or by
 * tun_co_flush. Packets of one flow keep their order. */
void tun_co_add(struct tun_coalescer *c, uint8_t *pkt, size_t len, tun_emit_fn emit, void *ctx);
/* Emits every held flow (end of a receive batch). */
void tun_co_flush(struct tun_coalescer *c, tun_emit_fn emit, void *ctx);

#endif
