/* The control protocol between ipopd and ipopctl, and the status records
 * the daemon fills for it. Header-only, so that ipopctl (which does not
 * link the daemon parts of libnode.a) shares the constants with the server.
 *
 * Wire format (docs/ipopctl.md): the client connects to the daemon's UNIX
 * stream socket and writes ONE request line, "COMMAND[ ARG]...\n", at most
 * CTL_MAX_REQUEST bytes, printable ASCII, arguments separated by single
 * spaces. The daemon answers with ONE compact JSON object followed by "\n"
 * and closes the connection:
 *   {"version":1,"result":<command's value>}
 *   {"version":1,"error":"<human-readable reason>"}
 * A reply is never longer than CTL_MAX_RESPONSE bytes. */
#ifndef IPOP_CTL_PROTO_H
#define IPOP_CTL_PROTO_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ip_prefix.h"

#define CTL_PROTO_VERSION 1
/* Must match node_conf.c's default control_socket, "<run dir>/<interface>.sock"
 * with the default interface "ipop0". */
#define CTL_RUN_DIR "/run/ipop"
#define CTL_DEFAULT_SOCKET CTL_RUN_DIR "/ipop0.sock"

enum {
	CTL_MAX_REQUEST = 1024,         /* bytes, including the newline */
	CTL_MAX_ARGS = 8,               /* words after the command */
	CTL_MAX_RESPONSE = 4 << 20,     /* bytes, including the newline */
	CTL_MAX_PEERS = 1024,           /* peers one reply lists */
	CTL_LIST_FIRST = 32,            /* records a list's first array holds (ctl_json.c) */
	CTL_SOCKET_MODE = 0660,         /* root and the socket's group */
	CTL_CLIENT_TIMEOUT_MS = 2000,   /* the daemon drops slower clients */
	CTL_JID_LEN = 512,              /* full JID + NUL; longer ones are cut */
	CTL_NODE_ID_LEN = 41,           /* 40 hex digits + NUL */
	CTL_IFNAME_LEN = 16,            /* IFNAMSIZ */
	CTL_REASON_LEN = 128,           /* why_not_direct + NUL */
	CTL_MAX_ROUTES = 16,            /* routes per node and per peer (NODE_CONF_MAX_ROUTES) */
	CTL_ROUTE_WHY_LEN = 96,         /* why a route was refused + NUL */
	CTL_KEY_LEN = 45,               /* a static public key in base64 + NUL */
	CTL_REFUSED_LEN = 192,          /* why a peer's signalling was refused + NUL */
	CTL_MAX_PINS = 1024,            /* pins (and owners) one reply lists */
};

/* A route a peer advertised that this node did not install, and why
 * ("not authorised for bob@example.org", "overlaps 10.77.0.0/24 of
 * carol@example.org", ...). */
struct ctl_route_refused {
	struct ip_prefix prefix;
	char why[CTL_ROUTE_WHY_LEN];
};

/* What the strings in the JSON mean is in docs/ipopctl.md; the names are
 * given by ctl_json.c. */
enum ctl_xmpp_state { CTL_XMPP_OFFLINE = 0, CTL_XMPP_CONNECTING, CTL_XMPP_ONLINE };

enum ctl_peer_state {
	CTL_PEER_DOWN = 0,    /* known, no link attempt running */
	CTL_PEER_CONNECTING,  /* exchanging offers/answers over XMPP */
	CTL_PEER_CHECKING,    /* ICE connectivity checks */
	CTL_PEER_HANDSHAKE,   /* a path is chosen, Noise handshake running */
	CTL_PEER_UP,          /* handshake completed: packets flow */
};

/* OVERLAY: the link has no path of its own; its packets ride the group's
 * overlay through other members (docs/overlay.md). */
enum ctl_path { CTL_PATH_NONE = 0, CTL_PATH_DIRECT, CTL_PATH_RELAY, CTL_PATH_OVERLAY };

/* Same order as enum ice_cand_type and enum signal_cand_type, shifted by
 * one so that zero means "no candidate selected". */
enum ctl_cand_type { CTL_CAND_NONE = 0, CTL_CAND_HOST, CTL_CAND_SRFLX, CTL_CAND_PRFLX, CTL_CAND_RELAY };

/* The GroupVPN overlay of this node (docs/overlay.md). */
struct ctl_overlay_status {
	bool on;                        /* group mode */
	bool mesh;                      /* few enough members for a full mesh */
	bool multihop, on_demand, trim;
	unsigned members;               /* other members online */
	unsigned max_links, links;      /* links held (up or being set up) */
	uint64_t sent, received, forwarded; /* frames */
	uint64_t dropped;               /* hop limit, no next hop, malformed */
	uint64_t requests, refused_in, refused_out, evictions, demand_links, trimmed;
};

/* Everything is copied in by value: the server never follows a pointer
 * into daemon state. Strings are NUL-terminated (the server terminates
 * them again before use). An address with ss_family AF_UNSPEC (zeroed)
 * means "none" and becomes JSON null. */
struct ctl_node_status {
	char jid[CTL_JID_LEN];          /* full JID once bound, else the bare JID */
	char node_id[CTL_NODE_ID_LEN];  /* 40 lower-case hex digits */
	char interface[CTL_IFNAME_LEN];
	struct in_addr ip4;             /* network byte order */
	unsigned ip4_mask;              /* prefix length */
	bool has_ip6;                   /* IPv6 on the overlay (docs/ipv6.md) */
	struct in6_addr ip6;
	unsigned ip6_mask;
	unsigned n_routes;              /* this node's own "routes" */
	struct ip_prefix routes[CTL_MAX_ROUTES];
	unsigned mtu;
	bool social;                    /* mode "social" instead of "group" */
	enum ctl_xmpp_state xmpp;
	struct sockaddr_storage public_addr; /* server-reflexive address */
	/* The TURN allocation: relayed address, server, transport ("udp",
	 * "tcp", "tls"); relay_addr AF_UNSPEC when there is none. */
	struct sockaddr_storage relay_addr, relay_server;
	char relay_transport[8];
	unsigned peers_up;              /* peers in CTL_PEER_UP */
	unsigned peers_total;
	uint64_t uptime_s;
	/* Packets dropped and counted (issue: no link / cryptokey routing). */
	uint64_t drop_no_route;         /* TUN packet for an address with no link */
	uint64_t drop_bad_source;       /* inner source is not the peer's (ip4, ip6, its routes) */
	uint64_t drop_untranslatable;   /* social mode: a packet xlate refused */
	uint64_t drop_link_local;       /* IPv6 link-local, multicast or NDP kept off the overlay */
	uint64_t drop_too_big;          /* TUN packet over the tunnel's MTU (an ICMP error went back) */
	struct ctl_overlay_status ovl;  /* GroupVPN only (ovl.on) */
	char key[CTL_KEY_LEN];          /* this node's static public key, base64 */
	/* Trust inside the group (docs/security.md). */
	uint64_t refused_signals;       /* signalling messages refused (key, pin, address) */
	uint64_t refused_links;         /* new links refused: the member or the table was full */
	bool under_load;                /* handshakes need a cookie now */
	uint64_t cookie_replies;        /* initiations answered with a cookie reply */
};

struct ctl_peer_status {
	char jid[CTL_JID_LEN];          /* full JID (several nodes share accounts) */
	char node_id[CTL_NODE_ID_LEN];
	struct in_addr ip4;             /* the address used to reach the peer */
	bool has_ip6;                   /* its IPv6 overlay address, when it has one we own for it */
	struct in6_addr ip6;
	unsigned n_routes;              /* routes it advertised and this node installed */
	struct ip_prefix routes[CTL_MAX_ROUTES];
	unsigned n_refused;             /* routes it advertised that this node refused */
	struct ctl_route_refused refused[CTL_MAX_ROUTES];
	enum ctl_peer_state state;
	enum ctl_path path;             /* CTL_PATH_NONE while no path is selected */
	enum ctl_cand_type local_type, remote_type;
	struct sockaddr_storage endpoint; /* remote candidate address */
	struct sockaddr_storage relay;    /* TURN relay carrying the link */
	/* Round-trip time of the link's current path, from tunnel probes: the
	 * smoothed estimate (SRTT), the last sample, the smallest, and how long
	 * ago the last sample was taken. has_rtt false: not measured on this
	 * path yet (or the peer does not answer probes). */
	bool has_rtt;
	uint32_t rtt_us, rtt_last_us, rtt_min_us;
	uint64_t rtt_age_ms;
	uint64_t rx_bytes, tx_bytes;    /* tunnel payload, after decryption */
	uint64_t rx_packets, tx_packets;
	int64_t last_handshake;         /* unix seconds; 0: never */
	char why_not_direct[CTL_REASON_LEN]; /* "" when direct or unknown */
	/* Paths ICE will not use although small checks passed: "" or e.g.
	 * "host 10.99.0.1:4000 -> host 10.99.0.2:4000: full-size packets lost" */
	char paths_refused[CTL_REASON_LEN];
	char key[CTL_KEY_LEN];          /* its static public key, base64; "" before it announced one */
	char trust_refused[CTL_REFUSED_LEN]; /* why its last signalling was refused ("" none): address conflicts... */
};

/* A node id pinned to its key and member ("pins"). */
struct ctl_pin {
	char node_id[CTL_NODE_ID_LEN];
	char key[CTL_KEY_LEN];
	char jid[CTL_JID_LEN];          /* bare: the member */
	int64_t seen;                   /* unix seconds it last announced the key */
};

/* An overlay address and the member that owns it ("pins"). */
struct ctl_owner {
	struct ip_addr addr;            /* IPv4 ("ip4") or IPv6 ("ip6") */
	char jid[CTL_JID_LEN];
	int64_t seen;                   /* unix seconds its link with it was last up; 0 mapped, never seen */
	bool mapped;                    /* from the operator's address map */
};

/* One group member for "members": how this node reaches it. */
enum ctl_reach {
	CTL_REACH_NONE = 0,   /* no link and no next hop */
	CTL_REACH_LINK,       /* a direct link (path direct or relay) */
	CTL_REACH_OVERLAY,    /* through the overlay, via another member */
	CTL_REACH_CONNECTING, /* a direct link being set up; nothing carries packets yet */
};
struct ctl_member_status {
	char jid[CTL_JID_LEN];
	char node_id[CTL_NODE_ID_LEN];
	struct in_addr ip4;             /* from its presence; 0: not announced */
	enum ctl_reach reach;
	enum ctl_path path;             /* of the direct link (REACH_LINK) */
	char via[CTL_JID_LEN];          /* REACH_OVERLAY: the linked member packets go to first */
	unsigned hops;                  /* overlay hops of its last frame to us; 0: none seen */
	bool has_rtt;
	uint32_t rtt_us;
	char kept_for[64];              /* why the direct link is kept: "ring", "long-distance", ... */
	char why_not_linked[CTL_REASON_LEN]; /* "" when linked */
};

/* One friend (roster contact or pending request) for "friends". */
enum ctl_friend_cmd { CTL_FRIEND_ADD = 0, CTL_FRIEND_ACCEPT, CTL_FRIEND_REMOVE };
struct ctl_friend_status {
	char jid[CTL_JID_LEN];          /* bare JID */
	struct in_addr ip4;             /* social: its address in our space; 0: none yet */
	char subscription[8];           /* "none", "to", "from", "both" */
	bool asked;                     /* we asked, no answer yet */
	bool request;                   /* they asked; waits for "friend accept" */
	bool online;                    /* one of its nodes is online for us (a link exists or is being set up) */
	enum ctl_peer_state state;      /* of that link (best of several nodes) */
	enum ctl_path path;
	struct sockaddr_storage endpoint;
};

/* The daemon's side, registered with ctl_server_new(). Called from the
 * thread that calls ctl_server_handle(), synchronously, one request at a
 * time; the daemon takes whatever locks its state needs. Unset members
 * (NULL) make their commands answer "not supported by this daemon", so
 * later commands (netcheck, friends, ...) add members here without
 * breaking existing daemons' initialisers. */
struct ctl_ops {
	/* Fills *st (zeroed beforehand). Returns 0 or -errno. */
	int (*status)(void *ctx, struct ctl_node_status *st);
	/* Fills up to max entries (zeroed beforehand) and returns how many
	 * peers there are (may exceed max: the reply says "truncated"), or
	 * -errno. */
	int (*peers)(void *ctx, struct ctl_peer_status *arr, unsigned max);
	/* Like peers, for the friends list. */
	int (*friends)(void *ctx, struct ctl_friend_status *arr, unsigned max);
	/* Starts a friends command for a bare JID; 0, or -errno with a reason
	 * in err. The XMPP exchange completes later (see "friends"). */
	int (*friend_cmd)(void *ctx, enum ctl_friend_cmd cmd, const char *jid, char *err, size_t errlen);
	/* Like peers, for the group's members (GroupVPN). */
	int (*members)(void *ctx, struct ctl_member_status *arr, unsigned max);
	/* Like peers, for pinned node ids and for address owners. */
	int (*pins)(void *ctx, struct ctl_pin *arr, unsigned max);
	int (*owners)(void *ctx, struct ctl_owner *arr, unsigned max);
	/* "pin forget WHAT" (a bare JID, a node id, an address): how many pins
	 * and owners went; 0, or -errno with a reason in err. */
	int (*pin_forget)(void *ctx, const char *what, unsigned *pins, unsigned *owners, char *err, size_t errlen);
};

#endif
