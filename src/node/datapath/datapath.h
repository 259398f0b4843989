/* ipopd's data path: packets between the TUN and the links, in batches.
 *
 *   send.c     TUN -> split super-packets -> routing table -> seal in
 *              place -> sendmmsg (UDP_SEGMENT trains to one peer)
 *   receive.c  recvmmsg (UDP_GRO trains) -> demultiplex by first byte
 *              (RFC 7983): STUN to the gathering base or an ICE agent,
 *              TURN ChannelData to the relay, tunnel packets to the links
 *              -> open in place -> cryptokey check -> coalesce -> TUN
 *   offload.c  the TUN's vnet header and the buffers offloads need
 *   crypto_pool.c  optional workers that run a batch's AEADs in parallel
 *
 * It sees only what it needs: the link table (sessions, index lookup),
 * the routing table, the bases (the socket, the relay) and social mode's
 * translation. Buffers are allocated once at start; nothing is allocated
 * per packet. Data thread only. */
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
#include "links.h"
#include "node_conf.h"
#include "routing.h"
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

/* One datagram's I/O slot, preallocated once. */
struct dp_slot {
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

struct dp_counters {
	uint64_t tun_rx, tun_rx_bad, tun_tx, tun_tx_err;
	uint64_t no_route, no_key;
	uint64_t udp_rx, udp_rx_trunc, udp_tx, udp_tx_err;
	uint64_t stun_unmatched, tunnel_bad, cryptokey_drop;
	uint64_t tun_split_bad, udp_gso_sends;
};

struct datapath {
	const struct node_conf *conf;
	struct tun tun;
	struct links *links;
	struct bases *bases;
	struct social *social; /* NULL in group mode */
	struct evloop *loop;
	struct routing rt;

	size_t slot_cap; /* tx, staging and relay slots: one MTU-sized packet */
	size_t rx_cap;   /* rx slots: 64 KB with UDP_GRO, else slot_cap */
	struct dp_slot rx[DP_BATCH], tx[DP_TX_SEGS];
	struct mmsghdr rx_msgs[DP_BATCH], tx_msgs[DP_TX_SEGS];
	struct iovec tx_iov[DP_TX_SEGS]; /* datagram i of a sendmmsg batch */
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

	struct dp_counters cnt;
};

/* The TUN device (configured and up) and the buffers. 0 or -errno. */
int dp_open(struct datapath *dp, const struct node_conf *conf, struct links *links);
/* Once the bases exist: the UDP and TUN fds on the loop, crypto workers. */
int dp_start(struct datapath *dp, struct bases *bases, struct social *social, struct evloop *loop);
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

/* offload.c */
int dp_offload_tun_open(struct datapath *dp, const char *name);
int dp_offload_alloc(struct datapath *dp);
void dp_offload_free(struct datapath *dp);

#endif
