/* ICE agent: candidates and pairs in, paced checks, nomination, consent,
 * selected-pair events out. See ice_agent.h for the calling pattern. */
#include "ice_agent.h"
#include "ice_agent_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "stun_auth.h"
#include "stun_msg.h"
#include "tick.h"

/* ---- small helpers ---- */

static uint64_t rng_next(struct ice_agent *a)
{
	/* xorshift64*: only for timer jitter, never for anything secret */
	a->rng ^= a->rng >> 12;
	a->rng ^= a->rng << 25;
	a->rng ^= a->rng >> 27;
	return a->rng * 0x2545F4914F6CDD1Dull;
}

uint64_t ice_agent_rand(struct ice_agent *a)
{
	return rng_next(a);
}

static uint64_t jitter(struct ice_agent *a, uint32_t lo, uint32_t hi)
{
	return lo + rng_next(a) % (uint64_t)(hi - lo + 1);
}

static uint64_t min64(uint64_t x, uint64_t y)
{
	return x < y ? x : y;
}

static struct ice_pair *pair(struct ice_agent *a, int i)
{
	return &a->cl.pairs[i];
}

static const struct sockaddr *sa(const union addr_ip *u)
{
	return &u->sa;
}

static bool ice_chars_ok(const char *s, size_t min, size_t max)
{
	size_t n = s ? strnlen(s, max + 1) : 0;
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '+' || c == '/'))
			return false;
	}
	return true;
}

static bool family_ok(const struct sockaddr *s)
{
	return s && (s->sa_family == AF_INET || s->sa_family == AF_INET6);
}

/* ---- events ---- */

static void push_event(struct ice_agent *a, enum ice_event_type type, int pi)
{
	if (a->ev_len == ICE_MAX_EVENTS) { /* the newest state matters most */
		a->ev_head = (a->ev_head + 1) % ICE_MAX_EVENTS;
		a->ev_len--;
	}
	struct ice_event *e = &a->ev[(a->ev_head + a->ev_len++) % ICE_MAX_EVENTS];
	memset(e, 0, sizeof *e);
	e->type = type;
	e->pair = pi;
	e->controlling = a->controlling;
	if (pi >= 0) {
		e->local = a->local[pair(a, pi)->local];
		e->remote = a->remote[pair(a, pi)->remote];
	}
}

bool ice_agent_poll_event(struct ice_agent *a, struct ice_event *ev)
{
	if (a->ev_len == 0)
		return false;
	*ev = a->ev[a->ev_head];
	a->ev_head = (a->ev_head + 1) % ICE_MAX_EVENTS;
	a->ev_len--;
	return true;
}

/* ---- setup ---- */

void ice_config_default(struct ice_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->consent_freshness = true;
	cfg->recheck_ms = ICE_RECHECK_MS;
	cfg->nominate_wait_ms = ICE_NOMINATE_WAIT_MS;
}

int ice_agent_init(struct ice_agent *a, const struct ice_config *cfg, bool controlling,
		   uint64_t tiebreaker, const char *ufrag, const char *pwd)
{
	if (!ice_chars_ok(ufrag, ICE_UFRAG_MIN, ICE_UFRAG_MAX) ||
	    !ice_chars_ok(pwd, ICE_PWD_MIN, ICE_PWD_MAX))
		return -EINVAL;
	memset(a, 0, sizeof *a);
	if (cfg)
		a->cfg = *cfg;
	else
		ice_config_default(&a->cfg);
	a->controlling = controlling;
	a->tiebreaker = tiebreaker;
	a->rng = tiebreaker ^ 0x9E3779B97F4A7C15ull;
	if (a->rng == 0)
		a->rng = 1;
	strcpy(a->lufrag, ufrag);
	strcpy(a->lpwd, pwd);
	a->selected = -1;
	a->nominating = -1;
	for (unsigned i = 0; i < ICE_MAX_CONSENT_TX; i++)
		a->consent[i].pair = -1;
	return 0;
}

int ice_agent_set_remote_credentials(struct ice_agent *a, const char *ufrag, const char *pwd)
{
	if (!ice_chars_ok(ufrag, ICE_UFRAG_MIN, ICE_UFRAG_MAX) ||
	    !ice_chars_ok(pwd, ICE_PWD_MIN, ICE_PWD_MAX))
		return -EINVAL;
	strcpy(a->rufrag, ufrag);
	strcpy(a->rpwd, pwd);
	a->have_remote_creds = true;
	return 0;
}

void ice_agent_remote_end_of_candidates(struct ice_agent *a)
{
	a->remote_eoc = true;
}

/* ---- pairs ---- */

static void unfreeze(struct ice_agent *a)
{
	ice_checklist_unfreeze(&a->cl, a->local, a->remote);
}

static void form_pair(struct ice_agent *a, unsigned li, unsigned ri)
{
	int l = ice_pair_local_for(a->local, a->nlocal, li);
	if (l < 0)
		return;
	int rc = ice_checklist_add(&a->cl, a->local, (unsigned)l, a->remote, ri, a->controlling, NULL);
	if (rc == -ENOSPC)
		a->stats.dropped_full++;
	else if (rc >= 0)
		ice_nat_pair_formed(a, rc);
}

void ice_agent_enqueue_triggered(struct ice_agent *a, int pi)
{
	struct ice_pair *p = pair(a, pi);
	if (p->queued || a->trig_len == ICE_MAX_PAIRS)
		return;
	p->queued = true;
	a->trig[(a->trig_head + a->trig_len++) % ICE_MAX_PAIRS] = (uint8_t)pi;
}

static void new_candidate(struct ice_agent *a, uint64_t now_ms)
{
	a->last_cand_ms = now_ms;
	a->failed_reported = false;
	unfreeze(a);
}

int ice_agent_add_local_candidate(struct ice_agent *a, const struct ice_cand *c, uint64_t now_ms)
{
	if (!family_ok(sa(&c->addr)) || (unsigned)c->type > ICE_CAND_RELAY || c->priority == 0)
		return -EINVAL;
	for (unsigned i = 0; i < a->nlocal; i++)
		if (a->local[i].type == c->type && addr_equal(sa(&a->local[i].addr), sa(&c->addr)))
			return (int)i;
	if (a->nlocal == ICE_MAX_LOCAL) {
		a->stats.dropped_full++;
		return -ENOSPC;
	}
	unsigned li = a->nlocal++;
	a->local[li] = *c;
	for (unsigned ri = 0; ri < a->nremote; ri++)
		form_pair(a, li, ri);
	new_candidate(a, now_ms);
	return (int)li;
}

static int find_remote(const struct ice_agent *a, const struct sockaddr *addr)
{
	for (unsigned i = 0; i < a->nremote; i++)
		if (addr_equal(sa(&a->remote[i].addr), addr))
			return (int)i;
	return -1;
}

static int append_remote(struct ice_agent *a, const struct ice_cand *c)
{
	if (a->nremote == ICE_MAX_REMOTE) {
		a->stats.dropped_full++;
		return -ENOSPC;
	}
	unsigned ri = a->nremote++;
	a->remote[ri] = *c;
	a->remote[ri].base_id = 0;
	for (unsigned li = 0; li < a->nlocal; li++)
		form_pair(a, li, ri);
	return (int)ri;
}

int ice_agent_add_remote_candidate(struct ice_agent *a, const struct ice_cand *c, uint64_t now_ms)
{
	if (!family_ok(sa(&c->addr)) || (unsigned)c->type > ICE_CAND_RELAY || c->priority == 0 ||
	    c->component != ICE_COMPONENT_RTP || c->foundation[0] == '\0')
		return -EINVAL;
	int ri = find_remote(a, sa(&c->addr));
	if (ri >= 0) {
		/* a peer-reflexive one learned from a check is now known for
		 * what it is; its pairs keep their priority (RFC 8838 11.3) */
		struct ice_cand *r = &a->remote[ri];
		if (r->type == ICE_CAND_PRFLX) {
			r->type = c->type;
			memcpy(r->foundation, c->foundation, sizeof r->foundation);
			r->rel_addr = c->rel_addr;
		}
		return ri;
	}
	ri = append_remote(a, c);
	if (ri >= 0) {
		ice_nat_remote_added(a, c, now_ms);
		new_candidate(a, now_ms);
	}
	return ri;
}

/* ---- selection, nomination, failure ---- */

uint64_t ice_agent_keepalive_interval(struct ice_agent *a)
{
	if (a->cfg.consent_freshness) /* RFC 7675 5.1: 0.8 to 1.2 times 5 s */
		return jitter(a, ICE_CONSENT_INTERVAL_MS * 4 / 5, ICE_CONSENT_INTERVAL_MS * 6 / 5);
	return jitter(a, ICE_KEEPALIVE_MIN_MS, ICE_KEEPALIVE_MAX_MS);
}

uint64_t ice_agent_next_keepalive(struct ice_agent *a, uint64_t now_ms)
{
	uint64_t at = now_ms + ice_agent_keepalive_interval(a);

	return tick_ceil(at);
}

static void select_pair(struct ice_agent *a, int pi, uint64_t now_ms)
{
	if (a->selected == pi)
		return;
	a->selected = pi;
	a->failed_reported = false;
	/* a pair that succeeded long ago and is nominated only now starts
	 * its consent period here; the next consent check confirms it */
	if (pair(a, pi)->last_rx_ms < now_ms)
		pair(a, pi)->last_rx_ms = now_ms;
	a->next_keepalive_ms = ice_agent_next_keepalive(a, now_ms);
	if (!a->connected) {
		a->connected = true;
		push_event(a, ICE_EV_CONNECTED, pi);
	}
	push_event(a, ICE_EV_SELECTED_CHANGED, pi);
}

/* Is a pair better than pi still being worked on? */
static bool better_pending(const struct ice_agent *a, int pi)
{
	for (unsigned i = 0; i < a->cl.n; i++) {
		const struct ice_pair *q = &a->cl.pairs[i];
		if (q->priority > a->cl.pairs[pi].priority &&
		    (q->state == ICE_PAIR_FROZEN || q->state == ICE_PAIR_WAITING ||
		     q->state == ICE_PAIR_IN_PROGRESS))
			return true;
	}
	return false;
}

/* The succeeded pair the controlling agent wants to nominate, or -1. */
static int nomination_candidate(const struct ice_agent *a)
{
	if (!a->controlling || a->nominating >= 0)
		return -1;
	int best = ice_checklist_best(&a->cl, ICE_PAIR_SUCCEEDED);
	if (best < 0 || best == a->selected)
		return -1;
	if (a->selected >= 0 && a->cl.pairs[best].priority <= a->cl.pairs[a->selected].priority)
		return -1;
	return best;
}

uint64_t ice_agent_nominate_deadline(const struct ice_agent *a)
{
	if (nomination_candidate(a) < 0)
		return UINT64_MAX;
	return a->first_success_ms + a->cfg.nominate_wait_ms;
}

void ice_agent_maybe_nominate(struct ice_agent *a, uint64_t now_ms)
{
	int best = nomination_candidate(a);
	if (best < 0)
		return;
	/* regular nomination: give better pairs a moment to succeed first */
	if (now_ms < a->first_success_ms + a->cfg.nominate_wait_ms && better_pending(a, best))
		return;
	a->nominating = best;
	ice_agent_enqueue_triggered(a, best);
}

/* Controlled side: follow the latest nomination of the controlling agent. */
static void controlled_nominated(struct ice_agent *a, int pi, uint64_t now_ms)
{
	for (unsigned i = 0; i < a->cl.n; i++)
		a->cl.pairs[i].nominated = false;
	pair(a, pi)->nominated = true;
	pair(a, pi)->nominate_on_success = false;
	select_pair(a, pi, now_ms);
}

/* The selected pair is gone: check every other working pair again, the
 * first to answer gets nominated and selected. */
static void recheck_succeeded(struct ice_agent *a)
{
	a->nominating = -1;
	for (unsigned i = 0; i < a->cl.n; i++) {
		struct ice_pair *p = &a->cl.pairs[i];
		p->nominated = false;
		p->nominate_on_success = false;
		if (p->state == ICE_PAIR_SUCCEEDED && !p->tx.active) {
			p->state = ICE_PAIR_WAITING;
			ice_agent_enqueue_triggered(a, (int)i);
		}
	}
}

bool ice_agent_all_failed(const struct ice_agent *a)
{
	return a->cl.n > 0 && a->selected < 0 && a->trig_len == 0 &&
	       ice_checklist_count(&a->cl, ICE_PAIR_FAILED) == a->cl.n;
}

void ice_agent_check_failed(struct ice_agent *a, uint64_t now_ms)
{
	if (a->failed_reported || !ice_agent_all_failed(a))
		return;
	if (!a->remote_eoc && now_ms < a->last_cand_ms + ICE_FAIL_GRACE_MS)
		return;
	a->failed_reported = true;
	push_event(a, ICE_EV_FAILED, -1);
}

void ice_agent_fail_pair(struct ice_agent *a, int pi, enum ice_pair_err err, uint64_t now_ms)
{
	struct ice_pair *p = pair(a, pi);
	p->state = ICE_PAIR_FAILED;
	p->err = err;
	p->tx.active = false;
	p->nominated = false;
	p->full_ok = false; /* checked in full again when it next works */
	p->failed_ms = now_ms;
	p->recheck_at_ms = now_ms + ice_nat_recheck_delay(a, p);
	if (p->rechecks < ICE_RECHECK_MAX_N)
		p->rechecks++;
	if (pi == a->nominating)
		a->nominating = -1;
	if (pi == a->selected) {
		a->selected = -1;
		push_event(a, ICE_EV_PAIR_FAILED, pi);
		recheck_succeeded(a);
	}
	unfreeze(a);
	ice_agent_maybe_nominate(a, now_ms);
	ice_agent_check_failed(a, now_ms);
}

void ice_agent_base_failed(struct ice_agent *a, uint32_t base_id, uint64_t now_ms)
{
	for (unsigned i = 0; i < a->cl.n; i++) {
		struct ice_pair *p = &a->cl.pairs[i];
		if (a->local[p->local].base_id == base_id && p->state != ICE_PAIR_FAILED)
			ice_agent_fail_pair(a, (int)i, ICE_ERR_SEND, now_ms);
	}
}

/* A small check passed: now one of the full size, which must pass too
 * before the pair counts (tx_retransmit sends it at once). */
static void start_full_check(struct ice_agent *a, int pi, uint64_t now_ms)
{
	struct ice_pair *p = pair(a, pi);
	p->small_ok = true;
	p->rtt_ms = (uint32_t)min64(now_ms - p->tx.first_ms, UINT32_MAX);
	memset(&p->tx, 0, sizeof p->tx);
	p->tx.active = true;
	p->tx.pad = true;
	p->tx.controlling = a->controlling;
	p->tx.first_ms = now_ms;
	p->tx.next_ms = now_ms;
	stun_tid_random(p->tx.tid);
	p->state = ICE_PAIR_IN_PROGRESS;
}

static void pair_succeeded(struct ice_agent *a, int pi, uint64_t now_ms)
{
	struct ice_pair *p = pair(a, pi);
	if (a->cfg.pad_to && !p->full_ok && !p->tx.pad && !p->tx.use_cand) {
		start_full_check(a, pi, now_ms);
		return;
	}
	bool nominated_now = p->tx.use_cand && a->controlling;
	if (p->tx.pad)
		p->full_ok = true;
	else
		p->rtt_ms = (uint32_t)min64(now_ms - p->tx.first_ms, UINT32_MAX);
	p->state = ICE_PAIR_SUCCEEDED;
	p->err = ICE_ERR_NONE;
	p->err_code = 0;
	p->rechecks = 0;
	p->last_rx_ms = now_ms;
	p->tx.active = false;
	a->failed_reported = false;
	if (a->first_success_ms == 0)
		a->first_success_ms = now_ms;
	ice_checklist_unfreeze_foundation(&a->cl, a->local, a->remote, (unsigned)pi);
	if (nominated_now) {
		p->nominated = true;
		if (a->nominating == pi)
			a->nominating = -1;
		select_pair(a, pi, now_ms);
	} else if (!a->controlling && p->nominate_on_success) {
		controlled_nominated(a, pi, now_ms);
	}
	ice_agent_maybe_nominate(a, now_ms);
}

static void switch_role(struct ice_agent *a, bool controlling)
{
	a->controlling = controlling;
	a->nominating = -1;
	a->stats.role_conflicts++;
	ice_checklist_reprioritise(&a->cl, a->local, a->remote, controlling);
	push_event(a, ICE_EV_ROLE_CHANGED, -1);
}

/* ---- incoming requests ---- */

static bool username_ok(const struct ice_agent *a, const struct stun_msg *m)
{
	const struct stun_attr *u = stun_msg_find(m, STUN_ATTR_USERNAME);
	if (!u)
		return false;
	const char *v = (const char *)stun_attr_value(m, u);
	size_t ll = strlen(a->lufrag);
	if (u->len <= ll || memcmp(v, a->lufrag, ll) != 0 || v[ll] != ':')
		return false;
	if (!a->have_remote_creds) /* we may hear checks before the signalling */
		return true;
	size_t rl = strlen(a->rufrag);
	return u->len == ll + 1 + rl && memcmp(v + ll + 1, a->rufrag, rl) == 0;
}

static void queue_response(struct ice_agent *a, const struct stun_msg *m, uint32_t base_id,
			   const struct sockaddr *from, uint16_t err)
{
	/* RFC 5780 7.6: a padded request gets an answer of its size, so a
	 * full-size check tests both directions of the path */
	uint16_t size = stun_msg_find(m, STUN_ATTR_PADDING) && !err ? (uint16_t)m->len : 0;
	if (a->resp_len == ICE_MAX_RESPONSES) /* the peer retransmits */
		return;
	struct ice_response_slot *r = &a->resp[(a->resp_head + a->resp_len++) % ICE_MAX_RESPONSES];
	memcpy(r->tid, m->tid, STUN_TID_LEN);
	r->base_id = base_id;
	memset(&r->to, 0, sizeof r->to);
	memcpy(&r->to, from, addr_len(from));
	r->err = err;
	r->size = size;
}

/* RFC 8445 7.3.1.1. Returns true when the request must get a 487. */
static bool role_conflict(struct ice_agent *a, const struct stun_msg *m, bool *bad)
{
	const struct stun_attr *ctl = stun_msg_find(m, ICE_ATTR_CONTROLLING);
	const struct stun_attr *ced = stun_msg_find(m, ICE_ATTR_CONTROLLED);
	uint64_t tb;
	if (a->controlling && ctl) {
		if (stun_attr_get_u64(m, ctl, &tb) < 0)
			return *bad = true, false;
		if (a->tiebreaker >= tb)
			return true;
		switch_role(a, false);
	} else if (!a->controlling && ced) {
		if (stun_attr_get_u64(m, ced, &tb) < 0)
			return *bad = true, false;
		if (a->tiebreaker < tb)
			return true;
		switch_role(a, true);
	}
	return false;
}

/* The local candidate that owns a base: host or relay, else whatever is there. */
static int local_for_base(const struct ice_agent *a, uint32_t base_id, int family)
{
	int any = -1;
	for (unsigned i = 0; i < a->nlocal; i++) {
		const struct ice_cand *c = &a->local[i];
		if (c->base_id != base_id || c->addr.sa.sa_family != family)
			continue;
		if (c->type == ICE_CAND_HOST || c->type == ICE_CAND_RELAY)
			return (int)i;
		if (any < 0)
			any = (int)i;
	}
	return any;
}

/* RFC 8445 7.3.1.3: an unknown source is a peer-reflexive remote candidate. */
static int learn_prflx(struct ice_agent *a, const struct sockaddr *from, uint32_t prio)
{
	struct ice_cand c;
	memset(&c, 0, sizeof c);
	c.type = ICE_CAND_PRFLX;
	c.component = ICE_COMPONENT_RTP;
	c.priority = prio;
	memcpy(&c.addr, from, addr_len(from));
	c.rel_addr = c.addr;
	snprintf(c.foundation, sizeof c.foundation, "prflx%u", a->nremote);
	return append_remote(a, &c);
}

static int pair_for_request(struct ice_agent *a, uint32_t base_id, const struct sockaddr *from,
			    uint32_t prio, uint64_t now_ms)
{
	int pi = ice_checklist_find(&a->cl, a->local, a->remote, base_id, from);
	if (pi >= 0)
		return pi;
	int li = local_for_base(a, base_id, from->sa_family);
	if (li < 0)
		return -1;
	int ri = find_remote(a, from);
	if (ri < 0) {
		ri = learn_prflx(a, from, prio);
		if (ri < 0)
			return -1;
		new_candidate(a, now_ms);
	}
	int existing = -1;
	pi = ice_checklist_add(&a->cl, a->local, (unsigned)li, a->remote, (unsigned)ri,
			       a->controlling, &existing);
	if (pi >= 0)
		ice_nat_pair_formed(a, pi);
	return pi >= 0 ? pi : existing;
}

/* RFC 8445 7.3.1.4 triggered checks, and 7.3.1.5 nomination (controlled). */
static void triggered_check(struct ice_agent *a, int pi, bool use_cand, uint64_t now_ms)
{
	struct ice_pair *p = pair(a, pi);
	if (p->state == ICE_PAIR_SUCCEEDED) {
		if (use_cand && !a->controlling && a->selected != pi)
			controlled_nominated(a, pi, now_ms);
		return;
	}
	if (use_cand && !a->controlling)
		p->nominate_on_success = true;
	if (p->state == ICE_PAIR_IN_PROGRESS)
		return; /* its own retransmissions will get through now */
	p->state = ICE_PAIR_WAITING;
	ice_agent_enqueue_triggered(a, pi);
}

static bool request_valid(struct ice_agent *a, const struct stun_msg *m, uint32_t *prio)
{
	const struct stun_attr *pa = stun_msg_find(m, ICE_ATTR_PRIORITY);
	if (m->fp < 0 || !stun_check_fingerprint(m) || m->nunknown > 0) {
		a->stats.rx_bad++;
		return false;
	}
	if (!username_ok(a, m) ||
	    stun_check_integrity(m, (const uint8_t *)a->lpwd, strlen(a->lpwd)) != 0) {
		a->stats.rx_auth_fail++;
		return false;
	}
	if (!pa || stun_attr_get_u32(m, pa, prio) < 0 || *prio == 0) {
		a->stats.rx_bad++;
		return false;
	}
	return true;
}

static void handle_request(struct ice_agent *a, uint32_t base_id, const struct sockaddr *from,
			   const struct stun_msg *m, uint64_t now_ms)
{
	uint32_t prio;
	bool bad = false;
	a->stats.rx_requests++;
	if (!request_valid(a, m, &prio))
		return;
	a->heard_peer = true; /* it has primed: our held checks may go */
	if (role_conflict(a, m, &bad)) {
		queue_response(a, m, base_id, from, STUN_ERR_ROLE_CONFLICT);
		return;
	}
	if (bad) {
		a->stats.rx_bad++;
		return;
	}
	int pi = pair_for_request(a, base_id, from, prio, now_ms);
	if (pi >= 0) {
		bool use_cand = stun_msg_find(m, ICE_ATTR_USE_CANDIDATE) != NULL;
		triggered_check(a, pi, use_cand, now_ms);
	}
	queue_response(a, m, base_id, from, 0);
}

/* ---- incoming responses ---- */

static int find_tx(const struct ice_agent *a, const uint8_t *tid)
{
	for (unsigned i = 0; i < a->cl.n; i++) {
		const struct ice_tx *t = &a->cl.pairs[i].tx;
		if (t->active && memcmp(t->tid, tid, STUN_TID_LEN) == 0)
			return (int)i;
	}
	return -1;
}

static int find_consent(const struct ice_agent *a, const uint8_t *tid)
{
	for (unsigned i = 0; i < ICE_MAX_CONSENT_TX; i++)
		if (a->consent[i].pair >= 0 && memcmp(a->consent[i].tid, tid, STUN_TID_LEN) == 0)
			return (int)i;
	return -1;
}

static bool symmetric(const struct ice_agent *a, int pi, uint32_t base_id, const struct sockaddr *from)
{
	const struct ice_pair *p = &a->cl.pairs[pi];
	return a->local[p->local].base_id == base_id && addr_equal(sa(&a->remote[p->remote].addr), from);
}

static void check_error(struct ice_agent *a, int pi, const struct stun_msg *m, uint64_t now_ms)
{
	const struct stun_attr *ea = stun_msg_find(m, STUN_ATTR_ERROR_CODE);
	int code = 0;
	const char *reason;
	size_t rlen;
	struct ice_pair *p = pair(a, pi);
	if (!ea || stun_attr_get_error(m, ea, &code, &reason, &rlen) < 0)
		code = STUN_ERR_BAD_REQUEST;
	if (code != STUN_ERR_ROLE_CONFLICT) {
		p->err_code = code;
		ice_agent_fail_pair(a, pi, ICE_ERR_ERROR_RESP, now_ms);
		return;
	}
	/* RFC 8445 7.2.5.1: switch only if we still claim the role we sent */
	if (p->tx.controlling == a->controlling)
		switch_role(a, !a->controlling);
	p->tx.active = false;
	if (p->state != ICE_PAIR_SUCCEEDED)
		p->state = ICE_PAIR_WAITING;
	ice_agent_enqueue_triggered(a, pi);
}

static void handle_check_response(struct ice_agent *a, int pi, uint32_t base_id,
				  const struct sockaddr *from, const struct stun_msg *m,
				  uint64_t now_ms)
{
	if (!symmetric(a, pi, base_id, from)) {
		ice_agent_fail_pair(a, pi, ICE_ERR_ASYMMETRIC, now_ms);
		return;
	}
	if (m->cls == STUN_CLASS_ERROR)
		check_error(a, pi, m, now_ms);
	else
		pair_succeeded(a, pi, now_ms);
}

static void handle_consent_response(struct ice_agent *a, int ci, uint32_t base_id,
				    const struct sockaddr *from, const struct stun_msg *m,
				    uint64_t now_ms)
{
	int pi = a->consent[ci].pair;
	a->consent[ci].pair = -1;
	if (m->cls != STUN_CLASS_SUCCESS || !symmetric(a, pi, base_id, from))
		return; /* consent simply is not refreshed */
	if (pair(a, pi)->state == ICE_PAIR_SUCCEEDED)
		pair(a, pi)->last_rx_ms = now_ms;
}

static bool handle_response(struct ice_agent *a, uint32_t base_id, const struct sockaddr *from,
			    const struct stun_msg *m, uint64_t now_ms)
{
	int pi = find_tx(a, m->tid);
	int ci = pi < 0 ? find_consent(a, m->tid) : -1;
	if (pi < 0 && ci < 0) {
		a->stats.rx_unmatched++;
		return false; /* maybe the daemon's STUN client asked a server */
	}
	a->stats.rx_responses++;
	if (m->fp < 0 || !stun_check_fingerprint(m)) {
		a->stats.rx_bad++;
		return true;
	}
	if (stun_check_integrity(m, (const uint8_t *)a->rpwd, strlen(a->rpwd)) != 0) {
		a->stats.rx_auth_fail++; /* forged or corrupted: keep waiting */
		return true;
	}
	if (pi >= 0)
		handle_check_response(a, pi, base_id, from, m, now_ms);
	else
		handle_consent_response(a, ci, base_id, from, m, now_ms);
	return true;
}

bool ice_agent_input(struct ice_agent *a, uint32_t base_id, const struct sockaddr *from,
		     const uint8_t *buf, size_t len, uint64_t now_ms)
{
	struct stun_msg m;
	if (!family_ok(from) || !buf || !stun_is_message(buf, len))
		return false;
	if (stun_msg_parse(&m, buf, len) < 0 || m.method != STUN_METHOD_BINDING)
		return false;
	switch (m.cls) {
	case STUN_CLASS_REQUEST:
		handle_request(a, base_id, from, &m, now_ms);
		return true;
	case STUN_CLASS_INDICATION:
		a->stats.rx_indications++; /* keepalive: nothing to do */
		return true;
	default:
		return handle_response(a, base_id, from, &m, now_ms);
	}
}
