/* config.json keys for IPv6 on the overlay and for routes behind nodes
 * (docs/config.md, docs/ipv6.md): ip6, ip6_mask, ip6_prefix (the
 * original's), routes, accept_routes and the original's router_mode. */
#include "node_conf_int.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static const char *const PREFIX_EXAMPLE = "a prefix string like \"10.77.0.0/24\" or \"fd00:77::/64\"";

/* ---- ip6, ip6_mask, ip6_prefix ---- */

void node_conf_net_ip6(struct ctx *x, const char *k, const json_t *v)
{
	const char *what = "an IPv6 address string like \"fd00::100\"";
	struct in6_addr a;
	if (!json_is_string(v) || inet_pton(AF_INET6, json_string_value(v), &a) != 1) {
		node_conf_expected(x, k, what, v);
		return;
	}
	const char *why = ip_addr_unusable(AF_INET6, &a);
	if (why) {
		char b[80];
		node_conf_error(x, k, "expected a unicast IPv6 address (fd00::/8 suits an overlay), got %s: it %s",
				node_conf_describe(v, b), why);
		return;
	}
	x->c->ip6 = a;
	x->c->has_ip6 = true;
}

void node_conf_net_ip6_mask(struct ctx *x, const char *k, const json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 16 || json_integer_value(v) > 126) {
		node_conf_expected(x, k, "an integer from 16 to 126 (prefix length)", v);
		return;
	}
	x->c->ip6_mask = (unsigned)json_integer_value(v);
}

/* The original wrote the first 64 bits as four groups ("fd50:0dbc:41f2:4a3c");
 * "fd50:dbc:41f2:4a3c::" and "fd50:dbc:41f2:4a3c::/64" mean the same. */
static const char *parse_prefix64(const char *s, struct ip_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t n = strlen(s), colons = 0;
	for (size_t i = 0; i < n; i++)
		colons += s[i] == ':';
	if (n + 5 >= sizeof(buf))
		return "too long";
	if (strchr(s, '/'))
		snprintf(buf, sizeof(buf), "%s", s);
	else if (colons == 3 && !strstr(s, "::"))
		snprintf(buf, sizeof(buf), "%s::/64", s);
	else
		snprintf(buf, sizeof(buf), "%s/64", s);
	bool host_bits;
	const char *why = ip_prefix_parse(buf, p, &host_bits);
	if (why)
		return host_bits ? "only the first 64 bits may be set" : why;
	if (p->family != AF_INET6 || p->len != 64)
		return "the prefix is 64 bits (the node's address is these 64 bits and 64 of its own)";
	return ip_prefix_unroutable(p);
}

void node_conf_net_ip6_prefix(struct ctx *x, const char *k, const json_t *v)
{
	const char *what = "the first 64 bits of an IPv6 address, like \"fd50:0dbc:41f2:4a3c\"";
	if (!json_is_string(v)) {
		node_conf_expected(x, k, what, v);
		return;
	}
	const char *why = parse_prefix64(json_string_value(v), &x->c->ip6_prefix);
	if (why) {
		char b[80];
		node_conf_error(x, k, "expected %s, got %s: %s", what, node_conf_describe(v, b), why);
		return;
	}
	x->c->has_ip6_prefix = true;
}

/* The original IPOP's address: the prefix's 64 bits, then the first 64
 * bits of SHA-1 over ip4 as text (its uid, gen_ip6(gen_uid(ip4))). */
static bool derive_ip6(struct node_conf *c)
{
	char text[INET_ADDRSTRLEN];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!inet_ntop(AF_INET, &c->ip4, text, sizeof(text)) ||
	    EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen < 8)
		return false;
	memcpy(c->ip6.s6_addr, c->ip6_prefix.addr, 8);
	memcpy(c->ip6.s6_addr + 8, md, 8);
	return true;
}

/* ---- routes, accept_routes ---- */

/* One prefix string of a list, checked alone: canonical and routable. */
static bool get_prefix(struct ctx *x, const char *where, const json_t *v, struct ip_prefix *p)
{
	char b[80], fixed[IP_PREFIX_STRLEN];
	bool host_bits;
	if (!json_is_string(v)) {
		node_conf_expected(x, where, PREFIX_EXAMPLE, v);
		return false;
	}
	const char *why = ip_prefix_parse(json_string_value(v), p, &host_bits);
	if (why && host_bits) {
		node_conf_error(x, where, "expected %s, got %s: host bits are set (did you mean \"%s\"?)",
				PREFIX_EXAMPLE, node_conf_describe(v, b), ip_prefix_format(p, fixed));
		return false;
	}
	if (!why)
		why = ip_prefix_unroutable(p);
	if (why) {
		node_conf_error(x, where, "expected %s, got %s: %s", PREFIX_EXAMPLE, node_conf_describe(v, b), why);
		return false;
	}
	return true;
}

/* Reads an array of at most max prefixes into out; a prefix overlapping
 * an earlier one of the same list is an error. Returns how many. */
static unsigned get_prefix_list(struct ctx *x, const char *k, const json_t *v, struct ip_prefix *out,
				unsigned max)
{
	char what[96], where[640], a[IP_PREFIX_STRLEN];
	unsigned n = 0;
	snprintf(what, sizeof(what), "an array of at most %u prefix strings like \"10.77.0.0/24\"", max);
	if (!json_is_array(v) || json_array_size(v) > max) {
		node_conf_expected(x, k, what, v);
		return 0;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		struct ip_prefix p;
		snprintf(where, sizeof(where), "%.600s[%zu]", k, i);
		if (!get_prefix(x, where, json_array_get(v, i), &p))
			continue;
		unsigned j = 0;
		while (j < n && !ip_prefix_overlaps(&out[j], &p))
			j++;
		if (j < n) {
			node_conf_error(x, where, "%s overlaps %s, listed before", json_string_value(json_array_get(v, i)),
					ip_prefix_format(&out[j], a));
			continue;
		}
		out[n++] = p;
	}
	return n;
}

void node_conf_net_routes(struct ctx *x, const char *k, const json_t *v)
{
	x->c->n_routes = get_prefix_list(x, k, v, x->c->routes, NODE_CONF_MAX_ROUTES);
}

/* "accept_routes": {"bob@example.org": ["10.77.0.0/24", "fd00:77::/64"]}:
 * which member may route which prefixes (or parts of them) for us. Only
 * exact JIDs: a pattern would let any account of a domain claim a LAN. */
void node_conf_net_accept_routes(struct ctx *x, const char *k, const json_t *v)
{
	struct node_conf *c = x->c;
	if (!json_is_object(v) || json_object_size(v) > NODE_CONF_MAX_ACCEPT) {
		node_conf_expected(x, k, "an object of at most 64 \"user@domain\": [\"prefix\", ...] members", v);
		return;
	}
	const char *jid;
	json_t *e;
	json_object_foreach((json_t *)v, jid, e) {
		char where[600];
		snprintf(where, sizeof(where), "%s.%.500s", k, jid);
		const char *why = strchr(jid, '*') ? "a pattern would let any matching account claim the prefixes"
						   : node_conf_bare_jid_why(jid);
		if (why) {
			node_conf_error(x, where, "the member name must be a bare JID: %s", why);
			continue;
		}
		if (node_conf_accept_for(c, jid)) {
			node_conf_error(x, where, "%s is listed twice (JIDs compare without case)", jid);
			continue;
		}
		struct node_accept *a = &c->accept[c->n_accept];
		a->n = get_prefix_list(x, where, e, a->prefixes, NODE_CONF_MAX_ACCEPT_PREFIXES);
		a->jid = strdup(jid);
		if (!a->jid) {
			node_conf_error(x, NULL, "out of memory");
			return;
		}
		c->n_accept++;
	}
}

/* The original's router mode put the LAN's network in ip4, the same
 * router_ip on every node and each LAN's size in subnet_mask; ipopd gives
 * each node an overlay address of its own and names LANs in "routes". */
void node_conf_net_router_mode(struct ctx *x, const char *k, const json_t *v)
{
	bool on;
	if (!node_conf_get_bool(x, k, v, &on) || !on)
		return; /* false: what ipopd does without "routes" */
	node_conf_warn(x, k,
		       "not honoured: the original's router mode gave every node the same \"router_ip\" and put its "
		       "LAN's network in \"ip4\"; ipopd needs an overlay address per node in \"ip4\" and the LAN in "
		       "\"routes\" (e.g. \"routes\": [\"192.168.1.0/24\"]), authorised on the other nodes with "
		       "\"accept_routes\" (docs/ipv6.md)");
}

/* ---- checks across keys ---- */

unsigned node_conf_overlay_subnets(const struct node_conf *c, struct ip_prefix out[2])
{
	unsigned n = 0;
	ip_prefix_from_addr(&out[n], AF_INET, &c->ip4);
	out[n].len = (uint8_t)c->ip4_mask;
	ip_prefix_mask(&out[n++]);
	if (c->has_ip6) {
		ip_prefix_from_addr(&out[n], AF_INET6, &c->ip6);
		out[n].len = (uint8_t)c->ip6_mask;
		ip_prefix_mask(&out[n++]);
	}
	return n;
}

/* Social mode is IPv4-only and has no routes: each user's address space
 * is their own, so neither can be shared (docs/ipv6.md). */
static void social_drops(struct ctx *x, const json_t *root)
{
	struct node_conf *c = x->c;
	static const char *const keys[] = { "ip6", "ip6_mask", "ip6_prefix", "routes", "accept_routes" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_get(root, keys[i]))
			node_conf_warn(x, keys[i], "ignored: social mode is IPv4-only and routes no subnets "
						   "(docs/ipv6.md)");
	node_conf_net_free(c);
	c->has_ip6 = c->ip6_derived = c->has_ip6_prefix = false;
	memset(&c->ip6, 0, sizeof(c->ip6));
	c->ip6_mask = NODE_CONF_DEFAULT_IP6_MASK;
	c->n_routes = 0;
}

static void check_ip6(struct ctx *x, const json_t *root)
{
	struct node_conf *c = x->c;
	char b[INET6_ADDRSTRLEN];
	if (!c->has_ip6 && c->has_ip6_prefix) {
		if (json_object_get(root, "ip6_mask") && c->ip6_mask > 64) {
			node_conf_error(x, "ip6_mask", "at most 64 with \"ip6_prefix\" (the address is made of the "
						       "prefix and 64 bits of the node's own)");
			return;
		}
		if (!derive_ip6(c)) {
			node_conf_error(x, "ip6_prefix", "cannot derive the address (SHA-1 unavailable)");
			return;
		}
		c->has_ip6 = c->ip6_derived = true;
	}
	if (!c->has_ip6) {
		if (json_object_get(root, "ip6_mask"))
			node_conf_warn(x, "ip6_mask", "ignored without \"ip6\" or \"ip6_prefix\"");
		return;
	}
	const char *key = c->ip6_derived ? "ip6_prefix" : "ip6";
	struct ip_prefix net;
	ip_prefix_from_addr(&net, AF_INET6, &c->ip6);
	net.len = (uint8_t)c->ip6_mask;
	ip_prefix_mask(&net);
	if (!memcmp(net.addr, c->ip6.s6_addr, 16))
		node_conf_error(x, key, "%s is the Subnet-Router anycast address of its /%u (host bits all zero)",
				inet_ntop(AF_INET6, &c->ip6, b, sizeof(b)), c->ip6_mask);
	if (c->mtu < NODE_CONF_MIN_IP6_MTU)
		node_conf_error(x, "mtu", "at least %d with IPv6 on the overlay (RFC 8200; Linux turns IPv6 off on a "
					  "smaller link), got %u", NODE_CONF_MIN_IP6_MTU, c->mtu);
}

/* A route must not reach into the overlay; an IPv6 one needs our ip6 (the
 * LAN's replies go to members' IPv6 overlay addresses). Runs only when
 * every key was read without error, so r[i] is element i of key k. */
static void check_route_list(struct ctx *x, const char *k, const struct ip_prefix *r, unsigned n)
{
	struct ip_prefix nets[2];
	unsigned nn = node_conf_overlay_subnets(x->c, nets);
	char a[IP_PREFIX_STRLEN], o[IP_PREFIX_STRLEN], where[640];
	for (unsigned i = 0; i < n; i++) {
		snprintf(where, sizeof(where), "%.600s[%u]", k, i);
		for (unsigned j = 0; j < nn; j++)
			if (ip_prefix_overlaps(&r[i], &nets[j]))
				node_conf_error(x, where, "%s overlaps the overlay's own subnet %s",
						ip_prefix_format(&r[i], a), ip_prefix_format(&nets[j], o));
		if (r[i].family == AF_INET6 && !x->c->has_ip6)
			node_conf_error(x, where, "%s is IPv6 but this node has no \"ip6\"", ip_prefix_format(&r[i], a));
		for (unsigned j = 0; strcmp(k, "routes") != 0 && j < x->c->n_routes; j++)
			if (ip_prefix_overlaps(&r[i], &x->c->routes[j]))
				node_conf_error(x, where, "%s overlaps %s, which this node routes itself",
						ip_prefix_format(&r[i], a), ip_prefix_format(&x->c->routes[j], o));
	}
}

static void check_routes(struct ctx *x)
{
	struct node_conf *c = x->c;
	char where[600];
	check_route_list(x, "routes", c->routes, c->n_routes);
	for (unsigned m = 0; m < c->n_accept; m++) {
		snprintf(where, sizeof(where), "accept_routes.%.500s", c->accept[m].jid);
		check_route_list(x, where, c->accept[m].prefixes, c->accept[m].n);
	}
}

void node_conf_net_check(struct ctx *x, const json_t *root)
{
	if (x->c->mode == NODE_MODE_SOCIAL) {
		social_drops(x, root);
		return;
	}
	check_ip6(x, root);
	check_routes(x);
}

void node_conf_net_free(struct node_conf *c)
{
	for (unsigned i = 0; i < c->n_accept; i++)
		free(c->accept[i].jid);
	c->n_accept = 0;
}

/* ---- queries for the daemon ---- */

const struct node_accept *node_conf_accept_for(const struct node_conf *c, const char *bare_jid)
{
	for (unsigned i = 0; i < c->n_accept; i++)
		if (c->accept[i].jid && strcasecmp(c->accept[i].jid, bare_jid) == 0)
			return &c->accept[i];
	return NULL;
}

const char *node_conf_route_refusal(const struct node_conf *c, const char *bare_jid, const struct ip_prefix *p,
				    char *buf, size_t cap)
{
	char a[IP_PREFIX_STRLEN], o[IP_PREFIX_STRLEN];
	struct ip_prefix nets[2];
	const struct node_accept *e = c->mode == NODE_MODE_GROUP ? node_conf_accept_for(c, bare_jid) : NULL;
	const char *why = ip_prefix_unroutable(p);
	ip_prefix_format(p, a);
	if (why) {
		snprintf(buf, cap, "%s: %s", a, why);
		return buf;
	}
	unsigned nn = node_conf_overlay_subnets(c, nets);
	for (unsigned j = 0; j < nn; j++)
		if (ip_prefix_overlaps(p, &nets[j])) {
			snprintf(buf, cap, "%s overlaps the overlay's subnet %s", a, ip_prefix_format(&nets[j], o));
			return buf;
		}
	for (unsigned j = 0; j < c->n_routes; j++)
		if (ip_prefix_overlaps(p, &c->routes[j])) {
			snprintf(buf, cap, "%s overlaps %s, which this node routes", a, ip_prefix_format(&c->routes[j], o));
			return buf;
		}
	if (p->family == AF_INET6 && !c->has_ip6) {
		snprintf(buf, cap, "%s is IPv6 and this node has no \"ip6\"", a);
		return buf;
	}
	for (unsigned i = 0; e && i < e->n; i++)
		if (ip_prefix_contains(&e->prefixes[i], p))
			return NULL;
	snprintf(buf, cap, "%s is not authorised for %s (\"accept_routes\")", a, bare_jid);
	return buf;
}
