/* ICE (RFC 8445) constants: candidate type preferences, pacing, check
 * retransmission, nomination, keepalive and consent freshness (RFC 7675),
 * and the table sizes the agent uses. Times are in milliseconds. */
#ifndef IPOP_ICE_PROTO_H
#define IPOP_ICE_PROTO_H

/* RFC 8445 5.1.2.2 recommended type preferences. */
enum {
	ICE_TYPE_PREF_HOST = 126,
	ICE_TYPE_PREF_PRFLX = 110,
	ICE_TYPE_PREF_SRFLX = 100,
	ICE_TYPE_PREF_RELAY = 0,
	ICE_LOCAL_PREF_DEFAULT = 65535, /* single-homed host */
	ICE_COMPONENT_RTP = 1,          /* ipop links use one component */
};

enum {
	ICE_TA_MS = 50,               /* one new check per Ta (RFC 8445 14.2) */
	ICE_CHECK_RTO_MS = 500,       /* first retransmission of a check */
	ICE_CHECK_RTO_MAX_MS = 1600,  /* cap of the doubling RTO */
	ICE_CHECK_MAX_TX = 7,         /* transmissions before a check fails (Rc) */
	ICE_NOMINATE_WAIT_MS = 1000,  /* wait for better pairs before nominating */
	ICE_KEEPALIVE_MIN_MS = 15000, /* Binding indications, when consent is off */
	ICE_KEEPALIVE_MAX_MS = 25000,
	ICE_CONSENT_INTERVAL_MS = 5000, /* RFC 7675 5.1, randomised 0.8-1.2 */
	ICE_CONSENT_TIMEOUT_MS = 30000, /* consent lost after this much silence */
	ICE_FAIL_GRACE_MS = 5000,     /* all pairs failed and no new candidate for this long */
	ICE_RECHECK_MS = 60000,       /* default: retry failed pairs better than the selected one */
	/* Unreplied UDP entries of a Linux NAT (conntrack) live 30 s: a
	 * recheck interval of at least this lets the state a failed check
	 * left in the peer's NAT expire before the next one (ice_nat.c). */
	ICE_NAT_UDP_TIMEOUT_MS = 30000,
	ICE_PRIME_KEEP_MS = 20000,    /* low-TTL primes keep our mapping of a failed pair open */
	ICE_PRIME_FRESH_MS = 5000,    /* a prime this recent needs no other before a check */
	ICE_RECHECK_MAX_N = 16,       /* back-off steps counted */
};

enum {
	ICE_MAX_LOCAL = 16,
	ICE_MAX_REMOTE = 32,
	ICE_MAX_PAIRS = 100,
	ICE_MAX_EVENTS = 16,
	ICE_MAX_RESPONSES = 16, /* queued answers to incoming checks */
	ICE_MAX_CONSENT_TX = 8, /* outstanding consent transactions remembered */
	ICE_UFRAG_MAX = 64,     /* RFC 8839 allows 256; ipop generates short ones */
	ICE_PWD_MAX = 256,     /* RFC 8839 limit, as the signalling allows */
	ICE_UFRAG_MIN = 4,
	ICE_PWD_MIN = 22,
	ICE_FOUNDATION_MAX = 32,
};

#endif
