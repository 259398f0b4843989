/* Roaming and recovery of ipopd's links: what the node does when its own
 * addresses move (interface address changed, NAT mapping or public
 * address changed) or when a peer's packets start to arrive from a new
 * address. See roam.c. */
#ifndef IPOP_ROAM_H
#define IPOP_ROAM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct node;
struct peer;

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
void roam_rx(struct peer *p, uint32_t base_id, const struct sockaddr_in *from, uint64_t now_ms);

/* ICE restart of one link for a moved path (peer_ice_restart: the link
 * stays up on its current path until the new session selects a pair).
 * force skips the rate limit (the local candidates changed). */
void roam_restart(struct peer *p, uint64_t now_ms, const char *why, bool force);

/* Once per peer_tick: notices a silent peer, repeats restart requests. */
void roam_tick(struct peer *p, uint64_t now_ms);

/* XMPP is back: restart offers and requests lost with the old connection
 * (an address change usually kills it too) go out again now. */
void roam_xmpp_online(struct node *n, uint64_t now_ms);

/* The node's own candidates changed (host addresses, or the
 * server-reflexive address). old_hosts/old_n: the host addresses before,
 * so that links keep sending from the same address where it still
 * exists. Restarts ICE on every link. */
void roam_local_changed(struct node *n, const struct sockaddr_in *old_hosts, unsigned old_n, uint64_t now_ms,
			const char *why);

#endif
