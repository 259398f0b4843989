/* ipopctl netcheck's classification (see netcheck.h). */
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "netcheck.h"

static bool same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

static uint16_t port_of(const struct sockaddr *a)
{
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_port;
	if (a->sa_family == AF_INET6)
		return ((const struct sockaddr_in6 *)a)->sin6_port;
	return 0;
}

/* Answers from servers at distinct IP addresses: two ports of one IP
 * show only port dependence, which is no finer than address dependence
 * for hole punching, so they count as one server. */
static unsigned distinct_server_ips(const struct netcheck_stun *s, unsigned n)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!s[i].answered)
			continue;
		bool seen = false;
		for (unsigned j = 0; j < i && !seen; j++)
			seen = s[j].answered && same_ip((const struct sockaddr *)&s[j].server,
							(const struct sockaddr *)&s[i].server);
		k += !seen;
	}
	return k;
}

void netcheck_classify(const struct sockaddr *local, const struct netcheck_stun *s, unsigned n,
		       struct netcheck_result *out)
{
	const struct sockaddr *first = NULL;
	bool all_same = true, own = true;

	memset(out, 0, sizeof(*out));
	out->asked = n;
	out->port_preserved = true;
	for (unsigned i = 0; i < n; i++) {
		if (!s[i].answered)
			continue;
		const struct sockaddr *m = (const struct sockaddr *)&s[i].mapped;
		out->answered++;
		if (!first) {
			first = m;
			memcpy(&out->public_addr, &s[i].mapped, sizeof(out->public_addr));
		} else if (!addr_equal(first, m)) {
			all_same = false;
		}
		if (port_of(m) != port_of(local))
			out->port_preserved = false;
		if (!same_ip(m, local) || port_of(m) != port_of(local))
			own = false;
	}
	out->udp = out->answered > 0;
	if (!out->udp) {
		out->port_preserved = false;
		out->mapping = NETCHECK_MAP_UNKNOWN;
	} else if (!all_same) {
		out->mapping = NETCHECK_MAP_DEPENDENT; /* a difference needs no second IP to be real */
	} else if (own) {
		out->mapping = NETCHECK_MAP_NONE;
	} else if (distinct_server_ips(s, n) < 2) {
		out->mapping = NETCHECK_MAP_SINGLE;
	} else {
		out->mapping = NETCHECK_MAP_INDEPENDENT;
	}
}

/* ---- RFC 5780 (4.3 mapping, 4.4 filtering) ---- */

static enum netcheck_mapping mapping_5780(const struct netcheck_5780 *d)
{
	const struct sockaddr *m1 = (const struct sockaddr *)&d->mapped[0];
	if (addr_equal(m1, (const struct sockaddr *)&d->local))
		return NETCHECK_MAP_NONE;
	if (!d->map_ok[1])
		return NETCHECK_MAP_UNKNOWN;
	if (addr_equal((const struct sockaddr *)&d->mapped[1], m1))
		return NETCHECK_MAP_INDEPENDENT;
	if (!d->map_ok[2])
		return NETCHECK_MAP_DEPENDENT; /* address-dependent at least */
	return addr_equal((const struct sockaddr *)&d->mapped[2], (const struct sockaddr *)&d->mapped[1])
		       ? NETCHECK_MAP_DEPENDENT
		       : NETCHECK_MAP_ADDRESS_PORT;
}

void netcheck_classify_5780(const struct netcheck_5780 *d, struct netcheck_result *out)
{
	if (!d->map_ok[0] || d->other.ss_family == AF_UNSPEC)
		return;
	enum netcheck_mapping m = mapping_5780(d);
	if (m != NETCHECK_MAP_UNKNOWN) {
		out->mapping = m;
		out->rfc5780 = true;
	}
	if (d->filt_ran) {
		out->filtering = d->filt_both   ? NETCHECK_FILTER_INDEPENDENT
				 : d->filt_port ? NETCHECK_FILTER_ADDRESS
						: NETCHECK_FILTER_ADDRESS_PORT;
		out->rfc5780 = true;
	}
}

/* ---- which pairs link directly ---- */

static bool easy(enum netcheck_mapping m)
{
	return m == NETCHECK_MAP_NONE || m == NETCHECK_MAP_INDEPENDENT;
}

static bool hard(enum netcheck_mapping m)
{
	return m == NETCHECK_MAP_DEPENDENT || m == NETCHECK_MAP_ADDRESS_PORT;
}

/* Does x's first check reach y? It is sent to y's server-reflexive
 * address, which is y's mapping towards x too only when y's mapping is
 * endpoint-independent; it passes y's filter when that admits anyone, any
 * port of the IP y's own checks went to (x's NAT has one public IP), or
 * exactly the address y sent to, which is where x's check comes from only
 * when x's mapping is endpoint-independent as well. Once one check gets
 * through, the answer goes back on the same mappings and passes. */
static enum netcheck_direct reach(enum netcheck_mapping mx, enum netcheck_mapping my,
				  enum netcheck_filtering fy)
{
	if (hard(my))
		return NETCHECK_DIRECT_NO;
	if (!easy(my))
		return NETCHECK_DIRECT_UNKNOWN;
	if (fy == NETCHECK_FILTER_INDEPENDENT || fy == NETCHECK_FILTER_ADDRESS || easy(mx))
		return NETCHECK_DIRECT_YES;
	if (fy == NETCHECK_FILTER_ADDRESS_PORT && hard(mx))
		return NETCHECK_DIRECT_NO;
	return NETCHECK_DIRECT_UNKNOWN;
}

enum netcheck_direct netcheck_predict_direct(enum netcheck_mapping ma, enum netcheck_filtering fa,
					     enum netcheck_mapping mb, enum netcheck_filtering fb)
{
	enum netcheck_direct ab = reach(ma, mb, fb), ba = reach(mb, ma, fa);
	if (ab == NETCHECK_DIRECT_YES || ba == NETCHECK_DIRECT_YES)
		return NETCHECK_DIRECT_YES;
	if (ab == NETCHECK_DIRECT_NO && ba == NETCHECK_DIRECT_NO)
		return NETCHECK_DIRECT_NO;
	return NETCHECK_DIRECT_UNKNOWN;
}

const char *netcheck_direct_name(enum netcheck_direct d)
{
	return d == NETCHECK_DIRECT_YES ? "yes" : d == NETCHECK_DIRECT_NO ? "no" : "unknown";
}

const struct netcheck_peer_kind netcheck_peer_kinds[NETCHECK_PEER_KINDS] = {
	{ "no-nat", NETCHECK_MAP_NONE, NETCHECK_FILTER_INDEPENDENT },
	{ "full-cone", NETCHECK_MAP_INDEPENDENT, NETCHECK_FILTER_INDEPENDENT },
	{ "restricted-cone", NETCHECK_MAP_INDEPENDENT, NETCHECK_FILTER_ADDRESS },
	{ "port-restricted-cone", NETCHECK_MAP_INDEPENDENT, NETCHECK_FILTER_ADDRESS_PORT },
	{ "symmetric", NETCHECK_MAP_ADDRESS_PORT, NETCHECK_FILTER_ADDRESS_PORT },
};

const char *netcheck_filtering_name(enum netcheck_filtering f)
{
	static const char *const names[] = {
		[NETCHECK_FILTER_UNKNOWN] = "unknown",
		[NETCHECK_FILTER_INDEPENDENT] = "endpoint-independent",
		[NETCHECK_FILTER_ADDRESS] = "address-dependent",
		[NETCHECK_FILTER_ADDRESS_PORT] = "address-and-port-dependent",
	};
	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}

const char *netcheck_mapping_name(enum netcheck_mapping m)
{
	static const char *const names[] = {
		[NETCHECK_MAP_UNKNOWN] = "unknown",
		[NETCHECK_MAP_NONE] = "none",
		[NETCHECK_MAP_INDEPENDENT] = "endpoint-independent",
		[NETCHECK_MAP_DEPENDENT] = "address-dependent",
		[NETCHECK_MAP_SINGLE] = "single-server",
		[NETCHECK_MAP_ADDRESS_PORT] = "address-and-port-dependent",
	};
	return (unsigned)m < sizeof(names) / sizeof(names[0]) ? names[m] : "?";
}

const char *netcheck_mapping_advice(enum netcheck_mapping m)
{
	switch (m) {
	case NETCHECK_MAP_NONE:
		return "no NAT: peers can reach this address directly (unless a firewall filters)";
	case NETCHECK_MAP_INDEPENDENT:
		return "easy NAT (cone): direct links work through it";
	case NETCHECK_MAP_DEPENDENT:
	case NETCHECK_MAP_ADDRESS_PORT:
		return "hard NAT (symmetric): direct links only to peers without a hard NAT; else relayed";
	case NETCHECK_MAP_SINGLE:
		return "behind a NAT; its kind needs answers from two STUN server addresses";
	default:
		return "no STUN server answered over UDP: links need a relay over TCP/TLS";
	}
}
