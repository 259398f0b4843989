/* Prefix table (cryptokey routing of both families) against a brute-force
 * reference: random prefixes of both families and many lengths, random
 * inserts and removals, every lookup compared. Then the edge cases
 * (duplicates, overlaps, capacity) and a lookup-cost measurement that is
 * printed, never asserted (budgets live in bench/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "ip_prefix.h"
#include "prefix_table.h"

enum { REF_MAX = 4096, OWNERS = 12 };

static char owners[OWNERS]; /* their addresses are the opaque owners */

struct ref {
	struct ip_prefix p[REF_MAX];
	void *owner[REF_MAX];
	unsigned n;
};

static void *ref_lookup(const struct ref *r, int family, const uint8_t *addr)
{
	int best = -1;
	void *o = NULL;
	for (unsigned i = 0; i < r->n; i++)
		if (ip_prefix_has_addr(&r->p[i], family, addr) && (int)r->p[i].len > best) {
			best = r->p[i].len;
			o = r->owner[i];
		}
	return o;
}

static int ref_find(const struct ref *r, const struct ip_prefix *p)
{
	for (unsigned i = 0; i < r->n; i++)
		if (ip_prefix_equal(&r->p[i], p))
			return (int)i;
	return -1;
}

static void ref_del(struct ref *r, unsigned i)
{
	r->p[i] = r->p[r->n - 1];
	r->owner[i] = r->owner[r->n - 1];
	r->n--;
}

static uint32_t rnd32(void)
{
	return (uint32_t)rand() << 16 ^ (uint32_t)rand();
}

/* Addresses clustered in a few bases so that prefixes nest and collide. */
static void rand_addr(int family, uint8_t *a)
{
	static const uint8_t base4[3][4] = { { 10, 77, 0, 0 }, { 172, 31, 0, 0 }, { 192, 168, 1, 0 } };
	static const uint8_t base6[3][16] = { { 0xfd, 0, 0x77 }, { 0xfd, 0, 0, 0, 0, 0, 0, 1 }, { 0x20, 0x01, 0x0d, 0xb8 } };
	int b = rand() % 4;
	if (family == AF_INET) {
		uint32_t x = rnd32();
		memcpy(a, &x, 4);
		if (b < 3) { /* keep 16 bits of the base, randomise a few low bits */
			memcpy(a, base4[b], 2);
			a[2] = (uint8_t)(rand() % 4);
		}
	} else {
		for (int i = 0; i < 16; i++)
			a[i] = (uint8_t)rand();
		if (b < 3) {
			memcpy(a, base6[b], 8);
			a[7] = (uint8_t)(rand() % 4);
			if (rand() % 2)
				memset(a + 8, 0, 7);
		}
	}
}

static void rand_prefix(struct ip_prefix *p)
{
	static const uint8_t len4[] = { 8, 16, 20, 22, 23, 24, 25, 28, 30, 31, 32, 32, 32 };
	static const uint8_t len6[] = { 16, 32, 48, 56, 62, 63, 64, 65, 96, 120, 127, 128, 128 };
	memset(p, 0, sizeof(*p));
	p->family = rand() % 2 ? AF_INET : AF_INET6;
	rand_addr(p->family, p->addr);
	if (rand() % 5 == 0)
		p->len = (uint8_t)(rand() % (ip_prefix_bits(p->family) + 1));
	else
		p->len = p->family == AF_INET ? len4[rand() % sizeof(len4)] : len6[rand() % sizeof(len6)];
	ip_prefix_mask(p);
}

static void check_lookups(const struct prefix_table *t, const struct ref *r, int rounds)
{
	for (int k = 0; k < rounds; k++) {
		uint8_t a[16] = { 0 };
		int family = rand() % 2 ? AF_INET : AF_INET6;
		if (r->n && rand() % 2) { /* inside a held prefix, random host bits */
			const struct ip_prefix *p = &r->p[(unsigned)rand() % r->n];
			family = p->family;
			rand_addr(family, a);
			for (unsigned bit = 0; bit < p->len; bit++) {
				uint8_t m = (uint8_t)(0x80 >> (bit % 8));
				a[bit / 8] = (uint8_t)((a[bit / 8] & ~m) | (p->addr[bit / 8] & m));
			}
		} else {
			rand_addr(family, a);
		}
		assert_ptr_equal(prefix_table_lookup(t, family, a), ref_lookup(r, family, a));
	}
}

static void test_random_against_reference(void **state)
{
	(void)state;
	static struct ref r;
	struct prefix_table t;
	assert_int_equal(prefix_table_init(&t, 1500), 0);
	r.n = 0;
	for (int round = 0; round < 6000; round++) {
		struct ip_prefix p;
		rand_prefix(&p);
		void *o = &owners[rand() % OWNERS];
		int i = ref_find(&r, &p);
		int op = rand() % 10;
		if (op < 6) {
			int want = i >= 0 ? (r.owner[i] == o ? 0 : -EEXIST) : r.n >= 1500 ? -ENOSPC : 0;
			assert_int_equal(prefix_table_insert(&t, &p, o), want);
			if (want == 0 && i < 0) {
				r.p[r.n] = p;
				r.owner[r.n++] = o;
			}
		} else if (op < 9) {
			if (i >= 0 && rand() % 2)
				o = r.owner[i]; /* the right owner half of the time */
			int want = i >= 0 && r.owner[i] == o ? 0 : -ENOENT;
			assert_int_equal(prefix_table_remove(&t, &p, o), want);
			if (want == 0)
				ref_del(&r, (unsigned)i);
		} else if (rand() % 20 == 0) {
			unsigned want = 0;
			for (unsigned k = 0; k < r.n;)
				if (r.owner[k] == o) {
					ref_del(&r, k);
					want++;
				} else {
					k++;
				}
			assert_int_equal(prefix_table_remove_owner(&t, o), want);
		}
		assert_int_equal(prefix_table_count(&t), r.n);
		assert_ptr_equal(prefix_table_get(&t, &p), (i = ref_find(&r, &p)) >= 0 ? r.owner[i] : NULL);
		check_lookups(&t, &r, 8);
	}
	/* Every entry is still reachable by exact match and by its own address. */
	for (unsigned k = 0; k < r.n; k++) {
		assert_ptr_equal(prefix_table_get(&t, &r.p[k]), r.owner[k]);
		assert_ptr_equal(prefix_table_lookup(&t, r.p[k].family, r.p[k].addr),
				 ref_lookup(&r, r.p[k].family, r.p[k].addr));
	}
	prefix_table_free(&t);
}

/* Filling to capacity and emptying by owner keeps probe chains intact. */
static void test_fill_and_empty(void **state)
{
	(void)state;
	static struct ref r;
	struct prefix_table t;
	assert_int_equal(prefix_table_init(&t, 1000), 0);
	r.n = 0;
	while (r.n < 1000) {
		struct ip_prefix p;
		rand_prefix(&p);
		void *o = &owners[rand() % OWNERS];
		if (ref_find(&r, &p) >= 0)
			continue;
		assert_int_equal(prefix_table_insert(&t, &p, o), 0);
		r.p[r.n] = p;
		r.owner[r.n++] = o;
	}
	struct ip_prefix extra;
	do
		rand_prefix(&extra);
	while (ref_find(&r, &extra) >= 0);
	assert_int_equal(prefix_table_insert(&t, &extra, &owners[0]), -ENOSPC);
	check_lookups(&t, &r, 3000);
	for (int o = 0; o < OWNERS; o++) {
		unsigned want = 0;
		for (unsigned k = 0; k < r.n;)
			if (r.owner[k] == &owners[o]) {
				ref_del(&r, k);
				want++;
			} else {
				k++;
			}
		assert_int_equal(prefix_table_remove_owner(&t, &owners[o]), want);
		check_lookups(&t, &r, 300);
	}
	assert_int_equal(prefix_table_count(&t), 0);
	prefix_table_free(&t);
}

/* The table is sized by what it holds, not by its max: it starts with
 * room for PREFIX_TABLE_FIRST entries and doubles on the insert that would
 * make it more than half full, up to the slots max needs; every entry
 * stays reachable across each growth. */
static void test_grows_with_entries(void **state)
{
	(void)state;
	static struct ref r;
	struct prefix_table t;
	const unsigned max = 4000;

	assert_int_equal(prefix_table_slots_for(0), 4);
	assert_int_equal(prefix_table_slots_for(2), 4);
	assert_int_equal(prefix_table_slots_for(3), 8);
	assert_int_equal(prefix_table_slots_for(16), 32);
	assert_int_equal(prefix_table_slots_for(17), 64);
	assert_int_equal(prefix_table_slots_for(4000), 8192);
	assert_int_equal(prefix_table_slots_for(4608), 16384); /* ipopd's max */

	assert_int_equal(prefix_table_init(&t, max), 0);
	assert_int_equal(t.mask + 1, prefix_table_slots_for(PREFIX_TABLE_FIRST));
	r.n = 0;
	while (r.n < max) {
		struct ip_prefix p;
		rand_prefix(&p);
		if (ref_find(&r, &p) >= 0)
			continue;
		void *o = &owners[rand() % OWNERS];
		unsigned before = t.mask + 1;
		assert_int_equal(prefix_table_insert(&t, &p, o), 0);
		r.p[r.n] = p;
		r.owner[r.n++] = o;
		/* exactly as many slots as the entries held need (never less
		 * than the first allocation) */
		unsigned want = prefix_table_slots_for(r.n > PREFIX_TABLE_FIRST ? r.n : PREFIX_TABLE_FIRST);
		assert_int_equal(t.mask + 1, want);
		if (want != before)
			for (unsigned k = 0; k < r.n; k++)
				assert_ptr_equal(prefix_table_get(&t, &r.p[k]), r.owner[k]);
	}
	struct ip_prefix extra;
	do
		rand_prefix(&extra);
	while (ref_find(&r, &extra) >= 0);
	assert_int_equal(prefix_table_insert(&t, &extra, &owners[0]), -ENOSPC);
	assert_int_equal(t.mask + 1, prefix_table_slots_for(max));
	check_lookups(&t, &r, 3000);
	prefix_table_free(&t);

	/* a small max starts (and stays) at the slots it needs */
	assert_int_equal(prefix_table_init(&t, 3), 0);
	assert_int_equal(t.mask + 1, 8);
	prefix_table_free(&t);
}

static struct ip_prefix P(const char *s)
{
	struct ip_prefix p;
	assert_null(ip_prefix_parse(s, &p, NULL));
	return p;
}

static void *lk(const struct prefix_table *t, const char *ip)
{
	uint8_t a[16];
	int family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(family, ip, a), 1);
	return prefix_table_lookup(t, family, a);
}

/* The cryptokey routing rules on a small example: peers' own addresses,
 * an authorised LAN, longest match, families kept apart, overlap queries. */
static void test_cryptokey_example(void **state)
{
	(void)state;
	struct prefix_table t;
	void *bob = &owners[1], *carol = &owners[2];
	assert_int_equal(prefix_table_init(&t, 16), 0);
	struct ip_prefix bob4 = P("172.31.0.2/32"), bob6 = P("fd00:1::2/128"), lan4 = P("10.77.0.0/24"),
			 lan6 = P("fd00:77::/64"), carol4 = P("172.31.0.3/32"), carol_lan = P("10.77.0.128/25");
	assert_int_equal(prefix_table_insert(&t, &bob4, bob), 0);
	assert_int_equal(prefix_table_insert(&t, &bob6, bob), 0);
	assert_int_equal(prefix_table_insert(&t, &lan4, bob), 0);
	assert_int_equal(prefix_table_insert(&t, &lan6, bob), 0);
	assert_int_equal(prefix_table_insert(&t, &carol4, carol), 0);
	assert_int_equal(prefix_table_insert(&t, &bob4, bob), 0); /* idempotent */
	assert_int_equal(prefix_table_insert(&t, &bob4, carol), -EEXIST);
	assert_int_equal(prefix_table_count(&t), 5);

	assert_ptr_equal(lk(&t, "172.31.0.2"), bob);
	assert_ptr_equal(lk(&t, "172.31.0.3"), carol);
	assert_null(lk(&t, "172.31.0.4"));
	assert_ptr_equal(lk(&t, "10.77.0.200"), bob);
	assert_null(lk(&t, "10.77.1.1"));
	assert_ptr_equal(lk(&t, "fd00:77::1234"), bob);
	assert_ptr_equal(lk(&t, "fd00:1::2"), bob);
	assert_null(lk(&t, "fd00:1::3"));
	assert_null(lk(&t, "::ffff:172.31.0.2")); /* no IPv4-mapped shortcut */

	/* carol asking for a part of bob's LAN: the overlap is found */
	struct ip_prefix which;
	assert_ptr_equal(prefix_table_overlap(&t, &carol_lan, carol, &which), bob);
	assert_true(ip_prefix_equal(&which, &lan4));
	assert_null(prefix_table_overlap(&t, &carol_lan, bob, NULL));
	struct ip_prefix wide = P("10.0.0.0/8");
	assert_ptr_equal(prefix_table_overlap(&t, &wide, carol, NULL), bob);
	/* a more specific entry wins the longest match */
	assert_int_equal(prefix_table_insert(&t, &carol_lan, carol), 0);
	assert_ptr_equal(lk(&t, "10.77.0.200"), carol);
	assert_ptr_equal(lk(&t, "10.77.0.100"), bob);

	assert_int_equal(prefix_table_remove(&t, &lan4, carol), -ENOENT);
	assert_int_equal(prefix_table_remove_owner(&t, bob), 4);
	assert_null(lk(&t, "10.77.0.100"));
	assert_ptr_equal(lk(&t, "10.77.0.200"), carol);
	assert_null(lk(&t, "fd00:77::1"));

	/* bad input */
	struct ip_prefix bad = bob4;
	bad.len = 24; /* host bits set */
	assert_int_equal(prefix_table_insert(&t, &bad, bob), -EINVAL);
	assert_int_equal(prefix_table_insert(&t, &bob4, NULL), -EINVAL);
	assert_null(prefix_table_lookup(&t, AF_UNIX, "x"));
	prefix_table_free(&t);
	assert_int_equal(prefix_table_init(&t, 0), -EINVAL);
	assert_int_equal(prefix_table_init(&t, PREFIX_TABLE_MAX + 1), -EINVAL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 64 peers with a /32 and a /128 each, 16 of them with a /24 and a /64:
 * prints the cost of a lookup that hits a peer address and of one that
 * hits a route (the fastest of several rounds). Informational only: no
 * assertion on time. */
static void test_lookup_cost(void **state)
{
	(void)state;
	struct prefix_table t;
	static uint8_t addrs[4096][16];
	assert_int_equal(prefix_table_init(&t, 1200), 0);
	for (int i = 0; i < 64; i++) {
		struct ip_prefix p = { .family = AF_INET, .len = 32, .addr = { 172, 31, 0, (uint8_t)(i + 1) } };
		assert_int_equal(prefix_table_insert(&t, &p, &owners[i % OWNERS]), 0);
		struct ip_prefix q = { .family = AF_INET6, .len = 128, .addr = { 0xfd, 0, [15] = (uint8_t)(i + 1) } };
		assert_int_equal(prefix_table_insert(&t, &q, &owners[i % OWNERS]), 0);
		if (i < 16) {
			struct ip_prefix r4 = { .family = AF_INET, .len = 24, .addr = { 10, 77, (uint8_t)i, 0 } };
			struct ip_prefix r6 = { .family = AF_INET6, .len = 64, .addr = { 0xfd, 0, 0x77, (uint8_t)i } };
			assert_int_equal(prefix_table_insert(&t, &r4, &owners[i % OWNERS]), 0);
			assert_int_equal(prefix_table_insert(&t, &r6, &owners[i % OWNERS]), 0);
		}
	}
	const char *names[] = { "IPv4 peer /32", "IPv4 route /24", "IPv6 peer /128", "IPv6 route /64" };
	for (int kind = 0; kind < 4; kind++) {
		int family = kind < 2 ? AF_INET : AF_INET6;
		for (int i = 0; i < 4096; i++) {
			memset(addrs[i], 0, 16);
			if (kind == 0)
				memcpy(addrs[i], (uint8_t[]){ 172, 31, 0, (uint8_t)(1 + i % 64) }, 4);
			else if (kind == 1)
				memcpy(addrs[i], (uint8_t[]){ 10, 77, (uint8_t)(i % 16), (uint8_t)i }, 4);
			else if (kind == 2)
				memcpy(addrs[i], (uint8_t[]){ 0xfd, 0, [15] = (uint8_t)(1 + i % 64) }, 16);
			else
				memcpy(addrs[i], (uint8_t[]){ 0xfd, 0, 0x77, (uint8_t)(i % 16), [15] = (uint8_t)i }, 16);
		}
		/* the fastest of 7 rounds: the lab machine is shared */
		uintptr_t sink = 0;
		const int n = 400000;
		double dt = 1e9;
		for (int round = 0; round < 7; round++) {
			double t0 = now_s();
			for (int i = 0; i < n; i++)
				sink += (uintptr_t)prefix_table_lookup(&t, family, addrs[i & 4095]);
			double d = now_s() - t0;
			dt = d < dt ? d : dt;
		}
		assert_true(sink != 0);
		print_message("prefix_table_lookup, %s: %.1f ns\n", names[kind], dt * 1e9 / n);
	}
	prefix_table_free(&t);
}

int main(void)
{
	srand(11);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_fill_and_empty),
		cmocka_unit_test(test_grows_with_entries),
		cmocka_unit_test(test_cryptokey_example),
		cmocka_unit_test(test_lookup_cost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
