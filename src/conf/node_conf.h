/* ipopd's config.json: the original IPOP keys plus ours, validated with
 * file:line:column diagnostics. Defaults and their reasons: docs/config.md. */
#ifndef IPOP_NODE_CONF_H
#define IPOP_NODE_CONF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "ip_prefix.h"
#include "log.h"

enum {
	NODE_CONF_MAX_STUN = 8,
	NODE_CONF_MAX_TURN = 8,
	NODE_CONF_MAX_IGNORE = 32,
	NODE_CONF_MAX_PINS = 64,        /* social_map entries */
	NODE_CONF_MAX_AUTO_ACCEPT = 32, /* auto_accept patterns */
	NODE_CONF_MAX_ROUTES = 16,      /* "routes" (what one signalling message carries) */
	NODE_CONF_MAX_ACCEPT = 64,      /* "accept_routes" members */
	NODE_CONF_MAX_ACCEPT_PREFIXES = 16, /* prefixes per member */
	NODE_CONF_MAX_XMPP_HOSTS = 16,  /* "xmpp_host" list: members of a cluster */
	NODE_CONF_IFNAMSIZ = 16, /* Linux IFNAMSIZ: 15 characters + NUL */
	NODE_CONF_DEFAULT_MTU = 1280,
	NODE_CONF_DEFAULT_MAX_LINKS = 32,
	/* the link table (LINKS_MAX 256) also holds sessions through the
	 * overlay: half of it stays theirs */
	NODE_CONF_MAX_LINKS_MAX = 128,
	NODE_CONF_DEFAULT_HOP_LIMIT = 16,
	NODE_CONF_DEFAULT_DEMAND_BPS = 128,   /* IPOP's on-demand threshold */
	NODE_CONF_DEFAULT_DEMAND_TIMEOUT_S = 600, /* on-demand_inactive_timeout */
	NODE_CONF_DEFAULT_IP4_MASK = 24,
	NODE_CONF_DEFAULT_IP6_MASK = 64, /* the original IPOP's, and IPv6's usual subnet */
	NODE_CONF_MIN_IP6_MTU = 1280,    /* RFC 8200: Linux turns IPv6 off below */
	NODE_CONF_DEFAULT_XMPP_PORT = 5222,
	NODE_CONF_DEFAULT_STUN_PORT = 3478,
	NODE_CONF_DEFAULT_TURNS_PORT = 5349,
	/* NAT traversal (docs/nat.md) */
	NODE_CONF_DEFAULT_PRIME_TTL = 2,      /* passes a NAT that is the first router */
	NODE_CONF_MAX_PRIME_TTL = 16,
	NODE_CONF_DEFAULT_HARD_SOCKETS = 256, /* symmetric side: extra local ports */
	NODE_CONF_DEFAULT_HARD_PORTS = 512,   /* cone side: destination ports primed */
	NODE_CONF_MAX_HARD = 1024,
	NODE_CONF_DEFAULT_LINKS_PER_MEMBER = 4, /* slots.h's SLOTS_PER_MEMBER_DEFAULT */
	NODE_CONF_MAX_LINKS_PER_MEMBER = 64,    /* a member with more devices than this is no group */
	NODE_CONF_DEFAULT_METRICS_PORT = 9642, /* the relay's is 9641 (coturn's) */
};

enum node_tls_mode { NODE_TLS_REQUIRED = 0, NODE_TLS_OPTIONAL, NODE_TLS_OFF };
enum node_mode { NODE_MODE_GROUP = 0, NODE_MODE_SOCIAL };
enum node_turn_transport { NODE_TURN_UDP = 0, NODE_TURN_TCP, NODE_TURN_TLS };

/* Hosts stay strings: they may be names, resolved by the daemon. */
struct node_stun {
	char *host; /* IPv6 literals without brackets */
	uint16_t port;
};

/* One XMPP server of "xmpp_host". */
struct node_xmpp_host {
	char *host; /* IPv6 literals without brackets */
	uint16_t port; /* 0: "xmpp_port" */
};

struct node_turn {
	char *host;
	uint16_t port;
	enum node_turn_transport transport;
	char *user;    /* NULL (with pass): credentials come from the XMPP server */
	char *pass;
	char *ca_file; /* NULL: system trust store */
};

struct node_conf {
	char *path;
	/* overlay */
	struct in_addr ip4;
	unsigned ip4_mask;
	/* IPv6 on the overlay, group mode only (docs/ipv6.md) */
	bool has_ip6;
	struct in6_addr ip6;
	unsigned ip6_mask;
	bool ip6_derived;            /* made from ip6_prefix and ip4, as the original IPOP did */
	bool has_ip6_prefix;
	struct ip_prefix ip6_prefix; /* "ip6_prefix", a /64 */
	enum node_mode mode;
	char interface[NODE_CONF_IFNAMSIZ];
	unsigned mtu;
	int crypto_threads; /* -1: "auto" (cpool_workers_for) */
	/* GroupVPN at scale (docs/config.md "Overlay"): direct links at most,
	 * forwarding through the overlay, on-demand links and their trimming */
	unsigned max_links;
	bool multihop;
	unsigned hop_limit;
	bool on_demand;
	unsigned on_demand_bps;
	unsigned on_demand_timeout_s;
	bool trim;
	/* XMPP */
	char *xmpp_username; /* bare JID as written */
	char *xmpp_local;    /* part before '@' */
	char *xmpp_domain;   /* part after '@' */
	char *xmpp_password;
	/* "xmpp_host": one server or a cluster's members, tried in random
	 * order; none: the _xmpp-client._tcp SRV records of xmpp_domain. */
	unsigned n_xmpp_hosts;
	struct node_xmpp_host xmpp_hosts[NODE_CONF_MAX_XMPP_HOSTS];
	uint16_t xmpp_port;
	enum node_tls_mode xmpp_tls;
	char *xmpp_ca_file; /* NULL: system trust store */
	/* files the node writes or listens on */
	char *key_file;
	char *control_socket;
	char *state_dir;
	/* trust inside the group (docs/security.md) */
	char *trust_file;       /* pins and address owners, written by the node */
	char *address_map_file; /* the operator's "JID ADDRESS" map: strict ownership, or NULL */
	unsigned max_links_per_member;
	enum log_level log_level;
	/* Prometheus: GET /metrics on this address ("metrics_address"), off
	 * unless given (docs/metrics.md) */
	bool metrics;
	struct sockaddr_storage metrics_addr;
	/* NAT traversal */
	unsigned n_stun, n_turn, n_ignore;
	struct node_stun stun[NODE_CONF_MAX_STUN];
	struct node_turn turn[NODE_CONF_MAX_TURN];
	char *network_ignore_list[NODE_CONF_MAX_IGNORE]; /* interface names ICE skips */
	bool tunnel_candidates; /* offer host candidates on TUN/TAP/WireGuard interfaces too */
	unsigned nat_prime_ttl; /* IP TTL of the primes before checks; 0: no priming */
	bool full_size_checks;  /* a path must carry full-size datagrams before it is used */
	unsigned hard_nat_sockets, hard_nat_ports; /* multi-port probing; 0: that side off */
	bool xmpp_services;     /* STUN/TURN servers and credentials from XEP-0215 */
	/* social mode (docs/ipopd.md "SocialVPN") */
	char *social_map_file; /* friend -> address, written by the node */
	char *social_pin_file; /* hand-written "JID ADDRESS" lines, or NULL */
	unsigned n_pins, n_auto_accept;
	struct node_pin {
		char *jid; /* bare */
		struct in_addr ip4;
	} pins[NODE_CONF_MAX_PINS];
	char *auto_accept[NODE_CONF_MAX_AUTO_ACCEPT]; /* "user@dom", "*@dom" or "*" */
	bool social_broadcast; /* forward broadcast/multicast to friends (and accept theirs) */
	bool social_dns;       /* answer <friend>.ipop on ip4 port 53 */
	/* Routes behind nodes, group mode only (docs/ipv6.md "Router mode") */
	unsigned n_routes;
	struct ip_prefix routes[NODE_CONF_MAX_ROUTES]; /* subnets this node forwards for the overlay */
	unsigned n_accept;
	struct node_accept {
		char *jid; /* bare JID as written; compared case-insensitively */
		unsigned n;
		struct ip_prefix prefixes[NODE_CONF_MAX_ACCEPT_PREFIXES]; /* what it may advertise (or parts of) */
	} accept[NODE_CONF_MAX_ACCEPT];
	unsigned n_warnings;
};

/* Zeroes c, applies defaults, then reads path. Errors and warnings go to
 * stderr, one per line: "FILE:LINE:COL: key "K": expected ..., got ..."
 * (warnings have "warning: " after the position). Returns the number of
 * errors; 0 means c is usable. Call node_conf_free() either way. */
int node_conf_load(struct node_conf *c, const char *path);
/* The same, writing the diagnostics to diag instead of stderr. */
int node_conf_load_diag(struct node_conf *c, const char *path, FILE *diag);
/* The same for text already in memory; name is used in the messages. */
int node_conf_load_buf(struct node_conf *c, const char *name, const char *text, size_t len, FILE *diag);
void node_conf_free(struct node_conf *c);

/* Settings that are accepted but weaken security (xmpp_tls "off" or
 * "optional"). Fills up to max messages; returns how many there are. The
 * daemon logs them with log_warn at start. */
unsigned node_conf_security_warnings(const struct node_conf *c, const char **out, unsigned max);

const char *node_turn_transport_name(enum node_turn_transport t);

/* The overlay's own subnets: ip4/ip4_mask, and ip6/ip6_mask when set.
 * Returns how many (1 or 2). */
unsigned node_conf_overlay_subnets(const struct node_conf *c, struct ip_prefix out[2]);
/* The "accept_routes" entry of bare_jid (case-insensitive), or NULL. */
const struct node_accept *node_conf_accept_for(const struct node_conf *c, const char *bare_jid);
/* Why this node's config refuses route p advertised by the member
 * bare_jid, or NULL when it may be installed: it must lie inside one of
 * the prefixes "accept_routes" gives that member, must not overlap the
 * overlay's subnets nor this node's own "routes", and an IPv6 route needs
 * this node's "ip6". The reason is written to buf (cap bytes) and
 * returned. Conflicts with other members' routes are for the prefix table
 * (prefix_table_overlap). */
const char *node_conf_route_refusal(const struct node_conf *c, const char *bare_jid, const struct ip_prefix *p,
				    char *buf, size_t cap);

/* Splits a TURN server spec: "host", "host:port", "[v6]:port", or an RFC
 * 7065 URI "turn:host[:port][?transport=udp|tcp]" / "turns:host[:port]".
 * *port is 0 when none is given. *allowed gets the transports the spec
 * permits as bits (1 << NODE_TURN_*), 0 for a plain host:port (any).
 * Returns NULL, or a static reason with *host NULL; *host is malloc'd. */
const char *node_conf_parse_turn_server(const char *spec, char **host, uint16_t *port,
					unsigned *allowed);

#endif
