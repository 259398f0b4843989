/* ICE check list: pair priority, formation, pruning, limits, unfreezing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "ice_pair.h"

#define SA(x) ((const struct sockaddr *)&(x))

static struct ice_cand mk(enum ice_cand_type t, const char *addr, const char *rel, uint32_t base,
			  uint16_t lp)
{
	struct sockaddr_storage a, r;
	struct ice_cand c;
	assert_int_equal(addr_parse(addr, 0, &a), 0);
	if (rel)
		assert_int_equal(addr_parse(rel, 0, &r), 0);
	assert_int_equal(ice_cand_init(&c, t, SA(a), rel ? SA(r) : NULL, base, lp, NULL), 0);
	return c;
}

static void test_pair_priority_known_numbers(void **state)
{
	(void)state;
	/* G = host 65535 = 2130706431, D = srflx 65535 = 1694498815.
	 * MIN = D: 1694498815 * 2^32 = 7277816993535754240
	 * 2 * MAX = 2 * 2130706431 = 4261412862, and G > D adds 1:
	 * 7277816993535754240 + 4261412862 + 1 = 7277816997797167103 */
	assert_true(ice_pair_priority(2130706431u, 1694498815u) == 7277816997797167103ull);
	/* swapped roles: same MIN/MAX, but G < D so no +1 */
	assert_true(ice_pair_priority(1694498815u, 2130706431u) == 7277816997797167102ull);
	/* equal: 2130706431 * 2^32 + 2 * 2130706431 = 9151314442783293438 */
	assert_true(ice_pair_priority(2130706431u, 2130706431u) == 9151314442783293438ull);
	/* both agents compute the same number for the same pair */
	assert_true(ice_pair_priority_local(5, 7, true) == ice_pair_priority_local(7, 5, false));
	assert_true(ice_pair_priority_local(5, 7, true) != ice_pair_priority_local(5, 7, false));
}

static void test_same_family_only(void **state)
{
	(void)state;
	struct ice_checklist cl = { 0 };
	struct ice_cand l[1] = { mk(ICE_CAND_HOST, "10.0.0.1:1000", NULL, 1, 65535) };
	struct ice_cand r[2] = { mk(ICE_CAND_HOST, "[2001:db8::2]:2000", NULL, 0, 65535),
				 mk(ICE_CAND_HOST, "10.0.0.2:2000", NULL, 0, 65535) };
	assert_int_equal(ice_checklist_add(&cl, l, 0, r, 0, true, NULL), -EAFNOSUPPORT);
	assert_int_equal(ice_checklist_add(&cl, l, 0, r, 1, true, NULL), 0);
	assert_int_equal(cl.n, 1);
	assert_int_equal(cl.pairs[0].state, ICE_PAIR_FROZEN);
	assert_true(cl.pairs[0].priority == ice_pair_priority(l[0].priority, r[1].priority));
}

static void test_srflx_replaced_by_base_and_pruned(void **state)
{
	(void)state;
	struct ice_checklist cl = { 0 };
	struct ice_cand l[3] = {
		mk(ICE_CAND_HOST, "10.0.0.1:1000", NULL, 1, 65535),
		mk(ICE_CAND_SRFLX, "203.0.113.1:40000", "10.0.0.1:1000", 1, 65535),
		mk(ICE_CAND_RELAY, "198.51.100.9:3000", "203.0.113.1:40000", 2, 65535),
	};
	struct ice_cand r[1] = { mk(ICE_CAND_HOST, "10.0.0.2:2000", NULL, 0, 65535) };
	int existing = -1;
	assert_int_equal(ice_pair_local_for(l, 3, 1), 0); /* srflx pairs as its host base */
	assert_int_equal(ice_pair_local_for(l, 3, 2), 2); /* relay is its own base */
	assert_int_equal(ice_pair_local_for(l, 1, 3), -1);
	assert_int_equal(ice_checklist_add(&cl, l, 0, r, 0, true, NULL), 0);
	assert_int_equal(ice_checklist_add(&cl, l, (unsigned)ice_pair_local_for(l, 3, 1), r, 0, true, &existing), -EEXIST);
	assert_int_equal(existing, 0);
	assert_int_equal(ice_checklist_add(&cl, l, 2, r, 0, true, NULL), 1);
	assert_int_equal(cl.n, 2);
	/* a srflx without its host stands in for it */
	assert_int_equal(ice_pair_local_for(&l[1], 1, 0), 0);
	union addr_ip ra = r[0].addr;
	assert_int_equal(ice_checklist_find(&cl, l, r, 2, SA(ra)), 1);
	assert_int_equal(ice_checklist_find(&cl, l, r, 9, SA(ra)), -1);
}

static void test_limit_and_eviction(void **state)
{
	(void)state;
	static struct ice_checklist cl;
	static struct ice_cand l[1], r[ICE_MAX_PAIRS + 2];
	char buf[64];
	memset(&cl, 0, sizeof cl);
	l[0] = mk(ICE_CAND_HOST, "10.0.0.1:1000", NULL, 1, 65535);
	for (unsigned i = 0; i < ICE_MAX_PAIRS + 2; i++) {
		snprintf(buf, sizeof buf, "10.1.%u.%u:2000", i / 200, i % 200 + 1);
		/* remote local prefs rise with i, so the last one is the best */
		r[i] = mk(ICE_CAND_HOST, buf, NULL, 0, (uint16_t)(100 + i));
	}
	for (unsigned i = 1; i <= ICE_MAX_PAIRS; i++)
		assert_int_equal(ice_checklist_add(&cl, l, 0, r, i, true, NULL), (int)i - 1);
	assert_int_equal(cl.n, ICE_MAX_PAIRS);
	/* weaker than everything in the list: refused */
	assert_int_equal(ice_checklist_add(&cl, l, 0, r, 0, true, NULL), -ENOSPC);
	/* stronger: takes the slot of the weakest idle pair (remote 1, slot 0) */
	cl.pairs[0].tx.active = true; /* ...unless it is busy: then remote 2's slot */
	assert_int_equal(ice_checklist_add(&cl, l, 0, r, ICE_MAX_PAIRS + 1, true, NULL), 1);
	assert_int_equal(cl.pairs[1].remote, ICE_MAX_PAIRS + 1);
	assert_int_equal(cl.n, ICE_MAX_PAIRS);
	assert_int_equal(ice_checklist_best(&cl, ICE_PAIR_FROZEN), 1);
}

static void test_unfreeze_by_foundation(void **state)
{
	(void)state;
	struct ice_checklist cl = { 0 };
	/* two remotes on one IP share a foundation, the third differs */
	struct ice_cand l[1] = { mk(ICE_CAND_HOST, "10.0.0.1:1000", NULL, 1, 65535) };
	struct ice_cand r[3] = { mk(ICE_CAND_HOST, "10.0.0.2:2000", NULL, 0, 65535),
				 mk(ICE_CAND_HOST, "10.0.0.2:2001", NULL, 0, 60000),
				 mk(ICE_CAND_HOST, "10.0.0.3:2000", NULL, 0, 50000) };
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(ice_checklist_add(&cl, l, 0, r, i, false, NULL), (int)i);
	ice_checklist_unfreeze(&cl, l, r);
	assert_int_equal(cl.pairs[0].state, ICE_PAIR_WAITING); /* best of its foundation */
	assert_int_equal(cl.pairs[1].state, ICE_PAIR_FROZEN);
	assert_int_equal(cl.pairs[2].state, ICE_PAIR_WAITING);
	assert_int_equal(ice_checklist_count(&cl, ICE_PAIR_WAITING), 2);
	/* a failure of the active pair lets the next of that foundation go */
	cl.pairs[0].state = ICE_PAIR_FAILED;
	ice_checklist_unfreeze(&cl, l, r);
	assert_int_equal(cl.pairs[1].state, ICE_PAIR_WAITING);
	/* a success unfreezes the whole foundation at once */
	cl.pairs[1].state = ICE_PAIR_FROZEN;
	cl.pairs[0].state = ICE_PAIR_SUCCEEDED;
	ice_checklist_unfreeze_foundation(&cl, l, r, 0);
	assert_int_equal(cl.pairs[1].state, ICE_PAIR_WAITING);
	assert_int_equal(ice_checklist_best(&cl, ICE_PAIR_WAITING), 1);
}

static void test_reprioritise_on_role_switch(void **state)
{
	(void)state;
	struct ice_checklist cl = { 0 };
	struct ice_cand l[1] = { mk(ICE_CAND_HOST, "10.0.0.1:1000", NULL, 1, 65535) };
	struct ice_cand r[1] = { mk(ICE_CAND_SRFLX, "203.0.113.2:2000", "10.0.0.2:2000", 0, 65535) };
	assert_int_equal(ice_checklist_add(&cl, l, 0, r, 0, true, NULL), 0);
	uint64_t as_controlling = cl.pairs[0].priority;
	ice_checklist_reprioritise(&cl, l, r, false);
	assert_true(cl.pairs[0].priority == ice_pair_priority(r[0].priority, l[0].priority));
	assert_true(cl.pairs[0].priority + 1 == as_controlling); /* only the G>D bit differs */
	assert_string_equal(ice_pair_state_name(ICE_PAIR_IN_PROGRESS), "in-progress");
	assert_string_equal(ice_pair_err_name(ICE_ERR_TIMEOUT), "timed out");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair_priority_known_numbers),
		cmocka_unit_test(test_same_family_only),
		cmocka_unit_test(test_srflx_replaced_by_base_and_pruned),
		cmocka_unit_test(test_limit_and_eviction),
		cmocka_unit_test(test_unfreeze_by_foundation),
		cmocka_unit_test(test_reprioritise_on_role_switch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
