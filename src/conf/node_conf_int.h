/* Inside src/conf only: what the key handlers in node_conf_net.c (the IPv6
 * overlay and router-mode keys) share with node_conf.c, the loader and its
 * diagnostics. Not for other layers. */
#ifndef IPOP_NODE_CONF_INT_H
#define IPOP_NODE_CONF_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "json_pos.h"
#include "node_conf.h"

/* One load: the config being filled and where diagnostics go. */
struct ctx {
	struct node_conf *c;
	const char *file;
	FILE *diag;
	struct json_pos *pos;
	int errors;
};

/* "FILE:LINE:COL: key "WHERE": ..." as an error (counted) or a warning
 * (pointing at the key). */
void node_conf_error(struct ctx *x, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void node_conf_warn(struct ctx *x, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "expected WHAT, got VALUE". */
void node_conf_expected(struct ctx *x, const char *where, const char *what, const json_t *v);
/* A boolean, or an integer lo..hi, into *out; false (an error said)
 * when v is not one. */
bool node_conf_get_bool(struct ctx *x, const char *where, const json_t *v, bool *out);
bool node_conf_get_uint(struct ctx *x, const char *where, const json_t *v, unsigned lo, unsigned hi, unsigned *out);
/* A short JSON rendering of v for messages. */
const char *node_conf_describe(const json_t *v, char buf[80]);
/* "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 literal (n
 * bytes of s): NULL and *host (malloc'd) and *port (0 when none is given),
 * else the reason. */
const char *node_conf_split_hostport(const char *s, size_t n, char **host, uint16_t *port);
/* NULL when s is a bare JID (user@domain), else why not. */
const char *node_conf_bare_jid_why(const char *s);

/* node_conf_net.c: the key handlers, and the checks that need several
 * keys (called once every key was read without error). */
void node_conf_net_ip6(struct ctx *x, const char *k, const json_t *v);
void node_conf_net_ip6_mask(struct ctx *x, const char *k, const json_t *v);
void node_conf_net_ip6_prefix(struct ctx *x, const char *k, const json_t *v);
void node_conf_net_routes(struct ctx *x, const char *k, const json_t *v);
void node_conf_net_accept_routes(struct ctx *x, const char *k, const json_t *v);
void node_conf_net_router_mode(struct ctx *x, const char *k, const json_t *v);
void node_conf_net_check(struct ctx *x, const json_t *root);
void node_conf_net_free(struct node_conf *c);

/* node_conf_nat.c: NAT traversal keys (docs/config.md, docs/nat.md). */
void node_conf_nat_prime_ttl(struct ctx *x, const char *k, const json_t *v);
void node_conf_nat_full_size(struct ctx *x, const char *k, const json_t *v);
void node_conf_nat_tunnel_candidates(struct ctx *x, const char *k, const json_t *v);
void node_conf_nat_hard_sockets(struct ctx *x, const char *k, const json_t *v);
void node_conf_nat_hard_ports(struct ctx *x, const char *k, const json_t *v);
void node_conf_nat_xmpp_services(struct ctx *x, const char *k, const json_t *v);

/* node_conf_trust.c: trust_file, address_map_file, max_links_per_member. */
void node_conf_trust_file(struct ctx *x, const char *k, const json_t *v);
void node_conf_address_map_file(struct ctx *x, const char *k, const json_t *v);
void node_conf_max_links_per_member(struct ctx *x, const char *k, const json_t *v);
int node_conf_trust_defaults(struct node_conf *c);
void node_conf_trust_free(struct node_conf *c);

/* node_conf_overlay.c: GroupVPN at scale (max_links, the original
 * multihop and on-demand keys). */
void node_conf_ovl_max_links(struct ctx *x, const char *k, const json_t *v);
void node_conf_ovl_multihop(struct ctx *x, const char *k, const json_t *v);
void node_conf_ovl_hop_limit(struct ctx *x, const char *k, const json_t *v);
void node_conf_ovl_unused(struct ctx *x, const char *k, const json_t *v);
void node_conf_ovl_on_demand(struct ctx *x, const char *k, const json_t *v);
void node_conf_ovl_demand_timeout(struct ctx *x, const char *k, const json_t *v);
void node_conf_ovl_demand_bps(struct ctx *x, const char *k, const json_t *v);
void node_conf_ovl_trim(struct ctx *x, const char *k, const json_t *v);
void node_conf_ovl_check(struct ctx *x, const json_t *root);
/* node_conf_obs.c: keys for observing the node. */
void node_conf_obs_metrics_address(struct ctx *x, const char *k, const json_t *v);
/* node_conf_xmpp.c: "xmpp_host", one server or a list. */
void node_conf_xmpp_host(struct ctx *x, const char *k, const json_t *v);
void node_conf_xmpp_free(struct node_conf *c);

#endif
