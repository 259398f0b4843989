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
#include "ctl_proto.h"
#include "datapath.h"
#include "evloop.h"
#include "friends.h"
#include "links.h"
#include "members.h"
#include "overlay.h"
#include "sessions.h"
#include "node_conf.h"
#include "noise.h"
#include "signal_msg.h"
#include "slots.h"
#include "signal_presence.h"
#include "social.h"
#include "trust.h"
#include "xmpp_thread.h"

#ifndef IPOPD_VERSION
#define IPOPD_VERSION "0.1.0"
#endif

struct ctl_server;
struct node_metrics;

struct node_counters {
	uint64_t sig_bad, sig_not_for_us;
	uint64_t sig_refused; /* judged and refused by trust.h */
	uint64_t slots_refused, slots_evicted; /* slots.h */
};

/* Traffic of every link there was, by the path it took (enum ctl_path:
 * none, direct, relay, overlay), for /metrics (node_metrics.c). */
struct node_path_tally {
	uint64_t rx_bytes[4], tx_bytes[4], rx_packets[4], tx_packets[4];
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
	/* GroupVPN's overlay (node_overlay.c); unused in social mode */
	struct members members;
	struct overlay ov;
	struct ov_sessions ovs;   /* sessions through the overlay, ended when idle */
	struct signal_presence presence; /* what our presence tells the group */
	uint64_t ov_acct_ms;
	struct ctl_server *ctl;
	uint8_t *scratch; /* link datagrams built for sending (ICE, keepalives) */
	size_t scratch_cap;

	struct node_counters cnt;
	struct node_path_tally tally;
	struct node_metrics *metrics; /* NULL unless metrics_address is set */
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
/* The link for jid, created when asked and new (social mode gives it its
 * friend's address first). */
struct link *node_link_get(struct node *n, const char *jid, uint64_t now_ms, bool create);
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

/* "peers" lists links with a path of their own or trying to get one; a
 * session that only rides the overlay is shown by "members". */
static inline bool node_link_listed(const struct link *l)
{
	return !link_path_overlay(l) || l->ice_on;
}

/* node_overlay.c: GroupVPN's overlay (node/overlay) on the daemon's side. */
int node_overlay_init(struct node *n);
void node_overlay_free(struct node *n);
void node_overlay_member(struct node *n, const char *jid, bool online, uint64_t now_ms);
void node_overlay_info(struct node *n, const char *jid, const struct signal_presence *p, uint64_t now_ms);
/* A member asks for a direct link (need: it has no other path to us):
 * false when refused ("full" sent). */
bool node_overlay_accept(struct node *n, const char *jid, bool need, uint64_t now_ms);
void node_overlay_refused(struct node *n, const char *jid, uint64_t now_ms);
void node_overlay_released(struct node *n, const char *jid, uint64_t now_ms);
void node_overlay_link_changed(struct node *n, struct link *l, uint64_t now_ms);
void node_overlay_link_removed(struct node *n, struct link *l, uint64_t now_ms);
void node_overlay_tick(struct node *n, uint64_t now_ms);
uint64_t node_overlay_deadline(const struct node *n);
/* node_overlay_ctl.c: the overlay for ipopctl ("status", "members"). */
void node_overlay_ctl_status(struct node *n, struct ctl_overlay_status *o);
int node_overlay_ctl_members(struct node *n, struct ctl_member_status *arr, unsigned max);

/* node_routes.c: group mode's prefixes per peer (its ip4, ip6 and the
 * routes this node authorises), kernel routes, the forwarding check. */
void node_routes_peer(struct node *n, struct link *l);
void node_routes_drop(struct node *n, struct link *l);
void node_routes_start(const struct node_conf *c);

/* node_ctl.c: the control socket's view of the daemon, which /metrics
 * shares (data thread only). */
int node_ctl_open(struct node *n);
void node_ctl_fill_status(struct node *n, struct ctl_node_status *st);
void node_ctl_fill_peer(const struct node *n, const struct link *l, struct ctl_peer_status *o, uint64_t now_ms);
enum ctl_peer_state node_ctl_state(enum link_state s);
enum ctl_path node_ctl_path(const struct link *l);

/* node_metrics.c: the Prometheus exporter (metrics_address). */
int node_metrics_open(struct node *n);
void node_metrics_close(struct node *n);
/* Adds a link's traffic since the last call to the tally of the path it
 * took (its path when called: call it whenever the link may have moved,
 * and before it goes). */
void node_metrics_fold(struct node *n, struct link *l);

#endif
