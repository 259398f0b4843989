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
 * NAT or none, otherwise a relay is needed).
 *
 * A server that offers RFC 5780 (OTHER-ADDRESS in its answer; for
 * ipop-turnserver, alt_listen_address) allows the finer tests of RFC 5780
 * 4.3 and 4.4: the mapping towards the other IP and the other port tells
 * address-dependent from address-and-port-dependent mapping, and answers
 * sent from a changed IP and port, or port only, show the filtering. The
 * pair prediction (netcheck_predict_direct) combines two such verdicts. */
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
	NETCHECK_MAP_ADDRESS_PORT,    /* RFC 5780: the port of the destination matters too */
};

/* RFC 4787 5 / RFC 5780 4.4: which outside senders reach a mapping. */
enum netcheck_filtering {
	NETCHECK_FILTER_UNKNOWN = 0,  /* no RFC 5780 server answered */
	NETCHECK_FILTER_INDEPENDENT,  /* anyone ("full cone", or no firewall) */
	NETCHECK_FILTER_ADDRESS,      /* any port of an IP we sent to ("restricted cone") */
	NETCHECK_FILTER_ADDRESS_PORT, /* only the IP and port we sent to ("port-restricted") */
};

/* One STUN Binding over UDP from the probe socket. */
struct netcheck_stun {
	struct sockaddr_storage server;
	bool answered;
	struct sockaddr_storage mapped; /* when answered */
	uint32_t rtt_us;
	char error[NETCHECK_ERR_LEN];   /* when not answered: "timed out", ... */
	struct sockaddr_storage other;  /* its OTHER-ADDRESS (RFC 5780), AF_UNSPEC if none */
};

/* The RFC 5780 tests against one server. Mapping (4.3): one socket asks
 * the server (I), its other IP on the same port (II) and the other IP and
 * port (III). Filtering (4.4): a second socket asks the server (I), then
 * for an answer from the other IP and port (II) and from the other port
 * (III). */
struct netcheck_5780 {
	struct sockaddr_storage server, other;
	struct sockaddr_storage local;  /* the mapping socket's own address */
	bool map_ok[3];
	struct sockaddr_storage mapped[3];
	bool filt_ran;                  /* the filtering socket's test I was answered */
	bool filt_both, filt_port;      /* answers to tests II and III came in */
};

struct netcheck_result {
	bool udp;                       /* at least one server answered over UDP */
	unsigned answered, asked;
	struct sockaddr_storage public_addr; /* the first answer's mapped address */
	enum netcheck_mapping mapping;
	bool port_preserved;            /* mapped port == local port (every answer) */
	enum netcheck_filtering filtering;
	bool rfc5780;                   /* mapping and filtering come from RFC 5780 tests */
};

/* local: the probe socket's own address (IP the route to the servers
 * uses, and its port). */
void netcheck_classify(const struct sockaddr *local, const struct netcheck_stun *s, unsigned n,
		       struct netcheck_result *out);

/* Refines *out (from netcheck_classify) with the RFC 5780 tests, when the
 * server offered them (d->map_ok[0] and an OTHER-ADDRESS). */
void netcheck_classify_5780(const struct netcheck_5780 *d, struct netcheck_result *out);

/* Whether two nodes, each behind a NAT of the given kind, are expected to
 * link directly (ICE hole punching) or need a relay; the table is in
 * docs/ipopctl.md. UNKNOWN when a kind is not known well enough. */
enum netcheck_direct { NETCHECK_DIRECT_UNKNOWN = 0, NETCHECK_DIRECT_YES, NETCHECK_DIRECT_NO };
enum netcheck_direct netcheck_predict_direct(enum netcheck_mapping ma, enum netcheck_filtering fa,
					     enum netcheck_mapping mb, enum netcheck_filtering fb);
const char *netcheck_direct_name(enum netcheck_direct d); /* "yes", "no", "unknown" */

/* The peer kinds ipopctl netcheck predicts for. */
struct netcheck_peer_kind {
	const char *name;               /* "no-nat", "full-cone", ... */
	enum netcheck_mapping mapping;
	enum netcheck_filtering filtering;
};
enum { NETCHECK_PEER_KINDS = 5 };
extern const struct netcheck_peer_kind netcheck_peer_kinds[NETCHECK_PEER_KINDS];

/* "unknown", "endpoint-independent", "address-dependent", "address-and-port-dependent" */
const char *netcheck_filtering_name(enum netcheck_filtering f);

/* "unknown", "none", "endpoint-independent", "address-dependent", "single-server",
 * "address-and-port-dependent" */
const char *netcheck_mapping_name(enum netcheck_mapping m);
/* One line for people, e.g. "easy NAT: direct links work through it". */
const char *netcheck_mapping_advice(enum netcheck_mapping m);

#endif
