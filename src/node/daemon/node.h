/* ipopd, the daemon: it owns the rooms below it and wires them together.
 *
 *   link/      the link core: every link's state machine, sans-IO
 *   bases/     the UDP socket, STUN gathering, the TURN relay, netmon
 *   datapath/  TUN <-> links in batches
 *   xmpp/      the signalling thread and its typed messages
 *   social/    SocialVPN translation, its map and DNS responder
 *
 * The data thread runs one event loop (common/evloop.h) on which each
 * room registers its own file descriptors. After every round the daemon
 * drains the links that have output (node_pump.c): their datagrams leave
 * through the bases, their signalling messages go to the signalling thread,
 * their events change routes. Reports of the bases (candidates changed,
 * addresses moved, relay lost) come back as callbacks and are handed to
 * the link table. See docs/architecture.md. */
#ifndef IPOP_NODE_H
#define IPOP_NODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bases.h"
#include "datapath.h"
#include "evloop.h"
#include "friends.h"
#include "links.h"
#include "node_conf.h"
#include "noise.h"
#include "signal_msg.h"
#include "slots.h"
#include "social.h"
#include "trust.h"
#include "xmpp_thread.h"

struct ctl_server;

struct node_counters {
	uint64_t sig_bad, sig_not_for_us;
	uint64_t sig_refused; /* judged and refused by trust.h */
	uint64_t slots_refused, slots_evicted; /* slots.h */
};

struct node {
	struct node_conf *conf;
	struct noise_keypair kp;
	struct noise_local noise;
	uint8_t id[SIGNAL_ID_LEN];
	char idhex[2 * SIGNAL_ID_LEN + 1];
	char resource[8 + 2 * SIGNAL_ID_LEN];
	char xmpp_jid[XMPP_JID_MAX];
	atomic_bool stop;

	struct evloop loop;
	struct links links;
	struct bases bases;
	struct datapath dp;
	bool social_on;
	struct social social;
	struct xmpp_thread sig;
	struct friends friends;
	struct trust trust;       /* pins and address owners (trust.h) */
	uint64_t trust_save_ms;   /* when the changed trust file is written */
	struct ctl_server *ctl;
	uint8_t *scratch; /* link datagrams built for sending (ICE, keepalives) */
	size_t scratch_cap;

	struct node_counters cnt;
	uint64_t start_ms;
};

/* node.c */
int node_init(struct node *n, struct node_conf *conf, uint16_t udp_port);
int node_run(struct node *n);
void node_free(struct node *n);
/* From a signal handler: the loop ends at its next round. */
void node_request_stop(struct node *n);
/* Wall-clock seconds of a monotonic time in the past (for ipopctl). */
int64_t node_wall_s_of(uint64_t mono_ms);

/* node_sig.c: what the signalling thread reports, and messages to it. */
void node_sig_input(struct node *n, uint64_t now_ms);
void node_signal_send(struct node *n, const char *jid, const struct signal_msg *m);
void node_friend_cmd(struct node *n, enum xmpp_friend_cmd cmd, const char *bare);
void node_say_bye_all(struct node *n);

/* node_pump.c: the links' outputs, and the bases' reports. */
void node_pump(struct node *n, uint64_t now_ms);
void node_remove_link(struct node *n, struct link *l, const char *why);
extern const struct bases_ops node_bases_ops;

/* node_trust.c: the trust file (pins, owners) and the address map. */
int node_trust_open(struct node *n);
int node_trust_save(struct node *n);
/* Writes the trust file a moment after a change; returns its deadline. */
uint64_t node_trust_tick(struct node *n, uint64_t now_ms);
int64_t node_trust_now_s(void);

/* node_ctl.c: the control socket's view of the daemon. */
int node_ctl_open(struct node *n);

#endif
