/* What a peer announces besides its key and ip4 — its IPv6 overlay address
 * and the subnets it routes (docs/ipv6.md) — and what the daemon made of
 * it. The link core fills link_net from offers and answers (link_sig.c);
 * it is data carried alongside ip4 and never interpreted here. The daemon
 * (node_routes.c) decides what to own for the peer in the prefix table and
 * keeps the outcome in link_owned, which ipopctl shows. */
#ifndef IPOP_LINK_NET_H
#define IPOP_LINK_NET_H

#include <netinet/in.h>
#include <stdbool.h>

#include "ip_prefix.h"
#include "signal_msg.h"

enum { LINK_NET_WHY_LEN = 96 }; /* a refusal's reason + NUL (CTL_ROUTE_WHY_LEN) */

struct link_net {
	bool has_ip6;
	struct in6_addr ip6;
	unsigned n_routes;
	struct ip_prefix routes[SIGNAL_MAX_ROUTES];
};

struct link_refused {
	struct ip_prefix prefix;
	char why[LINK_NET_WHY_LEN];
};

struct link_owned {
	bool ip6;                 /* its /128 is in the prefix table */
	char ip6_why[LINK_NET_WHY_LEN]; /* why an announced ip6 is not ("" when it is) */
	unsigned n_routes;        /* installed routes, in the order announced */
	struct ip_prefix routes[SIGNAL_MAX_ROUTES];
	bool kroute[SIGNAL_MAX_ROUTES]; /* the kernel route is ours (added, to delete) */
	unsigned n_refused;
	struct link_refused refused[SIGNAL_MAX_ROUTES];
};

#endif
