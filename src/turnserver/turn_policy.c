#include "turn_policy.h"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "turn_conf.h"

/* Ranges no relay may reach: a client could otherwise use the relay to talk
 * to services bound to the server itself or its link (CVE-2020-26262 and
 * the like). 240.0.0.0/4 (reserved, including 255.255.255.255) is refused
 * too: nothing legitimate lives there and some stacks treat it as
 * broadcast. */
static bool v4_banned(const uint8_t a[4])
{
	if (a[0] == 0 || a[0] == 127)
		return true;                       /* 0.0.0.0/8, 127.0.0.0/8 */
	if (a[0] == 169 && a[1] == 254)
		return true;                       /* 169.254.0.0/16 */
	return a[0] >= 224;                        /* 224.0.0.0/4, 240.0.0.0/4 */
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static const uint8_t v4mapped_pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
static const uint8_t v4translated_pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0 };
static const uint8_t nat64_pfx[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t nat64_local_pfx[6] = { 0, 0x64, 0xff, 0x9b, 0, 1 };

/* The IPv4 address a packet to this IPv6 address would end up at, for the
 * forms that carry one in their last 32 bits: ::ffff:a.b.c.d (mapped, what
 * a dual-stack socket really sends to), ::ffff:0:a.b.c.d (SIIT) and the
 * NAT64 prefixes 64:ff9b::/96 and 64:ff9b:1::/48. */
static bool v6_embedded_v4(const uint8_t a[16], uint8_t out[4])
{
	if (memcmp(a, v4mapped_pfx, 12) == 0 || memcmp(a, v4translated_pfx, 12) == 0 ||
	    memcmp(a, nat64_pfx, 12) == 0 || memcmp(a, nat64_local_pfx, 6) == 0) {
		memcpy(out, a + 12, 4);
		return true;
	}
	return false;
}

static bool v6_banned(const uint8_t a[16])
{
	uint8_t v4[4];

	/* ::/96 holds ::, ::1 and the deprecated IPv4-compatible form
	 * (::127.0.0.1); none of it is a legitimate peer. */
	if (all_zero(a, 12))
		return true;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return true; /* fe80::/10 */
	if (a[0] == 0xff)
		return true; /* ff00::/8 */
	if (v6_embedded_v4(a, v4))
		return v4_banned(v4);
	if (a[0] == 0x20 && a[1] == 0x02)
		return v4_banned(a + 2); /* 6to4 2002:V4ADDR::/48 */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
		/* Teredo: the client's address is stored inverted. */
		uint8_t client[4] = { (uint8_t)~a[12], (uint8_t)~a[13], (uint8_t)~a[14],
				      (uint8_t)~a[15] };
		return v4_banned(client) || v4_banned(a + 4);
	}
	return false;
}

bool turn_policy_always_banned(const struct sockaddr *peer)
{
	if (!peer)
		return true;
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;
		return v4_banned((const uint8_t *)&sin->sin_addr);
	}
	if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;
		return v6_banned(sin6->sin6_addr.s6_addr);
	}
	return true;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return (a[full] & m) == (b[full] & m);
}

/* The peer as the rules see it: its own address, plus the IPv4 address it
 * stands for when it is an IPv6 spelling of one, so that IPv4 rules cover
 * ::ffff:10.0.0.1 as they cover 10.0.0.1. */
struct peer_view {
	const uint8_t *v6;
	uint8_t v4[4];
	bool has_v4;
	uint16_t port;
};

static bool rule_matches(const struct turn_addr_rule *r, const struct peer_view *p)
{
	if (r->port != 0 && r->port != p->port)
		return false;
	if (r->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&r->addr;
		return p->has_v4 && prefix_match((const uint8_t *)&sin->sin_addr, p->v4,
						 r->prefix > 32 ? 32 : r->prefix);
	}
	if (r->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&r->addr;
		return p->v6 && prefix_match(sin6->sin6_addr.s6_addr, p->v6,
					     r->prefix > 128 ? 128 : r->prefix);
	}
	return false;
}

static bool any_rule_matches(const struct turn_addr_rule *rules, unsigned n,
			     const struct peer_view *p)
{
	for (unsigned i = 0; i < n && i < TURN_CONF_MAX_RULES; i++)
		if (rule_matches(&rules[i], p))
			return true;
	return false;
}

bool turn_policy_peer_allowed(const struct turn_conf *conf, const struct sockaddr *peer)
{
	if (turn_policy_always_banned(peer))
		return false;
	if (!conf)
		return true;

	struct peer_view p = { 0 };
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;
		memcpy(p.v4, &sin->sin_addr, 4);
		p.has_v4 = true;
		p.port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;
		p.v6 = sin6->sin6_addr.s6_addr;
		p.has_v4 = v6_embedded_v4(p.v6, p.v4);
		p.port = ntohs(sin6->sin6_port);
	}

	if (any_rule_matches(conf->allowed, conf->n_allowed, &p))
		return true;
	return !any_rule_matches(conf->denied, conf->n_denied, &p);
}
