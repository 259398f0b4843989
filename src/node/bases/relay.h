/* ipopd's TURN relay: one allocation at a time on one of the `turn`
 * servers, driven by the sans-IO turn_client (src/stun). It gives the node
 * a relayed ICE candidate whose base id is LINK_RELAY_BASE + generation; ICE
 * checks, handshakes and data sent from that base go out as ChannelData
 * (or Send indications until the channel is bound) to the server, over the
 * node's UDP socket or over a TCP/TLS connection of its own.
 *
 * Server choice: the configured entries in order from a random start, then
 * (for entries whose transport is UDP) TLS to 443, TCP to the same port
 * and TLS to 5349, so a node whose UDP is blocked still gets a relay without extra
 * configuration. An attempt that does not allocate within a few seconds, is
 * refused, or redirects (300, followed once) moves on to the next; when all
 * failed the list is tried again later. An allocation that dies (refresh
 * refused, connection lost, the server silent for RELAY_DEAD_MS) is
 * replaced the same way, and links whose path used it restart ICE. */
#ifndef IPOP_RELAY_H
#define IPOP_RELAY_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "link_base.h"
#include "node_conf.h"
#include "turn_client.h"

struct bases;

enum {
	RELAY_UDP_ATTEMPT_MS = 3000,   /* no allocation by then: next attempt */
	RELAY_STREAM_ATTEMPT_MS = 5000, /* connect + TLS + allocation */
	RELAY_RETRY_MS = 15000,        /* every attempt failed: start over */
	RELAY_PROBE_IDLE_MS = 2000,    /* silent this long: ask the server (Binding) */
	RELAY_DEAD_MS = 6000,          /* silent this long: the server is gone */
	RELAY_MAX_ATTEMPTS = NODE_CONF_MAX_TURN * 4,
	RELAY_STREAM_OUT_MAX = 512 * 1024, /* queued stream bytes; data beyond is dropped */
	RELAY_STREAM_FEED = 512,       /* bytes given to turn_client_input at a time */
	RELAY_SYNC_RETRY_MS = 200,     /* channel binds refused as busy: retry */
};

enum relay_phase {
	RELAY_OFF = 0,   /* no turn servers configured */
	RELAY_CONNECTING, /* TCP connect / TLS handshake */
	RELAY_ALLOCATING,
	RELAY_READY,
	RELAY_WAITING,   /* every attempt failed; retry at retry_ms */
};

struct relay_attempt {
	unsigned entry; /* index in conf->turn */
	enum node_turn_transport transport;
	uint16_t port;
	bool fallback; /* not configured: tried because UDP did not work */
};

struct relay_stats {
	uint64_t tx_dropped;   /* no channel/allocation, stream queue full */
	uint64_t rx_packets, tx_packets;
	uint64_t failovers;
};

struct relay {
	bool inited;
	enum relay_phase phase;
	unsigned nattempts, cur, tried;
	struct relay_attempt attempts[RELAY_MAX_ATTEMPTS];
	enum node_turn_transport transport;
	struct sockaddr_in server;
	char server_name[80];     /* "host:port (tls)" for logs */
	char cur_host[256];       /* the current attempt's server entry... */
	uint16_t cur_port;        /* ...and port, to find it in a new server list */
	bool redirected;          /* one 300 followed in this attempt */
	bool got_rx;              /* the server said anything in this attempt */
	struct turn_client tc;
	bool tc_on;
	uint64_t tc_timer;        /* turn_client_timeout(), cached by flush_client */
	uint16_t chan_cache;      /* channel of chan_cache_addr; 0: none cached */
	struct sockaddr_in chan_cache_addr;
	uint32_t gen;
	uint32_t base_id;         /* valid while READY */
	bool udp_timed_out;       /* a UDP attempt got no answer at all */
	bool udp_blocked;         /* ...and a stream attempt to a server worked */
	uint64_t deadline_ms;     /* attempt timeout / retry time */
	uint64_t last_rx_ms, probe_ms;
	uint8_t probe_tid[12];
	uint64_t sync_ms;         /* channel binds to retry */

	/* TCP/TLS */
	int fd;
	SSL_CTX *ssl_ctx;
	SSL *ssl;
	bool connected, tls_done, broken;
	uint32_t ep_mask;         /* events registered for fd on the loop */
	unsigned stream_gen;      /* bumped by every open */
	uint8_t *out;             /* queued bytes: out[out_start..out_len) */
	size_t out_start, out_len;
	uint8_t *in;

	/* scratch: one relayed datagram in (handed to the receive path, which
	 * opens it in place) or out */
	uint8_t *slot;
	uint8_t *buf;
	size_t buf_cap;
	struct relay_stats stats;
};

/* Called through bases.c. */
int relay_init(struct bases *b);
void relay_start(struct bases *b, uint64_t now_ms);
/* The server list changed (servers.c): new servers or credentials are
 * tried at once when there is no allocation; an allocation stays, and
 * failover goes on in the new list. */
void relay_servers_changed(struct bases *b, bool servers_changed, uint64_t now_ms);
void relay_free(struct bases *b);
void relay_tick(struct bases *b, uint64_t now_ms);
uint64_t relay_deadline(const struct bases *b);

/* Whether a datagram from `from` came from our UDP relay server. */
bool relay_udp_from_server(const struct bases *b, const struct sockaddr_in *from);
/* A datagram on the UDP socket: true when it was the relay server's (and
 * consumed; relayed datagrams in it go to ops.relayed). */
bool relay_udp_input(struct bases *b, const struct sockaddr_in *from, uint32_t base_id, const uint8_t *buf,
		     size_t len, uint64_t now_ms);

/* The relayed candidate, when an allocation is ready. */
bool relay_candidate(const struct bases *b, struct sockaddr_in *relayed, struct sockaddr_in *mapped,
		     uint32_t *base_id);
/* Sends one datagram from a relay base to dst. Returns 0 or -errno. */
int relay_send(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len);
/* The same, with DF on the datagram to a UDP relay server. */
int relay_send_df(struct bases *b, uint32_t base_id, const struct sockaddr_in *dst, const uint8_t *buf, size_t len,
		  bool df);
/* For the batched data path: turns a sealed datagram (*len bytes at buf,
 * which has room for b->slot_cap) for dst into ChannelData in place and
 * returns the server address to send it to; or sends it itself (stream,
 * Send indication) or drops it and returns NULL. */
const struct sockaddr_in *relay_wrap(struct bases *b, uint8_t *buf, size_t *len, uint32_t base_id,
				     const struct sockaddr_in *dst);
/* The remote addresses links may send to (non-host ones first): channels
 * (and permissions) for them; the unwanted ones go when the table is full. */
void relay_sync(struct bases *b, const struct sockaddr_in *addrs, unsigned n, uint64_t now_ms);
/* The server address of the current allocation (for ipopctl). */
bool relay_server(const struct bases *b, struct sockaddr_in *out);
const char *relay_transport_name(const struct bases *b);

#endif
