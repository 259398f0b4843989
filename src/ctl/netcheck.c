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

const char *netcheck_mapping_name(enum netcheck_mapping m)
{
	static const char *const names[] = {
		[NETCHECK_MAP_UNKNOWN] = "unknown",
		[NETCHECK_MAP_NONE] = "none",
		[NETCHECK_MAP_INDEPENDENT] = "endpoint-independent",
		[NETCHECK_MAP_DEPENDENT] = "address-dependent",
		[NETCHECK_MAP_SINGLE] = "single-server",
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
		return "hard NAT (symmetric): direct links only to peers without a hard NAT; else relayed";
	case NETCHECK_MAP_SINGLE:
		return "behind a NAT; its kind needs answers from two STUN server addresses";
	default:
		return "no STUN server answered over UDP: links need a relay over TCP/TLS";
	}
}
