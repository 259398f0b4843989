/* Two ICE agents behind NATs modelled on Linux conntrack, on a fake clock:
 * priming, the controlled side's hold and the recheck back-off
 * (src/ice/ice_nat.c) against the two NAT flavours of docs/nat.md.
 *
 *   agent 0 10.0.1.2:4000 --[NAT 0, 198.51.100.2]--+
 *                                                  [inet]  (TTL: NAT is hop 1, inet hop 2)
 *   agent 1 10.0.2.2:4000 --[NAT 1, 203.0.113.2]---+
 *
 * A NAT maps like MASQUERADE: the source port when the new entry's reply
 * tuple is free, else another port (or always a random one: symmetric).
 * Inbound packets that match an entry's reply tuple go in; others are
 * the router's own: a "gateway" confirms an entry for them (which may
 * take a port a later mapping wanted), a "home" router drops them. Entries
 * live 30 s unreplied, 120 s once replied. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ice_agent.h"
#include "ice_agent_int.h"
#include "stun_msg.h"

#define SA(x) ((const struct sockaddr *)&(x))

enum { MAX_CT = 256, UNREPLIED_MS = 30000, REPLIED_MS = 120000 };
enum flavour { HOME, GATEWAY, SYMMETRIC_HOME };

struct ct {
	bool used, local, replied;
	struct sockaddr_in osrc, odst; /* original direction */
	struct sockaddr_in rsrc, rdst; /* reply direction */
	uint64_t expires;
};

struct nat {
	enum flavour fl;
	struct sockaddr_in priv, pub; /* the host behind it, the public address (port 0) */
	struct ct ct[MAX_CT];
	uint16_t next_port;
	unsigned poisoned; /* local entries confirmed */
};

static struct {
	struct ice_agent ag[2];
	struct nat nat[2];
	uint64_t now;
	bool blocked; /* inet drops everything between the NATs */
	uint64_t delivered[2];
} W;

static const char *const UFRAG[2] = { "ufrgA", "ufrgB" };
static const char *const PWD[2] = { "passwordA0123456789abcdef", "passwordB0123456789abcdef" };

static struct sockaddr_in A(const char *s)
{
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	memcpy(&sin, &ss, sizeof sin);
	return sin;
}

static bool same(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static bool alive(const struct ct *c)
{
	return c->used && c->expires > W.now;
}

static void refresh(struct ct *c)
{
	c->expires = W.now + (c->replied ? REPLIED_MS : UNREPLIED_MS);
}

static struct ct *ct_new(struct nat *n)
{
	for (unsigned i = 0; i < MAX_CT; i++)
		if (!alive(&n->ct[i])) {
			memset(&n->ct[i], 0, sizeof n->ct[i]);
			n->ct[i].used = true;
			return &n->ct[i];
		}
	fail_msg("conntrack table full");
	return NULL;
}

/* Whether some entry already uses the tuple (src -> dst) in either direction. */
static bool tuple_taken(const struct nat *n, const struct sockaddr_in *src, const struct sockaddr_in *dst)
{
	for (unsigned i = 0; i < MAX_CT; i++) {
		const struct ct *c = &n->ct[i];
		if (alive(c) && ((same(&c->osrc, src) && same(&c->odst, dst)) ||
				 (same(&c->rsrc, src) && same(&c->rdst, dst))))
			return true;
	}
	return false;
}

/* Outbound through NAT n; false when the packet dies before passing it. */
static bool nat_out(struct nat *n, const struct sockaddr_in *dst, uint8_t ttl, struct sockaddr_in *mapped)
{
	if (ttl == 1)
		return false; /* the NAT cannot forward it */
	for (unsigned i = 0; i < MAX_CT; i++) {
		struct ct *c = &n->ct[i];
		if (alive(c) && !c->local && same(&c->osrc, &n->priv) && same(&c->odst, dst)) {
			refresh(c);
			*mapped = c->rdst;
			return true;
		}
	}
	struct sockaddr_in m = n->pub;
	m.sin_port = n->fl == SYMMETRIC_HOME ? htons(n->next_port++) : n->priv.sin_port;
	while (tuple_taken(n, dst, &m)) /* the reply tuple must be unique */
		m.sin_port = htons(n->next_port++);
	struct ct *c = ct_new(n);
	c->osrc = n->priv;
	c->odst = *dst;
	c->rsrc = *dst;
	c->rdst = m;
	refresh(c);
	*mapped = m;
	return true;
}

/* Inbound to NAT n's public address; true (with the host) when it goes in. */
static bool nat_in(struct nat *n, const struct sockaddr_in *src, const struct sockaddr_in *dst)
{
	for (unsigned i = 0; i < MAX_CT; i++) {
		struct ct *c = &n->ct[i];
		if (!alive(c))
			continue;
		if (!c->local && same(&c->rsrc, src) && same(&c->rdst, dst)) {
			c->replied = true;
			refresh(c);
			return true;
		}
		if (c->local && same(&c->osrc, src) && same(&c->odst, dst)) {
			refresh(c);
			return false; /* the router's own: port unreachable */
		}
	}
	if (n->fl == GATEWAY) { /* INPUT accepts it: conntrack confirms an entry */
		struct ct *c = ct_new(n);
		c->local = true;
		c->osrc = *src;
		c->odst = *dst;
		c->rsrc = *dst;
		c->rdst = *src;
		refresh(c);
		n->poisoned++;
	}
	return false;
}

static void route(int from, const struct ice_transmit *t, const uint8_t *buf, int len)
{
	struct sockaddr_in dst, mapped;
	memcpy(&dst, &t->dst, sizeof dst);
	if (!nat_out(&W.nat[from], &dst, t->ttl, &mapped))
		return;
	if (t->ttl == 2 || W.blocked)
		return; /* dies at inet (TTL) or is dropped there */
	int to = !from;
	if (dst.sin_addr.s_addr != W.nat[to].pub.sin_addr.s_addr)
		return; /* a private address: no route */
	if (!nat_in(&W.nat[to], &mapped, &dst))
		return;
	W.delivered[to]++;
	ice_agent_input(&W.ag[to], 0, SA(mapped), buf, (size_t)len, W.now);
}

static void pump(void)
{
	uint8_t buf[1500];
	struct ice_transmit t;
	struct ice_event ev;
	for (bool more = true; more;) {
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
		while (ice_agent_poll_event(&W.ag[i], &ev))
			;
}

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
		assert_true(d > W.now);
		W.now = d < end ? d : end;
	}
}

/* The link's settings (src/node/link/link.c). */
static void config(struct ice_config *c, uint8_t prime_ttl, uint32_t hold_ms)
{
	ice_config_default(c);
	c->recheck_ms = 2000;
	c->recheck_max_ms = 32000;
	c->prime_ttl = prime_ttl;
	c->hold_ms = hold_ms;
}

static void nat_init(int i, enum flavour fl, const char *priv, const char *pub)
{
	struct nat *n = &W.nat[i];
	n->fl = fl;
	n->priv = A(priv);
	n->pub = A(pub);
	n->next_port = (uint16_t)(20000 + 7919 * i);
}

/* Agent `who` learns the peer's host and srflx candidates. */
static void signal_cands(int who)
{
	const struct nat *n = &W.nat[!who];
	struct sockaddr_in srflx = n->pub;
	struct ice_cand c;
	srflx.sin_port = n->priv.sin_port; /* what STUN saw: port-preserving */
	assert_int_equal(ice_cand_init(&c, ICE_CAND_HOST, SA(n->priv), NULL, 0, 65535, NULL), 0);
	assert_true(ice_agent_add_remote_candidate(&W.ag[who], &c, W.now) >= 0);
	assert_int_equal(ice_cand_init(&c, ICE_CAND_SRFLX, SA(srflx), SA(n->priv), 0, 65535, NULL), 0);
	assert_true(ice_agent_add_remote_candidate(&W.ag[who], &c, W.now) >= 0);
}

/* Agent 0 controls. The controlled one gets the offer first and the
 * controlling one the answer after signal_ms. */
static void w_init_cfg(enum flavour f0, enum flavour f1, uint8_t ttl, uint32_t hold_ms, uint64_t signal_ms)
{
	struct ice_config cfg;
	struct ice_cand c;
	memset(&W, 0, sizeof W);
	W.now = 1000;
	config(&cfg, ttl, hold_ms);
	nat_init(0, f0, "10.0.1.2:4000", "198.51.100.2:0");
	nat_init(1, f1, "10.0.2.2:4000", "203.0.113.2:0");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ice_agent_init(&W.ag[i], &cfg, i == 0, 11 + (uint64_t)i, UFRAG[i], PWD[i]), 0);
		assert_int_equal(ice_agent_set_remote_credentials(&W.ag[i], UFRAG[!i], PWD[!i]), 0);
		assert_int_equal(ice_cand_init(&c, ICE_CAND_HOST, SA(W.nat[i].priv), NULL, 0, 65535, NULL), 0);
		assert_true(ice_agent_add_local_candidate(&W.ag[i], &c, W.now) >= 0);
	}
	signal_cands(1);
	pump(); /* its primes leave before the answer */
	run_until(NULL, signal_ms);
	signal_cands(0);
}

static void w_init(enum flavour f0, enum flavour f1, bool nat_friendly, uint64_t signal_ms)
{
	w_init_cfg(f0, f1, nat_friendly ? 2 : 0, nat_friendly ? 5000 : 0, signal_ms);
}

static bool direct(int who)
{
	int s = ice_agent_selected(&W.ag[who]);
	struct ice_pair_info pi;
	return s >= 0 && ice_agent_pair_info(&W.ag[who], (unsigned)s, &pi) == 0 && pi.remote.type != ICE_CAND_HOST;
}

static bool both_direct(void)
{
	return direct(0) && direct(1);
}

/* The problem this answers: two Linux gateways, no priming, no hold. Each
 * side's first check is taken by the other NAT, which then maps the
 * other side's check to another port; the rechecks keep it that way. */
static void test_gateways_without_priming_fail(void **state)
{
	(void)state;
	w_init(GATEWAY, GATEWAY, false, 30);
	assert_false(run_until(both_direct, 180000));
	assert_true(W.nat[0].poisoned > 0 || W.nat[1].poisoned > 0);
}

static void test_gateways_with_priming_go_direct(void **state)
{
	(void)state;
	w_init(GATEWAY, GATEWAY, true, 30);
	assert_true(run_until(both_direct, 3000));
	assert_int_equal(W.nat[0].poisoned + W.nat[1].poisoned, 0);
	assert_true(W.ag[0].stats.tx_primes > 0 && W.ag[1].stats.tx_primes > 0);
	/* and stays direct (consent every 5 s keeps the entries replied) */
	run_until(NULL, 300000);
	assert_true(both_direct());
}

static void test_home_routers_go_direct(void **state)
{
	(void)state;
	w_init(HOME, HOME, true, 30);
	assert_true(run_until(both_direct, 3000));
	w_init(HOME, GATEWAY, true, 30);
	assert_true(run_until(both_direct, 3000));
	w_init(GATEWAY, HOME, true, 30);
	assert_true(run_until(both_direct, 3000));
}

/* The hold: the answer takes 3 s, and the controlled side's checks must
 * not reach the controlling side's gateway before its prime did. */
static void test_hold_covers_slow_signalling(void **state)
{
	(void)state;
	w_init_cfg(GATEWAY, HOME, 2, 0, 3000); /* primes, no hold */
	assert_false(run_until(both_direct, 120000));
	w_init_cfg(GATEWAY, HOME, 2, 5000, 3000);
	assert_true(run_until(both_direct, 5000));
	assert_int_equal(W.nat[0].poisoned, 0);
	/* the hold ends early when the peer's first check arrives */
	w_init_cfg(HOME, GATEWAY, 2, 5000, 30);
	assert_true(run_until(both_direct, 2500));
}

/* A prime's TTL that does not pass our own NAT (1) does nothing. */
static void test_prime_ttl_too_small(void **state)
{
	(void)state;
	w_init_cfg(GATEWAY, GATEWAY, 1, 5000, 30);
	assert_false(run_until(both_direct, 60000));
}

static unsigned checks_sent(int who)
{
	return (unsigned)(W.ag[who].stats.tx_checks + W.ag[who].stats.tx_retrans);
}

/* Blocked between the NATs: the direct pairs fail; their rechecks back
 * off past the 30 s conntrack timeout, primes keep our mappings; once the
 * path opens the next recheck gets through. */
static void upgrade(enum flavour fl)
{
	w_init(fl, fl, true, 30);
	W.blocked = true;
	assert_false(run_until(both_direct, 60000));
	unsigned c0 = checks_sent(0);
	run_until(NULL, 120000);
	/* back-off: at most a recheck round (7 sends) per 32 s per pair */
	assert_true(checks_sent(0) - c0 <= 2 * 7 * (120 / 32 + 1));
	W.blocked = false;
	uint64_t t0 = W.now;
	assert_true(run_until(both_direct, 45000));
	if (getenv("TEST_ICE_LOG"))
		fprintf(stderr, "flavour %d: direct %llu ms after the path opened\n", fl,
			(unsigned long long)(W.now - t0));
	assert_int_equal(W.nat[0].poisoned + W.nat[1].poisoned, 0);
}

static void test_upgrade_gateways(void **state)
{
	(void)state;
	upgrade(GATEWAY);
}

static void test_upgrade_home(void **state)
{
	(void)state;
	upgrade(HOME);
}

/* The back-off itself: 2 s doubling to 32 s, +0..25%. */
static void test_recheck_backoff(void **state)
{
	(void)state;
	struct ice_config cfg;
	struct ice_pair p;
	config(&cfg, 0, 0);
	assert_int_equal(ice_agent_init(&W.ag[0], &cfg, true, 1, UFRAG[0], PWD[0]), 0);
	memset(&p, 0, sizeof p);
	static const uint64_t base[] = { 2000, 4000, 8000, 16000, 32000, 32000, 32000 };
	for (unsigned n = 0; n < 7; n++) {
		p.rechecks = (uint8_t)n;
		for (int k = 0; k < 20; k++) {
			uint64_t d = ice_nat_recheck_delay(&W.ag[0], &p);
			assert_true(d >= base[n] && d <= base[n] + base[n] / 4);
		}
	}
	cfg.recheck_max_ms = 0; /* fixed */
	assert_int_equal(ice_agent_init(&W.ag[0], &cfg, true, 1, UFRAG[0], PWD[0]), 0);
	p.rechecks = 5;
	assert_int_equal(ice_nat_recheck_delay(&W.ag[0], &p), 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gateways_without_priming_fail),
		cmocka_unit_test(test_gateways_with_priming_go_direct),
		cmocka_unit_test(test_home_routers_go_direct),
		cmocka_unit_test(test_hold_covers_slow_signalling),
		cmocka_unit_test(test_prime_ttl_too_small),
		cmocka_unit_test(test_upgrade_gateways),
		cmocka_unit_test(test_upgrade_home),
		cmocka_unit_test(test_recheck_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
