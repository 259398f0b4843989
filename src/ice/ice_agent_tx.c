/* ICE agent, outgoing half: what to send now (answers, retransmissions,
 * one new check per Ta, keepalives/consent), timers, and diagnostics. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "ice_agent.h"
#include "ice_agent_int.h"
#include "stun_auth.h"
#include "stun_msg.h"

static struct ice_pair *pair(struct ice_agent *a, int i)
{
	return &a->cl.pairs[i];
}

static void set_dest(struct ice_transmit *t, uint32_t base_id, const union addr_ip *to)
{
	t->base_id = base_id;
	t->ttl = 0;
	t->df = false;
	memset(&t->dst, 0, sizeof t->dst);
	memcpy(&t->dst, to, addr_len(&to->sa));
}

static uint64_t rto(unsigned count)
{
	uint64_t r = (uint64_t)ICE_CHECK_RTO_MS << (count > 1 ? count - 1 : 0);
	return r < ICE_CHECK_RTO_MAX_MS ? r : ICE_CHECK_RTO_MAX_MS;
}

/* ---- building ---- */

/* PADDING that makes the finished message want bytes (or as near as the
 * 4-byte alignment and cap allow): MESSAGE-INTEGRITY and FINGERPRINT
 * still follow. */
static void pad_to(struct stun_builder *b, size_t want, size_t cap)
{
	enum { TAIL = 24 + 8, HDR = 4 };
	if (want > cap)
		want = cap;
	if (want < b->len + HDR + TAIL + 4)
		return;
	stun_build_padding(b, (want - b->len - HDR - TAIL) & ~(size_t)3);
}

static int build_request(const struct ice_agent *a, int pi, const uint8_t *tid, bool use_cand, bool pad,
			 uint8_t *buf, size_t cap)
{
	const struct ice_pair *p = &a->cl.pairs[pi];
	char user[2 * ICE_UFRAG_MAX + 2];
	struct stun_builder b;
	/* PRIORITY is what a peer-reflexive candidate learned from this check
	 * would get: prflx type preference, our local preference (8445 7.1.1) */
	uint16_t local_pref = (uint16_t)(a->local[p->local].priority >> 8);
	uint32_t prio = ice_cand_priority(ICE_CAND_PRFLX, local_pref, ICE_COMPONENT_RTP);

	int n = snprintf(user, sizeof user, "%s:%s", a->rufrag, a->lufrag);
	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_USERNAME, user, (size_t)n);
	stun_build_u32(&b, ICE_ATTR_PRIORITY, prio);
	stun_build_u64(&b, a->controlling ? ICE_ATTR_CONTROLLING : ICE_ATTR_CONTROLLED, a->tiebreaker);
	if (use_cand)
		stun_build_flag(&b, ICE_ATTR_USE_CANDIDATE);
	if (pad)
		pad_to(&b, a->cfg.pad_to, cap);
	stun_build_integrity(&b, (const uint8_t *)a->rpwd, strlen(a->rpwd));
	stun_build_fingerprint(&b);
	return stun_build_finish(&b);
}

int ice_agent_build_probe(const struct ice_agent *a, const uint8_t *tid, uint8_t *buf, size_t cap)
{
	char user[2 * ICE_UFRAG_MAX + 2];
	struct stun_builder b;

	if (!a->have_remote_creds)
		return -ENOTCONN;
	int n = snprintf(user, sizeof user, "%s:%s", a->rufrag, a->lufrag);
	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_USERNAME, user, (size_t)n);
	stun_build_u32(&b, ICE_ATTR_PRIORITY, ice_cand_priority(ICE_CAND_PRFLX, ICE_LOCAL_PREF_DEFAULT, ICE_COMPONENT_RTP));
	stun_build_u64(&b, a->controlling ? ICE_ATTR_CONTROLLING : ICE_ATTR_CONTROLLED, a->tiebreaker);
	stun_build_integrity(&b, (const uint8_t *)a->rpwd, strlen(a->rpwd));
	stun_build_fingerprint(&b);
	return stun_build_finish(&b);
}

bool ice_agent_probe_answer(const struct ice_agent *a, const uint8_t *buf, size_t len, const uint8_t *tid)
{
	struct stun_msg m;
	return stun_msg_parse(&m, buf, len) == 0 && m.method == STUN_METHOD_BINDING && m.cls == STUN_CLASS_SUCCESS &&
	       memcmp(m.tid, tid, STUN_TID_LEN) == 0 && m.fp >= 0 && stun_check_fingerprint(&m) &&
	       stun_check_integrity(&m, (const uint8_t *)a->rpwd, strlen(a->rpwd)) == 0;
}

static int tx_response(struct ice_agent *a, struct ice_transmit *t, uint8_t *buf, size_t cap)
{
	if (a->resp_len == 0)
		return 0;
	const struct ice_response_slot *r = &a->resp[a->resp_head];
	struct stun_builder b;
	uint16_t cls = r->err ? STUN_CLASS_ERROR : STUN_CLASS_SUCCESS;

	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, cls, r->tid);
	if (r->err)
		stun_build_error(&b, r->err, stun_error_reason(r->err));
	else
		stun_build_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, (const struct sockaddr *)&r->to);
	if (r->size)
		pad_to(&b, r->size, cap);
	stun_build_integrity(&b, (const uint8_t *)a->lpwd, strlen(a->lpwd));
	stun_build_fingerprint(&b);
	int n = stun_build_finish(&b);
	if (n < 0)
		return n;
	set_dest(t, r->base_id, &r->to);
	t->df = r->size != 0;
	a->resp_head = (a->resp_head + 1) % ICE_MAX_RESPONSES;
	a->resp_len--;
	a->stats.tx_responses++;
	return n;
}

/* (Re)sends the pair's current transaction and arms its next timer. */
static int send_tx(struct ice_agent *a, int pi, struct ice_transmit *t, uint8_t *buf,
		   size_t cap, uint64_t now_ms)
{
	struct ice_pair *p = pair(a, pi);
	/* a role switch mid-transaction changes what the retransmission
	 * claims; only a controlling agent may nominate */
	int n = build_request(a, pi, p->tx.tid, p->tx.use_cand && a->controlling, p->tx.pad, buf, cap);
	if (n < 0)
		return n;
	p->tx.controlling = a->controlling;
	p->tx.count++;
	p->tx.next_ms = now_ms + rto(p->tx.count);
	set_dest(t, a->local[p->local].base_id, &a->remote[p->remote].addr);
	t->df = p->tx.pad;
	return n;
}

static int tx_retransmit(struct ice_agent *a, struct ice_transmit *t, uint8_t *buf, size_t cap,
			 uint64_t now_ms)
{
	for (unsigned i = 0; i < a->cl.n; i++) {
		const struct ice_tx *x = &a->cl.pairs[i].tx;
		if (x->active && x->count < ICE_CHECK_MAX_TX && x->next_ms <= now_ms) {
			/* count 0: the first send, after a prime or a small check */
			if (x->count)
				a->stats.tx_retrans++;
			else
				a->stats.tx_checks++;
			return send_tx(a, (int)i, t, buf, cap, now_ms);
		}
	}
	return 0;
}

/* The best Waiting pair the controlled side's hold does not keep back. */
static int best_waiting(const struct ice_agent *a, uint64_t now_ms)
{
	int best = -1;
	for (unsigned i = 0; i < a->cl.n; i++) {
		const struct ice_pair *p = &a->cl.pairs[i];
		if (p->state == ICE_PAIR_WAITING && !ice_nat_held(a, p, now_ms) &&
		    (best < 0 || p->priority > a->cl.pairs[best].priority))
			best = (int)i;
	}
	return best;
}

/* Triggered checks first (FIFO), then the best Waiting pair. */
static int next_check_pair(struct ice_agent *a, bool *use_cand, uint64_t now_ms)
{
	*use_cand = false;
	while (a->trig_len > 0) {
		int pi = a->trig[a->trig_head];
		a->trig_head = (a->trig_head + 1) % ICE_MAX_PAIRS;
		a->trig_len--;
		if ((unsigned)pi >= a->cl.n || !pair(a, pi)->queued)
			continue; /* stale entry of an evicted pair */
		struct ice_pair *p = pair(a, pi);
		p->queued = false;
		if (p->tx.active)
			continue;
		if (pi == a->nominating) {
			*use_cand = a->controlling && p->state == ICE_PAIR_SUCCEEDED;
			if (!*use_cand)
				a->nominating = -1;
		}
		return pi;
	}
	/* a Waiting pair never has a transaction: one is only started on
	 * leaving Waiting, and every path back to Waiting ends it first */
	return best_waiting(a, now_ms);
}

static int tx_new_check(struct ice_agent *a, struct ice_transmit *t, uint8_t *buf, size_t cap,
			uint64_t now_ms)
{
	bool use_cand;
	if (!a->have_remote_creds || now_ms < a->next_check_ms)
		return 0;
	int pi = next_check_pair(a, &use_cand, now_ms);
	if (pi < 0)
		return 0;
	struct ice_pair *p = pair(a, pi);
	memset(&p->tx, 0, sizeof p->tx);
	p->tx.active = true;
	p->tx.use_cand = use_cand;
	p->tx.controlling = a->controlling;
	p->tx.first_ms = now_ms;
	stun_tid_random(p->tx.tid);
	if (p->state != ICE_PAIR_SUCCEEDED) {
		p->state = ICE_PAIR_IN_PROGRESS;
		p->small_ok = false;
	}
	a->next_check_ms = now_ms + ICE_TA_MS;
	if (p->state != ICE_PAIR_SUCCEEDED && ice_nat_prime_stale(a, p, now_ms)) {
		/* the prime leaves first; tx_retransmit sends the check right after */
		p->tx.next_ms = now_ms;
		return ice_nat_build_prime(a, pi, t, buf, cap, now_ms);
	}
	a->stats.tx_checks++;
	return send_tx(a, pi, t, buf, cap, now_ms);
}

static int build_indication(uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];
	stun_tid_random(tid);
	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_INDICATION, tid);
	stun_build_fingerprint(&b);
	return stun_build_finish(&b);
}

static int tx_keepalive(struct ice_agent *a, struct ice_transmit *t, uint8_t *buf, size_t cap,
			uint64_t now_ms)
{
	int n, pi = a->selected;
	if (pi < 0 || now_ms < a->next_keepalive_ms)
		return 0;
	if (a->cfg.consent_freshness) {
		struct ice_consent_tx *c = &a->consent[a->consent_next];
		stun_tid_random(c->tid);
		/* full size: a path that stops carrying full packets loses consent */
		n = build_request(a, pi, c->tid, false, a->cfg.pad_to != 0, buf, cap);
		if (n < 0)
			return n;
		c->pair = pi;
		a->consent_next = (a->consent_next + 1) % ICE_MAX_CONSENT_TX;
	} else {
		n = build_indication(buf, cap);
		if (n < 0)
			return n;
	}
	const struct ice_pair *p = pair(a, pi);
	set_dest(t, a->local[p->local].base_id, &a->remote[p->remote].addr);
	t->df = a->cfg.consent_freshness && a->cfg.pad_to;
	a->next_keepalive_ms = ice_agent_next_keepalive(a, now_ms);
	a->stats.tx_keepalives++;
	return n;
}

int ice_agent_poll_transmit(struct ice_agent *a, struct ice_transmit *t, uint8_t *buf,
			    size_t cap, uint64_t now_ms)
{
	int n;
	if (cap < ICE_TX_MIN)
		return -ENOSPC;
	if ((n = tx_response(a, t, buf, cap)) != 0)
		return n;
	if ((n = tx_retransmit(a, t, buf, cap, now_ms)) != 0)
		return n;
	if ((n = ice_nat_tx_prime(a, t, buf, cap, now_ms)) != 0)
		return n;
	if ((n = tx_new_check(a, t, buf, cap, now_ms)) != 0)
		return n;
	return tx_keepalive(a, t, buf, cap, now_ms);
}

/* ---- timers ---- */

static bool other_succeeded(const struct ice_agent *a)
{
	for (unsigned i = 0; i < a->cl.n; i++)
		if ((int)i != a->selected && a->cl.pairs[i].state == ICE_PAIR_SUCCEEDED)
			return true;
	return false;
}

/* When the selected pair is given up for silence: consent expiry, or
 * switch_silent_ms when there is somewhere else to go. */
static uint64_t selected_lost_ms(const struct ice_agent *a)
{
	uint64_t last = a->cl.pairs[a->selected].last_rx_ms;
	if (a->cfg.switch_silent_ms && a->cfg.switch_silent_ms < ICE_CONSENT_TIMEOUT_MS && other_succeeded(a))
		return last + a->cfg.switch_silent_ms;
	return last + ICE_CONSENT_TIMEOUT_MS;
}

bool ice_agent_recheck_due(const struct ice_agent *a, const struct ice_pair *p, uint64_t *when)
{
	if (!a->cfg.recheck_ms || p->state != ICE_PAIR_FAILED)
		return false;
	if (a->selected >= 0 && p->priority <= a->cl.pairs[a->selected].priority)
		return false;
	*when = p->recheck_at_ms;
	return true;
}

/* A failed pair better than the selection may work now (NAT state, a
 * route that came back): check it again, now and then. */
static void recheck_failed(struct ice_agent *a, uint64_t now_ms)
{
	uint64_t when;
	for (unsigned i = 0; i < a->cl.n; i++) {
		struct ice_pair *p = &a->cl.pairs[i];
		if (ice_agent_recheck_due(a, p, &when) && when <= now_ms) {
			p->state = ICE_PAIR_WAITING;
			p->failed_ms = now_ms;
		}
	}
}

void ice_agent_handle_timeout(struct ice_agent *a, uint64_t now_ms)
{
	for (unsigned i = 0; i < a->cl.n; i++) {
		const struct ice_pair *p = &a->cl.pairs[i];
		const struct ice_tx *x = &p->tx;
		/* small checks passed and the full-size one never did: the path
		 * cannot carry the tunnel's packets (another VPN's interface) */
		enum ice_pair_err err = x->pad && p->small_ok ? ICE_ERR_MTU : ICE_ERR_TIMEOUT;
		if (x->active && x->count >= ICE_CHECK_MAX_TX && x->next_ms <= now_ms)
			ice_agent_fail_pair(a, (int)i, err, now_ms);
	}
	if (a->cfg.consent_freshness && a->selected >= 0 && now_ms >= selected_lost_ms(a))
		ice_agent_fail_pair(a, a->selected, ICE_ERR_CONSENT_LOST, now_ms);
	recheck_failed(a, now_ms);
	ice_nat_tick(a, now_ms);
	ice_agent_maybe_nominate(a, now_ms);
	ice_agent_check_failed(a, now_ms);
}

static bool check_work(const struct ice_agent *a, uint64_t now_ms)
{
	return a->have_remote_creds && (a->trig_len > 0 || best_waiting(a, now_ms) >= 0);
}

static uint64_t pair_deadline(const struct ice_agent *a)
{
	uint64_t d = UINT64_MAX, when;
	for (unsigned i = 0; i < a->cl.n; i++) {
		const struct ice_pair *p = &a->cl.pairs[i];
		if (p->tx.active && p->tx.next_ms < d)
			d = p->tx.next_ms;
		if (ice_agent_recheck_due(a, p, &when) && when < d)
			d = when;
	}
	return d;
}

static uint64_t selected_deadline(const struct ice_agent *a)
{
	if (a->selected < 0)
		return UINT64_MAX;
	uint64_t d = a->next_keepalive_ms;
	uint64_t lost = selected_lost_ms(a);
	if (a->cfg.consent_freshness && lost < d)
		d = lost;
	return d;
}

uint64_t ice_agent_next_deadline(const struct ice_agent *a, uint64_t now_ms)
{
	if (a->resp_len > 0)
		return now_ms;
	uint64_t d = pair_deadline(a);
	if (check_work(a, now_ms)) {
		uint64_t c = a->next_check_ms > now_ms ? a->next_check_ms : now_ms;
		d = c < d ? c : d;
	}
	uint64_t s = selected_deadline(a);
	d = s < d ? s : d;
	s = ice_nat_deadline(a, now_ms);
	d = s < d ? s : d;
	s = ice_agent_nominate_deadline(a);
	d = s < d ? s : d;
	if (!a->failed_reported && ice_agent_all_failed(a) && !a->remote_eoc) {
		s = a->last_cand_ms + ICE_FAIL_GRACE_MS;
		d = s < d ? s : d;
	}
	return d;
}

/* ---- diagnostics ---- */

int ice_agent_selected(const struct ice_agent *a)
{
	return a->selected;
}

unsigned ice_agent_pair_count(const struct ice_agent *a)
{
	return a->cl.n;
}

int ice_agent_pair_info(const struct ice_agent *a, unsigned i, struct ice_pair_info *out)
{
	if (i >= a->cl.n)
		return -ENOENT;
	const struct ice_pair *p = &a->cl.pairs[i];
	memset(out, 0, sizeof *out);
	out->local = a->local[p->local];
	out->remote = a->remote[p->remote];
	out->state = p->state;
	out->err = p->err;
	out->err_code = p->err_code;
	out->priority = p->priority;
	out->rtt_ms = p->rtt_ms;
	out->nominated = p->nominated;
	out->selected = (int)i == a->selected;
	return 0;
}

__attribute__((format(printf, 4, 5)))
static void append(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list ap;
	if (*off >= cap)
		return;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	/* truncated output marks the whole buffer used, so the caller sees it */
	*off = (w < 0 || (size_t)w >= cap - *off) ? cap : *off + (size_t)w;
}

/* Pairs better than the selected one, grouped by candidate types, with
 * how many failed and the reason of the first failure. */
static void describe_better(const struct ice_agent *a, char *buf, size_t cap, size_t *off)
{
	enum { NT = ICE_CAND_RELAY + 1 };
	unsigned failed[NT][NT] = { { 0 } }, pending[NT][NT] = { { 0 } };
	enum ice_pair_err why[NT][NT] = { { ICE_ERR_NONE } };
	uint64_t floor = a->selected >= 0 ? a->cl.pairs[a->selected].priority : 0;

	for (unsigned i = 0; i < a->cl.n; i++) {
		const struct ice_pair *p = &a->cl.pairs[i];
		unsigned l = a->local[p->local].type, r = a->remote[p->remote].type;
		if (p->priority <= floor || p->state == ICE_PAIR_SUCCEEDED)
			continue;
		if (p->state == ICE_PAIR_FAILED) {
			if (failed[l][r]++ == 0)
				why[l][r] = p->err;
		} else {
			pending[l][r]++;
		}
	}
	for (unsigned l = 0; l < NT; l++)
		for (unsigned r = 0; r < NT; r++) {
			const char *ln = ice_cand_type_name(l), *rn = ice_cand_type_name(r);
			if (failed[l][r])
				append(buf, cap, off, "; %s/%s: %u failed (%s)", ln, rn, failed[l][r],
				       ice_pair_err_name(why[l][r]));
			if (pending[l][r])
				append(buf, cap, off, "; %s/%s: %u pending", ln, rn, pending[l][r]);
		}
}

int ice_agent_describe(const struct ice_agent *a, char *buf, size_t cap)
{
	size_t off = 0;
	if (cap == 0)
		return -ENOSPC;
	buf[0] = '\0';
	if (a->selected >= 0) {
		const struct ice_pair *p = &a->cl.pairs[a->selected];
		append(buf, cap, &off, "selected %s/%s", ice_cand_type_name(a->local[p->local].type),
		       ice_cand_type_name(a->remote[p->remote].type));
	} else {
		append(buf, cap, &off, "no pair selected");
	}
	if (a->cl.n == 0)
		append(buf, cap, &off, "; no candidate pairs");
	describe_better(a, buf, cap, &off);
	return off >= cap ? -ENOSPC : (int)off;
}
