/* A fake network for the link core (src/node/link): nodes with a link
 * table each, a fake clock, a fake XMPP that carries the real signalling
 * codec's messages between them, and fake bases: one host address per node
 * and optionally a TURN relay (a relayed address that delivers to the
 * node's relay base). Datagrams are delivered in order, at once or after
 * a one-way latency in microseconds; a test can block paths. Everything
 * runs faster than real time.
 *
 * Time: the clock steps in 5 ms (now, milliseconds, what the link core's
 * ms inputs get); the probes of rtt.c are timed in microseconds: a
 * datagram arrives at exactly its send time plus the latency, and what a
 * node sends in answer leaves at that arrival time, so round trips come
 * out exact whatever the step. */
#ifndef IPOP_LINKSIM_H
#define IPOP_LINKSIM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "links.h"
#include "noise.h"
#include "trust.h"

enum { SIM_NODES = 4, SIM_PKTS = 4096, SIM_SIGS = 512, SIM_RELAY_BASE = LINK_RELAY_BASE + 1 };

struct sim_node {
	struct links t;
	struct noise_keypair kp;
	struct noise_local noise;
	char jid[XMPP_JID_MAX];
	struct sockaddr_in host;    /* base 0 */
	bool has_relay;
	uint32_t relay_base;
	struct sockaddr_in relayed; /* delivers to relay_base */
	bool has_srflx;             /* a server-reflexive candidate (no route: a NAT is not modelled) */
	struct sockaddr_in srflx;
	uint64_t tx_ttl;            /* datagrams sent with a TTL (primes: they die on the way) */
	uint64_t tx_pool;           /* datagrams sent from port-pool bases (no route) */
	unsigned pool_events;       /* LINK_EV_POOL seen */
	bool online;                /* its XMPP session is up */
	uint64_t rx_data;           /* data packets that opened (keepalives excluded) */
	uint64_t rx_bytes;
	uint64_t signals_sent;
	uint64_t cookie_replies;    /* sent by this node (it was under load) */
	struct trust trust;         /* judges its signalling, as node_sig.c does */
	uint64_t refused;           /* signalling messages trust refused */
	struct sim *sim;            /* its network (the overlay's unknown_key) */
};

struct sim_pkt {
	int to;
	uint64_t at_us;     /* arrives then */
	uint32_t base;
	struct sockaddr_in from;
	size_t len;
	uint8_t buf[2048];
};

struct sim_sig {
	int to;
	uint64_t at;
	char from[XMPP_JID_MAX];
	char body[SIGNAL_MSG_MAX + 1];
	size_t len;
};

struct sim {
	uint64_t now;
	unsigned n;
	struct sim_node node[SIM_NODES];
	bool block_direct;   /* drop host <-> host datagrams */
	bool block_relay;    /* drop everything through relays */
	bool drop_signals;   /* the XMPP server loses messages */
	/* The overlay (a group's other members) reaches every node: a datagram
	 * a link sends on LINK_BASE_OVERLAY arrives at its peer on that base,
	 * a handshake there from a member without a link makes one
	 * (links_overlay), and sim_send_data sends a packet for a link without
	 * a path of its own through it, as the data path does. */
	bool overlay;
	unsigned pool_grant; /* sockets the fake bases open for multi-port probing */
	int hold_from;       /* messages from this node wait for sim_release (-1: none) */
	unsigned xmpp_ms;    /* signalling latency */
	unsigned latency_us; /* one-way latency of every datagram (0: at once) */
	uint64_t cur_us;     /* the microsecond clock: the step, or an arrival being handled */
	struct sim_pkt *pkts;
	unsigned npkts;
	struct sim_sig *sigs;
	unsigned nsigs;
	uint64_t dropped;
	uint64_t overlay_pkts; /* datagrams sent through the overlay */
};

struct sim *sim_new(unsigned nodes);
void sim_free(struct sim *s);
/* Node i's identity: keys whose node ids sort as the index (node 0 is
 * ICE controlling toward every other). */
void sim_set_relay(struct sim *s, int i, bool on, uint32_t base, const char *relayed);
/* A server-reflexive candidate for node i (call sim_local_changed after). */
void sim_set_srflx(struct sim *s, int i, const char *addr);
/* The node's candidates changed (after changing host/relay): trickle or,
 * with moved, a local move (every link restarts ICE). */
void sim_local_changed(struct sim *s, int i, bool moved);
/* Presence: i sees j online. */
void sim_online(struct sim *s, int i, int j);
/* Advances the clock by ms, in 5 ms steps, running everything due. */
void sim_run(struct sim *s, uint64_t ms);
/* Runs until cond(s, arg) holds or max_ms passes; true when it held. */
bool sim_until(struct sim *s, bool (*cond)(struct sim *, void *), void *arg, uint64_t max_ms);
struct link *sim_link(struct sim *s, int i, int j);
bool sim_up(struct sim *s, int i, int j);
/* Seals a data packet of len bytes on i's link to j and sends it on its
 * path (staged when it has no key yet, as the data path does; with
 * s->overlay, a link still being set up takes the overlay first). */
void sim_send_data(struct sim *s, int i, int j, size_t len);
/* Node i sends j a bye and drops its link (the overlay closed it). */
void sim_bye(struct sim *s, int i, int j);
/* Delivers the held messages now, in the order they were sent. */
void sim_release(struct sim *s);
/* Replaces node i with a fresh one with the same key (a restart). */
void sim_restart_node(struct sim *s, int i);

#endif
