/* ipopd's data path: packets between the TUN and the links, in batches.
 *
 *   send.c     TUN -> split super-packets -> prefix table (destination ->
 *              link) -> seal in place -> sendmmsg (UDP_SEGMENT trains)
 *   receive.c  recvmmsg (UDP_GRO trains) -> demultiplex by first byte
 *              (RFC 7983): STUN to the gathering base or an ICE agent,
 *              TURN ChannelData to the relay, tunnel packets to the links
 *              -> open in place -> cryptokey check (the inner source
 *              must be the sending link's in the prefix table) -> TUN
 *   icmp_out.c Packet Too Big / fragmentation needed back into the TUN
 *   offload.c  the TUN's vnet header and the buffers offloads need
 *   crypto_pool.c  optional workers that run a batch's AEADs in parallel
 *
 * Both families (docs/ipv6.md). It sees only what it needs: the link
 * table (sessions, index lookup), the prefix table (owned by the data
 * thread, filled by the daemon: each peer's /32 and /128 and the routes it
 * was authorised for), the bases (the socket, the relay) and social mode's
 * translation. Buffers are allocated once at start (the slots in one
 * mapping each, resident only where used); nothing is allocated per
 * packet. Data thread only. */
#ifndef IPOP_DATAPATH_H
#define IPOP_DATAPATH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "bases.h"
#include "crypto_pool.h"
#include "evloop.h"
#include "icmp_err.h"
#include "links.h"
#include "members.h"
#include "overlay.h"
#include "overlay_proto.h"
#include "node_conf.h"
#include "prefix_table.h"
#include "social.h"
#include "tun.h"
#include "tun_offload.h"
#include "tunnel_proto.h"

enum {
	DP_BATCH = 32,        /* datagrams per recvmmsg */
	DP_TX_SEGS = 128,     /* sealed datagrams per sendmmsg (a 64 KB TSO read is ~50) */
	DP_RX_JOBS = 128,     /* data datagrams opened in parallel at once */
	DP_GSO_SEGS = 64,     /* datagrams per UDP_SEGMENT send (the kernel's limit) */
	DP_GSO_BYTES = 65000, /* UDP payload bytes per UDP_SEGMENT send (< 65507) */
	DP_RX_GRO_CAP = 65536 + 64, /* rx buffer for one GRO'd UDP message */
	DP_HEADROOM = TUNNEL_DATA_HEADER_LEN,
	/* in front of a tx slot: an overlay frame header and the next hop's
	 * tunnel header (forward.c) */
	DP_OVL_ROOM = TUNNEL_DATA_HEADER_LEN + OVERLAY_FRAME_HDR_LEN,
	/* prefix table entries: every link's /32 and /128 and its routes */
	DP_PREFIXES = LINKS_MAX * (2 + SIGNAL_MAX_ROUTES),
	DP_ICMP_RATE = 10, /* ICMP errors per second into the TUN (RFC 4443 2.4(f)) */
	DP_ICMP_BURST = 10,
	DP_REPLIES = DP_BATCH, /* cookie replies sent at once (cookie_tx.c) */
};

/* A cookie reply waiting for the end of the receive batch. */
struct dp_reply {
	struct sockaddr_in dst;
	uint32_t base_id;
	uint8_t buf[TUNNEL_COOKIE_REPLY_LEN];
	union {
		char cbuf[64];
		size_t align;
	} c;
	struct iovec iov;
};

/* Frames this member passes on during one receive batch: they leave
 * together at its end (sendmmsg, equal-sized runs to one next hop as one
 * UDP_SEGMENT send), from the receive slots they came in (forward.c).
 * Room for a typical batch of GRO trains (~180 datagrams measured at
 * 2 Gbit/s through the forwarder): a full queue is sent mid-batch, which
 * cut runs short of DP_GSO_SEGS (64 here sent 55 datagrams a sendmmsg,
 * runs of ~44 and ~20). */
enum { DP_FWD_MAX = 256 };
struct dp_fwd_batch {
	struct mmsghdr msgs[DP_FWD_MAX];
	struct iovec iov[DP_FWD_MAX];
	struct sockaddr_in to[DP_FWD_MAX];
	union {
		char cbuf[64];
		size_t align;
	} c[DP_FWD_MAX];
	unsigned nmsg, niov;
	unsigned cnt; /* datagrams in the last message */
	uint32_t base;
	size_t size, bytes;
	bool closed; /* the last message's run ended with a shorter datagram */
};

/* One datagram's I/O slot, preallocated once. */
struct dp_slot {
	uint8_t *mem; /* the allocation; tx slots keep DP_OVL_ROOM in front of buf */
	uint8_t *buf; /* DP_HEADROOM + payload + tag room */
	size_t len;
	struct sockaddr_in addr;
	uint32_t base_id;
	union {
		char cbuf[64]; /* >= CMSG_SPACE(in_pktinfo) + CMSG_SPACE(uint16_t) */
		size_t align; /* cmsghdr alignment */
	} c;
	struct iovec iov;
};

/* A received data datagram whose AEAD runs in the pool. */
struct dp_rx_pend {
	struct link *link;
	uint8_t *buf;
	size_t len;
	struct sockaddr_in addr;
	uint32_t base_id;
};

struct dp_overlay_counters {
	uint64_t out;        /* packets we sent through the overlay */
	uint64_t in;         /* frames for us */
	uint64_t forwarded;  /* frames we passed on */
	uint64_t ttl_expired, no_hop, nested, off; /* dropped */
	uint64_t sessions;   /* links through the overlay created */
};

struct dp_counters {
	uint64_t tun_rx, tun_rx_bad, tun_tx, tun_tx_err;
	uint64_t no_route, no_key;
	uint64_t udp_rx, udp_rx_trunc, udp_tx, udp_tx_err;
	uint64_t stun_unmatched, tunnel_bad, cryptokey_drop;
	uint64_t tun_split_bad, udp_gso_sends;
	struct dp_overlay_counters ovl;
	uint64_t link_local;   /* IPv6 link-local, multicast, NDP: kept off the overlay */
	uint64_t too_big;      /* TUN packets larger than the tunnel's MTU (dropped) */
	uint64_t icmp_too_big; /* Packet Too Big / fragmentation needed written back */
};

struct datapath {
	const struct node_conf *conf;
	struct tun tun;
	struct links *links;
	struct bases *bases;
	struct social *social; /* NULL in group mode */
	struct overlay *ov;    /* GroupVPN's overlay (NULL in social mode) */
	struct members *members;
	uint8_t ovl_rx_hops;   /* hops of the frame being received (forward.c) */
	struct evloop *loop;
	struct prefix_table pt;  /* cryptokey routing, both families (prefix_table.h) */
	struct icmp_err_limit icmp_limit;

	size_t slot_cap; /* tx, staging and relay slots: one MTU-sized packet */
	size_t rx_cap;   /* rx slots: 64 KB with UDP_GRO, else slot_cap */
	struct dp_slot rx[DP_BATCH], tx[DP_TX_SEGS];
	uint8_t *rx_slab, *tx_slab; /* the slots' buffers, one mapping each */
	size_t rx_slab_len, tx_slab_len;
	struct mmsghdr rx_msgs[DP_BATCH], tx_msgs[DP_TX_SEGS];
	struct iovec tx_iov[DP_TX_SEGS]; /* datagram i of a sendmmsg batch */
	struct dp_fwd_batch fwd;
	/* offloads (tun_offload.h): TUN super-packets, UDP GSO/GRO */
	uint8_t *tun_rbuf; /* one TUN read: virtio_net_hdr + up to 64 KB */
	struct tun_coalescer co;
	uint8_t *bcast_buf; /* social_broadcast: one sealed copy per friend */

	/* crypto workers (crypto_pool.h); with none, everything runs inline.
	 * Jobs of the open send batch and of the receive batch. */
	struct cpool cpool;
	struct tunnel_crypt_job tx_jobs[DP_TX_SEGS];
	unsigned ntx_jobs;
	struct tunnel_crypt_job rx_jobs[DP_RX_JOBS];
	struct dp_rx_pend rx_pend[DP_RX_JOBS];
	unsigned nrx_jobs;
	struct dp_reply replies[DP_REPLIES];
	struct mmsghdr reply_msgs[DP_REPLIES];
	unsigned nreplies;

	/* When the datagrams being handled arrived (CLOCK_MONOTONIC, us): read
	 * once per recvmmsg batch, for round-trip times (link_probe_rx). */
	uint64_t rx_us;
	bool in_rx_batch;

	struct dp_counters cnt;
};

/* The TUN device (configured and up) and the buffers. 0 or -errno. */
int dp_open(struct datapath *dp, const struct node_conf *conf, struct links *links);
/* Once the bases exist: the UDP and TUN fds on the loop, crypto workers. */
int dp_start(struct datapath *dp, struct bases *bases, struct social *social, struct overlay *ov,
	     struct members *members, struct evloop *loop);
void dp_close(struct datapath *dp);
/* The largest tunnel datagram (headroom + MTU + tag). */
size_t dp_slot_cap(const struct node_conf *conf);

/* send.c: the TUN is readable. */
void dp_send_from_tun(struct datapath *dp, uint64_t now_ms);
/* receive.c: the socket is readable; a datagram our relay unwrapped. */
void dp_receive_udp(struct datapath *dp, uint64_t now_ms);
void dp_receive_relayed(struct datapath *dp, uint32_t base_id, const struct sockaddr_in *from, uint8_t *buf,
			size_t len, size_t cap, uint64_t now_ms);
/* Writes the TCP segments the coalescer holds to the TUN (the end of a
 * receive batch, of a relay stream read, of a loop round). */
void dp_tun_flush(struct datapath *dp);

/* cookie_tx.c: cookie replies, sent together at the end of a batch. */
void dp_reply_queue(struct datapath *dp, const struct link_tx *tx);
void dp_reply_flush(struct datapath *dp);

/* forward.c: the overlay. dp_overlay_wrap turns a sealed end-to-end
 * packet of a link through the overlay (*buf, *len; DP_OVL_ROOM writable
 * bytes in front) into a frame sealed for the next hop, and returns that
 * hop (NULL: dropped and counted). */
struct link *dp_overlay_wrap(struct datapath *dp, struct link *e, uint8_t **buf, size_t *len, size_t cap,
			     uint64_t now_ms);
/* One datagram of a link through the overlay, sent now (handshakes,
 * keepalives, staged packets). */
int dp_overlay_send(struct datapath *dp, struct link *e, const uint8_t *data, size_t len, uint64_t now_ms);
/* A frame that arrived as the payload of a packet from link `from`
 * (frame at buf + TUNNEL_DATA_HEADER_LEN, len bytes): for us, or passed on. */
void dp_overlay_in(struct datapath *dp, struct link *from, uint8_t *buf, size_t len, uint64_t now_ms);
/* send.c: sendmmsg of msgs[0..cnt), failures dropped and counted. */
void dp_send_msgs(struct datapath *dp, struct mmsghdr *msgs, unsigned cnt);
/* Sends the frames passed on during this receive batch (before its slots
 * are reused). */
void dp_overlay_flush(struct datapath *dp);
/* The link through the overlay to the member whose presence named dst
 * (family AF_INET or AF_INET6; created on the first packet), or NULL. */
struct link *dp_overlay_link(struct datapath *dp, int family, const void *dst, uint64_t now_ms);
/* The same for member m (NULL: none). */
struct link *dp_overlay_member(struct datapath *dp, const struct member *m, uint64_t now_ms);
/* A routed link without a path of its own (offered, checking, failed):
 * when the overlay has a next hop toward its member, it gets the overlay
 * as its path (links_overlay), so that the packet goes now instead of
 * waiting on a link whose set-up may never end (its peer dropped it). */
void dp_overlay_detour(struct datapath *dp, struct link *p, uint64_t now_ms);
/* receive.c: an end-to-end tunnel packet that came through the overlay. */
void dp_receive_overlay(struct datapath *dp, uint8_t *buf, size_t len, size_t cap, uint64_t now_ms);
/* icmp_out.c: pkt (len bytes, read from the TUN) is larger than the
 * tunnel's MTU: dropped and counted; an ICMPv6 Packet Too Big or an ICMPv4
 * "fragmentation needed" (DF set) goes back into the TUN, rate-limited. */
void dp_too_big(struct datapath *dp, const uint8_t *pkt, size_t len, uint64_t now_ms);

/* offload.c */
int dp_offload_tun_open(struct datapath *dp, const char *name);
int dp_offload_alloc(struct datapath *dp);
void dp_offload_free(struct datapath *dp);

#endif
