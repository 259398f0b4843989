/* Roaming and recovery of a link: what it does when a peer's packets
 * start to arrive from a new address, when it sends but hears nothing,
 * and when an ICE restart it asked for does not come. The node's own
 * address changes reach every link through links_local_moved(). See
 * roam.c. */
#ifndef IPOP_ROAM_H
#define IPOP_ROAM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct link;

enum {
	/* A peer's packets from a new address are followed only when the
	 * current endpoint has been silent this long: packets still in flight
	 * on an old path must not pull the link back to it. */
	ROAM_QUIET_MS = 500,
	/* At most one restart per link in this time for a moved peer
	 * address (a local change always restarts). */
	ROAM_RESTART_MIN_MS = 3000,
	/* A link we send on whose peer has said nothing for this long may
	 * have lost its path: our public address is checked by STUN (at most
	 * once per ROAM_SILENT_CHECK_MS), which finds a NAT that moved. */
	ROAM_SILENT_MS = 1000,
	ROAM_SILENT_CHECK_MS = 5000,
	ROAM_ASK_RETRY_MS = 5000, /* controlled: restart request again */
};

/* An authenticated tunnel packet (data, keepalive, handshake) from `from`
 * arrived on base_id: follows the peer to a new address if it moved,
 * and then asks for an ICE restart so that ICE checks the new path. */
void roam_rx(struct link *l, uint32_t base_id, const struct sockaddr_in *from, uint64_t now_ms);

/* ICE restart of one link for a moved path (link_ice_restart: the link
 * stays up on its current path until the new session selects a pair).
 * force skips the rate limit (the local candidates changed). */
void roam_restart(struct link *l, uint64_t now_ms, const char *why, bool force);

/* Once per link timer run: notices a silent peer, repeats restart requests. */
void roam_tick(struct link *l, uint64_t now_ms);

/* XMPP is back: a restart offer or request in flight when the old
 * connection died is most likely lost; it goes out again now. */
void roam_xmpp_online(struct link *l, uint64_t now_ms);

/* The node's own candidates changed. new_base: the base the link's path
 * sends from now (the host base with its old base's address, where that
 * still exists). */
void roam_local_moved(struct link *l, uint32_t new_base, uint64_t now_ms, const char *why);

#endif
