/* A GroupVPN of ten thousand members on a fake clock and a fake network:
 * every member runs the real overlay core (src/node/overlay); a link
 * request reaches its target at once and is accepted or refused by the
 * target's own overlay. Checked: no member without links, links per node
 * at most max_links, every sampled pair reachable by greedy routing with a
 * median hop count of about log2(N)/2 and a bounded maximum; then 10% of
 * the members leave and 10% join, and the same holds again. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "overlay.h"

enum { N = 10000, MAX_LINKS = 32, SAMPLES = 2000, POOL = N + N / 10 };

struct node {
	struct overlay ov;
	uint8_t id[OVERLAY_ID_LEN];
	ring_pos pos;
	bool alive;
};

static struct node *nodes;
static struct ov_member *members_arr;
static size_t nmembers;
static uint64_t now = 1000000;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int cmp_member(const void *a, const void *b)
{
	const struct ov_member *x = a, *y = b;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int by_id(const uint8_t *id)
{
	/* the node index rides in the id's last two bytes */
	return id[18] << 8 | id[19];
}

static void make_node(int i)
{
	struct node *x = &nodes[i];
	struct overlay_conf c;

	for (int k = 0; k < 16; k++)
		x->id[k] = (uint8_t)rnd();
	x->id[18] = (uint8_t)(i >> 8);
	x->id[19] = (uint8_t)i;
	x->pos = ring_pos_of(x->id, OVERLAY_ID_LEN);
	overlay_conf_default(&c);
	c.max_links = MAX_LINKS;
	assert_int_equal(overlay_init(&x->ov, &c, x->id), 0);
	x->alive = true;
}

static void rebuild_members(void)
{
	nmembers = 0;
	for (int i = 0; i < POOL; i++)
		if (nodes[i].alive) {
			members_arr[nmembers].pos = nodes[i].pos;
			memcpy(members_arr[nmembers].id, nodes[i].id, OVERLAY_ID_LEN);
			nmembers++;
		}
	qsort(members_arr, nmembers, sizeof(*members_arr), cmp_member);
}

/* Delivers every node's actions until none is left. */
static void settle(void)
{
	for (int round = 0; round < 64; round++) {
		unsigned acted = 0;
		for (int i = 0; i < POOL; i++) {
			struct node *x = &nodes[i];
			struct ov_action a;
			while (x->alive && overlay_poll_action(&x->ov, &a)) {
				struct node *y = &nodes[by_id(a.id)];
				acted++;
				if (a.type == OV_ACT_CLOSE) {
					if (y->alive)
						overlay_link_down(&y->ov, x->id, now);
					continue;
				}
				if (!y->alive) {
					overlay_link_down(&x->ov, a.id, now);
				} else if (overlay_accept(&y->ov, x->id, now)) {
					overlay_link_up(&x->ov, y->id, y, now);
					overlay_link_up(&y->ov, x->id, x, now);
				} else {
					overlay_refused(&x->ov, y->id, now);
				}
			}
		}
		if (!acted)
			return;
	}
}

/* Time passes: refused requests are retried, unwanted links close. */
static void run(unsigned seconds)
{
	for (unsigned s = 0; s < seconds; s++) {
		now += 1000;
		for (int i = 0; i < POOL; i++)
			if (nodes[i].alive)
				overlay_handle_timeout(&nodes[i].ov, now);
		settle();
	}
}

static int cmp_u(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

static int pick_alive(void)
{
	for (;;) {
		int i = (int)(rnd() % POOL);
		if (nodes[i].alive)
			return i;
	}
}

/* Links per node, then greedy routes between sampled pairs. */
static void check(const char *when)
{
	static unsigned hops[SAMPLES];
	unsigned min_links = UINT32_MAX, max_links = 0, fails = 0;
	uint64_t sum = 0;
	size_t alive = 0;

	for (int i = 0; i < POOL; i++) {
		const struct node *x = &nodes[i];
		if (!x->alive)
			continue;
		alive++;
		unsigned up = 0;
		for (size_t k = 0; k < x->ov.np; k++)
			up += x->ov.p[k].state == OV_UP;
		assert_true(x->ov.nslots <= MAX_LINKS);
		min_links = up < min_links ? up : min_links;
		max_links = up > max_links ? up : max_links;
		sum += up;
	}
	for (unsigned s = 0; s < SAMPLES; s++) {
		int a = pick_alive(), b = pick_alive();
		const struct node *x = &nodes[a];
		unsigned h = 0;
		while (x != &nodes[b] && h <= 64) {
			const struct node *next = overlay_next_hop(&x->ov, nodes[b].pos);
			if (!next)
				break;
			x = next;
			h++;
		}
		fails += x != &nodes[b];
		hops[s] = h;
	}
	qsort(hops, SAMPLES, sizeof(hops[0]), cmp_u);
	double log2n = log2((double)alive);
	print_message("%s: %zu members, links per node %u..%u (mean %.1f), %u/%u pairs unreachable, hops median "
		      "%u p99 %u max %u (log2(N)/2 = %.1f)\n",
		      when, alive, min_links, max_links, (double)sum / (double)alive, fails, SAMPLES,
		      hops[SAMPLES / 2], hops[SAMPLES * 99 / 100], hops[SAMPLES - 1], log2n / 2);
	assert_int_equal(fails, 0);
	assert_true(min_links >= OVERLAY_SUCC);
	assert_true(max_links <= MAX_LINKS);
	assert_true(hops[SAMPLES / 2] <= (unsigned)ceil(log2n / 2) + 1);
	assert_true(hops[SAMPLES - 1] <= (unsigned)(2 * log2n));
}

static void test_ten_thousand_members(void **state)
{
	(void)state;
	nodes = calloc(POOL, sizeof(*nodes));
	members_arr = calloc(POOL, sizeof(*members_arr));
	assert_non_null(nodes);
	assert_non_null(members_arr);
	for (int i = 0; i < N; i++)
		make_node(i);
	rebuild_members();
	for (int i = 0; i < N; i++)
		overlay_set_members(&nodes[i].ov, members_arr, nmembers, now);
	settle();
	run(120); /* refusals retried, alternatives found */
	check("cold start");

	/* 10% leave: their links die; 10% join */
	for (int k = 0; k < N / 10; k++) {
		int i = pick_alive();
		nodes[i].alive = false;
	}
	for (int j = 0; j < POOL; j++) {
		struct node *x = &nodes[j];
		for (size_t k = 0; x->alive && k < x->ov.np; k++) {
			uint8_t id[OVERLAY_ID_LEN];
			memcpy(id, x->ov.p[k].id, OVERLAY_ID_LEN);
			if (!nodes[by_id(id)].alive)
				overlay_link_down(&x->ov, id, now);
		}
	}
	for (int i = 0; i < POOL; i++)
		if (!nodes[i].alive && nodes[i].ov.hop_pos) {
			overlay_free(&nodes[i].ov);
			memset(&nodes[i], 0, sizeof(nodes[i]));
		}
	for (int i = N; i < POOL; i++)
		make_node(i);
	rebuild_members();
	for (int i = 0; i < POOL; i++)
		if (nodes[i].alive)
			overlay_set_members(&nodes[i].ov, members_arr, nmembers, now);
	settle();
	run(180);
	check("after 10% left and 10% joined");

	for (int i = 0; i < POOL; i++)
		overlay_free(&nodes[i].ov);
	free(nodes);
	free(members_arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ten_thousand_members),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
