/* path_why_not_direct(): the reason ipopctl shows for a link that is not
 * direct, from a link built in memory, what the node knows of itself, and
 * a real ICE agent whose checks go nowhere on a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "link.h"
#include "link_base.h"
#include "path.h"

struct fx {
	struct path_env n;
	struct link p;
	uint64_t now;
	char why[128];
};

static struct ice_cand cand(enum ice_cand_type t, const char *addr, const char *rel, uint32_t base)
{
	struct ice_cand c;
	struct sockaddr_storage a, r;
	assert_int_equal(addr_parse(addr, 0, &a), 0);
	if (rel)
		assert_int_equal(addr_parse(rel, 0, &r), 0);
	assert_int_equal(ice_cand_init(&c, t, (struct sockaddr *)&a, rel ? (struct sockaddr *)&r : NULL, base,
				       65535, NULL),
			 0);
	return c;
}

/* alice: host 10.0.1.2 (and srflx when have_srflx); bob: host + remote
 * srflx unless bare; a relay pair is selected by hand. */
static struct fx *fx_new(bool local_srflx, bool remote_srflx)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->now = 1000;
	f->n.have_srflx = local_srflx;
	assert_int_equal(ice_agent_init(&f->p.ice, NULL, true, 42, "ufrgA", "passwordA0123456789abcdef"), 0);
	assert_int_equal(ice_agent_set_remote_credentials(&f->p.ice, "ufrgB", "passwordB0123456789abcdef"), 0);
	struct ice_cand c = cand(ICE_CAND_HOST, "10.0.1.2:4000", NULL, 0);
	assert_true(ice_agent_add_local_candidate(&f->p.ice, &c, f->now) >= 0);
	c = cand(ICE_CAND_RELAY, "192.0.2.1:50000", "198.51.100.2:4000", LINK_RELAY_BASE + 1);
	assert_true(ice_agent_add_local_candidate(&f->p.ice, &c, f->now) >= 0);
	c = cand(ICE_CAND_HOST, "10.0.2.2:5000", NULL, 0);
	assert_true(ice_agent_add_remote_candidate(&f->p.ice, &c, f->now) >= 0);
	if (remote_srflx) {
		c = cand(ICE_CAND_SRFLX, "203.0.113.2:5000", "10.0.2.2:5000", 0);
		assert_true(ice_agent_add_remote_candidate(&f->p.ice, &c, f->now) >= 0);
	}
	f->p.ice_on = true;
	/* the link runs through our relay */
	f->p.have_path = true;
	f->p.base_id = LINK_RELAY_BASE + 1;
	return f;
}

/* Runs the agent for ms milliseconds; nothing ever answers. */
static void run(struct fx *f, uint64_t ms)
{
	uint8_t buf[512];
	struct ice_transmit t;
	struct ice_event ev;
	for (uint64_t end = f->now + ms; f->now < end; f->now += 50) {
		if (f->now >= ice_agent_next_deadline(&f->p.ice, f->now))
			ice_agent_handle_timeout(&f->p.ice, f->now);
		while (ice_agent_poll_transmit(&f->p.ice, &t, buf, sizeof(buf), f->now) > 0)
			;
		while (ice_agent_poll_event(&f->p.ice, &ev))
			;
	}
}

static const char *why(struct fx *f)
{
	path_why_not_direct(&f->p, &f->n, f->why, sizeof(f->why));
	return f->why;
}

static void test_direct_has_no_reason(void **state)
{
	(void)state;
	struct fx *f = fx_new(true, true);
	f->p.base_id = 0;
	assert_string_equal(why(f), "");
	free(f);
}

static void test_in_progress_then_timed_out(void **state)
{
	(void)state;
	struct fx *f = fx_new(true, true);
	run(f, 200);
	assert_non_null(strstr(why(f), "checks to direct pairs in progress"));
	run(f, 40000);
	assert_string_equal(why(f), "checks to srflx pairs timed out");
	free(f);
}

static void test_no_local_srflx(void **state)
{
	(void)state;
	struct fx *f = fx_new(false, true);
	f->n.stun_timed_out = true;
	run(f, 40000);
	assert_string_equal(why(f), "no server-reflexive candidate (STUN servers did not answer)");
	free(f);
}

static void test_peer_without_srflx(void **state)
{
	(void)state;
	struct fx *f = fx_new(true, false);
	run(f, 40000);
	assert_string_equal(why(f), "peer has no server-reflexive candidate");
	free(f);
}

static void test_udp_blocked(void **state)
{
	(void)state;
	struct fx *f = fx_new(false, true);
	f->n.udp_blocked = true;
	assert_string_equal(why(f), "UDP blocked (only TCP/TLS to the relay works)");
	free(f);
}

static void test_remote_relay_is_relayed(void **state)
{
	(void)state;
	struct fx *f = fx_new(true, true);
	/* we send from our host to the peer's relayed address */
	f->p.base_id = 0;
	f->p.sel_known = true;
	f->p.sel_local = cand(ICE_CAND_HOST, "10.0.1.2:4000", NULL, 0);
	f->p.sel_remote = cand(ICE_CAND_RELAY, "192.0.2.1:50001", "203.0.113.2:5000", 0);
	assert_true(link_path_relayed(&f->p));
	run(f, 40000);
	assert_string_equal(why(f), "checks to srflx pairs timed out");
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_has_no_reason),
		cmocka_unit_test(test_in_progress_then_timed_out),
		cmocka_unit_test(test_no_local_srflx),
		cmocka_unit_test(test_peer_without_srflx),
		cmocka_unit_test(test_udp_blocked),
		cmocka_unit_test(test_remote_relay_is_relayed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
