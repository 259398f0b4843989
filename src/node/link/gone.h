/* A peer's XMPP presence and its link's life (see gone.c): an
 * "unavailable" presence alone does not end a link whose data path works,
 * since the peer may only have lost its XMPP server (a cluster member
 * stopped, the peer moving to another one). The link ends when its data
 * path dies while the peer is offline; a roster removal (REVOKED) or a
 * bye still ends it at once (node_sig.c). */
#ifndef IPOP_GONE_H
#define IPOP_GONE_H

#include <stdbool.h>
#include <stdint.h>

#include "ice_proto.h"

struct link;

enum {
	/* An offline peer's link ends after this long without proof that
	 * its data path works (an authenticated tunnel packet, or an answer
	 * to an ICE consent check): three consent intervals, as ICE checks
	 * the selected pair every 4-6 s even on an idle link. */
	GONE_SILENT_MS = 3 * ICE_CONSENT_INTERVAL_MS,
};

/* The last time the link's data path proved to work (0: never). */
uint64_t gone_heard_ms(const struct link *l);
/* The peer's "unavailable" presence. */
void gone_offline(struct link *l, uint64_t now_ms);
/* The peer is online again: whether its link must start over (the link
 * was not up, or its data path died: the peer restarted). */
bool gone_online(struct link *l, uint64_t now_ms);
/* Our own XMPP session ended: what presence said is void (a server
 * shutting down says "unavailable" for everyone first). */
void gone_xmpp_lost(struct link *l);
/* From the link's timers: queues LINK_EV_GONE when an offline peer's link
 * has no working data path; lowers *deadline to its next check. */
void gone_tick(struct link *l, uint64_t now_ms, uint64_t *deadline);

#endif
