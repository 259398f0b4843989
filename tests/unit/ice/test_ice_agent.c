/* Two ICE agents against each other in memory, on a fake clock. A tiny
 * "network" routes each transmit to the agent owning the destination
 * address, can put an endpoint behind a NAT (source rewritten, private
 * address unreachable), take endpoints down, or silence an agent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "ice_agent.h"
#include "stun_auth.h"
#include "stun_msg.h"
#include "tick.h"

#define SA(x) ((const struct sockaddr *)&(x))

enum { MAX_EPS = 8, MAX_EV = 64, MAX_LOG = 512 };

struct ep {
	int agent;
	uint32_t base;
	struct sockaddr_storage addr, pub; /* pub family 0: not behind a NAT */
	bool down;
	bool tun; /* reached through a tunnel: datagrams over tun_mtu bytes sent with DF do not arrive */
};

enum { TUN_MTU = 1252 }; /* UDP payload through a 1280-byte tunnel */

struct sent {
	uint64_t at;
	int agent;
	uint16_t type; /* STUN message type */
	struct sockaddr_storage dst;
};

struct world {
	struct ice_agent ag[2];
	struct ep eps[MAX_EPS];
	unsigned neps;
	uint64_t now;
	bool silent[2];
	struct ice_event ev[2][MAX_EV];
	unsigned nev[2];
	struct sent log[MAX_LOG];
	unsigned nlog;
};

static struct world W;

static const char *const UFRAG[2] = { "ufrgA", "ufrgB" };
static const char *const PWD[2] = { "passwordA0123456789abcdef", "passwordB0123456789abcdef" };

static struct sockaddr_storage A(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

static void w_init(bool ctl0, bool ctl1, uint64_t tb0, uint64_t tb1, const struct ice_config *cfg)
{
	memset(&W, 0, sizeof W);
	W.now = 1000;
	assert_int_equal(ice_agent_init(&W.ag[0], cfg, ctl0, tb0, UFRAG[0], PWD[0]), 0);
	assert_int_equal(ice_agent_init(&W.ag[1], cfg, ctl1, tb1, UFRAG[1], PWD[1]), 0);
	assert_int_equal(ice_agent_set_remote_credentials(&W.ag[0], UFRAG[1], PWD[1]), 0);
	assert_int_equal(ice_agent_set_remote_credentials(&W.ag[1], UFRAG[0], PWD[0]), 0);
}

/* A local candidate of agent `who`, signalled to the other one. */
static struct ep *w_cand(int who, enum ice_cand_type t, uint32_t base, const char *addr,
			 const char *pub, uint16_t lp)
{
	struct ice_cand c;
	struct sockaddr_storage a = A(addr);
	assert_true(W.neps < MAX_EPS);
	struct ep *e = &W.eps[W.neps++];
	e->agent = who;
	e->base = base;
	e->addr = a;
	if (pub)
		e->pub = A(pub);
	assert_int_equal(ice_cand_init(&c, t, SA(a), NULL, base, lp, NULL), 0);
	assert_true(ice_agent_add_local_candidate(&W.ag[who], &c, W.now) >= 0);
	assert_true(ice_agent_add_remote_candidate(&W.ag[!who], &c, W.now) >= 0);
	return e;
}

static struct ep *ep_by_base(int agent, uint32_t base)
{
	for (unsigned i = 0; i < W.neps; i++)
		if (W.eps[i].agent == agent && W.eps[i].base == base)
			return &W.eps[i];
	return NULL;
}

/* Behind a NAT only the public address is reachable. */
static struct ep *ep_by_dst(const struct sockaddr *dst)
{
	for (unsigned i = 0; i < W.neps; i++) {
		struct ep *e = &W.eps[i];
		const struct sockaddr *reach = e->pub.ss_family ? SA(e->pub) : SA(e->addr);
		if (addr_equal(reach, dst))
			return e;
	}
	return NULL;
}

static void route(int from, const struct ice_transmit *t, const uint8_t *buf, int n)
{
	struct ep *src = ep_by_base(from, t->base_id);
	assert_non_null(src);
	if (W.nlog < MAX_LOG) {
		struct sent *s = &W.log[W.nlog++];
		s->at = W.now;
		s->agent = from;
		s->type = (uint16_t)(buf[0] << 8 | buf[1]);
		s->dst = t->dst;
	}
	struct ep *dst = ep_by_dst(SA(t->dst));
	if (W.silent[from] || src->down || !dst || dst->down)
		return;
	if (dst->tun && t->df && n > TUN_MTU)
		return; /* EMSGSIZE on the tunnel's interface */
	const struct sockaddr *seen = src->pub.ss_family ? SA(src->pub) : SA(src->addr);
	assert_true(ice_agent_input(&W.ag[dst->agent], dst->base, seen, buf, (size_t)n, W.now));
}

static void pump(void)
{
	uint8_t buf[1500];
	struct ice_transmit t;
	bool more = true;
	while (more) {
		more = false;
		for (int i = 0; i < 2; i++) {
			int n = ice_agent_poll_transmit(&W.ag[i], &t, buf, sizeof buf, W.now);
			assert_true(n >= 0);
			if (n > 0) {
				route(i, &t, buf, n);
				more = true;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		while (W.nev[i] < MAX_EV && ice_agent_poll_event(&W.ag[i], &W.ev[i][W.nev[i]]))
			W.nev[i]++;
}

/* Advances the clock deadline by deadline until pred holds or max_ms pass. */
static bool run_until(bool (*pred)(void), uint64_t max_ms)
{
	uint64_t end = W.now + max_ms;
	for (;;) {
		for (int i = 0; i < 2; i++)
			ice_agent_handle_timeout(&W.ag[i], W.now);
		pump();
		if (pred && pred())
			return true;
		if (W.now >= end)
			return false;
		uint64_t d0 = ice_agent_next_deadline(&W.ag[0], W.now);
		uint64_t d1 = ice_agent_next_deadline(&W.ag[1], W.now);
		uint64_t d = d0 < d1 ? d0 : d1;
		/* everything due was handled: a deadline not in the future would
		 * make a daemon spin */
		assert_true(d > W.now);
		W.now = d < end ? d : end;
	}
}

static bool both_selected(void)
{
	return ice_agent_selected(&W.ag[0]) >= 0 && ice_agent_selected(&W.ag[1]) >= 0;
}

static unsigned count_ev(int who, enum ice_event_type t)
{
	unsigned n = 0;
	for (unsigned i = 0; i < W.nev[who]; i++)
		n += W.ev[who][i].type == t;
	return n;
}

static const struct ice_event *last_ev(int who, enum ice_event_type t)
{
	for (unsigned i = W.nev[who]; i-- > 0;)
		if (W.ev[who][i].type == t)
			return &W.ev[who][i];
	return NULL;
}

static struct ice_pair_info sel_info(int who)
{
	struct ice_pair_info pi;
	int s = ice_agent_selected(&W.ag[who]);
	assert_true(s >= 0);
	assert_int_equal(ice_agent_pair_info(&W.ag[who], (unsigned)s, &pi), 0);
	assert_true(pi.selected);
	return pi;
}

/* Both ends agree: A's local is B's remote and the other way round, up to
 * NAT rewriting which the caller checks separately. */
static void assert_agree(void)
{
	struct ice_pair_info a = sel_info(0), b = sel_info(1);
	const struct ep *be = ep_by_base(1, b.local.base_id);
	assert_non_null(be);
	const struct sockaddr *seen = be->pub.ss_family ? (const struct sockaddr *)&be->pub : &b.local.addr.sa;
	assert_true(addr_equal(SA(a.remote.addr), seen));
	assert_true(addr_equal(SA(b.remote.addr), SA(a.local.addr)));
}

static void test_host_only_select(void **state)
{
	(void)state;
	w_init(true, false, 11, 22, NULL);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	assert_true(run_until(both_selected, 5000));
	assert_agree();
	assert_int_equal(count_ev(0, ICE_EV_CONNECTED), 1);
	assert_int_equal(count_ev(1, ICE_EV_CONNECTED), 1);
	assert_int_equal(W.ev[0][0].type, ICE_EV_CONNECTED); /* then the pair itself */
	assert_int_equal(W.ev[0][1].type, ICE_EV_SELECTED_CHANGED);
	const struct ice_event *e = last_ev(0, ICE_EV_SELECTED_CHANGED);
	assert_non_null(e);
	assert_int_equal(e->local.base_id, 1);
	assert_true(addr_equal(SA(e->remote.addr), SA(W.eps[1].addr)));
	assert_true(sel_info(0).nominated);
	assert_true(sel_info(1).nominated);
	assert_int_equal(W.ag[0].stats.rx_auth_fail + W.ag[1].stats.rx_auth_fail, 0);
	/* stays selected, quietly, for a while: consent keeps it alive */
	assert_false(run_until(NULL, 120000));
	assert_int_equal(count_ev(0, ICE_EV_SELECTED_CHANGED), 1);
	assert_int_equal(count_ev(0, ICE_EV_PAIR_FAILED) + count_ev(1, ICE_EV_PAIR_FAILED), 0);
}

static void test_nat_peer_reflexive(void **state)
{
	(void)state;
	w_init(true, false, 11, 22, NULL);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	/* B's signalled host address is private and unreachable; its checks
	 * reach A from the NAT's public mapping */
	w_cand(1, ICE_CAND_HOST, 7, "192.168.1.2:2000", "203.0.113.5:40000", 65535);
	assert_true(run_until(both_selected, 10000));
	struct ice_pair_info a = sel_info(0);
	assert_int_equal(a.remote.type, ICE_CAND_PRFLX);
	assert_true(addr_equal(SA(a.remote.addr), SA(W.eps[1].pub)));
	/* PRIORITY in B's check: prflx type pref with B's local pref */
	assert_int_equal(a.remote.priority, ice_cand_priority(ICE_CAND_PRFLX, 65535, 1));
	assert_agree();
	/* the check to the private address never got an answer */
	char why[256];
	assert_true(run_until(NULL, 15000) == false);
	assert_true(ice_agent_describe(&W.ag[0], why, sizeof why) > 0);
	assert_non_null(strstr(why, "selected host/prflx"));
}

static bool b_fallback_selected(void)
{
	if (!both_selected())
		return false;
	struct ice_pair_info a = sel_info(0);
	return addr_equal(SA(a.remote.addr), SA(W.eps[2].addr));
}

static bool a_pair_failed(void)
{
	struct ice_pair_info pi;
	for (unsigned i = 0; i < ice_agent_pair_count(&W.ag[0]); i++) {
		assert_int_equal(ice_agent_pair_info(&W.ag[0], i, &pi), 0);
		if (pi.state == ICE_PAIR_FAILED)
			return true;
	}
	return false;
}

static void test_dead_candidate_fails_other_succeeds(void **state)
{
	(void)state;
	w_init(true, false, 11, 22, NULL);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	struct ep *dead = w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	w_cand(1, ICE_CAND_HOST, 8, "10.0.1.2:2001", NULL, 100);
	dead->down = true;
	assert_true(run_until(b_fallback_selected, 5000));
	assert_true(run_until(a_pair_failed, 20000));
	struct ice_pair_info pi;
	bool seen = false;
	for (unsigned i = 0; i < ice_agent_pair_count(&W.ag[0]); i++) {
		assert_int_equal(ice_agent_pair_info(&W.ag[0], i, &pi), 0);
		if (addr_equal(SA(pi.remote.addr), SA(dead->addr))) {
			seen = true;
			assert_int_equal(pi.state, ICE_PAIR_FAILED);
			assert_int_equal(pi.err, ICE_ERR_TIMEOUT);
			assert_true(pi.priority > sel_info(0).priority);
		}
	}
	assert_true(seen);
	char why[256];
	assert_true(ice_agent_describe(&W.ag[0], why, sizeof why) > 0);
	assert_non_null(strstr(why, "host/host: 1 failed (timed out)"));
	assert_int_equal(count_ev(0, ICE_EV_FAILED), 0);
}

static void check_role_conflict(bool ctl, uint64_t tb0, uint64_t tb1, int winner)
{
	w_init(ctl, ctl, tb0, tb1, NULL);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	assert_true(run_until(both_selected, 10000));
	assert_true(W.ag[winner].controlling);
	assert_false(W.ag[!winner].controlling);
	assert_true(W.ag[0].stats.role_conflicts + W.ag[1].stats.role_conflicts >= 1);
	assert_agree();
	/* the selection is the controlling agent's nomination */
	assert_true(sel_info(0).nominated && sel_info(1).nominated);
}

static void test_role_conflict_both_controlling(void **state)
{
	(void)state;
	check_role_conflict(true, 5, 9, 1);   /* the larger tie-breaker keeps controlling */
	assert_true(count_ev(0, ICE_EV_ROLE_CHANGED) >= 1);
	assert_int_equal(count_ev(1, ICE_EV_ROLE_CHANGED), 0);
	check_role_conflict(true, 900, 3, 0);
}

static void test_role_conflict_both_controlled(void **state)
{
	(void)state;
	check_role_conflict(false, 5, 9, 1);  /* the larger tie-breaker takes control */
	check_role_conflict(false, 900, 3, 0);
}

/* Only new checks are paced: count Binding requests that start a
 * transaction (stats.tx_checks) while stepping the clock 1 ms at a time. */
static void test_pacing_one_check_per_ta(void **state)
{
	(void)state;
	uint64_t at[16];
	unsigned n = 0;
	char addr[32];
	w_init(true, false, 11, 22, NULL);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	for (unsigned i = 0; i < 6; i++) { /* six unreachable remotes, distinct foundations */
		snprintf(addr, sizeof addr, "10.9.%u.1:2000", i);
		struct ep *e = w_cand(1, ICE_CAND_HOST, 20 + i, addr, NULL, 65535);
		e->down = true;
	}
	uint64_t start = W.now;
	for (; W.now < start + 1000; W.now++) {
		uint64_t before = W.ag[0].stats.tx_checks;
		ice_agent_handle_timeout(&W.ag[0], W.now);
		pump();
		uint64_t after = W.ag[0].stats.tx_checks;
		assert_true(after - before <= 1);
		if (after > before && n < 16)
			at[n++] = W.now;
	}
	assert_int_equal(n, 6);
	for (unsigned i = 1; i < n; i++)
		assert_true(at[i] - at[i - 1] >= ICE_TA_MS);
	assert_true(at[n - 1] - at[0] <= 6 * ICE_TA_MS); /* and not slower than needed */
	assert_true(W.ag[0].stats.tx_retrans > 0);        /* retransmissions are not held back */
}

static void check_keepalive_gaps(bool consent, uint32_t lo, uint32_t hi)
{
	struct ice_config cfg;
	ice_config_default(&cfg);
	cfg.consent_freshness = consent;
	w_init(true, false, 11, 22, &cfg);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	assert_true(run_until(both_selected, 5000));
	uint64_t t0 = W.now;
	assert_true(ice_agent_next_deadline(&W.ag[0], W.now) - W.now <= ICE_KEEPALIVE_MAX_MS);
	W.nlog = 0;
	run_until(NULL, 200000);
	uint16_t want = consent ? 0x0001 : 0x0011; /* Binding request / indication */
	uint64_t prev = t0;
	unsigned n = 0;
	for (unsigned i = 0; i < W.nlog; i++) {
		if (W.log[i].agent != 0 || W.log[i].type != want)
			continue;
		assert_true(W.log[i].at - prev <= hi);
		if (n > 0)
			assert_true(W.log[i].at - prev >= lo);
		/* on the grid, so a node's links share their wakeups */
		assert_int_equal(W.log[i].at % TICK_GRID_MS, 0);
		prev = W.log[i].at;
		n++;
	}
	assert_true(n >= 200000 / hi);
	assert_true(t0 + 200000 - prev <= hi);
	assert_int_equal(count_ev(0, ICE_EV_PAIR_FAILED), 0);
}

static void test_keepalive_at_most_25s(void **state)
{
	(void)state;
	check_keepalive_gaps(false, ICE_KEEPALIVE_MIN_MS, ICE_KEEPALIVE_MAX_MS);
	check_keepalive_gaps(true, ICE_CONSENT_INTERVAL_MS * 4 / 5, ICE_CONSENT_INTERVAL_MS * 6 / 5);
}

static bool a_lost_pair(void)
{
	return count_ev(0, ICE_EV_PAIR_FAILED) > 0;
}

static bool a_failed(void)
{
	return count_ev(0, ICE_EV_FAILED) > 0;
}

static void test_consent_lost_when_peer_silent(void **state)
{
	(void)state;
	w_init(true, false, 11, 22, NULL);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	assert_true(run_until(both_selected, 5000));
	assert_false(run_until(a_lost_pair, 20000)); /* healthy while B answers */
	W.silent[1] = true;
	uint64_t t0 = W.now;
	assert_true(run_until(a_lost_pair, 40000));
	/* consent was fresh at most one interval before the silence */
	assert_true(W.now - t0 >= ICE_CONSENT_TIMEOUT_MS - ICE_CONSENT_INTERVAL_MS * 6 / 5);
	assert_true(W.now - t0 <= ICE_CONSENT_TIMEOUT_MS);
	const struct ice_event *e = last_ev(0, ICE_EV_PAIR_FAILED);
	assert_true(addr_equal(SA(e->remote.addr), SA(W.eps[1].addr)));
	assert_int_equal(ice_agent_selected(&W.ag[0]), -1);
	struct ice_pair_info pi;
	assert_int_equal(ice_agent_pair_info(&W.ag[0], (unsigned)e->pair, &pi), 0);
	assert_int_equal(pi.err, ICE_ERR_CONSENT_LOST);
	/* nothing else to fall back to: the agent gives up */
	assert_true(run_until(a_failed, 20000));
}

static bool a_on_host(void)
{
	return both_selected() && sel_info(0).remote.type == ICE_CAND_HOST &&
	       sel_info(1).local.type == ICE_CAND_HOST;
}

static void test_better_pair_replaces_selection(void **state)
{
	(void)state;
	w_init(true, false, 11, 22, NULL);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	/* B first only has a relayed path: a base of its own, via "TURN" */
	w_cand(1, ICE_CAND_RELAY, 9, "198.51.100.9:3000", NULL, 65535);
	assert_true(run_until(both_selected, 5000));
	assert_int_equal(sel_info(0).remote.type, ICE_CAND_RELAY);
	assert_int_equal(sel_info(1).local.base_id, 9);
	uint64_t relay_prio = sel_info(0).priority;
	/* a direct candidate trickles in later */
	w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	assert_true(run_until(a_on_host, 10000));
	assert_true(sel_info(0).priority > relay_prio);
	assert_int_equal(count_ev(0, ICE_EV_SELECTED_CHANGED), 2);
	assert_int_equal(count_ev(1, ICE_EV_SELECTED_CHANGED), 2);
	assert_int_equal(count_ev(0, ICE_EV_CONNECTED), 1);
	const struct ice_event *e = last_ev(1, ICE_EV_SELECTED_CHANGED);
	assert_int_equal(e->local.base_id, 7);
	assert_agree();
}

static bool a_on_relay(void)
{
	return both_selected() && sel_info(0).remote.type == ICE_CAND_RELAY &&
	       sel_info(1).local.type == ICE_CAND_RELAY;
}

/* Direct path selected; it dies; consent notices, the agents fall back to
 * the relayed path; when the direct path comes back the periodic recheck
 * of better failed pairs moves them back to it. */
static void test_fallback_to_relay_and_back(void **state)
{
	(void)state;
	w_init(true, false, 11, 22, NULL);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	struct ep *direct = w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	w_cand(1, ICE_CAND_RELAY, 9, "198.51.100.9:3000", NULL, 65535);
	assert_true(run_until(a_on_host, 5000));
	assert_false(run_until(a_lost_pair, 3000));
	direct->down = true;
	uint64_t t0 = W.now;
	assert_true(run_until(a_lost_pair, ICE_CONSENT_TIMEOUT_MS + 1000));
	assert_true(run_until(a_on_relay, 5000));
	assert_true(W.now - t0 <= ICE_CONSENT_TIMEOUT_MS + 5000);
	assert_int_equal(last_ev(0, ICE_EV_SELECTED_CHANGED)->remote.type, ICE_CAND_RELAY);
	assert_int_equal(last_ev(1, ICE_EV_SELECTED_CHANGED)->local.base_id, 9);
	assert_int_equal(count_ev(0, ICE_EV_FAILED), 0);
	char why[256];
	assert_true(ice_agent_describe(&W.ag[0], why, sizeof why) > 0);
	assert_non_null(strstr(why, "selected host/relay; host/host: 1 failed (consent lost)"));
	/* still on the relay while the direct path stays down */
	assert_false(run_until(a_on_host, ICE_RECHECK_MS + 20000));
	direct->down = false;
	assert_true(run_until(a_on_host, ICE_RECHECK_MS + 20000));
	assert_agree();
	assert_int_equal(count_ev(0, ICE_EV_CONNECTED), 1);
}

/* switch_silent_ms: the dead direct pair is left for the relay after that
 * much silence, not after consent expiry; without another working pair the
 * selection stays until consent expires. */
static void test_switch_silent(void **state)
{
	(void)state;
	struct ice_config cfg;
	ice_config_default(&cfg);
	cfg.switch_silent_ms = 12000;
	w_init(true, false, 11, 22, &cfg);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	struct ep *direct = w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	w_cand(1, ICE_CAND_RELAY, 9, "198.51.100.9:3000", NULL, 65535);
	assert_true(run_until(a_on_host, 5000));
	direct->down = true;
	uint64_t t0 = W.now;
	assert_true(run_until(a_on_relay, 12000 + 8000));
	assert_true(W.now - t0 >= 12000 - ICE_CONSENT_INTERVAL_MS * 6 / 5);
	assert_true(W.now - t0 < ICE_CONSENT_TIMEOUT_MS);
	assert_agree();

	/* only one pair: the silence is tolerated up to consent expiry */
	w_init(true, false, 11, 22, &cfg);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	direct = w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	assert_true(run_until(a_on_host, 5000));
	direct->down = true;
	assert_false(run_until(a_lost_pair, ICE_CONSENT_TIMEOUT_MS - ICE_CONSENT_INTERVAL_MS * 6 / 5 - 100));
	assert_true(run_until(a_lost_pair, ICE_CONSENT_INTERVAL_MS * 2));
}

static void test_failed_after_end_of_candidates(void **state)
{
	(void)state;
	w_init(true, false, 11, 22, NULL);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	struct ep *e = w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	e->down = true;
	ice_agent_remote_end_of_candidates(&W.ag[0]);
	uint64_t t0 = W.now;
	assert_true(run_until(a_failed, 30000));
	/* every retransmission went unanswered first: 500+1000+5*1600 ms */
	assert_true(W.now - t0 >= 9500);
	assert_int_equal(count_ev(0, ICE_EV_FAILED), 1);
	assert_int_equal(count_ev(0, ICE_EV_CONNECTED), 0);
	assert_int_equal(W.ag[0].stats.tx_checks + W.ag[0].stats.tx_retrans, ICE_CHECK_MAX_TX);
	char why[256];
	assert_true(ice_agent_describe(&W.ag[0], why, sizeof why) > 0);
	assert_non_null(strstr(why, "no pair selected; host/host: 1 failed (timed out)"));
}

/* B hears A's checks before the signalling gave it A's credentials or
 * candidates: it answers, learns A as peer-reflexive, remembers A's
 * nomination, and selects once its own check can run and succeeds. */
static void test_checks_before_signalling(void **state)
{
	(void)state;
	struct ice_cand c;
	w_init(true, false, 11, 22, NULL);
	assert_int_equal(ice_agent_init(&W.ag[1], NULL, false, 22, UFRAG[1], PWD[1]), 0);
	struct ep *ea = &W.eps[W.neps++];
	ea->agent = 0;
	ea->base = 1;
	ea->addr = A("10.0.0.1:1000");
	assert_int_equal(ice_cand_init(&c, ICE_CAND_HOST, SA(ea->addr), NULL, 1, 65535, NULL), 0);
	assert_true(ice_agent_add_local_candidate(&W.ag[0], &c, W.now) >= 0);
	w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	assert_false(run_until(both_selected, 3000));
	assert_true(ice_agent_selected(&W.ag[0]) >= 0); /* B's answers were enough for A */
	assert_int_equal(ice_agent_selected(&W.ag[1]), -1);
	assert_int_equal(W.ag[1].stats.tx_checks, 0);
	assert_int_equal(ice_agent_set_remote_credentials(&W.ag[1], UFRAG[0], PWD[0]), 0);
	assert_true(run_until(both_selected, 1000));
	struct ice_pair_info b = sel_info(1);
	assert_int_equal(b.remote.type, ICE_CAND_PRFLX);
	assert_true(b.nominated);
	assert_agree();
	/* the signalled candidate, arriving late, upgrades the prflx one */
	assert_true(ice_agent_add_remote_candidate(&W.ag[1], &c, W.now) >= 0);
	assert_int_equal(sel_info(1).remote.type, ICE_CAND_HOST);
	assert_int_equal(ice_agent_pair_count(&W.ag[1]), 1);
}

/* The daemon tells the agent a base is gone (e.g. its TURN allocation):
 * the relayed pair fails at once and the direct one takes over. */
static void test_base_failed(void **state)
{
	(void)state;
	w_init(true, false, 11, 22, NULL);
	w_cand(0, ICE_CAND_RELAY, 5, "198.51.100.5:3000", NULL, 65535);
	struct ep *host = w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	host->down = true; /* only the relayed path works at first */
	assert_true(run_until(both_selected, 5000));
	assert_int_equal(sel_info(0).local.type, ICE_CAND_RELAY);
	host->down = false;
	ice_agent_base_failed(&W.ag[0], 5, W.now);
	assert_int_equal(count_ev(0, ICE_EV_PAIR_FAILED), 0); /* not yet polled */
	pump();
	assert_int_equal(count_ev(0, ICE_EV_PAIR_FAILED), 1);
	assert_int_equal(last_ev(0, ICE_EV_PAIR_FAILED)->local.base_id, 5);
	struct ice_pair_info pi;
	assert_int_equal(ice_agent_pair_info(&W.ag[0], (unsigned)last_ev(0, ICE_EV_PAIR_FAILED)->pair, &pi), 0);
	assert_int_equal(pi.err, ICE_ERR_SEND);
	/* the host pair failed earlier; the periodic recheck brings it back */
	assert_true(run_until(a_on_host, ICE_RECHECK_MS + 15000));
	assert_int_equal(sel_info(0).local.base_id, 1);
	assert_agree();
}

/* Answers A's first check with a hand-built response. */
static void answer_first_check(uint16_t cls, int code, const char *src, struct ice_pair_info *out)
{
	uint8_t buf[512];
	struct ice_transmit t;
	struct stun_msg m;
	struct stun_builder b;
	w_init(true, false, 11, 22, NULL);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	w_cand(1, ICE_CAND_HOST, 7, "10.0.0.2:2000", NULL, 65535);
	struct ice_agent *a = &W.ag[0];
	int n = ice_agent_poll_transmit(a, &t, buf, sizeof buf, W.now);
	assert_true(n > 0);
	assert_int_equal(t.base_id, 1);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_non_null(stun_msg_find(&m, ICE_ATTR_CONTROLLING));
	uint8_t tid[STUN_TID_LEN];
	memcpy(tid, m.tid, sizeof tid);
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, cls, tid);
	if (code)
		stun_build_error(&b, code, "x");
	stun_build_integrity(&b, (const uint8_t *)PWD[1], strlen(PWD[1]));
	stun_build_fingerprint(&b);
	n = stun_build_finish(&b);
	struct sockaddr_storage from = A(src);
	assert_true(ice_agent_input(a, 1, SA(from), buf, (size_t)n, W.now));
	assert_int_equal(ice_agent_pair_info(a, 0, out), 0);
}

static void test_response_handling(void **state)
{
	(void)state;
	struct ice_pair_info pi;
	answer_first_check(STUN_CLASS_SUCCESS, 0, "10.0.0.2:2000", &pi);
	assert_int_equal(pi.state, ICE_PAIR_SUCCEEDED);
	/* from another address than the check went to: not symmetric */
	answer_first_check(STUN_CLASS_SUCCESS, 0, "10.0.0.2:2999", &pi);
	assert_int_equal(pi.state, ICE_PAIR_FAILED);
	assert_int_equal(pi.err, ICE_ERR_ASYMMETRIC);
	answer_first_check(STUN_CLASS_ERROR, 400, "10.0.0.2:2000", &pi);
	assert_int_equal(pi.state, ICE_PAIR_FAILED);
	assert_int_equal(pi.err, ICE_ERR_ERROR_RESP);
	assert_int_equal(pi.err_code, 400);
	/* 487: we were controlling and the peer wins, so we yield and retry */
	answer_first_check(STUN_CLASS_ERROR, STUN_ERR_ROLE_CONFLICT, "10.0.0.2:2000", &pi);
	assert_int_equal(pi.state, ICE_PAIR_WAITING);
	assert_false(W.ag[0].controlling);
	assert_true(pi.priority == ice_pair_priority(pi.remote.priority, pi.local.priority));
	uint8_t buf[512];
	struct ice_transmit t;
	struct stun_msg m;
	W.now += ICE_TA_MS;
	int n = ice_agent_poll_transmit(&W.ag[0], &t, buf, sizeof buf, W.now);
	assert_true(n > 0);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
	assert_non_null(stun_msg_find(&m, ICE_ATTR_CONTROLLED));
	assert_null(stun_msg_find(&m, ICE_ATTR_USE_CANDIDATE));
}

static void test_input_filtering(void **state)
{
	(void)state;
	uint8_t buf[512], tid[STUN_TID_LEN];
	struct stun_builder b;
	struct sockaddr_storage from = A("10.0.0.2:2000");
	struct ice_transmit t;
	w_init(true, false, 11, 22, NULL);
	w_cand(0, ICE_CAND_HOST, 1, "10.0.0.1:1000", NULL, 65535);
	struct ice_agent *a = &W.ag[0];
	memset(buf, 0x80, sizeof buf); /* not STUN: data for the daemon */
	assert_false(ice_agent_input(a, 1, SA(from), buf, 100, W.now));
	/* a Binding response nobody asked for: maybe the daemon's STUN client's */
	stun_tid_random(tid);
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, tid);
	stun_build_fingerprint(&b);
	int n = stun_build_finish(&b);
	assert_false(ice_agent_input(a, 1, SA(from), buf, (size_t)n, W.now));
	/* a check with the wrong password: consumed, counted, not answered */
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "ufrgA:ufrgB", 11);
	stun_build_u32(&b, ICE_ATTR_PRIORITY, 12345);
	stun_build_integrity(&b, (const uint8_t *)"wrongpassword0123456789", 23);
	stun_build_fingerprint(&b);
	n = stun_build_finish(&b);
	uint32_t pairs = ice_agent_pair_count(a);
	assert_true(ice_agent_input(a, 1, SA(from), buf, (size_t)n, W.now));
	assert_int_equal(a->stats.rx_auth_fail, 1);
	assert_int_equal(ice_agent_pair_count(a), pairs);
	assert_int_equal(ice_agent_poll_transmit(a, &t, buf, sizeof buf, W.now) > 0 &&
				 a->stats.tx_responses > 0, 0);
	/* the right password but no PRIORITY: bad */
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "ufrgA:ufrgB", 11);
	stun_build_integrity(&b, (const uint8_t *)PWD[0], strlen(PWD[0]));
	stun_build_fingerprint(&b);
	n = stun_build_finish(&b);
	assert_true(ice_agent_input(a, 1, SA(from), buf, (size_t)n, W.now));
	assert_int_equal(a->stats.rx_bad, 1);
	assert_int_equal(a->stats.tx_responses, 0);
	assert_int_equal(ice_agent_poll_transmit(a, &t, buf, 100, W.now), -ENOSPC);
}

static void test_bad_credentials_rejected(void **state)
{
	(void)state;
	struct ice_agent a;
	assert_int_equal(ice_agent_init(&a, NULL, true, 1, "abc", PWD[0]), -EINVAL);
	assert_int_equal(ice_agent_init(&a, NULL, true, 1, "abcd", "short"), -EINVAL);
	assert_int_equal(ice_agent_init(&a, NULL, true, 1, "ab:cd", PWD[0]), -EINVAL);
	assert_int_equal(ice_agent_init(&a, NULL, true, 1, "abcd", PWD[0]), 0);
	assert_int_equal(ice_agent_set_remote_credentials(&a, "x", PWD[1]), -EINVAL);
	char longpwd[ICE_PWD_MAX + 2];
	memset(longpwd, 'p', sizeof longpwd - 1);
	longpwd[ICE_PWD_MAX + 1] = '\0';
	assert_int_equal(ice_agent_set_remote_credentials(&a, "abcd", longpwd), -EINVAL);
	longpwd[ICE_PWD_MAX] = '\0'; /* the RFC 8839 maximum is fine */
	assert_int_equal(ice_agent_set_remote_credentials(&a, "abcd", longpwd), 0);
	assert_int_equal(ice_agent_next_deadline(&a, 5), UINT64_MAX);
}

static bool sel_remote_is(int who, const char *addr)
{
	struct sockaddr_storage a = A(addr);
	int s = ice_agent_selected(&W.ag[who]);
	struct ice_pair_info pi;
	return s >= 0 && ice_agent_pair_info(&W.ag[who], (unsigned)s, &pi) == 0 && addr_equal(SA(pi.remote.addr), SA(a));
}

static bool both_on_lan(void)
{
	return sel_remote_is(0, "192.0.2.12:2000") && sel_remote_is(1, "192.0.2.11:1000");
}

/* Both hosts also sit on another VPN's tunnel (MTU 1280), whose addresses
 * rank first. Small checks pass through it; only with full-size checks
 * (padded requests, and answers padded as big, both with DF) is it left
 * alone, in both directions, and the pairs that need it say why. */
static void full_size_world(uint16_t pad)
{
	struct ice_config cfg;
	ice_config_default(&cfg);
	cfg.pad_to = pad;
	w_init(true, false, 11, 22, &cfg);
	w_cand(0, ICE_CAND_HOST, 1, "10.99.0.1:1000", NULL, 65535)->tun = true;
	w_cand(0, ICE_CAND_HOST, 2, "192.0.2.11:1000", NULL, 65534);
	w_cand(1, ICE_CAND_HOST, 1, "10.99.0.2:2000", NULL, 65535)->tun = true;
	w_cand(1, ICE_CAND_HOST, 2, "192.0.2.12:2000", NULL, 65534);
}

static void test_full_size_checks(void **state)
{
	(void)state;
	full_size_world(0);
	assert_true(run_until(both_selected, 5000));
	assert_false(both_on_lan()); /* without: the tunnel's pair wins */
	full_size_world(1312);
	assert_true(run_until(both_on_lan, 10000));
	run_until(NULL, 15000);
	assert_true(both_on_lan());
	unsigned mtu = 0;
	for (unsigned i = 0; i < ice_agent_pair_count(&W.ag[0]); i++) {
		struct ice_pair_info pi;
		assert_int_equal(ice_agent_pair_info(&W.ag[0], i, &pi), 0);
		mtu += pi.err == ICE_ERR_MTU;
		if (pi.err == ICE_ERR_MTU) /* through the tunnel one way or the other */
			assert_true(pi.local.addr.sa.sa_family == AF_INET &&
				    (((struct sockaddr_in *)&pi.local.addr)->sin_addr.s_addr == htonl(0x0a630001) ||
				     ((struct sockaddr_in *)&pi.remote.addr)->sin_addr.s_addr == htonl(0x0a630002)));
	}
	assert_true(mtu >= 2);
	char why[256];
	assert_true(ice_agent_describe(&W.ag[0], why, sizeof why) > 0);
	assert_non_null(strstr(why, "full-size packets lost"));
	/* consent checks are full size too: the selection keeps consent */
	assert_int_equal(count_ev(0, ICE_EV_PAIR_FAILED), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_size_checks),
		cmocka_unit_test(test_host_only_select),
		cmocka_unit_test(test_nat_peer_reflexive),
		cmocka_unit_test(test_dead_candidate_fails_other_succeeds),
		cmocka_unit_test(test_role_conflict_both_controlling),
		cmocka_unit_test(test_role_conflict_both_controlled),
		cmocka_unit_test(test_pacing_one_check_per_ta),
		cmocka_unit_test(test_keepalive_at_most_25s),
		cmocka_unit_test(test_consent_lost_when_peer_silent),
		cmocka_unit_test(test_switch_silent),
		cmocka_unit_test(test_better_pair_replaces_selection),
		cmocka_unit_test(test_fallback_to_relay_and_back),
		cmocka_unit_test(test_failed_after_end_of_candidates),
		cmocka_unit_test(test_checks_before_signalling),
		cmocka_unit_test(test_base_failed),
		cmocka_unit_test(test_response_handling),
		cmocka_unit_test(test_input_filtering),
		cmocka_unit_test(test_bad_credentials_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
