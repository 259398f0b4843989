/* ipopd's daemon state, shared by node.c (threads and the loop), peer.c,
 * send.c, receive.c and gather.c. See the top of node.c for the design. */
#ifndef IPOP_NODE_H
#define IPOP_NODE_H

#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "crypto_pool.h"
#include "friends.h"
#include "ice_cand.h"
#include "node_conf.h"
#include "noise.h"
#include "peer.h"
#include "relay.h"
#include "routing.h"
#include "signal_msg.h"
#include "social_map.h"
#include "stun_client.h"
#include "tun.h"
#include "tun_offload.h"
#include "tunnel_proto.h"
#include "xmpp_signal.h"

enum {
	NODE_MAX_PEERS = 64,
	NODE_MAX_HOSTS = 8,   /* host candidates (IPv4 interface addresses) */
	NODE_BATCH = 32,      /* packets per recvmmsg/sendmmsg */
	NODE_TX_SEGS = 128,
	NODE_RX_JOBS = 128,   /* data datagrams opened in parallel at once */   /* sealed datagrams per sendmmsg (a 64 KB TSO read is ~50) */
	NODE_GSO_SEGS = 64,   /* datagrams per UDP_SEGMENT send (the kernel's limit) */
	NODE_GSO_BYTES = 65000, /* UDP payload bytes per UDP_SEGMENT send (< 65507) */
	NODE_RX_GRO_CAP = 65536 + 64, /* rx buffer for one GRO'd UDP message */
	NODE_HEADROOM = TUNNEL_DATA_HEADER_LEN,
	NODE_STUN_RETRY_MS = 30000, /* after every STUN server failed */
	NODE_GONE_GRACE_MS = 5000,  /* unavailable presence -> link teardown */
	NODE_SRFLX_REFRESH_MS = 20000, /* STUN binding again (-20% jitter) */
	NODE_NETMON_SETTLE_MS = 200, /* address events are handled this long after the last */
};

/* One host candidate; its index is the ICE base id. */
struct node_host {
	struct sockaddr_in addr; /* port = the UDP socket's port */
	char ifname[IFNAMSIZ];
};

/* Items moved between the signalling thread and the data thread. */
enum sig_item_kind {
	SIG_PEER_UP = 1, SIG_PEER_DOWN, SIG_MESSAGE, SIG_STATE, SIG_SEND,
	SIG_PEER_REVOKED, /* no longer authorized: end the link now */
	SIG_FRIEND,       /* a friend event: state = ev | sub << 4 | ask << 8 */
	SIG_FRIEND_CMD,   /* to the signalling thread: state = enum xmpp_friend_cmd */
};
struct sig_item {
	struct sig_item *next;
	enum sig_item_kind kind;
	int state;                  /* SIG_STATE: enum xmpp_sig_state; SIG_FRIEND_CMD: the command */
	enum xmpp_friend_ev fr_ev;  /* SIG_FRIEND */
	enum roster_sub fr_sub;     /* SIG_FRIEND */
	bool fr_ask;                /* SIG_FRIEND */
	char jid[XMPP_JID_MAX];
	size_t len;
	char body[]; /* NUL-terminated */
};
struct sig_queue {
	pthread_mutex_t mu;
	struct sig_item *head, *tail;
};

/* Per-datagram I/O slots, preallocated once. */
/* A received data datagram whose AEAD runs in the pool (receive.c). */
struct node_rx_pend {
	struct peer *peer;
	uint8_t *buf;
	size_t len;
	struct sockaddr_in addr;
	uint32_t base_id;
};

struct node_slot {
	uint8_t *buf; /* NODE_HEADROOM + payload + tag room */
	size_t len;
	struct sockaddr_in addr;
	uint32_t base_id;
	union {
		char cbuf[64]; /* >= CMSG_SPACE(sizeof(struct in_pktinfo)) */
		size_t align; /* cmsghdr alignment */
	} c;
	struct iovec iov;
	struct peer *peer;
};

struct node_counters {
	uint64_t tun_rx, tun_rx_bad, tun_tx, tun_tx_err;
	uint64_t no_route, no_key;
	uint64_t udp_rx, udp_rx_trunc, udp_tx, udp_tx_err;
	uint64_t stun_unmatched, tunnel_bad, tunnel_unknown_index, cryptokey_drop;
	uint64_t hs_rejected, sig_bad, sig_not_for_us;
	uint64_t xlate_drop; /* social mode: packets that could not be translated */
	uint64_t bcast_tx, bcast_rx; /* social_broadcast: packets sent to / taken from friends */
	uint64_t tun_split_bad, udp_gso_sends;
};

struct ctl_server;

struct node {
	struct node_conf *conf;
	struct noise_keypair kp;
	struct noise_local noise;
	uint8_t id[SIGNAL_ID_LEN];
	char idhex[2 * SIGNAL_ID_LEN + 1];
	char resource[8 + 2 * SIGNAL_ID_LEN];
	uint16_t udp_port_conf;

	struct tun tun;
	int udp_fd, epfd, timerfd, evfd;
	uint16_t udp_port;
	atomic_bool stop;
	atomic_bool sig_stop; /* set after the last messages (bye) are queued */

	/* candidates */
	unsigned nhosts;
	struct node_host hosts[NODE_MAX_HOSTS];
	bool have_srflx;
	struct sockaddr_in srflx;
	uint32_t srflx_base;
	struct stun_client stun;
	bool stun_running;
	unsigned stun_first, stun_tried; /* random start index, servers tried */
	struct sockaddr_in stun_server;
	uint64_t stun_retry_ms;
	bool stun_timed_out; /* the last round: every STUN server was silent */
	struct relay relay;
	bool stun_refresh; /* stun_retry_ms is a refresh to the same server */

	/* netmon.c: rtnetlink address/link events */
	int nl_fd;
	uint64_t netmon_due_ms; /* gather hosts again at this time (0: none) */

	/* links */
	unsigned npeers;
	struct peer *peers[NODE_MAX_PEERS];
	struct routing rt;
	struct peer *idx_cache; /* last peer a data packet was routed to */
	bool social;            /* mode "social": translate, route by mapped address */
	struct social_map smap; /* social: friend -> address in our subnet */
	uint8_t *bcast_buf;     /* social_broadcast: one sealed copy per friend */
	int dns_fd;             /* social_dns: UDP ip4:53, or -1 */
	uint64_t dns_queries;
	struct friends friends; /* roster contacts and requests, for ipopctl */

	/* signalling */
	pthread_t sig_thread;
	bool sig_started;
	struct xmpp_sig *sig; /* owned by the signalling thread */
	struct sig_queue inq, outq;
	atomic_int xmpp_state;
	atomic_bool xmpp_probe; /* data thread -> signalling: check the connection */
	unsigned xmpp_epoch; /* data thread: bumped whenever XMPP leaves "online" */

	/* data path */
	size_t slot_cap;  /* tx and staging slots: one MTU-sized packet */
	size_t rx_cap;    /* rx slots: 64 KB with UDP_GRO, else slot_cap */
	struct node_slot rx[NODE_BATCH], tx[NODE_TX_SEGS];
	struct mmsghdr rx_msgs[NODE_BATCH], tx_msgs[NODE_TX_SEGS];
	struct iovec tx_iov[NODE_TX_SEGS]; /* datagram i of a sendmmsg batch */
	/* offloads (tun_offload.h): TUN super-packets, UDP GSO/GRO */
	uint8_t *tun_rbuf; /* one TUN read: virtio_net_hdr + up to 64 KB */
	bool udp_gso, udp_gro;
	struct tun_coalescer co;
	uint8_t *ctl_buf; /* scratch for STUN/handshake datagrams */
	size_t ctl_cap;

	/* crypto workers (crypto_pool.h); with none, everything runs inline
	 * as before. Jobs of the open send batch and the receive batch. */
	struct cpool cpool;
	struct tunnel_crypt_job tx_jobs[NODE_TX_SEGS];
	unsigned ntx_jobs;
	struct tunnel_crypt_job rx_jobs[NODE_RX_JOBS];
	struct node_rx_pend rx_pend[NODE_RX_JOBS];
	unsigned nrx_jobs;
	bool rx_defer; /* receive.c: the datagram in dispatch may wait */

	struct node_counters cnt;
	uint64_t start_ms;
	struct ctl_server *ctl;
};

uint64_t node_now_ms(void);
uint64_t node_wall_ns(void);

/* node.c */
int node_init(struct node *n, struct node_conf *conf, uint16_t udp_port);
int node_run(struct node *n);
void node_free(struct node *n);
void node_request_stop(struct node *n);
void node_hex(const uint8_t *b, size_t len, char *out);
/* Queues a signalling message for the signalling thread. */
void node_signal_send(struct node *n, const char *jid, const struct signal_msg *m);
struct peer *node_peer_by_jid(struct node *n, const char *jid);
struct noise_peer *node_noise_lookup(void *ctx, const uint8_t static_pub[NOISE_KEY_LEN]);
uint32_t node_new_index(struct node *n);
void node_remove_peer(struct node *n, struct peer *p, const char *why);
/* Queues a friends command for the signalling thread. */
void node_friend_cmd(struct node *n, enum xmpp_friend_cmd cmd, const char *bare);

/* gather.c */
int gather_hosts(struct node *n);
void gather_stun_start(struct node *n, uint64_t now_ms);
/* STUN binding again to the server that answered last (NAT changes). */
void gather_stun_refresh(struct node *n, uint64_t now_ms);
/* A datagram from a STUN server; true when consumed. */
bool gather_stun_input(struct node *n, const struct sockaddr_in *from, uint32_t base_id, const uint8_t *buf,
		       size_t len, uint64_t now_ms);
void gather_tick(struct node *n, uint64_t now_ms);
uint64_t gather_deadline(const struct node *n);
/* Local candidates for an ICE agent: hosts, then srflx. */
unsigned gather_local_cands(const struct node *n, struct ice_cand *out, unsigned max);
/* Base id whose address is `local` (the destination of a received packet). */
uint32_t gather_base_of(const struct node *n, struct in_addr local);

/* send.c */
void send_from_tun(struct node *n, uint64_t now_ms);
/* One datagram from base_id to dst (STUN, handshakes, keepalives). */
int node_udp_send(struct node *n, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf,
		  size_t len);

/* netmon.c: watches IPv4 addresses and links with rtnetlink; a change
 * gathers the host candidates again and restarts ICE on every link. */
int netmon_open(struct node *n);
void netmon_input(struct node *n, uint64_t now_ms);
void netmon_tick(struct node *n, uint64_t now_ms);
uint64_t netmon_deadline(const struct node *n);
void netmon_close(struct node *n);

/* offload.c */
bool node_offload_wanted(void);
int node_offload_tun_open(struct node *n, const char *name);
void node_offload_udp(struct node *n); /* after the UDP socket is open */
int node_offload_alloc(struct node *n);
void node_offload_free(struct node *n);

/* receive.c */
void receive_udp(struct node *n, uint64_t now_ms);
/* One datagram (s->buf, s->len from s->addr on base s->base_id), from the
 * socket or unwrapped from the relay: tunnel or STUN. */
void receive_datagram(struct node *n, struct node_slot *s, uint64_t now_ms);
/* Writes the TCP segments the coalescer holds to the TUN (the end of a
 * receive batch, of a relay stream read, of an epoll round). */
void node_tun_flush(struct node *n);

#endif
