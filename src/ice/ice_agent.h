/* A sans-IO ICE agent (RFC 8445, one component, UDP, regular nomination)
 * with consent freshness (RFC 7675). It owns no socket and reads no clock:
 *
 *   ice_agent_input()          a datagram that arrived on a base
 *   ice_agent_handle_timeout() whenever now >= ice_agent_next_deadline()
 *   ice_agent_poll_transmit()  until it returns 0: datagrams to send, each
 *                              from a base id to a remote address
 *   ice_agent_poll_event()     until false: selection changes, failures
 *
 * Bases are opaque ids chosen by the daemon (socket index, TURN allocation),
 * so a relayed path is just another base. Checks continue after a selection:
 * a better pair that succeeds later replaces the selected one (controlling
 * side re-nominates; the controlled side follows the best nominated pair). */
#ifndef IPOP_ICE_AGENT_H
#define IPOP_ICE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ice_cand.h"
#include "ice_pair.h"
#include "ice_proto.h"

enum ice_event_type {
	ICE_EV_CONNECTED = 1,      /* first pair selected */
	ICE_EV_SELECTED_CHANGED,   /* the selected pair is now local/remote */
	ICE_EV_PAIR_FAILED,        /* the selected pair lost consent; others are rechecked */
	ICE_EV_FAILED,             /* no pair works and no candidate is pending */
	ICE_EV_ROLE_CHANGED,       /* a 487 or a tie-breaker switched roles */
};

struct ice_event {
	enum ice_event_type type;
	int pair;                  /* index for ice_agent_pair_info, or -1 */
	struct ice_cand local, remote;
	bool controlling;          /* role after the event */
};

enum { ICE_TX_BUF_MIN = 256 }; /* the largest message the agent builds fits */

struct ice_transmit {
	uint32_t base_id;              /* send from this base... */
	struct sockaddr_storage dst;   /* ...to this address */
	uint8_t ttl;                   /* IP TTL for this datagram; 0: the socket's default */
	bool df;                       /* don't fragment: a full-size check must fit as it is */
};

struct ice_config {
	bool consent_freshness;    /* Binding requests every ~5 s, failure after 30 s */
	uint32_t recheck_ms;       /* retry failed pairs better than the selected one; 0: never */
	uint32_t nominate_wait_ms;
	/* The selected pair silent this long (no consent answer) while another
	 * pair has worked: give it up now and recheck the others, instead of
	 * waiting for consent to expire (30 s). 0: off (the default). */
	uint32_t switch_silent_ms;
	/* Failed pairs are rechecked after recheck_ms, doubling per failed
	 * round up to recheck_max_ms (+0..25% jitter); 0: every recheck_ms. */
	uint32_t recheck_max_ms;
	/* NAT-friendly hole punching (ice_nat.c). prime_ttl: before checking a
	 * pair whose remote is server- or peer-reflexive from a base that is
	 * not a relay, send a Binding indication with this IP TTL, which opens
	 * our NAT's mapping toward the peer but dies before the peer's NAT
	 * (RFC 5128 3.3); failed such pairs get one every ICE_PRIME_KEEP_MS.
	 * 0: off. hold_ms: the controlled agent checks such pairs only this
	 * long after the peer's candidates came, or once a check from the peer
	 * arrived, whichever is first, so the controlling side has primed. */
	uint8_t prime_ttl;
	uint32_t hold_ms;
	/* Full-size checks: a pair succeeds only once a check padded to
	 * pad_to bytes (PADDING, RFC 5780) and sent with DF is answered too,
	 * and consent checks are that size; a pair where only small checks
	 * pass fails with ICE_ERR_MTU. 0: off. */
	uint16_t pad_to;
};

struct ice_stats {
	uint64_t rx_requests, rx_responses, rx_indications;
	uint64_t rx_bad;           /* malformed, bad fingerprint, missing attributes */
	uint64_t rx_auth_fail;     /* wrong USERNAME or MESSAGE-INTEGRITY */
	uint64_t rx_unmatched;     /* responses to transactions we do not have */
	uint64_t tx_checks, tx_retrans, tx_responses, tx_keepalives;
	uint64_t tx_primes;        /* low-TTL Binding indications */
	uint64_t role_conflicts;
	uint64_t dropped_full;     /* candidates or pairs refused: tables full */
};

struct ice_response_slot {
	uint8_t tid[STUN_TID_LEN];
	uint32_t base_id;
	union addr_ip to;
	uint16_t err;              /* 0 success, else 487 */
	uint16_t size;             /* a padded request: the answer is as big, with DF */
};

struct ice_consent_tx {
	uint8_t tid[STUN_TID_LEN];
	int pair;                  /* -1: unused slot */
};

struct ice_agent {
	struct ice_config cfg;
	bool controlling;
	uint64_t tiebreaker;
	char lufrag[ICE_UFRAG_MAX + 1], lpwd[ICE_PWD_MAX + 1];
	char rufrag[ICE_UFRAG_MAX + 1], rpwd[ICE_PWD_MAX + 1];
	bool have_remote_creds, remote_eoc;
	uint64_t rng;

	unsigned nlocal, nremote;
	struct ice_cand local[ICE_MAX_LOCAL];
	struct ice_cand remote[ICE_MAX_REMOTE];
	struct ice_checklist cl;

	uint8_t trig[ICE_MAX_PAIRS];   /* triggered-check FIFO of pair indices */
	unsigned trig_head, trig_len;
	uint64_t next_check_ms;        /* Ta pacing of new checks */

	int selected, nominating;
	bool connected, failed_reported;
	bool heard_peer;               /* a valid check from the peer arrived */
	uint64_t hold_until_ms;        /* controlled: reflexive pairs wait until then */
	uint64_t first_success_ms, last_cand_ms, next_keepalive_ms, next_recheck_ms;

	struct ice_response_slot resp[ICE_MAX_RESPONSES];
	unsigned resp_head, resp_len;
	struct ice_consent_tx consent[ICE_MAX_CONSENT_TX];
	unsigned consent_next;

	struct ice_event ev[ICE_MAX_EVENTS];
	unsigned ev_head, ev_len;
	struct ice_stats stats;
};

/* Defaults: consent freshness on, recheck every ICE_RECHECK_MS. */
void ice_config_default(struct ice_config *cfg);
/* ufrag 4..64 and pwd 22..256 ice-chars. cfg may be NULL. Returns 0 or -EINVAL. */
int ice_agent_init(struct ice_agent *a, const struct ice_config *cfg, bool controlling,
		   uint64_t tiebreaker, const char *ufrag, const char *pwd);
int ice_agent_set_remote_credentials(struct ice_agent *a, const char *ufrag, const char *pwd);

/* Local candidates carry their base_id. srflx candidates are only
 * advertised: checks run from their base. Returns the index or -errno. */
int ice_agent_add_local_candidate(struct ice_agent *a, const struct ice_cand *c, uint64_t now_ms);
/* A signalled remote candidate (trickled any time). Returns index or -errno. */
int ice_agent_add_remote_candidate(struct ice_agent *a, const struct ice_cand *c, uint64_t now_ms);
/* The peer signalled end-of-candidates: failure can be declared at once. */
void ice_agent_remote_end_of_candidates(struct ice_agent *a);

/* The daemon lost a base (socket error, TURN allocation gone): every pair
 * sending from it fails now instead of timing out; a selected one is
 * reported with ICE_EV_PAIR_FAILED and the others are checked again. */
void ice_agent_base_failed(struct ice_agent *a, uint32_t base_id, uint64_t now_ms);

/* A datagram received on base_id from `from`. Returns true when it was an
 * ICE STUN message (Binding request/indication, or a response to one of our
 * checks) and has been consumed, even if it was then dropped as invalid;
 * false means it is not for the agent (data, TURN, a STUN server answer). */
bool ice_agent_input(struct ice_agent *a, uint32_t base_id, const struct sockaddr *from,
		     const uint8_t *buf, size_t len, uint64_t now_ms);
/* Writes the next datagram due at now_ms into buf. Returns its length,
 * 0 when nothing is due, or -ENOSPC when cap is below ICE_TX_BUF_MIN
 * (nothing is consumed then). Call again until it returns 0. */
int ice_agent_poll_transmit(struct ice_agent *a, struct ice_transmit *t, uint8_t *buf,
			    size_t cap, uint64_t now_ms);
/* Earliest time something is due, UINT64_MAX when idle. */
uint64_t ice_agent_next_deadline(const struct ice_agent *a, uint64_t now_ms);
void ice_agent_handle_timeout(struct ice_agent *a, uint64_t now_ms);
bool ice_agent_poll_event(struct ice_agent *a, struct ice_event *ev);

/* Multi-port probing (the link's hardnat.c): a connectivity check of this
 * session with the caller's transaction id, to send from bases the agent
 * does not know; and whether a datagram is the peer's authenticated
 * answer to it. */
int ice_agent_build_probe(const struct ice_agent *a, const uint8_t *tid, uint8_t *buf, size_t cap);
bool ice_agent_probe_answer(const struct ice_agent *a, const uint8_t *buf, size_t len, const uint8_t *tid);

/* Diagnostics: the selected pair (or -1), and one row per pair. */
int ice_agent_selected(const struct ice_agent *a);
unsigned ice_agent_pair_count(const struct ice_agent *a);
struct ice_pair_info {
	struct ice_cand local, remote;
	enum ice_pair_state state;
	enum ice_pair_err err;
	int err_code;
	uint64_t priority;
	uint32_t rtt_ms;
	bool nominated, selected;
};
int ice_agent_pair_info(const struct ice_agent *a, unsigned i, struct ice_pair_info *out);
/* One line on why the best kind of path is not in use, e.g.
 * "selected relay/srflx; host/host: 2 failed (timed out)". */
int ice_agent_describe(const struct ice_agent *a, char *buf, size_t cap);

#endif
