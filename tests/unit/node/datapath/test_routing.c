/* ipopd's routing table: add/lookup/delete, a second peer claiming a taken
 * address, deleting only one's own entry, the size limit, and a randomized
 * comparison with a plain array model (backward-shift deletion must never
 * break a probe chain). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "routing.h"

/* Peers are opaque to the table: any distinct addresses do. */
static char peers[512];
#define P(i) ((struct link *)&peers[(i)])

static struct in_addr ip(uint32_t host_order)
{
	struct in_addr a = { .s_addr = htonl(host_order) };
	return a;
}

static void test_basic(void **state)
{
	(void)state;
	struct routing *r = malloc(sizeof(*r));
	routing_init(r);
	assert_null(routing_lookup(r, ip(0xac1f0002)));
	assert_int_equal(routing_add(r, ip(0xac1f0002), P(1)), 0);
	assert_int_equal(routing_add(r, ip(0xac1f0003), P(2)), 0);
	assert_ptr_equal(routing_lookup(r, ip(0xac1f0002)), P(1));
	assert_ptr_equal(routing_lookup(r, ip(0xac1f0003)), P(2));
	assert_null(routing_lookup(r, ip(0xac1f0004)));
	/* re-adding the same mapping is fine; stealing an address is not */
	assert_int_equal(routing_add(r, ip(0xac1f0002), P(1)), 0);
	assert_int_equal(routing_add(r, ip(0xac1f0002), P(3)), -EEXIST);
	assert_ptr_equal(routing_lookup(r, ip(0xac1f0002)), P(1));
	/* only the owner's delete removes an entry */
	routing_del(r, ip(0xac1f0002), P(3));
	assert_ptr_equal(routing_lookup(r, ip(0xac1f0002)), P(1));
	routing_del(r, ip(0xac1f0002), P(1));
	assert_null(routing_lookup(r, ip(0xac1f0002)));
	assert_int_equal(r->n, 1);
	assert_int_equal(routing_add(r, ip(0), P(1)), -EINVAL);
	assert_null(routing_lookup(r, ip(0)));
	free(r);
}

static void test_full(void **state)
{
	(void)state;
	struct routing *r = malloc(sizeof(*r));
	routing_init(r);
	unsigned i;
	for (i = 0; i < ROUTING_SLOTS; i++)
		if (routing_add(r, ip(0x0a000001 + i), P(i % 512)) != 0)
			break;
	assert_int_equal(i, ROUTING_SLOTS / 2);
	assert_int_equal(routing_add(r, ip(0x0b000001), P(0)), -ENOSPC);
	for (unsigned k = 0; k < i; k++)
		assert_ptr_equal(routing_lookup(r, ip(0x0a000001 + k)), P(k % 512));
	free(r);
}

static void test_random_model(void **state)
{
	(void)state;
	enum { N = 300 };
	struct routing *r = malloc(sizeof(*r));
	uint32_t keys[N];
	int owner[N]; /* -1: absent */
	routing_init(r);
	srand(12345);
	/* a small key space in one /24 makes probe chains collide a lot */
	for (unsigned k = 0; k < N; k++) {
		keys[k] = 0xac1f0000 + k + 1;
		owner[k] = -1;
	}
	unsigned present = 0;
	for (int step = 0; step < 100000; step++) {
		unsigned k = (unsigned)rand() % N;
		if (owner[k] < 0) {
			int rc = routing_add(r, ip(keys[k]), P(k));
			if (present < ROUTING_SLOTS / 2) {
				assert_int_equal(rc, 0);
				owner[k] = (int)k;
				present++;
			} else {
				assert_int_equal(rc, -ENOSPC);
			}
		} else {
			routing_del(r, ip(keys[k]), P(k));
			owner[k] = -1;
			present--;
		}
		assert_int_equal(r->n, present);
		if (step % 97 == 0)
			for (unsigned j = 0; j < N; j++)
				assert_ptr_equal(routing_lookup(r, ip(keys[j])), owner[j] < 0 ? NULL : P(j));
	}
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_random_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
