/* ipopd's Prometheus exporter (docs/metrics.md, "## ipopd").
 *
 * The data thread owns every link, so the exporter never reads link state
 * itself. A scrape asks for a snapshot instead: libmicrohttpd's thread
 * (common/metrics_http.c) bumps a request number and wakes the data
 * thread through an eventfd on its loop; between two rounds of packets
 * the data thread copies what `ipopctl status` and `ipopctl peers` would
 * say (the same fill functions, node_ctl.c) plus the node's counters into
 * a new snapshot, hands it over with one atomic exchange and wakes the
 * HTTP thread through a second eventfd. The HTTP thread then writes the
 * text (node_prom.c) on its own time. The data thread never waits for
 * anyone and takes no lock; a scrape costs it one copy of the link table.
 * Because both views come from one moment on one thread, a metric page
 * equals what ipopctl says at that moment. */
#ifndef IPOP_NODE_METRICS_H
#define IPOP_NODE_METRICS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl_proto.h"
#include "prom.h"

enum {
	NODE_METRICS_WAIT_MS = 3000, /* a scrape waits this long for the data thread (then 500) */
	NODE_METRICS_PATHS = 4,      /* enum ctl_path: none, direct, relay, overlay */
};

/* Packets the node dropped, by reason (ipop_node_dropped_packets_total). */
enum node_drop {
	NODE_DROP_NO_ROUTE = 0,   /* TUN packet for an address without a link (ctl: drops.no_route) */
	NODE_DROP_BAD_SOURCE,     /* inner source is not the peer's address (ctl: drops.bad_source) */
	NODE_DROP_UNTRANSLATABLE, /* social mode: translation refused it (ctl: drops.untranslatable) */
	NODE_DROP_LINK_LOCAL,     /* IPv6 link-local/multicast kept off the overlay (ctl: drops.link_local) */
	NODE_DROP_BAD_PACKET,     /* tunnel packet malformed, forged, replayed or for an expired key */
	NODE_DROP_UNKNOWN_SESSION,/* tunnel packet for a session index no link owns */
	NODE_DROP_BAD_TUN_PACKET, /* from the TUN: not IP, or a super-packet that could not be split */
	NODE_DROP_TRUNCATED,      /* datagram larger than a receive slot */
	NODE_DROP_SEND_FAILED,    /* the kernel refused a datagram */
	NODE_DROP_TUN_WRITE,      /* the kernel refused a write to the TUN */
	NODE_DROP_N,
};
const char *node_drop_name(enum node_drop d);

/* One link as ipopctl peers shows it, with the labels of its series. */
struct node_metrics_peer {
	char jid[CTL_JID_LEN]; /* bare */
	char node_id[CTL_NODE_ID_LEN];
	char addr[INET_ADDRSTRLEN]; /* the address the node reaches it at; "" before it is known */
	enum ctl_peer_state state;
	enum ctl_path path;
	bool has_rtt;
	uint32_t rtt_us;
	uint64_t rtt_age_ms;
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	int64_t last_handshake;    /* unix seconds; 0: never */
	uint64_t handshake_age_ms; /* since then (monotonic) */
};

struct node_metrics_snap {
	uint64_t gen;              /* the request it answers */
	const char *version;
	int64_t start_unix;
	struct ctl_node_status st; /* ipopctl status */
	char bare_jid[CTL_JID_LEN];
	uint64_t rx_bytes[NODE_METRICS_PATHS], tx_bytes[NODE_METRICS_PATHS];
	uint64_t rx_packets[NODE_METRICS_PATHS], tx_packets[NODE_METRICS_PATHS];
	uint64_t drops[NODE_DROP_N];
	uint64_t hs_completed, hs_rejected;
	bool relay_allocated;
	bool process; /* add process_* (off in tests: they change) */
	unsigned npeers;
	struct node_metrics_peer peers[]; /* ipopctl peers, in the same order */
};

/* node_prom.c: the exposition of a snapshot (pure). */
void node_prom_write(struct prom_buf *b, const struct node_metrics_snap *s);

#endif
