#include "turn_metrics.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom_process.h"
#include "turn_server.h"

#define OFF(field) offsetof(struct turn_worker_stats, field)

struct counter {
	const char *name;
	enum prom_type type;
	size_t off;            /* of a uint64_t in struct turn_worker_stats */
	const char *help;
};

/* Unlabelled metrics that are the sum over the workers. */
static const struct counter coturn_plain[] = {
	{ "stun_binding_request", PROM_COUNTER, OFF(core.binding_req), "Incoming STUN Binding requests" },
	{ "stun_binding_response", PROM_COUNTER, OFF(core.binding_ok), "Outgoing STUN Binding responses" },
	{ "stun_binding_error", PROM_COUNTER, OFF(core.binding_err), "STUN Binding errors" },
};

/* coturn's traffic names; the same values as turn_total_traffic_* (one
 * realm), live rather than added when a session ends. */
static const struct counter coturn_traffic[] = {
	{ "rcvp", PROM_COUNTER, OFF(core.client_in), "Packets received from clients" },
	{ "rcvb", PROM_COUNTER, OFF(core.client_in_bytes), "Bytes received from clients" },
	{ "sentp", PROM_COUNTER, OFF(core.client_out), "Packets sent to clients" },
	{ "sentb", PROM_COUNTER, OFF(core.client_out_bytes), "Bytes sent to clients" },
	{ "peer_rcvp", PROM_COUNTER, OFF(core.peer_in), "Packets received from peers" },
	{ "peer_rcvb", PROM_COUNTER, OFF(core.peer_in_bytes), "Bytes received from peers" },
	{ "peer_sentp", PROM_COUNTER, OFF(core.relayed_to_peer), "Packets sent to peers" },
	{ "peer_sentb", PROM_COUNTER, OFF(core.relayed_to_peer_bytes), "Bytes sent to peers" },
};

static const struct counter ours_plain[] = {
	{ "ipop_turn_allocations_created_total", PROM_COUNTER, OFF(core.allocs_created),
	  "Allocations created." },
	{ "ipop_turn_allocations_expired_total", PROM_COUNTER, OFF(core.allocs_expired),
	  "Allocations that ended because their lifetime ran out (not deleted by the client)." },
	{ "ipop_turn_stun_messages_total", PROM_COUNTER, OFF(core.stun_in),
	  "STUN messages received from clients (requests, indications, responses; not ChannelData)." },
	{ "ipop_turn_bad_messages_total", PROM_COUNTER, OFF(core.bad_in),
	  "Client messages dropped or answered 400 as malformed or out of place." },
	{ "ipop_turn_auth_failures_total", PROM_COUNTER, OFF(core.auth_fail),
	  "Requests with wrong credentials, an unknown user or a refused account (each answered 401)." },
	{ "ipop_turn_rate_limited_total", PROM_COUNTER, OFF(core.rate_limited),
	  "Answers to unauthenticated requests (401, 438, 400 ...) not sent: over the per-source-IP limit." },
	{ "ipop_turn_connections_rejected_total", PROM_COUNTER, OFF(conns_rejected),
	  "TCP/TLS connections closed at accept: over the connection limit." },
	{ "ipop_turn_connections_idle_closed_total", PROM_COUNTER, OFF(conns_idle_closed),
	  "TCP/TLS connections closed for sending nothing (no first frame, or idle past any allocation)." },
	{ "ipop_turn_tls_handshake_failures_total", PROM_COUNTER, OFF(stream.tls_failed),
	  "Failed TLS handshakes." },
	{ "ipop_turn_stream_framing_errors_total", PROM_COUNTER, OFF(stream.bad_framing),
	  "TCP/TLS connections closed for a framing error or an oversize frame." },
	{ "ipop_turn_accept_paused_total", PROM_COUNTER, OFF(accept_paused),
	  "Times accepting stopped for a second: out of file descriptors or memory." },
	{ "ipop_turn_relay_sockets_open", PROM_GAUGE, OFF(relays_open),
	  "Relay sockets open (one per allocation)." },
	{ "ipop_turn_relay_open_failures_total", PROM_COUNTER, OFF(relay_open_failed),
	  "Relay sockets that could not be opened (no free port, descriptors)." },
	{ "ipop_turn_udp_datagrams_sent_total", PROM_COUNTER, OFF(tx.out),
	  "UDP datagrams the kernel accepted, to clients and peers." },
	{ "ipop_turn_udp_gro_trains_total", PROM_COUNTER, OFF(udp_gro_trains),
	  "Received messages that carried two or more datagrams (UDP GRO)." },
	{ "ipop_turn_udp_gso_messages_total", PROM_COUNTER, OFF(tx.gso_msgs),
	  "Sent messages that carried two or more datagrams (UDP GSO)." },
	{ "ipop_turn_udp_gso_fallbacks_total", PROM_COUNTER, OFF(tx.gso_fallbacks),
	  "GSO messages the kernel refused, sent again datagram by datagram." },
	{ "ipop_turn_udp_ring_calls_total", PROM_COUNTER, OFF(tx.ring_calls),
	  "Send batches submitted through io_uring: to several sockets in one call, or (io_uring loop) every batch, with the next wait." },
	{ "ipop_turn_rx_moderation_sleeps_total", PROM_COUNTER, OFF(rx_moderated),
	  "Receive moderation sleeps (rx_moderation_us) under dense traffic." },
};

static uint64_t word(const struct turn_worker_stats *w, size_t off)
{
	uint64_t v;
	memcpy(&v, (const char *)w + off, sizeof(v));
	return v;
}

static uint64_t sum(const struct turn_worker_stats *w, unsigned n, size_t off)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v += word(&w[i], off);
	return v;
}

static void write_table(struct prom_buf *b, const struct counter *t, size_t nt,
			const struct turn_worker_stats *w, unsigned n)
{
	for (size_t i = 0; i < nt; i++)
		prom_one(b, t[i].name, t[i].type, t[i].help, sum(w, n, t[i].off));
}

/* turn_total_traffic_X and turn_traffic_X{realm}. */
static void write_coturn_traffic(struct prom_buf *b, const char *realm,
				 const struct turn_worker_stats *w, unsigned n)
{
	char name[64], help[96];
	for (size_t i = 0; i < sizeof(coturn_traffic) / sizeof(coturn_traffic[0]); i++) {
		const struct counter *c = &coturn_traffic[i];
		uint64_t v = sum(w, n, c->off);
		snprintf(name, sizeof(name), "turn_total_traffic_%s", c->name);
		snprintf(help, sizeof(help), "%s (live, all sessions)", c->help);
		prom_one(b, name, PROM_COUNTER, help, v);
		snprintf(name, sizeof(name), "turn_traffic_%s", c->name);
		snprintf(help, sizeof(help), "%s (live, by realm)", c->help);
		prom_family(b, name, PROM_COUNTER, help);
		prom_sample1(b, name, "realm", realm, v);
	}
}

static const char *const proto_coturn[3] = { "UDP", "TCP", "TLS/TCP" };
static const char *const proto_ours[3] = { "udp", "tcp", "tls" };

static void write_allocations(struct prom_buf *b, const struct turn_metrics_info *info,
			      const struct turn_worker_stats *w, unsigned n)
{
	prom_family(b, "turn_total_allocations", PROM_GAUGE, "Represents current allocations number");
	for (unsigned p = 0; p < 3; p++)
		prom_sample1(b, "turn_total_allocations", "type", proto_coturn[p],
			     sum(w, n, OFF(core.allocs_by_proto) + p * sizeof(uint64_t)));
	prom_family(b, "ipop_turn_allocations_active", PROM_GAUGE,
		    "Allocations alive now, by the client's transport.");
	for (unsigned p = 0; p < 3; p++)
		prom_sample1(b, "ipop_turn_allocations_active", "transport", proto_ours[p],
			     sum(w, n, OFF(core.allocs_by_proto) + p * sizeof(uint64_t)));
	prom_one(b, "ipop_turn_allocations_max", PROM_GAUGE,
		 "Allocations allowed in total (max_client); beyond, 508.", info->max_client);
}

static void write_relayed(struct prom_buf *b, const struct turn_worker_stats *w, unsigned n)
{
	static const char *const dir[2] = { "to_peer", "to_client" };
	const size_t pk[2] = { OFF(core.relayed_to_peer), OFF(core.relayed_to_client) };
	const size_t by[2] = { OFF(core.relayed_to_peer_bytes), OFF(core.relayed_to_client_bytes) };

	prom_family(b, "ipop_turn_relayed_packets_total", PROM_COUNTER,
		    "Datagrams relayed: client to peer, or peer to client.");
	for (int d = 0; d < 2; d++)
		prom_sample1(b, "ipop_turn_relayed_packets_total", "direction", dir[d], sum(w, n, pk[d]));
	prom_family(b, "ipop_turn_relayed_bytes_total", PROM_COUNTER,
		    "Payload bytes relayed (without ChannelData or Data indication headers).");
	for (int d = 0; d < 2; d++)
		prom_sample1(b, "ipop_turn_relayed_bytes_total", "direction", dir[d], sum(w, n, by[d]));
}

static void write_errors(struct prom_buf *b, const struct turn_worker_stats *w, unsigned n)
{
	char code[8];
	prom_family(b, "ipop_turn_error_responses_total", PROM_COUNTER,
		    "STUN/TURN error responses sent, by code (401 includes the challenge every client gets first).");
	for (unsigned i = 0; i < TURN_STATS_NERR; i++) {
		int c = turn_stats_err_code(i);
		if (c)
			snprintf(code, sizeof(code), "%d", c);
		else
			snprintf(code, sizeof(code), "other");
		prom_sample1(b, "ipop_turn_error_responses_total", "code", code,
			     sum(w, n, OFF(core.err_sent) + i * sizeof(uint64_t)));
	}
}

static void write_drops(struct prom_buf *b, const struct turn_worker_stats *w, unsigned n)
{
	uint64_t refused = sum(w, n, OFF(core.dropped_policy));
	uint64_t special = sum(w, n, OFF(core.policy_special));
	const char *fam = "ipop_turn_peers_refused_total";

	prom_family(b, fam, PROM_COUNTER,
		    "Peer addresses refused with 403 (CreatePermission, ChannelBind), by reason.");
	prom_sample1(b, fam, "reason", "special_address", special);
	prom_sample1(b, fam, "reason", "denied_address", refused - special);
	fam = "ipop_turn_dropped_packets_total";
	prom_family(b, fam, PROM_COUNTER, "Datagrams the relay dropped, by reason.");
	prom_sample1(b, fam, "reason", "no_permission", sum(w, n, OFF(core.dropped_no_perm)));
	prom_sample1(b, fam, "reason", "bandwidth", sum(w, n, OFF(core.dropped_bw)));
	prom_sample1(b, fam, "reason", "oversize", sum(w, n, OFF(udp_truncated)));
	prom_sample1(b, fam, "reason", "send_failed",
		     sum(w, n, OFF(tx.send_failed)) + sum(w, n, OFF(tx.too_big)));
	prom_sample1(b, fam, "reason", "stream_queue_full", sum(w, n, OFF(stream.dropped_wq)));
}

static void write_connections(struct prom_buf *b, const struct turn_worker_stats *w, unsigned n)
{
	uint64_t open = sum(w, n, OFF(conns_open)), open_tls = sum(w, n, OFF(conns_open_tls));
	uint64_t acc = sum(w, n, OFF(conns_accepted)), acc_tls = sum(w, n, OFF(conns_accepted_tls));

	prom_family(b, "ipop_turn_connections_open", PROM_GAUGE, "TCP and TLS client connections open.");
	prom_sample1(b, "ipop_turn_connections_open", "transport", "tcp", open - open_tls);
	prom_sample1(b, "ipop_turn_connections_open", "transport", "tls", open_tls);
	prom_family(b, "ipop_turn_connections_accepted_total", PROM_COUNTER,
		    "TCP and TLS client connections accepted.");
	prom_sample1(b, "ipop_turn_connections_accepted_total", "transport", "tcp", acc - acc_tls);
	prom_sample1(b, "ipop_turn_connections_accepted_total", "transport", "tls", acc_tls);
}

/* The two per-worker series: how the kernel spreads clients over the
 * workers, and what each worker's sockets lost. */
static void write_per_worker(struct prom_buf *b, const struct turn_worker_stats *w, unsigned n)
{
	char id[12];
	prom_family(b, "ipop_turn_udp_datagrams_received_total", PROM_COUNTER,
		    "UDP datagrams received from clients and peers, by worker thread.");
	for (unsigned i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%u", i);
		prom_sample1(b, "ipop_turn_udp_datagrams_received_total", "worker", id, w[i].udp_in);
	}
	prom_family(b, "ipop_turn_udp_receive_queue_drops_total", PROM_COUNTER,
		    "UDP datagrams the kernel dropped because a worker's socket receive queue was full.");
	for (unsigned i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%u", i);
		prom_sample1(b, "ipop_turn_udp_receive_queue_drops_total", "worker", id, w[i].udp_rxq_drops);
	}
}

void turn_metrics_write(struct prom_buf *b, const struct turn_metrics_info *info,
			const struct turn_worker_stats *w, unsigned n)
{
	prom_family(b, "ipop_turn_build_info", PROM_GAUGE, "ipop-turnserver's version, as a label.");
	prom_sample1(b, "ipop_turn_build_info", "version", info->version, 1);
	prom_one(b, "ipop_turn_workers", PROM_GAUGE, "Worker threads.", n);
	write_allocations(b, info, w, n);
	write_table(b, coturn_plain, sizeof(coturn_plain) / sizeof(coturn_plain[0]), w, n);
	write_coturn_traffic(b, info->realm, w, n);
	write_relayed(b, w, n);
	write_table(b, ours_plain, sizeof(ours_plain) / sizeof(ours_plain[0]), w, n);
	write_errors(b, w, n);
	write_drops(b, w, n);
	write_connections(b, w, n);
	write_per_worker(b, w, n);
	/* Not process_open_fds: counting /proc/self/fd costs ~1 us per
	 * descriptor, and every allocation holds one (relay_sockets_open). */
	if (info->process)
		prom_process(b, info->start_unix, false);
}

int turn_metrics_render(void *ctx, struct prom_buf *b)
{
	const struct turn_metrics *m = ctx;
	struct turn_worker_stats *w = calloc(m->n ? m->n : 1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	for (unsigned i = 0; i < m->n; i++)
		turn_worker_get_stats(m->workers[i], &w[i]);
	turn_metrics_write(b, &m->info, w, m->n);
	free(w);
	return 0;
}
