/* One link of ipopd, as a sans-IO state machine: the ICE agent that finds
 * a path, the Noise sessions that encrypt it, and the link's life (offer,
 * answer, checks, handshake, up, failure, ICE restarts, roaming). It holds
 * no node, no socket and reads no clock. Its inputs:
 *
 *   link_on_signal()        a validated signalling message from the peer
 *   link_online/offline()   the peer's presence
 *   link_on_stun()          an ICE check or answer for this link
 *   link_data_rx()          an authenticated tunnel packet arrived
 *   link_handle_timeout()   when now >= link_next_deadline()
 *   (the link table, links.h, feeds handshakes, base failures and changes
 *    of the local candidates to every link)
 *
 * and its outputs, drained by the caller after every input:
 *
 *   link_poll_transmit()    datagrams: (base, destination, bytes)
 *   link_poll_event()       signalling messages to send, state and path
 *                           changes, the peer's identity, relay
 *                           permissions wanted, a public-address check
 *
 * Every state change goes through link_set_state(), which logs
 * "old -> new" with the reason, so a log shows the life of each link. */
#ifndef IPOP_LINK_H
#define IPOP_LINK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "hardnat.h"
#include "ice_agent.h"
#include "link_base.h"
#include "rtt.h"
#include "link_net.h"
#include "session.h"
#include "signal_msg.h"
#include "tunnel_proto.h"
#include "xmpp_roster.h"

struct links;
struct social_link;

enum {
	/* Packets from the TUN wait here while the link has no key yet (link
	 * setup, rekey after an idle lapse), instead of being dropped: the
	 * first ping gets through as soon as the handshake completes. */
	LINK_STAGE_MAX = 16,
	LINK_TXQ = 4,  /* queued datagrams of the link's own (handshake, keepalive) */
	LINK_SIGQ = 4, /* queued signalling messages */
	LINK_EVQ = 8,  /* queued events */
};

enum link_state {
	LINK_NEW = 0,      /* seen online, nothing sent yet */
	LINK_OFFERED,      /* controlling: offer sent, waiting for the answer */
	LINK_CHECKING,     /* both sides know each other; ICE checks running */
	LINK_HANDSHAKE,    /* ICE selected a pair; Noise handshake in progress */
	LINK_UP,           /* keys installed: data flows */
	LINK_FAILED,       /* ICE failed; the controlling side retries later */
};

enum link_ev_type {
	LINK_EV_SIGNAL = 1, /* a signalling message for the peer (the caller's msg) */
	LINK_EV_STATE,      /* from -> to */
	LINK_EV_PATH,       /* the link now sends on another base or endpoint */
	LINK_EV_PEER_INFO,  /* the peer's key or announced address is new: route it */
	LINK_EV_REMOTES,    /* the peer's candidates changed: relay permissions */
	LINK_EV_CHECK_PUBLIC, /* we send, the peer is silent: check our public address */
	LINK_EV_GONE,       /* the peer is offline (presence) and its data path died */
	LINK_EV_POOL,       /* multi-port probing wants, keeps or frees the port pool (hardnat.h) */
};

struct link_event {
	enum link_ev_type type;
	enum link_state from, to; /* LINK_EV_STATE */
};

/* A datagram to send. data points into the caller's buffer or into the
 * link, valid until the next call into the link. */
struct link_tx {
	uint32_t base_id;
	struct sockaddr_in dst;
	const uint8_t *data;
	size_t len;
	uint8_t ttl; /* IP TTL of this datagram (a NAT prime); 0: the socket's default */
	bool df;     /* don't fragment (a full-size check) */
};

enum link_tx_kind { LINK_TX_INIT = 1, LINK_TX_RESP, LINK_TX_KEEPALIVE };
struct link_txq_item {
	enum link_tx_kind kind;
	uint32_t base_id;
	struct sockaddr_in dst;
};

/* A signalling message waiting to be built (link_poll_event builds it
 * from the link's current state, so the queue stays small). */
struct link_sigq_item {
	enum signal_kind kind;
	bool with_ice;       /* hello: a restart request naming our session */
	unsigned first_cand; /* candidates: local candidates from this index */
	char offer_ufrag[SIGNAL_UFRAG_MAX + 1]; /* answer: the offer it answers */
};

struct link {
	struct session_peer sess; /* Noise sessions; the table finds the link from them */
	struct links *tab;
	char jid[XMPP_JID_MAX];
	uint8_t id[SIGNAL_ID_LEN];
	char idhex[2 * SIGNAL_ID_LEN + 1];
	bool controlling; /* lower node id: ICE controlling, sends the offer */
	bool have_info;   /* key and ip4 received in an offer/answer */
	enum signal_nat peer_nat; /* the peer's NAT kind, from its offer/answer */
	bool peer_probes; /* the peer answers tunnel probes (its offer/answer said so) */
	uint8_t key[SIGNAL_KEY_LEN];
	struct in_addr ip4;  /* the address the peer announced: its own */
	struct in_addr map4; /* social: the peer's address in our space */
	struct social_link *social; /* social mode's per-link state, or NULL */
	bool routed;         /* the routing table sends route4 here */
	struct in_addr route4; /* the address routed to this link (ip4, or map4 in social mode) */
	struct link_net net;   /* group mode: the peer's ip6 and routes as announced */
	struct link_owned own; /* what the daemon installed of them, and what it refused */

	enum link_state state;
	uint64_t state_ms;  /* when state was entered */
	uint64_t created_ms;
	bool presence;      /* XMPP says the peer is online (slots.h: links without it expire) */
	bool ever_up;       /* a handshake completed once */
	const char *gone_why; /* LINK_EV_GONE for another reason than "went offline" */
	uint64_t retry_ms;  /* controlling: re-offer at this time (0: none) */
	unsigned offers_unanswered; /* controlling: in a row; backs the re-offer off */
	uint64_t fail_backoff_ms; /* wait after an ICE failure (controlled: before asking again) */
	uint64_t answered_ms; /* controlled: when we answered the offer of the ICE session we run */
	bool hs_wanted;     /* an initiation was refused as too early; retry */
	uint8_t init_msg[TUNNEL_INITIATION_MAC2_LEN]; /* the last initiation sent (mac2 with a cookie)... */
	size_t init_len;    /* ...resent when ICE moves the path before the answer */
	uint64_t init_sent_ms; /* when those bytes last left */
	uint8_t resp_msg[TUNNEL_RESPONSE_LEN];   /* our answer to the last initiation */
	bool ice_restarting; /* controlling: a restart offer is out, the link stays up */
	bool overlay_ok;    /* the peer is a group member the overlay reaches */
	bool relay_lost;    /* the path used our relay allocation, which died */

	bool ice_on;
	struct ice_agent ice;
	char lufrag[SIGNAL_UFRAG_MAX + 1], lpwd[SIGNAL_PWD_MAX + 1];
	char rufrag[SIGNAL_UFRAG_MAX + 1];

	/* The path: the ICE selected pair, or before it the source of an
	 * authenticated handshake. */
	bool have_path;
	uint32_t base_id;
	struct sockaddr_in endpoint;
	struct ice_cand sel_local, sel_remote;
	bool sel_known;

	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	uint64_t acct_bytes;  /* tx + rx at the daemon's last once-a-second look */
	uint64_t last_handshake_ms; /* monotonic; 0: never */
	struct link_rtt rtt;        /* round-trip time from tunnel probes (rtt.c) */
	/* The daemon's per-path accounting (node_metrics.c): the counters
	 * when they were last added to the node's tally, and the path then. */
	struct {
		int path;
		uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	} acct;
	uint64_t cryptokey_drops;
	uint8_t ovl_hops;     /* overlay hops of the peer's last frame to us; 0: none */
	uint64_t xlate_drops;
	uint64_t deadline_ms; /* cached earliest deadline */
	uint8_t *stage;       /* LINK_STAGE_MAX slots of tab->env.slot_cap bytes; NULL until a packet is staged */
	uint16_t stage_len[LINK_STAGE_MAX];
	unsigned nstaged, stage_sent;
	uint64_t stage_dropped;
	/* When the peer's "unavailable" presence came (0: online). The link
	 * ends only if its data path dies meanwhile (gone.h). */
	uint64_t offline_ms;

	/* Roaming (roam.c): an ICE restart of a link that stays up. */
	uint64_t roam_restart_ms; /* when the last roaming restart began */
	uint64_t path_rx_ms;     /* last authenticated packet from the endpoint */
	uint64_t tx_seen;        /* tx_packets at the last roam_tick... */
	uint64_t tx_active_ms;   /* ...and when it last grew */
	uint64_t silent_check_ms; /* last STUN check because the peer fell silent */
	bool restart_asked;      /* controlled: restart requested, no offer yet */
	uint64_t restart_ask_ms;
	char restart_ask_ufrag[SIGNAL_UFRAG_MAX + 1]; /* the peer's ufrag then */

	struct hardnat hn; /* multi-port probing (hardnat.c) */

	/* outputs */
	bool dirty; /* on the table's list of links with output */
	struct link_txq_item txq[LINK_TXQ];
	unsigned ntx;
	struct link_sigq_item sigq[LINK_SIGQ];
	unsigned nsig;
	struct link_event evq[LINK_EVQ];
	unsigned nev;
};

/* Created and freed by the link table (links_get, links_remove). */
struct link *link_new(struct links *t, const char *jid, const uint8_t id[SIGNAL_ID_LEN], uint64_t now_ms);
void link_free(struct link *l);
const char *link_state_name(enum link_state s);
void link_set_state(struct link *l, enum link_state s, uint64_t now_ms, const char *why);

/* XMPP says the peer is online (idempotent); or "unavailable". */
void link_online(struct link *l, uint64_t now_ms);
void link_offline(struct link *l, uint64_t now_ms);
/* The peer went away and came back: set the link up again from scratch
 * (the controlling side offers anew; the other waits for that offer). */
void link_restart(struct link *l, uint64_t now_ms, const char *why);
/* A validated signalling message addressed to us from this peer. */
void link_on_signal(struct link *l, const struct signal_msg *m, uint64_t now_ms);
/* The local candidates changed (srflx learned, relay allocated): the new
 * ones go to the ICE agent and are trickled to the peer. */
void link_local_cands_changed(struct link *l, uint64_t now_ms);
/* ICE restart keeping the link and its keys: the controlling side offers
 * with fresh credentials (data keeps flowing on the old path until a new
 * pair is selected); the controlled side asks for that with a hello that
 * names its current ufrag. */
void link_ice_restart(struct link *l, uint64_t now_ms, const char *why);
/* A STUN message for this link's ICE agent; false when it is not its. */
bool link_on_stun(struct link *l, uint32_t base_id, const struct sockaddr *from, const uint8_t *buf, size_t len,
		  uint64_t now_ms);
/* A base went away (a TURN allocation died). */
void link_base_failed(struct link *l, uint32_t base_id, uint64_t now_ms);
/* The selected path goes through a TURN relay (ours or the peer's). */
bool link_path_relayed(const struct link *l);
/* The link has no path of its own: its packets go through the overlay. */
static inline bool link_path_overlay(const struct link *l)
{
	return l->have_path && l->base_id == LINK_BASE_OVERLAY;
}

/* The direct path was refused or is not wanted any more, but the peer is
 * a group member the overlay reaches: the link stays up through the
 * overlay (true), or has nothing left (false: the caller removes it). */
bool link_keep_overlay(struct link *l, uint64_t now_ms);

/* Where a packet on base_id from or to addr goes, for logs: the address,
 * or "the overlay" (buf: ADDR_STRLEN bytes). */
const char *link_where(uint32_t base_id, const struct sockaddr_in *addr, char *buf);

/* Runs ICE and session timers and handles ICE events. */
void link_handle_timeout(struct link *l, uint64_t now_ms);
uint64_t link_next_deadline(const struct link *l);

/* Starts a Noise handshake towards the current path if none is pending. */
void link_initiate(struct link *l, uint64_t now_ms);
/* Keys installed by a finished handshake (either role). */
void link_handshake_done(struct link *l, uint64_t now_ms);
/* An authenticated tunnel packet (payload_len 0: a keepalive) from `from`
 * on base_id: the path, roaming, a handshake confirmed, staged packets. */
void link_data_rx(struct link *l, uint32_t base_id, const struct sockaddr_in *from, size_t payload_len,
		  uint64_t now_ms);
/* Keeps a TUN packet (buf has TUNNEL_DATA_HEADER_LEN headroom before
 * the len-byte packet) until keys exist; the oldest goes when full. */
void link_stage(struct link *l, const uint8_t *buf, size_t len);
/* Queues a keepalive (an empty data packet) on the path. */
void link_send_keepalive(struct link *l);

/* Outputs. buf: scratch for datagrams the link builds (ICE checks,
 * keepalives), at least 2048 bytes. Returns false when nothing is left. */
bool link_poll_transmit(struct link *l, struct link_tx *tx, uint8_t *buf, size_t cap, uint64_t now_ms);
/* msg is filled for LINK_EV_SIGNAL. */
bool link_poll_event(struct link *l, struct link_event *ev, struct signal_msg *msg);

/* link.c's helpers for link_sig.c and roam.c */
void link_queue_signal(struct link *l, enum signal_kind kind, bool with_ice, unsigned first_cand,
		       const char *offer_ufrag);
/* Forgets queued signalling messages of this kind. */
void link_drop_signals(struct link *l, enum signal_kind kind);
void link_queue_event(struct link *l, enum link_ev_type type);
void link_queue_state(struct link *l, enum link_state from, enum link_state to);
void link_queue_tx(struct link *l, enum link_tx_kind kind, uint32_t base_id, const struct sockaddr_in *dst);
/* link_sig.c: the signalling message of a queued item. */
void link_sig_build(const struct link *l, const struct link_sigq_item *it, struct signal_msg *m);
void link_sig_add_remotes(struct link *l, const struct signal_msg *m, uint64_t now_ms);
/* Takes the optional ip6 and routes of an offer/answer into l->net; true
 * when they differ from what the peer announced before. */
bool link_sig_take_net(struct link *l, const struct signal_msg *m);

#endif
