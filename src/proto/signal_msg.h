/* The signalling messages nodes exchange inside XMPP
 * <ipop xmlns='urn:ipop:signal:1'>BODY</ipop>: BODY is one compact JSON
 * object, encoded and decoded here without I/O. The wire format is
 * specified in docs/signalling.md. */
#ifndef IPOP_SIGNAL_MSG_H
#define IPOP_SIGNAL_MSG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ip_prefix.h"

enum {
	SIGNAL_VERSION = 1,
	SIGNAL_MSG_MAX = 4096, /* bodies longer than this are refused unparsed */
	SIGNAL_ID_LEN = 20,    /* node id: 20 bytes, 40 hex digits (IPOP's uid) */
	SIGNAL_KEY_LEN = 32,   /* Noise static public key (X25519) */
	SIGNAL_MAX_CANDS = 16,
	SIGNAL_MAX_ROUTES = 16, /* advertised prefixes; the worst case still fits SIGNAL_MSG_MAX */
	SIGNAL_UFRAG_MIN = 4,
	SIGNAL_UFRAG_MAX = 32,
	SIGNAL_PWD_MIN = 22,
	SIGNAL_PWD_MAX = 256,
	SIGNAL_FOUNDATION_MAX = 32,
	SIGNAL_ERR_LEN = 96,
	SIGNAL_REASON_MAX = 16,
	SIGNAL_KEY_B64_LEN = 44, /* a key in base64, with its one '=' */
};

enum signal_kind {
	SIGNAL_HELLO = 1,  /* "I am here": id, key, ip4, [ip6, routes] */
	SIGNAL_OFFER,      /* start a link: id, key, ip4, [ip6, routes], ufrag/pwd, [cands] */
	SIGNAL_ANSWER,     /* accept a link: same fields as an offer */
	SIGNAL_CANDIDATES, /* trickled candidates: ufrag/pwd and >= 1 cand */
	SIGNAL_BYE,        /* tear the link down: id only */
	SIGNAL_KIND_LAST = SIGNAL_BYE,
};

/* The sender's NAT mapping (RFC 4787), optional: "easy" when it is the
 * same toward every destination (cone NATs, no NAT), "hard" when it
 * depends on the destination (symmetric). A pair of one of each tries
 * multi-port probing (docs/nat.md). */
enum signal_nat { SIGNAL_NAT_UNKNOWN = 0, SIGNAL_NAT_EASY, SIGNAL_NAT_HARD };

/* Same order as the ICE module's enum ice_cand_type. */
enum signal_cand_type { SIGNAL_CAND_HOST = 0, SIGNAL_CAND_SRFLX, SIGNAL_CAND_PRFLX, SIGNAL_CAND_RELAY };

struct signal_cand {
	char foundation[SIGNAL_FOUNDATION_MAX + 1];
	uint16_t component; /* always 1: ipop links have one component */
	uint32_t priority;  /* 1 .. 2^32-1 */
	enum signal_cand_type type;
	struct sockaddr_storage addr;    /* IPv4 or IPv6 with port; zero padding */
	struct sockaddr_storage related; /* ss_family AF_UNSPEC when absent */
};

struct signal_msg {
	enum signal_kind kind;
	uint8_t from[SIGNAL_ID_LEN];
	bool has_to; /* the addressee's id, for XMPP accounts shared by nodes */
	uint8_t to[SIGNAL_ID_LEN];
	bool has_key;
	uint8_t key[SIGNAL_KEY_LEN];
	bool has_ip4;
	struct in_addr ip4; /* the sender's virtual address */
	bool has_ip6;        /* optional: the sender's IPv6 overlay address */
	struct in6_addr ip6;
	/* Optional: the subnets the sender routes for the overlay (router
	 * mode); canonical, routable, no duplicates. The receiver installs
	 * only what its own config authorises (docs/ipv6.md). */
	unsigned n_routes;
	struct ip_prefix routes[SIGNAL_MAX_ROUTES];
	/* Optional: the sender answers tunnel probes (tunnel_proto.h), so the
	 * receiver may ping it to measure the link's round-trip time. */
	bool probes;
	/* Optional, in a hello or an offer: the sender has no path to the
	 * receiver but a direct link (its multihop is off), so a receiver
	 * with max_links in use makes room as for its own on-demand traffic
	 * instead of answering "full" (docs/overlay.md). */
	bool need;
	bool has_ice;       /* ufrag and pwd go together */
	char ufrag[SIGNAL_UFRAG_MAX + 1];
	char pwd[SIGNAL_PWD_MAX + 1];
	bool has_tiebreaker;
	uint64_t tiebreaker;
	enum signal_nat nat; /* UNKNOWN: not sent (or a value this version does not know) */
	/* In an answer: the ufrag of the offer it answers, so that an answer
	 * to an older offer (offers crossed) is recognised and ignored. */
	/* In a bye: why, as a short token; "full" means "no room for another
	 * link: try again much later" (the requester backs off). */
	bool has_reason;
	char reason[SIGNAL_REASON_MAX + 1];
	bool has_offer_ufrag;
	char offer_ufrag[SIGNAL_UFRAG_MAX + 1];
	unsigned n_cands;
	struct signal_cand cands[SIGNAL_MAX_CANDS];
	/* Set by decode, not encoded: candidates with a transport or type this
	 * version does not know, skipped for forward compatibility. */
	unsigned n_skipped;
	char error[SIGNAL_ERR_LEN]; /* why decode refused, for logs */
};

/* Writes m as NUL-terminated JSON. Returns the length without the NUL,
 * -EINVAL if m breaks a rule (signal_msg_check() says which) or -ENOSPC
 * if out is too small. A valid message always fits SIGNAL_MSG_MAX + 1. */
int signal_msg_encode(const struct signal_msg *m, char *out, size_t cap);
/* Parses and validates buf (len bytes, no NUL needed). Returns 0 or
 * -EBADMSG with m->error set. Allocates nothing that outlives the call. */
int signal_msg_decode(struct signal_msg *m, const char *buf, size_t len);

/* Checks the rules decode enforces; NULL if m is valid, else the reason. */
const char *signal_msg_check(const struct signal_msg *m);
/* All encoded fields equal (ignores n_skipped and error). */
bool signal_msg_equal(const struct signal_msg *a, const struct signal_msg *b);

const char *signal_kind_name(enum signal_kind k);

/* A static key in base64 (the form messages and presence carry); decode
 * takes only the canonical 44-character form. */
void signal_key_encode(const uint8_t key[SIGNAL_KEY_LEN], char out[SIGNAL_KEY_B64_LEN + 1]);
bool signal_key_decode(const char *s, size_t len, uint8_t key[SIGNAL_KEY_LEN]);
const char *signal_cand_type_name(enum signal_cand_type t);

#endif
