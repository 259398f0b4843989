/* config.json keys for NAT traversal (docs/config.md, docs/nat.md):
 * low-TTL priming, full-size path checks, host candidates on other
 * tunnels' interfaces, multi-port probing for hard NATs, and STUN/TURN
 * servers from the XMPP server (XEP-0215). */
#include "node_conf_int.h"

static bool get_bool(struct ctx *x, const char *k, const json_t *v, bool *out)
{
	if (!json_is_boolean(v)) {
		node_conf_expected(x, k, "true or false", v);
		return false;
	}
	*out = json_is_true(v);
	return true;
}

static bool get_uint(struct ctx *x, const char *k, const json_t *v, unsigned max, unsigned *out)
{
	char what[64];
	snprintf(what, sizeof(what), "an integer from 0 to %u", max);
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t)max) {
		node_conf_expected(x, k, what, v);
		return false;
	}
	*out = (unsigned)json_integer_value(v);
	return true;
}

void node_conf_nat_prime_ttl(struct ctx *x, const char *k, const json_t *v)
{
	unsigned t;
	if (!get_uint(x, k, v, NODE_CONF_MAX_PRIME_TTL, &t))
		return;
	if (t == 1)
		node_conf_warn(x, k, "a TTL of 1 never passes the first router: no NAT is primed");
	x->c->nat_prime_ttl = t;
}

void node_conf_nat_full_size(struct ctx *x, const char *k, const json_t *v)
{
	get_bool(x, k, v, &x->c->full_size_checks);
}

void node_conf_nat_tunnel_candidates(struct ctx *x, const char *k, const json_t *v)
{
	get_bool(x, k, v, &x->c->tunnel_candidates);
}

void node_conf_nat_hard_sockets(struct ctx *x, const char *k, const json_t *v)
{
	get_uint(x, k, v, NODE_CONF_MAX_HARD, &x->c->hard_nat_sockets);
}

void node_conf_nat_hard_ports(struct ctx *x, const char *k, const json_t *v)
{
	get_uint(x, k, v, NODE_CONF_MAX_HARD, &x->c->hard_nat_ports);
}

void node_conf_nat_xmpp_services(struct ctx *x, const char *k, const json_t *v)
{
	get_bool(x, k, v, &x->c->xmpp_services);
}
