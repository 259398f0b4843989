/* ICE candidate pairs and the check list (RFC 8445 6.1.2): formation
 * (same family only), pruning of redundant pairs, pair priority, the
 * Frozen/Waiting/In-Progress/Succeeded/Failed states and unfreezing.
 * Pairs live in fixed slots and refer to candidates by index, so an index
 * stays valid for the agent's lifetime; order is by priority, found by scan. */
#ifndef IPOP_ICE_PAIR_H
#define IPOP_ICE_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "ice_cand.h"
#include "stun_proto.h"

enum ice_pair_state {
	ICE_PAIR_FROZEN = 0,
	ICE_PAIR_WAITING,
	ICE_PAIR_IN_PROGRESS,
	ICE_PAIR_SUCCEEDED,
	ICE_PAIR_FAILED,
};

/* Why a pair is not (or no longer) usable, for "why not direct" answers. */
enum ice_pair_err {
	ICE_ERR_NONE = 0,
	ICE_ERR_TIMEOUT,       /* no response to any retransmission */
	ICE_ERR_ERROR_RESP,    /* error response other than 487 (see err_code) */
	ICE_ERR_ASYMMETRIC,    /* response came from/to another address (RFC 8445 7.2.5.2.1) */
	ICE_ERR_CONSENT_LOST,  /* selected pair stopped answering (RFC 7675) */
	ICE_ERR_SEND,          /* the daemon reported the base cannot send */
	ICE_ERR_MTU,           /* small checks passed, the full-size one did not */
};

/* One outstanding Binding request on a pair. */
struct ice_tx {
	bool active;
	bool use_cand;        /* carries USE-CANDIDATE */
	bool controlling;     /* role the request claimed, for 487 handling */
	bool pad;             /* padded to the full size, sent with DF */
	uint8_t count;        /* transmissions so far */
	uint8_t tid[STUN_TID_LEN];
	uint64_t next_ms;     /* next retransmission, or final timeout */
	uint64_t first_ms;    /* first transmission, for RTT */
};

struct ice_pair {
	uint8_t local, remote; /* candidate indices in the agent */
	enum ice_pair_state state;
	uint64_t priority;
	bool nominated;
	bool nominate_on_success; /* controlled: USE-CANDIDATE seen before success */
	bool queued;              /* in the triggered-check queue */
	enum ice_pair_err err;
	int err_code;             /* STUN error code for ICE_ERR_ERROR_RESP */
	uint32_t rtt_ms;
	uint64_t last_rx_ms;      /* last authenticated response, for consent */
	uint64_t failed_ms;
	uint64_t recheck_at_ms;   /* a failed pair is checked again then (back-off, ice_nat.c) */
	uint8_t rechecks;         /* rounds failed in a row */
	bool small_ok;            /* a small check passed since the pair last failed */
	bool full_ok;             /* ...and a full-size one too */
	bool prime_due;           /* a low-TTL prime leaves before its next check */
	uint64_t prime_ms;        /* the last prime sent (0: never) */
	struct ice_tx tx;
};

struct ice_checklist {
	unsigned n;
	struct ice_pair pairs[ICE_MAX_PAIRS];
};

/* RFC 8445 6.1.2.3: 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0), with G the
 * controlling agent's candidate priority and D the controlled one's. */
uint64_t ice_pair_priority(uint32_t g, uint32_t d);
/* The priority of a pair seen from an agent in that role. */
uint64_t ice_pair_priority_local(uint32_t local_prio, uint32_t remote_prio, bool controlling);

const char *ice_pair_state_name(enum ice_pair_state s);
const char *ice_pair_err_name(enum ice_pair_err e);

/* The local candidate a pair really uses: a server-reflexive local
 * candidate is replaced by the host candidate on the same base (RFC 8445
 * 6.1.2.4). Returns the index to pair with, or -1 when lc should not pair. */
int ice_pair_local_for(const struct ice_cand *locals, unsigned nlocal, unsigned lc);

/* Adds the pair (local li, remote ri) unless it would be redundant (same
 * local base and remote address as an existing pair) or of another family.
 * When the list is full a new pair replaces the lowest-priority idle
 * (Frozen/Waiting/Failed) pair if it beats it. Returns the pair index,
 * -EEXIST with *existing set for a redundant pair, -EAFNOSUPPORT, or
 * -ENOSPC. */
int ice_checklist_add(struct ice_checklist *cl, const struct ice_cand *locals, unsigned li,
		      const struct ice_cand *remotes, unsigned ri, bool controlling, int *existing);
/* Recomputes every pair priority after a role switch. */
void ice_checklist_reprioritise(struct ice_checklist *cl, const struct ice_cand *locals,
				const struct ice_cand *remotes, bool controlling);
/* Pair with that local base and remote address, or -1. */
int ice_checklist_find(const struct ice_checklist *cl, const struct ice_cand *locals,
		       const struct ice_cand *remotes, uint32_t base_id,
		       const struct sockaddr *remote);
/* Highest-priority pair in state s, or -1. */
int ice_checklist_best(const struct ice_checklist *cl, enum ice_pair_state s);
/* Frozen pairs whose foundation has no Waiting or In-Progress pair become
 * Waiting, so every foundation keeps one check going (RFC 8445 6.1.4.2). */
void ice_checklist_unfreeze(struct ice_checklist *cl, const struct ice_cand *locals,
			    const struct ice_cand *remotes);
/* A success unfreezes every Frozen pair of the same foundation (7.2.5.3.3). */
void ice_checklist_unfreeze_foundation(struct ice_checklist *cl, const struct ice_cand *locals,
				       const struct ice_cand *remotes, unsigned pi);
unsigned ice_checklist_count(const struct ice_checklist *cl, enum ice_pair_state s);

#endif
