/* Allocation state: permissions, channels, the 5-tuple table, quotas and
 * the bandwidth bucket. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "stun_proto.h"
#include "turn_alloc.h"
#include "turn_conf.h"

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage ss;
	assert_int_equal(addr_parse(s, 0, &ss), 0);
	return ss;
}

/* A parsed address that lives long enough for one assertion. */
static const struct sockaddr *SA(const char *s)
{
	static struct sockaddr_storage ring[8];
	static unsigned next;
	struct sockaddr_storage *p = &ring[next++ % 8];
	*p = sa(s);
	return (const struct sockaddr *)p;
}

static struct turn_conn udp_conn(const char *client, const char *local)
{
	struct turn_conn c;
	memset(&c, 0, sizeof(c));
	c.proto = TURN_PROTO_UDP;
	c.client = sa(client);
	c.local = sa(local);
	return c;
}

static void test_size_is_small(void **state)
{
	(void)state;
	/* The per-allocation budget is well under 2 KB including malloc and
	 * hash overhead. */
	assert_true(sizeof(struct turn_alloc) < 1024);
}

static void test_permissions(void **state)
{
	(void)state;
	struct turn_conn c = udp_conn("192.0.2.1:1000", "198.51.100.1:3478");
	struct turn_alloc *a = turn_alloc_new(&c, "alice");
	assert_non_null(a);
	uint64_t t0 = 1000000;
	assert_false(turn_alloc_perm_ok(a, SA("203.0.113.5:1"), t0));
	assert_int_equal(turn_alloc_perm_add(a, SA("203.0.113.5:1"), t0), 0);
	/* Any port of that IP. */
	assert_true(turn_alloc_perm_ok(a, SA("203.0.113.5:9999"), t0));
	assert_false(turn_alloc_perm_ok(a, SA("203.0.113.6:1"), t0));
	assert_true(turn_alloc_perm_ok(a, SA("203.0.113.5:1"), t0 + 300 * 1000 - 1));
	assert_false(turn_alloc_perm_ok(a, SA("203.0.113.5:1"), t0 + 300 * 1000));
	/* Refresh moves the expiry. */
	assert_int_equal(turn_alloc_perm_add(a, SA("203.0.113.5:2"), t0 + 100000), 0);
	assert_int_equal(a->nperm, 1);
	assert_true(turn_alloc_perm_ok(a, SA("203.0.113.5:1"), t0 + 399999));
	/* Grows beyond the inline slots, up to the cap. */
	char buf[64];
	int rc = 0;
	unsigned i;
	for (i = 0; i < TURN_ALLOC_MAX_PERMS + 5 && rc == 0; i++) {
		snprintf(buf, sizeof(buf), "[2001:db8::%x]:1", i + 1);
		rc = turn_alloc_perm_add(a, SA(buf), t0);
	}
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(a->nperm, TURN_ALLOC_MAX_PERMS);
	assert_true(turn_alloc_perm_ok(a, SA("[2001:db8::7]:5"), t0));
	assert_true(turn_alloc_perm_ok(a, SA("203.0.113.5:1"), t0));
	/* IPv4 and IPv6 never match each other. */
	assert_false(turn_alloc_perm_ok(a, SA("[::ffff:203.0.113.5]:1"), t0));
	/* Expiry drops them and reports the allocation's deadline. */
	a->expires_ms = t0 + 600000;
	assert_int_equal(turn_alloc_expire(a, t0 + 300000), t0 + 400000);
	assert_int_equal(a->nperm, 1);
	assert_int_equal(turn_alloc_expire(a, t0 + 400000), t0 + 600000);
	assert_int_equal(a->nperm, 0);
	turn_alloc_free(a);
}

static void test_channels(void **state)
{
	(void)state;
	struct turn_conn c = udp_conn("192.0.2.1:1000", "198.51.100.1:3478");
	struct turn_alloc *a = turn_alloc_new(&c, "alice");
	uint64_t t0 = 5000;
	assert_int_equal(turn_alloc_chan_bind(a, 0x4000, SA("203.0.113.5:7000"), t0), 0);
	assert_non_null(turn_alloc_chan_by_num(a, 0x4000, t0));
	assert_non_null(turn_alloc_chan_by_peer(a, SA("203.0.113.5:7000"), t0));
	/* The port matters for channels. */
	assert_null(turn_alloc_chan_by_peer(a, SA("203.0.113.5:7001"), t0));
	/* Same number, other peer; same peer, other number: refused. */
	assert_int_equal(turn_alloc_chan_bind(a, 0x4000, SA("203.0.113.5:7001"), t0), -EEXIST);
	assert_int_equal(turn_alloc_chan_bind(a, 0x4001, SA("203.0.113.5:7000"), t0), -EEXIST);
	/* Same pair again refreshes. */
	assert_int_equal(turn_alloc_chan_bind(a, 0x4000, SA("203.0.113.5:7000"), t0 + 500000), 0);
	assert_int_equal(a->nchan, 1);
	assert_non_null(turn_alloc_chan_by_num(a, 0x4000, t0 + 1099999));
	assert_null(turn_alloc_chan_by_num(a, 0x4000, t0 + 1100000));
	/* Expired but inside the 5-minute guard: still reserved. */
	assert_int_equal(turn_alloc_chan_check(a, 0x4000, SA("203.0.113.9:1"), t0 + 1100000), -EEXIST);
	assert_int_equal(turn_alloc_chan_check(a, 0x4000, SA("203.0.113.5:7000"), t0 + 1100000), 0);
	/* After the guard: free for anything. */
	uint64_t t1 = t0 + 1100000 + 300000;
	assert_int_equal(turn_alloc_chan_bind(a, 0x4000, SA("203.0.113.9:1"), t1), 0);
	assert_int_equal(a->nchan, 1);
	/* More than the inline slots. */
	for (unsigned i = 1; i < 10; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "203.0.113.%u:2", i + 20);
		assert_int_equal(turn_alloc_chan_bind(a, (uint16_t)(0x4000 + i), SA(buf), t1), 0);
	}
	assert_int_equal(a->nchan, 10);
	assert_non_null(turn_alloc_chan_by_peer(a, SA("203.0.113.29:2"), t1));
	a->expires_ms = UINT64_MAX;
	assert_int_equal(turn_alloc_expire(a, t1), t1 + 600000);
	turn_alloc_free(a);
}

static void test_table(void **state)
{
	(void)state;
	struct turn_alloc_table t;
	struct turn_alloc *as[300];
	char cb[64];
	assert_int_equal(turn_alloc_table_init(&t, 1, 99), 0);
	for (unsigned i = 0; i < 300; i++) {
		snprintf(cb, sizeof(cb), "192.0.2.%u:%u", i % 200 + 1, 1000 + i);
		struct turn_conn c = udp_conn(cb, "198.51.100.1:3478");
		as[i] = turn_alloc_new(&c, "u");
		assert_int_equal(turn_alloc_insert(&t, as[i]), 0);
	}
	assert_int_equal(t.count, 300);
	assert_true(t.nbuckets >= 256);
	for (unsigned i = 0; i < 300; i++)
		assert_ptr_equal(turn_alloc_find(&t, &as[i]->conn), as[i]);
	/* A different local address or protocol is another 5-tuple. */
	struct turn_conn other = as[0]->conn;
	other.local = sa("198.51.100.2:3478");
	assert_null(turn_alloc_find(&t, &other));
	other = as[0]->conn;
	other.proto = TURN_PROTO_TCP;
	assert_null(turn_alloc_find(&t, &other));
	/* Streams are found by their handle. */
	int h1, h2;
	struct turn_conn sc = udp_conn("192.0.2.1:1000", "198.51.100.1:3478");
	sc.proto = TURN_PROTO_TCP;
	sc.stream = &h1;
	struct turn_alloc *sa1 = turn_alloc_new(&sc, "s");
	turn_alloc_insert(&t, sa1);
	assert_ptr_equal(turn_alloc_find_stream(&t, &h1), sa1);
	assert_ptr_equal(turn_alloc_find(&t, &sc), sa1);
	assert_null(turn_alloc_find_stream(&t, &h2));
	turn_alloc_remove(&t, sa1);
	assert_null(turn_alloc_find_stream(&t, &h1));
	turn_alloc_free(sa1);
	for (unsigned i = 0; i < 300; i++) {
		turn_alloc_remove(&t, as[i]);
		assert_null(turn_alloc_find(&t, &as[i]->conn));
		turn_alloc_free(as[i]);
	}
	assert_int_equal(t.count, 0);
	turn_alloc_table_free(&t);
}

static void test_quotas(void **state)
{
	(void)state;
	struct turn_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.max_client = 3;
	conf.max_relay_per_username = 2;
	struct turn_shared *s = turn_shared_new(&conf);
	assert_non_null(s);
	assert_int_equal(turn_shared_acquire(s, "alice"), 0);
	assert_int_equal(turn_shared_acquire(s, "alice"), 0);
	assert_int_equal(turn_shared_acquire(s, "alice"), -EDQUOT);
	assert_int_equal(turn_shared_acquire(s, "bob"), 0);
	assert_int_equal(turn_shared_acquire(s, "carol"), -ENOSPC);
	assert_int_equal(turn_shared_total(s), 3);
	turn_shared_release(s, "alice");
	assert_int_equal(turn_shared_acquire(s, "carol"), 0);
	assert_int_equal(turn_shared_acquire(s, "dave"), -ENOSPC);
	turn_shared_release(s, "alice");
	turn_shared_release(s, "bob");
	turn_shared_release(s, "carol");
	assert_int_equal(turn_shared_total(s), 0);
	turn_shared_free(s);
}

static void test_bandwidth(void **state)
{
	(void)state;
	struct turn_conn c = udp_conn("192.0.2.1:1000", "198.51.100.1:3478");
	struct turn_alloc *a = turn_alloc_new(&c, "alice");
	assert_true(turn_alloc_bw_take(a, 1 << 20, 0)); /* unlimited by default */
	turn_alloc_bw_set(a, 10, 1000); /* 10 KB/s: 10240 bytes of burst */
	unsigned ok = 0;
	for (int i = 0; i < 20; i++)
		ok += turn_alloc_bw_take(a, 1000, 1000);
	assert_int_equal(ok, 10);
	/* 100 ms later about 1024 bytes more. */
	assert_true(turn_alloc_bw_take(a, 1000, 1100));
	assert_false(turn_alloc_bw_take(a, 1000, 1100));
	turn_alloc_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_is_small),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_channels),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_quotas),
		cmocka_unit_test(test_bandwidth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
