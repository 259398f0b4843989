/* One link of ipopd: the ICE agent that finds a path, the Noise sessions
 * that encrypt it, and the link state machine. All of it lives on the data
 * thread. Every state change goes through peer_set_state(), which logs
 * "old -> new" with the reason, so a log shows the life of each link. */
#ifndef IPOP_PEER_H
#define IPOP_PEER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "ice_agent.h"
#include "session.h"
#include "signal_msg.h"
#include "xlate.h"
#include "xmpp_roster.h"

struct node;

/* Packets from the TUN wait here while the link has no key yet (link
 * setup, rekey after an idle lapse), instead of being dropped: the first
 * ping gets through as soon as the handshake completes. */
enum { PEER_STAGE_MAX = 16 };

enum peer_state {
	PEER_NEW = 0,      /* seen online, nothing sent yet */
	PEER_OFFERED,      /* controlling: offer sent, waiting for the answer */
	PEER_CHECKING,     /* both sides know each other; ICE checks running */
	PEER_HANDSHAKE,    /* ICE selected a pair; Noise handshake in progress */
	PEER_UP,           /* keys installed: data flows */
	PEER_FAILED,       /* ICE failed; the controlling side retries later */
};

struct peer {
	struct session_peer sess; /* first: the noise lookup returns &sess.noise */
	struct node *node;
	char jid[XMPP_JID_MAX];
	uint8_t id[SIGNAL_ID_LEN];
	char idhex[2 * SIGNAL_ID_LEN + 1];
	bool controlling; /* lower node id: ICE controlling, sends the offer */
	bool have_info;   /* key and ip4 received in an offer/answer */
	uint8_t key[SIGNAL_KEY_LEN];
	struct in_addr ip4;  /* the address the peer announced: its own */
	struct in_addr map4; /* social: the peer's address in our space */
	struct xlate_pair xl; /* social: translation for this link */
	bool routed;

	enum peer_state state;
	uint64_t state_ms;  /* when state was entered */
	uint64_t retry_ms;  /* controlling: re-offer at this time (0: none) */
	uint64_t fail_backoff_ms; /* controlling: wait after an ICE failure */
	bool hs_wanted;     /* an initiation was refused as too early; retry */
	uint8_t init_msg[TUNNEL_INITIATION_LEN]; /* the last initiation sent... */
	size_t init_len;    /* ...resent when ICE moves the path before the answer */
	bool ice_restarting; /* controlling: a restart offer is out, the link stays up */
	bool relay_lost;    /* the path used our relay allocation, which died */

	bool ice_on;
	struct ice_agent ice;
	char lufrag[SIGNAL_UFRAG_MAX + 1], lpwd[SIGNAL_PWD_MAX + 1];
	char rufrag[SIGNAL_UFRAG_MAX + 1];
	unsigned nlocal_sent; /* local candidates signalled so far */

	/* The path: the ICE selected pair, or before it the source of an
	 * authenticated handshake. */
	bool have_path;
	uint32_t base_id;
	struct sockaddr_in endpoint;
	struct ice_cand sel_local, sel_remote;
	bool sel_known;

	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	uint64_t last_handshake_wall_s;
	uint64_t cryptokey_drops;
	uint64_t xlate_drops;
	uint64_t deadline_ms; /* cached earliest deadline */
	uint8_t *stage;       /* PEER_STAGE_MAX slots of node->slot_cap bytes */
	uint16_t stage_len[PEER_STAGE_MAX];
	unsigned nstaged;
	uint64_t stage_dropped;
	/* "unavailable" presence seen: the link ends at gone_ms unless XMPP
	 * dropped meanwhile (a server shutting down sends unavailable for
	 * everyone just before it closes) or the peer came back. */
	uint64_t gone_ms;
	unsigned gone_epoch;

	/* Roaming (roam.c): an ICE restart of a link that stays up. */
	uint64_t roam_restart_ms; /* when the last roaming restart began */
	uint64_t path_rx_ms;     /* last authenticated packet from the endpoint */
	uint64_t tx_seen;        /* tx_packets at the last roam_tick... */
	uint64_t tx_active_ms;   /* ...and when it last grew */
	uint64_t silent_check_ms; /* last STUN check because the peer fell silent */
	bool restart_asked;      /* controlled: restart requested, no offer yet */
	uint64_t restart_ask_ms;
	char restart_ask_ufrag[SIGNAL_UFRAG_MAX + 1]; /* the peer's ufrag then */
};

struct peer *peer_new(struct node *n, const char *jid, const uint8_t id[SIGNAL_ID_LEN], uint64_t now_ms);
void peer_free(struct peer *p);
const char *peer_state_name(enum peer_state s);
void peer_set_state(struct peer *p, enum peer_state s, uint64_t now_ms, const char *why);

/* XMPP says the peer is online (idempotent). */
void peer_online(struct peer *p, uint64_t now_ms);
/* The peer went away and came back: set the link up again from scratch
 * (the controlling side offers anew; the other waits for that offer). */
void peer_restart(struct peer *p, uint64_t now_ms, const char *why);
/* A validated signalling message addressed to us from this peer. */
void peer_on_signal(struct peer *p, const struct signal_msg *m, uint64_t now_ms);
/* Local candidates changed (srflx learned, relay allocated): the new ones
 * go to the ICE agent and are trickled to the peer. */
void peer_local_cands_changed(struct peer *p, uint64_t now_ms);
/* ICE restart keeping the link and its keys: the controlling side offers
 * with fresh credentials (data keeps flowing on the old path until a new
 * pair is selected); the controlled side asks for that with a hello that
 * names its current ufrag. For a dead relay now, for roaming later. */
void peer_ice_restart(struct peer *p, uint64_t now_ms, const char *why);
/* The selected path goes through a TURN relay (ours or the peer's). */
bool peer_path_relayed(const struct peer *p);

/* Runs ICE and session timers, sends what is due, handles ICE events. */
void peer_tick(struct peer *p, uint64_t now_ms);
uint64_t peer_deadline(struct peer *p, uint64_t now_ms);

/* Starts a Noise handshake towards the current path if none is pending. */
void peer_initiate(struct peer *p, uint64_t now_ms);
/* Keys installed by a finished handshake (either role). */
void peer_handshake_done(struct peer *p, uint64_t now_ms);
/* Keeps a TUN packet (buf has TUNNEL_DATA_HEADER_LEN headroom before
 * the len-byte packet) until keys exist; the oldest goes when full. */
void peer_stage(struct peer *p, const uint8_t *buf, size_t len);
/* Seals and sends staged packets while a send key exists. */
void peer_flush_staged(struct peer *p, uint64_t now_ms);
/* Sends a keepalive (an empty data packet) on the path. */
void peer_send_keepalive(struct peer *p, uint64_t now_ms);

#endif
