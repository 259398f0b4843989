/* config.json keys for NAT traversal (docs/config.md, docs/nat.md):
 * low-TTL priming, full-size path checks, host candidates on other
 * tunnels' interfaces, multi-port probing for hard NATs, and STUN/TURN
 * servers from the XMPP server (XEP-0215). */
#include "node_conf_int.h"

void node_conf_nat_prime_ttl(struct ctx *x, const char *k, const json_t *v)
{
	unsigned t;
	if (!node_conf_get_uint(x, k, v, 0, NODE_CONF_MAX_PRIME_TTL, &t))
		return;
	if (t == 1)
		node_conf_warn(x, k, "a TTL of 1 never passes the first router: no NAT is primed");
	x->c->nat_prime_ttl = t;
}

void node_conf_nat_full_size(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_bool(x, k, v, &x->c->full_size_checks);
}

void node_conf_nat_tunnel_candidates(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_bool(x, k, v, &x->c->tunnel_candidates);
}

void node_conf_nat_hard_sockets(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_uint(x, k, v, 0, NODE_CONF_MAX_HARD, &x->c->hard_nat_sockets);
}

void node_conf_nat_hard_ports(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_uint(x, k, v, 0, NODE_CONF_MAX_HARD, &x->c->hard_nat_ports);
}

void node_conf_nat_xmpp_services(struct ctx *x, const char *k, const json_t *v)
{
	node_conf_get_bool(x, k, v, &x->c->xmpp_services);
}
