/* The node's links, as a sans-IO table: it creates and finds links (by
 * JID, session index, static key, ICE username), answers Noise handshakes
 * for them, hands STUN checks to the right ICE agent, spreads changes of
 * the node's own candidates to every link, and keeps the list of links
 * that have output waiting. It owns no socket and reads no clock; the
 * daemon feeds it and drains links_next_dirty(). */
#ifndef IPOP_LINKS_H
#define IPOP_LINKS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "ice_cand.h"
#include "link.h"
#include "link_base.h"
#include "noise.h"
#include "signal_msg.h"

enum {
	LINKS_MAX = 256,  /* links at once: direct ones and sessions through the overlay */
	LINKS_GONE_GRACE_MS = 5000, /* unavailable presence -> end of a link not up (gone.h) */
};

/* What every link of the node shares. */
struct link_env {
	uint8_t self_id[SIGNAL_ID_LEN];
	uint8_t self_key[SIGNAL_KEY_LEN];
	struct in_addr self_ip4;
	bool has_ip6;             /* group mode with "ip6": announced next to ip4 */
	struct in6_addr self_ip6;
	unsigned n_routes;        /* "routes": the subnets this node forwards */
	struct ip_prefix routes[SIGNAL_MAX_ROUTES];
	bool social;              /* SocialVPN: peers may announce our address */
	bool need_direct;         /* GroupVPN with multihop off: our hellos and offers say "need" */
	struct noise_local *noise; /* our static key and handshake state */
	size_t slot_cap;          /* bytes of one staged packet (headroom + MTU + tag) */
	/* The node's local candidates (hosts, srflx, relay), set by the daemon
	 * through links_set_local(); ICE agents and offers take them from here. */
	struct ice_cand local[ICE_MAX_LOCAL];
	unsigned nlocal;
	unsigned nhosts;          /* bases 0..nhosts-1 are host addresses */
	/* Wall clock = now_ms * 1e6 + wall_offset_ns (Noise timestamps). */
	int64_t wall_offset_ns;
	/* NAT traversal (docs/nat.md): the IP TTL of the primes that open our
	 * NAT's mapping before a check (0: none), and the size of the
	 * tunnel's largest datagram that every path must carry before it is
	 * used (0: no full-size checks). */
	uint8_t prime_ttl;
	uint16_t full_size;
	/* Our NAT's mapping (signalled to peers), and the bounds of
	 * multi-port probing (hardnat.h): sockets on the hard side, primed
	 * ports on the easy side; 0 turns that side off. */
	enum signal_nat nat;
	unsigned hard_sockets, hard_ports;
	/* A handshake came (through the overlay) with a static key no link
	 * has: the link of the group member with that key, created by the
	 * caller, or NULL. */
	struct link *(*unknown_key)(void *ctx, const uint8_t key[SIGNAL_KEY_LEN], uint64_t now_ms);
	void *unknown_key_ctx;
};

struct links {
	struct link_env env;
	unsigned n;
	struct link *l[LINKS_MAX];
	struct link *idx_cache; /* last link a data packet was routed to */
	struct link *dirty[LINKS_MAX];
	unsigned ndirty;
	bool xmpp_online;
	uint64_t now_ms;        /* of the handshake being answered */
	uint64_t hs_rejected;   /* handshakes that did not authenticate */
	uint64_t hs_completed;  /* handshakes that installed keys (either role) */
	uint64_t unknown_index; /* responses/data for no link */
	/* A cookie reply to an initiation that came while under load, for
	 * links_poll_reply (one at a time: the caller drains it after each
	 * links_on_initiation). */
	bool reply_pending;
	uint32_t reply_base;
	struct sockaddr_in reply_dst;
	uint8_t reply[TUNNEL_COOKIE_REPLY_LEN];
};

void links_init(struct links *t);
void links_free(struct links *t);

struct link *links_by_jid(const struct links *t, const char *jid);
/* The link to the member with this node id, or NULL. */
struct link *links_by_id(const struct links *t, const uint8_t id[SIGNAL_ID_LEN]);
/* The node id in an ipop resource "user@domain/ipop-<40 hex>": 0 or -1. */
int links_id_of_jid(const char *jid, uint8_t id[SIGNAL_ID_LEN]);
/* The link for jid; created (when create is true and there is room) for
 * an ipop resource "…/ipop-<node id>" that is not ours. */
struct link *links_get(struct links *t, const char *jid, uint64_t now_ms, bool create);
void links_remove(struct links *t, struct link *l);
/* A group member's link through the overlay: created with what its
 * presence said (key, ip4, and ip6 or NULL) when there is none; a link
 * without a path of its own gets the overlay as its path. NULL when the
 * table is full. The data path calls it too for a link still being set up
 * (offered, checking, failed) when a packet for it comes and the overlay
 * has a next hop: the packet takes the overlay instead of waiting on the
 * link, which goes up through the overlay after a handshake there while
 * ICE goes on looking for a direct path. */
struct link *links_overlay(struct links *t, const char *jid, const uint8_t key[SIGNAL_KEY_LEN], struct in_addr ip4,
			   const struct in6_addr *ip6, uint64_t now_ms);
/* A signalling message from a peer we have no link with (the caller
 * found none and made none). An answer means the peer runs the set-up of
 * a link we dropped while our messages crossed: our bye (a request we
 * cancelled, a "full") crossed its offer, it answered, and it would wait
 * for checks that never come. True: send the peer `bye` (filled here) so
 * that it drops its end too. */
bool links_orphan_reply(const struct links *t, const struct signal_msg *m, struct signal_msg *bye);
/* The link that owns a session index (data packets), or NULL. */
struct link *links_by_index(struct links *t, uint32_t index);
/* A fresh session index used by no link. */
uint32_t links_new_index(const struct links *t);

/* Noise handshakes that arrived on base_id from `from`. They return the
 * link that completed one, or NULL (counted in hs_rejected /
 * unknown_index). The answer to an initiation is queued on that link. */
struct link *links_on_initiation(struct links *t, uint32_t base_id, const struct sockaddr_in *from,
				 const uint8_t *buf, size_t len, uint64_t now_ms);
struct link *links_on_response(struct links *t, uint32_t base_id, const struct sockaddr_in *from,
			       const uint8_t *buf, size_t len, uint32_t receiver_index, uint64_t now_ms);
/* After links_on_initiation: the cookie reply it wants sent (the node is
 * under load and the initiation had no valid mac2), or false. */
bool links_poll_reply(struct links *t, struct link_tx *tx);
/* A cookie reply for one of our pending initiations: the link keeps the
 * cookie and queues the initiation again, with mac2. */
struct link *links_on_cookie_reply(struct links *t, uint32_t base_id, const struct sockaddr_in *from,
				   const uint8_t *buf, size_t len, uint32_t receiver_index, uint64_t now_ms);
/* A STUN message for some link's ICE agent; false when none took it. */
bool links_on_stun(struct links *t, uint32_t base_id, const struct sockaddr *from, const uint8_t *buf,
		   size_t len, uint64_t now_ms);

/* The node's local candidates now; with trickle, new ones go to every
 * link's ICE agent and to its peer (without: for offers to come). */
void links_set_local(struct links *t, const struct ice_cand *c, unsigned n, unsigned nhosts, bool trickle,
		     uint64_t now_ms);
/* The node's addresses moved: every link restarts ICE. remap[i] is the new
 * index of old host base i (NULL: host bases unchanged). */
void links_local_moved(struct links *t, const uint32_t *remap, unsigned nremap, uint64_t now_ms, const char *why);
/* A base (a TURN allocation) died: its pairs fail, links whose path used it
 * restart ICE once links_relay_settled() says the relay is back or gone. */
void links_base_failed(struct links *t, uint32_t base_id, uint64_t now_ms);
void links_relay_settled(struct links *t, uint64_t now_ms);
/* XMPP came online or left it. */
void links_xmpp_state(struct links *t, bool online, uint64_t now_ms);

/* Remote candidate addresses of every link with ICE on: non-host ones
 * first (hosts false), then host ones (hosts true). */
unsigned links_remote_addrs(const struct links *t, bool hosts, struct sockaddr_in *out, unsigned max);

/* Timers: runs every link that is due; returns the earliest deadline. */
uint64_t links_handle_timeout(struct links *t, uint64_t now_ms);
/* Links with output (transmits, events), each once; NULL when none. */
struct link *links_next_dirty(struct links *t);
void links_mark_dirty(struct links *t, struct link *l);

#endif
