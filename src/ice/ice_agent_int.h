/* Internal to the ICE agent: state transitions ice_agent.c implements and
 * the transmit/timer half (ice_agent_tx.c) drives. Not for other modules. */
#ifndef IPOP_ICE_AGENT_INT_H
#define IPOP_ICE_AGENT_INT_H

#include "ice_agent.h"

/* Largest message the agent builds without padding: header 20, USERNAME of two maximal
 * ufrags 4+132, PRIORITY 8, role 12, USE-CANDIDATE 4, MESSAGE-INTEGRITY 24,
 * FINGERPRINT 8 = 212 bytes. */
enum { ICE_TX_MIN = ICE_TX_BUF_MIN };
_Static_assert(20 + 4 + (2 * ICE_UFRAG_MAX + 1 + 3) / 4 * 4 + 8 + 12 + 4 + 24 + 8 <= ICE_TX_MIN,
	       "ICE_TX_BUF_MIN too small for the longest check");

void ice_agent_fail_pair(struct ice_agent *a, int pi, enum ice_pair_err err, uint64_t now_ms);
void ice_agent_maybe_nominate(struct ice_agent *a, uint64_t now_ms);
/* When a nomination would be made if better pairs stop pending, or UINT64_MAX. */
uint64_t ice_agent_nominate_deadline(const struct ice_agent *a);
void ice_agent_check_failed(struct ice_agent *a, uint64_t now_ms);
bool ice_agent_all_failed(const struct ice_agent *a);
void ice_agent_enqueue_triggered(struct ice_agent *a, int pi);
/* Time to the next keepalive or consent check on the selected pair. */
uint64_t ice_agent_keepalive_interval(struct ice_agent *a);
/* When the next one is due: now + the interval, rounded up to the grid of
 * tick.h, so that the consent checks of all of a node's links leave in
 * shared wakeups (the link core ticks on the same grid)
 * instead of one wakeup each; the interval's jitter still spreads them
 * over several grid points. */
uint64_t ice_agent_next_keepalive(struct ice_agent *a, uint64_t now_ms);
/* Jitter only, never anything secret. */
uint64_t ice_agent_rand(struct ice_agent *a);
/* A failed pair that will be checked again, and when. */
bool ice_agent_recheck_due(const struct ice_agent *a, const struct ice_pair *p, uint64_t *when);

/* ice_nat.c: primes, the controlled side's hold, recheck back-off. */
bool ice_nat_wants_prime(const struct ice_agent *a, const struct ice_pair *p);
void ice_nat_pair_formed(struct ice_agent *a, int pi);
void ice_nat_remote_added(struct ice_agent *a, const struct ice_cand *c, uint64_t now_ms);
bool ice_nat_held(const struct ice_agent *a, const struct ice_pair *p, uint64_t now_ms);
uint64_t ice_nat_recheck_delay(struct ice_agent *a, const struct ice_pair *p);
/* The pair's last prime is old enough that a check should get a new one. */
bool ice_nat_prime_stale(const struct ice_agent *a, const struct ice_pair *p, uint64_t now_ms);
int ice_nat_build_prime(struct ice_agent *a, int pi, struct ice_transmit *t, uint8_t *buf, size_t cap,
			uint64_t now_ms);
int ice_nat_tx_prime(struct ice_agent *a, struct ice_transmit *t, uint8_t *buf, size_t cap, uint64_t now_ms);
void ice_nat_tick(struct ice_agent *a, uint64_t now_ms);
uint64_t ice_nat_deadline(const struct ice_agent *a, uint64_t now_ms);

#endif
