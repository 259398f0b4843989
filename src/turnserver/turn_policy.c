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

/* Ranges refused unless an allowed_address names them: they belong to
 * networks behind the relay (RFC 1918, CGNAT RFC 6598, ULA RFC 4193 and
 * the deprecated site-local fec0::/10), which an internet client has no
 * business reaching through it. The documentation ranges (TEST-NET-1/2/3,
 * 2001:db8::/32) are not on this list: they stand for public addresses. */
static bool v4_private(const uint8_t a[4])
{
	return a[0] == 10 ||                               /* 10.0.0.0/8 */
	       (a[0] == 172 && (a[1] & 0xf0) == 16) ||     /* 172.16.0.0/12 */
	       (a[0] == 192 && a[1] == 168) ||             /* 192.168.0.0/16 */
	       (a[0] == 100 && (a[1] & 0xc0) == 64);       /* 100.64.0.0/10 */
}

static bool v6_private(const uint8_t a[16])
{
	return (a[0] & 0xfe) == 0xfc ||                    /* fc00::/7 */
	       (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0);    /* fec0::/10 */
}

/* The peer as the rules see it: its own address, plus every IPv4 address
 * a packet to it may end up at when it is an IPv6 spelling of one
 * (mapped, SIIT, NAT64, 6to4, and Teredo's server and client), so that
 * IPv4 rules cover ::ffff:10.0.0.1 and 2002:a00:1:: as they cover
 * 10.0.0.1. */
struct peer_view {
	const uint8_t *v6;      /* NULL for an IPv4 peer */
	uint8_t v4[2][4];
	unsigned nv4;
	uint16_t port;
};

static void view_of(const struct sockaddr *peer, struct peer_view *p)
{
	memset(p, 0, sizeof(*p));
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;
		memcpy(p->v4[0], &sin->sin_addr, 4);
		p->nv4 = 1;
		p->port = ntohs(sin->sin_port);
		return;
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;
	const uint8_t *a = sin6->sin6_addr.s6_addr;
	p->v6 = a;
	p->port = ntohs(sin6->sin6_port);
	if (v6_embedded_v4(a, p->v4[0])) {
		p->nv4 = 1;
	} else if (a[0] == 0x20 && a[1] == 0x02) {
		memcpy(p->v4[0], a + 2, 4);                /* 6to4 2002:V4ADDR::/48 */
		p->nv4 = 1;
	} else if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
		memcpy(p->v4[0], a + 4, 4);                /* Teredo server */
		for (int i = 0; i < 4; i++)
			p->v4[1][i] = (uint8_t)~a[12 + i]; /* client, inverted */
		p->nv4 = 2;
	}
}

static bool rule_matches(const struct turn_addr_rule *r, const struct peer_view *p)
{
	if (r->port != 0 && r->port != p->port)
		return false;
	if (r->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&r->addr;
		for (unsigned i = 0; i < p->nv4; i++)
			if (prefix_match((const uint8_t *)&sin->sin_addr, p->v4[i],
					 r->prefix > 32 ? 32 : r->prefix))
				return true;
		return false;
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

static bool view_private(const struct peer_view *p)
{
	if (p->v6 && v6_private(p->v6))
		return true;
	for (unsigned i = 0; i < p->nv4; i++)
		if (v4_private(p->v4[i]))
			return true;
	return false;
}

unsigned turn_policy_v4_of(const struct sockaddr *peer, uint8_t v4[2][4])
{
	struct peer_view p;
	if (!peer || (peer->sa_family != AF_INET && peer->sa_family != AF_INET6))
		return 0;
	view_of(peer, &p);
	memcpy(v4, p.v4, sizeof(p.v4));
	return p.nv4;
}

bool turn_policy_private(const struct sockaddr *peer)
{
	struct peer_view p;
	if (!peer || (peer->sa_family != AF_INET && peer->sa_family != AF_INET6))
		return false;
	view_of(peer, &p);
	return view_private(&p);
}

bool turn_policy_peer_allowed(const struct turn_conf *conf, const struct sockaddr *peer)
{
	struct peer_view p;

	if (turn_policy_always_banned(peer))
		return false;
	view_of(peer, &p);
	if (conf && any_rule_matches(conf->allowed, conf->n_allowed, &p))
		return true;
	if (view_private(&p))
		return false;
	return !conf || !any_rule_matches(conf->denied, conf->n_denied, &p);
}
