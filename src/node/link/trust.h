/* What a member may announce about itself over XMPP. The XMPP server is
 * trusted to say who is a member (the roster) and which account a message
 * comes from; members are not trusted with each other's identities or
 * addresses. Every signalling message is judged here before a link sees
 * it (node_sig.c):
 *
 *   - its key must hash to the node id of its resource "ipop-<id>";
 *   - that node id must not be pinned to another member (pins.h);
 *   - group mode: the addresses it claims (ip4, and ip6 when this node has
 *     an ip6) must be usable in the overlay, not owned by another member
 *     (owners.h), and not in use by a live link of another member. A
 *     refused ip4 refuses the message; a refused ip6 is cleared from it
 *     (refused, logged and shown the same way), and the member links
 *     IPv4 only.
 *
 * A refusal is logged once a minute per JID and reason (the rest at debug
 * level), counted, and kept for ipopctl. Sans-IO: the daemon gives the wall
 * clock in seconds and persists pins and owners (trust_state.c). */
#ifndef IPOP_TRUST_H
#define IPOP_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "links.h"
#include "owners.h"
#include "pins.h"
#include "signal_msg.h"
#include "signal_presence.h"

enum {
	TRUST_REFUSALS = 16,       /* recent refusals kept for ipopctl */
	TRUST_WHY_LEN = 192,
	TRUST_LOG_INTERVAL_S = 60, /* the same refusal is logged at most this often */
};

struct trust_refusal {
	char jid[XMPP_JID_MAX];
	char why[TRUST_WHY_LEN];
	int64_t at_s, logged_s;
	uint64_t count;
};

struct trust {
	struct pins pins;
	struct owners owners;
	bool group; /* addresses are checked (group mode; social mode maps them) */
	uint64_t refused;
	struct trust_refusal ref[TRUST_REFUSALS];
	unsigned nref;
};

void trust_init(struct trust *tr, bool group, struct in_addr self, unsigned mask);
void trust_free(struct trust *tr);
/* NULL when the message from jid may go to its link, else why not. t is
 * the link table (links of other members that hold the address). A
 * refused ip6 is cleared from *m (m->has_ip6) and the rest goes on. */
const char *trust_judge(struct trust *tr, const struct links *t, const char *jid, struct signal_msg *m,
			int64_t now_s);
/* A member's presence (signal_presence.h) names its key and overlay
 * address for the overlay (members reached without a direct link). The
 * same rules as for signalling: a key that is not its node id's or whose
 * node id is pinned to another member, and (group mode) addresses it
 * may not use, are cleared from *p, counted and logged like a refused
 * message. Returns how many of them (key, ip4, ip6) were cleared. */
unsigned trust_judge_presence(struct trust *tr, const struct links *t, const char *jid, struct signal_presence *p,
			      int64_t now_s);
/* The link is up (a handshake proved its key): its member owns the
 * addresses it announced (ip4, and the ip6 trust_judge let through) from
 * now on. */
void trust_link_up(struct trust *tr, const struct link *l, int64_t now_s);
/* jid's latest refusal, or NULL. */
const struct trust_refusal *trust_refusal_of(const struct trust *tr, const char *jid);
/* "ipopctl pin forget WHAT": a member's (bare JID) pins and addresses, a
 * node id's pin, or an address's owner. */
void trust_forget(struct trust *tr, const char *what, size_t *pins, size_t *owners);
/* The trust file (its format: docs/security.md), parsed and written a line
 * at a time by the daemon: "# comment", "pin ...", "owner ...". NULL, or
 * why a line is refused (the caller names file and line). */
const char *trust_parse_line(struct trust *tr, const char *line);
/* The file's lines one by one (*cursor starts at 0, a header first);
 * false at the end. Mapped owners are the map's, not saved. */
bool trust_next_line(const struct trust *tr, size_t *cursor, char *buf, size_t cap);
/* Pins or owners changed since the last trust_saved(). */
bool trust_dirty(const struct trust *tr);
void trust_saved(struct trust *tr);

#endif
