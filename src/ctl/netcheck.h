/* ipopctl netcheck's verdicts, sans-IO: the answers of STUN servers (and
 * of relays over TCP/TLS) go in, the classification comes out. The probes
 * themselves (sockets, timeouts) are in ctl_netcheck.c.
 *
 * The NAT's mapping behaviour (RFC 4787 4.1) is read from one local
 * socket asking several servers at different IP addresses: the same
 * mapped address from all of them means an endpoint-independent mapping
 * (an "easy" NAT, or none: hole punching works), different mapped
 * addresses mean the mapping depends on the destination (a "hard" or
 * symmetric NAT: a direct link works only with a peer that has an easy
 * NAT or none, otherwise a relay is needed). */
#ifndef IPOP_NETCHECK_H
#define IPOP_NETCHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum { NETCHECK_MAX_STUN = 8, NETCHECK_MAX_RELAYS = 8, NETCHECK_ERR_LEN = 96 };

enum netcheck_mapping {
	NETCHECK_MAP_UNKNOWN = 0,     /* no UDP answer at all */
	NETCHECK_MAP_NONE,            /* the mapped address is our own: no NAT */
	NETCHECK_MAP_INDEPENDENT,     /* same mapping towards every server: "easy" */
	NETCHECK_MAP_DEPENDENT,       /* the mapping changes with the destination: "hard" */
	NETCHECK_MAP_SINGLE,          /* NAT seen, but fewer than two server addresses answered */
};

/* One STUN Binding over UDP from the probe socket. */
struct netcheck_stun {
	struct sockaddr_storage server;
	bool answered;
	struct sockaddr_storage mapped; /* when answered */
	uint32_t rtt_us;
	char error[NETCHECK_ERR_LEN];   /* when not answered: "timed out", ... */
};

struct netcheck_result {
	bool udp;                       /* at least one server answered over UDP */
	unsigned answered, asked;
	struct sockaddr_storage public_addr; /* the first answer's mapped address */
	enum netcheck_mapping mapping;
	bool port_preserved;            /* mapped port == local port (every answer) */
};

/* local: the probe socket's own address (IP the route to the servers
 * uses, and its port). */
void netcheck_classify(const struct sockaddr *local, const struct netcheck_stun *s, unsigned n,
		       struct netcheck_result *out);

/* "unknown", "none", "endpoint-independent", "address-dependent", "single-server" */
const char *netcheck_mapping_name(enum netcheck_mapping m);
/* One line for people, e.g. "easy NAT: direct links work through it". */
const char *netcheck_mapping_advice(enum netcheck_mapping m);

#endif
