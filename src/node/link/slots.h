/* Bounded state per member. A member (bare JID) holds at most
 * `per_member` links (config "max_links_per_member", default
 * SLOTS_PER_MEMBER_DEFAULT): a new resource of a member at its cap takes
 * the place of that member's oldest link that never came up, or is
 * refused. When the whole table (LINKS_MAX) is full, a newcomer takes the
 * place of the oldest never-up link of the member holding the most links;
 * a link that is or was up is never evicted for someone else. And a link
 * that never came up and whose peer never showed presence (a resource that
 * only sent a hello or an offer) ends after SLOTS_UNSEEN_MS. So one member
 * flooding throw-away resources fills only its own slots. */
#ifndef IPOP_SLOTS_H
#define IPOP_SLOTS_H

#include <stdint.h>

#include "links.h"

enum {
	SLOTS_PER_MEMBER_DEFAULT = 4,
	SLOTS_UNSEEN_MS = 15000,
};

enum slots_verdict {
	SLOTS_ROOM,  /* create the link */
	SLOTS_EVICT, /* remove *victim first, then create */
	SLOTS_FULL,  /* refuse: *why says so */
};

/* May jid get a new link? */
enum slots_verdict slots_admit(const struct links *t, const char *jid, unsigned per_member, struct link **victim,
			       const char **why);
/* From link_handle_timeout: ends a never-up link without presence after
 * SLOTS_UNSEEN_MS (LINK_EV_GONE); lowers *d to its deadline. */
void slots_tick(struct link *l, uint64_t now_ms, uint64_t *d);

#endif
