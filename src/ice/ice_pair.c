/* ICE check list: pair formation, pruning, priority, unfreezing. */
#include "ice_pair.h"

#include <errno.h>
#include <string.h>

#include "addr.h"

uint64_t ice_pair_priority(uint32_t g, uint32_t d)
{
	uint64_t mn = g < d ? g : d, mx = g < d ? d : g;
	return (mn << 32) + 2 * mx + (g > d ? 1 : 0);
}

uint64_t ice_pair_priority_local(uint32_t local_prio, uint32_t remote_prio, bool controlling)
{
	return controlling ? ice_pair_priority(local_prio, remote_prio)
			   : ice_pair_priority(remote_prio, local_prio);
}

const char *ice_pair_state_name(enum ice_pair_state s)
{
	static const char *const n[] = { "frozen", "waiting", "in-progress", "succeeded", "failed" };
	return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "?";
}

const char *ice_pair_err_name(enum ice_pair_err e)
{
	static const char *const n[] = { "none", "timed out", "error response",
					 "asymmetric response", "consent lost", "send failed",
					 "full-size packets lost" };
	return (unsigned)e < sizeof n / sizeof n[0] ? n[e] : "?";
}

/* A host/relay candidate is its own base; srflx/prflx name theirs in rel_addr. */
static const struct sockaddr *base_addr(const struct ice_cand *c)
{
	bool reflexive = c->type == ICE_CAND_SRFLX || c->type == ICE_CAND_PRFLX;
	return (const struct sockaddr *)(reflexive ? &c->rel_addr : &c->addr);
}

static bool same_base(const struct ice_cand *a, const struct ice_cand *b)
{
	return a->base_id == b->base_id && addr_equal(base_addr(a), base_addr(b));
}

int ice_pair_local_for(const struct ice_cand *locals, unsigned nlocal, unsigned lc)
{
	if (lc >= nlocal)
		return -1;
	if (locals[lc].type != ICE_CAND_SRFLX && locals[lc].type != ICE_CAND_PRFLX)
		return (int)lc;
	for (unsigned i = 0; i < nlocal; i++) {
		if (locals[i].type == ICE_CAND_HOST && same_base(&locals[i], &locals[lc]))
			return (int)i;
	}
	/* no host candidate on that base was given: the srflx one stands in */
	return (int)lc;
}

static bool redundant(const struct ice_pair *p, const struct ice_cand *locals, unsigned li,
		      const struct ice_cand *remotes, unsigned ri)
{
	return same_base(&locals[p->local], &locals[li]) &&
	       addr_equal((const struct sockaddr *)&remotes[p->remote].addr,
			  (const struct sockaddr *)&remotes[ri].addr);
}

static bool evictable(const struct ice_pair *p)
{
	return (p->state == ICE_PAIR_FROZEN || p->state == ICE_PAIR_WAITING ||
		p->state == ICE_PAIR_FAILED) && !p->tx.active && !p->nominated;
}

/* Slot for a new pair of priority prio: a free one, or the weakest idle. */
static int free_slot(struct ice_checklist *cl, uint64_t prio)
{
	int worst = -1;
	if (cl->n < ICE_MAX_PAIRS)
		return (int)cl->n++;
	for (unsigned i = 0; i < cl->n; i++) {
		if (evictable(&cl->pairs[i]) &&
		    (worst < 0 || cl->pairs[i].priority < cl->pairs[worst].priority))
			worst = (int)i;
	}
	if (worst < 0 || cl->pairs[worst].priority >= prio)
		return -ENOSPC;
	return worst;
}

int ice_checklist_add(struct ice_checklist *cl, const struct ice_cand *locals, unsigned li,
		      const struct ice_cand *remotes, unsigned ri, bool controlling, int *existing)
{
	if (!ice_cand_same_family(&locals[li], &remotes[ri]))
		return -EAFNOSUPPORT;
	for (unsigned i = 0; i < cl->n; i++) {
		if (redundant(&cl->pairs[i], locals, li, remotes, ri)) {
			if (existing)
				*existing = (int)i;
			return -EEXIST;
		}
	}
	uint64_t prio = ice_pair_priority_local(locals[li].priority, remotes[ri].priority, controlling);
	int s = free_slot(cl, prio);
	if (s < 0)
		return s;
	struct ice_pair *p = &cl->pairs[s];
	memset(p, 0, sizeof *p);
	p->local = (uint8_t)li;
	p->remote = (uint8_t)ri;
	p->priority = prio;
	p->state = ICE_PAIR_FROZEN;
	return s;
}

void ice_checklist_reprioritise(struct ice_checklist *cl, const struct ice_cand *locals,
				const struct ice_cand *remotes, bool controlling)
{
	for (unsigned i = 0; i < cl->n; i++) {
		struct ice_pair *p = &cl->pairs[i];
		p->priority = ice_pair_priority_local(locals[p->local].priority,
						      remotes[p->remote].priority, controlling);
	}
}

int ice_checklist_find(const struct ice_checklist *cl, const struct ice_cand *locals,
		       const struct ice_cand *remotes, uint32_t base_id,
		       const struct sockaddr *remote)
{
	for (unsigned i = 0; i < cl->n; i++) {
		const struct ice_pair *p = &cl->pairs[i];
		if (locals[p->local].base_id == base_id &&
		    addr_equal((const struct sockaddr *)&remotes[p->remote].addr, remote))
			return (int)i;
	}
	return -1;
}

int ice_checklist_best(const struct ice_checklist *cl, enum ice_pair_state s)
{
	int best = -1;
	for (unsigned i = 0; i < cl->n; i++) {
		if (cl->pairs[i].state == s &&
		    (best < 0 || cl->pairs[i].priority > cl->pairs[best].priority))
			best = (int)i;
	}
	return best;
}

static bool same_foundation(const struct ice_pair *a, const struct ice_pair *b,
			    const struct ice_cand *locals, const struct ice_cand *remotes)
{
	return strcmp(locals[a->local].foundation, locals[b->local].foundation) == 0 &&
	       strcmp(remotes[a->remote].foundation, remotes[b->remote].foundation) == 0;
}

static bool foundation_active(const struct ice_checklist *cl, const struct ice_pair *p,
			      const struct ice_cand *locals, const struct ice_cand *remotes)
{
	for (unsigned i = 0; i < cl->n; i++) {
		const struct ice_pair *q = &cl->pairs[i];
		if ((q->state == ICE_PAIR_WAITING || q->state == ICE_PAIR_IN_PROGRESS) &&
		    same_foundation(p, q, locals, remotes))
			return true;
	}
	return false;
}

void ice_checklist_unfreeze(struct ice_checklist *cl, const struct ice_cand *locals,
			    const struct ice_cand *remotes)
{
	/* highest priority first, so the best pair of each foundation wins */
	for (;;) {
		int best = -1;
		for (unsigned i = 0; i < cl->n; i++) {
			const struct ice_pair *p = &cl->pairs[i];
			if (p->state != ICE_PAIR_FROZEN || foundation_active(cl, p, locals, remotes))
				continue;
			if (best < 0 || p->priority > cl->pairs[best].priority)
				best = (int)i;
		}
		if (best < 0)
			return;
		cl->pairs[best].state = ICE_PAIR_WAITING;
	}
}

void ice_checklist_unfreeze_foundation(struct ice_checklist *cl, const struct ice_cand *locals,
				       const struct ice_cand *remotes, unsigned pi)
{
	for (unsigned i = 0; i < cl->n; i++) {
		struct ice_pair *q = &cl->pairs[i];
		if (q->state == ICE_PAIR_FROZEN && same_foundation(q, &cl->pairs[pi], locals, remotes))
			q->state = ICE_PAIR_WAITING;
	}
}

unsigned ice_checklist_count(const struct ice_checklist *cl, enum ice_pair_state s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < cl->n; i++)
		n += cl->pairs[i].state == s;
	return n;
}
