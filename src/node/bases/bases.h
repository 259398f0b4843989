/* The node's bases: where its datagrams leave from and what it knows about
 * its own reachability. One UDP socket (shared by ICE checks, STUN and the
 * tunnel, so the NAT mapping ICE found is the one data uses) with one base
 * per host address; the server-reflexive address learned from a STUN
 * server; a TURN allocation (relay.h); rtnetlink watching the addresses.
 *
 * Bases report to the daemon through bases_ops instead of reaching into
 * links: the local candidates changed, the addresses moved, the relay
 * died or came back, a relayed datagram arrived. */
#ifndef IPOP_BASES_H
#define IPOP_BASES_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "evloop.h"
#include "ice_cand.h"
#include "link_base.h"
#include "node_conf.h"
#include "portpool.h"
#include "relay.h"
#include "stun_client.h"

enum {
	/* The servers: config.json's, then the XMPP server's (XEP-0215). */
	BASES_MAX_STUN = 16,
	BASES_MAX_TURN = 16,
	BASES_HOST_LEN = 256,
	BASES_CRED_LEN = 128,
	BASES_STUN_RETRY_MS = 30000,   /* after every STUN server failed */
	BASES_SRFLX_REFRESH_MS = 20000, /* STUN binding again (-20% jitter) */
	BASES_NETMON_SETTLE_MS = 200,  /* address events are handled this long after the last */
};

struct bases_ops {
	void *ctx;
	/* The local candidates changed (srflx learned, relay allocated). */
	void (*cands_changed)(void *ctx, uint64_t now_ms);
	/* The node's addresses moved: remap[i] is the new base of old host
	 * base i (NULL: host bases unchanged). */
	void (*moved)(void *ctx, const uint32_t *remap, unsigned nremap, const char *why, uint64_t now_ms);
	/* The TURN allocation on base_id died (relay.h's failover is on). */
	void (*relay_lost)(void *ctx, uint32_t base_id, uint64_t now_ms);
	/* The relay has a new allocation, or none is to be had for now. */
	void (*relay_settled)(void *ctx, uint64_t now_ms);
	/* The relay wants the remote addresses links may send to
	 * (bases_relay_sync). */
	void (*relay_sync)(void *ctx, uint64_t now_ms);
	/* A datagram that came through our TURN allocation: buf has cap bytes
	 * of room and may be changed in place. */
	void (*relayed)(void *ctx, uint32_t base_id, const struct sockaddr_in *from, uint8_t *buf, size_t len,
			size_t cap, uint64_t now_ms);
	/* A datagram on a port-pool socket (portpool.h), the same way. */
	void (*pool_rx)(void *ctx, uint32_t base_id, const struct sockaddr_in *from, uint8_t *buf, size_t len,
			size_t cap, uint64_t now_ms);
	/* natkind.c found out how our NAT maps (or that it changed). */
	void (*nat_kind)(void *ctx, uint64_t now_ms);
};

/* A STUN server (or a TURN server asked for STUN). */
struct bases_stun_srv {
	char host[BASES_HOST_LEN];
	uint16_t port;
	bool discovered; /* from the XMPP server */
};

/* A TURN server the relay may allocate on, with the credentials to use
 * for the next allocation (servers.c merges config.json and XEP-0215). */
struct bases_turn_srv {
	char host[BASES_HOST_LEN];
	uint16_t port;
	enum node_turn_transport transport;
	char user[BASES_CRED_LEN], pass[BASES_CRED_LEN]; /* "": none yet */
	const char *ca_file;      /* config.json's, or NULL */
	bool discovered;          /* the XMPP server listed it */
	bool creds_discovered;    /* its credentials are the XMPP server's */
	int64_t expires;          /* Unix time the credentials expire (0: never) */
};

/* One service the XMPP server listed, as the daemon hands it over. */
struct bases_disc {
	bool turn;
	char host[BASES_HOST_LEN];
	uint16_t port;
	enum node_turn_transport transport;
	char user[BASES_CRED_LEN], pass[BASES_CRED_LEN];
	int64_t expires;
};

struct bases_host {
	struct sockaddr_in addr; /* port = the UDP socket's port */
	char ifname[IFNAMSIZ];
};

struct bases_counters {
	uint64_t udp_tx, udp_tx_err;
	uint64_t udp_df_switches; /* IP_MTU_DISCOVER changes for DF datagrams (udp.c) */
	uint64_t relay_rx_trunc; /* relayed datagrams too big for a slot */
};

struct bases {
	const struct node_conf *conf;
	bool started; /* bases_start ran: STUN and the relay may go */
	char tun_name[IFNAMSIZ];
	struct evloop *loop;
	struct bases_ops ops;
	size_t slot_cap;  /* the largest tunnel datagram */

	/* udp.c: the socket and its host addresses (base id = index) */
	int udp_fd;
	int udp_pmtudisc; /* the socket's IP_MTU_DISCOVER mode (DF sends restore it) */
	bool udp_df_on;   /* the socket is in IP_PMTUDISC_PROBE for DF datagrams */
	bool udp_tx_batch; /* between bases_tx_begin and bases_tx_end */
	uint16_t udp_port;
	bool udp_gso, udp_gro;
	unsigned nhosts;
	struct bases_host hosts[LINK_MAX_HOSTS];

	/* gather.c: the server-reflexive address */
	bool have_srflx;
	struct sockaddr_in srflx;
	uint32_t srflx_base;
	struct stun_client stun;
	bool stun_running;
	unsigned stun_first, stun_tried; /* random start index, servers tried */
	struct sockaddr_in stun_server;
	uint64_t stun_retry_ms;
	bool stun_timed_out; /* the last round: every STUN server was silent */
	bool stun_refresh;   /* stun_retry_ms is a refresh to the same server */

	/* netmon.c: rtnetlink address/link events */
	int nl_fd;
	uint64_t netmon_due_ms; /* gather hosts again at this time (0: none) */

	/* servers.c: STUN and TURN servers, config.json's and discovered */
	unsigned nstun, nturn;
	struct bases_stun_srv stun_srv[BASES_MAX_STUN];
	struct bases_turn_srv turn_srv[BASES_MAX_TURN];

	/* natkind.c: is our mapping the same toward every destination? */
	enum bases_nat { BASES_NAT_UNKNOWN = 0, BASES_NAT_EASY, BASES_NAT_HARD } nat;
	struct stun_client stun2; /* a second Binding, to another server address */
	bool stun2_running;
	struct sockaddr_in stun2_server;

	struct relay relay;
	struct portpool pool;
	struct bases_counters cnt;
};

/* bases.c: the whole set. bases_open: socket, hosts, relay, netmon, with
 * their fds registered on loop. */
int bases_open(struct bases *b, const struct node_conf *conf, const char *tun_name, struct evloop *loop,
	       size_t slot_cap, uint16_t udp_port, const struct bases_ops *ops);
void bases_close(struct bases *b);
/* Starts STUN and the relay (after the signalling thread is up). */
void bases_start(struct bases *b, uint64_t now_ms);
void bases_handle_timeout(struct bases *b, uint64_t now_ms);
uint64_t bases_next_deadline(const struct bases *b);
/* One datagram from base_id to dst: the socket, or the relay for a relay
 * base. Returns 0 or -errno. */
int bases_send(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len);
/* The same with an IP TTL (0: default; relayed sends ignore it) and DF
 * (on the datagram that leaves the node, relayed or not). */
int bases_send_opt(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len,
		   uint8_t ttl, bool df);
/* Sends between these two share the socket's DF switch: consecutive DF
 * datagrams (ICE checks, consent checks and their answers, padded to full
 * size) leave under one IP_PMTUDISC_PROBE, set before the first and
 * restored before the next datagram without DF or at bases_tx_end,
 * instead of two setsockopt calls around each one. Outside a batch every
 * DF send restores the socket's mode at once. The datapath's own sends
 * (sendmmsg) happen outside batches and always see the socket's mode. */
void bases_tx_begin(struct bases *b);
void bases_tx_end(struct bases *b);
/* The socket's own mode now, in a batch or not: before a send that does
 * not go through bases_send_opt (the datapath's sendmmsg). */
void bases_tx_plain(struct bases *b);
/* Local candidates for ICE agents: hosts, then srflx, then relayed. */
unsigned bases_local_cands(const struct bases *b, struct ice_cand *out, unsigned max);
/* The remote addresses links want the relay to reach (non-host first). */
void bases_relay_sync(struct bases *b, const struct sockaddr_in *addrs, unsigned n, uint64_t now_ms);

/* natkind.c: the NAT's mapping kind, from the server-reflexive address
 * seen by two server addresses (the STUN server's RFC 5780 OTHER-ADDRESS,
 * another STUN server, or the TURN server's view of our address). */
void natkind_srflx(struct bases *b, uint64_t now_ms);
/* Another server saw us from `mapped` (the relay's allocation). */
void natkind_seen(struct bases *b, const struct sockaddr_in *server, const struct sockaddr_in *mapped,
		  uint64_t now_ms);
bool natkind_input(struct bases *b, const struct sockaddr_in *from, const uint8_t *buf, size_t len, uint64_t now_ms);
void natkind_tick(struct bases *b, uint64_t now_ms);
uint64_t natkind_deadline(const struct bases *b);
const char *natkind_name(enum bases_nat k);

/* servers.c */
/* The servers of config.json (at open). */
void servers_from_conf(struct bases *b);
/* The XMPP server's services (XEP-0215) replace the ones it gave before:
 * STUN servers are added to config.json's; a TURN server that config.json
 * lists too (same host, port and transport) takes the discovered
 * credentials only when config.json gives none; others are added after
 * config.json's. The relay and STUN gathering start or move on. */
void bases_set_discovered(struct bases *b, const struct bases_disc *d, unsigned n, uint64_t now_ms);

/* udp.c */
/* IPOP_OFFLOAD=0 in the environment turns UDP and TUN offloads off (A/B
 * benchmarks, or a kernel that misbehaves). */
bool udp_offload_wanted(void);
int udp_open(struct bases *b, uint16_t port);
void udp_close(struct bases *b);
/* The control messages of a send from base_id (IP_PKTINFO for a host base)
 * and, when gso is not 0, its segment size; written to cbuf (>= 64 bytes). */
void udp_set_cmsgs(const struct bases *b, struct msghdr *mh, char *cbuf, size_t cbuf_cap, uint32_t base_id,
		   uint16_t gso);
int udp_send_one(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len);
/* The same with an IP TTL (0: the socket's) and DF for this datagram only. */
int udp_send_opt(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len,
		 uint8_t ttl, bool df);
/* The host base whose address is `local` (IP_PKTINFO of a received datagram). */
uint32_t udp_base_of(const struct bases *b, struct in_addr local);

/* gather.c */
int gather_hosts(struct bases *b);
void gather_stun_start(struct bases *b, uint64_t now_ms);
/* STUN binding again to the server that answered last (NAT changes). */
void gather_stun_refresh(struct bases *b, uint64_t now_ms);
/* A datagram from a STUN server; true when consumed. */
bool gather_stun_input(struct bases *b, const struct sockaddr_in *from, uint32_t base_id, const uint8_t *buf,
		       size_t len, uint64_t now_ms);
void gather_tick(struct bases *b, uint64_t now_ms);
uint64_t gather_deadline(const struct bases *b);

/* netmon.c: watches IPv4 addresses and links with rtnetlink; a change
 * gathers the host candidates again and reports the move. */
int netmon_open(struct bases *b);
void netmon_tick(struct bases *b, uint64_t now_ms);
uint64_t netmon_deadline(const struct bases *b);
void netmon_close(struct bases *b);

#endif
