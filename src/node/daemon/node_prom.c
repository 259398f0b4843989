/* The exposition of one ipopd snapshot (node_metrics.h). Names and labels
 * are listed in docs/metrics.md; per-peer series carry the peer's bare
 * JID, its overlay address and its node id (several nodes may share an
 * account, and in social mode a friend's nodes share one address), so
 * there is one series per link and no more. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "node_metrics.h"
#include "prom_process.h"

static const char *const state_names[] = { "down", "connecting", "checking", "handshake", "up" };
static const char *const path_names[NODE_METRICS_PATHS] = { "none", "direct", "relay", "overlay" };
static const char *const xmpp_names[] = { "offline", "connecting", "online" };

/* A set of 0/1 series, one per value of label, 1 for the current one
 * (OpenMetrics' StateSet), so that the series stay the same ones. */
static void stateset(struct prom_buf *b, const char *name, const char *help, const char *label,
		     const char *const *values, unsigned n, unsigned cur)
{
	prom_family(b, name, PROM_GAUGE, help);
	for (unsigned i = 0; i < n; i++)
		prom_sample1(b, name, label, values[i], i == cur);
}

static void write_node(struct prom_buf *b, const struct node_metrics_snap *s)
{
	char addr[64];
	const struct ctl_node_status *st = &s->st;

	prom_family(b, "ipop_node_build_info", PROM_GAUGE, "ipopd's version, as a label.");
	prom_sample1(b, "ipop_node_build_info", "version", s->version, 1);
	inet_ntop(AF_INET, &st->ip4, addr, sizeof(addr));
	const struct prom_label info[] = {
		{ "jid", s->bare_jid }, { "addr", addr }, { "node_id", st->node_id },
		{ "mode", st->social ? "social" : "group" }, { "interface", st->interface },
	};
	prom_family(b, "ipop_node_info", PROM_GAUGE,
		    "This node: its account (bare JID), overlay address, node id, mode and TUN interface.");
	prom_sample(b, "ipop_node_info", info, sizeof(info) / sizeof(info[0]), 1);
	stateset(b, "ipop_node_xmpp_state", "The XMPP connection: 1 for the current state.", "state", xmpp_names, 3,
		 (unsigned)st->xmpp < 3 ? (unsigned)st->xmpp : 0);
	prom_one(b, "ipop_node_relay_allocated", PROM_GAUGE, "1 while the node holds a TURN allocation.",
		 s->relay_allocated);
	if (s->relay_allocated) {
		char srv[ADDR_STRLEN], rel[ADDR_STRLEN];
		addr_format((const struct sockaddr *)&st->relay_server, true, srv);
		addr_format((const struct sockaddr *)&st->relay_addr, true, rel);
		const struct prom_label l[] = { { "server", srv }, { "transport", st->relay_transport },
						{ "address", rel } };
		prom_family(b, "ipop_node_relay_info", PROM_GAUGE,
			    "The TURN allocation held: server, transport and relayed address.");
		prom_sample(b, "ipop_node_relay_info", l, 3, 1);
	}
}

static void write_links(struct prom_buf *b, const struct node_metrics_snap *s)
{
	unsigned by_state[5] = { 0 }, up_by_path[NODE_METRICS_PATHS] = { 0 };

	for (unsigned i = 0; i < s->npeers; i++) {
		const struct node_metrics_peer *p = &s->peers[i];
		by_state[(unsigned)p->state < 5 ? p->state : 0]++;
		if (p->state == CTL_PEER_UP && (unsigned)p->path < NODE_METRICS_PATHS)
			up_by_path[p->path]++;
	}
	prom_family(b, "ipop_node_links", PROM_GAUGE, "Links, by state (the sum is every peer known).");
	for (unsigned i = 0; i < 5; i++)
		prom_sample1(b, "ipop_node_links", "state", state_names[i], by_state[i]);
	prom_family(b, "ipop_node_links_up", PROM_GAUGE, "Links up, by the path they take.");
	for (unsigned i = 1; i < NODE_METRICS_PATHS; i++)
		prom_sample1(b, "ipop_node_links_up", "path", path_names[i], up_by_path[i]);
}

static void by_path(struct prom_buf *b, const char *name, const char *help, const uint64_t *v)
{
	prom_family(b, name, PROM_COUNTER, help);
	for (unsigned i = 1; i < NODE_METRICS_PATHS; i++)
		prom_sample1(b, name, "path", path_names[i], v[i]);
}

static void write_counters(struct prom_buf *b, const struct node_metrics_snap *s)
{
	by_path(b, "ipop_node_received_bytes_total",
		"Bytes of IP packets received through links (after decryption), by the path they came on.",
		s->rx_bytes);
	by_path(b, "ipop_node_sent_bytes_total", "Bytes of IP packets sent through links, by path.", s->tx_bytes);
	by_path(b, "ipop_node_received_packets_total", "IP packets received through links, by path.", s->rx_packets);
	by_path(b, "ipop_node_sent_packets_total", "IP packets sent through links, by path.", s->tx_packets);
	prom_family(b, "ipop_node_dropped_packets_total", PROM_COUNTER, "Packets the node dropped, by reason.");
	for (unsigned i = 0; i < NODE_DROP_N; i++)
		prom_sample1(b, "ipop_node_dropped_packets_total", "reason", node_drop_name(i), s->drops[i]);
	prom_family(b, "ipop_node_handshakes_total", PROM_COUNTER,
		    "Noise handshakes: completed (keys installed, either role) or rejected (did not authenticate).");
	prom_sample1(b, "ipop_node_handshakes_total", "result", "completed", s->hs_completed);
	prom_sample1(b, "ipop_node_handshakes_total", "result", "rejected", s->hs_rejected);
}

/* One family over every peer: value(p) for those has(p) says have one. */
typedef double (*peer_value_fn)(const struct node_metrics_peer *p);
typedef bool (*peer_has_fn)(const struct node_metrics_peer *p);

static void per_peer(struct prom_buf *b, const struct node_metrics_snap *s, const char *name, enum prom_type type,
		     const char *help, peer_value_fn value, peer_has_fn has)
{
	bool any = false;
	for (unsigned i = 0; i < s->npeers && !any; i++)
		any = !has || has(&s->peers[i]);
	if (!any)
		return;
	prom_family(b, name, type, help);
	for (unsigned i = 0; i < s->npeers; i++) {
		const struct node_metrics_peer *p = &s->peers[i];
		const struct prom_label l[] = { { "jid", p->jid }, { "addr", p->addr }, { "node_id", p->node_id } };
		if (!has || has(p))
			prom_sample_f(b, name, l, 3, value(p));
	}
}

static double v_up(const struct node_metrics_peer *p) { return p->state == CTL_PEER_UP; }
static double v_rtt(const struct node_metrics_peer *p) { return p->rtt_us / 1e6; }
static double v_rtt_age(const struct node_metrics_peer *p) { return (double)p->rtt_age_ms / 1e3; }
static double v_hs(const struct node_metrics_peer *p) { return (double)p->last_handshake; }
static double v_hs_age(const struct node_metrics_peer *p) { return (double)p->handshake_age_ms / 1e3; }
static double v_rxb(const struct node_metrics_peer *p) { return (double)p->rx_bytes; }
static double v_txb(const struct node_metrics_peer *p) { return (double)p->tx_bytes; }
static double v_rxp(const struct node_metrics_peer *p) { return (double)p->rx_packets; }
static double v_txp(const struct node_metrics_peer *p) { return (double)p->tx_packets; }
static bool has_rtt(const struct node_metrics_peer *p) { return p->has_rtt; }
static bool has_hs(const struct node_metrics_peer *p) { return p->last_handshake > 0; }

static void write_peer_paths(struct prom_buf *b, const struct node_metrics_snap *s)
{
	if (!s->npeers)
		return;
	prom_family(b, "ipop_node_peer_path", PROM_GAUGE,
		    "The path of the link to a peer: 1 for the current one (none before one is chosen).");
	for (unsigned i = 0; i < s->npeers; i++) {
		const struct node_metrics_peer *p = &s->peers[i];
		for (unsigned k = 0; k < NODE_METRICS_PATHS; k++) {
			const struct prom_label l[] = { { "jid", p->jid }, { "addr", p->addr }, { "node_id", p->node_id },
							{ "path", path_names[k] } };
			prom_sample(b, "ipop_node_peer_path", l, 4, (unsigned)p->path == k);
		}
	}
}

static void write_peers(struct prom_buf *b, const struct node_metrics_snap *s)
{
	per_peer(b, s, "ipop_node_peer_up", PROM_GAUGE, "1 while the link to the peer is up (keys installed).", v_up, NULL);
	write_peer_paths(b, s);
	per_peer(b, s, "ipop_node_peer_rtt_seconds", PROM_GAUGE,
		 "Smoothed round-trip time of the link's path (tunnel probes, microsecond resolution).", v_rtt, has_rtt);
	per_peer(b, s, "ipop_node_peer_rtt_age_seconds", PROM_GAUGE, "Seconds since the RTT was last measured.",
		 v_rtt_age, has_rtt);
	per_peer(b, s, "ipop_node_peer_last_handshake_timestamp_seconds", PROM_GAUGE,
		 "When the last handshake with the peer completed (Unix seconds).", v_hs, has_hs);
	per_peer(b, s, "ipop_node_peer_handshake_age_seconds", PROM_GAUGE,
		 "Seconds since the last handshake with the peer completed.", v_hs_age, has_hs);
	per_peer(b, s, "ipop_node_peer_received_bytes_total", PROM_COUNTER, "Bytes of IP packets received from the peer.",
		 v_rxb, NULL);
	per_peer(b, s, "ipop_node_peer_sent_bytes_total", PROM_COUNTER, "Bytes of IP packets sent to the peer.", v_txb,
		 NULL);
	per_peer(b, s, "ipop_node_peer_received_packets_total", PROM_COUNTER, "IP packets received from the peer.", v_rxp,
		 NULL);
	per_peer(b, s, "ipop_node_peer_sent_packets_total", PROM_COUNTER, "IP packets sent to the peer.", v_txp, NULL);
}

void node_prom_write(struct prom_buf *b, const struct node_metrics_snap *s)
{
	write_node(b, s);
	write_links(b, s);
	write_counters(b, s);
	write_peers(b, s);
	if (s->process)
		prom_process(b, s->start_unix, true);
}
