/* ICE agent, NAT-friendly hole punching: low-TTL primes, the controlled
 * side's hold, and the back-off of rechecks.
 *
 * Why. A NAT that is a plain Linux gateway (MASQUERADE, no INPUT drop
 * rule) takes a peer's check that arrives before its own host has sent
 * anything for itself: conntrack confirms an entry (peer -> gateway) that
 * holds the port the host's mapping would use, and the host's own check
 * to that peer then leaves from another port, as if the NAT were
 * symmetric. Each side's first check poisons the other side's NAT, and
 * periodic rechecks keep those entries alive for ever (unreplied UDP
 * lives 30 s). Three things avoid it:
 *
 *  - A prime: before the first check of a pair whose remote is server- or
 *    peer-reflexive, a Binding indication with a small IP TTL leaves the
 *    same base. It passes our NAT, which makes our mapping toward the
 *    peer now, and dies in the network before the peer's NAT (RFC 5128
 *    3.3). The peer's later check then finds that mapping and comes in.
 *  - The hold: the controlled side, which gets the peer's candidates
 *    first (with the offer), checks reflexive pairs only once a check from
 *    the peer arrived or hold_ms passed, so the controlling side, which
 *    primes when the answer arrives, has primed before anything of ours
 *    reaches its NAT.
 *  - Back-off: failed pairs are checked again after recheck_ms, doubling
 *    up to recheck_max_ms (with jitter), which the link sets above the
 *    30 s conntrack timeout: a conflicting entry left by a failed round
 *    expires before the next one. Failed reflexive pairs keep being
 *    primed (every ICE_PRIME_KEEP_MS), so our mapping stays open without
 *    keeping anything alive in the peer's NAT, and the first check that
 *    gets through once the path opens finds it. */
#include <string.h>

#include "ice_agent.h"
#include "ice_agent_int.h"
#include "stun_msg.h"

static bool reflexive(enum ice_cand_type t)
{
	return t == ICE_CAND_SRFLX || t == ICE_CAND_PRFLX;
}

bool ice_nat_wants_prime(const struct ice_agent *a, const struct ice_pair *p)
{
	return a->cfg.prime_ttl && a->local[p->local].type != ICE_CAND_RELAY && reflexive(a->remote[p->remote].type);
}

void ice_nat_pair_formed(struct ice_agent *a, int pi)
{
	struct ice_pair *p = &a->cl.pairs[pi];
	if (ice_nat_wants_prime(a, p))
		p->prime_due = true;
}

void ice_nat_remote_added(struct ice_agent *a, const struct ice_cand *c, uint64_t now_ms)
{
	if (!a->controlling && a->cfg.hold_ms && !a->hold_until_ms && reflexive(c->type))
		a->hold_until_ms = now_ms + a->cfg.hold_ms;
}

bool ice_nat_held(const struct ice_agent *a, const struct ice_pair *p, uint64_t now_ms)
{
	return !a->controlling && !a->heard_peer && now_ms < a->hold_until_ms &&
	       a->local[p->local].type != ICE_CAND_RELAY && reflexive(a->remote[p->remote].type);
}

uint64_t ice_nat_recheck_delay(struct ice_agent *a, const struct ice_pair *p)
{
	uint64_t d = a->cfg.recheck_ms, max = a->cfg.recheck_max_ms;

	if (!max || max <= d)
		return d;
	for (unsigned i = 0; i < p->rechecks && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	return d + ice_agent_rand(a) % (d / 4 + 1);
}

bool ice_nat_prime_stale(const struct ice_agent *a, const struct ice_pair *p, uint64_t now_ms)
{
	return ice_nat_wants_prime(a, p) && (!p->prime_ms || now_ms - p->prime_ms >= ICE_PRIME_FRESH_MS);
}

int ice_nat_build_prime(struct ice_agent *a, int pi, struct ice_transmit *t, uint8_t *buf, size_t cap,
			uint64_t now_ms)
{
	struct ice_pair *p = &a->cl.pairs[pi];
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];

	stun_tid_random(tid);
	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_INDICATION, tid);
	stun_build_fingerprint(&b);
	int n = stun_build_finish(&b);
	if (n < 0)
		return n;
	memset(t, 0, sizeof *t);
	t->base_id = a->local[p->local].base_id;
	memcpy(&t->dst, &a->remote[p->remote].addr, sizeof a->remote[p->remote].addr);
	t->ttl = a->cfg.prime_ttl;
	p->prime_due = false;
	p->prime_ms = now_ms ? now_ms : 1;
	a->stats.tx_primes++;
	return n;
}

int ice_nat_tx_prime(struct ice_agent *a, struct ice_transmit *t, uint8_t *buf, size_t cap, uint64_t now_ms)
{
	for (unsigned i = 0; i < a->cl.n; i++) {
		struct ice_pair *p = &a->cl.pairs[i];
		if (!p->prime_due)
			continue;
		if (!ice_nat_wants_prime(a, p) || p->state == ICE_PAIR_SUCCEEDED) {
			p->prime_due = false;
			continue;
		}
		return ice_nat_build_prime(a, (int)i, t, buf, cap, now_ms);
	}
	return 0;
}

/* Failed reflexive pairs waiting for their recheck keep our mapping. */
static bool keep_due(const struct ice_agent *a, const struct ice_pair *p, uint64_t *when)
{
	uint64_t r;
	if (p->state != ICE_PAIR_FAILED || !ice_nat_wants_prime(a, p) || !ice_agent_recheck_due(a, p, &r))
		return false;
	*when = p->prime_ms + ICE_PRIME_KEEP_MS;
	return true;
}

void ice_nat_tick(struct ice_agent *a, uint64_t now_ms)
{
	uint64_t when;
	for (unsigned i = 0; i < a->cl.n; i++) {
		struct ice_pair *p = &a->cl.pairs[i];
		if (keep_due(a, p, &when) && when <= now_ms)
			p->prime_due = true;
	}
}

uint64_t ice_nat_deadline(const struct ice_agent *a, uint64_t now_ms)
{
	uint64_t d = UINT64_MAX, when;
	bool held = false;

	for (unsigned i = 0; i < a->cl.n; i++) {
		const struct ice_pair *p = &a->cl.pairs[i];
		if (p->prime_due)
			return now_ms;
		if (keep_due(a, p, &when) && when < d)
			d = when;
		held = held || (p->state == ICE_PAIR_WAITING && ice_nat_held(a, p, now_ms));
	}
	if (held && a->hold_until_ms < d)
		d = a->hold_until_ms;
	return d;
}
