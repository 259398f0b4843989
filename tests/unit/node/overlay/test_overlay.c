/* The overlay's topology and routing (src/node/overlay), sans-IO: a full
 * mesh when small, a bounded ring + fingers when large, requests accepted
 * or refused by capacity, on-demand links and their trimming, eviction,
 * and greedy next hops. The ten-thousand-member simulation is
 * test_overlay_sim.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "overlay.h"

static void id_of(unsigned i, uint8_t id[OVERLAY_ID_LEN])
{
	/* positions spread evenly: member i at i * 2^64 / 1024, plus noise */
	uint64_t pos = (uint64_t)i << 54 | (uint64_t)(i * 2654435761u) % 1000;
	memset(id, 0, OVERLAY_ID_LEN);
	for (int k = 0; k < 8; k++)
		id[k] = (uint8_t)(pos >> (56 - 8 * k));
	id[19] = (uint8_t)i;
}

static int cmp_member(const void *a, const void *b)
{
	const struct ov_member *x = a, *y = b;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static size_t members(struct ov_member *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		id_of(i, m[i].id);
		m[i].pos = ring_pos_of(m[i].id, OVERLAY_ID_LEN);
	}
	qsort(m, n, sizeof(*m), cmp_member);
	return n;
}

static unsigned count_actions(struct overlay *ov, enum ov_action_type t, unsigned why)
{
	struct ov_action a;
	unsigned k = 0;
	while (overlay_poll_action(ov, &a))
		k += a.type == t && (!why || (a.why & why));
	return k;
}

/* Three one-second windows of 10 KB to id, well above the threshold:
 * enough to ask for an on-demand link. Returns the time after them. */
static uint64_t hot(struct overlay *ov, const uint8_t id[OVERLAY_ID_LEN], uint64_t t)
{
	for (int s = 0; s < 3; s++, t += 1000)
		overlay_demand(ov, id, 10000, t);
	return t;
}

static void test_small_group_is_a_mesh(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	struct ov_member m[16];
	uint8_t self[OVERLAY_ID_LEN];

	overlay_conf_default(&c);
	c.max_links = 15;
	id_of(3, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 16), 1000); /* 15 others: a mesh */
	assert_true(overlay_is_mesh(&ov));
	assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, OV_WHY_MESH), 15);
	assert_int_equal(ov.nslots, 15);
	overlay_free(&ov);
}

static void test_large_group_is_bounded(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[1000];
	uint8_t self[OVERLAY_ID_LEN];

	overlay_conf_default(&c);
	c.max_links = 16;
	id_of(500, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 1000), 1000);
	assert_false(overlay_is_mesh(&ov));
	unsigned ring = 0, fingers = 0;
	for (size_t i = 0; i < ov.np; i++) {
		ring += !!(ov.p[i].why & OV_WHY_RING);
		fingers += !!(ov.p[i].why & OV_WHY_FINGER);
	}
	assert_int_equal(ring, OVERLAY_SUCC + OVERLAY_PRED);
	assert_true(fingers >= 3 && fingers <= c.max_links / 2);
	assert_true(ov.nslots <= c.max_links / 2);
	/* the ring neighbours are the members next to self */
	uint8_t id[OVERLAY_ID_LEN];
	id_of(501, id);
	assert_true(overlay_peer(&ov, id)->why & OV_WHY_RING);
	id_of(499, id);
	assert_true(overlay_peer(&ov, id)->why & OV_WHY_RING);
	overlay_free(&ov);
}

static void test_full_refuses_but_structure_evicts(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[1000];
	uint8_t self[OVERLAY_ID_LEN], id[OVERLAY_ID_LEN];

	overlay_conf_default(&c);
	c.max_links = 12;
	id_of(100, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 1000), 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	/* others fill the rest with incoming links */
	unsigned accepted = 0;
	for (unsigned i = 700; i < 740; i++) {
		id_of(i, id);
		if (overlay_accept(&ov, id, 2000)) {
			overlay_link_up(&ov, id, (void *)(uintptr_t)(i + 1), 2000 + i);
			accepted++;
		}
	}
	assert_int_equal(ov.nslots, c.max_links);
	assert_true(accepted < 40);
	assert_true(ov.st.refused_in > 0);
	/* a ring neighbour's request is accepted: the least recently used
	 * incoming link goes */
	id_of(101, id);
	assert_true(overlay_accept(&ov, id, 3000));
	assert_int_equal(ov.nslots, c.max_links);
	assert_int_equal(count_actions(&ov, OV_ACT_CLOSE, 0), 0); /* already its own request: no eviction needed */
	overlay_free(&ov);
}

/* A link that comes up with no slot of its own (no request of ours, none
 * accepted: e.g. kept through the overlay, then direct again) while the
 * node is full is closed, not counted past max_links. */
static void test_unrequested_link_over_max_is_closed(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[1000];
	uint8_t self[OVERLAY_ID_LEN], id[OVERLAY_ID_LEN];

	overlay_conf_default(&c);
	c.max_links = 12;
	id_of(100, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 1000), 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	for (unsigned i = 700; i < 740; i++) {
		id_of(i, id);
		if (overlay_accept(&ov, id, 2000))
			overlay_link_up(&ov, id, (void *)(uintptr_t)(i + 1), 2000 + i);
	}
	count_actions(&ov, OV_ACT_CLOSE, 0);
	assert_int_equal(ov.nslots, c.max_links);
	id_of(800, id); /* refused before: no slot, yet its link comes up */
	assert_false(overlay_accept(&ov, id, 3000));
	overlay_link_up(&ov, id, (void *)(uintptr_t)801, 3100);
	assert_int_equal(ov.nslots, c.max_links);
	assert_int_not_equal(overlay_peer(&ov, id)->state, OV_UP);
	struct ov_action a;
	unsigned closes = 0;
	while (overlay_poll_action(&ov, &a))
		closes += a.type == OV_ACT_CLOSE && memcmp(a.id, id, OVERLAY_ID_LEN) == 0;
	assert_int_equal(closes, 1);
	/* one of our structure links coming up that way (its request had
	 * failed) still gets its slot: a link up for someone else goes */
	id_of(101, id);
	assert_true(overlay_peer(&ov, id)->why & OV_WHY_RING);
	overlay_link_down(&ov, id, 4000);
	assert_int_equal(ov.nslots, c.max_links - 1);
	uint8_t other[OVERLAY_ID_LEN];
	id_of(741, other);
	assert_true(overlay_accept(&ov, other, 4100)); /* the freed slot */
	overlay_link_up(&ov, other, (void *)(uintptr_t)742, 4100);
	assert_int_equal(ov.nslots, c.max_links);
	count_actions(&ov, OV_ACT_CLOSE, 0);
	overlay_link_up(&ov, id, (void *)(uintptr_t)102, 4200);
	assert_int_equal(overlay_peer(&ov, id)->state, OV_UP);
	assert_int_equal(ov.nslots, c.max_links);
	assert_int_equal(count_actions(&ov, OV_ACT_CLOSE, 0), 1);
	overlay_free(&ov);
}

static void test_on_demand_and_trim(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[1000];
	uint8_t self[OVERLAY_ID_LEN], far[OVERLAY_ID_LEN];
	struct ov_action a;

	overlay_conf_default(&c);
	c.max_links = 16;
	c.idle_timeout_s = 30;
	id_of(10, self);
	id_of(600, far);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 1000), 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	/* a trickle (below 128 B/s) asks for nothing */
	uint64_t t = 1000;
	for (int s = 0; s < 5; s++, t += 1000)
		overlay_demand(&ov, far, 50, t);
	assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, OV_WHY_DEMAND), 0);
	/* sustained traffic does, fed once a second with the overlay's own
	 * timer running in between, as the daemon does */
	for (int s = 0; s < 3; s++, t += 1000) {
		overlay_demand(&ov, far, 10000, t);
		overlay_handle_timeout(&ov, t + 500);
	}
	assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, OV_WHY_DEMAND), 1);
	overlay_link_up(&ov, far, (void *)1, t);
	/* idle past on-demand_inactive_timeout: trimmed */
	overlay_handle_timeout(&ov, t + 10000);
	assert_int_equal(count_actions(&ov, OV_ACT_CLOSE, 0), 0);
	overlay_handle_timeout(&ov, t + 31000);
	assert_true(overlay_poll_action(&ov, &a));
	assert_int_equal(a.type, OV_ACT_CLOSE);
	assert_memory_equal(a.id, far, OVERLAY_ID_LEN);
	assert_int_equal(ov.st.trimmed, 1);
	/* the traffic that asked for it is history: no stale "requested soon" */
	overlay_link_down(&ov, far, t + 31000);
	assert_null(strstr(overlay_why_not_linked(&ov, far), "traffic above"));
	overlay_free(&ov);
}

/* Both ends of a flow see its traffic: when our request crossed the other
 * side's refusal and its own request then arrives, the link is our
 * on-demand link too (trimmed when idle), not only one it asked for. */
static void test_demand_crossing_a_refusal(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[100];
	uint8_t self[OVERLAY_ID_LEN], far[OVERLAY_ID_LEN];
	struct ov_action a;

	overlay_conf_default(&c);
	c.max_links = 8;
	c.idle_timeout_s = 30;
	id_of(10, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 100), 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	id_of(60, far);
	uint64_t t = 2000;
	t = hot(&ov, far, t);
	assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, OV_WHY_DEMAND), 1);
	overlay_refused(&ov, far, t);
	overlay_demand(&ov, far, 10000, t += 1000);
	assert_true(overlay_accept(&ov, far, t));
	overlay_link_up(&ov, far, (void *)1, t);
	assert_true(overlay_peer(&ov, far)->why & OV_WHY_DEMAND);
	/* idle: trimmed like any on-demand link of ours */
	while (overlay_poll_action(&ov, &a))
		;
	overlay_handle_timeout(&ov, t + 31000);
	assert_true(overlay_poll_action(&ov, &a));
	assert_int_equal(a.type, OV_ACT_CLOSE);
	assert_memory_equal(a.id, far, OVERLAY_ID_LEN);
	overlay_free(&ov);
}

/* Both ends see one flow, and the other end may ask first: one second of
 * our traffic above the threshold (we would have asked a moment later)
 * makes its link our on-demand link too, trimmed when idle; a trickle
 * does not. */
static void test_peer_asks_first_for_our_flow(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[100];
	uint8_t self[OVERLAY_ID_LEN], far[OVERLAY_ID_LEN], slow[OVERLAY_ID_LEN];

	overlay_conf_default(&c);
	c.max_links = 8;
	id_of(10, self);
	id_of(60, far);
	id_of(70, slow);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 100), 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	overlay_demand(&ov, far, 10000, 2000);
	overlay_demand(&ov, far, 10000, 3000); /* one hot second */
	overlay_demand(&ov, slow, 50, 2000);
	overlay_demand(&ov, slow, 50, 3000);
	assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, OV_WHY_DEMAND), 0);
	assert_true(overlay_accept(&ov, far, 3100));
	assert_true(overlay_accept(&ov, slow, 3100));
	overlay_link_up(&ov, far, (void *)1, 3200);
	overlay_link_up(&ov, slow, (void *)2, 3200);
	assert_true(overlay_peer(&ov, far)->why & OV_WHY_DEMAND);
	assert_false(overlay_peer(&ov, slow)->why & OV_WHY_DEMAND);
	overlay_free(&ov);
}

/* A full node refuses a plain request, but makes room for one that says
 * "need" (the requester's multihop is off): its least recently used link
 * that others asked for goes, its own structure stays. */
static void test_need_makes_room(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[100];
	uint8_t self[OVERLAY_ID_LEN], id[OVERLAY_ID_LEN];
	struct ov_action a;

	overlay_conf_default(&c);
	c.max_links = 8;
	id_of(10, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 100), 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	unsigned i = 40, asked = 0;
	for (; i < 90; i++) {
		id_of(i, id);
		if (!overlay_accept(&ov, id, 2000 + i))
			break;
		overlay_link_up(&ov, id, (void *)(uintptr_t)(i + 1), 2000 + i);
		asked++;
	}
	assert_true(asked >= 1 && i < 90); /* full now */
	uint64_t ev = ov.st.evictions;
	id_of(i, id);
	assert_false(overlay_accept(&ov, id, 3000));
	assert_true(overlay_accept_need(&ov, id, 3001));
	assert_int_equal(ov.st.evictions, ev + 1);
	unsigned closes = 0;
	while (overlay_poll_action(&ov, &a)) {
		if (a.type != OV_ACT_CLOSE)
			continue;
		closes++;
		uint8_t first[OVERLAY_ID_LEN];
		id_of(40, first);
		assert_memory_equal(a.id, first, OVERLAY_ID_LEN); /* the least recently used */
	}
	assert_int_equal(closes, 1);
	overlay_free(&ov);
}

/* multihop off: nothing carries a packet for a member outside the
 * structure, so the first one asks for an on-demand link, whatever the
 * rate; once, not per packet; not while the member's refusal holds; and
 * not at all with on-demand links off. The link is trimmed when idle. */
static void test_multihop_off_first_packet_asks(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[1000];
	uint8_t self[OVERLAY_ID_LEN], far[OVERLAY_ID_LEN], other[OVERLAY_ID_LEN];
	struct ov_action a;

	overlay_conf_default(&c);
	c.max_links = 16;
	c.idle_timeout_s = 30;
	c.multihop = false;
	id_of(10, self);
	id_of(600, far);
	id_of(700, other);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 1000), 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	assert_non_null(strstr(overlay_why_not_linked(&ov, far), "first packet"));
	overlay_want(&ov, far, 2000);
	overlay_want(&ov, far, 2001);
	assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, OV_WHY_DEMAND), 1);
	assert_string_equal(overlay_why_not_linked(&ov, far), "on-demand link being set up");
	/* a member that refused is asked again only after its back-off */
	overlay_want(&ov, other, 2000);
	assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, OV_WHY_DEMAND), 1);
	overlay_refused(&ov, other, 2100);
	overlay_want(&ov, other, 2200);
	assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, 0), 0);
	/* up, then idle past on-demand_inactive_timeout: trimmed */
	overlay_link_up(&ov, far, (void *)1, 2500);
	while (overlay_poll_action(&ov, &a))
		;
	overlay_handle_timeout(&ov, 2500 + 31000);
	assert_true(overlay_poll_action(&ov, &a));
	assert_int_equal(a.type, OV_ACT_CLOSE);
	assert_memory_equal(a.id, far, OVERLAY_ID_LEN);
	overlay_free(&ov);

	c.on_demand = false;
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, 1000, 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	overlay_want(&ov, far, 2000);
	assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, 0), 0);
	assert_non_null(strstr(overlay_why_not_linked(&ov, far), "multihop and on-demand links are off"));
	overlay_free(&ov);
}

static void test_demand_evicts_least_recently_used(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[1000];
	uint8_t self[OVERLAY_ID_LEN], id[OVERLAY_ID_LEN];
	struct ov_action a;

	overlay_conf_default(&c);
	c.max_links = 12;
	id_of(10, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 1000), 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	uint64_t t = 2000;
	/* fill every slot with on-demand links 300..; 300 is used least recently */
	for (unsigned i = 300; ov.nslots < c.max_links; i++) {
		id_of(i, id);
		t = hot(&ov, id, t);
		overlay_link_up(&ov, id, (void *)(uintptr_t)i, t);
		count_actions(&ov, OV_ACT_REQUEST, 0);
	}
	for (unsigned i = 301; i < 320; i++) {
		id_of(i, id);
		overlay_used(&ov, id, t);
	}
	/* a new demand at a full node evicts 300 */
	id_of(900, id);
	t = hot(&ov, id, t);
	assert_true(overlay_poll_action(&ov, &a));
	assert_int_equal(a.type, OV_ACT_CLOSE);
	uint8_t lru[OVERLAY_ID_LEN];
	id_of(300, lru);
	assert_memory_equal(a.id, lru, OVERLAY_ID_LEN);
	assert_true(overlay_poll_action(&ov, &a));
	assert_int_equal(a.type, OV_ACT_REQUEST);
	assert_memory_equal(a.id, id, OVERLAY_ID_LEN);
	assert_int_equal(ov.st.evictions, 1);
	assert_true(ov.nslots <= c.max_links);
	overlay_free(&ov);
}

/* Cold start: members log in one by one, so a node first sees a group small
 * enough for a mesh and asks everyone; then the list grows past max_links
 * while those requests are still being set up. The requests the structure
 * no longer needs give their slots to the ring and fingers at once, not
 * after the 90 s a request that never comes up is given. */
static void test_growing_group_drops_stale_requests(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member small[12], big[1000];
	uint8_t self[OVERLAY_ID_LEN];

	overlay_conf_default(&c);
	c.max_links = 12;
	id_of(0, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, small, members(small, 12), 1000); /* 11 others: a mesh */
	assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, OV_WHY_MESH), 11);
	assert_int_equal(ov.nslots, 11);
	/* one of them answered and is up: it stays until its grace ends */
	uint8_t up[OVERLAY_ID_LEN];
	id_of(7, up);
	overlay_link_up(&ov, up, (void *)1, 1500);

	overlay_set_members(&ov, big, members(big, 1000), 2000);
	unsigned structure = 0, asked = 0;
	for (size_t i = 0; i < ov.np; i++) {
		const struct ov_peer *p = &ov.p[i];
		if (!(p->why & OV_WHY_STRUCTURE))
			continue;
		structure++;
		asked += p->state == OV_WANTED || p->state == OV_UP;
	}
	assert_true(structure >= OVERLAY_SUCC + OVERLAY_PRED);
	assert_int_equal(asked, structure); /* every ring neighbour and finger, now */
	assert_true(ov.nslots <= c.max_links);
	assert_true(count_actions(&ov, OV_ACT_CLOSE, 0) > 0); /* stale requests cancelled */
	assert_int_equal(overlay_peer(&ov, up)->state, OV_UP); /* a link that is up is not a request */
	overlay_free(&ov);
}

/* x: a member of the first 12 that ov's structure (of a big group) does
 * not want. */
static void unwanted_member(const struct overlay *ov, uint8_t x[OVERLAY_ID_LEN])
{
	unsigned k;

	for (k = 3; k < 12; k++) {
		id_of(k, x);
		const struct ov_peer *q = overlay_peer(ov, x);
		if (!q || !(q->why & OV_WHY_STRUCTURE))
			break;
	}
	assert_true(k < 12);
}

/* Runs the overlay's timer once a second over [from, to] and counts the
 * releases and closes of the link to x. */
static void tally(struct overlay *ov, const uint8_t x[OVERLAY_ID_LEN], uint64_t from, uint64_t to, unsigned *rel,
		  unsigned *close)
{
	struct ov_action a;

	for (uint64_t t = from; t <= to; t += 1000) {
		overlay_handle_timeout(ov, t);
		while (overlay_poll_action(ov, &a)) {
			if (memcmp(a.id, x, OVERLAY_ID_LEN) != 0)
				continue;
			*rel += a.type == OV_ACT_RELEASE;
			*close += a.type == OV_ACT_CLOSE;
		}
	}
}

/* Both ends asked for a link while the group formed; then it grew and
 * neither end's structure wants it. Each side's request alone would hold
 * it for good: the side whose own reasons went says so once (RELEASE),
 * keeps the link while the other one still asks, and the other side,
 * told, lets it go after the grace. */
static void test_mutual_request_released(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member small[12], big[1000];
	uint8_t self[OVERLAY_ID_LEN], x[OVERLAY_ID_LEN];

	overlay_conf_default(&c);
	c.max_links = 12;
	id_of(0, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, small, members(small, 12), 1000); /* a mesh: we ask all 11 */
	count_actions(&ov, 0, 0);
	overlay_set_members(&ov, big, members(big, 1000), 1500);
	/* a member of the old mesh the structure of 1000 does not want */
	unwanted_member(&ov, x);
	overlay_set_members(&ov, small, members(small, 12), 2000); /* back to the mesh for the set-up */
	count_actions(&ov, 0, 0);
	assert_true(overlay_accept(&ov, x, 2100)); /* it asked us as well */
	overlay_link_up(&ov, x, (void *)1, 2200);
	overlay_handle_timeout(&ov, 3000);
	assert_int_equal(count_actions(&ov, OV_ACT_RELEASE, 0), 0); /* still ours */

	overlay_set_members(&ov, big, members(big, 1000), 4000);
	unsigned rel = 0, close = 0;
	tally(&ov, x, 4000, 4000 + 3 * OVERLAY_GRACE_MS, &rel, &close);
	assert_int_equal(rel, 1);  /* said once */
	assert_int_equal(close, 0); /* its request still holds it here */
	assert_int_equal(overlay_peer(&ov, x)->state, OV_UP);
	assert_int_equal(ov.st.releases, 1);

	/* the other side sent the same: our hold goes, the grace runs */
	uint64_t t0 = 4000 + 3 * OVERLAY_GRACE_MS + 1000;
	overlay_released(&ov, x, t0);
	tally(&ov, x, t0, t0 + OVERLAY_GRACE_MS - 1000, &rel, &close);
	assert_int_equal(close, 0); /* not before the grace */
	tally(&ov, x, t0 + OVERLAY_GRACE_MS, t0 + OVERLAY_GRACE_MS + 2000, &rel, &close);
	assert_int_equal(close, 1);
	assert_int_equal(rel, 1);
	overlay_free(&ov);
}

/* The cold start's case: we asked for a link (the transient mesh) and
 * the member's request crossed ours; the group grew past the mesh while
 * the link was still being set up, so it comes up wanted by neither
 * structure. Our request counts from the moment we made it: the link is
 * released once when it comes up (before, only a link that was up while
 * our own reasons held qualified, and this one kept both ends' slots for
 * good), and not again. */
static void test_crossed_request_released_when_up(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member small[12], big[1000];
	uint8_t self[OVERLAY_ID_LEN], x[OVERLAY_ID_LEN];

	overlay_conf_default(&c);
	c.max_links = 12;
	id_of(0, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, big, members(big, 1000), 500);
	/* a member of the small group that the structure of 1000 does not want */
	unwanted_member(&ov, x);
	overlay_free(&ov);
	assert_int_equal(overlay_init(&ov, &c, self), 0);

	overlay_set_members(&ov, small, members(small, 12), 1000); /* a mesh: we ask all 11 */
	assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, OV_WHY_MESH), 11);
	assert_true(overlay_accept(&ov, x, 1100)); /* its request crosses ours */
	overlay_set_members(&ov, big, members(big, 1000), 1500); /* the group grew */
	count_actions(&ov, 0, 0);
	const struct ov_peer *q = overlay_peer(&ov, x);
	assert_non_null(q);
	assert_int_equal(q->state, OV_WANTED);
	assert_int_equal(q->why & (OV_WHY_STRUCTURE | OV_WHY_DEMAND), 0);

	overlay_link_up(&ov, x, (void *)1, 3000);
	unsigned rel = 0, close = 0;
	tally(&ov, x, 3000, 3000 + 2 * OVERLAY_GRACE_MS, &rel, &close);
	assert_int_equal(rel, 1);
	assert_int_equal(close, 0); /* its request holds it until it releases too */
	overlay_released(&ov, x, 3000 + 2 * OVERLAY_GRACE_MS + 1000);
	tally(&ov, x, 3000 + 2 * OVERLAY_GRACE_MS + 1000, 3000 + 4 * OVERLAY_GRACE_MS, &rel, &close);
	assert_int_equal(close, 1);
	assert_int_equal(rel, 1); /* not again */
	overlay_free(&ov);
}

static void test_refused_backs_off(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[1000];
	uint8_t self[OVERLAY_ID_LEN], ring[OVERLAY_ID_LEN];

	overlay_conf_default(&c);
	c.max_links = 16;
	id_of(10, self);
	id_of(11, ring);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 1000), 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	uint64_t t = 1000, gaps[4];
	for (int k = 0; k < 4; k++) {
		overlay_refused(&ov, ring, t);
		uint64_t at = overlay_peer(&ov, ring)->retry_ms;
		gaps[k] = at - t;
		/* nothing until the retry time, then one request */
		overlay_handle_timeout(&ov, at - 1);
		assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, OV_WHY_RING), 0);
		overlay_handle_timeout(&ov, at + 1000);
		assert_int_equal(count_actions(&ov, OV_ACT_REQUEST, OV_WHY_RING), 1);
		t = at + 1000;
	}
	assert_true(gaps[1] > gaps[0] && gaps[2] > gaps[1] && gaps[3] > gaps[2]); /* exponential */
	overlay_free(&ov);
}

/* Who may push out whom: a request from another member takes only a free
 * slot; our traffic displaces a link only others asked for. */
static void test_displacement_order(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[1000];
	uint8_t self[OVERLAY_ID_LEN], id[OVERLAY_ID_LEN];
	struct ov_action a;

	overlay_conf_default(&c);
	c.max_links = 12;
	id_of(10, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 1000), 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	uint64_t t = 2000;
	/* one on-demand link (400), then others' requests fill the rest */
	id_of(400, id);
	t = hot(&ov, id, t);
	overlay_link_up(&ov, id, (void *)(uintptr_t)400, t);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	for (unsigned i = 500; ov.nslots < c.max_links; i++) {
		id_of(i, id);
		assert_true(overlay_accept(&ov, id, t));
		overlay_link_up(&ov, id, (void *)(uintptr_t)i, t + 1);
	}
	overlay_used(&ov, id, t + 5000);
	/* full: another member's request is refused, nothing closes */
	id_of(700, id);
	assert_false(overlay_accept(&ov, id, t + 5000));
	assert_false(overlay_poll_action(&ov, &a));
	/* our traffic to 800 displaces the least recently used of them: the
	 * on-demand link 400 and the incoming 500.. are older than the last */
	id_of(800, id);
	t += 6000;
	t = hot(&ov, id, t);
	assert_true(overlay_poll_action(&ov, &a));
	assert_int_equal(a.type, OV_ACT_CLOSE);
	const struct ov_peer *gone = overlay_peer(&ov, a.id);
	assert_non_null(gone);
	assert_false(gone->why & OV_WHY_STRUCTURE);
	assert_true(overlay_poll_action(&ov, &a));
	assert_int_equal(a.type, OV_ACT_REQUEST);
	assert_memory_equal(a.id, id, OVERLAY_ID_LEN);
	assert_true(ov.nslots <= c.max_links);
	overlay_free(&ov);
}

/* A member that left stops being a next hop at once, even while its link
 * is still up; it is one again when it comes back. */
static void test_departed_member_is_no_next_hop(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[100], fewer[100];
	uint8_t self[OVERLAY_ID_LEN], dst[OVERLAY_ID_LEN];

	overlay_conf_default(&c);
	c.max_links = 8;
	id_of(10, self);
	id_of(13, dst);
	size_t n = members(m, 100);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, n, 1000);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	for (size_t i = 0; i < ov.np; i++)
		overlay_link_up(&ov, ov.p[i].id, (void *)(uintptr_t)(ov.p[i].id[19] + 1), 1100);
	ring_pos to = ring_pos_of(dst, OVERLAY_ID_LEN);
	void *h = overlay_next_hop(&ov, to);
	assert_ptr_equal(h, (void *)(uintptr_t)(12 + 1)); /* the second successor is closest before 13 */
	/* 12 leaves: its link is up still, but 11 carries the frame now */
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (m[i].id[19] != 12)
			fewer[k++] = m[i];
	overlay_set_members(&ov, fewer, k, 2000);
	assert_ptr_equal(overlay_next_hop(&ov, to), (void *)(uintptr_t)(11 + 1));
	overlay_set_members(&ov, m, n, 3000);
	assert_ptr_equal(overlay_next_hop(&ov, to), (void *)(uintptr_t)(12 + 1));
	overlay_free(&ov);
}

static void test_next_hop_is_greedy(void **state)
{
	(void)state;
	ring_pos cand[] = { 100, 1000, 5000, 9000 };
	assert_int_equal(ring_closest_preceding(cand, 4, 0, 6000), 2);
	assert_int_equal(ring_closest_preceding(cand, 4, 0, 1000), 1);  /* the destination itself */
	assert_int_equal(ring_closest_preceding(cand, 4, 0, 50), -1);   /* nobody is closer */
	assert_int_equal(ring_closest_preceding(cand, 4, 9500, 50), -1);  /* all of them lie past 50 */
	assert_int_equal(ring_closest_preceding(cand, 4, 9500, 1050), 1); /* across the wrap */
	ring_pos sorted[] = { 10, 20, 30 };
	assert_int_equal(ring_successor(sorted, 3, 15), 1);
	assert_int_equal(ring_successor(sorted, 3, 31), 0);
	assert_int_equal(ring_successor(sorted, 3, 10), 0);
}

/* The plan runs on whole seconds of the clock, whatever moment it last
 * ran at, so that an idle node's overlay shares the links' wakeup
 * (tick.h) instead of waking at a phase of its own. */
static void test_plan_on_whole_seconds(void **state)
{
	(void)state;
	struct overlay_conf c;
	struct overlay ov;
	static struct ov_member m[8];
	uint8_t self[OVERLAY_ID_LEN];

	overlay_conf_default(&c);
	id_of(0, self);
	assert_int_equal(overlay_init(&ov, &c, self), 0);
	overlay_set_members(&ov, m, members(m, 8), 5123);
	count_actions(&ov, OV_ACT_REQUEST, 0);
	overlay_handle_timeout(&ov, 5123);
	assert_int_equal(overlay_next_deadline(&ov), 6000);
	overlay_handle_timeout(&ov, 5999); /* not due: nothing moves */
	assert_int_equal(overlay_next_deadline(&ov), 6000);
	overlay_handle_timeout(&ov, 6004); /* woken a little late */
	assert_int_equal(overlay_next_deadline(&ov), 7000);
	overlay_handle_timeout(&ov, 9876); /* or very late */
	assert_int_equal(overlay_next_deadline(&ov), 10000);
	overlay_free(&ov);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_group_is_a_mesh),
		cmocka_unit_test(test_large_group_is_bounded),
		cmocka_unit_test(test_full_refuses_but_structure_evicts),
		cmocka_unit_test(test_unrequested_link_over_max_is_closed),
		cmocka_unit_test(test_on_demand_and_trim),
		cmocka_unit_test(test_demand_crossing_a_refusal),
		cmocka_unit_test(test_demand_evicts_least_recently_used),
		cmocka_unit_test(test_multihop_off_first_packet_asks),
		cmocka_unit_test(test_peer_asks_first_for_our_flow),
		cmocka_unit_test(test_need_makes_room),
		cmocka_unit_test(test_growing_group_drops_stale_requests),
		cmocka_unit_test(test_mutual_request_released),
		cmocka_unit_test(test_crossed_request_released_when_up),
		cmocka_unit_test(test_refused_backs_off),
		cmocka_unit_test(test_displacement_order),
		cmocka_unit_test(test_departed_member_is_no_next_hop),
		cmocka_unit_test(test_next_hop_is_greedy),
		cmocka_unit_test(test_plan_on_whole_seconds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
