/* The GroupVPN overlay, as a sans-IO state machine: which members a node
 * keeps links with, and where a packet for a member without a link goes.
 *
 * Up to max_links + 1 members the group is a full mesh, as it always was.
 * Above that every node keeps a structured set of direct links:
 *  - ring neighbours: the OVERLAY_SUCC members after it and OVERLAY_PRED
 *    before it by node-id position (ring.h);
 *  - long-distance links chosen as Chord's fingers: the first member at or
 *    after self + 2^64/2^i, i = 1, 2, ... (a refused one is replaced by the
 *    next member), so greedy routing reaches any member in O(log N) hops;
 *  - on-demand links for pairs whose traffic passes a threshold;
 *  - links other members asked for, while there is room.
 * Packets for members without a direct link travel the overlay hop by hop,
 * each hop choosing the linked member closest before the destination.
 *
 * The overlay knows members by position and id, and links only as opaque
 * handles. Inputs: the online members, link requests from others, links
 * that came up or went, refusals ("full"), traffic and handle_timeout(now).
 * Outputs: actions (request a link, close one) and next hops. It owns no
 * link, socket or clock, so a test can run ten thousand of them. */
#ifndef IPOP_OVERLAY_H
#define IPOP_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

enum {
	OVERLAY_ID_LEN = 20,
	OVERLAY_DEFAULT_MAX_LINKS = 32,
	OVERLAY_SUCC = 2,            /* ring successors kept */
	OVERLAY_PRED = 2,            /* ring predecessors kept */
	OVERLAY_DEMAND_BPS = 128,    /* on-demand threshold, bytes/s (IPOP's) */
	OVERLAY_DEMAND_S = 2,        /* ...sustained over this many seconds */
	OVERLAY_IDLE_TIMEOUT_S = 600, /* on-demand_inactive_timeout */
	OVERLAY_RETRY_MIN_MS = 5000, /* back-off after a refusal or failure... */
	OVERLAY_RETRY_MAX_MS = 600000, /* ...doubling up to this */
	OVERLAY_GRACE_MS = 60000,    /* a link nobody wants any more stays this long */
	OVERLAY_HOP_LIMIT = 16,
	OVERLAY_MAX_ACTIONS = 256,
};

struct overlay_conf {
	unsigned max_links;   /* direct links at most (requested or up) */
	bool multihop;        /* forward and send through the overlay */
	bool on_demand;       /* traffic above the threshold asks for a direct link */
	unsigned demand_bps;
	unsigned idle_timeout_s; /* on-demand links idle this long close (trim) */
	bool trim;
	unsigned hop_limit;
};

/* One online member, as the caller keeps them: sorted by pos. */
struct ov_member {
	ring_pos pos;
	uint8_t id[OVERLAY_ID_LEN];
};

/* Why a link is kept (bits). */
enum ov_why {
	OV_WHY_MESH = 1,     /* the group is small: everyone */
	OV_WHY_RING = 2,
	OV_WHY_FINGER = 4,
	OV_WHY_DEMAND = 8,   /* traffic asked for it */
	OV_WHY_INCOMING = 16, /* the other side asked for it */
	OV_WHY_STRUCTURE = OV_WHY_MESH | OV_WHY_RING | OV_WHY_FINGER,
};

enum ov_state {
	OV_IDLE = 0,  /* no link */
	OV_WANTED,    /* requested (ours or theirs), not up yet: holds a slot */
	OV_UP,
	OV_REFUSED,   /* it answered "full" or failed: retry at retry_ms */
};

struct ov_peer {
	ring_pos pos;
	uint8_t id[OVERLAY_ID_LEN];
	unsigned why;
	enum ov_state state;
	bool member;          /* online now */
	void *link;           /* the caller's handle while up */
	uint64_t state_ms, retry_ms, backoff_ms;
	uint64_t used_ms;     /* data seen (least recently used goes first) */
	uint64_t grace_ms;    /* not wanted since; closes at + OVERLAY_GRACE_MS */
	uint64_t demand_bytes; /* over the current window */
	uint64_t demand_from;  /* start of the window */
	unsigned demand_hot;   /* windows in a row above the threshold */
	bool had_own;         /* we asked for it, or wanted it for our structure or
			       * traffic, since it was requested (kept from
			       * WANTED through UP): a release is owed when that goes */
};

enum ov_action_type {
	OV_ACT_REQUEST = 1, /* ask the member for a direct link */
	OV_ACT_CLOSE,       /* end the direct link to the member */
	OV_ACT_RELEASE,     /* tell the member we no longer need the link it
			     * also asked for: it stays while the member wants it */
};

struct ov_action {
	enum ov_action_type type;
	uint8_t id[OVERLAY_ID_LEN];
	unsigned why;
};

struct ov_stats {
	uint64_t requests, accepted, refused_in, refused_out, closes, evictions, demand_links, trimmed;
	uint64_t releases; /* links we told the member we no longer need */
};

struct overlay {
	struct overlay_conf c;
	uint8_t self_id[OVERLAY_ID_LEN];
	ring_pos self;
	const struct ov_member *m; /* the caller's sorted members (may include self) */
	size_t nm;
	struct ov_peer *p;
	size_t np, capp;
	unsigned nslots;      /* peers WANTED or UP */
	struct ov_action q[OVERLAY_MAX_ACTIONS];
	unsigned nq;
	uint64_t deadline_ms;
	/* up links for next hops, rebuilt when they change */
	ring_pos *hop_pos;
	void **hop_link;
	size_t nhops;
	unsigned gen;         /* bumped when the next-hop table changes */
	struct ov_stats st;
};

void overlay_conf_default(struct overlay_conf *c);
int overlay_init(struct overlay *ov, const struct overlay_conf *c, const uint8_t self_id[OVERLAY_ID_LEN]);
void overlay_free(struct overlay *ov);

/* The group's online members now (sorted by pos; the array must stay valid
 * until the next call). Recomputes the structure and plans requests. */
void overlay_set_members(struct overlay *ov, const struct ov_member *m, size_t n, uint64_t now_ms);
/* A member asks us for a direct link: true to accept (the overlay may make
 * room by closing a less useful link), false to answer "full". */
bool overlay_accept(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms);
/* The same for a member that has no other path to us (its multihop is
 * off: "need" in its request): when full, room is made as for our own
 * on-demand traffic (least recently used on-demand or asked-for link). */
bool overlay_accept_need(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms);
/* The direct link to id is up (handle: the caller's), or it went away. */
void overlay_link_up(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], void *link, uint64_t now_ms);
void overlay_link_down(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms);
/* The member answered our request with "full". */
void overlay_refused(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms);
/* The member no longer needs the link (it sent OV_ACT_RELEASE's message):
 * kept only while we want it ourselves, else closed after the grace. */
void overlay_released(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms);
/* Data went over the direct link to id (for least-recently-used). */
void overlay_used(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms);
/* Bytes sent to id through the overlay since the last call: traffic above
 * the threshold asks for an on-demand direct link. */
void overlay_demand(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t bytes, uint64_t now_ms);
/* A packet for id that nothing but a direct link can carry (multihop
 * off): asks for an on-demand link at once, whatever the rate (when
 * on-demand links are on and id did not refuse lately). */
void overlay_want(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t now_ms);

void overlay_handle_timeout(struct overlay *ov, uint64_t now_ms);
uint64_t overlay_next_deadline(const struct overlay *ov);
bool overlay_poll_action(struct overlay *ov, struct ov_action *a);

/* The direct link to hand a packet for dst to: the up link closest before
 * dst on the ring (dst's own when linked); NULL when no link gets closer
 * than we are. */
void *overlay_next_hop(const struct overlay *ov, ring_pos dst);
/* The record of a member, or NULL. */
const struct ov_peer *overlay_peer(const struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN]);
/* Words for ipopctl: why there is no direct link to id. */
const char *overlay_why_not_linked(const struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN]);
/* The group is small enough for a full mesh. */
bool overlay_is_mesh(const struct overlay *ov);

#endif
