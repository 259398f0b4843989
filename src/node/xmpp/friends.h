/* ipopd's view of its friends for `ipopctl friends`: roster contacts with
 * their subscription and pending flags, and requests waiting for an
 * accept. Fed by the signalling thread's friend events (xmpp_signal.h),
 * owned by the data thread. No I/O. */
#ifndef IPOP_FRIENDS_H
#define IPOP_FRIENDS_H

#include <stdbool.h>
#include <stddef.h>

#include "xmpp_signal.h"

struct node_friend {
	char *bare;
	enum roster_sub sub; /* ROSTER_SUB_NONE for a request only */
	bool ask;            /* we asked; no answer yet */
	bool request;        /* they asked; waiting for our accept */
	bool in_roster;
};

struct friends {
	struct node_friend *f;
	size_t n, cap;
};

void friends_init(struct friends *fl);
void friends_free(struct friends *fl);
void friends_event(struct friends *fl, enum xmpp_friend_ev ev, const char *bare, enum roster_sub sub, bool ask);
const struct node_friend *friends_find(const struct friends *fl, const char *bare);
const char *friends_sub_name(enum roster_sub sub);

#endif
